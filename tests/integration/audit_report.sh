#!/usr/bin/env bash
# calyx-audit report: real runs on a host of their own (a run that writes
# into its workspace and commits; a run halted by its CPU quota and rolled
# back; a lease whose purpose and argv carry markup; a run id used by two
# leases), then reports of them in Markdown and HTML: the sections and the
# values they must show, escaping of hostile text, a tampered log (report
# still written, FAILED at the right line, exit 1), an unknown run id (one
# line, exit 1), usage errors (exit 2), and the HTML opened in headless
# Chromium (DOM dump, console/CSP errors, a screenshot kept in the output
# directory).
#
#   bash tests/integration/audit_report.sh [BUILD_DIR]   (default: build; root)
#
# Needs 'make tests' (the wsops workload). The reports and the screenshot
# are kept in ${CALYX_TEST_OUT:-BUILD_DIR/test-output}/audit_report.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

for _w in wsops oddexec; do
	[ -x "$B/workloads/$_w" ] || { echo "$LIB_PROG: $B/workloads/$_w missing (run 'make tests')" >&2; exit 2; }
done
# The workload lives outside $T (under /var/tmp, like workspace.sh) and is
# leased by its path there.
HB=$(mktemp -d /var/tmp/calyx-rep.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2
install -m 0755 "$B/workloads/oddexec" "$HB/oddexec" || exit 2
RUID=$((30000 + $$ % 10000))
while getent passwd "$RUID" >/dev/null; do RUID=$((RUID + 1)); done

OUTDIR=${CALYX_TEST_OUT:-$B/test-output}/audit_report
mkdir -p "$OUTDIR" && find "$OUTDIR" -maxdepth 1 -type f -delete || exit 2
echo "$LIB_PROG: reports and screenshot kept in $OUTDIR"

policy_json "[\"$HB/wsops\", \"$HB/oddexec\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" >"$T/rep.policy.json"
mk_host rep "$T/rep.policy.json" "" "\"run_uid\": $RUID, \"run_gid\": $RUID" ||
	{ echo "fixture: $WHY" >&2; exit 2; }
LOG=$T/rep/log/audit.jsonl
PUB=$T/rep/etc/host.pub.json
POLICY_SHA=$(sha256sum "$T/rep/etc/policy.json" | cut -d ' ' -f 1)

# rep_run NAME RUN_ID PURPOSE_JSON ARGS_JSON [EXTRA]: a lease running
# wsops ARGS on a fresh workspace $T/srv/NAME (a.txt), then the run.
# PURPOSE_JSON and ARGS_JSON are raw JSON (a string; array members).
rep_run() {
	local name=$1 run=$2 purpose=$3 args=$4 extra=${5:-}
	mkdir -p "$T/srv/$name" && printf 'alpha\n' >"$T/srv/$name/a.txt" &&
		chown -R "$RUID:$RUID" "$T/srv/$name" || return 1
	printf '{"run_id":"%s","audience":"%s","purpose":%s,"argv":["%s/wsops",%s],"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}%s}\n' \
		"$run" "$HOST_ID" "$purpose" "$HB" "$args" "$T/srv/$name" "$HB" "${extra:+,$extra}" \
		>"$T/$name.body" || return 1
	mk_lease rep "$T/$name.lease" "$T/$name.body" || return 1
	xrun cx rep --lease "$T/$name.lease" --result "$T/$name.result"
}

# report FORMAT ID [ARGS...]: calyx-audit report of the host's log; the
# report in $OUT (and kept in $OUTDIR/ID.FORMAT when it exits 0).
report() {
	local f=$1 id=$2; shift 2
	xrun "$AUDIT" report --host-pub "$PUB" --log "$LOG" --format "$f" "$@" "$id"
	[ "$RC" -ne 0 ] || cp "$OUT" "$OUTDIR/$id.$f"
}

has() { grep -qF -- "$1" "$OUT" || fail "report lacks '$1'"; }
lacks() { ! grep -qF -- "$1" "$OUT" || fail "report contains '$1'"; }

# --------------------------------------------------------------------------
# the runs
# --------------------------------------------------------------------------
t_run_ok() {
	rep_run ok rep-ok '"report test: commit"' '"write:new.txt:hello", "append:a.txt:more"' || return 1
	expect_rc 0 || return 1
	grep -q '"action": "committed"' "$T/ok.result" || fail "run did not commit"
}
t_run_halt() {
	rep_run halt rep-halt '"report test: cpu halt"' '"write:x.txt:1", "spin"' \
		'"limits":{"cpu_ms":200,"wall_ms":20000}' || return 1
	expect_rc 124 || return 1
	grep -q '"reason": "halted (cpu)"' "$T/halt.result" || fail "run did not roll back on a cpu halt"
}
# The purpose and an argument carry markup, a pipe, a newline and a bidi
# override; run ids are restricted to [A-Za-z0-9._:@-] by the verifier.
EVIL_PURPOSE='"<script>alert(1)</script> | x\ny \u202e end"'
t_run_evil() {
	rep_run evil rep-evil "$EVIL_PURPOSE" '"<img src=x onerror=alert(1)>"' || return 1
	case $RC in
	0 | 77 | 125) fail "exit $RC: the hostile lease should run and its workload fail (stderr: $(first_err))" ;;
	esac
}
# Control characters (calyx/esc.h): a literal backslash-x1b next to a real
# ESC cursor move, C1 CSI and NEL in the purpose; ESC and a bidi override
# in an argument.
CTRL_PURPOSE='"C:\\x1b is text, \u001b[6A is not; \u009b2J \u0085 end"'
t_run_ctrl() {
	rep_run ctrl rep-ctrl "$CTRL_PURPOSE" '"\u001b[2Jarg\u202e"' || return 1
	case $RC in
	0 | 77 | 125) fail "exit $RC: the lease should run and its workload fail (stderr: $(first_err))" ;;
	esac
}
# The committed run's lease presented again: refused, and part of its story.
t_run_replay() {
	check_one_line 77 E_REPLAY cx rep --lease "$T/ok.lease"
}
# A run id used again with a new lease.
t_run_again() {
	rep_run again rep-ok '"report test: same run id, new lease"' '"exit:3"' || return 1
	expect_rc 3
}
run_test report.fixture_run_commits        t_run_ok
run_test report.fixture_run_cpu_halt       t_run_halt
run_test report.fixture_run_replayed       t_run_replay
run_test report.fixture_run_hostile_lease  t_run_evil
run_test report.fixture_run_control_chars  t_run_ctrl
# A run that starts processes by names that are not UTF-8 or longer than
# the exec tracer's buffer (tests/workloads/oddexec): text values in the log.
t_run_names() {
	printf '{"run_id":"rep-names","audience":"%s","argv":["%s/oddexec"],"paths":{"ro":["/usr","%s"]}}\n' \
		"$HOST_ID" "$HB" "$HB" >"$T/names.body" || return 1
	mk_lease rep "$T/names.lease" "$T/names.body" || return 1
	xrun cx rep --lease "$T/names.lease" --result "$T/names.result"
	expect_rc 0
}
run_test report.fixture_run_id_reused      t_run_again
run_test report.fixture_run_odd_exec_names t_run_names
LID_OK=$(lease_id "$T/ok.lease")
LID_HALT=$(lease_id "$T/halt.lease")
LID_AGAIN=$(lease_id "$T/again.lease")

# --------------------------------------------------------------------------
# Markdown: sections and values
# --------------------------------------------------------------------------
t_md_ok() {
	report md "$LID_OK" || return 1
	expect_rc 0 || return 1
	local s
	for s in "# calyx run report: $LID_OK" "> Audit chain intact: all $(nlines "$LOG") events" \
		"### Summary" "### Lease" "### Layers in force" "### Processes" "### Usage vs limits" \
		"### Halt and failures" "### Workspace" "### Timeline"; do
		has "$s" || return 1
	done
	has "| run id | rep-ok |" || return 1
	has "| purpose | report test: commit |" || return 1
	has "| human | alice | $(sed -n 's/.*"keyid": *"\([0-9a-f]*\)".*/\1/p' "$KEYS/alice.pub.json") |" || return 1
	has "| agent | bot | $(sed -n 's/.*"keyid": *"\([0-9a-f]*\)".*/\1/p' "$KEYS/bot.pub.json") |" || return 1
	has "| policy sha256 (verified against) | $POLICY_SHA |" || return 1
	has "| lease sha256 (the envelope file) | $(sha256sum "$T/ok.lease" | cut -d ' ' -f 1) |" || return 1
	has "completed, exit 0; workspace committed" || return 1
	# the workload itself, started by fd and named by the lease's path
	has "| $HB/wsops (the leased command, executed by fd) |" || return 1
	has "\"$HB/wsops\" \"write:new.txt:hello\" \"append:a.txt:more\"" || return 1
	has "| outcome | committed: the run's changes were applied to the host tree |" || return 1
	has "| added | 1 |" && has "| modified | 1 |" && has "| deleted | 0 |" || return 1
	# the replay: the lease's second presentation, refused
	has "| presented | 2 times" && has "| event | lease.rejected |" && has "| reason | E\_REPLAY |" || return 1
	lacks "| event | run.halted |" && lacks "| event | resource.breach |" || return 1
	# the policy's defaults, in force ('_' escaped in Markdown)
	has "| limits in force (policy defaults filled in) | cpu\_ms=60000, memory\_bytes=268435456, pids=64, wall\_ms=120000," || return 1
	has "| cpu | " || return 1
	lacks "BREACHED" || return 1
	lacks "NOT VERIFIED"
}
t_md_halt() {
	report md rep-halt || return 1
	expect_rc 0 || return 1
	has "| run id | rep-halt |" || return 1
	has "halted \\[cpu\\]; workspace rolled back" || return 1
	grep -qE '^\| cpu \| [0-9]+ ms \| 200 ms \| [0-9.]+% \| BREACHED \|$' "$OUT" ||
		fail "no breached cpu row with limit 200 ms: $(grep '^| cpu |' "$OUT")" || return 1
	grep -qE '^\| wall \| [0-9]+ ms \| 20000 ms \| [0-9.]+% \| no \|$' "$OUT" || fail "wall row" || return 1
	has "| event | resource.breach |" && has "| quota | cpu |" || return 1
	has "| event | run.halted |" && has "| reason | cpu |" || return 1
	has "| outcome | rolled back: the run's changes were discarded, the host tree is unchanged |" || return 1
	has "| reason | halted (cpu) |" || return 1
	has "| $HB/wsops (the leased command, executed by fd) |" || return 1
	has "> Audit chain intact"
}
t_md_prefix() {
	report md "${LID_HALT:0:8}" || return 1
	expect_rc 0 || return 1
	has "## Lease 1 of 1: $LID_HALT (run rep-halt)"
}
t_md_reused() {
	report md rep-ok || return 1
	expect_rc 0 || return 1
	has "'rep-ok' matches 2 leases" || return 1
	has "## Lease 1 of 2: $LID_OK (run rep-ok)" && has "## Lease 2 of 2: $LID_AGAIN (run rep-ok)" || return 1
	[ "$(grep -n "^## Lease 1 of 2" "$OUT" | cut -d: -f1)" -lt "$(grep -n "^## Lease 2 of 2" "$OUT" | cut -d: -f1)" ] ||
		fail "leases not in log order" || return 1
	has "completed, exit 3; workspace rolled back"
}
run_test report.md_commit_values     t_md_ok
run_test report.md_cpu_halt_values   t_md_halt
run_test report.md_by_lease_prefix   t_md_prefix
run_test report.md_run_id_reused     t_md_reused

# --------------------------------------------------------------------------
# hostile text
# --------------------------------------------------------------------------
t_evil_md() {
	report md rep-evil || return 1
	expect_rc 0 || return 1
	has '| purpose | \<script\>alert(1)\</script\> \| x\\ny \\u{202e} end |' || return 1
	has '"\<img src=x onerror=alert(1)\>"' || return 1
	# every '<' from the lease is backslash-escaped
	! grep -qE '(^|[^\])<(script|img)' "$OUT" || fail "unescaped markup: $(grep -E '(^|[^\])<(script|img)' "$OUT" | head -n 1)" || return 1
	! grep -q $'\u202e' "$OUT" || fail "a raw bidi override reached the report"
}
t_evil_html() {
	report html rep-evil || return 1
	expect_rc 0 || return 1
	! grep -qi "<script" "$OUT" || fail "raw <script in the HTML" || return 1
	! grep -qi "<img" "$OUT" || fail "raw <img in the HTML" || return 1
	has "&lt;script&gt;alert(1)&lt;/script&gt; | x\\ny \\u{202e} end" || return 1
	has "&quot;&lt;img src=x onerror=alert(1)&gt;&quot;" || return 1
	has "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"" || return 1
	# tags are ours alone: none loads anything or carries a handler
	! grep -oE '<[^>]*>' "$OUT" | grep -qiE '[[:space:]](src|href|on[a-z]+|style)[[:space:]]*=|javascript:' ||
		fail "a tag loads something or has a handler: $(grep -oE '<[^>]*>' "$OUT" | grep -iE '[[:space:]](src|href|on[a-z]+|style)[[:space:]]*=|javascript:' | head -n 1)" || return 1
	! grep -qiE '@import|url\(' "$OUT" || fail "the style sheet fetches something"
}
run_test report.hostile_purpose_md_escaped    t_evil_md
run_test report.hostile_purpose_html_escaped  t_evil_html

# Control characters: shown by the rule every printer follows, so a
# literal "\x1b" (shown \\x1b) never passes for an ESC (shown \x1b); C1 as
# \u{HHHH}, never \xHH (which is a byte that is not UTF-8); argv stays JSON.
raw_bytes() { # FILE: lines with a byte a terminal obeys or a reader cannot see
	LC_ALL=C grep -naP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xa8-\xae]|\xe2\x81[\xa0-\xa9]|\xd8\x9c|\xef\xbb\xbf' "$1"
}
t_ctrl_md() {
	report md rep-ctrl || return 1
	expect_rc 0 || return 1
	! raw_bytes "$OUT" >/dev/null || fail "raw control byte: $(raw_bytes "$OUT" | head -n 1 | LC_ALL=C tr -c '\040-\176' '?')" || return 1
	has '| purpose | C:\\\\x1b is text, \\x1b\[6A is not; \\u{009b}2J \\u{0085} end |' || return 1
	has '"\\u001B\[2Jarg\\u202E"'
}
t_ctrl_html() {
	report html rep-ctrl || return 1
	expect_rc 0 || return 1
	! raw_bytes "$OUT" >/dev/null || fail "raw control byte: $(raw_bytes "$OUT" | head -n 1 | LC_ALL=C tr -c '\040-\176' '?')" || return 1
	has 'C:\\x1b is text, \x1b[6A is not; \u{009b}2J \u{0085} end' || return 1
	has '&quot;\u001B[2Jarg\u202E&quot;'
}
# calyx-audit show reads a log nobody verified: every string escaped, the
# details JSON with \u escapes (--json still passes the line through).
t_show_hostile() {
	local f=$T/hostile.jsonl line
	line='{"seq":1,"time":"2026-11-22T05:00:00Z","type":"exec.x\u001b[2J\u202e","lease_id":"ab\u009bcd","run_id":"r\u0085\u2066","details":{"k":"v\u009b\u202e\u007f"},"prev":"0","sig":"0"}'
	printf '%s\n' "$line" >"$f"
	xrun "$AUDIT" show "$f"
	expect_rc 0 || return 1
	! raw_bytes "$OUT" >/dev/null || fail "raw control byte: $(raw_bytes "$OUT" | head -n 1 | LC_ALL=C tr -c '\040-\176' '?')" || return 1
	expect_stdout_has 'exec.x\x1b[2J\u{202e}' && expect_stdout_has 'ab\u{009b}cd' &&
		expect_stdout_has 'r\u{0085}\u{2066}' && expect_stdout_has '{"k":"v\u009B\u202E\u007F"}' || return 1
	xrun "$AUDIT" show "$f" --json
	[ "$(cat "$OUT")" = "$line" ] || fail "show --json changed the line"
}
run_test report.control_chars_md_escaped     t_ctrl_md
run_test report.control_chars_html_escaped   t_ctrl_html
run_test audit_show.hostile_strings_escaped  t_show_hostile

# --------------------------------------------------------------------------
# text values (docs/audit-events.md): decoded by show and the reports
# --------------------------------------------------------------------------
# names_traced: the run had the BPF exec tracer (else: no exec.spawned).
names_traced() {
	grep -F '"run_id":"rep-names"' "$LOG" | grep -qF '"cpu_enforcer":"bpf"'
}
t_names_show() {
	xrun "$AUDIT" show "$LOG" --run rep-names --type exec.spawned
	expect_rc 0 || return 1
	[ "$(nlines "$OUT")" -eq 4 ] || fail "show printed $(nlines "$OUT") exec.spawned, expected 4" || return 1
	has '"filename":"/tmp/\\xff/../..' || return 1
	has '\\xff\\xfe not utf-8 [not UTF-8' || return 1
	has '"filename":"/tmp/x\u00E9\u00E9' || return 1
	has ' [cut at 126 of ' || return 1
	lacks '"b64"' || return 1
	! grep -qE ' \{\}$' "$OUT" || fail "an exec.spawned without its details: $(grep -E ' \{\}$' "$OUT" | head -n 1)"
}
t_names_html() {
	report html rep-names || return 1
	expect_rc 0 || return 1
	has '/tmp/\xff/../..' || return 1
	# argv elements are quoted as JSON strings: backslashes doubled
	has '&quot;\\xff\\xfe not utf-8 [not UTF-8: \\xNN is a byte, \\\\ a backslash]&quot;' || return 1
	has "… [cut at 126 of " || return 1
	has "… [cut at 128 of " || return 1   # argv_head of exec 2
	has "[argv cut: " || return 1          # argv of exec 3, listed: its args hold spaces
	lacks '&quot;b64&quot;'
}
if names_traced; then
	run_test report.show_decodes_text_values   t_names_show
	run_test report.html_decodes_text_values   t_names_html
else
	skip_test report.show_decodes_text_values "no BPF exec tracer on this host: no exec.spawned to decode"
	skip_test report.html_decodes_text_values "no BPF exec tracer on this host: no exec.spawned to decode"
fi

# --------------------------------------------------------------------------
# a tampered log; errors
# --------------------------------------------------------------------------
# The exec.started line of the committed run, one digit of its time changed.
# It is an unsigned line (a mac): the chain breaks at the line after it, and
# what the last checkpoint before it signed stays verified, nothing after.
t_tampered() {
	local k ck want bad=$T/tampered.jsonl
	k=$(grep -n '"type":"exec.started"' "$LOG" | grep "\"lease_id\":\"$LID_OK\"" | head -n 1 | cut -d: -f1)
	[ -n "$k" ] && [ "$k" -gt 1 ] && [ "$k" -lt "$(nlines "$LOG")" ] || fail "no middle exec.started line" || return 1
	awk -v k="$k" 'NR == k { i = index($0, "\"time\":\"") + 8; d = substr($0, i, 1);
		$0 = substr($0, 1, i - 1) (d == "2" ? "3" : "2") substr($0, i + 1) } { print }' "$LOG" >"$bad"
	[ "$(cmp "$LOG" "$bad" 2>&1 | grep -c differ)" -eq 1 ] || fail "tampering did not change one byte" || return 1
	xrun "$AUDIT" report --host-pub "$PUB" --log "$bad" -o "$OUTDIR/tampered.md" "$LID_OK"
	expect_rc 1 || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "stderr has $(nlines "$ERR") lines" || return 1
	grep -qE "^calyx-audit: error \[E_AUDIT\]: audit log: line $((k + 1)): .*\(the report was written and marks it\)$" "$ERR" ||
		fail "stderr: $(first_err)" || return 1
	[ ! -s "$OUT" ] || fail "stdout not empty with -o" || return 1
	cp "$OUTDIR/tampered.md" "$OUT"
	ck=$(awk -v k="$k" 'NR < k && /"type":"audit.checkpoint"/ { c = NR } END { print c + 0 }' "$LOG")
	has "> **AUDIT CHAIN FAILED at line $((k + 1)): prev does not match the hash of the line before" || return 1
	has "Events from line $((ck + 1)) on (after the last valid checkpoint before it) are not covered" || return 1
	if [ $((k - 1)) -le "$ck" ]; then want=verified; else want="NOT VERIFIED"; fi
	grep -qE "^\| [0-9]+ \| $((k - 1)) \| .* \| $want \|$" "$OUT" || fail "line $((k - 1)) not marked $want" || return 1
	grep -qE "^\| [0-9]+ \| $k \| .* \| exec.started \| .* \| NOT VERIFIED \|$" "$OUT" || fail "line $k not marked NOT VERIFIED"
}
# A forged line carrying markup in a field the verifier never vouched for.
t_tampered_html() {
	local bad=$T/forged.jsonl
	sed '2s/"time":"[^"]*"/"time":"<script>alert(2)<\/script>"/' "$LOG" >"$bad"
	xrun "$AUDIT" report --host-pub "$PUB" --log "$bad" --format html "$LID_OK"
	expect_rc 1 || return 1
	has '<p class="warn">AUDIT CHAIN FAILED at line 3' || return 1 # line 2 is unsigned: the next one breaks
	has "&lt;script&gt;alert(2)&lt;/script&gt;" || return 1
	! grep -qi "<script" "$OUT" || fail "raw <script in the HTML of a forged log"
}
t_unknown() {
	xrun "$AUDIT" report --host-pub "$PUB" --log "$LOG" no-such-run
	expect_rc 1 || return 1
	[ ! -s "$OUT" ] || fail "a report was written" || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "stderr has $(nlines "$ERR") lines" || return 1
	grep -qE "^calyx-audit: error \[E_USAGE\]: no event has run id or lease id 'no-such-run' \(the audit chain is intact" "$ERR" ||
		fail "stderr: $(first_err)"
}
t_usage() {
	check 2 "usage: report" "$AUDIT" report --host-pub "$PUB" rep-ok || return 1
	check 2 "--format is md or html" "$AUDIT" report --host-pub "$PUB" --log "$LOG" --format pdf rep-ok || return 1
	check 2 "usage: report" "$AUDIT" report --host-pub "$PUB" --config "$T/rep/etc/calyx.conf" rep-ok || return 1
	check 2 "usage: report" "$AUDIT" report --host-pub "$PUB" --log "$LOG"
}
t_config() {
	# the log and host key from the configuration (root only)
	xrun "$AUDIT" report --config "$T/rep/etc/calyx.conf" rep-halt
	expect_rc 0 || return 1
	has "halted \\[cpu\\]"
}
t_output_file() {
	rm -f "$T/out.html"
	xrun "$AUDIT" report --host-pub "$PUB" --log "$LOG" --format html -o "$T/out.html" rep-halt
	expect_rc 0 || return 1
	[ ! -s "$OUT" ] || fail "stdout not empty with -o" || return 1
	[ "$(stat -c %a "$T/out.html")" = 640 ] || fail "mode $(stat -c %a "$T/out.html"), expected 640" || return 1
	head -c 15 "$T/out.html" | grep -q '<!DOCTYPE html>' || fail "not an HTML file" || return 1
	ls "$T"/out.html.tmp-* >/dev/null 2>&1 && fail "temp file left behind"
	return 0
}
run_test report.tampered_log_failed_at_line    t_tampered
run_test report.forged_markup_html_escaped     t_tampered_html
# The log cut just before the checkpoint after the committed run's events:
# they are an unsigned tail (a writer killed before its sync). The report
# is written (exit 0), says so at the top and marks them NOT VERIFIED.
t_unsigned_tail() {
	local ck cut=$T/unsigned.jsonl
	ck=$(grep -n "\"lease_id\":\"$LID_OK\"" "$LOG" | tail -n 1 | cut -d: -f1)
	ck=$(awk -v k="$ck" 'NR > k && /"type":"audit.checkpoint"/ { print NR; exit }' "$LOG")
	[ -n "$ck" ] || fail "no checkpoint after the committed run" || return 1
	head -n $((ck - 1)) "$LOG" >"$cut"
	xrun "$AUDIT" report --host-pub "$PUB" --log "$cut" "$LID_OK"
	expect_rc 0 || return 1
	has "Audit chain intact, but its last " || return 1
	has "follow the last checkpoint: no host-key signature vouches for them yet" || return 1
	grep -qE "^\| [0-9]+ \| $((ck - 1)) \| .* \| NOT VERIFIED \|$" "$OUT" || fail "line $((ck - 1)) not marked NOT VERIFIED"
}
run_test report.unsigned_tail_marked_not_verified t_unsigned_tail
run_test report.unknown_run_one_line           t_unknown
run_test report.usage_errors                   t_usage
run_test report.config_gives_log_and_key       t_config
run_test report.output_file_atomic             t_output_file

# --------------------------------------------------------------------------
# the HTML in headless Chromium
# --------------------------------------------------------------------------
HTML=$OUTDIR/rep-halt.html
# (chromium_run and console_errors: lib.sh)
# The check above must see a CSP violation: a copy of the report with an
# inline script and an external image has to be flagged.
t_chromium_detects() {
	sed 's|</body>|<script>document.title="x"</script><img src="http://calyx.invalid/x.png"></body>|' \
		"$HTML" >"$T/csp-control.html" || return 1
	chromium_run "$T/csp-control.html" --dump-dom
	expect_rc 0 || return 1
	console_errors >/dev/null ||
		fail "no console/CSP message for a page that breaks its CSP: this Chromium logs them differently, the checks below would see nothing"
}
t_chromium_dom() {
	report html rep-halt || return 1
	expect_rc 0 || return 1
	chromium_run "$HTML" --dump-dom
	expect_rc 0 || return 1
	has "<title>calyx run report: rep-halt</title>" || return 1
	has "<svg" || return 1
	has "BREACHED" || return 1
	! console_errors >/dev/null || fail "console/CSP errors: $(console_errors | head -n 2 | tr '\n' '|')"
}
t_chromium_screenshot() {
	rm -f "$OUTDIR/report.png"
	chromium_run "$HTML" --window-size=1200,1600 --screenshot="$OUTDIR/report.png"
	expect_rc 0 || return 1
	[ -f "$OUTDIR/report.png" ] || fail "no screenshot" || return 1
	[ "$(head -c 8 "$OUTDIR/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
		fail "report.png is not a PNG" || return 1
	[ "$(stat -c %s "$OUTDIR/report.png")" -gt 20000 ] ||
		fail "report.png is only $(stat -c %s "$OUTDIR/report.png") bytes" || return 1
	! console_errors >/dev/null || fail "console/CSP errors: $(console_errors | head -n 2 | tr '\n' '|')" || return 1
	echo "    screenshot: $OUTDIR/report.png"
}
if command -v chromium >/dev/null 2>&1; then
	run_test report.html_in_chromium_dom         t_chromium_dom
	run_test report.chromium_sees_csp_violations t_chromium_detects
	run_test report.html_in_chromium_screenshot  t_chromium_screenshot
else
	skip_test report.html_in_chromium_dom        "chromium not installed (scripts/install-deps.sh installs it)"
	skip_test report.chromium_sees_csp_violations "chromium not installed (scripts/install-deps.sh installs it)"
	skip_test report.html_in_chromium_screenshot "chromium not installed (scripts/install-deps.sh installs it)"
fi

# The log and the host's public key next to the reports, to look at or to
# rerun a report by hand (e.g. under ASan).
cp "$LOG" "$OUTDIR/audit.jsonl" && cp "$PUB" "$OUTDIR/host.pub.json" && cp "$T/tampered.jsonl" "$OUTDIR/"

summary
