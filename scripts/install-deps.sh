#!/bin/sh
# Install every build and test dependency of calyx-exec from Debian's
# packages. Does nothing when all are present.
#   scripts/install-deps.sh          install what is missing (needs root)
#   scripts/install-deps.sh --check  exit 1 if something is missing, install nothing
set -eu

PKGS="build-essential pkg-config clang llvm libclang-rt-14-dev
libsodium-dev libjansson-dev libseccomp-dev libcap-ng-dev libbpf-dev bpftool
libcmocka-dev
chromium python3-jsonschema
cppcheck clang-tidy valgrind"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	[ "${1:-}" = "--check" ] || echo "install-deps: all dependencies present"
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
	echo "install-deps: missing:$missing" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing — run this script as root to install them" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
