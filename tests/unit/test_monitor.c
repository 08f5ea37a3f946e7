/* Unit tests: the monitor's pure pieces and its cgroup backends on fake
 * trees.
 *
 * - cgroup-file parsers (cx_cg_parse_u64 / cx_cg_parse_keyed)
 * - the polling enforcer's CPU fence arithmetic (cx_cpu_fence_quota)
 * - each backend (v2, hybrid, v1) pointed with cx_cg_open_at at a temp
 *   dir holding the files the kernel would have: the exact bytes written
 *   to limit/control files, and what is parsed back from stat files.
 *
 * Fake-tree caveat: these are regular files, not cgroupfs. The backend's
 * writer (write_at in monitor/cgroup.c) opens with O_WRONLY and no
 * O_TRUNC, which is right for cgroupfs (each write is one command) but on
 * a regular file a shorter write leaves the old tail behind. So every
 * control file is reset to empty before the operation under test and the
 * exact content is asserted afterwards.
 * The live kernel side (real cgroups, BPF, halts) is covered by
 * tests/integration/monitor.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include "calyx/monitor.h"
#include "testutil.h"

#define NAME "run-1-2-abc"

/* ---- parsers --------------------------------------------------------- */

static int pu(const char *s, uint64_t *v)
{
	*v = 4242; /* must stay untouched on failure */
	return cx_cg_parse_u64(s, strlen(s), v);
}

static void parse_u64_valid(void **st)
{
	uint64_t v;
	(void)st;
	assert_int_equal(pu("123\n", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(pu("0\n", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pu("987654321", &v), 0); /* no trailing newline */
	assert_int_equal(v, 987654321);
	assert_int_equal(pu("18446744073709551615\n", &v), 0); /* UINT64_MAX itself */
	assert_true(v == UINT64_MAX);
	assert_int_equal(pu("000042\n", &v), 0);
	assert_int_equal(v, 42);
	/* bounded: only len bytes are looked at */
	assert_int_equal(cx_cg_parse_u64("123456", 3, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(cx_cg_parse_u64("77\nXX", 3, &v), 0);
	assert_int_equal(v, 77);
}

static void parse_u64_max(void **st)
{
	uint64_t v;
	(void)st;
	assert_int_equal(pu("max\n", &v), 0);
	assert_true(v == CX_CG_UNLIMITED);
	v = 0;
	assert_int_equal(pu("max", &v), 0);
	assert_true(v == CX_CG_UNLIMITED);
	/* "max" must be the whole value */
	assert_int_equal(pu("maxi\n", &v), -EINVAL);
	assert_int_equal(v, 4242);
	assert_int_equal(pu("max 100000\n", &v), -EINVAL); /* cpu.max is not one value */
	assert_int_equal(pu("Max\n", &v), -EINVAL);
	assert_int_equal(cx_cg_parse_u64("max", 2, &v), -EINVAL); /* "ma" */
}

static void parse_u64_overflow(void **st)
{
	uint64_t v;
	(void)st;
	assert_int_equal(pu("18446744073709551616\n", &v), -ERANGE);
	assert_int_equal(v, 4242);
	assert_int_equal(pu("99999999999999999999\n", &v), -ERANGE);
	assert_int_equal(pu("184467440737095516150\n", &v), -ERANGE);
	assert_int_equal(pu("1000000000000000000000000000000000000000", &v), -ERANGE);
	assert_int_equal(v, 4242);
}

static void parse_u64_junk(void **st)
{
	static const char *const bad[] = { "", "\n", "12a\n", " 12\n", "12 \n", "-1\n", "+1\n",
					   "1 2\n", "12\n\n", "12\n3", "0x10\n", "1.5\n", "\t7\n",
					   "max\n\n" };
	uint64_t v;
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		int r = pu(bad[i], &v);
		if (r != -EINVAL)
			fail_msg("cx_cg_parse_u64(\"%s\") = %d, expected -EINVAL", bad[i], r);
		assert_int_equal(v, 4242);
	}
	/* an embedded NUL is junk too */
	assert_int_equal(cx_cg_parse_u64("12\0" "3\n", 5, &v), -EINVAL);
}

static int pk(const char *s, const char *key, uint64_t *v)
{
	*v = 4242;
	return cx_cg_parse_keyed(s, strlen(s), key, v);
}

static void parse_keyed_valid(void **st)
{
	const char *cpu = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n"
			  "nr_throttled 0\nthrottled_usec 0\n";
	uint64_t v;
	(void)st;
	assert_int_equal(pk(cpu, "usage_usec", &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(pk(cpu, "user_usec", &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(pk(cpu, "system_usec", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(pk(cpu, "throttled_usec", &v), 0);
	assert_int_equal(v, 0);
	/* blank and junk lines before the key are skipped; first match wins */
	assert_int_equal(pk("\n\njunk\nx 1\nx 2\n", "x", &v), 0);
	assert_int_equal(v, 1);
	/* "max" as a value */
	assert_int_equal(pk("limit max\n", "limit", &v), 0);
	assert_true(v == CX_CG_UNLIMITED);
	/* bounded: the key on the line cut by len is not seen */
	assert_int_equal(cx_cg_parse_keyed("a 1\nb 2\n", 5, "b", &v), -ENOENT);
	assert_int_equal(cx_cg_parse_keyed("a 1\nb 2\n", 7, "b", &v), 0);
	assert_int_equal(v, 2);
}

static void parse_keyed_missing(void **st)
{
	uint64_t v;
	(void)st;
	assert_int_equal(pk("", "oom", &v), -ENOENT);
	assert_int_equal(pk("\n", "oom", &v), -ENOENT);
	assert_int_equal(pk("low 0\nhigh 0\nmax 3\n", "oom", &v), -ENOENT);
	assert_int_equal(v, 4242);
	/* the key alone on a line, no value: not this key's line */
	assert_int_equal(pk("oom\n", "oom", &v), -ENOENT);
	assert_int_equal(pk("oom", "oom", &v), -ENOENT);
	/* the key in the middle of a line does not count */
	assert_int_equal(pk("xoom 3\n", "oom", &v), -ENOENT);
	assert_int_equal(pk("a oom 3\n", "oom", &v), -ENOENT);
	/* case matters */
	assert_int_equal(pk("OOM 3\n", "oom", &v), -ENOENT);
}

static void parse_keyed_prefix(void **st)
{
	/* memory.events: "oom" is a prefix of "oom_kill" and "oom_group_kill" */
	const char *ev = "low 0\nhigh 0\nmax 12\noom_kill 5\noom_group_kill 1\noom 2\n";
	uint64_t v;
	(void)st;
	assert_int_equal(pk(ev, "oom", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(pk(ev, "oom_kill", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(pk(ev, "oom_group_kill", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(pk(ev, "max", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(pk("oom_kill 5\noom_group_kill 1\n", "oom", &v), -ENOENT);
	/* memory.oom_control: "oom_kill" is a prefix of "oom_kill_disable" */
	assert_int_equal(pk("oom_kill_disable 1\nunder_oom 0\noom_kill 7\n", "oom_kill", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(pk("oom_kill_disable 1\nunder_oom 0\n", "oom_kill", &v), -ENOENT);
	/* pids.events on newer kernels: "max" and "max.imposed" */
	assert_int_equal(pk("max.imposed 9\nmax 3\n", "max", &v), 0);
	assert_int_equal(v, 3);
	/* a longer key is not found in a shorter one */
	assert_int_equal(pk("oom 2\n", "oom_kill", &v), -ENOENT);
}

static void parse_keyed_no_trailing_newline(void **st)
{
	uint64_t v;
	(void)st;
	assert_int_equal(pk("populated 1", "populated", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(pk("populated 0\nfrozen 1", "frozen", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(pk("a 1\nb max", "b", &v), 0);
	assert_true(v == CX_CG_UNLIMITED);
}

static void parse_psi(void **st)
{
	const char f[] = "some avg10=0.00 avg60=1.50 avg300=0.00 total=123456\n"
			 "full avg10=0.00 avg60=0.00 avg300=0.00 total=789\n";
	uint64_t v = 0;
	(void)st;
	assert_int_equal(cx_cg_parse_psi_total(f, strlen(f), "some", &v), 0);
	assert_int_equal(v, 123456);
	assert_int_equal(cx_cg_parse_psi_total(f, strlen(f), "full", &v), 0);
	assert_int_equal(v, 789);
	/* missing line, missing total, junk in the number, only len bytes */
	assert_int_equal(cx_cg_parse_psi_total(f, 40, "full", &v), -ENOENT);
	const char nototal[] = "some avg10=0.00\n";
	assert_int_equal(cx_cg_parse_psi_total(nototal, strlen(nototal), "some", &v), -EINVAL);
	const char junk[] = "some avg10=0.00 total=12x\n";
	assert_int_equal(cx_cg_parse_psi_total(junk, strlen(junk), "some", &v), -EINVAL);
	const char prefix[] = "something total=5\nsome total=6\n";
	assert_int_equal(cx_cg_parse_psi_total(prefix, strlen(prefix), "some", &v), 0);
	assert_int_equal(v, 6);
}

static void parse_keyed_junk(void **st)
{
	static const char *const bad[] = { "a 12x\n", "a \n", "a -1\n", "a 12 \n", "a  12\n",
					   "a 18446744073709551616\n", "a maxx\n", "a 1.5\n",
					   "a 0x1\n", "a 1 2\n" };
	uint64_t v;
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		int r = pk(bad[i], "a", &v);
		if (r != -EINVAL)
			fail_msg("cx_cg_parse_keyed(\"%s\", \"a\") = %d, expected -EINVAL", bad[i], r);
		assert_int_equal(v, 4242);
	}
	/* junk on another key's line does not matter */
	assert_int_equal(pk("b zz\na 5\n", "a", &v), 0);
	assert_int_equal(v, 5);
}

/* ---- CPU fence arithmetic ------------------------------------------------ */

static void fence_far_from_budget(void **st)
{
	(void)st;
	/* 60 s budget, 10 ms periods: 64 periods (640 ms) away is "far" */
	assert_int_equal(cx_cpu_fence_quota(60000000, 0, 10000), 0);
	assert_int_equal(cx_cpu_fence_quota(60000000, 59000000, 10000), 0);
	assert_int_equal(cx_cpu_fence_quota(10000000, 10000000 - 640000, 10000), 0); /* exactly 64 */
	/* one microsecond closer: fenced */
	assert_int_equal(cx_cpu_fence_quota(10000000, 10000000 - 639999, 10000), 639999 / 2);
}

static void fence_half_of_what_is_left(void **st)
{
	(void)st;
	/* a 300 ms budget is never "far" with 10 ms periods */
	assert_int_equal(cx_cpu_fence_quota(300000, 0, 10000), 150000);
	assert_int_equal(cx_cpu_fence_quota(300000, 200000, 10000), 50000);
	assert_int_equal(cx_cpu_fence_quota(300000, 290000, 10000), 5000);
	assert_int_equal(cx_cpu_fence_quota(300000, 299000, 10000), 1000); /* 500: raised */
	/* the fence never lets a poll period use more than half of what is left */
	for (uint64_t used = 0; used < 300000; used += 997) {
		uint64_t q = cx_cpu_fence_quota(300000, used, 10000), left = 300000 - used;
		assert_true(q >= 1000);
		if (left >= 2000)
			assert_true(q <= left / 2);
	}
}

static void fence_minimum(void **st)
{
	(void)st;
	/* the kernel's minimum cpu.max quota is 1000 us */
	assert_int_equal(cx_cpu_fence_quota(300000, 298001, 10000), 1000); /* left 1999 */
	assert_int_equal(cx_cpu_fence_quota(300000, 298000, 10000), 1000); /* left 2000 */
	assert_int_equal(cx_cpu_fence_quota(300000, 297998, 10000), 1001); /* left 2002 */
	assert_int_equal(cx_cpu_fence_quota(300000, 299999, 10000), 1000); /* left 1 */
	assert_int_equal(cx_cpu_fence_quota(1500, 0, 10000), 1000);
}

static void fence_spent(void **st)
{
	(void)st;
	assert_int_equal(cx_cpu_fence_quota(300000, 300000, 10000), 1000);
	assert_int_equal(cx_cpu_fence_quota(300000, 400000, 10000), 1000);
	assert_int_equal(cx_cpu_fence_quota(0, 0, 10000), 1000);
	assert_int_equal(cx_cpu_fence_quota(300000, UINT64_MAX, 10000), 1000);
}

/* ---- fake trees -------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

/* The workspace quota from a statfs of the scratch tmpfs: usage in bytes
 * and in the run's own inodes (calyx's dirs not counted), bytes first. */
static struct statfs sf_of(uint64_t blocks, uint64_t bfree, uint64_t files, uint64_t ffree)
{
	struct statfs sf;
	memset(&sf, 0, sizeof(sf));
	sf.f_bsize = 4096;
	sf.f_blocks = blocks;
	sf.f_bfree = sf.f_bavail = bfree;
	sf.f_files = files;
	sf.f_ffree = ffree;
	return sf;
}

static void disk_quota_eval(void **st)
{
	/* 1 MiB and 64 inodes, 11 of the tmpfs's inodes are calyx's */
	const cx_disk_quota q = { .fd = -1, .bytes = 1 << 20, .inodes = 64, .inodes_base = 11 };
	cx_disk_usage u;
	struct statfs sf;
	(void)st;

	sf = sf_of(256, 250, 75, 60); /* 6 pages, 15 - 11 = 4 inodes */
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_OK);
	assert_int_equal(u.bytes, 6 * 4096);
	assert_int_equal(u.inodes, 4);
	sf = sf_of(256, 0, 75, 60); /* the kernel refuses the next page */
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_FULL_BYTES);
	assert_int_equal(u.bytes, 1 << 20);
	sf = sf_of(256, 1, 75, 0); /* and the next inode */
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_FULL_INODES);
	assert_int_equal(u.inodes, 64);
	sf = sf_of(256, 0, 75, 0); /* both: bytes named first */
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_FULL_BYTES);
	sf = sf_of(512, 200, 200, 100); /* a bigger tmpfs: the quota still counts */
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_FULL_BYTES);
	sf = sf_of(512, 500, 200, 100);
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_FULL_INODES);
	assert_int_equal(u.inodes, 89);
	/* nothing of the run's yet; counters that make no sense saturate */
	sf = sf_of(256, 300, 75, 70);
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_OK);
	assert_int_equal(u.bytes, 0);
	assert_int_equal(u.inodes, 0);
	/* a file system without caps (f_blocks/f_files 0) is not "full" */
	sf = sf_of(0, 0, 0, 0);
	assert_int_equal(cx_disk_eval(&sf, &q, &u), CX_DISK_OK);
	assert_string_equal(cx_halt_name(CX_HALT_DISK), "disk");
	assert_string_equal(cx_halt_name(CX_HALT_EXECS), "execs");
}

/* cx_disk_read on a real directory's fd (whatever file system): usage is
 * read, an fd that is not open is an error. */
static void disk_quota_read(void **st)
{
	char *dir = tu_tmpdir();
	cx_disk_quota q = { .fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
	cx_disk_usage u;
	cx_disk_full full;
	(void)st;

	assert_true(q.fd >= 0);
	assert_int_equal(cx_disk_read(&q, &u, &full), 0);
	close(q.fd);
	q.fd = -1;
	assert_int_equal(cx_disk_read(&q, &u, &full), -EBADF);
	tu_rmtree(dir);
	free(dir);
}

static void mkdirp(const char *path)
{
	char b[4096];
	snprintf(b, sizeof(b), "%s", path);
	for (char *p = b + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(b, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", b, strerror(errno));
		*p = '/';
	}
	if (mkdir(b, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", b, strerror(errno));
}

__attribute__((noinline)) static char *path_of(const char *root, const char *rel)
{
	char *p;
	CX_CHECK(asprintf(&p, "%s/%s", root, rel) > 0);
	return p;
}

/* put ROOT REL CONTENT: (re)create the file (parents too) with exactly CONTENT. */
static void put(const char *root, const char *rel, const char *content)
{
	char *p = path_of(root, rel), *dir = cx_strdup(p);
	size_t cut = (size_t)(strrchr(p, '/') - p);
	dir[cut] = '\0';
	mkdirp(dir);
	free(dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("create %s: %s", p, strerror(errno));
	size_t n = strlen(content);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	close(fd);
	free(p);
}

static void mkdir_rel(const char *root, const char *rel)
{
	char *p = path_of(root, rel);
	mkdirp(p);
	free(p);
}

static void rmdir_rel(const char *root, const char *rel)
{
	char *p = path_of(root, rel);
	rmdir(p);
	free(p);
}

static void rm(const char *root, const char *rel)
{
	char *p = path_of(root, rel);
	unlink(p);
	free(p);
}

static bool exists(const char *root, const char *rel)
{
	char *p = path_of(root, rel);
	bool r = access(p, F_OK) == 0;
	free(p);
	return r;
}

/* The whole content of ROOT/REL (static buffer). */
static const char *get(const char *root, const char *rel)
{
	static char b[4096];
	char *p = path_of(root, rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	n = read(fd, b, sizeof(b) - 1);
	assert_true(n >= 0);
	b[n] = '\0';
	close(fd);
	free(p);
	return b;
}

#define ASSERT_FILE(root, rel, want) assert_string_equal(get(root, rel), want)

/* Directory prefix (relative to ROOT) of the run in each hierarchy. */
#define U2 "calyx/" NAME "/"               /* v2 */
#define HU "unified/calyx/" NAME "/"       /* hybrid unified */
#define HM "memory/calyx/" NAME "/"
#define HP "pids/calyx/" NAME "/"
#define HC "cpu/calyx/" NAME "/"
#define HA "cpuacct/calyx/" NAME "/"
#define HF "freezer/calyx/" NAME "/"

typedef struct fake {
	cx_cg_layout layout;
	char *root;
	cx_cgroup *cg;
} fake;

static const char V2_CPU_STAT[] = "usage_usec 301234\nuser_usec 290000\nsystem_usec 11234\n"
				  "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
				  "nr_bursts 0\nburst_usec 0\n";
static const char V1_OOM_CONTROL[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n";

static void build_v2(const char *r)
{
	/* limit / control files: empty, so what the backend writes is exact */
	static const char *const empty[] = { "memory.max", "memory.swap.max", "memory.oom.group",
					     "pids.max", "cpu.max", "cgroup.freeze", "cgroup.kill",
					     "cgroup.procs" };
	char rel[256];
	for (size_t i = 0; i < CX_ARRAY_SIZE(empty); i++) {
		snprintf(rel, sizeof(rel), U2 "%s", empty[i]);
		put(r, rel, "");
	}
	put(r, U2 "cpu.stat", V2_CPU_STAT);
	put(r, U2 "memory.current", "1048576\n");
	put(r, U2 "memory.peak", "67108864\n");
	put(r, U2 "pids.current", "3\n");
	put(r, U2 "pids.peak", "64\n");
	put(r, U2 "pids.events", "max 17\n");
	put(r, U2 "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
	put(r, U2 "cgroup.events", "populated 1\nfrozen 0\n");
}

/* v1 controllers (hybrid and v1). */
static void build_v1_controllers(const char *r)
{
	put(r, HM "memory.limit_in_bytes", "");
	put(r, HM "memory.memsw.limit_in_bytes", "");
	put(r, HM "memory.swappiness", "");
	put(r, HM "memory.oom_control", V1_OOM_CONTROL);
	put(r, HM "cgroup.event_control", "");
	put(r, HM "memory.usage_in_bytes", "2097152\n");
	put(r, HM "memory.max_usage_in_bytes", "33554432\n");
	put(r, HM "cgroup.procs", "");
	put(r, HM "tasks", "");
	put(r, HP "pids.max", "");
	put(r, HP "pids.current", "5\n");
	put(r, HP "pids.events", "max 9\n");
	put(r, HP "cgroup.procs", "");
	put(r, HP "tasks", "");
	put(r, HC "cpu.cfs_period_us", "");
	put(r, HC "cpu.cfs_quota_us", "");
	put(r, HC "cgroup.procs", "");
	put(r, HC "tasks", "");
	put(r, HA "cpuacct.usage", "1234567890\n"); /* ns */
	put(r, HA "cpuacct.stat", "user 100\nsystem 23\n");
	put(r, HA "cgroup.procs", "");
	put(r, HA "tasks", "");
}

static void build_hybrid(const char *r)
{
	build_v1_controllers(r);
	put(r, HU "cgroup.events", "populated 1\nfrozen 0\n");
	put(r, HU "cgroup.freeze", "");
	put(r, HU "cgroup.kill", "");
	put(r, HU "cgroup.procs", "");
	put(r, HU "cpu.stat", V2_CPU_STAT);
}

static void build_v1(const char *r)
{
	build_v1_controllers(r);
	put(r, HF "freezer.state", "");
	put(r, HF "cgroup.procs", "");
	put(r, HF "tasks", "");
}

static int open_root(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void fake_open(fake *f, cx_cg_layout layout)
{
	cx_error err = { 0 };
	f->layout = layout;
	f->root = tu_tmpdir();
	f->cg = NULL;
	if (layout == CX_CG_V2)
		build_v2(f->root);
	else if (layout == CX_CG_HYBRID)
		build_hybrid(f->root);
	else
		build_v1(f->root);
	int r = cx_cg_open_at(layout, open_root(f->root), "calyx", &f->cg, &err);
	if (r < 0)
		fail_msg("cx_cg_open_at(%s): %s", cx_cg_layout_name(layout), err.msg);
	assert_int_equal(cx_cg_layout_of(f->cg), layout);
	r = cx_cg_adopt(f->cg, NAME, &err);
	if (r < 0)
		fail_msg("cx_cg_adopt(%s): %s", cx_cg_layout_name(layout), err.msg);
}

static void fake_close(fake *f)
{
	cx_cg_close(f->cg);
	tu_rmtree(f->root);
	free(f->root);
}

static void layout_names(void **st)
{
	(void)st;
	assert_string_equal(cx_cg_layout_name(CX_CG_V2), "v2");
	assert_string_equal(cx_cg_layout_name(CX_CG_HYBRID), "hybrid");
	assert_string_equal(cx_cg_layout_name(CX_CG_V1), "v1");
	assert_string_equal(cx_cg_layout_name(CX_CG_NONE), "none");
	assert_string_equal(cx_halt_name(CX_HALT_CPU), "cpu");
	assert_string_equal(cx_halt_name(CX_HALT_MEMORY), "memory");
	assert_string_equal(cx_halt_name(CX_HALT_PIDS), "pids");
	assert_string_equal(cx_halt_name(CX_HALT_WALL), "wall");
	assert_string_equal(cx_halt_name(CX_HALT_OPERATOR), "operator");
	assert_string_equal(cx_halt_name(CX_HALT_NONE), "none");
}

/* Opening refuses what cannot work, and an open/adopt/close cycle on each
 * layout leaves no fd behind. */
static void open_refusals_and_no_fd_leak(void **st)
{
	cx_error err = { 0 };
	cx_cgroup *cg = NULL;
	char *root = tu_tmpdir();
	int before = count_fds(), fd;
	(void)st;

	fd = open_root(root);
	assert_true(cx_cg_open_at(CX_CG_NONE, fd, "calyx", &cg, &err) < 0);
	assert_int_equal(err.reason, CX_E_LAYER);
	assert_int_equal(count_fds(), before); /* took ownership of the fd */

	/* hybrid / v1 without the memory controller: refused */
	put(root, "pids/calyx/.keep", "");
	put(root, "unified/.keep", "");
	put(root, "freezer/.keep", "");
	assert_true(cx_cg_open_at(CX_CG_HYBRID, open_root(root), "calyx", &cg, &err) < 0);
	assert_int_equal(err.reason, CX_E_LAYER);
	assert_non_null(strstr(err.msg, "memory"));
	assert_true(cx_cg_open_at(CX_CG_V1, open_root(root), "calyx", &cg, &err) < 0);
	assert_non_null(strstr(err.msg, "memory"));
	/* v1 without the freezer (its membership hierarchy): refused */
	put(root, "memory/.keep", "");
	rm(root, "freezer/.keep");
	rmdir_rel(root, "freezer");
	assert_true(cx_cg_open_at(CX_CG_V1, open_root(root), "calyx", &cg, &err) < 0);
	assert_non_null(strstr(err.msg, "freezer"));
	/* hybrid without the unified mount: refused */
	rm(root, "unified/.keep");
	rmdir_rel(root, "unified");
	assert_true(cx_cg_open_at(CX_CG_HYBRID, open_root(root), "calyx", &cg, &err) < 0);
	assert_non_null(strstr(err.msg, "unified"));
	assert_int_equal(count_fds(), before);
	tu_rmtree(root);
	free(root);

	/* a full cycle on every layout */
	static const cx_cg_layout ls[] = { CX_CG_V2, CX_CG_HYBRID, CX_CG_V1 };
	for (size_t i = 0; i < CX_ARRAY_SIZE(ls); i++) {
		fake f;
		fake_open(&f, ls[i]);
		assert_true(count_fds() > before);
		fake_close(&f);
		if (count_fds() != before)
			fail_msg("%s: %d fds open after close, %d before", cx_cg_layout_name(ls[i]),
				 count_fds(), before);
	}
}

static void adopt_checks_name_and_presence(void **st)
{
	cx_error err = { 0 };
	cx_cgroup *cg = NULL;
	char *root = tu_tmpdir();
	(void)st;
	build_v2(root);
	static const char *const bad[] = { "", ".", "..", "../x", "a/b", "Run-1", "run 1", "run\n1" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		assert_int_equal(cx_cg_open_at(CX_CG_V2, open_root(root), "calyx", &cg, &err), 0);
		if (cx_cg_adopt(cg, bad[i], &err) >= 0)
			fail_msg("cx_cg_adopt accepted the name '%s'", bad[i]);
		cx_cg_close(cg);
	}
	/* a name that is not there */
	assert_int_equal(cx_cg_open_at(CX_CG_V2, open_root(root), "calyx", &cg, &err), 0);
	assert_true(cx_cg_adopt(cg, "run-9-9-nothere", &err) < 0);
	assert_int_equal(err.errnum, ENOENT);
	cx_cg_close(cg);
	/* v2 without memory.events cannot arm its memory event */
	rm(root, U2 "memory.events");
	assert_int_equal(cx_cg_open_at(CX_CG_V2, open_root(root), "calyx", &cg, &err), 0);
	assert_true(cx_cg_adopt(cg, NAME, &err) < 0);
	assert_non_null(strstr(err.msg, "memory.events"));
	cx_cg_close(cg);
	tu_rmtree(root);
	free(root);
}

/* ---- set_limits: the exact bytes ------------------------------------ */

static void v2_set_limits(void **st)
{
	fake f;
	cx_error err = { 0 };
	(void)st;
	fake_open(&f, CX_CG_V2);
	cx_cg_limits lim = { .memory_bytes = 64ull << 20, .pids = 64 };
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	ASSERT_FILE(f.root, U2 "memory.max", "67108864");
	ASSERT_FILE(f.root, U2 "memory.swap.max", "0");
	ASSERT_FILE(f.root, U2 "memory.oom.group", "1");
	ASSERT_FILE(f.root, U2 "pids.max", "64");
	ASSERT_FILE(f.root, U2 "cpu.max", ""); /* limits never touch the CPU */

	/* big values are written in full */
	put(f.root, U2 "memory.max", "");
	lim.memory_bytes = 17179869184ull; /* 16 GiB */
	lim.pids = 4194304;
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	ASSERT_FILE(f.root, U2 "memory.max", "17179869184");

	/* 0: no limit, the file is not written; swap and oom.group always are */
	static const char *const files[] = { U2 "memory.max", U2 "memory.swap.max",
					     U2 "memory.oom.group", U2 "pids.max" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(files); i++)
		put(f.root, files[i], "");
	lim = (cx_cg_limits){ 0 };
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	ASSERT_FILE(f.root, U2 "memory.max", "");
	ASSERT_FILE(f.root, U2 "pids.max", "");
	ASSERT_FILE(f.root, U2 "memory.swap.max", "0");
	ASSERT_FILE(f.root, U2 "memory.oom.group", "1");

	/* no swap accounting (memory.swap.max absent): fine */
	rm(f.root, U2 "memory.swap.max");
	lim = (cx_cg_limits){ .memory_bytes = 1 << 20, .pids = 8 };
	put(f.root, U2 "memory.max", "");
	put(f.root, U2 "pids.max", "");
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	ASSERT_FILE(f.root, U2 "memory.max", "1048576");
	ASSERT_FILE(f.root, U2 "pids.max", "8");
	assert_false(exists(f.root, U2 "memory.swap.max"));

	/* without memory.oom.group a breach would not kill the whole tree:
	 * refused */
	rm(f.root, U2 "memory.oom.group");
	assert_true(cx_cg_set_limits(f.cg, &lim, &err) < 0);
	assert_int_equal(err.reason, CX_E_SPAWN);
	assert_non_null(strstr(err.msg, "memory.oom.group"));
	/* nor without the controller's files */
	put(f.root, U2 "memory.oom.group", "");
	rm(f.root, U2 "pids.max");
	assert_true(cx_cg_set_limits(f.cg, &lim, &err) < 0);
	assert_non_null(strstr(err.msg, "pids.max"));
	rm(f.root, U2 "memory.max");
	assert_true(cx_cg_set_limits(f.cg, &lim, &err) < 0);
	assert_non_null(strstr(err.msg, "memory.max"));
	fake_close(&f);
}

static void v1_style_set_limits(cx_cg_layout layout)
{
	fake f;
	cx_error err = { 0 };
	fake_open(&f, layout);
	cx_cg_limits lim = { .memory_bytes = 64ull << 20, .pids = 64 };
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	ASSERT_FILE(f.root, HM "memory.limit_in_bytes", "67108864");
	ASSERT_FILE(f.root, HM "memory.memsw.limit_in_bytes", "67108864"); /* no swap past it */
	ASSERT_FILE(f.root, HM "memory.swappiness", "0");
	ASSERT_FILE(f.root, HP "pids.max", "64");
	ASSERT_FILE(f.root, HC "cpu.cfs_quota_us", "");
	ASSERT_FILE(f.root, HC "cpu.cfs_period_us", "");
	if (layout == CX_CG_HYBRID) {
		/* nothing limit-like is written to the unified side */
		ASSERT_FILE(f.root, HU "cgroup.freeze", "");
		ASSERT_FILE(f.root, HU "cgroup.kill", "");
		assert_false(exists(f.root, HU "memory.max"));
		assert_false(exists(f.root, HU "pids.max"));
	}

	/* 0: nothing written at all */
	static const char *const files[] = { HM "memory.limit_in_bytes", HM "memory.memsw.limit_in_bytes",
					     HM "memory.swappiness", HP "pids.max" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(files); i++)
		put(f.root, files[i], "");
	lim = (cx_cg_limits){ 0 };
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	for (size_t i = 0; i < CX_ARRAY_SIZE(files); i++)
		ASSERT_FILE(f.root, files[i], "");

	/* memory only */
	lim = (cx_cg_limits){ .memory_bytes = 4096 };
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	ASSERT_FILE(f.root, HM "memory.limit_in_bytes", "4096");
	ASSERT_FILE(f.root, HP "pids.max", "");

	/* no swap accounting (memsw absent) and no swappiness: fine */
	rm(f.root, HM "memory.memsw.limit_in_bytes");
	rm(f.root, HM "memory.swappiness");
	put(f.root, HM "memory.limit_in_bytes", "");
	lim = (cx_cg_limits){ .memory_bytes = 8192, .pids = 3 };
	assert_int_equal(cx_cg_set_limits(f.cg, &lim, &err), 0);
	ASSERT_FILE(f.root, HM "memory.limit_in_bytes", "8192");
	ASSERT_FILE(f.root, HP "pids.max", "3");
	/* but the limit itself must be settable */
	rm(f.root, HM "memory.limit_in_bytes");
	assert_true(cx_cg_set_limits(f.cg, &lim, &err) < 0);
	assert_non_null(strstr(err.msg, "memory.limit_in_bytes"));
	put(f.root, HM "memory.limit_in_bytes", "");
	rm(f.root, HP "pids.max");
	assert_true(cx_cg_set_limits(f.cg, &lim, &err) < 0);
	assert_non_null(strstr(err.msg, "pids.max"));
	fake_close(&f);
}

static void hybrid_set_limits(void **st)
{
	(void)st;
	v1_style_set_limits(CX_CG_HYBRID);
}

static void v1_set_limits(void **st)
{
	(void)st;
	v1_style_set_limits(CX_CG_V1);
}

/* ---- read_usage ---------------------------------------------------------- */

static void v2_read_usage(void **st)
{
	fake f;
	cx_error err = { 0 };
	cx_cg_usage u;
	(void)st;
	fake_open(&f, CX_CG_V2);
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_int_equal(u.cpu_usec, 301234);
	assert_int_equal(u.cpu_user_usec, 290000);
	assert_int_equal(u.cpu_system_usec, 11234);
	assert_int_equal(u.memory_current, 1048576);
	assert_int_equal(u.memory_peak, 67108864);
	assert_int_equal(u.pids_current, 3);
	assert_int_equal(u.pids_peak, 64);
	assert_int_equal(u.pids_refused, 17);
	assert_int_equal(u.oom_events, 0);

	/* oom and oom_kill both count; oom_group_kill is not read as "oom" */
	put(f.root, U2 "memory.events", "low 0\nhigh 4\nmax 40\noom 2\noom_kill 1\noom_group_kill 1\n");
	put(f.root, U2 "pids.events", "max.imposed 5\nmax 0\n");
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_int_equal(u.oom_events, 3);
	assert_int_equal(u.pids_refused, 0);

	/* kernels without *.peak: the highest current value seen */
	rm(f.root, U2 "memory.peak");
	rm(f.root, U2 "pids.peak");
	put(f.root, U2 "memory.current", "99999999\n"); /* above the old peak */
	put(f.root, U2 "pids.current", "70\n");
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_int_equal(u.memory_peak, 99999999);
	assert_int_equal(u.pids_peak, 70);
	put(f.root, U2 "memory.current", "4096\n");
	put(f.root, U2 "pids.current", "1\n");
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_int_equal(u.memory_current, 4096);
	assert_int_equal(u.memory_peak, 99999999);
	assert_int_equal(u.pids_current, 1);
	assert_int_equal(u.pids_peak, 70);

	/* cpu.stat is required */
	rm(f.root, U2 "cpu.stat");
	assert_true(cx_cg_read_usage(f.cg, &u, &err) < 0);
	assert_non_null(strstr(err.msg, "cpu.stat"));
	fake_close(&f);
}

static void hybrid_read_usage(void **st)
{
	fake f;
	cx_error err = { 0 };
	cx_cg_usage u;
	(void)st;
	fake_open(&f, CX_CG_HYBRID);
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	/* CPU from the unified cpu.stat, not cpuacct */
	assert_int_equal(u.cpu_usec, 301234);
	assert_int_equal(u.cpu_user_usec, 290000);
	assert_int_equal(u.cpu_system_usec, 11234);
	/* memory and pids from the v1 controllers */
	assert_int_equal(u.memory_current, 2097152);
	assert_int_equal(u.memory_peak, 33554432);
	assert_int_equal(u.pids_current, 5);
	assert_int_equal(u.pids_peak, 5); /* no pids.peak: the highest seen */
	assert_int_equal(u.pids_refused, 9);
	assert_int_equal(u.oom_events, 0);
	/* memory.oom_control's oom_kill (not oom_kill_disable) */
	put(f.root, HM "memory.oom_control", "oom_kill_disable 1\nunder_oom 1\noom_kill 4\n");
	put(f.root, HP "pids.peak", "12\n");
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_int_equal(u.oom_events, 4);
	assert_int_equal(u.pids_peak, 12);
	put(f.root, HM "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\n");
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_int_equal(u.oom_events, 0);
	fake_close(&f);
}

static void v1_read_usage(void **st)
{
	fake f;
	cx_error err = { 0 };
	cx_cg_usage u;
	long hz = sysconf(_SC_CLK_TCK);
	(void)st;
	assert_true(hz > 0);
	fake_open(&f, CX_CG_V1);
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	/* cpuacct.usage is in ns, cpuacct.stat in USER_HZ ticks */
	assert_int_equal(u.cpu_usec, 1234567);
	assert_int_equal(u.cpu_user_usec, 100 * (uint64_t)(1000000 / hz));
	assert_int_equal(u.cpu_system_usec, 23 * (uint64_t)(1000000 / hz));
	assert_int_equal(u.memory_current, 2097152);
	assert_int_equal(u.memory_peak, 33554432);
	assert_int_equal(u.pids_current, 5);
	assert_int_equal(u.pids_refused, 9);
	assert_int_equal(u.oom_events, 0);
	put(f.root, HM "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	put(f.root, HP "pids.events", "max 0\n");
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_int_equal(u.oom_events, 2);
	assert_int_equal(u.pids_refused, 0);
	/* peak below current (a racing read): at least current */
	put(f.root, HM "memory.max_usage_in_bytes", "100\n");
	put(f.root, HM "memory.usage_in_bytes", "200\n");
	assert_int_equal(cx_cg_read_usage(f.cg, &u, &err), 0);
	assert_true(u.memory_peak >= u.memory_current);
	fake_close(&f);
}

/* ---- CPU quota ----------------------------------------------------------- */

static void v2_cpu_quota(void **st)
{
	fake f;
	cx_error err = { 0 };
	(void)st;
	fake_open(&f, CX_CG_V2);
	assert_int_equal(cx_cg_set_cpu_quota(f.cg, 5000, 10000, &err), 0);
	ASSERT_FILE(f.root, U2 "cpu.max", "5000 10000");
	put(f.root, U2 "cpu.max", "");
	assert_int_equal(cx_cg_set_cpu_quota(f.cg, 150000, 10000, &err), 0);
	ASSERT_FILE(f.root, U2 "cpu.max", "150000 10000");
	put(f.root, U2 "cpu.max", "");
	assert_int_equal(cx_cg_set_cpu_quota(f.cg, 0, 10000, &err), 0); /* lift */
	ASSERT_FILE(f.root, U2 "cpu.max", "max 10000");
	put(f.root, U2 "cpu.max", "");
	assert_int_equal(cx_cg_set_cpu_quota(f.cg, 0, 0, &err), 0); /* default period */
	ASSERT_FILE(f.root, U2 "cpu.max", "max 100000");
	rm(f.root, U2 "cpu.max"); /* no cpu controller */
	assert_true(cx_cg_set_cpu_quota(f.cg, 1000, 10000, &err) < 0);
	assert_int_equal(err.errnum, ENOENT);
	fake_close(&f);
}

static void v1_style_cpu_quota(cx_cg_layout layout)
{
	fake f;
	cx_error err = { 0 };
	fake_open(&f, layout);
	assert_int_equal(cx_cg_set_cpu_quota(f.cg, 5000, 10000, &err), 0);
	ASSERT_FILE(f.root, HC "cpu.cfs_period_us", "10000");
	ASSERT_FILE(f.root, HC "cpu.cfs_quota_us", "5000");
	put(f.root, HC "cpu.cfs_period_us", "");
	put(f.root, HC "cpu.cfs_quota_us", "");
	assert_int_equal(cx_cg_set_cpu_quota(f.cg, 0, 10000, &err), 0); /* lift */
	ASSERT_FILE(f.root, HC "cpu.cfs_period_us", "10000");
	ASSERT_FILE(f.root, HC "cpu.cfs_quota_us", "-1");
	put(f.root, HC "cpu.cfs_period_us", "");
	put(f.root, HC "cpu.cfs_quota_us", "");
	assert_int_equal(cx_cg_set_cpu_quota(f.cg, 0, 0, &err), 0);
	ASSERT_FILE(f.root, HC "cpu.cfs_period_us", "100000");
	ASSERT_FILE(f.root, HC "cpu.cfs_quota_us", "-1");
	if (layout == CX_CG_HYBRID)
		assert_false(exists(f.root, HU "cpu.max"));
	fake_close(&f);
}

static void hybrid_cpu_quota(void **st)
{
	(void)st;
	v1_style_cpu_quota(CX_CG_HYBRID);
}

static void v1_cpu_quota(void **st)
{
	(void)st;
	v1_style_cpu_quota(CX_CG_V1);
}

/* ---- freeze, populated, kill, memory events ------------------------------- */

static void freeze_each_layout(void **st)
{
	fake f;
	cx_error err = { 0 };
	(void)st;
	fake_open(&f, CX_CG_V2);
	assert_int_equal(cx_cg_freeze(f.cg, true, &err), 0);
	ASSERT_FILE(f.root, U2 "cgroup.freeze", "1");
	assert_int_equal(cx_cg_freeze(f.cg, false, &err), 0);
	ASSERT_FILE(f.root, U2 "cgroup.freeze", "0");
	rm(f.root, U2 "cgroup.freeze");
	assert_true(cx_cg_freeze(f.cg, true, &err) < 0);
	fake_close(&f);

	fake_open(&f, CX_CG_HYBRID);
	assert_int_equal(cx_cg_freeze(f.cg, true, &err), 0);
	ASSERT_FILE(f.root, HU "cgroup.freeze", "1");
	assert_int_equal(cx_cg_freeze(f.cg, false, &err), 0);
	ASSERT_FILE(f.root, HU "cgroup.freeze", "0");
	fake_close(&f);

	fake_open(&f, CX_CG_V1);
	assert_int_equal(cx_cg_freeze(f.cg, true, &err), 0);
	ASSERT_FILE(f.root, HF "freezer.state", "FROZEN");
	assert_int_equal(cx_cg_freeze(f.cg, false, &err), 0);
	ASSERT_FILE(f.root, HF "freezer.state", "THAWED");
	fake_close(&f);
}

/* The freeze is asynchronous: "frozen" is read back, in every layout. */
static void frozen_each_layout(void **st)
{
	static const cx_cg_layout ls[] = { CX_CG_V2, CX_CG_HYBRID };
	static const char *const ev[] = { U2 "cgroup.events", HU "cgroup.events" };
	fake f;
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(ls); i++) {
		fake_open(&f, ls[i]);
		put(f.root, ev[i], "populated 1\nfrozen 0\n");
		assert_int_equal(cx_cg_frozen(f.cg), 0);
		put(f.root, ev[i], "populated 1\nfrozen 1\n");
		assert_int_equal(cx_cg_frozen(f.cg), 1);
		rm(f.root, ev[i]);
		assert_int_equal(cx_cg_frozen(f.cg), -ENOENT);
		fake_close(&f);
	}
	fake_open(&f, CX_CG_V1);
	put(f.root, HF "freezer.state", "FREEZING\n");
	assert_int_equal(cx_cg_frozen(f.cg), 0);
	put(f.root, HF "freezer.state", "FROZEN\n");
	assert_int_equal(cx_cg_frozen(f.cg), 1);
	fake_close(&f);
}

static void populated_each_layout(void **st)
{
	static const cx_cg_layout ls[] = { CX_CG_V2, CX_CG_HYBRID };
	static const char *const ev[] = { U2 "cgroup.events", HU "cgroup.events" };
	fake f;
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(ls); i++) {
		fake_open(&f, ls[i]);
		put(f.root, ev[i], "populated 1\nfrozen 0\n");
		assert_int_equal(cx_cg_populated(f.cg), 1);
		put(f.root, ev[i], "populated 0\nfrozen 0\n");
		assert_int_equal(cx_cg_populated(f.cg), 0);
		put(f.root, ev[i], "frozen 1\npopulated 1"); /* any order, no newline */
		assert_int_equal(cx_cg_populated(f.cg), 1);
		put(f.root, ev[i], "frozen 1\n"); /* no such key */
		assert_int_equal(cx_cg_populated(f.cg), -ENOENT);
		rm(f.root, ev[i]);
		assert_int_equal(cx_cg_populated(f.cg), -ENOENT);
		/* hybrid: the v1 cgroup.procs are not what counts */
		if (ls[i] == CX_CG_HYBRID) {
			put(f.root, ev[i], "populated 0\nfrozen 0\n");
			put(f.root, HM "cgroup.procs", "123\n");
			assert_int_equal(cx_cg_populated(f.cg), 0);
		}
		fake_close(&f);
	}
	/* v1: the freezer's cgroup.procs empty or not */
	fake_open(&f, CX_CG_V1);
	assert_int_equal(cx_cg_populated(f.cg), 0);
	put(f.root, HF "cgroup.procs", "4242\n");
	assert_int_equal(cx_cg_populated(f.cg), 1);
	put(f.root, HF "cgroup.procs", "");
	put(f.root, HM "cgroup.procs", "4242\n"); /* membership is the freezer's */
	assert_int_equal(cx_cg_populated(f.cg), 0);
	rm(f.root, HF "cgroup.procs");
	assert_true(cx_cg_populated(f.cg) < 0);
	fake_close(&f);
}

static pid_t pausing_child(void)
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		for (;;)
			pause();
	}
	return p;
}

static void expect_sigkilled(pid_t p)
{
	int status = 0;
	/* bounded (10 s: a loaded VM, the sanitizer build): the child must
	 * already be dying */
	for (int i = 0; i < 10000; i++) {
		pid_t w = waitpid(p, &status, WNOHANG);
		if (w == p) {
			assert_true(WIFSIGNALED(status));
			assert_int_equal(WTERMSIG(status), SIGKILL);
			return;
		}
		usleep(1000);
	}
	kill(p, SIGKILL);
	waitpid(p, &status, 0);
	fail_msg("pid %d was not killed", (int)p);
}

static void kill_each_layout(void **st)
{
	fake f;
	cx_error err = { 0 };
	char b[32];
	(void)st;
	/* v2 and hybrid: one write of "1" to cgroup.kill, no pid is touched */
	fake_open(&f, CX_CG_V2);
	assert_int_equal(cx_cg_kill(f.cg, &err), 0);
	ASSERT_FILE(f.root, U2 "cgroup.kill", "1");
	fake_close(&f);
	fake_open(&f, CX_CG_HYBRID);
	pid_t p = pausing_child();
	snprintf(b, sizeof(b), "%d\n", (int)p);
	put(f.root, HM "cgroup.procs", b); /* listed in v1 only: not used for the kill */
	assert_int_equal(cx_cg_kill(f.cg, &err), 0);
	ASSERT_FILE(f.root, HU "cgroup.kill", "1");
	assert_int_equal(waitpid(p, NULL, WNOHANG), 0); /* still alive */
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	fake_close(&f);

	/* kernels before 5.14 (no cgroup.kill): each listed pid gets SIGKILL */
	fake_open(&f, CX_CG_V2);
	rm(f.root, U2 "cgroup.kill");
	pid_t a = pausing_child(), c = pausing_child();
	snprintf(b, sizeof(b), "%d\n%d\n", (int)a, (int)c);
	put(f.root, U2 "cgroup.procs", b);
	assert_int_equal(cx_cg_kill(f.cg, &err), 0);
	expect_sigkilled(a);
	expect_sigkilled(c);
	fake_close(&f);

	/* v1: freeze, kill each listed pid, thaw; ends THAWED */
	fake_open(&f, CX_CG_V1);
	assert_int_equal(cx_cg_kill(f.cg, &err), 0); /* empty: done at once */
	ASSERT_FILE(f.root, HF "freezer.state", "THAWED");
	a = pausing_child();
	snprintf(b, sizeof(b), "%d\n", (int)a);
	put(f.root, HF "cgroup.procs", b);
	/* a regular file never empties: the loop is bounded and says so */
	assert_true(cx_cg_kill(f.cg, &err) < 0);
	assert_int_equal(err.errnum, EBUSY);
	expect_sigkilled(a);
	ASSERT_FILE(f.root, HF "freezer.state", "THAWED");
	fake_close(&f);
}

static void memory_events_each_layout(void **st)
{
	fake f;
	int mfd, pfd;
	uint64_t one = 1;
	(void)st;
	/* v2: memory.events oom / oom_kill */
	fake_open(&f, CX_CG_V2);
	cx_cg_event_fds(f.cg, &mfd, &pfd);
	assert_true(mfd >= 0);
	assert_true(pfd >= 0);
	assert_int_equal(cx_cg_clone_fd(f.cg) >= 0, 1);
	assert_false(cx_cg_memory_breached(f.cg));
	put(f.root, U2 "memory.events", "low 0\nhigh 9\nmax 100\noom 0\noom_kill 0\noom_group_kill 0\n");
	assert_false(cx_cg_memory_breached(f.cg)); /* reclaim at max is not a breach */
	put(f.root, U2 "memory.events", "low 0\nhigh 0\nmax 1\noom 1\noom_kill 0\noom_group_kill 0\n");
	assert_true(cx_cg_memory_breached(f.cg));
	put(f.root, U2 "memory.events", "low 0\nhigh 0\nmax 1\noom 0\noom_kill 1\noom_group_kill 0\n");
	assert_true(cx_cg_memory_breached(f.cg));
	put(f.root, U2 "memory.events", "oom_group_kill 1\n"); /* not "oom" */
	assert_false(cx_cg_memory_breached(f.cg));
	fake_close(&f);

	/* hybrid and v1: an eventfd registered on memory.oom_control */
	static const cx_cg_layout ls[] = { CX_CG_HYBRID, CX_CG_V1 };
	for (size_t i = 0; i < CX_ARRAY_SIZE(ls); i++) {
		char want[64];
		fake_open(&f, ls[i]);
		cx_cg_event_fds(f.cg, &mfd, &pfd);
		assert_true(mfd >= 0);
		if (ls[i] == CX_CG_HYBRID) {
			assert_true(pfd >= 0);
			assert_true(cx_cg_clone_fd(f.cg) >= 0);
		} else {
			assert_int_equal(pfd, -1);
			assert_int_equal(cx_cg_clone_fd(f.cg), -1);
		}
		/* "<eventfd> <fd of memory.oom_control>" */
		const char *reg = get(f.root, HM "cgroup.event_control");
		int efd = -1, ofd = -1;
		assert_int_equal(sscanf(reg, "%d %d", &efd, &ofd), 2);
		assert_int_equal(efd, mfd);
		assert_true(ofd >= 0 && ofd != efd);
		snprintf(want, sizeof(want), "%d %d", efd, ofd);
		assert_string_equal(reg, want);
		/* not fired, nothing counted: no breach (under_oom alone is not
		 * one: calyx never disables the OOM killer) */
		put(f.root, HM "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 0\n");
		assert_false(cx_cg_memory_breached(f.cg));
		/* fired while the counters still read 0: the kernel signals the
		 * eventfd (mem_cgroup_oom_notify) after clearing under_oom's
		 * mark and before the OOM kill is counted, so a supervisor woken
		 * at once reads zeros. The notification itself is the breach
		 * (the other cause, removal of the cgroup, never happens while
		 * it is supervised); missing it leaves an idle parent running
		 * after the kernel killed its hogging child. */
		put(f.root, HM "memory.oom_control", V1_OOM_CONTROL);
		assert_int_equal(write(mfd, &one, sizeof(one)), sizeof(one));
		assert_true(cx_cg_memory_breached(f.cg));
		assert_false(cx_cg_memory_breached(f.cg)); /* drained, nothing counted */
		/* fired with an OOM kill */
		put(f.root, HM "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
		assert_int_equal(write(mfd, &one, sizeof(one)), sizeof(one));
		assert_true(cx_cg_memory_breached(f.cg));
		/* an OOM kill once counted stays a breach, event or not (the
		 * oom_kill line, not oom_kill_disable) */
		assert_true(cx_cg_memory_breached(f.cg));
		put(f.root, HM "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n");
		assert_false(cx_cg_memory_breached(f.cg));
		/* several notifications at once: one read drains them */
		assert_int_equal(write(mfd, &one, sizeof(one)), sizeof(one));
		assert_int_equal(write(mfd, &one, sizeof(one)), sizeof(one));
		assert_true(cx_cg_memory_breached(f.cg));
		assert_false(cx_cg_memory_breached(f.cg));
		fake_close(&f);
	}
}

/* What init writes "0" to: each hierarchy's tasks file that clone3 did
 * not enter; the fds write there (and nowhere else). */
static int join_and_write(fake *f, cx_error *err)
{
	int fds[8], n = cx_cg_join_fds(f->cg, fds, CX_ARRAY_SIZE(fds), err);
	for (int i = 0; i < n; i++) {
		assert_int_equal(write(fds[i], "0", 1), 1);
		close(fds[i]);
	}
	return n;
}

/* "0" landed in the tasks file of each v1 controller (hybrid and v1). */
static void assert_controllers_joined(const char *root)
{
	static const char *const tasks[] = { HM "tasks", HP "tasks", HC "tasks", HA "tasks" };
	for (size_t i = 0; i < CX_ARRAY_SIZE(tasks); i++)
		ASSERT_FILE(root, tasks[i], "0");
}

static void join_fds_each_layout(void **st)
{
	fake f;
	cx_error err = { 0 };
	int fds[8];
	(void)st;
	/* v2: CLONE_INTO_CGROUP did it; nothing to join */
	fake_open(&f, CX_CG_V2);
	assert_int_equal(join_and_write(&f, &err), 0);
	fake_close(&f);
	/* hybrid: every v1 controller, not the unified side */
	fake_open(&f, CX_CG_HYBRID);
	assert_int_equal(join_and_write(&f, &err), 4);
	assert_controllers_joined(f.root);
	ASSERT_FILE(f.root, HM "cgroup.procs", "");
	ASSERT_FILE(f.root, HU "cgroup.procs", "");
	/* more hierarchies than room: refused, nothing left open */
	int lowest = fcntl(0, F_DUPFD_CLOEXEC, 0); /* the lowest free fd */
	close(lowest);
	assert_true(cx_cg_join_fds(f.cg, fds, 3, &err) < 0);
	int now = fcntl(0, F_DUPFD_CLOEXEC, 0);
	close(now);
	assert_int_equal(now, lowest);
	fake_close(&f);
	/* v1: every hierarchy, the freezer too */
	fake_open(&f, CX_CG_V1);
	assert_int_equal(join_and_write(&f, &err), 5);
	assert_controllers_joined(f.root);
	ASSERT_FILE(f.root, HF "tasks", "0");
	rm(f.root, HP "tasks");
	assert_true(cx_cg_join_fds(f.cg, fds, CX_ARRAY_SIZE(fds), &err) < 0);
	assert_non_null(strstr(err.msg, "pids"));
	fake_close(&f);
}

/* destroy removes the run's directory in every hierarchy (they must be
 * empty, as cgroupfs directories are once their tasks are gone). */
static void destroy_each_layout(void **st)
{
	static const cx_cg_layout ls[] = { CX_CG_V2, CX_CG_HYBRID, CX_CG_V1 };
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(ls); i++) {
		fake f;
		cx_error err = { 0 };
		fake_open(&f, ls[i]);
		/* not empty (a regular dir with files): refused, named */
		assert_true(cx_cg_destroy(f.cg, &err) < 0);
		assert_non_null(strstr(err.msg, NAME));
		fake_close(&f);

		fake_open(&f, ls[i]);
		static const char *const dirs[] = { "calyx/" NAME, "memory/calyx/" NAME,
						    "pids/calyx/" NAME, "cpu/calyx/" NAME,
						    "cpuacct/calyx/" NAME, "freezer/calyx/" NAME,
						    "unified/calyx/" NAME };
		for (size_t d = 0; d < CX_ARRAY_SIZE(dirs); d++) {
			char *p = path_of(f.root, dirs[d]);
			DIR *dh = opendir(p);
			struct dirent *de;
			while (dh && (de = readdir(dh))) {
				if (de->d_name[0] == '.')
					continue;
				char *c = path_of(p, de->d_name);
				unlink(c);
				free(c);
			}
			if (dh)
				closedir(dh);
			free(p);
		}
		assert_int_equal(cx_cg_destroy(f.cg, &err), 0);
		for (size_t d = 0; d < CX_ARRAY_SIZE(dirs); d++)
			assert_false(exists(f.root, dirs[d]));
		assert_true(exists(f.root, ls[i] == CX_CG_V2 ? "calyx" : "memory/calyx"));
		assert_int_equal(cx_cg_destroy(f.cg, &err), 0); /* idempotent */
		fake_close(&f);
	}
}

/* ---- names and stale runs --------------------------------------------- */

static void run_name_format(void **st)
{
	char b[128], want[64];
	(void)st;
	assert_int_equal(cx_cg_run_name(b, sizeof(b), "0123456789ab"), 0);
	snprintf(want, sizeof(want), "run-%d-", (int)getpid());
	assert_memory_equal(b, want, strlen(want));
	const char *p = b + strlen(want);
	assert_true(*p >= '0' && *p <= '9');
	while (*p >= '0' && *p <= '9')
		p++;
	assert_string_equal(p, "-0123456789ab");
	assert_int_equal(cx_cg_run_name(b, 10, "x"), -ENAMETOOLONG);
	assert_int_equal(cx_cg_run_name(b, sizeof(b), "BAD"), -EINVAL);
	assert_int_equal(cx_cg_run_name(b, sizeof(b), "a/b"), -EINVAL);
}

typedef struct reaped {
	char names[8][128];
	int n;
} reaped;

static void on_reaped(const char *name, void *arg)
{
	reaped *r = arg;
	if (r->n < 8)
		snprintf(r->names[r->n], sizeof(r->names[0]), "%s", name);
	r->n++;
}

static bool was_reaped(const reaped *r, const char *name)
{
	for (int i = 0; i < r->n && i < 8; i++)
		if (strcmp(r->names[i], name) == 0)
			return true;
	return false;
}

/* cx_cg_reap_stale on a v1 tree of empty directories (cgroupfs dirs are
 * removable once empty): only run cgroups whose calyx-exec is gone go. */
/* ---- control socket ---------------------------------------------- */

/* A client that connects and stalls past the supervisor's 100 ms gets a
 * refusal that says asking again is safe (nothing was acted on). */
static void ctl_stalled_client_told_to_retry(void **st)
{
	char dir[] = "/tmp/cx-ctl-XXXXXX", path[64], buf[512] = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = -1, cfd, conn = -1;
	cx_ctl_cmd cmd;
	uid_t uid;
	cx_error e = { 0 };
	(void)st;

	if (geteuid() != 0)
		skip(); /* the supervisor answers root peers only */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl", dir);
	assert_int_equal(cx_ctl_listen(path, &lfd, &e), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* no request written: the accept times out on a partial request */
	assert_true(cx_ctl_accept(lfd, &conn, &cmd, &uid, &e) < 0);
	assert_int_equal(conn, -1);
	assert_true(read(cfd, buf, sizeof(buf) - 1) > 0);
	json_t *j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "retry")));
	assert_false(json_is_true(json_object_get(j, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "partial request"));
	json_decref(j);
	/* a malformed (complete) request is final: no retry member */
	close(cfd);
	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(cfd, "{\"cmd\":\"nope\"}\n", 15), 15);
	assert_true(cx_ctl_accept(lfd, &conn, &cmd, &uid, &e) < 0);
	memset(buf, 0, sizeof(buf));
	assert_true(read(cfd, buf, sizeof(buf) - 1) > 0);
	assert_null(strstr(buf, "retry"));
	close(cfd);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

/* The listening socket is non-blocking (the supervisor's epoll): wait
 * for a connection first. */
static int ctl_wait(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	return poll(&p, 1, 5000) == 1 ? 0 : -1;
}

/* The client asks again when told "retry" (nothing was acted on), and
 * never when its request was delivered, even with the reply lost (a
 * halt must not be applied twice). The fake supervisor (a child): 1
 * answers "retry" unread; 2 reads the request and closes without a
 * reply; 3 serves with the real accept; 4 refuses; then no 5th. */
static void ctl_client_retries_only_unacted(void **st)
{
	char dir[] = "/tmp/cx-ctl-XXXXXX", path[64];
	int lfd = -1, status;
	cx_error e = { 0 };
	void *reply = NULL;
	pid_t pid;
	(void)st;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl", dir);
	assert_int_equal(cx_ctl_listen(path, &lfd, &e), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int c, conn;
		cx_ctl_cmd cmd;
		uid_t uid;
		char req[64];
		static const char retry[] = "{\"ok\": false, \"error\": \"late\", \"retry\": true}\n";
		if (ctl_wait(lfd) < 0 || (c = accept(lfd, NULL, NULL)) < 0)
			_exit(9);
		if (write(c, retry, sizeof(retry) - 1) < 0)
			_exit(10);
		close(c);
		if (ctl_wait(lfd) < 0 || (c = accept(lfd, NULL, NULL)) < 0)
			_exit(9);
		if (read(c, req, sizeof(req)) <= 0) /* delivered, then no reply */
			_exit(11);
		close(c);
		if (ctl_wait(lfd) < 0 || cx_ctl_accept(lfd, &conn, &cmd, &uid, &e) < 0)
			_exit(12);
		cx_ctl_reply(conn, json_pack("{s:b, s:s}", "ok", 1, "got", cx_ctl_cmd_name(cmd)));
		if (ctl_wait(lfd) < 0 || cx_ctl_accept(lfd, &conn, &cmd, &uid, &e) < 0)
			_exit(13);
		cx_ctl_reply(conn, json_pack("{s:b, s:s}", "ok", 0, "error", "no"));
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		_exit(poll(&p, 1, 300) == 0 ? 0 : 14);
	}
	/* 1 then 2: retried once, then the lost reply is final */
	assert_true(cx_ctl_request(path, CX_CTL_HALT, &reply, &e) < 0);
	assert_non_null(strstr(e.msg, "no valid reply"));
	/* 3: served */
	assert_int_equal(cx_ctl_request(path, CX_CTL_HALT, &reply, &e), 0);
	assert_string_equal(json_string_value(json_object_get(reply, "got")), "halt");
	json_decref(reply);
	/* 4: a refusal is a reply: returned, not asked again */
	assert_int_equal(cx_ctl_request(path, CX_CTL_STATUS, &reply, &e), 0);
	assert_false(json_is_true(json_object_get(reply, "ok")));
	json_decref(reply);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

static void reap_stale_only_dead_owners(void **st)
{
	static const char *const hier[] = { "memory", "pids", "cpu", "cpuacct", "freezer" };
	char live[128], dead_start[128], dead_pid[128], rel[256];
	char *root = tu_tmpdir();
	cx_cgroup *cg = NULL;
	cx_error err = { 0 };
	reaped r = { 0 };
	int status;
	(void)st;

	assert_int_equal(cx_cg_run_name(live, sizeof(live), "live"), 0);
	/* our pid, another start time: the pid was reused, the owner is gone */
	snprintf(dead_start, sizeof(dead_start), "run-%d-1-dead", (int)getpid());
	/* a pid that exited */
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0)
		_exit(0);
	waitpid(p, &status, 0);
	snprintf(dead_pid, sizeof(dead_pid), "run-%d-1-gone", (int)p);
	const char *keep[] = { live, "other", "run-x-1-bad", "run-99999999-1-toobig" };
	for (size_t h = 0; h < CX_ARRAY_SIZE(hier); h++) {
		snprintf(rel, sizeof(rel), "%s/calyx/%s", hier[h], live);
		mkdir_rel(root, rel);
		snprintf(rel, sizeof(rel), "%s/calyx/%s", hier[h], dead_start);
		mkdir_rel(root, rel);
		snprintf(rel, sizeof(rel), "%s/calyx/other", hier[h]);
		mkdir_rel(root, rel);
		snprintf(rel, sizeof(rel), "%s/calyx/run-x-1-bad", hier[h]);
		mkdir_rel(root, rel);
		snprintf(rel, sizeof(rel), "%s/calyx/run-99999999-1-toobig", hier[h]);
		mkdir_rel(root, rel);
	}
	/* a half-created stale run: only in the membership hierarchy and memory */
	snprintf(rel, sizeof(rel), "freezer/calyx/%s", dead_pid);
	mkdir_rel(root, rel);
	snprintf(rel, sizeof(rel), "memory/calyx/%s", dead_pid);
	mkdir_rel(root, rel);

	assert_int_equal(cx_cg_open_at(CX_CG_V1, open_root(root), "calyx", &cg, &err), 0);
	int before = count_fds();
	assert_int_equal(cx_cg_reap_stale(cg, on_reaped, &r, &err), 2);
	assert_int_equal(count_fds(), before);
	assert_int_equal(r.n, 2);
	assert_true(was_reaped(&r, dead_start));
	assert_true(was_reaped(&r, dead_pid));
	for (size_t h = 0; h < CX_ARRAY_SIZE(hier); h++) {
		snprintf(rel, sizeof(rel), "%s/calyx/%s", hier[h], dead_start);
		assert_false(exists(root, rel));
		snprintf(rel, sizeof(rel), "%s/calyx/%s", hier[h], dead_pid);
		assert_false(exists(root, rel));
		for (size_t k = 0; k < CX_ARRAY_SIZE(keep); k++) {
			snprintf(rel, sizeof(rel), "%s/calyx/%s", hier[h], keep[k]);
			if (!exists(root, rel))
				fail_msg("%s was removed", rel);
		}
	}
	/* again: nothing left to do */
	r.n = 0;
	assert_int_equal(cx_cg_reap_stale(cg, on_reaped, &r, &err), 0);
	assert_int_equal(r.n, 0);
	cx_cg_close(cg);

	/* no parent directory yet: nothing stale */
	char *empty = tu_tmpdir();
	for (size_t h = 0; h < CX_ARRAY_SIZE(hier); h++) {
		snprintf(rel, sizeof(rel), "%s/.keep", hier[h]);
		put(empty, rel, "");
	}
	assert_int_equal(cx_cg_open_at(CX_CG_V1, open_root(empty), "calyx", &cg, &err), 0);
	assert_int_equal(cx_cg_reap_stale(cg, NULL, NULL, &err), 0);
	cx_cg_close(cg);
	tu_rmtree(empty);
	free(empty);
	tu_rmtree(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_u64_valid),
		cmocka_unit_test(parse_u64_max),
		cmocka_unit_test(parse_u64_overflow),
		cmocka_unit_test(parse_u64_junk),
		cmocka_unit_test(parse_keyed_valid),
		cmocka_unit_test(parse_keyed_missing),
		cmocka_unit_test(parse_keyed_prefix),
		cmocka_unit_test(parse_keyed_no_trailing_newline),
		cmocka_unit_test(parse_keyed_junk),
		cmocka_unit_test(parse_psi),
		cmocka_unit_test(fence_far_from_budget),
		cmocka_unit_test(fence_half_of_what_is_left),
		cmocka_unit_test(fence_minimum),
		cmocka_unit_test(fence_spent),
		cmocka_unit_test(disk_quota_eval),
		cmocka_unit_test(disk_quota_read),
		cmocka_unit_test(layout_names),
		cmocka_unit_test(open_refusals_and_no_fd_leak),
		cmocka_unit_test(adopt_checks_name_and_presence),
		cmocka_unit_test(v2_set_limits),
		cmocka_unit_test(hybrid_set_limits),
		cmocka_unit_test(v1_set_limits),
		cmocka_unit_test(v2_read_usage),
		cmocka_unit_test(hybrid_read_usage),
		cmocka_unit_test(v1_read_usage),
		cmocka_unit_test(v2_cpu_quota),
		cmocka_unit_test(hybrid_cpu_quota),
		cmocka_unit_test(v1_cpu_quota),
		cmocka_unit_test(freeze_each_layout),
		cmocka_unit_test(frozen_each_layout),
		cmocka_unit_test(populated_each_layout),
		cmocka_unit_test(kill_each_layout),
		cmocka_unit_test(memory_events_each_layout),
		cmocka_unit_test(join_fds_each_layout),
		cmocka_unit_test(destroy_each_layout),
		cmocka_unit_test(run_name_format),
		cmocka_unit_test(reap_stale_only_dead_owners),
		cmocka_unit_test(ctl_stalled_client_told_to_retry),
		cmocka_unit_test(ctl_client_retries_only_unacted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
