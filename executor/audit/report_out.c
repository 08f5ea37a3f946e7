/* Output of calyx-audit report: escaping and markup (invariants in
 * report_out.h). Every string argument goes through text(), which applies
 * calyx/esc.h's rule, the one every human-facing printer uses; markup is
 * only ever the literals below and numbers printed with %d / %.1f.
 * Trust: pure; input untrusted. */
#include "report_out.h"

#include <stdarg.h>
#include <string.h>

#include "calyx/esc.h"

static void raw(cx_rout *o, const char *markup)
{
	fputs(markup, o->out);
}

static bool html(const cx_rout *o)
{
	return o->fmt == CX_REPORT_HTML;
}

/* An escape (calyx/esc.h's \xHH, \u{HHHH}, \n, \\; or JSON's \uHHHH) as
 * the reader must see it: its backslashes doubled in Markdown, where a
 * lone one would escape the next character; HTML shows it as it is (it
 * holds none of & < > " '). */
static void put_shown(cx_rout *o, const char *t)
{
	for (; *t; t++) {
		if (*t == '\\' && !html(o))
			fputc('\\', o->out);
		fputc(*t, o->out);
	}
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

/* One string: plain text through calyx/esc.h's rule (a backslash shows
 * as \\, so no escape can be faked), or JSON text (json: argv, event
 * details) whose hidden characters become JSON \uHHHH escapes and whose
 * own backslashes are left as JSON wrote them; then the markup escaping. */
static void text(cx_rout *o, const char *s, bool json)
{
	const char *p = s ? s : "-";
	size_t len = strlen(p), done = 0, n;
	char t[CX_ESC_STEP_MAX];
	bool escaped;
	uint32_t c;

	for (; done < len; done += n) {
		n = cx_esc_step(p + done, len - done, t, &escaped);
		if (done + n > CX_ROUT_TEXT_MAX) {
			fprintf(o->out, "… (%zu bytes)", len);
			return;
		}
		if (json && p[done] == '\\') {
			put_char(o, '\\');
		} else if (json && escaped) {
			if (cx_utf8_seq(p + done, len - done, &c) == 0)
				c = 0xfffd;
			snprintf(t, sizeof(t), "\\u%04X", (unsigned)(c & 0xffff)); /* as jansson */
			put_shown(o, t);
		} else if (escaped) {
			put_shown(o, t);
		} else if (n > 1) {
			fwrite(p + done, 1, n, o->out);
		} else {
			put_char(o, (unsigned char)p[done]);
		}
	}
}

void cx_rout_text(cx_rout *o, const char *s)
{
	text(o, s, false);
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

/* json_cols: bit i set when cells[i] is JSON text; cls: a class literal
 * per cell (NULL: none); row_header: the first cell heads its row. */
static void row_ex(cx_rout *o, const char *const *cells, size_t n, bool header, unsigned json_cols,
		   const char *const *cls, bool row_header)
{
	if (html(o)) {
		raw(o, "<tr>");
		for (size_t i = 0; i < n; i++) {
			bool th = header || (row_header && i == 0);
			raw(o, header ? "<th scope=\"col\"" : th ? "<th scope=\"row\"" : "<td");
			if (cls && cls[i]) {
				raw(o, " class=\"");
				raw(o, cls[i]);
				raw(o, "\"");
			}
			raw(o, ">");
			text(o, cells[i], i < 32 && (json_cols >> i) & 1);
			raw(o, th ? "</th>" : "</td>");
		}
		raw(o, "</tr>\n");
		return;
	}
	raw(o, "|");
	for (size_t i = 0; i < n; i++) {
		raw(o, " ");
		text(o, cells[i] && cells[i][0] ? cells[i] : "-", i < 32 && (json_cols >> i) & 1);
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

static void row(cx_rout *o, const char *const *cells, size_t n, bool header, unsigned json_cols)
{
	row_ex(o, cells, n, header, json_cols, NULL, false);
}

void cx_rout_table_row_ex(cx_rout *o, const char *const *cells, const char *const *cls, size_t n,
			  bool row_header)
{
	row_ex(o, cells, n, false, 0, cls, row_header);
}

void cx_rout_table_begin(cx_rout *o, const char *const *hdr, size_t n)
{
	raw(o, html(o) ? "<table>\n" : "");
	row(o, hdr, n, true, 0);
}

void cx_rout_table_row(cx_rout *o, const char *const *cells, size_t n)
{
	row(o, cells, n, false, 0);
}

void cx_rout_table_row_json(cx_rout *o, const char *const *cells, size_t n, unsigned json_cols)
{
	row(o, cells, n, false, json_cols);
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
	row(o, c, 2, false, 0);
}

void cx_rout_kv_own(cx_rout *o, const char *k, char *v)
{
	cx_rout_kv(o, k, v);
	free(v);
}

void cx_rout_kv_json_own(cx_rout *o, const char *k, char *json)
{
	const char *c[] = { k, json };
	row(o, c, 2, false, 1u << 1);
	free(json);
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
	"svg.chart{display:block;margin:.5em 0}\n";

void cx_rout_raw(cx_rout *o, const char *markup)
{
	raw(o, markup);
}

void cx_rout_rawf(cx_rout *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(o->out, fmt, ap);
	va_end(ap);
}

void cx_rout_begin(cx_rout *o, const char *title)
{
	cx_rout_begin_styled(o, title, "");
}

void cx_rout_begin_styled(cx_rout *o, const char *title, const char *css)
{
	if (html(o)) {
		raw(o, html_head);
		raw(o, css);
		raw(o, "</style>\n<title>");
		cx_rout_text(o, title);
		raw(o, "</title>\n</head>\n<body>\n");
	}
	cx_rout_heading(o, 1, title);
}

void cx_rout_end(cx_rout *o)
{
	raw(o, html(o) ? "</body>\n</html>\n" : "");
}
