#!/usr/bin/env bash
# Monitor tests: quotas on the whole process tree, halts, and that nothing
# is left behind (processes, cgroups, BPF programs, fds).
#
#   bash tests/integration/monitor.sh [BUILD_DIR]   (default: build; run as root)
#
# Workloads are the static programs of tests/workloads (make tests), copied
# to a directory outside /tmp and /work (which a lease cannot name) and
# leased as ro + listed as commands. Runs use a run uid of their own
# (30000 + pid % 10000, a range the sandbox suite does not use), so the
# process checks are not confused by other runs on the host; cgroup checks
# look only at this suite's runs (the lease id's head ends the run
# cgroup's name). Timing is printed, never asserted tightly: the checks
# are sanity bounds (CPU overshoot < 1000 ms).
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
WORKLOADS="spin forkspin hog forkbomb sleeper idle"
for _w in $WORKLOADS; do
	[ -x "$B/workloads/$_w" ] || { echo "$LIB_PROG: $B/workloads/$_w missing (run 'make tests')" >&2; exit 2; }
done
HB=$(mktemp -d /var/tmp/calyx-mon.XXXXXX) || exit 2
# shellcheck disable=SC2016  # expanded when the script exits
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
for _w in $WORKLOADS; do
	install -m 0755 "$B/workloads/$_w" "$HB/$_w" || exit 2
done
unset _w
# idle again under a name holding a bidi override and a C1 CSI (U+202E,
# U+009B): a path the policy lists, shown by calyx-ctl (t_ctl_escapes)
install -m 0755 "$B/workloads/idle" "$HB/$(printf 'id\342\200\256le\302\233')" || exit 2

MON_UID=$((30000 + $$ % 10000))
while getent passwd "$MON_UID" >/dev/null || getent group "$MON_UID" >/dev/null; do
	MON_UID=$((MON_UID + 1))
done
CG=/sys/fs/cgroup
# shellcheck disable=SC2016
COMMANDS="[\"/usr/bin/true\"$(for w in $WORKLOADS; do printf ', "%s/%s"' "$HB" "$w"; done), \"$HB/id\\u202ele\\u009b\"]"
policy_json "$COMMANDS" "[\"/usr\", \"$HB\"]" >"$T/mon.policy.json"
mk_host mon "$T/mon.policy.json" "" "\"run_uid\": $MON_UID, \"run_gid\": $MON_UID" ||
	{ echo "fixture: mk_host mon: $WHY" >&2; exit 2; }
AL=$T/mon/log/audit.jsonl

# Every run of this suite: its lease id head (the run cgroup's name ends
# with it), for the leftover checks.
TAGS=()

# mon_lease NAME ARGV_JSON LIMITS_MEMBERS: a fresh lease $T/mon/NAME.lease
# (ro /usr and the workloads, the given limits, e.g. '"cpu_ms": 300').
mon_lease() {
	printf '{"run_id":"it-run","audience":"%s","argv":%s,"paths":{"ro":["/usr","%s"]},"limits":{%s}}\n' \
		"$HOST_ID" "$2" "$HB" "$3" >"$T/mon/$1.body" || return 1
	mk_lease mon "$T/mon/$1.lease" "$T/mon/$1.body" || return 1
	TAGS+=("$(lease_id "$T/mon/$1.lease" | cut -c 1-12)")
}

# mon_run NAME ARGV_JSON LIMITS_MEMBERS: lease and run (xrun), result in
# $T/mon/NAME.result. A stuck calyx-exec is stopped after 60 s.
mon_run() {
	mon_lease "$@" || return 1
	xrun timeout -k 5 60 "$EXEC" --config "$T/mon/etc/calyx.conf" --lease "$T/mon/$1.lease" \
		--result "$T/mon/$1.result"
}


# expect_halt NAME REASON: exit 124, status halted, halt.reason REASON,
# halt complete, cpu_enforcer bpf.
expect_halt() {
	local r=$T/mon/$1.result
	expect_rc 124 || return 1
	[ "$(rget "$r" status)" = halted ] || fail "status is '$(rget "$r" status)', expected halted" || return 1
	[ "$(rget "$r" halt.reason)" = "$2" ] ||
		fail "halt.reason is '$(rget "$r" halt.reason)', expected $2 ($(first_err))" || return 1
	[ "$(rget "$r" halt.incomplete)" = false ] || fail "halt.incomplete is '$(rget "$r" halt.incomplete)'" || return 1
	grep -q "^calyx-exec: halted \[$2\]: " "$ERR" || fail "stderr lacks 'calyx-exec: halted [$2]': $(first_err)"
}

# num_le A B / num_ge A B: numeric comparisons of decimals.
num_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0 && a != "") }'; }
num_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0 && a != "") }'; }

# run_uid_procs: pids of processes of this suite's run uid.
run_uid_procs() { pgrep -u "$MON_UID" | tr '\n' ' '; }

# our_cgroups [TAG...]: run cgroup directories of this suite's runs (all
# its runs by default) in any hierarchy (v2: $CG/calyx; hybrid and v1:
# $CG/<controller>/calyx).
our_cgroups() {
	local t d
	[ $# -gt 0 ] || set -- "${TAGS[@]}"
	for t in "$@"; do
		[ -n "$t" ] || continue
		for d in "$CG"/calyx/run-*-"$t" "$CG"/*/calyx/run-*-"$t"; do
			[ -d "$d" ] && printf '%s ' "$d"
		done
	done
}

# nothing_left [TAG...]: no process of the run uid and no run cgroup of
# this suite (or of the given runs), looking again for up to 10 s (a
# leak stays; a loaded VM may take more than 1 s to reap what is going).
nothing_left() {
	local i p c
	for i in $(seq 1 200); do
		p=$(run_uid_procs) c=$(our_cgroups "$@")
		[ -z "$p$c" ] && return 0
		sleep 0.05
	done
	[ -z "$p" ] || fail "processes of run uid $MON_UID left: $p ($(ps -o pid=,comm= -p "${p// /,}" 2>/dev/null | tr '\n' ' '))" || return 1
	fail "run cgroups left: $c"
}

# audit_of LEASE_NAME TYPE: the audit lines of that run with that type.
audit_of() {
	local id; id=$(lease_id "$T/mon/$1.lease")
	grep -F "\"lease_id\":\"$id\"" "$AL" | grep -F "\"type\":\"$2\""
}

# bpf_count prog|link: the monitor's BPF programs (or links) loaded now.
bpf_count() {
	if [ "$1" = prog ]; then
		bpftool prog show 2>/dev/null | grep -cE '^[0-9]+: .* name (on_cpu_tick|on_exec[a-z_]*|on_sys_exit) '
	else
		bpftool link show 2>/dev/null | grep -cE '^[0-9]+: '
	fi
}

# --------------------------------------------------------------------------
# 1. the BPF enforcer loads (verifier regressions fail here)
# --------------------------------------------------------------------------
t_bpf_smoke() {
	mon_run smoke '["/usr/bin/true"]' '"cpu_ms": 5000, "wall_ms": 20000' || return 1
	expect_rc 0 || return 1
	local r=$T/mon/smoke.result why
	[ "$(rget "$r" cgroup_layout)" != "" ] || fail "no cgroup_layout in the result" || return 1
	if [ "$(rget "$r" cpu_enforcer)" != bpf ]; then
		why=$(audit_of smoke exec.started | grep -o '"bpf_unavailable":"[^"]*"')
		fail "cpu_enforcer is '$(rget "$r" cpu_enforcer)', expected bpf: $why"
		return 1
	fi
	audit_of smoke exec.started | grep -qF '"cpu_enforcer":"bpf"' ||
		fail "exec.started does not record cpu_enforcer bpf" || return 1
	[ "$(audit_of smoke exec.spawned | wc -l)" -eq 1 ] ||
		fail "expected 1 exec.spawned (the BPF exec tracer), got $(audit_of smoke exec.spawned | wc -l)" || return 1
	printf '      layout %s, enforcer %s\n' "$(rget "$r" cgroup_layout)" "$(rget "$r" cpu_enforcer)"
}
run_test bpf.enforcer_loads_and_attaches t_bpf_smoke

# --------------------------------------------------------------------------
# 2. CPU: the whole tree, threads and processes
# --------------------------------------------------------------------------
cpu_halt() {
	local name=$1 argv=$2 r=$T/mon/$1.result
	mon_run "$name" "$argv" '"cpu_ms": 300, "wall_ms": 20000' || return 1
	expect_halt "$name" cpu || return 1
	[ "$(rget "$r" cpu_enforcer)" = bpf ] || fail "cpu_enforcer is '$(rget "$r" cpu_enforcer)', expected bpf" || return 1
	[ "$(rget "$r" halt.limit)" = 300 ] || fail "halt.limit is '$(rget "$r" halt.limit)'" || return 1
	[ "$(rget "$r" halt.unit)" = ms ] || fail "halt.unit is '$(rget "$r" halt.unit)'" || return 1
	local used over precise
	used=$(rget "$r" usage.cpu_ms) over=$(rget "$r" halt.overshoot) precise=$(rget "$r" halt.cpu_overshoot_ms_precise)
	printf '      cpu_ms %s, overshoot %s ms (precise %s), detect_to_empty %s ms, wall %s ms\n' \
		"$used" "$over" "$precise" "$(rget "$r" halt.detect_to_empty_ms)" "$(rget "$r" wall_ms)"
	# Halted at this budget, not at another: within 5 % below it. The
	# enforcer counts CPU in 0.5 ms samples per CPU on cpu-clock perf
	# events, which count the interrupts and the time a hypervisor stole
	# while the run was on the CPU; cpu.stat bills the scheduler's task
	# clock, which leaves both out. So on a loaded shared VM the billed
	# total sits below the budget by more than a sample per CPU (seen:
	# 297 of 300, precise -2.75 ms, spin 4 under ASan in the CI rehearsal
	# of 2026-12-08; 290 in bomb_cpu on a busy VM). How close it lands is
	# make bench-monitor's figure (monitor.cpu_overshoot_bpf_ms, a
	# median), never a test's assert.
	num_ge "$used" 285 || fail "usage.cpu_ms is '$used', expected >= 285 (95 % of 300)" || return 1
	num_ge "$precise" -15 && num_le "$precise" 1000 ||
		fail "cpu_overshoot_ms_precise is '$precise', expected -15..1000" || return 1
	num_le "$over" 1000 || fail "halt.overshoot is '$over'" || return 1
	nothing_left "${TAGS[-1]}"
}
t_cpu_1() { cpu_halt cpu1 "[\"$HB/spin\"]"; }
t_cpu_4() { cpu_halt cpu4 "[\"$HB/spin\", \"4\"]"; }
t_cpu_fork() { cpu_halt cpufork "[\"$HB/forkspin\", \"4\"]"; }
run_test cpu.spin_1_thread_halted_300ms       t_cpu_1
run_test cpu.spin_4_threads_halted_300ms      t_cpu_4
run_test cpu.forkspin_4_procs_halted_300ms    t_cpu_fork

t_audit_halt() {
	# the audit log of the cpu1 run: resource.breach then run.halted, with
	# the quota that was breached
	local b h
	b=$(audit_of cpu1 resource.breach) h=$(audit_of cpu1 run.halted)
	[ "$(printf '%s\n' "$b" | grep -c .)" -eq 1 ] || fail "expected 1 resource.breach, got: $b" || return 1
	printf '%s' "$b" | grep -qE '"details":\{"quota":"cpu","limit":300,"usage":[0-9]+\}' ||
		fail "resource.breach details: $(printf '%s' "$b" | grep -o '"details":{[^}]*}')" || return 1
	[ "$(printf '%s\n' "$h" | grep -c .)" -eq 1 ] || fail "expected 1 run.halted, got: $h" || return 1
	printf '%s' "$h" | grep -qE '"details":\{"reason":"cpu","unit":"ms","limit":300,"usage":[0-9]+,' ||
		fail "run.halted details: $(printf '%s' "$h" | grep -o '"details":{[^}]*}')" || return 1
	# breach before halt, both before exec.finished
	local id; id=$(lease_id "$T/mon/cpu1.lease")
	local order; order=$(grep -F "\"lease_id\":\"$id\"" "$AL" |
		sed -n 's/^{"seq":[0-9]*,"time":"[^"]*","type":"\([^"]*\)".*/\1/p' | tr '\n' ' ')
	case $order in
	*"resource.breach run.halted exec.finished "*) ;;
	*) fail "audit order for the run: $order"; return 1 ;;
	esac
	check 0 "" "$AUDIT" verify --host-pub "$T/mon/etc/host.pub.json" "$AL"
}
run_test audit.breach_and_halted_with_quota   t_audit_halt

t_exec_count() {
	# forkspin and 3 children re-executing it: 4 processes started, each
	# an exec.spawned event (the sandbox lets only the leased command run)
	mon_run execs "[\"$HB/forkspin\", \"3\", \"exec\", \"$HB/forkspin\", \"sleep\", \"50\"]" \
		'"wall_ms": 20000' || return 1
	expect_rc 0 || return 1
	local n; n=$(audit_of execs exec.spawned | wc -l)
	[ "$n" -eq 4 ] || fail "exec.spawned events: $n, expected 4" || return 1
	[ "$(audit_of execs exec.spawned | grep -cF "\"argv_head\":\"$HB/forkspin sleep 50\"")" -eq 3 ] ||
		fail "expected 3 exec.spawned with argv '$HB/forkspin sleep 50'" || return 1
	[ "$(rget "$T/mon/execs.result" processes_started)" = 4 ] ||
		fail "processes_started is '$(rget "$T/mon/execs.result" processes_started)', expected 4"
}
run_test audit.one_exec_spawned_per_process   t_exec_count

# Without BPF (bpf() failing with ENOSYS under tests/bench/shim_nobpf, as
# on a kernel without it) the loader guard cannot hold: the run is
# refused with E_LAYER before the lease is consumed (it then runs where
# BPF works), one line saying how to accept it; a policy with
# "exec_guard": "optional" runs, with the cgroup poller and no guard.
t_guard_nobpf() {
	local shim=$B/benchbin/shim_nobpf r
	mon_lease nobpf '["/usr/bin/true"]' '"wall_ms": 20000' || return 1
	xrun timeout -k 5 60 "$shim" "$EXEC" --config "$T/mon/etc/calyx.conf" --lease "$T/mon/nobpf.lease" \
		--result "$T/mon/nobpf.result"
	[ "$RC" -ne 0 ] || fail "a run without BPF went ahead without the exec guard" || return 1
	[ "$(grep -c . "$ERR")" -eq 1 ] && grep -qF '[E_LAYER]' "$ERR" && grep -qF '"exec_guard": "optional"' "$ERR" ||
		fail "expected one E_LAYER line naming exec_guard optional, got exit $RC: $(head -c 400 "$ERR")" || return 1
	printf '      refused: exit %s: %s\n' "$RC" "$(first_err | cut -c 1-160)"
	# refused before the lease was consumed: it runs where BPF works
	xrun timeout -k 5 60 "$EXEC" --config "$T/mon/etc/calyx.conf" --lease "$T/mon/nobpf.lease"
	expect_rc 0 || fail "the lease refused without BPF was consumed: $(first_err)" || return 1
	policy_json "$COMMANDS" "[\"/usr\", \"$HB\"]" "" '"exec_guard": "optional"' >"$T/monopt.policy.json"
	mk_host monopt "$T/monopt.policy.json" "" "\"run_uid\": $MON_UID, \"run_gid\": $MON_UID" ||
		fail "mk_host monopt: $WHY" || return 1
	printf '{"run_id":"it-run","audience":"%s","argv":["/usr/bin/true"],"paths":{"ro":["/usr"]}}\n' \
		"$HOST_ID" >"$T/monopt/opt.body" && mk_lease monopt "$T/monopt/opt.lease" "$T/monopt/opt.body" || return 1
	TAGS+=("$(lease_id "$T/monopt/opt.lease" | cut -c 1-12)")
	xrun timeout -k 5 60 "$shim" "$EXEC" --config "$T/monopt/etc/calyx.conf" --lease "$T/monopt/opt.lease" \
		--result "$T/monopt/opt.result"
	expect_rc 0 || return 1
	r=$T/monopt/opt.result
	[ "$(rget "$r" cpu_enforcer)" = cgroup-poll ] || fail "cpu_enforcer is '$(rget "$r" cpu_enforcer)'" || return 1
	grep -F '"type":"exec.started"' "$T/monopt/log/audit.jsonl" | grep -qF '"exec_guard":"none"' ||
		fail "exec.started of the optional run does not say exec_guard none"
}
[ -x "$B/benchbin/shim_nobpf" ] || make -s "$B/benchbin/shim_nobpf" >/dev/null 2>&1 || true
if [ -x "$B/benchbin/shim_nobpf" ]; then
	run_test bpf.no_bpf_refused_unless_exec_guard_optional t_guard_nobpf
else
	skip_test bpf.no_bpf_refused_unless_exec_guard_optional "no $B/benchbin/shim_nobpf (make $B/benchbin/shim_nobpf)"
fi

# --------------------------------------------------------------------------
# 3. memory, pids, wall
# --------------------------------------------------------------------------
t_mem() {
	mon_run mem "[\"$HB/hog\"]" '"memory_bytes": 67108864, "wall_ms": 20000' || return 1
	expect_halt mem memory || return 1
	local r=$T/mon/mem.result
	[ "$(rget "$r" halt.limit)" = 67108864 ] || fail "halt.limit is '$(rget "$r" halt.limit)'" || return 1
	printf '      peak %s bytes, detect_to_empty %s ms\n' "$(rget "$r" usage.peak_memory_bytes)" \
		"$(rget "$r" halt.detect_to_empty_ms)"
	num_le "$(rget "$r" usage.peak_memory_bytes)" 67108864 || fail "peak memory above the limit" || return 1
	nothing_left "${TAGS[-1]}"
}
t_mem_child() {
	# the parent idles, a child hogs: the kernel kills the child; the
	# breach must still stop the whole tree, well before the wall limit
	mon_run memchild "[\"$HB/hog\", \"child\"]" '"memory_bytes": 67108864, "wall_ms": 5000' || return 1
	expect_halt memchild memory || return 1
	local r=$T/mon/memchild.result
	printf '      wall %s ms, detect_to_empty %s ms\n' "$(rget "$r" wall_ms)" "$(rget "$r" halt.detect_to_empty_ms)"
	nothing_left "${TAGS[-1]}"
}
t_forkbomb() {
	mon_run bomb "[\"$HB/forkbomb\"]" '"pids": 64, "wall_ms": 5000' || return 1
	expect_rc 124 || return 1
	local r=$T/mon/bomb.result why
	why=$(rget "$r" halt.reason)
	case $why in pids | wall) ;; *) fail "halt.reason is '$why', expected pids or wall"; return 1 ;; esac
	printf '      halt %s, pids_peak %s, forks_refused %s, detect_to_empty %s ms\n' "$why" \
		"$(rget "$r" usage.pids_peak)" "$(rget "$r" usage.forks_refused)" "$(rget "$r" halt.detect_to_empty_ms)"
	num_le "$(rget "$r" usage.pids_peak)" 64 || fail "pids_peak above the limit" || return 1
	[ "$(rget "$r" halt.incomplete)" = false ] || fail "halt incomplete" || return 1
	nothing_left "${TAGS[-1]}"
}
t_wall() {
	mon_run wall "[\"$HB/sleeper\", \"5000\"]" '"wall_ms": 300' || return 1
	expect_halt wall wall || return 1
	local r=$T/mon/wall.result
	[ "$(rget "$r" halt.limit)" = 300 ] || fail "halt.limit is '$(rget "$r" halt.limit)'" || return 1
	printf '      wall %s ms\n' "$(rget "$r" wall_ms)"
	num_ge "$(rget "$r" wall_ms)" 300 && num_le "$(rget "$r" wall_ms)" 4000 ||
		fail "wall_ms is '$(rget "$r" wall_ms)'" || return 1
	nothing_left "${TAGS[-1]}"
}
t_no_halt() {
	# a run within every quota completes normally
	mon_run ok "[\"$HB/sleeper\", \"50\"]" '"cpu_ms": 1000, "wall_ms": 5000, "memory_bytes": 67108864, "pids": 16' || return 1
	expect_rc 0 || return 1
	[ "$(rget "$T/mon/ok.result" status)" = completed ] || fail "status is '$(rget "$T/mon/ok.result" status)'" || return 1
	! grep -q '"halt": *{' "$T/mon/ok.result" || fail "the result has a halt"
}
run_test memory.hog_halted_64MiB              t_mem
run_test memory.child_hog_kills_whole_tree    t_mem_child
run_test pids.forkbomb_contained_64           t_forkbomb
run_test wall.sleeper_halted_300ms            t_wall
run_test quotas.within_limits_completes       t_no_halt

# --------------------------------------------------------------------------
# 4. operator halt, and calyx-exec killed
# --------------------------------------------------------------------------
# bg_start NAME ARGV LIMITS: start calyx-exec in the background (pid in
# BG_PID) and wait until the workload printed its first line (at most
# 30 s: the sanitizer build's start, BPF verifier included, on a loaded
# 2-CPU VM can take several seconds).
BG_PID=""
bg_start() {
	mon_lease "$@" || return 1
	"$EXEC" --config "$T/mon/etc/calyx.conf" --lease "$T/mon/$1.lease" --result "$T/mon/$1.result" \
		>"$T/mon/$1.out" 2>"$T/mon/$1.err" &
	BG_PID=$!
	local i
	for i in $(seq 1 600); do
		[ -s "$T/mon/$1.out" ] && return 0
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "the workload did not start: $(head -n 1 "$T/mon/$1.err")"
}

t_sigterm() {
	bg_start term "[\"$HB/idle\"]" '"wall_ms": 20000' || return 1
	kill -TERM "$BG_PID"
	wait "$BG_PID"
	RC=$?
	cp "$T/mon/term.err" "$ERR"
	expect_halt term operator || return 1
	grep -q 'signal 15' "$ERR" || fail "stderr does not name signal 15: $(first_err)" || return 1
	[ "$(rget "$T/mon/term.result" halt.signal)" = 15 ] ||
		fail "halt.signal is '$(rget "$T/mon/term.result" halt.signal)', expected 15" || return 1
	nothing_left "${TAGS[-1]}"
}
run_test operator.sigterm_halts_124           t_sigterm

# A halt signal is an operator's request like calyx-ctl halt: who sent it
# (pid, uid) is audited in operator.halted, and named in the halt object
# and on stderr. The sender here is a process whose pid is known: a shell
# that writes its own pid, then becomes kill(1) (exec keeps the pid).
t_signal_sender() {
	local lid sender ev
	bg_start sender "[\"$HB/idle\"]" '"wall_ms": 20000' || return 1
	lid=$(lease_id "$T/mon/sender.lease")
	bash -c 'echo $$ >"$1"; exec /usr/bin/kill -TERM "$2"' _ "$T/mon/sender.pid" "$BG_PID"
	sender=$(cat "$T/mon/sender.pid")
	wait "$BG_PID"
	RC=$?
	cp "$T/mon/sender.err" "$ERR"
	expect_halt sender operator || return 1
	ev=$(grep "\"lease_id\":\"$lid\"" "$AL" | grep '"type":"operator.halted"')
	[ "$(printf '%s\n' "$ev" | grep -c .)" -eq 1 ] ||
		fail "expected one operator.halted for the signal, found: $(printf '%s' "$ev" | cut -c 1-200)" || return 1
	printf '%s' "$ev" | grep -q "\"details\":{\"operator_uid\":0,\"signal\":15,\"sender_pid\":$sender}" ||
		fail "operator.halted does not name signal 15 from pid $sender, uid 0: $(printf '%s' "$ev" | cut -c 1-300)" ||
		return 1
	[ "$(rget "$T/mon/sender.result" halt.sender_pid)" = "$sender" ] ||
		fail "halt.sender_pid is '$(rget "$T/mon/sender.result" halt.sender_pid)', expected $sender" || return 1
	[ "$(rget "$T/mon/sender.result" halt.operator_uid)" = 0 ] ||
		fail "halt.operator_uid is '$(rget "$T/mon/sender.result" halt.operator_uid)', expected 0" || return 1
	grep -q "signal 15 from pid $sender (uid 0)" "$ERR" || fail "stderr does not name the sender: $(first_err)" || return 1
	nothing_left "${TAGS[-1]}"
}
run_test operator.signal_sender_audited          t_signal_sender

# The command runs inside its run's cgroup in every hierarchy calyx-exec
# uses (v1 ones too: init joins them itself before it forks the command),
# as the host's /proc/PID/cgroup lists them.
t_in_cgroups() {
	local tag p ctl path seen=0 bad=""
	bg_start incg "[\"$HB/idle\"]" '"wall_ms": 20000' || return 1
	tag=${TAGS[-1]}
	p=$(pgrep -u "$MON_UID" -x idle | head -n 1)
	[ -n "$p" ] || fail "no idle process of run uid $MON_UID" || return 1
	while IFS=: read -r _ ctl path; do
		case ",$ctl," in
		,, | *,memory,* | *,pids,* | *,cpu,* | *,cpuacct,*) ;;
		*) continue ;;
		esac
		seen=$((seen + 1))
		case $path in
		*/calyx/run-*-"$tag") ;;
		*) bad+=" ${ctl:-unified}:$path" ;;
		esac
	done <"/proc/$p/cgroup"
	kill -TERM "$BG_PID"
	wait "$BG_PID"
	[ "$seen" -gt 0 ] || fail "no hierarchy of /proc/$p/cgroup checked" || return 1
	[ -z "$bad" ] || fail "the command is outside its run cgroup in:$bad" || return 1
	printf '      %d hierarchies hold the command\n' "$seen"
	nothing_left "$tag"
}
run_test cgroups.command_in_every_hierarchy   t_in_cgroups

# calyx-ctl: list, pause (the cgroup is really frozen), resume, halt; each
# operator action is audited with the operator's uid.
CTL=$B/calyx-ctl
ctl() { "$CTL" --config "$T/mon/etc/calyx.conf" "$@"; }
frozen_of() { # TAG: the unified "frozen" flag of the run's cgroup
	local d
	for d in "$CG"/unified/calyx/run-*-"$1"; do
		[ -d "$d" ] && sed -n 's/^frozen //p' "$d/cgroup.events"
	done
}
t_ctl() {
	bg_start ctl "[\"$HB/idle\"]" '"wall_ms": 20000' || return 1
	local lid tag
	lid=$(lease_id "$T/mon/ctl.lease")
	tag=$(echo "$lid" | cut -c 1-12)
	check 0 "" ctl list || return 1
	grep -q "^$(echo "$lid" | cut -c 1-14) " "$OUT" || fail "list does not show lease $lid: $(tr '\n' '|' <"$OUT")" || return 1
	check 0 "" ctl pause "$lid" || return 1
	expect_stdout_has "is now paused" || return 1
	# calyx-exec answers once the tree is frozen, or after 250 ms as it
	# is (a task the kernel has not scheduled yet is not frozen yet):
	# look again, bounded
	local i
	for i in $(seq 1 200); do
		[ "$(frozen_of "$tag")" = 1 ] && break
		sleep 0.05
	done
	[ "$(frozen_of "$tag")" = 1 ] || fail "cgroup not frozen 10 s after pause" || return 1
	check 0 "" ctl status "$tag" || return 1
	grep -q '"state": "paused"' "$OUT" || fail "status does not say paused" || return 1
	check 0 "" ctl resume "$lid" || return 1
	[ "$(frozen_of "$tag")" = 0 ] || fail "cgroup still frozen after resume" || return 1
	check 1 "no running lease matches" ctl halt "no-such-run" || return 1
	check 0 "" ctl halt "$lid" || return 1
	wait "$BG_PID"
	RC=$?
	cp "$T/mon/ctl.err" "$ERR"
	expect_halt ctl operator || return 1
	grep -q 'stopped by uid 0 through calyx-ctl' "$ERR" || fail "stderr: $(first_err)" || return 1
	[ "$(rget "$T/mon/ctl.result" halt.operator_uid)" = 0 ] || fail "halt.operator_uid is not 0" || return 1
	local types
	types=$(grep "\"lease_id\":\"$lid\"" "$AL" | sed -n 's/.*"type":"\(operator\.[a-z]*\)".*"operator_uid":0.*/\1/p' | tr '\n' ' ')
	[ "$types" = "operator.paused operator.resumed operator.halted " ] ||
		fail "operator audit events are '$types'" || return 1
	nothing_left "$tag"
}
run_test operator.calyx_ctl_pause_resume_halt t_ctl

t_ctl_nonroot() {
	bg_start ctl2 "[\"$HB/idle\"]" '"wall_ms": 20000' || return 1
	local lid
	lid=$(lease_id "$T/mon/ctl2.lease")
	# the socket sits in a root-only directory: nobody cannot even reach it
	xrun setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --config "$T/mon/etc/calyx.conf" halt "$lid"
	[ "$RC" -ne 0 ] || fail "calyx-ctl as nobody succeeded" || return 1
	kill -0 "$BG_PID" 2>/dev/null || fail "the run stopped after a non-root request" || return 1
	ctl halt "$lid" >/dev/null 2>&1
	wait "$BG_PID"
	nothing_left "$(echo "$lid" | cut -c 1-12)"
}
run_test operator.calyx_ctl_non_root_refused   t_ctl_nonroot

# What a supervisor reports is shown through calyx/esc.h's rule: a command
# whose name holds U+202E and U+009B shows escaped in list, and as JSON
# \u escapes in status (still JSON).
t_ctl_escapes() {
	local lid bad="" raw='[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xa8-\xae]|\xe2\x81[\xa0-\xa9]'
	bg_start ctlesc "[\"$HB/id\\u202ele\\u009b\"]" '"wall_ms": 20000' || return 1
	lid=$(lease_id "$T/mon/ctlesc.lease")
	xrun ctl list
	if [ "$RC" -ne 0 ]; then
		bad="list: exit $RC"
	elif LC_ALL=C grep -qaP "$raw" "$OUT"; then
		bad="list: a raw control or bidi byte"
	elif ! grep -qF "$HB/id\\u{202e}le\\u{009b}" "$OUT"; then
		bad="list does not show the command escaped: $(tail -n 1 "$OUT" | LC_ALL=C tr -c '\040-\176' '?')"
	else
		xrun ctl status "$lid"
		if [ "$RC" -ne 0 ]; then
			bad="status: exit $RC"
		elif LC_ALL=C grep -qaP "$raw" "$OUT"; then
			bad="status: a raw control or bidi byte"
		elif ! grep -qF 'id\u202Ele\u009B' "$OUT"; then
			bad="status does not show the command as JSON escapes"
		elif ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$OUT"; then
			bad="status is not JSON"
		fi
	fi
	ctl halt "$lid" >/dev/null 2>&1 # whatever the checks said: nothing may be left running
	wait "$BG_PID"
	[ -z "$bad" ] || fail "$bad" || return 1
	nothing_left "$(echo "$lid" | cut -c 1-12)"
}
run_test operator.calyx_ctl_shows_strings_escaped t_ctl_escapes

t_kill9() {
	local tag c name before
	bg_start k9 "[\"$HB/idle\"]" '"wall_ms": 20000' || return 1
	tag=${TAGS[-1]}
	[ -n "$(run_uid_procs)" ] || fail "no process of run uid $MON_UID while running" || return 1
	kill -KILL "$BG_PID"
	wait "$BG_PID" 2>/dev/null
	# the sandbox dies with calyx-exec (PDEATHSIG + pid namespace): the
	# kernel's teardown is asynchronous, look again for up to 10 s
	local i p
	for i in $(seq 1 200); do
		p=$(run_uid_procs)
		[ -z "$p" ] && break
		sleep 0.05
	done
	[ -z "$p" ] || fail "processes of run uid $MON_UID survive calyx-exec's death: $p" || return 1
	# its run cgroup stays behind ...
	c=$(our_cgroups "$tag")
	[ -n "$c" ] || fail "no run cgroup left behind by the killed calyx-exec" || return 1
	name=$(basename "${c%% *}")
	case $name in
	"run-$BG_PID-"*) ;;
	*) fail "left cgroup '$name' is not named after calyx-exec's pid $BG_PID"; return 1 ;;
	esac
	# ... until the next start removes it, says so once, and audits it
	before=$(grep -c . "$AL")
	mon_run after '["/usr/bin/true"]' '"wall_ms": 20000' || return 1
	expect_rc 0 || return 1
	[ "$(grep -cF "calyx-exec: note: removed stale run cgroup '$name'" "$ERR")" -eq 1 ] ||
		fail "stderr lacks one 'removed stale run cgroup '$name'' note: $(tr '\n' '|' <"$ERR" | cut -c 1-300)" || return 1
	! grep -v "^calyx-exec: note: removed stale run cgroup '" "$ERR" | grep -q . ||
		fail "other stderr output: $(grep -v 'note: removed stale' "$ERR" | head -n 1)" || return 1
	tail -n +"$((before + 1))" "$AL" | grep -F '"type":"monitor.stale_cgroup_removed"' |
		grep -qF "\"cgroup\":\"$name\"" || fail "no monitor.stale_cgroup_removed audit event for $name" || return 1
	nothing_left "$tag" "${TAGS[-1]}"
}
run_test crash.kill9_sandbox_dies_cgroup_reaped t_kill9

# --------------------------------------------------------------------------
# 5. no leaks: fds, cgroups, processes, BPF programs over many runs
# --------------------------------------------------------------------------
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

t_fds() {
	local a b
	bg_start fds "[\"$HB/idle\"]" '"cpu_ms": 60000, "wall_ms": 20000' || return 1
	sleep 0.2
	a=$(fd_count "$BG_PID")
	# the leak check of the 200 runs below must be able to see the
	# monitor's BPF programs and links at all
	local bp bl
	bp=$(bpf_count prog) bl=$(bpf_count link)
	printf '      monitor BPF programs loaded while running: %s, links: %s\n' "$bp" "$bl"
	sleep 1
	b=$(fd_count "$BG_PID")
	printf '      calyx-exec fds while supervising: %s, 1 s later: %s (%s CPUs)\n' "$a" "$b" "$(nproc)"
	local f
	for f in /proc/"$BG_PID"/fd/*; do
		printf '        %s -> %s\n' "${f##*/}" "$(readlink "$f")"
	done >"$T/fds.list" 2>/dev/null
	kill -TERM "$BG_PID"
	wait "$BG_PID"
	[ "$a" -gt 0 ] && [ "$a" -eq "$b" ] || fail "fd count changed while idle: $a -> $b" || return 1
	[ "$bp" -ge 2 ] && [ "$bl" -ge 2 ] ||
		fail "bpftool shows $bp monitor programs and $bl links during a run (expected the CPU and exec programs)" || return 1
	# 3 std + audit/ledger + epoll/timers/signalfd/pidfd + cgroup dirs and
	# event fds (one per hierarchy) + BPF (maps, programs, ring buffer,
	# one perf event and link per CPU)
	local bound=$((56 + 2 * $(nproc))) # + the exec guard: its maps, 2 programs and links
	[ "$a" -lt "$bound" ] || { cat "$T/fds.list"; fail "calyx-exec holds $a fds, expected < $bound"; }
}
run_test leaks.fds_constant_while_supervising t_fds

t_many_runs() {
	local n=200 i p0 l0 p1 l1 fails=0 t0 t1 rc
	local first=${#TAGS[@]}
	for i in $(seq 1 "$n"); do
		mon_lease "many$i" '["/usr/bin/true"]' '"wall_ms": 20000' || return 1
	done
	p0=$(bpf_count prog) l0=$(bpf_count link)
	t0=$(date +%s%N)
	for i in $(seq 1 "$n"); do
		"$EXEC" --config "$T/mon/etc/calyx.conf" --lease "$T/mon/many$i.lease" >/dev/null 2>"$T/many.err"
		rc=$?
		[ "$rc" -eq 0 ] || { fails=$((fails + 1)); cp "$T/many.err" "$T/many.lasterr"; }
	done
	t1=$(date +%s%N)
	printf '      %d runs in %d ms (%d ms each)\n' "$n" $(((t1 - t0) / 1000000)) $(((t1 - t0) / 1000000 / n))
	[ "$fails" -eq 0 ] || fail "$fails of $n runs failed: $(head -n 1 "$T/many.lasterr")" || return 1
	nothing_left "${TAGS[@]:$first}" || return 1
	# BPF programs and links: none left (another engineer's run may hold
	# some for a moment: look again before calling it a leak)
	for i in $(seq 1 30); do
		p1=$(bpf_count prog) l1=$(bpf_count link)
		[ "$p1" -le "$p0" ] && [ "$l1" -le "$l0" ] && break
		sleep 0.1
	done
	printf '      BPF programs %s -> %s, links %s -> %s\n' "$p0" "$p1" "$l0" "$l1"
	[ "$p1" -le "$p0" ] || fail "monitor BPF programs: $p0 before, $p1 after" || return 1
	[ "$l1" -le "$l0" ] || fail "BPF links: $l0 before, $l1 after"
}
run_test leaks.200_runs_no_cgroup_proc_bpf    t_many_runs

t_final() {
	nothing_left || return 1
	check 0 "" "$AUDIT" verify --host-pub "$T/mon/etc/host.pub.json" "$AL"
}
run_test leaks.nothing_left_audit_verifies    t_final

summary
