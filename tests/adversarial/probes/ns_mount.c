/* Mount and namespace escapes: remounting or unmounting parts of the view
 * to uncover what lies beneath (an overmounted /proc or read-only bind),
 * new user namespaces (the root-in-userns kernel surface behind most
 * container breakouts: CVE-2022-0185 fsconfig, CVE-2022-0492 cgroup
 * release_agent, CVE-2023-0386 overlayfs), setns into our own namespaces,
 * pivot_root, the new mount API (fsopen/open_tree/move_mount/
 * mount_setattr), and the classic chroot escape (chroot into a subdir,
 * chdir("..") past it, chroot(".")). Every call must fail; "/" must be
 * the same directory at the end. */
#include "probe.h"

#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>

static const char *const nses[] = { "mnt", "pid", "net", "ipc", "uts", "user", "cgroup", "time" };

int main(void)
{
	struct stat root0, root1;
	char what[128];

	probe_init("ns_mount");
	if (stat("/", &root0) < 0)
		report("ERROR", "stat /: %s", strerror(errno));

	expect_fail("mount-tmpfs", mount("tmpfs", "/tmp", "tmpfs", 0, NULL), "mount(tmpfs on /tmp)");
	expect_fail("mount-proc", mount("proc", "/tmp", "proc", 0, NULL), "mount(proc on /tmp)");
	expect_fail("mount-bind-rw", mount("/work", "/tmp", NULL, MS_BIND | MS_REC, NULL),
		    "mount(MS_BIND /work on /tmp)");
	expect_fail("remount-root-rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL),
		    "mount(MS_REMOUNT|MS_BIND /, rw)");
	expect_fail("umount-proc", umount2("/proc", MNT_DETACH), "umount2(/proc, MNT_DETACH)");
	expect_fail("umount-work", umount("/work"), "umount(/work)");
	expect_fail("unshare-user", unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)");
	expect_fail("unshare-user-mnt", unshare(CLONE_NEWUSER | CLONE_NEWNS),
		    "unshare(CLONE_NEWUSER|CLONE_NEWNS)");
	expect_fail("unshare-mnt", unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
	expect_fail("unshare-net", unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
	expect_fail("unshare-files", unshare(CLONE_FS), "unshare(CLONE_FS)");
	for (size_t i = 0; i < sizeof(nses) / sizeof(nses[0]); i++) {
		char path[64], attempt[32];
		snprintf(path, sizeof(path), "/proc/self/ns/%s", nses[i]);
		snprintf(attempt, sizeof(attempt), "setns-%s", nses[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			note("DENIED", attempt, "open %s: %s", path, strerror(errno));
			continue;
		}
		snprintf(what, sizeof(what), "setns(%s)", path);
		expect_fail(attempt, setns(fd, 0), what);
		close(fd);
	}
	expect_fail("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"), "pivot_root(/tmp, /tmp)");
	expect_fail("fsopen", syscall(SYS_fsopen, "tmpfs", 0), "fsopen(tmpfs)");
	expect_fail("fspick", syscall(SYS_fspick, AT_FDCWD, "/", 0), "fspick(/)");
	expect_fail("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/work", OPEN_TREE_CLONE),
		    "open_tree(/work, OPEN_TREE_CLONE)");
	expect_fail("move_mount",
		    syscall(SYS_move_mount, AT_FDCWD, "/work", AT_FDCWD, "/tmp", 0),
		    "move_mount(/work -> /tmp)");
	{
		struct mount_attr ma = { .attr_clr = MOUNT_ATTR_RDONLY };
		expect_fail("mount_setattr",
			    syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ma, sizeof(ma)),
			    "mount_setattr(/, clear RDONLY)");
	}

	/* chroot escape. */
	mkdir("/tmp/jail", 0755);
	int keep = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	expect_fail("chroot", chroot("/tmp/jail"), "chroot(/tmp/jail)");
	if (keep >= 0 && fchdir(keep) == 0) {
		for (int i = 0; i < 64; i++)
			if (chdir("..") < 0)
				break;
		expect_fail("chroot-dot", chroot("."), "chroot(.) after chdir(..) x64");
	}
	if (keep >= 0)
		close(keep);
	if (stat("/", &root1) < 0)
		note("ERROR", "root-unchanged", "stat /: %s", strerror(errno));
	else if (root1.st_dev != root0.st_dev || root1.st_ino != root0.st_ino)
		note("ESCAPED", "root-unchanged", "/ changed during the probe");
	else
		note("DENIED", "root-unchanged", "/ is still the view's root");
	probe_done();
}
