/* shim_anyfilter CMD [ARGS]: run CMD under a seccomp filter that allows
 * everything: what having any filter at all costs a syscall on this kernel
 * (the floor under calyx's own rules, for bench-overhead). Bench tool. */
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	if (argc < 2 || !c || seccomp_load(c) < 0) {
		fprintf(stderr, "shim_anyfilter: cannot install the filter\n");
		return 125;
	}
	execv(argv[1], argv + 1);
	perror("shim_anyfilter: execv");
	return 127;
}
