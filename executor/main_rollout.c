/* calyx-rollout: plan, review, sign and verify rollouts of a pool lease,
 * and write and verify their control documents (issue 18); start, control
 * and status over etcd are in rollout_etcd_cli.c (driving them, the
 * agents, comes next).
 *
 *   calyx-rollout plan --lease L (--hosts H,...|--hosts-file F) --tiers 5,25,100 [...] (-o R|--dry-run)
 *   calyx-rollout show [--keyring K] [--lease L] R
 *   calyx-rollout sign --key NAME.key [--lease L] [--yes] R
 *   calyx-rollout verify --keyring K --lease L [--pool-hosts H,...|--pool-hosts-file F] R
 *   calyx-rollout control --key NAME.key --rollout R --seq N --action A [--tier N] -o C
 *   calyx-rollout verify-control --keyring K --rollout R [--after-seq N] C
 *   calyx-rollout start --config C --lease L R
 *   calyx-rollout pause|resume|halt|rollback --config C --key K ROLLOUT_ID
 *   calyx-rollout approve --config C --key K --tier N ROLLOUT_ID
 *   calyx-rollout status --config C [--json] ROLLOUT_ID
 *
 * Exit codes: 0 ok; 77 a document refused (verify, verify-control, show);
 * 1 invalid input (a plan, a document to sign or a control document that
 * breaks a rule); 2 usage; 125 calyx's own failure (I/O, keys, keyring).
 * Every refusal and error is one line (cx_cli_fail).
 *
 * Trust: runs as the planner or a signer (any user). Secret seeds are read
 * only from files with no group/other permissions and wiped after use.
 * Nothing is signed that does not parse as a valid document; every string
 * shown goes through calyx/esc.h's rule, like calyx-lease's printer. */
#include <getopt.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/esc.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/policy.h"
#include "calyx/rollout.h"
#include "cli.h"
#include "rollout_cli.h"

static const char usage[] =
	"usage: calyx-rollout COMMAND ...\n"
	"  plan --lease L (--hosts H1,H2,...|--hosts-file F) --tiers P1,...,100\n"
	"       [--gate manual|auto] [--canary-gate auto|manual] [--soak S] [--deadline S]\n"
	"       [--max-parallel N] [--max-failures N] [--on-failure halt|rollback]\n"
	"       [--on-deadline halt|pause] [--ttl S] [--policy P] (-o ROLLOUT | --dry-run)\n"
	"        an unsigned rollout of the pool lease L over these hosts: the hosts go to\n"
	"        the tiers in the order listed (the first ones are the canaries), tiers\n"
	"        1..k holding ceil(Pk x hosts / 100) of them; --gate is how tiers 2.. open\n"
	"        (default manual: a human approves), --canary-gate how tier 1 opens\n"
	"        (default auto: when the rollout starts); defaults: soak 300 s, deadline\n"
	"        3600 s, max-parallel 1, max-failures 0, on-failure halt, on-deadline pause,\n"
	"        valid for the rest of the lease's window (--ttl shortens it);\n"
	"        --dry-run prints the plan and writes nothing\n"
	"  show [--keyring K] [--lease L] ROLLOUT\n"
	"        the review before signing: what runs, the hosts of each tier, gates,\n"
	"        soak, deadlines, failure actions, who signed and who must still sign\n"
	"  sign --key NAME.key [--lease L] [--yes] ROLLOUT\n"
	"        add one signature (one human and one agent key must each sign); on a\n"
	"        terminal it shows the review and asks first\n"
	"  verify --keyring K --lease L [--pool-hosts H1,...|--pool-hosts-file F] ROLLOUT\n"
	"        verify as a host would (signatures, window, the lease's bytes, pool, count,\n"
	"        window; with --pool-hosts, every host a member) and print the plan\n"
	"  control --key NAME.key --rollout R --seq N --action ACTION [--tier N] -o CONTROL\n"
	"        a control document signed by this key: pause, halt (any keyring key),\n"
	"        resume, rollback, approve --tier N (a human key); seq rises per rollout\n"
	"  verify-control --keyring K --rollout R [--after-seq N] CONTROL\n"
	"        verify a control document against its signed rollout (N: the last seq seen)\n"
	"over etcd (--config C: the ledger's etcd and keyring; docs/formats.md \"Rollouts in etcd\"):\n"
	"  start --config C --lease L ROLLOUT\n"
	"        verify as 'verify' does, then publish the rollout and its lease (once)\n"
	"  pause|resume|halt|rollback --config C --key NAME.key ROLLOUT_ID\n"
	"  approve --config C --key NAME.key --tier N ROLLOUT_ID\n"
	"        sign the next control document (seq: the last + 1) and publish it\n"
	"  status --config C [--json] [--watch] ROLLOUT_ID\n"
	"        the rollout's state, each tier's phase and each host's state (from the\n"
	"        hosts' signed reports), approvals and control documents, all verified;\n"
	"        --watch: again whenever etcd changes, until the rollout settles\n"
	"  drive --config C --key NAME.key [--poll-ms N] ROLLOUT_ID\n"
	"        the gate evaluator, one per rollout (an etcd lock): publishes halt or\n"
	"        rollback (on_failure) when a tier fails, halt or pause (on_deadline) when\n"
	"        a tier's deadline passes; ends when the rollout settles. Hosts run their\n"
	"        tier with calyx-agent (one per host)\n"
	"  report --config C [--format md|html] [-o FILE] (ROLLOUT_ID | --dry-run --lease L ROLLOUT)\n"
	"        the rollout's page: mode, per tier and host a timeline, the checks each\n"
	"        host passed, why each host that did not ship did not, who approved what;\n"
	"        html: one self-contained file, no script, strict CSP; --dry-run: the\n"
	"        page of a signed rollout file before it starts (no etcd read)\n"
	"exit: 0 ok, 77 refused, 1 invalid input, 2 usage, 125 error (etcd unreachable: nothing published)\n";

static uid_t reviewer_owner(void)
{
	/* Reviewers' copies are checked like calyx-exec's, owned by root or
	 * by the reviewer running this. */
	return getuid() == 0 ? 0 : geteuid();
}

/* A failure of what the user gave (exit 1), or of calyx itself: I/O, a
 * key or keyring (exit 125). */
static int input_fail(const cx_error *err)
{
	bool host = err->reason == CX_E_IO || !cx_reason_is_refusal(err->reason);
	return cx_cli_fail(err, host ? CX_EXIT_FAILURE : 1);
}

/* ---- documents ---------------------------------------------------------- */

/* The lease file: envelope (any number of signatures so far) and body. */
static int load_lease(const char *path, uint8_t **ret_buf, size_t *ret_len, cx_lease *ret,
		      cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	size_t len;
	int r;

	r = cx_lease_read(path, &buf, &len, err);
	if (r == 0)
		r = cx_envelope_parse(buf, len, 0, CX_LEASE_SIGS, &e, err);
	if (r == 0)
		r = cx_lease_body_parse(e.payload, e.payload_len, ret, err);
	if (r < 0) {
		if (err->reason != CX_E_IO)
			cx_err_prefix(err, "lease '%s'", path);
		return r;
	}
	*ret_len = len;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}

/* A rollout file: envelope with min..max signatures, and its body. */
static int load_rollout(const char *path, size_t min_sigs, size_t max_sigs, uint8_t **ret_buf,
			size_t *ret_len, cx_envelope *ret_env, cx_rollout *ret, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	size_t len;
	int r;

	r = cx_rollout_read(path, &buf, &len, err);
	if (r == 0)
		r = cx_envelope_parse_as(&cx_doc_rollout, buf, len, min_sigs, max_sigs, &e, err);
	if (r == 0)
		r = cx_rollout_body_parse(e.payload, e.payload_len, ret, err);
	if (r < 0)
		return r;
	if (ret_buf) {
		*ret_len = len;
		*ret_buf = TAKE_PTR(buf);
	}
	if (ret_env)
		*ret_env = TAKE_STRUCT(e);
	return 0;
}

/* The lease given next to a rollout must be the file it names. */
static int lease_matches(const cx_rollout *ro, const uint8_t *buf, size_t len, const char *path,
			 cx_error *err)
{
	char hex[65];

	cx_sha256_hex(buf, len, hex);
	if (strcmp(hex, ro->lease_sha256) != 0)
		return cx_err(err, CX_E_ROLLOUT_LEASE, EPERM,
			      "'%s' is not the lease this rollout was planned for (its sha256 is %.16s…, the rollout names %.16s…)",
			      path, hex, ro->lease_sha256);
	return 0;
}

/* ---- plan --------------------------------------------------------------- */

typedef struct plan_opts {
	int64_t tiers[CX_ROLLOUT_TIERS_MAX];
	size_t ntiers;
	const char *gate, *canary_gate, *on_failure, *on_deadline;
	uint64_t soak, deadline, max_parallel, max_failures, ttl;
	bool ttl_set;
} plan_opts;

/* --tiers P1,...,100: 1..16 percents rising strictly to exactly 100. */
static int parse_tiers(const char *arg, plan_opts *o, cx_error *err)
{
	_cleanup_free_ char *copy = cx_strdup(arg);
	char *save = NULL;

	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (o->ntiers == CX_ROLLOUT_TIERS_MAX)
			return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL, "--tiers lists more than %d tiers",
				      CX_ROLLOUT_TIERS_MAX);
		if (cx_parse_u64(p, 100, &v) < 0 || v == 0)
			return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL,
				      "--tiers '%.40s' is not a percent 1-100", p);
		if (o->ntiers && (int64_t)v <= o->tiers[o->ntiers - 1])
			return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL,
				      "--tiers %llu does not rise above %lld (percents are cumulative: 5,25,100)",
				      (unsigned long long)v, (long long)o->tiers[o->ntiers - 1]);
		o->tiers[o->ntiers++] = (int64_t)v;
	}
	if (o->ntiers == 0)
		return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL, "--tiers lists no percent");
	if (o->tiers[o->ntiers - 1] != 100)
		return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL,
			      "--tiers ends at %lld %%; the last tier must reach 100 %% of the hosts (e.g. --tiers 5,25,100)",
			      (long long)o->tiers[o->ntiers - 1]);
	return 0;
}

/* The body: hosts to tiers in the order given, tier k ending at
 * ceil(P_k x n / 100). */
static int plan_body(const plan_opts *o, const cx_lease *l, const char *lease_sha,
		     const cx_strv *hosts, int64_t now, json_t **ret, cx_error *err)
{
	json_t *tiers = json_array();
	_cleanup_json_ json_t *b = NULL;
	uint8_t id[16];
	char rid[33], name[32];
	size_t prev = 0;
	int64_t nb, na;

	for (size_t k = 0; k < o->ntiers; k++) {
		size_t cum = cx_rollout_cumulative(o->tiers[k], hosts->n);
		json_t *h = json_array();
		const char *gate = k == 0 ? o->canary_gate : o->gate;

		if (cum == prev) {
			json_decref(h);
			json_decref(tiers);
			return cx_err(err, CX_E_ROLLOUT_TIERS, EINVAL,
				      "tier %zu (%lld %%) gets no host: on %zu hosts tiers 1-%zu end at host %zu, as tier %zu does (use fewer tiers or more hosts)",
				      k + 1, (long long)o->tiers[k], hosts->n, k + 1, cum, k);
		}
		for (size_t i = prev; i < cum; i++)
			json_array_append_new(h, json_string(hosts->v[i]));
		snprintf(name, sizeof(name), k == 0 && o->ntiers > 1 ? "canary" : "tier-%zu", k + 1);
		json_array_append_new(
			tiers, json_pack("{s:s, s:I, s:o, s:s, s:I, s:I, s:I, s:I}", "name", name,
					 "percent", (json_int_t)o->tiers[k], "hosts", h, "gate", gate,
					 "soak_s", (json_int_t)o->soak, "max_parallel",
					 (json_int_t)o->max_parallel, "deadline_s",
					 (json_int_t)o->deadline, "max_failures",
					 (json_int_t)(o->max_failures < cum - prev ? o->max_failures
										   : cum - prev - 1)));
		prev = cum;
	}
	/* The window: from now (or the lease's start) to the lease's end, or
	 * --ttl from its start when that is sooner. */
	nb = now > l->not_before ? now : l->not_before;
	na = l->not_after;
	if (o->ttl_set && nb + (int64_t)o->ttl < na)
		na = nb + (int64_t)o->ttl;
	if (na <= nb) {
		json_decref(tiers);
		return cx_err(err, CX_E_ROLLOUT_LEASE, EINVAL,
			      "lease %s expired %lld s ago (issue and sign a new lease, then plan)",
			      l->lease_id, (long long)(now - l->not_after));
	}
	randombytes_buf(id, sizeof(id));
	cx_hex_encode(id, sizeof(id), rid);
	b = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:I}", "v", 1,
		      "rollout_id", rid, "lease_id", l->lease_id, "lease_sha256", lease_sha, "pool",
		      cx_lease_pool(l), "tiers", tiers, "on_failure", o->on_failure, "on_deadline",
		      o->on_deadline, "issued_at", (json_int_t)now, "not_before", (json_int_t)nb,
		      "not_after", (json_int_t)na);
	CX_CHECK(b);
	*ret = TAKE_PTR(b);
	return 0;
}

static bool one_of(const char *s, const char *a, const char *b)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0;
}

static int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lease", required_argument, 0, 'l' },      { "hosts", required_argument, 0, 'h' },
		{ "hosts-file", required_argument, 0, 'H' }, { "tiers", required_argument, 0, 't' },
		{ "gate", required_argument, 0, 'g' },       { "canary-gate", required_argument, 0, 'G' },
		{ "soak", required_argument, 0, 's' },       { "deadline", required_argument, 0, 'd' },
		{ "max-parallel", required_argument, 0, 'm' },
		{ "max-failures", required_argument, 0, 'f' },
		{ "on-failure", required_argument, 0, 'F' }, { "on-deadline", required_argument, 0, 'D' },
		{ "ttl", required_argument, 0, 'T' },        { "policy", required_argument, 0, 'p' },
		{ "out", required_argument, 0, 'o' },        { "dry-run", no_argument, 0, 'n' },
		{ 0, 0, 0, 0 }
	};
	plan_opts o = { .gate = "manual", .canary_gate = "auto", .on_failure = "halt",
			.on_deadline = "pause", .soak = 300, .deadline = 3600, .max_parallel = 1 };
	const char *lpath = NULL, *hlist = NULL, *hfile = NULL, *tiers = NULL, *ppath = NULL,
		   *out = NULL;
	bool dry = false;
	_cleanup_free_ uint8_t *lbuf = NULL;
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	_cleanup_(cx_strv_free) cx_strv hosts = { 0 };
	_cleanup_json_ json_t *body = NULL;
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_free_ char *text = NULL;
	size_t llen = 0;
	char lsha[65];
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "o:n", opts, NULL)) != -1) {
		uint64_t *num = NULL, max = 0;
		const char *nm = "";
		switch (c) {
		case 'l': lpath = optarg; break;
		case 'h': hlist = optarg; break;
		case 'H': hfile = optarg; break;
		case 't': tiers = optarg; break;
		case 'g': o.gate = optarg; break;
		case 'G': o.canary_gate = optarg; break;
		case 'F': o.on_failure = optarg; break;
		case 'D': o.on_deadline = optarg; break;
		case 'p': ppath = optarg; break;
		case 'o': out = optarg; break;
		case 'n': dry = true; break;
		case 's': num = &o.soak, max = CX_ROLLOUT_SECONDS_MAX - 1, nm = "soak"; break;
		case 'd': num = &o.deadline, max = CX_ROLLOUT_SECONDS_MAX, nm = "deadline"; break;
		case 'm': num = &o.max_parallel, max = CX_ROLLOUT_HOSTS_MAX, nm = "max-parallel"; break;
		case 'f': num = &o.max_failures, max = CX_ROLLOUT_HOSTS_MAX - 1, nm = "max-failures"; break;
		case 'T': num = &o.ttl, max = CX_LEASE_TIME_MAX, nm = "ttl", o.ttl_set = true; break;
		default: return cx_cli_usage("plan: unknown option");
		}
		if (num && cx_parse_u64(optarg, max, num) < 0)
			return cx_cli_usage("plan: --%s must be an integer 0..%llu", nm,
					    (unsigned long long)max);
	}
	if (!lpath || !tiers || (!hlist == !hfile) || (!out == !dry) || optind != argc)
		return cx_cli_usage("usage: plan --lease L (--hosts H1,...|--hosts-file F) --tiers P1,...,100 [options] (-o ROLLOUT|--dry-run)");
	if (!one_of(o.gate, "manual", "auto") || !one_of(o.canary_gate, "manual", "auto"))
		return cx_cli_usage("plan: --gate and --canary-gate are 'manual' or 'auto'");
	if (!one_of(o.on_failure, "halt", "rollback"))
		return cx_cli_usage("plan: --on-failure is 'halt' or 'rollback'");
	if (!one_of(o.on_deadline, "halt", "pause"))
		return cx_cli_usage("plan: --on-deadline is 'halt' or 'pause'");
	if (o.max_parallel == 0 || o.deadline == 0 || (o.ttl_set && o.ttl == 0))
		return cx_cli_usage("plan: --max-parallel, --deadline and --ttl must be at least 1");
	if (o.soak >= o.deadline)
		return cx_cli_usage("plan: --soak %llu must be below --deadline %llu (the deadline covers the runs and the soak)",
				    (unsigned long long)o.soak, (unsigned long long)o.deadline);

	r = parse_tiers(tiers, &o, &err);
	if (r == 0)
		r = load_lease(lpath, &lbuf, &llen, &l, &err);
	if (r == 0 && !cx_lease_pool(&l))
		r = cx_err(&err, CX_E_ROLLOUT_LEASE, EINVAL,
			   "lease '%s' is addressed to '%s', not to a pool (a rollout runs a lease whose audience is pool:NAME)",
			   lpath, l.audience ? l.audience : "any host");
	if (r == 0 && ppath) {
		_cleanup_(cx_policy_free) cx_policy pol = { 0 };
		r = cx_policy_load(ppath, reviewer_owner(), &pol, &err);
		if (r == 0 && strcmp(pol.sha256_hex, l.policy_sha256) != 0)
			r = cx_err(&err, CX_E_POLICY_HASH, EINVAL,
				   "lease '%s' is bound to policy %.16s…, '%s' is %.16s… (plan with the lease issued for this policy)",
				   lpath, l.policy_sha256, ppath, pol.sha256_hex);
	}
	/* The hosts come from the command line for now. The next slice reads
	 * the pool's registered hosts from etcd here (calyx-agent registers
	 * each host under the ledger prefix, pools/NAME/hosts/ID): without
	 * --hosts the plan takes them in registration order, and with --hosts
	 * each must be registered (the same check as cx_rollout_verify's
	 * pool_hosts, which then gets that list). */
	if (r == 0)
		r = cx_rollout_cli_hosts(hlist, hfile, "--hosts", &hosts, &err);
	if (r < 0)
		return input_fail(&err);
	cx_sha256_hex(lbuf, llen, lsha);
	r = plan_body(&o, &l, lsha, &hosts, (int64_t)time(NULL), &body, &err);
	if (r < 0)
		return input_fail(&err);
	e.payload = (uint8_t *)json_dumps(body, JSON_INDENT(2));
	CX_CHECK(e.payload);
	e.payload_len = strlen((char *)e.payload);
	e.payload_type = cx_strdup(CX_ROLLOUT_PAYLOAD_TYPE);
	/* Never write a rollout that would not verify for its own reasons. */
	r = cx_rollout_body_parse(e.payload, e.payload_len, &ro, &err);
	if (r == 0)
		r = cx_rollout_check_lease(&ro, &l, &err);
	if (r < 0)
		return input_fail(&err);
	if (dry) {
		printf("DRY RUN: nothing written; this is the rollout 'plan -o' would write\n");
		cx_rollout_cli_print_plan(&ro);
		printf("what runs on each host, from the lease (unverified):\n");
		cx_cli_print_lease(stdout, &l, false);
		return 0;
	}
	text = cx_envelope_dump(&e);
	r = cx_write_file_atomic(out, text, strlen(text), 0644, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_esc_line(stdout, "wrote unsigned rollout %s of lease %s to %s: %zu hosts of pool '%s' in %zu tiers (review it with 'calyx-rollout show', sign it with a human key and an agent key)",
		    ro.rollout_id, ro.lease_id, out, ro.nhosts, ro.pool, ro.ntiers);
	return 0;
}

/* ---- show and sign ------------------------------------------------------ */

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = { { "keyring", required_argument, 0, 'k' },
					      { "lease", required_argument, 0, 'l' },
					      { 0, 0, 0, 0 } };
	const char *kpath = NULL, *lpath = NULL;
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	_cleanup_free_ uint8_t *lbuf = NULL;
	size_t llen = 0;
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "k:l:", opts, NULL)) != -1) {
		if (c == 'k')
			kpath = optarg;
		else if (c == 'l')
			lpath = optarg;
		else
			return cx_cli_usage("show: unknown option");
	}
	if (optind != argc - 1)
		return cx_cli_usage("usage: show [--keyring K] [--lease L] ROLLOUT");
	if (kpath && cx_keyring_load(kpath, reviewer_owner(), &kr, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (lpath && load_lease(lpath, &lbuf, &llen, &l, &err) < 0)
		return cx_cli_fail(&err, err.reason == CX_E_IO ? CX_EXIT_FAILURE : CX_EXIT_REFUSED);
	r = load_rollout(argv[optind], 0, cx_doc_rollout.nsig, NULL, NULL, &e, &ro, &err);
	if (r == 0 && lpath)
		r = lease_matches(&ro, lbuf, llen, lpath, &err);
	if (r < 0)
		return cx_cli_fail(&err, err.reason == CX_E_IO ? CX_EXIT_FAILURE : CX_EXIT_REFUSED);
	printf("UNVERIFIED view of the rollout (use 'calyx-rollout verify' to check it)\n");
	cx_rollout_cli_print_plan(&ro);
	if (lpath) {
		printf("what runs on each host, from the lease (unverified here):\n");
		cx_cli_print_lease(stdout, &l, false);
	}
	cx_rollout_cli_print_review(&ro, lpath ? &l : NULL);
	cx_rollout_cli_print_signatures(&e, kpath ? &kr : NULL);
	return 0;
}

/* The payload text itself: nothing a terminal would obey or a reader
 * would not see, beyond JSON's own whitespace. (The body parser already
 * holds every string to ids, hex and fixed words; this says so about the
 * whole text that gets signed.) */
static int check_text(const cx_envelope *e, cx_error *err)
{
	const char *s = (const char *)e->payload;
	size_t n = e->payload_len;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = cx_utf8_seq(s + i, n - i, &cp);

		if (k == 0 || (cx_esc_hidden(cp) && cp != '\n' && cp != '\t' && cp != '\r'))
			return cx_err(err, CX_E_ROLLOUT, EINVAL,
				      "rollout text holds %s at byte %zu (a control, invisible or non-UTF-8 character); not signed",
				      k == 0 ? "a byte that is not UTF-8" : "a hidden character", i);
		i += k;
	}
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = { { "key", required_argument, 0, 'k' },
					      { "lease", required_argument, 0, 'l' },
					      { "yes", no_argument, 0, 'y' },
					      { 0, 0, 0, 0 } };
	const char *keypath = NULL, *lpath = NULL;
	bool yes = false;
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	_cleanup_free_ uint8_t *lbuf = NULL;
	size_t llen = 0;
	uint8_t seed[32], pk[32];
	char keyid[65];
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "k:l:y", opts, NULL)) != -1) {
		if (c == 'k')
			keypath = optarg;
		else if (c == 'l')
			lpath = optarg;
		else if (c == 'y')
			yes = true;
		else
			return cx_cli_usage("sign: unknown option");
	}
	if (!keypath || optind != argc - 1)
		return cx_cli_usage("usage: sign --key NAME.key [--lease L] [--yes] ROLLOUT");
	const char *rpath = argv[optind];
	if (cx_seed_load(keypath, "key", false, 0, seed, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	r = load_rollout(rpath, 0, cx_doc_rollout.nsig - 1, NULL, NULL, &e, &ro, &err);
	if (r == 0)
		r = check_text(&e, &err);
	if (r == 0 && lpath) {
		r = load_lease(lpath, &lbuf, &llen, &l, &err);
		if (r == 0)
			r = lease_matches(&ro, lbuf, llen, lpath, &err);
	}
	/* Never sign blind: on a terminal, show the review and ask. */
	if (r == 0 && !yes && isatty(STDIN_FILENO)) {
		char answer[16] = "";
		cx_rollout_cli_print_plan(&ro);
		if (lpath) {
			printf("what runs on each host, from the lease:\n");
			cx_cli_print_lease(stdout, &l, false);
		}
		cx_rollout_cli_print_review(&ro, lpath ? &l : NULL);
		cx_esc_printf(stdout, "sign this rollout with %s? [y/N] ", keypath);
		fflush(stdout);
		if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
			r = cx_err(&err, CX_E_USAGE, ECANCELED, "not signed (answered no)");
	}
	if (r == 0)
		r = cx_envelope_sign_as(&cx_doc_rollout, &e, seed, &err);
	cx_seed_public(seed, pk);
	cx_wipe(seed, sizeof(seed));
	if (r == 0) {
		_cleanup_free_ char *s = cx_envelope_dump(&e);
		r = cx_write_file_atomic(rpath, s, strlen(s), 0644, &err);
	}
	if (r < 0)
		return input_fail(&err);
	cx_keyid(pk, keyid);
	cx_esc_line(stdout, "signed rollout %s (%zu hosts of pool '%s') with key %s; %zu of 2 signatures",
		    ro.rollout_id, ro.nhosts, ro.pool, keyid, e.nsig);
	return 0;
}

/* ---- verify ------------------------------------------------------------- */

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = { { "keyring", required_argument, 0, 'k' },
					      { "lease", required_argument, 0, 'l' },
					      { "pool-hosts", required_argument, 0, 'p' },
					      { "pool-hosts-file", required_argument, 0, 'P' },
					      { 0, 0, 0, 0 } };
	const char *kpath = NULL, *lpath = NULL, *plist = NULL, *pfile = NULL;
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	_cleanup_(cx_strv_free) cx_strv pool = { 0 };
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	_cleanup_free_ uint8_t *lbuf = NULL, *buf = NULL;
	size_t llen = 0, len = 0;
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "k:l:", opts, NULL)) != -1) {
		if (c == 'k')
			kpath = optarg;
		else if (c == 'l')
			lpath = optarg;
		else if (c == 'p')
			plist = optarg;
		else if (c == 'P')
			pfile = optarg;
		else
			return cx_cli_usage("verify: unknown option");
	}
	if (!kpath || !lpath || (plist && pfile) || optind != argc - 1)
		return cx_cli_usage("usage: verify --keyring K --lease L [--pool-hosts H1,...|--pool-hosts-file F] ROLLOUT");
	if (cx_keyring_load(kpath, reviewer_owner(), &kr, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if ((plist || pfile) && cx_rollout_cli_hosts(plist, pfile, "--pool-hosts", &pool, &err) < 0)
		return input_fail(&err);
	r = cx_lease_read(lpath, &lbuf, &llen, &err);
	if (r == 0)
		r = cx_rollout_read(argv[optind], &buf, &len, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	{
		cx_rollout_verify_input in = { .keyring = &kr, .lease_buf = lbuf, .lease_len = llen,
					       .pool_hosts = (plist || pfile) ? pool.v : NULL,
					       .n_pool_hosts = pool.n, .now = (int64_t)time(NULL) };
		r = cx_rollout_verify(&in, buf, len, &ro, &l, &err);
	}
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_REFUSED);
	printf("rollout OK: both signatures, window, lease (sha256, its two signatures, pool, count, window)%s verified; nothing started\n",
	       plist || pfile ? " and pool members" : "");
	cx_rollout_cli_print_plan(&ro);
	printf("what runs on each host, from the lease:\n");
	cx_cli_print_lease(stdout, &l, true);
	return 0;
}

/* ---- control documents -------------------------------------------------- */

static int cmd_control(int argc, char **argv)
{
	static const struct option opts[] = { { "key", required_argument, 0, 'k' },
					      { "rollout", required_argument, 0, 'r' },
					      { "seq", required_argument, 0, 's' },
					      { "action", required_argument, 0, 'a' },
					      { "tier", required_argument, 0, 't' },
					      { "out", required_argument, 0, 'o' },
					      { 0, 0, 0, 0 } };
	const char *keypath = NULL, *rpath = NULL, *action = NULL, *out = NULL;
	uint64_t seq = 0, tier = 0;
	_cleanup_free_ uint8_t *rbuf = NULL;
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_free_ char *text = NULL;
	cx_control ctl = { 0 };
	uint8_t seed[32], pk[32];
	char keyid[65];
	size_t rlen = 0;
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "k:o:", opts, NULL)) != -1) {
		if (c == 'k')
			keypath = optarg;
		else if (c == 'r')
			rpath = optarg;
		else if (c == 'a')
			action = optarg;
		else if (c == 'o')
			out = optarg;
		else if (c == 's') {
			if (cx_parse_u64(optarg, (uint64_t)CX_CONTROL_SEQ_MAX, &seq) < 0 || seq == 0)
				return cx_cli_usage("control: --seq must be 1..%lld", (long long)CX_CONTROL_SEQ_MAX);
		} else if (c == 't') {
			if (cx_parse_u64(optarg, CX_ROLLOUT_TIERS_MAX, &tier) < 0 || tier == 0)
				return cx_cli_usage("control: --tier must be 1..%d", CX_ROLLOUT_TIERS_MAX);
		} else
			return cx_cli_usage("control: unknown option");
	}
	if (!keypath || !rpath || !seq || !action || !out || optind != argc)
		return cx_cli_usage("usage: control --key NAME.key --rollout R --seq N --action ACTION [--tier N] -o CONTROL");
	if (cx_control_action_parse(action, &ctl.action) < 0)
		return cx_cli_usage("control: --action is pause, resume, halt, approve or rollback");
	if ((ctl.action == CX_CONTROL_APPROVE) != (tier != 0))
		return cx_cli_usage(tier ? "control: --tier is only for --action approve"
					 : "control: --action approve needs --tier N (the tier it opens)");
	if (cx_seed_load(keypath, "key", false, 0, seed, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	/* The signed rollout: a control document names its exact bytes. */
	r = load_rollout(rpath, cx_doc_rollout.nsig, cx_doc_rollout.nsig, &rbuf, &rlen, NULL, &ro,
			 &err);
	if (r < 0) {
		cx_wipe(seed, sizeof(seed));
		cx_err_prefix(&err, "rollout '%s'", rpath);
		return input_fail(&err);
	}
	if (tier > ro.ntiers || (tier && ro.tiers[tier - 1].gate != CX_GATE_MANUAL)) {
		cx_wipe(seed, sizeof(seed));
		if (tier > ro.ntiers)
			cx_err(&err, CX_E_CONTROL, EINVAL, "rollout %s has %zu tiers, not %llu",
			       ro.rollout_id, ro.ntiers, (unsigned long long)tier);
		else
			cx_err(&err, CX_E_CONTROL, EINVAL,
			       "tier %llu ('%s') opens by itself (gate auto): there is nothing to approve",
			       (unsigned long long)tier, ro.tiers[tier - 1].name);
		return input_fail(&err);
	}
	memcpy(ctl.rollout_id, ro.rollout_id, sizeof(ctl.rollout_id));
	cx_sha256_hex(rbuf, rlen, ctl.rollout_sha256);
	ctl.seq = (int64_t)seq;
	ctl.tier = (int64_t)tier;
	ctl.issued_at = (int64_t)time(NULL);
	e.payload = (uint8_t *)cx_control_body_dump(&ctl);
	e.payload_len = strlen((char *)e.payload);
	e.payload_type = cx_strdup(CX_CONTROL_PAYLOAD_TYPE);
	r = cx_envelope_sign_as(&cx_doc_control, &e, seed, &err);
	cx_seed_public(seed, pk);
	cx_wipe(seed, sizeof(seed));
	if (r < 0)
		return input_fail(&err);
	text = cx_envelope_dump(&e);
	r = cx_write_file_atomic(out, text, strlen(text), 0644, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_keyid(pk, keyid);
	if (ctl.action == CX_CONTROL_APPROVE)
		cx_esc_line(stdout, "wrote control document to %s: approve tier %lld ('%s') of rollout %s, seq %lld, signed by key %s",
			    out, (long long)ctl.tier, ro.tiers[ctl.tier - 1].name, ro.rollout_id,
			    (long long)ctl.seq, keyid);
	else
		cx_esc_line(stdout, "wrote control document to %s: %s rollout %s, seq %lld, signed by key %s",
			    out, cx_control_action_name(ctl.action), ro.rollout_id, (long long)ctl.seq,
			    keyid);
	return 0;
}

static int cmd_verify_control(int argc, char **argv)
{
	static const struct option opts[] = { { "keyring", required_argument, 0, 'k' },
					      { "rollout", required_argument, 0, 'r' },
					      { "after-seq", required_argument, 0, 'a' },
					      { 0, 0, 0, 0 } };
	const char *kpath = NULL, *rpath = NULL;
	uint64_t after = 0;
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_(cx_control_free) cx_control ctl = { 0 };
	_cleanup_free_ uint8_t *rbuf = NULL, *cbuf = NULL;
	size_t rlen = 0, clen = 0;
	cx_error err = { 0 };
	int c, r;

	cx_cli_refused = "control document refused";
	while ((c = getopt_long(argc, argv, "k:r:", opts, NULL)) != -1) {
		if (c == 'k')
			kpath = optarg;
		else if (c == 'r')
			rpath = optarg;
		else if (c == 'a') {
			if (cx_parse_u64(optarg, (uint64_t)CX_CONTROL_SEQ_MAX, &after) < 0)
				return cx_cli_usage("verify-control: --after-seq must be 0..%lld",
						    (long long)CX_CONTROL_SEQ_MAX);
		} else
			return cx_cli_usage("verify-control: unknown option");
	}
	if (!kpath || !rpath || optind != argc - 1)
		return cx_cli_usage("usage: verify-control --keyring K --rollout R [--after-seq N] CONTROL");
	if (cx_keyring_load(kpath, reviewer_owner(), &kr, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	r = cx_rollout_read(rpath, &rbuf, &rlen, &err);
	if (r == 0)
		r = cx_read_file(argv[optind], "control document", CX_CONTROL_MAX_BYTES, 0, 0, &cbuf,
				 &clen, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	r = cx_rollout_verify_signed(&kr, rbuf, rlen, &ro, &err);
	if (r < 0) {
		cx_err_prefix(&err, "its rollout '%s'", rpath);
		return cx_cli_fail(&err, CX_EXIT_REFUSED);
	}
	{
		cx_control_verify_input in = { .keyring = &kr, .rollout = &ro, .rollout_buf = rbuf,
					       .rollout_len = rlen, .last_seq = (int64_t)after,
					       .now = (int64_t)time(NULL) };
		r = cx_control_verify(&in, cbuf, clen, &ctl, &err);
	}
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_REFUSED);
	if (ctl.action == CX_CONTROL_APPROVE)
		cx_esc_line(stdout, "control document OK: approve tier %lld ('%s') of rollout %s, seq %lld, signed by %s key '%s' (%.16s…)",
			    (long long)ctl.tier, ro.tiers[ctl.tier - 1].name, ro.rollout_id,
			    (long long)ctl.seq, cx_role_name(ctl.role), ctl.principal, ctl.keyid);
	else
		cx_esc_line(stdout, "control document OK: %s rollout %s, seq %lld, signed by %s key '%s' (%.16s…)",
			    cx_control_action_name(ctl.action), ro.rollout_id, (long long)ctl.seq,
			    cx_role_name(ctl.role), ctl.principal, ctl.keyid);
	return 0;
}

int main(int argc, char **argv)
{
	static const cx_cli_cmd cmds[] = {
		{ "plan", cmd_plan },       { "show", cmd_show },
		{ "sign", cmd_sign },       { "verify", cmd_verify },
		{ "control", cmd_control }, { "verify-control", cmd_verify_control },
		{ "start", cx_rollout_cmd_start }, { "status", cx_rollout_cmd_status },
		{ "pause", cx_rollout_cmd_control_etcd }, { "resume", cx_rollout_cmd_control_etcd },
		{ "halt", cx_rollout_cmd_control_etcd }, { "rollback", cx_rollout_cmd_control_etcd },
		{ "approve", cx_rollout_cmd_control_etcd }, { "drive", cx_rollout_cmd_drive },
		{ "report", cx_rollout_cmd_report },
		{ NULL, NULL },
	};

	cx_prog = "calyx-rollout";
	cx_cli_refused = "rollout refused";
	if (sodium_init() < 0) {
		fprintf(stderr, "calyx-rollout: error: libsodium failed to initialise\n");
		return CX_EXIT_FAILURE;
	}
	return cx_cli_dispatch(argc, argv, usage, cmds);
}
