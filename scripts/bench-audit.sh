#!/usr/bin/env bash
# Audit log benchmark: append and verify throughput, in lines per second.
#
#   scripts/bench-audit.sh [BUILD_DIR]       (default build; root not needed)
#     AUDIT_LINES=N   lines of the large log (default 50000)
#     DISK_LINES=N    lines appended on disk (default 3000)
#     REPS=N          verify repetitions, median reported (default 5; 3 for
#                     the one-CPU pass, which is the slow one)
#
# Figures only, no assertions; the goal is stated next to them.
#   append   through cx_audit_append, as calyx-exec does (lock, read the
#            tail, sign, one write, fdatasync): the large log on tmpfs
#            (/dev/shm: fdatasync costs nothing, so this is the CPU cost),
#            and DISK_LINES lines on the disk of /var/tmp (with real syncs)
#   verify   cx_audit_verify over the large log, read once into memory:
#            with the threads it chooses (one per CPU), and in one thread
#            pinned to CPU 0; goal: >= 50,000 lines/s on this machine
#   ed25519  bare signature verifications pinned to CPU 0: the floor under
#            verify (every line's signature is checked)
# The one-CPU passes are pinned with taskset when it is there, so they are
# comparable with each other. Lines look like a real run's exec.spawned
# (about 420 bytes). Needs BUILD_DIR/tests/bench_audit.
# Writes BENCH_OUT/audit.md and audit.tsv (scripts/lib-bench.sh); the raw
# driver output goes to stdout (the bench log).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-${BUILD:-build}}
# results next to the build (bench-all.sh sets BENCH_OUT to the same);
# before lib-bench.sh, which would default it to build/bench
export BENCH_OUT=${BENCH_OUT:-$BUILD/bench}
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh
BIN=$BUILD/tests/bench_audit
LINES=${AUDIT_LINES:-50000}
DLINES=${DISK_LINES:-3000}
REPS=${REPS:-5}
for v in "$LINES" "$DLINES" "$REPS"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-audit: AUDIT_LINES, DISK_LINES, REPS: positive integers" >&2; exit 2; }
done
REPS1=$((REPS < 3 ? REPS : 3))

[ -x "$BIN" ] || { echo "bench-audit: $BIN missing (make $BIN)" >&2; exit 2; }
PIN=()
PINNED="one thread (not pinned: taskset missing)"
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
	PIN=(taskset -c 0)
	PINNED="one thread pinned to CPU 0 (taskset)"
fi
SHM=$(mktemp -d /dev/shm/calyx-bench-audit.XXXXXX) || exit 2
DISK=$(mktemp -d /var/tmp/calyx-bench-audit.XXXXXX) || exit 2
TMP=$(mktemp -d /tmp/calyx-bench-audit.XXXXXX) || exit 2
trap 'rm -rf "$SHM" "$DISK" "$TMP"' EXIT

# run NAME ARGS...: the driver, its output kept in $TMP/NAME and shown
run() {
	local name=$1
	shift
	"$@" >"$TMP/$name" || { cat "$TMP/$name"; echo "bench-audit: $* failed" >&2; exit 1; }
	cat "$TMP/$name"
}
# the rate of an "append N events T s RATE events/s" line
append_rate() { awk '$1 == "append" { print $6 }' "$TMP/$1"; }
# the per-repetition rates of a verify pass, one a line
verify_reps() { awk '$1 == "verify" && /repetition/ { print $6 }' "$TMP/$1"; }
verify_median() { sed -n 's/.*median of .*: \([0-9]*\) lines\/s.*/\1/p' "$TMP/$1"; }
verify_mbs() { sed -n 's/.*median of .* lines\/s (\([0-9.]*\) MB\/s).*/\1/p' "$TMP/$1"; }
num_or_dash() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && echo "$1" || echo -; }

DISK_FS=$(df -PT "$DISK" | awk 'NR == 2 { print $2 " on " $1 }')
echo "append: $LINES lines on tmpfs, $DLINES on $DISK_FS"
run app_shm "$BIN" append "$SHM/audit.jsonl" "$LINES"
run app_disk "$BIN" append "$DISK/audit.jsonl" "$DLINES"
LOG_MIB=$(du -m "$SHM/audit.jsonl" | cut -f 1)
echo "verify: $LOG_MIB MiB, $REPS repetitions with every CPU, $REPS1 in $PINNED"
run ver_all "$BIN" verify "$SHM/audit.jsonl" "$REPS"
run ver_one "${PIN[@]}" "$BIN" verify "$SHM/audit.jsonl" "$REPS1" 1
echo "floor: Ed25519, $PINNED"
run sigs "${PIN[@]}" "$BIN" sigs 20000

APP_SHM=$(num_or_dash "$(append_rate app_shm)")
APP_DISK=$(num_or_dash "$(append_rate app_disk)")
VER_ALL=$(num_or_dash "$(verify_median ver_all)")
VER_ONE=$(num_or_dash "$(verify_median ver_one)")
SIGS=$(num_or_dash "$(sed -n 's/.*CPU: *\([0-9]*\)\/s.*/\1/p' "$TMP/sigs")")
verify_reps ver_all >"$TMP/all.rates"
verify_reps ver_one >"$TMP/one.rates"
read -r _ all_min all_max _ < <(stats "$TMP/all.rates")
read -r _ one_min one_max _ < <(stats "$TMP/one.rates")
SODIUM=$(pkg-config --modversion libsodium 2>/dev/null || echo '?')

bench_section audit
figure audit.append_lines_per_s_tmpfs "$APP_SHM" lines/s "cx_audit_append of $LINES lines on tmpfs (fdatasync free: the CPU cost)"
figure audit.append_lines_per_s_disk "$APP_DISK" lines/s "cx_audit_append of $DLINES lines on $DISK_FS, one fdatasync each"
figure audit.verify_lines_per_s "$VER_ALL" lines/s "cx_audit_verify, one thread per CPU ($(nproc)), median of $REPS; goal >= 50000"
figure audit.verify_lines_per_s_1cpu "$VER_ONE" lines/s "cx_audit_verify, $PINNED, median of $REPS1"
figure audit.ed25519_per_s_1cpu "$SIGS" verifications/s "crypto_sign_verify_detached of 420 bytes, $PINNED (libsodium $SODIUM): the floor"
figure audit.verify_mb_per_s "$(num_or_dash "$(verify_mbs ver_all)")" MB/s "cx_audit_verify, every CPU"

int() { [ "$1" = - ] && echo - || printf '%.0f\n' "$1"; }
md "## Audit log"
md
md "\`tests/bench/bench_audit\` appends events that look like a run's \`exec.spawned\` (about"
md "420 bytes a line) through \`cx_audit_append\`, exactly as \`calyx-exec\` does (lock, read the"
md "tail, sign, one write, \`fdatasync\`), then verifies the ${LOG_MIB} MiB, $LINES-line log with"
md "\`cx_audit_verify\` (hash chain and every line's Ed25519 signature), read once into memory."
md "Goal: verify ≥ 50,000 lines/s."
md
md "| what | lines/s (median) | min–max | notes |"
md "|---|---:|---:|---|"
md "| append, tmpfs | $(int "$APP_SHM") | | $LINES lines; \`fdatasync\` costs nothing there: the CPU cost |"
md "| append, disk | $(int "$APP_DISK") | | $DLINES lines on $DISK_FS, one \`fdatasync\` each |"
md "| verify, $(nproc) threads (one per CPU) | $(int "$VER_ALL") | $(int "$all_min")–$(int "$all_max") | median of $REPS |"
md "| verify, one CPU | $(int "$VER_ONE") | $(int "$one_min")–$(int "$one_max") | median of $REPS1, $PINNED |"
md "| floor: bare Ed25519 verifications, one CPU | $(int "$SIGS") | | libsodium $SODIUM, 420-byte message |"
md
md "Verification checks one Ed25519 signature per line, so one CPU cannot verify more lines per"
md "second than the floor row; with every CPU the ceiling is about $(nproc)× that."
echo "bench-audit: verify $VER_ALL lines/s ($VER_ONE on one CPU, floor $SIGS), append $APP_SHM/s tmpfs, $APP_DISK/s disk; $BENCH_OUT/audit.md"
