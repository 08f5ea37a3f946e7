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
 *   policy allows loopback) — AF_UNIX stays: the run's own sockets are
 *   legitimate, and host sockets are kept out by the view (overlays,
 *   sandbox/view.c), which sees what a path resolves to where a filter on
 *   connect() would see only its string; ioctl TIOCSTI and TIOCLINUX, compared on the
 *   low 32 bits (the kernel truncates the request), so high-bit garbage
 *   cannot slip past;
 *   plus the policy's syscalls.deny.
 * Only the native ABI is in the filter: any other (i386 via int 0x80, x32)
 * kills the process (SCMP_FLTATR_ACT_BADARCH).
 *
 * Compiled once per set of inputs, in calyx-exec (sbx_seccomp_prepare,
 * before the sandbox is cloned), with libseccomp, and exported as the
 * classic BPF program libseccomp would load; the payload installs that
 * program as its last step (sbx_seccomp_install). Compiling costs about a
 * millisecond (the socket-family rules dominate), so the program is cached
 * in STATE/cache/seccomp-<key>.bpf, where key is a SHA-256 of everything
 * the rules depend on: calyx-exec's own binary (dev, inode, size, mtime),
 * libseccomp's version, the native architecture, the network mode and the
 * policy's syscalls.deny. The file carries an HMAC-SHA-256 (key derived
 * from the host key) over key and program, checked before use, so a file
 * not written by this host's calyx-exec — edited, truncated, planted or
 * restored from elsewhere — is never loaded: it is recompiled and
 * replaced. A cache that cannot be read or written only costs the compile.
 * Trust: the compile runs as root in calyx-exec on the policy's validated
 * names and the resolved spec; the install runs in the payload. */
#include "internal.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/* The rules, into a fresh libseccomp context. */
static int build(const cx_sandbox_config *cfg, scmp_filter_ctx *ret, cx_error *err)
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

	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

#define MAC_LEN crypto_auth_hmacsha256_BYTES
#define PROG_MAX (BPF_MAXINSNS * sizeof(struct sock_filter))

/* Compile with libseccomp and export the program it would load. */
static int compile(const cx_sandbox_config *cfg, sbx_filter *f, cx_error *err)
{
	scmp_filter_ctx ctx = NULL;
	int r = build(cfg, &ctx, err), fd;
	if (r < 0)
		return r;
	fd = memfd_create("calyx-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		seccomp_release(ctx);
		return cx_err(err, CX_E_LAYER, errno, "seccomp: memfd: %s", strerror(errno));
	}
	r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	off_t n = r < 0 ? -1 : lseek(fd, 0, SEEK_END);
	if (r < 0 || n <= 0 || (size_t)n > PROG_MAX || n % (off_t)sizeof(struct sock_filter) ||
	    pread(fd, f->insns, (size_t)n, 0) != n) {
		close(fd);
		return cx_err(err, CX_E_LAYER, r < 0 ? -r : EIO, "seccomp: cannot export the filter%s",
			      r < 0 ? "" : " (unexpected size)");
	}
	close(fd);
	f->len = (unsigned short)((size_t)n / sizeof(struct sock_filter));
	return 0;
}

/* SHA-256 of everything the rules depend on (see the top). */
static int cache_key(const cx_sandbox_config *cfg, uint8_t key[32])
{
	crypto_hash_sha256_state h;
	struct stat exe;
	const struct scmp_version *v = seccomp_version();
	uint32_t arch = seccomp_arch_native();
	uint8_t net = (uint8_t)cfg->spec->network;

	if (stat("/proc/self/exe", &exe) < 0 || !v)
		return -1;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)"calyx-seccomp-v1", 17);
	uint64_t id[5] = { exe.st_dev, exe.st_ino, (uint64_t)exe.st_size,
			   (uint64_t)exe.st_mtim.tv_sec, (uint64_t)exe.st_mtim.tv_nsec };
	crypto_hash_sha256_update(&h, (const uint8_t *)id, sizeof(id));
	uint32_t ver[4] = { v->major, v->minor, v->micro, arch };
	crypto_hash_sha256_update(&h, (const uint8_t *)ver, sizeof(ver));
	crypto_hash_sha256_update(&h, &net, 1);
	for (size_t i = 0; cfg->syscalls_deny && i < cfg->syscalls_deny->n; i++)
		crypto_hash_sha256_update(&h, (const uint8_t *)cfg->syscalls_deny->v[i],
					  strlen(cfg->syscalls_deny->v[i]) + 1);
	crypto_hash_sha256_final(&h, key);
	return 0;
}

static void cache_mac(const uint8_t *mac_key, const uint8_t key[32], const sbx_filter *f,
		      uint8_t mac[MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, mac_key, 32);
	crypto_auth_hmacsha256_update(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)f->insns,
				      f->len * sizeof(struct sock_filter));
	crypto_auth_hmacsha256_final(&st, mac);
}

/* 0 and *f filled when the cache holds this key's program, written by
 * this host (its MAC checks); -1 otherwise. */
static int cache_read(int dirfd, const char *name, const uint8_t *mac_key, const uint8_t key[32],
		      sbx_filter *f)
{
	enum { BUF_LEN = MAC_LEN + PROG_MAX + 1 };
	_cleanup_free_ uint8_t *buf = NULL; /* 32 KiB: not on the stack */
	uint8_t mac[MAC_LEN];
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	buf = cx_calloc(1, BUF_LEN);
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 077))
		n = read(fd, buf, BUF_LEN);
	close(fd);
	if (n <= (ssize_t)MAC_LEN || (size_t)n > MAC_LEN + PROG_MAX ||
	    (n - (ssize_t)MAC_LEN) % (ssize_t)sizeof(struct sock_filter))
		return -1;
	f->len = (unsigned short)(((size_t)n - MAC_LEN) / sizeof(struct sock_filter));
	memcpy(f->insns, buf + MAC_LEN, (size_t)n - MAC_LEN);
	cache_mac(mac_key, key, f, mac);
	if (sodium_memcmp(mac, buf, MAC_LEN) != 0) {
		f->len = 0;
		return -1;
	}
	return 0;
}

/* Best effort: written under a temporary name, then renamed (readers see
 * a whole file or none; concurrent writers write the same bytes). Not
 * synced: a file torn by a power loss fails its MAC and is rewritten. */
static void cache_write(int dirfd, const char *name, const uint8_t *mac_key,
			const uint8_t key[32], const sbx_filter *f)
{
	uint8_t mac[MAC_LEN], rnd[8];
	char tmp[160], hex[17];
	size_t plen = f->len * sizeof(struct sock_filter);

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), "%s.tmp-%s", name, hex);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	cache_mac(mac_key, key, f, mac);
	bool ok = write(fd, mac, MAC_LEN) == (ssize_t)MAC_LEN &&
		  write(fd, f->insns, plen) == (ssize_t)plen;
	close(fd);
	if (!ok || renameat(dirfd, tmp, dirfd, name) < 0)
		unlinkat(dirfd, tmp, 0);
}

int sbx_seccomp_prepare(const cx_sandbox_config *cfg, sbx_filter *f, cx_error *err)
{
	uint8_t key[32];
	char name[96], hex[65];
	int dirfd = -1, r;

	f->len = 0;
	if (cfg->seccomp_cache_dir && cfg->seccomp_cache_mac_key && cache_key(cfg, key) == 0) {
		if (mkdir(cfg->seccomp_cache_dir, 0700) < 0 && errno != EEXIST)
			goto compile;
		dirfd = open(cfg->seccomp_cache_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (dirfd >= 0 && (fstat(dirfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077))) {
			close(dirfd); /* not ours alone: not a cache we can trust or fill */
			dirfd = -1;
		}
		if (dirfd >= 0) {
			sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
			snprintf(name, sizeof(name), "seccomp-%s.bpf", hex);
			if (cache_read(dirfd, name, cfg->seccomp_cache_mac_key, key, f) == 0) {
				close(dirfd);
				return 0;
			}
		}
	}
compile:
	r = compile(cfg, f, err);
	if (r == 0 && dirfd >= 0)
		cache_write(dirfd, name, cfg->seccomp_cache_mac_key, key, f);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

int sbx_seccomp_install(const sbx_filter *f, cx_error *err)
{
	struct sock_fprog prog = { .len = f->len, .filter = (struct sock_filter *)f->insns };

	if (!f->len)
		return cx_err(err, CX_E_LAYER, EINVAL, "seccomp: no filter was prepared");
	/* what libseccomp's load does first (SCMP_FLTATR_CTL_NNP); privileges
	 * were dropped with it already, so this only makes sure */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cx_err(err, CX_E_LAYER, errno, "seccomp: no_new_privs: %s", strerror(errno));
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return cx_err(err, CX_E_LAYER, errno, "seccomp: load: %s", strerror(errno));
	return 0;
}
