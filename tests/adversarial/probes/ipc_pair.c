/* Two sandboxes at once trying to reach each other (cross-tenant
 * channels on a shared build host, cf. CVE-2020-15257 containerd's
 * abstract unix socket reachable from containers sharing the host
 * network namespace): an abstract unix socket served in sandbox A and
 * dialled from sandbox B; SysV IPC objects (message queue, shared memory,
 * semaphores) created by A under a fixed key and looked up by B; /dev/shm;
 * signals to every pid number (kill(pid, 0)); flock on a file both see
 * through a read-only lease path (the same host inode: contention is
 * visible, reported as INFO — a one-bit channel the lease owner shares
 * knowingly, no data crosses).
 *   ipc_pair server NAME KEY SECONDS LOCKFILE   (sandbox A; exit 1 if contacted)
 *   ipc_pair client NAME KEY LOCKFILE           (sandbox B) */
#include "probe.h"

#include <ctype.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	size_t n = strlen(name);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n + 1 > sizeof(a->sun_path))
		n = sizeof(a->sun_path) - 1;
	memcpy(a->sun_path + 1, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int server(const char *name, key_t key, int secs, const char *lockfile)
{
	struct sockaddr_un a;
	socklen_t al = abstract_addr(&a, name);
	int contacted = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int mq = -1, shm = -1, sem = -1, lk = -1;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) < 0 || listen(fd, 4) < 0) {
		note("INFO", "server", "cannot listen on @%s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	mq = msgget(key, IPC_CREAT | 0666);
	shm = shmget(key, 4096, IPC_CREAT | 0666);
	sem = semget(key, 1, IPC_CREAT | 0666);
	if (shm >= 0) {
		char *p = shmat(shm, NULL, 0);
		if (p != (void *)-1) {
			strcpy(p, "calyx-secret-from-A");
			shmdt(p);
		}
	}
	lk = open(lockfile, O_RDONLY | O_CLOEXEC);
	if (lk >= 0 && flock(lk, LOCK_EX | LOCK_NB) < 0)
		note("INFO", "server-flock", "flock %s: %s", lockfile, strerror(errno));
	note("INFO", "server-ready", "pid %d listening on @%s, msq %d shm %d sem %d (key 0x%x)",
	     getpid(), name, mq, shm, sem, (unsigned)key);

	time_t end = time(NULL) + secs;
	while (fd >= 0 && time(NULL) < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 200) > 0) {
			int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				note("ESCAPED", "server-accept", "a client connected to @%s", name);
				contacted = 1;
				close(c);
			}
		}
	}
	if (mq >= 0) {
		struct msqid_ds ds;
		if (msgctl(mq, IPC_STAT, &ds) == 0 && ds.msg_qnum > 0) {
			note("ESCAPED", "server-msgq", "%lu message(s) arrived in the queue",
			     (unsigned long)ds.msg_qnum);
			contacted = 1;
		}
		msgctl(mq, IPC_RMID, NULL);
	}
	if (shm >= 0)
		shmctl(shm, IPC_RMID, NULL);
	if (sem >= 0)
		semctl(sem, 0, IPC_RMID);
	if (!contacted)
		note("INFO", "server-done", "nobody reached this sandbox in %d s", secs);
	fflush(stdout);
	return contacted ? 1 : 0;
}

static int client(const char *name, key_t key, const char *lockfile)
{
	struct sockaddr_un a;
	socklen_t al = abstract_addr(&a, name);
	struct stat st;
	char what[160];

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		note("ERROR", "abstract", "socket(AF_UNIX): %s", strerror(errno));
	else {
		snprintf(what, sizeof(what), "connect(@%s) to sandbox A", name);
		expect_fail("abstract", connect(fd, (struct sockaddr *)&a, al), what);
		close(fd);
	}
	int mq = msgget(key, 0);
	expect_fail("msgget", mq, "msgget(A's key)");
	if (mq >= 0) {
		struct { long t; char b[8]; } m = { 1, "hello" };
		msgsnd(mq, &m, sizeof(m.b), IPC_NOWAIT);
	}
	int shm = shmget(key, 0, 0);
	if (shm >= 0) {
		char *p = shmat(shm, NULL, SHM_RDONLY);
		note("ESCAPED", "shmget", "A's shared memory is visible%s%.40s",
		     p != (void *)-1 ? ": " : "", p != (void *)-1 ? p : "");
	} else
		expect_fail("shmget", -1, "shmget(A's key)");
	expect_fail("semget", semget(key, 0, 0), "semget(A's key)");
	expect_fail("dev-shm", stat("/dev/shm", &st), "stat(/dev/shm)");
	expect_fail("dev-mqueue", stat("/dev/mqueue", &st), "stat(/dev/mqueue)");

	/* Signals: any pid we can signal must be one of ours. */
	char own[64][300];
	int nown = 0, foreign = 0, tried = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0]) && nown < 64)
			snprintf(own[nown++], sizeof(own[0]), "%s", e->d_name);
	if (d)
		closedir(d);
	for (pid_t p = 1; p < 65536; p++) {
		char s[16];
		bool mine = false;
		tried++;
		if (kill(p, 0) < 0) {
			if (errno == EPERM && p != 1) {
				note("INFO", "kill0", "pid %d exists here but may not be signalled", p);
			}
			continue;
		}
		snprintf(s, sizeof(s), "%d", p);
		for (int i = 0; i < nown; i++)
			mine |= strcmp(own[i], s) == 0;
		if (!mine) {
			foreign++;
			note("ESCAPED", "kill0", "kill(%d, 0) succeeded on a pid not in this sandbox", p);
		}
	}
	if (!foreign)
		note("DENIED", "kill0", "kill(pid, 0) for pids 1..%d reached only this sandbox's own %d process(es)",
		     tried, nown);

	int lk = open(lockfile, O_RDONLY | O_CLOEXEC);
	if (lk < 0)
		note("INFO", "flock", "open %s: %s", lockfile, strerror(errno));
	else if (flock(lk, LOCK_EX | LOCK_NB) < 0)
		note("INFO", "flock", "flock(%s) contended (%s): locks on a shared read-only inode are visible across sandboxes (one bit, no data)",
		     lockfile, strerror(errno));
	else
		note("INFO", "flock", "flock(%s) not contended", lockfile);
	probe_done();
}

int main(int argc, char **argv)
{
	probe_init("ipc_pair");
	if (argc == 6 && strcmp(argv[1], "server") == 0)
		return server(argv[2], (key_t)strtol(argv[3], NULL, 0), atoi(argv[4]), argv[5]);
	if (argc == 5 && strcmp(argv[1], "client") == 0)
		return client(argv[2], (key_t)strtol(argv[3], NULL, 0), argv[4]);
	report("ERROR", "usage: ipc_pair server NAME KEY SECONDS LOCKFILE | client NAME KEY LOCKFILE");
}
