/* Policy parsing and "is this lease within this policy".
 * Trust: the policy is root-owned and authored by the security team; the
 * request checked against it comes from a lease and is hostile. Every rule
 * that refuses names itself in the message. */
#include "calyx/policy.h"

#include <seccomp.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/path.h"

#define POLICY_LIST_MAX 256

void cx_policy_free(cx_policy *p)
{
	cx_strv_free(&p->commands);
	cx_strv_free(&p->read);
	cx_strv_free(&p->write);
	cx_strv_free(&p->exec);
	cx_strv_free(&p->env_allow);
	cx_env_free(&p->env_set);
	cx_strv_free(&p->syscalls_deny);
	cx_strv_free(&p->unix_sockets);
	memset(p, 0, sizeof(*p));
}

static int parse_paths(const json_t *j, const char *key, cx_strv *out, cx_error *err)
{
	char what[64];
	json_t *v = json_object_get(j, key);

	if (!v)
		return 0;
	snprintf(what, sizeof(what), "policy.%s", key);
	return cx_strv_from_json(v, what, CX_E_POLICY, POLICY_LIST_MAX, CX_PATH_MAX,
				 CX_STRV_PATHS | CX_STRV_UNIQUE, out, err);
}

static int parse_env(const json_t *j, cx_policy *p, cx_error *err)
{
	static const char *const keys[] = { "allow", "set", NULL };
	json_t *env = json_object_get(j, "env"), *v;
	int r;

	if (!env)
		return 0;
	r = cx_json_keys(env, "policy.env", CX_E_POLICY, NULL, keys, err);
	if (r < 0)
		return r;
	if ((v = json_object_get(env, "allow"))) {
		r = cx_strv_from_json(v, "policy.env.allow", CX_E_POLICY, CX_SPEC_ENV_MAX,
				      CX_SPEC_ENV_NAME_MAX, CX_STRV_UNIQUE, &p->env_allow, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < p->env_allow.n; i++) {
			const char *n = p->env_allow.v[i];
			if (!cx_env_name_is_valid(n))
				return cx_err(err, CX_E_POLICY, EINVAL,
					      "policy.env.allow[%zu] '%.64s' is not a variable name", i, n);
			if (cx_env_name_is_dangerous(n))
				return cx_err(err, CX_E_POLICY, EINVAL,
					      "policy.env.allow[%zu] '%s' lets a lease inject code into the loader or an interpreter (remove it)",
					      i, n);
		}
	}
	if ((v = json_object_get(env, "set"))) {
		r = cx_env_from_json(v, "policy.env.set", CX_E_POLICY, &p->env_set, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < p->env_set.n; i++) {
			if (cx_env_name_is_dangerous(p->env_set.name[i]))
				return cx_err(err, CX_E_POLICY, EINVAL,
					      "policy.env.set.%s is a loader/interpreter injection variable (remove it)",
					      p->env_set.name[i]);
			if (cx_strv_contains(&p->env_allow, p->env_set.name[i]))
				return cx_err(err, CX_E_POLICY, EINVAL,
					      "policy.env.set.%s is also in env.allow; a name is either fixed or leasable",
					      p->env_set.name[i]);
		}
	}
	return 0;
}

static int parse_limits(const json_t *j, cx_policy *p, cx_error *err)
{
	static const char *const keys[] = { "max", "default", NULL };
	json_t *lim = json_object_get(j, "limits");
	int r;

	r = cx_json_keys(lim, "policy.limits", CX_E_POLICY, keys, NULL, err);
	if (r < 0)
		return r;
	r = cx_limits_from_json(json_object_get(lim, "max"), "policy.limits.max", CX_E_POLICY, true,
				&p->max, err);
	if (r < 0)
		return r;
	r = cx_limits_from_json(json_object_get(lim, "default"), "policy.limits.default",
				CX_E_POLICY, true, &p->def, err);
	if (r < 0)
		return r;
	/* The workspace quotas a policy leaves out: the built-in value is the
	 * ceiling, and the default (never above a ceiling the policy set).
	 * set bits keep saying what the file itself named (lint, diff). */
	for (int i = 0; i < CX_LIM__COUNT; i++) {
		uint64_t b = cx_limit_builtin(i);
		if (!cx_limit_optional(i))
			continue;
		if (!(p->max.set & (1u << i)))
			p->max.v[i] = b;
		if (!(p->def.set & (1u << i)))
			p->def.v[i] = p->max.v[i] < b ? p->max.v[i] : b;
	}
	for (int i = 0; i < CX_LIM__COUNT; i++)
		if (p->def.v[i] > p->max.v[i])
			return cx_err(err, CX_E_POLICY, EINVAL,
				      "policy.limits.default.%s (%llu) is above limits.max.%s (%llu%s)",
				      cx_limit_name(i), (unsigned long long)p->def.v[i],
				      cx_limit_name(i), (unsigned long long)p->max.v[i],
				      (p->max.set & (1u << i)) ? ""
				      : ", built in: set limits.max to allow more");
	return 0;
}

static int parse_network(const json_t *j, cx_policy *p, cx_error *err)
{
	cx_strv modes = { 0 };
	int r = cx_strv_from_json(json_object_get(j, "network"), "policy.network", CX_E_POLICY, 2,
				  16, CX_STRV_NONEMPTY | CX_STRV_UNIQUE, &modes, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < modes.n && r == 0; i++) {
		cx_network n;
		if (cx_network_parse(modes.v[i], &n) < 0)
			r = cx_err(err, CX_E_POLICY, EINVAL,
				   "policy.network[%zu] '%.32s' is neither 'none' nor 'loopback'", i,
				   modes.v[i]);
		else
			p->network_mask |= 1u << n;
	}
	cx_strv_free(&modes);
	return r;
}

static int parse_lease_rules(const json_t *j, cx_policy *p, cx_error *err)
{
	static const char *const keys[] = { "max_lifetime_s", "clock_skew_s", NULL };
	static const char *const opt[] = { "require_audience", NULL };
	json_t *l = json_object_get(j, "lease"), *ra;
	int r;

	r = cx_json_keys(l, "policy.lease", CX_E_POLICY, keys, opt, err);
	if (r < 0)
		return r;
	r = cx_json_int(l, "max_lifetime_s", "policy.lease", CX_E_POLICY, 1, CX_POLICY_LIFETIME_MAX,
			false, &p->max_lifetime_s, err);
	if (r < 0)
		return r;
	r = cx_json_int(l, "clock_skew_s", "policy.lease", CX_E_POLICY, 0, CX_POLICY_SKEW_MAX, false,
			&p->clock_skew_s, err);
	if (r < 0)
		return r;
	if ((ra = json_object_get(l, "require_audience"))) {
		if (!json_is_boolean(ra))
			return cx_err(err, CX_E_POLICY, EINVAL,
				      "policy.lease.require_audience must be true or false");
		p->require_audience = json_is_true(ra);
	}
	return 0;
}

static int parse_syscalls(const json_t *j, cx_policy *p, cx_error *err)
{
	static const char *const keys[] = { "deny", NULL };
	json_t *s = json_object_get(j, "syscalls");
	int r;

	if (!s)
		return 0;
	r = cx_json_keys(s, "policy.syscalls", CX_E_POLICY, NULL, keys, err);
	if (r < 0 || !json_object_get(s, "deny"))
		return r;
	r = cx_strv_from_json(json_object_get(s, "deny"), "policy.syscalls.deny", CX_E_POLICY, 512,
			      64, CX_STRV_UNIQUE, &p->syscalls_deny, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->syscalls_deny.n; i++)
		if (seccomp_syscall_resolve_name(p->syscalls_deny.v[i]) == __NR_SCMP_ERROR)
			return cx_err(err, CX_E_POLICY, EINVAL,
				      "policy.syscalls.deny[%zu] '%.64s' is not a syscall name libseccomp knows",
				      i, p->syscalls_deny.v[i]);
	return 0;
}

int cx_policy_parse(const uint8_t *buf, size_t len, cx_policy *ret, cx_error *err)
{
	static const char *const req[] = { "v", "commands", "limits", "network", "lease", NULL };
	static const char *const opt[] = { "read", "write", "exec", "env", "syscalls", "landlock",
					   "dev_shm", "workspace_lock", "unix_sockets", "root_owned_trees",
					   "exec_guard", NULL };
	_cleanup_json_ json_t *j = NULL;
	cx_policy p = { 0 };
	int64_t v;
	int r;

	if (len > CX_POLICY_MAX_BYTES)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "policy is above %u bytes", CX_POLICY_MAX_BYTES);
	/* The hash is over exactly the bytes parsed below. */
	cx_sha256(buf, len, p.sha256);
	cx_hex_encode(p.sha256, 32, p.sha256_hex);
	r = cx_json_parse_object(buf, len, "policy", &j, err);
	if (r < 0)
		return r;
	r = cx_json_keys(j, "policy", CX_E_POLICY, req, opt, err);
	if (r == 0)
		r = cx_json_int(j, "v", "policy", CX_E_POLICY, 1, 1, false, &v, err);
	if (r == 0)
		r = cx_strv_from_json(json_object_get(j, "commands"), "policy.commands", CX_E_POLICY,
				      POLICY_LIST_MAX, CX_PATH_MAX, CX_STRV_PATHS | CX_STRV_UNIQUE,
				      &p.commands, err);
	if (r == 0)
		r = parse_paths(j, "read", &p.read, err);
	if (r == 0)
		r = parse_paths(j, "write", &p.write, err);
	if (r == 0 && json_object_get(j, "exec"))
		r = cx_strv_from_json(json_object_get(j, "exec"), "policy.exec", CX_E_POLICY,
				      CX_SPEC_PATHS_MAX, CX_PATH_MAX, CX_STRV_PATHS | CX_STRV_UNIQUE,
				      &p.exec, err);
	if (r == 0)
		r = parse_env(j, &p, err);
	if (r == 0)
		r = parse_limits(j, &p, err);
	if (r == 0)
		r = parse_network(j, &p, err);
	if (r == 0)
		r = parse_lease_rules(j, &p, err);
	if (r == 0)
		r = parse_syscalls(j, &p, err);
	/* Host sockets a run may reach by name: an opt-in per socket, never
	 * per tree (see sandbox/view.c for why the rest stay unreachable). */
	if (r == 0 && json_object_get(j, "unix_sockets"))
		r = cx_strv_from_json(json_object_get(j, "unix_sockets"), "policy.unix_sockets",
				      CX_E_POLICY, CX_POLICY_SOCKETS_MAX, CX_PATH_MAX,
				      CX_STRV_PATHS | CX_STRV_UNIQUE, &p.unix_sockets, err);
	if (r == 0) {
		const char *ll = NULL;
		r = cx_json_str(j, "landlock", "policy", CX_E_POLICY, 16, true, &ll, err);
		if (r == 0 && ll && strcmp(ll, "optional") != 0 && strcmp(ll, "required") != 0)
			r = cx_err(err, CX_E_POLICY, EINVAL,
				   "policy.landlock '%.16s' is neither 'required' nor 'optional'", ll);
		p.landlock_optional = r == 0 && ll && strcmp(ll, "optional") == 0;
	}
	/* The BPF loader guard (monitor.bpf.c): "optional" lets runs go on
	 * where it cannot be attached, with `ld.so PROGRAM` then open to any
	 * program that can exec. */
	if (r == 0) {
		const char *eg = NULL;
		r = cx_json_str(j, "exec_guard", "policy", CX_E_POLICY, 16, true, &eg, err);
		if (r == 0 && eg && strcmp(eg, "optional") != 0 && strcmp(eg, "required") != 0)
			r = cx_err(err, CX_E_POLICY, EINVAL,
				   "policy.exec_guard '%.16s' is neither 'required' nor 'optional'", eg);
		p.exec_guard_optional = r == 0 && eg && strcmp(eg, "optional") == 0;
	}
	if (r == 0) {
		const char *wl = NULL;
		r = cx_json_str(j, "workspace_lock", "policy", CX_E_POLICY, 16, true, &wl, err);
		if (r == 0 && wl && strcmp(wl, "wait") != 0 && strcmp(wl, "refuse") != 0)
			r = cx_err(err, CX_E_POLICY, EINVAL,
				   "policy.workspace_lock '%.16s' is neither 'wait' nor 'refuse'", wl);
		p.workspace_wait = r == 0 && wl && strcmp(wl, "wait") == 0;
	}
	/* A root-owned workspace or rw tree is mounted so that the run owns
	 * root's files in it: only where the policy says so. */
	if (r == 0) {
		const char *ro = NULL;
		r = cx_json_str(j, "root_owned_trees", "policy", CX_E_POLICY, 16, true, &ro, err);
		if (r == 0 && ro && strcmp(ro, "allow") != 0 && strcmp(ro, "refuse") != 0)
			r = cx_err(err, CX_E_POLICY, EINVAL,
				   "policy.root_owned_trees '%.16s' is neither 'allow' nor 'refuse'", ro);
		p.root_owned_trees = r == 0 && ro && strcmp(ro, "allow") == 0;
	}
	if (r == 0 && json_object_get(j, "dev_shm")) {
		if (!json_is_boolean(json_object_get(j, "dev_shm")))
			r = cx_err(err, CX_E_POLICY, EINVAL, "policy.dev_shm must be true or false");
		else
			p.dev_shm = json_is_true(json_object_get(j, "dev_shm"));
	}
	if (r < 0) {
		if (err && err->reason == CX_E_PATH_NOT_NORMAL)
			err->reason = CX_E_POLICY;
		cx_policy_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

int cx_policy_load(const char *path, uid_t owner, cx_policy *ret, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = cx_read_file(path, "policy", CX_POLICY_MAX_BYTES, CX_FILE_TRUSTED, owner, &buf, &len,
			 err);
	if (r < 0)
		return r;
	r = cx_policy_parse(buf, len, ret, err);
	if (r < 0)
		cx_err_prefix(err, "policy '%s'", path);
	return r;
}

static bool within_any(const char *path, const cx_strv *trees)
{
	for (size_t i = 0; i < trees->n; i++)
		if (cx_path_within(path, trees->v[i]))
			return true;
	return false;
}

static int check_command(const cx_policy *p, const cx_strv *argv, const char *what,
			 cx_error *err)
{
	if (!cx_strv_contains(&p->commands, argv->v[0]))
		return cx_err(err, CX_E_POLICY_COMMAND, EPERM,
			      "%s '%.200s' is not in the policy's commands (use a listed command or ask the security team to add it)",
			      what, argv->v[0]);
	return 0;
}

static int check_paths(const cx_policy *p, const cx_run_spec *req, cx_error *err)
{
	if (req->workspace && !within_any(req->workspace, &p->write))
		return cx_err(err, CX_E_POLICY_PATH, EPERM,
			      "lease.workspace '%.200s' is outside the policy's write trees", req->workspace);
	for (size_t i = 0; i < req->rw.n; i++)
		if (!within_any(req->rw.v[i], &p->write))
			return cx_err(err, CX_E_POLICY_PATH, EPERM,
				      "lease.paths.rw '%.200s' is outside the policy's write trees",
				      req->rw.v[i]);
	for (size_t i = 0; i < req->ro.n; i++)
		if (!within_any(req->ro.v[i], &p->read) && !within_any(req->ro.v[i], &p->write))
			return cx_err(err, CX_E_POLICY_PATH, EPERM,
				      "lease.paths.ro '%.200s' is outside the policy's read and write trees",
				      req->ro.v[i]);
	/* What the run may execute: within the policy's exec entries, and
	 * somewhere the view will contain. */
	for (size_t i = 0; i < req->exec.n; i++) {
		const char *x = req->exec.v[i];
		if (!within_any(x, &p->exec))
			return cx_err(err, CX_E_POLICY_COMMAND, EPERM,
				      "lease.exec '%.200s' is not within the policy's exec entries (remove it from the lease or ask the security team to add it)",
				      x);
		if (!(req->workspace && cx_path_within(x, "/work")) && !within_any(x, &req->ro) &&
		    !within_any(x, &req->rw))
			return cx_err(err, CX_E_POLICY_PATH, EPERM,
				      "lease.exec '%.200s' is not inside /work or a path the lease mounts (add its tree to paths.ro)",
				      x);
	}
	/* The working directory must be somewhere the view will contain. */
	if (strcmp(req->cwd, "/") != 0 &&
	    !(req->workspace && cx_path_within(req->cwd, "/work")) &&
	    !within_any(req->cwd, &req->ro) && !within_any(req->cwd, &req->rw))
		return cx_err(err, CX_E_POLICY_PATH, EPERM,
			      "lease.cwd '%.200s' is not inside /work or a path the lease mounts",
			      req->cwd);
	return 0;
}

static int check_env(const cx_policy *p, const cx_env *env, cx_error *err)
{
	for (size_t i = 0; i < env->n; i++) {
		const char *n = env->name[i];
		if (cx_env_name_is_dangerous(n))
			return cx_err(err, CX_E_POLICY_ENV, EPERM,
				      "lease.env.%s is never allowed: it injects code into the loader or an interpreter",
				      n);
		if (cx_env_get(&p->env_set, n))
			return cx_err(err, CX_E_POLICY_ENV, EPERM,
				      "lease.env.%s would override the policy's fixed value (remove it from the lease)",
				      n);
		if (!cx_strv_contains(&p->env_allow, n))
			return cx_err(err, CX_E_POLICY_ENV, EPERM,
				      "lease.env.%s is not in the policy's env.allow (remove it from the lease)",
				      n);
	}
	return 0;
}

int cx_policy_resolve(const cx_policy *p, const cx_run_spec *req, cx_run_spec *ret,
		      cx_error *err)
{
	cx_run_spec out = { 0 };
	int r;

	if ((r = check_command(p, &req->argv, "lease.argv[0]", err)) < 0)
		return r;
	if (req->validate_argv.n &&
	    (r = check_command(p, &req->validate_argv, "lease.validate.argv[0]", err)) < 0)
		return r;
	if ((r = check_paths(p, req, err)) < 0 || (r = check_env(p, &req->env, err)) < 0)
		return r;
	for (int i = 0; i < CX_LIM__COUNT; i++)
		if ((req->limits.set & (1u << i)) && req->limits.v[i] > p->max.v[i])
			return cx_err(err, CX_E_POLICY_LIMIT, EPERM,
				      "lease.limits.%s = %llu is above the policy ceiling %llu",
				      cx_limit_name(i), (unsigned long long)req->limits.v[i],
				      (unsigned long long)p->max.v[i]);
	if (!(p->network_mask & (1u << req->network)))
		return cx_err(err, CX_E_POLICY_NETWORK, EPERM,
			      "lease.network '%s' is not allowed by the policy",
			      cx_network_name(req->network));

	for (size_t i = 0; i < req->argv.n; i++)
		cx_strv_push(&out.argv, req->argv.v[i]);
	for (size_t i = 0; i < req->validate_argv.n; i++)
		cx_strv_push(&out.validate_argv, req->validate_argv.v[i]);
	for (size_t i = 0; i < req->ro.n; i++)
		cx_strv_push(&out.ro, req->ro.v[i]);
	for (size_t i = 0; i < req->rw.n; i++)
		cx_strv_push(&out.rw, req->rw.v[i]);
	for (size_t i = 0; i < req->exec.n; i++)
		cx_strv_push(&out.exec, req->exec.v[i]);
	for (size_t i = 0; i < p->env_set.n; i++)
		cx_env_push(&out.env, p->env_set.name[i], p->env_set.value[i]);
	for (size_t i = 0; i < req->env.n; i++)
		cx_env_push(&out.env, req->env.name[i], req->env.value[i]);
	out.cwd = cx_strdup(req->cwd);
	out.workspace = req->workspace ? cx_strdup(req->workspace) : NULL;
	for (int i = 0; i < CX_LIM__COUNT; i++)
		out.limits.v[i] = (req->limits.set & (1u << i)) ? req->limits.v[i] : p->def.v[i];
	out.limits.set = (1u << CX_LIM__COUNT) - 1;
	out.network = req->network;
	out.stdin_inherit = req->stdin_inherit;
	*ret = out;
	return 0;
}
