/* Strict JSON helpers. Trust: pure, on untrusted input. */
#include "calyx/jsonx.h"

#include <string.h>

json_t *cx_json_loadb(const void *buf, size_t len, size_t flags, json_error_t *je)
{
	/* No raw NUL byte is valid anywhere in JSON (inside strings it must
	 * be escaped), but jansson 2.14 accepts one right after a number
	 * ({"v": 1<NUL>, ...}): refuse it before jansson sees the bytes, so
	 * what calyx accepts is exactly JSON (found by fuzz_lint). */
	const void *nul = memchr(buf, 0, len);
	if (nul) {
		if (je) {
			const char *b = buf, *z = nul;
			memset(je, 0, sizeof(*je));
			je->position = (int)(z - b);
			je->line = 1;
			je->column = 1;
			for (const char *c = b; c < z; c++) {
				if (*c == '\n') {
					je->line++;
					je->column = 1;
				} else if ((*c & 0xC0) != 0x80) {
					je->column++;
				}
			}
			snprintf(je->text, sizeof(je->text), "NUL byte at offset %d", je->position);
		}
		return NULL;
	}
	return json_loadb(buf, len, flags, je);
}

int cx_json_parse_object(const uint8_t *buf, size_t len, const char *what,
			 json_t **ret, cx_error *err)
{
	json_error_t je;
	json_t *j;

	/* An explicit length (bytes after a NUL are not silently ignored,
	 * and a NUL is refused); duplicate keys (also spelled with \u
	 * escapes) are refused. */
	j = cx_json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return cx_err(err, CX_E_JSON, EINVAL, "%s is not valid JSON (line %d column %d: %s)",
			      what, je.line, je.column, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return cx_err(err, CX_E_JSON, EINVAL, "%s is not a JSON object", what);
	}
	*ret = j;
	return 0;
}

static bool in_list(const char *k, const char *const *l)
{
	for (; l && *l; l++)
		if (strcmp(k, *l) == 0)
			return true;
	return false;
}

int cx_json_keys(const json_t *obj, const char *what, int reason,
		 const char *const *required, const char *const *optional,
		 cx_error *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return cx_err(err, reason, EINVAL, "%s must be a JSON object", what);
	json_object_foreach((json_t *)obj, k, v) {
		(void)v;
		if (!in_list(k, required) && !in_list(k, optional))
			return cx_err(err, reason, EINVAL,
				      "%s has unknown field '%.64s' (remove it)", what, k);
	}
	for (; required && *required; required++)
		if (!json_object_get(obj, *required))
			return cx_err(err, reason, EINVAL,
				      "%s is missing required field '%s'", what, *required);
	return 0;
}

int cx_json_str_value(const json_t *v, const char *what, int reason,
		      size_t max, const char **ret, cx_error *err)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return cx_err(err, reason, EINVAL, "%s must be a string", what);
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n)
		return cx_err(err, reason, EINVAL, "%s contains a NUL byte", what);
	if (n == 0)
		return cx_err(err, reason, EINVAL, "%s must not be empty", what);
	if (n > max)
		return cx_err(err, reason, EINVAL, "%s is longer than %zu bytes", what, max);
	*ret = s;
	return 0;
}

int cx_json_str(const json_t *obj, const char *key, const char *what,
		int reason, size_t max, bool optional, const char **ret,
		cx_error *err)
{
	json_t *v = json_object_get(obj, key);
	char name[160];

	if (!v) {
		if (optional) {
			*ret = NULL;
			return 0;
		}
		return cx_err(err, reason, EINVAL, "%s is missing required field '%s'", what, key);
	}
	snprintf(name, sizeof(name), "%s.%s", what, key);
	return cx_json_str_value(v, name, reason, max, ret, err);
}

int cx_json_int(const json_t *obj, const char *key, const char *what,
		int reason, int64_t min, int64_t max, bool optional,
		int64_t *ret, cx_error *err)
{
	json_t *v = json_object_get(obj, key);
	json_int_t x;

	if (!v) {
		if (optional)
			return 0;
		return cx_err(err, reason, EINVAL, "%s is missing required field '%s'", what, key);
	}
	if (!json_is_integer(v))
		return cx_err(err, reason, EINVAL, "%s.%s must be an integer", what, key);
	x = json_integer_value(v);
	if (x < min || x > max)
		return cx_err(err, reason, ERANGE, "%s.%s = %lld is outside %lld..%lld", what, key,
			      (long long)x, (long long)min, (long long)max);
	*ret = x;
	return 0;
}

char *cx_json_dump_pretty(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2)), *out;
	size_t n;

	CX_CHECK(s);
	n = strlen(s);
	out = realloc(s, n + 2);
	CX_CHECK(out);
	out[n] = '\n';
	out[n + 1] = '\0';
	return out;
}

char *cx_json_dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	CX_CHECK(s);
	return s;
}
