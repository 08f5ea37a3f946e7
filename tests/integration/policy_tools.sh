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
# ---- lint -----------------------------------------------------------------
# Each policy in tests/data/policies/lint/ has NAME.expect: one finding per
# line, "RULE POINTER LINE:COLUMN" (pointer "-" for the whole document),
# in the order lint reports them (by position).
lint_findings() { # FILE [ARGS]: the findings of --format json, .expect style
	"$POLICY" lint --fail-on none --format json "$@" |
		python3 -c 'import json, sys
for f in json.load(sys.stdin)["findings"]:
    print(f["rule"], f["pointer"] or "-", "%d:%d" % (f["line"], f["column"]))'
}
t_lint_corpus() { # NAME
	local f=tests/data/policies/lint/$1
	lint_findings "$f.json" >"$T/lint-$1.txt" || fail "lint --format json failed" || return 1
	cmp -s "$T/lint-$1.txt" "$f.expect" ||
		fail "findings differ from $f.expect: $(diff "$f.expect" "$T/lint-$1.txt" | grep '^[<>]' | head -n 4 | tr '\n' '|')"
}
for _f in tests/data/policies/lint/*.json; do
	_n=$(basename "$_f" .json)
	run_test "lint.corpus.$_n" t_lint_corpus "$_n"
done
unset _f _n

t_lint_text_exit() {
	check 0 "" "$POLICY" lint tests/data/policies/lint/clean.json || return 1
	expect_stdout_has "clean.json: no findings" || return 1
	xrun "$POLICY" lint tests/data/policies/lint/writable-command.json
	expect_rc 1 || return 1
	grep -q '^tests/data/policies/lint/writable-command.json:2:31: error: .*\[CX102 command-in-writable-tree\]$' "$OUT" ||
		fail "no compiler-style line for CX102: $(head -n 1 "$OUT")" || return 1
	grep -q '^    at /commands/1; fix: ' "$OUT" || fail "no location/fix line" || return 1
	expect_stdout_has "1 error, 0 warnings, 0 notes"
}
run_test lint.text_format_and_error_exit t_lint_text_exit
t_lint_fail_on() {
	# lease-rules has only warnings, redundant only notes
	check 0 "" "$POLICY" lint tests/data/policies/lint/lease-rules.json || return 1
	check 1 "" "$POLICY" lint --fail-on warning tests/data/policies/lint/lease-rules.json || return 1
	check 0 "" "$POLICY" lint --fail-on warning tests/data/policies/lint/redundant.json || return 1
	check 1 "" "$POLICY" lint --fail-on note tests/data/policies/lint/redundant.json || return 1
	check 0 "" "$POLICY" lint --fail-on none tests/data/policies/lint/write-system.json
}
run_test lint.fail_on_threshold t_lint_fail_on
t_lint_usage() {
	check 2 "" "$POLICY" lint --format xml tests/data/policies/lint/clean.json || return 1
	check 2 "" "$POLICY" lint --fail-on fatal tests/data/policies/lint/clean.json || return 1
	check_one_line 1 E_IO "$POLICY" lint "$T/nonexistent.json"
}
run_test lint.usage_and_unreadable t_lint_usage

# --config: the configuration's state dir and keyring directory become
# trust paths, its host key a secret.
t_lint_config() {
	mkdir -p "$T/lc" || return 1
	cat >"$T/lc/calyx.conf" <<-EOF
	{ "keyring": "/opt/trust/keyring.json", "policy": "/opt/trust/policy.json",
	  "state_dir": "/data/calyx-state", "audit_log": "/data/log/audit.jsonl",
	  "host_key": "/opt/trust/host.key" }
	EOF
	sed -e 's|"write": \["/srv/calyx/build"\]|"write": ["/data"], "read": ["/opt"]|' \
	    -e '/"read":  \[/d' tests/data/policies/lint/clean.json >"$T/lc/p.json"
	lint_findings "$T/lc/p.json" >"$T/lc/plain.txt" || return 1
	[ ! -s "$T/lc/plain.txt" ] || fail "findings without --config: $(cat "$T/lc/plain.txt")" || return 1
	lint_findings "$T/lc/p.json" --config "$T/lc/calyx.conf" >"$T/lc/cfg.txt" || return 1
	grep -q '^CX103 /write/0 ' "$T/lc/cfg.txt" || fail "write /data not flagged as containing the state dir: $(cat "$T/lc/cfg.txt")" || return 1
	grep -q '^CX104 /read/0 ' "$T/lc/cfg.txt" || fail "read /opt not flagged as containing the host key: $(cat "$T/lc/cfg.txt")"
}
run_test lint.config_adds_trust_paths t_lint_config

# --host: symlinks, missing paths and world-writable directories, checked
# on a fixture tree built here.
t_lint_host() {
	local h=$T/lh
	mkdir -p "$h/real/sub" "$h/ww/sub" "$h/sticky" || return 1
	ln -s real "$h/link" && chmod 0777 "$h/ww" && chmod 1777 "$h/sticky" && chmod 0755 "$h/ww/sub" || return 1
	mkdir -p "$h/sticky/own" && chmod 0755 "$h/sticky/own" || return 1
	sed -e "s|\"read\":  \\[\"/usr\", \"/etc/ssl/certs\"\\]|\"read\": [\"$h/real/sub\", \"$h/link\", \"$h/link/sub\", \"$h/missing\", \"$h/ww\", \"$h/ww/sub\", \"$h/sticky/own\"]|" \
	    tests/data/policies/lint/clean.json >"$h/p.json"
	grep -q "$h/sticky/own" "$h/p.json" || fail "fixture policy not written" || return 1
	# (the nested entries are also redundant: CX116 notes, left out here)
	lint_findings "$h/p.json" | grep -v '^CX116 ' >"$T/lh.static"
	[ ! -s "$T/lh.static" ] || fail "static lint looked at the host: $(cat "$T/lh.static")" || return 1
	lint_findings "$h/p.json" --host | grep ' /read/' | grep -v '^CX116 ' | cut -d' ' -f1,2 >"$T/lh.txt"
	printf '%s\n' "CX105 /read/1" "CX105 /read/2" "CX106 /read/3" "CX107 /read/4" "CX107 /read/5" >"$T/lh.want"
	cmp -s "$T/lh.txt" "$T/lh.want" || fail "host findings: $(tr '\n' '|' <"$T/lh.txt") expected $(tr '\n' '|' <"$T/lh.want")"
}
run_test lint.host_checks_paths t_lint_host

# ---- strings shown to people ------------------------------------------------
# A policy whose strings hold ESC, C1 CSI, a bidi override and isolates
# (tests/data/policies/lint/hidden.json, which lint flags as CX117): the
# text of explain, lint and diff shows them escaped (calyx/esc.h), never
# raw, on a terminal or not.
raw_bytes() { # FILE: lines with a byte a terminal obeys or a reader cannot see
	LC_ALL=C grep -naP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xa8-\xae]|\xe2\x81[\xa0-\xa9]|\xd8\x9c|\xef\xbb\xbf' "$1"
}
t_hidden_text() {
	local h=tests/data/policies/lint/hidden.json what
	for what in explain lint diff; do
		case $what in
		explain) xrun "$POLICY" explain "$h" --no-host ;;
		lint) xrun "$POLICY" lint "$h" ;;
		diff) xrun "$POLICY" diff tests/data/policies/lint/clean.json "$h" ;;
		esac
		! raw_bytes "$OUT" >/dev/null && ! raw_bytes "$ERR" >/dev/null ||
			fail "$what: a raw control or bidi byte in the output: $(raw_bytes "$OUT" | head -n 1 | LC_ALL=C tr -c '\040-\176' '?')" || return 1
		case $what in
		explain) expect_stdout_has '/usr/local/bin/\u{202e}gnp.sh' && expect_stdout_has 'PATH=/usr/bin:/bin\x1b[2J' &&
			expect_stdout_has '/srv/\u{2066}data\u{2069}' && expect_stdout_has 'HOME=/work\u{009b}' || return 1 ;;
		lint) expect_rc 1 && expect_stdout_has 'the string holds U+001B (a control character)' &&
			expect_stdout_has '[CX117 hidden-characters]' || return 1 ;;
		diff) expect_stdout_has '+ /usr/local/bin/\u{202e}gnp.sh' &&
			expect_stdout_has '/usr/bin:/bin -> /usr/bin:/bin\x1b[2J' || return 1 ;;
		esac
	done
	# JSON stays JSON: the same strings, JSON-escaped by jansson
	"$POLICY" lint --format sarif "$h" | python3 -c 'import json, sys; json.load(sys.stdin)' ||
		fail "lint --format sarif is not JSON"
}
run_test text.policy_strings_escaped t_hidden_text
# --host: a read or write tree holding unix sockets (a host daemon's
# runtime dir) is flagged (CX118); a socket unix_sockets names that is not
# a socket on this host is said so (CX119).
t_lint_host_sockets() {
	local h=$T/lhs
	mkdir -p "$h/run/sub" "$h/plain" "$h/data" || return 1
	python3 -c 'import socket, sys
for p in sys.argv[1:]:
    socket.socket(socket.AF_UNIX).bind(p)' "$h/run/a.sock" "$h/run/sub/b.sock" || fail "cannot make sockets" || return 1
	: >"$h/data/not-a-socket"
	sed -e "s|\"read\":  \\[\"/usr\", \"/etc/ssl/certs\"\\]|\"read\": [\"$h/plain\", \"$h/run\", \"$h/data\"], \"unix_sockets\": [\"$h/run/a.sock\", \"$h/data/not-a-socket\"]|" \
	    tests/data/policies/lint/clean.json >"$h/p.json"
	grep -q "$h/data/not-a-socket" "$h/p.json" || fail "fixture policy not written" || return 1
	lint_findings "$h/p.json" | grep -E '^CX11[89] ' | cut -d' ' -f1,2 >"$T/lhs.static"
	printf '%s\n' "CX119 /unix_sockets/0" "CX119 /unix_sockets/1" >"$T/lhs.want"
	cmp -s "$T/lhs.static" "$T/lhs.want" || fail "static findings: $(tr '\n' '|' <"$T/lhs.static")" || return 1
	lint_findings "$h/p.json" --host | grep -E '^CX11[89] ' | cut -d' ' -f1,2 >"$T/lhs.txt"
	printf '%s\n' "CX118 /read/1" "CX119 /unix_sockets/0" "CX119 /unix_sockets/1" >"$T/lhs.want"
	cmp -s "$T/lhs.txt" "$T/lhs.want" || fail "host findings: $(tr '\n' '|' <"$T/lhs.txt") expected $(tr '\n' '|' <"$T/lhs.want")" || return 1
	xrun "$POLICY" lint --fail-on none --host "$h/p.json"
	grep CX118 "$OUT" | grep "holds 2 unix sockets of host daemons" | grep -F "$h/run/a.sock" | grep -qF "$h/run/sub/b.sock" ||
		fail "CX118 does not name the sockets: $(grep CX118 "$OUT" | head -n 1)" || return 1
	grep -q "'$h/data/not-a-socket'.*on this host it is not a socket" "$OUT" ||
		fail "CX119 does not say the entry is not a socket: $(grep CX119 "$OUT" | tail -n 1)"
}
run_test lint.host_flags_sockets_in_trees t_lint_host_sockets

# ---- check: commands and exec entries on this host --------------------------
t_check_host() {
	local d=$T/chk
	mkdir -p "$d/bin" && cp /usr/bin/true "$d/bin/real" && ln -sf "$d/bin/real" "$d/bin/link" &&
		cp /usr/bin/true "$d/bin/plain" && chmod 644 "$d/bin/plain" || return 1
	policy_json "[\"/usr/bin/true\", \"$d/bin/link\"]" '["/usr"]' "" \
		"\"exec\": [\"$d/bin\", \"$d/bin/plain\", \"$d/missing\", \"/work/build\"]" >"$d/p.json"
	check 1 "" "$POLICY" check "$d/p.json" || return 1
	expect_stdout_has "policy.commands entry '$d/bin/link' is or passes through a symlink; write its real path '$d/bin/real' instead" || return 1
	expect_stdout_has "policy.exec entry '$d/bin/plain' is not executable" || return 1
	expect_stdout_has "policy.exec entry '$d/missing' does not exist on this host" || return 1
	expect_stdout_has "policy.exec '/work/build' is in the workspace: checked per lease" || return 1
	[ "$(grep -c '^  ! on this host' "$OUT")" -eq 3 ] || fail "expected 3 host findings: $(grep '^  !' "$OUT" | tr '\n' '|')" || return 1
	# --no-host: the file alone, valid
	check 0 "" "$POLICY" check "$d/p.json" --no-host
}
run_test check.host_commands_and_exec_entries t_check_host
t_explain_exec() {
	policy_json '["/usr/bin/make"]' '["/usr"]' "" '"exec": ["/usr/lib/gcc/x86_64-linux-gnu/12"]' >"$T/ex.json"
	check 0 "" "$POLICY" explain "$T/ex.json" --no-host || return 1
	expect_stdout_has "  execute    /usr/lib/gcc/x86_64-linux-gnu/12" || return 1
	expect_stdout_has "writable trees are mounted noexec unless an entry lies in"
}
run_test explain.says_what_exec_means t_explain_exec

# ---- diff -----------------------------------------------------------------
t_diff_golden() { # GOLDEN OLD NEW [ARGS]
	local g=$1 a=$2 b=$3
	shift 3
	check 3 "" "$POLICY" diff "tests/data/policies/$a.json" "tests/data/policies/$b.json" "$@" || return 1
	cmp -s "$OUT" "tests/data/golden/$g" ||
		fail "output differs from tests/data/golden/$g: $(diff "tests/data/golden/$g" "$OUT" | grep '^[<>]' | head -n 4 | tr '\n' '|')"
}
run_test diff.text_golden_widening_first t_diff_golden diff.txt diff-old diff-new
run_test diff.json_golden t_diff_golden diff.json diff-old diff-new --format json
run_test diff.reverse_swaps_widened_and_narrowed t_diff_golden diff-reverse.txt diff-new diff-old
t_diff_same() {
	check 0 "" "$POLICY" diff tests/data/policies/diff-old.json tests/data/policies/diff-old.json || return 1
	expect_stdout_has "no difference in what a lease can do"
}
run_test diff.identical_exit_0 t_diff_same
t_diff_narrow_only() {
	# only narrowing: exit 0 (nothing for the reviewer to weigh)
	sed 's/"pids": 512/"pids": 256/' tests/data/policies/diff-old.json >"$T/narrow.json"
	check 0 "" "$POLICY" diff tests/data/policies/diff-old.json "$T/narrow.json" || return 1
	expect_stdout_has "limits.max.pids            512 -> 256"
}
run_test diff.narrowing_only_exit_0 t_diff_narrow_only
t_diff_invalid() {
	printf '{"v":1}' >"$T/bad.json"
	check_one_line 1 E_POLICY "$POLICY" diff tests/data/policies/diff-old.json "$T/bad.json"
}
run_test diff.invalid_policy_one_line t_diff_invalid

# ---- SARIF ----------------------------------------------------------------
# Every corpus policy's SARIF output validates against the OASIS SARIF
# 2.1.0 schema (tests/data/sarif-schema-2.1.0.json, see tests/data/README.md)
# with Debian's python3-jsonschema; the checker is shown to fail on broken
# logs first, and SARIF carries the same findings as --format json.
SARIF_SCHEMA=tests/data/sarif-schema-2.1.0.json
sarif_check() { /usr/bin/python3 tests/tools/sarif_check.py "$SARIF_SCHEMA" "$@"; }
t_sarif_checker_can_fail() {
	sarif_check tests/data/sarif/good-minimal.sarif >"$OUT" 2>&1 || fail "good sample refused: $(cat "$OUT")" || return 1
	for f in tests/data/sarif/bad-*.sarif; do
		sarif_check "$f" >"$OUT" 2>&1
		[ $? -eq 1 ] || fail "$f not refused (exit 1): $(cat "$OUT")" || return 1
	done
}
if /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
	run_test sarif.checker_refuses_broken_logs t_sarif_checker_can_fail
else
	skip_test sarif.checker_refuses_broken_logs "python3-jsonschema missing (scripts/install-deps.sh installs it)"
fi
t_sarif_corpus() {
	local f n
	for f in tests/data/policies/lint/*.json; do
		n=$(basename "$f" .json)
		"$POLICY" lint --fail-on none --format sarif "$f" >"$T/$n.sarif" || fail "$n: lint failed" || return 1
		sarif_check "$T/$n.sarif" >"$OUT" 2>&1 || fail "$n: $(head -n 2 "$OUT" | tr '\n' '|')" || return 1
		# same findings, same places, as the JSON output (.expect)
		/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
for x in r["results"]:
    l = x["locations"][0]
    p = l["logicalLocations"][0]["fullyQualifiedName"]
    g = l["physicalLocation"]["region"]
    print(x["ruleId"], "-" if p == "/" else p, "%d:%d" % (g["startLine"], g["startColumn"]))' "$T/$n.sarif" >"$T/$n.sarif.txt"
		cmp -s "$T/$n.sarif.txt" "${f%.json}.expect" || fail "$n: SARIF results differ from ${f%.json}.expect" || return 1
	done
}
if /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
	run_test sarif.corpus_validates_against_schema t_sarif_corpus
else
	skip_test sarif.corpus_validates_against_schema "python3-jsonschema missing (scripts/install-deps.sh installs it)"
fi

summary
