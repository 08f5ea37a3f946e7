#!/usr/bin/env bash
# calyx-ctl init and the host check (calyx-exec --probe): a host made ready
# from nothing, idempotently, then a signed lease run end to end on it.
#
#   bash tests/integration/init.sh [BUILD_DIR]      (root)
#
# Every init runs with --prefix/--state/--log under $T: nothing outside
# $T is created (the host check reads /etc/passwd and friends, loads a
# trivial BPF program and looks at the shared monitor's pins read-only).
set -u
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

CTL=$B/calyx-ctl
[ -x "$CTL" ] || { echo "init.sh: $CTL missing (run 'make')" >&2; exit 2; }

# init_at NAME [ARGS...]: calyx-ctl init for the host $T/NAME
# (etc/, state/, log/), host id $HOST_ID.
init_at() {
	local h=$T/$1; shift
	xrun "$CTL" init --host-id "$HOST_ID" --prefix "$h/etc" --state "$h/state" --log "$h/log" "$@"
}

# The files init makes, as "mode owner path", and their hashes.
ITEMS=(etc etc/calyx.conf etc/keyring.json etc/host.key etc/host.pub.json etc/policy.json
	etc/examples etc/examples/README.examples etc/examples/build-job.json
	etc/examples/deploy-script.json state log)
modes() {
	local h=$T/$1 i
	for i in "${ITEMS[@]}"; do stat -c "%a %u $i" "$h/$i" 2>&1; done
}
hashes() { (cd "$T/$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum && find . -printf '%p %m %u %Y\n' | sort); }

t_fresh() {
	init_at fresh || true
	expect_rc 1 || return 1 # created, not ready: no signer keys, no commands
	local want got
	want="755 0 etc
644 0 etc/calyx.conf
644 0 etc/keyring.json
600 0 etc/host.key
644 0 etc/host.pub.json
644 0 etc/policy.json
755 0 etc/examples
644 0 etc/examples/README.examples
644 0 etc/examples/build-job.json
644 0 etc/examples/deploy-script.json
700 0 state
755 0 log"
	got=$(modes fresh)
	[ "$got" = "$want" ] || fail "modes: $(diff <(echo "$want") <(echo "$got") | tr '\n' '|')" || return 1
	[ "$(grep -c '^created ' "$OUT")" -eq 12 ] || fail "expected 12 'created' lines: $(head -c 300 "$OUT")" || return 1
	[ "$(stat -c %s "$T/fresh/etc/host.key")" -eq 32 ] || fail "host.key is not a 32-byte seed" || return 1
	grep -qE '^  MISSING +keyring .*0 human and 0 agent' "$OUT" || fail "no MISSING keyring row" || return 1
	grep -qE '^  MISSING +policy .*lists no commands' "$OUT" || fail "no MISSING policy row" || return 1
	expect_stdout_has "host not ready: 2 items MISSING" || return 1
	expect_file_has "$T/fresh/etc/calyx.conf" '"run_uid_range"' || return 1
	expect_file_has "$T/fresh/etc/calyx.conf" "\"host_id\": \"$HOST_ID\"" || return 1
	# every policy init writes is one the parser accepts (the examples
	# name programs by their usual paths: templates, --no-host)
	check 0 "" "$POLICY" check "$T/fresh/etc/policy.json" || fail "policy.json: $(first_err)" || return 1
	for p in examples/build-job.json examples/deploy-script.json; do
		check 0 "" "$POLICY" check "$T/fresh/etc/$p" --no-host || fail "$p: $(first_err)" || return 1
	done
	grep -q '"commands": \[\]' "$T/fresh/etc/policy.json" || fail "the starter policy lists commands"
}
run_test init.fresh_creates_every_item_with_its_mode t_fresh

t_again() {
	[ -f "$T/fresh/etc/host.key" ] || fail "needs init.fresh_creates_every_item_with_its_mode" || return 1
	local before after key
	before=$(hashes fresh)
	key=$(sha256sum <"$T/fresh/etc/host.key")
	sleep 1.1 # a rewrite would show in the mtimes (%Y)
	init_at fresh || true
	expect_rc 1 || return 1
	after=$(hashes fresh)
	[ "$after" = "$before" ] || fail "a second init changed: $(diff <(echo "$before") <(echo "$after") | head -4 | tr '\n' '|')" || return 1
	[ "$(sha256sum <"$T/fresh/etc/host.key")" = "$key" ] || fail "the host key changed" || return 1
	[ "$(grep -c '^exists, kept: ' "$OUT")" -eq 12 ] || fail "expected 12 'exists, kept' lines" || return 1
	! grep -q '^created' "$OUT" || fail "a second init created: $(grep '^created' "$OUT" | head -1)"
}
run_test init.second_run_keeps_everything t_again

t_dry() {
	init_at dry --dry-run
	expect_rc 0 || return 1
	[ ! -e "$T/dry" ] || fail "--dry-run created $(find "$T/dry" | head -3 | tr '\n' ' ')" || return 1
	[ "$(grep -c '^would create: ' "$OUT")" -eq 12 ] || fail "the plan does not list 12 items" || return 1
	# on an initialised host: nothing would be created, nothing changes
	local before; before=$(hashes fresh)
	init_at fresh --dry-run
	expect_rc 0 || return 1
	! grep -q '^would create' "$OUT" || fail "plans to create on an initialised host" || return 1
	[ "$(hashes fresh)" = "$before" ] || fail "--dry-run changed the initialised host"
}
run_test init.dry_run_changes_nothing t_dry

t_group_writable() {
	init_at gw || true
	chmod 664 "$T/gw/etc/keyring.json"
	init_at gw || true
	expect_rc 1 || return 1
	grep -qE "^  warning: $T/gw/etc/keyring.json: .*writable by group or others" "$OUT" ||
		fail "no warning about the keyring: $(grep -i keyring "$OUT" | head -2 | tr '\n' '|')" || return 1
	grep -qE '^  MISSING +keyring .*writable by group or others' "$OUT" || fail "keyring row is not MISSING" || return 1
	[ "$(stat -c %a "$T/gw/etc/keyring.json")" = 664 ] || fail "init changed the keyring's mode"
}
run_test init.group_writable_keyring_warned_and_not_ready t_group_writable

t_usage() {
	check 2 "absolute normalized" "$CTL" init --prefix etc/calyx --dry-run || return 1
	check 2 "is not an id" "$CTL" init --host-id '-bad id' --dry-run || return 1
	check 2 "is not FIRST-LAST" "$CTL" init --run-uids 0-10 --dry-run || return 1
	# uid 1 (daemon on Debian) is a user's: a run must never be it
	check 2 "in /etc/" "$CTL" init --run-uids 1-1 --dry-run || return 1
	check 2 "unexpected argument" "$CTL" init extra --dry-run
}
run_test init.usage_errors_exit_2 t_usage

# Not root: refused in one line, nothing made (--dry-run still plans).
t_not_root() {
	command -v setpriv >/dev/null || { WHY="setpriv missing"; return 1; }
	check_one_line 125 E_USAGE setpriv --reuid 65534 --regid 65534 --clear-groups \
		"$CTL" init --prefix "$T/nr/etc" --state "$T/nr/state" --log "$T/nr/log" || return 1
	grep -q "must run as root" "$ERR" || fail "stderr: $(first_err)" || return 1
	[ ! -e "$T/nr" ] || fail "a refused init created $T/nr" || return 1
	xrun setpriv --reuid 65534 --regid 65534 --clear-groups \
		"$CTL" init --prefix "$T/nr/etc" --state "$T/nr/state" --log "$T/nr/log" --dry-run
	expect_rc 0
}
run_test init.not_root_refused_dry_run_allowed t_not_root

# The init'd host, made ready by hand as README says (signer keys in the
# keyring, commands in the policy), runs a signed lease; its audit log
# verifies with the host.pub.json init wrote.
t_e2e() {
	local h=$T/e2e
	init_at e2e || true
	expect_rc 1 || return 1
	xrun "$EXEC" --config "$h/etc/calyx.conf" --probe
	expect_rc 1 || return 1
	expect_stdout_has "host not ready" || return 1
	lib_keys || return 1
	for k in alice bot; do
		check 0 "" "$LEASE" keyring add "$h/etc/keyring.json" "$KEYS/$k.pub.json" || return 1
	done
	policy_json '["/usr/bin/true"]' >"$h/etc/policy.json.new" && chmod 644 "$h/etc/policy.json.new" &&
		mv "$h/etc/policy.json.new" "$h/etc/policy.json" || fail "write policy" || return 1
	init_at e2e
	expect_rc 0 || fail "init on the completed host: exit $RC: $(grep -E 'MISSING|warning' "$OUT" | head -2 | tr '\n' '|')" || return 1
	expect_stdout_has "host ready: $h/etc/calyx.conf" || return 1
	xrun "$EXEC" --config "$h/etc/calyx.conf" --probe
	expect_rc 0 || fail "--probe: exit $RC: $(grep MISSING "$OUT" | head -2)" || return 1
	grep -qE '^  (ok|note) +bpf monitor +(shared|per-run monitor)' "$OUT" || fail "--probe has no bpf monitor row" || return 1
	expect_stdout_has "host ready" || return 1
	body_json '["/usr/bin/true"]' >"$T/e2e.body"
	mk_lease e2e "$T/e2e.lease" "$T/e2e.body" || return 1
	xrun "$EXEC" --config "$h/etc/calyx.conf" --lease "$T/e2e.lease"
	expect_rc 0 || return 1
	[ -s "$h/log/audit.jsonl" ] || fail "no audit log in $h/log" || return 1
	check 0 "" "$AUDIT" verify --host-pub "$h/etc/host.pub.json" "$h/log/audit.jsonl" || return 1
	# after a run, the shared monitor (the config's default pin dir) is
	# pinned and checks out, or this host runs a monitor per run
	xrun "$EXEC" --config "$h/etc/calyx.conf" --probe
	expect_rc 0 || return 1
	grep -E '^  (ok|note) +bpf monitor ' "$OUT" | grep -qE 'pinned, programs and maps check out|per-run monitor' ||
		fail "bpf monitor row after a run: $(grep 'bpf monitor' "$OUT")" || return 1
	# and a key other than the host's does not verify it
	xrun "$AUDIT" verify --host-pub "$KEYS/bot.pub.json" "$h/log/audit.jsonl"
	[ "$RC" -ne 0 ] || fail "the log verified with another key"
}
run_test init.end_to_end_signed_lease_runs_and_audit_verifies t_e2e

# The host key is kept when only its public half is gone: the half is
# derived again from it, never a new key made.
t_pub_again() {
	[ -f "$T/fresh/etc/host.key" ] || fail "needs init.fresh_creates_every_item_with_its_mode" || return 1
	local pub; pub=$(cat "$T/fresh/etc/host.pub.json")
	local key; key=$(sha256sum <"$T/fresh/etc/host.key")
	rm "$T/fresh/etc/host.pub.json"
	init_at fresh || true
	grep -qF "created $T/fresh/etc/host.pub.json (the existing host key's public half" "$OUT" ||
		fail "host.pub.json not recreated from the key" || return 1
	[ "$(sha256sum <"$T/fresh/etc/host.key")" = "$key" ] || fail "the host key changed" || return 1
	[ "$(cat "$T/fresh/etc/host.pub.json")" = "$pub" ] || fail "the recreated public half differs"
}
run_test init.missing_host_pub_derived_from_kept_key t_pub_again

summary
