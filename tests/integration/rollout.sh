#!/usr/bin/env bash
# calyx-rollout end to end, offline (no etcd): plan, review, sign, verify a
# rollout of a pool lease over 20 hosts, and write and verify its control
# documents; the refusals a deployer or signer can hit, each one line with
# its reason and exit code.
#
#   bash tests/integration/rollout.sh [BUILD_DIR]
set -u
source "$(dirname "$0")/lib.sh" "${1:-build}"

RO=$B/calyx-rollout
[ -x "$RO" ] || { echo "rollout.sh: $RO missing (run 'make')" >&2; exit 2; }

# ---- fixture: keyring (alice human, bot agent), a policy, a pool lease ----
W=$T/ro
mkdir -p "$W/etc" && chmod 755 "$W" "$W/etc"
KR=$W/etc/keyring.json
setup() {
	lib_keys || return 1
	"$LEASE" keyring add "$KR" "$KEYS/alice.pub.json" >/dev/null 2>"$ERR" &&
		"$LEASE" keyring add "$KR" "$KEYS/bot.pub.json" >/dev/null 2>>"$ERR" ||
		fail "keyring add: $(first_err)" || return 1
	chmod 644 "$KR"
	policy_json '["/usr/bin/true"]' >"$W/etc/policy.json"
	# argv[1] holds ESC [2J (clear screen): the review must show it escaped
	printf '{"run_id":"ro-run","audience":"pool:web","count":20,"argv":["/usr/bin/true","\\u001b[2Jx"],"paths":{"ro":["/usr"]}}\n' >"$W/body.json"
	"$LEASE" new "$W/body.json" -o "$W/l.lease" --policy "$W/etc/policy.json" --ttl 1800 >/dev/null 2>"$ERR" ||
		fail "calyx-lease new: $(first_err)" || return 1
	"$LEASE" sign --key "$KEYS/alice.key" "$W/l.lease" >/dev/null 2>"$ERR" &&
		"$LEASE" sign --key "$KEYS/bot.key" "$W/l.lease" >/dev/null 2>"$ERR" ||
		fail "calyx-lease sign: $(first_err)" || return 1
	seq -f 'web-%02g' 1 20 >"$W/hosts.txt"
}
run_test fixture.keys_policy_pool_lease setup

no_raw_esc() { # FILE: the escape byte never reaches a terminal
	! grep -q $'\e' "$1" || fail "$1 holds a raw ESC byte"
}

# The payload of an envelope, decoded / an envelope around new payload
# bytes with no signatures (to hand-craft documents the tools never write).
payload_of() { sed -n 's/^  "payload": "\(.*\)",$/\1/p' "$1" | base64 -d; }
envelope_of() { # TYPE PAYLOAD_FILE
	printf '{"payloadType": "%s", "payload": "%s", "signatures": []}\n' "$1" "$(base64 -w0 "$2")"
}

# ---- plan ------------------------------------------------------------------
t_dry_run() {
	local before after
	before=$(cd "$W" && ls -la)
	check 0 "" "$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,100 --dry-run || return 1
	after=$(cd "$W" && ls -la)
	[ "$before" = "$after" ] || fail "--dry-run changed $W" || return 1
	expect_stdout_has "DRY RUN: nothing written" || return 1
	expect_stdout_has "tier 1 'canary'  1 host, 1 of 20 in all (5 %)" || return 1
	expect_stdout_has "tier 2 'tier-2'  4 hosts, 5 of 20 in all (25 %)" || return 1
	expect_stdout_has "tier 3 'tier-3'  15 hosts, 20 of 20 in all (100 %)" || return 1
	# hosts in the order listed: the first is the canary
	grep -A3 "tier 1 'canary'" "$OUT" | grep -q 'hosts  web-01$' || fail "web-01 is not the canary" || return 1
	grep -A3 "tier 2 'tier-2'" "$OUT" | grep -q 'hosts  web-02 web-03 web-04 web-05$' ||
		fail "tier 2 is not web-02..05" || return 1
	expect_stdout_has 'runs         "/usr/bin/true" "\x1b[2Jx"' || return 1
	no_raw_esc "$OUT" || return 1
	# -o together with --dry-run is a usage error, and writes nothing
	check 2 "" "$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,100 --dry-run -o "$W/x.json" || return 1
	[ ! -e "$W/x.json" ] || fail "--dry-run -o wrote $W/x.json"
}
run_test plan.dry_run_prints_the_plan_and_writes_nothing t_dry_run

t_tiers_not_100() {
	check_one_line 1 E_ROLLOUT_TIERS "$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,90 -o "$W/t90.json" || return 1
	[ ! -e "$W/t90.json" ] || fail "a refused plan was written" || return 1
	check_one_line 1 E_ROLLOUT_TIERS "$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 25,5,100 --dry-run || return 1
	# a hand-made rollout whose last tier stops at 90 %: never signed
	"$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,100 -o "$W/ok.json" >/dev/null 2>"$ERR" ||
		fail "plan: $(first_err)" || return 1
	payload_of "$W/ok.json" | sed 's/"percent": 100,/"percent": 90,/' >"$W/p90"
	grep -q '"percent": 90,' "$W/p90" || fail "could not craft the 90 % body" || return 1
	envelope_of application/vnd.calyx.rollout.v1+json "$W/p90" >"$W/r90.json"
	cp "$W/r90.json" "$W/r90.orig"
	check_one_line 1 E_ROLLOUT_TIERS "$RO" sign --key "$KEYS/alice.key" "$W/r90.json" || return 1
	cmp -s "$W/r90.json" "$W/r90.orig" || fail "the refused rollout was changed" || return 1
	check_one_line 77 E_ROLLOUT_TIERS "$RO" show "$W/r90.json"
}
run_test plan.tiers_not_ending_at_100_refused t_tiers_not_100

t_host_lease() {
	printf '{"run_id":"one","audience":"web-01","argv":["/usr/bin/true"],"paths":{"ro":["/usr"]}}\n' >"$W/hb.json"
	"$LEASE" new "$W/hb.json" -o "$W/host.lease" --policy "$W/etc/policy.json" --ttl 1800 >/dev/null 2>"$ERR" ||
		fail "new: $(first_err)" || return 1
	check_one_line 1 E_ROLLOUT_LEASE "$RO" plan --lease "$W/host.lease" --hosts web-01 --tiers 100 --dry-run
}
run_test plan.lease_not_for_a_pool_refused t_host_lease

t_more_hosts_than_count() {
	seq -f 'web-%02g' 1 21 >"$W/hosts21.txt"
	check_one_line 1 E_ROLLOUT_LEASE "$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts21.txt" --tiers 5,100 --dry-run
}
run_test plan.more_hosts_than_the_lease_count_refused t_more_hosts_than_count

# ---- control characters ----------------------------------------------------
t_ctl_chars() {
	check_one_line 1 E_ROLLOUT "$RO" plan --lease "$W/l.lease" --hosts $'web-01,web\e[31m02' --tiers 50,100 -o "$W/esc.json" || return 1
	[ ! -e "$W/esc.json" ] || fail "a refused plan was written" || return 1
	grep -qF 'web\x1b[31m02' "$ERR" || fail "the host id is not shown escaped: $(first_err)" || return 1
	no_raw_esc "$ERR" || return 1
	printf 'web-01\n# a comment\n  web-02  \nweb\x1b]0;pwned\x0702\n' >"$W/hosts-esc.txt"
	check_one_line 1 E_ROLLOUT "$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts-esc.txt" --tiers 50,100 --dry-run || return 1
	grep -qF "hosts-esc.txt:4: 'web\\x1b]0;pwned\\x0702'" "$ERR" || fail "no file:line and escaped id: $(first_err)" || return 1
	no_raw_esc "$ERR" || return 1
	# a hand-made rollout with an ESC in a host id: never signed, never shown raw
	payload_of "$W/ok.json" | sed 's/"web-07"/"web\\u001b[31m07"/' >"$W/pesc"
	grep -qF 'web\u001b[31m07' "$W/pesc" || fail "could not craft the body" || return 1
	envelope_of application/vnd.calyx.rollout.v1+json "$W/pesc" >"$W/resc.json"
	cp "$W/resc.json" "$W/resc.orig"
	check_one_line 1 E_ROLLOUT "$RO" sign --key "$KEYS/alice.key" "$W/resc.json" || return 1
	cmp -s "$W/resc.json" "$W/resc.orig" || fail "the refused rollout was changed" || return 1
	no_raw_esc "$ERR" || return 1
	check_one_line 77 E_ROLLOUT "$RO" show "$W/resc.json" || return 1
	no_raw_esc "$ERR"
}
run_test control_characters_in_a_host_id_refused t_ctl_chars

# ---- plan -> show -> sign -> verify ----------------------------------------
t_end_to_end() {
	check 0 "" "$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,100 --max-failures 1 -o "$W/r.json" || return 1
	expect_stdout_has "wrote unsigned rollout" || return 1
	check 0 "" "$RO" show --keyring "$KR" --lease "$W/l.lease" "$W/r.json" || return 1
	expect_stdout_has "UNVERIFIED view of the rollout" || return 1
	expect_stdout_has 'runs         "/usr/bin/true" "\x1b[2Jx"' || return 1
	expect_stdout_has "! the lease's argv[1] holds U+001B (a control character)" || return 1
	expect_stdout_has "opens on a human's approve control document (gate manual)" || return 1
	# the canary tier holds one host: its failure budget is kept below it
	expect_stdout_has "tier 2 'tier-2' tolerates 1 failed or lost host before on_failure" || return 1
	expect_stdout_has "must sign    a human key" || return 1
	expect_stdout_has "must sign    an agent key" || return 1
	grep -q 'web-20' "$OUT" || fail "show does not list every host" || return 1
	no_raw_esc "$OUT" || return 1

	check 0 "" "$RO" sign --key "$KEYS/alice.key" "$W/r.json" || return 1
	check 0 "" "$RO" show --keyring "$KR" "$W/r.json" || return 1
	expect_stdout_has "signature    by human key 'alice': valid" || return 1
	expect_stdout_has "must sign    an agent key" || return 1
	grep -q "must sign    a human key" "$OUT" && fail "still asks for a human key after alice signed" && return 1
	# the same key twice, then half-signed verification
	check_one_line 1 E_DUP_SIGNER "$RO" sign --key "$KEYS/alice.key" "$W/r.json" || return 1
	check_one_line 77 E_SIG_COUNT "$RO" verify --keyring "$KR" --lease "$W/l.lease" "$W/r.json" || return 1

	check 0 "" "$RO" sign --key "$KEYS/bot.key" "$W/r.json" || return 1
	check_one_line 1 E_SIG_COUNT "$RO" sign --key "$KEYS/alice.key" "$W/r.json" || return 1
	check 0 "" "$RO" verify --keyring "$KR" --lease "$W/l.lease" "$W/r.json" || return 1
	expect_stdout_has "rollout OK" || return 1
	expect_stdout_has "signed by    human key 'alice'" || return 1
	expect_stdout_has "signed by    agent key 'bot'" || return 1
	expect_stdout_has "tier 3 'tier-3'  15 hosts, 20 of 20 in all (100 %)" || return 1
	no_raw_esc "$OUT" || return 1
	# and the lease and the rollout are not each other
	check_one_line 77 E_PAYLOAD_TYPE "$RO" verify --keyring "$KR" --lease "$W/l.lease" "$W/l.lease" || return 1
	check_one_line 77 E_PAYLOAD_TYPE "$LEASE" show "$W/r.json"
}
run_test end_to_end.plan_show_sign_verify t_end_to_end

t_other_lease() {
	[ -f "$W/r.json" ] || fail "needs the signed rollout of end_to_end" || return 1
	"$LEASE" new "$W/body.json" -o "$W/l2.lease" --policy "$W/etc/policy.json" --ttl 1800 >/dev/null 2>"$ERR" &&
		"$LEASE" sign --key "$KEYS/alice.key" "$W/l2.lease" >/dev/null 2>"$ERR" &&
		"$LEASE" sign --key "$KEYS/bot.key" "$W/l2.lease" >/dev/null 2>"$ERR" ||
		fail "second lease: $(first_err)" || return 1
	check_one_line 77 E_ROLLOUT_LEASE "$RO" verify --keyring "$KR" --lease "$W/l2.lease" "$W/r.json" || return 1
	check_one_line 77 E_ROLLOUT_LEASE "$RO" show --lease "$W/l2.lease" "$W/r.json"
}
run_test verify.another_lease_refused t_other_lease

t_pool_members() {
	[ -f "$W/r.json" ] || fail "needs the signed rollout of end_to_end" || return 1
	seq -f 'web-%02g' 1 25 >"$W/pool.txt"
	check 0 "" "$RO" verify --keyring "$KR" --lease "$W/l.lease" --pool-hosts-file "$W/pool.txt" "$W/r.json" || return 1
	expect_stdout_has "and pool members verified" || return 1
	check_one_line 77 E_ROLLOUT_HOST "$RO" verify --keyring "$KR" --lease "$W/l.lease" \
		--pool-hosts "$(seq -f 'web-%02g' 1 19 | paste -sd,)" "$W/r.json" || return 1
	grep -qF "host 'web-20' (tier 'tier-3') is not a member of pool 'web'" "$ERR" ||
		fail "does not name the host: $(first_err)"
}
run_test verify.host_outside_the_pool_refused t_pool_members

# ---- control documents -----------------------------------------------------
t_approve_roles() {
	[ -f "$W/r.json" ] || fail "needs the signed rollout of end_to_end" || return 1
	check 0 "" "$RO" control --key "$KEYS/bot.key" --rollout "$W/r.json" --seq 1 --action approve --tier 2 -o "$W/c-bot.json" || return 1
	check_one_line 77 E_CONTROL_ROLE "$RO" verify-control --keyring "$KR" --rollout "$W/r.json" "$W/c-bot.json" || return 1
	grep -qF "'approve' needs a human key; this one is signed by agent key 'bot'" "$ERR" ||
		fail "message: $(first_err)" || return 1
	check 0 "" "$RO" control --key "$KEYS/alice.key" --rollout "$W/r.json" --seq 2 --action approve --tier 2 -o "$W/c-alice.json" || return 1
	check 0 "" "$RO" verify-control --keyring "$KR" --rollout "$W/r.json" --after-seq 1 "$W/c-alice.json" || return 1
	expect_stdout_has "control document OK: approve tier 2 ('tier-2')" || return 1
	expect_stdout_has "signed by human key 'alice'" || return 1
	# stopping is the safe direction: an agent key may halt
	check 0 "" "$RO" control --key "$KEYS/bot.key" --rollout "$W/r.json" --seq 3 --action halt -o "$W/c-halt.json" || return 1
	check 0 "" "$RO" verify-control --keyring "$KR" --rollout "$W/r.json" --after-seq 2 "$W/c-halt.json" || return 1
	expect_stdout_has "control document OK: halt rollout" || return 1
	# approving the canary, whose gate is auto, or a tier that does not exist
	check_one_line 1 E_CONTROL "$RO" control --key "$KEYS/alice.key" --rollout "$W/r.json" --seq 4 --action approve --tier 1 -o "$W/c-x.json" || return 1
	check_one_line 1 E_CONTROL "$RO" control --key "$KEYS/alice.key" --rollout "$W/r.json" --seq 4 --action approve --tier 4 -o "$W/c-x.json" || return 1
	[ ! -e "$W/c-x.json" ] || fail "a refused control document was written" || return 1
	# a control document is not a rollout, nor the other way round
	check_one_line 77 E_PAYLOAD_TYPE "$RO" verify --keyring "$KR" --lease "$W/l.lease" "$W/c-halt.json" || return 1
	check_one_line 77 E_PAYLOAD_TYPE "$RO" verify-control --keyring "$KR" --rollout "$W/r.json" "$W/r.json"
}
run_test control.agent_signed_approve_refused t_approve_roles

t_old_seq() {
	[ -f "$W/r.json" ] || fail "needs the signed rollout of end_to_end" || return 1
	check 0 "" "$RO" control --key "$KEYS/alice.key" --rollout "$W/r.json" --seq 3 --action resume -o "$W/c3.json" || return 1
	check_one_line 77 E_CONTROL_SEQ "$RO" verify-control --keyring "$KR" --rollout "$W/r.json" --after-seq 5 "$W/c3.json" || return 1
	check_one_line 77 E_CONTROL_SEQ "$RO" verify-control --keyring "$KR" --rollout "$W/r.json" --after-seq 3 "$W/c3.json" || return 1
	check 0 "" "$RO" verify-control --keyring "$KR" --rollout "$W/r.json" --after-seq 2 "$W/c3.json"
}
run_test control.old_seq_refused t_old_seq

t_control_other_rollout() {
	[ -f "$W/c3.json" ] || fail "needs control.old_seq_refused" || return 1
	# the same plan re-signed is another rollout (id and bytes)
	"$RO" plan --lease "$W/l.lease" --hosts-file "$W/hosts.txt" --tiers 5,25,100 -o "$W/r2.json" >/dev/null 2>"$ERR" &&
		"$RO" sign --key "$KEYS/alice.key" "$W/r2.json" >/dev/null 2>"$ERR" &&
		"$RO" sign --key "$KEYS/bot.key" "$W/r2.json" >/dev/null 2>"$ERR" ||
		fail "second rollout: $(first_err)" || return 1
	check_one_line 77 E_CONTROL "$RO" verify-control --keyring "$KR" --rollout "$W/r2.json" "$W/c3.json"
}
run_test control.bound_to_its_rollout t_control_other_rollout

summary
