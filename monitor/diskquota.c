/* The workspace quota as the supervisor sees it: how full the run's
 * scratch is (the tmpfs holding its overlay uppers, mounted by calyx-exec
 * with size=disk_bytes and nr_inodes=inodes plus its own dirs), and
 * whether a quota is used up.
 *
 * The kernel enforces the quota (a write past it fails with ENOSPC); this
 * only tells the supervisor that it happened, so the run halts (reason
 * "disk") instead of going on with a half-written tree. One fstatfs on a
 * kept fd: a tmpfs answers from its superblock counters (a per-CPU sum),
 * about a microsecond; no tree is ever walked.
 * Trust: runs as root in calyx-exec; the numbers come from the kernel,
 * the fd from calyx-exec (the scratch it mounted). */
#include "calyx/monitor.h"

#include <sys/statfs.h>

cx_disk_full cx_disk_eval(const struct statfs *sf, const cx_disk_quota *q, cx_disk_usage *ret)
{
	uint64_t blocks = (uint64_t)sf->f_blocks, bfree = (uint64_t)sf->f_bfree;
	uint64_t files = (uint64_t)sf->f_files, ffree = (uint64_t)sf->f_ffree;
	uint64_t inuse;

	if (bfree > blocks)
		bfree = blocks;
	if (ffree > files)
		ffree = files;
	ret->bytes = (blocks - bfree) * (uint64_t)sf->f_bsize;
	inuse = files - ffree;
	ret->inodes = inuse > q->inodes_base ? inuse - q->inodes_base : 0;
	/* the kernel refuses the next page or inode (a size-capped file
	 * system: f_blocks/f_files are 0 only without a cap), or the run
	 * holds what its quota allows */
	if ((blocks && bfree == 0) || (q->bytes && ret->bytes >= q->bytes))
		return CX_DISK_FULL_BYTES;
	if ((files && ffree == 0) || (q->inodes && ret->inodes >= q->inodes))
		return CX_DISK_FULL_INODES;
	return CX_DISK_OK;
}

int cx_disk_read(const cx_disk_quota *q, cx_disk_usage *ret, cx_disk_full *ret_full)
{
	struct statfs sf;
	cx_disk_usage u;

	if (fstatfs(q->fd, &sf) < 0)
		return -errno;
	*ret_full = cx_disk_eval(&sf, q, &u);
	*ret = u;
	return 0;
}
