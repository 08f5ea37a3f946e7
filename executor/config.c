/* Configuration loading. Trust: root-owned file, StrictModes-checked. */
#include "calyx/config.h"

#include <string.h>

#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/path.h"

void cx_config_free(cx_config *c)
{
	free(c->path);
	free(c->keyring);
	free(c->policy);
	free(c->state_dir);
	free(c->audit_log);
	free(c->host_key);
	free(c->host_id);
	free(c->bpf_pin_dir);
	memset(c, 0, sizeof(*c));
}

static int get_path(const json_t *j, const char *key, char **out, cx_error *err)
{
	const char *s;
	int r = cx_json_str(j, key, "config", CX_E_CONFIG, CX_PATH_MAX, false, &s, err);
	if (r < 0)
		return r;
	if (!cx_path_is_normal(s) || strcmp(s, "/") == 0)
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.%s '%.200s' is not an absolute normalized path", key, s);
	*out = cx_strdup(s);
	return 0;
}

/* "run_uid_range": {"first": N, "count": M}: run ids first..first+M-1,
 * never 0 and never past 0x7ffffffe (the kernel's overflow and invalid
 * ids lie above), at most 2^20 of them. Exclusive with a fixed run_uid. */
static int parse_range(const json_t *j, int64_t *first, int64_t *count, cx_error *err)
{
	static const char *const req[] = { "first", "count", NULL };
	const json_t *rg = json_object_get(j, "run_uid_range");
	int r;

	if (!rg)
		return 0;
	if (json_object_get(j, "run_uid") || json_object_get(j, "run_gid"))
		return cx_err(err, CX_E_CONFIG, EINVAL,
			      "config.run_uid_range and a fixed run_uid/run_gid are exclusive (keep one)");
	r = cx_json_keys(rg, "config.run_uid_range", CX_E_CONFIG, req, NULL, err);
	if (r == 0)
		r = cx_json_int(rg, "first", "config.run_uid_range", CX_E_CONFIG, 1, 0x7ffffffe, false,
				first, err);
	if (r == 0)
		r = cx_json_int(rg, "count", "config.run_uid_range", CX_E_CONFIG, 1, 1 << 20, false,
				count, err);
	if (r == 0 && *first + *count - 1 > 0x7ffffffe)
		return cx_err(err, CX_E_CONFIG, ERANGE,
			      "config.run_uid_range ends at %lld, past 2147483646 (lower first or count)",
			      (long long)(*first + *count - 1));
	return r;
}

int cx_config_parse(const uint8_t *buf, size_t len, cx_config *ret, cx_error *err)
{
	static const char *const req[] = { "keyring", "policy", "state_dir", "audit_log",
					   "host_key", NULL };
	static const char *const opt[] = { "v", "host_id", "run_uid", "run_gid", "run_uid_range",
					   "pack_max_age_s", "pack_max_bytes", "bpf_pin_dir", NULL };
	_cleanup_json_ json_t *j = NULL;
	cx_config c = { 0 };
	const char *s;
	int64_t v, uid = 65534, gid = 65534, first = CX_RUN_UID_FIRST_DEFAULT,
		count = CX_RUN_UID_COUNT_DEFAULT, age = 30LL * 24 * 3600, bytes = 1LL << 30;
	int r;

	r = cx_json_parse_object(buf, len, "config", &j, err);
	if (r < 0) {
		if (err)
			err->reason = CX_E_CONFIG; /* every config problem is E_CONFIG */
		return r;
	}
	r = cx_json_keys(j, "config", CX_E_CONFIG, req, opt, err);
	if (r == 0)
		r = cx_json_int(j, "v", "config", CX_E_CONFIG, 1, 1, true, &v, err);
	if (r == 0)
		r = get_path(j, "keyring", &c.keyring, err);
	if (r == 0)
		r = get_path(j, "policy", &c.policy, err);
	if (r == 0)
		r = get_path(j, "state_dir", &c.state_dir, err);
	if (r == 0)
		r = get_path(j, "audit_log", &c.audit_log, err);
	if (r == 0)
		r = get_path(j, "host_key", &c.host_key, err);
	/* The sandbox never runs as root: ids 1..2^31-2. */
	if (r == 0)
		r = cx_json_int(j, "run_uid", "config", CX_E_CONFIG, 1, 0x7ffffffe, true, &uid, err);
	if (r == 0)
		r = cx_json_int(j, "run_gid", "config", CX_E_CONFIG, 1, 0x7ffffffe, true, &gid, err);
	if (r == 0)
		r = parse_range(j, &first, &count, err);
	if (r == 0)
		r = cx_json_int(j, "pack_max_age_s", "config", CX_E_CONFIG, 0, 10LL * 365 * 24 * 3600, true,
				&age, err);
	if (r == 0)
		r = cx_json_int(j, "pack_max_bytes", "config", CX_E_CONFIG, 0, 1LL << 50, true, &bytes, err);
	/* "bpf_pin_dir": "" (each run loads its own monitor) or a path;
	 * default: the shared monitor under /sys/fs/bpf/calyx. */
	if (r == 0 && json_object_get(j, "bpf_pin_dir") &&
	    !(json_is_string(json_object_get(j, "bpf_pin_dir")) &&
	      json_string_length(json_object_get(j, "bpf_pin_dir")) == 0))
		r = get_path(j, "bpf_pin_dir", &c.bpf_pin_dir, err);
	else if (r == 0)
		c.bpf_pin_dir = cx_strdup(json_object_get(j, "bpf_pin_dir") ? "" : CX_BPF_PIN_DIR_DEFAULT);
	if (r == 0)
		r = cx_json_str(j, "host_id", "config", CX_E_CONFIG, 128, true, &s, err);
	if (r < 0) {
		if (err)
			err->reason = CX_E_CONFIG;
		cx_config_free(&c);
		return r;
	}
	if (s)
		c.host_id = cx_strdup(s);
	c.run_uid = (uint32_t)uid;
	c.run_gid = (uint32_t)gid;
	c.run_uid_fixed = json_object_get(j, "run_uid") || json_object_get(j, "run_gid");
	c.run_uid_first = (uint32_t)first;
	c.run_uid_count = (uint32_t)count;
	c.pack_max_age_s = age;
	c.pack_max_bytes = (uint64_t)bytes;
	*ret = c;
	return 0;
}

int cx_config_load(const char *path, uid_t owner, cx_config *ret, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = cx_read_file(path, "config", CX_CONFIG_MAX_BYTES, CX_FILE_TRUSTED, owner, &buf, &len,
			 err);
	if (r < 0)
		return r;
	r = cx_config_parse(buf, len, ret, err);
	if (r < 0) {
		cx_err_prefix(err, "config '%s'", path);
		return r;
	}
	ret->path = cx_strdup(path);
	return 0;
}
