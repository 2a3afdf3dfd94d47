/*
 * Schema migrations: numbered SQL files compiled into the library, applied
 * in order, each in its own transaction together with its row in
 * traject.schema_migrations. A transaction-level advisory lock serializes
 * concurrent migrators; a database that is newer than this binary is
 * refused, never "downgraded".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "migrate_private.h"
#include "traject/db.h"
#include "util.h"

#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(1414678595, 0)"

int tj_schema_version(void)
{
	return tj_migrations_count;
}

/* Highest applied version, 0 for a database without the schema. */
static int db_version(PGconn *conn, int *version, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(conn, "reading the schema version",
		  "SELECT to_regclass('traject.schema_migrations') IS NOT NULL", 0, NULL, &res, err);
	if (r < 0)
		return r;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		*version = 0;
		return 0;
	}
	PQclear(res);
	res = NULL;
	r = tj_pq(conn, "reading the schema version",
		  "SELECT coalesce(max(version), 0) FROM traject.schema_migrations", 0, NULL, &res,
		  err);
	if (r < 0)
		return r;
	*version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	return 0;
}

static int newer_than_binary(int version, tj_err *err)
{
	return tj_fail(err, TJ_ESCHEMA,
		       "the database has schema version %d but this program knows schema versions "
		       "only up to %d: upgrade trajectd (trajectd and trajectctl are one package) "
		       "before using this database",
		       version, tj_migrations_count);
}

static int apply_one(PGconn *conn, const struct tj_migration *m, int *applied, tj_err *err)
{
	char vbuf[16];
	const char *params[2] = { vbuf, m->name };
	int version = 0, r;

	if ((r = tj_pq_cmd(conn, "BEGIN", err)) < 0)
		return r;
	if ((r = tj_pq_cmd(conn, MIGRATE_LOCK, err)) < 0 ||
	    (r = tj_pq_cmd(conn, "CREATE SCHEMA IF NOT EXISTS traject", err)) < 0 ||
	    (r = tj_pq_cmd(conn,
			   "CREATE TABLE IF NOT EXISTS traject.schema_migrations ("
			   " version integer PRIMARY KEY, name text NOT NULL,"
			   " applied_at timestamptz NOT NULL DEFAULT now())",
			   err)) < 0 ||
	    (r = db_version(conn, &version, err)) < 0)
		goto fail;
	if (version > tj_migrations_count) {
		r = newer_than_binary(version, err);
		goto fail;
	}
	if (version >= m->version) /* someone else applied it meanwhile */
		return tj_pq_cmd(conn, "COMMIT", err);
	{
		PGresult *res = PQexec(conn, m->sql);

		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
			r = tj_fail(err, TJ_EDB, "migration %03d_%s failed: %s", m->version, m->name,
				    PQresultErrorMessage(res));
			PQclear(res);
			goto fail;
		}
		PQclear(res);
	}
	snprintf(vbuf, sizeof vbuf, "%d", m->version);
	if ((r = tj_pq(conn, "recording the migration",
		       "INSERT INTO traject.schema_migrations (version, name) VALUES ($1, $2)", 2,
		       params, NULL, err)) < 0)
		goto fail;
	if ((r = tj_pq_cmd(conn, "COMMIT", err)) < 0)
		goto fail;
	(*applied)++;
	return 0;
fail:
	tj_pq_rollback(conn);
	return r;
}

int tj_migrate(PGconn *conn, int *applied, tj_err *err)
{
	int version = 0, count = 0, r;

	if ((r = db_version(conn, &version, err)) < 0)
		return r;
	if (version > tj_migrations_count)
		return newer_than_binary(version, err);
	for (int i = version; i < tj_migrations_count; i++) {
		if ((r = apply_one(conn, &tj_migrations[i], &count, err)) < 0)
			return r;
	}
	if (applied)
		*applied = count;
	return 0;
}

int tj_schema_check(PGconn *conn, tj_err *err)
{
	int version = 0, r;

	if ((r = db_version(conn, &version, err)) < 0)
		return r;
	if (version > tj_migrations_count)
		return newer_than_binary(version, err);
	if (version < tj_migrations_count)
		return tj_fail(err, TJ_ESCHEMA,
			       "the database schema is at version %d, this binary needs %d: "
			       "run 'trajectctl migrate' first",
			       version, tj_migrations_count);
	return 0;
}
