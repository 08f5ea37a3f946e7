/* Loader for monitor.bpf.c: CPU budget enforcement in kernel and exec
 * tracing, both scoped to the run's cgroup.
 *
 * Why in kernel: a user-space poller sees the budget crossed only at its
 * next tick (isolate: 100 ms); the perf sample that crosses it runs on the
 * CPU the offending task is using, and bpf_send_signal(SIGKILL) stops that
 * task there and then. The supervisor then kills the rest of the cgroup.
 * Trust: runs as root; loads a program built from this tree (skeleton
 * embedded at build time), never one named at run time. */
#include "calyx/monitor.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <time.h>

#include "calyx/fileio.h"
#include "learn.skel.h"
#include "monitor.id.h"
#include "monitor.skel.h"
#include "monitor_bpf.h"

/* Sampling: one perf sample per period of CPU the run uses, per CPU.
 * Each sample is an interrupt plus the program, which a CPU-bound run pays
 * for (about 3% at 0.5 ms on a nested VM). So a run far from its budget is
 * sampled coarsely; when the remaining budget drops below FINE_MARGIN
 * periods per CPU, the program posts CX_EV_FINE and the loader switches
 * every event to the fine period (PERF_EVENT_IOC_PERIOD), so the budget is
 * still enforced to within a fine tick. Until the switch lands, at most a
 * coarse tick per CPU can pass the budget. */
#define TICK_NS 500000ULL         /* fine: 0.5 ms of CPU per sample */
#define COARSE_NS 10000000ULL     /* coarse: 10 ms */
#define FINE_MARGIN 4ULL          /* coarse periods per CPU before the budget */

/* The programs and the maps they share, as fds: from this run's own
 * load (private) or opened from the pins (shared). */
typedef struct shared_fds {
	int prog_exec, prog_sys_exit, prog_tick;
	int runs, rings, loader_sets;
} shared_fds;

struct cx_bpfmon {
	struct monitor_bpf *skel; /* private mode: loaded for this run; NULL when shared */
	shared_fds f;             /* borrowed from skel (private) or owned (shared) */
	bool shared;
	int root_fd, dir_fd;      /* shared: the pin root, this version's dir (LOCK_SH held) */
	int link_exec, link_sys_exit; /* private: the tracepoint links (shared: pinned) */
	/* this run's own maps and their entries in the shared ones */
	uint64_t cgid;
	bool registered;
	int cg_fd; /* the run's cgroup (its filesystem: dead runs' cgroups are looked up there) */
	char version[64]; /* shared: the version directory's name */
	int state_fd, ring_fd, loaders_fd;
	struct cx_run_state *st;
	size_t st_len;
	struct ring_buffer *rb;
	int ncpu;
	int *perf_fds;
	int *perf_links;
	cx_bpf_callbacks cb;
	bool fine;   /* every event at TICK_NS */
	const char *denied_why; /* NULL: failed execs are traced */
	const char *private_why; /* why this run loaded its own programs (NULL: shared, or not asked) */
	char why_buf[320];
	struct learn_bpf *learn; /* calyx-policy learn's file tracer, or NULL */
	uint32_t exec_limit; /* exec events posted before the run breaches */
};

/* Near the budget: every CPU's event to the fine period. */
static void go_fine(cx_bpfmon *m)
{
	uint64_t p = TICK_NS;
	if (m->fine || !m->perf_fds)
		return;
	m->fine = true;
	for (int i = 0; i < m->ncpu; i++)
		if (m->perf_fds[i] >= 0)
			ioctl(m->perf_fds[i], PERF_EVENT_IOC_PERIOD, &p);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0; /* libbpf must not print: failures come back as errors */
}

static int on_event(void *ctx, void *data, size_t size)
{
	cx_bpfmon *m = ctx;
	const struct cx_event *e = data;

	if (size >= sizeof(struct cx_open_event) && *(const unsigned int *)data == CX_EV_OPEN) {
		const struct cx_open_event *o = data;
		char path[CX_EV_OPEN_PATH + 1];
		size_t n = o->len < CX_EV_OPEN_PATH ? o->len : CX_EV_OPEN_PATH;
		memcpy(path, o->path, n);
		path[n] = '\0';
		if (m->cb.opened && strlen(path) == n)
			m->cb.opened(path, m->cb.arg);
		return 0;
	}
	if (size < sizeof(*e))
		return 0;
	if (e->type == CX_EV_FINE) {
		go_fine(m);
	} else if (e->type == CX_EV_CPU_BREACH && m->cb.cpu_breach) {
		m->cb.cpu_breach(e->used_ns, e->tgid, m->cb.arg);
	} else if ((e->type == CX_EV_EXEC && m->cb.exec) ||
		   ((e->type == CX_EV_LOADER || e->type == CX_EV_EXEC_FAIL) && m->cb.exec_denied)) {
		cx_bpf_exec x = { .pid = e->tgid, .ppid = e->ppid };
		_Static_assert(sizeof(x.filename) == sizeof(e->filename), "filename buffers");
		_Static_assert(sizeof(x.args) == sizeof(e->args), "args buffers");

		memcpy(x.filename, e->filename, sizeof(x.filename));
		x.filename_len = (uint32_t)strnlen(x.filename, sizeof(x.filename) - 1);
		x.filename_total = e->filename_len >= x.filename_len ? e->filename_len : 0;
		x.args_len = e->args_len < sizeof(x.args) ? e->args_len : sizeof(x.args);
		memcpy(x.args, e->args, x.args_len);
		x.args_total = e->args_total >= x.args_len ? e->args_total : x.args_len;
		if (e->type == CX_EV_EXEC) {
			m->cb.exec(&x, m->cb.arg);
		} else {
			x.loader = e->type == CX_EV_LOADER;
			x.killed = x.loader && e->exit_code == 9;
			x.errnum = x.loader ? 0 : e->exit_code;
			m->cb.exec_denied(&x, m->cb.arg);
		}
	}
	return 0;
}

static void put_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The event ring: room for every exec event the quota allows (and the
 * breach) when it is small, so none can be lost however late the
 * supervisor reads; 256 KiB (~800 events) past that, which the
 * supervisor drains as they come: an exec takes ~100 us of kernel time,
 * an event ~20 us to audit, so the ring fills only when many CPUs exec
 * at once for long, and then the exec that found no room is killed and
 * the run halted (never an unaudited exec). Not bigger: the kernel
 * allocates and maps the ring for each run (measured: 17 us for 256 KiB,
 * 0.2 ms for 1 MiB). A learn run's file opens share it: 4 MiB. A power
 * of 2 of at least a page (the kernel's rule). */
static uint32_t ring_bytes(const cx_bpf_guard *g)
{
	uint64_t want = ((uint64_t)(g ? g->exec_limit : 0) + 2) *
			(sizeof(struct cx_event) + 8 /* record header */);
	uint32_t b = 16 * 1024, cap = g && !g->kill ? 4u << 20 : 256 * 1024;

	if (g && !g->kill)
		return cap;
	while (b < want && b < cap)
		b <<= 1;
	return b;
}

/* The load-time constants: the kernel's struct offsets (the same for
 * every run of this boot) and the fine sampling period. */
static void set_rodata(struct monitor_bpf__rodata *ro, const cx_kern_offsets *off)
{
	memset(ro, 0, sizeof(*ro));
	ro->tick_ns = TICK_NS;
	ro->off_task_tgid = off->task_tgid;
	ro->off_task_real_parent = off->task_real_parent;
	ro->off_task_mm = off->task_mm;
	ro->off_mm_arg_start = off->mm_arg_start;
	ro->off_mm_arg_end = off->mm_arg_end;
	ro->off_bprm_filename = off->bprm_filename;
	ro->off_bprm_file = off->bprm_file;
	ro->off_file_inode = off->file_inode;
	ro->off_inode_ino = off->inode_ino;
	ro->off_inode_sb = off->inode_sb;
	ro->off_sb_dev = off->sb_dev;
	ro->off_sb_magic = off->sb_magic;
	ro->off_ovl_inode_vfs = off->ovl_inode_vfs;
	ro->off_ovl_inode_upper = off->ovl_inode_upper;
	ro->off_ovl_inode_oe = off->ovl_inode_oe;
	ro->off_ovl_entry_lower = off->ovl_entry_lower;
	ro->off_ovl_path_dentry = off->ovl_path_dentry;
	ro->off_dentry_inode = off->dentry_inode;
}

/* Open and load the programs (the kernel verifies them: ~1 ms of CPU,
 * the cost the pins save every run but the first of a boot). */
static int load_object(const cx_kern_offsets *off, struct monitor_bpf **ret, cx_error *err)
{
	struct monitor_bpf *skel;
	int r;

	libbpf_set_print(quiet);
	skel = monitor_bpf__open();
	if (!skel)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot open the monitor program: %s",
			      strerror(errno));
	set_rodata(skel->rodata, off);
	r = monitor_bpf__load(skel);
	if (r < 0) {
		monitor_bpf__destroy(skel);
		return cx_err(err, CX_E_LAYER, -r, "bpf: the kernel refused the monitor program: %s",
			      strerror(-r));
	}
	*ret = skel;
	return 0;
}

static void fds_of(struct monitor_bpf *skel, shared_fds *f)
{
	f->prog_exec = bpf_program__fd(skel->progs.on_exec);
	f->prog_sys_exit = bpf_program__fd(skel->progs.on_sys_exit);
	f->prog_tick = bpf_program__fd(skel->progs.on_cpu_tick);
	f->runs = bpf_map__fd(skel->maps.runs);
	f->rings = bpf_map__fd(skel->maps.rings);
	f->loader_sets = bpf_map__fd(skel->maps.loader_sets);
}

/* ---- the shared monitor ---------------------------------------------------
 * Loading and verifying the programs is the monitor's main cost (~1 ms of
 * CPU a run). They depend only on this build and this kernel, so the first
 * run of a boot loads them and pins them in a bpffs directory, and every
 * later run opens the pins and only adds its own maps (its state, its
 * ring, its loaders) to the shared ones, keyed by its cgroup id.
 *
 * Layout: ROOT (config bpf_pin_dir, default /sys/fs/bpf/calyx; root's,
 * 0700, on a bpffs), ROOT/<build id>-<offsets hash> per build and kernel
 * (0700): the programs, the three shared maps, and while runs are active
 * the two tracepoint links. A new version's directory is made as
 * ROOT/new-<pid> (bpffs allows no dot in a name) and renamed into place once complete, so a crash
 * mid-pin leaves no half directory under a version's name.
 * Trust: only root can create or change anything under ROOT (its mode
 * and owner are checked at every open; /sys/fs/bpf itself is world
 * writable with the sticky bit, so a user could have made ROOT first:
 * then it is not root's and nothing in it is used). What is opened is
 * checked before use: each program's type and name, each map's shape,
 * that the programs use these maps, and that their constants (the
 * kernel offsets) are this run's. That catches a stale version, a pin
 * of another kind or a partial one; it cannot catch root itself
 * planting programs with the right names and shapes, which root could
 * do to calyx-exec's binary as well. Anything that does not check out is
 * removed and loaded again (or, while runs of it are active, this run
 * loads its own): never used.
 * Locks (flock, released by the kernel if a holder dies): ROOT
 * exclusively while a run loads, attaches or releases; each run holds
 * its version directory shared until its end; the last one out (an
 * exclusive lock succeeds) unpins the links, detaching the tracepoints:
 * sys_exit costs every syscall of the host a little while attached. */
#define PIN_ROOT_DEFAULT "/sys/fs/bpf/calyx"
#define BPF_FS_MAGIC_ 0xcafe4a11

static const char *const PIN_NAMES[] = { "on_exec", "on_sys_exit", "on_cpu_tick",
					 "runs",    "rings",       "loader_sets" };

/* The version's directory name: this build's BPF object (its SHA-256,
 * computed by the Makefile) and the kernel offsets it was loaded with. */
static void version_name(const struct monitor_bpf__rodata *ro, char ret[64])
{
	uint8_t h[8];
	char hex[17];

	crypto_generichash(h, sizeof(h), (const uint8_t *)ro, sizeof(*ro), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(ret, 64, "%.24s-%s", CX_MONITOR_BPF_ID, hex);
}

/* A directory of ROOT's tree: root's, 0700, not a symlink. */
static bool dir_trusted(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
	       (st.st_mode & 07777) == 0700;
}

static int open_root(const char *root, int *ret, const char **why)
{
	struct statfs sf;
	int fd;

	if (mkdir(root, 0700) < 0 && errno != EEXIST) {
		*why = errno == ENOENT ? "no bpffs mounted there" : "cannot create the pin directory";
		return -errno;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*why = "cannot open the pin directory";
		return -errno;
	}
	if (fstatfs(fd, &sf) < 0 || (unsigned long)sf.f_type != BPF_FS_MAGIC_) {
		close(fd);
		*why = "the pin directory is not on a bpffs";
		return -ENOTSUP;
	}
	if (!dir_trusted(fd)) {
		close(fd);
		*why = "the pin directory is not root's with mode 0700";
		return -EPERM;
	}
	*ret = fd;
	return 0;
}

static int pin_path(char *buf, size_t len, const char *root, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s/%s", root, dir, name);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Remove ROOT/name and what it holds (pins: unlinking one drops only
 * the name's reference; runs using the objects keep them). */
static void remove_version(int root_fd, const char *name)
{
	int fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	unlinkat(root_fd, name, AT_REMOVEDIR);
}

/* Under ROOT's lock: other versions nobody uses any more (an exclusive
 * lock on their directory succeeds) and leftovers of a crashed pin. */
static void sweep_versions(int root_fd, const char *keep)
{
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, keep))
			continue;
		int v = openat(root_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		bool idle = v >= 0 && (strncmp(de->d_name, "new-", 4) == 0 ||
				       flock(v, LOCK_EX | LOCK_NB) == 0);
		if (v >= 0)
			close(v);
		if (idle)
			remove_version(root_fd, de->d_name);
	}
	closedir(d);
}

/* Load and pin a version: complete under its name, or not at all. */
static int pin_version(int root_fd, const char *root, const char *name, const cx_kern_offsets *off,
		       cx_error *err)
{
	struct monitor_bpf *skel = NULL;
	shared_fds f;
	char tmp[32], path[PATH_MAX];
	int r;

	r = load_object(off, &skel, err);
	if (r < 0)
		return r;
	fds_of(skel, &f);
	int fds[] = { f.prog_exec, f.prog_sys_exit, f.prog_tick, f.runs, f.rings, f.loader_sets };
	snprintf(tmp, sizeof(tmp), "new-%d", (int)getpid());
	remove_version(root_fd, tmp);
	if (mkdirat(root_fd, tmp, 0700) < 0) {
		r = cx_err(err, CX_E_LAYER, errno, "bpf: cannot create a pin directory in '%s': %s",
			   root, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		r = pin_path(path, sizeof(path), root, tmp, PIN_NAMES[i]);
		if (r == 0 && bpf_obj_pin(fds[i], path) < 0)
			r = -errno;
		if (r < 0) {
			r = cx_err(err, CX_E_LAYER, -r, "bpf: cannot pin the monitor in '%s': %s", root,
				   strerror(-r));
			goto out;
		}
	}
	if (renameat(root_fd, tmp, root_fd, name) < 0)
		r = cx_err(err, CX_E_LAYER, errno, "bpf: cannot name the pinned monitor in '%s': %s",
			   root, strerror(errno));
out:
	if (r < 0)
		remove_version(root_fd, tmp);
	monitor_bpf__destroy(skel); /* the pins hold what was pinned */
	return r;
}

static bool map_ok(int fd, const char *name, uint32_t type, uint32_t ksz, uint32_t vsz,
		   uint32_t max, uint32_t *ret_id)
{
	struct bpf_map_info in = { 0 };
	uint32_t len = sizeof(in);

	if (bpf_obj_get_info_by_fd(fd, &in, &len) < 0 || in.type != type || in.key_size != ksz ||
	    in.value_size != vsz || in.max_entries != max || strcmp(in.name, name) != 0)
		return false;
	*ret_id = in.id;
	return true;
}

/* A program of ours: its type and name, and the maps it uses are the
 * shared ones (wanted: a bit per shared map) plus only its own
 * constants (returned in ret_ro: one map named *.rodata) and scratch. */
static bool prog_ok(int fd, const char *name, uint32_t type, const uint32_t ids[3], unsigned wanted,
		    uint32_t *ret_ro)
{
	struct bpf_prog_info in = { 0 };
	uint32_t len = sizeof(in), maps[8];
	unsigned seen = 0;

	in.nr_map_ids = 8;
	in.map_ids = (uint64_t)(uintptr_t)maps;
	if (bpf_obj_get_info_by_fd(fd, &in, &len) < 0 || in.type != type ||
	    strcmp(in.name, name) != 0 || in.nr_map_ids > 8)
		return false;
	for (uint32_t i = 0; i < in.nr_map_ids; i++) {
		bool shared = false;
		for (int k = 0; k < 3; k++)
			if (maps[i] == ids[k]) {
				seen |= 1u << k;
				shared = true;
			}
		if (shared)
			continue;
		struct bpf_map_info mi = { 0 };
		uint32_t ml = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(maps[i]);
		bool got = mfd >= 0 && bpf_obj_get_info_by_fd(mfd, &mi, &ml) == 0;
		if (mfd >= 0)
			close(mfd);
		if (!got)
			return false;
		size_t nl = strlen(mi.name);
		if (nl >= 7 && strcmp(mi.name + nl - 7, ".rodata") == 0) {
			if (*ret_ro && *ret_ro != mi.id)
				return false;
			*ret_ro = mi.id;
		} else if (strcmp(mi.name, "scratch") != 0) {
			return false;
		}
	}
	return seen == wanted;
}

/* Open ROOT/name's objects and check them (see above): 0, -ENOENT when
 * the version is not pinned, -EBADMSG when what is there is not it. */
static int open_version(const char *root, const char *name, const struct monitor_bpf__rodata *ro,
			shared_fds *f)
{
	char path[PATH_MAX];
	int *fds[] = { &f->prog_exec, &f->prog_sys_exit, &f->prog_tick,
		       &f->runs,      &f->rings,         &f->loader_sets };
	uint32_t ids[3], ro_id = 0;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (pin_path(path, sizeof(path), root, name, PIN_NAMES[i]) < 0)
			return -EBADMSG;
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0)
			return errno == ENOENT ? -ENOENT : -EBADMSG;
	}
	if (!map_ok(f->runs, "runs", BPF_MAP_TYPE_HASH_OF_MAPS, 8, 4, CX_RUNS_MAX, &ids[0]) ||
	    !map_ok(f->rings, "rings", BPF_MAP_TYPE_HASH_OF_MAPS, 8, 4, CX_RUNS_MAX, &ids[1]) ||
	    !map_ok(f->loader_sets, "loader_sets", BPF_MAP_TYPE_HASH_OF_MAPS, 8, 4, CX_RUNS_MAX,
		    &ids[2]) ||
	    !prog_ok(f->prog_exec, "on_exec", BPF_PROG_TYPE_RAW_TRACEPOINT, ids, 7, &ro_id) ||
	    !prog_ok(f->prog_sys_exit, "on_sys_exit", BPF_PROG_TYPE_RAW_TRACEPOINT, ids, 3, &ro_id) ||
	    !prog_ok(f->prog_tick, "on_cpu_tick", BPF_PROG_TYPE_PERF_EVENT, ids, 3, &ro_id) || !ro_id)
		return -EBADMSG;
	/* the constants: this kernel's offsets */
	struct monitor_bpf__rodata got;
	uint32_t k = 0;
	int rfd = bpf_map_get_fd_by_id(ro_id);
	bool same = rfd >= 0 && bpf_map_lookup_elem(rfd, &k, &got) == 0 &&
		    memcmp(&got, ro, sizeof(got)) == 0;
	if (rfd >= 0)
		close(rfd);
	return same ? 0 : -EBADMSG;
}

static void close_shared(shared_fds *f)
{
	int *fds[] = { &f->prog_exec, &f->prog_sys_exit, &f->prog_tick,
		       &f->runs,      &f->rings,         &f->loader_sets };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		put_fd(fds[i]);
}

/* The version's link to tracepoint tp, pinned as ROOT/name/pin: the one
 * there when it is a raw tracepoint link of prog_fd, else a new one. */
static int ensure_link(const char *root, const char *name, const char *pin, const char *tp,
		       int prog_fd, int dir_fd)
{
	char path[PATH_MAX];
	struct bpf_prog_info pi = { 0 };
	uint32_t pl = sizeof(pi);
	int fd, r;

	if (pin_path(path, sizeof(path), root, name, pin) < 0 ||
	    bpf_obj_get_info_by_fd(prog_fd, &pi, &pl) < 0)
		return -EINVAL;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct bpf_link_info li = { 0 };
		uint32_t ll = sizeof(li);
		bool ok = bpf_obj_get_info_by_fd(fd, &li, &ll) == 0 &&
			  li.type == BPF_LINK_TYPE_RAW_TRACEPOINT && li.prog_id == pi.id;
		close(fd);
		if (ok)
			return 0;
		unlinkat(dir_fd, pin, 0);
	}
	fd = bpf_raw_tracepoint_open(tp, prog_fd);
	if (fd < 0)
		return -errno;
	r = bpf_obj_pin(fd, path) < 0 ? -errno : 0;
	close(fd); /* the pin holds it, or, unpinned, it detaches now */
	return r;
}

/* Open (loading and pinning first if needed) the shared monitor and
 * join it: this run holds the version's directory shared until its end.
 * < 0 with *why when it cannot: the caller loads its own. */
static int open_shared(cx_bpfmon *m, const char *root, const cx_kern_offsets *off, cx_error *err,
		       const char **why)
{
	struct monitor_bpf__rodata ro;
	char name[64];
	int r;

	set_rodata(&ro, off);
	version_name(&ro, name);
	r = open_root(root, &m->root_fd, why);
	if (r < 0)
		return r;
	while (flock(m->root_fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			*why = "cannot lock the pin directory";
			return -errno;
		}
	for (int attempt = 0; attempt < 2; attempt++) {
		m->dir_fd = openat(m->root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (m->dir_fd < 0 && errno == ENOENT) {
			sweep_versions(m->root_fd, name);
			r = pin_version(m->root_fd, root, name, off, err);
			if (r < 0) {
				*why = "cannot pin the monitor";
				goto out;
			}
			continue;
		}
		r = m->dir_fd < 0 ? -errno : dir_trusted(m->dir_fd) ? open_version(root, name, &ro, &m->f)
								     : -EBADMSG;
		if (r == 0)
			break;
		close_shared(&m->f);
		/* not what it claims: away with it, unless runs use it */
		bool idle = m->dir_fd >= 0 && flock(m->dir_fd, LOCK_EX | LOCK_NB) == 0;
		put_fd(&m->dir_fd);
		if (!idle || attempt) {
			*why = "the pinned monitor does not check out and is in use";
			r = -EBADMSG;
			goto out;
		}
		remove_version(m->root_fd, name);
	}
	if (m->dir_fd < 0) {
		*why = "the pinned monitor vanished";
		r = -ENOENT;
		goto out;
	}
	if (flock(m->dir_fd, LOCK_SH) < 0) {
		*why = "cannot lock the pinned monitor";
		r = -errno;
		goto out;
	}
	r = ensure_link(root, name, "link_exec", "sched_process_exec", m->f.prog_exec, m->dir_fd);
	if (r < 0) {
		*why = "cannot attach the exec tracer";
		goto out;
	}
	if (ensure_link(root, name, "link_sys_exit", "sys_exit", m->f.prog_sys_exit, m->dir_fd) < 0)
		m->denied_why = "no sys_exit tracepoint in this kernel (failed execs are not audited)";
	snprintf(m->version, sizeof(m->version), "%s", name);
	m->shared = true;
out:
	flock(m->root_fd, LOCK_UN);
	if (r < 0) {
		close_shared(&m->f);
		put_fd(&m->dir_fd);
		put_fd(&m->root_fd);
	}
	return r;
}

/* This run's programs, loaded for it alone (no bpffs, or the shared
 * ones cannot be used): the same programs, links held by this process. */
static int open_private(cx_bpfmon *m, const cx_kern_offsets *off, cx_error *err)
{
	int r = load_object(off, &m->skel, err);

	if (r < 0)
		return r;
	fds_of(m->skel, &m->f);
	m->link_exec = bpf_raw_tracepoint_open("sched_process_exec", m->f.prog_exec);
	if (m->link_exec < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach the exec tracer: %s",
			      strerror(errno));
	/* Failed exec calls: without the sys_exit tracepoint (a kernel
	 * built without CONFIG_HAVE_SYSCALL_TRACEPOINTS) only they go
	 * unseen; the caller says so in the audit log. */
	m->link_sys_exit = bpf_raw_tracepoint_open("sys_exit", m->f.prog_sys_exit);
	if (m->link_sys_exit < 0)
		m->denied_why = "no sys_exit tracepoint in this kernel (failed execs are not audited)";
	return 0;
}

/* Whether the cgroup whose id is cgid still exists (a cgroup2 file
 * handle is its id); true when that cannot be told. */
static bool cgroup_alive(int cg_fd, uint64_t cgid)
{
	struct {
		struct file_handle h;
		uint64_t id;
	} fh = { .h = { .handle_bytes = sizeof(uint64_t), .handle_type = 0xfe /* FILEID_KERNFS */ } };
	memcpy(fh.h.f_handle, &cgid, sizeof(cgid));
	int fd = open_by_handle_at(cg_fd, &fh.h, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	return errno != ESTALE && errno != ENOENT;
}

static void unregister(const shared_fds *f, uint64_t cgid)
{
	/* the state first: from then on the programs ignore the run */
	bpf_map_delete_elem(f->runs, &cgid);
	bpf_map_delete_elem(f->rings, &cgid);
	bpf_map_delete_elem(f->loader_sets, &cgid);
}

/* Entries of runs that died without removing them (their cgroup is
 * gone; cgroup ids are not reused within a boot). Under ROOT's lock
 * when shared; no allocation (it may run in the linger child). */
static void collect_dead(const shared_fds *f, int cg_fd)
{
	uint64_t key, next, dead[64];
	size_t n = 0;
	void *prev = NULL;

	while (n < 64 && bpf_map_get_next_key(f->runs, prev, &next) == 0) {
		if (!cgroup_alive(cg_fd, next))
			dead[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++)
		unregister(f, dead[i]);
}

/* Add this run's maps to the shared ones: its ring and loaders, then
 * its state (the programs look the state up first). */
static int register_run(cx_bpfmon *m, int cg_fd)
{
	int r = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (bpf_map_update_elem(m->f.loader_sets, &m->cgid, &m->loaders_fd, BPF_NOEXIST) < 0 ||
		    bpf_map_update_elem(m->f.rings, &m->cgid, &m->ring_fd, BPF_NOEXIST) < 0 ||
		    bpf_map_update_elem(m->f.runs, &m->cgid, &m->state_fd, BPF_NOEXIST) < 0) {
			r = -errno;
			unregister(&m->f, m->cgid);
			if (r != -E2BIG && r != -ENOSPC)
				return r;
			collect_dead(&m->f, cg_fd); /* full: room left by runs that died */
			continue;
		}
		m->registered = true;
		return 0;
	}
	return r;
}

/* Close every fd but keep[0..n) (sorted ascending). */
static void close_all_but(const int *keep, int n)
{
	unsigned lo = 0;
	for (int i = 0; i < n; i++) {
		if (keep[i] < 0)
			continue;
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

static void sort_fds(int *a, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
			int t = a[j];
			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

/* The end of a shared run: out of the version, and the last one out
 * unpins the tracepoint links; dead runs' entries collected. */
static void release_shared(int root_fd, int dir_fd, const char *version, const shared_fds *f,
			   int cg_fd)
{
	while (flock(root_fd, LOCK_EX) < 0 && errno == EINTR)
		;
	close(dir_fd); /* this run's shared lock (the last fd of its open file) */
	int d = openat(root_fd, version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d >= 0 && flock(d, LOCK_EX | LOCK_NB) == 0) {
		unlinkat(d, "link_exec", 0);
		unlinkat(d, "link_sys_exit", 0);
	}
	if (d >= 0)
		close(d);
	if (cg_fd >= 0)
		collect_dead(f, cg_fd);
	flock(root_fd, LOCK_UN);
}

/* The tracepoints stay attached LINGER_MS past a run's end, held by a
 * child. Why: a tracepoint going from 1 probe to 0 and back to 1 waits
 * for an RCU grace period at the re-attach (the kernel's
 * tp_rcu_cond_sync; sys_exit measured 8 ms a run for runs back to back,
 * 7 us with the link held, 0.2 ms when runs are 0.3 s apart). With the
 * links held a while, the next run attaches to (shared: finds) links
 * still there, and the last release happens off every run's path. The
 * child keeps only what the release needs (every other fd closed first:
 * no lock, log or pipe, so nobody waits for its EOF), is not waited for
 * (calyx-exec reaps no child with wait(-1); reparented when calyx-exec
 * exits, init reaps it), and the programs do nothing for this run
 * meanwhile (its entries are gone). If the fork fails, the release
 * happens here. */
#define LINGER_MS 100
static void linger(cx_bpfmon *m)
{
	int keep[8], n = 0, done[2];

	if (m->shared) {
		int fds[] = { m->root_fd, m->dir_fd, m->cg_fd, m->f.runs, m->f.rings, m->f.loader_sets };
		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			keep[n++] = fds[i];
	} else {
		keep[n++] = m->link_exec;
		keep[n++] = m->link_sys_exit;
	}
	sort_fds(keep, n);
	/* The fork copies every fd (the workspace lock, the control socket,
	 * the log): calyx-exec waits until the child has closed its copies
	 * (EOF on done[0]), else the next run on this workspace could find
	 * it still locked by a child that had not run yet. */
	pid_t pid = pipe2(done, O_CLOEXEC) == 0 ? fork() : -1;
	if (pid < 0) {
		if (m->shared)
			release_shared(m->root_fd, m->dir_fd, m->version, &m->f, m->cg_fd);
		m->dir_fd = -1;
		return;
	}
	if (pid != 0) {
		char c;
		close(done[1]);
		m->dir_fd = m->shared ? (close(m->dir_fd), -1) : m->dir_fd;
		while (read(done[0], &c, 1) < 0 && errno == EINTR)
			;
		close(done[0]);
		return;
	}
	/* child: only async-signal-safe calls from here; keep keep[] alone */
	close_all_but(keep, n); /* done[1] too: the parent's EOF */
	struct timespec ts = { 0, LINGER_MS * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	if (m->shared)
		release_shared(m->root_fd, m->dir_fd, m->version, &m->f, m->cg_fd);
	_exit(0);
}

void cx_bpfmon_stop(cx_bpfmon *m)
{
	if (!m)
		return;
	if (m->registered)
		unregister(&m->f, m->cgid);
	ring_buffer__free(m->rb);
	learn_bpf__destroy(m->learn);
	for (int i = 0; i < m->ncpu; i++) {
		if (m->perf_links)
			put_fd(&m->perf_links[i]);
		if (m->perf_fds)
			put_fd(&m->perf_fds[i]);
	}
	free(m->perf_links);
	free(m->perf_fds);
	if (m->st)
		munmap(m->st, m->st_len);
	put_fd(&m->state_fd);
	put_fd(&m->ring_fd);
	put_fd(&m->loaders_fd);
	if (m->shared || m->link_exec >= 0 || m->link_sys_exit >= 0)
		linger(m);
	put_fd(&m->link_exec);
	put_fd(&m->link_sys_exit);
	if (m->skel)
		monitor_bpf__destroy(m->skel); /* owns f's fds */
	else
		close_shared(&m->f);
	put_fd(&m->dir_fd);
	put_fd(&m->root_fd);
	put_fd(&m->cg_fd);
	free(m);
}

static cx_bpfmon *bpfmon_new(void)
{
	cx_bpfmon *m = cx_calloc(1, sizeof(*m));
	int *fds[] = { &m->f.prog_exec, &m->f.prog_sys_exit, &m->f.prog_tick, &m->f.runs,
		       &m->f.rings,     &m->f.loader_sets,   &m->root_fd,     &m->dir_fd,
		       &m->link_exec,   &m->link_sys_exit,   &m->state_fd,    &m->ring_fd,
		       &m->loaders_fd,  &m->cg_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		*fds[i] = -1;
	return m;
}

/* This run's maps: its state (mapped here: read and updated as the
 * programs do), its ring, its loaders. */
static int make_run_maps(cx_bpfmon *m, const cx_bpf_guard *guard, cx_error *err)
{
	LIBBPF_OPTS(bpf_map_create_opts, mmapable, .map_flags = BPF_F_MMAPABLE);
	long page = sysconf(_SC_PAGESIZE);

	m->state_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "cx_state", sizeof(uint32_t),
				     sizeof(struct cx_run_state), 1, &mmapable);
	if (m->state_fd < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot create the run's state: %s",
			      strerror(errno));
	m->st_len = (sizeof(struct cx_run_state) + (size_t)page - 1) & ~((size_t)page - 1);
	void *p = mmap(NULL, m->st_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->state_fd, 0);
	if (p == MAP_FAILED)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot map the run's state: %s",
			      strerror(errno));
	m->st = p;
	m->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "cx_events", 0, 0, ring_bytes(guard), NULL);
	if (m->ring_fd < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot create the event ring: %s",
			      strerror(errno));
	m->loaders_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cx_loaders", sizeof(struct cx_file_key),
				       1, CX_LOADERS_MAX, NULL);
	if (m->loaders_fd < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot create the loader guard: %s",
			      strerror(errno));
	/* The loaders, before the run is registered: from its first exec
	 * on, the guard holds. */
	for (size_t i = 0; guard && i < guard->n_loaders && i < CX_LOADERS_MAX; i++) {
		struct cx_file_key k = {
			.ino = guard->loaders[i].ino,
			/* the kernel's own dev_t encoding (MKDEV: 20 bits of minor) */
			.dev = (major(guard->loaders[i].dev) << 20) | minor(guard->loaders[i].dev),
		};
		uint8_t one = 1;
		if (bpf_map_update_elem(m->loaders_fd, &k, &one, BPF_ANY) < 0)
			return cx_err(err, CX_E_LAYER, errno, "bpf: cannot fill the loader guard: %s",
				      strerror(errno));
	}
	return 0;
}

/* The per-CPU cpu-clock events scoped to the run's cgroup, each running
 * on_cpu_tick with the run's cgroup id as its cookie. */
static int attach_ticks(cx_bpfmon *m, int cgroup_fd, cx_error *err)
{
	int attached = 0;

	m->perf_fds = cx_calloc((size_t)m->ncpu, sizeof(int));
	m->perf_links = cx_calloc((size_t)m->ncpu, sizeof(int));
	for (int i = 0; i < m->ncpu; i++)
		m->perf_fds[i] = m->perf_links[i] = -1; /* not opened (a failure midway closes only these) */
	for (int i = 0; i < m->ncpu; i++) {
		struct perf_event_attr a = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(a),
			.config = PERF_COUNT_SW_CPU_CLOCK,
			.sample_period = m->fine ? TICK_NS : COARSE_NS, /* cpu-clock counts ns */
		};
		m->perf_fds[i] = (int)syscall(SYS_perf_event_open, &a, cgroup_fd, i, -1,
					      PERF_FLAG_PID_CGROUP | PERF_FLAG_FD_CLOEXEC);
		if (m->perf_fds[i] < 0) {
			if (errno == ENODEV) /* offline CPU */
				continue;
			return cx_err(err, CX_E_LAYER, errno,
				      "bpf: cannot open a cgroup cpu-clock event on cpu %d: %s", i,
				      strerror(errno));
		}
		LIBBPF_OPTS(bpf_link_create_opts, lo, .perf_event.bpf_cookie = m->cgid);
		m->perf_links[i] = bpf_link_create(m->f.prog_tick, m->perf_fds[i], BPF_PERF_EVENT, &lo);
		if (m->perf_links[i] < 0)
			return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach to cpu %d: %s", i,
				      strerror(errno));
		attached++;
	}
	if (!attached)
		return cx_err(err, CX_E_LAYER, ENODEV, "bpf: no online CPU to watch");
	return 0;
}

int cx_bpfmon_start(int cgroup_fd, uint64_t budget_ns, const cx_kern_offsets *off,
		    const cx_bpf_guard *guard, const cx_bpf_callbacks *cb, cx_bpfmon **ret,
		    cx_error *err)
{
	cx_bpfmon *m = bpfmon_new();
	struct stat st;
	int r;

	*ret = NULL;
	libbpf_set_print(quiet);
	if (fstat(cgroup_fd, &st) < 0) {
		r = cx_err(err, CX_E_LAYER, errno, "bpf: cgroup fd: %s", strerror(errno));
		goto fail;
	}
	m->cgid = (uint64_t)st.st_ino; /* a cgroup2 dir's inode is its id */
	m->cg_fd = fcntl(cgroup_fd, F_DUPFD_CLOEXEC, 3);
	m->ncpu = libbpf_num_possible_cpus();
	if (m->ncpu <= 0 || m->ncpu > CX_MAX_CPUS) {
		r = cx_err(err, CX_E_LAYER, EINVAL, "bpf: cannot count CPUs (or more than %d)",
			   CX_MAX_CPUS);
		goto fail;
	}
	const char *root = guard ? guard->pin_root : NULL;
	if (root && root[0]) {
		cx_error serr = { 0 };
		const char *why = NULL;
		int sr = open_shared(m, root, off, &serr, &why);
		if (sr < 0) {
			snprintf(m->why_buf, sizeof(m->why_buf), "%s: %.100s (%.160s)",
				 why ? why : "cannot use the pinned monitor", root,
				 serr.msg[0] ? serr.msg : strerror(-sr));
			m->private_why = m->why_buf;
		}
	}
	if (!m->shared && (r = open_private(m, off, err)) < 0)
		goto fail;
	r = make_run_maps(m, guard, err);
	if (r < 0)
		goto fail;
	m->cb = *cb;
	m->exec_limit = guard ? guard->exec_limit : 0;
	uint64_t fine_below = FINE_MARGIN * COARSE_NS * (uint64_t)m->ncpu;
	m->fine = budget_ns <= 2 * fine_below; /* a small budget: fine from the start */
	m->st->budget_ns = budget_ns;
	m->st->fine_below_ns = m->fine ? 0 : fine_below;
	m->st->exec_limit = m->exec_limit;
	m->st->loader_kill = guard && guard->kill;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r = register_run(m, m->cg_fd);
	if (r < 0) {
		r = cx_err(err, CX_E_LAYER, -r, "bpf: cannot register the run with the monitor: %s",
			   strerror(-r));
		goto fail;
	}
	if (budget_ns && (r = attach_ticks(m, cgroup_fd, err)) < 0)
		goto fail;
	m->rb = ring_buffer__new(m->ring_fd, on_event, m, NULL);
	if (!m->rb) {
		r = cx_err(err, CX_E_LAYER, errno, "bpf: ring buffer: %s", strerror(errno));
		goto fail;
	}
	*ret = m;
	return 0;
fail:
	cx_bpfmon_stop(m);
	return r < 0 ? r : -EIO; /* errno 0 must not read as success */
}

bool cx_bpfmon_shared(cx_bpfmon *m, const char **ret_why)
{
	if (ret_why)
		*ret_why = m->private_why;
	return m->shared;
}

void cx_bpfmon_charge_uncounted(cx_bpfmon *m, uint64_t cgroup_used_ns)
{
	uint64_t counted = 0;

	/* Each event's counter: the ns it counted since it was opened, which
	 * the program bills in deltas from 0 (last_count), sample by sample.
	 * Read after cpu.stat: the few µs in between count for neither. */
	for (int i = 0; m->perf_fds && i < m->ncpu; i++) {
		uint64_t v;
		if (m->perf_fds[i] >= 0 && read(m->perf_fds[i], &v, sizeof(v)) == (ssize_t)sizeof(v))
			counted += v;
	}
	if (cgroup_used_ns > counted)
		__atomic_fetch_add(&m->st->used_ns, cgroup_used_ns - counted, __ATOMIC_SEQ_CST);
}

int cx_bpfmon_fd(cx_bpfmon *m)
{
	return ring_buffer__epoll_fd(m->rb);
}

int cx_bpfmon_consume(cx_bpfmon *m)
{
	return ring_buffer__consume(m->rb);
}

uint64_t cx_bpfmon_used_ns(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->used_ns, __ATOMIC_RELAXED);
}

bool cx_bpfmon_breached(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->breached, __ATOMIC_RELAXED) != 0;
}

uint32_t cx_bpfmon_exec_count(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_count, __ATOMIC_RELAXED);
}

bool cx_bpfmon_denied_traced(cx_bpfmon *m, const char **ret_why)
{
	if (ret_why)
		*ret_why = m->denied_why;
	return !m->denied_why;
}

uint32_t cx_bpfmon_denied_count(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->denied_count, __ATOMIC_RELAXED);
}

uint32_t cx_bpfmon_exec_events(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_events, __ATOMIC_RELAXED);
}

uint32_t cx_bpfmon_exec_lost(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_lost, __ATOMIC_RELAXED);
}

bool cx_bpfmon_exec_breached(cx_bpfmon *m)
{
	return __atomic_load_n(&m->st->exec_breached, __ATOMIC_RELAXED) != 0 ||
	       cx_bpfmon_exec_lost(m) != 0;
}

/* This boot's id (36 characters), or "" when it cannot be read. */
static void boot_id(char ret[40])
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t n = 0;

	ret[0] = '\0';
	if (cx_read_file("/proc/sys/kernel/random/boot_id", "boot id", 64, 0, 0, &b, &n, NULL) == 0 &&
	    n >= 36) {
		memcpy(ret, b, 36);
		ret[36] = '\0';
	}
}

/* The probe's cache (STATE/bpf-probe): this boot's id when a tracing
 * program loaded in it. Trusted only as a root-owned 0600 file (the
 * state dir is root's); a wrong entry only moves the refusal after the
 * lease is consumed: the monitor's own load still fails closed
 * (arm_monitor). A new boot (a new kernel, other sysctls) probes again. */
static bool probe_cached(const char *path, const char *boot)
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t n = 0;

	return path && boot[0] &&
	       cx_read_file(path, "bpf probe cache", 64, CX_FILE_TRUSTED | CX_FILE_SECRET, 0, &b, &n,
			    NULL) == 0 &&
	       n == 37 && memcmp(b, boot, 36) == 0 && b[36] == '\n';
}

int cx_bpfmon_preflight(const char *cache_path, const char *probe_cache, cx_kern_offsets *ret_off,
			cx_error *err)
{
	cx_kern_offsets ko;
	const char *why = NULL;
	char boot[40], line[48];
	int r = 1;

	libbpf_set_print(quiet);
	boot_id(boot);
	/* A trivial program's load, ~0.1 ms: once per boot. Every run still
	 * makes one cheap bpf() call (a 1-entry array, ~10 us): bpf() denied
	 * to this calyx-exec (seccomp, an LSM, a kernel without it) refuses
	 * here, before the lease is consumed, whatever the cache says. */
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (fd < 0)
		r = -errno;
	else
		close(fd);
	if (r > 0 && !probe_cached(probe_cache, boot)) {
		r = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL);
		if (r > 0 && probe_cache && boot[0]) {
			snprintf(line, sizeof(line), "%.36s\n", boot);
			cx_write_file_atomic(probe_cache, line, 37, 0600, NULL); /* best effort */
		}
	}
	if (r <= 0)
		why = r == 0 ? "the kernel cannot load tracing BPF programs" : strerror(-r);
	else if (cx_kern_offsets_get(cache_path, &ko, NULL) < 0 || !cx_kern_offsets_guard_ok(&ko))
		why = "the kernel's BTF does not describe overlayfs's inodes";
	if (!why) {
		if (ret_off)
			*ret_off = ko;
		return 0;
	}
	return cx_err(err, CX_E_LAYER, r < 0 ? -r : ENOTSUP,
		      "the exec guard cannot run here: bpf: %s (it needs BPF; a policy may accept runs without it with \"exec_guard\": \"optional\", which leaves `ld.so PROGRAM` open to any program that can exec)",
		      why);
}

int cx_bpfmon_trace_opens(cx_bpfmon *m, int cgroup_fd, cx_error *err)
{
	struct stat st;
	int r;

	if (fstat(cgroup_fd, &st) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cgroup fd: %s", strerror(errno));
	m->learn = learn_bpf__open();
	if (!m->learn)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot open the file tracer: %s",
			      strerror(errno));
	/* its events into the monitor's ring, read by the same loop */
	r = bpf_map__reuse_fd(m->learn->maps.events, m->ring_fd);
	if (r == 0)
		r = learn_bpf__load(m->learn);
	if (r < 0)
		return cx_err(err, CX_E_LAYER, -r, "bpf: the kernel refused the file tracer: %s",
			      strerror(-r));
	m->learn->bss->cgroup_id = (uint64_t)st.st_ino;
	if (learn_bpf__attach(m->learn) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot attach the file tracer: %s",
			      strerror(errno));
	return 0;
}

uint64_t cx_bpfmon_opens_lost(cx_bpfmon *m)
{
	return m->learn ? __atomic_load_n(&m->learn->bss->opens_lost, __ATOMIC_RELAXED) : 0;
}
