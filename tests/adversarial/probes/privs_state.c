/* The payload's privilege state, read back from the kernel: what every
 * escape above relies on being absent (the "privileged container" class,
 * e.g. docker --privileged / CAP_SYS_ADMIN escapes, and CVE-2022-0492
 * needing CAP_SYS_ADMIN). uid/gid (real, effective, saved, fs) must not be
 * 0 and no supplementary group may remain; every capability set
 * (inheritable, permitted, effective, bounding, ambient) must be empty;
 * no_new_privs set; seccomp in filter mode; the securebits locked so
 * that a uid-0 exec would not grant capabilities. */
#include "probe.h"

#include <sys/prctl.h>

static const char *field(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);
	return p ? p + strlen(name) : NULL;
}

int main(void)
{
	static const char *const caps[] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:" };
	char buf[8192];
	const char *f;

	probe_init("privs_state");
	if (read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
		report("ERROR", "read /proc/self/status: %s", strerror(errno));

	unsigned long u[4] = { 0 }, g[4] = { 0 };
	if ((f = field(buf, "Uid:")) && sscanf(f, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) == 4 &&
	    (f = field(buf, "Gid:")) && sscanf(f, "%lu %lu %lu %lu", &g[0], &g[1], &g[2], &g[3]) == 4) {
		if (!u[0] || !u[1] || !u[2] || !u[3] || !g[0] || !g[1] || !g[2] || !g[3])
			note("ESCAPED", "ids", "uid %lu/%lu/%lu/%lu gid %lu/%lu/%lu/%lu: a root id remains", u[0],
			     u[1], u[2], u[3], g[0], g[1], g[2], g[3]);
		else
			note("DENIED", "ids", "uid %lu gid %lu (real, effective, saved, fs: none is 0)", u[0], g[0]);
	} else
		note("ERROR", "ids", "cannot parse Uid/Gid");
	if ((f = field(buf, "Groups:"))) {
		char line[256];
		snprintf(line, sizeof(line), "%s", f);
		line[strcspn(line, "\n")] = '\0';
		bool empty = strspn(line, " \t") == strlen(line);
		if (empty)
			note("DENIED", "groups", "no supplementary group");
		else
			note("ESCAPED", "groups", "supplementary groups remain:%s", line);
	}
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		char attempt[16];
		snprintf(attempt, sizeof(attempt), "%.6s", caps[i]);
		if (!(f = field(buf, caps[i]))) {
			note("ERROR", attempt, "%s missing", caps[i]);
			continue;
		}
		unsigned long long v = strtoull(f, NULL, 16);
		if (v)
			note("ESCAPED", attempt, "%s %016llx: capabilities remain", caps[i], v);
		else
			note("DENIED", attempt, "%s empty", caps[i]);
	}
	if ((f = field(buf, "NoNewPrivs:")) && atoi(f) == 1)
		note("DENIED", "no_new_privs", "NoNewPrivs: 1");
	else
		note("ESCAPED", "no_new_privs", "no_new_privs is not set");
	if ((f = field(buf, "Seccomp:")) && atoi(f) == 2)
		note("DENIED", "seccomp", "Seccomp: 2 (filter)");
	else
		note("ESCAPED", "seccomp", "seccomp is not in filter mode");
	/* SECBIT_NOROOT (1) and its lock (2), NO_CAP_AMBIENT_RAISE (64) and
	 * its lock (128). */
	long sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (sb < 0)
		note("ERROR", "securebits", "PR_GET_SECUREBITS: %s", strerror(errno));
	else if ((sb & 0xc3) == 0xc3)
		note("DENIED", "securebits", "securebits 0x%lx: noroot and no-ambient-raise, locked", sb);
	else
		note("ESCAPED", "securebits", "securebits 0x%lx: noroot/no-ambient-raise not locked", sb);
	probe_done();
}
