// Batches, the callback runner and sockets of libmnl's API. libnftnl's batch helpers use the
// batch functions; the socket functions back only nftnl_batch_is_supported(), which the
// plugins never call (they talk netlink through the Swift Netlink module).
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>

struct mnl_nlmsg_batch {
    void *buf;
    size_t limit;
    size_t buflen;
    void *cur;
    bool overflow;
};

struct mnl_nlmsg_batch *mnl_nlmsg_batch_start(void *buf, size_t limit) {
    struct mnl_nlmsg_batch *b = malloc(sizeof(*b));
    if (b == NULL) return NULL;
    *b = (struct mnl_nlmsg_batch){.buf = buf, .limit = limit, .buflen = 0, .cur = buf, .overflow = false};
    return b;
}

void mnl_nlmsg_batch_stop(struct mnl_nlmsg_batch *b) { free(b); }

bool mnl_nlmsg_batch_next(struct mnl_nlmsg_batch *b) {
    struct nlmsghdr *nlh = b->cur;
    if (b->buflen + nlh->nlmsg_len > b->limit) {
        b->overflow = true;
        return false;
    }
    b->cur = (char *)b->buf + b->buflen + nlh->nlmsg_len;
    b->buflen += nlh->nlmsg_len;
    return true;
}

void mnl_nlmsg_batch_reset(struct mnl_nlmsg_batch *b) {
    if (b->overflow) {
        struct nlmsghdr *nlh = b->cur;
        memcpy(b->buf, b->cur, nlh->nlmsg_len);
        b->buflen = nlh->nlmsg_len;
        b->cur = (char *)b->buf + b->buflen;
        b->overflow = false;
    } else {
        b->buflen = 0;
        b->cur = b->buf;
    }
}

size_t mnl_nlmsg_batch_size(struct mnl_nlmsg_batch *b) { return b->buflen; }
void *mnl_nlmsg_batch_head(struct mnl_nlmsg_batch *b) { return b->buf; }
void *mnl_nlmsg_batch_current(struct mnl_nlmsg_batch *b) { return b->cur; }
bool mnl_nlmsg_batch_is_empty(struct mnl_nlmsg_batch *b) { return b->buflen == 0; }

int mnl_cb_run(const void *buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb_data, void *data) {
    int length = (int)numbytes;
    int ret = MNL_CB_OK;
    for (const struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, length); nlh = mnl_nlmsg_next(nlh, &length)) {
        if ((nlh->nlmsg_pid != 0 && portid != 0 && nlh->nlmsg_pid != portid) || (seq != 0 && nlh->nlmsg_seq != seq)) {
            errno = nlh->nlmsg_pid != portid ? ESRCH : EPROTO;
            return MNL_CB_ERROR;
        }
        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
            errno = EINTR;
            return MNL_CB_ERROR;
        }
        if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
            if (cb_data != NULL && (ret = cb_data(nlh, data)) <= MNL_CB_STOP) return ret;
            continue;
        }
        if (nlh->nlmsg_type == NLMSG_DONE) return MNL_CB_STOP;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
            if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr))) {
                errno = EBADMSG;
                return MNL_CB_ERROR;
            }
            if (err->error != 0) {
                errno = -err->error;
                return MNL_CB_ERROR;
            }
            return MNL_CB_STOP;
        }
    }
    return ret;
}

struct mnl_socket {
    int fd;
    struct sockaddr_nl addr;
};

struct mnl_socket *mnl_socket_open(int bus) {
    struct mnl_socket *nl = calloc(1, sizeof(*nl));
    if (nl == NULL) return NULL;
    nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, bus);
    if (nl->fd == -1) {
        free(nl);
        return NULL;
    }
    return nl;
}

int mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid) {
    nl->addr.nl_family = AF_NETLINK;
    nl->addr.nl_groups = groups;
    nl->addr.nl_pid = pid;
    if (bind(nl->fd, (struct sockaddr *)&nl->addr, sizeof(nl->addr)) < 0) return -1;
    socklen_t length = sizeof(nl->addr);
    if (getsockname(nl->fd, (struct sockaddr *)&nl->addr, &length) < 0) return -1;
    return 0;
}

unsigned int mnl_socket_get_portid(const struct mnl_socket *nl) { return nl->addr.nl_pid; }

ssize_t mnl_socket_sendto(const struct mnl_socket *nl, const void *buf, size_t len) {
    static const struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    return sendto(nl->fd, buf, len, 0, (const struct sockaddr *)&kernel, sizeof(kernel));
}

ssize_t mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t bufsiz) {
    struct sockaddr_nl from;
    struct iovec iov = {.iov_base = buf, .iov_len = bufsiz};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t ret = recvmsg(nl->fd, &msg, 0);
    if (ret == -1) return ret;
    if (msg.msg_flags & MSG_TRUNC) {
        errno = ENOSPC;
        return -1;
    }
    if (msg.msg_namelen != sizeof(struct sockaddr_nl)) {
        errno = EINVAL;
        return -1;
    }
    return ret;
}

int mnl_socket_close(struct mnl_socket *nl) {
    int ret = close(nl->fd);
    free(nl);
    return ret;
}
