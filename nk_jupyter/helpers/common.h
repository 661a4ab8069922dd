/* What nk's static helpers share (each is one .c file with this header; setup.py builds them). */
#ifndef NK_HELPERS_COMMON_H
#define NK_HELPERS_COMMON_H
#include <unistd.h>

/* Close every descriptor from `first` on (whatever its parent let it inherit). */
static inline void close_from(int first)
{
	if (close_range((unsigned)first, ~0U, 0) == 0)
		return;
	long most = sysconf(_SC_OPEN_MAX);
	for (long fd = first; fd < (most > 0 ? most : 1024); fd++)
		close((int)fd);
}
#endif
