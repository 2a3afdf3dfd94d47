/*
 * One claimed alert mail ("mail job"), private to lib/alert_mail*.c: like a
 * delivery job (lib/outbox_job.h) it is held under this instance's lease
 * from the claim until its outcome is recorded, and the blocking send
 * (trajectd --once) and the event loop (lib/alert_mailer.c) share the
 * steps claim, prepare, (send), finish, so an outcome is recorded by one
 * code path only. A direct job is the database alert mailed while the
 * database is away: no row, no claim, nothing to record.
 */
#ifndef TJ_ALERT_JOB_H
#define TJ_ALERT_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "traject/alert.h"
#include "traject/mail.h"

struct tj_mail_job {
	PGresult *res;        /* the claimed row (NULL for a direct job) */
	long alert_id;
	long attempt;         /* this attempt's number (mail_attempts after the claim) */
	char *msg;            /* the message (tj_mail_build) */
	size_t len;
	struct tj_smtp *smtp; /* the transfer, while it runs */
	struct tj_mail_result result;
	int64_t next_attempt; /* set when a retry is recorded (service clock) */
	tj_mailer *mailer;    /* on the loop: whose job it is */
	bool direct;          /* the database alert while away: no row */
	tj_mailer_direct_cb direct_cb;
	void *direct_data;
	struct tj_mail_job *next;
};

/* Claim the next due mail: 1 with *out set, 0 when none is due, or an error. */
int tj_mail_job_claim(tj_service *svc, struct tj_mail_job **out, tj_err *err);
/* Build the message and the transfer (job->smtp) of a claimed or direct job. */
int tj_mail_job_prepare(tj_service *svc, struct tj_mail_job *job, const struct tj_mail_alert *a,
			tj_err *err);
/* The alert of a claimed job's row, for tj_mail_job_prepare. */
void tj_mail_job_alert(const struct tj_mail_job *job, struct tj_mail_alert *a);
/*
 * Record job->result while the lease is ours (sent; pending again after a
 * backoff; failed after a 5xx or the last attempt) and log it. Returns 1,
 * 0 when the lease was lost (someone else has it), or an error.
 */
int tj_mail_job_finish(tj_service *svc, struct tj_mail_job *job, tj_err *err);
/* Give an abandoned claim back: pending, due at once, with why as the error. */
int tj_mail_job_release(tj_service *svc, struct tj_mail_job *job, const char *why, tj_err *err);
void tj_mail_job_free(struct tj_mail_job *job);

/* Lower *next_due (service clock) to the next pending retry or the end of a lease. */
int tj_mail_next_due(tj_service *svc, int64_t *next_due, tj_err *err);

#endif
