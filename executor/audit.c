/* Audit log: signed, hash-chained JSON Lines (format in calyx/audit.h).
 *
 * Why concurrent appends are safe: every appender takes flock(LOCK_EX) on
 * the log before reading its tail, so seq and prev are computed and the
 * line written under one lock; the line goes out in a single write(2) on
 * an O_APPEND fd and is fdatasync'd before the lock is released.
 * Trust: runs as root. The host seed lives in this struct only while the
 * log is open and is wiped on close. */
#include "calyx/audit.h"

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/jsonx.h"

#define SIG_B64_LEN 88                     /* base64 of 64 bytes */
#define SIG_TAIL_LEN (8 + SIG_B64_LEN + 2) /* ,"sig":"…"} */
static const char sig_domain[] = "calyx-audit-v1\n";

struct cx_audit {
	int fd;
	char *path;
	uint8_t sk[64];
};

int cx_audit_open(const char *path, const uint8_t seed[32], cx_audit **ret, cx_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint8_t pk[32];
	cx_audit *a;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return cx_err(err, CX_E_AUDIT, errno, "cannot open audit log '%s': %s", path,
			      strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return cx_err(err, CX_E_AUDIT, EINVAL, "audit log '%s' is not a regular file", path);
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return cx_err(err, CX_E_AUDIT, EPERM,
			      "audit log '%s' is not owned by us or is writable by others (chown root, chmod 640)",
			      path);
	a = cx_calloc(1, sizeof(*a));
	a->fd = TAKE_FD(fd);
	a->path = cx_strdup(path);
	crypto_sign_seed_keypair(pk, a->sk, seed);
	*ret = a;
	return 0;
}

void cx_audit_close(cx_audit *a)
{
	if (!a)
		return;
	cx_wipe(a->sk, sizeof(a->sk));
	close(a->fd);
	free(a->path);
	free(a);
}

/* Under the lock: find seq and hash of the last line. */
static int read_tail(cx_audit *a, uint64_t *ret_seq, char prev[65], cx_error *err)
{
	struct stat st;
	_cleanup_free_ char *buf = NULL;
	size_t want, start;
	ssize_t n;
	json_t *j;

	if (fstat(a->fd, &st) < 0)
		return cx_err(err, CX_E_AUDIT, errno, "audit log '%s': %s", a->path, strerror(errno));
	if (st.st_size == 0) {
		*ret_seq = 0;
		memset(prev, '0', 64);
		prev[64] = 0;
		return 0;
	}
	want = (uint64_t)st.st_size < CX_AUDIT_LINE_MAX + 1 ? (size_t)st.st_size
							     : CX_AUDIT_LINE_MAX + 1;
	buf = malloc(want + 1);
	CX_CHECK(buf);
	n = pread(a->fd, buf, want, st.st_size - (off_t)want);
	if (n != (ssize_t)want)
		return cx_err(err, CX_E_AUDIT, EIO, "cannot read the tail of audit log '%s'", a->path);
	if (buf[want - 1] != '\n')
		return cx_err(err, CX_E_AUDIT, EINVAL,
			      "audit log '%s' ends with a partial line (a crash while writing?); run 'calyx-audit verify' and repair before new runs",
			      a->path);
	for (start = want - 1; start > 0 && buf[start - 1] != '\n'; start--)
		;
	if (start == 0 && (uint64_t)st.st_size > want)
		return cx_err(err, CX_E_AUDIT, E2BIG, "audit log '%s': last line too long", a->path);
	j = json_loadb(buf + start, want - 1 - start, JSON_REJECT_DUPLICATES, NULL);
	if (!j || !json_is_integer(json_object_get(j, "seq")) ||
	    json_integer_value(json_object_get(j, "seq")) < 1) {
		json_decref(j);
		return cx_err(err, CX_E_AUDIT, EINVAL,
			      "audit log '%s': last line is not an audit event (run 'calyx-audit verify')",
			      a->path);
	}
	*ret_seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	json_decref(j);
	cx_sha256_hex(buf + start, want - 1 - start, prev);
	return 0;
}

static void now_rfc3339(char out[64])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}

static void sign_body(const uint8_t sk[64], const char *body, size_t len, char out[SIG_B64_LEN + 1])
{
	size_t dl = sizeof(sig_domain) - 1;
	uint8_t *msg = malloc(dl + len), sig[64];

	CX_CHECK(msg);
	memcpy(msg, sig_domain, dl);
	memcpy(msg + dl, body, len);
	crypto_sign_detached(sig, NULL, msg, dl + len, sk);
	free(msg);
	cx_b64_encode(sig, 64, out);
}

int cx_audit_append(cx_audit *a, const char *type, const char *lease_id, const char *run_id,
		    json_t *details, uint64_t *ret_seq, cx_error *err)
{
	_cleanup_free_ char *body = NULL, *line = NULL;
	char prev[65], ts[64], sig[SIG_B64_LEN + 1];
	uint64_t seq = 0;
	size_t blen, llen;
	json_t *j;
	ssize_t w;
	int r;

	if (!details)
		details = json_object();
	while (flock(a->fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			json_decref(details);
			return cx_err(err, CX_E_AUDIT, errno, "cannot lock audit log '%s': %s",
				      a->path, strerror(errno));
		}
	r = read_tail(a, &seq, prev, err);
	if (r < 0) {
		json_decref(details);
		goto out;
	}
	now_rfc3339(ts);
	j = json_object();
	json_object_set_new(j, "seq", json_integer((json_int_t)(seq + 1)));
	json_object_set_new(j, "time", json_string(ts));
	json_object_set_new(j, "type", json_string(type));
	if (lease_id)
		json_object_set_new(j, "lease_id", json_string(lease_id));
	if (run_id)
		json_object_set_new(j, "run_id", json_string(run_id));
	json_object_set_new(j, "details", details);
	json_object_set_new(j, "prev", json_string(prev));
	body = cx_json_dump(j);
	json_decref(j);
	blen = strlen(body);
	CX_CHECK(blen >= 2 && body[blen - 1] == '}');
	if (blen + SIG_TAIL_LEN + 1 > CX_AUDIT_LINE_MAX) {
		r = cx_err(err, CX_E_AUDIT, E2BIG, "audit event '%s' is too large", type);
		goto out;
	}
	sign_body(a->sk, body, blen, sig);
	llen = blen - 1 + SIG_TAIL_LEN + 1;
	line = malloc(llen + 1);
	CX_CHECK(line);
	snprintf(line, llen + 1, "%.*s,\"sig\":\"%s\"}\n", (int)(blen - 1), body, sig);
	w = write(a->fd, line, llen);
	if (w != (ssize_t)llen) {
		r = cx_err(err, CX_E_AUDIT, w < 0 ? errno : EIO, "cannot append to audit log '%s': %s",
			   a->path, w < 0 ? strerror(errno) : "short write");
		goto out;
	}
	if (fdatasync(a->fd) < 0) {
		r = cx_err(err, CX_E_AUDIT, errno, "cannot sync audit log '%s': %s", a->path,
			   strerror(errno));
		goto out;
	}
	if (ret_seq)
		*ret_seq = seq + 1;
	r = 0;
out:
	flock(a->fd, LOCK_UN);
	return r;
}

static int verify_line(const char *line, size_t len, uint64_t want_seq, const char *prev,
		       const uint8_t pk[32], cx_error *err)
{
	static const char *const req[] = { "seq", "time", "type", "details", "prev", "sig", NULL };
	static const char *const opt[] = { "lease_id", "run_id", NULL };
	_cleanup_json_ json_t *j = NULL;
	_cleanup_free_ uint8_t *msg = NULL;
	const char *sig, *p;
	uint8_t sigb[64];
	size_t dl = sizeof(sig_domain) - 1, blen;
	int64_t seq;
	int r;

	r = cx_json_parse_object((const uint8_t *)line, len, "audit line", &j, err);
	if (r == 0)
		r = cx_json_keys(j, "audit line", CX_E_AUDIT, req, opt, err);
	if (r == 0)
		r = cx_json_int(j, "seq", "audit line", CX_E_AUDIT, 1, INT64_MAX, false, &seq, err);
	if (r < 0)
		return r;
	if ((uint64_t)seq != want_seq)
		return cx_err(err, CX_E_AUDIT, EINVAL, "seq is %lld, expected %llu (line deleted, inserted or reordered)",
			      (long long)seq, (unsigned long long)want_seq);
	r = cx_json_str(j, "prev", "audit line", CX_E_AUDIT, 64, false, &p, err);
	if (r < 0)
		return r;
	if (strcmp(p, prev) != 0)
		return cx_err(err, CX_E_AUDIT, EINVAL, "prev does not match the hash of the line before (chain broken)");
	r = cx_json_str(j, "sig", "audit line", CX_E_AUDIT, SIG_B64_LEN, false, &sig, err);
	if (r < 0)
		return r;
	/* The sig member must be the last one, spelled exactly so. */
	if (len < SIG_TAIL_LEN + 2 || strlen(sig) != SIG_B64_LEN ||
	    memcmp(line + len - SIG_TAIL_LEN, ",\"sig\":\"", 8) != 0 ||
	    memcmp(line + len - SIG_TAIL_LEN + 8, sig, SIG_B64_LEN) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0)
		return cx_err(err, CX_E_AUDIT, EINVAL, "sig is not the last member of the line");
	if (cx_b64_decode(sig, SIG_B64_LEN, sigb, 64, 64) != 64)
		return cx_err(err, CX_E_AUDIT, EINVAL, "sig is not canonical base64 of 64 bytes");
	blen = len - SIG_TAIL_LEN;
	msg = malloc(dl + blen + 1);
	CX_CHECK(msg);
	memcpy(msg, sig_domain, dl);
	memcpy(msg + dl, line, blen);
	msg[dl + blen] = '}';
	if (crypto_sign_verify_detached(sigb, msg, dl + blen + 1, pk) != 0)
		return cx_err(err, CX_E_AUDIT, EPERM, "signature does not verify with the host key (line edited or forged)");
	return 0;
}

int cx_audit_verify(const uint8_t *buf, size_t len, const uint8_t pk[32],
		    cx_audit_report *ret, cx_error *err)
{
	char prev[65];
	uint64_t seq = 0;
	size_t off = 0;

	memset(prev, '0', 64);
	prev[64] = 0;
	while (off < len) {
		const uint8_t *nl = memchr(buf + off, '\n', len - off);
		size_t llen;
		int r;

		if (!nl)
			return cx_err(err, CX_E_AUDIT, EINVAL,
				      "audit log: line %llu is torn (no newline: truncated or crashed mid-write)",
				      (unsigned long long)seq + 1);
		llen = (size_t)(nl - (buf + off));
		if (llen > CX_AUDIT_LINE_MAX)
			return cx_err(err, CX_E_AUDIT, E2BIG, "audit log: line %llu is too long",
				      (unsigned long long)seq + 1);
		r = verify_line((const char *)buf + off, llen, seq + 1, prev, pk, err);
		if (r < 0) {
			cx_err_prefix(err, "audit log: line %llu", (unsigned long long)seq + 1);
			if (err)
				err->reason = CX_E_AUDIT;
			return r;
		}
		cx_sha256_hex(buf + off, llen, prev);
		seq++;
		off += llen + 1;
	}
	if (ret) {
		ret->lines = seq;
		ret->last_seq = seq;
		memcpy(ret->head, prev, 65);
	}
	return 0;
}
