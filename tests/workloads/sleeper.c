/* Workload: sleep MS milliseconds (default 1000), then exit 0.
 *
 *   sleeper [MS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long ms = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	struct timespec ts;

	if (ms < 0 || argc > 2) {
		fprintf(stderr, "usage: sleeper [MS]\n");
		return 2;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}
