/* calyx-ctl init (ctl_init.c): argv starts at "init"; returns the exit
 * code (0 host ready, 1 created but not ready, 2 usage, 125 error). */
#ifndef CALYX_EXECUTOR_CTL_INIT_H
#define CALYX_EXECUTOR_CTL_INIT_H

int cx_ctl_init(int argc, char **argv);

#endif
