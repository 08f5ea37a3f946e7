/* JSON position index (see calyx/jsonpos.h). A structural walk only:
 * strings are skipped (escapes included) and object keys are decoded by
 * jansson; numbers and literals are skipped as runs of their characters.
 * Every read is bounded by the buffer length. */
#include "calyx/jsonx.h"
#include "calyx/jsonpos.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "calyx/common.h"

typedef struct walker {
	const uint8_t *b;
	size_t len, i;
	uint32_t line, col;
	cx_jsonpos *ix;
} walker;

static void advance(walker *w)
{
	uint8_t c = w->b[w->i++];

	if (c == '\n') {
		w->line++;
		w->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		/* count code points: a UTF-8 continuation byte is not one */
		w->col++;
	}
}

static void skip_ws(walker *w)
{
	while (w->i < w->len &&
	       (w->b[w->i] == ' ' || w->b[w->i] == '\t' || w->b[w->i] == '\n' || w->b[w->i] == '\r'))
		advance(w);
}

static bool at(const walker *w, uint8_t c)
{
	return w->i < w->len && w->b[w->i] == c;
}

static int record(walker *w, const char *pointer)
{
	if (w->ix->n == w->ix->cap) {
		size_t cap = w->ix->cap ? w->ix->cap * 2 : 32;
		cx_jsonpos_entry *e = realloc(w->ix->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		w->ix->e = e;
		w->ix->cap = cap;
	}
	w->ix->e[w->ix->n++] = (cx_jsonpos_entry){ cx_strdup(pointer), w->line, w->col };
	return 0;
}

/* Skip a string token starting at its opening quote; start and end delimit it,
 * quotes included. */
static int skip_string(walker *w, size_t *start, size_t *end)
{
	*start = w->i;
	advance(w); /* opening quote */
	while (w->i < w->len && w->b[w->i] != '"') {
		if (w->b[w->i] == '\\') {
			advance(w);
			if (w->i >= w->len)
				return -EINVAL;
		}
		advance(w);
	}
	if (w->i >= w->len)
		return -EINVAL;
	advance(w); /* closing quote */
	*end = w->i;
	return 0;
}

static int walk_value(walker *w, const char *pointer, int depth);

static int walk_object(walker *w, const char *pointer, int depth)
{
	advance(w); /* '{' */
	skip_ws(w);
	if (at(w, '}')) {
		advance(w);
		return 0;
	}
	for (;;) {
		size_t s, e;
		int r;

		skip_ws(w);
		if (!at(w, '"') || skip_string(w, &s, &e) < 0)
			return -EINVAL;
		/* the key, decoded by the same parser that read the document */
		json_t *k = cx_json_loadb((const char *)w->b + s, e - s, JSON_DECODE_ANY, NULL);
		if (!k || !json_is_string(k)) {
			json_decref(k);
			return -EINVAL;
		}
		_cleanup_free_ char *child = cx_jsonpos_child(pointer, json_string_value(k));
		json_decref(k);
		skip_ws(w);
		if (!at(w, ':'))
			return -EINVAL;
		advance(w);
		r = walk_value(w, child, depth + 1);
		if (r < 0)
			return r;
		skip_ws(w);
		if (at(w, '}')) {
			advance(w);
			return 0;
		}
		if (!at(w, ','))
			return -EINVAL;
		advance(w);
	}
}

static int walk_array(walker *w, const char *pointer, int depth)
{
	advance(w); /* '[' */
	skip_ws(w);
	if (at(w, ']')) {
		advance(w);
		return 0;
	}
	for (size_t idx = 0;; idx++) {
		char tok[24];
		int r;

		snprintf(tok, sizeof(tok), "%zu", idx);
		_cleanup_free_ char *child = cx_jsonpos_child(pointer, tok);
		r = walk_value(w, child, depth + 1);
		if (r < 0)
			return r;
		skip_ws(w);
		if (at(w, ']')) {
			advance(w);
			return 0;
		}
		if (!at(w, ','))
			return -EINVAL;
		advance(w);
	}
}

static int walk_value(walker *w, const char *pointer, int depth)
{
	size_t s, e;
	int r;

	if (depth > CX_JSONPOS_DEPTH_MAX)
		return -E2BIG;
	skip_ws(w);
	if (w->i >= w->len)
		return -EINVAL;
	r = record(w, pointer);
	if (r < 0)
		return r;
	switch (w->b[w->i]) {
	case '{':
		return walk_object(w, pointer, depth);
	case '[':
		return walk_array(w, pointer, depth);
	case '"':
		return skip_string(w, &s, &e);
	default:
		/* number, true, false, null */
		s = w->i;
		while (w->i < w->len && strchr("+-.0123456789eEtruefalsn", w->b[w->i]) && w->b[w->i])
			advance(w);
		return w->i > s ? 0 : -EINVAL;
	}
}

int cx_jsonpos_build(const uint8_t *buf, size_t len, cx_jsonpos *ret)
{
	cx_jsonpos ix = { 0 };
	walker w = { .b = buf, .len = len, .line = 1, .col = 1, .ix = &ix };
	int r = walk_value(&w, "", 0);

	if (r == 0) {
		skip_ws(&w);
		if (w.i != len)
			r = -EINVAL;
	}
	if (r < 0) {
		cx_jsonpos_free(&ix);
		return r;
	}
	*ret = ix;
	return 0;
}

void cx_jsonpos_free(cx_jsonpos *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		free(ix->e[i].pointer);
	free(ix->e);
	memset(ix, 0, sizeof(*ix));
}

const cx_jsonpos_entry *cx_jsonpos_find(const cx_jsonpos *ix, const char *pointer)
{
	for (size_t i = 0; i < ix->n; i++)
		if (strcmp(ix->e[i].pointer, pointer) == 0)
			return &ix->e[i];
	return NULL;
}

char *cx_jsonpos_child(const char *pointer, const char *token)
{
	size_t pl = strlen(pointer), n = pl + 2;
	char *out, *o;

	for (const char *t = token; *t; t++)
		n += (*t == '~' || *t == '/') ? 2 : 1;
	out = cx_calloc(n, 1);
	memcpy(out, pointer, pl);
	o = out + pl;
	*o++ = '/';
	for (const char *t = token; *t; t++) {
		if (*t == '~' || *t == '/') {
			*o++ = '~';
			*o++ = *t == '~' ? '0' : '1';
		} else {
			*o++ = *t;
		}
	}
	*o = '\0';
	return out;
}
