#!/usr/bin/env bash
# The adversarial corpus: real attacks on calyx-exec, one case per file.
#
#   bash tests/adversarial/run.sh [BUILD_DIR]        run it (root; after 'make tests')
#   bash tests/adversarial/run.sh --list             list the corpus, run nothing
#   ADV_ONLY="case1 case2" bash tests/adversarial/run.sh build    a subset
#   ADV_DEBUG=1 ...                                  show each run's stdout/stderr
#
# Each case is tests/adversarial/cases/NAME.case, a bash fragment this
# runner sources. It sets
#   CASE_NAME     NAME (the file's name)
#   CASE_CLASS    the attack class, short ("resource bomb: fork")
#   CASE_REF      the incident or CVE class it stands for ("CVE-2024-21626",
#                 "CWE-400")
#   CASE_ATTEMPT  one line: what it tries
#   CASE_EXPECT   the secure outcome, one word of the vocabulary below (or
#                 several joined by '|' when either is secure)
# optionally
#   CASE_EXPECT_DETAIL  a few words more ("77 E_POLICY_ENV")
#   CASE_NEEDS    commands the case needs; missing ones skip it, visibly
#   CASE_LAST=1   run after every other case (host-wide checks)
#   CASE_BUG      a calyx bug this case currently finds (reported, not
#                 fixed here): the case still expects the secure outcome
#                 and fails until the bug is fixed; the table says so
# and defines case_run, which attacks through the helpers of lib_adv.sh
# (fixtures: a policy listing every probe and workload, hosts adv, advlo,
# advu, advst; signing, running, parsing probe reports, host-side checks),
# sets OUTCOME to what it observed and OBS to the details, and returns
# non-zero (WHY set by fail) when the outcome is not the secure one.
#
# Outcome vocabulary (expected and observed):
#   DENIED      the attack ran inside the sandbox and every attempt failed
#               (a probe's PROBE lines: DENIED, none ESCAPED)
#   REFUSED     calyx-exec refused before the command ran: the documented
#               exit code and reason code, one line on stderr
#   HALTED      the monitor stopped the whole tree on a quota or an
#               operator halt (exit 124, halt reason in the result),
#               nothing left behind
#   KILLED      the kernel killed the offending process (seccomp SIGSYS)
#   CONTAINED   the run went ahead, but what it did stayed inside its view
#               and its limits (the host-side checks say so)
#   UNAFFECTED  the supervisor, the host or the records carried on as if
#               the attack had not happened
# observed only:
#   ESCAPED     a boundary was crossed (a probe got through; the host, the
#               ledger or the audit log changed in a way the run chose)
#   CRASHED     calyx-exec itself died or hung (a record lost, cleanup
#               left to the next start): a bug, not an escape
#   ERROR       neither: an unexpected exit, a probe error, a harness error
#   SKIPPED     this host lacks what the case needs (the reason is shown)
#
# A new case, e.g. cases/my_attack.case (a probe of probes/*.c is built
# into $BUILD/probes by 'make tests' and must be added to ADV_PROBES in
# lib_adv.sh, which copies it where leases can name it):
#   # shellcheck shell=bash disable=SC2034,SC2015
#   # Why this attack matters, what stops it.
#   CASE_NAME=my_attack
#   CASE_CLASS="..." CASE_REF="CWE-..." CASE_ATTEMPT="..." CASE_EXPECT=DENIED
#   case_run() {
#   	local ws l
#   	ws=$(mkws my_attack) && l=$(lease adv "$(body "[\"$P/my_probe\"]" "$ws")") || return 1
#   	run_lease adv "$l"
#   	expect_denied
#   }
#
# Output: cmocka-style lines per case (tests/run-all.sh greps the
# summary), a table "case | class | expected | observed", the one-line
# total "adversarial: N/M as expected (E escaped, U unexpected) in S s",
# and $BUILD/gates/adversarial.json for 'make gates' ($ADV_OUT when set).
# Exit status non-zero on any unexpected outcome (an escape included).
#
# Installed layout (make install: $(DATADIR)/calyx/selftest/, run by
# 'calyx-ctl selftest', which sets these): BUILD_DIR is then the directory
# of the installed calyx binaries, and
#   ADV_PROBE_DIR     the probes (default BUILD_DIR/probes)
#   ADV_WORKLOAD_DIR  the workloads (default BUILD_DIR/workloads)
#   ADV_OUT           the JSON report (default BUILD_DIR/gates/adversarial.json)
#   ADV_HOST_MEMBERS  raw calyx.conf members every fixture host also gets
#                     (this host's settings that shape the sandbox, e.g.
#                     "bpf_pin_dir": "/sys/fs/bpf/calyx"; lib.sh's mk_host)
#   ADV_RUN_UID_RANGE "FIRST COUNT": the host's run uid range; the fixture
#                     host advu then runs as a free uid inside it
# The harness lib.sh sits beside run.sh there, instead of in
# ../integration/.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CASES_DIR=$HERE/cases
VOCAB="DENIED REFUSED HALTED KILLED CONTAINED UNAFFECTED"

# case_reset: forget the previous case's fields and function.
# shellcheck disable=SC2034  # CASE_LAST is read by case_files' grep
case_reset() {
	unset -f case_run
	CASE_NAME="" CASE_CLASS="" CASE_REF="" CASE_ATTEMPT="" CASE_EXPECT=""
	CASE_EXPECT_DETAIL="" CASE_NEEDS="" CASE_LAST="" CASE_BUG=""
}

# case_check FILE: the fields of the case just sourced are complete and
# valid; prints what is wrong.
case_check() {
	local f=$1 w bad=""
	[ "$CASE_NAME" = "$(basename "$f" .case)" ] || bad+="CASE_NAME '$CASE_NAME' is not the file's name; "
	[ -n "$CASE_CLASS" ] || bad+="no CASE_CLASS; "
	[ -n "$CASE_REF" ] || bad+="no CASE_REF; "
	[ -n "$CASE_ATTEMPT" ] || bad+="no CASE_ATTEMPT; "
	[ -n "$CASE_EXPECT" ] || bad+="no CASE_EXPECT; "
	for w in ${CASE_EXPECT//|/ }; do
		[[ " $VOCAB " == *" $w "* ]] || bad+="CASE_EXPECT '$w' is not one of: $VOCAB; "
	done
	declare -F case_run >/dev/null || bad+="no case_run function; "
	printf '%s' "${bad%; }"
}

# The case files, CASE_LAST ones at the end (decided by a grep, before any
# is sourced).
case_files() {
	local f
	for f in "$CASES_DIR"/*.case; do
		[ -f "$f" ] || continue
		grep -q '^CASE_LAST=1' "$f" || echo "$f"
	done
	for f in "$CASES_DIR"/*.case; do
		[ -f "$f" ] || continue
		! grep -q '^CASE_LAST=1' "$f" || echo "$f"
	done
}

if [ "${1:-}" = --list ]; then
	while read -r f; do
		case_reset
		# shellcheck source=/dev/null
		source "$f"
		why=$(case_check "$f")
		printf '%-22s %-10s %s\n' "$CASE_NAME" "$CASE_EXPECT" "$CASE_CLASS"
		printf '%-22s ref:     %s\n' "" "$CASE_REF"
		printf '%-22s attempt: %s\n' "" "$CASE_ATTEMPT"
		[ -z "$CASE_BUG" ] || printf '%-22s BUG:     %s\n' "" "$CASE_BUG"
		[ -z "$why" ] || printf '%-22s INVALID: %s\n' "" "$why"
	done < <(case_files)
	exit 0
fi

if [ -f "$HERE/lib.sh" ]; then
	# shellcheck source=tests/integration/lib.sh
	source "$HERE/lib.sh" "${1:-build}"
else
	# shellcheck source=tests/integration/lib.sh
	source "$HERE/../integration/lib.sh" "${1:-build}"
fi
ADV_OUT=${ADV_OUT:-$B/gates/adversarial.json}
# shellcheck source=tests/adversarial/lib_adv.sh
source "$HERE/lib_adv.sh"

SUITE_T0=$(date +%s%N)
adv_fixtures

# skip_because REASON: in case_run, then 'return 0': this host cannot run
# the case.
skip_because() { OUTCOME=SKIPPED OBS=$1; }

ROW_NAME=() ROW_CLASS=() ROW_REF=() ROW_ATTEMPT=() ROW_EXP=() ROW_OBS=() ROW_MARK=() ROW_BUG=()
N_OK=0 N_ESC=0 N_BAD=0 N_SKIP=0

# run_case FILE: source, check, run and judge one case; add its row.
run_case() {
	local _f=$1 _why _rc _t0 _ms _mark=" " _c _missing="" _obs
	case_reset
	# shellcheck source=/dev/null
	if ! source "$_f"; then
		CASE_NAME=$(basename "$_f" .case)
		_why="cannot be sourced"
	else
		_why=$(case_check "$_f")
	fi
	if [ -n "${ADV_ONLY:-}" ] && [[ " $ADV_ONLY " != *" ${CASE_NAME:-?} "* ]]; then
		return 0
	fi
	OUTCOME="" OBS="" WHY=""
	printf '[ RUN      ] %s\n' "$CASE_NAME"
	for _c in $CASE_NEEDS; do
		command -v "$_c" >/dev/null 2>&1 || _missing+=" $_c"
	done
	_t0=$(date +%s%N)
	if [ -n "$_why" ]; then
		_rc=1 OUTCOME=ERROR OBS="invalid case file: $_why" WHY=$OBS
	elif [ -n "$_missing" ]; then
		_rc=0 OUTCOME=SKIPPED OBS="missing:$_missing"
	else
		case_run
		_rc=$?
	fi
	_ms=$((($(date +%s%N) - _t0) / 1000000))
	if [ "$OUTCOME" = SKIPPED ]; then
		NSKIP=$((NSKIP + 1)) N_SKIP=$((N_SKIP + 1)) _mark="s"
		printf '[  SKIPPED ] %s: %s\n' "$CASE_NAME" "$OBS"
	else
		NRUN=$((NRUN + 1))
		if [ "$_rc" -eq 0 ] && [ -n "$OUTCOME" ] && [[ "|$CASE_EXPECT|" == *"|$OUTCOME|"* ]]; then
			N_OK=$((N_OK + 1))
			printf '[       OK ] %s (%d.%01d s)\n' "$CASE_NAME" $((_ms / 1000)) $((_ms % 1000 / 100))
			[ -z "$CASE_BUG" ] || printf '      note: CASE_BUG is set but the case now passes (remove CASE_BUG): %s\n' "$CASE_BUG"
		else
			if [ "$_rc" -eq 0 ]; then
				WHY="observed ${OUTCOME:-nothing}, expected $CASE_EXPECT"
			elif [ -z "$OUTCOME" ] || [[ "|$CASE_EXPECT|" == *"|$OUTCOME|"* ]]; then
				OUTCOME=ERROR   # failed after a check that passed: not what was expected
			fi
			[ "$OUTCOME" != ESCAPED ] || N_ESC=$((N_ESC + 1))
			N_BAD=$((N_BAD + 1)) _mark="!"
			NFAIL=$((NFAIL + 1))
			FAILED_NAMES+=("$CASE_NAME")
			printf '[  FAILED  ] %s: %s\n' "$CASE_NAME" "${WHY:-case_run returned $_rc}"
			[ -z "$CASE_BUG" ] || printf '      known calyx bug (reported): %s\n' "$CASE_BUG"
		fi
	fi
	if [ -n "${ADV_DEBUG:-}" ]; then
		sed 's/^/      out: /' "$OUT" | head -n 60
		sed 's/^/      err: /' "$ERR" | head -n 10
	fi
	_obs=$OUTCOME
	[ -z "$OBS" ] || _obs+=": $OBS"
	[ -z "$CASE_BUG" ] || [ "$_mark" != "!" ] || _obs+=" [BUG]"
	ROW_NAME+=("$CASE_NAME") ROW_CLASS+=("$CASE_CLASS") ROW_REF+=("$CASE_REF") ROW_ATTEMPT+=("$CASE_ATTEMPT")
	ROW_EXP+=("$CASE_EXPECT${CASE_EXPECT_DETAIL:+ ($CASE_EXPECT_DETAIL)}") ROW_OBS+=("$_obs")
	ROW_MARK+=("$_mark") ROW_BUG+=("$CASE_BUG")
}

while read -r f; do
	run_case "$f"
done < <(case_files)
case_reset

# --------------------------------------------------------------------------
# table, total, gate file
# --------------------------------------------------------------------------
SECS=$((($(date +%s%N) - SUITE_T0) / 1000000000))
TOTAL=${#ROW_NAME[@]}
w1=4 w2=5 w3=8
for i in "${!ROW_NAME[@]}"; do
	[ "${#ROW_NAME[$i]}" -le "$w1" ] || w1=${#ROW_NAME[$i]}
	[ "${#ROW_CLASS[$i]}" -le "$w2" ] || w2=${#ROW_CLASS[$i]}
	[ "${#ROW_EXP[$i]}" -le "$w3" ] || w3=${#ROW_EXP[$i]}
done
echo
printf '  %-*s | %-*s | %-*s | %s\n' "$w1" case "$w2" class "$w3" expected observed
printf '  %s\n' "$(printf '%*s' $((w1 + w2 + w3 + 9 + 50)) '' | tr ' ' -)"
for i in "${!ROW_NAME[@]}"; do
	printf '%s %-*s | %-*s | %-*s | %s\n' "${ROW_MARK[$i]}" "$w1" "${ROW_NAME[$i]}" "$w2" "${ROW_CLASS[$i]}" \
		"$w3" "${ROW_EXP[$i]}" "${ROW_OBS[$i]:0:150}"
done
echo "  ('!' unexpected, 's' skipped; references and attempts: run.sh --list, or $ADV_OUT)"
echo
SKIPTXT=""
[ "$N_SKIP" -eq 0 ] || SKIPTXT=", $N_SKIP skipped"
echo "adversarial: $N_OK/$TOTAL as expected$SKIPTXT ($N_ESC escaped, $N_BAD unexpected) in $SECS s"

mkdir -p "$(dirname "$ADV_OUT")"
{
	ok=true
	[ "$N_BAD" -eq 0 ] || ok=false
	printf '{"gate":"adversarial","ok":%s,"passed":%d,"total":%d,"escaped":%d,"unexpected":%d,"skipped":%d,"seconds":%d,\n' \
		"$ok" "$N_OK" "$TOTAL" "$N_ESC" "$N_BAD" "$N_SKIP" "$SECS"
	printf ' "summary":%s,\n "cases":[' "$(json_str "$N_OK/$TOTAL cases as expected$SKIPTXT, $N_ESC escaped")"
	for i in "${!ROW_NAME[@]}"; do
		[ "$i" -eq 0 ] || printf ','
		printf '\n  {"name":%s,"class":%s,"ref":%s,"attempt":%s,"expected":%s,"observed":%s,"as_expected":%s' \
			"$(json_str "${ROW_NAME[$i]}")" "$(json_str "${ROW_CLASS[$i]}")" "$(json_str "${ROW_REF[$i]}")" \
			"$(json_str "${ROW_ATTEMPT[$i]}")" "$(json_str "${ROW_EXP[$i]}")" "$(json_str "${ROW_OBS[$i]}")" \
			"$([ "${ROW_MARK[$i]}" = "!" ] && echo false || echo true)"
		[ "${ROW_MARK[$i]}" != s ] || printf ',"skipped":true'
		[ -z "${ROW_BUG[$i]}" ] || printf ',"known_bug":%s' "$(json_str "${ROW_BUG[$i]}")"
		printf '}'
	done
	printf '\n]}\n'
} >"$ADV_OUT.tmp" && mv "$ADV_OUT.tmp" "$ADV_OUT"

summary
