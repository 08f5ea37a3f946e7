/* shim_nobpf CMD [ARGS]: run CMD with bpf() failing (ENOSYS), as on a
 * kernel without BPF, for the benches' "fallback enforcer" rows: under it
 * calyx-exec's monitor falls back to polling cpu.stat (its result then
 * says cpu_enforcer "cgroup-poll"). Bench tool; no_new_privs is left off
 * so calyx-exec keeps its privileges. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	if (argc < 2 || !c || seccomp_attr_set(c, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
	    seccomp_rule_add(c, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(bpf), 0) < 0 || seccomp_load(c) < 0) {
		fprintf(stderr, "shim_nobpf: cannot install the filter\n");
		return 125;
	}
	execvp(argv[1], argv + 1);
	perror("shim_nobpf: execvp");
	return 127;
}
