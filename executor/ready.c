/* The host's readiness table (ready.h): calyx-exec's start-of-run
 * checks, made read-only and all of them, each row saying what to do.
 * Trust: runs as root on the root-owned config; what the files say is
 * printed through calyx/esc.h's rule. */
#include "ready.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calyx/config.h"
#include "calyx/esc.h"
#include "calyx/fileio.h"
#include "calyx/jsonx.h"
#include "calyx/keyring.h"
#include "calyx/monitor.h"
#include "calyx/path.h"
#include "calyx/policy.h"
#include "calyx/sandbox.h"

enum { HC_OK, HC_NOTE, HC_WARN, HC_MISSING };

typedef struct hc {
	FILE *out;
	int missing, warn;
	char first_missing[64];
} hc;

static void row(hc *h, int level, const char *item, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void row(hc *h, int level, const char *item, const char *fmt, ...)
{
	static const char *const tag[] = { "ok", "note", "WARN", "MISSING" };
	_cleanup_free_ char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	CX_CHECK(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	cx_esc_line(h->out, "  %-8s %-14s %s", tag[level], item, s);
	if (level == HC_MISSING && !h->missing++)
		snprintf(h->first_missing, sizeof(h->first_missing), "%s", item);
	h->warn += level == HC_WARN;
}

/* ---- run ids ------------------------------------------------------------ */

/* Does [a, a+n) meet [first, first+count)? */
static bool overlaps(uint64_t a, uint64_t n, uint64_t first, uint64_t count)
{
	return a < first + count && first < a + n;
}

/* A colon-separated file: each line's field `field` (0-based) is an id,
 * or, with `range`, fields 1 and 2 are START:COUNT (subuid/subgid). */
static bool file_free(const char *path, int field, bool range, uint32_t first, uint32_t count,
		      char *why, size_t why_len)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");
	bool ok = true;

	if (!f)
		return true; /* no such file: nothing in it to meet */
	while (ok && getline(&line, &cap, f) > 0) {
		char *fields[4] = { 0 }, *save = NULL, *p = line;
		int n = 0;
		line[strcspn(line, "\n")] = '\0';
		for (char *t = strtok_r(p, ":", &save); t && n < 4; t = strtok_r(NULL, ":", &save))
			fields[n++] = t;
		if (n <= field || (range && n < 3))
			continue;
		char *end = NULL;
		unsigned long long a = strtoull(fields[field], &end, 10), c = 1;
		if (!end || *end)
			continue;
		if (range) {
			c = strtoull(fields[2], &end, 10);
			if (!end || *end)
				continue;
		}
		if (overlaps(a, c, first, count)) {
			ok = false;
			if (range)
				snprintf(why, why_len, "%.64s's range %llu+%llu in %s", fields[0], a, c, path);
			else
				snprintf(why, why_len, "id %llu of '%.64s' in %s", a, fields[0], path);
		}
	}
	fclose(f);
	return ok;
}

bool cx_uid_range_free(uint32_t first, uint32_t count, char *why, size_t why_len)
{
	return file_free("/etc/passwd", 2, false, first, count, why, why_len) &&
	       file_free("/etc/passwd", 3, false, first, count, why, why_len) &&
	       file_free("/etc/group", 2, false, first, count, why, why_len) &&
	       file_free("/etc/subuid", 1, true, first, count, why, why_len) &&
	       file_free("/etc/subgid", 1, true, first, count, why, why_len);
}

/* ---- the rows ----------------------------------------------------------- */

static void check_keyring(hc *h, const cx_config *c)
{
	_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
	cx_error err = { 0 };
	size_t human = 0, agent = 0;

	if (cx_keyring_load(c->keyring, cx_trusted_owner(), &kr, &err) < 0) {
		row(h, HC_MISSING, "keyring", "%s", err.msg);
		return;
	}
	for (size_t i = 0; i < kr.n; i++) {
		human += !kr.keys[i].revoked && kr.keys[i].role == CX_ROLE_HUMAN;
		agent += !kr.keys[i].revoked && kr.keys[i].role == CX_ROLE_AGENT;
	}
	if (!human || !agent)
		row(h, HC_MISSING, "keyring",
		    "%s: %zu human and %zu agent key(s); a lease needs one of each (calyx-lease keyring add %s NAME.pub.json)",
		    c->keyring, human, agent, c->keyring);
	else
		row(h, HC_OK, "keyring", "%s: %zu human and %zu agent key(s)", c->keyring, human, agent);
}

/* The policy; *pol filled when it loads. */
static bool check_policy(hc *h, const cx_config *c, cx_policy *pol)
{
	cx_error err = { 0 };

	if (cx_policy_load(c->policy, cx_trusted_owner(), pol, &err) < 0) {
		row(h, HC_MISSING, "policy", "%s", err.msg);
		return false;
	}
	for (size_t i = 0; i < pol->write.n; i++)
		if (cx_path_within(c->state_dir, pol->write.v[i]) ||
		    cx_path_within(c->audit_log, pol->write.v[i])) {
			row(h, HC_MISSING, "policy",
			    "state dir '%s' or audit log '%s' lies inside the policy's write tree '%s' (move it out)",
			    c->state_dir, c->audit_log, pol->write.v[i]);
			return true;
		}
	if (pol->commands.n == 0)
		row(h, HC_MISSING, "policy",
		    "%s lists no commands: it runs nothing until edited (add the commands leases may run; calyx-policy check, lint)",
		    c->policy);
	else
		row(h, HC_OK, "policy", "%s: %zu command(s), sha256:%.16s…", c->policy, pol->commands.n,
		    pol->sha256_hex);
	return true;
}

static void check_host_key(hc *h, const cx_config *c)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *j = NULL;
	_cleanup_(cx_key_free) cx_key k = { 0 };
	uint8_t seed[32], pk[32];
	char keyid[65], pub[CX_PATH_MAX + 16];
	size_t len = strlen(c->host_key), blen;
	cx_error err = { 0 };

	if (cx_seed_load(c->host_key, "host key", true, cx_trusted_owner(), seed, &err) < 0) {
		row(h, HC_MISSING, "host key", "%s", err.msg);
		return;
	}
	cx_seed_public(seed, pk);
	cx_wipe(seed, sizeof(seed));
	cx_keyid(pk, keyid);
	{
		/* as calyx-exec refuses it: the host's key as a lease signer */
		_cleanup_(cx_keyring_free) cx_keyring kr = { 0 };
		const cx_key *in = cx_keyring_load(c->keyring, cx_trusted_owner(), &kr, &err) == 0
					   ? cx_keyring_find(&kr, keyid)
					   : NULL;
		if (in && !in->revoked) {
			row(h, HC_MISSING, "host key",
			    "%s: its public key is in the keyring as a signer ('%s'): calyx-exec refuses every run (remove it from %s)",
			    c->host_key, in->principal, c->keyring);
			return;
		}
	}
	row(h, HC_OK, "host key", "%s: key id %.16s…", c->host_key, keyid);
	/* its public half, NAME.key -> NAME.pub.json, for calyx-audit verify */
	if (len < 4 || strcmp(c->host_key + len - 4, ".key") != 0)
		return;
	snprintf(pub, sizeof(pub), "%.*s.pub.json", (int)(len - 4), c->host_key);
	if (cx_read_file(pub, "host public key", 64 * 1024, 0, 0, &buf, &blen, &err) < 0) {
		row(h, HC_WARN, "host pub key",
		    "%s: %s (the security team verifies the audit log with it: calyx-ctl init writes it)", pub,
		    err.msg);
		return;
	}
	if (cx_json_parse_object(buf, blen, "host public key", &j, &err) < 0 ||
	    cx_key_entry_parse(j, "host public key", &k, &err) < 0) {
		row(h, HC_WARN, "host pub key", "%s", err.msg);
		return;
	}
	if (memcmp(k.pk, pk, 32) != 0)
		row(h, HC_WARN, "host pub key",
		    "%s is not the host key's public half (move it away and run calyx-ctl init again)", pub);
	else
		row(h, HC_OK, "host pub key", "%s", pub);
}

static void check_state_dir(hc *h, const cx_config *c)
{
	_cleanup_free_ char *parent = cx_strdup(c->state_dir);
	struct stat st;

	*strrchr(parent, '/') = '\0';
	if (lstat(c->state_dir, &st) < 0) {
		if (errno == ENOENT && stat(parent[0] ? parent : "/", &st) == 0 && S_ISDIR(st.st_mode))
			row(h, HC_NOTE, "state dir", "%s: absent, the first run creates it (0700)", c->state_dir);
		else
			row(h, HC_MISSING, "state dir", "%s: %s (mkdir -m 700 -p %s)", c->state_dir,
			    strerror(errno), c->state_dir);
		return;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		row(h, HC_MISSING, "state dir", "%s: must be a root-owned directory of mode 0700 (is %s, uid %u, mode %04o: chown root, chmod 700)",
		    c->state_dir, S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	else if (st.st_mode & 077) /* the ledger and rollback packs: root's to read */
		row(h, HC_WARN, "state dir", "%s: mode %04o lets others read the ledger and rollback packs (chmod 700)",
		    c->state_dir, (unsigned)(st.st_mode & 07777));
	else
		row(h, HC_OK, "state dir", "%s: root's, 0700", c->state_dir);
}

static void check_audit_log(hc *h, const cx_config *c)
{
	_cleanup_free_ char *dir = cx_strdup(c->audit_log);
	struct stat st;
	int fd;

	char *slash = strrchr(dir, '/');
	slash[slash == dir] = '\0'; /* "/x" -> "/", "/a/x" -> "/a" */
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		row(h, HC_MISSING, "audit log", "directory %s: %s (mkdir -m 755 -p %s)", dir,
		    errno ? strerror(errno) : "not a directory", dir);
		return;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		row(h, HC_MISSING, "audit log", "directory %s is not root's or is writable by others (chown root, chmod 755)",
		    dir);
		return;
	}
	fd = open(c->audit_log, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		if (access(dir, W_OK) == 0)
			row(h, HC_OK, "audit log", "%s: absent, the first run creates it (0640)", c->audit_log);
		else
			row(h, HC_MISSING, "audit log", "%s cannot be created: %s is not writable", c->audit_log, dir);
		return;
	}
	if (fd < 0) {
		row(h, HC_MISSING, "audit log", "cannot open %s for appending: %s", c->audit_log, strerror(errno));
		return;
	}
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		  !(st.st_mode & (S_IWGRP | S_IWOTH));
	close(fd);
	if (!ok)
		row(h, HC_MISSING, "audit log", "%s is not a regular file owned by root, or is writable by others (chown root, chmod 640)",
		    c->audit_log);
	else
		row(h, HC_OK, "audit log", "%s: writable, %lld bytes", c->audit_log, (long long)st.st_size);
}

static void check_run_uids(hc *h, const cx_config *c)
{
	char why[256] = "";

	if (c->run_uid_fixed) {
		row(h, HC_WARN, "run uids",
		    "fixed run_uid %u gid %u: every run shares it (weaker; config run_uid_range gives each run its own)",
		    c->run_uid, c->run_gid);
		return;
	}
	if (!cx_uid_range_free(c->run_uid_first, c->run_uid_count, why, sizeof(why)))
		row(h, HC_MISSING, "run uids", "%u..%u meets %s (move config run_uid_range.first to a free block)",
		    c->run_uid_first, c->run_uid_first + c->run_uid_count - 1, why);
	else
		row(h, HC_OK, "run uids", "%u..%u (%u ids), none in /etc/passwd, /etc/group, /etc/subuid, /etc/subgid",
		    c->run_uid_first, c->run_uid_first + c->run_uid_count - 1, c->run_uid_count);
}

static void check_layers(hc *h, const cx_config *c, const cx_policy *pol, bool have_pol)
{
	cx_kern_offsets off;
	cx_error err = { 0 };
	const char *why = NULL;
	int r;

	if (cx_sandbox_preflight(have_pol && pol->landlock_optional, &err) < 0)
		row(h, HC_MISSING, "sandbox", "%s", err.msg);
	else
		row(h, HC_OK, "sandbox", "namespaces, new mount API, seccomp%s",
		    cx_landlock_abi() > 0 ? ", Landlock" : " (Landlock optional in the policy)");
	/* no caches: a probe writes nothing in the state dir */
	r = cx_bpfmon_preflight(NULL, NULL, &off, &err);
	if (r < 0) {
		row(h, have_pol && pol->exec_guard_optional ? HC_WARN : HC_MISSING, "exec guard", "%s%s",
		    err.msg, have_pol && pol->exec_guard_optional ? " (the policy accepts runs without it)" : "");
		row(h, HC_NOTE, "bpf monitor", "per-run monitor: BPF is not usable here (cpu quotas by polling cpu.stat)");
		return;
	}
	row(h, HC_OK, "exec guard", "BPF usable, the kernel's BTF sees through overlayfs");
	if (!c->bpf_pin_dir[0]) {
		row(h, HC_NOTE, "bpf monitor", "per-run monitor (config bpf_pin_dir \"\": each run loads its own, ~1 ms more)");
		return;
	}
	r = cx_bpfmon_shared_status(c->bpf_pin_dir, &off, &why);
	if (r >= 0)
		row(h, HC_OK, "bpf monitor", "shared, %s: %s", c->bpf_pin_dir, why);
	else
		row(h, HC_NOTE, "bpf monitor", "per-run monitor: %s: %s", c->bpf_pin_dir, why);
}

int cx_host_check(const char *config_path, FILE *out)
{
	_cleanup_(cx_config_free) cx_config cfg = { 0 };
	_cleanup_(cx_policy_free) cx_policy pol = { 0 };
	cx_error err = { 0 };
	hc h = { .out = out };
	bool have_pol;

	cx_esc_line(out, "host check (%s):", config_path);
	if (cx_config_load(config_path, cx_trusted_owner(), &cfg, &err) < 0) {
		row(&h, HC_MISSING, "config", "%s", err.msg);
	} else {
		if (cfg.host_id)
			row(&h, HC_OK, "config", "%s: root's, not group/world-writable, parsed; host_id %s",
			    config_path, cfg.host_id);
		else
			row(&h, HC_WARN, "config", "%s: no host_id: a lease naming its host (audience) is refused here (set host_id)",
			    config_path);
		check_keyring(&h, &cfg);
		have_pol = check_policy(&h, &cfg, &pol);
		check_host_key(&h, &cfg);
		check_state_dir(&h, &cfg);
		check_audit_log(&h, &cfg);
		check_run_uids(&h, &cfg);
		check_layers(&h, &cfg, &pol, have_pol);
	}
	if (h.missing)
		cx_esc_line(out, "host not ready: %d item%s MISSING (first: %s; each row says what to do)",
			    h.missing, h.missing == 1 ? "" : "s", h.first_missing);
	else
		cx_esc_line(out, "host ready: %s can run leases%s", config_path,
			    h.warn ? " (see the WARN rows)" : "");
	return h.missing;
}
