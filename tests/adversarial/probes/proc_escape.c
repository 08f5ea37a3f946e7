/* /proc magic-link escapes: /proc/1/root, /proc/self/root,
 * /proc/self/cwd, /proc/<pid>/root of every visible process (the runc
 * /proc/self/fd and /proc/1/root family: CVE-2019-5736's entry point,
 * CVE-2024-21626's leaked-cwd class). In the view each of these must be
 * the view's own root (or be invisible), and host canaries (argv) must not
 * be reachable through any of them.
 *   proc_escape [HOST_CANARY_PATH...] */
#include "probe.h"

#include <ctype.h>
#include <dirent.h>

static void try_path(const char *attempt, const char *path)
{
	char what[700];
	snprintf(what, sizeof(what), "open(\"%s\")", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		note("ESCAPED", attempt, "%s succeeded", what);
		close(fd);
	} else
		expect_fail(attempt, -1, what);
}

static void root_link(const char *attempt, const char *link)
{
	char target[256];
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	int r = same_inode(link, "/");

	if (n >= 0)
		target[n] = '\0';
	else
		snprintf(target, sizeof(target), "(readlink: %s)", strerror(errno));
	if (r == 1)
		note("DENIED", attempt, "%s -> %s is the view's own root", link, target);
	else if (r == 0)
		note("ESCAPED", attempt, "%s -> %s is a different root than the view's", link, target);
	else
		note("DENIED", attempt, "%s not reachable: %s", link, strerror(errno));
}

int main(int argc, char **argv)
{
	char cwd[4096], p[4400];

	probe_init("proc_escape");
	root_link("self-root", "/proc/self/root");
	root_link("pid1-root", "/proc/1/root");
	try_path("self-root-dotdot", "/proc/self/root/../../../../etc/passwd");
	try_path("pid1-root-etc", "/proc/1/root/etc/shadow");
	try_path("pid1-cwd", "/proc/1/cwd/.");
	try_path("pid1-exe", "/proc/1/exe");
	try_path("pid1-fd0", "/proc/1/fd/0");

	/* cwd is inside the view. */
	if (!getcwd(cwd, sizeof(cwd)))
		note("ESCAPED", "self-cwd", "getcwd failed (%s): cwd is outside the view's root",
		     strerror(errno));
	else if (cwd[0] != '/')
		note("ESCAPED", "self-cwd", "getcwd() = '%s': outside the view's root", cwd);
	else {
		int r = same_inode("/proc/self/cwd", cwd);
		if (r == 1)
			note("DENIED", "self-cwd", "cwd %s is inside the view", cwd);
		else
			note("ERROR", "self-cwd", "/proc/self/cwd is not %s (%d)", cwd, r);
	}

	/* Every process we can see, and the canaries through each. */
	DIR *d = opendir("/proc");
	struct dirent *e;
	int seen = 0;
	char pids[256] = "";
	if (!d)
		note("ERROR", "pids", "opendir /proc: %s", strerror(errno));
	while (d && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		seen++;
		if (strlen(pids) + strlen(e->d_name) + 2 < sizeof(pids)) {
			strcat(pids, " ");
			strcat(pids, e->d_name);
		}
		char attempt[300];
		snprintf(p, sizeof(p), "/proc/%s/root", e->d_name);
		snprintf(attempt, sizeof(attempt), "pid%s-root", e->d_name);
		root_link(attempt, p);
		for (int i = 1; i < argc; i++) {
			snprintf(p, sizeof(p), "/proc/%s/root%s", e->d_name, argv[i]);
			snprintf(attempt, sizeof(attempt), "pid%s-canary-%d", e->d_name, i);
			try_path(attempt, p);
		}
	}
	if (d)
		closedir(d);
	note("INFO", "pids", "%d visible process(es):%s", seen, pids);
	for (int i = 1; i < argc; i++) {
		char attempt[300];
		snprintf(p, sizeof(p), "/proc/self/root%s", argv[i]);
		snprintf(attempt, sizeof(attempt), "self-root-canary-%d", i);
		try_path(attempt, p);
		snprintf(p, sizeof(p), "/proc/self/cwd/../../../..%s", argv[i]);
		snprintf(attempt, sizeof(attempt), "self-cwd-canary-%d", i);
		try_path(attempt, p);
	}
	probe_done();
}
