/* Audit log: signed, hash-chained JSON Lines (format in calyx/audit.h).
 *
 * Why concurrent appends are safe: every appender takes flock(LOCK_EX) on
 * the log before reading its tail, so seq and prev are computed and the
 * line written under one lock; the line goes out in a single write(2) on
 * an O_APPEND fd and is fdatasync'd before the lock is released.
 *
 * What an append vouches for: everything it chains onto is the host
 * key's. Under the lock, the first time, the writer finds the last signed
 * line (a checkpoint), checks its signature, then every line after it: seq
 * +1, prev = hash of the line before, and its mac (only key holders can
 * make one). Later it checks only what other writers added after the point
 * it knows. So a forged, edited or reordered line after the last checkpoint
 * is refused rather than signed over (a checkpoint vouches for everything
 * before it), and so is a log shorter than this writer last saw it (lines
 * cut from its end). Details that could not be built (NULL) are refused,
 * never replaced by {}.
 *
 * Signatures: one per sync group. Deferred-sync lines carry a mac; the
 * sync appends an "audit.checkpoint" line, signed, over the chain head
 * (skipped when the last line is signed already, e.g. another writer's
 * checkpoint), then fdatasyncs. Without deferred syncs every line is
 * signed, as in format v1.
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
 * Verification is line by line and strict (see cx_audit_verify): every
 * line parsed, hashed and chained, the newest checkpoint's signature
 * checked (it vouches for the rest through the chain; see vouch());
 * on a large log the lines are shared out among threads, with the same
 * result as one pass in order. Lines after the last checkpoint are an
 * unsigned tail: reported (cx_audit_report.signed_lines), not vouched for.
 *
 * Forwarding (cx_audit_forward, forward.c): each line, once its write(2)
 * succeeded, is handed to the sinks under the same lock, so receivers get
 * every writer's lines in seq order and never one the log lacks; a sink's
 * failure is only counted. cx_audit_sync (and so close) first appends
 * one audit.forward_failed line when lines failed since the last report,
 * then the checkpoint that vouches for it.
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
#include "forward.h"

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
#define MAC_B64_LEN 44                     /* base64 of 32 bytes */
#define MAC_TAIL_LEN (8 + MAC_B64_LEN + 2) /* ,"mac":"…"} */
#define TAIL_CHUNK 4096                    /* read the tail backwards in these */
/* Lines after the last checkpoint an appender reads back, at most: far
 * more than any sync group (a run's events between two syncs). */
#define TAIL_SCAN_MAX ((off_t)64 << 20)
static const char sig_domain[] = "calyx-audit-v1\n";
static const char mac_domain[] = "calyx-audit-mac-v1\n";
static const char mac_key_ctx[] = "calyx-audit mac key v1";

/* How a line ends: its last member, told by its fixed spelling. */
enum { LINE_OTHER, LINE_SIGNED, LINE_MAC };

struct cx_audit {
	int fd;
	char *path;
	uint8_t sk[64];
	uint8_t pk[32];      /* the host key's public half: lines we chain onto */
	uint8_t mac_key[32]; /* derived from the seed: unsigned lines' macs */
	/* What this writer knows to be the host key's: the log up to known_end
	 * (0: nothing checked yet), its last line's seq and hash, whether that
	 * line is signed, and how many unsigned lines precede it since the
	 * last checkpoint (itself included). */
	off_t known_end;
	uint64_t known_seq;
	char known_hash[65];
	bool known_signed;
	uint64_t known_unsigned;
	bool defer;          /* appends leave the fdatasync to cx_audit_sync */
	bool sign_every;     /* sign every line even when deferring (v1) */
	bool dirty;          /* written since the last fdatasync */
	char last_type[64];  /* of the last unsynced line (fault hooks, messages) */
	cx_fwd *fwd;         /* the sinks every written line also goes to; NULL: none */
};

/* The end of the log as an appender sees it, under the lock. */
typedef struct tail {
	off_t size;    /* file size */
	off_t end;     /* just past the last newline: where the next line goes */
	uint64_t seq;  /* seq of the last intact line; 0 if none */
	char prev[65]; /* its hash; 64 zeros if none */
	bool head_signed;   /* that line is a checkpoint (or there is none) */
	uint64_t unsigned_n; /* unsigned lines since the last checkpoint */
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
	crypto_generichash(a->mac_key, sizeof(a->mac_key), (const uint8_t *)mac_key_ctx,
			   sizeof(mac_key_ctx) - 1, seed, 32);
	*ret = a;
	return 0;
}

void cx_audit_defer_sync(cx_audit *a, bool on)
{
	a->defer = on;
}

void cx_audit_sign_every_line(cx_audit *a, bool on)
{
	a->sign_every = on;
}

int cx_audit_forward(cx_audit *a, const cx_audit_fwd *cfg, cx_error *err)
{
	CX_CHECK(!a->fwd);
	if (!cfg->journald && !cfg->syslog)
		return 0;
	return cx_fwd_open(cfg, &a->fwd, err);
}

static int checkpoint(cx_audit *a, cx_error *err);

/* Lines that failed to forward since the last report: one
 * audit.forward_failed line saying so, per sink (forward.c). */
static int report_forward(cx_audit *a, cx_error *err)
{
	json_t *d = a->fwd ? cx_fwd_report(a->fwd) : NULL;
	int r;

	if (!d)
		return 0;
	r = cx_audit_append(a, "audit.forward_failed", NULL, NULL, d, NULL, err);
	if (r < 0)
		cx_fwd_report_lost(a->fwd); /* reported with the next one */
	return r;
}

int cx_audit_sync(cx_audit *a, cx_error *err)
{
	int r;

	if (!a)
		return 0;
	/* before the checkpoint, which then vouches for it */
	r = report_forward(a, err);
	if (r < 0)
		return r;
	if (!a->dirty)
		return 0;
	if (!a->known_signed) {
		r = checkpoint(a, err);
		if (r < 0)
			return r;
	}
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
	/* callers sync where it matters; this is the backstop (a failure
	 * leaves an unsigned tail, which the next writer's checkpoint covers) */
	(void)cx_audit_sync(a, NULL);
	if (a->dirty)
		(void)fdatasync(a->fd);
	cx_wipe(a->sk, sizeof(a->sk));
	cx_wipe(a->mac_key, sizeof(a->mac_key));
	cx_fwd_close(a->fwd);
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

static int line_kind(const char *line, size_t len)
{
	if (len >= SIG_TAIL_LEN + 2 && memcmp(line + len - SIG_TAIL_LEN, ",\"sig\":\"", 8) == 0 &&
	    memcmp(line + len - 2, "\"}", 2) == 0)
		return LINE_SIGNED;
	if (len >= MAC_TAIL_LEN + 2 && memcmp(line + len - MAC_TAIL_LEN, ",\"mac\":\"", 8) == 0 &&
	    memcmp(line + len - 2, "\"}", 2) == 0)
		return LINE_MAC;
	return LINE_OTHER;
}

/* The line's "sig" member is its last, spelled exactly so, canonical
 * base64 of 64 bytes (into sigb): 0, or -EINVAL with err set. */
static int sig_form(const char *line, size_t len, const char *sig, uint8_t sigb[64], cx_error *err)
{
	if (len < SIG_TAIL_LEN + 2 || strlen(sig) != SIG_B64_LEN ||
	    memcmp(line + len - SIG_TAIL_LEN, ",\"sig\":\"", 8) != 0 ||
	    memcmp(line + len - SIG_TAIL_LEN + 8, sig, SIG_B64_LEN) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0)
		return cx_err(err, CX_E_AUDIT, EINVAL, "sig is not the last member of the line");
	if (cx_b64_decode(sig, SIG_B64_LEN, sigb, 64, 64) != 64)
		return cx_err(err, CX_E_AUDIT, EINVAL, "sig is not canonical base64 of 64 bytes");
	return 0;
}

/* sigb is an Ed25519 signature by pk over "calyx-audit-v1\n" and the
 * line without its (last) sig member: 0, or -EPERM with err set. */
static int sig_valid(const char *line, size_t len, const uint8_t sigb[64], const uint8_t pk[32],
		     cx_error *err)
{
	_cleanup_free_ uint8_t *msg = NULL;
	size_t dl = sizeof(sig_domain) - 1, blen = len - SIG_TAIL_LEN;

	msg = malloc(dl + blen + 1);
	CX_CHECK(msg);
	memcpy(msg, sig_domain, dl);
	memcpy(msg + dl, line, blen);
	msg[dl + blen] = '}';
	if (crypto_sign_verify_detached(sigb, msg, dl + blen + 1, pk) != 0)
		return cx_err(err, CX_E_AUDIT, EPERM, "signature does not verify with the host key (line edited or forged)");
	return 0;
}

/* Both: the form, then the signature. */
static int check_sig(const char *line, size_t len, const char *sig, const uint8_t pk[32],
		     cx_error *err)
{
	uint8_t sigb[64];
	int r = sig_form(line, len, sig, sigb, err);
	return r < 0 ? r : sig_valid(line, len, sigb, pk, err);
}

/* The mac of a line whose bytes up to its mac member are body[0, blen),
 * followed by "}". */
static void line_mac(const uint8_t key[32], const char *body, size_t blen, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)mac_domain, sizeof(mac_domain) - 1);
	crypto_generichash_update(&st, (const uint8_t *)body, blen);
	crypto_generichash_update(&st, (const uint8_t *)"}", 1);
	crypto_generichash_final(&st, out, 32);
}

/* The line ends with its mac member (line_kind said so), canonical base64
 * of 32 bytes; with key, also that it is this key's mac of the line. */
static int check_mac(const char *line, size_t len, const uint8_t *key, cx_error *err)
{
	uint8_t m[32], want[32];

	if (cx_b64_decode(line + len - MAC_TAIL_LEN + 8, MAC_B64_LEN, m, 32, 32) != 32)
		return cx_err(err, CX_E_AUDIT, EINVAL, "mac is not canonical base64 of 32 bytes");
	if (!key)
		return 0;
	line_mac(key, line, len - MAC_TAIL_LEN, want);
	if (sodium_memcmp(m, want, 32) != 0)
		return cx_err(err, CX_E_AUDIT, EPERM, "its mac does not verify with the host key (line edited or forged)");
	return 0;
}

/* Under the lock: the start of the last signed line in the log's intact
 * part [0, end): 1 with *ret_start, 0 if there is none (a log whose lines
 * are all unsigned: its first writer died before its first checkpoint). */
static int find_checkpoint(cx_audit *a, off_t end, off_t *ret_start, cx_error *err)
{
	char tailb[SIG_TAIL_LEN];
	off_t pos = end, nl, start;
	int r;

	while (pos > 0) {
		nl = pos - 1; /* the newline ending this line */
		r = find_newline_back(a->fd, nl > CX_AUDIT_LINE_MAX + 1 ? nl - CX_AUDIT_LINE_MAX - 1 : 0,
				      nl, &start);
		if (r < 0)
			return cx_err(err, CX_E_AUDIT, -r, "cannot read audit log '%s': %s", a->path,
				      strerror(-r));
		if (r == 0 && nl > CX_AUDIT_LINE_MAX)
			return cx_err(err, CX_E_AUDIT, E2BIG,
				      "audit log '%s': a line is too long (run 'calyx-audit verify')", a->path);
		start = r ? start + 1 : 0;
		if (nl - start >= SIG_TAIL_LEN + 2) {
			r = pread_all(a->fd, tailb, SIG_TAIL_LEN, nl - SIG_TAIL_LEN);
			if (r < 0)
				return cx_err(err, CX_E_AUDIT, -r, "cannot read audit log '%s': %s",
					      a->path, strerror(-r));
			if (memcmp(tailb, ",\"sig\":\"", 8) == 0 &&
			    memcmp(tailb + SIG_TAIL_LEN - 2, "\"}", 2) == 0) {
				*ret_start = start;
				return 1;
			}
		}
		if (end - start > TAIL_SCAN_MAX)
			return cx_err(err, CX_E_AUDIT, E2BIG,
				      "audit log '%s': no signed line in its last %lld MiB, more than any sync group writes (keep the log as evidence, check it with 'calyx-audit verify'; calyx-exec will not chain onto it)",
				      a->path, (long long)(TAIL_SCAN_MAX >> 20));
		pos = start;
	}
	*ret_start = 0;
	return 0;
}

/* Under the lock, t->end set: check that what the next line chains onto is
 * the host key's, and set t->seq, t->prev, t->head_signed, t->unsigned_n.
 * The first time from the last checkpoint (its signature), later from
 * where this writer's knowledge ends; every line after that: an audit
 * event, seq +1, prev = hash of the line before, a valid signature or mac. */
static int authenticate(cx_audit *a, tail *t, cx_error *err)
{
	_cleanup_free_ char *buf = NULL;
	bool from_ckpt = false;
	uint64_t seq = 0, nuns = 0;
	bool head_signed = true;
	char prev[65];
	off_t from = 0;
	size_t len, off;
	int r;

	memset(prev, '0', 64);
	prev[64] = 0;
	if (a->known_end > t->end)
		return cx_err(err, CX_E_AUDIT, EPERM,
			      "audit log '%s' is shorter than when this writer last appended to it (%lld bytes of lines, now %lld): lines were cut from its end (keep it as evidence, check it with 'calyx-audit verify'; calyx-exec will not chain onto it)",
			      a->path, (long long)a->known_end, (long long)t->end);
	if (a->known_end > 0) {
		from = a->known_end;
		seq = a->known_seq;
		memcpy(prev, a->known_hash, sizeof(prev));
		head_signed = a->known_signed;
		nuns = a->known_unsigned;
	} else if (t->end > 0) {
		r = find_checkpoint(a, t->end, &from, err);
		if (r < 0)
			return r;
		from_ckpt = r == 1;
	}
	if (t->end - from > TAIL_SCAN_MAX)
		return cx_err(err, CX_E_AUDIT, E2BIG,
			      "audit log '%s': more than %lld MiB of lines to check after the last checkpoint this writer knows (keep the log as evidence, check it with 'calyx-audit verify'; calyx-exec will not chain onto it)",
			      a->path, (long long)(TAIL_SCAN_MAX >> 20));
	len = (size_t)(t->end - from);
	buf = malloc(len + 1);
	CX_CHECK(buf);
	r = pread_all(a->fd, buf, len, from);
	if (r < 0)
		return cx_err(err, CX_E_AUDIT, -r, "cannot read the tail of audit log '%s': %s",
			      a->path, strerror(-r));
	for (off = 0; off < len;) {
		const char *line = buf + off, *nlp = memchr(line, '\n', len - off);
		_cleanup_json_ json_t *j = NULL;
		cx_error e = { 0 };
		size_t llen;
		json_t *js, *jp;
		int kind;

		CX_CHECK(nlp); /* t->end is just past a newline */
		llen = (size_t)(nlp - line);
		if (llen > CX_AUDIT_LINE_MAX)
			return cx_err(err, CX_E_AUDIT, E2BIG,
				      "audit log '%s': a line after seq %llu is too long (run 'calyx-audit verify')",
				      a->path, (unsigned long long)seq);
		j = cx_json_loadb(line, llen, JSON_REJECT_DUPLICATES, NULL);
		js = json_object_get(j, "seq");
		jp = json_object_get(j, "prev");
		if (!j || !json_is_integer(js) || json_integer_value(js) < 1 || !json_is_string(jp)) {
			if (off + llen + 1 == len)
				return cx_err(err, CX_E_AUDIT, EINVAL,
					      "audit log '%s': last line is not an audit event (run 'calyx-audit verify')",
					      a->path);
			return cx_err(err, CX_E_AUDIT, EINVAL,
				      "audit log '%s': a line after seq %llu is not an audit event (run 'calyx-audit verify')",
				      a->path, (unsigned long long)seq);
		}
		if (!(from_ckpt && off == 0) &&
		    ((uint64_t)json_integer_value(js) != seq + 1 || strcmp(json_string_value(jp), prev) != 0))
			return cx_err(err, CX_E_AUDIT, EPERM,
				      "audit log '%s': its line at seq %lld does not chain onto the line before it (seq or prev wrong: a line edited, inserted, removed or reordered after the last checkpoint; keep the log as evidence, check it with 'calyx-audit verify'; calyx-exec will not chain onto it)",
				      a->path, (long long)json_integer_value(js));
		seq = (uint64_t)json_integer_value(js);
		kind = line_kind(line, llen);
		if (kind == LINE_SIGNED) {
			json_t *sig = json_object_get(j, "sig");
			r = json_is_string(sig) ? check_sig(line, llen, json_string_value(sig), a->pk, &e)
						: cx_err(&e, CX_E_AUDIT, EINVAL, "it has no sig member");
		} else if (kind == LINE_MAC) {
			r = check_mac(line, llen, a->mac_key, &e);
		} else {
			r = cx_err(&e, CX_E_AUDIT, EINVAL, "it has neither a sig nor a mac member");
		}
		if (r < 0)
			return cx_err(err, CX_E_AUDIT, EPERM,
				      "audit log '%s': its line at seq %llu is not signed by this host's key: %s (keep the log as evidence and check it with 'calyx-audit verify'; calyx-exec will not chain onto it)",
				      a->path, (unsigned long long)seq, e.msg);
		head_signed = kind == LINE_SIGNED;
		nuns = head_signed ? 0 : nuns + 1;
		cx_sha256_hex(line, llen, prev);
		off += llen + 1;
	}
	a->known_end = t->end;
	a->known_seq = t->seq = seq;
	memcpy(a->known_hash, prev, sizeof(prev));
	memcpy(t->prev, prev, sizeof(prev));
	a->known_signed = t->head_signed = head_signed;
	a->known_unsigned = t->unsigned_n = nuns;
	return 0;
}

/* Under the lock: where the log's intact part ends, the seq and hash of its
 * last line, and the torn bytes after it if any (*ret_torn, malloc'd). */
static int read_tail(cx_audit *a, tail *t, uint8_t **ret_torn, size_t *ret_torn_len,
		     cx_error *err)
{
	_cleanup_free_ uint8_t *torn = NULL;
	struct stat st;
	off_t nl;
	size_t torn_len;
	int r;

	memset(t, 0, sizeof(*t));
	memset(t->prev, '0', 64);
	if (fstat(a->fd, &st) < 0)
		return cx_err(err, CX_E_AUDIT, errno, "audit log '%s': %s", a->path, strerror(errno));
	t->size = st.st_size;
	*ret_torn = NULL;
	*ret_torn_len = 0;
	if (t->size > 0) {
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
	}
	torn_len = (size_t)(t->size - t->end);
	if (torn_len) {
		torn = malloc(torn_len);
		CX_CHECK(torn);
		r = pread_all(a->fd, torn, torn_len, t->end);
		if (r < 0)
			return cx_err(err, CX_E_AUDIT, -r, "cannot read the tail of audit log '%s': %s",
				      a->path, strerror(-r));
	}
	/* what the next line chains onto (and a repair, before it) */
	r = authenticate(a, t, err);
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

/* Under the lock: append one line after t (details stolen), signed when
 * sign (a checkpoint) or with its mac, and advance t to it. */
static int append_line(cx_audit *a, tail *t, const char *type, const char *lease_id,
		       const char *run_id, json_t *details, bool sign, cx_error *err)
{
	_cleanup_free_ char *body = NULL, *line = NULL;
	char ts[64], sig[SIG_B64_LEN + 1], hash[65];
	uint8_t mac[32];
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
	if (sign) {
		sign_body(a->sk, body, blen, sig);
		llen = blen - 1 + SIG_TAIL_LEN + 1;
	} else {
		line_mac(a->mac_key, body, blen - 1, mac);
		cx_b64_encode(mac, 32, sig);
		llen = blen - 1 + MAC_TAIL_LEN + 1;
	}
	line = malloc(llen + 1);
	CX_CHECK(line);
	snprintf(line, llen + 1, "%.*s,\"%s\":\"%s\"}\n", (int)(blen - 1), body, sign ? "sig" : "mac",
		 sig);
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
	/* Written: forwarded now, still under the lock (forward.c says why),
	 * whatever the sync below does: the line is in the log. */
	cx_sha256_hex(line, llen - 1, hash);
	if (a->fwd)
		cx_fwd_send(a->fwd, &(cx_fwd_line){ .seq = t->seq + 1, .time = ts, .type = type,
						    .lease_id = lease_id, .run_id = run_id,
						    .line = line, .len = llen - 1, .sha256 = hash,
						    .prev = t->prev });
	if (a->defer) {
		a->dirty = true;
		snprintf(a->last_type, sizeof(a->last_type), "%s", type);
	} else if (AUDIT_SYNC(a->fd, type) < 0) {
		return cx_err(err, CX_E_AUDIT, errno,
			      "cannot sync audit log '%s': %s (the event was written but may not be durable; fix the disk it is on)",
			      a->path, strerror(errno));
	}
	memcpy(t->prev, hash, sizeof(hash));
	t->seq++;
	t->size += (off_t)llen;
	t->end = t->size;
	t->head_signed = sign;
	t->unsigned_n = sign ? 0 : t->unsigned_n + 1;
	a->known_end = t->end;
	a->known_seq = t->seq;
	memcpy(a->known_hash, t->prev, sizeof(a->known_hash));
	a->known_signed = t->head_signed;
	a->known_unsigned = t->unsigned_n;
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
	return append_line(a, t, "audit.repaired", NULL, NULL, d, !a->defer || a->sign_every, err);
}

/* Take the log's lock, then: where it ends, what that chains onto checked,
 * a torn last line repaired. 0 with the lock held and *t set; < 0 with
 * the lock released. */
static int lock_tail(cx_audit *a, tail *t, cx_error *err)
{
	_cleanup_free_ uint8_t *torn = NULL;
	size_t torn_len = 0;
	int r;

	while (flock(a->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cx_err(err, CX_E_AUDIT, errno, "cannot lock audit log '%s': %s",
				      a->path, strerror(errno));
	r = read_tail(a, t, &torn, &torn_len, err);
	if (r == 0 && torn_len) {
		r = repair_torn(a, t, torn, torn_len, err);
		if (r < 0)
			cx_err_prefix(err, "audit log '%s' ends with a torn line (%zu bytes after seq %llu), not repaired",
				      a->path, torn_len, (unsigned long long)t->seq);
	}
	if (r < 0)
		flock(a->fd, LOCK_UN);
	return r;
}

int cx_audit_append(cx_audit *a, const char *type, const char *lease_id, const char *run_id,
		    json_t *details, uint64_t *ret_seq, cx_error *err)
{
	tail t = { 0 };
	int r;

	if (!details)
		return cx_err(err, CX_E_AUDIT, EINVAL,
			      "the details of audit event '%s' could not be built, so it was not written (nothing of it lands; this is a calyx bug: report it)",
			      type);
	r = lock_tail(a, &t, err);
	if (r < 0) {
		json_decref(details);
		return r;
	}
	r = append_line(a, &t, type, lease_id, run_id, details, !a->defer || a->sign_every, err);
	if (r == 0 && ret_seq)
		*ret_seq = t.seq;
	flock(a->fd, LOCK_UN);
	return r;
}

/* The sync's checkpoint: a signed line over the chain head, unless the
 * head is signed already (another writer's checkpoint came after our
 * lines, or the last line is ours and signed). */
static int checkpoint(cx_audit *a, cx_error *err)
{
	tail t = { 0 };
	int r;

	r = lock_tail(a, &t, err);
	if (r < 0)
		return r;
	if (!t.head_signed) {
		json_t *d = json_pack("{s:I}", "lines", (json_int_t)t.unsigned_n);
		char last[sizeof(a->last_type)];
		/* the sync still names the last event (messages, fault hooks) */
		memcpy(last, a->last_type, sizeof(last));
		if (!d)
			r = cx_err(err, CX_E_AUDIT, ENOMEM, "cannot build the details of 'audit.checkpoint'");
		else
			r = append_line(a, &t, "audit.checkpoint", NULL, NULL, d, true, err);
		memcpy(a->last_type, last, sizeof(last));
	}
	flock(a->fd, LOCK_UN);
	return r;
}

/* ---- verification ------------------------------------------------------ */

/* One line: an audit event of seq want_seq chained onto prev, ending with
 * a sig (a checkpoint) or a mac, each checked for its form only (a mac
 * takes the host seed to check; the signatures are checked after the
 * chain, see cx_audit_verify_threads); *ret_signed says which. */
static int verify_line(const char *line, size_t len, uint64_t want_seq, const char *prev,
		       bool *ret_signed, cx_error *err)
{
	static const char *const req_sig[] = { "seq", "time", "type", "details", "prev", "sig", NULL };
	static const char *const req_mac[] = { "seq", "time", "type", "details", "prev", "mac", NULL };
	static const char *const opt[] = { "lease_id", "run_id", NULL };
	_cleanup_json_ json_t *j = NULL;
	const char *sig, *p;
	int64_t seq;
	int kind = line_kind(line, len), r;

	r = cx_json_parse_object((const uint8_t *)line, len, "audit line", &j, err);
	if (r == 0 && kind == LINE_OTHER)
		r = cx_err(err, CX_E_AUDIT, EINVAL,
			   "the line ends with neither a sig member (signed) nor a mac member (unsigned)");
	if (r == 0)
		r = cx_json_keys(j, "audit line", CX_E_AUDIT, kind == LINE_SIGNED ? req_sig : req_mac,
				 opt, err);
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
		return cx_err(err, CX_E_AUDIT, EINVAL,
			      "prev does not match the hash of the line before (chain broken: this line or the one before it was edited, inserted or reordered)");
	*ret_signed = kind == LINE_SIGNED;
	if (kind == LINE_MAC) {
		r = cx_json_str(j, "mac", "audit line", CX_E_AUDIT, MAC_B64_LEN, false, &sig, err);
		if (r == 0 && (strlen(sig) != MAC_B64_LEN ||
			       memcmp(line + len - MAC_TAIL_LEN + 8, sig, MAC_B64_LEN) != 0))
			r = cx_err(err, CX_E_AUDIT, EINVAL, "mac is not the last member of the line");
		return r < 0 ? r : check_mac(line, len, NULL, err);
	}
	r = cx_json_str(j, "sig", "audit line", CX_E_AUDIT, SIG_B64_LEN, false, &sig, err);
	if (r < 0)
		return r;
	/* The sig member must be the last one, spelled exactly so. */
	uint8_t sigb[64];
	return sig_form(line, len, sig, sigb, err);
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
	uint64_t last_signed; /* its last signed line (form checked), 0 if none */
	size_t last_signed_off; /* where that line starts */
	uint64_t sigs;      /* its signed lines (form checked) */
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
		bool sig = false;
		v->r = verify_line((const char *)v->buf + off, llen, n, v->prev, &sig, &v->err);
		if (v->r < 0) {
			v->bad = n;
			cx_err_prefix(&v->err, "audit log: line %llu", (unsigned long long)n);
			v->err.reason = CX_E_AUDIT;
			break;
		}
		if (sig) {
			v->last_signed = n;
			v->last_signed_off = off;
			v->sigs++;
		}
		cx_sha256_hex(v->buf + off, llen, v->prev);
		off += llen + 1;
	}
	v->next = n;
	if (v->bad)
		note_bad(v->first_bad, v->bad);
	return NULL;
}

/* Why one signature vouches for every line before it: each line's prev
 * is the hash of the line before, and a checkpoint's signature covers its
 * own prev; so the newest valid checkpoint fixes every byte of every line
 * up to it, which the chain check has already matched. Checking each
 * older checkpoint's signature too would add nothing but time (about one
 * Ed25519 verification per sync group): the host key signed a head that
 * includes them. So verify checks the newest one, and walks back only
 * when it fails: from line n (starting at off), the signed lines in turn
 * until one verifies. *ret_vouched: that line's number (0: none). Returns
 * the earliest line whose signature failed on the way (err set for it),
 * or 0. */
static uint64_t vouch(const uint8_t *buf, size_t len, uint64_t n, size_t off, const uint8_t pk[32],
		      uint64_t *ret_vouched, cx_error *err)
{
	uint64_t first_bad = 0;

	*ret_vouched = 0;
	for (;;) {
		const char *line = (const char *)buf + off;
		/* the chain check found its newline */
		const char *nl = memchr(line, '\n', len - off);
		size_t llen = nl ? (size_t)(nl - line) : len - off;
		uint8_t sigb[64];
		cx_error e = { 0 };

		if (line_kind(line, llen) == LINE_SIGNED) {
			/* its form was checked with the chain */
			int r = cx_b64_decode(line + llen - SIG_TAIL_LEN + 8, SIG_B64_LEN, sigb, 64, 64) == 64
					? sig_valid(line, llen, sigb, pk, &e)
					: -EINVAL;
			if (r == 0) {
				*ret_vouched = n;
				return first_bad;
			}
			first_bad = n;
			*err = e;
			cx_err_prefix(err, "audit log: line %llu", (unsigned long long)n);
			err->reason = CX_E_AUDIT;
		}
		if (off == 0)
			return first_bad;
		/* the line before: back over its newline to its start */
		size_t s = off - 1;
		while (s > 0 && buf[s - 1] != '\n')
			s--;
		off = s;
		n--;
	}
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
			memset(ret, 0, sizeof(*ret)); /* 0 lines, all 0 of them signed */
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
	/* The signatures: the newest checkpoint before the first bad line
	 * (a stretch after it may have gone on past it), then, only if it
	 * fails, the ones before it (vouch). */
	uint64_t limit = bad ? bad->bad : UINT64_MAX, cand = 0, sigs = 0;
	size_t cand_off = 0;
	for (unsigned i = 0; i < np; i++) {
		if (parts[i].last_signed < limit && parts[i].last_signed > cand) {
			cand = parts[i].last_signed;
			cand_off = parts[i].last_signed_off;
		}
		sigs += parts[i].sigs;
	}
	uint64_t vouched = 0;
	cx_error serr = { 0 };
	uint64_t sig_bad = cand ? vouch(buf, len, cand, cand_off, pk, &vouched, &serr) : 0;
	if (sig_bad || bad) {
		if (ret) {
			memset(ret, 0, sizeof(*ret));
			ret->signed_lines = vouched;
		}
		if (err)
			*err = sig_bad ? serr : bad->err;
		return sig_bad ? (serr.errnum ? -serr.errnum : -EPERM) : bad->r;
	}
	/* every stretch ran to its end */
	if (ret) {
		ret->lines = parts[np - 1].next - 1;
		ret->last_seq = ret->lines;
		memcpy(ret->head, parts[np - 1].prev, 65);
		ret->signed_lines = vouched;
		ret->checkpoints = sigs;
	}
	return 0;
}

int cx_audit_verify(const uint8_t *buf, size_t len, const uint8_t pk[32],
		    cx_audit_report *ret, cx_error *err)
{
	return cx_audit_verify_threads(buf, len, pk, 0, ret, err);
}
