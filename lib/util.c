/* Byte buffers, whole-file reads and sha256 (OpenSSL's EVP). */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "traject/error.h"
#include "util.h"

void tj_buf_init(tj_buf *b)
{
	memset(b, 0, sizeof *b);
}

void tj_buf_free(tj_buf *b)
{
	free(b->data);
	tj_buf_init(b);
}

int tj_buf_append(tj_buf *b, const void *data, size_t len)
{
	if (b->oom)
		return TJ_ENOMEM;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->oom = true;
			return TJ_ENOMEM;
		}
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int tj_buf_puts(tj_buf *b, const char *s)
{
	return tj_buf_append(b, s, strlen(s));
}

int tj_buf_printf(tj_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n, r;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return TJ_ENOMEM;
	}
	r = tj_buf_append(b, s, (size_t)n);
	free(s);
	return r;
}

int tj_read_file(const char *path, tj_buf *out, tj_err *err)
{
	TJ_AUTOFILE FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;
	tj_buf b;

	if (!f)
		return tj_fail(err, TJ_EIO, "%s: cannot open: %s", path, strerror(errno));
	tj_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (tj_buf_append(&b, chunk, n) < 0) {
			tj_buf_free(&b);
			return tj_fail(err, TJ_ENOMEM, "%s: out of memory reading the file", path);
		}
	}
	if (ferror(f)) {
		tj_buf_free(&b);
		return tj_fail(err, TJ_EIO, "%s: read error: %s", path, strerror(errno));
	}
	if (!b.data)
		tj_buf_append(&b, "", 0);
	*out = b;
	return 0;
}

void tj_sha256_hex(const void *data, size_t len, char out[static 65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
