/* Housekeeping of the state dir (see housekeeping.h). */
#include "housekeeping.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "calyx/codec.h"
#include "calyx/common.h"
#include "calyx/monitor.h"
#include "calyx/workspace.h"

int cx_recover_runs(const cx_state *s, cx_hk_report report, void *arg)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (!(d = opendir(s->runs)))
		return 0;
	while ((de = readdir(d))) {
		char dir[CX_STATE_PATH_MAX], journal[CX_STATE_FILE_MAX];
		const char *action = "none";
		cx_error e = { 0 };
		struct stat sb;
		int fd, r = 0;

		if (!cx_is_lower_hex(de->d_name, 32))
			continue;
		cx_state_run_dir(s, de->d_name, dir);
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd); /* its run is alive */
			continue;
		}
		cx_state_journal(dir, journal);
		if (stat(journal, &sb) == 0) {
			r = cx_ws_recover(&s->ws, journal, &action, &e);
		} else {
			action = "discarded (interrupted before its commit)";
		}
		if (r == 0)
			cx_ws_discard(&s->ws, dir, NULL);
		report(de->d_name, action, r == 0, r < 0 ? e.msg : "", arg);
		close(fd);
		n++;
	}
	closedir(d);
	return n;
}

/* Old enough that whoever made it is past the step that would claim it. */
static bool stale(int dfd, const char *name, int64_t now)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       now - (int64_t)st.st_mtime >= CX_HK_STALE_S;
}

static int sweep_new_dirs(const cx_state *s, int64_t now)
{
	DIR *d = opendir(s->runs);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char rd[CX_STATE_PATH_MAX], dir[CX_STATE_PATH_MAX + 8], lid[33];
		if (!cx_state_lease_entry(de->d_name, ".new", lid) || !stale(dirfd(d), de->d_name, now))
			continue;
		cx_state_run_dir(s, lid, rd);
		snprintf(dir, sizeof(dir), "%s.new", rd);
		_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue; /* its run is alive */
		if (cx_ws_discard(&s->ws, dir, NULL) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int sweep_sockets(const cx_state *s, int64_t now)
{
	DIR *d = opendir(s->ctl);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[CX_STATE_PATH_MAX], lid[33];
		if (!cx_state_lease_entry(de->d_name, ".sock", lid) || !stale(dirfd(d), de->d_name, now))
			continue;
		cx_state_ctl_socket(s, lid, path);
		if (cx_ctl_alive(path) == 0 && unlink(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* STATE/locks/<sha256 of a path>.lock: the exact-path tree locks of
 * calyx before the overlap-aware ones (sandbox/workspace/lock.c), one per
 * tree ever run and never removed; nothing takes them any more. */
static int sweep_legacy_locks(const cx_state *s)
{
	DIR *d = opendir(s->locks);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char h[65];
		if (strlen(de->d_name) != 64 + 5 || strcmp(de->d_name + 64, ".lock") != 0)
			continue;
		memcpy(h, de->d_name, 64);
		h[64] = '\0';
		if (cx_is_lower_hex(h, 64) && unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int cx_sweep_stale(const cx_state *s, int64_t now)
{
	return sweep_new_dirs(s, now) + sweep_sockets(s, now) + sweep_legacy_locks(s);
}

static uint64_t tree_bytes(int dfd, int depth)
{
	DIR *d;
	struct dirent *de;
	uint64_t sum = 0;

	if (depth > 64 || !(d = fdopendir(dfd))) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		sum += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode)) {
			int c = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (c >= 0)
				sum += tree_bytes(c, depth + 1);
		}
	}
	closedir(d);
	return sum;
}

static int rm_tree_at(int pfd, const char *name, int depth)
{
	int fd, r = 0;
	DIR *d;
	struct dirent *de;

	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (depth > 64 || (errno != EISDIR && errno != EPERM))
		return -errno;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = rm_tree_at(dirfd(d), de->d_name, depth + 1) < 0 ? -EIO : r;
	closedir(d);
	return unlinkat(pfd, name, AT_REMOVEDIR) < 0 ? -errno : r;
}

typedef struct pack {
	char name[33];
	int64_t at;
	uint64_t bytes;
} pack;

static int by_age(const void *a, const void *b)
{
	const pack *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

int cx_prune_packs(const cx_state *s, int64_t now, int64_t max_age_s, uint64_t max_bytes,
		   cx_hk_report report, void *arg)
{
	int pfd, removed = 0;
	DIR *d;
	struct dirent *de;
	pack *ps = NULL;
	size_t n = 0;
	uint64_t total = 0;

	pfd = open(s->packs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return 0;
	int lfd = fcntl(pfd, F_DUPFD_CLOEXEC, 3);
	if (lfd < 0 || !(d = fdopendir(lfd))) {
		if (lfd >= 0)
			close(lfd);
		close(pfd);
		return 0;
	}
	while ((de = readdir(d))) {
		char pd[CX_STATE_PATH_MAX], m[CX_STATE_FILE_MAX];
		struct stat st;
		if (strlen(de->d_name) != 32 || !cx_is_lower_hex(de->d_name, 32))
			continue;
		cx_state_pack_dir(s, de->d_name, pd);
		cx_state_manifest(pd, m);
		/* the manifest's header only, whatever its size */
		char rid[CX_WS_RUN_ID_MAX];
		int64_t at;
		cx_error e2 = { 0 };
		if (cx_ws_pack_info(pd, rid, &at, &e2) < 0)
			at = stat(m, &st) == 0 ? st.st_mtime : now;
		pack *np = realloc(ps, (n + 1) * sizeof(*ps));
		CX_CHECK(np);
		ps = np;
		memcpy(ps[n].name, de->d_name, 33);
		ps[n].at = at;
		int c = openat(pfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		ps[n].bytes = c >= 0 ? tree_bytes(c, 0) : 0;
		total += ps[n].bytes;
		n++;
	}
	closedir(d);
	if (n > 1) /* with no pack, ps is NULL, which qsort's base must not be */
		qsort(ps, n, sizeof(*ps), by_age);
	for (size_t i = 0; i < n; i++) {
		bool old = max_age_s > 0 && now - ps[i].at > max_age_s;
		bool big = max_bytes > 0 && total > max_bytes;
		if (!old && !big)
			continue;
		if (rm_tree_at(pfd, ps[i].name, 0) == 0) {
			total -= ps[i].bytes;
			removed++;
			if (report)
				report(ps[i].name, old ? "pack pruned (age)" : "pack pruned (size)", true, "",
				       arg);
		}
	}
	free(ps);
	close(pfd);
	return removed;
}
