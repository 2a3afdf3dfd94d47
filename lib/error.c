/* The error contract of include/traject/error.h: messages and diagnostics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traject/error.h"
#include "traject/value.h"

int tj_vfail(tj_err *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		tj_mask_bsn(err->msg);
	}
	return code;
}

int tj_fail(tj_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tj_vfail(err, code, fmt, ap);
	va_end(ap);
	return code;
}

const char *tj_strerror(int code)
{
	switch ((enum tj_code)code) {
	case TJ_OK: return "success";
	case TJ_ENOMEM: return "out of memory";
	case TJ_EIO: return "input/output error";
	case TJ_EINVAL: return "invalid input";
	case TJ_EDB: return "database error";
	case TJ_ENOTFOUND: return "not found";
	case TJ_ECONFLICT: return "conflict with stored state";
	case TJ_ESCHEMA: return "database schema mismatch";
	case TJ_ENET: return "transfer failed";
	case TJ_EUSAGE: return "usage error";
	case TJ_ECONFIG: return "configuration error";
	}
	return "unknown error";
}

void tj_diags_init(tj_diags *d)
{
	memset(d, 0, sizeof *d);
}

int tj_diags_add(tj_diags *d, const char *fmt, ...)
{
	size_t limit = d->limit ? d->limit : 200;
	va_list ap;
	char *s;
	int n;

	d->total++;
	if (d->count >= limit)
		return 0;
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		char **items = realloc(d->items, cap * sizeof *items);

		if (!items)
			return TJ_ENOMEM;
		d->items = items;
		d->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return TJ_ENOMEM;
	/* messages go to terminals and logs: never one that may hold a BSN */
	tj_mask_bsn(s);
	d->items[d->count++] = s;
	return 0;
}

void tj_diags_clear(tj_diags *d)
{
	for (size_t i = 0; i < d->count; i++)
		free(d->items[i]);
	free(d->items);
	tj_diags_init(d);
}
