/* Strict encodings: lowercase hex and canonical padded standard base64.
 *
 * "Strict" means exactly one accepted spelling per byte string: decoders
 * refuse uppercase hex, whitespace, URL-safe alphabet, missing or extra
 * padding and non-zero trailing bits, and check the decoded length.
 * Trust: pure functions over untrusted input, bounded by the caller. */
#ifndef CALYX_CODEC_H
#define CALYX_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CX_SHA256_LEN 32
#define CX_SHA256_HEX_LEN 64

/* out must hold 2*len+1 bytes. */
void cx_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decode exactly out_len bytes from 2*out_len lowercase hex chars. */
bool cx_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len);
bool cx_is_lower_hex(const char *s, size_t want_len);

/* Encoded length of n bytes (without NUL). */
size_t cx_b64_len(size_t n);
/* out must hold cx_b64_len(len)+1 bytes. */
void cx_b64_encode(const uint8_t *in, size_t len, char *out);
/* Canonical decode. Succeeds only if in is the exact canonical encoding of
 * between min_len and max_len bytes (inclusive). Returns decoded length or
 * -1. out must hold max_len bytes. */
long cx_b64_decode(const char *in, size_t in_len, uint8_t *out,
		   size_t min_len, size_t max_len);

void cx_sha256(const void *in, size_t len, uint8_t out[CX_SHA256_LEN]);
void cx_sha256_hex(const void *in, size_t len, char out[CX_SHA256_HEX_LEN + 1]);

#endif
