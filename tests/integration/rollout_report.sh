#!/usr/bin/env bash
# calyx-rollout report's page in a browser: the fixture views
# (tests/fixtures/rollout-view-*.json) rendered to HTML by the unit test
# binary (build/tests/test_rollout_report with CX_REPORT_OUT), each page
# opened in headless Chromium (DOM dump: the banner and no script; no
# console or CSP error; a screenshot kept in the output directory), and an
# automated accessibility check, axe-core's WCAG 2.0/2.1 A and AA rules,
# run in the same Chromium through playwright-core
# (tests/integration/rollout_report_axe.js). Each check is first shown to
# see what it must see (a page that breaks the CSP; a page with known
# accessibility faults).
#
#   bash tests/integration/rollout_report.sh [BUILD_DIR]   (default: build; root)
#
# Chromium is Debian's (/usr/bin/chromium, scripts/install-deps.sh). axe-core
# and playwright-core are not in Debian: they are looked for in $CX_AXE_DIR
# (default /work/.cache/npm-axe: `npm i axe-core playwright-core` there) or
# axe.min.js at $CX_AXE_JS; without them, or without node, the axe checks
# skip visibly. Pages and screenshots are kept in
# ${CALYX_TEST_OUT:-BUILD_DIR/test-output}/rollout_report.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"
cd "$(dirname "$0")/../.." || exit 2

UNIT=$B/tests/test_rollout_report
[ -x "$UNIT" ] || { echo "$LIB_PROG: $UNIT missing (run 'make tests')" >&2; exit 2; }
OUTDIR=${CALYX_TEST_OUT:-$B/test-output}/rollout_report
mkdir -p "$OUTDIR" && find "$OUTDIR" -maxdepth 1 -type f -delete || exit 2
echo "$LIB_PROG: pages and screenshots kept in $OUTDIR"
NAMES="awaiting halted rolledback completed hostile"

has() { grep -qF -- "$1" "$OUT" || fail "page lacks '$1'"; }

t_render() {
	CX_REPORT_OUT=$OUTDIR xrun "$UNIT"
	expect_rc 0 || return 1
	local n
	for n in $NAMES; do
		[ -s "$OUTDIR/rollout-view-$n.html" ] || fail "no page for $n" || return 1
	done
}
run_test rollout_report.fixtures_rendered t_render

# ---- Chromium ------------------------------------------------------------
# The check must see a CSP violation: a copy of a page with an inline
# script and an external image has to be flagged.
t_chromium_detects() {
	sed 's|</body>|<script>document.title="x"</script><img src="http://calyx.invalid/x.png" alt="x"></body>|' \
		"$OUTDIR/rollout-view-halted.html" >"$T/csp-control.html" || return 1
	chromium_run "$T/csp-control.html" --dump-dom
	expect_rc 0 || return 1
	console_errors >/dev/null ||
		fail "no console/CSP message for a page that breaks its CSP: this Chromium logs them differently, the checks below would see nothing"
}
# t_chromium NAME BANNER: the page's DOM as Chromium built it, then a screenshot.
t_chromium() {
	local n=$1 banner=$2 f=$OUTDIR/rollout-view-$1.html png=$OUTDIR/rollout-view-$1.png
	chromium_run "$f" --dump-dom
	expect_rc 0 || return 1
	has "<html lang=\"en\">" || return 1
	has "<p class=\"mode\">$banner</p>" || return 1
	has "Why not shipped" || return 1
	! grep -qi "<script" "$OUT" || fail "a script element in the DOM" || return 1
	! console_errors >/dev/null || fail "console/CSP errors: $(console_errors | head -n 2 | tr '\n' '|')" || return 1
	rm -f "$png"
	chromium_run "$f" --window-size=1280,2200 --screenshot="$png"
	expect_rc 0 || return 1
	[ "$(head -c 8 "$png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
		fail "no PNG screenshot for $n" || return 1
	! console_errors >/dev/null || fail "console/CSP errors: $(console_errors | head -n 2 | tr '\n' '|')" || return 1
	echo "    screenshot: $png"
}
if command -v chromium >/dev/null 2>&1; then
	run_test rollout_report.chromium_sees_csp_violations t_chromium_detects
	run_test rollout_report.chromium_awaiting   t_chromium awaiting "Mode: Awaiting approval"
	run_test rollout_report.chromium_halted     t_chromium halted "Mode: Halted"
	run_test rollout_report.chromium_rolledback t_chromium rolledback "Mode: Rolled back"
	run_test rollout_report.chromium_completed  t_chromium completed "Mode: Completed"
	run_test rollout_report.chromium_hostile    t_chromium hostile \
		"Mode: unknown (halted\\x1b]0;pwn\\x07)"
else
	for n in sees_csp_violations awaiting halted rolledback completed hostile; do
		skip_test "rollout_report.chromium_$n" "chromium not installed (scripts/install-deps.sh installs it)"
	done
fi

# ---- axe-core --------------------------------------------------------------
# The check must see faults: a copy of a page without a language, with
# text of too little contrast and a table header cell left empty.
t_axe_detects() {
	sed -e 's|<html lang="en">|<html>|' \
		-e 's|</body>|<p style="color:#bbbbbb">faint</p><table><tr><th></th></tr><tr><td>x</td></tr></table></body>|' \
		"$OUTDIR/rollout-view-halted.html" >"$T/axe-control.html" || return 1
	axe_run "$T/axe-control.html"
	expect_rc 1 || { cat "$OUT" "$ERR"; return 1; }
	has "html-has-lang" || return 1
	has "color-contrast" || return 1
}
t_axe() {
	local n files=()
	for n in $NAMES; do files+=("$OUTDIR/rollout-view-$n.html"); done
	axe_run "${files[@]}"
	sed 's/^/    /' "$OUT"
	[ "$RC" -ne 2 ] || fail "the axe check did not run: $(first_err)" || return 1
	expect_rc 0 || fail "WCAG 2.1 AA violations (listed above)"
}
if [ -z "$AXE_SKIP" ]; then
	run_test rollout_report.axe_sees_violations t_axe_detects
	run_test rollout_report.axe_wcag21aa        t_axe
else
	skip_test rollout_report.axe_sees_violations "$AXE_SKIP"
	skip_test rollout_report.axe_wcag21aa        "$AXE_SKIP"
fi

summary
