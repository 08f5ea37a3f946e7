/* Private to the workspace module (sandbox/workspace/): the plan a scan
 * builds, the manifest entries, the journal, and the file-system
 * primitives every step shares.
 *
 * Files, by concern:
 *   workspace.c  public API: commit, discard, recover, undo, diff
 *   lock.c       tree locks: overlapping trees are never held at once
 *   fs.c         hostile-tree primitives: beneath-walker, recursive
 *                delete, copy+hash, xattrs, trash + detached deleter,
 *                the commit steps' fault hook
 *   scan.c       upper + host -> plan (ws_rec) and manifest entries
 *   pack.c       pre-images and journal (JSON, strict)
 *   manifest.c   the manifest, written and read entry by entry
 *   apply.c      apply a plan; roll back / undo from a manifest
 *
 * Invariants shared by all of them:
 *  - a path inside a tree is relative, '/'-separated, never empty, never
 *    has an empty, "." or ".." component or a NUL (ws_path_ok);
 *  - every host file is reached from the tree's root fd, one component at
 *    a time, with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 *    RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV); the last component is never
 *    followed (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, renameat/unlinkat);
 *  - every fd is O_CLOEXEC. */
#ifndef CALYX_WORKSPACE_INTERNAL_H
#define CALYX_WORKSPACE_INTERNAL_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "calyx/fault.h"
#include "calyx/workspace.h"

#define WS_DEPTH_MAX 256          /* path components below a tree root */
#define WS_ENTRIES_MAX 1000000    /* upper + host entries one commit may touch */
#define WS_MANIFEST_MAX (1u << 30) /* a v1 manifest (read whole) */
#define WS_MLINE_MAX (16u << 20)   /* a v2 manifest line, '\n' included */
#define WS_JOURNAL_MAX (1u << 20)
#define WS_XATTR_LIST_MAX 65536   /* bytes of xattr names per file */
#define WS_XATTR_VALUE_MAX 65536  /* XATTR_SIZE_MAX */
#define WS_TAG_LEN 16             /* hex chars of the commit's random tag */

/* ---- fault injection (test builds only) --------------------------------- */
#ifdef CALYX_FAULT_INJECTION
/* The workspace's commit steps are fault points (include/calyx/fault.h). */
/* cx_fault_point(step); then call the hook. */
void ws_fault(const char *step);
/* Tests may set this to act at a step (e.g. swap a dir for a symlink). */
extern void (*cx_ws_fault_hook)(const char *step);
#else
static inline void ws_fault(const char *step) { (void)step; }
#endif

/* ---- kinds, actions -------------------------------------------------------- */
enum { WS_K_NONE = 0, WS_K_FILE, WS_K_DIR, WS_K_SYMLINK, WS_K_SPECIAL };
enum { WS_OP_ADDED = 1, WS_OP_CHANGED, WS_OP_DELETED };

/* What apply does for one record of the plan. */
enum {
	WS_A_NONE = 0, /* host entry inside a deleted subtree: manifest only */
	WS_A_DELETE,   /* remove the host entry (recursively) */
	WS_A_DIR,      /* make sure a dir is there (mkdir), then its metadata if meta */
	WS_A_WRITE,    /* regular file: temp file in the dir, rename over */
	WS_A_LINK,     /* hardlink to the primary record's inode, rename over */
	WS_A_SYMLINK,  /* temp symlink, rename over */
	WS_A_SKIP,     /* upper entry equal to the host's: left alone */
};

typedef struct ws_rec {
	char *path;        /* relative */
	uint32_t depth;    /* components */
	uint8_t act;       /* WS_A_* */
	uint8_t hkind;     /* host kind this record replaces (WS_K_NONE: nothing) */
	bool meta;         /* WS_A_DIR: set mode/owner/xattrs */
	bool equal;        /* scan: the host entry equals the upper's */
	mode_t mode;       /* final mode bits (setuid/setgid already stripped) */
	uid_t uid;
	gid_t gid;
	uint64_t size;
	struct timespec atime, mtime;
	char *target;      /* WS_A_SYMLINK */
	uint8_t sha[32];   /* upper content or link target */
	size_t link_to;    /* WS_A_LINK: index of the primary record */
	dev_t udev, hdev;
	ino_t uino, hino;
	nlink_t unlink;
} ws_rec;

typedef struct ws_plan {
	ws_rec *v;
	size_t n, cap;
	uint64_t skipped;  /* FIFOs and sockets in the upper (never committed) */
} ws_plan;

/* ---- manifest ---------------------------------------------------------------- */
typedef struct ws_xattrs {
	size_t n;
	char **names;
	uint8_t **vals;
	size_t *lens;
} ws_xattrs;

typedef struct ws_ment {
	unsigned tree;
	char *path;
	uint8_t op, kind;
	bool has_before, has_after;
	uint32_t mode_b, mode_a, uid_b, gid_b, uid_a, gid_a;
	uint64_t size_b, size_a;
	char sha_b[65], sha_a[65];
	ws_xattrs xb;      /* pre-image xattrs (restored by undo) */
} ws_ment;

typedef struct ws_manifest {
	char *run_key, *run_id, *tag;
	int64_t committed_at;
	size_t ntrees;
	char *trees[CX_WS_TREES_MAX];
	char fsid[CX_WS_TREES_MAX][17]; /* "" when not recorded */
	uint64_t ino[CX_WS_TREES_MAX];
	uint64_t added, changed, deleted, bytes;
	uint64_t nent;     /* entries (added + changed + deleted) */
	/* read: 2 (fd open, the entries from byte body on, read through a
	 * ws_mcur) or 1 (entries in e, read whole); 0 when not read */
	int version;
	int fd;
	uint64_t body;
	ws_ment *e;
	size_t n, cap;
} ws_manifest;

/* A position in a read manifest: each cursor holds one entry (one line)
 * at a time, whatever the manifest's size. */
typedef struct ws_mcur {
	const ws_manifest *m;
	size_t idx;        /* entries returned so far */
	uint64_t off;      /* file offset of buf[0] */
	char *buf;
	size_t cap, len, pos;
	ws_ment cur;
	ws_ment peek;      /* the next entry, when peeked */
	bool peeked;
	uint64_t peek_at;  /* file offset of the peeked entry's line */
} ws_mcur;

/* Writes a v2 manifest line by line (manifest.c). */
typedef struct ws_mwriter {
	int fd;
	crypto_hash_sha256_state h;
	char *b;
	size_t n;
	int r;
	uint64_t count, want;
} ws_mwriter;

/* ---- journal ------------------------------------------------------------------- */
typedef struct ws_journal {
	char *state, *run_key, *run_id, *tag, *pack_dir;
	size_t n;
	char *host[CX_WS_TREES_MAX];
	char *upper[CX_WS_TREES_MAX];
	char fsid[CX_WS_TREES_MAX][17]; /* "" when not recorded */
	uint64_t ino[CX_WS_TREES_MAX];
} ws_journal;

/* ---- fs.c ------------------------------------------------------------- */
bool ws_path_ok(const char *p);
/* Split "a/b/c" into dir length 3 ("a/b") and name "c"; top-level: 0. */
void ws_split(const char *path, size_t *ret_dirlen, const char **ret_name);
char *ws_join(const char *dir, const char *name);

/* openat2 of one component (or a relative path) beneath dfd, symlinks and
 * mount crossings refused. Returns fd or -errno. */
int ws_open_beneath(int dfd, const char *name, int flags);
/* 1 when name under dfd (dfd itself when name is "") is append-only or
 * immutable (chattr +a/+i: nothing in or of it can be replaced, removed
 * or restored, not even by root without clearing it), 0 when not,
 * -errno (-ENOENT: missing). */
int ws_attr_locked(int dfd, const char *name);
/* The tree root: an absolute path without symlinks. */
int ws_open_root(const char *path, int flags);
/* A tree root's identity: statfs f_fsid (hex, stable across reboots) and
 * st_ino. */
int ws_tree_id(int fd, char fsid[17], uint64_t *ino);
/* 0 when fd is the recorded tree (or nothing was recorded), else
 * CX_E_WORKSPACE naming it. */
int ws_check_tree_id(int fd, const char *fsid, uint64_t ino, const char *path, cx_error *err);

/* Walks a tree by relative dir paths, caching the fds of the last path's
 * ancestors (plans and manifests come in pre-order). fds[0] is the root
 * (borrowed). */
typedef struct ws_walker {
	int fds[WS_DEPTH_MAX + 1];
	size_t ends[WS_DEPTH_MAX + 1];
	unsigned depth;
	char *cur;
	size_t cap;
} ws_walker;
void ws_walker_init(ws_walker *w, int root);
void ws_walker_reset(ws_walker *w);
void ws_walker_free(ws_walker *w);
/* The dir holding path (its first dirlen bytes); *ret_fd is borrowed
 * until the next call. */
int ws_walker_dir(ws_walker *w, const char *path, size_t dirlen, int *ret_fd);

/* Remove name under dfd (file, symlink, or whole tree), never following a
 * symlink nor crossing a mount. Missing is success. depth_left bounds the
 * recursion; past it, subtrees are renamed into spill_fd (the trash
 * entry being deleted) when spill_fd >= 0, else -ELOOP. Uses no heap:
 * safe in a child forked from a threaded process. */
int ws_rm_at(int dfd, const char *name, unsigned depth_left, int spill_fd);

/* Copy in -> out (both at offset 0 .. EOF); hash when sha != NULL. */
int ws_copy(int in, int out, uint8_t sha[32], uint64_t *ret_len);
int ws_hash_fd(int fd, uint8_t sha[32], uint64_t *ret_len);

enum { WS_XA_COMMIT = 1, WS_XA_PREIMAGE = 2 };
/* Names a commit copies from an upper (user.*, security.* but
 * security.capability, system.posix_acl_*), or keeps for a pre-image
 * (everything but trusted.*). */
bool ws_xattr_wanted(const char *name, int filter);
int ws_xattrs_read(int fd, int filter, ws_xattrs *ret);
bool ws_xattrs_equal(const ws_xattrs *a, const ws_xattrs *b);
/* Make fd's xattrs in the filter's set exactly `want`. */
int ws_xattrs_apply(int fd, const ws_xattrs *want, int filter);
void ws_xattrs_free(ws_xattrs *x);

/* Deterministic temp name for a record ('f' forward, 'r' rollback). */
void ws_tmpname(const char *tag, char kind, unsigned tree, const char *path, char out[64]);

/* Move path (a run dir, a tree dir, a pack) into the trash dir (the
 * caller's cx_ws_dirs.trash, created 0700 when missing) and delete it
 * there, in a detached grandchild when large. A trash on another file
 * system than path: path is deleted in place, before returning. Missing
 * is success. */
int ws_trash(const char *trash, const char *path, cx_error *err);

/* ---- scan.c ------------------------------------------------------------ */
/* Scan one tree's upper against its host tree. budget: entries left
 * (shared by the trees of a commit). */
int ws_scan(int hroot, int uroot, const char *host_path, ws_plan *plan, size_t *budget,
	    cx_error *err);
void ws_plan_free(ws_plan *p);
/* The manifest entry of one plan record (path borrowed from it; has_before
 * set, before fields not yet filled): false when the record makes none. */
bool ws_plan_entry(const ws_rec *r, unsigned tree, ws_ment *ret);
/* Counts of a plan's entries into m (added, changed, deleted, bytes, nent). */
void ws_plan_count(const ws_plan *p, ws_manifest *m);

/* ---- pack.c ------------------------------------------------------------ */
/* Each entry of a tree's plan: pre-image (of a changed or deleted file,
 * symlink or dir) copied into pack_dir/tree<i>/, before fields filled,
 * then the entry written to the manifest. */
int ws_pack_tree(int hroot, int packfd, unsigned tree, const ws_plan *p, ws_mwriter *w,
		 cx_error *err);
int ws_journal_write(const char *path, const ws_journal *j, const char *state, cx_error *err);
int ws_journal_read(const char *path, ws_journal *ret, cx_error *err);
void ws_journal_free(ws_journal *j);
/* Pack object (pre-image content or link target) by sha256 hex. */
int ws_pack_open_object(int packfd, unsigned tree, const char *sha_hex);
/* Escaped, printable rendering of a path for messages (C-style quoting
 * when it holds control characters or quotes). Returns out. */
const char *ws_quote(const char *s, char *out, size_t len);

/* ---- manifest.c ------------------------------------------------------- */
/* m: header fields and counts (nent entries will follow). */
int ws_mwriter_open(int packfd, const ws_manifest *m, ws_mwriter *w, cx_error *err);
int ws_mwriter_add(ws_mwriter *w, const ws_ment *e, cx_error *err);
/* Exactly nent entries written: fsync, rename into place, its sha256. */
int ws_mwriter_close(int packfd, ws_mwriter *w, char sha_hex[65], cx_error *err);
void ws_mwriter_free(ws_mwriter *w);
/* Read pack_dir/manifest.json (v2 or v1): the header, and unless
 * header_only every entry once (refused whole when one is damaged). */
int ws_manifest_read(const char *pack_dir, bool header_only, ws_manifest *ret, cx_error *err);
void ws_manifest_free(ws_manifest *m);
ws_ment *ws_manifest_add(ws_manifest *m);
void ws_ment_free(ws_ment *e);
int ws_tree_id_fields(const json_t *t, const char *what, char fsid[17], uint64_t *ino,
		      cx_error *err);
void ws_mcur_init(ws_mcur *c, const ws_manifest *m);
/* The next entry: 1 (*ret valid until the next call), 0 at the end, or
 * -errno. */
int ws_mcur_next(ws_mcur *c, const ws_ment **ret, cx_error *err);
/* The next entry without moving on (*ret valid until the next call of
 * either): 1, 0 at the end, or -errno. */
int ws_mcur_peek(ws_mcur *c, const ws_ment **ret, cx_error *err);
/* A new cursor where src stands (its next entry is src's next). */
void ws_mcur_clone(ws_mcur *dst, const ws_mcur *src);
void ws_mcur_free(ws_mcur *c);

/* ---- apply.c ----------------------------------------------------------- */
int ws_apply(int hroot, int uroot, const ws_plan *plan, const char *tag, unsigned tree,
	     const char *host_path, cx_error *err);
/* Restore the pre-commit state of every tree from the pack (undo and
 * roll back). Best effort: goes on past a failing entry and reports the
 * first failure with a count. */
int ws_rollback(const ws_manifest *m, int packfd, bool check_ids, cx_error *err);
/* Nothing an undo of the manifest touches (each entry, each entry's dir)
 * is append-only or immutable: else CX_E_WORKSPACE naming it. */
int ws_check_attrs(const ws_manifest *m, cx_error *err);
/* Entries whose current state differs from the manifest's "after":
 * appended to msg (up to 10 names), count returned. */
int ws_check_after(const ws_manifest *m, char *msg, size_t len, size_t *ret_count,
		   cx_error *err);

#endif
