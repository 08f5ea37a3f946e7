#!/usr/bin/env bash
# calyx-rollout over etcd: start publishes the signed rollout and its lease
# once; pause/resume/halt/rollback/approve publish signed control documents
# (seq = last + 1, one transaction); status verifies everything it reads.
# A private one-member etcd on loopback (ETCD_PORT 23730: clients 23731,
# peers 23831; never 2379/2380), removed at exit.
#
#   bash tests/integration/rollout_etcd.sh [BUILD_DIR]   (root)
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"
ETCD_PORT=${ROLLOUT_ETCD_PORT:-23730}
# shellcheck source=tests/integration/lib_etcd.sh
source "$(dirname "$0")/lib_etcd.sh"

RO=$B/calyx-rollout
[ -x "$RO" ] || { echo "rollout_etcd.sh: $RO missing (run 'make')" >&2; exit 2; }
POOL_PREFIX="ro$$/"

if ! etcd_have || ! command -v curl >/dev/null 2>&1; then
	skip_test rollout_etcd_all "etcd or curl is not installed (scripts/install-deps.sh installs them)"
	summary
	exit $?
fi
etcd_start 1
if ! etcd_wait_healthy 30; then
	echo "rollout_etcd.sh: the test's etcd did not come up: $(tail -n 3 "$T"/etcd/m1.log)" >&2
	exit 2
fi

# ---- fixture: an operator's config on this etcd, a signed rollout ---------
C=$T/op/etc/calyx.conf
W=$T/w
setup() {
	mkdir -p "$W" "$T/srv" && chmod 755 "$W" || fail "mkdir" || return 1
	policy_json '["/usr/bin/true"]' >"$T/ro.policy.json"
	mk_host op "$T/ro.policy.json" op-1 "\"pools\": [\"web\"], $(pool_ledger_cfg 2000)" || return 1
	HOST_ID=pool:web body_json '["/usr/bin/true"]' '"count": 20' >"$W/body.json"
	mk_lease op "$W/l.lease" "$W/body.json" || return 1
	seq -f 'web-%02g' 1 20 >"$W/hosts.txt"
	mk_rollout "$W/r.json" || return 1
	RID=$(sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$W/plan.out")
	[ -n "$RID" ] || fail "no rollout id in: $(head -n 1 "$W/plan.out")"
}
# mk_rollout OUT: plan (tiers 5,25,100: canary auto, 2 and 3 manual), signed by both
mk_rollout() {
	"$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,100 -o "$1" >"$W/plan.out" 2>"$ERR" &&
		"$RO" sign --key "$KEYS/alice.key" "$1" >/dev/null 2>"$ERR" &&
		"$RO" sign --key "$KEYS/bot.key" "$1" >/dev/null 2>"$ERR" ||
		fail "plan/sign: $(first_err)"
}
run_test fixture.config_lease_signed_rollout setup

b64() { printf '%s' "$1" | base64 -w0; }
# etcd_get KEY (under the prefix): the value, decoded, on stdout
etcd_get() {
	etcd_curl /v3/kv/range "{\"key\":\"$(b64 "$POOL_PREFIX$1")\"}" |
		sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d
}
# etcd_put KEY FILE: the file's bytes at KEY (under the prefix), by hand
etcd_put() {
	etcd_curl /v3/kv/put "{\"key\":\"$(b64 "$POOL_PREFIX$1")\",\"value\":\"$(base64 -w0 "$2")\"}" >/dev/null
}
state_is() { # WANT: status --json says so
	check 0 "" "$RO" status --config "$C" --json "$RID" || return 1
	expect_stdout_has "\"state\": \"$1\"" || return 1
}
ncontrols() { "$RO" status --config "$C" --json "$RID" 2>/dev/null | grep -c '"seq": '; }

# ---- start -----------------------------------------------------------------
t_start() {
	check 0 "" "$RO" start --config "$C" --lease "$W/l.lease" "$W/r.json" || return 1
	expect_stdout_has "started rollout $RID of lease" || return 1
	etcd_get "rollouts/$RID/rollout" >"$W/got.rollout"
	cmp -s "$W/got.rollout" "$W/r.json" || fail "etcd's rollout key is not the signed file's bytes" || return 1
	etcd_get "rollouts/$RID/lease" >"$W/got.lease"
	cmp -s "$W/got.lease" "$W/l.lease" || fail "etcd's lease key is not the lease file's bytes" || return 1
	state_is running || return 1
	expect_stdout_has '"approved_tiers": []' || return 1
	expect_stdout_has '"next_manual_tier": 2'
}
run_test start.publishes_rollout_and_lease t_start

t_start_twice() {
	check_one_line 1 E_ROLLOUT_STARTED "$RO" start --config "$C" --lease "$W/l.lease" "$W/r.json" || return 1
	grep -qF "rollout $RID was already started" "$ERR" || fail "message: $(first_err)"
}
run_test start.second_start_refused t_start_twice

t_start_unsigned() {
	"$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 50,100 -o "$W/half.json" >"$W/half.out" 2>"$ERR" &&
		"$RO" sign --key "$KEYS/alice.key" "$W/half.json" >/dev/null 2>"$ERR" || fail "plan: $(first_err)" || return 1
	local hid
	hid=$(sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$W/half.out")
	check_one_line 77 E_SIG_COUNT "$RO" start --config "$C" --lease "$W/l.lease" "$W/half.json" || return 1
	[ -z "$(etcd_get "rollouts/$hid/rollout")" ] || fail "a refused rollout was published"
}
run_test start.half_signed_refused_nothing_published t_start_unsigned

# ---- control documents -----------------------------------------------------
t_pause_resume() {
	# stopping is the safe direction: the agent key may pause
	check 0 "" "$RO" pause --config "$C" --key "$KEYS/bot.key" "$RID" || return 1
	expect_stdout_has "published control document seq 1: pause rollout $RID, signed by agent key 'bot'; rollout paused" || return 1
	state_is paused || return 1
	check_one_line 1 E_ROLLOUT_STATE "$RO" pause --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	# resume needs a human key
	check_one_line 1 E_CONTROL_ROLE "$RO" resume --config "$C" --key "$KEYS/bot.key" "$RID" || return 1
	check 0 "" "$RO" resume --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	state_is running || return 1
	check_one_line 1 E_ROLLOUT_STATE "$RO" resume --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	[ "$(ncontrols)" -eq 2 ] || fail "$(ncontrols) control documents, expected 2 (refusals published something)"
}
run_test control.pause_then_resume t_pause_resume

t_approve() {
	check_one_line 1 E_CONTROL_ROLE "$RO" approve --config "$C" --key "$KEYS/bot.key" --tier 2 "$RID" || return 1
	grep -qF "'approve' needs a human key; this one is signed by agent key 'bot'" "$ERR" || fail "message: $(first_err)" || return 1
	check_one_line 1 E_ROLLOUT_STATE "$RO" approve --config "$C" --key "$KEYS/alice.key" --tier 3 "$RID" || return 1
	check_one_line 1 E_CONTROL "$RO" approve --config "$C" --key "$KEYS/alice.key" --tier 1 "$RID" || return 1
	[ "$(ncontrols)" -eq 2 ] || fail "a refused approval was published" || return 1
	check 0 "" "$RO" approve --config "$C" --key "$KEYS/alice.key" --tier 2 "$RID" || return 1
	expect_stdout_has "seq 3: approve tier 2 ('tier-2')" || return 1
	state_is running || return 1
	expect_stdout_has '"approved_tiers": [' || return 1
	tr -d ' \n' <"$OUT" | grep -q '"approved_tiers":\[2\]' || fail "approved_tiers is not [2]" || return 1
	tr -d ' \n' <"$OUT" | grep -q '"signer":{"principal":"alice","role":"human"' || fail "no signer alice/human" || return 1
	check 0 "" "$RO" status --config "$C" "$RID" || return 1
	expect_stdout_has "rollout $RID: running" || return 1
	expect_stdout_has "tier 2 'tier-2'  4 hosts  approved" || return 1
	expect_stdout_has "tier 3 'tier-3'  15 hosts  awaiting approval" || return 1
	expect_stdout_has "approve tier 2   by human key 'alice'" || return 1
	# history keys hold each document
	[ -n "$(etcd_get "rollouts/$RID/control/0000000000000003")" ] || fail "no history key for seq 3" || return 1
	cmp -s <(etcd_get "rollouts/$RID/control") <(etcd_get "rollouts/$RID/control/0000000000000003") ||
		fail "the latest key is not seq 3's document"
}
run_test control.approve_tier_2_by_a_human_only t_approve

t_replay() {
	etcd_get "rollouts/$RID/control" >"$W/latest.json"
	etcd_get "rollouts/$RID/control/0000000000000001" >"$W/old.json"
	[ -s "$W/old.json" ] && [ -s "$W/latest.json" ] || fail "could not read the control documents" || return 1
	etcd_put "rollouts/$RID/control" "$W/old.json"
	check_one_line 77 E_CONTROL_SEQ "$RO" status --config "$C" --json "$RID" || return 1
	grep -qF "the latest control document in etcd (seq 1) is not the last of its history (seq 3)" "$ERR" ||
		fail "message: $(first_err)" || return 1
	[ ! -s "$OUT" ] || fail "status printed a state from a replayed record" || return 1
	# nothing is published over a record that does not verify
	check_one_line 77 E_CONTROL_SEQ "$RO" halt --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	# a forged history entry (a valid document at a seq it does not hold)
	etcd_put "rollouts/$RID/control" "$W/latest.json"
	state_is running || return 1
	etcd_put "rollouts/$RID/control/0000000000000004" "$W/old.json"
	check_one_line 77 E_CONTROL_SEQ "$RO" status --config "$C" "$RID" || return 1
	etcd_curl /v3/kv/deleterange "{\"key\":\"$(b64 "${POOL_PREFIX}rollouts/$RID/control/0000000000000004")\"}" >/dev/null
	state_is running || return 1
	# a key planted under control/ that is not a history entry
	etcd_put "rollouts/$RID/control/4" "$W/old.json"
	check_one_line 77 E_CONTROL_SEQ "$RO" status --config "$C" "$RID" || return 1
	etcd_curl /v3/kv/deleterange "{\"key\":\"$(b64 "${POOL_PREFIX}rollouts/$RID/control/4")\"}" >/dev/null
	# an oversized host report: that host's report is not trusted, the
	# rest of the record still reads (one host cannot spoil everyone's read)
	head -c 20000 /dev/urandom >"$W/big.bin"
	etcd_put "rollouts/$RID/hosts/web-01" "$W/big.bin"
	state_is running || return 1
	grep -q '"report_error": "its report in etcd is oversized or not base64"' "$OUT" ||
		fail "web-01's oversized report not flagged"
}
run_test status.replayed_control_document_detected t_replay

t_halt() {
	check 0 "" "$RO" halt --config "$C" --key "$KEYS/bot.key" "$RID" || return 1
	state_is halted || return 1
	check_one_line 1 E_ROLLOUT_STATE "$RO" approve --config "$C" --key "$KEYS/alice.key" --tier 3 "$RID" || return 1
	check_one_line 1 E_ROLLOUT_STATE "$RO" resume --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	check_one_line 1 E_CONTROL_ROLE "$RO" rollback --config "$C" --key "$KEYS/bot.key" "$RID" || return 1
	check 0 "" "$RO" rollback --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	state_is rolled_back || return 1
	check_one_line 1 E_ROLLOUT_STATE "$RO" pause --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	[ "$(ncontrols)" -eq 5 ] || fail "$(ncontrols) control documents, expected 5"
}
run_test control.halt_then_only_rollback t_halt

t_race() {
	local i n0
	mk_rollout "$W/race.json" || return 1
	local rid
	rid=$(sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$W/plan.out")
	"$RO" start --config "$C" --lease "$W/l.lease" "$W/race.json" >/dev/null 2>"$ERR" || fail "start: $(first_err)" || return 1
	mkdir -p "$W/race"
	local pids=()
	for i in 1 2 3 4 5 6; do
		("$RO" halt --config "$C" --key "$KEYS/alice.key" "$rid" >/dev/null 2>"$W/race/$i.err"; echo $? >"$W/race/$i.rc") &
		pids+=($!)
	done
	wait "${pids[@]}"
	n0=$(cat "$W"/race/*.rc | grep -cx 0)
	[ "$n0" -eq 1 ] || fail "$n0 halts published, expected exactly 1 (rcs: $(cat "$W"/race/*.rc | tr '\n' ' '))" || return 1
	[ "$(cat "$W"/race/*.rc | grep -cx 1)" -eq 5 ] || fail "the losers did not exit 1: $(cat "$W"/race/*.err | head -n 2)" || return 1
	"$RO" status --config "$C" --json "$rid" >"$W/race.status" 2>"$ERR" || fail "status: $(first_err)" || return 1
	[ "$(grep -c '"seq": ' "$W/race.status")" -eq 1 ] || fail "etcd holds $(grep -c '"seq": ' "$W/race.status") control documents"
}
run_test control.concurrent_operators_one_seq_each t_race

t_expired() {
	local eid
	"$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,100 --ttl 1 -o "$W/exp.json" >"$W/exp.out" 2>"$ERR" &&
		"$RO" sign --key "$KEYS/alice.key" "$W/exp.json" >/dev/null 2>"$ERR" &&
		"$RO" sign --key "$KEYS/bot.key" "$W/exp.json" >/dev/null 2>"$ERR" || fail "plan: $(first_err)" || return 1
	eid=$(sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$W/exp.out")
	sleep 2 # past not_after, within the 60 s clock skew start allows
	check 0 "" "$RO" start --config "$C" --lease "$W/l.lease" "$W/exp.json" || return 1
	check_one_line 1 E_EXPIRED "$RO" approve --config "$C" --key "$KEYS/alice.key" --tier 2 "$eid" || return 1
	check 0 "" "$RO" halt --config "$C" --key "$KEYS/alice.key" "$eid" || return 1
	check 0 "" "$RO" rollback --config "$C" --key "$KEYS/alice.key" "$eid"
}
run_test control.approve_past_the_window_refused_halt_allowed t_expired

# ---- fail closed -----------------------------------------------------------
t_etcd_down() {
	local n
	n=$(ncontrols)
	mk_rollout "$W/down.json" || return 1
	local did
	did=$(sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$W/plan.out")
	etcd_kill 1
	check_one_line 125 E_LEDGER_UNAVAILABLE "$RO" status --config "$C" "$RID" || return 1
	check_one_line 125 E_LEDGER_UNAVAILABLE "$RO" halt --config "$C" --key "$KEYS/alice.key" "$RID" || return 1
	check_one_line 125 E_LEDGER_UNAVAILABLE "$RO" start --config "$C" --lease "$W/l.lease" "$W/down.json" || return 1
	etcd_restart 1
	etcd_wait_healthy 30 || fail "etcd did not come back" || return 1
	[ "$(ncontrols)" -eq "$n" ] || fail "a control document was published while etcd was down" || return 1
	[ -z "$(etcd_get "rollouts/$did/rollout")" ] || fail "a rollout was published while etcd was down"
}
run_test etcd_down.exit_125_nothing_published t_etcd_down

summary
