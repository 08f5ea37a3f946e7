/* Parsers for cgroup interface files and /proc/<pid>/stat. Pure and
 * bounded: they read only within [buf, buf+len) (no NUL terminator
 * needed, an embedded NUL is just junk), accept exactly the kernel's
 * formats (decimal u64, "max" where the file has it), write their result
 * only on success, and never allocate. Fuzzed by tests/fuzz/fuzz_cgstat.c.
 * Trust: the files come from the kernel, but a fake tree (tests) or a
 * confused mount could hold anything, and comm in /proc/<pid>/stat is
 * whatever the process named itself. */
#include "calyx/monitor.h"

#include <string.h>

/* Decimal digits, at least one, no sign, no "max". */
static int parse_digits(const char *p, const char *end, uint64_t *ret, const char **ret_end)
{
	uint64_t v = 0;
	const char *s = p;

	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -EINVAL;
	*ret = v;
	*ret_end = p;
	return 0;
}

static int parse_num(const char *p, const char *end, uint64_t *ret, const char **ret_end)
{
	if (end - p >= 3 && memcmp(p, "max", 3) == 0 &&
	    (end - p == 3 || p[3] == '\n' || p[3] == ' ')) {
		*ret = CX_CG_UNLIMITED;
		*ret_end = p + 3;
		return 0;
	}
	return parse_digits(p, end, ret, ret_end);
}

int cx_cg_parse_u64(const char *buf, size_t len, uint64_t *ret)
{
	const char *end = buf + len, *p;
	uint64_t v;
	int r = parse_num(buf, end, &v, &p);

	if (r < 0)
		return r;
	if (p < end && *p == '\n')
		p++;
	if (p != end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cx_cg_parse_psi_total(const char *buf, size_t len, const char *line, uint64_t *ret)
{
	const char *end = buf + len, *p = buf;
	size_t ll = strlen(line);

	/* "some avg10=0.00 avg60=0.00 avg300=0.00 total=1234" */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		if ((size_t)(eol - p) > ll && memcmp(p, line, ll) == 0 && p[ll] == ' ') {
			for (const char *q = p + ll; q + 7 <= eol; q++) {
				const char *n;
				uint64_t v;
				if (memcmp(q, " total=", 7) != 0)
					continue;
				if (parse_num(q + 7, eol, &v, &n) < 0 || v == CX_CG_UNLIMITED ||
				    (n != eol && *n != ' '))
					return -EINVAL;
				*ret = v;
				return 0;
			}
			return -EINVAL;
		}
		p = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

int cx_cg_parse_keyed(const char *buf, size_t len, const char *key, uint64_t *ret)
{
	const char *end = buf + len, *line = buf;
	size_t klen = strlen(key);

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line)), *p;
		const char *eol = nl ? nl : end;
		uint64_t v;

		if ((size_t)(eol - line) > klen && memcmp(line, key, klen) == 0 && line[klen] == ' ') {
			if (parse_num(line + klen + 1, eol, &v, &p) < 0 || p != eol)
				return -EINVAL;
			*ret = v;
			return 0;
		}
		line = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

size_t cx_cg_parse_pids(const char *buf, size_t len, void (*fn)(uint64_t pid, void *arg),
			void *arg)
{
	const char *end = buf + len, *line = buf;

	/* Only lines with their newline: a read that filled its buffer may
	 * have cut "12345\n" after "123", and pid 123 is another process. */
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line)), *p;
		uint64_t pid;

		if (!nl)
			break;
		if (parse_digits(line, nl, &pid, &p) == 0 && p == nl && pid > 1 && pid < CX_PID_LIMIT)
			fn(pid, arg);
		line = nl + 1;
	}
	return (size_t)(line - buf);
}

int cx_proc_parse_starttime(const char *buf, size_t len, uint64_t *ret)
{
	const char *end = buf + len, *p = memrchr(buf, ')', len), *q;
	uint64_t v;
	int r;

	/* "1234 (comm) S 1 …": comm may hold spaces and ')' but nothing after
	 * it does, so fields are counted from the last ')'. p walks the
	 * separators: before field 3, 4, …, each a single space followed by
	 * a non-empty field. */
	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3; field < 22; field++) {
		if (p == end || *p != ' ')
			return -EINVAL;
		q = memchr(p + 1, ' ', (size_t)(end - p - 1));
		if (!q || q == p + 1)
			return -EINVAL;
		p = q;
	}
	/* p: the space before field 22 (starttime, clock ticks since boot) */
	r = parse_digits(p + 1, end, &v, &q);
	if (r < 0)
		return r;
	if (q != end && *q != ' ' && *q != '\n')
		return -EINVAL;
	*ret = v;
	return 0;
}
