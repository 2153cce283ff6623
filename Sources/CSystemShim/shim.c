#define _GNU_SOURCE
#include <sched.h>
#include <sys/vfs.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
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


int CSystemShim_bind_packet(int fd, int ifindex, unsigned short protocol_be) {
    struct sockaddr_ll address;
    memset(&address, 0, sizeof(address));
    address.sll_family = AF_PACKET;
    address.sll_protocol = protocol_be;
    address.sll_ifindex = ifindex;
    return bind(fd, (struct sockaddr *)&address, sizeof(address));
}

#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/if_tun.h>

int CSystemShim_tun_set_iff(int fd, const char *name, int flags) {
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    request.ifr_flags = (short)flags;
    return ioctl(fd, TUNSETIFF, &request);
}

int CSystemShim_tun_set(int fd, int what, unsigned long value) {
    unsigned long request;
    switch (what) {
    case 0: request = TUNSETPERSIST; break;
    case 1: request = TUNSETOWNER; break;
    case 2: request = TUNSETGROUP; break;
    default: return -1;
    }
    return ioctl(fd, request, value);
}

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <linux/mount.h>

/* The process's own procfs instance, never attached to any mount tree.
 * -2: not tried yet; -1: none (refused or unsupported: callers use /proc). */
static int private_procfs = -2;

_Static_assert(sizeof(struct statx) >= 152, "struct statx holds stx_mnt_id");

static int mount_id(const char *path, unsigned long long *id) {
    struct statx info;
    if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &info) != 0 || !(info.stx_mask & STATX_MNT_ID)) {
        return -1;
    }
    /* stx_mnt_id sits at offset 144 in the kernel's layout; older glibc calls it padding. */
    memcpy(id, (const char *)&info + 144, sizeof(*id));
    return 0;
}

/* Whether /proc/sys/net is plain procfs as the process sees it: on the same mount as /proc (no
 * read-only or masking bind mount over /proc/sys, as container runtimes and systemd's
 * ProtectKernelTunables= make) and that mount writable. A private instance would bypass them. */
static int proc_sys_net_is_plain(void) {
    unsigned long long proc, net;
    if (mount_id("/proc", &proc) != 0 || mount_id("/proc/sys/net", &net) != 0 || proc != net) {
        return 0;
    }
    struct statvfs mount;
    return statvfs("/proc/sys/net", &mount) == 0 && !(mount.f_flag & ST_RDONLY);
}

static int make_private_procfs(void) {
#if defined(SYS_fsopen) && defined(SYS_fsconfig) && defined(SYS_fsmount)
    if (!proc_sys_net_is_plain()) {
        errno = EPERM;
        return -1;
    }
    int context = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    if (context < 0) {
        return -1;
    }
    int mount = -1;
    if (syscall(SYS_fsconfig, context, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
        unsigned int attributes = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        mount = (int)syscall(SYS_fsmount, context, FSMOUNT_CLOEXEC, attributes);
    }
    int saved = errno;
    close(context);
    errno = saved;
    return mount;
#else
    errno = ENOSYS;
    return -1;
#endif
}

int CSystemShim_private_procfs(void) {
    int fd = __atomic_load_n(&private_procfs, __ATOMIC_ACQUIRE);
    if (fd != -2) {
        return fd;
    }
    int made = make_private_procfs();
    int expected = -2;
    if (!__atomic_compare_exchange_n(&private_procfs, &expected, made, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (made >= 0) {
            close(made);
        }
        return expected;
    }
    return made;
}
