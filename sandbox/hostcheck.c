/* Before a lease is burned: is what it will execute there, on this host,
 * as the sandbox will open it? The payload opens the command and the
 * exec entries with RESOLVE_NO_SYMLINKS inside the view (sandbox/spawn.c,
 * sandbox/exec.c), and the view binds each leased tree from its host path
 * with no symlink in it either (sandbox/view.c): so a host path with a
 * symlink, a missing file or a file without an execute bit fails the run
 * for certain, and is better found here, before the ledger is touched
 * (the issue's /usr/bin/python3, a symlink, used to burn the lease).
 * A path outside every leased tree is not in the view at all.
 * Trust: runs as root (calyx-exec) or as a signer (calyx-lease); reads
 * only metadata (openat2 O_PATH, fstat, realpath for the message). The
 * answer is advisory for the run itself, which checks again in the view:
 * a host that changes between this check and the run still fails closed. */
#include "calyx/sandbox.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calyx/fileio.h"
#include "calyx/path.h"

static bool within_any(const char *p, const cx_strv *trees)
{
	for (size_t i = 0; i < trees->n; i++)
		if (cx_path_within(p, trees->v[i]))
			return true;
	return false;
}

/* The host path behind view path p: under the workspace for /work/...,
 * itself in a leased ro/rw tree; false when the view does not hold it. */
static bool host_path(const cx_run_spec *s, const char *p, char *out, size_t outlen)
{
	if (s->workspace && cx_path_within(p, "/work")) {
		int n = snprintf(out, outlen, "%s%s", strcmp(s->workspace, "/") == 0 ? "" : s->workspace,
				 p + strlen("/work"));
		if (out[0] == '\0')
			snprintf(out, outlen, "/");
		return n > 0 && (size_t)n < outlen;
	}
	if (!within_any(p, &s->ro) && !within_any(p, &s->rw))
		return false;
	snprintf(out, outlen, "%s", p);
	return true;
}

/* view: the path as the lease names it (for messages); host: where it is. */
static int check_one(const char *view, const char *host, const char *what, bool allow_dir,
		     const char *ws, cx_error *err)
{
	_cleanup_close_ int fd = cx_openat2(AT_FDCWD, host, O_PATH,
					    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	char at[CX_PATH_MAX + 32] = "";
	struct stat st;

	if (strcmp(view, host) != 0)
		snprintf(at, sizeof(at), " (at '%.200s' on this host)", host);
	if (fd == -ELOOP || fd == -EXDEV) {
		_cleanup_free_ char *real = realpath(host, NULL);
		char shown[CX_PATH_MAX + 8];

		if (!real)
			return cx_err(err, CX_E_EXEC, ELOOP,
				      "%s '%.200s'%s is or passes through a symlink, and it does not resolve on this host: %s",
				      what, view, at, strerror(errno));
		/* a workspace file: say it as the lease names it */
		size_t wl = ws ? strlen(ws) : 0;
		if (ws && strcmp(ws, "/") != 0 && cx_path_within(real, ws))
			snprintf(shown, sizeof(shown), "/work%s", real + wl);
		else
			snprintf(shown, sizeof(shown), "%s", real);
		return cx_err(err, CX_E_EXEC, ELOOP,
			      "%s '%.200s'%s is or passes through a symlink; write its real path '%.200s' instead",
			      what, view, at, shown);
	}
	if (fd == -ENOENT || fd == -ENOTDIR)
		return cx_err(err, CX_E_NOT_FOUND, ENOENT,
			      "%s '%.200s'%s does not exist on this host (install it or fix the path)",
			      what, view, at);
	if (fd < 0)
		return cx_err(err, CX_E_EXEC, -fd, "%s '%.200s'%s cannot be opened: %s", what, view, at,
			      strerror(-fd));
	if (fstat(fd, &st) < 0)
		return cx_err(err, CX_E_EXEC, errno, "%s '%.200s'%s: stat: %s", what, view, at,
			      strerror(errno));
	if (allow_dir && S_ISDIR(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode))
		return cx_err(err, CX_E_EXEC, EACCES, "%s '%.200s'%s is not a regular file%s", what, view,
			      at, allow_dir ? " or a directory" : "");
	if (!(st.st_mode & 0111))
		return cx_err(err, CX_E_EXEC, EACCES,
			      "%s '%.200s'%s is not executable (mode %04o; chmod +x it or name another file)",
			      what, view, at, (unsigned)(st.st_mode & 07777));
	return 0;
}

int cx_sandbox_check_exec_path(const char *path, const char *what, bool allow_dir,
			       cx_error *err)
{
	return check_one(path, path, what, allow_dir, NULL, err);
}

static int check_view_path(const cx_run_spec *s, const char *p, const char *what, bool allow_dir,
			   cx_error *err)
{
	char host[CX_PATH_MAX + 1];

	if (!host_path(s, p, host, sizeof(host)))
		return cx_err(err, CX_E_NOT_FOUND, ENOENT,
			      "%s '%.200s' is not inside /work or a path the lease mounts, so the sandbox cannot run it (add its directory to paths.ro)",
			      what, p);
	return check_one(p, host, what, allow_dir, s->workspace, err);
}

int cx_sandbox_check_exec_host(const cx_run_spec *s, cx_error *err)
{
	int r;

	if ((r = check_view_path(s, s->argv.v[0], "command", false, err)) < 0)
		return r;
	if (s->validate_argv.n &&
	    (r = check_view_path(s, s->validate_argv.v[0], "validate command", false, err)) < 0)
		return r;
	for (size_t i = 0; i < s->exec.n; i++)
		if ((r = check_view_path(s, s->exec.v[i], "exec entry", true, err)) < 0)
			return r;
	return 0;
}
