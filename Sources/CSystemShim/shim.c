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
