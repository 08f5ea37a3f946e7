#!/usr/bin/env bash
# Workspace benchmark: how long a discard keeps the caller, and commit
# throughput (scan, rollback pack, journal, apply, syncfs) on small and
# large files.
#
#   scripts/bench-workspace.sh [BUILD_DIR]   (as root; default build;
#                                             BENCH_DIR=/var/tmp: where the
#                                             trees go, one file system)
#
# Figures only, no assertions; the goals are printed next to them.
#   discard   an upper of 10,000 files, 1 GiB in all: time until
#             cx_ws_discard returns (goal: well under 50 ms; the tree is
#             renamed into STATE/trash and deleted by a detached child,
#             whose time is shown too)
#   commit    1,000 and 10,000 files of 4 KiB, and 100 files of 10 MiB,
#             10 % of them replacing host files (packed first): files/s and
#             MB/s of cx_ws_commit, and the time of undoing it
# Needs build/tests/bench_workspace (Makefile rule in the workspace notes).
# Results: stdout and BUILD_DIR/bench/workspace.txt.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
BIN=$BUILD/tests/bench_workspace

if [ "$(id -u)" -ne 0 ]; then
	echo "bench-workspace: needs root (commits chown files to their run uid)" >&2
	exit 2
fi
[ -x "$BIN" ] || { echo "bench-workspace: $BIN missing (make $BIN)" >&2; exit 2; }
W=$(mktemp -d "$BENCH_DIR/calyx-bench-ws.XXXXXX") || exit 2
trap 'rm -rf --one-file-system "$W"' EXIT
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/workspace.txt

fs=$(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 }')
{
	echo "workspace benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs, $BENCH_DIR: $fs"
	echo
	# commits first: ext4 scans recently freed inodes for a few minutes
	# after a mass delete (recently_deleted), which slows every create
	echo "commit (files/s, MB/s of committed bytes)"
	"$BIN" commit "$W/c1" 1000 4096 10 || exit 1
	"$BIN" commit "$W/c2" 10000 4096 10 || exit 1
	"$BIN" commit "$W/c3" 100 10485760 10 || exit 1
	echo
	echo "discard (goal: returns well under 50 ms)"
	for i in 1 2 3; do
		"$BIN" discard "$W/d$i" 10000 1024 || exit 1
	done
} | tee "$OUT"
