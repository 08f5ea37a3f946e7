/* calyx-rollout report: the rollout's page (rollout_report.h). The view
 * is read member by member with type and range checks (a missing or
 * wrong-typed member reads "unknown"); every string, the view's and the
 * ones composed here from it, is plain text handed to
 * executor/audit/report_out.h's writer, which escapes it. Markup written
 * here is literals and numbers only (cx_rout_raw, cx_rout_rawf).
 * Trust: pure; the view is untrusted. */
#include "rollout_report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/report_out.h"
#include "calyx/lease.h"
#include "calyx/rollout.h"

#define UNKNOWN "unknown"
#define SVG_ROWS_MAX 60    /* hosts drawn in one tier's timeline */
#define GROUP_NAMES_MAX 12 /* host names listed in one "why not" line */
#define ARGV_MAX 64        /* arguments of the command shown */

typedef struct page {
	cx_rout o;
	bool html;
	const json_t *v;
} page;

/* ---- the view's members, checked ---------------------------------------- */

static const json_t *member(const json_t *o, const char *k)
{
	return json_is_object(o) ? json_object_get(o, k) : NULL;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(member(o, k));
}

static const char *str_or(const json_t *o, const char *k)
{
	const char *s = str(o, k);
	return s ? s : UNKNOWN;
}

static bool num(const json_t *o, const char *k, long long lo, long long hi, long long *ret)
{
	const json_t *v = member(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*ret = (long long)json_integer_value(v);
	return true;
}

static bool when(const json_t *o, const char *k, long long *ret)
{
	return num(o, k, 0, CX_LEASE_TIME_MAX, ret);
}

/* 1 true, 0 false, -1 unknown (null, missing, not a boolean). */
static int tri(const json_t *o, const char *k)
{
	const json_t *v = member(o, k);
	return json_is_true(v) ? 1 : json_is_false(v) ? 0 : -1;
}

static size_t arr_n(const json_t *a, size_t max)
{
	size_t n = json_is_array(a) ? json_array_size(a) : 0;
	return n < max ? n : max;
}

/* ---- plain strings ------------------------------------------------------- */

static char *sfmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *sfmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	CX_CHECK(n >= 0);
	return s;
}

static void date_s(long long t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, 32, "%lld", t);
}

/* The time of member k as "YYYY-MM-DD HH:MM:SS", or "unknown"/"-". */
static const char *at_s(const json_t *o, const char *k, char buf[32], const char *none)
{
	long long t;
	if (!when(o, k, &t))
		return member(o, k) && !json_is_null(member(o, k)) ? UNKNOWN : none;
	date_s(t, buf);
	return buf;
}

static void dur_s(long long s, char buf[32])
{
	if (s < 0)
		snprintf(buf, 32, UNKNOWN);
	else if (s < 60)
		snprintf(buf, 32, "%lld s", s);
	else if (s < 3600)
		snprintf(buf, 32, "%lld min %02lld s", s / 60, s % 60);
	else
		snprintf(buf, 32, "%lld h %02lld min", s / 3600, s % 3600 / 60);
}

/* Duration between members a and b of o, or "-" when either is unknown. */
static const char *span_s(const json_t *o, const char *a, const char *b, char buf[32])
{
	long long x, y;
	if (!when(o, a, &x) || !when(o, b, &y) || y < x)
		return "-";
	dur_s(y - x, buf);
	return buf;
}

/* s cut to at most max bytes on a UTF-8 boundary, "…" marking the cut. */
static char *clip(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return cx_strdup(s);
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return sfmt("%.*s…", (int)max, s);
}

/* argv as JSON strings separated by spaces (no argument can pass for two). */
static char *argv_s(const json_t *a)
{
	size_t n = arr_n(a, ARGV_MAX);
	char *acc = cx_strdup(""), *next;

	if (!n)
		return cx_strdup(json_is_array(a) ? "(none)" : UNKNOWN);
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(a, i);
		char *q = json_is_string(x) ? json_dumps(x, JSON_ENCODE_ANY) : cx_strdup(UNKNOWN);
		CX_CHECK(q);
		next = sfmt("%s%s%s", acc, i ? " " : "", q);
		free(q);
		free(acc);
		acc = next;
	}
	if (json_array_size(a) > n) {
		next = sfmt("%s … (%zu arguments)", acc, json_array_size(a));
		free(acc);
		acc = next;
	}
	return acc;
}

/* ---- states --------------------------------------------------------------- */

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

/* A host state's table class and the symbol beside its name (so the
 * state never rests on colour alone). */
static const char *state_cls(const char *s)
{
	if (!s)
		return "unk";
	if (!strcmp(s, "committed"))
		return "ok";
	if (!strcmp(s, "failed") || !strcmp(s, "halted") || !strcmp(s, "lost") || !strcmp(s, "rolled_back"))
		return "bad";
	if (!strcmp(s, "running") || !strcmp(s, "claimed"))
		return "run";
	return "unk";
}

static const char *state_sym(const char *s)
{
	const char *c = state_cls(s);
	return !strcmp(c, "ok") ? "✓" : !strcmp(c, "bad") ? "✗" : !strcmp(c, "run") ? "▶" : "…";
}

/* What a host's state means, when the view gives no why_not. */
static const char *state_why(const char *s)
{
	static const char *const w[][2] = {
		{ "waiting", "not started: its tier has not opened yet" },
		{ "claimed", "in progress: claimed, not finished yet" },
		{ "running", "in progress: running, not finished yet" },
		{ "failed", "the run failed: read its result above and its audit report on the host" },
		{ "halted", "halted before it finished: the rollout or the host halted the run" },
		{ "lost", "the host stopped answering (liveness expired): check its calyx-agent" },
		{ "rolled_back", "its change was rolled back" },
	};
	for (size_t i = 0; s && i < CX_ARRAY_SIZE(w); i++)
		if (!strcmp(s, w[i][0]))
			return w[i][1];
	return "its state is unknown";
}

/* ---- page parts ------------------------------------------------------------ */

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
	"th[scope=row],td.ok,td.bad,td.run,td.unk,td.nw{white-space:nowrap}\n"
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
	const char *mode = str(p->v, "mode"), *detail = str_or(p->v, "mode_detail");
	const mode_info *mi = NULL;
	for (size_t i = 0; mode && i < CX_ARRAY_SIZE(MODES); i++)
		if (!strcmp(mode, MODES[i].mode))
			mi = &MODES[i];
	_cleanup_free_ char *label = mi ? sfmt("Mode: %s", mi->label)
					: sfmt("Mode: unknown (%s)", mode ? mode : "not given");

	if (!p->html) {
		_cleanup_free_ char *line = sfmt("%s. %s", label, detail);
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

static const char *bar_colour(const char *state)
{
	static const char *const c[][2] = {
		{ "committed", "#2e7d32" }, { "failed", "#c62828" }, { "halted", "#d84315" },
		{ "rolled_back", "#6a1b9a" }, { "lost", "#616161" }, { "running", "#1565c0" },
		{ "claimed", "#1565c0" },
	};
	for (size_t i = 0; state && i < CX_ARRAY_SIZE(c); i++)
		if (!strcmp(state, c[i][0]))
			return c[i][1];
	return "#757575";
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
		if (!num(c, keys[i], 0, CX_ROLLOUT_HOSTS_MAX * (long long)CX_ROLLOUT_TIERS_MAX, &n[i]))
			n[i] = 0;
		total += n[i];
		char *next = sfmt("%s %lld %s%s", alt, n[i], keys[i], i + 1 < CX_ARRAY_SIZE(keys) ? "," : "");
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
		if (n[i] && strcmp(keys[i], "waiting"))
			cx_rout_rawf(&p->o, "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"22\" fill=\"%s\" stroke=\"#ffffff\"/>\n",
				     x, w, bar_colour(keys[i]));
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
	const json_t *c = member(p->v, "counts");
	char buf[CX_ARRAY_SIZE(keys)][24];
	const char *cells[CX_ARRAY_SIZE(keys)], *cls[CX_ARRAY_SIZE(keys)];

	for (size_t i = 0; i < CX_ARRAY_SIZE(keys); i++) {
		long long n;
		cells[i] = num(c, keys[i], 0, 1LL << 40, &n) ? (snprintf(buf[i], 24, "%lld", n), buf[i]) : UNKNOWN;
		cls[i] = "num";
	}
	cx_rout_heading(&p->o, 2, "Hosts");
	progress(p, c);
	cx_rout_table_begin(&p->o, hdr, CX_ARRAY_SIZE(hdr));
	cx_rout_table_row_ex(&p->o, cells, cls, CX_ARRAY_SIZE(keys), false);
	cx_rout_table_end(&p->o);
}

/* Tier and host of the view, bounded; NULL when not an object. */
static const json_t *tier_at(const page *p, size_t i)
{
	const json_t *t = json_array_get(member(p->v, "tiers"), i);
	return json_is_object(t) ? t : NULL;
}

static const json_t *host_at(const json_t *tier, size_t i)
{
	const json_t *h = json_array_get(member(tier, "hosts"), i);
	return json_is_object(h) ? h : NULL;
}

static char *tier_title(const json_t *t, size_t i)
{
	long long n, pct;
	_cleanup_free_ char *ns = num(t, "n", 1, CX_ROLLOUT_TIERS_MAX, &n) ? sfmt("%lld", n) : sfmt("#%zu", i + 1);
	_cleanup_free_ char *ps = num(t, "percent", 0, 100, &pct) ? sfmt("%lld %%", pct) : cx_strdup("unknown %");
	return sfmt("Tier %s: %s (%s of the pool, %s)", ns, str_or(t, "name"), ps, str_or(t, "status"));
}

/* One "why not shipped" line: a run of hosts of one tier with the same
 * state and reason. */
static void whynot_line(page *p, const json_t *t, size_t ti, size_t from, size_t to)
{
	const json_t *h = host_at(t, from);
	const char *state = str(h, "state"), *why = str(h, "why_not"), *reason = str(h, "reason");
	long long tn;
	_cleanup_free_ char *names = cx_strdup(""), *tier = num(t, "n", 1, CX_ROLLOUT_TIERS_MAX, &tn)
									  ? sfmt("tier %lld", tn)
									  : sfmt("tier #%zu", ti + 1);
	size_t shown = 0;

	for (size_t i = from; i < to && shown < GROUP_NAMES_MAX; i++, shown++) {
		char *next = sfmt("%s%s%s", names, shown ? ", " : "", str_or(host_at(t, i), "host"));
		free(names);
		names = next;
	}
	_cleanup_free_ char *more = to - from > shown ? sfmt(" and %zu more", to - from - shown) : cx_strdup("");
	_cleanup_free_ char *count = to - from > 1 ? sfmt(", %zu hosts", to - from) : cx_strdup("");
	_cleanup_free_ char *what = sfmt(" (%s%s, %s%s%s): ", tier, count, state ? state : "state unknown",
					 reason && strcmp(reason, "OK") ? ", " : "",
					 reason && strcmp(reason, "OK") ? reason : "");
	_cleanup_free_ char *text = why ? cx_strdup(why) : sfmt("%s (the view gives no reason)", state_why(state));

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
	const char *x = str(a, k), *y = str(b, k);
	return x && y ? !strcmp(x, y) : x == y;
}

static void whynot(page *p)
{
	size_t nt = arr_n(member(p->v, "tiers"), CX_ROLLOUT_TIERS_MAX), lines = 0;

	cx_rout_heading(&p->o, 2, "Why not shipped");
	for (size_t ti = 0; ti < nt; ti++) {
		const json_t *t = tier_at(p, ti);
		size_t nh = arr_n(member(t, "hosts"), CX_ROLLOUT_HOSTS_MAX);
		for (size_t i = 0; i < nh;) {
			const json_t *h = host_at(t, i);
			const char *s = str(h, "state");
			if (s && !strcmp(s, "committed")) {
				i++;
				continue;
			}
			size_t j = i + 1;
			while (j < nh && !h == !host_at(t, j) && same_str(h, host_at(t, j), "state") &&
			       same_str(h, host_at(t, j), "why_not") && same_str(h, host_at(t, j), "reason"))
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
	const json_t *a = member(p->v, k);
	size_t n = arr_n(a, 16);

	cx_rout_heading(&p->o, 3, title);
	if (!n) {
		cx_rout_para(&p->o, CX_ROUT_WARN, json_is_array(a) ? "none" : "unknown (not in the view)");
		return;
	}
	cx_rout_table_begin(&p->o, hdr, 3);
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(a, i);
		const char *c[] = { str_or(s, "role"), str_or(s, "principal"), str_or(s, "keyid") };
		cx_rout_table_row(&p->o, c, 3);
	}
	cx_rout_table_end(&p->o);
}

static void overview(page *p)
{
	const json_t *v = p->v, *w = member(v, "window");
	char b1[32], b2[32], b3[32];
	long long rev;

	cx_rout_heading(&p->o, 2, "The rollout");
	cx_rout_kv_begin(&p->o);
	cx_rout_kv(&p->o, "rollout id", str_or(v, "rollout_id"));
	cx_rout_kv(&p->o, "pool", str_or(v, "pool"));
	cx_rout_kv(&p->o, "state", str_or(v, "state"));
	cx_rout_kv_own(&p->o, "command (argv)", argv_s(member(v, "command")));
	cx_rout_kv(&p->o, "published (plan)", at_s(v, "started_at", b1, "not yet"));
	cx_rout_kv_own(&p->o, "window (UTC)",
		       sfmt("%s to %s", at_s(w, "not_before", b2, UNKNOWN), at_s(w, "not_after", b3, UNKNOWN)));
	cx_rout_kv(&p->o, "on failure", str_or(v, "on_failure"));
	cx_rout_kv(&p->o, "on deadline", str_or(v, "on_deadline"));
	cx_rout_kv(&p->o, "lease id", str_or(v, "lease_id"));
	cx_rout_kv(&p->o, "lease sha256", str_or(v, "lease_sha256"));
	cx_rout_kv_own(&p->o, "view read at (UTC)",
		       sfmt("%s, etcd revision %s", at_s(v, "read_at", b1, UNKNOWN),
			    num(v, "revision", 0, 1LL << 62, &rev) ? (snprintf(b2, 32, "%lld", rev), b2) : UNKNOWN));
	cx_rout_table_end(&p->o);
	signers(p, "Rollout signed by", "signers");
	signers(p, "Lease signed by", "lease_signers");
}

/* ---- one tier ---------------------------------------------------------------- */

/* The tier's authorization: the approval (manual gate) or its opening. */
static bool authorized_at(const json_t *t, long long *ret)
{
	const char *gate = str(t, "gate");
	if (gate && !strcmp(gate, "manual"))
		return tri(t, "approved") == 1 && when(t, "approved_at", ret);
	return when(t, "opened_at", ret);
}

static void steps(page *p, const json_t *t, size_t nh)
{
	long long plan = -1, auth = -1, first = -1, last = -1, x;
	size_t audited = 0, finished = 0;
	char b[4][32], d[3][32];
	const char *gate = str(t, "gate");
	bool manual = gate && !strcmp(gate, "manual");

	if (!when(p->v, "started_at", &plan))
		plan = -1;
	if (!authorized_at(t, &auth))
		auth = -1;
	for (size_t i = 0; i < nh; i++) {
		const json_t *h = host_at(t, i);
		if (when(h, "claimed_at", &x) && (first < 0 || x < first))
			first = x;
		if (when(h, "finished_at", &x)) {
			finished++;
			last = x > last ? x : last;
		}
		audited += json_is_object(member(h, "audit"));
	}
	if (plan >= 0)
		date_s(plan, b[0]);
	if (auth >= 0)
		date_s(auth, b[1]);
	if (first >= 0)
		date_s(first, b[2]);
	if (last >= 0)
		date_s(last, b[3]);
	dur_s(plan >= 0 && auth >= plan ? auth - plan : -1, d[0]);
	dur_s(first >= 0 && last >= first ? last - first : -1, d[1]);
	_cleanup_free_ char *s1 = sfmt("published %s", plan >= 0 ? b[0] : UNKNOWN);
	_cleanup_free_ char *s2 = auth < 0 ? cx_strdup(manual ? "not approved yet" : "not opened yet")
		: manual ? sfmt("approved by %s at %s (%s after publishing)", str_or(t, "approved_by"), b[1], d[0])
			 : sfmt("opened automatically at %s (%s after publishing)", b[1], d[0]);
	_cleanup_free_ char *s3 = first < 0 ? cx_strdup("no host claimed yet")
		: sfmt("first claim %s, last finish %s (%s); %zu of %zu hosts finished", b[2],
		       last >= 0 ? b[3] : "-", d[1], finished, nh);
	_cleanup_free_ char *s4 = sfmt("%zu of %zu hosts' audit chains recorded", audited, nh);
	const char *const name[] = { "plan", "authorize", "execute", "audit" }, *val[] = { s1, s2, s3, s4 };

	cx_rout_raw(&p->o, p->html ? "<ol class=\"steps\" aria-label=\"phases\">\n" : "");
	for (size_t i = 0; i < 4; i++) {
		cx_rout_raw(&p->o, p->html ? "<li><b>" : "- **");
		cx_rout_rawf(&p->o, "%zu. ", i + 1);
		cx_rout_text(&p->o, name[i]);
		cx_rout_raw(&p->o, p->html ? "</b>" : ":** ");
		cx_rout_text(&p->o, val[i]);
		cx_rout_raw(&p->o, p->html ? "</li>\n" : "\n");
	}
	cx_rout_raw(&p->o, p->html ? "</ol>\n" : "\n");
}

/* HTML: the tier's hosts on one time axis: waiting for a slot (thin
 * line), claimed and preparing (pale bar), running (solid bar, coloured
 * by outcome, the state written beside it), a diamond where its audit
 * chain was recorded; a dashed line at the authorization. */
static void timeline(page *p, const json_t *t, size_t nh, size_t ti)
{
	const int lx = 170, w = 560, rh = 26, top = 34;
	long long lo = -1, hi = -1, auth = -1, x, now = -1;
	size_t rows = nh < SVG_ROWS_MAX ? nh : SVG_ROWS_MAX;
	char b1[32], b2[32], d[32];

	if (!authorized_at(t, &auth))
		auth = -1;
	if (!when(p->v, "read_at", &now))
		now = -1;
	static const char *const keys[] = { "claimed_at", "started_at", "finished_at" };
	for (size_t i = 0; i < rows; i++)
		for (size_t k = 0; k < 3; k++)
			if (when(host_at(t, i), keys[k], &x)) {
				lo = lo < 0 || x < lo ? x : lo;
				hi = x > hi ? x : hi;
			}
	if (lo < 0 || !p->html)
		return;
	if (auth >= 0 && auth < lo && lo - auth < 7 * 86400)
		lo = auth;
	if (hi <= lo)
		hi = lo + 1;
	date_s(lo, b1);
	date_s(hi, b2);
	dur_s(hi - lo, d);
	int h = top + (int)rows * rh + 30;
#define X(tv) (lx + (int)((double)((tv) - lo) * w / (double)(hi - lo)))
	cx_rout_rawf(&p->o, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"900\" height=\"%d\" viewBox=\"0 0 900 %d\" role=\"img\" aria-labelledby=\"tl%zu\">\n<title id=\"tl%zu\">",
		     h, h, ti, ti);
	_cleanup_free_ char *alt = sfmt("Timeline of %zu hosts from %s to %s UTC (%s); each host's state and times are in the table below",
					rows, b1, b2, d);
	cx_rout_text(&p->o, alt);
	cx_rout_raw(&p->o, "</title>\n<g font-family=\"sans-serif\" font-size=\"13\" fill=\"#212121\">\n");
	cx_rout_rawf(&p->o, "<text x=\"%d\" y=\"16\">", lx);
	cx_rout_text(&p->o, b1);
	cx_rout_rawf(&p->o, "</text>\n<text x=\"%d\" y=\"16\" text-anchor=\"end\">", lx + w);
	cx_rout_text(&p->o, b2);
	cx_rout_rawf(&p->o, "</text>\n<line x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"24\" stroke=\"#616161\"/>\n", lx, lx + w);
	if (auth >= lo && auth <= hi)
		cx_rout_rawf(&p->o, "<line x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\" stroke=\"#4527a0\" stroke-dasharray=\"4 3\"/>\n<text x=\"%d\" y=\"%d\" fill=\"#311b92\">authorized</text>\n",
			     X(auth), X(auth), h - 22, X(auth) + 3, h - 8);
	for (size_t i = 0; i < rows; i++) {
		const json_t *hs = host_at(t, i);
		const char *state = str(hs, "state");
		long long c = -1, s = -1, f = -1;
		int y = top + (int)i * rh;
		_cleanup_free_ char *name = clip(str_or(hs, "host"), 22);

		cx_rout_rawf(&p->o, "<text x=\"0\" y=\"%d\">", y + 14);
		cx_rout_text(&p->o, name);
		cx_rout_raw(&p->o, "</text>\n");
		if (!when(hs, "claimed_at", &c))
			c = -1;
		if (!when(hs, "started_at", &s))
			s = -1;
		if (!when(hs, "finished_at", &f))
			f = -1;
		long long end = f >= 0 ? f : now >= 0 && now > s ? (now < hi ? now : hi) : s;
		if (auth >= lo && c >= auth)
			cx_rout_rawf(&p->o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9e9e9e\"/>\n",
				     X(auth), y + 9, X(c), y + 9);
		if (c >= lo && s >= c)
			cx_rout_rawf(&p->o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" fill=\"#b0bec5\"/>\n",
				     X(c), y, X(s) - X(c) + 1);
		if (s >= lo && end >= s)
			cx_rout_rawf(&p->o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" rx=\"2\" fill=\"%s\"/>\n",
				     X(s), y, X(end) - X(s) + 2, bar_colour(state));
		if (f >= lo && json_is_object(member(hs, "audit")))
			cx_rout_rawf(&p->o, "<path d=\"M%d %d l5 5 l-5 5 l-5 -5 z\" fill=\"#212121\"/>\n", X(f) + 6, y + 4);
		_cleanup_free_ char *lab = sfmt("%s %s %s", state_sym(state), state ? state : UNKNOWN,
						span_s(hs, "started_at", "finished_at", d));
		cx_rout_rawf(&p->o, "<text x=\"%d\" y=\"%d\">", lx + w + 18, y + 14);
		cx_rout_text(&p->o, lab);
		cx_rout_raw(&p->o, "</text>\n");
	}
#undef X
	cx_rout_raw(&p->o, "</g>\n</svg>\n");
	_cleanup_free_ char *legend = sfmt("Timeline (UTC): thin line, waiting for a slot after the authorization; pale bar, claimed and preparing; solid bar, running (its state written at the right); diamond, audit chain recorded.%s",
					   nh > rows ? " Only the first hosts are drawn; every host is in the table." : "");
	cx_rout_rawf(&p->o, "<p class=\"meta\">");
	cx_rout_text(&p->o, legend);
	cx_rout_raw(&p->o, "</p>\n");
}

static void host_rows(page *p, const json_t *t, size_t nh)
{
	static const char *const hdr[] = { "host", "state", "claimed (UTC)", "started (UTC)",
					   "finished (UTC)", "ran for", "result", "audit (last seq, head)" };
	char b[3][32], d[32];
	cx_rout_table_begin(&p->o, hdr, CX_ARRAY_SIZE(hdr));
	for (size_t i = 0; i < nh; i++) {
		const json_t *h = host_at(t, i), *au = member(h, "audit");
		const char *state = str(h, "state");
		long long ec, seq;
		if (!h) {
			const char *c[] = { UNKNOWN, "not a host entry", "", "", "", "", "", "" };
			cx_rout_table_row(&p->o, c, CX_ARRAY_SIZE(c));
			continue;
		}
		_cleanup_free_ char *st = sfmt("%s %s", state_sym(state), state ? state : UNKNOWN);
		_cleanup_free_ char *ecs = num(h, "exit_code", -1000, 1000, &ec) ? sfmt(", exit %lld", ec)
										    : cx_strdup("");
		const char *ws = str(h, "workspace"), *msg = str(h, "message");
		_cleanup_free_ char *res = str(h, "status") || str(h, "reason") || msg || ws
			? sfmt("%s (%s%s)%s%s%s%s", str(h, "status") ? str(h, "status") : "-",
			       str(h, "reason") ? str(h, "reason") : "-", ecs, msg ? ": " : "", msg ? msg : "",
			       ws ? "; workspace " : "", ws ? ws : "")
			: cx_strdup("-");
		_cleanup_free_ char *aud = json_is_object(au)
			? sfmt("%s, %.16s%s", num(au, "last_seq", 0, 1LL << 62, &seq) ? (snprintf(d, 32, "%lld", seq), d) : UNKNOWN,
			       str_or(au, "head"), str(au, "head") && strlen(str(au, "head")) > 16 ? "…" : "")
			: cx_strdup(au && !json_is_null(au) ? UNKNOWN : "-");
		const char *c[] = { str_or(h, "host"), st, at_s(h, "claimed_at", b[0], "-"),
				    at_s(h, "started_at", b[1], "-"), at_s(h, "finished_at", b[2], "-"),
				    span_s(h, "started_at", "finished_at", d), res, aud };
		const char *cls[] = { NULL, state_cls(state), "nw", "nw", "nw", "num", NULL, NULL };
		cx_rout_table_row_ex(&p->o, c, cls, CX_ARRAY_SIZE(c), true);
	}
	cx_rout_table_end(&p->o);
}

static void check_rows(page *p, const json_t *t, size_t nh)
{
	static const char *const hdr[] = { "host", "signatures", "policy hash", "audience / pool", "single use",
					   "within policy", "validate", "host report signed", "live" };
	static const char *const keys[] = { "signatures", "policy_hash", "audience", "single_use",
					    "within_policy", "validate" };
	cx_rout_table_begin(&p->o, hdr, CX_ARRAY_SIZE(hdr));
	for (size_t i = 0; i < nh; i++) {
		const json_t *h = host_at(t, i), *ck = member(h, "checks");
		const char *c[CX_ARRAY_SIZE(hdr)], *cls[CX_ARRAY_SIZE(hdr)];
		int r;
		if (!h)
			continue;
		const char *state = str(h, "state");
		/* a host that has not run yet has checked nothing and sent no report */
		bool pending = state && (!strcmp(state, "waiting") || !strcmp(state, "claimed") ||
					 !strcmp(state, "running"));
		c[0] = str_or(h, "host");
		cls[0] = NULL;
		for (size_t k = 0; k < CX_ARRAY_SIZE(hdr) - 1; k++) {
			r = k < CX_ARRAY_SIZE(keys) ? tri(ck, keys[k]) : tri(h, k == 6 ? "report_signed" : "live");
			if (pending && k < 7 && (r == -1 || (k == 6 && r == 0))) {
				c[k + 1] = "– not yet";
				cls[k + 1] = "unk";
				continue;
			}
			c[k + 1] = r == 1 ? "✓ yes" : r == 0 ? "✗ NO" : "? unknown";
			cls[k + 1] = r == 1 ? "ok" : r == 0 ? "bad" : "unk";
		}
		cx_rout_table_row_ex(&p->o, c, cls, CX_ARRAY_SIZE(c), true);
	}
	cx_rout_table_end(&p->o);
}

static void tier(page *p, size_t ti)
{
	const json_t *t = tier_at(p, ti);
	size_t nh = arr_n(member(t, "hosts"), CX_ROLLOUT_HOSTS_MAX);
	long long soak, dl, mp, mf, fl;
	char b[5][24];
	_cleanup_free_ char *title = tier_title(t, ti);

	cx_rout_heading(&p->o, 2, title);
	if (!t) {
		cx_rout_para(&p->o, CX_ROUT_WARN, "This tier is not an object in the view: nothing to show.");
		return;
	}
#define N(k, lo, hi, v, i) (num(t, k, lo, hi, &v) ? (snprintf(b[i], 24, "%lld", v), b[i]) : UNKNOWN)
	_cleanup_free_ char *rules = sfmt("Gate %s; soak %s s; deadline %s s; max parallel %s; failures %s (max %s).",
					  str_or(t, "gate"), N("soak_s", 0, CX_ROLLOUT_SECONDS_MAX, soak, 0),
					  N("deadline_s", 0, CX_ROLLOUT_SECONDS_MAX, dl, 1),
					  N("max_parallel", 0, CX_ROLLOUT_HOSTS_MAX, mp, 2),
					  N("failures", 0, CX_ROLLOUT_HOSTS_MAX, fl, 3),
					  N("max_failures", 0, CX_ROLLOUT_HOSTS_MAX, mf, 4));
#undef N
	cx_rout_para(&p->o, CX_ROUT_NORMAL, rules);
	steps(p, t, nh);
	if (!nh) {
		cx_rout_para(&p->o, CX_ROUT_NORMAL, json_is_array(member(t, "hosts")) ? "No hosts." : "Hosts: unknown.");
		return;
	}
	cx_rout_heading(&p->o, 3, "Timeline and results");
	timeline(p, t, nh, ti);
	host_rows(p, t, nh);
	cx_rout_heading(&p->o, 3, "Checks each host made before running");
	check_rows(p, t, nh);
}

static void controls(page *p)
{
	static const char *const hdr[] = { "seq", "when (UTC)", "action", "tier", "by", "role", "key id" };
	const json_t *a = member(p->v, "controls");
	size_t n = arr_n(a, CX_RREPORT_CONTROLS_MAX);
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
		long long seq, tn;
		const char *cells[] = {
			num(c, "seq", 0, CX_CONTROL_SEQ_MAX, &seq) ? (snprintf(b[0], 32, "%lld", seq), b[0]) : UNKNOWN,
			at_s(c, "at", b[1], UNKNOWN), str_or(c, "action"),
			num(c, "tier", 1, CX_ROLLOUT_TIERS_MAX, &tn) ? (snprintf(b[2], 32, "%lld", tn), b[2]) : "-",
			str_or(c, "by"), str_or(c, "role"), str_or(c, "keyid"),
		};
		cx_rout_table_row(&p->o, cells, CX_ARRAY_SIZE(cells));
	}
	cx_rout_table_end(&p->o);
	if (json_array_size(a) > n)
		cx_rout_para(&p->o, CX_ROUT_WARN, "More control documents than shown.");
}

static void render(page *p)
{
	size_t nt = arr_n(member(p->v, "tiers"), CX_ROLLOUT_TIERS_MAX);
	_cleanup_free_ char *title = sfmt("calyx rollout %s (pool %s)", str_or(p->v, "rollout_id"), str_or(p->v, "pool"));

	cx_rout_begin_styled(&p->o, title, CSS);
	banner(p);
	counts(p);
	whynot(p);
	overview(p);
	for (size_t i = 0; i < nt; i++)
		tier(p, i);
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

	if (format && !strcmp(format, "html"))
		p.o.fmt = CX_REPORT_HTML;
	else if (format && !strcmp(format, "md"))
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
