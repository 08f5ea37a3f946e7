/* The mount-target race (runc CVE-2019-19921 / CVE-2021-30465, crun and
 * containerd volume races): while calyx-exec builds the view, a host-side
 * racer (hosttool race) keeps swapping a leased directory, and one of its
 * parent directories, with symlinks pointing at a host directory outside
 * every lease (renameat2 RENAME_EXCHANGE). Whatever ends up mounted at
 * the leased path must be the leased directory itself (its "marker" file
 * says "real"), never the symlink's target (marker "HOST-SECRET"), or the
 * run must be refused (calyx reports E_VIEW; the harness counts that).
 *   mount_race LEASED_PATH */
#include "probe.h"

#include <dirent.h>

int main(int argc, char **argv)
{
	char path[4200], buf[64];
	struct stat st;

	probe_init("mount_race");
	if (argc != 2)
		report("ERROR", "usage: mount_race LEASED_PATH");
	if (lstat(argv[1], &st) < 0)
		report("ERROR", "lstat %s: %s", argv[1], strerror(errno));
	if (S_ISLNK(st.st_mode))
		report("ESCAPED", "%s is a symlink in the view", argv[1]);
	snprintf(path, sizeof(path), "%s/marker", argv[1]);
	if (read_small(path, buf, sizeof(buf)) < 0)
		report("ERROR", "read %s: %s", path, strerror(errno));
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "real") == 0)
		report("DENIED", "%s is the leased directory (marker 'real')", argv[1]);
	if (strcmp(buf, "HOST-SECRET") == 0)
		report("ESCAPED", "%s shows the racer's host directory (marker '%s')", argv[1], buf);
	report("ERROR", "%s has unexpected marker '%s'", argv[1], buf);
}
