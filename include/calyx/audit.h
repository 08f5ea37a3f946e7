/* Audit log: append-only JSON Lines, hash-chained and signed by the host key.
 *
 * One event per line, members in this order:
 *   {"seq":12,"time":"2026-11-22T05:03:00.123Z","type":"lease.verified",
 *    "lease_id":"9f…","run_id":"deploy-4821","details":{…},
 *    "prev":"<64 hex: SHA-256 of the previous line, without its newline>",
 *    "sig":"<base64 Ed25519 signature>"}
 * The first line's prev is 64 zeros. The signature is by the host key over
 * "calyx-audit-v1\n" followed by the line with its final ,"sig":"…" member
 * removed (i.e. the bytes up to that member, then "}"). The sig member is
 * always last, so a verifier needs no re-serialization.
 * Appends: open O_APPEND|O_NOFOLLOW, flock(LOCK_EX), read the last line for
 * seq and prev, one write(2), fdatasync, unlock — safe with many concurrent
 * calyx-exec processes.
 * Trust: runs as root; details are built by calyx, not copied from leases
 * except as JSON string values. */
#ifndef CALYX_AUDIT_H
#define CALYX_AUDIT_H

#include <jansson.h>
#include <stdint.h>
#include "calyx/common.h"

#define CX_AUDIT_LINE_MAX (64u * 1024)

typedef struct cx_audit cx_audit;

int cx_audit_open(const char *path, const uint8_t seed[32], cx_audit **ret, cx_error *err);
void cx_audit_close(cx_audit *a);
/* details may be NULL; the reference is stolen. lease_id/run_id may be NULL. */
int cx_audit_append(cx_audit *a, const char *type, const char *lease_id, const char *run_id,
		    json_t *details, uint64_t *ret_seq, cx_error *err);

typedef struct cx_audit_report {
	uint64_t lines;
	uint64_t last_seq;
	char head[65]; /* hash of the last line */
} cx_audit_report;

/* Verify a whole log: every signature (host public key pk), the chain, seq
 * continuity from 1. On failure err names the first bad line. */
int cx_audit_verify(const uint8_t *buf, size_t len, const uint8_t pk[32],
		    cx_audit_report *ret, cx_error *err);

#endif
