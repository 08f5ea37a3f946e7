/* Strings shown to people: one escaping rule for every human-facing
 * printer (the lease in words and the risk review before signing,
 * refusal lines, policy explain/diff/lint text, calyx-audit show and
 * report, calyx-ctl list/status/diff).
 *
 * A lease, a policy, a log line or a file name may hold bytes that a
 * terminal obeys instead of showing (ESC sequences move the cursor and
 * rewrite what is on screen; C1 CSI does the same on some terminals), that
 * an editor or a browser shows in another order (bidi overrides), or that
 * show nothing at all. Whether or not the output is a terminal, each
 * string goes out with:
 *   \\                  a backslash (so the rest cannot be confused with
 *                       a string that holds a backslash);
 *   \n \t \r            newline, tab, carriage return;
 *   \xHH                any other C0 control byte, DEL, and each byte that
 *                       is not part of well-formed UTF-8 (stray, truncated
 *                       or overlong sequences, surrogates, above U+10FFFF);
 *   \u{HHHH}            code points a reader would not see, or that
 *                       reorder or break lines: C1 controls U+0080-U+009F,
 *                       U+061C, U+200B-U+200F, U+2028-U+202E,
 *                       U+2060-U+2069, U+FEFF, U+FFF9-U+FFFB;
 * and everything else, printable ASCII and well-formed UTF-8, as itself.
 * So the output is well-formed UTF-8 with no byte below 0x20, no 0x7f and
 * none of those code points, and it decodes back to exactly the input
 * (the unit tests check both on random bytes).
 *
 * JSON text shown to people (calyx-ctl status, calyx-audit show's
 * details, the report's JSON cells) keeps being JSON: cx_esc_json writes
 * the same code points as JSON escapes (\u202E, upper case like jansson's
 * own), which decode to the same value.
 * Trust: pure; every input is untrusted. */
#ifndef CALYX_ESC_H
#define CALYX_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Room for the shown form of one character and its NUL ("\u{202e}": 9). */
#define CX_ESC_STEP_MAX 16

/* The well-formed UTF-8 sequence at s (at most n bytes): its length 1-4
 * and code point, or 0 when s does not start one. */
size_t cx_utf8_seq(const char *s, size_t n, uint32_t *ret_cp);
/* A code point the rule shows as \xHH or \u{HHHH}: C0, DEL, C1 and the
 * invisible or line-reordering ones listed above. */
bool cx_esc_hidden(uint32_t cp);
/* One step of the rule over s (n > 0 bytes): its shown form in out
 * (NUL-terminated), *ret_escaped set when that is not the input's own
 * bytes; returns the number of bytes of s it stands for (>= 1). */
size_t cx_esc_step(const char *s, size_t n, char out[CX_ESC_STEP_MAX], bool *ret_escaped);

/* s holds a control character, a hidden code point or bytes that are not
 * UTF-8: the risk review and calyx-policy lint flag such a string. */
bool cx_text_has_hidden(const char *s);
/* The first such character of s as "U+001B" / "byte 0xff" and what it is
 * ("a control character", "a bidi or invisible character", "not UTF-8");
 * false if there is none. */
bool cx_text_first_hidden(const char *s, char what[64]);

/* s escaped, malloc'd (aborts on OOM); NULL gives "(null)". */
char *cx_esc(const char *s);
/* s escaped, to out. */
void cx_esc_fputs(const char *s, FILE *out);
/* s escaped between double quotes, a '"' in it as \" (argv lists: no
 * argument can pass for two). */
void cx_esc_fputs_quoted(const char *s, FILE *out);
/* The whole formatted text escaped: for a line whose literal parts are
 * plain (no backslash, no control) and whose %s fields come from outside;
 * cx_esc_line adds the newline. */
void cx_esc_printf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cx_esc_line(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* JSON text (as jansson writes it) with the hidden code points above, and
 * any raw control byte, as JSON \uXXXX escapes; a byte that is not UTF-8
 * (jansson never writes one) as \uFFFD. Still JSON, of the same value.
 * malloc'd; aborts on OOM. */
char *cx_esc_json(const char *json);

#endif
