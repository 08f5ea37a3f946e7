#!/usr/bin/env bash
# calyx-policy learn: a job run in calyx-exec's sandbox with no lease,
# its writes discarded, and the policy fragment and lease skeleton it
# needs printed (executor/run/learn.c, policy/fragment.c).
#
#   bash tests/integration/learn.sh [BUILD_DIR]     (root)
#
# The last test, a lease built from learn's output running the same job
# with zero denials, needs the exec allowlist (policy and lease key
# "exec"); without it, it is skipped saying so.
set -u
source "$(dirname "$0")/lib.sh" "${1:-build}"
cd "$(dirname "$0")/../.." || exit 2

LEARN_UID=$((50000 + $$ % 10000))
while getent passwd "$LEARN_UID" >/dev/null || getent group "$LEARN_UID" >/dev/null; do
	LEARN_UID=$((LEARN_UID + 1))
done
policy_json '["/usr/bin/true"]' '["/usr"]' >"$T/learn.policy.json"
mk_host lh "$T/learn.policy.json" "" "\"run_uid\": $LEARN_UID, \"run_gid\": $LEARN_UID" ||
	{ echo "fixture: mk_host: $WHY" >&2; exit 2; }
AL=$T/lh/log/audit.jsonl

# learn ARGS...: calyx-policy learn on host lh (xrun).
learn() { xrun timeout -k 5 120 "$POLICY" learn --config "$T/lh/etc/calyx.conf" "$@"; }
# jq_py EXPR: evaluate a python expression on $OUT's JSON (as j).
jq_py() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$OUT" "$1"; }

# a workspace owned by the run uid, with a file and a subdirectory
mkws() {
	local w=$T/srv/$1
	rm -rf "$w" && mkdir -p "$w/sub" && echo keep >"$w/a.txt" && echo old >"$w/sub/b.txt" &&
		chown -R "$LEARN_UID:$LEARN_UID" "$w" && echo "$w"
}
tree_state() { (cd "$1" && find . -printf '%p %y %s %m %U\n' | sort && find . -type f -exec sha256sum {} + | sort); }

t_exec_commands() {
	local ws; ws=$(mkws ec) || return 1
	learn --workspace "$ws" --ro /usr --format json -- /usr/bin/env /usr/bin/id -u
	expect_rc 0 || return 1
	[ "$(jq_py 'j["policy"]["commands"]')" = "['/usr/bin/env']" ] ||
		fail "commands: $(jq_py 'j["policy"]["commands"]')" || return 1
	[ "$(jq_py 'j["policy"]["exec"]')" = "['/usr/bin/id']" ] ||
		fail "exec: $(jq_py 'j["policy"]["exec"]')" || return 1
	[ "$(jq_py 'j["lease"]["exec"]')" = "['/usr/bin/id']" ] || fail "lease.exec: $(jq_py 'j["lease"]["exec"]')" || return 1
	[ "$(jq_py 'j["lease"]["argv"]')" = "['/usr/bin/env', '/usr/bin/id', '-u']" ] ||
		fail "lease.argv: $(jq_py 'j["lease"]["argv"]')" || return 1
	[ "$(jq_py 'j["run"]["exit_code"]')" = 0 ] || fail "the job exited $(jq_py 'j["run"]["exit_code"]')" || return 1
	# the job's own stdout went to stderr: stdout is the JSON alone
	grep -qx "$LEARN_UID" "$ERR" || fail "id's output is not on stderr: $(first_err)" || return 1
	grep -F '"type":"run.learn"' "$AL" | grep -qF '"argv":["/usr/bin/env","/usr/bin/id","-u"]' ||
		fail "no run.learn event with the argv" || return 1
	printf '      limits %s\n' "$(jq_py 'j["lease"]["limits"]')"
}
run_test learn.exec_and_commands_of_env_id t_exec_commands

t_failed_job_noted() {
	# a job that fails is learned only up to where it stopped: the text
	# output says so, and what a shell's "not found" usually is
	learn --ro /usr -- /usr/bin/sh -c 'calyx-no-such-program'
	expect_rc 0 || return 1
	grep -qF "Note: the job failed (exit 127)" "$OUT" || fail "no note that the job failed: $(tail -n 3 "$OUT" | tr '\n' '|')" || return 1
	grep -qF -- "--ro /etc/alternatives" "$OUT" || fail "the note does not name the alternatives links"
}
run_test learn.failed_job_noted t_failed_job_noted

t_symlink_command() {
	# /usr/bin/sh is a link (to dash on Debian): the command and the exec
	# entries come out as the real files
	local real; real=$(readlink -f /usr/bin/sh)
	learn --ro /usr --format json -- /usr/bin/sh -c '/usr/bin/env /usr/bin/true'
	expect_rc 0 || return 1
	[ "$(jq_py 'j["policy"]["commands"][0]')" = "$real" ] ||
		fail "command: $(jq_py 'j["policy"]["commands"]'), expected $real" || return 1
	[ "$(jq_py 'j["policy"]["exec"]')" = "['/usr/bin/env', '/usr/bin/true']" ] ||
		fail "exec: $(jq_py 'j["policy"]["exec"]')"
}
run_test learn.symlinks_resolved t_symlink_command

t_untouched() {
	local ws before after
	ws=$(mkws ut) || return 1
	before=$(tree_state "$ws")
	learn --workspace "$ws" --ro /usr -- /usr/bin/sh -c \
		'echo new >/work/new.txt; echo changed >/work/a.txt; /usr/bin/rm /work/sub/b.txt; /usr/bin/mkdir /work/d'
	expect_rc 0 || return 1
	after=$(tree_state "$ws")
	[ "$before" = "$after" ] || fail "the workspace changed: $(diff <(echo "$before") <(echo "$after") | head -n 4 | tr '\n' '|')" || return 1
	grep -F '"type":"workspace.rolled_back"' "$AL" >/dev/null || fail "no workspace.rolled_back" || return 1
	grep -F '"type":"workspace.committed"' "$AL" >/dev/null && fail "a learn run committed" || return 0
}
run_test learn.workspace_untouched t_untouched

t_loader_reported() {
	[ -e /lib64/ld-linux-x86-64.so.2 ] || { echo "      (no /lib64 loader: nothing to check)"; return 0; }
	learn --ro /usr --format json -- /usr/bin/env /lib64/ld-linux-x86-64.so.2 /usr/bin/true
	expect_rc 0 || return 1
	# learn reports loader runs without killing them, and never proposes
	# the loader as an exec entry
	[ "$(jq_py 'j["run"]["exit_code"]')" = 0 ] || fail "the loader run did not complete: exit $(jq_py 'j["run"]["exit_code"]')" || return 1
	[ "$(jq_py 'len(j["run"]["loader_runs"])')" -ge 1 ] || fail "no loader run reported: $(jq_py 'j["run"]')" || return 1
	jq_py 'j["policy"]["exec"]' | grep -q 'ld-linux' && fail "the loader is proposed in exec: $(jq_py 'j["policy"]["exec"]')" || return 0
}
run_test learn.loader_run_reported_not_killed t_loader_reported

t_nonroot() {
	xrun setpriv --reuid=65534 --regid=65534 --clear-groups "$POLICY" learn -- /usr/bin/true
	expect_rc 2 || return 1
	[ "$(nlines "$ERR")" -eq 1 ] && grep -qF 'learn must run as root' "$ERR" || fail "stderr: $(first_err)"
}
run_test learn.refused_for_non_root t_nonroot

t_text_escaped() {
	# a name the job execs with a bidi override reaches the terminal escaped
	local d=/var/tmp/calyx-learn-odd.$$ name
	lib_atexit "rm -rf '$d'"
	name=$(printf 'x\342\200\256y')
	mkdir -p "$d" && cp /usr/bin/true "$d/$name" && chmod 755 "$d" "$d/$name" || return 1
	learn --ro /usr --ro "$d" -- /usr/bin/env "$d/$name"
	expect_rc 0 || return 1
	grep -q "$(printf '\342\200\256')" "$OUT" && fail "a raw U+202E in learn's text output" || true
	grep -qF "$d/x" "$OUT" || fail "the exec entry is missing from the text: $(head -c 300 "$OUT")"
}
run_test learn.text_output_escaped t_text_escaped

# read: the directories of the files the job opened, within the --ro
# roots (a learn-only fentry tracer); where the kernel refuses fentry the
# output says files_traced false, "read" is the roots, and this skips.
t_read_narrowed() {
	learn --ro /usr --format json -- /usr/bin/cat /usr/share/common-licenses/GPL-3
	expect_rc 0 || return 1
	if [ "$(jq_py 'j["run"]["files_traced"]')" != True ]; then
		[ "$(jq_py 'j["policy"]["read"]')" = "['/usr']" ] || fail "untraced, yet read is $(jq_py 'j["policy"]["read"]')" || return 1
		grep -F '"type":"exec.started"' "$AL" | tail -n 1 | grep -o '"files_untraced":"[^"]*"' >"$T/untraced"
		READ_SKIP="files opened are not traced on this kernel ($(cut -c 1-100 "$T/untraced"))"
		return 0
	fi
	local r; r=$(jq_py 'j["policy"]["read"]')
	case $r in
	*"'/usr/share/common-licenses'"*) ;;
	*) fail "read lacks the opened file's directory: $r"; return 1 ;;
	esac
	[ "$r" != "['/usr']" ] || fail "read was not narrowed: $r"
}
READ_SKIP=""
run_test learn.read_is_opened_dirs_or_roots t_read_narrowed
[ -z "$READ_SKIP" ] || skip_test learn.read_narrowed_to_opened_dirs "$READ_SKIP"

# ---- a lease from learn's output runs the job with zero denials ----------
# Needs the exec allowlist (policy "exec", lease body "exec").
# roundtrip NAME EXPECTED_LINE ARGV...: learn ARGV, build a policy and a
# lease from the output alone, run it: EXPECTED_LINE printed, no denial.
roundtrip() {
	local ws id name=$1 want=$2
	shift 2
	ws=$(mkws "$name") || return 1
	learn --workspace "$ws" --ro /usr --format json -- "$@"
	expect_rc 0 || return 1
	cp "$OUT" "$T/$name.json"
	python3 - "$T/$name.json" "$T/learn.policy.json" "$T/$name.policy.json" "$T/$name.body" "$HOST_ID" <<'EOF' || return 1
import json, sys
frag, base, pol_out, body_out, host = sys.argv[1:6]
f = json.load(open(frag))
p = json.load(open(base))
p["commands"] = f["policy"]["commands"]
p["exec"] = f["policy"]["exec"]
p["read"] = f["policy"]["read"]
json.dump(p, open(pol_out, "w"))
b = dict(f["lease"])
b.pop("exec") if not b["exec"] else None
b["run_id"] = "learned"
b["audience"] = host
json.dump(b, open(body_out, "w"))
EOF
	mk_host "$name" "$T/$name.policy.json" "" "\"run_uid\": $LEARN_UID, \"run_gid\": $LEARN_UID" || fail "mk_host: $WHY" || return 1
	mk_lease "$name" "$T/$name.lease" "$T/$name.body" || fail "the lease from learn's output was refused: $(cat "$T/$name.body")" || return 1
	id=$(lease_id "$T/$name.lease")
	xrun timeout -k 5 60 "$EXEC" --config "$T/$name/etc/calyx.conf" --lease "$T/$name.lease"
	expect_rc 0 || return 1
	grep -qx "$want" "$OUT" || fail "the job's output: $(head -c 200 "$OUT")" || return 1
	[ "$(grep -F "\"lease_id\":\"$id\"" "$T/$name/log/audit.jsonl" | grep -cF '"type":"exec.denied"')" -eq 0 ] ||
		fail "denials under the learned lease: $(grep -F '"type":"exec.denied"' "$T/$name/log/audit.jsonl" | head -n 2)"
}
policy_json '["/usr/bin/true"]' '["/usr"]' "" '"exec": []' >"$T/probe-exec.policy.json"
t_roundtrip() {
	roundtrip rt keep /usr/bin/sh -c '/usr/bin/env /usr/bin/id -u >/work/uid.txt; /usr/bin/cat /work/a.txt'
}
# A build runs what it just wrote (gone with learn's writes): learn
# proposes the workspace directory it wrote it in, and the lease built
# from that runs it (the tree is then not noexec).
t_roundtrip_written() {
	roundtrip rw ran /usr/bin/sh -c '/usr/bin/cp /usr/bin/true /work/sub/t && /work/sub/t && echo ran' || return 1
	OUT=$T/rw.json
	[ "$(jq_py 'j["policy"]["exec"]')" = "['/usr/bin/cp', '/work/sub']" ] ||
		fail "exec: $(jq_py 'j["policy"]["exec"]')" || return 1
	[ "$(jq_py 'j["run"]["written_exec_dirs"]')" = "['/work/sub']" ] ||
		fail "written_exec_dirs: $(jq_py 'j["run"].get("written_exec_dirs")')"
}
if "$POLICY" check "$T/probe-exec.policy.json" >/dev/null 2>&1; then
	run_test learn.learned_lease_runs_with_zero_denials t_roundtrip
	run_test learn.program_the_job_wrote_proposed_by_its_dir t_roundtrip_written
else
	skip_test learn.learned_lease_runs_with_zero_denials "the policy parser has no \"exec\" key yet (the exec allowlist): this test runs once it is merged"
fi

summary
