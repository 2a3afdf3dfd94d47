/*
 * The outbox of alert mails (sql/011_alert_mail.sql, lib/alert_job.h):
 * claim a due mail with FOR UPDATE SKIP LOCKED and a lease, build its
 * message, record how the attempt ended while the lease is still ours,
 * and the blocking loop of trajectd --once. The claim is one autocommitted
 * UPDATE, so two instances never send the same mail at once; a claim whose
 * lease ran out (its instance died mid-send) is taken over, which may send
 * that one mail twice -- the same Message-ID tells a reader so.
 *
 * Retries: a 4xx, no answer, TLS trouble wait tj_mail_retry_delay() on
 * [delivery] retry_base and retry_max (real clock), up to
 * TJ_MAIL_ATTEMPTS attempts; a 5xx or the last attempt ends 'failed' with
 * the error, which trajectctl status shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_job.h"
#include "db.h"
#include "outbox_private.h"
#include "traject/log.h"
#include "util.h"

/* trajectd --once sends at most this many mails in one run. */
#define MAX_SENDS_PER_RUN 200

enum { M_ID, M_ATTEMPT, M_KIND, M_GRANT, M_REPORT, M_MESSAGE, M_RAISED_AT, M_RAISED_BY,
       M_RESOLVED_AT };

static const char *col(const struct tj_mail_job *job, int c)
{
	return tj_pq_get(job->res, 0, c);
}

void tj_mail_job_free(struct tj_mail_job *job)
{
	if (!job)
		return;
	tj_smtp_free(job->smtp);
	free(job->msg);
	PQclear(job->res);
	free(job);
}

/* The lease outlives any attempt: libcurl's timeout bounds the send. */
static long lease_seconds(const tj_service *svc)
{
	return svc->cfg->mail_timeout * 2 + 30;
}

int tj_mail_job_claim(tj_service *svc, struct tj_mail_job **out, tj_err *err)
{
	struct tj_mail_job *job;
	char lease[24];
	const char *params[2] = { svc->instance, lease };
	int r;

	if (!(job = calloc(1, sizeof *job)))
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	snprintf(lease, sizeof lease, "%ld", lease_seconds(svc));
	r = tj_pq(svc->conn, "claiming an alert mail",
		  "WITH c AS ("
		  "  SELECT a.alert_id FROM traject.alerts a"
		  "  WHERE (a.mail_state = 'pending'"
		  "         AND (a.mail_next_at IS NULL OR a.mail_next_at <= clock_timestamp()))"
		  "     OR (a.mail_state = 'sending' AND a.mail_lease_until < clock_timestamp())"
		  "  ORDER BY a.mail_next_at NULLS FIRST, a.alert_id"
		  "  LIMIT 1 FOR UPDATE SKIP LOCKED)"
		  " UPDATE traject.alerts a SET mail_state = 'sending', mail_lease_owner = $1,"
		  "   mail_lease_until = clock_timestamp() + make_interval(secs => $2::integer),"
		  "   mail_attempts = a.mail_attempts + 1"
		  " FROM c WHERE a.alert_id = c.alert_id"
		  " RETURNING a.alert_id, a.mail_attempts, a.kind,"
		  "   (SELECT g.id FROM traject.grants g WHERE g.grant_key = a.grant_key),"
		  "   a.report_id, a.message, traject.iso_utc(a.raised_at), a.raised_by,"
		  "   traject.iso_utc(a.resolved_at)",
		  2, params, &job->res, err);
	if (r < 0 || PQntuples(job->res) == 0) {
		tj_mail_job_free(job);
		return r < 0 ? r : 0;
	}
	job->alert_id = strtol(col(job, M_ID), NULL, 10);
	job->attempt = strtol(col(job, M_ATTEMPT), NULL, 10);
	*out = job;
	return 1;
}

void tj_mail_job_alert(const struct tj_mail_job *job, struct tj_mail_alert *a)
{
	memset(a, 0, sizeof *a);
	a->id = job->alert_id;
	a->kind = col(job, M_KIND);
	a->grant_id = col(job, M_GRANT);
	a->report_id = col(job, M_REPORT);
	a->message = col(job, M_MESSAGE);
	a->raised_at = col(job, M_RAISED_AT);
	a->raised_by = col(job, M_RAISED_BY);
	a->resolved_at = col(job, M_RESOLVED_AT);
	if (!a->report_id || !a->grant_id)
		a->grant_id = a->report_id = NULL; /* a database alert */
}

int tj_mail_job_prepare(tj_service *svc, struct tj_mail_job *job, const struct tj_mail_alert *a,
			tj_err *err)
{
	struct tj_mail_opts opts;
	char from[TJ_MAIL_FROM_SIZE];
	int r;

	tj_mail_opts_from_config(&opts, svc->cfg, from);
	free(job->msg);
	job->msg = NULL;
	if ((r = tj_mail_build(a, opts.from, opts.to, tj_real_now(), &job->msg, &job->len, err)) < 0)
		return r;
	return tj_smtp_new(&job->smtp, &opts, job->msg, job->len, job, err);
}

/* "alert 12 (late, grant G report R)" or "alert 13 (database)", for log lines. */
static void describe(const struct tj_mail_job *job, char *buf, size_t size)
{
	if (col(job, M_REPORT) && col(job, M_GRANT))
		snprintf(buf, size, "alert %ld (%s, grant %s report %s)", job->alert_id,
			 col(job, M_KIND), col(job, M_GRANT), col(job, M_REPORT));
	else
		snprintf(buf, size, "alert %ld (%s)", job->alert_id, col(job, M_KIND));
}

static int record(tj_service *svc, struct tj_mail_job *job, const char *state,
		  const char *error, long delay, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	char id[24], attempt[24], secs[24];
	const char *params[6] = { id, svc->instance, attempt, state, error, secs };
	int r;

	snprintf(id, sizeof id, "%ld", job->alert_id);
	snprintf(attempt, sizeof attempt, "%ld", job->attempt);
	snprintf(secs, sizeof secs, "%ld", delay);
	r = tj_pq(svc->conn, "recording an alert mail",
		  "UPDATE traject.alerts SET mail_state = $4::text, mail_lease_owner = NULL,"
		  " mail_lease_until = NULL, mail_error = $5::text,"
		  " mailed_at = CASE WHEN $4::text = 'sent' THEN clock_timestamp() END,"
		  " mail_next_at = CASE WHEN $4::text = 'pending'"
		  "   THEN clock_timestamp() + make_interval(secs => $6::integer) END"
		  /* this very claim: not a later one, even one of ours */
		  " WHERE alert_id = $1::bigint AND mail_lease_owner = $2 AND mail_state = 'sending'"
		  "   AND mail_attempts = $3::integer",
		  6, params, &res, err);
	if (r < 0)
		return r;
	return strcmp(PQcmdTuples(res), "1") == 0 ? 1 : 0;
}

int tj_mail_job_finish(tj_service *svc, struct tj_mail_job *job, tj_err *err)
{
	const struct tj_mail_result *res = &job->result;
	bool last = job->attempt >= TJ_MAIL_ATTEMPTS;
	long delay = 0;
	const char *state = "sent";
	char what[400];
	int r;

	job->next_attempt = INT64_MAX;
	if (res->outcome == TJ_MAIL_FAILED || (res->outcome == TJ_MAIL_RETRY && last)) {
		state = "failed";
	} else if (res->outcome == TJ_MAIL_RETRY) {
		state = "pending";
		delay = tj_mail_retry_delay(job->attempt, svc->cfg->retry_base, svc->cfg->retry_max);
	}
	r = record(svc, job, state, res->outcome == TJ_MAIL_SENT ? NULL : res->error, delay, err);
	describe(job, what, sizeof what);
	if (r == 0)
		tj_log(TJ_LOG_WARNING, "%s: the mail's lease ran out before its outcome was recorded; "
				       "another instance has taken it over",
		       what);
	if (r <= 0)
		return r;
	if (res->outcome == TJ_MAIL_SENT) {
		tj_log(TJ_LOG_INFO, "%s: mailed to %s (attempt %ld)", what, svc->cfg->mail_to,
		       job->attempt);
	} else if (!strcmp(state, "pending")) {
		job->next_attempt = tj_service_now(svc) + (int64_t)delay * TJ_USEC_PER_SEC;
		tj_log(TJ_LOG_WARNING, "%s: mail attempt %ld of %d failed, trying again in %ld s: %s",
		       what, job->attempt, TJ_MAIL_ATTEMPTS, delay, res->error);
	} else {
		tj_log(TJ_LOG_ERR, "%s: the mail was not sent (attempt %ld of %d, no more tries): %s",
		       what, job->attempt, TJ_MAIL_ATTEMPTS, res->error);
	}
	return 1;
}

int tj_mail_job_release(tj_service *svc, struct tj_mail_job *job, const char *why, tj_err *err)
{
	return record(svc, job, "pending", why, 0, err);
}

int tj_mail_next_due(tj_service *svc, int64_t *next_due, tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	int64_t t;
	int r;

	r = tj_pq(svc->conn, "reading the next alert mail",
		  "SELECT " TJ_SQL_USEC("min(CASE WHEN mail_state = 'pending' THEN mail_next_at"
					" ELSE mail_lease_until END)")
		  " FROM traject.alerts WHERE mail_state IN ('pending', 'sending')",
		  0, NULL, &res, err);
	if (r < 0)
		return r;
	/* mail times are the real clock; the caller schedules on the service clock */
	if (tj_usec_value(tj_pq_get(res, 0, 0), &t) == 0 && t + svc->clock_offset < *next_due)
		*next_due = t + svc->clock_offset;
	return 0;
}

/* ---- trajectd --once ---------------------------------------------------------- */

int tj_alert_mail_send_due(tj_service *svc, tj_err *err)
{
	int n, r = 0;

	if (!tj_mail_configured(svc->cfg))
		return 0;
	for (n = 0; n < MAX_SENDS_PER_RUN; n++) {
		struct tj_mail_job *job = NULL;
		struct tj_mail_alert a;
		tj_err perr = { 0 };

		if ((r = tj_mail_job_claim(svc, &job, err)) <= 0)
			break;
		tj_mail_job_alert(job, &a);
		if (tj_mail_job_prepare(svc, job, &a, &perr) < 0) {
			job->result.outcome = TJ_MAIL_RETRY;
			snprintf(job->result.error, sizeof job->result.error, "%.600s", perr.msg);
		} else {
			tj_smtp_perform(job->smtp, &job->result);
		}
		r = tj_mail_job_finish(svc, job, err);
		tj_mail_job_free(job);
		if (r < 0)
			break;
	}
	return r < 0 ? r : n;
}
