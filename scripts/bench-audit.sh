#!/usr/bin/env bash
# Audit log benchmark: append and verify throughput, in lines per second.
#
#   scripts/bench-audit.sh [BUILD_DIR]       (default build; root not needed)
#     AUDIT_LINES=N   lines of the large log (default 100000)
#     REPS=N          verify repetitions, median reported (default 5)
#
# Figures only, no assertions; the goal is printed next to them.
#   append   through cx_audit_append, as calyx-exec does (lock, read the
#            tail, sign, one write, fdatasync): the large log on tmpfs
#            (/dev/shm: fdatasync costs nothing, so this is the CPU cost),
#            and 5,000 lines on the disk of /var/tmp (with real syncs)
#   verify   cx_audit_verify over the large log, read once into memory:
#            with the threads it chooses (one per CPU) and in one thread;
#            goal: >= 50,000 lines/s on this machine
#   ed25519  bare signature verifications on one CPU: the floor under verify
#            (every line's signature is checked)
# Lines look like a real run's exec.spawned (about 420 bytes).
# Needs build/tests/bench_audit. Results: stdout and BUILD_DIR/bench/audit.txt.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/tests/bench_audit
LINES=${AUDIT_LINES:-100000}
REPS=${REPS:-5}

[ -x "$BIN" ] || { echo "bench-audit: $BIN missing (make $BIN)" >&2; exit 2; }
SHM=$(mktemp -d /dev/shm/calyx-bench-audit.XXXXXX) || exit 2
DISK=$(mktemp -d /var/tmp/calyx-bench-audit.XXXXXX) || exit 2
cleanup() { rm -rf "$SHM" "$DISK"; }
trap cleanup EXIT
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/audit.txt

{
	echo "audit log benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))"
	echo
	echo "append (lines/s)"
	"$BIN" append "$SHM/audit.jsonl" "$LINES" | sed 's/$/   tmpfs: CPU cost/' || exit 1
	"$BIN" append "$DISK/audit.jsonl" 5000 |
		sed "s|\$|   $(df -PT "$DISK" | awk 'NR == 2 { print $2 " " $1 }'): with fdatasync|" || exit 1
	echo
	echo "verify $(du -m "$SHM/audit.jsonl" | cut -f 1) MiB (lines/s; goal: >= 50,000 lines/s on this machine)"
	"$BIN" verify "$SHM/audit.jsonl" "$REPS" || exit 1
	"$BIN" verify "$SHM/audit.jsonl" "$REPS" 1 | tail -n 1 || exit 1
	echo
	echo "floor: Ed25519 verification (libsodium $(pkg-config --modversion libsodium 2>/dev/null || echo '?'))"
	"$BIN" sigs 20000 || exit 1
} | tee "$OUT"
