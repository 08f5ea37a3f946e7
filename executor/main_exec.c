/* calyx-exec: run one command, authorized by a two-key lease.
 *
 *   calyx-exec [--config FILE] --lease LEASE [--result FILE] [--dry-run] [--timings]
 *   calyx-exec [--config FILE] --probe
 *
 * The front door: options, --probe, and what --dry-run prints. The run
 * itself is the pipeline in executor/run/ (run.h: load, verify, consume,
 * prepare, spawn + supervise, finish, record).
 *
 * Trust: usually runs as root on a lease file anyone may have written. The
 * configuration is root-owned (StrictModes); --config is honoured only when
 * the real uid is 0, so a narrow sudo rule cannot be pointed at a keyring
 * the caller controls. The clock is read once, here. No side effect
 * (ledger, audit, state) happens before the lease verified; --dry-run has
 * none. */
#include <getopt.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "calyx/config.h"
#include "calyx/fileio.h"
#include "calyx/monitor.h"
#include "calyx/policy.h"
#include "calyx/sandbox.h"
#include "calyx/timings.h"
#include "cli.h"
#include "ready.h"
#include "run/run.h"

static const char help_text[] =
	"usage: calyx-exec [--config FILE] --lease LEASE [--result FILE] [--dry-run] [--timings]\n"
	"  --config FILE   configuration (default " CX_CONFIG_DEFAULT "; honoured only for real uid 0)\n"
	"  --lease LEASE   the two-key signed lease to run\n"
	"  --result FILE   write a JSON result (status, reason, exit code, audit range)\n"
	"  --dry-run       verify and print the plan; nothing consumed, logged or executed\n"
	"  --timings       print the time of each phase on stderr at exit (also in the result)\n"
	"  --probe         print what this host supports, what the policy requires, and\n"
	"                  the host check: config, keyring, policy, host key, state and\n"
	"                  log dirs, run uids, exec guard, BPF monitor (shared or per-run);\n"
	"                  ends \"host ready\" or lists what is MISSING; changes nothing.\n"
	"                  exit 0 ready, 1 not ready, 125 a kernel layer is missing\n"
	"exit: the command's own code when it ran; 77 lease refused; 124 halted;\n"
	"      125 calyx-exec's own failure (also bad usage); 126 cannot execute; 127 not found\n";

static void print_support(const cx_host_support *h)
{
	printf("host support:\n");
	printf("  namespaces (pid mnt net ipc uts cgroup)  %s\n", h->ns_all ? "yes" : "NO");
	printf("  unprivileged user namespaces             %s (not used: calyx runs commands as an unprivileged host uid)\n",
	       h->userns ? "yes" : "no");
	printf("  new mount API (open_tree/move_mount)     %s\n", h->open_tree ? "yes" : "NO");
	if (h->landlock_abi)
		printf("  Landlock                                 ABI %d\n", h->landlock_abi);
	else
		printf("  Landlock                                 no\n");
	printf("  seccomp filters                          %s%s\n", h->seccomp_filter ? "yes" : "NO",
	       h->seccomp_kill_process ? " (kill_process available)" : "");
	printf("  cgroup layout                            %s\n", h->cgroup_layout);
	printf("  BPF type information (BTF)               %s\n", h->bpf_btf ? "yes" : "no");
	printf("  overlayfs                                %s\n", h->overlayfs ? "yes" : "not loaded");
}

/* --probe: host support, what the configured policy requires, and the
 * host check (ready.h), all read-only. */
static int probe_host(const char *config_path)
{
	cx_host_support h;
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	_cleanup_(cx_policy_free) cx_policy pol = { 0 };
	cx_error err = { 0 };
	bool missing = false;
	int r;

	cx_host_probe(&h);
	print_support(&h);
	r = cx_config_load(config_path, cx_trusted_owner(), &cfg, &err);
	if (r == 0)
		r = cx_policy_load(cfg.policy, cx_trusted_owner(), &pol, &err);
	if (r < 0) {
		cx_esc_line(stdout, "policy: not loaded (%s)", err.msg);
		printf("required by calyx itself:\n");
	} else {
		cx_esc_line(stdout, "policy %s (sha256:%.16s…) requires:", cfg.policy, pol.sha256_hex);
	}
	printf("  namespaces, new mount API, seccomp       %s\n",
	       h.ns_all && h.open_tree && h.seccomp_filter ? "present" : "MISSING");
	missing = !(h.ns_all && h.open_tree && h.seccomp_filter);
	if (r == 0 && pol.landlock_optional) {
		printf("  Landlock                                 optional (policy)\n");
	} else {
		printf("  Landlock                                 %s\n", h.landlock_abi ? "present" : "MISSING");
		missing |= h.landlock_abi == 0;
	}
	/* the rest of what a run checks at its start, as one table */
	int not_ready = cx_host_check(config_path, stdout);
	if (missing) {
		fprintf(stderr, "calyx-exec: error [E_LAYER]: this host lacks a layer the sandbox requires (see above)\n");
		return CX_EXIT_FAILURE;
	}
	return not_ready ? 1 : 0;
}

/* --dry-run: steps 1-2 and the ledger's read-only look; the plan. */
static int dry_run(cx_run *run)
{
	int code = cx_run_dry_check(run);
	if (code != CX_RUN_GO)
		return code;
	printf("dry run: lease verified against policy sha256:%s; nothing consumed, logged or executed\n",
	       run->pol.sha256_hex);
	cx_cli_print_lease(stdout, &run->lease, true);
	printf("plan: namespaces pid,mount,net,ipc,uts,cgroup (no user namespace); view = tmpfs root + listed paths; "
	       "Landlock, no capabilities, no_new_privs, seccomp; cgroup quotas as above\n");
	if (run->cfg.run_uid_fixed)
		printf("identity: uid %u gid %u (fixed run_uid, shared by every run); writable trees idmapped to their owners\n",
		       run->cfg.run_uid, run->cfg.run_gid);
	else
		printf("identity: a uid = gid of its own from %u..%u (run_uid_range); writable trees idmapped to their owners\n",
		       run->cfg.run_uid_first, run->cfg.run_uid_first + run->cfg.run_uid_count - 1);
	cx_run_write_result(run, "verified", NULL, 0, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "lease", required_argument, 0, 'l' },
					      { "result", required_argument, 0, 'r' },
					      { "dry-run", no_argument, 0, 'n' },
					      { "timings", no_argument, 0, 't' },
					      { "probe", no_argument, 0, 'p' },
					      { "help", no_argument, 0, 'h' },
					      { "version", no_argument, 0, 'V' },
					      { 0, 0, 0, 0 } };
	const char *config_path = CX_CONFIG_DEFAULT, *lease_path = NULL, *result_path = NULL;
	bool dry = false, config_given = false, probe = false, timings = false;
	cx_error err = { 0 };
	int c, code;

	cx_prog = "calyx-exec";
	/* from the start: a stray signal must not end a run half-recorded
	 * (a consumed lease that never ran, a run without its events) */
	cx_supervise_ignore_stray_signals();
	cx_timings_start();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			config_given = true;
			break;
		case 'l':
			lease_path = optarg;
			break;
		case 'r':
			result_path = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 't':
			timings = true;
			break;
		case 'p':
			probe = true;
			break;
		case 'h':
			fputs(help_text, stdout);
			return 0;
		case 'V':
			cx_cli_version();
			return 0;
		default:
			cx_err(&err, CX_E_USAGE, EINVAL, "bad usage (see 'calyx-exec --help')");
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
		}
	}
	cx_sanitize_stdio();
	if (probe && optind == argc)
		return probe_host(config_path);
	if (!lease_path || optind != argc) {
		cx_err(&err, CX_E_USAGE, EINVAL, "--lease LEASE is required (see 'calyx-exec --help')");
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	if (config_given && getuid() != 0) {
		cx_err(&err, CX_E_USAGE, EPERM,
		       "--config is honoured only when the real uid is 0 (drop --config to use %s)",
		       CX_CONFIG_DEFAULT);
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "calyx-exec: error: libsodium failed to initialise\n");
		return CX_EXIT_FAILURE;
	}
	cx_run *run = cx_run_new();
	run->config_path = config_path;
	run->lease_path = lease_path;
	run->result_path = result_path;
	run->dry_run = dry;
	run->now = (int64_t)time(NULL); /* the one clock reading */
	code = cx_run_load_verify(run);
	if (code == CX_RUN_GO)
		code = dry ? dry_run(run) : cx_run_execute(run);
	cx_run_free(run);
	if (timings)
		cx_timings_print(stderr);
	return code;
}
