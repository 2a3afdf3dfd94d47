/*
 * The service's database session (include/traject/service.h). Statements
 * of a pass stay synchronous (short and bounded by statement_timeout); only
 * connecting, which can take long when a server is unreachable, and waiting
 * for wake-ups run on the event loop.
 */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "traject/db.h"
#include "traject/log.h"
#include "traject/service.h"
#include "util.h"

int tj_db_connect_start(PGconn **out, const char *conninfo, const char *app_name, tj_err *err)
{
	const char *keys[TJ_DB_PARAMS + 1], *vals[TJ_DB_PARAMS + 1];
	PGconn *conn;

	tj_db_params(keys, vals, conninfo, app_name);
	conn = PQconnectStartParams(keys, vals, 1);

	if (!conn)
		return tj_fail(err, TJ_ENOMEM, "out of memory connecting to the database");
	if (PQstatus(conn) == CONNECTION_BAD) {
		int r = tj_fail(err, TJ_EDB, "cannot connect to the database: %s",
				PQerrorMessage(conn));

		PQfinish(conn);
		return r;
	}
	*out = conn;
	return 0;
}

/* Server notices ("terminating connection due to ...") belong in the log, not on bare stderr. */
static void on_notice(void *arg, const char *message)
{
	size_t n = strlen(message);

	(void)arg;
	while (n && (message[n - 1] == '\n' || message[n - 1] == ' '))
		n--;
	tj_log(TJ_LOG_WARNING, "database: %.*s", (int)n, message);
}

int tj_service_session(PGconn *conn, long statement_timeout_ms, tj_err *err)
{
	char timeout[24];
	const char *params[1] = { timeout };
	int r;

	if (statement_timeout_ms <= 0)
		return tj_fail(err, TJ_EUSAGE, "a service session needs a statement timeout");
	snprintf(timeout, sizeof timeout, "%ld", statement_timeout_ms);
	PQsetNoticeProcessor(conn, on_notice, NULL);
	if ((r = tj_schema_check(conn, err)) < 0)
		return r;
	/* set_config, not SET: a parameter, never text pasted into SQL */
	if ((r = tj_pq(conn, "setting the statement timeout",
		       "SELECT set_config('statement_timeout', $1, false)", 1, params, NULL, err)) < 0)
		return r;
	return tj_pq_cmd(conn, "LISTEN " TJ_WAKE_CHANNEL, err);
}

int tj_service_wakeups(PGconn *conn)
{
	int self = PQbackendPID(conn), n = 0;
	PGnotify *note;

	while ((note = PQnotifies(conn)) != NULL) {
		if (!strcmp(note->relname, TJ_WAKE_CHANNEL) && note->be_pid != self)
			n++;
		PQfreemem(note);
	}
	return n;
}

int tj_instance_db_back(tj_service *svc, int64_t lost_at, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	char lost[32], now[32];
	const char *params[3] = { svc->instance, lost, now };
	int r;

	tj_timestamp_format(lost_at, lost);
	tj_timestamp_format(tj_service_now(svc), now);
	r = tj_pq(svc->conn, "recording the database outage",
		  "UPDATE traject.instances SET db_outages = db_outages + 1, db_lost_at = $2,"
		  " db_back_at = clock_timestamp(), heartbeat_at = clock_timestamp(),"
		  " service_clock = $3 WHERE instance_id = $1",
		  3, params, &res, err);
	if (r < 0)
		return r;
	if (strcmp(PQcmdTuples(res), "1") == 0) {
		svc->registered = true;
		return 0;
	}
	/* a database restored from a backup older than this instance */
	svc->registered = false;
	return tj_instance_register(svc, err);
}
