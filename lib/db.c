/* Connecting to PostgreSQL and running parameterised statements. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-events.h>

#include "db.h"
#include "traject/db.h"
#include "util.h"

void tj_db_params(const char *keys[TJ_DB_PARAMS + 1], const char *vals[TJ_DB_PARAMS + 1],
		  const char *conninfo, const char *app_name)
{
	/*
	 * libpq takes the keywords in order and the last value of a keyword
	 * wins; dbname expands the conninfo in place. So the defaults come
	 * before it (a conninfo value overrides them) and the session settings
	 * after it (they always hold). An empty value is skipped, so libpq's
	 * own default (PGCONNECT_TIMEOUT) stays when the environment sets one.
	 */
	const char *env_timeout = getenv("PGCONNECT_TIMEOUT");
	const char *k[TJ_DB_PARAMS + 1] = { "keepalives", "keepalives_idle", "keepalives_interval",
					    "keepalives_count", "tcp_user_timeout",
					    "connect_timeout", "dbname", "application_name",
					    "client_encoding", "options", NULL, NULL };
	const char *v[TJ_DB_PARAMS + 1] = {
		"1", TJ_DB_KEEPALIVES_IDLE_S, TJ_DB_KEEPALIVES_INTERVAL_S, TJ_DB_KEEPALIVES_COUNT,
		TJ_DB_TCP_USER_TIMEOUT_MS, env_timeout && *env_timeout ? "" : TJ_DB_CONNECT_TIMEOUT_S,
		conninfo ? conninfo : "", app_name ? app_name : "trajectd", "UTF8",
		TJ_SESSION_OPTIONS, NULL, NULL
	};

	memcpy(keys, k, sizeof k);
	memcpy(vals, v, sizeof v);
}

int tj_db_connect(PGconn **out, const char *conninfo, const char *app_name, tj_err *err)
{
	const char *keys[TJ_DB_PARAMS + 1], *vals[TJ_DB_PARAMS + 1];
	PGconn *conn;

	tj_db_params(keys, vals, conninfo, app_name);
	conn = PQconnectdbParams(keys, vals, 1);

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

/* Fill err from a failed result; returns the code. */
static int fail_res(PGconn *conn, PGresult *res, const char *what, tj_err *err)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int code = map_state(res);

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
	return code;
}

/* Hand over a result, or fail with it. */
static int finish_res(PGconn *conn, PGresult *res, const char *what, PGresult **out,
		      tj_err *err)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int code;

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		code = fail_res(conn, res, what, err);
		PQclear(res);
		return code;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int tj_pq(PGconn *conn, const char *what, const char *sql, int nparams,
	  const char *const *params, PGresult **out, tj_err *err)
{
	return finish_res(conn, PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0),
			  what, out, err);
}

/*
 * Which statements a connection has prepared: libpq instance data of an
 * event procedure, so the list lives and dies with the PGconn (a reset or
 * a new connection starts empty).
 */
struct prepared {
	const struct tj_stmt **stmts;
	size_t count, cap;
};

static int prepared_events(PGEventId id, void *info, void *pass)
{
	(void)pass;
	if (id == PGEVT_CONNRESET || id == PGEVT_CONNDESTROY) {
		PGconn *conn = id == PGEVT_CONNRESET ? ((PGEventConnReset *)info)->conn
						     : ((PGEventConnDestroy *)info)->conn;
		struct prepared *p = PQinstanceData(conn, prepared_events);

		if (p && id == PGEVT_CONNRESET) {
			p->count = 0;
		} else if (p) {
			free(p->stmts);
			free(p);
			PQsetInstanceData(conn, prepared_events, NULL);
		}
	}
	return 1;
}

static struct prepared *prepared_of(PGconn *conn)
{
	struct prepared *p = PQinstanceData(conn, prepared_events);

	if (p)
		return p;
	if (!(p = calloc(1, sizeof *p)))
		return NULL;
	if (!PQregisterEventProc(conn, prepared_events, "traject prepared statements", NULL) ||
	    !PQsetInstanceData(conn, prepared_events, p)) {
		free(p);
		return NULL;
	}
	return p;
}

static bool is_prepared(const struct prepared *p, const struct tj_stmt *stmt)
{
	for (size_t i = 0; i < p->count; i++)
		if (p->stmts[i] == stmt)
			return true;
	return false;
}

/* Note stmt as prepared on conn; 0 or TJ_ENOMEM. */
static int remember(struct prepared *p, const struct tj_stmt *stmt, const char *what, tj_err *err)
{
	if (p->count == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		const struct tj_stmt **s = realloc(p->stmts, cap * sizeof *s);

		if (!s)
			return tj_fail(err, TJ_ENOMEM, "%s: out of memory", what);
		p->stmts = s;
		p->cap = cap;
	}
	p->stmts[p->count++] = stmt;
	return 0;
}

int tj_pq_prepared_bin(PGconn *conn, const struct tj_stmt *stmt, const char *what, int nparams,
		       const char *const *params, const int *lengths, const int *formats,
		       PGresult **out, tj_err *err)
{
	struct prepared *p = prepared_of(conn);
	int r;

	if (!p)
		return tj_fail(err, TJ_ENOMEM, "%s: out of memory", what);
	if (!is_prepared(p, stmt)) {
		r = finish_res(conn, PQprepare(conn, stmt->name, stmt->sql, nparams, NULL), what,
			       NULL, err);
		if (r < 0 || (r = remember(p, stmt, what, err)) < 0)
			return r;
	}
	return finish_res(conn, PQexecPrepared(conn, stmt->name, nparams, params, lengths, formats, 0),
			  what, out, err);
}

int tj_pipe_begin(PGconn *conn, tj_err *err)
{
	if (!PQenterPipelineMode(conn))
		return tj_fail(err, TJ_EDB, "cannot send statements together: %s",
			       PQerrorMessage(conn));
	return 0;
}

int tj_pipe_add(PGconn *conn, const struct tj_stmt *stmt, const char *what, int nparams,
		const char *const *params, const int *lengths, const int *formats, tj_err *err)
{
	struct prepared *p = prepared_of(conn);
	int r;

	if (!p)
		return tj_fail(err, TJ_ENOMEM, "%s: out of memory", what);
	/* prepared in the pipeline too: a failure shows as that statement's error */
	if (!is_prepared(p, stmt)) {
		if (!PQsendPrepare(conn, stmt->name, stmt->sql, nparams, NULL))
			return tj_fail(err, TJ_EDB, "%s: %s", what, PQerrorMessage(conn));
		if ((r = remember(p, stmt, what, err)) < 0)
			return r;
	}
	if (!PQsendQueryPrepared(conn, stmt->name, nparams, params, lengths, formats, 0))
		return tj_fail(err, TJ_EDB, "%s: %s", what, PQerrorMessage(conn));
	return 0;
}

int tj_pipe_end(PGconn *conn, const char *what, tj_err *err)
{
	int r = 0;
	bool synced = false;

	if (!PQpipelineSync(conn))
		r = tj_fail(err, TJ_EDB, "%s: %s", what, PQerrorMessage(conn));
	/* every statement answers with its results and a NULL; the sync ends it */
	while (!synced && PQstatus(conn) == CONNECTION_OK) {
		PGresult *res = PQgetResult(conn);
		ExecStatusType st;

		if (!res)
			continue;
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC)
			synced = true;
		else if (r == 0 && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
			 st != PGRES_PIPELINE_ABORTED)
			r = fail_res(conn, res, what, err);
		PQclear(res);
	}
	if (!synced && r == 0)
		r = tj_fail(err, TJ_EDB, "%s: %s", what, PQerrorMessage(conn));
	if (!PQexitPipelineMode(conn) && r == 0)
		r = tj_fail(err, TJ_EDB, "%s: %s", what, PQerrorMessage(conn));
	return r;
}

int tj_pq_prepared(PGconn *conn, const struct tj_stmt *stmt, const char *what, int nparams,
		   const char *const *params, PGresult **out, tj_err *err)
{
	return tj_pq_prepared_bin(conn, stmt, what, nparams, params, NULL, NULL, out, err);
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
