/* Audit forwarding: the audit log's sinks (calyx/audit.h, "forwarding";
 * docs/audit-events.md, "Forwarding"). Private to executor/audit/: log.c
 * hands every line it wrote to cx_fwd_send and asks cx_fwd_report for an
 * audit.forward_failed event at each sync. The formatters are pure, for
 * the unit tests. */
#ifndef CALYX_AUDIT_FORWARD_H
#define CALYX_AUDIT_FORWARD_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "calyx/audit.h"

/* journald's native protocol socket (fixed in libsystemd, which sends there) */
#define CX_FWD_JOURNAL_SOCKET "/run/systemd/journal/socket"
/* what both sinks call the stream: SYSLOG_IDENTIFIER, RFC 5424 APP-NAME */
#define CX_FWD_IDENT "calyx-exec"
/* RFC 5424 SD-ID: "calyx" at the documentation PEN of RFC 5612 */
#define CX_FWD_SD_ID "calyx@32473"
/* journald fields cx_fwd_journal_fields makes, at most */
#define CX_FWD_JOURNAL_FIELDS 14

/* One line as written, what the sinks carry about it. */
typedef struct cx_fwd_line {
	uint64_t seq;
	const char *time;     /* the line's "time" (RFC 3339, UTC, ms) */
	const char *type;
	const char *lease_id; /* NULL: none */
	const char *run_id;   /* NULL: none */
	const char *host_id;  /* the config's; NULL: none */
	const char *line;     /* the line as written, without its newline */
	size_t len;
	const char *sha256;   /* 64 hex: SHA-256 of line[0, len), the next line's prev */
	const char *prev;     /* 64 hex: the line's prev */
} cx_fwd_line;

typedef struct cx_fwd cx_fwd;

/* The sinks cfg names (at least one): libsystemd loaded for journald,
 * the sockets created. E_AUDIT when that fails. */
int cx_fwd_open(const cx_audit_fwd *cfg, cx_fwd **ret, cx_error *err);
void cx_fwd_close(cx_fwd *f);
/* Send one written line to every sink (l->host_id is set from the config
 * here); never fails: a sink's failure is counted for the next report. */
void cx_fwd_send(cx_fwd *f, const cx_fwd_line *l);
/* The details of an "audit.forward_failed" event when a line other than
 * the log's bookkeeping (audit.checkpoint, audit.forward_failed) failed
 * to forward since the last report, else NULL. The counts it reports are
 * taken (the next report starts from zero) unless cx_fwd_report_lost
 * puts them back (the event could not be appended). */
json_t *cx_fwd_report(cx_fwd *f);
void cx_fwd_report_lost(cx_fwd *f);

/* ---- pure parts -------------------------------------------------------- */
/* RFC 5424 severity of an event type: 4 (warning) for refusals, failures,
 * breaches, denials, repairs and forwarding failures, else 6 (info). */
int cx_fwd_severity(const char *type);
/* The RFC 5424 message for l (malloc'd, *ret_len bytes, no NUL inside):
 *   <PRI>1 TIME HOSTNAME calyx-exec PID TYPE [calyx@32473 seq="…" type="…"
 *   lease_id="…" run_id="…" host_id="…" line_sha256="…" prev="…"] LINE
 * (absent ids left out; hostname NULL or not printable ASCII: "-"). */
char *cx_fwd_rfc5424(const cx_fwd_line *l, int facility, const char *hostname, long pid,
		     size_t *ret_len);
/* journald's fields for l, each "NAME=value" malloc'd into out (free
 * each): MESSAGE, PRIORITY, SYSLOG_FACILITY, SYSLOG_IDENTIFIER, CALYX_SEQ,
 * CALYX_TYPE, CALYX_LEASE_ID, CALYX_RUN_ID, CALYX_HOST_ID (the ids when
 * present), CALYX_TIME, CALYX_LINE_SHA256, CALYX_PREV, CALYX_EVENT (the
 * line). Returns their number. */
size_t cx_fwd_journal_fields(const cx_fwd_line *l, int facility,
			     char *out[CX_FWD_JOURNAL_FIELDS]);

#endif
