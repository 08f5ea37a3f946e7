#!/usr/bin/env bash
# Soak and leak gate (issue 7): SOAK_RUNS runs of a mix of leases,
# SOAK_CONCURRENCY at a time, then nothing may be left behind.
#
#   SOAK_RUNS=1000 SOAK_CONCURRENCY=20 scripts/soak.sh [BUILD]    (root)
#
# The mix, one kind per run in turn (each on a workspace of its own that
# holds base.txt; every run first writes out.txt and appends to base.txt):
#   success   writes, validate exits 0             -> exit 0, committed
#   cmdfail   writes, exits 3                      -> exit 3, rolled back
#   cpu       writes, spins past cpu_ms 200        -> 124 [cpu], rolled back
#   memory    hog past memory_bytes 32 MiB         -> 124 [memory], rolled back
#   pids      fork bomb past pids 16               -> 124 [pids], rolled back
#   wall      writes, sleeps past wall_ms 300      -> 124 [wall], rolled back
#   operator  writes, sleeps; calyx-ctl halt       -> 124 [operator], rolled back
#   validate  writes, validate exits 5             -> exit 5, rolled back
# The pids runs go through a second configuration that differs only in
# its run uid, one at a time: RLIMIT_NPROC, the backup of the pids quota,
# counts every process of the run uid on the host, so with other runs of
# the same uid alive a fork bomb's forks fail on RLIMIT_NPROC before
# pids.max (no pids breach: the run ends at its wall limit), and a run
# can even fail to execve (EAGAIN, E_EXEC) because of the others' processes
# (tests/soak/repro_nproc.sh reproduces it). The gate checks the monitor's
# pids halt here, not that interference.
# Leases are signed before the timed part (in parallel; both times are
# printed). Two "probe" runs (one before, one after the soak) live 6 s
# each: their calyx-exec's open fds are counted early and late in the run
# (2.3 s after its supervisor answers: well inside the run's sleep, so
# "late" is never its commit's own fds on a VM that stalls for a moment).
#
# Afterwards, scoped to this gate's runs (tests/soak/leaks.sh): zombies and
# processes (the gate's own run uid, its binaries), run cgroups named after
# its leases, new mounts naming its directories, BPF programs held by no
# one, run dirs/sockets/trash in its state dir, fd growth of calyx-exec;
# the audit log verifies and holds exactly the expected number of each
# event type; the ledger holds exactly the leases run; every workspace is
# exactly committed or exactly untouched. Writes $BUILD/gates/soak.json
# and prints a one-line summary last; exit 1 when anything is off.
# SOAK_PLANT=1 plants one leak of each kind the probes can be shown
# (a process and a zombie of the run uid, a run cgroup, a tmpfs on the
# state dir, a run dir and a socket) before the checks, to show they see
# them: the gate must then fail with those counts.
set -u
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "${1:-build}"
# shellcheck source=tests/soak/leaks.sh
source tests/soak/leaks.sh

RUNS=${SOAK_RUNS:-1000}
CONC=${SOAK_CONCURRENCY:-20}
case $RUNS$CONC in *[!0-9]*) echo "soak: SOAK_RUNS and SOAK_CONCURRENCY must be numbers" >&2; exit 2 ;; esac
[ "$RUNS" -ge 1 ] && [ "$CONC" -ge 1 ] || { echo "soak: SOAK_RUNS and SOAK_CONCURRENCY must be >= 1" >&2; exit 2; }
GATES=$B/gates
mkdir -p "$GATES"
CTL=$B/calyx-ctl
command -v bpftool >/dev/null || { echo "soak: bpftool missing (scripts/install-deps.sh)" >&2; exit 2; }
for w in wsops hog forkbomb; do
	[ -x "$B/workloads/$w" ] || { echo "soak: $B/workloads/$w missing (make tests)" >&2; exit 2; }
done

# Workloads outside /tmp (a lease may not name the sandbox's /tmp).
HB=$(mktemp -d /var/tmp/calyx-soak.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
for w in wsops hog forkbomb; do install -m 0755 "$B/workloads/$w" "$HB/$w" || exit 2; done

# Run uids of our own (one more for the pids runs): every process of them
# is one of our sandboxes.
free_uid() { # FROM: the first uid from FROM no account or process uses
	local u=$1
	while getent passwd "$u" >/dev/null || getent group "$u" >/dev/null || pgrep -u "$u" >/dev/null; do
		u=$((u + 1))
	done
	echo "$u"
}
SOAK_UID=$(free_uid $((50000 + $$ % 5000)))
PIDS_UID=$(free_uid $((SOAK_UID + 1)))

policy_json "[\"$HB/wsops\", \"$HB/hog\", \"$HB/forkbomb\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" \
	>"$T/soak.policy.json"
mk_host soak "$T/soak.policy.json" "" "\"run_uid\": $SOAK_UID, \"run_gid\": $SOAK_UID" ||
	{ echo "soak: fixture: $WHY" >&2; exit 2; }
CONF=$T/soak/etc/calyx.conf
# the pids runs' configuration: the same host (state dir, ledger, audit
# log, keys), another run uid
PIDS_CONF=$T/soak/etc/calyx-pids.conf
sed "s/\"run_uid\": $SOAK_UID, \"run_gid\": $SOAK_UID/\"run_uid\": $PIDS_UID, \"run_gid\": $PIDS_UID/" "$CONF" >"$PIDS_CONF"
chmod 644 "$PIDS_CONF"
grep -q "\"run_uid\": $PIDS_UID" "$PIDS_CONF" || { echo "soak: cannot write $PIDS_CONF" >&2; exit 2; }
STATE=$T/soak/state
AL=$T/soak/log/audit.jsonl
mkdir -p "$T/srv" "$T/l" "$T/r"

KINDS=(success cmdfail success cpu validate memory success pids operator wall)
kind_of() { echo "${KINDS[$(( ($1 - 1) % ${#KINDS[@]} ))]}"; }

# body N KIND: the lease body of run N (workspace $T/srv/wN).
WOPS='"write:out.txt:%s", "append:base.txt:+%s"'
body() {
	local n=$1 kind=$2 ws=$T/srv/w$1 argv limits='"wall_ms": 60000' extra="" ops
	# shellcheck disable=SC2059
	ops=$(printf "$WOPS" "$n" "$n")
	case $kind in
	success) argv="[\"$HB/wsops\", $ops]"
		extra=",\"validate\":{\"argv\":[\"$HB/wsops\", \"exit:0\"]}" ;;
	cmdfail) argv="[\"$HB/wsops\", $ops, \"exit:3\"]" ;;
	cpu) argv="[\"$HB/wsops\", $ops, \"spin\"]" limits='"cpu_ms": 200, "wall_ms": 60000' ;;
	memory) argv="[\"$HB/hog\"]" limits='"memory_bytes": 33554432, "wall_ms": 60000' ;;
	pids) argv="[\"$HB/forkbomb\"]" limits='"pids": 16, "wall_ms": 60000' ;;
	wall) argv="[\"$HB/wsops\", $ops, \"sleep:10000\"]" limits='"wall_ms": 300' ;;
	operator) argv="[\"$HB/wsops\", $ops, \"sleep:60000\"]" limits='"wall_ms": 120000' ;;
	validate) argv="[\"$HB/wsops\", $ops]"
		extra=",\"validate\":{\"argv\":[\"$HB/wsops\", \"exit:5\"]}" ;;
	probe) argv="[\"$HB/wsops\", $ops, \"sleep:6000\"]" ;;
	esac
	printf '{"run_id":"soak-%s-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]},"limits":{%s}%s}\n' \
		"$n" "$kind" "$HOST_ID" "$argv" "$ws" "$HB" "$limits" "$extra"
}

# A workspace as it is before any run.
fresh_ws() { # DIR
	mkdir -p "$1" && printf 'base\n' >"$1/base.txt" && chown -R "$SOAK_UID:$SOAK_UID" "$1"
}
tree_of() { # DIR: type, mode, owner, path, content of every entry
	(cd "$1" && find . -mindepth 1 -printf '%y %m %U:%G %p\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k 2)
}

# sign N: lease $T/l/N.lease and its id in $T/l/N.id.
sign() {
	local n=$1 e=$T/l/$1.err
	body "$n" "$2" >"$T/l/$n.body" &&
		"$LEASE" new "$T/l/$n.body" -o "$T/l/$n.lease" --policy "$T/soak/etc/policy.json" --ttl 3000 >/dev/null 2>"$e" &&
		"$LEASE" sign --key "$KEYS/alice.key" "$T/l/$n.lease" >/dev/null 2>>"$e" &&
		"$LEASE" sign --key "$KEYS/bot.key" "$T/l/$n.lease" >/dev/null 2>>"$e" &&
		lease_id "$T/l/$n.lease" >"$T/l/$n.id" && [ -s "$T/l/$n.id" ] && rm -f "$e"
}

# pool: at most $1 background jobs at once (call before starting one).
# (the supervisor sampler, once started, is not one of them)
pool() { while [ "$(jobs -rp | grep -vcx "${SAMPLER:-none}")" -ge "$1" ]; do wait -n; done; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---------------------------------------------------------------------------
# leases, signed before the timed part
# ---------------------------------------------------------------------------
lib_keys || { echo "soak: keys: $WHY" >&2; exit 2; }
NPROBE=2
TOTAL=$((RUNS + NPROBE)) # probes are runs RUNS+1 (before) and RUNS+2 (after)
t0=$(now_ms)
for n in $(seq 1 "$TOTAL"); do
	if [ "$n" -gt "$RUNS" ]; then k=probe; else k=$(kind_of "$n"); fi
	echo "$k" >"$T/l/$n.kind"
	fresh_ws "$T/srv/w$n" || exit 2
	pool $(( $(nproc) * 2 ))
	sign "$n" "$k" &
done
wait
SIGN_MS=$(( $(now_ms) - t0 ))
bad=$(find "$T/l" -name '*.err' | head -n 1)
[ -z "$bad" ] || { echo "soak: signing failed: $(head -n 1 "$bad")" >&2; exit 2; }
BEFORE_TREE=$(tree_of "$T/srv/w1")
cat "$T"/l/*.id | cut -c 1-12 >"$T/tags"
printf 'soak: %d leases signed in %d ms (%d in parallel)\n' "$TOTAL" "$SIGN_MS" $(( $(nproc) * 2 ))

# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------
declare -A WANT_RC=([success]=0 [cmdfail]=3 [cpu]=124 [memory]=124 [pids]=124 [wall]=124
	[operator]=124 [validate]=5 [probe]=0)

# soak_one N: run lease N; $T/r/N holds "N KIND RC" ($T/r/N.why: what
# went wrong around it). The checks come after the soak (check_run), so
# the workers spend their time in calyx-exec.
soak_one() {
	local n=$1 kind id rc pid
	local res=$T/r/$n.result err=$T/r/$n.err
	kind=$(cat "$T/l/$n.kind") id=$(cat "$T/l/$n.id")
	if [ "$kind" = operator ]; then
		"$EXEC" --config "$CONF" --lease "$T/l/$n.lease" --result "$res" >/dev/null 2>"$err" &
		pid=$!
		# halt once its supervisor answers (the sandbox is running)
		for _ in $(seq 1 600); do
			"$CTL" --config "$CONF" status "$id" >/dev/null 2>&1 && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		"$CTL" --config "$CONF" halt "$id" >"$T/r/$n.ctl" 2>&1 ||
			echo "calyx-ctl halt failed: $(head -n 1 "$T/r/$n.ctl")" >"$T/r/$n.why"
		wait "$pid"
		rc=$?
	elif [ "$kind" = pids ]; then
		flock "$T/pids.lock" "$EXEC" --config "$PIDS_CONF" --lease "$T/l/$n.lease" --result "$res" \
			>/dev/null 2>"$err"
		rc=$?
	else
		"$EXEC" --config "$CONF" --lease "$T/l/$n.lease" --result "$res" >/dev/null 2>"$err"
		rc=$?
	fi
	echo "$n $kind $rc" >"$T/r/$n"
}

# check_run N KIND RC [WHY]: the run's exit, halt and workspace as its kind
# says; a mismatch goes to $T/r/N.bad.
check_run() {
	local n=$1 kind=$2 rc=$3 why res=$T/r/$1.result err=$T/r/$1.err id
	why=$(cat "$T/r/$n.why" 2>/dev/null)
	id=$(cat "$T/l/$n.id")
	[ "$rc" -eq "${WANT_RC[$kind]}" ] || why="${why:+$why; }exit $rc, expected ${WANT_RC[$kind]} ($(head -n 1 "$err" | cut -c 1-160))"
	case $kind in
	cpu | memory | pids | wall | operator)
		grep -q "\"reason\": \"$kind\"" "$res" 2>/dev/null || why="${why:+$why; }halt reason is not $kind" ;;
	esac
	# the workspace: exactly committed, or exactly untouched
	if [ "$kind" = success ] || [ "$kind" = probe ]; then
		grep -q '"action": "committed"' "$res" 2>/dev/null || why="${why:+$why; }not committed"
		[ "$(cat "$T/srv/w$n/out.txt" 2>/dev/null)" = "$n" ] &&
			[ "$(cat "$T/srv/w$n/base.txt")" = "$(printf 'base\n+%s' "$n")" ] &&
			[ "$(find "$T/srv/w$n" -mindepth 1 | wc -l)" -eq 2 ] ||
			why="${why:+$why; }workspace is not the committed tree"
	else
		grep -q '"action": "rolled_back"' "$res" 2>/dev/null || why="${why:+$why; }not rolled back"
		[ "$(tree_of "$T/srv/w$n")" = "$BEFORE_TREE" ] ||
			why="${why:+$why; }workspace changed although the run rolled back"
	fi
	[ -z "$why" ] || echo "run $n ($kind, lease $id): $why" >"$T/r/$n.bad"
}

# probe N: a 6 s run whose calyx-exec's fds are counted early and late.
FD_LOG=$T/fds
probe() {
	local n=$1 id pid early late zombies rc
	id=$(cat "$T/l/$n.id")
	"$EXEC" --config "$CONF" --lease "$T/l/$n.lease" --result "$T/r/$n.result" >/dev/null 2>"$T/r/$n.err" &
	pid=$!
	for _ in $(seq 1 1500); do
		"$CTL" --config "$CONF" status "$id" >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	sleep 0.3
	early=$(lk_fd_count "$pid")
	sleep 2
	late=$(lk_fd_count "$pid")
	zombies=$(ps -o pid=,stat= --ppid "$pid" 2>/dev/null | awk '$2 ~ /^Z/' | wc -l)
	wait "$pid"
	rc=$?
	echo "$n probe $rc" >"$T/r/$n"
	check_run "$n" probe "$rc"
	echo "$early $late $zombies" >>"$FD_LOG"
}

# ---------------------------------------------------------------------------
# before
# ---------------------------------------------------------------------------
lk_mounts_snap "$T/mounts.before"
lk_bpf_orphan_ids >"$T/bpf.orphans0"
BPF_ORPHANS0=$(grep -c . "$T/bpf.orphans0")
BPF_PROGS0=$(lk_bpf_progs) BPF_LINKS0=$(lk_bpf_links)
probe $((RUNS + 1))

# ---------------------------------------------------------------------------
# the soak
# ---------------------------------------------------------------------------
printf 'soak: %d runs, %d at a time (run uids %d, pids runs %d)\n' "$RUNS" "$CONC" "$SOAK_UID" "$PIDS_UID"
# how many of our runs are in their supervised part at once (a control
# socket each), sampled every 0.1 s: the concurrency the monitor sees
( peak=0; while [ ! -e "$T/soak.done" ]; do
	c=$(find "$STATE/run" -maxdepth 1 -name '*.sock' 2>/dev/null | wc -l)
	[ "$c" -le "$peak" ] || { peak=$c; echo "$peak" >"$T/peak"; }
	sleep 0.1
done ) &
SAMPLER=$!
t0=$(now_ms)
for n in $(seq 1 "$RUNS"); do
	pool "$CONC"
	soak_one "$n" &
	if [ $((n % 100)) -eq 0 ]; then
		printf '  %d started, %d s\n' "$n" $(( ($(now_ms) - t0) / 1000 ))
	fi
done
pool 1
SOAK_MS=$(( $(now_ms) - t0 ))
touch "$T/soak.done"
wait "$SAMPLER"
PEAK_SUP=$(cat "$T/peak" 2>/dev/null || echo 0)
probe $((RUNS + 2))
printf 'soak: %d runs in %d ms (%d ms per run, %d at a time; at most %d supervising at once, sampled)\n' \
	"$RUNS" "$SOAK_MS" $((SOAK_MS / RUNS)) "$CONC" "$PEAK_SUP"

# ---------------------------------------------------------------------------
# after: leaks (deleters of the trash may still run for a moment)
# ---------------------------------------------------------------------------
BINS=("$B/calyx-exec" "$B/calyx-ctl")
if [ "${SOAK_PLANT:-0}" = 1 ]; then
	echo "soak: SOAK_PLANT=1: planting one leak of each kind (expect: zombies 1, processes 3 (the zombie too), cgroups 1, mounts 1, rundirs 2)"
	setpriv --reuid="$SOAK_UID" --regid="$SOAK_UID" --clear-groups sh -c 'sleep 0 & exec sleep 600' &
	PLANT_PID=$!
	setpriv --reuid="$SOAK_UID" --regid="$SOAK_UID" --clear-groups sleep 600 &
	lib_atexit "kill $PLANT_PID $! 2>/dev/null"
	# named after a live process (the planted sleep), so that no
	# calyx-exec on the host reaps it as stale meanwhile
	pc=$CG_ROOT/unified/calyx
	[ -d "$pc" ] || pc=$CG_ROOT/calyx
	pcg=$pc/run-$PLANT_PID-$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$PLANT_PID/stat")-$(head -n 1 "$T/tags")
	mkdir "$pcg" && lib_atexit "rmdir '$pcg'"
	mkdir -p "$STATE/plant" && mount -t tmpfs -o size=64k calyx-soak-plant "$STATE/plant" &&
		lib_atexit "umount '$STATE/plant'"
	mkdir -p "$STATE/runs/$(cat "$T/l/1.id")" && touch "$STATE/run/$(cat "$T/l/1.id").sock"
	sleep 0.5
fi
procs=$(lk_settle 60 lk_procs "$SOAK_UID,$PIDS_UID" "${BINS[@]}")
zombies=$(lk_zombies "$SOAK_UID,$PIDS_UID" "${BINS[@]}")
cgroups=$(lk_settle 30 lk_cgroups "$T/tags")
mounts=$(lk_mounts_new "$T/mounts.before" "$T" "$HB" "$STATE")
rundirs=$(lk_settle 30 lk_rundirs "$STATE")
L_BPF=$(lk_bpf_leaked "$T/bpf.orphans0")
bpf_orphans=$(lk_bpf_orphan_ids | grep -c .)
bpf_progs=$(lk_bpf_progs) bpf_links=$(lk_bpf_links)
words() { if [ -z "$1" ]; then echo 0; else echo "$1" | wc -w; fi; }
L_ZOMBIES=$(words "$zombies")
L_PROCS=$(words "$procs")
L_CGROUPS=$(words "$cgroups")
L_MOUNTS=$(printf '%s' "$mounts" | grep -c .)
L_RUNDIRS=$(words "$rundirs")
# fds: growth within each probe run (late - early), and from the first
# probe to the last (the same kind of run, 1000 runs apart)
read -r e1 l1 z1 < <(sed -n 1p "$FD_LOG")
read -r e2 l2 z2 < <(sed -n 2p "$FD_LOG")
L_FDS=0
for d in $((l1 - e1)) $((l2 - e2)) $((e2 - e1)); do [ "$d" -gt "$L_FDS" ] && L_FDS=$d; done
L_ZOMBIES=$((L_ZOMBIES + z1 + z2))
LEAKS=$((L_ZOMBIES + L_PROCS + L_CGROUPS + L_MOUNTS + L_BPF + L_RUNDIRS + L_FDS))
printf 'leaks: zombies %d, processes %d, cgroups %d, mounts %d, bpf %d (monitor programs held by no one: %d before, %d after; loaded %d -> %d, links %d -> %d), rundirs %d, fds %d (calyx-exec fds early/late: first probe %s/%s, last probe %s/%s)\n' \
	"$L_ZOMBIES" "$L_PROCS" "$L_CGROUPS" "$L_MOUNTS" "$L_BPF" "$BPF_ORPHANS0" "$bpf_orphans" "$BPF_PROGS0" \
	"$bpf_progs" "$BPF_LINKS0" "$bpf_links" "$L_RUNDIRS" "$L_FDS" "$e1" "$l1" "$e2" "$l2"
[ -z "$procs" ] || echo "  processes left: $procs" >&2
[ -z "$zombies" ] || echo "  zombies: $zombies" >&2
[ -z "$cgroups" ] || echo "  cgroups left: $cgroups" | cut -c 1-400 >&2
[ -z "$mounts" ] || printf '  mounts left:\n%s\n' "$mounts" | head -n 10 >&2
[ -z "$rundirs" ] || echo "  left in the state dir: $rundirs" | cut -c 1-400 >&2

# ---------------------------------------------------------------------------
# after: every run as expected
# ---------------------------------------------------------------------------
for n in $(seq 1 "$RUNS"); do
	if [ -f "$T/r/$n" ]; then
		read -r _ k rc <"$T/r/$n"
		check_run "$n" "$k" "$rc"
	else
		echo "run $n: no record" >"$T/r/$n.bad"
	fi
done
MISMATCH=$(find "$T/r" -name '*.bad' | wc -l)
if [ "$MISMATCH" -gt 0 ]; then
	echo "soak: $MISMATCH run(s) not as expected, first ones:" >&2
	cat "$T"/r/*.bad | head -n 10 >&2
fi
printf 'runs by kind:'
for k in success cmdfail cpu memory pids wall operator validate probe; do
	printf ' %s %d' "$k" "$(cat "$T"/l/*.kind | grep -cx "$k")"
done
echo

# ---------------------------------------------------------------------------
# after: the audit log and the ledger
# ---------------------------------------------------------------------------
AUDIT_OK=false
if "$AUDIT" verify --host-pub "$T/soak/etc/host.pub.json" "$AL" >"$T/verify.out" 2>&1; then
	AUDIT_OK=true
else
	echo "soak: audit log does not verify: $(head -n 1 "$T/verify.out")" >&2
fi
AUDIT_LINES=$(grep -c . "$AL")
# expected events per kind; exec.spawned: every workload here execs once
# per phase, and the BPF exec tracer records each (one per exec.started
# whose cpu_enforcer is bpf; none where BPF is unavailable)
declare -A E
add() { local t; for t in "$@"; do E[$t]=$(( ${E[$t]:-0} + CNT )); done; }
for k in success cmdfail cpu memory pids wall operator validate probe; do
	CNT=$(cat "$T"/l/*.kind | grep -cx "$k")
	[ "$CNT" -gt 0 ] || continue
	add lease.verified lease.consumed exec.started exec.finished
	case $k in
	success) add exec.started exec.finished workspace.committed ;;
	probe) add workspace.committed ;;
	cmdfail) add workspace.rolled_back ;;
	validate) add exec.started exec.finished workspace.rolled_back ;;
	operator) add operator.halted resource.breach run.halted workspace.rolled_back ;;
	*) add resource.breach run.halted workspace.rolled_back ;;
	esac
done
E[exec.spawned]=$(grep -F '"type":"exec.started"' "$AL" | grep -cF '"cpu_enforcer":"bpf"')
[ "${E[exec.spawned]}" -gt 0 ] || unset 'E[exec.spawned]'
sed -n 's/^{"seq":[0-9]*,"time":"[^"]*","type":"\([^"]*\)".*/\1/p' "$AL" | sort | uniq -c |
	awk '{ print $2, $1 }' >"$T/types"
# stale run cgroups of other engineers' killed runs may be reaped (and
# audited) by ours: not ours to count; one of ours would be a leak
stale_ours=$(grep -F '"type":"monitor.stale_cgroup_removed"' "$AL" |
	sed -n 's/.*"cgroup":"\([^"]*\)".*/\1/p' | sed 's/-v$//' | grep -cF -f "$T/tags")
AUDIT_BAD=0
while read -r t c; do
	[ "$t" = monitor.stale_cgroup_removed ] && continue
	# one per sync group that was not signed yet: as many as the runs'
	# syncs, fewer when another run's checkpoint came first (not counted)
	[ "$t" = audit.checkpoint ] && continue
	if [ "${E[$t]:-0}" -ne "$c" ]; then
		echo "soak: audit log has $c $t, expected ${E[$t]:-0}" >&2
		AUDIT_BAD=$((AUDIT_BAD + 1))
	fi
done <"$T/types"
for t in "${!E[@]}"; do
	grep -q "^$t " "$T/types" || { echo "soak: audit log has no $t, expected ${E[$t]}" >&2; AUDIT_BAD=$((AUDIT_BAD + 1)); }
done
# every started phase recorded its enforcer: bpf (else no exec.spawned)
nonbpf=$(grep -F '"type":"exec.started"' "$AL" | grep -vcF '"cpu_enforcer":"bpf"')
[ "$nonbpf" -eq 0 ] || echo "soak: note: $nonbpf phases ran without the BPF enforcer (no exec.spawned for them)" >&2
if [ "$stale_ours" -ne 0 ]; then
	echo "soak: $stale_ours of our own run cgroups were reaped as stale" >&2
	L_CGROUPS=$((L_CGROUPS + stale_ours)) LEAKS=$((LEAKS + stale_ours))
	# which run left it, and what that run's calyx-exec said (a cleanup
	# warning names the reason)
	grep -F '"type":"monitor.stale_cgroup_removed"' "$AL" |
		sed -n 's/.*"cgroup":"run-[0-9]*-[0-9]*-\([0-9a-f]*\).*/\1/p' | head -n 3 |
		while read -r tag; do
			n=$(grep -l "^$tag" "$T"/l/*.id | head -n 1)
			n=${n##*/} n=${n%.id}
			echo "  run $n ($(cat "$T/l/$n.kind" 2>/dev/null)): $(grep -h 'warning' "$T/r/$n.err" 2>/dev/null | head -n 1 | cut -c 1-200)" >&2
		done
fi
[ "$AUDIT_BAD" -eq 0 ] || AUDIT_OK=false
# the ledger: exactly the leases run
LEDGER_OK=true
diff <(sort "$T"/l/*.id) <(find "$STATE/ledger" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort) >"$T/ledger.diff" ||
	{ LEDGER_OK=false; echo "soak: the ledger is not exactly the leases run: $(head -n 4 "$T/ledger.diff" | tr '\n' ' ')" >&2; }
printf 'audit: %d lines, verify %s, event counts %s; ledger: %s\n' "$AUDIT_LINES" \
	"$(grep -q . "$T/verify.out" && head -n 1 "$T/verify.out" | cut -c 1-80)" \
	"$([ "$AUDIT_BAD" -eq 0 ] && echo exact || echo "OFF ($AUDIT_BAD types)")" \
	"$($LEDGER_OK && echo "exactly the $TOTAL leases" || echo OFF)"

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
OK=true
[ "$LEAKS" -eq 0 ] && [ "$MISMATCH" -eq 0 ] && $AUDIT_OK && $LEDGER_OK || OK=false
SECS=$(awk -v ms="$SOAK_MS" 'BEGIN { printf "%.1f", ms / 1000 }')
if $OK; then
	SUMMARY="$RUNS runs ($CONC concurrent), 0 leaks, audit verified"
else
	SUMMARY="$RUNS runs ($CONC concurrent): FAILED: $LEAKS leaks, $MISMATCH runs not as expected, audit $($AUDIT_OK && echo verified || echo NOT verified), ledger $($LEDGER_OK && echo exact || echo OFF)"
fi
printf '{"gate":"soak","ok":%s,"runs":%d,"concurrency":%d,"peak_supervising":%d,"seconds":%s,"sign_seconds":%s,"leaks":{"zombies":%d,"processes":%d,"cgroups":%d,"mounts":%d,"bpf":%d,"rundirs":%d,"fds":%d},"mismatches":%d,"audit_lines":%d,"audit_ok":%s,"ledger_ok":%s,"summary":"%s"}\n' \
	"$OK" "$RUNS" "$CONC" "$PEAK_SUP" "$SECS" "$(awk -v ms="$SIGN_MS" 'BEGIN { printf "%.1f", ms / 1000 }')" \
	"$L_ZOMBIES" "$L_PROCS" "$L_CGROUPS" "$L_MOUNTS" "$L_BPF" "$L_RUNDIRS" "$L_FDS" "$MISMATCH" \
	"$AUDIT_LINES" "$AUDIT_OK" "$LEDGER_OK" "$SUMMARY" >"$GATES/soak.json"
echo "soak: $SUMMARY"
$OK
