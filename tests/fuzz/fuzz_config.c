/* libFuzzer harness: configuration parser (cx_config_parse).
 *
 * Covers the calyx.conf format: exact key set (five required paths,
 * optional v and host_id), string types and bounds, and the rule that every
 * path is absolute, normalized and not "/". On success every path field is
 * checked to be set and absolute.
 * Trust: test code; the input is arbitrary bytes (in production the file
 * is root-owned and StrictModes-checked before it is parsed). */
#include <string.h>

#include "calyx/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_config c = { 0 };
	cx_error err = { 0 };

	if (cx_config_parse(data, size, &c, &err) < 0) {
		CX_CHECK(err.reason == CX_E_CONFIG || err.reason == CX_E_JSON);
		CX_CHECK(err.msg[0]);
		return 0;
	}
	CX_CHECK(c.keyring && c.policy && c.state_dir && c.audit_log && c.host_key);
	CX_CHECK(c.keyring[0] == '/' && c.policy[0] == '/' && c.state_dir[0] == '/' &&
		 c.audit_log[0] == '/' && c.host_key[0] == '/');
	cx_config_free(&c);
	return 0;
}
