# shellcheck shell=bash disable=SC2034,SC2016
# (SC2034: the fixtures are used by the case files; SC2016: lib_atexit
# takes commands to eval at exit, quoted on purpose.)
#
# Fixtures and helpers shared by the adversarial cases (tests/adversarial/
# cases/*.case). Sourced by tests/adversarial/run.sh after tests/
# integration/lib.sh; not run on its own.
#
# Fixtures (adv_fixtures):
#   R          a root-owned 0755 dir under /var/tmp (a lease may not name
#              paths under /tmp or /work, the view's own mount points)
#   P          $R/probes: the probes and the workloads, leased read-only
#   HT         $P/hosttool, the host-side helper (race, listen, storm, ctl)
#   CANARY1 PUBCANARY CANARY2   host files no lease names (checked last)
#   VICTIM     a host process of uid 65534 the sandbox tries to kill
#   PORT ABSTRACT IPC_KEY LISTENER   a host TCP/abstract-unix/SysV listener
#   hosts in $T (lib.sh's mk_host), all on the same policy file:
#     adv      run uid 65534 (fixed in its config: the victim shares it,
#              the strongest case; the default is a uid per run), network none
#     advlo    the same with network loopback allowed
#     advu     a run uid of its own ($ADV_UID): "nothing left behind" is
#              checked by uid (resource bombs, signal storms, control socket)
#     advst    state dir and audit log under $R/advst, and a policy that
#              may read $R/advst: the state dir can be put in a view
#              (read-only); the host's modes must still keep the run out
#
# Helpers: mkws, json_str, body, lease, sign_raw, run_lease, run_lease_r,
# n_verdict, escaped_list, error_list, expect_denied, expect_refused, rget,
# nothing_left, run_cgroups, audit_ok, ledger_count, wait_exec_started,
# bg_exec/bg_wait, after_crash; and the checks shared by several cases:
# huge_refused, swap_judge, state_attack.
# Every helper that judges an outcome sets OUTCOME (the runner's
# vocabulary) and OBS (details for the table).

ADV_PROBES=(path_traversal ws_links mount_race proc_escape fd_leak proc_exe tty_inject abi_bypass
	ns_mount ptrace_kill sysctl_cgroup fs_privs setuid_exec sockets kernel_surface ipc_pair
	argv_echo suid_plant privs_state hosttool exhaust state_reach cgroup_ns unix_reach write_exec loader_exec)
ADV_WORKLOADS=(forkbomb hog spin sleeper idle wsops oddexec)
CG=/sys/fs/cgroup

# adv_fixtures: build every fixture above; exit 2 if the host cannot.
adv_fixtures() {
	local p w c _try _i pd=${ADV_PROBE_DIR:-$B/probes} wd=${ADV_WORKLOAD_DIR:-$B/workloads}
	for p in "${ADV_PROBES[@]}"; do
		[ -x "$pd/$p" ] || { echo "run.sh: $pd/$p missing (run 'make tests')" >&2; exit 2; }
	done
	for w in "${ADV_WORKLOADS[@]}"; do
		[ -x "$wd/$w" ] || { echo "run.sh: $wd/$w missing (run 'make tests')" >&2; exit 2; }
	done

	R=$(mktemp -d /var/tmp/calyx-adv.XXXXXX) || exit 2
	chmod 755 "$R"
	lib_atexit 'rm -rf "$R"'
	P=$R/probes
	mkdir -p "$P" && chmod 755 "$P" || exit 2
	for p in "${ADV_PROBES[@]}"; do install -m 0755 "$pd/$p" "$P/$p" || exit 2; done
	for w in "${ADV_WORKLOADS[@]}"; do install -m 0755 "$wd/$w" "$P/$w" || exit 2; done
	HT=$P/hosttool

	# Host canaries: outside every lease; checked unchanged at the end.
	CANARY1=$R/canary              # root 0600, hardlinked into a workspace
	PUBCANARY=$R/pubcanary         # root 0644, hardlinked into a workspace
	CANARY2=/root/calyx-canary.$$  # root 0600 in root's home
	lib_atexit 'rm -f "$CANARY2"'
	for c in "$CANARY1" "$PUBCANARY" "$CANARY2"; do
		head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$c"
	done
	chmod 600 "$CANARY1" "$CANARY2"
	chmod 644 "$PUBCANARY"
	touch -d '2001-01-01 00:00:00' "$CANARY1" "$PUBCANARY" "$CANARY2"
	canary_state >"$R/canaries.before"
	EXEC_SHA_BEFORE=$(sha256sum <"$EXEC" | cut -c1-64)

	# The racer's tree: x/leased is the leased directory; y and
	# x/leaflink are symlinks to a host directory no lease names.
	mkdir -p "$R/race/x/leased" "$R/race/hostside/leased"
	echo real >"$R/race/x/leased/marker"
	echo HOST-SECRET >"$R/race/hostside/leased/marker"
	echo HOST-SECRET >"$R/race/hostside/marker"
	ln -s "$R/race/hostside" "$R/race/y"
	ln -s "$R/race/hostside/leased" "$R/race/x/leaflink"
	chmod -R a+rX "$R/race"

	# A command path that is a symlink to the shell.
	mkdir -p "$R/shlink" && ln -s /bin/sh "$R/shlink/sh"

	# A leased directory holding a device node (c 1:7, /dev/full, 0666).
	mkdir -p "$R/devdir" && mknod -m 666 "$R/devdir/full" c 1 7

	# A host directory handed to the sandbox as stdin in one case.
	mkdir -p "$R/hostdir" && echo host-only >"$R/hostdir/secret" && chmod 600 "$R/hostdir/secret" &&
		echo world-readable-host-file >"$R/hostdir/public" && chmod 644 "$R/hostdir/public"

	# A host directory standing for /etc in the commit cases (a file the
	# commit must never overwrite through a link).
	mkdir -p "$R/etcdir" && echo root:x:0:0:canary >"$R/etcdir/passwd" && chmod 644 "$R/etcdir/passwd"

	# Host processes: a victim to kill (running as the sandbox's own
	# uid), and a listener on 127.0.0.1 and on an abstract unix socket,
	# holding SysV IPC objects under the key the sandboxes use.
	IPC_KEY=0x63616c79
	ABSTRACT=calyx-adv-host-$$
	setpriv --reuid=65534 --regid=65534 --clear-groups "$HT" sleep 600 &
	VICTIM=$!
	lib_atexit 'kill "$VICTIM" 2>/dev/null; wait "$VICTIM" 2>/dev/null'
	LISTEN_LOG=$R/listener.log
	LISTENER="" PORT=0
	for _try in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 30000))
		"$HT" listen "$PORT" "$ABSTRACT" 600 "$IPC_KEY" >"$LISTEN_LOG" 2>&1 &
		LISTENER=$!
		# at most 30 s (a loaded VM); one that is not ready is killed
		# before the wait (it would otherwise live its 600 s)
		for _i in $(seq 1 600); do
			grep -q '^READY' "$LISTEN_LOG" 2>/dev/null && break
			kill -0 "$LISTENER" 2>/dev/null || break
			sleep 0.05
		done
		grep -q '^READY' "$LISTEN_LOG" && break
		kill "$LISTENER" 2>/dev/null
		wait "$LISTENER" 2>/dev/null
		LISTENER=""
	done
	[ -n "$LISTENER" ] || { echo "run.sh: host listener did not start: $(cat "$LISTEN_LOG")" >&2; exit 2; }
	lib_atexit 'kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null'

	# A run uid of this suite's own (monitor.sh uses 30000-39999); under
	# calyx-ctl selftest (ADV_RUN_UID_RANGE "FIRST COUNT"), a free one in
	# this host's run uid range, counted down from its top.
	if [ -n "${ADV_RUN_UID_RANGE:-}" ]; then
		local rf rc
		read -r rf rc <<<"$ADV_RUN_UID_RANGE"
		ADV_UID=$((rf + rc - 1 - $$ % (rc < 1000 ? rc : 1000)))
		while getent passwd "$ADV_UID" >/dev/null || getent group "$ADV_UID" >/dev/null; do
			ADV_UID=$((ADV_UID - 1))
			[ "$ADV_UID" -ge "$rf" ] || { echo "run.sh: no free uid in the run uid range $rf+$rc" >&2; exit 2; }
		done
	else
		ADV_UID=$((40000 + $$ % 10000))
		while getent passwd "$ADV_UID" >/dev/null || getent group "$ADV_UID" >/dev/null; do
			ADV_UID=$((ADV_UID + 1))
		done
	fi

	# Policy: every probe, workload and the shell symlink as commands;
	# the probes, the racer's leased dir, the symlink's dir, $R/advst and
	# $R/hostsock (host daemons' sockets: case unix_host_socket) readable;
	# workspaces under $T/srv.
	local cmds="[\"$R/shlink/sh\"" read
	for p in "${ADV_PROBES[@]}" "${ADV_WORKLOADS[@]}"; do cmds+=", \"$P/$p\""; done
	cmds+=", \"/work/suid\", \"/work/fcap\""   # setuid/file-cap copies run as the command
	cmds+=", \"/usr/bin/env\"]"   # a program that execs (cases loader_bypass, exec_denied_audit)
	read="[\"/usr\", \"$P\", \"$R/race/x/leased\", \"$R/shlink\", \"$R/devdir\", \"$R/advst\", \"$R/hostsock\"]"
	mkdir -p "$T/srv" "$R/advst" "$R/hostsock"
	chmod 755 "$R/advst" "$R/hostsock"
	policy_json "$cmds" "$read" >"$T/adv.policy.json"
	POLICY_NETWORK='["none", "loopback"]' policy_json "$cmds" "$read" >"$T/advlo.policy.json"
	local fixed='"run_uid": 65534, "run_gid": 65534'
	mk_host adv "$T/adv.policy.json" "" "$fixed" || { echo "run.sh: mk_host: $WHY" >&2; exit 2; }
	mk_host advlo "$T/advlo.policy.json" "" "$fixed" || { echo "run.sh: mk_host: $WHY" >&2; exit 2; }
	mk_host advu "$T/adv.policy.json" "" "\"run_uid\": $ADV_UID, \"run_gid\": $ADV_UID" ||
		{ echo "run.sh: mk_host: $WHY" >&2; exit 2; }
	mk_host advst "$T/adv.policy.json" "" "$fixed" || { echo "run.sh: mk_host: $WHY" >&2; exit 2; }
	# advst keeps its state and log under $R/advst (0755 root), made the
	# way calyx-exec and an operator would: state 0700, log dir 0755.
	mkdir -p "$R/advst/state" "$R/advst/log" && chmod 700 "$R/advst/state" && chmod 755 "$R/advst/log" ||
		exit 2
	sed -i "s|\"state_dir\": \"[^\"]*\"|\"state_dir\": \"$R/advst/state\"|; s|\"audit_log\": \"[^\"]*\"|\"audit_log\": \"$R/advst/log/audit.jsonl\"|" \
		"$T/advst/etc/calyx.conf" || exit 2
}

canary_state() {
	local c
	for c in "$CANARY1" "$PUBCANARY" "$CANARY2"; do
		printf '%s %s %s\n' "$c" "$(sha256sum <"$c" | cut -c1-64)" "$(stat -c '%Y %a %u' "$c")"
	done
}
listener_accepted() { grep -c '^ACCEPTED' "$LISTEN_LOG"; }

# host_conf HOST KEY: a value of the host's calyx.conf (state_dir, audit_log...).
host_conf() { json_get "$T/$1/etc/calyx.conf" "$2"; }

LEASES=$T/leases
mkdir -p "$LEASES"

# mkws NAME [UID]: a fresh workspace owned by the run uid (65534 unless
# given); prints its path.
mkws() {
	local w=$T/srv/$1 u=${2:-65534}
	rm -rf "$w" && mkdir -p "$w" && chown "$u:$u" "$w" && chmod 755 "$w" && echo "$w"
}

# json_str S: S as a JSON string.
json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	printf '"%s"' "$s"
}

# body ARGV_JSON WORKSPACE [EXTRA_MEMBERS] [RO_JSON]: a lease body
# (WORKSPACE empty: none).
body() {
	local ro=${4:-"[\"$P\"]"} ws=""
	[ -z "$2" ] || ws=",\"workspace\":\"$2\",\"cwd\":\"/work\""
	printf '{"run_id":"adv","audience":"%s","argv":%s%s,"paths":{"ro":%s}%s}\n' \
		"$HOST_ID" "$1" "$ws" "$ro" "${3:+,$3}"
}

# lease HOST BODY: sign a lease for HOST; prints its path (a fresh file each
# time: callers run it in $(...), so no counter would survive).
lease() {
	local l
	l=$(mktemp "$LEASES/XXXXXXXX") || return 1
	printf '%s\n' "$2" >"$l.body"
	mk_lease "$1" "$l" "$l.body" >/dev/null || return 1
	echo "$l"
}

# sign_raw HOST BODY [LEASE_ID]: a lease signed without calyx-lease's own
# body checks (Ed25519 over DSSE PAE with openssl), to reach calyx-exec's
# verifier with a body the signing tool refuses to produce, or with a
# lease id chosen in advance. Prints its path.
sign_raw() {
	local host=$1 b l type=application/vnd.calyx.lease.v1+json now id sha k sigs="" len
	l=$(mktemp "$LEASES/XXXXXXXX") || return 1
	now=$(date +%s)
	id=${3:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}
	sha=$(sha256sum <"$T/$host/etc/policy.json" | cut -c1-64)
	b=${2%$'\n'}
	b=${b%\}}
	printf '%s,"v":1,"lease_id":"%s","issued_at":%d,"not_before":%d,"not_after":%d,"policy_sha256":"%s"}' \
		"$b" "$id" "$now" "$now" "$((now + 600))" "$sha" >"$l.body"
	len=$(stat -c %s "$l.body")
	{ printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$len"; cat "$l.body"; } >"$l.pae"
	for k in alice bot; do
		{ printf '\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20'; cat "$KEYS/$k.key"; } >"$l.$k.der"
		local sig kid
		sig=$(openssl pkeyutl -sign -keyform DER -inkey "$l.$k.der" -rawin -in "$l.pae" 2>"$ERR" | base64 -w0)
		rm -f "$l.$k.der"
		[ -n "$sig" ] || { fail "openssl sign: $(first_err)"; return 1; }
		kid=$(json_get "$KEYS/$k.pub.json" keyid)
		sigs+="${sigs:+,}{\"keyid\":\"$kid\",\"sig\":\"$sig\"}"
	done
	printf '{"payloadType":"%s","payload":"%s","signatures":[%s]}\n' "$type" \
		"$(base64 -w0 <"$l.body")" "$sigs" >"$l"
	echo "$l"
}

# run_lease HOST LEASE: calyx-exec it (bounded), stdout/stderr/rc in OUT/ERR/RC.
run_lease() {
	xrun timeout -k 5 60 "$EXEC" --config "$T/$1/etc/calyx.conf" --lease "$2"
}
# run_lease_r HOST LEASE: the same with --result $2.result.
run_lease_r() {
	rm -f "$2.result"
	xrun timeout -k 5 60 "$EXEC" --config "$T/$1/etc/calyx.conf" --lease "$2" --result "$2.result"
}

# Parsing the probe's report in a file (default $OUT).
n_verdict() { grep -c "^PROBE [^ ]* $1 " "${2:-$OUT}"; }
escaped_list() {
	grep "^PROBE [^ ]* ESCAPED " "${1:-$OUT}" | awk '{print $2}' | tr '\n' ' ' | sed 's/ *$//' | cut -c 1-120
}
error_list() {
	grep "^PROBE [^ ]* ERROR " "$OUT" | cut -d' ' -f2- | head -n 2 | tr '\n' ';' | cut -c 1-160
}
# info_of ATTEMPT: the detail of the probe's INFO line for ATTEMPT.
info_of() { sed -n "s|^PROBE [^/]*/$1 INFO ||p" "${2:-$OUT}" | head -n 1; }

# escaped MSG: a boundary was crossed: OUTCOME=ESCAPED, fail with MSG.
escaped() {
	OUTCOME=ESCAPED OBS=$1
	fail "ESCAPED: $1"
}
# crashed MSG: calyx-exec itself died or hung.
crashed() {
	OUTCOME=CRASHED OBS=$1
	fail "CRASHED: $1"
}
# unexpected MSG: neither the expected outcome nor an escape.
unexpected() {
	OUTCOME=ERROR OBS=$1
	fail "$1"
}

# expect_denied: the probe ran to the end and every attempt was denied.
expect_denied() {
	local d e x
	d=$(n_verdict DENIED) e=$(n_verdict ESCAPED) x=$(n_verdict ERROR)
	if [ "$e" -gt 0 ]; then
		grep "^PROBE [^ ]* ESCAPED " "$OUT" | sed 's/^/      /' >&2
		escaped "$(escaped_list "$OUT")"
		return 1
	fi
	if [ "$RC" -ne 0 ] || [ "$x" -gt 0 ] || [ "$d" -eq 0 ]; then
		OUTCOME=ERROR OBS="exit $RC, $d denied, $x error(s)"
		fail "$OBS: $(error_list) $(first_err)"
		return 1
	fi
	OUTCOME=DENIED OBS="$d attempts"
}

# expect_refused RC E_CODE: calyx-exec refused before running anything.
expect_refused() {
	local want=$1 code=$2
	if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
		escaped "$(escaped_list "$OUT")"
		return 1
	fi
	if [ "$RC" -ne "$want" ] || ! grep -qF "[$code]" "$ERR"; then
		OUTCOME=ERROR OBS="exit $RC: $(first_err | cut -c 1-80)"
		fail "expected exit $want [$code], got exit $RC: $(first_err)"
		return 1
	fi
	if grep -q '^PROBE ' "$OUT"; then
		OUTCOME=ERROR OBS="exit $RC but the probe ran"
		fail "$OBS"
		return 1
	fi
	OUTCOME=REFUSED OBS="$RC $code"
}

num_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0 && a != "") }'; }
num_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0 && a != "") }'; }

# run_cgroups LEASE_ID: the run cgroups of that lease in any hierarchy
# (the run cgroup's name ends with the lease id's first 12 characters).
run_cgroups() {
	local t d
	t=$(printf '%s' "$1" | cut -c 1-12)
	for d in "$CG"/calyx/run-*-"$t" "$CG"/*/calyx/run-*-"$t" "$CG"/calyx/run-*-"$t"-v "$CG"/*/calyx/run-*-"$t"-v; do
		[ -d "$d" ] && printf '%s ' "$d"
	done
}

# nothing_left LEASE_ID: no process of $ADV_UID and no run cgroup of that
# lease, looking again for up to 10 s (a leak stays; a loaded VM may take
# more than 2 s to reap what is going). Sets WHY otherwise.
nothing_left() {
	local i p c
	for i in $(seq 1 200); do
		p=$(pgrep -u "$ADV_UID" | tr '\n' ' ') c=$(run_cgroups "$1")
		[ -z "$p$c" ] && return 0
		sleep 0.05
	done
	[ -z "$p" ] || fail "processes of run uid $ADV_UID left: $p" || return 1
	fail "run cgroups left: $c"
}

# audit_ok HOST: the host's audit log verifies end to end.
audit_ok() {
	"$AUDIT" verify --host-pub "$T/$1/etc/host.pub.json" "$(host_conf "$1" audit_log)" >/dev/null 2>"$T/.audit.err" ||
		fail "audit log of $1 does not verify: $(head -n 1 "$T/.audit.err")"
}

# audit_lines HOST LEASE_ID [TYPE]: the audit lines of a lease (of a type).
audit_lines() {
	grep -F "\"lease_id\":\"$2\"" "$(host_conf "$1" audit_log)" 2>/dev/null | grep -F "\"type\":\"${3:-}" || true
}

# ledger_count HOST: entries in the host's ledger.
ledger_count() {
	local d
	d=$(host_conf "$1" state_dir)/ledger
	find "$d" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# wait_exec_started HOST LEASE_ID PID: wait (30 s at most: an ASan start
# on a loaded VM) until the run of that lease logged exec.started while
# PID (its calyx-exec) lives.
wait_exec_started() {
	local i
	for i in $(seq 1 600); do
		[ -n "$(audit_lines "$1" "$2" exec.started)" ] && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.05
	done
	fail "the run of $2 did not start (exec.started missing)"
}

# bg_exec HOST LEASE: start calyx-exec on LEASE in the background, with
# the default disposition of every signal, as from an interactive shell
# (a background job of a script starts with SIGINT and SIGQUIT ignored;
# calyx-exec's blocked SIGINT still reaches its signalfd, since the kernel
# queues a blocked signal even when ignored), --result LEASE.result,
# stdout/stderr in LEASE.out/LEASE.err. Sets BG_PID (calyx-exec's pid).
# It runs under a subshell that records its exit code, so that bash's
# notice of a job killed by a signal stays off the suite's output.
BG_PID="" BG_SUB=""
bg_exec() {
	local pre=() i
	rm -f "$2.result" "$2.rc"
	! env --default-signal=INT true 2>/dev/null || pre=(env --default-signal)
	{
		"${pre[@]}" "$EXEC" --config "$T/$1/etc/calyx.conf" --lease "$2" --result "$2.result" \
			>"$2.out" 2>"$2.err"
		echo $? >"$2.rc"
	} 2>/dev/null &
	BG_SUB=$! BG_PID=""
	# the subshell's child (env, then calyx-exec: one pid) shows once it
	# forked: at most 30 s, else signals would go to the subshell
	for i in $(seq 1 3000); do
		BG_PID=$(pgrep -P "$BG_SUB" | head -n 1)
		[ -z "$BG_PID" ] || break
		kill -0 "$BG_SUB" 2>/dev/null || break
		sleep 0.01
	done
	[ -n "$BG_PID" ] || BG_PID=$BG_SUB
}

# bg_wait LEASE [SECONDS]: wait for the background calyx-exec (killed
# after SECONDS, default 30); RC its exit code (999: it had to be
# killed), OUT/ERR its output.
bg_wait() {
	local i
	for i in $(seq 1 $((${2:-30} * 20))); do
		kill -0 "$BG_SUB" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$BG_SUB" 2>/dev/null; then
		kill -CONT "$BG_PID" 2>/dev/null
		kill -KILL "$BG_PID" 2>/dev/null
		wait "$BG_SUB" 2>/dev/null
		RC=999
	else
		wait "$BG_SUB" 2>/dev/null
		RC=$(cat "$1.rc" 2>/dev/null || echo 998)
	fi
	cp "$1.out" "$OUT" && cp "$1.err" "$ERR"
}

# after_crash HOST LEASE_ID: what a calyx-exec that died mid-run left
# (its run cgroups, its run dir) is cleared now, as the next start
# would, so that the notes of that recovery do not land on the stderr
# of another suite's run. Used only after a case found such a death.
after_crash() {
	local d i
	for i in 1 2 3; do
		for d in $(run_cgroups "$2"); do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
		[ -z "$(run_cgroups "$2")" ] && break
		sleep 0.2
	done
	"$B/calyx-ctl" --config "$T/$1/etc/calyx.conf" recover >/dev/null 2>&1 || true
}

# huge_refused HOST LEASE CODE WHAT: run it; refused 77 [CODE] in one
# line, nothing consumed, the command did not run.
huge_refused() {
	local n0 n1
	n0=$(ledger_count "$1")
	run_lease "$1" "$2"
	n1=$(ledger_count "$1")
	[ "$n0" -eq "$n1" ] || { unexpected "$4: the refused lease was consumed"; return 1; }
	expect_refused 77 "$3" || { WHY="$4: $WHY"; return 1; }
	[ "$(nlines "$ERR")" -eq 1 ] || { unexpected "$4: stderr has $(nlines "$ERR") lines"; return 1; }
}

# swap_judge WHAT: classify a failed check_one_line after a swap.
swap_judge() {
	if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
		crashed "$1: calyx-exec hung (killed by timeout)"
	elif [ "$RC" -eq 0 ] || grep -q '^ARGC' "$OUT"; then
		escaped "$1: the run went ahead"
	else
		unexpected "$1: $WHY"
	fi
}

# state_attack HOST RO_JSON: run state_reach files against HOST's state
# dir and audit log (RO_JSON: the lease's ro paths, empty: the default),
# then check the host side.
state_attack() {
	local ws l st al n0 n1 head0 len0 planted
	st=$(host_conf "$1" state_dir) al=$(host_conf "$1" audit_log)
	ws=$(mkws "state$1") || return 1
	l=$(lease "$1" "$(body "[\"$P/state_reach\", \"files\", \"$st\", \"$al\"]" "$ws" "" "$2")") || return 1
	n0=$(ledger_count "$1")
	head0=$(head -n 1 "$al" 2>/dev/null | sha256sum) len0=$(stat -c %s "$al" 2>/dev/null || echo 0)
	run_lease "$1" "$l"
	n1=$(ledger_count "$1")
	planted=$(find "$st" "$(dirname "$al")" -name 'calyx-adv*' 2>/dev/null | head -n 3 | tr '\n' ' ')
	[ -z "$planted" ] || { escaped "planted on the host: $planted"; return 1; }
	[ "$n1" -le $((n0 + 1)) ] || { escaped "ledger entries $n0 -> $n1: one forged"; return 1; }
	[ "$n1" -eq $((n0 + 1)) ] || { unexpected "ledger entries $n0 -> $n1 (expected this lease's)"; return 1; }
	[ "$len0" -eq 0 ] || [ "$(head -n 1 "$al" | sha256sum)" = "$head0" ] ||
		{ escaped "the audit log's first line changed"; return 1; }
	[ "$(stat -c %s "$al")" -gt "$len0" ] || { escaped "the audit log did not grow ($len0 bytes before)"; return 1; }
	audit_ok "$1" || { OUTCOME=ESCAPED OBS=$WHY; return 1; }
	expect_denied || return 1
	OBS+="; ledger +1, log verifies; mountinfo: $(info_of mountinfo | cut -d' ' -f1) line(s) name the state dir"
}
