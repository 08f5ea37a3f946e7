/* Replay ledger, local-directory backend (format in calyx/ledger.h).
 *
 * Why this is safe: the claim is one openat(O_CREAT|O_EXCL|O_NOFOLLOW) in a
 * directory we hold open (O_DIRECTORY|O_NOFOLLOW), so two racing claimers
 * cannot both succeed (the kernel decides), a symlink planted at the name
 * cannot redirect the write, and a crash at any later point leaves the
 * name behind — the lease stays burnt. Only after the entry and the
 * directory are fsync'd does claim report success.
 * Trust: runs as root; the state dir must be root-owned and not writable by
 * others (checked at open). */
#include "calyx/ledger.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/codec.h"
#include "calyx/fault.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"

/* Test-only faults (calyx/fault.h; fault build only):
 * CALYX_FAULT_IO=ledger:create|write|sync makes the claim's openat, write
 * or fsync fail with EIO. */
#define LEDGER_FAULT(op) CX_FAULT_IO("ledger", op, NULL)

typedef struct dir_ledger {
	cx_ledger base;
	int dfd;
	char *path;
	int pending_fd;     /* a deferred claim's entry, not yet fsync'd; -1: none */
	char pending_id[33];
} dir_ledger;

static int valid_id(const char *id, cx_error *err)
{
	if (!id || !cx_is_lower_hex(id, 32))
		return cx_err(err, CX_E_LEDGER, EINVAL, "ledger: lease id is not 32 lowercase hex");
	return 0;
}

static int dir_claim(cx_ledger *base, const cx_claim *c, cx_error *err)
{
	dir_ledger *l = (dir_ledger *)base;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *line = NULL;
	json_t *j;
	int r;

	r = valid_id(c->lease_id, err);
	if (r < 0)
		return r;
	if (LEDGER_FAULT("create") < 0)
		errno = EIO;
	else
		fd = openat(l->dfd, c->lease_id, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return cx_err(err, CX_E_REPLAY, EEXIST,
				      "lease %s was already used on this host (leases run once; issue a new lease)",
				      c->lease_id);
		return cx_err(err, CX_E_LEDGER, errno,
			      "cannot record lease %s in ledger '%s': %s (no run; fix the state dir)",
			      c->lease_id, l->path, strerror(errno));
	}
	j = json_pack("{s:s, s:s?, s:I, s:I, s:I, s:I}", "lease_id", c->lease_id, "run_id",
		      c->run_id, "consumed_at", (json_int_t)c->consumed_at, "not_after",
		      (json_int_t)c->not_after, "prune_after", (json_int_t)c->prune_after, "pid",
		      (json_int_t)getpid());
	CX_CHECK(j);
	if (c->pool) /* a pool claim: where the pool's ledger recorded it */
		CX_CHECK(json_object_set_new(j, "pool", json_string(c->pool)) == 0 &&
			 json_object_set_new(j, "etcd_cluster_id", json_string(c->cluster_id ? c->cluster_id : "")) == 0 &&
			 json_object_set_new(j, "etcd_revision", json_integer(c->revision)) == 0);
	{
		char *s = cx_json_dump(j);
		json_decref(j);
		line = malloc(strlen(s) + 2);
		CX_CHECK(line);
		sprintf(line, "%s\n", s);
		free(s);
	}
	/* From here on a failure leaves the (possibly empty) entry: the lease
	 * is burnt, and we refuse to run — both fail closed. */
	r = LEDGER_FAULT("write") < 0 ? -EIO : cx_write_all(fd, line, strlen(line));
	if (r < 0)
		return cx_err(err, CX_E_LEDGER, -r,
			      "cannot make ledger entry for lease %s durable: %s (no run, but the lease stays used; check the disk, then issue a new lease)",
			      c->lease_id, strerror(-r));
	close(l->pending_fd);
	l->pending_fd = TAKE_FD(fd);
	snprintf(l->pending_id, sizeof(l->pending_id), "%s", c->lease_id);
	return c->defer_sync ? 0 : base->ops->sync(base, err);
}

/* The entry, then its name in the directory, on disk. */
static int dir_sync(cx_ledger *base, cx_error *err)
{
	dir_ledger *l = (dir_ledger *)base;
	int r = 0;

	if (l->pending_fd < 0)
		return 0;
	if ((LEDGER_FAULT("sync") < 0 ? (errno = EIO, -1) : fsync(l->pending_fd)) < 0)
		r = -errno;
	if (r == 0 && fsync(l->dfd) < 0)
		r = -errno;
	close(l->pending_fd);
	l->pending_fd = -1;
	if (r < 0)
		return cx_err(err, CX_E_LEDGER, -r,
			      "cannot make ledger entry for lease %s durable: %s (no run, but the lease stays used; check the disk, then issue a new lease)",
			      l->pending_id, strerror(-r));
	return 0;
}

static int dir_is_claimed(cx_ledger *base, const char *id, cx_error *err)
{
	dir_ledger *l = (dir_ledger *)base;
	struct stat st;
	int r = valid_id(id, err);

	if (r < 0)
		return r;
	if (fstatat(l->dfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return cx_err(err, CX_E_LEDGER, errno, "ledger '%s': %s", l->path, strerror(errno));
}

static int entry_prune_after(int dfd, const char *name, int64_t *ret)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[1024];
	ssize_t n;
	json_t *j, *v;
	int r = -EINVAL;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return -EINVAL;
	j = cx_json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		return -EINVAL;
	v = json_object_get(j, "prune_after");
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		r = 0;
	}
	json_decref(j);
	return r;
}

static int dir_prune(cx_ledger *base, int64_t now, unsigned *ret_removed, unsigned *ret_kept,
		     cx_error *err)
{
	dir_ledger *l = (dir_ledger *)base;
	unsigned removed = 0, kept = 0;
	int fd = openat(l->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return cx_err(err, CX_E_LEDGER, errno, "ledger '%s': %s", l->path, strerror(errno));
	}
	while ((de = readdir(d))) {
		int64_t pa;
		if (!cx_is_lower_hex(de->d_name, 32))
			continue;
		/* Only entries that prove their lease can no longer verify go. */
		if (entry_prune_after(l->dfd, de->d_name, &pa) == 0 && pa < now) {
			if (unlinkat(l->dfd, de->d_name, 0) == 0)
				removed++;
		} else {
			kept++;
		}
	}
	closedir(d);
	if (removed)
		fsync(l->dfd);
	if (ret_removed)
		*ret_removed = removed;
	if (ret_kept)
		*ret_kept = kept;
	return 0;
}

static void dir_close(cx_ledger *base)
{
	dir_ledger *l = (dir_ledger *)base;
	if (l->pending_fd >= 0)
		close(l->pending_fd);
	close(l->dfd);
	free(l->path);
	free(l);
}

static const cx_ledger_ops dir_ops = {
	.name = "dir",
	.claim = dir_claim,
	.sync = dir_sync,
	.is_claimed = dir_is_claimed,
	.prune = dir_prune,
	.close = dir_close,
};

int cx_ledger_open_dir(const char *dir, cx_ledger **ret, cx_error *err)
{
	_cleanup_close_ int dfd = -1;
	struct stat st;
	dir_ledger *l;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cx_err(err, CX_E_LEDGER, errno, "cannot create ledger '%s': %s", dir,
			      strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return cx_err(err, CX_E_LEDGER, errno, "cannot open ledger '%s': %s", dir,
			      strerror(errno));
	if (fstat(dfd, &st) < 0)
		return cx_err(err, CX_E_LEDGER, errno, "ledger '%s': %s", dir, strerror(errno));
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return cx_err(err, CX_E_LEDGER, EPERM,
			      "ledger '%s' is not owned by us or is writable by others (chown root, chmod 700)",
			      dir);
	l = cx_calloc(1, sizeof(*l));
	l->base.ops = &dir_ops;
	l->dfd = TAKE_FD(dfd);
	l->pending_fd = -1;
	l->path = cx_strdup(dir);
	*ret = &l->base;
	return 0;
}
