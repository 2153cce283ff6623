// The subset of libmnl's API that libnftnl calls, implemented in mnl.c so the plugins link
// no shared library at all (Debian ships no libmnl.a). Prototypes come from libmnl-dev's
// <libmnl/libmnl.h>, which keeps the ABI identical.
#ifndef CMNL_H
#define CMNL_H
#endif
