/* Strict JSON helpers over jansson.
 *
 * Parsing always goes through json_loadb(..., JSON_REJECT_DUPLICATES) on a
 * length-bounded buffer (never json_loads, which stops at a NUL). Objects
 * are checked against exact key sets; strings are bounded and NUL-free;
 * integers are integers (not floats, not strings) within a range.
 * `what` names the object in messages, e.g. "lease.limits".
 * Trust: pure, on untrusted input. */
#ifndef CALYX_JSONX_H
#define CALYX_JSONX_H

#include <jansson.h>
#include <stdint.h>
#include "calyx/common.h"

static inline void cx_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define _cleanup_json_ _cleanup_(cx_json_decrefp)

/* json_loadb that also refuses a raw NUL byte anywhere (jansson accepts one
 * after a number). Every JSON calyx reads goes through it. */
json_t *cx_json_loadb(const void *buf, size_t len, size_t flags, json_error_t *je);

/* Parse a JSON object; `reason` is the code to report for a bad document. */
int cx_json_parse_object(const uint8_t *buf, size_t len, const char *what,
			 json_t **ret, cx_error *err);

/* Every key in obj must be in required or optional (NULL-terminated lists);
 * every required key must be present. Reason: `reason`. */
int cx_json_keys(const json_t *obj, const char *what, int reason,
		 const char *const *required, const char *const *optional,
		 cx_error *err);

/* String member: present (unless optional), a string, 1..max bytes (or
 * 0..max when allow_empty), no NUL. *ret points into obj (borrowed). */
int cx_json_str(const json_t *obj, const char *key, const char *what,
		int reason, size_t max, bool optional, const char **ret,
		cx_error *err);
/* Validate a json string value itself (for array elements). */
int cx_json_str_value(const json_t *v, const char *what, int reason,
		      size_t max, const char **ret, cx_error *err);

/* Integer member in [min, max]. */
int cx_json_int(const json_t *obj, const char *key, const char *what,
		int reason, int64_t min, int64_t max, bool optional,
		int64_t *ret, cx_error *err);

/* Serialize compactly, keys in insertion order. Caller frees. */
char *cx_json_dump(const json_t *j);
/* Serialize for people and files: 2-space indent, trailing newline. */
char *cx_json_dump_pretty(const json_t *j);

#endif
