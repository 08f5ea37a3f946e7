/* Operator control socket (protocol in calyx/monitor.h).
 *
 * Why only root can steer a run: the socket lives in a 0700 root-owned
 * directory with mode 0600, and every accepted connection's SO_PEERCRED
 * must say uid 0 (checked even though the modes already imply it).
 * Requests are bounded (1 KiB), parsed strictly, one per connection; a
 * slow, silent or trickling client is dropped 100 ms after it connected
 * (one deadline for the whole request, not per read) so it cannot stall
 * the supervisor. The parser and the refusal reply are pure (fuzzed by
 * tests/fuzz/fuzz_control.c). Trust: runs as root in calyx-exec (server)
 * and calyx-ctl (client). */
#include "calyx/monitor.h"

#include <jansson.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "calyx/jsonx.h"
#include "calyx/timings.h"

static const char *const cmd_names[] = { NULL, "status", "pause", "resume", "halt" };

const char *cx_ctl_cmd_name(cx_ctl_cmd c)
{
	return c >= CX_CTL_STATUS && c <= CX_CTL_HALT ? cmd_names[c] : "?";
}

int cx_ctl_parse_request(const char *buf, size_t len, cx_ctl_cmd *ret, cx_error *err)
{
	static const char *const keys[] = { "cmd", NULL };
	_cleanup_json_ json_t *j = NULL;
	const char *c, *nl;
	int r;

	/* Framing first: one line of at most CX_CTL_REQ_MAX bytes counting
	 * its newline, and nothing after it. Without the newline the request
	 * is partial (a client that stalled, or a read cut at the bound). */
	if (len > CX_CTL_REQ_MAX)
		return cx_err(err, CX_E_USAGE, E2BIG, "request longer than %d bytes", CX_CTL_REQ_MAX);
	nl = memchr(buf, '\n', len);
	if (!nl)
		return cx_err(err, CX_E_USAGE, EPROTO,
			      "request not ended by a newline (partial request refused)");
	if ((size_t)(nl - buf) != len - 1)
		return cx_err(err, CX_E_USAGE, EPROTO,
			      "request holds more than one line (one JSON object and a newline per connection)");
	r = cx_json_parse_object((const uint8_t *)buf, len - 1, "request", &j, err);
	if (r == 0)
		r = cx_json_keys(j, "request", CX_E_USAGE, keys, NULL, err);
	if (r == 0)
		r = cx_json_str(j, "cmd", "request", CX_E_USAGE, 16, false, &c, err);
	if (r < 0)
		return r;
	for (int i = CX_CTL_STATUS; i <= CX_CTL_HALT; i++)
		if (strcmp(c, cmd_names[i]) == 0) {
			*ret = (cx_ctl_cmd)i;
			return 0;
		}
	return cx_err(err, CX_E_USAGE, EINVAL, "unknown command '%.16s'", c);
}

/* Length of the valid UTF-8 sequence at s (NUL-terminated), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF (what jansson
 * accepts in a string). */
static size_t utf8_seq(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void *cx_ctl_error_reply(const cx_error *err)
{
	char msg[sizeof(err->msg)];
	size_t i = 0;

	/* The message may quote the request: jansson's error text ("invalid
	 * escape near '\"\xc3'") can end inside a multi-byte character, and
	 * json_pack refuses a string that is not UTF-8, which left the peer
	 * with no reply at all. Bytes outside a valid sequence become '?'. */
	while (i < sizeof(msg) - 1 && err->msg[i]) {
		size_t n = utf8_seq((const unsigned char *)err->msg + i);
		if (n == 0 || i + n > sizeof(msg) - 1) {
			msg[i++] = '?';
			continue;
		}
		memcpy(msg + i, err->msg + i, n);
		i += n;
	}
	msg[i] = '\0';
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static int make_addr(const char *path, struct sockaddr_un *sa, cx_error *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return cx_err(err, CX_E_SPAWN, ENAMETOOLONG, "control socket path '%s' is too long", path);
	strcpy(sa->sun_path, path);
	return 0;
}

int cx_ctl_listen(const char *path, int *ret_fd, cx_error *err)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	mode_t old;
	int r = make_addr(path, &sa, err);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cx_err(err, CX_E_SPAWN, errno, "control socket: %s", strerror(errno));
	(void)unlink(path); /* a stale socket of a dead supervisor */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 8) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "control socket '%s': %s", path, strerror(errno));
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int cx_ctl_accept(int listen_fd, int *ret_conn, cx_ctl_cmd *ret_cmd, uid_t *ret_uid, cx_error *err)
{
	_cleanup_close_ int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct timeval tv = { 0, 100000 };
	struct timespec t0, now;
	/* One byte past the bound, so an oversized request reaches the
	 * parser as oversized instead of as its first KiB. */
	char buf[CX_CTL_REQ_MAX + 1];
	size_t len = 0;
	int r;

	if (c < 0)
		return cx_err(err, CX_E_USAGE, errno, "accept: %s", strerror(errno));
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != 0)
		return cx_err(err, CX_E_USAGE, EPERM, "control request from a non-root peer refused");
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (len < sizeof(buf)) {
		struct pollfd pfd = { .fd = c, .events = POLLIN };
		int64_t left_ms;
		ssize_t n;
		int pr;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = 100 - ((int64_t)(now.tv_sec - t0.tv_sec) * 1000 +
				 (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left_ms <= 0)
			break;
		pr = poll(&pfd, 1, (int)left_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		n = read(c, buf + len, sizeof(buf) - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	r = cx_ctl_parse_request(buf, len, ret_cmd, err);
	if (r < 0) {
		json_t *reply = cx_ctl_error_reply(err);
		/* Nothing was acted on, and a client preempted between its
		 * connect and its write (a loaded host) looks exactly like
		 * this: tell it that asking again is safe. */
		if (reply && !memchr(buf, '\n', len))
			json_object_set_new(reply, "retry", json_true());
		cx_ctl_reply(TAKE_FD(c), reply);
		return r;
	}
	*ret_uid = cred.uid;
	*ret_conn = TAKE_FD(c);
	return 0;
}

void cx_ctl_reply(int conn, void *json_reply)
{
	json_t *j = json_reply;
	char *s = j ? cx_json_dump(j) : NULL;

	if (s) {
		size_t n = strlen(s);
		if (write(conn, s, n) == (ssize_t)n)
			(void)!write(conn, "\n", 1);
	}
	free(s);
	json_decref(j);
	close(conn);
}

/* One request, one reply. A request the supervisor never acted on is
 * asked again, within CTL_DEADLINE_MS: when the supervisor dropped the
 * connection before the request arrived (EPIPE, ECONNRESET at the
 * write: the client stalled past the supervisor's 100 ms) or answered
 * "retry" (it read a partial request). Anything else is final: a reply
 * lost after the request was written is not asked again (a halt or a
 * pause must not be applied, and audited, twice). */
enum { CTL_DEADLINE_MS = 10000, CTL_REPLY_MAX = 16384 };

static int ctl_once(const struct sockaddr_un *sa, const char *path, const char *req, int64_t left_ms,
		    json_t **ret, bool *again, cx_error *err)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	_cleanup_free_ char *buf = NULL; /* replies up to 16 KiB: on the heap */
	struct timeval tv = { left_ms / 1000, (left_ms % 1000) * 1000 };
	size_t len = 0;
	json_t *j;

	*again = false;
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return cx_err(err, CX_E_IO, errno, "cannot reach the supervisor at '%s': %s", path,
			      strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* MSG_NOSIGNAL: a closed peer is an error to report, not a SIGPIPE
	 * that kills calyx-ctl without a word */
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		*again = errno == EPIPE || errno == ECONNRESET;
		return cx_err(err, CX_E_IO, errno, "control request to '%s': %s", path, strerror(errno));
	}
	buf = cx_calloc(1, CTL_REPLY_MAX);
	for (;;) {
		ssize_t n = read(fd, buf + len, CTL_REPLY_MAX - 1 - len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return cx_err(err, CX_E_IO, ETIMEDOUT,
				      "the supervisor at '%s' did not answer within %d s (is the run halting?)",
				      path, CTL_DEADLINE_MS / 1000);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len >= CTL_REPLY_MAX - 1)
			break;
	}
	j = cx_json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return cx_err(err, CX_E_IO, EPROTO, "the supervisor at '%s' sent no valid reply", path);
	}
	if (json_is_true(json_object_get(j, "retry"))) {
		json_decref(j);
		*again = true;
		return cx_err(err, CX_E_IO, EAGAIN, "the supervisor at '%s' did not receive the request in time",
			      path);
	}
	*ret = j;
	return 0;
}

int cx_ctl_request(const char *path, cx_ctl_cmd cmd, void **ret_reply, cx_error *err)
{
	struct sockaddr_un sa;
	char req[64];
	int64_t t0 = cx_mono_ns() / 1000000, left;
	int r = make_addr(path, &sa, err);

	if (r < 0)
		return r;
	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cx_ctl_cmd_name(cmd));
	for (int tries = 0;; tries++) {
		json_t *j = NULL;
		bool again;
		left = CTL_DEADLINE_MS - (cx_mono_ns() / 1000000 - t0);
		r = ctl_once(&sa, path, req, left > 1 ? left : 1, &j, &again, err);
		if (r == 0) {
			*ret_reply = j;
			return 0;
		}
		if (!again || tries >= 20 || cx_mono_ns() / 1000000 - t0 >= CTL_DEADLINE_MS)
			return r;
		usleep(10000U << (tries < 4 ? tries : 4)); /* 10, 20, 40, 80, 160 ms */
	}
}

int cx_ctl_alive(const char *path)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;

	if (make_addr(path, &sa, NULL) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN)
		return 1; /* a listener (EAGAIN: its backlog is full) */
	return errno == ECONNREFUSED ? 0 : -errno;
}
