# shellcheck shell=bash
# Simulated hosts with their calyx-agent, and rollouts over them, for the
# rollout tests and bench. Source it after lib.sh and lib_etcd.sh (it uses
# $T, $B, $KEYS, lib_atexit, fail, first_err and etcd_gone):
#
#   agent_start I          host I's agent ($T/hI, made by mk_host), in its
#                          own mount namespace where $T/srv is $T/hI/srv
#                          (seeded with app.conf version=1 and, when
#                          $W/job.sh and $W/check.sh exist, those), polling
#                          every $AGENT_POLL_MS ms (default 200), liveness
#                          ttl $AGENT_TTL s (default 3); pid in APID[I],
#                          log in $T/hI/agent.log; stopped at exit
#   agent_kill I [SIGNAL]  signal it (default TERM) and wait until it is gone
#   agents_stop            agent_kill of every agent started
#   mk_rollout NAME CMD_ARGS_JSON [PLAN FLAGS...]
#                          a pool lease (count $NHOSTS, audience pool:web,
#                          workspace $T/srv, validate /work/check.sh) running
#                          CMD, and a rollout of it over web-1..web-$RO_HOSTS
#                          (default $NHOSTS), signed by alice and bot and
#                          started with the operator's config $C (the lease
#                          made with host ${FLEET_OP:-op}'s policy); files in
#                          $W, its id in RID
#   view                   the status JSON of $RID in $W/view.json
#   vq EXPR                a python expression over v (the view), printed
#   wait_for SECS EXPR     view until vq EXPR prints True (fail after SECS)
#   states                 the host states of the view, sorted, comma-separated
#   approve TIER           alice approves TIER of $RID
#   plant PREFIX N SIZE    N keys PREFIX00000.. with SIZE-byte values in etcd
#   unplant PREFIX         every key under PREFIX deleted
#
# Needs: RO (calyx-rollout), AGENT (calyx-agent), W (a work directory), C
# (the operator's config), NHOSTS.
AGENT_POLL_MS=${AGENT_POLL_MS:-200}
AGENT_TTL=${AGENT_TTL:-3}
declare -a APID

agent_start() {
	local i=$1 e=$T/h$1
	mkdir -p "$e/srv" "$T/srv"
	[ -e "$e/srv/app.conf" ] || echo "version=1" >"$e/srv/app.conf"
	[ -e "$W/job.sh" ] && cp "$W/job.sh" "$e/srv/"
	[ -e "$W/check.sh" ] && cp "$W/check.sh" "$e/srv/"
	chown -R 1000:1000 "$e/srv" "$T/srv"
	chmod 755 "$e/srv"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --propagation private -- /bin/sh -c \
		'mount --bind "$1" "$2" && exec "$3" --config "$4" --poll-ms "$5" --ttl "$6"' \
		sh "$e/srv" "$T/srv" "$AGENT" "$e/etc/calyx.conf" "$AGENT_POLL_MS" "$AGENT_TTL" >>"$e/agent.log" 2>&1 &
	APID[i]=$!
	disown "${APID[$i]}"
}
agent_kill() {
	[ -n "${APID[$1]:-}" ] && kill "-${2:-TERM}" "${APID[$1]}" 2>/dev/null
	[ -n "${APID[$1]:-}" ] && etcd_gone "${APID[$1]}"
	APID[$1]=""
}
agents_stop() {
	local i
	for i in "${!APID[@]}"; do agent_kill "$i" TERM; done
}
lib_atexit agents_stop

mk_rollout() {
	local name=$1 argv=$2
	shift 2
	printf '{"run_id":"ra-%s","audience":"pool:web","count":%d,"argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr"]},"validate":{"argv":["/usr/bin/dash","/work/check.sh","/work"]}}\n' \
		"$name" "$NHOSTS" "$argv" "$T/srv" >"$W/$name.body.json"
	mk_lease "${FLEET_OP:-op}" "$W/$name.lease" "$W/$name.body.json" || return 1
	seq -f 'web-%g' 1 "${RO_HOSTS:-$NHOSTS}" >"$W/hosts.txt"
	"$RO" plan --lease "$W/$name.lease" --hosts-file "$W/hosts.txt" "$@" -o "$W/$name.ro" >"$W/$name.plan" 2>"$ERR" &&
		"$RO" sign --key "$KEYS/alice.key" --yes "$W/$name.ro" >/dev/null 2>"$ERR" &&
		"$RO" sign --key "$KEYS/bot.key" --yes "$W/$name.ro" >/dev/null 2>"$ERR" ||
		fail "plan/sign: $(first_err)" || return 1
	RID=$(sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$W/$name.plan")
	[ -n "$RID" ] || fail "no rollout id in: $(head -n 1 "$W/$name.plan")" || return 1
	"$RO" start --config "$C" --lease "$W/$name.lease" "$W/$name.ro" >/dev/null 2>"$ERR" ||
		fail "start: $(first_err)"
}

view() { "$RO" status --config "$C" --json "$RID" >"$W/view.json" 2>"$ERR"; }
vq() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print($1)" "$W/view.json"; }
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

# plant PREFIX N SIZE: N keys PREFIX00000.. with SIZE-byte values, put in
# etcd 100 to a transaction (etcd's default --max-txn-ops is 128)
plant() {
	python3 - "$(etcd_url 1)" "$1" "$2" "$3" <<'PYEOF' || { echo "planting $2 keys under $1 failed" >&2; return 1; }
import base64, json, sys, urllib.request
url, pfx, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
op = urllib.request.build_opener(urllib.request.ProxyHandler({}))
b64 = lambda b: base64.b64encode(b).decode()
for s in range(0, n, 100):
    ops = [{"request_put": {"key": b64(("%s%05d" % (pfx, i)).encode()), "value": b64(b"x" * size)}}
           for i in range(s, min(n, s + 100))]
    req = urllib.request.Request(url + "/v3/kv/txn", json.dumps({"success": ops}).encode(),
                                 {"Content-Type": "application/json"})
    json.load(op.open(req, timeout=10))
PYEOF
}
unplant() { # PREFIX: every key under it
	etcd_curl /v3/kv/deleterange "{\"key\":\"$(printf %s "$1" | base64 -w0)\",\"range_end\":\"$(printf %s "${1%/}0" | base64 -w0)\"}" >/dev/null
}
