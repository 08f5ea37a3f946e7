#!/usr/bin/env bash
# Crash gate (issue 7): kill -9 of calyx-exec at random points, every
# phase covered, then the next start (or calyx-ctl recover) must leave
# things as if the run had either not happened or happened whole.
#
#   CRASH_ITERATIONS=200 [CRASH_SEED=N] scripts/crash.sh [BUILD]    (root)
#
# Kills, CRASH_ITERATIONS of them, in turn:
#  - targeted (two in three): the fault-injection build (make fault:
#    BUILD/fault/calyx-exec) SIGKILLs itself at a named point
#    (CALYX_FAULT_PHASE; sandbox/workspace/internal.h), each point of the
#    table below in turn; some points arm a timer instead
#    (CALYX_FAULT_DELAY_US) that kills a random 0..N µs later, mid-phase;
#    "torn:<type>" points die half-way through writing that audit line;
#  - random (one in three): the normal build, killed from outside after a
#    random 0..D ms (D: how long that kind of run takes here, measured
#    first); the phase it landed in is read from what it left (ledger
#    entry, run dir, journal, its audit events).
# Phases: before_consume, after_consume, setup, run, commit, rollback.
# A random kill that came too late (the run had finished) is not a kill:
# it is checked like any run and the iteration is done again.
#
# After each kill, recovery alternates between `calyx-ctl recover` and the
# next calyx-exec start (a run of another lease), then `calyx-ctl list`
# (which removes the control sockets of dead supervisors), and asserts:
#  - the lease is consumed exactly when it should be: not when killed
#    before the ledger claim (it then runs once, and only once, when tried
#    again), always after it (tried again: refused E_REPLAY, exit 77);
#  - the workspace equals exactly the tree before the run or the tree
#    after it (a reference built by applying the same operations directly),
#    the "after" tree only for a kill in the commit phase, and always the
#    "after" tree when the log says committed;
#  - a run dir left behind was recovered and that is audited
#    (workspace.recovered naming the lease);
#  - the lease's own audit events are a prefix of its kind's sequence;
#  - the audit log verifies; a torn tail was repaired and recorded
#    (audit.repaired, the torn bytes kept next to the log);
#  - no process of the run uid, no run cgroup of the lease (in any
#    hierarchy), no new mount naming our directories, nothing in the state
#    dir's runs/ and run/*.sock, no BPF program held by no one; and, at
#    the end, after one more run, nothing in trash/ (a kill between the
#    move to the trash and its deleter leaves the entry to the next one).
# Any failed assertion makes the iteration an inconsistency. Reported
# apart, not failing the gate: a kill between mkdir and rename of a run
# dir leaves STATE/runs/<id>.new, which recovery ignores (a known gap in
# docs/audit-events.md); and kills whose outcome the log does not state
# (a commit that landed but is recovered as "cleaned", a discard killed
# before its event). Writes $BUILD/gates/crash.json, prints a one-line
# summary last; exit 1 unless every iteration was consistent and every
# phase was hit.
set -u
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=tests/integration/lib.sh
source tests/integration/lib.sh "${1:-build}"
# shellcheck source=tests/soak/leaks.sh
source tests/soak/leaks.sh

ITER=${CRASH_ITERATIONS:-200}
SEED=${CRASH_SEED:-$$}
case $ITER$SEED in *[!0-9]*) echo "crash: CRASH_ITERATIONS and CRASH_SEED must be numbers" >&2; exit 2 ;; esac
RANDOM=$SEED
GATES=$B/gates
mkdir -p "$GATES"
FX=$B/fault/calyx-exec
CTL=$B/calyx-ctl
[ -x "$FX" ] || { echo "crash: $FX missing (make tests builds it; or make fault)" >&2; exit 2; }
[ -x "$B/workloads/wsops" ] || { echo "crash: $B/workloads/wsops missing (make tests)" >&2; exit 2; }
command -v bpftool >/dev/null || { echo "crash: bpftool missing (scripts/install-deps.sh)" >&2; exit 2; }

HB=$(mktemp -d /var/tmp/calyx-crash.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2
CR_UID=$((55000 + $$ % 5000))
while getent passwd "$CR_UID" >/dev/null || getent group "$CR_UID" >/dev/null || pgrep -u "$CR_UID" >/dev/null; do
	CR_UID=$((CR_UID + 1))
done
policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" >"$T/crash.policy.json"
mk_host cr "$T/crash.policy.json" "" "\"run_uid\": $CR_UID, \"run_gid\": $CR_UID" ||
	{ echo "crash: fixture: $WHY" >&2; exit 2; }
CONF=$T/cr/etc/calyx.conf
STATE=$T/cr/state
AL=$T/cr/log/audit.jsonl
mkdir -p "$T/srv" "$T/l" "$T/o"


manifest() { # DIR: type, mode, owner, path, link target; content hashes
	(cd "$1" && find . -mindepth 1 -printf '%y %m %U:%G %p -> %l\n' | sort &&
		find . -type f -exec sha256sum {} + | sort -k 2)
}
ws_fixture "$T/ref-before" "$CR_UID"
ws_fixture "$T/ref-after" "$CR_UID"
(cd "$T/ref-after" && setpriv --reuid="$CR_UID" --regid="$CR_UID" --clear-groups "$HB/wsops" "${WS_OPS[@]}") ||
	{ echo "crash: the reference operations failed" >&2; exit 2; }
BEFORE=$(manifest "$T/ref-before")
AFTER=$(manifest "$T/ref-after")

json_argv() { # ARGS...: a JSON array of wsops + ARGS
	local out="[\"$HB/wsops\"" a
	for a in "$@"; do out="$out, \"$a\""; done
	printf '%s]' "$out"
}
# Kinds of lease: commit (validate passes), slow (the same, taking longer
# in both phases), fail (exits 3: rolled back), trivial (no workspace:
# the "next start" that recovers).
body() { # KIND WS RUN_ID
	local argv extra=""
	case $1 in
	commit) argv=$(json_argv "${WS_OPS[@]}") extra=",\"validate\":{\"argv\":$(json_argv exit:0)}" ;;
	slow) argv=$(json_argv "${WS_OPS[@]}" sleep:150) extra=",\"validate\":{\"argv\":$(json_argv sleep:60)}" ;;
	fail) argv=$(json_argv "${WS_OPS[@]}" exit:3) ;;
	trivial) argv=$(json_argv exit:0) ;;
	esac
	if [ "$1" = trivial ]; then
		printf '{"run_id":"%s","audience":"%s","argv":%s,"paths":{"ro":["/usr","%s"]}}\n' "$3" "$HOST_ID" "$argv" "$HB"
	else
		printf '{"run_id":"%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]},"limits":{"wall_ms":60000}%s}\n' \
			"$3" "$HOST_ID" "$argv" "$2" "$HB" "$extra"
	fi
}
# sign NAME KIND: $T/l/NAME.{lease,id}, workspace $T/srv/NAME (fresh)
sign() {
	local e=$T/l/$1.err
	[ "$2" = trivial ] || ws_fixture "$T/srv/$1" "$CR_UID"
	body "$2" "$T/srv/$1" "cr-$1" >"$T/l/$1.body" &&
		"$LEASE" new "$T/l/$1.body" -o "$T/l/$1.lease" --policy "$T/cr/etc/policy.json" --ttl 3000 >/dev/null 2>"$e" &&
		"$LEASE" sign --key "$KEYS/alice.key" "$T/l/$1.lease" >/dev/null 2>>"$e" &&
		"$LEASE" sign --key "$KEYS/bot.key" "$T/l/$1.lease" >/dev/null 2>>"$e" &&
		lease_id "$T/l/$1.lease" >"$T/l/$1.id" && [ -s "$T/l/$1.id" ] && rm -f "$e"
}
pool() { while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n; done; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
cxrun() { # NAME [EXEC]: run lease NAME to its end; rc in RC, stderr in $T/o/NAME.err
	"${2:-$EXEC}" --config "$CONF" --lease "$T/l/$1.lease" >/dev/null 2>"$T/o/$1.err"
	RC=$?
}

# ---------------------------------------------------------------------------
# the plan: targeted points (point|delay µs|kind|phase; phase "?" = read
# from what the kill left), in an order that visits every phase within
# the first few kills, and random kills
# ---------------------------------------------------------------------------
POINTS=(
	"after_verified||commit|before_consume"
	"after_claim||commit|after_consume"
	"setup||commit|setup"
	"setup|40000|slow|?"
	"torn:exec.started||slow|run"
	"before_commit||commit|commit"
	"before_rollback||fail|rollback"
	"before_claim||commit|before_consume"
	"after_consumed||commit|after_consume"
	"after_run_dir||commit|setup"
	"run_dir_new||commit|setup"
	"run|150000|slow|?"
	"run||slow|run"
	"after_scan||commit|commit"
	"after_discard||fail|rollback"
	"torn:lease.verified||commit|before_consume"
	"torn:lease.consumed||commit|after_consume"
	"before_spawn||commit|setup"
	"run_validate|60000|slow|?"
	"torn:exec.spawned||slow|run"
	"after_pack||commit|commit"
	"torn:workspace.rolled_back||fail|rollback"
	"before_spawn_validate||commit|setup"
	"before_commit|30000|commit|?"
	"torn:exec.finished||slow|run"
	"after_packed_journal||commit|commit"
	"after_applying_journal||commit|commit"
	"after_temps||commit|commit"
	"mid_apply||commit|commit"
	"after_apply||commit|commit"
	"before_done||commit|commit"
	"after_done||commit|commit"
	"after_commit||commit|commit"
	"torn:workspace.committed||commit|commit"
)
RKINDS=(commit slow fail)
PLAN=()
j=0
for a in $(seq 1 "$ITER"); do
	if [ $((a % 3)) -eq 0 ]; then
		PLAN+=("random||${RKINDS[$((RANDOM % 3))]}|?")
	else
		PLAN+=("${POINTS[$((j % ${#POINTS[@]}))]}")
		j=$((j + 1))
	fi
done

lib_keys || { echo "crash: keys: $WHY" >&2; exit 2; }
t0=$(now_ms)
for a in $(seq 1 "$ITER"); do
	IFS='|' read -r _ _ kind _ <<<"${PLAN[$((a - 1))]}"
	pool $(( $(nproc) * 2 ))
	sign "a$a" "$kind" &
	pool $(( $(nproc) * 2 ))
	sign "t$a" trivial &
done
for k in commit slow fail; do sign "cal-$k" "$k" & done
sign cal-final commit &
wait
bad=$(find "$T/l" -name '*.err' | head -n 1)
[ -z "$bad" ] || { echo "crash: signing failed: $(head -n 1 "$bad")" >&2; exit 2; }
printf 'crash: %d leases signed in %d ms\n' "$(find "$T/l" -name '*.lease' | wc -l)" $(( $(now_ms) - t0 ))

# Calibrate: one run of each kind to its end, normally (the commit must
# give exactly the reference tree); its time bounds the random delays.
declare -A DUR
for k in commit slow fail; do
	t0=$(now_ms)
	cxrun "cal-$k"
	DUR[$k]=$(( $(now_ms) - t0 ))
	want=0
	[ "$k" = fail ] && want=3
	[ "$RC" -eq "$want" ] || { echo "crash: calibration run '$k' exited $RC: $(head -n 1 "$T/o/cal-$k.err")" >&2; exit 2; }
	if [ "$k" = fail ]; then ref=$BEFORE; else ref=$AFTER; fi
	[ "$(manifest "$T/srv/cal-$k")" = "$ref" ] ||
		{ echo "crash: calibration run '$k' did not give the reference tree: $(diff <(echo "$ref") <(manifest "$T/srv/cal-$k") | head -n 4 | tr '\n' '|')" >&2; exit 2; }
done
printf 'crash: run times here: commit %d ms, slow %d ms, fail %d ms (random kills within them); seed %s\n' \
	"${DUR[commit]}" "${DUR[slow]}" "${DUR[fail]}" "$SEED"
lk_mounts_snap "$T/mounts.before"
lk_bpf_orphan_ids >"$T/bpf.orphans0"

# ---------------------------------------------------------------------------
# one iteration
# ---------------------------------------------------------------------------
# events of lease ID in the log's complete lines, as a space-separated
# list; without the housekeeping a start does for others under its own
# lease id (recovering other runs, pruning, reaping stale cgroups)
types_of() {
	grep -aF "\"lease_id\":\"$1\"" "$AL" | grep -a '}$' |
		sed -n 's/^{"seq":[0-9]*,"time":"[^"]*","type":"\([^"]*\)".*/\1/p' |
		grep -vxE 'workspace\.recovered|workspace\.pack_pruned|ledger\.pruned|monitor\.stale_cgroup_removed' |
		tr '\n' ' '
}
# its kind's full sequence (exec.spawned: one per phase with BPF, none without)
SEQ_commit='^(lease.verified (lease.consumed (exec.started (exec.spawned )?(exec.finished (exec.started (exec.spawned )?(exec.finished (workspace.committed )?)?)?)?)?)?)?$'
# shellcheck disable=SC2034  # read through ${!seqre}
SEQ_slow=$SEQ_commit
# shellcheck disable=SC2034
SEQ_fail='^(lease.verified (lease.consumed (exec.started (exec.spawned )?(exec.finished (workspace.rolled_back )?)?)?)?)?$'

# classify: the phase a kill landed in, from what it left (before recovery)
classify() { # ID KIND TYPES
	local id=$1 kind=$2 ty=" $3"
	if [ ! -e "$STATE/ledger/$id" ]; then echo before_consume; return; fi
	if [[ $ty != *" exec.started "* ]]; then
		if [ -e "$STATE/runs/$id" ] || [ -e "$STATE/runs/$id.new" ]; then echo setup; else echo after_consume; fi
		return
	fi
	if [ -e "$STATE/runs/$id/journal.json" ] || [[ $ty == *" workspace.committed "* ]]; then echo commit; return; fi
	local n_fin n_st
	n_fin=$(grep -o ' exec.finished ' <<<"$ty" | wc -l)
	n_st=$(grep -o ' exec.started ' <<<"$ty" | wc -l)
	if [ "$kind" = fail ]; then
		if [ "$n_fin" -ge 1 ]; then echo rollback; else echo run; fi
		return
	fi
	if [ "$n_fin" -lt "$n_st" ]; then echo run
	elif [ "$n_st" -eq 1 ]; then echo setup # the validate phase's setup
	else echo commit
	fi
}

declare -A PHASES=([before_consume]=0 [after_consume]=0 [setup]=0 [run]=0 [commit]=0 [rollback]=0)
declare -A HIT
KILLS=0 INCONS=0 MISSES=0 REPAIRS=0 NEW_DIRS=0 UNREC_COMMIT=0 UNREC_DISCARD=0
NOTES=$T/inconsistencies
: >"$NOTES"
bad() { WHYS="${WHYS:+$WHYS; }$*"; }

iteration() { # NAME POINT DELAY KIND PHASE
	local name=$1 point=$2 delay=$3 kind=$4 phase=$5 id rc pid ms ty torn=no consumed rundir_was=no
	local repaired0 recovered got mode tag rc2 want ref
	WHYS=""
	id=$(cat "$T/l/$name.id")
	tag=${id:0:12}
	repaired0=$(grep -c '"type":"audit.repaired"' "$AL")
	# --- the kill
	if [ "$point" = random ]; then
		ms=$((RANDOM % (DUR[$kind] + 1)))
		{ ( exec "$EXEC" --config "$CONF" --lease "$T/l/$name.lease" >/dev/null 2>"$T/o/$name.err" ) & } 2>/dev/null
		pid=$!
		sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
		kill -KILL "$pid" 2>/dev/null
		{ wait "$pid"; rc=$?; } 2>/dev/null
		point="random@${ms}ms"
	else
		{ (
			export CALYX_FAULT_PHASE="$point"
			[ -z "$delay" ] || export CALYX_FAULT_DELAY_US="$delay"
			exec "$FX" --config "$CONF" --lease "$T/l/$name.lease" >/dev/null 2>"$T/o/$name.err"
		); rc=$?; } 2>/dev/null
		[ -z "$delay" ] || point="$point+<${delay}us"
	fi
	if [ "$rc" -ne 137 ]; then
		# a kill that came too late (random, or a timer that did not
		# fire before the end): the run must simply have ended as its
		# kind does; a point that was never reached is wrong
		case $point in
		random* | *+*)
			MISSES=$((MISSES + 1))
			want=0 ref=$AFTER
			[ "$kind" = fail ] && want=3 ref=$BEFORE
			if [ "$rc" -ne "$want" ] || [ "$(manifest "$T/srv/$name")" != "$ref" ]; then
				INCONS=$((INCONS + 1))
				printf '  INCONSISTENT %s: %s run not killed (%s) ended with exit %d, workspace %s\n' "$name" "$kind" \
					"$point" "$rc" "$([ "$(manifest "$T/srv/$name")" = "$ref" ] && echo ok || echo wrong)" | tee -a "$NOTES"
			fi
			return 1 ;;
		esac
		bad "point $point was not reached (exit $rc: $(head -n 1 "$T/o/$name.err" | cut -c 1-120))"
	fi
	KILLS=$((KILLS + 1))
	# --- what it left, before recovery
	[ -s "$AL" ] && [ -n "$(tail -c 1 "$AL")" ] && torn=yes
	[ -e "$STATE/ledger/$id" ] && consumed=yes || consumed=no
	[ -e "$STATE/runs/$id" ] && rundir_was=yes
	ty=$(types_of "$id")
	got=$(classify "$id" "$kind" "$ty")
	[ "$phase" = "?" ] && phase=$got
	PHASES[$phase]=$(( ${PHASES[$phase]} + 1 ))
	HIT[$point]=1
	# the sandbox dies with its supervisor
	[ -z "$(lk_settle 10 pgrep -u "$CR_UID")" ] || bad "processes of the run uid survive the kill: $(pgrep -u "$CR_UID" | tr '\n' ' ')"
	# --- consumed exactly when it should be
	case $phase in
	before_consume) [ "$consumed" = no ] || bad "consumed although killed before the ledger claim" ;;
	*) [ "$consumed" = yes ] || bad "not consumed although killed after the claim ($phase)" ;;
	esac
	[[ " $ty" != *" lease.consumed "* ]] || [ "$consumed" = yes ] || bad "lease.consumed in the log but no ledger entry"
	local seqre="SEQ_$kind"
	[[ $ty =~ ${!seqre} ]] || bad "its audit events are not a prefix of a $kind run: $ty"
	# a <id>.new run dir (killed between its mkdir and its rename) is a
	# known gap (docs/audit-events.md): recovery never looks at it
	if [ -e "$STATE/runs/$id.new" ]; then
		NEW_DIRS=$((NEW_DIRS + 1))
		echo "  known gap: $STATE/runs/$id.new left by a kill at $point (recovery ignores it); removed by the gate"
		rm -rf "$STATE/runs/$id.new"
	fi
	# --- recovery: calyx-ctl recover, or the next start
	if [ $((KILLS % 2)) -eq 1 ]; then
		mode="calyx-ctl recover"
		"$CTL" --config "$CONF" recover >"$T/o/$name.recover" 2>&1 || bad "calyx-ctl recover failed: $(head -n 1 "$T/o/$name.recover")"
	else
		mode="next start"
		cxrun "t${name#a}"
		[ "$RC" -eq 0 ] || bad "the next start (a trivial run) exited $RC: $(grep -v 'note:' "$T/o/t${name#a}.err" | head -n 1)"
	fi
	"$CTL" --config "$CONF" list >/dev/null 2>&1
	[ ! -e "$STATE/runs/$id" ] || bad "run dir still there after $mode"
	if [ "$rundir_was" = yes ]; then
		recovered=$(grep -aF '"type":"workspace.recovered"' "$AL" | grep -aF "\"details\":{\"lease_id\":\"$id\"")
		[ -n "$recovered" ] || bad "its run dir was recovered but no workspace.recovered names it"
		grep -q '"ok":true' <<<"$recovered" || bad "recovery failed: $(grep -o '"error":"[^"]*"' <<<"$recovered")"
	fi
	# --- all or nothing
	local now rec_action
	now=$(manifest "$T/srv/$name")
	rec_action=$(grep -aF '"type":"workspace.recovered"' "$AL" | grep -aF "\"details\":{\"lease_id\":\"$id\"" |
		sed -n 's/.*"action":"\([^"]*\)".*/\1/p' | tail -n 1)
	if [ "$now" = "$AFTER" ]; then
		[ "$phase" = commit ] || bad "the workspace is committed after a kill in phase $phase"
		# does the log say that the writes landed? (not an assertion: see
		# the report's "outcome not in the log")
		[[ " $ty" == *" workspace.committed "* ]] || [ "$rec_action" = rolled_forward ] ||
			{ UNREC_COMMIT=$((UNREC_COMMIT + 1)); echo "  outcome not in the log: $name ($point) committed, recovery says '$rec_action'"; }
	elif [ "$now" = "$BEFORE" ]; then
		[[ " $ty" != *" workspace.committed "* ]] || bad "the log says committed but the workspace is the tree before"
		if [[ " $ty" == *" exec.started "* ]] && [[ " $ty" != *" workspace.rolled_back "* ]] && [ -z "$rec_action" ]; then
			UNREC_DISCARD=$((UNREC_DISCARD + 1))
			echo "  outcome not in the log: $name ($point) ran, its writes were discarded, no event says so"
		fi
	else
		bad "the workspace is neither the tree before nor after: $(diff <(echo "$BEFORE") <(echo "$now") | head -n 4 | tr '\n' '|')"
	fi
	# --- tried again: refused once consumed; run once if not
	if [ "$consumed" = yes ]; then
		cxrun "$name"
		[ "$RC" -eq 77 ] && grep -q '^calyx-exec: lease refused \[E_REPLAY\]' "$T/o/$name.err" ||
			bad "a consumed lease tried again: exit $RC, expected 77 E_REPLAY ($(head -n 1 "$T/o/$name.err" | cut -c 1-100))"
		[ "$(manifest "$T/srv/$name")" = "$now" ] || bad "the refused retry changed the workspace"
	else
		want=0
		[ "$kind" = fail ] && want=3
		cxrun "$name"
		rc2=$RC
		[ "$rc2" -eq "$want" ] || bad "the unconsumed lease tried again exited $rc2, expected $want ($(head -n 1 "$T/o/$name.err" | cut -c 1-100))"
		if [ "$kind" = fail ]; then ref=$BEFORE; else ref=$AFTER; fi
		[ "$(manifest "$T/srv/$name")" = "$ref" ] || bad "the retried run did not leave the $kind tree"
		cxrun "$name"
		[ "$RC" -eq 77 ] || bad "run once, the lease ran again (exit $RC)"
	fi
	# the start that reaps stale run cgroups (calyx-ctl recover does not)
	[ "$mode" = "next start" ] || { cxrun "t${name#a}"; [ "$RC" -eq 0 ] || bad "a trivial run after recovery exited $RC"; }
	# --- the audit log
	if ! "$AUDIT" verify --host-pub "$T/cr/etc/host.pub.json" "$AL" >"$T/o/$name.verify" 2>&1; then
		bad "audit log does not verify: $(head -n 1 "$T/o/$name.verify" | cut -c 1-160)"
	fi
	if [ "$torn" = yes ]; then
		REPAIRS=$((REPAIRS + 1))
		[ "$(grep -c '"type":"audit.repaired"' "$AL")" -eq $((repaired0 + 1)) ] || bad "a torn tail but no audit.repaired"
		local saved
		saved=$(grep '"type":"audit.repaired"' "$AL" | tail -n 1 | sed -n 's/.*"saved_as":"\([^"]*\)".*/\1/p')
		[ -n "$saved" ] && [ -f "$T/cr/log/$saved" ] || bad "the torn bytes were not kept ($saved)"
	fi
	# --- leaks of this iteration
	local left
	echo "$tag" >"$T/o/$name.tag"
	left=$(lk_settle 10 lk_cgroups "$T/o/$name.tag")
	[ -z "$left" ] || bad "run cgroups left: $left"
	left=$(lk_mounts_new "$T/mounts.before" "$T" "$HB")
	[ -z "$left" ] || bad "mounts left: $(echo "$left" | head -n 2 | tr '\n' '|')"
	# (a kill between the move to the trash and the start of its deleter
	# leaves the entry to the next deleter: checked once, at the end)
	left=$(lk_settle 10 lk_rundirs "$STATE" notrash)
	[ -z "$left" ] || bad "left in the state dir: $left"
	left=$(lk_bpf_leaked "$T/bpf.orphans0")
	[ "$left" -eq 0 ] || bad "$left monitor BPF program(s) held by no one for 3 s"
	if [ -n "$WHYS" ]; then
		INCONS=$((INCONS + 1))
		printf '  INCONSISTENT %s: %s kill at %s (%s), %s: %s\n' "$name" "$kind" "$point" "$phase" "$mode" "$WHYS" | tee -a "$NOTES"
	fi
	return 0
}

# ---------------------------------------------------------------------------
# the kills
# ---------------------------------------------------------------------------
printf 'crash: %d kills, run uid %d\n' "$ITER" "$CR_UID"
t0=$(now_ms)
extra=0
a=0
while [ "$KILLS" -lt "$ITER" ]; do
	if [ "$a" -lt "$ITER" ]; then
		a=$((a + 1))
		name=a$a
		IFS='|' read -r point delay kind phase <<<"${PLAN[$((a - 1))]}"
	else
		# a kill that missed: again, a random one, with a new lease
		[ "$extra" -lt "$ITER" ] || { echo "crash: too many missed kills ($MISSES)" >&2; break; }
		extra=$((extra + 1))
		name=a$((ITER + extra))
		point=random delay="" kind=${RKINDS[$((RANDOM % 3))]} phase="?"
		sign "$name" "$kind" && sign "t$((ITER + extra))" trivial || { echo "crash: signing failed" >&2; exit 2; }
	fi
	iteration "$name" "$point" "$delay" "$kind" "$phase" || continue
	[ $((KILLS % 25)) -ne 0 ] || printf '  %d kills, %d inconsistencies, %d s\n' "$KILLS" "$INCONS" $(( ($(now_ms) - t0) / 1000 ))
done
SECS=$(awk -v ms=$(( $(now_ms) - t0 )) 'BEGIN { printf "%.1f", ms / 1000 }')
# the trash: whatever a kill left there goes with the next deleter, which
# the next commit or discard starts (here: one more run, to its end)
cxrun cal-final
left=$(lk_settle 30 lk_rundirs "$STATE")
if [ "$RC" -ne 0 ] || [ -n "$left" ]; then
	INCONS=$((INCONS + 1))
	echo "  INCONSISTENT at the end: a last run exited $RC; left in the state dir: $left" | tee -a "$NOTES"
fi

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
NPH=0
for p in before_consume after_consume setup run commit rollback; do
	[ "${PHASES[$p]}" -gt 0 ] && NPH=$((NPH + 1))
done
targeted_missing=()
for e in "${POINTS[@]}"; do
	IFS='|' read -r point delay _ _ <<<"$e"
	[ -z "$delay" ] || point="$point+<${delay}us"
	[ -n "${HIT[$point]:-}" ] || targeted_missing+=("$point")
done
printf 'phases: before_consume %d, after_consume %d, setup %d, run %d, commit %d, rollback %d; torn tails repaired %d; missed random kills %d; %s targeted points not hit (fewer iterations than points?)\n' \
	"${PHASES[before_consume]}" "${PHASES[after_consume]}" "${PHASES[setup]}" "${PHASES[run]}" \
	"${PHASES[commit]}" "${PHASES[rollback]}" "$REPAIRS" "$MISSES" "${#targeted_missing[@]}"
[ $((UNREC_COMMIT + UNREC_DISCARD)) -eq 0 ] ||
	echo "crash: outcome not in the log after $((UNREC_COMMIT + UNREC_DISCARD)) kill(s): $UNREC_COMMIT commits that landed (recovery says only 'cleaned'), $UNREC_DISCARD discards (killed between the discard and its event)"
[ "$NEW_DIRS" -eq 0 ] || echo "crash: known gap: $NEW_DIRS kill(s) left a <lease_id>.new run dir that recovery ignores (docs/audit-events.md)"
"$AUDIT" verify --host-pub "$T/cr/etc/host.pub.json" "$AL" >"$T/verify.final" 2>&1 && AUDIT_OK=true || AUDIT_OK=false
OK=false
[ "$INCONS" -eq 0 ] && [ "$KILLS" -eq "$ITER" ] && [ "$NPH" -eq 6 ] && $AUDIT_OK && OK=true
if $OK; then
	SUMMARY="$KILLS kills over $NPH phases, 0 inconsistencies"
else
	SUMMARY="$KILLS kills over $NPH phases: FAILED: $INCONS inconsistencies$($AUDIT_OK || echo ', audit log does not verify')"
fi
printf '{"gate":"crash","ok":%s,"iterations":%d,"seed":%s,"seconds":%s,"phases":{"before_consume":%d,"after_consume":%d,"setup":%d,"run":%d,"commit":%d,"rollback":%d},"inconsistencies":%d,"torn_tails_repaired":%d,"missed_random_kills":%d,"known_gap_new_run_dirs":%d,"outcome_not_in_log":{"committed":%d,"discarded":%d},"audit_lines":%d,"audit_ok":%s,"summary":"%s"}\n' \
	"$OK" "$KILLS" "$SEED" "$SECS" "${PHASES[before_consume]}" "${PHASES[after_consume]}" "${PHASES[setup]}" \
	"${PHASES[run]}" "${PHASES[commit]}" "${PHASES[rollback]}" "$INCONS" "$REPAIRS" "$MISSES" "$NEW_DIRS" "$UNREC_COMMIT" "$UNREC_DISCARD" \
	"$(grep -c . "$AL")" "$AUDIT_OK" "$SUMMARY" >"$GATES/crash.json"
echo "crash: $SUMMARY"
$OK
