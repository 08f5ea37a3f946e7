/* calyx-rollout report: a rollout's page, for the deployer who watches it
 * and the security reviewer who signs it off, rendered from the rollout
 * view (docs/formats.md "Rollout view": the JSON model that
 * `calyx-rollout status --json` prints, built by executor/rollout_view.c).
 *
 * What the page shows, in this order: the mode banner (dry run, awaiting
 * approval, authorized and running, paused, halted, rolled back,
 * completed) with its one-sentence detail; counts; "why not shipped", one
 * line per host (or run of hosts with the same state and reason) that is
 * not committed, saying why and what to do; the rollout (ids, command,
 * window, policies on failure and deadline, signers); per tier the phases
 * plan -> authorize -> execute -> audit with times and durations, a
 * timeline of its hosts (inline SVG, HTML only), the hosts' results and
 * the checks each host passed; the control history.
 *
 * Invariants: the view is untrusted (verified documents, but text anyone
 * with the signing keys wrote, and a view from another version may lack
 * members or type them differently): every member is read with a type
 * and range check, and one that is missing or of the wrong type reads
 * "unknown"; nothing in it can fail the rendering or crash it. Lists are
 * bounded (CX_ROLLOUT_TIERS_MAX tiers, CX_ROLLOUT_HOSTS_MAX hosts per
 * tier, CX_RREPORT_CONTROLS_MAX controls), each string by
 * executor/audit/report_out.h's writer, which escapes every string for
 * the format (HTML entities; Markdown backslashes before markup
 * characters, control and bidi characters as visible escapes). The HTML
 * is one self-contained file with no script and nothing to fetch, under
 * the audit report's Content-Security-Policy.
 * Trust: pure (renders to memory). */
#ifndef CALYX_EXECUTOR_ROLLOUT_REPORT_H
#define CALYX_EXECUTOR_ROLLOUT_REPORT_H

#include <jansson.h>

#include "calyx/common.h"

#define CX_RREPORT_CONTROLS_MAX 1000 /* control documents listed */

/* The page for view in format "md" or "html": *ret is the whole
 * document, NUL-terminated, caller frees. Fails only on an unknown format
 * (CX_E_USAGE, -EINVAL) or when memory runs out (-ENOMEM). */
int cx_rollout_report_render(const json_t *view, const char *format, char **ret, cx_error *err);

#endif
