/* Exclusive phase timers (include/calyx/timings.h). */
#include "calyx/timings.h"

#include <time.h>

static const char *const names[CX_PH__COUNT] = {
	[CX_PH_CONFIG] = "config",       [CX_PH_VERIFY] = "verify",
	[CX_PH_RECOVER] = "recover",     [CX_PH_CONSUME] = "consume",
	[CX_PH_WORKSPACE] = "workspace", [CX_PH_CGROUP] = "cgroup",
	[CX_PH_MONITOR] = "monitor",     [CX_PH_SPAWN] = "spawn",
	[CX_PH_MOUNTS] = "mounts",       [CX_PH_PRIVILEGES] = "privileges",
	[CX_PH_LANDLOCK] = "landlock",   [CX_PH_SECCOMP] = "seccomp",
	[CX_PH_EXEC] = "exec",           [CX_PH_WAIT] = "wait",
	[CX_PH_HALT] = "halt",           [CX_PH_COMMIT] = "commit",
	[CX_PH_ROLLBACK] = "rollback",   [CX_PH_AUDIT] = "audit",
	[CX_PH_RESULT] = "result",       [CX_PH_CLEANUP] = "cleanup",
};

static struct {
	int64_t start, last;
	cx_phase cur;
	int64_t ns[CX_PH__COUNT];
} tm;

int64_t cx_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cx_timings_start(void)
{
	tm.start = tm.last = cx_mono_ns();
	tm.cur = CX_PH_CONFIG;
}

cx_phase cx_phase_enter(cx_phase p)
{
	cx_phase prev = tm.cur;
	int64_t now = cx_mono_ns();
	if (tm.start) /* not started: nothing to charge (library users, tests) */
		tm.ns[tm.cur] += now - tm.last;
	tm.last = now;
	if ((unsigned)p < CX_PH__COUNT)
		tm.cur = p;
	return prev;
}

void cx_phase_split(cx_phase p, int64_t until_ns)
{
	int64_t now = cx_mono_ns();
	if (!tm.start || (unsigned)p >= CX_PH__COUNT)
		return;
	if (until_ns > now)
		until_ns = now;
	if (until_ns < tm.last)
		return;
	tm.ns[p] += until_ns - tm.last;
	tm.last = until_ns;
}

const char *cx_phase_name(cx_phase p)
{
	return (unsigned)p < CX_PH__COUNT ? names[p] : "?";
}

int64_t cx_phase_ns(cx_phase p)
{
	return (unsigned)p < CX_PH__COUNT ? tm.ns[p] : 0;
}

json_t *cx_timings_json(void)
{
	json_t *j = json_object();
	cx_phase_enter(tm.cur); /* charge the current phase up to now */
	for (int i = 0; i < CX_PH__COUNT; i++)
		json_object_set_new(j, names[i], json_integer((json_int_t)(tm.ns[i] / 1000)));
	json_object_set_new(j, "total", json_integer((json_int_t)((tm.last - tm.start) / 1000)));
	return j;
}

void cx_timings_print(FILE *f)
{
	cx_phase_enter(tm.cur);
	double total = (double)(tm.last - tm.start) / 1e6;
	fprintf(f, "calyx-exec: timings (ms, exclusive, from main to exit):\n");
	for (int i = 0; i < CX_PH__COUNT; i++)
		if (tm.ns[i])
			fprintf(f, "  %-11s %8.3f  %5.1f%%\n", names[i], (double)tm.ns[i] / 1e6,
				total > 0 ? 100.0 * (double)tm.ns[i] / 1e6 / total : 0.0);
	fprintf(f, "  %-11s %8.3f\n", "total", total);
}
