/* What a policy change widens and narrows, for the reviewer of the change.
 *
 * Compares two parsed policies field by field: commands, exec entries,
 * read and write trees (by coverage, not by string: adding /usr/share under an existing
 * /usr widens nothing), env, limits (maxima and defaults), network, lease
 * rules, Landlock, /dev/shm, the workspace lock and denied syscalls. Each
 * change is widened (a lease can do more), narrowed (less) or changed (not
 * ordered, e.g. a fixed env value); the list is sorted widened first.
 * Trust: pure, on two policies that parsed. */
#ifndef CALYX_POLICYDIFF_H
#define CALYX_POLICYDIFF_H

#include "calyx/policy.h"

typedef enum cx_change_kind { CX_WIDENED = 0, CX_CHANGED = 1, CX_NARROWED = 2 } cx_change_kind;
const char *cx_change_kind_name(cx_change_kind k);

typedef struct cx_change {
	cx_change_kind kind;
	char *field;   /* "commands", "limits.max.cpu_ms", "env.set.PATH"... */
	char *old, *new_; /* the values as text; NULL when absent */
	char *note;    /* why it matters, or NULL */
} cx_change;

typedef struct cx_policy_diff {
	size_t n, cap;
	cx_change *c;
} cx_policy_diff;

void cx_policy_diff_compute(const cx_policy *a, const cx_policy *b, cx_policy_diff *ret);
void cx_policy_diff_free(cx_policy_diff *d);

#endif
