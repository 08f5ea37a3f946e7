/* calyx-ctl selftest: prove that THIS host (its kernel, its calyx
 * configuration) runs leases safely, for CI systems and operators.
 *
 *   calyx-ctl selftest [--config FILE] [--format text|junit|tap]
 *                      [--only CASE,...] [-o FILE]
 *
 * Design (README "Install on a server", man calyx-ctl(8)):
 *  - The corpus is the adversarial one of the source tree (tests/
 *    adversarial/: run.sh, lib_adv.sh, cases/NAME.case, the static probes
 *    and workloads, and tests/integration/lib.sh beside run.sh), which
 *    'make install' puts in $(DATADIR)/calyx/selftest/ (CALYX_SELFTEST_DIR_
 *    DEFAULT, from the Makefile). The environment variable
 *    CALYX_SELFTEST_DIR points it elsewhere: in the build tree at
 *    tests/adversarial (the probes and workloads are then taken from
 *    build/probes and build/workloads, beside this binary).
 *  - The calyx binaries under test are the ones beside this calyx-ctl
 *    (the directory of /proc/self/exe): the installed ones.
 *  - The runner (bash run.sh BINDIR) is started with execve: an argv
 *    array, no shell string, and an environment made here from nothing
 *    (PATH, HOME, LC_ALL, TMPDIR and the ADV_* variables run.sh's header
 *    documents). Its output goes to a log in a private temp dir; its
 *    report (ADV_OUT, adversarial.json) is read back bounded and parsed
 *    with jansson.
 *  - "This host's real configuration": the fixture hosts the runner makes
 *    get this host's settings that shape the sandbox, taken from --config
 *    (default /etc/calyx/calyx.conf, loaded with calyx-exec's strict
 *    loader): bpf_pin_dir (ADV_HOST_MEMBERS, added to every fixture host's
 *    calyx.conf by lib.sh's mk_host) and the run uid range (ADV_RUN_UID_
 *    RANGE: the fixture host advu runs as a free uid inside it). The
 *    kernel's own features (Landlock, seccomp, cgroup v2, BPF LSM) are
 *    this host's anyway. The fixtures keep their own keys, keyring,
 *    policy, state dir, audit log and ledger (a temp dir), and never
 *    forward audit lines (audit_forward) or claim pool leases (ledger,
 *    pools): selftest never writes this host's state, ledger or audit log.
 *  - One more case, audit_chain_intact: the host's own audit log verifies
 *    (cx_audit_verify with the host key's public half, as 'calyx-audit
 *    verify --config'); skipped when there is no audit log yet.
 *
 * Exit: 0 every case had the secure outcome (skipped ones do not count
 * against it; the summary says how many), 1 a case failed or escaped,
 * 2 usage, 125 error (no report).
 * Trust: runs as root; its inputs are its options, the host's config
 * (strict loader) and the runner's report (bounded, strictly typed). */
#include "ctl_selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calyx/audit.h"
#include "calyx/config.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "cli.h"

#ifndef CALYX_SELFTEST_DIR_DEFAULT
#define CALYX_SELFTEST_DIR_DEFAULT "/usr/local/share/calyx/selftest"
#endif

#define REPORT_MAX (8u << 20)       /* adversarial.json: a few KiB per case */
#define AUDIT_LOG_MAX (1ull << 32)  /* as calyx-audit verify */
#define ONLY_MAX 128
#define CASE_NAME_MAX 64

enum fmt { FMT_TEXT, FMT_JUNIT, FMT_TAP };
enum verdict { V_PASS, V_FAIL, V_SKIP };

typedef struct st_case {
	char *name, *class, *expected, *observed;
	enum verdict v;
} st_case;

typedef struct st_run {
	st_case *c;
	size_t n;
} st_run;

static void st_run_free(st_run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->c[i].name);
		free(r->c[i].class);
		free(r->c[i].expected);
		free(r->c[i].observed);
	}
	free(r->c);
	r->c = NULL;
	r->n = 0;
}

static void st_add(st_run *r, const char *name, const char *class, const char *expected,
		   const char *observed, enum verdict v)
{
	st_case *c = realloc(r->c, (r->n + 1) * sizeof(*c));
	if (!c)
		abort();
	r->c = c;
	r->c[r->n++] = (st_case){ cx_strdup(name), cx_strdup(class), cx_strdup(expected),
				  cx_strdup(observed), v };
}

static bool case_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > CASE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* --only a,b,c -> "a b c" (ADV_ONLY), each name a case file of the corpus. */
static int parse_only(const char *arg, const char *dir, char *out, size_t outsz)
{
	size_t n = 0, used = 0;
	const char *p = arg;

	out[0] = '\0';
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char path[PATH_MAX];
		struct stat st;
		if (!case_name_ok(p, len))
			return cx_cli_usage("selftest: --only '%.*s' is not a case name (a-z, 0-9, _; see run.sh --list)",
					    (int)(len > 80 ? 80 : len), p);
		if (++n > ONLY_MAX || used + len + 2 > outsz)
			return cx_cli_usage("selftest: --only names more than %d cases", ONLY_MAX);
		snprintf(path, sizeof(path), "%s/cases/%.*s.case", dir, (int)len, p);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			return cx_cli_usage("selftest: --only '%.*s': no such case in '%s/cases'", (int)len, p, dir);
		used += (size_t)snprintf(out + used, outsz - used, "%s%.*s", used ? " " : "", (int)len, p);
		p = e ? e + 1 : p + len;
	}
	if (n == 0)
		return cx_cli_usage("selftest: --only takes CASE,... (see run.sh --list)");
	return 0;
}

static bool is_exec_file(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* This host's settings the fixture hosts take: raw calyx.conf members
 * (ADV_HOST_MEMBERS) and the run uid range ("FIRST COUNT", or "" when the
 * host runs every lease as one fixed uid). */
static char *host_members(const cx_config *cfg, char *range, size_t rangesz)
{
	_cleanup_json_ json_t *o = json_object();
	_cleanup_free_ char *s = NULL;
	size_t n;

	json_object_set_new(o, "bpf_pin_dir", json_string(cfg->bpf_pin_dir ? cfg->bpf_pin_dir : ""));
	s = json_dumps(o, JSON_COMPACT);
	if (!s)
		abort();
	if (cfg->run_uid_fixed)
		range[0] = '\0';
	else
		snprintf(range, rangesz, "%u %u", cfg->run_uid_first, cfg->run_uid_count);
	/* members only: without the object's braces */
	n = strlen(s);
	if (n < 2)
		abort();
	s[n - 1] = '\0';
	return cx_strdup(s + 1);
}

/* The last non-empty line of the runner's log, for an error message. */
static void log_tail(const char *path, char *out, size_t outsz)
{
	_cleanup_free_ uint8_t *buf = NULL;
	cx_error e = { 0 };
	size_t len, a, b;

	out[0] = '\0';
	if (cx_read_file(path, "selftest log", 4u << 20, 0, 0, &buf, &len, &e) < 0)
		return;
	b = len;
	while (b && (buf[b - 1] == '\n' || buf[b - 1] == ' '))
		b--;
	a = b;
	while (a && buf[a - 1] != '\n')
		a--;
	snprintf(out, outsz, "%.*s", (int)(b - a > 200 ? 200 : b - a), (const char *)buf + a);
}

/* Run "bash DIR/run.sh BINDIR" with envp, output to logpath; its status. */
static int run_corpus(const char *runsh, const char *bindir, char *const envp[], const char *logpath,
		      int *ret_status, cx_error *err)
{
	char *argv[] = { (char *)"bash", (char *)runsh, (char *)bindir, NULL };
	pid_t pid, w;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cx_err(err, CX_E_INTERNAL, errno, "selftest: fork failed");
	if (pid == 0) {
		int lf = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		int nf = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (lf < 0 || nf < 0 || dup2(nf, 0) < 0 || dup2(lf, 1) < 0 || dup2(lf, 2) < 0)
			_exit(126);
		execve("/bin/bash", argv, envp);
		_exit(127);
	}
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return cx_err(err, CX_E_INTERNAL, errno, "selftest: waitpid failed");
	*ret_status = st;
	return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The runner's report: {"cases":[{"name","class","expected","observed",
 * "as_expected",("skipped")},...]}. */
static int parse_report(const char *path, st_run *run, cx_error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *j = NULL;
	const json_t *cases, *c;
	size_t len, i;
	int r;

	r = cx_read_file(path, "selftest report", REPORT_MAX, 0, 0, &buf, &len, err);
	if (r < 0)
		return r;
	r = cx_json_parse_object(buf, len, "selftest report", &j, err);
	if (r < 0)
		return r;
	cases = json_object_get(j, "cases");
	if (!json_is_array(cases))
		return cx_err(err, CX_E_JSON, EINVAL, "selftest report '%s': no \"cases\" array", path);
	json_array_foreach(cases, i, c) {
		const char *name = jstr(c, "name"), *class = jstr(c, "class"), *exp = jstr(c, "expected"),
			   *obs = jstr(c, "observed");
		const json_t *ok = json_object_get(c, "as_expected"), *sk = json_object_get(c, "skipped");
		enum verdict v;
		if (!name || !class || !exp || !obs || !json_is_boolean(ok) || (sk && !json_is_boolean(sk)))
			return cx_err(err, CX_E_JSON, EINVAL,
				      "selftest report '%s': case %zu lacks name, class, expected, observed or as_expected",
				      path, i + 1);
		v = json_is_true(sk) ? V_SKIP : json_is_true(ok) ? V_PASS : V_FAIL;
		st_add(run, name, class, exp, obs, v);
	}
	return 0;
}

/* The host's own audit log: the case audit_chain_intact. */
static void audit_case(const cx_config *cfg, st_run *run)
{
	static const char *name = "audit_chain_intact", *class = "host audit log";
	static const char *exp = "INTACT";
	_cleanup_free_ uint8_t *buf = NULL;
	cx_audit_report rep = { 0 };
	cx_error e = { 0 };
	uint8_t seed[32], pk[32];
	char obs[512];
	struct stat st;
	size_t len;
	int r;

	if (stat(cfg->audit_log, &st) < 0 && errno == ENOENT) {
		snprintf(obs, sizeof(obs), "SKIPPED: no audit log yet at '%s' (no lease has run on this host)",
			 cfg->audit_log);
		st_add(run, name, class, exp, obs, V_SKIP);
		return;
	}
	r = cx_seed_load(cfg->host_key, "host key", true, 0, seed, &e);
	if (r == 0)
		cx_seed_public(seed, pk);
	cx_wipe(seed, sizeof(seed));
	if (r == 0)
		r = cx_read_file(cfg->audit_log, "audit log", AUDIT_LOG_MAX, 0, 0, &buf, &len, &e);
	if (r == 0)
		r = cx_audit_verify(buf, len, pk, &rep, &e);
	if (r < 0) {
		snprintf(obs, sizeof(obs), "ERROR: %.400s", e.msg);
		st_add(run, name, class, exp, obs, V_FAIL);
		return;
	}
	if (rep.signed_lines < rep.lines)
		snprintf(obs, sizeof(obs),
			 "INTACT: %llu events, chain intact, the last %llu not signed by a checkpoint yet, head %.16s",
			 (unsigned long long)rep.lines, (unsigned long long)(rep.lines - rep.signed_lines), rep.head);
	else
		snprintf(obs, sizeof(obs), "INTACT: %llu events, chain and signatures intact, head %.16s",
			 (unsigned long long)rep.lines, rep.head);
	st_add(run, name, class, exp, obs, V_PASS);
}

/* XML 1.0 text: & < > " ' escaped, controls other than tab and newline
 * (not allowed in XML 1.0) as '?'. */
static void xml_puts(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		switch (ch) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
				fputc('?', f);
			else
				fputc(ch, f);
		}
	}
}

/* TAP description text: one line, '#' (a directive) escaped. */
static void tap_puts(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '#' || ch == '\\')
			fputc('\\', f);
		fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, f);
	}
}

/* "SKIPPED: reason" -> "reason" */
static const char *skip_reason(const char *obs)
{
	return strncmp(obs, "SKIPPED: ", 9) == 0 ? obs + 9 : obs;
}

static void counts(const st_run *run, size_t *pass, size_t *fail, size_t *skip)
{
	*pass = *fail = *skip = 0;
	for (size_t i = 0; i < run->n; i++)
		(*(run->c[i].v == V_PASS ? pass : run->c[i].v == V_FAIL ? fail : skip))++;
}

static void render_text(FILE *f, const st_run *run, const char *cfgpath, const char *dir,
			const char *bindir)
{
	size_t pass, fail, skip;

	counts(run, &pass, &fail, &skip);
	cx_esc_line(f, "calyx-ctl selftest: config %s, corpus %s, binaries %s", cfgpath, dir, bindir);
	fprintf(f, "(fixtures: their own keys, keyring, policy, state dir and audit log in a temp dir;\n"
		   " this host's state, ledger and audit log are read, never written)\n");
	for (size_t i = 0; i < run->n; i++) {
		const st_case *c = &run->c[i];
		if (c->v == V_PASS)
			cx_esc_line(f, "ok    %-22s %-28s %s", c->name, c->class, c->observed);
		else if (c->v == V_SKIP)
			cx_esc_line(f, "skip  %-22s %-28s %s", c->name, c->class, skip_reason(c->observed));
		else
			cx_esc_line(f, "FAIL  %-22s %-28s observed %s; expected %s", c->name, c->class,
				    c->observed, c->expected);
	}
	fprintf(f, "selftest: %zu/%zu as expected, %zu skipped, %zu failed: %s\n", pass, run->n - skip, skip,
		fail, fail ? "this host is NOT proven safe to run leases" : "this host runs leases safely");
}

static void render_junit(FILE *f, const st_run *run)
{
	size_t pass, fail, skip;

	counts(run, &pass, &fail, &skip);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuite name=\"calyx-selftest\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n",
		run->n, fail, skip);
	for (size_t i = 0; i < run->n; i++) {
		const st_case *c = &run->c[i];
		fputs("  <testcase classname=\"", f);
		xml_puts(f, c->class);
		fputs("\" name=\"", f);
		xml_puts(f, c->name);
		fputs("\">", f);
		if (c->v == V_FAIL) {
			fputs("<failure message=\"observed ", f);
			xml_puts(f, c->observed);
			fputs("; expected ", f);
			xml_puts(f, c->expected);
			fputs("\"/>", f);
		} else if (c->v == V_SKIP) {
			fputs("<skipped message=\"", f);
			xml_puts(f, skip_reason(c->observed));
			fputs("\"/>", f);
		} else {
			fputs("<system-out>", f);
			xml_puts(f, c->observed);
			fputs("</system-out>", f);
		}
		fputs("</testcase>\n", f);
	}
	fputs("</testsuite>\n", f);
}

static void render_tap(FILE *f, const st_run *run)
{
	size_t pass, fail, skip;

	counts(run, &pass, &fail, &skip);
	fprintf(f, "TAP version 13\n1..%zu\n", run->n);
	for (size_t i = 0; i < run->n; i++) {
		const st_case *c = &run->c[i];
		fprintf(f, "%s %zu - ", c->v == V_FAIL ? "not ok" : "ok", i + 1);
		tap_puts(f, c->name);
		fputs(" (", f);
		tap_puts(f, c->class);
		fputc(')', f);
		if (c->v == V_SKIP) {
			fputs(" # SKIP ", f);
			tap_puts(f, skip_reason(c->observed));
		}
		fputc('\n', f);
		if (c->v == V_FAIL) {
			fputs("# observed ", f);
			tap_puts(f, c->observed);
			fputs("; expected ", f);
			tap_puts(f, c->expected);
			fputc('\n', f);
		}
	}
	fprintf(f, "# %zu/%zu as expected, %zu skipped, %zu failed\n", pass, run->n - skip, skip, fail);
}

static void rm_tmp(const char *tmp)
{
	static const char *const files[] = { "run.log", "adversarial.json", "adversarial.json.tmp", NULL };
	char p[PATH_MAX];
	for (size_t i = 0; files[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", tmp, files[i]);
		(void)unlink(p);
	}
	(void)rmdir(tmp);
}

/* out = a/b; "" when it does not fit (a stat of "" then fails). */
static void pjoin(char *out, const char *a, const char *b)
{
	if (snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
		out[0] = '\0';
}

/* The corpus runs as root: its directory, cases/ and scripts must be
 * root's and writable by no one else (as calyx-exec's own files). 0, or
 * the path that is not (in bad). */
static int corpus_trusted(const char *dir, char *bad)
{
	static const char *const parts[] = { "", "cases", "run.sh", "lib_adv.sh", "lib.sh", NULL };
	struct stat st;
	for (size_t i = 0; parts[i]; i++) {
		if (parts[i][0])
			pjoin(bad, dir, parts[i]);
		else if (snprintf(bad, PATH_MAX, "%s", dir) >= PATH_MAX)
			return -ENAMETOOLONG;
		if (lstat(bad, &st) < 0) {
			if (errno == ENOENT && strcmp(parts[i], "lib.sh") == 0)
				continue; /* the build tree: ../integration/lib.sh */
			return -errno;
		}
		if (st.st_uid != 0 || (st.st_mode & 022) || S_ISLNK(st.st_mode))
			return -EPERM;
	}
	return 0;
}

struct st_paths {
	char only_s[ONLY_MAX * (CASE_NAME_MAX + 1) + 1];
	char self[PATH_MAX], bindir[PATH_MAX], runsh[PATH_MAX], logp[PATH_MAX], rep[PATH_MAX];
	char probes[PATH_MAX], work[PATH_MAX];
};

int cx_ctl_selftest(int argc, char **argv, const char *config_default)
{
	static const struct option opts[] = { { "config", required_argument, 0, 'c' },
					      { "format", required_argument, 0, 'f' },
					      { "only", required_argument, 0, 'O' },
					      { "output", required_argument, 0, 'o' },
					      { 0, 0, 0, 0 } };
	const char *cfgpath = config_default ? config_default : CX_CONFIG_DEFAULT;
	const char *only = NULL, *outpath = NULL, *dir;
	enum fmt fmt = FMT_TEXT;
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	_cleanup_free_ char *members = NULL;
	st_run run = { 0 };
	cx_error err = { 0 };
	/* the paths on the heap: the frame stays small */
	_cleanup_free_ struct st_paths *pa = calloc(1, sizeof(*pa));
	char range[64], tmp[] = "/tmp/calyx-selftest-XXXXXX", tail[256];
	char *only_s, *self, *bindir, *runsh, *logp, *rep, *probes, *work;
	struct stat st;
	ssize_t n;
	int c, r, status = 0, code;
	FILE *out = stdout;

	if (!pa)
		abort();
	only_s = pa->only_s, self = pa->self, bindir = pa->bindir, runsh = pa->runsh;
	logp = pa->logp, rep = pa->rep, probes = pa->probes, work = pa->work;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'c')
			cfgpath = optarg;
		else if (c == 'O')
			only = optarg;
		else if (c == 'o')
			outpath = optarg;
		else if (c == 'f' && strcmp(optarg, "text") == 0)
			fmt = FMT_TEXT;
		else if (c == 'f' && strcmp(optarg, "junit") == 0)
			fmt = FMT_JUNIT;
		else if (c == 'f' && strcmp(optarg, "tap") == 0)
			fmt = FMT_TAP;
		else if (c == 'f')
			return cx_cli_usage("selftest: --format '%s' is not text, junit or tap", optarg);
		else
			return cx_cli_usage("usage: selftest [--config FILE] [--format text|junit|tap] [--only CASE,...] [-o FILE]");
	}
	if (optind != argc)
		return cx_cli_usage("usage: selftest [--config FILE] [--format text|junit|tap] [--only CASE,...] [-o FILE]");
	dir = getenv("CALYX_SELFTEST_DIR");
	if (!dir || !*dir)
		/* the Makefile's -D carries shell quotes cppcheck's compile
		 * database keeps: a parse error there only */
		/* cppcheck-suppress syntaxError */
		dir = CALYX_SELFTEST_DIR_DEFAULT;
	pjoin(runsh, dir, "run.sh");
	if (stat(runsh, &st) < 0 || !S_ISREG(st.st_mode)) {
		cx_err(&err, CX_E_IO, ENOENT,
		       "selftest: no corpus at '%s' (make install puts it there; in the build tree set CALYX_SELFTEST_DIR=tests/adversarial)",
		       dir);
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	r = corpus_trusted(dir, logp);
	if (r < 0) {
		cx_err(&err, CX_E_INSECURE_FILE, -r,
		       "selftest: the corpus's '%s' is not root's alone (owned by root, not group- or world-writable, no symlink): it runs as root",
		       logp);
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	if (only && (r = parse_only(only, dir, only_s, sizeof(pa->only_s))) != 0)
		return r;
	if (geteuid() != 0) {
		cx_err(&err, CX_E_USAGE, EPERM,
		       "selftest must run as root: the corpus makes fixture hosts, cgroups and run uids");
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	r = cx_config_load(cfgpath, cx_trusted_owner(), &cfg, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);

	/* the binaries under test: the ones beside this calyx-ctl */
	n = readlink("/proc/self/exe", self, PATH_MAX - 1);
	if (n <= 0) {
		cx_err(&err, CX_E_IO, errno, "selftest: cannot read /proc/self/exe");
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	self[n] = '\0';
	snprintf(bindir, PATH_MAX, "%.*s", (int)(strrchr(self, '/') - self), self);
	/* installed: the probes and workloads are in the corpus dir; in the
	 * build tree, beside the binaries (build/probes, build/workloads) */
	pjoin(probes, dir, "probes");
	if (!is_exec_file(probes, "hosttool"))
		pjoin(probes, bindir, "probes");
	pjoin(work, dir, "workloads");
	if (!is_exec_file(work, "sleeper"))
		pjoin(work, bindir, "workloads");
	members = host_members(&cfg, range, sizeof(range));

	if (!mkdtemp(tmp)) {
		cx_err(&err, CX_E_IO, errno, "selftest: cannot make a temp dir in /tmp");
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	pjoin(logp, tmp, "run.log");
	pjoin(rep, tmp, "adversarial.json");
	{
		_cleanup_free_ char *e_out = NULL, *e_pr = NULL, *e_wk = NULL, *e_mem = NULL, *e_rg = NULL,
				    *e_only = NULL;
		char *envp[12];
		size_t k = 0;
		if (asprintf(&e_out, "ADV_OUT=%s", rep) < 0 || asprintf(&e_pr, "ADV_PROBE_DIR=%s", probes) < 0 ||
		    asprintf(&e_wk, "ADV_WORKLOAD_DIR=%s", work) < 0 ||
		    asprintf(&e_mem, "ADV_HOST_MEMBERS=%s", members) < 0 ||
		    asprintf(&e_rg, "ADV_RUN_UID_RANGE=%s", range) < 0 ||
		    asprintf(&e_only, "ADV_ONLY=%s", only_s) < 0)
			abort();
		envp[k++] = (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		envp[k++] = (char *)"HOME=/root";
		envp[k++] = (char *)"LC_ALL=C";
		envp[k++] = (char *)"TMPDIR=/tmp";
		envp[k++] = e_out;
		envp[k++] = e_pr;
		envp[k++] = e_wk;
		envp[k++] = e_mem;
		if (range[0])
			envp[k++] = e_rg;
		if (only_s[0])
			envp[k++] = e_only;
		envp[k] = NULL;
		r = run_corpus(runsh, bindir, envp, logp, &status, &err);
	}
	if (r == 0 && stat(rep, &st) < 0) {
		log_tail(logp, tail, sizeof(tail));
		cx_err(&err, CX_E_INTERNAL, ENOENT, "selftest: the corpus runner stopped before its report (%s %d): %s",
		       WIFEXITED(status) ? "exit" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
		r = -ENOENT;
	}
	if (r == 0)
		r = parse_report(rep, &run, &err);
	rm_tmp(tmp);
	if (r < 0) {
		st_run_free(&run);
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	audit_case(&cfg, &run);

	if (outpath) {
		int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			cx_err(&err, CX_E_IO, errno, "selftest: cannot write '%s'", outpath);
			if (fd >= 0)
				close(fd);
			st_run_free(&run);
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
		}
	}
	if (fmt == FMT_JUNIT)
		render_junit(out, &run);
	else if (fmt == FMT_TAP)
		render_tap(out, &run);
	else
		render_text(out, &run, cfgpath, dir, bindir);
	code = 0;
	for (size_t i = 0; i < run.n; i++)
		if (run.c[i].v == V_FAIL)
			code = 1;
	if ((out != stdout && fclose(out) != 0) || (out == stdout && fflush(stdout) != 0)) {
		cx_err(&err, CX_E_IO, errno, "selftest: cannot write '%s'", outpath ? outpath : "stdout");
		code = cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	if (outpath && code != CX_EXIT_FAILURE) {
		size_t pass, fail, skip;
		counts(&run, &pass, &fail, &skip);
		fprintf(stderr, "calyx-ctl: selftest: %zu/%zu as expected, %zu skipped, %zu failed (report in %s)\n",
			pass, run.n - skip, skip, fail, outpath);
	}
	st_run_free(&run);
	return code;
}
