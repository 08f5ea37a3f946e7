/* A rollout's state from its control documents: the state machine of
 * calyx/rollout.h (cx_rollout_apply), kept pure so every reader of the
 * store (calyx-rollout status, the control commands, the agents later)
 * derives the same state from the same verified documents.
 * Trust: pure; its input documents are verified by cx_control_verify
 * before they get here (signatures, roles, binding, tier gates). */
#include "calyx/rollout.h"

#include <string.h>

static const char *const state_names[] = {
	[CX_ROLLOUT_RUNNING] = "running",
	[CX_ROLLOUT_PAUSED] = "paused",
	[CX_ROLLOUT_HALTED] = "halted",
	[CX_ROLLOUT_ROLLED_BACK] = "rolled_back",
};

const char *cx_rollout_state_name(cx_rollout_state s)
{
	if ((size_t)s >= CX_ARRAY_SIZE(state_names) || !state_names[s])
		return "?";
	return state_names[s];
}

void cx_rollout_progress_init(cx_rollout_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->state = CX_ROLLOUT_RUNNING;
}

int64_t cx_rollout_next_manual(const cx_rollout *ro, const cx_rollout_progress *p)
{
	for (size_t k = 0; k < ro->ntiers; k++)
		if (ro->tiers[k].gate == CX_GATE_MANUAL && !(p->approved & (1u << k)))
			return (int64_t)k + 1;
	return 0;
}

int cx_rollout_apply(const cx_rollout *ro, cx_rollout_progress *p, const cx_control *c,
		     cx_error *err)
{
	const char *act = cx_control_action_name(c->action), *st = cx_rollout_state_name(p->state);
	cx_rollout_state next = p->state;
	int64_t want;

	if (c->seq <= p->last_seq)
		return cx_err(err, CX_E_CONTROL_SEQ, EPERM,
			      "control document seq %lld is not above %lld, the last applied to rollout %s",
			      (long long)c->seq, (long long)p->last_seq, ro->rollout_id);
	if (p->state == CX_ROLLOUT_ROLLED_BACK)
		return cx_err(err, CX_E_ROLLOUT_STATE, EPERM,
			      "rollout %s is rolled back: nothing follows a rollback ('%s' refused)",
			      ro->rollout_id, act);
	if (p->state == CX_ROLLOUT_HALTED && c->action != CX_CONTROL_ROLLBACK)
		return cx_err(err, CX_E_ROLLOUT_STATE, EPERM,
			      "rollout %s is halted: only 'rollback' follows a halt ('%s' refused; plan and start a new rollout to go on)",
			      ro->rollout_id, act);
	switch (c->action) {
	case CX_CONTROL_PAUSE:
		if (p->state == CX_ROLLOUT_PAUSED)
			return cx_err(err, CX_E_ROLLOUT_STATE, EPERM,
				      "rollout %s is already paused", ro->rollout_id);
		next = CX_ROLLOUT_PAUSED;
		break;
	case CX_CONTROL_RESUME:
		if (p->state != CX_ROLLOUT_PAUSED)
			return cx_err(err, CX_E_ROLLOUT_STATE, EPERM,
				      "rollout %s is %s, not paused: there is nothing to resume",
				      ro->rollout_id, st);
		next = CX_ROLLOUT_RUNNING;
		break;
	case CX_CONTROL_HALT:
		next = CX_ROLLOUT_HALTED;
		break;
	case CX_CONTROL_ROLLBACK:
		next = CX_ROLLOUT_ROLLED_BACK;
		break;
	case CX_CONTROL_APPROVE:
		if (c->tier < 1 || (size_t)c->tier > ro->ntiers ||
		    ro->tiers[c->tier - 1].gate != CX_GATE_MANUAL)
			return cx_err(err, CX_E_CONTROL, EINVAL,
				      "tier %lld of rollout %s is not a tier with a manual gate",
				      (long long)c->tier, ro->rollout_id);
		if (p->approved & (1u << (c->tier - 1)))
			return cx_err(err, CX_E_ROLLOUT_STATE, EPERM,
				      "tier %lld ('%s') of rollout %s is already approved",
				      (long long)c->tier, ro->tiers[c->tier - 1].name, ro->rollout_id);
		want = cx_rollout_next_manual(ro, p);
		if (c->tier != want)
			return cx_err(err, CX_E_ROLLOUT_STATE, EPERM,
				      "tier %lld ('%s') cannot be approved before tier %lld ('%s'): manual tiers are approved in order",
				      (long long)c->tier, ro->tiers[c->tier - 1].name, (long long)want,
				      ro->tiers[want - 1].name);
		p->approved |= 1u << (c->tier - 1);
		break;
	default:
		return cx_err(err, CX_E_CONTROL, EINVAL, "unknown control action");
	}
	p->state = next;
	p->last_seq = c->seq;
	return 0;
}
