#!/usr/bin/env bash
# The shared monitor: the BPF programs are loaded once and pinned under the
# config's bpf_pin_dir, and each run only claims a slot (its state, its
# event ring) and registers its cgroup id. These tests check that runs
# share one loaded copy, that concurrent runs see only their own exec
# events, that the tracepoint links go once no run holds the version,
# that a pin that does not check out is replaced (never used), that a
# dead run's slot is reclaimed, and that a pin directory that is not
# root's bpffs 0700 directory is never used (the run loads its own and
# says why).
#
#   bash tests/integration/shared_monitor.sh [BUILD_DIR]   (default: build; root)
#
# Every host here pins under a directory of this suite's own
# (/sys/fs/bpf/calyx-test-PID), removed at exit; bpftool reads the pins.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

[ -x "$B/workloads/wsops" ] || { echo "shared_monitor.sh: $B/workloads/wsops missing (run 'make tests')" >&2; exit 2; }
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	skip_test shared_monitor.all "no bpffs mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)"
	summary
	exit $?
fi
command -v bpftool >/dev/null || { echo "shared_monitor.sh: bpftool missing (scripts/install-deps.sh)" >&2; exit 2; }

PIN=/sys/fs/bpf/calyx-test-$$
rm_pins() { # DIR: a pin tree (pins are files, directories hold them)
	[ -d "$1" ] || return 0
	find "$1" -mindepth 1 -not -type d -delete 2>/dev/null
	find "$1" -depth -type d -exec rmdir {} + 2>/dev/null
	return 0
}
# shellcheck disable=SC2016
lib_atexit 'rm_pins "$PIN"; rm_pins "$PIN-user"'
HB=$(mktemp -d /var/tmp/calyx-sm.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2

policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" >"$T/sm.policy.json"
mk_host a "$T/sm.policy.json" "" "\"bpf_pin_dir\": \"$PIN\"" &&
	mk_host b "$T/sm.policy.json" "" "\"bpf_pin_dir\": \"$PIN\"" &&
	mk_host user "$T/sm.policy.json" "" "\"bpf_pin_dir\": \"$PIN-user\"" &&
	mk_host nofs "$T/sm.policy.json" "" "\"bpf_pin_dir\": \"$HB/pins\"" ||
	{ echo "fixture: $WHY" >&2; exit 2; }

N=0
# sm_lease HOST ARGV_JSON: a lease in $T/HOST/$N.lease for a fresh workspace
# owned by uid 1000.
sm_lease() {
	N=$((N + 1))
	local ws=$T/srv/w$N
	mkdir -p "$ws" && chown 1000:1000 "$ws" || return 1
	printf '{"run_id":"sm-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}}\n' \
		"$N" "$HOST_ID" "$2" "$ws" "$HB" >"$T/$1/$N.body" || return 1
	mk_lease "$1" "$T/$1/$N.lease" "$T/$1/$N.body"
}
sm_run() { # HOST ARGV_JSON
	sm_lease "$@" || return 1
	xrun cx "$1" --lease "$T/$1/$N.lease"
}
# The last exec.started of HOST's log.
last_started() { grep '"type":"exec.started"' "$T/$1/log/audit.jsonl" | tail -n 1; }
version_dir() { find "$PIN" -mindepth 1 -maxdepth 1 -type d | head -n 1; }
prog_id() { bpftool prog show pinned "$1" 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p'; }
# The id of every program attached to a raw tracepoint now.
tp_link_progs() { bpftool link show 2>/dev/null | sed -n 's/^[0-9]*: raw_tracepoint .*prog \([0-9]*\).*/\1/p'; }

# ---------------------------------------------------------------- sharing

t_runs_share() {
	sm_run a "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	last_started a | grep -qF '"monitor":"shared"' || fail "first run: $(last_started a | grep -o '"monitor[^}]*')" || return 1
	local v id1 id2
	v=$(version_dir)
	[ -n "$v" ] || fail "no version directory under $PIN" || return 1
	[ "$(stat -c '%u %a' "$PIN")" = "0 700" ] || fail "$PIN is $(stat -c '%u %a' "$PIN"), not root's 0700" || return 1
	id1=$(prog_id "$v/on_exec")
	[ -n "$id1" ] || fail "no pinned on_exec in $v" || return 1
	sm_run b "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	last_started b | grep -qF '"monitor":"shared"' || fail "second run not shared" || return 1
	id2=$(prog_id "$v/on_exec")
	[ "$id1" = "$id2" ] || fail "on_exec was loaded again ($id1 -> $id2)" || return 1
	echo "      one on_exec (prog $id1) for both runs, pinned in $v"
}
run_test shared.second_run_uses_the_pinned_programs t_runs_share

# Two runs at once, each with its own exec events: neither log may hold
# the other's (each slot has its own ring; events carry the cgroup id).
# The first sleeps 12 s between its spawns: the second run, start to end,
# fits in that on a loaded VM with the sanitizer build (2.5 s did not
# always), and the first's last spawns come after it.
t_concurrent() {
	sm_lease a "$(wsops_argv ids spawn:3 sleep:12000 spawn:2)" || return 1
	local la=$T/a/$N.lease fa fb
	fa=$(wc -l <"$T/a/log/audit.jsonl") fb=$(wc -l <"$T/b/log/audit.jsonl")
	cx a --lease "$la" >"$T/a/c.out" 2>"$T/a/c.err" &
	local pid=$!
	for _ in $(seq 1 600); do grep -q '^uid=' "$T/a/c.out" && break; sleep 0.05; done
	sm_run b "$(wsops_argv execfail:2 spawn:1)" || { wait "$pid"; return 1; }
	local rcb=$RC
	kill -0 "$pid" 2>/dev/null || fail "the first run ended before the second ran (no overlap)" || { wait "$pid"; return 1; }
	wait "$pid"
	local rca=$?
	[ "$rca" = 0 ] && [ "$rcb" = 0 ] || fail "exits $rca and $rcb: $(head -c 200 "$T/a/c.err")" || return 1
	local sa da sb db
	sa=$(tail -n +"$((fa + 1))" "$T/a/log/audit.jsonl" | grep -cF '"type":"exec.spawned"')
	da=$(tail -n +"$((fa + 1))" "$T/a/log/audit.jsonl" | grep -cF '"type":"exec.denied"')
	sb=$(tail -n +"$((fb + 1))" "$T/b/log/audit.jsonl" | grep -cF '"type":"exec.spawned"')
	db=$(tail -n +"$((fb + 1))" "$T/b/log/audit.jsonl" | grep -cF '"type":"exec.denied"')
	tail -n +"$((fa + 1))" "$T/a/log/audit.jsonl" | grep '"type":"exec.started"' | grep -qF '"monitor":"shared"' &&
		tail -n +"$((fb + 1))" "$T/b/log/audit.jsonl" | grep '"type":"exec.started"' | grep -qF '"monitor":"shared"' ||
		fail "not both runs on the shared monitor" || return 1
	# a: wsops + 5 spawned children; b: wsops + 1 child spawned, 2 failed execs
	[ "$sa/$da" = "6/0" ] || fail "first run: $sa spawned / $da denied (want 6/0)" || return 1
	[ "$sb/$db" = "2/2" ] || fail "second run: $sb spawned / $db denied (want 2/2)" || return 1
	echo "      concurrent: 6/0 and 2/2 exec events, each in its own log"
}
run_test shared.concurrent_runs_see_only_their_own_execs t_concurrent

# Once no run holds the version (100 ms after the last one ends), the
# tracepoint links are unpinned and detached; the programs stay pinned.
# The unpinning is the lingering child's, after calyx-exec exited, and
# the detach its exit's (its link fds closed): look again for up to 10 s
# (a loaded VM may not run it within a fixed 0.5 s).
links_attached() { # VERSION_DIR: the version's programs still attached
	local ids p
	ids=$(tp_link_progs)
	for p in "$(prog_id "$1/on_exec")" "$(prog_id "$1/on_sys_exit")"; do
		printf '%s\n' "$ids" | grep -qx "$p" && printf '%s ' "$p"
	done
}
t_links_go() {
	sm_run a "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	local v p i
	v=$(version_dir)
	for i in $(seq 1 200); do
		[ ! -e "$v/link_exec" ] && [ ! -e "$v/link_sys_exit" ] && [ -z "$(links_attached "$v")" ] && break
		sleep 0.05
	done
	[ ! -e "$v/link_exec" ] && [ ! -e "$v/link_sys_exit" ] ||
		fail "link pins left: $(find "$v" -mindepth 1 -printf '%f ')" || return 1
	for p in "$(prog_id "$v/on_exec")" "$(prog_id "$v/on_sys_exit")"; do
		[ -n "$p" ] || fail "programs gone from $v" || return 1
	done
	[ -z "$(links_attached "$v")" ] || fail "programs $(links_attached "$v")still attached to a tracepoint"
}
run_test shared.links_detached_when_no_run_holds_them t_links_go

# ------------------------------------------------------------ never trusted

# A pin that does not check out (here: "states" replaced by a map of
# another shape) is removed with its version and everything is loaded
# again; the planted map is never used.
t_planted() {
	local v old new
	v=$(version_dir)
	[ -n "$v" ] || fail "no version to plant into (the first test failed?)" || return 1
	old=$(prog_id "$v/on_exec")
	rm -f "$v/states"
	bpftool map create "$v/states" type array key 4 value 8 entries 64 name states 2>"$ERR" ||
		fail "bpftool map create: $(first_err)" || return 1
	sm_run a "$(wsops_argv spawn:1)" || return 1
	expect_rc 0 || return 1
	last_started a | grep -qF '"monitor":"shared"' || fail "run after the plant: $(last_started a | grep -o '"monitor[^}]*')" || return 1
	new=$(prog_id "$v/on_exec")
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "on_exec not reloaded ($old -> $new)" || return 1
	bpftool map show pinned "$v/states" 2>/dev/null | grep -q 'value 8 ' &&
		fail "the planted states map is still pinned" || return 0
}
run_test shared.planted_pin_replaced_never_used t_planted

# Every slot held by a run whose cgroup is gone (written into the pinned
# states, as a crashed calyx-exec leaves them): the run reclaims one.
# Every slot held by a live cgroup (the root cgroup, id 1): the run loads
# its own programs and says why.
fill_slots() { # CGID (decimal)
	local v=$1 id=$2 i val hex
	hex=$(printf '%016x' "$id")
	# the state's first member, little-endian; the rest zero (72 bytes)
	val=""
	for i in 7 6 5 4 3 2 1 0; do val="$val ${hex:$((i * 2)):2}"; done
	for i in $(seq 1 64); do val="$val 00"; done
	local -a kb vb
	read -r -a vb <<<"$val"
	for i in $(seq 0 63); do
		read -r -a kb <<<"$(printf '%02x 00 00 00' "$i")"
		bpftool map update pinned "$v/states" key hex "${kb[@]}" value hex "${vb[@]}" 2>"$ERR" ||
			fail "bpftool map update: $(first_err)" || return 1
	done
}
free_slots() { # VERSION_DIR: how many slots have no owner
	bpftool -j map dump pinned "$1/states" 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for e in d if all(int(b,16)==0 for b in e["value"][:8])))'
}
t_dead_slots() {
	local v
	v=$(version_dir)
	fill_slots "$v" 3735928559 || return 1 # 0xdeadbeef: no such cgroup
	[ "$(free_slots "$v")" = 0 ] || fail "slots not filled: $(free_slots "$v") free" || return 1
	sm_run a "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	last_started a | grep -qF '"monitor":"shared"' || fail "not shared: $(last_started a | grep -o '"monitor[^}]*')" || return 1
	[ "$(free_slots "$v")" = 1 ] || fail "$(free_slots "$v") free slots after the run, want 1 (the reclaimed one, released)" || return 1
}
run_test shared.dead_runs_slot_reclaimed t_dead_slots

t_slots_full() {
	local v
	v=$(version_dir)
	fill_slots "$v" 1 || return 1 # the root cgroup: alive
	sm_run a "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	last_started a | grep -qF '"monitor":"private","monitor_private":"every slot of the shared monitor is in use' ||
		fail "full: $(last_started a | grep -o '"monitor[^}]*')" || return 1
	fill_slots "$v" 0 # free them again
}
run_test shared.all_slots_live_run_loads_its_own t_slots_full

t_user_dir() {
	mkdir -p "$PIN-user" && chown 1000:1000 "$PIN-user" && chmod 700 "$PIN-user" || fail "mkdir $PIN-user" || return 1
	sm_run user "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	last_started user | grep -qF "\"monitor\":\"private\",\"monitor_private\":\"the pin directory is not root's with mode 0700" ||
		fail "user-owned pin dir: $(last_started user | grep -o '"monitor[^}]*')" || return 1
	[ -z "$(ls -A "$PIN-user")" ] || fail "something was pinned in the user's directory" || return 1
}
run_test shared.pin_dir_not_roots_never_used t_user_dir

t_not_bpffs() {
	sm_run nofs "$(wsops_argv ids)" || return 1
	expect_rc 0 || return 1
	last_started nofs | grep -qF '"monitor":"private","monitor_private":"the pin directory is not on a bpffs' ||
		fail "pin dir on $(stat -f -c %T "$HB"): $(last_started nofs | grep -o '"monitor[^}]*')" || return 1
}
run_test shared.pin_dir_not_on_bpffs_run_loads_its_own t_not_bpffs

summary
