/*
 * Alert mails on the event loop (include/traject/alert.h): the claims and
 * the recording of lib/alert_mail.c around SMTP transfers on the flight's
 * multi handle (tj_flight_add_easy), so a slow or silent mail server never
 * blocks the loop. Like deliveries in flight (lib/outbox_flight.c), a mail
 * that ends while the database is away is held and recorded after the
 * reconnect. A direct mail (the database alert while the database is
 * away) has no row: its end only goes to its callback.
 */
#include <stdlib.h>
#include <string.h>

#include "alert_job.h"
#include "traject/log.h"

/* Mails in flight at once: alerts are few, a storm must not crowd out deliveries. */
#define MAX_RUNNING 4

struct tj_mailer {
	tj_flight *flight;
	tj_service *svc;
	struct tj_mail_job *running, *held;
	int nrunning, nheld;
	tj_mailer_cb cb;
	void *data;
};

static bool db_usable(const tj_mailer *m)
{
	return m->svc->conn && PQstatus(m->svc->conn) == CONNECTION_OK;
}

static void unlink_from(struct tj_mail_job **list, int *count, struct tj_mail_job *job)
{
	for (struct tj_mail_job **pp = list; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			job->next = NULL;
			(*count)--;
			return;
		}
	}
}

/* Record a finished job, or hold it while the database is away; takes the job over. */
static void settle(tj_mailer *m, struct tj_mail_job *job, struct tj_mailer_done *done, tj_err *err)
{
	done->alert_id = job->alert_id;
	done->outcome = job->result.outcome;
	done->held = false;
	done->next_attempt = INT64_MAX;
	done->err = err;
	if (db_usable(m))
		done->recorded = tj_mail_job_finish(m->svc, job, err);
	else
		done->recorded = tj_fail(err, TJ_EDB, "the database is away: the mail's outcome is "
						      "kept until it is back");
	if (done->recorded < 0 && !db_usable(m)) {
		done->held = true;
		job->next = m->held;
		m->held = job;
		m->nheld++;
		return;
	}
	if (done->recorded < 0)
		tj_log(TJ_LOG_ERR, "alert %ld: recording its mail failed: %s (the lease runs out and "
				   "the mail is tried again)",
		       job->alert_id, err->msg);
	else if (done->recorded == 1)
		done->next_attempt = job->next_attempt;
	tj_mail_job_free(job);
}

static void on_done(CURL *easy, CURLcode code, void *data)
{
	struct tj_mail_job *job = data;
	tj_mailer *m = job->mailer;
	struct tj_mailer_done done = { 0 };
	tj_err err = { 0 };

	(void)easy;
	unlink_from(&m->running, &m->nrunning, job);
	tj_smtp_done(job->smtp, code, &job->result);
	tj_smtp_free(job->smtp);
	job->smtp = NULL;
	if (job->direct) {
		tj_mailer_direct_cb cb = job->direct_cb;
		void *cbdata = job->direct_data;
		struct tj_mail_result res = job->result;

		tj_mail_job_free(job);
		cb(m, &res, cbdata);
		return;
	}
	settle(m, job, &done, &err);
	if (m->cb)
		m->cb(m, &done, m->data);
}

int tj_mailer_new(tj_mailer **out, tj_flight *flight, tj_service *svc, tj_mailer_cb cb,
		  void *data, tj_err *err)
{
	tj_mailer *m = calloc(1, sizeof *m);

	if (!m)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	m->flight = flight;
	m->svc = svc;
	m->cb = cb;
	m->data = data;
	*out = m;
	return 0;
}

static void drop_running(tj_mailer *m, struct tj_mail_job *job)
{
	tj_flight_remove_easy(m->flight, tj_smtp_easy(job->smtp));
	unlink_from(&m->running, &m->nrunning, job);
}

void tj_mailer_free(tj_mailer *m)
{
	struct tj_mail_job *job;

	if (!m)
		return;
	while ((job = m->running)) {
		drop_running(m, job);
		tj_mail_job_free(job);
	}
	while ((job = m->held)) {
		m->held = job->next;
		tj_mail_job_free(job);
	}
	free(m);
}

/* Start a prepared job's transfer on the loop. */
static int launch(tj_mailer *m, struct tj_mail_job *job, tj_err *err)
{
	int r;

	job->mailer = m;
	if ((r = tj_flight_add_easy(m->flight, tj_smtp_easy(job->smtp), on_done, job, err)) < 0)
		return r;
	job->next = m->running;
	m->running = job;
	m->nrunning++;
	return 0;
}

int tj_mailer_start_due(tj_mailer *m, int64_t *next_due, tj_err *err)
{
	int started = 0, r = 0;

	if (!tj_mail_configured(m->svc->cfg))
		return 0;
	if (!db_usable(m))
		return tj_fail(err, TJ_EDB, "the database is away");
	while (m->nrunning < MAX_RUNNING) {
		struct tj_mail_job *job = NULL;
		struct tj_mail_alert a;
		tj_err perr = { 0 };

		if ((r = tj_mail_job_claim(m->svc, &job, err)) <= 0)
			break;
		tj_mail_job_alert(job, &a);
		if (tj_mail_job_prepare(m->svc, job, &a, &perr) < 0 ||
		    launch(m, job, &perr) < 0) {
			/* cannot even start: an attempt that failed, recorded at once */
			struct tj_mailer_done done = { 0 };

			job->result.outcome = TJ_MAIL_RETRY;
			snprintf(job->result.error, sizeof job->result.error, "%.600s", perr.msg);
			settle(m, job, &done, err);
			if (done.recorded < 0)
				return done.recorded;
			continue;
		}
		started++;
	}
	if (r < 0)
		return r;
	if (next_due && (r = tj_mail_next_due(m->svc, next_due, err)) < 0)
		return r;
	return started;
}

int tj_mailer_send_direct(tj_mailer *m, const struct tj_mail_alert *a, tj_mailer_direct_cb cb,
			  void *data, tj_err *err)
{
	struct tj_mail_job *job = calloc(1, sizeof *job);
	int r;

	if (!job)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	job->direct = true;
	job->direct_cb = cb;
	job->direct_data = data;
	if ((r = tj_mail_job_prepare(m->svc, job, a, err)) < 0 || (r = launch(m, job, err)) < 0) {
		tj_mail_job_free(job);
		return r;
	}
	return 0;
}

int tj_mailer_running(const tj_mailer *m)
{
	return m ? m->nrunning : 0;
}

int tj_mailer_record_held(tj_mailer *m, tj_err *err)
{
	int n = 0;

	/* each held job once: one held again waits for the next reconnect */
	for (int left = m->nheld; left > 0 && m->held && db_usable(m); left--) {
		struct tj_mail_job *job = m->held;
		struct tj_mailer_done done = { 0 };

		m->held = job->next;
		job->next = NULL;
		m->nheld--;
		settle(m, job, &done, err);
		if (done.held)
			return done.recorded;
		n++;
	}
	return n;
}

void tj_mailer_abandon(tj_mailer *m, const char *why)
{
	struct tj_mail_job *job;
	tj_err err = { 0 };

	if (!m)
		return;
	while ((job = m->running)) {
		drop_running(m, job);
		if (!job->direct && db_usable(m) && tj_mail_job_release(m->svc, job, why, &err) < 0)
			tj_log(TJ_LOG_WARNING, "alert %ld: giving its mail back failed: %s (its lease "
					       "runs out and it is sent again)",
			       job->alert_id, err.msg);
		tj_mail_job_free(job);
	}
	if (db_usable(m))
		tj_mailer_record_held(m, &err);
	while ((job = m->held)) {
		m->held = job->next;
		tj_log(TJ_LOG_WARNING, "alert %ld: its mail ended (%s) but could not be recorded; it "
				       "is sent again when its lease runs out",
		       job->alert_id, tj_mail_outcome_name(job->result.outcome));
		tj_mail_job_free(job);
	}
	m->nheld = 0;
}
