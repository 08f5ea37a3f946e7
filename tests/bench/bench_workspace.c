/* bench-workspace driver: times the workspace's commit and discard on
 * trees it makes itself (as root: the commit chowns). Figures only.
 *
 *   bench_workspace discard DIR NFILES TOTAL_MIB
 *       an upper of NFILES files (100 per dir) totalling TOTAL_MIB of real
 *       data (written, not fallocated or sparse, and synced: the blocks
 *       are allocated and on disk, as a run's output would be), then
 *       cx_ws_discard of the run dir, as calyx-exec rolls a run back;
 *       prints the time until cx_ws_discard returns, then the time the
 *       detached deleter takes to empty STATE/trash.
 *   bench_workspace commit DIR NFILES FILE_BYTES [CHANGED_PCT]
 *       a host tree and an upper of NFILES files of FILE_BYTES (100 per
 *       dir); CHANGED_PCT % of them (default 10) exist on the host with
 *       other content (so they are packed), the rest are new; synced;
 *       prints the time of cx_ws_commit (scan, pack, journal, apply with
 *       its two syncfs, done), files/s and MB/s (MB = 10^6 bytes
 *       committed), then the time of undoing it.
 * DIR must not exist; it is removed afterwards. Syncs are syncfs() of
 * DIR's file system: sync() would also wait for whatever else the host
 * has dirty, which is not the bench's to time or to wait for. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calyx/workspace.h"

#define KEY "feedfacefeedfacefeedfacefeedface"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void mkdirs(const char *p)
{
	if (mkdir(p, 0755) < 0)
		die(p);
}

static char *cat(const char *a, const char *b)
{
	char *p;
	if (asprintf(&p, "%s/%s", a, b) < 0)
		die("asprintf");
	return p;
}

/* NFILES files of `size` bytes under root in dirs of 100: d000/f00 … */
static void fill(const char *root, long nfiles, long size, long from, long to, unsigned salt)
{
	char *buf = malloc((size_t)(size > 0 ? size : 1));
	if (!buf)
		die("malloc");
	for (long i = 0; i < size; i++)
		buf[i] = (char)('a' + (i * 7 + salt) % 26);
	for (long i = from; i < to && i < nfiles; i++) {
		char p[4096];
		int fd;
		snprintf(p, sizeof(p), "%s/d%04ld", root, i / 100);
		if (i % 100 == 0 || i == from)
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				die(p);
		snprintf(p, sizeof(p), "%s/d%04ld/f%02ld", root, i / 100, i % 100);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die(p);
		memcpy(buf, &i, sizeof(i) < (size_t)size ? sizeof(i) : (size_t)size);
		if (size && write(fd, buf, (size_t)size) != size)
			die("write");
		close(fd);
	}
	free(buf);
}

/* flush DIR's file system, only it (see the header) */
static void sync_fs(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die(dir);
	if (syncfs(fd) < 0)
		die("syncfs");
	close(fd);
}

static int rm_rf(const char *p)
{
	char *argv[] = { "rm", "-rf", "--one-file-system", (char *)p, NULL };
	pid_t pid = fork();
	int st;
	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return st;
}

static bool dir_empty(const char *p)
{
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;
	if (!d)
		return true;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n == 0;
}

typedef struct layout {
	char *base, *host, *state, *runs, *run_dir, *tree, *upper, *work, *packs, *pack, *journal,
		*trash, *locks;
	cx_ws_dirs ws; /* {trash, locks}, as calyx-exec's state dir hands them */
} layout;

static void make_layout(layout *l, const char *base)
{
	l->base = strdup(base);
	mkdirs(base);
	l->host = cat(base, "host");
	l->state = cat(base, "state");
	l->runs = cat(l->state, "runs");
	l->run_dir = cat(l->runs, KEY);
	l->tree = cat(l->run_dir, "tree0");
	l->upper = cat(l->tree, "upper");
	l->work = cat(l->tree, "work");
	l->packs = cat(l->state, "packs");
	l->pack = cat(l->packs, KEY);
	l->journal = cat(l->run_dir, "journal.json");
	l->trash = cat(l->state, "trash");
	l->locks = cat(l->state, "locks");
	l->ws = (cx_ws_dirs){ .trash = l->trash, .locks = l->locks };
	mkdirs(l->host);
	mkdirs(l->state);
	mkdirs(l->runs);
	mkdirs(l->run_dir);
	mkdirs(l->tree);
	mkdirs(l->upper);
	mkdirs(l->work);
	mkdirs(l->packs);
}

static int bench_discard(const char *base, long nfiles, long mib)
{
	layout l;
	cx_error err = { 0 };
	long size = (long)((mib << 20) / (nfiles ? nfiles : 1));
	double t0, t1, t2;

	make_layout(&l, base);
	fill(l.upper, nfiles, size, 0, nfiles, 1);
	sync_fs(base);
	t0 = now_s();
	if (cx_ws_discard(&l.ws, l.run_dir, &err) < 0) {
		fprintf(stderr, "discard: %s\n", err.msg);
		return 1;
	}
	t1 = now_s();
	while (!dir_empty(l.trash) && now_s() - t1 < 600) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	t2 = now_s();
	printf("discard  %6ld files %7.1f MiB   returned after %8.2f ms   background delete %8.0f ms\n",
	       nfiles, (double)size * (double)nfiles / (1 << 20), (t1 - t0) * 1e3, (t2 - t1) * 1e3);
	rm_rf(base);
	return 0;
}

static int bench_commit(const char *base, long nfiles, long size, long pct)
{
	layout l;
	cx_error err = { 0 };
	cx_ws_report rep = { 0 };
	cx_ws_tree t;
	long changed = nfiles * pct / 100;
	double t0, t1, t2;

	make_layout(&l, base);
	fill(l.host, nfiles, size, 0, changed, 2);  /* pre-images */
	fill(l.upper, nfiles, size, 0, nfiles, 3);  /* the run's files */
	sync_fs(base);
	t = (cx_ws_tree){ .host_path = l.host, .upper = l.upper };
	t0 = now_s();
	if (cx_ws_commit(&l.ws, &t, 1, KEY, "bench", l.pack, l.journal, &rep, &err) < 0) {
		fprintf(stderr, "commit: %s\n", err.msg);
		return 1;
	}
	t1 = now_s();
	if (cx_ws_undo(&l.ws, l.pack, false, &err) < 0) {
		fprintf(stderr, "undo: %s\n", err.msg);
		return 1;
	}
	t2 = now_s();
	printf("commit   %6ld files x %9ld B (%3ld%% changed)   %8.1f ms   %9.0f files/s   %7.1f MB/s   (undo %7.1f ms)\n",
	       nfiles, size, pct, (t1 - t0) * 1e3, (double)nfiles / (t1 - t0),
	       (double)rep.bytes / 1e6 / (t1 - t0), (t2 - t1) * 1e3);
	rm_rf(base);
	return 0;
}

static long num(const char *s)
{
	char *e;
	long v = strtol(s, &e, 10);
	if (*s == '\0' || *e || v < 0)
		die(s);
	return v;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "discard") == 0)
		return bench_discard(argv[2], num(argv[3]), num(argv[4]));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "commit") == 0)
		return bench_commit(argv[2], num(argv[3]), num(argv[4]), argc == 6 ? num(argv[5]) : 10);
	fprintf(stderr, "usage: bench_workspace discard DIR NFILES TOTAL_MIB\n"
			"       bench_workspace commit DIR NFILES FILE_BYTES [CHANGED_PCT]\n");
	return 2;
}
