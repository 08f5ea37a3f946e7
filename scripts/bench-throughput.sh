#!/usr/bin/env bash
# Throughput and scale: how many leases calyx-exec runs per second, alone
# and side by side, and what supervising idle runs costs.
#
#   scripts/bench-throughput.sh [BUILD_DIR]   (as root; default build;
#                                              BENCH_SEQ=200 BENCH_IDLE=50)
#
# Every run is a full calyx-exec of /usr/bin/true from its own fresh
# two-key signed lease (all signed beforehand, not timed): verify, consume
# (ledger, fsync), cgroups, BPF monitor, overlay workspace, namespaces,
# file view, Landlock, seccomp, exec, wait, rollback of the empty upper,
# audit (signed, fdatasync'd lines), cleanup.
#   seq        BENCH_SEQ runs back to back, one after the other.
#   conc2/8    2 and 8 runners at once, each working through its own share
#              of leases in turn; leases/s = runs / wall of the whole batch.
#              A workspace tree is locked per run, so each runner has its
#              own workspace dir (the runs still share the ledger, the
#              audit log and its lock, and the cgroup parent).
#   idle50     BENCH_IDLE runs of tests/workloads/idle (pause() forever) are
#              started at once and left under supervision; then the
#              supervising calyx-exec processes' own CPU time (scheduler
#              run time of all their threads, /proc/PID/task/*/schedstat)
#              over a 10 s window with nothing else of ours running, as %
#              of one core per idle run; then BENCH_SEQ/2 runs back to back
#              while they sit there. Last, SIGTERM to each (the run halts,
#              reason operator, exit 124) and a check that all of them
#              ended and left no cgroup behind.
# Figures only, no assertions; the goal (monitor cost ~0 for an idle run)
# is printed next to them. Results: a table on stdout,
# $BENCH_OUT/throughput.md and throughput.tsv (BENCH_OUT defaults to
# BUILD_DIR/bench).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
SEQ=${BENCH_SEQ:-200}
NIDLE=${BENCH_IDLE:-50}
WINDOW=10
[[ "$SEQ" =~ ^[1-9][0-9]*$ && "$NIDLE" =~ ^[1-9][0-9]*$ ]] ||
	{ echo "bench-throughput: BENCH_SEQ and BENCH_IDLE must be positive integers" >&2; exit 1; }

# The integration harness: root check, binaries, $T (removed at exit),
# keys, hosts, leases, lib_atexit.
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "$BUILD"
export BENCH_OUT=${BENCH_OUT:-$B/bench}
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh

T_START=$EPOCHREALTIME
now() { printf '%s\n' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'; }

[ -x "$B/workloads/idle" ] || die "$B/workloads/idle missing (make tests)"
# The idle command must be visible inside the sandbox under its own path;
# /tmp and /work are the sandbox's own, so it lives in a fresh /var/tmp dir.
HB=$(mktemp -d /var/tmp/calyx-bench.XXXXXX) || die "mktemp under /var/tmp failed"
# shellcheck disable=SC2016  # expanded when the script exits
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/idle" "$HB/idle" || die "cannot copy idle to $HB"

# Workspaces: one per concurrent runner (r0..r8) and per idle run (iN).
WS=$T/ws
mkdir -p "$WS" || die "mkdir $WS"
policy_json "[\"/usr/bin/true\", \"$HB/idle\"]" "[\"/usr\", \"$HB\"]" "[\"$WS\"]" >"$T/tp.policy.json"
mk_host tp "$T/tp.policy.json" || die "host setup: $WHY"
CONF=$T/tp/etc/calyx.conf
STATE=$T/tp/state

# ---- leases, signed before anything is timed --------------------------------------
NL=0
# lease OUT_LIST WORKSPACE ARGV_JSON: sign one lease, append its path to OUT_LIST
lease() {
	NL=$((NL + 1))
	# owned by a deploy user: root-owned trees are refused (idmapped writes)
	mkdir -p "$2" && chown 1000:1000 "$2"
	printf '{"run_id":"bench-throughput-%d","audience":"%s","argv":%s,"workspace":"%s","paths":{"ro":["/usr","%s"]}}\n' \
		"$NL" "$HOST_ID" "$3" "$2" "$HB" >"$T/l$NL.body" || die "cannot write a lease body"
	mk_lease tp "$T/l$NL.lease" "$T/l$NL.body" || die "signing a lease: $WHY"
	echo "$T/l$NL.lease" >>"$1"
}
TRUE='["/usr/bin/true"]'
L=$T/lists
mkdir -p "$L"
NTOTAL=$((1 + SEQ + SEQ + SEQ * 8 / 5 + NIDLE + SEQ / 2))
note "signing $NTOTAL leases (not timed)..."
t0=$(now)
lease "$L/warm" "$WS/r0" "$TRUE"
for _ in $(seq 1 "$SEQ"); do lease "$L/seq" "$WS/r0" "$TRUE"; done
# conc2: SEQ leases over 2 runners; conc8: 1.6 x SEQ over 8 (enough per runner)
PER2=$((SEQ / 2)) PER8=$((SEQ / 5))
[ "$PER8" -ge 1 ] || PER8=1
for r in 1 2; do for _ in $(seq 1 "$PER2"); do lease "$L/c2.$r" "$WS/r$r" "$TRUE"; done; done
for r in $(seq 1 8); do for _ in $(seq 1 "$PER8"); do lease "$L/c8.$r" "$WS/r$r" "$TRUE"; done; done
for i in $(seq 1 "$NIDLE"); do lease "$L/idle" "$WS/i$i" "[\"$HB/idle\"]"; done
NB2B=$(((SEQ + 1) / 2))
for _ in $(seq 1 "$NB2B"); do lease "$L/b2b" "$WS/r0" "$TRUE"; done
SIGN_S=$(since "$t0")
note "signed $NL leases in $SIGN_S s"

# ---- running ------------------------------------------------------------------------
# runner LIST TAG: run every lease of LIST in turn; failures go to $T/fail.TAG
# (lease, exit code, first stderr line). Prints nothing.
runner() {
	local l rc
	# a TERM from the cleanup ends the runner once its current calyx-exec
	# is done (bash runs the trap after the foreground command), so no run
	# is orphaned
	trap 'exit 143' TERM
	: >"$T/fail.$2"
	while read -r l; do
		"$EXEC" --config "$CONF" --lease "$l" >/dev/null 2>"$T/err.$2"
		rc=$?
		[ $rc -eq 0 ] || printf '%s exit %s: %s\n' "${l##*/}" "$rc" "$(head -n 1 "$T/err.$2")" >>"$T/fail.$2"
	done <"$1"
}
# batch NAME LIST...: one runner per LIST, all at once; sets RATE (ok runs
# per second of the batch's wall time), WALL, OKN, FAILN and FAILMSG
declare -A RATE=() WALL=() OKN=() FAILN=() FAILMSG=()
# runners of the batch in progress: stopped and waited for at exit
BATCH_PIDS=()
# shellcheck disable=SC2317  # called through lib_atexit
stop_batch() {
	local p
	for p in ${BATCH_PIDS[@]+"${BATCH_PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null; done
	for p in ${BATCH_PIDS[@]+"${BATCH_PIDS[@]}"}; do wait "$p" 2>/dev/null; done
	BATCH_PIDS=()
}
lib_atexit 'stop_batch'
batch() {
	local name=$1 t i=0 n=0 nf=0 f
	local -a pids=()
	shift
	t=$(now)
	for f in "$@"; do
		i=$((i + 1))
		runner "$f" "$name.$i" &
		pids+=($!)
		BATCH_PIDS+=($!)
		n=$((n + $(nlines "$f")))
	done
	wait "${pids[@]}"
	BATCH_PIDS=()
	WALL[$name]=$(since "$t")
	nf=$(cat "$T/fail.$name".* | awk 'END { print NR }')
	OKN[$name]=$((n - nf)) FAILN[$name]=$nf
	FAILMSG[$name]=$(cat "$T/fail.$name".* | head -n 3 | cut -c 1-200 | tr '\n' ';')
	RATE[$name]=$(awk -v n="${OKN[$name]}" -v w="${WALL[$name]}" 'BEGIN { if (n > 0 && w > 0) printf "%.1f\n", n / w; else print "-" }')
	note "$name: ${OKN[$name]} ok, $nf failed in ${WALL[$name]} s -> ${RATE[$name]} leases/s"
}

# sanity and warm-up (caches, the BPF object, the cgroup parent)
"$EXEC" --config "$CONF" --lease "$(cat "$L/warm")" >/dev/null 2>"$T/e" ||
	die "calyx-exec cannot run /usr/bin/true: $(head -n 1 "$T/e")"

# Whole-filesystem syncs (ext4's sync_fs) during the back-to-back batch: a
# run makes its ledger entry and audit lines durable with fsync/fdatasync
# of those files, and should never sync a whole filesystem (an overlay
# unmount on a disk upper did: issue 16). Counted host-wide by perf.
SYNCFS="-" SYNCFS_WHY=""
if ! command -v perf >/dev/null 2>&1; then
	SYNCFS_WHY="perf is not installed (scripts/install-deps.sh --bench)"
elif ! perf stat -e ext4:ext4_sync_fs -a -x, -o "$T/syncfs.probe" true >/dev/null 2>&1; then
	SYNCFS_WHY="perf cannot count the ext4:ext4_sync_fs tracepoint here"
else
	perf stat -e ext4:ext4_sync_fs -a -x, -o "$T/syncfs.txt" sleep 100000 >/dev/null 2>&1 &
	SYNCFS_PID=$!
	sleep 0.3
fi
batch seq "$L/seq"
if [ -n "${SYNCFS_PID:-}" ]; then
	pkill -INT -P "$SYNCFS_PID" sleep 2>/dev/null
	kill -INT "$SYNCFS_PID" 2>/dev/null
	wait "$SYNCFS_PID" 2>/dev/null
	SYNCFS=$(awk -F, '$3 ~ /ext4_sync_fs/ && $1 ~ /^[0-9]+$/ { print $1 }' "$T/syncfs.txt")
	[ -n "$SYNCFS" ] || { SYNCFS="-"; SYNCFS_WHY="perf stat wrote no count"; }
fi
# bwrap back to back, the same number of runs, the same view as the
# startup bench's bwrap row: the throughput goal's reference.
BWRAP_RATE="-" BWRAP_WALL="-" BWRAP_WHY=""
if command -v bwrap >/dev/null 2>&1; then
	BW=(bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64
		--symlink usr/bin /bin --symlink usr/sbin /sbin --dev /dev --proc /proc --tmpfs /tmp --bind "$WS/r0" /work
		--chdir /work --uid 65534 --gid 65534 --cap-drop ALL /usr/bin/true)
	if "${BW[@]}" >/dev/null 2>"$T/bw.err"; then
		t=$(now) nok=0
		for _ in $(seq 1 "$SEQ"); do "${BW[@]}" >/dev/null 2>&1 && nok=$((nok + 1)); done
		BWRAP_WALL=$(since "$t")
		BWRAP_RATE=$(awk -v n="$nok" -v w="$BWRAP_WALL" 'BEGIN { if (n > 0 && w > 0) printf "%.1f\n", n / w; else print "-" }')
		note "bwrap back to back: $nok ok in $BWRAP_WALL s -> $BWRAP_RATE runs/s"
	else
		BWRAP_WHY="bwrap does not run here: $(head -n 1 "$T/bw.err" | cut -c 1-160)"
	fi
else
	BWRAP_WHY="bubblewrap is not installed (scripts/install-deps.sh --bench)"
fi
batch conc2 "$L"/c2.*
batch conc8 "$L"/c8.*

# ---- idle runs under supervision --------------------------------------------------------
IDLE_PIDS=()
# stop_idle: SIGTERM every idle run still there, wait up to 20 s, then
# SIGKILL what is left (calyx-exec's next start, or calyx-ctl recover,
# removes what a killed run leaves). Sets IDLE_RCS and IDLE_LEFT.
IDLE_RCS=""
IDLE_LEFT=0
stop_idle() {
	local p i rc
	[ ${#IDLE_PIDS[@]} -gt 0 ] || return 0
	for p in "${IDLE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 200); do
		i=0
		for p in "${IDLE_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && i=$((i + 1)); done
		[ $i -eq 0 ] && break
		sleep 0.1
	done
	IDLE_LEFT=$i
	if [ "$i" -gt 0 ]; then
		for p in "${IDLE_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	fi
	# wait here, not in a subshell: only this shell can reap its children
	local -a rcs=()
	for p in "${IDLE_PIDS[@]}"; do
		wait "$p"
		rcs+=($?)
	done
	IDLE_RCS=$(printf '%s\n' "${rcs[@]}" | sort -n | uniq -c | awk '{ printf "%sexit %s x%s", s, $2, $1; s = ", " }')
	IDLE_PIDS=()
	if [ "$i" -gt 0 ]; then "$B/calyx-ctl" --config "$CONF" recover >/dev/null 2>&1; fi
}
lib_atexit 'stop_idle'

# cpu_ns PID: CPU time of every thread of PID so far, in ns: scheduler run
# time from schedstat (precise); utime+stime ticks from stat if the kernel
# has no schedstat. Empty if PID is gone.
TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ns() {
	if [ -r "/proc/$1/task/$1/schedstat" ]; then
		cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { if (NR) printf "%d\n", s }'
	else
		sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk -v t="$TICK" '{ printf "%d\n", ($12 + $13) * 1e9 / t }'
	fi
}
# wakeups PID: times the threads of PID were scheduled in so far (schedstat
# field 3); empty without schedstat
wakeups() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $3 } END { if (NR) print s }'; }
# sum_over FN PIDS...: the sum of FN PID over the PIDS; empty if any is
# gone (a run that ended is not idle any more)
sum_over() {
	local fn=$1 p v s=0
	shift
	for p in "$@"; do
		v=$("$fn" "$p")
		[ -n "$v" ] || return 0
		s=$((s + v))
	done
	echo "$s"
}
sum_wakeups() { sum_over wakeups "$@"; }
sum_cpu_ns() { sum_over cpu_ns "$@"; }
# the sandboxes' init processes (calyx-init, children of calyx-exec)
init_pids() {
	local p c
	for p in "${IDLE_PIDS[@]}"; do
		c=""
		# the file is "PID " without a newline: read fails, yet sets c
		read -r c _ <"/proc/$p/task/$p/children" 2>/dev/null
		[ -n "$c" ] && echo "$c"
	done
}

note "starting $NIDLE idle runs at once..."
mkdir -p "$T/idle"
t0=$(now)
i=0
while read -r l; do
	i=$((i + 1))
	"$EXEC" --config "$CONF" --lease "$l" >"$T/idle/$i.out" 2>"$T/idle/$i.err" &
	IDLE_PIDS+=($!)
done <"$L/idle"
# ready: the workload printed "idle PID" from inside its sandbox; up to 60 s
IDLE_READY=0 IDLE_DEAD=0
for _ in $(seq 1 600); do
	IDLE_READY=0 IDLE_DEAD=0
	for i in $(seq 1 "$NIDLE"); do
		if grep -q '^idle ' "$T/idle/$i.out" 2>/dev/null; then
			IDLE_READY=$((IDLE_READY + 1))
		elif ! kill -0 "${IDLE_PIDS[$((i - 1))]}" 2>/dev/null; then
			IDLE_DEAD=$((IDLE_DEAD + 1))
		fi
	done
	[ $((IDLE_READY + IDLE_DEAD)) -ge "$NIDLE" ] && break
	sleep 0.1
done
IDLE_START_S=$(since "$t0")
IDLE_WHY=""
if [ "$IDLE_READY" -lt "$NIDLE" ]; then
	IDLE_WHY="only $IDLE_READY of $NIDLE idle runs started ($IDLE_DEAD ended early)"
	for i in $(seq 1 "$NIDLE"); do
		[ -s "$T/idle/$i.err" ] && { IDLE_WHY="$IDLE_WHY; e.g. $(head -n 1 "$T/idle/$i.err" | cut -c 1-200)"; break; }
	done
	note "$IDLE_WHY"
fi
note "$IDLE_READY idle runs up in $IDLE_START_S s; measuring their supervisors' CPU for $WINDOW s..."

# The window: nothing else of ours runs. 1 s to settle first.
IDLE_PCT=- INIT_PCT=- IDLE_WAKE=- MOUNTS_IDLE=-
MOUNTS_BEFORE=$(awk 'END { print NR }' /proc/self/mountinfo)
if [ "$IDLE_READY" -eq "$NIDLE" ]; then
	sleep 1
	mapfile -t INITS < <(init_pids)
	wa=$(sum_wakeups "${IDLE_PIDS[@]}")
	a=$(sum_cpu_ns "${IDLE_PIDS[@]}") ai=$(sum_cpu_ns "${INITS[@]}") ta=$EPOCHREALTIME
	# (in the background: a signal's trap then runs at once, not after it)
	sleep "$WINDOW" &
	wait $!
	b=$(sum_cpu_ns "${IDLE_PIDS[@]}") bi=$(sum_cpu_ns "${INITS[@]}") tb=$EPOCHREALTIME
	wb=$(sum_wakeups "${IDLE_PIDS[@]}")
	# how often each supervisor ran: explains the CPU figure (a timer poll)
	[ -n "$wa" ] && [ -n "$wb" ] && IDLE_WAKE=$(awk -v a="$wa" -v b="$wb" -v t0="$ta" -v t1="$tb" -v n="$NIDLE" \
		'BEGIN { printf "%.1f\n", (b - a) / (t1 - t0) / n }')
	MOUNTS_IDLE=$(awk 'END { print NR }' /proc/self/mountinfo)
	pct() { # A B -> % of one core per idle run over the window
		if [ -z "$1" ] || [ -z "$2" ]; then echo -; return; fi
		awk -v a="$1" -v b="$2" -v t0="$ta" -v t1="$tb" -v n="$NIDLE" \
			'BEGIN { printf "%.4f\n", (b - a) / ((t1 - t0) * 1e9) / n * 100 }'
	}
	IDLE_PCT=$(pct "$a" "$b")
	[ ${#INITS[@]} -eq "$NIDLE" ] && INIT_PCT=$(pct "$ai" "$bi")
	[ "$IDLE_PCT" = - ] && IDLE_WHY="an idle run ended during the window"
	IDLE_CPU_US=-
	[ "$IDLE_PCT" = - ] || IDLE_CPU_US=$(awk -v a="$a" -v b="$b" -v n="$NIDLE" 'BEGIN { printf "%.0f\n", (b - a) / n / 1000 }')
fi

note "$NB2B runs back to back while the idle runs sit there..."
batch idle50 "$L/b2b"
# all still idle? (none may have ended while the others ran)
IDLE_ALIVE=0
for p in "${IDLE_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && IDLE_ALIVE=$((IDLE_ALIVE + 1)); done

note "stopping the idle runs (SIGTERM)..."
t0=$(now)
NPIDS=${#IDLE_PIDS[@]}
IDLE_ALL_PIDS=("${IDLE_PIDS[@]}")
stop_idle
STOP_S=$(since "$t0")
# leftovers: run sockets and cgroups named after our calyx-exec pids
LEFT_SOCKS=$(find "$STATE/run" -name '*.sock' 2>/dev/null | awk 'END { print NR }')
LEFT_CG=0
for p in "${IDLE_ALL_PIDS[@]}"; do
	for d in /sys/fs/cgroup/calyx/run-"$p"-* /sys/fs/cgroup/*/calyx/run-"$p"-*; do
		[ -d "$d" ] && LEFT_CG=$((LEFT_CG + 1))
	done
done
STOP_TXT="$NPIDS stopped by SIGTERM in $STOP_S s: ${IDLE_RCS:-none}"
[ "$IDLE_LEFT" -gt 0 ] && STOP_TXT="$STOP_TXT; $IDLE_LEFT still there after 20 s were SIGKILLed"
STOP_TXT="$STOP_TXT; left behind: $LEFT_SOCKS run sockets, $LEFT_CG cgroups"

# ---- figures --------------------------------------------------------------------------------
bench_section throughput
fnote() { # NAME: the note of a rate figure
	local s="${OKN[$1]} runs in ${WALL[$1]} s"
	[ "${FAILN[$1]}" -gt 0 ] && s="$s; ${FAILN[$1]} failed (not counted): ${FAILMSG[$1]}"
	echo "$s"
}
figure throughput.seq.leases_per_s "${RATE[seq]}" leases/s "back to back, /usr/bin/true, full pipeline; $(fnote seq)"
figure throughput.bwrap_seq.runs_per_s "$BWRAP_RATE" runs/s "bwrap back to back, $SEQ runs of /usr/bin/true, same view${BWRAP_WHY:+; $BWRAP_WHY}"
figure throughput.seq.ext4_sync_fs_per_run "$( [ "$SYNCFS" = - ] && echo - || awk -v n="$SYNCFS" -v r="${OKN[seq]}" 'BEGIN { if (r > 0) printf "%.3f\n", n / r; else print "-" }')" \
	syncs "whole-filesystem syncs of ext4 (perf, host-wide) per back-to-back run: $SYNCFS in ${OKN[seq]} runs${SYNCFS_WHY:+; $SYNCFS_WHY}; goal 0"
figure throughput.conc2.leases_per_s "${RATE[conc2]}" leases/s "2 runners at once, own workspace each; $(fnote conc2)"
figure throughput.conc8.leases_per_s "${RATE[conc8]}" leases/s "8 runners at once, own workspace each; $(fnote conc8)"
figure throughput.idle50.leases_per_s "${RATE[idle50]}" leases/s "back to back while $IDLE_READY idle runs are supervised; $(fnote idle50)"
figure throughput.idle_run_cpu_pct "$IDLE_PCT" "% core" \
	"CPU of each idle run's supervising calyx-exec over ${WINDOW} s (schedstat), $NIDLE idle runs${IDLE_WHY:+; $IDLE_WHY}; goal ~0"

CORES=$(nproc)
x_seq() { ratio "${RATE[$1]}" "${RATE[seq]}"; }
md "## Throughput and scale"
md
md "How many leases calyx-exec runs per second and what idle runs under supervision cost. Every run"
md "is a full \`calyx-exec\` of \`/usr/bin/true\` from its own two-key signed lease (signed beforehand,"
md "not timed): verify both signatures, consume the lease (ledger, fsync), cgroups and BPF monitor,"
md "overlay workspace, namespaces, file view, Landlock, seccomp, exec, wait, rollback of the empty"
md "upper, the signed audit lines (one grouped fdatasync), cleanup. Concurrent runners each work through their"
md "own share of leases one after the other, each with its own workspace (a workspace tree is"
md "locked per run); they share the ledger, the audit log and the cgroup parent. leases/s = runs"
md "that exited 0 / wall time of the whole batch. Then $NIDLE runs of \`tests/workloads/idle\` are"
md "started at once and left idle under supervision: the CPU time of their $NIDLE supervising"
md "\`calyx-exec\` processes (scheduler run time of all threads) over ${WINDOW} s, as % of one core per run,"
md "then $NB2B runs back to back while they sit there; last, each is stopped with SIGTERM."
md
md "Machine: $(machine_line); state dir and audit log on $(findmnt -n -o FSTYPE -T "$STATE" 2>/dev/null || stat -f -c %T "$STATE" 2>/dev/null || echo '?')."
md
md "| what | leases/s | runs | wall s | vs back to back | goal / note |"
md "| --- | ---: | ---: | ---: | ---: | --- |"
mrow() { # NAME LABEL NOTE
	local f=""
	[ "${FAILN[$1]}" -gt 0 ] && f="; **${FAILN[$1]} failed**: ${FAILMSG[$1]}"
	md "| $2 | ${RATE[$1]} | ${OKN[$1]} | ${WALL[$1]} | $(x_seq "$1")× | $3$f |"
}
mrow seq "back to back (1 runner)" "—"
md "| bwrap back to back (same view, for reference) | $BWRAP_RATE | $SEQ | $BWRAP_WALL | $(ratio "$BWRAP_RATE" "${RATE[seq]}")× | ${BWRAP_WHY:-calyx / bwrap = $(ratio "${RATE[seq]}" "$BWRAP_RATE")×, goal ≥ 0.7×} |"
mrow conc2 "2 concurrent runners" "$CORES CPUs here"
mrow conc8 "8 concurrent runners" "$CORES CPUs here"
mrow idle50 "back to back, $NIDLE idle runs supervised" "—"
md
md "Whole-filesystem syncs (\`ext4:ext4_sync_fs\`, counted host-wide by perf) during the back-to-back batch: ${SYNCFS} in ${OKN[seq]} runs${SYNCFS_WHY:+ ($SYNCFS_WHY)} (goal: none; a run makes its own files durable with fsync/fdatasync)."
md
md "| idle runs under supervision | value | goal |"
md "| --- | ---: | --- |"
md "| supervisor CPU per idle run (% of one core) | $IDLE_PCT | ≈ 0 |"
[ -n "${IDLE_CPU_US:-}" ] && md "| supervisor CPU per idle run over ${WINDOW} s (µs) | $IDLE_CPU_US | |"
md "| times each supervisor was scheduled, per second | $IDLE_WAKE | |"
md "| sandbox init (calyx-init) CPU per idle run (% of one core) | $INIT_PCT | (not the monitor; for reference) |"
md "| host mount table (lines of /proc/self/mountinfo) before / with the idle runs | $MOUNTS_BEFORE / $MOUNTS_IDLE | |"
md "| $NIDLE runs started at once, all up after (s) | $IDLE_START_S | |"
md "| idle runs still up after the back-to-back batch | $IDLE_ALIVE of $NIDLE | all |"
md
md "Stopping: $STOP_TXT (expected: exit 124, halted by the operator, nothing left)."
[ -n "$IDLE_WHY" ] && md "Idle figure caveat: $IDLE_WHY."
md "Signing the $NL leases took $SIGN_S s (not counted). Reproduce: \`make bench-throughput\`"
md "(BENCH_SEQ=$SEQ, BENCH_IDLE=$NIDLE)."

ELAPSED=$(since "$T_START")
{
	printf 'Throughput and scale — full calyx-exec runs of /usr/bin/true, one fresh signed lease each (%s CPUs)\n' "$CORES"
	printf '%-40s %10s %6s %8s %8s  %s\n' what leases/s runs "wall s" "x seq" "failed"
	for n in seq conc2 conc8 idle50; do
		case $n in
		seq) lbl="back to back" ;; conc2) lbl="2 concurrent runners" ;; conc8) lbl="8 concurrent runners" ;;
		idle50) lbl="back to back, $NIDLE idle runs supervised" ;;
		esac
		printf '%-40s %10s %6s %8s %8s  %s\n' "$lbl" "${RATE[$n]}" "${OKN[$n]}" "${WALL[$n]}" "$(x_seq "$n")" \
			"${FAILN[$n]}${FAILMSG[$n]:+ (${FAILMSG[$n]})}"
	done
	printf 'supervisor CPU per idle run: %s %% of one core over %s s (goal ~0), scheduled %s times/s; sandbox init: %s %%\n' \
		"$IDLE_PCT" "$WINDOW" "$IDLE_WAKE" "$INIT_PCT"
	printf 'host mounts: %s before, %s with the idle runs\n' "$MOUNTS_BEFORE" "$MOUNTS_IDLE"
	printf '%s idle runs up in %s s; %s of %s still up after the batch; %s\n' "$IDLE_READY" "$IDLE_START_S" \
		"$IDLE_ALIVE" "$NIDLE" "$STOP_TXT"
	[ -n "$IDLE_WHY" ] && printf 'idle caveat: %s\n' "$IDLE_WHY"
	printf 'signing %s leases: %s s (not timed); took %s s; %s, %s\n' "$NL" "$SIGN_S" "$ELAPSED" \
		"$BENCH_OUT/throughput.md" "$BENCH_OUT/throughput.tsv"
}
exit 0
