#!/usr/bin/env bash
# make bench: every benchmark in turn, then docs/benchmarks.md.
#
#   scripts/bench-all.sh [BUILD_DIR]     (as root; BENCH_ONLY="startup audit"
#                                         runs a subset, the document notes
#                                         the others as not run)
#
# Installs what the benches compare against and time with
# (scripts/install-deps.sh --bench), builds, then runs each bench with its
# output in BUILD_DIR/bench/logs/NAME.log. A bench that fails does not stop
# the others: bench-doc.sh reports it (with the tail of its log) in place of
# its section, and this script exits 1 at the end. The startup bench runs
# first, on the quietest machine.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
export BENCH_OUT=$BUILD/bench
ALL="startup overhead throughput verify audit monitor workspace ledger rollout"
ONLY=${BENCH_ONLY:-$ALL}

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (calyx-exec and its peers build sandboxes)" >&2; exit 1; }
start=$(date +%s)
mkdir -p "$BENCH_OUT/logs"
scripts/install-deps.sh --bench >"$BENCH_OUT/logs/deps.log" 2>&1 ||
	echo "bench: some packages did not install (see $BENCH_OUT/logs/deps.log); the benches say which peers they skip" >&2
make -s -j2 all tests >"$BENCH_OUT/logs/build.log" 2>&1 || { echo "bench: build failed (see $BENCH_OUT/logs/build.log)" >&2; exit 1; }

# runs.tsv: NAME TAB status (ok|failed|not run) TAB seconds
: >"$BENCH_OUT/runs.tsv"
failed=0
for b in $ALL; do
	case " $ONLY " in
	*" $b "*) ;;
	*)
		printf '%s\tnot run\t0\n' "$b" >>"$BENCH_OUT/runs.tsv"
		continue
		;;
	esac
	rm -f "$BENCH_OUT/$b.md" "$BENCH_OUT/$b.tsv"
	t0=$(date +%s)
	printf 'bench: %-11s ' "$b" >&2
	if make -s "bench-$b" BUILD="$BUILD" >"$BENCH_OUT/logs/$b.log" 2>&1; then
		st=ok
	else
		st=failed
		failed=1
	fi
	t1=$(date +%s)
	printf '%s\t%s\t%s\n' "$b" "$st" $((t1 - t0)) >>"$BENCH_OUT/runs.tsv"
	echo "$st in $((t1 - t0)) s (log: $BENCH_OUT/logs/$b.log)" >&2
done

scripts/bench-doc.sh "$BUILD" || failed=1
echo "bench: done in $(($(date +%s) - start)) s: docs/benchmarks.md, docs/bench-startup.svg" >&2
exit $failed
