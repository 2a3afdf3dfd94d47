/*
 * The alert of a database that stays away (docs/daemon.md, "Alerts"):
 * when the connection has been lost for [alert] db_away seconds, one
 * critical log line and, with mail configured, one e-mail sent at once
 * without the database (on the loop; retried with backoff while the
 * database stays away). When the connection is back, the outage is stored
 * as a 'database' alert: mail_state 'sent' if that mail went out, else
 * 'pending' so the outbox mails it. An outage shorter than db_away raises
 * nothing; it is only counted in the instance row (td_db.c).
 *
 * An outage whose alert cannot be stored yet (its mail is still on its
 * way, or the database went away again while storing it) waits in
 * d->outages and is stored at the next chance; the partial unique index of
 * sql/011_alert_mail.sql makes a second INSERT of the same outage a no-op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trajectd.h"
#include "traject/log.h"

struct td_outage {
	struct td *d;
	struct tj_db_outage o;
	char error[300];
	char mail_error[700];
	bool alerted;       /* db_away passed: logged (and mailed) */
	bool mail_running;
	int mail_attempts;
	struct td_outage *next;
};

static void send_mail(struct td *d, struct td_outage *o);

static void outage_free(struct td_outage *o)
{
	free(o);
}

/* The outage as it stands: the reconnect attempts and the last error so far. */
static void refresh(struct td *d, struct td_outage *o)
{
	o->o.failed_reconnects = d->db_attempts;
	if (d->db_error[0])
		snprintf(o->error, sizeof o->error, "%s", d->db_error);
	o->o.error = o->error;
}

static void on_mail_retry(tj_loop *loop, void *data)
{
	struct td *d = data;

	(void)loop;
	if (d->outage && d->outage->alerted && !d->outage->o.mailed && !d->outage->mail_running)
		send_mail(d, d->outage);
}

/* Store what can be stored: outages that are over and whose mail has ended. */
static void flush(struct td *d)
{
	struct td_outage **pp = &d->outages;
	bool stored = false;

	while (*pp && d->db_state == TD_DB_UP) {
		struct td_outage *o = *pp;
		tj_err err = { 0 };
		long id = 0;

		if (o->mail_running) {
			pp = &o->next;
			continue;
		}
		if (tj_alert_raise_database(&d->svc, &o->o, &id, &err) < 0) {
			if (td_db_check(d, err.msg))
				return; /* away again: kept for the next reconnect */
			tj_log(TJ_LOG_ERR, "the database alert of an outage could not be stored: %s",
			       err.msg);
		}
		stored = true;
		*pp = o->next;
		outage_free(o);
	}
	if (stored && d->db_state == TD_DB_UP)
		td_mail_due(d); /* a 'pending' one is mailed by the outbox */
}

static void on_direct_done(tj_mailer *m, const struct tj_mail_result *res, void *data)
{
	struct td_outage *o = data;
	struct td *d = o->d;

	(void)m;
	o->mail_running = false;
	if (res->outcome == TJ_MAIL_SENT) {
		o->o.mailed = true;
		o->o.mailed_at = tj_real_now();
		o->o.mail_error = NULL;
		tj_log(TJ_LOG_INFO, "the database alert was mailed to %s", d->cfg->mail_to);
	} else {
		snprintf(o->mail_error, sizeof o->mail_error, "%s", res->error);
		o->o.mail_error = o->mail_error;
		if (o == d->outage && res->outcome == TJ_MAIL_RETRY &&
		    o->mail_attempts < TJ_MAIL_ATTEMPTS) {
			long delay = tj_mail_retry_delay(o->mail_attempts, d->cfg->retry_base,
							 d->cfg->retry_max);

			tj_log(TJ_LOG_WARNING, "mailing the database alert failed, trying again in "
					       "%ld s: %s",
			       delay, res->error);
			tj_loop_timer_arm(d->loop, &d->away_mail_timer, (uint64_t)delay * 1000u,
					  on_mail_retry, d);
		} else {
			tj_log(TJ_LOG_ERR, "mailing the database alert failed: %s (once the database "
					   "is back, the alert's mail is queued again)",
			       res->error);
		}
	}
	if (o != d->outage)
		flush(d); /* the database came back while the mail was on its way */
}

static void send_mail(struct td *d, struct td_outage *o)
{
	struct tj_mail_alert a;
	char message[1200], raised[32];
	tj_err err = { 0 };

	refresh(d, o);
	tj_db_outage_message(&o->o, tj_real_now(), message, sizeof message);
	memset(&a, 0, sizeof a);
	a.kind = "database";
	a.message = message;
	a.raised_at = tj_timestamp_format(o->o.lost_at + d->svc.clock_offset, raised);
	a.raised_by = d->svc.instance;
	o->mail_attempts++;
	if (tj_mailer_send_direct(d->mailer, &a, on_direct_done, o, &err) < 0) {
		snprintf(o->mail_error, sizeof o->mail_error, "%.600s", err.msg);
		o->o.mail_error = o->mail_error;
		tj_log(TJ_LOG_ERR, "mailing the database alert failed: %s", err.msg);
		return;
	}
	o->mail_running = true;
}

static void on_away(tj_loop *loop, void *data)
{
	struct td *d = data;
	struct td_outage *o = d->outage;
	char message[1200];

	(void)loop;
	if (!o || d->db_state == TD_DB_UP)
		return;
	o->alerted = true;
	refresh(d, o);
	tj_db_outage_message(&o->o, tj_real_now(), message, sizeof message);
	tj_log(TJ_LOG_CRIT, "ALERT database: instance %s: %s", d->svc.instance, message);
	if (tj_mail_configured(d->cfg))
		send_mail(d, o);
}

void td_away_lost(struct td *d)
{
	struct td_outage *o = calloc(1, sizeof *o);

	free(d->outage); /* cannot happen: an outage ends when the connection is back */
	d->outage = o;
	if (!o) {
		tj_log(TJ_LOG_ERR, "out of memory: a long database outage will raise no alert");
		return;
	}
	o->d = d;
	o->o.lost_at = d->db_lost_at;
	tj_loop_timer_arm(d->loop, &d->away_timer, (uint64_t)d->cfg->db_away * 1000u, on_away, d);
}

void td_away_back(struct td *d)
{
	struct td_outage *o = d->outage, **tail = &d->outages;

	tj_loop_timer_disarm(d->loop, &d->away_timer);
	tj_loop_timer_disarm(d->loop, &d->away_mail_timer);
	d->outage = NULL;
	if (o && !o->alerted) {
		outage_free(o); /* shorter than db_away: only counted in the instance row */
		o = NULL;
	}
	if (o) {
		refresh(d, o);
		o->o.back_at = tj_real_now();
		while (*tail)
			tail = &(*tail)->next;
		*tail = o;
	}
	flush(d);
}

void td_away_stop(struct td *d)
{
	struct td_outage *o;
	char lost[32];

	tj_loop_timer_disarm(d->loop, &d->away_timer);
	tj_loop_timer_disarm(d->loop, &d->away_mail_timer);
	if (d->outage && d->outage->alerted)
		tj_log(TJ_LOG_WARNING, "stopping while the database is away: the database alert of "
				       "the outage since %s is not stored (the log above has it)",
		       tj_timestamp_format(d->outage->o.lost_at, lost));
	outage_free(d->outage);
	d->outage = NULL;
	while ((o = d->outages)) {
		d->outages = o->next;
		tj_log(TJ_LOG_WARNING, "stopping: the database alert of the outage since %s could "
				       "not be stored (the log above has it)",
		       tj_timestamp_format(o->o.lost_at, lost));
		outage_free(o);
	}
}
