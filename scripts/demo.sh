#!/bin/sh
# make demo: the two-key lease flow end to end, printing each step.
# Runs as root from a fresh clone: installs missing deps, builds, then works
# in build/demo/ (recreated each time) with its own config, keys, keyring,
# policy, state dir and audit log — nothing outside build/ is touched.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B="$ROOT/build"
D="$B/demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# run a command expected to fail with a given exit code
expect() {
	want=$1; shift
	printf '$ %s\n' "$*"
	set +e; "$@"; got=$?; set -e
	echo "(exit $got)"
	[ "$got" -eq "$want" ] || { echo "demo: expected exit $want, got $got" >&2; exit 1; }
}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (calyx-exec's configuration must be root-owned)" >&2
	exit 1
fi

step "1. dependencies and build"
scripts/install-deps.sh
make -s all
PATH="$B:$PATH"

step "2. a demo host: config, state dir and audit log under build/demo"
rm -rf "$D"
mkdir -p "$D/etc" "$D/keys" "$D/state" "$D/log" "$D/srv/app"
chmod 700 "$D/keys" "$D/state"
chmod 755 "$D" "$D/etc" "$D/log"
echo "version=4.1" > "$D/srv/app/VERSION"
# the workspace belongs to a deploy user (uid 1000), as on a real host: each
# run executes as its own uid (config run_uid_range), and the workspace is
# mounted idmapped, so the run owns what uid 1000 owns and its writes land
# owned by uid 1000 — no chown to a sandbox uid
chown -R 1000:1000 "$D/srv/app"

# What a make + gcc build executes besides make (step 17), by real path:
# Landlock grants execute on files, and /usr/bin/gcc, as, ld are links.
GCC=$(readlink -f /usr/bin/gcc)
CC1=$(readlink -f "$(/usr/bin/gcc -print-prog-name=cc1)")
COLLECT2=$(readlink -f "$(/usr/bin/gcc -print-prog-name=collect2)")
AS=$(readlink -f /usr/bin/as)
LD=$(readlink -f /usr/bin/ld)
BUILD_EXEC="[\"$GCC\", \"$CC1\", \"$COLLECT2\", \"$AS\", \"$LD\", \"/work/build\"]"

step "3. two signers: a human key and an agent key"
run calyx-lease keygen --role human --name alice --out "$D/keys"
run calyx-lease keygen --role agent --name ops-bot --out "$D/keys"
run calyx-lease keygen --role agent --name host --out "$D/etc"   # the host's audit key

step "4. the keyring (root-owned, like TUF's root.json)"
run calyx-lease keyring add "$D/etc/keyring.json" "$D/keys/alice.pub.json"
run calyx-lease keyring add "$D/etc/keyring.json" "$D/keys/ops-bot.pub.json"

step "5. the policy: the ceiling every lease must fit under"
cat > "$D/etc/policy.json" <<JSON
{ "v": 1,
  "commands": ["/usr/bin/sed", "/usr/bin/grep", "/usr/bin/cat", "/usr/bin/id", "/usr/bin/sha256sum",
               "/usr/bin/dd", "/usr/bin/make"],
  "exec": $BUILD_EXEC,
  "read":  ["/usr", "/etc/ssl/certs"],
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
run calyx-policy check "$D/etc/policy.json"
echo "(the security team's review: lint finds sed, whose script is a program, make, which"
echo " runs programs, and /work/build, an exec entry in a writable tree: a run may execute"
echo " what it builds there. Here the lease's exact sed script is what the human co-signs,"
echo " and Landlock lets a run execute only its command and its lease's exec entries — the"
echo " sed lease names none — so sed's 'e' cannot start a shell)"
expect 1 calyx-policy lint "$D/etc/policy.json"

cat > "$D/etc/calyx.conf" <<JSON
{ "keyring": "$D/etc/keyring.json", "policy": "$D/etc/policy.json",
  "state_dir": "$D/state", "audit_log": "$D/log/audit.jsonl",
  "host_key": "$D/etc/host.key", "host_id": "demo-host" }
JSON
chmod 644 "$D/etc/calyx.conf" "$D/etc/policy.json" "$D/etc/keyring.json"

step "6. a lease: body -> unsigned envelope (lease_id, times and policy hash filled in)"
cat > "$D/body.json" <<JSON
{ "run_id": "deploy-4821", "intent_id": "intent-77", "audience": "demo-host",
  "argv": ["/usr/bin/sed", "-i", "s/version=4.1/version=4.2/", "/work/VERSION"],
  "cwd": "/work", "env": {"LANG": "C.UTF-8"},
  "workspace": "$D/srv/app",
  "paths": {"ro": ["/usr"], "rw": []},
  "limits": {"cpu_ms": 60000, "memory_bytes": 536870912, "pids": 128, "wall_ms": 120000},
  "network": "none",
  "validate": {"argv": ["/usr/bin/grep", "-q", "version=4.2", "/work/VERSION"]},
  "purpose": "release 4.2 to canary" }
JSON
run calyx-lease new "$D/body.json" -o "$D/run.lease" --policy "$D/etc/policy.json" --ttl 1800

step "7. sign twice: the human reviews and signs, then the agent"
run calyx-lease show --keyring "$D/etc/keyring.json" "$D/run.lease"
expect 77 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/run.lease" --dry-run
run calyx-lease sign --key "$D/keys/alice.key" "$D/run.lease"
expect 77 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/run.lease" --dry-run
run calyx-lease sign --key "$D/keys/ops-bot.key" "$D/run.lease"

step "8. verify (nothing consumed)"
run calyx-lease verify --keyring "$D/etc/keyring.json" --policy "$D/etc/policy.json" \
	--host-id demo-host "$D/run.lease"

step "9. calyx-exec --dry-run: verify and print the plan; no side effect"
run calyx-exec --config "$D/etc/calyx.conf" --lease "$D/run.lease" --dry-run
ls -A "$D/state" | grep -q . && { echo "demo: dry run left state behind" >&2; exit 1; }
echo "(state dir still empty: nothing consumed)"

step "10. tampering is refused: a copy with the payload edited after signing"
sed 's/"payload": "e/"payload": "f/' "$D/run.lease" > "$D/tampered.lease"
expect 77 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/tampered.lease" --dry-run

step "11. run it: sandboxed, as a uid of its own, no capabilities, no network, Landlock + seccomp"
echo "(the run writes into an overlay; after it and its validate step exit 0, the change is committed)"
run cat "$D/srv/app/VERSION"
run calyx-exec --config "$D/etc/calyx.conf" --lease "$D/run.lease" --result "$D/result.json"
run cat "$D/srv/app/VERSION"
run ls -ln "$D/srv/app"
echo "(still owned by uid 1000, the workspace's owner)"
run cat "$D/result.json"
run calyx-ctl --config "$D/etc/calyx.conf" diff deploy-4821

step "12. single use: the same lease again is refused"
expect 77 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/run.lease"

# sign a fresh lease for ARGV (JSON array) [LIMITS (JSON object)] as both signers
lease_for() {
	cat > "$D/$1.json" <<JSON
{ "run_id": "demo-$1", "audience": "demo-host", "argv": $2, "paths": {"ro": ["/usr"]},
  "limits": ${3:-{\}} }
JSON
	calyx-lease new "$D/$1.json" -o "$D/$1.lease" --policy "$D/etc/policy.json" >/dev/null
	calyx-lease sign --key "$D/keys/alice.key" "$D/$1.lease" >/dev/null
	calyx-lease sign --key "$D/keys/ops-bot.key" "$D/$1.lease" >/dev/null
}

step "13. what the sandbox sees: its identity, capabilities, and no host secrets"
lease_for whoami '["/usr/bin/id"]'
run calyx-exec --config "$D/etc/calyx.conf" --lease "$D/whoami.lease"
lease_for status '["/usr/bin/grep", "-E", "^(Cap|NoNewPrivs|Seccomp)", "/proc/self/status"]'
run calyx-exec --config "$D/etc/calyx.conf" --lease "$D/status.lease"
echo "(a signed, valid lease that tries to read /etc/shadow: the file is not in the view)"
lease_for shadow '["/usr/bin/cat", "/etc/shadow"]'
expect 1 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/shadow.lease"
echo "(a lease asking for a shell is refused before anything runs: not in the policy)"
lease_for shell '["/bin/sh", "-c", "cat /etc/shadow"]' 2>/dev/null || true
expect 77 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/shell.lease"

step "14. quotas: a run that spins past its CPU budget is halted, with the whole tree"
echo "(cpu_ms 300: the in-kernel BPF enforcer stops it within a tick of the budget; exit 124)"
lease_for spin '["/usr/bin/sha256sum", "/dev/zero"]' '{"cpu_ms": 300, "wall_ms": 10000}'
expect 124 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/spin.lease" --result "$D/spin.json"
sed -n '/"halt"/,/}/p' "$D/spin.json"

step "15. rollback: a run that writes and is then halted leaves the workspace untouched"
run ls -la "$D/srv/app"
cat > "$D/fill.json" <<JSON
{ "run_id": "demo-fill", "audience": "demo-host", "workspace": "$D/srv/app", "cwd": "/work",
  "argv": ["/usr/bin/dd", "if=/dev/urandom", "of=/work/junk.bin", "bs=1M", "count=400"],
  "paths": {"ro": ["/usr"]}, "limits": {"cpu_ms": 300, "wall_ms": 10000, "fsize_bytes": 1073741824} }
JSON
calyx-lease new "$D/fill.json" -o "$D/fill.lease" --policy "$D/etc/policy.json" >/dev/null
calyx-lease sign --key "$D/keys/alice.key" "$D/fill.lease" >/dev/null
calyx-lease sign --key "$D/keys/ops-bot.key" "$D/fill.lease" >/dev/null
expect 124 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/fill.lease" --result "$D/fill.result"
sed -n '/"workspace"/,/}/p' "$D/fill.result"
run ls -la "$D/srv/app"
echo "(no junk.bin: what the run wrote was discarded)"

step "16. undo a committed run later: calyx-ctl rollback"
run cat "$D/srv/app/VERSION"
run calyx-ctl --config "$D/etc/calyx.conf" rollback deploy-4821
run cat "$D/srv/app/VERSION"

step "17. a build under a lease: make + gcc in a workspace owned by uid 1000"
rm -rf "$D/srv/hello"
cp -R "$ROOT/tests/data/workloads/cproj" "$D/srv/hello"
mkdir "$D/srv/hello/build"   # the tree the lease may execute must exist
chown -R 1000:1000 "$D/srv/hello"
run ls -lnR "$D/srv/hello"
# build_lease NAME EXEC_JSON: make check under a lease naming EXEC_JSON
build_lease() {
	cat > "$D/$1.json" <<JSON
{ "run_id": "demo-$1", "audience": "demo-host", "workspace": "$D/srv/hello", "cwd": "/work",
  "argv": ["/usr/bin/make", "check"], "env": {"LANG": "C.UTF-8"},
  "paths": {"ro": ["/usr"]}, "exec": $2 }
JSON
	calyx-lease new "$D/$1.json" -o "$D/$1.lease" --policy "$D/etc/policy.json" >/dev/null
	calyx-lease sign --key "$D/keys/alice.key" --yes "$D/$1.lease" >/dev/null
	calyx-lease sign --key "$D/keys/ops-bot.key" --yes "$D/$1.lease" >/dev/null
}
echo "(the lease names what the build executes besides make: gcc and its backends, found"
echo " with strace -f -e trace=execve or calyx-policy learn, and the build tree, where make"
echo " check runs the program it built)"
build_lease build "$BUILD_EXEC"
run calyx-lease show --keyring "$D/etc/keyring.json" "$D/build.lease"
run calyx-exec --config "$D/etc/calyx.conf" --lease "$D/build.lease" --result "$D/build.result"
run ls -ln "$D/srv/hello/build"
echo "(committed, and owned by uid 1000: the run's own uid owns nothing on the host)"
run calyx-audit show "$D/log/audit.jsonl" --run demo-build --type exec.spawned

step "18. a lease that forgot the assembler: gcc cannot run it, the run rolls back, the log says why"
rm -rf "$D/srv/hello/build" && mkdir "$D/srv/hello/build" && chown 1000:1000 "$D/srv/hello/build"
build_lease noas "[\"$GCC\", \"$CC1\", \"$COLLECT2\", \"$LD\", \"/work/build\"]"
expect 2 calyx-exec --config "$D/etc/calyx.conf" --lease "$D/noas.lease"
run calyx-audit show "$D/log/audit.jsonl" --run demo-noas --type exec.denied
run ls -ln "$D/srv/hello/build"
echo "(empty: nothing of the failed build landed)"

step "19. the audit log: signed, hash-chained, verifiable offline"
echo "(one line per event: seq, type, run; the full lines carry details, prev hash and signature)"
sed -n 's/^{"seq":\([0-9]*\),"time":"\([^"]*\)","type":"\([^"]*\)".*"run_id":"\([^"]*\)".*/  \1  \2  \3  \4/p; t; s/^{"seq":\([0-9]*\),"time":"\([^"]*\)","type":"\([^"]*\)".*/  \1  \2  \3/p' "$D/log/audit.jsonl"
echo "(last line in full:)"
run tail -n 1 "$D/log/audit.jsonl"
run calyx-audit verify --host-pub "$D/etc/host.pub.json" "$D/log/audit.jsonl"

step "20. a report of the deploy run for people: chain verified, lease, signers, processes, usage"
run calyx-audit report --host-pub "$D/etc/host.pub.json" --log "$D/log/audit.jsonl" \
	--format html -o "$D/report-deploy-4821.html" deploy-4821
calyx-audit report --host-pub "$D/etc/host.pub.json" --log "$D/log/audit.jsonl" deploy-4821 \
	>"$D/report-deploy-4821.md"
sed -n '1,/^### Lease$/p' "$D/report-deploy-4821.md" | sed '$d'
echo "(full reports: $D/report-deploy-4821.md and .html)"

step "demo complete"
