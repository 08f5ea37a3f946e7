/* Test-only fault injection: one mechanism for every fault the crash and
 * fault suites inject (scripts/crash.sh, tests/integration/faults.sh,
 * tests/unit/test_workspace.c). Only the fault build has any of it
 * (make fault: build/fault/, compiled with -DCALYX_FAULT_INJECTION, never
 * installed); in every other build the macros below are nothing and
 * common/fault.c is an empty unit.
 *
 *   CALYX_FAULT_PHASE=POINT (or CALYX_FAULT_STEP=POINT, the workspace
 *     tests' name): at POINT the process raises SIGKILL; with
 *     CALYX_FAULT_DELAY_US=N it instead arms a timer that delivers SIGKILL
 *     a random 0..N µs later and goes on (a kill *during* what follows).
 *   CALYX_FAULT_IO=FILE:OP[@N|@WHAT]: the Nth (default first) OP on FILE,
 *     or the first one on WHAT (for the audit log: an event type), fails
 *     with EIO, once: audit:write, audit:sync, audit:short (half the line
 *     written, then EIO), ledger:create, ledger:write, ledger:sync,
 *     state:rundir. CX_FAULT_IO returns -EIO when the caller is to fail.
 *
 * Points a run reaches, in order: after_verified, before_claim,
 * after_claim, after_consumed, setup, run_dir_new, after_run_dir,
 * before_spawn, run, before_spawn_validate, run_validate, before_commit
 * (then the workspace's own steps, sandbox/workspace/), after_commit,
 * before_rollback, after_discard; torn:<event type> in the audit log.
 *
 * Trust: reads the environment; exists only in a test build. */
#ifndef CALYX_FAULT_H
#define CALYX_FAULT_H

#include <stdbool.h>

#ifdef CALYX_FAULT_INJECTION
bool cx_fault_armed(const char *point);
void cx_fault_point(const char *point);
int cx_fault_io(const char *file, const char *op, const char *what);
#define CX_FAULT_POINT(p) cx_fault_point(p)
#define CX_FAULT_IO(file, op, what) cx_fault_io(file, op, what)
#else
#define CX_FAULT_POINT(p) ((void)0)
#define CX_FAULT_IO(file, op, what) 0
#endif

#endif
