#!/usr/bin/env bash
# Reproducer (found by the soak gate, scripts/soak.sh): concurrent runs of
# one run uid share RLIMIT_NPROC, the backup the sandbox sets for the
# pids quota. RLIMIT_NPROC counts every process of the real uid on the
# host, so while run A (pids 64) holds 30 processes, run B (pids 16) cannot
# even execve its command: E_EXEC "Resource temporarily unavailable",
# exit 126 -- and a fork bomb under pids 16 gets EAGAIN from RLIMIT_NPROC
# before pids.max, so no pids breach is seen and it ends at its wall limit.
#
#   bash tests/soak/repro_nproc.sh [BUILD]     (root)
# Prints REPRODUCED (exit 1) or "not reproduced" (exit 0).
set -u
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "${1:-build}"

HB=$(mktemp -d /var/tmp/calyx-nproc.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/forkbomb" "$HB/forkbomb" || exit 2
U=$((45000 + $$ % 5000))
while getent passwd "$U" >/dev/null || pgrep -u "$U" >/dev/null; do U=$((U + 1)); done
policy_json "[\"$HB/forkbomb\"]" "[\"/usr\", \"$HB\"]" >"$T/p.json"
mk_host h "$T/p.json" "" "\"run_uid\": $U, \"run_gid\": $U" || { echo "fixture: $WHY" >&2; exit 2; }
lease() { # NAME ARGV LIMITS
	printf '{"run_id":"%s","audience":"%s","argv":%s,"paths":{"ro":["/usr","%s"]},"limits":{%s}}\n' \
		"$1" "$HOST_ID" "$2" "$HB" "$3" >"$T/$1.body" && mk_lease h "$T/$1.lease" "$T/$1.body" ||
		{ echo "lease: $WHY" >&2; exit 2; }
}
lease a "[\"$HB/forkbomb\", \"30\", \"100000\"]" '"pids": 64, "wall_ms": 6000'
lease b "[\"$HB/forkbomb\"]" '"pids": 16, "wall_ms": 3000'
cx h --lease "$T/a.lease" >/dev/null 2>&1 &
A=$!
for _ in $(seq 1 50); do [ "$(pgrep -u "$U" | wc -l)" -ge 30 ] && break; sleep 0.1; done
echo "run A holds $(pgrep -u "$U" | wc -l) processes of uid $U (its pids quota: 64)"
cx h --lease "$T/b.lease" >"$T/b.out" 2>"$T/b.err"
rc=$?
echo "run B (pids 16): exit $rc: $(grep -v '^forkbomb:' "$T/b.err" | head -n 1)"
kill -TERM "$A" 2>/dev/null
wait "$A" 2>/dev/null
if [ "$rc" -eq 126 ] || grep -q 'halted \[wall\]' "$T/b.err"; then
	echo "REPRODUCED: another run's processes count against this run's RLIMIT_NPROC"
	exit 1
fi
echo "not reproduced"
