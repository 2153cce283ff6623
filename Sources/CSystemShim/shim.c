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
