#!/usr/bin/env bash
# Startup cost of calyx-exec's whole pipeline, side by side with its peers.
#
#   scripts/bench-startup.sh [BUILD_DIR]   (as root; default build;
#                                           BENCH_N=40 BENCH_ROUNDS=3)
#
# Writes (lib-bench.sh): $BENCH_OUT/startup.md (section "## Startup") and
# $BENCH_OUT/startup.tsv (figures startup.*), BENCH_OUT defaulting to
# BUILD_DIR/bench; the chart docs/bench-startup.svg (gnuplot, skipped with
# a note when gnuplot is missing); a plain table on stdout. Its scratch
# files (keys, config, leases, bundles, samples) live in
# BUILD_DIR/bench/startup/, recreated each run.
#
# What is timed, each run a fresh process, /usr/bin/true as the command:
#   floor            /usr/bin/true: fork+exec+wait.
#   unshare          unshare --pid --fork --mount --net --ipc --uts --cgroup:
#                    the namespaces alone.
#   bwrap            bwrap --unshare-all (a user namespace too: its normal
#                    mode) with the view calyx builds: /usr ro, /lib* symlinks,
#                    /dev, /proc, /tmp, the workspace at /work, uid 65534.
#   bwrap-seccomp    the same with calyx's own seccomp filter (exported to
#                    BPF by tests/bench/seccomp_bpf.c) via --seccomp FD; the
#                    fd needs a redirection, so hyperfine runs this one
#                    through sh -c and subtracts its measured shell time.
#   crun             `crun run` of an OCI bundle (tests/bench/crun-config.json.in):
#                    the same view from mounts, 6 namespaces, no capabilities,
#                    no_new_privs, calyx's seccomp rules in OCI form (the same
#                    tool records them), calyx's rlimits, memory and pids
#                    cgroup limits. crun 1.8 refuses a hybrid cgroup host whose
#                    cgroup2 has any controller; there its hyperfine runs in a
#                    private mount namespace where that controller list reads
#                    empty (the host is left as it is).
#   firejail-default firejail --quiet /usr/bin/true: its default profile.
#   firejail-equiv   firejail --noprofile with the closest flags it has.
#   nsjail           when installed (Debian 12 does not package it).
#   calyx            calyx-exec --config C --lease LEASE_i: config, keyring,
#                    policy, host key; 2 Ed25519 signatures; consume (ledger
#                    + fsyncs); cgroups, BPF monitor; overlay workspace;
#                    namespaces, file view, Landlock, seccomp, exec, wait;
#                    commit/rollback of the empty upper; 6 signed audit
#                    lines, synced once (grouped fdatasync); result. Each
#                    lease runs once, so signed leases are
#                    made beforehand (not timed) and hyperfine scans over them.
#   calyx-memlog     the same with the ledger and the audit log on tmpfs:
#                    calyx minus calyx-memlog is what the durable writes cost.
#   calyx-dryrun     calyx-exec --dry-run: config + verify only.
#   calyx-version    calyx-exec --version: process start alone.
# Peers are interleaved (ROUNDS rounds, each peer N runs per round; the two
# firejail rows N/2, they are slow) on what may be a noisy VM. Per peer:
# median, min–max and 10th–90th percentiles over all runs, per-round
# medians, median CPU time per run (user+system with reaped children, from
# hyperfine): wall time well above CPU time is time spent blocked. Then:
# calyx's phase breakdown (timings_us of --result), peak RSS, strace -c.
# Figures only, no assertions; the issue's goals are printed beside them.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD_ARG=${1:-build}
case "$BUILD_ARG" in /*) BUILD=$BUILD_ARG ;; *) BUILD=$ROOT/$BUILD_ARG ;; esac # configs need absolute paths
export BENCH_OUT=${BENCH_OUT:-$BUILD/bench}
# shellcheck source=scripts/lib-bench.sh
. scripts/lib-bench.sh
D=$BUILD/bench/startup
N=${BENCH_N:-40}
ROUNDS=${BENCH_ROUNDS:-3}
NSLOW=$(((N + 1) / 2)) # firejail runs per round (25-60 ms each)
WARM=3
PHASE_RUNS=20
CHART=$ROOT/docs/bench-startup.svg


[ "$(id -u)" -eq 0 ] || die "run as root (calyx-exec's configuration must be root-owned)"
case "$BUILD" in *[[:space:]]*) die "the build path has whitespace; hyperfine -N splits commands on it" ;; esac
[[ "$N" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_N and BENCH_ROUNDS must be positive integers"
T_START=$EPOCHREALTIME

# ---- tools ------------------------------------------------------------------
mkdir -p "$BENCH_OUT" || die "mkdir $BENCH_OUT"
# One-line reasons, worded to follow "skipped:".
declare -A SKIP=()
# Every run is timed by hyperfine (its -N mode starts the command itself,
# no shell in between): without it there is no comparison to make.
need hyperfine hyperfine || die "hyperfine is missing and apt-get could not install it"
HAVE_TIME=0 HAVE_STRACE=0 HAVE_GNUPLOT=0
need bwrap bubblewrap || SKIP[bwrap]="bubblewrap is not installed and apt-get could not install it"
need crun crun || SKIP[crun]="crun is not installed and apt-get could not install it"
need firejail firejail || SKIP[firejail-default]="firejail is not installed and apt-get could not install it"
need /usr/bin/time time && /usr/bin/time -f %M true >/dev/null 2>&1 && HAVE_TIME=1
need strace strace && HAVE_STRACE=1
need gnuplot gnuplot-nox && HAVE_GNUPLOT=1
command -v unshare >/dev/null 2>&1 || SKIP[unshare]="util-linux's unshare is missing"
[ -n "${SKIP[bwrap]:-}" ] && SKIP[bwrap-seccomp]=${SKIP[bwrap]}
[ -n "${SKIP[firejail-default]:-}" ] && SKIP[firejail-equiv]=${SKIP[firejail-default]}
if ! command -v nsjail >/dev/null 2>&1; then
	# Say why honestly: offline here, or just not installed.
	if timeout 3 getent hosts github.com >/dev/null 2>&1; then
		SKIP[nsjail]="nsjail is not packaged in Debian 12: build it from github.com/google/nsjail and put it on PATH to compare"
	else
		SKIP[nsjail]="nsjail is not packaged in Debian 12 and this host has no network to build it"
	fi
fi

# ---- build ------------------------------------------------------------------
make -s BUILD="$BUILD_ARG" all || die "build failed"
for b in calyx-exec calyx-lease calyx-policy libcalyx.a; do [ -e "$BUILD/$b" ] || die "$BUILD/$b missing after make"; done
EXEC=$BUILD/calyx-exec LEASE=$BUILD/calyx-lease

# ---- the bench host -----------------------------------------------------------
MEM=/dev/shm/calyx-bench-startup.$$ # calyx-memlog's state dir and audit log
CRUN_STATE=/run/calyx-bench-crun.$$ # crun's --root: its state, on tmpfs as usual
rm -rf "$D"
mkdir -p "$D/etc" "$D/keys" "$D/state" "$D/log" "$D/ws" "$D/leases" "$D/samples" "$D/phases" || die "mkdir $D"
chmod 755 "$D" "$D/etc" "$D/log" "$D/ws" && chmod 700 "$D/keys" "$D/state"
# a workspace of a deploy user (1000, no account needed), not root's: calyx
# mounts it idmapped for the run's own uid (a root-owned one is refused)
chown 1000:1000 "$D/ws"

q() { "$@" >/dev/null 2>"$D/err" || die "$* failed: $(head -n 3 "$D/err")"; }
q "$LEASE" keygen --role human --name alice --out "$D/keys"
q "$LEASE" keygen --role agent --name bot --out "$D/keys"
q "$LEASE" keygen --role agent --name host --out "$D/etc"
q "$LEASE" keyring add "$D/etc/keyring.json" "$D/keys/alice.pub.json"
q "$LEASE" keyring add "$D/etc/keyring.json" "$D/keys/bot.pub.json"
bench_policy '["/usr/bin/true", "/usr/bin/sleep"]' "$D/ws" >"$D/etc/policy.json"
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
q "$BUILD/calyx-policy" check "$D/etc/policy.json"
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
t0=$EPOCHREALTIME
# One pool serves calyx and calyx-memlog: they keep separate ledgers, so
# each lease runs once on each.
for i in $(seq 1 "$TOTAL"); do mklease "$D/leases/$i.lease"; done
for i in $(seq 1 "$WARM"); do mklease "$D/leases/w$i.lease"; done
for i in $(seq 1 "$PHASE_RUNS"); do mklease "$D/leases/phase$i.lease"; done
mklease "$D/leases/dry.lease"
for i in 1 2 3; do mklease "$D/leases/rss-time$i.lease"; done
mklease "$D/leases/rss-exit.lease"
mklease "$D/leases/rss-sleep.lease" '["/usr/bin/sleep", "1"]'
mklease "$D/leases/strace.lease"
note "$((TOTAL + WARM + PHASE_RUNS + 7)) leases signed in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s (not timed)"

# ---- calyx's seccomp filter, as BPF (bwrap) and OCI rules (crun, nsjail) ------
SECCOMP_NOTE=""
# shellcheck disable=SC2046 # pkg-config's flags are words
if cc -std=gnu11 -D_GNU_SOURCE -O2 -Iinclude -Isandbox tests/bench/seccomp_bpf.c "$BUILD/libcalyx.a" \
	$(pkg-config --libs libsodium jansson libseccomp libcap-ng) \
	-Wl,--wrap=seccomp_init,--wrap=seccomp_rule_add_array \
	-o "$D/seccomp_bpf" 2>"$D/err" &&
	"$D/seccomp_bpf" "$D/calyx-seccomp.bpf" "$D/calyx-seccomp.oci.json" >"$D/seccomp.out" 2>>"$D/err"; then
	oci_rules=$(awk '$1 == "oci-rules" { print $2 }' "$D/seccomp.out")
	oci_skipped=$(awk '$1 == "oci-skipped" { printf "%s%s", s, $2; s = ", " }' "$D/seccomp.out")
	SECCOMP_NOTE="$oci_rules rules${oci_skipped:+; not expressible by name in OCI (this libseccomp has no name for them): syscall numbers $oci_skipped}"
else
	why="could not export calyx's seccomp filter: $(head -n 1 "$D/err")"
	SKIP[bwrap-seccomp]=${SKIP[bwrap-seccomp]:-$why}
	SKIP[crun]=${SKIP[crun]:-$why}
fi

# ---- peers' set-up ------------------------------------------------------------
BWRAP_ARGS="--unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin --dev /dev --proc /proc --tmpfs /tmp --bind $D/ws /work --chdir /work --uid 65534 --gid 65534 --cap-drop ALL"

# crun: a bundle whose rootfs is an empty skeleton (mount points and the
# /lib* symlinks); config.json mounts the rest, as bwrap does.
CRUN_NS=0 # 1: crun's hyperfine runs in a mount namespace hiding cgroup2's controllers
crun_ns() {
	if [ $CRUN_NS -eq 1 ]; then
		# shellcheck disable=SC2016 # $1 and $@ are the inner shell's
		unshare --mount --propagation private -- sh -c \
			'mount --bind "$1" /sys/fs/cgroup/unified/cgroup.controllers && shift && exec "$@"' \
			sh "$D/crun/no-controllers" "$@"
	else
		"$@"
	fi
}
if [ -z "${SKIP[crun]:-}" ]; then
	mkdir -p "$D/crun/rootfs/usr" "$D/crun/rootfs/dev" "$D/crun/rootfs/proc" "$D/crun/rootfs/tmp" "$D/crun/rootfs/work"
	for l in lib lib64 bin sbin; do ln -s "usr/$l" "$D/crun/rootfs/$l"; done
	awk -v r="$D/crun/rootfs" -v w="$D/ws" -v sf="$D/calyx-seccomp.oci.json" '
		/@SECCOMP@/ { sub(/@SECCOMP@.*/, ""); printf "%s", $0; while ((getline l < sf) > 0) print l; next }
		{ gsub(/@ROOTFS@/, r); gsub(/@WORKSPACE@/, w); print }' \
		tests/bench/crun-config.json.in >"$D/crun/config.json"
	# crun 1.8 (libcrun_cgroup_enter) refuses a hybrid host (cgroup v1
	# controllers, cgroup2 at /sys/fs/cgroup/unified) unless cgroup2's
	# cgroup.controllers is empty, whatever --cgroup-manager says. Rather
	# than move controllers on the host, hide the list from crun alone.
	uc=/sys/fs/cgroup/unified/cgroup.controllers
	if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] && [ -r "$uc" ] && [ -n "$(cat "$uc")" ]; then
		CRUN_NS=1
		: >"$D/crun/no-controllers"
		CRUN_HYBRID_NOTE="this host is hybrid (cgroup v1 controllers, cgroup2 at /sys/fs/cgroup/unified with '$(tr '\n' ' ' <"$uc" | sed 's/ *$//')'), which crun 1.8 refuses (\"cgroups in hybrid mode not supported, drop all controllers from cgroupv2\", with any --cgroup-manager); rather than drop them on the host, crun's runs see an empty cgroup2 controller list (a private mount namespace around its hyperfine, outside the timed runs); its memory and pids limits are set in the v1 hierarchies"
	fi
fi
CRUN_HYBRID_NOTE=${CRUN_HYBRID_NOTE:-}

# nsjail (when installed): calyx's unconditional denies as a kafel policy.
# kafel names two syscalls its own way (sysctl, umount: libseccomp's
# _sysctl, umount2), and refuses a policy with a name it does not know.
NSJAIL_POLICY="POLICY calyx { ERRNO(1) { $(jq -r '[.syscalls[] | select(.args == null and .errnoRet == 1) | .names[0] | sub("^_sysctl$"; "sysctl") | sub("^umount2$"; "umount")] | unique | join(", ")' "$D/calyx-seccomp.oci.json" 2>/dev/null) } } USE calyx DEFAULT ALLOW"
# Its cgroup limits go in a parent cgroup that must exist (nsjail's
# default, NSJAIL, does not): one of the bench's own, removed at exit. On
# a v2 host, a cgroup2 parent with memory and pids delegated to children;
# else (v1, hybrid) the v1 memory and pids hierarchies.
NSJAIL_CG=calyx-bench-nsjail-$$
NSJAIL_CGARGS=""
if command -v nsjail >/dev/null 2>&1; then
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		if mkdir -p "/sys/fs/cgroup/$NSJAIL_CG" &&
			echo "+memory +pids" >"/sys/fs/cgroup/$NSJAIL_CG/cgroup.subtree_control"; then
			NSJAIL_CGARGS="--use_cgroupv2 --cgroupv2_mount /sys/fs/cgroup/$NSJAIL_CG"
		else
			SKIP[nsjail]="cannot make a cgroup2 parent with memory and pids for nsjail's limits"
		fi
	elif mkdir -p "/sys/fs/cgroup/memory/$NSJAIL_CG" "/sys/fs/cgroup/pids/$NSJAIL_CG"; then
		NSJAIL_CGARGS="--cgroup_mem_parent $NSJAIL_CG --cgroup_pids_parent $NSJAIL_CG"
	else
		SKIP[nsjail]="cannot make v1 memory and pids parents for nsjail's limits"
	fi
fi

PEERS=(floor unshare bwrap bwrap-seccomp crun firejail-default firejail-equiv nsjail calyx calyx-memlog calyx-dryrun calyx-version)
declare -A CMD=( # {i}: the run number (hyperfine's --parameter-scan)
	[floor]="/usr/bin/true"
	[unshare]="unshare --pid --fork --mount --net --ipc --uts --cgroup /usr/bin/true"
	[bwrap]="bwrap $BWRAP_ARGS /usr/bin/true"
	[bwrap-seccomp]="bwrap $BWRAP_ARGS --seccomp 9 /usr/bin/true 9<$D/calyx-seccomp.bpf"
	[crun]="crun --root $CRUN_STATE run --bundle $D/crun bench-{i}"
	[firejail-default]="firejail --quiet /usr/bin/true"
	[firejail-equiv]="firejail --quiet --noprofile --net=none --ipc-namespace --hostname=calyx-bench --seccomp --caps.drop=all --nonewprivs --private-tmp --private-dev --private=$D/ws --rlimit-nofile=256 --rlimit-fsize=104857600 /usr/bin/true"
	[nsjail]="nsjail --mode o --really_quiet --user 65534 --group 65534 --hostname calyx-bench --cwd /work --bindmount_ro /usr --symlink usr/lib:/lib --symlink usr/lib64:/lib64 --symlink usr/bin:/bin --symlink usr/sbin:/sbin --tmpfsmount /tmp --bindmount $D/ws:/work --rlimit_nofile 256 --rlimit_fsize 100 --cgroup_mem_max 268435456 --cgroup_pids_max 64 $NSJAIL_CGARGS --time_limit 0 --seccomp_policy $D/nsjail.kafel -- /usr/bin/true"
	[calyx]="$EXEC --config $CONF --lease $D/leases/{i}.lease"
	[calyx-memlog]="$EXEC --config $D/etc/calyx-memlog.conf --lease $D/leases/{i}.lease"
	[calyx-dryrun]="$EXEC --config $CONF --lease $D/leases/dry.lease --dry-run"
	[calyx-version]="$EXEC --version"
)
declare -A WHAT=( # the table's "what it does" column
	[floor]="fork+exec+wait of /usr/bin/true, no isolation"
	[unshare]="pid, mnt, net, ipc, uts, cgroup namespaces; nothing else"
	[bwrap]="--unshare-all (+ user ns), same file view, uid 65534, no capabilities"
	[bwrap-seccomp]="bwrap + calyx's own seccomp filter (BPF)"
	[crun]="OCI bundle: same view, 6 namespaces, no caps, NNP, calyx's seccomp rules, rlimits, memory+pids cgroup limits"
	[firejail-default]="firejail's default profile"
	[firejail-equiv]="--noprofile, net none, ipc, uts, seccomp, no caps, NNP, private /tmp /dev, workspace as home, rlimits"
	[nsjail]="same view, namespaces, calyx's plain denies (kafel), rlimits, cgroup limits"
	[calyx]="the whole pipeline (see below)"
	[calyx-memlog]="calyx with ledger and audit log on tmpfs (no sync cost)"
	[calyx-dryrun]="--dry-run: config + 2 signatures, nothing run"
	[calyx-version]="--version: process start alone"
)
declare -A SHELLED=([bwrap-seccomp]=1) # needs a shell for its redirection
declare -A RUNS=([firejail-default]=$NSLOW [firejail-equiv]=$NSLOW)
declare -A WRAP=([crun]=crun_ns) # what hyperfine itself runs under

# argv PEER I: the command of PEER for run I, as words in ARGV.
argv() {
	# shellcheck disable=SC2206 # word splitting is the point (no globs in commands)
	ARGV=(${CMD[$1]//\{i\}/$2})
}
printf '%s\n' "$NSJAIL_POLICY" >"$D/nsjail.kafel"

# run_once PEER I: one untimed run (sanity check and warm-up); 0 on success.
run_once() {
	if [ -n "${SHELLED[$1]:-}" ]; then
		sh -c "${CMD[$1]//\{i\}/$2}" >/dev/null 2>"$D/err"
	else
		argv "$1" "$2"
		${WRAP[$1]:-} "${ARGV[@]}" >/dev/null 2>"$D/err"
	fi
}

# timed PEER FIRST LAST: one sample (ms) per run appended to samples/PEER.txt,
# its CPU time to samples/PEER.cpu, the round's median to samples/PEER.rounds.
timed() {
	local p=$1 first=$2 last=$3 csv=$D/hf.csv rf=$D/samples/$1.round mode=(-N)
	[ -n "${SHELLED[$p]:-}" ] && mode=(--shell sh)
	# One benchmark per parameter value, one run each (a lease runs once,
	# a container id is used once); every peer is measured the same way.
	# CSV columns: command,mean,stddev,median,user,system,min,max,parameter_i
	# (counted from the end: a command may be quoted).
	${WRAP[$p]:-} hyperfine "${mode[@]}" --runs 1 --style none --export-csv "$csv" \
		--parameter-scan i "$first" "$last" "${CMD[$p]}" >"$D/err" 2>&1 || return 1
	awk -F, 'NR > 1 { printf "%.4f\n", $(NF-7) * 1000 }' "$csv" >"$rf"
	awk -F, 'NR > 1 { printf "%.4f\n", ($(NF-4) + $(NF-3)) * 1000 }' "$csv" >>"$D/samples/$p.cpu"
	cat "$rf" >>"$D/samples/$p.txt"
	read -r m _ < <(stats "$rf")
	printf '%.2f\n' "$m" >>"$D/samples/$p.rounds"
}

# pct FILE P: the P-th percentile (nearest rank) of one number per line.
pct() {
	sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1; if (k > NR) k = NR
		printf "%.3f\n", v[k] }'
}

cleanup() {
	if [ -d "$CRUN_STATE" ]; then # containers of a failed run, if any
		for id in $(crun --root "$CRUN_STATE" list -q 2>/dev/null); do
			crun_ns crun --root "$CRUN_STATE" delete -f "$id" >/dev/null 2>&1
		done
	fi
	rm -rf "$MEM" "$CRUN_STATE"
	# nsjail's parents (its own per-run children are gone with their runs)
	for c in "/sys/fs/cgroup/$NSJAIL_CG" "/sys/fs/cgroup/memory/$NSJAIL_CG" "/sys/fs/cgroup/pids/$NSJAIL_CG"; do
		[ -d "$c" ] && rmdir "$c" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

# Sanity + warm-up: each peer WARM times, untimed.
for p in "${PEERS[@]}"; do
	[ -n "${SKIP[$p]:-}" ] && continue
	for i in $(seq 1 "$WARM"); do
		if ! run_once "$p" "w$i"; then
			SKIP[$p]="does not run here: $(grep -v '^[[:space:]]*$' "$D/err" | head -n 1)"
			break
		fi
	done
done
[ -n "${SKIP[calyx]:-}" ] && die "calyx-exec ${SKIP[calyx]}"

note "$ROUNDS rounds x ${#PEERS[@]} peers x $N runs ($NSLOW for firejail)..."
for ((r = 0; r < ROUNDS; r++)); do
	for p in "${PEERS[@]}"; do
		[ -n "${SKIP[$p]:-}" ] && continue
		n=${RUNS[$p]:-$N}
		if ! timed "$p" $((r * n + 1)) $(((r + 1) * n)); then
			SKIP[$p]="failed in round $((r + 1)): $(grep -v '^[[:space:]]*$' "$D/err" | head -n 2 | tr '\n' ' ')"
			rm -f "$D/samples/$p.txt"
		fi
	done
	note "round $((r + 1))/$ROUNDS done"
done

# ---- figures ------------------------------------------------------------------
bench_section startup
declare -A MED=() MIN=() MAX=() P10=() P90=() CPU=() CNT=()
for p in "${PEERS[@]}"; do
	if [ -z "${SKIP[$p]:-}" ] && [ ! -s "$D/samples/$p.txt" ]; then SKIP[$p]="no samples"; fi
	if [ -n "${SKIP[$p]:-}" ]; then
		for f in median min max; do figure "startup.$p.${f}_ms" - ms "skipped: ${SKIP[$p]}"; done
		continue
	fi
	read -r "MED[$p]" "MIN[$p]" "MAX[$p]" "CNT[$p]" < <(stats "$D/samples/$p.txt")
	read -r "CPU[$p]" _ < <(stats "$D/samples/$p.cpu")
	P10[$p]=$(pct "$D/samples/$p.txt" 10)
	P90[$p]=$(pct "$D/samples/$p.txt" 90)
	figure "startup.$p.median_ms" "${MED[$p]}" ms "${CNT[$p]} runs in $ROUNDS interleaved rounds"
	figure "startup.$p.min_ms" "${MIN[$p]}" ms
	figure "startup.$p.max_ms" "${MAX[$p]}" ms
done
m() { echo "${MED[$1]:--}"; }
figure startup.ratio.calyx_over_bwrap "$(ratio "$(m calyx)" "$(m bwrap)")" x "goal <= 1.5"
figure startup.ratio.calyx_over_nsjail "$(ratio "$(m calyx)" "$(m nsjail)")" x "goal <= 1.2${SKIP[nsjail]:+ (nsjail skipped)}"
figure startup.ratio.firejail-default_over_calyx "$(ratio "$(m firejail-default)" "$(m calyx)")" x "goal >= 5"

HOST=$(machine_line)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
REV=$(code_rev "$ROOT")
versions="hyperfine $(hyperfine --version | awk '{ print $2 }')"
command -v bwrap >/dev/null && versions+=", bubblewrap $(bwrap --version | awk '{ print $2 }')"
command -v crun >/dev/null && versions+=", crun $(crun --version | awk 'NR == 1 { print $3 }')"
command -v firejail >/dev/null && versions+=", firejail $(firejail --version | awk 'NR == 1 { print $3 }')"
command -v nsjail >/dev/null && versions+=", nsjail"

md "## Startup"
md
md "calyx-exec running \`/usr/bin/true\` through its whole pipeline, against its peers doing the same run, $DATE."
md "Machine: $HOST. calyx $REV; $versions."
md "Each peer ran $N times per round (firejail: $NSLOW, it is slow) in $ROUNDS interleaved rounds, one hyperfine benchmark per run (a lease and a container id serve once), after $WARM untimed warm-up runs."
md
md "| peer | what it does | runs | median ms | min–max ms | calyx / peer | peer / floor | CPU ms | round medians ms |"
md "|---|---|--:|--:|--:|--:|--:|--:|---|"
for p in "${PEERS[@]}"; do
	if [ -n "${SKIP[$p]:-}" ]; then
		md "| $p | ${WHAT[$p]} | – | skipped: ${SKIP[$p]//|/\\|} | | | | | |"
		continue
	fi
	md "| $p | ${WHAT[$p]} | ${CNT[$p]} | $(printf '%.2f' "${MED[$p]}") | $(printf '%.2f–%.2f' "${MIN[$p]}" "${MAX[$p]}") | $(ratio "$(m calyx)" "${MED[$p]}") | $(ratio "${MED[$p]}" "$(m floor)") | $(printf '%.2f' "${CPU[$p]}") | $(tr '\n' ' ' <"$D/samples/$p.rounds" | sed 's/ *$//') |"
done
md
md "CPU: median user+system time per run, including the children the peer reaped (hyperfine); wall time well above it is time spent blocked (disk syncs, RCU grace periods, scheduling). bwrap-seccomp runs through \`sh -c\` for its fd redirection; hyperfine subtracts the measured shell spawn time."
md
md "Goals (issue 8), from the medians above: calyx / bwrap = **$(ratio "$(m calyx)" "$(m bwrap)")** (goal ≤ 1.5); calyx / nsjail = **$(ratio "$(m calyx)" "$(m nsjail)")** (goal ≤ 1.2${SKIP[nsjail]:+; nsjail not run}); firejail default / calyx = **$(ratio "$(m firejail-default)" "$(m calyx)")** (goal ≥ 5)."
md
md "**What each peer does, and does not do, compared with calyx.** calyx verifies two Ed25519 signatures and the policy, consumes the lease durably (ledger file + fsyncs), creates the run's cgroups (memory, pids, CPU budget) and attaches its BPF monitor, mounts an overlay workspace, enters pid, mnt, net, ipc, uts and cgroup namespaces, builds its file view (/usr read-only, /lib* symlinks, /dev, /proc with 8 files and 4 directories masked and 4 read-only, /tmp, the workspace at /work; / and /dev remounted read-only), applies rlimits, drops to uid 65534 with no capabilities, enforces Landlock and seccomp, execs, waits, commits the (empty) upper (nothing to land: no pack, no sync) and appends 6 signed, chained audit lines, synced once (grouped fdatasync). None of the peers verifies, consumes, audits or keeps a transactional workspace."
md "- unshare: the namespaces only (no user namespace, no view, no seccomp, runs as root)."
md "- bwrap: the same file view and uid, a user namespace as well (its normal mode), all capabilities dropped; no seccomp, no limits, no /proc masking, no Landlock. bwrap-seccomp adds calyx's own filter, the very BPF program calyx loads."
md "- crun: the same view from config.json mounts (root read-only, /usr bind ro, proc, /dev tmpfs with crun's default devices, /tmp tmpfs of calyx's tmp size, the workspace at /work), the same 6 namespaces, uid 65534, no capabilities, no_new_privs, calyx's rlimits, memory (256 MiB) and pids (64) cgroup limits, Docker-style masked and read-only /proc paths, and calyx's seccomp rules translated to the OCI seccomp section rule for rule by the same tool (\`defaultAction\` SCMP_ACT_ALLOW with ERRNO rules and argument checks, as calyx's filter is a denylist: ${SECCOMP_NOTE:-not exported}). No Landlock, no CPU budget, no BPF monitor.${CRUN_HYBRID_NOTE:+ Cgroups: $CRUN_HYBRID_NOTE.}"
md "- firejail-default: what a firejail user gets: its default profile (a blacklist over the host's own filesystem, its seccomp list, capabilities dropped, namespaces). firejail-equiv: \`--noprofile\` plus net none, ipc and uts namespaces, its default seccomp list, no capabilities, no_new_privs, private /tmp and /dev, the workspace as home, rlimits nofile and fsize. firejail keeps the host's root visible (it has no /usr-only view short of a full chroot tree), has no cgroup namespace and no cgroup limits."
nsjail_does="same view (/usr ro, /lib* symlinks, /tmp tmpfs, workspace at /work), its namespaces (user included), uid 65534, rlimits, memory and pids cgroup limits, and calyx's argument-free denies as a kafel policy (no argument checks). On a v1 or hybrid host nsjail writes the child's pid into each v1 hierarchy's tasks file, and each such move waits for an RCU grace period: where nsjail was built from source on this machine kind (2026-12-07) it took 5.95 ms without cgroup limits and 12.6 ms with v1 limits"
md "- nsjail: ${SKIP[nsjail]:-$nsjail_does}."
md

# ---- the calyx median, split (differences of medians) ---------------------------
if [ -n "${MED[calyx]:-}" ] && [ -n "${MED[calyx-memlog]:-}" ] && [ -n "${MED[calyx-dryrun]:-}" ] && [ -n "${MED[calyx-version]:-}" ]; then
	split=$(awk -v c="${MED[calyx]}" -v mm="${MED[calyx-memlog]}" -v d="${MED[calyx-dryrun]}" -v v="${MED[calyx-version]}" \
		'BEGIN { printf "%.2f %.2f %.2f %.2f", v, d - v, mm - d, c - mm }')
	read -r s_start s_verify s_run s_sync <<<"$split"
	md "The calyx median, split by the diagnostic rows (differences of medians, noisy): process start (exec, shared libraries) $s_start ms; config, keyring, policy and 2 signatures $s_verify ms; consume, monitor, workspace, sandbox, exec, wait, audit and cleanup without syncs $s_run ms; the durable writes (ledger claim: file and directory fsync; audit: one grouped fdatasync) $s_sync ms."
	md
fi

# ---- phase breakdown (calyx-exec's own timings_us) ------------------------------
# ---- the cgroup v1 join (hybrid hosts) -----------------------------------------
# On a host with cgroup v1 controllers (like this CI kind), each run's
# sandbox must enter v1 hierarchies. Another process writing its pid into
# cgroup.procs can wait for an RCU grace period (the kernel's global
# cgroup_threadgroup_rwsem) unless the host favours dynamic cgroup changes
# (cgroup2 mount option favordynmods); a process writing "0" into tasks
# itself, as calyx's sandbox init does, takes no such lock. Both measured
# here with tests/bench/cgjoin.c, 20 of each, interleaved, 20 ms apart.
md "### The cgroup v1 join on this host"
md
CGJ=$BUILD/benchbin/cgjoin
FDM=$(awk '$3 == "cgroup2" { print ($4 ~ /favordynmods/) ? "on" : "off"; exit }' /proc/mounts)
if [ ! -d /sys/fs/cgroup/pids ] || [ "$(stat -f -c %T /sys/fs/cgroup/pids 2>/dev/null)" != cgroupfs ]; then
	md "No cgroup v1 pids hierarchy here (a pure cgroup2 host): the sandbox enters its cgroup with CLONE_INTO_CGROUP, no write."
	figure startup.v1_join_ms - ms "no cgroup v1 hierarchy on this host"
	figure startup.v1_pidjoin_ms - ms "no cgroup v1 hierarchy on this host"
elif [ -x "$CGJ" ] && read -r PMED PMAX JMED JMAX < <("$CGJ" 20 2>"$D/err"); then
	md "Moving a process into a v1 hierarchy, median (max) of 20 moves each, interleaved, 20 ms apart; cgroup2's favordynmods option as /proc/mounts shows it: $FDM."
	md
	md "| how | median | max |"
	md "|---|---|---|"
	md "| the process writes \"0\" into \`tasks\` itself (calyx's sandbox init, for each v1 hierarchy of the run) | **$JMED ms** | $JMAX ms |"
	md "| another process writes its pid into \`cgroup.procs\` (how a supervisor usually does it, crun too; calyx-exec did so until 2026-11-22) | $PMED ms | $PMAX ms |"
	md
	md "Moving another process takes the kernel's global cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period unless the kernel favours dynamic cgroup changes (on a host that never had favordynmods, about 13 ms per write was seen); a single-threaded process moving itself takes no such lock. bwrap, unshare and firejail-equiv join no cgroup; crun joins v1 hierarchies by pid (the second row)."
	figure startup.v1_join_ms "$JMED" ms "self-join (\"0\" into tasks), median of 20 (max $JMAX); favordynmods $FDM"
	figure startup.v1_pidjoin_ms "$PMED" ms "pid into cgroup.procs by another process, median of 20 (max $PMAX); favordynmods $FDM"
else
	md "The v1 join could not be measured: $(head -n 1 "$D/err" 2>/dev/null)"
	figure startup.v1_join_ms - ms "cgjoin failed"
	figure startup.v1_pidjoin_ms - ms "cgjoin failed"
fi
md

md "### Phase breakdown"
md
: >"$D/phases/all.tsv"
: >"$D/phases/moncpu"
have_t=0 ok_runs=0 first_json="" idle=""
for i in $(seq 1 "$PHASE_RUNS"); do
	"$EXEC" --config "$CONF" --lease "$D/leases/phase$i.lease" --result "$D/phases/$i.json" >/dev/null 2>"$D/err" || continue
	ok_runs=$((ok_runs + 1))
	if jq -e '.timings_us | type == "object"' "$D/phases/$i.json" >/dev/null 2>&1; then
		[ $have_t -eq 1 ] || first_json=$D/phases/$i.json
		have_t=1
		jq -r '.timings_us | to_entries[] | "\(.key)\t\(.value)"' "$D/phases/$i.json" >>"$D/phases/all.tsv"
	fi
	jq -r '.cpu_us.monitor // empty' "$D/phases/$i.json" >>"$D/phases/moncpu" 2>/dev/null
done
# The CPU calyx-exec spends arming the BPF monitor (result cpu_us.monitor;
# it overlaps the sandbox's build in wall time): issue 16's monitor goal.
if [ -s "$D/phases/moncpu" ]; then
	read -r mc mcmin mcmax _ < <(stats "$D/phases/moncpu")
	figure startup.calyx.monitor_cpu_us "$mc" us "median of $(grep -c . "$D/phases/moncpu") runs (min $mcmin, max $mcmax): CPU calyx-exec spent arming the BPF monitor; goal <= 200"
fi
if [ $have_t -eq 1 ]; then
	# Phases in calyx-exec's own order (the first result's), "total" last.
	mapfile -t phases < <(jq -r '.timings_us | keys_unsorted[]' "$first_json")
	awk -F'\t' -v t=total '$1 == t { print $2 }' "$D/phases/all.tsv" >"$D/phases/total"
	read -r tot _ < <(stats "$D/phases/total")
	md "calyx-exec's own phase timers (\`timings_us\` in the result of \`--result FILE\`; \`calyx-exec --timings\` prints them), $ok_runs runs on fresh leases after the timed rounds: medians per phase, in µs, and each median's share of the median total. The timers are exclusive and add up to the run, from main's first line to the result write; process start before main is not in them."
	md
	md "| phase | median µs | min–max µs | share of total |"
	md "|---|--:|--:|--:|"
	for ph in "${phases[@]}"; do
		awk -F'\t' -v k="$ph" '$1 == k { print $2 }' "$D/phases/all.tsv" >"$D/phases/one"
		read -r pm pmin pmax _ < <(stats "$D/phases/one")
		[[ "$ph" =~ ^[a-z0-9_.+-]+$ ]] && figure "startup.phase.$ph.median_us" "$pm" us
		# A phase no run entered (halt, on a clean run) only lengthens the table.
		if [ "$pmax" = 0.000 ]; then
			idle+="${idle:+, }$ph"
			continue
		fi
		share=$(awk -v a="$pm" -v b="$tot" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else print "-" }')
		[ "$ph" = total ] && share=""
		md "| $ph | $(printf '%.0f' "$pm") | $(printf '%.0f–%.0f' "$pmin" "$pmax") | $share |"
	done
	md
	[ -n "$idle" ] && md "Not entered in any of these runs (0 µs): $idle." && md
elif [ $ok_runs -eq 0 ]; then
	md "Not measured: calyx-exec --result failed: $(head -n 1 "$D/err")."
	md
else
	md "This build does not report phase timings yet (its result JSON has no \`timings_us\`)."
	md
fi

# ---- peak RSS -----------------------------------------------------------------
md "### Peak memory"
md
md "| what | peak RSS KiB | how |"
md "|---|--:|---|"
if [ $HAVE_TIME -eq 1 ]; then
	# GNU time's %M is ru_maxrss of the waited process *including* the
	# descendants it reaped, so for calyx-exec it is max(calyx-exec,
	# sandbox init, payload): an upper bound. 3 runs each.
	for what in "calyx (full run)|$EXEC --config $CONF --lease $D/leases/rss-time{i}.lease" \
		"calyx --dry-run|$EXEC --config $CONF --lease $D/leases/dry.lease --dry-run" \
		"bwrap (same view)|bwrap $BWRAP_ARGS /usr/bin/true"; do
		label=${what%%|*} tmpl=${what#*|} ms=() bad=""
		[ "$label" = "bwrap (same view)" ] && [ -n "${SKIP[bwrap]:-}" ] && continue
		for i in 1 2 3; do
			# shellcheck disable=SC2086 # word splitting is the point
			mk=$(/usr/bin/time -f %M ${tmpl//\{i\}/$i} 2>&1 >/dev/null | tail -n 1)
			if [[ "$mk" =~ ^[0-9]+$ ]]; then ms+=("$mk"); else bad=$mk; break; fi
		done
		if [ -z "$bad" ]; then
			read -r lo hi < <(printf '%s\n' "${ms[@]}" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }')
			md "| $label | $lo–$hi | GNU time %M, 3 runs: the process and the children it reaped |"
		else
			md "| $label | – | GNU time failed: ${bad//|/\\|} |"
		fi
	done
fi
# calyx-exec's own: VmHWM while stopped at exit_group (strace holds the
# syscall 1 s), i.e. after all of its work, the sandbox already reaped.
RSS_EXIT=- RSS_SUP=-
if [ $HAVE_STRACE -eq 1 ]; then
	strace -o /dev/null -e trace=exit_group -e inject=exit_group:delay_enter=1000000 \
		"$EXEC" --config "$CONF" --lease "$D/leases/rss-exit.lease" >/dev/null 2>"$D/err" &
	spid=$!
	hwm="" cpid=""
	for _ in $(seq 1 300); do # up to ~3 s
		[ -z "$cpid" ] && { read -r cpid _ <"/proc/$spid/task/$spid/children" || cpid=$(pgrep -P "$spid" | head -n 1); } 2>/dev/null
		if [ -n "$cpid" ] && [ -r "/proc/$cpid/status" ]; then
			v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$cpid/status" 2>/dev/null)
			[ -n "$v" ] && hwm=$v
		fi
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.01
	done
	wait "$spid" && [ -n "$hwm" ] && RSS_EXIT=$hwm
fi
# ...and while it supervises a command that sleeps 1 s.
"$EXEC" --config "$CONF" --lease "$D/leases/rss-sleep.lease" >/dev/null 2>"$D/err" &
epid=$!
hwm=""
for _ in $(seq 1 300); do
	v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$epid/status" 2>/dev/null)
	[ -n "$v" ] && hwm=$v
	kill -0 "$epid" 2>/dev/null || break
	sleep 0.01
done
wait "$epid" && [ -n "$hwm" ] && RSS_SUP=$hwm
md "| calyx-exec itself, full run | $RSS_EXIT | VmHWM while stopped at exit_group (strace delays it), after all its work |"
md "| calyx-exec itself, supervising \`sleep 1\` | $RSS_SUP | VmHWM, last sample while it supervises |"
md
md "Goal: calyx-exec's own peak RSS ≤ 8 MiB (8192 KiB)."
md
figure startup.calyx_rss_kib "$RSS_EXIT" KiB "VmHWM of calyx-exec at exit_group, full run$([ "$RSS_EXIT" = - ] && echo ': not measured (strace missing or the run failed)')"
figure startup.calyx_rss_supervising_kib "$RSS_SUP" KiB "VmHWM of calyx-exec while it supervises sleep 1$([ "$RSS_SUP" = - ] && echo ': not measured')"

# ---- where the time goes (traced: slow, but the shape shows) ------------------
if [ $HAVE_STRACE -eq 1 ] &&
	strace -f -c -w -o "$D/strace-c.txt" "$EXEC" --config "$CONF" --lease "$D/leases/strace.lease" >/dev/null 2>"$D/err"; then
	md "<details><summary>Syscalls of one full calyx run (strace -f -c -w: all processes, by wall time in them; tracing inflates times)</summary>"
	md
	md "| syscall | calls | total µs |"
	md "|---|--:|--:|"
	while read -r sc calls us; do md "| $sc | $calls | $us |"; done < <(
		awk 'NR > 2 && $1 ~ /^[0-9.]+$/ && n < 10 { n++; print $NF, $4, int($2 * 1000000) }' "$D/strace-c.txt")
	md
	md "</details>"
	md
fi

md "Reproduce: \`make bench-startup\` (or \`scripts/bench-startup.sh BUILD_DIR\`; BENCH_N=$N BENCH_ROUNDS=$ROUNDS); samples (ms, one per run) in \`$BUILD_ARG/bench/startup/samples/\`."

# ---- the chart ------------------------------------------------------------------
# Horizontal bars (median), whiskers p10–p90, fastest on top; calyx in a
# strong colour, calyx-memlog a light one; dryrun/version are left out
# (diagnostics, not a way to run a command).
CHART_NOTE=""
if [ $HAVE_GNUPLOT -eq 1 ]; then
	dat=$D/chart.dat
	for p in "${PEERS[@]}"; do
		case $p in calyx-dryrun | calyx-version) continue ;; esac
		[ -n "${MED[$p]:-}" ] || continue
		case $p in calyx) col=$((0xd62728)) ;; calyx-memlog) col=$((0xf4a3a3)) ;; floor) col=$((0x999999)) ;; *) col=$((0x4c72b0)) ;; esac
		printf '%s %s %s %s %s\n' "${MED[$p]}" "$p" "${P10[$p]}" "${P90[$p]}" "$col"
	done >"$dat.unsorted"
	# columns: y (fastest on top), peer, median, p10, p90, colour (0xRRGGBB)
	sort -g "$dat.unsorted" | awk -v n="$(wc -l <"$dat.unsorted")" '{ print n - NR + 1, $2, $1, $3, $4, $5 }' >"$dat"
	rows=$(wc -l <"$dat")
	skipped=""
	for p in "${PEERS[@]}"; do [ -n "${SKIP[$p]:-}" ] && skipped+="${skipped:+, }$p"; done
	mkdir -p "$(dirname "$CHART")"
	if gnuplot -e "data='$dat'; out='$CHART'; rows=$rows; t1='calyx-exec startup of /usr/bin/true vs peers, $DATE'; t2='${HOST//\'/}'; foot='${skipped:+not run: $skipped (see docs/benchmarks.md)}'" \
		scripts/bench-startup-chart.gp 2>"$D/gnuplot.err"; then
		CHART_NOTE="chart: ${CHART#"$ROOT"/}"
	else
		CHART_NOTE="chart: gnuplot failed: $(head -n 1 "$D/gnuplot.err")"
	fi
else
	CHART_NOTE="chart: skipped, gnuplot is not installed and apt-get could not install gnuplot-nox"
fi
note "$CHART_NOTE"

# ---- stdout ---------------------------------------------------------------------
{
	echo "calyx-exec startup benchmark — $DATE"
	echo "$HOST"
	echo "calyx $REV; $versions; $ROUNDS interleaved rounds x $N runs per peer ($NSLOW for firejail)"
	echo
	printf '%-17s %9s  %-17s %4s  %7s  %7s  %6s  %s\n' peer median "min – max (ms)" n calyx/p p/floor cpu "round medians"
	for p in "${PEERS[@]}"; do
		if [ -n "${SKIP[$p]:-}" ]; then
			printf '%-17s %9s  skipped: %s\n' "$p" - "${SKIP[$p]}"
			continue
		fi
		printf '%-17s %6.2f ms  %6.2f – %-7.2f %4d  %7s  %7s  %6.2f  %s\n' "$p" "${MED[$p]}" "${MIN[$p]}" "${MAX[$p]}" \
			"${CNT[$p]}" "$(ratio "$(m calyx)" "${MED[$p]}")" "$(ratio "${MED[$p]}" "$(m floor)")" "${CPU[$p]}" \
			"$(tr '\n' ' ' <"$D/samples/$p.rounds")"
	done
	echo
	echo "goals: calyx/bwrap $(ratio "$(m calyx)" "$(m bwrap)") (<= 1.5); calyx/nsjail $(ratio "$(m calyx)" "$(m nsjail)") (<= 1.2); firejail-default/calyx $(ratio "$(m firejail-default)" "$(m calyx)") (>= 5)"
	echo "calyx-exec's own peak RSS: $RSS_EXIT KiB at exit, $RSS_SUP KiB supervising (goal <= 8192)"
	[ $have_t -eq 1 ] && echo "phase breakdown: $ok_runs runs, see $BENCH_MD" || echo "phase breakdown: no timings_us in this build's result"
	echo "$CHART_NOTE"
	echo "written: $BENCH_MD, $BENCH_TSV; in $(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
} | tee "$D/startup.txt"
