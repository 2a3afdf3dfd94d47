/*
 * The alert of a database that stayed away (include/traject/alert.h): an
 * outage as one instance saw it, stored when the connection is back. Its
 * row carries no grant and no report; raised_at is when the connection was
 * lost (on the service clock, like every raised_at), and the partial
 * unique index alerts_database_once (raised_by, raised_at) makes storing
 * the same outage again -- its first INSERT committed but the reply was
 * lost with the connection -- a no-op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "traject/alert.h"
#include "traject/log.h"
#include "traject/value.h"
#include "util.h"

void tj_db_outage_message(const struct tj_db_outage *o, int64_t now, char *buf, size_t size)
{
	char lost[32], back[32];
	int64_t end = o->back_at ? o->back_at : now;

	tj_timestamp_format(o->lost_at, lost);
	if (o->back_at)
		snprintf(buf, size,
			 "the database was unreachable for %.0f s, from %s to %s (real clock; %d "
			 "failed reconnects); last error: %s",
			 (double)(end - o->lost_at) / 1e6, lost, tj_timestamp_format(o->back_at, back),
			 o->failed_reconnects, o->error && *o->error ? o->error : "(none)");
	else
		snprintf(buf, size,
			 "the database has been unreachable for %.0f s, since %s (real clock; %d "
			 "failed reconnects so far); last error: %s",
			 (double)(end - o->lost_at) / 1e6, lost, o->failed_reconnects,
			 o->error && *o->error ? o->error : "(none)");
	tj_mask_bsn(buf);
}

int tj_alert_raise_database(tj_service *svc, const struct tj_db_outage *o, long *alert_id,
			    tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	char message[1200], raised[32], mailed[32];
	const char *state = o->mailed ? "sent" : tj_mail_configured(svc->cfg) ? "pending" : "none";
	const char *params[6] = { message, raised, svc->instance, state,
				  o->mailed ? mailed : NULL, o->mailed ? NULL : o->mail_error };
	int r;

	tj_db_outage_message(o, o->back_at, message, sizeof message);
	tj_timestamp_format(o->lost_at + svc->clock_offset, raised);
	tj_timestamp_format(o->mailed_at, mailed);
	r = tj_pq(svc->conn, "storing the database alert",
		  "INSERT INTO traject.alerts (kind, message, raised_at, raised_by, mail_state,"
		  " mailed_at, mail_error) VALUES ('database', $1, $2, $3, $4, $5, $6)"
		  " ON CONFLICT (raised_by, raised_at) WHERE kind = 'database' DO NOTHING"
		  " RETURNING alert_id",
		  6, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		return 0;
	*alert_id = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	tj_log(TJ_LOG_INFO, "database alert %ld stored (mail %s): %s", *alert_id, state, message);
	return 1;
}
