#!/usr/bin/env bash
# Audit forwarding cost (docs/audit-events.md, "Forwarding"): append
# throughput through cx_audit_append (bench_audit append: tmpfs, syncs
# deferred in groups of 8, format v2, as calyx-exec writes) without
# forwarding, with syslog to a receiver that drains its socket, with a
# private systemd-journald, and with both; and the one-time setup
# (libsystemd's dlopen). Figures only, no assertions: medians of REPS.
#
#   scripts/bench-audit-forward.sh [BUILD_DIR]     (root: a private mount
#                                                   namespace, tmpfs on /run)
#     FWD_LINES=N  events per log (default 20000)
#     REPS=N       repetitions, median reported (default 3)
#
# Lines a sink did not take (its queue full: the receiver behind) are
# counted by the log's audit.forward_failed lines and printed next to the
# figures: a sink that cannot keep up costs the writer nothing more.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
N=${FWD_LINES:-20000}
REPS=${REPS:-3}
BIN=$BUILD/tests/bench_audit
[ -x "$BIN" ] || { echo "bench-audit-forward: $BIN missing (make $BIN)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench-audit-forward: needs root" >&2; exit 2; }
if [ -z "${CALYX_FWD_NS:-}" ]; then
	CALYX_FWD_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
W=$(mktemp -d /dev/shm/calyx-fwdbench.XXXXXX) || exit 2
PIDS=()
cleanup() {
	local p
	for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
mount -t tmpfs -o mode=755 calyx-fwdbench-run /run || exit 2
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/log
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nAudit=no\nRateLimitBurst=0\n' \
	>/run/systemd/journald.conf.d/calyx-bench.conf

# a receiver that only drains (queue 512, as systemd sets it)
cat >"$W/drain.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2], 'w').close()
while True:
    s.recv(1 << 20)
EOF
unshare -n sh -c 'echo 512 >/proc/sys/net/unix/max_dgram_qlen && exec python3 "$@"' sh \
	"$W/drain.py" "$W/syslog.sock" "$W/ready" &
PIDS+=($!)
disown
JD=""
for d in /lib/systemd /usr/lib/systemd; do [ -x "$d/systemd-journald" ] && JD=$d/systemd-journald && break; done
if [ -n "$JD" ]; then
	unshare -n sh -c 'echo 512 >/proc/sys/net/unix/max_dgram_qlen && exec "$0"' "$JD" >"$W/journald.log" 2>&1 &
	PIDS+=($!)
	disown
fi
for _ in $(seq 1 200); do
	[ -e "$W/ready" ] && { [ -z "$JD" ] || [ -S /run/systemd/journal/socket ]; } && break
	sleep 0.05
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf 'audit append with forwarding: %d events per log, groups of 8, tmpfs, median of %d\n' "$N" "$REPS"
printf '%-10s %12s %12s %14s %s\n' sink lines/s "us/line" "setup ms" "not forwarded (of the lines)"
modes=(none "syslog:$W/syslog.sock")
[ -n "$JD" ] && modes+=(journald "both:$W/syslog.sock")
for m in "${modes[@]}"; do
	rates=() setups=() lost=""
	for i in $(seq 1 "$REPS"); do
		log=$W/log-${m%%:*}-$i.jsonl
		out=$(BENCH_AUDIT_FWD=$([ "$m" = none ] || echo "$m") "$BIN" append "$log" "$N" 8 v2) || {
			echo "bench-audit-forward: $m: $out" >&2
			exit 1
		}
		rates+=("$(printf '%s\n' "$out" | sed -n 's/.* \([0-9]*\) lines\/s.*/\1/p')")
		setups+=("$(printf '%s\n' "$out" | sed -n 's/.*forward setup .*  \([0-9.]*\) ms/\1/p')")
		lost="$lost $(python3 -c '
import json, sys
f = {}
n = 0
for l in open(sys.argv[1]):
    j = json.loads(l)
    n += 1
    if j["type"] == "audit.forward_failed":
        for k, v in j["details"].items():
            f[k] = f.get(k, 0) + v["failed"]
print(",".join("%s=%d" % kv for kv in sorted(f.items())) + "/%d" % n if f else "0/%d" % n)' "$log")"
		rm -f "$log"
	done
	r=$(printf '%s\n' "${rates[@]}" | median)
	s=$([ "$m" = none ] && echo - || printf '%s\n' "${setups[@]}" | median)
	printf '%-10s %12s %12.2f %14s %s\n' "${m%%:*}" "$r" "$(echo "1000000 / $r" | bc -l)" "$s" "${lost# }"
done
[ -n "$JD" ] || echo "(journald rows skipped: systemd-journald is not installed)"
