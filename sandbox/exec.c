/* What a run may execute, inside the view: the set Landlock grants
 * execute on (sandbox/landlock.c), built by the payload after
 * pivot_root and before it drops privileges.
 *
 * The set is exactly: the command (the very inode open_command checked),
 * each of the lease's exec entries (opened here, symlink-free, in the
 * view: a file, or a directory meaning every file beneath it), and the
 * interpreters the kernel opens for the command and for the entries that
 * are files: the ELF PT_INTERP, or the "#!" interpreter and that one's
 * PT_INTERP. Files beneath a directory entry get no interpreter of their
 * own: the loader the command needs is normally theirs too, and a policy
 * that wants more names it.
 *
 * Invariants: at most SBX_EXEC_MAX paths (bounded by CX_SPEC_PATHS_MAX:
 * the command and every entry, three paths each at most); an entry that
 * is missing in the view, passes through a symlink or is neither a
 * regular file nor a directory refuses the run (one line, before the
 * exec gate): it is never silently left out. The fds stay open (CLOEXEC)
 * until execve, so the rules are on the inodes checked here.
 * Trust: runs in the payload as root inside the view, before dropping
 * privileges; the entries come from a verified, policy-resolved lease;
 * the files read (interpreter lines) may be hostile workspace files:
 * sbx_interpreter reads a bounded header only. */
#include "internal.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/fileio.h"

void sbx_exec_set_free(sbx_exec_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->paths[i]);
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	}
	free(s->paths);
	free(s->fds);
	memset(s, 0, sizeof(*s));
}

static int push(sbx_exec_set *s, const char *path, int fd, cx_error *err)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->paths[i], path) == 0) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
	if (s->n + 1 >= SBX_EXEC_MAX) {
		if (fd >= 0)
			close(fd);
		return cx_err(err, CX_E_SPAWN, E2BIG, "more than %d executable paths", SBX_EXEC_MAX - 1);
	}
	if (!s->paths) {
		s->paths = cx_calloc(SBX_EXEC_MAX, sizeof(*s->paths));
		s->fds = cx_calloc(SBX_EXEC_MAX, sizeof(*s->fds));
	}
	s->paths[s->n] = cx_strdup(path);
	s->fds[s->n++] = fd;
	s->paths[s->n] = NULL;
	return 0;
}

/* The interpreter chain of the file at path: "#!" interpreter (or
 * PT_INTERP), then that one's PT_INTERP. A missing interpreter is not an
 * error here: execve reports it. */
static int push_interpreters(sbx_exec_set *s, const char *path, cx_error *err)
{
	char a[4096], b[4096];
	int r;

	if (sbx_interpreter(AT_FDCWD, path, a, sizeof(a)) < 0 || !a[0])
		return 0;
	if ((r = push(s, a, -1, err)) < 0)
		return r;
	if (sbx_interpreter(AT_FDCWD, a, b, sizeof(b)) < 0 || !b[0])
		return 0;
	return push(s, b, -1, err);
}

int sbx_exec_set_build(const cx_sandbox_config *cfg, const char *cmd_path, sbx_exec_set *ret,
		       cx_error *err)
{
	const cx_strv *ex = &cfg->spec->exec;
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	sbx_exec_set s = { 0 };
	int r;

	if (root < 0)
		return cx_err(err, CX_E_SPAWN, errno, "open the view's root: %s", strerror(errno));
	if ((r = push(&s, cmd_path, -1, err)) < 0 || (r = push_interpreters(&s, cmd_path, err)) < 0)
		goto fail;
	for (size_t i = 0; i < ex->n; i++) {
		char fdp[32];
		struct stat st;
		int fd = cx_openat2(root, ex->v[i], O_PATH,
				    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);

		if (fd == -ENOENT) {
			r = cx_err(err, CX_E_NOT_FOUND, ENOENT,
				   "exec entry '%.200s' was not found in the sandbox (is its tree in the lease's ro paths?)",
				   ex->v[i]);
			goto fail;
		}
		if (fd == -ELOOP || fd == -EXDEV) {
			r = cx_err(err, CX_E_EXEC, ELOOP,
				   "exec entry '%.200s' is or passes through a symlink; the lease must name the real path",
				   ex->v[i]);
			goto fail;
		}
		if (fd < 0) {
			r = cx_err(err, CX_E_EXEC, -fd, "cannot open exec entry '%.200s': %s", ex->v[i],
				   strerror(-fd));
			goto fail;
		}
		if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
			close(fd);
			r = cx_err(err, CX_E_EXEC, EACCES,
				   "exec entry '%.200s' is neither a regular file nor a directory", ex->v[i]);
			goto fail;
		}
		snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
		if ((r = push(&s, fdp, fd, err)) < 0)
			goto fail;
		if (S_ISREG(st.st_mode) && (r = push_interpreters(&s, fdp, err)) < 0)
			goto fail;
	}
	*ret = s;
	return 0;
fail:
	sbx_exec_set_free(&s);
	return r;
}
