/* Unit tests: the sandbox's pure pieces — which interpreter the kernel
 * will open for a file (Landlock must allow executing it), and the view's
 * own path rules — and one ordering of the spawn handshake that the
 * integration suites cannot pin down. Spawning itself is covered by the
 * integration and adversarial suites (it needs root and namespaces). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../sandbox/internal.h"
#include "calyx/sandbox.h"
#include "testutil.h"

static void interp_of_dynamic_binary(void **st)
{
	char out[4096];
	(void)st;
	assert_int_equal(sbx_interpreter(AT_FDCWD, "/usr/bin/true", out, sizeof(out)), 0);
	/* Debian's x86_64 loader; whatever it is, it is absolute and exists */
	assert_true(out[0] == '/');
	assert_int_equal(access(out, R_OK), 0);
}

static void interp_of_script(void **st)
{
	char *dir = tu_tmpdir(), *p, out[4096];
	(void)st;
	p = tu_write(dir, "s", "#!  /usr/bin/env  python3\nprint()\n", 34, 0755);
	assert_int_equal(sbx_interpreter(AT_FDCWD, p, out, sizeof(out)), 0);
	assert_string_equal(out, "/usr/bin/env");
	free(p);
	p = tu_write(dir, "rel", "#!sh\n", 5, 0755); /* relative: not trusted */
	assert_int_equal(sbx_interpreter(AT_FDCWD, p, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	free(p);
	tu_rmtree(dir);
	free(dir);
}

static void interp_hostile_elf(void **st)
{
	char *dir = tu_tmpdir(), *p, out[64];
	unsigned char buf[sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 16] = { 0 };
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph = { 0 };
	(void)st;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph.p_type = PT_INTERP;
	ph.p_offset = sizeof(eh) + sizeof(ph);
	ph.p_filesz = 1u << 20; /* claims 1 MiB: refused, no huge read */
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	p = tu_write(dir, "big", buf, sizeof(buf), 0755);
	assert_int_equal(sbx_interpreter(AT_FDCWD, p, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	free(p);
	/* offset past the end of the file */
	ph.p_filesz = 8;
	ph.p_offset = 1u << 30;
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	p = tu_write(dir, "off", buf, sizeof(buf), 0755);
	assert_int_equal(sbx_interpreter(AT_FDCWD, p, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	free(p);
	/* interpreter path not NUL-terminated / relative */
	ph.p_offset = sizeof(eh) + sizeof(ph);
	ph.p_filesz = 8;
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	memcpy(buf + sizeof(eh) + sizeof(ph), "lib/ld.so", 9);
	p = tu_write(dir, "rel", buf, sizeof(buf), 0755);
	assert_int_equal(sbx_interpreter(AT_FDCWD, p, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	free(p);
	/* truncated header */
	p = tu_write(dir, "trunc", buf, 20, 0755);
	assert_int_equal(sbx_interpreter(AT_FDCWD, p, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	free(p);
	tu_rmtree(dir);
	free(dir);
}

static int check(const char *const *ro, size_t nro, const char *const *rw, size_t nrw)
{
	cx_run_spec s = { 0 };
	cx_error err = { 0 };
	int r;
	for (size_t i = 0; i < nro; i++)
		cx_strv_push(&s.ro, ro[i]);
	for (size_t i = 0; i < nrw; i++)
		cx_strv_push(&s.rw, rw[i]);
	r = cx_sandbox_check_spec(&s, &err);
	cx_run_spec_free(&s);
	return r < 0 ? err.reason : 0;
}

static void view_path_rules(void **st)
{
	const char *ok[] = { "/usr", "/etc/ssl/certs" };
	const char *root[] = { "/" }, *proc[] = { "/proc/1" }, *dev[] = { "/dev/shm" },
		   *tmp[] = { "/tmp" }, *work[] = { "/work/x" }, *sys[] = { "/sys" },
		   *dup[] = { "/srv/a" };
	(void)st;
	assert_int_equal(check(ok, 2, NULL, 0), 0);
	assert_int_equal(check(root, 1, NULL, 0), CX_E_POLICY_PATH);
	assert_int_equal(check(proc, 1, NULL, 0), CX_E_POLICY_PATH);
	assert_int_equal(check(NULL, 0, dev, 1), CX_E_POLICY_PATH);
	assert_int_equal(check(NULL, 0, tmp, 1), CX_E_POLICY_PATH);
	assert_int_equal(check(work, 1, NULL, 0), CX_E_POLICY_PATH);
	assert_int_equal(check(sys, 1, NULL, 0), CX_E_POLICY_PATH);
	assert_int_equal(check(dup, 1, dup, 1), CX_E_POLICY_PATH);
	/* a prefix of a reserved name is fine */
	const char *procx[] = { "/procx" };
	assert_int_equal(check(procx, 1, NULL, 0), 0);
}

static void preflight_on_this_host(void **st)
{
	cx_error err = { 0 };
	(void)st;
	if (cx_landlock_abi() < 1)
		skip(); /* a host without Landlock: the integration suite covers refusal */
	assert_int_equal(cx_sandbox_preflight(false, &err), 0);
}

/* before_exec that fails, but only once init has exited (its view was
 * refused): a parent-side step failing after the child failed. */
static int fail_after_init_gone(pid_t pid, void *arg, cx_error *err)
{
	siginfo_t si = { 0 };
	(void)arg;
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	return cx_err(err, CX_E_LAYER, EIO, "the parent's own step failed");
}

/* The child refuses its view while calyx-exec is still busy with a step of
 * its own, which then fails too (or, before, met the closed handshake
 * socket: EPIPE). The refusal must be the child's (E_VIEW, its message),
 * the cause, not the parent's failure that followed ("cannot start the
 * sandbox: Broken pipe" was found by the mount_race case on a host with
 * slow cgroup v1 joins). */
static void spawn_child_refusal_wins_over_a_later_parent_failure(void **st)
{
	cx_run_spec spec = { 0 };
	cx_strv deny = { 0 };
	cx_sandbox sb = { 0 };
	cx_error err = { 0 };
	int exit_code = 0;
	char *root;
	(void)st;
	if (geteuid() != 0)
		skip(); /* spawning needs root; the integration suites run as root */
	root = tu_tmpdir();
	cx_strv_push(&spec.argv, "/usr/bin/true");
	cx_strv_push(&spec.ro, "/nonexistent-calyx-unit-test");
	cx_sandbox_config cfg = { .spec = &spec, .syscalls_deny = &deny, .root_dir = root,
				  .run_uid = 65534, .run_gid = 65534, .cgroup_fd = -1,
				  .before_exec = fail_after_init_gone };
	assert_true(cx_sandbox_spawn(&cfg, &sb, &exit_code, &err) < 0);
	assert_int_equal(err.reason, CX_E_VIEW);
	assert_non_null(strstr(err.msg, "nonexistent-calyx-unit-test"));
	cx_run_spec_free(&spec);
	tu_rmtree(root);
	free(root);
}

/* What a lease executes, checked on the host before it is consumed:
 * missing, through a symlink (the real path named), not executable;
 * /work/... looked up under the workspace; outside the view. */
static void exec_host_check(void **st)
{
	char *dir = tu_tmpdir(), *ws, *p, buf[8192];
	cx_run_spec s = { 0 };
	cx_error err;
	(void)st;

	CX_CHECK(asprintf(&ws, "%s/ws", dir) > 0);
	CX_CHECK(mkdir(ws, 0755) == 0);
	free(tu_write(dir, "prog", "#!/bin/true\n", 12, 0755));
	free(tu_write(dir, "plain", "x", 1, 0644));
	free(tu_write(ws, "build.sh", "#!/bin/true\n", 12, 0755));
	CX_CHECK(asprintf(&p, "%s/link", dir) > 0);
	CX_CHECK(symlink("prog", p) == 0);
	free(p);
	cx_strv_push(&s.ro, dir);
	s.workspace = cx_strdup(ws);

	snprintf(buf, sizeof(buf), "%s/prog", dir);
	cx_strv_push(&s.argv, buf);
	assert_int_equal(cx_sandbox_check_exec_host(&s, &err), 0);
	/* exec entries: a directory is fine, a workspace file too */
	cx_strv_push(&s.exec, dir);
	cx_strv_push(&s.exec, "/work/build.sh");
	assert_int_equal(cx_sandbox_check_exec_host(&s, &err), 0);
	cx_strv_free(&s.exec);

	/* a symlink: E_EXEC, and the real path to write instead */
	snprintf(buf, sizeof(buf), "%s/link", dir);
	free(s.argv.v[0]);
	s.argv.v[0] = cx_strdup(buf);
	assert_true(cx_sandbox_check_exec_host(&s, &err) < 0);
	assert_int_equal(err.reason, CX_E_EXEC);
	snprintf(buf, sizeof(buf), "write its real path '%s/prog' instead", dir);
	assert_non_null(strstr(err.msg, buf));

	/* missing: E_NOT_FOUND */
	snprintf(buf, sizeof(buf), "%s/nope", dir);
	free(s.argv.v[0]);
	s.argv.v[0] = cx_strdup(buf);
	assert_true(cx_sandbox_check_exec_host(&s, &err) < 0);
	assert_int_equal(err.reason, CX_E_NOT_FOUND);

	/* not executable: E_EXEC; a directory as the command: E_EXEC */
	snprintf(buf, sizeof(buf), "%s/plain", dir);
	free(s.argv.v[0]);
	s.argv.v[0] = cx_strdup(buf);
	assert_true(cx_sandbox_check_exec_host(&s, &err) < 0);
	assert_int_equal(err.reason, CX_E_EXEC);
	assert_non_null(strstr(err.msg, "not executable"));
	free(s.argv.v[0]);
	s.argv.v[0] = cx_strdup(dir);
	assert_true(cx_sandbox_check_exec_host(&s, &err) < 0);
	assert_int_equal(err.reason, CX_E_EXEC);

	/* outside the view: E_NOT_FOUND, saying so */
	free(s.argv.v[0]);
	s.argv.v[0] = cx_strdup("/usr/bin/true");
	assert_true(cx_sandbox_check_exec_host(&s, &err) < 0);
	assert_int_equal(err.reason, CX_E_NOT_FOUND);
	assert_non_null(strstr(err.msg, "not inside /work or a path the lease mounts"));

	/* a workspace symlink is named as the lease would write it */
	snprintf(buf, sizeof(buf), "%s/build-link", ws);
	CX_CHECK(symlink("build.sh", buf) == 0);
	free(s.argv.v[0]);
	s.argv.v[0] = cx_strdup("/work/build-link");
	assert_true(cx_sandbox_check_exec_host(&s, &err) < 0);
	assert_non_null(strstr(err.msg, "write its real path '/work/build.sh' instead"));

	cx_run_spec_free(&s);
	snprintf(buf, sizeof(buf), "rm -rf '%s'", dir);
	assert_int_equal(system(buf), 0);
	free(ws);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(interp_of_dynamic_binary),
		cmocka_unit_test(interp_of_script),
		cmocka_unit_test(interp_hostile_elf),
		cmocka_unit_test(view_path_rules),
		cmocka_unit_test(exec_host_check),
		cmocka_unit_test(preflight_on_this_host),
		cmocka_unit_test(spawn_child_refusal_wins_over_a_later_parent_failure),
	};
	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
