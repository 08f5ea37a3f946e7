#!/usr/bin/env bash
# Audit forwarding (issue 17, item 5; docs/audit-events.md, "Forwarding"):
# every line calyx-exec and calyx-ctl write to the audit log also reaches
# the configured sinks, one entry per line with its seq, type, ids, host_id
# and line hash; a sink that is gone never fails a run, and is audited.
#
#   bash tests/integration/audit_forward.sh [BUILD_DIR]   (default: build; root)
#
# - syslog: a receiver (python3) bound to a datagram socket in $T gets one
#   RFC 5424 message per line of the log (a commit, a replay refused, a
#   calyx-ctl rollback): PRI, TIMESTAMP, APP-NAME, MSGID and the
#   [calyx@32473 …] parameters match the line, MSG is the line itself.
# - journald: a real systemd-journald, started privately (this suite runs
#   in a mount namespace of its own with a tmpfs on /run, so the host's
#   /run/systemd/journal is never touched), gets one entry per line with
#   the CALYX_* fields; skipped, saying why, where it cannot be started.
# - a receiver that is gone (syslog socket missing; journald not running):
#   the run succeeds, the log is complete and verifies, and
#   audit.forward_failed lines account for every line that did not reach
#   it (their seq ranges cover the run), with the first error.
# - journald configured while libsystemd.so.0 cannot be loaded (a bind
#   mount of /dev/null over it, in a mount namespace of the check's own):
#   refused, exit 125, one line, E_AUDIT, nothing written or consumed.
# - a bad audit_forward: refused, exit 125, E_CONFIG.
# The receivers run in network namespaces of their own whose
# net.unix.max_dgram_qlen is 512 (systemd's setting; the kernel's default
# of 10 would let a burst of lines overflow a receiver that python
# schedules late, which is a real host's tuning, not what is tested here).
# Waits are bounded loops for a receiver to come up or drain, never
# asserted durations.
set -u

# A mount namespace of our own (for the private journald and the hidden
# libsystemd), entered by running this script again inside it.
if [ -z "${CALYX_FWD_NS:-}" ]; then
	if [ "$(id -u)" -eq 0 ] && unshare -m --propagation private true 2>/dev/null; then
		CALYX_FWD_NS=1 exec unshare -m --propagation private bash "$0" "$@"
	fi
	CALYX_FWD_NS=none
fi

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

CTL=$B/calyx-ctl
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v python3 >/dev/null || { echo "$LIB_PROG: python3 missing" >&2; exit 2; }
[ -x "$CTL" ] || { echo "$LIB_PROG: $CTL missing (run 'make')" >&2; exit 2; }
[ -x "$B/workloads/wsops" ] || { echo "$LIB_PROG: $B/workloads/wsops missing (run 'make tests')" >&2; exit 2; }

# --------------------------------------------------------------------------
# the receiver and the checkers
# --------------------------------------------------------------------------
PY=$T/fwd.py
cat >"$PY" <<'PYEOF'
"""Receivers and checkers for tests/integration/audit_forward.sh.

  fwd.py rx SOCK OUT READY        bind a datagram socket at SOCK; every
                                  datagram, base64, one per line of OUT;
                                  READY created once bound; on SIGTERM,
                                  what is queued is read, then exit
  fwd.py syslog LOG RX FAC HOST   every line of LOG received once, exactly
                                  as RFC 5424 with the calyx SD; nothing else
  fwd.py journal LOG JSON FAC HOST  the same for journalctl -o json entries
  fwd.py failed LOG FROM SINK WHAT  lines after line FROM: audit.forward_failed
                                  reports cover every line of SINK that failed,
                                  their first error containing WHAT
  fwd.py partial LOG FROM SINK WHAT  the same when some lines got through
  fwd.py count LOG FROM           lines after line FROM
"""
import base64, hashlib, json, os, re, signal, socket, sys

WARN = {'rejected', 'failed', 'forward_failed', 'breach', 'denied', 'repaired',
        'undo_refused', 'ambiguous'}


def severity(t):
    return 4 if t.rsplit('.', 1)[-1] in WARN else 6


def log_lines(path, start=0):
    with open(path, 'rb') as f:
        raw = f.read().split(b'\n')
    assert raw[-1] == b'', 'the log does not end with a newline'
    out = []
    for b in raw[start:-1]:
        j = json.loads(b)
        out.append((b, j, hashlib.sha256(b).hexdigest()))
    return out


def rx(sock, out, ready):
    # SIGTERM only sets a flag: an exception raised from the handler could
    # land between recv() and write() and drop the message just received
    stopping = []
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock)
    s.settimeout(0.05)
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    open(ready, 'w').close()
    with open(out, 'ab') as o:
        while not stopping:
            try:
                m = s.recv(1 << 20)
            except socket.timeout:
                continue
            o.write(base64.b64encode(m) + b'\n')
            o.flush()
        # what is still queued, then exit
        s.setblocking(False)
        while True:
            try:
                m = s.recv(1 << 20)
            except BlockingIOError:
                return 0
            o.write(base64.b64encode(m) + b'\n')


SYSLOG_RE = re.compile(rb'^<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) \[calyx@32473((?: [a-z0-9_]+="(?:[^"\\\]]|\\.)*")*)\] (.*)$', re.S)
PARAM_RE = re.compile(rb' ([a-z0-9_]+)="((?:[^"\\\]]|\\.)*)"')


def check_syslog(log, rxfile, fac, host):
    errs = []
    lines = log_lines(log)
    msgs = [base64.b64decode(l) for l in open(rxfile, 'rb').read().split(b'\n') if l]
    got = {}
    for m in msgs:
        mm = SYSLOG_RE.match(m)
        if not mm:
            errs.append('not an RFC 5424 message with the calyx SD: %r' % m[:200])
            continue
        params = {k.decode(): re.sub(rb'\\(["\\\]])', rb'\1', v).decode() for k, v in PARAM_RE.findall(mm.group(7))}
        seq = int(params.get('seq', '0'))
        if seq in got:
            errs.append('seq %d received twice' % seq)
        got[seq] = (mm, params)
    for b, j, h in lines:
        seq = j['seq']
        if seq not in got:
            errs.append('seq %d (%s) not received' % (seq, j['type']))
            continue
        mm, p = got.pop(seq)
        want = {'seq': str(seq), 'type': j['type'], 'line_sha256': h, 'prev': j['prev'], 'host_id': host}
        for k in ('lease_id', 'run_id'):
            if k in j:
                want[k] = j[k]
        if p != want:
            errs.append('seq %d: SD %r, expected %r' % (seq, p, want))
        pri = int(mm.group(1))
        if pri != int(fac) * 8 + severity(j['type']):
            errs.append('seq %d: PRI %d, expected %d' % (seq, pri, int(fac) * 8 + severity(j['type'])))
        if mm.group(2).decode() != j['time']:
            errs.append('seq %d: TIMESTAMP %s, the line says %s' % (seq, mm.group(2), j['time']))
        if mm.group(4) != b'calyx-exec' or mm.group(6).decode() != j['type']:
            errs.append('seq %d: APP-NAME %s MSGID %s' % (seq, mm.group(4), mm.group(6)))
        if mm.group(8) != b:
            errs.append('seq %d: MSG is not the line' % seq)
    for seq in got:
        errs.append('received seq %d, which is not in the log' % seq)
    print('syslog: %d lines, %d messages' % (len(lines), len(msgs)))
    return errs


def check_journal(log, jfile, fac, host):
    errs = []
    lines = log_lines(log)
    ents = [json.loads(l) for l in open(jfile) if l.strip()]
    ents = [e for e in ents if e.get('SYSLOG_IDENTIFIER') == 'calyx-exec']
    got = {}
    for e in ents:
        seq = int(e.get('CALYX_SEQ', '0'))
        if seq in got:
            errs.append('seq %d in the journal twice' % seq)
        got[seq] = e
    for b, j, h in lines:
        seq = j['seq']
        e = got.pop(seq, None)
        if e is None:
            errs.append('seq %d (%s) not in the journal' % (seq, j['type']))
            continue
        want = {'CALYX_TYPE': j['type'], 'CALYX_LINE_SHA256': h, 'CALYX_PREV': j['prev'],
                'CALYX_HOST_ID': host, 'CALYX_TIME': j['time'], 'CALYX_EVENT': b.decode(),
                'PRIORITY': str(severity(j['type'])), 'SYSLOG_FACILITY': str(fac),
                '_TRANSPORT': 'journal', 'CALYX_LEASE_ID': j.get('lease_id'),
                'CALYX_RUN_ID': j.get('run_id')}
        for k, v in want.items():
            if e.get(k) != v:
                errs.append('seq %d: %s is %r, expected %r' % (seq, k, e.get(k), v))
        if not e.get('MESSAGE', '').startswith(j['type'] + ' (calyx audit seq %d' % seq):
            errs.append('seq %d: MESSAGE %r' % (seq, e.get('MESSAGE')))
    for seq in got:
        errs.append('journal has seq %d, which is not in the log' % seq)
    print('journal: %d lines, %d calyx entries' % (len(lines), len(ents)))
    return errs


def check_failed(log, start, sink, what):
    """Every line after `start` failed to reach `sink`: the reports'
    ranges follow each other from the first line on, each counting all
    of its range; only bookkeeping lines may follow the last report."""
    errs = []
    lines = log_lines(log, int(start))
    book = {'audit.forward_failed', 'audit.checkpoint'}
    nxt = lines[0][1]['seq']
    reports = 0
    last = None
    for b, j, h in lines:
        if j['type'] != 'audit.forward_failed':
            continue
        reports += 1
        d = j['details'].get(sink)
        if d is None:
            errs.append('seq %d: no %s member: %s' % (j['seq'], sink, j['details']))
            continue
        if d.get('first_seq') != nxt or d.get('last_seq') != j['seq'] - 1:
            errs.append('seq %d: reports seq %s..%s, expected %d..%d' % (j['seq'], d.get('first_seq'), d.get('last_seq'), nxt, j['seq'] - 1))
        if d.get('failed') != j['seq'] - nxt or d.get('forwarded') != 0:
            errs.append('seq %d: failed %s forwarded %s, expected %d and 0' % (j['seq'], d.get('failed'), d.get('forwarded'), j['seq'] - nxt))
        if what not in str(d.get('error')):
            errs.append('seq %d: error %r lacks %r' % (j['seq'], d.get('error'), what))
        print('  seq %d: %s' % (j['seq'], json.dumps(j['details'], sort_keys=True)))
        nxt = j['seq']
        last = j['seq']
    if not reports:
        errs.append('no audit.forward_failed after line %s' % start)
    for b, j, h in lines:
        if j['seq'] >= nxt and j['type'] not in book:
            errs.append('seq %d (%s) failed but no report covers it' % (j['seq'], j['type']))
    return errs


def check_partial(log, start, sink, what):
    """A receiver that stopped reading: the lines after `start` up to the
    last report are each counted once by a report, forwarded or failed,
    some of them failed, with the error saying why."""
    errs = []
    lines = log_lines(log, int(start))
    nxt, failed = lines[0][1]['seq'], 0
    for b, j, h in lines:
        if j['type'] != 'audit.forward_failed':
            continue
        d = j['details'].get(sink, {})
        if d.get('failed', 0) + d.get('forwarded', 0) != j['seq'] - nxt:
            errs.append('seq %d: failed %s + forwarded %s, expected %d lines' % (j['seq'], d.get('failed'), d.get('forwarded'), j['seq'] - nxt))
        if d.get('failed') and what not in str(d.get('error')):
            errs.append('seq %d: error %r lacks %r' % (j['seq'], d.get('error'), what))
        failed += d.get('failed', 0)
        print('  seq %d: %s' % (j['seq'], json.dumps(j['details'], sort_keys=True)))
        nxt = j['seq']
    if not failed:
        errs.append('no line failed to forward after line %s' % start)
    return errs


def main(a):
    if a[0] == 'rx':
        return rx(a[1], a[2], a[3])
    if a[0] == 'count':
        print(len(log_lines(a[1], int(a[2]))))
        return 0
    errs = {'syslog': lambda: check_syslog(*a[1:5]),
            'journal': lambda: check_journal(*a[1:5]),
            'failed': lambda: check_failed(*a[1:5]),
            'partial': lambda: check_partial(*a[1:5])}[a[0]]()
    for e in errs[:20]:
        print(e)
    return 1 if errs else 0


sys.exit(main(sys.argv[1:]))
PYEOF
fwd() { python3 "$PY" "$@"; }

# rx_start NAME: a syslog receiver at $T/NAME.sock (own netns, queue 512),
# writing to $T/NAME.rx; RX_PID.
RX_PID=""
RX_PIDS=()
# shellcheck disable=SC2016  # expanded when the script exits
lib_atexit 'for p in ${RX_PIDS[@]+"${RX_PIDS[@]}"}; do kill -KILL "$p" 2>/dev/null; done'
rx_start() {
	local i
	rm -f "$T/$1.sock" "$T/$1.rx" "$T/$1.ready"
	: >"$T/$1.rx"
	unshare -n sh -c 'echo 512 >/proc/sys/net/unix/max_dgram_qlen && exec python3 "$@"' sh \
		"$PY" rx "$T/$1.sock" "$T/$1.rx" "$T/$1.ready" 2>"$T/$1.rxerr" &
	RX_PID=$!
	RX_PIDS+=("$RX_PID")
	for i in $(seq 1 600); do
		[ -e "$T/$1.ready" ] && return 0
		kill -0 "$RX_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "the syslog receiver did not start: $(head -c 300 "$T/$1.rxerr")"
}
# rx_stop: it reads what is queued, then exits
rx_stop() { kill -TERM "$RX_PID" 2>/dev/null; wait "$RX_PID" 2>/dev/null; }

# --------------------------------------------------------------------------
# fixtures: the wsops workload outside /tmp, one host per sink
# --------------------------------------------------------------------------
HB=$(mktemp -d /var/tmp/calyx-fwd.XXXXXX) || exit 2
# shellcheck disable=SC2016
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2
FW_UID=$((40000 + $$ % 10000))
while getent passwd "$FW_UID" >/dev/null || getent group "$FW_UID" >/dev/null; do
	FW_UID=$((FW_UID + 1))
done
policy_json "[\"$HB/wsops\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" >"$T/fw.policy.json"
IDS="\"run_uid\": $FW_UID, \"run_gid\": $FW_UID"
LOCAL3=19
# fs: syslog (local3) to a receiver; fj: journald; fg: syslog to a socket
# that does not exist; fjg: journald, none running; fjs: journald, stopped
mk_host fs "$T/fw.policy.json" "" "$IDS, \"audit_forward\": {\"syslog\": \"$T/fs.sock\", \"syslog_facility\": \"local3\"}" &&
	mk_host fj "$T/fw.policy.json" "" "$IDS, \"audit_forward\": {\"journald\": true}" &&
	mk_host fg "$T/fw.policy.json" "" "$IDS, \"audit_forward\": {\"syslog\": \"$T/gone/syslog.sock\"}" &&
	mk_host fjg "$T/fw.policy.json" "" "$IDS, \"audit_forward\": {\"journald\": true}" &&
	mk_host fjs "$T/fw.policy.json" "" "$IDS, \"audit_forward\": {\"journald\": true}" ||
	{ echo "fixture: mk_host: $WHY" >&2; exit 2; }

fresh_ws() { # DIR
	rm -rf "$1"
	mkdir -p "$1"
	printf 'alpha\n' >"$1/a.txt"
	chown -R "$FW_UID:$FW_UID" "$1"
}
# fw_lease HOST NAME [SIGNERS]: lease $T/HOST/NAME.lease writing new.txt in
# a fresh workspace $T/srv/HOST-NAME (run id fw-NAME)
fw_lease() {
	local ws=$T/srv/$1-$2
	fresh_ws "$ws" || return 1
	printf '{"run_id":"fw-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}}\n' \
		"$2" "$HOST_ID" "$(wsops_argv write:new.txt:hello)" "$ws" "$HB" >"$T/$1/$2.body" || return 1
	mk_lease "$1" "$T/$1/$2.lease" "$T/$1/$2.body" "${3:-both}"
}
fw_run() { # HOST NAME
	xrun timeout -k 5 60 "$EXEC" --config "$T/$1/etc/calyx.conf" --lease "$T/$1/$2.lease"
}
log_of() { echo "$T/$1/log/audit.jsonl"; }
log_lines() { if [ -f "$1" ]; then awk 'END { print NR }' "$1"; else echo 0; fi; }
verify_log() { # HOST
	xrun "$AUDIT" verify --host-pub "$T/$1/etc/host.pub.json" "$(log_of "$1")"
	expect_rc 0 || fail "calyx-audit verify: $(first_err) $(head -c 200 "$OUT")"
}

# --------------------------------------------------------------------------
# syslog
# --------------------------------------------------------------------------
t_syslog() {
	local why
	rx_start fs || return 1
	fw_lease fs commit || return 1
	fw_run fs commit
	expect_rc 0 || return 1
	[ -f "$T/srv/fs-commit/new.txt" ] || fail "the commit did not land" || return 1
	fw_run fs commit # a replay: lease.verified, lease.rejected
	expect_rc 77 || return 1
	check 0 "" "$CTL" --config "$T/fs/etc/calyx.conf" rollback fw-commit || return 1
	rx_stop
	grep -qF '"type":"workspace.undone"' "$(log_of fs)" || fail "no workspace.undone in the log" || return 1
	grep -qF '"type":"audit.forward_failed"' "$(log_of fs)" &&
		fail "audit.forward_failed with the receiver up" && return 1
	why=$(fwd syslog "$(log_of fs)" "$T/fs.rx" "$LOCAL3" "$HOST_ID") || fail "$why" || return 1
	printf '      %s\n' "$why"
	verify_log fs
}
run_test syslog.every_line_once_with_seq_and_hash t_syslog

t_syslog_gone() {
	local why from
	from=$(log_lines "$(log_of fg)")
	fw_lease fg commit || return 1
	fw_run fg commit
	expect_rc 0 || return 1
	[ -f "$T/srv/fg-commit/new.txt" ] || fail "the commit did not land" || return 1
	verify_log fg || return 1
	why=$(fwd failed "$(log_of fg)" "$from" syslog "$T/gone/syslog.sock") || fail "$why" || return 1
	printf '%s\n' "$why"
	# the run's every event is in the log: the same types as a forwarding host's run
	why=$(fwd count "$(log_of fg)" "$from")
	[ "$why" -gt 5 ] || fail "only $why lines"
}
run_test syslog.gone_run_succeeds_failures_audited t_syslog_gone

t_config_refused() {
	mk_host fb "$T/fw.policy.json" "" "\"audit_forward\": {\"syslog\": \"dev/log\"}" || return 1
	fw_lease fb x || return 1
	check_one_line 125 E_CONFIG "$EXEC" --config "$T/fb/etc/calyx.conf" --lease "$T/fb/x.lease" || return 1
	grep -qF "audit_forward.syslog" "$ERR" || fail "does not name audit_forward.syslog: $(first_err)"
}
run_test config.bad_audit_forward_refused t_config_refused

# --------------------------------------------------------------------------
# journald
# --------------------------------------------------------------------------
# /run of our own: a tmpfs, in this suite's mount namespace only
RUN_OURS=0 RUN_WHY="no private mount namespace (unshare -m failed)"
if [ "$CALYX_FWD_NS" = 1 ]; then
	if mount -t tmpfs -o mode=755 calyx-fwd-run /run; then
		RUN_OURS=1
	else
		RUN_WHY="cannot mount a tmpfs on /run in the suite's mount namespace"
	fi
fi
JD_WHY=""
JD_PID=""
JD=""
for _d in /lib/systemd /usr/lib/systemd; do
	[ -x "$_d/systemd-journald" ] && JD=$_d/systemd-journald && break
done
unset _d
# jd_start [QLEN]: a private systemd-journald (volatile storage in a
# tmpfs on /run, its socket in a netns of its own with a queue of QLEN
# datagrams, default 512); JD_WHY says why not
jd_start() {
	local i qlen=${1:-512}
	[ "$RUN_OURS" = 1 ] || { JD_WHY=$RUN_WHY; return 1; }
	[ -n "$JD" ] || { JD_WHY="systemd-journald is not installed"; return 1; }
	command -v journalctl >/dev/null || { JD_WHY="journalctl is not installed"; return 1; }
	mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/log
	printf '[Journal]\nStorage=volatile\nReadKMsg=no\nAudit=no\nRateLimitBurst=0\n' \
		>/run/systemd/journald.conf.d/calyx-test.conf
	rm -f /run/systemd/journal/socket
	unshare -n sh -c 'echo "$1" >/proc/sys/net/unix/max_dgram_qlen && exec "$0"' "$JD" "$qlen" \
		>"$T/journald.log" 2>&1 &
	JD_PID=$!
	# shellcheck disable=SC2016
	lib_atexit '[ -z "$JD_PID" ] || kill -KILL "$JD_PID" 2>/dev/null'
	for i in $(seq 1 600); do
		[ -S /run/systemd/journal/socket ] && return 0
		kill -0 "$JD_PID" 2>/dev/null || break
		sleep 0.05
	done
	JD_WHY="systemd-journald did not start: $(tail -n 2 "$T/journald.log" | tr '\n' ' ')"
	return 1
}
jd_stop() { [ -z "$JD_PID" ] || { kill -CONT "$JD_PID"; kill -TERM "$JD_PID"; wait "$JD_PID" 2>/dev/null; JD_PID=""; }; }
# jd_entries OUT N: the calyx entries, once journald holds N of them
# (journald writes what it reads asynchronously: wait for it, bounded at
# 30 s for a loaded VM)
jd_entries() {
	local i n
	for i in $(seq 1 300); do
		journalctl -D /run/log/journal -a -o json --no-pager SYSLOG_IDENTIFIER=calyx-exec >"$1" 2>/dev/null
		n=$(awk 'END { print NR }' "$1")
		[ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 0
}

t_journald() {
	local why n
	fw_lease fj commit || return 1
	fw_run fj commit
	expect_rc 0 || return 1
	fw_run fj commit
	expect_rc 77 || return 1
	n=$(log_lines "$(log_of fj)")
	jd_entries "$T/fj.journal" "$n"
	grep -qF '"type":"audit.forward_failed"' "$(log_of fj)" &&
		fail "audit.forward_failed with journald up: $(grep -F forward_failed "$(log_of fj)" | head -n 1 | cut -c 1-300)" && return 1
	why=$(fwd journal "$(log_of fj)" "$T/fj.journal" 10 "$HOST_ID") || fail "$why" || return 1
	printf '      %s\n' "$why"
	verify_log fj
}

# journald stopped (SIGSTOP) with its queue full: libsystemd's own send
# would block for good; calyx-exec counts the lines instead and the run
# ends (a hang is cut by the timeout: exit 124, a failure)
t_journald_stopped() {
	local why from
	kill -STOP "$JD_PID" || fail "cannot stop journald" || return 1
	from=$(log_lines "$(log_of fjs)")
	fw_lease fjs commit || return 1
	fw_run fjs commit
	kill -CONT "$JD_PID"
	expect_rc 0 || return 1
	[ -f "$T/srv/fjs-commit/new.txt" ] || fail "the commit did not land" || return 1
	verify_log fjs || return 1
	why=$(fwd partial "$(log_of fjs)" "$from" journald "queue") || fail "$why" || return 1
	printf '%s\n' "$why"
}

t_journald_gone() {
	local why from
	from=$(log_lines "$(log_of fjg)")
	fw_lease fjg commit || return 1
	fw_run fjg commit
	expect_rc 0 || return 1
	[ -f "$T/srv/fjg-commit/new.txt" ] || fail "the commit did not land" || return 1
	verify_log fjg || return 1
	why=$(fwd failed "$(log_of fjg)" "$from" journald "journald is not reachable") || fail "$why" || return 1
	printf '%s\n' "$why"
}

if jd_start; then
	run_test journald.every_line_once_with_seq_and_hash t_journald
	jd_stop
	if jd_start 2; then
		run_test journald.stopped_never_blocks_failures_audited t_journald_stopped
		jd_stop
	else
		skip_test journald.stopped_never_blocks_failures_audited "$JD_WHY"
	fi
	rm -f /run/systemd/journal/socket
	run_test journald.gone_run_succeeds_failures_audited t_journald_gone
else
	skip_test journald.every_line_once_with_seq_and_hash "$JD_WHY"
	skip_test journald.stopped_never_blocks_failures_audited "$JD_WHY"
	if [ "$RUN_OURS" = 1 ]; then
		# /run is our empty tmpfs: no journald there
		run_test journald.gone_run_succeeds_failures_audited t_journald_gone
	else
		skip_test journald.gone_run_succeeds_failures_audited "$RUN_WHY (the host's journald may be listening)"
	fi
fi

# libsystemd.so.0 hidden (a bind mount of /dev/null over it, in a mount
# namespace of this check's own): journald forwarding fails closed.
t_no_libsystemd() {
	local lib before
	lib=$(ldconfig -p | awk '$1 == "libsystemd.so.0" { print $NF; exit }')
	[ -n "$lib" ] || fail "libsystemd.so.0 is not installed (the other checks need it too)" || return 1
	fw_lease fjg nolib || return 1
	before=$(log_lines "$(log_of fjg)")
	check_one_line 125 E_AUDIT unshare -m --propagation private sh -c \
		'mount --bind /dev/null "$0" && exec "$@"' "$lib" \
		"$EXEC" --config "$T/fjg/etc/calyx.conf" --lease "$T/fjg/nolib.lease" || return 1
	grep -qF "libsystemd.so.0 cannot be opened" "$ERR" || fail "does not name libsystemd: $(first_err)" || return 1
	[ "$(log_lines "$(log_of fjg)")" -eq "$before" ] || fail "lines were written" || return 1
	[ ! -e "$T/srv/fjg-nolib/new.txt" ] || fail "it ran" || return 1
	# nothing consumed: with libsystemd back, the lease runs
	fw_run fjg nolib
	expect_rc 0 || return 1
	[ -f "$T/srv/fjg-nolib/new.txt" ] || fail "the commit did not land"
}
if [ "$CALYX_FWD_NS" = 1 ]; then
	run_test journald.no_libsystemd_fails_closed t_no_libsystemd
else
	skip_test journald.no_libsystemd_fails_closed "no private mount namespace (unshare -m failed)"
fi

# docs/audit-events.md against every line these runs wrote, its
# audit.forward_failed table included (audit_events.sh's checker)
t_doc() {
	local out logs=() h
	sed -n "/^cat >\"\$PY\" <<'PYEOF'\$/,/^PYEOF\$/p" "$SRC/tests/integration/audit_events.sh" | sed '1d;$d' \
		>"$T/audit_doc.py"
	for h in fs fg fj fjs fjg; do
		[ -s "$(log_of "$h")" ] && logs+=("$(log_of "$h")")
	done
	grep -qF '"type":"audit.forward_failed"' "${logs[@]}" || fail "no audit.forward_failed line to check" || return 1
	out=$(python3 "$T/audit_doc.py" check-lines "$SRC/docs/audit-events.md" "${logs[@]}") || fail "$out" || return 1
	printf '      %s\n' "$(printf '%s\n' "$out" | tail -n 1)"
}
run_test doc.forward_failed_members_documented t_doc

# AUDIT_FORWARD_KEEP=DIR keeps the logs and what the receivers got
if [ -n "${AUDIT_FORWARD_KEEP:-}" ]; then
	mkdir -p "$AUDIT_FORWARD_KEEP"
	for h in fs fg fj fjs fjg; do
		[ -f "$(log_of "$h")" ] && cp "$(log_of "$h")" "$AUDIT_FORWARD_KEEP/$h.jsonl"
	done
	cp "$T"/*.rx "$T"/*.journal "$AUDIT_FORWARD_KEEP/" 2>/dev/null
fi

summary
