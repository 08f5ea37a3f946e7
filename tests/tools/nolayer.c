/* nolayer: run a command on a host that seems to lack an isolation layer.
 *
 *   nolayer landlock -- CMD [ARGS...]   landlock_create_ruleset() -> ENOSYS
 *   nolayer seccomp  -- CMD [ARGS...]   seccomp() and prctl(PR_SET_SECCOMP)
 *                                       -> EINVAL
 *   nolayer netns    -- CMD [ARGS...]   no new network namespace: clone3()
 *                                       (flags are out of seccomp's reach),
 *                                       and clone()/unshare() with
 *                                       CLONE_NEWNET -> ENOSPC, as with
 *                                       user.max_net_namespaces=0 (for hosts
 *                                       where that sysctl is not writable:
 *                                       it needs CAP_SYS_RESOURCE)
 *   nolayer ovlsock  -- CMD [ARGS...]   connect() "succeeds" (returns 0
 *                                       without connecting), as it would
 *                                       on a kernel whose overlayfs let a
 *                                       unix socket answer through it:
 *                                       the view's socket check must then
 *                                       refuse the run
 *
 * The fail-closed tests (tests/integration/sandbox.sh) run calyx-exec under
 * it and expect E_LAYER (or, with "landlock": "optional", a run without
 * Landlock). It installs a seccomp filter that makes those calls fail as on
 * a kernel built without the layer, then execv()s CMD (no PATH search), so
 * the filter applies to CMD and every process it starts.
 *
 * Runs as root: the filter is loaded with CAP_SYS_ADMIN instead of
 * no_new_privs (SCMP_FLTATR_CTL_NNP = 0), because calyx-exec must keep its
 * privileges to build the sandbox. The filter denies its own kind of call
 * only after it is loaded, so loading it is not affected.
 * Test tool only: never installed, never part of calyx. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: nolayer landlock|seccomp|netns|ovlsock -- CMD [ARGS...]\n");
	return 2;
}

static int add(scmp_filter_ctx ctx, int err, int nr, const char *name, unsigned n,
	       const struct scmp_arg_cmp *arg)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), nr, n, arg);
	if (r < 0)
		fprintf(stderr, "nolayer: rule for %s: %s\n", name, strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int r;

	if (argc < 4 || strcmp(argv[2], "--") != 0)
		return usage();
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		fprintf(stderr, "nolayer: seccomp_init failed\n");
		return 2;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0) {
		fprintf(stderr, "nolayer: cannot clear the no_new_privs attribute: %s\n", strerror(-r));
		goto out;
	}
	if (strcmp(argv[1], "landlock") == 0) {
		r = add(ctx, ENOSYS, SCMP_SYS(landlock_create_ruleset), "landlock_create_ruleset", 0,
			NULL);
	} else if (strcmp(argv[1], "seccomp") == 0) {
		struct scmp_arg_cmp set_seccomp = SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP);
		r = add(ctx, EINVAL, SCMP_SYS(seccomp), "seccomp", 0, NULL);
		if (r >= 0)
			r = add(ctx, EINVAL, SCMP_SYS(prctl), "prctl", 1, &set_seccomp);
	} else if (strcmp(argv[1], "netns") == 0) {
		struct scmp_arg_cmp newnet = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET);
		r = add(ctx, ENOSPC, SCMP_SYS(clone3), "clone3", 0, NULL);
		if (r >= 0)
			r = add(ctx, ENOSPC, SCMP_SYS(clone), "clone", 1, &newnet);
		if (r >= 0)
			r = add(ctx, ENOSPC, SCMP_SYS(unshare), "unshare", 1, &newnet);
	} else if (strcmp(argv[1], "ovlsock") == 0) {
		r = add(ctx, 0, SCMP_SYS(connect), "connect", 0, NULL);
	} else {
		seccomp_release(ctx);
		return usage();
	}
	if (r < 0)
		goto out;
	r = seccomp_load(ctx);
	if (r < 0) {
		fprintf(stderr, "nolayer: seccomp_load: %s (needs root)\n", strerror(-r));
		goto out;
	}
	seccomp_release(ctx);
	execv(argv[3], argv + 3);
	fprintf(stderr, "nolayer: cannot execute '%s': %s\n", argv[3], strerror(errno));
	return 127;
out:
	seccomp_release(ctx);
	return 2;
}
