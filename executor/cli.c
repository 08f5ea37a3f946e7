/* CLI helpers: uniform refusal lines, version, lease in words. Every
 * string from a lease, a policy, a log or the command line is written
 * through calyx/esc.h's rule (the line's literal parts are plain), so no
 * field can move the cursor, rewrite a line or reorder text. */
#include "cli.h"

#include <jansson.h>
#include <bpf/libbpf.h>
#include <seccomp.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "calyx/esc.h"

const char *cx_prog = "calyx";
const char *cx_cli_refused = "lease refused";

int cx_cli_fail(const cx_error *err, int code)
{
	if (code < 0)
		code = cx_reason_is_refusal(err->reason) ? CX_EXIT_REFUSED : CX_EXIT_FAILURE;
	cx_esc_line(stderr, "%s: %s [%s]: %s", cx_prog,
		    code == CX_EXIT_REFUSED ? cx_cli_refused : "error", cx_reason_name(err->reason),
		    err->msg);
	return code;
}

int cx_cli_usage(const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	CX_CHECK(vasprintf(&msg, fmt, ap) >= 0);
	va_end(ap);
	cx_esc_line(stderr, "%s: %s (see '%s --help')", cx_prog, msg, cx_prog);
	return 2;
}

void cx_cli_version(void)
{
	const struct scmp_version *sv = seccomp_version();
	printf("%s %s\n", cx_prog, CX_VERSION);
	printf("libsodium %s, jansson %s, libseccomp %u.%u.%u, libbpf %s\n",
	       sodium_version_string(), jansson_version_str(), sv->major, sv->minor, sv->micro,
	       libbpf_version_string());
}

int cx_cli_dispatch(int argc, char **argv, const char *usage, const cx_cli_cmd *cmds)
{
	if (argc < 2)
		return cx_cli_usage("missing command");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		cx_cli_version();
		return 0;
	}
	for (; cmds->name; cmds++)
		if (strcmp(argv[1], cmds->name) == 0)
			return cmds->fn(argc - 1, argv + 1);
	return cx_cli_usage("unknown command '%s'", argv[1]);
}

static void print_time(FILE *out, const char *label, int64_t t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "  %-12s %s (%lld)\n", label, buf, (long long)t);
}

/* Each argument quoted, so none can pass for two or hide in another. */
static void print_argv(FILE *out, const cx_strv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		fputs(i ? " " : "", out);
		cx_esc_fputs_quoted(v->v[i], out);
	}
	fputc('\n', out);
}

void cx_cli_print_lease(FILE *out, const cx_lease *l, bool verified)
{
	const cx_run_spec *s = &l->spec;

	cx_esc_printf(out, "lease %s (run '%s'", l->lease_id, l->run_id);
	if (l->intent_id)
		cx_esc_printf(out, ", intent '%s'", l->intent_id);
	fprintf(out, ")\n");
	if (l->purpose)
		cx_esc_line(out, "  purpose      %s", l->purpose);
	fprintf(out, "  runs         ");
	print_argv(out, &s->argv);
	cx_esc_line(out, "               directly with execve, no shell, in cwd %s", s->cwd);
	for (size_t i = 0; i < s->exec.n; i++)
		cx_esc_line(out, "  may execute  %s", s->exec.v[i]);
	if (s->exec.n) /* the legend on its own line: no entry reads as a directory */
		fprintf(out, "               (besides the command; an entry that is a directory: every file beneath it)\n");
	if (s->validate_argv.n) {
		fprintf(out, "  validates    ");
		print_argv(out, &s->validate_argv);
	}
	cx_esc_line(out, "  workspace    %s", s->workspace ? s->workspace : "(none)");
	if (s->workspace)
		fprintf(out, "               seen as /work, read-write\n");
	for (size_t i = 0; i < s->ro.n; i++)
		cx_esc_line(out, "  reads        %s", s->ro.v[i]);
	for (size_t i = 0; i < s->rw.n; i++)
		cx_esc_line(out, "  writes       %s", s->rw.v[i]);
	fprintf(out, "  network      %s\n", cx_network_name(s->network));
	for (size_t i = 0; i < s->env.n; i++)
		cx_esc_line(out, "  env          %s=%s", s->env.name[i], s->env.value[i]);
	fprintf(out, "  limits      ");
	for (int i = 0; i < CX_LIM__COUNT; i++)
		if (s->limits.set & (1u << i))
			fprintf(out, " %s=%llu", cx_limit_name(i), (unsigned long long)s->limits.v[i]);
	if (!s->limits.set)
		fprintf(out, " (policy defaults)");
	fputc('\n', out);
	print_time(out, "issued", l->issued_at);
	print_time(out, "valid from", l->not_before);
	print_time(out, "valid until", l->not_after);
	cx_esc_line(out, "  audience     %s", l->audience ? l->audience : "(any host)");
	if (cx_lease_pool(l))
		cx_esc_line(out, "  count        %lld host(s) of pool '%s', the first to claim it in the pool's ledger",
			    (long long)l->count, cx_lease_pool(l));
	fprintf(out, "  policy       sha256:%s\n", l->policy_sha256);
	for (size_t i = 0; i < l->nsigner; i++)
		cx_esc_line(out, "  signed by    %s key '%s' (%.16s…)%s", cx_role_name(l->signer[i].role),
			    l->signer[i].principal ? l->signer[i].principal : "?", l->signer[i].keyid,
			    verified ? ", signature verified" : "");
}
