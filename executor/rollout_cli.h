/* calyx-rollout's printers and host lists (private to executor/).
 * Trust: formatting only, and the planner's own host lists. */
#ifndef CALYX_EXECUTOR_ROLLOUT_CLI_H
#define CALYX_EXECUTOR_ROLLOUT_CLI_H

#include "calyx/common.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/rollout.h"

/* Host ids from "H1,H2,..." (list) or a file of one id a line (file:
 * blank lines and lines starting with '#' skipped, blanks around an id
 * trimmed), exactly one of the two; each an id, at most
 * CX_ROLLOUT_HOSTS_MAX, at least one. `what` names the option. */
int cx_rollout_cli_hosts(const char *list, const char *file, const char *what, cx_strv *out,
			 cx_error *err);

/* How tier k opens, in words. */
const char *cx_rollout_cli_gate_words(const cx_rollout *ro, size_t k);
/* The plan: every tier with its hosts, gate, soak, deadline, parallelism
 * and failure budget; failure and deadline actions; window; verified
 * signers. */
void cx_rollout_cli_print_plan(const cx_rollout *ro);
/* What a co-signer should look at (l: the rollout's lease, or NULL). */
void cx_rollout_cli_print_review(const cx_rollout *ro, const cx_lease *l);
/* Who signed (with a keyring: whose key, valid or not; kr may be NULL)
 * and who must still sign. */
void cx_rollout_cli_print_signatures(const cx_envelope *e, const cx_keyring *kr);

/* The etcd commands (rollout_etcd_cli.c); argv starts at the command. */
int cx_rollout_cmd_start(int argc, char **argv);
/* pause, resume, halt, rollback, approve: the action is argv[0]. */
int cx_rollout_cmd_control_etcd(int argc, char **argv);
int cx_rollout_cmd_status(int argc, char **argv);
int cx_rollout_cmd_drive(int argc, char **argv);
int cx_rollout_cmd_report(int argc, char **argv);

#endif
