#!/usr/bin/env bash
# Keeps docs/audit-events.md honest.
#
#   bash tests/integration/audit_events.sh [BUILD_DIR]   (default: build; root)
#
# 1. Static: every event type the sources can emit (the type argument of
#    each audit_event(...), cx_run_event(...), ctx_event(...) and
#    cx_audit_append(...) call in executor/,
#    monitor/ and sandbox/, plus the "audit.*" types the log itself writes
#    in executor/audit/log.c) has a "## `type`" section in the doc, and every
#    documented type is emitted somewhere. A type built at run time (not a
#    string literal) fails: the doc could not be checked against it.
# 2. Dynamic: real runs (commit, refusals, a replay, a failure, a refused
#    commit, a CPU halt, operator pause/resume/halt, a signal halt, undo and
#    a refused undo, a crash recovered by the next start and by calyx-ctl
#    recover, pack and ledger pruning, a torn log repaired) on hosts of
#    their own. For every
#    line they write: the members in the documented order, the type
#    documented, every member of "details" documented under that type
#    (nested ones too where the doc lists them), every member the doc says
#    is always present present; each run's sequence of types matches the
#    doc's ```sequence NAME``` block; a dry run and a host whose audit log
#    cannot be opened write nothing (and calyx-ctl then changes nothing);
#    calyx-audit verify accepts each log.
#
# JSON is read with python3 (the checker is written to $T/audit_doc.py).
# AUDIT_EVENTS_KEEP=DIR keeps the logs (for the doc's examples).
set -u

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh" "${1:-build}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
DOC=$SRC/docs/audit-events.md
CTL=$B/calyx-ctl
command -v python3 >/dev/null || { echo "$LIB_PROG: python3 missing" >&2; exit 2; }
[ -x "$CTL" ] || { echo "$LIB_PROG: $CTL missing (run 'make')" >&2; exit 2; }
for _w in wsops spin; do
	[ -x "$B/workloads/$_w" ] || { echo "$LIB_PROG: $B/workloads/$_w missing (run 'make tests')" >&2; exit 2; }
done
unset _w

# --------------------------------------------------------------------------
# the checker
# --------------------------------------------------------------------------
PY=$T/audit_doc.py
cat >"$PY" <<'PYEOF'
"""Checks of docs/audit-events.md against the sources and real audit lines.

  audit_doc.py src-types ROOT             event types in the sources (or errors)
  audit_doc.py doc-types DOC              documented types
  audit_doc.py check-lines DOC LOG...     every line against the doc
  audit_doc.py sequence DOC NAME LOG FROM  types of LOG's lines after line
                                          FROM against ```sequence NAME```
  audit_doc.py types LOG [FROM]           the types, space separated
  audit_doc.py details LOG FROM TYPE      details of the first TYPE after FROM
"""
import glob, json, os, re, sys

TYPE_RE = r'[a-z][a-z_]*(?:\.[a-z][a-z_]*)+'


def call_args(text, start):
    """Top-level arguments of the call whose '(' is at text[start]."""
    depth, i, args, cur = 0, start, [], []
    while i < len(text):
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c in '([{':
            depth += 1
            if depth == 1 and c == '(':
                i += 1
                continue
        elif c in ')]}':
            depth -= 1
            if depth == 0:
                args.append(''.join(cur))
                return args
        elif c == ',' and depth == 1:
            args.append(''.join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    return args


def strip_comments(text):
    """C comments blanked (newlines kept, so line numbers stay right);
    string and character literals left alone."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def src_types(root):
    types, errors = {}, []
    files = sorted(sorted(glob.glob(os.path.join(root, d, '**', '*.c'), recursive=True))
                   for d in ('executor', 'monitor', 'sandbox'))
    for f in [x for fs in files for x in fs]:
        text = strip_comments(open(f, encoding='utf-8', errors='replace').read())
        rel = os.path.relpath(f, root)
        for m in re.finditer(r'\b(audit_event|cx_audit_append|cx_run_event|ctx_event)\s*\(', text):
            line = text.count('\n', 0, m.start()) + 1
            args = call_args(text, m.end() - 1)
            if len(args) < 2:
                continue
            a = args[1].strip()
            lits = re.findall(r'"(' + TYPE_RE + r')"', a)
            if lits:
                for t in lits:
                    types.setdefault(t, '%s:%d' % (rel, line))
            elif re.fullmatch(r'(const\s+char\s*\*\s*)?type', a):
                continue  # the wrapper's definition or its inner call
            else:
                errors.append('%s:%d: event type is not a string literal: %s' % (rel, line, a))
        if rel == os.path.join('executor', 'audit', 'log.c'):
            # the log's own events (e.g. audit.repaired) are written by
            # the append path itself, not through a call above
            for m in re.finditer(r'"(audit\.[a-z_]+)"', text):
                types.setdefault(m.group(1), '%s:%d' % (rel, text.count('\n', 0, m.start()) + 1))
    return types, errors


def parse_doc(path):
    """{type: {member_path: always(bool)}}, {sequence name: [tokens]}."""
    sections, seqs, cur, inseq = {}, {}, None, None
    for raw in open(path, encoding='utf-8'):
        line = raw.rstrip('\n')
        if inseq is not None:
            if line.startswith('```'):
                inseq = None
            elif line.strip():
                seqs[inseq].append(line.split()[0])
            continue
        m = re.match(r'^```sequence\s+(\S+)', line)
        if m:
            inseq = m.group(1)
            seqs[inseq] = []
            continue
        if line.startswith('## '):
            m = re.fullmatch(r'## `(' + TYPE_RE + r')`\s*', line)
            cur = m.group(1) if m else None
            if cur:
                sections[cur] = {}
            continue
        if cur:
            m = re.match(r'^\|\s*`([^`]+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|', line)
            if m:
                sections[cur][m.group(1)] = m.group(2).lower().startswith('yes')
    return sections, seqs


def check_members(t, prefix, obj, members, where, errs):
    for k, v in obj.items():
        p = prefix + k
        if p not in members:
            errs.append('%s: %s: member "%s" is not documented' % (where, t, p))
            continue
        for sub, sep in ((p + '.', dict), (p + '[].', list)):
            if not any(x.startswith(sub) for x in members):
                continue
            if sep is dict and isinstance(v, dict):
                check_members(t, sub, v, members, where, errs)
            if sep is list and isinstance(v, list):
                for el in v:
                    if isinstance(el, dict):
                        check_members(t, sub, el, members, where, errs)


def get_all(obj, path):
    """Values at a documented path (a.b, a[].b); [] if a parent is absent."""
    vals = [obj]
    for part in path.split('.'):
        nxt = []
        arr = part.endswith('[]')
        key = part[:-2] if arr else part
        for v in vals:
            if isinstance(v, dict) and key in v:
                if arr and isinstance(v[key], list):
                    nxt.extend(v[key])
                else:
                    nxt.append(v[key])
            else:
                nxt.append(KeyError)
        vals = nxt
    return vals


def check_lines(doc, logs):
    sections, _ = parse_doc(doc)
    errs, n = [], 0
    for log in logs:
        for i, raw in enumerate(open(log, encoding='utf-8'), 1):
            where = '%s:%d' % (os.path.basename(os.path.dirname(os.path.dirname(log))) + '/' +
                               os.path.basename(log), i)
            try:
                j = json.loads(raw)
            except ValueError as e:
                errs.append('%s: not JSON: %s' % (where, e))
                continue
            n += 1
            keys = list(j.keys())
            # a signed line (sig: a checkpoint) or an unsigned one (mac)
            last = 'sig' if 'sig' in j else 'mac'
            want = [k for k in ('seq', 'time', 'type', 'lease_id', 'run_id', 'details', 'prev', last)
                    if k in j or k not in ('lease_id', 'run_id')]
            if keys != want:
                errs.append('%s: members %s, expected %s' % (where, keys, want))
            t = j.get('type')
            if t not in sections:
                errs.append('%s: type "%s" has no section in the doc' % (where, t))
                continue
            members = sections[t]
            d = j.get('details')
            if not isinstance(d, dict):
                errs.append('%s: details is not an object' % where)
                continue
            check_members(t, '', d, members, where, errs)
            for p, always in members.items():
                if not always:
                    continue
                parent = p.rsplit('.', 1)[0] if '.' in p else None
                if parent and any(v is KeyError for v in get_all(d, parent)):
                    continue  # an optional parent is absent
                if any(v is KeyError for v in get_all(d, p)):
                    errs.append('%s: %s: member "%s" is documented as always present but is missing'
                                % (where, t, p))
    return n, errs


def types_of(log, start=0):
    out = []
    for i, raw in enumerate(open(log, encoding='utf-8'), 1):
        if i > start:
            out.append(json.loads(raw)['type'])
    return out


# Events that depend on the host, not on the run: a stale cgroup of any
# earlier crashed calyx-exec on this machine is reaped (and audited) by
# whichever start finds it first. And the log's own checkpoints, one per
# sync group (the doc's sequences leave them out; their members are checked
# like any event's, their place by run.sh and tests/unit/test_audit.c).
HOST_NOISE = {'monitor.stale_cgroup_removed', 'audit.checkpoint'}


def sequence(doc, name, log, start):
    _, seqs = parse_doc(doc)
    if name not in seqs:
        return 'no ```sequence %s``` block in the doc' % name
    pat = ''
    for tok in seqs[name]:
        q = tok[-1] if tok[-1] in '+?*' else ''
        t = tok[:-1] if q else tok
        pat += '(?:%s )%s' % (re.escape(t), q)
    got = [t for t in types_of(log, start) if t not in HOST_NOISE]
    s = ''.join(t + ' ' for t in got)
    if re.fullmatch(pat, s):
        return ''
    return 'types %s do not match the doc\'s "%s": %s' % (' '.join(got), name, ' '.join(seqs[name]))


def main(argv):
    cmd = argv[1]
    if cmd == 'src-types':
        types, errors = src_types(argv[2])
        for t in sorted(types):
            print(t, types[t])
        for e in errors:
            print('ERROR', e)
        return 1 if errors else 0
    if cmd == 'doc-types':
        for t in sorted(parse_doc(argv[2])[0]):
            print(t)
        return 0
    if cmd == 'check-lines':
        n, errs = check_lines(argv[2], argv[3:])
        for e in errs[:40]:
            print(e)
        if len(errs) > 40:
            print('... and %d more' % (len(errs) - 40))
        print('%d lines checked, %d problems' % (n, len(errs)))
        return 1 if errs or n == 0 else 0
    if cmd == 'sequence':
        r = sequence(argv[2], argv[3], argv[4], int(argv[5]))
        if r:
            print(r)
        return 1 if r else 0
    if cmd == 'types':
        print(' '.join(types_of(argv[2], int(argv[3]) if len(argv) > 3 else 0)))
        return 0
    if cmd == 'details':
        for t, raw in zip(types_of(argv[2], int(argv[3])),
                          open(argv[2], encoding='utf-8').readlines()[int(argv[3]):]):
            if t == argv[4]:
                print(json.dumps(json.loads(raw)['details'], sort_keys=True))
                return 0
        return 1
    print('unknown command', cmd, file=sys.stderr)
    return 2


sys.exit(main(sys.argv))
PYEOF
adoc() { python3 "$PY" "$@"; }

# --------------------------------------------------------------------------
# 1. static: the sources and the doc name the same event types
# --------------------------------------------------------------------------
t_doc_exists() {
	[ -f "$DOC" ] || fail "$DOC does not exist"
}
run_test static.doc_exists t_doc_exists

t_src_types_literal() {
	adoc src-types "$SRC" >"$T/src.types" 2>&1 ||
		fail "$(grep '^ERROR' "$T/src.types" | head -n 3 | tr '\n' '|')" || return 1
	[ "$(grep -c . "$T/src.types")" -ge 10 ] ||
		fail "only $(grep -c . "$T/src.types") event types found in the sources (the scan is broken?)"
}
run_test static.source_types_are_literals t_src_types_literal

t_src_types_documented() {
	local t where missing=""
	adoc doc-types "$DOC" >"$T/doc.types" 2>/dev/null || fail "cannot parse $DOC" || return 1
	while read -r t where; do
		[ "$t" = ERROR ] && continue
		grep -qxF "$t" "$T/doc.types" || missing="$missing $t ($where)"
	done <"$T/src.types"
	[ -z "$missing" ] || fail "emitted but not documented:$missing"
}
run_test static.every_emitted_type_documented t_src_types_documented

t_doc_types_emitted() {
	local t extra=""
	while read -r t; do
		grep -q "^$t " "$T/src.types" || extra="$extra $t"
	done <"$T/doc.types"
	[ -z "$extra" ] || fail "documented but emitted nowhere in the sources:$extra"
}
run_test static.every_documented_type_emitted t_doc_types_emitted

# --------------------------------------------------------------------------
# fixtures: workloads outside /tmp, hosts (ae; aep for pruning; aet, made
# by its check, for the torn log), a fresh workspace per lease
# --------------------------------------------------------------------------
HB=$(mktemp -d /var/tmp/calyx-ae.XXXXXX) || exit 2
# shellcheck disable=SC2016  # expanded when the script exits
lib_atexit 'rm -rf "$HB"'
chmod 755 "$HB"
install -m 0755 "$B/workloads/wsops" "$HB/wsops" || exit 2
install -m 0755 "$B/workloads/spin" "$HB/spin" || exit 2
AE_UID=$((40000 + $$ % 10000))
while getent passwd "$AE_UID" >/dev/null || getent group "$AE_UID" >/dev/null; do
	AE_UID=$((AE_UID + 1))
done
# $HB/missing is allowed by the policy but does not exist: E_NOT_FOUND.
policy_json "[\"$HB/wsops\", \"$HB/spin\", \"$HB/missing\"]" "[\"/usr\", \"$HB\"]" "[\"$T/srv\"]" \
	>"$T/ae.policy.json"
mk_host ae "$T/ae.policy.json" "" "\"run_uid\": $AE_UID, \"run_gid\": $AE_UID" ||
	{ echo "fixture: mk_host ae: $WHY" >&2; exit 2; }
# a second host whose packs are pruned at once (pack_max_bytes 1) and
# whose ledger holds an expired entry
mk_host aep "$T/ae.policy.json" "" "\"run_uid\": $AE_UID, \"run_gid\": $AE_UID, \"pack_max_bytes\": 1" ||
	{ echo "fixture: mk_host aep: $WHY" >&2; exit 2; }
AL=$T/ae/log/audit.jsonl
APL=$T/aep/log/audit.jsonl
BG_PIDS=()
# shellcheck disable=SC2016
lib_atexit 'for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do kill -KILL "$p" 2>/dev/null; done'

fresh_ws() { # DIR
	rm -rf "$1"
	mkdir -p "$1"
	printf 'alpha\n' >"$1/a.txt"
	chown -R "$AE_UID:$AE_UID" "$1"
}

# ae_lease HOST NAME ARGV_JSON [EXTRA_MEMBERS] [SIGNERS]: lease
# $T/HOST/NAME.lease (run id ae-NAME, workspace $T/srv/NAME, fresh).
ae_lease() {
	local host=$1 name=$2 argv=$3 extra=${4:-} signers=${5:-both}
	fresh_ws "$T/srv/$name" || return 1
	printf '{"run_id":"ae-%s","audience":"%s","argv":%s,"workspace":"%s","cwd":"/work","paths":{"ro":["/usr","%s"]}%s}\n' \
		"$name" "$HOST_ID" "$argv" "$T/srv/$name" "$HB" "${extra:+,$extra}" >"$T/$host/$name.body" || return 1
	mk_lease "$host" "$T/$host/$name.lease" "$T/$host/$name.body" "$signers"
}

# ae_run HOST NAME: run that lease (xrun); FROM = the log's lines before.
FROM=0
log_lines() { if [ -f "$1" ]; then awk 'END { print NR }' "$1"; else echo 0; fi; }
ae_run() {
	local host=$1 name=$2
	FROM=$(log_lines "$T/$host/log/audit.jsonl")
	xrun timeout -k 5 60 "$EXEC" --config "$T/$host/etc/calyx.conf" --lease "$T/$host/$name.lease" \
		--result "$T/$host/$name.result"
}

# bg_run HOST NAME: start the lease in the background (BG_PID) and wait
# (at most 30 s: an ASan start on a loaded VM) until its exec.started is
# in the log and, when BPF traces execs, its exec.spawned (so an operator
# event cannot come before it).
BG_PID=""
bg_run() {
	local host=$1 name=$2 id i lines want='"type":"exec.started"'
	id=$(lease_id "$T/$host/$name.lease")
	FROM=$(log_lines "$T/$host/log/audit.jsonl")
	"$EXEC" --config "$T/$host/etc/calyx.conf" --lease "$T/$host/$name.lease" \
		--result "$T/$host/$name.result" >"$T/$host/$name.out" 2>"$T/$host/$name.err" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	for i in $(seq 1 600); do
		lines=$(grep -F "\"lease_id\":\"$id\"" "$T/$host/log/audit.jsonl" 2>/dev/null)
		if printf '%s' "$lines" | grep -qF '"type":"exec.started"'; then
			printf '%s' "$lines" | grep -qF '"cpu_enforcer":"bpf"' && want='"type":"exec.spawned"'
			printf '%s' "$lines" | grep -qF "$want" && return 0
		fi
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "the run did not start: $(head -n 1 "$T/$host/$name.err")"
}
bg_wait() { { wait "$BG_PID"; } 2>/dev/null; RC=$?; } # (no "Killed" notice)

# expect_seq NAME [LOG]: the lines since FROM match ```sequence NAME```.
expect_seq() {
	local why
	why=$(adoc sequence "$DOC" "$1" "${2:-$AL}" "$FROM") || fail "$why"
}

ctl() { "$CTL" --config "$T/$1/etc/calyx.conf" "${@:2}"; }
VALIDATE="\"validate\":{\"argv\":$(wsops_argv exit:0)}"

# --------------------------------------------------------------------------
# 2. dynamic: runs, and the events they leave
# --------------------------------------------------------------------------
t_success() {
	ae_lease ae success "$(wsops_argv write:new.txt:hello append:a.txt:more)" "$VALIDATE" || return 1
	ae_run ae success
	expect_rc 0 || return 1
	[ -f "$T/srv/success/new.txt" ] || fail "the commit did not land" || return 1
	expect_seq success
}
run_test run.success_commit t_success

t_nothing_changed() {
	# a run that writes nothing lands nothing: committed with zero counts,
	# nothing_changed, no pack (so nothing for calyx-ctl rollback to undo)
	local id
	ae_lease ae unchanged "$(wsops_argv exit:0)" "$VALIDATE" || return 1
	id=$(lease_id "$T/ae/unchanged.lease")
	ae_run ae unchanged
	expect_rc 0 || return 1
	expect_seq success || return 1
	adoc details "$AL" "$FROM" workspace.committed | grep -q '"nothing_changed": true' ||
		fail "workspace.committed does not say nothing_changed: $(adoc details "$AL" "$FROM" workspace.committed)" || return 1
	adoc details "$AL" "$FROM" workspace.committed | grep -q manifest_sha256 &&
		fail "a manifest hash without a pack" && return 1
	[ ! -e "$T/ae/state/packs/$id" ] || fail "a pack was made for a run that changed nothing" || return 1
	# the refusal says why a committed run can have no pack
	check 1 "a run that changed nothing" ctl ae rollback "$id"
}
run_test run.nothing_changed_no_pack t_nothing_changed

# the last line of the log that is an event (not the checkpoint after it)
last_event() { grep -v '"type":"audit.checkpoint"' "$AL" | tail -n 1; }

t_refused() {
	ae_lease ae unsigned "$(wsops_argv exit:0)" "" human || return 1
	ae_run ae unsigned
	expect_rc 77 || return 1
	expect_seq refused || return 1
	last_event | grep -q '"type":"lease.rejected"' || fail "the last event is not lease.rejected" || return 1
	last_event | grep -q '"lease_id"' && fail "a refused lease's unverified id is in the envelope"
	return 0
}
run_test run.refused_one_signature t_refused

t_replay() {
	ae_run ae success
	expect_rc 77 || return 1
	expect_seq replay || return 1
	last_event | grep -qF '"reason":"E_REPLAY"' || fail "the rejection is not E_REPLAY: $(last_event | cut -c 1-200)"
}
run_test run.replay_refused t_replay

t_failed() {
	# written where the command exists (no host check); this host lacks it
	LEASE_NEW_FLAGS=--no-host-check ae_lease ae notfound "[\"$HB/missing\"]" || return 1
	ae_run ae notfound
	expect_rc 127 || return 1
	expect_seq failed
}
run_test run.command_not_found_failed t_failed

t_commit_failed() {
	# the workspace is replaced during the run: the commit is refused
	# before it touches anything, and the writes are discarded
	ae_lease ae swap "$(wsops_argv write:x:1 sleep:1500)" '"limits":{"wall_ms":30000}' || return 1
	bg_run ae swap || return 1
	mv "$T/srv/swap" "$T/srv/swap.old" && mkdir "$T/srv/swap" || fail "cannot swap the workspace" || return 1
	bg_wait
	expect_rc 125 || return 1
	[ ! -e "$T/srv/swap/x" ] && [ ! -e "$T/srv/swap.old/x" ] || fail "the refused commit wrote" || return 1
	expect_seq commit_failed
}
run_test run.commit_refused_rolled_back t_commit_failed

t_halted() {
	ae_lease ae cpu "$(wsops_argv write:x:1 spin)" '"limits":{"cpu_ms":300,"wall_ms":20000}' || return 1
	ae_run ae cpu
	expect_rc 124 || return 1
	[ ! -e "$T/srv/cpu/x" ] || fail "the halted run's write landed" || return 1
	expect_seq halted
}
run_test run.cpu_halted_rolled_back t_halted

t_execs_halted() {
	# the exec quota: 5 exec events (the command, then 4 of its 10
	# children), the 6th exec is killed before it runs and the run
	# halted and rolled back; exactly the 5 allowed execs are audited
	local n r=$T/ae/execs.result
	ae_lease ae execs "$(wsops_argv write:x:1 spawn:10 sleep:5000)" '"limits":{"execs":5,"wall_ms":20000}' || return 1
	ae_run ae execs
	expect_rc 124 || return 1
	[ "$(rget "$r" halt.reason)" = execs ] || fail "halt.reason is '$(rget "$r" halt.reason)', expected execs" || return 1
	[ "$(rget "$r" halt.limit)" = 5 ] && [ "$(rget "$r" halt.unit)" = execs ] ||
		fail "halt limit/unit: '$(rget "$r" halt.limit)' '$(rget "$r" halt.unit)'" || return 1
	grep -q '^calyx-exec: halted \[execs\]: ' "$ERR" || fail "stderr lacks 'halted [execs]': $(first_err)" || return 1
	[ ! -e "$T/srv/execs/x" ] || fail "the halted run's write landed" || return 1
	n=$(tail -n +"$((FROM + 1))" "$AL" | grep -cF '"type":"exec.spawned"')
	[ "$n" -eq 5 ] || fail "exec.spawned events: $n, expected exactly 5" || return 1
	n=$(tail -n +"$((FROM + 1))" "$AL" | grep -cF '"type":"exec.denied"')
	[ "$n" -eq 0 ] || fail "exec.denied events: $n, expected 0" || return 1
	expect_seq execs_halted
}
t_execs_failed_halted() {
	# failed execs count too: the command (1) and 2 failed execs are
	# audited, the 3rd failed exec is killed as it returns and the run
	# halted; exactly those 3 exec events are in the log
	local n r=$T/ae/execfail.result
	ae_lease ae execfail "$(wsops_argv write:x:1 execfail:5 sleep:5000)" '"limits":{"execs":3,"wall_ms":20000}' || return 1
	ae_run ae execfail
	expect_rc 124 || return 1
	[ "$(rget "$r" halt.reason)" = execs ] || fail "halt.reason is '$(rget "$r" halt.reason)', expected execs" || return 1
	[ ! -e "$T/srv/execfail/x" ] || fail "the halted run's write landed" || return 1
	n=$(tail -n +"$((FROM + 1))" "$AL" | grep -cF '"type":"exec.spawned"')
	[ "$n" -eq 1 ] || fail "exec.spawned events: $n, expected 1 (the command)" || return 1
	n=$(tail -n +"$((FROM + 1))" "$AL" | grep -F '"type":"exec.denied"' | grep -cF '"errno":"ENOENT"')
	[ "$n" -eq 2 ] || fail "exec.denied ENOENT events: $n, expected exactly 2" || return 1
}
if grep -qF '"cpu_enforcer": "bpf"' "$T/ae/cpu.result" 2>/dev/null; then
	run_test run.execs_quota_halted_rolled_back t_execs_halted
	run_test run.execs_quota_counts_failed_execs t_execs_failed_halted
else
	skip_test run.execs_quota_halted_rolled_back "no BPF monitor here (the exec quota needs it)"
	skip_test run.execs_quota_counts_failed_execs "no BPF monitor here (the exec quota needs it)"
fi

t_operator() {
	ae_lease ae op "$(wsops_argv write:x:1 sleep:20000)" '"limits":{"wall_ms":30000}' || return 1
	bg_run ae op || return 1
	check 0 "" ctl ae pause ae-op || return 1
	check 0 "" ctl ae resume ae-op || return 1
	check 0 "" ctl ae halt ae-op || return 1
	bg_wait
	expect_rc 124 || return 1
	expect_seq operator
}
run_test run.operator_pause_resume_halt t_operator

t_signal() {
	ae_lease ae sig "$(wsops_argv sleep:20000)" '"limits":{"wall_ms":30000}' || return 1
	bg_run ae sig || return 1
	kill -TERM "$BG_PID"
	bg_wait
	expect_rc 124 || return 1
	expect_seq signal
}
run_test run.sigterm_halted t_signal

t_undo() {
	FROM=$(log_lines "$AL")
	check 0 "" ctl ae rollback ae-success || return 1
	[ ! -e "$T/srv/success/new.txt" ] || fail "the undo did not remove new.txt" || return 1
	expect_seq undo
}
run_test ctl.rollback_undone t_undo

t_undo_refused() {
	ae_lease ae u2 "$(wsops_argv write:new.txt:hello)" || return 1
	ae_run ae u2
	expect_rc 0 || return 1
	printf 'changed later\n' >"$T/srv/u2/new.txt"
	FROM=$(log_lines "$AL")
	xrun ctl ae rollback ae-u2
	expect_rc 1 || return 1
	check 0 "" ctl ae rollback ae-u2 --force || return 1
	expect_seq undo_refused_then_forced
}
run_test ctl.rollback_refused_then_forced t_undo_refused

t_crash_next_start() {
	ae_lease ae crash "$(wsops_argv write:x:1 sleep:20000)" '"limits":{"wall_ms":30000}' || return 1
	bg_run ae crash || return 1
	kill -KILL "$BG_PID"
	bg_wait
	ae_lease ae after "$(wsops_argv write:after.txt:1)" || return 1
	ae_run ae after
	expect_rc 0 || return 1
	[ ! -e "$T/srv/crash/x" ] || fail "the crashed run's write landed" || return 1
	expect_seq recovery_at_start || return 1
	adoc details "$AL" "$FROM" workspace.recovered | grep -qF "\"lease_id\": \"$(lease_id "$T/ae/crash.lease")\"" ||
		fail "workspace.recovered does not name the crashed lease"
}
run_test crash.recovered_by_next_start t_crash_next_start

t_crash_ctl_recover() {
	ae_lease ae crash2 "$(wsops_argv write:x:1 sleep:20000)" '"limits":{"wall_ms":30000}' || return 1
	bg_run ae crash2 || return 1
	kill -KILL "$BG_PID"
	bg_wait
	FROM=$(log_lines "$AL")
	check 0 "" ctl ae recover || return 1
	expect_seq recovery_by_ctl
}
run_test crash.recovered_by_calyx_ctl t_crash_ctl_recover

t_prune() {
	local i
	# an expired ledger entry (its lease could no longer verify)
	mkdir -p "$T/aep/state/ledger" && chmod 700 "$T/aep/state/ledger"
	printf '{"lease_id":"%s","run_id":"old","consumed_at":1,"not_after":2,"prune_after":3,"pid":1}\n' \
		00000000000000000000000000000001 >"$T/aep/state/ledger/00000000000000000000000000000001"
	for i in 1 2; do
		ae_lease aep "p$i" "$(wsops_argv "write:p$i.txt:x")" || return 1
		ae_run aep "p$i"
		expect_rc 0 || return 1
		if [ "$i" = 1 ]; then
			expect_seq success_ledger_pruned "$APL" || return 1
		fi
	done
	expect_seq success_pack_pruned "$APL"
}
run_test housekeeping.ledger_and_pack_pruned t_prune

t_dry_run() {
	local before
	ae_lease ae dry "$(wsops_argv exit:0)" || return 1
	before=$(log_lines "$AL")
	check 0 "" cx ae --lease "$T/ae/dry.lease" --dry-run || return 1
	[ "$(log_lines "$AL")" = "$before" ] || fail "a dry run wrote to the audit log"
}
run_test run.dry_run_writes_nothing t_dry_run

t_no_audit() {
	# a host key that cannot be loaded: the log cannot be signed, so the
	# run fails (125) before anything, and nothing is written
	local before
	sed "s|\"host_key\": \"[^\"]*\"|\"host_key\": \"$T/ae/etc/no-such.key\"|" "$T/ae/etc/calyx.conf" >"$T/ae/etc/nokey.conf"
	chmod 644 "$T/ae/etc/nokey.conf"
	before=$(log_lines "$AL")
	check 125 "" "$EXEC" --config "$T/ae/etc/nokey.conf" --lease "$T/ae/dry.lease" || return 1
	[ "$(log_lines "$AL")" = "$before" ] || fail "a run without a host key wrote to the audit log" || return 1
	# calyx-ctl does not change state it could not audit
	check 125 "audit log cannot be written" "$CTL" --config "$T/ae/etc/nokey.conf" recover || return 1
	check 125 "audit log cannot be written" "$CTL" --config "$T/ae/etc/nokey.conf" rollback ae-after || return 1
	[ -d "$T/ae/state/packs/$(lease_id "$T/ae/after.lease")" ] &&
		[ ! -e "$T/ae/state/packs/$(lease_id "$T/ae/after.lease")/undone" ] ||
		fail "the unaudited rollback undid the commit anyway" || return 1
	[ "$(log_lines "$AL")" = "$before" ] || fail "calyx-ctl wrote to the audit log"
}
run_test run.no_audit_log_nothing_written t_no_audit

# (on a host of its own: a failure must not leave the other logs torn)
ATL=$T/aet/log/audit.jsonl
t_repaired() {
	local frag='{"seq":2,"time":"2026-01-01T00:00:00.000Z","type":"exec.sp' d sha saved n
	mk_host aet "$T/ae.policy.json" "" "\"run_uid\": $AE_UID, \"run_gid\": $AE_UID" || return 1
	ae_lease aet rep1 "$(wsops_argv exit:0)" || return 1
	ae_run aet rep1
	expect_rc 0 || return 1
	n=$(log_lines "$ATL")
	printf '%s' "$frag" >>"$ATL"
	sha=$(printf '%s' "$frag" | sha256sum | cut -c 1-64)
	ae_lease aet rep2 "$(wsops_argv exit:0)" || return 1
	ae_run aet rep2
	expect_rc 0 || return 1
	# the torn fragment left the log (FROM counted it as a line); the
	# first new line says so, before the run's own events
	FROM=$n
	expect_seq torn_log_repaired "$ATL" || return 1
	d=$(adoc details "$ATL" "$FROM" audit.repaired) || fail "no audit.repaired details" || return 1
	printf '%s' "$d" | grep -qF "\"after_seq\": $n," || fail "after_seq is not $n: $d" || return 1
	printf '%s' "$d" | grep -qF "\"torn_bytes\": ${#frag}," || fail "torn_bytes: $d" || return 1
	printf '%s' "$d" | grep -qF "\"torn_sha256\": \"$sha\"" || fail "torn_sha256: $d" || return 1
	saved=$(printf '%s' "$d" | sed -n 's/.*"saved_as": "\([^"]*\)".*/\1/p')
	[ -n "$saved" ] && [ -f "$T/aet/log/$saved" ] || fail "saved_as '$saved' is not a file next to the log" || return 1
	cmp -s <(printf '%s' "$frag") "$T/aet/log/$saved" || fail "$saved does not hold the torn fragment"
}
# The repair is being added (executor/audit/log.c): until it is there, a torn
# log blocks runs, and this check says so as a skip.
if grep -q '"audit.repaired"' "$SRC/executor/audit/log.c"; then
	run_test log.torn_line_repaired t_repaired
else
	skip_test log.torn_line_repaired "audit.repaired is not in executor/audit/log.c yet"
fi

# --------------------------------------------------------------------------
# 3. every line written above, against the doc
# --------------------------------------------------------------------------
t_all_lines() {
	local logs=("$AL" "$APL")
	[ -f "$ATL" ] && logs+=("$ATL")
	adoc check-lines "$DOC" "${logs[@]}" >"$T/lines.out" 2>&1 ||
		{ cat "$T/lines.out"; fail "$(tail -n 1 "$T/lines.out")"; return 1; }
	printf '      %s\n' "$(tail -n 1 "$T/lines.out")"
	local seen missing="" t
	seen=$(cat "${logs[@]}" | sed -n 's/^{"seq":[0-9]*,"time":"[^"]*","type":"\([^"]*\)".*/\1/p' | sort -u)
	while read -r t; do
		printf '%s\n' "$seen" | grep -qxF "$t" || missing="$missing $t"
	done <"$T/doc.types"
	[ -z "$missing" ] || printf '      documented types not produced by these runs:%s\n' "$missing"
}
run_test lines.members_documented_and_present t_all_lines

t_verify() {
	check 0 "" "$AUDIT" verify --host-pub "$T/ae/etc/host.pub.json" "$AL" || return 1
	check 0 "" "$AUDIT" verify --host-pub "$T/aep/etc/host.pub.json" "$APL" || return 1
	[ ! -f "$ATL" ] || check 0 "" "$AUDIT" verify --host-pub "$T/aet/etc/host.pub.json" "$ATL"
}
run_test lines.logs_verify t_verify

if [ -n "${AUDIT_EVENTS_KEEP:-}" ]; then
	mkdir -p "$AUDIT_EVENTS_KEEP" && cp "$AL" "$AUDIT_EVENTS_KEEP/ae.jsonl" && cp "$APL" "$AUDIT_EVENTS_KEEP/aep.jsonl"
	[ ! -f "$ATL" ] || cp "$ATL" "$AUDIT_EVENTS_KEEP/aet.jsonl"
fi

summary
