/* calyx-audit report: the report of a run, from the audit log alone
 * (what it reads and how leases are matched: report.h).
 *
 * Shape: a title, the audit chain's status (prominent: a failed chain is
 * a warning above everything else), a summary of the matching leases,
 * then per lease: Summary, Lease, Layers in force, Processes, Usage vs
 * limits, Halt and failures, Workspace, Timeline. Markdown (GitHub
 * flavoured: tables) or one HTML file with an inline SVG chart.
 *
 * How hostile input is kept in its place: no report file writes markup
 * but report_out.c. Sections (report_sections.c, report_usage.c) build
 * plain strings (report_text.c: rep_plain, rep_argv_plain, ...)
 * and hand them to report_out.c, which escapes every one for the format,
 * shows invisible and bidi characters, bounds each value, and alone
 * writes markup (its header states the invariant). The files and what
 * they share: report_internal.h.
 *
 * Bounds: the log is scanned line by line in place (the caller already
 * holds it for the verifier); a line is parsed only if it contains the
 * id (as the log spells it) or a matching lease id, and only if it is at
 * most LINE_PARSE_MAX bytes. At most CX_REPORT_MAX_EVENTS events are kept.
 *
 * Trust: pure (no I/O but the memory stream); input untrusted. */
#include "report.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "calyx/codec.h"
#include "calyx/jsonx.h"
#include "report_internal.h"

#define LINE_PARSE_MAX (1u << 20) /* a verified line is at most CX_AUDIT_LINE_MAX */

/* ---------------------------------------------------------------------
 * reading the log: which leases, which events
 * --------------------------------------------------------------------- */

typedef void (*line_fn)(report *rp, uint64_t lineno, const char *line, size_t len);

static void each_line(report *rp, const uint8_t *log, size_t len, line_fn fn)
{
	uint64_t lineno = 0;
	for (size_t off = 0; off < len;) {
		const uint8_t *nl = memchr(log + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (log + off)) : len - off;
		fn(rp, ++lineno, (const char *)log + off, ll);
		off += ll + 1;
	}
}

static json_t *parse_event(report *rp, const char *line, size_t len, bool count)
{
	json_t *j = NULL;
	if (len <= LINE_PARSE_MAX)
		j = cx_json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j) || !json_is_integer(json_object_get(j, "seq")) ||
	    !jstr(j, "type") || !jstr(j, "time")) {
		json_decref(j);
		rp->unparsed += count;
		return NULL;
	}
	return j;
}

static void add_lease(report *rp, const char *lid)
{
	for (size_t i = 0; i < rp->nrun; i++)
		if (strcmp(rp->run[i].lease_id, lid) == 0)
			return;
	if (rp->nrun == CX_REPORT_MAX_LEASES) {
		rp->too_many = true;
		return;
	}
	memcpy(rp->run[rp->nrun++].lease_id, lid, 33);
}

static void find_leases(report *rp, uint64_t lineno, const char *line, size_t len)
{
	const char *rid, *lid;
	json_t *j;

	(void)lineno;
	if (!memmem(line, len, rp->needle_run, strlen(rp->needle_run)) &&
	    !(rp->needle_lease[0] && memmem(line, len, rp->needle_lease, strlen(rp->needle_lease))))
		return;
	j = parse_event(rp, line, len, false);
	if (!j)
		return;
	rid = jstr(j, "run_id");
	lid = jstr(j, "lease_id");
	if (lid && cx_is_lower_hex(lid, 32) &&
	    ((rid && strcmp(rid, rp->id) == 0) ||
	     (rp->needle_lease[0] && strncmp(lid, rp->id, strlen(rp->id)) == 0)))
		add_lease(rp, lid);
	json_decref(j);
}

/* The lease an event belongs to: its own lease_id first, else the lease
 * its details name (recovery or pruning done by another run or calyx-ctl). */
static lease_run *owner_of(report *rp, const json_t *j)
{
	const char *lid = jstr(j, "lease_id"), *dl = jstr(json_object_get(j, "details"), "lease_id");
	for (size_t i = 0; lid && i < rp->nrun; i++)
		if (strcmp(lid, rp->run[i].lease_id) == 0)
			return &rp->run[i];
	for (size_t i = 0; dl && i < rp->nrun; i++)
		if (strcmp(dl, rp->run[i].lease_id) == 0)
			return &rp->run[i];
	return NULL;
}

static void collect(report *rp, uint64_t lineno, const char *line, size_t len)
{
	lease_run *lr;
	size_t i;
	json_t *j;

	for (i = 0; i < rp->nrun; i++)
		if (memmem(line, len, rp->run[i].lease_id, 32))
			break;
	if (i == rp->nrun)
		return;
	j = parse_event(rp, line, len, true);
	if (!j)
		return;
	lr = owner_of(rp, j);
	if (!lr || rp->nevents >= CX_REPORT_MAX_EVENTS) {
		rp->dropped += lr != NULL;
		json_decref(j);
		return;
	}
	if (lr->n == lr->cap) {
		lr->cap = lr->cap ? 2 * lr->cap : 64;
		lr->ev = realloc(lr->ev, lr->cap * sizeof(*lr->ev));
		CX_CHECK(lr->ev);
	}
	lr->ev[lr->n++] = (event){ .line = lineno, .j = j };
	rp->nevents++;
}

/* ---------------------------------------------------------------------
 * entry points
 * --------------------------------------------------------------------- */

void cx_report_chain_from(int r, const cx_audit_report *rep, const cx_error *verr,
			  cx_report_chain *ret)
{
	unsigned long long line = 0;
	const char *msg = verr->msg;
	int n = 0;

	memset(ret, 0, sizeof(*ret));
	ret->signed_lines = rep->signed_lines;
	if (r >= 0) {
		ret->intact = true;
		ret->lines = rep->lines;
		memcpy(ret->head, rep->head, sizeof(ret->head));
		return;
	}
	/* cx_audit_verify names the first bad line as "audit log: line N: …"
	 * (or "… line N is torn …"): the number is kept, and the prefix left
	 * out of the message when the report says "at line N" itself. */
	if (sscanf(msg, "audit log: line %llu%n", &line, &n) == 1 && line > 0) {
		ret->bad_line = line;
		if (msg[n] == ':' && msg[n + 1] == ' ')
			msg += n + 2;
	}
	snprintf(ret->message, sizeof(ret->message), "%s", msg);
}

static int set_needles(report *rp, cx_error *err)
{
	size_t n = strlen(rp->id);
	json_t *s = json_string(rp->id);
	if (!s)
		return cx_err(err, CX_E_USAGE, EINVAL, "run id is not valid UTF-8");
	rp->needle_run = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	json_decref(s);
	CX_CHECK(rp->needle_run);
	if (n >= 6 && n <= 32 && cx_is_lower_hex(rp->id, n))
		snprintf(rp->needle_lease, sizeof(rp->needle_lease), "\"%s", rp->id);
	return 0;
}

static void report_free(report *rp)
{
	for (size_t i = 0; i < rp->nrun; i++) {
		for (size_t k = 0; k < rp->run[i].n; k++)
			json_decref(rp->run[i].ev[k].j);
		free(rp->run[i].ev);
	}
	free(rp->needle_run);
}

static int no_match(const report *rp, cx_error *err)
{
	const char *chain = rp->chain->intact ? "the audit chain is intact" : "the audit chain FAILED verification";
	if (rp->too_many)
		return cx_err(err, CX_E_USAGE, E2BIG,
			      "'%.128s' matches more than %d leases (%s); pass one lease id (calyx-audit show LOG --run '%.128s' lists them)",
			      rp->id, CX_REPORT_MAX_LEASES, chain, rp->id);
	return cx_err(err, CX_E_USAGE, ENOENT,
		      "no event has run id or lease id '%.128s' (%s; calyx-audit show LOG lists the runs)",
		      rp->id, chain);
}

int cx_report_render(const uint8_t *log, size_t len, const char *id,
		     const cx_report_chain *chain, cx_report_format format, char **ret_buf,
		     size_t *ret_len, cx_error *err)
{
	_cleanup_(report_free) report rp = { .o = { .fmt = format }, .id = id, .chain = chain };
	char *buf = NULL;
	size_t blen = 0;
	int r;

	r = set_needles(&rp, err);
	if (r < 0)
		return r;
	each_line(&rp, log, len, find_leases);
	if (rp.nrun)
		each_line(&rp, log, len, collect);
	if (rp.too_many || !rp.nevents)
		return no_match(&rp, err);
	/* a lease found in pass 1 has events in pass 2, unless the event
	 * cap was reached first: report only leases with events */
	size_t kept = 0;
	for (size_t i = 0; i < rp.nrun; i++)
		if (rp.run[i].n)
			rp.run[kept++] = rp.run[i];
		else
			free(rp.run[i].ev);
	rp.nrun = kept;
	rp.o.out = open_memstream(&buf, &blen);
	CX_CHECK(rp.o.out);
	rep_render(&rp);
	CX_CHECK(!ferror(rp.o.out));
	fclose(rp.o.out);
	*ret_buf = buf;
	*ret_len = blen;
	return 0;
}
