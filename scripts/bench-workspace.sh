#!/usr/bin/env bash
# Workspace benchmark: how long a discard keeps the caller, and commit
# throughput (scan, rollback pack, journal, apply, syncfs) on small and
# large files.
#
#   scripts/bench-workspace.sh [BUILD_DIR]   (as root; default build)
#     BENCH_DIR=DIR   run on DIR's file system instead of a fresh one
#
# By default each row runs on a fresh 6 GiB ext4 image (loop device, in
# /var/tmp): after a mass delete, ext4 scans recently freed inodes on every
# create for minutes (recently_deleted), which would make each row depend
# on the previous one and on whatever the host did before.
#
# Figures only, no assertions; the goals are printed next to them.
#   commit    1,000 and 10,000 files of 4 KiB, and 100 files of 10 MiB,
#             10 % of them replacing host files (packed first): files/s and
#             MB/s of cx_ws_commit (MB = 10^6 committed bytes), and the
#             time of undoing it (cx_ws_undo: check, restore)
#   discard   an upper of 10,000 files, 1 GiB in all: time until
#             cx_ws_discard returns (goal: well under 50 ms; the tree is
#             renamed into STATE/trash and deleted by a detached child,
#             whose time is shown too)
# Needs build/tests/bench_workspace.
# Results: stdout and BUILD_DIR/bench/workspace.txt.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/tests/bench_workspace

if [ "$(id -u)" -ne 0 ]; then
	echo "bench-workspace: needs root (commits chown files to their run uid)" >&2
	exit 2
fi
[ -x "$BIN" ] || { echo "bench-workspace: $BIN missing (make $BIN)" >&2; exit 2; }
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/calyx-bench-ws.XXXXXX") || exit 2
cleanup() {
	mountpoint -q "$W/mnt" 2>/dev/null && umount "$W/mnt"
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/workspace.txt

# A fresh file system for one row (or BENCH_DIR as it is): sets $D.
fresh() {
	if [ -n "${BENCH_DIR:-}" ]; then
		D=$W/$1
		return
	fi
	if mountpoint -q "$W/mnt" 2>/dev/null; then umount "$W/mnt" || return 1; fi
	rm -f "$W/fs.img"
	mkdir -p "$W/mnt" &&
		truncate -s 6G "$W/fs.img" &&
		mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$W/fs.img" &&
		mount -o loop "$W/fs.img" "$W/mnt" || return 1
	D=$W/mnt/$1
}

if [ -n "${BENCH_DIR:-}" ]; then
	where="$BENCH_DIR: $(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 }')"
else
	where="a fresh ext4 image per row (loop device on $(df -PT "$W" | awk 'NR == 2 { print $2 " " $1 }'))"
fi
{
	echo "workspace benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs, $where"
	echo
	echo "commit (files/s, MB/s of committed bytes; SHA-256 of every byte, before and after, bounds large files)"
	fresh c1 && "$BIN" commit "$D" 1000 4096 10 || exit 1
	fresh c2 && "$BIN" commit "$D" 10000 4096 10 || exit 1
	fresh c3 && "$BIN" commit "$D" 100 10485760 10 || exit 1
	echo
	echo "discard (goal: returns well under 50 ms)"
	fresh d || exit 1
	for i in 1 2 3; do
		"$BIN" discard "$D$i" 10000 1024 || exit 1
	done
} | tee "$OUT"
