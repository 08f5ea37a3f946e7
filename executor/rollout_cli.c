/* calyx-rollout's printers and host lists (executor/rollout_cli.h), apart
 * from its commands (main_rollout.c) to keep each file one concern.
 * Every string shown goes through calyx/esc.h's rule (cx_esc_line,
 * cx_esc_fputs); host lists are held to the id alphabet before anything
 * else sees them.
 * Trust: formatting and parsing of the planner's own input. */
#include "rollout_cli.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "calyx/esc.h"
#include "calyx/fileio.h"
#include "cli.h"

#define HOSTS_FILE_MAX (2u * 1024 * 1024)
#define HOSTS_PER_LINE 6

static void print_time(const char *label, int64_t t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("  %-12s %s (%lld)\n", label, buf, (long long)t);
}

/* ---- host lists --------------------------------------------------------- */

static int host_add(cx_strv *v, const char *h, const char *what, size_t line, cx_error *err)
{
	char where[96];

	if (line)
		snprintf(where, sizeof(where), "%s:%zu", what, line);
	else
		snprintf(where, sizeof(where), "%s", what);
	if (!cx_id_ok(h))
		return cx_err(err, CX_E_ROLLOUT, EINVAL,
			      "%s: '%.140s' is not a host id (1-%d of [A-Za-z0-9._:@-], starting alphanumeric)",
			      where, h, CX_ID_MAX);
	if (v->n >= CX_ROLLOUT_HOSTS_MAX)
		return cx_err(err, CX_E_ROLLOUT, E2BIG, "%s lists more than %d hosts", what,
			      CX_ROLLOUT_HOSTS_MAX);
	return cx_strv_push(v, h);
}

/* "H1,H2,...": no empty entry, each a host id. */
static int hosts_from_list(const char *arg, const char *what, cx_strv *out, cx_error *err)
{
	_cleanup_free_ char *copy = cx_strdup(arg);
	char *p = copy;
	int r;

	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p)
			return cx_err(err, CX_E_ROLLOUT, EINVAL,
				      "%s has an empty host id (two commas in a row, or one at an end)", what);
		r = host_add(out, p, what, 0, err);
		if (r < 0)
			return r;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* One host id a line; blank lines and lines starting with '#' skipped,
 * blanks around an id trimmed. */
static int hosts_from_file(const char *path, cx_strv *out, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len, line = 0;
	char *p, *end;
	int r;

	r = cx_read_file(path, "hosts file", HOSTS_FILE_MAX, 0, 0, &buf, &len, err);
	if (r < 0)
		return r;
	if (memchr(buf, '\0', len))
		return cx_err(err, CX_E_ROLLOUT, EINVAL, "hosts file '%s' holds a NUL byte", path);
	for (p = (char *)buf, end = p + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *s = p, *e;

		e = nl ? nl : end;
		p = nl ? nl + 1 : end;
		line++;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s == e || *s == '#')
			continue;
		*e = '\0';
		r = host_add(out, s, path, line, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cx_rollout_cli_hosts(const char *list, const char *file, const char *what, cx_strv *out,
			 cx_error *err)
{
	int r = file ? hosts_from_file(file, out, err) : hosts_from_list(list, what, out, err);
	if (r == 0 && out->n == 0)
		r = cx_err(err, CX_E_ROLLOUT, EINVAL, "%s lists no host", file ? file : what);
	return r;
}

/* ---- printing ----------------------------------------------------------- */

const char *cx_rollout_cli_gate_words(const cx_rollout *ro, size_t k)
{
	if (ro->tiers[k].gate == CX_GATE_MANUAL)
		return "on a human's approve control document (gate manual)";
	return k == 0 ? "when the rollout starts (gate auto)"
		      : "by itself once the tier before it soaked (gate auto)";
}

/* The plan: every tier with its hosts, gate, soak, deadline, parallelism,
 * failure budget; the failure and deadline actions; the window. */
void cx_rollout_cli_print_plan(const cx_rollout *ro)
{
	size_t cum = 0;

	cx_esc_line(stdout, "rollout %s of lease %s on pool '%s'", ro->rollout_id, ro->lease_id,
		    ro->pool);
	printf("  lease file   sha256:%s\n", ro->lease_sha256);
	print_time("issued", ro->issued_at);
	print_time("valid from", ro->not_before);
	print_time("valid until", ro->not_after);
	for (size_t k = 0; k < ro->ntiers; k++) {
		const cx_rollout_tier *t = &ro->tiers[k];

		cum += t->hosts.n;
		cx_esc_line(stdout, "  tier %zu '%s'  %zu host%s, %zu of %zu in all (%lld %%)", k + 1,
			    t->name, t->hosts.n, t->hosts.n == 1 ? "" : "s", cum, ro->nhosts,
			    (long long)t->percent);
		printf("      opens %s\n", cx_rollout_cli_gate_words(ro, k));
		printf("      at most %lld at once; %lld failure%s tolerated; soak %lld s; deadline %lld s\n",
		       (long long)t->max_parallel, (long long)t->max_failures,
		       t->max_failures == 1 ? "" : "s", (long long)t->soak_s, (long long)t->deadline_s);
		for (size_t i = 0; i < t->hosts.n; i++) {
			if (i % HOSTS_PER_LINE == 0)
				fputs(i ? "\n            " : "      hosts ", stdout);
			fputc(' ', stdout);
			cx_esc_fputs(t->hosts.v[i], stdout);
		}
		fputc('\n', stdout);
	}
	printf("  on failure   %s\n",
	       ro->on_failure == CX_ON_FAILURE_HALT
		       ? "halt (no new claims, runs in flight halted; hosts that committed keep the change)"
		       : "rollback (halt, then undo the run on every host that committed)");
	printf("  on deadline  %s\n",
	       ro->on_deadline == CX_ON_DEADLINE_HALT
		       ? "halt (no new claims, runs in flight halted)"
		       : "pause (no new claims until a human resumes; runs in flight finish)");
	for (size_t i = 0; i < ro->nsigner; i++)
		cx_esc_line(stdout, "  signed by    %s key '%s' (%.16s…), signature verified",
			    cx_role_name(ro->signer[i].role), ro->signer[i].principal,
			    ro->signer[i].keyid);
}

static int flag_hidden_strv(const char *field, const cx_strv *v)
{
	char what[64];
	int n = 0;

	for (size_t i = 0; i < v->n; i++)
		if (cx_text_first_hidden(v->v[i], what)) {
			cx_esc_line(stdout, "  ! the lease's %s[%zu] holds %s, shown escaped above: a terminal or editor may show it as something else",
				    field, i, what);
			n++;
		}
	return n;
}

/* What a co-signer should look at: tiers that open without a human,
 * failure budgets, no soak, what a failure does, the lease's reach
 * beyond the rollout, the lease's strings that do not show as they are. */
void cx_rollout_cli_print_review(const cx_rollout *ro, const cx_lease *l)
{
	int64_t now = (int64_t)time(NULL);
	cx_error err = { 0 };

	printf("review:\n");
	if (l && cx_rollout_check_lease(ro, l, &err) < 0)
		cx_esc_line(stdout, "  ! %s: it will be refused", err.msg);
	if (l) {
		flag_hidden_strv("argv", &l->spec.argv);
		flag_hidden_strv("validate.argv", &l->spec.validate_argv);
		if (l->count > 0 && (size_t)l->count > ro->nhosts)
			cx_esc_line(stdout, "  ! the lease runs on up to %lld hosts of pool '%s', this rollout lists %zu: the lease allows %lld more runs outside the rollout",
				    (long long)l->count, ro->pool, ro->nhosts,
				    (long long)l->count - (long long)ro->nhosts);
	} else {
		printf("  ! the lease is not shown: give it with --lease to review what runs\n");
	}
	for (size_t k = 0; k < ro->ntiers; k++) {
		const cx_rollout_tier *t = &ro->tiers[k];

		if (t->gate == CX_GATE_AUTO && k > 0)
			cx_esc_line(stdout, "  ! tier %zu '%s' (%zu hosts) opens by itself %lld s after tier %zu's hosts committed: no human approves it",
				    k + 1, t->name, t->hosts.n, (long long)ro->tiers[k - 1].soak_s, k);
		if (t->max_failures > 0)
			cx_esc_line(stdout, "  ! tier %zu '%s' tolerates %lld failed or lost host%s before on_failure",
				    k + 1, t->name, (long long)t->max_failures,
				    t->max_failures == 1 ? "" : "s");
		if (t->soak_s == 0 && k + 1 < ro->ntiers)
			cx_esc_line(stdout, "  ! tier %zu '%s' does not soak: tier %zu's gate is weighed as soon as its hosts committed",
				    k + 1, t->name, k + 2);
	}
	cx_esc_line(stdout, "  - canary: tier 1 '%s', %zu of %zu hosts, opens %s", ro->tiers[0].name,
		    ro->tiers[0].hosts.n, ro->nhosts, cx_rollout_cli_gate_words(ro, 0));
	if (ro->on_failure == CX_ON_FAILURE_ROLLBACK)
		printf("  ! a failure beyond a tier's budget undoes the run on every host that committed\n");
	else
		printf("  - a failure beyond a tier's budget halts; hosts that committed keep the change (undo them with a 'rollback' control document)\n");
	printf("  - valid for %lld s%s\n", (long long)(ro->not_after - ro->not_before),
	       ro->not_after <= now ? " (ALREADY EXPIRED)" : "");
}

/* Who signed (with a keyring: whose key, valid or not) and who must
 * still sign. */
void cx_rollout_cli_print_signatures(const cx_envelope *e, const cx_keyring *kr)
{
	_cleanup_free_ uint8_t *pae = NULL;
	size_t pae_len, humans = 0, agents = 0;

	printf("signers:\n");
	cx_pae(e->payload_type, e->payload, e->payload_len, &pae, &pae_len);
	if (e->nsig == 0)
		printf("  signatures   none yet\n");
	for (size_t i = 0; i < e->nsig; i++) {
		const cx_key *k = kr ? cx_keyring_find(kr, e->sigs[i].keyid) : NULL;
		bool ok;

		if (!k) {
			cx_esc_line(stdout, "  signature    by key %s%s", e->sigs[i].keyid,
				    kr ? ": NOT IN KEYRING" : " (give --keyring to see whose)");
			continue;
		}
		ok = crypto_sign_verify_detached(e->sigs[i].sig, pae, pae_len, k->pk) == 0;
		cx_esc_line(stdout, "  signature    by %s key '%s'%s: %s", cx_role_name(k->role),
			    k->principal, k->revoked ? " (REVOKED)" : "",
			    ok ? "valid" : "DOES NOT VERIFY");
		if (ok && !k->revoked) {
			humans += k->role == CX_ROLE_HUMAN;
			agents += k->role == CX_ROLE_AGENT;
		}
	}
	if (!kr) {
		if (e->nsig < 2)
			printf("  must sign    %zu more key%s (one human and one agent in all)\n",
			       2 - e->nsig, e->nsig == 1 ? "" : "s");
		return;
	}
	if (humans >= 1 && agents >= 1)
		printf("  signatures   complete: one human and one agent key\n");
	if (humans == 0)
		printf("  must sign    a human key (calyx-rollout sign --key HUMAN.key)\n");
	if (agents == 0)
		printf("  must sign    an agent key (calyx-rollout sign --key AGENT.key)\n");
}
