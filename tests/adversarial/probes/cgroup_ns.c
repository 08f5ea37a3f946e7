/* The run's cgroup namespace. /proc/self/cgroup inside the sandbox must
 * show "/" for every hierarchy: the namespace is rooted at the run's own
 * cgroup in each of them. Any other path tells the run where the host
 * keeps it (the supervisor's pid and start time, the lease id's head in
 * "/calyx/run-<pid>-<start>-<lease>") or how deep the host's tree goes
 * ("/../../..." when a v1 hierarchy was joined after the namespace was
 * made): the attempt is to learn that, and it escapes if any line shows
 * something other than "/". */
#include "probe.h"

int main(void)
{
	char buf[4096], *save = NULL;
	int lines = 0;

	probe_init("cgroup_ns");
	if (read_small("/proc/self/cgroup", buf, sizeof(buf)) <= 0) {
		note("ERROR", "read", "/proc/self/cgroup: %s", strerror(errno));
		probe_done();
	}
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		/* "ID:CONTROLLERS:PATH"; v2 has empty controllers */
		char *c = strchr(l, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		char attempt[64];

		if (!p) {
			note("ERROR", "parse", "line '%.80s' is not ID:CONTROLLERS:PATH", l);
			continue;
		}
		*p++ = '\0';
		snprintf(attempt, sizeof(attempt), "hierarchy-%.40s", c[1] ? c + 1 : "unified");
		if (strcmp(p, "/") == 0)
			note("DENIED", attempt, "the run's own cgroup is the namespace root ('/')");
		else
			note("ESCAPED", attempt, "/proc/self/cgroup shows '%.200s' (host cgroup layout)", p);
		lines++;
	}
	if (!lines)
		note("ERROR", "read", "/proc/self/cgroup has no line");
	probe_done();
}
