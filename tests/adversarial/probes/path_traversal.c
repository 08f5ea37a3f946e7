/* Path traversal out of the workspace (the classic "../../etc/shadow" of
 * archive extractors and CI runners, CWE-22) and absolute host paths that
 * the view must not contain: /etc/shadow, /etc/passwd, /root, and host
 * canaries named in argv (files the harness created outside every lease).
 * Run with cwd /work. ESCAPED if any of them can be opened or even stat'd,
 * or if "/.." leads anywhere but "/". */
#include "probe.h"

#include <dirent.h>

static void try_open(const char *attempt, const char *path)
{
	char what[600];
	snprintf(what, sizeof(what), "open(\"%s\")", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[64] = "";
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		note("ESCAPED", attempt, "%s succeeded (read %zd bytes)", what, n);
		close(fd);
		return;
	}
	expect_fail(attempt, -1, what);
}

int main(int argc, char **argv)
{
	char cwd[4096];
	struct stat st;

	probe_init("path_traversal");
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "(getcwd: %s)", strerror(errno));
	note("INFO", "cwd", "running in %s", cwd);

	try_open("dotdot-shadow", "../../etc/shadow");
	try_open("dotdot-deep-passwd", "../../../../../../../../../../etc/passwd");
	try_open("abs-shadow", "/etc/shadow");
	try_open("abs-passwd", "/etc/passwd");
	try_open("abs-root", "/root");
	try_open("work-dotdot-root", "/work/../root");
	for (int i = 1; i < argc; i++) {
		char attempt[32];
		snprintf(attempt, sizeof(attempt), "canary-open-%d", i);
		try_open(attempt, argv[i]);
		snprintf(attempt, sizeof(attempt), "canary-stat-%d", i);
		char what[600];
		snprintf(what, sizeof(what), "stat(\"%s\")", argv[i]);
		expect_fail(attempt, stat(argv[i], &st), what);
	}

	/* "/.." must be "/" itself. */
	int r = same_inode("/", "/..");
	int r2 = same_inode("/", "/work/../../../..");
	if (r == 1 && r2 == 1)
		note("DENIED", "root-dotdot", "/.. and /work/../../../.. are the view's own root");
	else if (r < 0 || r2 < 0)
		note("ERROR", "root-dotdot", "stat failed: %s", strerror(errno));
	else
		note("ESCAPED", "root-dotdot", "/.. is not the view's root");

	/* What the view's root holds (for the record). */
	DIR *d = opendir("/");
	if (d) {
		char names[400] = "";
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
			    strlen(names) + strlen(e->d_name) + 2 < sizeof(names)) {
				strcat(names, " ");
				strcat(names, e->d_name);
			}
		closedir(d);
		note("INFO", "root-listing", "/ holds:%s", names);
	}
	probe_done();
}
