/* nk-userns: become the first member of new namespaces, a user namespace among them, and wait.
 *
 *     nk-userns [-j] UID NPROC FLAGS
 *
 * posix_spawned by nk (linux/ns.py, Unsharer) with the release pipe's read end on fd 0, the
 * status pipe's write end on fd 1 and, with -j, a user namespace to join first on fd 3; it
 * keeps nothing else (it closes whatever else it inherited). In this order it
 *   1. joins that user namespace (-j);
 *   2. becomes UID (groups, gid and uid; 0 keeps them: a single-ID lab has nothing else) under
 *      an NPROC limit of NPROC, so the user namespace it makes is owned by UID and every
 *      process of it counts against that budget;
 *   3. makes itself dumpable again (its parent must write the new user namespace's ID map)
 *      and unshares FLAGS (CLONE_NEWUSER and others, as a number);
 *   4. writes "u" on fd 1 and closes it (or "e" and the reason, on any failure), then waits
 *      until fd 0 reaches its end (its parent has mapped and joined what it made) and exits.
 * Its parent waits for the status pipe's end, so the exec of this program is long done before
 * the parent goes on (it then builds a machine's root, where a path names the machine's files).
 * Linked statically: nothing of the host's dynamic loader or libraries runs in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common.h"

#define RELEASE 0
#define STATUS 1
#define JOIN 3

static void fail(const char *what)
{
	dprintf(STATUS, "e%s: %s", what, strerror(errno));
	_exit(1);
}

static unsigned long number(const char *text, unsigned long most)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(text, &end, 10);
	if (errno || end == text || *end || n > most) {
		errno = EINVAL;
		fail(text);
	}
	return n;
}

int main(int argc, char **argv)
{
	int join = argc > 1 && !strcmp(argv[1], "-j");
	if (argc != 4 + join) {
		errno = EINVAL;
		fail("usage: nk-userns [-j] UID NPROC FLAGS");
	}
	uid_t uid = (uid_t)number(argv[1 + join], 0xfffffffeUL);
	rlim_t nproc = (rlim_t)number(argv[2 + join], 0xffffffffUL);
	int flags = (int)number(argv[3 + join], 0x7fffffffUL);
	if (!(flags & CLONE_NEWUSER)) {
		errno = EINVAL;
		fail("FLAGS must have CLONE_NEWUSER");
	}
	close_from(join ? JOIN + 1 : JOIN);
	close(2);  /* (its errors go on the status pipe) */
	own_new_namespaces(join ? JOIN : -1, uid, nproc, flags, STATUS, RELEASE);
}
