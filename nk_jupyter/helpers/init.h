/* A namespace machine's init ("nk-init"), until it execs nk-reap (helpers/nk-reap.c: its pid 1 from then on).
 *
 * The zygote (an nk-spawn, flag "z": backends/namespaces/zygote.py) clones it as pid 1 of the
 * machine's new pid namespace, in a new mount namespace of the lab's user namespace U, and runs
 * init_main() in that clone, without an exec: a clone of the small static nk-spawn costs less
 * than starting a program (bench/README.md, seventh pass). Its descriptors are /dev/null on 0,
 * 1, 2, its socket to the supervisor on 3, the lab folder (O_PATH, opened by the supervisor) on
 * 4, the machines' user namespace U2 on 5 and nk-reap (a sealed memfd, the lab's one copy) on 6;
 * nothing else is open. Its argv is a plan: ops,
 * each a word and its arguments, made by backends/namespaces/initplan.py from the machine's
 * layout (all decisions are there; this file only carries them out, in order).
 * backends/namespaces/initplan.py also documents the machine's namespaces and why they nest as
 * they do.
 *
 * Its life, on the socket (frames: a uint32 little-endian length, then the body):
 *   1. the ops up to "sendns": join the machine's cgroups, have a helper child make the
 *      machine's user namespace Um (owned by a uid of its own, under the machine's NPROC
 *      budget) with its net/uts/ipc/cgroup namespaces, join those, set the hostname and the
 *      default sysctls; those that take RTNL are opened and handed over      -> {"stage":"ns"}
 *      + the netns and those descriptors (the supervisor writes them and plugs the veths);
 *   2. the ops up to "rooted": build the root, pivot into it, write Um's ID map from U2, move
 *      into Um and a locked copy of the mount namespace                 -> {"stage":"rooted"}
 *      + an O_PATH descriptor of the machine's /dev/pts (terminals are opened through it);
 *   3. read the orders (a frame of NUL-terminated words) and carry them out as machine root:
 *      links up, the lab's sysctls, /bin/sh, /etc/hosts and /etc/hostname on a first boot,
 *      resolv.conf, then shared/ and MACHINE/ copied over / (Netkit's first boot, as
 *      tar -xp --no-same-owner --keep-directory-symlink would)              -> {"stage":"ready"}
 *   4. exec nk-reap from descriptor 6; the socket closes with it.
 *      The exec is what leaves nothing of nk-spawn's memory (the plan) in the machine's pid 1.
 * It is not dumpable until that exec: nothing can ptrace it or open its /proc/PID/fd. Lab files
 * are read only as machine root, inside the machine. Any failure is reported as
 * {"error": "..."} and the init exits. It runs only this file's code and the static C
 * library's, never the dynamic loader: it runs on any root.
 */
#ifndef NK_HELPERS_INIT_H
#define NK_HELPERS_INIT_H
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>  /* (before linux/mount.h: older C libraries clash the other way round) */
#include <linux/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define INIT_SOCK 3
#define LABFD 4
#define USERNSFD 5
#define REAPFD 6  /* nk-reap, in the lab's sealed memfd (zygote.py): what this init execs at the end */
#define UM_NS (CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)
#define MAX_HANDED 8
#define MAX_ENTRIES 100000
#define MAX_BYTES (512L << 20)
#define MAX_FRAME (1 << 20)
#define ENABLED "/var/lib/nk/enabled-units"

static struct timespec t0, c0;
static pid_t helper = -1;            /* the child that made Um */
static int helper_pidfd = -1, helper_release = -1;
static int handed[MAX_HANDED], nhanded;
static const char *handed_kv[MAX_HANDED][2];
static const char *name = "";

/* -- output: frames of JSON --------------------------------------------------------------- */
struct buf {
	char *data;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 1024) + n;
		char *d = realloc(b->data, cap);
		if (!d)
			_exit(1);
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* The length of the well-formed UTF-8 sequence at p (2 to 4 bytes), or 0. */
static size_t utf8_length(const unsigned char *p)
{
	size_t n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (!n || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
	    (n == 4 && p[0] == 0xf0 && p[1] < 0x90) || (n == 4 && p[0] == 0xf4 && p[1] >= 0x90))
		return 0;  /* overlong, surrogate, beyond U+10FFFF */
	return n;
}

static void put_json(struct buf *b, const char *s)
{
	put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(b, esc, 2);
		} else if (*p >= 0x80 && utf8_length(p)) {  /* a file's name in UTF-8 passes as it is */
			size_t n = utf8_length(p);
			put(b, (const char *)p, n);
			p += n - 1;
		} else if (*p < 0x20 || *p >= 0x7f) {  /* (other bytes arrive as latin-1) */
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			put(b, esc, 6);
		} else {
			put(b, (const char *)p, 1);
		}
	}
	put(b, "\"", 1);
}

static void send_frame(struct buf *body, const int *fds, int nfds)
{
	uint32_t len = (uint32_t)body->len;
	struct iovec iov[2] = {{&len, 4}, {body->data, body->len}};
	char control[CMSG_SPACE(sizeof(int) * (MAX_HANDED + 2))];
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	if (nfds > 0) {
		memset(control, 0, sizeof control);
		msg.msg_control = control;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	ssize_t n;
	do
		n = sendmsg(INIT_SOCK, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(4 + body->len))  /* (a unix stream socket takes a small frame whole) */
		_exit(1);
}

_Noreturn static void die(const char *fmt, ...)
{
	char text[8192];
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	size_t used = strlen(text);
	snprintf(text + used, sizeof text - used, ": %s", strerror(err));
	struct buf b = {0};
	puts_(&b, "{\"error\":");
	put_json(&b, text);
	puts_(&b, "}");
	send_frame(&b, NULL, 0);
	_exit(1);
}

static double since(clockid_t clock, const struct timespec *from)
{
	struct timespec now;
	clock_gettime(clock, &now);
	return (double)(now.tv_sec - from->tv_sec) + (double)(now.tv_nsec - from->tv_nsec) / 1e9;
}

/* -- small file operations ------------------------------------------------------------------ */
/* Write text to fd (opened or -1) and close it: 0, or -1 with errno. */
static int write_closing(int fd, const char *text)
{
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
	if (write_closing(open(path, O_WRONLY | O_CLOEXEC), text) < 0)
		die("write %s", path);
}

/* The machine's /proc, made at "proc" (before any sysctl) as a mount of its pid namespace's proc
 * not attached anywhere yet ("procmount" attaches it to the root being built). Sysctls are
 * opened through it, never through the lab's /proc: there, every machine's netns adds its own
 * dentry for "net" (and below) under the one /proc/sys, all in one hash chain, so each lookup
 * compared a thousand names at a thousand machines. */
static int proc_mnt = -1, proc_sys = -1;

static void make_proc(unsigned int attrs)
{
	int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		die("fsopen proc");
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		die("make the machine's proc");
	proc_mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
	if (proc_mnt < 0)
		die("fsmount the machine's proc");
	close(fs);
	proc_sys = openat(proc_mnt, "sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_sys < 0)
		die("open the machine's /proc/sys");
}

static void attach_proc(const char *dst)
{
	if (proc_mnt < 0) {
		errno = EINVAL;
		die("the plan attaches a /proc it did not make");
	}
	if (syscall(SYS_move_mount, proc_mnt, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		die("move_mount the machine's proc on %s", dst);
}

#define SYSCTL_DIRS 4
static struct {
	char prefix[64];
	int fd;
} sysctl_dirs[SYSCTL_DIRS];
static int n_sysctl_dirs;

/* A sysctl of this netns, opened for writing ("net.ipv4.ip_forward": sys/net/ipv4/ip_forward of
 * the machine's proc). The folders of the last few are kept open (their lookups are the cost). */
static int open_sysctl(const char *key)
{
	char path[512];
	if (proc_sys < 0) {
		errno = EINVAL;
		die("the plan writes a sysctl before it made the machine's proc");
	}
	if (snprintf(path, sizeof path, "%s", key) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = path; *p; p++)
		if (*p == '.')
			*p = '/';
	if (strstr(path, "//") || path[0] == '/' || path[strlen(path) - 1] == '/') {  /* (no "..", no empty name) */
		errno = EINVAL;
		return -1;
	}
	char *rest = strchr(path, '/');  /* after "net/ipv4" */
	rest = rest ? strchr(rest + 1, '/') : NULL;
	size_t len = rest ? (size_t)(rest - path) : 0;
	if (!rest || len >= sizeof sysctl_dirs[0].prefix)
		return openat(proc_sys, path, O_WRONLY | O_CLOEXEC);
	for (int k = 0; k < n_sysctl_dirs; k++)
		if (strlen(sysctl_dirs[k].prefix) == len && !memcmp(sysctl_dirs[k].prefix, path, len))
			return openat(sysctl_dirs[k].fd, rest + 1, O_WRONLY | O_CLOEXEC);
	if (n_sysctl_dirs == SYSCTL_DIRS)
		return openat(proc_sys, path, O_WRONLY | O_CLOEXEC);
	*rest = '\0';
	int dir = openat(proc_sys, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		*rest = '/';
		return openat(proc_sys, path, O_WRONLY | O_CLOEXEC);  /* (its own error) */
	}
	memcpy(sysctl_dirs[n_sysctl_dirs].prefix, path, len + 1);
	sysctl_dirs[n_sysctl_dirs++].fd = dir;
	*rest = '/';
	return openat(dir, rest + 1, O_WRONLY | O_CLOEXEC);
}

static int write_sysctl(const char *key, const char *value)
{
	return write_closing(open_sysctl(key), value);
}

static unsigned long number(const char *text, int base)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(text, &end, base);
	if (errno || end == text || *end) {
		errno = EINVAL;
		die("bad number %s in the plan", text);
	}
	return n;
}

/* mkdir -p: the folder, with `mode`, and any missing parent (0777, less the umask). It starts at
 * the folder itself and goes up only while a parent is missing: a folder whose parent exists
 * (nearly every one of a machine's plan) costs one mkdir, not one per component of its path,
 * each a walk from / (a machine's disk is 8-10 components deep). */
static int try_mkdirs(const char *path, mode_t mode)
{
	char p[4096];
	if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = 0;
	char *cut[128];  /* the slashes cut while going up, put back on the way down */
	int depth = 0, made;
	for (;;) {
		made = mkdir(p, depth ? 0777 : mode) == 0;
		if (made || errno == EEXIST)
			break;
		char *slash = strrchr(p, '/');
		if (errno != ENOENT || !slash || slash == p || depth == (int)(sizeof cut / sizeof *cut))
			return -1;
		*slash = 0;
		cut[depth++] = slash;
	}
	while (depth > 0) {
		*cut[--depth] = '/';
		made = mkdir(p, depth ? 0777 : mode) == 0;
		if (!made && errno != EEXIST)
			return -1;
	}
	struct stat st;
	if (made)
		return 0;
	if (stat(p, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	return 0;
}

static void mkdirs(const char *path, mode_t mode)
{
	if (try_mkdirs(path, mode) < 0)
		die("mkdir %s", path);
}

static int remove_tree(const char *path)
{
	/* what the machine left where nk puts a symlink: GNU rm removes any depth, never follows a
	 * symlink and (--one-file-system) never leaves the machine's disk */
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *argv[] = {"rm", "-rf", "--one-file-system", "--", (char *)path, NULL}, *env[] = {NULL};
		execve("/usr/bin/rm", argv, env);
		execve("/bin/rm", argv, env);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	struct stat st;
	if (lstat(path, &st) == 0) {
		errno = ENOTEMPTY;
		return -1;
	}
	return 0;
}

/* "clear PATH KIND": make PATH an empty folder to mount on (KIND dir), or nothing (KIND link),
 * whatever the machine left there (a symlink is removed, never followed). */
static void clear(const char *path, const char *kind)
{
	int link = !strcmp(kind, "link");
	struct stat st;
	int exists = lstat(path, &st) == 0;
	if (exists && (link || !S_ISDIR(st.st_mode))) {
		if ((S_ISDIR(st.st_mode) ? remove_tree(path) : unlink(path)) < 0)
			die("cannot clear %s", path);
		exists = 0;
	}
	if (!exists && !link && mkdir(path, 0777) < 0)
		die("mkdir %s", path);
}

static void do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data) < 0)
		die("mount %s on %s", src ? src : type, dst);
}

static void bind_ro(const char *src, const char *dst)
{
	do_mount(src, dst, NULL, MS_BIND, NULL);
	do_mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
}

static int subdir(int dirfd, const char *rel)
{
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
	if (fd < 0 && errno == ENOSYS)  /* (one component: O_NOFOLLOW says the same) */
		fd = openat(dirfd, rel, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT && errno != ENOTDIR && errno != ELOOP && errno != EXDEV)
		die("open %s in the lab folder", rel);
	return fd;
}

static void path_of(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		die("a path of %s", fmt);
	}
}

/* "lab LABDIR ROOT": /hostlab and /shared bound by descriptor: the lab folder opened again here
 * (a bind needs a descriptor of this mount namespace) must be the very folder the supervisor
 * opened; shared must be a real folder beneath it at this instant. A repository's folder is
 * made read-only (its hooks and config would run as the user later): a detached read-only copy
 * of the very folder found beneath the lab folder, attached by descriptor on that same folder
 * seen through /hostlab, so a running machine swapping it for a symlink meanwhile cannot send
 * the mount anywhere else (this machine then fails to boot). */
static void mount_lab(const char *labdir, const char *root)
{
	int here = open(labdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (here < 0)
		die("open %s", labdir);
	struct stat a, b;
	if (fstat(here, &a) < 0 || fstat(LABFD, &b) < 0)
		die("fstat %s", labdir);
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		errno = ESTALE;
		die("the lab folder %s was replaced while the lab runs", labdir);
	}
	char src[64], dst[4096];
	path_of(src, sizeof src, "/proc/self/fd/%d", here);
	path_of(dst, sizeof dst, "%s/hostlab", root);
	do_mount(src, dst, NULL, MS_BIND, NULL);
	int hostlab = open(dst, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (hostlab < 0)
		die("open %s", dst);
	static const char *vcs[] = {".git", ".hg", ".svn"};
	for (size_t i = 0; i < sizeof vcs / sizeof *vcs; i++) {
		int repo = subdir(here, vcs[i]);
		if (repo < 0)
			continue;
		int tree = (int)syscall(SYS_open_tree, repo, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (tree < 0)
			die("open_tree %s", vcs[i]);
		struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
		if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0)
			die("mount_setattr %s", vcs[i]);
		int at = subdir(hostlab, vcs[i]);
		struct stat r, t;
		if (at < 0 || fstat(repo, &r) < 0 || fstat(at, &t) < 0 || r.st_dev != t.st_dev || r.st_ino != t.st_ino) {
			errno = ESTALE;
			die("the lab folder's %s changed while the machine booted", vcs[i]);
		}
		if (syscall(SYS_move_mount, tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			die("move_mount %s", vcs[i]);
		close(at);
		close(tree);
		close(repo);
	}
	close(hostlab);
	int shared = subdir(here, "shared");
	if (shared >= 0) {
		path_of(src, sizeof src, "/proc/self/fd/%d", shared);
		path_of(dst, sizeof dst, "%s/shared", root);
		do_mount(src, dst, NULL, MS_BIND, NULL);
		close(shared);
	}
	close(here);
}

/* Make root the new / and drop every view of the host (the old root is stacked on the new one
 * by pivot_root(".", ".") and detached from there: no folder of the machine's is needed). */
static void pivot(const char *root)
{
	if (chdir(root) < 0)
		die("chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root %s", root);
	if (umount2(".", MNT_DETACH) < 0)
		die("umount the old root");
	if (chdir("/") < 0)
		die("chdir /");
}

/* -- the machine's user namespace ------------------------------------------------------------ */
/* "userns UID NPROC": a child (of this small process: nothing much to copy) joins U2, becomes
 * UID under an NPROC limit, and unshares Um with the machine's net/uts/ipc/cgroup namespaces;
 * it waits until released (its ID map is written after the root is built). */
static void make_userns(uid_t uid, rlim_t nproc)
{
	int status[2], release[2];
	if (pipe2(status, O_CLOEXEC) < 0 || pipe2(release, O_CLOEXEC) < 0)
		die("pipe");
	helper = fork();
	if (helper < 0)
		die("fork");
	if (helper == 0) {  /* (made dumpable in Um, it keeps of ours only USERNSFD, to join, and its pipes) */
		close(INIT_SOCK);
		close(LABFD);
		close(REAPFD);
		close(status[0]);
		close(release[1]);
		own_new_namespaces(USERNSFD, uid, nproc, CLONE_NEWUSER | UM_NS, status[1], release[0]);
	}
	close(status[1]);
	close(release[0]);
	helper_release = release[1];
	char answer[512];
	ssize_t n, got = 0;
	while ((n = read(status[0], answer + got, sizeof answer - 1 - (size_t)got)) > 0)
		got += n;
	close(status[0]);
	answer[got > 0 ? got : 0] = 0;
	if (strcmp(answer, "u")) {
		errno = EPERM;
		die("could not make a user namespace (%s)", got > 1 ? answer + 1 : "the helper died");
	}
	helper_pidfd = (int)syscall(SYS_pidfd_open, helper, 0);
	if (helper_pidfd < 0)
		die("pidfd_open");
	if (setns(helper_pidfd, UM_NS) < 0)
		die("setns into the machine's namespaces");
}

/* Give Um our own IDs one for one (each extent of U2's map becomes an identity extent). */
static void mirror_idmaps(void)
{
	static const char *maps[] = {"uid_map", "gid_map"};
	for (int i = 0; i < 2; i++) {
		char path[64], in[4096], out[4096];
		snprintf(path, sizeof path, "/proc/self/%s", maps[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, in, sizeof in - 1);
		if (n <= 0)
			die("read %s", path);
		close(fd);
		in[n] = 0;
		size_t used = 0;
		out[0] = 0;
		for (char *line = strtok(in, "\n"); line; line = strtok(NULL, "\n")) {
			unsigned long inner, outer, count;
			if (sscanf(line, "%lu %lu %lu", &inner, &outer, &count) != 3)
				continue;
			int n = snprintf(out + used, sizeof out - used, "%lu %lu %lu\n", inner, inner, count);
			if (n < 0 || (size_t)n >= sizeof out - used) {
				errno = E2BIG;
				die("the ID map of %s", path);
			}
			used += (size_t)n;
		}
		snprintf(path, sizeof path, "/proc/%d/%s", (int)helper, maps[i]);
		write_text(path, out);
	}
}

/* -- the orders, as machine root --------------------------------------------------------------- */
static struct buf warnings;
static int nwarnings;

static void warn(const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (nwarnings++)
		put(&warnings, ",", 1);
	put_json(&warnings, text);
}

static void set_up(const char *ifname)
{
	struct ifreq r;
	memset(&r, 0, sizeof r);
	snprintf(r.ifr_name, sizeof r.ifr_name, "%s", ifname);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &r) < 0 || (r.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &r) < 0))
		warn("cannot bring %s up: %s", ifname, strerror(errno));
	if (s >= 0)
		close(s);
}

static int write_file(const char *path, const char *text)
{
	return write_closing(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666), text);
}

/* Copying a lab folder over / (Netkit's first boot). */
struct copy {
	const char *src;
	long entries, bytes;
	int problems, stop;
	struct dated { char *path; struct timespec times[2]; } *folders;
	size_t nfolders, capfolders;
	char **stack;  /* pairs: path below /, its source */
	size_t nstack, capstack;
};

static void say(struct copy *c, const char *fmt, ...)
{
	if (c->problems >= 5)
		return;
	c->problems++;
	char text[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	warn("%s", text);
}

static void push(struct copy *c, const char *rel, const char *src)
{
	if (c->nstack + 2 > c->capstack) {
		c->capstack = c->capstack ? c->capstack * 2 : 64;
		c->stack = realloc(c->stack, c->capstack * sizeof *c->stack);
		if (!c->stack)
			_exit(1);
	}
	c->stack[c->nstack++] = strdup(rel);
	c->stack[c->nstack++] = strdup(src);
}

/* Make room at path (a real folder in the way stays: tar does not remove one either). */
static int make_room(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		return -2;
	}
	return unlink(path);
}

static int copy_one(struct copy *c, const char *src, const char *dst)
{
	struct stat st;
	if (lstat(src, &st) < 0)
		return -1;
	mode_t mode = st.st_mode & 01777;  /* no set-ID bits */
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	int r;
	if (S_ISDIR(st.st_mode)) {
		struct stat ds;
		if (stat(dst, &ds) < 0 || !S_ISDIR(ds.st_mode)) {  /* (a symlink to a folder is kept and filled) */
			if ((r = make_room(dst)) < 0)
				return r;
			if (mkdir(dst, 0700) < 0)
				return -1;
		}
		push(c, dst, src);
		if (chmod(dst, mode) < 0)
			return -1;
		if (c->nfolders == c->capfolders) {
			c->capfolders = c->capfolders ? c->capfolders * 2 : 64;
			c->folders = realloc(c->folders, c->capfolders * sizeof *c->folders);
			if (!c->folders)
				_exit(1);
		}
		c->folders[c->nfolders].path = strdup(dst);
		memcpy(c->folders[c->nfolders++].times, times, sizeof times);
	} else if (S_ISREG(st.st_mode)) {
		if ((r = make_room(dst)) < 0)
			return r;
		int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (in < 0)
			return -1;
		struct stat is;
		if (fstat(in, &is) < 0 || !S_ISREG(is.st_mode)) {  /* swapped for something else meanwhile */
			close(in);
			return 0;
		}
		int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0) {
			close(in);
			return -1;
		}
		int failed = 0;
		for (;;) {
			ssize_t n = sendfile(out, in, NULL, 1 << 20);
			if (n < 0) {
				failed = 1;
				break;
			}
			if (n == 0)
				break;
			c->bytes += n;
			if (c->bytes > MAX_BYTES)
				break;
		}
		if (!failed && (fchmod(out, mode) < 0 || futimens(out, times) < 0))
			failed = 1;
		int err = errno;
		close(out);
		close(in);
		errno = err;
		return failed ? -1 : 0;
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(src, target, sizeof target - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		if ((r = make_room(dst)) < 0)
			return r;
		if (symlink(target, dst) < 0 || utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
	} else if (S_ISFIFO(st.st_mode)) {
		if ((r = make_room(dst)) < 0)
			return r;
		if (mkfifo(dst, mode) < 0)
			return -1;
	}
	return 0;  /* (devices and sockets are left out) */
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }
static int not_dots(const struct dirent *e) { return strcmp(e->d_name, ".") && strcmp(e->d_name, ".."); }

static int is_dir(const char *path, int follow)
{
	struct stat st;
	return (follow ? stat(path, &st) : lstat(path, &st)) == 0 && S_ISDIR(st.st_mode);
}

/* Every folder and regular file at and below top (symlinks neither followed nor included). */
static void walk(const char *top, void (*each)(const char *, int, void *), void *arg)
{
	each(top, 0, arg);
	char **stack = malloc(sizeof *stack);
	size_t n = 0, cap = 1;
	if (!stack)
		_exit(1);
	stack[n++] = strdup(top);
	while (n) {
		char *folder = stack[--n];
		DIR *d = opendir(folder);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!not_dots(e))
				continue;
			char path[4096];
			if (snprintf(path, sizeof path, "%s/%s", folder, e->d_name) >= (int)sizeof path)
				continue;
			struct stat st;
			if (lstat(path, &st) < 0)
				continue;
			if (S_ISDIR(st.st_mode)) {
				if (n == cap) {
					cap *= 2;
					stack = realloc(stack, cap * sizeof *stack);
					if (!stack)
						_exit(1);
				}
				stack[n++] = strdup(path);
				each(path, 0, arg);
			} else if (S_ISREG(st.st_mode)) {
				each(path, 1, arg);
			}
		}
		if (d)
			closedir(d);
		free(folder);
	}
	free(stack);
}

struct owner { uid_t uid; gid_t gid; struct copy *c; };

static void hand_to_frr(const char *path, int is_file, void *arg)
{
	struct owner *o = arg;
	if (lchown(path, o->uid, o->gid) < 0 || (is_file && chmod(path, 0640) < 0))
		say(o->c, "cannot hand %s to frr: %s", path, strerror(errno));
}

static void open_to_all(const char *path, int is_file, void *arg)
{
	(void)arg;
	struct stat st;
	if (!strcmp(path, "/var/www") || lstat(path, &st) < 0)
		return;
	mode_t m = st.st_mode & 01777;  /* (no set-ID bits: the filter refuses them) */
	mode_t execute = (!is_file || (m & 0111)) ? 0111 : 0;
	chmod(path, m | 0666 | execute);
}

/* The frr user of the machine's /etc/passwd (read as a file: no NSS module of the machine's). */
static int frr_user(uid_t *uid, gid_t *gid)
{
	FILE *f = fopen("/etc/passwd", "re");
	if (!f)
		return 0;
	char line[1024];
	int found = 0;
	while (!found && fgets(line, sizeof line, f)) {
		char *fields[4] = {0};
		char *p = line;
		for (int i = 0; i < 4 && p; i++) {
			fields[i] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = 0;
		}
		if (fields[3] && !strcmp(fields[0], "frr")) {
			char *e1, *e2;
			unsigned long u = strtoul(fields[2], &e1, 10), g = strtoul(fields[3], &e2, 10);
			if (*fields[2] && !*e1 && *fields[3] && (!*e2 || *e2 == '\n')) {
				*uid = (uid_t)u;
				*gid = (gid_t)g;
				found = 1;
			}
		}
	}
	fclose(f);
	return found;
}

/* Kathara's conventions: FRR and Quagga configs handed to frr, /var/www writable by all, the
 * units a folder enables recorded for the systemctl shim. */
static void conventions(struct copy *c)
{
	char path[4096];
	struct owner o = {.c = c};
	static const char *confs[] = {"/etc/frr", "/etc/quagga"};
	int have_frr = frr_user(&o.uid, &o.gid);
	for (int i = 0; i < 2 && have_frr; i++) {
		struct stat st;
		snprintf(path, sizeof path, "%s%s", c->src, confs[i]);
		if (is_dir(path, 1) && lstat(confs[i], &st) == 0 && !S_ISLNK(st.st_mode) && S_ISDIR(st.st_mode))
			walk(confs[i], hand_to_frr, &o);
	}
	snprintf(path, sizeof path, "%s/var/www", c->src);
	if (is_dir(path, 1) && is_dir("/var/www", 1))
		walk("/var/www", open_to_all, NULL);
	static const char *wants[] = {"etc/systemd/system", "lib/systemd/system"};
	struct buf units = {0};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", c->src, wants[i]);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			size_t len = strlen(e->d_name);
			char folder[4096];
			if (len < 6 || strcmp(e->d_name + len - 6, ".wants"))
				continue;
			if (snprintf(folder, sizeof folder, "%s/%s", path, e->d_name) >= (int)sizeof folder || !is_dir(folder, 1))
				continue;
			struct dirent **list;
			int n = scandir(folder, &list, not_dots, by_name);
			for (int k = 0; k < n; k++) {
				puts_(&units, list[k]->d_name);
				puts_(&units, "\n");
				free(list[k]);
			}
			if (n >= 0)
				free(list);
		}
		if (d)
			closedir(d);
	}
	if (units.len) {
		int fd = try_mkdirs("/var/lib/nk", 0777) < 0 ? -1 : open(ENABLED, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
		if (fd < 0 || write(fd, units.data, units.len) != (ssize_t)units.len)
			say(c, "cannot record the units %s enables: %s", c->src, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(units.data);
}

static void copy_over(const char *src)
{
	struct stat st;
	if (lstat(src, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	struct copy c = {.src = src};
	push(&c, "", src);
	while (c.nstack && !c.stop) {
		char *folder = c.stack[--c.nstack], *rel = c.stack[--c.nstack];
		struct dirent **list;
		int n = scandir(folder, &list, not_dots, by_name);
		if (n < 0)
			say(&c, "cannot read %s: %s", folder, strerror(errno));
		for (int i = 0; i < n; i++) {
			if (!c.stop && (++c.entries > MAX_ENTRIES || c.bytes > MAX_BYTES)) {
				say(&c, "%s is larger than %d files or %ld MiB: the rest was not copied", src, MAX_ENTRIES,
				    MAX_BYTES >> 20);
				c.stop = 1;
			}
			if (!c.stop) {
				char from[4096], to[4096];
				if (snprintf(from, sizeof from, "%s/%s", folder, list[i]->d_name) < (int)sizeof from &&
				    snprintf(to, sizeof to, "%s/%s", rel, list[i]->d_name) < (int)sizeof to) {
					int r = copy_one(&c, from, to);
					if (r < 0)
						say(&c, "cannot copy %s to %s: %s", from, to,
						    r == -2 ? "a folder is in the way" : strerror(errno));
				}
			}
			free(list[i]);
		}
		if (n >= 0)
			free(list);
		free(folder);
		free(rel);
	}
	if (c.stop)
		return;
	for (size_t i = c.nfolders; i-- > 0;)
		utimensat(AT_FDCWD, c.folders[i].path, c.folders[i].times, 0);
	conventions(&c);
}

static const char HOSTS[] = "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n";

static void follow(char **words, int n)
{
	for (int i = 0; i < n; i++) {
		const char *op = words[i];
		if (!strcmp(op, "up") && i + 1 < n) {
			set_up(words[++i]);
		} else if (!strcmp(op, "sysctl") && i + 2 < n) {
			const char *key = words[++i], *value = words[++i];
			if (write_sysctl(key, value) < 0)
				warn("sysctl %s=%s: %s", key, value, strerror(errno));
		} else if (!strcmp(op, "sh") && i + 1 < n) {  /* Netkit labs' #!/bin/sh may be bash's */
			const char *sh = words[++i];
			char now[256], there[256];
			ssize_t len = readlink("/bin/sh", now, sizeof now - 1);
			snprintf(there, sizeof there, "/bin/%s", sh);
			if (len < 0) {
				warn("cannot make /bin/sh %s: %s", sh, strerror(errno));
				continue;
			}
			now[len] = 0;
			if (strcmp(now, sh) && access(there, F_OK) == 0 && (unlink("/bin/sh") < 0 || symlink(sh, "/bin/sh") < 0))
				warn("cannot make /bin/sh %s: %s", sh, strerror(errno));
		} else if (!strcmp(op, "first")) {
			char hosts[512], hostname[300];
			snprintf(hosts, sizeof hosts, HOSTS, name);
			snprintf(hostname, sizeof hostname, "%s\n", name);
			if (write_file("/etc/hosts", hosts) < 0 || write_file("/etc/hostname", hostname) < 0)
				warn("cannot write /etc/hosts or /etc/hostname: %s", strerror(errno));
		} else if (!strcmp(op, "nameserver") && i + 1 < n) {  /* an uplink's DNS */
			char text[300];
			struct stat st;
			snprintf(text, sizeof text, "nameserver %s\n", words[++i]);
			if ((lstat("/etc/resolv.conf", &st) == 0 && S_ISLNK(st.st_mode) && unlink("/etc/resolv.conf") < 0) ||
			    write_file("/etc/resolv.conf", text) < 0)
				warn("cannot write /etc/resolv.conf: %s", strerror(errno));
		} else if (!strcmp(op, "copy") && i + 1 < n) {  /* shared/, then MACHINE/, over / */
			copy_over(words[++i]);
		}
	}
	if (chdir("/root") < 0 && chdir("/") < 0)  /* commands start where the init is */
		warn("cannot change to /: %s", strerror(errno));
}

static char *recv_frame(uint32_t *size)
{
	uint32_t len;
	size_t got = 0;
	while (got < 4) {
		ssize_t n = read(INIT_SOCK, (char *)&len + got, 4 - got);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			_exit(1);
		if (n > 0)
			got += (size_t)n;
	}
	if (len > MAX_FRAME)
		_exit(1);
	char *body = malloc((size_t)len + 1);
	if (!body)
		_exit(1);
	for (got = 0; got < len;) {
		ssize_t n = read(INIT_SOCK, body + got, len - got);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			_exit(1);
		if (n > 0)
			got += (size_t)n;
	}
	body[len] = 0;
	*size = len;
	return body;
}

/* -- the plan -------------------------------------------------------------------------------- */
static int need(int argc, int i, int k, const char *op)
{
	if (i + k >= argc) {
		errno = EINVAL;
		die("the plan's op %s lacks arguments", op);
	}
	return 1;
}

_Noreturn static void init_main(int argc, char **argv)
{
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  /* first: until its exec nothing may ptrace it */
	for (int fd = INIT_SOCK; fd <= REAPFD; fd++)  /* (the socket closes with the exec of nk-reap) */
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			die("descriptor %d", fd);
	close_from(REAPFD + 1);
	double root_s = 0, root_cpu = 0;
	int pts = -1;
	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		if (!strcmp(op, "name") && need(argc, i, 1, op)) {
			name = argv[++i];
		} else if (!strcmp(op, "cgroup") && need(argc, i, 1, op)) {  /* before anything forks */
			if (argv[i + 1] == born_in) {  /* (nk-spawn cloned it there: enter.h) */
				i++;
				continue;
			}
			char path[4096];
			if (snprintf(path, sizeof path, "%s/cgroup.procs", argv[++i]) >= (int)sizeof path) {
				errno = ENAMETOOLONG;
				die("cgroup %s", argv[i]);
			}
			write_text(path, "0");
		} else if (!strcmp(op, "userns") && need(argc, i, 2, op)) {
			uid_t uid = (uid_t)number(argv[i + 1], 10);
			make_userns(uid, (rlim_t)number(argv[i + 2], 10));
			i += 2;
			if (sethostname(name, strlen(name)) < 0)
				die("sethostname");
		} else if (!strcmp(op, "proc") && need(argc, i, 1, op)) {  /* (make_proc: before any sysctl) */
			make_proc((unsigned int)number(argv[++i], 10));
		} else if (!strcmp(op, "procmount") && need(argc, i, 1, op)) {
			attach_proc(argv[++i]);
		} else if (!strcmp(op, "sysctl") && need(argc, i, 2, op)) {  /* before any interface exists */
			if (write_sysctl(argv[i + 1], argv[i + 2]) < 0 && errno != ENOENT)  /* (e.g. ipv6.disable=1) */
				die("sysctl %s=%s", argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (!strcmp(op, "handsysctl") && need(argc, i, 2, op)) {  /* (initplan.TAKE_RTNL) */
			int fd = open_sysctl(argv[i + 1]);
			if (fd < 0 && errno != ENOENT)
				die("sysctl %s", argv[i + 1]);
			if (fd >= 0 && nhanded == MAX_HANDED) {
				errno = E2BIG;
				die("more than %d sysctls to hand over", MAX_HANDED);
			}
			if (fd >= 0) {
				handed[nhanded] = fd;
				handed_kv[nhanded][0] = argv[i + 1];
				handed_kv[nhanded++][1] = argv[i + 2];
			}
			i += 2;
		} else if (!strcmp(op, "sendns")) {
			int fds[MAX_HANDED + 1];
			fds[0] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
			if (fds[0] < 0)
				die("open /proc/self/ns/net");
			struct buf b = {0};
			puts_(&b, "{\"stage\":\"ns\",\"sysctls\":[");
			for (int k = 0; k < nhanded; k++) {
				puts_(&b, k ? ",[" : "[");
				put_json(&b, handed_kv[k][0]);
				puts_(&b, ",");
				put_json(&b, handed_kv[k][1]);
				puts_(&b, "]");
				fds[k + 1] = handed[k];
			}
			puts_(&b, "]}");
			send_frame(&b, fds, nhanded + 1);
			for (int k = 0; k <= nhanded; k++)
				close(fds[k]);
			free(b.data);
		} else if (!strcmp(op, "mkdirs") && need(argc, i, 2, op)) {
			mkdirs(argv[i + 1], (mode_t)number(argv[i + 2], 8));
			i += 2;
		} else if (!strcmp(op, "newdir") && need(argc, i, 2, op)) {  /* parents as needed; it must be new */
			char *slash = strrchr(argv[i + 1], '/');
			if (slash && slash != argv[i + 1]) {
				*slash = 0;
				mkdirs(argv[i + 1], 0777);
				*slash = '/';
			}
			if (mkdir(argv[i + 1], 0777) < 0 || chmod(argv[i + 1], (mode_t)number(argv[i + 2], 8)) < 0)
				die("mkdir %s", argv[i + 1]);
			i += 2;
		} else if (!strcmp(op, "clear") && need(argc, i, 2, op)) {
			clear(argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (!strcmp(op, "rootdir") && need(argc, i, 1, op)) {  /* an image's /root, if it has none */
			if (!is_dir(argv[i + 1], 1))
				clear(argv[i + 1], "dir");
			i++;
		} else if (!strcmp(op, "symlink") && need(argc, i, 2, op)) {
			if (symlink(argv[i + 1], argv[i + 2]) < 0)
				die("symlink %s", argv[i + 2]);
			i += 2;
		} else if (!strcmp(op, "touch") && need(argc, i, 1, op)) {
			int fd = open(argv[++i], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
			if (fd < 0)
				die("create %s", argv[i]);
			close(fd);
		} else if (!strcmp(op, "mount") && need(argc, i, 5, op)) {
			const char *src = strcmp(argv[i + 1], "-") ? argv[i + 1] : NULL;
			const char *type = strcmp(argv[i + 3], "-") ? argv[i + 3] : NULL;
			const char *data = strcmp(argv[i + 5], "-") ? argv[i + 5] : NULL;
			do_mount(src, argv[i + 2], type, number(argv[i + 4], 10), data);
			i += 5;
		} else if (!strcmp(op, "bind") && need(argc, i, 2, op)) {
			do_mount(argv[i + 1], argv[i + 2], NULL, MS_BIND, NULL);
			i += 2;
		} else if (!strcmp(op, "bindro") && need(argc, i, 2, op)) {
			bind_ro(argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (!strcmp(op, "bindif") && need(argc, i, 2, op)) {  /* onto what exists */
			if (access(argv[i + 2], F_OK) == 0)
				do_mount(argv[i + 1], argv[i + 2], NULL, MS_BIND, NULL);
			i += 2;
		} else if (!strcmp(op, "lab") && need(argc, i, 2, op)) {
			mount_lab(argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (!strcmp(op, "pivot") && need(argc, i, 1, op)) {
			pivot(argv[++i]);
		} else if (!strcmp(op, "rooted")) {
			pts = open("/dev/pts", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (pts < 0)
				die("open /dev/pts");
			if (helper < 0) {
				errno = EINVAL;
				die("the plan made no user namespace");
			}
			if (setns(USERNSFD, CLONE_NEWUSER) < 0)  /* into U2, whose members may write Um's map */
				die("setns into the machines' user namespace");
			mirror_idmaps();
			if (setns(helper_pidfd, CLONE_NEWUSER) < 0)  /* into Um: from here on, machine root */
				die("setns into the machine's user namespace");
			if (unshare(CLONE_NEWNS) < 0)  /* a copy of our mounts, locked */
				die("unshare the mount namespace");
			close(helper_release);
			while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
				;
			close(helper_pidfd);
			close(LABFD);
			close(USERNSFD);
			root_s = since(CLOCK_MONOTONIC, &t0);
			root_cpu = since(CLOCK_THREAD_CPUTIME_ID, &c0);
		} else {
			errno = EINVAL;
			die("unknown op %s in the plan", op);
		}
	}
	if (pts < 0) {
		errno = EINVAL;
		die("the plan has no rooted op");
	}
	char text[256];
	snprintf(text, sizeof text, "{\"stage\":\"rooted\",\"root_s\":%.6f,\"root_cpu_s\":%.6f,\"all_s\":%.6f}", root_s,
		 root_cpu, since(CLOCK_MONOTONIC, &t0));
	struct buf b = {0};
	puts_(&b, text);
	send_frame(&b, &pts, 1);
	close(pts);

	uint32_t size;
	char *orders = recv_frame(&size);
	char *words[4096];
	int n = 0;
	for (char *p = orders; p < orders + size; p += strlen(p) + 1) {
		if (n == 4096) {
			errno = E2BIG;
			die("the orders hold more than 4096 words");
		}
		words[n++] = p;
	}
	puts_(&warnings, "");
	follow(words, n);
	b.len = 0;
	puts_(&b, "{\"stage\":\"ready\",\"warnings\":[");
	put(&b, warnings.data, warnings.len);
	puts_(&b, "]}");
	send_frame(&b, NULL, 0);
	/* The socket is close-on-exec: the supervisor sees it close when this has exec'd (from then
	 * on the process is dumpable, and nk-enter may enter it). If the exec fails, the init says
	 * why and ends (the machine with it): it never becomes dumpable itself, holding the plan. */
	char *reap_argv[] = {"nk-reap", NULL}, *no_env[] = {NULL};
	syscall(SYS_execveat, REAPFD, "", reap_argv, no_env, AT_EMPTY_PATH);
	die("exec nk-reap");
}
#endif
