/* The state directory's one owner: every path below STATE_DIR (config
 * "state_dir") is spelled here and nowhere else (calyx-exec, calyx-ctl,
 * housekeeping; the workspace engine is handed its dirs, cx_ws_dirs).
 *
 *   STATE/root                     empty, root-only: the view is mounted on
 *                                  it inside each sandbox's mount namespace
 *   STATE/run/<lease_id>.sock      control socket of a live run (dir 0700)
 *   STATE/runs/<lease_id>[.new]/   a run's dir, locked while the run lives:
 *     scratch/                     a tmpfs of the run's own (size=disk_bytes,
 *                                  nr_inodes=inodes + its dirs), mounted in
 *                                  calyx-exec's private mount namespace only
 *     scratch/tree<i>/{upper,work} the overlay upper and work dir of tree i
 *     journal.json                 a commit's journal (on disk: durable)
 *   STATE/packs/<lease_id>/        rollback pack of a committed run
 *   STATE/trash/                   removed dirs, deleted in the background
 *   STATE/locks/                   tree locks: .registry and one
 *                                  <pid>-<hex>.held per holder (lock.c)
 *   STATE/uids/<uid>.lock          run identities: a live run holds an
 *                                  flock on its uid's file (dir 0700;
 *                                  files 0600, left in place)
 *   STATE/ledger/                  the local ledger (single use)
 *   STATE/ledger.pruned            stamp: when the ledger was last pruned
 *   STATE/cache/                   seccomp filter cache (MACed)
 *   STATE/kernel-offsets.json      the BPF monitor's kernel offsets
 *   STATE/bpf-probe                this boot's id once a tracing BPF program loaded
 *
 * Invariants: every path fits CX_STATE_PATH_MAX (checked once, in
 * cx_state_init, against the longest name below it); lease ids are 32
 * lowercase hex (verified before they reach here).
 * Trust: runs as root; state_dir comes from the root-owned config. */
#ifndef CALYX_EXECUTOR_RUN_STATE_H
#define CALYX_EXECUTOR_RUN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calyx/common.h"
#include "calyx/workspace.h"

#define CX_STATE_PATH_MAX 4096

typedef struct cx_state {
	char *dir;      /* STATE */
	char *root;     /* STATE/root */
	char *ctl;      /* STATE/run */
	char *runs;     /* STATE/runs */
	char *packs;    /* STATE/packs */
	char *trash;    /* STATE/trash */
	char *locks;    /* STATE/locks */
	char *uids;     /* STATE/uids */
	char *ledger;   /* STATE/ledger */
	char *pruned;   /* STATE/ledger.pruned */
	char *cache;    /* STATE/cache */
	char *offsets;  /* STATE/kernel-offsets.json */
	char *bpf_probe; /* STATE/bpf-probe */
	cx_ws_dirs ws;  /* trash and locks, for the workspace engine */
} cx_state;

/* Fill every fixed path from state_dir. Nothing is created. */
int cx_state_init(cx_state *s, const char *state_dir, cx_error *err);
void cx_state_free(cx_state *s);

/* STATE/runs/<lease_id>, STATE/packs/<lease_id>, STATE/run/<lease_id>.sock
 * into out[CX_STATE_PATH_MAX]. */
void cx_state_run_dir(const cx_state *s, const char *lease_id, char *out);
void cx_state_pack_dir(const cx_state *s, const char *lease_id, char *out);
void cx_state_ctl_socket(const cx_state *s, const char *lease_id, char *out);
/* STATE/uids/<uid>.lock, into out[CX_STATE_PATH_MAX]. */
void cx_state_uid_lock(const cx_state *s, uint32_t uid, char *out);
/* RUN_DIR/journal.json (a commit's journal) and PACK_DIR/manifest.json,
 * into out[CX_STATE_PATH_MAX + 16]. */
#define CX_STATE_FILE_MAX (CX_STATE_PATH_MAX + 16)
void cx_state_journal(const char *run_dir, char *out);
void cx_state_manifest(const char *pack_dir, char *out);
/* RUN_DIR/scratch (the run's tmpfs), into out[CX_STATE_FILE_MAX]. */
void cx_state_scratch(const char *run_dir, char *out);

/* A directory entry named "<lease id><suffix>" (".sock", ".new"): true,
 * and the lease id (32 lowercase hex) in lid[33]. */
bool cx_state_lease_entry(const char *name, const char *suffix, char *lid);

/* mkdir(path, 0700) if missing, then require a directory owned by root
 * with none of the `forbid` mode bits (077: root-only; S_IWGRP|S_IWOTH:
 * not writable by others). */
int cx_state_dir(const char *path, unsigned forbid, int reason, cx_error *err);

#endif
