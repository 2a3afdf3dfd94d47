/*
 * Private helpers of libtraject: cleanup attributes for locals (the
 * ownership half of the contract in include/traject/error.h), a growable
 * byte buffer and small string helpers.
 */
#ifndef TJ_UTIL_H
#define TJ_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#define TJ_AUTO(fn) __attribute__((cleanup(fn)))
#define TJ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void tj_freep(void *p)
{
	free(*(void **)p);
}
static inline void tj_pqclearp(PGresult **r)
{
	PQclear(*r);
}
static inline void tj_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define TJ_AUTOFREE TJ_AUTO(tj_freep)
#define TJ_AUTORES TJ_AUTO(tj_pqclearp)
#define TJ_AUTOFILE TJ_AUTO(tj_fclosep)

/* A growable byte buffer; always NUL-terminated after the data. */
typedef struct tj_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* an append failed: the buffer is incomplete */
} tj_buf;

void tj_buf_init(tj_buf *b);
void tj_buf_free(tj_buf *b);
int tj_buf_append(tj_buf *b, const void *data, size_t len);
int tj_buf_puts(tj_buf *b, const char *s);
int tj_buf_printf(tj_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tj_buf_freep(tj_buf *b)
{
	tj_buf_free(b);
}
#define TJ_AUTOBUF TJ_AUTO(tj_buf_freep)

/* Read a whole file; on success *out owns the buffer. */
struct tj_err;
int tj_read_file(const char *path, tj_buf *out, struct tj_err *err);

/* Lower-case hex sha256 of data (65 bytes with NUL). */
void tj_sha256_hex(const void *data, size_t len, char out[static 65]);

#endif
