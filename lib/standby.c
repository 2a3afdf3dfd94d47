/*
 * The knowledge time of a report on a hot standby (include/traject/standby.h
 * has the reasoning; docs/performance.md the deployment).
 *
 * In SQL terms: R = pg_last_xact_replay_timestamp(). The transactions the
 * standby knows to be running are those below its next transaction id N
 * that have not ended; "every one of them has ended" is exactly "the
 * snapshot's xmin has reached N". A standby's pg_current_snapshot() does
 * not list them (its xip is empty during recovery), and its xmax is only
 * one past the latest completed transaction, so N is read as
 * xmax + age(xmax): age() counts from the next transaction id, which
 * replay advances past every transaction id it sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "traject/standby.h"
#include "util.h"

/* R (and whether wanted is at or before it); 0 on a primary. */
static int replayed_until(PGconn *conn, const char *wanted, char out[static 40], tj_err *err)
{
	const char *params[] = { wanted };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	/* A primary answers one cheap question and is left alone after it. */
	r = tj_pq(conn, "asking whether the database is a standby", "SELECT pg_is_in_recovery()",
		  0, NULL, &res, err);
	if (r < 0)
		return r;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		return 0;
	PQclear(res);
	res = NULL;
	r = tj_pq(conn, "reading how far the standby has replayed",
		  "SELECT true, traject.iso_utc(pg_last_xact_replay_timestamp()),"
		  " $1::timestamptz <= pg_last_xact_replay_timestamp()",
		  1, params, &res, err);
	if (r < 0)
		return r;
	if (PQgetisnull(res, 0, 1))
		return tj_fail(err, TJ_ECONFLICT,
			       "this standby has replayed no transaction of the primary since it "
			       "started, so it cannot tell what the primary has recorded: try again "
			       "once the primary has written something, or run the command against "
			       "the primary");
	if (wanted && strcmp(PQgetvalue(res, 0, 2), "t") != 0)
		return tj_fail(err, TJ_ECONFLICT,
			       "this standby has replayed the primary only up to %s, so a report "
			       "known at %s could still change here: give --known-at %s or earlier, "
			       "or run the report against the primary",
			       PQgetvalue(res, 0, 1), wanted, PQgetvalue(res, 0, 1));
	snprintf(out, 40, "%s", wanted ? wanted : PQgetvalue(res, 0, 1));
	return TJ_STANDBY;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until every transaction the standby knew at this point has ended. */
static int wait_for_writers(PGconn *conn, int wait_ms, tj_err *err)
{
	TJ_AUTORES PGresult *next = NULL;
	const char *params[1];
	long waited = 0, pause = 1;
	int r;

	r = tj_pq(conn, "reading the standby's transaction horizon",
		  "SELECT (pg_snapshot_xmax(s)::text::bigint + age(xid(pg_snapshot_xmax(s))))::text"
		  " FROM pg_current_snapshot() s",
		  0, NULL, &next, err);
	if (r < 0)
		return r;
	params[0] = PQgetvalue(next, 0, 0);
	for (;;) {
		TJ_AUTORES PGresult *res = NULL;

		/* Each autocommitted statement takes a fresh snapshot. */
		r = tj_pq(conn, "waiting for the primary's open transactions",
			  "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= $1::bigint",
			  1, params, &res, err);
		if (r < 0)
			return r;
		if (!strcmp(PQgetvalue(res, 0, 0), "t"))
			return 0;
		if (waited >= wait_ms)
			return tj_fail(err, TJ_ECONFLICT,
				       "this standby still replays transactions that were open on the "
				       "primary %d ms ago (an import, or a session left idle in a "
				       "transaction): try again, give an earlier --known-at, or run the "
				       "command against the primary",
				       wait_ms);
		sleep_ms(pause);
		waited += pause;
		pause = pause < 64 ? pause * 2 : 64; /* short waits stay short */
	}
}

int tj_standby_known_at(PGconn *conn, const char *wanted, int wait_ms, char out[static 40],
			tj_err *err)
{
	char k[40] = "";
	int r;

	out[0] = '\0';
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		return tj_fail(err, TJ_EUSAGE, "the standby check runs outside a transaction");
	if ((r = replayed_until(conn, wanted, k, err)) <= 0)
		return r;
	/* After R was read: every writer with rows recorded at or before R is known now. */
	if ((r = wait_for_writers(conn, wait_ms, err)) < 0)
		return r;
	snprintf(out, 40, "%s", k);
	return TJ_STANDBY;
}
