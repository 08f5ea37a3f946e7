/* Audit log: signed, hash-chained JSON Lines (format in calyx/audit.h).
 *
 * Why concurrent appends are safe: every appender takes flock(LOCK_EX) on
 * the log before reading its tail, so seq and prev are computed and the
 * line written under one lock; the line goes out in a single write(2) on
 * an O_APPEND fd and is fdatasync'd before the lock is released.
 *
 * What an append vouches for: the line it chains onto carries a valid
 * signature by this host key (checked under the lock, unless it is the
 * line this writer appended last, known by its hash), so an edited or
 * forged last line is refused rather than signed over; details that could
 * not be built (NULL) are refused, never replaced by {}.
 *
 * Torn tails: a crash in the middle of that write(2) leaves the log ending
 * in part of a line, without its newline. The next append repairs it under
 * the same lock, in this order, failing closed at any step:
 *   1. the torn bytes (everything after the last newline, at most
 *      CX_AUDIT_LINE_MAX of them) are copied to a new file next to the log,
 *      "<log>.torn-<seq of the last intact line>-<16 hex of their SHA-256>",
 *      created O_EXCL|O_NOFOLLOW, mode 0600, fsync'd with its directory:
 *      the evidence survives the repair;
 *   2. the log is cut back to its last newline and fdatasync'd;
 *   3. an "audit.repaired" event (torn_bytes, torn_sha256, after_seq,
 *      saved_as) is appended, chained and signed like any other;
 *   4. then the event that was asked for.
 * Only bytes after the last newline are ever cut. A longer unterminated
 * tail cannot come from one interrupted write of one line: it is refused as
 * tampering, and so is a last intact line that is not an audit event. The
 * writer whose write(2) was interrupted never saw it succeed, so no run
 * went on past the torn event. A crash between steps 2 and 3 leaves the
 * evidence file without its event (the file name still says where the
 * bytes were cut); a crash between 1 and 2 is picked up by the next append,
 * which finds the same evidence file with the same bytes and goes on.
 *
 * Verification is line by line and strict (see cx_audit_verify); on a large
 * log the lines are shared out among threads (Ed25519 verification is
 * nearly all of the cost), with the same result as one pass in order.
 *
 * Trust: runs as root. The host seed lives in this struct only while the
 * log is open and is wiped on close. The verifier reads untrusted bytes. */
#include "calyx/audit.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/fault.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"

/* Test-only faults (calyx/fault.h; fault build only):
 * CALYX_FAULT_IO=audit:write|sync|short[@N|@TYPE] fails the Nth append's
 * (or the first TYPE event's) write(2) or fdatasync with EIO ("short":
 * half the line written first);
 * CALYX_FAULT_PHASE=torn:<type> writes half of that event's line, syncs
 * it and SIGKILLs the process: the torn tail a crash mid-write leaves. */
#ifdef CALYX_FAULT_INJECTION
static ssize_t fault_write(int fd, const char *line, size_t len, const char *type)
{
	char point[96];
	snprintf(point, sizeof(point), "torn:%s", type);
	if (cx_fault_armed(point)) {
		(void)!write(fd, line, len / 2);
		(void)fdatasync(fd);
		cx_fault_point(point);
	}
	if (cx_fault_io("audit", "write", type) < 0) {
		errno = EIO;
		return -1;
	}
	if (cx_fault_io("audit", "short", type) < 0) {
		ssize_t w = write(fd, line, len / 2);
		errno = EIO;
		return w;
	}
	return write(fd, line, len);
}
#define AUDIT_WRITE(fd, line, len, type) fault_write(fd, line, len, type)
#define AUDIT_SYNC(fd, type) (cx_fault_io("audit", "sync", type) < 0 ? (errno = EIO, -1) : fdatasync(fd))
#else
#define AUDIT_WRITE(fd, line, len, type) write(fd, line, len)
#define AUDIT_SYNC(fd, type) fdatasync(fd)
#endif

#define SIG_B64_LEN 88                     /* base64 of 64 bytes */
#define SIG_TAIL_LEN (8 + SIG_B64_LEN + 2) /* ,"sig":"…"} */
#define TAIL_CHUNK 4096                    /* read the tail backwards in these */
static const char sig_domain[] = "calyx-audit-v1\n";

struct cx_audit {
	int fd;
	char *path;
	uint8_t sk[64];
	uint8_t pk[32];      /* the host key's public half: lines we chain onto */
	char last_hash[65];  /* hash of the line we appended last ("" if none) */
	bool defer;          /* appends leave the fdatasync to cx_audit_sync */
	bool dirty;          /* written since the last fdatasync */
	char last_type[64];  /* of the last unsynced line (fault hooks, messages) */
};

/* The end of the log as an appender sees it, under the lock. */
typedef struct tail {
	off_t size;    /* file size */
	off_t end;     /* just past the last newline: where the next line goes */
	uint64_t seq;  /* seq of the last intact line; 0 if none */
	char prev[65]; /* its hash; 64 zeros if none */
} tail;

int cx_audit_open(const char *path, const uint8_t seed[32], cx_audit **ret, cx_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
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
	crypto_sign_seed_keypair(a->pk, a->sk, seed);
	*ret = a;
	return 0;
}

void cx_audit_defer_sync(cx_audit *a, bool on)
{
	a->defer = on;
}

int cx_audit_sync(cx_audit *a, cx_error *err)
{
	if (!a || !a->dirty)
		return 0;
	if (AUDIT_SYNC(a->fd, a->last_type) < 0)
		return cx_err(err, CX_E_AUDIT, errno,
			      "cannot sync audit log '%s': %s (events up to '%s' were written but may not be durable; fix the disk it is on)",
			      a->path, strerror(errno), a->last_type);
	a->dirty = false;
	return 0;
}

void cx_audit_close(cx_audit *a)
{
	if (!a)
		return;
	if (a->dirty)
		(void)fdatasync(a->fd); /* callers sync where it matters; this is the backstop */
	cx_wipe(a->sk, sizeof(a->sk));
	close(a->fd);
	free(a->path);
	free(a);
}

int cx_audit_torn_name(const char *log_path, uint64_t after_seq, const uint8_t *frag,
		       size_t len, char *out, size_t outsz)
{
	const char *base = strrchr(log_path, '/');
	char hex[65];
	int n;

	base = base ? base + 1 : log_path;
	cx_sha256_hex(frag, len, hex);
	n = snprintf(out, outsz, "%s.torn-%llu-%.16s", base, (unsigned long long)after_seq, hex);
	if (n < 0 || (size_t)n >= outsz || n > NAME_MAX || !*base)
		return -ENAMETOOLONG;
	return 0;
}

/* pread exactly len bytes at off: 0, or -errno (-EIO if the file is shorter
 * than it was under the lock). */
static int pread_all(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The last '\n' in [lo, end) of the file: 1 with *ret_pos, 0 if none. */
static int find_newline_back(int fd, off_t lo, off_t end, off_t *ret_pos)
{
	char buf[TAIL_CHUNK];
	while (end > lo) {
		off_t from = end - lo > TAIL_CHUNK ? end - TAIL_CHUNK : lo;
		const char *nl;
		int r = pread_all(fd, buf, (size_t)(end - from), from);
		if (r < 0)
			return r;
		nl = memrchr(buf, '\n', (size_t)(end - from));
		if (nl) {
			*ret_pos = from + (nl - buf);
			return 1;
		}
		end = from;
	}
	return 0;
}

/* The line's "sig" member is its last, spelled exactly so, canonical
 * base64 of an Ed25519 signature by pk over "calyx-audit-v1\n" and the
 * line without that member: 0, or -EINVAL/-EPERM with err set. */
static int check_sig(const char *line, size_t len, const char *sig, const uint8_t pk[32],
		     cx_error *err)
{
	_cleanup_free_ uint8_t *msg = NULL;
	size_t dl = sizeof(sig_domain) - 1, blen;
	uint8_t sigb[64];

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

/* Under the lock: the last intact line (llen bytes, hash hex) must be an
 * audit event signed by this host key before a line chains onto it: a
 * line edited or forged in place, or a log of another key, is refused,
 * not signed over. The line this writer appended last is known by its
 * hash and not checked again. */
static int check_tail_line(cx_audit *a, const char *line, size_t llen, const char *hex,
			   uint64_t *ret_seq, cx_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	cx_error e = { 0 };
	json_t *s, *sig;

	j = cx_json_loadb(line, llen, JSON_REJECT_DUPLICATES, NULL);
	s = json_object_get(j, "seq");
	if (!j || !json_is_integer(s) || json_integer_value(s) < 1)
		return cx_err(err, CX_E_AUDIT, EINVAL,
			      "audit log '%s': last line is not an audit event (run 'calyx-audit verify')",
			      a->path);
	*ret_seq = (uint64_t)json_integer_value(s);
	if (strcmp(hex, a->last_hash) == 0)
		return 0;
	sig = json_object_get(j, "sig");
	if (!json_is_string(sig) || check_sig(line, llen, json_string_value(sig), a->pk, &e) < 0)
		return cx_err(err, CX_E_AUDIT, EPERM,
			      "audit log '%s': its last line (seq %llu) is not signed by this host's key: %s (keep the log as evidence and check it with 'calyx-audit verify'; calyx-exec will not chain onto it)",
			      a->path, (unsigned long long)*ret_seq,
			      e.msg[0] ? e.msg : "it has no sig member");
	return 0;
}

/* Under the lock: where the log's intact part ends, the seq and hash of its
 * last line, and the torn bytes after it if any (*ret_torn, malloc'd). */
static int read_tail(cx_audit *a, tail *t, uint8_t **ret_torn, size_t *ret_torn_len,
		     cx_error *err)
{
	_cleanup_free_ uint8_t *torn = NULL;
	_cleanup_free_ char *line = NULL;
	struct stat st;
	off_t nl, start;
	size_t torn_len, llen;
	int r;

	memset(t, 0, sizeof(*t));
	memset(t->prev, '0', 64);
	if (fstat(a->fd, &st) < 0)
		return cx_err(err, CX_E_AUDIT, errno, "audit log '%s': %s", a->path, strerror(errno));
	t->size = st.st_size;
	*ret_torn = NULL;
	*ret_torn_len = 0;
	if (t->size == 0)
		return 0;
	/* A torn line is at most CX_AUDIT_LINE_MAX bytes: the last newline
	 * must lie within the last CX_AUDIT_LINE_MAX + 1 bytes. */
	r = find_newline_back(a->fd, t->size > CX_AUDIT_LINE_MAX + 1 ? t->size - CX_AUDIT_LINE_MAX - 1 : 0,
			      t->size, &nl);
	if (r < 0)
		return cx_err(err, CX_E_AUDIT, -r, "cannot read the tail of audit log '%s': %s",
			      a->path, strerror(-r));
	if (r == 0 && t->size > CX_AUDIT_LINE_MAX)
		return cx_err(err, CX_E_AUDIT, E2BIG,
			      "audit log '%s' ends with more than %u bytes without a newline: longer than any audit line, so not a crash mid-write but tampering (keep the log as evidence, check it with 'calyx-audit verify'; calyx-exec will not append to it)",
			      a->path, CX_AUDIT_LINE_MAX);
	t->end = r ? nl + 1 : 0;
	torn_len = (size_t)(t->size - t->end);
	if (torn_len) {
		torn = malloc(torn_len);
		CX_CHECK(torn);
		r = pread_all(a->fd, torn, torn_len, t->end);
		if (r < 0)
			return cx_err(err, CX_E_AUDIT, -r, "cannot read the tail of audit log '%s': %s",
				      a->path, strerror(-r));
	}
	if (t->end == 0) {
		*ret_torn = TAKE_PTR(torn);
		*ret_torn_len = torn_len;
		return 0;
	}
	/* The last intact line: [start, nl), at most CX_AUDIT_LINE_MAX bytes. */
	nl = t->end - 1;
	r = find_newline_back(a->fd, nl > CX_AUDIT_LINE_MAX + 1 ? nl - CX_AUDIT_LINE_MAX - 1 : 0, nl,
			      &start);
	if (r < 0)
		return cx_err(err, CX_E_AUDIT, -r, "cannot read the tail of audit log '%s': %s",
			      a->path, strerror(-r));
	if (r == 0 && nl > CX_AUDIT_LINE_MAX)
		return cx_err(err, CX_E_AUDIT, E2BIG, "audit log '%s': last line too long (run 'calyx-audit verify')",
			      a->path);
	start = r ? start + 1 : 0;
	llen = (size_t)(nl - start);
	line = malloc(llen + 1);
	CX_CHECK(line);
	r = pread_all(a->fd, line, llen, start);
	if (r < 0)
		return cx_err(err, CX_E_AUDIT, -r, "cannot read the tail of audit log '%s': %s",
			      a->path, strerror(-r));
	cx_sha256_hex(line, llen, t->prev);
	r = check_tail_line(a, line, llen, t->prev, &t->seq, err);
	if (r < 0)
		return r;
	*ret_torn = TAKE_PTR(torn);
	*ret_torn_len = torn_len;
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

/* Under the lock: append one signed line after t (details stolen) and
 * advance t to it. */
static int append_line(cx_audit *a, tail *t, const char *type, const char *lease_id,
		       const char *run_id, json_t *details, cx_error *err)
{
	_cleanup_free_ char *body = NULL, *line = NULL;
	char ts[64], sig[SIG_B64_LEN + 1];
	size_t blen, llen;
	struct stat st;
	json_t *j;
	ssize_t w;

	/* Every member or none: one that cannot be made (an id that is not
	 * UTF-8) fails the event; it is never left out. */
	json_t *jt = json_string(type), *jl = lease_id ? json_string(lease_id) : NULL,
	       *jr = run_id ? json_string(run_id) : NULL;
	if (!jt || (lease_id && !jl) || (run_id && !jr)) {
		json_decref(jt);
		json_decref(jl);
		json_decref(jr);
		json_decref(details);
		return cx_err(err, CX_E_AUDIT, EINVAL,
			      "audit event '%s' cannot be written: its type, lease_id or run_id is not UTF-8 (nothing of it was written)",
			      type);
	}
	now_rfc3339(ts);
	j = json_object();
	json_object_set_new(j, "seq", json_integer((json_int_t)(t->seq + 1)));
	json_object_set_new(j, "time", json_string(ts));
	json_object_set_new(j, "type", jt);
	if (jl)
		json_object_set_new(j, "lease_id", jl);
	if (jr)
		json_object_set_new(j, "run_id", jr);
	json_object_set_new(j, "details", details);
	json_object_set_new(j, "prev", json_string(t->prev));
	body = cx_json_dump(j);
	json_decref(j);
	blen = strlen(body);
	CX_CHECK(blen >= 2 && body[blen - 1] == '}');
	if (blen + SIG_TAIL_LEN + 1 > CX_AUDIT_LINE_MAX)
		return cx_err(err, CX_E_AUDIT, E2BIG, "audit event '%s' is too large (%zu bytes, limit %u)",
			      type, blen + SIG_TAIL_LEN, CX_AUDIT_LINE_MAX);
	sign_body(a->sk, body, blen, sig);
	llen = blen - 1 + SIG_TAIL_LEN + 1;
	line = malloc(llen + 1);
	CX_CHECK(line);
	snprintf(line, llen + 1, "%.*s,\"sig\":\"%s\"}\n", (int)(blen - 1), body, sig);
	w = AUDIT_WRITE(a->fd, line, llen, type);
	if (w != (ssize_t)llen) {
		int e = w < 0 ? errno : EIO;
		/* A short write leaves part of a line without its newline: cut
		 * exactly those bytes again, if nothing else changed the file. */
		if (w > 0 && fstat(a->fd, &st) == 0 && st.st_size == t->size + w &&
		    ftruncate(a->fd, t->size) == 0)
			(void)fdatasync(a->fd);
		return cx_err(err, CX_E_AUDIT, e,
			      "cannot append to audit log '%s': %s (the log is intact up to the event before; free space or fix the disk it is on)",
			      a->path, w < 0 ? strerror(e) : "short write, its file system is probably full");
	}
	if (a->defer) {
		a->dirty = true;
		snprintf(a->last_type, sizeof(a->last_type), "%s", type);
	} else if (AUDIT_SYNC(a->fd, type) < 0) {
		return cx_err(err, CX_E_AUDIT, errno,
			      "cannot sync audit log '%s': %s (the event was written but may not be durable; fix the disk it is on)",
			      a->path, strerror(errno));
	}
	cx_sha256_hex(line, llen - 1, t->prev);
	memcpy(a->last_hash, t->prev, sizeof(a->last_hash));
	t->seq++;
	t->size += (off_t)llen;
	t->end = t->size;
	return 0;
}

/* An evidence file left by a repair that stopped before cutting the log:
 * fine if it holds exactly these bytes. */
static int same_evidence(int dfd, const char *name, const uint8_t *frag, size_t len, cx_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *have = NULL;
	struct stat st;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (uint64_t)st.st_size != len)
		goto other;
	have = malloc(len ? len : 1);
	CX_CHECK(have);
	if (pread_all(fd, have, len, 0) < 0 || memcmp(have, frag, len) != 0)
		goto other;
	if (fsync(fd) < 0 || fsync(dfd) < 0)
		return cx_err(err, CX_E_AUDIT, errno, "cannot sync '%s': %s", name, strerror(errno));
	return 0;
other:
	return cx_err(err, CX_E_AUDIT, EEXIST,
		      "'%s' already exists and does not hold these bytes (move it away, then retry)", name);
}

/* Step 1 of a repair: keep the torn bytes in `name` next to the log. */
static int save_evidence(cx_audit *a, const char *name, const uint8_t *frag, size_t len,
			 cx_error *err)
{
	_cleanup_close_ int dfd = -1, fd = -1;
	_cleanup_free_ char *dir = cx_strdup(a->path);
	char *slash = strrchr(dir, '/');
	int r;

	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = 0; /* "/log": the root */
	else
		*slash = 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cx_err(err, CX_E_AUDIT, errno, "cannot open the log directory '%s': %s", dir,
			      strerror(errno));
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0 && errno == EEXIST)
		return same_evidence(dfd, name, frag, len, err);
	if (fd < 0)
		return cx_err(err, CX_E_AUDIT, errno, "cannot create '%s' in '%s': %s", name, dir,
			      strerror(errno));
	r = cx_write_all(fd, frag, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dfd, name, 0);
		return cx_err(err, CX_E_AUDIT, -r, "cannot write '%s' in '%s': %s", name, dir,
			      strerror(-r));
	}
	return 0;
}

/* Under the lock, t as read_tail left it: keep the torn bytes, cut them,
 * record the repair. */
static int repair_torn(cx_audit *a, tail *t, const uint8_t *frag, size_t len, cx_error *err)
{
	char hex[65], name[NAME_MAX + 1];
	int r;

	cx_sha256_hex(frag, len, hex);
	if (cx_audit_torn_name(a->path, t->seq, frag, len, name, sizeof(name)) < 0)
		return cx_err(err, CX_E_AUDIT, ENAMETOOLONG,
			      "the log's file name is too long to name an evidence file after it (shorten it)");
	r = save_evidence(a, name, frag, len, err);
	if (r < 0)
		return r;
	if (ftruncate(a->fd, t->end) < 0 || fdatasync(a->fd) < 0)
		return cx_err(err, CX_E_AUDIT, errno, "cannot cut the log back to its last newline (the bytes are saved as '%s'): %s",
			      name, strerror(errno));
	t->size = t->end;
	json_t *d = json_pack("{s:I, s:s, s:I, s:o}", "torn_bytes", (json_int_t)len, "torn_sha256",
			      hex, "after_seq", (json_int_t)t->seq, "saved_as", cx_audit_text(name));
	if (!d)
		return cx_err(err, CX_E_AUDIT, ENOMEM, "cannot build the details of 'audit.repaired'");
	return append_line(a, t, "audit.repaired", NULL, NULL, d, err);
}

int cx_audit_append(cx_audit *a, const char *type, const char *lease_id, const char *run_id,
		    json_t *details, uint64_t *ret_seq, cx_error *err)
{
	_cleanup_free_ uint8_t *torn = NULL;
	size_t torn_len = 0;
	tail t;
	int r;

	if (!details)
		return cx_err(err, CX_E_AUDIT, EINVAL,
			      "the details of audit event '%s' could not be built, so it was not written (nothing of it lands; this is a calyx bug: report it)",
			      type);
	while (flock(a->fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			json_decref(details);
			return cx_err(err, CX_E_AUDIT, errno, "cannot lock audit log '%s': %s",
				      a->path, strerror(errno));
		}
	r = read_tail(a, &t, &torn, &torn_len, err);
	if (r == 0 && torn_len) {
		r = repair_torn(a, &t, torn, torn_len, err);
		if (r < 0)
			cx_err_prefix(err, "audit log '%s' ends with a torn line (%zu bytes after seq %llu), not repaired",
				      a->path, torn_len, (unsigned long long)t.seq);
	}
	if (r < 0) {
		json_decref(details);
		goto out;
	}
	r = append_line(a, &t, type, lease_id, run_id, details, err);
	if (r == 0 && ret_seq)
		*ret_seq = t.seq;
out:
	flock(a->fd, LOCK_UN);
	return r;
}

/* ---- verification ------------------------------------------------------ */

static int verify_line(const char *line, size_t len, uint64_t want_seq, const char *prev,
		       const uint8_t pk[32], cx_error *err)
{
	static const char *const req[] = { "seq", "time", "type", "details", "prev", "sig", NULL };
	static const char *const opt[] = { "lease_id", "run_id", NULL };
	_cleanup_json_ json_t *j = NULL;
	const char *sig, *p;
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
	return check_sig(line, len, sig, pk, err);
}

/* One stretch of the log, verified in order: from a line start to just
 * past a newline (or to the end of the log, for the last one). */
typedef struct vpart {
	const uint8_t *buf; /* the whole log */
	size_t from, to;
	const uint8_t *pk;
	uint64_t first;     /* line number (= expected seq) of its first line */
	char prev[65];      /* hash of the line before it (64 zeros for line 1) */
	uint64_t *first_bad; /* shared: lowest bad line number found so far */
	/* results */
	uint64_t next;      /* number of the line after the last one verified */
	uint64_t bad;       /* its first bad line number, 0 if none */
	cx_error err;
	int r;
} vpart;

static void note_bad(uint64_t *first_bad, uint64_t n)
{
	uint64_t cur = __atomic_load_n(first_bad, __ATOMIC_RELAXED);
	while (n < cur && !__atomic_compare_exchange_n(first_bad, &cur, n, false, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

static void *verify_part(void *arg)
{
	vpart *v = arg;
	uint64_t n = v->first;
	size_t off = v->from;

	for (; off < v->to; n++) {
		const uint8_t *nl;
		size_t llen;

		/* a lower line already failed: nothing here can be the first */
		if (n > __atomic_load_n(v->first_bad, __ATOMIC_RELAXED))
			return NULL;
		nl = memchr(v->buf + off, '\n', v->to - off);
		if (!nl) {
			size_t rest = v->to - off;
			v->bad = n;
			if (rest > CX_AUDIT_LINE_MAX)
				v->r = cx_err(&v->err, CX_E_AUDIT, E2BIG,
					      "audit log: line %llu: the log ends with %zu bytes after seq %llu without a newline, more than any audit line: not a crash mid-write but tampering",
					      (unsigned long long)n, rest, (unsigned long long)n - 1);
			else
				v->r = cx_err(&v->err, CX_E_AUDIT, EPIPE,
					      "audit log: line %llu is torn: %zu bytes after seq %llu without a newline (a crash mid-write, or cut); calyx-exec repairs it on its next append and keeps the bytes next to the log",
					      (unsigned long long)n, rest, (unsigned long long)n - 1);
			break;
		}
		llen = (size_t)(nl - (v->buf + off));
		if (llen > CX_AUDIT_LINE_MAX) {
			v->bad = n;
			v->r = cx_err(&v->err, CX_E_AUDIT, E2BIG, "audit log: line %llu is too long",
				      (unsigned long long)n);
			break;
		}
		v->r = verify_line((const char *)v->buf + off, llen, n, v->prev, v->pk, &v->err);
		if (v->r < 0) {
			v->bad = n;
			cx_err_prefix(&v->err, "audit log: line %llu", (unsigned long long)n);
			v->err.reason = CX_E_AUDIT;
			break;
		}
		cx_sha256_hex(v->buf + off, llen, v->prev);
		off += llen + 1;
	}
	v->next = n;
	if (v->bad)
		note_bad(v->first_bad, v->bad);
	return NULL;
}

/* Automatic thread count: the CPUs we may run on, for logs big enough to
 * be worth it (1 MiB: about 2,500 lines, 0.15 s on one CPU). */
static unsigned auto_threads(size_t len)
{
	cpu_set_t set;
	int n;

	if (len < (1u << 20) || sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
}

int cx_audit_verify_threads(const uint8_t *buf, size_t len, const uint8_t pk[32],
			    unsigned threads, cx_audit_report *ret, cx_error *err)
{
	vpart parts[16];
	pthread_t tid[16];
	bool started[16] = { false };
	uint64_t first_bad = UINT64_MAX;
	unsigned np = 0;
	size_t off = 0;
	vpart *bad = NULL;

	if (len == 0) { /* an empty log is intact (and buf may be NULL) */
		if (ret) {
			memset(ret, 0, sizeof(*ret));
			memset(ret->head, '0', 64);
		}
		return 0;
	}
	if (threads == 0)
		threads = auto_threads(len);
	if (threads > CX_ARRAY_SIZE(parts))
		threads = CX_ARRAY_SIZE(parts);
	/* Cut the log into `threads` stretches at line starts; each knows its
	 * first line's number and the hash of the line before it, so its
	 * checks are exactly those of one pass in order. */
	memset(parts, 0, sizeof(parts));
	while (off < len) {
		vpart *v = &parts[np];
		size_t to = len;

		if (np + 1 < threads) {
			size_t cut = off + (len - off) / (threads - np);
			const uint8_t *nl = cut < len ? memchr(buf + cut, '\n', len - cut) : NULL;
			to = nl ? (size_t)(nl - buf) + 1 : len;
		}
		v->buf = buf;
		v->pk = pk;
		v->from = off;
		v->to = to;
		v->first_bad = &first_bad;
		if (np == 0) {
			v->first = 1;
			memset(v->prev, '0', 64);
		} else {
			const vpart *u = &parts[np - 1];
			const uint8_t *p = buf + off - 1, *s = p;
			uint64_t k = 0;
			/* line count of the previous stretch, and its last line */
			for (const uint8_t *q = buf + u->from; (q = memchr(q, '\n', (size_t)(buf + off - q)));
			     q++)
				k++;
			while (s > buf && s[-1] != '\n')
				s--;
			v->first = u->first + k;
			cx_sha256_hex(s, (size_t)(p - s), v->prev);
		}
		np++;
		off = to;
	}
	for (unsigned i = 1; i < np; i++)
		started[i] = pthread_create(&tid[i], NULL, verify_part, &parts[i]) == 0;
	verify_part(&parts[0]);
	for (unsigned i = 1; i < np; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			verify_part(&parts[i]); /* no thread: do it here */
	}
	for (unsigned i = 0; i < np; i++)
		if (parts[i].bad && (!bad || parts[i].bad < bad->bad))
			bad = &parts[i];
	if (bad) {
		if (err)
			*err = bad->err;
		return bad->r;
	}
	/* every stretch ran to its end */
	if (ret) {
		ret->lines = parts[np - 1].next - 1;
		ret->last_seq = ret->lines;
		memcpy(ret->head, parts[np - 1].prev, 65);
	}
	return 0;
}

int cx_audit_verify(const uint8_t *buf, size_t len, const uint8_t pk[32],
		    cx_audit_report *ret, cx_error *err)
{
	return cx_audit_verify_threads(buf, len, pk, 0, ret, err);
}
