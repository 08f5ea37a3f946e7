/* The shared monitor: the BPF programs of monitor.bpf.c loaded once per
 * boot, pinned and checked (below), each run's slot in them, and how long
 * the tracepoints stay attached after a run (linger). bpf.c runs a run's
 * monitor on top of this. Trust: runs as root on a root-only bpffs
 * directory; see "the shared monitor" for what is checked and why. */
#include "bpf_internal.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>

#include "monitor.id.h"
#include "monitor.skel.h"

/* The load-time constants: the kernel's struct offsets (the same for
 * every run of this boot) and the fine sampling period. */
void cx_bpfmon_set_rodata(struct monitor_bpf__rodata *ro, const cx_kern_offsets *off)
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


_Static_assert(sizeof(struct monitor_bpf__rodata) == CX_MONITOR_RODATA_BYTES,
	       "one source, one set of constants");


static int load_shared(const cx_kern_offsets *off, struct monitor_bpf **ret, cx_error *err)
{
	struct monitor_bpf *skel = monitor_bpf__open();
	int r;

	if (!skel)
		return cx_bpfmon_load_failed(-errno, err);
	cx_bpfmon_set_rodata(skel->rodata, off);
	r = monitor_bpf__load(skel);
	if (r < 0) {
		monitor_bpf__destroy(skel);
		return cx_bpfmon_load_failed(r, err);
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
#define BPF_FS_MAGIC_ 0xcafe4a11

/* In shared_fds order. */
static const char *const PIN_NAMES[] = { "on_exec", "on_sys_exit", "on_cpu_tick", "states",
					 "slots",   "tick_last",   "loaders",     "rings" };
#define N_PINS (sizeof(PIN_NAMES) / sizeof(PIN_NAMES[0]))

static void fd_slots(shared_fds *f, int *ret[N_PINS])
{
	int *all[] = { &f->prog_exec, &f->prog_sys_exit, &f->prog_tick, &f->states,
		       &f->slots,     &f->tick_last,     &f->loaders,   &f->rings };
	_Static_assert(sizeof(all) / sizeof(all[0]) == N_PINS, "one pin per fd");
	memcpy(ret, all, sizeof(all));
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
int cx_bpfshare_open(cx_bpfmon *m, const char *root, const cx_kern_offsets *off, cx_error *err,
		     const char **why)
{
	struct monitor_bpf__rodata ro;
	int r;

	cx_bpfmon_set_rodata(&ro, off);
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

/* calyx-exec --probe: whether the shared monitor is usable, read-only:
 * nothing is created, pinned, locked or removed (open_root would make
 * ROOT; a status must not). The same checks a run makes before it uses
 * the pins (open_version). */
int cx_bpfmon_shared_status(const char *root, const cx_kern_offsets *off, const char **why)
{
	struct monitor_bpf__rodata ro;
	shared_fds f = { .prog_exec = -1, .prog_sys_exit = -1, .prog_tick = -1, .states = -1,
			 .slots = -1, .tick_last = -1, .loaders = -1, .rings = -1 };
	char version[64];
	struct statfs sf;
	int root_fd, dir_fd, r;

	cx_bpfmon_set_rodata(&ro, off);
	version_name(&ro, version);
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root_fd < 0 && errno == ENOENT) {
		*why = "not pinned yet: the first run of this boot loads and pins it";
		return 0;
	}
	if (root_fd < 0) {
		*why = "cannot open the pin directory";
		return -errno;
	}
	if (fstatfs(root_fd, &sf) < 0 || (unsigned long)sf.f_type != BPF_FS_MAGIC_) {
		close(root_fd);
		*why = "the pin directory is not on a bpffs";
		return -ENOTSUP;
	}
	if (!dir_trusted(root_fd)) {
		close(root_fd);
		*why = "the pin directory is not root's with mode 0700";
		return -EPERM;
	}
	dir_fd = openat(root_fd, version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(root_fd);
	if (dir_fd < 0 && errno == ENOENT) {
		*why = "not pinned for this build and kernel yet: the next run pins it";
		return 0;
	}
	if (dir_fd < 0) {
		*why = "cannot open the pinned version";
		return -errno;
	}
	r = dir_trusted(dir_fd) ? open_version(root, version, &ro, &f) : -EBADMSG;
	close(dir_fd);
	close_shared(&f);
	if (r == -ENOENT) {
		*why = "pinned only in part: the next run pins it again";
		return 0;
	}
	if (r < 0) {
		*why = "the pinned monitor does not check out (the next idle run replaces it)";
		return r;
	}
	*why = "pinned, programs and maps check out";
	return 1;
}

/* Undo a failed open_shared: the slot back, every fd closed. */
void cx_bpfshare_drop(cx_bpfmon *m)
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
void cx_bpfmon_linger(cx_bpfmon *m)
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

