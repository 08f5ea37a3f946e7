#!/usr/bin/env bash
# make gates: every reliability gate, bounded, then one table of their
# figures (the table the README quotes).
#
#   scripts/gates.sh [BUILD]        (root; after 'make tests')
#
# Gates, in order (each writes $BUILD/gates/<gate>.json; a gate that fails
# does not stop the others, so the table is always complete):
#   adversarial  the attack corpus (tests/adversarial/cases/)   — reused
#                from this build's 'make check' when that already ran it
#   fuzz         every libFuzzer harness for GATES_FUZZ_TIME s (default 45)
#   asan         every suite under ASan/UBSan/LSan               — reused
#                from 'make asan' when it already ran on this tree
#   analyze      cppcheck + clang-tidy
#   valgrind     memcheck on the CLIs' main paths
#   soak         SOAK_RUNS runs (default here 200), SOAK_CONCURRENCY at a time
#   crash        CRASH_ITERATIONS kill -9s over every phase (default 200)
#   determinism  the fast suites (unit, corpus replays) twice: same pass/fail set
# Exit 0 only when every gate passed.
set -u
cd "$(dirname "$0")/.." || exit 2
B=${1:-build}
G=$B/gates
mkdir -p "$G"
FUZZ_TIME=${GATES_FUZZ_TIME:-45}
export SOAK_RUNS=${SOAK_RUNS:-200} SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-20}
export CRASH_ITERATIONS=${CRASH_ITERATIONS:-200}
start=$(date +%s)
failed=()

say() { printf '\n\033[1m== gate %s\033[0m\n' "$*"; }

# fresh: is FILE newer than the binaries this gate is about?
fresh() { [ -f "$1" ] && [ "$1" -nt "$B/calyx-exec" ]; }

gate() { # NAME CMD...: run a gate, remember a failure
	local name=$1 t0 rc
	shift
	say "$name"
	t0=$(date +%s)
	"$@"
	rc=$?
	echo "(gate $name: exit $rc, $(( $(date +%s) - t0 )) s)"
	[ "$rc" -eq 0 ] || failed+=("$name")
}

# ---- adversarial ------------------------------------------------------------
if fresh "$G/adversarial.json"; then
	say "adversarial (from this build's make check)"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["summary"]); sys.exit(0 if j["ok"] else 1)' "$G/adversarial.json" ||
		failed+=(adversarial)
else
	gate adversarial make --no-print-directory BUILD="$B" adversarial
fi

# ---- fuzz -------------------------------------------------------------------
# make fuzz builds into build/fuzz (clang, sanitizers) and stops at the
# first finding; the figures come from each harness's log.
fuzz_gate() {
	local rc n log execs crashes
	make --no-print-directory fuzz FUZZ_TIME="$FUZZ_TIME"
	rc=$?
	{
		printf '{"gate":"fuzz","seconds_per_harness":%s,"harnesses":[' "$FUZZ_TIME"
		local first=1 tot_execs=0 tot_crashes=0 nh=0
		for src in tests/fuzz/fuzz_*.c; do
			n=$(basename "$src" .c); n=${n#fuzz_}
			log=build/fuzz/fuzz_$n.log
			execs=$(grep -oE 'Done [0-9]+ runs' "$log" 2>/dev/null | tail -n 1 | grep -oE '[0-9]+' || echo 0)
			crashes=$(find build/fuzz -maxdepth 1 -name "crash-$n-*" 2>/dev/null | wc -l)
			[ -n "$execs" ] || execs=0
			[ "$first" -eq 1 ] || printf ','
			first=0
			printf '{"name":"%s","executions":%s,"findings":%s}' "$n" "$execs" "$crashes"
			tot_execs=$((tot_execs + execs)); tot_crashes=$((tot_crashes + crashes)); nh=$((nh + 1))
		done
		printf '],"ok":%s,"summary":"%s harnesses x %s s: %s executions, %s findings"}\n' \
			"$([ "$rc" -eq 0 ] && [ "$tot_crashes" -eq 0 ] && echo true || echo false)" \
			"$nh" "$FUZZ_TIME" "$tot_execs" "$tot_crashes"
	} >"$G/fuzz.json"
	return "$rc"
}
gate fuzz fuzz_gate

# ---- asan -------------------------------------------------------------------
# make asan runs every suite (unit, replays, integration, adversarial) in
# build/asan under ASan+UBSan+LSan; its run-all writes check.json there.
asan_json() {
	python3 - build/asan/gates/check.json "$G/asan.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
out = {"gate": "asan", "ok": j["ok"], "suites": j["suites"],
       "summary": "%d suites under ASan+UBSan+LSan, %s" % (j["suites"], "0 findings" if j["ok"] else "FAILED: " + j["failed"])}
json.dump(out, open(sys.argv[2], "w"))
EOF
}
if [ -f build/asan/gates/check.json ] && [ build/asan/gates/check.json -nt build/asan/calyx-exec ]; then
	say "asan (from make asan on this tree)"
	asan_json && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["summary"]); sys.exit(0 if j["ok"] else 1)' "$G/asan.json" ||
		failed+=(asan)
else
	gate asan make --no-print-directory asan
	asan_json || failed+=(asan)
fi

# ---- the rest ---------------------------------------------------------------
gate analyze make --no-print-directory BUILD="$B" analyze
gate valgrind make --no-print-directory BUILD="$B" valgrind
gate soak make --no-print-directory BUILD="$B" soak SOAK_RUNS="$SOAK_RUNS" SOAK_CONCURRENCY="$SOAK_CONCURRENCY"
gate crash make --no-print-directory BUILD="$B" crash CRASH_ITERATIONS="$CRASH_ITERATIONS"

# ---- determinism ------------------------------------------------------------
# The fast suites twice in a row: the same tests pass and fail both times.
fast_results() { # OUT
	local src name
	: >"$1"
	for src in tests/unit/test_*.c; do
		name=$(basename "$src" .c)
		"$B/tests/$name" 2>&1 | sed -nE "s/^\[ +(OK|FAILED|SKIPPED) +\] ([^:]*).*/$name \2 \1/p" >>"$1"
	done
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c); name=${name#fuzz_}
		if "$B/tests/replay_$name" "tests/fuzz/corpus/$name" >/dev/null 2>&1; then
			echo "replay $name OK" >>"$1"
		else
			echo "replay $name FAILED" >>"$1"
		fi
	done
}
determinism_gate() {
	local a b n diffs
	a=$(mktemp) b=$(mktemp)
	fast_results "$a"
	fast_results "$b"
	n=$(wc -l <"$a")
	diffs=$(diff "$a" "$b" | grep -c '^[<>]')
	diff "$a" "$b" | head -n 10
	printf '{"gate":"determinism","ok":%s,"tests":%s,"differences":%s,"failed":%s,"summary":"%s fast tests run twice: %s differences, %s failed"}\n' \
		"$([ "$diffs" -eq 0 ] && ! grep -q ' FAILED$' "$a" && echo true || echo false)" "$n" "$diffs" \
		"$(grep -c ' FAILED$' "$a")" "$n" "$diffs" "$(grep -c ' FAILED$' "$a")" >"$G/determinism.json"
	rm -f "$a" "$b"
	[ "$diffs" -eq 0 ]
}
gate determinism determinism_gate

# ---- the table --------------------------------------------------------------
say "table"
python3 - "$G" "$(( $(date +%s) - start ))" <<'EOF'
import json, os, sys
g, secs = sys.argv[1], sys.argv[2]
order = ["adversarial", "fuzz", "asan", "analyze", "valgrind", "soak", "crash", "determinism"]
rows = []
for name in order:
    p = os.path.join(g, name + ".json")
    try:
        j = json.load(open(p))
        rows.append((name, "pass" if j.get("ok") else "FAIL", j.get("summary", "")))
    except (OSError, ValueError) as e:
        rows.append((name, "MISSING", "no %s.json (%s)" % (name, e.__class__.__name__)))
w = max(len(r[0]) for r in rows)
print("| %-*s | result | figures |" % (w, "gate"))
print("| %s | ------ | ------- |" % ("-" * w))
for n, r, s in rows:
    print("| %-*s | %-6s | %s |" % (w, n, r, s))
bad = [r[0] for r in rows if r[1] != "pass"]
print("gates: %d/%d passed in %s s%s" % (len(rows) - len(bad), len(rows), secs,
      "" if not bad else " — failed: " + ", ".join(bad)))
EOF
[ "${#failed[@]}" -eq 0 ] || { echo "gates: failed: ${failed[*]}"; exit 1; }
