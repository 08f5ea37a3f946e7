/* Privileges and rlimits of the sandboxed processes.
 *
 * Why the payload cannot regain privilege: before leaving uid 0 we lock
 * the securebits (root is not privileged, no ambient raise — each with its
 * lock bit), then libcap-ng clears every capability set and
 * the bounding set and switches to the run uid/gid with no supplementary
 * groups; no_new_privs then makes setuid/file-capability binaries inert.
 * Finally we re-read our capabilities from the kernel and abort the run
 * if any remain. Trust: runs in the child, as root, on ids from root-owned
 * configuration. */
#include "internal.h"

#include <cap-ng.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int sbx_rlimits(const cx_limits *lim, cx_error *err)
{
	const struct { int res; rlim_t v; const char *name; } set[] = {
		{ RLIMIT_NOFILE, (rlim_t)lim->v[CX_LIM_NOFILE], "nofile" },
		{ RLIMIT_FSIZE, (rlim_t)lim->v[CX_LIM_FSIZE_BYTES], "fsize" },
		{ RLIMIT_CORE, 0, "core" },
		/* No RLIMIT_NPROC: it counts every process of the run uid on the
		 * host, and concurrent runs share that uid, so one run's
		 * processes would make another's forks (or its very exec) fail
		 * below its own pids quota. The cgroup pids limit is per run
		 * and always in force (a layout without it is refused). */
		{ RLIMIT_STACK, 8u << 20, "stack" },
		{ RLIMIT_MEMLOCK, 64u << 10, "memlock" },
	};
	for (size_t i = 0; i < CX_ARRAY_SIZE(set); i++) {
		struct rlimit rl = { set[i].v, set[i].v };
		if (setrlimit(set[i].res, &rl) < 0)
			return cx_err(err, CX_E_SPAWN, errno, "setrlimit %s=%llu: %s", set[i].name,
				      (unsigned long long)set[i].v, strerror(errno));
	}
	return 0;
}

static int lock_securebits(bool noroot, cx_error *err)
{
	/* Not SECBIT_KEEP_CAPS_LOCKED: libcap-ng toggles keep-caps while it
	 * changes ids. Keep-caps is moot afterwards: no capability is left
	 * in any set, and the bounding set is empty, so none can come back. */
	unsigned long bits = SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (noroot)
		bits |= SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "lock securebits: %s", strerror(errno));
	return 0;
}

static int verify_no_caps(cx_error *err)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_get_caps_process() < 0)
		return cx_err(err, CX_E_SPAWN, EIO, "cannot read back capabilities");
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
	    capng_have_capabilities(CAPNG_SELECT_BOUNDS) != CAPNG_NONE)
		return cx_err(err, CX_E_SPAWN, EPERM, "capabilities remain after dropping; refusing to run");
	return 0;
}

int sbx_drop_privileges(uid_t uid, gid_t gid, cx_error *err)
{
	int r;

	CX_CHECK(uid != 0 && gid != 0);
	r = lock_securebits(true, err);
	if (r < 0)
		return r;
	capng_clear(CAPNG_SELECT_ALL);
	/* setresgid/setresuid, no supplementary groups, bounding set cleared,
	 * all sets (incl. ambient) empty. */
	r = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (r < 0)
		return cx_err(err, CX_E_SPAWN, EPERM,
			      "cannot switch to uid %u gid %u without capabilities (libcap-ng step %d)",
			      (unsigned)uid, (unsigned)gid, -r);
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return cx_err(err, CX_E_SPAWN, EPERM, "ids did not change to %u:%u", (unsigned)uid,
			      (unsigned)gid);
	r = verify_no_caps(err);
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "no_new_privs: %s", strerror(errno));
	return 0;
}

int sbx_drop_caps_keep_uid(cx_error *err)
{
	int r = lock_securebits(true, err);
	if (r < 0)
		return r;
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_ALL) < 0)
		return cx_err(err, CX_E_SPAWN, EPERM, "init: cannot drop capabilities");
	r = verify_no_caps(err);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = cx_err(err, CX_E_SPAWN, errno, "init: no_new_privs: %s", strerror(errno));
	return r;
}
