/* libFuzzer harness: the control-socket protocol, server side
 * (cx_ctl_parse_request, cx_ctl_error_reply in monitor/control.c).
 *
 * The input is the bytes a connection delivered, as cx_ctl_accept hands
 * them to the parser (at most CX_CTL_REQ_MAX + 1 of them in real use; any
 * length here). Checked with CX_CHECK:
 *  - framing: a request is accepted only if it is at most CX_CTL_REQ_MAX
 *    bytes, ends with its newline and holds no other one (an oversized,
 *    partial or multi-line request is refused);
 *  - only the documented commands: an accepted request re-parses, on its
 *    own, as a JSON object whose one member is "cmd" and whose value is
 *    byte for byte the name of the command returned (status, pause,
 *    resume, halt);
 *  - a refusal sets CX_E_USAGE or CX_E_JSON and a message, never touches
 *    the command, and its reply (cx_ctl_error_reply, what the socket
 *    sends) is a JSON object {"ok": false, "error": <the message>} that
 *    serializes to one line and parses back to the same, the message
 *    byte for byte but for bytes that are not UTF-8, which become '?'
 *    (jansson's error text quotes the request and may cut a character);
 *  - what calyx-ctl sends for each command is accepted as that command
 *    (checked once).
 * Trust: test code; the input is arbitrary bytes (in production only a
 * root peer reaches the parser). */
#include <jansson.h>
#include <string.h>

#include "calyx/jsonx.h"
#include "calyx/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reply as the socket carries it: compact JSON, one line. */
static void check_error_reply(const cx_error *err)
{
	_cleanup_json_ json_t *reply = cx_ctl_error_reply(err), *back = NULL;
	_cleanup_free_ char *line = NULL;
	json_t *ok, *msg;

	CX_CHECK(reply && json_is_object(reply));
	line = cx_json_dump(reply);
	CX_CHECK(line && !strchr(line, '\n'));
	back = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	CX_CHECK(back && json_is_object(back) && json_object_size(back) == 2);
	ok = json_object_get(back, "ok");
	msg = json_object_get(back, "error");
	CX_CHECK(json_is_false(ok) && json_is_string(msg));
	/* the message itself, a byte that is not UTF-8 turned into '?' */
	const char *sent = json_string_value(msg);
	size_t n = strlen(err->msg);
	CX_CHECK(json_string_length(msg) == n);
	for (size_t i = 0; i < n; i++)
		CX_CHECK(sent[i] == err->msg[i] || (sent[i] == '?' && (err->msg[i] & 0x80)));
}

/* The accepted request, re-read independently of the parser. */
static void check_accepted(const uint8_t *data, size_t size, cx_ctl_cmd cmd)
{
	_cleanup_json_ json_t *j = NULL;
	const char *name = cx_ctl_cmd_name(cmd);
	json_t *v;

	CX_CHECK(cmd >= CX_CTL_STATUS && cmd <= CX_CTL_HALT);
	CX_CHECK(strcmp(name, "status") == 0 || strcmp(name, "pause") == 0 ||
		 strcmp(name, "resume") == 0 || strcmp(name, "halt") == 0);
	CX_CHECK(size >= 2 && size <= CX_CTL_REQ_MAX && data[size - 1] == '\n');
	CX_CHECK(memchr(data, '\n', size - 1) == NULL);
	j = json_loadb((const char *)data, size - 1, JSON_REJECT_DUPLICATES, NULL);
	CX_CHECK(j && json_is_object(j) && json_object_size(j) == 1);
	v = json_object_get(j, "cmd");
	CX_CHECK(json_is_string(v) && json_string_length(v) == strlen(name));
	CX_CHECK(memcmp(json_string_value(v), name, strlen(name)) == 0);
}

/* calyx-ctl's request for each command (cx_ctl_request's format). */
static void check_client_requests(void)
{
	for (int c = CX_CTL_STATUS; c <= CX_CTL_HALT; c++) {
		char req[64];
		cx_ctl_cmd got = 0;
		cx_error err = { 0 };
		int n = snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cx_ctl_cmd_name(c));

		CX_CHECK(n > 0 && (size_t)n < sizeof(req));
		CX_CHECK(cx_ctl_parse_request(req, (size_t)n, &got, &err) == 0 && got == (cx_ctl_cmd)c);
		/* the same bytes cut anywhere are partial: refused */
		for (int cut = 0; cut < n; cut++)
			CX_CHECK(cx_ctl_parse_request(req, (size_t)cut, &got, &err) < 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	cx_ctl_cmd cmd = (cx_ctl_cmd)0x5a5a; /* must stay untouched on a refusal */
	cx_error err = { 0 };
	int r;

	if (!init) {
		check_client_requests();
		init = true;
	}
	r = cx_ctl_parse_request((const char *)data, size, &cmd, &err);
	if (r < 0) {
		CX_CHECK(cmd == (cx_ctl_cmd)0x5a5a);
		CX_CHECK(err.reason == CX_E_USAGE || err.reason == CX_E_JSON);
		CX_CHECK(err.msg[0] && memchr(err.msg, '\0', sizeof(err.msg)));
		if (size > CX_CTL_REQ_MAX)
			CX_CHECK(r == -E2BIG);
		check_error_reply(&err);
		return 0;
	}
	CX_CHECK(r == 0);
	check_accepted(data, size, cmd);
	return 0;
}
