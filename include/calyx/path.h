/* Path syntax rules shared by lease, policy and config.
 *
 * A normal path: absolute, at most CX_PATH_MAX bytes, no empty, "." or ".."
 * component, no trailing "/" (except "/" itself), no control characters.
 * Trust: pure. */
#ifndef CALYX_PATH_H
#define CALYX_PATH_H

#include <stdbool.h>

#define CX_PATH_MAX 4096

bool cx_path_is_normal(const char *p);
/* p equals tree or lies beneath it (component-wise, not string prefix). */
bool cx_path_within(const char *p, const char *tree);

#endif
