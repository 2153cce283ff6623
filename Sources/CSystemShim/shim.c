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

#include <math.h>

#if defined(__x86_64__) && defined(__GLIBC__)
// Bind to the pre-2.35 hypot so this definition adds no newer symbol version itself.
__asm__(".symver hypot,hypot@GLIBC_2.2.5");
#endif

// The static Swift runtime calls hypotf, which glibc 2.35 re-versioned. Defining it here
// satisfies that reference inside the binary, keeping the host floor at glibc 2.34
// (architecture.md §3: RHEL 9 ships 2.34). Computing in double keeps float results exact.
float hypotf(float x, float y) {
    return (float)hypot((double)x, (double)y);
}
