/* calyx-rollout's etcd commands (executor/rollout_cli.h): start, the
 * control commands (pause, resume, halt, rollback, approve) and status,
 * over the store of calyx/rollout_store.h.
 *
 * Exit codes (README "Rollouts"): 0 ok; 77 a document refused — the
 * rollout given to start, or the record read from etcd (a signature, a
 * replayed or missing control document, the lease's bytes); 1 the
 * operator's request refused — a rollout already started
 * (E_ROLLOUT_STARTED), a control action the signer's role or the
 * rollout's state does not allow (E_CONTROL_ROLE, E_ROLLOUT_STATE), a
 * control document that lost the race to another (E_CONTROL_SEQ), an
 * approve or resume past the rollout's window (E_EXPIRED), a
 * rollout id etcd does not hold (E_ROLLOUT); 2 usage; 125 calyx's own
 * failure: config, keys, etcd unreachable (E_LEDGER_UNAVAILABLE: nothing
 * published).
 * Trust: runs as an operator; the config and keyring are the operator's
 * (owned by root or by them, StrictModes); everything read from etcd is
 * verified before it is shown or acted on, and shown escaped. */
#include <getopt.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calyx/codec.h"
#include "calyx/config.h"
#include "calyx/esc.h"
#include "calyx/etcd.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/rollout.h"
#include "calyx/rollout_store.h"
#include "calyx/rollout_fleet.h"
#include "calyx/timings.h"
#include "cli.h"
#include "rollout_cli.h"
#include "rollout_report.h"

static uid_t operator_owner(void)
{
	return getuid() == 0 ? 0 : geteuid();
}

/* Config with an etcd ledger, its keyring, an etcd client. */
typedef struct ctx {
	cx_config cfg;
	cx_keyring kr;
	cx_etcd *etcd;
} ctx;

static void ctx_free(ctx *c)
{
	cx_etcd_close(c->etcd);
	cx_keyring_free(&c->kr);
	cx_config_free(&c->cfg);
}

static int ctx_open(const char *path, ctx *c, cx_error *err)
{
	int r = cx_config_load(path, operator_owner(), &c->cfg, err);
	if (r < 0)
		return r;
	if (!c->cfg.ledger_etcd)
		return cx_err(err, CX_E_CONFIG, ENOTSUP,
			      "config '%s' has no etcd (rollouts live in the pool's ledger: config.ledger.backend \"etcd\")",
			      path);
	r = cx_keyring_load(c->cfg.keyring, operator_owner(), &c->kr, err);
	if (r == 0)
		r = cx_etcd_open(&c->cfg.etcd, &c->etcd, err);
	return r;
}

/* A failure reading the record: refusals of what etcd holds are 77, a
 * rollout etcd does not hold 1, everything else calyx's own (125). */
static int load_fail(const cx_error *err)
{
	if (err->reason == CX_E_ROLLOUT && err->errnum == ENOENT)
		return cx_cli_fail(err, 1);
	return cx_cli_fail(err, cx_reason_is_refusal(err->reason) ? CX_EXIT_REFUSED : CX_EXIT_FAILURE);
}

/* ---- start -------------------------------------------------------------- */

int cx_rollout_cmd_start(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "lease", required_argument, 0, 'l' },
					      { 0, 0, 0, 0 } };
	const char *cpath = NULL, *lpath = NULL;
	_cleanup_(ctx_free) ctx c = { 0 };
	_cleanup_(cx_rollout_free) cx_rollout ro = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	_cleanup_free_ uint8_t *lbuf = NULL, *buf = NULL;
	size_t llen = 0, len = 0;
	int64_t rev = 0;
	bool amb = false;
	cx_error err = { 0 };
	int o, r;

	while ((o = getopt_long(argc, argv, "c:l:", opts, NULL)) != -1) {
		if (o == 'c')
			cpath = optarg;
		else if (o == 'l')
			lpath = optarg;
		else
			return cx_cli_usage("start: unknown option");
	}
	if (!cpath || !lpath || optind != argc - 1)
		return cx_cli_usage("usage: start --config C --lease L ROLLOUT");
	if (ctx_open(cpath, &c, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	r = cx_lease_read(lpath, &lbuf, &llen, &err);
	if (r == 0)
		r = cx_rollout_read(argv[optind], &buf, &len, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	{
		/* as 'verify' does: what every host will check, before anything is published */
		cx_rollout_verify_input in = { .keyring = &c.kr, .lease_buf = lbuf, .lease_len = llen,
					       .now = (int64_t)time(NULL) };
		r = cx_rollout_verify(&in, buf, len, &ro, &l, &err);
	}
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_REFUSED);
	r = cx_rollout_store_start(c.etcd, c.cfg.etcd.timeout_ms, &ro, buf, len, lbuf, llen, &rev,
				   &amb, &err);
	if (r < 0)
		return cx_cli_fail(&err, err.reason == CX_E_ROLLOUT_STARTED ? 1 : CX_EXIT_FAILURE);
	cx_esc_line(stdout, "started rollout %s of lease %s: %zu hosts of pool '%s' in %zu tiers, published in etcd at revision %lld (%s)",
		    ro.rollout_id, ro.lease_id, ro.nhosts, ro.pool, ro.ntiers, (long long)rev,
		    cx_etcd_endpoint(c.etcd));
	return 0;
}

/* ---- control commands --------------------------------------------------- */

/* Sign the next control document (seq: the last + 1, bound to the exact
 * rollout bytes read), check it as every host will (the signer's role,
 * then the rollout's state machine) and publish it in one transaction.
 * -EAGAIN: the record changed meanwhile (E_CONTROL_SEQ, nothing
 * published). */
static int sign_publish(ctx *c, const cx_rollout_store *s, const uint8_t seed[32],
			cx_control_action action, int64_t tier, int64_t now, cx_control *mine,
			cx_rollout_progress *next, int64_t *rev, cx_error *err)
{
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_free_ char *text = NULL;
	cx_control ctl = { .action = action, .tier = tier, .issued_at = now };
	bool amb = false;
	int r;

	memcpy(ctl.rollout_id, s->ro.rollout_id, sizeof(ctl.rollout_id));
	cx_sha256_hex(s->rollout_buf, s->rollout_len, ctl.rollout_sha256);
	ctl.seq = (int64_t)s->nctl + 1;
	e.payload = (uint8_t *)cx_control_body_dump(&ctl);
	e.payload_len = strlen((char *)e.payload);
	e.payload_type = cx_strdup(CX_CONTROL_PAYLOAD_TYPE);
	r = cx_envelope_sign_as(&cx_doc_control, &e, seed, err);
	if (r < 0)
		return r;
	text = cx_envelope_dump(&e);
	{
		cx_control_verify_input in = { .keyring = &c->kr, .rollout = &s->ro,
					       .rollout_buf = s->rollout_buf,
					       .rollout_len = s->rollout_len,
					       .last_seq = s->prog.last_seq, .now = now };
		r = cx_control_verify(&in, (const uint8_t *)text, strlen(text), mine, err);
	}
	*next = s->prog;
	if (r == 0)
		r = cx_rollout_apply(&s->ro, next, mine, err);
	if (r < 0)
		return r;
	r = cx_rollout_store_publish(c->etcd, c->cfg.etcd.timeout_ms, s, (const uint8_t *)text,
				     strlen(text), rev, &amb, err);
	return r < 0 && err->reason == CX_E_CONTROL_SEQ ? -EAGAIN : r;
}

int cx_rollout_cmd_control_etcd(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "key", required_argument, 0, 'k' },
					      { "tier", required_argument, 0, 't' },
					      { 0, 0, 0, 0 } };
	const char *cpath = NULL, *keypath = NULL, *cmd = argv[0];
	uint64_t tier = 0;
	_cleanup_(ctx_free) ctx c = { 0 };
	_cleanup_(cx_rollout_store_free) cx_rollout_store s = { 0 };
	_cleanup_(cx_control_free) cx_control mine = { 0 };
	cx_control ctl = { 0 };
	cx_rollout_progress next;
	uint8_t seed[32];
	int64_t now = (int64_t)time(NULL), rev = 0;
	cx_error err = { 0 };
	int o, r;

	if (cx_control_action_parse(cmd, &ctl.action) < 0)
		return cx_cli_usage("unknown control command '%s'", cmd);
	while ((o = getopt_long(argc, argv, "c:k:", opts, NULL)) != -1) {
		if (o == 'c')
			cpath = optarg;
		else if (o == 'k')
			keypath = optarg;
		else if (o == 't') {
			if (cx_parse_u64(optarg, CX_ROLLOUT_TIERS_MAX, &tier) < 0 || tier == 0)
				return cx_cli_usage("%s: --tier must be 1..%d", cmd, CX_ROLLOUT_TIERS_MAX);
		} else
			return cx_cli_usage("%s: unknown option", cmd);
	}
	if (!cpath || !keypath || optind != argc - 1)
		return cx_cli_usage("usage: %s --config C --key NAME.key%s ROLLOUT_ID", cmd,
				    ctl.action == CX_CONTROL_APPROVE ? " --tier N" : "");
	if ((ctl.action == CX_CONTROL_APPROVE) != (tier != 0))
		return cx_cli_usage(tier ? "%s: --tier is only for approve"
					 : "%s: approve needs --tier N (the tier it opens)", cmd);
	if (!cx_is_lower_hex(argv[optind], 32))
		return cx_cli_usage("%s: '%s' is not a rollout id (32 lowercase hex)", cmd, argv[optind]);
	if (ctx_open(cpath, &c, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (cx_seed_load(keypath, "key", false, 0, seed, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	r = cx_rollout_store_load(c.etcd, c.cfg.etcd.timeout_ms, &c.kr, argv[optind], now, &s, &err);
	if (r < 0) {
		cx_wipe(seed, sizeof(seed));
		return load_fail(&err);
	}
	if (tier > s.ro.ntiers || (tier && s.ro.tiers[tier - 1].gate != CX_GATE_MANUAL)) {
		cx_wipe(seed, sizeof(seed));
		if (tier > s.ro.ntiers)
			cx_err(&err, CX_E_CONTROL, EINVAL, "rollout %s has %zu tiers, not %llu",
			       s.ro.rollout_id, s.ro.ntiers, (unsigned long long)tier);
		else
			cx_err(&err, CX_E_CONTROL, EINVAL,
			       "tier %llu ('%s') opens by itself (gate auto): there is nothing to approve",
			       (unsigned long long)tier, s.ro.tiers[tier - 1].name);
		return cx_cli_fail(&err, 1);
	}
	/* past its window no host claims a slot: approving or resuming it
	 * would say more hosts run when none will (halt and rollback stay
	 * possible: they stop or undo) */
	if ((ctl.action == CX_CONTROL_APPROVE || ctl.action == CX_CONTROL_RESUME) &&
	    now > s.ro.not_after) {
		cx_wipe(seed, sizeof(seed));
		cx_err(&err, CX_E_EXPIRED, EPERM,
		       "rollout %s expired %lld s ago: '%s' would open nothing (plan, sign and start a new rollout)",
		       s.ro.rollout_id, (long long)(now - s.ro.not_after), cmd);
		return cx_cli_fail(&err, 1);
	}
	r = sign_publish(&c, &s, seed, ctl.action, (int64_t)tier, now, &mine, &next, &rev, &err);
	cx_wipe(seed, sizeof(seed));
	if (r < 0)
		return cx_cli_fail(&err, r == -EAGAIN ? 1 : cx_reason_is_refusal(err.reason) ? 1 : CX_EXIT_FAILURE);
	if (mine.action == CX_CONTROL_APPROVE)
		cx_esc_line(stdout, "published control document seq %lld: approve tier %lld ('%s') of rollout %s, signed by %s key '%s'; rollout %s, etcd revision %lld",
			    (long long)mine.seq, (long long)mine.tier, s.ro.tiers[mine.tier - 1].name,
			    s.ro.rollout_id, cx_role_name(mine.role), mine.principal,
			    cx_rollout_state_name(next.state), (long long)rev);
	else
		cx_esc_line(stdout, "published control document seq %lld: %s rollout %s, signed by %s key '%s'; rollout %s, etcd revision %lld",
			    (long long)mine.seq, cx_control_action_name(mine.action), s.ro.rollout_id,
			    cx_role_name(mine.role), mine.principal, cx_rollout_state_name(next.state),
			    (long long)rev);
	return 0;
}

/* ---- status ------------------------------------------------------------- */

static void utc(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(out, 32, "%lld", (long long)t);
}

static void hhmm(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > 0 && gmtime_r(&tt, &tm))
		strftime(out, 16, "%H:%M:%S", &tm);
	else
		snprintf(out, 16, "-");
}

static void status_text(const cx_fleet *f)
{
	const cx_rollout_store *s = &f->s;
	_cleanup_json_ json_t *v = cx_fleet_view(f);

	cx_esc_line(stdout, "rollout %s: %s — %s", s->ro.rollout_id, cx_fleet_state(f),
		    json_string_value(json_object_get(v, "mode_detail")));
	cx_esc_line(stdout, "  lease %s, pool '%s', %zu hosts in %zu tiers; on_failure %s, on_deadline %s; started at etcd revision %lld, read at %lld (cluster %s)%s%s",
		    s->ro.lease_id, s->ro.pool, s->ro.nhosts, s->ro.ntiers,
		    cx_on_failure_name(s->ro.on_failure), cx_on_deadline_name(s->ro.on_deadline),
		    (long long)s->rollout_create_rev, (long long)s->revision, s->cluster_id,
		    f->driver[0] ? "; driver " : "", f->driver);
	{
		char until[32];
		utc(s->ro.not_after, until);
		printf("  valid until %s%s\n", until,
		       f->now > s->ro.not_after ? " (EXPIRED: no host claims a slot; halt and rollback still publish)" : "");
	}
	for (size_t k = 0; k < s->ro.ntiers; k++) {
		const cx_rollout_tier *t = &s->ro.tiers[k];
		const cx_fleet_tier *ft = &f->tiers[k];
		char gate[96], dl[16];
		if (t->gate == CX_GATE_AUTO)
			snprintf(gate, sizeof(gate), "gate auto");
		else if (s->prog.approved & (1u << k))
			snprintf(gate, sizeof(gate), "approved");
		else
			snprintf(gate, sizeof(gate), "%s",
				 (int64_t)k + 1 == cx_rollout_next_manual(&s->ro, &s->prog) ? "awaiting approval" : "not approved");
		hhmm(ft->deadline_at, dl);
		cx_esc_line(stdout, "  tier %zu '%s'  %zu host%s  %s  %s  failures %zu/%lld  deadline %s%s",
			    k + 1, t->name, t->hosts.n, t->hosts.n == 1 ? "" : "s", gate,
			    cx_tier_phase_name(ft->phase), ft->failures, (long long)t->max_failures, dl,
			    ft->deadline_passed ? " (PASSED)" : "");
		for (size_t i = 0; i < f->nhosts; i++) {
			const cx_fleet_host *h = &f->hosts[i];
			const json_t *b = h->have_report ? h->rep.body : NULL;
			const char *msg = json_string_value(json_object_get(b, "message"));
			const char *undo = json_string_value(json_object_get(b, "undo"));
			char c[16], e[16];
			if (h->tier != k)
				continue;
			hhmm(h->claimed_at, c);
			hhmm(h->finished_at, e);
			cx_esc_line(stdout, "    %-24s %-11s claimed %s  finished %s%s%s%s%s%s%s", h->host,
				    cx_host_state_name(h->state), c, e, h->live ? "" : "  (agent not live)",
				    msg ? "  " : "", msg ? msg : "", undo ? "  undo: " : "", undo ? undo : "",
				    h->report_error[0] ? "  REPORT NOT TRUSTED" : "");
		}
	}
	if (!s->nctl)
		printf("  no control document yet\n");
	else
		printf("  control documents (%zu, each signature verified):\n", s->nctl);
	for (size_t i = 0; i < s->nctl; i++) {
		const cx_control *c = &s->ctl[i];
		char when[32], act[32];

		utc(c->issued_at, when);
		if (c->action == CX_CONTROL_APPROVE)
			snprintf(act, sizeof(act), "approve tier %lld", (long long)c->tier);
		else
			snprintf(act, sizeof(act), "%s", cx_control_action_name(c->action));
		cx_esc_line(stdout, "    seq %lld  %s  %-16s by %s key '%s' (%.16s…)", (long long)c->seq,
			    when, act, cx_role_name(c->role), c->principal, c->keyid);
	}
}

static bool finished(const cx_fleet *f)
{
	if (f->s.prog.state == CX_ROLLOUT_RUNNING)
		return f->completed;
	if (f->s.prog.state == CX_ROLLOUT_PAUSED)
		return false;
	for (size_t i = 0; i < f->nhosts; i++) /* halted / rolled back: until hosts settle */
		if (f->hosts[i].state == CX_HOST_CLAIMED || f->hosts[i].state == CX_HOST_RUNNING ||
		    (f->s.prog.state == CX_ROLLOUT_ROLLED_BACK && f->hosts[i].state == CX_HOST_COMMITTED &&
		     f->hosts[i].live))
			return false;
	return true;
}

int cx_rollout_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "json", no_argument, 0, 'j' },
					      { "watch", no_argument, 0, 'w' },
					      { 0, 0, 0, 0 } };
	const char *cpath = NULL;
	bool json = false, watch = false;
	_cleanup_(ctx_free) ctx c = { 0 };
	cx_error err = { 0 };
	int o;

	while ((o = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (o == 'c')
			cpath = optarg;
		else if (o == 'j')
			json = true;
		else if (o == 'w')
			watch = true;
		else
			return cx_cli_usage("status: unknown option");
	}
	if (!cpath || optind != argc - 1)
		return cx_cli_usage("usage: status --config C [--json] [--watch] ROLLOUT_ID");
	if (!cx_is_lower_hex(argv[optind], 32))
		return cx_cli_usage("status: '%s' is not a rollout id (32 lowercase hex)", argv[optind]);
	if (ctx_open(cpath, &c, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	for (int64_t last_rev = -1;;) {
		_cleanup_(cx_fleet_free) cx_fleet f = { 0 };
		if (cx_fleet_load(c.etcd, c.cfg.etcd.timeout_ms, &c.kr, argv[optind], (int64_t)time(NULL),
				  &f, &err) < 0)
			return load_fail(&err);
		/* --watch: a new block whenever etcd changed, and a last one when
		 * the rollout settles (completed, or halted/rolled back with no
		 * host still moving): a soak ends with no write to etcd, so the
		 * block before it would still say "soaking" */
		bool done = !watch || finished(&f);
		if (!watch || f.s.revision != last_rev || done) {
			if (json) {
				_cleanup_json_ json_t *j = cx_fleet_view(&f);
				_cleanup_free_ char *txt = cx_json_dump_pretty(j);
				_cleanup_free_ char *esc = cx_esc_json(txt);
				fputs(esc, stdout);
			} else {
				if (watch)
					printf("\n");
				status_text(&f);
			}
			fflush(stdout);
		}
		last_rev = f.s.revision;
		if (done)
			return 0;
		sleep(1);
	}
}

/* ---- drive -------------------------------------------------------------- */

/* What the driver does at this read: 0 nothing, or the action (its
 * reason in why). */
static cx_control_action drive_decide(const cx_fleet *f, char *why, size_t n)
{
	const cx_rollout *ro = &f->s.ro;
	cx_rollout_state st = f->s.prog.state;

	if (st != CX_ROLLOUT_RUNNING && st != CX_ROLLOUT_PAUSED)
		return 0;
	if (f->failed_tier) {
		const cx_fleet_tier *ft = &f->tiers[f->failed_tier - 1];
		snprintf(why, n, "tier %d ('%s') failed: %zu failed or lost host%s, max_failures %lld; on_failure %s",
			 f->failed_tier, ro->tiers[f->failed_tier - 1].name, ft->failures,
			 ft->failures == 1 ? "" : "s", (long long)ro->tiers[f->failed_tier - 1].max_failures,
			 cx_on_failure_name(ro->on_failure));
		return ro->on_failure == CX_ON_FAILURE_ROLLBACK ? CX_CONTROL_ROLLBACK : CX_CONTROL_HALT;
	}
	if (f->deadline_tier && !(st == CX_ROLLOUT_PAUSED && ro->on_deadline == CX_ON_DEADLINE_PAUSE)) {
		snprintf(why, n, "tier %d ('%s') passed its deadline (%lld s after it opened) before it soaked; on_deadline %s",
			 f->deadline_tier, ro->tiers[f->deadline_tier - 1].name,
			 (long long)ro->tiers[f->deadline_tier - 1].deadline_s,
			 cx_on_deadline_name(ro->on_deadline));
		return ro->on_deadline == CX_ON_DEADLINE_PAUSE && st == CX_ROLLOUT_RUNNING ? CX_CONTROL_PAUSE
											   : CX_CONTROL_HALT;
	}
	return 0;
}

int cx_rollout_cmd_drive(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "key", required_argument, 0, 'k' },
					      { "poll-ms", required_argument, 0, 'p' },
					      { 0, 0, 0, 0 } };
	const char *cpath = NULL, *keypath = NULL, *id;
	_cleanup_(ctx_free) ctx c = { 0 };
	uint8_t seed[32];
	uint64_t poll_ms = 500;
	char lock[24] = "", holder[CX_ID_MAX + 1];
	int64_t locked_at = 0;
	cx_error err = { 0 };
	int o, r;

	while ((o = getopt_long(argc, argv, "c:k:", opts, NULL)) != -1) {
		if (o == 'c')
			cpath = optarg;
		else if (o == 'k')
			keypath = optarg;
		else if (o == 'p') {
			if (cx_parse_u64(optarg, 60000, &poll_ms) < 0 || poll_ms < 50)
				return cx_cli_usage("drive: --poll-ms must be 50..60000");
		} else
			return cx_cli_usage("drive: unknown option");
	}
	if (!cpath || !keypath || optind != argc - 1)
		return cx_cli_usage("usage: drive --config C --key NAME.key [--poll-ms N] ROLLOUT_ID");
	id = argv[optind];
	if (!cx_is_lower_hex(id, 32))
		return cx_cli_usage("drive: '%s' is not a rollout id (32 lowercase hex)", id);
	if (ctx_open(cpath, &c, &err) < 0 || cx_seed_load(keypath, "key", false, 0, seed, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	snprintf(holder, sizeof(holder), "driver@%s", c.cfg.host_id ? c.cfg.host_id : "operator");
	for (;;) {
		_cleanup_(cx_fleet_free) cx_fleet f = { 0 };
		_cleanup_(cx_control_free) cx_control mine = { 0 };
		cx_rollout_progress next;
		int64_t now = (int64_t)time(NULL), mono = cx_mono_ns() / 1000000000LL, rev = 0, ttl = 0;
		cx_control_action act;
		char why[512];

		/* one driver per rollout: an etcd lock on a 10 s lease */
		if (!lock[0] || mono - locked_at >= 3) {
			if (lock[0] && cx_etcd_keepalive(c.etcd, lock, cx_etcd_deadline(c.cfg.etcd.timeout_ms), &ttl, &err) == CX_ETCD_ANSWERED && ttl > 0)
				locked_at = mono;
			else {
				lock[0] = '\0';
				if (cx_etcd_grant(c.etcd, 10, cx_etcd_deadline(c.cfg.etcd.timeout_ms), lock, &err) != CX_ETCD_ANSWERED)
					lock[0] = '\0';
				r = lock[0] ? cx_fleet_driver_lock(c.etcd, c.cfg.etcd.timeout_ms, id, holder, lock, &err) : -1;
				if (r == 0) {
					cx_wipe(seed, sizeof(seed));
					cx_err(&err, CX_E_ROLLOUT_STATE, EBUSY,
					       "rollout %s already has a driver (its lock is held in etcd); one drives at a time", id);
					return cx_cli_fail(&err, 1);
				}
				if (r < 0) { /* etcd unreachable: decide nothing, try again */
					cx_esc_line(stderr, "calyx-rollout drive: no lock: %s", err.msg);
					lock[0] = '\0';
					usleep((useconds_t)poll_ms * 1000);
					continue;
				}
				locked_at = mono;
			}
		}
		r = cx_fleet_load(c.etcd, c.cfg.etcd.timeout_ms, &c.kr, id, now, &f, &err);
		if (r < 0 && (err.reason == CX_E_LEDGER_UNAVAILABLE || err.reason == CX_E_LEDGER)) {
			cx_esc_line(stderr, "calyx-rollout drive: %s (nothing decided; reading again)", err.msg);
			usleep((useconds_t)poll_ms * 1000);
			continue;
		}
		if (r < 0) {
			cx_wipe(seed, sizeof(seed));
			return load_fail(&err);
		}
		act = drive_decide(&f, why, sizeof(why));
		if (act) {
			r = sign_publish(&c, &f.s, seed, act, 0, now, &mine, &next, &rev, &err);
			if (r == 0)
				cx_esc_line(stdout, "drive: %s: published %s (seq %lld, signed by %s key '%s'); rollout %s",
					    why, cx_control_action_name(act), (long long)mine.seq,
					    cx_role_name(mine.role), mine.principal, cx_rollout_state_name(next.state));
			else if (r != -EAGAIN && err.reason != CX_E_LEDGER_UNAVAILABLE) {
				cx_wipe(seed, sizeof(seed));
				return cx_cli_fail(&err, cx_reason_is_refusal(err.reason) ? 1 : CX_EXIT_FAILURE);
			}
			fflush(stdout);
			continue; /* read again at once */
		}
		if (finished(&f)) {
			cx_wipe(seed, sizeof(seed));
			cx_esc_line(stdout, "drive: rollout %s %s", id, cx_fleet_state(&f));
			return 0;
		}
		usleep((useconds_t)poll_ms * 1000);
	}
}

/* ---- report ------------------------------------------------------------- */

/* report --dry-run: the page of a signed rollout file not started, from
 * the file and its lease alone (verified as 'verify' does): every host
 * waiting, nothing read from etcd. */
static int dry_run_fleet(ctx *c, const char *lease_path, const char *ro_path, cx_fleet *f,
			 cx_error *err)
{
	int r = cx_lease_read(lease_path, &f->s.lease_buf, &f->s.lease_len, err);
	if (r == 0)
		r = cx_rollout_read(ro_path, &f->s.rollout_buf, &f->s.rollout_len, err);
	if (r < 0)
		return r;
	cx_rollout_verify_input in = { .keyring = &c->kr, .lease_buf = f->s.lease_buf,
				       .lease_len = f->s.lease_len, .now = (int64_t)time(NULL) };
	r = cx_rollout_verify(&in, f->s.rollout_buf, f->s.rollout_len, &f->s.ro, NULL, err);
	if (r < 0)
		return r;
	cx_rollout_progress_init(&f->s.prog);
	f->kr = &c->kr;
	f->slots = json_object();
	f->hosts = cx_calloc(f->s.ro.nhosts ? f->s.ro.nhosts : 1, sizeof(*f->hosts));
	for (size_t t = 0; t < f->s.ro.ntiers; t++)
		for (size_t k = 0; k < f->s.ro.tiers[t].hosts.n; k++) {
			f->hosts[f->nhosts].host = f->s.ro.tiers[t].hosts.v[k];
			f->hosts[f->nhosts++].tier = t;
		}
	cx_fleet_eval(f, (int64_t)time(NULL));
	return 0;
}

int cx_rollout_cmd_report(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "format", required_argument, 0, 'f' },
					      { "output", required_argument, 0, 'o' },
					      { "dry-run", no_argument, 0, 'd' },
					      { "lease", required_argument, 0, 'l' },
					      { 0, 0, 0, 0 } };
	const char *cpath = NULL, *format = "md", *out = NULL, *lease = NULL;
	bool dry = false;
	_cleanup_(ctx_free) ctx c = { 0 };
	_cleanup_(cx_fleet_free) cx_fleet f = { 0 };
	_cleanup_json_ json_t *v = NULL;
	_cleanup_free_ char *doc = NULL;
	cx_error err = { 0 };
	int o;

	while ((o = getopt_long(argc, argv, "c:f:o:", opts, NULL)) != -1) {
		if (o == 'c')
			cpath = optarg;
		else if (o == 'f')
			format = optarg;
		else if (o == 'o')
			out = optarg;
		else if (o == 'd')
			dry = true;
		else if (o == 'l')
			lease = optarg;
		else
			return cx_cli_usage("report: unknown option");
	}
	if (!cpath || optind != argc - 1 || dry != (lease != NULL))
		return cx_cli_usage("usage: report --config C [--format md|html] [-o FILE] (ROLLOUT_ID | --dry-run --lease L ROLLOUT)");
	if (strcmp(format, "md") != 0 && strcmp(format, "html") != 0)
		return cx_cli_usage("report: unknown report format '%s' (use md or html)", format);
	if (!dry && !cx_is_lower_hex(argv[optind], 32))
		return cx_cli_usage("report: '%s' is not a rollout id (32 lowercase hex)", argv[optind]);
	if (ctx_open(cpath, &c, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (dry) {
		if (dry_run_fleet(&c, lease, argv[optind], &f, &err) < 0)
			return cx_cli_fail(&err, cx_reason_is_refusal(err.reason) ? CX_EXIT_REFUSED : CX_EXIT_FAILURE);
	} else if (cx_fleet_load(c.etcd, c.cfg.etcd.timeout_ms, &c.kr, argv[optind],
				 (int64_t)time(NULL), &f, &err) < 0) {
		return load_fail(&err);
	}
	v = cx_fleet_view(&f);
	if (dry) {
		json_object_set_new(v, "mode", json_string("dry_run"));
		json_object_set_new(v, "mode_detail",
				    json_string("dry run: this signed rollout is not started; nothing runs until 'calyx-rollout start'"));
	}
	if (cx_rollout_report_render(v, format, &doc, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (!out) {
		fputs(doc, stdout);
		return 0;
	}
	if (cx_write_file_atomic(out, doc, strlen(doc), 0644, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_esc_line(stdout, "wrote the %s report of rollout %s (%s) to %s", format, f.s.ro.rollout_id,
		    dry ? "dry run" : cx_fleet_state(&f), out);
	return 0;
}
