/* Unit tests: the replay ledger (single use across processes and crashes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "calyx/ledger.h"
#include "testutil.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"

static char *ledger_dir(char **root)
{
	char *d;
	*root = tu_tmpdir();
	CX_CHECK(asprintf(&d, "%s/ledger", *root) > 0);
	return d;
}

static int claim_once(const char *dir, const char *id, int64_t prune_after, cx_error *err)
{
	cx_ledger *l = NULL;
	cx_claim c = { .lease_id = id, .run_id = "r1", .consumed_at = 100, .not_after = 200,
		       .prune_after = prune_after };
	int r = cx_ledger_open_dir(dir, &l, err);
	if (r == 0)
		r = cx_ledger_claim(l, &c, err);
	cx_ledger_close(l);
	return r;
}

static void second_claim_refused(void **st)
{
	char *root, *dir = ledger_dir(&root);
	cx_error err = { 0 };
	cx_ledger *l;
	(void)st;
	assert_int_equal(claim_once(dir, ID1, 260, &err), 0);
	assert_true(claim_once(dir, ID1, 260, &err) < 0);
	assert_int_equal(err.reason, CX_E_REPLAY);
	assert_int_equal(cx_ledger_open_dir(dir, &l, &err), 0);
	assert_int_equal(cx_ledger_is_claimed(l, ID1, &err), 1);
	assert_int_equal(cx_ledger_is_claimed(l, ID2, &err), 0);
	cx_ledger_close(l);
	tu_rmtree(root);
	free(root);
	free(dir);
}

/* Child: claim, then die by SIGKILL before any orderly exit. A fresh
 * process afterwards must see the claim. */
static void claim_survives_sigkill_fresh_process(void **st)
{
	char *root, *dir = ledger_dir(&root);
	int status;
	pid_t pid;
	(void)st;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cx_error e = { 0 };
		if (claim_once(dir, ID1, 260, &e) == 0)
			raise(SIGKILL);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cx_error e = { 0 };
		int r = claim_once(dir, ID1, 260, &e);
		_exit(r < 0 && e.reason == CX_E_REPLAY ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	tu_rmtree(root);
	free(root);
	free(dir);
}

/* A crash between create and write leaves an empty entry: still burnt. */
static void empty_entry_from_crash_still_burns(void **st)
{
	char *root, *dir = ledger_dir(&root), *p;
	cx_error err = { 0 };
	cx_ledger *l;
	(void)st;
	assert_int_equal(cx_ledger_open_dir(dir, &l, &err), 0);
	cx_ledger_close(l);
	p = tu_write(dir, ID1, "", 0, 0600);
	assert_true(claim_once(dir, ID1, 260, &err) < 0);
	assert_int_equal(err.reason, CX_E_REPLAY);
	free(p);
	tu_rmtree(root);
	free(root);
	free(dir);
}

static void racing_claimers_exactly_one_wins(void **st)
{
	enum { N = 8, ROUNDS = 20 };
	char *root, *dir = ledger_dir(&root);
	cx_error err = { 0 };
	cx_ledger *l;
	(void)st;
	assert_int_equal(cx_ledger_open_dir(dir, &l, &err), 0);
	cx_ledger_close(l);
	for (int round = 0; round < ROUNDS; round++) {
		char id[33];
		int gate[2], wins = 0, replays = 0;
		pid_t pids[N];

		snprintf(id, sizeof(id), "%032x", round + 1);
		assert_int_equal(pipe(gate), 0);
		for (int i = 0; i < N; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0) {
				char c;
				cx_error e = { 0 };
				close(gate[1]);
				(void)!read(gate[0], &c, 1); /* released together on EOF */
				int r = claim_once(dir, id, 260, &e);
				_exit(r == 0 ? 0 : e.reason == CX_E_REPLAY ? 1 : 2);
			}
		}
		close(gate[0]);
		close(gate[1]);
		for (int i = 0; i < N; i++) {
			int status;
			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status));
			wins += WEXITSTATUS(status) == 0;
			replays += WEXITSTATUS(status) == 1;
		}
		assert_int_equal(wins, 1);
		assert_int_equal(replays, N - 1);
	}
	tu_rmtree(root);
	free(root);
	free(dir);
}

static void planted_symlink_not_followed(void **st)
{
	char *root, *dir = ledger_dir(&root), *link, *target;
	cx_error err = { 0 };
	cx_ledger *l;
	struct stat sb;
	(void)st;
	assert_int_equal(cx_ledger_open_dir(dir, &l, &err), 0);
	cx_ledger_close(l);
	CX_CHECK(asprintf(&link, "%s/%s", dir, ID1) > 0);
	CX_CHECK(asprintf(&target, "%s/target", root) > 0);
	assert_int_equal(symlink(target, link), 0);
	assert_true(claim_once(dir, ID1, 260, &err) < 0);
	assert_int_equal(err.reason, CX_E_REPLAY); /* fail closed */
	assert_int_equal(lstat(target, &sb), -1);  /* nothing written through it */
	free(link);
	free(target);
	tu_rmtree(root);
	free(root);
	free(dir);
}

static void bad_ids_refused(void **st)
{
	char *root, *dir = ledger_dir(&root);
	cx_error err = { 0 };
	(void)st;
	assert_true(claim_once(dir, "../../../../etc/passwd", 1, &err) < 0);
	assert_int_equal(err.reason, CX_E_LEDGER);
	assert_true(claim_once(dir, "0123456789ABCDEF0123456789ABCDEF", 1, &err) < 0);
	assert_int_equal(err.reason, CX_E_LEDGER);
	tu_rmtree(root);
	free(root);
	free(dir);
}

static void prune_only_expired(void **st)
{
	char *root, *dir = ledger_dir(&root), *p;
	cx_error err = { 0 };
	cx_ledger *l;
	unsigned removed = 0, kept = 0;
	(void)st;
	assert_int_equal(claim_once(dir, ID1, 1000, &err), 0); /* expired at now=2000 */
	assert_int_equal(claim_once(dir, ID2, 3000, &err), 0); /* still verifiable */
	p = tu_write(dir, "00000000000000000000000000000003", "junk", 4, 0600);
	assert_int_equal(cx_ledger_open_dir(dir, &l, &err), 0);
	assert_int_equal(l->ops->prune(l, 2000, &removed, &kept, &err), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(kept, 2);
	assert_int_equal(cx_ledger_is_claimed(l, ID1, &err), 0);
	assert_int_equal(cx_ledger_is_claimed(l, ID2, &err), 1);
	assert_int_equal(cx_ledger_is_claimed(l, "00000000000000000000000000000003", &err), 1);
	cx_ledger_close(l);
	free(p);
	tu_rmtree(root);
	free(root);
	free(dir);
}

static void insecure_ledger_dir_refused(void **st)
{
	char *root, *dir = ledger_dir(&root);
	cx_error err = { 0 };
	cx_ledger *l = NULL;
	(void)st;
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_true(cx_ledger_open_dir(dir, &l, &err) < 0);
	assert_int_equal(err.reason, CX_E_LEDGER);
	tu_rmtree(root);
	free(root);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(second_claim_refused),
		cmocka_unit_test(claim_survives_sigkill_fresh_process),
		cmocka_unit_test(empty_entry_from_crash_still_burns),
		cmocka_unit_test(racing_claimers_exactly_one_wins),
		cmocka_unit_test(planted_symlink_not_followed),
		cmocka_unit_test(bad_ids_refused),
		cmocka_unit_test(prune_only_expired),
		cmocka_unit_test(insecure_ledger_dir_refused),
	};
	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
