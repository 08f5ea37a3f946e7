/* Audit log: append-only JSON Lines, hash-chained, vouched for by the host
 * key's signatures at checkpoints (docs/audit-events.md, "Line format").
 *
 * One event per line, members in this order:
 *   {"seq":12,"time":"2026-11-22T05:03:00.123Z","type":"lease.verified",
 *    "lease_id":"9f…","run_id":"deploy-4821","details":{…},
 *    "prev":"<64 hex: SHA-256 of the previous line, without its newline>",
 *    then ONE of
 *    "sig":"<base64 Ed25519 signature, 88 chars>"}   a signed line: a checkpoint
 *    "mac":"<base64 keyed BLAKE2b-256, 44 chars>"}   an unsigned line
 * The first line's prev is 64 zeros. The signature is by the host key over
 * "calyx-audit-v1\n" followed by the line with its final ,"sig":"…" member
 * removed (i.e. the bytes up to that member, then "}"); the mac is keyed
 * BLAKE2b-256 over "calyx-audit-mac-v1\n" and the line without its
 * ,"mac":"…" member the same way, under a key derived from the host seed.
 * The sig or mac member is always last, so no re-serialization is needed.
 * A valid signature on line c vouches, through the chain, for lines 1..c
 * exactly as they are; a mac can only be checked with the host seed (by
 * appenders), so to a verifier lines after the last signed one are an
 * unsigned tail: chained, not vouched for.
 * Format v1 (up to 2026-12) signed every line; a v1 log is a v2 log whose
 * every line is a checkpoint, so v1 logs, and v1 lines followed by v2 lines,
 * verify unchanged.
 * Appends: open O_APPEND|O_NOFOLLOW, flock(LOCK_EX), read the end of the log
 * for seq and prev, and authenticate what is chained onto (the first time:
 * the last checkpoint's signature, then every line after it by chain and
 * mac; later: only the lines other writers added since), one write(2),
 * unlock. Without cx_audit_defer_sync every line is signed and
 * fdatasync'd before the append returns (each line its own checkpoint);
 * with it, lines carry a mac, and cx_audit_sync appends one signed
 * "audit.checkpoint" line over the chain head (unless the last line is
 * signed already), then fdatasyncs: one signature per sync group. The
 * lines are in the page cache from their write(2) on, so only a power loss
 * can lose unsynced ones, and then only from the end; a writer killed
 * before its sync leaves an unsigned tail, which the next writer's
 * checkpoint vouches for after checking its macs.
 * A line is at most CX_AUDIT_LINE_MAX bytes without its newline (appends
 * refuse larger events; readers refuse longer lines). A log that does not
 * end with a newline has a torn last line (a crash mid-write) if the bytes
 * after its last newline are at most CX_AUDIT_LINE_MAX; the next append
 * repairs it before writing: the bytes are kept in a new file next to the
 * log (cx_audit_torn_name, mode 0600), the log is cut back to its last
 * newline, and an event
 *   {"type":"audit.repaired","details":{"torn_bytes":40,
 *    "torn_sha256":"<64 hex of the torn bytes>","after_seq":11,
 *    "saved_as":"audit.jsonl.torn-11-3f9a0c2e81d4b7a5"}}
 * (after_seq: seq of the last intact line, 0 if none) is appended before the
 * event asked for. A longer unterminated tail is not a crash: appends refuse.
 * Trust: runs as root; details are built by calyx; what comes from a lease,
 * the run or the kernel is only ever a text value (below), never structure. */
#ifndef CALYX_AUDIT_H
#define CALYX_AUDIT_H

#include <jansson.h>
#include <stdint.h>
#include "calyx/common.h"

/* Room for a lease.verified event carrying the whole verified lease (up to
 * 48 KiB of JSON, re-encoded with \u escapes up to about 3 times). */
#define CX_AUDIT_LINE_MAX (256u * 1024)

typedef struct cx_audit cx_audit;

int cx_audit_open(const char *path, const uint8_t seed[32], cx_audit **ret, cx_error *err);
void cx_audit_close(cx_audit *a);
CX_DEFINE_POINTER_CLEANUP(cx_audit, cx_audit_close)
/* Leave each append's fdatasync to cx_audit_sync (on: lines carry a mac,
 * the sync signs a checkpoint) or sign and sync every line before
 * returning (off, the default). */
void cx_audit_defer_sync(cx_audit *a, bool on);
/* With deferred syncs, sign every line all the same (the v1 format; for
 * the benchmark's before/after and writers that want each line vouched
 * for at once). */
void cx_audit_sign_every_line(cx_audit *a, bool on);
/* If lines were appended since the last sync: a checkpoint over the chain
 * head (an "audit.checkpoint" line, signed, unless the last line is signed
 * already), then fdatasync (nothing to do: 0). cx_audit_close does the
 * same, best effort. */
int cx_audit_sync(cx_audit *a, cx_error *err);
/* Append one event; the reference to details is stolen. details NULL is a
 * failure to build them (a json_pack that failed): refused with E_AUDIT,
 * nothing written, never an empty object in their place (an event without
 * details passes json_object()). lease_id/run_id may be NULL. The line the
 * new one chains onto must carry a valid signature by this host key
 * (verified under the lock; the line this writer itself appended last is
 * known by its hash): otherwise E_AUDIT, nothing written. */
int cx_audit_append(cx_audit *a, const char *type, const char *lease_id, const char *run_id,
		    json_t *details, uint64_t *ret_seq, cx_error *err);

/* ---- forwarding (docs/audit-events.md, "Forwarding") -------------------
 * Every line this writer appends (its own audit.* lines included) is also
 * sent to the configured sinks, right after its write(2), under the log's
 * lock (so receivers get the lines of concurrent writers in seq order):
 *   journald  native protocol through libsystemd's sd_journal_sendv,
 *             libsystemd.so.0 opened with dlopen by cx_audit_forward;
 *   syslog    one RFC 5424 message per line, MSG_DONTWAIT, on an AF_UNIX
 *             datagram socket at the configured path.
 * Both carry seq, type, lease_id, run_id, host_id, the line's SHA-256
 * (the next line's prev), its prev, and the line itself. The log stays the
 * record of truth: a sink that fails (missing, full, refusing) never fails
 * or delays an append; the line is counted, and at the writer's next
 * cx_audit_sync (or close) one "audit.forward_failed" line reports, per
 * sink, the lines that failed since its previous report and the first
 * error. That line and audit.checkpoint lines are forwarded like any other,
 * but their own failures do not call for a report (counted in the next
 * one, if any), so a dead sink never makes the log report itself in a
 * loop; receivers find every missing line by its seq. */
typedef struct cx_audit_fwd {
	bool journald;
	const char *syslog;   /* socket path; NULL: no syslog */
	int facility;         /* syslog facility code 0..23 (also journald's SYSLOG_FACILITY) */
	const char *host_id;  /* the config's host_id; NULL: none */
} cx_audit_fwd;

/* Start forwarding this writer's lines as cfg says (nothing configured:
 * 0, nothing done). journald with libsystemd.so.0 not loadable, or a
 * socket that cannot be created: E_AUDIT, and nothing is forwarded (the
 * caller fails closed: a configured sink is never skipped silently). The
 * receivers need not be up: a missing one is a counted failure. Call once,
 * before the first append. */
int cx_audit_forward(cx_audit *a, const cx_audit_fwd *cfg, cx_error *err);

/* ---- text values (docs/audit-events.md, "Text values") -----------------
 * Every string in details that comes from outside calyx (the kernel, the
 * run, the lease, a file name, a message naming paths) is a text value,
 * which keeps its bytes losslessly:
 *   - a JSON string when the bytes are UTF-8 (as jansson accepts it), hold
 *     no NUL and are whole: "/usr/bin/cat";
 *   - otherwise an object with exactly one of
 *       "b64": standard padded base64 of the bytes, when they are not UTF-8
 *              or hold a NUL: {"b64":"L3RtcC//Li4vYmlu"} is "/tmp/\xff/../bin",
 *       "text": the bytes as a string, when they are UTF-8 but were cut,
 *     plus, when the producer cut the value (a kernel buffer, say),
 *       "truncated": true, and "bytes": the whole value's length where it
 *       is known: {"text":"/srv/é","truncated":true,"bytes":300}.
 * A cut of UTF-8 text is on a character boundary: a partial character at
 * the cut is dropped (the kept text then says less, never something
 * else); cut bytes that are not UTF-8 anyway are all kept, in base64.
 * There is one spelling per value: the decoder refuses base64 of bytes that
 * could be a string (or, cut, a "text" once their partial last character
 * goes), "text" without "truncated", "truncated": false, a "bytes" not
 * above the kept length, any other member. */

/* len bytes (any) as a text value; cut: the producer kept only these of
 * whole_len bytes (0: length unknown). Never NULL. */
json_t *cx_audit_textn(const void *buf, size_t len, bool cut, uint64_t whole_len);
/* A whole NUL-terminated string (NULL: ""). Never NULL. */
json_t *cx_audit_text(const char *s);
/* An argv area as the kernel keeps it (every argument NUL-terminated):
 * its first len of whole_len bytes (0: unknown) as an array of text
 * values, one per argument; an argument cut by len is the last, marked cut. */
json_t *cx_audit_argv(const void *area, size_t len, uint64_t whole_len);
/* The same bytes as one text value, arguments separated by spaces (the last
 * one's NUL dropped), cut like the area (its whole length whole_len - 1). */
json_t *cx_audit_argv_line(const void *area, size_t len, uint64_t whole_len);
/* Whether splitting that line at its spaces would not give the arguments
 * back (one of them holds a space, or is empty): then the log needs the
 * arguments one by one too (cx_audit_argv). */
bool cx_audit_argv_ambiguous(const void *area, size_t len);

typedef struct cx_audit_textval {
	uint8_t *bytes;    /* malloc'd: len bytes, then a NUL (bytes may hold NULs) */
	size_t len;
	bool truncated;    /* the producer cut it */
	int64_t whole_len; /* the whole value's length if cut and known, else -1 */
} cx_audit_textval;

/* v as a text value: 0 with *ret (free with cx_audit_textval_free), or
 * -EINVAL when v is not a text value in its one spelling. */
int cx_audit_text_decode(const json_t *v, cx_audit_textval *ret);
void cx_audit_textval_free(cx_audit_textval *t);
/* A text value for people (malloc'd, UTF-8): a string as it is; bytes that
 * are not UTF-8 as \xNN (and a backslash as \\), then
 * " [not UTF-8: \xNN is a byte, \\ a backslash]"; a cut value followed by
 * "… [cut at K of N bytes]" (or "… [cut at K bytes]"). NULL when v is not
 * a text value. Control characters are left to the printer's escaping. */
char *cx_audit_text_plain(const json_t *v);
/* A deep copy of details with every text value object in it replaced by
 * its plain string (for `calyx-audit show` and the reports). Never NULL. */
json_t *cx_audit_details_plain(const json_t *v);

typedef struct cx_audit_report {
	uint64_t lines;
	uint64_t last_seq;
	char head[65];         /* hash of the last line */
	uint64_t signed_lines; /* lines 1..signed_lines are vouched for by a checkpoint */
	uint64_t checkpoints;  /* signed lines (every line of a v1 log) */
} cx_audit_report;

/* Verify a whole log: every line's form, the chain, seq continuity from 1,
 * and the newest checkpoint's signature (host public key pk), which
 * vouches for every line before it through the chain; only when it fails,
 * the ones before it in turn (docs/audit-events.md). 0 when all of it
 * holds; ret->signed_lines < ret->lines then means an unsigned tail (lines
 * after the last checkpoint: chained, not vouched for; the caller says so).
 * On failure err names the first bad line ("line N"), and ret (if given)
 * still holds signed_lines: the lines before it vouched for by a valid
 * checkpoint (lines and head are then 0 and "").
 * A torn last line, after lines that all verify, fails with err->errnum
 * EPIPE (calyx-exec would repair it); more than CX_AUDIT_LINE_MAX bytes
 * without a final newline fail with E2BIG (tampering, not a crash).
 * Large logs (1 MiB and more) are verified by one thread per CPU; the
 * result is the same as one pass in order. */
int cx_audit_verify(const uint8_t *buf, size_t len, const uint8_t pk[32],
		    cx_audit_report *ret, cx_error *err);
/* The same with a given number of threads (1: one pass in order; 0: as
 * cx_audit_verify chooses; at most 16). */
int cx_audit_verify_threads(const uint8_t *buf, size_t len, const uint8_t pk[32],
			    unsigned threads, cx_audit_report *ret, cx_error *err);

/* The name (no directory) of the file a repair keeps a torn fragment in:
 * "<log's file name>.torn-<after_seq>-<first 16 hex of its SHA-256>".
 * 0, or -ENAMETOOLONG if it does not fit in outsz or NAME_MAX. */
int cx_audit_torn_name(const char *log_path, uint64_t after_seq, const uint8_t *frag,
		       size_t len, char *out, size_t outsz);

#endif
