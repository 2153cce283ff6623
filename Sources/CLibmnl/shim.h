// libmnl (Debian: libmnl-dev). Linked by the Netfilter target when nftables support lands.
#include <libmnl/libmnl.h>
