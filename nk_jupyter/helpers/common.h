/* What nk's static helpers share (each is one .c file with this header; setup.py builds them). */
#ifndef NK_HELPERS_COMMON_H
#define NK_HELPERS_COMMON_H
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

/* Become the first member of new namespaces and wait (nk-userns, and nk-init's helper child):
 * join the user namespace `join` (unless -1), become `uid` (0 keeps the IDs: a single-ID lab
 * has nothing else, and setgroups denied) under an NPROC limit of `nproc`, so the user
 * namespace made is owned by uid and every process of it counts against that budget; make
 * this process dumpable again (its parent writes the new namespace's ID map); unshare `flags`.
 * Then "u" on `status` (or "e" and the failed step), and wait until `release` reaches its end.
 * Never returns. */
_Noreturn static inline void own_new_namespaces(int join, uid_t uid, rlim_t nproc, int flags, int status,
						    int release)
{
	const char *step = "setns";
	if (join >= 0 && setns(join, CLONE_NEWUSER) < 0)
		goto failed;
	if (join >= 0)
		close(join);
	if (uid) {
		step = "setgroups";
		if (setgroups(0, NULL) < 0)
			goto failed;
		step = "setresuid";
		if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
			goto failed;
	}
	struct rlimit limit = {nproc, nproc};
	step = "setrlimit NPROC";
	if (setrlimit(RLIMIT_NPROC, &limit) < 0)
		goto failed;
	step = "prctl";
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		goto failed;
	step = "unshare";
	if (unshare(flags) < 0)
		goto failed;
	if (write(status, "u", 1) != 1)
		_exit(1);
	close(status);
	for (;;) {
		char byte;
		ssize_t n = read(release, &byte, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);
	}
failed:
	dprintf(status, "e%s: %s", step, strerror(errno));
	_exit(1);
}
#endif
