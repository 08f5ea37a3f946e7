/* Test fixtures (see testutil.h). */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/codec.h"

#define FIXTURE_NOW 1795334400LL

void tu_key_make(tu_key *k, uint8_t fill, cx_role role, const char *principal)
{
	memset(k, 0, sizeof(*k));
	memset(k->seed, fill, sizeof(k->seed));
	cx_seed_public(k->seed, k->pk);
	cx_keyid(k->pk, k->keyid);
	cx_b64_encode(k->pk, 32, k->pk_b64);
	k->role = role;
	k->principal = principal;
}

static json_t *entry(const tu_key *k)
{
	return json_pack("{s:s, s:s, s:s}", "role", cx_role_name(k->role), "public_key", k->pk_b64,
			 "principal", k->principal);
}

char *tu_keyring_text(const tu_key *const *keys, size_t n, const tu_key *const *revoked,
		      size_t nrev)
{
	json_t *j = json_pack("{s:i, s:{}}", "v", 1, "keys");
	json_t *ks = json_object_get(j, "keys");
	char *s;

	for (size_t i = 0; i < n; i++)
		json_object_set_new(ks, keys[i]->keyid, entry(keys[i]));
	if (nrev) {
		json_t *rs = json_object();
		for (size_t i = 0; i < nrev; i++)
			json_object_set_new(rs, revoked[i]->keyid, entry(revoked[i]));
		json_object_set_new(j, "revoked", rs);
	}
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

const char *tu_policy_text(void)
{
	return "{\"v\":1,\"commands\":[\"/usr/bin/make\",\"/usr/bin/env\"],"
	       "\"read\":[\"/usr\",\"/etc/ssl/certs\"],\"write\":[\"/srv\"],"
	       "\"env\":{\"allow\":[\"LANG\",\"TZ\"],\"set\":{\"PATH\":\"/usr/bin:/bin\",\"HOME\":\"/work\"}},"
	       "\"limits\":{\"max\":{\"cpu_ms\":600000,\"memory_bytes\":2147483648,\"pids\":512,"
	       "\"wall_ms\":1800000,\"nofile\":1024,\"fsize_bytes\":1073741824,\"tmp_bytes\":268435456},"
	       "\"default\":{\"cpu_ms\":60000,\"memory_bytes\":268435456,\"pids\":64,\"wall_ms\":120000,"
	       "\"nofile\":256,\"fsize_bytes\":104857600,\"tmp_bytes\":67108864}},"
	       "\"network\":[\"none\"],"
	       "\"lease\":{\"max_lifetime_s\":3600,\"clock_skew_s\":60,\"require_audience\":false},"
	       "\"syscalls\":{\"deny\":[]}}";
}

json_t *tu_body(int64_t now, const char *policy_sha256_hex)
{
	json_t *b = json_pack(
		"{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:[s,s,s,s], s:s, s:{s:s}, s:s,"
		" s:{s:[s,s], s:[]}, s:{s:i, s:I, s:i, s:i}, s:s, s:{s:[s,s,s,s]}, s:s}",
		"v", 1, "lease_id", "0123456789abcdef0123456789abcdef", "run_id", "deploy-4821",
		"intent_id", "intent-77", "issued_at", (json_int_t)now - 10, "not_before",
		(json_int_t)now - 10, "not_after", (json_int_t)now + 1790, "policy_sha256",
		policy_sha256_hex, "argv", "/usr/bin/make", "-C", "/work", "release", "cwd", "/work",
		"env", "LANG", "C.UTF-8", "workspace", "/srv/app", "paths", "ro", "/usr",
		"/etc/ssl/certs", "rw", "limits", "cpu_ms", 60000, "memory_bytes",
		(json_int_t)536870912, "pids", 128, "wall_ms", 120000, "network", "none", "validate",
		"argv", "/usr/bin/make", "-C", "/work", "check", "purpose", "release 4.2 to canary");
	CX_CHECK(b);
	return b;
}

char *tu_envelope_raw(const char *payload_type, const uint8_t *payload, size_t len,
		      const char *sign_type, const tu_key *const *signers, size_t n)
{
	char *b64 = malloc(cx_b64_len(len) + 1), *s;
	json_t *j, *sigs = json_array();

	CX_CHECK(b64);
	cx_b64_encode(payload, len, b64);
	for (size_t i = 0; i < n; i++) {
		uint8_t pk[32], sk[64], sig[64], *pae;
		size_t pae_len;
		char sb[96];

		crypto_sign_seed_keypair(pk, sk, signers[i]->seed);
		cx_pae(sign_type, payload, len, &pae, &pae_len);
		crypto_sign_detached(sig, NULL, pae, pae_len, sk);
		free(pae);
		cx_b64_encode(sig, 64, sb);
		json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid", signers[i]->keyid,
						      "sig", sb));
	}
	j = json_pack("{s:s, s:s, s:o}", "payloadType", payload_type, "payload", b64, "signatures",
		      sigs);
	free(b64);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

char *tu_envelope_body(const json_t *body, const tu_key *a, const tu_key *b)
{
	const tu_key *signers[2];
	size_t n = 0;
	char *payload = json_dumps(body, JSON_COMPACT), *env;

	if (a)
		signers[n++] = a;
	if (b)
		signers[n++] = b;
	env = tu_envelope_raw(CX_LEASE_PAYLOAD_TYPE, (uint8_t *)payload, strlen(payload),
			      CX_LEASE_PAYLOAD_TYPE, signers, n);
	free(payload);
	return env;
}

void tu_fixture_init(tu_fixture *f)
{
	cx_error err = { 0 };
	char *kr;
	const char *pt = tu_policy_text();

	CX_CHECK(sodium_init() >= 0);
	memset(f, 0, sizeof(*f));
	tu_key_make(&f->human, 0x11, CX_ROLE_HUMAN, "alice");
	tu_key_make(&f->agent, 0x22, CX_ROLE_AGENT, "ops-bot");
	tu_key_make(&f->human2, 0x33, CX_ROLE_HUMAN, "bob");
	tu_key_make(&f->agent2, 0x44, CX_ROLE_AGENT, "ci-bot");
	tu_key_make(&f->revoked, 0x55, CX_ROLE_AGENT, "old-bot");
	tu_key_make(&f->stranger, 0x66, CX_ROLE_HUMAN, "mallory");
	{
		const tu_key *act[] = { &f->human, &f->agent, &f->human2, &f->agent2 };
		const tu_key *rev[] = { &f->revoked };
		kr = tu_keyring_text(act, 4, rev, 1);
	}
	if (cx_keyring_parse((uint8_t *)kr, strlen(kr), &f->kr, &err) < 0 ||
	    cx_policy_parse((const uint8_t *)pt, strlen(pt), &f->pol, &err) < 0) {
		fprintf(stderr, "fixture: %s\n", err.msg);
		abort();
	}
	free(kr);
	f->now = FIXTURE_NOW;
}

void tu_fixture_free(tu_fixture *f)
{
	cx_keyring_free(&f->kr);
	cx_policy_free(&f->pol);
	free(f->host_id);
}

int tu_verify(tu_fixture *f, const char *env, cx_error *err)
{
	cx_verify_input in = { .keyring = &f->kr, .policy = &f->pol, .host_id = f->host_id,
			       .pools = f->pools, .n_pools = f->n_pools, .now = f->now };
	cx_lease l = { 0 };
	int r;

	memset(err, 0, sizeof(*err));
	r = cx_lease_verify(&in, (const uint8_t *)env, strlen(env), &l, err);
	if (r == 0)
		cx_lease_free(&l);
	return r;
}

char *tu_good_lease(tu_fixture *f)
{
	json_t *b = tu_body(f->now, f->pol.sha256_hex);
	char *e = tu_envelope_body(b, &f->human, &f->agent);
	json_decref(b);
	return e;
}

char *tu_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p;
	if (!t || !*t)
		t = "/tmp";
	CX_CHECK(asprintf(&p, "%s/calyx-test-XXXXXX", t) > 0);
	CX_CHECK(mkdtemp(p));
	return p;
}

char *tu_write(const char *dir, const char *name, const void *buf, size_t len, mode_t mode)
{
	char *p;
	int fd;

	CX_CHECK(asprintf(&p, "%s/%s", dir, name) > 0);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	CX_CHECK(fd >= 0);
	CX_CHECK(write(fd, buf, len) == (ssize_t)len);
	CX_CHECK(fchmod(fd, mode) == 0);
	close(fd);
	return p;
}

void tu_rmtree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char *c;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			CX_CHECK(asprintf(&c, "%s/%s", path, de->d_name) > 0);
			tu_rmtree(c);
			free(c);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}
