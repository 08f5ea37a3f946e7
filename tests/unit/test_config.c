/* Unit tests: configuration and keyring loading (StrictModes, strict fields). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/config.h"
#include "calyx/keyring.h"
#include "testutil.h"

static const char good[] =
	"{\"keyring\":\"/etc/calyx/keyring.json\",\"policy\":\"/etc/calyx/policy.json\","
	"\"state_dir\":\"/var/lib/calyx\",\"audit_log\":\"/var/log/calyx/audit.jsonl\","
	"\"host_key\":\"/etc/calyx/host.key\",\"host_id\":\"build-01\"}";

static int parse(const char *s, cx_config *c, cx_error *err)
{
	memset(err, 0, sizeof(*err));
	return cx_config_parse((const uint8_t *)s, strlen(s), c, err);
}

static void config_good(void **st)
{
	cx_config c;
	cx_error err;
	(void)st;
	assert_int_equal(parse(good, &c, &err), 0);
	assert_string_equal(c.state_dir, "/var/lib/calyx");
	assert_string_equal(c.host_id, "build-01");
	cx_config_free(&c);
}

static void config_bad_fields(void **st)
{
	static const char *const bad[] = {
		"{\"keyring\":\"/k\",\"policy\":\"/p\",\"state_dir\":\"/s\",\"audit_log\":\"/a\"}",
		"{\"keyring\":\"k\",\"policy\":\"/p\",\"state_dir\":\"/s\",\"audit_log\":\"/a\",\"host_key\":\"/h\"}",
		"{\"keyring\":\"/k/../x\",\"policy\":\"/p\",\"state_dir\":\"/s\",\"audit_log\":\"/a\",\"host_key\":\"/h\"}",
		"{\"keyring\":\"/k\",\"policy\":\"/p\",\"state_dir\":\"/\",\"audit_log\":\"/a\",\"host_key\":\"/h\"}",
		"{\"keyring\":\"/k\",\"policy\":\"/p\",\"state_dir\":\"/s\",\"audit_log\":\"/a\",\"host_key\":\"/h\",\"debug\":true}",
		"{\"keyring\":\"/k\",\"policy\":\"/p\",\"state_dir\":\"/s\",\"audit_log\":\"/a\",\"host_key\":\"/h\",\"host_key\":\"/i\"}",
		"{\"keyring\":1,\"policy\":\"/p\",\"state_dir\":\"/s\",\"audit_log\":\"/a\",\"host_key\":\"/h\"}",
	};
	(void)st;
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		cx_config c;
		cx_error err;
		if (parse(bad[i], &c, &err) == 0)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.reason, CX_E_CONFIG);
	}
}

/* run ids: the default range when nothing is configured, a range, a
 * fixed id; bounds checked, range and fixed id exclusive. */
#define HEAD "{\"keyring\":\"/k\",\"policy\":\"/p\",\"state_dir\":\"/s\",\"audit_log\":\"/a\",\"host_key\":\"/h\""
static void config_run_ids(void **st)
{
	static const char *const bad[] = {
		HEAD ",\"run_uid_range\":{\"first\":0,\"count\":10}}",
		HEAD ",\"run_uid_range\":{\"first\":1000,\"count\":0}}",
		HEAD ",\"run_uid_range\":{\"first\":1000,\"count\":1048577}}",
		HEAD ",\"run_uid_range\":{\"first\":2147483600,\"count\":48}}",
		HEAD ",\"run_uid_range\":{\"first\":1000}}",
		HEAD ",\"run_uid_range\":{\"first\":1000,\"count\":2,\"x\":1}}",
		HEAD ",\"run_uid_range\":[1000,2]}",
		HEAD ",\"run_uid_range\":{\"first\":1000,\"count\":2},\"run_uid\":1000}",
	};
	cx_config c;
	cx_error err;
	(void)st;
	assert_int_equal(parse(good, &c, &err), 0);
	assert_false(c.run_uid_fixed);
	assert_int_equal(c.run_uid_first, 0x70000000u);
	assert_int_equal(c.run_uid_count, 65536);
	cx_config_free(&c);
	assert_int_equal(parse(HEAD ",\"run_uid_range\":{\"first\":2147483600,\"count\":47}}", &c, &err), 0);
	assert_false(c.run_uid_fixed);
	assert_int_equal(c.run_uid_first, 2147483600u);
	assert_int_equal(c.run_uid_count, 47);
	cx_config_free(&c);
	assert_int_equal(parse(HEAD ",\"run_uid\":1234}", &c, &err), 0);
	assert_true(c.run_uid_fixed);
	assert_int_equal(c.run_uid, 1234);
	assert_int_equal(c.run_gid, 65534);
	cx_config_free(&c);
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		if (parse(bad[i], &c, &err) == 0)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.reason, CX_E_CONFIG);
	}
}

/* bpf_pin_dir: the default pin directory, "" (every run loads its own),
 * a path; anything else refused. */
static void config_bpf_pin_dir(void **st)
{
	static const char *const bad[] = { HEAD ",\"bpf_pin_dir\":\"pins\"}",
					   HEAD ",\"bpf_pin_dir\":\"/\"}",
					   HEAD ",\"bpf_pin_dir\":\"/sys/fs/bpf/../x\"}",
					   HEAD ",\"bpf_pin_dir\":false}" };
	cx_config c;
	cx_error err;
	(void)st;
	assert_int_equal(parse(HEAD "}", &c, &err), 0);
	assert_string_equal(c.bpf_pin_dir, "/sys/fs/bpf/calyx");
	cx_config_free(&c);
	assert_int_equal(parse(HEAD ",\"bpf_pin_dir\":\"\"}", &c, &err), 0);
	assert_string_equal(c.bpf_pin_dir, "");
	cx_config_free(&c);
	assert_int_equal(parse(HEAD ",\"bpf_pin_dir\":\"/sys/fs/bpf/ci\"}", &c, &err), 0);
	assert_string_equal(c.bpf_pin_dir, "/sys/fs/bpf/ci");
	cx_config_free(&c);
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		if (parse(bad[i], &c, &err) == 0)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.reason, CX_E_CONFIG);
	}
}

/* pools and the etcd ledger: parsed with their bounds; anything off
 * (an endpoint with a path, a lone cert or username, a pool name out of
 * the alphabet, no host_id) refused as E_CONFIG. */
static void config_pools_and_ledger(void **st)
{
#define HID HEAD ",\"host_id\":\"web-1\""
#define ETCD ",\"ledger\":{\"backend\":\"etcd\",\"endpoints\":[\"http://127.0.0.1:23791\",\"https://[::1]:2379\"]"
	static const char *const bad[] = {
		HEAD ",\"pools\":[\"web\"]}",                      /* no host_id */
		HID ",\"pools\":[\"web\",\"web\"]}",               /* twice */
		HID ",\"pools\":[\".web\"]}",                      /* not alphanumeric first */
		HID ",\"pools\":[\"we b\"]}",
		HID ",\"pools\":\"web\"}",
		HID ",\"ledger\":{\"backend\":\"zk\"}}",
		HID ",\"ledger\":{\"backend\":\"dir\",\"prefix\":\"x\"}}",
		HID ",\"ledger\":{\"backend\":\"etcd\"}}",         /* no endpoints */
		HID ",\"ledger\":{\"backend\":\"etcd\",\"endpoints\":[]}}",
		HID ",\"ledger\":{\"backend\":\"etcd\",\"endpoints\":[\"http://h:1/v3\"]}}",
		HID ",\"ledger\":{\"backend\":\"etcd\",\"endpoints\":[\"ftp://h:1\"]}}",
		HID ",\"ledger\":{\"backend\":\"etcd\",\"endpoints\":[\"http://u@h:1\"]}}",
		HID ETCD ",\"timeout_ms\":99}}",
		HID ETCD ",\"timeout_ms\":60001}}",
		HID ETCD ",\"prefix\":\"a b\"}}",
		HID ETCD ",\"cert\":\"/c\"}}",                     /* without its key */
		HID ETCD ",\"username\":\"u\"}}",                  /* without a password file */
		HID ETCD ",\"ca\":\"rel/ca\"}}",
		HID ETCD ",\"nope\":1}}",
		HEAD ETCD "}}",                                    /* no host_id */
	};
	cx_config c;
	cx_error err;
	(void)st;
	assert_int_equal(parse(HEAD "}", &c, &err), 0);
	assert_int_equal(c.n_pools, 0);
	assert_false(c.ledger_etcd);
	cx_config_free(&c);
	assert_int_equal(parse(HID ",\"pools\":[\"web\",\"db-2\"],\"ledger\":{\"backend\":\"dir\"}}", &c, &err), 0);
	assert_int_equal(c.n_pools, 2);
	assert_true(cx_config_in_pool(&c, "db-2"));
	assert_false(cx_config_in_pool(&c, "db"));
	assert_false(c.ledger_etcd);
	cx_config_free(&c);
	assert_int_equal(parse(HID ETCD ",\"prefix\":\"p/\",\"timeout_ms\":500,\"ca\":\"/ca\",\"cert\":\"/c\",\"key\":\"/k\",\"username\":\"calyx\",\"password_file\":\"/pw\"}}",
			       &c, &err), 0);
	assert_true(c.ledger_etcd);
	assert_int_equal(c.etcd.n_endpoints, 2);
	assert_string_equal(c.etcd.endpoints[1], "https://[::1]:2379");
	assert_string_equal(c.etcd.prefix, "p/");
	assert_int_equal(c.etcd.timeout_ms, 500);
	assert_string_equal(c.etcd.username, "calyx");
	assert_string_equal(c.etcd.password_file, "/pw");
	cx_config_free(&c);
	assert_int_equal(parse(HID ETCD "}}", &c, &err), 0);
	assert_string_equal(c.etcd.prefix, "calyx/");
	assert_int_equal(c.etcd.timeout_ms, 2000);
	cx_config_free(&c);
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		if (parse(bad[i], &c, &err) == 0)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.reason, CX_E_CONFIG);
	}
#undef HID
#undef ETCD
}

static void config_load_strict_modes(void **st)
{
	char *dir = tu_tmpdir(), *p, *l;
	cx_config c;
	cx_error err = { 0 };
	(void)st;
	if (geteuid() != 0) {
		tu_rmtree(dir);
		free(dir);
		skip();
	}
	p = tu_write(dir, "calyx.conf", good, strlen(good), 0644);
	assert_int_equal(cx_config_load(p, 0, &c, &err), 0);
	cx_config_free(&c);
	assert_int_equal(chmod(p, 0646), 0);
	assert_true(cx_config_load(p, 0, &c, &err) < 0);
	assert_int_equal(err.reason, CX_E_INSECURE_FILE);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(chown(p, 1000, 0), 0);
	assert_true(cx_config_load(p, 0, &c, &err) < 0);
	assert_int_equal(err.reason, CX_E_INSECURE_FILE);
	CX_CHECK(asprintf(&l, "%s/link.conf", dir) > 0);
	assert_int_equal(symlink(p, l), 0);
	assert_true(cx_config_load(l, 0, &c, &err) < 0);
	assert_int_equal(err.reason, CX_E_NOT_REGULAR);
	free(l);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

/* audit_forward: absent = nothing forwarded (facility authpriv); each
 * member optional; strict: unknown members, wrong types, paths that are
 * not absolute normalized socket paths, facilities outside the list. */
#define FWD(x) HEAD ",\"audit_forward\":" x "}"
static void config_audit_forward(void **st)
{
	static const char *const bad[] = {
		FWD("{\"journald\":true,\"kafka\":\"x\"}"),
		FWD("{\"journald\":\"yes\"}"),
		FWD("{\"journald\":1}"),
		FWD("{\"syslog\":\"dev/log\"}"),
		FWD("{\"syslog\":\"/\"}"),
		FWD("{\"syslog\":\"/dev/../dev/log\"}"),
		FWD("{\"syslog\":\"/dev/log/\"}"),
		FWD("{\"syslog\":\"\"}"),
		FWD("{\"syslog\":true}"),
		/* 108 bytes: one more than sockaddr_un.sun_path holds with its NUL */
		FWD("{\"syslog\":\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"),
		FWD("{\"syslog\":\"/dev/log\",\"syslog_facility\":\"kern\"}"),
		FWD("{\"syslog\":\"/dev/log\",\"syslog_facility\":\"user\"}"),
		FWD("{\"syslog\":\"/dev/log\",\"syslog_facility\":\"local8\"}"),
		FWD("{\"syslog\":\"/dev/log\",\"syslog_facility\":\"AUTHPRIV\"}"),
		FWD("{\"syslog\":\"/dev/log\",\"syslog_facility\":10}"),
		FWD("[\"journald\"]"),
		FWD("true"),
	};
	cx_config c;
	cx_error err;
	(void)st;
	assert_int_equal(parse(good, &c, &err), 0);
	assert_false(c.fwd_journald);
	assert_null(c.fwd_syslog);
	assert_int_equal(c.fwd_facility, 10);
	cx_config_free(&c);
	assert_int_equal(parse(FWD("{}"), &c, &err), 0);
	assert_false(c.fwd_journald);
	assert_null(c.fwd_syslog);
	cx_config_free(&c);
	assert_int_equal(parse(FWD("{\"journald\":true,\"syslog\":\"/dev/log\",\"syslog_facility\":\"local3\"}"),
			       &c, &err), 0);
	assert_true(c.fwd_journald);
	assert_string_equal(c.fwd_syslog, "/dev/log");
	assert_int_equal(c.fwd_facility, 19);
	cx_config_free(&c);
	assert_int_equal(parse(FWD("{\"journald\":false,\"syslog_facility\":\"auth\"}"), &c, &err), 0);
	assert_false(c.fwd_journald);
	assert_int_equal(c.fwd_facility, 4);
	cx_config_free(&c);
	/* 107 bytes: the longest socket path */
	assert_int_equal(parse(FWD("{\"syslog\":\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"),
			       &c, &err), 0);
	assert_int_equal(strlen(c.fwd_syslog), 107);
	cx_config_free(&c);
	for (size_t i = 0; i < CX_ARRAY_SIZE(bad); i++) {
		if (parse(bad[i], &c, &err) == 0)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.reason, CX_E_CONFIG);
		if (!strstr(err.msg, "audit_forward"))
			fail_msg("case %zu: message does not name audit_forward: %s", i, err.msg);
	}
}

static void keyring_load_and_find(void **st)
{
	tu_fixture f;
	(void)st;
	tu_fixture_init(&f);
	const cx_key *k = cx_keyring_find(&f.kr, f.human.keyid);
	assert_non_null(k);
	assert_int_equal(k->role, CX_ROLE_HUMAN);
	assert_string_equal(k->principal, "alice");
	assert_false(k->revoked);
	k = cx_keyring_find(&f.kr, f.revoked.keyid);
	assert_non_null(k);
	assert_true(k->revoked);
	assert_null(cx_keyring_find(&f.kr, f.stranger.keyid));
	tu_fixture_free(&f);
}

static void keyring_same_key_active_and_revoked(void **st)
{
	tu_key a;
	const tu_key *act[] = { &a }, *rev[] = { &a };
	cx_keyring kr;
	cx_error err = { 0 };
	char *t;
	(void)st;
	tu_key_make(&a, 1, CX_ROLE_HUMAN, "a");
	/* JSON_REJECT_DUPLICATES does not see it: different sections. */
	t = tu_keyring_text(act, 1, rev, 1);
	assert_true(cx_keyring_parse((uint8_t *)t, strlen(t), &kr, &err) < 0);
	assert_int_equal(err.reason, CX_E_DUP_KEY);
	free(t);
}

static void seed_file_rules(void **st)
{
	char *dir = tu_tmpdir(), *p;
	uint8_t s[32], buf[33] = { 0 };
	cx_error err = { 0 };
	(void)st;
	p = tu_write(dir, "k.key", buf, 32, 0600);
	assert_int_equal(cx_seed_load(p, "key", false, 0, s, &err), 0);
	free(p);
	p = tu_write(dir, "k2.key", buf, 32, 0640);
	assert_true(cx_seed_load(p, "key", false, 0, s, &err) < 0);
	assert_int_equal(err.reason, CX_E_INSECURE_FILE);
	free(p);
	p = tu_write(dir, "k3.key", buf, 33, 0600);
	assert_true(cx_seed_load(p, "key", false, 0, s, &err) < 0);
	assert_int_equal(err.reason, CX_E_KEY);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_good),
		cmocka_unit_test(config_bad_fields),
		cmocka_unit_test(config_run_ids),
		cmocka_unit_test(config_bpf_pin_dir),
		cmocka_unit_test(config_pools_and_ledger),
		cmocka_unit_test(config_audit_forward),
		cmocka_unit_test(config_load_strict_modes),
		cmocka_unit_test(keyring_load_and_find),
		cmocka_unit_test(keyring_same_key_active_and_revoked),
		cmocka_unit_test(seed_file_rules),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
