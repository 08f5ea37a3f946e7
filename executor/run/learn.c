/* calyx-policy learn: run a job in the same sandbox as calyx-exec (this
 * pipeline's pieces: cgroup, BPF monitor, view, Landlock, seccomp,
 * overlays over the workspace and rw trees), with no lease and no ledger,
 * and print the policy fragment and lease skeleton it needs
 * (policy/fragment.c).
 *
 * What differs from a leased run: the spec is built from the command line
 * (limits: the policy's defaults, --limits over them); execute is allowed
 * across the view (Landlock), since finding what runs is the point; the
 * loader guard reports loader runs without killing them; the run never
 * commits: its writes are always discarded (workspace.rolled_back), the
 * workspace is left as it was. Audited: run.learn, then the run's usual
 * events (exec.started, exec.spawned, exec.denied, exec.finished).
 * Files opened: a learn-only tracer (monitor/learn.bpf.c, fentry on
 * security_file_open with bpf_d_path); where it cannot attach, "read" is
 * the --ro roots as given and the output says so.
 * Trust: runs as root (checked by the CLI); the command is the operator's;
 * what the job execs is hostile input: names are resolved on the host
 * with realpath() only to print them, and kept only inside the view. */
#include "run.h"

#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/codec.h"
#include "calyx/esc.h"
#include "calyx/jsonx.h"
#include "calyx/learn.h"
#include "calyx/path.h"
#include "calyx/sandbox.h"
#include "../cli.h"

static json_t *strv_text(const cx_strv *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->n; i++)
		CX_CHECK(json_array_append_new(a, cx_audit_text(v->v[i])) == 0);
	return a;
}

static int strv_copy(cx_strv *dst, const cx_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		CX_CHECK(cx_strv_push(dst, src->v[i]) == 0);
	return 0;
}

int cx_run_learn_spec(cx_run *run, cx_error *err)
{
	const cx_learn_args *a = run->learn_args;
	cx_run_spec *s = &run->lease.spec;
	uint8_t id[16];
	int r;

	run->fail_as = 2; /* calyx-policy: a usage error */
	randombytes_buf(id, sizeof(id));
	cx_hex_encode(id, sizeof(id), run->lease.lease_id);
	run->lease.run_id = cx_strdup("learn");
	strv_copy(&s->argv, &a->argv);
	/* the command by its real path (a lease must name the real file) */
	_cleanup_free_ char *real0 = s->argv.v[0][0] == '/' ? realpath(s->argv.v[0], NULL) : NULL;
	if (real0) {
		free(s->argv.v[0]);
		s->argv.v[0] = TAKE_PTR(real0);
	}
	if (a->ro.n)
		strv_copy(&s->ro, &a->ro);
	else
		CX_CHECK(cx_strv_push(&s->ro, "/usr") == 0);
	strv_copy(&s->rw, &a->rw);
	s->workspace = a->workspace ? cx_strdup(a->workspace) : NULL;
	s->cwd = cx_strdup(a->workspace ? "/work" : "/");
	for (size_t i = 0; i < run->pol.env_set.n; i++)
		CX_CHECK(cx_env_push(&s->env, run->pol.env_set.name[i], run->pol.env_set.value[i]) == 0);
	s->network = CX_NET_NONE;
	s->limits = run->pol.def;
	if (a->limits_json) {
		_cleanup_json_ json_t *j = NULL;
		cx_limits l = { 0 };
		if ((r = cx_json_parse_object((const uint8_t *)a->limits_json, strlen(a->limits_json),
					      "--limits", &j, err)) < 0 ||
		    (r = cx_limits_from_json(j, "--limits", CX_E_USAGE, false, &l, err)) < 0)
			return r;
		for (int i = 0; i < CX_LIM__COUNT; i++)
			if (l.set & (1u << i))
				s->limits.v[i] = l.v[i];
	}
	s->limits.set = (1u << CX_LIM__COUNT) - 1;
	for (size_t i = 0; i < s->ro.n + s->rw.n; i++) {
		const char *p = i < s->ro.n ? s->ro.v[i] : s->rw.v[i - s->ro.n];
		if (!cx_path_is_normal(p))
			return cx_err(err, CX_E_USAGE, EINVAL,
				      "learn: '%.200s' is not a normal absolute path (no trailing '/', '.' or '..')",
				      p);
	}
	if ((r = cx_sandbox_check_spec(s, err)) < 0)
		return r;
	run->fail_as = CX_EXIT_FAILURE;
	run->have_lease = true; /* the events' envelope: the learn run's own id */
	json_t *d = json_pack("{s:o, s:o, s:o}", "argv", strv_text(&s->argv), "ro",
			      strv_text(&s->ro), "rw", strv_text(&s->rw));
	if (d && s->workspace)
		CX_CHECK(json_object_set_new(d, "workspace", cx_audit_text(s->workspace)) == 0);
	r = 0;
	cx_run_event(run, "run.learn", d, err, &r);
	return r;
}

/* A name the job exec'd, as a real path of the view: relative names
 * against the run's cwd, the workspace mapped to /work and back, every
 * symlink resolved on the host. NULL when it is not inside the view. */
static char *view_real(const cx_run_spec *s, const char *name)
{
	char host[PATH_MAX + 8];
	const char *ws = s->workspace;
	_cleanup_free_ char *real = NULL, *wsreal = NULL;

	if (name[0] != '/') {
		if (snprintf(host, sizeof(host), "%s/%s", ws ? ws : "", name) >= (int)sizeof(host))
			return NULL;
	} else if (ws && strncmp(name, "/work", 5) == 0 && (name[5] == '/' || !name[5])) {
		if (snprintf(host, sizeof(host), "%s%s", ws, name + 5) >= (int)sizeof(host))
			return NULL;
	} else if (snprintf(host, sizeof(host), "%s", name) >= (int)sizeof(host)) {
		return NULL;
	}
	if (!(real = realpath(host, NULL)))
		return NULL;
	if (ws && (wsreal = realpath(ws, NULL)) && cx_path_within(real, wsreal)) {
		char *v = NULL;
		CX_CHECK(asprintf(&v, "/work%s", real + strlen(wsreal)) >= 0);
		return v;
	}
	for (size_t i = 0; i < s->ro.n + s->rw.n; i++)
		if (cx_path_within(real, i < s->ro.n ? s->ro.v[i] : s->rw.v[i - s->ro.n]))
			return TAKE_PTR(real);
	return NULL; /* outside the view: nothing a lease could name */
}

/* A file the job wrote in its workspace and then exec'd (a build's test
 * program): it is gone with the learn run's writes, so the proposal is
 * the nearest directory above it that exists in the workspace on the host
 * ("/work/build"; "/work" itself when none does) — an exec entry over a
 * writable tree, which lint flags and a reviewer should see. Relative
 * names count from the lease's cwd. NULL when name is not in /work. */
static char *written_exec_dir(const cx_run_spec *s, const char *name)
{
	char buf[PATH_MAX + 8];
	const char *cwd = s->cwd ? s->cwd : "/work";
	int n;

	if (!s->workspace)
		return NULL;
	n = name[0] == '/' ? snprintf(buf, sizeof(buf), "%s", name)
			   : snprintf(buf, sizeof(buf), "%s/%s", cwd, name);
	if (n < 0 || n >= (int)sizeof(buf))
		return NULL;
	/* "./" and "x/./" components: the view path they name */
	for (char *p; (p = strstr(buf, "/./"));)
		memmove(p, p + 2, strlen(p + 2) + 1);
	if (!cx_path_is_normal(buf) || !cx_path_within(buf, "/work"))
		return NULL;
	for (char *slash; strcmp(buf, "/work") != 0 && (slash = strrchr(buf, '/'));) {
		*slash = '\0';
		char *v = view_real(s, buf);
		if (v && cx_path_within(v, "/work"))
			return v;
		free(v);
	}
	return cx_strdup("/work");
}

static uint64_t usage_of(const json_t *fin, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(json_object_get(fin, "usage"), k));
	return v > 0 ? (uint64_t)v : 0;
}

int cx_run_learn(cx_run *run, FILE *out)
{
	const cx_learn_args *a = run->learn_args;
	cx_learn_obs o = { 0 };
	cx_error err = { 0 };
	json_t *frag = NULL, *loaders;
	_cleanup_(cx_strv_free) cx_strv written = { 0 };
	int code;

	run->learn = true;
	code = cx_run_learn_prepare(run);
	if (code != CX_RUN_GO)
		return code;
	code = cx_run_sandboxed(run, &err);
	if (!run->learn_fin)
		return code; /* failed before the command ran: reported */
	const cx_run_spec *s = &run->lease.spec;
	char *cmd = view_real(s, s->argv.v[0]);
	CX_CHECK(cx_strv_push(&o.argv, cmd ? cmd : s->argv.v[0]) == 0);
	free(cmd);
	for (size_t i = 1; i < s->argv.n; i++)
		CX_CHECK(cx_strv_push(&o.argv, s->argv.v[i]) == 0);
	loaders = json_array();
	for (size_t i = 0; i < run->learn_execs.n; i++) {
		char *v = view_real(s, run->learn_execs.v[i]), *lv;
		char host[PATH_MAX + 8], interp[CX_PATH_MAX];
		if (!v && (v = written_exec_dir(s, run->learn_execs.v[i]))) {
			if (!cx_strv_contains(&written, v))
				CX_CHECK(cx_strv_push(&written, v) == 0);
			if (!cx_strv_contains(&o.execs, v))
				CX_CHECK(cx_strv_push(&o.execs, v) == 0);
			free(v);
			continue;
		}
		if (!v)
			continue;
		CX_CHECK(cx_strv_push(&o.execs, v) == 0);
		/* its ELF loader: added by calyx, never an exec entry */
		if (strncmp(v, "/work/", 6) == 0)
			snprintf(host, sizeof(host), "%s%s", s->workspace, v + 5);
		else
			snprintf(host, sizeof(host), "%s", v);
		if (cx_elf_loader(host, interp, sizeof(interp)) == 0 && interp[0] &&
		    (lv = view_real(s, interp))) {
			if (!cx_strv_contains(&o.interps, lv))
				CX_CHECK(cx_strv_push(&o.interps, lv) == 0);
			free(lv);
		}
		free(v);
	}
	/* a loader exec'd as a program: reported, never proposed */
	for (size_t i = 0; i < run->learn_loaders.n; i++) {
		char *lv = view_real(s, run->learn_loaders.v[i]);
		const char *name = lv ? lv : run->learn_loaders.v[i];
		bool seen = false;
		for (size_t k = 0; k < json_array_size(loaders); k++)
			seen = seen || strcmp(json_string_value(json_array_get(loaders, k)), name) == 0;
		if (!seen)
			json_array_append_new(loaders, json_string(name));
		if (lv && !cx_strv_contains(&o.interps, lv))
			CX_CHECK(cx_strv_push(&o.interps, lv) == 0);
		free(lv);
	}
	strv_copy(&o.ro_roots, &s->ro);
	_cleanup_free_ bool *dirs = NULL;
	if (run->learn_opens_traced) {
		/* the view's paths as the files' real paths; a directory
		 * opened (readdir) stands for itself */
		dirs = cx_calloc(run->learn_opened.n + 1, sizeof(*dirs));
		for (size_t i = 0; i < run->learn_opened.n; i++) {
			char *v = view_real(s, run->learn_opened.v[i]);
			struct stat st;
			if (!v)
				continue;
			dirs[o.opened.n] = v[0] == '/' && stat(v, &st) == 0 && S_ISDIR(st.st_mode);
			CX_CHECK(cx_strv_push(&o.opened, v) == 0);
			free(v);
		}
	} else {
		/* no file tracer here: the roots themselves */
		strv_copy(&o.opened, &s->ro);
		dirs = cx_calloc(s->ro.n + 1, sizeof(*dirs));
		for (size_t i = 0; i < s->ro.n; i++)
			dirs[i] = true;
	}
	o.opened_is_dir = dirs;
	strv_copy(&o.rw, &s->rw);
	o.workspace = s->workspace;
	o.writes_in_workspace = s->workspace != NULL;
	o.cpu_ms = usage_of(run->learn_fin, "cpu_ms");
	o.peak_memory_bytes = usage_of(run->learn_fin, "peak_memory_bytes");
	o.pids_peak = usage_of(run->learn_fin, "pids_peak");
	o.wall_ms = usage_of(run->learn_fin, "wall_ms");
	if (cx_learn_fragment(&o, &frag, &err) < 0) {
		json_decref(loaders);
		code = cx_cli_fail(&err, CX_EXIT_FAILURE);
		goto out;
	}
	json_t *ec = json_object_get(run->learn_fin, "exit_code");
	json_object_set_new(frag, "run", json_pack("{s:s, s:O?, s:o, s:I, s:b}", "learn_id",
						   run->lease.lease_id, "exit_code", ec,
						   "loader_runs", loaders, "execs_seen",
						   (json_int_t)run->learn_execs.n, "files_traced",
						   run->learn_opens_traced));
	if (written.n) {
		json_t *w = json_array();
		for (size_t i = 0; i < written.n; i++)
			CX_CHECK(json_array_append_new(w, json_string(written.v[i])) == 0);
		json_object_set_new(json_object_get(frag, "run"), "written_exec_dirs", w);
	}
	if (run->learn_opens_traced)
		json_object_set_new(json_object_get(frag, "run"), "files_opened",
				    json_pack("{s:I, s:I}", "distinct", (json_int_t)run->learn_opened.n,
					      "lost", (json_int_t)run->learn_opens_lost));
	if (a->json) {
		char *txt = json_dumps(frag, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		fprintf(out, "%s\n", txt ? txt : "{}");
		free(txt);
	} else {
		cx_learn_print_text(out, frag);
		fprintf(out, "\nLearn run %s: the command exited %lld; its writes were discarded.\n",
			run->lease.lease_id, (long long)json_integer_value(ec));
		if (json_array_size(loaders)) {
			size_t i;
			json_t *v;
			fprintf(out, "Loader runs (ld.so PROGRAM: a leased run kills these):\n");
			json_array_foreach(loaders, i, v)
			{
				fputs("  ", out);
				cx_esc_fputs(json_string_value(v), out);
				fputc('\n', out);
			}
		}
		for (size_t i = 0; i < written.n; i++) {
			fputs("Note: the job ran programs it wrote itself beneath ", out);
			cx_esc_fputs(written.v[i], out);
			fputs(": that directory is proposed as an exec entry (runs may execute what they write there; lint warns); it must exist in the workspace when the lease is made\n",
			      out);
		}
		if (json_integer_value(ec) != 0)
			fprintf(out, "Note: the job failed (exit %lld): the fragment holds only what it ran before it stopped; "
				     "fix the cause and learn again (a shell's \"not found\", exit 127, is a program missing "
				     "from the view, looked up without an exec attempt: often a link through /etc/alternatives, "
				     "such as awk or cc; add --ro /etc/alternatives)\n",
				(long long)json_integer_value(ec));
		if (!run->learn_opens_traced)
			fprintf(out, "Note: files opened could not be traced here (fentry on security_file_open): \"read\" is the --ro roots as given.\n");
		else if (run->learn_opens_lost)
			fprintf(out, "Note: %llu file opens were lost (a full ring or a path over 255 bytes): review \"read\".\n",
				(unsigned long long)run->learn_opens_lost);
	}
	code = 0;
out:
	json_decref(frag);
	cx_strv_free(&o.argv);
	cx_strv_free(&o.execs);
	cx_strv_free(&o.interps);
	cx_strv_free(&o.opened);
	cx_strv_free(&o.ro_roots);
	cx_strv_free(&o.rw);
	return code;
}
