/* calyx-policy learn's output: from what a learn run observed, the
 * minimal policy fragment and a lease body skeleton (pure: no syscalls,
 * every path already resolved to its real path by the caller).
 *
 * Output (cx_learn_fragment), e.g. for `make` of a small C project:
 *   {"policy": {"commands": ["/usr/bin/make"],
 *               "exec": ["/usr/bin/gcc-12", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", …],
 *               "read": ["/usr/include", "/usr/lib/gcc/x86_64-linux-gnu/12", …]},
 *    "lease": {"argv": ["/usr/bin/make"], "exec": [… as above],
 *              "paths": {"ro": [… as read], "rw": []}, "workspace": "/srv/app",
 *              "limits": {"cpu_ms": 2000, "memory_bytes": 134217728, "pids": 16,
 *                         "wall_ms": 10000}}}
 * Rules: exec = every file exec'd but the command itself and the
 * interpreters (added by calyx automatically), sorted, deduplicated;
 * read = the directories of the files opened within the --ro roots,
 * collapsed towards their root until at most CX_LEARN_RO_MAX remain;
 * limits = measured peaks with headroom (×2; wall ×3) and floors.
 * Trust: inputs come from a run of an untrusted command (paths it chose
 * to open or exec): bounded counts, only normal absolute paths kept,
 * everything printed escaped by the caller (calyx/esc.h). */
#include "calyx/learn.h"

#include <stdlib.h>
#include <string.h>

#include "calyx/esc.h"
#include "calyx/path.h"

#define MIB (1024ULL * 1024)

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted copy of v without duplicates or entries beneath another one
 * (when nested). Borrowed strings. */
static size_t sort_unique(const char **v, size_t n, bool nested)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(v[k - 1], v[i]) == 0)
			continue;
		/* sorted: a tree comes right before what lies beneath it */
		if (nested && k && cx_path_within(v[i], v[k - 1]))
			continue;
		v[k++] = v[i];
	}
	return k;
}

static json_t *strv_json(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		CX_CHECK(json_array_append_new(a, json_string(v[i])) == 0);
	return a;
}

static bool in_list(const cx_strv *s, const char *x)
{
	return s && cx_strv_contains(s, x);
}

/* The --ro root holding p (the longest), or NULL. */
static const char *root_of(const cx_strv *roots, const char *p)
{
	const char *best = NULL;
	for (size_t i = 0; i < roots->n; i++)
		if (cx_path_within(p, roots->v[i]) && (!best || strlen(roots->v[i]) > strlen(best)))
			best = roots->v[i];
	return best;
}

/* The parent of p within its root (p itself when it is the root). */
static char *parent_within(const char *p, const char *root)
{
	const char *slash = strrchr(p, '/');
	if (strcmp(p, root) == 0 || !slash || slash == p)
		return cx_strdup(strcmp(p, root) == 0 || !slash ? p : root);
	char *d = strndup(p, (size_t)(slash - p));
	CX_CHECK(d);
	if (!cx_path_within(d, root)) {
		free(d);
		return cx_strdup(root);
	}
	return d;
}

/* The directories of the opened files inside the roots, collapsed
 * deepest first until at most max remain. Returns owned strings. */
static size_t read_dirs(const cx_learn_obs *o, char ***ret)
{
	size_t n = 0, cap = o->opened.n;
	char **d = cx_calloc(cap ? cap : 1, sizeof(*d));

	for (size_t i = 0; i < o->opened.n; i++) {
		const char *p = o->opened.v[i], *root;
		if (!cx_path_is_normal(p) || !(root = root_of(&o->ro_roots, p)))
			continue;
		d[n++] = o->opened_is_dir && o->opened_is_dir[i] ? cx_strdup(p) : parent_within(p, root);
	}
	for (;;) {
		size_t k;
		/* unique, nested entries dropped (owned: free what goes) */
		qsort(d, n, sizeof(*d), cmp_str);
		k = 0;
		for (size_t i = 0; i < n; i++) {
			if (k && (strcmp(d[k - 1], d[i]) == 0 || cx_path_within(d[i], d[k - 1]))) {
				free(d[i]);
				continue;
			}
			d[k++] = d[i];
		}
		n = k;
		if (n <= CX_LEARN_RO_MAX)
			break;
		/* the deepest entries go up one level */
		size_t deepest = 0;
		for (size_t i = 0; i < n; i++) {
			size_t depth = 0;
			for (const char *c = d[i]; *c; c++)
				depth += *c == '/';
			if (depth > deepest)
				deepest = depth;
		}
		bool moved = false;
		for (size_t i = 0; i < n; i++) {
			size_t depth = 0;
			for (const char *c = d[i]; *c; c++)
				depth += *c == '/';
			const char *root = root_of(&o->ro_roots, d[i]);
			if (depth == deepest && root && strcmp(d[i], root) != 0) {
				char *up = parent_within(d[i], root);
				free(d[i]);
				d[i] = up;
				moved = true;
			}
		}
		if (!moved)
			break; /* every entry is a root: as few as the roots */
	}
	*ret = d;
	return n;
}

static uint64_t headroom(uint64_t v, unsigned mul, uint64_t floor, uint64_t round)
{
	uint64_t x = v > UINT64_MAX / mul ? UINT64_MAX : v * mul;
	if (x < floor)
		x = floor;
	if (round && x % round)
		x += round - x % round;
	return x;
}

int cx_learn_fragment(const cx_learn_obs *o, json_t **ret, cx_error *err)
{
	const char **ex;
	char **rd = NULL;
	size_t nex = 0, nrd;

	if (!o->argv.n || !cx_path_is_normal(o->argv.v[0]))
		return cx_err(err, CX_E_USAGE, EINVAL, "learn: the command must be an absolute path");
	ex = cx_calloc(o->execs.n + 1, sizeof(*ex));
	for (size_t i = 0; i < o->execs.n; i++) {
		const char *p = o->execs.v[i];
		if (!cx_path_is_normal(p) || strcmp(p, o->argv.v[0]) == 0 || in_list(&o->interps, p))
			continue;
		ex[nex++] = p;
	}
	nex = sort_unique(ex, nex, false);
	nrd = read_dirs(o, &rd);

	json_t *lim = json_pack(
		"{s:I, s:I, s:I, s:I}", "cpu_ms", (json_int_t)headroom(o->cpu_ms, 2, 1000, 100),
		"memory_bytes", (json_int_t)headroom(o->peak_memory_bytes, 2, 64 * MIB, MIB), "pids",
		(json_int_t)headroom(o->pids_peak, 2, 16, 1), "wall_ms",
		(json_int_t)headroom(o->wall_ms, 3, 10000, 1000));
	json_t *pol = json_pack("{s:[s], s:o, s:o}", "commands", o->argv.v[0], "exec",
				strv_json(ex, nex), "read", strv_json((const char *const *)rd, nrd));
	json_t *paths = json_pack("{s:o, s:o}", "ro", strv_json((const char *const *)rd, nrd), "rw",
				  strv_json((const char *const *)o->rw.v, o->rw.n));
	json_t *lease = json_pack("{s:o, s:o, s:o, s:o}", "argv",
				  strv_json((const char *const *)o->argv.v, o->argv.n), "exec",
				  strv_json(ex, nex), "paths", paths, "limits", lim);
	if (o->workspace)
		CX_CHECK(json_object_set_new(lease, "workspace", json_string(o->workspace)) == 0);
	if (o->workspace && o->writes_in_workspace)
		CX_CHECK(json_object_set_new(lease, "cwd", json_string("/work")) == 0);
	*ret = json_pack("{s:o, s:o}", "policy", pol, "lease", lease);
	for (size_t i = 0; i < nrd; i++)
		free(rd[i]);
	free(rd);
	free(ex);
	CX_CHECK(*ret);
	return 0;
}

static void print_list(FILE *out, const char *title, const json_t *a)
{
	size_t i;
	json_t *v;

	fprintf(out, "  %s:%s\n", title, json_array_size(a) ? "" : " (none)");
	json_array_foreach(a, i, v)
	{
		fputs("    ", out);
		cx_esc_fputs(json_string_value(v), out);
		fputc('\n', out);
	}
}

void cx_learn_print_text(FILE *out, const json_t *frag)
{
	const json_t *pol = json_object_get(frag, "policy"), *l = json_object_get(frag, "lease");
	const json_t *lim = json_object_get(l, "limits");
	char *body = json_dumps(l, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);

	fprintf(out, "Policy fragment (what this job needs):\n");
	print_list(out, "commands", json_object_get(pol, "commands"));
	print_list(out, "exec (besides the command; interpreters are added by calyx)",
		   json_object_get(pol, "exec"));
	print_list(out, "read", json_object_get(pol, "read"));
	fprintf(out, "\nSuggested limits (measured peaks with headroom): cpu_ms %lld, memory_bytes %lld, pids %lld, wall_ms %lld\n",
		(long long)json_integer_value(json_object_get(lim, "cpu_ms")),
		(long long)json_integer_value(json_object_get(lim, "memory_bytes")),
		(long long)json_integer_value(json_object_get(lim, "pids")),
		(long long)json_integer_value(json_object_get(lim, "wall_ms")));
	/* JSON_ENSURE_ASCII: every byte outside ASCII as \u escapes, control
	 * characters too, so the body cannot move the terminal */
	fprintf(out, "\nLease body skeleton (add run_id, audience, then review and sign):\n%s\n",
		body ? body : "{}");
	free(body);
}
