/* audit_forge: write the audit line that would come next in a log, signed
 * with a key of your choice: a forger's line, for the tamper tests
 * (tests/integration/audit_log.sh).
 *
 *   audit_forge [--mac] KEY LOG TYPE   print the line (with its newline) on stdout
 *
 * KEY holds a 32-byte Ed25519 seed (a calyx key file); LOG is a log ending
 * with a newline (or empty). The line is seq = LOG's line count + 1, prev =
 * SHA-256 of LOG's last line (64 zeros if none), the current UTC time, type
 * TYPE, details {"forged":true}, then the signature over "calyx-audit-v1\n"
 * and the line without its sig member — the format of include/calyx/audit.h,
 * written out by hand here so the tool depends on libsodium only. With
 * --mac the line is an unsigned (format v2) one: a "mac" member instead,
 * keyed BLAKE2b-256 over "calyx-audit-mac-v1\n" and the line without it,
 * under the key BLAKE2b-256(key = the seed, "calyx-audit mac key v1").
 * A line forged with the host's own key verifies, or is accepted by the
 * appender (the tests check that as a control: the format is right, only
 * the key differs).
 * Test tool only: never installed, never part of calyx. */
#include <fcntl.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX (1l << 30)

static void die(const char *what)
{
	fprintf(stderr, "audit_forge: %s\n", what);
	exit(1);
}

/* The whole file, at most max bytes. */
static unsigned char *slurp(const char *path, long max, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	unsigned char *b;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > max)
		die("cannot read a regular file of the allowed size");
	b = malloc((size_t)st.st_size + 1);
	if (!b)
		die("out of memory");
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n <= 0)
			die("short read");
		got += (size_t)n;
	}
	close(fd);
	*ret_len = got;
	return b;
}

int main(int argc, char **argv)
{
	unsigned char *key, *log, pk[32], sk[64], h[32], sig[64];
	char prev[65], ts[64], b64[89], *body, *msg;
	const unsigned char *last;
	size_t klen, llen, lines = 0, blen;
	struct timespec now;
	struct tm tm;
	static const char domain[] = "calyx-audit-v1\n", mac_domain[] = "calyx-audit-mac-v1\n",
			  mac_ctx[] = "calyx-audit mac key v1";
	unsigned char mk[32], mac[32];
	bool use_mac = argc == 5 && strcmp(argv[1], "--mac") == 0;

	if (use_mac) {
		argv++;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: audit_forge [--mac] KEY LOG TYPE\n");
		return 2;
	}
	if (sodium_init() < 0)
		die("libsodium init failed");
	key = slurp(argv[1], 64, &klen);
	if (klen != 32)
		die("KEY must hold exactly a 32-byte seed");
	crypto_sign_seed_keypair(pk, sk, key);
	crypto_generichash(mk, sizeof(mk), (const unsigned char *)mac_ctx, sizeof(mac_ctx) - 1, key, 32);
	sodium_memzero(key, klen);
	free(key);
	log = slurp(argv[2], LOG_MAX, &llen);
	if (llen && log[llen - 1] != '\n')
		die("LOG must end with a newline");
	for (size_t i = 0; i < llen; i++)
		lines += log[i] == '\n';
	memset(prev, '0', 64);
	prev[64] = 0;
	if (llen) {
		last = log + llen - 1;
		while (last > log && last[-1] != '\n')
			last--;
		crypto_hash_sha256(h, last, (size_t)(log + llen - 1 - last));
		sodium_bin2hex(prev, sizeof(prev), h, sizeof(h));
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	if (strpbrk(argv[3], "\"\\") || strlen(argv[3]) > 64)
		die("TYPE must be plain (no quotes or backslashes, at most 64 bytes)");
	if (asprintf(&body, "{\"seq\":%zu,\"time\":\"%s\",\"type\":\"%s\",\"details\":{\"forged\":true},\"prev\":\"%s\"}",
		     lines + 1, ts, argv[3], prev) < 0 ||
	    asprintf(&msg, "%s%s", domain, body) < 0)
		die("out of memory");
	blen = strlen(body);
	if (use_mac) {
		crypto_generichash_state st;
		crypto_generichash_init(&st, mk, sizeof(mk), sizeof(mac));
		crypto_generichash_update(&st, (const unsigned char *)mac_domain, sizeof(mac_domain) - 1);
		crypto_generichash_update(&st, (const unsigned char *)body, blen);
		crypto_generichash_final(&st, mac, sizeof(mac));
		sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	} else {
		crypto_sign_detached(sig, NULL, (unsigned char *)msg, strlen(msg), sk);
		sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	}
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(mk, sizeof(mk));
	printf("%.*s,\"%s\":\"%s\"}\n", (int)(blen - 1), body, use_mac ? "mac" : "sig", b64);
	free(body);
	free(msg);
	free(log);
	return 0;
}
