/* Where each value of a JSON document starts: JSON Pointer -> line:column.
 *
 * jansson, which parses every document calyx reads, reports positions only
 * for syntax errors. A linter must point at the value it complains about,
 * so this is a position index over the same bytes: it does not produce
 * values (jansson does), it only walks the document's structure and
 * records, for every value, its RFC 6901 pointer and where it starts.
 * Object keys are decoded by jansson too (each key token is handed to
 * json_loadb), so escapes in keys are interpreted exactly as the parser
 * does.
 *
 * The index is built only for a document jansson has already accepted;
 * the walker still bounds every read and the nesting depth, and returns
 * -EINVAL on anything it does not understand instead of guessing.
 * Lines and columns are 1-based; columns count Unicode code points (SARIF
 * "unicodeCodePoints").
 * Trust: pure, on untrusted input. */
#ifndef CALYX_JSONPOS_H
#define CALYX_JSONPOS_H

#include <stddef.h>
#include <stdint.h>

#define CX_JSONPOS_DEPTH_MAX 64

typedef struct cx_jsonpos_entry {
	char *pointer; /* "" is the whole document */
	uint32_t line, column;
} cx_jsonpos_entry;

typedef struct cx_jsonpos {
	size_t n, cap;
	cx_jsonpos_entry *e;
} cx_jsonpos;

int cx_jsonpos_build(const uint8_t *buf, size_t len, cx_jsonpos *ret);
void cx_jsonpos_free(cx_jsonpos *ix);
/* The entry for pointer, or NULL. */
const cx_jsonpos_entry *cx_jsonpos_find(const cx_jsonpos *ix, const char *pointer);
/* Append one reference token to a pointer (escaping '~' and '/'); returns
 * a new string the caller frees. */
char *cx_jsonpos_child(const char *pointer, const char *token);

#endif
