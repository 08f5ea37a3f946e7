/* calyx-rollout report: the rollout's page (rollout_report.h). The view
 * is read member by member with type and range checks (a missing or
 * wrong-typed member reads "unknown"); every string, the view's and the
 * ones composed here from it, is plain text handed to
 * executor/audit/report_out.h's writer, which escapes it. Markup written
 * here is literals and numbers only (cx_rout_raw, cx_rout_rawf).
 * Trust: pure; the view is untrusted. */
#include "rollout_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout_report_internal.h"

/* ---- the page's parts -------------------------------------------------------- */

typedef struct mode_info {
	const char *mode, *label, *cls;
	int kind; /* Markdown: CX_ROUT_OK / CX_ROUT_WARN / CX_ROUT_NORMAL */
} mode_info;

static const mode_info MODES[] = {
	{ "dry_run", "Dry run: nothing runs", "b-info", CX_ROUT_NORMAL },
	{ "awaiting_approval", "Awaiting approval", "b-wait", CX_ROUT_WARN },
	{ "running", "Authorized and running", "b-run", CX_ROUT_NORMAL },
	{ "paused", "Paused", "b-wait", CX_ROUT_WARN },
	{ "halted", "Halted", "b-bad", CX_ROUT_WARN },
	{ "rolled_back", "Rolled back", "b-bad", CX_ROUT_WARN },
	{ "completed", "Completed", "b-ok", CX_ROUT_OK },
};

static const char CSS[] =
	".banner{border-left:12px solid;border-radius:4px;padding:.7em 1.2em;margin:1em 0 1.5em}\n"
	".banner p{margin:.25em 0;color:#212121}\n"
	".banner p.mode{font-size:1.6em;font-weight:700}\n"
	".b-ok{background:#e8f5e9;border-color:#1b5e20}.b-ok p.mode{color:#1b5e20}\n"
	".b-bad{background:#ffebee;border-color:#b71c1c}.b-bad p.mode{color:#b71c1c}\n"
	".b-wait{background:#fff8e1;border-color:#e65100}.b-wait p.mode{color:#8a3a00}\n"
	".b-run{background:#e3f2fd;border-color:#0d47a1}.b-run p.mode{color:#0d47a1}\n"
	".b-info{background:#ede7f6;border-color:#4527a0}.b-info p.mode{color:#311b92}\n"
	".b-unk{background:#eeeeee;border-color:#424242}\n"
	"td.ok,th.ok{color:#1b5e20;font-weight:600}td.bad,th.bad{color:#b71c1c;background:#ffebee;font-weight:700}\n"
	"td.run,th.run{color:#0d47a1;font-weight:600}td.unk,th.unk{color:#595959}\n"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
	"td.ok,td.bad,td.run,td.unk,td.nw,td.num{white-space:nowrap}\n"
	"th[scope=row]{min-width:4.5em;max-width:16em;overflow-wrap:anywhere;word-break:normal}\n"
	"td.res{min-width:12em}td.aud{min-width:10em;overflow-wrap:anywhere}\n"
	"td.c-committed{border-bottom:5px solid #2e7d32}td.c-running{border-bottom:5px solid #1565c0}\n"
	"td.c-failed{border-bottom:5px solid #c62828}td.c-halted{border-bottom:5px solid #d84315}\n"
	"td.c-lost{border-bottom:5px solid #616161}td.c-rolled_back{border-bottom:5px solid #6a1b9a}\n"
	"td.c-waiting{border-bottom:5px solid #e0e0e0}\n"
	"svg.progress{display:block;max-width:100%;height:auto;margin:.3em 0 .2em}\n"
	"ul.whynot{padding-left:1.2em}ul.whynot li{margin:.45em 0}\n"
	"ol.steps{list-style:none;display:flex;flex-wrap:wrap;gap:.4em;padding:0;margin:.6em 0}\n"
	"ol.steps li{background:#f5f5f5;border:1px solid #bdbdbd;border-radius:4px;padding:.35em .7em;font-size:14px}\n"
	"ol.steps li b{display:block}\n"
	"p.meta{color:#424242;font-size:14px}\n"
	"svg.timeline{display:block;max-width:100%;height:auto;margin:.5em 0}\n"
	"code{font-size:13px}\n";

static void banner(page *p)
{
	const char *mode = rr_str(p->v, "mode"), *detail = rr_str_or(p->v, "mode_detail");
	const mode_info *mi = NULL;
	for (size_t i = 0; mode && i < CX_ARRAY_SIZE(MODES); i++)
		if (strcmp(mode, MODES[i].mode) == 0)
			mi = &MODES[i];
	_cleanup_free_ char *label = mi ? cx_strf("Mode: %s", mi->label)
					: cx_strf("Mode: unknown (%s)", mode ? mode : "not given");

	if (!p->html) {
		_cleanup_free_ char *line = cx_strf("%s. %s", label, detail);
		cx_rout_para(&p->o, mi ? mi->kind : CX_ROUT_WARN, line);
		return;
	}
	cx_rout_rawf(&p->o, "<section class=\"banner %s\" aria-label=\"mode\">\n<p class=\"mode\">",
		     mi ? mi->cls : "b-unk");
	cx_rout_text(&p->o, label);
	cx_rout_raw(&p->o, "</p>\n<p>");
	cx_rout_text(&p->o, detail);
	cx_rout_raw(&p->o, "</p>\n</section>\n");
}

/* HTML: the hosts as one bar, a segment per state (its count written in
 * the table below and in the bar's text alternative). */
static void progress(page *p, const json_t *c)
{
	static const char *const keys[] = { "committed", "running", "failed", "halted",
					     "lost", "rolled_back", "waiting" };
	long long n[CX_ARRAY_SIZE(keys)], total = 0;
	double x = 0;
	_cleanup_free_ char *alt = cx_strdup("Hosts by state:");

	if (!p->html)
		return;
	for (size_t i = 0; i < CX_ARRAY_SIZE(keys); i++) {
		if (!rr_num(c, keys[i], 0, CX_ROLLOUT_HOSTS_MAX * (long long)CX_ROLLOUT_TIERS_MAX, &n[i]))
			n[i] = 0;
		total += n[i];
		char *next = cx_strf("%s %lld %s%s", alt, n[i], keys[i], i + 1 < CX_ARRAY_SIZE(keys) ? "," : "");
		free(alt);
		alt = next;
	}
	if (!total)
		return;
	cx_rout_raw(&p->o, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"progress\" width=\"900\" height=\"22\" viewBox=\"0 0 900 22\" role=\"img\" aria-labelledby=\"prog\">\n<title id=\"prog\">");
	cx_rout_text(&p->o, alt);
	cx_rout_raw(&p->o, "</title>\n<rect x=\"0\" y=\"0\" width=\"900\" height=\"22\" fill=\"#eeeeee\"/>\n");
	for (size_t i = 0; i < CX_ARRAY_SIZE(keys); i++) {
		double w = 900.0 * (double)n[i] / (double)total;
		if (n[i] && strcmp(keys[i], "waiting") != 0)
			cx_rout_rawf(&p->o, "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"22\" fill=\"%s\" stroke=\"#ffffff\"/>\n",
				     x, w, rr_bar_colour(keys[i]));
		x += w;
	}
	cx_rout_raw(&p->o, "</svg>\n");
}

static void counts(page *p)
{
	static const char *const keys[] = { "hosts", "committed", "running", "waiting",
					     "failed", "halted", "lost", "rolled_back" };
	static const char *const hdr[] = { "hosts", "committed", "running", "waiting",
					   "failed", "halted", "lost", "rolled back" };
	const json_t *c = rr_member(p->v, "counts");
	char buf[CX_ARRAY_SIZE(keys)][24];
	const char *cells[CX_ARRAY_SIZE(keys)];
	/* each state's colour in the bar above, under its count */
	static const char *const cls[] = { "num", "num c-committed", "num c-running", "num c-waiting",
					   "num c-failed", "num c-halted", "num c-lost", "num c-rolled_back" };

	for (size_t i = 0; i < CX_ARRAY_SIZE(keys); i++) {
		cells[i] = rr_num_s(c, keys[i], 0, 1LL << 40, buf[i]);
	}
	cx_rout_heading(&p->o, 2, "Hosts");
	progress(p, c);
	cx_rout_table_begin(&p->o, hdr, CX_ARRAY_SIZE(hdr));
	cx_rout_table_row_ex(&p->o, cells, cls, CX_ARRAY_SIZE(keys), false);
	cx_rout_table_end(&p->o);
}

/* One "why not shipped" line: a run of hosts of one tier with the same
 * state and reason. */
static void whynot_line(page *p, const json_t *t, size_t ti, size_t from, size_t to)
{
	const json_t *h = rr_host_at(t, from);
	const char *state = rr_str(h, "state"), *why = rr_str(h, "why_not"), *reason = rr_str(h, "reason");
	long long tn;
	_cleanup_free_ char *names = cx_strdup(""), *tier = rr_num(t, "n", 1, CX_ROLLOUT_TIERS_MAX, &tn)
									  ? cx_strf("tier %lld", tn)
									  : cx_strf("tier #%zu", ti + 1);
	size_t shown = 0;

	for (size_t i = from; i < to && shown < GROUP_NAMES_MAX; i++, shown++) {
		char *next = cx_strf("%s%s%s", names, shown ? ", " : "", rr_str_or(rr_host_at(t, i), "host"));
		free(names);
		names = next;
	}
	_cleanup_free_ char *more = to - from > shown ? cx_strf(" and %zu more", to - from - shown) : cx_strdup("");
	_cleanup_free_ char *count = to - from > 1 ? cx_strf(", %zu hosts", to - from) : cx_strdup("");
	_cleanup_free_ char *what = cx_strf(" (%s%s, %s%s%s): ", tier, count, state ? state : "state unknown",
					 reason && strcmp(reason, "OK") != 0 ? ", " : "",
					 reason && strcmp(reason, "OK") != 0 ? reason : "");
	_cleanup_free_ char *text = why ? cx_strdup(why) : cx_strf("%s (the view gives no reason)", rr_state_why(state));

	cx_rout_raw(&p->o, p->html ? "<li><strong>" : "- **");
	cx_rout_text(&p->o, names);
	cx_rout_text(&p->o, more);
	cx_rout_raw(&p->o, p->html ? "</strong>" : "**");
	cx_rout_text(&p->o, what);
	cx_rout_text(&p->o, text);
	cx_rout_raw(&p->o, p->html ? "</li>\n" : "\n");
}

static bool same_str(const json_t *a, const json_t *b, const char *k)
{
	const char *x = rr_str(a, k), *y = rr_str(b, k);
	return x && y ? strcmp(x, y) == 0 : x == y;
}

static void whynot(page *p)
{
	size_t nt = rr_arr_n(rr_member(p->v, "tiers"), CX_ROLLOUT_TIERS_MAX), lines = 0;

	cx_rout_heading(&p->o, 2, "Why not shipped");
	for (size_t ti = 0; ti < nt; ti++) {
		const json_t *t = rr_tier_at(p, ti);
		size_t nh = rr_arr_n(rr_member(t, "hosts"), CX_ROLLOUT_HOSTS_MAX);
		for (size_t i = 0; i < nh;) {
			const json_t *h = rr_host_at(t, i);
			const char *s = rr_str(h, "state");
			if (s && strcmp(s, "committed") == 0) {
				i++;
				continue;
			}
			size_t j = i + 1;
			while (j < nh && !h == !rr_host_at(t, j) && same_str(h, rr_host_at(t, j), "state") &&
			       same_str(h, rr_host_at(t, j), "why_not") && same_str(h, rr_host_at(t, j), "reason"))
				j++;
			if (!lines++)
				cx_rout_raw(&p->o, p->html ? "<ul class=\"whynot\">\n" : "");
			whynot_line(p, t, ti, i, j);
			i = j;
		}
	}
	if (lines)
		cx_rout_raw(&p->o, p->html ? "</ul>\n" : "\n");
	else
		cx_rout_para(&p->o, CX_ROUT_OK, "Every host of the view is committed.");
}

static void signers(page *p, const char *title, const char *k)
{
	static const char *const hdr[] = { "role", "principal", "key id" };
	const json_t *a = rr_member(p->v, k);
	size_t n = rr_arr_n(a, 16);

	cx_rout_heading(&p->o, 3, title);
	if (!n) {
		cx_rout_para(&p->o, CX_ROUT_WARN, json_is_array(a) ? "none" : "unknown (not in the view)");
		return;
	}
	cx_rout_table_begin(&p->o, hdr, 3);
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(a, i);
		const char *c[] = { rr_str_or(s, "role"), rr_str_or(s, "principal"), rr_str_or(s, "keyid") };
		cx_rout_table_row(&p->o, c, 3);
	}
	cx_rout_table_end(&p->o);
}

static void overview(page *p)
{
	const json_t *v = p->v, *w = rr_member(v, "window");
	char b1[32], b2[32], b3[32];

	cx_rout_heading(&p->o, 2, "The rollout");
	cx_rout_kv_begin(&p->o);
	cx_rout_kv(&p->o, "rollout id", rr_str_or(v, "rollout_id"));
	cx_rout_kv(&p->o, "pool", rr_str_or(v, "pool"));
	cx_rout_kv(&p->o, "state", rr_str_or(v, "state"));
	cx_rout_kv_own(&p->o, "command (argv)", rr_argv_s(rr_member(v, "command")));
	cx_rout_kv(&p->o, "published (plan)", rr_at_s(v, "started_at", b1, "not yet"));
	cx_rout_kv_own(&p->o, "window (UTC)",
		       cx_strf("%s to %s", rr_at_s(w, "not_before", b2, UNKNOWN), rr_at_s(w, "not_after", b3, UNKNOWN)));
	cx_rout_kv(&p->o, "on failure", rr_str_or(v, "on_failure"));
	cx_rout_kv(&p->o, "on deadline", rr_str_or(v, "on_deadline"));
	cx_rout_kv(&p->o, "lease id", rr_str_or(v, "lease_id"));
	cx_rout_kv(&p->o, "lease sha256", rr_str_or(v, "lease_sha256"));
	cx_rout_kv_own(&p->o, "view read at (UTC)",
		       cx_strf("%s, etcd revision %s", rr_at_s(v, "read_at", b1, UNKNOWN),
			    rr_num_s(v, "revision", 0, 1LL << 62, b2)));
	cx_rout_table_end(&p->o);
	signers(p, "Rollout signed by", "signers");
	signers(p, "Lease signed by", "lease_signers");
}

static void controls(page *p)
{
	static const char *const hdr[] = { "seq", "when (UTC)", "action", "tier", "by", "role", "key id" };
	const json_t *a = rr_member(p->v, "controls");
	size_t n = rr_arr_n(a, CX_RREPORT_CONTROLS_MAX);
	char b[3][32];

	cx_rout_heading(&p->o, 2, "Control history");
	if (!n) {
		cx_rout_para(&p->o, CX_ROUT_NORMAL,
			     json_is_array(a) ? "No control documents: nobody approved, paused, halted or rolled back."
					      : "Control history: unknown (not in the view).");
		return;
	}
	cx_rout_table_begin(&p->o, hdr, CX_ARRAY_SIZE(hdr));
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(a, i);
		const json_t *tier = rr_member(c, "tier");
		const char *cells[] = {
			rr_num_s(c, "seq", 0, CX_CONTROL_SEQ_MAX, b[0]),
			rr_at_s(c, "at", b[1], UNKNOWN), rr_str_or(c, "action"),
			tier && !json_is_null(tier) ? rr_num_s(c, "tier", 1, CX_ROLLOUT_TIERS_MAX, b[2]) : "-",
			rr_str_or(c, "by"), rr_str_or(c, "role"), rr_str_or(c, "keyid"),
		};
		cx_rout_table_row(&p->o, cells, CX_ARRAY_SIZE(cells));
	}
	cx_rout_table_end(&p->o);
	if (json_array_size(a) > n)
		cx_rout_para(&p->o, CX_ROUT_WARN, "More control documents than shown.");
}

static void render(page *p)
{
	size_t nt = rr_arr_n(rr_member(p->v, "tiers"), CX_ROLLOUT_TIERS_MAX);
	_cleanup_free_ char *title = cx_strf("calyx rollout %s (pool %s)", rr_str_or(p->v, "rollout_id"), rr_str_or(p->v, "pool"));

	cx_rout_begin_styled(&p->o, title, CSS);
	banner(p);
	counts(p);
	whynot(p);
	overview(p);
	for (size_t i = 0; i < nt; i++)
		rr_tier(p, i);
	if (!nt)
		cx_rout_para(&p->o, CX_ROUT_WARN, "Tiers: unknown (none in the view).");
	controls(p);
	cx_rout_end(&p->o);
}

int cx_rollout_report_render(const json_t *view, const char *format, char **ret, cx_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	page p = { .v = view };

	if (format && strcmp(format, "html") == 0)
		p.o.fmt = CX_REPORT_HTML;
	else if (format && strcmp(format, "md") == 0)
		p.o.fmt = CX_REPORT_MD;
	else
		return cx_err(err, CX_E_USAGE, EINVAL, "unknown report format '%s' (use md or html)",
			      format ? format : "");
	p.html = p.o.fmt == CX_REPORT_HTML;
	p.o.out = open_memstream(&buf, &len);
	if (!p.o.out)
		return cx_err(err, CX_E_INTERNAL, ENOMEM, "rollout report: out of memory");
	render(&p);
	if (fclose(p.o.out) != 0 || !buf)
		return cx_err(err, CX_E_INTERNAL, ENOMEM, "rollout report: out of memory");
	*ret = TAKE_PTR(buf);
	return 0;
}
