/*
 * Importing trajectory events (formats.md "Trajectory events"): a push
 * parser for the case system's CSV that checks every row-local rule without
 * a database (usable by unit tests and fuzzers), and the importer that
 * streams a file through it into the register in one transaction and checks
 * the cross-row rules in SQL. Every problem is a "TJ0xx" rule code; the
 * table of codes is in docs/import.md.
 */
#ifndef TRAJECT_IMPORT_H
#define TRAJECT_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest physical line and longest record (quoted newlines included). */
#define TJ_CSV_MAX_RECORD 65536

/*
 * One data record as the parser delivers it. Pointers are valid during the
 * callback only.
 */
struct tj_csv_row {
	long line;              /* physical line the record starts on (header is 1) */
	bool ok;                /* every row-local rule holds */
	const char *trajectory; /* the reference, or NULL when it was refused */
	/* The rest is set only when ok: */
	const char *date;       /* YYYY-MM-DD */
	int32_t days;           /* the same date as days since 1970-01-01 */
	const char *event;      /* a static word of the vocabulary */
	const char *value;      /* text value; NULL when the event has none, and for cost */
	int64_t cents;          /* cost: the amount (> 0); otherwise 0 */
};

struct tj_csv_events_cb {
	/* A data record (good or bad); a negative return stops the parse. */
	int (*row)(void *ctx, const struct tj_csv_row *row, tj_err *err);
	/*
	 * A problem located on a line: msg is "TJ0xx what is wrong (what to
	 * do)", without the file name and line. Problems arrive in line order.
	 * A negative return stops the parse.
	 */
	int (*problem)(void *ctx, long line, const char *msg, tj_err *err);
};

typedef struct tj_csv_events tj_csv_events;

/* A parser for one file; cb and ctx are borrowed. */
int tj_csv_events_new(tj_csv_events **out, const struct tj_csv_events_cb *cb, void *ctx,
		      tj_err *err);
/*
 * Feed the next bytes of the file, in pieces of any size. Returns 0, or the
 * negative code of a failing callback or TJ_ENOMEM. Problems of the input
 * are not failures: they go to the problem callback.
 */
int tj_csv_events_feed(tj_csv_events *p, const void *data, size_t len, tj_err *err);
/* End of file: the last line without a newline, an unclosed quote. */
int tj_csv_events_finish(tj_csv_events *p, tj_err *err);
void tj_csv_events_free(tj_csv_events *p);

/* Data records seen so far (good and bad; the header is not one). */
long tj_csv_events_rows(const tj_csv_events *p);
/* Problems reported so far. */
long tj_csv_events_problems(const tj_csv_events *p);
/*
 * True after a problem that ends the checking (a bad header, broken CSV
 * quoting, an overlong line): later lines are not checked.
 */
bool tj_csv_events_stopped(const tj_csv_events *p);

struct tj_import_result {
	long long batch_id;   /* the new batch, or the earlier one (TJ_IMPORT_ALREADY) */
	long events;          /* events stored */
	long trajectories;    /* distinct trajectories those events belong to */
	char recorded_at[40]; /* traject.iso_utc of the batch */
};

/* Positive return of tj_import_file: the same content was imported before. */
#define TJ_IMPORT_ALREADY 1

/*
 * Import one CSV file of events into the register of grant grant_id, in one
 * transaction: all rows or none. The file is streamed, never held whole.
 *
 * Returns 0 (imported; out filled), TJ_IMPORT_ALREADY (the same bytes were
 * imported for this grant before: nothing stored; out names that batch),
 * TJ_EINVAL (refused: nothing stored; diags holds "PATH:LINE: TJ0xx ..."
 * in line order, at most diags->limit of diags->total, and err says
 * "PATH: refused, nothing stored (N problems)"), TJ_ENOTFOUND (no such
 * grant), TJ_EIO, TJ_ENOMEM, TJ_EDB or TJ_ECONFLICT.
 * conn must not be inside a transaction.
 */
int tj_import_file(PGconn *conn, const char *grant_id, const char *path,
		   struct tj_import_result *out, tj_diags *diags, tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
