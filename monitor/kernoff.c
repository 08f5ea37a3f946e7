/* Kernel struct offsets for the exec tracer, from the kernel's BTF, once
 * per kernel.
 *
 * Cache format (STATE_DIR/kernel-offsets.json, mode 0600):
 *   {"release": "6.18.44-fc-v669", "btf_size": 5532190,
 *    "task_tgid": 2472, "task_real_parent": 2488, "task_mm": 2200,
 *    "mm_arg_start": 344, "mm_arg_end": 352, "bprm_filename": 96,
 *    "bprm_file": 64, "file_inode": 32, "inode_ino": 64, "inode_sb": 40,
 *    "sb_dev": 16, "sb_magic": 96, "ovl_inode_vfs": 32,
 *    "ovl_inode_upper": 648, "ovl_inode_oe": 656, "ovl_entry_lower": 8,
 *    "ovl_path_dentry": 8, "dentry_inode": 48}
 * (the last twelve name the file an exec runs, through an overlay down to
 * the host's inode, for the loader guard: monitor.bpf.c). A cache missing
 * a key is recomputed.
 * It is reused only when release and BTF size both match the running
 * kernel. A wrong offset can only make the tracer read the wrong bytes
 * (bpf_probe_read_kernel fails safely); it never widens what a run may do.
 * Trust: runs as root; the cache lives in the root-only state dir. */
#include "calyx/monitor.h"

#include <bpf/btf.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "calyx/fileio.h"
#include "calyx/jsonx.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

static const struct { const char *key; size_t off; } fields[] = {
	{ "task_tgid", offsetof(cx_kern_offsets, task_tgid) },
	{ "task_real_parent", offsetof(cx_kern_offsets, task_real_parent) },
	{ "task_mm", offsetof(cx_kern_offsets, task_mm) },
	{ "mm_arg_start", offsetof(cx_kern_offsets, mm_arg_start) },
	{ "mm_arg_end", offsetof(cx_kern_offsets, mm_arg_end) },
	{ "bprm_filename", offsetof(cx_kern_offsets, bprm_filename) },
	{ "bprm_file", offsetof(cx_kern_offsets, bprm_file) },
	{ "file_inode", offsetof(cx_kern_offsets, file_inode) },
	{ "inode_ino", offsetof(cx_kern_offsets, inode_ino) },
	{ "inode_sb", offsetof(cx_kern_offsets, inode_sb) },
	{ "sb_dev", offsetof(cx_kern_offsets, sb_dev) },
	{ "sb_magic", offsetof(cx_kern_offsets, sb_magic) },
	{ "ovl_inode_vfs", offsetof(cx_kern_offsets, ovl_inode_vfs) },
	{ "ovl_inode_upper", offsetof(cx_kern_offsets, ovl_inode_upper) },
	{ "ovl_inode_oe", offsetof(cx_kern_offsets, ovl_inode_oe) },
	{ "ovl_entry_lower", offsetof(cx_kern_offsets, ovl_entry_lower) },
	{ "ovl_path_dentry", offsetof(cx_kern_offsets, ovl_path_dentry) },
	{ "dentry_inode", offsetof(cx_kern_offsets, dentry_inode) },
};

/* Byte offset of member `name` in struct type id, looking through
 * anonymous struct/union members (mm_struct keeps arg_start in one).
 * Returns -1 when absent. */
static long member_offset(const struct btf *btf, __u32 id, const char *name, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;

	while (t && (btf_is_typedef(t) || btf_is_mod(t)))
		t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_composite(t) || depth > 4)
		return -1;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		long bit = (long)btf_member_bit_offset(t, (__u32)i);
		if (mn && strcmp(mn, name) == 0)
			return bit % 8 ? -1 : bit / 8;
		if (!mn || !*mn) {
			long inner = member_offset(btf, m->type, name, depth + 1);
			if (inner >= 0)
				return bit / 8 + inner;
		}
	}
	return -1;
}

static uint32_t find(const struct btf *btf, const char *type, const char *member)
{
	__s32 id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	long off = id > 0 ? member_offset(btf, (__u32)id, member, 0) : -1;
	return off > 0 && off < (1L << 20) ? (uint32_t)off : 0;
}

static bool load_cache(const char *path, const char *release, long long size, cx_kern_offsets *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *j = NULL;
	size_t len;
	cx_kern_offsets o = { 0 };

	if (cx_read_file(path, "offset cache", 4096, CX_FILE_SECRET, 0, &buf, &len, NULL) < 0 ||
	    cx_json_parse_object(buf, len, "offset cache", &j, NULL) < 0)
		return false;
	if (!json_is_string(json_object_get(j, "release")) ||
	    strcmp(json_string_value(json_object_get(j, "release")), release) != 0 ||
	    json_integer_value(json_object_get(j, "btf_size")) != size)
		return false;
	for (size_t i = 0; i < CX_ARRAY_SIZE(fields); i++) {
		json_t *v = json_object_get(j, fields[i].key);
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 20))
			return false;
		*(uint32_t *)((char *)&o + fields[i].off) = (uint32_t)json_integer_value(v);
	}
	*ret = o;
	return true;
}

int cx_kern_offsets_get(const char *cache_path, cx_kern_offsets *ret, cx_error *err)
{
	struct utsname u;
	struct stat st;
	struct btf *btf;
	cx_kern_offsets o = { 0 };
	json_t *j;
	char *s;

	memset(ret, 0, sizeof(*ret));
	if (uname(&u) < 0 || stat(VMLINUX_BTF, &st) < 0)
		return cx_err(err, CX_E_LAYER, errno ? errno : ENOENT, "no kernel BTF at %s", VMLINUX_BTF);
	if (cache_path && load_cache(cache_path, u.release, (long long)st.st_size, ret))
		return 0;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return cx_err(err, CX_E_LAYER, errno, "cannot read kernel BTF: %s", strerror(errno));
	o.task_tgid = find(btf, "task_struct", "tgid");
	o.task_real_parent = find(btf, "task_struct", "real_parent");
	o.task_mm = find(btf, "task_struct", "mm");
	o.mm_arg_start = find(btf, "mm_struct", "arg_start");
	o.mm_arg_end = find(btf, "mm_struct", "arg_end");
	o.bprm_filename = find(btf, "linux_binprm", "filename");
	o.bprm_file = find(btf, "linux_binprm", "file");
	o.file_inode = find(btf, "file", "f_inode");
	o.inode_ino = find(btf, "inode", "i_ino");
	o.inode_sb = find(btf, "inode", "i_sb");
	o.sb_dev = find(btf, "super_block", "s_dev");
	o.sb_magic = find(btf, "super_block", "s_magic");
	/* overlayfs's private inode (built in, so its types are in vmlinux's
	 * BTF; as a module they are not, and the guard then sees only the
	 * overlay's own inode: see monitor.bpf.c) */
	o.ovl_inode_vfs = find(btf, "ovl_inode", "vfs_inode");
	o.ovl_inode_upper = find(btf, "ovl_inode", "__upperdentry");
	o.ovl_inode_oe = find(btf, "ovl_inode", "oe");
	o.ovl_entry_lower = find(btf, "ovl_entry", "__lowerstack");
	o.ovl_path_dentry = find(btf, "ovl_path", "dentry");
	o.dentry_inode = find(btf, "dentry", "d_inode");
	btf__free(btf);
	*ret = o;
	if (!cache_path)
		return 0;
	j = json_pack("{s:s, s:I}", "release", u.release, "btf_size", (json_int_t)st.st_size);
	for (size_t i = 0; i < CX_ARRAY_SIZE(fields); i++)
		json_object_set_new(j, fields[i].key,
				    json_integer(*(uint32_t *)((char *)&o + fields[i].off)));
	s = cx_json_dump_pretty(j);
	json_decref(j);
	cx_write_file_atomic(cache_path, s, strlen(s), 0600, NULL); /* best effort */
	free(s);
	return 0;
}

bool cx_kern_offsets_guard_ok(const cx_kern_offsets *o)
{
	return o->bprm_file && o->file_inode && o->inode_ino && o->inode_sb && o->sb_dev &&
	       o->sb_magic && o->ovl_inode_vfs && o->ovl_inode_upper && o->ovl_inode_oe &&
	       o->ovl_entry_lower && o->ovl_path_dentry && o->dentry_inode;
}
