#!/usr/bin/env bash
# Pool leases on the etcd ledger: one lease for a pool of hosts runs on
# exactly one of them (or exactly "count"), decided by a 3-member etcd
# cluster started here on loopback (own ports, never 2379/2380, removed at
# exit). Every simulated host is its own config, state dir, audit log and
# host id, sharing one keyring and policy.
#
#   bash tests/integration/pool.sh [BUILD_DIR]   (default: build; root)
#
# POOL_ROUNDS (default 100): racing rounds of 20 hosts; every 5th round
# kills the etcd leader mid-race, with the racers' timeout short
# (300 ms) to force lost answers: never two winners.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"
# shellcheck source=tests/integration/lib_etcd.sh
source "$(dirname "$0")/lib_etcd.sh"

# the sanitizer build checks memory, not the race: fewer rounds
case $B in */asan) ROUNDS=${POOL_ROUNDS:-20} ;; *) ROUNDS=${POOL_ROUNDS:-100} ;; esac
NHOSTS=20
CTL=$B/calyx-ctl
POOL_PREFIX="it$$/"

if ! etcd_have; then
	skip_test pool_all "etcd is not installed (scripts/install-deps.sh installs etcd-server)"
	summary
	exit $?
fi
if ! command -v curl >/dev/null 2>&1; then
	skip_test pool_all "curl is not installed"
	summary
	exit $?
fi

etcd_start 3
if ! etcd_wait_healthy 30; then
	echo "pool.sh: the test's etcd cluster did not come up: $(tail -n 3 "$T"/etcd/m1.log)" >&2
	exit 2
fi

mkdir -p "$T/srv"
policy_json '["/usr/bin/true", "/usr/bin/sleep"]' '["/usr"]' >"$T/pool.policy.json"
pool_hosts $NHOSTS "$T/pool.policy.json" || { echo "pool.sh: $WHY" >&2; exit 2; }
mk_host out "$T/pool.policy.json" db-1 "\"pools\": [\"db\"], $(pool_ledger_cfg 2000)" || exit 2
mk_host dirhost "$T/pool.policy.json" web-99 '"pools": ["web"]' || exit 2

# pool_lease OUT [EXTRA_BODY]: a lease for pool:web running /usr/bin/true
pool_lease() {
	HOST_ID=pool:web body_json '["/usr/bin/true"]' "${2:-}" >"$T/body.json"
	mk_lease h1 "$1" "$T/body.json"
}

t_one_of_twenty() {
	local lid w
	pool_lease "$T/one.lease" || return 1
	lid=$(lease_id "$T/one.lease")
	race "$T/one.lease" calyx.conf $NHOSTS
	[ "$(race_count 0)" -eq 1 ] || fail "$(race_count 0) hosts ran it, expected 1 (rcs: $(cat "$T"/race/*.rc | tr '\n' ' '))" || return 1
	[ "$(race_count 77)" -eq $((NHOSTS - 1)) ] || fail "$(race_count 77) refusals (77), expected $((NHOSTS - 1))" || return 1
	w=$(winners | tr -d ' ')
	for i in $(seq 1 $NHOSTS); do
		[ "$i" = "$w" ] && continue
		grep -q "\[E_REPLAY\]: .*pool 'web': web-$w " "$T/race/$i.err" ||
			fail "host $i does not name the winner web-$w: $(head -n 1 "$T/race/$i.err")" || return 1
		[ ! -e "$T/h$i/state/ledger/$lid" ] || fail "loser $i has a local ledger entry" || return 1
	done
	[ -e "$T/h$w/state/ledger/$lid" ] || fail "the winner has no local ledger entry" || return 1
	grep -q '"etcd_revision":[1-9]' "$T/h$w/state/ledger/$lid" || fail "local entry lacks the etcd revision" || return 1
	[ "$(etcd_holders "$lid")" = "web-$w " ] || fail "etcd lists '$(etcd_holders "$lid")', expected web-$w" || return 1
	grep -q '"type":"lease.consumed".*"ledger":"etcd","pool":"web"' "$T/h$w/log/audit.jsonl" ||
		fail "the winner's lease.consumed does not name the pool ledger" || return 1
}

t_count_five() {
	local lid
	pool_lease "$T/five.lease" '"count": 5' || return 1
	lid=$(lease_id "$T/five.lease")
	race "$T/five.lease" calyx.conf $NHOSTS
	[ "$(race_count 0)" -eq 5 ] || fail "$(race_count 0) hosts ran it, expected 5" || return 1
	[ "$(race_count 77)" -eq 15 ] || fail "$(race_count 77) refusals, expected 15" || return 1
	[ "$(etcd_holders "$lid" | wc -w)" -eq 5 ] || fail "etcd lists $(etcd_holders "$lid" | wc -w) holders" || return 1
	for w in $(winners); do
		etcd_holders "$lid" | grep -qw "web-$w" || fail "winner web-$w is not in etcd's holders" || return 1
	done
}

# 100 rounds of 20 racers; every 5th, the leader is killed mid-race with
# the racers' deadline at 300 ms: at most one winner, ever, and a winner
# is the one etcd lists (pool_rounds, lib_etcd.sh).
t_rounds_with_leader_kills() {
	pool_rounds "$ROUNDS" $NHOSTS pool_lease || return 1
	[ "$R_DOUBLE" -eq 0 ] || fail "$R_DOUBLE rounds had more than one winner: $R_WHAT" || return 1
	[ "$R_MISMATCH" -eq 0 ] || fail "$R_MISMATCH winners etcd does not list: $R_WHAT" || return 1
	[ "$R_BADCLEAN" -eq 0 ] || fail "$R_BADCLEAN rounds without a kill did not have 1 winner and $((NHOSTS - 1)) refusals: $R_WHAT" || return 1
	[ "$R_BADRC" -eq 0 ] || fail "$R_BADRC kill rounds ended other than 0, 77 or 125: $R_WHAT" || return 1
	echo "    $ROUNDS rounds x $NHOSTS racers: $R_CLEAN clean rounds with exactly 1 winner; $R_KILLS leader kills mid-race: $R_UNAV refusals without a decision (125), $R_AMB of them ambiguous; never 2 winners"
}

# 2 of 3 members down: every host refuses (it does not hang: a run cut by
# the 60 s guard exits 124, a failure), exit 125, one line, nothing
# consumed; back up: runs proceed. How fast it refuses is a figure of
# make bench-ledger (ledger.quorum_refusal_max_ms, goal timeout_ms +
# 0.5 s), printed here, never asserted: 5 sanitizer builds starting at
# once on a loaded 2-CPU VM take longer than the product's deadline.
t_quorum_loss() {
	local lid i rc ms worst=0
	pool_lease "$T/q.lease" || return 1
	lid=$(lease_id "$T/q.lease")
	etcd_kill 2
	etcd_kill 3
	local pids=()
	for i in 1 2 3 4 5; do
		(t0=$(date +%s%N)
		 timeout -k 5 60 "$EXEC" --config "$T/h$i/etc/calyx.conf" --lease "$T/q.lease" >/dev/null 2>"$T/q$i.err"
		 echo "$? $((($(date +%s%N) - t0) / 1000000))" >"$T/q$i.rc") &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in 1 2 3 4 5; do
		read -r rc ms <"$T/q$i.rc"
		[ "$rc" -eq 125 ] || fail "host $i: exit $rc, expected 125: $(head -n 1 "$T/q$i.err")" || return 1
		[ "$(nlines "$T/q$i.err")" -eq 1 ] && grep -q '^calyx-exec: error \[E_LEDGER_UNAVAILABLE\]: ' "$T/q$i.err" ||
			fail "host $i: not one E_LEDGER_UNAVAILABLE line: $(tr '\n' '|' <"$T/q$i.err")" || return 1
		[ "$ms" -gt "$worst" ] && worst=$ms
		[ ! -e "$T/h$i/state/ledger/$lid" ] || fail "host $i consumed the lease locally" || return 1
		[ -z "$(ls -A "$T/h$i/state/runs" 2>/dev/null)" ] || fail "host $i left a run dir" || return 1
	done
	echo "    quorum lost: 5 hosts refused in at most $worst ms (timeout_ms 2000)"
	etcd_restart 2
	etcd_restart 3
	etcd_wait_healthy 30 || fail "the cluster did not come back" || return 1
	pool_lease "$T/q2.lease" || return 1
	race "$T/q2.lease" calyx.conf 5
	[ "$(race_count 0)" -eq 1 ] || fail "after the restart $(race_count 0) hosts ran the new lease, expected 1" || return 1
}

t_not_in_pool() {
	local lid
	pool_lease "$T/np.lease" || return 1
	lid=$(lease_id "$T/np.lease")
	check_one_line 77 E_AUDIENCE cx out --lease "$T/np.lease" || return 1
	grep -q "pool 'web', this host ('db-1') is not in it" "$ERR" || fail "message: $(first_err)" || return 1
	[ -z "$(etcd_holders "$lid")" ] || fail "a refused host claimed it in etcd" || return 1
}

t_dir_ledger_host() {
	local lid
	pool_lease "$T/dl.lease" || return 1
	lid=$(lease_id "$T/dl.lease")
	check_one_line 125 E_LEDGER cx dirhost --lease "$T/dl.lease" || return 1
	grep -q "this host's ledger is its own" "$ERR" || fail "message: $(first_err)" || return 1
	[ ! -e "$T/dirhost/state/ledger/$lid" ] || fail "the dir-ledger host consumed it" || return 1
	# and the lease is still good for the pool
	race "$T/dl.lease" calyx.conf 3
	[ "$(race_count 0)" -eq 1 ] || fail "the pool could not run it afterwards" || return 1
}

t_forged_lease_claims_nothing() {
	local lid
	pool_lease "$T/f.lease" || return 1
	lid=$(lease_id "$T/f.lease")
	# the agent's signature replaced by a stranger's key: verification
	# refuses before the ledger is asked
	python3 - "$T/f.lease" <<'PY' || return 1
import json, sys
p = sys.argv[1]
e = json.load(open(p))
s = e["signatures"][1]["sig"]
e["signatures"][1]["sig"] = ("B" if s[0] != "B" else "C") + s[1:]
json.dump(e, open(p, "w"))
PY
	check_one_line 77 E_BAD_SIG cx h1 --lease "$T/f.lease" || return 1
	[ -z "$(etcd_holders "$lid")" ] || fail "a forged lease reached the pool's ledger" || return 1
}

t_ctl_ledger_shows_holders() {
	local lid w
	pool_lease "$T/c.lease" || return 1
	lid=$(lease_id "$T/c.lease")
	race "$T/c.lease" calyx.conf 4
	w=$(winners | tr -d ' ')
	check 0 "" "$CTL" --config "$T/h1/etc/calyx.conf" ledger "$lid" || return 1
	grep -q "web-$w" "$OUT" || fail "calyx-ctl ledger does not name web-$w: $(head -c 300 "$OUT")" || return 1
	grep -q "revision" "$OUT" || fail "calyx-ctl ledger shows no revision" || return 1
	check 2 "is not a lease id" "$CTL" --config "$T/h1/etc/calyx.conf" ledger nothex || return 1
	check 0 "" "$CTL" --config "$T/h1/etc/calyx.conf" ledger 0123456789abcdef0123456789abcdef || return 1
	expect_stdout_has "no host holds lease 0123456789abcdef0123456789abcdef" || return 1
}

# TLS with client certificates and an etcd user, one member of its own
# (the 3-member cluster is stopped first): the pool lease runs; a wrong
# password, a missing client certificate and a certificate with a Common
# Name (etcd 3.4's gateway answers 400) are refused in one line, exit 125.
t_tls_and_user() {
	local d=$T/tls lid E
	command -v openssl >/dev/null 2>&1 || { WHY="openssl missing"; return 1; }
	command -v etcdctl >/dev/null 2>&1 || { WHY="etcdctl missing (etcd-client)"; return 1; }
	etcd_stop_all
	mkdir -p "$d" && chmod 700 "$d"
	(
		cd "$d" || exit 1
		gen() { # gen NAME SUBJECT EXT: a P-256 key and a certificate signed by the CA
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" \
				-out "$1.csr" -subj "$2" &&
				printf '%b' "$3" >"$1.ext" &&
				openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" \
					-days 2 -extfile "$1.ext"
		}
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
			-out ca.crt -subj "/O=calyx-test CA" -days 2 &&
			gen srv "/O=calyx-test server" 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' &&
			gen cli "/O=calyx-test client" 'extendedKeyUsage=clientAuth\n' &&
			gen cn "/CN=web-1/O=calyx-test" 'extendedKeyUsage=clientAuth\n'
	) >"$d/gen.log" 2>&1 || fail "openssl: $(tail -n 2 "$d/gen.log")" || return 1
	chmod 600 "$d"/*.key
	ETCD_PORT=23770 ETCD_SCHEME=https
	ETCD_CURL_FLAGS="--cacert $d/ca.crt --cert $d/cli.crt --key $d/cli.key"
	etcd_start 1 --cert-file "$d/srv.crt" --key-file "$d/srv.key" --client-cert-auth \
		--trusted-ca-file "$d/ca.crt"
	etcd_wait_healthy 30 || fail "the TLS member did not come up: $(tail -n 2 "$T/etcd/m1.log")" || return 1
	E="etcdctl --endpoints $(etcd_url 1) --cacert $d/ca.crt --cert $d/cli.crt --key $d/cli.key"
	{ $E user add root --new-user-password=rootpw && $E user add calyx --new-user-password=s3cret &&
		$E role add calyx && $E role grant-permission calyx readwrite --prefix=true "$POOL_PREFIX" &&
		$E user grant-role calyx calyx && $E auth enable; } >"$d/auth.log" 2>&1 ||
		fail "etcd auth setup: $(tail -n 2 "$d/auth.log")" || return 1
	printf 's3cret\n' >"$d/pw" && chmod 600 "$d/pw"
	printf 'wrong\n' >"$d/badpw" && chmod 600 "$d/badpw"
	tls_host() { # tls_host NAME CERT PWFILE
		local c=${2:+, \"cert\": \"$d/$2.crt\", \"key\": \"$d/$2.key\"}
		mk_host "$1" "$T/pool.policy.json" "$1" "\"pools\": [\"web\"], \"ledger\": {\"backend\": \"etcd\", \"endpoints\": [\"$(etcd_url 1)\"], \"prefix\": \"$POOL_PREFIX\", \"timeout_ms\": 1500, \"ca\": \"$d/ca.crt\"$c, \"username\": \"calyx\", \"password_file\": \"$d/$3\"}"
	}
	tls_host tls-ok cli pw && tls_host tls-badpw cli badpw && tls_host tls-nocert "" pw &&
		tls_host tls-cn cn pw || return 1
	pool_lease "$T/tls.lease" || return 1
	lid=$(lease_id "$T/tls.lease")
	check_one_line 125 E_LEDGER cx tls-badpw --lease "$T/tls.lease" || return 1
	grep -q "refused user 'calyx'" "$ERR" || fail "wrong password: $(first_err)" || return 1
	check_one_line 125 E_LEDGER_UNAVAILABLE cx tls-nocert --lease "$T/tls.lease" || return 1
	check_one_line 125 E_LEDGER cx tls-cn --lease "$T/tls.lease" || return 1
	grep -q "certificate with a Common Name" "$ERR" || fail "CN certificate: $(first_err)" || return 1
	check 0 "" cx tls-ok --lease "$T/tls.lease" || return 1
	grep -q '"etcd_revision":[1-9]' "$T/tls-ok/state/ledger/$lid" || fail "no etcd revision recorded" || return 1
	check_one_line 77 E_REPLAY cx tls-ok --lease "$T/tls.lease" || return 1
}

# The etcd lease claims attach their keys to is reused from
# STATE/ledger.etcd-lease; one etcd no longer knows (here: made up) is
# replaced by a fresh grant, and the claim goes through.
t_stale_grant_regranted() {
	local lid
	printf '{"id":"12345","expires_at":%d}' $(($(date +%s) + 864000)) >"$T/h2/state/ledger.etcd-lease"
	pool_lease "$T/sg.lease" || return 1
	lid=$(lease_id "$T/sg.lease")
	check 0 "" cx h2 --lease "$T/sg.lease" || return 1
	grep -q '"id":"12345"' "$T/h2/state/ledger.etcd-lease" && fail "the stale grant is still cached" && return 1
	[ "$(etcd_holders "$lid")" = "web-2 " ] || fail "etcd lists '$(etcd_holders "$lid")'" || return 1
	# and the next claim reuses the new one: one transaction, no grant
	pool_lease "$T/sg2.lease" || return 1
	check 0 "" cx h2 --lease "$T/sg2.lease" || return 1
	grep '"type":"lease.consumed"' "$T/h2/log/audit.jsonl" | tail -n 1 | grep -q '"attempts":1' ||
		fail "the second claim took more than one transaction" || return 1
}

run_test pool_one_of_twenty_runs t_one_of_twenty
run_test pool_count_five_of_twenty t_count_five
run_test pool_stale_grant_regranted t_stale_grant_regranted
run_test pool_host_not_in_pool_refused t_not_in_pool
run_test pool_lease_on_dir_ledger_refused t_dir_ledger_host
run_test pool_forged_lease_claims_nothing t_forged_lease_claims_nothing
run_test pool_ctl_ledger_shows_holders t_ctl_ledger_shows_holders
run_test pool_rounds_never_two_winners t_rounds_with_leader_kills
run_test pool_quorum_loss_refused_nothing_consumed t_quorum_loss
if command -v openssl >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1; then
	run_test pool_tls_client_cert_and_user t_tls_and_user
else
	skip_test pool_tls_client_cert_and_user "openssl or etcdctl missing (scripts/install-deps.sh installs etcd-client)"
fi
summary
