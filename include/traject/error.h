/*
 * libtraject error contract (read this once; every function follows it).
 *
 * - A function that can fail returns int: 0 on success, a negative TJ_E*
 *   code on failure. A caller forwards a negative code unchanged unless it
 *   adds context. A positive return is a documented condition of that
 *   function (e.g. "already imported"), never an error.
 * - Functions that can fail take a `tj_err *err` as their last argument.
 *   On failure they fill it (code + one human message that says what was
 *   wrong and what to do) and return the same code: `return tj_fail(err,
 *   TJ_EINVAL, "...")`. err may be NULL when the caller does not care.
 * - Input that is refused line by line (CSV, grant JSON) additionally
 *   collects every problem in a tj_diags list, in input order.
 * - Ownership: constructors write their output only on success
 *   (`x_new(&out, ...)`); every destructor accepts NULL. Locals are freed
 *   with the TJ_AUTO cleanup helpers in lib/util.h; ownership is handed over
 *   explicitly with `*out = p; p = NULL;`.
 * - The library never exits the process and never prints: programs do.
 */
#ifndef TRAJECT_ERROR_H
#define TRAJECT_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tj_code {
	TJ_OK = 0,
	TJ_ENOMEM = -1,    /* out of memory */
	TJ_EIO = -2,       /* a file could not be read or written */
	TJ_EINVAL = -3,    /* input refused (see the message and diagnostics) */
	TJ_EDB = -4,       /* the database failed or refused a statement */
	TJ_ENOTFOUND = -5, /* a named grant, report or event does not exist */
	TJ_ECONFLICT = -6, /* the request conflicts with stored state */
	TJ_ESCHEMA = -7,   /* database schema missing or newer than this binary */
	TJ_ENET = -8,      /* a transfer failed */
	TJ_EUSAGE = -9,    /* the caller used the API wrongly */
	TJ_ECONFIG = -10,  /* configuration file refused */
};

typedef struct tj_err {
	int code;
	char msg[2048];
} tj_err;

/* Fill err (if not NULL) and return code. */
int tj_fail(tj_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tj_vfail(tj_err *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Static text for a code; never NULL. */
const char *tj_strerror(int code);

/*
 * An ordered list of located problems ("FILE:LINE: TJ012 reason").
 * Collection stops counting after `limit` entries but keeps counting the
 * total, so a caller can say "and N more".
 */
typedef struct tj_diags {
	char **items;
	size_t count;   /* stored */
	size_t total;   /* seen, including those beyond the limit */
	size_t cap;
	size_t limit;   /* 0 means the default (200) */
} tj_diags;

void tj_diags_init(tj_diags *d);
/* Add one problem; returns 0 or TJ_ENOMEM. */
int tj_diags_add(tj_diags *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tj_diags_clear(tj_diags *d);

#ifdef __cplusplus
}
#endif
#endif
