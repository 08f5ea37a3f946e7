# shellcheck shell=bash
# Shared harness and fixtures for the shell test suites (integration,
# adversarial). Source it, do not run it:
#
#   source "$(dirname "$0")/../integration/lib.sh" "${1:-build}"
#
# It sets up (and removes on exit) a private temp dir $T, checks that it runs
# as root and that the binaries exist (exit 2 otherwise), and defines:
#
#   B EXEC LEASE POLICY AUDIT   absolute build dir and binary paths
#   T                           fresh temp dir (mode 755), removed on exit
#   OUT ERR RC WHY              last xrun's stdout/stderr files, exit code;
#                               reason of the last failure
#   fail MSG                    set WHY, return 1
#   run_test NAME FN [ARGS]     one named check, cmocka-style output
#   skip_test NAME REASON       a visibly skipped check
#   summary                     totals; returns 1 if anything failed
#   xrun CMD...                 run, stdout->$OUT, stderr->$ERR, rc->$RC
#   first_err / nlines FILE
#   expect_rc N / check RC SUBSTR CMD... / check_one_line RC E_CODE CMD...
#   expect_stdout_has SUBSTR / expect_file_has FILE REGEX / dir_empty DIR
#   lib_atexit CMD              run CMD (eval'd) at exit, before $T is removed
#                               (lib.sh owns the EXIT trap: do not replace it)
#
#   lib_keys                    signer keys $T/keys/{alice,bot}.{key,pub.json}
#                               and host key $T/hostkeys/host.{key,pub.json}
#   policy_json CMDS [READ] [WRITE] [EXTRA]   print a policy (JSON arrays;
#                               EXTRA: raw members; $POLICY_NETWORK)
#   mk_host NAME POLICY_FILE [HOST_ID] [EXTRA_CONFIG]   a host in $T/NAME
#   body_json ARGV [EXTRA]      print a lease body
#   mk_lease HOST OUT BODY_FILE [both|human|none]       new + sign
#   lease_id FILE               the lease id
#   cx HOST ARGS...             calyx-exec with $T/HOST/etc/calyx.conf
#   json_get FILE KEY           scalar value of the first "KEY": in FILE
#   audit_types FILE / audit_types_all FILE / audit_seqs FILE / seq_list N
#   rget FILE KEY               a scalar of a result JSON (KEY or OBJECT.KEY)
#   WS_OPS / ws_fixture DIR UID the workspace fixture and its operations
#   wsops_argv ARGS...          a JSON argv: $HB/wsops (the suite's copy of
#                               the wsops workload) and ARGS
set -u

LIB_PROG=$(basename "$0")

B=${1:-build}
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! B=$(cd "$B" 2>/dev/null && pwd); then
	echo "$LIB_PROG: build dir '${1:-build}' not found (run 'make' first)" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "$LIB_PROG: must run as root (calyx-exec's configuration must be root-owned)" >&2
	exit 2
fi
for _lib_bin in calyx-exec calyx-lease calyx-policy calyx-audit; do
	[ -x "$B/$_lib_bin" ] || { echo "$LIB_PROG: $B/$_lib_bin missing (run 'make')" >&2; exit 2; }
done
unset _lib_bin
# shellcheck disable=SC2034  # used by the scripts that source this file
EXEC=$B/calyx-exec LEASE=$B/calyx-lease POLICY=$B/calyx-policy AUDIT=$B/calyx-audit

T=$(mktemp -d /tmp/calyx-XXXXXX) || exit 2
chmod 755 "$T"
LIB_ATEXIT=()
lib_atexit() { LIB_ATEXIT+=("$1"); }
_lib_cleanup() {
	local c
	for c in ${LIB_ATEXIT[@]+"${LIB_ATEXIT[@]}"}; do eval "$c"; done
	rm -rf "$T"
}
trap _lib_cleanup EXIT
# a signal ends the script through exit, so the EXIT trap still cleans up
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
umask 022

NRUN=0 NFAIL=0 NSKIP=0 FAILED_NAMES=()
WHY=""     # reason of the last failure, set by fail()
RC=0       # exit code of the last xrun
OUT=$T/.out ERR=$T/.err
: >"$OUT"; : >"$ERR"

# --------------------------------------------------------------------------
# harness
# --------------------------------------------------------------------------
fail() { WHY="$*"; return 1; }

# run_test NAME FUNCTION [ARGS...]: one named check.
run_test() {
	local name=$1; shift
	NRUN=$((NRUN + 1))
	WHY=""
	printf '[ RUN      ] %s\n' "$name"
	if "$@"; then
		printf '[       OK ] %s\n' "$name"
	else
		NFAIL=$((NFAIL + 1))
		FAILED_NAMES+=("$name")
		printf '[  FAILED  ] %s: %s\n' "$name" "${WHY:-check returned non-zero}"
	fi
}

# skip_test NAME REASON: a check that cannot run here, shown as skipped.
skip_test() {
	NSKIP=$((NSKIP + 1))
	printf '[ RUN      ] %s\n' "$1"
	printf '[  SKIPPED ] %s: %s\n' "$1" "$2"
}

summary() {
	local n
	printf '[==========] %d test(s) run.\n' "$NRUN"
	printf '[  PASSED  ] %d test(s).\n' "$((NRUN - NFAIL))"
	[ "$NSKIP" -eq 0 ] || printf '[  SKIPPED ] %d test(s).\n' "$NSKIP"
	if [ "$NFAIL" -gt 0 ]; then
		printf '[  FAILED  ] %d test(s), listed below:\n' "$NFAIL"
		for n in "${FAILED_NAMES[@]}"; do
			printf '[  FAILED  ] %s\n' "$n"
		done
		return 1
	fi
	return 0
}

# xrun CMD...: run, keep stdout in $OUT, stderr in $ERR, exit code in $RC.
xrun() {
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
}

first_err() { head -n 1 "$ERR" | cut -c 1-200; }
nlines() { awk 'END { print NR }' "$1"; }

# expect_rc WANT: the last xrun exited WANT.
expect_rc() {
	[ "$RC" -eq "$1" ] || fail "exit $RC, expected $1 (stderr: $(first_err))"
}

# check WANT_RC SUBSTR CMD...: run CMD, assert its exit code and that
# stderr contains SUBSTR (empty SUBSTR: anything).
check() {
	local want=$1 sub=$2; shift 2
	xrun "$@"
	expect_rc "$want" || return 1
	if [ -n "$sub" ] && ! grep -qF -- "$sub" "$ERR"; then
		fail "stderr lacks '$sub' (stderr: $(first_err))"
		return 1
	fi
	return 0
}

# check_one_line WANT_RC E_CODE CMD...: a refusal or failure of one of the
# calyx CLIs: exit WANT_RC, and exactly one stderr line of the form
#   PROG: lease refused [E_CODE]: ...   (exit 77; calyx-rollout: "rollout
#                                       refused", "control document refused")
#   PROG: error [E_CODE]: ...           (any other exit)
check_one_line() {
	local want=$1 code=$2 kind; shift 2
	xrun "$@"
	expect_rc "$want" || return 1
	[ "$(nlines "$ERR")" -eq 1 ] ||
		fail "stderr has $(nlines "$ERR") lines, expected exactly 1: $(tr '\n' '|' <"$ERR" | cut -c 1-300)" ||
		return 1
	if [ "$want" -eq 77 ]; then kind="(lease|rollout|control document) refused"; else kind="error"; fi
	grep -qE "^calyx-[a-z]+: $kind \[$code\]: ." "$ERR" ||
		fail "stderr is not '<prog>: $kind [$code]: ...': $(first_err)"
}

# expect_stdout_has SUBSTR / expect_file_has FILE REGEX
expect_stdout_has() {
	grep -qF -- "$1" "$OUT" || fail "stdout lacks '$1' (stdout: $(head -n 1 "$OUT" | cut -c 1-200))"
}
expect_file_has() {
	[ -f "$1" ] || fail "$1 does not exist" || return 1
	grep -qE -- "$2" "$1" || fail "$1 does not match /$2/"
}

# dir_empty DIR: true if DIR is absent or has no entries.
dir_empty() {
	[ ! -e "$1" ] || [ -z "$(ls -A "$1" 2>/dev/null)" ]
}

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
KEYS=$T/keys         # the signers' keys (human alice, agent bot)
HOSTKEYS=$T/hostkeys # the host's audit key (copied into each host)
HOST_ID=it-host
POLICY_NETWORK='["none"]'

# lib_keys: create the signer and host keys once (idempotent).
lib_keys() {
	[ -f "$KEYS/alice.key" ] && [ -f "$KEYS/bot.key" ] && [ -f "$HOSTKEYS/host.key" ] && return 0
	mkdir -p "$KEYS" "$HOSTKEYS" && chmod 700 "$KEYS" "$HOSTKEYS" || fail "mkdir keys" || return 1
	[ -f "$KEYS/alice.key" ] ||
		"$LEASE" keygen --role human --name alice --out "$KEYS" >/dev/null 2>"$ERR" ||
		fail "keygen alice: $(first_err)" || return 1
	[ -f "$KEYS/bot.key" ] ||
		"$LEASE" keygen --role agent --name bot --out "$KEYS" >/dev/null 2>"$ERR" ||
		fail "keygen bot: $(first_err)" || return 1
	[ -f "$HOSTKEYS/host.key" ] ||
		"$LEASE" keygen --role agent --name host --out "$HOSTKEYS" >/dev/null 2>"$ERR" ||
		fail "keygen host: $(first_err)" || return 1
}

# policy_json COMMANDS [READ] [WRITE] [EXTRA_MEMBERS]: print a valid policy.
# Arguments are JSON arrays (EXTRA_MEMBERS: raw members, no leading comma).
# Defaults: read ["/usr","/etc/ssl/certs"], write ["$T/srv"]; network is
# $POLICY_NETWORK (default ["none"]).
policy_json() {
	local cmds=$1 read=${2:-'["/usr", "/etc/ssl/certs"]'} write=${3:-"[\"$T/srv\"]"}
	local extra=${4:+,
  $4}
	cat <<JSON
{ "v": 1,
  "commands": $cmds,
  "read":  $read,
  "write": $write,
  "env": {"allow": ["LANG", "TZ"], "set": {"PATH": "/usr/bin:/bin", "HOME": "/work"}},
  "limits": {"max":     {"cpu_ms": 600000, "memory_bytes": 2147483648, "pids": 512,
                         "wall_ms": 1800000, "nofile": 1024, "fsize_bytes": 1073741824,
                         "tmp_bytes": 268435456},
             "default": {"cpu_ms": 60000, "memory_bytes": 268435456, "pids": 64,
                         "wall_ms": 120000, "nofile": 256, "fsize_bytes": 104857600,
                         "tmp_bytes": 67108864}},
  "network": $POLICY_NETWORK,
  "lease": {"max_lifetime_s": 3600, "clock_skew_s": 60, "require_audience": true},
  "syscalls": {"deny": ["ptrace"]}$extra }
JSON
}

# mk_host NAME POLICY_FILE [HOST_ID] [EXTRA_CONFIG_MEMBERS]: a self-contained
# host in $T/NAME: etc/{calyx.conf,keyring.json (alice+bot),policy.json,
# host.key,host.pub.json}, state/ (0700, empty), log/ (0755, no audit log
# yet). EXTRA_CONFIG_MEMBERS: raw JSON members, e.g. '"run_uid": 1234'.
# ADV_HOST_MEMBERS (set by calyx-ctl selftest): raw members of the real
# host's calyx.conf every such host also gets (bpf_pin_dir, ...).
# Returns non-zero (with WHY) if setup failed.
mk_host() {
	local e=$T/$1 pol=$2 hid=${3:-$HOST_ID} extra=${4:+,
  $4}
	lib_keys || return 1
	[ -f "$pol" ] || fail "mk_host $1: policy file $pol missing" || return 1
	mkdir -p "$e/etc" "$e/state" "$e/log" || fail "mkdir $e" || return 1
	chmod 755 "$e" "$e/etc" "$e/log"
	chmod 700 "$e/state"
	rm -f "$e/etc/keyring.json"
	"$LEASE" keyring add "$e/etc/keyring.json" "$KEYS/alice.pub.json" >/dev/null 2>"$ERR" &&
		"$LEASE" keyring add "$e/etc/keyring.json" "$KEYS/bot.pub.json" >/dev/null 2>>"$ERR" ||
		fail "keyring add for $1: $(first_err)" || return 1
	if [ "$pol" != "$e/etc/policy.json" ]; then
		cp "$pol" "$e/etc/policy.json" || fail "cp policy" || return 1
	fi
	chmod 644 "$e/etc/policy.json"
	cp "$HOSTKEYS/host.key" "$HOSTKEYS/host.pub.json" "$e/etc/" || fail "cp host key" || return 1
	chmod 600 "$e/etc/host.key"
	chmod 644 "$e/etc/host.pub.json"
	cat >"$e/etc/calyx.conf" <<JSON
{ "keyring": "$e/etc/keyring.json", "policy": "$e/etc/policy.json",
  "state_dir": "$e/state", "audit_log": "$e/log/audit.jsonl",
  "host_key": "$e/etc/host.key", "host_id": "$hid"$extra${ADV_HOST_MEMBERS:+,
  $ADV_HOST_MEMBERS} }
JSON
	chmod 644 "$e/etc/calyx.conf" "$e/etc/keyring.json"
	return 0
}

# body_json ARGV_JSON_ARRAY [EXTRA_MEMBERS]: print a lease body for the
# default host id (run_id it-run, paths.ro ["/usr"]).
body_json() {
	local extra=${2:+, $2}
	printf '{"run_id":"it-run","audience":"%s","argv":%s,"paths":{"ro":["/usr"]}%s}\n' \
		"$HOST_ID" "$1" "$extra"
}

# mk_lease HOSTNAME OUT BODY_FILE [SIGNERS]: body -> new (bound to the
# host's policy, ttl 1800) -> sign. SIGNERS: "both" (default), "human", "none".
# LEASE_NEW_FLAGS: extra flags for 'calyx-lease new' (e.g. --no-host-check,
# to write a lease whose command this host lacks on purpose).
mk_lease() {
	local e=$T/$1 out=$2 body=$3 signers=${4:-both}
	lib_keys || return 1
	rm -f "$out"
	# shellcheck disable=SC2086  # flags, split on purpose
	"$LEASE" new ${LEASE_NEW_FLAGS:-} "$body" -o "$out" --policy "$e/etc/policy.json" --ttl 1800 >/dev/null 2>"$ERR" ||
		fail "calyx-lease new: $(first_err)" || return 1
	[ "$signers" = none ] && return 0
	"$LEASE" sign --key "$KEYS/alice.key" "$out" >/dev/null 2>"$ERR" ||
		fail "calyx-lease sign (human): $(first_err)" || return 1
	[ "$signers" = human ] && return 0
	"$LEASE" sign --key "$KEYS/bot.key" "$out" >/dev/null 2>"$ERR" ||
		fail "calyx-lease sign (agent): $(first_err)" || return 1
}

# lease_id FILE: the lease id, from 'calyx-lease show'.
lease_id() {
	"$LEASE" show "$1" 2>/dev/null | sed -n 's/^lease \([0-9a-f]\{32\}\) (run.*/\1/p'
}

# cx HOSTNAME ARGS...: calyx-exec with the host's config.
cx() {
	local e=$T/$1; shift
	"$EXEC" --config "$e/etc/calyx.conf" "$@"
}

# json_get FILE KEY: the scalar value of the first "KEY": in FILE (strings
# without their quotes; numbers, true/false/null as written).
json_get() {
	grep -o "\"$2\": *\(\"\([^\"\\\\]\|\\\\.\)*\"\|[^][,}{[:space:]]*\)" "$1" 2>/dev/null | head -n 1 |
		sed 's/^"[^"]*": *//; s/^"\(.*\)"$/\1/'
}

# Audit-log field extraction: lines are compact JSON written as
# {"seq":N,"time":"…","type":"T","lease_id":"…",…
# audit_types: the events' types, without the log's own checkpoints
# (audit.checkpoint, one per sync group); audit_types_all: every line's.
audit_types_all() { sed -n 's/^{"seq":[0-9]*,"time":"[^"]*","type":"\([^"]*\)".*/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//'; }
audit_types() { audit_types_all "$1" | tr ' ' '\n' | grep -vx 'audit.checkpoint' | tr '\n' ' ' | sed 's/ $//'; }
audit_seqs() { sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//'; }
seq_list() { seq 1 "$1" | tr '\n' ' ' | sed 's/ $//'; }

# rget FILE KEY | rget FILE OBJECT.KEY: a scalar of a (pretty-printed)
# result JSON, at the top level or one object down; strings unquoted.
rget() {
	local f=$1 k=$2 obj=""
	case $k in *.*) obj=${k%%.*} k=${k#*.} ;; esac
	if [ -n "$obj" ]; then
		sed -n "/^  \"$obj\": {/,/^  }/p" "$f" 2>/dev/null | sed -n "s/^    \"$k\": *\(.*\)\$/\1/p"
	else
		sed -n "s/^  \"$k\": *\(.*\)\$/\1/p" "$f" 2>/dev/null
	fi | head -n 1 | sed 's/,$//; s/^"\(.*\)"$/\1/'
}

# The workspace fixture of the workspace, crash and soak tests: every kind
# of entry WS_OPS (wsops operations: add, change, delete, rename,
# dir->file, file->dir, a symlink out of the tree, a hardlink, a mode
# change) touches. ws_fixture DIR UID: a fresh one owned by UID.
# shellcheck disable=SC2034  # used by the scripts that source this file
WS_OPS=(write:new.txt:hello append:a.txt:more rm:b.txt mkdir:nd write:nd/x:1 mv:d/f1:d/f1r
	rmtree:dir2 write:dir2:now-a-file rm:file3 mkdir:file3 write:file3/y:2
	ln:/etc/passwd:outlink link:new.txt:new-hard chmod:a.txt:600 rm:link-to-a)
ws_fixture() {
	rm -rf "$1"
	mkdir -p "$1/d" "$1/dir2" "$1/keep/deep"
	printf 'alpha\n' >"$1/a.txt"
	printf 'bravo\n' >"$1/b.txt"
	printf 'one\n' >"$1/d/f1"
	printf 'two\n' >"$1/dir2/inner"
	printf 'three\n' >"$1/file3"
	printf 'deep\n' >"$1/keep/deep/z"
	ln -s a.txt "$1/link-to-a"
	chown -R "$2:$2" "$1"
}

# wsops_argv ARGS...: a JSON array, "$HB/wsops" then ARGS (each without
# quotes or backslashes); HB is the suite's own directory holding wsops.
wsops_argv() {
	local out="[\"$HB/wsops\"" a
	for a in "$@"; do out="$out, \"$a\""; done
	printf '%s]' "$out"
}

# ---- pages in a browser (audit and rollout reports) ----------------------
# chromium_run FILE ARGS...: headless Chromium (Debian's) on FILE, stdout
# $OUT, stderr $ERR. --no-sandbox: root, and the page is our own static
# file with no script. --log-level=0 logs the page's console (where CSP
# violations and script errors go) as "INFO:CONSOLE..." lines.
chromium_run() {
	local f=$1; shift
	xrun timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$T/chromium-profile" --no-first-run --enable-logging=stderr --log-level=0 \
		"$@" "file://$f"
}
# console_errors: console and CSP errors only (a VM's dbus/gpu noise is not ours)
console_errors() {
	grep -E "Uncaught|CONSOLE|Refused to|Content Security Policy" "$ERR"
}
# axe-core (WCAG 2.x A/AA rules) in the same Chromium: not in Debian, so
# from npm where it can be reached (`npm i axe-core playwright-core` in
# $AXE_DIR); AXE_SKIP says why it cannot run here, "" when it can.
AXE_DIR=${CX_AXE_DIR:-/work/.cache/npm-axe}
AXE_JS=${CX_AXE_JS:-$AXE_DIR/node_modules/axe-core/axe.min.js}
AXE_SKIP=""
if ! command -v chromium >/dev/null 2>&1; then
	AXE_SKIP="chromium not installed (scripts/install-deps.sh installs it)"
elif ! command -v node >/dev/null 2>&1; then
	AXE_SKIP="node not installed (apt-get install nodejs npm)"
elif [ ! -f "$AXE_JS" ] || [ ! -d "$AXE_DIR/node_modules/playwright-core" ]; then
	AXE_SKIP="axe-core not installed: npm i axe-core playwright-core in $AXE_DIR (or set CX_AXE_DIR / CX_AXE_JS)"
fi
# axe_run FILE...: exit 0 when no page has a violation (printed otherwise)
axe_run() {
	NODE_PATH=$AXE_DIR/node_modules xrun timeout 300 node "$LIB_DIR/rollout_report_axe.js" \
		"$AXE_JS" "$(command -v chromium)" "$@"
}
