/* Policy lint (see calyx/lint.h). The rules read the JSON document with
 * jansson and locate values through the position index (calyx/jsonpos.h);
 * every member is type-checked before use, since the policy may be one
 * the executor refuses. Lists of names and paths below are the rules'
 * definitions: README "For security teams" lists them for reviewers. */
#include "calyx/lint.h"

#include <ftw.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include "calyx/codec.h"
#include "calyx/esc.h"
#include "calyx/jsonpos.h"
#include "calyx/jsonx.h"
#include "calyx/path.h"
#include "calyx/policy.h"

enum {
	R_INVALID,
	R_INTERPRETER,
	R_CMD_WRITABLE,
	R_WRITE_SYSTEM,
	R_SECRET,
	R_SYMLINK,
	R_MISSING,
	R_WORLD_WRITABLE,
	R_DANGEROUS_ENV,
	R_LIMIT_ABSURD,
	R_LIMIT_MISSING,
	R_NETWORK,
	R_LIFETIME,
	R_SKEW,
	R_AUDIENCE,
	R_LANDLOCK,
	R_REDUNDANT,
	R_HIDDEN,
	R_SOCKET_IN_TREE,
	R_HOST_SOCKET,
	R_QUOTA_UNSET,
	R_ROOT_TREES,
	R_EXEC_INTERPRETER,
	R_EXEC_WRITABLE,
	R__COUNT
};

/* Stable: ids and names are an interface (SARIF viewers, suppressions). */
static const cx_lint_rule rules[R__COUNT] = {
	[R_INVALID] = { "CX001", "policy-invalid", CX_SEV_ERROR,
			"calyx-exec refuses to load this policy",
			"correct the field the message names ('calyx-policy check' shows the same error)" },
	[R_INTERPRETER] = { "CX101", "interpreter-command", CX_SEV_ERROR,
			    "a shell, interpreter or program runner is a leasable command: the lease's argv then controls arbitrary code",
			    "lease the program itself; if a script must run, install it root-owned outside every write tree and list the script, not its interpreter" },
	[R_CMD_WRITABLE] = { "CX102", "command-in-writable-tree", CX_SEV_ERROR,
			     "a command lies inside a writable tree: a run (or a committed earlier run) can replace it before it is executed",
			     "install the command outside every write tree, or stop granting write access to its directory" },
	[R_WRITE_SYSTEM] = { "CX103", "writable-system-path", CX_SEV_ERROR,
			     "a write tree is, contains or lies inside a system or trust path",
			     "grant write access only to a dedicated data directory that holds no programs, libraries, configuration or calyx state" },
	[R_SECRET] = { "CX104", "secret-readable", CX_SEV_ERROR,
		       "a readable or writable tree is, contains or lies inside a place that holds secrets",
		       "narrow the tree so that it excludes the secret (the run's uid is then the only thing keeping it unread)" },
	[R_SYMLINK] = { "CX105", "symlink-in-path", CX_SEV_ERROR,
			"a listed path goes through a symlink on this host; calyx-exec refuses symlinks in leased paths and a symlink can be redirected",
			"list the real path (resolve it with realpath) instead" },
	[R_MISSING] = { "CX106", "path-missing", CX_SEV_WARNING,
			"a listed path does not exist on this host",
			"create it, or remove the entry if it is stale" },
	[R_WORLD_WRITABLE] = { "CX107", "world-writable-path", CX_SEV_ERROR,
			       "a listed path, or a directory above it, is world-writable on this host: any local user can change what a run sees",
			       "chmod o-w the directory (or list a path that only root can change)" },
	[R_DANGEROUS_ENV] = { "CX108", "dangerous-env", CX_SEV_ERROR,
			      "an environment variable that makes the loader, a shell or an interpreter run chosen code is allowed or set",
			      "remove it from env.allow / env.set (calyx-exec refuses it anyway)" },
	[R_LIMIT_ABSURD] = { "CX109", "limit-absurd", CX_SEV_WARNING,
			     "a limit maximum is so high it does not limit anything in practice",
			     "set the maximum to what the largest legitimate run needs" },
	[R_LIMIT_MISSING] = { "CX110", "limit-missing", CX_SEV_ERROR,
			      "a limit has no maximum (or no default)",
			      "give every limit in limits.max and limits.default a value" },
	[R_NETWORK] = { "CX111", "network-not-none", CX_SEV_WARNING,
			"leases may ask for a network other than none",
			"allow only \"none\" unless runs need loopback; leases must then say so explicitly" },
	[R_LIFETIME] = { "CX112", "lease-lifetime-long", CX_SEV_WARNING,
			 "a lease may stay valid for more than a day",
			 "keep lease.max_lifetime_s at or below 86400 (an hour is usual)" },
	[R_SKEW] = { "CX113", "clock-skew-large", CX_SEV_WARNING,
		     "the tolerated clock skew is over five minutes",
		     "keep lease.clock_skew_s at or below 300 and keep host clocks synchronised" },
	[R_AUDIENCE] = { "CX114", "audience-not-required", CX_SEV_WARNING,
			 "leases need not name the host they are for: a lease signed for one host runs on any host with this policy",
			 "set lease.require_audience to true" },
	[R_LANDLOCK] = { "CX115", "landlock-optional", CX_SEV_WARNING,
			 "runs proceed without Landlock on a kernel that lacks it (the mount view alone then confines paths and execution)",
			 "remove \"landlock\": \"optional\" unless a host really lacks Landlock" },
	[R_REDUNDANT] = { "CX116", "redundant-entry", CX_SEV_NOTE,
			  "an entry repeats or is covered by another, which hides what the policy really grants",
			  "remove the covered entry" },
	[R_HIDDEN] = { "CX117", "hidden-characters", CX_SEV_ERROR,
		       "a string or member name holds a control character (ESC, C1), a bidi override or another invisible character, or bytes that are not UTF-8: a terminal, editor or review tool shows the policy otherwise than calyx-exec reads it",
		       "remove the character; calyx-policy explain and lint text show it escaped, so it can be found" },
	[R_SOCKET_IN_TREE] = { "CX118", "socket-in-tree", CX_SEV_WARNING,
			       "a read or write tree holds unix sockets of host daemons (docker.sock, D-Bus and the like live in runtime dirs such as /run): runs cannot connect to them unless unix_sockets names them, but the tree is likely broader than runs need",
			       "narrow the tree to what runs need; name in unix_sockets only the sockets runs must reach" },
	[R_HOST_SOCKET] = { "CX119", "host-socket-reachable", CX_SEV_WARNING,
			    "unix_sockets lets runs connect to a host daemon: whatever the daemon lets a peer do, any lease under this policy can do (docker.sock or a root D-Bus service: root on this host)",
			    "name only sockets whose daemon is safe to hand to every lease under this policy, inside a tree leases may mount; never docker.sock, containerd, the D-Bus system bus or calyx's own control sockets" },
	[R_QUOTA_UNSET] = { "CX120", "workspace-quota-unset", CX_SEV_WARNING,
			    "a workspace quota (disk_bytes, inodes) is not set: runs get calyx's built-in values (256 MiB, 16384 files), which nobody chose for these trees",
			    "set limits.max and limits.default of disk_bytes and inodes to what the largest legitimate run writes" },
	[R_ROOT_TREES] = { "CX121", "root-owned-trees-allowed", CX_SEV_NOTE,
			   "a root-owned workspace or rw tree may be leased: inside it the run's uid owns what root owns there (the run can change every root-owned file of that tree, and what it writes lands owned by root)",
			   "give each workspace and rw tree the owner its writes should have (chown it to a deploy user) and remove \"root_owned_trees\": \"allow\"" },
	[R_EXEC_INTERPRETER] = { "CX122", "exec-interpreter", CX_SEV_ERROR,
				 "an exec entry is, or is a directory holding, a shell, interpreter or program runner: any process of a run may then run code of its choosing through it",
				 "list the programs runs really start (their real paths), not a shell or a system bin directory; a script needs its interpreter, so prefer programs" },
	[R_EXEC_WRITABLE] = { "CX123", "exec-writable-tree", CX_SEV_WARNING,
			      "an exec entry lies within a writable tree (a write tree or the workspace, /work) or covers one: runs may execute what they wrote themselves there, which noexec otherwise prevents",
			      "only a build that runs its own test binaries needs this: name its build tree explicitly (e.g. /work/build), never a whole write tree or /work; otherwise remove the entry" },
};

const cx_lint_rule *cx_lint_rules(size_t *n)
{
	*n = R__COUNT;
	return rules;
}

const char *cx_severity_name(cx_severity s)
{
	return s == CX_SEV_ERROR ? "error" : s == CX_SEV_WARNING ? "warning" : "note";
}

int cx_severity_parse(const char *s, cx_severity *ret)
{
	for (int i = CX_SEV_NOTE; i <= CX_SEV_ERROR; i++)
		if (strcmp(s, cx_severity_name(i)) == 0) {
			*ret = i;
			return 0;
		}
	return -EINVAL;
}

/* Basenames that run code named by their arguments. A family name also
 * matches a version suffix (python3, python3.11, perl5.36). */
/* Programs that interpret their arguments as a program, in-process (so
 * calyx's Landlock rule "execute only the command" does not stop them);
 * a family name also matches a version suffix (python3.11, perl5.36).
 * ld.so belongs here: it maps and runs any readable binary without exec. */
static const char *const interp_exact[] = {
	"sh", "ash", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox",
	"node", "nodejs", "luajit", "awk", "gawk", "mawk", "nawk", "sed", "expect", "gdb",
	"ld.so", "R", "Rscript",
};
static const char *const interp_family[] = { "python", "pypy", "perl", "ruby", "lua", "php",
					     "tclsh", "ld-linux", "ld-musl" };
/* Programs that start other programs named by their arguments: held to
 * themselves while Landlock lets a run execute only its command. */
static const char *const runners[] = {
	"env", "xargs", "find", "make", "gmake", "tar", "git", "nice", "nohup", "setsid", "stdbuf",
	"timeout", "chroot", "sudo", "su", "doas", "strace",
};

static bool in_list(const char *b, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(b, list[i]) == 0)
			return true;
	return false;
}

cx_command_kind cx_command_classify(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	if (in_list(b, interp_exact, CX_ARRAY_SIZE(interp_exact)))
		return CX_CMD_INTERPRETER;
	for (size_t i = 0; i < CX_ARRAY_SIZE(interp_family); i++) {
		size_t n = strlen(interp_family[i]);
		if (strncmp(b, interp_family[i], n) == 0 &&
		    (b[n] == '\0' || b[n] == '.' || b[n] == '-' || (b[n] >= '0' && b[n] <= '9')))
			return CX_CMD_INTERPRETER;
	}
	return in_list(b, runners, CX_ARRAY_SIZE(runners)) ? CX_CMD_RUNNER : CX_CMD_PLAIN;
}

bool cx_command_is_interpreter(const char *path)
{
	return cx_command_classify(path) != CX_CMD_PLAIN;
}

/* System and trust paths a write tree must keep away from ("/" only
 * as itself). The calyx defaults stand for the state dir, the audit log
 * and the keyring/policy/config directories; a configuration adds its own. */
static const char *const system_paths[] = {
	"/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot",
	"/root", "/proc", "/sys", "/dev", "/var/lib/calyx", "/var/log/calyx", "/etc/calyx",
};
/* Places holding secrets ('*' is one path component). */
static const char *const secret_paths[] = {
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssh",
	"/etc/sudoers", "/etc/sudoers.d", "/root", "/home/*/.ssh", "/home/*/.gnupg", "/etc/calyx",
};

/* Next component of a normal path: *p points after a '/'. */
static size_t comp(const char **p, const char **start)
{
	const char *s = *p, *e = strchr(s, '/');
	size_t n = e ? (size_t)(e - s) : strlen(s);

	*start = s;
	*p = e ? e + 1 : s + n;
	return n;
}

enum { REL_NONE, REL_EQUAL, REL_INSIDE, REL_CONTAINS };

/* How a normal path relates to a pattern: equal, inside it, containing it. */
static int relation(const char *path, const char *pattern)
{
	const char *p = path + 1, *q = pattern + 1;

	if (strcmp(pattern, "/") == 0)
		return strcmp(path, "/") == 0 ? REL_EQUAL : REL_NONE;
	if (strcmp(path, "/") == 0)
		return REL_CONTAINS;
	for (;;) {
		const char *ps, *qs;
		bool pend = *p == '\0', qend = *q == '\0';
		if (pend && qend)
			return REL_EQUAL;
		if (qend)
			return REL_INSIDE;
		if (pend)
			return REL_CONTAINS;
		size_t pn = comp(&p, &ps), qn = comp(&q, &qs);
		if (!(qn == 1 && qs[0] == '*') && (pn != qn || memcmp(ps, qs, pn) != 0))
			return REL_NONE;
	}
}

static const char *relation_words(int rel)
{
	return rel == REL_EQUAL ? "is" : rel == REL_INSIDE ? "lies inside" : "contains";
}

typedef struct lint {
	const uint8_t *buf;
	size_t len;
	json_t *doc;
	cx_jsonpos ix;
	const cx_lint_opts *opts;
	cx_lint_result *res;
} lint;

static void add(lint *l, int rule, const char *pointer, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record a finding located at pointer, or at its nearest ancestor that
 * exists in the document (a missing member is reported on its parent). */
static void add(lint *l, int rule, const char *pointer, const char *fmt, ...)
{
	cx_lint_result *r = l->res;
	_cleanup_free_ char *p = cx_strdup(pointer);
	const cx_jsonpos_entry *e = NULL;
	char *msg = NULL;
	va_list ap;

	for (;;) {
		e = cx_jsonpos_find(&l->ix, p);
		if (e || !*p)
			break;
		*strrchr(p, '/') = '\0';
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	CX_CHECK(msg);
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->f = realloc(r->f, r->cap * sizeof(*r->f));
		CX_CHECK(r->f);
	}
	r->f[r->n++] = (cx_finding){ &rules[rule], cx_strdup(pointer), e ? e->line : 1,
				     e ? e->column : 1, msg };
}

/* Strings of an array member (others skipped: CX001 reports them). */
typedef struct item {
	size_t idx;
	const char *s;
} item;

static size_t strings(const json_t *obj, const char *key, item *out, size_t max)
{
	json_t *a = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	size_t i, n = 0;
	json_t *v;

	if (!json_is_array(a))
		return 0;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && n < max)
			out[n++] = (item){ i, json_string_value(v) };
	return n;
}

static size_t paths(const json_t *obj, const char *key, item *out, size_t max)
{
	size_t n = strings(obj, key, out, max), k = 0;

	for (size_t i = 0; i < n; i++)
		if (cx_path_is_normal(out[i].s))
			out[k++] = out[i];
	return k;
}

#define LIST_MAX 512

static void rule_commands(lint *l, const item *cmd, size_t ncmd, const item *wr, size_t nwr)
{
	json_t *ll = json_object_get(l->doc, "landlock");
	bool landlock_optional = json_is_string(ll) && strcmp(json_string_value(ll), "optional") == 0;
	char ptr[64];

	for (size_t i = 0; i < ncmd; i++) {
		snprintf(ptr, sizeof(ptr), "/commands/%zu", cmd[i].idx);
		cx_command_kind k = cx_command_classify(cmd[i].s);
		if (k == CX_CMD_INTERPRETER)
			add(l, R_INTERPRETER, ptr,
			    "'%s' interprets its arguments as a program: a lease's argv is code, run with every right the policy grants",
			    cmd[i].s);
		else if (k == CX_CMD_RUNNER)
			add(l, R_INTERPRETER, ptr,
			    "'%s' runs the programs its arguments name: only Landlock's execute rule (the command and the policy's exec entries) holds it back%s",
			    cmd[i].s, landlock_optional ? ", and this policy makes Landlock optional" : "");
		for (size_t j = 0; j < nwr; j++)
			if (cx_path_within(cmd[i].s, wr[j].s)) {
				add(l, R_CMD_WRITABLE, ptr,
				    "'%s' lies inside the write tree '%s' (/write/%zu)", cmd[i].s,
				    wr[j].s, wr[j].idx);
				break;
			}
	}
}

/* Directories full of shells and interpreters: an exec entry that is one
 * of them, or contains one, lets a run's processes start any of them. */
static const char *const bin_dirs[] = { "/usr/bin", "/bin", "/usr/sbin", "/sbin",
					"/usr/local/bin", "/usr/local/sbin", "/usr/libexec" };

static void rule_exec(lint *l, const item *ex, size_t nex, const item *wr, size_t nwr)
{
	char ptr[64];

	for (size_t i = 0; i < nex; i++) {
		const char *x = ex[i].s;
		cx_command_kind k = cx_command_classify(x);

		snprintf(ptr, sizeof(ptr), "/exec/%zu", ex[i].idx);
		if (k != CX_CMD_PLAIN)
			add(l, R_EXEC_INTERPRETER, ptr,
			    "exec entry '%s' %s: any process of a run can hand it a program of its choosing",
			    x, k == CX_CMD_INTERPRETER ? "interprets its arguments as a program"
						       : "runs the programs its arguments name");
		else
			for (size_t j = 0; j < CX_ARRAY_SIZE(bin_dirs); j++)
				if (cx_path_within(bin_dirs[j], x)) {
					add(l, R_EXEC_INTERPRETER, ptr,
					    "exec entry '%s' %s the directory %s, which holds shells and interpreters (sh, python3, perl...)",
					    x, strcmp(x, bin_dirs[j]) == 0 ? "is" : "contains", bin_dirs[j]);
					break;
				}
		if (cx_path_within(x, "/work") || cx_path_within("/work", x)) {
			add(l, R_EXEC_WRITABLE, ptr,
			    "exec entry '%s' %s the workspace (/work): runs may execute what they write there",
			    x, cx_path_within(x, "/work") ? "lies within" : "covers");
			continue;
		}
		for (size_t j = 0; j < nwr; j++)
			if (cx_path_within(x, wr[j].s) || cx_path_within(wr[j].s, x)) {
				add(l, R_EXEC_WRITABLE, ptr,
				    "exec entry '%s' %s the write tree '%s' (/write/%zu): runs may execute what they write there",
				    x, cx_path_within(x, wr[j].s) ? "lies within" : "covers", wr[j].s,
				    wr[j].idx);
				break;
			}
	}
}

static void against(lint *l, int rule, const char *list, const item *it, size_t n,
		    const char *const *builtin, size_t nbuiltin, const cx_strv *extra,
		    const char *kind)
{
	char ptr[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(ptr, sizeof(ptr), "/%s/%zu", list, it[i].idx);
		for (size_t j = 0; j < nbuiltin + extra->n; j++) {
			const char *s = j < nbuiltin ? builtin[j] : extra->v[j - nbuiltin];
			int rel = relation(it[i].s, s);
			if (rel == REL_NONE)
				continue;
			add(l, rule, ptr, "%s tree '%s' %s the %s %s", list, it[i].s,
			    relation_words(rel), kind, s);
			break; /* one finding per entry: the first path it touches */
		}
	}
}

static void rule_redundant(lint *l, const char *list, const item *a, size_t na, const char *olist,
			   const item *b, size_t nb)
{
	char ptr[64];

	for (size_t i = 0; i < na; i++) {
		snprintf(ptr, sizeof(ptr), "/%s/%zu", list, a[i].idx);
		for (size_t j = 0; j < nb; j++) {
			bool same_list = a == b;
			if (same_list && j == i)
				continue;
			/* plain containment here: "/" covers everything */
			int rel = strcmp(a[i].s, b[j].s) == 0	    ? REL_EQUAL
				  : cx_path_within(a[i].s, b[j].s) ? REL_INSIDE
								    : REL_NONE;
			/* within one list report the later/inner entry only */
			if (rel == REL_INSIDE || (rel == REL_EQUAL && (!same_list || j < i))) {
				add(l, R_REDUNDANT, ptr, "%s tree '%s' %s %s tree '%s' (/%s/%zu)", list,
				    a[i].s, rel == REL_EQUAL ? "repeats" : "is covered by", olist,
				    b[j].s, olist, b[j].idx);
				break;
			}
		}
	}
}

static void rule_env(lint *l)
{
	json_t *env = json_object_get(l->doc, "env"), *set, *v;
	_cleanup_free_ item *allow = cx_calloc(LIST_MAX, sizeof(*allow));
	size_t n = strings(env, "allow", allow, LIST_MAX);
	const char *k;
	char ptr[160];

	for (size_t i = 0; i < n; i++)
		if (cx_env_name_is_dangerous(allow[i].s)) {
			snprintf(ptr, sizeof(ptr), "/env/allow/%zu", allow[i].idx);
			add(l, R_DANGEROUS_ENV, ptr,
			    "env.allow lets leases set %.64s, which injects code into the loader, a shell or an interpreter",
			    allow[i].s);
		}
	set = json_is_object(env) ? json_object_get(env, "set") : NULL;
	if (!json_is_object(set))
		return;
	json_object_foreach(set, k, v) {
		if (!cx_env_name_is_dangerous(k))
			continue;
		_cleanup_free_ char *p = cx_jsonpos_child("/env/set", k);
		add(l, R_DANGEROUS_ENV, p,
		    "env.set fixes %.64s, which injects code into the loader, a shell or an interpreter",
		    k);
	}
}

/* Beyond these a maximum no longer limits a real run (per limit, in
 * cx_limit order): a day of CPU or wall clock, 64 GiB, 4096 processes,
 * 65536 files, 64 GiB files, 16 GiB of /tmp, 64 GiB of workspace writes,
 * 262144 workspace files, 262144 execs. */
static const uint64_t absurd[CX_LIM__COUNT] = {
	86400000ull, 64ull << 30, 4096, 86400000ull, 65536, 64ull << 30, 16ull << 30,
	64ull << 30, 262144, 262144,
};

/* CX120: a workspace quota the policy leaves to the built-in value, one
 * finding per quota, at the first set (max, then default) missing it.
 * The exec quota (execs) is optional too but not flagged: its built-in
 * 8192 fits most jobs, and a run past it halts loudly (never a silent
 * cut), so leaving it out is not worth a warning on every policy. */
static void rule_quota_unset(lint *l, json_t *lim)
{
	static const char *const sets[] = { "max", "default" };
	char ptr[64];

	for (int i = 0; i < CX_LIM__COUNT; i++) {
		bool missing[2];
		if (!cx_limit_optional(i) || i == CX_LIM_EXECS)
			continue;
		for (size_t s = 0; s < 2; s++) {
			json_t *o = json_is_object(lim) ? json_object_get(lim, sets[s]) : NULL;
			missing[s] = !json_is_object(o) || !json_object_get(o, cx_limit_name(i));
		}
		if (!missing[0] && !missing[1])
			continue;
		const char *n = cx_limit_name(i);
		unsigned long long b = (unsigned long long)cx_limit_builtin(i);
		snprintf(ptr, sizeof(ptr), "/limits/%s/%s", missing[0] ? "max" : "default", n);
		if (missing[0] && missing[1])
			add(l, R_QUOTA_UNSET, ptr,
			    "limits.max.%s and limits.default.%s are not set: the built-in %llu is both",
			    n, n, b);
		else if (missing[0])
			add(l, R_QUOTA_UNSET, ptr,
			    "limits.max.%s is not set: the built-in ceiling %llu applies", n, b);
		else
			add(l, R_QUOTA_UNSET, ptr,
			    "limits.default.%s is not set: runs get the lower of limits.max.%s and %llu",
			    n, n, b);
	}
}

static void rule_limits(lint *l)
{
	json_t *lim = json_object_get(l->doc, "limits");
	static const char *const sets[] = { "max", "default" };
	struct sysinfo si;
	uint64_t ram = 0;
	char ptr[64];

	if (l->opts->host && sysinfo(&si) == 0)
		ram = (uint64_t)si.totalram * si.mem_unit;
	for (size_t s = 0; s < 2; s++) {
		json_t *o = json_is_object(lim) ? json_object_get(lim, sets[s]) : NULL;
		for (int i = 0; i < CX_LIM__COUNT; i++) {
			json_t *v = json_is_object(o) ? json_object_get(o, cx_limit_name(i)) : NULL;
			snprintf(ptr, sizeof(ptr), "/limits/%s/%s", sets[s], cx_limit_name(i));
			if (!v) {
				if (!cx_limit_optional(i)) /* optional: CX120 */
					add(l, R_LIMIT_MISSING, ptr, "limits.%s.%s is not set",
					    sets[s], cx_limit_name(i));
				continue;
			}
			if (s != 0 || !json_is_integer(v) || json_integer_value(v) < 0)
				continue;
			uint64_t x = (uint64_t)json_integer_value(v);
			if (x > absurd[i])
				add(l, R_LIMIT_ABSURD, ptr,
				    "limits.max.%s = %llu is above %llu, beyond what limits a real run",
				    cx_limit_name(i), (unsigned long long)x,
				    (unsigned long long)absurd[i]);
			else if (i == CX_LIM_MEMORY_BYTES && ram && x > ram)
				add(l, R_LIMIT_ABSURD, ptr,
				    "limits.max.memory_bytes = %llu is more than this host's RAM (%llu)",
				    (unsigned long long)x, (unsigned long long)ram);
		}
	}
}

static void rule_network_and_lease(lint *l)
{
	json_t *lease = json_object_get(l->doc, "lease"), *v;
	item net[8];
	size_t n = strings(l->doc, "network", net, 8);
	char ptr[32];

	for (size_t i = 0; i < n; i++)
		if (strcmp(net[i].s, "none") != 0) {
			snprintf(ptr, sizeof(ptr), "/network/%zu", net[i].idx);
			add(l, R_NETWORK, ptr, "leases may ask for network '%.32s'", net[i].s);
		}
	if (!json_is_object(lease))
		return;
	v = json_object_get(lease, "max_lifetime_s");
	if (json_is_integer(v) && json_integer_value(v) > 86400)
		add(l, R_LIFETIME, "/lease/max_lifetime_s",
		    "a lease may be valid for %lld s (%.1f days)", (long long)json_integer_value(v),
		    (double)json_integer_value(v) / 86400.0);
	v = json_object_get(lease, "clock_skew_s");
	if (json_is_integer(v) && json_integer_value(v) > 300)
		add(l, R_SKEW, "/lease/clock_skew_s",
		    "clock skew of %lld s is tolerated on both ends of the validity window",
		    (long long)json_integer_value(v));
	v = json_object_get(lease, "require_audience");
	if (!json_is_true(v))
		add(l, R_AUDIENCE, "/lease/require_audience", "%s",
		    v ? "require_audience is false: leases need not name their host"
		      : "require_audience is not set (default false): leases need not name their host");
}

/* Every string of the document, member names included (the one rule that
 * reads all of it, known members or not): what the reviewer reads must be
 * what calyx-exec enforces. Bytes that are not UTF-8 never get here
 * (jansson refuses them: CX001). The message does not repeat the string,
 * so no output format carries it raw beyond the pointer. */
static void rule_hidden(lint *l, const json_t *v, const char *ptr, int depth)
{
	char what[64];
	const char *k;
	json_t *x;
	size_t i;

	if (depth > CX_JSONPOS_DEPTH_MAX)
		return;
	if (json_is_string(v) && cx_text_first_hidden(json_string_value(v), what)) {
		add(l, R_HIDDEN, ptr, "the string holds %s: a terminal or editor may show it as something other than what calyx-exec reads", what);
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			_cleanup_free_ char *p = cx_jsonpos_child(ptr, k);
			if (cx_text_first_hidden(k, what))
				add(l, R_HIDDEN, p, "the member name holds %s: a terminal or editor may show it as something other than what calyx-exec reads", what);
			rule_hidden(l, x, p, depth + 1);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			char idx[24];
			snprintf(idx, sizeof(idx), "%zu", i);
			_cleanup_free_ char *p = cx_jsonpos_child(ptr, idx);
			rule_hidden(l, x, p, depth + 1);
		}
	}
}

/* Walk the path from "/" with lstat: the first symlink, the first missing
 * component, a world-writable path or non-sticky world-writable parent. */
static void host_path(lint *l, const char *ptr, const char *path)
{
	char cur[4096] = "";
	const char *p = path + 1;
	struct stat st;

	if (lstat("/", &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		add(l, R_WORLD_WRITABLE, ptr, "'/' is world-writable");
		return;
	}
	while (*p) {
		const char *s;
		size_t n = comp(&p, &s), cl = strlen(cur);
		if (cl + 1 + n >= sizeof(cur))
			return;
		cur[cl] = '/';
		memcpy(cur + cl + 1, s, n);
		cur[cl + 1 + n] = '\0';
		if (lstat(cur, &st) < 0) {
			add(l, R_MISSING, ptr, "'%s' does not exist on this host%s%s", path,
			    strcmp(cur, path) ? ": missing from " : "", strcmp(cur, path) ? cur : "");
			return;
		}
		if (S_ISLNK(st.st_mode)) {
			add(l, R_SYMLINK, ptr, "'%s' is a symlink on this host%s%s", cur,
			    strcmp(cur, path) ? ", on the way to " : "", strcmp(cur, path) ? path : "");
			return;
		}
		bool last = *p == '\0';
		if ((st.st_mode & S_IWOTH) && (last || !(st.st_mode & S_ISVTX))) {
			add(l, R_WORLD_WRITABLE, ptr, "'%s' is world-writable on this host (mode %04o)%s%s",
			    cur, (unsigned)(st.st_mode & 07777), last ? "" : ", above ", last ? "" : path);
			return;
		}
	}
}

static void rule_host(lint *l, const char *list, const item *it, size_t n)
{
	char ptr[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(ptr, sizeof(ptr), "/%s/%zu", list, it[i].idx);
		host_path(l, ptr, it[i].s);
	}
}

/* Sockets in a tree, found by a walk that stays on the tree's own file
 * system (the view shows no other) and follows no symlink, bounded. nftw
 * has no context argument: one walk at a time (lint is single-threaded). */
#define SOCK_WALK_MAX 200000
#define SOCK_NAMES_MAX 3
static struct {
	size_t entries, sockets;
	char names[SOCK_NAMES_MAX][256];
} sock_walk;

static int sock_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (++sock_walk.entries > SOCK_WALK_MAX)
		return 1; /* stop: bounded */
	if (flag == FTW_F && S_ISSOCK(st->st_mode)) {
		if (sock_walk.sockets < SOCK_NAMES_MAX)
			snprintf(sock_walk.names[sock_walk.sockets], sizeof(sock_walk.names[0]), "%s", path);
		sock_walk.sockets++;
	}
	return 0;
}

static void rule_sockets_in(lint *l, const char *list, const item *it, size_t n)
{
	char ptr[64];
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		if (lstat(it[i].s, &st) < 0 || !S_ISDIR(st.st_mode))
			continue; /* missing or a file: CX106 and friends say so */
		memset(&sock_walk, 0, sizeof(sock_walk));
		nftw(it[i].s, sock_visit, 16, FTW_PHYS | FTW_MOUNT);
		if (!sock_walk.sockets)
			continue;
		snprintf(ptr, sizeof(ptr), "/%s/%zu", list, it[i].idx);
		add(l, R_SOCKET_IN_TREE, ptr,
		    "%s tree '%s' holds %zu unix socket%s of host daemons (%s%s%s%s%s%s)%s: runs reach none of them unless unix_sockets names them",
		    list, it[i].s, sock_walk.sockets, sock_walk.sockets == 1 ? "" : "s", sock_walk.names[0],
		    sock_walk.sockets > 1 ? ", " : "", sock_walk.sockets > 1 ? sock_walk.names[1] : "",
		    sock_walk.sockets > 2 ? ", " : "", sock_walk.sockets > 2 ? sock_walk.names[2] : "",
		    sock_walk.sockets > 3 ? ", ..." : "",
		    sock_walk.entries > SOCK_WALK_MAX ? " (the walk stopped after 200000 entries)" : "");
	}
}

/* Each socket the policy hands to runs; where no tree could mount it; on
 * this host, what is there. */
static void rule_host_sockets(lint *l, const item *sk, size_t n, const item *rd, size_t nrd,
			      const item *wr, size_t nwr)
{
	char ptr[64];
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		bool in_tree = false;
		for (size_t j = 0; j < nrd && !in_tree; j++)
			in_tree = cx_path_within(sk[i].s, rd[j].s) && strcmp(sk[i].s, rd[j].s) != 0;
		for (size_t j = 0; j < nwr && !in_tree; j++)
			in_tree = cx_path_within(sk[i].s, wr[j].s) && strcmp(sk[i].s, wr[j].s) != 0;
		snprintf(ptr, sizeof(ptr), "/unix_sockets/%zu", sk[i].idx);
		bool not_sock = l->opts->host && lstat(sk[i].s, &st) == 0 && !S_ISSOCK(st.st_mode);
		add(l, R_HOST_SOCKET, ptr, "runs may connect to the host socket '%s'%s%s", sk[i].s,
		    in_tree ? "" : "; it lies in no read or write tree, so no lease can mount it",
		    not_sock ? "; on this host it is not a socket (calyx-exec refuses such a run)" : "");
	}
}

/* "policy.env.allow[0] 'X' ..." -> "/env/allow/0": where the executor's
 * message points, so CX001 lands on the right value when it can. */
static void error_pointer(const char *msg, char *out, size_t len)
{
	const char *m = msg;
	size_t o = 0;

	out[0] = '\0';
	if (strncmp(m, "policy.", 7) != 0)
		return;
	m += 6;
	while ((*m == '.' || *m == '[') && o + 2 < len) {
		bool idx = *m == '[';
		out[o++] = '/';
		m++;
		while (*m && o + 1 < len &&
		       (idx ? (*m >= '0' && *m <= '9')
			    : (*m == '_' || (*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') ||
			       (*m >= '0' && *m <= '9'))))
			out[o++] = *m++;
		if (idx && *m == ']')
			m++;
	}
	out[o] = '\0';
}

static int cmp_finding(const void *a, const void *b)
{
	const cx_finding *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return strcmp(x->rule->id, y->rule->id);
}

int cx_lint_policy(const uint8_t *buf, size_t len, const cx_lint_opts *opts,
		   cx_lint_result *ret, cx_error *err)
{
	cx_lint_result res = { 0 };
	lint l = { .buf = buf, .len = len, .opts = opts, .res = &res };
	cx_policy pol = { 0 };
	cx_error perr = { 0 };
	json_error_t jerr;
	/* 3 x 512 items: on the heap (no stack frame over 16 KiB) */
	_cleanup_free_ struct { item cmd[LIST_MAX], rd[LIST_MAX], wr[LIST_MAX], sk[LIST_MAX], ex[LIST_MAX]; } *ls = NULL;
	size_t ncmd, nrd, nwr, nsk, nex;

	if (len > CX_POLICY_MAX_BYTES)
		return cx_err(err, CX_E_TOO_BIG, EFBIG, "policy is above %u bytes", CX_POLICY_MAX_BYTES);
	cx_sha256_hex(buf, len, res.sha256_hex);
	res.valid = cx_policy_parse(buf, len, &pol, &perr) == 0;
	cx_policy_free(&pol);
	l.doc = cx_json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (json_is_object(l.doc) && cx_jsonpos_build(buf, len, &l.ix) < 0 && res.valid) {
		json_decref(l.doc);
		return cx_err(err, CX_E_INTERNAL, EINVAL, "cannot index the positions of this policy");
	}
	if (!l.doc || !json_is_object(l.doc) || !l.ix.n) {
		/* not a JSON object: the one finding is where the parser stopped */
		add(&l, R_INVALID, "", "%s", perr.msg);
		if (!l.doc) {
			res.f[0].line = jerr.line > 0 ? (uint32_t)jerr.line : 1;
			res.f[0].column = jerr.column > 0 ? (uint32_t)jerr.column : 1;
		}
		json_decref(l.doc);
		cx_jsonpos_free(&l.ix);
		*ret = res;
		return 0;
	}
	if (!res.valid) {
		char ptr[128];
		error_pointer(perr.msg, ptr, sizeof(ptr));
		add(&l, R_INVALID, ptr, "%s", perr.msg);
	}

	ls = cx_calloc(1, sizeof(*ls));
	item *cmd = ls->cmd, *rd = ls->rd, *wr = ls->wr;
	ncmd = paths(l.doc, "commands", cmd, LIST_MAX);
	nrd = paths(l.doc, "read", rd, LIST_MAX);
	nwr = paths(l.doc, "write", wr, LIST_MAX);
	item *sk = ls->sk;
	nsk = paths(l.doc, "unix_sockets", sk, LIST_MAX);
	item *ex = ls->ex;
	nex = paths(l.doc, "exec", ex, LIST_MAX);
	rule_commands(&l, cmd, ncmd, wr, nwr);
	rule_exec(&l, ex, nex, wr, nwr);
	against(&l, R_WRITE_SYSTEM, "write", wr, nwr, system_paths, CX_ARRAY_SIZE(system_paths),
		&opts->trust, "system or trust path");
	against(&l, R_SECRET, "read", rd, nrd, secret_paths, CX_ARRAY_SIZE(secret_paths),
		&opts->secrets, "secret path");
	against(&l, R_SECRET, "write", wr, nwr, secret_paths, CX_ARRAY_SIZE(secret_paths),
		&opts->secrets, "secret path");
	rule_env(&l);
	rule_limits(&l);
	rule_quota_unset(&l, json_object_get(l.doc, "limits"));
	rule_network_and_lease(&l);
	if (json_is_string(json_object_get(l.doc, "landlock")) &&
	    strcmp(json_string_value(json_object_get(l.doc, "landlock")), "optional") == 0)
		add(&l, R_LANDLOCK, "/landlock", "Landlock is optional: a host without it runs leases with the mount view only");
	if (json_is_string(json_object_get(l.doc, "root_owned_trees")) &&
	    strcmp(json_string_value(json_object_get(l.doc, "root_owned_trees")), "allow") == 0)
		add(&l, R_ROOT_TREES, "/root_owned_trees", "root-owned workspaces and rw trees may be leased: runs own root's files in them");
	rule_redundant(&l, "read", rd, nrd, "read", rd, nrd);
	rule_redundant(&l, "read", rd, nrd, "write", wr, nwr);
	rule_redundant(&l, "write", wr, nwr, "write", wr, nwr);
	rule_redundant(&l, "exec", ex, nex, "exec", ex, nex);
	rule_hidden(&l, l.doc, "", 0);
	rule_host_sockets(&l, sk, nsk, rd, nrd, wr, nwr);
	if (opts->host) {
		rule_host(&l, "commands", cmd, ncmd);
		rule_host(&l, "exec", ex, nex);
		rule_host(&l, "read", rd, nrd);
		rule_host(&l, "write", wr, nwr);
		rule_host(&l, "unix_sockets", sk, nsk);
		rule_sockets_in(&l, "read", rd, nrd);
		rule_sockets_in(&l, "write", wr, nwr);
	}
	json_decref(l.doc);
	cx_jsonpos_free(&l.ix);
	if (res.n)
		qsort(res.f, res.n, sizeof(*res.f), cmp_finding);
	*ret = res;
	return 0;
}

void cx_lint_result_free(cx_lint_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->f[i].pointer);
		free(r->f[i].message);
	}
	free(r->f);
	memset(r, 0, sizeof(*r));
}

void cx_lint_counts(const cx_lint_result *r, size_t counts[3])
{
	counts[0] = counts[1] = counts[2] = 0;
	for (size_t i = 0; i < r->n; i++)
		counts[r->f[i].rule->severity]++;
}
