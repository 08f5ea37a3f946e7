#!/usr/bin/env bash
# Reproducer (found by the crash gate, scripts/crash.sh): on a hybrid
# cgroup host, cx_cg_create makes the run cgroup in each v1 hierarchy
# (memory, pids, cpu, cpuacct, ...) before the unified one, and
# cx_cg_reap_stale looks for stale run cgroups in the unified hierarchy
# only. calyx-exec killed between those mkdirs leaves v1 directories that
# no later start ever removes. The gate hit it with a random kill -9:
#   INCONSISTENT a33: fail kill at random@1ms (setup), calyx-ctl recover:
#   run cgroups left: /sys/fs/cgroup/memory/calyx/run-20586-1519634-a7bcc87a0c0f
# This script leaves what such a kill leaves (the v1 directories of a run
# whose calyx-exec is dead, no unified one), runs a lease (whose start
# reaps stale run cgroups), and looks again.
#
#   bash tests/crash/repro_cgroup_partial.sh [BUILD]     (root)
# Prints REPRODUCED (exit 1), "not reproduced" (exit 0), or why it cannot
# run here (exit 2).
set -u
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "${1:-build}"

CG=/sys/fs/cgroup
[ -d "$CG/unified/calyx" ] || { echo "no hybrid layout with $CG/unified/calyx here (run any lease first, or a v2 host: not affected)"; exit 2; }
HB=$(mktemp -d /var/tmp/calyx-cgp.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/sleeper" "$HB/sleeper" || exit 2
policy_json "[\"$HB/sleeper\"]" "[\"/usr\", \"$HB\"]" >"$T/p.json"
mk_host h "$T/p.json" || { echo "fixture: $WHY" >&2; exit 2; }
printf '{"run_id":"cgp","audience":"%s","argv":["%s/sleeper","1"],"paths":{"ro":["/usr","%s"]}}\n' \
	"$HOST_ID" "$HB" "$HB" >"$T/l.body"
mk_lease h "$T/l.lease" "$T/l.body" || { echo "lease: $WHY" >&2; exit 2; }

# a dead "calyx-exec": a process that has exited, its pid and start time
sleep 0 &
dead=$!
start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$dead/stat" 2>/dev/null)
wait "$dead"
[ -n "$start" ] || start=1
name=run-$dead-$start-0123456789ab
left=()
for d in "$CG"/*/calyx; do
	case $d in "$CG/unified/calyx") continue ;; esac
	mkdir "$d/$name" 2>/dev/null && left+=("$d/$name")
done
[ "${#left[@]}" -gt 0 ] || { echo "could not create a v1 run cgroup"; exit 2; }
# shellcheck disable=SC2016
lib_atexit 'for d in "${left[@]}"; do rmdir "$d" 2>/dev/null; done'
echo "left as a kill between the v1 and unified mkdirs would: ${left[*]}"
cx h --lease "$T/l.lease" >/dev/null 2>"$T/err"
echo "a lease ran (exit $?): $(grep -c 'removed stale run cgroup' "$T/err") stale cgroup(s) reaped"
still=0
for d in "${left[@]}"; do [ -d "$d" ] && still=$((still + 1)); done
if [ "$still" -gt 0 ]; then
	echo "REPRODUCED: $still v1 run cgroup dir(s) of a dead calyx-exec are never reaped"
	exit 1
fi
echo "not reproduced"
