/* Symlinks and hardlinks planted in the workspace that point at host files
 * (the "malicious repository" class: git/tar symlink attacks such as
 * CVE-2021-21300, and runc's symlink-in-volume CVE-2021-30465 family).
 * The harness plants, in the host workspace before the run:
 *   evil        -> /etc/shadow          (absolute symlink)
 *   evil_rel    -> ../../../../../../etc/passwd
 *   evil_dir    -> /root
 *   evil_canary -> <host canary path, outside every lease>
 *   hard        hardlink to a root-owned 0600 host file (same fs)
 *   hard_pub    hardlink to a root-owned 0644 host file
 * Inside the view every symlink must resolve within the view (and find
 * nothing), and the hardlinked inodes keep their host owner and mode: a
 * 0600 file stays unreadable, no hardlink is writable or chmod-able.
 * The probe also tries to make its own links out of the workspace. */
#include "probe.h"

static void try_open(const char *attempt, const char *path, int flags)
{
	char what[300];
	snprintf(what, sizeof(what), "open(\"%s\", %s)", path,
		 (flags & O_ACCMODE) == O_RDONLY ? "O_RDONLY" : "O_WRONLY");
	int fd = open(path, flags | O_CLOEXEC);
	if (fd >= 0) {
		note("ESCAPED", attempt, "%s succeeded", what);
		close(fd);
	} else
		expect_fail(attempt, -1, what);
}

int main(void)
{
	struct stat st;
	char buf[256];

	probe_init("ws_links");
	static const char *const links[] = { "/work/evil", "/work/evil_rel", "/work/evil_dir",
					     "/work/evil_canary" };
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		ssize_t n = readlink(links[i], buf, sizeof(buf) - 1);
		if (n < 0) {
			note("ERROR", links[i] + 6, "fixture %s missing: %s", links[i], strerror(errno));
			continue;
		}
		buf[n] = '\0';
		char attempt[64];
		snprintf(attempt, sizeof(attempt), "%s", links[i] + 6);
		int fd = open(links[i], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			note("ESCAPED", attempt, "open(%s -> %s) succeeded", links[i], buf);
			close(fd);
		} else {
			int e = errno;
			note("DENIED", attempt, "open(%s -> %s): %s", links[i], buf, strerror(e));
		}
	}

	/* Hardlinks to host files: the inode keeps its owner and mode. */
	if (lstat("/work/hard", &st) < 0)
		note("ERROR", "hard", "fixture /work/hard missing: %s", strerror(errno));
	else {
		note("INFO", "hard-stat", "/work/hard: uid %u mode %o nlink %lu", st.st_uid,
		     st.st_mode & 07777, (unsigned long)st.st_nlink);
		try_open("hard-read", "/work/hard", O_RDONLY);
		try_open("hard-write", "/work/hard", O_WRONLY);
		expect_fail("hard-chmod", chmod("/work/hard", 0666), "chmod(/work/hard, 0666)");
		expect_fail("hard-chown", chown("/work/hard", getuid(), getgid()),
			    "chown(/work/hard, self)");
	}
	if (lstat("/work/hard_pub", &st) < 0)
		note("ERROR", "hard_pub", "fixture /work/hard_pub missing: %s", strerror(errno));
	else {
		try_open("hard_pub-write", "/work/hard_pub", O_WRONLY);
		try_open("hard_pub-trunc", "/work/hard_pub", O_WRONLY | O_TRUNC);
		expect_fail("hard_pub-chmod", chmod("/work/hard_pub", 0666),
			    "chmod(/work/hard_pub, 0666)");
		/* Unlinking our name is allowed (the workspace is ours) and
		 * leaves the host file alone: not tried, it proves nothing. */
	}

	/* Links the probe makes itself. */
	unlink("/work/mine");
	if (symlink("/etc/shadow", "/work/mine") == 0) {
		try_open("own-symlink", "/work/mine", O_RDONLY);
		unlink("/work/mine");
	} else
		note("ERROR", "own-symlink", "symlink in /work: %s", strerror(errno));
	/* A hardlink from the workspace to a file of a read-only mount (or
	 * to our own executable through /proc) must not be possible. */
	expect_fail("own-hardlink-exe",
		    linkat(AT_FDCWD, "/proc/self/exe", AT_FDCWD, "/work/exe_link", AT_SYMLINK_FOLLOW),
		    "linkat(/proc/self/exe -> /work/exe_link)");
	unlink("/work/exe_link");
	probe_done();
}
