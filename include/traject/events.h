/*
 * The events of a grant's register: listing them with their ids, voiding
 * one by a recorded correction, and the write transaction that every write
 * to a register (import, void) opens with the lock discipline of
 * docs/design.md.
 */
#ifndef TRAJECT_EVENTS_H
#define TRAJECT_EVENTS_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * BEGIN a write to the register of grant grant_id: find it (TJ_ENOTFOUND
 * "no grant 'X': load it first ..." when it does not exist), take the
 * shared advisory lock of docs/design.md, then the grant's row lock (so
 * imports and voids of one grant run one after the other and the cross-row
 * rules see every committed event), then read clock_timestamp(): the
 * recorded_at of every row this transaction writes. key receives the
 * grant_key, now the timestamp (both as text, for statement parameters).
 * On failure nothing is left open.
 */
int tj_register_begin(PGconn *conn, const char *grant_id, char key[static 24],
		      char now[static 64], tj_err *err);

/* The longest text of each column over a whole listing, for aligned output. */
struct tj_events_widths {
	int id, trajectory, event, value, recorded_at;
};

/* One event as listed; pointers are valid during the callback only. */
struct tj_event {
	long long id;
	const char *trajectory;
	const char *date;        /* YYYY-MM-DD */
	const char *event;
	const char *value;       /* NULL when the event has none; a cost as "450.00" */
	const char *recorded_at; /* traject.iso_utc */
	bool voided;
	const char *void_reason; /* when voided */
	const char *voided_at;   /* when voided: traject.iso_utc of the correction */
	struct tj_events_widths widths;
};

typedef int (*tj_event_fn)(void *ctx, const struct tj_event *ev, tj_err *err);

/*
 * Call fn for every event of grant grant_id (only trajectory's, when not
 * NULL), voided ones included, ordered by trajectory reference (bytewise),
 * date and event id. Rows are streamed, never all held. Returns 0,
 * TJ_ENOTFOUND for an unknown grant, TJ_EDB, or fn's negative return.
 */
int tj_events_list(PGconn *conn, const char *grant_id, const char *trajectory, tj_event_fn fn,
		   void *ctx, tj_err *err);

struct tj_void_result {
	char trajectory[72];
	char date[16];
	char event[32];
	char recorded_at[40]; /* the correction's, traject.iso_utc */
};

/* Longest reason accepted, in bytes. */
#define TJ_VOID_REASON_MAX 1000

/*
 * Void event event_id of grant grant_id: record a traject.voids row with
 * reason (one line of text, not blank, no possible BSN). Voiding a
 * registered event is allowed: the trajectory then no longer exists for
 * knowledge times from the void on. Returns 0 (out filled), TJ_EINVAL (bad
 * reason), TJ_ENOTFOUND (no such grant, or no such event in it),
 * TJ_ECONFLICT ("event N was already voided on <time>: <reason>"), TJ_EDB.
 */
int tj_event_void(PGconn *conn, const char *grant_id, long long event_id, const char *reason,
		  struct tj_void_result *out, tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
