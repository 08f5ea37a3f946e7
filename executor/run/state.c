/* The state directory's layout (state.h says what lives where).
 * Trust: runs as root on the root-owned config's state_dir. */
#include "state.h"

#include <string.h>
#include <sys/stat.h>

#include "calyx/codec.h"

/* The longest name a caller appends below STATE: "runs/<32 hex>.new" with
 * "/scratch/tree16/upper" and a journal name, or a lock file; 256 bytes
 * cover all. */
#define STATE_TAIL_MAX 256

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = cx_calloc(1, n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int cx_state_init(cx_state *s, const char *state_dir, cx_error *err)
{
	memset(s, 0, sizeof(*s));
	if (state_dir[0] != '/' || strlen(state_dir) + STATE_TAIL_MAX >= CX_STATE_PATH_MAX)
		return cx_err(err, CX_E_CONFIG, ENAMETOOLONG,
			      "state dir '%.200s' must be an absolute path under %d bytes",
			      state_dir, CX_STATE_PATH_MAX - STATE_TAIL_MAX);
	s->dir = cx_strdup(state_dir);
	s->root = join(state_dir, "root");
	s->ctl = join(state_dir, "run");
	s->runs = join(state_dir, "runs");
	s->packs = join(state_dir, "packs");
	s->trash = join(state_dir, "trash");
	s->locks = join(state_dir, "locks");
	s->uids = join(state_dir, "uids");
	s->ledger = join(state_dir, "ledger");
	s->pruned = join(state_dir, "ledger.pruned");
	s->cache = join(state_dir, "cache");
	s->offsets = join(state_dir, "kernel-offsets.json");
	s->bpf_probe = join(state_dir, "bpf-probe");
	s->ws = (cx_ws_dirs){ .trash = s->trash, .locks = s->locks };
	return 0;
}

void cx_state_free(cx_state *s)
{
	char **all[] = { &s->dir,    &s->root,   &s->ctl,   &s->runs,   &s->packs,  &s->trash,
			 &s->locks,  &s->uids,   &s->ledger, &s->pruned, &s->cache, &s->offsets,
			 &s->bpf_probe };
	for (size_t i = 0; i < CX_ARRAY_SIZE(all); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
	s->ws = (cx_ws_dirs){ 0 };
}

/* Lease ids are 32 hex (verified), so these always fit: STATE is at most
 * CX_STATE_PATH_MAX - STATE_TAIL_MAX bytes (cx_state_init). */
void cx_state_run_dir(const cx_state *s, const char *lease_id, char *out)
{
	CX_CHECK((size_t)snprintf(out, CX_STATE_PATH_MAX, "%s/%.64s", s->runs, lease_id) <
		 CX_STATE_PATH_MAX - 64);
}

void cx_state_pack_dir(const cx_state *s, const char *lease_id, char *out)
{
	CX_CHECK((size_t)snprintf(out, CX_STATE_PATH_MAX, "%s/%.64s", s->packs, lease_id) <
		 CX_STATE_PATH_MAX);
}

void cx_state_ctl_socket(const cx_state *s, const char *lease_id, char *out)
{
	CX_CHECK((size_t)snprintf(out, CX_STATE_PATH_MAX, "%s/%.64s.sock", s->ctl, lease_id) <
		 CX_STATE_PATH_MAX);
}

void cx_state_uid_lock(const cx_state *s, uint32_t uid, char *out)
{
	CX_CHECK((size_t)snprintf(out, CX_STATE_PATH_MAX, "%s/%u.lock", s->uids, uid) <
		 CX_STATE_PATH_MAX);
}

void cx_state_journal(const char *run_dir, char *out)
{
	CX_CHECK((size_t)snprintf(out, CX_STATE_FILE_MAX, "%s/journal.json", run_dir) <
		 CX_STATE_FILE_MAX);
}

void cx_state_manifest(const char *pack_dir, char *out)
{
	CX_CHECK((size_t)snprintf(out, CX_STATE_FILE_MAX, "%s/manifest.json", pack_dir) <
		 CX_STATE_FILE_MAX);
}

bool cx_state_lease_entry(const char *name, const char *suffix, char *lid)
{
	if (strlen(name) != 32 + strlen(suffix) || strcmp(name + 32, suffix) != 0)
		return false;
	memcpy(lid, name, 32);
	lid[32] = '\0';
	return cx_is_lower_hex(lid, 32);
}

void cx_state_scratch(const char *run_dir, char *out)
{
	CX_CHECK((size_t)snprintf(out, CX_STATE_FILE_MAX, "%s/scratch", run_dir) <
		 CX_STATE_FILE_MAX);
}

int cx_state_dir(const char *path, unsigned forbid, int reason, cx_error *err)
{
	struct stat sb;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return cx_err(err, reason, errno, "cannot create '%s': %s", path, strerror(errno));
	if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0 || (sb.st_mode & forbid))
		return cx_err(err, reason, EPERM,
			      forbid == 077 ? "'%s' must be a root-only directory (chmod 700)"
					    : "'%s' must be a root-owned directory not writable by others",
			      path);
	return 0;
}
