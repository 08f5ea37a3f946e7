/* Strict hex / base64 codecs and SHA-256 (libsodium). Trust: pure. */
#include "calyx/codec.h"

#include <sodium.h>
#include <string.h>

#include "calyx/common.h"

void cx_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase refused: one spelling only */
}

bool cx_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len)
{
	if (in_len != 2 * out_len)
		return false;
	for (size_t i = 0; i < out_len; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

bool cx_is_lower_hex(const char *s, size_t want_len)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (hexval(s[i]) < 0)
			return false;
	return i == want_len;
}

size_t cx_b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void cx_b64_encode(const uint8_t *in, size_t len, char *out)
{
	sodium_bin2base64(out, cx_b64_len(len) + 1, in, len,
			  sodium_base64_VARIANT_ORIGINAL);
}

long cx_b64_decode(const char *in, size_t in_len, uint8_t *out,
		   size_t min_len, size_t max_len)
{
	size_t bin_len = 0;
	const char *end = NULL;
	char *again;

	if (in_len == 0 || in_len % 4 != 0 || in_len > cx_b64_len(max_len))
		return -1;
	/* libsodium may report a partial length on failure: look at the
	 * return code first, then at what it consumed, then at the length. */
	if (sodium_base642bin(out, max_len, in, in_len, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	if (end != in + in_len || bin_len < min_len || bin_len > max_len)
		return -1;
	/* Canonical form: re-encoding must give back the same text (catches
	 * any lenience about trailing bits or padding in the decoder). */
	again = malloc(cx_b64_len(bin_len) + 1);
	CX_CHECK(again);
	cx_b64_encode(out, bin_len, again);
	bool same = strlen(again) == in_len && memcmp(again, in, in_len) == 0;
	free(again);
	return same ? (long)bin_len : -1;
}

void cx_sha256(const void *in, size_t len, uint8_t out[CX_SHA256_LEN])
{
	crypto_hash_sha256(out, in, len);
}

void cx_sha256_hex(const void *in, size_t len, char out[CX_SHA256_HEX_LEN + 1])
{
	uint8_t h[CX_SHA256_LEN];
	cx_sha256(in, len, h);
	cx_hex_encode(h, sizeof(h), out);
}
