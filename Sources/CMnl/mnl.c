// libmnl-compatible netlink helpers for libnftnl. Semantics follow libmnl's documentation:
// attributes are TLVs aligned to 4 bytes; nests set NLA_F_NESTED; validation fails with
// errno ERANGE/EINVAL; parse callbacks stop at MNL_CB_STOP or MNL_CB_ERROR.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>

/* Messages */

size_t mnl_nlmsg_size(size_t len) { return len + MNL_NLMSG_HDRLEN; }

size_t mnl_nlmsg_get_payload_len(const struct nlmsghdr *nlh) { return nlh->nlmsg_len - MNL_NLMSG_HDRLEN; }

struct nlmsghdr *mnl_nlmsg_put_header(void *buf) {
    memset(buf, 0, MNL_NLMSG_HDRLEN);
    struct nlmsghdr *nlh = buf;
    nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
    return nlh;
}

void *mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size) {
    char *extra = (char *)nlh + nlh->nlmsg_len;
    size_t len = MNL_ALIGN(size);
    nlh->nlmsg_len += len;
    memset(extra, 0, len);
    return extra;
}

void *mnl_nlmsg_get_payload(const struct nlmsghdr *nlh) { return (char *)nlh + MNL_NLMSG_HDRLEN; }

void *mnl_nlmsg_get_payload_offset(const struct nlmsghdr *nlh, size_t offset) {
    return (char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);
}

void *mnl_nlmsg_get_payload_tail(const struct nlmsghdr *nlh) { return (char *)nlh + MNL_ALIGN(nlh->nlmsg_len); }

bool mnl_nlmsg_ok(const struct nlmsghdr *nlh, int len) {
    return len >= (int)sizeof(struct nlmsghdr) && nlh->nlmsg_len >= sizeof(struct nlmsghdr) && (int)nlh->nlmsg_len <= len;
}

struct nlmsghdr *mnl_nlmsg_next(const struct nlmsghdr *nlh, int *len) {
    *len -= MNL_ALIGN(nlh->nlmsg_len);
    return (struct nlmsghdr *)((char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
}

/* Attributes */

uint16_t mnl_attr_get_type(const struct nlattr *attr) { return attr->nla_type & NLA_TYPE_MASK; }
uint16_t mnl_attr_get_len(const struct nlattr *attr) { return attr->nla_len; }
uint16_t mnl_attr_get_payload_len(const struct nlattr *attr) { return attr->nla_len - MNL_ATTR_HDRLEN; }
void *mnl_attr_get_payload(const struct nlattr *attr) { return (char *)attr + MNL_ATTR_HDRLEN; }

bool mnl_attr_ok(const struct nlattr *attr, int len) {
    return len >= (int)sizeof(struct nlattr) && attr->nla_len >= sizeof(struct nlattr) && (int)attr->nla_len <= len;
}

struct nlattr *mnl_attr_next(const struct nlattr *attr) { return (struct nlattr *)((char *)attr + MNL_ALIGN(attr->nla_len)); }

int mnl_attr_type_valid(const struct nlattr *attr, uint16_t max) {
    if (mnl_attr_get_type(attr) > max) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return 1;
}

static const size_t fixed_length[MNL_TYPE_MAX] = {
    [MNL_TYPE_U8] = sizeof(uint8_t), [MNL_TYPE_U16] = sizeof(uint16_t), [MNL_TYPE_U32] = sizeof(uint32_t),
    [MNL_TYPE_U64] = sizeof(uint64_t), [MNL_TYPE_MSECS] = sizeof(uint64_t),
};

static int validate(const struct nlattr *attr, enum mnl_attr_data_type type, size_t expected) {
    uint16_t length = mnl_attr_get_payload_len(attr);
    const char *data = mnl_attr_get_payload(attr);
    if (length < expected) goto range;
    switch (type) {
    case MNL_TYPE_FLAG:
        if (length > 0) goto range;
        break;
    case MNL_TYPE_NUL_STRING:
        if (length == 0) goto range;
        if (data[length - 1] != '\0') {
            errno = EINVAL;
            return -1;
        }
        break;
    case MNL_TYPE_STRING:
        if (length == 0) goto range;
        break;
    case MNL_TYPE_NESTED:
        if (length != 0 && length < MNL_ATTR_HDRLEN) goto range;
        break;
    default:
        break;
    }
    if (expected != 0 && length > expected) goto range;
    return 0;
range:
    errno = ERANGE;
    return -1;
}

int mnl_attr_validate(const struct nlattr *attr, enum mnl_attr_data_type type) {
    if (type >= MNL_TYPE_MAX) {
        errno = EINVAL;
        return -1;
    }
    return validate(attr, type, fixed_length[type]);
}

int mnl_attr_validate2(const struct nlattr *attr, enum mnl_attr_data_type type, size_t len) {
    if (type >= MNL_TYPE_MAX) {
        errno = EINVAL;
        return -1;
    }
    return validate(attr, type, len);
}

static int parse_run(const char *start, int length, mnl_attr_cb_t cb, void *data) {
    int ret = MNL_CB_OK;
    for (const struct nlattr *attr = (const struct nlattr *)start; mnl_attr_ok(attr, (int)(start + length - (const char *)attr));
         attr = mnl_attr_next(attr)) {
        ret = cb(attr, data);
        if (ret <= MNL_CB_STOP) return ret;
    }
    return ret;
}

int mnl_attr_parse(const struct nlmsghdr *nlh, unsigned int offset, mnl_attr_cb_t cb, void *data) {
    const char *start = mnl_nlmsg_get_payload_offset(nlh, offset);
    return parse_run(start, (int)((const char *)mnl_nlmsg_get_payload_tail(nlh) - start), cb, data);
}

int mnl_attr_parse_nested(const struct nlattr *nested, mnl_attr_cb_t cb, void *data) {
    return parse_run(mnl_attr_get_payload(nested), mnl_attr_get_payload_len(nested), cb, data);
}

int mnl_attr_parse_payload(const void *payload, size_t payload_len, mnl_attr_cb_t cb, void *data) {
    return parse_run(payload, (int)payload_len, cb, data);
}

uint8_t mnl_attr_get_u8(const struct nlattr *attr) { return *(uint8_t *)mnl_attr_get_payload(attr); }
uint16_t mnl_attr_get_u16(const struct nlattr *attr) { return *(uint16_t *)mnl_attr_get_payload(attr); }
uint32_t mnl_attr_get_u32(const struct nlattr *attr) { return *(uint32_t *)mnl_attr_get_payload(attr); }

uint64_t mnl_attr_get_u64(const struct nlattr *attr) {
    uint64_t value;
    memcpy(&value, mnl_attr_get_payload(attr), sizeof(value));  // payloads are only 4-byte aligned
    return value;
}

const char *mnl_attr_get_str(const struct nlattr *attr) { return mnl_attr_get_payload(attr); }

void mnl_attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data) {
    struct nlattr *attr = mnl_nlmsg_get_payload_tail(nlh);
    uint16_t total = MNL_ALIGN(sizeof(struct nlattr)) + len;
    attr->nla_type = type;
    attr->nla_len = total;
    memcpy(mnl_attr_get_payload(attr), data, len);
    size_t pad = MNL_ALIGN(len) - len;
    if (pad > 0) memset((char *)mnl_attr_get_payload(attr) + len, 0, pad);
    nlh->nlmsg_len += MNL_ALIGN(total);
}

void mnl_attr_put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t data) { mnl_attr_put(nlh, type, sizeof(data), &data); }
void mnl_attr_put_u16(struct nlmsghdr *nlh, uint16_t type, uint16_t data) { mnl_attr_put(nlh, type, sizeof(data), &data); }
void mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data) { mnl_attr_put(nlh, type, sizeof(data), &data); }
void mnl_attr_put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t data) { mnl_attr_put(nlh, type, sizeof(data), &data); }
void mnl_attr_put_str(struct nlmsghdr *nlh, uint16_t type, const char *data) { mnl_attr_put(nlh, type, strlen(data), data); }
void mnl_attr_put_strz(struct nlmsghdr *nlh, uint16_t type, const char *data) { mnl_attr_put(nlh, type, strlen(data) + 1, data); }

struct nlattr *mnl_attr_nest_start(struct nlmsghdr *nlh, uint16_t type) {
    struct nlattr *start = mnl_nlmsg_get_payload_tail(nlh);
    start->nla_type = NLA_F_NESTED | type;
    nlh->nlmsg_len += MNL_ALIGN(sizeof(struct nlattr));
    return start;
}

void mnl_attr_nest_end(struct nlmsghdr *nlh, struct nlattr *start) {
    start->nla_len = (char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start;
}

void mnl_attr_nest_cancel(struct nlmsghdr *nlh, struct nlattr *start) {
    nlh->nlmsg_len -= (char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start;
}
