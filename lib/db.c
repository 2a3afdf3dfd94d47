/* Connecting to PostgreSQL and running parameterised statements. */
#include <string.h>

#include "db.h"
#include "traject/db.h"
#include "util.h"

int tj_db_connect(PGconn **out, const char *conninfo, const char *app_name, tj_err *err)
{
	const char *keys[] = { "dbname", "application_name", "client_encoding", "options", NULL };
	const char *vals[] = { conninfo ? conninfo : "", app_name ? app_name : "trajectd", "UTF8",
			       "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3 -c client_min_messages=warning", NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);

	if (!conn)
		return tj_fail(err, TJ_ENOMEM, "out of memory connecting to the database");
	if (PQstatus(conn) != CONNECTION_OK) {
		int r = tj_fail(err, TJ_EDB,
				"cannot connect to the database: %s(set --db CONNINFO, the [database] "
				"conninfo of --config, or PGHOST/PGDATABASE)",
				PQerrorMessage(conn));
		PQfinish(conn);
		return r;
	}
	*out = conn;
	return 0;
}

static int map_state(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state && (!strcmp(state, "23505") || !strcmp(state, "40001") || !strcmp(state, "40P01")))
		return TJ_ECONFLICT;
	return TJ_EDB;
}

int tj_pq(PGconn *conn, const char *what, const char *sql, int nparams,
	  const char *const *params, PGresult **out, tj_err *err)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
		int code = map_state(res);

		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		if (state && !strcmp(state, "25006")) /* read_only_sql_transaction */
			tj_fail(err, code, "%s: this database is a read-only hot standby: run writing "
				"commands against the primary", what);
		else
			tj_fail(err, code, "%s: %s", what, msg && *msg ? msg : PQerrorMessage(conn));
		/* libpq messages end in a newline: keep one line. */
		if (err) {
			size_t n = strlen(err->msg);

			while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
				err->msg[--n] = '\0';
		}
		PQclear(res);
		return code;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int tj_pq_cmd(PGconn *conn, const char *sql, tj_err *err)
{
	return tj_pq(conn, sql, sql, 0, NULL, NULL, err);
}

void tj_pq_rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}

const char *tj_pq_get(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}
