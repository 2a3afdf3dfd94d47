/* Private libpq helpers: parameterised statements that fill a tj_err. */
#ifndef TJ_DB_PRIVATE_H
#define TJ_DB_PRIVATE_H

#include <libpq-fe.h>

#include "traject/error.h"

/*
 * The settings of every session libtraject opens (tj_db_connect,
 * tj_db_connect_start): UTC and ISO dates, so text results have one
 * spelling; all float digits; warnings only. And generic plans for
 * prepared statements: their plans do not depend on the values (one
 * grant's rows through its indexes), so a long-lived session (trajectd)
 * plans each of them once instead of for every grant.
 */
#define TJ_SESSION_OPTIONS                                                          \
	"-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3"               \
	" -c client_min_messages=warning -c plan_cache_mode=force_generic_plan"

/*
 * The connection defaults of every session libtraject opens, so a database
 * host that goes silent (a partition, a frozen VM) breaks the session
 * instead of leaving a read waiting forever: TCP keepalives (first probe
 * after 30 s idle, then every 10 s, given up after 3 unanswered: a dead
 * idle connection is noticed in about a minute), tcp_user_timeout (data
 * sent and not acknowledged for 60 s breaks the connection) and
 * connect_timeout (10 s per address for a blocking connect). A value the
 * conninfo sets wins, and so does PGCONNECT_TIMEOUT for connect_timeout.
 * docs/daemon.md and trajectd.conf(5) list them.
 */
#define TJ_DB_KEEPALIVES_IDLE_S "30"
#define TJ_DB_KEEPALIVES_INTERVAL_S "10"
#define TJ_DB_KEEPALIVES_COUNT "3"
#define TJ_DB_TCP_USER_TIMEOUT_MS "60000"
#define TJ_DB_CONNECT_TIMEOUT_S "10"

/* libpq keyword/value arrays for a session: the defaults, conninfo, the session settings. */
#define TJ_DB_PARAMS 11
void tj_db_params(const char *keys[TJ_DB_PARAMS + 1], const char *vals[TJ_DB_PARAMS + 1],
		  const char *conninfo, const char *app_name);

/*
 * Run one parameterised statement (text parameters, text results).
 * On success *out (if not NULL) owns the result. On failure fills err with
 * "what: <server message>" and returns TJ_EDB (TJ_ECONFLICT for a
 * serialization or unique violation).
 */
int tj_pq(PGconn *conn, const char *what, const char *sql, int nparams,
	  const char *const *params, PGresult **out, tj_err *err);

/*
 * A statement prepared once per connection and run by name afterwards, so
 * a long-lived session (the daemon) plans it once. Give each one static
 * storage: its address identifies it.
 */
struct tj_stmt {
	const char *name; /* unique, e.g. "tj_report_data" */
	const char *sql;
};

/* tj_pq() for a prepared statement: prepares it on first use on conn. */
int tj_pq_prepared(PGconn *conn, const struct tj_stmt *stmt, const char *what, int nparams,
		   const char *const *params, PGresult **out, tj_err *err);

/*
 * The same with some parameters in binary: lengths[i] and formats[i] as
 * PQexecPrepared takes them (formats[i] 1: params[i] is lengths[i] raw
 * bytes, e.g. a bytea without hex encoding; 0: text, length ignored).
 */
int tj_pq_prepared_bin(PGconn *conn, const struct tj_stmt *stmt, const char *what, int nparams,
		       const char *const *params, const int *lengths, const int *formats,
		       PGresult **out, tj_err *err);

/*
 * A pipeline: statements sent one after the other without waiting, and
 * their results read together at tj_pipe_end (one round trip instead of
 * one per statement). Only prepared statements whose results nobody needs
 * (INSERT, COMMIT, ...). tj_pipe_end returns the first failure (the server
 * skips what follows it: end a transaction with ROLLBACK then) and always
 * leaves pipeline mode.
 */
int tj_pipe_begin(PGconn *conn, tj_err *err);
int tj_pipe_add(PGconn *conn, const struct tj_stmt *stmt, const char *what, int nparams,
		const char *const *params, const int *lengths, const int *formats, tj_err *err);
int tj_pipe_end(PGconn *conn, const char *what, tj_err *err);

/* Run a statement without parameters or results (BEGIN, COMMIT, ...). */
int tj_pq_cmd(PGconn *conn, const char *sql, tj_err *err);

/* ROLLBACK whatever is open; never fails loudly (used on error paths). */
void tj_pq_rollback(PGconn *conn);

/* Value of row r, column c, or NULL when SQL NULL. */
const char *tj_pq_get(const PGresult *res, int r, int c);

#endif
