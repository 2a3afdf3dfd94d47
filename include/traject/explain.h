/*
 * The grantee's explanations of performance obligations (docs/reports.md
 * "Explanations"): `trajectctl explain` records one; a report carries, for
 * each obligation whose status is not_met or at_risk, the newest
 * explanation recorded at or before its knowledge time K. Append-only:
 * a new explanation replaces an older one for later reports, and nothing
 * is ever changed or removed (sql/006_explanations.sql).
 */
#ifndef TRAJECT_EXPLAIN_H
#define TRAJECT_EXPLAIN_H

#include <stddef.h>

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest explanation, in characters (a page of text). */
#define TJ_EXPLAIN_MAX_CHARS 4000

/* What tj_explain_add stored. */
typedef struct tj_explain_stored {
	char recorded_at[40]; /* traject.iso_utc of the new row: its K */
	int count;            /* explanations of this obligation so far, this one included */
	int version;          /* the grant version whose obligation it explains */
} tj_explain_stored;

/*
 * Check an explanation's text without a database: not blank, valid UTF-8
 * without control characters other than tab and newline, at most
 * TJ_EXPLAIN_MAX_CHARS characters, and no run of nine digits that passes
 * the BSN eleven-test. Returns 0, or TJ_EINVAL with a message that says
 * what to change.
 */
int tj_explain_check(const char *text, tj_err *err);

/*
 * Record text as the explanation of obligation obligation_id of grant
 * grant_id, in one transaction under the grant's shared register lock
 * (docs/design.md). The obligation must be one of the grant's current
 * version. Errors: TJ_EINVAL (text refused, see tj_explain_check; a bad
 * obligation id), TJ_ENOTFOUND (no such grant; no such obligation: the
 * message lists the grant's obligations), TJ_EDB. out (if not NULL) is
 * filled on success.
 */
int tj_explain_add(PGconn *conn, const char *grant_id, const char *obligation_id,
		   const char *text, tj_explain_stored *out, tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
