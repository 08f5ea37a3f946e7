/* Audit forwarding (forward.h): every line the audit log writes is also
 * sent to journald and/or syslog, for a SIEM to collect.
 *
 * The choices, and why:
 * - When: right after the line's write(2), under the log's lock (log.c,
 *   append_line). A receiver never gets a line the log does not hold, and
 *   the lines of concurrent writers reach it in seq order. The one
 *   exception: a power loss before the line's fdatasync can take lines from
 *   the log's end (docs/audit-events.md, "Durability"); the receiver then
 *   holds a line whose seq the log gives again to another line, with
 *   another line_sha256. The log after the crash is the truth; the
 *   forwarded copy is evidence of what was lost.
 * - Never waiting for a receiver: each send holds the log's lock, so a
 *   send that blocked would stall every writer on the host. syslog goes
 *   out with MSG_DONTWAIT. journald is reached through libsystemd, whose
 *   sd_journal_sendv writes on a blocking socket of its own (no flag to
 *   change that), so a socket of ours, connected to the same path, is
 *   polled first: journald's queue full means not writable, and the line
 *   is counted as failed instead of waited for. That probe also tells a
 *   journald that is not running (no socket, or nobody bound to it), which
 *   sd_journal_sendv reports as success: it drops messages on ENOENT by
 *   design. What is left: journald's queue filling between the poll and
 *   the send (other writers, in that microsecond) blocks the send until
 *   journald reads one message.
 * - libsystemd by dlopen, at cx_fwd_open (when a writer with journald
 *   forwarding opens the log): calyx-exec links its libraries statically
 *   to start fast (Makefile, EXEC_STATIC_LIBS) and linking libsystemd would
 *   load its six dependencies into every run's start, forwarding or not.
 *   Not loadable: cx_fwd_open fails (E_AUDIT), the writer fails closed.
 *   The soname is resolved by the loader's standard search; calyx runs as
 *   root from root's environment, which it trusts like its own binary.
 * - Failures are counted per sink; log.c asks cx_fwd_report at each sync
 *   and appends its details as one audit.forward_failed line. A failure
 *   of the log's own bookkeeping lines (audit.checkpoint and
 *   audit.forward_failed) is counted but does not call for a report by
 *   itself: a dead sink cannot make the log report itself in a loop.
 * Trust: runs as root; the socket paths come from the root-owned config;
 * receivers are told nothing they could not read in the log. */
#include "forward.h"

#include <dlfcn.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

enum { SINK_JOURNALD, SINK_SYSLOG, SINK_N };
static const char *const sink_name[SINK_N] = { "journald", "syslog" };

/* One sink's counts since the last report. */
typedef struct fwd_sink {
	bool on;
	uint64_t forwarded, failed;
	uint64_t first_seq, last_seq; /* of the failed lines */
	bool due;                     /* a line that is not bookkeeping failed */
	char error[256];              /* the first failure */
} fwd_sink;

struct cx_fwd {
	fwd_sink s[SINK_N];
	fwd_sink held[SINK_N]; /* what the last report took (cx_fwd_report_lost) */
	int jprobe;            /* journald: connected and polled before each send */
	int sfd;               /* syslog: sendto the configured path */
	struct sockaddr_un sa;
	socklen_t salen;
	int facility;
	char *host_id;
	char hostname[256];
};

/* Process-wide: libsystemd stays loaded once opened (a library with
 * destructors is not unloaded under its users). */
typedef int (*sendv_fn)(const struct iovec *iov, int n);
static sendv_fn sd_sendv;
static void *sd_dl; /* the handle, kept with it */

static int load_libsystemd(cx_error *err)
{
	void *dl;

	if (sd_sendv)
		return 0;
	dl = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return cx_err(err, CX_E_AUDIT, ENOENT,
			      "audit forwarding to journald is configured, but libsystemd.so.0 cannot be opened: %s (install libsystemd0, or set \"journald\": false in the config's audit_forward)",
			      dlerror());
	*(void **)&sd_sendv = dlsym(dl, "sd_journal_sendv");
	if (!sd_sendv) {
		dlclose(dl);
		return cx_err(err, CX_E_AUDIT, ENOENT,
			      "audit forwarding to journald is configured, but libsystemd.so.0 has no sd_journal_sendv (install Debian's libsystemd0, or set \"journald\": false in the config's audit_forward)");
	}
	sd_dl = dl;
	return 0;
}

/* 1..max characters, each printable US-ASCII but space (RFC 5424's
 * PRINTUSASCII: what its header fields are made of). */
static bool token_ok(const char *s, size_t max)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 33 || (unsigned char)s[n] > 126 || n >= max)
			return false;
	return n > 0;
}

int cx_fwd_severity(const char *type)
{
	static const char *const warn[] = { "rejected", "failed", "forward_failed", "breach", "denied",
					    "repaired", "undo_refused", "ambiguous" };
	const char *dot = strrchr(type, '.'), *last = dot ? dot + 1 : type;

	for (size_t i = 0; i < CX_ARRAY_SIZE(warn); i++)
		if (strcmp(last, warn[i]) == 0)
			return 4;
	return 6;
}

/* One SD-PARAM, its value escaped as RFC 5424 6.3.3 says: '"', '\' and
 * ']' preceded by a backslash; every other byte (UTF-8) as it is. */
static void sd_param(FILE *o, const char *name, const char *v)
{
	if (!v)
		return;
	fprintf(o, " %s=\"", name);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			fputc('\\', o);
		fputc(*v, o);
	}
	fputc('"', o);
}

char *cx_fwd_rfc5424(const cx_fwd_line *l, int facility, const char *hostname, long pid,
		     size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	bool ascii = true;
	FILE *o = open_memstream(&buf, &len);

	CX_CHECK(o);
	/* HEADER: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID */
	fprintf(o, "<%d>1 %s %s %s %ld %s ", facility * 8 + cx_fwd_severity(l->type),
		token_ok(l->time, 48) ? l->time : "-", token_ok(hostname, 255) ? hostname : "-",
		CX_FWD_IDENT, pid, token_ok(l->type, 32) ? l->type : "-");
	/* STRUCTURED-DATA: one element */
	fprintf(o, "[%s seq=\"%llu\"", CX_FWD_SD_ID, (unsigned long long)l->seq);
	sd_param(o, "type", l->type);
	sd_param(o, "lease_id", l->lease_id);
	sd_param(o, "run_id", l->run_id);
	sd_param(o, "host_id", l->host_id);
	sd_param(o, "line_sha256", l->sha256);
	sd_param(o, "prev", l->prev);
	fputs("] ", o);
	/* MSG: the line. calyx writes lines in ASCII (\u escapes); should one
	 * hold other bytes, it goes as MSG-UTF8, after the BOM RFC 5424 asks. */
	for (size_t i = 0; i < l->len; i++)
		if ((unsigned char)l->line[i] >= 0x80)
			ascii = false;
	if (!ascii)
		fputs("\xEF\xBB\xBF", o);
	fwrite(l->line, 1, l->len, o);
	CX_CHECK(fclose(o) == 0);
	*ret_len = len;
	return buf;
}

static char *field(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *field(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	CX_CHECK(n >= 0);
	return s;
}

size_t cx_fwd_journal_fields(const cx_fwd_line *l, int facility, char *out[CX_FWD_JOURNAL_FIELDS])
{
	unsigned long long seq = (unsigned long long)l->seq;
	size_t n = 0;

	out[n++] = field("MESSAGE=%s (calyx audit seq %llu%s%s%s%s)", l->type, seq,
			 l->lease_id ? ", lease " : "", l->lease_id ? l->lease_id : "",
			 l->run_id ? ", run " : "", l->run_id ? l->run_id : "");
	out[n++] = field("PRIORITY=%d", cx_fwd_severity(l->type));
	out[n++] = field("SYSLOG_FACILITY=%d", facility);
	out[n++] = field("SYSLOG_IDENTIFIER=%s", CX_FWD_IDENT);
	out[n++] = field("CALYX_SEQ=%llu", seq);
	out[n++] = field("CALYX_TYPE=%s", l->type);
	if (l->lease_id)
		out[n++] = field("CALYX_LEASE_ID=%s", l->lease_id);
	if (l->run_id)
		out[n++] = field("CALYX_RUN_ID=%s", l->run_id);
	if (l->host_id)
		out[n++] = field("CALYX_HOST_ID=%s", l->host_id);
	out[n++] = field("CALYX_TIME=%s", l->time);
	out[n++] = field("CALYX_LINE_SHA256=%s", l->sha256);
	out[n++] = field("CALYX_PREV=%s", l->prev);
	out[n++] = field("CALYX_EVENT=%.*s", (int)l->len, l->line);
	CX_CHECK(n <= CX_FWD_JOURNAL_FIELDS);
	return n;
}

static void get_hostname(char out[256])
{
	if (gethostname(out, 256) < 0)
		out[0] = 0;
	out[255] = 0;
	if (!token_ok(out, 255))
		snprintf(out, 256, "-");
}

void cx_fwd_close(cx_fwd *f)
{
	if (!f)
		return;
	if (f->jprobe >= 0)
		close(f->jprobe);
	if (f->sfd >= 0)
		close(f->sfd);
	free(f->host_id);
	free(f);
}
CX_DEFINE_POINTER_CLEANUP(cx_fwd, cx_fwd_close)

int cx_fwd_open(const cx_audit_fwd *cfg, cx_fwd **ret, cx_error *err)
{
	_cleanup_(cx_fwd_closep) cx_fwd *f = cx_calloc(1, sizeof(*f));
	int r;

	CX_CHECK(cfg->facility >= 0 && cfg->facility <= 23);
	f->jprobe = f->sfd = -1;
	f->facility = cfg->facility;
	f->host_id = cfg->host_id ? cx_strdup(cfg->host_id) : NULL;
	get_hostname(f->hostname);
	if (cfg->journald) {
		r = load_libsystemd(err);
		if (r < 0)
			return r;
		f->jprobe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (f->jprobe < 0)
			return cx_err(err, CX_E_AUDIT, errno,
				      "cannot create a socket to forward audit events to journald: %s",
				      strerror(errno));
		f->s[SINK_JOURNALD].on = true;
	}
	if (cfg->syslog) {
		/* room for the largest line and its header (the kernel doubles it) */
		int sz = (int)CX_AUDIT_LINE_MAX + 65536;
		size_t pl = strlen(cfg->syslog);
		if (pl >= sizeof(f->sa.sun_path))
			return cx_err(err, CX_E_AUDIT, ENAMETOOLONG,
				      "audit forwarding: syslog socket path '%.200s' is too long", cfg->syslog);
		f->sfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (f->sfd < 0)
			return cx_err(err, CX_E_AUDIT, errno,
				      "cannot create a socket to forward audit events to syslog: %s",
				      strerror(errno));
		if (setsockopt(f->sfd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			(void)setsockopt(f->sfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		f->sa.sun_family = AF_UNIX;
		memcpy(f->sa.sun_path, cfg->syslog, pl + 1);
		f->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl + 1);
		f->s[SINK_SYSLOG].on = true;
	}
	*ret = TAKE_PTR(f);
	return 0;
}

/* journald: 0, or -errno with why set. */
static int send_journald(cx_fwd *f, const cx_fwd_line *l, char *why, size_t n)
{
	static const struct sockaddr_un sa = { .sun_family = AF_UNIX,
					       .sun_path = CX_FWD_JOURNAL_SOCKET };
	struct pollfd p = { .fd = f->jprobe, .events = POLLOUT };
	char *fields[CX_FWD_JOURNAL_FIELDS];
	struct iovec iov[CX_FWD_JOURNAL_FIELDS];
	size_t k;
	int r;

	if (connect(f->jprobe, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(why, n, "journald is not reachable at '%s': %s", CX_FWD_JOURNAL_SOCKET,
			 strerror(-r));
		return r;
	}
	r = poll(&p, 1, 0);
	if (r != 1 || !(p.revents & POLLOUT)) {
		snprintf(why, n, "journald's queue at '%s' is full (journald stopped or behind): not sent rather than wait",
			 CX_FWD_JOURNAL_SOCKET);
		return -EAGAIN;
	}
	k = cx_fwd_journal_fields(l, f->facility, fields);
	for (size_t i = 0; i < k; i++)
		iov[i] = (struct iovec){ .iov_base = fields[i], .iov_len = strlen(fields[i]) };
	r = sd_sendv(iov, (int)k);
	for (size_t i = 0; i < k; i++)
		free(fields[i]);
	if (r < 0)
		snprintf(why, n, "sd_journal_sendv: %s", strerror(-r));
	return r < 0 ? r : 0;
}

/* syslog: 0, or -errno with why set. */
static int send_syslog(cx_fwd *f, const cx_fwd_line *l, char *why, size_t n)
{
	_cleanup_free_ char *m = NULL;
	size_t len;
	ssize_t w;
	int e;

	m = cx_fwd_rfc5424(l, f->facility, f->hostname, (long)getpid(), &len);
	w = sendto(f->sfd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&f->sa,
		   f->salen);
	if (w == (ssize_t)len)
		return 0;
	e = w < 0 ? errno : EMSGSIZE;
	snprintf(why, n, "cannot send to '%s': %s", f->sa.sun_path,
		 e == EAGAIN ? "its queue is full (the receiver is stopped or behind)" : strerror(e));
	return -e;
}

static void counted(fwd_sink *s, const cx_fwd_line *l, int r, bool bookkeeping, const char *why)
{
	if (r == 0) {
		s->forwarded++;
		return;
	}
	if (!s->failed) {
		snprintf(s->error, sizeof(s->error), "%s", why);
		s->first_seq = l->seq;
	}
	s->failed++;
	s->last_seq = l->seq;
	if (!bookkeeping)
		s->due = true;
}

void cx_fwd_send(cx_fwd *f, const cx_fwd_line *in)
{
	cx_fwd_line l = *in;
	bool book = strcmp(l.type, "audit.checkpoint") == 0 || strcmp(l.type, "audit.forward_failed") == 0;
	char why[256];
	int r;

	l.host_id = f->host_id;
	if (f->s[SINK_JOURNALD].on) {
		r = send_journald(f, &l, why, sizeof(why));
		counted(&f->s[SINK_JOURNALD], &l, r, book, why);
	}
	if (f->s[SINK_SYSLOG].on) {
		r = send_syslog(f, &l, why, sizeof(why));
		counted(&f->s[SINK_SYSLOG], &l, r, book, why);
	}
}

json_t *cx_fwd_report(cx_fwd *f)
{
	json_t *d;
	bool due = false;

	for (int i = 0; i < SINK_N; i++)
		due = due || f->s[i].due;
	if (!due)
		return NULL;
	d = json_object();
	CX_CHECK(d);
	for (int i = 0; i < SINK_N; i++) {
		fwd_sink *s = &f->s[i];
		json_t *o;
		if (!s->on)
			continue;
		o = json_pack("{s:I, s:I}", "failed", (json_int_t)s->failed, "forwarded",
			      (json_int_t)s->forwarded);
		CX_CHECK(o);
		if (s->failed)
			CX_CHECK(json_object_set_new(o, "first_seq", json_integer((json_int_t)s->first_seq)) == 0 &&
				 json_object_set_new(o, "last_seq", json_integer((json_int_t)s->last_seq)) == 0 &&
				 json_object_set_new(o, "error", cx_audit_text(s->error)) == 0);
		CX_CHECK(json_object_set_new(d, sink_name[i], o) == 0);
	}
	memcpy(f->held, f->s, sizeof(f->held));
	for (int i = 0; i < SINK_N; i++)
		f->s[i] = (fwd_sink){ .on = f->s[i].on };
	return d;
}

void cx_fwd_report_lost(cx_fwd *f)
{
	for (int i = 0; i < SINK_N; i++) {
		fwd_sink *s = &f->s[i], *h = &f->held[i];
		if (h->failed) {
			if (!s->failed)
				s->last_seq = h->last_seq;
			s->first_seq = h->first_seq;
			memcpy(s->error, h->error, sizeof(s->error));
		}
		s->failed += h->failed;
		s->forwarded += h->forwarded;
		s->due = s->due || h->due;
		*h = (fwd_sink){ 0 };
	}
}
