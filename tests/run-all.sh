#!/bin/sh
# Run every test suite: cmocka unit suites, fuzz-corpus replays, integration.
# Prints each suite's summary lines and a final total; exits non-zero if any
# suite fails. BUILD selects the build dir (build, build/asan).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
failed=""
n=0

suite() {
	name=$1; shift
	n=$((n + 1))
	echo "---- $name"
	if "$@" > "$BUILD/$name.log" 2>&1; then
		grep -E '^\[(==========|  PASSED  |  FAILED  |  SKIPPED )\]|^replay:' "$BUILD/$name.log" || true
	else
		cat "$BUILD/$name.log"
		echo "---- $name: FAILED"
		failed="$failed $name"
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "note: not root — tests that need root ownership checks skip (visible as SKIPPED)"
fi

# Suites are named by their sources, so a stale binary in $BUILD never runs
# and a missing one fails loudly.
for src in tests/unit/test_*.c; do
	name=$(basename "$src" .c)
	suite "$name" "$BUILD/tests/$name"
done
# The fault-injection build's workspace tests: a kill at each commit step.
if [ -x "$BUILD/fault/tests/test_workspace" ]; then
	suite test_workspace_faults "$BUILD/fault/tests/test_workspace"
fi
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c); name=${name#fuzz_}
	suite "replay_$name" "$BUILD/tests/replay_$name" "tests/fuzz/corpus/$name"
done
# Integration and adversarial suites drive the real binaries as root.
for s in tests/integration/*.sh tests/adversarial/run.sh; do
	[ -f "$s" ] || continue
	case $s in */lib.sh | */lib_*.sh) continue ;; esac
	name=$(basename "$(dirname "$s")")-$(basename "$s" .sh)
	if [ "$(id -u)" -eq 0 ]; then
		suite "$name" bash "$s" "$BUILD"
	else
		echo "---- $name: SKIPPED (needs root: drives calyx-exec with root-owned config)"
	fi
done

echo "===="
# For 'make gates': this build's result (build/gates/check.json; the
# sanitizer build's is build/asan/gates/check.json).
mkdir -p "$BUILD/gates"
printf '{"gate":"check","ok":%s,"suites":%d,"failed":"%s","summary":"%s"}\n' \
	"$([ -z "$failed" ] && echo true || echo false)" "$n" "${failed# }" \
	"$([ -z "$failed" ] && echo "all $n suites passed" || echo "FAILED:$failed (of $n)")" >"$BUILD/gates/check.json"
if [ -n "$failed" ]; then
	echo "FAILED suites:$failed (of $n)"
	exit 1
fi
echo "all $n suites passed"
