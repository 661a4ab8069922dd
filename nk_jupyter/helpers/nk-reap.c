/* nk-reap: a namespace machine's pid 1 once its init (init.h) has built the machine.
 *
 * The init execs it as machine root, from the lab's sealed memfd copy (zygote.py, sealed_copy:
 * /proc/1/exe names no file of the host's), with no argument, no
 * environment and only /dev/null open: the exec leaves nothing of the init (nor of the
 * nk-spawn it is a clone of) in the machine's pid 1, which machine root may ptrace. It only reaps: the kernel reaps the orphans that come to it (SIGCHLD ignored),
 * SIGTERM ends it (and so the machine), every other signal is taken and dropped. It reads
 * nothing and writes nothing.
 *
 * setup.py builds it with musl (musl-gcc, when installed) rather than the GNU C library, whose
 * start-up asks the processor its features and caches one by one: under a hypervisor each
 * such question is a trap, ~0.4 ms per program start on nk's CI machine (bench/README.md,
 * seventh pass), paid by every machine of every lab. Its private memory is a few pages.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	prctl(PR_SET_NAME, "nk-reap", 0, 0, 0);  /* (run from a memfd, it would be "memfd:nk-reap") */
	struct sigaction ignore = {.sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT};
	sigaction(SIGCHLD, &ignore, NULL);  /* orphans that end are reaped by the kernel */
	sigset_t taken;
	sigfillset(&taken);
	sigdelset(&taken, SIGCHLD);
	sigprocmask(SIG_SETMASK, &taken, NULL);  /* every other signal waits here for sigwaitinfo */
	while (waitpid(-1, NULL, WNOHANG) > 0)  /* any that ended before */
		;
	for (;;)
		if (sigwaitinfo(&taken, NULL) == SIGTERM)
			_exit(0);
}
