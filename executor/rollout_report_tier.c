/* calyx-rollout report: one tier's part of the page: its rules, the
 * phases plan -> authorize -> execute -> audit with times and durations,
 * the timeline of its hosts (inline SVG, HTML only), the hosts' results
 * and the checks each made. Text through cx_rout_text and the tables
 * (escaped there); markup literals and numbers only.
 * Trust: pure; the view is untrusted. */
#include "rollout_report_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calyx/rollout.h"


/* The tier's authorization: the approval (manual gate) or its opening. */
static bool authorized_at(const json_t *t, long long *ret)
{
	const char *gate = rr_str(t, "gate");
	if (gate && strcmp(gate, "manual") == 0)
		return rr_tri(t, "approved") == 1 && rr_when(t, "approved_at", ret);
	return rr_when(t, "opened_at", ret);
}

static void steps(page *p, const json_t *t, size_t nh)
{
	long long plan = -1, auth = -1, first = -1, last = -1, x;
	size_t audited = 0, finished = 0;
	char b[4][32], d[3][32];
	const char *gate = rr_str(t, "gate");
	bool manual = gate && strcmp(gate, "manual") == 0;

	if (!rr_when(p->v, "started_at", &plan))
		plan = -1;
	if (!authorized_at(t, &auth))
		auth = -1;
	for (size_t i = 0; i < nh; i++) {
		const json_t *h = rr_host_at(t, i);
		if (rr_when(h, "claimed_at", &x) && (first < 0 || x < first))
			first = x;
		if (rr_when(h, "finished_at", &x)) {
			finished++;
			last = x > last ? x : last;
		}
		audited += json_is_object(rr_member(h, "audit"));
	}
	if (plan >= 0)
		rr_date_s(plan, b[0]);
	if (auth >= 0)
		rr_date_s(auth, b[1]);
	if (first >= 0)
		rr_date_s(first, b[2]);
	if (last >= 0)
		rr_date_s(last, b[3]);
	rr_dur_s(plan >= 0 && auth >= plan ? auth - plan : -1, d[0]);
	rr_dur_s(first >= 0 && last >= first ? last - first : -1, d[1]);
	_cleanup_free_ char *s1 = cx_strf("published %s", plan >= 0 ? b[0] : UNKNOWN);
	_cleanup_free_ char *s2 = auth < 0 ? cx_strdup(manual ? "not approved yet" : "not opened yet")
		: manual ? cx_strf("approved by %s at %s (%s after publishing)", rr_str_or(t, "approved_by"), b[1], d[0])
			 : cx_strf("opened automatically at %s (%s after publishing)", b[1], d[0]);
	_cleanup_free_ char *s3 = first < 0 ? cx_strdup("no host claimed yet")
		: cx_strf("first claim %s, last finish %s (%s); %zu of %zu hosts finished", b[2],
		       last >= 0 ? b[3] : "-", d[1], finished, nh);
	_cleanup_free_ char *s4 = cx_strf("%zu of %zu hosts' audit chains recorded", audited, nh);
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
	if (!rr_when(p->v, "read_at", &now))
		now = -1;
	static const char *const keys[] = { "claimed_at", "started_at", "finished_at" };
	for (size_t i = 0; i < rows; i++)
		for (size_t k = 0; k < 3; k++)
			if (rr_when(rr_host_at(t, i), keys[k], &x)) {
				lo = lo < 0 || x < lo ? x : lo;
				hi = x > hi ? x : hi;
			}
	if (lo < 0 || !p->html)
		return;
	if (auth >= 0 && auth < lo && lo - auth < 7 * 86400)
		lo = auth;
	if (hi <= lo)
		hi = lo + 1;
	rr_date_s(lo, b1);
	rr_date_s(hi, b2);
	rr_dur_s(hi - lo, d);
	int h = top + (int)rows * rh + 30;
#define X(tv) (lx + (int)((double)((tv) - lo) * w / (double)(hi - lo)))
	cx_rout_rawf(&p->o, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"900\" height=\"%d\" viewBox=\"0 0 900 %d\" role=\"img\" aria-labelledby=\"tl%zu\">\n<title id=\"tl%zu\">",
		     h, h, ti, ti);
	_cleanup_free_ char *alt = cx_strf("Timeline of %zu hosts from %s to %s UTC (%s); each host's state and times are in the table below",
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
		const json_t *hs = rr_host_at(t, i);
		const char *state = rr_str(hs, "state");
		long long c = -1, s = -1, f = -1;
		int y = top + (int)i * rh;
		_cleanup_free_ char *name = rr_clip(rr_str_or(hs, "host"), 22);

		cx_rout_rawf(&p->o, "<text x=\"0\" y=\"%d\">", y + 14);
		cx_rout_text(&p->o, name);
		cx_rout_raw(&p->o, "</text>\n");
		if (!rr_when(hs, "claimed_at", &c))
			c = -1;
		if (!rr_when(hs, "started_at", &s))
			s = -1;
		if (!rr_when(hs, "finished_at", &f))
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
				     X(s), y, X(end) - X(s) + 2, rr_bar_colour(state));
		if (f >= lo && json_is_object(rr_member(hs, "audit")))
			cx_rout_rawf(&p->o, "<path d=\"M%d %d l5 5 l-5 5 l-5 -5 z\" fill=\"#212121\"/>\n", X(f) + 6, y + 4);
		_cleanup_free_ char *lab = cx_strf("%s %s %s", rr_state_sym(state), state ? state : UNKNOWN,
						rr_span_s(hs, "started_at", "finished_at", d));
		cx_rout_rawf(&p->o, "<text x=\"%d\" y=\"%d\">", lx + w + 18, y + 14);
		cx_rout_text(&p->o, lab);
		cx_rout_raw(&p->o, "</text>\n");
	}
#undef X
	cx_rout_raw(&p->o, "</g>\n</svg>\n");
	_cleanup_free_ char *legend = cx_strf("Timeline (UTC): thin line, waiting for a slot after the authorization; pale bar, claimed and preparing; solid bar, running (its state written at the right); diamond, audit chain recorded.%s",
					   nh > rows ? " Only the first hosts are drawn; every host is in the table." : "");
	cx_rout_rawf(&p->o, "<p class=\"meta\">");
	cx_rout_text(&p->o, legend);
	cx_rout_raw(&p->o, "</p>\n");
}

static void host_rows(page *p, const json_t *t, size_t nh)
{
	static const char *const hdr[] = { "host", "state", "claimed (UTC)", "started (UTC)",
					   "finished (UTC)", "ran for", "result", "run, audit chain" };
	char b[3][32], d[32], sq[32];
	cx_rout_table_begin(&p->o, hdr, CX_ARRAY_SIZE(hdr));
	for (size_t i = 0; i < nh; i++) {
		const json_t *h = rr_host_at(t, i), *au = rr_member(h, "audit");
		const char *state = rr_str(h, "state");
		long long ec;
		if (!h) {
			const char *c[] = { UNKNOWN, "not a host entry", "", "", "", "", "", "" };
			cx_rout_table_row(&p->o, c, CX_ARRAY_SIZE(c));
			continue;
		}
		_cleanup_free_ char *st = cx_strf("%s %s", rr_state_sym(state), state ? state : UNKNOWN);
		_cleanup_free_ char *ecs = rr_num(h, "exit_code", -1000, 1000, &ec) ? cx_strf(", exit %lld", ec)
										    : cx_strdup("");
		const char *ws = rr_str(h, "workspace"), *msg = rr_str(h, "message");
		_cleanup_free_ char *res = rr_str(h, "status") || rr_str(h, "reason") || msg || ws
			? cx_strf("%s (%s%s)%s%s%s%s", rr_str(h, "status") ? rr_str(h, "status") : "-",
			       rr_str(h, "reason") ? rr_str(h, "reason") : "-", ecs, msg ? ": " : "", msg ? msg : "",
			       ws ? "; workspace " : "", ws ? ws : "")
			: cx_strdup("-");
		/* the run (calyx-audit report RUN_ID on the host) and its audit chain */
		const char *head = rr_str(au, "head");
		_cleanup_free_ char *run = rr_str(h, "run_id") ? cx_strf("run %s; ", rr_str(h, "run_id")) : cx_strdup("");
		_cleanup_free_ char *aud = json_is_object(au)
			? cx_strf("%sseq %s, head %.16s%s", run, rr_num_s(au, "last_seq", 0, 1LL << 62, sq),
				  head ? head : UNKNOWN, head && strlen(head) > 16 ? "…" : "")
			: cx_strf("%s%s", run, au && !json_is_null(au) ? "audit unknown" : "-");
		const char *c[] = { rr_str_or(h, "host"), st, rr_at_s(h, "claimed_at", b[0], "-"),
				    rr_at_s(h, "started_at", b[1], "-"), rr_at_s(h, "finished_at", b[2], "-"),
				    rr_span_s(h, "started_at", "finished_at", d), res, aud };
		const char *cls[] = { NULL, rr_state_cls(state), "nw", "nw", "nw", "num", "res", "aud" };
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
		const json_t *h = rr_host_at(t, i), *ck = rr_member(h, "checks");
		const char *c[CX_ARRAY_SIZE(hdr)], *cls[CX_ARRAY_SIZE(hdr)];
		int r;
		if (!h)
			continue;
		const char *state = rr_str(h, "state");
		/* a host that has not run yet has checked nothing and sent no report */
		bool pending = state && (strcmp(state, "waiting") == 0 || strcmp(state, "claimed") == 0 ||
					 strcmp(state, "running") == 0);
		c[0] = rr_str_or(h, "host");
		cls[0] = NULL;
		for (size_t k = 0; k < CX_ARRAY_SIZE(hdr) - 1; k++) {
			r = k < CX_ARRAY_SIZE(keys) ? rr_tri(ck, keys[k]) : rr_tri(h, k == 6 ? "report_signed" : "live");
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

static char *tier_title(const json_t *t, size_t i)
{
	long long n, pct;
	_cleanup_free_ char *ns = rr_num(t, "n", 1, CX_ROLLOUT_TIERS_MAX, &n) ? cx_strf("%lld", n) : cx_strf("#%zu", i + 1);
	_cleanup_free_ char *ps = rr_num(t, "percent", 0, 100, &pct) ? cx_strf("%lld %%", pct) : cx_strdup("unknown %");
	return cx_strf("Tier %s: %s (%s of the pool, %s)", ns, rr_str_or(t, "name"), ps, rr_str_or(t, "status"));
}

void rr_tier(page *p, size_t ti)
{
	const json_t *t = rr_tier_at(p, ti);
	size_t nh = rr_arr_n(rr_member(t, "hosts"), CX_ROLLOUT_HOSTS_MAX);
	char b[5][32];
	_cleanup_free_ char *title = tier_title(t, ti);

	cx_rout_heading(&p->o, 2, title);
	if (!t) {
		cx_rout_para(&p->o, CX_ROUT_WARN, "This tier is not an object in the view: nothing to show.");
		return;
	}
	_cleanup_free_ char *rules = cx_strf("Gate %s; soak %s s; deadline %s s; max parallel %s; failures %s (max %s).",
					  rr_str_or(t, "gate"), rr_num_s(t, "soak_s", 0, CX_ROLLOUT_SECONDS_MAX, b[0]),
					  rr_num_s(t, "deadline_s", 0, CX_ROLLOUT_SECONDS_MAX, b[1]),
					  rr_num_s(t, "max_parallel", 0, CX_ROLLOUT_HOSTS_MAX, b[2]),
					  rr_num_s(t, "failures", 0, CX_ROLLOUT_HOSTS_MAX, b[3]),
					  rr_num_s(t, "max_failures", 0, CX_ROLLOUT_HOSTS_MAX, b[4]));
	cx_rout_para(&p->o, CX_ROUT_NORMAL, rules);
	steps(p, t, nh);
	if (!nh) {
		cx_rout_para(&p->o, CX_ROUT_NORMAL, json_is_array(rr_member(t, "hosts")) ? "No hosts." : "Hosts: unknown.");
		return;
	}
	cx_rout_heading(&p->o, 3, "Timeline and results");
	timeline(p, t, nh, ti);
	host_rows(p, t, nh);
	cx_rout_heading(&p->o, 3, "Checks each host made before running");
	check_rows(p, t, nh);
}
