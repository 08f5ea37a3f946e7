/* Steps 4-7 for a consumed lease: prepare the run dir, run the command
 * (then its validate step) in the sandbox, and finish: commit the
 * workspace when both succeeded, roll it back otherwise, write the
 * result.
 *
 * Invariants: the run's events are durable before anything of it lands
 * on the host; a commit that fails undoes itself from its pack (or the
 * next start's recovery does), and the result never says more landed
 * than did; the tree locks are held until the outcome is recorded.
 * Trust: runs as root; the sandbox is gone when the workspace is touched,
 * but the uppers hold what the run wrote (hostile names and contents: the
 * workspace engine's concern). */
#include "run.h"

#include <string.h>
#include <sys/stat.h>

#include "calyx/fault.h"
#include "calyx/timings.h"

static json_t *ws_json(const char *action, const char *reason, const cx_ws_report *rep)
{
	json_t *j = json_pack("{s:s, s:o}", "action", action, "reason", cx_audit_text(reason));
	if (j && rep)
		json_object_update_new(j, json_pack("{s:I, s:I, s:I, s:I}", "added",
						    (json_int_t)rep->added, "changed",
						    (json_int_t)rep->changed, "deleted",
						    (json_int_t)rep->deleted, "bytes",
						    (json_int_t)rep->bytes));
	if (j && rep && rep->manifest_sha256[0])
		json_object_set_new(j, "manifest_sha256", json_string(rep->manifest_sha256));
	else if (j && rep) /* the run wrote nothing: no pack, nothing to undo */
		json_object_set_new(j, "nothing_changed", json_true());
	return j;
}

/* The run's writes are discarded after calyx-exec's own failure `why`
 * (the run could not be started, supervised or committed): audited as a
 * rollback ("<what> (E_…)") when the discard worked and, if a commit was
 * attempted, it left no pack (it was refused or undid itself). Otherwise
 * the next start's recovery finishes or undoes it and audits that
 * (workspace.recovered). Like run.failed, not when the log itself failed. */
static void discard_failed(cx_run *run, cx_run_trees *t, const char *pack, const char *what,
			   const cx_error *why)
{
	char reason[96];
	struct stat sb;
	cx_error e = { 0 };
	int r = 0;

	cx_run_scratch_release(t); /* the uppers: gone (an unfinished commit rolls back) */
	if (cx_ws_discard(&run->state.ws, t->run_dir, NULL) < 0)
		return;
	if (pack && !(lstat(pack, &sb) < 0 && errno == ENOENT))
		return;
	if (why->reason == CX_E_AUDIT)
		return;
	snprintf(reason, sizeof(reason), "%s (%s)", what, cx_reason_name(why->reason));
	cx_run_event(run, "workspace.rolled_back", ws_json("rolled_back", reason, NULL), &e, &r);
}

/* A failure of calyx-exec's own: reported (cx_run_fail), its exit code
 * in *code; returns r. */
static int failed(cx_run *run, cx_error *err, int as, int *code, int r)
{
	*code = cx_run_fail(run, err, as);
	return r;
}

/* Commit the uppers into their trees (the command and its validate step
 * succeeded): r < 0 with err set and the exit code in *code on failure. */
static int commit(cx_run *run, cx_run_trees *t, json_t *fin, int *code, cx_error *err)
{
	char pack[CX_STATE_PATH_MAX], journal[CX_STATE_FILE_MAX];
	cx_ws_tree wt[CX_WS_TREES_MAX];
	cx_ws_report rep = { 0 };
	cx_error werr = { 0 };
	size_t n = 0;
	bool wrote = false;
	int r;

	mkdir(run->state.packs, 0700);
	cx_state_pack_dir(&run->state, run->lease.lease_id, pack);
	cx_state_journal(t->run_dir, journal);
	for (size_t i = 0; i < t->n; i++) {
		if (!t->host[i])
			continue;
		wt[n++] = (cx_ws_tree){ .host_path = t->host[i], .upper = t->upper[i],
					.dev = t->id[i].st_dev, .ino = t->id[i].st_ino };
	}
	/* The run's events are durable before anything of it lands; a run
	 * that wrote nothing lands nothing (no sync needed: the sandbox is
	 * gone, nothing writes the uppers any more). */
	for (size_t i = 0; i < n; i++)
		wrote = wrote || cx_ws_upper_empty(wt[i].upper) != 1;
	if (wrote && (r = cx_run_sync(run, err)) < 0) {
		discard_failed(run, t, NULL, "events not durable", err);
		cx_err_prefix(err, "the run's events could not be made durable, so nothing of it lands");
		return failed(run, err, CX_EXIT_FAILURE, code, r);
	}
	CX_FAULT_POINT("before_commit");
	cx_phase_enter(CX_PH_COMMIT);
	r = cx_ws_commit(&run->state.ws, wt, n, run->lease.lease_id, run->lease.run_id, pack,
			 journal, &rep, &werr);
	if (r < 0) {
		/* the engine undid itself from the pack; drop what is left
		 * (refused by the engine while a commit is unfinished) */
		discard_failed(run, t, pack, "commit failed", &werr);
		cx_err_prefix(&werr, "commit of the workspace failed");
		size_t ml = strlen(werr.msg);
		snprintf(werr.msg + ml, sizeof(werr.msg) - ml,
			 " (nothing of the run landed, or the next start undoes it; fix the cause, then issue a new lease)");
		*err = werr;
		return failed(run, err, CX_EXIT_FAILURE, code, r);
	}
	CX_FAULT_POINT("after_commit");
	cx_run_event(run, "workspace.committed", ws_json("committed", "success", &rep), err, &r);
	if (r == 0)
		r = cx_run_sync(run, err);
	cx_run_scratch_release(t);
	cx_ws_discard(&run->state.ws, t->run_dir, NULL); /* the done journal and empty dirs */
	if (r < 0) {
		/* landed, but unrecorded: say so and how to take it back */
		cx_err_prefix(err, "the workspace was committed but the commit could not be audited (undo it with 'calyx-ctl rollback %s')",
			      run->lease.lease_id);
		return failed(run, err, CX_EXIT_FAILURE, code, r);
	}
	json_object_set_new(fin, "workspace", ws_json("committed", "success", &rep));
	return 0;
}

/* Discard the uppers (the command or its check failed, or a halt). */
static int roll_back(cx_run *run, cx_run_trees *t, const cx_run_once *cmd,
		     const cx_run_once *val, json_t *fin, int *code, cx_error *err)
{
	char reason[128];
	cx_error werr = { 0 };
	int r = 0;

	if (cmd->halt != CX_HALT_NONE)
		snprintf(reason, sizeof(reason), "halted (%s)", cx_halt_name(cmd->halt));
	else if (!cmd->ok)
		snprintf(reason, sizeof(reason), "command exited %d", cmd->exit_code);
	else if (val->halt != CX_HALT_NONE)
		snprintf(reason, sizeof(reason), "validate halted (%s)", cx_halt_name(val->halt));
	else
		snprintf(reason, sizeof(reason), "validate exited %d", val->exit_code);
	CX_FAULT_POINT("before_rollback");
	cx_phase_enter(CX_PH_ROLLBACK);
	cx_run_scratch_release(t); /* the run's writes are gone with it, at once */
	cx_ws_discard(&run->state.ws, t->run_dir, &werr); /* a failure is finished by the next start's recovery */
	CX_FAULT_POINT("after_discard");
	cx_run_event(run, "workspace.rolled_back", ws_json("rolled_back", reason, NULL), err, &r);
	if (r == 0)
		r = cx_run_sync(run, err);
	if (r < 0) {
		cx_err_prefix(err, "the run's writes were discarded but that could not be audited");
		return failed(run, err, CX_EXIT_FAILURE, code, r);
	}
	json_object_set_new(fin, "workspace", ws_json("rolled_back", reason, NULL));
	return 0;
}

/* The command, then (if it succeeded) its validate step. r < 0: calyx-exec
 * itself failed (reported, *code set). */
static int run_both(cx_run *run, cx_run_trees *t, cx_run_once *cmd, cx_run_once *val,
		    int *code, cx_error *err)
{
	const cx_run_spec *s = &run->lease.spec;
	int r;

	r = cx_run_sandboxed_once(run, t, &s->argv, "command", cmd, err);
	if (r < 0) {
		if (t)
			discard_failed(run, t, NULL, "calyx-exec failed", err);
		return failed(run, err, cmd->exit_code, code, r);
	}
	*code = cmd->exit_code;
	if (!cmd->ok || !s->validate_argv.n)
		return 0;
	r = cx_run_sandboxed_once(run, t, &s->validate_argv, "validate", val, err);
	if (r < 0) {
		if (t)
			discard_failed(run, t, NULL, "calyx-exec failed in validate", err);
		return failed(run, err, val->exit_code, code, r);
	}
	json_object_set_new(cmd->fin, "validate", TAKE_PTR(val->fin));
	if (!val->ok) {
		/* the command succeeded, its check did not: nothing lands */
		*code = val->halt != CX_HALT_NONE ? CX_EXIT_HALTED
			: val->exit_code	  ? val->exit_code
						  : CX_EXIT_FAILURE;
		fprintf(stderr, "calyx-exec: validate failed (exit %d): the run's changes were rolled back\n",
			val->exit_code);
	}
	return 0;
}

static void release_locks(cx_run *run)
{
	cx_phase_enter(CX_PH_CLEANUP);
	while (run->nlocks > 0)
		close(run->locks[--run->nlocks]);
}

int cx_run_sandboxed(cx_run *run, cx_error *err)
{
	const cx_run_spec *s = &run->lease.spec;
	bool transactional = s->workspace || s->rw.n;
	_cleanup_free_ cx_run_trees *t = NULL; /* ~70 KiB of paths: on the heap */
	cx_run_once cmd = { 0 }, val = { 0 };
	int code;

	CX_FAULT_POINT("setup");
	cx_phase_enter(CX_PH_WORKSPACE);
	if (cx_run_view_root(run, err) < 0)
		return cx_run_fail(run, err, CX_EXIT_FAILURE);
	if (transactional) {
		t = cx_calloc(1, sizeof(*t));
		if (cx_run_prepare_dirs(run, t, err) < 0) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof(err->msg) - n,
				 " (the lease is used and nothing ran; free space or fix the state dir, then issue a new lease)");
			cx_run_scratch_release(t);
			release_locks(run);
			return cx_run_fail(run, err, err->reason == CX_E_WORKSPACE ? CX_EXIT_FAILURE : -1);
		}
		CX_FAULT_POINT("after_run_dir");
	}
	if (run_both(run, t, &cmd, &val, &code, err) < 0)
		goto out;
	if (transactional) {
		bool ok = cmd.ok && (!s->validate_argv.n || val.ok);
		if ((ok && !run->learn ? commit(run, t, cmd.fin, &code, err)
			: roll_back(run, t, &cmd, &val, cmd.fin, &code, err)) < 0)
			goto out;
	}
	/* the run without a workspace: its events, before the result */
	if (cx_run_sync(run, err) < 0) {
		code = cx_run_fail(run, err, CX_EXIT_FAILURE);
		goto out;
	}
	if (run->learn)
		run->learn_fin = json_incref(cmd.fin);
	cx_run_write_result(run,
			    cmd.halt != CX_HALT_NONE || val.halt != CX_HALT_NONE ? "halted" : "completed",
			    NULL, code, TAKE_PTR(cmd.fin));
out:
	json_decref(cmd.fin);
	json_decref(val.fin);
	if (t)
		cx_run_scratch_release(t);
	release_locks(run);
	return code;
}
