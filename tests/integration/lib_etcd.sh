# shellcheck shell=bash
# A private etcd cluster on loopback for the pool ledger's tests and bench.
# Source it after lib.sh (it uses $T and lib_atexit):
#
#   etcd_start N [EXTRA_FLAGS...]   N members (m1..mN), client ports
#                                   ETCD_PORT+1..+N, peer ports ETCD_PORT+101..;
#                                   data and logs in $T/etcd; every member is
#                                   killed and its data removed at exit
#   etcd_wait_healthy [SECONDS]     every started member answers a linearizable read
#   etcd_endpoints_json             ["http://127.0.0.1:P1", ...] (scheme: $ETCD_SCHEME)
#   etcd_kill I / etcd_restart I    SIGKILL member I / start it again (same data)
#   etcd_leader                     the index of the current leader (0: none known)
#   etcd_curl PATH JSON [I]         POST to member I's gateway (default 1)
#
# Never the default ports 2379/2380: ETCD_PORT defaults to 23790 (clients
# 23791.., peers 23891..). Fast elections (heartbeat 50 ms, election 500 ms)
# so leader kills settle quickly. Needs etcd (Debian's etcd-server).
ETCD_PORT=${ETCD_PORT:-23790}
ETCD_SCHEME=${ETCD_SCHEME:-http}
ETCD_N=0
ETCD_EXTRA=()
declare -a ETCD_PID

etcd_have() { command -v etcd >/dev/null 2>&1; }

etcd_url() { echo "$ETCD_SCHEME://127.0.0.1:$((ETCD_PORT + $1))"; }
etcd_peer() { echo "http://127.0.0.1:$((ETCD_PORT + 100 + $1))"; }

etcd_cluster_spec() {
	local i s=""
	for i in $(seq 1 "$ETCD_N"); do s="$s${s:+,}m$i=$(etcd_peer "$i")"; done
	echo "$s"
}

# etcd_launch I STATE: one member in the background.
etcd_launch() {
	local i=$1 state=$2
	etcd --name "m$i" --data-dir "$T/etcd/m$i" \
		--listen-client-urls "$(etcd_url "$i")" --advertise-client-urls "$(etcd_url "$i")" \
		--listen-peer-urls "$(etcd_peer "$i")" --initial-advertise-peer-urls "$(etcd_peer "$i")" \
		--initial-cluster "$(etcd_cluster_spec)" --initial-cluster-state "$state" \
		--initial-cluster-token "calyx-test-$$" --heartbeat-interval 50 --election-timeout 500 \
		"${ETCD_EXTRA[@]}" >>"$T/etcd/m$i.log" 2>&1 &
	ETCD_PID[$i]=$!
	# out of the job table: no "Killed" notice when a test kills it, and
	# a bare `wait` in a test does not wait for it (bash still reaps it)
	disown "${ETCD_PID[$i]}"
}

# etcd_gone PID: wait (at most 5 s) until the process has exited
etcd_gone() {
	local k
	for k in $(seq 1 100); do
		[ -d "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 0
		sleep 0.05
	done
}

etcd_stop_all() {
	local i
	for i in $(seq 1 "$ETCD_N"); do
		[ -n "${ETCD_PID[$i]:-}" ] && kill -9 "${ETCD_PID[$i]}" 2>/dev/null
	done
	for i in $(seq 1 "$ETCD_N"); do
		[ -n "${ETCD_PID[$i]:-}" ] && etcd_gone "${ETCD_PID[$i]}"
		ETCD_PID[$i]=""
	done
	rm -rf "$T/etcd"
}

etcd_start() {
	local n=$1 i
	shift
	ETCD_N=$n
	ETCD_EXTRA=("$@")
	mkdir -p "$T/etcd"
	lib_atexit etcd_stop_all
	for i in $(seq 1 "$n"); do etcd_launch "$i" new; done
}

# etcd_curl PATH JSON [I]: the member's gateway answer on stdout.
etcd_curl() {
	local i=${3:-1}
	curl -sS --max-time 2 ${ETCD_CURL_FLAGS:-} -X POST "$(etcd_url "$i")$1" -d "$2"
}

etcd_wait_healthy() {
	local secs=${1:-30} i ok end
	end=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$end" ]; do
		ok=0
		for i in $(seq 1 "$ETCD_N"); do
			[ -n "${ETCD_PID[$i]:-}" ] || { ok=$((ok + 1)); continue; }
			etcd_curl /v3/kv/range '{"key":"aGVhbHRo"}' "$i" 2>/dev/null | grep -q '"revision"' && ok=$((ok + 1))
		done
		[ "$ok" -eq "$ETCD_N" ] && return 0
		sleep 0.2
	done
	return 1
}

etcd_endpoints_json() {
	local i s=""
	for i in $(seq 1 "$ETCD_N"); do s="$s${s:+, }\"$(etcd_url "$i")\""; done
	echo "[$s]"
}

etcd_kill() {
	[ -n "${ETCD_PID[$1]:-}" ] || return 0
	kill -9 "${ETCD_PID[$1]}" 2>/dev/null
	etcd_gone "${ETCD_PID[$1]}"
	ETCD_PID[$1]=""
}

etcd_restart() {
	[ -z "${ETCD_PID[$1]:-}" ] || return 0
	etcd_launch "$1" existing
}

# etcd_leader: the member index whose id the live members name as leader.
etcd_leader() {
	local i st lid mid
	for i in $(seq 1 "$ETCD_N"); do
		[ -n "${ETCD_PID[$i]:-}" ] || continue
		st=$(etcd_curl /v3/maintenance/status '{}' "$i" 2>/dev/null) || continue
		lid=$(printf '%s' "$st" | sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p')
		mid=$(printf '%s' "$st" | sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p')
		if [ -n "$lid" ] && [ "$lid" = "$mid" ]; then
			echo "$i"
			return 0
		fi
	done
	echo 0
}
