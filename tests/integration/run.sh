#!/usr/bin/env bash
# Integration tests for the calyx CLIs (calyx-lease, calyx-policy, calyx-exec,
# calyx-audit), driven end to end through the binaries as a host would.
#
#   bash tests/integration/run.sh [BUILD_DIR]      (default: build; run as root)
#
# Everything happens in a private temp dir (removed on exit). Each named
# check prints cmocka-style "[ RUN      ]" / "[       OK ]" / "[  FAILED  ]"
# lines and a summary; the exit status is non-zero if any check failed.
# Only POSIX tools are used to look inside JSON (grep/sed/awk), never jq.
set -u

# --------------------------------------------------------------------------
# harness and generic fixtures: lib.sh (B, EXEC..., T, run_test, check, ...)
# --------------------------------------------------------------------------
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

# --------------------------------------------------------------------------
# fixtures specific to this suite
# --------------------------------------------------------------------------
# The workspace every lease here names: a Makefile whose targets have no
# recipe, so 'make -C /work release' succeeds without exec'ing a shell
# (Landlock only lets the sandbox execute the leased command itself).
mkdir -p "$T/srv/app"
printf 'release:\ncheck:\n.PHONY: release check\n' >"$T/srv/app/Makefile"
chown -R 1000:1000 "$T/srv/app" # any owner but root: the run owns what it owns

write_policy() { # FILE [extra command]
	local extra=${2:+, \"$2\"}
	policy_json "[\"/usr/bin/make\", \"/usr/bin/env\"$extra]" >"$1"
	chmod 644 "$1"
}

write_body() { # FILE [ARGV0] [AUDIENCE] [RUN_ID]
	local argv0=${2:-/usr/bin/make} aud=${3:-$HOST_ID} run=${4:-it-run}
	cat >"$1" <<JSON
{ "run_id": "$run", "intent_id": "intent-1", "audience": "$aud",
  "argv": ["$argv0", "-C", "/work", "release"],
  "cwd": "/work", "env": {"LANG": "C.UTF-8"},
  "workspace": "$T/srv/app",
  "paths": {"ro": ["/usr"], "rw": []},
  "limits": {"cpu_ms": 60000, "memory_bytes": 536870912, "pids": 128, "wall_ms": 120000},
  "network": "none",
  "validate": {"argv": ["/usr/bin/make", "-C", "/work", "check"]},
  "purpose": "integration test" }
JSON
}

# mk_env NAME [HOST_ID] [POLICY_EXTRA_COMMAND]: a host in $T/NAME (lib's
# mk_host) with this suite's policy (make, env [, extra command]).
mk_env() {
	mkdir -p "$T/$1/etc" || fail "mkdir $T/$1/etc" || return 1
	write_policy "$T/$1/etc/policy.json" "${3:-}"
	mk_host "$1" "$T/$1/etc/policy.json" "${2:-$HOST_ID}"
}

# mk_run_lease ENV OUT [ARGV0] [AUDIENCE] [SIGNERS]: this suite's body
# (make -C /work release) -> lib's mk_lease. SIGNERS: both, human, none.
mk_run_lease() {
	write_body "$2.body" "${3:-}" "${4:-}"
	mk_lease "$1" "$2" "$2.body" "${5:-both}"
}

# --------------------------------------------------------------------------
# 1. full flow: keygen -> keyring add x2 -> new -> sign x2 -> verify -> dry run
# --------------------------------------------------------------------------
M=$T/main      # the main host env, built step by step by the flow checks
ML=$T/main/run.lease

t_flow_keygen() {
	mkdir -p "$KEYS" "$HOSTKEYS" "$T/srv/app" && chmod 700 "$KEYS" "$HOSTKEYS" || return 1
	check 0 "" "$LEASE" keygen --role human --name alice --out "$KEYS" || return 1
	check 0 "" "$LEASE" keygen --role agent --name bot --out "$KEYS" || return 1
	check 0 "" "$LEASE" keygen --role agent --name host --out "$HOSTKEYS" || return 1
	local f
	for f in "$KEYS/alice.key" "$KEYS/bot.key" "$HOSTKEYS/host.key"; do
		[ "$(stat -c '%a %s' "$f")" = "600 32" ] ||
			fail "$f is '$(stat -c '%a %s' "$f")', expected mode 600 and 32 bytes" || return 1
	done
	grep -q '"human"' "$KEYS/alice.pub.json" || fail "alice.pub.json lacks role human" || return 1
	grep -q '"agent"' "$KEYS/bot.pub.json" || fail "bot.pub.json lacks role agent"
}

t_flow_keygen_no_overwrite() {
	check_one_line 125 E_IO "$LEASE" keygen --role human --name alice --out "$KEYS"
}

t_flow_keyring_add() {
	mkdir -p "$M/etc" "$M/state" "$M/log" && chmod 755 "$M" "$M/etc" "$M/log" && chmod 700 "$M/state" || return 1
	check 0 "" "$LEASE" keyring add "$M/etc/keyring.json" "$KEYS/alice.pub.json" || return 1
	check 0 "" "$LEASE" keyring add "$M/etc/keyring.json" "$KEYS/bot.pub.json" || return 1
	[ "$(grep -c '"role"' "$M/etc/keyring.json")" -eq 2 ] || fail "keyring does not hold 2 keys" || return 1
	write_policy "$M/etc/policy.json"
	cp "$HOSTKEYS/host.key" "$HOSTKEYS/host.pub.json" "$M/etc/" && chmod 600 "$M/etc/host.key" || return 1
	cat >"$M/etc/calyx.conf" <<JSON
{ "keyring": "$M/etc/keyring.json", "policy": "$M/etc/policy.json",
  "state_dir": "$M/state", "audit_log": "$M/log/audit.jsonl",
  "host_key": "$M/etc/host.key", "host_id": "$HOST_ID" }
JSON
	chmod 644 "$M/etc/calyx.conf" "$M/etc/keyring.json"
}

t_flow_keyring_dup() {
	check_one_line 125 E_DUP_KEY "$LEASE" keyring add "$M/etc/keyring.json" "$KEYS/alice.pub.json" || return 1
	[ "$(grep -c '"role"' "$M/etc/keyring.json")" -eq 2 ] || fail "keyring changed by a refused add"
}

t_flow_new() {
	write_body "$M/body.json"
	check 0 "" "$LEASE" new "$M/body.json" -o "$ML" --policy "$M/etc/policy.json" --ttl 1800 || return 1
	expect_stdout_has "wrote unsigned lease" || return 1
	[ -n "$(lease_id "$ML")" ] || fail "cannot read the lease id back with 'calyx-lease show'" || return 1
	grep -q '"signatures": \[\]' "$ML" || fail "new lease is not unsigned"
}

t_flow_sign_human() {
	cp "$ML" "$M/unsigned.lease" || return 1
	check 0 "" "$LEASE" sign --key "$KEYS/alice.key" "$ML" || return 1
	cp "$ML" "$M/human-only.lease"
}

t_flow_sign_agent() {
	check 0 "" "$LEASE" sign --key "$KEYS/bot.key" "$ML" || return 1
	[ "$(grep -c '"keyid"' "$ML")" -eq 2 ] || fail "lease does not carry 2 signatures"
}

t_flow_show() {
	check 0 "" "$LEASE" show --keyring "$M/etc/keyring.json" "$ML" || return 1
	expect_stdout_has "by human key 'alice': valid" || return 1
	expect_stdout_has "by agent key 'bot': valid"
}

t_flow_verify() {
	check 0 "" "$LEASE" verify --keyring "$M/etc/keyring.json" --policy "$M/etc/policy.json" \
		--host-id "$HOST_ID" "$ML" || return 1
	expect_stdout_has "lease OK: verified, not consumed"
}

t_flow_dry_run() {
	check 0 "" cx main --lease "$ML" --dry-run --result "$M/dry-result.json" || return 1
	expect_stdout_has "dry run: lease verified" || return 1
	expect_stdout_has "lease $(lease_id "$ML")" || return 1
	# the plan names the namespaces a run gets: never a user namespace
	expect_stdout_has "plan: namespaces pid,mount,net,ipc,uts,cgroup (no user namespace)" || return 1
	[ ! -s "$ERR" ] || fail "dry run wrote to stderr: $(first_err)"
}

t_flow_dry_run_no_ledger() {
	dir_empty "$M/state/ledger" || fail "ledger not empty after dry run: $(ls -A "$M/state/ledger" | tr '\n' ' ')" || return 1
	dir_empty "$M/state" || fail "state dir not empty after dry run: $(ls -A "$M/state" | tr '\n' ' ')"
}

t_flow_dry_run_no_audit() {
	[ ! -s "$M/log/audit.jsonl" ] || fail "audit log has $(nlines "$M/log/audit.jsonl") line(s) after a dry run"
}

t_flow_dry_run_result() {
	expect_file_has "$M/dry-result.json" '"status": *"verified"' || return 1
	expect_file_has "$M/dry-result.json" '"exit_code": *0' || return 1
	expect_file_has "$M/dry-result.json" "\"lease_id\": *\"$(lease_id "$ML")\"" || return 1
	! grep -q '"audit": *{' "$M/dry-result.json" || fail "dry-run result names an audit range"
}

t_flow_dry_run_twice() {
	# a dry run consumes nothing, so it can be repeated
	check 0 "" cx main --lease "$ML" --dry-run || return 1
	dir_empty "$M/state/ledger" || fail "ledger not empty after second dry run"
}

run_test flow.keygen                       t_flow_keygen
run_test flow.keygen_refuses_overwrite     t_flow_keygen_no_overwrite
run_test flow.keyring_add_x2               t_flow_keyring_add
run_test flow.keyring_add_duplicate        t_flow_keyring_dup
run_test flow.new_unsigned_lease           t_flow_new
run_test flow.sign_human                   t_flow_sign_human
run_test flow.sign_agent                   t_flow_sign_agent
run_test flow.show_both_signatures_valid   t_flow_show
run_test flow.verify                       t_flow_verify
run_test flow.dry_run                      t_flow_dry_run
run_test flow.dry_run_leaves_no_ledger     t_flow_dry_run_no_ledger
run_test flow.dry_run_leaves_no_audit      t_flow_dry_run_no_audit
run_test flow.dry_run_result_verified      t_flow_dry_run_result
run_test flow.dry_run_repeatable           t_flow_dry_run_twice

# --------------------------------------------------------------------------
# 2. refusals: one stderr line, the right [E_CODE], exit 77
# --------------------------------------------------------------------------
R=$T/refuse
mk_env refuse || { echo "fixture: mk_env refuse failed: $WHY" >&2; }

t_ref_unsigned() {
	check_one_line 77 E_SIG_COUNT cx refuse --lease "$M/unsigned.lease"
}
t_ref_unsigned_dry() {
	check_one_line 77 E_SIG_COUNT cx refuse --lease "$M/unsigned.lease" --dry-run
}
t_ref_human_only() {
	check_one_line 77 E_SIG_COUNT cx refuse --lease "$M/human-only.lease"
}
t_ref_verify_human_only() {
	check_one_line 77 E_SIG_COUNT "$LEASE" verify --keyring "$M/etc/keyring.json" \
		--policy "$M/etc/policy.json" --host-id "$HOST_ID" "$M/human-only.lease"
}
t_ref_sign_twice() {
	cp "$M/human-only.lease" "$R/twice.lease" || return 1
	local before; before=$(cksum <"$R/twice.lease")
	check_one_line 125 E_DUP_SIGNER "$LEASE" sign --key "$KEYS/alice.key" "$R/twice.lease" || return 1
	[ "$(cksum <"$R/twice.lease")" = "$before" ] || fail "refused sign still rewrote the lease" || return 1
	# what is left is a one-signature lease: still refused
	check_one_line 77 E_SIG_COUNT cx refuse --lease "$R/twice.lease"
}
t_ref_dup_sig_handmade() {
	# the same signature twice, assembled by hand (calyx-lease refuses to)
	local f=$M/human-only.lease pt pl kid sig
	pt=$(sed -n 's/.*"payloadType": *"\([^"]*\)".*/\1/p' "$f")
	pl=$(sed -n 's/.*"payload": *"\([^"]*\)".*/\1/p' "$f")
	kid=$(sed -n 's/.*"keyid": *"\([^"]*\)".*/\1/p' "$f" | head -n 1)
	sig=$(sed -n 's/.*"sig": *"\([^"]*\)".*/\1/p' "$f" | head -n 1)
	[ -n "$pt" ] && [ -n "$pl" ] && [ -n "$kid" ] && [ -n "$sig" ] || fail "cannot take the lease apart" || return 1
	printf '{"payloadType":"%s","payload":"%s","signatures":[{"keyid":"%s","sig":"%s"},{"keyid":"%s","sig":"%s"}]}\n' \
		"$pt" "$pl" "$kid" "$sig" "$kid" "$sig" >"$R/dupsig.lease"
	check_one_line 77 E_DUP_SIGNER cx refuse --lease "$R/dupsig.lease"
}
t_ref_edited() {
	# payload edited after both signatures (base64 of '{' always starts "e")
	sed 's/"payload": "e/"payload": "f/' "$ML" >"$R/edited.lease"
	cmp -s "$ML" "$R/edited.lease" && { fail "sed did not change the lease"; return 1; }
	check_one_line 77 E_BAD_SIG cx refuse --lease "$R/edited.lease"
}
t_ref_edited_sig() {
	# one base64 character in the middle of the last signature flipped
	awk '/"sig": "/ { last = NR } { l[NR] = $0 }
	     END { for (i = 1; i <= NR; i++) {
	             s = l[i]
	             if (i == last) {
	                     p = index(s, "\"sig\": \"") + 8 + 20
	                     c = substr(s, p, 1)
	                     s = substr(s, 1, p - 1) (c == "A" ? "B" : "A") substr(s, p + 1)
	             }
	             print s } }' "$ML" >"$R/badsig.lease"
	[ "$(cmp -l "$ML" "$R/badsig.lease" | wc -l)" -eq 1 ] || { fail "expected exactly one changed byte"; return 1; }
	check_one_line 77 E_BAD_SIG cx refuse --lease "$R/badsig.lease"
}
t_ref_symlink() {
	ln -sf "$ML" "$R/link.lease" || return 1
	check_one_line 77 E_NOT_REGULAR cx refuse --lease "$R/link.lease"
}
t_ref_fifo() {
	rm -f "$R/fifo.lease"
	mkfifo "$R/fifo.lease" || return 1
	xrun timeout 30 "$EXEC" --config "$R/etc/calyx.conf" --lease "$R/fifo.lease"
	[ "$RC" -ne 124 ] || fail "calyx-exec hung on a FIFO lease (killed by timeout 30)" || return 1
	check_one_line 77 E_NOT_REGULAR timeout 30 "$EXEC" --config "$R/etc/calyx.conf" --lease "$R/fifo.lease"
}
t_ref_dir() {
	check_one_line 77 E_NOT_REGULAR cx refuse --lease "$T/srv"
}
t_ref_missing() {
	check_one_line 77 E_IO cx refuse --lease "$R/no-such.lease" || return 1
	grep -q 'no-such.lease' "$ERR" || fail "message does not name the missing file: $(first_err)"
}
t_ref_audience() {
	mk_env otherhost other-host || return 1
	check_one_line 77 E_AUDIENCE cx otherhost --lease "$ML" || return 1
	grep -q "other-host" "$ERR" || fail "message does not name this host: $(first_err)"
}
t_ref_policy_changed() {
	# same keyring, but the policy gained a command after the lease was made
	mk_env newpolicy "$HOST_ID" /usr/bin/true || return 1
	check_one_line 77 E_POLICY_HASH cx newpolicy --lease "$ML"
}
t_ref_policy_command() {
	# (calyx-lease new would refuse /bin/sh first: not in the view, and a
	# symlink on merged-/usr; written without that check, calyx-exec refuses)
	LEASE_NEW_FLAGS=--no-host-check mk_run_lease refuse "$R/sh.lease" /bin/sh || return 1
	check_one_line 77 E_POLICY_COMMAND cx refuse --lease "$R/sh.lease"
}
t_ref_nothing_consumed() {
	dir_empty "$R/state/ledger" || fail "a refused lease left a ledger entry: $(ls -A "$R/state/ledger" | tr '\n' ' ')" || return 1
	dir_empty "$T/otherhost/state/ledger" && dir_empty "$T/newpolicy/state/ledger" ||
		fail "a refused lease left a ledger entry in another env" || return 1
	# every refusal of a real start is audited as lease.rejected, nothing else
	local types; types=$(audit_types "$R/log/audit.jsonl" | tr ' ' '\n' | sort -u | tr '\n' ' ')
	[ "$types" = "lease.rejected " ] || fail "refusal audit types are '$types', expected only lease.rejected" || return 1
	check 0 "" "$AUDIT" verify --host-pub "$R/etc/host.pub.json" "$R/log/audit.jsonl"
}
t_ref_no_lease_arg() {
	check 125 "--lease LEASE is required" "$EXEC" --config "$R/etc/calyx.conf" || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "usage error printed $(nlines "$ERR") lines"
}
t_ref_bad_option() {
	check 125 "bad usage" "$EXEC" --frobnicate --lease "$ML"
}

run_test refuse.unsigned_E_SIG_COUNT           t_ref_unsigned
run_test refuse.unsigned_dry_run_E_SIG_COUNT   t_ref_unsigned_dry
run_test refuse.human_only_E_SIG_COUNT         t_ref_human_only
run_test refuse.verify_human_only_E_SIG_COUNT  t_ref_verify_human_only
run_test refuse.sign_twice_same_key_E_DUP_SIGNER t_ref_sign_twice
run_test refuse.same_signature_twice_E_DUP_SIGNER t_ref_dup_sig_handmade
run_test refuse.payload_edited_E_BAD_SIG       t_ref_edited
run_test refuse.signature_edited_E_BAD_SIG     t_ref_edited_sig
run_test refuse.symlink_E_NOT_REGULAR          t_ref_symlink
run_test refuse.fifo_E_NOT_REGULAR_no_hang     t_ref_fifo
run_test refuse.directory_E_NOT_REGULAR        t_ref_dir
run_test refuse.missing_file                   t_ref_missing
run_test refuse.wrong_audience_E_AUDIENCE      t_ref_audience
run_test refuse.policy_changed_E_POLICY_HASH   t_ref_policy_changed
run_test refuse.command_outside_policy_E_POLICY_COMMAND t_ref_policy_command
run_test refuse.nothing_consumed_only_rejections_audited t_ref_nothing_consumed
run_test usage.lease_required_exit_125         t_ref_no_lease_arg
run_test usage.unknown_option_exit_125         t_ref_bad_option

# --------------------------------------------------------------------------
# 3. single use through the CLI
# --------------------------------------------------------------------------
O=$T/once
mk_env once || echo "fixture: mk_env once failed: $WHY" >&2
# the race checks below are about the ledger: same-tree starts queue on the
# tree lock ("wait") and the loser then meets the ledger: E_REPLAY
sed -i 's/^{ "v": 1,/{ "v": 1, "workspace_lock": "wait",/' "$O/etc/policy.json"
ONCE_ID=""

t_once_first() {
	mk_run_lease once "$O/a.lease" || return 1
	ONCE_ID=$(lease_id "$O/a.lease")
	[ -n "$ONCE_ID" ] || fail "no lease id" || return 1
	# the lease is consumed and the command really runs: make, in the
	# sandbox, on the leased workspace's recipe-less Makefile
	check 0 "" cx once --lease "$O/a.lease" --result "$O/a.result" || return 1
	expect_stdout_has "Nothing to be done for 'release'" || return 1
	[ ! -s "$ERR" ] || fail "a successful run wrote to stderr: $(first_err)"
}
t_once_ledger_entry() {
	local f=$O/state/ledger/$ONCE_ID
	[ -f "$f" ] || fail "$f does not exist after the first start" || return 1
	[ "$(stat -c '%u %a' "$f")" = "0 600" ] || fail "ledger entry is '$(stat -c '%u %a' "$f")', expected root 600" || return 1
	grep -q "\"lease_id\":\"$ONCE_ID\"" "$f" || fail "ledger entry does not name the lease" || return 1
	[ "$(ls -A "$O/state/ledger" | wc -l)" -eq 1 ] || fail "ledger has $(ls -A "$O/state/ledger" | wc -l) entries, expected 1" || return 1
	cp -p "$f" "$O/ledger-entry.saved"
}
t_once_result_completed() {
	expect_file_has "$O/a.result" '"status": *"completed"' || return 1
	expect_file_has "$O/a.result" "\"lease_id\": *\"$ONCE_ID\"" || return 1
	expect_file_has "$O/a.result" '"exit_code": *0'
}
t_once_second() {
	check_one_line 77 E_REPLAY cx once --lease "$O/a.lease" --result "$O/b.result" || return 1
	expect_file_has "$O/b.result" '"status": *"refused"' || return 1
	expect_file_has "$O/b.result" '"reason": *"E_REPLAY"'
}
t_once_still_refused() {
	# a fresh process later: remove everything calyx-exec left besides the
	# ledger entry (prune stamp, results, audit log); the lease stays burnt
	rm -f "$O/state/ledger.pruned" "$O/a.result" "$O/b.result" "$O/log/audit.jsonl"
	check_one_line 77 E_REPLAY cx once --lease "$O/a.lease" || return 1
	cmp -s "$O/state/ledger/$ONCE_ID" "$O/ledger-entry.saved" || fail "ledger entry changed by the replay attempts" || return 1
	[ "$(ls -A "$O/state/ledger" | wc -l)" -eq 1 ] || fail "ledger gained entries"
}
t_once_dry_run_sees_replay() {
	# a dry run claims nothing but must not call a used lease runnable
	check_one_line 77 E_REPLAY cx once --lease "$O/a.lease" --dry-run || return 1
	[ "$(ls -A "$O/state/ledger" | wc -l)" -eq 1 ] || fail "dry run changed the ledger"
}
t_once_copy_refused() {
	# a byte-identical copy under another name is the same lease
	cp "$O/a.lease" "$O/copy.lease" || return 1
	check_one_line 77 E_REPLAY cx once --lease "$O/copy.lease"
}
t_once_other_lease_ok() {
	# the ledger is per lease: another lease on the same host still starts
	mk_run_lease once "$O/c.lease" || return 1
	check 0 "" cx once --lease "$O/c.lease" || return 1
	expect_stdout_has "Nothing to be done for 'release'" || return 1
	[ "$(ls -A "$O/state/ledger" | wc -l)" -eq 2 ] || fail "expected 2 ledger entries"
}
t_once_race() {
	local i id pa pb ra rb n0 n77 replay
	for i in 1 2 3 4 5 6 7 8 9 10; do
		mk_run_lease once "$O/race$i.lease" || return 1
		id=$(lease_id "$O/race$i.lease")
		cx once --lease "$O/race$i.lease" >/dev/null 2>"$O/race$i.a.err" & pa=$!
		cx once --lease "$O/race$i.lease" >/dev/null 2>"$O/race$i.b.err" & pb=$!
		wait "$pa"; ra=$?
		wait "$pb"; rb=$?
		n0=0 n77=0
		[ "$ra" -eq 0 ] && n0=$((n0 + 1)); [ "$rb" -eq 0 ] && n0=$((n0 + 1))
		[ "$ra" -eq 77 ] && n77=$((n77 + 1)); [ "$rb" -eq 77 ] && n77=$((n77 + 1))
		[ "$n0" -eq 1 ] && [ "$n77" -eq 1 ] ||
			fail "round $i: exit codes $ra and $rb, expected one 0 and one 77" || return 1
		if [ "$ra" -eq 77 ]; then replay=$O/race$i.a.err; else replay=$O/race$i.b.err; fi
		grep -q '^calyx-exec: lease refused \[E_REPLAY\]: ' "$replay" ||
			fail "round $i: the loser did not say E_REPLAY: $(head -n 1 "$replay")" || return 1
		[ "$(awk 'END{print NR}' "$replay")" -eq 1 ] || fail "round $i: loser printed more than one line" || return 1
		if [ "$ra" -eq 0 ]; then replay=$O/race$i.a.err; else replay=$O/race$i.b.err; fi
		[ ! -s "$replay" ] ||
			fail "round $i: the winner wrote to stderr: $(head -n 1 "$replay")" || return 1
		[ -f "$O/state/ledger/$id" ] || fail "round $i: no ledger entry" || return 1
	done
}

run_test once.first_start_consumes_and_runs     t_once_first
run_test once.ledger_entry_created              t_once_ledger_entry
run_test once.first_start_result_completed      t_once_result_completed
run_test once.second_start_E_REPLAY             t_once_second
run_test once.later_process_still_E_REPLAY      t_once_still_refused
run_test once.dry_run_of_used_lease_E_REPLAY    t_once_dry_run_sees_replay
run_test once.copy_of_lease_E_REPLAY            t_once_copy_refused
run_test once.other_lease_unaffected            t_once_other_lease_ok
run_test once.race_10_pairs_exactly_one_wins    t_once_race

# --------------------------------------------------------------------------
# 4. insecure configuration: exit 125, E_INSECURE_FILE, nothing consumed
# --------------------------------------------------------------------------
# insecure_run ENV: calyx-exec must fail with 125 E_INSECURE_FILE before
# anything is consumed or logged.
insecure_run() {
	local e=$1
	[ -f "$T/$e/x.lease" ] || mk_run_lease "$e" "$T/$e/x.lease" || return 1
	check_one_line 125 E_INSECURE_FILE cx "$e" --lease "$T/$e/x.lease" || return 1
	dir_empty "$T/$e/state" || fail "state dir not empty after a config failure" || return 1
	[ ! -s "$T/$e/log/audit.jsonl" ] || fail "audit log written after a config failure"
}
t_ins_config_owner() {
	mk_env ins_conf || return 1
	chown 65534 "$T/ins_conf/etc/calyx.conf" || return 1
	insecure_run ins_conf || return 1
	grep -q 'uid 65534' "$ERR" || fail "message does not name the owner: $(first_err)"
}
t_ins_keyring_mode() {
	mk_env ins_kr || return 1
	chmod 666 "$T/ins_kr/etc/keyring.json" || return 1
	insecure_run ins_kr
}
t_ins_policy_dir() {
	mk_env ins_pol || return 1
	local d=$T/ins_pol/pol
	mk_run_lease ins_pol "$T/ins_pol/x.lease" || return 1  # bound to the same policy bytes
	mkdir -p "$d" && mv "$T/ins_pol/etc/policy.json" "$d/" && chmod 775 "$d" || return 1
	sed -i "s#\"policy\": \"[^\"]*\"#\"policy\": \"$d/policy.json\"#" "$T/ins_pol/etc/calyx.conf"
	grep -q "$d/policy.json" "$T/ins_pol/etc/calyx.conf" || fail "could not point config at $d" || return 1
	insecure_run ins_pol || return 1
	grep -q 'writable by group or others' "$ERR" || fail "message does not say why: $(first_err)" || return 1
	# control: the same directory without group write is accepted
	chmod 755 "$d"
	check 0 "" cx ins_pol --lease "$T/ins_pol/x.lease"
}
t_ins_host_key_mode() {
	mk_env ins_hk || return 1
	chmod 644 "$T/ins_hk/etc/host.key" || return 1
	insecure_run ins_hk
}
t_ins_config_dir_owner() {
	mk_env ins_cdir || return 1
	chown 65534 "$T/ins_cdir/etc" || return 1
	insecure_run ins_cdir
}
t_ins_nonroot_config() {
	local runas
	if command -v setpriv >/dev/null 2>&1; then
		runas="setpriv --reuid=65534 --regid=65534 --clear-groups"
	elif command -v runuser >/dev/null 2>&1; then
		runas="runuser -u nobody --"
	else
		fail "neither setpriv nor runuser is available"; return 1
	fi
	# $runas is deliberately split into words
	# shellcheck disable=SC2086
	check 125 "" $runas "$EXEC" --config "$M/etc/calyx.conf" --lease "$ML" || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "stderr has $(nlines "$ERR") lines, expected 1" || return 1
	grep -qE 'real uid (is )?0' "$ERR" || fail "message does not mention real uid 0: $(first_err)"
}
# the host's own key added to its keyring (as an agent signer): the host
# could co-sign its own leases; refused at load, nothing consumed, and
# the lease runs once the key is out of the keyring
t_ins_host_key_in_keyring() {
	mk_env ins_hkr || return 1
	mk_run_lease ins_hkr "$T/ins_hkr/x.lease" || return 1
	"$LEASE" keyring add "$T/ins_hkr/etc/keyring.json" "$T/ins_hkr/etc/host.pub.json" >/dev/null 2>"$ERR" ||
		fail "keyring add: $(first_err)" || return 1
	check_one_line 125 E_CONFIG cx ins_hkr --lease "$T/ins_hkr/x.lease" || return 1
	grep -q "this host's own key as a signer" "$ERR" || fail "message does not say why: $(first_err)" || return 1
	dir_empty "$T/ins_hkr/state" || fail "state dir not empty after the refusal" || return 1
	[ ! -s "$T/ins_hkr/log/audit.jsonl" ] || fail "audit log written after the refusal" || return 1
	python3 -c 'import json,sys; k=json.load(open(sys.argv[1])); p=json.load(open(sys.argv[2]))["keyid"]; del k["keys"][p]; json.dump(k, open(sys.argv[1], "w"))' \
		"$T/ins_hkr/etc/keyring.json" "$T/ins_hkr/etc/host.pub.json" || return 1
	check 0 "" cx ins_hkr --lease "$T/ins_hkr/x.lease"
}

run_test insecure.config_owned_by_65534           t_ins_config_owner
run_test insecure.keyring_mode_666                t_ins_keyring_mode
run_test insecure.policy_in_group_writable_dir    t_ins_policy_dir
run_test insecure.host_key_mode_644               t_ins_host_key_mode
run_test insecure.config_dir_owned_by_65534       t_ins_config_dir_owner
run_test insecure.config_option_needs_real_uid_0  t_ins_nonroot_config
run_test insecure.host_key_in_keyring_E_CONFIG    t_ins_host_key_in_keyring

# --------------------------------------------------------------------------
# 5. the audit log: one event per step, verifiable, tamper-evident
# --------------------------------------------------------------------------
A=$T/audit
mk_env audit || echo "fixture: mk_env audit failed: $WHY" >&2
AL=$A/log/audit.jsonl
AUDIT_ID=""

t_audit_runs() {
	mk_run_lease audit "$A/a.lease" || return 1
	AUDIT_ID=$(lease_id "$A/a.lease")
	check 0 "" cx audit --lease "$A/a.lease" --result "$A/a.result" || return 1
	check_one_line 77 E_REPLAY cx audit --lease "$A/a.lease"
}
t_audit_types() {
	# the command, its validate step (make check), the commit, then the
	# replay; each run's events end with the checkpoint its sync signs
	local got want="lease.verified lease.consumed exec.started exec.spawned exec.finished exec.started exec.spawned exec.finished workspace.committed audit.checkpoint lease.verified lease.rejected audit.checkpoint"
	got=$(audit_types_all "$AL")
	[ "$(nlines "$AL")" -eq 13 ] || fail "log has $(nlines "$AL") lines, expected 13 ($got)" || return 1
	[ "$got" = "$want" ] || fail "types are '$got', expected '$want'"
}
t_audit_seq() {
	local got; got=$(audit_seqs "$AL")
	[ "$got" = "$(seq_list 13)" ] || fail "seq is '$got', expected '$(seq_list 13)'"
}
t_audit_ids() {
	[ "$(grep -c "\"lease_id\":\"$AUDIT_ID\",\"run_id\":\"it-run\"" "$AL")" -eq 11 ] ||
		fail "not every event names lease $AUDIT_ID and run it-run"
}
t_audit_details() {
	sed -n 3p "$AL" | grep -qE '"details":\{"phase":"command","argv0":"/usr/bin/make","pid":[0-9]+,"uid":([0-9]+),"gid":\1,' ||
		fail "exec.started does not name argv0 and the run ids: $(sed -n 3p "$AL" | cut -c 1-200)" || return 1
	local u; u=$(sed -n 3p "$AL" | sed -n 's/.*"uid":\([0-9]*\),.*/\1/p')
	[ "$u" -ge 1879048192 ] && [ "$u" -lt 1879113728 ] ||
		fail "exec.started uid $u is not of the default run_uid_range" || return 1
	sed -n 3p "$AL" | grep -q '"layers":{"namespaces":\["pid","mnt","net","ipc","uts","cgroup"\]' ||
		fail "exec.started does not list the six namespaces" || return 1
	sed -n 3p "$AL" | grep -q '"seccomp":true' || fail "exec.started does not say seccomp" || return 1
	sed -n 4p "$AL" | grep -q '"filename":"/usr/bin/make"' ||
		fail "exec.spawned (BPF exec tracer) does not name /usr/bin/make" || return 1
	sed -n 5p "$AL" | grep -qE '"details":\{"wall_ms":[0-9]+,"usage":\{.*\},"exit_code":0,' ||
		fail "exec.finished lacks exit_code 0: $(sed -n 5p "$AL" | cut -c 1-200)" || return 1
	sed -n 6p "$AL" | grep -q '"details":{"phase":"validate","argv0":"/usr/bin/make"' ||
		fail "the validate step's exec.started is not line 6" || return 1
	sed -n 9p "$AL" | grep -qE '"type":"workspace.committed".*"details":\{"action":"committed","reason":"success"' ||
		fail "workspace.committed is not line 9: $(sed -n 9p "$AL" | cut -c 1-200)" || return 1
	sed -n 10p "$AL" | grep -q '"type":"audit.checkpoint","details":{"lines":9},' ||
		fail "line 10 is not the checkpoint over the run's 9 lines" || return 1
	sed -n 12p "$AL" | grep -q '"details":{"reason":"E_REPLAY"' || fail "lease.rejected lacks details.reason E_REPLAY" || return 1
	sed -n 1p "$AL" | grep -q '"principal":"alice"' && sed -n 1p "$AL" | grep -q '"principal":"bot"' ||
		fail "lease.verified does not name both signers" || return 1
	sed -n 2p "$AL" | grep -q '"details":{"ledger":"dir"}' || fail "lease.consumed does not name the ledger"
}
t_audit_result_range() {
	expect_file_has "$A/a.result" '"first_seq": *1' || return 1
	expect_file_has "$A/a.result" '"last_seq": *9'
}
t_audit_mode() {
	[ "$(stat -c '%u %a' "$AL")" = "0 640" ] || fail "audit log is '$(stat -c '%u %a' "$AL")', expected root 640"
}
t_audit_verify() {
	check 0 "" "$AUDIT" verify --host-pub "$A/etc/host.pub.json" "$AL" || return 1
	expect_stdout_has "audit log OK: 13 events"
}
t_audit_verify_config() {
	check 0 "" "$AUDIT" verify --config "$A/etc/calyx.conf" "$AL"
}
t_audit_wrong_key() {
	check_one_line 1 E_AUDIT "$AUDIT" verify --host-pub "$KEYS/alice.pub.json" "$AL"
}
# tamper_check NAME EXPECTED_LINE: verify the copy $A/NAME.jsonl fails
tamper_check() {
	check_one_line 1 E_AUDIT "$AUDIT" verify --host-pub "$A/etc/host.pub.json" "$A/$1.jsonl" || return 1
	grep -q "line $2\b" "$ERR" || fail "message does not name line $2: $(first_err)"
}
t_tamper_byte() {
	# one byte of line 3: "exec.started" -> "exec.startee". Line 3 is
	# unsigned (a mac; the checkpoint is line 10): the chain breaks at the
	# line after it, whose prev no longer matches
	sed '3s/"type":"exec.started"/"type":"exec.startee"/' "$AL" >"$A/byte.jsonl"
	[ "$(cmp "$AL" "$A/byte.jsonl" 2>/dev/null | wc -l)" -eq 1 ] || fail "tamper copy not made" || return 1
	[ "$(cmp -l "$AL" "$A/byte.jsonl" | wc -l)" -eq 1 ] || fail "more than one byte differs" || return 1
	tamper_check byte 4 || return 1
	grep -q "line 4: prev does not match the hash of the line before" "$ERR" || fail "message: $(first_err)"
}
t_tamper_byte_time() {
	# the last millisecond digit of line 2's time (JSON stays well formed)
	awk 'NR == 2 { p = index($0, "Z\",\"type\"") - 1; c = substr($0, p, 1)
	               $0 = substr($0, 1, p - 1) (c == "0" ? "1" : "0") substr($0, p + 1) }
	     { print }' "$AL" >"$A/time.jsonl"
	[ "$(cmp -l "$AL" "$A/time.jsonl" | wc -l)" -eq 1 ] || { fail "expected exactly one changed byte"; return 1; }
	tamper_check time 3
}
t_tamper_checkpoint_sig() {
	# one character of the signature of the checkpoint at line 10
	awk 'NR == 10 { p = index($0, "\"sig\":\"") + 20; c = substr($0, p, 1)
	                $0 = substr($0, 1, p - 1) (c == "A" ? "B" : "A") substr($0, p + 1) }
	     { print }' "$AL" >"$A/cksig.jsonl"
	[ "$(cmp -l "$AL" "$A/cksig.jsonl" | wc -l)" -eq 1 ] || { fail "expected exactly one changed byte"; return 1; }
	tamper_check cksig 10 || return 1
	grep -q "line 10: signature does not verify" "$ERR" || fail "message: $(first_err)"
}
t_tamper_delete() {
	sed '3d' "$AL" >"$A/delete.jsonl"
	tamper_check delete 3
}
t_tamper_swap() {
	awk 'NR == 2 { l2 = $0; next } NR == 3 { print; print l2; next } { print }' "$AL" >"$A/swap.jsonl"
	[ "$(nlines "$A/swap.jsonl")" -eq 13 ] || fail "swap copy has wrong length" || return 1
	tamper_check swap 2
}
t_tamper_truncate() {
	local size; size=$(stat -c %s "$AL")
	head -c $((size - 40)) "$AL" >"$A/trunc.jsonl"
	tamper_check trunc 13 || return 1
	grep -q 'torn' "$ERR" || fail "message does not say the line is torn: $(first_err)"
}
t_tamper_drop_last() {
	# dropping whole trailing lines cannot be seen without an expected head:
	# the rest still verifies (documented: --expect-head comes later)
	head -n 10 "$AL" >"$A/droplast.jsonl"
	check 0 "" "$AUDIT" verify --host-pub "$A/etc/host.pub.json" "$A/droplast.jsonl"
}
t_unsigned_tail() {
	# cut after line 12: lines 11 and 12 follow the last checkpoint (line
	# 10), as a writer killed before its sync leaves them: chain intact,
	# counted as unsigned, exit 3
	head -n 12 "$AL" >"$A/unsigned.jsonl"
	check 3 "" "$AUDIT" verify --host-pub "$A/etc/host.pub.json" "$A/unsigned.jsonl" || return 1
	expect_stdout_has "audit log OK up to seq 10: 12 events, chain intact, UNSIGNED: the last 2 (seq 11 to 12)" || return 1
	[ ! -s "$ERR" ] || fail "stderr: $(first_err)"
}
# A torn tail (a crash mid-write: the log ends in part of a line) is
# reported by verify with the seq it follows; the next run repairs it (the
# torn bytes kept in a file next to the log, the log cut back to its last
# newline, an audit.repaired event chained and signed) and goes on. An
# unterminated tail longer than any line is tampering: runs stop, fail
# closed, before anything is consumed, on one line.
TORN_AFTER=0 TORN_NAME=""
mk_torn() { # NAME: a host whose log holds one run's events, its last line cut mid-way
	local l=$T/$1/log/audit.jsonl n size
	mk_env "$1" || return 1
	mk_run_lease "$1" "$T/$1/first.lease" || return 1
	xrun cx "$1" --lease "$T/$1/first.lease"
	expect_rc 0 || return 1
	n=$(nlines "$l") size=$(stat -c %s "$l")
	TORN_AFTER=$((n - 1))
	# keep the first 100 bytes of the last line, without its newline
	head -c $((size - $(tail -n 1 "$l" | wc -c) + 100)) "$l" >"$T/$1/log.new" &&
		cat "$T/$1/log.new" >"$l" && rm "$T/$1/log.new" || fail "cannot cut the log" || return 1
	tail -c 100 "$l" >"$T/$1/fragment"
	TORN_NAME=audit.jsonl.torn-$TORN_AFTER-$(sha256sum <"$T/$1/fragment" | cut -c 1-16)
	[ "$(tail -c 1 "$l" | od -An -c | tr -d ' ')" != '\n' ] || fail "log still ends with a newline"
}
t_audit_torn_verify() {
	mk_torn torn || return 1
	check_one_line 1 E_AUDIT "$AUDIT" verify --host-pub "$T/torn/etc/host.pub.json" "$T/torn/log/audit.jsonl" || return 1
	grep -q "line $((TORN_AFTER + 1)) is torn: 100 bytes after seq $TORN_AFTER " "$ERR" ||
		fail "not reported as torn after seq $TORN_AFTER: $(first_err)" || return 1
	grep -qF "calyx-exec repairs it on its next append" "$ERR" || fail "no repair hint: $(first_err)" || return 1
	grep -qF "as '$TORN_NAME'" "$ERR" || fail "does not name '$TORN_NAME': $(first_err)"
}
t_audit_torn_repaired() {
	local l=$T/torn/log/audit.jsonl intact
	intact=$(head -n "$TORN_AFTER" "$l" | sha256sum)
	mk_run_lease torn "$T/torn/x.lease" || return 1
	check 0 "" cx torn --lease "$T/torn/x.lease" || return 1
	[ ! -s "$ERR" ] || fail "the run printed: $(first_err)" || return 1
	[ "$(ls -A "$T/torn/state/ledger" | wc -l)" -eq 2 ] || fail "the second lease was not consumed" || return 1
	[ "$(head -n "$TORN_AFTER" "$l" | sha256sum)" = "$intact" ] || fail "the intact lines changed" || return 1
	local got; got=$(audit_types "$l" | tr ' ' '\n' | sed -n "$((TORN_AFTER + 1)),$((TORN_AFTER + 3))p" | tr '\n' ' ')
	[ "$got" = "audit.repaired lease.verified lease.consumed " ] ||
		fail "after the intact lines: '$got', expected audit.repaired then the new run" || return 1
	[ "$(audit_seqs "$l")" = "$(seq_list "$(nlines "$l")")" ] || fail "seq is '$(audit_seqs "$l")'"
}
t_audit_torn_event() {
	local l=$T/torn/log/audit.jsonl want
	want="\"details\":{\"torn_bytes\":100,\"torn_sha256\":\"$(sha256sum <"$T/torn/fragment" | cut -c 1-64)\",\"after_seq\":$TORN_AFTER,\"saved_as\":\"$TORN_NAME\"}"
	sed -n "$((TORN_AFTER + 1))p" "$l" | grep -qF "{\"seq\":$((TORN_AFTER + 1)),\"time\":" ||
		fail "line $((TORN_AFTER + 1)) is not seq $((TORN_AFTER + 1))" || return 1
	sed -n "$((TORN_AFTER + 1))p" "$l" | grep -qF "$want" ||
		fail "audit.repaired details: $(sed -n "$((TORN_AFTER + 1))p" "$l" | grep -o '"details":{[^}]*}'), expected $want"
}
t_audit_torn_evidence() {
	local ev=$T/torn/log/$TORN_NAME
	[ -f "$ev" ] && [ ! -L "$ev" ] || fail "no evidence file $TORN_NAME: $(ls "$T/torn/log" | tr '\n' ' ')" || return 1
	[ "$(stat -c '%a %u' "$ev")" = "600 0" ] || fail "evidence is '$(stat -c '%a %u' "$ev")', expected 600, root" || return 1
	cmp -s "$ev" "$T/torn/fragment" || fail "the evidence file does not hold exactly the torn bytes"
}
t_audit_torn_verify_after() {
	check 0 "" "$AUDIT" verify --host-pub "$T/torn/etc/host.pub.json" "$T/torn/log/audit.jsonl" || return 1
	expect_stdout_has "audit log OK: $(nlines "$T/torn/log/audit.jsonl") events"
}
# over the limit: 256 KiB + 1 bytes without a newline after the last line
mk_overlong() { # NAME
	mk_env "$1" || return 1
	mk_run_lease "$1" "$T/$1/first.lease" || return 1
	xrun cx "$1" --lease "$T/$1/first.lease"
	expect_rc 0 || return 1
	head -c $((256 * 1024 + 1)) /dev/zero | tr '\0' 'a' >>"$T/$1/log/audit.jsonl"
}
t_audit_overlong_refused() {
	local l=$T/overlong/log/audit.jsonl before
	mk_overlong overlong || return 1
	before=$(sha256sum <"$l")
	mk_run_lease overlong "$T/overlong/x.lease" || return 1
	check_one_line 125 E_AUDIT cx overlong --lease "$T/overlong/x.lease" || return 1
	grep -q 'without a newline: .*tampering' "$ERR" || fail "not called tampering: $(first_err)" || return 1
	[ "$(ls -A "$T/overlong/state/ledger" | wc -l)" -eq 1 ] || fail "the lease was consumed although the audit log could not be written" || return 1
	[ "$(sha256sum <"$l")" = "$before" ] || fail "the log was modified" || return 1
	[ "$(ls -A "$T/overlong/log")" = audit.jsonl ] || fail "files next to the log: $(ls -A "$T/overlong/log" | tr '\n' ' ')"
}
t_audit_overlong_verify() {
	check_one_line 1 E_AUDIT "$AUDIT" verify --host-pub "$T/overlong/etc/host.pub.json" "$T/overlong/log/audit.jsonl" || return 1
	# the intact lines end with a newline each: wc -l counts them
	grep -q "line $(($(wc -l <"$T/overlong/log/audit.jsonl") + 1)): .*tampering" "$ERR" || fail "message: $(first_err)"
}
t_audit_overlong_refusal_one_line() {
	# a refusal stands even when it cannot be audited: 77, one line
	check_one_line 77 E_SIG_COUNT cx overlong --lease "$M/unsigned.lease"
}

run_test audit.real_run_then_replay          t_audit_runs
run_test audit.one_event_per_step_in_order   t_audit_types
run_test audit.seq_1_to_N                    t_audit_seq
run_test audit.events_name_lease_and_run     t_audit_ids
run_test audit.event_details                 t_audit_details
run_test audit.result_names_audit_range      t_audit_result_range
run_test audit.log_root_0640                 t_audit_mode
run_test audit.verify_host_pub               t_audit_verify
run_test audit.verify_config                 t_audit_verify_config
run_test audit.verify_wrong_key_fails        t_audit_wrong_key
run_test audit.tamper_one_byte_type          t_tamper_byte
run_test audit.tamper_one_byte_time          t_tamper_byte_time
run_test audit.tamper_checkpoint_signature   t_tamper_checkpoint_sig
run_test audit.tamper_delete_middle_line     t_tamper_delete
run_test audit.tamper_swap_two_lines         t_tamper_swap
run_test audit.tamper_truncate_last_line     t_tamper_truncate
run_test audit.drop_last_lines_not_detectable_without_head t_tamper_drop_last
run_test audit.unsigned_tail_counted_exit_3  t_unsigned_tail
t_expect_head() {
	local head
	check 0 "" "$AUDIT" verify --host-pub "$A/etc/host.pub.json" "$AL" || return 1
	head=$(sed -n 's/.* head \([0-9a-f]\{64\}\)$/\1/p' "$OUT")
	[ -n "$head" ] || fail "verify printed no head" || return 1
	check 0 "" "$AUDIT" verify --host-pub "$A/etc/host.pub.json" --expect-head "$head" "$AL" || return 1
	expect_stdout_has "expected head at seq 13" || return 1
	# the same log with its last line dropped: now detected
	check_one_line 1 E_AUDIT "$AUDIT" verify --host-pub "$A/etc/host.pub.json" --expect-head "$head" "$A/droplast.jsonl" || return 1
	grep -q 'removed from its end' "$ERR" || fail "message: $(first_err)"
}
run_test audit.expect_head_detects_dropped_tail t_expect_head
t_show() {
	check 0 "" "$AUDIT" show "$AL" --type exec. || return 1
	[ "$(nlines "$OUT")" -eq 6 ] || fail "show --type exec. printed $(nlines "$OUT") lines, expected 6" || return 1
	check 0 "" "$AUDIT" show "$AL" --lease "$(echo "$AUDIT_ID" | cut -c 1-8)" --type lease.rejected --json || return 1
	[ "$(nlines "$OUT")" -eq 1 ] && cmp -s "$OUT" <(sed -n 12p "$AL") ||
		fail "show --json does not pass the rejected line through unchanged" || return 1
	check 0 "" "$AUDIT" show "$AL" --run no-such-run || return 1
	[ ! -s "$OUT" ] || fail "show --run no-such-run printed events"
}
run_test audit.show_filters t_show

# The second signer's review: show --policy flags an interpreter command;
# sign on a terminal shows the lease and asks (answer n: nothing signed).
t_review_show() {
	check 0 "" "$LEASE" show --policy "$M/etc/policy.json" "$ML" || return 1
	expect_stdout_has "review:" || return 1
	expect_stdout_has "! /usr/bin/make interprets its arguments"
}
run_test lease.show_risk_review t_review_show
t_sign_prompt() {
	command -v script >/dev/null || { skip_test lease.sign_asks_on_a_terminal "no 'script' (bsdutils) for a pty"; return 0; }
	mk_run_lease main "$T/prompt.lease" "" "" none || return 1
	local before
	before=$(sha256sum <"$T/prompt.lease")
	printf 'n\n' | script -qec "$LEASE sign --key $KEYS/alice.key $T/prompt.lease" /dev/null >"$OUT" 2>&1
	[ "$(sha256sum <"$T/prompt.lease")" = "$before" ] || fail "answering n still signed the lease" || return 1
	grep -q 'sign this lease with' "$OUT" || fail "no question asked: $(head -c 200 "$OUT")" || return 1
	grep -q 'review:' "$OUT" || fail "no review shown before the question" || return 1
	printf 'y\n' | script -qec "$LEASE sign --key $KEYS/alice.key $T/prompt.lease" /dev/null >"$OUT" 2>&1
	grep -q 'signed lease' "$OUT" || fail "answering y did not sign: $(tail -c 200 "$OUT")"
}
run_test lease.sign_asks_on_a_terminal t_sign_prompt
run_test audit.torn_log_verify_names_it       t_audit_torn_verify
run_test audit.torn_log_repaired_by_next_run  t_audit_torn_repaired
run_test audit.torn_log_repaired_event        t_audit_torn_event
run_test audit.torn_log_evidence_kept         t_audit_torn_evidence
run_test audit.torn_log_verifies_after_repair t_audit_torn_verify_after
run_test audit.overlong_tail_refused          t_audit_overlong_refused
run_test audit.overlong_tail_verify_names_it  t_audit_overlong_verify
run_test audit.overlong_tail_refusal_one_line t_audit_overlong_refusal_one_line

# --------------------------------------------------------------------------
# 6. concurrent appenders: 8 runs of 8 fresh leases at once, all on the
#    same workspace: the policy says "workspace_lock": "wait", so the runs
#    queue on the tree lock while their audit events interleave
# --------------------------------------------------------------------------
P=$T/par
mk_env par || echo "fixture: mk_env par failed: $WHY" >&2
sed -i 's/^{ "v": 1,/{ "v": 1, "workspace_lock": "wait",/' "$P/etc/policy.json"
PL=$P/log/audit.jsonl

t_par_runs() {
	local i pids=() rc bad=""
	for i in 1 2 3 4 5 6 7 8; do
		mk_run_lease par "$P/l$i.lease" || return 1
	done
	for i in 1 2 3 4 5 6 7 8; do
		cx par --lease "$P/l$i.lease" >/dev/null 2>"$P/l$i.err" &
		pids+=("$!")
	done
	for i in 1 2 3 4 5 6 7 8; do
		wait "${pids[$((i - 1))]}"; rc=$?
		if [ "$rc" -ne 0 ] || [ -s "$P/l$i.err" ]; then
			bad="$bad run$i=exit$rc:$(head -n 1 "$P/l$i.err" | cut -c 1-80)"
		fi
	done
	[ -z "$bad" ] || fail "not every run consumed and completed with exit 0:$bad" || return 1
	[ "$(ls -A "$P/state/ledger" | wc -l)" -eq 8 ] || fail "ledger has $(ls -A "$P/state/ledger" | wc -l) entries, expected 8"
}
t_par_verify() {
	check 0 "" "$AUDIT" verify --host-pub "$P/etc/host.pub.json" "$PL" || return 1
	expect_stdout_has "audit log OK: $(nlines "$PL") events, chain and signatures intact"
}
t_par_count() {
	# 8 runs x 9 events, and one checkpoint per sync that found its lines
	# not signed yet (1 to 8: another run's checkpoint may have come first)
	local n ck got
	n=$(nlines "$PL") ck=$(grep -c '"type":"audit.checkpoint"' "$PL")
	[ $((n - ck)) -eq 72 ] || fail "log has $((n - ck)) events, expected 72 (8 runs x 9)" || return 1
	[ "$ck" -ge 1 ] && [ "$ck" -le 8 ] || fail "$ck checkpoints, expected 1 to 8" || return 1
	tail -n 1 "$PL" | grep -q '"type":"audit.checkpoint"' || fail "the last line is not a checkpoint" || return 1
	got=$(audit_seqs "$PL")
	[ "$got" = "$(seq_list "$n")" ] || fail "seq is '$got'"
}
t_par_per_lease() {
	local i id got
	for i in 1 2 3 4 5 6 7 8; do
		id=$(lease_id "$P/l$i.lease")
		got=$(grep "\"lease_id\":\"$id\"" "$PL" >"$P/one.jsonl"; audit_types "$P/one.jsonl")
		[ "$got" = "lease.verified lease.consumed exec.started exec.spawned exec.finished exec.started exec.spawned exec.finished workspace.committed" ] ||
			fail "lease $i has events '$got'" || return 1
	done
}

run_test concurrent.8_runs_in_parallel       t_par_runs
run_test concurrent.log_verifies             t_par_verify
run_test concurrent.72_events_and_checkpoints_seq_1_to_N t_par_count
run_test concurrent.9_events_per_lease_in_order t_par_per_lease

# --------------------------------------------------------------------------
# 7. --help / --version of every binary
# --------------------------------------------------------------------------
t_help() {
	check 0 "" "$B/$1" --help || return 1
	grep -q '^usage: '"$1" "$OUT" || fail "--help does not print 'usage: $1'"
}
t_version() {
	check 0 "" "$B/$1" --version || return 1
	grep -q "^$1 [0-9]" "$OUT" || fail "--version does not print '$1 <version>': $(head -n 1 "$OUT")"
}
for b in calyx-exec calyx-lease calyx-policy calyx-audit; do
	run_test "cli.${b}_help"    t_help "$b"
	run_test "cli.${b}_version" t_version "$b"
done

# --------------------------------------------------------------------------
# 8. calyx-policy check
# --------------------------------------------------------------------------
t_pol_ok() {
	check 0 "" "$POLICY" check "$M/etc/policy.json" || return 1
	expect_stdout_has "policy OK"
}
t_pol_unknown_key() {
	sed 's/^{ "v": 1,/{ "v": 1, "frobnicate": true,/' "$M/etc/policy.json" >"$T/unknown-key.policy.json"
	grep -q frobnicate "$T/unknown-key.policy.json" || fail "could not add the key" || return 1
	check_one_line 1 E_POLICY "$POLICY" check "$T/unknown-key.policy.json" || return 1
	grep -q frobnicate "$ERR" || fail "message does not name the unknown key: $(first_err)"
}
t_pol_lease_ok() {
	check 0 "" "$POLICY" check "$M/etc/policy.json" "$ML" || return 1
	expect_stdout_has "fits under this policy"
}
t_pol_lease_sh() {
	LEASE_NEW_FLAGS=--no-host-check mk_run_lease main "$M/sh.lease" /bin/sh "" none || return 1
	check_one_line 77 E_POLICY_COMMAND "$POLICY" check "$M/etc/policy.json" "$M/sh.lease"
}
t_pol_lease_no_audience() {
	# the policy requires an audience: a lease without one does not fit
	write_body "$M/noaud.body" || return 1
	sed -i 's/, "audience": "[^"]*"//' "$M/noaud.body"
	! grep -q audience "$M/noaud.body" || fail "could not drop the audience" || return 1
	mk_lease main "$M/noaud.lease" "$M/noaud.body" || fail "lease: $WHY" || return 1
	check_one_line 77 E_AUDIENCE "$POLICY" check "$M/etc/policy.json" "$M/noaud.lease"
}
t_pol_lease_other_policy() {
	check_one_line 77 E_POLICY_HASH "$POLICY" check "$T/newpolicy/etc/policy.json" "$ML"
}

run_test policy.check_ok                       t_pol_ok
run_test policy.unknown_key_E_POLICY           t_pol_unknown_key
run_test policy.check_lease_ok                 t_pol_lease_ok
run_test policy.lease_bin_sh_E_POLICY_COMMAND  t_pol_lease_sh
run_test policy.lease_for_other_policy_E_POLICY_HASH t_pol_lease_other_policy
run_test policy.lease_without_audience_E_AUDIENCE t_pol_lease_no_audience

summary
