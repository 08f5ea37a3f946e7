#!/usr/bin/env bash
# Monitor benchmark: how precisely quotas are enforced, how fast a halted
# tree is gone, and what supervising costs calyx-exec itself.
#
#   scripts/bench-monitor.sh [BUILD_DIR]   (as root; default $BUILD or build;
#                                           BENCH_N=15 runs per CPU row)
#
# Figures only, no assertions; the goals are stated next to them.
#   cpu/bpf T        spin T threads (T = 1, 2, 4 on this host's cores) under
#                    cpu_ms 300 with the BPF enforcer: overshoot past the
#                    budget = halt.cpu_overshoot_ms_precise (CPU billed by
#                    cpu.stat after the kill, minus the budget), median and
#                    max over BENCH_N runs.
#   cpu/poll T       the same with the fallback enforcer (cpu.stat polled
#                    every 10 ms under a CPU-quota fence). calyx-exec has no
#                    switch to force it, so the bench runs calyx-exec under a
#                    seccomp shim compiled here (bpf() -> ENOSYS, as on a
#                    kernel without BPF); the row is skipped with the reason
#                    if that fails or the result does not say cgroup-poll.
#   memory           hog (1 MiB steps) under memory_bytes 64 MiB:
#                    halt.detect_to_empty_ms; "hog child" is an idle parent
#                    whose child hogs, so the tree must be killed by calyx,
#                    not by the kernel's OOM killer alone. The halt reasons
#                    seen are listed (anything but memory is a bug).
#   forkbomb         a 500-process fork bomb (forkbomb 500) under pids 600,
#                    halted by wall_ms 1000: halt.detect_to_empty_ms (freeze,
#                    cgroup.kill, until the cgroup is empty) and pids_peak.
#   monitor CPU      calyx-exec's own CPU time (scheduler run time of its
#                    threads, /proc/PID/task/*/schedstat) between 1 s and
#                    5 s of a 6 s run that idles, and of one that spins a
#                    thread (BPF enforcer; and the poll fallback), as % of
#                    one core. The BPF program's own cost is charged to the
#                    spinning task, not to calyx-exec.
# Writes BENCH_OUT/monitor.md and monitor.tsv (scripts/lib-bench.sh); the
# table also goes to stdout (the bench log). The headline
# monitor.cpu_overshoot_{bpf,poll}_ms is the median of the per-thread-count
# medians (1, 2, 4 threads), so multi-threaded spinners count as much as
# the single one; each thread count has its own figures too.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# make passes BUILD=... from its command line in the environment: the
# Makefile's bench-monitor rule gives no argument
BUILD=${1:-${BUILD:-build}}
# results next to the build (bench-all.sh sets BENCH_OUT to the same);
# before lib-bench.sh, which would default it to build/bench
export BENCH_OUT=${BENCH_OUT:-$BUILD/bench}
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh
N=${BENCH_N:-15}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "bench-monitor: BENCH_N must be a positive integer" >&2; exit 1; }

# The integration harness: root check, binaries, $T, keys, hosts, leases.
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "$BUILD"

WORKLOADS="spin hog forkbomb idle"
for w in $WORKLOADS; do
	[ -x "$B/workloads/$w" ] || { note "$B/workloads/$w missing (make tests)"; exit 2; }
done
HB=$(mktemp -d /var/tmp/calyx-bench.XXXXXX) || exit 2
# shellcheck disable=SC2016  # expanded when the script exits
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
for w in $WORKLOADS; do install -m 0755 "$B/workloads/$w" "$HB/$w" || exit 2; done

BUID=$((30000 + $$ % 10000))
while getent passwd "$BUID" >/dev/null || getent group "$BUID" >/dev/null; do BUID=$((BUID + 1)); done
COMMANDS="[$(for w in $WORKLOADS; do printf '"%s/%s",' "$HB" "$w"; done | sed 's/,$//')]"
# the fork bomb needs more than the fixture policy's 512 pids
# exec_guard optional: the poll-fallback rows run calyx-exec with bpf()
# failing, which a policy requiring the loader guard refuses
policy_json "$COMMANDS" "[\"/usr\", \"$HB\"]" "" '"exec_guard": "optional"' | sed 's/"pids": 512,/"pids": 1024,/' >"$T/bench.policy.json"
mk_host bench "$T/bench.policy.json" "" "\"run_uid\": $BUID, \"run_gid\": $BUID" ||
	{ note "host: $WHY"; exit 2; }

# The fallback shim: calyx-exec and all it starts see bpf() fail (ENOSYS)
# (tests/bench/shim_nobpf.c, built by make bench-monitor).
SHIM=""
SHIM_WHY=""
if [ -x "$B/benchbin/shim_nobpf" ]; then
	SHIM=$B/benchbin/shim_nobpf
else
	SHIM_WHY="$B/benchbin/shim_nobpf is missing (make $B/benchbin/shim_nobpf)"
fi

# ---- running ----------------------------------------------------------------
NL=0
# brun ARGV_JSON LIMITS [WRAPPER]: lease and run; result in $R, pid in $RPID
# after bstart. Returns calyx-exec's exit code.
R=""
blease() {
	NL=$((NL + 1))
	printf '{"run_id":"bench","audience":"%s","argv":%s,"paths":{"ro":["/usr","%s"]},"limits":{%s}}\n' \
		"$HOST_ID" "$1" "$HB" "$2" >"$T/b$NL.body" || return 1
	mk_lease bench "$T/b$NL.lease" "$T/b$NL.body" || { note "lease: $WHY"; return 1; }
	R=$T/b$NL.result
}
brun() {
	blease "$1" "$2" || return 125
	${3:+"$3"} timeout -k 5 120 "$EXEC" --config "$T/bench/etc/calyx.conf" --lease "$T/b$NL.lease" \
		--result "$R" >/dev/null 2>"$T/b$NL.err"
}

# (stats FILE, from lib-bench.sh: "median min max n", "- - - 0" when empty)
# d2 X: X to 2 decimals, "-" stays
d2() { [ "$1" = - ] && echo - || printf '%.2f\n' "$1"; }

# Rows of the table: "name|median|max|n|notes", printed to stdout and into
# monitor.md at the end; the figures are written as they are measured.
ROWS=()
row() { ROWS+=("$1|$2|$3|$4|$5"); }
: >"$T/meds-bpf.txt"
: >"$T/meds-poll.txt"
# figure() appends to $BENCH_TSV: until bench_section at the end, that is a
# scratch file, so a bench that dies half way leaves no half-written tsv
BENCH_TSV=$T/figures.tsv
: >"$BENCH_TSV"

# cpu_rows ENFORCER THREADS... : BENCH_N spins per thread count
cpu_rows() {
	local enf=$1 t wrap="" f reasons
	shift
	if [ "$enf" = poll ]; then
		if [ -z "$SHIM" ]; then
			row "CPU overshoot, poll fallback (ms)" - - 0 "skipped: $SHIM_WHY"
			for t in "$@"; do
				figure "monitor.cpu_overshoot_poll_${t}_ms" - ms "skipped: $SHIM_WHY"
				figure "monitor.cpu_overshoot_poll_${t}_max_ms" - ms "skipped: $SHIM_WHY"
			done
			return
		fi
		wrap=$SHIM
	fi
	for t in "$@"; do
		f=$T/cpu-$enf-$t.txt
		: >"$f"
		reasons=""
		for _ in $(seq 1 "$N"); do
			brun "[\"$HB/spin\", \"$t\"]" '"cpu_ms": 300, "wall_ms": 30000' "$wrap"
			if [ "$(rget "$R" halt.reason)" != cpu ]; then
				reasons="$reasons $(rget "$R" halt.reason)/$(rget "$R" status)"
				continue
			fi
			if [ "$(rget "$R" cpu_enforcer)" != "$([ "$enf" = bpf ] && echo bpf || echo cgroup-poll)" ]; then
				reasons="$reasons enforcer=$(rget "$R" cpu_enforcer)"
				continue
			fi
			rget "$R" halt.cpu_overshoot_ms_precise >>"$f"
		done
		read -r med _ max n < <(stats "$f")
		[ "$n" -gt 0 ] && echo "$med" >>"$T/meds-$enf.txt"
		if [ "$enf" = bpf ]; then
			row "CPU overshoot, BPF, $t thread(s) (ms)" "$(d2 "$med")" "$(d2 "$max")" "$n" "goal: median ≤ 1, max ≤ 3${reasons:+; not counted:$reasons}"
		else
			row "CPU overshoot, poll fallback, $t thread(s) (ms)" "$(d2 "$med")" "$(d2 "$max")" "$n" "goal: max ≤ 10${reasons:+; not counted:$reasons}"
		fi
		figure "monitor.cpu_overshoot_${enf}_${t}_ms" "$(d2 "$med")" ms "median of $n runs, cpu_ms 300, $t spinning thread(s)${reasons:+; not counted:$reasons}"
		figure "monitor.cpu_overshoot_${enf}_${t}_max_ms" "$(d2 "$max")" ms "max of $n runs"
	done
}

# empty_rows KEY NAME ARGV LIMITS REASON GOAL RUNS: detect_to_empty_ms,
# figure monitor.KEY
empty_rows() {
	local key=$1
	shift
	local name=$1 argv=$2 lim=$3 want=$4 goal=$5 runs=$6 f=$T/empty-${key}.txt seen peaks=""
	local -a reasons=() peak=()
	: >"$f"
	for _ in $(seq 1 "$runs"); do
		brun "$argv" "$lim"
		reasons+=("$(rget "$R" halt.reason)")
		[ "$(rget "$R" halt.reason)" = "$want" ] && rget "$R" halt.detect_to_empty_ms >>"$f"
		[ "$key" = forkbomb_halt_ms ] && peak+=("$(rget "$R" usage.pids_peak)")
	done
	read -r med _ max n < <(stats "$f")
	seen=$(printf '%s\n' "${reasons[@]}" | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
	if [ ${#peak[@]} -gt 0 ]; then
		peaks="; pids_peak $(printf '%s\n' "${peak[@]}" | sort -n | sed -n '1p;$p' | paste -sd '-')"
	fi
	row "$name: breach → empty (ms)" "$(d2 "$med")" "$(d2 "$max")" "$n" "goal: ≤ $goal; halts: $seen$peaks"
	figure "monitor.$key" "$(d2 "$med")" ms "$name: halt.detect_to_empty_ms, median of $n runs (max $(d2 "$max")); halts: $seen$peaks"
}

# oncpu_ns PID: CPU time of every thread of PID so far, in ns (scheduler
# run time from /proc/PID/task/*/schedstat, precise; tick-based utime +
# stime would round a few ms/s to 0 or 10 ms)
oncpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { if (NR) printf "%d\n", s }'
}

# cpu_share ARGV LIMITS [WRAPPER]: calyx-exec's own CPU between 1 s and 5 s
# of the run, % of one core
cpu_share() {
	local pid a b t0 t1
	blease "$1" "$2" || { echo -; return; }
	${3:+"$3"} "$EXEC" --config "$T/bench/etc/calyx.conf" --lease "$T/b$NL.lease" --result "$R" \
		>/dev/null 2>"$T/b$NL.err" &
	pid=$!
	sleep 1
	a=$(oncpu_ns "$pid") t0=$(date +%s%N)
	sleep 4 # schedstat is in ns: 4 s is plenty, and keeps the bench near a minute
	b=$(oncpu_ns "$pid") t1=$(date +%s%N)
	wait "$pid"
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo -
		return
	fi
	awk -v a="$a" -v b="$b" -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f\n", (b - a) / ns * 100 }'
}

note "$N runs per CPU row; layout and enforcer from a first run"
brun "[\"$HB/spin\"]" '"cpu_ms": 50, "wall_ms": 30000'
LAYOUT=$(rget "$R" cgroup_layout) ENFORCER=$(rget "$R" cpu_enforcer)
THREADS=(1 2 4)

note "CPU overshoot, BPF enforcer"
cpu_rows bpf "${THREADS[@]}"
note "CPU overshoot, poll fallback"
if [ -n "$SHIM" ]; then
	brun "[\"$HB/spin\"]" '"cpu_ms": 50, "wall_ms": 30000' "$SHIM"
	if [ "$(rget "$R" cpu_enforcer)" != cgroup-poll ]; then
		SHIM_WHY="the shim did not force the fallback (cpu_enforcer '$(rget "$R" cpu_enforcer)': $(head -n 1 "$T/b$NL.err"))"
		SHIM=""
	fi
fi
cpu_rows poll "${THREADS[@]}"
note "memory and fork-bomb halts"
MEM_N=$(((N + 1) / 2))
empty_rows mem_breach_to_empty_ms "memory hog" "[\"$HB/hog\"]" '"memory_bytes": 67108864, "wall_ms": 2000' memory 20 "$MEM_N"
empty_rows mem_child_breach_to_empty_ms "memory hog child" "[\"$HB/hog\", \"child\"]" '"memory_bytes": 67108864, "wall_ms": 2000' memory 20 "$MEM_N"
empty_rows forkbomb_halt_ms "fork bomb" "[\"$HB/forkbomb\", \"500\", \"60000\"]" '"pids": 600, "wall_ms": 1000' wall 50 "$MEM_N"
note "monitor CPU (3 runs of 6 s)"
IDLE=$(cpu_share "[\"$HB/idle\"]" '"cpu_ms": 600000, "wall_ms": 6000')
BUSY=$(cpu_share "[\"$HB/spin\"]" '"cpu_ms": 600000, "wall_ms": 6000')
if [ -n "$SHIM" ]; then
	BUSYP=$(cpu_share "[\"$HB/spin\"]" '"cpu_ms": 600000, "wall_ms": 6000' "$SHIM")
else
	BUSYP="-"
fi
row "calyx-exec CPU, idle run (% of a core)" "$IDLE" - - "goal: ≈ 0 (BPF enforcer armed, run idle)"
row "calyx-exec CPU, busy run (% of a core)" "$BUSY" - - "goal: < 1 (1 thread spinning, BPF enforcer)"
row "calyx-exec CPU, busy run, poll fallback (% of a core)" "$BUSYP" - - "fallback: cpu.stat every 10 ms${SHIM_WHY:+ (skipped: $SHIM_WHY)}"

bench_section monitor
# the figures measured above went to a scratch file: bench_section starts
# monitor.tsv afresh, so they are appended after it
cat "$T/figures.tsv" >>"$BENCH_TSV"
# headline overshoot: median over the thread counts' medians
for enf in bpf poll; do
	read -r med _ _ n < <(stats "$T/meds-$enf.txt")
	figure "monitor.cpu_overshoot_${enf}_ms" "$(d2 "$med")" ms "median of the medians of ${THREADS[*]} spinning threads ($n thread counts measured)"
done
figure monitor.idle_cpu_pct "$IDLE" "% of a core" "calyx-exec's own CPU (all threads, schedstat) between 1 s and 5 s of an idle run, BPF enforcer"
figure monitor.busy_cpu_pct "$BUSY" "% of a core" "the same, 1 thread spinning"
figure monitor.busy_poll_cpu_pct "$BUSYP" "% of a core" "the same under the poll fallback${SHIM_WHY:+ (skipped: $SHIM_WHY)}"

md "## Monitor"
md
md "How precisely quotas are enforced and what supervising costs. Each run is a full"
md "\`calyx-exec\` run of a workload from \`tests/workloads\` under a lease (cgroup layout"
md "\`$LAYOUT\`, CPU enforcer \`$ENFORCER\`); $N runs per CPU row, $MEM_N per halt row."
md "CPU overshoot is \`halt.cpu_overshoot_ms_precise\` (CPU billed by \`cpu.stat\` after the"
md "kill minus the 300 ms budget); the poll fallback is forced by running \`calyx-exec\` under a"
md "seccomp shim that fails \`bpf()\` with ENOSYS. Breach → empty is \`halt.detect_to_empty_ms\`"
md "(freeze, \`cgroup.kill\`, until the cgroup is empty). Monitor CPU is \`calyx-exec\`'s own"
md "CPU time (all threads, \`/proc/PID/task/*/schedstat\`) between 1 s and 5 s of a 6 s run."
md "The headline overshoot figures (\`monitor.cpu_overshoot_bpf_ms\`, \`_poll_ms\`) are the median"
md "of the per-thread-count medians."
md
md "| figure | median | max | n | goal / notes |"
md "|---|---:|---:|---:|---|"
for r in "${ROWS[@]}"; do
	IFS='|' read -r name med max n notes <<<"$r"
	[ "$n" = - ] && n=""
	[ "$max" = - ] && max=""
	md "| $name | $med | $max | $n | $notes |"
done

printf 'calyx-exec monitor benchmark: cgroup layout %s, enforcer %s, %s runs per CPU row\n' "$LAYOUT" "$ENFORCER" "$N"
for r in "${ROWS[@]}"; do
	IFS='|' read -r name med max n notes <<<"$r"
	printf '%-52s %8s %8s %4s   %s\n' "$name" "$med" "$max" "$n" "$notes"
done
echo "bench-monitor: $BENCH_OUT/monitor.md"
