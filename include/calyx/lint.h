/* Policy lint: findings a security reviewer should see before a policy is
 * installed. Each finding has a stable rule id (never renumbered), a
 * severity, the JSON location (RFC 6901 pointer + line:column of the value)
 * and a one-line message; the rule carries the fix.
 *
 * The rules read the JSON document itself, tolerating wrong types, so a
 * policy the executor refuses (CX001) is still reviewed in full. Static
 * by default; with host checks (CX_LINT_HOST) also the paths as they are
 * on this machine (symlinks, missing, world-writable) and the host's RAM.
 * Trust: pure on the policy bytes; host checks only lstat/stat paths. */
#ifndef CALYX_LINT_H
#define CALYX_LINT_H

#include <stdbool.h>
#include <stdint.h>
#include "calyx/common.h"
#include "calyx/spec.h"

typedef enum cx_severity { CX_SEV_NOTE = 0, CX_SEV_WARNING = 1, CX_SEV_ERROR = 2 } cx_severity;
const char *cx_severity_name(cx_severity s);
int cx_severity_parse(const char *s, cx_severity *ret);

typedef struct cx_lint_rule {
	const char *id;   /* "CX101" */
	const char *name; /* "interpreter-command" */
	cx_severity severity;
	const char *summary; /* what the rule looks for */
	const char *fix;     /* what to do about a finding */
} cx_lint_rule;

/* Every rule, in id order; n via cx_lint_rule_count. */
const cx_lint_rule *cx_lint_rules(size_t *n);

typedef struct cx_finding {
	const cx_lint_rule *rule;
	char *pointer;
	uint32_t line, column;
	char *message;
} cx_finding;

typedef struct cx_lint_result {
	size_t n, cap;
	cx_finding *f;
	char sha256_hex[65];
	bool valid; /* the executor would load this policy */
} cx_lint_result;

/* Paths the lint treats as trust paths beyond its built-in list (the
 * state dir, the keyring/policy/config directories, the host key...):
 * taken from a calyx configuration when one is given. */
typedef struct cx_lint_opts {
	bool host;           /* also check paths on this host */
	cx_strv trust;       /* extra trust paths (absolute, normal) */
	cx_strv secrets;     /* extra secret paths */
} cx_lint_opts;

int cx_lint_policy(const uint8_t *buf, size_t len, const cx_lint_opts *opts,
		   cx_lint_result *ret, cx_error *err);
void cx_lint_result_free(cx_lint_result *r);
/* Counts per severity. */
void cx_lint_counts(const cx_lint_result *r, size_t counts[3]);

#endif
