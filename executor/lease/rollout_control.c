/* Rollout control documents: pause, resume, halt, approve (a tier) and
 * rollback, each signed by one key, bound to one signed rollout file and
 * ordered by a seq that rises strictly per rollout (format: docs/formats.md
 * "Rollout control document"; order and reasons: calyx/rollout.h).
 *
 * Invariants:
 *  - the body is parsed only after its one signature verified, from
 *    exactly the verified bytes;
 *  - the signer's role comes from the keyring: stopping (pause, halt) is
 *    the safe direction and any keyring key may ask for it, the automatic
 *    driver included; everything that lets more hosts run or undoes runs
 *    (resume, approve, rollback) needs a human key;
 *  - a document is accepted once per seq: the caller keeps the highest seq
 *    it accepted for the rollout and passes it in, and anything at or
 *    below it is a replay (or a stale document) and refused.
 * Trust: pure, on hostile input (fetched from a store that orders
 * documents but never authorizes them). */
#include "calyx/rollout.h"

#include <string.h>

#include "calyx/codec.h"
#include "calyx/jsonx.h"

const cx_doc_type cx_doc_control = {
	.payload_type = CX_CONTROL_PAYLOAD_TYPE,
	.what = "control document",
	.max_bytes = CX_CONTROL_MAX_BYTES,
	.body_max_bytes = CX_CONTROL_BODY_MAX_BYTES,
	.nsig = 1,
	.sig_rule = "one keyring key; a human key for resume, approve and rollback",
};

static const char *const action_names[] = {
	[CX_CONTROL_PAUSE] = "pause",     [CX_CONTROL_RESUME] = "resume",
	[CX_CONTROL_HALT] = "halt",       [CX_CONTROL_APPROVE] = "approve",
	[CX_CONTROL_ROLLBACK] = "rollback",
};

const char *cx_control_action_name(cx_control_action a)
{
	if ((size_t)a >= CX_ARRAY_SIZE(action_names) || !action_names[a])
		return "?";
	return action_names[a];
}

int cx_control_action_parse(const char *s, cx_control_action *ret)
{
	for (size_t i = 1; i < CX_ARRAY_SIZE(action_names); i++)
		if (strcmp(s, action_names[i]) == 0) {
			*ret = (cx_control_action)i;
			return 0;
		}
	return -EINVAL;
}

bool cx_control_role_allows(cx_role role, cx_control_action a, const cx_rollout *ro)
{
	switch (a) {
	case CX_CONTROL_PAUSE:
	case CX_CONTROL_HALT:
		return role == CX_ROLE_HUMAN || role == CX_ROLE_AGENT;
	case CX_CONTROL_ROLLBACK:
		/* the humans who signed a rollout with on_failure "rollback"
		 * authorized the automatic driver (an agent key) to roll it back */
		return role == CX_ROLE_HUMAN ||
		       (role == CX_ROLE_AGENT && ro && ro->on_failure == CX_ON_FAILURE_ROLLBACK);
	case CX_CONTROL_RESUME:
	case CX_CONTROL_APPROVE:
		return role == CX_ROLE_HUMAN;
	}
	return false;
}

void cx_control_free(cx_control *c)
{
	free(c->principal);
	memset(c, 0, sizeof(*c));
}

int cx_control_body_parse(const uint8_t *buf, size_t len, cx_control *ret, cx_error *err)
{
	static const char *const req[] = { "v", "rollout_id", "rollout_sha256", "seq", "action",
					   "issued_at", NULL };
	static const char *const opt[] = { "tier", NULL };
	_cleanup_json_ json_t *j = NULL;
	cx_control c = { 0 };
	const char *s = NULL;
	int64_t ver;
	int r;

	if (len > CX_CONTROL_BODY_MAX_BYTES)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "control document body is above %u bytes",
			      CX_CONTROL_BODY_MAX_BYTES);
	r = cx_json_parse_object(buf, len, "control document body", &j, err);
	if (r == 0)
		r = cx_json_keys(j, "control", CX_E_CONTROL, req, opt, err);
	if (r == 0)
		r = cx_json_int(j, "v", "control", CX_E_CONTROL, 1, 1, false, &ver, err);
	if (r == 0)
		r = cx_json_str(j, "rollout_id", "control", CX_E_CONTROL, 64, false, &s, err);
	if (r < 0)
		return r;
	CX_CHECK(s); /* a required string member was found */
	if (!cx_is_lower_hex(s, 32))
		return cx_err(err, CX_E_CONTROL, EINVAL, "control.rollout_id is not 32 lowercase hex");
	memcpy(c.rollout_id, s, 33);
	r = cx_json_str(j, "rollout_sha256", "control", CX_E_CONTROL, 128, false, &s, err);
	if (r < 0)
		return r;
	if (!cx_is_lower_hex(s, 64))
		return cx_err(err, CX_E_CONTROL, EINVAL, "control.rollout_sha256 is not 64 lowercase hex");
	memcpy(c.rollout_sha256, s, 65);
	r = cx_json_int(j, "seq", "control", CX_E_CONTROL, 1, CX_CONTROL_SEQ_MAX, false, &c.seq, err);
	if (r == 0)
		r = cx_json_str(j, "action", "control", CX_E_CONTROL, 16, false, &s, err);
	if (r < 0)
		return r;
	if (cx_control_action_parse(s, &c.action) < 0)
		return cx_err(err, CX_E_CONTROL, EINVAL,
			      "control.action '%.16s' is not pause, resume, halt, approve or rollback", s);
	r = cx_json_int(j, "tier", "control", CX_E_CONTROL, 1, CX_ROLLOUT_TIERS_MAX, true, &c.tier,
			err);
	if (r < 0)
		return r;
	if (c.action == CX_CONTROL_APPROVE && !json_object_get(j, "tier"))
		return cx_err(err, CX_E_CONTROL, EINVAL,
			      "control.tier is required for 'approve' (the 1-based tier it opens)");
	if (c.action != CX_CONTROL_APPROVE && json_object_get(j, "tier"))
		return cx_err(err, CX_E_CONTROL, EINVAL,
			      "control.tier is only for 'approve' ('%s' acts on the whole rollout)",
			      cx_control_action_name(c.action));
	r = cx_json_int(j, "issued_at", "control", CX_E_TIME, 0, CX_LEASE_TIME_MAX, false,
			&c.issued_at, err);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

char *cx_control_body_dump(const cx_control *c)
{
	_cleanup_json_ json_t *j = json_object();

	json_object_set_new(j, "v", json_integer(1));
	json_object_set_new(j, "rollout_id", json_string(c->rollout_id));
	json_object_set_new(j, "rollout_sha256", json_string(c->rollout_sha256));
	json_object_set_new(j, "seq", json_integer(c->seq));
	json_object_set_new(j, "action", json_string(cx_control_action_name(c->action)));
	if (c->action == CX_CONTROL_APPROVE)
		json_object_set_new(j, "tier", json_integer(c->tier));
	json_object_set_new(j, "issued_at", json_integer(c->issued_at));
	return cx_json_dump_pretty(j);
}

int cx_control_verify(const cx_control_verify_input *in, const uint8_t *buf, size_t len,
		      cx_control *ret, cx_error *err)
{
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_control_free) cx_control c = { 0 };
	const cx_rollout *ro = in->rollout;
	const cx_key *keys[CX_LEASE_SIGS] = { 0 };
	int64_t skew = in->clock_skew_s > 0 ? in->clock_skew_s : CX_ROLLOUT_SKEW_S;
	char hex[65];
	int r;

	CX_CHECK(in->keyring && ro && in->rollout_buf && in->last_seq >= 0);
	r = cx_envelope_parse_as(&cx_doc_control, buf, len, 1, 1, &e, err);
	if (r == 0)
		r = cx_envelope_check_sigs(&cx_doc_control, in->keyring, &e, keys, err);
	if (r == 0)
		r = cx_control_body_parse(e.payload, e.payload_len, &c, err);
	if (r < 0)
		return r;
	if (strcmp(c.rollout_id, ro->rollout_id) != 0)
		return cx_err(err, CX_E_CONTROL, EPERM,
			      "control document is for rollout %s, not %s", c.rollout_id, ro->rollout_id);
	cx_sha256_hex(in->rollout_buf, in->rollout_len, hex);
	if (strcmp(c.rollout_sha256, hex) != 0)
		return cx_err(err, CX_E_CONTROL, EPERM,
			      "control document is for rollout file sha256 %.16s…, this rollout file's is %.16s… (a control document names the signed rollout file)",
			      c.rollout_sha256, hex);
	if (c.action == CX_CONTROL_APPROVE) {
		if ((size_t)c.tier > ro->ntiers)
			return cx_err(err, CX_E_CONTROL, EINVAL,
				      "control document approves tier %lld, the rollout has %zu",
				      (long long)c.tier, ro->ntiers);
		if (ro->tiers[c.tier - 1].gate != CX_GATE_MANUAL)
			return cx_err(err, CX_E_CONTROL, EINVAL,
				      "tier %lld ('%s') opens by itself (gate auto): there is nothing to approve",
				      (long long)c.tier, ro->tiers[c.tier - 1].name);
	}
	CX_CHECK(keys[0]); /* cx_envelope_check_sigs filled it */
	if (!cx_control_role_allows(keys[0]->role, c.action, ro))
		return cx_err(err, CX_E_CONTROL_ROLE, EPERM,
			      "'%s' needs a human key; this one is signed by %s key '%s' (have a human sign it)",
			      cx_control_action_name(c.action), cx_role_name(keys[0]->role),
			      keys[0]->principal);
	if (c.seq <= in->last_seq)
		return cx_err(err, CX_E_CONTROL_SEQ, EPERM,
			      "control document seq %lld is not above %lld, the last seen for rollout %s (a replayed or stale document; sign a new one with a higher seq)",
			      (long long)c.seq, (long long)in->last_seq, ro->rollout_id);
	if (c.issued_at > in->now + skew)
		return cx_err(err, CX_E_NOT_YET_VALID, EPERM,
			      "control document was issued %lld s in the future (check the signer's clock)",
			      (long long)(c.issued_at - in->now));
	memcpy(c.keyid, keys[0]->keyid, 65);
	c.role = keys[0]->role;
	c.principal = cx_strdup(keys[0]->principal);
	*ret = TAKE_STRUCT(c);
	return 0;
}
