/* Test-only fault injection (include/calyx/fault.h): compiled only into
 * the fault build; an empty unit everywhere else.
 * Trust: reads the environment; test builds only. */
#include "calyx/fault.h"

#ifdef CALYX_FAULT_INJECTION
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool cx_fault_armed(const char *point)
{
	const char *p = getenv("CALYX_FAULT_PHASE"), *s = getenv("CALYX_FAULT_STEP");

	return (p && strcmp(p, point) == 0) || (s && strcmp(s, point) == 0);
}

void cx_fault_point(const char *point)
{
	const char *d = getenv("CALYX_FAULT_DELAY_US");
	unsigned long max_us;
	char *end;

	if (!cx_fault_armed(point))
		return;
	max_us = d ? strtoul(d, &end, 10) : 0;
	if (d && *end == '\0' && max_us > 0 && max_us < 60000000UL) {
		/* a POSIX timer whose signal is SIGKILL: the kill lands while
		 * the process goes on with what follows the point */
		struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL };
		unsigned long us = randombytes_uniform((uint32_t)max_us + 1);
		struct itimerspec its = { .it_value = { (time_t)(us / 1000000),
							(long)(us % 1000000) * 1000 + 1 } };
		timer_t t;
		if (timer_create(CLOCK_MONOTONIC, &sev, &t) == 0 && timer_settime(t, 0, &its, NULL) == 0)
			return;
	}
	raise(SIGKILL);
}

int cx_fault_io(const char *file, const char *op, const char *what)
{
	static unsigned seen;
	static bool done;
	const char *v = getenv("CALYX_FAULT_IO"), *at;
	size_t fl = strlen(file), ol = strlen(op);
	unsigned long nth = 1;
	char *end;

	if (done || !v || strncmp(v, file, fl) != 0 || v[fl] != ':' || strncmp(v + fl + 1, op, ol) != 0)
		return 0;
	at = v + fl + 1 + ol;
	if (*at == '@') {
		nth = strtoul(at + 1, &end, 10);
		if (end == at + 1 || *end) { /* @WHAT: the first such operation */
			if (!what || strcmp(at + 1, what) != 0)
				return 0;
			nth = seen + 1;
		}
	} else if (*at) {
		return 0;
	}
	if (++seen != nth)
		return 0;
	done = true;
	return -EIO;
}
#endif
