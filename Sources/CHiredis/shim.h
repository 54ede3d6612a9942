// hiredis reached from Swift: imported by the writer alone.
#include <hiredis/hiredis.h>
