/* script.h: a startup made only of plain commands, run without its shell (nk-enter -s).
 *
 * `nk-enter -s -- SHELL FILE` (SHELL is bash) runs FILE as bash would, without bash when it
 * can: when every line of FILE is blank, a comment or plain words (no character the shell
 * interprets, the first word no bash keyword or builtin), the process that would have exec'd
 * bash runs the lines itself, one after another, each as a child (in the same session and
 * process group, as bash's children are). Each child gets the command's environment plus what
 * bash exports to a script's commands (PWD, SHLVL=1, and _ naming the program) and is exec'd
 * as bash finds programs (the first executable regular file on PATH). A line whose program
 * cannot be exec'd (missing, not executable, a bad #! line, none) is handed to `SHELL -c LINE`
 * with FILE as its $0 and its line number kept, so its message (the machine's
 * command_not_found_handle included) and status are bash's own. As a non-interactive bash, it
 * leaves SIGINT and SIGQUIT to the command (and dies of SIGINT after a command that did), says
 * which command a signal killed in bash's words, and stops at a failed fork. The status is the
 * last line's, as bash's. Anything else execs SHELL FILE: FILE not a regular file, larger than
 * MAX_SCRIPT or changing while read (it is read whole, once), a line that is not plain, or an
 * environment that changes how bash runs a file (bash_matters: ENV, SHELLOPTS, an exported
 * function, an inherited PWD or SHLVL, a BASH_ENV other than nk's...).
 *
 * FILE is read inside the machine, as its root, after entering it: what runs is what the
 * machine sees in /hostlab, as with bash. A startup of plain commands is most of Netkit's and
 * Kathara's labs' (ip, ifconfig, route, /etc/init.d/x start); bash's own start-up in each machine
 * was ~2-3 ms of CPU (a dynamic program's loading, its environment file).
 */
#ifndef NK_HELPERS_SCRIPT_H
#define NK_HELPERS_SCRIPT_H
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SCRIPT (64 * 1024)
#define MAX_LINES 1024
#define MAX_LINE_WORDS 256
#define NK_BASH_ENV "/run/nk/share/bashenv"

/* bash's keywords and builtins (`compgen -k`, `enable -a`): a line starting with one needs bash */
static const char *const SHELL_ONLY[] = {
	"if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do", "done",
	"in", "function", "time", "{", "}", "!", "[[", "]]", "coproc",
	".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen",
	"complete", "compopt", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec",
	"exit", "export", "false", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let",
	"local", "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly",
	"return", "set", "shift", "shopt", "source", "suspend", "test", "times", "trap", "true", "type",
	"typeset", "ulimit", "umask", "unalias", "unset", "wait", NULL};

static char script_text[MAX_SCRIPT + 1];

struct script_line {
	int number;          /* 1-based, in FILE */
	char *text;          /* the line as written (for SHELL -c) */
	char *words[MAX_LINE_WORDS + 1];
};

static struct script_line script_lines[MAX_LINES];

/* A byte the shell would interpret (quotes, expansions, operators, globs, comments, escapes),
 * or a control character: such a line is not plain. Tabs and spaces separate words. An `=` is
 * only the shell's in the first word (an assignment: `A=1 cmd`); `sysctl -w a.b=1` is plain. */
static int shell_byte(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f || strchr("|&;<>()$`\\\"'*?[]#~{}!^", c) != NULL;
}

/* Split FILE's text into plain lines; 0 when one is not plain (then bash runs FILE). */
static int plain_script(char *text, int *count)
{
	int n = 0, number = 0;
	for (char *line = text; line && *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		number++;
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != '#') {  /* (blank lines and comment lines are skipped, as bash does) */
			if (n == MAX_LINES)
				return 0;
			struct script_line *sl = &script_lines[n];
			sl->number = number;
			size_t len = strlen(p);
			sl->text = malloc(len + 1);
			if (!sl->text)
				return 0;
			memcpy(sl->text, p, len + 1);
			for (char *q = p; *q; q++)
				if (shell_byte((unsigned char)*q))
					return 0;
			int w = 0;
			for (char *tok = strtok(p, " \t"); tok; tok = strtok(NULL, " \t")) {
				if (w == MAX_LINE_WORDS)
					return 0;
				sl->words[w++] = tok;
			}
			sl->words[w] = NULL;
			if (strchr(sl->words[0], '='))
				return 0;
			for (const char *const *k = SHELL_ONLY; *k; k++)
				if (!strcmp(sl->words[0], *k))
					return 0;
			n++;
		}
		line = end ? end + 1 : NULL;
	}
	*count = n;
	return 1;
}

/* Variables that change how bash runs a file (a startup file, options, a function standing in
 * for a program, where it starts): with any of them, bash runs it. nk's own BASH_ENV (it only
 * names a missing program's package) is read by the `bash -c` that reports a missing program. */
static int bash_matters(char **env)
{
	static const char *const names[] = {"ENV=", "SHELLOPTS=", "BASHOPTS=", "POSIXLY_CORRECT=", "EXECIGNORE=",
					    "PS4=", "PWD=", "OLDPWD=", "SHLVL=", "BASH_FUNC_", "_=", NULL};
	for (size_t i = 0; env[i]; i++) {
		for (const char *const *k = names; *k; k++)
			if (!strncmp(env[i], *k, strlen(*k)))
				return 1;
		if (!strncmp(env[i], "BASH_ENV=", 9) && strcmp(env[i] + 9, NK_BASH_ENV))
			return 1;
		if (!strncmp(env[i], "PATH=", 5) && (env[i][5] == '~' || strstr(env[i], ":~")))
			return 1;
	}
	return 0;
}

/* env, then what bash exports to a script's commands: PWD and SHLVL=1 (bash_matters: neither
 * was inherited), and _ (added by run_line, once it knows the program's path) */
static char **script_env(char **env, const char *cwd)
{
	size_t n = 0;
	while (env[n])
		n++;
	char **out = calloc(n + 3, sizeof *out);
	char *pwd = malloc(strlen(cwd) + 5);
	if (!out || !pwd)
		return NULL;
	memcpy(out, env, n * sizeof *out);
	sprintf(pwd, "PWD=%s", cwd);
	out[n] = pwd;
	out[n + 1] = "SHLVL=1";
	return out;
}

static const char *env_value(char **env, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; env[i]; i++)
		if (!strncmp(env[i], name, len) && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

/* A regular file root may execute (any x bit), as bash's PATH search takes */
static int executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* The child for one line: exec its program as bash finds it (the first executable regular file
 * on PATH; an empty entry is ./), with _ naming it; if there is none, or its exec fails (a bad
 * #! line, no #! at all, ETXTBSY...), hand the line to the shell: its message, its status. */
_Noreturn static void run_line(const struct script_line *sl, char **env, const char *shell, const char *file)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	size_t n = 0;
	while (env[n])
		n++;
	char **full = calloc(n + 2, sizeof *full);
	const char *cmd = sl->words[0];
	char path[4096];
	int found = 0;
	if (full) {
		memcpy(full, env, n * sizeof *full);
		if (strchr(cmd, '/')) {
			found = snprintf(path, sizeof path, "_=%s", cmd) < (int)sizeof path;
		} else {
			for (const char *d = env_value(env, "PATH"); d && !found;) {
				const char *colon = strchr(d, ':');
				size_t len = colon ? (size_t)(colon - d) : strlen(d);
				int w = snprintf(path, sizeof path, "_=%.*s/%s", len ? (int)len : 1, len ? d : ".", cmd);
				found = w > 0 && w < (int)sizeof path && executable(path + 2);
				d = colon ? colon + 1 : NULL;
			}
		}
		if (found) {
			full[n] = path;
			execve(path + 2, sl->words, full);
		}
	}
	/* SHELL -c with FILE as $0 and the line at its line number: bash's message, bash's status */
	size_t len = strlen(sl->text);
	char *text = malloc((size_t)sl->number + len);
	if (text) {
		memset(text, '\n', (size_t)sl->number - 1);
		memcpy(text + sl->number - 1, sl->text, len + 1);
		char *argv[] = {(char *)shell, "-c", text, (char *)file, NULL};
		execve(shell, argv, env);
	}
	fail(127, "cannot run", cmd);
}

/* In the process that would exec SHELL FILE: run FILE's plain lines and exit with the last
 * one's status; return (to exec SHELL FILE) when FILE is not all plain. */
static void run_plain_script(const char *shell, const char *file, char **env)
{
	struct stat st, fst;
	if (strcmp(shell, "/bin/bash") || bash_matters(env))
		return;
	if (stat(file, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_SCRIPT)
		return;  /* (a FIFO or a device is not even opened: bash opens it) */
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	size_t got = 0;
	ssize_t r = 0;
	if (fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode) && fst.st_ino == st.st_ino && fst.st_dev == st.st_dev)
		while (got <= MAX_SCRIPT && (r = read(fd, script_text + got, MAX_SCRIPT + 1 - got)) > 0)
			got += (size_t)r;
	else
		r = -1;
	close(fd);
	/* (read whole, once: a startup that rewrites itself while it runs is bash's to run) */
	if (r < 0 || got > MAX_SCRIPT || (off_t)got != fst.st_size || memchr(script_text, '\0', got))
		return;
	script_text[got] = '\0';
	int count = 0;
	if (!plain_script(script_text, &count))
		return;
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return;
	char **cenv = script_env(env, cwd);
	if (!cenv)
		return;
	/* as a non-interactive bash: an interrupt or quit sent to the process group is the
	 * command's; if it dies of SIGINT, so do we, after it (bash's "wait and cooperative exit") */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	int status = 0;
	for (int i = 0; i < count; i++) {
		const struct script_line *sl = &script_lines[i];
		pid_t pid = fork();
		if (pid < 0) {  /* (bash gives up on the script too) */
			dprintf(2, "%s: line %d: fork: %s\n", file, sl->number, strerror(errno));
			_exit(254);
		}
		if (pid == 0)
			run_line(sl, cenv, shell, file);
		int ws;
		while (waitpid(pid, &ws, 0) < 0)
			if (errno != EINTR)
				fail(125, "cannot wait for the command", NULL);
		if (WIFEXITED(ws)) {
			status = WEXITSTATUS(ws);
			continue;
		}
		int sig = WTERMSIG(ws);
		status = 128 + sig;
		if (sig == SIGINT) {
			signal(SIGINT, SIG_DFL);
			kill(getpid(), SIGINT);
			_exit(status);
		}
		if (sig != SIGPIPE) {  /* bash's words for it: FILE: line N: PID Killed   COMMAND */
			char what[128];
			snprintf(what, sizeof what, "%s%s", strsignal(sig), WCOREDUMP(ws) ? " (core dumped)" : "");
			dprintf(2, "%s: line %d: %ld %-24s%s\n", file, sl->number, (long)pid, what, sl->text);
		}
	}
	_exit(status);
}
#endif
