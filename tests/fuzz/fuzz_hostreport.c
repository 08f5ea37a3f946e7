/* libFuzzer harness: the host report body parser
 * (cx_host_report_body_parse, executor/lease/rollout_fleet.c).
 *
 * Checked with CX_CHECK on every accepted body:
 *  - at most CX_HOST_REPORT_BODY_MAX_BYTES bytes;
 *  - rollout_id 32 lowercase hex, host an id, tier 1..16, seq
 *    1..2^53, at 0..CX_LEASE_TIME_MAX;
 *  - the state one a host reports: never waiting or lost;
 *  - the body kept is an object holding those same fields, and it
 *    serializes to bytes that parse back to the same report;
 * and on a refusal: a reason and a message, and nothing to free.
 * Trust: test code; the input is arbitrary bytes (in production a body
 * is parsed only after its host's signature verified, but is still
 * hostile). */
#include <string.h>

#include "calyx/codec.h"
#include "calyx/rollout_fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const cx_host_report *r, size_t size)
{
	cx_host_report again = { 0 };
	cx_error err = { 0 };
	char *s;

	CX_CHECK(size <= CX_HOST_REPORT_BODY_MAX_BYTES);
	CX_CHECK(cx_is_lower_hex(r->rollout_id, 32) && cx_id_ok(r->host));
	CX_CHECK(r->tier >= 1 && r->tier <= CX_ROLLOUT_TIERS_MAX);
	CX_CHECK(r->seq >= 1 && r->seq <= CX_CONTROL_SEQ_MAX);
	CX_CHECK(r->at >= 0 && r->at <= CX_LEASE_TIME_MAX);
	CX_CHECK(r->state != CX_HOST_WAITING && r->state != CX_HOST_LOST);
	CX_CHECK(cx_host_state_name(r->state)[0] != '?');
	CX_CHECK(json_is_object(r->body));
	CX_CHECK(strcmp(json_string_value(json_object_get(r->body, "host")), r->host) == 0);
	CX_CHECK(json_integer_value(json_object_get(r->body, "seq")) == r->seq);
	s = json_dumps(r->body, JSON_COMPACT);
	CX_CHECK(s);
	if (strlen(s) <= CX_HOST_REPORT_BODY_MAX_BYTES) {
		CX_CHECK(cx_host_report_body_parse((const uint8_t *)s, strlen(s), &again, &err) == 0);
		CX_CHECK(strcmp(again.rollout_id, r->rollout_id) == 0 &&
			 strcmp(again.host, r->host) == 0 && again.tier == r->tier &&
			 again.seq == r->seq && again.state == r->state && again.at == r->at);
		cx_host_report_free(&again);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_host_report r = { 0 };
	cx_error err = { 0 };

	if (cx_host_report_body_parse(data, size, &r, &err) == 0) {
		check(&r, size);
		cx_host_report_free(&r);
	} else {
		CX_CHECK(err.reason != CX_OK && err.msg[0] && !r.body);
	}
	return 0;
}
