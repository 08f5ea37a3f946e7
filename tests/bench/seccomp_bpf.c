/* seccomp_bpf: write calyx's own seccomp filter, compiled to classic BPF,
 * to a file, so scripts/bench-startup.sh can hand the very same filter to
 * `bwrap --seccomp FD` for a like-for-like comparison.
 *
 *   seccomp_bpf OUT.bpf
 *
 * No copy of the rules: this links sandbox/seccomp.c from libcalyx.a and
 * is linked with -Wl,--wrap=seccomp_load, so the filter that
 * sbx_seccomp_load() builds is exported (seccomp_export_bpf) instead of
 * loaded. The filter is the one for a lease with network "none" and a
 * policy without syscalls.deny (the bench policy). Bench tool only; not
 * built by `make`.
 *
 * Build (the bench script does this):
 *   cc -std=gnu11 -D_GNU_SOURCE -O2 -Iinclude -Isandbox tests/bench/seccomp_bpf.c \
 *      build/libcalyx.a $(pkg-config --libs libsodium jansson libseccomp libcap-ng) \
 *      -Wl,--wrap=seccomp_load -o build/bench/seccomp_bpf */
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int out_fd = -1;

int __wrap_seccomp_load(const scmp_filter_ctx ctx);
int __wrap_seccomp_load(const scmp_filter_ctx ctx)
{
	return seccomp_export_bpf(ctx, out_fd);
}

int main(int argc, char **argv)
{
	cx_run_spec spec = { .network = CX_NET_NONE };
	cx_sandbox_config cfg = { .spec = &spec, .syscalls_deny = NULL, .cgroup_fd = -1 };
	cx_error err = { 0 };

	if (argc != 2) {
		fprintf(stderr, "usage: seccomp_bpf OUT.bpf\n");
		return 2;
	}
	out_fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out_fd < 0) {
		perror(argv[1]);
		return 1;
	}
	if (sbx_seccomp_load(&cfg, &err) < 0) {
		fprintf(stderr, "seccomp_bpf: %s\n", err.msg);
		return 1;
	}
	if (close(out_fd) < 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
