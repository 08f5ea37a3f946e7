#!/usr/bin/env bash
# Workspace tests: commit on success (the host tree equals a reference
# built by applying the same operations directly), roll back on every kind
# of failure (byte-for-byte unchanged), validate, the tree lock, crash at
# each commit step (fault-injection build), and undo with calyx-ctl.
#
#   bash tests/integration/workspace.sh [BUILD_DIR]   (default: build; root)
#
# The run's operations come from the static workload tests/workloads/wsops,
# run in the sandbox on /work and, for the reference, directly on a copy.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

[ -x "$B/workloads/wsops" ] || { echo "workspace.sh: $B/workloads/wsops missing (run 'make tests')" >&2; exit 2; }
HB=$(mktemp -d /var/tmp/calyx-ws.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2
WS_UID=$((20000 + $$ % 10000))
while getent passwd "$WS_UID" >/dev/null; do WS_UID=$((WS_UID + 1)); done

policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" >"$T/ws.policy.json"
mk_host ws "$T/ws.policy.json" "" "\"run_uid\": $WS_UID, \"run_gid\": $WS_UID" ||
	{ echo "fixture: $WHY" >&2; exit 2; }
CTL=$B/calyx-ctl



# A manifest of a tree: type, mode, path, link target, content hash.
manifest() { # DIR
	(cd "$1" && find . -mindepth 1 -printf '%y %m %p -> %l\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k 2)
}

# ws_run NAME WS ARGV_JSON [EXTRA_MEMBERS]: lease and run on workspace WS.
ws_run() {
	local name=$1 ws=$2 argv=$3 extra=${4:-}
	printf '{"run_id":"ws-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}%s}\n' \
		"$name" "$HOST_ID" "$argv" "$ws" "$HB" "${extra:+,$extra}" >"$T/ws/$name.body" || return 1
	mk_lease ws "$T/ws/$name.lease" "$T/ws/$name.body" || return 1
	xrun cx ws --lease "$T/ws/$name.lease" --result "$T/ws/$name.result"
}

t_commit() {
	ws_fixture "$T/srv/c" "$WS_UID" && ws_fixture "$T/ref-c" "$WS_UID" || return 1
	(cd "$T/ref-c" && "$HB/wsops" "${WS_OPS[@]}") || fail "reference ops failed" || return 1
	ws_run commit "$T/srv/c" "$(wsops_argv "${WS_OPS[@]}")" || return 1
	expect_rc 0 || return 1
	[ "$(manifest "$T/srv/c")" = "$(manifest "$T/ref-c")" ] ||
		fail "committed tree differs from the reference: $(diff <(manifest "$T/ref-c") <(manifest "$T/srv/c") | head -n 4 | tr '\n' '|')" || return 1
	[ "$(readlink "$T/srv/c/outlink")" = /etc/passwd ] || fail "outlink is not a link to /etc/passwd" || return 1
	[ "$(stat -c %i "$T/srv/c/new.txt")" = "$(stat -c %i "$T/srv/c/new-hard")" ] ||
		fail "new-hard is not a hardlink of new.txt" || return 1
	grep -q '"action": "committed"' "$T/ws/commit.result" || fail "result lacks committed" || return 1
	grep -qE '"type":"workspace.committed".*"lease_id":"'"$(lease_id "$T/ws/commit.lease")"'"' "$T/ws/log/audit.jsonl" ||
		fail "no workspace.committed audit event"
}
run_test workspace.commit_equals_reference t_commit

# rollback_case NAME EXIT ARGV_JSON [EXTRA]: the run ends badly; the tree
# must be exactly what it was.
rollback_case() {
	local name=$1 want=$2 argv=$3 extra=${4:-} before
	ws_fixture "$T/srv/$name" "$WS_UID" || return 1
	before=$(manifest "$T/srv/$name")
	ws_run "$name" "$T/srv/$name" "$argv" "$extra" || return 1
	expect_rc "$want" || return 1
	[ "$(manifest "$T/srv/$name")" = "$before" ] || fail "the tree changed although the run rolled back" || return 1
	grep -q '"action": "rolled_back"' "$T/ws/$name.result" || fail "result lacks rolled_back" || return 1
	[ -z "$(ls -A "$T/ws/state/runs" 2>/dev/null)" ] || fail "run dir left in state/runs: $(ls "$T/ws/state/runs")"
}
t_rb_exit() { rollback_case rbexit 3 "$(wsops_argv "${WS_OPS[@]}" exit:3)"; }
t_rb_validate() {
	rollback_case rbval 5 "$(wsops_argv "${WS_OPS[@]}")" "\"validate\":{\"argv\":$(wsops_argv exit:5)}" || return 1
	grep -q '"reason": "validate exited 5"' "$T/ws/rbval.result" || fail "reason is not 'validate exited 5'"
}
t_rb_halt() {
	rollback_case rbhalt 124 "$(wsops_argv "${WS_OPS[@]}" spin)" '"limits":{"cpu_ms":200,"wall_ms":10000}' || return 1
	grep -q '"reason": "halted (cpu)"' "$T/ws/rbhalt.result" || fail "reason is not 'halted (cpu)'"
}
t_rb_signal() {
	# the run writes, then its workload is killed by the wall clock
	rollback_case rbwall 124 "$(wsops_argv "${WS_OPS[@]}" sleep:5000)" '"limits":{"wall_ms":300}'
}
run_test workspace.rollback_nonzero_exit t_rb_exit
run_test workspace.rollback_validate_fails t_rb_validate
run_test workspace.rollback_cpu_halt t_rb_halt
run_test workspace.rollback_wall_halt t_rb_signal

# The workspace quota (disk_bytes, inodes): the run's uppers live on a
# tmpfs of that size, mounted in calyx-exec's own mount namespace. A run
# that fills it is halted (reason disk, unit bytes or inodes), exits 124,
# is audited like any quota, and nothing of it lands; no mount is left.
# audit_line TYPE LEASE_ID: the first audit line of that type and lease.
audit_line() { grep -m 1 "\"type\":\"$1\",\"lease_id\":\"$2\"" "$T/ws/log/audit.jsonl"; }
quota_case() { # NAME UNIT ARGV_JSON LIMIT_MEMBERS
	local name=$1 unit=$2 r=$T/ws/$1.result before id line
	ws_fixture "$T/srv/$name" "$WS_UID" || return 1
	before=$(manifest "$T/srv/$name")
	ws_run "$name" "$T/srv/$name" "$3" "\"limits\":{$4}" || return 1
	id=$(lease_id "$T/ws/$name.lease")
	expect_rc 124 || return 1
	[ "$(rget "$r" halt.reason)" = disk ] && [ "$(rget "$r" halt.unit)" = "$unit" ] ||
		fail "halt '$(rget "$r" halt.reason)' unit '$(rget "$r" halt.unit)', expected disk/$unit" || return 1
	grep -q "^calyx-exec: halted \[disk\]: disk quota breached: limit [0-9]* $unit" "$ERR" ||
		fail "no halt line: $(first_err)" || return 1
	grep -q '"reason": "halted (disk)"' "$r" || fail "workspace not rolled back for the disk halt" || return 1
	[ "$(manifest "$T/srv/$name")" = "$before" ] || fail "the tree changed although the run was halted" || return 1
	line=$(audit_line resource.breach "$id")
	case $line in *'"quota":"disk"'*'"unit":"'"$unit"'"'*) ;;
	*) fail "resource.breach: '${line:0:300}'"; return 1 ;; esac
	line=$(audit_line run.halted "$id")
	case $line in *'"reason":"disk","unit":"'"$unit"'"'*) ;;
	*) fail "run.halted: '${line:0:300}'"; return 1 ;; esac
	[ -z "$(ls -A "$T/ws/state/runs" 2>/dev/null)" ] || fail "run dir left in state/runs: $(ls "$T/ws/state/runs")" || return 1
	! grep -q calyx-scratch /proc/self/mountinfo || fail "a run's scratch tmpfs is mounted on the host"
}
t_quota_bytes() { quota_case qbytes bytes "$(wsops_argv fill:big:4194304)" '"disk_bytes":1048576'; }
t_quota_inodes() { quota_case qinodes inodes "$(wsops_argv touch:f:200)" '"inodes":32'; }
t_quota_within() {
	local r=$T/ws/qwithin.result used
	ws_fixture "$T/srv/qwithin" "$WS_UID" || return 1
	ws_run qwithin "$T/srv/qwithin" "$(wsops_argv write:small:hi fill:mid:262144 touch:t:5)" \
		'"limits":{"disk_bytes":1048576,"inodes":32}' || return 1
	expect_rc 0 || return 1
	grep -q '"action": "committed"' "$r" || fail "result lacks committed" || return 1
	[ "$(stat -c %s "$T/srv/qwithin/mid")" = 262144 ] && [ -e "$T/srv/qwithin/t.4" ] ||
		fail "the run's files did not land" || return 1
	used=$(rget "$r" usage.disk_bytes)
	[ -n "$used" ] && [ "$used" -ge 262144 ] && [ "$used" -le 1048576 ] ||
		fail "usage.disk_bytes '$used', expected 262144..1048576" || return 1
	used=$(rget "$r" usage.inodes)
	[ -n "$used" ] && [ "$used" -ge 7 ] && [ "$used" -le 32 ] || fail "usage.inodes '$used', expected 7..32"
}
run_test workspace.disk_quota_bytes_halts t_quota_bytes
run_test workspace.disk_quota_inodes_halts t_quota_inodes
run_test workspace.within_disk_quota_commits t_quota_within

t_lock() {
	ws_fixture "$T/srv/lk" "$WS_UID" || return 1
	printf '{"run_id":"ws-lk1","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}}\n' \
		"$HOST_ID" "$(wsops_argv sleep:60000)" "$T/srv/lk" "$HB" >"$T/ws/lk1.body"
	mk_lease ws "$T/ws/lk1.lease" "$T/ws/lk1.body" || return 1
	# the first run holds the tree (its own run dir exists) until it is
	# halted below, however slowly the second starts
	local id1 i
	id1=$(lease_id "$T/ws/lk1.lease")
	(exec "$EXEC" --config "$T/ws/etc/calyx.conf" --lease "$T/ws/lk1.lease" >/dev/null 2>&1) &
	local pid=$!
	for i in $(seq 1 600); do
		[ -d "$T/ws/state/runs/$id1" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -d "$T/ws/state/runs/$id1" ] || { kill "$pid"; wait "$pid"; fail "the first run did not start"; return 1; }
	ws_run lk2 "$T/srv/lk" "$(wsops_argv write:z:1)" || { kill "$pid"; return 1; }
	local second=$RC id2
	id2=$(lease_id "$T/ws/lk2.lease")
	"$CTL" --config "$T/ws/etc/calyx.conf" halt "$(lease_id "$T/ws/lk1.lease")" >/dev/null 2>&1
	wait "$pid"
	RC=$second
	check_one_line_file 125 E_WORKSPACE || return 1
	grep -q 'in use by another run' "$ERR" || fail "message: $(first_err)" || return 1
	[ ! -e "$T/ws/state/ledger/$id2" ] || fail "the refused lease was consumed"
}
# the refusal is one line, E_WORKSPACE, exit 125 (on the last xrun's files)
check_one_line_file() {
	expect_rc "$1" || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "stderr has $(nlines "$ERR") lines" || return 1
	grep -qE "^calyx-exec: error \[$2\]: ." "$ERR" || fail "stderr: $(first_err)"
}
run_test workspace.second_run_on_same_tree_refused t_lock

# Overlapping trees: a run on W and one on W/sub (or an rw path W/sub)
# never run at once. bg_run HOST NAME WS ARGV_JSON [EXTRA]: start a run in
# the background (its pid in BG_PID) and return once it holds its trees
# (its run dir exists).
bg_run() {
	local h=$1 name=$2 ws=$3 argv=$4 extra=${5:-} id i
	printf '{"run_id":"ws-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}%s}\n' \
		"$name" "$HOST_ID" "$argv" "$ws" "$HB" "${extra:+,$extra}" >"$T/$h/$name.body" || return 1
	mk_lease "$h" "$T/$h/$name.lease" "$T/$h/$name.body" || return 1
	id=$(lease_id "$T/$h/$name.lease")
	cx "$h" --lease "$T/$h/$name.lease" --result "$T/$h/$name.result" >"$T/$h/$name.out" 2>"$T/$h/$name.err" &
	BG_PID=$!
	for i in $(seq 1 600); do
		[ -d "$T/$h/state/runs/$id" ] && return 0
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "run $name did not start: $(head -n 1 "$T/$h/$name.err")"
}
# nested_refused NAME FIRST_WS SECOND_WS [SECOND_RW]: the first run holds
# its tree; the second, on an overlapping one (its workspace, or its rw
# path SECOND_RW), is refused without burning its lease; the first is then
# halted. On host wsr, whose write tree $RW is off /tmp (rw paths may not
# lie on the sandbox's own /tmp).
nested_refused() {
	local name=$1 first=$2 second=$3 rw=${4:-} rc id2
	bg_run wsr "$name-a" "$first" "$(wsops_argv sleep:60000)" || return 1
	printf '{"run_id":"ws-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]%s}}\n' \
		"$name-b" "$HOST_ID" "$(wsops_argv write:sub_b.txt:b)" "$second" "$HB" "${rw:+,\"rw\":[\"$rw\"]}" >"$T/wsr/$name-b.body" &&
		mk_lease wsr "$T/wsr/$name-b.lease" "$T/wsr/$name-b.body" || { kill "$BG_PID"; return 1; }
	xrun cx wsr --lease "$T/wsr/$name-b.lease"
	rc=$RC
	id2=$(lease_id "$T/wsr/$name-b.lease")
	"$CTL" --config "$T/wsr/etc/calyx.conf" halt "$(lease_id "$T/wsr/$name-a.lease")" >/dev/null 2>&1
	wait "$BG_PID"
	RC=$rc
	check_one_line_file 125 E_WORKSPACE || return 1
	grep -q 'in use by another run' "$ERR" || fail "message: $(first_err)" || return 1
	[ ! -e "$T/wsr/state/ledger/$id2" ] || fail "the refused lease was consumed"
}
t_nested_refuse() {
	RW=$(mktemp -d /var/tmp/calyx-wsrw.XXXXXX) || return 1
	# shellcheck disable=SC2016
	lib_atexit 'rm -rf "$RW"'
	chmod 755 "$RW"
	policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$RW\"]" >"$T/wsr.policy.json"
	mk_host wsr "$T/wsr.policy.json" "" "\"run_uid\": $WS_UID, \"run_gid\": $WS_UID" || return 1
	local w=$RW/nest
	ws_fixture "$w" "$WS_UID" && mkdir -p "$w/sub" "$RW/other" &&
		chown "$WS_UID:$WS_UID" "$w/sub" "$RW/other" || return 1
	nested_refused nest1 "$w" "$w/sub" || return 1
	nested_refused nest2 "$w/sub" "$w" || return 1
	# an rw path inside the other run's workspace
	nested_refused nest3 "$w" "$RW/other" "$w/sub" || return 1
	[ ! -e "$w/sub/sub_b.txt" ] && [ ! -e "$w/sub_b.txt" ] || fail "a refused run wrote"
}
run_test workspace.nested_trees_refused t_nested_refuse

# "wait": the run on W/sub waits for the run on W to end, then runs: the
# first's commit (which empties W/sub: an opaque dir) cannot delete what
# the second committed, both undo cleanly, newest first.
t_nested_wait() {
	local w=$T/srv/nestw before ida idb
	sed 's/^{ "v": 1,/{ "v": 1, "workspace_lock": "wait",/' "$T/ws.policy.json" >"$T/wsw.policy.json"
	mk_host wsw "$T/wsw.policy.json" "" "\"run_uid\": $WS_UID, \"run_gid\": $WS_UID" || return 1
	ws_fixture "$w" "$WS_UID" && mkdir -p "$w/sub" && printf 'orig\n' >"$w/sub/orig.txt" &&
		chown -R "$WS_UID:$WS_UID" "$w/sub" || return 1
	before=$(manifest "$w")
	bg_run wsw wa "$w" "$(wsops_argv rmtree:sub mkdir:sub write:sub/a.txt:A sleep:4000)" || return 1
	printf '{"run_id":"ws-wb","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}}\n' \
		"$HOST_ID" "$(wsops_argv write:b_new.txt:B)" "$w/sub" "$HB" >"$T/wsw/wb.body"
	mk_lease wsw "$T/wsw/wb.lease" "$T/wsw/wb.body" || return 1
	xrun cx wsw --lease "$T/wsw/wb.lease"
	local rcb=$RC
	wait "$BG_PID"
	RC=$?
	ERR=$T/wsw/wa.err
	expect_rc 0 || return 1
	RC=$rcb
	ERR=$T/.err
	expect_rc 0 || return 1
	[ "$(cat "$w/sub/b_new.txt" 2>/dev/null)" = B ] || fail "the second run's committed file is gone" || return 1
	[ "$(cat "$w/sub/a.txt" 2>/dev/null)" = A ] || fail "the first run's file is missing" || return 1
	ida=$(lease_id "$T/wsw/wa.lease")
	idb=$(lease_id "$T/wsw/wb.lease")
	local la lb
	la=$(grep -n "\"type\":\"workspace.committed\".*\"lease_id\":\"$ida\"" "$T/wsw/log/audit.jsonl" | cut -d: -f1)
	lb=$(grep -n "\"type\":\"lease.consumed\".*\"lease_id\":\"$idb\"" "$T/wsw/log/audit.jsonl" | cut -d: -f1)
	[ -n "$la" ] && [ -n "$lb" ] && [ "$la" -lt "$lb" ] ||
		fail "the second run started before the first committed (lines $la, $lb)" || return 1
	check 0 "" "$CTL" --config "$T/wsw/etc/calyx.conf" rollback ws-wb || return 1
	check 0 "" "$CTL" --config "$T/wsw/etc/calyx.conf" rollback ws-wa || return 1
	[ "$(manifest "$w")" = "$before" ] ||
		fail "after both undos the tree differs: $(diff <(echo "$before") <(manifest "$w") | head -n 4 | tr '\n' '|')"
}
run_test workspace.nested_trees_wait_in_turn t_nested_wait

# A fresh host: the state dir does not exist yet. The first run on a
# workspace creates it (0700) before it needs STATE/locks, and commits.
t_fresh_state() {
	ws_fixture "$T/srv/fresh" "$WS_UID" || return 1
	rm -rf "$T/ws/state"
	ws_run fresh "$T/srv/fresh" "$(wsops_argv write:fresh.txt:first)"
	local rc=$RC
	mkdir -p "$T/ws/state" && chmod 700 "$T/ws/state" # as mk_host left it, for the next tests
	RC=$rc
	expect_rc 0 || return 1
	[ "$(cat "$T/srv/fresh/fresh.txt" 2>/dev/null)" = first ] || fail "the run's write did not land" || return 1
	[ -d "$T/ws/state/locks" ] || fail "no STATE/locks after the run"
}
run_test workspace.first_run_creates_the_state_dir t_fresh_state

# Leftovers of killed runs that recovery does not own are swept at the next
# start: a run dir still named <id>.new (killed between its mkdir and its
# rename) and a control socket nobody listens on, once older than a minute;
# a young <id>.new (a start in progress) stays.
t_sweep() {
	local old=$(( $(date +%s) - 300 )) a=0123456789abcdef0123456789abcdef b=fedcba9876543210fedcba9876543210
	mkdir -p "$T/ws/state/runs" "$T/ws/state/run" || return 1
	chmod 700 "$T/ws/state/run"
	mkdir "$T/ws/state/runs/$a.new" "$T/ws/state/runs/$b.new" || return 1
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$T/ws/state/run/$a.sock" || fail "cannot make a dead socket" || return 1
	touch -d "@$old" "$T/ws/state/runs/$a.new" "$T/ws/state/run/$a.sock"
	mkdir -p "$T/ws/state/locks" && : >"$T/ws/state/locks/$a$a.lock" # an earlier version's lock file
	ws_fixture "$T/srv/sw" "$WS_UID" || return 1
	ws_run sweep "$T/srv/sw" "$(wsops_argv write:s.txt:1)" || return 1
	expect_rc 0 || return 1
	[ ! -e "$T/ws/state/runs/$a.new" ] || fail "a stale $a.new run dir was left" || return 1
	[ ! -e "$T/ws/state/run/$a.sock" ] || fail "a dead control socket was left" || return 1
	[ ! -e "$T/ws/state/locks/$a$a.lock" ] || fail "an earlier version's lock file was left" || return 1
	[ -d "$T/ws/state/runs/$b.new" ] || fail "a young .new run dir (a start in progress) was removed" || return 1
	rmdir "$T/ws/state/runs/$b.new"
}
run_test workspace.stale_leftovers_swept_at_start t_sweep

t_undo() {
	ws_fixture "$T/srv/u" "$WS_UID" || return 1
	local before
	before=$(manifest "$T/srv/u")
	ws_run undo1 "$T/srv/u" "$(wsops_argv "${WS_OPS[@]}")" || return 1
	expect_rc 0 || return 1
	check 0 "" "$CTL" --config "$T/ws/etc/calyx.conf" diff ws-undo1 || return 1
	grep -q 'new.txt' "$OUT" || fail "diff does not list new.txt: $(head -n 3 "$OUT" | tr '\n' '|')" || return 1
	check 0 "" "$CTL" --config "$T/ws/etc/calyx.conf" rollback ws-undo1 || return 1
	[ "$(manifest "$T/srv/u")" = "$before" ] ||
		fail "after rollback the tree differs from before the run: $(diff <(echo "$before") <(manifest "$T/srv/u") | head -n 4 | tr '\n' '|')" || return 1
	grep -q '"type":"workspace.undone"' "$T/ws/log/audit.jsonl" || fail "no workspace.undone audit event"
}
run_test workspace.calyx_ctl_rollback_restores t_undo

t_undo_refused() {
	ws_fixture "$T/srv/u2" "$WS_UID" || return 1
	local before
	before=$(manifest "$T/srv/u2")
	ws_run undo2 "$T/srv/u2" "$(wsops_argv "${WS_OPS[@]}")" || return 1
	expect_rc 0 || return 1
	printf 'changed later\n' >"$T/srv/u2/new.txt"
	xrun "$CTL" --config "$T/ws/etc/calyx.conf" rollback ws-undo2
	expect_rc 1 || return 1
	grep -q 'new.txt' "$ERR" || fail "the refusal does not name new.txt: $(first_err)" || return 1
	check 0 "" "$CTL" --config "$T/ws/etc/calyx.conf" rollback ws-undo2 --force || return 1
	[ "$(manifest "$T/srv/u2")" = "$before" ] || fail "--force did not restore the pre-run tree"
}
run_test workspace.rollback_refused_if_changed_then_forced t_undo_refused

# Sparse files stay sparse through commit, pack and undo: four new 256 MiB
# files with a few bytes of data each commit as sparse host files (du -k
# small, not 1 GiB written), and calyx-ctl rollback (which restores the
# pre-image of the sparse host file the run appended to) leaves it sparse.
t_sparse() {
	ws_fixture "$T/srv/sp" "$WS_UID" || return 1
	(cd "$T/srv/sp" && "$HB/wsops" sparse:old.bin:256 && chown "$WS_UID:$WS_UID" old.bin) || fail "fixture" || return 1
	local kb f before pack=""
	before=$(manifest "$T/srv/sp")
	ws_run sparse "$T/srv/sp" "$(wsops_argv sparse:s1.bin:256 sparse:s2.bin:256 sparse:s3.bin:256 sparse:s4.bin:256 append:old.bin:x)" '"limits":{"fsize_bytes":536870912}' || return 1
	expect_rc 0 || return 1
	for f in s1 s2 s3 s4; do
		[ "$(stat -c %s "$T/srv/sp/$f.bin")" = 268435456 ] || fail "$f.bin: size $(stat -c %s "$T/srv/sp/$f.bin"), not 256 MiB" || return 1
		kb=$(du -k "$T/srv/sp/$f.bin" | cut -f1)
		[ "$kb" -lt 4096 ] || fail "$f.bin takes $kb KiB on the host: its holes were written" || return 1
	done
	[ "$(head -c 5 "$T/srv/sp/s1.bin")" = start ] && [ "$(tail -c 3 "$T/srv/sp/s1.bin")" = end ] ||
		fail "s1.bin's data is not where the run wrote it" || return 1
	for f in "$T"/ws/state/packs/*/manifest.json; do
		head -n 1 "$f" | grep -q '"run_id":"ws-sparse"' && pack=${f%/manifest.json}
	done
	[ -n "$pack" ] || fail "no pack names run ws-sparse" || return 1
	kb=$(du -k "$pack" | tail -n 1 | cut -f1)
	[ "$kb" -lt 8192 ] || fail "the packs take $kb KiB: the pre-image of old.bin was stored with its holes" || return 1
	check 0 "" "$CTL" --config "$T/ws/etc/calyx.conf" rollback ws-sparse || return 1
	[ "$(manifest "$T/srv/sp")" = "$before" ] ||
		fail "after rollback the tree differs from before the run: $(diff <(echo "$before") <(manifest "$T/srv/sp") | head -n 4 | tr '\n' '|')" || return 1
	kb=$(du -k "$T/srv/sp/old.bin" | cut -f1)
	[ "$kb" -lt 4096 ] || fail "the restored old.bin takes $kb KiB: its holes were written"
}
if (cd "$T" && "$HB/wsops" sparse:probe.bin:64) && [ "$(du -k "$T/probe.bin" | cut -f1)" -lt 1024 ]; then
	run_test workspace.sparse_files_stay_sparse t_sparse
else
	skip_test workspace.sparse_files_stay_sparse "the file system of $T does not keep files sparse"
fi
rm -f "$T/probe.bin"

# Rollback packs are pruned at the next start past the configured budget.
t_prune() {
	mk_host wsp "$T/ws.policy.json" "" "\"run_uid\": $WS_UID, \"run_gid\": $WS_UID, \"pack_max_bytes\": 1" || return 1
	ws_fixture "$T/srv/p" "$WS_UID" || return 1
	local i id1
	for i in 1 2; do
		printf '{"run_id":"ws-p%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}}\n' \
			"$i" "$HOST_ID" "$(wsops_argv "write:p$i.txt:x")" "$T/srv/p" "$HB" >"$T/wsp/p$i.body"
		mk_lease wsp "$T/wsp/p$i.lease" "$T/wsp/p$i.body" || return 1
		xrun cx wsp --lease "$T/wsp/p$i.lease"
		expect_rc 0 || return 1
	done
	id1=$(lease_id "$T/wsp/p1.lease")
	[ ! -e "$T/wsp/state/packs/$id1" ] || fail "the first run's pack was not pruned" || return 1
	grep -q "\"type\":\"workspace.pack_pruned\".*\"lease_id\":\"$id1\"" "$T/wsp/log/audit.jsonl" ||
		fail "no workspace.pack_pruned event for $id1" || return 1
	[ -e "$T/srv/p/p1.txt" ] && [ -e "$T/srv/p/p2.txt" ] || fail "pruning touched the tree"
}
run_test workspace.packs_pruned_past_budget t_prune

# Crash at each commit step (fault-injection build): the next start
# finishes or undoes the commit: the tree is all-or-nothing.
t_crash() {
	local FX=$B/fault/calyx-exec step bad="" ref
	[ -x "$FX" ] || { skip_test workspace.crash_at_each_commit_step "no fault-injection build ($B/fault/calyx-exec; make fault)"; return 0; }
	ws_fixture "$T/ref-k" "$WS_UID" || return 1
	(cd "$T/ref-k" && "$HB/wsops" "${WS_OPS[@]}") || return 1
	ref=$(manifest "$T/ref-k")
	for step in after_scan after_pack after_packed_journal after_applying_journal after_temps mid_apply after_apply before_done after_done; do
		local ws=$T/srv/k-$step before
		ws_fixture "$ws" "$WS_UID" || return 1
		before=$(manifest "$ws")
		printf '{"run_id":"ws-k-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}}\n' \
			"$step" "$HOST_ID" "$(wsops_argv "${WS_OPS[@]}")" "$ws" "$HB" >"$T/ws/k.body"
		mk_lease ws "$T/ws/k.lease" "$T/ws/k.body" || return 1
		# (in a subshell: bash would report the SIGKILL on our stderr)
		(CALYX_FAULT_STEP=$step exec "$FX" --config "$T/ws/etc/calyx.conf" --lease "$T/ws/k.lease") >/dev/null 2>&1
		local rc=$?
		[ "$rc" -eq 137 ] || { bad="$bad $step:exit$rc"; continue; }
		# the next start recovers (any lease; it need not touch the tree)
		ws_fixture "$T/srv/k-next" "$WS_UID" || return 1
		ws_run "next-$step" "$T/srv/k-next" "$(wsops_argv exit:0)"
		grep -q "note: .*lease $(lease_id "$T/ws/k.lease")" "$ERR" ||
			bad="$bad $step:no-recovery-note"
		local now
		now=$(manifest "$ws")
		if [ "$now" != "$before" ] && [ "$now" != "$ref" ]; then
			bad="$bad $step:partial"
		fi
	done
	[ -z "$bad" ] || fail "not all-or-nothing after a crash at:$bad"
}
run_test workspace.crash_at_each_commit_step t_crash

# The audit log stops taking writes while the run is going (made immutable
# with chattr +i: every write(2) to it then fails, as on a dying disk): the
# run's events cannot all be recorded, so nothing of it lands — exit 125,
# one E_AUDIT line, tree unchanged — and the log's chain is intact: the
# run's lines written before are unsigned (no checkpoint could be written:
# verify exits 3 and counts them) until the next run checks and signs them.
t_audit_fails_mid_run() {
	local log=$T/ws/log/audit.jsonl pid id i
	ws_fixture "$T/srv/af" "$WS_UID" && ws_fixture "$T/ref-af" "$WS_UID" || return 1
	printf '{"run_id":"ws-af","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}}\n' \
		"$HOST_ID" "$(wsops_argv write:new.txt:x append:a.txt:y sleep:3000)" "$T/srv/af" "$HB" >"$T/ws/af.body" || return 1
	mk_lease ws "$T/ws/af.lease" "$T/ws/af.body" || return 1
	id=$(lease_id "$T/ws/af.lease")
	cx ws --lease "$T/ws/af.lease" >"$T/af.out" 2>"$T/af.err" &
	pid=$!
	# mid-run: once its exec.started is in the log (not after a fixed
	# 0.7 s: a slow start would make the log immutable before the run)
	for i in $(seq 1 600); do
		grep -F "\"lease_id\":\"$id\"" "$log" 2>/dev/null | grep -qF '"type":"exec.started"' && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	chattr +i "$log" || { wait "$pid"; fail "chattr +i failed on the log"; return 1; }
	wait "$pid"
	RC=$?
	chattr -i "$log"
	ERR=$T/af.err
	expect_rc 125 || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "stderr has $(nlines "$ERR") lines: $(tr '\n' '|' <"$ERR")" || return 1
	grep -q '^calyx-exec: error \[E_AUDIT\]: ' "$ERR" || fail "not an E_AUDIT error: $(first_err)" || return 1
	[ "$(manifest "$T/srv/af")" = "$(manifest "$T/ref-af")" ] || fail "the tree changed although the run was not fully audited" || return 1
	check 3 "" "$AUDIT" verify --host-pub "$T/hostkeys/host.pub.json" "$log" || return 1
	expect_stdout_has "UNSIGNED: the last " || return 1
	ws_fixture "$T/srv/af-next" "$WS_UID" || return 1
	ws_run af-next "$T/srv/af-next" "$(wsops_argv exit:0)" || return 1
	expect_rc 0 || return 1
	check 0 "" "$AUDIT" verify --host-pub "$T/hostkeys/host.pub.json" "$log"
}
if chattr +i "$T/ws.policy.json" 2>/dev/null && chattr -i "$T/ws.policy.json"; then
	run_test workspace.audit_failure_mid_run_lands_nothing t_audit_fails_mid_run
else
	skip_test workspace.audit_failure_mid_run_lands_nothing "chattr +i unsupported on $T's filesystem"
fi

summary
