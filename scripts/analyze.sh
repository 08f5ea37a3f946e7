#!/usr/bin/env bash
# make analyze: cppcheck and clang-tidy over the project's C sources
# (common/ executor/ policy/ sandbox/ monitor/; not tests/, not the BPF
# program *.bpf.c), clean or fail.
#
#   scripts/analyze.sh [BUILD]        (after make, or it builds the skeleton)
#   ANALYZE_JOBS=N                    parallel jobs (default: 2)
#   ANALYZE_VERBOSE=1                 also list the findings not counted, and why
#
# The file list and every flag come from the Makefile: `make -n -B V=1 all`
# prints each compile command, and those become $BUILD/analyze/
# compile_commands.json (minus -O, _FORTIFY_SOURCE, -MMD/-MP, -Werror and
# -o: the analysers see the source as written, with the plain libc calls,
# and write nothing into the build). Both tools read that database.
#
#   cppcheck    --enable=warning,performance,portability. Not "style": on
#               this tree it gave 32 findings and no bug (variableScope,
#               TAKE_FD seen as an unread store, struct members used through
#               memcpy or the kernel, loop conditions inside
#               json_object_foreach); noise that would teach people to
#               ignore the gate. -D_Noreturn=... because cppcheck 2.10 does
#               not know the C11 keyword, and without it every CX_CHECK(p)
#               before a use of p is a "redundant null check".
#   clang-tidy  the checked-in .clang-tidy (its header says which checks and
#               why), warnings as errors, one process per file, N at a time.
#
# Every finding fails the gate, except:
#  - one that scripts/analyze.supp lists as a false positive, with the reason;
#  - a leak report (cppcheck resourceLeak/memleak, clang-analyzer unix.Malloc)
#    about memory or an fd owned by a _cleanup_ variable: neither cppcheck
#    2.10 nor clang 14 models the cleanup attribute (see cleanup_declared);
#  - one in generated code under $BUILD (the bpftool skeleton).
# ANALYZE_VERBOSE=1 lists those too. A header finding is counted once
# however many files include the header.
#
# Writes $BUILD/gates/analyze.json; the last line printed is its summary.
# Exit 0 when clean, 1 when not.
set -u
cd "$(dirname "$0")/.." || exit 2
B=${1:-build}
G=$B/gates
W=$B/analyze
JOBS=${ANALYZE_JOBS:-2}
mkdir -p "$G" "$W"

fail_early() { # MESSAGE: the gate cannot run; say so in the JSON too
	printf '{"gate":"analyze","ok":false,"cppcheck_findings":-1,"clang_tidy_findings":-1,"files":0,"summary":"analyze: %s"}\n' \
		"$1" >"$G/analyze.json"
	echo "analyze: $1"
	exit 1
}

for t in cppcheck clang-tidy python3; do
	command -v "$t" >/dev/null || fail_early "$t is not installed (run scripts/install-deps.sh)"
done

# monitor/bpf.c includes the generated BPF skeleton.
if [ ! -f "$B/gen/monitor.skel.h" ]; then
	make --no-print-directory BUILD="$B" "$B/gen/monitor.skel.h" ||
		fail_early "cannot generate $B/gen/monitor.skel.h"
fi

# ---- compile database ----------------------------------------------------------
make -n -B --no-print-directory BUILD="$B" V=1 all 2>/dev/null | python3 -c '
import json, os, shlex, sys
out = []
for line in sys.stdin:
    a = shlex.split(line)
    if "-c" not in a or "-o" not in a:
        continue
    src = a[a.index("-c") + 1]
    if not src.endswith(".c") or src.endswith(".bpf.c"):
        continue
    args = [x for x in a if x not in ("-MMD", "-MP", "-Werror")
            and not x.startswith("-D_FORTIFY_SOURCE") and not x.startswith("-O")]
    i = args.index("-o")
    del args[i:i + 2]
    out.append({"directory": os.getcwd(), "file": src, "arguments": args})
if not out:
    sys.exit("no compile commands in make -n output")
json.dump(out, sys.stdout, indent=1)
' >"$W/compile_commands.json" || fail_early "cannot build the compile database from make -n"
mapfile -t FILES < <(python3 -c 'import json,sys; [print(e["file"]) for e in json.load(open(sys.argv[1]))]' \
	"$W/compile_commands.json")

# ---- cppcheck ------------------------------------------------------------------
t0=$(date +%s)
cppcheck --project="$W/compile_commands.json" -j "$JOBS" -q \
	--enable=warning,performance,portability \
	--library=posix --library=gnu '-D_Noreturn=__attribute__((noreturn))' \
	--inline-suppr --error-exitcode=1 --xml --xml-version=2 2>"$W/cppcheck.xml"
rc=$?
# 0: no raw finding; 1 (--error-exitcode): raw findings, filtered below;
# anything else: cppcheck itself failed.
[ "$rc" -le 1 ] || fail_early "cppcheck failed (exit $rc, see $W/cppcheck.xml)"
t_cppcheck=$(( $(date +%s) - t0 ))

# ---- clang-tidy ----------------------------------------------------------------
t0=$(date +%s)
rm -rf "$W/tidy"
mkdir -p "$W/tidy"
printf '%s\n' "${FILES[@]}" | xargs -P "$JOBS" -I{} sh -c '
	o=$2/tidy/$(printf %s "$1" | tr / _)
	clang-tidy --quiet --config-file=.clang-tidy -p "$2" "$1" >"$o.out" 2>"$o.err"
	echo $? >"$o.rc"' sh {} "$W"
t_tidy=$(( $(date +%s) - t0 ))

# ---- findings, suppressions, figures -------------------------------------------
python3 - "$W" "$G/analyze.json" scripts/analyze.supp "$B" "$t_cppcheck" "$t_tidy" "${FILES[@]}" <<'EOF'
import glob, json, os, re, sys
import xml.etree.ElementTree as ET

w, out_json, supp_path, build, t_cpp, t_tidy = sys.argv[1:7]
files = sys.argv[7:]
root = os.getcwd()
build = os.path.normpath(build)

def rel(p):
    p = os.path.normpath(p)
    return os.path.relpath(p, root) if os.path.isabs(p) else p

_src = {}
def src_line(path, line):
    if path not in _src:
        try:
            _src[path] = open(path, errors="replace").read().split("\n")
        except OSError:
            _src[path] = []
    lines = _src[path]
    return lines[line - 1] if 0 < line <= len(lines) else ""

# Neither cppcheck 2.10 nor clang 14's analyzer models
# __attribute__((cleanup)) fully: cppcheck reports a _cleanup_close_ fd as
# leaked at every return, the analyzer reports _cleanup_free_ memory as
# leaked once the variable's last ordinary use is behind it. Such a leak
# finding is dropped when the memory or fd is owned by a variable declared
# with a _cleanup_ attribute in the same function: walk back from the line
# to the function's opening brace (column 0, kernel style) and look for a
# _cleanup_ declaration of that name (parenthesised and bracketed parts
# removed, the last identifier before '=' in each comma-separated
# declarator is the name it declares). Leaks of plain variables still count.
def cleanup_declared(path, line, var):
    for i in range(line, 0, -1):
        s = src_line(path, i)
        if s.startswith("{"):
            return False
        m = re.search(r"\b_cleanup_\w*", s)
        if not m:
            continue
        d = s[m.end():]
        while True:
            d2 = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", "", d)
            if d2 == d:
                break
            d = d2
        for part in d.split(";")[0].split(","):
            ids = re.findall(r"[A-Za-z_]\w*", part.split("=")[0])
            if ids and ids[-1] == var:
                return True
    return False

def assigned_var(line_text):
    """`x = malloc(...)`, `char *x = ...`: the variable given the value."""
    m = re.search(r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*=[^=]", line_text)
    return m.group(1) if m else None

findings = []   # (tool, check, file, line, message)
dropped_cleanup = dropped_generated = 0
verbose = os.environ.get("ANALYZE_VERBOSE") == "1"
def dropped(why, tool, check, f, ln, msg):
    if verbose:
        print("not counted (%s): %s:%d: %s [%s] %s" % (why, f, ln, tool, check, msg))

def generated(f):
    return f == build or f.startswith(build + "/")

# cppcheck: XML, one <error> per finding, first <location> is where it is.
try:
    tree = ET.parse(os.path.join(w, "cppcheck.xml"))
except (OSError, ET.ParseError) as e:
    sys.exit("analyze: cannot read cppcheck.xml: %s" % e)
for e in tree.iter("error"):
    locs = e.findall("location")
    if not locs:   # a note about the run itself, with no place in the code
        findings.append(("cppcheck", e.get("id"), "-", 0, e.get("msg")))
        continue
    f, ln = rel(locs[0].get("file")), int(locs[0].get("line"))
    if generated(f):
        dropped_generated += 1
        dropped("generated", "cppcheck", e.get("id"), f, ln, e.get("msg"))
        continue
    # the leaked variable: <symbol>, which cppcheck -j leaves out, or the
    # message ("Resource leak: fd", "Memory leak: buf")
    m = re.search(r"leak: (\w+)$", e.get("msg", ""))
    sym = e.findtext("symbol") or (m.group(1) if m else None)
    if e.get("id") in ("resourceLeak", "memleak") and sym and cleanup_declared(f, ln, sym):
        dropped_cleanup += 1
        dropped("_cleanup_", "cppcheck", e.get("id"), f, ln, e.get("msg"))
        continue
    findings.append(("cppcheck", e.get("id"), f, ln, e.get("msg")))

# clang-tidy: "file:line:col: error: message [check,-warnings-as-errors]",
# then the analyzer's path as "file:line:col: note: ..." lines.
diag = re.compile(r"^(.+?):(\d+):\d+: (warning|error|note): (.*?)(?: \[([\w.,-]+)\])?$")
def tidy_blocks(path):
    cur = None
    for l in open(path, errors="replace"):
        m = diag.match(l.rstrip("\n"))
        if not m:
            continue
        f, ln, kind, msg, checks = rel(m.group(1)), int(m.group(2)), m.group(3), m.group(4), m.group(5)
        if kind != "note" and checks:
            if cur:
                yield cur
            cur = {"file": f, "line": ln, "msg": msg, "check": checks.split(",")[0], "notes": []}
        elif kind == "note" and cur:
            cur["notes"].append((f, ln, msg))
    if cur:
        yield cur

def tidy_cleanup_leak(b):
    if b["check"] != "clang-analyzer-unix.Malloc":
        return False
    # 'buf', or a member of a struct held by value, 'kr.keys': its own
    # free (the struct's cleanup) frees its members; not 'p->x', which a
    # _cleanup_free_ p would leave behind
    m = re.match(r"Potential leak of memory pointed to by '(\w+)(?:\.\w+)*'", b["msg"])
    if not m:
        return False
    if cleanup_declared(b["file"], b["line"], m.group(1)):
        return True
    # memory allocated into a _cleanup_ variable, reported under the name of
    # a pointer into it (for (char *p = list; ...))
    for f, ln, msg in b["notes"]:
        if msg == "Memory is allocated":
            v = assigned_var(src_line(f, ln))
            return bool(v) and cleanup_declared(f, ln, v)
    return False

tidy_seen = set()
for rcf in sorted(glob.glob(os.path.join(w, "tidy", "*.rc"))):
    base = rcf[:-3]
    parsed = 0
    for b in tidy_blocks(base + ".out"):
        parsed += 1
        key = (b["file"], b["line"], b["check"], b["msg"])
        if key in tidy_seen:       # a header finding, seen from another file
            continue
        tidy_seen.add(key)
        if generated(b["file"]):
            dropped_generated += 1
            dropped("generated", "clang-tidy", b["check"], b["file"], b["line"], b["msg"])
        elif tidy_cleanup_leak(b):
            dropped_cleanup += 1
            dropped("_cleanup_", "clang-tidy", b["check"], b["file"], b["line"], b["msg"])
        else:
            findings.append(("clang-tidy", b["check"], b["file"], b["line"], b["msg"]))
    rc = open(rcf).read().strip()
    if rc != "0" and parsed == 0:  # failed, and not because of a finding
        err = open(base + ".err", errors="replace").read().strip().splitlines()
        findings.append(("clang-tidy", "clang-tidy-failed", os.path.basename(base), 0,
                         "exit %s: %s" % (rc, err[-1] if err else "no output")))

# scripts/analyze.supp
supp, bad_supp = [], []
for n, l in enumerate(open(supp_path), 1):
    s = l.strip()
    if not s or s.startswith("#"):
        continue
    parts = [p.strip() for p in s.split(" :: ")]
    head = parts[0].split()
    if len(parts) != 3 or len(head) != 3 or not parts[2] or head[0] not in ("cppcheck", "clang-tidy"):
        bad_supp.append("%s:%d: malformed entry (TOOL CHECK FILE :: TEXT :: WHY)" % (supp_path, n))
        continue
    supp.append({"where": "%s:%d" % (supp_path, n), "tool": head[0], "check": head[1],
                 "file": head[2], "text": parts[1], "used": 0})

def suppressed(fd):
    tool, check, f, ln, _ = fd
    for s in supp:
        if s["tool"] != tool or s["check"] != check:
            continue
        if s["file"] != "*" and s["file"] != f:
            continue
        if s["text"] != "*" and s["text"] not in src_line(f, ln):
            continue
        s["used"] += 1
        return True
    return False

kept = [fd for fd in findings if not suppressed(fd)]
stale = [s for s in supp if s["used"] == 0]
kept.sort(key=lambda x: (x[2], x[3], x[0], x[1]))
for tool, check, f, ln, msg in kept:
    print("%s:%d: %s [%s] %s" % (f, ln, tool, check, msg))
for s in stale:
    print("%s: stale suppression (matches nothing): %s %s %s :: %s" %
          (s["where"], s["tool"], s["check"], s["file"], s["text"]))
for b in bad_supp:
    print(b)

n_cpp = sum(1 for k in kept if k[0] == "cppcheck")
n_tidy = sum(1 for k in kept if k[0] == "clang-tidy")
n_supp = sum(s["used"] for s in supp)
ok = n_cpp == 0 and n_tidy == 0 and not stale and not bad_supp
summary = "cppcheck %d, clang-tidy %d findings in %d files" % (n_cpp, n_tidy, len(files))
if stale or bad_supp:
    summary += ", %d stale or malformed suppressions" % (len(stale) + len(bad_supp))
print("analyze: cppcheck %s s, clang-tidy %s s; not counted: %d known false positives "
      "(scripts/analyze.supp), %d leaks of _cleanup_ variables, %d in generated code"
      % (t_cpp, t_tidy, n_supp, dropped_cleanup, dropped_generated))
with open(out_json, "w") as o:
    json.dump({"gate": "analyze", "ok": ok, "cppcheck_findings": n_cpp, "clang_tidy_findings": n_tidy,
               "files": len(files), "suppressed": n_supp, "cleanup_leaks_dropped": dropped_cleanup,
               "generated_dropped": dropped_generated,
               "stale_suppressions": len(stale) + len(bad_supp),
               "seconds": {"cppcheck": int(t_cpp), "clang_tidy": int(t_tidy)},
               "summary": summary}, o)
    o.write("\n")
print(summary)
sys.exit(0 if ok else 1)
EOF
