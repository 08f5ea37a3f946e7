#!/usr/bin/env bash
# Real workloads (issue 15): everyday jobs run under signed leases, each
# with the tightest policy it needs, asserting on their real output and on
# the host tree they leave:
#
#   c_build     make + gcc of a multi-file C project, then the built program
#   zlib        Debian's zlib source: ./configure && make && make test
#   tar         tar -czf, then tar -xzf (tar execs gzip, and sh for -z on create)
#   deploy      a root-owned #!/bin/sh script: atomic release switch
#   python      python3 -m unittest, the tests using subprocess
#   git         git init/add/commit/log, with no exec denied
#   find_xargs  find ... | xargs sed -i, from a #!/bin/sh script
#   ownership   a workspace owned by uid 1000: what the run writes stays 1000's
#   two_uids    two concurrent runs get distinct uids from run_uid_range
#
#   bash tests/integration/workloads.sh [BUILD_DIR]   (default: build; root)
#
# Each job's policy names exactly what it runs: "commands" its argv[0],
# "exec" every other program its processes execute, found with
# `strace -f -e trace=execve` on the host and written as real paths (Landlock
# grants execute on the inode, so /usr/bin/gcc -> gcc-12 must be named by
# its target; a #! script's interpreter comes with it). Read views are /usr
# (headers, libraries, locales) plus the root-owned scripts directory $HB.
# Every job also checks that the audit log verifies, that it holds one
# exec.spawned per exec of the run (their count is exec.finished's
# processes_started) including the programs the job ran, and that the
# workspace's files are owned by its owner (uid 1000) — never by the run's
# own uid.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DATA=$SRC/tests/data/workloads

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
WS_UID=1000 # the deploy user owning the workspaces, as on a real host
OTHER_UID=1001
# run_uid_range of the two_uids host (not the default, so the test shows the
# config is honoured): 8 uids just above the default block's first.
RANGE_FIRST=1879113728 RANGE_COUNT=8

# Root-owned scripts and data, leased read-only (not under /tmp: the view's
# /tmp is its own, so a lease may not name a host path there).
HB=$(mktemp -d /var/tmp/calyx-wl.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"

# real PROG: the path a lease must name for PROG as the run finds it
# (a name: on the sandbox's PATH, /usr/bin:/bin — not this shell's PATH,
# which may hold pyenv shims and the like), every symlink resolved; empty
# if absent.
real() {
	local p="" d
	case $1 in
	/*) p=$1 ;;
	*) for d in /usr/bin /bin; do [ -e "$d/$1" ] && p=$d/$1 && break; done ;;
	esac
	[ -n "$p" ] && [ -e "$p" ] && readlink -f "$p"
	return 0
}
SH=$(real /bin/sh)                      # /usr/bin/dash on Debian
MAKE=$(real make) GCC=$(real gcc) AS=$(real as) LD=$(real ld)
CC1="" COLLECT2=""
if [ -n "$GCC" ]; then
	CC1=$(real "$(/usr/bin/gcc -print-prog-name=cc1)")
	COLLECT2=$(real "$(/usr/bin/gcc -print-prog-name=collect2)")
fi
AR=$(real ar) RANLIB=$(real ranlib) NM=$(real nm)
PY=$(real python3) GIT=$(real git)     # python3 -> python3.11 on Debian 12
GIT_CORE=""
[ -n "$GIT" ] && GIT_CORE=$(real "$(/usr/bin/git --exec-path 2>/dev/null)/git")
TAR=$(real tar) GZIP=$(real gzip)
# coreutils and friends: real files on Debian, named as they are
u() { local p; p=$(real "$1"); printf '%s' "${p:-/usr/bin/$1}"; }

# jarr A B ...: a JSON array of strings (no quoting needed: plain paths)
jarr() {
	local out="" a
	for a in "$@"; do out="$out${out:+, }\"$a\""; done
	printf '[%s]' "$out"
}

# wl_host NAME COMMANDS_JSON EXEC_JSON [READ_JSON] [EXTRA_POLICY] [EXTRA_CONFIG]:
# a host $T/NAME whose policy allows exactly these commands and exec
# entries (no "exec" member when EXEC_JSON is "[]": the job needs none).
wl_host() {
	local name=$1 cmds=$2 ex=$3 read=${4:-"[\"/usr\", \"$HB\"]"} extra=${5:-} conf=${6:-}
	[ "$ex" = "[]" ] || extra="\"exec\": $ex${extra:+, $extra}"
	policy_json "$cmds" "$read" "[\"$T/srv\"]" "$extra" >"$T/$name.policy.json" || return 1
	mk_host "$name" "$T/$name.policy.json" "" "$conf"
}

# wl_run HOST RUN WS ARGV_JSON EXEC_JSON [RO_JSON] [EXTRA_BODY]: lease
# (signed by both) and run on workspace WS; output in $OUT/$ERR, $RC,
# result in $T/HOST/RUN.result. The lease names the policy's exec entries
# it needs (EXEC_JSON "[]": none).
wl_lease() {
	local host=$1 run=$2 ws=$3 argv=$4 ex=$5 ro=${6:-"[\"/usr\", \"$HB\"]"} extra=${7:-}
	[ "$ex" = "[]" ] || extra="\"exec\": $ex${extra:+, $extra}"
	printf '{"run_id":"%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","env":{"LANG":"C.UTF-8"},"paths":{"ro":%s}%s}\n' \
		"$run" "$HOST_ID" "$argv" "$ws" "$ro" "${extra:+, $extra}" >"$T/$host/$run.body" || return 1
	mk_lease "$host" "$T/$host/$run.lease" "$T/$host/$run.body"
}
wl_run() {
	wl_lease "$@" || return 1
	xrun cx "$1" --lease "$T/$1/$2.lease" --result "$T/$1/$2.result"
}

# expect_ok: the last run exited 0 and committed.
expect_ok() {
	[ "$RC" -eq 0 ] ||
		fail "exit $RC, expected 0 (stderr: $(grep -v '^$' "$ERR" | tail -n 3 | tr '\n' '|' | cut -c 1-400))" ||
		return 1
}
expect_committed() { # HOST RUN
	grep -q '"action": "committed"' "$T/$1/$2.result" ||
		fail "workspace not committed: $(grep -o '"reason": "[^"]*"' "$T/$1/$2.result" | head -n 1)"
}

# audit_ok HOST: the host's audit log verifies with its host key.
audit_ok() {
	"$AUDIT" verify --host-pub "$T/$1/etc/host.pub.json" "$T/$1/log/audit.jsonl" >/dev/null 2>"$T/.averr" ||
		fail "audit log of $1 does not verify: $(head -n 1 "$T/.averr")"
}
# run_lines HOST RUN TYPE: the audit lines of that type for run RUN.
run_lines() {
	grep -F "\"type\":\"$3\"" "$T/$1/log/audit.jsonl" 2>/dev/null | grep -F "\"run_id\":\"$2\""
}
# spawned HOST RUN NAME...: each NAME (a program's last path component, or
# a path) is the filename of an exec.spawned event of the run. Without the
# BPF exec tracer there are none: the run's exec.started says so
# ("cpu_enforcer" is not "bpf") and the check is noted, not failed.
spawned() {
	local host=$1 run=$2 n lines
	shift 2
	if ! run_lines "$host" "$run" exec.started | grep -qF '"cpu_enforcer":"bpf"'; then
		echo "      note: $run: no BPF exec tracer on this host, exec.spawned not checked"
		return 0
	fi
	lines=$(run_lines "$host" "$run" exec.spawned)
	for n in "$@"; do
		case $n in
		/*) grep -qF "\"filename\":\"$n\"" <<<"$lines" ;;
		*) grep -qE "\"filename\":\"([^\"]*/)?$n\"" <<<"$lines" ;;
		esac || fail "no exec.spawned of '$n' for run $run (have: $(grep -o '"filename":"[^"]*"' <<<"$lines" |
			sed 's/"filename"://' | sort -u | tr '\n' ' ' | cut -c 1-300))" || return 1
	done
}
# all_logged HOST RUN: every exec of the run is in the log, one exec.spawned
# each: their count equals exec.finished's processes_started (the execs
# the tracer reported: one past the exec quota, or one it had no room
# for, is killed before it runs and halts the run). Without the tracer:
# noted.
all_logged() {
	local fin n logged
	fin=$(run_lines "$1" "$2" exec.finished | head -n 1)
	n=$(grep -o '"processes_started":[0-9]*' <<<"$fin" | cut -d : -f 2)
	if [ -z "$n" ]; then
		echo "      note: $2: exec.finished has no processes_started (no BPF exec tracer), not checked"
		return 0
	fi
	logged=$(run_lines "$1" "$2" exec.spawned | grep -c .)
	[ "$logged" -eq "$n" ] ||
		fail "audit log of run $2 holds $logged exec.spawned of its $n execs (every exec must be logged)"
}
# no_denials HOST RUN: no exec attempt of the run was denied.
no_denials() {
	local d
	d=$(run_lines "$1" "$2" exec.denied)
	[ -z "$d" ] || fail "exec denied in run $2: $(grep -o '"filename":"[^"]*"' <<<"$d" | sort -u | tr '\n' ' ' | cut -c 1-300)"
}
# owned_by DIR UID [EXCEPT_PATH...]: every entry of DIR (itself included)
# is owned by UID:UID, but the named exceptions (paths relative to DIR).
owned_by() {
	local dir=$1 uid=$2 bad e
	shift 2
	bad=$(cd "$dir" && find . \( ! -uid "$uid" -o ! -gid "$uid" \) -printf '%p %U:%G\n' | sort)
	for e in "$@"; do bad=$(grep -vF "./$e " <<<"$bad"); done
	[ -z "$bad" ] || fail "not owned by $uid:$uid in $dir: $(head -n 4 <<<"$bad" | tr '\n' ' ')"
}
# job_checks HOST RUN WS PROG...: the checks every job ends with.
job_checks() {
	local host=$1 run=$2 ws=$3
	shift 3
	audit_ok "$host" || return 1
	all_logged "$host" "$run" || return 1
	spawned "$host" "$run" "$@" || return 1
	owned_by "$ws" "$WS_UID"
}

# new_ws NAME: a fresh, empty workspace $T/srv/NAME owned by the deploy user.
new_ws() {
	rm -rf "$T/srv/$1" && mkdir -p "$T/srv/$1" && chown "$WS_UID:$WS_UID" "$T/srv/$1"
}
give() { chown -R "$WS_UID:$WS_UID" "$@"; }

# need PROG_VAR...: skip reason when a tool is absent, else empty.
missing_tools() {
	local v out=""
	for v in "$@"; do [ -n "${!v}" ] || out="$out ${v,,}"; done
	[ -z "$out" ] || printf 'not installed on this host:%s (scripts/install-deps.sh)' "$out"
}

# --------------------------------------------------------------------------
# c_build: make + gcc, then the program built in /work/build runs
# --------------------------------------------------------------------------
# gcc execs cc1 (compile), as (assemble), collect2 (link driver) which execs
# ld; the objects and the program land in /work/build, the one workspace
# tree the lease may execute (make check runs ./build/hello). make runs the
# recipes itself (no shell metacharacter in them), so no shell is named.
C_EXEC=$(jarr "$GCC" "$CC1" "$COLLECT2" "$AS" "$LD" /work/build)
t_c_build() {
	local ws=$T/srv/cbuild
	# build/ exists before the run: an exec entry names an existing tree
	new_ws cbuild && cp -R "$DATA/cproj/." "$ws/" && mkdir -p "$ws/build" && give "$ws" || return 1
	wl_host h_c "$(jarr "$MAKE")" "$C_EXEC" '["/usr"]' || return 1
	wl_run h_c wl-c-build "$ws" "$(jarr "$MAKE" check)" "$C_EXEC" '["/usr"]' || return 1
	expect_ok || return 1
	expect_stdout_has 'hello from calyx: sum(1..10) = 55' || return 1
	expect_committed h_c wl-c-build || return 1
	[ -x "$ws/build/hello" ] && [ -f "$ws/build/sum.o" ] || fail "build/hello or build/sum.o not committed" || return 1
	[ "$("$ws/build/hello" 3)" = "hello from calyx: sum(1..3) = 6" ] ||
		fail "the committed program prints '$("$ws/build/hello" 3)'" || return 1
	job_checks h_c wl-c-build "$ws" gcc cc1 as collect2 ld hello
}

# --------------------------------------------------------------------------
# zlib: Debian's source package, its own configure and test suite
# --------------------------------------------------------------------------
# tests/data/workloads/zlib/ keeps Debian 12's zlib_1.2.13.dfsg.orig.tar.bz2
# (1.2 MB, byte for byte) and its .dsc; the sha256 below is the .dsc's and
# is checked before use. Built out of tree (zlib's configure supports it):
# /work/zlib-1.2.13.dfsg is the source, /work/build the build tree, so the
# lease executes configure (one file) and what the build writes in
# /work/build (make test runs example, minigzip and their shared/64-bit
# twins) and nothing else of the workspace.
ZLIB_TAR=$DATA/zlib/zlib_1.2.13.dfsg.orig.tar.bz2
ZLIB_SHA=71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1
ZLIB_DIR=zlib-1.2.13.dfsg
cat >"$HB/zlib-check.sh" <<EOF
#!/bin/sh
# configure, build and test zlib out of tree in /work/build
set -eu
cd /work/build
../$ZLIB_DIR/configure
make
make test
EOF
# configure's shell and make's recipes run /bin/sh; configure runs the
# coreutils below (cat, tee, mkdir, date, uname…), make runs gcc, ar,
# ranlib, nm (the shared library's symbol check), ln, rm, cp…
ZLIB_EXEC=$(jarr "$SH" "$MAKE" "$GCC" "$CC1" "$COLLECT2" "$AS" "$LD" "$AR" "$RANLIB" "$NM" \
	"$(u cat)" "$(u cp)" "$(u date)" "$(u dirname)" "$(u ln)" "$(u mkdir)" "$(u mv)" \
	"$(u rm)" "$(u rmdir)" "$(u sed)" "$(u tee)" "$(u uname)" \
	"/work/$ZLIB_DIR/configure" /work/build)
t_zlib() {
	local ws=$T/srv/zlib have
	have=$(sha256sum "$ZLIB_TAR" 2>/dev/null | cut -d ' ' -f 1)
	[ "$have" = "$ZLIB_SHA" ] || fail "$ZLIB_TAR: sha256 '$have', expected $ZLIB_SHA" || return 1
	grep -q "^ $ZLIB_SHA [0-9]* $(basename "$ZLIB_TAR")\$" "$DATA/zlib/zlib_1.2.13.dfsg-1.dsc" ||
		fail "the .dsc does not list that sha256" || return 1
	new_ws zlib && tar -xjf "$ZLIB_TAR" -C "$ws" && mkdir "$ws/build" && give "$ws" ||
		fail "cannot unpack $ZLIB_TAR" || return 1
	wl_host h_zlib "$(jarr "$HB/zlib-check.sh")" "$ZLIB_EXEC" || return 1
	wl_run h_zlib wl-zlib "$ws" "$(jarr "$HB/zlib-check.sh")" "$ZLIB_EXEC" || return 1
	expect_ok || return 1
	local s
	for s in '*** zlib test OK ***' '*** zlib shared test OK ***' '*** zlib 64-bit test OK ***'; do
		expect_stdout_has "$s" || return 1
	done
	expect_committed h_zlib wl-zlib || return 1
	[ -f "$ws/build/libz.a" ] && [ -f "$ws/build/libz.so.1.2.13" ] && [ -x "$ws/build/minigzip" ] ||
		fail "libz.a, libz.so.1.2.13 or minigzip not committed" || return 1
	job_checks h_zlib wl-zlib "$ws" zlib-check.sh configure make gcc cc1 as ld ar ranlib nm example minigzip \
		examplesh minigzipsh example64 minigzip64
}

# --------------------------------------------------------------------------
# tar: -czf then -xzf
# --------------------------------------------------------------------------
# GNU tar starts its compressor through /bin/sh -c gzip when it creates an
# archive, and execs gzip -d directly when it extracts: the lease names
# both (and lint says the shell is one).
TAR_EXEC=$(jarr "$GZIP" "$SH")
t_tar() {
	local ws=$T/srv/tar
	new_ws tar && mkdir -p "$ws/site/css" "$ws/restored" || return 1
	printf '<h1>release 7</h1>\n' >"$ws/site/index.html"
	printf 'body { margin: 0 }\n' >"$ws/site/css/site.css"
	head -c 20000 /dev/urandom | base64 >"$ws/site/blob.txt"
	give "$ws" || return 1
	wl_host h_tar "$(jarr "$TAR")" "$TAR_EXEC" '["/usr"]' || return 1
	wl_run h_tar wl-tar-c "$ws" "$(jarr "$TAR" -czf /work/site.tar.gz -C /work site)" "$TAR_EXEC" '["/usr"]' ||
		return 1
	expect_ok && expect_committed h_tar wl-tar-c || return 1
	gzip -t "$ws/site.tar.gz" 2>/dev/null || fail "site.tar.gz is not a valid gzip file" || return 1
	tar -tzf "$ws/site.tar.gz" | grep -qx 'site/css/site.css' || fail "the archive lacks site/css/site.css" || return 1
	job_checks h_tar wl-tar-c "$ws" tar gzip || return 1
	wl_run h_tar wl-tar-x "$ws" "$(jarr "$TAR" -xzf /work/site.tar.gz -C /work/restored)" '["'"$GZIP"'"]' '["/usr"]' ||
		return 1
	expect_ok && expect_committed h_tar wl-tar-x || return 1
	diff -r "$ws/site" "$ws/restored/site" >/dev/null || fail "restored/site differs from site" || return 1
	job_checks h_tar wl-tar-x "$ws" tar gzip
}

# --------------------------------------------------------------------------
# deploy: a root-owned #!/bin/sh script switches releases atomically
# --------------------------------------------------------------------------
cat >"$HB/deploy.sh" <<'EOF'
#!/bin/sh
# deploy.sh N: install /work/incoming as release N, then point
# /work/current at it in one rename (readers see the old or the new one)
set -eu
n=$1
cd /work
mkdir "releases/$n.new"
cp -R incoming/. "releases/$n.new/"
sed -i "s/@VERSION@/$n/" "releases/$n.new/app.conf"
mv "releases/$n.new" "releases/$n"
ln -sfn "releases/$n" current.new
mv -T current.new current
echo "switched to release $n"
EOF
DEPLOY_EXEC=$(jarr "$(u mkdir)" "$(u cp)" "$(u sed)" "$(u mv)" "$(u ln)")
t_deploy() {
	local ws=$T/srv/deploy
	new_ws deploy && mkdir -p "$ws/releases/1" "$ws/incoming" || return 1
	printf 'version=1\n' >"$ws/releases/1/app.conf"
	ln -s releases/1 "$ws/current"
	printf 'version=@VERSION@\n' >"$ws/incoming/app.conf"
	printf 'new page\n' >"$ws/incoming/index.html"
	give "$ws" && chown -h "$WS_UID:$WS_UID" "$ws/current" || return 1
	wl_host h_deploy "$(jarr "$HB/deploy.sh")" "$DEPLOY_EXEC" || return 1
	wl_run h_deploy wl-deploy "$ws" "$(jarr "$HB/deploy.sh" 2)" "$DEPLOY_EXEC" || return 1
	expect_ok && expect_stdout_has 'switched to release 2' && expect_committed h_deploy wl-deploy || return 1
	[ "$(readlink "$ws/current")" = releases/2 ] || fail "current -> '$(readlink "$ws/current")', expected releases/2" || return 1
	[ "$(cat "$ws/current/app.conf")" = version=2 ] || fail "releases/2/app.conf: '$(cat "$ws/current/app.conf")'" || return 1
	[ "$(cat "$ws/releases/1/app.conf")" = version=1 ] || fail "releases/1 changed" || return 1
	[ -f "$ws/releases/2/index.html" ] && [ ! -e "$ws/releases/2.new" ] && [ ! -e "$ws/current.new" ] ||
		fail "release 2 incomplete or temporaries left" || return 1
	[ "$(stat -c %U "$HB/deploy.sh")" = root ] || fail "deploy.sh is not root-owned" || return 1
	job_checks h_deploy wl-deploy "$ws" deploy.sh mkdir cp sed mv ln
}

# --------------------------------------------------------------------------
# python: unittest whose tests run programs with subprocess
# --------------------------------------------------------------------------
# /usr/bin/python3 is a symlink: the lease names its target (python3.11 on
# Debian 12). The tests run sort and true through PATH (/usr/bin first).
PY_EXEC=$(jarr "$(u sort)" "$(u true)")
t_python() {
	local ws=$T/srv/python
	new_ws python && cat >"$ws/test_tools.py" <<'EOF' || return 1
import subprocess
import unittest


class ToolsTest(unittest.TestCase):
    def test_sort_through_a_pipe(self):
        r = subprocess.run(["sort"], input="pear\napple\n", capture_output=True,
                           text=True, check=True)
        self.assertEqual(r.stdout, "apple\npear\n")

    def test_exit_status(self):
        self.assertEqual(subprocess.run(["true"]).returncode, 0)


if __name__ == "__main__":
    unittest.main()
EOF
	give "$ws" || return 1
	wl_host h_py "$(jarr "$PY")" "$PY_EXEC" '["/usr"]' || return 1
	wl_run h_py wl-python "$ws" "$(jarr "$PY" -m unittest -v)" "$PY_EXEC" '["/usr"]' || return 1
	expect_ok || return 1
	grep -q '^Ran 2 tests' "$ERR" && grep -qx 'OK' "$ERR" ||
		fail "unittest did not pass 2 tests: $(tail -n 3 "$ERR" | tr '\n' '|')" || return 1
	grep -q 'test_sort_through_a_pipe .* ok$' "$ERR" || fail "test_sort_through_a_pipe not ok" || return 1
	expect_committed h_py wl-python || return 1
	job_checks h_py wl-python "$ws" "$(basename "$PY")" sort true
}

# --------------------------------------------------------------------------
# git: init, add, commit, log — and nothing git runs is denied
# --------------------------------------------------------------------------
# git commit starts `git maintenance run --auto` from git's exec path
# (/usr/lib/git-core/git, a copy, not a link): named, so not silently denied.
cat >"$HB/git-job.sh" <<'EOF'
#!/bin/sh
# record /work in a new repository and show its history
set -eu
cd /work
git init -q -b main .
git add -A
git -c user.name=ci -c user.email=ci@example.invalid commit -q -m 'first import'
git log --format='%s by %an'
EOF
GIT_EXEC=$(jarr "$GIT" "$GIT_CORE")
t_git() {
	local ws=$T/srv/git
	new_ws git && printf 'alpha\n' >"$ws/a.txt" && mkdir "$ws/docs" && printf 'readme\n' >"$ws/docs/README" &&
		give "$ws" || return 1
	wl_host h_git "$(jarr "$HB/git-job.sh")" "$GIT_EXEC" || return 1
	wl_run h_git wl-git "$ws" "$(jarr "$HB/git-job.sh")" "$GIT_EXEC" || return 1
	expect_ok && expect_stdout_has 'first import by ci' && expect_committed h_git wl-git || return 1
	[ "$(git -c safe.directory='*' -C "$ws" log --format=%s 2>/dev/null)" = 'first import' ] ||
		fail "the committed repository has no 'first import' commit" || return 1
	[ "$(git -c safe.directory='*' -C "$ws" ls-files | tr '\n' ' ')" = 'a.txt docs/README ' ] ||
		fail "tracked files: '$(git -c safe.directory='*' -C "$ws" ls-files | tr '\n' ' ')'" || return 1
	no_denials h_git wl-git || return 1
	job_checks h_git wl-git "$ws" git-job.sh "$GIT" "$GIT_CORE"
}

# --------------------------------------------------------------------------
# find | xargs sed -i, written as a user would: a #!/bin/sh script
# --------------------------------------------------------------------------
cat >"$HB/rename-host.sh" <<'EOF'
#!/bin/sh
# rename-host.sh OLD NEW: rewrite a host name in every *.conf under /work/etc
set -eu
find /work/etc -name '*.conf' -type f -print0 | xargs -0 sed -i "s/$1/$2/g"
EOF
FX_EXEC=$(jarr "$(u find)" "$(u xargs)" "$(u sed)")
t_find_xargs() {
	local ws=$T/srv/fx f
	new_ws fx && mkdir -p "$ws/etc/sub" || return 1
	printf 'upstream = db.old.example\nport = 5432\n' >"$ws/etc/db.conf"
	printf 'peer db.old.example\n' >"$ws/etc/sub/peer.conf"
	printf 'db.old.example was retired\n' >"$ws/etc/notes.txt"
	give "$ws" || return 1
	wl_host h_fx "$(jarr "$HB/rename-host.sh")" "$FX_EXEC" || return 1
	wl_run h_fx wl-fx "$ws" "$(jarr "$HB/rename-host.sh" 'db\\.old\\.example' db.new.example)" "$FX_EXEC" || return 1
	expect_ok && expect_committed h_fx wl-fx || return 1
	for f in etc/db.conf etc/sub/peer.conf; do
		grep -q 'db.new.example' "$ws/$f" && ! grep -q 'old' "$ws/$f" || fail "$f not rewritten: $(head -n 1 "$ws/$f")" || return 1
	done
	[ "$(cat "$ws/etc/notes.txt")" = 'db.old.example was retired' ] || fail "notes.txt (not *.conf) was changed" || return 1
	job_checks h_fx wl-fx "$ws" rename-host.sh find xargs sed
}

# --------------------------------------------------------------------------
# ownership: a workspace owned by uid 1000 stays 1000's
# --------------------------------------------------------------------------
# The run copies a tree (cp needs no exec entry) and changes a file of the
# owner's; a file of another uid is read, copied, and keeps its owner. On
# the host, everything the run created or changed belongs to uid 1000, and
# the workspace root was not chowned to the run's uid.
t_ownership() {
	local ws=$T/srv/own
	new_ws own && mkdir -p "$ws/src/sub" || return 1
	printf 'mine\n' >"$ws/src/mine.txt"
	printf 'deep\n' >"$ws/src/sub/deep.txt"
	printf 'theirs\n' >"$ws/src/theirs.txt"
	give "$ws" && chown "$OTHER_UID:$OTHER_UID" "$ws/src/theirs.txt" && chmod 644 "$ws/src/theirs.txt" || return 1
	wl_host h_own "$(jarr "$(u cp)")" '[]' '["/usr"]' || return 1
	wl_run h_own wl-own "$ws" "$(jarr "$(u cp)" -R /work/src /work/copy)" '[]' '["/usr"]' || return 1
	expect_ok && expect_committed h_own wl-own || return 1
	[ "$(cat "$ws/copy/theirs.txt" 2>/dev/null)" = theirs ] && [ -f "$ws/copy/sub/deep.txt" ] ||
		fail "the copy is incomplete" || return 1
	[ "$(stat -c %u:%g "$ws/src/theirs.txt")" = "$OTHER_UID:$OTHER_UID" ] ||
		fail "src/theirs.txt now $(stat -c %u:%g "$ws/src/theirs.txt"), expected to keep $OTHER_UID" || return 1
	audit_ok h_own && all_logged h_own wl-own || return 1
	spawned h_own wl-own cp || return 1
	owned_by "$ws" "$WS_UID" src/theirs.txt
}

# --------------------------------------------------------------------------
# two_uids: two concurrent runs, two distinct uids from run_uid_range
# --------------------------------------------------------------------------
# Run A writes `id -u` to its workspace and stdout, then waits on its stdin
# (the lease says "stdin": "inherit"; a FIFO this script holds) so it is
# still alive while run B does the same; then A is let go. Both commit; the uids differ and lie in the range.
cat >"$HB/whoami.sh" <<'EOF'
#!/bin/sh
# whoami.sh: record the run's uid, then wait for a line on stdin
set -eu
id -u >/work/uid
id -u
read -r _line || true
EOF
t_two_uids() {
	local a=$T/srv/uid-a b=$T/srv/uid-b fifo=$T/uid.fifo pid i ua ub
	new_ws uid-a && new_ws uid-b || return 1
	wl_host h_uids "$(jarr "$HB/whoami.sh")" "$(jarr "$(u id)")" "" "" \
		"\"run_uid_range\": {\"first\": $RANGE_FIRST, \"count\": $RANGE_COUNT}" || return 1
	wl_lease h_uids wl-uid-a "$a" "$(jarr "$HB/whoami.sh")" "$(jarr "$(u id)")" "" '"stdin": "inherit"' &&
		wl_lease h_uids wl-uid-b "$b" "$(jarr "$HB/whoami.sh")" "$(jarr "$(u id)")" || return 1
	rm -f "$fifo" && mkfifo "$fifo" || return 1
	exec 7<>"$fifo" # held open: run A's stdin never ends until a line comes
	cx h_uids --lease "$T/h_uids/wl-uid-a.lease" --result "$T/h_uids/wl-uid-a.result" \
		<&7 >"$T/uid-a.out" 2>"$T/uid-a.err" &
	pid=$!
	# wait (bounded) until A has printed its uid, or has ended
	for i in $(seq 1 300); do
		grep -q '^[0-9]' "$T/uid-a.out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		fail "run A ended (exit $?) before run B started: $(head -n 1 "$T/uid-a.err")"
		exec 7>&-
		return 1
	fi
	xrun cx h_uids --lease "$T/h_uids/wl-uid-b.lease" --result "$T/h_uids/wl-uid-b.result" </dev/null
	echo go >&7
	wait "$pid"
	local rca=$?
	exec 7>&-
	[ "$rca" -eq 0 ] || fail "run A exit $rca (stderr: $(head -n 1 "$T/uid-a.err"))" || return 1
	expect_ok || return 1
	grep -q '^[0-9]' "$T/uid-a.out" || fail "run A printed no uid" || return 1
	expect_committed h_uids wl-uid-a && expect_committed h_uids wl-uid-b || return 1
	ua=$(cat "$a/uid" 2>/dev/null) ub=$(cat "$b/uid" 2>/dev/null)
	[ -n "$ua" ] && [ -n "$ub" ] || fail "uid files missing (a '$ua', b '$ub')" || return 1
	[ "$ua" != "$ub" ] || fail "both runs ran as uid $ua" || return 1
	for i in "$ua" "$ub"; do
		[ "$i" -ge "$RANGE_FIRST" ] && [ "$i" -lt $((RANGE_FIRST + RANGE_COUNT)) ] ||
			fail "uid $i outside run_uid_range [$RANGE_FIRST, $((RANGE_FIRST + RANGE_COUNT)))" || return 1
	done
	[ "$(head -n 1 "$T/uid-a.out")" = "$ua" ] || fail "run A printed '$(head -n 1 "$T/uid-a.out")', wrote $ua" || return 1
	audit_ok h_uids && all_logged h_uids wl-uid-a && all_logged h_uids wl-uid-b || return 1
	spawned h_uids wl-uid-a id && spawned h_uids wl-uid-b id || return 1
	owned_by "$a" "$WS_UID" && owned_by "$b" "$WS_UID"
}

# --------------------------------------------------------------------------
chmod 755 "$HB"/*.sh
run_job() { # NAME FN TOOL_VARS...
	local name=$1 fn=$2 why
	shift 2
	why=$(missing_tools "$@")
	if [ -n "$why" ]; then
		skip_test "$name" "$why"
	else
		run_test "$name" "$fn"
	fi
}
run_job workloads.c_build_make_gcc t_c_build MAKE GCC CC1 COLLECT2 AS LD
run_job workloads.zlib_configure_make_test t_zlib SH MAKE GCC CC1 COLLECT2 AS LD AR RANLIB NM
run_job workloads.tar_czf_xzf t_tar TAR GZIP SH
run_job workloads.deploy_script_release_switch t_deploy SH
run_job workloads.python_unittest_subprocess t_python PY
run_job workloads.git_init_add_commit_log t_git GIT GIT_CORE SH
run_job workloads.find_xargs_sed t_find_xargs SH
run_job workloads.workspace_owner_keeps_files t_ownership
run_job workloads.two_concurrent_runs_distinct_uids t_two_uids SH
summary
