/* calyx-ctl selftest (ctl_selftest.c): argv starts at "selftest";
 * config_default: calyx-ctl's --config before the command, or NULL.
 * Returns the exit code (0 every case secure, 1 a case failed or escaped,
 * 2 usage, 125 error). */
#ifndef CALYX_EXECUTOR_CTL_SELFTEST_H
#define CALYX_EXECUTOR_CTL_SELFTEST_H

int cx_ctl_selftest(int argc, char **argv, const char *config_default);

#endif
