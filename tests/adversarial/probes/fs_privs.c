/* Filesystem privilege: device nodes (mknod of /dev/mem or a disk gives
 * raw host memory/disk: the "privileged container" class), writes into
 * read-only mounts (the lease's ro paths, /usr, the view's own skeleton
 * "/" and /dev: cf. runc CVE-2023-27561 / CVE-2019-16884 making ro mounts
 * writable), chmod/chown of root files, chown of our own files to root,
 * and file capabilities on our own files (security.capability xattr).
 * Device nodes planted by the harness in the workspace and in a leased
 * read-only directory (character device 1:7, /dev/full, mode 0666) must
 * not open: every bind is nodev.
 *   fs_privs RO_DIR RO_FILE [PLANTED_DEVICE...] */
#include "probe.h"

#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <utime.h>

static void try_create(const char *attempt, const char *path)
{
	char what[300];
	snprintf(what, sizeof(what), "creat(\"%s\")", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0) {
		note("ESCAPED", attempt, "%s succeeded", what);
		close(fd);
		unlink(path);
	} else
		expect_fail(attempt, -1, what);
}

static void try_write(const char *attempt, const char *path)
{
	char what[300];
	snprintf(what, sizeof(what), "open(\"%s\", O_WRONLY)", path);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		note("ESCAPED", attempt, "%s succeeded", what);
		close(fd);
	} else
		expect_fail(attempt, -1, what);
}

int main(int argc, char **argv)
{
	char p[4200];
	struct stat st;

	probe_init("fs_privs");
	if (argc < 2)
		report("ERROR", "usage: fs_privs RO_DIR [RO_FILE]");

	expect_fail("mknod-mem", mknod("/tmp/mem", S_IFCHR | 0666, makedev(1, 1)),
		    "mknod(/tmp/mem, c 1 1)");
	expect_fail("mknod-kmsg-work", mknod("/work/kmsg", S_IFCHR | 0666, makedev(1, 11)),
		    "mknod(/work/kmsg, c 1 11)");
	expect_fail("mknod-disk", mknod("/work/sda", S_IFBLK | 0666, makedev(8, 0)),
		    "mknod(/work/sda, b 8 0)");
	unlink("/tmp/mem");
	unlink("/work/kmsg");
	unlink("/work/sda");

	snprintf(p, sizeof(p), "%s/calyx-escape", argv[1]);
	try_create("ro-create", p);
	if (argc > 2) {
		try_write("ro-write", argv[2]);
		expect_fail("ro-chmod", chmod(argv[2], 04777), "chmod(ro file, 04777)");
		expect_fail("ro-utime", utime(argv[2], NULL), "utime(ro file)");
	}
	for (int i = 3; i < argc; i++) {
		char attempt[32], what[300];
		if (lstat(argv[i], &st) < 0 || !S_ISCHR(st.st_mode)) {
			note("ERROR", "planted-dev", "fixture %s is not a device node here", argv[i]);
			continue;
		}
		snprintf(attempt, sizeof(attempt), "planted-dev-%d", i - 2);
		snprintf(what, sizeof(what), "open(planted device %s)", argv[i]);
		int fd = open(argv[i], O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			note("ESCAPED", attempt, "%s succeeded: the mount lacks nodev", what);
			close(fd);
		} else
			expect_fail(attempt, -1, what);
	}
	try_create("root-create", "/calyx-escape");
	expect_fail("root-mkdir", mkdir("/calyx-escape", 0755), "mkdir(/calyx-escape)");
	try_create("dev-create", "/dev/calyx-escape");
	expect_fail("dev-symlink", symlink("/work", "/dev/calyx-escape"), "symlink(/dev/calyx-escape)");
	try_create("proc-create", "/proc/calyx-escape");

	if (stat("/usr/bin/env", &st) == 0) {
		try_create("usr-create", "/usr/calyx-escape");
		try_write("usr-write", "/usr/bin/env");
		expect_fail("usr-chmod", chmod("/usr/bin/env", 04777), "chmod(/usr/bin/env, 04777)");
		expect_fail("usr-chown", chown("/usr/bin/env", getuid(), getgid()),
			    "chown(/usr/bin/env, self)");
		expect_fail("usr-unlink", unlink("/usr/bin/env"), "unlink(/usr/bin/env)");
	} else
		note("INFO", "usr", "/usr/bin/env not in the view (%s)", strerror(errno));

	/* Our own file in the workspace. */
	int fd = open("/work/own", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0)
		note("ERROR", "own", "create /work/own: %s", strerror(errno));
	else {
		close(fd);
		expect_fail("own-chown-root", chown("/work/own", 0, 0), "chown(/work/own, 0, 0)");
		expect_fail("own-chgrp-root", chown("/work/own", (uid_t)-1, 0), "chown(/work/own, -1, 0)");
		/* vfs_cap_data v2: cap_setuid + cap_sys_admin permitted, effective. */
		unsigned int cap[5] = { 0x02000001, (1u << 7) | (1u << 21), 0, 0, 0 };
		expect_fail("own-setcap", setxattr("/work/own", "security.capability", cap, sizeof(cap), 0),
			    "setxattr(/work/own, security.capability)");
		int r = chmod("/work/own", 04755);
		note("INFO", "own-chmod-suid", "chmod(/work/own, 04755) = %d%s%s (the file stays ours: /work is nosuid)",
		     r, r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
		unlink("/work/own");
	}
	probe_done();
}
