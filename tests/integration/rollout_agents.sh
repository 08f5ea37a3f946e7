#!/usr/bin/env bash
# Rollouts driven end to end: one calyx-agent per simulated host (its own
# config, state dir, audit log and host id; each in a private mount
# namespace whose $T/srv is its own directory, so every host has its own
# workspace files), a 3-member etcd on loopback (ETCD_PORT 23760: clients
# 23761+, peers 23861+; never 2379/2380), removed at exit.
#
#   bash tests/integration/rollout_agents.sh [BUILD_DIR]   (root)
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"
ETCD_PORT=${ROLLOUT_AGENTS_ETCD_PORT:-23760}
# shellcheck source=tests/integration/lib_etcd.sh
source "$(dirname "$0")/lib_etcd.sh"

RO=$B/calyx-rollout
AGENT=$B/calyx-agent
[ -x "$AGENT" ] || { echo "rollout_agents.sh: $AGENT missing (run 'make')" >&2; exit 2; }
POOL_PREFIX="ra$$/"
NHOSTS=${ROLLOUT_AGENTS_HOSTS:-20}

if ! etcd_have || ! command -v curl >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then
	skip_test rollout_agents_all "etcd, curl or unshare is not installed (scripts/install-deps.sh installs them)"
	summary
	exit $?
fi
etcd_start 3
if ! etcd_wait_healthy 30; then
	echo "rollout_agents.sh: the test's etcd did not come up: $(tail -n 3 "$T"/etcd/m1.log)" >&2
	exit 2
fi

# ---- fixture ------------------------------------------------------------
# hosts h1..hN (ids web-1..web-N) and an operator "op", one policy: the job
# (job.sh, copied into each host's workspace) writes app.conf there; its
# validate step (check.sh) checks it.
W=$T/w
C=$T/op/etc/calyx.conf
mkdir -p "$W" "$T/srv"
chmod 755 "$W" "$T/srv"
cat >"$W/job.sh" <<'EOF'
#!/bin/sh
# the job every host runs: a new config, unless this host is told to fail
set -e
echo "version=2" >"$1/app.conf"
if [ -e "$1/fail-validate" ]; then echo broken >>"$1/app.conf"; fi
EOF
cat >"$W/check.sh" <<'EOF'
#!/bin/sh
# validate: the config is exactly what version 2 should be (shell builtins only)
n=0
while IFS= read -r l; do n=$((n + 1)); last=$l; done <"$1/app.conf"
[ "$n" = 1 ] && [ "$last" = "version=2" ]
EOF
chmod 755 "$W/job.sh" "$W/check.sh"
policy_json '["/usr/bin/dash", "/usr/bin/sleep", "/usr/bin/true"]' \
	'["/usr"]' "[\"$T/srv\"]" >"$T/ra.policy.json"
setup_hosts() {
	local i
	mk_host op "$T/ra.policy.json" op-1 "\"pools\": [\"web\"], $(pool_ledger_cfg 2000)" || return 1
	for i in $(seq 1 "$NHOSTS"); do
		mk_host "h$i" "$T/ra.policy.json" "web-$i" "\"pools\": [\"web\"], $(pool_ledger_cfg 2000)" || return 1
	done
}
run_test fixture.hosts setup_hosts

declare -a APID
# agent_start I: host i's agent, in its own mount namespace where $T/srv
# is $T/hI/srv (seeded with version=1), polling every 200 ms, ttl 3 s
agent_start() {
	local i=$1 e=$T/h$1
	mkdir -p "$e/srv"
	[ -e "$e/srv/app.conf" ] || echo "version=1" >"$e/srv/app.conf"
	cp "$W/job.sh" "$W/check.sh" "$e/srv/"
	chown -R 1000:1000 "$e/srv" "$T/srv"
	chmod 755 "$e/srv"
	unshare --mount --propagation private -- /bin/sh -c \
		'mount --bind "$1" "$2" && exec "$3" --config "$4" --poll-ms 200 --ttl 3' \
		sh "$e/srv" "$T/srv" "$AGENT" "$e/etc/calyx.conf" >>"$e/agent.log" 2>&1 &
	APID[i]=$!
	disown "${APID[$i]}"
}
agent_kill() { # I [SIGNAL]
	[ -n "${APID[$1]:-}" ] && kill "-${2:-TERM}" "${APID[$1]}" 2>/dev/null
	[ -n "${APID[$1]:-}" ] && etcd_gone "${APID[$1]}"
	APID[$1]=""
}
agents_stop() {
	local i
	for i in "${!APID[@]}"; do agent_kill "$i" TERM; done
}
lib_atexit agents_stop

# mk_rollout NAME CMD_ARGS_JSON [PLAN FLAGS...]: a pool lease (count
# NHOSTS) running CMD with validate check.sh, and a rollout of it over
# web-1..web-N, both signed; RID set.
mk_rollout() {
	local name=$1 argv=$2
	shift 2
	printf '{"run_id":"ra-%s","audience":"pool:web","count":%d,"argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr"]},"validate":{"argv":["/usr/bin/dash","/work/check.sh","/work"]}}\n' \
		"$name" "$NHOSTS" "$argv" "$T/srv" >"$W/$name.body.json"
	mk_lease op "$W/$name.lease" "$W/$name.body.json" || return 1
	seq -f 'web-%g' 1 "$NHOSTS" >"$W/hosts.txt"
	"$RO" plan --lease "$W/$name.lease" --hosts-file "$W/hosts.txt" "$@" -o "$W/$name.ro" >"$W/$name.plan" 2>"$ERR" &&
		"$RO" sign --key "$KEYS/alice.key" --yes "$W/$name.ro" >/dev/null 2>"$ERR" &&
		"$RO" sign --key "$KEYS/bot.key" --yes "$W/$name.ro" >/dev/null 2>"$ERR" ||
		fail "plan/sign: $(first_err)" || return 1
	RID=$(sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$W/$name.plan")
	[ -n "$RID" ] || fail "no rollout id in: $(head -n 1 "$W/$name.plan")" || return 1
	"$RO" start --config "$C" --lease "$W/$name.lease" "$W/$name.ro" >/dev/null 2>"$ERR" ||
		fail "start: $(first_err)"
}

# view: the status JSON of $RID in $W/view.json
view() { "$RO" status --config "$C" --json "$RID" >"$W/view.json" 2>"$ERR"; }
# vq EXPR: a python expression over v (the view) printed
vq() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print($1)" "$W/view.json"; }
# wait_for SECS EXPR: until vq EXPR prints True
wait_for() {
	local end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -le "$end" ]; do
		view && [ "$(vq "$2")" = True ] && return 0
		sleep 0.3
	done
	fail "after $1 s, not ($2): state $(vq 'v["state"]' 2>/dev/null), hosts $(vq '[(h["host"], h["state"]) for t in v["tiers"] for h in t["hosts"] if h["state"] != "waiting"]' 2>/dev/null)"
}
states() { vq '",".join(sorted(set(h["state"] for t in v["tiers"] for h in t["hosts"])))'; }
approve() {
	"$RO" approve --config "$C" --key "$KEYS/alice.key" --tier "$1" "$RID" >/dev/null 2>"$ERR" ||
		fail "approve tier $1: $(first_err)"
}

t_twenty_hosts_manual_tiers() {
	local i
	for i in $(seq 1 "$NHOSTS"); do agent_start "$i"; done
	mk_rollout all '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 5,25,100 \
		--soak 1 --deadline 300 --max-parallel 4 || return 1
	wait_for 60 'v["tiers"][0]["status"] == "done"' || return 1
	[ "$(vq 'v["mode"]')" = awaiting_approval ] || fail "mode after the canary: $(vq 'v["mode"]')" || return 1
	[ "$(vq 'v["counts"]["waiting"]')" = $((NHOSTS - 1)) ] || fail "claims before approval: $(states)" || return 1
	approve 2 || return 1
	wait_for 90 'v["tiers"][1]["status"] == "done"' || return 1
	[ "$(vq 'v["counts"]["committed"]')" = $(((NHOSTS * 25 + 99) / 100)) ] || fail "after tier 2: $(vq 'v["counts"]')" || return 1
	approve 3 || return 1
	wait_for 180 'v["state"] == "completed"' || return 1
	[ "$(vq 'v["counts"]["committed"]')" = "$NHOSTS" ] || fail "committed: $(vq 'v["counts"]')" || return 1
	for i in $(seq 1 "$NHOSTS"); do
		[ "$(cat "$T/h$i/srv/app.conf")" = version=2 ] || fail "web-$i's file: $(cat "$T/h$i/srv/app.conf")" || return 1
	done
	# every report carries a verified audit head, and the host's log holds it
	head1=$(vq '[h for t in v["tiers"] for h in t["hosts"] if h["host"] == "web-1"][0]["audit"]["head"]')
	"$B/calyx-audit" verify --config "$T/h1/etc/calyx.conf" --expect-head "$head1" "$T/h1/log/audit.jsonl" >/dev/null 2>"$ERR" ||
		fail "web-1's audit log does not hold the head it reported: $(first_err)"
}
run_test agents.twenty_hosts_three_manual_tiers_committed t_twenty_hosts_manual_tiers

summary
