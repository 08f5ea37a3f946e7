/* Policy diff (see calyx/policydiff.h). */
#include "calyx/policydiff.h"

#include <stdarg.h>
#include <string.h>

#include "calyx/path.h"

const char *cx_change_kind_name(cx_change_kind k)
{
	return k == CX_WIDENED ? "widened" : k == CX_NARROWED ? "narrowed" : "changed";
}

static void add(cx_policy_diff *d, cx_change_kind kind, const char *field, const char *old,
		const char *new_, const char *note_fmt, ...) __attribute__((format(printf, 6, 7)));

static void add(cx_policy_diff *d, cx_change_kind kind, const char *field, const char *old,
		const char *new_, const char *note_fmt, ...)
{
	char *note = NULL;

	if (note_fmt) {
		va_list ap;
		va_start(ap, note_fmt);
		if (vasprintf(&note, note_fmt, ap) < 0)
			note = NULL;
		va_end(ap);
		CX_CHECK(note);
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->c = realloc(d->c, d->cap * sizeof(*d->c));
		CX_CHECK(d->c);
	}
	d->c[d->n++] = (cx_change){ kind, cx_strdup(field), old ? cx_strdup(old) : NULL,
				    new_ ? cx_strdup(new_) : NULL, note };
}

static bool covered(const char *p, const cx_strv *a, const cx_strv *b)
{
	for (size_t i = 0; i < a->n; i++)
		if (cx_path_within(p, a->v[i]))
			return true;
	for (size_t i = 0; b && i < b->n; i++)
		if (cx_path_within(p, b->v[i]))
			return true;
	return false;
}

static void diff_commands(cx_policy_diff *d, const cx_policy *a, const cx_policy *b)
{
	for (size_t i = 0; i < b->commands.n; i++)
		if (!cx_strv_contains(&a->commands, b->commands.v[i]))
			add(d, CX_WIDENED, "commands", NULL, b->commands.v[i],
			    cx_command_is_interpreter(b->commands.v[i])
				    ? "an interpreter or program runner: a lease's argv becomes code"
				    : NULL);
	for (size_t i = 0; i < a->commands.n; i++)
		if (!cx_strv_contains(&b->commands, a->commands.v[i]))
			add(d, CX_NARROWED, "commands", a->commands.v[i], NULL, NULL);
}

/* Trees compare by coverage: a new read tree widens only if neither an
 * old read nor an old write tree covers it; likewise for narrowing. */
static void diff_trees(cx_policy_diff *d, const cx_policy *a, const cx_policy *b)
{
	for (size_t i = 0; i < b->write.n; i++)
		if (!covered(b->write.v[i], &a->write, NULL))
			add(d, CX_WIDENED, "write", NULL, b->write.v[i], "%s",
			    covered(b->write.v[i], &a->read, NULL) ? "was readable only" : "new write access");
	for (size_t i = 0; i < b->read.n; i++)
		if (!covered(b->read.v[i], &a->read, &a->write))
			add(d, CX_WIDENED, "read", NULL, b->read.v[i], "new read access");
	for (size_t i = 0; i < a->write.n; i++)
		if (!covered(a->write.v[i], &b->write, NULL))
			add(d, CX_NARROWED, "write", a->write.v[i], NULL, "%s",
			    covered(a->write.v[i], &b->read, NULL) ? "now readable only" : "no longer accessible");
	for (size_t i = 0; i < a->read.n; i++)
		if (!covered(a->read.v[i], &b->read, &b->write))
			add(d, CX_NARROWED, "read", a->read.v[i], NULL, "no longer readable as a whole");
}

static void diff_env(cx_policy_diff *d, const cx_policy *a, const cx_policy *b)
{
	char field[CX_SPEC_ENV_NAME_MAX + 16];

	for (size_t i = 0; i < b->env_allow.n; i++)
		if (!cx_strv_contains(&a->env_allow, b->env_allow.v[i]))
			add(d, CX_WIDENED, "env.allow", NULL, b->env_allow.v[i], "leases may now set it");
	for (size_t i = 0; i < a->env_allow.n; i++)
		if (!cx_strv_contains(&b->env_allow, a->env_allow.v[i]))
			add(d, CX_NARROWED, "env.allow", a->env_allow.v[i], NULL, NULL);
	/* fixed values: a change is neither wider nor narrower, but matters */
	for (size_t i = 0; i < b->env_set.n; i++) {
		const char *old = cx_env_get(&a->env_set, b->env_set.name[i]);
		snprintf(field, sizeof(field), "env.set.%s", b->env_set.name[i]);
		if (!old || strcmp(old, b->env_set.value[i]) != 0)
			add(d, CX_CHANGED, field, old, b->env_set.value[i], NULL);
	}
	for (size_t i = 0; i < a->env_set.n; i++)
		if (!cx_env_get(&b->env_set, a->env_set.name[i])) {
			snprintf(field, sizeof(field), "env.set.%s", a->env_set.name[i]);
			add(d, CX_CHANGED, field, a->env_set.value[i], NULL, NULL);
		}
}

static void diff_u64(cx_policy_diff *d, const char *field, uint64_t a, uint64_t b, bool more_is_wider)
{
	char sa[24], sb[24];

	if (a == b)
		return;
	snprintf(sa, sizeof(sa), "%llu", (unsigned long long)a);
	snprintf(sb, sizeof(sb), "%llu", (unsigned long long)b);
	if ((b > a) == more_is_wider)
		add(d, CX_WIDENED, field, sa, sb, a ? "x%.2f" : NULL, (double)b / (double)(a ? a : 1));
	else
		add(d, CX_NARROWED, field, sa, sb, b ? "x%.2f" : NULL, (double)b / (double)(a ? a : 1));
}

static void diff_limits(cx_policy_diff *d, const cx_policy *a, const cx_policy *b)
{
	char field[64];

	for (int i = 0; i < CX_LIM__COUNT; i++) {
		snprintf(field, sizeof(field), "limits.max.%s", cx_limit_name(i));
		diff_u64(d, field, a->max.v[i], b->max.v[i], true);
	}
	for (int i = 0; i < CX_LIM__COUNT; i++) {
		snprintf(field, sizeof(field), "limits.default.%s", cx_limit_name(i));
		diff_u64(d, field, a->def.v[i], b->def.v[i], true);
	}
}

static void diff_flag(cx_policy_diff *d, const char *field, bool a, bool b, const char *off,
		      const char *on, bool on_is_wider, const char *note)
{
	if (a == b)
		return;
	add(d, b == on_is_wider ? CX_WIDENED : CX_NARROWED, field, a ? on : off, b ? on : off, "%s",
	    note);
}

static void diff_rest(cx_policy_diff *d, const cx_policy *a, const cx_policy *b)
{
	for (int n = CX_NET_NONE; n <= CX_NET_LOOPBACK; n++) {
		bool ia = a->network_mask & (1u << n), ib = b->network_mask & (1u << n);
		if (ia == ib)
			continue;
		/* dropping "none" forces leases onto a network: not a narrowing */
		cx_change_kind k = n == CX_NET_NONE ? CX_CHANGED : ib ? CX_WIDENED : CX_NARROWED;
		add(d, k, "network", ia ? cx_network_name(n) : NULL, ib ? cx_network_name(n) : NULL,
		    n == CX_NET_NONE && !ib ? "every lease must now ask for a network" : NULL);
	}
	diff_u64(d, "lease.max_lifetime_s", (uint64_t)a->max_lifetime_s, (uint64_t)b->max_lifetime_s, true);
	diff_u64(d, "lease.clock_skew_s", (uint64_t)a->clock_skew_s, (uint64_t)b->clock_skew_s, true);
	diff_flag(d, "lease.require_audience", a->require_audience, b->require_audience, "false",
		  "true", false, "whether a lease must name the host it is for");
	diff_flag(d, "landlock", a->landlock_optional, b->landlock_optional, "required", "optional",
		  true, "whether runs may proceed without Landlock");
	diff_flag(d, "exec_guard", a->exec_guard_optional, b->exec_guard_optional, "required",
		  "optional", true, "whether runs may proceed without the BPF loader guard");
	diff_flag(d, "dev_shm", a->dev_shm, b->dev_shm, "false", "true", true,
		  "a private /dev/shm for runs");
	diff_flag(d, "root_owned_trees", a->root_owned_trees, b->root_owned_trees, "refuse", "allow",
		  true, "whether runs may own what root owns in a root-owned workspace or rw tree");
	if (a->workspace_wait != b->workspace_wait)
		add(d, CX_CHANGED, "workspace_lock", a->workspace_wait ? "wait" : "refuse",
		    b->workspace_wait ? "wait" : "refuse", NULL);
	for (size_t i = 0; i < a->syscalls_deny.n; i++)
		if (!cx_strv_contains(&b->syscalls_deny, a->syscalls_deny.v[i]))
			add(d, CX_WIDENED, "syscalls.deny", a->syscalls_deny.v[i], NULL,
			    "no longer denied");
	for (size_t i = 0; i < b->syscalls_deny.n; i++)
		if (!cx_strv_contains(&a->syscalls_deny, b->syscalls_deny.v[i]))
			add(d, CX_NARROWED, "syscalls.deny", NULL, b->syscalls_deny.v[i], "now denied");
	for (size_t i = 0; i < b->unix_sockets.n; i++)
		if (!cx_strv_contains(&a->unix_sockets, b->unix_sockets.v[i]))
			add(d, CX_WIDENED, "unix_sockets", NULL, b->unix_sockets.v[i],
			    "runs may now connect to this host daemon");
	for (size_t i = 0; i < a->unix_sockets.n; i++)
		if (!cx_strv_contains(&b->unix_sockets, a->unix_sockets.v[i]))
			add(d, CX_NARROWED, "unix_sockets", a->unix_sockets.v[i], NULL,
			    "no longer reachable from runs");
}

/* Exec entries compare by coverage too: a new entry beneath an old one
 * (or a directory entry) widens nothing. Added entries are what runs may
 * now execute; one under a writable tree lets a run execute what it
 * wrote. */
static void diff_exec(cx_policy_diff *d, const cx_policy *a, const cx_policy *b)
{
	for (size_t i = 0; i < b->exec.n; i++) {
		const char *x = b->exec.v[i];
		if (covered(x, &a->exec, NULL))
			continue;
		if (cx_command_classify(x) != CX_CMD_PLAIN)
			add(d, CX_WIDENED, "exec", NULL, x, "%s",
			    "an interpreter or program runner: runs whatever it is given");
		else if (covered(x, &b->write, NULL) || cx_path_within(x, "/work"))
			add(d, CX_WIDENED, "exec", NULL, x, "%s",
			    "inside a writable tree: runs may execute what they write there");
		else
			add(d, CX_WIDENED, "exec", NULL, x, "%s", "runs may execute it");
	}
	for (size_t i = 0; i < a->exec.n; i++)
		if (!covered(a->exec.v[i], &b->exec, NULL))
			add(d, CX_NARROWED, "exec", a->exec.v[i], NULL, "%s",
			    "no longer executable by runs; leases naming it are refused");
}

void cx_policy_diff_compute(const cx_policy *a, const cx_policy *b, cx_policy_diff *ret)
{
	cx_policy_diff d = { 0 }, out = { 0 };

	diff_commands(&d, a, b);
	diff_exec(&d, a, b);
	diff_trees(&d, a, b);
	diff_env(&d, a, b);
	diff_limits(&d, a, b);
	diff_rest(&d, a, b);
	/* stable order: widened, changed, narrowed; field order within each */
	out.cap = d.n;
	out.c = d.n ? cx_calloc(d.n, sizeof(*out.c)) : NULL;
	for (int k = CX_WIDENED; k <= CX_NARROWED; k++)
		for (size_t i = 0; i < d.n; i++)
			if (d.c[i].kind == (cx_change_kind)k)
				out.c[out.n++] = d.c[i];
	free(d.c);
	*ret = out;
}

void cx_policy_diff_free(cx_policy_diff *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->c[i].field);
		free(d->c[i].old);
		free(d->c[i].new_);
		free(d->c[i].note);
	}
	free(d->c);
	memset(d, 0, sizeof(*d));
}
