#!/usr/bin/env bash
# The Debian package, as an operator uses it: `make deb`, `apt-get install
# ./calyx_*.deb`, `calyx-ctl init`, a signed lease run end to end against
# the installed paths (/usr/bin, /etc/calyx, /var/lib/calyx,
# /var/log/calyx; not the build tree), then `apt-get purge` and a check
# that nothing is left but the audit log a purge keeps.
#
#   bash tests/integration/package.sh [BUILD_DIR]   (root)
#
# It installs into this machine's real paths, so it skips (visibly) when
# they are not free: a calyx already installed, /etc/calyx or
# /var/lib/calyx present. It always purges what it installed.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

why_skip=""
if [ "${B%/asan}" != "$B" ]; then
	why_skip="the sanitizer build: the package (built without sanitizers) is tested by make check"
elif ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1; then
	why_skip="dpkg-buildpackage or debhelper is not installed (scripts/install-deps.sh installs them)"
elif ! command -v scdoc >/dev/null 2>&1; then
	why_skip="scdoc is not installed (the man pages; scripts/install-deps.sh installs it)"
elif dpkg-query -W -f='${Status}' calyx 2>/dev/null | grep -q installed; then
	why_skip="a calyx package is already installed on this machine: not touching it"
elif [ -e /etc/calyx ] || [ -e /var/lib/calyx ] || [ -e /usr/bin/calyx-exec ]; then
	why_skip="/etc/calyx, /var/lib/calyx or /usr/bin/calyx-exec exists: this machine's calyx is not the test's to replace"
elif ! git -C "$ROOT" rev-parse >/dev/null 2>&1; then
	why_skip="not a git checkout (make deb packages the tracked files)"
fi
if [ -n "$why_skip" ]; then
	skip_test package_all "$why_skip"
	summary
	exit $?
fi

INSTALLED=0
purge() {
	[ "$INSTALLED" = 1 ] || return 0
	apt-get purge -y calyx >/dev/null 2>&1
	rm -f /var/log/calyx/audit.jsonl
	rmdir /var/log/calyx 2>/dev/null
	INSTALLED=0
}
lib_atexit purge

DEB=""
t_build() {
	xrun make -C "$ROOT" --no-print-directory BUILD="$B/pkgtest" deb
	expect_rc 0 || return 1
	DEB=$(ls -1 "$B"/pkgtest/calyx_*_*.deb 2>/dev/null | head -n 1)
	[ -n "$DEB" ] || fail "no calyx_*.deb in $B/pkgtest" || return 1
	# its library dependencies are declared (dpkg-shlibdeps filled them in)
	dpkg-deb -f "$DEB" Depends >"$OUT"
	for lib in libseccomp2 libsodium23 libjansson4 libbpf1 libcap-ng0 libcurl4; do
		grep -q "$lib" "$OUT" || fail "Depends lacks $lib: $(cat "$OUT")" || return 1
	done
}
run_test package.make_deb_declares_its_libraries t_build

t_install() {
	[ -n "$DEB" ] || fail "no package (the build failed)" || return 1
	INSTALLED=1
	xrun apt-get install -y "$DEB"
	expect_rc 0 || return 1
	for b in calyx-exec calyx-lease calyx-policy calyx-audit calyx-ctl calyx-rollout calyx-agent; do
		[ -x /usr/bin/$b ] || fail "/usr/bin/$b missing" || return 1
	done
	man -w calyx-exec >/dev/null 2>&1 || fail "man calyx-exec: no page" || return 1
	[ -f /lib/systemd/system/calyx-agent.service ] || fail "no calyx-agent.service" || return 1
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		[ "$(systemctl is-enabled calyx-agent 2>/dev/null)" != enabled ] ||
			fail "the agent was enabled at install, before any config" || return 1
	fi
	[ "$(stat -c %a /var/lib/calyx)" = 700 ] || fail "/var/lib/calyx is $(stat -c %a /var/lib/calyx 2>&1)" || return 1
	[ -f /etc/logrotate.d/calyx ] && ! grep -q '^[[:space:]]*copytruncate' /etc/logrotate.d/calyx ||
		fail "logrotate entry missing or copy-truncating"
}
run_test package.installs_binaries_man_unit_dirs t_install

t_init_and_run() {
	local k=$T/signers
	[ "$INSTALLED" = 1 ] || fail "not installed" || return 1
	# a fresh host is not ready yet: no signer keys, a policy that runs nothing
	check 1 "" calyx-ctl init --host-id pkg-test || return 1
	grep -q "MISSING" "$OUT" || fail "init did not say what is missing: $(head -n 3 "$OUT")" || return 1
	for f in calyx.conf keyring.json host.key host.pub.json policy.json; do
		[ -f /etc/calyx/$f ] || fail "init made no /etc/calyx/$f" || return 1
	done
	[ "$(stat -c %a /etc/calyx/host.key)" = 600 ] || fail "host.key mode $(stat -c %a /etc/calyx/host.key)" || return 1
	# the security team's keys, a policy that runs /usr/bin/true, a lease
	mkdir -p "$k" && chmod 700 "$k"
	calyx-lease keygen --role human --name alice --out "$k" >/dev/null 2>"$ERR" &&
		calyx-lease keygen --role agent --name bot --out "$k" >/dev/null 2>"$ERR" &&
		calyx-lease keyring add /etc/calyx/keyring.json "$k/alice.pub.json" >/dev/null 2>"$ERR" &&
		calyx-lease keyring add /etc/calyx/keyring.json "$k/bot.pub.json" >/dev/null 2>"$ERR" ||
		fail "keys: $(first_err)" || return 1
	python3 - /etc/calyx/policy.json <<'PY' || fail "policy edit" || return 1
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["commands"] = ["/usr/bin/true"]
if "/usr" not in d.get("read", []):
    d["read"] = d.get("read", []) + ["/usr"]
open(p, "w").write(json.dumps(d, indent=2) + "\n")
PY
	printf '{"run_id":"pkg-1","audience":"pkg-test","argv":["/usr/bin/true"],"paths":{"ro":["/usr"]}}\n' >"$T/body.json"
	calyx-lease new "$T/body.json" -o "$T/run.lease" --policy /etc/calyx/policy.json >/dev/null 2>"$ERR" &&
		calyx-lease sign --key "$k/alice.key" --yes "$T/run.lease" >/dev/null 2>"$ERR" &&
		calyx-lease sign --key "$k/bot.key" --yes "$T/run.lease" >/dev/null 2>"$ERR" ||
		fail "lease: $(first_err)" || return 1
	check 0 "" calyx-ctl init --host-id pkg-test || return 1 # now ready; nothing replaced
	grep -q "host ready" "$OUT" || fail "init: $(tail -n 2 "$OUT")" || return 1
	check 0 "" calyx-exec --probe || return 1
	check 0 "" calyx-exec --lease "$T/run.lease" || return 1
	check 0 "" calyx-audit verify --config /etc/calyx/calyx.conf /var/log/calyx/audit.jsonl || return 1
	check 77 E_REPLAY calyx-exec --lease "$T/run.lease" || return 1
	# the shipped corpus against this host's installed configuration
	check 0 "" calyx-ctl selftest --only path_traversal,env_inject --format tap || return 1
	grep -q '^ok .*path_traversal' "$OUT" || fail "selftest: $(head -n 5 "$OUT")"
}
run_test package.init_then_a_signed_run_on_installed_paths t_init_and_run

t_purge() {
	[ "$INSTALLED" = 1 ] || fail "not installed" || return 1
	xrun apt-get purge -y calyx
	expect_rc 0 || return 1
	INSTALLED=0
	local left
	left=$(ls -d /usr/bin/calyx-* /etc/calyx /var/lib/calyx /lib/systemd/system/calyx-agent.service \
		/usr/lib/tmpfiles.d/calyx.conf /etc/logrotate.d/calyx /usr/share/man/man1/calyx-exec.1.gz \
		/usr/share/calyx 2>/dev/null)
	[ -z "$left" ] || fail "left after purge: $(echo $left)" || return 1
	# kept on purpose: the audit log is evidence (README "Install on a server")
	[ -s /var/log/calyx/audit.jsonl ] || fail "the purge removed the audit log (or the run before never wrote it)" || return 1
	rm -f /var/log/calyx/audit.jsonl
	rmdir /var/log/calyx 2>/dev/null || true
}
run_test package.purge_leaves_only_the_audit_log t_purge

summary
