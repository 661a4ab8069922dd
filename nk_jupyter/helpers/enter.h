/* enter.h: entering a namespace machine, nk-enter's work (nk-enter.c has the whole story).
 *
 * nk-enter runs it after its exec; nk-spawn runs it in the child it clones for a request with
 * flag "e", which saves the exec of nk-enter. Either way the process stays in the lab's pid
 * namespace, forks the command into the machine's and relays its status.
 */
#ifndef NK_HELPERS_ENTER_H
#define NK_HELPERS_ENTER_H
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define INIT_PIDFD 3

_Noreturn static void fail(int status, const char *what, const char *name);
#include "script.h"
#define MACHINE_NS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)

extern char **environ;

_Noreturn static void fail(int status, const char *what, const char *name)
{
	int err = errno;
	if (name)
		dprintf(2, "nk-enter: %s %s: %s\n", what, name, strerror(err));
	else
		dprintf(2, "nk-enter: %s: %s\n", what, strerror(err));
	_exit(status);
}

_Noreturn static void usage(void)
{
	dprintf(2, "usage: nk:NAME=VALUE... nk-enter [-g CGROUP_DIR]... [-d DIR] [-t] [-s] -- PROGRAM [ARG]...\n");
	_exit(125);
}

/* The cgroup v2 folder nk-spawn cloned this process into (CLONE_INTO_CGROUP), or NULL: it is
 * already there (an "e" relay's, or an init's: init.h). Joining by writing cgroup.procs moves a
 * running process, ~0.9 ms here, and the kernel's first move after a quiet spell waits for an
 * RCU grace period (cgroup_threadgroup_rwsem's writer): ~8-25 ms on a loaded 2-core VM, for
 * every command typed now and then. */
static const char *born_in;

static void join_cgroup(const char *dir)
{
	if (dir == born_in)
		return;
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

/* Waits for the command's end, whatever it does meanwhile: a command that stops (SIGSTOP,
 * SIGTSTP) only waits to be continued, and this process never stops with it. Its parent, the
 * supervisor, does no job control: a relay that stopped would never be continued, would keep
 * the client waiting and the machine's cgroup busy after the machine is gone. It ends when the
 * command ends, and the command ends when its machine does (it is in the machine's pid
 * namespace). */
_Noreturn static void relay_status(pid_t child)
{
	int status;
	for (;;) {
		pid_t got = waitpid(child, &status, 0);
		if (got == child)
			break;
		if (got < 0 && errno != EINTR)
			fail(125, "cannot wait for the command", NULL);
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

/* argv: nk-enter's own ([-g DIR]... [-d DIR] [-t] -- PROGRAM ARG...); envp: the entries named
 * nk:NAME=VALUE become the command's environment, nothing else does. The machine's init is a
 * pidfd on INIT_PIDFD and nothing above it is open. */
_Noreturn static void enter(int argc, char **argv, char **envp)
{
	const char *dir = NULL;
	int ctty = 0, script = 0;
	size_t n = 0;
	while (envp[n])
		n++;
	char **env = calloc(n + 1, sizeof *env);
	if (!env)
		fail(125, "out of memory", NULL);
	for (size_t i = 0, k = 0; i < n; i++)
		if (!strncmp(envp[i], "nk:", 3) && envp[i][3] && envp[i][3] != '=')
			env[k++] = envp[i] + 3;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-t")) {
			ctty = 1;
		} else if (!strcmp(a, "-s")) {
			script = 1;
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
	/* not dumpable until the command's exec, whatever the host's fs.suid_dumpable says: nothing
	 * of the machine may trace this process or the child it forks there */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(125, "prctl", NULL);
	if (dir) {
		if (chdir(dir) < 0)
			fail(125, "cannot change directory to", dir);
	} else if (chdir("/root") < 0 && chdir("/") < 0) {
		fail(125, "cannot change directory to", "/");
	}

	pid_t child = fork();
	if (child < 0)
		fail(125, "fork", NULL);
	if (child > 0) {
		struct rlimit none = {0, 0};  /* the status it relays may be a fatal signal: no core */
		setrlimit(RLIMIT_CORE, &none);
		relay_status(child);
	}

	if (setsid() < 0)
		fail(125, "setsid", NULL);
	if (ctty && ioctl(0, TIOCSCTTY, 0) < 0)
		fail(125, "cannot take the terminal", NULL);
	environ = env;  /* execvpe looks PROGRAM up on this PATH, as env(1) would */
	if (script && !ctty && command[1] && !command[2])
		run_plain_script(command[0], command[1], env);  /* (returns when bash must run it) */
	execvpe(command[0], command, env);
	fail(errno == ENOENT ? 127 : 126, "cannot run", command[0]);
}
#endif
