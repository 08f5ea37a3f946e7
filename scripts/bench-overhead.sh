#!/usr/bin/env bash
# Run-time overhead: what the sandbox costs a command while it runs.
#
#   scripts/bench-overhead.sh [BUILD_DIR]   (as root; default build;
#                                            BENCH_REPS=7, BENCH_PIN=1)
#
# One static program, BUILD_DIR/benchbin/syscall_loop (tests/bench/
# syscall_loop.c), times its own loop (CLOCK_MONOTONIC around the loop only,
# so process start and the sandbox's setup are not counted) and prints ns
# per iteration. It runs
#   bare     directly on the host;
#   calyx    inside calyx-exec: the whole sandbox (namespaces, file view,
#            Landlock, seccomp, no capabilities) under the cgroup + BPF
#            monitor, from a fresh two-key signed lease each time;
#   bwrap    (when bubblewrap is installed) inside bwrap --unshare-all with
#            calyx's own seccomp filter, exported to BPF by
#            tests/bench/seccomp_bpf.c: the same filter without Landlock;
#   floor    bare under a seccomp filter that allows everything (a shim
#            built here): what any filter costs a syscall on this kernel;
#   nobpf    (CPU loop only) calyx-exec with bpf() failing (a seccomp shim,
#            as in bench-monitor.sh), so the monitor polls cpu.stat instead
#            of sampling: tells the BPF sampler's cost from the rest.
# Kinds: getppid (the cheapest syscall: what remains is the filter), read
# of 1 byte from /dev/zero, open+close of a file (a path walk: Landlock's
# checks add to it), and a CPU-bound xorshift loop (~0.5 s) whose only
# overhead can be the monitor's BPF sampler (cpu-clock perf events on the
# run's cgroup; the result JSON must say cpu_enforcer "bpf").
# bare/calyx/bwrap runs are interleaved, BENCH_REPS repetitions each, the
# order flipped every other repetition; the loop sizes are calibrated on
# this machine first. Everything is pinned to one CPU with taskset
# (BENCH_PIN=0: not pinned) so bare and sandboxed runs see the same core.
# Figures: medians; added = median(calyx) - median(bare); the CPU slowdown
# is the median of the per-repetition ratios calyx/bare. No assertions: the
# issue's goals are printed next to the figures.
# Results: a table on stdout, $BENCH_OUT/overhead.md and overhead.tsv
# (BENCH_OUT defaults to BUILD_DIR/bench).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
REPS=${BENCH_REPS:-7}
PIN=${BENCH_PIN:-1}
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || { echo "bench-overhead: BENCH_REPS must be a positive integer" >&2; exit 1; }

# The integration harness: root check, binaries, $T (removed at exit),
# keys, hosts, leases, lib_atexit.
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "$BUILD"
export BENCH_OUT=${BENCH_OUT:-$B/bench}
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh

T_START=$EPOCHREALTIME

SL=$B/benchbin/syscall_loop
[ -x "$SL" ] || die "$SL missing (make $BUILD/benchbin/syscall_loop)"

# The command must be visible inside the sandbox under its own path, and
# /tmp and /work are the sandbox's own: a fresh dir under /var/tmp holds
# the binary and the file open/close opens.
HB=$(mktemp -d /var/tmp/calyx-bench.XXXXXX) || die "mktemp under /var/tmp failed"
# shellcheck disable=SC2016  # expanded when the script exits
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$SL" "$HB/syscall_loop" || die "cannot copy syscall_loop to $HB"
printf 'x\n' >"$HB/data" || die "cannot write $HB/data"
LOOP=$HB/syscall_loop

# exec_guard optional: the no-BPF row runs calyx-exec with bpf() failing,
# which a policy requiring the loader guard refuses (with BPF the guard
# is in force either way)
policy_json "[\"$LOOP\"]" "[\"/usr\", \"$HB\"]" "" '"exec_guard": "optional"' >"$T/overhead.policy.json"
mk_host ov "$T/overhead.policy.json" || die "host setup: $WHY"
CONF=$T/ov/etc/calyx.conf

# Pinning: one CPU for every run (the last one: CPU 0 takes most device
# interrupts). taskset must exist and the CPU be allowed to us.
PIN_CPU=""
if [ "$PIN" = 1 ] && command -v taskset >/dev/null 2>&1; then
	PIN_CPU=$(taskset -cp $$ 2>/dev/null | sed 's/.*: //' | tr ',' '\n' | sed 's/.*-//' | sort -n | tail -n 1)
	[[ "$PIN_CPU" =~ ^[0-9]+$ ]] && taskset -c "$PIN_CPU" true 2>/dev/null || PIN_CPU=""
fi
pinned() { if [ -n "$PIN_CPU" ]; then taskset -c "$PIN_CPU" "$@"; else "$@"; fi; }

# ns_of FILE: the ns_per_iter of a syscall_loop output line
ns_of() { sed -n 's/.* ns_per_iter=\([0-9.]*\).*/\1/p' "$1" | head -n 1; }
res_of() { sed -n 's/.* result=\([0-9]*\).*/\1/p' "$1" | head -n 1; }
total_of() { sed -n 's/.* total_ns=\([0-9]*\).*/\1/p' "$1" | head -n 1; }
cpuns_of() { sed -n 's/.* cpu_ns=\([0-9]*\).*/\1/p' "$1" | head -n 1; }

# ---- leases ---------------------------------------------------------------
NL=0
# lease ARG...: sign a lease running syscall_loop ARG...; its file in $L
L=""
lease() {
	local argv a
	argv="\"$LOOP\""
	for a in "$@"; do argv="$argv, \"$a\""; done
	NL=$((NL + 1))
	L=$T/l$NL.lease
	printf '{"run_id":"bench-overhead","audience":"%s","argv":[%s],"paths":{"ro":["/usr","%s"]}}\n' \
		"$HOST_ID" "$argv" "$HB" >"$T/l$NL.body" || return 1
	mk_lease ov "$L" "$T/l$NL.body" || die "signing a lease: $WHY"
}

# calyx_run LEASE OUT [WRAPPER]: run it (pinned); 0 if it exited 0 and
# printed a figure
calyx_run() {
	pinned ${3:+"$3"} "$EXEC" --config "$CONF" --lease "$1" --result "$T/result.json" >"$2" 2>"$T/calyx.err" &&
		[ -n "$(ns_of "$2")" ]
}

# ---- calyx without the BPF sampler (diagnostic, CPU loop only) ---------------
# To tell the sampler's cost from the rest of the sandbox's, the CPU loop
# also runs under calyx-exec with bpf() failing (ENOSYS, as on a kernel
# without BPF: a seccomp shim, as in bench-monitor.sh), so the monitor
# falls back to polling cpu.stat (result: cpu_enforcer "cgroup-poll").
NOBPF=$B/benchbin/shim_nobpf NOBPF_WHY="" # tests/bench/shim_nobpf.c
[ -x "$NOBPF" ] || NOBPF_WHY="$NOBPF is missing (make $NOBPF)"

# ---- the floor: any seccomp filter at all (diagnostic) ------------------------
# A filter that allows everything, on the bare program: what having a
# seccomp filter costs a syscall on this kernel whatever its rules (the
# entry then takes the slow path), so calyx's own rules are what lies
# between this and calyx.
ANYF=$B/benchbin/shim_anyfilter FLOOR_WHY="" # tests/bench/shim_anyfilter.c
[ -x "$ANYF" ] || FLOOR_WHY="$ANYF is missing (make $ANYF)"

# ---- bwrap with calyx's seccomp filter (optional) --------------------------
BWRAP_WHY=""
BPF=$T/calyx-seccomp.bpf
if ! command -v bwrap >/dev/null 2>&1; then
	BWRAP_WHY="bubblewrap is not installed"
else
	# seccomp_bpf.c links sandbox/seccomp.c and wraps some of libseccomp's
	# calls; which ones has changed with it, so try each link line (the
	# first one's errors are the ones reported)
	BPF_OK=0
	: >"$T/bpf.err"
	for wraps in seccomp_init,--wrap=seccomp_rule_add_array \
		seccomp_load,--wrap=seccomp_init,--wrap=seccomp_rule_add_array seccomp_load; do
		# shellcheck disable=SC2046  # pkg-config's flags are words
		if cc -std=gnu11 -D_GNU_SOURCE -O2 -Iinclude -Isandbox tests/bench/seccomp_bpf.c "$B/libcalyx.a" \
			$(pkg-config --libs libsodium jansson libseccomp libcap-ng 2>/dev/null) -Wl,--wrap=$wraps \
			-o "$T/seccomp_bpf" 2>>"$T/bpf.err" &&
			rm -f "$BPF" && "$T/seccomp_bpf" "$BPF" >/dev/null 2>>"$T/bpf.err" && [ -s "$BPF" ]; then
			# (a link line that misses the wrap it needs loads the filter
			# instead of exporting it: an empty file, so the next is tried)
			BPF_OK=1
			break
		fi
	done
	[ $BPF_OK -eq 1 ] || BWRAP_WHY="could not export calyx's seccomp filter: $(grep -m 1 -E 'error|undefined|seccomp_bpf:' "$T/bpf.err" | cut -c 1-200)"
fi
# the view of bench-startup's bwrap row, plus the bench dir (read-only)
BWRAP_ARGS=(--unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib
	--symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin
	--ro-bind "$HB" "$HB" --dev /dev --proc /proc --tmpfs /tmp --uid 65534 --gid 65534 --cap-drop ALL)
bwrap_run() { # OUT ARG...
	local out=$1
	shift
	pinned bwrap "${BWRAP_ARGS[@]}" --seccomp 9 "$LOOP" "$@" 9<"$BPF" >"$out" 2>"$T/bwrap.err" &&
		[ -n "$(ns_of "$out")" ]
}

# ---- sanity: each way of running works --------------------------------------
if ! pinned "$LOOP" getppid 1000 >"$T/o" 2>"$T/e" || [ -z "$(ns_of "$T/o")" ]; then
	die "syscall_loop does not run bare: $(head -n 1 "$T/e")"
fi
lease getppid 1000
calyx_run "$L" "$T/o" || die "calyx-exec could not run syscall_loop: $(head -n 1 "$T/calyx.err")"
if [ -z "$BWRAP_WHY" ] && ! bwrap_run "$T/o" getppid 1000; then
	BWRAP_WHY="bwrap does not run here: $(head -n 1 "$T/bwrap.err")"
fi
[ -n "$BWRAP_WHY" ] && note "bwrap row skipped: $BWRAP_WHY"
if [ -z "$NOBPF_WHY" ]; then
	lease getppid 1000
	if ! calyx_run "$L" "$T/o" "$NOBPF"; then
		NOBPF_WHY="calyx-exec does not run under the shim: $(head -n 1 "$T/calyx.err")"
	elif [ "$(rget "$T/result.json" cpu_enforcer)" != cgroup-poll ]; then
		NOBPF_WHY="the shim did not force the fallback (cpu_enforcer '$(rget "$T/result.json" cpu_enforcer)')"
	fi
fi
[ -n "$NOBPF_WHY" ] && note "no-BPF row skipped: $NOBPF_WHY"

# ---- calibration: loop sizes for this machine ----------------------------------
# N such that one bare run takes about TARGET ms (3 s of syscalls per kind
# and way in total at the defaults), rounded to 2 significant digits.
calibrate() { # TARGET_MS ARG... (the kind and a trial N first)
	local target=$1 ns
	shift
	pinned "$LOOP" "$@" >"$T/o" 2>"$T/e" || die "syscall_loop $*: $(head -n 1 "$T/e")"
	ns=$(ns_of "$T/o")
	awk -v t="$target" -v ns="$ns" 'BEGIN {
		n = t * 1e6 / (ns > 0.01 ? ns : 0.01)
		if (n < 1000) n = 1000
		p = 10 ^ (int(log(n) / log(10)) - 1)
		printf "%d\n", int(n / p + 0.5) * p }'
}
KINDS=(getppid read openclose)
declare -A N=() ARGS=()

# ~150 ms per syscall run and ~500 ms per CPU run keep the whole bench
# near 30 s on a quiet machine (5 ways x 7 repetitions)
SYS_MS=150 CPU_MS=500
N[getppid]=$(calibrate "$SYS_MS" getppid 200000)
N[read]=$(calibrate "$SYS_MS" read 200000)
N[openclose]=$(calibrate "$SYS_MS" openclose 50000 "$HB/data")
N[cpu]=$(calibrate "$CPU_MS" cpu 100000000)
for k in getppid read cpu; do ARGS[$k]="$k ${N[$k]}"; done
ARGS[openclose]="openclose ${N[openclose]} $HB/data"

# One lease per calyx run, signed before anything is timed.
CPU_WAYS=(bare calyx)
[ -z "$NOBPF_WHY" ] && CPU_WAYS+=(nobpf)
note "signing $(((${#KINDS[@]} + ${#CPU_WAYS[@]} - 1) * REPS)) leases (not timed); loop sizes: getppid ${N[getppid]}, read ${N[read]}, openclose ${N[openclose]}, cpu ${N[cpu]}"
declare -A LEASES=()
for k in "${KINDS[@]}" cpu; do
	for r in $(seq 1 "$REPS"); do
		# shellcheck disable=SC2086  # the arguments are words
		lease ${ARGS[$k]}
		LEASES[$k.$r]=$L
		if [ "$k" = cpu ] && [ -z "$NOBPF_WHY" ]; then
			# shellcheck disable=SC2086
			lease ${ARGS[$k]}
			LEASES[cpunb.$r]=$L
		fi
	done
done

# ---- measurement ------------------------------------------------------------------
# One file of samples per kind and way: S/KIND.WAY (ns per iteration).
S=$T/samples
mkdir -p "$S"
FAILS=()
ENFORCERS=() NB_ENFORCERS=()
CPU_RES_BAD=0
# one_run KIND WAY REP: append one sample; a failure is noted, not fatal
one_run() {
	local k=$1 way=$2 r=$3 out=$T/run.out
	# shellcheck disable=SC2086  # the arguments are words
	case $way in
	bare)
		if ! pinned "$LOOP" ${ARGS[$k]} >"$out" 2>"$T/e" || [ -z "$(ns_of "$out")" ]; then
			FAILS+=("$k/bare: $(head -n 1 "$T/e")")
			return
		fi ;;
	calyx)
		calyx_run "${LEASES[$k.$r]}" "$out" ||
			{ FAILS+=("$k/calyx: $(head -n 1 "$T/calyx.err")"); return; }
		[ "$k" = cpu ] && ENFORCERS+=("$(rget "$T/result.json" cpu_enforcer)") ;;
	bwrap) bwrap_run "$out" ${ARGS[$k]} || { FAILS+=("$k/bwrap: $(head -n 1 "$T/bwrap.err")"); return; } ;;
	floor)
		if ! pinned "$ANYF" "$LOOP" ${ARGS[$k]} >"$out" 2>"$T/e" || [ -z "$(ns_of "$out")" ]; then
			FAILS+=("$k/floor: $(head -n 1 "$T/e")")
			return
		fi ;;
	nobpf)
		calyx_run "${LEASES[cpunb.$r]}" "$out" "$NOBPF" ||
			{ FAILS+=("$k/nobpf: $(head -n 1 "$T/calyx.err")"); return; }
		NB_ENFORCERS+=("$(rget "$T/result.json" cpu_enforcer)") ;;
	esac
	ns_of "$out" >>"$S/$k.$way"
	if [ "$k" = cpu ]; then
		# same N, same result, or the loop did not do the same work
		[ -z "${CPU_RESULT:-}" ] && CPU_RESULT=$(res_of "$out")
		[ "$(res_of "$out")" = "$CPU_RESULT" ] || CPU_RES_BAD=1
		# the pair for the per-repetition slowdown
		# (total_ns: ns_per_iter's 3 decimals are too coarse for ~1.7 ns steps)
		printf '%s %s\n' "$r" "$(total_of "$out")" >>"$S/cpu.$way.byrep"
		awk -v t="$(total_of "$out")" 'BEGIN { printf "%.3f\n", t / 1e6 }' >>"$S/cpu.$way.ms"
		printf '%s %s\n' "$r" "$(cpuns_of "$out")" >>"$S/cpu.$way.cpubyrep"
	fi
}
if [ -z "$FLOOR_WHY" ] && ! { "$ANYF" "$LOOP" getppid 1000 >"$T/o" 2>"$T/e" && [ -n "$(ns_of "$T/o")" ]; }; then
	FLOOR_WHY="the allow-all filter shim does not run: $(head -n 1 "$T/e")"
fi
WAYS=(bare calyx)
[ -z "$FLOOR_WHY" ] && WAYS+=(floor)
[ -z "$BWRAP_WHY" ] && WAYS+=(bwrap)
note "$REPS interleaved repetitions of ${WAYS[*]}${PIN_CPU:+, pinned to CPU $PIN_CPU}..."
for r in $(seq 1 "$REPS"); do
	# flip the order every other repetition so a drift hits every way alike
	if [ $((r % 2)) -eq 1 ]; then order=("${WAYS[@]}"); else order=(); for ((i = ${#WAYS[@]} - 1; i >= 0; i--)); do order+=("${WAYS[$i]}"); done; fi
	for k in "${KINDS[@]}"; do
		for w in "${order[@]}"; do one_run "$k" "$w" "$r"; done
	done
	if [ $((r % 2)) -eq 1 ]; then order=("${CPU_WAYS[@]}"); else order=(); for ((i = ${#CPU_WAYS[@]} - 1; i >= 0; i--)); do order+=("${CPU_WAYS[$i]}"); done; fi
	for w in "${order[@]}"; do one_run cpu "$w" "$r"; done
done

# ---- figures --------------------------------------------------------------------------
med() { local m; read -r m _ < <(stats "$1"); [ "$m" = - ] && echo - || printf '%.1f\n' "$m"; }
range() { local m lo hi; read -r m lo hi _ < <(stats "$1"); [ "$m" = - ] && echo - || printf '%.1f–%.1f\n' "$lo" "$hi"; }
sub() {
	if [[ "$1" = - || "$2" = - ]]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", a - b }'; fi
}

bench_section overhead
declare -A MED=() RNG=() ADDED=()
for k in "${KINDS[@]}" cpu; do
	for w in bare calyx bwrap nobpf floor; do
		MED[$k.$w]=$(med "$S/$k.$w") RNG[$k.$w]=$(range "$S/$k.$w")
	done
done
# cpu: ms per loop, from total_ns
CPU_BARE_MS=$(med "$S/cpu.bare.ms") CPU_CALYX_MS=$(med "$S/cpu.calyx.ms") CPU_NB_MS=$(med "$S/cpu.nobpf.ms")
# slowdown: median over repetitions of (calyx / bare - 1), pairs of the
# same repetition; SUFFIX byrep: wall time (the figure), cpubyrep: the
# loop's own CPU time (less moved by other load on the machine)
slowdown() { # WAY SUFFIX -> "MEDIAN RANGE" or "- -"
	local m lo hi
	if [ -s "$S/cpu.bare.$2" ] && [ -s "$S/cpu.$1.$2" ]; then
		join <(sort "$S/cpu.bare.$2") <(sort "$S/cpu.$1.$2") |
			awk '$2 > 0 && $3 > 0 { printf "%.4f\n", ($3 / $2 - 1) * 100 }' >"$S/cpu.slowdown.$1.$2"
		read -r m lo hi _ < <(stats "$S/cpu.slowdown.$1.$2")
		[ "$m" = - ] || { printf '%.2f %.2f%%_to_%.2f%%\n' "$m" "$lo" "$hi"; return; }
	fi
	echo "- -"
}
read -r SLOW SLOW_RANGE < <(slowdown calyx byrep)
read -r SLOW_CPU SLOW_CPU_RANGE < <(slowdown calyx cpubyrep)
read -r SLOW_NB SLOW_NB_RANGE < <(slowdown nobpf byrep)
read -r SLOW_NB_CPU SLOW_NB_CPU_RANGE < <(slowdown nobpf cpubyrep)
SLOW_RANGE=${SLOW_RANGE//_/ } SLOW_CPU_RANGE=${SLOW_CPU_RANGE//_/ }
SLOW_NB_RANGE=${SLOW_NB_RANGE//_/ } SLOW_NB_CPU_RANGE=${SLOW_NB_CPU_RANGE//_/ }
NB_ENF=$(printf '%s\n' ${NB_ENFORCERS[@]+"${NB_ENFORCERS[@]}"} | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')
ENF=$(printf '%s\n' ${ENFORCERS[@]+"${ENFORCERS[@]}"} | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')
CPU_NOTE="BPF sampler armed (cpu_enforcer: ${ENF:-none seen})"
[ "$CPU_RES_BAD" -eq 1 ] && CPU_NOTE="$CPU_NOTE; WARNING: the loop results differ between runs"
case ",$ENF" in *bpf*) ;; *) SLOW_WHY="the BPF sampler was not armed (cpu_enforcer: ${ENF:-none seen})" ;; esac

PIN_TXT=${PIN_CPU:+pinned to CPU $PIN_CPU with taskset}
PIN_TXT=${PIN_TXT:-not pinned}
declare -A LABEL=([getppid]="getppid" [read]="read 1 B of /dev/zero" [openclose]="open+close (per pair)")
for k in "${KINDS[@]}"; do
	ADDED[$k]=$(sub "${MED[$k.calyx]}" "${MED[$k.bare]}")
	why=""
	[ "${MED[$k.calyx]}" = - ] && why="; no calyx sample (calyx-exec failed)"
	figure "overhead.$k.bare_ns" "${MED[$k.bare]}" ns "${LABEL[$k]}, bare, median of $(nlines "$S/$k.bare" 2>/dev/null || echo 0) runs"
	figure "overhead.$k.calyx_ns" "${MED[$k.calyx]}" ns "${LABEL[$k]}, inside calyx-exec, median of $(nlines "$S/$k.calyx" 2>/dev/null || echo 0) runs$why"
	figure "overhead.$k.added_ns" "${ADDED[$k]}" ns "median calyx - median bare$why"
	if [ -z "$FLOOR_WHY" ]; then
		figure "overhead.$k.seccomp_floor_ns" "${MED[$k.floor]}" ns "${LABEL[$k]}, bare under an allow-all seccomp filter: the cost of any filter on this kernel"
	fi
	if [ -z "$BWRAP_WHY" ]; then
		figure "overhead.$k.bwrap_ns" "${MED[$k.bwrap]}" ns "${LABEL[$k]}, bwrap --unshare-all with calyx's seccomp filter (no Landlock)"
	fi
done
figure overhead.syscall_added_ns "${ADDED[getppid]}" ns "added per syscall for getppid: the pure filter cost (seccomp + Landlock, which does not hook getppid); goal <= 30"
figure overhead.cpu.bare_ms "$CPU_BARE_MS" ms "xorshift loop of ${N[cpu]} steps, bare, median"
figure overhead.cpu.calyx_ms "$CPU_CALYX_MS" ms "the same inside calyx-exec, median; $CPU_NOTE"
figure overhead.cpu_slowdown_pct "$SLOW" % "wall time of the loop, median of per-repetition calyx/bare - 1; $CPU_NOTE${SLOW_WHY:+; $SLOW_WHY}; goal <= 1"
figure overhead.cpu_slowdown_cputime_pct "$SLOW_CPU" % "the same by the loop's own CPU time (CLOCK_THREAD_CPUTIME_ID: not moved by other processes taking the CPU; includes interrupts of the loop)"
if [ -z "$NOBPF_WHY" ]; then
	figure overhead.cpu_slowdown_nobpf_pct "$SLOW_NB" % "diagnostic: calyx-exec with bpf() failing (cpu_enforcer: ${NB_ENF:-none seen}), wall time; the sampler's cost is the difference to cpu_slowdown_pct"
	figure overhead.cpu_slowdown_nobpf_cputime_pct "$SLOW_NB_CPU" % "diagnostic: the same by the loop's own CPU time"
fi

# ---- table: markdown and stdout ----------------------------------------------------------
goal_added() { # ADDED LIMIT -> "met" or "not met (x ns over)"
	[ "$1" = - ] && { echo "not measured"; return; }
	awk -v a="$1" -v l="$2" 'BEGIN { if (a <= l) print "met"; else printf "not met (%.1f ns over)\n", a - l }'
}
goal_slow() {
	[ "$1" = - ] && { echo "not measured"; return; }
	awk -v a="$1" 'BEGIN { if (a <= 1) print "met"; else printf "not met (%.2f points over)\n", a - 1 }'
}
BW_COL=""
[ -z "$BWRAP_WHY" ] && BW_COL=1
md "## Run-time overhead"
md
md "What running inside calyx-exec costs a command once it runs: the same static program"
md "(\`tests/bench/syscall_loop.c\`) times its own loop with \`CLOCK_MONOTONIC\` (the loop only:"
md "process start and sandbox setup are not counted) bare on the host and inside \`calyx-exec\`"
md "with the full sandbox (pid/mnt/net/ipc/uts/cgroup namespaces, file view, Landlock, its"
md "seccomp filter, no capabilities) under the cgroup + BPF monitor, each calyx run from a"
if [ -n "$BW_COL" ]; then
	md "fresh two-key signed lease. For reference, the loops also run inside \`bwrap --unshare-all\`"
	md "with calyx's own seccomp filter (exported by \`tests/bench/seccomp_bpf.c\`; no Landlock)."
else
	md "fresh two-key signed lease."
fi
WAYS_TXT=$(printf '%s\n' "${WAYS[@]}" | sed 's/^floor$/allow-all filter/' | paste -sd ',' | sed 's/,/, /g')
md "The ways ($WAYS_TXT) are interleaved, $REPS repetitions each (order flipped every other"
md "repetition), $PIN_TXT; loop sizes calibrated on this machine (~$SYS_MS ms per syscall run,"
md "~$CPU_MS ms per CPU run). Figures are medians (min–max in brackets); *added* is median(calyx) −"
md "median(bare). getppid is the pure filter cost: every syscall pays the seccomp filter, and"
md "Landlock does not hook getppid; open+close adds Landlock's path checks (per pair of calls)."
md
md "Goals (issue 8, reported, not asserted): seccomp + Landlock overhead ≤ 30 ns per syscall;"
md "CPU-bound slowdown from monitoring ≤ 1%."
md
md "Machine: $(machine_line)."
md
md "| ns per call | bare | bare + allow-all seccomp filter | calyx | added (calyx − bare) | bwrap + calyx's seccomp filter | goal |"
md "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
for k in "${KINDS[@]}"; do
	g="≤ 30 ns per syscall: $(goal_added "${ADDED[$k]}" 30)"
	[ "$k" = openclose ] && g="≤ 60 ns per pair (2 syscalls): $(goal_added "${ADDED[$k]}" 60)"
	fl="${MED[$k.floor]} (${RNG[$k.floor]})" bw="${MED[$k.bwrap]} (${RNG[$k.bwrap]})"
	[ -n "$FLOOR_WHY" ] && fl="—"
	[ -n "$BWRAP_WHY" ] && bw="—"
	md "| ${LABEL[$k]} | ${MED[$k.bare]} (${RNG[$k.bare]}) | $fl | ${MED[$k.calyx]} (${RNG[$k.calyx]}) | ${ADDED[$k]} | $bw | $g |"
done
if [ -z "$FLOOR_WHY" ]; then
	md
	md "The allow-all column is the bare program under a seccomp filter that allows everything"
	md "(a shim compiled here): what any filter costs a syscall on this kernel, whatever its rules,"
	md "so the part of *added* that calyx's own rules and Landlock could still save is calyx − allow-all"
	md "(getppid: $(sub "${MED[getppid.calyx]}" "${MED[getppid.floor]}") ns, read: $(sub "${MED[read.calyx]}" "${MED[read.floor]}") ns)."
else
	md
	md "No allow-all filter column: $FLOOR_WHY."
fi
md
md "| CPU-bound loop (${N[cpu]} xorshift steps) | bare | calyx | slowdown | goal |"
md "| --- | ---: | ---: | ---: | --- |"
md "| ms per loop (wall) | $CPU_BARE_MS | $CPU_CALYX_MS | ${SLOW}% | ≤ 1%: $(goal_slow "$SLOW") |"
md "| by the loop's own CPU time | | | ${SLOW_CPU}% | ≤ 1%: $(goal_slow "$SLOW_CPU") |"
if [ -z "$NOBPF_WHY" ]; then
	md "| diagnostic: calyx without the BPF sampler (wall) | | $CPU_NB_MS | ${SLOW_NB}% | |"
	md "| diagnostic: without the sampler, by own CPU time | | | ${SLOW_NB_CPU}% | |"
fi
md
md "The slowdown is the median over repetitions of calyx/bare − 1 (each calyx run paired with the"
md "bare run of the same repetition; per-repetition range ${SLOW_RANGE}); $CPU_NOTE. Wall time is"
md "what a user sees, but other processes taking the CPU move it; the loop's own CPU time"
md "(\`CLOCK_THREAD_CPUTIME_ID\`, per-repetition range ${SLOW_CPU_RANGE}) is not moved by them and still"
md "includes the sampler's interrupts, which run in the loop's context."
if [ -z "$NOBPF_WHY" ]; then
	md "The diagnostic rows run the same loop under calyx-exec with \`bpf()\` failing (a seccomp shim, as"
	md "on a kernel without BPF), so the monitor falls back to polling \`cpu.stat\` (cpu_enforcer:"
	md "${NB_ENF:-none seen}; per-repetition range by CPU time ${SLOW_NB_CPU_RANGE}): the sandbox without the"
	md "sampler. The difference between the two slowdowns is the BPF sampler's cost."
else
	md "No diagnostic row without the BPF sampler: $NOBPF_WHY."
fi
if [ -n "$BW_COL" ] && [ "${ADDED[openclose]}" != - ] && [ "${MED[openclose.bwrap]}" != - ]; then
	md
	md "open+close: calyx adds ${ADDED[openclose]} ns per pair, bwrap with the same seccomp filter"
	md "$(sub "${MED[openclose.bwrap]}" "${MED[openclose.bare]}") ns; the difference, $(sub "${MED[openclose.calyx]}" "${MED[openclose.bwrap]}") ns, is what calyx does beyond the filter"
	md "on a path walk (Landlock's checks on open; calyx's file view)."
fi
md
[ -n "${SLOW_WHY:-}" ] && md "The CPU figure does not show the sampler's cost: $SLOW_WHY."
[ -n "$BWRAP_WHY" ] && md "No bwrap row: $BWRAP_WHY."
if [ ${#FAILS[@]} -gt 0 ]; then
	md
	md "Runs that failed (not counted): $(printf '%s; ' "${FAILS[@]}" | cut -c 1-600)"
fi
md "On a shared or virtual machine the figures move by several ns between runs; a difference"
md "of a few ns is within the noise. Reproduce: \`make bench-overhead\` (BENCH_REPS=$REPS)."

ELAPSED=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
{
	printf 'Run-time overhead — ns per call, medians of %s interleaved runs (min–max); %s\n' "$REPS" "$PIN_TXT"
	printf '%-22s %-24s %-24s %-24s %8s  %-24s %s\n' kind bare "bare+allow-all-filter" calyx added "bwrap+calyx-seccomp" goal
	for k in "${KINDS[@]}"; do
		g="<= 30 ns/syscall: $(goal_added "${ADDED[$k]}" 30)"
		[ "$k" = openclose ] && g="<= 60 ns/pair: $(goal_added "${ADDED[$k]}" 60)"
		bw=${BW_COL:+${MED[$k.bwrap]} (${RNG[$k.bwrap]})}
		fl="${MED[$k.floor]} (${RNG[$k.floor]})"
		[ -n "$FLOOR_WHY" ] && fl=skipped
		# ASCII ranges here: printf pads by bytes, and – is three
		bw=${bw//–/-} fl=${fl//–/-}
		printf '%-22s %-24s %-24s %-24s %8s  %-24s %s\n' "${LABEL[$k]}" "${MED[$k.bare]} (${RNG[$k.bare]//–/-})" \
			"$fl" "${MED[$k.calyx]} (${RNG[$k.calyx]//–/-})" "${ADDED[$k]}" "${bw:-skipped}" "$g"
	done
	printf '%-22s %-24s %-24s %-24s %8s  %-24s %s\n' "cpu loop ms (wall)" "$CPU_BARE_MS" "" "$CPU_CALYX_MS" "${SLOW}%" "" \
		"<= 1% slowdown: $(goal_slow "$SLOW")"
	printf '%-22s %-24s %-24s %-24s %8s  %-24s %s\n' "  by own CPU time" "" "" "" "${SLOW_CPU}%" "" \
		"<= 1% slowdown: $(goal_slow "$SLOW_CPU")"
	if [ -z "$NOBPF_WHY" ]; then
		printf '%-22s %-24s %-24s %-24s %8s  %-24s %s\n' "cpu, no BPF (wall)" "" "" "$CPU_NB_MS" "${SLOW_NB}%" "" "diagnostic: sampler off"
		printf '%-22s %-24s %-24s %-24s %8s  %-24s %s\n' "  by own CPU time" "" "" "" "${SLOW_NB_CPU}%" "" "(enforcer: ${NB_ENF:-none seen})"
	else
		printf 'no-BPF diagnostic skipped: %s\n' "$NOBPF_WHY"
	fi
	printf 'headline: overhead.syscall_added_ns = %s ns (getppid, the pure filter cost); cpu: %s\n' "${ADDED[getppid]}" "$CPU_NOTE"
	[ -n "$BWRAP_WHY" ] && printf 'bwrap skipped: %s\n' "$BWRAP_WHY"
	[ ${#FAILS[@]} -gt 0 ] && printf 'failed runs (not counted): %s\n' "$(printf '%s; ' "${FAILS[@]}" | cut -c 1-600)"
	printf 'took %s s; %s, %s\n' "$ELAPSED" "$BENCH_OUT/overhead.md" "$BENCH_OUT/overhead.tsv"
}
exit 0
