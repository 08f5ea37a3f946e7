/* Bounded, symlink-refusing file reads and atomic writes.
 *
 * Every read opens with O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC (a symlink or FIFO
 * planted at the path cannot redirect or block us), checks S_ISREG on the
 * opened fd, and caps the size before and during the read.
 * CX_FILE_TRUSTED adds sshd-StrictModes checks on the opened file and its
 * parent directory: owned by `owner` (root in production), not writable by
 * group or others.
 * Trust: runs as root on paths from the command line or configuration. */
#ifndef CALYX_FILEIO_H
#define CALYX_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "calyx/common.h"

enum {
	CX_FILE_TRUSTED = 1 << 0, /* owner + not group/world-writable (file and parent dir) */
	CX_FILE_SECRET = 1 << 1,  /* no group/other permission bits at all */
};

/* Read a whole regular file (at most max bytes). `what` names the file's
 * role in messages ("lease", "keyring"). The buffer is NUL-terminated one
 * byte past *ret_len for convenience; the length is authoritative. */
int cx_read_file(const char *path, const char *what, size_t max,
		 unsigned flags, uid_t owner, uint8_t **ret_buf,
		 size_t *ret_len, cx_error *err);

/* Write atomically: temp file in the same directory, fsync, rename,
 * fsync the directory. Refuses to replace a symlink. */
int cx_write_file_atomic(const char *path, const void *buf, size_t len,
			 mode_t mode, cx_error *err);

/* The uid that trusted files must belong to: 0, unless the environment of
 * a test build overrides it (CALYX_TEST_OWNER is honoured only when the
 * real uid is not 0, so it can never weaken a root run). */
uid_t cx_trusted_owner(void);

/* Make sure fds 0, 1 and 2 are open (on /dev/null if they were closed),
 * so no file we open later lands on a standard stream. */
void cx_sanitize_stdio(void);

/* write(2) all of buf, retrying on EINTR and short writes. 0 or -errno. */
int cx_write_all(int fd, const void *buf, size_t len);

/* openat2(2), O_CLOEXEC always added: the fd, or -errno. The one retry
 * rule: EINTR, and EAGAIN (the kernel's answer when a rename or mount
 * raced a RESOLVE_BENEATH/RESOLVE_IN_ROOT walk), are retried up to
 * CX_OPENAT2_TRIES times in all, so a tree renamed in a loop by someone
 * else cannot keep the caller spinning; then -EAGAIN. */
#define CX_OPENAT2_TRIES 16
int cx_openat2(int dfd, const char *path, uint64_t flags, uint64_t resolve);

/* Integer parsing without atoi: the whole string, base 10, in range. */
int cx_parse_u64(const char *s, uint64_t max, uint64_t *ret);

#endif
