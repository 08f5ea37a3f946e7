/* Error objects, reason names, allocation helpers. Trust: pure. */
#include "calyx/common.h"

#include <stdarg.h>
#include <string.h>

static const char *const reason_names[CX_E__COUNT] = {
	[CX_OK] = "OK",
	[CX_E_USAGE] = "E_USAGE",
	[CX_E_IO] = "E_IO",
	[CX_E_NOT_REGULAR] = "E_NOT_REGULAR",
	[CX_E_TOO_BIG] = "E_TOO_BIG",
	[CX_E_INSECURE_FILE] = "E_INSECURE_FILE",
	[CX_E_JSON] = "E_JSON",
	[CX_E_ENVELOPE] = "E_ENVELOPE",
	[CX_E_PAYLOAD_TYPE] = "E_PAYLOAD_TYPE",
	[CX_E_BASE64] = "E_BASE64",
	[CX_E_SIG_COUNT] = "E_SIG_COUNT",
	[CX_E_SIG_LEN] = "E_SIG_LEN",
	[CX_E_KEYID] = "E_KEYID",
	[CX_E_UNKNOWN_KEY] = "E_UNKNOWN_KEY",
	[CX_E_REVOKED] = "E_REVOKED",
	[CX_E_DUP_SIGNER] = "E_DUP_SIGNER",
	[CX_E_BAD_SIG] = "E_BAD_SIG",
	[CX_E_ROLE_MISSING] = "E_ROLE_MISSING",
	[CX_E_KEYRING] = "E_KEYRING",
	[CX_E_DUP_KEY] = "E_DUP_KEY",
	[CX_E_KEYID_MISMATCH] = "E_KEYID_MISMATCH",
	[CX_E_BODY] = "E_BODY",
	[CX_E_TIME] = "E_TIME",
	[CX_E_NOT_YET_VALID] = "E_NOT_YET_VALID",
	[CX_E_EXPIRED] = "E_EXPIRED",
	[CX_E_LIFETIME] = "E_LIFETIME",
	[CX_E_AUDIENCE] = "E_AUDIENCE",
	[CX_E_POLICY_HASH] = "E_POLICY_HASH",
	[CX_E_POLICY] = "E_POLICY",
	[CX_E_POLICY_COMMAND] = "E_POLICY_COMMAND",
	[CX_E_POLICY_PATH] = "E_POLICY_PATH",
	[CX_E_POLICY_LIMIT] = "E_POLICY_LIMIT",
	[CX_E_POLICY_ENV] = "E_POLICY_ENV",
	[CX_E_POLICY_NETWORK] = "E_POLICY_NETWORK",
	[CX_E_PATH_NOT_NORMAL] = "E_PATH_NOT_NORMAL",
	[CX_E_REPLAY] = "E_REPLAY",
	[CX_E_LEDGER] = "E_LEDGER",
	[CX_E_CONFIG] = "E_CONFIG",
	[CX_E_AUDIT] = "E_AUDIT",
	[CX_E_KEY] = "E_KEY",
	[CX_E_INTERNAL] = "E_INTERNAL",
	[CX_E_UNSUPPORTED] = "E_UNSUPPORTED",
	[CX_E_SPAWN] = "E_SPAWN",
	[CX_E_LAYER] = "E_LAYER",
	[CX_E_VIEW] = "E_VIEW",
	[CX_E_EXEC] = "E_EXEC",
	[CX_E_NOT_FOUND] = "E_NOT_FOUND",
	[CX_E_WORKSPACE] = "E_WORKSPACE",
	[CX_E_IDS] = "E_IDS",
	[CX_E_LEDGER_UNAVAILABLE] = "E_LEDGER_UNAVAILABLE",
	[CX_E_ROLLOUT] = "E_ROLLOUT",
	[CX_E_ROLLOUT_TIERS] = "E_ROLLOUT_TIERS",
	[CX_E_ROLLOUT_HOST] = "E_ROLLOUT_HOST",
	[CX_E_ROLLOUT_LEASE] = "E_ROLLOUT_LEASE",
	[CX_E_CONTROL] = "E_CONTROL",
	[CX_E_CONTROL_ROLE] = "E_CONTROL_ROLE",
	[CX_E_CONTROL_SEQ] = "E_CONTROL_SEQ",
	[CX_E_ROLLOUT_STARTED] = "E_ROLLOUT_STARTED",
	[CX_E_ROLLOUT_STATE] = "E_ROLLOUT_STATE",
};

const char *cx_reason_name(int reason)
{
	if (reason < 0 || reason >= CX_E__COUNT || !reason_names[reason])
		return "E_UNKNOWN";
	return reason_names[reason];
}

bool cx_reason_is_refusal(int reason)
{
	switch (reason) {
	case CX_E_USAGE:
	case CX_E_LEDGER:
	case CX_E_CONFIG:
	case CX_E_AUDIT:
	case CX_E_KEY:
	case CX_E_KEYRING:
	case CX_E_DUP_KEY:
	case CX_E_KEYID_MISMATCH:
	case CX_E_POLICY:
	case CX_E_INTERNAL:
	case CX_E_UNSUPPORTED:
	case CX_E_SPAWN:
	case CX_E_LAYER:
	case CX_E_VIEW:
	case CX_E_EXEC:
	case CX_E_NOT_FOUND:
	case CX_E_WORKSPACE:
	case CX_E_IDS:
	case CX_E_LEDGER_UNAVAILABLE:
		return false;
	default:
		return reason != CX_OK;
	}
}

int cx_err(cx_error *err, int reason, int errnum, const char *fmt, ...)
{
	if (errnum < 0)
		errnum = -errnum;
	if (err) {
		va_list ap;
		err->reason = reason;
		err->errnum = errnum;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return errnum ? -errnum : -EINVAL;
}

void cx_err_prefix(cx_error *err, const char *fmt, ...)
{
	char pre[CX_ERR_MSG_MAX], old[CX_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation keeps the head (context + what failed) of the line. */
	size_t n = strnlen(pre, sizeof(err->msg) - 1);
	memcpy(err->msg, pre, n);
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		size_t m = strnlen(old, sizeof(old));
		if (m > sizeof(err->msg) - 1 - n)
			m = sizeof(err->msg) - 1 - n;
		memcpy(err->msg + n, old, m);
		n += m;
	}
	err->msg[n] = '\0';
}

_Noreturn void cx_check_failed(const char *expr, const char *file, int line)
{
	fprintf(stderr, "calyx: internal invariant failed: %s (%s:%d)\n", expr,
		file, line);
	abort();
}

void cx_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

char *cx_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	CX_CHECK(n >= 0);
	return s;
}

char *cx_strdup(const char *s)
{
	char *d = strdup(s);
	CX_CHECK(d);
	return d;
}

void *cx_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	CX_CHECK(p);
	return p;
}
