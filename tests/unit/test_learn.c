/* Unit tests: calyx-policy learn's fragment (policy/fragment.c): what goes
 * into exec, read and the lease skeleton, and its bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "calyx/learn.h"

static cx_strv sv(const char *const *v)
{
	cx_strv s = { 0 };
	for (; v && *v; v++)
		CX_CHECK(cx_strv_push(&s, *v) == 0);
	return s;
}

static const char *at(const json_t *frag, const char *obj, const char *key, size_t i)
{
	return json_string_value(json_array_get(json_object_get(json_object_get(frag, obj), key), i));
}

static size_t count(const json_t *frag, const char *obj, const char *key)
{
	return json_array_size(json_object_get(json_object_get(frag, obj), key));
}

static void obs_free(cx_learn_obs *o)
{
	cx_strv_free(&o->argv);
	cx_strv_free(&o->execs);
	cx_strv_free(&o->interps);
	cx_strv_free(&o->opened);
	cx_strv_free(&o->ro_roots);
	cx_strv_free(&o->rw);
}

/* exec: every file exec'd, sorted and once, without the command and the
 * interpreters; commands: the command */
static void exec_without_command_and_interpreters(void **st)
{
	cx_learn_obs o = { 0 };
	json_t *f;
	cx_error err = { 0 };
	(void)st;
	o.argv = sv((const char *[]){ "/usr/bin/make", "-j2", NULL });
	o.execs = sv((const char *[]){ "/usr/bin/make", "/usr/bin/gcc-12", "/usr/lib/gcc/cc1",
				       "/usr/bin/gcc-12", "/usr/bin/dash", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
				       "relative", NULL });
	o.interps = sv((const char *[]){ "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", NULL });
	assert_int_equal(cx_learn_fragment(&o, &f, &err), 0);
	assert_string_equal(at(f, "policy", "commands", 0), "/usr/bin/make");
	assert_int_equal(count(f, "policy", "exec"), 3);
	assert_string_equal(at(f, "policy", "exec", 0), "/usr/bin/dash");
	assert_string_equal(at(f, "policy", "exec", 1), "/usr/bin/gcc-12");
	assert_string_equal(at(f, "policy", "exec", 2), "/usr/lib/gcc/cc1");
	assert_int_equal(count(f, "lease", "exec"), 3);
	assert_string_equal(at(f, "lease", "argv", 1), "-j2");
	json_decref(f);
	obs_free(&o);
}

/* read: the directories of opened files inside the --ro roots, nested
 * ones folded into their parent, files outside every root left out */
static void read_dirs_within_roots(void **st)
{
	cx_learn_obs o = { 0 };
	json_t *f;
	cx_error err = { 0 };
	(void)st;
	o.argv = sv((const char *[]){ "/usr/bin/make", NULL });
	o.ro_roots = sv((const char *[]){ "/usr", "/etc/ssl", NULL });
	o.opened = sv((const char *[]){ "/usr/include/stdio.h", "/usr/include/bits/types.h",
					"/usr/lib/libc.so.6", "/etc/passwd", "/work/main.c",
					"/etc/ssl/certs/ca.pem", "/usr/include/stdlib.h", NULL });
	assert_int_equal(cx_learn_fragment(&o, &f, &err), 0);
	assert_int_equal(count(f, "policy", "read"), 3);
	assert_string_equal(at(f, "policy", "read", 0), "/etc/ssl/certs");
	assert_string_equal(at(f, "policy", "read", 1), "/usr/include");
	assert_string_equal(at(f, "policy", "read", 2), "/usr/lib");
	assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(f, "lease"), "paths"), "ro")), 3);
	json_decref(f);
	obs_free(&o);
}

/* read stays at most CX_LEARN_RO_MAX entries, folded towards the roots */
static void read_bounded(void **st)
{
	cx_learn_obs o = { 0 };
	json_t *f;
	cx_error err = { 0 };
	char p[64];
	(void)st;
	o.argv = sv((const char *[]){ "/usr/bin/find", NULL });
	o.ro_roots = sv((const char *[]){ "/srv/data", NULL });
	for (int i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "/srv/data/d%d/e%d/f", i % 100, i);
		CX_CHECK(cx_strv_push(&o.opened, p) == 0);
	}
	assert_int_equal(cx_learn_fragment(&o, &f, &err), 0);
	size_t n = count(f, "policy", "read");
	assert_true(n >= 1 && n <= CX_LEARN_RO_MAX);
	for (size_t i = 0; i < n; i++)
		assert_true(strncmp(at(f, "policy", "read", i), "/srv/data", 9) == 0);
	json_decref(f);
	obs_free(&o);
}

/* limits: measured peaks with headroom, and floors for tiny jobs */
static void limits_headroom_and_floors(void **st)
{
	cx_learn_obs o = { 0 };
	json_t *f, *lim;
	cx_error err = { 0 };
	(void)st;
	o.argv = sv((const char *[]){ "/usr/bin/true", NULL });
	o.cpu_ms = 4000, o.peak_memory_bytes = 100 << 20, o.pids_peak = 30, o.wall_ms = 20000;
	assert_int_equal(cx_learn_fragment(&o, &f, &err), 0);
	lim = json_object_get(json_object_get(f, "lease"), "limits");
	assert_int_equal(json_integer_value(json_object_get(lim, "cpu_ms")), 8000);
	assert_int_equal(json_integer_value(json_object_get(lim, "memory_bytes")), 200 << 20);
	assert_int_equal(json_integer_value(json_object_get(lim, "pids")), 60);
	assert_int_equal(json_integer_value(json_object_get(lim, "wall_ms")), 60000);
	json_decref(f);
	o.cpu_ms = 1, o.peak_memory_bytes = 1000, o.pids_peak = 1, o.wall_ms = 3;
	assert_int_equal(cx_learn_fragment(&o, &f, &err), 0);
	lim = json_object_get(json_object_get(f, "lease"), "limits");
	assert_int_equal(json_integer_value(json_object_get(lim, "cpu_ms")), 1000);
	assert_int_equal(json_integer_value(json_object_get(lim, "memory_bytes")), 64 << 20);
	assert_int_equal(json_integer_value(json_object_get(lim, "pids")), 16);
	assert_int_equal(json_integer_value(json_object_get(lim, "wall_ms")), 10000);
	json_decref(f);
	obs_free(&o);
}

/* the text output escapes what the run named (a path with an ESC and a
 * bidi override must not reach the terminal raw) */
static void text_escaped(void **st)
{
	cx_learn_obs o = { 0 };
	json_t *f;
	cx_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	(void)st;
	o.argv = sv((const char *[]){ "/usr/bin/env", NULL });
	/* a bidi override and a C1 CSI (normal path bytes); a path with a
	 * control character cannot be a policy path: left out */
	o.execs = sv((const char *[]){ "/tmp/x\xe2\x80\xaey\xc2\x9b", "/tmp/z\033[2J", NULL });
	assert_int_equal(cx_learn_fragment(&o, &f, &err), 0);
	m = open_memstream(&buf, &len);
	cx_learn_print_text(m, f);
	fclose(m);
	assert_null(strchr(buf, '\033'));
	assert_null(strstr(buf, "\xe2\x80\xae"));
	assert_null(strstr(buf, "\xc2\x9b"));
	assert_non_null(strstr(buf, "/tmp/x"));
	assert_null(strstr(buf, "/tmp/z"));
	free(buf);
	json_decref(f);
	obs_free(&o);
}

static void command_must_be_absolute(void **st)
{
	cx_learn_obs o = { 0 };
	json_t *f = NULL;
	cx_error err = { 0 };
	(void)st;
	o.argv = sv((const char *[]){ "make", NULL });
	assert_true(cx_learn_fragment(&o, &f, &err) < 0);
	assert_int_equal(err.reason, CX_E_USAGE);
	obs_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exec_without_command_and_interpreters),
		cmocka_unit_test(read_dirs_within_roots),
		cmocka_unit_test(read_bounded),
		cmocka_unit_test(limits_headroom_and_floors),
		cmocka_unit_test(text_escaped),
		cmocka_unit_test(command_must_be_absolute),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
