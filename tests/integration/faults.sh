#!/usr/bin/env bash
# I/O faults: ENOSPC and EIO on the state dir, the ledger and the audit
# log. calyx-exec must fail closed with one line (reason code, then what
# to do), exit 125, consume the lease exactly as executor/lease/ledger.c says
# (not when the entry could not be created; "used, never run" once an
# entry exists, even empty), and lose nothing already recorded: the log's
# earlier bytes unchanged and verifying, earlier ledger entries unchanged,
# no partial workspace, nothing left in the state dir.
#
#   bash tests/integration/faults.sh [BUILD_DIR]   (default: build; root)
#
# ENOSPC: small tmpfs mounts (mount -t tmpfs -o size=…,nr_inodes=…) over
# the log's directory or a part of the state dir, filled. EIO: the
# fault-injection build (BUILD/fault/calyx-exec) with CALYX_FAULT_IO=
# audit:write|short|sync@<event type>, ledger:create|write|sync,
# state:rundir (sandbox/workspace/internal.h); skipped visibly without it.
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

[ -x "$B/workloads/wsops" ] || { echo "faults.sh: $B/workloads/wsops missing (run 'make tests')" >&2; exit 2; }
FX=$B/fault/calyx-exec
CTL=$B/calyx-ctl
HB=$(mktemp -d /var/tmp/calyx-faults.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2
FL_UID=$((60000 + $$ % 5000))
while getent passwd "$FL_UID" >/dev/null || getent group "$FL_UID" >/dev/null || pgrep -u "$FL_UID" >/dev/null; do
	FL_UID=$((FL_UID + 1))
done
policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" >"$T/fl.policy.json"
mkdir -p "$T/srv"

# Every tmpfs this suite mounts, unmounted at exit (last first).
MOUNTS=()
# shellcheck disable=SC2016  # expanded at exit
lib_atexit 'for ((_i = ${#MOUNTS[@]} - 1; _i >= 0; _i--)); do umount "${MOUNTS[$_i]}" 2>/dev/null; done'
tmpfs_on() { # DIR OPTIONS: a small tmpfs on DIR (created, root-only)
	mkdir -p "$1" && mount -t tmpfs -o "$2" calyx-faults "$1" && MOUNTS+=("$1") ||
		fail "cannot mount a tmpfs on $1" || return 1
	chown root:root "$1"
}
fill() { # DIR: fill its file system (ENOSPC)
	dd if=/dev/zero of="$1/.fill" bs=4096 2>/dev/null
	[ -s "$1/.fill" ] || fail "could not fill $1"
}

# host NAME: a host of its own per test (state, ledger and log).
host() {
	mk_host "$1" "$T/fl.policy.json" "" "\"run_uid\": $FL_UID, \"run_gid\": $FL_UID" || return 1
	mkdir -p "$T/$1/state/ledger" && chmod 700 "$T/$1/state/ledger"
}
# lease HOST NAME [ARGV_JSON] [EXTRA]: $T/HOST/NAME.lease on workspace
# $T/srv/HOST-NAME (base.txt, big.bin of 256 KiB); by default it writes a
# file and appends to base.txt, then exits 0 (commit).
lease() {
	local h=$1 n=$2 ws=$T/srv/$1-$2
	local argv=${3:-"[\"$HB/wsops\", \"write:out.txt:x\", \"append:base.txt:y\"]"} extra=${4:-}
	mkdir -p "$ws" && printf 'base\n' >"$ws/base.txt" && head -c 262144 /dev/urandom >"$ws/big.bin" &&
		chown -R "$FL_UID:$FL_UID" "$ws" || fail "workspace $ws" || return 1
	printf '{"run_id":"fl-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}%s}\n' \
		"$n" "$HOST_ID" "$argv" "$ws" "$HB" "${extra:+,$extra}" >"$T/$h/$n.body" &&
		mk_lease "$h" "$T/$h/$n.lease" "$T/$h/$n.body" || return 1
	manifest "$ws" >"$T/$h/$n.before"
}
manifest() { (cd "$1" && find . -mindepth 1 -printf '%y %m %U:%G %s %p -> %l\n' | sort && find . -type f -exec sha256sum {} + | sort -k 2); }
run() { # HOST NAME [EXEC]: run the lease, $OUT/$ERR/$RC
	local h=$1 n=$2
	xrun "${3:-$EXEC}" --config "$T/$h/etc/calyx.conf" --lease "$T/$h/$n.lease"
}
frun() { # ENV HOST NAME: run it with the fault build and one fault
	local f=$1
	shift
	xrun env "$f" "$FX" --config "$T/$1/etc/calyx.conf" --lease "$T/$1/$2.lease"
}

# Before a fault: what must survive it. After: nothing of it is lost.
snapshot() { # HOST
	local e=$T/$1
	cp "$e/log/audit.jsonl" "$e/log.before" 2>/dev/null || : >"$e/log.before"
	(cd "$e/state/ledger" && find . -maxdepth 1 -type f -name '[0-9a-f]*' -exec sha256sum {} + | sort) >"$e/ledger.before"
}
intact() { # HOST: earlier log bytes and ledger entries unchanged, log verifies
	local e=$T/$1 n
	n=$(stat -c %s "$e/log.before")
	cmp -s -n "$n" "$e/log.before" "$e/log/audit.jsonl" || fail "the audit log's earlier bytes changed" || return 1
	[ ! -s "$e/log/audit.jsonl" ] || [ -z "$(tail -c 1 "$e/log/audit.jsonl")" ] ||
		fail "the audit log ends with a torn line" || return 1
	"$AUDIT" verify --host-pub "$e/etc/host.pub.json" "$e/log/audit.jsonl" >/dev/null 2>"$e/verify.err" ||
		fail "the audit log does not verify: $(head -n 1 "$e/verify.err")" || return 1
	[ ! -s "$e/ledger.before" ] || (cd "$e/state/ledger" && sha256sum --quiet -c "$e/ledger.before" >/dev/null 2>&1) ||
		fail "an earlier ledger entry changed or went missing"
}
# one_line CODE: exactly one stderr line "calyx-exec: error [CODE]: …"
# that ends with what to do, in parentheses; exit 125.
one_line() {
	expect_rc 125 || return 1
	[ "$(nlines "$ERR")" -eq 1 ] || fail "stderr has $(nlines "$ERR") lines: $(tr '\n' '|' <"$ERR" | cut -c 1-300)" || return 1
	grep -qE "^calyx-exec: error \[$1\]: .*\([^()]+\)$" "$ERR" ||
		fail "not one '[$1]' line ending in what to do: $(first_err)" || return 1
	printf '      %s\n' "$(head -n 1 "$ERR" | sed "s|$T/||g")"
}
consumed() { [ -e "$T/$1/state/ledger/$(lease_id "$T/$1/$2.lease")" ] || fail "lease $2 is not consumed"; }
not_consumed() { [ ! -e "$T/$1/state/ledger/$(lease_id "$T/$1/$2.lease")" ] || fail "lease $2 was consumed"; }
untouched() { # HOST NAME: the workspace is exactly as before the run
	[ "$(manifest "$T/srv/$1-$2")" = "$(cat "$T/$1/$2.before")" ] || fail "the workspace of $2 changed (partial or landed)"
}
committed() { # HOST NAME: the default run's writes landed, whole
	[ "$(cat "$T/srv/$1-$2/out.txt" 2>/dev/null)" = x ] &&
		[ "$(cat "$T/srv/$1-$2/base.txt")" = "$(printf 'base\ny')" ] || fail "the run of $2 did not commit"
}
nothing_left() { # HOST
	local s=$T/$1/state left
	left=$(find "$s/runs" "$s/run" -mindepth 1 -maxdepth 1 2>/dev/null | grep -v '\.lock$' | tr '\n' ' ')
	[ -z "$left" ] || fail "left in the state dir: $left" || return 1
	# a killed sandbox's last processes may still be going (a loaded
	# VM): look again for up to 10 s; a leak stays
	local i
	for i in $(seq 1 100); do
		[ -n "$(pgrep -u "$FL_UID")" ] || return 0
		sleep 0.1
	done
	fail "processes of the run uid left: $(pgrep -u "$FL_UID" | tr '\n' ' ')"
}
events() { # HOST NAME: the lease's event types
	grep -F "\"lease_id\":\"$(lease_id "$T/$1/$2.lease")\"" "$T/$1/log/audit.jsonl" | audit_types /dev/stdin
}
# tried again: runs (it was not consumed), or is refused as used
runs_again() { # HOST NAME
	run "$1" "$2"
	expect_rc 0 || return 1
	committed "$1" "$2"
}
refused_again() {
	run "$1" "$2"
	expect_rc 77 || return 1
	[ "$(nlines "$ERR")" -eq 1 ] && grep -q '^calyx-exec: lease refused \[E_REPLAY\]: ' "$ERR" ||
		fail "not one E_REPLAY refusal: $(first_err)" || return 1
	untouched "$1" "$2"
}

# --------------------------------------------------------------------------
# ENOSPC
# --------------------------------------------------------------------------
t_audit_enospc() {
	# the log's directory on a 64 KiB tmpfs, filled; the next event is a
	# lease.verified of ~9 KiB (the lease's env is recorded whole), which
	# cannot fit in what is left of the log's last page
	host fa || return 1
	tmpfs_on "$T/fa/log" size=64k,mode=0755 || return 1
	lease fa ok && run fa ok && expect_rc 0 || return 1
	local big
	big=$(head -c 4000 /dev/zero | tr '\0' 'L')
	lease fa big "" "\"env\":{\"LANG\":\"$big\",\"TZ\":\"$big\"}" || return 1
	fill "$T/fa/log" || return 1
	snapshot fa
	run fa big
	one_line E_AUDIT || return 1
	# one write(2) per line: ENOSPC shows as a short write (cut back)
	grep -qE 'No space left on device|file system is probably full' "$ERR" ||
		fail "does not say the disk is full: $(first_err)" || return 1
	not_consumed fa big && untouched fa big && intact fa && nothing_left fa || return 1
	# space again: the same lease runs (it was never consumed)
	rm -f "$T/fa/log/.fill"
	runs_again fa big
}
run_test enospc.audit_log_full_fails_closed_not_consumed t_audit_enospc

t_ledger_enospc_write() {
	# the ledger on a one-page tmpfs: entry 'a' takes the page; entry 'b'
	# is created but its content cannot be written: used, never run
	host fl1 || return 1
	tmpfs_on "$T/fl1/state/ledger" size=4k,mode=0700 || return 1
	lease fl1 a && run fl1 a && expect_rc 0 || return 1
	lease fl1 b || return 1
	snapshot fl1
	run fl1 b
	one_line E_LEDGER || return 1
	consumed fl1 b && untouched fl1 b && intact fl1 && nothing_left fl1 || return 1
	[ "$(events fl1 b)" = "lease.verified run.failed" ] || fail "events of b: $(events fl1 b)" || return 1
	refused_again fl1 b
}
run_test enospc.ledger_full_entry_burns_lease_no_run t_ledger_enospc_write

t_ledger_enospc_create() {
	# the ledger on a tmpfs with room for one entry (inode) only: 'b'
	# cannot even be created, so it is not consumed
	host fl2 || return 1
	tmpfs_on "$T/fl2/state/ledger" size=64k,nr_inodes=2,mode=0700 || return 1
	lease fl2 a && run fl2 a && expect_rc 0 || return 1
	lease fl2 b || return 1
	snapshot fl2
	run fl2 b
	one_line E_LEDGER || return 1
	not_consumed fl2 b && untouched fl2 b && intact fl2 && nothing_left fl2 || return 1
	mount -o remount,nr_inodes=16 "$T/fl2/state/ledger" || fail "remount" || return 1
	runs_again fl2 b
}
run_test enospc.ledger_no_inode_not_consumed t_ledger_enospc_create

t_state_enospc_rundir() {
	# the state dir's runs/ cannot take a new directory: after the claim,
	# so the lease is used; nothing ran, nothing left
	host fs1 || return 1
	tmpfs_on "$T/fs1/state/runs" size=64k,nr_inodes=1,mode=0700 || return 1
	lease fs1 a || return 1
	snapshot fs1
	run fs1 a
	one_line E_WORKSPACE || return 1
	consumed fs1 a && untouched fs1 a && intact fs1 && nothing_left fs1 || return 1
	case " $(events fs1 a) " in *" exec.started "*) fail "it ran: $(events fs1 a)"; return 1 ;; esac
}
run_test enospc.state_dir_run_dir_fails_closed t_state_enospc_rundir

t_state_enospc_upper() {
	# STATE/runs is full. The run's own writes do not go there any more
	# (they land on the run's scratch tmpfs, the workspace quota: see
	# workspace.sh's disk_quota_* for a full scratch), so the command
	# succeeds; its commit cannot write its journal in the run dir and is
	# refused: one line, exit 125, nothing lands, the rollback recorded
	host fs2 || return 1
	tmpfs_on "$T/fs2/state/runs" size=4k,mode=0700 || return 1
	fill "$T/fs2/state/runs" || return 1
	lease fs2 a || return 1
	snapshot fs2
	run fs2 a
	one_line E_IO || return 1
	grep -q 'journal.*No space left on device' "$ERR" || fail "does not say the journal did not fit: $(first_err)" || return 1
	consumed fs2 a && untouched fs2 a && intact fs2 || return 1
	rm -f "$T/fs2/state/runs/.fill"
	nothing_left fs2 || return 1
	grep -q '"type":"workspace.rolled_back".*"reason":"commit failed (E_IO)"' "$T/fs2/log/audit.jsonl" ||
		fail "no rollback recorded"
}
run_test enospc.state_dir_full_commit_refused_nothing_lands t_state_enospc_upper

t_packs_enospc() {
	# the rollback pack cannot hold the pre-image of the changed 256 KiB
	# file: the commit is refused or undoes itself, the tree is untouched
	host fp || return 1
	tmpfs_on "$T/fp/state/packs" size=64k,mode=0700 || return 1
	lease fp a "[\"$HB/wsops\", \"write:out.txt:x\", \"append:big.bin:y\"]" || return 1
	snapshot fp
	run fp a
	one_line E_WORKSPACE || return 1
	consumed fp a && untouched fp a && intact fp && nothing_left fp || return 1
	[ -z "$(find "$T/fp/state/packs" -mindepth 1 -maxdepth 1 ! -name .fill)" ] || fail "a pack was left" || return 1
	grep -q '"type":"workspace.rolled_back".*"reason":"commit failed (E_WORKSPACE)"' "$T/fp/log/audit.jsonl" ||
		fail "no 'commit failed' rollback recorded"
}
run_test enospc.rollback_pack_full_commit_refused_tree_untouched t_packs_enospc

# --------------------------------------------------------------------------
# EIO (fault-injection build)
# --------------------------------------------------------------------------
EIO_TESTS=(eio.audit_first_write_not_consumed eio.audit_short_write_cut_back
	eio.audit_mid_run_sandbox_killed_nothing_lands eio.audit_sync_before_commit_nothing_lands
	eio.audit_commit_unrecorded_names_rollback eio.ledger_create_not_consumed
	eio.ledger_write_burns_lease eio.ledger_sync_burns_lease_no_command eio.state_run_dir_fails_closed)
if [ ! -x "$FX" ]; then
	for t in "${EIO_TESTS[@]}"; do skip_test "$t" "no fault-injection build ($FX; make tests or make fault)"; done
	summary
	exit
fi
host fe || { echo "fixture: $WHY" >&2; exit 2; }
# a normal run first, so every fault lands on a log and ledger with history
lease fe warm && run fe warm && expect_rc 0 || { echo "fixture: warm-up run: $WHY $(first_err)" >&2; exit 2; }

t_eio_audit_first() {
	lease fe af || return 1
	snapshot fe
	frun CALYX_FAULT_IO=audit:write@lease.verified fe af
	one_line E_AUDIT || return 1
	grep -q 'Input/output error' "$ERR" || fail "does not say EIO: $(first_err)" || return 1
	not_consumed fe af && untouched fe af && intact fe && nothing_left fe || return 1
	cmp -s "$T/fe/log.before" "$T/fe/log/audit.jsonl" || fail "the log changed" || return 1
	runs_again fe af
}
t_eio_audit_short() {
	# half the line written, then EIO: the half line is cut again
	lease fe as || return 1
	snapshot fe
	frun CALYX_FAULT_IO=audit:short@lease.verified fe as
	one_line E_AUDIT || return 1
	not_consumed fe as && untouched fe as && intact fe || return 1
	cmp -s "$T/fe/log.before" "$T/fe/log/audit.jsonl" || fail "the log is not byte for byte what it was" || return 1
	runs_again fe as
}
t_eio_audit_mid_run() {
	# exec.started cannot be written: the sandbox is killed, nothing lands
	lease fe am "[\"$HB/wsops\", \"write:out.txt:x\", \"append:base.txt:y\", \"sleep:300\"]" || return 1
	snapshot fe
	frun CALYX_FAULT_IO=audit:write@exec.started fe am
	one_line E_AUDIT || return 1
	consumed fe am && untouched fe am && intact fe && nothing_left fe || return 1
	[ "$(events fe am)" = "lease.verified lease.consumed" ] || fail "events: $(events fe am)"
}
t_eio_audit_sync() {
	# The run's lines are synced as one group before its writes land
	# (calyx-exec defers each line's fdatasync to that point): that sync
	# fails, so nothing lands, the lease stays used, the lines stay in the
	# log (written; only their durability is in doubt).
	lease fe ay || return 1
	snapshot fe
	frun CALYX_FAULT_IO=audit:sync@exec.finished fe ay
	one_line E_AUDIT || return 1
	grep -q 'not durable\|cannot sync' "$ERR" || fail "does not say the sync failed: $(first_err)" || return 1
	consumed fe ay && untouched fe ay && intact fe && nothing_left fe || return 1
	[ "$(events fe ay)" = "lease.verified lease.consumed exec.started exec.spawned exec.finished" ] ||
		fail "events: $(events fe ay)" || return 1
	refused_again fe ay
}
t_eio_audit_commit() {
	# the workspace.committed append fails after the commit landed: one
	# line that names the undo; the undo restores the tree
	local id
	lease fe ac || return 1
	id=$(lease_id "$T/fe/ac.lease")
	snapshot fe
	frun CALYX_FAULT_IO=audit:write@workspace.committed fe ac
	one_line E_AUDIT || return 1
	grep -qF "calyx-ctl rollback $id" "$ERR" || fail "does not name the undo: $(first_err)" || return 1
	consumed fe ac && committed fe ac && intact fe && nothing_left fe || return 1
	check 0 "" "$CTL" --config "$T/fe/etc/calyx.conf" rollback "$id" || return 1
	untouched fe ac
}
t_eio_ledger() { # OP WANT(consumed|not_consumed) [EVENTS]
	# (the claim's fsync happens at the exec gate, after lease.consumed
	# is logged: the sync's failure keeps the gate shut, no command runs)
	local n=l$1 want=${3:-lease.verified run.failed}
	lease fe "$n" || return 1
	snapshot fe
	frun "CALYX_FAULT_IO=ledger:$1" fe "$n"
	one_line E_LEDGER || return 1
	grep -q 'Input/output error' "$ERR" || fail "does not say EIO: $(first_err)" || return 1
	"$2" fe "$n" && untouched fe "$n" && intact fe && nothing_left fe || return 1
	[ "$(events fe "$n")" = "$want" ] || fail "events: $(events fe "$n")" || return 1
	if [ "$2" = consumed ]; then refused_again fe "$n"; else runs_again fe "$n"; fi
}
t_eio_state() {
	lease fe sr || return 1
	snapshot fe
	frun CALYX_FAULT_IO=state:rundir fe sr
	one_line E_WORKSPACE || return 1
	consumed fe sr && untouched fe sr && intact fe && nothing_left fe || return 1
	[ ! -e "$T/fe/state/runs/$(lease_id "$T/fe/sr.lease").new" ] || fail "a .new run dir was left"
}
run_test eio.audit_first_write_not_consumed t_eio_audit_first
run_test eio.audit_short_write_cut_back t_eio_audit_short
run_test eio.audit_mid_run_sandbox_killed_nothing_lands t_eio_audit_mid_run
run_test eio.audit_sync_before_commit_nothing_lands t_eio_audit_sync
run_test eio.audit_commit_unrecorded_names_rollback t_eio_audit_commit
run_test eio.ledger_create_not_consumed t_eio_ledger create not_consumed
run_test eio.ledger_write_burns_lease t_eio_ledger write consumed
run_test eio.ledger_sync_burns_lease_no_command t_eio_ledger sync consumed "lease.verified lease.consumed workspace.rolled_back run.failed"
run_test eio.state_run_dir_fails_closed t_eio_state

summary
