/* seccomp filter (libseccomp), loaded last, just before execve.
 *
 * A denylist in the spirit of Docker's default profile: default allow, and
 * EPERM (not kill, so programs fail cleanly) for syscalls that reach
 * beyond the sandbox or widen the kernel's attack surface:
 *   mounts and the new mount API, pivot_root, chroot; namespaces (unshare,
 *   setns, clone with any CLONE_NEW* flag; clone3 returns ENOSYS so libc
 *   falls back to clone, whose flags we can inspect); ptrace and
 *   process_vm_*; bpf, perf_event_open; keyrings; userfaultfd; kexec and
 *   modules; handle-based opens; iopl/ioperm; swap, reboot, acct, quotas;
 *   io_uring (its operations bypass seccomp); clock and host-name setting;
 *   syslog; personality other than the default;
 *   setting S_ISUID or S_ISGID through chmod/fchmod/fchmodat(2), open/
 *   openat/creat with O_CREAT, mknod(at), mkdir(at) — a setuid file left in
 *   a workspace would let any host user run code as the run uid, and
 *   reach other runs of that uid; openat2 returns ENOSYS (its mode is in
 *   memory, out of seccomp's sight; libc falls back to openat);
 *   socket() and socketpair() for every family but AF_UNIX (and AF_INET/AF_INET6 when the
 *   policy allows loopback); ioctl TIOCSTI and TIOCLINUX, compared on the
 *   low 32 bits (the kernel truncates the request), so high-bit garbage
 *   cannot slip past;
 *   plus the policy's syscalls.deny.
 * Only the native ABI is in the filter: any other (i386 via int 0x80, x32)
 * kills the process (SCMP_FLTATR_ACT_BADARCH).
 * Trust: runs in the payload after every other step; inputs are the
 * policy's validated names and the resolved spec. */
#include "internal.h"

#include <linux/sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define DENY SCMP_ACT_ERRNO(EPERM)

static const char *const denied[] = {
	"mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
	"fspick", "open_tree", "move_mount", "mount_setattr", "unshare", "setns", "ptrace",
	"process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "keyctl", "add_key",
	"request_key", "userfaultfd", "kexec_load", "kexec_file_load", "init_module",
	"finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms",
	"open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "swapon", "swapoff", "reboot",
	"acct", "quotactl", "quotactl_fd", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "lookup_dcookie", "syslog", "vhangup", "uselib", "nfsservctl",
	"_sysctl", "ustat", "sysfs", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "pidfd_getfd", "kcmp",
};

#if defined(__x86_64__)
/* Newer than libseccomp 2.5.4's table: by number on x86_64. */
static const int denied_nr[] = {
	457, /* statmount */
	458, /* listmount */
	467, /* open_tree_attr */
};
#endif

static int rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n,
		const struct scmp_arg_cmp *cmp, const char *what, cx_error *err)
{
	int r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (r < 0)
		return cx_err(err, CX_E_LAYER, -r, "seccomp: rule for %s: %s", what, strerror(-r));
	return 0;
}

static int add_named_errno(scmp_filter_ctx ctx, const char *name, int e, cx_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr < 0)
		return 0;
	return rule(ctx, SCMP_ACT_ERRNO(e), nr, 0, NULL, name, err);
}

static int add_named(scmp_filter_ctx ctx, const char *name, bool must_exist, cx_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR) {
		if (must_exist)
			return cx_err(err, CX_E_LAYER, EINVAL, "seccomp: unknown syscall '%s'", name);
		return 0;
	}
	if (nr < 0)
		return 0; /* not a syscall on this architecture */
	return rule(ctx, DENY, nr, 0, NULL, name, err);
}

int sbx_seccomp_load(const cx_sandbox_config *cfg, cx_error *err)
{
	static const uint64_t ns_flags[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
					     CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
	scmp_filter_ctx ctx;
	int r = 0;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return cx_err(err, CX_E_LAYER, ENOMEM, "seccomp: cannot create a filter");
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) < 0) {
		seccomp_release(ctx);
		return cx_err(err, CX_E_LAYER, EINVAL, "seccomp: cannot set filter attributes");
	}
	for (size_t i = 0; r == 0 && i < CX_ARRAY_SIZE(denied); i++)
		r = add_named(ctx, denied[i], false, err);
#if defined(__x86_64__)
	for (size_t i = 0; r == 0 && i < CX_ARRAY_SIZE(denied_nr); i++)
		r = rule(ctx, DENY, denied_nr[i], 0, NULL, "newer mount syscall", err);
#endif
	for (size_t i = 0; r == 0 && cfg->syscalls_deny && i < cfg->syscalls_deny->n; i++)
		r = add_named(ctx, cfg->syscalls_deny->v[i], true, err);

	/* clone with any namespace flag; clone3 hides its flags in memory. */
	for (size_t i = 0; r == 0 && i < CX_ARRAY_SIZE(ns_flags); i++) {
		struct scmp_arg_cmp c = SCMP_A0_64(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
		r = rule(ctx, DENY, SCMP_SYS(clone), 1, &c, "clone", err);
	}
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL, "clone3", err);

	/* No setuid/setgid bits: (syscall, index of its mode argument). */
	static const struct { const char *name; unsigned arg; } modes[] = {
		{ "chmod", 1 }, { "fchmod", 1 }, { "fchmodat", 2 }, { "creat", 1 },
		{ "open", 2 },  { "openat", 3 }, { "mknod", 1 },    { "mknodat", 2 },
		{ "mkdir", 1 }, { "mkdirat", 2 },
	};
	for (size_t i = 0; r == 0 && i < CX_ARRAY_SIZE(modes); i++) {
		int nr = seccomp_syscall_resolve_name(modes[i].name);
		if (nr < 0)
			continue;
		for (unsigned b = 0; r == 0 && b < 2; b++) {
			uint64_t bit = b ? S_ISGID : S_ISUID;
			struct scmp_arg_cmp c = { modes[i].arg, SCMP_CMP_MASKED_EQ, bit, bit };
			r = rule(ctx, DENY, nr, 1, &c, modes[i].name, err);
		}
	}
#if defined(__x86_64__)
	for (unsigned b = 0; r == 0 && b < 2; b++) { /* fchmodat2 (452): mode is arg 2 */
		uint64_t bit = b ? S_ISGID : S_ISUID;
		struct scmp_arg_cmp c = { 2, SCMP_CMP_MASKED_EQ, bit, bit };
		r = rule(ctx, DENY, 452, 1, &c, "fchmodat2", err);
	}
#endif
	if (r == 0)
		r = add_named_errno(ctx, "openat2", ENOSYS, err);

	/* personality: the default (0) only. */
	if (r == 0) {
		struct scmp_arg_cmp c = { 0, SCMP_CMP_NE, 0, 0 };
		r = rule(ctx, DENY, SCMP_SYS(personality), 1, &c, "personality", err);
	}

	/* socket families, compared on the low 32 bits (int domain); the
	 * same for socketpair, which also instantiates the family. */
	const int sock_calls[] = { SCMP_SYS(socket), SCMP_SYS(socketpair) };
	for (size_t k = 0; k < CX_ARRAY_SIZE(sock_calls); k++) {
		for (uint64_t fam = 0; r == 0 && fam < AF_MAX; fam++) {
			if (fam == AF_UNIX || (cfg->spec->network == CX_NET_LOOPBACK &&
					       (fam == AF_INET || fam == AF_INET6)))
				continue;
			struct scmp_arg_cmp c = SCMP_A0_64(SCMP_CMP_MASKED_EQ, 0xffffffffULL, fam);
			r = rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), sock_calls[k], 1, &c, "socket", err);
		}
		if (r == 0) {
			struct scmp_arg_cmp c = { 0, SCMP_CMP_GE, AF_MAX, 0 };
			r = rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), sock_calls[k], 1, &c, "socket", err);
		}
	}

	/* Terminal injection, low 32 bits of the request. */
	if (r == 0) {
		struct scmp_arg_cmp c = SCMP_A1_64(SCMP_CMP_MASKED_EQ, 0xffffffffULL, TIOCSTI);
		r = rule(ctx, DENY, SCMP_SYS(ioctl), 1, &c, "ioctl TIOCSTI", err);
	}
	if (r == 0) {
		struct scmp_arg_cmp c = SCMP_A1_64(SCMP_CMP_MASKED_EQ, 0xffffffffULL, TIOCLINUX);
		r = rule(ctx, DENY, SCMP_SYS(ioctl), 1, &c, "ioctl TIOCLINUX", err);
	}

	if (r == 0 && (r = seccomp_load(ctx)) < 0)
		r = cx_err(err, CX_E_LAYER, -r, "seccomp: load: %s", strerror(-r));
	seccomp_release(ctx);
	return r;
}
