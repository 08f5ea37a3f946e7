/* Key pairs: a fresh Ed25519 seed and its keyring entry, written as two
 * new files (calyx-lease keygen, calyx-ctl init's host key).
 * Trust: runs as the key's owner; the seed lives on the stack only for
 * the call and is wiped on every path; neither file is ever replaced. */
#include "calyx/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calyx/fileio.h"
#include "calyx/jsonx.h"

int cx_write_new_file(const char *path, const void *buf, size_t len, mode_t mode,
		      cx_error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int r;

	if (fd < 0)
		return cx_err(err, CX_E_IO, errno, "cannot create '%s': %s%s", path, strerror(errno),
			      errno == EEXIST ? " (refusing to overwrite it)" : "");
	/* the mode asked for, whatever the umask */
	if (fchmod(fd, mode) < 0)
		return cx_err(err, CX_E_IO, errno, "cannot chmod '%s': %s", path, strerror(errno));
	r = cx_write_all(fd, buf, len);
	if (r < 0)
		return cx_err(err, CX_E_IO, -r, "cannot write '%s': %s", path, strerror(-r));
	if (fsync(fd) < 0)
		return cx_err(err, CX_E_IO, errno, "cannot sync '%s': %s", path, strerror(errno));
	return 0;
}

int cx_key_pub_write(const char *pubpath, const uint8_t pk[32], cx_role role, const char *name,
		     cx_error *err)
{
	cx_key k = { .role = role, .principal = (char *)name };
	json_t *j;
	char *t;
	int r;

	memcpy(k.pk, pk, 32);
	cx_keyid(k.pk, k.keyid);
	j = cx_key_entry_json(&k, true);
	t = cx_json_dump_pretty(j);
	json_decref(j);
	r = cx_write_new_file(pubpath, t, strlen(t), 0644, err);
	free(t);
	return r;
}

int cx_keygen_write(const char *keypath, const char *pubpath, cx_role role, const char *name,
		    char keyid[65], cx_error *err)
{
	uint8_t seed[32], pk[32];
	int r;

	randombytes_buf(seed, sizeof(seed));
	cx_seed_public(seed, pk);
	r = cx_write_new_file(keypath, seed, sizeof(seed), 0600, err);
	cx_wipe(seed, sizeof(seed));
	if (r < 0)
		return r;
	if (keyid)
		cx_keyid(pk, keyid);
	return cx_key_pub_write(pubpath, pk, role, name, err);
}
