# shellcheck shell=bash
# Shared by the scripts/bench-*.sh. Source it, do not run it:
#
#   source scripts/lib-bench.sh
#
# Every benchmark writes two files next to each other, which
# scripts/bench-doc.sh folds into docs/benchmarks.md:
#   $BENCH_OUT/NAME.md    a markdown section ("## Title", prose, tables)
#   $BENCH_OUT/NAME.tsv   its figures, one per line: KEY TAB VALUE TAB UNIT
#                         [TAB NOTE]; keys are NAME.what[.detail] in
#                         [a-z0-9_.+-], values plain numbers ("-" when the
#                         figure could not be measured: NOTE says why)
#
#   BENCH_OUT                   build/bench (override with $BENCH_OUT)
#   bench_section NAME          start NAME.md and NAME.tsv afresh
#   figure KEY VALUE UNIT [NOTE]
#   md [TEXT...]                append one line to NAME.md (no args: blank)
#   stats FILE                  "median min max n" of one number per line
#                               (- - - 0 when empty)
#   ratio A B                   A / B to 2 decimals, or - if either is -
#   need CMD PACKAGE            install PACKAGE with apt-get when CMD is
#                               missing; 0 if CMD is there afterwards
#   machine_line                CPU model, CPUs, RAM, kernel, OS, virt
#   code_rev [DIR]              the commit benchmarked (+ "-dirty")
#   die MSG / note MSG          one line on stderr, prefixed with the
#                               script's name (die then exits 1)
#   bench_policy CMDS WRITE     the benches' policy (JSON on stdout):
#                               commands CMDS (a JSON array), read /usr,
#                               write WRITE, no network, default limits

BENCH_OUT=${BENCH_OUT:-build/bench}
BENCH_SELF=${0##*/}
BENCH_SELF=${BENCH_SELF%.sh}
die() { echo "$BENCH_SELF: $*" >&2; exit 1; }
note() { printf '%s: %s\n' "$BENCH_SELF" "$*" >&2; }
BENCH_NAME=""
BENCH_MD=/dev/null
BENCH_TSV=/dev/null
_bench_apt_updated=0

bench_section() {
	BENCH_NAME=$1
	mkdir -p "$BENCH_OUT"
	BENCH_MD=$BENCH_OUT/$1.md
	BENCH_TSV=$BENCH_OUT/$1.tsv
	: >"$BENCH_MD"
	: >"$BENCH_TSV"
}

figure() {
	local key=$1 value=$2 unit=$3 note=${4:-}
	[[ "$key" =~ ^[a-z0-9_.+-]+$ ]] || { echo "lib-bench: bad figure key '$key'" >&2; return 1; }
	[[ "$value" = - || "$value" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] ||
		{ echo "lib-bench: figure $key: '$value' is not a number" >&2; return 1; }
	printf '%s\t%s\t%s\t%s\n' "$key" "$value" "$unit" "${note//$'\t'/ }" >>"$BENCH_TSV"
}

md() { printf '%s\n' "$*" >>"$BENCH_MD"; }

stats() {
	sort -g "$1" 2>/dev/null | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - - 0"; exit }
		m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "%.3f %.3f %.3f %d\n", m, v[1], v[NR], NR }'
}

ratio() {
	[[ "$1" = - || "$2" = - || -z "$1" || -z "$2" ]] && { echo -; return 0; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'
}

need() {
	local cmd=$1 pkg=$2 log=${BENCH_OUT}/apt.log
	command -v "$cmd" >/dev/null 2>&1 && return 0
	mkdir -p "$BENCH_OUT"
	echo "bench: installing $pkg (apt-get)" >&2
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >>"$log" 2>&1 &&
		[ $_bench_apt_updated -eq 0 ]; then
		_bench_apt_updated=1
		apt-get update -q >>"$log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >>"$log" 2>&1
	fi
	command -v "$cmd" >/dev/null 2>&1 && return 0
	echo "bench: could not install $pkg: $(tail -n 1 "$log" 2>/dev/null)" >&2
	return 1
}

# code_rev [DIR]: the commit benchmarked, "-dirty" when the tree differs
# from it in anything but the files make bench itself writes.
code_rev() {
	local d=${1:-.} r
	r=$(git -C "$d" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
	git -C "$d" diff --quiet HEAD -- . ':!docs/benchmarks.md' ':!docs/bench-startup.svg' 2>/dev/null || r+=-dirty
	echo "$r"
}

machine_line() {
	local cpu mem os virt
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
	virt=$(systemd-detect-virt 2>/dev/null || echo unknown)
	echo "${cpu:-unknown CPU}, $(nproc) CPUs, $mem RAM, kernel $(uname -r), ${os:-unknown OS}, virtualization: $virt"
}

bench_policy() {
	cat <<JSON
{ "v": 1,
  "commands": $1,
  "read":  ["/usr"],
  "write": ["$2"],
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
}
