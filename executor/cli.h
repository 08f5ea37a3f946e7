/* Helpers shared by the calyx CLIs (private to executor/): the one place
 * that prints refusals and errors, so every binary says them the same way:
 *   calyx-exec: lease refused [E_BAD_SIG]: signature 2 by 'ops-bot' does not verify (...)
 * Every string these print, and every string the CLIs show to people,
 * goes through calyx/esc.h's rule (cx_esc_line and friends): a lease,
 * policy or log string cannot move the cursor, rewrite a line or reorder
 * text on the reader's terminal.
 * Trust: formatting only. */
#ifndef CALYX_EXECUTOR_CLI_H
#define CALYX_EXECUTOR_CLI_H

#include <stdint.h>
#include "calyx/common.h"
#include "calyx/esc.h"
#include "calyx/lease.h"

extern const char *cx_prog;
/* What cx_cli_fail calls a refusal (exit 77): "lease refused" unless a
 * CLI says which document it refused ("rollout refused", "control
 * document refused"). */
extern const char *cx_cli_refused;

/* Print err as one line and return the exit code for it (77 refusal,
 * 125 calyx's own failure) unless `code` >= 0 forces one. */
int cx_cli_fail(const cx_error *err, int code);
/* Print a usage error (exit 2 by convention for usage). */
int cx_cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cx_cli_version(void);

/* Subcommand CLIs: "PROG COMMAND ARGS"; --help prints usage, --version the
 * version; cmd functions get argv starting at the command name. */
typedef struct cx_cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} cx_cli_cmd;
int cx_cli_dispatch(int argc, char **argv, const char *usage, const cx_cli_cmd *cmds);
/* Print the run spec / lease in words (for show, verify and --dry-run). */
void cx_cli_print_lease(FILE *out, const cx_lease *l, bool verified);

#endif
