#!/usr/bin/env bash
# Rollouts over etcd (issue 18): what calyx-rollout's etcd commands cost on
# a 3-member etcd cluster on loopback — start (verify + one transaction),
# a control command (read and verify the record, sign, one transaction),
# and status (one range, every document verified) on a fresh record and on
# one holding 2N control documents.
#
#   scripts/bench-rollout.sh [BUILD_DIR]     (root; make bench-rollout)
#
# BENCH_ROLLOUT_N (default 40): pause/resume pairs and status reads. Each
# figure is the wall time of one calyx-rollout process (exec, config,
# keyring, libcurl's dlopen included), median of N. Writes
# $BENCH_OUT/rollout.md and rollout.tsv; not part of 'make bench' yet.
# Nothing here is asserted (tests/integration/rollout_etcd.sh asserts
# the behaviour).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
N=${BENCH_ROLLOUT_N:-40}

# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "$BUILD"
ETCD_PORT=${ETCD_PORT:-23760}
# shellcheck source=tests/integration/lib_etcd.sh
source tests/integration/lib_etcd.sh
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh

RO=$B/calyx-rollout
etcd_have || die "etcd is not installed (scripts/install-deps.sh installs etcd-server)"
POOL_PREFIX="bench$$/"
bench_section rollout
etcd_start 3
etcd_wait_healthy 30 || die "the bench's etcd cluster did not come up: $(tail -n 2 "$T/etcd/m1.log")"
mkdir -p "$T/srv" "$T/w" "$T/t"
policy_json '["/usr/bin/true"]' '["/usr"]' >"$T/pol.json"
mk_host op "$T/pol.json" op-1 "\"pools\": [\"web\"], $(pool_ledger_cfg 2000)" || die "host: $WHY"
C=$T/op/etc/calyx.conf
HOST_ID=pool:web body_json '["/usr/bin/true"]' '"count": 1000' >"$T/w/body.json"
mk_lease op "$T/w/l.lease" "$T/w/body.json" || die "lease: $WHY"
seq -f 'web-%04g' 1 1000 >"$T/w/hosts.txt"

# ms CMD...: the command's wall time in ms (3 decimals) on stdout; dies on failure
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>"$T/err" || die "$* failed: $(head -n 1 "$T/err")"
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }'
}
rollout() { # OUT: a signed rollout of the 1000 hosts; its id on stdout
	"$RO" plan --lease "$T/w/l.lease" --hosts-file "$T/w/hosts.txt" --tiers 1,10,50,100 -o "$1" >"$T/plan.out" 2>"$T/err" &&
		"$RO" sign --key "$KEYS/alice.key" "$1" >/dev/null 2>"$T/err" &&
		"$RO" sign --key "$KEYS/bot.key" "$1" >/dev/null 2>"$T/err" || die "plan/sign: $(head -n 1 "$T/err")"
	sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$T/plan.out"
}

: >"$T/t/start"
for i in $(seq 1 "$N"); do
	rollout "$T/w/r$i.json" >/dev/null
	ms "$RO" start --config "$C" --lease "$T/w/l.lease" "$T/w/r$i.json" >>"$T/t/start"
done
RID=$(rollout "$T/w/main.json")
"$RO" start --config "$C" --lease "$T/w/l.lease" "$T/w/main.json" >/dev/null 2>"$T/err" || die "start: $(head -n 1 "$T/err")"
: >"$T/t/status0" && : >"$T/t/pause" && : >"$T/t/resume" && : >"$T/t/statusN"
for _ in $(seq 1 "$N"); do ms "$RO" status --config "$C" "$RID" >>"$T/t/status0"; done
for _ in $(seq 1 "$N"); do
	ms "$RO" pause --config "$C" --key "$KEYS/bot.key" "$RID" >>"$T/t/pause"
	ms "$RO" resume --config "$C" --key "$KEYS/alice.key" "$RID" >>"$T/t/resume"
done
for _ in $(seq 1 "$N"); do ms "$RO" status --config "$C" "$RID" >>"$T/t/statusN"; done
RBYTES=$(stat -c %s "$T/w/main.json")

md "## Rollouts over etcd"
md
md "calyx-rollout's etcd commands on a 3-member etcd on loopback, a rollout of 1,000 hosts in 4 tiers ($RBYTES-byte signed file), each figure one process's wall time (exec, config, keyring, libcurl), median of $N ($(machine_line); $(code_rev))."
md
md "| command | median ms | min | max | n |"
md "| ------- | --------- | --- | --- | - |"
row() { # KEY LABEL FILE
	read -r med min max n <<<"$(stats "$3")"
	figure "rollout.$1" "$med" ms
	md "| $2 | $med | $min | $max | $n |"
}
row start "start (verify rollout + lease, one txn creating both keys)" "$T/t/start"
row status_fresh "status, no control document" "$T/t/status0"
row pause "pause (read + verify the record, sign, one txn)" "$T/t/pause"
row resume "resume (as pause)" "$T/t/resume"
row status_history "status with $((2 * N)) control documents verified" "$T/t/statusN"
cat "$BENCH_MD"
