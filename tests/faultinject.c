/*
 * faultinject: an LD_PRELOAD shim that makes the disk fail for one folder,
 * so tests/it_faults.py can show what a full disk, a failing flush or a
 * failed rename does to a file:// delivery (docs/reliability.md). Nothing
 * in the product knows about it.
 *
 *   TJ_FAULT_DIR=/abs/folder      faults apply only to files in this folder
 *   TJ_FAULT_CONTROL=/abs/file    faults apply only while this file exists;
 *                                 each line is "OP ERRNO", OP one of write,
 *                                 fsync, rename (rename covers rename,
 *                                 renameat, renameat2, link and linkat) and
 *                                 ERRNO one of ENOSPC, EIO, EDQUOT, EFBIG
 *   TJ_FAULT_LOG=/abs/file        one line per injected fault (optional)
 *
 * A write fault is a full disk as the kernel shows it: a write of 512 bytes
 * or more first succeeds partly (half of it goes to the file, so a partial
 * temporary file really exists), and the next write to that file fails; a
 * smaller write fails at once (trajectd is single-threaded, so one
 * remembered descriptor is enough). The control file is read on each
 * intercepted call on the folder, so a test switches faults on and off
 * while trajectd runs. The real functions are found with dlsym(RTLD_NEXT);
 * a process without TJ_FAULT_DIR is not affected.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Below this a faulty write fails outright; above it half of it is written first. */
#define PARTIAL_MIN 512

enum op { OP_WRITE, OP_FSYNC, OP_RENAME };
static const char *const op_names[] = { "write", "fsync", "rename" };

static const struct {
	const char *name;
	int value;
} errnos[] = { { "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT }, { "EFBIG", EFBIG } };

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);

/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define LOOKUP(var, name)                                         \
	do {                                                      \
		if (!(var))                                       \
			*(void **)(&(var)) = dlsym(RTLD_NEXT, name); \
	} while (0)

static const char *fault_dir(void)
{
	const char *d = getenv("TJ_FAULT_DIR");

	return d && *d == '/' ? d : NULL;
}

/* Is path (absolute) inside the fault folder? */
static int in_dir(const char *path)
{
	const char *d = fault_dir();
	size_t n;

	if (!d || !path)
		return 0;
	n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		n--;
	return strncmp(path, d, n) == 0 && path[n] == '/';
}

static int fd_in_dir(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (!fault_dir())
		return 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return in_dir(path);
}

/* A relative name at dirfd (or an absolute one) inside the folder? */
static int at_in_dir(int dirfd, const char *name)
{
	char dir[PATH_MAX], link[64], full[PATH_MAX + 256];
	ssize_t n;

	if (!name)
		return 0;
	if (name[0] == '/')
		return in_dir(name);
	if (dirfd == AT_FDCWD) {
		if (!getcwd(dir, sizeof dir))
			return 0;
	} else {
		snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
		n = readlink(link, dir, sizeof dir - 1);
		if (n <= 0)
			return 0;
		dir[n] = '\0';
	}
	snprintf(full, sizeof full, "%s/%s", dir, name);
	return in_dir(full);
}

/* The errno the control file sets for op now, or 0. */
static int fault_for(enum op op)
{
	const char *ctl = getenv("TJ_FAULT_CONTROL");
	char line[128], name[32], err[32];
	int found = 0;
	FILE *f;

	if (!ctl || !(f = fopen(ctl, "re")))
		return 0;
	while (!found && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%31s %31s", name, err) != 2 || strcmp(name, op_names[op]) != 0)
			continue;
		for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
			if (!strcmp(err, errnos[i].name))
				found = errnos[i].value;
	}
	fclose(f);
	return found;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	const char *log = getenv("TJ_FAULT_LOG");
	char line[PATH_MAX + 200];
	va_list ap;
	int fd, len;

	if (!log)
		return;
	va_start(ap, fmt);
	len = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (len <= 0 || (fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		return;
	LOOKUP(real_write, "write");
	/* best effort: a lost log line only weakens the test's evidence, never the fault */
	if (real_write && real_write(fd, line, (size_t)len < sizeof line ? (size_t)len
								: sizeof line - 1) < 0)
		errno = 0;
	close(fd);
}

static void fd_name(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* The file whose last write was cut short: its next write fails. */
static int partial_fd = -1;

ssize_t write(int fd, const void *buf, size_t count)
{
	char path[PATH_MAX];
	int e;

	LOOKUP(real_write, "write");
	if (fd > 2 && count > 0 && fd_in_dir(fd) && (e = fault_for(OP_WRITE)) != 0) {
		fd_name(fd, path, sizeof path);
		if (count >= PARTIAL_MIN && fd != partial_fd) {
			ssize_t n = real_write(fd, buf, count / 2);

			partial_fd = fd;
			note("write %s: %lld of %zu bytes written, then the disk is full (%s)\n",
			     path, (long long)n, count, strerror(e));
			return n;
		}
		partial_fd = -1;
		note("write %s: %zu bytes refused: %s\n", path, count, strerror(e));
		errno = e;
		return -1;
	}
	return real_write(fd, buf, count);
}

static int fail_sync(int fd, int (*real)(int))
{
	char path[PATH_MAX];
	int e;

	if (fd_in_dir(fd) && (e = fault_for(OP_FSYNC)) != 0) {
		fd_name(fd, path, sizeof path);
		note("fsync %s: %s\n", path, strerror(e));
		errno = e;
		return -1;
	}
	return real(fd);
}

int fsync(int fd)
{
	LOOKUP(real_fsync, "fsync");
	return fail_sync(fd, real_fsync);
}

int fdatasync(int fd)
{
	LOOKUP(real_fdatasync, "fdatasync");
	return fail_sync(fd, real_fdatasync);
}

/* The rename family: fails when the new name is in the folder. */
static int rename_fault(int newdirfd, const char *newpath)
{
	int e;

	if (!at_in_dir(newdirfd, newpath) || (e = fault_for(OP_RENAME)) == 0)
		return 0;
	note("rename to %s: %s\n", newpath, strerror(e));
	errno = e;
	return -1;
}

int rename(const char *oldpath, const char *newpath)
{
	LOOKUP(real_rename, "rename");
	return rename_fault(AT_FDCWD, newpath) ? -1 : real_rename(oldpath, newpath);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	LOOKUP(real_renameat, "renameat");
	return rename_fault(newdirfd, newpath) ? -1
					       : real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	      unsigned int flags)
{
	LOOKUP(real_renameat2, "renameat2");
	return rename_fault(newdirfd, newpath)
		       ? -1
		       : real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

int link(const char *oldpath, const char *newpath)
{
	LOOKUP(real_link, "link");
	return rename_fault(AT_FDCWD, newpath) ? -1 : real_link(oldpath, newpath);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	LOOKUP(real_linkat, "linkat");
	return rename_fault(newdirfd, newpath)
		       ? -1
		       : real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
}
