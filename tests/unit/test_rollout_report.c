/* Unit tests: the rollout's page (executor/rollout_report.c), rendered
 * from the fixture views tests/fixtures/rollout-view-*.json (written by
 * tests/fixtures/gen-rollout-views.py): the mode banner, the "why not
 * shipped" lines, the checks, the control history, escaping of hostile
 * text in both formats, and views with members of the wrong type (every
 * member of a fixture replaced in turn by each JSON type) rendered
 * without a crash.
 *
 * With CX_REPORT_OUT=DIR set, each fixture's page is also written to
 * DIR/rollout-view-NAME.{html,md} (tests/integration/rollout_report.sh
 * opens them in Chromium). Run from the top of the tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calyx/common.h"
#include "../../executor/rollout_report.h"

#define FIXTURES "tests/fixtures/"

static const char *const NAMES[] = { "awaiting", "halted", "rolledback", "completed", "hostile" };

static json_t *load(const char *name)
{
	char path[256];
	json_error_t je;
	snprintf(path, sizeof(path), FIXTURES "rollout-view-%s.json", name);
	json_t *v = json_load_file(path, 0, &je);
	if (!v)
		fail_msg("cannot load '%s' (run from the top of the tree): %s", path, je.text);
	return v;
}

static char *render(const json_t *v, const char *fmt)
{
	cx_error err = { 0 };
	char *out = NULL;
	int r = cx_rollout_report_render(v, fmt, &out, &err);
	if (r < 0)
		fail_msg("render %s: %d %s", fmt, r, err.msg);
	assert_non_null(out);
	return out;
}

static void has(const char *doc, const char *s)
{
	if (!strstr(doc, s))
		fail_msg("page lacks '%s'", s);
}

static void lacks(const char *doc, const char *s)
{
	if (strstr(doc, s))
		fail_msg("page has '%s'", s);
}

/* The part of doc from heading a to heading b (malloc'd). */
static char *section(const char *doc, const char *a, const char *b)
{
	const char *s = strstr(doc, a), *e = s ? strstr(s, b) : NULL;
	if (!s || !e)
		fail_msg("no section '%s' .. '%s'", a, b);
	return strndup(s, (size_t)(e - s));
}

/* Markdown: every one of chars in doc escaped (an odd number of
 * backslashes before it), but the table pipes our writer puts at the
 * start of a line and around cells (" | ") and its quote marks ("> "
 * opening a line). */
static void md_all_escaped(const char *doc, const char *chars)
{
	for (const char *p = doc; *p; p++) {
		size_t bs = 0;
		if (!strchr(chars, *p))
			continue;
		for (const char *q = p; q > doc && q[-1] == '\\'; q--)
			bs++;
		if (bs % 2)
			continue;
		if (*p == '|' && (p == doc || p[-1] == '\n' || p[-1] == ' ') && (p[1] == ' ' || p[1] == '\n'))
			continue;
		if (*p == '>' && (p == doc || p[-1] == '\n') && p[1] == ' ') /* our quote */
			continue;
		fail_msg("unescaped '%c' at byte %td: %.40s", *p, p - doc, p);
	}
}

/* An HTML page of ours: self-contained, no script, the CSP, a language. */
static void html_frame(const char *h)
{
	has(h, "<!DOCTYPE html>\n<html lang=\"en\">");
	has(h, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
	assert_null(strcasestr(h, "<script"));
	assert_null(strcasestr(h, "<img"));
	assert_null(strcasestr(h, "<link"));
	assert_null(strcasestr(h, "src=\""));
	assert_null(strcasestr(h, "href=\""));
	assert_null(strstr(h, "\x1b"));
	has(h, "</html>\n");
}

static void write_out(const char *name, const char *ext, const char *doc)
{
	const char *dir = getenv("CX_REPORT_OUT");
	char path[4096];
	if (!dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/rollout-view-%s.%s", dir, name, ext);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(doc, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void every_fixture_renders(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++) {
		json_t *v = load(NAMES[i]);
		char *h = render(v, "html"), *m = render(v, "md");
		html_frame(h);
		has(m, "# calyx rollout ");
		has(m, "## Why not shipped");
		write_out(NAMES[i], "html", h);
		write_out(NAMES[i], "md", m);
		free(h);
		free(m);
		json_decref(v);
	}
}

static void awaiting_approval(void **state)
{
	(void)state;
	json_t *v = load("awaiting");
	char *h = render(v, "html"), *m = render(v, "md");
	has(h, "<section class=\"banner b-wait\" aria-label=\"mode\">\n<p class=\"mode\">Mode: Awaiting approval</p>\n"
	       "<p>tier 2 (canary-25) waits for a human approval</p>");
	has(m, "> **Mode: Awaiting approval. tier 2 (canary-25) waits for a human approval**");
	char *why = section(m, "## Why not shipped", "## The rollout");
	has(why, "- **web-2, web-3, web-4, web-5** (tier 2, 4 hosts, waiting): tier 2 (canary-25) waits for a human "
		 "approval: review tier 1, then run calyx-rollout approve --tier 2\n");
	has(why, "- **web-6, web-7, web-8, web-9, web-10, web-11, web-12, web-13, web-14, web-15, web-16, web-17 and 3 more**"
		 " (tier 3, 15 hosts, waiting): tier 3 (all) opens after tier 2 is done and approved\n");
	lacks(why, "web-1,");
	lacks(why, "web-1 ");
	has(m, "## Tier 1: canary (5 % of the pool, done)");
	has(m, "## Tier 2: canary-25 (25 % of the pool, waiting)");
	has(m, "- **2. authorize:** not approved yet");
	has(m, "| web-1 | ✓ committed |");
	has(h, "<th scope=\"row\">web-1</th><td class=\"ok\">✓ committed</td>");
	has(h, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\"");
	has(h, "role=\"img\" aria-labelledby=\"tl0\">\n<title id=\"tl0\">Timeline of 1 hosts");
	has(m, "No control documents");
	/* a host that has not run has checked nothing yet: not a failure */
	has(m, "| web-2 | – not yet | – not yet | – not yet | – not yet | – not yet | – not yet | – not yet | ✓ yes |");
	has(h, "<td class=\"num c-committed\">1</td><td class=\"num c-running\">0</td><td class=\"num c-waiting\">19</td>");
	has(h, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"progress\"");
	has(h, "<title id=\"prog\">Hosts by state: 1 committed, 0 running, 0 failed, 0 halted, 0 lost, 0 rolled_back, 19 waiting</title>");
	free(why);
	free(h);
	free(m);
	json_decref(v);
}

static void halted_failed_canary(void **state)
{
	(void)state;
	json_t *v = load("halted");
	char *h = render(v, "html"), *m = render(v, "md");
	has(h, "<section class=\"banner b-bad\" aria-label=\"mode\">\n<p class=\"mode\">Mode: Halted</p>");
	char *why = section(m, "## Why not shipped", "## The rollout");
	has(why, "- **web-1** (tier 1, failed, E\\_VALIDATE): validate failed on the canary (E\\_VALIDATE): the rollout "
		 "halted; fix the command or its validate step, then plan a new rollout\n");
	has(why, "- **web-2, web-3, web-4, web-5** (tier 2, 4 hosts, waiting): not started: the rollout halted after the canary failed\n");
	has(why, "(tier 3, 15 hosts, waiting): not started: the rollout halted after the canary failed\n");
	/* the failed validate check, in words and not only in colour */
	has(m, "| web-1 | ✓ yes | ✓ yes | ✓ yes | ✓ yes | ✓ yes | ✗ NO | ✓ yes | ✓ yes |");
	has(h, "<td class=\"bad\">✗ NO</td>");
	has(m, "failed (E\\_VALIDATE, exit 0): validate '/usr/local/bin/check-site' exited 3: workspace rolled back; workspace rolled\\_back");
	has(m, "| 1 | 2025-12-07 23:10:38 | halt | 1 | deploy-bot | agent |");
	/* the run id, to ask the host's audit log (calyx-audit report RUN_ID) */
	json_t *h1 = json_array_get(json_object_get(json_array_get(json_object_get(v, "tiers"), 0), "hosts"), 0);
	char want[200];
	snprintf(want, sizeof(want), "| run %s; seq 45, head ", json_string_value(json_object_get(h1, "run_id")));
	has(m, want);
	free(why);
	free(h);
	free(m);
	json_decref(v);
}

static void rolled_back(void **state)
{
	(void)state;
	json_t *v = load("rolledback");
	char *m = render(v, "md");
	has(m, "> **Mode: Rolled back. rolled back: tier 2 (canary-25) failed on 2 hosts; 3 committed hosts restored**");
	char *why = section(m, "## Why not shipped", "## The rollout");
	has(why, "- **web-1** (tier 1, rolled\\_back): committed, then rolled back");
	has(why, "- **web-2, web-3** (tier 2, 2 hosts, rolled\\_back): committed, then rolled back");
	has(why, "- **web-4** (tier 2, failed, E\\_EXIT): the command failed (E\\_EXIT, exit 2)");
	has(why, "- **web-5** (tier 2, lost): the host stopped answering");
	has(m, "| web-5 | ✗ lost |");
	has(m, "| web-5 | ? unknown | ? unknown | ? unknown | ? unknown | ? unknown | ? unknown | ✗ NO | ✗ NO |");
	has(m, "| 2 | 2025-12-07 23:22:40 | rollback | 2 | deploy-bot | agent |");
	free(why);
	free(m);
	json_decref(v);
}

static void completed(void **state)
{
	(void)state;
	json_t *v = load("completed");
	char *h = render(v, "html"), *m = render(v, "md");
	has(h, "<p class=\"mode\">Mode: Completed</p>");
	has(m, "| 20 | 20 | 0 | 0 | 0 | 0 | 0 | 0 |");
	has(m, "> Every host of the view is committed.");
	has(m, "## Tier 3: all (100 % of the pool, done)");
	has(m, "- **2. authorize:** approved by alice@example at 2025-12-07 23:31:40 (21 min 40 s after publishing)");
	has(m, "- **4. audit:** 15 of 15 hosts' audit chains recorded");
	lacks(m, "✗");
	has(m, "| 2 | 2025-12-07 23:26:40 | pause | 3 | alice@example | human |");
	free(h);
	free(m);
	json_decref(v);
}

static void hostile_text_escaped(void **state)
{
	(void)state;
	json_t *v = load("hostile");
	char *h = render(v, "html"), *m = render(v, "md");
	html_frame(h);
	has(h, "<title>calyx rollout &lt;script&gt;alert(5)&lt;/script&gt; (pool web)</title>");
	has(h, "web-&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;|`x`\\x1b[2J\\u{202e}");
	has(h, "&lt;img src=x onerror=alert(1)&gt; | `rm -rf /` \\x07\\n## not a heading");
	has(h, "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;alert(2)&lt;/script&gt;");
	has(h, "Mode: unknown (halted\\x1b]0;pwn\\x07)");
	has(h, "&lt;script&gt;alert(3)&lt;/script&gt; | `code` \\u{2028} line");
	lacks(h, "\xe2\x80\xae"); /* U+202E */
	lacks(h, "\xe2\x80\xa8"); /* U+2028 */
	/* Markdown: no cell ends early, no code span, no raw HTML, no line break */
	has(m, "web-\\</script\\>\\<script\\>alert(1)\\</script\\>\\|\\`x\\`\\\\x1b\\[2J\\\\u{202e}");
	has(m, "\\<img src=x onerror=alert(1)\\> \\| \\`rm -rf /\\` \\\\x07\\\\n\\#\\# not a heading");
	has(m, "eve\\`\\|\\<b\\>");
	md_all_escaped(m, "<>|`");
	lacks(m, "`x`");
	lacks(m, "\n## not a heading");
	assert_null(strchr(m, '\x1b'));
	assert_null(strchr(m, '\x07'));
	/* wrong types read "unknown", never a crash or a made-up value */
	has(m, "| unknown | unknown | unknown | unknown | unknown | unknown | unknown | unknown |");
	has(m, "| command (argv) | unknown |");
	has(m, "| window (UTC) | unknown to unknown |");
	has(m, "etcd revision unknown");
	has(m, "## Tier \\#2: unknown (unknown % of the pool, unknown)");
	has(m, "## Tier \\#3: unknown (unknown % of the pool, unknown)");
	has(m, "This tier is not an object in the view");
	has(m, "| web-2 | … unknown | unknown | unknown | unknown | - | - | audit unknown |");
	has(m, "- **unknown, unknown** (tier 1, 2 hosts, state unknown): its state is unknown (the view gives no reason)\n");
	has(m, "(the view gives no reason)");
	free(h);
	free(m);
	json_decref(v);
}

/* Every member (at any depth) of v replaced in turn by each JSON type,
 * the page rendered in both formats each time. */
static void mutate_all(json_t *root, json_t *node, size_t *renders)
{
	json_t *types[] = { json_null(), json_integer(-1), json_string("<x>|`"), json_array(),
			    json_object(), json_true(), json_real(1e300) };
	const size_t nt = sizeof(types) / sizeof(types[0]);

	if (json_is_object(node)) {
		const char *k;
		json_t *x;
		void *tmp;
		json_object_foreach_safe(node, tmp, k, x) {
			json_t *keep = json_incref(x);
			for (size_t i = 0; i < nt; i++) {
				json_object_set(node, k, types[i]);
				free(render(root, "html"));
				free(render(root, "md"));
				*renders += 2;
			}
			json_object_set_new(node, k, keep);
			mutate_all(root, keep, renders);
		}
	} else if (json_is_array(node)) {
		for (size_t j = 0; j < json_array_size(node); j++) {
			json_t *keep = json_incref(json_array_get(node, j));
			for (size_t i = 0; i < nt; i++) {
				json_array_set(node, j, types[i]);
				free(render(root, "html"));
				*renders += 1;
			}
			json_array_set_new(node, j, keep);
			mutate_all(root, keep, renders);
		}
	}
	for (size_t i = 0; i < nt; i++)
		json_decref(types[i]);
}

static void wrong_types_do_not_crash(void **state)
{
	(void)state;
	size_t renders = 0;
	json_t *v = load("halted");
	/* one tier of hosts is enough to reach every member kind */
	json_array_remove(json_object_get(v, "tiers"), 2);
	mutate_all(v, v, &renders);
	assert_true(renders > 1000);
	json_decref(v);

	json_t *odd[] = { json_null(), json_array(), json_string("view"), json_object(), json_integer(1) };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		char *h = render(odd[i], "html"), *m = render(odd[i], "md");
		html_frame(h);
		has(m, "> **Mode: unknown (not given). unknown**");
		has(m, "Tiers: unknown");
		free(h);
		free(m);
		json_decref(odd[i]);
	}
	free(render(NULL, "md"));
}

/* Every mode of the model has its banner, worded and classed. */
static void every_mode_banner(void **state)
{
	static const char *const modes[][3] = {
		{ "dry_run", "Dry run: nothing runs", "b-info" },
		{ "awaiting_approval", "Awaiting approval", "b-wait" },
		{ "running", "Authorized and running", "b-run" },
		{ "paused", "Paused", "b-wait" },
		{ "halted", "Halted", "b-bad" },
		{ "rolled_back", "Rolled back", "b-bad" },
		{ "completed", "Completed", "b-ok" },
		{ "sideways", "unknown (sideways)", "b-unk" },
	};
	char want[256];
	(void)state;
	json_t *v = load("awaiting");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		json_object_set_new(v, "mode", json_string(modes[i][0]));
		char *h = render(v, "html"), *m = render(v, "md");
		snprintf(want, sizeof(want), "<section class=\"banner %s\" aria-label=\"mode\">\n<p class=\"mode\">Mode: %s</p>",
			 modes[i][2], modes[i][1]);
		has(h, want);
		snprintf(want, sizeof(want), "Mode: %s. tier 2", modes[i][1]);
		has(m, want);
		free(h);
		free(m);
	}
	json_decref(v);
}

static void unknown_format_refused(void **state)
{
	(void)state;
	cx_error err = { 0 };
	char *out = NULL;
	json_t *v = json_object();
	assert_int_equal(cx_rollout_report_render(v, "pdf", &out, &err), -EINVAL);
	assert_int_equal(err.reason, CX_E_USAGE);
	assert_string_equal(err.msg, "unknown report format 'pdf' (use md or html)");
	assert_null(out);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_fixture_renders), cmocka_unit_test(awaiting_approval),
		cmocka_unit_test(halted_failed_canary),  cmocka_unit_test(rolled_back),
		cmocka_unit_test(completed),             cmocka_unit_test(hostile_text_escaped),
		cmocka_unit_test(wrong_types_do_not_crash), cmocka_unit_test(unknown_format_refused),
		cmocka_unit_test(every_mode_banner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
