# calyx-exec — plain Makefile.
#
#   make            build every binary into build/
#   make check      build and run every test suite (unit, fuzz-corpus replay, integration)
#   make man        the man pages (man/*.scd, scdoc) into build/man/
#   make demo       install missing deps, build, and walk through the two-key lease flow
#   make demo-fleet a 3-tier rollout over 6 simulated hosts on a private 3-member etcd (root;
#                   loopback ports 23781-23783 and 23881-23883, DEMO_FLEET_PORT moves them)
#   make asan       ASan+UBSan build (build/asan/) running the same tests
#   make fuzz       clang libFuzzer harnesses (build/fuzz/), each run FUZZ_TIME seconds
#   make bench      every benchmark below, then docs/benchmarks.md and its chart (root;
#                   installs the peers it compares against: scripts/install-deps.sh --bench)
#   make bench-verify   lease verification throughput (one core)
#   make bench-startup  startup of /usr/bin/true vs bwrap, crun, firejail, unshare, fork+exec; RSS (root)
#   make bench-overhead  ns per syscall added by seccomp+Landlock; CPU-bound slowdown (root)
#   make bench-throughput  leases/s back to back and concurrent; cost of idle supervised runs (root)
#   make bench-monitor  quota enforcement precision and monitor overhead (root)
#   make bench-workspace  discard and commit speed of the transactional workspace (root)
#   make bench-audit    audit log append and verify throughput (lines/s)
#   make bench-ledger   pool lease claims on a 3-member etcd: latency, races with leader kills, quorum loss (root)
#   make bench-doc      docs/benchmarks.md from the results in build/bench/
#   make adversarial  the attack corpus (tests/adversarial/cases/), table + total (root)
#   make soak       SOAK_RUNS consecutive runs, SOAK_CONCURRENCY at a time; leak checks (root)
#   make crash      kill -9 at every phase (CRASH_ITERATIONS), ENOSPC/EIO faults (root)
#   make analyze    cppcheck and clang-tidy (.clang-tidy), clean or fail
#   make valgrind   memcheck on the CLIs' main paths (root)
#   make gates      every gate above, bounded, and one table of their figures (root)
#   make install    PREFIX=/usr/local DESTDIR= (see the install target)
#   make deb        the Debian package (debhelper) in build/
#   make clean
#
# V=1 shows commands; WERROR=0 relaxes -Werror; user CFLAGS/LDFLAGS come last.

.DELETE_ON_ERROR:
.SUFFIXES:

CC         ?= gcc
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
# systemd, tmpfiles and bash-completion read these from /usr (or /etc),
# not from PREFIX: a /usr/local install still puts its unit where systemd
# looks. The Debian package sets them to /usr/lib/... (debian/rules).
UNITDIR    ?= /etc/systemd/system
TMPFILESDIR ?= /etc/tmpfiles.d
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
SYSCONFDIR ?= /etc
# the adversarial corpus calyx-ctl selftest runs (its compiled-in default;
# CALYX_SELFTEST_DIR overrides it at run time)
SELFTESTDIR ?= $(DATADIR)/calyx/selftest
DESTDIR    ?=
BUILD      ?= build
WERROR     ?= 1
SAN        ?=
FUZZ_TIME  ?= 30

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS := libsodium jansson libseccomp libcap-ng libbpf
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

# A flag is used only if this compiler accepts it (newer hardening flags).
probe = $(shell $(CC) -Werror $(1) -x c -c /dev/null -o /dev/null >/dev/null 2>&1 && echo "$(1)")

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wimplicit-fallthrough
# No stack frame over 16 KiB in production code: large buffers live on the
# heap. Sanitizer builds pad frames with redzones, so the bound is kept by
# the normal build; tests (fixtures of paths) are exempt.
FRAME_WARN := $(if $(SAN),,-Wframe-larger-than=16384)
$(BUILD)/obj/tests/%.o: FRAME_WARN :=
ifeq ($(WERROR),1)
WARN += -Werror
endif

HARDEN_CFLAGS := -fstack-protector-strong -fPIE \
        $(call probe,-fstack-clash-protection) $(call probe,-fcf-protection)
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now,-z,noexecstack

ifeq ($(SAN),)
  FORTIFY := $(if $(call probe,-O2 -D_FORTIFY_SOURCE=3),-D_FORTIFY_SOURCE=3,-D_FORTIFY_SOURCE=2)
  SAN_FLAGS :=
  OPT := -O2
else ifeq ($(SAN),asan)
  FORTIFY :=
  SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  OPT := -O1
else ifeq ($(SAN),fuzz)
  FORTIFY :=
  SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  OPT := -O1
endif

# FAULT_DEFS: only for the test-only fault-injection build (make fault).
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(FAULT_DEFS) $(OPT) -g $(WARN) -U_FORTIFY_SOURCE $(FORTIFY) $(HARDEN_CFLAGS) \
        $(SAN_FLAGS) -Iinclude -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP $(CFLAGS)

# BPF programs: compiled with clang for the bpf target (CO-RE, no vmlinux.h
# needed), skeleton generated with bpftool and embedded in calyx-exec.
BPF_CLANG ?= clang
BPFTOOL ?= bpftool
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) \
        -I/usr/include/$(shell gcc -print-multiarch 2>/dev/null || $(CC) -dumpmachine) -Imonitor
ALL_LDFLAGS := $(HARDEN_LDFLAGS) $(SAN_FLAGS) $(LDFLAGS)

# ---- sources --------------------------------------------------------------
# Every .c below the module folders (sub-folders included: executor/lease/,
# executor/audit/, executor/run/, sandbox/workspace/), but the CLIs' mains
# and the BPF programs. A binary links only the objects it references, so
# calyx-exec carries no signing code (executor/lease/sign.c).
LIB_SRCS := $(sort $(shell find common executor policy sandbox monitor -name '*.c' \
              ! -name '*.bpf.c' ! -path 'executor/main_*.c'))
BINS     := calyx-exec calyx-lease calyx-policy calyx-audit calyx-ctl calyx-rollout calyx-agent
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))

LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB      := $(BUILD)/libcalyx.a
BIN_PATHS := $(addprefix $(BUILD)/,$(BINS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
REPLAY_BINS := $(patsubst %,$(BUILD)/tests/replay_%,$(FUZZ_NAMES))
BENCH_BINS := $(BUILD)/tests/bench_verify
# Adversarial probes run inside the sandbox: static, so they need no loader
# or libraries in the view. Test tools run on the host (may use libseccomp).
PROBE_SRCS := $(wildcard tests/adversarial/probes/*.c)
PROBE_BINS := $(patsubst tests/adversarial/probes/%.c,$(BUILD)/probes/%,$(PROBE_SRCS))
WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOAD_BINS := $(patsubst tests/workloads/%.c,$(BUILD)/workloads/%,$(WORKLOAD_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

all: $(BIN_PATHS)

# Man pages: man/NAME.SECTION.scd -> $(BUILD)/man/NAME.SECTION (scdoc). Not
# part of 'all' (scdoc is a build dependency of the pages only); 'check'
# and 'install' build them. Dated from SOURCE_DATE_EPOCH, else the last
# commit, so a rebuild gives the same bytes.
SCDOC    ?= scdoc
MAN_SRCS := $(wildcard man/*.scd)
MAN_PAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(MAN_SRCS))
MAN_DATE := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null))

man: $(MAN_PAGES)

$(BUILD)/man/%: man/%.scd
	@command -v $(SCDOC) >/dev/null 2>&1 || { echo "$(SCDOC) not found: the man pages need it (scripts/install-deps.sh, as root)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SCDOC   $@")
	$(Q)$(if $(MAN_DATE),SOURCE_DATE_EPOCH=$(MAN_DATE)) $(SCDOC) < $< > $@

$(BUILD)/obj/executor/ctl_selftest.o: ALL_CFLAGS += -DCALYX_SELFTEST_DIR_DEFAULT='"$(SELFTESTDIR)"'
# rebuilt when SELFTESTDIR changes (make install PREFIX=/usr after a
# build with the default PREFIX): the stamp is rewritten only then
$(BUILD)/obj/executor/ctl_selftest.o: $(BUILD)/gen/selftestdir.stamp
$(BUILD)/gen/selftestdir.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(SELFTESTDIR)' >$@.tmp; if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
FORCE:
.PHONY: FORCE

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(FRAME_WARN) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/%.bpf.o: monitor/%.bpf.c monitor/monitor_bpf.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

# The monitor for one run alone (no pinned monitor): the same source with
# one ring of its own instead of the shared rings' map of maps.
$(BUILD)/gen/monitor_private.bpf.o: monitor/monitor.bpf.c monitor/monitor_bpf.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BPF     $< (private)")
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -DCX_PRIVATE -c $< -o $@

$(BUILD)/gen/%.skel.h: $(BUILD)/gen/%.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# The monitor's identity (its pinned programs' directory name): the
# SHA-256 of the BPF object embedded in calyx-exec.
$(BUILD)/gen/monitor.id.h: $(BUILD)/gen/monitor.bpf.o
	$(Q)printf '#define CX_MONITOR_BPF_ID "%s"\n' $$(sha256sum $< | cut -c1-64) > $@

$(BUILD)/obj/monitor/bpf.o: $(BUILD)/gen/monitor_private.skel.h $(BUILD)/gen/learn.skel.h
$(BUILD)/obj/monitor/bpfshare.o: $(BUILD)/gen/monitor.skel.h $(BUILD)/gen/monitor.id.h

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/calyx-%: $(BUILD)/obj/executor/main_%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# calyx-exec starts once per run, so its libraries are linked in (glibc
# stays shared): the dynamic loader's work for six libraries with BIND_NOW
# was ~0.4 ms of every run's start (make bench-startup, calyx-version
# row). The price: a Debian update of libsodium, jansson, libseccomp,
# libcap-ng or libbpf reaches calyx-exec only when it is rebuilt (make).
# STATIC_LIBS=0 links them shared; sanitizer builds always do.
STATIC_LIBS ?= 1
EXEC_STATIC_LIBS := -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs --static $(PKGS) 2>/dev/null) -Wl,-Bdynamic
EXEC_LIBS := $(if $(and $(filter 1,$(STATIC_LIBS)),$(if $(SAN),,y)),$(EXEC_STATIC_LIBS),$(PKG_LIBS))

$(BUILD)/calyx-exec: $(BUILD)/obj/executor/main_exec.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(EXEC_LIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(BUILD)/obj/tests/unit/testutil.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Each fuzz harness doubles as a corpus-replay test (tests/fuzz/replay.c).
$(BUILD)/tests/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/bench_verify: $(BUILD)/obj/tests/bench/bench_verify.o $(BUILD)/obj/tests/unit/testutil.o $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/probes/%: tests/adversarial/probes/%.c tests/adversarial/probes/probe.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  PROBE   $@")
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -static -o $@ $<

# The one dynamic probe: the loader guard matters to a run whose command
# has an ELF loader (which Landlock must then let it execute).
$(BUILD)/probes/loader_exec: tests/adversarial/probes/loader_exec.c tests/adversarial/probes/probe.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  PROBE   $@")
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $<

# Workloads for the monitor's tests (spinners, hogs, fork bombs): static,
# run inside the sandbox like the probes.
$(BUILD)/workloads/%: tests/workloads/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  WORK    $@")
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -O1 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -static -pthread -o $@ $<

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(PKG_LIBS)

# Test-only fault-injection build: CALYX_FAULT_STEP / CALYX_FAULT_PHASE=<point>
# kills the process at that point (a workspace commit step or a run phase),
# CALYX_FAULT_IO makes one write/sync of the audit log, ledger or state dir
# fail with EIO (make crash, tests/integration/faults.sh): build/fault/,
# never installed; normal builds have none of it.
fault:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fault FAULT_DEFS=-DCALYX_FAULT_INJECTION \
		$(BUILD)/fault/calyx-exec $(BUILD)/fault/tests/test_workspace

# ---- tests ----------------------------------------------------------------
tests: $(BIN_PATHS) $(UNIT_BINS) $(REPLAY_BINS) $(PROBE_BINS) $(TOOL_BINS) $(WORKLOAD_BINS) \
       $(if $(FAULT_DEFS),,fault)

check: deps-check check-deps tests man $(BUILD)/benchbin/shim_nobpf
	$(Q)BUILD=$(BUILD) tests/run-all.sh

# The modules' dependency direction, private headers kept in their folder,
# one basename per library .c, public headers compiling alone.
check-deps:
	$(Q)CC="$(CC)" PKG_CONFIG="$(PKG_CONFIG)" BUILD="$(BUILD)" scripts/check-deps.py
.PHONY: check-deps

deps-check:
	@scripts/install-deps.sh --check || { echo "missing dependencies: run scripts/install-deps.sh (as root)"; exit 1; }

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=asan check

# libFuzzer: every object rebuilt with clang + sanitizer coverage.
fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz SAN=fuzz CC=clang fuzz-run

fuzz-run: $(patsubst %,$(BUILD)/fuzz_%,$(FUZZ_NAMES))
	$(Q)set -e; for n in $(FUZZ_NAMES); do \
	  mkdir -p $(BUILD)/corpus/$$n; cp -n tests/fuzz/corpus/$$n/* $(BUILD)/corpus/$$n/ 2>/dev/null || true; \
	  echo "fuzz $$n for $(FUZZ_TIME)s"; \
	  $(BUILD)/fuzz_$$n -max_total_time=$(FUZZ_TIME) -max_len=70000 -print_final_stats=0 \
	     -artifact_prefix=$(BUILD)/crash-$$n- $(BUILD)/corpus/$$n tests/fuzz/corpus/$$n 2>$(BUILD)/fuzz_$$n.log \
	     || { tail -40 $(BUILD)/fuzz_$$n.log; echo "fuzz $$n: FAILED (artifact in $(BUILD)/)"; exit 1; }; \
	  grep -E '^#[0-9]+.*DONE' $(BUILD)/fuzz_$$n.log | tail -1; echo "fuzz $$n: ok"; \
	done

$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIB)
	$(Q)$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

bench-ledger: all
	$(Q)scripts/bench-ledger.sh $(BUILD)

bench-rollout: all
	$(Q)scripts/bench-rollout.sh $(BUILD)

bench-verify: $(BENCH_BINS)
	$(Q)scripts/bench-verify.sh $(BUILD)

bench-startup: all $(BUILD)/benchbin/cgjoin
	$(Q)scripts/bench-startup.sh $(BUILD)

# Programs the benches run inside the sandbox (plain C, no library).
$(BUILD)/benchbin/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -std=gnu11 -O2 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -D_GNU_SOURCE -static -o $@ $<

# Seccomp shims for the benches' diagnostic rows (bpf() refused; an allow-all filter).
$(BUILD)/benchbin/shim_%: tests/bench/shim_%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -std=gnu11 -O2 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -o $@ $< $$($(PKG_CONFIG) --libs libseccomp)

BENCH_SHIMS := $(BUILD)/benchbin/shim_nobpf $(BUILD)/benchbin/shim_anyfilter

bench-overhead: all $(BUILD)/benchbin/syscall_loop $(BENCH_SHIMS)
	$(Q)scripts/bench-overhead.sh $(BUILD)

bench-throughput: all tests
	$(Q)scripts/bench-throughput.sh $(BUILD)

bench-monitor: all tests $(BENCH_SHIMS)
	$(Q)scripts/bench-monitor.sh $(BUILD)

$(BUILD)/tests/bench_workspace: $(BUILD)/obj/tests/bench/bench_workspace.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench-workspace: $(BUILD)/tests/bench_workspace
	$(Q)scripts/bench-workspace.sh $(BUILD)

$(BUILD)/tests/bench_audit: $(BUILD)/obj/tests/bench/bench_audit.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench-audit: $(BUILD)/tests/bench_audit
	$(Q)scripts/bench-audit.sh $(BUILD)

bench-doc:
	$(Q)scripts/bench-doc.sh $(BUILD)

# Runs each bench in turn (logs in $(BUILD)/bench/logs/), a failing one is
# reported in the document rather than stopping the others; exits 1 if any failed.
bench:
	$(Q)scripts/bench-all.sh $(BUILD)

# ---- gates (issue 7): each writes $(BUILD)/gates/<gate>.json for 'make gates'
SOAK_RUNS ?= 1000
SOAK_CONCURRENCY ?= 20
CRASH_ITERATIONS ?= 200

adversarial: tests
	$(Q)mkdir -p $(BUILD)/gates && bash tests/adversarial/run.sh $(BUILD)

soak: tests
	$(Q)mkdir -p $(BUILD)/gates && SOAK_RUNS=$(SOAK_RUNS) SOAK_CONCURRENCY=$(SOAK_CONCURRENCY) scripts/soak.sh $(BUILD)

crash: tests
	$(Q)mkdir -p $(BUILD)/gates && CRASH_ITERATIONS=$(CRASH_ITERATIONS) scripts/crash.sh $(BUILD)

analyze:
	$(Q)mkdir -p $(BUILD)/gates && scripts/analyze.sh $(BUILD)

valgrind: all
	$(Q)mkdir -p $(BUILD)/gates && scripts/valgrind.sh $(BUILD)

gates: tests
	$(Q)mkdir -p $(BUILD)/gates && scripts/gates.sh $(BUILD)

demo:
	$(Q)scripts/demo.sh

demo-fleet:
	$(Q)scripts/demo-fleet.sh

# make install: binaries, man pages, bash completion, the
# agent's systemd unit (installed, not enabled), tmpfiles.d for the state
# and log dirs, a rename-only logrotate entry for the audit log, and the
# adversarial corpus calyx-ctl selftest runs. Nothing in /etc/calyx: that
# is calyx-ctl init's (host key, config, keyring, starter and example
# policies), never overwritten.
# The corpus, in $(SELFTESTDIR): run.sh, lib_adv.sh, the harness lib.sh
# beside them (run.sh takes it from there when present), cases/*.case,
# the static probes/ and workloads/ the cases run inside the sandbox.
install: $(BIN_PATHS) man $(PROBE_BINS) $(WORKLOAD_BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -m 0755 $(BIN_PATHS) $(DESTDIR)$(BINDIR)/
	for s in 1 5 8; do for f in $(BUILD)/man/*.$$s; do [ ! -e "$$f" ] || \
		install -m 0644 "$$f" $(DESTDIR)$(MANDIR)/man$$s/; done; done
	install -m 0644 packaging/bash-completion/calyx $(DESTDIR)$(COMPLETIONDIR)/calyx
	for b in $(BINS); do [ "$$b" = calyx-exec ] || \
		ln -sf calyx $(DESTDIR)$(COMPLETIONDIR)/$$b; done
	ln -sf calyx $(DESTDIR)$(COMPLETIONDIR)/calyx-exec
	install -m 0644 packaging/calyx-agent.service $(DESTDIR)$(UNITDIR)/calyx-agent.service
	install -m 0644 packaging/calyx.tmpfiles $(DESTDIR)$(TMPFILESDIR)/calyx.conf
	install -m 0644 packaging/calyx.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/calyx
	install -d $(DESTDIR)$(SELFTESTDIR)/cases $(DESTDIR)$(SELFTESTDIR)/probes \
		$(DESTDIR)$(SELFTESTDIR)/workloads
	install -m 0644 tests/adversarial/run.sh tests/adversarial/lib_adv.sh tests/integration/lib.sh \
		$(DESTDIR)$(SELFTESTDIR)/
	install -m 0644 tests/adversarial/cases/*.case $(DESTDIR)$(SELFTESTDIR)/cases/
	install -m 0755 $(PROBE_BINS) $(DESTDIR)$(SELFTESTDIR)/probes/
	install -m 0755 $(WORKLOAD_BINS) $(DESTDIR)$(SELFTESTDIR)/workloads/

# make deb: the Debian package, built by debhelper from a copy of the tree
# in $(BUILD)/deb (dpkg-buildpackage writes beside its source dir), into
# $(BUILD)/calyx_<version>_<arch>.deb.
deb:
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	$(Q)git ls-files -z | xargs -0 tar -cf - | tar -xf - -C $(BUILD)/deb/src
	$(Q)cd $(BUILD)/deb/src && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || \
		{ tail -n 40 ../build.log; exit 1; }
	$(Q)cp $(BUILD)/deb/calyx_*.deb $(BUILD)/ && ls -1 $(BUILD)/calyx_*.deb

clean:
	rm -rf build

.PHONY: man adversarial soak crash analyze valgrind gates fault all tests check deps-check asan fuzz fuzz-run bench bench-verify bench-rollout bench-startup bench-overhead bench-throughput bench-monitor bench-workspace bench-audit bench-doc demo demo-fleet install deb clean
.PRECIOUS: $(BUILD)/obj/%.o

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
