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
libcmocka-dev scdoc
libcurl4-openssl-dev etcd-server etcd-client curl openssl
debhelper dpkg-dev fakeroot
chromium python3-jsonschema
cppcheck clang-tidy valgrind
git bzip2"
# libcurl4-openssl-dev: the etcd ledger's client (its headers; calyx-exec
# opens libcurl at the first pool claim, see common/etcd.c). etcd-server,
# etcd-client, curl, openssl: the pool ledger's tests start their own 3-member cluster on
# loopback (tests/integration/pool.sh); Debian's own etcd service is kept
# from starting at install and stopped if it runs (below).
# scdoc: the man pages (man/*.scd, make man).
# debhelper, dpkg-dev, fakeroot: make deb (the Debian package) and its test
# (tests/integration/package.sh).
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
# No package's daemon may start here (etcd-server's would listen on the
# default ports 2379/2380): policy-rc.d says "not now" to invoke-rc.d for
# the install only, and only when no policy-rc.d was there before.
prc=/usr/sbin/policy-rc.d
made_prc=""
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod 755 "$prc" && made_prc=1
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing || { [ -z "$made_prc" ] || rm -f "$prc"; exit 1; }
[ -z "$made_prc" ] || rm -f "$prc"
# and if a service manager started Debian's etcd anyway, stop and disable it
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
	systemctl disable --now etcd >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/etcd ] && /etc/init.d/etcd status >/dev/null 2>&1; then
	/etc/init.d/etcd stop >/dev/null 2>&1 || true
fi
