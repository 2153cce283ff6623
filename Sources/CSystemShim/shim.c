#define _GNU_SOURCE
#include <sched.h>
#include <sys/vfs.h>
#include "CSystemShim.h"

int CSystemShim_setns_net(int fd) {
    return setns(fd, CLONE_NEWNET);
}

int CSystemShim_fstatfs_type(int fd, long *type) {
    struct statfs info;
    int rc = fstatfs(fd, &info);
    if (rc == 0) {
        *type = (long)info.f_type;
    }
    return rc;
}

