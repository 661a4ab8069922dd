/* nk-enter: start a command in a namespace machine, as root there (nk's entry program).
 *
 *     nk:NAME=VALUE... nk-enter [-g CGROUP_DIR]... [-d DIR] [-t] -- PROGRAM [ARG]...
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
 *   5. waits, and exits as the command did (its status, or the signal that ended it).
 * The machine never sees the parent (it is in the lab's pid namespace), and the child runs only
 * this file's code until its exec. The init is named by a pidfd the supervisor opened while
 * the init was surely alive, so a pid reused by another machine's process cannot be entered.
 *
 * Exit status of its own: 125 when it could not join a cgroup, enter the machine or change to
 * DIR; 126 when PROGRAM exists but cannot be run; 127 when it is not found (as env(1)).
 * It is linked statically: nothing of the host's dynamic loader or libraries runs in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define INIT_PIDFD 3
#define MACHINE_NS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)

extern char **environ;

static void fail(int status, const char *what, const char *name)
{
	int err = errno;
	if (name)
		dprintf(2, "nk-enter: %s %s: %s\n", what, name, strerror(err));
	else
		dprintf(2, "nk-enter: %s: %s\n", what, strerror(err));
	_exit(status);
}

static void usage(void)
{
	dprintf(2, "usage: nk:NAME=VALUE... nk-enter [-g CGROUP_DIR]... [-d DIR] [-t] -- PROGRAM [ARG]...\n");
	_exit(125);
}

static void join_cgroup(const char *dir)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		fail(125, "cannot join the cgroup", dir);
	}
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write(fd, "0", 1) != 1)
		fail(125, "cannot join the cgroup", dir);
	close(fd);
}

static void relay_status(pid_t child)
{
	int status;
	for (;;) {
		pid_t got = waitpid(child, &status, WUNTRACED);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			fail(125, "cannot wait for the command", NULL);
		if (!WIFSTOPPED(status))
			break;
		kill(getpid(), SIGSTOP);  /* a stopped command stops us too (a shell's job control) */
		kill(child, SIGCONT);
	}
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	int sig = WTERMSIG(status);
	signal(sig, SIG_DFL);
	sigset_t only;
	sigemptyset(&only);
	sigaddset(&only, sig);
	sigprocmask(SIG_UNBLOCK, &only, NULL);
	kill(getpid(), sig);
	_exit(128 + sig);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int ctty = 0;
	close_from(INIT_PIDFD + 1);
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 1, sizeof *env);
	if (!env)
		fail(125, "out of memory", NULL);
	for (size_t i = 0, k = 0; i < n; i++)
		if (!strncmp(environ[i], "nk:", 3) && environ[i][3] && environ[i][3] != '=')
			env[k++] = environ[i] + 3;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-t")) {
			ctty = 1;
		} else if (i + 1 < argc && !strcmp(a, "-g")) {
			join_cgroup(argv[++i]);
		} else if (i + 1 < argc && !strcmp(a, "-d")) {
			dir = argv[++i];
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();
	char **command = argv + i;

	if (setns(INIT_PIDFD, MACHINE_NS) < 0)
		fail(125, "cannot enter the machine's namespaces", NULL);
	if (setns(INIT_PIDFD, CLONE_NEWUSER) < 0)
		fail(125, "cannot enter the machine's user namespace", NULL);
	close(INIT_PIDFD);
	if (setgroups(0, NULL) < 0 && errno != EPERM)  /* (a single-ID lab denies setgroups) */
		fail(125, "setgroups", NULL);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		fail(125, "cannot become the machine's root", NULL);
	if (dir) {
		if (chdir(dir) < 0)
			fail(125, "cannot change directory to", dir);
	} else if (chdir("/root") < 0 && chdir("/") < 0) {
		fail(125, "cannot change directory to", "/");
	}

	pid_t child = fork();
	if (child < 0)
		fail(125, "fork", NULL);
	if (child > 0)
		relay_status(child);

	if (setsid() < 0)
		fail(125, "setsid", NULL);
	if (ctty && ioctl(0, TIOCSCTTY, 0) < 0)
		fail(125, "cannot take the terminal", NULL);
	environ = env;  /* execvpe looks PROGRAM up on this PATH, as env(1) would */
	execvpe(command[0], command, env);
	fail(errno == ENOENT ? 127 : 126, "cannot run", command[0]);
	return 125;
}
