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
 * with bounds (8 MiB per reply; large reads in pages). etcd orders claims, it never authorizes. */
#ifndef CALYX_ETCD_H
#define CALYX_ETCD_H

#include <jansson.h>
#include <stdint.h>

#include "calyx/common.h"

#define CX_ETCD_ENDPOINTS_MAX 16
#define CX_ETCD_REPLY_MAX (8u << 20)

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

/* ---- request pieces (the ledger, the rollout store and the agents) ---- */

/* now + timeout_ms (2000 when <= 0), CLOCK_MONOTONIC ns. */
int64_t cx_etcd_deadline(int timeout_ms);
/* JSON strings of base64 bytes / of a key. */
json_t *cx_etcd_bytes(const void *p, size_t n);
json_t *cx_etcd_key(const char *key);
/* The range end that covers every key under prefix (which ends in '/'). */
char *cx_etcd_prefix_end(const char *prefix);
/* Transaction operations: put (lease: an etcd lease id, or NULL), delete
 * one key, range over one key or (prefix) every key under it. */
json_t *cx_etcd_op_put(const char *key, const void *v, size_t n, const char *lease);
json_t *cx_etcd_op_del(const char *key);
json_t *cx_etcd_op_range(const char *key, bool prefix, bool keys_only);
/* Every key under prefix (which ends in '/'), at one revision, in pages
 * of at most page keys each (every page one reply, bounded as any):
 * *rev 0 reads at the current revision and sets *rev to it; the next
 * pages, and a caller's later ranges, read at that *rev, so several
 * prefixes read this way are one snapshot. Each page has as long as the
 * first (deadline_ns - now at the call). min_mod > 0: only the keys
 * modified at or after that revision. *ret_kvs: the kvs of every page,
 * in key order; *ret_count (may be NULL): how many keys the prefix
 * holds at *rev, every one whether min_mod left it out or not;
 * cluster (may be NULL): the cluster id, as cx_etcd_header. More
 * than max_keys keys returned: refused (CX_E_LEDGER), so a store that
 * grew past what a caller can hold says so instead of failing later. */
cx_etcd_outcome cx_etcd_range_all(cx_etcd *e, const char *prefix, bool keys_only, int64_t min_mod,
				  size_t page, size_t max_keys, int64_t deadline_ns, int64_t *rev,
				  json_t **ret_kvs, int64_t *ret_count, char *cluster, cx_error *err);
/* A compare: the key's target ("CREATE" or "MOD") revision equals rev (a
 * missing key's are 0). */
json_t *cx_etcd_cmp(const char *key, const char *target, int64_t rev);
/* A reply's header: its revision (0 if absent) and cluster id (decimal). */
void cx_etcd_header(const json_t *rep, int64_t *ret_rev, char cluster[24]);
/* Grant an etcd lease of ttl seconds (its id, decimal, in out); keep one
 * alive (*ret_ttl 0: etcd no longer knows it). */
cx_etcd_outcome cx_etcd_grant(cx_etcd *e, int64_t ttl, int64_t deadline_ns, char out[24],
			      cx_error *err);
cx_etcd_outcome cx_etcd_keepalive(cx_etcd *e, const char *id, int64_t deadline_ns,
				  int64_t *ret_ttl, cx_error *err);

#endif
