#!/usr/bin/env bash
# Rollouts driven end to end: one calyx-agent per simulated host (its own
# config, state dir, audit log and host id; each in a private mount
# namespace whose $T/srv is its own directory, so every host has its own
# workspace files), a 3-member etcd on loopback (ETCD_PORT 23760: clients
# 23761+, peers 23861+; never 2379/2380), removed at exit.
#
#   bash tests/integration/rollout_agents.sh [BUILD_DIR]   (root)
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"
ETCD_PORT=${ROLLOUT_AGENTS_ETCD_PORT:-23760}
# shellcheck source=tests/integration/lib_etcd.sh
source "$(dirname "$0")/lib_etcd.sh"

RO=$B/calyx-rollout
AGENT=$B/calyx-agent
[ -x "$AGENT" ] || { echo "rollout_agents.sh: $AGENT missing (run 'make')" >&2; exit 2; }
POOL_PREFIX="ra$$/"
# the sanitizer build checks memory, not scale: fewer hosts
case $B in */asan) NHOSTS=${ROLLOUT_AGENTS_HOSTS:-8} ;; *) NHOSTS=${ROLLOUT_AGENTS_HOSTS:-20} ;; esac

if ! etcd_have || ! command -v curl >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then
	skip_test rollout_agents_all "etcd, curl or unshare is not installed (scripts/install-deps.sh installs them)"
	summary
	exit $?
fi
etcd_start 3
if ! etcd_wait_healthy 30; then
	echo "rollout_agents.sh: the test's etcd did not come up: $(tail -n 3 "$T"/etcd/m1.log)" >&2
	exit 2
fi

# ---- fixture ------------------------------------------------------------
# hosts h1..hN (ids web-1..web-N) and an operator "op", one policy: the job
# (job.sh, copied into each host's workspace) writes app.conf there; its
# validate step (check.sh) checks it.
W=$T/w
C=$T/op/etc/calyx.conf
mkdir -p "$W" "$T/srv"
chmod 755 "$W" "$T/srv"
cat >"$W/job.sh" <<'EOF'
#!/bin/sh
# the job every host runs: a new config, unless this host is told to fail
set -e
echo "version=2" >"$1/app.conf"
if [ -e "$1/fail-validate" ]; then echo broken >>"$1/app.conf"; fi
EOF
cat >"$W/check.sh" <<'EOF'
#!/bin/sh
# validate: the config is exactly what version 2 should be (shell builtins only)
n=0
while IFS= read -r l; do n=$((n + 1)); last=$l; done <"$1/app.conf"
[ "$n" = 1 ] && [ "$last" = "version=2" ]
EOF
chmod 755 "$W/job.sh" "$W/check.sh"
policy_json '["/usr/bin/dash", "/usr/bin/sleep", "/usr/bin/true"]' \
	'["/usr"]' "[\"$T/srv\"]" >"$T/ra.policy.json"
setup_hosts() {
	local i
	mk_host op "$T/ra.policy.json" op-1 "\"pools\": [\"web\"], $(pool_ledger_cfg 2000)" || return 1
	for i in $(seq 1 "$NHOSTS"); do
		mk_host "h$i" "$T/ra.policy.json" "web-$i" "\"pools\": [\"web\"], $(pool_ledger_cfg 2000)" || return 1
	done
}
run_test fixture.hosts setup_hosts

# agent_start/agent_kill, mk_rollout, view/vq/wait_for, approve
# shellcheck source=tests/integration/lib_fleet.sh
source "$(dirname "$0")/lib_fleet.sh"

t_twenty_hosts_manual_tiers() {
	local i
	for i in $(seq 1 "$NHOSTS"); do agent_start "$i"; done
	mk_rollout all '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 5,25,100 \
		--soak 1 --deadline 300 --max-parallel 4 || return 1
	wait_for 60 'v["tiers"][0]["status"] == "done"' || return 1
	[ "$(vq 'v["mode"]')" = awaiting_approval ] || fail "mode after the canary: $(vq 'v["mode"]')" || return 1
	[ "$(vq 'v["counts"]["waiting"]')" = $((NHOSTS - 1)) ] || fail "claims before approval: $(states)" || return 1
	approve 2 || return 1
	wait_for 90 'v["tiers"][1]["status"] == "done"' || return 1
	[ "$(vq 'v["counts"]["committed"]')" = $(((NHOSTS * 25 + 99) / 100)) ] || fail "after tier 2: $(vq 'v["counts"]')" || return 1
	approve 3 || return 1
	wait_for 180 'v["state"] == "completed"' || return 1
	[ "$(vq 'v["counts"]["committed"]')" = "$NHOSTS" ] || fail "committed: $(vq 'v["counts"]')" || return 1
	for i in $(seq 1 "$NHOSTS"); do
		[ "$(cat "$T/h$i/srv/app.conf")" = version=2 ] || fail "web-$i's file: $(cat "$T/h$i/srv/app.conf")" || return 1
	done
	# every report carries a verified audit head, and the host's log holds it
	head1=$(vq '[h for t in v["tiers"] for h in t["hosts"] if h["host"] == "web-1"][0]["audit"]["head"]')
	"$B/calyx-audit" verify --config "$T/h1/etc/calyx.conf" --expect-head "$head1" "$T/h1/log/audit.jsonl" >/dev/null 2>"$ERR" ||
		fail "web-1's audit log does not hold the head it reported: $(first_err)" || return 1
	RID_ALL=$RID
}
run_test agents.twenty_hosts_three_manual_tiers_committed t_twenty_hosts_manual_tiers

# The page of the completed rollout, from what the agents reported: one
# self-contained HTML file (no script, strict CSP) and Markdown.
OUTDIR=${CALYX_TEST_OUT:-$B/test-output}/rollout_agents
mkdir -p "$OUTDIR" && find "$OUTDIR" -maxdepth 1 -type f -delete
t_report_of_real_rollout() {
	[ -n "${RID_ALL:-}" ] || fail "no completed rollout (the test before failed)" || return 1
	check 0 "" "$RO" report --config "$C" --format html -o "$OUTDIR/rollout.html" "$RID_ALL" || return 1
	check 0 "" "$RO" report --config "$C" --format md "$RID_ALL" || return 1
	cp "$OUT" "$OUTDIR/rollout.md"
	expect_stdout_has "web-$NHOSTS" || return 1
	grep -q "Content-Security-Policy" "$OUTDIR/rollout.html" || fail "no CSP in the page" || return 1
	! grep -qi "<script" "$OUTDIR/rollout.html" || fail "a script in the page" || return 1
	[ "$(grep -o 'committed' "$OUTDIR/rollout.md" | wc -l)" -ge "$NHOSTS" ] || fail "fewer than $NHOSTS committed hosts on the page" || return 1
	# the same signed file before a start: the dry-run page, nothing read from etcd
	check 0 "" "$RO" report --config "$C" --dry-run --lease "$W/all.lease" "$W/all.ro" || return 1
	expect_stdout_has "Dry run" || return 1
	expect_stdout_has "web-$NHOSTS"
}
run_test agents.report_of_the_completed_rollout t_report_of_real_rollout
t_report_in_chromium() {
	[ -s "$OUTDIR/rollout.html" ] || fail "no page" || return 1
	chromium_run "$OUTDIR/rollout.html" --window-size=1280,2400 --screenshot="$OUTDIR/rollout.png"
	! console_errors || fail "console/CSP errors: $(console_errors | head -n 2)" || return 1
	[ -s "$OUTDIR/rollout.png" ] || fail "no screenshot" || return 1
	echo "    screenshot: $OUTDIR/rollout.png"
}
t_report_axe() {
	axe_run "$OUTDIR/rollout.html"
	sed 's/^/    /' "$OUT"
	[ "$RC" -ne 2 ] || fail "the axe check did not run: $(first_err)" || return 1
	expect_rc 0 || fail "WCAG 2.1 AA violations (listed above)"
}
if command -v chromium >/dev/null 2>&1; then
	run_test agents.report_in_chromium_screenshot t_report_in_chromium
else
	skip_test agents.report_in_chromium_screenshot "chromium not installed (scripts/install-deps.sh installs it)"
fi
if [ -z "$AXE_SKIP" ]; then
	run_test agents.report_axe_wcag21aa t_report_axe
else
	skip_test agents.report_axe_wcag21aa "$AXE_SKIP"
fi

# reset: every host's workspace back to version=1, no failure marker
reset_hosts() {
	local i
	for i in $(seq 1 "$NHOSTS"); do
		rm -f "$T/h$i/srv/fail-validate"
		echo "version=1" >"$T/h$i/srv/app.conf"
		chown 1000:1000 "$T/h$i/srv/app.conf"
		cp -p "$T/h$i/srv/app.conf" "$T/h$i/app.conf.before"
	done
}
DRIVER_PID=""
# drive_start: the driver of $RID in the background (one at a time; a
# test that fails leaves it to the next drive_start or the exit)
drive_start() {
	drive_stop
	"$RO" drive --config "$C" --key "$KEYS/bot.key" --poll-ms 200 "$RID" >"$W/drive.out" 2>&1 &
	DRIVER_PID=$!
}
drive_stop() {
	[ -n "$DRIVER_PID" ] || return 0
	kill "$DRIVER_PID" 2>/dev/null
	wait "$DRIVER_PID" 2>/dev/null
	DRIVER_PID=""
}
lib_atexit drive_stop
# drive_said REGEX: wait (at most 30 s) until the driver printed it. The
# driver prints a decision after etcd took it, so a status that already
# shows the decision may come before the line: stopping the driver then
# (SIGTERM, its default action) would lose it.
drive_said() {
	local i
	for i in $(seq 1 300); do
		grep -q "$1" "$W/drive.out" && return 0
		sleep 0.1
	done
	fail "drive said: $(cat "$W/drive.out")"
}
host_state() { vq '[h for t in v["tiers"] for h in t["hosts"] if h["host"] == "'"$1"'"][0]["state"]'; }

t_canary_fails_halt() {
	reset_hosts
	touch "$T/h1/srv/fail-validate"
	RO_HOSTS=4 mk_rollout canary-fail '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 25,50,100 \
		--gate auto --soak 0 --deadline 300 || return 1
	drive_start
	wait_for 60 'v["state"] == "halted"' || return 1
	drive_said "published halt" || return 1
	drive_stop
	[ "$(host_state web-1)" = failed ] || fail "web-1: $(host_state web-1)" || return 1
	[ "$(vq '[h for h in v["tiers"][0]["hosts"]][0]["validate"]')" = failed ] || fail "validate not reported failed" || return 1
	[ "$(vq 'v["counts"]["waiting"]')" = 3 ] || fail "hosts claimed after the canary failed: $(vq 'v["counts"]')" || return 1
	[ "$(vq 'v["controls"][-1]["role"]')" = agent ] || fail "the halt was not the driver's" || return 1
	grep -q "version=1" "$T/h1/srv/app.conf" || fail "web-1's failed run landed: $(cat "$T/h1/srv/app.conf")"
}
run_test agents.canary_validate_fails_then_halt t_canary_fails_halt

t_rollback_restores() {
	local i
	reset_hosts
	touch "$T/h8/srv/fail-validate" # the last tier's host
	RO_HOSTS=8 mk_rollout rb '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 25,50,100 \
		--gate auto --soak 0 --deadline 300 --max-parallel 4 --on-failure rollback || return 1
	drive_start
	wait_for 120 'v["state"] == "rolled_back" and v["counts"]["committed"] == 0 and v["counts"]["running"] == 0 and v["counts"]["claimed"] == 0' || return 1
	drive_stop
	[ "$(host_state web-8)" = failed ] || fail "web-8: $(host_state web-8)" || return 1
	[ "$(vq 'v["controls"][-1]["action"]')" = rollback ] || fail "last control: $(vq 'v["controls"][-1]')" || return 1
	for i in $(seq 1 8); do
		cmp -s "$T/h$i/srv/app.conf" "$T/h$i/app.conf.before" ||
			fail "web-$i not restored: $(cat "$T/h$i/srv/app.conf")" || return 1
		[ "$(stat -c %u:%g "$T/h$i/srv/app.conf")" = 1000:1000 ] || fail "web-$i's owner changed" || return 1
	done
	# every host that had committed says rolled_back, the failed one failed
	[ "$(vq 'v["counts"]["rolled_back"] + v["counts"]["failed"] + v["counts"]["waiting"]')" = 8 ] ||
		fail "counts: $(vq 'v["counts"]')"
}
run_test agents.on_failure_rollback_restores_every_host t_rollback_restores

t_rollback_after_reconnect() {
	reset_hosts
	RO_HOSTS=2 mk_rollout late '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 50,100 --gate auto \
		--soak 0 --deadline 300 || return 1
	wait_for 60 'v["state"] == "completed"' || return 1
	agent_kill 2 TERM
	"$RO" rollback --config "$C" --key "$KEYS/alice.key" "$RID" >/dev/null 2>"$ERR" || fail "rollback: $(first_err)" || return 1
	wait_for 30 'v["tiers"][0]["hosts"][0]["state"] == "rolled_back"' || return 1
	[ "$(host_state web-2)" = committed ] || fail "web-2 moved without its agent: $(host_state web-2)" || return 1
	grep -q version=2 "$T/h2/srv/app.conf" || fail "web-2's file changed without its agent" || return 1
	agent_start 2
	wait_for 30 'v["tiers"][1]["hosts"][0]["state"] == "rolled_back"' || return 1
	cmp -s "$T/h2/srv/app.conf" "$T/h2/app.conf.before" || fail "web-2 not restored: $(cat "$T/h2/srv/app.conf")"
}
run_test agents.rollback_reaches_a_host_that_reconnects_later t_rollback_after_reconnect

t_halt_in_flight() {
	local t0 t1
	reset_hosts
	RO_HOSTS=4 mk_rollout halt '["/usr/bin/sleep", "60"]' --tiers 25,50,100 --gate auto \
		--soak 0 --deadline 300 || return 1
	wait_for 60 'v["tiers"][0]["hosts"][0]["state"] == "running"' || return 1
	t0=$(date +%s%N)
	"$RO" halt --config "$C" --key "$KEYS/alice.key" "$RID" >/dev/null 2>"$ERR" || fail "halt: $(first_err)" || return 1
	wait_for 30 'v["tiers"][0]["hosts"][0]["state"] == "halted"' || return 1
	t1=$(date +%s%N)
	echo "    halt published -> web-1's run halted and reported: $(((t1 - t0) / 1000000)) ms (includes the status polls)"
	sleep 1
	view || return 1
	[ "$(vq 'v["counts"]["waiting"]')" = 3 ] || fail "claims after the halt: $(vq 'v["counts"]')"
}
run_test agents.halt_stops_runs_in_flight_and_claims t_halt_in_flight

t_pause_resume() {
	reset_hosts
	RO_HOSTS=4 mk_rollout pause '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 25,50,100 \
		--canary-gate manual --gate auto --soak 0 --deadline 300 || return 1
	"$RO" pause --config "$C" --key "$KEYS/bot.key" "$RID" >/dev/null 2>"$ERR" || fail "pause: $(first_err)" || return 1
	approve 1 || return 1
	sleep 2
	view || return 1
	[ "$(vq 'v["state"]')" = paused ] && [ "$(vq 'v["counts"]["waiting"]')" = 4 ] ||
		fail "paused rollout moved: $(vq 'v["state"]') $(vq 'v["counts"]')" || return 1
	if "$RO" resume --config "$C" --key "$KEYS/bot.key" "$RID" >/dev/null 2>"$ERR"; then
		fail "an agent key resumed a rollout"
		return 1
	fi
	"$RO" resume --config "$C" --key "$KEYS/alice.key" "$RID" >/dev/null 2>"$ERR" || fail "resume: $(first_err)" || return 1
	wait_for 90 'v["state"] == "completed"'
}
run_test agents.pause_holds_claims_resume_completes t_pause_resume

# status --watch ends when the rollout settles, and what it printed last is
# the settled state: here the last tier's soak ends the rollout with no
# write to etcd (no driver runs), so a watch that prints only on a new
# revision would end on a "soaking" block
t_watch_ends_on_settled_state() {
	local last
	reset_hosts
	RO_HOSTS=2 mk_rollout watch '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 50,100 \
		--gate auto --soak 2 --deadline 300 || return 1
	timeout 60 "$RO" status --config "$C" --watch "$RID" >"$W/watch.txt" 2>"$ERR" ||
		fail "status --watch did not end within 60 s or failed: $(first_err)" || return 1
	last=$(grep "^rollout $RID: " "$W/watch.txt" | tail -n 1)
	case $last in
	"rollout $RID: completed "*) ;;
	*) fail "the last block of status --watch: '$last'" ;;
	esac
}
run_test agents.status_watch_ends_on_the_settled_state t_watch_ends_on_settled_state

t_lost_then_recovers() {
	reset_hosts
	RO_HOSTS=4 mk_rollout lost '["/usr/bin/sleep", "6"]' --tiers 25,50,100 --gate auto \
		--soak 0 --deadline 300 || return 1
	wait_for 60 'v["tiers"][0]["hosts"][0]["state"] == "running"' || return 1
	agent_kill 1 KILL
	wait_for 20 'v["tiers"][0]["hosts"][0]["state"] == "lost"' || return 1
	[ "$(vq 'v["tiers"][0]["status"]')" = failed ] || fail "a lost canary did not fail its tier: $(vq 'v["tiers"][0]["status"]')" || return 1
	sleep 6 # the orphaned calyx-exec finishes its run meanwhile (validate fails: no app.conf change)
	agent_start 1
	wait_for 30 'v["tiers"][0]["hosts"][0]["state"] not in ("lost", "running", "claimed")' || return 1
	[ "$(host_state web-1)" = failed ] || fail "web-1 after restart: $(host_state web-1) (its run's validate fails: app.conf unchanged)"
}
run_test agents.killed_agent_lost_after_ttl_restart_resumes t_lost_then_recovers

t_deadline_pauses() {
	reset_hosts
	RO_HOSTS=4 mk_rollout dl '["/usr/bin/sleep", "20"]' --tiers 25,50,100 --gate auto \
		--soak 1 --deadline 4 --on-deadline pause || return 1
	drive_start
	wait_for 40 'v["state"] == "paused"' || return 1
	drive_said "passed its deadline" || return 1
	drive_stop
	[ "$(vq 'v["counts"]["waiting"]')" = 3 ] || fail "claims after the deadline: $(vq 'v["counts"]')" || return 1
	"$RO" halt --config "$C" --key "$KEYS/alice.key" "$RID" >/dev/null 2>"$ERR" || fail "halt: $(first_err)"
}
run_test agents.deadline_applies_on_deadline t_deadline_pauses

t_forged_control_no_claims() {
	reset_hosts
	RO_HOSTS=4 mk_rollout forged '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 25,50,100 \
		--canary-gate manual --gate auto --soak 0 --deadline 300 || return 1
	# an approval signed by a key outside the keyring, planted in etcd
	"$LEASE" keygen --role human --name mallory --out "$W" >/dev/null 2>"$ERR" ||
		fail "keygen: $(first_err)" || return 1
	"$RO" control --key "$W/mallory.key" --rollout "$W/forged.ro" --seq 1 --action approve --tier 1 -o "$W/forged.ctl" >/dev/null 2>"$ERR" ||
		fail "control: $(first_err)" || return 1
	local k=$POOL_PREFIX"rollouts/$RID/control"
	etcd_curl /v3/kv/txn "{\"success\":[{\"request_put\":{\"key\":\"$(printf %s "$k" | base64 -w0)\",\"value\":\"$(base64 -w0 "$W/forged.ctl")\"}},{\"request_put\":{\"key\":\"$(printf %s "$k/0000000000000001" | base64 -w0)\",\"value\":\"$(base64 -w0 "$W/forged.ctl")\"}}]}" >/dev/null ||
		fail "planting failed" || return 1
	# web-1's agent read it (it says why it did not act: at most 30 s,
	# its polls are slow on a loaded VM), and 3 s more for any claim
	local i
	for i in $(seq 1 300); do
		grep -q "rollout $RID: not acted on: \[E_UNKNOWN_KEY\]" "$T/h1/agent.log" && break
		sleep 0.1
	done
	sleep 3
	if "$RO" status --config "$C" "$RID" >/dev/null 2>"$ERR"; then
		fail "status trusted a forged approval"
		return 1
	fi
	grep -q "E_UNKNOWN_KEY" "$ERR" || fail "status said: $(first_err)" || return 1
	for i in 1 2 3 4; do
		[ ! -e "$T/h$i/state/agent/$RID.json" ] || fail "web-$i acted on a forged approval" || return 1
	done
	grep -q "rollout $RID: not acted on: \[E_UNKNOWN_KEY\]" "$T/h1/agent.log" || fail "web-1's agent did not say why"
}
run_test agents.forged_approval_refused_no_claims t_forged_control_no_claims

t_quorum_loss_mid_run() {
	reset_hosts
	RO_HOSTS=4 mk_rollout quorum '["/usr/bin/sleep", "5"]' --tiers 25,50,100 --gate auto \
		--soak 0 --deadline 300 --max-failures 0 || return 1
	wait_for 60 'v["tiers"][0]["hosts"][0]["state"] == "running"' || return 1
	etcd_kill 2
	etcd_kill 3
	# the run in flight ends meanwhile (the agent follows it without
	# etcd); its final report is kept, pending, until etcd answers
	local i end=$(($(date +%s) + 40))
	until grep -q '"pending": true' "$T/h1/state/agent/$RID.json" && grep -q '"phase": "done"' "$T/h1/state/agent/$RID.json"; do
		[ "$(date +%s)" -le "$end" ] || fail "web-1's final report is not pending: $(tr -d "\n" <"$T/h1/state/agent/$RID.json" | head -c 300)" || return 1
		sleep 0.5
	done
	for i in 2 3 4; do
		[ ! -e "$T/h$i/state/agent/$RID.json" ] || fail "web-$i claimed without a quorum" || return 1
	done
	etcd_restart 2
	etcd_restart 3
	etcd_wait_healthy 30 || fail "etcd did not come back" || return 1
	wait_for 60 'v["tiers"][0]["hosts"][0]["state"] == "failed"' || return 1
	"$RO" halt --config "$C" --key "$KEYS/alice.key" "$RID" >/dev/null 2>"$ERR" || fail "halt: $(first_err)"
}
run_test agents.quorum_loss_no_claims_run_reported_later t_quorum_loss_mid_run

# A store that grew: etcd keeps every finished rollout's keys, and a big
# rollout's reports fill its own prefix. 9,000 keys under rollout ids no
# agent reads (a listing of some 1.5 MB, keys only) and 3,000 of 400
# bytes under the next rollout's prefix (a read of some 2 MB): each well
# over the 1 MiB one etcd reply was capped at. The agents page through
# both, and read only what changed once idle; then the planted keys are
# deleted (every agent lists anew) and the next rollout still completes.
t_store_grows() {
	local pfx=${POOL_PREFIX}rollouts/ old
	old=${pfx}ffffffffffffffffffffffffffffffff/
	plant "${old}done/" 9000 120 || return 1
	reset_hosts
	RO_HOSTS=3 mk_rollout big '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 33,66,100 \
		--canary-gate manual --gate auto --soak 0 --deadline 300 || return 1
	plant "${pfx}$RID/zz/" 3000 400 || return 1
	approve 1 || return 1
	wait_for 90 'v["state"] == "completed"' || return 1
	[ "$(vq 'v["counts"]["committed"]')" = 3 ] || fail "committed: $(vq 'v["counts"]')" || return 1
	# the read the agents page through, timed (printed, not asserted)
	local t0 t1
	t0=$(date +%s%N)
	"$RO" status --config "$C" --json "$RID" >/dev/null 2>"$ERR" || fail "status: $(first_err)" || return 1
	t1=$(date +%s%N)
	printf '      status of the rollout with 3,000 planted keys: %d ms\n' $(((t1 - t0) / 1000000))
	unplant "$old"
	unplant "${pfx}$RID/zz/"
	reset_hosts
	RO_HOSTS=2 mk_rollout after '["/usr/bin/dash", "/work/job.sh", "/work"]' --tiers 50,100 \
		--gate auto --soak 0 --deadline 300 || return 1
	wait_for 60 'v["state"] == "completed"'
}
run_test agents.store_past_one_reply_paged_and_incremental t_store_grows

summary
