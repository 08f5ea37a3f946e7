#!/usr/bin/env bash
# Workspace benchmark: how long a rollback keeps the caller, for uppers of
# 1 MiB, 100 MiB and 1 GiB, and commit throughput (files/s, MB/s).
#
#   scripts/bench-workspace.sh [BUILD_DIR]   (as root; default build)
#     BENCH_DIR=DIR      run on DIR's file system instead of fresh images
#     ROLLBACK_REPS=N    rollbacks per size (default 5; the 1 GiB row does
#                        at most 3: writing its upper is what costs)
#     COMMIT_REPS=N      commits of the small-file rows (default 3; the
#                        10 MiB-file row runs once: it takes ~10-20 s)
#
# By default each commit and each rollback size gets a fresh 6 GiB ext4
# image (loop device, in /var/tmp; mkfs takes a few ms): after a mass
# delete, ext4 scans recently freed inodes on every create for minutes
# (recently_deleted), which would make a row depend on the previous one and
# on whatever the host did before.
#
# Figures only, no assertions; the goals are stated next to them.
#   rollback  an upper of 100 files holding 1 MiB, 100 MiB or 1 GiB of real
#             data (written with write(2) and synced with syncfs: allocated
#             blocks on disk, not fallocate'd or sparse), then cx_ws_discard
#             of the run dir, exactly what calyx-exec does to roll a run
#             back: the time until it returns (a rename of the tree into
#             STATE/trash; a detached child deletes it, and its time is
#             shown too). Same file count in every row, so only the size
#             changes: the figure should be flat.
#   commit    1,000 and 10,000 files of 4 KiB, and 100 files of 10 MiB,
#             10 % of them replacing host files (packed first): files/s and
#             MB/s of cx_ws_commit (scan, rollback pack, journal, apply,
#             syncfs; MB = 10^6 committed bytes; SHA-256 of every byte,
#             before and after, bounds large files), and the time of
#             undoing it (cx_ws_undo). workspace.commit_files_per_s is the
#             10,000-file row, workspace.commit_mb_per_s the 10 MiB-file row.
# Needs BUILD_DIR/tests/bench_workspace. Writes BENCH_OUT/workspace.md and
# workspace.tsv (scripts/lib-bench.sh); the driver's lines go to stdout.
# C_* and R_* are set by commit_row and rollback_row through printf -v,
# which shellcheck cannot follow
# shellcheck disable=SC2154
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-${BUILD:-build}}
# results next to the build (bench-all.sh sets BENCH_OUT to the same);
# before lib-bench.sh, which would default it to build/bench
export BENCH_OUT=${BENCH_OUT:-$BUILD/bench}
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh
BIN=$BUILD/tests/bench_workspace
RREPS=${ROLLBACK_REPS:-5}
CREPS=${COMMIT_REPS:-3}
for v in "$RREPS" "$CREPS"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-workspace: ROLLBACK_REPS, COMMIT_REPS: positive integers" >&2; exit 2; }
done

if [ "$(id -u)" -ne 0 ]; then
	echo "bench-workspace: needs root (commits chown files to their run uid; loop mounts)" >&2
	exit 2
fi
[ -x "$BIN" ] || { echo "bench-workspace: $BIN missing (make $BIN)" >&2; exit 2; }
W=$(mktemp -d "${BENCH_DIR:-/var/tmp}/calyx-bench-ws.XXXXXX") || exit 2
cleanup() {
	mountpoint -q "$W/mnt" 2>/dev/null && umount "$W/mnt"
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fresh NAME: a fresh file system for one row or repetition (or BENCH_DIR
# as it is); sets $D, a path on it that does not exist yet
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
	WHERE="$BENCH_DIR ($(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 }'))"
else
	WHERE="a fresh ext4 image per row (loop device, the image on $(df -PT "$W" | awk 'NR == 2 { print $2 " " $1 }'))"
fi
echo "workspace benchmark on $WHERE"

# ---- commit -------------------------------------------------------------------
# commit_row TAG NFILES BYTES REPS: medians into C_<TAG>_{ms,fps,mbs,undo,n}
commit_row() {
	local tag=$1 nf=$2 sz=$3 reps=$4 i line
	: >"$W/$tag.ms"
	: >"$W/$tag.fps"
	: >"$W/$tag.mbs"
	: >"$W/$tag.undo"
	for i in $(seq 1 "$reps"); do
		fresh "$tag-$i" || return 1
		line=$("$BIN" commit "$D" "$nf" "$sz" 10) || { echo "$line"; return 1; }
		echo "$line"
		# "... 130.6 ms   7659 files/s   31.4 MB/s   (undo 96.7 ms)"
		read -r ms fps mbs undo < <(sed -E -n 's/.* ([0-9.]+) ms +([0-9]+) files\/s +([0-9.]+) MB\/s +\(undo +([0-9.]+) ms\).*/\1 \2 \3 \4/p' <<<"$line")
		[ -n "${undo:-}" ] || { echo "bench-workspace: cannot read the driver's commit line" >&2; return 1; }
		echo "$ms" >>"$W/$tag.ms"
		echo "$fps" >>"$W/$tag.fps"
		echo "$mbs" >>"$W/$tag.mbs"
		echo "$undo" >>"$W/$tag.undo"
	done
	local m
	read -r m _ _ n < <(stats "$W/$tag.ms")
	printf -v "C_${tag}_ms" '%.1f' "$m"
	printf -v "C_${tag}_n" '%s' "$n"
	read -r m _ _ _ < <(stats "$W/$tag.fps")
	printf -v "C_${tag}_fps" '%.0f' "$m"
	read -r m _ _ _ < <(stats "$W/$tag.mbs")
	printf -v "C_${tag}_mbs" '%.1f' "$m"
	read -r m _ _ _ < <(stats "$W/$tag.undo")
	printf -v "C_${tag}_undo" '%.1f' "$m"
}

# ---- rollback -----------------------------------------------------------------
# rollback_row TAG MIB REPS: an upper of 100 files, MIB MiB in all; medians
# into R_<TAG>_{ms,min,max,bg,n}
rollback_row() {
	local tag=$1 mib=$2 reps=$3 i line ms bg
	: >"$W/r$tag.ms"
	: >"$W/r$tag.bg"
	fresh "r$tag" || return 1
	for i in $(seq 1 "$reps"); do
		line=$("$BIN" discard "$D-$i" 100 "$mib") || { echo "$line"; return 1; }
		echo "$line"
		# "... returned after 0.66 ms   background delete 5 ms"
		read -r ms bg < <(sed -E -n 's/.*returned after +([0-9.]+) ms +background delete +([0-9.]+) ms.*/\1 \2/p' <<<"$line")
		[ -n "${bg:-}" ] || { echo "bench-workspace: cannot read the driver's discard line" >&2; return 1; }
		echo "$ms" >>"$W/r$tag.ms"
		echo "$bg" >>"$W/r$tag.bg"
	done
	local m mn mx n
	read -r m mn mx n < <(stats "$W/r$tag.ms")
	printf -v "R_${tag}_ms" '%.2f' "$m"
	printf -v "R_${tag}_min" '%.2f' "$mn"
	printf -v "R_${tag}_max" '%.2f' "$mx"
	printf -v "R_${tag}_n" '%s' "$n"
	read -r m _ _ _ < <(stats "$W/r$tag.bg")
	printf -v "R_${tag}_bg" '%.0f' "$m"
}

echo "rollback: 100-file uppers, $RREPS each (1 GiB: $((RREPS < 3 ? RREPS : 3)))"
rollback_row 1mib 1 "$RREPS" || exit 1
rollback_row 100mib 100 "$RREPS" || exit 1
rollback_row 1gib 1024 $((RREPS < 3 ? RREPS : 3)) || exit 1
echo "commit: $CREPS each for 4 KiB files, 1 for 10 MiB files"
commit_row 1k 1000 4096 "$CREPS" || exit 1
commit_row 10k 10000 4096 "$CREPS" || exit 1
commit_row big 100 10485760 1 || exit 1

bench_section workspace
for r in 1mib 100mib 1gib; do
	ms=R_${r}_ms bg=R_${r}_bg n=R_${r}_n
	figure "workspace.rollback_${r}_ms" "${!ms}" ms "cx_ws_discard of a 100-file upper, median of ${!n}; until it returns"
	figure "workspace.rollback_${r}_delete_ms" "${!bg}" ms "the detached deleter emptying STATE/trash afterwards, median of ${!n}"
done
figure workspace.commit_files_per_s "$C_10k_fps" files/s "cx_ws_commit of 10,000 files of 4 KiB (10% replacing host files), median of $C_10k_n"
figure workspace.commit_mb_per_s "$C_big_mbs" MB/s "cx_ws_commit of 100 files of 10 MiB (10% replacing host files), 1 run; MB = 10^6 bytes"
for c in 1k 10k big; do
	for f in ms fps mbs undo; do
		v=C_${c}_$f
		case $f in
		ms) figure "workspace.commit_${c}_ms" "${!v}" ms ;;
		fps) figure "workspace.commit_${c}_files_per_s" "${!v}" files/s ;;
		mbs) figure "workspace.commit_${c}_mb_per_s" "${!v}" MB/s ;;
		undo) figure "workspace.commit_${c}_undo_ms" "${!v}" ms "cx_ws_undo of that commit" ;;
		esac
	done
done

md "## Workspace"
md
md "\`tests/bench/bench_workspace\` calls the workspace functions \`calyx-exec\` uses, on trees laid"
md "out as in its state dir (STATE/runs/KEY/tree0/{upper,work}), on $WHERE."
md
md "**Rollback** is \`cx_ws_discard\` of the run dir, what \`calyx-exec\` does when a run is not"
md "committed: the tree is renamed into STATE/trash and a detached child deletes it, so the caller"
md "waits for the rename only. Each upper holds 100 files of real data (written with \`write(2)\`"
md "and synced with \`syncfs\`, so the blocks are allocated and on disk; no \`fallocate\`, no sparse"
md "files); only the size differs between rows. Goal: flat, well under 50 ms."
md
md "| upper | returned after, median ms | min–max ms | n | background delete, median ms (polled every 5 ms) |"
md "|---|---:|---:|---:|---:|"
for r in 1mib:1\ MiB 100mib:100\ MiB 1gib:1\ GiB; do
	t=${r%%:*} label=${r#*:}
	ms=R_${t}_ms mn=R_${t}_min mx=R_${t}_max n=R_${t}_n bg=R_${t}_bg
	md "| $label | ${!ms} | ${!mn}–${!mx} | ${!n} | ${!bg} |"
done
md
md "**Commit** is \`cx_ws_commit\`: scan the upper, pack the host files it replaces (10% of them"
md "here) into the rollback pack, journal, apply, \`syncfs\`, done; SHA-256 of every byte before"
md "and after. MB = 10^6 committed bytes. Undo is \`cx_ws_undo\` of that commit (check, restore)."
md
md "| files | commit, median ms | files/s | MB/s | undo, median ms | n |"
md "|---|---:|---:|---:|---:|---:|"
md "| 1,000 × 4 KiB | $C_1k_ms | $C_1k_fps | $C_1k_mbs | $C_1k_undo | $C_1k_n |"
md "| 10,000 × 4 KiB | $C_10k_ms | $C_10k_fps | $C_10k_mbs | $C_10k_undo | $C_10k_n |"
md "| 100 × 10 MiB | $C_big_ms | $C_big_fps | $C_big_mbs | $C_big_undo | $C_big_n |"
md
md "\`workspace.commit_files_per_s\` is the 10,000-file row, \`workspace.commit_mb_per_s\` the 10 MiB-file row."
echo "bench-workspace: rollback ${R_1mib_ms}/${R_100mib_ms}/${R_1gib_ms} ms (1 MiB/100 MiB/1 GiB), commit $C_10k_fps files/s, $C_big_mbs MB/s; $BENCH_OUT/workspace.md"
