#!/usr/bin/env bash
# Lease verification benchmark: leases verified per second on one core.
#
#   scripts/bench-verify.sh [BUILD_DIR]      (default build; root not needed)
#     REPS=N   runs of the driver (default 3); the figure is the median of
#              their medians
#
# Wraps BUILD_DIR/tests/bench_verify, which times, in 15 batches of 400,
#   (a) cx_lease_verify of a typical two-signature lease already in memory
#       (envelope parse, two Ed25519 signatures, body, policy check): the
#       verification alone, what the goal is about;
#   (b) the same plus loading keyring and policy from their files, as one
#       calyx-exec start does.
# The driver is pinned to CPU 0 with taskset when it is there, so "one
# core" is literal and the scheduler cannot spread it; without taskset it
# is still one thread (the section says which).
# Writes BENCH_OUT/verify.md and verify.tsv (scripts/lib-bench.sh).
# Figures only, no assertions; goal: >= 5,000 leases/s on one core.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-${BUILD:-build}}
# results next to the build (bench-all.sh sets BENCH_OUT to the same);
# before lib-bench.sh, which would default it to build/bench
export BENCH_OUT=${BENCH_OUT:-$BUILD/bench}
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh
BIN=$BUILD/tests/bench_verify
REPS=${REPS:-3}
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || { echo "bench-verify: REPS must be a positive integer" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench-verify: $BIN missing (make $BIN)" >&2; exit 2; }

PIN=()
PINNED="one thread, not pinned (taskset missing)"
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
	PIN=(taskset -c 0)
	PINNED="pinned to CPU 0 with taskset"
fi

TMP=$(mktemp -d /tmp/calyx-bench-verify.XXXXXX) || exit 2
trap 'rm -rf "$TMP"' EXIT
: >"$TMP/mem.us"
: >"$TMP/load.us"
for i in $(seq 1 "$REPS"); do
	"${PIN[@]}" "$BIN" >"$TMP/run$i.txt" || { cat "$TMP/run$i.txt"; echo "bench-verify: $BIN failed" >&2; exit 1; }
	cat "$TMP/run$i.txt" # the log keeps every run
	# "  verify (in memory)  median 140.8 us  min ..." -> 140.8
	sed -n 's/^ *verify (in memory) *median *\([0-9.]*\) us.*/\1/p' "$TMP/run$i.txt" >>"$TMP/mem.us"
	sed -n 's/^ *load keyring+policy + verify *median *\([0-9.]*\) us.*/\1/p' "$TMP/run$i.txt" >>"$TMP/load.us"
done
LEASE_BYTES=$(sed -n '1s/.* \([0-9]*\)-byte .*/\1/p' "$TMP/run1.txt")
read -r mem_med mem_min mem_max mem_n < <(stats "$TMP/mem.us")
read -r load_med load_min load_max load_n < <(stats "$TMP/load.us")
if [ "$mem_n" -ne "$REPS" ] || [ "$load_n" -ne "$REPS" ]; then
	echo "bench-verify: could not read the driver's medians (format changed?)" >&2
	exit 1
fi
per_s() { awk -v us="$1" 'BEGIN { printf "%.0f\n", 1e6 / us }'; }
d1() { [ "$1" = - ] && echo - || printf '%.1f\n' "$1"; }

bench_section verify
figure verify.median_us "$mem_med" us "cx_lease_verify, lease in memory; median of $REPS runs' medians (15 batches x 400 each), $PINNED"
figure verify.leases_per_s_1core "$(per_s "$mem_med")" leases/s "1 / verify.median_us; goal >= 5000"
figure verify.load_median_us "$load_med" us "keyring + policy loaded from files, then verify (one calyx-exec start's share)"
figure verify.load_leases_per_s_1core "$(per_s "$load_med")" leases/s "1 / verify.load_median_us"

md "## Lease verification"
md
md "Verification alone, on one core ($PINNED): \`tests/bench/bench_verify\` verifies a typical"
md "two-signature lease (${LEASE_BYTES:-?} bytes) in 15 batches of 400 and reports the"
md "median batch; the driver ran $REPS time(s) and the table gives the median, min and max of"
md "those medians."
md "Goal: ≥ 5,000 leases/s on one core (≤ 200 µs each)."
md
md "| what | median µs | min–max µs | leases/s (median) |"
md "|---|---:|---:|---:|"
md "| verify a lease in memory (parse, 2× Ed25519, body, policy) | $(d1 "$mem_med") | $(d1 "$mem_min")–$(d1 "$mem_max") | $(per_s "$mem_med") |"
md "| load keyring + policy from files, then verify | $(d1 "$load_med") | $(d1 "$load_min")–$(d1 "$load_max") | $(per_s "$load_med") |"
md
md "The second row is what one \`calyx-exec\` start spends before it consumes the lease; the"
md "two signature checks (libsodium Ed25519) are most of the first."
echo "bench-verify: $(per_s "$mem_med") leases/s on one core (median $mem_med us), $BENCH_OUT/verify.md"
