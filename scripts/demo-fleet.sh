#!/bin/sh
# make demo-fleet: a 3-tier rollout over six simulated hosts on a private
# 3-member etcd, printing each step. Runs as root from a fresh clone:
# installs missing deps, builds, then works in build/demo-fleet/ (recreated
# each time) — nothing outside build/ is touched.
#
# The etcd cluster listens on loopback only, on ports that are not etcd's
# defaults (never 2379/2380): clients DEMO_FLEET_PORT+1..+3, peers
# DEMO_FLEET_PORT+101..+103 (default 23780: clients 23781-23783, peers
# 23881-23883). Each simulated host is one calyx-agent in a private mount
# namespace where the lease's workspace (build/demo-fleet/srv) is that
# host's own directory (build/demo-fleet/hosts/web-N/srv). At exit (also on
# an error or Ctrl-C) every agent and driver the demo started is stopped,
# the cluster is stopped and its data (build/demo-fleet/etcd) removed.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B="$ROOT/build"
D="$B/demo-fleet"
PORT=${DEMO_FLEET_PORT:-23780}
NHOSTS=6

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# quiet COMMAND...: print it, run it, keep its output out of the way
quiet() { printf '$ %s\n' "$*"; "$@" >/dev/null; }
die() { echo "demo-fleet: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "demo-fleet: run as root (calyx-exec's configuration must be root-owned)" >&2
	exit 1
fi

# ---- what this demo starts, and its cleanup ------------------------------
ETCD_PIDS="" AGENT_PIDS="" DRIVER_PID=""
# gone PID: wait (at most 5 s) until the process has exited
gone() {
	i=0
	while [ "$i" -lt 100 ] && [ -d "/proc/$1" ] &&
		[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
stop_pids() { # SIGNAL PID...
	sig=$1
	shift
	for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
	for p in "$@"; do gone "$p"; wait "$p" 2>/dev/null || true; done
}
cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	set +e
	# shellcheck disable=SC2086 # pid lists, split on purpose
	{
		[ -z "$DRIVER_PID" ] || stop_pids TERM $DRIVER_PID
		[ -z "$AGENT_PIDS" ] || stop_pids TERM $AGENT_PIDS
		[ -z "$ETCD_PIDS" ] || stop_pids TERM $ETCD_PIDS
		[ -z "$ETCD_PIDS" ] || stop_pids KILL $ETCD_PIDS
	}
	rm -rf "$D/etcd"
	[ -n "$ETCD_PIDS$AGENT_PIDS" ] && echo "(demo-fleet: its agents and etcd stopped, $D/etcd removed)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- etcd ---------------------------------------------------------------
client_url() { echo "http://127.0.0.1:$((PORT + $1))"; }
peer_url() { echo "http://127.0.0.1:$((PORT + 100 + $1))"; }
etcd_endpoints_json() { echo "[\"$(client_url 1)\", \"$(client_url 2)\", \"$(client_url 3)\"]"; }
# port_free URL: nothing answers there (curl: connection refused)
port_free() {
	set +e
	curl -s -o /dev/null --max-time 1 "$1"
	r=$?
	set -e
	[ "$r" -eq 7 ]
}
etcd_start() {
	cluster="m1=$(peer_url 1),m2=$(peer_url 2),m3=$(peer_url 3)"
	mkdir -p "$D/etcd"
	chmod 700 "$D/etcd"
	for i in 1 2 3; do
		printf '$ etcd --name m%s --data-dir %s --listen-client-urls %s --listen-peer-urls %s ... &\n' \
			"$i" "$D/etcd/m$i" "$(client_url "$i")" "$(peer_url "$i")"
		etcd --name "m$i" --data-dir "$D/etcd/m$i" \
			--listen-client-urls "$(client_url "$i")" --advertise-client-urls "$(client_url "$i")" \
			--listen-peer-urls "$(peer_url "$i")" --initial-advertise-peer-urls "$(peer_url "$i")" \
			--initial-cluster "$cluster" --initial-cluster-state new \
			--initial-cluster-token "calyx-demo-fleet-$$" \
			--heartbeat-interval 50 --election-timeout 500 >"$D/etcd/m$i.log" 2>&1 &
		ETCD_PIDS="$ETCD_PIDS $!"
	done
}
# etcd_healthy: every member answers a linearizable read (at most 30 s)
etcd_healthy() {
	end=$(($(date +%s) + 30))
	while [ "$(date +%s)" -lt "$end" ]; do
		ok=0
		for i in 1 2 3; do
			curl -sS --max-time 2 -X POST "$(client_url "$i")/v3/kv/range" -d '{"key":"aGVhbHRo"}' 2>/dev/null |
				grep -q '"revision"' && ok=$((ok + 1))
		done
		[ "$ok" -eq 3 ] && return 0
		sleep 0.2
	done
	return 1
}

# ---- hosts --------------------------------------------------------------
# mk_host NAME HOST_ID: $D/hosts/NAME/{etc (config, keyring, policy, host
# key), state (0700), log}, in pool "web" on the demo's etcd
mk_host() {
	h="$D/hosts/$1"
	mkdir -p "$h/etc" "$h/state" "$h/log"
	chmod 755 "$h" "$h/etc" "$h/log"
	chmod 700 "$h/state"
	quiet calyx-lease keygen --role agent --name host --out "$h/etc"   # the host's own key
	quiet calyx-lease keyring add "$h/etc/keyring.json" "$D/keys/alice.pub.json"
	quiet calyx-lease keyring add "$h/etc/keyring.json" "$D/keys/bot.pub.json"
	cp "$D/policy.json" "$h/etc/policy.json"
	cat >"$h/etc/calyx.conf" <<JSON
{ "keyring": "$h/etc/keyring.json", "policy": "$h/etc/policy.json",
  "state_dir": "$h/state", "audit_log": "$h/log/audit.jsonl",
  "host_key": "$h/etc/host.key", "host_id": "$2", "pools": ["web"],
  "ledger": {"backend": "etcd", "endpoints": $(etcd_endpoints_json), "prefix": "demo/", "timeout_ms": 2000} }
JSON
	chmod 644 "$h/etc/calyx.conf" "$h/etc/policy.json" "$h/etc/keyring.json"
}
# agent_start N: web-N's agent, in its own mount namespace where $D/srv is
# $D/hosts/web-N/srv; polls every 200 ms, lost 3 s after it stops
agent_start() {
	h="$D/hosts/web-$1"
	printf '$ unshare --mount --propagation private -- /bin/sh -c '\''mount --bind %s %s && exec calyx-agent --config %s --poll-ms 200 --ttl 3'\'' &\n' \
		"$h/srv" "$D/srv" "$h/etc/calyx.conf"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private -- /bin/sh -c \
		'mount --bind "$1" "$2" && exec "$3" --config "$4" --poll-ms 200 --ttl 3' \
		sh "$h/srv" "$D/srv" "$B/calyx-agent" "$h/etc/calyx.conf" >>"$h/agent.log" 2>&1 &
	AGENT_PIDS="$AGENT_PIDS $!"
}

# ---- rollouts -----------------------------------------------------------
OP="$D/hosts/op/etc/calyx.conf"
# lease NAME VERSION: a pool lease (pool:web, count 6) running deploy.sh
# VERSION in the workspace, validated by check.sh VERSION; signed by both
lease() {
	cat >"$D/$1.body.json" <<JSON
{ "run_id": "$1", "audience": "pool:web", "count": $NHOSTS,
  "argv": ["/usr/bin/dash", "/work/deploy.sh", "/work", "$2"],
  "cwd": "/work", "env": {"LANG": "C.UTF-8"}, "workspace": "$D/srv",
  "paths": {"ro": ["/usr"], "rw": []},
  "validate": {"argv": ["/usr/bin/dash", "/work/check.sh", "/work", "$2"]},
  "purpose": "release $2 to the web pool" }
JSON
	run calyx-lease new "$D/$1.body.json" -o "$D/$1.lease" --policy "$D/policy.json" --ttl 1800
	quiet calyx-lease sign --key "$D/keys/alice.key" --yes "$D/$1.lease"
	quiet calyx-lease sign --key "$D/keys/bot.key" --yes "$D/$1.lease"
}
# view RID: its status JSON in $D/view.json; vq EXPR: a python expression
# over it (v), printed
view() { calyx-rollout status --config "$OP" --json "$1" >"$D/view.json"; }
vq() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print($1)" "$D/view.json"; }
# wait_for SECS RID EXPR: until vq EXPR prints True (the demo fails after SECS)
wait_for() {
	end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -le "$end" ]; do
		view "$2" && [ "$(vq "$3")" = True ] && return 0
		sleep 0.3
	done
	die "after $1 s, still not ($3): state $(vq 'v["state"]'), hosts $(vq '[(h["host"], h["state"]) for t in v["tiers"] for h in t["hosts"]]')"
}
# rollout_id FILE: the id 'plan' printed
rollout_id() { sed -n 's/^wrote unsigned rollout \([0-9a-f]\{32\}\) .*/\1/p' "$1"; }
drive_start() { # RID
	printf '$ calyx-rollout drive --config %s --key %s --poll-ms 200 %s >%s 2>&1 &\n' \
		"$OP" "$D/keys/bot.key" "$1" "$D/drive-$1.log"
	calyx-rollout drive --config "$OP" --key "$D/keys/bot.key" --poll-ms 200 "$1" >"$D/drive-$1.log" 2>&1 &
	DRIVER_PID=$!
}
# drive_wait: the driver ends when its rollout settles (at most 30 s)
drive_wait() {
	i=0
	while [ "$i" -lt 300 ] && kill -0 "$DRIVER_PID" 2>/dev/null &&
		[ "$(awk '{ print $3 }' "/proc/$DRIVER_PID/stat" 2>/dev/null)" != Z ]; do
		sleep 0.1
		i=$((i + 1))
	done
	stop_pids TERM "$DRIVER_PID"
	DRIVER_PID=""
}
versions() {
	for i in $(seq 1 "$NHOSTS"); do printf '  web-%s: %s\n' "$i" "$(cat "$D/hosts/web-$i/srv/VERSION")"; done
}

T0=$(date +%s)

step "1. dependencies and build"
scripts/install-deps.sh
make -s all
PATH="$B:$PATH"
for p in 1 2 3 101 102 103; do
	port_free "http://127.0.0.1:$((PORT + p))" ||
		die "port $((PORT + p)) is in use (another demo-fleet running?); stop it, or pick other ports with DEMO_FLEET_PORT=N (clients N+1..N+3, peers N+101..N+103)"
done

step "2. a private 3-member etcd on loopback (clients $((PORT + 1))-$((PORT + 3)), peers $((PORT + 101))-$((PORT + 103)))"
rm -rf "$D"
mkdir -p "$D"
chmod 755 "$D"
etcd_start
etcd_healthy || die "the demo's etcd did not come up: $(tail -n 3 "$D/etcd/m1.log")"
echo "(all three members answer a linearizable read; data in $D/etcd, removed at exit)"

step "3. two signers, a keyring, and the policy every host enforces"
mkdir -p "$D/keys"
chmod 700 "$D/keys"
run calyx-lease keygen --role human --name alice --out "$D/keys"
run calyx-lease keygen --role agent --name bot --out "$D/keys"
cat >"$D/policy.json" <<JSON
{ "v": 1,
  "commands": ["/usr/bin/dash"],
  "read":  ["/usr"],
  "write": ["$D/srv"],
  "env": {"allow": ["LANG", "TZ"], "set": {"PATH": "/usr/bin:/bin", "HOME": "/work"}},
  "limits": {"max":     {"cpu_ms": 600000, "memory_bytes": 2147483648, "pids": 512,
                         "wall_ms": 1800000, "nofile": 1024, "fsize_bytes": 1073741824,
                         "tmp_bytes": 268435456},
             "default": {"cpu_ms": 60000, "memory_bytes": 268435456, "pids": 64,
                         "wall_ms": 120000, "nofile": 256, "fsize_bytes": 104857600,
                         "tmp_bytes": 67108864}},
  "network": ["none"],
  "lease": {"max_lifetime_s": 3600, "clock_skew_s": 60, "require_audience": true},
  "syscalls": {"deny": ["ptrace"]} }
JSON
chmod 644 "$D/policy.json"
run calyx-policy check "$D/policy.json"

step "4. six simulated hosts web-1..web-6 in pool 'web' (own config, host key, state dir, audit log), and the operator's config"
echo "(the job each host runs, and its validate step: shell builtins only)"
mkdir -p "$D/job"
cat >"$D/job/deploy.sh" <<'EOF'
#!/bin/sh
# deploy WORKSPACE VERSION: the new version, unless this host carries the
# marker of a bad build
set -e
if [ -e "$1/BAD-BUILD" ]; then echo "version=$2-broken" >"$1/VERSION"; exit 0; fi
echo "version=$2" >"$1/VERSION"
EOF
cat >"$D/job/check.sh" <<'EOF'
#!/bin/sh
# validate WORKSPACE VERSION: VERSION holds exactly version=VERSION
n=0
while IFS= read -r l; do n=$((n + 1)); last=$l; done <"$1/VERSION"
[ "$n" = 1 ] && [ "$last" = "version=$2" ]
EOF
run cat "$D/job/deploy.sh" "$D/job/check.sh"
mk_host op op-1
for i in $(seq 1 "$NHOSTS"); do
	mk_host "web-$i" "web-$i"
	mkdir -p "$D/hosts/web-$i/srv"
	echo "version=4.1" >"$D/hosts/web-$i/srv/VERSION"
	cp "$D/job/deploy.sh" "$D/job/check.sh" "$D/hosts/web-$i/srv/"
	chown -R 1000:1000 "$D/hosts/web-$i/srv"   # a deploy user's, as on a real host
	chmod 755 "$D/hosts/web-$i/srv"
done
mkdir -p "$D/srv"
chown 1000:1000 "$D/srv"
chmod 755 "$D/srv"
run cat "$D/hosts/web-1/etc/calyx.conf"

step "5. one calyx-agent per host, each seeing its own workspace at $D/srv"
for i in $(seq 1 "$NHOSTS"); do agent_start "$i"; done
sleep 1
i=0
for p in $AGENT_PIDS; do
	i=$((i + 1))
	kill -0 "$p" 2>/dev/null || die "web-$i's agent stopped: $(tail -n 2 "$D/hosts/web-$i/agent.log")"
done
echo "(every workspace holds version 4.1:)"
versions

# ---- act 1 --------------------------------------------------------------
step "6. the change: a pool lease (audience pool:web, count 6), signed by alice and bot"
lease release-4.2 4.2
run calyx-lease show --keyring "$D/hosts/op/etc/keyring.json" "$D/release-4.2.lease"

step "7. the rollout: tiers 16/50/100 % (1, 3, 6 of 6 hosts), the canary opens on start, tiers 2 and 3 when a human approves"
echo "(16 %: ceil(16 x 6 / 100) = 1 canary host; 17 % would round up to 2)"
seq -f 'web-%g' 1 "$NHOSTS" | paste -sd, >"$D/hosts.txt"
run calyx-rollout plan --lease "$D/release-4.2.lease" --hosts "$(cat "$D/hosts.txt")" --tiers 16,50,100 \
	--canary-gate auto --gate manual --soak 2 --deadline 300 --max-parallel 2 --on-failure rollback \
	-o "$D/release-4.2.ro" | tee "$D/release-4.2.plan"
RID=$(rollout_id "$D/release-4.2.plan")
[ -n "$RID" ] || die "no rollout id in the plan's output"

step "8. the review both signers read, then their signatures"
run calyx-rollout show --keyring "$D/hosts/op/etc/keyring.json" --lease "$D/release-4.2.lease" "$D/release-4.2.ro"
run calyx-rollout sign --key "$D/keys/alice.key" --yes "$D/release-4.2.ro"
run calyx-rollout sign --key "$D/keys/bot.key" --yes "$D/release-4.2.ro"

step "9. start: rollout and lease published in etcd; the driver (bot's key) watches the gates"
run calyx-rollout start --config "$OP" --lease "$D/release-4.2.lease" "$D/release-4.2.ro"
drive_start "$RID"
T1=$(date +%s)

step "10. the canary runs on web-1, soaks 2 s; tier 2 waits for a human"
wait_for 60 "$RID" 'v["tiers"][0]["status"] == "done"'
run calyx-rollout status --config "$OP" "$RID"

step "11. alice approves tier 2 (web-2 and web-3, at most 2 at a time)"
run calyx-rollout approve --config "$OP" --key "$D/keys/alice.key" --tier 2 "$RID"
wait_for 60 "$RID" 'v["tiers"][1]["status"] == "done"'
run calyx-rollout status --config "$OP" "$RID"

step "12. alice approves tier 3 (web-4..web-6); watch until the rollout settles"
run calyx-rollout approve --config "$OP" --key "$D/keys/alice.key" --tier 3 "$RID"
printf '$ calyx-rollout status --config %s --watch %s >%s\n' "$OP" "$RID" "$D/watch.txt"
timeout 90 calyx-rollout status --config "$OP" --watch "$RID" >"$D/watch.txt" ||
	die "status --watch did not end within 90 s (or failed): $(tail -n 3 "$D/watch.txt")"
echo "(it printed $(grep -c '^rollout ' "$D/watch.txt" || true) blocks, one per change in etcd and the last when the rollout settled; that last one:)"
awk '/^rollout /{ buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$D/watch.txt"
drive_wait
view "$RID"
T2=$(date +%s)
ACT1_STATE=$(vq 'v["state"]')
ACT1_COMMITTED=$(vq 'v["counts"]["committed"]')
echo "(state $ACT1_STATE, $ACT1_COMMITTED of $NHOSTS hosts committed, $((T2 - T1)) s from start)"

step "13. the rollout's page: one self-contained HTML file (no script, strict CSP), and Markdown"
run calyx-rollout report --config "$OP" --format html -o "$D/rollout.html" "$RID"
run calyx-rollout report --config "$OP" --format md -o "$D/rollout.md" "$RID"
sed -n '1,/^## /p' "$D/rollout.md" | sed '$d'
echo "(open $D/rollout.html in a browser; Markdown in $D/rollout.md)"

step "14. what every host's workspace holds now"
run cat "$D/hosts/web-4/srv/VERSION"
versions

# ---- act 2 --------------------------------------------------------------
step "15. act 2: release 4.3, but web-1 (the canary) has a bad build: its validate step fails"
run touch "$D/hosts/web-1/srv/BAD-BUILD"
chown 1000:1000 "$D/hosts/web-1/srv/BAD-BUILD"
lease release-4.3 4.3
run calyx-rollout plan --lease "$D/release-4.3.lease" --hosts "$(cat "$D/hosts.txt")" --tiers 16,50,100 \
	--gate auto --soak 0 --deadline 300 --max-parallel 2 --on-failure halt \
	-o "$D/release-4.3.ro" | tee "$D/release-4.3.plan"
RID2=$(rollout_id "$D/release-4.3.plan")
[ -n "$RID2" ] || die "no rollout id in the plan's output"
quiet calyx-rollout sign --key "$D/keys/alice.key" --yes "$D/release-4.3.ro"
quiet calyx-rollout sign --key "$D/keys/bot.key" --yes "$D/release-4.3.ro"
run calyx-rollout start --config "$OP" --lease "$D/release-4.3.lease" "$D/release-4.3.ro"
drive_start "$RID2"

step "16. the canary fails validate: its run is discarded and the driver halts the rollout"
wait_for 60 "$RID2" 'v["state"] == "halted" and v["counts"]["running"] == 0 and v["counts"]["claimed"] == 0'
drive_wait
run cat "$D/drive-$RID2.log"
run calyx-rollout status --config "$OP" "$RID2"
ACT2_STATE=$(vq 'v["state"]')
ACT2_WAITING=$(vq 'v["counts"]["waiting"]')

step "17. the page says why nothing shipped"
run calyx-rollout report --config "$OP" --format html -o "$D/rollout-halted.html" "$RID2"
run calyx-rollout report --config "$OP" --format md -o "$D/rollout-halted.md" "$RID2"
printf '$ sed -n '\''/Why not shipped/,/^## /p'\'' %s\n' "$D/rollout-halted.md"
sed -n '/[Ww]hy not shipped/,/^## /p' "$D/rollout-halted.md" | sed '$d'
echo "(web-1's failed run was discarded; no other host was claimed:)"
versions

# ---- verdict ------------------------------------------------------------
step "demo-fleet: what was shown"
ok=1
for i in $(seq 1 "$NHOSTS"); do
	[ "$(cat "$D/hosts/web-$i/srv/VERSION")" = version=4.2 ] || ok=0
done
cat <<EOF
  etcd        3 members on 127.0.0.1:$((PORT + 1))-$((PORT + 3)) (peers $((PORT + 101))-$((PORT + 103))), data $D/etcd (removed at exit)
  hosts       web-1..web-$NHOSTS, one calyx-agent each, own config, host key, audit log and workspace
  act 1       release 4.2: canary (auto) -> alice approved tier 2 -> alice approved tier 3
              rollout $RID: $ACT1_STATE, $ACT1_COMMITTED/$NHOSTS committed in $((T2 - T1)) s
              page: $D/rollout.html (and rollout.md)
  act 2       release 4.3 with a bad build on the canary: validate failed, the driver halted
              rollout $RID2: $ACT2_STATE, $ACT2_WAITING hosts never claimed
              page: $D/rollout-halted.html (and rollout-halted.md)
  workspaces  $(for i in $(seq 1 "$NHOSTS"); do printf 'web-%s %s  ' "$i" "$(sed 's/^version=//' "$D/hosts/web-$i/srv/VERSION")"; done)
  total       $(($(date +%s) - T0)) s
EOF
if [ "$ACT1_STATE" != completed ] || [ "$ACT1_COMMITTED" != "$NHOSTS" ] || [ "$ok" != 1 ]; then
	die "the rollout did not complete, or a host does not hold version 4.2"
fi
[ "$ACT2_STATE" = halted ] || die "act 2's rollout is $ACT2_STATE, not halted"
step "demo-fleet complete"
