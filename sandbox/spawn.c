/* Spawning the sandbox: clone3 into new namespaces, a tiny init, and the
 * payload's privilege-dropping steps before execve.
 *
 * Identity: no user namespace. The command runs as an unprivileged host
 * uid/gid from the configuration (run_uid/run_gid), with every capability
 * and the bounding set cleared. Why not a user namespace: every namespace
 * we create (pid, mount, net, ipc, uts, cgroup) is then owned by the
 * initial user namespace, so the sandbox holds no capability over any of
 * them — not even over its own mounts, which it therefore cannot change;
 * and the sandbox never owns a user namespace, which removes the large
 * kernel surface (netfilter, mount, etc.) that a process with "root in a
 * user namespace" can reach. seccomp forbids creating one later. Files the
 * run writes are owned by run_uid on the host, which is what a deployer
 * sees and expects.
 *
 * Order of steps (any failure before execve ends the child with a report
 * on the error pipe; the parent turns it into one line and exit 125, or
 * 126/127 for execve itself):
 *   parent (cx_sandbox_spawn, one function per step): check_caller
 *           (root, run ids not 0), open_channels (sync, report, status,
 *           gate), prepare_filter (seccomp compiled here), clone_sandbox
 *           (envp, argv, clone3(NEW{PID,NS,NET,IPC,UTS,CGROUP}|PIDFD
 *           [|INTO_CGROUP])) -> start_sandbox: writes the go byte, arms
 *           what must be in place before exec (before_exec), opens the
 *           exec gate -> wait_for_exec: reports until EOF, the layers or
 *           an error; a failure after clone3: kill_sandbox (SIGKILL init,
 *           reap it; the child's own report, if any, is the cause)
 *   init:   PDEATHSIG=SIGKILL, wait for go (parent alive), join the v1
 *           cgroups itself (join_fds), a new cgroup namespace rooted
 *           there (unshare), build the view and pivot_root,
 *           hostname, loopback if allowed, fork payload, drop its own
 *           capabilities, close every fd, reap until the payload exits,
 *           report its wait status, exit (the pid namespace dies with it)
 *   payload: setsid, stdin=/dev/null, only fds 0-2 (+ the CLOEXEC report
 *           pipe), rlimits, the command and the exec set opened in the
 *           view (sandbox/exec.c), drop to run ids (securebits locked, no caps,
 *           bounding set empty, no_new_privs), chdir, Landlock, seccomp,
 *           execve(argv[0], argv, envp)
 * Trust: runs as root (checked). Inputs: the executor's verified,
 * policy-resolved spec and root-owned configuration. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sys/stat.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "calyx/fileio.h"
#include "calyx/timings.h"

enum { REP_LAYERS = 1, REP_ERROR = 2 };

/* Child -> parent report, one write (< PIPE_BUF, so atomic). */
typedef struct report {
	int32_t type;
	int32_t reason;
	int32_t errnum;
	int32_t exit_code;
	cx_layers layers;
	int64_t marks[CX_SBX__MARKS]; /* the child's setup stamps */
	char msg[CX_ERR_MSG_MAX];
} report;
_Static_assert(sizeof(report) <= PIPE_BUF, "one report is one atomic pipe write");

/* The child's setup stamps: set by init, inherited by the payload through
 * fork, sent with its report. */
static int64_t marks[CX_SBX__MARKS];

typedef struct child_ctx {
	const cx_sandbox_config *cfg;
	const cx_strv *argv;
	char **argvp; /* argv->v copied with the NULL terminator execve needs */
	char **envp;
	int sync_rd, rep_wr, status_wr;
	const int *join_fds; /* cgroup v1 "tasks" files (cx_cg_join_fds) */
	size_t n_join_fds;
	int gate_rd; /* the parent's leave to exec (before_exec done) */
	const sbx_filter *filter; /* compiled by the parent, installed last */
	const sbx_idmaps *idmaps; /* made by the parent, for the writable trees */
} child_ctx;

static void send_report(int fd, const report *rep)
{
	ssize_t n;
	do
		n = write(fd, rep, sizeof(*rep));
	while (n < 0 && errno == EINTR);
}

static _Noreturn void child_fail(const child_ctx *c, const cx_error *err, int exit_code)
{
	report rep = { .type = REP_ERROR, .reason = err->reason, .errnum = err->errnum,
		       .exit_code = exit_code };
	memcpy(rep.msg, err->msg, sizeof(rep.msg));
	send_report(c->rep_wr, &rep);
	_exit(exit_code);
}

/* Close every fd from 3 up but the n in keep (negative ones ignored). */
static int close_all_but(const int *keep, size_t n, cx_error *err)
{
	int k[4 + CX_SANDBOX_JOIN_MAX + SBX_IDMAPS_MAX];
	size_t m = 0;
	unsigned from = 3;

	for (size_t i = 0; i < n && m < CX_ARRAY_SIZE(k); i++) /* insertion sort */
		if (keep[i] >= 3) {
			size_t j = m++;
			for (; j > 0 && k[j - 1] > keep[i]; j--)
				k[j] = k[j - 1];
			k[j] = keep[i];
		}
	if (m < n && m == CX_ARRAY_SIZE(k))
		return cx_err(err, CX_E_SPAWN, E2BIG, "too many fds to keep");
	for (size_t i = 0; i < m; i++) {
		if ((unsigned)k[i] > from && syscall(SYS_close_range, from, (unsigned)k[i] - 1, 0) < 0)
			return cx_err(err, CX_E_SPAWN, errno, "close_range: %s", strerror(errno));
		from = (unsigned)k[i] + 1;
	}
	if (syscall(SYS_close_range, from, ~0U, 0) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "close_range: %s", strerror(errno));
	return 0;
}

static bool is_script(int fd)
{
	char p[32], b[2];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	_cleanup_close_ int r = open(p, O_RDONLY | O_CLOEXEC);
	return r >= 0 && read(r, b, 2) == 2 && b[0] == '#' && b[1] == '!';
}

/* fds 0-2 come from whoever started calyx-exec. A directory or O_PATH fd
 * there would hand the command a handle on the host's tree (the runc
 * CVE-2024-21626 class): refuse. */
static int check_stdio(cx_error *err)
{
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fstat(fd, &st) < 0)
			continue; /* closed: cx_sanitize_stdio reopened it on /dev/null */
		if (S_ISDIR(st.st_mode) || (fl & O_PATH))
			return cx_err(err, CX_E_SPAWN, EPERM,
				      "fd %d given to calyx-exec is a directory or path handle; refusing to pass it into the sandbox (redirect it from a file or pipe)",
				      fd);
	}
	return 0;
}

/* Enter the working directory resolved inside the view only: no magic
 * links (/proc/self/fd/N, /proc/self/cwd...), symlinks kept in the root. */
static int enter_cwd(const char *cwd, cx_error *err)
{
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;
	char buf[16];

	if (root >= 0 && (fd = cx_openat2(root, cwd, O_PATH | O_DIRECTORY,
					  RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)) < 0)
		errno = -fd;
	if (fd < 0 || fchdir(fd) < 0)
		return cx_err(err, CX_E_SPAWN, errno,
			      "cannot enter working directory '%.200s' in the sandbox: %s", cwd,
			      strerror(errno));
	/* and it is inside the view (getcwd fails or says "(unreachable)" otherwise) */
	if (!getcwd(buf, sizeof(buf)) && errno != ERANGE)
		return cx_err(err, CX_E_SPAWN, errno, "working directory is outside the view");
	return 0;
}

/* Open the command itself: no symlink anywhere on the way (a policy
 * lists paths; a symlink there could name a shell), a regular file. The
 * Landlock execute rule and execveat use this very inode. */
static int open_command(const char *path, cx_error *err)
{
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int fd = root < 0 ? -1
			  : cx_openat2(root, path, O_PATH,
				       RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);

	if (fd < 0) {
		if (root >= 0)
			errno = -fd;
		if (errno == ENOENT)
			return cx_err(err, CX_E_NOT_FOUND, ENOENT,
				      "command '%.200s' was not found in the sandbox (is its directory in the lease's ro paths?)",
				      path);
		if (errno == ELOOP || errno == EXDEV)
			return cx_err(err, CX_E_EXEC, ELOOP,
				      "command '%.200s' is or passes through a symlink; the policy must name the real file",
				      path);
		return cx_err(err, CX_E_EXEC, errno, "cannot open command '%.200s': %s", path,
			      strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cx_err(err, CX_E_EXEC, EACCES, "command '%.200s' is not a regular file", path);
	}
	return fd;
}

static _Noreturn void payload_main(const child_ctx *c)
{
	const cx_sandbox_config *cfg = c->cfg;
	const cx_strv *argv = c->argv;
	report rep = { .type = REP_LAYERS };
	cx_error err = { 0 };
	int fd;

	if (setsid() < 0) {
		cx_err(&err, CX_E_SPAWN, errno, "setsid: %s", strerror(errno));
		child_fail(c, &err, CX_EXIT_FAILURE);
	}
	if (!cfg->inherit_stdin) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || dup2(fd, 0) < 0) {
			cx_err(&err, CX_E_SPAWN, errno, "stdin from /dev/null: %s", strerror(errno));
			child_fail(c, &err, CX_EXIT_FAILURE);
		}
		close(fd);
	}
	/* Only 0-2 survive execve: everything else is closed now, and the
	 * report pipe and the gate are O_CLOEXEC. */
	if (close_all_but((int[]){ c->rep_wr, c->gate_rd }, 2, &err) < 0 || check_stdio(&err) < 0 ||
	    sbx_rlimits(&cfg->spec->limits, &err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	int cmd_fd = open_command(argv->v[0], &err);
	if (cmd_fd < 0)
		child_fail(c, &err, err.reason == CX_E_NOT_FOUND ? CX_EXIT_NOT_FOUND : CX_EXIT_CANNOT_EXEC);
	char cmd_path[32];
	snprintf(cmd_path, sizeof(cmd_path), "/proc/self/fd/%d", cmd_fd);
	/* What may be executed (Landlock: execute on these inodes): this
	 * command, the lease's exec entries, their interpreters. An entry
	 * missing in the view ends the run here, before the exec gate. */
	sbx_exec_set xs = { 0 };
	if (sbx_exec_set_build(cfg, cmd_path, &xs, &err) < 0)
		child_fail(c, &err, err.reason == CX_E_NOT_FOUND ? CX_EXIT_NOT_FOUND : CX_EXIT_CANNOT_EXEC);

	if (sbx_drop_privileges(cfg->run_uid, cfg->run_gid, &err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	rep.layers.caps_dropped = rep.layers.no_new_privs = true;
	if (enter_cwd(cfg->spec->cwd, &err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	marks[CX_SBX_PRIVS_DONE] = cx_mono_ns();
	if (sbx_landlock_apply(cfg, (const char *const *)xs.paths, &rep.layers, &err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	marks[CX_SBX_LANDLOCK_DONE] = cx_mono_ns();
	if (sbx_seccomp_install(c->filter, &err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	rep.layers.seccomp = true;
	marks[CX_SBX_SECCOMP_DONE] = cx_mono_ns();
	/* The gate: nothing runs before the parent says so (EOF: it died or
	 * gave up, so never exec). */
	char g;
	ssize_t gn;
	do
		gn = read(c->gate_rd, &g, 1);
	while (gn < 0 && errno == EINTR);
	if (gn != 1)
		_exit(CX_EXIT_FAILURE);
	memcpy(rep.marks, marks, sizeof(rep.marks));
	send_report(c->rep_wr, &rep);

	/* ELF: exec the very inode we checked. A "#!" script needs a path
	 * its interpreter can open, so it is exec'd by its (symlink-free,
	 * just checked) path; the fd then closes on exec. */
	if (is_script(cmd_fd))
		execve(argv->v[0], c->argvp, c->envp);
	else
		syscall(SYS_execveat, cmd_fd, "", c->argvp, c->envp, AT_EMPTY_PATH);
	int e = errno;
	if (e == ENOENT)
		cx_err(&err, CX_E_NOT_FOUND, e,
		       "command '%.200s' was not found in the sandbox (is its directory in the lease's ro paths?)",
		       argv->v[0]);
	else
		cx_err(&err, CX_E_EXEC, e, "cannot execute '%.200s' in the sandbox: %s", argv->v[0],
		       strerror(e));
	child_fail(c, &err, e == ENOENT ? CX_EXIT_NOT_FOUND : CX_EXIT_CANNOT_EXEC);
}

static _Noreturn void init_main(const child_ctx *c)
{
	cx_error err = { 0 };
	char go;
	pid_t payload;
	int status = 0;

	/* First, drop every fd of calyx-exec's that clone3 copied (the audit
	 * log, the ledger, the run dir's lock...): an flock follows the open
	 * file description, so a sandbox still dying after calyx-exec was
	 * killed would keep the run looking alive to the next start's
	 * recovery (the crash gate found it). */
	int keep[4 + CX_SANDBOX_JOIN_MAX + SBX_IDMAPS_MAX];
	size_t nkeep = 0;
	keep[nkeep++] = c->sync_rd;
	keep[nkeep++] = c->rep_wr;
	keep[nkeep++] = c->status_wr;
	keep[nkeep++] = c->gate_rd;
	for (size_t i = 0; i < c->n_join_fds && nkeep < CX_ARRAY_SIZE(keep); i++)
		keep[nkeep++] = c->join_fds[i];
	if (nkeep < 4 + c->n_join_fds)
		cx_err(&err, CX_E_SPAWN, E2BIG, "more cgroup hierarchies than the sandbox takes");
	/* the idmap user namespaces (no process in them): for the view only */
	for (size_t i = 0; i < c->idmaps->n; i++)
		keep[nkeep++] = c->idmaps->ns[i].fd;
	if (err.reason || close_all_but(keep, nkeep, &err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	/* calyx-exec dies -> init gets SIGKILL -> the pid namespace dies. The
	 * go byte proves the parent was still alive after the prctl. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || read(c->sync_rd, &go, 1) != 1)
		_exit(CX_EXIT_FAILURE);
	/* The supervisor blocks the signals it reads through a signalfd;
	 * the sandbox starts with none blocked and default dispositions. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	prctl(PR_SET_NAME, "calyx-init");
	/* Into the run's v1 cgroups, by init itself (the only thread of its
	 * process), before it allocates or forks anything: "0" moves the
	 * writer without the kernel's global threadgroup lock (calyx/monitor.h).
	 * The files were opened by root in the parent. */
	for (size_t i = 0; i < c->n_join_fds; i++) {
		if (write(c->join_fds[i], "0", 1) != 1) {
			cx_err(&err, CX_E_SPAWN, errno, "cannot join the run's cgroup: %s",
			       strerror(errno));
			child_fail(c, &err, CX_EXIT_FAILURE);
		}
		close(c->join_fds[i]);
	}
	/* A cgroup namespace is rooted where its creator stands in each
	 * hierarchy at that moment. clone3 made one while init was still in
	 * calyx-exec's v1 cgroups (only the v2 one, CLONE_INTO_CGROUP, was
	 * already the run's), so the command would see "/calyx/run-<pid>-
	 * <start>-<lease>" or "/../../..." there. A fresh one, now that every
	 * hierarchy holds init in the run's cgroup, shows it "/" everywhere;
	 * the payload forked below inherits it. */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		cx_err(&err, CX_E_SPAWN, errno, "cannot root the cgroup namespace at the run's cgroup: %s",
		       strerror(errno));
		child_fail(c, &err, CX_EXIT_FAILURE);
	}
	marks[CX_SBX_VIEW_START] = cx_mono_ns();
	if (sbx_view_build(c->cfg, c->idmaps, &err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	for (size_t i = 0; i < c->idmaps->n; i++)
		close(c->idmaps->ns[i].fd); /* the mounts hold what they need */
	marks[CX_SBX_VIEW_DONE] = cx_mono_ns();
	if (sethostname("calyx", 5) < 0) {
		cx_err(&err, CX_E_SPAWN, errno, "sethostname: %s", strerror(errno));
		child_fail(c, &err, CX_EXIT_FAILURE);
	}
	if (c->cfg->spec->network == CX_NET_LOOPBACK && sbx_loopback_up(&err) < 0)
		child_fail(c, &err, CX_EXIT_FAILURE);
	close(c->sync_rd);

	payload = fork();
	if (payload < 0) {
		cx_err(&err, CX_E_SPAWN, errno, "fork: %s", strerror(errno));
		child_fail(c, &err, CX_EXIT_FAILURE);
	}
	if (payload == 0) {
		close(c->status_wr);
		payload_main(c);
	}
	/* init keeps uid 0 only to reap; it gives up every capability. */
	if (sbx_drop_caps_keep_uid(&err) < 0) {
		kill(payload, SIGKILL);
		child_fail(c, &err, CX_EXIT_FAILURE);
	}
	close(c->rep_wr);
	if (close_all_but(&c->status_wr, 1, &err) < 0) {
		kill(payload, SIGKILL);
		_exit(CX_EXIT_FAILURE);
	}
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, __WALL);
		if (p == payload) {
			status = st;
			break;
		}
		if (p < 0 && errno != EINTR)
			_exit(CX_EXIT_FAILURE);
	}
	if (write(c->status_wr, &status, sizeof(status)) != (ssize_t)sizeof(status))
		_exit(CX_EXIT_FAILURE);
	_exit(0); /* the kernel kills whatever the payload left behind */
}

/* clone3 failed: find which namespace type this host refuses, by trying
 * each alone in a throwaway child, so the message names the layer. */
static const char *missing_namespace(void)
{
	static const struct { int flag; const char *name; } ns[] = {
		{ CLONE_NEWNS, "mount" }, { CLONE_NEWPID, "pid" }, { CLONE_NEWNET, "net" },
		{ CLONE_NEWIPC, "ipc" },  { CLONE_NEWUTS, "uts" }, { CLONE_NEWCGROUP, "cgroup" },
	};
	for (size_t i = 0; i < CX_ARRAY_SIZE(ns); i++) {
		int st;
		pid_t p = fork();
		if (p == 0)
			_exit(unshare(ns[i].flag) < 0 ? 1 : 0);
		if (p < 0 || waitpid(p, &st, 0) != p)
			return NULL;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return ns[i].name;
	}
	return NULL;
}

static char **build_envp(const cx_env *env)
{
	char **envp = cx_calloc(env->n + 1, sizeof(char *));
	for (size_t i = 0; i < env->n; i++)
		CX_CHECK(asprintf(&envp[i], "%s=%s", env->name[i], env->value[i]) > 0);
	return envp;
}

/* After the child is dead: an error report it left in the pipe, if any,
 * replaces err (returns its cx_err code; 0: none). Non-blocking, since the
 * command's process may still hold the write end for a moment; each
 * report is one atomic write. */
static int take_child_error(int fd, cx_error *err, int *ret_exit)
{
	report rep;

	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, &rep, sizeof(rep));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(rep))
			return 0;
		if (rep.type != REP_ERROR)
			continue;
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		*ret_exit = rep.exit_code;
		return cx_err(err, rep.reason, rep.errnum, "%s", rep.msg);
	}
}

static void free_envp(char **envp)
{
	for (size_t i = 0; envp[i]; i++)
		free(envp[i]);
	free(envp);
}

/* The four channels between the parent and the sandbox, [0] the read end,
 * [1] the write end, -1 once closed or handed on. The child's ends close
 * in the parent right after clone3; the parent's ends in the child.
 *   sync:  parent -> init, the go byte
 *   rep:   init and payload -> parent, the reports (above): the layers
 *          just before execve, or an error
 *   st:    init -> cx_sandbox_wait, the payload's wait status
 *   gate:  parent -> payload, the leave to exec (before_exec done)
 * sync and gate are socket pairs so that a write to a child that already
 * died is EPIPE without SIGPIPE (MSG_NOSIGNAL), in any caller. */
typedef struct channels {
	int sync[2], rep[2], st[2], gate[2];
} channels;
#define CHANNELS_CLOSED { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } }

static void channels_close(channels *ch)
{
	cx_close_pairp(&ch->sync);
	cx_close_pairp(&ch->rep);
	cx_close_pairp(&ch->st);
	cx_close_pairp(&ch->gate);
}

/* Only root builds a sandbox, and never for a root run identity. */
static int check_caller(const cx_sandbox_config *cfg, cx_error *err)
{
	if (geteuid() != 0)
		return cx_err(err, CX_E_SPAWN, EPERM,
			      "calyx-exec must run as root to build the sandbox (run it through sudo)");
	if (cfg->run_uid == 0 || cfg->run_gid == 0)
		return cx_err(err, CX_E_SPAWN, EINVAL, "run_uid/run_gid must not be 0 (configure an unprivileged id)");
	return 0;
}

static int open_channels(channels *ch, cx_error *err)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch->sync) < 0 ||
	    pipe2(ch->rep, O_CLOEXEC) < 0 || pipe2(ch->st, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch->gate) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "pipe: %s", strerror(errno));
	return 0;
}

/* The filter, compiled here (or taken from the cache) so the child only
 * installs it. Heap: 32 KiB is no stack object. */
static int prepare_filter(const cx_sandbox_config *cfg, sbx_filter **ret, cx_error *err)
{
	_cleanup_free_ sbx_filter *filter = cx_calloc(1, sizeof(*filter));
	int r = sbx_seccomp_prepare(cfg, filter, err);

	if (r < 0)
		return r;
	*ret = TAKE_PTR(filter);
	return 0;
}

/* clone3 failed with e: name the namespace type this host refuses, if one. */
static int namespace_error(int e, cx_error *err)
{
	const char *which = missing_namespace();

	if (which)
		return cx_err(err, CX_E_LAYER, e,
			      "cannot create the sandbox's namespaces: the %s namespace is unavailable on this host (%s); calyx-exec does not run without it",
			      which, strerror(e));
	return cx_err(err, CX_E_SPAWN, e, "cannot create the sandbox's namespaces: %s",
		      strerror(e));
}

/* clone3 into the new namespaces (and straight into the run's v2 cgroup
 * when there is one). The child becomes init (init_main, no return); the
 * parent gets init's pid and pidfd and closes the child's ends. */
static int clone_sandbox(const cx_sandbox_config *cfg, const sbx_filter *filter,
			 const sbx_idmaps *idm, channels *ch, cx_sandbox *ret, pid_t *ret_pid,
			 int *ret_pidfd, cx_error *err)
{
	child_ctx c = { .cfg = cfg, .argv = cfg->argv ? cfg->argv : &cfg->spec->argv, .idmaps = idm };
	struct clone_args ca = { 0 };
	int pidfd = -1, r = 0;
	pid_t pid;

	c.filter = filter;
	c.envp = build_envp(&cfg->spec->env);
	c.argvp = cx_calloc(c.argv->n + 1, sizeof(char *));
	memcpy(c.argvp, c.argv->v, c.argv->n * sizeof(char *)); /* borrowed strings */
	c.sync_rd = ch->sync[0];
	c.rep_wr = ch->rep[1];
	c.status_wr = ch->st[1];
	c.gate_rd = ch->gate[0];
	c.join_fds = cfg->join_fds;
	c.n_join_fds = cfg->n_join_fds;

	ca.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
		   CLONE_NEWCGROUP | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	if (cfg->cgroup_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)cfg->cgroup_fd;
	}
	ret->started_ns = cx_mono_ns();
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0) {
		close(ch->sync[1]);
		close(ch->rep[0]);
		close(ch->st[0]);
		close(ch->gate[1]);
		init_main(&c);
	}
	if (pid < 0)
		r = namespace_error(errno, err);
	free_envp(c.envp);
	free(c.argvp);
	if (r < 0)
		return r;
	close(TAKE_FD(ch->sync[0]));
	close(TAKE_FD(ch->rep[1]));
	close(TAKE_FD(ch->st[1]));
	close(TAKE_FD(ch->gate[0]));
	*ret_pid = pid;
	*ret_pidfd = pidfd;
	return 0;
}

/* The go byte, the parent's own preparations while the sandbox builds
 * itself (before_exec), then the exec gate. */
static int start_sandbox(const cx_sandbox_config *cfg, pid_t pid, channels *ch, cx_error *err)
{
	int r;

	/* Go: init joins its cgroups and builds the view. */
	if (send(ch->sync[1], "G", 1, MSG_NOSIGNAL) != 1)
		return cx_err(err, CX_E_SPAWN, errno, "cannot start the sandbox: %s", strerror(errno));
	close(TAKE_FD(ch->sync[1]));
	if (cfg->before_exec && (r = cfg->before_exec(pid, cfg->before_exec_arg, err)) < 0)
		return r;
	/* Leave to exec. If the child already failed (its gate end is gone:
	 * EPIPE), its report says why. */
	(void)!send(ch->gate[1], "X", 1, MSG_NOSIGNAL);
	close(TAKE_FD(ch->gate[1]));
	return 0;
}

/* Reports until EOF: layers (the payload's, just before execve) or an
 * error (which sets *ret_exit). The command has started only if the
 * layers came, seccomp among them. marks: the child's stamps, then when
 * the parent saw the execve succeed. */
static int wait_for_exec(int rep_rd, int64_t marks_out[CX_SBX__MARKS], cx_layers *ret_layers,
			 int *ret_exit, cx_error *err)
{
	cx_layers layers = { 0 };
	report rep;

	for (;;) {
		ssize_t n = read(rep_rd, &rep, sizeof(rep));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;
		if (n != (ssize_t)sizeof(rep))
			return cx_err(err, CX_E_SPAWN, EIO, "sandbox setup died without a report");
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		if (rep.type == REP_LAYERS) {
			layers = rep.layers;
			memcpy(marks_out, rep.marks, sizeof(rep.marks));
			continue;
		}
		int r = cx_err(err, rep.reason, rep.errnum, "%s", rep.msg);
		*ret_exit = rep.exit_code;
		return r;
	}
	if (!layers.seccomp)
		return cx_err(err, CX_E_SPAWN, EIO, "sandbox setup ended before the command started");
	marks_out[CX_SBX_EXEC_DONE] = cx_mono_ns();
	*ret_layers = layers;
	return 0;
}

/* A step after clone3 failed with r: kill init (the pid namespace dies
 * with it) and reap it. If a parent-side step failed (before_exec, say)
 * after the child had already failed on its own (its view refused), the
 * child's report is the cause: its error replaces r. */
static int kill_sandbox(pid_t pid, int pidfd, int rep_rd, int r, int *ret_exit, cx_error *err)
{
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	waitpid(pid, NULL, __WALL);
	close(pidfd);
	if (rep_rd >= 0) {
		int child_r = take_child_error(rep_rd, err, ret_exit);
		if (child_r < 0)
			r = child_r;
	}
	return r;
}

int cx_sandbox_spawn(const cx_sandbox_config *cfg, cx_sandbox *ret, int *ret_exit, cx_error *err)
{
	_cleanup_(channels_close) channels ch = CHANNELS_CLOSED;
	_cleanup_free_ sbx_filter *filter = NULL;
	_cleanup_(sbx_idmaps_close) sbx_idmaps idm = { 0 };
	cx_layers layers = { 0 };
	int pidfd = -1, r;
	pid_t pid;

	*ret_exit = CX_EXIT_FAILURE;
	if ((r = check_caller(cfg, err)) < 0 || (r = open_channels(&ch, err)) < 0 ||
	    (r = prepare_filter(cfg, &filter, err)) < 0 || (r = sbx_idmaps_prepare(cfg, &idm, err)) < 0 ||
	    (r = clone_sandbox(cfg, filter, &idm, &ch, ret, &pid, &pidfd, err)) < 0)
		return r;
	if ((r = start_sandbox(cfg, pid, &ch, err)) < 0 ||
	    (r = wait_for_exec(ch.rep[0], ret->marks, &layers, ret_exit, err)) < 0)
		return kill_sandbox(pid, pidfd, ch.rep[0], r, ret_exit, err);
	close(TAKE_FD(ch.rep[0]));
	layers.ns_pid = layers.ns_mnt = layers.ns_net = layers.ns_ipc = layers.ns_uts =
		layers.ns_cgroup = true;
	ret->pid = pid;
	ret->pidfd = pidfd;
	ret->status_fd = TAKE_FD(ch.st[0]);
	ret->layers = layers;
	return 0;
}

int cx_sandbox_wait(cx_sandbox *sb, cx_sandbox_outcome *ret, cx_error *err)
{
	siginfo_t si = { 0 };
	int status;
	ssize_t n;

	while (waitid(P_PIDFD, (id_t)sb->pidfd, &si, WEXITED) < 0)
		if (errno != EINTR)
			return cx_err(err, CX_E_SPAWN, errno, "wait for the sandbox: %s", strerror(errno));
	ret->wall_ns = cx_mono_ns() - sb->started_ns;
	do
		n = read(sb->status_fd, &status, sizeof(status));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(status)) {
		ret->exited = WIFEXITED(status);
		ret->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
		ret->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		return 0;
	}
	/* init itself was killed (by us, or by the kernel). */
	ret->exited = false;
	ret->exit_code = 0;
	ret->signal = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED ? si.si_status : SIGKILL;
	return 0;
}

int cx_sandbox_kill(cx_sandbox *sb)
{
	if (syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0) < 0)
		return -errno;
	return 0;
}

void cx_sandbox_release(cx_sandbox *sb)
{
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	if (sb->status_fd >= 0)
		close(sb->status_fd);
	sb->pidfd = sb->status_fd = -1;
}
