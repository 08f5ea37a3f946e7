/* calyx-lease: the signer's tool.
 *
 *   calyx-lease keygen --role human|agent --name NAME --out DIR
 *   calyx-lease keyring add KEYRING ENTRY.pub.json
 *   calyx-lease new BODY.json -o LEASE [--policy POLICY] [--ttl SECONDS]
 *   calyx-lease sign --key NAME.key LEASE
 *   calyx-lease verify --keyring K --policy P [--host-id ID] [--pool NAME]... LEASE
 *   calyx-lease show [--keyring K] LEASE
 *
 * Trust: runs as the signer (any user). Secret seeds are read only from
 * files with no group/other permissions and wiped after use. Nothing is
 * ever signed that does not parse as a valid lease body. */
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "calyx/codec.h"
#include "calyx/esc.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/path.h"
#include "calyx/policy.h"
#include "calyx/sandbox.h"
#include "cli.h"

static const char usage[] =
	"usage: calyx-lease COMMAND ...\n"
	"  keygen --role human|agent --name NAME --out DIR\n"
	"        new key pair: DIR/NAME.key (32-byte seed, mode 0600), DIR/NAME.pub.json\n"
	"  keyring add KEYRING ENTRY.pub.json\n"
	"        add a public key entry to a keyring (created if missing)\n"
	"  new BODY.json -o LEASE [--policy POLICY] [--ttl SECONDS] [--no-host-check]\n"
	"        validate a lease body, fill lease_id, times (ttl default 1800 s) and\n"
	"        policy_sha256 (from --policy) when absent; write an unsigned lease;\n"
	"        refuses a command or exec entry this host lacks, reaches through a\n"
	"        symlink (naming the real path) or cannot execute\n"
	"  sign --key NAME.key [--policy POLICY] [--yes] LEASE\n"
	"        add one signature (one human and one agent key must each sign); on a\n"
	"        terminal it shows what is signed and a risk review and asks first\n"
	"  verify --keyring K --policy P [--host-id ID] [--pool NAME]... LEASE\n"
	"        verify as calyx-exec would, without consuming it\n"
	"  show [--keyring K] [--policy P] LEASE\n"
	"        what the lease allows, in words, a risk review, and who signed\n"
	"exit: 0 ok, 77 lease refused, 125 error, 2 usage\n";

static bool name_ok(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool an = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!an && !(i > 0 && (c == '.' || c == '_' || c == '-' || c == '@')))
			return false;
	}
	return i > 0 && i <= 64;
}

static int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = { { "role", required_argument, 0, 'r' },
					      { "name", required_argument, 0, 'n' },
					      { "out", required_argument, 0, 'o' },
					      { 0, 0, 0, 0 } };
	const char *role = NULL, *name = NULL, *out = NULL;
	char keypath[4096], pubpath[4096];
	cx_key k = { 0 };
	cx_error err = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "r:n:o:", opts, NULL)) != -1) {
		if (c == 'r')
			role = optarg;
		else if (c == 'n')
			name = optarg;
		else if (c == 'o')
			out = optarg;
		else
			return cx_cli_usage("keygen: unknown option");
	}
	if (!role || !name || !out || optind != argc)
		return cx_cli_usage("keygen needs --role, --name and --out");
	if (cx_role_parse(role, &k.role) < 0)
		return cx_cli_usage("keygen: --role must be 'human' or 'agent'");
	if (!name_ok(name))
		return cx_cli_usage("keygen: --name '%s' must be 1-64 of [A-Za-z0-9._@-]", name);
	if (snprintf(keypath, sizeof(keypath), "%s/%s.key", out, name) >= (int)sizeof(keypath) ||
	    snprintf(pubpath, sizeof(pubpath), "%s/%s.pub.json", out, name) >= (int)sizeof(pubpath))
		return cx_cli_usage("keygen: --out path too long");

	if (cx_keygen_write(keypath, pubpath, k.role, name, k.keyid, &err) < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_esc_line(stdout, "%s key '%s': %s", role, name, k.keyid);
	cx_esc_line(stdout, "  secret seed %s (mode 0600, keep it private)", keypath);
	cx_esc_line(stdout, "  keyring entry %s", pubpath);
	return 0;
}

static int cmd_keyring(int argc, char **argv)
{
	_cleanup_free_ uint8_t *kbuf = NULL, *ebuf = NULL;
	_cleanup_free_ char *out = NULL;
	_cleanup_json_ json_t *kj = NULL, *ej = NULL;
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 }, written = { 0 };
	_cleanup_(cx_key_free) cx_key k = { 0 };
	size_t klen = 0, elen;
	cx_error err = { 0 };
	struct stat st;
	int r;

	if (argc != 4 || strcmp(argv[1], "add") != 0)
		return cx_cli_usage("usage: keyring add KEYRING ENTRY.pub.json");
	const char *kpath = argv[2], *epath = argv[3];

	r = cx_read_file(epath, "key entry", 64 * 1024, 0, 0, &ebuf, &elen, &err);
	if (r == 0)
		r = cx_json_parse_object(ebuf, elen, "key entry", &ej, &err);
	if (r == 0)
		r = cx_key_entry_parse(ej, "key entry", &k, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);

	if (lstat(kpath, &st) == 0) {
		r = cx_read_file(kpath, "keyring", CX_KEYRING_MAX_BYTES, 0, 0, &kbuf, &klen, &err);
		if (r == 0)
			r = cx_keyring_parse(kbuf, klen, &kr, &err); /* validate first */
		if (r == 0)
			r = cx_json_parse_object(kbuf, klen, "keyring", &kj, &err);
		if (r < 0)
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
	} else {
		kj = json_pack("{s:i, s:{}}", "v", 1, "keys");
	}
	for (size_t i = 0; i < kr.n; i++)
		if (memcmp(kr.keys[i].pk, k.pk, 32) == 0) {
			cx_err(&err, CX_E_DUP_KEY, EEXIST,
			       "this public key is already in '%s' as %.16s… ('%s'%s)", kpath,
			       kr.keys[i].keyid, kr.keys[i].principal,
			       kr.keys[i].revoked ? ", revoked" : "");
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
		}
	json_object_set_new(json_object_get(kj, "keys"), k.keyid, cx_key_entry_json(&k, false));
	out = cx_json_dump_pretty(kj);
	/* Re-validate what we are about to write. */
	r = cx_keyring_parse((uint8_t *)out, strlen(out), &written, &err);
	if (r == 0)
		r = cx_write_file_atomic(kpath, out, strlen(out), 0644, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_esc_line(stdout, "added %s key '%s' (%s) to %s", cx_role_name(k.role), k.principal, k.keyid,
		    kpath);
	return 0;
}

static int cmd_new(int argc, char **argv)
{
	static const struct option opts[] = { { "out", required_argument, 0, 'o' },
					      { "policy", required_argument, 0, 'p' },
					      { "ttl", required_argument, 0, 't' },
					      { "no-host-check", no_argument, 0, 'H' },
					      { 0, 0, 0, 0 } };
	const char *out = NULL, *policy = NULL;
	bool host_check = true;
	uint64_t ttl = 1800;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *j = NULL;
	size_t len;
	cx_error err = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_free_ char *s = NULL;
	int64_t now = (int64_t)time(NULL);
	int c, r;

	while ((c = getopt_long(argc, argv, "o:p:t:", opts, NULL)) != -1) {
		if (c == 'H')
			host_check = false;
		else if (c == 'o')
			out = optarg;
		else if (c == 'p')
			policy = optarg;
		else if (c == 't') {
			if (cx_parse_u64(optarg, CX_POLICY_LIFETIME_MAX, &ttl) < 0 || ttl == 0)
				return cx_cli_usage("new: --ttl must be 1..%lld seconds",
						    (long long)CX_POLICY_LIFETIME_MAX);
		} else
			return cx_cli_usage("new: unknown option");
	}
	if (!out || optind != argc - 1)
		return cx_cli_usage("usage: new BODY.json -o LEASE [--policy POLICY] [--ttl SECONDS] [--no-host-check]");
	r = cx_read_file(argv[optind], "lease body", CX_LEASE_BODY_MAX_BYTES, 0, 0, &buf, &len, &err);
	if (r == 0)
		r = cx_json_parse_object(buf, len, "lease body", &j, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	if (!json_object_get(j, "v"))
		json_object_set_new(j, "v", json_integer(1));
	if (!json_object_get(j, "lease_id")) {
		uint8_t id[16];
		char hex[33];
		randombytes_buf(id, sizeof(id));
		cx_hex_encode(id, sizeof(id), hex);
		json_object_set_new(j, "lease_id", json_string(hex));
	}
	if (!json_object_get(j, "issued_at"))
		json_object_set_new(j, "issued_at", json_integer(now));
	if (!json_object_get(j, "not_before"))
		json_object_set_new(j, "not_before", json_integer(now));
	if (!json_object_get(j, "not_after"))
		json_object_set_new(j, "not_after",
				    json_integer(json_integer_value(json_object_get(j, "not_before")) +
						 (json_int_t)ttl));
	if (policy) {
		_cleanup_free_ uint8_t *pbuf = NULL;
		size_t plen;
		char hex[65];
		r = cx_read_file(policy, "policy", CX_POLICY_MAX_BYTES, 0, 0, &pbuf, &plen, &err);
		if (r < 0)
			return cx_cli_fail(&err, CX_EXIT_FAILURE);
		cx_sha256_hex(pbuf, plen, hex);
		json_object_set_new(j, "policy_sha256", json_string(hex));
	}
	e.payload = (uint8_t *)json_dumps(j, JSON_INDENT(2));
	CX_CHECK(e.payload);
	e.payload_len = strlen((char *)e.payload);
	e.payload_type = cx_strdup(CX_LEASE_PAYLOAD_TYPE);
	/* Never produce a lease that cannot verify for its own body reasons. */
	r = cx_lease_body_parse(e.payload, e.payload_len, &l, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	/* Nor one whose command or exec entries this host would not run (a
	 * symlink: the message names the real path; never rewritten here,
	 * the signers sign what they wrote). */
	if (host_check && cx_sandbox_check_exec_host(&l.spec, &err) < 0) {
		cx_err_prefix(&err, "lease body '%s'", argv[optind]);
		size_t n = strlen(err.msg);
		snprintf(err.msg + n, sizeof(err.msg) - n,
			 " (checked on this host; --no-host-check when the lease runs elsewhere)");
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	}
	s = cx_envelope_dump(&e);
	r = cx_write_file_atomic(out, s, strlen(s), 0644, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_esc_line(stdout, "wrote unsigned lease %s to %s (sign it with a human key and an agent key)",
		    l.lease_id, out);
	return 0;
}

/* A lease string a terminal would obey or a reader would not see (a
 * control character, a bidi or invisible mark, bytes that are not UTF-8):
 * shown escaped by the printer, and flagged here. */
static int flag_hidden(const char *field, const char *s)
{
	char what[64];

	if (!s || !cx_text_first_hidden(s, what))
		return 0;
	cx_esc_line(stdout, "  ! %s holds %s, shown escaped above: a terminal or editor may show it as something else",
		    field, what);
	return 1;
}

static int flag_hidden_strv(const char *field, const cx_strv *v)
{
	char name[64];
	int n = 0;

	for (size_t i = 0; i < v->n; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		n += flag_hidden(name, v->v[i]);
	}
	return n;
}

/* Every string of the lease, run through flag_hidden. */
static int flag_hidden_lease(const cx_lease *l)
{
	const cx_run_spec *s = &l->spec;
	int n = flag_hidden("run_id", l->run_id) + flag_hidden("intent_id", l->intent_id) +
		flag_hidden("purpose", l->purpose) + flag_hidden("audience", l->audience) +
		flag_hidden_strv("argv", &s->argv) + flag_hidden_strv("validate.argv", &s->validate_argv) +
		flag_hidden("cwd", s->cwd) + flag_hidden("workspace", s->workspace) +
		flag_hidden_strv("paths.ro", &s->ro) + flag_hidden_strv("paths.rw", &s->rw) +
		flag_hidden_strv("exec", &s->exec);
	for (size_t i = 0; i < s->env.n; i++) {
		char field[96];
		snprintf(field, sizeof(field), "env %.80s", s->env.name[i]);
		n += flag_hidden(field, s->env.name[i]) + flag_hidden(field, s->env.value[i]);
	}
	return n;
}

/* What a co-signer should look at before signing (issue: never sign
 * blind): interpreters, write access, limits against the policy's
 * defaults, network, the validity window, strings that do not show as
 * what they are. Strings are written escaped (calyx/esc.h). */
static void print_risk(const cx_lease *l, const cx_policy *pol)
{
	const cx_run_spec *s = &l->spec;
	int64_t now = (int64_t)time(NULL);
	int n = 0;

	printf("review:\n");
	n += flag_hidden_lease(l);
	if (cx_command_is_interpreter(s->argv.v[0]))
		cx_esc_line(stdout, "  ! %s interprets its arguments: this lease's argv is a program (%zu args)",
			    s->argv.v[0], s->argv.n - 1), n++;
	if (s->validate_argv.n && cx_command_is_interpreter(s->validate_argv.v[0]))
		cx_esc_line(stdout, "  ! the validate step %s interprets its arguments", s->validate_argv.v[0]), n++;
	for (size_t i = 0; i < s->exec.n; i++) {
		const char *x = s->exec.v[i];
		if (cx_command_classify(x) != CX_CMD_PLAIN)
			cx_esc_line(stdout, "  ! may execute %s, which runs whatever program it is given", x), n++;
		bool writable = s->workspace && cx_path_within(x, "/work");
		for (size_t k = 0; k < s->rw.n; k++)
			writable |= cx_path_within(x, s->rw.v[k]);
		if (writable)
			cx_esc_line(stdout, "  ! may execute %s, which the run itself can write", x), n++;
	}
	if (s->workspace)
		cx_esc_line(stdout, "  ! may change %s (committed only if the run and validate succeed; undoable)",
			    s->workspace), n++;
	for (size_t i = 0; i < s->rw.n; i++)
		cx_esc_line(stdout, "  ! may change %s", s->rw.v[i]), n++;
	if (s->network == CX_NET_LOOPBACK)
		printf("  ! may use loopback networking inside its sandbox\n"), n++;
	if (s->stdin_inherit)
		printf("  ! reads the deployer's stdin\n"), n++;
	for (int i = 0; pol && i < CX_LIM__COUNT; i++)
		if ((s->limits.set & (1u << i)) && s->limits.v[i] > pol->def.v[i])
			printf("  ! %s %llu is %.1fx the policy default (%llu; ceiling %llu)\n",
			       cx_limit_name(i), (unsigned long long)s->limits.v[i],
			       (double)s->limits.v[i] / (double)pol->def.v[i],
			       (unsigned long long)pol->def.v[i], (unsigned long long)pol->max.v[i]),
				n++;
	if (pol && strcmp(l->policy_sha256, pol->sha256_hex) != 0)
		printf("  ! bound to another policy than %.16s… (it will be refused there)\n",
		       pol->sha256_hex), n++;
	if (cx_lease_pool(l) && l->count > 1)
		cx_esc_line(stdout, "  ! runs on %lld hosts of pool '%s' (each host once)", (long long)l->count,
			    cx_lease_pool(l)), n++;
	if (cx_lease_pool(l))
		cx_esc_line(stdout, "  - valid for %lld s%s; on %s of pool '%s', decided by the pool's ledger",
			    (long long)(l->not_after - l->not_before),
			    l->not_after <= now ? " (ALREADY EXPIRED)" : "",
			    l->count > 1 ? "that many hosts" : "one host", cx_lease_pool(l));
	else
		printf("  - valid for %lld s%s; %s\n", (long long)(l->not_after - l->not_before),
		       l->not_after <= now ? " (ALREADY EXPIRED)" : "",
		       l->audience ? "for one host" : "any host may run it");
	if (!n)
		cx_esc_line(stdout, "  - nothing beyond reading its ro paths and running %s", s->argv.v[0]);
}

static int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = { { "key", required_argument, 0, 'k' },
					      { "policy", required_argument, 0, 'p' },
					      { "yes", no_argument, 0, 'y' },
					      { 0, 0, 0, 0 } };
	const char *keypath = NULL, *ppath = NULL;
	bool yes = false;
	_cleanup_(cx_policy_free) cx_policy pol = { 0 };
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	uint8_t seed[32], pk[32];
	char keyid[65];
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "k:p:y", opts, NULL)) != -1) {
		if (c == 'k')
			keypath = optarg;
		else if (c == 'p')
			ppath = optarg;
		else if (c == 'y')
			yes = true;
		else
			return cx_cli_usage("sign: unknown option");
	}
	if (!keypath || optind != argc - 1)
		return cx_cli_usage("usage: sign --key NAME.key [--policy POLICY] [--yes] LEASE");
	const char *lpath = argv[optind];
	r = cx_seed_load(keypath, "key", false, 0, seed, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	r = cx_lease_read(lpath, &buf, &len, &err);
	if (r == 0)
		r = cx_envelope_parse(buf, len, 0, CX_LEASE_SIGS - 1, &e, &err);
	if (r == 0)
		r = cx_lease_body_parse(e.payload, e.payload_len, &l, &err);
	if (r == 0 && ppath)
		r = cx_policy_load(ppath, getuid() == 0 ? 0 : geteuid(), &pol, &err);
	/* Never sign blind: on a terminal, show what is signed and ask. */
	if (r == 0 && !yes && isatty(STDIN_FILENO)) {
		char answer[16] = "";
		cx_cli_print_lease(stdout, &l, false);
		print_risk(&l, ppath ? &pol : NULL);
		cx_esc_printf(stdout, "sign this lease with %s? [y/N] ", keypath);
		fflush(stdout);
		if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
			r = cx_err(&err, CX_E_USAGE, ECANCELED, "not signed (answered no)");
	}
	if (r == 0)
		r = cx_envelope_sign(&e, seed, &err);
	cx_seed_public(seed, pk);
	cx_wipe(seed, sizeof(seed));
	if (r == 0) {
		_cleanup_free_ char *s = cx_envelope_dump(&e);
		r = cx_write_file_atomic(lpath, s, strlen(s), 0644, &err);
	}
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_FAILURE);
	cx_keyid(pk, keyid);
	cx_esc_line(stdout, "signed lease %s (run '%s') with key %s", l.lease_id, l.run_id, keyid);
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = { { "keyring", required_argument, 0, 'k' },
					      { "policy", required_argument, 0, 'p' },
					      { "host-id", required_argument, 0, 'h' },
					      { "pool", required_argument, 0, 'P' },
					      { 0, 0, 0, 0 } };
	const char *kpath = NULL, *ppath = NULL, *host = NULL;
	char *pools[16];
	size_t npools = 0;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	_cleanup_(cx_policy_free) cx_policy pol = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "k:p:h:P:", opts, NULL)) != -1) {
		if (c == 'k')
			kpath = optarg;
		else if (c == 'p')
			ppath = optarg;
		else if (c == 'h')
			host = optarg;
		else if (c == 'P' && npools < CX_ARRAY_SIZE(pools))
			pools[npools++] = optarg;
		else
			return cx_cli_usage("verify: unknown option");
	}
	if (!kpath || !ppath || optind != argc - 1)
		return cx_cli_usage("usage: verify --keyring K --policy P [--host-id ID] [--pool NAME]... LEASE");
	/* Reviewers' copies are checked like calyx-exec's, owned by root or
	 * by the reviewer running this. */
	uid_t owner = getuid() == 0 ? 0 : geteuid();
	r = cx_keyring_load(kpath, owner, &kr, &err);
	if (r == 0)
		r = cx_policy_load(ppath, owner, &pol, &err);
	if (r < 0)
		return cx_cli_fail(&err, -1);
	r = cx_lease_read(argv[optind], &buf, &len, &err);
	if (r == 0) {
		cx_verify_input in = { .keyring = &kr, .policy = &pol, .host_id = host,
				       .pools = pools, .n_pools = npools, .now = (int64_t)time(NULL) };
		r = cx_lease_verify(&in, buf, len, &l, &err);
	}
	/* and what it executes is there on this host, as calyx-exec checks */
	if (r == 0)
		r = cx_sandbox_check_exec_host(&l.spec, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_REFUSED);
	printf("lease OK: verified, not consumed\n");
	cx_cli_print_lease(stdout, &l, true);
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = { { "keyring", required_argument, 0, 'k' },
					      { "policy", required_argument, 0, 'p' },
					      { 0, 0, 0, 0 } };
	const char *kpath = NULL, *ppath = NULL;
	_cleanup_(cx_policy_free) cx_policy pol = { 0 };
	_cleanup_free_ uint8_t *buf = NULL, *pae = NULL;
	size_t len, pae_len;
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	_cleanup_(cx_envelope_free) cx_envelope e = { 0 };
	_cleanup_(cx_lease_free) cx_lease l = { 0 };
	cx_error err = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "k:p:", opts, NULL)) != -1) {
		if (c == 'k')
			kpath = optarg;
		else if (c == 'p')
			ppath = optarg;
		else
			return cx_cli_usage("show: unknown option");
	}
	if (optind != argc - 1)
		return cx_cli_usage("usage: show [--keyring K] [--policy P] LEASE");
	if (ppath && cx_policy_load(ppath, getuid() == 0 ? 0 : geteuid(), &pol, &err) < 0)
		return cx_cli_fail(&err, -1);
	if (kpath) {
		r = cx_keyring_load(kpath, getuid() == 0 ? 0 : geteuid(), &kr, &err);
		if (r < 0)
			return cx_cli_fail(&err, -1);
	}
	r = cx_lease_read(argv[optind], &buf, &len, &err);
	if (r == 0)
		r = cx_envelope_parse(buf, len, 0, CX_LEASE_SIGS, &e, &err);
	if (r == 0)
		r = cx_lease_body_parse(e.payload, e.payload_len, &l, &err);
	if (r < 0)
		return cx_cli_fail(&err, CX_EXIT_REFUSED);
	printf("UNVERIFIED view of the lease body (use 'calyx-lease verify' to check it)\n");
	cx_cli_print_lease(stdout, &l, false);
	print_risk(&l, ppath ? &pol : NULL);
	cx_pae(e.payload_type, e.payload, e.payload_len, &pae, &pae_len);
	if (e.nsig == 0)
		printf("  signatures   none yet\n");
	for (size_t i = 0; i < e.nsig; i++) {
		const cx_key *k = kpath ? cx_keyring_find(&kr, e.sigs[i].keyid) : NULL;
		if (!k) {
			cx_esc_line(stdout, "  signature    by %s%s", e.sigs[i].keyid,
				    kpath ? ": NOT IN KEYRING" : "");
			continue;
		}
		bool ok = crypto_sign_verify_detached(e.sigs[i].sig, pae, pae_len, k->pk) == 0;
		cx_esc_line(stdout, "  signature    by %s key '%s'%s: %s", cx_role_name(k->role), k->principal,
			    k->revoked ? " (REVOKED)" : "", ok ? "valid" : "DOES NOT VERIFY");
	}
	return 0;
}

int main(int argc, char **argv)
{
	cx_prog = "calyx-lease";
	if (sodium_init() < 0) {
		fprintf(stderr, "calyx-lease: error: libsodium failed to initialise\n");
		return CX_EXIT_FAILURE;
	}
	static const cx_cli_cmd cmds[] = {
		{ "keygen", cmd_keygen }, { "keyring", cmd_keyring }, { "new", cmd_new },
		{ "sign", cmd_sign },     { "verify", cmd_verify },   { "show", cmd_show },
		{ NULL, NULL },
	};
	return cx_cli_dispatch(argc, argv, usage, cmds);
}
