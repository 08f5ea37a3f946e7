#!/usr/bin/env bash
# Audit log at scale: a log of more than 10,000 events written by real runs
# of calyx-exec, verified whole; then, each on a copy, one kind of tampering,
# which 'calyx-audit verify' must report (exit 1, one line) naming the exact
# first bad line.
#
#   bash tests/integration/audit_log.sh [BUILD_DIR]   (default: build; run as root)
#
# The runs are of tests/workloads/spawner, which starts N processes one
# after another (each an exec.spawned event); copied outside /tmp and /work
# (which a lease cannot name) and leased as ro + the one command. The BPF
# exec tracer reports at most 256 execs a run, so a run gives about 260
# events; runs go two at a time (their appends interleave under the log's
# lock). Each run's sync signs a checkpoint (audit.checkpoint) over the
# lines before it; the exec.spawned lines carry a mac (format v2,
# docs/audit-events.md). Generation time is printed, never asserted. The
# forger's lines come from tests/tools/audit_forge (a second key, the calyx
# line format, signed or with a mac). Last, a forged line appended to the
# log itself: the next run refuses to chain onto it.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
SPAWNER=$B/workloads/spawner FORGE=$B/tools/audit_forge
for _f in "$SPAWNER" "$FORGE"; do
	[ -x "$_f" ] || { echo "$LIB_PROG: $_f missing (run 'make tests')" >&2; exit 2; }
done
unset _f
HB=$(mktemp -d /var/tmp/calyx-audit.XXXXXX) || exit 2
# shellcheck disable=SC2016  # expanded when the script exits
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$SPAWNER" "$HB/spawner" || exit 2

WANT=10000      # events at least
PER_RUN=255     # children a run starts: with the run itself, 256 execs
MAX_RUNS=100    # give up after this many runs
policy_json "[\"$HB/spawner\"]" "[\"/usr\", \"$HB\"]" >"$T/al.policy.json"
mk_host al "$T/al.policy.json" || { echo "fixture: mk_host al: $WHY" >&2; exit 2; }
L=$T/al/log/audit.jsonl
PUB=$T/al/etc/host.pub.json
C=$T/copies
mkdir -p "$C"
N=0 HEAD=""   # lines of the generated log, and the head verify printed

# al_lease I: lease $T/al/I.lease for one spawner run
al_lease() {
	printf '{"run_id":"al-%s","audience":"%s","argv":["%s/spawner","%s"],"paths":{"ro":["/usr","%s"]},"limits":{"wall_ms":60000}}\n' \
		"$1" "$HOST_ID" "$HB" "$PER_RUN" "$HB" >"$T/al/$1.body" &&
		mk_lease al "$T/al/$1.lease" "$T/al/$1.body"
}

# al_run I: run lease I (stuck runs stopped after 120 s); exit code in $T/al/I.rc
al_run() {
	timeout -k 5 120 "$EXEC" --config "$T/al/etc/calyx.conf" --lease "$T/al/$1.lease" \
		>"$T/al/$1.out" 2>"$T/al/$1.err"
	echo $? >"$T/al/$1.rc"
}

# the line number of the first exec.spawned line at or after line $1
spawned_from() {
	awk -v from="$1" 'NR >= from && index($0, "\"type\":\"exec.spawned\"") { print NR; exit }' "$L"
}

# tampered NAME FIRST_BAD [SUBSTR]: verify of copy $C/NAME.jsonl fails on
# one line naming line FIRST_BAD (and containing SUBSTR)
tampered() {
	check_one_line 1 E_AUDIT "$AUDIT" verify --host-pub "$PUB" "$C/$1.jsonl" || return 1
	printf '      %s\n' "$(first_err)"
	grep -qE "audit log: line $2( is|:)" "$ERR" || fail "does not name line $2 first: $(first_err)" || return 1
	[ -z "${3:-}" ] || grep -qF -- "$3" "$ERR" || fail "message lacks '$3': $(first_err)"
}

# --------------------------------------------------------------------------
# 1. a big log from real runs
# --------------------------------------------------------------------------
t_generate() {
	local i=0 t0 t1 bad="" rc
	t0=$(date +%s.%N)
	while [ "$(nlines "$L" 2>/dev/null || echo 0)" -lt "$WANT" ] && [ "$i" -lt "$MAX_RUNS" ]; do
		al_lease $((i + 1)) && al_lease $((i + 2)) || return 1
		al_run $((i + 1)) &
		al_run $((i + 2))
		wait
		for rc in $((i + 1)) $((i + 2)); do
			[ "$(cat "$T/al/$rc.rc")" = 0 ] || bad="$bad run$rc=exit$(cat "$T/al/$rc.rc"):$(head -c 120 "$T/al/$rc.err")"
		done
		[ -z "$bad" ] || fail "not every run exited 0:$bad" || return 1
		i=$((i + 2))
	done
	t1=$(date +%s.%N)
	N=$(nlines "$L")
	printf '      %d lines from %d runs (%d exec.spawned, %d checkpoints) in %s s\n' "$N" "$i" \
		"$(grep -c '"type":"exec.spawned"' "$L")" "$(grep -c '"type":"audit.checkpoint"' "$L")" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
	[ "$N" -ge "$WANT" ] || fail "only $N events after $i runs"
}
t_intact() {
	check 0 "" "$AUDIT" verify --host-pub "$PUB" "$L" || return 1
	expect_stdout_has "audit log OK: $N events, chain and signatures intact" || return 1
	HEAD=$(sed -n 's/.* head \([0-9a-f]\{64\}\)$/\1/p' "$OUT")
	[ -n "$HEAD" ] || fail "verify printed no head"
}
t_seqs() {
	[ "$(audit_seqs "$L")" = "$(seq_list "$N")" ] || fail "seq is not 1..$N in order"
}
t_expect_head_intact() {
	check 0 "" "$AUDIT" verify --host-pub "$PUB" --expect-head "$HEAD" "$L" || return 1
	expect_stdout_has "expected head at seq $N"
}
run_test audit_log.generate_10000_events_from_real_runs t_generate
run_test audit_log.intact_log_verifies_all_lines       t_intact
run_test audit_log.seq_1_to_N_in_order                 t_seqs
run_test audit_log.expect_head_of_intact_log           t_expect_head_intact

# --------------------------------------------------------------------------
# 2. tampering, each on a copy: exit 1, one line, the first bad line named
# --------------------------------------------------------------------------
t_edit_field() {
	# the pid in the details of an exec.spawned line in the middle
	local m; m=$(spawned_from $((N / 2)))
	[ -n "$m" ] || fail "no exec.spawned line after line $((N / 2))" || return 1
	awk -v m="$m" 'NR == m { sub(/"pid":[0-9]+/, "\"pid\":1") } { print }' "$L" >"$C/edit.jsonl"
	[ "$(cmp "$L" "$C/edit.jsonl" 2>/dev/null | wc -l)" -eq 1 ] || fail "the copy does not differ" || return 1
	[ "$(diff "$L" "$C/edit.jsonl" | grep -c '^>')" -eq 1 ] || fail "more than one line differs" || return 1
	# line m is unsigned (a mac): the chain breaks at the line after it
	tampered edit $((m + 1)) "prev does not match the hash of the line before"
}
t_delete() {
	local m=$((N / 2 + 7))
	sed "${m}d" "$L" >"$C/delete.jsonl"
	tampered delete "$m" "line deleted, inserted or reordered"
}
t_swap() {
	local m=$((N / 3))
	awk -v m="$m" 'NR == m { keep = $0; next } NR == m + 1 { print; print keep; next } { print }' "$L" >"$C/swap.jsonl"
	[ "$(nlines "$C/swap.jsonl")" -eq "$N" ] || fail "the swapped copy has $(nlines "$C/swap.jsonl") lines" || return 1
	tampered swap "$m"
}
t_forge_control() {
	# control: a line made by audit_forge with the host's own key, at the
	# end, verifies (the forger's format is right; only the key matters)
	cp "$L" "$C/control.jsonl" && "$FORGE" "$T/al/etc/host.key" "$L" run.forged >>"$C/control.jsonl" ||
		fail "audit_forge failed" || return 1
	check 0 "" "$AUDIT" verify --host-pub "$PUB" "$C/control.jsonl" || return 1
	expect_stdout_has "audit log OK: $((N + 1)) events" || return 1
	# and an unsigned one (--mac): chained, counted as the unsigned tail
	cp "$L" "$C/control_mac.jsonl" && "$FORGE" --mac "$T/al/etc/host.key" "$L" run.forged >>"$C/control_mac.jsonl" ||
		fail "audit_forge failed" || return 1
	check 3 "" "$AUDIT" verify --host-pub "$PUB" "$C/control_mac.jsonl" || return 1
	expect_stdout_has "audit log OK up to seq $N: $((N + 1)) events, chain intact, UNSIGNED: the last 1 "
}
t_forge_insert() {
	# a line signed by another key inserted in the middle, with the right
	# seq and prev: its signature is what fails, not the line after it
	local m=$((2 * N / 3))
	head -n $((m - 1)) "$L" >"$C/prefix.jsonl" &&
		"$FORGE" "$KEYS/alice.key" "$C/prefix.jsonl" lease.consumed >"$C/forged.line" ||
		fail "audit_forge failed" || return 1
	{ cat "$C/prefix.jsonl" "$C/forged.line"; tail -n +"$m" "$L"; } >"$C/forge.jsonl"
	grep -q "^{\"seq\":$m," "$C/forged.line" || fail "forged line is not seq $m" || return 1
	tampered forge "$m" "signature does not verify"
}
t_forge_end() {
	# a forged line appended at the end (the lines before are all intact)
	cp "$L" "$C/forge_end.jsonl" && "$FORGE" "$KEYS/alice.key" "$L" run.forged >>"$C/forge_end.jsonl" ||
		fail "audit_forge failed" || return 1
	tampered forge_end $((N + 1)) "signature does not verify"
}
t_forge_insert_mac() {
	# an unsigned line (a mac by another key) inserted in the middle, with
	# the right seq and prev: a verifier cannot check a mac, so the line
	# after it is what fails (its seq, then its prev)
	local m=$((2 * N / 3))
	head -n $((m - 1)) "$L" >"$C/prefix.jsonl" &&
		"$FORGE" --mac "$KEYS/alice.key" "$C/prefix.jsonl" lease.consumed >"$C/forged.line" ||
		fail "audit_forge failed" || return 1
	{ cat "$C/prefix.jsonl" "$C/forged.line"; tail -n +"$m" "$L"; } >"$C/forge_mac.jsonl"
	tampered forge_mac $((m + 1)) "line deleted, inserted or reordered"
}
t_forge_end_mac() {
	# an unsigned line forged at the end: never counted as signed
	cp "$L" "$C/forge_end_mac.jsonl" && "$FORGE" --mac "$KEYS/alice.key" "$L" run.forged >>"$C/forge_end_mac.jsonl" ||
		fail "audit_forge failed" || return 1
	check 3 "" "$AUDIT" verify --host-pub "$PUB" "$C/forge_end_mac.jsonl" || return 1
	expect_stdout_has "audit log OK up to seq $N: $((N + 1)) events, chain intact, UNSIGNED: the last 1 (seq $((N + 1)) to $((N + 1)))"
}
t_torn() {
	# the last line cut after its first 100 bytes, as a crash mid-write
	# leaves it
	local size last
	size=$(stat -c %s "$L") last=$(tail -n 1 "$L" | wc -c)
	head -c $((size - last + 100)) "$L" >"$C/torn.jsonl"
	tampered torn "$N" "line $N is torn: 100 bytes after seq $((N - 1)) " || return 1
	grep -qF "calyx-exec repairs it on its next append" "$ERR" || fail "no repair hint: $(first_err)"
}
t_drop_tail() {
	# whole lines cut from the end: still a consistent log; only the
	# expected head tells, and the first missing line is named
	# (the cut falls inside the last run's sync group: its lines left after
	# the checkpoint before it are an unsigned tail, exit 3)
	# (at least 5 lines; more when the cut would end on a checkpoint,
	# whose group sizes vary with how the runs' events were grouped)
	local k=5
	while sed -n "$((N - k))p" "$L" | grep -q '"type":"audit.checkpoint"'; do k=$((k + 1)); done
	head -n $((N - k)) "$L" >"$C/drop.jsonl"
	check 3 "" "$AUDIT" verify --host-pub "$PUB" "$C/drop.jsonl" || return 1
	expect_stdout_has "UNSIGNED" || return 1
	check_one_line 1 E_AUDIT "$AUDIT" verify --host-pub "$PUB" --expect-head "$HEAD" "$C/drop.jsonl" || return 1
	grep -q "removed from its end" "$ERR" || fail "message: $(first_err)" || return 1
	grep -qE "audit log: line $((N - k + 1)) " "$ERR" || fail "does not name line $((N - k + 1)) as the first missing: $(first_err)"
}
run_test audit_log.tamper_edit_field_middle_line   t_edit_field
run_test audit_log.tamper_delete_line              t_delete
run_test audit_log.tamper_swap_two_lines           t_swap
run_test audit_log.forge_tool_control_host_key     t_forge_control
run_test audit_log.tamper_insert_forged_line       t_forge_insert
run_test audit_log.tamper_forged_line_at_end       t_forge_end
run_test audit_log.tamper_insert_forged_unsigned_line t_forge_insert_mac
run_test audit_log.forged_unsigned_line_at_end_not_signed t_forge_end_mac
run_test audit_log.tamper_truncate_mid_line_torn   t_torn
run_test audit_log.tamper_drop_last_lines_expect_head t_drop_tail

# --------------------------------------------------------------------------
# 3. a forged unsigned line on the log itself: calyx-exec will not chain
#    onto it (nothing appended, the run refused before it starts)
# --------------------------------------------------------------------------
t_append_refuses_forged() {
	"$FORGE" --mac "$KEYS/alice.key" "$L" run.forged >"$C/forged_tail.line" || fail "audit_forge failed" || return 1
	cat "$C/forged_tail.line" >>"$L"
	cp "$L" "$C/before.jsonl"
	al_lease refused || return 1
	check_one_line 125 E_AUDIT "$EXEC" --config "$T/al/etc/calyx.conf" --lease "$T/al/refused.lease" || return 1
	grep -qF "its line at seq $((N + 1)) is not signed by this host's key: its mac does not verify" "$ERR" ||
		fail "message: $(first_err)" || return 1
	cmp -s "$L" "$C/before.jsonl" || fail "the log changed"
}
run_test audit_log.append_refuses_forged_unsigned_tail t_append_refuses_forged

summary
