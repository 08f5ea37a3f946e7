/* Output of calyx-audit report: the only code that writes markup
 * (Markdown or HTML), and the only place where text meets it (private to
 * executor/; the report's content is built in report*.c).
 *
 * Invariant: every const char * given to these functions is plain text,
 * possibly hostile (from a tampered log, or from a lease body anyone with
 * two keys wrote), and is written escaped for the format:
 *   HTML      & < > " ' as entities; never inside a tag or an attribute;
 *   Markdown  a backslash before each of \ ` * _ [ ] < > | & # ~ (so no
 *             table cell can end early, no link, image, emphasis, code
 *             span or raw HTML can begin);
 * and in both, before that, calyx/esc.h's rule, the one every printer for
 * people follows: characters a reader would not see or that reorder or
 * break lines (C0 and C1 controls, DEL, zero-width and bidi controls,
 * line and paragraph separators, BOM) shown as \n, \t, \r, \xHH or
 * \u{HHHH}, bytes that are not UTF-8 as \xHH, a backslash as \\ (so no
 * escape can be faked); at most CX_ROUT_TEXT_MAX bytes of each string, the
 * rest counted. JSON text (the _json variants: argv, event details) stays
 * JSON: its hidden characters become \uHHHH escapes, its own backslashes
 * are left as they are.
 * The HTML document has no script and nothing to fetch, under a
 * Content-Security-Policy of default-src 'none'; style-src 'unsafe-inline'.
 *
 * The rollout page (executor/rollout_report.c) is built on the same
 * writer: its text goes through cx_rout_text and the tables here, and its
 * own markup (the banner, the timeline's SVG) through cx_rout_raw and
 * cx_rout_rawf, which take literals and numbers only, never text.
 * Trust: pure (writes to the given FILE, a memory stream). */
#ifndef CALYX_EXECUTOR_REPORT_OUT_H
#define CALYX_EXECUTOR_REPORT_OUT_H

#include <stdbool.h>
#include <stdio.h>
#include "report.h"

#define CX_ROUT_TEXT_MAX 2048

typedef struct cx_rout {
	FILE *out;
	cx_report_format fmt;
} cx_rout;

enum { CX_ROUT_NORMAL, CX_ROUT_OK, CX_ROUT_WARN };

/* The document: HTML head (title, CSP, style) and <h1>, or a "# " title. */
void cx_rout_begin(cx_rout *o, const char *title);
/* The same with more CSS rules (a literal) after the report's own. */
void cx_rout_begin_styled(cx_rout *o, const char *title, const char *css);
void cx_rout_end(cx_rout *o);

void cx_rout_text(cx_rout *o, const char *s);
void cx_rout_heading(cx_rout *o, int level, const char *s);
/* kind: CX_ROUT_NORMAL, CX_ROUT_OK (a good status), CX_ROUT_WARN (loud). */
void cx_rout_para(cx_rout *o, int kind, const char *s);

/* Tables: a header row of n cells, rows of n cells (NULL or "" shows "-"
 * in Markdown), end. kv: a two-column "field | value" table. */
void cx_rout_table_begin(cx_rout *o, const char *const *hdr, size_t n);
void cx_rout_table_row(cx_rout *o, const char *const *cells, size_t n);
/* bit i of json_cols set: cells[i] is JSON text. */
void cx_rout_table_row_json(cx_rout *o, const char *const *cells, size_t n, unsigned json_cols);
/* HTML: each cell with a class (cls[i], a literal; cls or cls[i] NULL:
 * none), the first cell a row header when row_header. Markdown: as
 * cx_rout_table_row. */
void cx_rout_table_row_ex(cx_rout *o, const char *const *cells, const char *const *cls, size_t n,
			  bool row_header);
void cx_rout_table_end(cx_rout *o);
void cx_rout_kv_begin(cx_rout *o);
void cx_rout_kv(cx_rout *o, const char *k, const char *v);
/* kv with a malloc'd value, taken and freed. */
void cx_rout_kv_own(cx_rout *o, const char *k, char *v);
/* The same with a JSON text value. */
void cx_rout_kv_json_own(cx_rout *o, const char *k, char *json);

/* A horizontal bar chart, inline SVG (HTML only; nothing in Markdown):
 * one bar per entry, filled to percent (clamped to 0..100; < 0: empty,
 * unknown), red when breached, orange from 80%, green otherwise. */
typedef struct cx_rout_bar {
	const char *name;  /* plain text */
	const char *label; /* plain text, right of the bar */
	double percent;
	bool breached;
} cx_rout_bar;
void cx_rout_bars(cx_rout *o, const cx_rout_bar *bars, size_t n);

/* Markup: a literal (never text, which goes through cx_rout_text), and
 * a format whose arguments are numbers only (%d, %lld, %.1f). Written
 * as given in both formats. */
void cx_rout_raw(cx_rout *o, const char *markup);
void cx_rout_rawf(cx_rout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
