#!/usr/bin/env python3
"""make check-deps: the modules' dependency direction, checked on the sources.

    executor/* -> {policy, sandbox, sandbox/workspace, monitor} -> common

Rules (DESIGN.md "Modules (folders)", STYLE.md habits 7 and 8):
  1. A file includes the public header (include/calyx/*.h) of its own
     module or of a module below it, never of one above or beside it.
     policy, sandbox, sandbox/workspace and monitor are beside each other:
     each uses only its own header(s) and common's. sandbox/workspace is a
     module of its own, beside sandbox: the workspace engine runs in the
     parent after the sandbox is gone and uses nothing of sandbox/ (no
     include, no symbol), and sandbox/ uses nothing of it. executor/ and
     its sub-folders (lease/, audit/, run/) are the concerns of one module,
     so they may use each other's public headers.
     A public header belongs to the module that defines its functions
     (PUBLIC below); a header that is not in the table is a failure.
  2. A private header (a .h next to the .c files) is included only from
     its own folder, or from the parent folder when both are parts of one
     module (executor/*.c may include run/*.h, audit/*.h), or, for
     executor/'s own (cli.h), from its sub-folders. Tests may include
     anything and are not checked.
  3. No two library .c files (what the Makefile puts in libcalyx.a) share
     a basename: an archive member is named by basename only, and `ar r`
     into an existing archive replaces the same-named member silently (the
     Makefile's fresh `rm -f && ar rcs` keeps both today; the next build
     rule, a tool, or `ar x` would not).
  4. Every public header compiles on its own, twice in a row (include
     guard), with the project's flags (cc -fsyntax-only -Werror).

Output: one line per violation (file:line: ...), exit 1; or one summary
line, exit 0. Environment: CC, PKG_CONFIG, BUILD (for -I$BUILD/gen) as in
the Makefile. python3 comes with python3-jsonschema (scripts/install-deps.sh).
"""
import concurrent.futures
import os
import re
import shlex
import subprocess
import sys

# Each public header and the module that implements it: the folder where
# its functions are defined (fault.h's only in the fault build).
PUBLIC = {
    "codec.h": "common",
    "etcd.h": "common",
    "esc.h": "common",
    "common.h": "common",
    "fault.h": "common",
    "fileio.h": "common",
    "jsonpos.h": "common",
    "jsonx.h": "common",
    "path.h": "common",
    "spec.h": "common",
    "timings.h": "common",
    "policy.h": "policy",
    "policydiff.h": "policy",
    "lint.h": "policy",
    "learn.h": "policy",
    "sandbox.h": "sandbox",
    "workspace.h": "sandbox/workspace",
    "monitor.h": "monitor",
    "config.h": "executor",
    "lease.h": "executor/lease",
    "keyring.h": "executor/lease",
    "ledger.h": "executor/lease",
    "rollout.h": "executor/lease",
    "rollout_store.h": "executor/lease",
    "rollout_fleet.h": "executor/lease",
    "audit.h": "executor/audit",
}

# Module folder -> (layer, unit). An include may point to the same unit or
# to a lower layer. A file belongs to the longest folder that contains it.
MODULES = {
    "common": (0, "common"),
    "policy": (1, "policy"),
    "sandbox": (1, "sandbox"),
    "sandbox/workspace": (1, "sandbox/workspace"),
    "monitor": (1, "monitor"),
    "executor": (2, "executor"),
    "executor/lease": (2, "executor"),
    "executor/audit": (2, "executor"),
    "executor/run": (2, "executor"),
}

# Headers generated into $(BUILD)/gen, private to one module folder.
GENERATED = {"monitor.skel.h": "monitor", "monitor_private.skel.h": "monitor",
             "learn.skel.h": "monitor", "monitor.id.h": "monitor"}

ROOTS = ["common", "executor", "policy", "sandbox", "monitor"]
PKGS = "libsodium jansson libseccomp libcap-ng libbpf"
WARN = ("-Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes "
        "-Wvla -Wimplicit-fallthrough -Werror")

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)
COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def module_of(path):
    """The module a source file or public header belongs to, or None."""
    d = os.path.dirname(path)
    if d == "include/calyx":
        return PUBLIC.get(os.path.basename(path))
    best = None
    for m in MODULES:
        if (d == m or d.startswith(m + "/")) and (best is None or len(m) > len(best)):
            best = m
    return best


def may_use(src_mod, dst_mod):
    if src_mod == dst_mod:
        return True
    (sl, su), (dl, du) = MODULES[src_mod], MODULES[dst_mod]
    return su == du or dl < sl


def sources():
    out = []
    for root in ROOTS + ["include/calyx"]:
        for dp, dns, fns in os.walk(root):
            dns.sort()
            out += [os.path.join(dp, f) for f in sorted(fns) if f.endswith((".c", ".h"))]
    return out


def includes(path):
    """(line, kind, name) of each #include, comments blanked (lines kept)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), f.read())
    for m in INCLUDE_RE.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)


def check_includes(path, bad):
    mod = module_of(path)
    if mod is None:
        return  # a public header not in the table: reported by check_table
    d = os.path.dirname(path)
    for line, kind, name in includes(path):
        where = f"{path}:{line}: includes {name}"
        if kind == "<":
            if not name.startswith("calyx/"):
                continue  # system and library headers
            target = os.path.join("include", name)
        else:
            local = os.path.normpath(os.path.join(d, name))
            if os.path.isfile(local):
                target = local
            elif os.path.isfile(os.path.join("include", name)):
                target = os.path.normpath(os.path.join("include", name))
            elif name in GENERATED:
                if GENERATED[name] != d:
                    bad.append(f"{where}, a generated header private to {GENERATED[name]}/")
                continue
            else:
                bad.append(f"{where}, which is neither next to it, nor public, "
                           f"nor a known generated header")
                continue
        if os.path.dirname(target) == "include/calyx":
            owner = PUBLIC.get(os.path.basename(target))
            if owner is None:
                continue  # reported by check_table
            if not may_use(mod, owner):
                up = MODULES[owner][0] > MODULES[mod][0]
                bad.append(f"{where}, against the direction: {mod}/ may not use "
                           f"{owner}/ ({'above' if up else 'beside'} it)")
            continue
        hdir = os.path.dirname(target)
        towner = module_of(target)
        if towner is None:
            bad.append(f"{where}, which is outside the module folders")
            continue
        same = MODULES[towner][1] == MODULES[mod][1]
        # a parent folder may use its sub-folders' private headers, and an
        # executor sub-folder executor/'s own (cli.h: the one printer)
        parent_ok = same and (os.path.dirname(hdir) == d or
                              (hdir == "executor" and os.path.dirname(d) == "executor"))
        if hdir != d and not parent_ok:
            bad.append(f"{where}, against the direction: a private header of "
                       f"{hdir}/ (include only from {hdir}/"
                       f"{' or its parent' if MODULES[towner][1] == 'executor' and hdir != 'executor' else ''}"
                       f", or go through a public header)")


def check_table(bad):
    present = {f for f in os.listdir("include/calyx") if f.endswith(".h")}
    for h in sorted(present - PUBLIC.keys()):
        bad.append(f"include/calyx/{h}: public header not in scripts/check-deps.py's "
                   f"PUBLIC table (add it with the module that defines its functions)")
    for h in sorted(PUBLIC.keys() - present):
        bad.append(f"scripts/check-deps.py: PUBLIC names include/calyx/{h}, which does not exist")
    for h, m in sorted(PUBLIC.items()):
        if m not in MODULES:
            bad.append(f"scripts/check-deps.py: PUBLIC maps {h} to {m}, which is not in MODULES")


def check_basenames(bad):
    # What the Makefile's LIB_SRCS puts in libcalyx.a.
    seen = {}
    for p in sources():
        b = os.path.basename(p)
        if not p.endswith(".c") or p.endswith(".bpf.c") or p.startswith("include/"):
            continue
        if re.fullmatch(r"executor/main_[^/]*\.c", p):
            continue
        if b in seen:
            bad.append(f"{p}: same basename as {seen[b]}: both would be {b[:-2]}.o "
                       f"in libcalyx.a (rename one)")
        else:
            seen[b] = p


def check_compile(headers, bad):
    cc = shlex.split(os.environ.get("CC") or "cc")
    pkgconf = os.environ.get("PKG_CONFIG") or "pkg-config"
    build = os.environ.get("BUILD") or "build"
    r = subprocess.run([pkgconf, "--cflags"] + PKGS.split(), capture_output=True, text=True)
    if r.returncode != 0:
        bad.append(f"check-deps: {pkgconf} --cflags {PKGS} failed: {r.stderr.strip()}")
        return
    flags = (["-std=gnu11", "-D_GNU_SOURCE"] + WARN.split() +
             ["-Iinclude", f"-I{build}/gen"] + shlex.split(r.stdout) +
             ["-fsyntax-only", "-x", "c", "-"])

    def one(h):
        name = h[len("include/"):]
        tu = f'#include "{name}"\n#include "{name}"\n'
        p = subprocess.run(cc + flags, input=tu, capture_output=True, text=True)
        return h, p.returncode, p.stderr

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        for h, rc, err in ex.map(one, headers):
            if rc != 0:
                first = next((l for l in err.splitlines() if "error" in l), err.strip()[:200])
                bad.append(f"{h}: does not compile on its own: {first}")


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    bad = []
    check_table(bad)
    files = sources()
    for p in files:
        check_includes(p, bad)
    check_basenames(bad)
    headers = sorted(p for p in files if os.path.dirname(p) == "include/calyx")
    check_compile(headers, bad)
    for b in bad:
        print(b)
    if bad:
        print(f"check-deps: {len(bad)} violation(s)", file=sys.stderr)
        return 1
    print(f"check-deps: ok ({len(files)} files, {len(headers)} public headers compile alone, "
          f"direction executor -> policy/sandbox/sandbox-workspace/monitor -> common)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
