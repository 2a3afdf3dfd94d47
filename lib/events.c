/*
 * The events of a grant's register: the write transaction shared by import
 * and void, the streamed listing behind `trajectctl events`, and voiding an
 * event by a recorded correction (the register itself is never updated).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "traject/events.h"
#include "traject/value.h"
#include "util.h"

static int no_grant(const char *grant_id, tj_err *err)
{
	return tj_fail(err, TJ_ENOTFOUND, "no grant '%s': load it first with 'trajectctl grant load'",
		       grant_id);
}

/* grant_key of grant_id as text into key; TJ_ENOTFOUND when there is none. */
static int grant_key(PGconn *conn, const char *grant_id, char key[static 24], tj_err *err)
{
	const char *params[] = { grant_id };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(conn, "finding the grant", "SELECT grant_key FROM traject.grants WHERE id = $1", 1,
		  params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0)
		return no_grant(grant_id, err);
	snprintf(key, 24, "%s", PQgetvalue(res, 0, 0));
	return 0;
}

int tj_register_begin(PGconn *conn, const char *grant_id, char key[static 24],
		      char now[static 64], tj_err *err)
{
	const char *params[1] = { key };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	if ((r = tj_pq_cmd(conn, "BEGIN", err)) < 0)
		return r;
	if ((r = grant_key(conn, grant_id, key, err)) < 0 ||
	    (r = tj_pq(conn, "locking the grant",
		       "SELECT pg_advisory_xact_lock_shared(traject.lock_class(), $1::bigint::integer)",
		       1, params, NULL, err)) < 0 ||
	    (r = tj_pq(conn, "locking the grant",
		       "SELECT 1 FROM traject.grants WHERE grant_key = $1 FOR NO KEY UPDATE", 1,
		       params, NULL, err)) < 0 ||
	    (r = tj_pq(conn, "reading the clock", "SELECT clock_timestamp()", 0, NULL, &res,
		       err)) < 0) {
		tj_pq_rollback(conn);
		return r;
	}
	snprintf(now, 64, "%s", PQgetvalue(res, 0, 0));
	return 0;
}

static const char list_sql[] =
	"SELECT e.event_id, t.ref, to_char(e.event_date, 'YYYY-MM-DD'), e.kind,"
	"  coalesce(e.value, e.amount::text), traject.iso_utc(e.recorded_at),"
	"  v.event_id IS NOT NULL, v.reason, traject.iso_utc(v.recorded_at),"
	"  max(length(e.event_id::text)) OVER (), max(length(t.ref)) OVER (),"
	"  max(length(e.kind)) OVER (), max(length(coalesce(e.value, e.amount::text))) OVER (),"
	"  max(length(traject.iso_utc(e.recorded_at))) OVER ()"
	" FROM traject.events e"
	" JOIN traject.trajectories t ON t.traj_key = e.traj_key"
	" LEFT JOIN traject.voids v ON v.event_id = e.event_id"
	" WHERE e.grant_key = $1 AND ($2::text IS NULL OR t.ref = $2)"
	" ORDER BY t.ref COLLATE \"C\", e.event_date, e.event_id";

static int width(const PGresult *res, int row, int col)
{
	const char *v = tj_pq_get(res, row, col);

	return v ? (int)strtol(v, NULL, 10) : 0;
}

static int one_event(const PGresult *res, tj_event_fn fn, void *ctx, tj_err *err)
{
	struct tj_event ev = {
		.id = strtoll(PQgetvalue(res, 0, 0), NULL, 10),
		.trajectory = PQgetvalue(res, 0, 1),
		.date = PQgetvalue(res, 0, 2),
		.event = PQgetvalue(res, 0, 3),
		.value = tj_pq_get(res, 0, 4),
		.recorded_at = PQgetvalue(res, 0, 5),
		.voided = !strcmp(PQgetvalue(res, 0, 6), "t"),
		.void_reason = tj_pq_get(res, 0, 7),
		.voided_at = tj_pq_get(res, 0, 8),
		.widths = { width(res, 0, 9), width(res, 0, 10), width(res, 0, 11),
			    width(res, 0, 12), width(res, 0, 13) },
	};

	return fn(ctx, &ev, err);
}

int tj_events_list(PGconn *conn, const char *grant_id, const char *trajectory, tj_event_fn fn,
		   void *ctx, tj_err *err)
{
	char key[24];
	const char *params[] = { key, trajectory };
	PGresult *res;
	int r;

	if ((r = grant_key(conn, grant_id, key, err)) < 0)
		return r;
	/* One row at a time: a register of a million events is not held in memory. */
	if (!PQsendQueryParams(conn, list_sql, 2, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn))
		return tj_fail(err, TJ_EDB, "listing the events: %s", PQerrorMessage(conn));
	while ((res = PQgetResult(conn))) {
		ExecStatusType st = PQresultStatus(res);

		if (r == 0 && st == PGRES_SINGLE_TUPLE)
			r = one_event(res, fn, ctx, err);
		else if (r == 0 && st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE)
			r = tj_fail(err, TJ_EDB, "listing the events: %s", PQresultErrorMessage(res));
		PQclear(res); /* after a failure: drain the rest */
	}
	return r;
}

static int check_reason(const char *reason, tj_err *err)
{
	size_t n = strlen(reason);
	bool blank = true;

	for (const char *p = reason; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			return tj_fail(err, TJ_EINVAL,
				       "the reason must be one line of text without control "
				       "characters (say briefly why the event is wrong)");
		if (c != ' ')
			blank = false;
	}
	if (blank)
		return tj_fail(err, TJ_EINVAL,
			       "the reason is empty (say why the event is wrong: --reason TEXT)");
	if (n > TJ_VOID_REASON_MAX)
		return tj_fail(err, TJ_EINVAL, "the reason is longer than %d bytes (say it briefly)",
			       TJ_VOID_REASON_MAX);
	if (tj_contains_bsn(reason))
		return tj_fail(err, TJ_EINVAL,
			       "the reason holds nine digits that pass the BSN eleven-test: a "
			       "possible citizen service number (never record a BSN: describe the "
			       "correction without it)");
	return 0;
}

int tj_event_void(PGconn *conn, const char *grant_id, long long event_id, const char *reason,
		  struct tj_void_result *out, tj_err *err)
{
	char key[24], now[64], id[24];
	const char *params[] = { key, id, reason, now };
	TJ_AUTORES PGresult *ev = NULL;
	TJ_AUTORES PGresult *ins = NULL;
	int r;

	if ((r = check_reason(reason, err)) < 0)
		return r;
	snprintf(id, sizeof id, "%lld", event_id);
	if ((r = tj_register_begin(conn, grant_id, key, now, err)) < 0)
		return r;
	r = tj_pq(conn, "finding the event",
		  "SELECT t.ref, to_char(e.event_date, 'YYYY-MM-DD'), e.kind,"
		  "  traject.iso_utc(v.recorded_at), v.reason"
		  " FROM traject.events e"
		  " JOIN traject.trajectories t ON t.traj_key = e.traj_key"
		  " LEFT JOIN traject.voids v ON v.event_id = e.event_id"
		  " WHERE e.grant_key = $1 AND e.event_id = $2",
		  2, params, &ev, err);
	if (r < 0)
		goto fail;
	if (PQntuples(ev) == 0) {
		r = tj_fail(err, TJ_ENOTFOUND,
			    "grant '%s' has no event %lld (list its events with 'trajectctl events "
			    "--grant %s')",
			    grant_id, event_id, grant_id);
		goto fail;
	}
	if (!PQgetisnull(ev, 0, 3)) {
		r = tj_fail(err, TJ_ECONFLICT, "event %lld was already voided on %s: %s (nothing to do: a void "
			    "is final; if the right event is missing, import it in a new file)",
			    event_id, PQgetvalue(ev, 0, 3), PQgetvalue(ev, 0, 4));
		goto fail;
	}
	r = tj_pq(conn, "recording the void",
		  "INSERT INTO traject.voids (grant_key, event_id, reason, recorded_at)"
		  " VALUES ($1, $2, $3, $4) RETURNING traject.iso_utc(recorded_at)",
		  4, params, &ins, err);
	if (r < 0 || (r = tj_pq_cmd(conn, "COMMIT", err)) < 0)
		goto fail;
	snprintf(out->trajectory, sizeof out->trajectory, "%s", PQgetvalue(ev, 0, 0));
	snprintf(out->date, sizeof out->date, "%s", PQgetvalue(ev, 0, 1));
	snprintf(out->event, sizeof out->event, "%s", PQgetvalue(ev, 0, 2));
	snprintf(out->recorded_at, sizeof out->recorded_at, "%s", PQgetvalue(ins, 0, 0));
	return 0;
fail:
	tj_pq_rollback(conn);
	return r;
}
