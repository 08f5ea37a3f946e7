#!/usr/bin/env bash
# make valgrind: memcheck on the main paths of every CLI, in a throwaway
# host under a private temp dir (tests/integration/lib.sh's fixtures).
#
#   scripts/valgrind.sh [BUILD]        (root; after make)
#
# Each path runs under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite
#            --error-exitcode=99 --track-fds=yes --trace-children=no
# with only fds 0-2 open, so every fd still open at exit was opened by the
# program. A path passes when memcheck reports no error, no byte is
# definitely lost, no fd beyond stdio is left open, and the CLI exits as it
# does without valgrind (the expected code is listed with each path).
#
# What valgrind cannot follow, and what is therefore covered natively only:
#  - valgrind 3.19 has no wrapper for landlock_create_ruleset (syscall 444)
#    or seccomp(2) (317): under it they fail with ENOSYS, so calyx-exec's
#    host probe finds no Landlock and no seccomp and refuses to run (exit
#    125, E_LAYER), as it must (no soft-fail mode). The "real run" path
#    below is that run: config, lease verification, policy and host probe
#    under memcheck, stopping before anything is consumed. Namespaces,
#    clone, the sandbox child, BPF and the supervisor loop are not under
#    memcheck here (they are under ASan/LSan in make asan).
#  - calyx-ctl list/status talk to a real supervisor: that run (sleep) is
#    started without valgrind, and only the client is checked.
#
# Writes $BUILD/gates/valgrind.json; prints a table, the last line is the
# summary. Exit 0 when every path is clean, 1 when not, 2 when it cannot run.
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD_ARG=${1:-build}
GJ=$BUILD_ARG/gates/valgrind.json
mkdir -p "$BUILD_ARG/gates"

cannot_run() { # MESSAGE
	printf '{"gate":"valgrind","ok":false,"paths":0,"errors":-1,"definitely_lost":-1,"summary":"valgrind: %s"}\n' \
		"$1" >"$GJ"
	echo "valgrind: $1"
	exit 2
}
command -v valgrind >/dev/null || cannot_run "valgrind is not installed (run scripts/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || cannot_run "must run as root (calyx-exec's configuration must be root-owned)"
[ -x "$BUILD_ARG/calyx-ctl" ] || cannot_run "$BUILD_ARG/calyx-ctl missing (run make)"

# B, T, EXEC, LEASE, POLICY, AUDIT, lib_keys, policy_json, mk_host,
# body_json, mk_lease, cx, lease_id; $T is removed on exit.
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "$BUILD_ARG"
CTL=$B/calyx-ctl
GJ=$B/gates/valgrind.json
VGD=$B/valgrind # memcheck logs and each path's stdout/stderr, kept for reading
rm -rf "$VGD"
mkdir -p "$VGD"
RESULTS=$VGD/results.tsv
: >"$RESULTS"

setup_fail() { cannot_run "setup failed: $*"; }

# ---- the throwaway host ------------------------------------------------------
# Keys are made by the keygen path below (under valgrind); the host, the
# leases and one real run for the audit log are made natively.
policy_json '["/usr/bin/true", "/usr/bin/sleep"]' >"$T/policy.json"
# a wider copy for 'calyx-policy diff'
policy_json '["/usr/bin/true", "/usr/bin/sleep", "/usr/bin/env"]' '["/usr", "/etc"]' >"$T/policy-wide.json"
H=$T/h
CONF=$H/etc/calyx.conf
LOG=$H/log/audit.jsonl

# ---- running one path under memcheck ----------------------------------------------
# vg NAME WANT_RC CMD...: run CMD under memcheck with only fds 0-2 open
# (stdin /dev/null, stdout and stderr to $VGD/NAME.{out,err}, memcheck's
# log to $VGD/NAME.vg); one line of figures to $RESULTS.
vg() {
	local name=$1 want=$2 rc log err lost fds note=""
	shift 2
	log=$VGD/$name.vg
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
		done
		exec valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
			--error-exitcode=99 --track-fds=yes --trace-children=no --child-silent-after-fork=yes \
			--log-file="$log" "$@"
	) </dev/null >"$VGD/$name.out" 2>"$VGD/$name.err"
	rc=$?
	err=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
	lost=$(sed -n 's/^==[0-9]*==  *definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n 1 | tr -d ,)
	# fds left open: memcheck lists each non-std one ("Open file descriptor
	# N: PATH", "Open AF_UNIX socket N: ..."); its own log is one of them
	fds=$(grep -E '^==[0-9]+== Open ' "$log" | grep -cvF -- "$log")
	[ -n "$err" ] || { err=1; note="no memcheck summary (see $name.vg)"; }
	[ -n "$lost" ] || lost=0 # "All heap blocks were freed"
	if grep -q 'unhandled [a-z0-9]*-linux syscall' "$log"; then
		note="${note:+$note; }valgrind lacks syscall(s) $(sed -n 's/.*unhandled [a-z0-9]*-linux syscall: \([0-9]*\).*/\1/p' "$log" | sort -un | tr '\n' ' ' | sed 's/ $//')"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$want" "$rc" "$err" "$lost" "$fds" "$note" >>"$RESULTS"
}

# ---- calyx-lease -----------------------------------------------------------------
mkdir -p "$KEYS" "$HOSTKEYS" && chmod 700 "$KEYS" "$HOSTKEYS" || setup_fail "mkdir keys"
vg lease.keygen.human 0 "$LEASE" keygen --role human --name alice --out "$KEYS"
vg lease.keygen.agent 0 "$LEASE" keygen --role agent --name bot --out "$KEYS"
lib_keys || setup_fail "keys: $WHY" # the host key, natively
mkdir -p "$H/etc" && cp "$T/policy.json" "$H/etc/policy.json" || setup_fail "mkdir $H/etc"
vg lease.keyring.add 0 "$LEASE" keyring add "$T/keyring.json" "$KEYS/alice.pub.json"
mk_host h "$H/etc/policy.json" || setup_fail "mk_host: $WHY"
body_json '["/usr/bin/true"]' >"$T/true.body"
# --no-host-check: the host check opens the command with openat2, which
# valgrind does not know (ENOSYS); the suites run it natively
vg lease.new 0 "$LEASE" new --no-host-check "$T/true.body" -o "$T/true.lease" --policy "$H/etc/policy.json" --ttl 1800
cp "$T/true.lease" "$T/unsigned.lease"
vg lease.sign.human 0 "$LEASE" sign --key "$KEYS/alice.key" "$T/true.lease"
vg lease.sign.agent 0 "$LEASE" sign --key "$KEYS/bot.key" "$T/true.lease"
# 77: it stops at the host check of the command (openat2, which valgrind
# lacks: ENOSYS), after the envelope, signatures, policy and body checks
vg lease.verify 77 "$LEASE" verify --keyring "$H/etc/keyring.json" --policy "$H/etc/policy.json" \
	--host-id "$HOST_ID" "$T/true.lease"
vg lease.show.policy 0 "$LEASE" show --keyring "$H/etc/keyring.json" --policy "$H/etc/policy.json" \
	"$T/true.lease"

# ---- calyx-policy ----------------------------------------------------------------
# --no-host: the host check of commands needs openat2 (valgrind lacks it)
vg policy.check 0 "$POLICY" check "$H/etc/policy.json" --no-host
vg policy.check.lease 0 "$POLICY" check "$H/etc/policy.json" "$T/true.lease" --no-host
vg policy.explain 0 "$POLICY" explain "$H/etc/policy.json"
vg policy.lint.text 0 "$POLICY" lint "$H/etc/policy.json" --fail-on none
vg policy.lint.sarif 0 "$POLICY" lint "$H/etc/policy.json" --format sarif --fail-on none
vg policy.diff 3 "$POLICY" diff "$H/etc/policy.json" "$T/policy-wide.json"

# ---- calyx-exec ------------------------------------------------------------------
# 126: the dry run stops at the host check of the command (openat2: ENOSYS
# under valgrind), after the lease is verified and the ledger looked at
vg exec.dry_run 126 "$EXEC" --config "$CONF" --lease "$T/true.lease" --dry-run
vg exec.refused.unsigned 77 "$EXEC" --config "$CONF" --lease "$T/unsigned.lease"
# The real run: under valgrind it stops at the host probe (see the top).
vg exec.run.true 125 "$EXEC" --config "$CONF" --lease "$T/true.lease"
# (a valgrind that runs it to the end makes the path exit 0: say so)
grep -q 'E_LAYER' "$VGD/exec.run.true.err" ||
	echo "valgrind: exec.run.true did not stop at the host probe: $(head -n 1 "$VGD/exec.run.true.err")"
# natively: the run happens (the audit log gets its events); then the
# lease is a replay, refused after the ledger lookup (with --dry-run, as a
# real run would stop at the host probe first under valgrind)
cx h --lease "$T/true.lease" >/dev/null 2>"$T/native-run.err" ||
	setup_fail "native run of /usr/bin/true: $(head -n 1 "$T/native-run.err")"
vg exec.refused.replay 77 "$EXEC" --config "$CONF" --lease "$T/true.lease" --dry-run

# ---- calyx-ctl: a supervisor to talk to (native), the client under memcheck ----------
# (sleep 100, halted below: the calyx-ctl runs under memcheck on a loaded
# VM must all find it running, within the policy's default wall of 120 s)
body_json '["/usr/bin/sleep", "100"]' '"run_id": "vg-sleep"' | sed 's/"run_id":"it-run",//' >"$T/sleep.body"
mk_lease h "$T/sleep.lease" "$T/sleep.body" || setup_fail "sleep lease: $WHY"
SLEEP_LID=$(lease_id "$T/sleep.lease")
cx h --lease "$T/sleep.lease" >/dev/null 2>"$T/sleep.err" &
SLEEP_PID=$!
lib_atexit "kill $SLEEP_PID 2>/dev/null; wait $SLEEP_PID 2>/dev/null"
for _ in $(seq 1 300); do
	"$CTL" --config "$CONF" list 2>/dev/null | grep -q "^${SLEEP_LID:0:14}" && break
	kill -0 "$SLEEP_PID" 2>/dev/null || break
	sleep 0.1
done
vg ctl.list 0 "$CTL" --config "$CONF" list
vg ctl.list.json 0 "$CTL" --config "$CONF" list --json
vg ctl.status 0 "$CTL" --config "$CONF" status "$SLEEP_LID"
vg ctl.status.unknown 1 "$CTL" --config "$CONF" status no-such-run
"$CTL" --config "$CONF" halt "$SLEEP_LID" >/dev/null 2>&1
wait "$SLEEP_PID" 2>/dev/null

# ---- calyx-audit (the log now holds the true run and the halted sleep) ---------------
vg audit.verify 0 "$AUDIT" verify --config "$CONF" "$LOG"
vg audit.show 0 "$AUDIT" show "$LOG"
vg audit.show.json 0 "$AUDIT" show "$LOG" --run it-run --json
vg audit.report.md 0 "$AUDIT" report --config "$CONF" --format md -o "$T/report.md" it-run
vg audit.report.html 0 "$AUDIT" report --config "$CONF" --format html -o "$T/report.html" vg-sleep

# ---- table, figures ------------------------------------------------------------------
python3 - "$RESULTS" "$GJ" "$VGD" <<'EOF'
import json, sys
results, out, vgd = sys.argv[1:4]
rows, bad = [], []
for line in open(results):
    n, want, rc, err, lost, fds, note = line.rstrip("\n").split("\t")
    r = {"path": n, "exit": int(rc), "expected_exit": int(want), "errors": int(err),
         "definitely_lost": int(lost), "fds_left_open": int(fds), "note": note}
    r["ok"] = (r["errors"] == 0 and r["definitely_lost"] == 0 and r["fds_left_open"] == 0
               and r["exit"] == r["expected_exit"])
    if not r["ok"]:
        bad.append(n)
    rows.append(r)
w = max(len(r["path"]) for r in rows)
print("%-*s  %4s  %4s  %6s  %9s  %3s  %s" % (w, "path", "exit", "want", "errors", "def.lost", "fds", "note"))
for r in rows:
    print("%-*s  %4d  %4d  %6d  %9d  %3d  %s%s" % (w, r["path"], r["exit"], r["expected_exit"], r["errors"],
          r["definitely_lost"], r["fds_left_open"], "" if r["ok"] else "FAIL ", r["note"]))
E = sum(r["errors"] for r in rows)
L = sum(r["definitely_lost"] for r in rows)
summary = "%d CLI paths, %d errors, %d bytes lost" % (len(rows), E, L)
if bad:
    summary += " (failed: %s; logs in %s)" % (", ".join(bad), vgd)
with open(out, "w") as o:
    json.dump({"gate": "valgrind", "ok": not bad, "paths": len(rows), "errors": E, "definitely_lost": L,
               "fds_left_open": sum(r["fds_left_open"] for r in rows), "results": rows,
               "summary": summary}, o)
    o.write("\n")
print(summary)
sys.exit(1 if bad else 0)
EOF
