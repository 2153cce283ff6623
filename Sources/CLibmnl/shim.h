// libmnl-dev's header, for tests that call Sources/CMnl (our libmnl subset) directly. Nothing links
// the shared libmnl.
#include <libmnl/libmnl.h>
