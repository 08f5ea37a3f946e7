/* bench-verify: lease verification throughput on one core.
 * Two figures, interleaved in one run: (a) cx_lease_verify on a typical
 * two-signature lease already in memory (parse + 2x Ed25519 + body +
 * policy check), (b) the same plus reading and parsing keyring and policy
 * from files, as one calyx-exec start does. Prints medians of 15 batches.
 * No timing assertions: figures only. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/policy.h"
#include "../unit/testutil.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	enum { BATCHES = 15, PER = 400 };
	tu_fixture f;
	double a[BATCHES], b[BATCHES];
	char *env, *dir, *kpath, *ppath, *ktext;

	tu_fixture_init(&f);
	env = tu_good_lease(&f);
	dir = tu_tmpdir();
	{
		const tu_key *act[] = { &f.human, &f.agent, &f.human2, &f.agent2 };
		const tu_key *rev[] = { &f.revoked };
		ktext = tu_keyring_text(act, 4, rev, 1);
	}
	kpath = tu_write(dir, "keyring.json", ktext, strlen(ktext), 0644);
	ppath = tu_write(dir, "policy.json", tu_policy_text(), strlen(tu_policy_text()), 0644);

	for (int i = 0; i < BATCHES; i++) {
		double t0 = now_s();
		for (int k = 0; k < PER; k++) {
			cx_error err;
			CX_CHECK(tu_verify(&f, env, &err) == 0);
		}
		a[i] = (now_s() - t0) / PER;
		t0 = now_s();
		for (int k = 0; k < PER; k++) {
			cx_keyring kr;
			cx_policy pol;
			cx_lease l;
			cx_error err;
			CX_CHECK(cx_keyring_load(kpath, geteuid(), &kr, &err) == 0);
			CX_CHECK(cx_policy_load(ppath, geteuid(), &pol, &err) == 0);
			cx_verify_input in = { .keyring = &kr, .policy = &pol, .now = f.now };
			CX_CHECK(cx_lease_verify(&in, (uint8_t *)env, strlen(env), &l, &err) == 0);
			cx_lease_free(&l);
			cx_policy_free(&pol);
			cx_keyring_free(&kr);
		}
		b[i] = (now_s() - t0) / PER;
	}
	qsort(a, BATCHES, sizeof(double), cmp);
	qsort(b, BATCHES, sizeof(double), cmp);
	printf("lease verification, %zu-byte two-signature lease, %d batches x %d, one core\n",
	       strlen(env), BATCHES, PER);
	printf("  verify (in memory)            median %7.1f us  min %7.1f  max %7.1f  -> %6.0f leases/s\n",
	       a[BATCHES / 2] * 1e6, a[0] * 1e6, a[BATCHES - 1] * 1e6, 1 / a[BATCHES / 2]);
	printf("  load keyring+policy + verify  median %7.1f us  min %7.1f  max %7.1f  -> %6.0f leases/s\n",
	       b[BATCHES / 2] * 1e6, b[0] * 1e6, b[BATCHES - 1] * 1e6, 1 / b[BATCHES / 2]);
	printf("  goal: >= 5,000 leases/s on one core (<= 200 us per verification)\n");
	tu_rmtree(dir);
	free(dir);
	free(kpath);
	free(ppath);
	free(ktext);
	free(env);
	tu_fixture_free(&f);
	return 0;
}
