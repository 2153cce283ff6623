// libnftnl (Debian: libnftnl-dev). Linked statically from libnftnl.a (see ARCHITECTURE.md).
#include <stdint.h>
#include <sys/types.h>
// glibc first: linux/libc-compat.h then skips its own in_addr/in6_addr, which would clash.
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
