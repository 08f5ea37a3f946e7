/* calyx-policy: policy tools for the security team.
 *
 *   calyx-policy check POLICY [LEASE]
 *
 * check: parse the policy strictly (exit 1 with the field named if it is
 * invalid); with LEASE, also check the lease body against it — policy hash
 * and every rule of "lease within policy" — without verifying signatures
 * (that is calyx-lease verify's job, which needs the keyring).
 * Trust: runs as the reviewer on files under review; no privilege. */
#include <string.h>

#include "calyx/fileio.h"
#include "calyx/lease.h"
#include "calyx/policy.h"
#include "cli.h"

static const char usage[] =
	"usage: calyx-policy check POLICY [LEASE]\n"
	"  check POLICY          validate a policy file (strict: unknown keys, types, bounds)\n"
	"  check POLICY LEASE    also check the lease body fits under the policy\n"
	"                        (signatures are not checked: use 'calyx-lease verify')\n"
	"exit: 0 ok, 1 policy invalid, 77 lease outside the policy, 2 usage\n";

static int cmd_check(int argc, char **argv)
{
	_cleanup_free_ uint8_t *pbuf = NULL, *lbuf = NULL;
	size_t plen, llen;
	cx_policy pol = { 0 };
	cx_envelope e = { 0 };
	cx_lease l = { 0 };
	cx_run_spec eff = { 0 };
	cx_error err = { 0 };
	int r;

	if (argc < 2 || argc > 3)
		return cx_cli_usage("usage: check POLICY [LEASE]");
	r = cx_read_file(argv[1], "policy", CX_POLICY_MAX_BYTES, 0, 0, &pbuf, &plen, &err);
	if (r == 0)
		r = cx_policy_parse(pbuf, plen, &pol, &err);
	if (r < 0) {
		cx_err_prefix(&err, "%s", argv[1]);
		return cx_cli_fail(&err, 1);
	}
	printf("policy OK: %s sha256:%s\n  %zu commands, %zu read trees, %zu write trees, %zu env names leasable, network:%s%s\n",
	       argv[1], pol.sha256_hex, pol.commands.n, pol.read.n, pol.write.n, pol.env_allow.n,
	       (pol.network_mask & 1) ? " none" : "", (pol.network_mask & 2) ? " loopback" : "");
	if (argc == 3) {
		r = cx_lease_read(argv[2], &lbuf, &llen, &err);
		if (r == 0)
			r = cx_envelope_parse(lbuf, llen, 0, CX_LEASE_SIGS, &e, &err);
		if (r == 0)
			r = cx_lease_body_parse(e.payload, e.payload_len, &l, &err);
		if (r == 0 && strcmp(l.policy_sha256, pol.sha256_hex) != 0)
			r = cx_err(&err, CX_E_POLICY_HASH, EPERM,
				   "lease is bound to policy %.16s…, not to this policy (%.16s…)",
				   l.policy_sha256, pol.sha256_hex);
		if (r == 0)
			r = cx_policy_resolve(&pol, &l.spec, &eff, &err);
		cx_envelope_free(&e);
		if (r < 0) {
			cx_lease_free(&l);
			cx_policy_free(&pol);
			return cx_cli_fail(&err, CX_EXIT_REFUSED);
		}
		printf("lease %s fits under this policy (signatures not checked)\n", l.lease_id);
		cx_run_spec_free(&eff);
		cx_lease_free(&l);
	}
	cx_policy_free(&pol);
	return 0;
}

int main(int argc, char **argv)
{
	cx_prog = "calyx-policy";
	static const cx_cli_cmd cmds[] = { { "check", cmd_check }, { NULL, NULL } };
	return cx_cli_dispatch(argc, argv, usage, cmds);
}
