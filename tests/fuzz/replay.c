/* Corpus replay driver: links with one fuzz_NAME.c instead of libFuzzer so
 * every harness doubles as a regression test under the normal (or ASan)
 * build.
 *
 *   replay_NAME DIR|FILE...
 *
 * Feeds every regular file in each directory (not recursive), or the named
 * file, to LLVMFuzzerTestOneInput, then prints "replay: N inputs from ARG".
 * Each input is copied into a buffer of exactly its size so a sanitizer
 * catches any read past the end. Inputs above 1 MiB are cut to 1 MiB.
 * Exit: 0 when every input ran; 1 when an argument or file cannot be read;
 * a harness failure aborts (that crash is the test failure).
 * Trust: test code, run on the repository's own corpus. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_MAX_BYTES (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run one file. 1: ran, 0: not a regular file (skipped), -1: error. */
static int run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "replay: cannot stat '%s': %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	/* One spare byte to notice a file that grew past the cap. */
	buf = malloc(REPLAY_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (len < REPLAY_MAX_BYTES + 1) {
		ssize_t n = read(fd, buf + len, REPLAY_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > REPLAY_MAX_BYTES) {
		fprintf(stderr, "replay: '%s' is above %u bytes, using the first %u\n", path,
			REPLAY_MAX_BYTES, REPLAY_MAX_BYTES);
		len = REPLAY_MAX_BYTES;
	}
	{
		/* Exact-size copy: no slack for an over-read to hide in. */
		uint8_t *exact = malloc(len ? len : 1);
		if (!exact) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 1;
}

/* Run every regular file in dir. Returns the count, or -1. */
static long run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long count = 0;
	int failed = 0;

	if (!d) {
		fprintf(stderr, "replay: cannot open directory '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		char *path;
		int r;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			failed = 1;
			break;
		}
		r = run_file(path);
		free(path);
		if (r < 0)
			failed = 1;
		else
			count += r;
	}
	closedir(d);
	return failed ? -1 : count;
}

int main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
		if (n < 0) {
			status = 1;
			continue;
		}
		printf("replay: %ld inputs from %s\n", n, argv[i]);
	}
	return status;
}
