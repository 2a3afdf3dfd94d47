/*
 * Delivery into a folder (a file:///... URL): the document appears under
 * its final name "<grant>_<report>_v<version>.<format>" complete and
 * durable, or not at all. It is written under a temporary dot-name in the
 * same folder, flushed, and moved into place without ever replacing an
 * existing file; then the folder itself is flushed so the rename survives
 * a crash. A name that already holds the same bytes is a delivery (a
 * retry after a lost outcome); one that holds other bytes is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "traject/deliver.h"
#include "util.h"

enum existing { ABSENT = 0, SAME = 1, DIFFERENT = 2, NOT_REGULAR = 3 };

static void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define TJ_AUTOFD TJ_AUTO(closep)

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The folder of a file:// URL, decoded; *out is malloc'ed. */
static int folder_of(const char *url, char **out, tj_err *err)
{
	CURLU *u = curl_url();
	char *path = NULL;
	CURLUcode rc;

	if (!u)
		return tj_fail(err, TJ_ENOMEM, "out of memory parsing the delivery url");
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_ALLOW_SPACE);
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE);
	curl_url_cleanup(u);
	if (rc != CURLUE_OK)
		return tj_fail(err, TJ_EINVAL, "delivery url \"%s\": %s", url, curl_url_strerror(rc));
	if (path[0] != '/' || strcmp(path, "/") == 0) {
		curl_free(path);
		return tj_fail(err, TJ_EINVAL,
			       "delivery url \"%s\" must name a folder, as file:///var/spool/trajectd",
			       url);
	}
	*out = strdup(path);
	curl_free(path);
	return *out ? 0 : tj_fail(err, TJ_ENOMEM, "out of memory");
}

/* Compare what `name` holds with the document; negative errno on failure. */
static int compare_existing(int dirfd, const char *name, const struct tj_doc *doc, int *fdout)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	const char *want = doc->body;
	char chunk[65536];
	struct stat st;
	size_t off = 0;
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? ABSENT : errno == ELOOP ? NOT_REGULAR : -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return NOT_REGULAR;
	}
	if ((uintmax_t)st.st_size != (uintmax_t)doc->len) {
		close(fd);
		return DIFFERENT;
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			return -e;
		}
		if (off + (size_t)n > doc->len || memcmp(want + off, chunk, (size_t)n) != 0) {
			close(fd);
			return DIFFERENT;
		}
		off += (size_t)n;
	}
	if (off != doc->len) {
		close(fd);
		return DIFFERENT;
	}
	*fdout = fd;
	return SAME;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Errors of the folder's set-up, not of the moment: someone must act. */
static bool setup_errno(int e)
{
	return e == EACCES || e == EPERM || e == EROFS || e == ENOENT || e == ENOTDIR ||
	       e == ELOOP;
}

static void retry(struct tj_delivery_result *res, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void retry(struct tj_delivery_result *res, int e, const char *fmt, ...)
{
	char head[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	res->outcome = TJ_OUTCOME_RETRY;
	res->alert = setup_errno(e);
	snprintf(res->error, sizeof res->error, "%s: %s%s", head, strerror(e),
		 res->alert ? " (fix the folder or its permissions; delivery is retried)" : "");
}

static void verdict(struct tj_delivery_result *res, int existing, const char *path)
{
	if (existing == SAME) {
		res->outcome = TJ_OUTCOME_DELIVERED;
		snprintf(res->error, sizeof res->error,
			 "note: %s was already there with the same bytes", path);
	} else {
		res->outcome = TJ_OUTCOME_REJECTED;
		snprintf(res->error, sizeof res->error,
			 "%s: %s already has this name; a corrected report is a new "
			 "version, so move the file away only if it is wrong",
			 path,
			 existing == NOT_REGULAR ? "something that is not a regular file"
						 : "a different document");
	}
}

/*
 * Move tmp to name without replacing anything: renameat2(RENAME_NOREPLACE),
 * or link+unlink where the file system lacks it. Returns 0 or -errno
 * (-EEXIST when name exists).
 */
static int move_into_place(int dirfd, const char *tmp, const char *name)
{
	if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(dirfd, tmp, dirfd, name, 0) < 0)
		return -errno;
	unlinkat(dirfd, tmp, 0);
	return 0;
}

static int create_temp(int dirfd, const char *name, char *tmp, size_t size)
{
	for (unsigned i = 0; i < 100; i++) {
		int fd;

		snprintf(tmp, size, ".%s.tmp.%ld.%u", name, (long)getpid(), i);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* The attempt proper: fills the outcome, error and alert of res. */
static void attempt(int dirfd, const char *folder, const char *name, const char *path,
		   const struct tj_doc *doc, struct tj_delivery_result *res)
{
	TJ_AUTOFD int existing_fd = -1;
	TJ_AUTOFD int fd = -1;
	char tmp[TJ_DOC_NAME_SIZE + 48];
	int e, found;

	found = compare_existing(dirfd, name, doc, &existing_fd);
	if (found < 0) {
		retry(res, -found, "reading the existing %s", path);
		return;
	}
	if (found == SAME) {
		/* an earlier attempt may have died before its flush */
		if (fsync(existing_fd) < 0 || fsync(dirfd) < 0) {
			retry(res, errno, "flushing %s", path);
			return;
		}
		verdict(res, found, path);
		return;
	}
	if (found != ABSENT) {
		verdict(res, found, path);
		return;
	}

	if ((fd = create_temp(dirfd, name, tmp, sizeof tmp)) < 0) {
		retry(res, -fd, "cannot create a file in the folder %s", folder);
		return;
	}
	/* 0640 whatever the umask: the receiving side reads through its group */
	e = fchmod(fd, 0640) < 0 ? -errno : 0;
	if (e == 0)
		e = write_all(fd, doc->body ? doc->body : "", doc->len);
	if (e == 0 && fsync(fd) < 0)
		e = -errno;
	if (e == 0) {
		int cfd = fd;

		fd = -1;
		if (close(cfd) < 0)
			e = -errno;
	}
	if (e == 0)
		e = move_into_place(dirfd, tmp, name);
	if (e < 0) {
		unlinkat(dirfd, tmp, 0);
		if (e == -EEXIST) { /* someone else put a file there meanwhile */
			found = compare_existing(dirfd, name, doc, &existing_fd);
			if (found < 0)
				retry(res, -found, "reading the existing %s", path);
			else
				verdict(res, found == ABSENT ? DIFFERENT : found, path);
			return;
		}
		retry(res, -e, "writing %s", path);
		return;
	}
	if (fsync(dirfd) < 0) {
		retry(res, errno, "the document is in place but the folder %s could not be flushed",
		      folder);
		return;
	}
	res->outcome = TJ_OUTCOME_DELIVERED;
}

int tj_deliver_file(const struct tj_delivery_opts *opts, const struct tj_doc *doc,
		    struct tj_delivery_result *res, tj_err *err)
{
	TJ_AUTOFREE char *folder = NULL;
	TJ_AUTOFD int dirfd = -1;
	struct tj_delivery_result out;
	char name[TJ_DOC_NAME_SIZE];
	tj_buf path;
	int64_t start = mono_ms();
	int r;

	r = tj_delivery_target(opts->url, err);
	if (r < 0)
		return r;
	if (r != TJ_TARGET_FILE)
		return tj_fail(err, TJ_EINVAL, "delivery url \"%s\" is not file:///", opts->url);
	if ((r = tj_doc_file_name(doc, name, sizeof name, err)) < 0 ||
	    (r = folder_of(opts->url, &folder, err)) < 0)
		return r;
	tj_buf_init(&path);
	tj_buf_puts(&path, folder);
	if (path.len > 0 && path.data[path.len - 1] != '/')
		tj_buf_puts(&path, "/");
	if (tj_buf_puts(&path, name) < 0) {
		tj_buf_free(&path);
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	}

	memset(&out, 0, sizeof out);
	out.retry_after = -1;
	dirfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		retry(&out, errno, "target folder %s", folder);
	else
		attempt(dirfd, folder, name, path.data, doc, &out);
	if (out.outcome == TJ_OUTCOME_DELIVERED) {
		out.path = path.data; /* the receipt: where it is, and when */
		tj_buf_init(&path);
	}
	tj_buf_free(&path);
	out.elapsed_ms = mono_ms() - start;
	tj_delivery_result_stamp(&out);
	*res = out;
	return 0;
}
