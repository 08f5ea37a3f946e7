# shellcheck shell=bash
# Leak probes shared by the soak and crash gates (scripts/soak.sh,
# scripts/crash.sh). Source it after tests/integration/lib.sh.
#
# Other engineers run calyx-exec on the same host at the same time, so
# every probe is scoped to what the calling gate started: its run uid, its
# binaries (by /proc/PID/exe), the run cgroups named after its leases, the
# mounts naming its own directories, its state dir. The one host-wide
# figure, BPF programs, is made exact by attribution: a monitor program
# that no process holds (no fd in /proc/*/fdinfo names it) and no bpffs
# pin keeps is leaked, whoever leaked it; the gate compares that count
# before and after.
#
#   lk_procs UIDS BIN...       pids of a run uid in UIDS (comma-separated),
#                              or running one of BIN
#   lk_zombies UIDS BIN...     zombies: of a run uid in UIDS, or children of this
#                              shell or of a process running one of BIN
#   lk_cgroups TAGFILE         run cgroup dirs (any hierarchy) whose name
#                              ends in a lease tag listed in TAGFILE (12 hex
#                              a line); validate cgroups ("-v") included
#   lk_mounts_snap FILE        the mount table, one "fstype mountpoint
#                              source options" a line, sorted
#   lk_mounts_new BEFORE PATTERN...  mount lines not in BEFORE that name
#                              one of the PATTERNs (fixed strings)
#   lk_bpf_progs               monitor BPF programs loaded now
#   lk_bpf_links               BPF links to those programs now
#   lk_bpf_orphan_ids          of those, the ones no process and no pin holds
#   lk_bpf_leaked BASE [WAIT]  orphans not listed in file BASE that are
#                              still orphans WAIT (3) seconds later
#   lk_rundirs STATE [notrash] what a finished run must not leave in its
#                              state dir: runs/*, run/*.sock, trash/* (the
#                              trash is swept by the next deleter a commit
#                              or discard starts: "notrash" leaves it out)
#   lk_fd_count PID            open fds of PID
#   lk_settle SECONDS CMD...   run CMD until it prints nothing (up to
#                              SECONDS); print its last output
CG_ROOT=${CG_ROOT:-/sys/fs/cgroup}

lk_procs() {
	local uid=$1 p exe b
	shift
	{
		pgrep -u "$uid" 2>/dev/null
		for p in /proc/[0-9]*; do
			exe=$(readlink "$p/exe" 2>/dev/null) || continue
			for b in "$@"; do
				[ "$exe" = "$b" ] && echo "${p#/proc/}"
			done
		done
	} | sort -un | grep -vx "$$" | tr '\n' ' ' | sed 's/ $//'
}

lk_zombies() {
	local uid=$1 pid ppid puid stat mine p exe b
	shift
	mine=" $$ "
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		for b in "$@"; do
			[ "$exe" = "$b" ] && mine="$mine${p#/proc/} "
		done
	done
	# pid ppid uid stat: zombies have no exe, so judge them by their parent
	ps -e -o pid=,ppid=,uid=,stat= 2>/dev/null | while read -r pid ppid puid stat; do
		case $stat in Z*) ;; *) continue ;; esac
		if [[ ",$uid," == *",$puid,"* ]] || [[ "$mine" == *" $ppid "* ]]; then
			printf '%s ' "$pid"
		fi
	done | sed 's/ $//'
}

lk_cgroups() {
	local tags=$1
	[ -s "$tags" ] || return 0
	# run-<pid>-<start>-<tag12>[-v]: keep the dirs whose tag is ours
	find "$CG_ROOT"/calyx "$CG_ROOT"/*/calyx -mindepth 1 -maxdepth 1 -type d -name 'run-*' 2>/dev/null |
		awk -v tags="$tags" 'BEGIN { while ((getline t < tags) > 0) want[t] = 1 }
			{ n = split($0, p, "/"); name = p[n]; sub(/-v$/, "", name);
			  if (substr(name, length(name) - 11) in want) print }' | tr '\n' ' ' | sed 's/ $//'
}

lk_mounts_snap() {
	awk '{ for (i = 7; i <= NF && $i != "-"; i++) ; print $(i + 1), $5, $(i + 2), $(i + 3) }' \
		/proc/self/mountinfo | sort >"$1"
}

lk_mounts_new() {
	local before=$1 now pat
	shift
	now=$(mktemp)
	lk_mounts_snap "$now"
	comm -13 "$before" "$now" | while read -r line; do
		for pat in "$@"; do
			case $line in *"$pat"*) printf '%s\n' "$line"; break ;; esac
		done
	done
	rm -f "$now"
}

# The monitor's programs (monitor/monitor.bpf.c): on_cpu_tick, on_exec.
lk_bpf_ids() {
	bpftool prog show 2>/dev/null | sed -nE 's/^([0-9]+): .* name (on_cpu_tick|on_exec) .*/\1/p' | sort -n
}
lk_bpf_progs() { lk_bpf_ids | grep -c .; }
lk_bpf_links() {
	bpftool link show 2>/dev/null | sed -n 's/^[0-9]*: .* prog \([0-9]*\).*/\1/p' | grep -cxF -f <(lk_bpf_ids; echo none)
}
lk_bpf_orphan_ids() {
	local ids held pinned
	ids=$(lk_bpf_ids)
	[ -n "$ids" ] || return 0
	# a program is held by a process through a prog fd, or through a link
	# fd (whose fdinfo names the link's prog_id too)
	held=$(cat /proc/[0-9]*/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*\([0-9]*\)$/\1/p' | sort -u)
	pinned=$(find /sys/fs/bpf -type f 2>/dev/null | while read -r f; do
		bpftool prog show pinned "$f" 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p'
	done | sort -u)
	comm -23 <(printf '%s\n' "$ids" | sort) <(printf '%s\n%s\n' "$held" "$pinned" | grep . | sort -u)
}
# A program freed as its holder exits can be listed for a moment with no
# holder (perf events and links are released asynchronously): leaked are
# those that still have none WAIT seconds later, and were not already
# orphans in BASEFILE (ids, from lk_bpf_orphan_ids at the start).
lk_bpf_leaked() {
	local base=$1 wait=${2:-3} first left
	first=$(lk_bpf_orphan_ids | grep -vxF -f "$base")
	[ -n "$first" ] || { echo 0; return; }
	sleep "$wait"
	left=$(lk_bpf_orphan_ids | grep -xF -f <(printf '%s\n' "$first"))
	if [ -n "${LK_DEBUG:-}" ] && [ -n "$left" ]; then
		for o in $left; do bpftool prog show id "$o" >&2; done
	fi
	printf '%s' "$left" | grep -c .
}

lk_rundirs() {
	local s=$1
	{
		find "$s/runs" -mindepth 1 -maxdepth 1 2>/dev/null
		find "$s/run" -mindepth 1 -maxdepth 1 -name '*.sock' 2>/dev/null
		[ "${2:-}" = notrash ] || find "$s/trash" -mindepth 1 -maxdepth 1 2>/dev/null
	} | tr '\n' ' ' | sed 's/ $//'
}

lk_fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

lk_settle() {
	local end=$((SECONDS + $1)) out=""
	shift
	while :; do
		out=$("$@")
		[ -z "$out" ] || [ "$out" = 0 ] || [ "$SECONDS" -ge "$end" ] && break
		sleep 0.2
	done
	printf '%s' "$out"
}
