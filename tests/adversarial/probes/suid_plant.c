/* Planting setuid/setgid files on the host through the workspace (the
 * "container writes a setuid binary into a bind-mounted host directory"
 * class, cf. CVE-2019-5736 follow-ups and docker volume suid plants;
 * here the run uid is unprivileged, so the plant hands out that uid). The
 * probe copies itself to /work/planted and asks for mode 06755, and makes
 * a setgid directory; each chmod that sticks is reported as INFO (the
 * sandbox itself gains nothing: /work is nosuid). The harness then looks
 * at the host workspace: a setuid/setgid file left there lets any host
 * user run code as the run uid, which every sandboxed run shares.
 *   suid_plant           (in the sandbox)
 *   suid_plant whoami    (run on the host by the harness: prints ids) */
#include "probe.h"

static int copy_self(const char *dst)
{
	char buf[65536];
	ssize_t n;
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int d = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	int r = 0;
	if (src < 0 || d < 0)
		r = -1;
	while (r == 0 && (n = read(src, buf, sizeof(buf))) > 0)
		if (write(d, buf, (size_t)n) != n)
			r = -1;
	if (src >= 0)
		close(src);
	if (d >= 0)
		close(d);
	return r;
}

int main(int argc, char **argv)
{
	struct stat st;

	probe_init("suid_plant");
	if (argc > 1 && strcmp(argv[1], "whoami") == 0) {
		printf("IDS uid %u euid %u gid %u egid %u\n", getuid(), geteuid(), getgid(), getegid());
		return 0;
	}
	if (copy_self("/work/planted") < 0)
		report("ERROR", "copy to /work/planted: %s", strerror(errno));
	if (chmod("/work/planted", 06755) < 0)
		note("DENIED", "chmod-suid", "chmod(/work/planted, 06755): %s", strerror(errno));
	else if (stat("/work/planted", &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
		note("INFO", "chmod-suid", "chmod(/work/planted, 06755) kept mode %o (owner %u)",
		     st.st_mode & 07777, st.st_uid);
	else
		note("DENIED", "chmod-suid", "chmod(06755) succeeded but the bits were dropped");
	if (mkdir("/work/sgid-dir", 0775) < 0 && errno != EEXIST)
		note("ERROR", "sgid-dir", "mkdir: %s", strerror(errno));
	else if (chmod("/work/sgid-dir", 02775) < 0)
		note("DENIED", "sgid-dir", "chmod(/work/sgid-dir, 02775): %s", strerror(errno));
	else
		note("INFO", "sgid-dir", "chmod(/work/sgid-dir, 02775) succeeded");
	/* The bits are inert in here: the exec would be refused anyway. */
	note("INFO", "done", "the harness inspects the host workspace");
	fflush(stdout);
	return 0;
}
