/* Transactional workspace: the run writes into an overlayfs upper; on
 * success the upper is committed into the host tree, otherwise it is
 * discarded. Every commit first writes a rollback pack so it can be undone.
 *
 * Layout, per run and per writable tree i (0: the workspace, 1..: rw paths):
 *   STATE/runs/<run_key>/scratch/tree<i>/upper  overlay upper (run's writes)
 *   STATE/runs/<run_key>/scratch/tree<i>/work   overlay workdir
 *   (scratch: calyx-exec's tmpfs, the workspace quota; it goes with
 *   calyx-exec, so after a crash the uppers are gone and an unfinished
 *   commit is rolled back from its pack)
 *   STATE/runs/<run_key>/journal.json      commit journal (see below)
 *   STATE/packs/<run_key>/tree<i>/…        rollback pack: pre-images
 *   STATE/packs/<run_key>/manifest.json    what the commit changed
 * run_key = "<lease_id>" (unique per host: leases run once).
 * That layout is the caller's (executor/run/state.c): the engine is
 * handed every path it uses (pack dir, journal path, uppers, and the
 * trash and locks dirs in cx_ws_dirs) and derives none from another.
 *
 * The upper is read as overlayfs (mounted with redirect_dir=off,
 * metacopy=off, index=off, trusted xattrs) records changes:
 *   regular file / symlink / dir      added or replaced (modes, xattrs
 *                                     other than trusted.overlay.*)
 *   char device 0:0                   whiteout: the path was deleted
 *   dir with trusted.overlay.opaque=y its lower contents were removed
 *   several names of one inode        hardlinks among the run's files
 * Symlinks are committed as links, never followed. Setuid/setgid bits are
 * never committed. Every host path is opened with openat2(RESOLVE_BENEATH|
 * RESOLVE_NO_SYMLINKS) from the tree's root fd: a commit never writes
 * outside the tree, whatever the run or the host did to it. Sparse files
 * stay sparse (commit, pre-image, undo copy only the data segments);
 * sha256 is always that of the full logical content.
 *
 * Manifest (STATE/packs/<run_key>/manifest.json), v2: JSON Lines, a
 * header line then one line per entry (path), each line one compact JSON
 * object of at most 16 MiB, written and read entry by entry (commit, undo,
 * diff and recovery hold one entry at a time, whatever the size):
 *   {"v":2, "run_key":"…", "run_id":"…", "committed_at":1795334400,
 *    "trees":[{"index":0, "path":"/srv/app"}],
 *    "added":1, "changed":1, "deleted":0, "bytes":12, "entries":2}
 *   {"tree":0, "path":"new.txt", "op":"added", "kind":"file", …}
 *   {"tree":0, "path":"src/main.c", "op":"changed",
 *    "kind":"file", "mode_before":420, "mode_after":420,
 *    "size_before":10, "size_after":12,
 *    "sha256_before":"…", "sha256_after":"…"}
 * "entries" is the number of entry lines (added + changed + deleted): a
 * cut manifest is refused. Packs made before v2 hold v1 (one object,
 * "v":1, "entries" the array of the same entry objects): still read
 * (whole, at most 1 GiB), never written (sandbox/workspace/manifest.c).
 * op: added | changed | deleted; kind: file | dir | symlink (the link
 * target takes the place of content for sha256).
 *
 * Journal states (STATE/runs/<run_key>/journal.json, fsync'd at each
 * change): "packed" (pack and manifest complete, nothing applied yet),
 * "applying", "done". Recovery (cx_ws_recover): packed/applying with the
 * upper present -> roll forward (every operation is idempotent); upper
 * gone -> roll back from the pack; done -> remove leftovers.
 * Also: "rolling_back" / "rolled_back" when an apply failed and the commit
 * undid itself from its pack (recovery finishes a rolling_back; a rolled
 * back commit leaves no pack). Manifest entries also carry uid_before,
 * gid_before, uid_after, gid_after and, when the pre-image had any,
 * xattrs_before (name -> base64) and, for xattr names that are not UTF-8,
 * xattrs_before_b64 (base64 name -> base64); "path_b64" replaces "path"
 * for names that are not UTF-8; the top level has "tag" (names the commit's temp
 * files). The pack holds tree<i>/<sha256> objects (pre-image contents and
 * link targets), "committed" once applied and "undone" once undone.
 * Journal and manifest "trees" also record each root's identity ("fsid":
 * statfs f_fsid as 16 hex chars, stable across reboots; "ino"): recovery
 * touches a tree only if it is still that directory; undo refuses another
 * one unless forced.
 *
 * Trust: runs as root on trees the run had write access to: every entry of
 * the upper and of the host tree is hostile (names, types, symlinks,
 * races). */
#ifndef CALYX_WORKSPACE_H
#define CALYX_WORKSPACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "calyx/common.h"

#define CX_WS_TREES_MAX 17 /* the workspace + up to 16 rw paths */

/* The engine's own directories, handed to it by the state directory's
 * owner (executor/run/state.c), never derived from another path:
 *   trash: removed run dirs, uppers and packs are renamed here, then
 *          deleted (in the background when large); on the file system of
 *          the run dirs and packs, so the rename is instant;
 *   locks: the tree locks' registry (cx_ws_lock_trees). */
typedef struct cx_ws_dirs {
	const char *trash;
	const char *locks;
} cx_ws_dirs;

typedef struct cx_ws_tree {
	const char *host_path; /* absolute, normalized */
	const char *upper;     /* STATE/runs/<key>/scratch/tree<i>/upper */
	/* Identity (st_dev, st_ino) of the directory the run's overlay had as
	 * lowerdir; when set, a commit finding another directory at host_path
	 * (renamed or swapped since the run started) is refused. 0, 0: not
	 * checked. */
	dev_t dev;
	ino_t ino;
} cx_ws_tree;

typedef struct cx_ws_report {
	uint64_t added, changed, deleted, bytes;
	char manifest_sha256[65]; /* of manifest.json as written; "" when nothing
				   * changed (then no pack was made) */
	uint64_t skipped; /* FIFOs and sockets the run left: never committed */
} cx_ws_report;

/* Commit the uppers of n trees into their host trees, crash-safely:
 * scan, write the rollback pack and manifest under pack_dir (its parent
 * is created when missing), journal, apply, mark done, move the uppers
 * to d->trash. */
int cx_ws_commit(const cx_ws_dirs *d, const cx_ws_tree *trees, size_t n, const char *run_key,
		 const char *run_id, const char *pack_dir, const char *journal_path,
		 cx_ws_report *ret, cx_error *err);

/* 1 when an upper holds nothing (the run wrote nothing to its tree), 0
 * when it holds something, -errno when it cannot be read. */
int cx_ws_upper_empty(const char *upper);

/* Discard what the run wrote: run_dir (uppers, work dirs) goes to
 * d->trash; the host trees were never touched. Fast regardless of size
 * (rename, then delete in the background; a trash on another file
 * system than run_dir: deleted in place, synchronously). Refused while
 * run_dir holds an unfinished commit's journal. */
int cx_ws_discard(const cx_ws_dirs *d, const char *run_dir, cx_error *err);

/* Finish or undo an interrupted commit found at journal_path (called at
 * every calyx-exec start and by `calyx-ctl recover`); uppers and a pack
 * that go are moved to d->trash. *ret_action: what was done ("none",
 * "rolled_forward", "rolled_back", "cleaned"). */
int cx_ws_recover(const cx_ws_dirs *d, const char *journal_path, const char **ret_action,
		  cx_error *err);

/* Undo a committed run from its pack: refuses (CX_E_WORKSPACE, listing
 * the files) when a file changed since the commit, unless force. Holds
 * the trees' locks (cx_ws_lock_trees, never waiting) meanwhile. */
int cx_ws_undo(const cx_ws_dirs *d, const char *pack_dir, bool force, cx_error *err);

/* Print the manifest like `git diff --stat` (entry by entry: memory
 * does not grow with the manifest). */
int cx_ws_diff(const char *pack_dir, FILE *out, cx_error *err);

#define CX_WS_RUN_ID_MAX 257 /* the manifest's run_id: 256 bytes at most */
/* The run id and commit time a pack's manifest names (its header only,
 * for a v2 manifest; a v1 one is read whole, bounded). */
int cx_ws_pack_info(const char *pack_dir, char run_id[CX_WS_RUN_ID_MAX], int64_t *ret_at,
		    cx_error *err);

/* Hold the n trees (absolute paths) against every other holder whose
 * trees overlap one of them: the same directory, an ancestor or a
 * descendant, compared by normalized path and by the identity of the
 * directories each path opens without symlinks (so one directory reached
 * by two paths, e.g. through a bind mount, overlaps too). The set is taken
 * at once; its own trees may overlap each other. Held while *ret_fd is
 * open (d->locks: created 0700 when missing; layout in lock.c). !wait:
 * refused when a tree is held (CX_E_WORKSPACE, -EBUSY: "workspace
 * '/srv/app/sub' is in use by another run: it overlaps '/srv/app', which
 * that run holds (retry when it ends)"); wait: blocks until every holder in
 * the way has ended, without polling. cx_ws_undo takes the same locks
 * (never waiting). */
int cx_ws_lock_trees(const cx_ws_dirs *d, const char *const *paths, size_t n, bool wait,
		     int *ret_fd, cx_error *err);
/* cx_ws_lock_trees of one tree. */
int cx_ws_lock(const cx_ws_dirs *d, const char *host_path, bool wait, int *ret_fd,
	       cx_error *err);

#endif
