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

/// TUNSETIFF on an open /dev/net/tun: attaches `fd` to a new (or existing) device `name` with
/// `flags` (IFF_TAP, IFF_NO_PI, IFF_MULTI_QUEUE, ...). Returns 0 or -1 with errno set.
int CSystemShim_tun_set_iff(int fd, const char *name, int flags);

/// TUNSETPERSIST (what 0), TUNSETOWNER (1) or TUNSETGROUP (2) with `value`. Returns 0 or -1.
int CSystemShim_tun_set(int fd, int what, unsigned long value);

/// A procfs instance of this process's own, made on first call (fsopen, fsmount; never attached
/// anywhere, closed with the process) and the same descriptor after that, from any thread.
/// Returns -1 when the kernel refuses or lacks it, or when /proc/sys/net is not plain procfs
/// (a read-only or masking mount over it, which the instance would bypass); the caller then
/// uses /proc.
int CSystemShim_private_procfs(void);

#endif
