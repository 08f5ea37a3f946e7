#!/usr/bin/env bash
# calyx-ctl selftest from the build tree (CALYX_SELFTEST_DIR=tests/
# adversarial; the probes and workloads from BUILD_DIR): a few fast cases
# of the real corpus (one DENIED probe, one REFUSED lease, one HALTED
# quota) in each report format, exit 0; a corpus case that escapes, and a
# host audit log that does not verify, exit 1 with a failure in the
# report; a host without an audit log yet: that case skipped, exit 0.
#
#   bash tests/integration/selftest.sh [BUILD_DIR]      (root)
set -u
source "$(dirname "$0")/lib.sh" "${1:-build}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CTL=$B/calyx-ctl
CASES="path_traversal env_inject bomb_fork"
ONLY=path_traversal,env_inject,bomb_fork

# The host under test: a config of its own (the default run uid range,
# the default bpf_pin_dir), with an audit log made by one real run.
mkdir -p "$T/srv"
policy_json '["/usr/bin/true"]' >"$T/st.policy.json"
mk_host sthost "$T/st.policy.json" || { echo "selftest.sh: mk_host: $WHY" >&2; exit 2; }
mk_host stempty "$T/st.policy.json" || { echo "selftest.sh: mk_host: $WHY" >&2; exit 2; }
body_json '["/usr/bin/true"]' >"$T/st.body.json"
mk_lease sthost "$T/st.lease" "$T/st.body.json" || { echo "selftest.sh: mk_lease: $WHY" >&2; exit 2; }
cx sthost --lease "$T/st.lease" >/dev/null 2>"$ERR" || { echo "selftest.sh: the host's first run failed: $(first_err)" >&2; exit 2; }
CONF=$T/sthost/etc/calyx.conf

# A corpus of its own: the real runner and harness, and two cases of its
# own (one that escapes, one that passes at once).
FAKE=$T/fakecorpus
mkdir -p "$FAKE/cases"
cp "$SRC/tests/adversarial/run.sh" "$SRC/tests/adversarial/lib_adv.sh" "$SRC/tests/integration/lib.sh" "$FAKE/"
cat >"$FAKE/cases/fake_escape.case" <<'EOF'
# shellcheck shell=bash disable=SC2034
CASE_NAME=fake_escape
CASE_CLASS="test <class> & \"quotes\""
CASE_REF="none" CASE_ATTEMPT="pretends to get out" CASE_EXPECT=DENIED
case_run() { escaped "made to fail <here> & there"; }
EOF
cat >"$FAKE/cases/fake_ok.case" <<'EOF'
# shellcheck shell=bash disable=SC2034
CASE_NAME=fake_ok
CASE_CLASS="test" CASE_REF="none" CASE_ATTEMPT="nothing" CASE_EXPECT=UNAFFECTED
case_run() { OUTCOME=UNAFFECTED OBS="nothing happened"; }
EOF

st() { xrun env CALYX_SELFTEST_DIR="$SRC/tests/adversarial" "$CTL" selftest --config "$CONF" "$@"; }
st_fake() { xrun env CALYX_SELFTEST_DIR="$FAKE" "$CTL" selftest "$@"; }

# junit_check FILE TESTS FAILURES SKIPPED NAMES...: FILE parses as XML,
# one testsuite calyx-selftest with those counts (attributes and
# elements), a testcase of each NAME.
junit_check() {
	python3 - "$@" <<'EOF' 2>&1
import sys, xml.etree.ElementTree as ET
f, tests, failures, skipped, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
root = ET.parse(f).getroot()
assert root.tag == "testsuite" and root.get("name") == "calyx-selftest", root.tag
cases = root.findall("testcase")
got = [c.get("name") for c in cases]
assert len(cases) == tests, "testcases %s" % got
assert int(root.get("tests")) == tests and int(root.get("failures")) == failures, root.attrib
assert int(root.get("skipped")) == skipped, root.attrib
assert sum(1 for c in cases if c.find("failure") is not None) == failures, "failure elements"
assert sum(1 for c in cases if c.find("skipped") is not None) == skipped, "skipped elements"
for n in names:
    assert n in got, "no testcase %s in %s" % (n, got)
for c in cases:
    assert c.get("classname"), "testcase %s without classname" % c.get("name")
EOF
}

t_junit() {
	st --format junit --only "$ONLY" -o "$T/st.xml"
	expect_rc 0 || return 1
	local why
	why=$(junit_check "$T/st.xml" 4 0 0 $CASES audit_chain_intact) || fail "junit: $why" || return 1
	grep -q 'as expected, 0 skipped, 0 failed (report in ' "$ERR" || fail "stderr lacks the summary: $(first_err)"
}

t_tap() {
	local n
	st --format tap --only "$ONLY"
	expect_rc 0 || return 1
	[ "$(head -n 1 "$OUT")" = "TAP version 13" ] || fail "first line: $(head -n 1 "$OUT")" || return 1
	[ "$(sed -n 2p "$OUT")" = "1..4" ] || fail "plan: $(sed -n 2p "$OUT")" || return 1
	n=$(grep -cE '^ok [1-4] - ' "$OUT")
	[ "$n" -eq 4 ] || fail "$n ok lines, expected 4" || return 1
	! grep -q '^not ok' "$OUT" || fail "a not ok line: $(grep '^not ok' "$OUT")" || return 1
	for c in $CASES audit_chain_intact; do
		grep -qE "^ok [1-4] - $c " "$OUT" || fail "no ok line for $c" || return 1
	done
}

t_text() {
	st --only "$ONLY"
	expect_rc 0 || return 1
	expect_stdout_has "selftest: 4/4 as expected, 0 skipped, 0 failed" || return 1
	expect_stdout_has "never written" || return 1
	for c in $CASES audit_chain_intact; do
		grep -qE "^ok +$c " "$OUT" || fail "no ok row for $c" || return 1
	done
}

t_failing_case() {
	local why
	st_fake --config "$CONF" --format junit -o "$T/fail.xml"
	expect_rc 1 || return 1
	why=$(junit_check "$T/fail.xml" 3 1 0 fake_escape fake_ok audit_chain_intact) || fail "junit: $why" || return 1
	grep -q '<failure message="observed ESCAPED: made to fail &lt;here&gt; &amp; there' "$T/fail.xml" ||
		fail "no escaped failure message: $(grep -m1 failure "$T/fail.xml")" || return 1
	grep -q 'classname="test &lt;class&gt; &amp; &quot;quotes&quot;"' "$T/fail.xml" || fail "classname not escaped" || return 1
	st_fake --config "$CONF" --format tap
	expect_rc 1 || return 1
	grep -q '^not ok [0-9] - fake_escape ' "$OUT" || fail "no 'not ok' for fake_escape: $(cat "$OUT")" || return 1
	grep -q '^ok [0-9] - fake_ok ' "$OUT" || fail "no 'ok' for fake_ok"
}

t_tampered_audit() {
	local al=$T/sthost/log/audit.jsonl
	cp -p "$al" "$T/audit.keep"
	sed -i '1s/"seq":1,/"seq":1, /' "$al"
	st_fake --config "$CONF" --only fake_ok
	cp -p "$T/audit.keep" "$al"
	expect_rc 1 || return 1
	grep -qE '^FAIL +audit_chain_intact ' "$OUT" || fail "no FAIL row for audit_chain_intact: $(cat "$OUT")" || return 1
	expect_stdout_has "1/2 as expected, 0 skipped, 1 failed"
}

t_no_audit_log_skipped() {
	st_fake --config "$T/stempty/etc/calyx.conf" --only fake_ok --format tap
	expect_rc 0 || return 1
	grep -qE '^ok 2 - audit_chain_intact .*# SKIP no audit log yet' "$OUT" || fail "no SKIP line: $(cat "$OUT")" || return 1
	expect_stdout_has "# 1/1 as expected, 1 skipped, 0 failed"
}

t_usage() {
	st --format xml
	expect_rc 2 || return 1
	st --only nosuch
	expect_rc 2 || return 1
	st --only "a b"
	expect_rc 2 || return 1
	xrun env CALYX_SELFTEST_DIR="$T/nothing" "$CTL" selftest --config "$CONF"
	expect_rc 125 || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "stderr has $(nlines "$ERR") lines" || return 1
	# a corpus someone else could write is not run as root
	chmod g+w "$FAKE/run.sh"
	st_fake --config "$CONF" --only fake_ok
	chmod g-w "$FAKE/run.sh"
	expect_rc 125 || return 1
	grep -q "E_INSECURE_FILE.*run.sh" "$ERR" || fail "stderr: $(first_err)"
}

# The installed layout: make install into a DESTDIR (the default PREFIX),
# then the installed calyx-ctl with the installed corpus (its probes and
# workloads in the corpus dir, lib.sh beside run.sh): binaries under test
# are the installed ones.
t_installed() {
	local d=$T/dest sd
	xrun make -C "$SRC" --no-print-directory BUILD="$B" DESTDIR="$d" install
	expect_rc 0 || return 1
	sd=$(find "$d" -type d -path '*/calyx/selftest' | head -n 1)
	[ -n "$sd" ] && [ -x "$sd/probes/hosttool" ] && [ -x "$sd/workloads/sleeper" ] && [ -f "$sd/lib.sh" ] &&
		[ -f "$sd/cases/path_traversal.case" ] || fail "corpus not installed: $(find "$d" -path '*selftest*' | head -n 3)" || return 1
	xrun env CALYX_SELFTEST_DIR="$sd" "$(dirname "$(dirname "$sd")")/../bin/calyx-ctl" selftest \
		--config "$CONF" --only path_traversal --format tap
	expect_rc 0 || return 1
	grep -q '^ok 1 - path_traversal ' "$OUT" || fail "no ok line: $(cat "$OUT")"
}

run_test selftest.junit_real_cases_validate_zero_failures t_junit
run_test selftest.tap_plan_and_ok_lines t_tap
run_test selftest.text_summary_exit_0 t_text
run_test selftest.escaping_case_exit_1_failure_and_not_ok t_failing_case
run_test selftest.tampered_host_audit_log_fails t_tampered_audit
run_test selftest.no_audit_log_yet_skipped_not_failed t_no_audit_log_skipped
run_test selftest.usage_2_no_corpus_or_writable_corpus_125 t_usage
if [ "$(cat "$B/gen/selftestdir.stamp" 2>/dev/null)" != \
	"$(make -C "$SRC" -s --no-print-directory BUILD="$B" --eval 'print-selftestdir: ; @echo $(SELFTESTDIR)' print-selftestdir)" ]; then
	skip_test selftest.installed_layout_runs "this build's SELFTESTDIR is not the default PREFIX's (make install would rebuild)"
else
	run_test selftest.installed_layout_runs t_installed
fi
summary
