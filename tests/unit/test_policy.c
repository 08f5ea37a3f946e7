/* Unit tests: policy parsing and "is this lease within this policy".
 * Each refusal test asserts the rule it names (reason code). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/jsonpos.h"
#include "calyx/jsonx.h"
#include "calyx/lint.h"
#include "calyx/policy.h"
#include "calyx/policydiff.h"
#include "testutil.h"

/* Parse the default policy with one JSON edit applied. */
static int parse_edited(void (*edit)(json_t *), cx_policy *p, cx_error *err)
{
	const char *t = tu_policy_text();
	json_t *j = json_loads(t, 0, NULL);
	char *s;
	int r;

	edit(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	memset(err, 0, sizeof(*err));
	r = cx_policy_parse((uint8_t *)s, strlen(s), p, err);
	free(s);
	return r;
}

static void ed_unknown(json_t *j) { json_object_set_new(j, "landlock_mode", json_string("x")); }
static void ed_rel_cmd(json_t *j) { json_array_append_new(json_object_get(j, "commands"), json_string("make")); }
static void ed_dotdot(json_t *j) { json_array_append_new(json_object_get(j, "read"), json_string("/usr/../etc")); }
static void ed_dup_cmd(json_t *j) { json_array_append_new(json_object_get(j, "commands"), json_string("/usr/bin/make")); }
static void ed_allow_ld(json_t *j) { json_array_append_new(json_object_get(json_object_get(j, "env"), "allow"), json_string("LD_PRELOAD")); }
static void ed_set_bashenv(json_t *j) { json_object_set_new(json_object_get(json_object_get(j, "env"), "set"), "BASH_ENV", json_string("/x")); }
static void ed_set_and_allow(json_t *j) { json_array_append_new(json_object_get(json_object_get(j, "env"), "allow"), json_string("PATH")); }
static void ed_default_above_max(json_t *j) { json_object_set_new(json_object_get(json_object_get(j, "limits"), "default"), "pids", json_integer(100000)); }
static void ed_missing_max(json_t *j) { json_object_del(json_object_get(json_object_get(j, "limits"), "max"), "tmp_bytes"); }
static void ed_network_bad(json_t *j) { json_array_append_new(json_object_get(j, "network"), json_string("host")); }
static void ed_lifetime_huge(json_t *j) { json_object_set_new(json_object_get(j, "lease"), "max_lifetime_s", json_integer(100LL * 24 * 3600)); }
static void ed_audience_str(json_t *j) { json_object_set_new(json_object_get(j, "lease"), "require_audience", json_string("yes")); }
static void ed_bad_syscall(json_t *j) { json_array_append_new(json_object_get(json_object_get(j, "syscalls"), "deny"), json_string("not_a_syscall")); }
static void ed_good_syscall(json_t *j) { json_array_append_new(json_object_get(json_object_get(j, "syscalls"), "deny"), json_string("ptrace")); }
static void ed_v2(json_t *j) { json_object_set_new(j, "v", json_integer(2)); }
static void ed_guard_bad(json_t *j) { json_object_set_new(j, "exec_guard", json_string("off")); }
static void ed_guard_optional(json_t *j) { json_object_set_new(j, "exec_guard", json_string("optional")); }
static void ed_guard_required(json_t *j) { json_object_set_new(j, "exec_guard", json_string("required")); }

/* "exec_guard": required by default and when said; "optional" only when
 * said; anything else refused naming the key. */
static void policy_exec_guard(void **st)
{
	cx_policy p;
	cx_error err;
	(void)st;
	assert_int_equal(parse_edited(ed_good_syscall, &p, &err), 0);
	assert_false(p.exec_guard_optional);
	cx_policy_free(&p);
	assert_int_equal(parse_edited(ed_guard_required, &p, &err), 0);
	assert_false(p.exec_guard_optional);
	cx_policy_free(&p);
	assert_int_equal(parse_edited(ed_guard_optional, &p, &err), 0);
	assert_true(p.exec_guard_optional);
	cx_policy_free(&p);
	assert_true(parse_edited(ed_guard_bad, &p, &err) < 0);
	assert_non_null(strstr(err.msg, "policy.exec_guard 'off'"));
}

static void policy_rejects_each_bad_field(void **st)
{
	static const struct { void (*edit)(json_t *); const char *needle; } cases[] = {
		{ ed_unknown, "unknown field" },       { ed_rel_cmd, "normalized" },
		{ ed_dotdot, "normalized" },           { ed_dup_cmd, "twice" },
		{ ed_allow_ld, "LD_PRELOAD" },         { ed_set_bashenv, "BASH_ENV" },
		{ ed_set_and_allow, "PATH" },          { ed_default_above_max, "above" },
		{ ed_missing_max, "tmp_bytes" },       { ed_network_bad, "host" },
		{ ed_lifetime_huge, "max_lifetime_s" }, { ed_audience_str, "require_audience" },
		{ ed_bad_syscall, "not_a_syscall" },   { ed_v2, "policy.v" },
	};
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++) {
		cx_policy p;
		cx_error err;
		assert_true(parse_edited(cases[i].edit, &p, &err) < 0);
		assert_int_equal(err.reason, CX_E_POLICY);
		if (!strstr(err.msg, cases[i].needle))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].needle);
	}
}

static void policy_accepts_known_syscall_and_hashes_bytes(void **st)
{
	cx_policy p, q;
	cx_error err;
	const char *t = tu_policy_text();
	(void)st;
	assert_int_equal(parse_edited(ed_good_syscall, &p, &err), 0);
	assert_int_equal(p.syscalls_deny.n, 1);
	assert_int_equal(cx_policy_parse((const uint8_t *)t, strlen(t), &q, &err), 0);
	/* Same meaning, different bytes: a different hash. */
	assert_string_not_equal(p.sha256_hex, q.sha256_hex);
	cx_policy_free(&p);
	cx_policy_free(&q);
}

static void ed_sock_ok(json_t *j)
{
	json_object_set_new(j, "unix_sockets", json_pack("[s]", "/run/postgresql/.s.PGSQL.5432"));
}
static void ed_sock_rel(json_t *j) { json_object_set_new(j, "unix_sockets", json_pack("[s]", "run/x.sock")); }
static void ed_sock_dup(json_t *j) { json_object_set_new(j, "unix_sockets", json_pack("[s,s]", "/run/a", "/run/a")); }
static void ed_sock_type(json_t *j) { json_object_set_new(j, "unix_sockets", json_string("/run/a")); }
static void ed_sock_many(json_t *j)
{
	json_t *a = json_array();
	for (int i = 0; i <= CX_POLICY_SOCKETS_MAX; i++)
		json_array_append_new(a, json_sprintf("/run/s%d", i));
	json_object_set_new(j, "unix_sockets", a);
}

static void ed_root_allow(json_t *j) { json_object_set_new(j, "root_owned_trees", json_string("allow")); }
static void ed_root_refuse(json_t *j) { json_object_set_new(j, "root_owned_trees", json_string("refuse")); }
static void ed_root_bad(json_t *j) { json_object_set_new(j, "root_owned_trees", json_string("yes")); }
static void ed_root_type(json_t *j) { json_object_set_new(j, "root_owned_trees", json_true()); }

/* root_owned_trees: "allow" or "refuse" (the default); allowing is a
 * widening for calyx-policy diff. */
static void policy_root_owned_trees(void **st)
{
	const char *t = tu_policy_text();
	cx_policy p, q, r;
	cx_policy_diff d = { 0 };
	cx_error err;
	(void)st;
	assert_int_equal(parse_edited(ed_root_allow, &p, &err), 0);
	assert_true(p.root_owned_trees);
	assert_int_equal(parse_edited(ed_root_refuse, &r, &err), 0);
	assert_false(r.root_owned_trees);
	assert_int_equal(cx_policy_parse((const uint8_t *)t, strlen(t), &q, &err), 0);
	assert_false(q.root_owned_trees);
	cx_policy_diff_compute(&q, &p, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.c[0].kind, CX_WIDENED);
	assert_string_equal(d.c[0].field, "root_owned_trees");
	cx_policy_diff_free(&d);
	cx_policy_free(&p);
	cx_policy_free(&q);
	cx_policy_free(&r);
	assert_true(parse_edited(ed_root_bad, &p, &err) < 0);
	assert_int_equal(err.reason, CX_E_POLICY);
	assert_non_null(strstr(err.msg, "root_owned_trees"));
	assert_true(parse_edited(ed_root_type, &p, &err) < 0);
	assert_int_equal(err.reason, CX_E_POLICY);
}

/* unix_sockets: normal, unique paths, at most CX_POLICY_SOCKETS_MAX; a
 * socket added is a widening for calyx-policy diff, one removed a
 * narrowing. */
static void policy_unix_sockets(void **st)
{
	static void (*const bad[])(json_t *) = { ed_sock_rel, ed_sock_dup, ed_sock_type, ed_sock_many };
	const char *t = tu_policy_text();
	cx_policy p, q;
	cx_policy_diff d = { 0 };
	cx_error err;
	(void)st;
	assert_int_equal(parse_edited(ed_sock_ok, &p, &err), 0);
	assert_int_equal(p.unix_sockets.n, 1);
	assert_string_equal(p.unix_sockets.v[0], "/run/postgresql/.s.PGSQL.5432");
	assert_int_equal(cx_policy_parse((const uint8_t *)t, strlen(t), &q, &err), 0);
	assert_int_equal(q.unix_sockets.n, 0);
	cx_policy_diff_compute(&q, &p, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.c[0].kind, CX_WIDENED);
	assert_string_equal(d.c[0].field, "unix_sockets");
	cx_policy_diff_free(&d);
	cx_policy_diff_compute(&p, &q, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.c[0].kind, CX_NARROWED);
	cx_policy_diff_free(&d);
	cx_policy_free(&p);
	cx_policy_free(&q);
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		assert_true(parse_edited(bad[i], &p, &err) < 0);
		assert_int_equal(err.reason, CX_E_POLICY);
		if (!strstr(err.msg, "unix_sockets"))
			fail_msg("case %zu: message '%s' does not name unix_sockets", i, err.msg);
	}
}

/* Resolve a spec derived from the fixture body with one edit. */
static int resolve_edited(tu_fixture *f, void (*edit)(json_t *), cx_run_spec *out, cx_error *err)
{
	json_t *b = tu_body(f->now, f->pol.sha256_hex);
	char *s;
	cx_lease l;
	int r;

	if (edit)
		edit(b);
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	memset(err, 0, sizeof(*err));
	r = cx_lease_body_parse((uint8_t *)s, strlen(s), &l, err);
	free(s);
	if (r < 0)
		return r;
	r = cx_policy_resolve(&f->pol, &l.spec, out, err);
	cx_lease_free(&l);
	return r;
}

static void b_cmd(json_t *b) { json_array_set_new(json_object_get(b, "argv"), 0, json_string("/bin/sh")); }
static void b_validate(json_t *b) { json_array_set_new(json_object_get(json_object_get(b, "validate"), "argv"), 0, json_string("/bin/bash")); }
static void b_ws(json_t *b) { json_object_set_new(b, "workspace", json_string("/srvx/app")); }
static void b_rw(json_t *b) { json_array_append_new(json_object_get(json_object_get(b, "paths"), "rw"), json_string("/etc")); }
static void b_ro(json_t *b) { json_array_append_new(json_object_get(json_object_get(b, "paths"), "ro"), json_string("/root")); }
static void b_ro_in_write(json_t *b) { json_array_append_new(json_object_get(json_object_get(b, "paths"), "ro"), json_string("/srv/data")); }
static void b_cwd(json_t *b) { json_object_set_new(b, "cwd", json_string("/etc")); }
static void b_limit(json_t *b) { json_object_set_new(json_object_get(b, "limits"), "pids", json_integer(513)); }
static void b_env_tz(json_t *b) { json_object_set_new(json_object_get(b, "env"), "TZ", json_string("UTC")); }
static void b_env_home(json_t *b) { json_object_set_new(json_object_get(b, "env"), "HOME", json_string("/root")); }
static void b_env_other(json_t *b) { json_object_set_new(json_object_get(b, "env"), "FOO", json_string("1")); }
static void b_env_ld(json_t *b) { json_object_set_new(json_object_get(b, "env"), "LD_PRELOAD", json_string("/x.so")); }
static void b_net(json_t *b) { json_object_set_new(b, "network", json_string("loopback")); }

static void resolve_names_the_broken_rule(void **st)
{
	static const struct { void (*edit)(json_t *); int reason; } cases[] = {
		{ b_cmd, CX_E_POLICY_COMMAND },     { b_validate, CX_E_POLICY_COMMAND },
		{ b_ws, CX_E_POLICY_PATH },         { b_rw, CX_E_POLICY_PATH },
		{ b_ro, CX_E_POLICY_PATH },         { b_cwd, CX_E_POLICY_PATH },
		{ b_limit, CX_E_POLICY_LIMIT },     { b_env_home, CX_E_POLICY_ENV },
		{ b_env_other, CX_E_POLICY_ENV },   { b_env_ld, CX_E_POLICY_ENV },
		{ b_net, CX_E_POLICY_NETWORK },
	};
	tu_fixture f;
	(void)st;
	tu_fixture_init(&f);
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++) {
		cx_run_spec out;
		cx_error err;
		assert_true(resolve_edited(&f, cases[i].edit, &out, &err) < 0);
		if (err.reason != cases[i].reason)
			fail_msg("case %zu: got %s (%s)", i, cx_reason_name(err.reason), err.msg);
	}
	tu_fixture_free(&f);
}

static void resolve_builds_effective_spec(void **st)
{
	tu_fixture f;
	cx_run_spec out;
	cx_error err;
	(void)st;
	tu_fixture_init(&f);
	assert_int_equal(resolve_edited(&f, b_env_tz, &out, &err), 0);
	assert_string_equal(cx_env_get(&out.env, "PATH"), "/usr/bin:/bin");
	assert_string_equal(cx_env_get(&out.env, "HOME"), "/work");
	assert_string_equal(cx_env_get(&out.env, "LANG"), "C.UTF-8");
	assert_string_equal(cx_env_get(&out.env, "TZ"), "UTC");
	assert_int_equal(out.env.n, 4);
	assert_int_equal(out.limits.v[CX_LIM_PIDS], 128);   /* from the lease */
	assert_int_equal(out.limits.v[CX_LIM_NOFILE], 256); /* policy default */
	assert_int_equal(out.limits.set, (1u << CX_LIM__COUNT) - 1);
	cx_run_spec_free(&out);
	/* ro may name a path under a write tree */
	assert_int_equal(resolve_edited(&f, b_ro_in_write, &out, &err), 0);
	cx_run_spec_free(&out);
	tu_fixture_free(&f);
}

/* The exec allowlist: policy "exec" parsed strictly; a lease's entries
 * must each be equal to or beneath a policy entry and in the view. */
static void ed_exec(json_t *j)
{
	json_object_set_new(j, "exec", json_pack("[s,s,s]", "/usr/bin/id",
						 "/usr/lib/gcc/x86_64-linux-gnu/12", "/work/build"));
}
static void ed_exec_rel(json_t *j) { json_object_set_new(j, "exec", json_pack("[s]", "usr/bin/id")); }
static void ed_exec_slash(json_t *j) { json_object_set_new(j, "exec", json_pack("[s]", "/usr/lib/")); }
static void ed_exec_dup(json_t *j) { json_object_set_new(j, "exec", json_pack("[s,s]", "/usr/bin/id", "/usr/bin/id")); }
static void ed_exec_str(json_t *j) { json_object_set_new(j, "exec", json_string("/usr/bin/id")); }
static void ed_exec_many(json_t *j)
{
	json_t *a = json_array();
	for (int i = 0; i <= CX_SPEC_PATHS_MAX; i++) {
		char p[32];
		snprintf(p, sizeof(p), "/usr/bin/p%d", i);
		json_array_append_new(a, json_string(p));
	}
	json_object_set_new(j, "exec", a);
}

static void policy_exec_parsed_strictly(void **st)
{
	void (*bad[])(json_t *) = { ed_exec_rel, ed_exec_slash, ed_exec_dup, ed_exec_str, ed_exec_many };
	cx_policy p;
	cx_error err;
	(void)st;
	assert_int_equal(parse_edited(ed_exec, &p, &err), 0);
	assert_int_equal(p.exec.n, 3);
	assert_string_equal(p.exec.v[1], "/usr/lib/gcc/x86_64-linux-gnu/12");
	cx_policy_free(&p);
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		if (parse_edited(bad[i], &p, &err) == 0)
			fail_msg("bad exec case %zu parsed", i);
		if (err.reason != CX_E_POLICY)
			fail_msg("bad exec case %zu: %s (%s)", i, cx_reason_name(err.reason), err.msg);
	}
}

static void b_exec_ok(json_t *b)
{
	json_object_set_new(b, "exec", json_pack("[s,s,s]", "/usr/bin/id",
						 "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/work/build/t"));
}
static void b_exec_outside(json_t *b) { json_object_set_new(b, "exec", json_pack("[s]", "/usr/bin/sh")); }
static void b_exec_parent(json_t *b) { json_object_set_new(b, "exec", json_pack("[s]", "/usr/lib/gcc")); }
static void b_exec_sibling(json_t *b) { json_object_set_new(b, "exec", json_pack("[s]", "/usr/bin/idx")); }
static void b_exec_not_in_view(json_t *b)
{
	json_object_del(b, "workspace");
	json_object_set_new(b, "cwd", json_string("/"));
	json_object_set_new(b, "exec", json_pack("[s]", "/work/build"));
}
static void b_exec_bad_shape(json_t *b) { json_object_set_new(b, "exec", json_pack("[s]", "/usr/bin/../bin/sh")); }

static void resolve_exec_within_policy(void **st)
{
	static const struct { void (*edit)(json_t *); int reason; } cases[] = {
		{ b_exec_outside, CX_E_POLICY_COMMAND },  { b_exec_parent, CX_E_POLICY_COMMAND },
		{ b_exec_sibling, CX_E_POLICY_COMMAND },  { b_exec_not_in_view, CX_E_POLICY_PATH },
		{ b_exec_bad_shape, CX_E_PATH_NOT_NORMAL },
	};
	tu_fixture f;
	cx_run_spec out;
	cx_error err;
	(void)st;
	tu_fixture_init(&f);
	/* the fixture's policy has no exec: any lease entry is refused */
	assert_true(resolve_edited(&f, b_exec_ok, &out, &err) < 0);
	assert_int_equal(err.reason, CX_E_POLICY_COMMAND);
	assert_non_null(strstr(err.msg, "lease.exec '/usr/bin/id'"));
	cx_policy_free(&f.pol);
	assert_int_equal(parse_edited(ed_exec, &f.pol, &err), 0);
	assert_int_equal(resolve_edited(&f, b_exec_ok, &out, &err), 0);
	assert_int_equal(out.exec.n, 3);
	assert_string_equal(out.exec.v[2], "/work/build/t");
	cx_run_spec_free(&out);
	for (size_t i = 0; i < CX_ARRAY_SIZE(cases); i++) {
		assert_true(resolve_edited(&f, cases[i].edit, &out, &err) < 0);
		if (err.reason != cases[i].reason)
			fail_msg("case %zu: got %s (%s)", i, cx_reason_name(err.reason), err.msg);
		assert_null(strchr(err.msg, '\n'));
	}
	tu_fixture_free(&f);
}

static void diff_reports_exec(void **st)
{
	cx_policy a, b;
	cx_policy_diff d;
	cx_error err;
	size_t wid = 0, nar = 0;
	(void)st;
	assert_int_equal(parse_edited(ed_good_syscall, &a, &err), 0);
	assert_int_equal(parse_edited(ed_exec, &b, &err), 0);
	cx_policy_diff_compute(&a, &b, &d);
	for (size_t i = 0; i < d.n; i++)
		if (strcmp(d.c[i].field, "exec") == 0)
			d.c[i].kind == CX_WIDENED ? wid++ : nar++;
	assert_int_equal(wid, 3);
	assert_int_equal(nar, 0);
	cx_policy_diff_free(&d);
	cx_policy_diff_compute(&b, &a, &d);
	wid = nar = 0;
	for (size_t i = 0; i < d.n; i++)
		if (strcmp(d.c[i].field, "exec") == 0)
			d.c[i].kind == CX_WIDENED ? wid++ : nar++;
	assert_int_equal(wid, 0);
	assert_int_equal(nar, 3);
	cx_policy_diff_free(&d);
	cx_policy_free(&a);
	cx_policy_free(&b);
}

/* The workspace quotas: a policy may leave them out (built-in values
 * are then ceiling and default); a default above a ceiling, its own or
 * the built-in one, is refused. */
static void ed_quota_max_big(json_t *j) { json_object_set_new(json_object_get(json_object_get(j, "limits"), "max"), "disk_bytes", json_integer(1LL << 30)); }
static void ed_quota_max_small(json_t *j) { json_object_set_new(json_object_get(json_object_get(j, "limits"), "max"), "inodes", json_integer(100)); }
static void ed_quota_def_only(json_t *j) { json_object_set_new(json_object_get(json_object_get(j, "limits"), "default"), "disk_bytes", json_integer(1LL << 30)); }
static void ed_quota_both(json_t *j)
{
	ed_quota_max_big(j);
	json_object_set_new(json_object_get(json_object_get(j, "limits"), "default"), "disk_bytes", json_integer(1LL << 29));
}

static void policy_workspace_quotas(void **st)
{
	cx_policy p;
	cx_error err;
	const char *t = tu_policy_text();
	(void)st;
	assert_int_equal(cx_policy_parse((const uint8_t *)t, strlen(t), &p, &err), 0);
	assert_int_equal(p.max.v[CX_LIM_DISK_BYTES], 256u << 20);
	assert_int_equal(p.def.v[CX_LIM_DISK_BYTES], 256u << 20);
	assert_int_equal(p.max.v[CX_LIM_INODES], 16384);
	assert_int_equal(p.def.v[CX_LIM_INODES], 16384);
	assert_false(p.max.set & (1u << CX_LIM_DISK_BYTES)); /* the file did not say */
	cx_policy_free(&p);
	assert_int_equal(parse_edited(ed_quota_max_big, &p, &err), 0);
	assert_int_equal(p.max.v[CX_LIM_DISK_BYTES], 1u << 30);
	assert_int_equal(p.def.v[CX_LIM_DISK_BYTES], 256u << 20); /* built-in default */
	cx_policy_free(&p);
	assert_int_equal(parse_edited(ed_quota_max_small, &p, &err), 0);
	assert_int_equal(p.def.v[CX_LIM_INODES], 100); /* never above the ceiling */
	cx_policy_free(&p);
	assert_int_equal(parse_edited(ed_quota_both, &p, &err), 0);
	assert_int_equal(p.def.v[CX_LIM_DISK_BYTES], 1u << 29);
	cx_policy_free(&p);
	assert_true(parse_edited(ed_quota_def_only, &p, &err) < 0);
	assert_int_equal(err.reason, CX_E_POLICY);
	assert_non_null(strstr(err.msg, "built in"));
}

static void b_quota_above(json_t *b) { json_object_set_new(json_object_get(b, "limits"), "disk_bytes", json_integer((256LL << 20) + 1)); }
static void b_inodes_above(json_t *b) { json_object_set_new(json_object_get(b, "limits"), "inodes", json_integer(16385)); }
static void b_quota_within(json_t *b)
{
	json_object_set_new(json_object_get(b, "limits"), "disk_bytes", json_integer(1 << 20));
	json_object_set_new(json_object_get(b, "limits"), "inodes", json_integer(64));
}
static void b_unknown_limit(json_t *b) { json_object_set_new(json_object_get(b, "limits"), "disk_files", json_integer(1)); }

/* A lease asks for less than the ceiling, or gets the default; above the
 * ceiling it is refused like any limit; an unknown limit still is. */
static void resolve_workspace_quotas(void **st)
{
	tu_fixture f;
	cx_run_spec out;
	cx_error err;
	(void)st;
	tu_fixture_init(&f);
	assert_int_equal(resolve_edited(&f, NULL, &out, &err), 0);
	assert_int_equal(out.limits.v[CX_LIM_DISK_BYTES], 256u << 20);
	assert_int_equal(out.limits.v[CX_LIM_INODES], 16384);
	cx_run_spec_free(&out);
	assert_int_equal(resolve_edited(&f, b_quota_within, &out, &err), 0);
	assert_int_equal(out.limits.v[CX_LIM_DISK_BYTES], 1 << 20);
	assert_int_equal(out.limits.v[CX_LIM_INODES], 64);
	cx_run_spec_free(&out);
	assert_true(resolve_edited(&f, b_quota_above, &out, &err) < 0);
	assert_int_equal(err.reason, CX_E_POLICY_LIMIT);
	assert_non_null(strstr(err.msg, "disk_bytes"));
	assert_true(resolve_edited(&f, b_inodes_above, &out, &err) < 0);
	assert_int_equal(err.reason, CX_E_POLICY_LIMIT);
	assert_true(resolve_edited(&f, b_unknown_limit, &out, &err) < 0);
	assert_int_equal(err.reason, CX_E_BODY);
	tu_fixture_free(&f);
}

static void policy_load_strict_modes(void **st)
{
	char *dir = tu_tmpdir(), *p;
	const char *t = tu_policy_text();
	cx_policy pol;
	cx_error err = { 0 };
	(void)st;
	p = tu_write(dir, "policy.json", t, strlen(t), 0644);
	if (geteuid() != 0) {
		tu_rmtree(dir);
		skip();
	}
	assert_int_equal(cx_policy_load(p, 0, &pol, &err), 0);
	cx_policy_free(&pol);
	assert_int_equal(chmod(p, 0664), 0);
	assert_true(cx_policy_load(p, 0, &pol, &err) < 0);
	assert_int_equal(err.reason, CX_E_INSECURE_FILE);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(chmod(dir, 0777), 0); /* writable parent dir */
	assert_true(cx_policy_load(p, 0, &pol, &err) < 0);
	assert_int_equal(err.reason, CX_E_INSECURE_FILE);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_true(cx_policy_load(p, 0, &pol, &err) < 0);
	assert_int_equal(err.reason, CX_E_INSECURE_FILE);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

static void expect_pos(const cx_jsonpos *ix, const char *ptr, uint32_t line, uint32_t col)
{
	const cx_jsonpos_entry *e = cx_jsonpos_find(ix, ptr);
	if (!e)
		fail_msg("no position for '%s'", ptr);
	if (e->line != line || e->column != col)
		fail_msg("'%s' at %u:%u, expected %u:%u", ptr, e->line, e->column, line, col);
}

/* The position index: pointers with RFC 6901 escaping, keys decoded as
 * jansson decodes them, code-point columns, CRLF lines, nested arrays. */
static void jsonpos_locates_values(void **state)
{
	(void)state;
	static const char doc[] = "{\"a/b~c\": [1, [true, null]],\r\n"
				  "  \"\\u00e9t\\u00e9\": \"\xc3\xa9\xc3\xa9\", \"k\": {\"x\": -1.5e3}}";
	cx_jsonpos ix = { 0 };

	assert_int_equal(cx_jsonpos_build((const uint8_t *)doc, strlen(doc), &ix), 0);
	expect_pos(&ix, "", 1, 1);
	expect_pos(&ix, "/a~1b~0c", 1, 11);
	expect_pos(&ix, "/a~1b~0c/0", 1, 12);
	expect_pos(&ix, "/a~1b~0c/1/1", 1, 22);
	expect_pos(&ix, "/\xc3\xa9t\xc3\xa9", 2, 20);
	expect_pos(&ix, "/k", 2, 31);
	expect_pos(&ix, "/k/x", 2, 37);
	assert_null(cx_jsonpos_find(&ix, "/a~1b~0c/2"));
	assert_null(cx_jsonpos_find(&ix, "/a/b~c"));
	cx_jsonpos_free(&ix);
}

/* Truncated, trailing garbage and over-deep documents are refused, not
 * guessed at; reads stay within the buffer (ASan build). */
static void jsonpos_refuses_bad_input(void **state)
{
	(void)state;
	static const char *const bad[] = { "{\"a\": [1, 2", "{\"a\": \"x", "{\"a\": 1} x", "",
					   "{\"a\" 1}", "[1 2]", "{\"a\": \"\\" };
	cx_jsonpos ix = { 0 };
	char deep[200];

	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++)
		assert_true(cx_jsonpos_build((const uint8_t *)bad[i], strlen(bad[i]), &ix) < 0);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_true(cx_jsonpos_build((const uint8_t *)deep, sizeof(deep), &ix) < 0);
	memset(deep, '[', 60);
	memset(deep + 60, ']', 60);
	assert_int_equal(cx_jsonpos_build((const uint8_t *)deep, 120, &ix), 0);
	assert_int_equal(ix.n, 60);
	cx_jsonpos_free(&ix);
}

/* A raw NUL is not JSON, wherever it is: jansson alone accepts one after
 * a number; calyx refuses it (found by fuzz_lint). */
static void json_nul_byte_refused(void **state)
{
	(void)state;
	static const char doc[] = "{\"v\": 1\0, \"commands\": []}";
	cx_policy p = { 0 };
	cx_error err = { 0 };
	json_error_t je;

	assert_null(cx_json_loadb(doc, sizeof(doc) - 1, 0, &je));
	assert_int_equal(je.line, 1);
	assert_int_equal(je.column, 8);
	assert_true(cx_policy_parse((const uint8_t *)doc, sizeof(doc) - 1, &p, &err) < 0);
	assert_int_equal(err.reason, CX_E_JSON);
	assert_non_null(strstr(err.msg, "NUL byte"));
}

/* CX117: every string and member name of the document, known member or
 * not, with a control, bidi or invisible character is a finding at its
 * pointer; the message names the character, never repeats the string. */
static void lint_flags_hidden_characters(void **state)
{
	(void)state;
	static const char doc[] =
		"{\"v\": 1, \"commands\": [\"/usr/bin/cc\", \"/opt/\\u202egnp.sh\"],\n"
		" \"env\": {\"set\": {\"PATH\": \"/bin\\u001b[2J\", \"X\\u009b\": \"y\"}},\n"
		" \"x-note\": [{\"k\": \"\xe2\x81\xa6ok\"}]}";
	static const cx_lint_opts opts = { 0 };
	static const struct { const char *ptr, *what; } want[] = {
		{ "/commands/1", "U+202E (a bidi or invisible character)" },
		{ "/env/set/PATH", "U+001B (a control character)" },
		{ "/env/set/X\xc2\x9b", "U+009B (a control character)" },
		{ "/x-note/0/k", "U+2066 (a bidi or invisible character)" },
	};
	cx_lint_result res = { 0 };
	cx_error err = { 0 };
	bool seen[CX_ARRAY_SIZE(want)] = { false };

	assert_int_equal(cx_lint_policy((const uint8_t *)doc, strlen(doc), &opts, &res, &err), 0);
	for (size_t i = 0; i < res.n; i++) {
		if (strcmp(res.f[i].rule->id, "CX117") != 0)
			continue;
		assert_string_equal(res.f[i].rule->name, "hidden-characters");
		assert_int_equal(res.f[i].rule->severity, CX_SEV_ERROR);
		assert_false(strstr(res.f[i].message, "\x1b") || strstr(res.f[i].message, "\xe2\x80\xae"));
		size_t k = 0;
		while (k < CX_ARRAY_SIZE(want) && strcmp(want[k].ptr, res.f[i].pointer) != 0)
			k++;
		if (k == CX_ARRAY_SIZE(want))
			fail_msg("unexpected CX117 at '%s': %s", res.f[i].pointer, res.f[i].message);
		assert_non_null(strstr(res.f[i].message, want[k].what));
		seen[k] = true;
	}
	for (size_t k = 0; k < CX_ARRAY_SIZE(want); k++)
		if (!seen[k])
			fail_msg("no CX117 at '%s'", want[k].ptr);
	cx_lint_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_rejects_each_bad_field),
		cmocka_unit_test(policy_accepts_known_syscall_and_hashes_bytes),
		cmocka_unit_test(policy_unix_sockets),
		cmocka_unit_test(policy_root_owned_trees),
		cmocka_unit_test(resolve_names_the_broken_rule),
		cmocka_unit_test(resolve_builds_effective_spec),
		cmocka_unit_test(policy_workspace_quotas),
		cmocka_unit_test(resolve_workspace_quotas),
		cmocka_unit_test(policy_load_strict_modes),
		cmocka_unit_test(jsonpos_locates_values),
		cmocka_unit_test(jsonpos_refuses_bad_input),
		cmocka_unit_test(json_nul_byte_refused),
		cmocka_unit_test(lint_flags_hidden_characters),
		cmocka_unit_test(policy_exec_parsed_strictly),
		cmocka_unit_test(resolve_exec_within_policy),
		cmocka_unit_test(diff_reports_exec),
		cmocka_unit_test(policy_exec_guard),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
