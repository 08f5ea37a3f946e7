/* Workload: allocate and touch memory in 1 MiB steps, forever.
 *
 *   hog [child] [STEP_DELAY_US]
 *
 * With "child" the hogging is done by a child process while the parent
 * only idles (it ignores the child's death and never exits by itself):
 * a memory breach must stop the whole tree, not only the process the
 * kernel's OOM killer picked. STEP_DELAY_US (default 0) sleeps between
 * steps. Prints nothing until it fails: the MiB reached, on stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STEP (1UL << 20)

static void hog(long delay_us)
{
	long pg = sysconf(_SC_PAGESIZE);
	for (unsigned long mib = 0;; mib++) {
		char *p = mmap(NULL, STEP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "hog: mmap failed after %lu MiB\n", mib);
			for (;;)
				pause();
		}
		for (unsigned long off = 0; off < STEP; off += (unsigned long)pg)
			p[off] = (char)(off | 1); /* touch: the page is charged now */
		if (delay_us > 0)
			usleep((useconds_t)delay_us);
	}
}

int main(int argc, char **argv)
{
	int child = argc > 1 && strcmp(argv[1], "child") == 0;
	const char *d = argc > 1 + child ? argv[1 + child] : "0";
	long delay_us = strtol(d, NULL, 10);

	if (argc > 1 + child + 1 || delay_us < 0) {
		fprintf(stderr, "usage: hog [child] [STEP_DELAY_US]\n");
		return 2;
	}
	if (!child)
		hog(delay_us);
	signal(SIGCHLD, SIG_IGN); /* the child's death changes nothing here */
	pid_t p = fork();
	if (p < 0) {
		perror("hog: fork");
		return 1;
	}
	if (p == 0)
		hog(delay_us);
	for (;;)
		pause();
}
