/* CLI helpers: uniform refusal lines, version, lease in words. */
#include "cli.h"

#include <jansson.h>
#include <bpf/libbpf.h>
#include <seccomp.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

const char *cx_prog = "calyx";

int cx_cli_fail(const cx_error *err, int code)
{
	if (code < 0)
		code = cx_reason_is_refusal(err->reason) ? CX_EXIT_REFUSED : CX_EXIT_FAILURE;
	fprintf(stderr, "%s: %s [%s]: %s\n", cx_prog,
		code == CX_EXIT_REFUSED ? "lease refused" : "error", cx_reason_name(err->reason),
		err->msg);
	return code;
}

int cx_cli_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cx_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", cx_prog);
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

static void print_argv(FILE *out, const cx_strv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		fputs(i ? " " : "", out);
		json_t *s = json_string(v->v[i]);
		char *q = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		fputs(q ? q : "?", out);
		free(q);
		json_decref(s);
	}
	fputc('\n', out);
}

void cx_cli_print_lease(FILE *out, const cx_lease *l, bool verified)
{
	const cx_run_spec *s = &l->spec;

	fprintf(out, "lease %s (run '%s'", l->lease_id, l->run_id);
	if (l->intent_id)
		fprintf(out, ", intent '%s'", l->intent_id);
	fprintf(out, ")\n");
	if (l->purpose)
		fprintf(out, "  purpose      %s\n", l->purpose);
	fprintf(out, "  runs         ");
	print_argv(out, &s->argv);
	fprintf(out, "               directly with execve, no shell, in cwd %s\n", s->cwd);
	if (s->validate_argv.n) {
		fprintf(out, "  validates    ");
		print_argv(out, &s->validate_argv);
	}
	fprintf(out, "  workspace    %s\n", s->workspace ? s->workspace : "(none)");
	if (s->workspace)
		fprintf(out, "               seen as /work, read-write\n");
	for (size_t i = 0; i < s->ro.n; i++)
		fprintf(out, "  reads        %s\n", s->ro.v[i]);
	for (size_t i = 0; i < s->rw.n; i++)
		fprintf(out, "  writes       %s\n", s->rw.v[i]);
	fprintf(out, "  network      %s\n", cx_network_name(s->network));
	for (size_t i = 0; i < s->env.n; i++)
		fprintf(out, "  env          %s=%s\n", s->env.name[i], s->env.value[i]);
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
	fprintf(out, "  audience     %s\n", l->audience ? l->audience : "(any host)");
	fprintf(out, "  policy       sha256:%s\n", l->policy_sha256);
	for (size_t i = 0; i < l->nsigner; i++)
		fprintf(out, "  signed by    %s key '%s' (%.16s…)%s\n", cx_role_name(l->signer[i].role),
			l->signer[i].principal ? l->signer[i].principal : "?", l->signer[i].keyid,
			verified ? ", signature verified" : "");
}
