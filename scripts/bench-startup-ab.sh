#!/usr/bin/env bash
# Startup of calyx-exec, builds side by side: the same plain run
# (/usr/bin/true, a workspace, /usr ro) under each build, interleaved run
# by run (A B C A B C ...) so a noisy VM's drift hits all alike.
#
#   scripts/bench-startup-ab.sh NAME=BUILD_DIR [NAME=BUILD_DIR...]   (root)
#   BENCH_N=60 (runs per build)
#
# Prints per build: the median, 10th and 90th percentile of the wall time
# of one calyx-exec run (ms, measured around the process by the shell:
# the same shell overhead for every build), then the median of each phase
# of calyx-exec's own timings_us (--result), where the build has them.
# Each build gets its own state dir and audit log; leases are signed
# beforehand (not timed), one per run. Figures only, no assertion.
# Take /tmp/calyx-test.lock around it: concurrent tests skew the figures.
set -uo pipefail
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: $0 NAME=BUILD_DIR..." >&2; exit 2; }
N=${BENCH_N:-60}
D=$(mktemp -d /var/tmp/calyx-ab.XXXXXX) || exit 2
[ -n "${AB_KEEP:-}" ] || trap 'rm -rf "$D"' EXIT; echo "scratch: $D" >&2
chmod 755 "$D"
names=() builds=()
for a in "$@"; do names+=("${a%%=*}"); builds+=("$(cd "${a#*=}" && pwd)"); done
# (build dirs resolved from where it was called; then from the tree's root)
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=scripts/lib-bench.sh
. scripts/lib-bench.sh
LEASE=${builds[0]}/calyx-lease
mkdir -p "$D/etc" "$D/keys" "$D/ws" "$D/l" && chmod 755 "$D/etc" "$D/ws" && chmod 700 "$D/keys"
chown 1000:1000 "$D/ws"
q() { "$@" >/dev/null 2>"$D/err" || { echo "$* failed: $(head -n 3 "$D/err")" >&2; exit 1; }; }
q "$LEASE" keygen --role human --name alice --out "$D/keys"
q "$LEASE" keygen --role agent --name bot --out "$D/keys"
q "$LEASE" keygen --role agent --name host --out "$D/etc"
q "$LEASE" keyring add "$D/etc/keyring.json" "$D/keys/alice.pub.json"
q "$LEASE" keyring add "$D/etc/keyring.json" "$D/keys/bot.pub.json"
bench_policy '["/usr/bin/true"]' "$D/ws" >"$D/etc/policy.json"
chmod 644 "$D/etc/policy.json" "$D/etc/keyring.json"
for i in "${!names[@]}"; do
	mkdir -p "$D/s$i" "$D/log$i" && chmod 700 "$D/s$i" && chmod 755 "$D/log$i"
	cat >"$D/etc/c$i.conf" <<JSON
{ "keyring": "$D/etc/keyring.json", "policy": "$D/etc/policy.json",
  "state_dir": "$D/s$i", "audit_log": "$D/log$i/audit.jsonl",
  "host_key": "$D/etc/host.key", "host_id": "ab-host" }
JSON
	chmod 644 "$D/etc/c$i.conf"
done
WARM=3
for k in $(seq 1 $((N + WARM))); do
	printf '{ "run_id": "ab", "audience": "ab-host", "argv": ["/usr/bin/true"], "cwd": "/work", "workspace": "%s", "paths": {"ro": ["/usr"], "rw": []}, "network": "none" }\n' \
		"$D/ws" >"$D/l/$k.body"
	q "$LEASE" new "$D/l/$k.body" -o "$D/l/$k.lease" --policy "$D/etc/policy.json" --ttl 3000
	q "$LEASE" sign --key "$D/keys/alice.key" "$D/l/$k.lease"
	q "$LEASE" sign --key "$D/keys/bot.key" "$D/l/$k.lease"
done
# one lease runs once per build (each build has its own ledger)
for k in $(seq 1 $((N + WARM))); do
	for i in "${!names[@]}"; do
		t0=$EPOCHREALTIME
		"${builds[$i]}/calyx-exec" --config "$D/etc/c$i.conf" --lease "$D/l/$k.lease" \
			--result "$D/r$i.$k.json" >/dev/null 2>"$D/e$i" ||
			{ echo "${names[$i]}: run $k failed: $(head -n 2 "$D/e$i")" >&2; exit 1; }
		t1=$EPOCHREALTIME
		[ "$k" -gt $WARM ] && awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$D/w$i"
		[ "$k" -gt $WARM ] && jq -r '(.timings_us // {}) | to_entries[] | "\(.key)\t\(.value)"' \
			"$D/r$i.$k.json" >>"$D/p$i" 2>/dev/null
	done
done
pct() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { i = int((NR - 1) * p + 0.5) + 1; print a[i] }'; }
printf '%-10s %8s %8s %8s   (ms, %d runs each, interleaved)\n' build median p10 p90 "$N"
for i in "${!names[@]}"; do
	printf '%-10s %8s %8s %8s\n' "${names[$i]}" "$(pct 0.5 <"$D/w$i")" "$(pct 0.1 <"$D/w$i")" "$(pct 0.9 <"$D/w$i")"
done
echo "phase medians (us, timings_us of --result):"
phases=$(cat "$D"/p* 2>/dev/null | cut -f 1 | awk '!s[$0]++')
printf '%-14s' phase; for i in "${!names[@]}"; do printf ' %10s' "${names[$i]}"; done; echo
for ph in $phases; do
	printf '%-14s' "$ph"
	for i in "${!names[@]}"; do
		v=$(awk -F '\t' -v p="$ph" '$1 == p { print $2 }' "$D/p$i" 2>/dev/null | pct 0.5)
		printf ' %10s' "${v:--}"
	done
	echo
done
