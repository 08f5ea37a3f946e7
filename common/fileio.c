/* Bounded file reads, StrictModes checks, atomic writes.
 *
 * Trust: runs as root on paths an operator or a deployer names. The path
 * may point at something hostile (a symlink, a FIFO, a huge file, a file a
 * non-root user controls); every such case is refused before any byte is
 * interpreted. */
#include "calyx/fileio.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <sodium.h>

#include "calyx/codec.h"

void cx_sanitize_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
			if (n < 0 || (n != fd && (dup2(n, fd) < 0 || close(n) < 0)))
				abort(); /* cannot even set up stdio */
		}
}

uid_t cx_trusted_owner(void)
{
	const char *o;
	uint64_t v;

	/* A root run always requires root-owned files. The override exists so
	 * developers can run unit tests unprivileged; it cannot weaken a run
	 * whose real uid is 0. */
	if (getuid() == 0)
		return 0;
	o = getenv("CALYX_TEST_OWNER");
	if (o && cx_parse_u64(o, UINT32_MAX - 1, &v) == 0)
		return (uid_t)v;
	return 0;
}

int cx_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '0' && s[1] != '\0')
		return -EINVAL; /* no leading zeros: one spelling */
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int check_dir_of(const char *path, const char *what, uid_t owner,
			cx_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	size_t n;

	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return cx_err(err, CX_E_IO, ENAMETOOLONG, "%s '%s': path too long", what, path);
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (stat(dir, &st) < 0)
		return cx_err(err, CX_E_IO, errno, "%s directory '%s': %s", what, dir, strerror(errno));
	if (st.st_uid != owner && st.st_uid != 0)
		return cx_err(err, CX_E_INSECURE_FILE, EPERM,
			      "%s directory '%s' is owned by uid %u, not root (chown root '%s')",
			      what, dir, (unsigned)st.st_uid, dir);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return cx_err(err, CX_E_INSECURE_FILE, EPERM,
			      "%s directory '%s' is writable by group or others (chmod go-w '%s')",
			      what, dir, dir);
	return 0;
}

int cx_read_file(const char *path, const char *what, size_t max,
		 unsigned flags, uid_t owner, uint8_t **ret_buf,
		 size_t *ret_len, cx_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	/* O_NONBLOCK: opening a FIFO must not hang us; O_NOFOLLOW: a symlink
	 * in the last component is refused (ELOOP). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return cx_err(err, CX_E_NOT_REGULAR, ELOOP,
				      "%s '%s' is a symlink (name the file itself)", what, path);
		return cx_err(err, CX_E_IO, errno, "cannot open %s '%s': %s", what, path,
			      strerror(errno));
	}
	if (fstat(fd, &st) < 0)
		return cx_err(err, CX_E_IO, errno, "cannot stat %s '%s': %s", what, path,
			      strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cx_err(err, CX_E_NOT_REGULAR, EINVAL,
			      "%s '%s' is not a regular file (give a plain file)", what, path);
	if ((uint64_t)st.st_size > max)
		return cx_err(err, CX_E_TOO_BIG, EFBIG,
			      "%s '%s' is %lld bytes, above the %zu-byte limit", what, path,
			      (long long)st.st_size, max);
	if (flags & CX_FILE_TRUSTED) {
		if (st.st_uid != owner)
			return cx_err(err, CX_E_INSECURE_FILE, EPERM,
				      "%s '%s' is owned by uid %u, not root (chown root '%s')",
				      what, path, (unsigned)st.st_uid, path);
		if (st.st_mode & (S_IWGRP | S_IWOTH))
			return cx_err(err, CX_E_INSECURE_FILE, EPERM,
				      "%s '%s' is writable by group or others (chmod go-w '%s')",
				      what, path, path);
		r = check_dir_of(path, what, owner, err);
		if (r < 0)
			return r;
	}
	if ((flags & CX_FILE_SECRET) && (st.st_mode & (S_IRWXG | S_IRWXO)))
		return cx_err(err, CX_E_INSECURE_FILE, EPERM,
			      "%s '%s' is accessible by group or others (chmod 600 '%s')",
			      what, path, path);
	if (fcntl(fd, F_SETFL, 0) < 0) /* back to blocking reads */
		return cx_err(err, CX_E_IO, errno, "%s '%s': %s", what, path, strerror(errno));

	/* Sized by the file, not by the limit (a 4 GiB cap must not mean a
	 * 4 GiB allocation); grown, still bounded by max, if it grows. */
	size_t cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	CX_CHECK(buf);
	for (;;) {
		if (len == cap) {
			cap = cap > max / 2 ? max + 1 : cap * 2;
			uint8_t *nb = realloc(buf, cap + 1);
			CX_CHECK(nb);
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cx_err(err, CX_E_IO, errno, "cannot read %s '%s': %s", what, path,
				      strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) /* grew while we read it */
			return cx_err(err, CX_E_TOO_BIG, EFBIG,
				      "%s '%s' is above the %zu-byte limit", what, path, max);
	}
	buf[len] = 0;
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int cx_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cx_write_file_atomic(const char *path, const void *buf, size_t len,
			 mode_t mode, cx_error *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	_cleanup_close_ int fd = -1, dfd = -1;
	struct stat st;
	uint8_t rnd[8];
	char rhex[17];
	int r;

	if (!slash) {
		strcpy(dir, ".");
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return cx_err(err, CX_E_IO, ENAMETOOLONG, "'%s': path too long", path);
		memcpy(dir, path, n);
		dir[n] = 0;
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return cx_err(err, CX_E_NOT_REGULAR, EEXIST,
			      "'%s' exists and is not a regular file (remove it first)", path);
	randombytes_buf(rnd, sizeof(rnd));
	cx_hex_encode(rnd, sizeof(rnd), rhex);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, rhex) >= sizeof(tmp))
		return cx_err(err, CX_E_IO, ENAMETOOLONG, "'%s': path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return cx_err(err, CX_E_IO, errno, "cannot create '%s': %s", tmp, strerror(errno));
	r = cx_write_all(fd, buf, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return cx_err(err, CX_E_IO, -r, "cannot write '%s': %s", path, strerror(-r));
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return cx_err(err, CX_E_IO, errno, "cannot sync directory '%s': %s", dir,
			      strerror(errno));
	return 0;
}

int cx_openat2(int dfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = resolve };
	long fd = -1;

	for (int i = 0; i < CX_OPENAT2_TRIES; i++) {
		fd = syscall(SYS_openat2, dfd, path, &how, sizeof(how));
		if (fd >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	return fd < 0 ? -errno : (int)fd;
}
