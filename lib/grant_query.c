/*
 * Reading grants back: the list of grants with their current version
 * (trajectctl grant list) and where each grant stands (trajectctl status):
 * register counts, the last import and the current calendar. Until the
 * delivery work records report states, every calendar entry is
 * "scheduled" with no attempts; "late" is its due date before today.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "traject/grant.h"
#include "util.h"

static long num(const PGresult *res, int r, int c)
{
	const char *s = tj_pq_get(res, r, c);

	return s ? strtol(s, NULL, 10) : 0;
}

static void copy(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

/* strdup of a nullable column; false on out of memory. */
static bool dup_col(char **out, const PGresult *res, int r, int c)
{
	const char *s = tj_pq_get(res, r, c);

	*out = s ? strdup(s) : NULL;
	return !s || *out;
}

void tj_grant_summaries_free(tj_grant_summary *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		free(s[i].id);
		free(s[i].title);
		free(s[i].grantor);
		free(s[i].grantee);
	}
	free(s);
}

int tj_grant_list(PGconn *conn, tj_grant_summary **out, size_t *n, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	tj_grant_summary *s;
	size_t rows;
	int r;

	r = tj_pq(conn, "listing the grants",
		  "SELECT g.id, v.title, v.grantor, v.grantee, v.period_start::text,"
		  " v.period_end::text, v.amount_granted::text, v.target_trajectories, v.version,"
		  " traject.iso_utc(v.known_at)"
		  " FROM traject.grants g CROSS JOIN LATERAL ("
		  "   SELECT * FROM traject.grant_versions gv WHERE gv.grant_key = g.grant_key"
		  "   ORDER BY gv.version DESC LIMIT 1) v"
		  " ORDER BY g.id COLLATE \"C\"",
		  0, NULL, &res, err);
	if (r < 0)
		return r;
	rows = (size_t)PQntuples(res);
	if (!(s = calloc(rows ? rows : 1, sizeof *s)))
		return tj_fail(err, TJ_ENOMEM, "out of memory listing the grants");
	for (size_t i = 0; i < rows; i++) {
		int row = (int)i;

		if (!dup_col(&s[i].id, res, row, 0) || !dup_col(&s[i].title, res, row, 1) ||
		    !dup_col(&s[i].grantor, res, row, 2) || !dup_col(&s[i].grantee, res, row, 3)) {
			tj_grant_summaries_free(s, rows);
			return tj_fail(err, TJ_ENOMEM, "out of memory listing the grants");
		}
		copy(s[i].period_start, sizeof s[i].period_start, tj_pq_get(res, row, 4));
		copy(s[i].period_end, sizeof s[i].period_end, tj_pq_get(res, row, 5));
		copy(s[i].amount_granted, sizeof s[i].amount_granted, tj_pq_get(res, row, 6));
		s[i].target_trajectories = (int)num(res, row, 7);
		s[i].version = (int)num(res, row, 8);
		copy(s[i].known_at, sizeof s[i].known_at, tj_pq_get(res, row, 9));
	}
	*out = s;
	*n = rows;
	return 0;
}

void tj_grant_status_free(tj_grant_status *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < s[i].n_reports; j++) {
			free(s[i].reports[j].id);
			free(s[i].reports[j].kind);
			free(s[i].reports[j].delivered_at);
			free(s[i].reports[j].last_error);
		}
		free(s[i].reports);
		free(s[i].id);
		free(s[i].grantor);
		free(s[i].grantee);
		free(s[i].import_file);
	}
	free(s);
}

/* The calendar of the grant's current version, in the file's order. */
static int read_calendar(PGconn *conn, const char *key, int version, const char *time_zone,
			 tj_grant_status *st, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	char ver[16];
	const char *params[] = { key, ver, time_zone };
	size_t rows;
	int r;

	snprintf(ver, sizeof ver, "%d", version);
	r = tj_pq(conn, "reading the reporting calendar",
		  "SELECT id, kind, as_of::text, due::text,"
		  " due < (now() AT TIME ZONE $3)::date"
		  " FROM traject.calendar WHERE grant_key = $1 AND version = $2 ORDER BY position",
		  3, params, &res, err);
	if (r < 0)
		return r;
	rows = (size_t)PQntuples(res);
	if (!(st->reports = calloc(rows ? rows : 1, sizeof *st->reports)))
		return tj_fail(err, TJ_ENOMEM, "out of memory reading the calendar");
	st->n_reports = rows;
	for (size_t i = 0; i < rows; i++) {
		tj_report_status *rs = &st->reports[i];
		int row = (int)i;

		if (!dup_col(&rs->id, res, row, 0) || !dup_col(&rs->kind, res, row, 1))
			return tj_fail(err, TJ_ENOMEM, "out of memory reading the calendar");
		copy(rs->as_of, sizeof rs->as_of, tj_pq_get(res, row, 2));
		copy(rs->due, sizeof rs->due, tj_pq_get(res, row, 3));
		rs->state = "scheduled";
		rs->attempts = 0;
		rs->delivered_at = NULL;
		rs->last_error = NULL;
		rs->late = strcmp(PQgetvalue(res, row, 4), "t") == 0 && !rs->delivered_at;
	}
	return 0;
}

static int status_read(PGconn *conn, const char *grant_id, const char *time_zone,
		       tj_grant_status **out, size_t *n, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[] = { grant_id };
	tj_grant_status *s;
	size_t rows;
	int r;

	r = tj_pq(conn, "reading the grants' status",
		  "SELECT g.grant_key, g.id, v.grantor, v.grantee, v.period_start::text,"
		  " v.period_end::text, v.version,"
		  " (SELECT count(*) FROM traject.trajectories t WHERE t.grant_key = g.grant_key),"
		  " (SELECT count(*) FROM traject.events e WHERE e.grant_key = g.grant_key"
		  "   AND NOT EXISTS (SELECT 1 FROM traject.voids x WHERE x.event_id = e.event_id)),"
		  " (SELECT count(*) FROM traject.voids x WHERE x.grant_key = g.grant_key),"
		  " b.file_name, b.row_count, traject.iso_utc(b.recorded_at)"
		  " FROM traject.grants g"
		  " CROSS JOIN LATERAL (SELECT * FROM traject.grant_versions gv"
		  "   WHERE gv.grant_key = g.grant_key ORDER BY gv.version DESC LIMIT 1) v"
		  " LEFT JOIN LATERAL (SELECT * FROM traject.import_batches ib"
		  "   WHERE ib.grant_key = g.grant_key"
		  "   ORDER BY ib.recorded_at DESC, ib.batch_id DESC LIMIT 1) b ON true"
		  " WHERE $1::text IS NULL OR g.id = $1"
		  " ORDER BY g.id COLLATE \"C\"",
		  1, params, &res, err);
	if (r < 0)
		return r;
	rows = (size_t)PQntuples(res);
	if (grant_id && rows == 0)
		return tj_fail(err, TJ_ENOTFOUND, "no grant '%s': see 'trajectctl grant list'",
			       grant_id);
	if (!(s = calloc(rows ? rows : 1, sizeof *s)))
		return tj_fail(err, TJ_ENOMEM, "out of memory reading the status");
	for (size_t i = 0; i < rows; i++) {
		tj_grant_status *st = &s[i];
		int row = (int)i;

		if (!dup_col(&st->id, res, row, 1) || !dup_col(&st->grantor, res, row, 2) ||
		    !dup_col(&st->grantee, res, row, 3) || !dup_col(&st->import_file, res, row, 10)) {
			tj_grant_status_free(s, rows);
			return tj_fail(err, TJ_ENOMEM, "out of memory reading the status");
		}
		copy(st->period_start, sizeof st->period_start, tj_pq_get(res, row, 4));
		copy(st->period_end, sizeof st->period_end, tj_pq_get(res, row, 5));
		st->version = (int)num(res, row, 6);
		st->trajectories = num(res, row, 7);
		st->events = num(res, row, 8);
		st->voided = num(res, row, 9);
		st->has_import = st->import_file != NULL;
		st->import_rows = num(res, row, 11);
		copy(st->import_recorded_at, sizeof st->import_recorded_at, tj_pq_get(res, row, 12));
		r = read_calendar(conn, PQgetvalue(res, row, 0), st->version, time_zone, st, err);
		if (r < 0) {
			tj_grant_status_free(s, rows);
			return r;
		}
	}
	*out = s;
	*n = rows;
	return 0;
}

int tj_grant_status_read(PGconn *conn, const char *grant_id, const char *time_zone,
			 tj_grant_status **out, size_t *n, tj_err *err)
{
	int r;

	/* one snapshot, so the counts and the calendar agree with each other */
	r = tj_pq_cmd(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	if (r < 0)
		return r;
	r = status_read(conn, grant_id, time_zone ? time_zone : "Europe/Amsterdam", out, n, err);
	tj_pq_rollback(conn); /* read only: nothing to commit */
	return r;
}
