/* calyx-audit: check the audit log offline.
 *
 *   calyx-audit verify (--host-pub FILE | --config FILE) LOG
 *
 * --host-pub names a file holding the host's Ed25519 public key, as
 * canonical base64 or as a keyring entry (NAME.pub.json from keygen);
 * --config derives it from the configured host key (root only).
 * Later issues add show/report and --expect-head.
 * Trust: reads a log that may have been tampered with; every line checked. */
#include <getopt.h>
#include <sodium.h>
#include <string.h>

#include "calyx/audit.h"
#include "calyx/codec.h"
#include "calyx/config.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "cli.h"

#define AUDIT_LOG_MAX (1ull << 32)

static const char usage[] =
	"usage: calyx-audit verify (--host-pub FILE | --config FILE) LOG\n"
	"  verify   check every line's signature, the hash chain and seq continuity\n"
	"exit: 0 log intact, 1 tampered or unreadable, 2 usage\n";

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = { { "host-pub", required_argument, 0, 'p' },
					      { "config", required_argument, 0, 'c' },
					      { 0, 0, 0, 0 } };
	const char *pubpath = NULL, *cfgpath = NULL;
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
		else
			return cx_cli_usage("verify: unknown option");
	}
	if (!!pubpath == !!cfgpath || optind != argc - 1)
		return cx_cli_usage("usage: verify (--host-pub FILE | --config FILE) LOG");
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
			cx_key k = { 0 };
			r = cx_json_parse_object(pb, pl, "host public key", &j, &err);
			if (r == 0)
				r = cx_key_entry_parse(j, "host public key", &k, &err);
			if (r < 0)
				return cx_cli_fail(&err, 1);
			memcpy(pk, k.pk, 32);
			free(k.principal);
		} else if (cx_b64_decode((char *)pb, pl, pk, 32, 32) != 32) {
			cx_err(&err, CX_E_KEY, EINVAL, "'%s' is not canonical base64 of a 32-byte public key", pubpath);
			return cx_cli_fail(&err, 1);
		}
	} else {
		cx_config cfg = { 0 };
		uint8_t seed[32];
		if (getuid() != 0) {
			fprintf(stderr, "calyx-audit: --config needs root (use --host-pub with the host's public key)\n");
			return 1;
		}
		r = cx_config_load(cfgpath, 0, &cfg, &err);
		if (r == 0)
			r = cx_seed_load(cfg.host_key, "host key", true, 0, seed, &err);
		cx_config_free(&cfg);
		if (r < 0)
			return cx_cli_fail(&err, 1);
		cx_seed_public(seed, pk);
		cx_wipe(seed, sizeof(seed));
	}
	r = cx_read_file(argv[optind], "audit log", AUDIT_LOG_MAX, 0, 0, &buf, &len, &err);
	if (r == 0)
		r = cx_audit_verify(buf, len, pk, &rep, &err);
	if (r < 0)
		return cx_cli_fail(&err, 1);
	printf("audit log OK: %llu events, chain and signatures intact, head %s\n",
	       (unsigned long long)rep.lines, rep.head);
	return 0;
}

int main(int argc, char **argv)
{
	cx_prog = "calyx-audit";
	if (sodium_init() < 0)
		return 1;
	static const cx_cli_cmd cmds[] = { { "verify", cmd_verify }, { NULL, NULL } };
	return cx_cli_dispatch(argc, argv, usage, cmds);
}
