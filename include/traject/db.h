/*
 * Database access of libtraject: connecting, the schema migrations, and
 * the schema check every command makes before it touches data.
 */
#ifndef TRAJECT_DB_H
#define TRAJECT_DB_H

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Connect as libpq does (conninfo may be NULL or "" for the PG* environment),
 * with UTF-8, UTC and ISO dates set for the session.
 */
int tj_db_connect(PGconn **out, const char *conninfo, const char *app_name, tj_err *err);

/* The schema version this binary was built for. */
int tj_schema_version(void);

/*
 * Create or upgrade the schema: each pending migration in its own
 * transaction, serialized by an advisory lock so concurrent callers are
 * safe. Refuses (TJ_ESCHEMA) a database newer than this binary.
 * *applied (if not NULL) receives how many migrations ran.
 */
int tj_migrate(PGconn *conn, int *applied, tj_err *err);

/* 0 when the database has exactly this binary's schema; TJ_ESCHEMA otherwise. */
int tj_schema_check(PGconn *conn, tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
