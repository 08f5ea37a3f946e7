/* seccomp_bpf: write calyx's own seccomp filter, compiled to classic BPF,
 * to a file, so scripts/bench-startup.sh can hand the very same filter to
 * `bwrap --seccomp FD` for a like-for-like comparison; and, optionally, the
 * same rules as an OCI runtime-spec "seccomp" object for crun.
 *
 *   seccomp_bpf OUT.bpf [OUT-oci.json]
 *
 * No copy of the rules: this links sandbox/seccomp.c from libcalyx.a and
 * writes the program sbx_seccomp_prepare() compiles (what calyx-exec's
 * payload installs); linked with -Wl,--wrap=seccomp_init,
 * --wrap=seccomp_rule_add_array, each rule it adds is recorded on its way
 * to libseccomp. The filter is the one for a
 * lease with network "none" and a policy without syscalls.deny (the bench
 * policy). Bench tool only; not built by `make`.
 *
 * The OCI form names syscalls, so a rule on a number this libseccomp has no
 * name for (calyx adds a few newer syscalls by number) cannot be expressed:
 * each one is listed on stdout ("oci-skipped NR"), and the count of rules
 * written as "oci-rules N", for the bench to report.
 *
 * Build (the bench script does this):
 *   cc -std=gnu11 -D_GNU_SOURCE -O2 -Iinclude -Isandbox tests/bench/seccomp_bpf.c \
 *      build/libcalyx.a $(pkg-config --libs libsodium jansson libseccomp libcap-ng) \
 *      -Wl,--wrap=seccomp_init,--wrap=seccomp_rule_add_array \
 *      -o build/bench/startup/seccomp_bpf */
#include <fcntl.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int out_fd = -1;
static FILE *oci;	     /* the OCI "seccomp" object, or NULL */
static uint32_t def_action; /* the filter's default action */
static unsigned oci_rules;
static int oci_failed;

scmp_filter_ctx __real_seccomp_init(uint32_t def_action);
scmp_filter_ctx __wrap_seccomp_init(uint32_t action);
int __real_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				  unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int __wrap_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				  unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);

/* The OCI spelling of a libseccomp action; errno in *e for SCMP_ACT_ERRNO. */
static const char *action_name(uint32_t a, unsigned *e)
{
	*e = 0;
	if (a == SCMP_ACT_ALLOW)
		return "SCMP_ACT_ALLOW";
	if (a == SCMP_ACT_KILL_PROCESS)
		return "SCMP_ACT_KILL_PROCESS";
	if (a == SCMP_ACT_KILL)
		return "SCMP_ACT_KILL";
	if ((a & 0xffff0000u) == SCMP_ACT_ERRNO(0)) {
		*e = a & 0xffffu;
		return "SCMP_ACT_ERRNO";
	}
	return NULL;
}

static const char *op_name(enum scmp_compare op)
{
	static const char *const names[] = {
		[SCMP_CMP_NE] = "SCMP_CMP_NE", [SCMP_CMP_LT] = "SCMP_CMP_LT",
		[SCMP_CMP_LE] = "SCMP_CMP_LE", [SCMP_CMP_EQ] = "SCMP_CMP_EQ",
		[SCMP_CMP_GE] = "SCMP_CMP_GE", [SCMP_CMP_GT] = "SCMP_CMP_GT",
		[SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
	};
	return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : NULL;
}

/* The OCI name of the native ABI, the only one in calyx's filter. */
static const char *arch_name(void)
{
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64: return "SCMP_ARCH_X86_64";
	case SCMP_ARCH_AARCH64: return "SCMP_ARCH_AARCH64";
	case SCMP_ARCH_RISCV64: return "SCMP_ARCH_RISCV64";
	case SCMP_ARCH_PPC64LE: return "SCMP_ARCH_PPC64LE";
	case SCMP_ARCH_S390X: return "SCMP_ARCH_S390X";
	default: return "SCMP_ARCH_NATIVE";
	}
}

scmp_filter_ctx __wrap_seccomp_init(uint32_t action)
{
	def_action = action;
	return __real_seccomp_init(action);
}

/* Record the rule as one OCI "syscalls" entry: entries (and so rules) on
 * one syscall are OR'ed, the args of one entry AND'ed, as in libseccomp. */
int __wrap_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				  unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	if (oci) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, syscall);
		unsigned e;
		const char *an = action_name(action, &e);

		if (!name) {
			printf("oci-skipped %d\n", syscall);
		} else if (!an) {
			fprintf(stderr, "seccomp_bpf: action %#x has no OCI name\n", action);
			oci_failed = 1;
		} else {
			fprintf(oci, "%s\n    { \"names\": [\"%s\"], \"action\": \"%s\"", oci_rules ? "," : "",
				name, an);
			if (e)
				fprintf(oci, ", \"errnoRet\": %u", e);
			if (arg_cnt) {
				fprintf(oci, ", \"args\": [");
				for (unsigned i = 0; i < arg_cnt; i++) {
					const char *op = op_name(arg_array[i].op);
					if (!op) {
						fprintf(stderr, "seccomp_bpf: comparison %d has no OCI name\n",
							arg_array[i].op);
						oci_failed = 1;
						op = "?";
					}
					/* For MASKED_EQ, value is the mask and valueTwo the
					 * expected value (datum_a, datum_b), as in libseccomp. */
					fprintf(oci,
						"%s{ \"index\": %u, \"value\": %" PRIu64 ", \"valueTwo\": %" PRIu64
						", \"op\": \"%s\" }",
						i ? ", " : "", arg_array[i].arg, (uint64_t)arg_array[i].datum_a,
						(uint64_t)arg_array[i].datum_b, op);
				}
				fprintf(oci, "]");
			}
			fprintf(oci, " }");
			oci_rules++;
		}
		free(name);
	}
	return __real_seccomp_rule_add_array(ctx, action, syscall, arg_cnt, arg_array);
}

int main(int argc, char **argv)
{
	cx_run_spec spec = { .network = CX_NET_NONE };
	cx_sandbox_config cfg = { .spec = &spec, .syscalls_deny = NULL, .cgroup_fd = -1 };
	cx_error err = { 0 };
	char *body = NULL;
	size_t body_len = 0;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: seccomp_bpf OUT.bpf [OUT-oci.json]\n");
		return 2;
	}
	out_fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out_fd < 0) {
		perror(argv[1]);
		return 1;
	}
	/* The rules are collected in memory: the default action heads the
	 * object, and it is known only once the filter has been built. */
	if (argc == 3 && !(oci = open_memstream(&body, &body_len))) {
		perror("open_memstream");
		return 1;
	}
	/* calyx-exec's own compile (no cache): the program the payload installs */
	static sbx_filter f;
	if (sbx_seccomp_prepare(&cfg, &f, &err) < 0) {
		fprintf(stderr, "seccomp_bpf: %s\n", err.msg);
		return 1;
	}
	size_t n = f.len * sizeof(f.insns[0]);
	if (write(out_fd, f.insns, n) != (ssize_t)n || close(out_fd) < 0) {
		perror(argv[1]);
		return 1;
	}
	if (oci) {
		unsigned e;
		const char *da = action_name(def_action, &e);
		FILE *f;

		if (fclose(oci) != 0 || oci_failed || !da) {
			fprintf(stderr, "seccomp_bpf: cannot express the filter in OCI form\n");
			return 1;
		}
		if (!(f = fopen(argv[2], "w"))) {
			perror(argv[2]);
			return 1;
		}
		fprintf(f, "{ \"defaultAction\": \"%s\"", da);
		if (e)
			fprintf(f, ", \"defaultErrnoRet\": %u", e);
		fprintf(f, ",\n  \"architectures\": [\"%s\"],\n  \"syscalls\": [%s\n  ] }\n",
			arch_name(), body ? body : "");
		free(body);
		if (fclose(f) != 0) {
			perror(argv[2]);
			return 1;
		}
		printf("oci-rules %u\n", oci_rules);
	}
	return 0;
}
