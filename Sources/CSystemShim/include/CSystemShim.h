// Thin wrappers for Linux calls that Glibc's Swift module does not import
// (they need _GNU_SOURCE or live in headers outside the module map).
#ifndef CSYSTEMSHIM_H
#define CSYSTEMSHIM_H

/// setns(fd, CLONE_NEWNET). Returns 0 or -1 with errno set.
int CSystemShim_setns_net(int fd);

/// fstatfs(fd).f_type in *type. Returns 0 or -1 with errno set.
int CSystemShim_fstatfs_type(int fd, long *type);

/// bind(fd) to a packet socket address for `ifindex` and the (network-order) protocol.
/// Returns 0 or -1 with errno set.
int CSystemShim_bind_packet(int fd, int ifindex, unsigned short protocol_be);

#endif
