/* The mount-target race (runc CVE-2019-19921 / CVE-2021-30465, crun and
 * containerd volume races): while calyx-exec builds the view, a host-side
 * racer (hosttool race) keeps swapping a leased directory, one of its
 * parent directories, and the workspace, with symlinks pointing at a host
 * directory outside every lease (renameat2 RENAME_EXCHANGE). Whatever ends
 * up mounted must be the leased directory itself (its "marker" file holds
 * MARKER), never the symlink's target (marker "HOST-SECRET"); or the run
 * must be refused (calyx reports E_VIEW; the harness counts that).
 *   mount_race DIR MARKER [DIR MARKER...]      e.g. /work ws-real */
#include "probe.h"

#include <dirent.h>

static void check(const char *dir, const char *want)
{
	char path[4200], buf[64], attempt[300];
	struct stat st;

	const char *base = strrchr(dir, '/');
	snprintf(attempt, sizeof(attempt), "%s", base && base[1] ? base + 1 : dir);
	if (lstat(dir, &st) < 0) {
		note("ERROR", attempt, "lstat %s: %s", dir, strerror(errno));
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		note("ESCAPED", attempt, "%s is a symlink in the view", dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/marker", dir);
	if (read_small(path, buf, sizeof(buf)) < 0) {
		note("ERROR", attempt, "read %s: %s", path, strerror(errno));
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want) == 0)
		note("DENIED", attempt, "%s is the leased directory (marker '%s')", dir, buf);
	else if (strcmp(buf, "HOST-SECRET") == 0)
		note("ESCAPED", attempt, "%s shows the racer's host directory (marker '%s')", dir, buf);
	else
		note("ERROR", attempt, "%s has unexpected marker '%s'", dir, buf);
}

int main(int argc, char **argv)
{
	probe_init("mount_race");
	if (argc < 3 || argc % 2 == 0)
		report("ERROR", "usage: mount_race DIR MARKER [DIR MARKER...]");
	for (int i = 1; i + 1 < argc; i += 2)
		check(argv[i], argv[i + 1]);
	probe_done();
}
