#!/usr/bin/env bash
# Audit log benchmark: append and verify throughput, format v1 (every line
# signed) against format v2 (one signed checkpoint per sync group), side by
# side in one run, in lines per second (medians).
#
#   scripts/bench-audit.sh [BUILD_DIR]       (default build; root not needed)
#     AUDIT_LINES=N    events of each large log (default 50000)
#     AUDIT_GROUPS=".." events per sync group of the v2 logs (default "8 32 256")
#     AUDIT_GROUP=G    the group of the headline figures (default 8; one of them)
#     DISK_LINES=N     events appended on disk (default 3000)
#     REPS=N           verify repetitions, median reported (default 5; 3 for
#                      the one-CPU passes and the appends)
#
# Figures only, no assertions; the goal is stated next to them.
#   append   through cx_audit_append, as calyx-exec does (lock, read and
#            check the tail, one write; syncs deferred, cx_audit_sync after
#            every group): v1 signs every line, v2 gives each line a mac and
#            signs one audit.checkpoint line per sync. The large logs on
#            tmpfs (/dev/shm: fdatasync costs nothing, so this is the CPU
#            cost), DISK_LINES events on the disk of /var/tmp (real syncs)
#   verify   cx_audit_verify over each large log, read once into memory:
#            with the threads it chooses (one per CPU), and in one thread
#            pinned to CPU 0; goal: >= 200,000 lines/s on this machine
#   ed25519  bare signature verifications pinned to CPU 0: what a v1 line
#            costs at least (every line's signature is checked)
# Group sizes: a run's events up to its exec.finished are one group, its
# workspace.committed another; a run with a validate step and no child
# processes is 8 events and 2 checkpoints, a run that starts 250 processes
# about 260 events per group. Lines look like a real run's exec.spawned
# (about 420 bytes); checkpoint lines are about 250. "lines" counts both.
# The one-CPU passes are pinned with taskset when it is there. Needs
# BUILD_DIR/tests/bench_audit. Writes BENCH_OUT/audit.md and audit.tsv
# (scripts/lib-bench.sh); the raw driver output goes to stdout.
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
GROUPS_V2=${AUDIT_GROUPS:-8 32 256}
HG=${AUDIT_GROUP:-8}
DLINES=${DISK_LINES:-3000}
REPS=${REPS:-5}
for v in "$LINES" "$DLINES" "$REPS" "$HG" $GROUPS_V2; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-audit: AUDIT_LINES, AUDIT_GROUP(S), DISK_LINES, REPS: positive integers" >&2; exit 2; }
done
[[ " $GROUPS_V2 " = *" $HG "* ]] || { echo "bench-audit: AUDIT_GROUP=$HG is not one of AUDIT_GROUPS ($GROUPS_V2)" >&2; exit 2; }
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

# run NAME ARGS...: the driver, its output appended to $TMP/NAME and shown
run() {
	local name=$1
	shift
	"$@" >"$TMP/cur" || { cat "$TMP/cur"; echo "bench-audit: $* failed" >&2; exit 1; }
	tee -a "$TMP/$name" <"$TMP/cur"
}
# median of the append runs in $TMP/NAME: field 6 events/s, 8 lines/s
append_median() { awk -v f="$2" '$1 == "append" { print $f }' "$TMP/$1" >"$TMP/$1.col"; stats "$TMP/$1.col" | cut -d' ' -f1; }
verify_median() { sed -n 's/.*median of .*: \([0-9]*\) lines\/s.*/\1/p' "$TMP/$1"; }
verify_reps() { awk '$1 == "verify" && /repetition/ { print $6 }' "$TMP/$1"; }
num_or_dash() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && echo "$1" || echo -; }
int() { [ "$1" = - ] && echo - || printf '%.0f\n' "$1"; }
# appends FMT GROUP N DIR NAME REPS: REPS logs of N events, kept as DIR/NAME.<i>.jsonl
appends() {
	local i
	for ((i = 1; i <= $6; i++)); do
		run "$5" "$BIN" append "$4/$5.$i.jsonl" "$3" "$2" "$1"
	done
}

DISK_FS=$(df -PT "$DISK" | awk 'NR == 2 { print $2 " on " $1 }')
echo "append, tmpfs: $LINES events, $REPS1 times each: v1 (group $HG), v2 (groups $GROUPS_V2)"
appends v1 "$HG" "$LINES" "$SHM" app_v1 "$REPS1"
for g in $GROUPS_V2; do
	appends v2 "$g" "$LINES" "$SHM" "app_v2_$g" "$REPS1"
done
echo "append, $DISK_FS: $DLINES events in groups of $HG, $REPS1 times each"
appends v1 "$HG" "$DLINES" "$DISK" disk_v1 "$REPS1"
appends v2 "$HG" "$DLINES" "$DISK" disk_v2 "$REPS1"
rm -f "$DISK"/*.jsonl

LOG_MIB=$(du -m "$SHM/app_v1.1.jsonl" | cut -f 1)
echo "verify: $REPS repetitions with every CPU, $REPS1 in $PINNED"
run ver_v1 "$BIN" verify "$SHM/app_v1.1.jsonl" "$REPS"
run ver1_v1 "${PIN[@]}" "$BIN" verify "$SHM/app_v1.1.jsonl" "$REPS1" 1
for g in $GROUPS_V2; do
	run "ver_v2_$g" "$BIN" verify "$SHM/app_v2_$g.1.jsonl" "$REPS"
	run "ver1_v2_$g" "${PIN[@]}" "$BIN" verify "$SHM/app_v2_$g.1.jsonl" "$REPS1" 1
done
echo "floor of v1: Ed25519, $PINNED"
run sigs "${PIN[@]}" "$BIN" sigs 20000
SIGS=$(num_or_dash "$(sed -n 's/.*CPU: *\([0-9]*\)\/s.*/\1/p' "$TMP/sigs")")
SODIUM=$(pkg-config --modversion libsodium 2>/dev/null || echo '?')
GOAL=200000

verdict() {
	if [ "$1" = - ]; then echo -; else awk -v v="$1" -v g="$GOAL" 'BEGIN { print (v >= g ? "met" : "not met") }'; fi
}
lines_of() { wc -l <"$1" | tr -d ' '; }

bench_section audit
V1_APP=$(num_or_dash "$(append_median app_v1 8)")
V1_VER=$(num_or_dash "$(verify_median ver_v1)")
V1_VER1=$(num_or_dash "$(verify_median ver1_v1)")
figure audit.append_lines_per_s_tmpfs_v1 "$V1_APP" lines/s "v1 (every line signed), $LINES events on tmpfs, syncs in groups of $HG, median of $REPS1"
figure audit.append_lines_per_s_disk_v1 "$(num_or_dash "$(append_median disk_v1 8)")" lines/s "v1, $DLINES events on $DISK_FS, an fdatasync per $HG, median of $REPS1"
figure audit.verify_lines_per_s_v1 "$V1_VER" lines/s "v1 log, cx_audit_verify, one thread per CPU ($(nproc)), median of $REPS"
figure audit.verify_lines_per_s_1cpu_v1 "$V1_VER1" lines/s "v1 log, $PINNED, median of $REPS1"
for g in $GROUPS_V2; do
	figure "audit.append_lines_per_s_tmpfs_g$g" "$(num_or_dash "$(append_median "app_v2_$g" 8)")" lines/s "v2, $g events per sync group, on tmpfs, median of $REPS1"
	figure "audit.verify_lines_per_s_g$g" "$(num_or_dash "$(verify_median "ver_v2_$g")")" lines/s "v2, $g events per sync group, one thread per CPU, median of $REPS; goal >= $GOAL"
	figure "audit.verify_lines_per_s_1cpu_g$g" "$(num_or_dash "$(verify_median "ver1_v2_$g")")" lines/s "v2, $g events per sync group, $PINNED, median of $REPS1"
done
# the headline figures: v2 at the headline group
V2_APP=$(num_or_dash "$(append_median "app_v2_$HG" 8)")
V2_VER=$(num_or_dash "$(verify_median "ver_v2_$HG")")
figure audit.append_lines_per_s_tmpfs "$V2_APP" lines/s "v2, $HG events per sync group, $LINES events on tmpfs (fdatasync free: the CPU cost)"
figure audit.append_lines_per_s_disk "$(num_or_dash "$(append_median disk_v2 8)")" lines/s "v2, $DLINES events on $DISK_FS, an fdatasync and a checkpoint per $HG"
figure audit.verify_lines_per_s "$V2_VER" lines/s "v2, $HG events per sync group, one thread per CPU ($(nproc)), median of $REPS; goal >= $GOAL"
figure audit.verify_lines_per_s_1cpu "$(num_or_dash "$(verify_median "ver1_v2_$HG")")" lines/s "v2, $HG events per sync group, $PINNED, median of $REPS1"
figure audit.ed25519_per_s_1cpu "$SIGS" verifications/s "crypto_sign_verify_detached of 420 bytes, $PINNED (libsodium $SODIUM): what a v1 line costs at least"

md "## Audit log"
md
md "\`tests/bench/bench_audit\` appends $LINES events that look like a run's \`exec.spawned\` (about"
md "420 bytes a line) through \`cx_audit_append\`, exactly as \`calyx-exec\` does (lock, read and check"
md "the tail, one write; \`cx_audit_sync\` after every group of events), in format v1 (every line"
md "signed: the format before checkpoints) and in format v2 (lines with a mac, one signed"
md "\`audit.checkpoint\` per sync group), then verifies each log (${LOG_MIB} MiB for v1) with"
md "\`cx_audit_verify\`, read once into memory: every line parsed, hashed and chained, every"
md "signed line's Ed25519 signature checked. Medians; lines counts checkpoints too. Goal: verify"
md "≥ 200,000 lines/s on this machine ($(nproc) CPUs)."
md
md "| format | events per sync | lines | append lines/s (tmpfs) | verify lines/s, $(nproc) CPUs | min–max | verify lines/s, 1 CPU | verify events/s, $(nproc) CPUs | goal |"
md "|---|---:|---:|---:|---:|---:|---:|---:|---|"
verify_reps ver_v1 >"$TMP/r.rates"
read -r _ mn mx _ < <(stats "$TMP/r.rates")
md "| v1 (before) | $HG | $(lines_of "$SHM/app_v1.1.jsonl") | $(int "$V1_APP") | $(int "$V1_VER") | $(int "$mn")–$(int "$mx") | $(int "$V1_VER1") | $(int "$V1_VER") | $(verdict "$V1_VER") |"
for g in $GROUPS_V2; do
	l=$(lines_of "$SHM/app_v2_$g.1.jsonl")
	v=$(num_or_dash "$(verify_median "ver_v2_$g")")
	verify_reps "ver_v2_$g" >"$TMP/r.rates"
	read -r _ mn mx _ < <(stats "$TMP/r.rates")
	ev=-
	[ "$v" = - ] || ev=$(awk -v v="$v" -v n="$LINES" -v l="$l" 'BEGIN { printf "%.0f", v * n / l }')
	md "| v2 | $g | $l | $(int "$(num_or_dash "$(append_median "app_v2_$g" 8)")") | $(int "$v") | $(int "$mn")–$(int "$mx") | $(int "$(num_or_dash "$(verify_median "ver1_v2_$g")")") | $ev | $(verdict "$v") |"
done
md
md "Append with real syncs ($DLINES events on $DISK_FS, an \`fdatasync\` per $HG events): v1"
md "$(int "$(num_or_dash "$(append_median disk_v1 8)")") lines/s, v2 $(int "$(num_or_dash "$(append_median disk_v2 8)")") lines/s."
md "Bare Ed25519 verifications: $(int "$SIGS")/s on one CPU here (libsodium $SODIUM). Verify checks"
md "only the newest checkpoint's signature (it vouches for every line before it through the"
md "chain; docs/audit-events.md), so a log of any format costs the strict JSON parse and the"
md "SHA-256 of each line, plus one signature; a run with a validate step and no child processes"
md "writes 8 events in 2 groups."
# the side-by-side table on stdout too
echo
sed -n '/^| format /,/^$/p' "$BENCH_MD"
echo "bench-audit: verify v1 $(int "$V1_VER") lines/s, v2 (groups of $HG) $(int "$V2_VER") lines/s; append v1 $(int "$V1_APP"), v2 $(int "$V2_APP") lines/s on tmpfs; $BENCH_OUT/audit.md"
