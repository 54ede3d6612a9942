// liburing reached from Swift. <features.h> must come first: liburing.h defines
// _GNU_SOURCE/_XOPEN_SOURCE, which otherwise splits fd_set between this module and Glibc.
#include <features.h>
#include <liburing.h>
