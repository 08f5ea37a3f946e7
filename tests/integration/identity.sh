#!/usr/bin/env bash
# Identity and ownership tests: each run gets its own uid = gid from the
# configured range (never shared by two live runs, free again when its
# holder dies, an exhausted range refused in one line with the lease
# kept), and writable trees are mounted idmapped: inside, the run owns
# what the tree root's owner owns; on the host, what it writes lands owned
# by that owner; files of other owners keep theirs; a root-owned tree only
# with the policy's "root_owned_trees": "allow"; calyx-ctl rollback
# restores owners.
#
#   bash tests/integration/identity.sh [BUILD_DIR]   (default: build; root)
#
# The run's operations come from the static workload tests/workloads/wsops
# ("ids" prints the run's uid and gid, "owner:P" the owner it sees).
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

[ -x "$B/workloads/wsops" ] || { echo "identity.sh: $B/workloads/wsops missing (run 'make tests')" >&2; exit 2; }
HB=$(mktemp -d /var/tmp/calyx-id.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2
CTL=$B/calyx-ctl
# rw trees may not lie in /tmp (the view's own): one of this suite's own
RWD=$(mktemp -d /var/tmp/calyx-idrw.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$RWD"'
chmod 755 "$RWD"

# A range of this suite's own (no other suite allocates from it), and the
# default range for the host that configures none.
FIRST=$((1500000000 + ($$ % 1000) * 16))
DEF_FIRST=1879048192 DEF_COUNT=65536

policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\", \"$RWD\"]" >"$T/id.policy.json"
policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" '"root_owned_trees": "allow"' \
	>"$T/idroot.policy.json"
mk_host id "$T/id.policy.json" "" "\"run_uid_range\": {\"first\": $FIRST, \"count\": 2}" &&
	mk_host one "$T/id.policy.json" "" "\"run_uid_range\": {\"first\": $((FIRST + 8)), \"count\": 1}" &&
	mk_host def "$T/id.policy.json" &&
	mk_host idroot "$T/idroot.policy.json" "" "\"run_uid_range\": {\"first\": $((FIRST + 4)), \"count\": 2}" ||
	{ echo "fixture: $WHY" >&2; exit 2; }


# id_lease HOST NAME WS ARGV_JSON [RW_PATH]: a lease; id_run: and run it
# (xrun, result in $T/HOST/NAME.result).
id_lease() {
	local host=$1 name=$2 ws=$3 argv=$4 rw=${5:-}
	printf '{"run_id":"id-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]%s}}\n' \
		"$name" "$HOST_ID" "$argv" "$ws" "$HB" "${rw:+,\"rw\":[\"$rw\"]}" >"$T/$host/$name.body" || return 1
	mk_lease "$host" "$T/$host/$name.lease" "$T/$host/$name.body"
}
id_run() {
	id_lease "$@" || return 1
	xrun cx "$1" --lease "$T/$1/$2.lease" --result "$T/$1/$2.result"
}

# A fresh workspace owned by OWNER (uid:gid), holding "a" of that owner.
mkws() { # DIR OWNER
	rm -rf "$1" && mkdir -p "$1" && printf 'alpha\n' >"$1/a" && chown -R "$2" "$1"
}

# The uid exec.started of the last run of HOST recorded.
started_uid() { grep '"type":"exec.started"' "$T/$1/log/audit.jsonl" | tail -n 1 | sed -n 's/.*"uid":\([0-9]*\),"gid":\([0-9]*\),.*/\1 \2/p'; }

# ---------------------------------------------------------------- identities

t_default_range() {
	mkws "$T/srv/def" 1000:1000 || return 1
	id_run def d1 "$T/srv/def" "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	local u g
	read -r u g < <(sed -n 's/^uid=\([0-9]*\) gid=\([0-9]*\)$/\1 \2/p' "$OUT")
	[ -n "$u" ] || fail "no ids printed: $(head -c 200 "$OUT")" || return 1
	[ "$u" = "$g" ] || fail "uid $u and gid $g differ" || return 1
	[ "$u" -ge "$DEF_FIRST" ] && [ "$u" -lt $((DEF_FIRST + DEF_COUNT)) ] ||
		fail "uid $u is outside the default range $DEF_FIRST+$DEF_COUNT" || return 1
	[ "$(started_uid def)" = "$u $u" ] || fail "exec.started says '$(started_uid def)', the run was $u" || return 1
	[ "$(rget "$T/def/d1.result" uid)" = "$u" ] && [ "$(rget "$T/def/d1.result" gid)" = "$u" ] ||
		fail "result says uid $(rget "$T/def/d1.result" uid) gid $(rget "$T/def/d1.result" gid), the run was $u"
}
run_test identity.default_range_reported_in_audit_and_result t_default_range

# Two live runs at once get distinct uids (a range of 2: the second run
# must take the one the first does not hold). The first sleeps 60 s, so
# it is still running however slowly the second runs (a loaded VM, the
# sanitizer build), and is halted (SIGTERM, 124) once the second is done.
t_concurrent() {
	mkws "$T/srv/c1" 1000:1000 && mkws "$T/srv/c2" 1000:1000 || return 1
	id_lease id c1 "$T/srv/c1" "$(wsops_argv ids sleep:60000)" &&
		id_lease id c2 "$T/srv/c2" "$(wsops_argv ids)" || return 1
	# exec: $! is calyx-exec itself, not a subshell
	(exec "$EXEC" --config "$T/id/etc/calyx.conf" --lease "$T/id/c1.lease" >"$T/id/c1.out" 2>"$T/id/c1.err") &
	local pid=$!
	for _ in $(seq 600); do grep -q '^uid=' "$T/id/c1.out" && break; sleep 0.05; done
	grep -q '^uid=' "$T/id/c1.out" || { kill "$pid"; wait "$pid"; fail "first run did not start: $(head -c 200 "$T/id/c1.err")"; return 1; }
	xrun cx id --lease "$T/id/c2.lease"
	local rc2=$RC u2; u2=$(sed -n 's/^uid=\([0-9]*\) .*/\1/p' "$OUT")
	kill -0 "$pid" 2>/dev/null || fail "first run ended before the second ran (no overlap)" || { wait "$pid"; return 1; }
	kill -TERM "$pid"
	wait "$pid"
	local rc1=$? u1; u1=$(sed -n 's/^uid=\([0-9]*\) .*/\1/p' "$T/id/c1.out")
	[ "$rc1" -eq 124 ] && [ "$rc2" -eq 0 ] || fail "exits $rc1 (halted: 124 expected) and $rc2 (stderr: $(head -c 200 "$T/id/c1.err") $(first_err))" || return 1
	[ -n "$u1" ] && [ -n "$u2" ] && [ "$u1" != "$u2" ] || fail "concurrent runs ran as '$u1' and '$u2'" || return 1
	for u in "$u1" "$u2"; do
		[ "$u" -ge "$FIRST" ] && [ "$u" -lt $((FIRST + 2)) ] || fail "uid $u outside the range" || return 1
	done
}
run_test identity.concurrent_runs_get_distinct_uids t_concurrent

# The range of one: a holder (a calyx-exec killed with -9 mid-run) frees
# its uid by dying; a live holder makes the range exhausted: one line,
# E_IDS, exit 125, and the lease is not used (it runs once freed).
t_exhausted() {
	mkws "$T/srv/x1" 1000:1000 || return 1
	local lock=$T/one/state/uids/$((FIRST + 8)).lock
	mkdir -p "$T/one/state/uids" && chmod 700 "$T/one/state/uids" || return 1
	# blocking (no -n): the probe below may hold the lock for an instant
	# while the holder starts; -F: the lock's only holder is sleep
	flock -F "$lock" sleep 600 &
	local holder=$! _
	for _ in $(seq 600); do flock -n "$lock" true && sleep 0.05 || break; done
	flock -n "$lock" true && { kill "$holder"; fail "fixture: the holder never took $lock"; return 1; }
	id_lease one x1 "$T/srv/x1" "$(wsops_argv ids write:n:1)" || { kill "$holder"; return 1; }
	check_one_line 125 E_IDS cx one --lease "$T/one/x1.lease"
	local ok=$?
	kill "$holder"; wait "$holder" 2>/dev/null
	[ "$ok" -eq 0 ] || return 1
	grep -qF "run_uid_range" "$ERR" || fail "message does not name run_uid_range: $(first_err)" || return 1
	[ ! -e "$T/srv/x1/n" ] || fail "the refused run wrote" || return 1
	xrun cx one --lease "$T/one/x1.lease"
	expect_rc 0 || return 1
	expect_stdout_has "uid=$((FIRST + 8)) " || return 1
}
run_test identity.exhausted_range_refused_lease_kept t_exhausted

t_crashed_holder() {
	mkws "$T/srv/k1" 1000:1000 && mkws "$T/srv/k2" 1000:1000 || return 1
	id_lease one k1 "$T/srv/k1" "$(wsops_argv ids sleep:60000)" &&
		id_lease one k2 "$T/srv/k2" "$(wsops_argv ids)" || return 1
	# exec: $! is calyx-exec itself, not a subshell
	(exec "$EXEC" --config "$T/one/etc/calyx.conf" --lease "$T/one/k1.lease" >"$T/one/k1.out" 2>"$T/one/k1.err") &
	local pid=$! _
	for _ in $(seq 600); do grep -q '^uid=' "$T/one/k1.out" && break; sleep 0.05; done
	grep -q '^uid=' "$T/one/k1.out" || { kill -9 "$pid"; wait "$pid"; fail "holder did not start"; return 1; }
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	xrun cx one --lease "$T/one/k2.lease"
	expect_rc 0 || return 1
	expect_stdout_has "uid=$((FIRST + 8)) "
}
run_test identity.crashed_holders_uid_is_reusable t_crashed_holder

# ---------------------------------------------------------------- ownership

# A workspace owned by 1000:1000 (no such user needed): the run sees it as
# its own, writes new files, changes one, makes a directory; all of it is
# owned by 1000:1000 on the host after the commit. A file of another owner
# keeps its owner and shows as the overflow ids inside.
t_owner_1000() {
	mkws "$T/srv/o" 1000:1000 || return 1
	printf 'other\n' >"$T/srv/o/other" && chown 2000:2000 "$T/srv/o/other" && chmod 644 "$T/srv/o/other"
	id_run id o1 "$T/srv/o" "$(wsops_argv ids owner:. owner:a owner:other write:new:1 append:a:more mkdir:nd write:nd/f:2 chmod:a:600 owner:new)" || return 1
	expect_rc 0 || return 1
	local u; u=$(sed -n 's/^uid=\([0-9]*\) .*/\1/p' "$OUT")
	[ "$(sed -n 2,5p "$OUT" | tr '\n' ' ')" = "$u:$u $u:$u 65534:65534 $u:$u " ] ||
		fail "inside, ., a, other, new are owned by '$(sed -n 2,5p "$OUT" | tr '\n' ' ')', expected $u:$u $u:$u 65534:65534 $u:$u" || return 1
	local f
	for f in . a new nd nd/f; do
		[ "$(stat -c %u:%g "$T/srv/o/$f")" = 1000:1000 ] ||
			fail "host $f is owned by $(stat -c %u:%g "$T/srv/o/$f"), expected 1000:1000" || return 1
	done
	[ "$(stat -c %u:%g "$T/srv/o/other")" = 2000:2000 ] || fail "other changed owner" || return 1
	[ "$(cat "$T/srv/o/a")" = "$(printf 'alpha\nmore')" ] || fail "a is '$(cat "$T/srv/o/a")'" || return 1
	[ "$(stat -c %a "$T/srv/o/a")" = 600 ] || fail "a has mode $(stat -c %a "$T/srv/o/a")" || return 1
	# no file anywhere of the run's uid
	[ -z "$(find "$T/srv/o" -uid "$u")" ] || fail "files owned by the run uid $u on the host"
}
run_test idmap.ws_owned_by_1000_commits_as_1000 t_owner_1000

# A file of another owner cannot be written, whatever its mode (the mount
# cannot map its owner): EACCES, and it keeps its bytes and owner.
t_other_owner() {
	mkws "$T/srv/oo" 1000:1000 || return 1
	printf 'other\n' >"$T/srv/oo/other" && chown 2000:2000 "$T/srv/oo/other" && chmod 666 "$T/srv/oo/other"
	id_run id oo "$T/srv/oo" "$(wsops_argv append:other:x)" || return 1
	expect_rc 99 || return 1
	grep -q 'Permission denied' "$ERR" || fail "wsops said: $(first_err)" || return 1
	[ "$(cat "$T/srv/oo/other")" = other ] && [ "$(stat -c %u:%g "$T/srv/oo/other")" = 2000:2000 ] ||
		fail "other changed: $(stat -c %u:%g "$T/srv/oo/other") '$(cat "$T/srv/oo/other")'"
}
run_test idmap.other_owners_file_keeps_owner_write_refused t_other_owner

# rw trees are idmapped the same way.
t_rw_tree() {
	mkws "$T/srv/w" 1000:1000 && mkws "$RWD/rw" 3000:3001 || return 1
	id_run id rw1 "$T/srv/w" "$(wsops_argv write:/work/n:1 write:"$RWD"/rw/n:2)" "$RWD/rw" || return 1
	expect_rc 0 || return 1
	[ "$(stat -c %u:%g "$T/srv/w/n")" = 1000:1000 ] || fail "workspace n is $(stat -c %u:%g "$T/srv/w/n")" || return 1
	[ "$(stat -c %u:%g "$RWD/rw/n")" = 3000:3001 ] || fail "rw n is $(stat -c %u:%g "$RWD/rw/n"), expected 3000:3001"
}
run_test idmap.rw_tree_commits_as_its_owner t_rw_tree

# Root-owned: refused before the lease is consumed without the policy key;
# with it, the run owns root's files and its writes land as root.
t_root_refused() {
	mkws "$T/srv/r" 0:0 || return 1
	id_lease id r1 "$T/srv/r" "$(wsops_argv write:n:1)" || return 1
	check_one_line 77 E_POLICY_PATH cx id --lease "$T/id/r1.lease" --dry-run || return 1
	check_one_line 77 E_POLICY_PATH cx id --lease "$T/id/r1.lease" || return 1
	grep -qF 'root_owned_trees' "$ERR" || fail "message does not name root_owned_trees: $(first_err)" || return 1
	[ ! -e "$T/srv/r/n" ] || fail "the refused run wrote" || return 1
	local lid; lid=$(lease_id "$T/id/r1.lease")
	[ -n "$lid" ] && [ ! -e "$T/id/state/ledger/$lid" ] || fail "the lease was consumed" || return 1
	mkws "$T/srv/r2" 1000:0 || return 1
	id_run id r2 "$T/srv/r2" "$(wsops_argv write:n:1)" || return 1
	expect_rc 77 || return 1
	grep -qF "(1000:0)" "$ERR" || fail "a tree of gid 0: $(first_err)"
}
run_test idmap.root_owned_ws_refused_before_consume t_root_refused

t_root_allowed() {
	mkws "$T/srv/ra" 0:0 || return 1
	id_run idroot ra "$T/srv/ra" "$(wsops_argv ids owner:a append:a:more write:n:1 mkdir:d)" || return 1
	expect_rc 0 || return 1
	local u; u=$(sed -n 's/^uid=\([0-9]*\) .*/\1/p' "$OUT")
	[ "$(sed -n 2p "$OUT")" = "$u:$u" ] || fail "inside, a is owned by $(sed -n 2p "$OUT"), not the run ($u)" || return 1
	for f in a n d; do
		[ "$(stat -c %u:%g "$T/srv/ra/$f")" = 0:0 ] || fail "host $f is $(stat -c %u:%g "$T/srv/ra/$f"), expected 0:0" || return 1
	done
	xrun "$POLICY" lint "$T/idroot/etc/policy.json"
	grep -q 'CX121' "$OUT" "$ERR" || fail "lint does not note CX121"
}
run_test idmap.root_owned_ws_allowed_by_policy t_root_allowed

# calyx-ctl rollback restores content and owners of a 1000-owned tree.
t_rollback() {
	mkws "$T/srv/u" 1000:1000 || return 1
	printf 'keep\n' >"$T/srv/u/b" && chown 1000:1000 "$T/srv/u/b"
	local before; before=$(cd "$T/srv/u" && find . -printf '%p %u:%g %m\n' | sort && cat a b)
	id_run id u1 "$T/srv/u" "$(wsops_argv write:a:changed rm:b write:n:1 mkdir:d)" || return 1
	expect_rc 0 || return 1
	[ "$(cat "$T/srv/u/a")" = changed ] || fail "the run did not commit" || return 1
	check 0 "" "$CTL" --config "$T/id/etc/calyx.conf" rollback id-u1 || return 1
	local after; after=$(cd "$T/srv/u" && find . -printf '%p %u:%g %m\n' | sort && cat a b)
	[ "$after" = "$before" ] || fail "after rollback: $(diff <(echo "$before") <(echo "$after") | tr '\n' '|' | cut -c 1-300)"
}
run_test idmap.calyx_ctl_rollback_restores_owners t_rollback

summary
