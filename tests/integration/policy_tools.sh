#!/usr/bin/env bash
# calyx-policy explain: golden-output tests (tests/data/golden), host part
# left out (--no-host) so the output is the same on every machine.
#
#   bash tests/integration/policy_tools.sh [BUILD_DIR]
# To refresh a golden file after an intended change, rerun the command it
# names and review the diff.
set -u
source "$(dirname "$0")/lib.sh" "${1:-build}"
cd "$(dirname "$0")/../.." || exit 2

t_explain() { # NAME
	check 0 "" "$POLICY" explain "tests/data/policies/explain-$1.json" --no-host || return 1
	cmp -s "$OUT" "tests/data/golden/explain-$1.txt" ||
		fail "output differs from tests/data/golden/explain-$1.txt: $(diff "tests/data/golden/explain-$1.txt" "$OUT" | head -n 4 | tr '\n' '|')"
}
run_test explain.basic_policy_golden t_explain basic
run_test explain.loose_policy_golden t_explain loose
t_explain_bad() {
	printf '{"v":1}' >"$T/bad.json"
	check_one_line 1 E_POLICY "$POLICY" explain "$T/bad.json" --no-host
}
run_test explain.invalid_policy_refused t_explain_bad
summary
