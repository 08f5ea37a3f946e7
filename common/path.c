/* Path syntax checks. Trust: pure. */
#include "calyx/path.h"

#include <string.h>

bool cx_path_is_normal(const char *p)
{
	size_t len = strlen(p);

	if (len == 0 || len > CX_PATH_MAX || p[0] != '/')
		return false;
	if (len == 1)
		return true;
	if (p[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	/* Walk components: each starts after a '/'. */
	for (const char *c = p + 1;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0)
			return false; /* "//" */
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!slash)
			break;
		c = slash + 1;
	}
	return true;
}

bool cx_path_within(const char *p, const char *tree)
{
	size_t n = strlen(tree);

	if (strcmp(tree, "/") == 0)
		return p[0] == '/';
	if (strncmp(p, tree, n) != 0)
		return false;
	return p[n] == '\0' || p[n] == '/';
}
