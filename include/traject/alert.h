/*
 * Alerts in the database (docs/daemon.md, "Alerts"): what an administrator
 * reads and resolves, the alert of a database that stayed away, and the
 * outbox that mails every alert that opens exactly once across all
 * instances (sql/011_alert_mail.sql). The message and the SMTP transfer
 * are include/traject/mail.h; raising report alerts is the outbox's
 * (lib/outbox_pass.c). Errors follow include/traject/error.h.
 */
#ifndef TRAJECT_ALERT_H
#define TRAJECT_ALERT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "traject/error.h"
#include "traject/flight.h"
#include "traject/mail.h"
#include "traject/outbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading and resolving (trajectctl) ------------------------------------ */

struct json_object;

/*
 * The alerts, oldest first: the open ones (all: every one), of grant_id
 * (NULL: of every grant the role sees); database alerts are always
 * included. *out is a JSON list of objects with id, kind, grant, report
 * (null for a database alert), message, raised_at, raised_by, resolved_at,
 * resolved_by, mail_state, mail_attempts, mailed_at, mail_error.
 */
int tj_alerts_json(PGconn *conn, const char *grant_id, bool all, struct json_object **out,
		   tj_err *err);
/* The same as text: a count line ("alerts: N open"), then each alert in two lines. */
int tj_alerts_text(PGconn *conn, const char *grant_id, bool all, FILE *out, tj_err *err);

struct tj_alert_resolved {
	bool was_open;         /* false: it was resolved already (nothing changed) */
	char kind[24];
	char what[200];        /* "grant G report R" or "instance X" */
	char resolved_at[40];
	char resolved_by[140];
};

/*
 * Resolve one open alert (any kind) by its id, as the current role.
 * TJ_ENOTFOUND when there is no such alert (or the role may not see it).
 * A report alert whose condition still holds is raised again by the next
 * pass, as a new alert.
 */
int tj_alert_resolve(PGconn *conn, long alert_id, struct tj_alert_resolved *out, tj_err *err);

/* ---- the database alert -------------------------------------------------------- */

/* One outage of the database as one instance saw it. Times: real clock, usec. */
struct tj_db_outage {
	int64_t lost_at, back_at;
	int failed_reconnects;
	const char *error;        /* the last error while it was away (one line) */
	bool mailed;              /* the mail sent while it was away was accepted */
	int64_t mailed_at;
	const char *mail_error;   /* why that mail was not sent, or NULL */
};

/*
 * Store the database alert of an outage (raised_by this instance, raised_at
 * the moment it was lost on the service clock), mail_state 'sent' if it
 * was mailed while away, else 'pending' when mail is configured (the
 * outbox sends it), else 'none'. The same outage stored twice is one row.
 * Returns 1 stored (*alert_id set), 0 it was stored before, or an error.
 */
int tj_alert_raise_database(tj_service *svc, const struct tj_db_outage *o, long *alert_id,
			    tj_err *err);
/* The message of the alert; while away (o->back_at == 0) it says how long so far. */
void tj_db_outage_message(const struct tj_db_outage *o, int64_t now, char *buf, size_t size);

/* ---- the mail outbox, blocking (trajectd --once) -------------------------------- */

/*
 * Claim, build, send (curl_easy_perform) and record every alert mail that
 * is due now; a retry that is not due yet is left for later. Nothing to do
 * without mail configured. Returns the number of attempts, or an error of
 * the database.
 */
int tj_alert_mail_send_due(tj_service *svc, tj_err *err);

/* ---- the mail outbox on the event loop ------------------------------------------ */

typedef struct tj_mailer tj_mailer;

/* What became of one finished mail of the outbox. */
struct tj_mailer_done {
	long alert_id;
	enum tj_mail_outcome outcome;
	int recorded;          /* 1 recorded, 0 lease lost, < 0 not recorded (see err) */
	bool held;             /* the database is away: kept, recorded after the reconnect */
	int64_t next_attempt;  /* a recorded retry: its next try (service clock), else INT64_MAX */
	const tj_err *err;
};
typedef void (*tj_mailer_cb)(tj_mailer *m, const struct tj_mailer_done *done, void *data);
/* The end of a mail sent without the database (tj_mailer_send_direct). */
typedef void (*tj_mailer_direct_cb)(tj_mailer *m, const struct tj_mail_result *res, void *data);

/*
 * Mails on the flight's multi handle (never blocking the loop), at most a
 * few at once. svc and flight stay borrowed; svc->cfg may change between
 * calls (a reload) and svc->conn is NULL while the database is away.
 */
int tj_mailer_new(tj_mailer **out, tj_flight *flight, tj_service *svc, tj_mailer_cb cb,
		  void *data, tj_err *err);
/* Drops what still runs or is held, without the database; accepts NULL. */
void tj_mailer_free(tj_mailer *m);

/*
 * Claim the alert mails that are due and start them. Lowers *next_due
 * (service clock) to the next retry or lease end. Returns how many were
 * started, or an error of the database.
 */
int tj_mailer_start_due(tj_mailer *m, int64_t *next_due, tj_err *err);
/* Mail alert a now, without the database: cb tells how it ended. */
int tj_mailer_send_direct(tj_mailer *m, const struct tj_mail_alert *a, tj_mailer_direct_cb cb,
			  void *data, tj_err *err);
int tj_mailer_running(const tj_mailer *m);
/* Record the outcomes that ended while the database was away. */
int tj_mailer_record_held(tj_mailer *m, tj_err *err);
/*
 * Stop every running mail now (no callbacks). With the database up, each
 * claim is given back (due again at once); direct mails are dropped.
 */
void tj_mailer_abandon(tj_mailer *m, const char *why);

#ifdef __cplusplus
}
#endif
#endif
