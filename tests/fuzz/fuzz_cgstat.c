/* libFuzzer harness: the parsers of text read from cgroupfs and procfs
 * (monitor/cgparse.c; their callers are in monitor/cgroup.c).
 *
 * The first byte picks the parser, the rest is the file:
 *   0  cx_cg_parse_u64        memory.current/peak, pids.current/max/peak,
 *                             memory.usage_in_bytes, cpuacct.usage, …
 *   1  cx_cg_parse_keyed      with the key the monitor asks for, byte 1
 *                             picks it: cpu.stat, memory.events,
 *                             pids.events, cgroup.events, cpuacct.stat,
 *                             memory.oom_control, memory.stat keys
 *   2  cx_cg_parse_keyed      with a key taken from the input (byte 1 its
 *                             length, then the key)
 *   3  cx_cg_parse_psi_total  cpu/memory/io.pressure, byte 1 bit 0 picks
 *                             "some" or "full"
 *   4  cx_cg_parse_pids       cgroup.procs (the v1 / pre-5.14 kill loop)
 *   5  cx_proc_parse_starttime  /proc/<pid>/stat (run-cgroup names, the
 *                             stale-run reaper)
 * Checked with CX_CHECK, against reference parsers written here from the
 * kernel's formats (differential: same verdict, same errno, same value):
 *  - every parser returns what the reference does, and leaves its output
 *    untouched on failure;
 *  - bounded outputs: a PSI total is never CX_CG_UNLIMITED; a pid passed
 *    on is in 2..CX_PID_LIMIT-1; the bytes cx_cg_parse_pids consumes end
 *    just after a newline;
 *  - truncation: cx_cg_parse_pids on any prefix of a file (what a read
 *    into a fixed buffer sees) passes on a prefix of the pids of the whole
 *    file, never a pid cut short.
 * The file is handed over as the exact bytes libFuzzer gives, with no NUL
 * after them: the parsers are length-bounded, so ASan sees any read past
 * the end.
 * Trust: test code; the input is arbitrary bytes. */
#include <string.h>

#include "calyx/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UNTOUCHED 0x5eed5eed5eed5eedULL

/* ---- reference parsers ----------------------------------------------- */

/* [s, s+n) is one decimal number, nothing else. 0, -EINVAL, -ERANGE. */
static int ref_number(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, (uint64_t)(s[i] - '0'), &x))
			return -ERANGE;
	}
	*v = x;
	return 0;
}

static size_t digit_run(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* A single-value file: digits or "max", then at most one newline. A
 * number too big for u64 is -ERANGE even when junk follows it. */
static int ref_u64(const char *b, size_t n, uint64_t *v)
{
	size_t d = digit_run(b, n), body = n && b[n - 1] == '\n' ? n - 1 : n;
	uint64_t x;

	if (d && ref_number(b, d, &x) == -ERANGE)
		return -ERANGE;
	if (d && d == body)
		return ref_number(b, d, v);
	if (body == 3 && memcmp(b, "max", 3) == 0) {
		*v = CX_CG_UNLIMITED;
		return 0;
	}
	return -EINVAL;
}

/* Lines are [start, newline) or [start, end) for the last. */
static size_t line_end(const char *b, size_t n, size_t start)
{
	const char *nl = memchr(b + start, '\n', n - start);
	return nl ? (size_t)(nl - b) : n;
}

/* The first line "KEY VALUE": VALUE is "max" or a u64, else -EINVAL. */
static int ref_keyed(const char *b, size_t n, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);

	for (size_t s = 0; s < n;) {
		size_t e = line_end(b, n, s);

		if (e - s > kl && memcmp(b + s, key, kl) == 0 && b[s + kl] == ' ') {
			const char *val = b + s + kl + 1;
			size_t vl = e - (s + kl + 1);
			if (vl == 3 && memcmp(val, "max", 3) == 0) {
				*v = CX_CG_UNLIMITED;
				return 0;
			}
			return ref_number(val, vl, v) == 0 ? 0 : -EINVAL;
		}
		s = e + 1;
	}
	return -ENOENT;
}

/* The first line "LINE …": the first " total=" after LINE, then digits
 * ended by a space or the line's end; UINT64_MAX is not a total. */
static int ref_psi(const char *b, size_t n, const char *line, uint64_t *v)
{
	size_t ll = strlen(line);

	for (size_t s = 0; s < n;) {
		size_t e = line_end(b, n, s);

		if (e - s > ll && memcmp(b + s, line, ll) == 0 && b[s + ll] == ' ') {
			for (size_t q = s + ll; q + 7 <= e; q++) {
				size_t d;
				uint64_t x;
				if (memcmp(b + q, " total=", 7) != 0)
					continue;
				d = digit_run(b + q + 7, e - (q + 7));
				if (ref_number(b + q + 7, d, &x) < 0 || x == UINT64_MAX)
					return -EINVAL;
				if (q + 7 + d != e && b[q + 7 + d] != ' ')
					return -EINVAL;
				*v = x;
				return 0;
			}
			return -EINVAL;
		}
		s = e + 1;
	}
	return -ENOENT;
}

/* Field 22 of /proc/<pid>/stat: after the last ')', 19 fields (3..21)
 * each " TOKEN" (TOKEN: one or more non-space bytes), then " DIGITS"
 * ended by the end, a space or a newline. */
static int ref_starttime(const char *b, size_t n, uint64_t *v)
{
	size_t pos = n, d;

	while (pos > 0 && b[pos - 1] != ')')
		pos--;
	if (pos == 0)
		return -EINVAL;
	for (int field = 3; field <= 21; field++) {
		size_t t = 0;
		if (pos >= n || b[pos] != ' ')
			return -EINVAL;
		pos++;
		while (pos + t < n && b[pos + t] != ' ')
			t++;
		if (t == 0)
			return -EINVAL;
		pos += t;
	}
	if (pos >= n || b[pos] != ' ')
		return -EINVAL;
	pos++;
	d = digit_run(b + pos, n - pos);
	{
		uint64_t x;
		int r = ref_number(b + pos, d, &x);
		if (r < 0)
			return r;
		if (pos + d != n && b[pos + d] != ' ' && b[pos + d] != '\n')
			return -EINVAL;
		*v = x;
	}
	return 0;
}

/* ---- the pids of cgroup.procs ------------------------------------------ */

typedef struct pidlist {
	uint64_t *v;
	size_t n, cap;
} pidlist;

static void collect(uint64_t pid, void *arg)
{
	pidlist *l = arg;
	CX_CHECK(pid > 1 && pid < CX_PID_LIMIT);
	CX_CHECK(l->n < l->cap);
	l->v[l->n++] = pid;
}

/* Complete lines only; a line is one pid in range, or skipped. */
static size_t ref_pids(const char *b, size_t n, pidlist *l)
{
	size_t s = 0, done = 0;

	while (s < n) {
		const char *nl = memchr(b + s, '\n', n - s);
		uint64_t pid;
		if (!nl)
			break;
		if (ref_number(b + s, (size_t)(nl - b) - s, &pid) == 0 && pid > 1 && pid < CX_PID_LIMIT) {
			CX_CHECK(l->n < l->cap);
			l->v[l->n++] = pid;
		}
		s = done = (size_t)(nl - b) + 1;
	}
	return done;
}

static void check_pids(const char *b, size_t n)
{
	size_t cap = n / 2 + 1;
	pidlist got = { cx_calloc(cap, sizeof(uint64_t)), 0, cap };
	pidlist want = { cx_calloc(cap, sizeof(uint64_t)), 0, cap };
	pidlist cut = { cx_calloc(cap, sizeof(uint64_t)), 0, cap };
	size_t used = cx_cg_parse_pids(b, n, collect, &got);
	const size_t cuts[] = { n ? n - 1 : 0, n / 2, (n * 7) / 13 };

	CX_CHECK(used <= n && (used == 0 || b[used - 1] == '\n'));
	CX_CHECK(memchr(b + used, '\n', n - used) == NULL);
	CX_CHECK(ref_pids(b, n, &want) == used);
	CX_CHECK(got.n == want.n && memcmp(got.v, want.v, got.n * sizeof(uint64_t)) == 0);
	/* a read cut anywhere: a prefix of the same pids, never another one */
	for (size_t i = 0; i < CX_ARRAY_SIZE(cuts); i++) {
		size_t u;
		cut.n = 0;
		u = cx_cg_parse_pids(b, cuts[i], collect, &cut);
		CX_CHECK(u <= used && cut.n <= got.n);
		CX_CHECK(memcmp(cut.v, got.v, cut.n * sizeof(uint64_t)) == 0);
	}
	free(got.v);
	free(want.v);
	free(cut.v);
}

/* ---- dispatch -------------------------------------------------------------- */

static const char *const keys[] = {
	/* cpu.stat */
	"usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec",
	/* memory.events, pids.events (v2 and v1) */
	"low", "high", "max", "oom", "oom_kill", "oom_group_kill", "max.imposed",
	/* cgroup.events */
	"populated", "frozen",
	/* cpuacct.stat */
	"user", "system",
	/* memory.oom_control */
	"oom_kill_disable", "under_oom",
	/* memory.stat (v1 and v2) */
	"cache", "rss", "anon", "file", "total_rss", "hierarchical_memory_limit",
};

static void check_same(int r, uint64_t v, int want_r, uint64_t want_v)
{
	CX_CHECK(r == want_r);
	CX_CHECK(r == 0 ? v == want_v : v == UNTOUCHED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	uint64_t v = UNTOUCHED, w = UNTOUCHED;
	int r, want;

	if (size == 0)
		return 0;
	switch (data[0] % 6) {
	case 0:
		r = cx_cg_parse_u64(b, n, &v);
		want = ref_u64(b, n, &w);
		check_same(r, v, want, w);
		break;
	case 1:
	case 2: {
		char key[33];
		if (n == 0)
			return 0;
		if (data[0] % 6 == 1) {
			snprintf(key, sizeof(key), "%s", keys[(uint8_t)b[0] % CX_ARRAY_SIZE(keys)]);
			b++, n--;
		} else {
			size_t kl = (uint8_t)b[0] % sizeof(key);
			if (kl > n - 1)
				return 0;
			memcpy(key, b + 1, kl);
			key[kl] = '\0';
			if (strlen(key) != kl)
				return 0; /* keys are C strings */
			b += 1 + kl, n -= 1 + kl;
		}
		r = cx_cg_parse_keyed(b, n, key, &v);
		want = ref_keyed(b, n, key, &w);
		check_same(r, v, want, w);
		break;
	}
	case 3: {
		const char *line;
		if (n == 0)
			return 0;
		line = (b[0] & 1) ? "full" : "some";
		b++, n--;
		r = cx_cg_parse_psi_total(b, n, line, &v);
		want = ref_psi(b, n, line, &w);
		check_same(r, v, want, w);
		CX_CHECK(r < 0 || v != CX_CG_UNLIMITED);
		break;
	}
	case 4:
		check_pids(b, n);
		break;
	case 5:
		r = cx_proc_parse_starttime(b, n, &v);
		want = ref_starttime(b, n, &w);
		check_same(r, v, want, w);
		break;
	}
	return 0;
}
