/* Helpers shared by the outbox files (lib/outbox*.c); not public API. */
#ifndef TJ_OUTBOX_PRIVATE_H
#define TJ_OUTBOX_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "traject/outbox.h"

/*
 * Bytes as a bytea parameter in text form ("\x" and hex digits): exact for
 * any bytes, and still a PQexecParams text parameter. *out is malloc'ed.
 */
int tj_bytea_param(const void *data, size_t len, char **out, tj_err *err);

/* A timestamptz column read as microseconds (the query selects them so). */
int tj_usec_value(const char *text, int64_t *usec);

/* The query fragment that turns a timestamptz expression into microseconds. */
#define TJ_SQL_USEC(expr) "(extract(epoch FROM " expr ") * 1000000)::bigint"

/* Keep the earliest moment after now that something is due next. */
static inline void tj_next_due(struct tj_pass_stats *st, int64_t now, int64_t t)
{
	if (t > now && t < st->next_due)
		st->next_due = t;
}

/* The grant_key of a grant id: TJ_ENOTFOUND with a message naming it. */
int tj_outbox_grant_key(PGconn *conn, const char *grant_id, char key[static 24], tj_err *err);

/*
 * Raise one report alert (kind rejected, not_delivered, late or failing)
 * unless the same one is open: returns 1 when it opened it (logged it as
 * critical and, with mail configured, queued its mail), 0 when it was
 * open already.
 */
int tj_outbox_alert(tj_service *svc, const char *kind, const char *grant_key,
		    const char *grant_id, const char *report_id, const char *message, tj_err *err);

/* Resolve every open alert of a report (it was delivered). */
int tj_outbox_resolve_alerts(tj_service *svc, const char *grant_key, const char *report_id,
			     tj_err *err);

#endif
