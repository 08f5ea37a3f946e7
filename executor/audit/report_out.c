/* Output of calyx-audit report: escaping and markup (invariants in
 * report_out.h). Every string argument goes through text(); markup is
 * only ever the literals below and numbers printed with %d / %.1f.
 * Trust: pure; input untrusted. */
#include "report_out.h"

#include <string.h>

static void raw(cx_rout *o, const char *markup)
{
	fputs(markup, o->out);
}

static bool html(const cx_rout *o)
{
	return o->fmt == CX_REPORT_HTML;
}

/* Length of the valid UTF-8 sequence at p (and its code point), 0 if none.
 * Stops at the first byte that is not a continuation (so never past a NUL). */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
	size_t n;
	uint32_t c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	*cp = c;
	return n;
}

/* Characters a reader would not see, or that reorder or break lines. */
static bool invisible(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || (c >= 0x200b && c <= 0x200f) ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c == 0xfeff ||
	       (c >= 0xfff9 && c <= 0xfffb);
}

static void put_visible(cx_rout *o, uint32_t c)
{
	/* In Markdown the backslash is itself escaped, so it shows. */
	const char *bs = html(o) ? "\\" : "\\\\";
	if (c == '\n' || c == '\t' || c == '\r')
		fprintf(o->out, "%s%c", bs, c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
	else if (c < 0x100)
		fprintf(o->out, "%sx%02x", bs, (unsigned)c);
	else
		fprintf(o->out, "%su{%04x}", bs, (unsigned)c);
}

static void put_char(cx_rout *o, unsigned char c)
{
	if (html(o)) {
		switch (c) {
		case '&': raw(o, "&amp;"); return;
		case '<': raw(o, "&lt;"); return;
		case '>': raw(o, "&gt;"); return;
		case '"': raw(o, "&quot;"); return;
		case '\'': raw(o, "&#39;"); return;
		}
	} else if (strchr("\\`*_[]<>|&#~", c)) {
		fputc('\\', o->out);
	}
	fputc(c, o->out);
}

void cx_rout_text(cx_rout *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "-");
	size_t done = 0, n;
	uint32_t c;

	for (; *p; p += n, done += n) {
		n = utf8_seq(p, &c);
		if (done + (n ? n : 1) > CX_ROUT_TEXT_MAX) {
			fprintf(o->out, "… (%zu bytes)", done + strlen((const char *)p));
			return;
		}
		if (!n) {
			put_visible(o, *p); /* not UTF-8 (never from jansson): shown byte by byte */
			n = 1;
		} else if (invisible(c)) {
			put_visible(o, c);
		} else if (n > 1) {
			fwrite(p, 1, n, o->out);
		} else {
			put_char(o, *p);
		}
	}
}

void cx_rout_heading(cx_rout *o, int level, const char *s)
{
	if (level < 1 || level > 6)
		level = 6;
	if (html(o)) {
		fprintf(o->out, "<h%d>", level);
		cx_rout_text(o, s);
		fprintf(o->out, "</h%d>\n", level);
	} else {
		fprintf(o->out, "%.*s ", level, "######");
		cx_rout_text(o, s);
		raw(o, "\n\n");
	}
}

void cx_rout_para(cx_rout *o, int kind, const char *s)
{
	if (html(o)) {
		raw(o, kind == CX_ROUT_WARN ? "<p class=\"warn\">" : kind == CX_ROUT_OK ? "<p class=\"ok\">" : "<p>");
		cx_rout_text(o, s);
		raw(o, "</p>\n");
	} else {
		raw(o, kind == CX_ROUT_WARN ? "> **" : kind == CX_ROUT_OK ? "> " : "");
		cx_rout_text(o, s);
		raw(o, kind == CX_ROUT_WARN ? "**\n\n" : "\n\n");
	}
}

static void row(cx_rout *o, const char *const *cells, size_t n, bool header)
{
	if (html(o)) {
		raw(o, "<tr>");
		for (size_t i = 0; i < n; i++) {
			raw(o, header ? "<th>" : "<td>");
			cx_rout_text(o, cells[i]);
			raw(o, header ? "</th>" : "</td>");
		}
		raw(o, "</tr>\n");
		return;
	}
	raw(o, "|");
	for (size_t i = 0; i < n; i++) {
		raw(o, " ");
		cx_rout_text(o, cells[i] && cells[i][0] ? cells[i] : "-");
		raw(o, " |");
	}
	raw(o, "\n");
	if (header) {
		raw(o, "|");
		for (size_t i = 0; i < n; i++)
			raw(o, " --- |");
		raw(o, "\n");
	}
}

void cx_rout_table_begin(cx_rout *o, const char *const *hdr, size_t n)
{
	raw(o, html(o) ? "<table>\n" : "");
	row(o, hdr, n, true);
}

void cx_rout_table_row(cx_rout *o, const char *const *cells, size_t n)
{
	row(o, cells, n, false);
}

void cx_rout_table_end(cx_rout *o)
{
	raw(o, html(o) ? "</table>\n" : "\n");
}

void cx_rout_kv_begin(cx_rout *o)
{
	static const char *const hdr[] = { "field", "value" };
	cx_rout_table_begin(o, hdr, 2);
}

void cx_rout_kv(cx_rout *o, const char *k, const char *v)
{
	const char *c[] = { k, v };
	row(o, c, 2, false);
}

void cx_rout_kv_own(cx_rout *o, const char *k, char *v)
{
	cx_rout_kv(o, k, v);
	free(v);
}

void cx_rout_bars(cx_rout *o, const cx_rout_bar *bars, size_t n)
{
	const int lx = 90, bw = 420, rh = 34, h = (int)n * rh + 8;

	if (!html(o))
		return;
	fprintf(o->out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"900\" height=\"%d\" viewBox=\"0 0 900 %d\" role=\"img\" aria-label=\"usage against limits\">\n",
		h, h);
	for (size_t k = 0; k < n; k++) {
		const cx_rout_bar *b = &bars[k];
		double p = b->percent, w = p < 0 ? 0 : (p > 100 ? 100 : p) * bw / 100.0;
		const char *col = b->breached ? "#c62828" : p >= 80 ? "#ef6c00" : "#2e7d32";
		int y = 4 + (int)k * rh;

		fprintf(o->out, "<text x=\"0\" y=\"%d\" font-size=\"15\" font-family=\"sans-serif\">", y + 17);
		cx_rout_text(o, b->name);
		fprintf(o->out, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"24\" rx=\"3\" fill=\"#e0e0e0\"/>\n",
			lx, y, bw);
		fprintf(o->out, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"24\" rx=\"3\" fill=\"%s\"/>\n", lx,
			y, w, col);
		fprintf(o->out, "<text x=\"%d\" y=\"%d\" font-size=\"13\" font-family=\"sans-serif\">", lx + bw + 10,
			y + 17);
		cx_rout_text(o, b->label);
		raw(o, "</text>\n");
	}
	raw(o, "</svg>\n");
}

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	"<meta name=\"referrer\" content=\"no-referrer\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<style>\n"
	"body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#212121;padding:0 1em}\n"
	"table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:14px}\n"
	"th,td{border:1px solid #bdbdbd;padding:3px 8px;text-align:left;vertical-align:top;"
	"word-break:break-word;max-width:640px}\n"
	"th{background:#f5f5f5}\n"
	"h2{border-bottom:2px solid #424242;margin-top:2em}\n"
	"p.ok{background:#e8f5e9;border-left:6px solid #2e7d32;padding:.6em}\n"
	"p.warn{background:#ffebee;border-left:8px solid #c62828;padding:.8em;font-weight:bold;font-size:1.15em}\n"
	"svg.chart{display:block;margin:.5em 0}\n"
	"</style>\n";

void cx_rout_begin(cx_rout *o, const char *title)
{
	if (html(o)) {
		raw(o, html_head);
		raw(o, "<title>");
		cx_rout_text(o, title);
		raw(o, "</title>\n</head>\n<body>\n");
	}
	cx_rout_heading(o, 1, title);
}

void cx_rout_end(cx_rout *o)
{
	raw(o, html(o) ? "</body>\n</html>\n" : "");
}
