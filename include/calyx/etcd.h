/* etcd v3 client through its JSON gateway (etcd 3.4: POST /v3/...), the
 * pool ledger's store (docs/formats.md "ledger").
 *
 * libcurl is opened when a client is (dlopen of libcurl.so.4), not linked
 * into calyx-exec: libcurl and its ~20 libraries would add their loading
 * to every run's start, and only pool leases need them.
 *
 * Every call has a deadline (CLOCK_MONOTONIC ns); an endpoint that does
 * not answer within its share of it is left for the next one. A call's
 * outcome says whether the request may have reached a server: a write
 * whose answer was lost (timeout or reset after sending, HTTP 5xx) is
 * ambiguous, and the caller must resolve it (or refuse), never assume.
 * Trust: runs as root; everything etcd answers is untrusted input, parsed
 * with bounds (1 MiB per reply). etcd orders claims, it never authorizes. */
#ifndef CALYX_ETCD_H
#define CALYX_ETCD_H

#include <jansson.h>
#include <stdint.h>

#include "calyx/common.h"

#define CX_ETCD_ENDPOINTS_MAX 16
#define CX_ETCD_REPLY_MAX (1u << 20)

typedef struct cx_etcd_cfg {
	char *endpoints[CX_ETCD_ENDPOINTS_MAX]; /* http(s)://host:port, no path */
	size_t n_endpoints;
	char *prefix;        /* key prefix, e.g. "calyx/" */
	int timeout_ms;      /* one decision's deadline */
	char *ca, *cert, *key; /* TLS: CA bundle, client certificate and key (optional) */
	char *username, *password_file; /* etcd auth (optional; both or neither) */
} cx_etcd_cfg;

void cx_etcd_cfg_free(cx_etcd_cfg *c);

typedef struct cx_etcd cx_etcd;

/* A client for cfg (copied). CX_E_UNSUPPORTED when libcurl cannot be
 * opened; CX_E_CONFIG when the password file cannot be read. */
int cx_etcd_open(const cx_etcd_cfg *cfg, cx_etcd **ret, cx_error *err);
void cx_etcd_close(cx_etcd *e);
CX_DEFINE_POINTER_CLEANUP(cx_etcd, cx_etcd_close)

typedef enum cx_etcd_outcome {
	CX_ETCD_ANSWERED = 0, /* *ret_reply holds the JSON reply (HTTP 200) */
	CX_ETCD_UNSENT,       /* no endpoint took the request: nothing happened */
	CX_ETCD_LOST,         /* sent, answer lost: it may have been applied */
	CX_ETCD_REFUSED,      /* an answer that is an error (HTTP 4xx): not applied */
} cx_etcd_outcome;

/* POST the JSON body to path (e.g. "/v3/kv/txn") on the current endpoint,
 * moving to the next one on no answer, until one answers or deadline_ns
 * passes. Returns the outcome; err says what went wrong for every outcome
 * but ANSWERED. */
cx_etcd_outcome cx_etcd_call(cx_etcd *e, const char *path, const json_t *body, int64_t deadline_ns,
			     json_t **ret_reply, cx_error *err);

/* The key prefix (as configured). */
const char *cx_etcd_prefix(const cx_etcd *e);
/* The endpoint that answered last (for messages). */
const char *cx_etcd_endpoint(const cx_etcd *e);

/* base64 of bytes (caller frees) and back (NUL-terminated, caller frees;
 * NULL when not base64 or longer than max). */
char *cx_etcd_b64(const void *p, size_t n);
char *cx_etcd_unb64(const char *s, size_t max, size_t *ret_len);
/* An int64 the gateway sends as a decimal string (or a number): 0 and
 * *v on success, -1 otherwise. */
int cx_etcd_i64(const json_t *v, int64_t *ret);

#endif
