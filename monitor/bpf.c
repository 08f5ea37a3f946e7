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
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <time.h>

#include "calyx/fileio.h"
#include "learn.skel.h"
#include "monitor.id.h"
#include "monitor.skel.h"
#include "monitor_private.skel.h"
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
 * load (private: rings -1, the ring is the object's own) or opened from
 * the pins (shared). */
typedef struct shared_fds {
	int prog_exec, prog_sys_exit, prog_tick;
	int states, slots, tick_last, loaders, rings;
	uint32_t id_exec, id_sys_exit; /* shared: the programs' ids (the links name them) */
} shared_fds;

struct cx_bpfmon {
	struct monitor_private_bpf *pskel; /* private mode: loaded for this run */
	shared_fds f;             /* borrowed from pskel (private) or owned (shared) */
	bool shared;
	int root_fd, dir_fd;      /* shared: the pin root, this version's dir (LOCK_SH held) */
	char version[64];         /* shared: the version directory's name */
	int link_exec, link_sys_exit; /* private: the tracepoint links (shared: pinned) */
	/* this run: its slot, its cgroup, its ring */
	uint64_t cgid;
	uint32_t slot;
	bool claimed, registered;
	int cg_fd; /* the run's cgroup (its filesystem: dead runs' cgroups are looked up there) */
	int ring_fd; /* owned (shared) */
	struct cx_run_state *states; /* every slot, mapped */
	size_t states_len;
	struct cx_run_state *st;     /* this run's */
	struct cx_loader_key loader_keys[CX_LOADERS_MAX];
	size_t n_loader_keys;
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
	/* (a breach's wake record is smaller: it only wakes the loop) */
	if (size < sizeof(*e))
		return 0;
	/* a slot's ring may still hold a dead run's events */
	if (e->cgid != m->cgid)
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

_Static_assert(sizeof(struct monitor_bpf__rodata) == sizeof(struct monitor_private_bpf__rodata),
	       "one source, one set of constants");

/* Open and load the programs (the kernel verifies them: ~1 ms of CPU,
 * the cost the pins save every run but the first of a boot). Private:
 * the one-run variant, its ring sized for the run. */
static int load_failed(int r, cx_error *err)
{
	return cx_err(err, CX_E_LAYER, r < 0 ? -r : EIO,
		      "bpf: the kernel refused the monitor program: %s", strerror(r < 0 ? -r : EIO));
}

static int load_shared(const cx_kern_offsets *off, struct monitor_bpf **ret, cx_error *err)
{
	struct monitor_bpf *skel = monitor_bpf__open();
	int r;

	if (!skel)
		return load_failed(-errno, err);
	set_rodata(skel->rodata, off);
	r = monitor_bpf__load(skel);
	if (r < 0) {
		monitor_bpf__destroy(skel);
		return load_failed(r, err);
	}
	*ret = skel;
	return 0;
}

static int load_private(const cx_kern_offsets *off, uint32_t ring, struct monitor_private_bpf **ret,
			cx_error *err)
{
	struct monitor_private_bpf *skel = monitor_private_bpf__open();
	int r;

	if (!skel)
		return load_failed(-errno, err);
	set_rodata((struct monitor_bpf__rodata *)skel->rodata, off);
	r = bpf_map__set_max_entries(skel->maps.events, ring);
	if (r == 0)
		r = monitor_private_bpf__load(skel);
	if (r < 0) {
		monitor_private_bpf__destroy(skel);
		return load_failed(r, err);
	}
	*ret = skel;
	return 0;
}

/* ---- the shared monitor ---------------------------------------------------
 * Loading and verifying the programs is the monitor's main cost (~1 ms of
 * CPU a run). They depend only on this build and this kernel, so the first
 * run of a boot loads them and pins them in a bpffs directory, and every
 * later run opens the pins, claims a slot (its state, its ring) and
 * registers its cgroup id and loaders in the shared maps.
 *
 * Layout: ROOT (config bpf_pin_dir, default /sys/fs/bpf/calyx; root's,
 * 0700, on a bpffs), ROOT/<build id>-<offsets hash> per build and kernel
 * (0700): the programs, the shared maps, each used slot's ring
 * (ring<N>), and while runs are active the two tracepoint links. A new
 * version's directory is made as ROOT/new-<pid> (bpffs allows no dot in
 * a name) and renamed into place once complete, so a crash mid-pin
 * leaves no half directory under a version's name.
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

/* In shared_fds order. */
static const char *const PIN_NAMES[] = { "on_exec", "on_sys_exit", "on_cpu_tick", "states",
					 "slots",   "tick_last",   "loaders",     "rings" };
#define N_PINS (sizeof(PIN_NAMES) / sizeof(PIN_NAMES[0]))

static int *fd_slots(shared_fds *f, int *ret[N_PINS])
{
	int *all[] = { &f->prog_exec, &f->prog_sys_exit, &f->prog_tick, &f->states,
		       &f->slots,     &f->tick_last,     &f->loaders,   &f->rings };
	_Static_assert(sizeof(all) / sizeof(all[0]) == N_PINS, "one pin per fd");
	memcpy(ret, all, sizeof(all));
	return ret[0];
}

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

	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) { /* the first run of a boot */
		if (mkdir(root, 0700) < 0 && errno != EEXIST) {
			*why = errno == ENOENT ? "no bpffs mounted there" : "cannot create the pin directory";
			return -errno;
		}
		fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
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

/* The directory name of dir_fd, to list (NULL if it cannot be opened). */
static DIR *open_dir_at(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* Remove ROOT/name and what it holds (pins: unlinking one drops only
 * the name's reference; runs using the objects keep them). */
static void remove_version(int root_fd, const char *name)
{
	DIR *d = open_dir_at(root_fd, name);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	unlinkat(root_fd, name, AT_REMOVEDIR);
}

/* Under ROOT's lock: other versions nobody uses any more (an exclusive
 * lock on their directory succeeds) and leftovers of a crashed pin. */
static void sweep_versions(int root_fd, const char *keep)
{
	DIR *d = open_dir_at(root_fd, ".");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, keep) == 0)
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
	char tmp[32], path[PATH_MAX];
	int r;

	r = load_shared(off, &skel, err);
	if (r < 0 || !skel)
		return r < 0 ? r : -EIO;
	int fds[] = { bpf_program__fd(skel->progs.on_exec), bpf_program__fd(skel->progs.on_sys_exit),
		      bpf_program__fd(skel->progs.on_cpu_tick), bpf_map__fd(skel->maps.states),
		      bpf_map__fd(skel->maps.slots), bpf_map__fd(skel->maps.tick_last),
		      bpf_map__fd(skel->maps.loaders), bpf_map__fd(skel->maps.rings) };
	_Static_assert(sizeof(fds) / sizeof(fds[0]) == N_PINS, "one pin per fd");
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
 * shared ones (at least states, slots and rings) plus only its own
 * constants (one map named *.rodata, its id in *ro) and scratch (*scratch;
 * both looked up once for the three programs). Its id in *ret_id. */
#define N_MAPS 5
static bool prog_ok(int fd, const char *name, uint32_t type, const uint32_t ids[N_MAPS],
		    uint32_t *ret_ro, uint32_t *scratch, uint32_t *ret_id)
{
	struct bpf_prog_info in = { 0 };
	uint32_t len = sizeof(in), maps[12] = { 0 };
	unsigned seen = 0, wanted = 1u << 0 | 1u << 1 | 1u << 4; /* states, slots, rings */

	in.nr_map_ids = 12;
	in.map_ids = (uint64_t)(uintptr_t)maps;
	if (bpf_obj_get_info_by_fd(fd, &in, &len) < 0 || in.type != type ||
	    strcmp(in.name, name) != 0 || in.nr_map_ids > 12)
		return false;
	for (uint32_t i = 0; i < in.nr_map_ids; i++) {
		bool shared = false;
		for (int k = 0; k < N_MAPS; k++)
			if (maps[i] == ids[k]) {
				seen |= 1u << k;
				shared = true;
			}
		if (shared || maps[i] == *ret_ro || maps[i] == *scratch)
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
		} else if (strcmp(mi.name, "scratch") == 0 && !*scratch) {
			*scratch = mi.id;
		} else {
			return false;
		}
	}
	*ret_id = in.id;
	return (seen & wanted) == wanted;
}

/* Open ROOT/name's objects and check them (see above): 0, -ENOENT when
 * the version is not pinned, -EBADMSG when what is there is not it. */
static int open_version(const char *root, const char *name, const struct monitor_bpf__rodata *ro,
			shared_fds *f)
{
	char path[PATH_MAX];
	int *fds[N_PINS];
	uint32_t ids[N_MAPS], ro_id = 0, scratch = 0, tick_id;

	fd_slots(f, fds);
	for (size_t i = 0; i < N_PINS; i++) {
		if (pin_path(path, sizeof(path), root, name, PIN_NAMES[i]) < 0)
			return -EBADMSG;
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0)
			return errno == ENOENT ? -ENOENT : -EBADMSG;
	}
	if (!map_ok(f->states, "states", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct cx_run_state), CX_SLOTS,
		    &ids[0]) ||
	    !map_ok(f->slots, "slots", BPF_MAP_TYPE_HASH, 8, 4, CX_SLOTS, &ids[1]) ||
	    !map_ok(f->tick_last, "tick_last", BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, CX_SLOTS, &ids[2]) ||
	    !map_ok(f->loaders, "loaders", BPF_MAP_TYPE_HASH, sizeof(struct cx_loader_key), 1,
		    CX_SLOTS * 4, &ids[3]) ||
	    !map_ok(f->rings, "rings", BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, CX_SLOTS, &ids[4]) ||
	    !prog_ok(f->prog_exec, "on_exec", BPF_PROG_TYPE_RAW_TRACEPOINT, ids, &ro_id, &scratch,
		     &f->id_exec) ||
	    !prog_ok(f->prog_sys_exit, "on_sys_exit", BPF_PROG_TYPE_RAW_TRACEPOINT, ids, &ro_id,
		     &scratch, &f->id_sys_exit) ||
	    !prog_ok(f->prog_tick, "on_cpu_tick", BPF_PROG_TYPE_PERF_EVENT, ids, &ro_id, &scratch,
		     &tick_id) ||
	    !ro_id)
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
	int *fds[N_PINS];

	fd_slots(f, fds);
	for (size_t i = 0; i < N_PINS; i++)
		put_fd(fds[i]);
}

/* The version's link to tracepoint tp, pinned as ROOT/name/pin: the one
 * there when it is a raw tracepoint link of the program (prog_fd, whose
 * id is prog_id), else a new one. */
static int ensure_link(const char *root, const char *name, const char *pin, const char *tp,
		       int prog_fd, uint32_t prog_id, int dir_fd)
{
	char path[PATH_MAX];
	int fd, r;

	if (pin_path(path, sizeof(path), root, name, pin) < 0)
		return -EINVAL;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct bpf_link_info li = { 0 };
		uint32_t ll = sizeof(li);
		bool ok = bpf_obj_get_info_by_fd(fd, &li, &ll) == 0 &&
			  li.type == BPF_LINK_TYPE_RAW_TRACEPOINT && li.prog_id == prog_id;
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

/* What a run left in the shared maps, but its slot: its cgroup's entry
 * first (from then on the programs ignore the run), then its loaders. */
static void forget_run(const shared_fds *f, uint64_t cgid)
{
	struct cx_loader_key k, next;
	void *prev = NULL;
	struct cx_loader_key dead[16];
	size_t n = 0;

	bpf_map_delete_elem(f->slots, &cgid);
	while (bpf_map_get_next_key(f->loaders, prev, &next) == 0) {
		if (next.cgid == cgid && n < 16)
			dead[n++] = next;
		k = next;
		prev = &k;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(f->loaders, &dead[i]);
}

/* A free slot for the run (under ROOT's lock when shared): one nobody
 * holds, else one whose run died (its cgroup is gone: ids are not
 * reused within a boot). The claim is the slot's cgid. */
static int claim_slot(cx_bpfmon *m)
{
	int free_slot = -1;

	for (uint32_t i = 0; i < CX_SLOTS && free_slot < 0; i++)
		if (__atomic_load_n(&m->states[i].cgid, __ATOMIC_ACQUIRE) == 0)
			free_slot = (int)i;
	for (uint32_t i = 0; i < CX_SLOTS && free_slot < 0; i++) {
		uint64_t owner = __atomic_load_n(&m->states[i].cgid, __ATOMIC_ACQUIRE);
		if (!cgroup_alive(m->cg_fd, owner)) {
			forget_run(&m->f, owner);
			free_slot = (int)i;
		}
	}
	if (free_slot < 0)
		return -EBUSY;
	m->slot = (uint32_t)free_slot;
	m->st = &m->states[m->slot];
	__atomic_store_n(&m->st->cgid, m->cgid, __ATOMIC_RELEASE);
	m->claimed = true;
	return 0;
}

/* The slot's ring: pinned as ROOT/version/ring<slot> once made. A slot
 * used for the first time in this boot gets a new ring, put in the
 * programs' map of rings (the kernel waits for an RCU grace period
 * there, once per slot and boot), then pinned. Under ROOT's lock. */
static int slot_ring(cx_bpfmon *m, const char *root)
{
	char path[PATH_MAX], pin[16];
	int r;

	snprintf(pin, sizeof(pin), "ring%u", m->slot);
	if (pin_path(path, sizeof(path), root, m->version, pin) < 0)
		return -ENAMETOOLONG;
	m->ring_fd = bpf_obj_get(path);
	if (m->ring_fd >= 0) {
		struct bpf_map_info in = { 0 };
		uint32_t len = sizeof(in);
		if (bpf_obj_get_info_by_fd(m->ring_fd, &in, &len) == 0 &&
		    in.type == BPF_MAP_TYPE_RINGBUF && in.max_entries == CX_SHARED_RING_BYTES)
			return 0;
		put_fd(&m->ring_fd);
		unlinkat(m->dir_fd, pin, 0);
	}
	m->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "cx_events", 0, 0, CX_SHARED_RING_BYTES,
				    NULL);
	if (m->ring_fd < 0)
		return -errno;
	if (bpf_map_update_elem(m->f.rings, &m->slot, &m->ring_fd, BPF_ANY) < 0)
		return -errno;
	r = bpf_obj_pin(m->ring_fd, path) < 0 ? -errno : 0;
	return r;
}

/* Open (loading and pinning first if needed) the shared monitor and
 * join it: a slot, its ring, the tracepoint links; this run holds the
 * version's directory shared until its end. < 0 with *why when it
 * cannot: the caller loads its own. */
static int open_shared(cx_bpfmon *m, const char *root, const cx_kern_offsets *off, cx_error *err,
		       const char **why)
{
	struct monitor_bpf__rodata ro;
	int r;

	set_rodata(&ro, off);
	version_name(&ro, m->version);
	r = open_root(root, &m->root_fd, why);
	if (r < 0)
		return r;
	while (flock(m->root_fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			*why = "cannot lock the pin directory";
			return -errno;
		}
	/* at most: found bad and removed, pinned anew, opened */
	for (int attempt = 0, pinned = 0; attempt < 3; attempt++) {
		m->dir_fd = openat(m->root_fd, m->version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (m->dir_fd < 0 && errno == ENOENT && !pinned++) {
			sweep_versions(m->root_fd, m->version);
			r = pin_version(m->root_fd, root, m->version, off, err);
			if (r < 0) {
				*why = "cannot pin the monitor";
				goto out;
			}
			continue;
		}
		r = m->dir_fd < 0 ? -errno
		    : dir_trusted(m->dir_fd) ? open_version(root, m->version, &ro, &m->f)
					     : -EBADMSG;
		if (r == 0)
			break;
		close_shared(&m->f);
		/* not what it claims: away with it, unless runs use it */
		bool idle = m->dir_fd >= 0 && flock(m->dir_fd, LOCK_EX | LOCK_NB) == 0;
		put_fd(&m->dir_fd);
		if (!idle || pinned) {
			*why = pinned ? "the monitor just pinned does not check out"
				      : "the pinned monitor does not check out and is in use";
			r = -EBADMSG;
			goto out;
		}
		remove_version(m->root_fd, m->version);
	}
	if (m->dir_fd < 0) {
		*why = "the pinned monitor vanished";
		r = -ENOENT;
		goto out;
	}
	m->states_len = (sizeof(struct cx_run_state) * CX_SLOTS + (size_t)sysconf(_SC_PAGESIZE) - 1) &
			~((size_t)sysconf(_SC_PAGESIZE) - 1);
	void *p = mmap(NULL, m->states_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->f.states, 0);
	if (p == MAP_FAILED) {
		*why = "cannot map the runs' states";
		r = -errno;
		goto out;
	}
	m->states = p;
	r = claim_slot(m);
	if (r < 0) {
		*why = "every slot of the shared monitor is in use";
		goto out;
	}
	r = slot_ring(m, root);
	if (r < 0) {
		*why = "cannot make the slot's event ring";
		goto out;
	}
	if (flock(m->dir_fd, LOCK_SH) < 0) {
		*why = "cannot lock the pinned monitor";
		r = -errno;
		goto out;
	}
	r = ensure_link(root, m->version, "link_exec", "sched_process_exec", m->f.prog_exec,
			m->f.id_exec, m->dir_fd);
	if (r < 0) {
		*why = "cannot attach the exec tracer";
		goto out;
	}
	if (ensure_link(root, m->version, "link_sys_exit", "sys_exit", m->f.prog_sys_exit,
			m->f.id_sys_exit, m->dir_fd) < 0)
		m->denied_why = "no sys_exit tracepoint in this kernel (failed execs are not audited)";
	m->shared = true;
out:
	flock(m->root_fd, LOCK_UN);
	if (r < 0)
		m->denied_why = NULL;
	return r;
}

/* Undo a failed open_shared: the slot back, every fd closed. */
static void drop_shared(cx_bpfmon *m)
{
	if (m->claimed)
		__atomic_store_n(&m->st->cgid, 0, __ATOMIC_RELEASE);
	m->claimed = false;
	m->st = NULL;
	if (m->states)
		munmap(m->states, m->states_len);
	m->states = NULL;
	close_shared(&m->f);
	put_fd(&m->ring_fd);
	put_fd(&m->dir_fd);
	put_fd(&m->root_fd);
}

/* This run's programs, loaded for it alone (no bpffs, or the shared
 * ones cannot be used, or a learn run and its big ring): the same
 * programs, one slot, links held by this process. */
static int open_private(cx_bpfmon *m, const cx_kern_offsets *off, const cx_bpf_guard *guard,
			cx_error *err)
{
	int r = load_private(off, ring_bytes(guard), &m->pskel, err);

	if (r < 0)
		return r;
	m->f.prog_exec = bpf_program__fd(m->pskel->progs.on_exec);
	m->f.prog_sys_exit = bpf_program__fd(m->pskel->progs.on_sys_exit);
	m->f.prog_tick = bpf_program__fd(m->pskel->progs.on_cpu_tick);
	m->f.states = bpf_map__fd(m->pskel->maps.states);
	m->f.slots = bpf_map__fd(m->pskel->maps.slots);
	m->f.tick_last = bpf_map__fd(m->pskel->maps.tick_last);
	m->f.loaders = bpf_map__fd(m->pskel->maps.loaders);
	m->ring_fd = fcntl(bpf_map__fd(m->pskel->maps.events), F_DUPFD_CLOEXEC, 3);
	m->states_len = (sizeof(struct cx_run_state) * CX_SLOTS + (size_t)sysconf(_SC_PAGESIZE) - 1) &
			~((size_t)sysconf(_SC_PAGESIZE) - 1);
	void *p = mmap(NULL, m->states_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->f.states, 0);
	if (p == MAP_FAILED || m->ring_fd < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot map the run's state: %s",
			      strerror(errno));
	m->states = p;
	m->slot = 0;
	m->st = &m->states[0];
	m->st->cgid = m->cgid;
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

static void sort_fds(int *a, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
			int t = a[j];
			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

/* The end of a shared run: out of the version; the last one out
 * unpins the tracepoint links. */
static void release_shared(int root_fd, int dir_fd, const char *version)
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
	flock(root_fd, LOCK_UN);
}

#define LINGER_MS 100

/* What the linger child does (see linger): a copy made before the
 * child starts, so nothing it reads can change under it. */
struct linger_job {
	int keep[2];   /* the fds it keeps (sorted; -1: none) */
	bool shared;
	int root_fd, dir_fd;
	char version[64];
};

/* Syscalls for the linger child. On x86_64 it may share calyx-exec's
 * memory (linger_clone) and so its thread-local errno, which libc's
 * wrappers write: there it makes its syscalls by hand and never touches
 * errno (a negative errno comes back instead). */
#if defined(__x86_64__)
#define LINGER_CLONE 1
static inline long lsys(long n, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}
#else
static inline long lsys(long n, long a, long b, long c, long d)
{
	long r = syscall(n, a, b, c, d);
	return r < 0 ? -errno : r;
}
#endif

/* The child's whole life: every fd but the kept ones closed (so nobody
 * waits for its EOF, the parent's pipe included), LINGER_MS asleep, then,
 * when shared, out of the version: ROOT's lock, this run's shared lock
 * dropped (the last fd of its open file), and if no run holds the
 * version any more (an exclusive lock succeeds), its links unpinned:
 * the tracepoints detach. */
__attribute__((no_sanitize_address, noinline)) static void linger_body(const struct linger_job *j)
{
	unsigned lo = 0;

	for (int i = 0; i < 2; i++) {
		if (j->keep[i] < 0)
			continue;
		if ((unsigned)j->keep[i] > lo)
			lsys(SYS_close_range, lo, j->keep[i] - 1, 0, 0);
		lo = (unsigned)j->keep[i] + 1;
	}
	lsys(SYS_close_range, lo, ~0U, 0, 0);
	struct timespec ts = { 0, LINGER_MS * 1000000L };
	while (lsys(SYS_nanosleep, (long)&ts, (long)&ts, 0, 0) == -EINTR)
		;
	if (!j->shared)
		return;
	while (lsys(SYS_flock, j->root_fd, LOCK_EX, 0, 0) == -EINTR)
		;
	lsys(SYS_close, j->dir_fd, 0, 0, 0);
	long d = lsys(SYS_openat, j->root_fd, (long)j->version,
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (d >= 0 && lsys(SYS_flock, d, LOCK_EX | LOCK_NB, 0, 0) == 0) {
		lsys(SYS_unlinkat, d, (long)"link_exec", 0, 0);
		lsys(SYS_unlinkat, d, (long)"link_sys_exit", 0, 0);
	}
	if (d >= 0)
		lsys(SYS_close, d, 0, 0, 0);
	lsys(SYS_flock, j->root_fd, LOCK_UN, 0, 0);
}

#ifdef LINGER_CLONE
/* A child that shares calyx-exec's memory (clone(CLONE_VM), ~20 us)
 * rather than a copy of it (fork, ~150 us: the page tables): it runs
 * linger_body on a stack of its own, with every signal blocked (no
 * handler of calyx-exec may run on it), touching no memory but its stack
 * and the job; CLONE_CHILD_CLEARTID clears lj_tid once it is gone, so the
 * stack is reused only then (a second run in one process before that
 * forks instead). */
static struct linger_job lj;
static char lj_stack[16384] __attribute__((aligned(64)));
static pid_t lj_tid; /* non-zero while a child may be on lj_stack */

__attribute__((no_sanitize_address, noinline)) static int linger_main(void *arg)
{
	linger_body(arg);
	lsys(SYS_exit, 0, 0, 0, 0); /* this task only */
	return 0;
}

static pid_t linger_clone(const struct linger_job *j)
{
	sigset_t all, old;
	pid_t pid;

	if (__atomic_load_n(&lj_tid, __ATOMIC_ACQUIRE) != 0)
		return -1;
	lj = *j;
	lj_tid = -1;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = clone(linger_main, lj_stack + sizeof(lj_stack),
		    CLONE_VM | CLONE_CHILD_CLEARTID | SIGCHLD, &lj, NULL, NULL, &lj_tid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) /* a tracer or emulator that refuses it (valgrind): fork */
		__atomic_store_n(&lj_tid, 0, __ATOMIC_RELEASE);
	return pid;
}
#endif

/* The tracepoints stay attached LINGER_MS past a run's end, held by a
 * child. Why: a tracepoint going from 1 probe to 0 and back to 1 waits
 * for an RCU grace period at the re-attach (the kernel's
 * tp_rcu_cond_sync; sys_exit measured 8 ms a run for runs back to back,
 * 7 us with the link held, 0.2 ms when runs are 0.3 s apart). With the
 * links held a while, the next run attaches to (shared: finds) links
 * still there, and the last release happens off every run's path. The
 * child is not waited for (calyx-exec reaps no child with wait(-1);
 * reparented when calyx-exec exits, init reaps it), and the programs do
 * nothing for this run meanwhile (its entries are gone). If no child can
 * be made, the release happens here. */
static void linger(cx_bpfmon *m)
{
	struct linger_job j = { .keep = { m->shared ? m->root_fd : m->link_exec,
					  m->shared ? m->dir_fd : m->link_sys_exit },
				.shared = m->shared, .root_fd = m->root_fd, .dir_fd = m->dir_fd };
	int done[2];
	pid_t pid = -1;

	snprintf(j.version, sizeof(j.version), "%s", m->version);
	sort_fds(j.keep, 2);
	/* The child gets a copy of every fd (the workspace lock, the control
	 * socket, the log): calyx-exec waits until it has closed its copies
	 * (EOF on done[0]), else the next run on this workspace could find it
	 * still locked by a child that had not run yet. */
	if (pipe2(done, O_CLOEXEC) == 0) {
#ifdef LINGER_CLONE
		pid = linger_clone(&j);
#endif
		if (pid < 0 && (pid = fork()) == 0) {
			linger_body(&j);
			_exit(0);
		}
		if (pid < 0) {
			close(done[0]);
			close(done[1]);
		}
	}
	if (pid < 0) {
		if (m->shared) {
			release_shared(m->root_fd, m->dir_fd, m->version);
			m->dir_fd = -1;
		}
		return;
	}
	char c;
	close(done[1]);
	put_fd(&m->dir_fd); /* the child's copy holds the run's shared lock */
	while (read(done[0], &c, 1) < 0 && errno == EINTR)
		;
	close(done[0]);
}

void cx_bpfmon_stop(cx_bpfmon *m)
{
	if (!m)
		return;
	if (m->registered)
		bpf_map_delete_elem(m->f.slots, &m->cgid); /* from now on the programs ignore the run */
	for (size_t i = 0; i < m->n_loader_keys; i++)
		bpf_map_delete_elem(m->f.loaders, &m->loader_keys[i]);
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
	if (m->shared || m->link_exec >= 0 || m->link_sys_exit >= 0)
		linger(m);
	put_fd(&m->link_exec);
	put_fd(&m->link_sys_exit);
	if (m->pskel) {
		if (m->states)
			munmap(m->states, m->states_len);
		put_fd(&m->ring_fd);
		monitor_private_bpf__destroy(m->pskel); /* owns f's fds */
	} else {
		drop_shared(m); /* the slot back last: nothing of the run is left in the maps */
	}
	put_fd(&m->dir_fd);
	put_fd(&m->root_fd);
	put_fd(&m->cg_fd);
	free(m);
}

static cx_bpfmon *bpfmon_new(void)
{
	cx_bpfmon *m = cx_calloc(1, sizeof(*m));
	int *fds[N_PINS];

	fd_slots(&m->f, fds);
	for (size_t i = 0; i < N_PINS; i++)
		*fds[i] = -1;
	m->root_fd = m->dir_fd = m->link_exec = m->link_sys_exit = m->ring_fd = m->cg_fd = -1;
	return m;
}

/* The run's slot made ready, then the run registered (its cgroup id in
 * `slots`, last: from then on the programs see it): the state's
 * constants, each CPU's last count at 0, the loaders, an empty ring. */
static int arm_slot(cx_bpfmon *m, uint64_t budget_ns, const cx_bpf_guard *guard, cx_error *err)
{
	struct cx_run_state *st = m->st;

	/* everything but the owner */
	memset((char *)st + sizeof(st->cgid), 0, sizeof(*st) - sizeof(st->cgid));
	uint64_t fine_below = FINE_MARGIN * COARSE_NS * (uint64_t)m->ncpu;
	m->fine = budget_ns <= 2 * fine_below; /* a small budget: fine from the start */
	st->budget_ns = budget_ns;
	st->fine_below_ns = m->fine ? 0 : fine_below;
	st->exec_limit = m->exec_limit;
	st->loader_kill = guard && guard->kill;
	_cleanup_free_ uint64_t *last = cx_calloc((size_t)libbpf_num_possible_cpus(), sizeof(uint64_t));
	if (bpf_map_update_elem(m->f.tick_last, &m->slot, last, BPF_ANY) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot reset the run's CPU counts: %s",
			      strerror(errno));
	/* The loaders, before the run is registered: from its first exec
	 * on, the guard holds. */
	for (size_t i = 0; guard && i < guard->n_loaders && i < CX_LOADERS_MAX; i++) {
		struct cx_loader_key k = {
			.cgid = m->cgid,
			.f.ino = guard->loaders[i].ino,
			/* the kernel's own dev_t encoding (MKDEV: 20 bits of minor) */
			.f.dev = (major(guard->loaders[i].dev) << 20) | minor(guard->loaders[i].dev),
		};
		uint8_t one = 1;
		if (bpf_map_update_elem(m->f.loaders, &k, &one, BPF_ANY) < 0)
			return cx_err(err, CX_E_LAYER, errno, "bpf: cannot fill the loader guard: %s",
				      strerror(errno));
		m->loader_keys[m->n_loader_keys++] = k;
	}
	m->rb = ring_buffer__new(m->ring_fd, on_event, m, NULL);
	if (!m->rb)
		return cx_err(err, CX_E_LAYER, errno, "bpf: ring buffer: %s", strerror(errno));
	ring_buffer__consume(m->rb); /* what a dead run left in the slot's ring: not ours, dropped */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(m->f.slots, &m->cgid, &m->slot, BPF_NOEXIST) < 0)
		return cx_err(err, CX_E_LAYER, errno, "bpf: cannot register the run with the monitor: %s",
			      strerror(errno));
	m->registered = true;
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
	if (m->ncpu <= 0) {
		r = cx_err(err, CX_E_LAYER, EINVAL, "bpf: cannot count CPUs");
		goto fail;
	}
	m->cb = *cb;
	m->exec_limit = guard ? guard->exec_limit : 0;
	/* learn runs (their file opens share a 4 MiB ring) load their own */
	const char *root = guard && guard->kill ? guard->pin_root : NULL;
	if (root && root[0]) {
		cx_error serr = { 0 };
		const char *why = NULL;
		int sr = open_shared(m, root, off, &serr, &why);
		if (sr < 0) {
			drop_shared(m);
			snprintf(m->why_buf, sizeof(m->why_buf), "%s: %.100s (%.160s)",
				 why ? why : "cannot use the pinned monitor", root,
				 serr.msg[0] ? serr.msg : strerror(-sr));
			m->private_why = m->why_buf;
		}
	}
	if (!m->shared && (r = open_private(m, off, guard, err)) < 0)
		goto fail;
	r = arm_slot(m, budget_ns, guard, err);
	if (r < 0)
		goto fail;
	if (budget_ns && (r = attach_ticks(m, cgroup_fd, err)) < 0)
		goto fail;
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
