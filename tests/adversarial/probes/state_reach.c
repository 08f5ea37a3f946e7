/* Probe: reach calyx-exec's own records from inside the sandbox: the state
 * dir (ledger, run dirs, packs), the audit log and the control socket.
 *
 *   state_reach files STATE_DIR AUDIT_LOG
 *   state_reach sock SOCKET_PATH
 *
 * None of them is in the view (unless a policy lets a run read the state
 * dir's parent, where the host's modes still stand: the state dir is 0700
 * root, the audit log 0640 root). Every attempt is made by the host path
 * and through the /proc magic links a process could use to leave its root
 * (/proc/1/root, /proc/self/root, /proc/thread-self/root, /proc/1/cwd);
 * any that opens, creates, writes or connects is ESCAPED.
 * files: also scans the process's own fds for one that points at the
 * state dir or the audit log (ESCAPED), and says (INFO) whether
 * /proc/self/mountinfo names the state dir (overlay upperdir=): the path
 * is then known, but must still be out of reach.
 * sock: connect() and bind() on the socket path, and a connect through
 * the /proc roots; a connection that is accepted is ESCAPED even if the
 * supervisor then refuses the request (the peer check is tested from the
 * host side by the harness). */
#include "probe.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>

static const char *const roots[] = { "", "/proc/1/root", "/proc/self/root", "/proc/thread-self/root",
				     "/proc/1/cwd/../../../../../../..", NULL };

static void try_create(const char *attempt, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, "pwned\n", 6);
		close(fd);
	}
	expect_fail(attempt, fd, path);
}

static void try_write(const char *attempt, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "{}\n", 3);
		close(fd);
	}
	char what[4200];
	snprintf(what, sizeof(what), "open(%s, O_WRONLY|O_APPEND)", path);
	expect_fail(attempt, fd, what);
}

static void try_read_dir(const char *attempt, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	char what[4200];
	snprintf(what, sizeof(what), "open(%s, O_DIRECTORY)", path);
	expect_fail(attempt, fd, what);
}

static void files(const char *state, const char *audit)
{
	char p[4096], a[64];

	for (int i = 0; roots[i]; i++) {
		const char *r = roots[i];
		snprintf(a, sizeof(a), "ledger-create[%d]", i);
		snprintf(p, sizeof(p), "%s%s/ledger/calyx-adv-pwned", r, state);
		try_create(a, p);
		snprintf(a, sizeof(a), "state-create[%d]", i);
		snprintf(p, sizeof(p), "%s%s/calyx-adv-pwned", r, state);
		try_create(a, p);
		snprintf(a, sizeof(a), "runs-create[%d]", i);
		snprintf(p, sizeof(p), "%s%s/runs/calyx-adv-pwned", r, state);
		try_create(a, p);
		snprintf(a, sizeof(a), "state-list[%d]", i);
		snprintf(p, sizeof(p), "%s%s", r, state);
		try_read_dir(a, p);
		snprintf(a, sizeof(a), "audit-append[%d]", i);
		snprintf(p, sizeof(p), "%s%s", r, audit);
		try_write(a, p);
		snprintf(a, sizeof(a), "audit-truncate[%d]", i);
		expect_fail(a, truncate(p, 0), "truncate(audit log)");
		snprintf(a, sizeof(a), "audit-rename[%d]", i);
		char q[4200];
		snprintf(q, sizeof(q), "%s.calyx-adv", p);
		expect_fail(a, rename(p, q), "rename(audit log)");
	}

	/* An fd this process holds that names the state dir or the log. */
	DIR *d = opendir("/proc/self/fd");
	int seen = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char l[4096], t[4096];
		ssize_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(l, sizeof(l), "/proc/self/fd/%s", de->d_name);
		n = readlink(l, t, sizeof(t) - 1);
		if (n < 0)
			continue;
		t[n] = '\0';
		seen++;
		if (strstr(t, state) || strcmp(t, audit) == 0)
			note("ESCAPED", "fd-scan", "fd %s points at '%s'", de->d_name, t);
	}
	if (d)
		closedir(d);
	note("INFO", "fd-scan", "%d fd(s) examined", seen);

	/* Does the kernel tell the run where the state dir is? */
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int named = 0;
	while (mi && fgets(line, sizeof(line), mi))
		if (strstr(line, state))
			named++;
	if (mi)
		fclose(mi);
	note("INFO", "mountinfo", "%d mount line(s) name the state dir%s", named,
	     named ? " (overlay upperdir/workdir: the path is known, it must stay out of reach)" : "");
}

static void sock(const char *path)
{
	char p[4096], a[64];

	for (int i = 0; roots[i]; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(p, sizeof(p), "%s%s", roots[i], path);
		if (strlen(p) >= sizeof(sa.sun_path)) {
			note("INFO", "connect", "'%s' is too long for sun_path", p);
			continue;
		}
		strcpy(sa.sun_path, p);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			note("ERROR", "connect", "socket: %s", strerror(errno));
			continue;
		}
		int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (r == 0) {
			static const char req[] = "{\"cmd\":\"halt\"}\n";
			char reply[512] = "";
			(void)!write(fd, req, sizeof(req) - 1);
			ssize_t n = read(fd, reply, sizeof(reply) - 1);
			if (n > 0)
				reply[n] = '\0';
			note("ESCAPED", "connect", "connected to %s (reply: %.200s)", p, reply);
		} else {
			snprintf(a, sizeof(a), "connect[%d]", i);
			char what[4200];
			snprintf(what, sizeof(what), "connect(%s)", p);
			expect_fail(a, r, what);
		}
		close(fd);
		/* Take the name over: a later calyx-ctl would talk to us. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			snprintf(a, sizeof(a), "bind[%d]", i);
			char what[4200];
			snprintf(what, sizeof(what), "bind(%s)", p);
			expect_fail(a, bind(fd, (struct sockaddr *)&sa, sizeof(sa)), what);
			close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	probe_init("state_reach");
	if (argc == 4 && strcmp(argv[1], "files") == 0)
		files(argv[2], argv[3]);
	else if (argc == 3 && strcmp(argv[1], "sock") == 0)
		sock(argv[2]);
	else
		report("ERROR", "usage: state_reach files STATE_DIR AUDIT_LOG | sock SOCKET_PATH");
	probe_done();
}
