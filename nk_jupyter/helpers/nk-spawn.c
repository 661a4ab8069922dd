/* nk-spawn: start programs for the supervisor from a process with almost no descriptors.
 *
 *     nk-spawn            (descriptor 3: a SOCK_SEQPACKET socket to the supervisor)
 *
 * The supervisor holds a few descriptors per machine (its pidfd, its /dev/pts, its network
 * namespace): thousands in a big lab. A posix_spawn from it copies that table and the exec
 * closes every entry again, about 0.3 ms of CPU per command at 1000 machines. nk-spawn is
 * spawned once, after the supervisor's seccomp filter is in place (so it and all it starts are
 * filtered), and does the spawning: each request is one packet
 *
 *     FLAGS \0 PROGRAM \0 ARGC \0 ARGV[0] \0 ... ARGV[ARGC-1] \0 ENV[0] \0 ... ENV[N-1] \0
 *
 * (FLAGS "s": the program leads a new session; "-": it does not) with the program's stdin,
 * stdout, stderr (and optionally a fourth descriptor) as SCM_RIGHTS; they become its
 * descriptors 0..3 and nothing else is open in it. The program is cloned with CLONE_PARENT:
 * it is the supervisor's own child, which waits for it and gets its exit status as before. Its
 * signal dispositions are the defaults and no signal is blocked. The answer is one packet of
 * two little-endian int32s: the new pid and 0, or the pid (a child that must be reaped, or 0)
 * and the errno of what failed (the exec's, reported through a close-on-exec pipe).
 *
 * FLAGS "e": PROGRAM is nk-enter and ARGV its command line (the fourth descriptor the machine
 * init's pidfd). The child does nk-enter's work itself (enter.h), without the exec of nk-enter:
 * it joins the machine's cgroups, enters its namespaces and then its user namespace, forks the
 * command into the machine's pid namespace and relays its status, from the lab's pid
 * namespace (where no machine sees it), named nk-enter, leading a session of its own as an
 * nk-enter spawned with "s" does. Its failures are nk-enter's exit statuses (125-127).
 *
 * An "e" or "z" child is cloned straight into the first of its cgroups that is a cgroup v2
 * folder (clone3's CLONE_INTO_CGROUP, Linux 5.7+), which it then need not join: moving a
 * running process into a cgroup costs ~0.9 ms here, and after a quiet spell waits for an RCU
 * grace period (~8 ms), while a process born there waits for neither. Where clone3 refuses, the
 * child joins it as before.
 *
 * FLAGS "z": PROGRAM is "nk-init" (a machine's init, init.h: its code is part of this program)
 * and ARGV its plan; the descriptors are /dev/null, the init's socket, the lab folder, the
 * machines' user namespace and nk-reap (the lab's sealed memfd), which become its 0-2, 3, 4, 5
 * and 6. It is cloned into a new mount
 * namespace (a copy of nk-spawn's, the lab's) and a new pid namespace, as its pid 1, leading a
 * new session, named nk-init, and runs init_main() there without an exec. It is nk-spawn's own
 * child (the supervisor watches it by the pidfd sent with the answer, made by the clone itself,
 * so it names this init even if it dies at once), reaped by the kernel when it ends (SIGCHLD is
 * ignored here). A pid is answered once its descriptors are in place. Any other FLAGS, or
 * another PROGRAM with "z", is refused (EINVAL).
 * nk-spawn exits when the supervisor's end closes. It is linked statically.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sched.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "enter.h"
#include "init.h"

#define SOCK 3
#define MAX_REQUEST (128 * 1024)
#define MAX_WORDS 8192
#define MAX_FDS 5
#define INIT_FDS 7  /* an init's: /dev/null on 0-2, its socket, the lab folder, the user namespace, nk-reap */

static char request[MAX_REQUEST + 1];
static size_t request_size;  /* of the request being served: wiped before it is answered */
static char *words[MAX_WORDS + 1];
static char *args[MAX_WORDS + 1];

/* The reply: pid and errno; with_fd (an init's pidfd, "z") travels with it as SCM_RIGHTS. The
 * request's bytes are wiped first: whoever reads the answer finds none of them left here. */
static void answer_fd(int32_t pid, int32_t err, int with_fd)
{
	explicit_bzero(request, request_size);
	request_size = 0;
	int32_t reply[2] = {pid, err};
	struct iovec iov = {reply, sizeof reply};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (with_fd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof control.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &with_fd, sizeof with_fd);
	}
	if (sendmsg(SOCK, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof reply)
		_exit(1);
}

static void answer(int32_t pid, int32_t err)
{
	answer_fd(pid, err, -1);
}

static void close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* The child: descriptors, signals, session, exec. Reports errno on `report` if it cannot. */
_Noreturn static void child(const int *fds, int nfds, int session, int enter_it, int init, char *prog, int argc,
			    char **argv, char **envp, int report)
{
	int err, given = nfds;
	if (init) {  /* null, socket, lab, userns, reap -> 0 1 2, 3, 4, 5, 6: first all above 6, then in place */
		int moved[MAX_FDS];
		for (int i = 0; i < nfds; i++)
			if ((moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, INIT_FDS)) < 0)
				goto failed;
		const int from[INIT_FDS] = {moved[0], moved[0], moved[0], moved[1], moved[2], moved[3], moved[4]};
		for (int i = 0; i < INIT_FDS; i++)
			if (dup2(from[i], i) < 0)
				goto failed;
		given = INIT_FDS;
	} else {
		for (int i = 0; i < nfds; i++) {  /* (received descriptors are all above 3: 0-3 are taken) */
			if (dup2(fds[i], i) < 0)
				goto failed;
		}
	}
	/* everything else closes at the exec: the report pipe stays open until it succeeds */
	if (syscall(SYS_close_range, (unsigned)given, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
		for (int fd = given; fd < 1024; fd++)
			if (fd != report)
				close(fd);
	}
	/* every disposition back to the default, glibc's own 32 and 33 too (signal() refuses them) */
	struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } dfl = {SIG_DFL, 0, NULL, 0};
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (session && setsid() < 0)
		goto failed;
	if (enter_it) {
		close_from(INIT_PIDFD + 1);  /* the report pipe too: the request succeeded; from here on */
		prctl(PR_SET_NAME, "nk-enter", 0, 0, 0);  /* failures are exit statuses, as nk-enter's */
		enter(argc, argv, envp);
	}
	if (init) {
		close_from(INIT_FDS);  /* the report pipe too: the init runs; it reports on its socket */
		prctl(PR_SET_NAME, "nk-init", 0, 0, 0);
		init_main(argc, argv);
	}
	execve(prog, argv, envp);
failed:
	err = errno;
	if (write(report, &err, sizeof err) < 0)
		_exit(127);
	_exit(127);
}

static void handle(ssize_t n, int *fds, int nfds, int truncated);

#define CGROUP2_MAGIC 0x63677270

/* The cgroup v2 folder among a request's cgroups, opened (O_PATH) for CLONE_INTO_CGROUP, with
 * born_in (enter.h) pointing at its word; or -1. Its cgroups are the words after each "-g" of
 * nk-enter's command line ("e", read as enter() reads them), or after each "cgroup" op that
 * follows an init's "name" op ("z": initplan.plan puts them there, before anything forks). */
static int cgroup2_of(int init, int argc, char **argv)
{
	int i = init ? 3 : 1;
	if (init && (argc < 3 || strcmp(argv[1], "name")))
		return -1;
	for (; i + 1 < argc; i++) {
		const char *dir;
		if (init) {
			if (strcmp(argv[i], "cgroup"))
				return -1;
			dir = argv[++i];
		} else {
			if (!strcmp(argv[i], "--"))
				return -1;
			if (!strcmp(argv[i], "-d")) {
				i++;
				continue;
			}
			if (strcmp(argv[i], "-g"))
				continue;
			dir = argv[++i];
		}
		int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct statfs st;
		if (fd >= 0 && fstatfs(fd, &st) == 0 && st.f_type == CGROUP2_MAGIC) {
			born_in = dir;
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	return -1;
}

/* clone3 into a cgroup; -1 with errno when the kernel cannot (then the caller clones as before) */
static pid_t clone_into(unsigned long flags, int cgroup, int *pidfd)
{
	/* (with CLONE_PARENT clone3 takes no exit signal: the child gets ours, SIGCHLD, as clone's does) */
	struct clone_args ca = {.flags = flags | CLONE_INTO_CGROUP, .exit_signal = flags & CLONE_PARENT ? 0 : SIGCHLD,
				.pidfd = (uint64_t)(uintptr_t)pidfd, .cgroup = (uint64_t)cgroup};
	return (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
}

/* One request. Its bytes are wiped as it is answered (answer_fd): a child cloned for a later
 * request carries nk-spawn's memory, and no request's argv or environment may be in it. */
static void serve(void)
{
	struct iovec iov = {request, MAX_REQUEST};
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
	ssize_t n = recvmsg(SOCK, &msg, MSG_CMSG_CLOEXEC);
	if (n == 0)
		_exit(0);  /* the supervisor is gone */
	if (n < 0) {
		if (errno == EINTR)
			return;
		_exit(1);
	}
	int fds[MAX_FDS], nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (nfds < MAX_FDS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	request_size = (size_t)n + 1;  /* (handle() ends the request with a NUL at request[n]) */
	handle(n, fds, nfds, msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
}

static void handle(ssize_t n, int *fds, int nfds, int truncated)
{
	if (truncated || nfds < 3 || n < 2 || request[n - 1] != '\0') {
		close_all(fds, nfds);
		answer(0, EINVAL);
		return;
	}
	request[n] = '\0';
	int count = 0;
	for (char *p = request; p < request + n && count < MAX_WORDS; p += strlen(p) + 1)
		words[count++] = p;
	long argc = count >= 3 ? strtol(words[2], NULL, 10) : -1;
	if (count >= MAX_WORDS || argc < 1 || argc > count - 3) {
		close_all(fds, nfds);
		answer(0, E2BIG);
		return;
	}
	const char *flag = words[0];
	int enter_it = !strcmp(flag, "e"), init = !strcmp(flag, "z");
	int session = !strcmp(flag, "s") || enter_it || init;  /* (nk-enter leads its own, as when exec'd) */
	if ((!session && strcmp(flag, "-")) || (enter_it && nfds != 4) || (init ? nfds != 5 : nfds > 4) || (init && strcmp(words[1], "nk-init"))) {
		close_all(fds, nfds);
		answer(0, EINVAL);
		return;
	}
	char *prog = words[1];
	memcpy(args, &words[3], argc * sizeof *args);
	args[argc] = NULL;
	char **envp = &words[3 + argc];
	words[count] = NULL;  /* ends envp */
	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0) {
		int err = errno;
		close_all(fds, nfds);
		answer(0, err);
		return;
	}
	/* (a raw clone: glibc's cached tid stays nk-spawn's in the child. What runs there, enter.h and
	 * init.h, uses no pthread calls; glibc 2.34+ takes the tid from gettid for raise() and abort(),
	 * fork() sets its child's, and stdio and directory locks key on the thread pointer. nk-spawn
	 * is single-threaded and holds no lock when it clones.) */
	unsigned long flags = init ? CLONE_NEWNS | CLONE_NEWPID | CLONE_PIDFD : CLONE_PARENT;
	int pidfd = -1, cgroup = enter_it || init ? cgroup2_of(init, (int)argc, args) : -1;
	pid_t pid = cgroup >= 0 ? clone_into(flags, cgroup, &pidfd) : -1;
	int saved = errno, unsupported = pid < 0 && (errno == ENOSYS || errno == EINVAL || errno == E2BIG || errno == EPERM);
	if (cgroup >= 0) {
		close(cgroup);
		if (pid < 0)
			born_in = NULL;  /* (clone3 refused: the child joins it by writing cgroup.procs) */
	}
	if (cgroup < 0 || unsupported)  /* (another failure, EAGAIN at the leaf's pids.max, is the answer) */
		pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, &pidfd, NULL, NULL);
	else if (pid < 0)
		errno = saved;
	if (pid == 0)
		child(fds, nfds, session, enter_it, init, prog, (int)argc, args, envp, report[1]);
	int err = pid < 0 ? errno : 0;
	close(report[1]);
	close_all(fds, nfds);
	if (pid > 0) {
		int got;
		ssize_t r;
		do
			r = read(report[0], &got, sizeof got);
		while (r < 0 && errno == EINTR);
		if (r == (ssize_t)sizeof got)
			err = got ? got : EIO;
	}
	close(report[0]);
	born_in = NULL;
	if (init) {  /* (a failed init is reaped by the kernel) */
		answer_fd(pid > 0 && !err ? pid : 0, err, pid > 0 && !err ? pidfd : -1);
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	answer(pid > 0 ? pid : 0, err);
}

int main(void)
{
	for (int fd = 0; fd <= SOCK; fd++)  /* so every descriptor received is above 3 (see child()) */
		if (fcntl(fd, F_GETFD) < 0)
			_exit(1);
	close_from(SOCK + 1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);  /* inits ("z") are our children: the kernel reaps them (child() resets it) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (;;)
		serve();
}
