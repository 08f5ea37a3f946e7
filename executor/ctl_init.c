/* calyx-ctl init: a host made ready for calyx-exec, once (README "Install
 * on a server"; the hand-made equivalent is scripts/demo.sh's step 2-5).
 *
 *   calyx-ctl init [--host-id ID] [--prefix /etc/calyx] [--state /var/lib/calyx]
 *                  [--log /var/log/calyx] [--run-uids FIRST-LAST] [--dry-run]
 *
 * Creates what is missing, never replaces anything (O_EXCL writes, a key
 * or config that exists is kept and only checked), one line per item;
 * then runs the host check calyx-exec --probe prints (ready.h).
 * Trust: runs as root; its inputs are its own options and the files it
 * finds, checked with the same strict loaders calyx-exec uses. */
#include "ctl_init.h"

#include <getopt.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calyx/config.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/lease.h"
#include "calyx/path.h"
#include "calyx/policy.h"
#include "cli.h"
#include "ready.h"

/* The starter policy: valid, and runs nothing until commands lists some
 * (the policy format has no comments: README "Configuration" and
 * examples/README.examples explain it). */
static const char starter_policy[] =
	"{ \"v\": 1,\n"
	"  \"commands\": [],\n"
	"  \"read\": [\"/usr\"],\n"
	"  \"write\": [],\n"
	"  \"env\": {\"allow\": [\"LANG\", \"TZ\"], \"set\": {\"PATH\": \"/usr/bin:/bin\"}},\n"
	"  \"limits\": {\"max\":     {\"cpu_ms\": 600000, \"memory_bytes\": 1073741824, \"pids\": 256,\n"
	"                          \"wall_ms\": 1800000, \"nofile\": 1024, \"fsize_bytes\": 1073741824,\n"
	"                          \"tmp_bytes\": 268435456, \"disk_bytes\": 1073741824, \"inodes\": 65536},\n"
	"             \"default\": {\"cpu_ms\": 60000, \"memory_bytes\": 268435456, \"pids\": 64,\n"
	"                          \"wall_ms\": 120000, \"nofile\": 256, \"fsize_bytes\": 104857600,\n"
	"                          \"tmp_bytes\": 67108864, \"disk_bytes\": 268435456, \"inodes\": 16384}},\n"
	"  \"network\": [\"none\"],\n"
	"  \"lease\": {\"max_lifetime_s\": 3600, \"clock_skew_s\": 60, \"require_audience\": true} }\n";

static const char example_build[] =
	"{ \"v\": 1,\n"
	"  \"commands\": [\"/usr/local/lib/calyx-build/build.sh\"],\n"
	"  \"exec\": [\"/usr/bin/make\", \"/usr/bin/gcc\", \"/usr/bin/as\", \"/usr/bin/ld\", \"/srv/build/out\"],\n"
	"  \"read\": [\"/usr\"],\n"
	"  \"write\": [\"/srv/build\"],\n"
	"  \"env\": {\"allow\": [\"LANG\", \"TZ\"], \"set\": {\"PATH\": \"/usr/bin:/bin\", \"HOME\": \"/work\"}},\n"
	"  \"limits\": {\"max\":     {\"cpu_ms\": 600000, \"memory_bytes\": 2147483648, \"pids\": 512,\n"
	"                          \"wall_ms\": 1800000, \"nofile\": 1024, \"fsize_bytes\": 1073741824,\n"
	"                          \"tmp_bytes\": 268435456, \"disk_bytes\": 2147483648, \"inodes\": 262144},\n"
	"             \"default\": {\"cpu_ms\": 60000, \"memory_bytes\": 268435456, \"pids\": 64,\n"
	"                          \"wall_ms\": 120000, \"nofile\": 256, \"fsize_bytes\": 104857600,\n"
	"                          \"tmp_bytes\": 67108864, \"disk_bytes\": 268435456, \"inodes\": 16384}},\n"
	"  \"network\": [\"none\"],\n"
	"  \"lease\": {\"max_lifetime_s\": 3600, \"clock_skew_s\": 60, \"require_audience\": true},\n"
	"  \"syscalls\": {\"deny\": [\"ptrace\"]} }\n";

static const char example_deploy[] =
	"{ \"v\": 1,\n"
	"  \"commands\": [\"/usr/local/sbin/deploy-app\"],\n"
	"  \"read\": [\"/usr\", \"/etc/ssl/certs\"],\n"
	"  \"write\": [\"/srv/app\"],\n"
	"  \"env\": {\"allow\": [\"LANG\", \"TZ\", \"RELEASE\"], \"set\": {\"PATH\": \"/usr/bin:/bin\"}},\n"
	"  \"limits\": {\"max\":     {\"cpu_ms\": 120000, \"memory_bytes\": 536870912, \"pids\": 64,\n"
	"                          \"wall_ms\": 600000, \"nofile\": 256, \"fsize_bytes\": 536870912,\n"
	"                          \"tmp_bytes\": 67108864, \"disk_bytes\": 1073741824, \"inodes\": 65536},\n"
	"             \"default\": {\"cpu_ms\": 30000, \"memory_bytes\": 268435456, \"pids\": 32,\n"
	"                          \"wall_ms\": 120000, \"nofile\": 128, \"fsize_bytes\": 104857600,\n"
	"                          \"tmp_bytes\": 33554432, \"disk_bytes\": 268435456, \"inodes\": 16384}},\n"
	"  \"network\": [\"none\", \"loopback\"],\n"
	"  \"lease\": {\"max_lifetime_s\": 1800, \"clock_skew_s\": 60, \"require_audience\": true},\n"
	"  \"workspace_lock\": \"refuse\" }\n";

static const char example_readme[] =
	"Example calyx policies (calyx-ctl init). The policy format is strict JSON\n"
	"with no comments, so the explanations are here. Neither file is used: copy\n"
	"the one closest to your job over the policy the config names (policy.json\n"
	"beside this directory), edit it, then check it:\n"
	"\n"
	"  calyx-policy check policy.json && calyx-policy lint policy.json\n"
	"\n"
	"A policy is the ceiling every lease must fit under; leases are bound to its\n"
	"sha256, so leases signed against the old policy stop verifying once it\n"
	"changes (calyx-policy diff shows what a change allows).\n"
	"\n"
	"policy.json (the starter, beside this directory): \"commands\": [] - no\n"
	"lease can name a command, so nothing runs until you list some.\n"
	"\n"
	"build-job.json: a build in a workspace under /srv/build.\n"
	"  commands   what a lease may run as its argv[0]: one reviewed build\n"
	"             script, root-owned outside every write tree.\n"
	"             calyx-policy lint reports make as an error (CX122 in exec,\n"
	"             CX101 as a command): make runs whatever its makefile names, so\n"
	"             a build policy is a deliberate, reviewed exception.\n"
	"  exec       what the run may execute besides: make, the compiler driver, the\n"
	"             assembler and linker, and the tree the build writes its\n"
	"             programs to (make check runs them). Landlock grants execute on\n"
	"             files, and /usr/bin/gcc, as and ld are usually links: list their\n"
	"             targets (readlink -f /usr/bin/gcc; gcc -print-prog-name=cc1), or\n"
	"             let calyx-policy learn find them.\n"
	"  write      the trees leases may name as workspace or rw. The state dir\n"
	"             and the audit log must lie outside every write tree.\n"
	"  limits     max: the most a lease may ask; default: what a lease that\n"
	"             names no limit gets.\n"
	"  syscalls   extra seccomp denials on top of the built-in filter.\n"
	"\n"
	"deploy-script.json: one reviewed deploy script, /usr/local/sbin/deploy-app,\n"
	"run on /srv/app.\n"
	"  env.allow  names a lease may set (RELEASE: which release to deploy).\n"
	"  network    \"loopback\": the lease may ask for a loopback-only network\n"
	"             (to reach a local service); \"none\" is the default.\n"
	"  workspace_lock \"refuse\": a second deploy on the same tree is refused\n"
	"             while one runs, rather than queued (\"wait\").\n"
	"  A script is a program that runs programs: Landlock lets a run execute\n"
	"  only its command and the policy's exec entries, so list in exec what the\n"
	"  script runs (calyx-policy lint warns about interpreters and shells).\n";

typedef struct init_ctx {
	bool dry;
	int created, kept, warned;
	cx_error err; /* the failure that stops init (exit 125) */
} init_ctx;

static void created(init_ctx *c, const char *path, const char *what)
{
	c->created++;
	cx_esc_line(stdout, "%s %s (%s)", c->dry ? "would create:" : "created", path, what);
}

static void kept(init_ctx *c, const char *path)
{
	c->kept++;
	cx_esc_line(stdout, "exists, kept: %s", path);
}

static void warn(init_ctx *c, const char *path, const char *msg)
{
	c->warned++;
	cx_esc_line(stdout, "  warning: %s: %s", path, msg);
}

/* A directory of mode `mode`, root's; when it exists, whether it is one
 * the strict checks accept (strict: no group/other bits at all). Its
 * parents are made 0755 when missing. */
static int ensure_dir(init_ctx *c, const char *path, mode_t mode, const char *what)
{
	struct stat st;
	char buf[CX_PATH_MAX + 1];

	if (lstat(path, &st) == 0) {
		kept(c, path);
		if (!S_ISDIR(st.st_mode))
			warn(c, path, "is not a directory (move it away and run init again)");
		else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
			 ((mode & 077) == 0 && (st.st_mode & 077)))
			warn(c, path, (mode & 077) == 0 ? "must be root's with mode 0700 (chown root; chmod 700)"
							 : "must be root's and not group/world-writable (chown root; chmod 755)");
		return 0;
	}
	if (errno != ENOENT)
		return cx_err(&c->err, CX_E_IO, errno, "cannot look at '%s': %s", path, strerror(errno));
	created(c, path, what);
	if (c->dry)
		return 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return cx_err(&c->err, CX_E_IO, errno, "cannot create '%s': %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, mode) < 0 || chmod(path, mode) < 0)
		return cx_err(&c->err, CX_E_IO, errno, "cannot create '%s': %s", path, strerror(errno));
	return 0;
}

/* A file that is created with exactly `text` when missing, and when it
 * exists kept and checked by check (NULL: not checked). */
static int ensure_file(init_ctx *c, const char *path, const char *text, mode_t mode, const char *what,
		       int (*check)(const char *path, cx_error *err))
{
	struct stat st;
	cx_error e = { 0 };

	if (lstat(path, &st) == 0) {
		kept(c, path);
		if (check && check(path, &e) < 0)
			warn(c, path, e.msg);
		return 0;
	}
	if (errno != ENOENT)
		return cx_err(&c->err, CX_E_IO, errno, "cannot look at '%s': %s", path, strerror(errno));
	created(c, path, what);
	return c->dry ? 0 : cx_write_new_file(path, text, strlen(text), mode, &c->err);
}

static int check_keyring(const char *path, cx_error *err)
{
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	return cx_keyring_load(path, cx_trusted_owner(), &kr, err);
}

static int check_policy(const char *path, cx_error *err)
{
	_cleanup_(cx_policy_free) cx_policy p = { 0 };
	return cx_policy_load(path, cx_trusted_owner(), &p, err);
}

static int check_config(const char *path, cx_error *err)
{
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	return cx_config_load(path, cx_trusted_owner(), &cfg, err);
}

/* The host key and its public half (the keyring entry the security team
 * verifies the audit log with: calyx-audit verify --host-pub). */
static int ensure_host_key(init_ctx *c, const char *key, const char *pub, const char *host_id)
{
	struct stat st;
	bool have_key = lstat(key, &st) == 0, have_pub = lstat(pub, &st) == 0;
	const char *name = host_id && strspn(host_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") ==
						 strlen(host_id) && strlen(host_id) <= 64
				   ? host_id
				   : "host";
	uint8_t seed[32], pk[32];
	cx_error e = { 0 };

	if (!have_key && have_pub) {
		kept(c, pub);
		warn(c, key, "missing while its public half exists: a new key would not match it (move the public half away and run init again, or restore the key)");
		return 0;
	}
	if (!have_key) {
		created(c, key, "host key, Ed25519 seed, 0600: signs the audit log");
		created(c, pub, "its public half, 0644: for the security team, calyx-audit verify --host-pub");
		return c->dry ? 0 : cx_keygen_write(key, pub, CX_ROLE_AGENT, name, NULL, &c->err);
	}
	kept(c, key);
	if (cx_seed_load(key, "host key", true, cx_trusted_owner(), seed, &e) < 0) {
		warn(c, key, e.msg);
		if (have_pub)
			kept(c, pub);
		return 0;
	}
	cx_seed_public(seed, pk);
	cx_wipe(seed, sizeof(seed));
	if (have_pub) {
		_cleanup_free_ uint8_t *buf = NULL;
		_cleanup_json_ json_t *j = NULL;
		_cleanup_(cx_key_free) cx_key k = { 0 };
		size_t len;
		kept(c, pub);
		if (cx_read_file(pub, "host public key", 64 * 1024, 0, 0, &buf, &len, &e) < 0 ||
		    cx_json_parse_object(buf, len, "host public key", &j, &e) < 0 ||
		    cx_key_entry_parse(j, "host public key", &k, &e) < 0)
			warn(c, pub, e.msg);
		else if (memcmp(k.pk, pk, 32) != 0)
			warn(c, pub, "is not the host key's public half (move it away and run init again)");
		return 0;
	}
	created(c, pub, "the existing host key's public half, 0644");
	return c->dry ? 0 : cx_key_pub_write(pub, pk, CX_ROLE_AGENT, name, &c->err);
}

/* The first free block of `count` ids from the documented default up. */
static bool pick_run_uids(uint32_t count, uint32_t *first)
{
	char why[256];
	for (uint64_t f = CX_RUN_UID_FIRST_DEFAULT; f + count - 1 <= 0x7ffffffe; f += count)
		if (cx_uid_range_free((uint32_t)f, count, why, sizeof(why))) {
			*first = (uint32_t)f;
			return true;
		}
	return false;
}

static bool parse_uids(const char *s, uint32_t *first, uint32_t *count)
{
	char *end;
	unsigned long long a, b;

	if (*s < '0' || *s > '9')
		return false;
	a = strtoull(s, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		return false;
	b = strtoull(end + 1, &end, 10);
	if (*end || a < 1 || b < a || b > 0x7ffffffe || b - a + 1 > (1u << 20))
		return false;
	*first = (uint32_t)a;
	*count = (uint32_t)(b - a + 1);
	return true;
}

static bool path_opt_ok(const char *p)
{
	return cx_path_is_normal(p) && strcmp(p, "/") != 0 && strlen(p) < CX_PATH_MAX - 64;
}

static char *config_text(const char *prefix, const char *state, const char *log, const char *host_id,
			 uint32_t first, uint32_t count)
{
	json_t *j = json_object();
	char *s;

	json_object_set_new(j, "keyring", json_sprintf("%s/keyring.json", prefix));
	json_object_set_new(j, "policy", json_sprintf("%s/policy.json", prefix));
	json_object_set_new(j, "state_dir", json_string(state));
	json_object_set_new(j, "audit_log", json_sprintf("%s/audit.jsonl", log));
	json_object_set_new(j, "host_key", json_sprintf("%s/host.key", prefix));
	if (host_id)
		json_object_set_new(j, "host_id", json_string(host_id));
	json_object_set_new(j, "run_uid_range", json_pack("{s:I, s:I}", "first", (json_int_t)first,
							  "count", (json_int_t)count));
	s = cx_json_dump_pretty(j);
	json_decref(j);
	return s;
}

int cx_ctl_init(int argc, char **argv)
{
	static const struct option opts[] = { { "host-id", required_argument, 0, 'i' },
					      { "prefix", required_argument, 0, 'p' },
					      { "state", required_argument, 0, 's' },
					      { "log", required_argument, 0, 'l' },
					      { "run-uids", required_argument, 0, 'u' },
					      { "dry-run", no_argument, 0, 'n' },
					      { 0, 0, 0, 0 } };
	const char *prefix = "/etc/calyx", *state = "/var/lib/calyx", *log = "/var/log/calyx";
	const char *host_id = NULL, *uids = NULL;
	char hostname[256] = "", conf[CX_PATH_MAX], path[CX_PATH_MAX], pub[CX_PATH_MAX], why[256] = "";
	uint32_t first = 0, count = CX_RUN_UID_COUNT_DEFAULT;
	_cleanup_free_ char *text = NULL;
	init_ctx c = { 0 };
	struct stat st;
	int o, missing;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			host_id = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case 'l':
			log = optarg;
			break;
		case 'u':
			uids = optarg;
			break;
		case 'n':
			c.dry = true;
			break;
		default:
			return cx_cli_usage("usage: init [--host-id ID] [--prefix DIR] [--state DIR] [--log DIR] [--run-uids FIRST-LAST] [--dry-run]");
		}
	}
	if (optind != argc)
		return cx_cli_usage("init: unexpected argument '%s'", argv[optind]);
	if (!path_opt_ok(prefix) || !path_opt_ok(state) || !path_opt_ok(log))
		return cx_cli_usage("init: --prefix, --state and --log must be absolute normalized paths other than /");
	if (cx_path_within(state, prefix) || cx_path_within(prefix, state))
		return cx_cli_usage("init: the state dir '%s' and the config dir '%s' must not hold one another", state, prefix);
	if (host_id && !cx_id_ok(host_id))
		return cx_cli_usage("init: --host-id '%s' is not an id (1-%d of [A-Za-z0-9._:@-], starting alphanumeric)",
				    host_id, CX_ID_MAX);
	if (!host_id && gethostname(hostname, sizeof(hostname) - 1) == 0 && cx_id_ok(hostname))
		host_id = hostname;
	if (uids && !parse_uids(uids, &first, &count))
		return cx_cli_usage("init: --run-uids '%s' is not FIRST-LAST (1 <= FIRST <= LAST <= 2147483646, at most 1048576 ids)",
				    uids);
	if (uids && !cx_uid_range_free(first, count, why, sizeof(why)))
		return cx_cli_usage("init: --run-uids %s meets %s (choose a free block)", uids, why);
	if (!c.dry && geteuid() != 0) {
		cx_err(&c.err, CX_E_USAGE, EPERM, "init must run as root: what it makes must be root's (try --dry-run)");
		return cx_cli_fail(&c.err, CX_EXIT_FAILURE);
	}
	snprintf(conf, sizeof(conf), "%s/calyx.conf", prefix);
	if (c.dry)
		printf("dry run: nothing is created or changed\n");

#define TRY(x)                                                  \
	do {                                                    \
		if ((x) < 0)                                    \
			return cx_cli_fail(&c.err, CX_EXIT_FAILURE); \
	} while (0)
	TRY(ensure_dir(&c, prefix, 0755, "config dir, root's, 0755"));
	snprintf(path, sizeof(path), "%s/host.key", prefix);
	snprintf(pub, sizeof(pub), "%s/host.pub.json", prefix);
	TRY(ensure_host_key(&c, path, pub, host_id));
	snprintf(path, sizeof(path), "%s/keyring.json", prefix);
	TRY(ensure_file(&c, path, "{\n  \"v\": 1,\n  \"keys\": {}\n}\n", 0644,
			"empty keyring, 0644: add the signers' keys with calyx-lease keyring add", check_keyring));
	snprintf(path, sizeof(path), "%s/policy.json", prefix);
	TRY(ensure_file(&c, path, starter_policy, 0644, "starter policy, 0644: runs nothing until its commands are edited",
			check_policy));
	snprintf(path, sizeof(path), "%s/examples", prefix);
	TRY(ensure_dir(&c, path, 0755, "example policies"));
	snprintf(path, sizeof(path), "%s/examples/README.examples", prefix);
	TRY(ensure_file(&c, path, example_readme, 0644, "what the examples say", NULL));
	snprintf(path, sizeof(path), "%s/examples/build-job.json", prefix);
	TRY(ensure_file(&c, path, example_build, 0644, "example: make + gcc", check_policy));
	snprintf(path, sizeof(path), "%s/examples/deploy-script.json", prefix);
	TRY(ensure_file(&c, path, example_deploy, 0644, "example: a deploy script", check_policy));
	TRY(ensure_dir(&c, state, 0700, "state dir, root's, 0700"));
	TRY(ensure_dir(&c, log, 0755, "audit log dir, root's, 0755"));
	if (lstat(conf, &st) < 0) {
		if (!uids && !pick_run_uids(count, &first)) {
			cx_err(&c.err, CX_E_CONFIG, ENOSPC,
			       "no free block of %u run ids above %u (give one with --run-uids FIRST-LAST)", count,
			       CX_RUN_UID_FIRST_DEFAULT);
			return cx_cli_fail(&c.err, CX_EXIT_FAILURE);
		}
		text = config_text(prefix, state, log, host_id, first, count);
		snprintf(why, sizeof(why), "config, 0644: host_id %.128s, run uids %u-%u", host_id ? host_id : "(none)",
			 first, first + count - 1);
	} else if (uids) {
		warn(&c, conf, "exists: --run-uids is not applied (edit run_uid_range in it)");
	}
	TRY(ensure_file(&c, conf, text ? text : "", 0644, why, check_config));
#undef TRY
	if (!host_id && text)
		warn(&c, conf, "no host_id: this host's name is not an id; leases name their host (audience): set one with --host-id");
	if (c.dry) {
		printf("dry run: %d item(s) would be created, %d exist%s\n", c.created, c.kept,
		       c.warned ? " (see the warnings)" : "");
		return 0;
	}
	printf("init: %d item(s) created, %d kept, %d warning(s)\n", c.created, c.kept, c.warned);
	missing = cx_host_check(conf, stdout);
	if (missing)
		cx_esc_line(stdout, "next: fix each MISSING row, then run 'calyx-ctl init' again (it keeps what exists) or 'calyx-exec --config %s --probe'",
			    conf);
	return missing ? 1 : 0;
}
