/* libFuzzer harness: the rollout body parser (cx_rollout_body_parse) and
 * the rollout control document body parser (cx_control_body_parse), each
 * given the same bytes.
 *
 * Checked with CX_CHECK on every accepted rollout body:
 *  - 1..16 tiers, percents rising strictly to exactly 100, 1..10,000
 *    hosts in all, none empty;
 *  - the tier arithmetic: tiers 1..k hold exactly
 *    cx_rollout_cumulative(percent_k, hosts) hosts;
 *  - every host id and tier name in the id alphabet, no host in two
 *    places (cx_rollout_host_tier finds each in its own tier, for bodies
 *    of up to 300 hosts), max_failures below the tier's hosts, soak below
 *    the deadline, the window ordered;
 * and on an accepted control body: the fields in range, "tier" exactly
 * for approve, and the body it serializes to (cx_control_body_dump)
 * parsing back to the same fields.
 * A refusal always carries a reason and a message.
 * Trust: test code; the input is arbitrary bytes (in production the
 * bodies are parsed only after their signatures verified, but are still
 * hostile). */
#include <string.h>

#include "calyx/rollout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rollout(const cx_rollout *ro)
{
	size_t cum = 0;

	CX_CHECK(ro->ntiers >= 1 && ro->ntiers <= CX_ROLLOUT_TIERS_MAX);
	CX_CHECK(ro->nhosts >= 1 && ro->nhosts <= CX_ROLLOUT_HOSTS_MAX);
	CX_CHECK(ro->tiers[ro->ntiers - 1].percent == 100);
	CX_CHECK(ro->not_before < ro->not_after && ro->issued_at < ro->not_after);
	CX_CHECK(cx_pool_name_ok(ro->pool));
	for (size_t k = 0; k < ro->ntiers; k++) {
		const cx_rollout_tier *t = &ro->tiers[k];

		CX_CHECK(k == 0 || t->percent > ro->tiers[k - 1].percent);
		CX_CHECK(t->hosts.n >= 1 && cx_id_ok(t->name));
		CX_CHECK((size_t)t->max_failures < t->hosts.n && t->max_parallel >= 1);
		CX_CHECK(t->soak_s < t->deadline_s);
		CX_CHECK(t->gate == CX_GATE_MANUAL || t->gate == CX_GATE_AUTO);
		cum += t->hosts.n;
		CX_CHECK(cum == cx_rollout_cumulative(t->percent, ro->nhosts));
		for (size_t i = 0; i < t->hosts.n; i++) {
			CX_CHECK(cx_id_ok(t->hosts.v[i]));
			if (ro->nhosts <= 300)
				CX_CHECK(cx_rollout_host_tier(ro, t->hosts.v[i]) == (int)k);
		}
	}
	CX_CHECK(cum == ro->nhosts);
}

static void check_control(const cx_control *c)
{
	cx_control again = { 0 };
	cx_error err = { 0 };
	char *s;

	CX_CHECK(c->seq >= 1 && c->seq <= CX_CONTROL_SEQ_MAX);
	CX_CHECK((c->action == CX_CONTROL_APPROVE) == (c->tier != 0));
	CX_CHECK(c->tier >= 0 && c->tier <= CX_ROLLOUT_TIERS_MAX);
	s = cx_control_body_dump(c);
	CX_CHECK(cx_control_body_parse((const uint8_t *)s, strlen(s), &again, &err) == 0);
	CX_CHECK(again.seq == c->seq && again.action == c->action && again.tier == c->tier &&
		 again.issued_at == c->issued_at);
	CX_CHECK(strcmp(again.rollout_id, c->rollout_id) == 0 &&
		 strcmp(again.rollout_sha256, c->rollout_sha256) == 0);
	free(s);
	cx_control_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_rollout ro = { 0 };
	cx_control c = { 0 };
	cx_error err = { 0 };

	if (cx_rollout_body_parse(data, size, &ro, &err) == 0) {
		check_rollout(&ro);
		cx_rollout_free(&ro);
	} else {
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
	}
	memset(&err, 0, sizeof(err));
	if (cx_control_body_parse(data, size, &c, &err) == 0) {
		check_control(&c);
		cx_control_free(&c);
	} else {
		CX_CHECK(err.reason != CX_OK && err.msg[0]);
	}
	return 0;
}
