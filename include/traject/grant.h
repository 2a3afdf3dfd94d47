/*
 * Grant decisions (formats.md "The grant decision"): parsing and validating
 * the JSON file without a database, storing it as a new version of the
 * grant (an amendment never overwrites), listing the grants and reading
 * where each one stands (trajectctl status).
 *
 * docs/grants.md lists every rule with its message.
 */
#ifndef TRAJECT_GRANT_H
#define TRAJECT_GRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One performance obligation: `indicator op target`, due on `due`. */
typedef struct tj_obligation {
	char *id;          /* a reference, unique among the grant's obligations */
	char *indicator;   /* a scalar indicator of indicators.md */
	char *op;          /* ">=", "<=", ">", "<" or "==" */
	char *target;      /* decimal text for SQL numeric: "5000.00", "0.5", "30" */
	bool target_money; /* the indicator is money: target was a money string */
	int32_t due;       /* days since 1970-01-01 */
	char *description; /* NULL when absent */
} tj_obligation;

/* One reporting moment of the grant's calendar. */
typedef struct tj_calendar_entry {
	char *id;      /* a reference, unique among the grant's reports */
	char *kind;    /* "progress" or "determination" */
	int32_t as_of; /* the report's reference date C */
	int32_t due;   /* deadline of its delivery; as_of <= due */
} tj_calendar_entry;

/* A validated grant decision. Dates are days since 1970-01-01. */
typedef struct tj_grant {
	char *id;
	char *title; /* NULL when absent */
	char *grantor;
	char *grantee;
	int32_t decision_date;
	int32_t period_start, period_end;
	char currency[4];              /* "EUR" unless given */
	int64_t amount_granted;        /* cents */
	int64_t amount_per_trajectory; /* cents; given, or amount_granted / target */
	int32_t target_trajectories;   /* > 0 */
	/* baseline: each part optional */
	bool has_baseline_cost_per_child;
	int64_t baseline_cost_per_child; /* cents */
	char *baseline_days_to_help;     /* decimal text, NULL when absent */
	char *baseline_indication_rate;  /* decimal text 0..1, NULL when absent */
	tj_obligation *obligations;
	size_t n_obligations;
	tj_calendar_entry *reports;
	size_t n_reports;
	char *document; /* the parsed JSON as compact text (for the jsonb column) */
} tj_grant;

/*
 * Parse and validate a grant decision held in text[0..len) (need not be
 * NUL-terminated). name is the file name used in every message.
 * Every problem is added to diags as "NAME: /json/pointer: TJ1xx what is wrong
 * (what to do)" (or "NAME:LINE:COLUMN: TJ100 ..." for a JSON syntax error;
 * the codes are those of docs/grants.md).
 * Returns 0 and *out, or TJ_EINVAL with err saying how many problems were
 * found (diags holds them), or TJ_ENOMEM. *out is written only on success.
 */
int tj_grant_parse(tj_grant **out, const char *name, const char *text, size_t len,
		   tj_diags *diags, tj_err *err);
void tj_grant_free(tj_grant *g);

/*
 * What an obligation may name: 1 for a money indicator (target is a money
 * string), 0 for another scalar indicator (target is a JSON number), -1
 * for a name that is not a scalar indicator of indicators.md.
 */
int tj_grant_indicator_kind(const char *name);

/* Result of tj_grant_store / tj_grant_load_file. */
typedef struct tj_grant_stored {
	char id[65];
	int version;        /* the version stored, or the current one if unchanged */
	char known_at[40];  /* traject.iso_utc of that version */
	size_t n_obligations;
	size_t n_reports;
} tj_grant_stored;

/* Positive return of tj_grant_store: the current version has this content. */
#define TJ_GRANT_UNCHANGED 1

/*
 * Store g as the next version of its grant in one transaction (creating
 * the grant on its first load): the version row with the parsed document,
 * source_name (a file's base name) and source_sha256 (hex of the file's
 * bytes), its obligations and its calendar. Takes the grant's row lock,
 * then the shared register lock of docs/design.md, then stamps known_at.
 * Returns 0 (a new version), TJ_GRANT_UNCHANGED when source_sha256 equals
 * the current version's (nothing stored), or a negative code with nothing
 * stored. *out (if not NULL) is filled on 0 and TJ_GRANT_UNCHANGED.
 */
int tj_grant_store(PGconn *conn, const tj_grant *g, const char *source_name,
		   const char *source_sha256, tj_grant_stored *out, tj_err *err);

/*
 * Read PATH, parse it (problems into diags, messages name PATH as given)
 * and store it with its base name and sha256. Returns as tj_grant_store;
 * TJ_EINVAL when the file was refused (diags holds every problem).
 */
int tj_grant_load_file(PGconn *conn, const char *path, tj_diags *diags,
		       tj_grant_stored *out, tj_err *err);

/* One grant with its current version, for `grant list`. */
typedef struct tj_grant_summary {
	char *id;
	char *title; /* NULL when the decision has none */
	char *grantor;
	char *grantee;
	char period_start[11], period_end[11];
	char amount_granted[32]; /* money string "150000.00" */
	int target_trajectories;
	int version;
	char known_at[40]; /* traject.iso_utc */
} tj_grant_summary;

/* Every grant ordered by id; *out (n entries, maybe 0) owned by the caller. */
int tj_grant_list(PGconn *conn, tj_grant_summary **out, size_t *n, tj_err *err);
void tj_grant_summaries_free(tj_grant_summary *s, size_t n);

/* One calendar entry of the current version, with its delivery state. */
typedef struct tj_report_status {
	char *id;
	char *kind;
	char as_of[11], due[11];
	const char *state;  /* "scheduled" (later: generated, delivering, ...) */
	int attempts;
	char *delivered_at; /* iso_utc, NULL when not delivered */
	bool late;          /* due before today and not delivered */
	char *last_error;   /* the latest attempt's error while not delivered, or NULL */
} tj_report_status;

/* Where one grant stands (trajectctl status). */
typedef struct tj_grant_status {
	char *id;
	char *grantor;
	char *grantee;
	char period_start[11], period_end[11];
	int version;
	long trajectories; /* trajectories in the register */
	long events;       /* events not voided */
	long voided;       /* events voided */
	bool has_import;   /* the last import, when there is one: */
	char *import_file;
	long import_rows;
	char import_recorded_at[40];
	tj_report_status *reports;
	size_t n_reports;
} tj_grant_status;

/*
 * Status of one grant (grant_id) or of all (grant_id NULL, ordered by id).
 * "today" is the current date in time_zone (an IANA name such as
 * Europe/Amsterdam). TJ_ENOTFOUND with "no grant 'X': ..." for an unknown id.
 */
int tj_grant_status_read(PGconn *conn, const char *grant_id, const char *time_zone,
			 tj_grant_status **out, size_t *n, tj_err *err);
void tj_grant_status_free(tj_grant_status *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
