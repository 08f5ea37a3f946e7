/* Configuration loading. Trust: root-owned file, StrictModes-checked. */
#include "calyx/config.h"

#include <string.h>
#include <sys/un.h>

#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/path.h"

void cx_config_free(cx_config *c)
{
	free(c->path);
	free(c->keyring);
	free(c->policy);
	free(c->state_dir);
	free(c->audit_log);
	free(c->host_key);
	free(c->host_id);
	free(c->bpf_pin_dir);
	for (size_t i = 0; i < c->n_pools; i++)
		free(c->pools[i]);
	cx_etcd_cfg_free(&c->etcd);
	free(c->fwd_syslog);
	memset(c, 0, sizeof(*c));
}

static int get_path(const json_t *j, const char *key, char **out, cx_error *err)
{
	const char *s;
	int r = cx_json_str(j, key, "config", CX_E_CONFIG, CX_PATH_MAX, false, &s, err);
	if (r < 0)
		return r;
	if (!cx_path_is_normal(s) || strcmp(s, "/") == 0)
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.%s '%.200s' is not an absolute normalized path", key, s);
	*out = cx_strdup(s);
	return 0;
}

static int get_path_opt(const json_t *j, const char *key, char **out, cx_error *err)
{
	return json_object_get(j, key) ? get_path(j, key, out, err) : 0;
}

/* "run_uid_range": {"first": N, "count": M}: run ids first..first+M-1,
 * never 0 and never past 0x7ffffffe (the kernel's overflow and invalid
 * ids lie above), at most 2^20 of them. Exclusive with a fixed run_uid. */
static int parse_range(const json_t *j, int64_t *first, int64_t *count, cx_error *err)
{
	static const char *const req[] = { "first", "count", NULL };
	const json_t *rg = json_object_get(j, "run_uid_range");
	int r;

	if (!rg)
		return 0;
	if (json_object_get(j, "run_uid") || json_object_get(j, "run_gid"))
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.run_uid_range and a fixed run_uid/run_gid are exclusive (keep one)");
	r = cx_json_keys(rg, "config.run_uid_range", CX_E_CONFIG, req, NULL, err);
	if (r == 0)
		r = cx_json_int(rg, "first", "config.run_uid_range", CX_E_CONFIG, 1, 0x7ffffffe, false,
				first, err);
	if (r == 0)
		r = cx_json_int(rg, "count", "config.run_uid_range", CX_E_CONFIG, 1, 1 << 20, false,
				count, err);
	if (r == 0 && *first + *count - 1 > 0x7ffffffe)
		return cx_err(err, CX_E_CONFIG, ERANGE,
			      "config.run_uid_range ends at %lld, past 2147483646 (lower first or count)",
			      (long long)(*first + *count - 1));
	return r;
}

bool cx_config_in_pool(const cx_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_pools; i++)
		if (strcmp(c->pools[i], name) == 0)
			return true;
	return false;
}

/* A pool name: what a lease's "pool:NAME" audience may name. */
static bool pool_name_ok(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!alnum && !(i > 0 && (ch == '.' || ch == '_' || ch == '-')))
			return false;
	}
	return i > 0 && i <= 64;
}

static int parse_pools(const json_t *j, cx_config *c, cx_error *err)
{
	const json_t *a = json_object_get(j, "pools"), *v;
	size_t i;

	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > CX_POOLS_MAX)
		return cx_err(err, CX_E_CONFIG, EINVAL, "config.pools must be an array of at most %d pool names",
			      CX_POOLS_MAX);
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		if (!s || !pool_name_ok(s))
			return cx_err(err, CX_E_CONFIG, EINVAL,
				      "config.pools[%zu] is not a pool name (1-64 of [A-Za-z0-9._-], starting alphanumeric)",
				      i);
		if (cx_config_in_pool(c, s))
			return cx_err(err, CX_E_CONFIG, EINVAL, "config.pools names '%s' twice", s);
		c->pools[c->n_pools++] = cx_strdup(s);
	}
	return 0;
}

/* An endpoint: http:// or https://, then host[:port], nothing else
 * (no path, user info, query, spaces or control characters). */
static bool endpoint_ok(const char *s)
{
	const char *h = strncmp(s, "http://", 7) == 0 ? s + 7 : strncmp(s, "https://", 8) == 0 ? s + 8 : NULL;
	if (!h || !*h || strlen(s) > 256)
		return false;
	for (const char *p = h; *p; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']';
		if (!ok)
			return false;
	}
	return true;
}

static int parse_ledger(const json_t *j, cx_config *c, cx_error *err)
{
	static const char *const req[] = { "backend", NULL };
	static const char *const opt[] = { "endpoints", "prefix", "timeout_ms", "ca", "cert", "key",
					   "username", "password_file", NULL };
	const json_t *l = json_object_get(j, "ledger"), *a, *v;
	const char *s = NULL;
	int64_t t = 2000;
	size_t i;
	int r;

	if (!l)
		return 0;
	r = cx_json_keys(l, "config.ledger", CX_E_CONFIG, req, opt, err);
	if (r == 0)
		r = cx_json_str(l, "backend", "config.ledger", CX_E_CONFIG, 16, false, &s, err);
	if (r < 0)
		return r;
	if (!s) /* required: cx_json_str has refused it already */
		return cx_err(err, CX_E_CONFIG, EINVAL, "config.ledger.backend is missing");
	if (strcmp(s, "dir") == 0) {
		if (json_object_size(l) != 1)
			return cx_err(err, CX_E_CONFIG, EINVAL,
				      "config.ledger: backend \"dir\" takes no other members");
		return 0;
	}
	if (strcmp(s, "etcd") != 0)
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.ledger.backend '%.16s' is not \"dir\" or \"etcd\"", s);
	c->ledger_etcd = true;
	a = json_object_get(l, "endpoints");
	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > CX_ETCD_ENDPOINTS_MAX)
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.ledger.endpoints must list 1 to %d etcd client URLs (\"http://10.0.0.1:2379\")",
			      CX_ETCD_ENDPOINTS_MAX);
	json_array_foreach(a, i, v) {
		s = json_string_value(v);
		if (!s || !endpoint_ok(s))
			return cx_err(err, CX_E_CONFIG, EINVAL,
				      "config.ledger.endpoints[%zu] is not http(s)://HOST[:PORT] with nothing after it",
				      i);
		c->etcd.endpoints[c->etcd.n_endpoints++] = cx_strdup(s);
	}
	r = cx_json_str(l, "prefix", "config.ledger", CX_E_CONFIG, 128, true, &s, err);
	if (r < 0)
		return r;
	s = s ? s : "calyx/";
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return cx_err(err, CX_E_CONFIG, EINVAL,
				      "config.ledger.prefix has a space or control character");
	c->etcd.prefix = cx_strdup(s);
	r = cx_json_int(l, "timeout_ms", "config.ledger", CX_E_CONFIG, 100, 60000, true, &t, err);
	if (r < 0)
		return r;
	c->etcd.timeout_ms = (int)t;
	if ((r = get_path_opt(l, "ca", &c->etcd.ca, err)) < 0 ||
	    (r = get_path_opt(l, "cert", &c->etcd.cert, err)) < 0 ||
	    (r = get_path_opt(l, "key", &c->etcd.key, err)) < 0 ||
	    (r = get_path_opt(l, "password_file", &c->etcd.password_file, err)) < 0)
		return r;
	r = cx_json_str(l, "username", "config.ledger", CX_E_CONFIG, 128, true, &s, err);
	if (r < 0)
		return r;
	if (s) {
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return cx_err(err, CX_E_CONFIG, EINVAL,
					      "config.ledger.username has a control character");
		c->etcd.username = cx_strdup(s);
	}
	if (!c->etcd.username != !c->etcd.password_file)
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.ledger: username and password_file go together (an etcd user and its password)");
	if (!c->etcd.cert != !c->etcd.key)
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.ledger: cert and key go together (the client certificate and its key)");
	return 0;
}

/* "audit_forward": {"journald": BOOL, "syslog": PATH, "syslog_facility": NAME},
 * every member optional. syslog: the absolute path of a local datagram
 * socket (it must fit in sockaddr_un.sun_path; whether anything listens
 * there is the forwarder's business at each line, not the config's).
 * syslog_facility: the names syslog.conf uses for the facilities fit for
 * security events and local use; it sets journald's SYSLOG_FACILITY too. */
static int parse_audit_forward(const json_t *j, cx_config *c, cx_error *err)
{
	static const char *const opt[] = { "journald", "syslog", "syslog_facility", NULL };
	static const struct { const char *name; int code; } fac[] = {
		{ "auth", 4 },     { "authpriv", 10 }, { "daemon", 3 },  { "local0", 16 },
		{ "local1", 17 },  { "local2", 18 },   { "local3", 19 }, { "local4", 20 },
		{ "local5", 21 },  { "local6", 22 },   { "local7", 23 },
	};
	const json_t *f = json_object_get(j, "audit_forward"), *v;
	const char *s;
	size_t i;
	int r;

	c->fwd_facility = CX_FWD_FACILITY_DEFAULT;
	if (!f)
		return 0;
	r = cx_json_keys(f, "config.audit_forward", CX_E_CONFIG, NULL, opt, err);
	if (r < 0)
		return r;
	v = json_object_get(f, "journald");
	if (v && !json_is_boolean(v))
		return cx_err(err, CX_E_CONFIG, EINVAL, "config.audit_forward.journald must be true or false");
	c->fwd_journald = json_is_true(v);
	r = cx_json_str(f, "syslog", "config.audit_forward", CX_E_CONFIG, CX_PATH_MAX, true, &s, err);
	if (r < 0)
		return r;
	if (s && (!cx_path_is_normal(s) || strcmp(s, "/") == 0))
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.audit_forward.syslog '%.200s' is not an absolute normalized path (a local datagram socket, e.g. \"/dev/log\")",
			      s);
	if (s && strlen(s) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return cx_err(err, CX_E_CONFIG, ENAMETOOLONG,
			      "config.audit_forward.syslog '%.200s' is longer than a socket path can be (%zu bytes at most)",
			      s, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	if (s)
		c->fwd_syslog = cx_strdup(s);
	r = cx_json_str(f, "syslog_facility", "config.audit_forward", CX_E_CONFIG, 16, true, &s, err);
	if (r < 0 || !s)
		return r;
	for (i = 0; i < CX_ARRAY_SIZE(fac); i++)
		if (strcmp(s, fac[i].name) == 0)
			break;
	if (i == CX_ARRAY_SIZE(fac))
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.audit_forward.syslog_facility '%.16s' is not authpriv, auth, daemon or local0..local7",
			      s);
	c->fwd_facility = fac[i].code;
	return 0;
}

int cx_config_parse(const uint8_t *buf, size_t len, cx_config *ret, cx_error *err)
{
	static const char *const req[] = { "keyring", "policy", "state_dir", "audit_log",
					   "host_key", NULL };
	static const char *const opt[] = { "v", "host_id", "run_uid", "run_gid", "run_uid_range",
					   "pack_max_age_s", "pack_max_bytes", "bpf_pin_dir", "pools",
					   "ledger", "audit_forward", NULL };
	_cleanup_json_ json_t *j = NULL;
	cx_config c = { 0 };
	const char *s;
	int64_t v, uid = 65534, gid = 65534, first = CX_RUN_UID_FIRST_DEFAULT,
		count = CX_RUN_UID_COUNT_DEFAULT, age = 30LL * 24 * 3600, bytes = 1LL << 30;
	int r;

	r = cx_json_parse_object(buf, len, "config", &j, err);
	if (r < 0) {
		if (err)
			err->reason = CX_E_CONFIG; /* every config problem is E_CONFIG */
		return r;
	}
	r = cx_json_keys(j, "config", CX_E_CONFIG, req, opt, err);
	if (r == 0)
		r = cx_json_int(j, "v", "config", CX_E_CONFIG, 1, 1, true, &v, err);
	if (r == 0)
		r = get_path(j, "keyring", &c.keyring, err);
	if (r == 0)
		r = get_path(j, "policy", &c.policy, err);
	if (r == 0)
		r = get_path(j, "state_dir", &c.state_dir, err);
	if (r == 0)
		r = get_path(j, "audit_log", &c.audit_log, err);
	if (r == 0)
		r = get_path(j, "host_key", &c.host_key, err);
	/* The sandbox never runs as root: ids 1..2^31-2. */
	if (r == 0)
		r = cx_json_int(j, "run_uid", "config", CX_E_CONFIG, 1, 0x7ffffffe, true, &uid, err);
	if (r == 0)
		r = cx_json_int(j, "run_gid", "config", CX_E_CONFIG, 1, 0x7ffffffe, true, &gid, err);
	if (r == 0)
		r = parse_range(j, &first, &count, err);
	if (r == 0)
		r = cx_json_int(j, "pack_max_age_s", "config", CX_E_CONFIG, 0, 10LL * 365 * 24 * 3600, true,
				&age, err);
	if (r == 0)
		r = cx_json_int(j, "pack_max_bytes", "config", CX_E_CONFIG, 0, 1LL << 50, true, &bytes, err);
	/* "bpf_pin_dir": "" (each run loads its own monitor) or a path;
	 * default: the shared monitor under /sys/fs/bpf/calyx. */
	if (r == 0 && json_object_get(j, "bpf_pin_dir") &&
	    !(json_is_string(json_object_get(j, "bpf_pin_dir")) &&
	      json_string_length(json_object_get(j, "bpf_pin_dir")) == 0))
		r = get_path(j, "bpf_pin_dir", &c.bpf_pin_dir, err);
	else if (r == 0)
		c.bpf_pin_dir = cx_strdup(json_object_get(j, "bpf_pin_dir") ? "" : CX_BPF_PIN_DIR_DEFAULT);
	if (r == 0)
		r = parse_pools(j, &c, err);
	if (r == 0)
		r = parse_ledger(j, &c, err);
	if (r == 0)
		r = parse_audit_forward(j, &c, err);
	if (r == 0)
		r = cx_json_str(j, "host_id", "config", CX_E_CONFIG, 128, true, &s, err);
	if (r == 0 && (c.n_pools || c.ledger_etcd) && !s)
		r = cx_err(err, CX_E_CONFIG, EINVAL,
			   "config: pools and a shared ledger need a host_id (how the pool's ledger names this host)");
	if (r < 0) {
		if (err)
			err->reason = CX_E_CONFIG;
		cx_config_free(&c);
		return r;
	}
	if (s)
		c.host_id = cx_strdup(s);
	c.run_uid = (uint32_t)uid;
	c.run_gid = (uint32_t)gid;
	c.run_uid_fixed = json_object_get(j, "run_uid") || json_object_get(j, "run_gid");
	c.run_uid_first = (uint32_t)first;
	c.run_uid_count = (uint32_t)count;
	c.pack_max_age_s = age;
	c.pack_max_bytes = (uint64_t)bytes;
	*ret = c;
	return 0;
}

int cx_config_load(const char *path, uid_t owner, cx_config *ret, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = cx_read_file(path, "config", CX_CONFIG_MAX_BYTES, CX_FILE_TRUSTED, owner, &buf, &len,
			 err);
	if (r < 0)
		return r;
	r = cx_config_parse(buf, len, ret, err);
	if (r < 0) {
		cx_err_prefix(err, "config '%s'", path);
		return r;
	}
	ret->path = cx_strdup(path);
	return 0;
}
