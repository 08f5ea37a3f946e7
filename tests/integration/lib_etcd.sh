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
# and, for simulated hosts $T/h1..hN (mk_host) sharing a pool ledger
# under POOL_PREFIX:
#   race LEASE CONF N               hosts 1..N run LEASE at once (with their
#                                   etc/CONF); $T/race/I.rc and I.err
#   race_count RC / winners         how many exited RC / the hosts that ran it
#   etcd_holders LEASE_ID [I]       the host ids the pool's ledger lists
#   pool_ledger_cfg TIMEOUT_MS      the config's "ledger" member for this cluster
#   pool_hosts N POLICY             hosts h1..hN (host ids web-1..web-N) in pool
#                                   "web" on this cluster, timeout_ms 2000; each
#                                   also with etc/short.conf (timeout_ms 300)
#   pool_rounds ROUNDS N LEASE_FN   ROUNDS races of hosts 1..N on a fresh
#                                   lease each (LEASE_FN OUT makes one); every
#                                   5th kills the etcd leader mid-race, the
#                                   racers on etc/short.conf. Counts in R_*:
#                                   R_DOUBLE rounds with 2+ winners,
#                                   R_MISMATCH winners etcd does not list,
#                                   R_BADCLEAN kill-free rounds without exactly
#                                   1 winner and N-1 refusals, R_BADRC other
#                                   exit codes; R_CLEAN, R_KILLS, R_UNAV (125s),
#                                   R_AMB (ambiguous), R_WHAT (first problem)
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
	ETCD_PID[i]=$!
	# out of the job table: no "Killed" notice when a test kills it, and
	# a bare `wait` in a test does not wait for it (bash still reaps it)
	disown "${ETCD_PID[$i]}"
}

# etcd_gone PID: wait (at most 30 s) until the process has exited (a
# SIGKILLed member at once; an agent ends its poll first, slower under
# the sanitizer on a loaded VM: giving up early left it running beside
# its restarted self)
etcd_gone() {
	for _ in $(seq 1 600); do
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
		ETCD_PID[i]=""
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
	# shellcheck disable=SC2086 # flags, split on purpose
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

# race LEASE CONF N: hosts 1..N run it at once; $T/race/I.rc and .err
race() {
	local lease=$1 conf=$2 n=$3 i
	rm -rf "$T/race"
	mkdir -p "$T/race"
	local pids=()
	for i in $(seq 1 "$n"); do
		("$EXEC" --config "$T/h$i/etc/$conf" --lease "$lease" >/dev/null 2>"$T/race/$i.err"
		 echo $? >"$T/race/$i.rc") &
		pids+=($!)
	done
	# (not a bare wait: the etcd members are this shell's children too)
	wait "${pids[@]}"
}
race_count() { cat "$T"/race/*.rc | grep -cx "$1"; }
winners() { grep -lx 0 "$T"/race/*.rc | sed 's|.*/\([0-9]*\)\.rc|\1|' | tr '\n' ' '; }

# etcd_holders LEASE_ID: the host ids the pool's ledger lists
etcd_holders() {
	local key val
	key=$(printf '%sledger/%s' "$POOL_PREFIX" "$1" | base64 -w0)
	val=$(etcd_curl /v3/kv/range "{\"key\":\"$key\"}" "${2:-1}" |
		sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d 2>/dev/null)
	printf '%s' "$val" | grep -o '"host_id":"[^"]*"' | sed 's/"host_id":"\(.*\)"/\1/' | sort | tr '\n' ' '
}

pool_ledger_cfg() {
	printf '"ledger": {"backend": "etcd", "endpoints": %s, "prefix": "%s", "timeout_ms": %d}' \
		"$(etcd_endpoints_json)" "$POOL_PREFIX" "$1"
}

pool_hosts() {
	local i
	for i in $(seq 1 "$1"); do
		mk_host "h$i" "$2" "web-$i" "\"pools\": [\"web\"], $(pool_ledger_cfg 2000)" || return 1
		if ! sed 's/"timeout_ms": 2000/"timeout_ms": 300/' "$T/h$i/etc/calyx.conf" >"$T/h$i/etc/short.conf" ||
			! chmod 644 "$T/h$i/etc/short.conf"; then
			WHY="short.conf for h$i"
			return 1
		fi
	done
}

pool_rounds() {
	local rounds=$1 n=$2 mk=$3 r lid lead w rp
	R_DOUBLE=0 R_MISMATCH=0 R_BADCLEAN=0 R_BADRC=0 R_CLEAN=0 R_KILLS=0 R_UNAV=0 R_AMB=0 R_WHAT=""
	for r in $(seq 1 "$rounds"); do
		"$mk" "$T/r.lease" || { R_WHAT="round $r: no lease: $WHY"; return 1; }
		lid=$(lease_id "$T/r.lease")
		if [ $((r % 5)) -eq 0 ]; then
			lead=$(etcd_leader)
			race "$T/r.lease" short.conf "$n" &
			rp=$!
			sleep 0.0$((RANDOM % 5 + 1))
			if [ "$lead" -gt 0 ]; then
				etcd_kill "$lead"
				R_KILLS=$((R_KILLS + 1))
			fi
			wait "$rp"
			[ "$lead" -gt 0 ] && etcd_restart "$lead"
			etcd_wait_healthy 30 || { R_WHAT="round $r: the cluster did not recover"; return 1; }
		else
			race "$T/r.lease" calyx.conf "$n"
		fi
		w=$(race_count 0)
		if [ "$w" -gt 1 ]; then
			R_DOUBLE=$((R_DOUBLE + 1))
			R_WHAT=${R_WHAT:-"round $r: hosts $(winners) ran one lease"}
		fi
		if [ "$w" -eq 1 ] && [ "$(etcd_holders "$lid")" != "web-$(winners | tr -d ' ') " ]; then
			R_MISMATCH=$((R_MISMATCH + 1))
			R_WHAT=${R_WHAT:-"round $r: web-$(winners) ran it, etcd lists '$(etcd_holders "$lid")'"}
		fi
		if [ $((r % 5)) -ne 0 ]; then
			if [ "$w" -eq 1 ] && [ "$(race_count 77)" -eq $((n - 1)) ]; then
				R_CLEAN=$((R_CLEAN + 1))
			else
				R_BADCLEAN=$((R_BADCLEAN + 1))
				R_WHAT=${R_WHAT:-"round $r: $w winners, $(race_count 77) refusals: $(head -n 1 "$T"/race/*.err | grep -v '^$' | head -n 2 | tr '\n' ' ')"}
			fi
		else
			if [ $(($(race_count 77) + $(race_count 125) + w)) -ne "$n" ]; then
				R_BADRC=$((R_BADRC + 1))
				R_WHAT=${R_WHAT:-"round $r: exit codes $(cat "$T"/race/*.rc | sort | uniq -c | tr '\n' ' ')"}
			fi
			R_AMB=$((R_AMB + $(grep -l 'may have landed' "$T"/race/*.err 2>/dev/null | wc -l)))
			R_UNAV=$((R_UNAV + $(race_count 125)))
		fi
	done
}
