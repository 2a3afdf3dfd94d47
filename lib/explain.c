/*
 * Explanations of performance obligations (include/traject/explain.h):
 * the text check and the append-only write. The write is a register write
 * like an import or a void (tj_register_begin: the shared lock, then the
 * clock), so a report's knowledge time K orders it exactly.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "report_private.h"
#include "traject/events.h"
#include "traject/explain.h"
#include "traject/value.h"
#include "util.h"

int tj_explain_check(const char *text, tj_err *err)
{
	size_t chars = 0;
	bool blank = true;

	if (!text)
		return tj_fail(err, TJ_EINVAL, "no explanation given (--text TEXT or --file FILE)");
	/* the report writers' own rule for strings: valid UTF-8, XML-safe */
	if (!tj_rtext_valid(TJ_R_STRING, text))
		return tj_fail(err, TJ_EINVAL,
			       "the explanation is not valid UTF-8 text or holds control characters "
			       "(write plain text; tab and newline are allowed)");
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if ((*p & 0xc0) != 0x80)
			chars++;
		if (*p == '\r')
			return tj_fail(err, TJ_EINVAL,
				       "the explanation holds a carriage return (save the text with "
				       "plain newlines)");
		if (*p != ' ' && *p != '\t' && *p != '\n')
			blank = false;
	}
	if (blank)
		return tj_fail(err, TJ_EINVAL,
			       "the explanation is empty (write why the obligation is not met)");
	if (chars > TJ_EXPLAIN_MAX_CHARS)
		return tj_fail(err, TJ_EINVAL,
			       "the explanation has %zu characters, more than %d (shorten it)", chars,
			       TJ_EXPLAIN_MAX_CHARS);
	if (tj_contains_bsn(text))
		return tj_fail(err, TJ_EINVAL,
			       "the explanation holds nine digits that pass the BSN eleven-test: a "
			       "possible citizen service number (never record a BSN: write the "
			       "explanation without it)");
	return 0;
}

/* The obligation in the grant's newest version; the ids listed when it is not there. */
static int find_obligation(PGconn *conn, const char *key, const char *grant_id,
			   const char *obligation_id, int *version, tj_err *err)
{
	const char *params[] = { key, obligation_id };
	TJ_AUTORES PGresult *res = NULL;
	int r;

	r = tj_pq(conn, "finding the obligation",
		  "SELECT v.version, bool_or(o.id = $2),"
		  " string_agg(o.id, ', ' ORDER BY o.position)"
		  " FROM (SELECT gv.version FROM traject.grant_versions gv WHERE gv.grant_key = $1"
		  "       ORDER BY gv.version DESC LIMIT 1) v"
		  " LEFT JOIN traject.obligations o ON o.grant_key = $1 AND o.version = v.version"
		  " GROUP BY v.version",
		  2, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		return tj_fail(err, TJ_ENOTFOUND, "grant %s has no version", grant_id);
	*version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		return tj_fail(err, TJ_ENOTFOUND,
			       "grant %s has no obligation '%s' (version %d); its obligations are: %s",
			       grant_id, obligation_id, *version,
			       tj_pq_get(res, 0, 2) ? tj_pq_get(res, 0, 2) : "none");
	return 0;
}

int tj_explain_add(PGconn *conn, const char *grant_id, const char *obligation_id,
		   const char *text, tj_explain_stored *out, tj_err *err)
{
	char key[24], now[64];
	const char *params[] = { key, obligation_id, text, now };
	TJ_AUTORES PGresult *res = NULL;
	int r, version = 0;

	if (!grant_id || !*grant_id)
		return tj_fail(err, TJ_EINVAL, "an explanation needs a grant id (--grant ID)");
	if (!obligation_id || !tj_ref_valid(obligation_id))
		return tj_fail(err, TJ_EINVAL,
			       "'%s' is not an obligation id (use the id of the grant decision, "
			       "e.g. P2)",
			       obligation_id ? obligation_id : "");
	if ((r = tj_explain_check(text, err)) < 0)
		return r;
	if ((r = tj_register_begin(conn, grant_id, key, now, err)) < 0)
		return r;
	if ((r = find_obligation(conn, key, grant_id, obligation_id, &version, err)) < 0)
		goto fail;
	r = tj_pq(conn, "recording the explanation",
		  "WITH ins AS (INSERT INTO traject.explanations"
		  "   (grant_key, obligation_id, body, recorded_at) VALUES ($1, $2, $3, $4)"
		  "   RETURNING recorded_at)"
		  " SELECT traject.iso_utc(ins.recorded_at),"
		  "  1 + (SELECT count(*) FROM traject.explanations x"
		  "       WHERE x.grant_key = $1 AND x.obligation_id = $2)"
		  " FROM ins",
		  4, params, &res, err);
	if (r < 0 || (r = tj_pq_cmd(conn, "COMMIT", err)) < 0)
		goto fail;
	if (out) {
		snprintf(out->recorded_at, sizeof out->recorded_at, "%s", PQgetvalue(res, 0, 0));
		out->count = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
		out->version = version;
	}
	return 0;
fail:
	tj_pq_rollback(conn);
	return r;
}
