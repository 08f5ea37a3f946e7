/* Host unix sockets in the run's view. A host daemon's pathname socket
 * inside a leased tree (read-only, or the workspace's host tree) must not
 * accept a connection or a datagram from a run that has not been granted
 * it by name (policy "unix_sockets"): leasing /run to read would otherwise
 * hand over docker.sock or D-Bus, since neither the read-only mount nor
 * network "none" stops connect(). Each socket is tried directly, through a
 * symlink the run plants in /work, through /proc/self/root, by a relative
 * path from its directory and through an O_PATH fd's /proc/self/fd link.
 *
 *   unix_reach ARG...   s:PATH  a host stream socket (connect + write)
 *                       d:PATH  a host datagram socket (sendto)
 *                       n:PATH  a stream socket the policy names: it must
 *                               be reachable (INFO; ERROR if not)
 * Controls: the run's own sockets in /work and /tmp (stream and datagram)
 * must work (INFO; ERROR if not): only host sockets are kept out. */
#include "probe.h"

#include <libgen.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t addr_of(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return 0;
	strcpy(a->sun_path, path);
	return (socklen_t)sizeof(*a);
}

/* 0: reached (connected and wrote, or sent); -errno otherwise. */
static int reach(const char *path, int type)
{
	struct sockaddr_un a;
	socklen_t len = addr_of(path, &a);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0), r = 0;

	if (!len || fd < 0) {
		r = fd < 0 ? -errno : -ENAMETOOLONG;
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (type == SOCK_STREAM)
		r = connect(fd, (struct sockaddr *)&a, len) == 0 && write(fd, "calyx-escape", 12) == 12
			    ? 0 : -errno;
	else
		r = sendto(fd, "calyx-escape", 12, 0, (struct sockaddr *)&a, len) == 12 ? 0 : -errno;
	close(fd);
	return r;
}

static void judge(const char *attempt, const char *how, int r)
{
	if (r == 0)
		note("ESCAPED", attempt, "%s: reached the host socket", how);
	else
		note("DENIED", attempt, "%s: %s", how, strerror(-r));
}

static void attack(const char *path, int type, int n)
{
	const char *kind = type == SOCK_STREAM ? "stream" : "dgram";
	char attempt[64], how[512], link[64], buf[4096];

	snprintf(attempt, sizeof(attempt), "%s%d-direct", kind, n);
	snprintf(how, sizeof(how), "%s to %s", type == SOCK_STREAM ? "connect" : "sendto", path);
	judge(attempt, how, reach(path, type));

	snprintf(link, sizeof(link), "/work/.calyx-reach-%d", n);
	unlink(link);
	snprintf(attempt, sizeof(attempt), "%s%d-symlink", kind, n);
	if (symlink(path, link) < 0)
		note("ERROR", attempt, "symlink %s -> %s: %s", link, path, strerror(errno));
	else {
		snprintf(how, sizeof(how), "through the planted symlink %s", link);
		judge(attempt, how, reach(link, type));
		unlink(link);
	}

	snprintf(buf, sizeof(buf), "/proc/self/root%s", path);
	snprintf(attempt, sizeof(attempt), "%s%d-procroot", kind, n);
	judge(attempt, buf, reach(buf, type));

	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(attempt, sizeof(attempt), "%s%d-relative", kind, n);
	if (chdir(dirname(buf)) < 0)
		note("ERROR", attempt, "chdir to the socket's directory: %s", strerror(errno));
	else {
		snprintf(buf, sizeof(buf), "%s", path);
		snprintf(how, sizeof(how), "from its directory, as '%s'", basename(buf));
		judge(attempt, how, reach(basename(buf), type));
		if (chdir("/") < 0)
			note("ERROR", attempt, "chdir /: %s", strerror(errno));
	}

	snprintf(attempt, sizeof(attempt), "%s%d-opath", kind, n);
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		note("DENIED", attempt, "open(O_PATH) %s: %s", path, strerror(errno));
	else {
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
		judge(attempt, buf, reach(buf, type));
		close(fd);
	}
}

/* The run's own socket in dir: bind, then reach it. */
static void own(const char *dir, int type)
{
	const char *kind = type == SOCK_STREAM ? "stream" : "dgram";
	char path[128], attempt[64];
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	snprintf(path, sizeof(path), "%s/own-%s.sock", dir, kind);
	snprintf(attempt, sizeof(attempt), "own-%s-%s", kind, dir + 1);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, addr_of(path, &a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4) < 0)) {
		note("ERROR", attempt, "cannot bind its own socket %s: %s", path, strerror(errno));
	} else {
		int r = reach(path, type);
		if (r == 0)
			note("INFO", attempt, "the run's own socket %s is reachable (as it must be)", path);
		else
			note("ERROR", attempt, "the run's own socket %s is unreachable: %s", path,
			     strerror(-r));
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	probe_init("unix_reach");
	for (int i = 1; i < argc; i++) {
		const char *p = argv[i] + 2;
		if (strncmp(argv[i], "s:", 2) == 0)
			attack(p, SOCK_STREAM, i);
		else if (strncmp(argv[i], "d:", 2) == 0)
			attack(p, SOCK_DGRAM, i);
		else if (strncmp(argv[i], "n:", 2) == 0) {
			int r = reach(p, SOCK_STREAM);
			if (r == 0)
				note("INFO", "named", "%s, named in the policy, is reachable", p);
			else
				note("ERROR", "named", "%s, named in the policy, is unreachable: %s", p,
				     strerror(-r));
		} else
			note("ERROR", "usage", "argument '%s' is not s:PATH, d:PATH or n:PATH", argv[i]);
	}
	own("/work", SOCK_STREAM);
	own("/work", SOCK_DGRAM);
	own("/tmp", SOCK_STREAM);
	own("/tmp", SOCK_DGRAM);
	probe_done();
}
