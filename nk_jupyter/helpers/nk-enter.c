/* nk-enter: start a command in a namespace machine, as root there (nk's entry program).
 *
 *     nk:NAME=VALUE... nk-enter [-g CGROUP_DIR]... [-d DIR] [-t] [-s] -- PROGRAM [ARG]...
 *
 * The supervisor (root of the lab's user namespace, seeing the host's files) posix_spawns it
 * with the machine's init as a pidfd on descriptor 3 and the command's stdin, stdout and stderr
 * on 0, 1 and 2; it closes anything else it inherited. In this order it
 *   1. joins each CGROUP_DIR (the machine's cgroups: the command is counted there from its start);
 *   2. enters the machine's pid (for its children), mount, network, UTS, IPC and cgroup
 *      namespaces, all at once, while it still has the lab's capabilities over the pid
 *      namespace (which belongs to the lab's user namespace, not the machine's);
 *   3. enters the machine's user namespace last: from here on it holds machine credentials
 *      only (root of the machine's user namespace, nothing over anything of the lab's);
 *   4. forks: the child, in the machine's pid namespace, leads a new session (with fd 0 as its
 *      controlling terminal for -t), starts in DIR (default /root, or / if there is none) and
 *      execs PROGRAM with exactly the environment given as nk-enter's variables named nk:NAME,
 *      as NAME (found on that PATH, as env(1) would). Nothing else of nk-enter's environment
 *      is passed on, and no name the C library acts on (GLIBC_TUNABLES, MALLOC_*, LD_*) is
 *      ever nk-enter's own: only the command, inside the machine, sees them;
 *      With -s, PROGRAM FILE is a startup (bash FILE): when FILE is only plain commands, the
 *      child runs them itself, as bash would (script.h);
 *   5. waits, and exits as the command did (its status, or the signal that ended it).
 * The machine never sees the parent (it is in the lab's pid namespace), and the child runs only
 * this file's code until its exec (with -s, for the whole startup: non-dumpable all along, so
 * nothing of the machine can read or trace it). The init is named by a pidfd the supervisor opened while
 * the init was surely alive, so a pid reused by another machine's process cannot be entered.
 *
 * Exit status of its own: 125 when it could not join a cgroup, enter the machine or change to
 * DIR; 126 when PROGRAM exists but cannot be run; 127 when it is not found (as env(1)).
 * It is linked statically: nothing of the host's dynamic loader or libraries runs in it.
 */
#define _GNU_SOURCE
#include "common.h"
#include "enter.h"

int main(int argc, char **argv)
{
	close_from(INIT_PIDFD + 1);
	enter(argc, argv, environ);
}
