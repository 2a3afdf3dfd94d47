/*
 * Reading from a PostgreSQL hot standby: which knowledge time K a report
 * may use there (docs/performance.md, "Past one machine").
 *
 * On the primary a report takes the grant's exclusive register lock before
 * it fixes K = now, so every row recorded at or before K has committed
 * (docs/design.md). A standby cannot take that lock on the primary, and it
 * may not yet have replayed a transaction that the primary committed with
 * rows recorded before "now": a report there at K = now could miss them,
 * and the same (C, K) computed later would differ.
 *
 * What a standby can use instead: every writer of a register (import,
 * void, grant load) locks the grant's row before it reads the clock that
 * stamps its rows, so its transaction id is in the WAL before its
 * recorded_at. R, the primary's commit time of the last transaction the
 * standby replayed, is therefore a K at which the standby knows every such
 * writer: committed, or still in progress. Once those in progress at the
 * moment R was read have ended, a snapshot taken then holds every row
 * recorded at or before R, now and later.
 */
#ifndef TRAJECT_STANDBY_H
#define TRAJECT_STANDBY_H

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Positive return of tj_standby_known_at: conn is a standby, out holds K. */
#define TJ_STANDBY 1

/* How long tj_standby_known_at waits for the primary's open writers by default. */
#define TJ_STANDBY_WAIT_MS 30000

/*
 * The knowledge time a report on conn may use.
 *
 * On a primary: returns 0 and leaves out empty (the report's own lock and
 * clock are right there). On a standby (pg_is_in_recovery()): waits until
 * every transaction of the primary that the standby saw in progress has
 * ended (at most wait_ms milliseconds), then returns TJ_STANDBY with out =
 * traject.iso_utc(R) as above, or, when wanted is not NULL, wanted itself
 * after checking it is not later than R.
 *
 * Fails with TJ_ECONFLICT when the standby has replayed no transaction yet
 * since it started, when wanted is later than R ("replayed up to R: give
 * an earlier knowledge time or use the primary"), or when the wait timed
 * out; TJ_EDB for a database failure. conn must not be in a transaction.
 */
int tj_standby_known_at(PGconn *conn, const char *wanted, int wait_ms, char out[static 40],
			tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
