/* calyx-audit report: one self-contained report of a run, for people,
 * built from the audit log alone (private to executor/).
 *
 * Which events: every lease whose run_id is ID, or whose lease_id is ID or
 * begins with ID (6 to 32 lowercase hex). A run id may be reused across
 * leases (a retry with a new lease): each matching lease is reported, in
 * log order, up to CX_REPORT_MAX_LEASES (more: refused, naming the
 * count, so the caller passes one lease id). A lease's events are those
 * whose lease_id is that lease, plus the events of other runs or of
 * calyx-ctl whose details.lease_id names it (workspace recovery, pack
 * pruning). At most CX_REPORT_MAX_EVENTS events in all; the report says
 * how many more there were.
 *
 * What it reads (written by calyx-exec and calyx-ctl, see
 * executor/main_exec.c): lease.verified (signers, policy_sha256,
 * lease_sha256, the effective "limits" and the verified lease body as
 * "lease", or "lease_omitted" when the body was too large for a line),
 * exec.started (phase, layers), exec.spawned, exec.finished (usage),
 * resource.breach, run.halted, operator.*, lease.rejected, run.failed,
 * workspace.*. Older logs without "lease"/"limits" still give a report
 * that says what is missing.
 *
 * Trust: every string and number comes from a log that may have been
 * tampered with (and, inside a verified log, from lease bodies anyone
 * with two keys wrote). Every string is escaped for the output format at
 * the one place text is written, control and bidi characters shown as
 * escapes, every value bounded; the HTML has no script, no external
 * resource and a Content-Security-Policy that forbids both. */
#ifndef CALYX_EXECUTOR_REPORT_H
#define CALYX_EXECUTOR_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "calyx/audit.h"
#include "calyx/common.h"

#define CX_REPORT_MAX_LEASES 16
#define CX_REPORT_MAX_EVENTS 20000

typedef enum cx_report_format {
	CX_REPORT_MD,
	CX_REPORT_HTML,
} cx_report_format;

/* What cx_audit_verify said about the whole log. */
typedef struct cx_report_chain {
	bool intact;
	uint64_t lines;      /* intact: number of events */
	char head[65];       /* intact: hash of the last line */
	uint64_t bad_line;   /* failed: first bad line (its expected seq); 0: unknown */
	uint64_t signed_lines; /* lines 1..signed_lines vouched for by a checkpoint */
	char message[CX_ERR_MSG_MAX]; /* failed: the verifier's message */
} cx_report_chain;

/* Fill *ret from cx_audit_verify's return value r, report and error. */
void cx_report_chain_from(int r, const cx_audit_report *rep, const cx_error *verr,
			  cx_report_chain *ret);

/* Render the report of ID from a whole log (log/len, as read for the
 * verifier). *ret_buf is NUL-terminated, caller frees. Fails with
 * CX_E_USAGE when no event matches ID or too many leases do. */
int cx_report_render(const uint8_t *log, size_t len, const char *id,
		     const cx_report_chain *chain, cx_report_format fmt, char **ret_buf,
		     size_t *ret_len, cx_error *err);

#endif
