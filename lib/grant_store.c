/*
 * Storing a validated grant decision as the next version of its grant.
 *
 * One transaction: make sure the grant row exists (ON CONFLICT DO NOTHING,
 * so two first loads of one id never meet a raw unique violation), lock
 * that row (serializes loaders of the same grant, so "previous version +
 * 1" is safe), take the shared register lock of docs/design.md, and only
 * then stamp known_at with clock_timestamp(): a report that fixed its
 * knowledge time K under the exclusive lock never misses a version
 * recorded at or before K. Nothing is ever updated: an amendment is a new
 * version with its own obligations and calendar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "traject/grant.h"
#include "traject/value.h"
#include "util.h"

static int insert_version(PGconn *conn, const char *key, const char *version, const tj_grant *g,
			  const char *source_name, const char *sha, char known_at[40], tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	char decision[11], start[11], end[11], amount[32], per[32], cost[32], target[16];
	const char *params[18];
	int r;

	snprintf(target, sizeof target, "%d", (int)g->target_trajectories);
	params[0] = key;
	params[1] = version;
	params[2] = source_name;
	params[3] = sha;
	params[4] = g->document;
	params[5] = g->title;
	params[6] = g->grantor;
	params[7] = g->grantee;
	params[8] = tj_date_format(g->decision_date, decision);
	params[9] = tj_date_format(g->period_start, start);
	params[10] = tj_date_format(g->period_end, end);
	params[11] = g->currency;
	params[12] = tj_money_format(g->amount_granted, amount);
	params[13] = target;
	params[14] = tj_money_format(g->amount_per_trajectory, per);
	params[15] = g->has_baseline_cost_per_child ? tj_money_format(g->baseline_cost_per_child, cost)
						    : NULL;
	params[16] = g->baseline_days_to_help;
	params[17] = g->baseline_indication_rate;
	r = tj_pq(conn, "storing the grant version",
		  "INSERT INTO traject.grant_versions (grant_key, version, known_at, source_name,"
		  " source_sha256, document, title, grantor, grantee, decision_date, period_start,"
		  " period_end, currency, amount_granted, target_trajectories,"
		  " amount_per_trajectory, baseline_cost_per_child, baseline_days_to_help,"
		  " baseline_indication_rate)"
		  " VALUES ($1, $2, clock_timestamp(), $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11,"
		  " $12, $13, $14, $15, $16, $17, $18)"
		  " RETURNING traject.iso_utc(known_at)",
		  (int)TJ_ARRAY_SIZE(params), params, &res, err);
	if (r < 0)
		return r;
	snprintf(known_at, 40, "%s", PQgetvalue(res, 0, 0));
	return 0;
}

static int insert_items(PGconn *conn, const char *key, const char *version, const tj_grant *g,
			tj_err *err)
{
	char due[11], as_of[11], pos[24];
	int r;

	for (size_t i = 0; i < g->n_obligations; i++) {
		const tj_obligation *o = &g->obligations[i];
		const char *params[] = { key, o->id, version, o->indicator, o->op, o->target,
					 tj_date_format(o->due, due), o->description, pos };

		snprintf(pos, sizeof pos, "%zu", i);
		r = tj_pq(conn, "storing an obligation",
			  "INSERT INTO traject.obligations (grant_key, id, version, indicator, op,"
			  " target, due, description, position)"
			  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			  (int)TJ_ARRAY_SIZE(params), params, NULL, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < g->n_reports; i++) {
		const tj_calendar_entry *c = &g->reports[i];
		const char *params[] = { key, c->id, version, c->kind, tj_date_format(c->as_of, as_of),
					 tj_date_format(c->due, due), pos };

		snprintf(pos, sizeof pos, "%zu", i);
		r = tj_pq(conn, "storing a calendar entry",
			  "INSERT INTO traject.calendar (grant_key, id, version, kind, as_of, due,"
			  " position) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			  (int)TJ_ARRAY_SIZE(params), params, NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The transaction body; the caller rolls back on failure. */
static int store(PGconn *conn, const tj_grant *g, const char *source_name, const char *sha,
		 tj_grant_stored *st, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[2] = { g->id, NULL };
	char key[24], version[16];
	int r, current = 0;

	r = tj_pq(conn, "creating the grant",
		  "INSERT INTO traject.grants (id, created_at) VALUES ($1, clock_timestamp())"
		  " ON CONFLICT (id) DO NOTHING",
		  1, params, NULL, err);
	if (r < 0)
		return r;
	/* NO KEY UPDATE: imports' foreign-key checks (KEY SHARE) need not wait. */
	r = tj_pq(conn, "locking the grant",
		  "SELECT grant_key FROM traject.grants WHERE id = $1 FOR NO KEY UPDATE", 1, params,
		  &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) /* row-level security hides another grantee's grant */
		return tj_fail(err, TJ_ENOTFOUND,
			       "the id belongs to a grant this role may not see (a grant of "
			       "another grantee: choose another id, or ask the owner to map this "
			       "role with 'trajectctl role grant-grantee')");
	snprintf(key, sizeof key, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	params[0] = key;
	r = tj_pq(conn, "taking the register lock",
		  "SELECT pg_advisory_xact_lock_shared(traject.lock_class(), $1::bigint::integer)", 1,
		  params, NULL, err);
	if (r < 0)
		return r;
	r = tj_pq(conn, "reading the current version",
		  "SELECT version, source_sha256, traject.iso_utc(known_at)"
		  " FROM traject.grant_versions WHERE grant_key = $1 ORDER BY version DESC LIMIT 1",
		  1, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		current = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
		if (strcmp(PQgetvalue(res, 0, 1), sha) == 0) {
			st->version = current;
			snprintf(st->known_at, sizeof st->known_at, "%s", PQgetvalue(res, 0, 2));
			return TJ_GRANT_UNCHANGED;
		}
	}
	st->version = current + 1;
	snprintf(version, sizeof version, "%d", st->version);
	r = insert_version(conn, key, version, g, source_name, sha, st->known_at, err);
	if (r < 0)
		return r;
	return insert_items(conn, key, version, g, err);
}

int tj_grant_store(PGconn *conn, const tj_grant *g, const char *source_name,
		   const char *source_sha256, tj_grant_stored *out, tj_err *err)
{
	tj_grant_stored st = { .n_obligations = g->n_obligations, .n_reports = g->n_reports };
	int r;

	snprintf(st.id, sizeof st.id, "%s", g->id);
	if ((r = tj_pq_cmd(conn, "BEGIN", err)) < 0)
		return r;
	r = store(conn, g, source_name, source_sha256, &st, err);
	if (r < 0 || r == TJ_GRANT_UNCHANGED) {
		tj_pq_rollback(conn);
		if (r < 0) {
			char why[sizeof err->msg];

			/* keep the server's words, add which grant */
			snprintf(why, sizeof why, "%s", err ? err->msg : "");
			return tj_fail(err, r, "grant %s: %s (nothing was stored)", g->id, why);
		}
	} else if ((r = tj_pq_cmd(conn, "COMMIT", err)) < 0) {
		return r;
	}
	if (out)
		*out = st;
	return r;
}

int tj_grant_load_file(PGconn *conn, const char *path, tj_diags *diags, tj_grant_stored *out,
		       tj_err *err)
{
	TJ_AUTOBUF tj_buf text = { 0 };
	tj_grant *g = NULL;
	const char *base = strrchr(path, '/');
	char sha[65];
	int r;

	/* the base name is stored (grant_versions.source_name): no BSN there either */
	if (tj_contains_bsn(base ? base + 1 : path))
		return tj_fail(err, TJ_EINVAL,
			       "the file name holds nine digits that pass the BSN eleven-test and "
			       "would be stored with the grant: rename the file (a possible citizen "
			       "service number is never stored); nothing was stored");
	if ((r = tj_read_file(path, &text, err)) < 0)
		return r;
	if ((r = tj_grant_parse(&g, path, text.data, text.len, diags, err)) < 0)
		return r;
	tj_sha256_hex(text.data, text.len, sha);
	r = tj_grant_store(conn, g, base ? base + 1 : path, sha, out, err);
	tj_grant_free(g);
	return r;
}
