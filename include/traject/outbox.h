/*
 * The reporting calendar and the delivery outbox (docs/daemon.md).
 *
 * Calendar (lib/schedule.c, pure): each report of a grant's calendar is
 * generated at 00:00 local time lead_days before its due date, but never
 * before the day after its as_of; it is late when it is not delivered by
 * the end of its due date. Local means the zone set by tj_sched_use_zone().
 *
 * Outbox (lib/outbox*.c, PostgreSQL): generation stores each version's
 * documents and queues their deliveries in one transaction; a pass
 * generates what is due, claims due deliveries (FOR UPDATE SKIP LOCKED and
 * a lease), attempts each through include/traject/deliver.h, records the
 * outcome and raises alerts. Several instances may share one database.
 *
 * Times are int64 microseconds since 1970-01-01T00:00:00Z; dates are days
 * since 1970-01-01 as in include/traject/value.h.
 */
#ifndef TRAJECT_OUTBOX_H
#define TRAJECT_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "traject/config.h"
#include "traject/error.h"
#include "traject/grant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- timestamps and the calendar (pure) ------------------------------ */

#define TJ_USEC_PER_SEC INT64_C(1000000)

/*
 * Parse an ISO 8601 timestamp with a zone (the syntax tj_timestamp_valid
 * accepts) into microseconds; digits beyond microseconds are cut.
 * Returns 0, or TJ_EINVAL with *usec untouched.
 */
int tj_timestamp_parse(const char *s, int64_t *usec);
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ"; buf must hold 32 bytes. */
char *tj_timestamp_format(int64_t usec, char buf[static 32]);

/* True when zone names a time zone of the system's IANA database (TZDIR). */
bool tj_sched_zone_known(const char *zone);
/*
 * Make zone the process's local time zone (sets TZ): every local date
 * below is in this zone. Returns 0, or TJ_ECONFIG for an unknown zone.
 */
int tj_sched_use_zone(const char *zone, tj_err *err);

/* The local calendar date at instant t. */
int32_t tj_sched_local_date(int64_t t);
/* The first instant of a local date (00:00, or the end of a gap at midnight). */
int64_t tj_sched_day_start(int32_t date);

/* due - lead_days, but at the earliest as_of + 1. */
int32_t tj_sched_generation_date(int32_t as_of, int32_t due, long lead_days);
/* The start of the generation date: when the report is generated. */
int64_t tj_sched_generation_moment(int32_t as_of, int32_t due, long lead_days);
/* The end of the due date (the start of the next day): delivered after this is late. */
int64_t tj_sched_deadline(int32_t due);
/* True when instant t (a delivery, or now for an undelivered report) is after the due date. */
bool tj_sched_is_late(int32_t due, int64_t t);
/* From this instant an undelivered report raises a not_delivered alert. */
int64_t tj_sched_warn_moment(int32_t due, long warn_hours);

/* ---- the service ------------------------------------------------------ */

/* The real clock (CLOCK_REALTIME) in microseconds. */
int64_t tj_real_now(void);

/*
 * One trajectd instance or one trajectctl command working on the outbox.
 * The service clock is the real clock plus clock_offset (trajectd --clock).
 */
typedef struct tj_service {
	PGconn *conn;         /* borrowed */
	const tj_config *cfg; /* borrowed */
	char instance[128];   /* "host:pid:hex" for trajectd, "trajectctl@host:pid" */
	int64_t clock_offset; /* usec; 0 runs on the real clock */
	bool registered;      /* a traject.instances row exists for this instance */
} tj_service;

/* clock_start of tj_service_init for "run on the real clock". */
#define TJ_CLOCK_REAL INT64_MIN

/*
 * Fill svc: a fresh instance name (prefix "trajectd" or "trajectctl") and
 * the clock offset so that the service clock reads clock_start now
 * (TJ_CLOCK_REAL: the real clock). Does not touch the database.
 */
void tj_service_init(tj_service *svc, PGconn *conn, const tj_config *cfg, const char *prefix,
		     int64_t clock_start);
int64_t tj_service_now(const tj_service *svc);

/* Record this instance in traject.instances (alive while it heartbeats). */
int tj_instance_register(tj_service *svc, tj_err *err);
int tj_instance_heartbeat(tj_service *svc, tj_err *err);
/* Mark it stopped; releases nothing else (leases simply run out). */
int tj_instance_stop(tj_service *svc, tj_err *err);

/* ---- generation --------------------------------------------------------- */

enum tj_gen_reason {
	TJ_GEN_SCHEDULED = 1, /* the calendar's moment came (version 1) */
	TJ_GEN_MANUAL = 2,    /* trajectctl deliver before the moment (version 1) */
	TJ_GEN_NEW_VERSION = 3, /* trajectctl deliver --new-version */
};

struct tj_gen_result {
	int version;      /* the version made, or the existing one */
	int formats;      /* documents stored (1 or 2) */
	bool late;        /* generated after the due date */
	char known_at[40]; /* K of the version, as traject.iso_utc */
	bool existed;     /* nothing made: version is the one stored already */
};

/*
 * Generate one calendar report of a grant (in its current calendar) and
 * queue its documents for the configured target, in one transaction:
 * version 1 for TJ_GEN_SCHEDULED/TJ_GEN_MANUAL, the next version for
 * TJ_GEN_NEW_VERSION. Returns 0 when it generated, 1 when version 1 exists
 * already (another instance or command made it: nothing done, res names
 * it), TJ_ENOTFOUND for an unknown grant or report, TJ_EINVAL when the
 * report's as_of has not passed yet (on the service's clock and
 * [schedule] time_zone: a version is never made before the day after it),
 * or an error.
 */
int tj_outbox_generate(tj_service *svc, const char *grant_id, const char *report_id,
		       enum tj_gen_reason reason, struct tj_gen_result *res, tj_err *err);

/*
 * The same for n reports of one grant at once (the daemon's due reports):
 * computed together (one knowledge time, one reading of the grant's
 * events) and stored in one transaction. Returns 0 with res[i] for
 * report_ids[i] (existed: nothing was made for it), or an error (then
 * nothing was stored).
 */
int tj_outbox_generate_many(tj_service *svc, const char *grant_id, const char *const *report_ids,
			    size_t n, enum tj_gen_reason reason, struct tj_gen_result *res,
			    tj_err *err);

/*
 * Queue the newest version of a report again for the configured target:
 * adds a missing delivery and re-queues rejected ones (same bytes, same
 * key). *queued receives how many deliveries were (re)queued; 0 means all
 * of them are delivered or already on their way. TJ_ENOTFOUND when the
 * report has no version yet.
 */
int tj_outbox_requeue(tj_service *svc, const char *grant_id, const char *report_id,
		      int *version, int *queued, tj_err *err);

/* ---- one pass ------------------------------------------------------------ */

struct tj_pass_stats {
	int generated;      /* report versions generated */
	int generated_late; /* of which late */
	int attempts;       /* delivery attempts made */
	int delivered;
	int retried;
	int rejected;
	int alerts;         /* alerts raised (opened) */
	int64_t next_due;   /* the next moment something is due, or INT64_MAX */
};

/* Generate every calendar report whose generation moment has come. */
int tj_outbox_generate_due(tj_service *svc, struct tj_pass_stats *st, tj_err *err);
/* Claim and attempt every delivery that is due, one at a time, blocking. */
int tj_outbox_deliver_due(tj_service *svc, struct tj_pass_stats *st, tj_err *err);
/* Raise not_delivered and late alerts for undelivered reports. */
int tj_outbox_check_alerts(tj_service *svc, struct tj_pass_stats *st, tj_err *err);
/* The three above in order, with a heartbeat first. */
int tj_outbox_pass(tj_service *svc, struct tj_pass_stats *st, tj_err *err);

/* Wake the daemons: NOTIFY trajectd (inside the caller's transaction, if any). */
int tj_outbox_notify(PGconn *conn, const char *why, tj_err *err);

/* ---- status (lib/outbox_status.c) ---------------------------------------- */

/*
 * Fill state, attempts, delivered_at and late of every report in a status
 * read by tj_grant_status_read (traject.report_states on the real clock;
 * late and "today" in time_zone).
 */
int tj_outbox_status_apply(PGconn *conn, const char *time_zone, tj_grant_status *s, size_t n,
			   tj_err *err);

struct json_object;
/*
 * Add to a status JSON object ({"grants": [...]}) each report's `version`
 * and `last_error`, and the top-level lists `alerts` (open ones, of
 * grant_id or of all grants when NULL) and `instances` (alive ones).
 */
int tj_outbox_status_json(PGconn *conn, const char *grant_id, const char *time_zone,
			  struct json_object *status, tj_err *err);
/* The same alerts and instances as text, for the status command. */
int tj_outbox_status_text(PGconn *conn, const char *grant_id, FILE *out, tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
