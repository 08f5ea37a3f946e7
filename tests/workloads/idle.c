/* Workload: sleep forever, using no CPU (operator halts, SIGTERM and
 * kill -9 of calyx-exec, the monitor's own idle cost). Prints "idle" and
 * its pid inside the sandbox on stdout once started.
 *
 *   idle */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("idle %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
