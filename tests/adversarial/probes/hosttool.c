/* Not a probe: the harness's host-side helper, built with the probes
 * (static, no dependency). It runs on the host, outside any sandbox.
 *   hosttool race SECONDS A B [C D...]   swap A<->B (C<->D, ...: up to 4 pairs) with
 *       renameat2(RENAME_EXCHANGE) in a tight loop for SECONDS (the
 *       mount-race attacker); leaves every pair as it found it.
 *   hosttool listen PORT NAME SECONDS KEY   listen on 127.0.0.1:PORT
 *       (TCP) and on the abstract unix socket @NAME, and hold SysV IPC
 *       objects under KEY; print "READY" then one "ACCEPTED tcp|unix"
 *       line per connection; exit after SECONDS or on SIGTERM (IPC
 *       objects removed).
 *   hosttool setcap FILE   give FILE cap_setuid,cap_sys_admin+ep
 *       (security.capability v2), as setcap(8) would.
 *   hosttool sleep SECONDS   a host process for the sandbox to try to kill.
 *   hosttool storm PID MS SIG...   send the signals (numbers) to PID in turn,
 *       as fast as kill(2) goes, for MS milliseconds; print "STORM N sent"
 *       (stops early, saying so, once PID is gone).
 *   hosttool ulisten DIR SECONDS   a host daemon's pathname unix sockets:
 *       DIR/stream.sock (SOCK_STREAM, listening) and DIR/dgram.sock
 *       (SOCK_DGRAM), both mode 0777 so that only calyx keeps a run out;
 *       print "READY" then "ACCEPTED ustream", "RECEIVED ustream N" and
 *       "RECEIVED udgram N" lines for what reaches them; exit after
 *       SECONDS or on SIGTERM (the sockets removed).
 *   hosttool ctl PATH CMD   connect to the control socket PATH as whoever
 *       runs this, send {"cmd":"CMD"} and print "CONNECT-FAILED errno",
 *       or "CONNECTED" then "REPLY <first line>" or "NO-REPLY" (EOF or
 *       2 s of silence). */
#include "probe.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static volatile sig_atomic_t stop;
static void on_term(int s)
{
	(void)s;
	stop = 1;
}

static int race(int secs, int npairs, char **paths)
{
	long swaps[4] = { 0, 0, 0, 0 }, fails = 0, total = 0;
	int odd = 0;
	time_t end = time(NULL) + secs;

	while (time(NULL) < end && !stop)
		for (int k = 0; k < npairs; k++) {
			for (int j = 0; j < 256; j++) {
				if (syscall(SYS_renameat2, AT_FDCWD, paths[2 * k], AT_FDCWD,
					    paths[2 * k + 1], RENAME_EXCHANGE) == 0)
					swaps[k]++;
				else
					fails++;
			}
		}
	for (int k = 0; k < npairs; k++)
		if (swaps[k] % 2 &&
		    syscall(SYS_renameat2, AT_FDCWD, paths[2 * k], AT_FDCWD, paths[2 * k + 1],
			    RENAME_EXCHANGE) == 0)
			swaps[k]++;
	for (int k = 0; k < npairs; k++) {
		total += swaps[k];
		odd |= (int)(swaps[k] % 2);
	}
	printf("RACED %ld swaps in %d pair(s), %ld failures\n", total, npairs, fails);
	return odd ? 1 : 0;
}

static int listen_all(int port, const char *name, int secs, key_t key)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int one = 1;
	int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (n + 1 > sizeof(un.sun_path))
		return 2;
	memcpy(un.sun_path + 1, name, n);
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (t < 0 || bind(t, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(t, 16) < 0) {
		fprintf(stderr, "hosttool: tcp 127.0.0.1:%d: %s\n", port, strerror(errno));
		return 2;
	}
	if (u < 0 ||
	    bind(u, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
	    listen(u, 16) < 0) {
		fprintf(stderr, "hosttool: unix @%s: %s\n", name, strerror(errno));
		return 2;
	}
	int mq = msgget(key, IPC_CREAT | 0666), shm = shmget(key, 4096, IPC_CREAT | 0666);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("READY tcp 127.0.0.1:%d unix @%s msq %d shm %d\n", port, name, mq, shm);
	fflush(stdout);
	time_t end = time(NULL) + secs;
	while (!stop && time(NULL) < end) {
		struct pollfd p[2] = { { t, POLLIN, 0 }, { u, POLLIN, 0 } };
		if (poll(p, 2, 200) <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (p[i].revents & POLLIN) {
				int c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0) {
					printf("ACCEPTED %s\n", i ? "unix" : "tcp");
					fflush(stdout);
					close(c);
				}
			}
	}
	if (mq >= 0) {
		struct msqid_ds ds;
		if (msgctl(mq, IPC_STAT, &ds) == 0 && ds.msg_qnum > 0)
			printf("ACCEPTED msgq %lu\n", (unsigned long)ds.msg_qnum);
		msgctl(mq, IPC_RMID, NULL);
	}
	if (shm >= 0)
		shmctl(shm, IPC_RMID, NULL);
	printf("DONE\n");
	return 0;
}

static int ubind(const char *dir, const char *name, int type, char *path, size_t len)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	snprintf(path, len, "%s/%s", dir, name);
	if (fd < 0 || strlen(path) >= sizeof(un.sun_path))
		return -1;
	strcpy(un.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 || chmod(path, 0777) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		fprintf(stderr, "hosttool: unix %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

static int ulisten(const char *dir, int secs)
{
	char sp[256], dp[256], buf[512];
	int s = ubind(dir, "stream.sock", SOCK_STREAM, sp, sizeof(sp));
	int d = s < 0 ? -1 : ubind(dir, "dgram.sock", SOCK_DGRAM, dp, sizeof(dp));

	if (s < 0 || d < 0)
		return 2;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("READY %s %s\n", sp, dp);
	time_t end = time(NULL) + secs;
	/* Until SIGTERM or SECONDS; then one more pass without waiting, until
	 * both queues are empty: a connection or datagram queued before the
	 * stop (a sandbox's connect() returns once it is queued) is reported
	 * even if this process had not been scheduled to take it yet. */
	for (bool last = false;;) {
		struct pollfd p[2] = { { s, POLLIN, 0 }, { d, POLLIN, 0 } };
		if (!last && (stop || time(NULL) >= end))
			last = true;
		int r = poll(p, 2, last ? 0 : 200);
		if (r <= 0 && !(last && r == 0))
			continue;
		if (last && !((p[0].revents | p[1].revents) & POLLIN))
			break;
		if (p[0].revents & POLLIN) {
			int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				struct timeval tv = { 1, 0 };
				printf("ACCEPTED ustream\n");
				setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				ssize_t n = read(c, buf, sizeof(buf));
				if (n > 0)
					printf("RECEIVED ustream %zd\n", n);
				close(c);
			}
		}
		if (p[1].revents & POLLIN) {
			ssize_t n = recv(d, buf, sizeof(buf), MSG_DONTWAIT);
			if (n >= 0)
				printf("RECEIVED udgram %zd\n", n);
		}
	}
	unlink(sp);
	unlink(dp);
	printf("DONE\n");
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int storm(pid_t pid, long ms, int nsig, char **sigs)
{
	long sent = 0, end = now_ms() + ms;
	int gone = 0;

	while (!gone && now_ms() < end)
		for (int i = 0; i < nsig; i++) {
			if (kill(pid, atoi(sigs[i])) < 0) {
				gone = errno == ESRCH;
				break;
			}
			sent++;
		}
	printf("STORM %ld sent%s\n", sent, gone ? " (target gone)" : "");
	return 0;
}

static int ctl(const char *path, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 2, 0 };
	char req[128], reply[1024];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;
	size_t len = 0;

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("CONNECT-FAILED %d %s\n", errno, strerror(errno));
		return 0;
	}
	printf("CONNECTED\n");
	signal(SIGPIPE, SIG_IGN); /* a peer that hung up on us is an answer too */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
	(void)!write(fd, req, strlen(req));
	while (len < sizeof(reply) - 1 && (n = read(fd, reply + len, sizeof(reply) - 1 - len)) > 0)
		len += (size_t)n;
	reply[len] = '\0';
	if (len)
		printf("REPLY %s\n", strtok(reply, "\n"));
	else
		printf("NO-REPLY\n");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 5 && strcmp(argv[1], "race") == 0 && argc % 2 == 1 && argc <= 11)
		return race(atoi(argv[2]), (argc - 3) / 2, argv + 3);
	if (argc == 6 && strcmp(argv[1], "listen") == 0)
		return listen_all(atoi(argv[2]), argv[3], atoi(argv[4]), (key_t)strtol(argv[5], NULL, 0));
	if (argc == 3 && strcmp(argv[1], "setcap") == 0) {
		/* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE; permitted low word. */
		unsigned int cap[5] = { 0x02000001, (1u << 7) | (1u << 21), 0, 0, 0 };
		if (setxattr(argv[2], "security.capability", cap, sizeof(cap), 0) < 0) {
			fprintf(stderr, "hosttool: setcap %s: %s\n", argv[2], strerror(errno));
			return 2;
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "sleep") == 0) {
		signal(SIGTERM, on_term);
		time_t end = time(NULL) + atoi(argv[2]);
		while (!stop && time(NULL) < end)
			usleep(100000);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "storm") == 0)
		return storm((pid_t)atoi(argv[2]), atol(argv[3]), argc - 4, argv + 4);
	if (argc == 4 && strcmp(argv[1], "ctl") == 0)
		return ctl(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "ulisten") == 0)
		return ulisten(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: hosttool race|listen|ulisten|setcap|sleep|storm|ctl ...\n");
	return 2;
}
