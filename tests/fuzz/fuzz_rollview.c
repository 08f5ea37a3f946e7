/* libFuzzer harness: the rollout's page (cx_rollout_report_render,
 * executor/rollout_report.c) over any JSON value as the view.
 *
 * The input is parsed by jansson (inputs that are not JSON are skipped:
 * the view is always JSON); the page is rendered in both formats.
 * Checked with CX_CHECK:
 *  - rendering never fails and never crashes, whatever the members' types;
 *  - HTML: the CSP meta and the language are there, the document ends
 *    with </html>; every '<' opens one of the page's own elements (so no
 *    text of the view became markup: no script, img, iframe, a tag of its
 *    own); no control byte but the newline;
 *  - Markdown: every '<', '>' (but the "> " quotes that open a line),
 *    backtick and '|' (but the table's own " | ") is escaped; no control
 *    byte but the newline.
 * Trust: test code; the input is arbitrary bytes. */
#include <jansson.h>
#include <string.h>

#include "calyx/common.h"
#include "../../executor/rollout_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TAGS[] = {
	"html", "head", "meta", "style", "title", "body", "h1", "h2", "h3", "section", "p",
	"table", "tr", "th", "td", "ul", "ol", "li", "b", "strong", "svg", "g", "text",
	"rect", "line", "path",
};

static bool our_tag(const char *p)
{
	if (strncmp(p, "<!DOCTYPE html>", 15) == 0)
		return true;
	p += p[1] == '/' ? 2 : 1;
	for (size_t i = 0; i < sizeof(TAGS) / sizeof(TAGS[0]); i++) {
		size_t n = strlen(TAGS[i]);
		if (strncmp(p, TAGS[i], n) == 0 && (p[n] == '>' || p[n] == ' ' || p[n] == '/'))
			return true;
	}
	return false;
}

static void no_controls(const char *doc)
{
	for (const unsigned char *p = (const unsigned char *)doc; *p; p++)
		CX_CHECK(*p >= 0x20 || *p == '\n');
	CX_CHECK(!strchr(doc, 0x7f));
}

static void check_html(const char *h)
{
	size_t n = strlen(h);
	CX_CHECK(strstr(h, "<html lang=\"en\">"));
	CX_CHECK(strstr(h, "content=\"default-src 'none'; style-src 'unsafe-inline'\""));
	CX_CHECK(n > 8 && strcmp(h + n - 8, "</html>\n") == 0);
	for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<'))
		CX_CHECK(our_tag(p));
	no_controls(h);
}

static void check_md(const char *m)
{
	for (const char *p = m; *p; p++) {
		size_t bs = 0;
		if (!strchr("<>|`", *p))
			continue;
		for (const char *q = p; q > m && q[-1] == '\\'; q--)
			bs++;
		if (bs % 2)
			continue;
		if (*p == '|' && (p == m || p[-1] == '\n' || p[-1] == ' ') && (p[1] == ' ' || p[1] == '\n'))
			continue;
		CX_CHECK(*p == '>' && (p == m || p[-1] == '\n') && p[1] == ' ');
	}
	no_controls(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	cx_error err = { 0 };
	char *h = NULL, *m = NULL;

	if (!v)
		return 0;
	CX_CHECK(cx_rollout_report_render(v, "html", &h, &err) == 0 && h);
	CX_CHECK(cx_rollout_report_render(v, "md", &m, &err) == 0 && m);
	check_html(h);
	check_md(m);
	free(h);
	free(m);
	json_decref(v);
	return 0;
}
