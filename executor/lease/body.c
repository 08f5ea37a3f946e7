/* Lease body: strict parse of the verified payload bytes, and lease file
 * reading.
 * Trust: the body is parsed only after both signatures verified, but is
 * still treated as hostile: signers are people and bots that make mistakes,
 * and every field later drives privileged setup. */
#include "calyx/lease.h"

#include <string.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/path.h"

void cx_lease_free(cx_lease *l)
{
	free(l->run_id);
	free(l->intent_id);
	free(l->audience);
	free(l->purpose);
	for (size_t i = 0; i < CX_LEASE_SIGS; i++)
		free(l->signer[i].principal);
	cx_run_spec_free(&l->spec);
	memset(l, 0, sizeof(*l));
}

const char *cx_lease_pool(const cx_lease *l)
{
	return l->audience && strncmp(l->audience, "pool:", 5) == 0 ? l->audience + 5 : NULL;
}

int cx_lease_read(const char *path, uint8_t **ret_buf, size_t *ret_len, cx_error *err)
{
	return cx_read_file(path, "lease", CX_LEASE_MAX_BYTES, 0, 0, ret_buf, ret_len, err);
}

/* Identifiers end up in file names, logs and result JSON: a conservative
 * alphabet, starting with an alphanumeric (so never "." or ".."). */
bool cx_id_ok(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && !(i > 0 && (c == '.' || c == '_' || c == '-' || c == ':' || c == '@')))
			return false;
	}
	return i > 0 && i <= CX_ID_MAX;
}

bool cx_pool_name_ok(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && !(i > 0 && (c == '.' || c == '_' || c == '-')))
			return false;
	}
	return i > 0 && i <= 64;
}

static int get_id(const json_t *o, const char *key, bool optional, char **out, cx_error *err)
{
	const char *s;
	int r = cx_json_str(o, key, "lease", CX_E_BODY, CX_ID_MAX, optional, &s, err);
	if (r < 0)
		return r;
	if (!s)
		return 0;
	if (!cx_id_ok(s))
		return cx_err(err, CX_E_BODY, EINVAL,
			      "lease.%s '%.64s' has characters outside [A-Za-z0-9._:@-] or does not start alphanumeric",
			      key, s);
	*out = cx_strdup(s);
	return 0;
}

static int get_time(const json_t *o, const char *key, int64_t *out, cx_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return cx_err(err, CX_E_BODY, EINVAL, "lease is missing required field '%s'", key);
	if (!json_is_integer(v))
		return cx_err(err, CX_E_TIME, EINVAL,
			      "lease.%s must be an integer of Unix seconds", key);
	if (json_integer_value(v) < 0 || json_integer_value(v) > CX_LEASE_TIME_MAX)
		return cx_err(err, CX_E_TIME, ERANGE, "lease.%s = %lld is out of range 0..%lld", key,
			      (long long)json_integer_value(v), (long long)CX_LEASE_TIME_MAX);
	*out = json_integer_value(v);
	return 0;
}

static int get_path(const json_t *o, const char *key, const char *what, bool optional,
		    char **out, cx_error *err)
{
	const char *s;
	int r = cx_json_str(o, key, what, CX_E_BODY, 4096, optional, &s, err);
	if (r < 0 || !s)
		return r;
	if (!cx_path_is_normal(s))
		return cx_err(err, CX_E_PATH_NOT_NORMAL, EINVAL,
			      "%s.%s '%.200s' is not an absolute normalized path (no '.', '..', '//' or trailing '/')",
			      what, key, s);
	*out = cx_strdup(s);
	return 0;
}

static int parse_argv(const json_t *arr, const char *what, cx_strv *out, cx_error *err)
{
	size_t total = 0;
	int r = cx_strv_from_json(arr, what, CX_E_BODY, CX_SPEC_ARGV_MAX, CX_SPEC_ARG_MAX,
				  CX_STRV_NONEMPTY, out, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < out->n; i++)
		total += strlen(out->v[i]) + 1;
	/* argv[0] is executed directly as the sandbox sees it: no shell, no
	 * PATH search, so it must be an absolute normalized path. */
	if (!cx_path_is_normal(out->v[0]) || total > 128 * 1024) {
		r = cx_err(err, out->v[0][0] == '/' ? CX_E_PATH_NOT_NORMAL : CX_E_POLICY_COMMAND,
			   EINVAL,
			   total > 128 * 1024 ? "%s is longer than 128 KiB in all"
					      : "%s[0] '%.200s' is not an absolute normalized path (commands run without a shell or PATH search)",
			   what, out->v[0]);
		cx_strv_free(out);
	}
	return r;
}

int cx_lease_body_parse(const uint8_t *buf, size_t len, cx_lease *ret, cx_error *err)
{
	static const char *const req[] = { "v", "lease_id", "run_id", "issued_at", "not_before",
					   "not_after", "policy_sha256", "argv", NULL };
	static const char *const opt[] = { "intent_id", "audience", "cwd", "env", "workspace",
					   "paths", "limits", "network", "validate", "purpose",
					   "stdin", "exec", "count", NULL };
	static const char *const path_keys[] = { "ro", "rw", NULL };
	static const char *const validate_keys[] = { "argv", NULL };
	_cleanup_json_ json_t *j = NULL;
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	const char *s;
	json_t *v;
	int64_t ver;
	int r;

	if (len > CX_LEASE_BODY_MAX_BYTES)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "lease body is above %u bytes",
			      CX_LEASE_BODY_MAX_BYTES);
	r = cx_json_parse_object(buf, len, "lease body", &j, err);
	if (r < 0)
		return r;
	r = cx_json_keys(j, "lease", CX_E_BODY, req, opt, err);
	if (r < 0)
		return r;
	r = cx_json_int(j, "v", "lease", CX_E_BODY, 1, 1, false, &ver, err);
	if (r < 0)
		return r;
	r = cx_json_str(j, "lease_id", "lease", CX_E_BODY, 64, false, &s, err);
	if (r < 0)
		return r;
	if (!cx_is_lower_hex(s, 32))
		return cx_err(err, CX_E_BODY, EINVAL, "lease.lease_id '%.64s' is not 32 lowercase hex", s);
	memcpy(l.lease_id, s, 33);
	if ((r = get_id(j, "run_id", false, &l.run_id, err)) < 0 ||
	    (r = get_id(j, "intent_id", true, &l.intent_id, err)) < 0 ||
	    (r = get_id(j, "audience", true, &l.audience, err)) < 0)
		return r;
	/* "pool:NAME": a pool of hosts (config.pools), NAME as a pool name */
	if (l.audience && strncmp(l.audience, "pool:", 5) == 0) {
		if (!cx_pool_name_ok(l.audience + 5))
			return cx_err(err, CX_E_BODY, EINVAL,
				      "lease.audience '%.70s' is not pool:NAME (NAME: 1-64 of [A-Za-z0-9._-])",
				      l.audience);
	}
	l.count = 1;
	r = cx_json_int(j, "count", "lease", CX_E_BODY, 1, CX_LEASE_COUNT_MAX, true, &l.count, err);
	if (r < 0)
		return r;
	if (json_object_get(j, "count") && !cx_lease_pool(&l))
		return cx_err(err, CX_E_BODY, EINVAL,
			      "lease.count is for pool leases (\"audience\": \"pool:NAME\")");
	r = cx_json_str(j, "purpose", "lease", CX_E_BODY, CX_PURPOSE_MAX, true, &s, err);
	if (r < 0)
		return r;
	if (s)
		l.purpose = cx_strdup(s);
	if ((r = get_time(j, "issued_at", &l.issued_at, err)) < 0 ||
	    (r = get_time(j, "not_before", &l.not_before, err)) < 0 ||
	    (r = get_time(j, "not_after", &l.not_after, err)) < 0)
		return r;
	if (l.not_after <= l.not_before)
		return cx_err(err, CX_E_TIME, EINVAL, "lease.not_after is not after lease.not_before");
	if (l.issued_at >= l.not_after)
		return cx_err(err, CX_E_TIME, EINVAL, "lease.issued_at is not before lease.not_after");
	r = cx_json_str(j, "policy_sha256", "lease", CX_E_BODY, 64, false, &s, err);
	if (r < 0)
		return r;
	if (!cx_is_lower_hex(s, 64))
		return cx_err(err, CX_E_BODY, EINVAL, "lease.policy_sha256 is not 64 lowercase hex");
	memcpy(l.policy_sha256, s, 65);

	r = parse_argv(json_object_get(j, "argv"), "lease.argv", &l.spec.argv, err);
	if (r < 0)
		return r;
	if ((v = json_object_get(j, "validate"))) {
		r = cx_json_keys(v, "lease.validate", CX_E_BODY, validate_keys, NULL, err);
		if (r == 0)
			r = parse_argv(json_object_get(v, "argv"), "lease.validate.argv",
				       &l.spec.validate_argv, err);
		if (r < 0)
			return r;
	}
	if ((r = get_path(j, "workspace", "lease", true, &l.spec.workspace, err)) < 0 ||
	    (r = get_path(j, "cwd", "lease", true, &l.spec.cwd, err)) < 0)
		return r;
	if (!l.spec.cwd)
		l.spec.cwd = cx_strdup(l.spec.workspace ? "/work" : "/");
	if ((v = json_object_get(j, "env"))) {
		r = cx_env_from_json(v, "lease.env", CX_E_BODY, &l.spec.env, err);
		if (r < 0)
			return r;
	}
	if ((v = json_object_get(j, "paths"))) {
		r = cx_json_keys(v, "lease.paths", CX_E_BODY, NULL, path_keys, err);
		if (r < 0)
			return r;
		if (json_object_get(v, "ro") &&
		    (r = cx_strv_from_json(json_object_get(v, "ro"), "lease.paths.ro", CX_E_BODY,
					   CX_SPEC_PATHS_MAX, 4096, CX_STRV_PATHS | CX_STRV_UNIQUE,
					   &l.spec.ro, err)) < 0)
			return r;
		if (json_object_get(v, "rw") &&
		    (r = cx_strv_from_json(json_object_get(v, "rw"), "lease.paths.rw", CX_E_BODY,
					   CX_SPEC_PATHS_MAX, 4096, CX_STRV_PATHS | CX_STRV_UNIQUE,
					   &l.spec.rw, err)) < 0)
			return r;
	}
	/* What may run besides argv[0]: paths as the view shows them. */
	if ((v = json_object_get(j, "exec")) &&
	    (r = cx_strv_from_json(v, "lease.exec", CX_E_BODY, CX_SPEC_PATHS_MAX, 4096,
				   CX_STRV_PATHS | CX_STRV_UNIQUE, &l.spec.exec, err)) < 0)
		return r;
	if ((v = json_object_get(j, "limits"))) {
		r = cx_limits_from_json(v, "lease.limits", CX_E_BODY, false, &l.spec.limits, err);
		if (r < 0)
			return r;
	}
	r = cx_json_str(j, "network", "lease", CX_E_BODY, 32, true, &s, err);
	if (r < 0)
		return r;
	if (s && cx_network_parse(s, &l.spec.network) < 0)
		return cx_err(err, CX_E_BODY, EINVAL, "lease.network '%.32s' is neither 'none' nor 'loopback'", s);
	r = cx_json_str(j, "stdin", "lease", CX_E_BODY, 16, true, &s, err);
	if (r < 0)
		return r;
	if (s && strcmp(s, "inherit") != 0 && strcmp(s, "null") != 0)
		return cx_err(err, CX_E_BODY, EINVAL, "lease.stdin '%.16s' is neither 'null' nor 'inherit'", s);
	l.spec.stdin_inherit = s && strcmp(s, "inherit") == 0;
	*ret = TAKE_STRUCT(l);
	return 0;
}
