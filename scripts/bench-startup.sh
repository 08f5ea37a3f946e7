#!/usr/bin/env bash
# Startup cost of calyx-exec's whole pipeline, side by side with its peers.
#
#   scripts/bench-startup.sh            (as root; BENCH_N=40 BENCH_ROUNDS=3)
#
# What is timed, each run a fresh process, /usr/bin/true as the command:
#   calyx            calyx-exec --config C --lease LEASE_i: read config,
#                    keyring, policy, host key; verify 2 Ed25519 signatures
#                    and the policy; consume (ledger file + fsyncs); audit
#                    (5 signed, fdatasync'd lines); the monitor (cgroups,
#                    BPF) when the build has it; namespaces, file view,
#                    Landlock, seccomp, exec, wait; result. Each lease runs
#                    once, so N signed leases per round are made beforehand
#                    (not timed) and hyperfine scans over them.
#   calyx-memlog     the same, with the ledger (state dir) and the audit log
#                    on tmpfs: a diagnostic row — calyx minus calyx-memlog is
#                    what the durable writes (fsync/fdatasync) cost.
#   calyx-dryrun     calyx-exec --dry-run on one lease: config + verify only.
#   calyx-version    calyx-exec --version: process start alone (exec, its
#                    shared libraries), a diagnostic row.
#   bwrap            bwrap --unshare-all (a user namespace too: its normal
#                    mode) with the same file view: /usr ro, /lib* symlinks,
#                    /dev, /proc, /tmp, the workspace at /work, uid 65534.
#   bwrap+seccomp    the same with calyx's own seccomp filter (exported to
#                    BPF by tests/bench/seccomp_bpf.c) via --seccomp FD;
#                    the fd needs a redirection, so hyperfine runs this one
#                    through sh -c and subtracts its measured shell time.
#   unshare          unshare --pid --fork --mount --net --ipc --uts --cgroup
#                    /usr/bin/true: the namespaces alone (floor).
#   floor            /usr/bin/true: fork+exec+wait (floor).
# Peers are interleaved (ROUNDS rounds, each peer N runs per round) on what
# may be a noisy VM; per peer: median, min–max over all runs, the per-round
# medians, and the median CPU time per run (user+system of the process and
# the children it reaped, from hyperfine) — wall time well above CPU time
# is time spent blocked (disk syncs, RCU grace periods, scheduling). No assertion on timings: figures only. The issue's
# targets are printed next to the figures (calyx <= 1.5x bwrap; calyx-exec's
# own peak RSS < 8 MiB).
#
# Peak RSS: GNU time's %M is ru_maxrss of the waited process *including*
# the descendants it reaped (Linux folds children's maxrss into wait4's
# rusage), so for calyx-exec it is max(calyx-exec, sandbox init, payload):
# an upper bound. calyx-exec's own figure is read from its
# /proc/PID/status (VmHWM) while it is stopped at exit_group (strace delays
# that syscall), i.e. after all of its work; and, for a command that sleeps
# 1 s, while it supervises the sandbox.
#
# Everything lives in build/bench/ (recreated each time): keys, keyring,
# policy (/usr/bin/true, /usr/bin/sleep), config (run_uid: default 65534),
# state dir, audit log, workspace, leases; results in build/bench/startup.txt.
# Missing tools are installed with apt-get (bubblewrap, hyperfine, time,
# strace); a peer whose tool is missing is skipped with the reason.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B="$ROOT/build"
D="$B/bench"
OUT="$D/startup.txt"
N=${BENCH_N:-40}
ROUNDS=${BENCH_ROUNDS:-3}
WARM=3

die() { echo "bench-startup: $*" >&2; exit 1; }
note() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || die "run as root (calyx-exec's configuration must be root-owned)"
case "$ROOT" in *[[:space:]]*) die "the checkout path has whitespace; hyperfine -N splits commands on it" ;; esac
[[ "$N" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_N and BENCH_ROUNDS must be positive integers"

# ---- tools ------------------------------------------------------------------
declare -A SKIP=() # peer -> why it did not run
apt_updated=0
# need CMD PACKAGE: install PACKAGE through apt if CMD is missing; 0 if present after.
need() {
	local cmd=$1 pkg=$2
	[ -x "$cmd" ] || command -v "$cmd" >/dev/null 2>&1 && return 0
	note "bench-startup: installing $pkg (apt-get)"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >"$D.apt.log" 2>&1; then
		if [ $apt_updated -eq 0 ]; then
			apt_updated=1
			apt-get update -q >>"$D.apt.log" 2>&1
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >>"$D.apt.log" 2>&1
		fi
	fi
	command -v "$cmd" >/dev/null 2>&1 && return 0
	note "bench-startup: could not install $pkg: $(tail -n 1 "$D.apt.log" 2>/dev/null)"
	return 1
}
mkdir -p "$B"
HAVE_HF=0 HAVE_TIME=0 HAVE_STRACE=0
need hyperfine hyperfine && HAVE_HF=1
need bwrap bubblewrap || { SKIP[bwrap]="bubblewrap is not installed and apt-get could not install it (see $D.apt.log)"; SKIP[bwrap+seccomp]=${SKIP[bwrap]}; }
need /usr/bin/time time && /usr/bin/time -f %M true >/dev/null 2>&1 && HAVE_TIME=1
need strace strace && HAVE_STRACE=1
command -v unshare >/dev/null 2>&1 || SKIP[unshare]="util-linux's unshare is missing"
[ -n "${BENCH_NO_HYPERFINE:-}" ] && HAVE_HF=0
[ $HAVE_HF -eq 1 ] || note "bench-startup: hyperfine unavailable: timing with bash's \$EPOCHREALTIME in a loop instead"

# ---- build ------------------------------------------------------------------
make -s all || die "build failed"
for b in calyx-exec calyx-lease calyx-policy; do [ -x "$B/$b" ] || die "$B/$b missing after make"; done
EXEC=$B/calyx-exec LEASE=$B/calyx-lease

# ---- the bench host -----------------------------------------------------------
MEM=/dev/shm/calyx-bench.$$ # calyx-memlog's state dir and audit log
cleanup() { rm -rf "$MEM"; }
trap cleanup EXIT
rm -rf "$D"
mkdir -p "$D/etc" "$D/keys" "$D/state" "$D/log" "$D/ws" "$D/leases" "$D/samples" || die "mkdir $D"
chmod 755 "$D" "$D/etc" "$D/log" "$D/ws" && chmod 700 "$D/keys" "$D/state"

q() { "$@" >/dev/null 2>"$D/err" || die "$* failed: $(head -n 3 "$D/err")"; }
q "$LEASE" keygen --role human --name alice --out "$D/keys"
q "$LEASE" keygen --role agent --name bot --out "$D/keys"
q "$LEASE" keygen --role agent --name host --out "$D/etc"
q "$LEASE" keyring add "$D/etc/keyring.json" "$D/keys/alice.pub.json"
q "$LEASE" keyring add "$D/etc/keyring.json" "$D/keys/bot.pub.json"
cat >"$D/etc/policy.json" <<JSON
{ "v": 1,
  "commands": ["/usr/bin/true", "/usr/bin/sleep"],
  "read":  ["/usr"],
  "write": ["$D/ws"],
  "env": {"allow": [], "set": {"PATH": "/usr/bin:/bin", "HOME": "/work"}},
  "limits": {"max":     {"cpu_ms": 600000, "memory_bytes": 2147483648, "pids": 512,
                         "wall_ms": 1800000, "nofile": 1024, "fsize_bytes": 1073741824,
                         "tmp_bytes": 268435456},
             "default": {"cpu_ms": 60000, "memory_bytes": 268435456, "pids": 64,
                         "wall_ms": 120000, "nofile": 256, "fsize_bytes": 104857600,
                         "tmp_bytes": 67108864}},
  "network": ["none"],
  "lease": {"max_lifetime_s": 3600, "clock_skew_s": 60, "require_audience": true},
  "syscalls": {"deny": []} }
JSON
# conf FILE STATE_DIR AUDIT_LOG
conf() {
	cat >"$1" <<JSON
{ "keyring": "$D/etc/keyring.json", "policy": "$D/etc/policy.json",
  "state_dir": "$2", "audit_log": "$3",
  "host_key": "$D/etc/host.key", "host_id": "bench-host" }
JSON
}
conf "$D/etc/calyx.conf" "$D/state" "$D/log/audit.jsonl"
chmod 644 "$D/etc/policy.json" "$D/etc/keyring.json" "$D/etc/calyx.conf"
q "$B/calyx-policy" check "$D/etc/policy.json"
CONF=$D/etc/calyx.conf

if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && mkdir -m 755 "$MEM" && mkdir -m 700 "$MEM/state"; then
	conf "$D/etc/calyx-memlog.conf" "$MEM/state" "$MEM/audit.jsonl"
	chmod 644 "$D/etc/calyx-memlog.conf"
else
	SKIP[calyx-memlog]="/dev/shm is not a tmpfs here"
fi

# mklease OUT [ARGV-JSON]: a signed lease (human + agent) for the bench host.
mklease() {
	local out=$1 argv=${2:-'["/usr/bin/true"]'}
	cat >"$out.body" <<JSON
{ "run_id": "bench-startup", "audience": "bench-host", "argv": $argv, "cwd": "/work",
  "workspace": "$D/ws", "paths": {"ro": ["/usr"], "rw": []}, "network": "none",
  "purpose": "startup benchmark" }
JSON
	q "$LEASE" new "$out.body" -o "$out" --policy "$D/etc/policy.json" --ttl 3000
	q "$LEASE" sign --key "$D/keys/alice.key" "$out"
	q "$LEASE" sign --key "$D/keys/bot.key" "$out"
	rm -f "$out.body"
}
TOTAL=$((ROUNDS * N))
note "bench-startup: signing $((TOTAL + WARM + 7)) leases (not timed)..."
t0=$EPOCHREALTIME
# The same lease file runs once on each host (calyx and calyx-memlog keep
# separate ledgers), so one pool serves both.
for i in $(seq 1 "$TOTAL"); do mklease "$D/leases/$i.lease"; done
for i in $(seq 1 "$WARM"); do mklease "$D/leases/w$i.lease"; done
mklease "$D/leases/dry.lease"
for i in 1 2 3; do mklease "$D/leases/rss-time$i.lease"; done
mklease "$D/leases/rss-exit.lease"
mklease "$D/leases/rss-sleep.lease" '["/usr/bin/sleep", "1"]'
mklease "$D/leases/strace.lease"
note "bench-startup: leases signed in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s"

# ---- peers --------------------------------------------------------------------
BWRAP_ARGS="--unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin --dev /dev --proc /proc --tmpfs /tmp --bind $D/ws /work --chdir /work --uid 65534 --gid 65534 --cap-drop ALL"
if [ -z "${SKIP[bwrap+seccomp]:-}" ]; then
	# shellcheck disable=SC2046 # pkg-config's flags are words
	if cc -std=gnu11 -D_GNU_SOURCE -O2 -Iinclude -Isandbox tests/bench/seccomp_bpf.c "$B/libcalyx.a" \
		$(pkg-config --libs libsodium jansson libseccomp libcap-ng) -Wl,--wrap=seccomp_load \
		-o "$D/seccomp_bpf" 2>"$D/err" && "$D/seccomp_bpf" "$D/calyx-seccomp.bpf" 2>>"$D/err"; then
		:
	else
		SKIP[bwrap+seccomp]="could not export calyx's seccomp filter: $(head -n 1 "$D/err")"
	fi
fi

PEERS=(calyx calyx-memlog calyx-dryrun calyx-version bwrap bwrap+seccomp unshare floor)
declare -A CMD=( # {i}: the lease number (hyperfine's --parameter-scan)
	[calyx]="$EXEC --config $CONF --lease $D/leases/{i}.lease"
	[calyx-memlog]="$EXEC --config $D/etc/calyx-memlog.conf --lease $D/leases/{i}.lease"
	[calyx-dryrun]="$EXEC --config $CONF --lease $D/leases/dry.lease --dry-run"
	[calyx-version]="$EXEC --version"
	[bwrap]="bwrap $BWRAP_ARGS /usr/bin/true"
	[bwrap+seccomp]="bwrap $BWRAP_ARGS --seccomp 9 /usr/bin/true 9<$D/calyx-seccomp.bpf"
	[unshare]="unshare --pid --fork --mount --net --ipc --uts --cgroup /usr/bin/true"
	[floor]="/usr/bin/true"
)
declare -A SHELLED=([bwrap+seccomp]=1) # needs a shell for its redirection

# run_once PEER I: one untimed run (sanity check and warm-up); 0 on success.
run_once() {
	local c=${CMD[$1]//\{i\}/$2}
	if [ -n "${SHELLED[$1]:-}" ]; then
		sh -c "$c" >/dev/null 2>"$D/err"
	else
		# shellcheck disable=SC2086 # word splitting is the point
		$c >/dev/null 2>"$D/err"
	fi
}

# timed PEER FIRST LAST: one sample per run (ms) appended to samples/PEER,
# the run's median to samples/PEER.rounds. 0 on success.
timed() {
	local p=$1 first=$2 last=$3 tmpl=${CMD[$1]} csv=$D/hf.csv i t0 t1 c
	local f=$D/samples/$p.txt rf=$D/samples/$p.round
	: >"$rf"
	if [ $HAVE_HF -eq 1 ]; then
		local mode=(-N)
		[ -n "${SHELLED[$p]:-}" ] && mode=(--shell sh)
		# One benchmark per parameter value, one run each (a lease runs
		# once); every peer is measured the same way. Columns: command,
		# mean,stddev,median,user,system,min,max,parameter_i.
		hyperfine "${mode[@]}" --runs 1 --style none --export-csv "$csv" \
			--parameter-scan i "$first" "$last" "$tmpl" >"$D/err" 2>&1 || return 1
		awk -F, 'NR > 1 { printf "%.4f\n", $(NF-7) * 1000 }' "$csv" >"$rf"
		awk -F, 'NR > 1 { printf "%.4f\n", ($(NF-4) + $(NF-3)) * 1000 }' "$csv" >>"$D/samples/$p.cpu"
	else
		for ((i = first; i <= last; i++)); do
			c=${tmpl//\{i\}/$i}
			if [ -n "${SHELLED[$p]:-}" ]; then
				t0=$EPOCHREALTIME; sh -c "$c" >/dev/null 2>"$D/err" || return 1; t1=$EPOCHREALTIME
			else
				# shellcheck disable=SC2086
				t0=$EPOCHREALTIME; $c >/dev/null 2>"$D/err" || return 1; t1=$EPOCHREALTIME
			fi
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) * 1000 }' >>"$rf"
		done
	fi
	cat "$rf" >>"$f"
	sort -g "$rf" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.2f\n", m }' >>"$D/samples/$p.rounds"
}

# Sanity + warm-up: each peer WARM times, untimed.
for p in "${PEERS[@]}"; do
	[ -n "${SKIP[$p]:-}" ] && continue
	for i in $(seq 1 "$WARM"); do
		if ! run_once "$p" "w$i"; then
			SKIP[$p]="does not run here: $(head -n 1 "$D/err")"
			break
		fi
	done
done
[ -n "${SKIP[calyx]:-}" ] && die "calyx-exec ${SKIP[calyx]}"

note "bench-startup: $ROUNDS rounds x ${#PEERS[@]} peers x $N runs..."
for ((r = 0; r < ROUNDS; r++)); do
	first=$((r * N + 1)) last=$(((r + 1) * N))
	for p in "${PEERS[@]}"; do
		[ -n "${SKIP[$p]:-}" ] && continue
		if ! timed "$p" "$first" "$last"; then
			SKIP[$p]="failed in round $((r + 1)): $(grep -v '^\s*$' "$D/err" | head -n 2 | tr '\n' ' ')"
			rm -f "$D/samples/$p.txt"
		fi
	done
	note "bench-startup: round $((r + 1))/$ROUNDS done"
done

# ---- figures ------------------------------------------------------------------
# stats FILE -> "median min max n"
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - - 0"; exit }
		m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.3f %.3f %.3f %d\n", m, v[1], v[NR], NR }'
}
declare -A MED=()
{
	echo "calyx-exec startup benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(uname -sr), $(nproc) CPUs; $(bwrap --version 2>/dev/null || echo 'no bwrap'); $([ $HAVE_HF -eq 1 ] && hyperfine --version || echo 'timer: bash EPOCHREALTIME loop (no hyperfine)')"
	echo "calyx: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); command /usr/bin/true; $ROUNDS interleaved rounds x $N runs per peer"
	echo
	printf '%-14s %9s  %-19s %4s  %6s   %s\n' peer median "min – max (ms)" n "cpu" "round medians (ms)"
	for p in "${PEERS[@]}"; do
		if [ -n "${SKIP[$p]:-}" ] || [ ! -s "$D/samples/$p.txt" ]; then
			printf '%-14s %9s  skipped: %s\n' "$p" - "${SKIP[$p]:-no samples}"
			continue
		fi
		read -r med mn mx n < <(stats "$D/samples/$p.txt")
		read -r cpu _ < <(stats "$D/samples/$p.cpu" 2>/dev/null)
		MED[$p]=$med
		[ "$cpu" = - ] || cpu=$(printf '%.2f' "$cpu")
		printf '%-14s %6.2f ms  %7.2f – %-7.2f   %4d  %6s   %s\n' "$p" "$med" "$mn" "$mx" "$n" "$cpu" \
			"$(tr '\n' ' ' <"$D/samples/$p.rounds")"
	done
	[ $HAVE_HF -eq 1 ] && echo "cpu: median user+system ms per run, with the children it reaped (hyperfine); wall well above it = blocked."
	echo "bwrap+seccomp goes through sh -c for its fd redirection; hyperfine subtracts the measured shell spawn time."
	echo "calyx's view also masks /proc (8 files, 4 dirs, 4 read-only) and remounts / and /dev read-only; bwrap's does less."
	echo
	ratio() { # A B NOTE
		[ -n "${MED[$1]:-}" ] && [ -n "${MED[$2]:-}" ] || return 0
		awk -v a="${MED[$1]}" -v b="${MED[$2]}" -v n="$1 / $2" -v l="$3" \
			'BEGIN { printf "  %-28s %5.2fx%s\n", n, a / b, l }'
	}
	echo "ratios of medians:"
	ratio calyx bwrap "   (target <= 1.50x)"
	ratio calyx bwrap+seccomp "   (bwrap with calyx's seccomp filter)"
	ratio calyx floor ""
	ratio calyx unshare ""
	ratio calyx-memlog bwrap "   (durable writes excluded)"
	if [ -n "${MED[calyx]:-}" ] && [ -n "${MED[calyx-memlog]:-}" ] && [ -n "${MED[calyx-dryrun]:-}" ] &&
		[ -n "${MED[calyx-version]:-}" ]; then
		awk -v c="${MED[calyx]}" -v m="${MED[calyx-memlog]}" -v d="${MED[calyx-dryrun]}" \
			-v v="${MED[calyx-version]}" -v f="${MED[floor]:-0}" 'BEGIN {
			printf "split of the calyx median (differences of medians, ms; noisy):\n"
			printf "  process start: exec + shared libraries     %6.2f   (calyx-version", v
			if (f > 0) printf "; fork+exec of true alone %.2f", f
			printf ")\n  config, keyring, policy, verify 2 sigs     %6.2f   (dryrun - version)\n", d - v
			printf "  consume, audit, monitor, sandbox, exec,    %6.2f   (memlog - dryrun)\n", m - d
			printf "    wait, cleanup\n"
			printf "  durable writes: 2 fsync + 5 fdatasync      %6.2f   (calyx - memlog)\n", c - m }'
	fi
} >"$OUT"

# ---- peak RSS -----------------------------------------------------------------
{
	echo
	echo "peak RSS (KiB):"
	if [ $HAVE_TIME -eq 1 ]; then
		# 3 runs each ({i}: a fresh lease each time); figures vary by a
		# few hundred KiB from run to run.
		for what in "calyx (full run, /usr/bin/true)|$EXEC --config $CONF --lease $D/leases/rss-time{i}.lease" \
			"calyx --dry-run|$EXEC --config $CONF --lease $D/leases/dry.lease --dry-run" \
			"bwrap (same view)|bwrap $BWRAP_ARGS /usr/bin/true"; do
			label=${what%%|*} tmpl=${what#*|} ms=() bad=""
			for i in 1 2 3; do
				c=${tmpl//\{i\}/$i}
				# shellcheck disable=SC2086
				m=$(/usr/bin/time -f %M $c 2>&1 >/dev/null | tail -n 1)
				if [[ "$m" =~ ^[0-9]+$ ]]; then ms+=("$m"); else bad=$m; break; fi
			done
			if [ -z "$bad" ]; then
				read -r lo hi < <(printf '%s\n' "${ms[@]}" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }')
				printf '  %-40s %13s   (GNU time %%M, 3 runs: max over it and the children it reaped)\n' "$label" "$lo-$hi"
			else
				printf '  %-40s  failed: %s\n' "$label" "$bad"
			fi
		done
	else
		echo "  GNU time: not available (apt-get install time failed)"
	fi
	# calyx-exec's own: VmHWM while stopped at exit_group (strace holds the
	# syscall 1 s), the sandbox already reaped.
	if [ $HAVE_STRACE -eq 1 ]; then
		strace -o /dev/null -e trace=exit_group -e inject=exit_group:delay_enter=1000000 \
			"$EXEC" --config "$CONF" --lease "$D/leases/rss-exit.lease" >/dev/null 2>"$D/err" &
		spid=$!
		hwm="" rss="" cpid=""
		for _ in $(seq 1 300); do # up to ~3 s
			[ -z "$cpid" ] && { read -r cpid _ <"/proc/$spid/task/$spid/children" || cpid=$(pgrep -P "$spid" | head -n 1); } 2>/dev/null
			if [ -n "$cpid" ] && [ -r "/proc/$cpid/status" ]; then
				while read -r k v _; do
					case $k in VmHWM:) hwm=$v ;; VmRSS:) rss=$v ;; esac
				done <"/proc/$cpid/status" 2>/dev/null
			fi
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.01
		done
		wait "$spid"; rc=$?
		if [ $rc -eq 0 ] && [ -n "$hwm" ]; then
			printf '  %-40s %13s   (VmHWM at exit_group; VmRSS then %s)\n' "calyx-exec itself, full run" "$hwm" "$rss"
		else
			printf '  %-40s  failed (exit %s): %s\n' "calyx-exec itself, full run" "$rc" "$(head -n 1 "$D/err")"
		fi
	else
		echo "  calyx-exec itself at exit: strace not available"
	fi
	# ...and while it supervises a command that sleeps 1 s.
	"$EXEC" --config "$CONF" --lease "$D/leases/rss-sleep.lease" >/dev/null 2>"$D/err" &
	epid=$!
	hwm="" rss=""
	for _ in $(seq 1 300); do
		if [ -r "/proc/$epid/status" ]; then
			while read -r k v _; do
				case $k in VmHWM:) [ -n "$v" ] && hwm=$v ;; VmRSS:) [ -n "$v" ] && rss=$v ;; esac
			done <"/proc/$epid/status" 2>/dev/null
		fi
		kill -0 "$epid" 2>/dev/null || break
		sleep 0.01
	done
	wait "$epid"; rc=$?
	if [ $rc -eq 0 ] && [ -n "$hwm" ]; then
		printf '  %-40s %13s   (VmHWM, last sample; VmRSS then %s)\n' "calyx-exec itself, supervising sleep 1" "$hwm" "$rss"
	else
		printf '  %-40s  failed (exit %s): %s\n' "calyx-exec itself, supervising sleep 1" "$rc" "$(head -n 1 "$D/err")"
	fi
	echo "  target: calyx-exec's own peak RSS < 8192 KiB"
} >>"$OUT"

# ---- where the time goes (traced: slow, but the shape shows) ------------------
if [ $HAVE_STRACE -eq 1 ]; then
	if strace -f -c -w -o "$D/strace-c.txt" "$EXEC" --config "$CONF" --lease "$D/leases/strace.lease" >/dev/null 2>"$D/err"; then
		{
			echo
			echo "syscalls of one full run, all processes, by wall time spent in them (strace -f -c -w; tracing inflates times):"
			awk 'NR > 2 && $1 ~ /^[0-9.]+$/ && n < 10 { n++; printf "  %-22s %5s calls  %7s us total\n", $NF, $4, int($2 * 1000000) }' "$D/strace-c.txt"
			echo "  (full table: $D/strace-c.txt)"
		} >>"$OUT"
	fi
fi

{
	echo
	echo "reproduce: scripts/bench-startup.sh   (BENCH_N=$N BENCH_ROUNDS=$ROUNDS)"
	echo "samples (ms, one per run): $D/samples/"
} >>"$OUT"
cat "$OUT"
