/* Strings shown to people: the escaping rule of calyx/esc.h.
 * Trust: pure; every input is untrusted. */
#include "calyx/esc.h"

#include <stdarg.h>
#include <string.h>

#include "calyx/common.h"

static bool cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Well-formed UTF-8 only (RFC 3629, Unicode table 3-7): no overlong form,
 * no surrogate, nothing above U+10FFFF, no truncated sequence. */
size_t cx_utf8_seq(const char *s, size_t n, uint32_t *ret_cp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t k;
	uint32_t c;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		k = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		k = 3, c = p[0] & 0x0f, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		k = 4, c = p[0] & 0x07, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if (!cont(p[i]))
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	*ret_cp = c;
	return k;
}

bool cx_esc_hidden(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || (c >= 0x200b && c <= 0x200f) ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c == 0xfeff ||
	       (c >= 0xfff9 && c <= 0xfffb);
}

static size_t step(const char *s, size_t n, char out[CX_ESC_STEP_MAX], bool quote, bool *ret_escaped)
{
	uint32_t c;
	size_t k = cx_utf8_seq(s, n, &c);

	*ret_escaped = true;
	if (k == 0) {
		snprintf(out, CX_ESC_STEP_MAX, "\\x%02x", (unsigned char)s[0]);
		return 1;
	}
	if (c == '\\' || (quote && c == '"'))
		snprintf(out, CX_ESC_STEP_MAX, "\\%c", (char)c);
	else if (c == '\n' || c == '\t' || c == '\r')
		snprintf(out, CX_ESC_STEP_MAX, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
	else if (c < 0x80 && cx_esc_hidden(c))
		snprintf(out, CX_ESC_STEP_MAX, "\\x%02x", (unsigned)c);
	else if (cx_esc_hidden(c))
		snprintf(out, CX_ESC_STEP_MAX, "\\u{%04x}", (unsigned)c);
	else {
		memcpy(out, s, k);
		out[k] = '\0';
		*ret_escaped = false;
	}
	return k;
}

size_t cx_esc_step(const char *s, size_t n, char out[CX_ESC_STEP_MAX], bool *ret_escaped)
{
	return step(s, n, out, false, ret_escaped);
}

bool cx_text_first_hidden(const char *s, char what[64])
{
	size_t n = strlen(s), k;
	uint32_t c;

	for (size_t i = 0; i < n; i += k) {
		k = cx_utf8_seq(s + i, n - i, &c);
		if (k == 0) {
			snprintf(what, 64, "byte 0x%02x (not UTF-8)", (unsigned char)s[i]);
			return true;
		}
		if (cx_esc_hidden(c)) {
			snprintf(what, 64, "U+%04X (%s)", (unsigned)c,
				 c < 0x20 || (c >= 0x7f && c <= 0x9f) ? "a control character"
								       : "a bidi or invisible character");
			return true;
		}
	}
	return false;
}

bool cx_text_has_hidden(const char *s)
{
	char what[64];
	return cx_text_first_hidden(s, what);
}

/* Every input byte becomes at most 4 output bytes ("\xff"; "\u{0085}" for
 * two bytes, "\u{202e}" for three), plus quotes and NUL. */
static char *esc_quote(const char *s, bool quote)
{
	size_t n = strlen(s), o = 0;
	char *out, t[CX_ESC_STEP_MAX];
	bool e;

	CX_CHECK(n < (SIZE_MAX - 3) / 4);
	out = malloc(4 * n + 3);
	CX_CHECK(out);
	if (quote)
		out[o++] = '"';
	for (size_t i = 0; i < n;) {
		i += step(s + i, n - i, t, quote, &e);
		size_t tl = strlen(t);
		memcpy(out + o, t, tl);
		o += tl;
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}

char *cx_esc(const char *s)
{
	return esc_quote(s ? s : "(null)", false);
}

void cx_esc_fputs(const char *s, FILE *out)
{
	_cleanup_free_ char *e = cx_esc(s);
	fputs(e, out);
}

void cx_esc_fputs_quoted(const char *s, FILE *out)
{
	_cleanup_free_ char *e = esc_quote(s ? s : "(null)", true);
	fputs(e, out);
}

static void vprint(FILE *out, bool nl, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void vprint(FILE *out, bool nl, const char *fmt, va_list ap)
{
	_cleanup_free_ char *s = NULL;

	CX_CHECK(vasprintf(&s, fmt, ap) >= 0);
	cx_esc_fputs(s, out);
	if (nl)
		fputc('\n', out);
}

void cx_esc_printf(FILE *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(out, false, fmt, ap);
	va_end(ap);
}

void cx_esc_line(FILE *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(out, true, fmt, ap);
	va_end(ap);
}

/* "\u0085" (6 bytes) for at least one input byte; hex in upper case, as
 * jansson writes its own escapes. */
char *cx_esc_json(const char *json)
{
	size_t n = strlen(json), o = 0, k;
	char *out;
	uint32_t c;

	CX_CHECK(n < (SIZE_MAX - 1) / 6);
	out = malloc(6 * n + 1);
	CX_CHECK(out);
	for (size_t i = 0; i < n; i += k) {
		k = cx_utf8_seq(json + i, n - i, &c);
		if (k == 0) {
			memcpy(out + o, "\\uFFFD", 6);
			o += 6;
			k = 1;
		} else if (c != '\n' && cx_esc_hidden(c)) {
			o += (size_t)snprintf(out + o, 7, "\\u%04X", (unsigned)(c & 0xffff)); /* all in the BMP */
		} else {
			memcpy(out + o, json + i, k);
			o += k;
		}
	}
	out[o] = '\0';
	return out;
}
