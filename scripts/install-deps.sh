#!/bin/sh
# Install every build and test dependency of calyx-exec from Debian's
# packages. Does nothing when all are present.
#   scripts/install-deps.sh          install what is missing (needs root)
#   scripts/install-deps.sh --check  exit 1 if something is missing, install nothing
#   scripts/install-deps.sh --bench  also what `make bench` measures against
#                                    and times with (peers, hyperfine, gnuplot,
#                                    perf); a peer that will not install is
#                                    reported by the bench, not fatal here
set -eu

PKGS="build-essential pkg-config clang llvm libclang-rt-14-dev
libsodium-dev libjansson-dev libseccomp-dev libcap-ng-dev libbpf-dev bpftool
libcmocka-dev
chromium python3-jsonschema
cppcheck clang-tidy valgrind
git bzip2"
# git and bzip2: the real workloads (tests/integration/workloads.sh run git
# under a lease and unpack Debian's zlib .orig.tar.bz2, kept in tests/data).
# nsjail is not packaged in Debian 12: the bench says so in its table.
BENCH_PKGS="bubblewrap firejail crun hyperfine gnuplot-nox linux-perf strace time"

mode=${1:-}
if [ "$mode" = "--bench" ]; then
	PKGS="$PKGS $BENCH_PKGS"
	mode=""
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	[ "$mode" = "--check" ] || echo "install-deps: all dependencies present"
	exit 0
fi
if [ "$mode" = "--check" ]; then
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
