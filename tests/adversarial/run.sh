#!/usr/bin/env bash
# Adversarial suite: real escape attempts from inside the calyx sandbox.
#
#   bash tests/adversarial/run.sh [BUILD_DIR]     (default: build; root; after 'make tests')
#
# Each case signs one lease (or a few) for a probe from tests/adversarial/
# probes/ (static binaries, see probe.h), runs it through calyx-exec, parses
# the probe's "PROBE <probe>/<attempt> <DENIED|ESCAPED|ERROR|INFO> ..."
# lines and exit code, and checks the host side (canaries, a host process
# the sandbox tries to kill, a host TCP/abstract-unix listener it tries to
# reach, calyx-exec's own sha256). Output: cmocka-style lines per case, a
# table "probe | class | expected | observed", and the summary. Exit status
# non-zero on any ESCAPED or otherwise unexpected result.
#
# Host fixtures live in $R (a directory under /var/tmp: a lease may not name
# paths under /tmp or /work, the view's own mount points) and $T (lib.sh's
# temp dir, whose srv/ holds the workspaces). Everything is removed at exit.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/../integration/lib.sh" "${1:-build}"

SUITE_START=$(date +%s)
PB=$B/probes
PROBES=(path_traversal ws_links mount_race proc_escape fd_leak proc_exe tty_inject abi_bypass
	ns_mount ptrace_kill sysctl_cgroup fs_privs setuid_exec sockets kernel_surface ipc_pair
	argv_echo suid_plant privs_state hosttool)
for p in "${PROBES[@]}"; do
	[ -x "$PB/$p" ] || { echo "run.sh: $PB/$p missing (run 'make tests')" >&2; exit 2; }
done

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
R=$(mktemp -d /var/tmp/calyx-adv.XXXXXX) || exit 2
chmod 755 "$R"
lib_atexit 'rm -rf "$R"'
P=$R/probes
mkdir -p "$P" && cp "${PROBES[@]/#/$PB/}" "$P/" && chmod 755 "$P" "$P"/* || exit 2
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
canary_state() {
	local c
	for c in "$CANARY1" "$PUBCANARY" "$CANARY2"; do
		printf '%s %s %s\n' "$c" "$(sha256sum <"$c" | cut -c1-64)" "$(stat -c '%Y %a %u' "$c")"
	done
}
canary_state >"$R/canaries.before"
EXEC_SHA_BEFORE=$(sha256sum <"$EXEC" | cut -c1-64)

# The racer's tree: x/leased is the leased directory; y and x/leaflink are
# symlinks to a host directory no lease names.
mkdir -p "$R/race/x/leased" "$R/race/hostside/leased"
echo real >"$R/race/x/leased/marker"
echo HOST-SECRET >"$R/race/hostside/leased/marker"
echo HOST-SECRET >"$R/race/hostside/marker"
ln -s "$R/race/hostside" "$R/race/y"
ln -s "$R/race/hostside/leased" "$R/race/x/leaflink"
chmod -R a+rX "$R/race"

# A command path that is a symlink to the shell.
mkdir -p "$R/shlink" && ln -s /bin/sh "$R/shlink/sh"

# A leased directory holding a device node (c 1:7, /dev/full, mode 0666).
mkdir -p "$R/devdir" && mknod -m 666 "$R/devdir/full" c 1 7

# A host directory handed to the sandbox as stdin in one case.
mkdir -p "$R/hostdir" && echo host-only >"$R/hostdir/secret" && chmod 600 "$R/hostdir/secret" &&
	echo world-readable-host-file >"$R/hostdir/public" && chmod 644 "$R/hostdir/public"

# Host processes: a victim to kill (running as the sandbox's own uid), and
# a listener on 127.0.0.1 and on an abstract unix socket, holding SysV IPC
# objects under the key the sandboxes use.
IPC_KEY=0x63616c79
ABSTRACT=calyx-adv-host-$$
setpriv --reuid=65534 --regid=65534 --clear-groups "$HT" sleep 300 &
VICTIM=$!
lib_atexit 'kill "$VICTIM" 2>/dev/null; wait "$VICTIM" 2>/dev/null'
LISTEN_LOG=$R/listener.log
LISTENER="" PORT=0
for _try in 1 2 3 4 5; do
	PORT=$((20000 + RANDOM % 30000))
	"$HT" listen "$PORT" "$ABSTRACT" 300 "$IPC_KEY" >"$LISTEN_LOG" 2>&1 &
	LISTENER=$!
	for _i in $(seq 1 50); do
		grep -q '^READY' "$LISTEN_LOG" 2>/dev/null && break
		kill -0 "$LISTENER" 2>/dev/null || break
		sleep 0.05
	done
	grep -q '^READY' "$LISTEN_LOG" && break
	wait "$LISTENER" 2>/dev/null
	LISTENER=""
done
[ -n "$LISTENER" ] || { echo "run.sh: host listener did not start: $(cat "$LISTEN_LOG")" >&2; exit 2; }
lib_atexit 'kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null'
listener_accepted() { grep -c '^ACCEPTED' "$LISTEN_LOG"; }

# Policy: every probe and the shell symlink as commands; the probes, the
# racer's leased dir and the symlink's dir readable; workspaces under $T/srv.
cmds="[\"$R/shlink/sh\""
for p in "${PROBES[@]}"; do cmds+=", \"$P/$p\""; done
cmds+=", \"/work/suid\", \"/work/fcap\"]"   # setuid/file-cap copies run as the command
READ="[\"/usr\", \"$P\", \"$R/race/x/leased\", \"$R/shlink\", \"$R/devdir\"]"
mkdir -p "$T/srv"
policy_json "$cmds" "$READ" >"$T/adv.policy.json"
POLICY_NETWORK='["none", "loopback"]' policy_json "$cmds" "$READ" >"$T/advlo.policy.json"
mk_host adv "$T/adv.policy.json" || { echo "run.sh: mk_host: $WHY" >&2; exit 2; }
mk_host advlo "$T/advlo.policy.json" || { echo "run.sh: mk_host: $WHY" >&2; exit 2; }

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
LEASES=$T/leases
mkdir -p "$LEASES"

# mkws NAME: a fresh workspace owned by the run uid; prints its path.
mkws() {
	local w=$T/srv/$1
	rm -rf "$w" && mkdir -p "$w" && chown 65534:65534 "$w" && chmod 755 "$w" && echo "$w"
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

# body ARGV_JSON WORKSPACE [EXTRA_MEMBERS] [RO_JSON]: a lease body.
body() {
	local ro=${4:-"[\"$P\"]"}
	printf '{"run_id":"adv","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":%s}%s}\n' \
		"$HOST_ID" "$1" "$2" "$ro" "${3:+,$3}"
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

# sign_raw HOST BODY: a lease signed without calyx-lease's own body checks
# (Ed25519 over DSSE PAE with openssl), to reach calyx-exec's verifier with
# a body the signing tool refuses to produce. Prints its path.
sign_raw() {
	local host=$1 b l type=application/vnd.calyx.lease.v1+json now id sha k sigs="" len
	l=$(mktemp "$LEASES/XXXXXXXX") || return 1
	now=$(date +%s)
	id=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	sha=$(sha256sum <"$T/$host/etc/policy.json" | cut -c1-64)
	b=${2%\}}
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

# Parsing the probe's report in a file (default $OUT).
n_verdict() { grep -c "^PROBE [^ ]* $1 " "${2:-$OUT}"; }
escaped_list() {
	grep "^PROBE [^ ]* ESCAPED " "${1:-$OUT}" | awk '{print $2}' | tr '\n' ' ' | sed 's/ *$//' | cut -c 1-120
}
error_list() {
	grep "^PROBE [^ ]* ERROR " "$OUT" | cut -d' ' -f2- | head -n 2 | tr '\n' ';' | cut -c 1-160
}

# Table rows.
ROW_NAME=() ROW_CLASS=() ROW_EXP=() ROW_OBS=() ROW_OK=()
OBS=""
# case NAME CLASS EXPECTED FN: run FN as a named check; FN sets OBS.
case_() {
	local name=$1 class=$2 exp=$3 fn=$4 ok=1
	if [ -n "${ADV_ONLY:-}" ] && [[ " $ADV_ONLY " != *" $name "* ]]; then
		return 0
	fi
	OBS=""
	run_test "$name" "$fn" || true
	if [ -n "${ADV_DEBUG:-}" ]; then
		sed 's/^/      out: /' "$OUT" | head -n 60
		sed 's/^/      err: /' "$ERR" | head -n 10
	fi
	[ "${#FAILED_NAMES[@]}" -gt 0 ] && [ "${FAILED_NAMES[-1]}" = "$name" ] && ok=0
	ROW_NAME+=("$name") ROW_CLASS+=("$class") ROW_EXP+=("$exp") ROW_OBS+=("${OBS:-?}") ROW_OK+=("$ok")
}

# skip_case NAME CLASS EXPECTED REASON: a case this host cannot run.
skip_case() {
	if [ -n "${ADV_ONLY:-}" ] && [[ " $ADV_ONLY " != *" $1 "* ]]; then
		return 0
	fi
	skip_test "$1" "$4"
	ROW_NAME+=("$1") ROW_CLASS+=("$2") ROW_EXP+=("$3") ROW_OBS+=("skipped: $4") ROW_OK+=(1)
}

# expect_denied: the probe ran to the end and every attempt was denied.
expect_denied() {
	local d e x
	d=$(n_verdict DENIED) e=$(n_verdict ESCAPED) x=$(n_verdict ERROR)
	if [ "$e" -gt 0 ]; then
		OBS="ESCAPED: $(escaped_list)"
		fail "$OBS"
		grep "^PROBE [^ ]* ESCAPED " "$OUT" | sed 's/^/      /' >&2
		return 1
	fi
	if [ "$RC" -ne 0 ] || [ "$x" -gt 0 ] || [ "$d" -eq 0 ]; then
		OBS="exit $RC, $d denied, $x error(s)"
		fail "$OBS: $(error_list) $(first_err)"
		return 1
	fi
	OBS="denied ($d attempts)"
}

# expect_refused RC E_CODE: calyx-exec refused before running anything.
expect_refused() {
	local want=$1 code=$2
	if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
		OBS="ESCAPED: $(escaped_list)"
		fail "$OBS"
		return 1
	fi
	if [ "$RC" -ne "$want" ] || ! grep -qF "[$code]" "$ERR"; then
		OBS="exit $RC: $(first_err | cut -c 1-80)"
		fail "expected exit $want [$code], got exit $RC: $(first_err)"
		return 1
	fi
	if grep -q '^PROBE ' "$OUT"; then
		OBS="exit $RC but the probe ran"
		fail "$OBS"
		return 1
	fi
	OBS="refused $RC $code"
}

# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------
t_path_traversal() {
	local ws l
	ws=$(mkws traversal) && l=$(lease adv "$(body "[\"$P/path_traversal\", \"$CANARY1\", \"$CANARY2\", \"$PUBCANARY\", \"$R/hostdir/secret\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

t_ws_links() {
	local ws l note=""
	ws=$(mkws links) || return 1
	ln -s /etc/shadow "$ws/evil"
	ln -s ../../../../../../etc/passwd "$ws/evil_rel"
	ln -s /root "$ws/evil_dir"
	ln -s "$CANARY2" "$ws/evil_canary"
	if ! ln "$CANARY1" "$ws/hard" 2>/dev/null || ! ln "$PUBCANARY" "$ws/hard_pub" 2>/dev/null; then
		note=" (hardlinks: not the same fs)"
		: >"$ws/hard"
		: >"$ws/hard_pub"
	fi
	chown -h 65534:65534 "$ws/evil" "$ws/evil_rel" "$ws/evil_dir" "$ws/evil_canary"
	l=$(lease adv "$(body "[\"$P/ws_links\"]" "$ws")") || return 1
	run_lease adv "$l"
	rm -f "$ws/hard" "$ws/hard_pub"
	expect_denied || return 1
	OBS+=$note
}

t_mount_race() {
	local ws l ls=() i ran=0 refused=0 esc=0 other=0 racer raced
	ws=$(mkws race) || return 1
	echo ws-real >"$ws/marker"
	ln -s "$R/race/hostside" "$T/srv/race-link"
	for i in $(seq 1 14); do
		l=$(lease adv "$(body "[\"$P/mount_race\", \"$R/race/x/leased\", \"real\", \"/work\", \"ws-real\"]" \
			"$ws" "" "[\"$P\", \"$R/race/x/leased\"]")") || return 1
		ls+=("$l")
	done
	# Control run before the race: the view shows the real directory.
	run_lease adv "${ls[0]}"
	[ "$RC" -eq 0 ] && [ "$(n_verdict DENIED)" -eq 2 ] ||
		{ OBS="control run failed: exit $RC"; fail "$OBS $(first_err) $(head -n1 "$OUT")"; return 1; }
	"$HT" race 4 "$R/race/x" "$R/race/y" "$R/race/x/leased" "$R/race/x/leaflink" \
		"$ws" "$T/srv/race-link" >"$R/racer.out" 2>&1 &
	racer=$!
	for l in "${ls[@]:1}"; do
		kill -0 "$racer" 2>/dev/null || break
		run_lease adv "$l"
		if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
			esc=$((esc + 1))
			sed 's/^/      /' "$OUT" >&2
		elif [ "$RC" -eq 0 ] && [ "$(n_verdict DENIED)" -eq 2 ]; then
			ran=$((ran + 1))
		elif [ "$RC" -eq 125 ] && grep -qE '\[E_(VIEW|WORKSPACE)\]' "$ERR"; then
			# E_WORKSPACE: the commit refused a tree swapped for a symlink
			refused=$((refused + 1))
		else
			other=$((other + 1))
			echo "      unexpected: exit $RC: $(first_err) $(head -n1 "$OUT")" >&2
		fi
	done
	wait "$racer"
	raced=$(sed -n 's/^RACED \([0-9]*\) swaps.*/\1/p' "$R/racer.out")
	OBS="${ran} real, ${refused} refused E_VIEW, ${esc} escaped; ${raced:-?} swaps"
	[ -d "$R/race/x" ] && [ ! -L "$R/race/x" ] && [ "$(cat "$R/race/x/leased/marker" 2>/dev/null)" = real ] &&
		[ ! -L "$ws" ] && [ "$(cat "$ws/marker" 2>/dev/null)" = ws-real ] ||
		{ fail "racer left the tree swapped"; return 1; }
	[ "$esc" -eq 0 ] || { fail "$OBS"; return 1; }
	[ "$other" -eq 0 ] || { fail "$OBS, $other unexpected outcome(s)"; return 1; }
	[ $((ran + refused)) -gt 0 ] || { fail "no run happened during the race"; return 1; }
}

t_proc_escape() {
	local ws l
	ws=$(mkws procesc) && l=$(lease adv "$(body "[\"$P/proc_escape\", \"$CANARY1\", \"$CANARY2\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

t_lease_cwd_procfd() {
	local ws l
	ws=$(mkws cwdfd) || return 1
	l=$(lease adv "$(body "[\"$P/fd_leak\"]" "$ws" | sed 's|"cwd":"/work"|"cwd":"/proc/self/fd/5"|')") || return 1
	xrun timeout -k 5 60 "$EXEC" --config "$T/adv/etc/calyx.conf" --lease "$l" 5<"$R"
	expect_refused 77 E_POLICY_PATH
}

# A workspace symlink used as the lease's cwd, pointing at magic links.
t_cwd_symlink() {
	local ws l n=0 bad="" target ran=""
	ws=$(mkws cwdlink) || return 1
	for target in /proc/self/fd/3 /proc/1/cwd /proc/1/root/root; do
		rm -f "$ws/cwdlink"
		ln -s "$target" "$ws/cwdlink"
		l=$(lease adv "$(body "[\"$P/fd_leak\"]" "$ws" | sed 's|"cwd":"/work"|"cwd":"/work/cwdlink"|')") || return 1
		run_lease adv "$l"
		if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
			bad+="$target: ESCAPED $(escaped_list); "
		elif [ "$RC" -eq 125 ] && ! grep -q '^PROBE' "$OUT"; then
			n=$((n + 1))   # refused before exec (chdir fails in the view)
		elif [ "$RC" -eq 0 ]; then
			ran+=1         # ran, and fd_leak found its cwd inside the view
		else
			bad+="$target: exit $RC $(first_err); "
		fi
	done
	[ -z "$bad" ] || { OBS="${bad:0:100}"; fail "$bad"; return 1; }
	OBS="refused 125 x$n${ran:+, ran inside the view x${#ran}}"
}

t_fd_leak() {
	local ws l
	ws=$(mkws fdleak) && l=$(lease adv "$(body "[\"$P/fd_leak\", \"/work\"]" "$ws")") || return 1
	xrun timeout -k 5 60 "$EXEC" --config "$T/adv/etc/calyx.conf" --lease "$l" \
		5<"$R" 6</root 7<"$CANARY1" 8<>"$R/fd8" 9</
	expect_denied
}

# The caller hands a host directory as stdin (lease "stdin": "inherit"):
# the sandbox must not get a handle on a host directory outside its view
# (runc CVE-2024-21626 was a leaked directory fd). Second run: the same,
# with the lease's cwd a workspace symlink to /proc/self/fd/0.
t_stdio_dir() {
	local ws l r1 r2 bad=0
	ws=$(mkws stdiodir) || return 1
	ln -s /proc/self/fd/0 "$ws/cwdlink"
	l=$(lease adv "$(body "[\"$P/fd_leak\", \"/work\"]" "$ws" '"stdin":"inherit"')") || return 1
	xrun timeout -k 5 60 "$EXEC" --config "$T/adv/etc/calyx.conf" --lease "$l" 0<"$R/hostdir"
	if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
		r1="ESCAPED $(escaped_list)"
		bad=1
		grep "^PROBE [^ ]* ESCAPED " "$OUT" | sed 's/^/      /' >&2
	elif [ "$RC" -eq 0 ] || [ "$RC" -eq 125 ]; then
		r1="denied (exit $RC)"
	else
		r1="exit $RC"
		bad=1
	fi
	l=$(lease adv "$(body "[\"$P/fd_leak\"]" "$ws" '"stdin":"inherit"' | sed 's|"cwd":"/work"|"cwd":"/work/cwdlink"|')") || return 1
	xrun timeout -k 5 60 "$EXEC" --config "$T/adv/etc/calyx.conf" --lease "$l" 0<"$R/hostdir"
	if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
		r2="ESCAPED $(escaped_list)"
		bad=1
		grep "^PROBE [^ ]* ESCAPED " "$OUT" | sed 's/^/      /' >&2
	elif [ "$RC" -eq 125 ] && ! grep -q '^PROBE' "$OUT"; then
		r2="refused 125"
	elif [ "$RC" -eq 0 ]; then
		r2="ran, cwd in view"
	else
		r2="exit $RC"
		bad=1
	fi
	OBS="dir stdin: $r1; cwd symlink->fd 0: $r2"
	[ "$bad" -eq 0 ] || { fail "$OBS"; return 1; }
}

t_proc_exe() {
	local ws l
	ws=$(mkws procexe) && l=$(lease adv "$(body "[\"$P/proc_exe\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied || return 1
	[ "$(sha256sum <"$EXEC" | cut -c1-64)" = "$EXEC_SHA_BEFORE" ] ||
		{ OBS="calyx-exec changed"; fail "calyx-exec's sha256 changed"; return 1; }
	OBS+=", calyx-exec unchanged"
}

t_tty_inject() {
	local ws l cmd
	ws=$(mkws tty) && l=$(lease adv "$(body "[\"$P/tty_inject\"]" "$ws" '"stdin":"inherit"')") || return 1
	if command -v script >/dev/null 2>&1; then
		cmd="timeout -k 5 60 $EXEC --config $T/adv/etc/calyx.conf --lease $l"
		xrun script -qec "$cmd" /dev/null </dev/null
		tr -d '\r' <"$OUT" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
	else
		run_lease adv "$l"
	fi
	expect_denied || return 1
	local ttys
	ttys=$(sed -n 's/^PROBE tty_inject\/ttys INFO \([0-9]*\) terminal.*/\1/p' "$OUT")
	OBS+=" on ${ttys:-0} tty fd(s)"
	[ "${ttys:-0}" -gt 0 ] || OBS+=" (no pty: script(1) missing)"
}

t_abi_native() {
	local ws l
	ws=$(mkws abin) && l=$(lease adv "$(body "[\"$P/abi_bypass\", \"native\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

# ABI: the process must die (SIGSYS: 128 + 31) before it can report.
abi_killed() {
	local ws l
	ws=$(mkws "abi$1") && l=$(lease adv "$(body "[\"$P/abi_bypass\", \"$1\"]" "$ws")") || return 1
	run_lease adv "$l"
	if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
		OBS="ESCAPED: $(sed -n 's/^PROBE [^ ]* ESCAPED //p' "$OUT" | head -n1 | cut -c 1-80)"
		fail "$OBS"
		return 1
	fi
	if [ "$RC" -eq 139 ] && [ "$1" = int80 ] && ! grep -q '^PROBE' "$OUT"; then
		# a kernel without IA32 emulation faults on int 0x80 itself
		OBS="killed by SIGSEGV (exit 139: no ia32 emulation here)"
		return 0
	fi
	[ "$RC" -eq 159 ] || { OBS="exit $RC"; fail "exit $RC, expected 159 (SIGSYS): $(first_err)"; return 1; }
	OBS="killed by SIGSYS (exit 159)"
}
t_abi_int80() { abi_killed int80; }
t_abi_x32() { abi_killed x32; }

t_privs_state() {
	local ws l
	ws=$(mkws privs) && l=$(lease adv "$(body "[\"$P/privs_state\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

t_ns_mount() {
	local ws l
	ws=$(mkws nsmount) && l=$(lease adv "$(body "[\"$P/ns_mount\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

t_ptrace_kill() {
	local ws l
	ws=$(mkws ptrace) && l=$(lease adv "$(body "[\"$P/ptrace_kill\", \"$VICTIM\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied || return 1
	kill -0 "$VICTIM" 2>/dev/null || { OBS="host pid $VICTIM was killed"; fail "$OBS"; return 1; }
	OBS+=", host pid $VICTIM alive"
}

t_sysctl_cgroup() {
	local ws l
	ws=$(mkws sysctl) && l=$(lease adv "$(body "[\"$P/sysctl_cgroup\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

t_fs_privs() {
	local ws l
	ws=$(mkws fsprivs) && mknod -m 666 "$ws/full" c 1 7 || return 1
	l=$(lease adv "$(body "[\"$P/fs_privs\", \"$P\", \"$P/path_traversal\", \"/work/full\", \"$R/devdir/full\"]" \
		"$ws" "" "[\"$P\", \"/usr\", \"$R/devdir\"]")") || return 1
	run_lease adv "$l"
	expect_denied
}

t_setuid_exec() {
	local ws l
	ws=$(mkws setuid) || return 1
	cp "$P/setuid_exec" "$ws/suid" && chown root:root "$ws/suid" && chmod 4755 "$ws/suid" || return 1
	cp "$P/setuid_exec" "$ws/fcap" && chmod 755 "$ws/fcap" || return 1
	"$HT" setcap "$ws/fcap" 2>"$ERR" || { fail "setcap: $(first_err)"; return 1; }
	l=$(lease adv "$(body "[\"$P/setuid_exec\", \"try\", \"$P/path_traversal\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

# The setuid-root / file-capability copy run as the lease's own command
# (so Landlock allows the exec): /work is nosuid and no_new_privs is set,
# so the bits must be inert.
t_setuid_direct() {
	local ws l f bad="" n=0
	ws=$(mkws setuiddirect) || return 1
	cp "$P/setuid_exec" "$ws/suid" && chown root:root "$ws/suid" && chmod 4755 "$ws/suid" || return 1
	cp "$P/setuid_exec" "$ws/fcap" && chmod 755 "$ws/fcap" && "$HT" setcap "$ws/fcap" || return 1
	for f in suid fcap; do
		l=$(lease adv "$(body "[\"/work/$f\", \"check\"]" "$ws")") || return 1
		run_lease adv "$l"
		if [ "$(n_verdict ESCAPED)" -gt 0 ]; then
			bad+="$f: ESCAPED $(escaped_list); "
		elif [ "$RC" -ne 0 ] || [ "$(n_verdict DENIED)" -ne 2 ]; then
			bad+="$f: exit $RC $(first_err | cut -c1-60); "
		else
			n=$((n + 1))
		fi
	done
	[ -z "$bad" ] || { OBS=$bad; fail "$bad"; return 1; }
	OBS="ran as uid 65534, no caps (x$n: nosuid + no_new_privs)"
}

# What a run leaves in the host workspace: no setuid/setgid file, since
# every run shares the run uid (default 65534, "nobody") and a host user
# executing a planted setuid file becomes that uid (and may then ptrace the
# other leases' sandboxed processes from the host side).
t_suid_artifact() {
	local ws l found ids
	ws=$(mkws suidplant) && l=$(lease adv "$(body "[\"$P/suid_plant\"]" "$ws")") || return 1
	run_lease adv "$l"
	[ "$RC" -eq 0 ] || { OBS="exit $RC"; fail "$OBS $(first_err)"; return 1; }
	found=$(find "$ws" -perm /6000 -printf '%P(%m,uid %U) ' 2>/dev/null)
	if [ -n "$found" ]; then
		ids=""
		if [ -f "$ws/planted" ] && [ -u "$ws/planted" ]; then
			ids=$(setpriv --reuid=12345 --regid=12345 --clear-groups "$ws/planted" whoami 2>&1 |
				sed -n 's/^IDS //p')
		fi
		OBS="left on host: $found${ids:+; host uid 12345 runs it as: $ids}"
		fail "$OBS"
		return 1
	fi
	OBS="no setuid/setgid file left on the host"
}

t_sockets() {
	local ws l before
	before=$(listener_accepted)
	ws=$(mkws sockets) && l=$(lease adv "$(body "[\"$P/sockets\", \"$PORT\", \"$ABSTRACT\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied || return 1
	sleep 0.3
	[ "$(listener_accepted)" -eq "$before" ] ||
		{ OBS="host listener accepted a connection"; fail "$OBS: $(tail -n 2 "$LISTEN_LOG")"; return 1; }
	OBS+=", host listener untouched"
}

t_sockets_loopback() {
	local ws l before
	before=$(listener_accepted)
	ws=$(mkws socketslo) &&
		l=$(lease advlo "$(body "[\"$P/sockets\", \"$PORT\", \"$ABSTRACT\", \"loopback\"]" "$ws" '"network":"loopback"')") ||
		return 1
	run_lease advlo "$l"
	expect_denied || return 1
	sleep 0.3
	[ "$(listener_accepted)" -eq "$before" ] ||
		{ OBS="host listener accepted a connection"; fail "$OBS: $(tail -n 2 "$LISTEN_LOG")"; return 1; }
	OBS+=", host listener untouched"
}

t_kernel_surface() {
	local ws l
	ws=$(mkws kernel) && l=$(lease adv "$(body "[\"$P/kernel_surface\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied
}

t_ipc_pair() {
	local wsa wsb la lb name=calyx-adv-pair-$$ a i
	wsa=$(mkws ipca) && wsb=$(mkws ipcb) || return 1
	la=$(lease adv "$(body "[\"$P/ipc_pair\", \"server\", \"$name\", \"$IPC_KEY\", \"3\", \"$P/ipc_pair\"]" "$wsa")") &&
		lb=$(lease adv "$(body "[\"$P/ipc_pair\", \"client\", \"$name\", \"$IPC_KEY\", \"$P/ipc_pair\"]" "$wsb")") ||
		return 1
	timeout -k 5 60 "$EXEC" --config "$T/adv/etc/calyx.conf" --lease "$la" >"$T/ipca.out" 2>"$T/ipca.err" &
	a=$!
	for i in $(seq 1 60); do
		grep -q 'server-ready' "$T/ipca.out" 2>/dev/null && break
		kill -0 "$a" 2>/dev/null || break
		sleep 0.05
	done
	grep -q 'server-ready' "$T/ipca.out" ||
		{ wait "$a"; OBS="server did not start"; fail "$OBS: $(head -n1 "$T/ipca.err")"; return 1; }
	run_lease adv "$lb"
	wait "$a"
	local arc=$?
	if [ "$(n_verdict ESCAPED "$T/ipca.out")" -gt 0 ]; then
		OBS="ESCAPED (server side): $(escaped_list "$T/ipca.out")"
		fail "$OBS"
		return 1
	fi
	[ "$arc" -eq 0 ] || { OBS="server exit $arc"; fail "$OBS: $(head -n1 "$T/ipca.err")"; return 1; }
	expect_denied || return 1
	local fl
	fl=$(grep -q 'ipc_pair/flock INFO flock([^)]*) contended' "$OUT" && echo "flock contended (INFO)" || echo "flock not shared")
	OBS+="; $fl"
}

t_env_inject() {
	local ws l var bad="" n=0
	ws=$(mkws envinj) || return 1
	for var in LD_PRELOAD LD_LIBRARY_PATH BASH_ENV IFS; do
		l=$(lease adv "$(body "[\"$P/argv_echo\"]" "$ws" "\"env\":{\"$var\":\"/work/evil.so\"}")") || return 1
		run_lease adv "$l"
		if [ "$RC" -eq 77 ] && grep -qF '[E_POLICY_ENV]' "$ERR" && ! grep -q '^PROBE' "$OUT"; then
			n=$((n + 1))
		else
			bad+="$var: exit $RC $(first_err | cut -c1-60); "
		fi
	done
	[ -z "$bad" ] || { OBS=$bad; fail "$bad"; return 1; }
	OBS="refused 77 E_POLICY_ENV x$n"
}

t_argv_inject() {
	local ws l args=() arr i want got
	ws=$(mkws argv) || return 1
	args=("$P/argv_echo" 'a b' '$(id)' '`id`' '; id' '| cat /etc/passwd' '&& touch /work/pwned' '*'
		$'line1\nline2' '"quoted"' "'single'" '\' '-c' '--' 'é ü' $'\t' '%s%n%x' '$HOME' '>' '/work/../etc/shadow')
	arr="["
	for i in "${!args[@]}"; do
		[ "$i" -gt 0 ] && arr+=","
		arr+=$(json_str "${args[$i]}")
	done
	arr+="]"
	l=$(lease adv "$(body "$arr" "$ws")") || return 1
	run_lease adv "$l"
	expect_denied || return 1
	[ "$(sed -n 's/^ARGC //p' "$OUT")" = "${#args[@]}" ] ||
		{ OBS="argc $(sed -n 's/^ARGC //p' "$OUT"), expected ${#args[@]}"; fail "$OBS"; return 1; }
	for i in "${!args[@]}"; do
		want=$(printf '%s' "${args[$i]}" | od -An -tx1 -v | tr -d ' \n')
		[ -n "$want" ] || want=-
		got=$(sed -n "s/^ARGV $i //p" "$OUT")
		[ "$got" = "$want" ] || { OBS="argv[$i] differs"; fail "argv[$i]: got $got, expected $want"; return 1; }
	done
	[ ! -e "$ws/pwned" ] || { OBS="a shell ran (/work/pwned)"; fail "$OBS"; return 1; }
	OBS="${#args[@]} args byte-identical, no shell"
}

t_cmd_symlink_sh() {
	local ws l
	ws=$(mkws shlink) || return 1
	l=$(lease adv "$(body "[\"$R/shlink/sh\", \"-c\", \"echo PROBE cmd_symlink_sh/main ESCAPED a shell ran as the command; touch /work/pwned\"]" \
		"$ws" "" "[\"$R/shlink\", \"/usr\"]")") || return 1
	run_lease adv "$l"
	if [ "$(n_verdict ESCAPED)" -gt 0 ] || [ -e "$ws/pwned" ]; then
		OBS="ESCAPED: /bin/sh ran (builtins work; exec of touch refused: exit $RC)"
		fail "$OBS"
		return 1
	fi
	[ "$RC" -ne 0 ] || { OBS="exit 0 without output"; fail "$OBS"; return 1; }
	OBS="not run: exit $RC $(grep -o '\[E_[A-Z_]*\]' "$ERR" | head -n1)"
}

t_cmd_relative() {
	local ws l
	ws=$(mkws relcmd) || return 1
	# Control: the raw signer produces leases calyx-exec accepts.
	l=$(sign_raw adv "$(body "[\"$P/argv_echo\"]" "$ws")") || return 1
	run_lease adv "$l"
	[ "$RC" -eq 0 ] && grep -q '^PROBE argv_echo/no-shell DENIED' "$OUT" ||
		{ OBS="control lease failed: exit $RC"; fail "$OBS: $(first_err)"; return 1; }
	l=$(sign_raw adv "$(body '["probes/argv_echo"]' "$ws")") || return 1
	run_lease adv "$l"
	expect_refused 77 E_POLICY_COMMAND || return 1
	l=$(sign_raw adv "$(body "[\"$P/../probes/argv_echo\"]" "$ws")") || return 1
	run_lease adv "$l"
	expect_refused 77 E_PATH_NOT_NORMAL || return 1
	OBS="refused 77 (relative: E_POLICY_COMMAND, ..: E_PATH_NOT_NORMAL)"
}

t_host_canaries() {
	canary_state >"$R/canaries.after"
	if ! cmp -s "$R/canaries.before" "$R/canaries.after"; then
		OBS="host canary changed"
		fail "$OBS: $(diff "$R/canaries.before" "$R/canaries.after" | tr '\n' ' ' | cut -c 1-200)"
		return 1
	fi
	[ "$(sha256sum <"$EXEC" | cut -c1-64)" = "$EXEC_SHA_BEFORE" ] ||
		{ OBS="calyx-exec changed"; fail "$OBS"; return 1; }
	kill -0 "$VICTIM" 2>/dev/null || { OBS="host victim died"; fail "$OBS"; return 1; }
	[ "$(listener_accepted)" -eq 0 ] || { OBS="host listener was reached"; fail "$OBS"; return 1; }
	OBS="3 canaries, calyx-exec sha256, victim pid, listener: unchanged"
}

# --------------------------------------------------------------------------
case_ path_traversal    "path traversal (CWE-22)"            denied          t_path_traversal
case_ ws_links          "planted symlink/hardlink"           denied          t_ws_links
case_ mount_race        "mount race (CVE-2021-30465)"        "real or refused" t_mount_race
case_ proc_escape       "/proc/*/root, /proc/*/cwd links"    denied          t_proc_escape
case_ lease_cwd_procfd  "cwd /proc/self/fd/N"                "77 E_POLICY_PATH" t_lease_cwd_procfd
case_ cwd_symlink       "cwd symlink to magic link"          "125 or in view" t_cwd_symlink
case_ fd_leak           "leaked fds (CVE-2024-21626)"        denied          t_fd_leak
case_ stdio_dir         "dir fd as stdin (CVE-2024-21626)"   denied          t_stdio_dir
case_ proc_exe          "/proc/*/exe write (CVE-2019-5736)"  denied          t_proc_exe
case_ tty_inject        "TIOCSTI/TIOCLINUX (CVE-2017-5226)"  denied          t_tty_inject
case_ abi_native        "seccomp arg truncation"             denied          t_abi_native
case_ abi_int80         "i386 ABI via int 0x80"              "SIGSYS"        t_abi_int80
case_ abi_x32           "x32 ABI"                            "SIGSYS"        t_abi_x32
case_ privs_state       "uids, caps, nnp, seccomp, securebits" denied        t_privs_state
case_ ns_mount          "mount/unshare/setns/chroot"         denied          t_ns_mount
case_ ptrace_kill       "ptrace/kill init and host"          denied          t_ptrace_kill
case_ sysctl_cgroup     "/proc/sys, sysrq, cgroupfs"         denied          t_sysctl_cgroup
case_ fs_privs          "mknod/planted dev, ro mounts, chown" denied        t_fs_privs
case_ setuid_exec       "setuid/file caps, exec rule"        denied          t_setuid_exec
case_ setuid_direct     "setuid/file-cap copy as command"    "no privilege"  t_setuid_direct
case_ suid_artifact     "setuid file planted in workspace"   "none on host"  t_suid_artifact
case_ sockets           "socket families, host net"          denied          t_sockets
case_ sockets_loopback  "net=loopback vs host 127.0.0.1"     denied          t_sockets_loopback
case_ kernel_surface    "bpf/keyctl/perf/uffd/io_uring/kmod" denied          t_kernel_surface
case_ ipc_pair          "sandbox <-> sandbox channels"       denied          t_ipc_pair
case_ env_inject        "LD_PRELOAD/BASH_ENV/IFS in lease"   "77 E_POLICY_ENV" t_env_inject
case_ argv_inject       "argv injection, no shell"           "byte-identical" t_argv_inject
case_ cmd_symlink_sh    "command symlink to /bin/sh"         "no shell"      t_cmd_symlink_sh
if command -v openssl >/dev/null 2>&1; then
case_ cmd_relative      "relative command"                   "77"            t_cmd_relative
else
skip_case cmd_relative  "relative command"                   "77"            "openssl missing (needed to sign a body calyx-lease refuses)"
fi
case_ host_canaries     "host canaries after all runs"       unchanged       t_host_canaries

# --------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------
w1=5 w2=5 w3=8
for i in "${!ROW_NAME[@]}"; do
	[ "${#ROW_NAME[$i]}" -gt "$w1" ] && w1=${#ROW_NAME[$i]}
	[ "${#ROW_CLASS[$i]}" -gt "$w2" ] && w2=${#ROW_CLASS[$i]}
	[ "${#ROW_EXP[$i]}" -gt "$w3" ] && w3=${#ROW_EXP[$i]}
done
echo
printf '  %-*s | %-*s | %-*s | %s\n' "$w1" probe "$w2" class "$w3" expected observed
printf '  %s\n' "$(printf '%*s' $((w1 + w2 + w3 + 9 + 40)) '' | tr ' ' -)"
for i in "${!ROW_NAME[@]}"; do
	mark=" "
	[ "${ROW_OK[$i]}" -eq 1 ] || mark="!"
	printf '%s %-*s | %-*s | %-*s | %s\n' "$mark" "$w1" "${ROW_NAME[$i]}" "$w2" "${ROW_CLASS[$i]}" \
		"$w3" "${ROW_EXP[$i]}" "${ROW_OBS[$i]}"
done
echo
echo "(${#ROW_NAME[@]} cases in $(( $(date +%s) - SUITE_START )) s; '!' marks an unexpected result)"
summary
