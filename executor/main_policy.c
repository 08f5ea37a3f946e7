/* calyx-policy: policy tools for the security team.
 *
 *   calyx-policy check POLICY [LEASE]
 *
 * check: parse the policy strictly (exit 1 with the field named if it is
 * invalid); with LEASE, also check the lease body against it — policy hash
 * and every rule of "lease within policy" — without verifying signatures
 * (that is calyx-lease verify's job, which needs the keyring).
 * Text output shows every string of the policy through calyx/esc.h's rule
 * (a control or bidi character in a policy cannot rewrite the reviewer's
 * screen); --format json and sarif stay JSON.
 * Trust: runs as the reviewer on files under review; no privilege. */
#include <getopt.h>
#include <libgen.h>
#include <string.h>

#include "calyx/config.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/lease.h"
#include "calyx/lint.h"
#include "calyx/path.h"
#include "calyx/policydiff.h"
#include "calyx/policy.h"
#include "calyx/sandbox.h"
#include "cli.h"
#include "run/run.h"

#include <fcntl.h>
#include <sodium.h>
#include <time.h>

static const char usage[] =
	"usage: calyx-policy COMMAND ...\n"
	"  lint POLICY [--format text|json|sarif] [--fail-on error|warning|note|none]\n"
	"              [--host] [--config FILE]\n"
	"                        review a policy: findings with rule id, severity, location\n"
	"                        (JSON Pointer, line:column) and a fix; --host also checks the\n"
	"                        listed paths on this host; --config adds that configuration's\n"
	"                        state dir, keyring, policy and host key to the trust paths.\n"
	"                        exit 1 when a finding at or above --fail-on (default error)\n"
	"  explain POLICY [--no-host]  what any lease under this policy can at most do, which\n"
	"                        kernel layer enforces each part, and what this host has\n"
	"  diff OLD NEW [--format text|json]\n"
	"                        what the change from OLD to NEW widens, changes and narrows\n"
	"                        (widening first); exit 3 when it widens or changes anything\n"
	"  learn [--config FILE] [--workspace DIR] [--ro PATH]... [--rw PATH]...\n"
	"        [--limits JSON] [--format text|json] -- ARGV...\n"
	"                        (root) run ARGV in calyx-exec's sandbox, execute allowed across\n"
	"                        its view, writes always discarded (audited: run.learn), and print\n"
	"                        the policy fragment (commands, exec, read) and a lease body\n"
	"                        skeleton with limits from the measured peaks\n"
	"  check POLICY [--no-host]\n"
	"                        validate a policy file (strict: unknown keys, types, bounds);\n"
	"                        unless --no-host, its commands and exec entries must be on this\n"
	"                        host, executable and free of symlinks (exit 1 otherwise)\n"
	"  check POLICY LEASE [--no-host]\n"
	"                        also check the lease body fits under the policy\n"
	"                        (signatures are not checked: use 'calyx-lease verify')\n"
	"exit: 0 ok, 1 policy invalid (lint: findings), 3 diff widens/changes, 77 lease outside\n"
	"      the policy, 2 usage\n";

/* The policy's commands and exec entries as this host has them: each
 * must exist with no symlink on its way and be executable (an exec entry:
 * or a directory), since the sandbox opens them so; a symlink is reported
 * with the real path to write instead. Workspace paths (/work/...) depend
 * on each lease's workspace: checked by calyx-lease verify and calyx-exec.
 * Returns the number of problems, each printed on one line. */
static int check_policy_host(const cx_policy *p)
{
	const cx_strv *lists[] = { &p->commands, &p->exec };
	static const char *const what[] = { "policy.commands", "policy.exec" };
	int n = 0;

	for (size_t l = 0; l < CX_ARRAY_SIZE(lists); l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			const char *x = lists[l]->v[i];
			cx_error err = { 0 };
			char w[48];

			if (cx_path_within(x, "/work")) {
				cx_esc_line(stdout, "  - %s '%s' is in the workspace: checked per lease, on the host that runs it",
					    what[l], x);
				continue;
			}
			snprintf(w, sizeof(w), "%s entry", what[l]);
			if (cx_sandbox_check_exec_path(x, w, l == 1, &err) < 0) {
				cx_esc_line(stdout, "  ! on this host: %s [%s]", err.msg, cx_reason_name(err.reason));
				n++;
			}
		}
	if (n)
		printf("policy entries this host cannot run: %d (fix them, or --no-host when the policy is for other hosts)\n",
		       n);
	return n;
}

static int cmd_check(int argc, char **argv)
{
	_cleanup_free_ uint8_t *pbuf = NULL, *lbuf = NULL;
	size_t plen, llen;
	_cleanup_(cx_policy_free) cx_policy pol = { 0 };
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	_cleanup_(cx_run_spec_free) cx_run_spec eff = { 0 };
	cx_error err = { 0 };
	int r;

	bool host = true;

	if (argc >= 2 && strcmp(argv[argc - 1], "--no-host") == 0) {
		host = false;
		argc--;
	}
	if (argc < 2 || argc > 3)
		return cx_cli_usage("usage: check POLICY [LEASE] [--no-host]");
	r = cx_read_file(argv[1], "policy", CX_POLICY_MAX_BYTES, 0, 0, &pbuf, &plen, &err);
	if (r == 0)
		r = cx_policy_parse(pbuf, plen, &pol, &err);
	if (r < 0) {
		cx_err_prefix(&err, "%s", argv[1]);
		return cx_cli_fail(&err, 1);
	}
	cx_esc_line(stdout, "policy OK: %s sha256:%s", argv[1], pol.sha256_hex);
	printf("  %zu commands, %zu read trees, %zu write trees, %zu env names leasable, network:%s%s\n",
	       pol.commands.n, pol.read.n, pol.write.n, pol.env_allow.n,
	       (pol.network_mask & 1) ? " none" : "", (pol.network_mask & 2) ? " loopback" : "");
	if (pol.exec.n)
		printf("  %zu exec entries (what runs may execute besides their command)\n", pol.exec.n);
	if (host && check_policy_host(&pol) > 0)
		return 1;
	if (argc == 3) {
		r = cx_lease_read(argv[2], &lbuf, &llen, &err);
		if (r == 0)
			r = cx_envelope_parse(lbuf, llen, 0, CX_LEASE_SIGS, &e, &err);
		if (r == 0)
			r = cx_lease_body_parse(e.payload, e.payload_len, &l, &err);
		if (r == 0 && strcmp(l.policy_sha256, pol.sha256_hex) != 0)
			r = cx_err(&err, CX_E_POLICY_HASH, EPERM,
				   "lease is bound to policy %.16s…, not to this policy (%.16s…)",
				   l.policy_sha256, pol.sha256_hex);
		/* which host it is for needs the host's config (calyx-lease
		 * verify --host-id); that it names one is the policy's rule */
		if (r == 0 && pol.require_audience && !l.audience)
			r = cx_err(&err, CX_E_AUDIENCE, EPERM,
				   "lease names no audience and the policy requires one (issue it with \"audience\": the host's host_id)");
		if (r == 0)
			r = cx_policy_resolve(&pol, &l.spec, &eff, &err);
		if (r == 0 && host)
			r = cx_sandbox_check_exec_host(&l.spec, &err);
		if (r < 0)
			return cx_cli_fail(&err, CX_EXIT_REFUSED);
		printf("lease %s fits under this policy (signatures not checked)\n", l.lease_id);
	}
	return 0;
}

static void list(const char *label, const cx_strv *v, const char *none)
{
	printf("  %-10s", label);
	if (!v->n)
		printf(" %s", none);
	for (size_t i = 0; i < v->n; i++)
		cx_esc_printf(stdout, "%s%s", i ? ", " : " ", v->v[i]);
	printf("\n");
}

static void human_bytes(uint64_t b, char *out, size_t len)
{
	if (b >= (1ull << 30) && b % (1ull << 30) == 0)
		snprintf(out, len, "%llu GiB", (unsigned long long)(b >> 30));
	else if (b >= (1ull << 20) && b % (1ull << 20) == 0)
		snprintf(out, len, "%llu MiB", (unsigned long long)(b >> 20));
	else
		snprintf(out, len, "%llu bytes", (unsigned long long)b);
}

/* explain: the policy as the ceiling of every lease, in plain words. */
static int cmd_explain(int argc, char **argv)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	_cleanup_(cx_policy_free) cx_policy p = { 0 };
	cx_error err = { 0 };
	bool host = !(argc == 3 && strcmp(argv[2], "--no-host") == 0);
	char a[32], b[32];

	if (argc != 2 && !(argc == 3 && !host))
		return cx_cli_usage("usage: explain POLICY [--no-host]");
	if (cx_read_file(argv[1], "policy", CX_POLICY_MAX_BYTES, 0, 0, &buf, &len, &err) < 0 ||
	    cx_policy_parse(buf, len, &p, &err) < 0)
		return cx_cli_fail(&err, 1);
	cx_esc_line(stdout, "policy %s (sha256:%s)", argv[1], p.sha256_hex);
	printf("\n");
	printf("Any lease under this policy can at most:\n");
	list("run", &p.commands, "nothing");
	printf("             each directly with execve (no shell, no PATH search)\n");
	list("execute", &p.exec, "nothing but the command");
	printf("             what the command's processes may execve besides it (a directory:\n"
	       "             every file beneath): a lease names the subset it needs. Landlock lets\n"
	       "             only the command, those entries and their ELF or #! interpreters\n"
	       "             execute; writable trees are mounted noexec unless an entry lies in\n"
	       "             them, so nothing the run writes runs (nor maps executable) otherwise\n");
	list("read", &p.read, "(nothing beyond what it may write)");
	list("write", &p.write, "nothing");
	printf("             through an overlay: committed only if the command and the lease's\n"
	       "             validate step exit 0, otherwise discarded; each commit can be undone\n");
	printf("  %-10s %s\n", "network",
	       (p.network_mask & 2) ? "loopback inside its own network namespace, nothing else"
				    : "none (a network namespace with only a down loopback)");
	printf("  %-10s", "env");
	for (size_t i = 0; i < p.env_set.n; i++)
		cx_esc_printf(stdout, " %s=%s", p.env_set.name[i], p.env_set.value[i]);
	printf("%s", p.env_allow.n ? "; the lease may add" : "; the lease may add nothing");
	for (size_t i = 0; i < p.env_allow.n; i++)
		cx_esc_printf(stdout, " %s", p.env_allow.v[i]);
	printf("\n");
	human_bytes(p.max.v[CX_LIM_MEMORY_BYTES], a, sizeof(a));
	printf("  %-10s CPU %llu ms, memory %s (no swap), %llu processes, %llu ms wall clock\n",
	       "consume", (unsigned long long)p.max.v[CX_LIM_CPU_MS], a,
	       (unsigned long long)p.max.v[CX_LIM_PIDS], (unsigned long long)p.max.v[CX_LIM_WALL_MS]);
	human_bytes(p.max.v[CX_LIM_FSIZE_BYTES], a, sizeof(a));
	human_bytes(p.max.v[CX_LIM_TMP_BYTES], b, sizeof(b));
	printf("             %llu open files, files up to %s, /tmp up to %s%s\n",
	       (unsigned long long)p.max.v[CX_LIM_NOFILE], a, b, p.dev_shm ? " (and /dev/shm)" : "");
	printf("  %-10s signed by one human and one agent key; valid at most %lld s; clock skew\n"
	       "             %lld s; %s; run once per host\n",
	       "leases", (long long)p.max_lifetime_s, (long long)p.clock_skew_s,
	       p.require_audience ? "bound to one host (audience required)"
				  : "any host may run it (no audience required)");
	if (p.syscalls_deny.n)
		list("denied", &p.syscalls_deny, "");
	if (p.unix_sockets.n) {
		list("connect", &p.unix_sockets, "");
		printf("             host unix sockets, where a leased tree holds them; no other host\n"
		       "             socket in a leased tree answers a run\n");
	}
	printf("\nEnforced by:\n"
	       "  file view   mount namespace: a tmpfs root with only the leased paths (ro unless\n"
	       "              writable), /dev minimal, /proc of its own pid namespace\n"
	       "  Landlock    read/write/execute rights matching the view%s\n"
	       "  seccomp     no mounts, namespaces, ptrace, bpf, keyrings, io_uring, modules,\n"
	       "              setuid bits, non-AF_UNIX sockets%s, foreign ABIs\n"
	       "  identity    an unprivileged uid (each run its own, unless the config fixes one),\n"
	       "              no capabilities, no_new_privs; writable trees idmapped: the run owns\n"
	       "              what the tree root's owner owns, its writes land as that owner\n"
	       "              %s\n"
	       "  cgroups     memory, pids, CPU (BPF in-kernel budget, or a polled fence), wall clock\n"
	       "  exec guard  BPF: running an ELF loader as a program (ld.so PROG) is killed before it\n"
	       "              runs; every failed exec audited%s\n",
	       p.landlock_optional ? " (OPTIONAL: runs without it on kernels lacking it)" : "",
	       (p.network_mask & 2) ? " (inet only for loopback)" : "",
	       p.root_owned_trees ? "(root-owned trees ALLOWED: there the run owns root's files)"
				  : "(root-owned trees refused)",
	       p.exec_guard_optional ? " (OPTIONAL: runs without it where BPF cannot attach)" : "");
	if (host) {
		cx_host_support h;
		cx_host_probe(&h);
		printf("\nThis host: namespaces %s, Landlock %s, seccomp %s, cgroups %s, BTF %s, overlayfs %s\n",
		       h.ns_all ? "yes" : "NO", h.landlock_abi ? "yes" : "NO",
		       h.seccomp_filter ? "yes" : "NO", h.cgroup_layout, h.bpf_btf ? "yes" : "no",
		       h.overlayfs ? "yes" : "not loaded");
		if (h.landlock_abi)
			printf("           (Landlock ABI %d)\n", h.landlock_abi);
	}
	return 0;
}

/* ---- diff ----------------------------------------------------------------- */

static int load_policy(const char *path, cx_policy *p, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r = cx_read_file(path, "policy", CX_POLICY_MAX_BYTES, 0, 0, &buf, &len, err);

	if (r == 0)
		r = cx_policy_parse(buf, len, p, err);
	if (r < 0)
		cx_err_prefix(err, "%s", path);
	return r;
}

static void diff_text(const char *a, const char *b, const cx_policy *pa, const cx_policy *pb,
		      const cx_policy_diff *d, const size_t count[3])
{
	static const char *const heads[] = { "WIDENED", "CHANGED", "NARROWED" };

	cx_esc_line(stdout, "policy diff %s (sha256:%.16s…) -> %s (sha256:%.16s…)", a, pa->sha256_hex, b,
		    pb->sha256_hex);
	for (int k = CX_WIDENED; k <= CX_NARROWED; k++) {
		if (!count[k])
			continue;
		printf("\n%s (%zu)\n", heads[k], count[k]);
		for (size_t i = 0; i < d->n; i++) {
			const cx_change *c = &d->c[i];
			if (c->kind != (cx_change_kind)k)
				continue;
			cx_esc_printf(stdout, "  %-26s ", c->field);
			if (c->old && c->new_)
				cx_esc_printf(stdout, "%s -> %s", c->old, c->new_);
			else
				cx_esc_printf(stdout, "%s %s", c->new_ ? "+" : "-", c->new_ ? c->new_ : c->old);
			cx_esc_line(stdout, "%s%s%s", c->note ? "  (" : "", c->note ? c->note : "", c->note ? ")" : "");
		}
	}
	if (!d->n)
		printf("\nno difference in what a lease can do\n");
	printf("\n%zu widened, %zu changed, %zu narrowed\n", count[0], count[1], count[2]);
}

static json_t *diff_json(const char *a, const char *b, const cx_policy *pa, const cx_policy *pb,
			 const cx_policy_diff *d, const size_t count[3])
{
	json_t *arr = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const cx_change *c = &d->c[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "kind",
						     cx_change_kind_name(c->kind), "field", c->field,
						     "old", c->old, "new", c->new_, "note", c->note));
	}
	return json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:o, s:{s:I, s:I, s:I}}", "old", "path", a,
			 "sha256", pa->sha256_hex, "new", "path", b, "sha256", pb->sha256_hex,
			 "changes", arr, "counts", "widened", (json_int_t)count[0], "changed",
			 (json_int_t)count[1], "narrowed", (json_int_t)count[2]);
}

static int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = { { "format", required_argument, 0, 'f' },
					      { 0, 0, 0, 0 } };
	bool json = false;
	_cleanup_(cx_policy_free) cx_policy a = { 0 }, b = { 0 };
	_cleanup_(cx_policy_diff_free) cx_policy_diff d = { 0 };
	cx_error err = { 0 };
	size_t count[3] = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f' && (strcmp(optarg, "text") == 0 || strcmp(optarg, "json") == 0))
			json = strcmp(optarg, "json") == 0;
		else
			return cx_cli_usage("usage: diff OLD NEW [--format text|json]");
	}
	if (optind != argc - 2)
		return cx_cli_usage("usage: diff OLD NEW [--format text|json]");
	if (load_policy(argv[optind], &a, &err) < 0 || load_policy(argv[optind + 1], &b, &err) < 0)
		return cx_cli_fail(&err, 1);
	cx_policy_diff_compute(&a, &b, &d);
	for (size_t i = 0; i < d.n; i++)
		count[d.c[i].kind]++;
	if (json) {
		_cleanup_json_ json_t *j = diff_json(argv[optind], argv[optind + 1], &a, &b, &d, count);
		_cleanup_free_ char *s = j ? cx_json_dump_pretty(j) : NULL;
		CX_CHECK(s);
		fputs(s, stdout);
	} else {
		diff_text(argv[optind], argv[optind + 1], &a, &b, &d, count);
	}
	return count[CX_WIDENED] || count[CX_CHANGED] ? 3 : 0;
}

/* ---- lint ---------------------------------------------------------------- */

static void add_dir_of(cx_strv *v, const char *path)
{
	_cleanup_free_ char *d = cx_strdup(path);
	const char *dn = dirname(d);

	if (strcmp(dn, "/") != 0 && !cx_strv_contains(v, dn))
		cx_strv_push(v, dn);
}

/* A configuration names the calyx trust paths of this host. Read without
 * ownership checks: the reviewer may be looking at a copy. */
static int lint_config(const char *path, cx_lint_opts *o, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	_cleanup_(cx_config_free) cx_config c = { 0 };
	int r;

	r = cx_read_file(path, "configuration", CX_CONFIG_MAX_BYTES, 0, 0, &buf, &len, err);
	if (r == 0)
		r = cx_config_parse(buf, len, &c, err);
	if (r < 0) {
		cx_err_prefix(err, "%s", path);
		return r;
	}
	cx_strv_push(&o->trust, c.state_dir);
	add_dir_of(&o->trust, c.audit_log);
	add_dir_of(&o->trust, c.keyring);
	add_dir_of(&o->trust, c.policy);
	add_dir_of(&o->trust, c.host_key);
	if (path[0] == '/')
		add_dir_of(&o->trust, path);
	cx_strv_push(&o->secrets, c.host_key);
	add_dir_of(&o->secrets, c.keyring);
	return 0;
}

static void lint_text(const char *file, const cx_lint_result *res)
{
	size_t c[3];

	for (size_t i = 0; i < res->n; i++) {
		const cx_finding *f = &res->f[i];
		cx_esc_line(stdout, "%s:%u:%u: %s: %s [%s %s]", file, f->line, f->column,
			    cx_severity_name(f->rule->severity), f->message, f->rule->id, f->rule->name);
		cx_esc_line(stdout, "    at %s; fix: %s", f->pointer[0] ? f->pointer : "(document)", f->rule->fix);
	}
	cx_lint_counts(res, c);
	if (res->n)
		cx_esc_line(stdout, "%s: %zu error%s, %zu warning%s, %zu note%s", file, c[2],
			    c[2] == 1 ? "" : "s", c[1], c[1] == 1 ? "" : "s", c[0], c[0] == 1 ? "" : "s");
	else
		cx_esc_line(stdout, "%s: no findings", file);
}

static json_t *lint_json(const char *file, const cx_lint_result *res)
{
	json_t *arr = json_array();
	size_t c[3];

	for (size_t i = 0; i < res->n; i++) {
		const cx_finding *f = &res->f[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "rule",
						     f->rule->id, "name", f->rule->name, "severity",
						     cx_severity_name(f->rule->severity), "pointer",
						     f->pointer, "line", (int)f->line, "column",
						     (int)f->column, "message", f->message, "fix",
						     f->rule->fix));
	}
	cx_lint_counts(res, c);
	return json_pack("{s:s, s:s, s:b, s:o, s:{s:I, s:I, s:I}}", "policy", file, "sha256",
			 res->sha256_hex, "loadable", res->valid, "findings", arr, "counts", "error",
			 (json_int_t)c[2], "warning", (json_int_t)c[1], "note", (json_int_t)c[0]);
}

/* A URI reference for the policy file: file:// for an absolute path,
 * a relative reference otherwise; bytes outside RFC 3986's unreserved
 * set and '/' are percent-encoded. */
static char *file_uri(const char *path)
{
	size_t n = strlen(path);
	char *out = cx_calloc(n * 3 + 8, 1), *o = out;

	if (path[0] == '/')
		o = stpcpy(o, "file://");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p))
			*o++ = (char)*p;
		else
			o += sprintf(o, "%%%02X", *p);
	}
	return out;
}

/* SARIF 2.1.0: one run, the rules as tool.driver.rules, a result per
 * finding on the policy file (columns in code points, as jsonpos counts). */
static json_t *lint_sarif(const char *file, const cx_lint_result *res)
{
	size_t nrules;
	const cx_lint_rule *rules = cx_lint_rules(&nrules);
	_cleanup_free_ char *uri = file_uri(file);
	json_t *jr = json_array(), *results = json_array();

	for (size_t i = 0; i < nrules; i++)
		json_array_append_new(
			jr, json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}}", "id", rules[i].id, "name",
				      rules[i].name, "shortDescription", "text", rules[i].summary, "help",
				      "text", rules[i].fix, "defaultConfiguration", "level",
				      cx_severity_name(rules[i].severity)));
	for (size_t i = 0; i < res->n; i++) {
		const cx_finding *f = &res->f[i];
		_cleanup_free_ char *text = NULL;
		if (asprintf(&text, "%s (fix: %s)", f->message, f->rule->fix) < 0)
			text = NULL;
		CX_CHECK(text);
		json_array_append_new(
			results,
			json_pack("{s:s, s:I, s:s, s:{s:s}, s:[{s:{s:{s:s, s:i}, s:{s:i, s:i}}, s:[{s:s, s:s}]}]}",
				  "ruleId", f->rule->id, "ruleIndex", (json_int_t)(f->rule - rules),
				  "level", cx_severity_name(f->rule->severity), "message", "text", text,
				  "locations", "physicalLocation", "artifactLocation", "uri", uri,
				  "index", 0, "region", "startLine", (int)f->line, "startColumn",
				  (int)f->column, "logicalLocations", "fullyQualifiedName",
				  f->pointer[0] ? f->pointer : "/", "kind", "member"));
	}
	return json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, s:s, s:[{s:{s:s}, s:{s:s}}], s:o}]}",
			 "$schema", "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0",
			 "runs", "tool", "driver", "name", "calyx-policy", "version", CX_VERSION,
			 "rules", jr,
			 "columnKind", "unicodeCodePoints", "artifacts", "location", "uri", uri,
			 "hashes", "sha-256", res->sha256_hex, "results", results);
}

static void lint_opts_free(cx_lint_opts *o)
{
	cx_strv_free(&o->trust);
	cx_strv_free(&o->secrets);
}

static int cmd_lint(int argc, char **argv)
{
	static const struct option opts[] = { { "format", required_argument, 0, 'f' },
					      { "fail-on", required_argument, 0, 'F' },
					      { "host", no_argument, 0, 'H' },
					      { "config", required_argument, 0, 'c' },
					      { 0, 0, 0, 0 } };
	const char *format = "text", *cfg = NULL;
	cx_severity fail_on = CX_SEV_ERROR;
	bool never_fail = false;
	_cleanup_(lint_opts_free) cx_lint_opts lo = { 0 };
	_cleanup_(cx_lint_result_free) cx_lint_result res = { 0 };
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	cx_error err = { 0 };
	int c, code = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f' && (strcmp(optarg, "text") == 0 || strcmp(optarg, "json") == 0 ||
				 strcmp(optarg, "sarif") == 0))
			format = optarg;
		else if (c == 'F' && strcmp(optarg, "none") == 0)
			never_fail = true;
		else if (c == 'F' && cx_severity_parse(optarg, &fail_on) == 0)
			;
		else if (c == 'H')
			lo.host = true;
		else if (c == 'c')
			cfg = optarg;
		else
			return cx_cli_usage("usage: lint POLICY [--format text|json|sarif] [--fail-on error|warning|note|none] [--host] [--config FILE]");
	}
	if (optind != argc - 1)
		return cx_cli_usage("usage: lint POLICY [--format text|json|sarif] [--fail-on error|warning|note|none] [--host] [--config FILE]");
	if ((cfg && lint_config(cfg, &lo, &err) < 0) ||
	    cx_read_file(argv[optind], "policy", CX_POLICY_MAX_BYTES, 0, 0, &buf, &len, &err) < 0 ||
	    cx_lint_policy(buf, len, &lo, &res, &err) < 0)
		return cx_cli_fail(&err, 1);
	if (strcmp(format, "text") == 0) {
		lint_text(argv[optind], &res);
	} else {
		_cleanup_json_ json_t *j = strcmp(format, "json") == 0 ? lint_json(argv[optind], &res)
									: lint_sarif(argv[optind], &res);
		_cleanup_free_ char *s = j ? cx_json_dump_pretty(j) : NULL;
		CX_CHECK(s);
		fputs(s, stdout);
	}
	for (size_t i = 0; i < res.n && !never_fail; i++)
		if (res.f[i].rule->severity >= fail_on)
			code = 1;
	return code;
}

/* learn: the run itself is executor/run/learn.c's. */
static int cmd_learn(int argc, char **argv)
{
	static const char use[] =
		"usage: learn [--config FILE] [--workspace DIR] [--ro PATH]... [--rw PATH]... [--limits JSON] [--format text|json] -- ARGV...";
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "workspace", required_argument, 0, 'w' },
					      { "ro", required_argument, 0, 'r' },
					      { "rw", required_argument, 0, 'W' },
					      { "limits", required_argument, 0, 'l' },
					      { "format", required_argument, 0, 'f' },
					      { 0, 0, 0, 0 } };
	cx_learn_args a = { 0 };
	const char *config = CX_CONFIG_DEFAULT;
	int c, code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'w': a.workspace = optarg; break;
		case 'r': CX_CHECK(cx_strv_push(&a.ro, optarg) == 0); break;
		case 'W': CX_CHECK(cx_strv_push(&a.rw, optarg) == 0); break;
		case 'l': a.limits_json = optarg; break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return cx_cli_usage(use);
			a.json = strcmp(optarg, "json") == 0;
			break;
		default: return cx_cli_usage(use);
		}
	}
	if (optind >= argc)
		return cx_cli_usage(use);
	for (int i = optind; i < argc; i++)
		CX_CHECK(cx_strv_push(&a.argv, argv[i]) == 0);
	if (getuid() != 0 || geteuid() != 0) {
		fprintf(stderr, "calyx-policy: error [E_USAGE]: learn must run as root (it builds the same sandbox as calyx-exec: namespaces, cgroups, BPF)\n");
		code = 2;
	} else if (sodium_init() < 0) {
		fprintf(stderr, "calyx-policy: error: libsodium failed to initialise\n");
		code = CX_EXIT_FAILURE;
	} else {
		cx_supervise_ignore_stray_signals();
		/* The job's stdout goes to stderr: stdout is the fragment's
		 * (--format json must stay parseable). */
		int keep = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		FILE *out = keep >= 0 ? fdopen(keep, "w") : NULL;
		if (!out || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
			fprintf(stderr, "calyx-policy: error: cannot set stdout aside: %s\n", strerror(errno));
			code = CX_EXIT_FAILURE;
		} else {
			cx_run *run = cx_run_new();
			run->config_path = config;
			run->now = (int64_t)time(NULL);
			run->learn_args = &a;
			code = cx_run_learn(run, out);
			cx_run_free(run);
		}
		if (out && fclose(out) != 0 && code == 0)
			code = CX_EXIT_FAILURE;
	}
	cx_strv_free(&a.argv);
	cx_strv_free(&a.ro);
	cx_strv_free(&a.rw);
	return code;
}

int main(int argc, char **argv)
{
	cx_prog = "calyx-policy";
	static const cx_cli_cmd cmds[] = { { "check", cmd_check }, { "explain", cmd_explain },
					   { "lint", cmd_lint },
					   { "diff", cmd_diff },
					   { "learn", cmd_learn },
					   { NULL, NULL } };
	return cx_cli_dispatch(argc, argv, usage, cmds);
}
