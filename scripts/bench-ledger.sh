#!/usr/bin/env bash
# Pool ledger benchmark (issue 17): what a pool lease's claim costs on a
# 3-member etcd cluster on loopback, against a host's own ledger; racing
# claims with leader kills (double runs counted); how fast a host refuses
# when the cluster has lost its quorum.
#
#   scripts/bench-ledger.sh [BUILD_DIR]     (root; make bench-ledger)
#
# BENCH_LEDGER_N (default 60): sequential claims per kind;
# BENCH_LEDGER_ROUNDS (default 100): racing rounds of 20 hosts, every 5th
# with the etcd leader killed mid-race (the racers' deadline at 300 ms).
# Writes $BENCH_OUT/ledger.md and ledger.tsv. Figures are medians; nothing
# here is asserted by a test (tests/integration/pool.sh asserts the
# behaviour).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
N=${BENCH_LEDGER_N:-60}
ROUNDS=${BENCH_LEDGER_ROUNDS:-100}
NHOSTS=20

# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "$BUILD"
# shellcheck source=tests/integration/lib_etcd.sh
source tests/integration/lib_etcd.sh
# shellcheck source=scripts/lib-bench.sh
source scripts/lib-bench.sh

etcd_have || die "etcd is not installed (scripts/install-deps.sh installs etcd-server)"
POOL_PREFIX="bench$$/"
ETCD_PORT=${ETCD_PORT:-23750}
bench_section ledger
etcd_start 3
etcd_wait_healthy 30 || die "the bench's etcd cluster did not come up: $(tail -n 2 "$T/etcd/m1.log")"
mkdir -p "$T/srv"
policy_json '["/usr/bin/true"]' '["/usr"]' >"$T/pol.json"
pool_hosts $NHOSTS "$T/pol.json" || die "hosts: $WHY"
mk_host dirh "$T/pol.json" dir-1 || die "host: $WHY"

pool_lease() {
	HOST_ID=pool:web body_json '["/usr/bin/true"]' >"$T/body.json"
	mk_lease h1 "$1" "$T/body.json"
}
host_lease() {
	HOST_ID=dir-1 body_json '["/usr/bin/true"]' >"$T/body.json"
	mk_lease dirh "$1" "$T/body.json"
}

# 1. sequential claims: the consume phase (timings_us.consume: the claim
# with its etcd transactions, the local entry, its audit event), pool
# lease on h1 vs host lease on its own ledger, interleaved
: >"$T/c.pool"
: >"$T/c.dir"
: >"$T/c.att"
: >"$T/c.claim"
for i in $(seq 1 "$N"); do
	pool_lease "$T/p.lease" || die "lease: $WHY"
	host_lease "$T/d.lease" || die "lease: $WHY"
	cx h1 --lease "$T/p.lease" --result "$T/p.json" >/dev/null 2>"$T/p.err" || die "pool run: $(head -n 1 "$T/p.err")"
	cx dirh --lease "$T/d.lease" --result "$T/d.json" >/dev/null 2>"$T/d.err" || die "host run: $(head -n 1 "$T/d.err")"
	rget "$T/p.json" timings_us.consume >>"$T/c.pool"
	rget "$T/d.json" timings_us.consume >>"$T/c.dir"
	grep '"type":"lease.consumed"' "$T/h1/log/audit.jsonl" | tail -n 1 >"$T/c.last"
	grep -o '"attempts":[0-9]*' "$T/c.last" | cut -d: -f2 >>"$T/c.att"
	grep -o '"claim_us":[0-9]*' "$T/c.last" | cut -d: -f2 >>"$T/c.claim"
done
read -r pmed pmin pmax _ < <(stats "$T/c.pool")
read -r dmed dmin dmax _ < <(stats "$T/c.dir")
read -r cmed cmin cmax _ < <(stats "$T/c.claim")
# a raw gateway transaction (curl, the same compare-and-put shape) for reference
: >"$T/c.raw"
for i in $(seq 1 "$N"); do
	k=$(printf '%sraw/%s' "$POOL_PREFIX" "$i" | base64 -w0)
	curl -sS -o /dev/null -w '%{time_total}\n' -X POST "$(etcd_url 1)/v3/kv/txn" \
		-d "{\"compare\":[{\"key\":\"$k\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"$k\",\"value\":\"eA==\"}}],\"failure\":[{\"request_range\":{\"key\":\"$k\"}}]}" |
		awk '{ printf "%d\n", $1 * 1000000 }' >>"$T/c.raw"
done
read -r rmed rmin rmax _ < <(stats "$T/c.raw")
claim_ms=$(awk -v c="$cmed" 'BEGIN { printf "%.2f", c / 1000 }')
consume_ms=$(awk -v p="$pmed" 'BEGIN { printf "%.2f", p / 1000 }')
extra_ms=$(awk -v p="$pmed" -v d="$dmed" 'BEGIN { printf "%.2f", (p - d) / 1000 }')
figure ledger.claim_ms_median "$claim_ms" ms "the claim (lease.consumed claim_us: first etcd request to decision), median of $N (3-member etcd on loopback)"
figure ledger.consume_ms_median "$consume_ms" ms "consume phase of a pool lease: the claim, opening libcurl, the local entry"
figure ledger.dir_consume_ms_median "$(awk -v d="$dmed" 'BEGIN { printf "%.2f", d / 1000 }')" ms "consume phase of a host lease on the local ledger"
figure ledger.raw_txn_ms_median "$(awk -v r="$rmed" 'BEGIN { printf "%.2f", r / 1000 }')" ms "one gateway transaction with curl"

# 2. racing rounds with leader kills
t0=$(date +%s)
pool_rounds "$ROUNDS" $NHOSTS pool_lease || die "rounds: $R_WHAT"
race_s=$(($(date +%s) - t0))
claims=$((ROUNDS * NHOSTS))
figure ledger.double_runs "$R_DOUBLE" rounds "rounds in which 2+ hosts ran one lease, of $ROUNDS ($claims racing claims, $R_KILLS leader kills)"
figure ledger.racing_claims "$claims" claims "$ROUNDS rounds x $NHOSTS hosts"

# 3. quorum loss: 2 of 3 members down, 10 hosts refuse (timeout_ms 2000)
etcd_kill 2
etcd_kill 3
pool_lease "$T/q.lease" || die "lease: $WHY"
: >"$T/q.ms"
pids=()
for i in $(seq 1 10); do
	(t=$(date +%s%N)
	 cx "h$i" --lease "$T/q.lease" >/dev/null 2>"$T/q$i.err"
	 echo "$? $((($(date +%s%N) - t) / 1000000))" >"$T/q$i.rc") &
	pids+=($!)
done
wait "${pids[@]}"
refused=0
for i in $(seq 1 10); do
	read -r rc ms <"$T/q$i.rc"
	[ "$rc" -eq 125 ] && refused=$((refused + 1))
	echo "$ms" >>"$T/q.ms"
done
read -r qmed qmin qmax _ < <(stats "$T/q.ms")
figure ledger.quorum_refusal_max_ms "$qmax" ms "10 hosts at once, 2 of 3 members down, timeout_ms 2000 ($refused of 10 refused with exit 125)"
etcd_restart 2
etcd_restart 3

md "## Pool ledger (etcd)"
md
md "What a pool lease's claim costs (README \"Fleets\"), on a 3-member etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p') cluster on loopback started by the bench (heartbeat 50 ms, election 500 ms), $NHOSTS simulated hosts (own config, state, audit log), $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(machine_line). calyx $(code_rev .)."
md
md "| what | median | min–max | n |"
md "|---|--:|--:|--:|"
md "| **the claim**: first etcd request to decision (\`claim_us\` of \`lease.consumed\`) | **$claim_ms ms** | $(awk -v a="$cmin" -v b="$cmax" 'BEGIN { printf "%.2f–%.2f", a / 1000, b / 1000 }') ms | $N |"
md "| consume phase, pool lease: the claim, opening libcurl (dlopen, curl_global_init), the local entry, its audit event | $consume_ms ms | $(awk -v a="$pmin" -v b="$pmax" 'BEGIN { printf "%.2f–%.2f", a / 1000, b / 1000 }') ms | $N |"
md "| consume phase, host lease (local ledger only) | $(awk -v d="$dmed" 'BEGIN { printf "%.2f", d / 1000 }') ms | $(awk -v a="$dmin" -v b="$dmax" 'BEGIN { printf "%.2f–%.2f", a / 1000, b / 1000 }') ms | $N |"
md "| one gateway transaction with curl (reference) | $(awk -v r="$rmed" 'BEGIN { printf "%.2f", r / 1000 }') ms | $(awk -v a="$rmin" -v b="$rmax" 'BEGIN { printf "%.2f–%.2f", a / 1000, b / 1000 }') ms | $N |"
md
md "A pool lease adds $extra_ms ms to the consume phase (median against median): the claim, and loading libcurl with its ~30 libraries (OpenSSL, Kerberos, LDAP…) into the one-shot calyx-exec, about 4 ms here, paid only by pool leases (calyx-exec opens libcurl when a pool lease is claimed, never for a host's own). Transactions per claim: $(sort -n "$T/c.att" | uniq -c | awk '{ printf "%s%d claims x %d", s, $1, $2; s = ", " }'); the etcd lease the keys live on is granted once and reused for a day (no grant round trip per claim)."
md
md "Racing: $ROUNDS rounds of $NHOSTS hosts claiming one lease at once ($claims claims, $race_s s), every 5th round with the etcd leader killed mid-race and the racers' deadline at 300 ms: **$R_DOUBLE rounds with two or more winners**; $R_CLEAN of the $((ROUNDS - ROUNDS / 5)) kill-free rounds had exactly one winner and $((NHOSTS - 1)) refusals naming it; in the $R_KILLS kill rounds, $R_UNAV claims were refused without a decision (exit 125), $R_AMB of them with an answer lost after sending (ambiguous: audited, never run)."
md
md "Quorum loss: with 2 of 3 members down, 10 hosts at once refused in $qmin–$qmax ms (median $qmed; $refused of 10 exit 125 \`E_LEDGER_UNAVAILABLE\`), timeout_ms 2000: within timeout_ms + 0.5 s when the maximum is at most 2500 ms."
md
md "Reproduce: \`make bench-ledger\` (BENCH_LEDGER_N=$N BENCH_LEDGER_ROUNDS=$ROUNDS)."
echo "bench-ledger: claim $claim_ms ms median (consume phase $consume_ms ms) vs $(awk -v d="$dmed" 'BEGIN { printf "%.2f", d / 1000 }') ms local; raw txn $(awk -v r="$rmed" 'BEGIN { printf "%.2f", r / 1000 }') ms; $R_DOUBLE double runs in $claims racing claims ($R_KILLS leader kills); quorum-loss refusal max $qmax ms"
