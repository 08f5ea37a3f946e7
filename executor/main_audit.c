/* calyx-audit: check the audit log offline.
 *
 *   calyx-audit verify (--host-pub FILE | --config FILE) [--expect-head HASH] LOG
 *   calyx-audit show LOG [--run ID] [--lease ID] [--type T] [--since TIME] [--json]
 *   calyx-audit report (--host-pub FILE | --config FILE) [--log LOG] [--format md|html]
 *                      [-o FILE] RUN_ID
 *
 * --expect-head names the hash of a line known to have been written (e.g.
 * a head printed by an earlier verify and kept elsewhere): if the log no
 * longer contains it, lines were removed from its end. show is a viewer
 * (it does not verify): lines filtered like journalctl; --json passes
 * matching lines through unchanged for jq; without it, every string is
 * shown through calyx/esc.h's rule and the details as JSON whose
 * control, bidi and invisible characters are \u escapes.
 *
 * verify checks every line's form, the hash chain, seq continuity and every
 * checkpoint's signature (docs/audit-events.md, "Line format"). Lines
 * after the last checkpoint (signed line) are an unsigned tail: chained but
 * vouched for by no signature yet (a writer still running, or one killed
 * before its sync). verify says so on stdout, "audit log OK up to seq S:
 * … K unsigned …", and exits 3: neither "intact" (0) nor "tampered" (1);
 * calyx-exec's next sync signs them, after checking their macs.
 *
 * verify reports a torn last line (bytes after the last newline, as a crash
 * mid-write leaves them) as such: the seq it follows, and the file
 * calyx-exec will keep those bytes in when it repairs the log on its next
 * append. Exit 1 all the same: the log is not intact until then, and a cut
 * made on purpose looks just like a crash.
 *
 * --host-pub names a file holding the host's Ed25519 public key, as
 * canonical base64 or as a keyring entry (NAME.pub.json from keygen);
 * --config derives it from the configured host key (root only).
 *
 * report verifies the whole chain first, then writes one self-contained
 * report of the run (executor/audit/report.h: which leases RUN_ID matches, what
 * is shown, how log text is escaped). With --config the log is the
 * configured one unless --log names another; with --host-pub, --log is
 * required. Output on stdout, or written atomically (mode 0640, like the
 * log it comes from) with -o. Exit codes: 0 report written, chain intact;
 * 1 report written but the chain FAILED (the report says so at the top
 * and marks every event it cannot vouch for), or nothing matches RUN_ID,
 * or RUN_ID matches more than 16 leases, or the log or key is unreadable
 * (one line on stderr each); 2 usage; 125 the report cannot be written.
 * An unsigned tail is no error for report: its events are marked NOT
 * VERIFIED, and the chain status at the top says why.
 * Trust: reads a log that may have been tampered with; every line checked. */
#include <getopt.h>
#include <sodium.h>
#include <string.h>

#include "calyx/audit.h"
#include "calyx/codec.h"
#include "calyx/config.h"
#include "calyx/esc.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "cli.h"
#include "audit/report.h"

#define AUDIT_LOG_MAX (1ull << 32)

static const char usage[] =
	"usage: calyx-audit COMMAND ...\n"
	"  verify (--host-pub FILE | --config FILE) [--expect-head HASH] LOG\n"
	"           check every line, the hash chain, seq continuity and every checkpoint's\n"
	"           signature; with --expect-head, also that the log still holds that line.\n"
	"           Lines after the last checkpoint (not signed yet) are counted and exit 3.\n"
	"           A torn last line (a crash mid-write) is named with the seq it follows and\n"
	"           exits 1; calyx-exec repairs it on its next append (audit.repaired event)\n"
	"  show LOG [--run ID] [--lease ID] [--type T] [--since TIME] [--json]\n"
	"           the events, filtered (T: a type, or a prefix ending in '.', e.g. exec.;\n"
	"           TIME: a prefix of the RFC 3339 UTC time, e.g. 2026-11-22T05)\n"
	"  report (--host-pub FILE | --config FILE) [--log LOG] [--format md|html] [-o FILE] RUN_ID\n"
	"           verify the whole log, then one report of the run for people: lease, signers,\n"
	"           layers, processes, usage vs limits, halt, workspace, timeline, chain status.\n"
	"           RUN_ID: a run id (every lease that used it, in log order; at most 16)\n"
	"           or a lease id or a prefix of one (6+ hex). md (default) or one HTML file\n"
	"           with an inline SVG chart, no script, nothing fetched. --log: the log\n"
	"           (default with --config: the configured one). -o: write FILE atomically\n"
	"exit: 0 log intact, 1 tampered or unreadable (report: still written, with a\n"
	"      warning at the top; also: no event matches RUN_ID), 2 usage,\n"
	"      3 verify: chain intact, but the last lines are not signed yet (unsigned tail),\n"
	"      125 report: cannot write the output\n";

/* The host's public key, from --host-pub FILE (canonical base64, or a
 * keyring entry NAME.pub.json) or from the configured host key (--config,
 * root only); with ret_log, also the configured audit log's path (NULL
 * with --host-pub; caller frees). Prints its own one-line error: returns 0,
 * or the exit code. */
static int load_host_pub(const char *pubpath, const char *cfgpath, uint8_t pk[32], char **ret_log)
{
	cx_error err = { 0 };
	int r;

	if (pubpath) {
		_cleanup_free_ uint8_t *pb = NULL;
		size_t pl;
		r = cx_read_file(pubpath, "host public key", 256, 0, 0, &pb, &pl, &err);
		if (r < 0)
			return cx_cli_fail(&err, 1);
		while (pl && (pb[pl - 1] == '\n'))
			pl--;
		if (pl && pb[0] == '{') {
			/* a keyring entry (NAME.pub.json) */
			_cleanup_json_ json_t *j = NULL;
			_cleanup_(cx_key_free) cx_key k = { 0 };
			r = cx_json_parse_object(pb, pl, "host public key", &j, &err);
			if (r == 0)
				r = cx_key_entry_parse(j, "host public key", &k, &err);
			if (r < 0)
				return cx_cli_fail(&err, 1);
			memcpy(pk, k.pk, 32);
		} else if (cx_b64_decode((char *)pb, pl, pk, 32, 32) != 32) {
			cx_err(&err, CX_E_KEY, EINVAL, "'%s' is not canonical base64 of a 32-byte public key", pubpath);
			return cx_cli_fail(&err, 1);
		}
		if (ret_log)
			*ret_log = NULL;
	} else {
		_cleanup_(cx_config_free) cx_config cfg = { 0 };
		uint8_t seed[32];
		if (getuid() != 0) {
			fprintf(stderr, "calyx-audit: --config needs root (use --host-pub with the host's public key)\n");
			return 1;
		}
		r = cx_config_load(cfgpath, 0, &cfg, &err);
		if (r == 0)
			r = cx_seed_load(cfg.host_key, "host key", true, 0, seed, &err);
		if (r == 0 && ret_log)
			*ret_log = cx_strdup(cfg.audit_log);
		if (r == 0)
			cx_seed_public(seed, pk);
		cx_wipe(seed, sizeof(seed));
		if (r < 0)
			return cx_cli_fail(&err, 1);
	}
	return 0;
}

/* The chain is intact, but its last lines are not signed by a checkpoint
 * yet: say how many, exit 3. found: the seq of the expected head (0: not
 * asked). */
static int unsigned_tail(const cx_audit_report *rep, uint64_t found)
{
	unsigned long long n = rep->lines, s = rep->signed_lines;
	char where[64] = "";

	if (found)
		snprintf(where, sizeof(where), ", expected head at seq %llu", (unsigned long long)found);
	printf("audit log OK up to seq %llu: %llu events, chain intact%s, UNSIGNED: the last %llu (seq %llu to %llu) follow the last checkpoint, so no signature vouches for them yet (a writer still running, or one stopped before its sync; the next calyx-exec signs them after checking them), head %s\n",
	       s, n, where, n - s, s + 1, n, rep->head);
	return 3;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = { { "host-pub", required_argument, 0, 'p' },
					      { "config", required_argument, 0, 'c' },
					      { "expect-head", required_argument, 0, 'e' },
					      { 0, 0, 0, 0 } };
	const char *pubpath = NULL, *cfgpath = NULL, *expect = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	uint8_t pk[32];
	cx_audit_report rep = { 0 };
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "p:c:", opts, NULL)) != -1) {
		if (c == 'p')
			pubpath = optarg;
		else if (c == 'c')
			cfgpath = optarg;
		else if (c == 'e')
			expect = optarg;
		else
			return cx_cli_usage("verify: unknown option");
	}
	if (!!pubpath == !!cfgpath || optind != argc - 1)
		return cx_cli_usage("usage: verify (--host-pub FILE | --config FILE) [--expect-head HASH] LOG");
	if (expect && !cx_is_lower_hex(expect, 64))
		return cx_cli_usage("verify: --expect-head takes the 64-hex hash verify printed as head");
	r = load_host_pub(pubpath, cfgpath, pk, NULL);
	if (r != 0)
		return r;
	r = cx_read_file(argv[optind], "audit log", AUDIT_LOG_MAX, 0, 0, &buf, &len, &err);
	if (r < 0)
		return cx_cli_fail(&err, 1);
	r = cx_audit_verify(buf, len, pk, &rep, &err);
	if (r < 0 && err.errnum == EPIPE) {
		/* A torn last line after lines that all verify: name the file
		 * the repair will keep its bytes in. */
		const uint8_t *nl = memrchr(buf, '\n', len);
		size_t from = nl ? (size_t)(nl - buf) + 1 : 0, n = strlen(err.msg);
		uint64_t after = 0;
		char name[256]; /* NAME_MAX + 1 */
		for (const uint8_t *q = buf; (q = memchr(q, '\n', (size_t)(buf + len - q))); q++)
			after++;
		if (cx_audit_torn_name(argv[optind], after, buf + from, len - from, name, sizeof(name)) == 0)
			snprintf(err.msg + n, sizeof(err.msg) - n, " as '%s'", name);
	}
	if (r < 0)
		return cx_cli_fail(&err, 1);
	if (expect) {
		/* The chain is intact; is the expected line still in it? */
		uint64_t seq = 0, found = 0;
		for (size_t off = 0; off < len && !found;) {
			const uint8_t *nl = memchr(buf + off, '\n', len - off);
			char h[65];
			cx_sha256_hex(buf + off, (size_t)(nl - (buf + off)), h);
			seq++;
			if (strcmp(h, expect) == 0)
				found = seq;
			off = (size_t)(nl - buf) + 1;
		}
		if (!found) {
			cx_err(&err, CX_E_AUDIT, ENOENT,
			       "audit log: line %llu is missing: the expected head %.16s… is not in the log (%llu events): lines were removed from its end, or this is another log",
			       (unsigned long long)rep.lines + 1, expect, (unsigned long long)rep.lines);
			return cx_cli_fail(&err, 1);
		}
		if (rep.signed_lines < rep.lines)
			return unsigned_tail(&rep, found);
		printf("audit log OK: %llu events, chain and signatures intact, expected head at seq %llu, head %s\n",
		       (unsigned long long)rep.lines, (unsigned long long)found, rep.head);
		return 0;
	}
	if (rep.signed_lines < rep.lines)
		return unsigned_tail(&rep, 0);
	printf("audit log OK: %llu events, chain and signatures intact, head %s\n",
	       (unsigned long long)rep.lines, rep.head);
	return 0;
}

static bool type_matches(const char *type, const char *want)
{
	size_t n = strlen(want);
	if (n && want[n - 1] == '.')
		return strncmp(type, want, n) == 0;
	return strcmp(type, want) == 0;
}

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = { { "run", required_argument, 0, 'r' },
					      { "lease", required_argument, 0, 'l' },
					      { "type", required_argument, 0, 't' },
					      { "since", required_argument, 0, 's' },
					      { "json", no_argument, 0, 'j' },
					      { 0, 0, 0, 0 } };
	const char *run = NULL, *lease = NULL, *type = NULL, *since = NULL;
	bool raw = false;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	cx_error err = { 0 };
	int c, shown = 0;

	while ((c = getopt_long(argc, argv, "r:l:t:s:j", opts, NULL)) != -1) {
		if (c == 'r')
			run = optarg;
		else if (c == 'l')
			lease = optarg;
		else if (c == 't')
			type = optarg;
		else if (c == 's')
			since = optarg;
		else if (c == 'j')
			raw = true;
		else
			return cx_cli_usage("show: unknown option");
	}
	if (optind != argc - 1)
		return cx_cli_usage("usage: show LOG [--run ID] [--lease ID] [--type T] [--since TIME] [--json]");
	if (cx_read_file(argv[optind], "audit log", AUDIT_LOG_MAX, 0, 0, &buf, &len, &err) < 0)
		return cx_cli_fail(&err, 1);
	for (size_t off = 0; off < len;) {
		const uint8_t *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (buf + off)) : len - off;
		json_t *j = cx_json_loadb((const char *)buf + off, ll, JSON_REJECT_DUPLICATES, NULL);
		const char *t = json_string_value(json_object_get(j, "type"));
		const char *tm = json_string_value(json_object_get(j, "time"));
		const char *rid = json_string_value(json_object_get(j, "run_id"));
		const char *lid = json_string_value(json_object_get(j, "lease_id"));
		bool ok = j && t && tm && (!type || type_matches(t, type)) &&
			  (!run || (rid && strcmp(rid, run) == 0)) &&
			  (!lease || (lid && strncmp(lid, lease, strlen(lease)) == 0)) &&
			  (!since || strncmp(tm, since, strlen(since)) >= 0);
		if (ok) {
			shown++;
			if (raw) {
				fwrite(buf + off, 1, ll, stdout);
				fputc('\n', stdout);
			} else {
				/* a viewer of a log nobody has verified: text values
				 * (names that are not UTF-8, or cut) decoded, then every
				 * string escaped, the details as JSON with escapes */
				json_t *pd = cx_audit_details_plain(json_object_get(j, "details"));
				_cleanup_free_ char *d = cx_json_dump(pd);
				json_decref(pd);
				_cleanup_free_ char *de = cx_esc_json(d);
				cx_esc_printf(stdout, "%6lld  %s  %-26s %-14.14s %-18.18s ",
					      (long long)json_integer_value(json_object_get(j, "seq")), tm, t,
					      lid ? lid : "-", rid ? rid : "-");
				puts(de);
			}
		}
		json_decref(j);
		off += ll + 1;
	}
	if (!raw && !shown)
		fprintf(stderr, "calyx-audit: no event matches\n");
	return 0;
}

/* Write the report to -o FILE (atomically) or stdout. 0 or exit 125. */
static int report_output(const char *path, const char *buf, size_t len)
{
	cx_error err = { 0 };
	int r;

	if (path) {
		if (cx_write_file_atomic(path, buf, len, 0640, &err) < 0)
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
		return 0;
	}
	r = cx_write_all(STDOUT_FILENO, buf, len);
	if (r < 0) {
		cx_err(&err, CX_E_IO, -r, "cannot write the report to stdout: %s", strerror(-r));
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	return 0;
}

static int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = { { "host-pub", required_argument, 0, 'p' },
					      { "config", required_argument, 0, 'c' },
					      { "log", required_argument, 0, 'l' },
					      { "format", required_argument, 0, 'f' },
					      { "output", required_argument, 0, 'o' },
					      { 0, 0, 0, 0 } };
	const char *pubpath = NULL, *cfgpath = NULL, *logpath = NULL, *outpath = NULL;
	cx_report_format format = CX_REPORT_MD;
	_cleanup_free_ char *cfglog = NULL, *rbuf = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len, rlen;
	uint8_t pk[32];
	cx_audit_report rep = { 0 };
	cx_report_chain chain;
	cx_error err = { 0 }, verr = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "p:c:l:f:o:", opts, NULL)) != -1) {
		if (c == 'p')
			pubpath = optarg;
		else if (c == 'c')
			cfgpath = optarg;
		else if (c == 'l')
			logpath = optarg;
		else if (c == 'o')
			outpath = optarg;
		else if (c == 'f' && strcmp(optarg, "md") == 0)
			format = CX_REPORT_MD;
		else if (c == 'f' && strcmp(optarg, "html") == 0)
			format = CX_REPORT_HTML;
		else if (c == 'f')
			return cx_cli_usage("report: --format is md or html");
		else
			return cx_cli_usage("report: unknown option");
	}
	if (!!pubpath == !!cfgpath || optind != argc - 1 || (pubpath && !logpath))
		return cx_cli_usage("usage: report (--host-pub FILE --log LOG | --config FILE [--log LOG]) [--format md|html] [-o FILE] RUN_ID");
	if (!argv[optind][0] || strlen(argv[optind]) > CX_ID_MAX)
		return cx_cli_usage("report: RUN_ID is a run id or lease id of 1 to %d bytes", CX_ID_MAX);
	r = load_host_pub(pubpath, cfgpath, pk, logpath ? NULL : &cfglog);
	if (r != 0)
		return r;
	if (!logpath)
		logpath = cfglog;

	/* The whole chain first: the report states the result at its top. */
	r = cx_read_file(logpath, "audit log", AUDIT_LOG_MAX, 0, 0, &buf, &len, &err);
	if (r < 0)
		return cx_cli_fail(&err, 1);
	r = cx_audit_verify(buf, len, pk, &rep, &verr);
	cx_report_chain_from(r, &rep, &verr, &chain);
	r = cx_report_render(buf, len, argv[optind], &chain, format, &rbuf, &rlen, &err);
	if (r < 0)
		return cx_cli_fail(&err, 1);
	r = report_output(outpath, rbuf, rlen);
	if (r != 0)
		return r;
	if (!chain.intact) {
		/* The report was written and says so; the exit code says it too. */
		size_t n = strlen(verr.msg);
		snprintf(verr.msg + n, sizeof(verr.msg) - n, " (the report was written and marks it)");
		return cx_cli_fail(&verr, 1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	cx_prog = "calyx-audit";
	if (sodium_init() < 0)
		return 1;
	static const cx_cli_cmd cmds[] = { { "verify", cmd_verify }, { "show", cmd_show },
					   { "report", cmd_report }, { NULL, NULL } };
	return cx_cli_dispatch(argc, argv, usage, cmds);
}
