/* script.h: a startup made only of plain commands, run without its shell (nk-enter -s).
 *
 * `nk-enter -s -- SHELL FILE` (SHELL is bash) runs FILE as bash would, without bash when it
 * can: when every line of FILE is blank, a comment or plain words (no character the shell
 * interprets, the first word no bash keyword or builtin), the process that would have exec'd
 * bash runs the lines itself, one after another, each as a child (in the same session and
 * process group, as bash's children are). Each child gets the command's environment plus what
 * bash exports to a script's commands (PWD, SHLVL, and _ naming the program) and is exec'd as
 * bash finds programs (PATH, skipping what is not executable). A line whose program cannot be
 * exec'd (missing, not executable, a script without #!) is handed to `SHELL -c LINE` with FILE
 * as its $0 and its line number kept, so its message (the machine's command_not_found_handle
 * included) and status are bash's own. The status is the last line's, as bash's. Anything else
 * (FILE not a regular file, larger than MAX_SCRIPT, a line that is not plain) execs SHELL FILE.
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
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SCRIPT (64 * 1024)
#define MAX_LINES 1024
#define MAX_LINE_WORDS 256

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

/* env without PWD, SHLVL and _, then those three as bash exports them to a script's commands */
static char **script_env(char **env, const char *cwd)
{
	size_t n = 0;
	while (env[n])
		n++;
	char **out = calloc(n + 3, sizeof *out);
	if (!out)
		return NULL;
	long level = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strncmp(env[i], "SHLVL=", 6)) {
			level = strtol(env[i] + 6, NULL, 10);
			continue;
		}
		if (!strncmp(env[i], "PWD=", 4) || !strncmp(env[i], "_=", 2))
			continue;
		out[k++] = env[i];
	}
	char *pwd = malloc(strlen(cwd) + 5), *lvl = malloc(32);
	if (!pwd || !lvl)
		return NULL;
	sprintf(pwd, "PWD=%s", cwd);
	snprintf(lvl, 32, "SHLVL=%ld", level < 0 ? 0 : level + 1);
	out[k++] = pwd;
	out[k++] = lvl;
	out[k] = NULL;  /* (_ is added by run_line, once it knows the program's path) */
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

/* The child for one line: exec its program as bash finds it, with _ naming it; if it cannot be
 * exec'd, hand the line to the shell (its message, its status). Never returns. */
_Noreturn static void run_line(const struct script_line *sl, char **env, const char *shell, const char *file)
{
	size_t n = 0;
	while (env[n])
		n++;
	char **full = calloc(n + 2, sizeof *full);
	const char *cmd = sl->words[0];
	char path[4096];
	if (full) {
		memcpy(full, env, n * sizeof *full);
		if (strchr(cmd, '/')) {
			if (snprintf(path, sizeof path, "_=%s", cmd) < (int)sizeof path) {
				full[n] = path;
				execve(cmd, sl->words, full);
			}
		} else {
			const char *dirs = env_value(env, "PATH");
			for (const char *d = dirs; d;) {
				const char *colon = strchr(d, ':');
				size_t len = colon ? (size_t)(colon - d) : strlen(d);
				int w = len ? snprintf(path, sizeof path, "_=%.*s/%s", (int)len, d, cmd)
					    : snprintf(path, sizeof path, "_=%s", cmd);  /* (an empty entry: here) */
				if (w > 0 && w < (int)sizeof path) {
					full[n] = path;
					execve(path + 2, sl->words, full);
					if (errno == ENOEXEC)
						break;  /* found, but a script without #!: bash runs it */
				}
				d = colon ? colon + 1 : NULL;
			}
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
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	ssize_t got = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= MAX_SCRIPT)
		got = read(fd, script_text, MAX_SCRIPT + 1);
	close(fd);
	int count = 0;
	if (got < 0 || got > MAX_SCRIPT || memchr(script_text, '\0', (size_t)got))
		return;
	script_text[got] = '\0';
	if (!plain_script(script_text, &count))
		return;
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return;
	char **cenv = script_env(env, cwd);
	if (!cenv)
		return;
	int status = 0;
	for (int i = 0; i < count; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			dprintf(2, "%s: line %d: fork: %s\n", file, script_lines[i].number, strerror(errno));
			status = 254;
			continue;
		}
		if (pid == 0)
			run_line(&script_lines[i], cenv, shell, file);
		int ws;
		while (waitpid(pid, &ws, 0) < 0)
			if (errno != EINTR)
				fail(125, "cannot wait for the command", NULL);
		status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	}
	_exit(status);
}
#endif
