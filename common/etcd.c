/* etcd v3 JSON gateway client (calyx/etcd.h). Trust: runs as root; every
 * reply is untrusted, bounded (CX_ETCD_REPLY_MAX) and parsed strictly.
 *
 * Why dlopen: calyx-exec links its libraries statically to start fast
 * (Makefile, EXEC_STATIC_LIBS); libcurl cannot be, and linked shared it
 * would bring ~20 libraries into every run's start. It is opened here,
 * by its Debian soname, only by a client that needs it (a pool lease,
 * calyx-ctl ledger). The soname is resolved by the loader's standard
 * search (the package depends on libcurl4); calyx-exec runs as root from
 * root's environment, which it trusts like its own binary. */
#include "calyx/etcd.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <sodium.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/timings.h"

typedef struct curl_api {
	void *dl;
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	const char *(*easy_strerror)(CURLcode);
} curl_api;

struct cx_etcd {
	curl_api api;
	CURL *c;
	cx_etcd_cfg cfg;
	char *password;
	char *token;        /* etcd auth token, once authenticated */
	size_t cur;         /* the endpoint tried first */
	char errbuf[CURL_ERROR_SIZE];
};

typedef struct reply_buf {
	char *p;
	size_t len;
	bool over;
} reply_buf;

void cx_etcd_cfg_free(cx_etcd_cfg *c)
{
	for (size_t i = 0; i < c->n_endpoints; i++)
		free(c->endpoints[i]);
	free(c->prefix);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c->username);
	free(c->password_file);
	memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s)
{
	return s ? cx_strdup(s) : NULL;
}

static int load_curl(curl_api *a, cx_error *err)
{
	static const char *const names[] = { "libcurl.so.4", "libcurl-gnutls.so.4" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(names) && !a->dl; i++)
		a->dl = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!a->dl)
		return cx_err(err, CX_E_UNSUPPORTED, ENOENT,
			      "the etcd ledger needs libcurl (libcurl.so.4), which cannot be opened: %s (install Debian's libcurl4)",
			      dlerror());
#define SYM(field, name)                                               \
	do {                                                           \
		*(void **)&a->field = dlsym(a->dl, name);              \
		if (!a->field)                                         \
			return cx_err(err, CX_E_UNSUPPORTED, ENOENT,   \
				      "libcurl has no %s (too old?)", name); \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_reset, "curl_easy_reset");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(easy_strerror, "curl_easy_strerror");
#undef SYM
	return 0;
}

int cx_etcd_open(const cx_etcd_cfg *cfg, cx_etcd **ret, cx_error *err)
{
	cx_etcd *e = cx_calloc(1, sizeof(*e));
	int r;

	*ret = NULL;
	for (size_t i = 0; i < cfg->n_endpoints && i < CX_ETCD_ENDPOINTS_MAX; i++)
		e->cfg.endpoints[e->cfg.n_endpoints++] = cx_strdup(cfg->endpoints[i]);
	e->cfg.prefix = cx_strdup(cfg->prefix ? cfg->prefix : "calyx/");
	e->cfg.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
	e->cfg.ca = dup_or_null(cfg->ca);
	e->cfg.cert = dup_or_null(cfg->cert);
	e->cfg.key = dup_or_null(cfg->key);
	e->cfg.username = dup_or_null(cfg->username);
	e->cfg.password_file = dup_or_null(cfg->password_file);
	if (e->cfg.password_file) {
		uint8_t *buf = NULL;
		size_t len = 0;
		r = cx_read_file(e->cfg.password_file, "etcd password file", 4096,
				 CX_FILE_TRUSTED | CX_FILE_SECRET, 0, &buf, &len, err);
		if (r < 0) {
			if (err)
				err->reason = CX_E_CONFIG;
			cx_etcd_close(e);
			return r;
		}
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		e->password = cx_calloc(1, len + 1);
		memcpy(e->password, buf, len);
		sodium_memzero(buf, len);
		free(buf);
	}
	if ((r = load_curl(&e->api, err)) < 0) {
		cx_etcd_close(e);
		return r;
	}
	e->api.global_init(CURL_GLOBAL_DEFAULT);
	e->c = e->api.easy_init();
	if (!e->c) {
		cx_etcd_close(e);
		return cx_err(err, CX_E_INTERNAL, ENOMEM, "curl_easy_init failed");
	}
	*ret = e;
	return 0;
}

void cx_etcd_close(cx_etcd *e)
{
	if (!e)
		return;
	if (e->c)
		e->api.easy_cleanup(e->c);
	/* libcurl stays loaded: a library with threads or atexit handlers
	 * must not be unloaded under them */
	if (e->password) {
		sodium_memzero(e->password, strlen(e->password));
		free(e->password);
	}
	free(e->token);
	cx_etcd_cfg_free(&e->cfg);
	free(e);
}

const char *cx_etcd_prefix(const cx_etcd *e)
{
	return e->cfg.prefix;
}

const char *cx_etcd_endpoint(const cx_etcd *e)
{
	return e->cfg.n_endpoints ? e->cfg.endpoints[e->cur % e->cfg.n_endpoints] : "";
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	reply_buf *b = arg;
	size_t len = size * n;

	if (b->over || b->len + len > CX_ETCD_REPLY_MAX) {
		b->over = true;
		return 0; /* makes the transfer fail: CURLE_WRITE_ERROR */
	}
	char *q = realloc(b->p, b->len + len + 1);
	CX_CHECK(q);
	memcpy(q + b->len, p, len);
	b->p = q;
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

typedef struct http_result {
	CURLcode code;
	long status;
	bool sent;          /* request bytes left this host */
	reply_buf body;
} http_result;

/* One POST to one endpoint within ms milliseconds. */
static void post(cx_etcd *e, const char *endpoint, const char *path, const char *json, long ms,
		 http_result *res)
{
	curl_api *a = &e->api;
	char url[512], auth[600];
	struct curl_slist *hdr = NULL;
	curl_off_t up = 0;
	long req = 0;

	memset(res, 0, sizeof(*res));
	snprintf(url, sizeof(url), "%s%s", endpoint, path);
	a->easy_reset(e->c);
	hdr = a->slist_append(hdr, "Content-Type: application/json");
	if (e->token) {
		snprintf(auth, sizeof(auth), "Authorization: %s", e->token);
		hdr = a->slist_append(hdr, auth);
	}
	e->errbuf[0] = '\0';
	a->easy_setopt(e->c, CURLOPT_URL, url);
	a->easy_setopt(e->c, CURLOPT_HTTPHEADER, hdr);
	a->easy_setopt(e->c, CURLOPT_POSTFIELDS, json);
	a->easy_setopt(e->c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	a->easy_setopt(e->c, CURLOPT_TIMEOUT_MS, ms);
	a->easy_setopt(e->c, CURLOPT_CONNECTTIMEOUT_MS, ms);
	a->easy_setopt(e->c, CURLOPT_NOSIGNAL, 1L);
	a->easy_setopt(e->c, CURLOPT_FOLLOWLOCATION, 0L);
	a->easy_setopt(e->c, CURLOPT_PROTOCOLS_STR, "http,https");
	a->easy_setopt(e->c, CURLOPT_ERRORBUFFER, e->errbuf);
	a->easy_setopt(e->c, CURLOPT_WRITEFUNCTION, on_data);
	a->easy_setopt(e->c, CURLOPT_WRITEDATA, &res->body);
	a->easy_setopt(e->c, CURLOPT_NOPROXY, "*"); /* never through a proxy from the environment */
	if (e->cfg.ca)
		a->easy_setopt(e->c, CURLOPT_CAINFO, e->cfg.ca);
	if (e->cfg.cert)
		a->easy_setopt(e->c, CURLOPT_SSLCERT, e->cfg.cert);
	if (e->cfg.key)
		a->easy_setopt(e->c, CURLOPT_SSLKEY, e->cfg.key);
	res->code = a->easy_perform(e->c);
	a->easy_getinfo(e->c, CURLINFO_RESPONSE_CODE, &res->status);
	/* Did the request leave? The bytes of the request counted by curl
	 * (headers, and the body as it uploads) */
	a->easy_getinfo(e->c, CURLINFO_REQUEST_SIZE, &req);
	a->easy_getinfo(e->c, CURLINFO_SIZE_UPLOAD_T, &up);
	res->sent = req > 0 || up > 0 || res->status > 0;
	a->slist_free_all(hdr);
}

static const char *reply_error(const reply_buf *b, char *out, size_t n)
{
	json_t *j = b->p ? cx_json_loadb(b->p, b->len, 0, NULL) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	snprintf(out, n, "%.200s", m ? m : b->p ? b->p : "");
	for (size_t k = strlen(out); k > 0 && (out[k - 1] == '\n' || out[k - 1] == '\r' || out[k - 1] == ' '); k--)
		out[k - 1] = '\0';
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	json_decref(j);
	return out;
}

/* An HTTP 4xx answer as an error: etcd 3.4's gateway refuses a client
 * certificate with a Common Name (it cannot map it to a user), which
 * deserves what to do rather than its own words. */
static int refusal(cx_error *err, const char *endpoint, long status, const char *what, const char *msg)
{
	if (status == 400 && strstr(msg, "CommonName"))
		return cx_err(err, CX_E_LEDGER, EACCES,
			      "etcd at %s refuses this client certificate: etcd 3.4's gateway answers HTTP 400 to a certificate with a Common Name (use one without CN, and an etcd user: config.ledger.username)",
			      endpoint);
	return cx_err(err, CX_E_LEDGER, EACCES, "etcd at %s %s: HTTP %ld: %s", endpoint, what, status, msg);
}

static int authenticate(cx_etcd *e, const char *endpoint, long ms, cx_error *err)
{
	json_t *body = json_pack("{s:s, s:s}", "name", e->cfg.username, "password",
				 e->password ? e->password : "");
	char *s = cx_json_dump(body);
	http_result res;
	char msg[256];

	json_decref(body);
	post(e, endpoint, "/v3/auth/authenticate", s, ms, &res);
	sodium_memzero(s, strlen(s));
	free(s);
	int r = 0;
	if (res.code != CURLE_OK) { /* no answer: the caller tries the next endpoint */
		r = cx_err(err, CX_E_LEDGER_UNAVAILABLE, EHOSTUNREACH, "%s: %s", endpoint,
			   e->errbuf[0] ? e->errbuf : e->api.easy_strerror(res.code));
	} else if (res.status != 200) { /* an answer: final */
		char what[200];
		snprintf(what, sizeof(what), "refused user '%.128s'", e->cfg.username);
		r = refusal(err, endpoint, res.status, what, reply_error(&res.body, msg, sizeof(msg)));
	} else {
		json_t *j = cx_json_loadb(res.body.p, res.body.len, JSON_REJECT_DUPLICATES, NULL);
		const char *t = json_string_value(json_object_get(j, "token"));
		if (t && strlen(t) < 512 && !strpbrk(t, "\r\n")) {
			free(e->token);
			e->token = cx_strdup(t);
		} else {
			r = cx_err(err, CX_E_LEDGER, EPROTO, "etcd at %s sent no auth token", endpoint);
		}
		json_decref(j);
	}
	free(res.body.p);
	return r;
}

cx_etcd_outcome cx_etcd_call(cx_etcd *e, const char *path, const json_t *body, int64_t deadline_ns,
			     json_t **ret_reply, cx_error *err)
{
	_cleanup_free_ char *json = cx_json_dump(body);
	size_t n = e->cfg.n_endpoints;
	bool lost = false, reauthed = false;
	char why[300] = "";
	/* each endpoint gets its share of the deadline (at least 100 ms), so
	 * a member that hangs (a lost quorum: etcd waits ~7 s) leaves time
	 * for the others */
	long share = n ? e->cfg.timeout_ms / (long)n : 0;
	if (share < 100)
		share = 100;

	*ret_reply = NULL;
	for (size_t tries = 0; n && tries < 2 * n + 1; tries++) {
		const char *ep = e->cfg.endpoints[e->cur % n];
		int64_t left = (deadline_ns - cx_mono_ns()) / 1000000;
		http_result res;
		if (left <= 0)
			break;
		long ms = left < share ? (long)left : share;
		if (tries + 1 >= n && left > share)
			ms = (long)left; /* the last in the round: all that is left */
		if (e->cfg.username && !e->token) {
			cx_error ae = { 0 };
			if (authenticate(e, ep, ms, &ae) < 0) {
				snprintf(why, sizeof(why), "%.290s", ae.msg);
				if (ae.errnum == EACCES) {
					*err = ae;
					return CX_ETCD_REFUSED;
				}
				e->cur++;
				continue;
			}
			left = (deadline_ns - cx_mono_ns()) / 1000000;
			if (left <= 0)
				break;
			ms = left < ms ? (long)left : ms;
		}
		post(e, ep, path, json, ms, &res);
		if (res.body.over) {
			/* an answer calyx will not hold: the next endpoint would
			 * send the same; a write it answered may have applied */
			free(res.body.p);
			cx_err(err, CX_E_LEDGER, E2BIG,
			       "etcd at %s sent a reply over %u MiB, which calyx does not read (a value or range too big: inspect it with etcdctl)",
			       ep, CX_ETCD_REPLY_MAX >> 20);
			return CX_ETCD_LOST;
		}
		if (res.code == CURLE_OK && res.status == 200) {
			json_t *j = cx_json_loadb(res.body.p, res.body.len, JSON_REJECT_DUPLICATES, NULL);
			free(res.body.p);
			if (json_is_object(j)) {
				*ret_reply = j;
				return CX_ETCD_ANSWERED;
			}
			json_decref(j);
			/* a 200 that is not a reply: as if lost */
			lost = true;
			snprintf(why, sizeof(why), "%s sent a reply that is not JSON", ep);
			e->cur++;
			continue;
		}
		if (res.code == CURLE_OK && res.status >= 400 && res.status < 500) {
			char msg[256];
			reply_error(&res.body, msg, sizeof(msg));
			free(res.body.p);
			/* an expired auth token: once more, authenticated anew */
			if (e->cfg.username && !reauthed && (res.status == 401 || strstr(msg, "token"))) {
				free(e->token);
				e->token = NULL;
				reauthed = true;
				continue;
			}
			refusal(err, ep, res.status, "refused the request", msg);
			return CX_ETCD_REFUSED;
		}
		/* no answer, a 5xx, or a cut transfer: the next endpoint */
		if (res.code == CURLE_OK) {
			char msg[256];
			snprintf(why, sizeof(why), "%s answered HTTP %ld: %s", ep, res.status,
				 reply_error(&res.body, msg, sizeof(msg)));
		} else {
			snprintf(why, sizeof(why), "%s: %s", ep,
				 e->errbuf[0] ? e->errbuf : e->api.easy_strerror(res.code));
		}
		lost |= res.sent;
		free(res.body.p);
		e->cur++;
	}
	cx_err(err, CX_E_LEDGER_UNAVAILABLE, ETIMEDOUT,
	       "no etcd endpoint answered within %d ms (last: %.240s)", e->cfg.timeout_ms,
	       why[0] ? why : "no time left");
	return lost ? CX_ETCD_LOST : CX_ETCD_UNSENT;
}

char *cx_etcd_b64(const void *p, size_t n)
{
	char *s = cx_calloc(1, cx_b64_len(n) + 1);
	cx_b64_encode(p, n, s);
	return s;
}

char *cx_etcd_unb64(const char *s, size_t max, size_t *ret_len)
{
	size_t sl = s ? strlen(s) : 0;
	uint8_t *out;
	long n;

	if (!s || sl > cx_b64_len(max))
		return NULL;
	out = cx_calloc(1, max + 1);
	n = cx_b64_decode(s, sl, out, 0, max);
	if (n < 0) {
		free(out);
		return NULL;
	}
	out[n] = 0;
	if (ret_len)
		*ret_len = (size_t)n;
	return (char *)out;
}

int cx_etcd_i64(const json_t *v, int64_t *ret)
{
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	char *end;
	if (!s || !*s || strlen(s) > 20)
		return -1;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*ret = x;
	return 0;
}

/* ---- request pieces shared by the ledger, the rollout store and the agents */

int64_t cx_etcd_deadline(int timeout_ms)
{
	return cx_mono_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 2000) * 1000000LL;
}

json_t *cx_etcd_bytes(const void *p, size_t n)
{
	char *b = cx_etcd_b64(p, n);
	json_t *j = json_string(b);
	free(b);
	CX_CHECK(j);
	return j;
}

json_t *cx_etcd_key(const char *key)
{
	return cx_etcd_bytes(key, strlen(key));
}

char *cx_etcd_prefix_end(const char *prefix)
{
	char *end = cx_strdup(prefix);
	size_t n = strlen(end);

	/* every calyx prefix ends in '/', never 0xff: "a/" -> "a0" */
	CX_CHECK(n > 0 && (unsigned char)end[n - 1] < 0xff);
	end[n - 1]++;
	return end;
}

json_t *cx_etcd_op_put(const char *key, const void *v, size_t n, const char *lease)
{
	json_t *put = json_pack("{s:o, s:o}", "key", cx_etcd_key(key), "value", cx_etcd_bytes(v, n));
	CX_CHECK(put);
	if (lease)
		json_object_set_new(put, "lease", json_string(lease));
	return json_pack("{s:o}", "request_put", put);
}

json_t *cx_etcd_op_del(const char *key)
{
	return json_pack("{s:{s:o}}", "request_delete_range", "key", cx_etcd_key(key));
}

json_t *cx_etcd_op_range(const char *key, bool prefix, bool keys_only)
{
	json_t *r = json_pack("{s:o}", "key", cx_etcd_key(key));
	CX_CHECK(r);
	if (prefix) {
		char *end = cx_etcd_prefix_end(key);
		json_object_set_new(r, "range_end", cx_etcd_key(end));
		free(end);
	}
	if (keys_only)
		json_object_set_new(r, "keys_only", json_true());
	return json_pack("{s:o}", "request_range", r);
}

/* etcd's key order: bytes, then length. */
static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : an < bn ? -1 : an > bn;
}

cx_etcd_outcome cx_etcd_range_all(cx_etcd *e, const char *prefix, bool keys_only, int64_t min_mod,
				  size_t page, size_t max_keys, int64_t deadline_ns, int64_t *rev,
				  json_t **ret_kvs, int64_t *ret_count, char *cluster, cx_error *err)
{
	_cleanup_json_ json_t *all = json_array();
	_cleanup_free_ char *end = cx_etcd_prefix_end(prefix);
	_cleanup_free_ char *from = cx_strdup(prefix);
	size_t from_len = strlen(prefix);
	int64_t count = 0, n = 0, budget = deadline_ns - cx_mono_ns();

	*ret_kvs = NULL;
	for (bool first = true;; first = false) {
		/* each page its own deadline, as long as the first one's: a big
		 * read takes more requests, not a faster etcd */
		int64_t page_deadline = first ? deadline_ns : cx_mono_ns() + budget;
		_cleanup_json_ json_t *req = json_pack("{s:o, s:o, s:I, s:b}", "key",
						       cx_etcd_bytes(from, from_len), "range_end",
						       cx_etcd_key(end), "limit", (json_int_t)page,
						       "keys_only", keys_only);
		_cleanup_json_ json_t *rep = NULL;
		const json_t *kvs;
		CX_CHECK(req);
		if (*rev > 0)
			json_object_set_new(req, "revision", json_integer(*rev));
		if (min_mod > 0)
			json_object_set_new(req, "min_mod_revision", json_integer(min_mod));
		cx_etcd_outcome o = cx_etcd_call(e, "/v3/kv/range", req, page_deadline, &rep, err);
		if (o != CX_ETCD_ANSWERED)
			return o;
		if (first)
			cx_etcd_header(rep, *rev > 0 ? NULL : rev, cluster);
		kvs = json_object_get(rep, "kvs");
		if ((kvs && !json_is_array(kvs)) || *rev <= 0 ||
		    (json_object_get(rep, "count") && cx_etcd_i64(json_object_get(rep, "count"), &n) < 0) ||
		    json_array_size(kvs) > page) {
			cx_err(err, CX_E_LEDGER, EPROTO, "etcd at %s sent a malformed range for '%.200s'",
			       cx_etcd_endpoint(e), prefix);
			return CX_ETCD_REFUSED;
		}
		if (first) /* the next pages count from their first key on */
			count = n;
		if (kvs)
			CX_CHECK(json_array_extend(all, (json_t *)kvs) == 0);
		if (json_array_size(all) > max_keys) {
			cx_err(err, CX_E_LEDGER, E2BIG,
			       "etcd holds more than %zu keys under '%.200s': more than calyx reads at once (remove finished rollouts' keys)",
			       max_keys, prefix);
			return CX_ETCD_REFUSED;
		}
		if (!json_is_true(json_object_get(rep, "more")) || !json_array_size(kvs))
			break;
		/* the next page starts just after this one's last key */
		size_t kl = 0;
		char *last = cx_etcd_unb64(json_string_value(json_object_get(json_array_get(kvs, json_array_size(kvs) - 1), "key")),
					   4096, &kl);
		if (!last || kl < strlen(prefix) || memcmp(last, prefix, strlen(prefix)) != 0 ||
		    key_cmp(last, kl, from, from_len) < 0) {
			free(last);
			cx_err(err, CX_E_LEDGER, EPROTO, "etcd at %s sent a range page whose last key is not a next key under '%.200s'",
			       cx_etcd_endpoint(e), prefix);
			return CX_ETCD_REFUSED;
		}
		free(from);
		from = cx_calloc(1, kl + 2);
		memcpy(from, last, kl); /* last + "\0": the first key after it */
		from_len = kl + 1;
		free(last);
	}
	if (ret_count)
		*ret_count = count;
	*ret_kvs = TAKE_PTR(all);
	return CX_ETCD_ANSWERED;
}

json_t *cx_etcd_cmp(const char *key, const char *target, int64_t rev)
{
	char r[24];
	bool create = strcmp(target, "CREATE") == 0;

	snprintf(r, sizeof(r), "%lld", (long long)rev);
	return json_pack("{s:o, s:s, s:s, s:s}", "key", cx_etcd_key(key), "target", target, "result",
			 "EQUAL", create ? "create_revision" : "mod_revision", r);
}

void cx_etcd_header(const json_t *rep, int64_t *ret_rev, char cluster[24])
{
	const json_t *hd = json_object_get(rep, "header");
	const char *cid = json_string_value(json_object_get(hd, "cluster_id"));

	if (ret_rev && cx_etcd_i64(json_object_get(hd, "revision"), ret_rev) < 0)
		*ret_rev = 0;
	if (cluster && cid && strlen(cid) < 24 && strspn(cid, "0123456789") == strlen(cid))
		snprintf(cluster, 24, "%s", cid);
}

cx_etcd_outcome cx_etcd_grant(cx_etcd *e, int64_t ttl, int64_t deadline_ns, char out[24],
			      cx_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:I}", "TTL", (json_int_t)ttl);
	_cleanup_json_ json_t *rep = NULL;
	int64_t id;
	cx_etcd_outcome o = cx_etcd_call(e, "/v3/lease/grant", req, deadline_ns, &rep, err);

	if (o != CX_ETCD_ANSWERED)
		return o;
	if (cx_etcd_i64(json_object_get(rep, "ID"), &id) < 0 || id <= 0) {
		cx_err(err, CX_E_LEDGER, EPROTO, "etcd at %s granted no lease id", cx_etcd_endpoint(e));
		return CX_ETCD_REFUSED;
	}
	snprintf(out, 24, "%lld", (long long)id);
	return CX_ETCD_ANSWERED;
}

cx_etcd_outcome cx_etcd_keepalive(cx_etcd *e, const char *id, int64_t deadline_ns,
				  int64_t *ret_ttl, cx_error *err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s}", "ID", id);
	_cleanup_json_ json_t *rep = NULL;
	int64_t ttl = 0;
	cx_etcd_outcome o = cx_etcd_call(e, "/v3/lease/keepalive", req, deadline_ns, &rep, err);

	if (o != CX_ETCD_ANSWERED)
		return o;
	/* the gateway streams: one answer, {"result": {"ID", "TTL"}}; a TTL
	 * absent or 0 means etcd no longer knows the lease */
	if (cx_etcd_i64(json_object_get(json_object_get(rep, "result"), "TTL"), &ttl) < 0)
		ttl = 0;
	*ret_ttl = ttl;
	return CX_ETCD_ANSWERED;
}
