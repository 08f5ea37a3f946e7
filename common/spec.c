/* Run-spec containers and their strict JSON readers. Trust: pure. */
#include "calyx/spec.h"

#include <string.h>

#include "calyx/jsonx.h"
#include "calyx/path.h"

static const char *const limit_names[CX_LIM__COUNT] = {
	"cpu_ms", "memory_bytes", "pids", "wall_ms", "nofile", "fsize_bytes", "tmp_bytes",
	"disk_bytes", "inodes", "execs",
};

/* Sanity ceilings independent of any policy: a typo of three zeros in a
 * policy must not turn into "unlimited". */
static const uint64_t limit_hard_max[CX_LIM__COUNT] = {
	[CX_LIM_CPU_MS] = 7ull * 24 * 3600 * 1000,     /* a week of CPU */
	[CX_LIM_MEMORY_BYTES] = 1ull << 40,            /* 1 TiB */
	[CX_LIM_PIDS] = 1u << 20,
	[CX_LIM_WALL_MS] = 7ull * 24 * 3600 * 1000,
	[CX_LIM_NOFILE] = 1u << 20,
	[CX_LIM_FSIZE_BYTES] = 1ull << 42,
	[CX_LIM_TMP_BYTES] = 1ull << 40,
	[CX_LIM_DISK_BYTES] = 1ull << 40,              /* 1 TiB */
	/* a commit touches at most 1,000,000 entries (the workspace engine's
	 * bound): a run may not be allowed to leave more than could commit */
	[CX_LIM_INODES] = 1000000,
	/* each exec event is an audit line (~0.5 KiB): a million is ~0.5 GB */
	[CX_LIM_EXECS] = 1u << 20,
};

/* What a policy that predates the workspace quotas gets: conservative
 * (a run that writes more needs a policy that says so). The scratch is a
 * tmpfs, charged to the run's memory too (README "Quotas and halts").
 * The exec quota's: a big build (zlib's configure, make and tests start
 * ~300 programs; a kernel build tens of thousands) needs a policy that
 * says so; every exec up to it is audited, the next one halts the run. */
static const uint64_t limit_builtin[CX_LIM__COUNT] = {
	[CX_LIM_DISK_BYTES] = 256ull << 20, /* 256 MiB */
	[CX_LIM_INODES] = 16384,
	[CX_LIM_EXECS] = 8192,
};

const char *cx_limit_name(int i)
{
	return i >= 0 && i < CX_LIM__COUNT ? limit_names[i] : "?";
}

uint64_t cx_limit_hard_max(int i)
{
	return i >= 0 && i < CX_LIM__COUNT ? limit_hard_max[i] : 0;
}

bool cx_limit_optional(int i)
{
	return cx_limit_builtin(i) != 0;
}

uint64_t cx_limit_builtin(int i)
{
	return i >= 0 && i < CX_LIM__COUNT ? limit_builtin[i] : 0;
}

const char *cx_network_name(cx_network n)
{
	return n == CX_NET_LOOPBACK ? "loopback" : "none";
}

int cx_network_parse(const char *s, cx_network *ret)
{
	if (strcmp(s, "none") == 0)
		*ret = CX_NET_NONE;
	else if (strcmp(s, "loopback") == 0)
		*ret = CX_NET_LOOPBACK;
	else
		return -EINVAL;
	return 0;
}

void cx_strv_free(cx_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void cx_env_free(cx_env *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->name[i]);
		free(e->value[i]);
	}
	free(e->name);
	free(e->value);
	memset(e, 0, sizeof(*e));
}

void cx_run_spec_free(cx_run_spec *s)
{
	cx_strv_free(&s->argv);
	cx_strv_free(&s->validate_argv);
	cx_strv_free(&s->ro);
	cx_strv_free(&s->rw);
	cx_strv_free(&s->exec);
	cx_env_free(&s->env);
	free(s->cwd);
	free(s->workspace);
	memset(s, 0, sizeof(*s));
}

bool cx_strv_contains(const cx_strv *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return true;
	return false;
}

const char *cx_env_get(const cx_env *e, const char *name)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->name[i], name) == 0)
			return e->value[i];
	return NULL;
}

int cx_strv_push(cx_strv *s, const char *x)
{
	char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
	CX_CHECK(v);
	s->v = v;
	s->v[s->n++] = cx_strdup(x);
	return 0;
}

int cx_env_push(cx_env *e, const char *name, const char *value)
{
	char **n = realloc(e->name, (e->n + 1) * sizeof(*n));
	CX_CHECK(n);
	e->name = n;
	char **v = realloc(e->value, (e->n + 1) * sizeof(*v));
	CX_CHECK(v);
	e->value = v;
	e->name[e->n] = cx_strdup(name);
	e->value[e->n] = cx_strdup(value);
	e->n++;
	return 0;
}

bool cx_env_name_is_valid(const char *name)
{
	size_t i;
	if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
	      name[0] == '_'))
		return false;
	for (i = 1; name[i]; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return i <= CX_SPEC_ENV_NAME_MAX;
}

bool cx_env_name_is_dangerous(const char *name)
{
	/* Names that make the dynamic loader, libc, a shell or a common
	 * interpreter load or run code chosen by whoever sets them. */
	static const char *const exact[] = {
		"BASH_ENV", "ENV", "IFS", "CDPATH", "GLOBIGNORE", "SHELLOPTS", "BASHOPTS",
		"PS4", "PROMPT_COMMAND", "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES",
		"LOCALDOMAIN", "RES_OPTIONS", "NLSPATH", "MALLOC_CHECK_", "MALLOC_TRACE",
		"TMPDIR", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT",
		"PERL5LIB", "PERLLIB", "PERL5OPT", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS",
		"NODE_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "LUA_PATH", "LUA_CPATH",
		"LUA_INIT", "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_CONFIG",
		"EDITOR", "VISUAL", "PAGER", "BROWSER", "SSH_ASKPASS", "SUDO_ASKPASS",
		"OPENSSL_CONF", "OPENSSL_ENGINES", "GLIBC_TUNABLES",
	};
	static const char *const prefix[] = { "LD_", "DYLD_", "BASH_FUNC_", "GCONV_" };

	for (size_t i = 0; i < CX_ARRAY_SIZE(exact); i++)
		if (strcmp(name, exact[i]) == 0)
			return true;
	for (size_t i = 0; i < CX_ARRAY_SIZE(prefix); i++)
		if (strncmp(name, prefix[i], strlen(prefix[i])) == 0)
			return true;
	return false;
}

int cx_strv_from_json(const json_t *arr, const char *what, int reason,
		      size_t max_n, size_t max_len, unsigned flags,
		      cx_strv *ret, cx_error *err)
{
	cx_strv out = { 0 };
	size_t i;
	json_t *v;
	int r;

	if (!json_is_array(arr))
		return cx_err(err, reason, EINVAL, "%s must be an array of strings", what);
	if (json_array_size(arr) > max_n)
		return cx_err(err, reason, E2BIG, "%s has more than %zu entries", what, max_n);
	if ((flags & CX_STRV_NONEMPTY) && json_array_size(arr) == 0)
		return cx_err(err, reason, EINVAL, "%s must not be empty", what);
	out.v = cx_calloc(json_array_size(arr), sizeof(char *));
	json_array_foreach((json_t *)arr, i, v) {
		char name[160];
		const char *s;

		snprintf(name, sizeof(name), "%s[%zu]", what, i);
		r = cx_json_str_value(v, name, reason, max_len, &s, err);
		if (r < 0)
			goto fail;
		if ((flags & CX_STRV_PATHS) && !cx_path_is_normal(s)) {
			r = cx_err(err, CX_E_PATH_NOT_NORMAL, EINVAL,
				   "%s '%.200s' is not an absolute normalized path (no '.', '..', '//' or trailing '/')",
				   name, s);
			goto fail;
		}
		if ((flags & CX_STRV_UNIQUE) && cx_strv_contains(&out, s)) {
			r = cx_err(err, reason, EINVAL, "%s '%.200s' is listed twice", name, s);
			goto fail;
		}
		out.v[out.n++] = cx_strdup(s);
	}
	*ret = out;
	return 0;
fail:
	cx_strv_free(&out);
	return r;
}

int cx_env_from_json(const json_t *obj, const char *what, int reason,
		     cx_env *ret, cx_error *err)
{
	cx_env out = { 0 };
	const char *k;
	json_t *v;
	int r;

	if (!json_is_object(obj))
		return cx_err(err, reason, EINVAL, "%s must be an object of strings", what);
	if (json_object_size(obj) > CX_SPEC_ENV_MAX)
		return cx_err(err, reason, E2BIG, "%s has more than %d entries", what,
			      CX_SPEC_ENV_MAX);
	json_object_foreach((json_t *)obj, k, v) {
		char name[200];
		const char *s;

		if (strlen(k) == 0 || !cx_env_name_is_valid(k)) {
			r = cx_err(err, reason, EINVAL,
				   "%s has invalid variable name '%.64s' (use [A-Za-z_][A-Za-z0-9_]*)",
				   what, k);
			goto fail;
		}
		snprintf(name, sizeof(name), "%s.%s", what, k);
		if (!json_is_string(v)) {
			r = cx_err(err, reason, EINVAL, "%s must be a string", name);
			goto fail;
		}
		s = json_string_value(v);
		if (strlen(s) != json_string_length(v) ||
		    json_string_length(v) > CX_SPEC_ENV_VAL_MAX) {
			r = cx_err(err, reason, EINVAL, "%s contains a NUL or is longer than %d bytes",
				   name, CX_SPEC_ENV_VAL_MAX);
			goto fail;
		}
		cx_env_push(&out, k, s);
	}
	*ret = out;
	return 0;
fail:
	cx_env_free(&out);
	return r;
}

int cx_limits_from_json(const json_t *obj, const char *what, int reason,
			bool require_all, cx_limits *ret, cx_error *err)
{
	cx_limits out = { 0 };
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return cx_err(err, reason, EINVAL, "%s must be an object", what);
	json_object_foreach((json_t *)obj, k, v) {
		int i;
		json_int_t x;

		for (i = 0; i < CX_LIM__COUNT; i++)
			if (strcmp(k, limit_names[i]) == 0)
				break;
		if (i == CX_LIM__COUNT)
			return cx_err(err, reason, EINVAL, "%s has unknown limit '%.64s'", what, k);
		if (!json_is_integer(v))
			return cx_err(err, reason, EINVAL, "%s.%s must be an integer", what, k);
		x = json_integer_value(v);
		if (x <= 0 || (uint64_t)x > limit_hard_max[i])
			return cx_err(err, reason, ERANGE, "%s.%s = %lld is outside 1..%llu", what,
				      k, (long long)x, (unsigned long long)limit_hard_max[i]);
		out.v[i] = (uint64_t)x;
		out.set |= 1u << i;
	}
	if (require_all)
		for (int i = 0; i < CX_LIM__COUNT; i++)
			if (!(out.set & (1u << i)) && !cx_limit_optional(i))
				return cx_err(err, reason, EINVAL, "%s is missing limit '%s'", what,
					      limit_names[i]);
	*ret = out;
	return 0;
}
