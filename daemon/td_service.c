/*
 * The long-running trajectd: ONE single-threaded event loop
 * (include/traject/loop.h) over
 *   - the database socket: NOTIFY trajectd wakes a pass, a broken
 *     connection is survived and re-made (td_db.c);
 *   - the transfers in flight on libcurl's multi socket interface
 *     (include/traject/flight.h): a slow receiver never blocks the loop;
 *     alert mails run on the same multi handle (include/traject/alert.h);
 *   - timers: the next pass (the earliest due moment from the database,
 *     at most 60 s away: it also heartbeats), the systemd watchdog, the
 *     reconnect backoff and the stop deadline;
 *   - signals read through signalfd: SIGTERM/SIGINT stop in two stages,
 *     SIGHUP reloads the configuration.
 * A pass itself runs synchronous, short statements (bounded by the
 * session's statement_timeout); see docs/daemon.md for what blocks.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trajectd.h"
#include "traject/log.h"
#include "traject/mail.h"
#include "traject/service.h"

/* An idle service still runs a pass (and heartbeats) this often. */
#define PASS_MAX_MS 60000u
/* At least this between two passes: a retry due "now" must not spin. */
#define PASS_GAP_MS 1000u
/* After a pass that failed while the database stayed up. */
#define PASS_RETRY_MS 5000u
/* Transfers in flight at once. */
#define MAX_RUNNING 16
/* A first SIGTERM waits for transfers at most min([delivery] timeout, this). */
#define STOP_DEADLINE_MAX_S 30L

static const char ABANDONED[] =
	"abandoned: trajectd stopped before the receiver answered (it may have the document; "
	"the retry sends the same bytes with the same Idempotency-Key)";

static void on_pass(tj_loop *loop, void *data);

void td_log_pass(const struct tj_pass_stats *st, int started)
{
	char transfers[48] = "";

	if (!(st->generated || st->attempts || st->alerts || started))
		return;
	if (started)
		snprintf(transfers, sizeof transfers, "; %d transfers started", started);
	tj_log(TJ_LOG_INFO,
	       "pass: %d generated (%d late), %d attempts: %d delivered, %d to retry, "
	       "%d rejected; %d alerts raised%s",
	       st->generated, st->generated_late, st->attempts, st->delivered, st->retried,
	       st->rejected, st->alerts, transfers);
}

void td_schedule_pass(struct td *d, uint64_t delay_ms)
{
	uint64_t now = tj_monotonic_ms(), due = now + delay_ms;

	if (d->last_pass_ms && due < d->last_pass_ms + PASS_GAP_MS)
		due = d->last_pass_ms + PASS_GAP_MS;
	if (d->pass_timer.armed && d->pass_timer.due_ms <= due)
		return;
	tj_loop_timer_arm(d->loop, &d->pass_timer, due - now, on_pass, d);
}

/* A pass at a moment of the service clock (at most PASS_MAX_MS from now). */
static void schedule_at(struct td *d, int64_t when)
{
	int64_t left = when == INT64_MAX ? INT64_MAX : when - tj_service_now(&d->svc);
	uint64_t ms = PASS_MAX_MS;

	if (left <= 0)
		ms = 0;
	else if (left < (int64_t)PASS_MAX_MS * 1000)
		ms = (uint64_t)left / 1000u + 1u;
	td_schedule_pass(d, ms);
}

void td_status(struct td *d, const char *extra)
{
	char text[700], since[32];

	if (d->stop_signals)
		snprintf(text, sizeof text, "stopping: waiting for %d transfers in flight",
			 tj_flight_running(d->flight));
	else if (d->db_state == TD_DB_UP)
		snprintf(text, sizeof text, "running: database connected, %d transfers in flight",
			 tj_flight_running(d->flight));
	else
		snprintf(text, sizeof text,
			 "database unreachable since %s (%s); reconnecting in %ld s; %d transfers "
			 "in flight, %d outcomes held",
			 tj_timestamp_format(d->db_lost_at, since), d->db_error, d->backoff_s,
			 tj_flight_running(d->flight), tj_flight_held(d->flight));
	td_notify("%s%sSTATUS=%s", extra ? extra : "", extra ? "\n" : "", text);
}

/* The notifications libpq read along with our own results are wake-ups too. */
static void drain_wakeups(struct td *d)
{
	if (d->db_state == TD_DB_UP && tj_service_wakeups(d->conn) > 0 && !d->stop_signals)
		td_schedule_pass(d, 0);
}

/* Transfers of either kind still running: a stop waits for both. */
static int in_flight(const struct td *d)
{
	return tj_flight_running(d->flight) + tj_mailer_running(d->mailer);
}

void td_mail_due(struct td *d)
{
	int64_t next = INT64_MAX;
	tj_err err = { 0 };

	if (d->stop_signals || d->db_state != TD_DB_UP || !tj_mail_configured(d->cfg))
		return;
	if (tj_mailer_start_due(d->mailer, &next, &err) < 0) {
		if (!td_db_check(d, err.msg))
			tj_log(TJ_LOG_ERR, "starting alert mails failed: %s", err.msg);
		return;
	}
	if (next != INT64_MAX)
		schedule_at(d, next);
}

static void on_watchdog(tj_loop *loop, void *data);

/*
 * WATCHDOG=1, sent from the loop (a loop that hangs stops petting and
 * systemd restarts it), and the next one at the latest next_ms from now.
 */
static void pet_watchdog(struct td *d, uint64_t next_ms)
{
	td_notify("WATCHDOG=1");
	tj_loop_timer_arm(d->loop, &d->watchdog_timer, next_ms, on_watchdog, d);
}

static void on_watchdog(tj_loop *loop, void *data)
{
	struct td *d = data;

	(void)loop;
	pet_watchdog(d, d->watchdog_ms);
}

static void on_pass(tj_loop *loop, void *data)
{
	struct td *d = data;
	struct tj_pass_stats st;
	tj_err err = { 0 };
	int started = 0, r;

	(void)loop;
	/*
	 * Every pass pets the watchdog and pushes its own timer to three
	 * quarters of WATCHDOG_USEC: an idle service (a pass every 60 s, the
	 * unit's WatchdogSec=120s) wakes once a minute, not for both timers.
	 */
	if (d->watchdog_ms)
		pet_watchdog(d, d->watchdog_ms * 3 / 2);
	if (d->stop_signals || d->db_state != TD_DB_UP)
		return;
	memset(&st, 0, sizeof st);
	st.next_due = INT64_MAX;
	if ((r = tj_instance_heartbeat(&d->svc, &err)) >= 0 &&
	    (r = tj_outbox_generate_due(&d->svc, &st, &err)) >= 0 &&
	    (r = started = tj_flight_start_due(d->flight, &st, &err)) >= 0 &&
	    (r = tj_outbox_check_alerts(&d->svc, &st, &err)) >= 0)
		/* the alerts this pass (or anyone) raised, and retries that are due */
		r = tj_mailer_start_due(d->mailer, &st.next_due, &err);
	d->last_pass_ms = tj_monotonic_ms();
	if (r < 0) {
		if (td_db_check(d, err.msg))
			return; /* lost: logged, reconnecting; a pass follows the reconnect */
		tj_log(TJ_LOG_ERR, "pass failed: %s", err.msg);
		td_schedule_pass(d, PASS_RETRY_MS);
		return;
	}
	td_log_pass(&st, started);
	malloc_trim(0); /* what the pass needed goes back to the kernel (trajectd.c) */
	schedule_at(d, st.next_due);
	drain_wakeups(d);
}

/* Leave the loop: give back what is still in flight, mark the instance stopped. */
static void finish(struct td *d)
{
	tj_err err = { 0 };

	if (tj_loop_stopped(d->loop))
		return;
	tj_loop_timer_disarm(d->loop, &d->pass_timer);
	tj_loop_timer_disarm(d->loop, &d->stop_timer);
	tj_loop_timer_disarm(d->loop, &d->reconnect_timer);
	tj_loop_timer_disarm(d->loop, &d->connect_timer);
	tj_loop_timer_disarm(d->loop, &d->watchdog_timer);
	tj_flight_abandon(d->flight, ABANDONED);
	tj_mailer_abandon(d->mailer, "abandoned: trajectd stopped before the mail server answered");
	td_away_stop(d);
	if (d->db_state == TD_DB_UP && tj_instance_stop(&d->svc, &err) < 0)
		tj_log(TJ_LOG_WARNING, "%s", err.msg);
	tj_loop_stop(d->loop);
}

static void on_flight_done(tj_flight *f, const struct tj_flight_done *done, void *data)
{
	struct td *d = data;

	if (done->held)
		td_db_check(d, done->err->msg);
	if (d->db_state == TD_DB_UP && !d->stop_signals) {
		if (done->next_attempt != INT64_MAX)
			schedule_at(d, done->next_attempt);
		if (tj_flight_backlog(f))
			td_schedule_pass(d, 0);
		td_mail_due(d); /* the outcome may have raised an alert */
		drain_wakeups(d);
	}
	if (d->stop_signals && in_flight(d) == 0)
		finish(d);
	else if (d->stop_signals || d->db_state != TD_DB_UP)
		td_status(d, NULL); /* fewer in flight, maybe one more held */
}

static void on_mail_done(tj_mailer *m, const struct tj_mailer_done *done, void *data)
{
	struct td *d = data;

	(void)m;
	if (done->held)
		td_db_check(d, done->err->msg);
	if (d->db_state == TD_DB_UP && !d->stop_signals) {
		if (done->next_attempt != INT64_MAX)
			schedule_at(d, done->next_attempt);
		td_mail_due(d); /* room for the next one */
		drain_wakeups(d);
	}
	if (d->stop_signals && in_flight(d) == 0)
		finish(d);
}

static void on_stop_deadline(tj_loop *loop, void *data)
{
	struct td *d = data;

	(void)loop;
	tj_log(TJ_LOG_WARNING, "the stop deadline of %ld s has passed: abandoning %d transfers",
	       d->stop_deadline_s, in_flight(d));
	finish(d);
}

static void stop(struct td *d, int signo)
{
	if (d->stop_signals++ > 0) {
		tj_log(TJ_LOG_WARNING, "signal %d again: stopping at once, abandoning %d transfers",
		       signo, in_flight(d));
		finish(d);
		return;
	}
	tj_log(TJ_LOG_INFO, "stopping on signal %d", signo);
	tj_loop_timer_disarm(d->loop, &d->pass_timer); /* no new claims from now on */
	td_status(d, "STOPPING=1");
	if (in_flight(d) == 0) {
		finish(d);
		return;
	}
	d->stop_deadline_s = d->cfg->timeout < STOP_DEADLINE_MAX_S ? d->cfg->timeout
								   : STOP_DEADLINE_MAX_S;
	tj_log(TJ_LOG_INFO,
	       "waiting up to %ld s for %d transfers in flight (a second signal stops at once)",
	       d->stop_deadline_s, in_flight(d));
	tj_loop_timer_arm(d->loop, &d->stop_timer, (uint64_t)d->stop_deadline_s * 1000u,
			  on_stop_deadline, d);
}

/* SIGHUP: a fresh configuration with the -n checks, swapped in only when good. */
static void reload(struct td *d)
{
	tj_config *fresh = NULL;
	tj_err err = { 0 };

	td_notify("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)tj_monotonic_ms() * 1000u);
	tj_log(TJ_LOG_INFO, "SIGHUP: re-reading the configuration %s", d->config_path);
	if (td_config_load(d->config_path, true, &fresh) != 0 ||
	    tj_sched_use_zone(fresh->time_zone, &err) < 0) {
		if (fresh)
			tj_log(TJ_LOG_ERR, "%s", err.msg);
		tj_config_free(fresh);
		tj_sched_use_zone(d->cfg->time_zone, NULL);
		tj_log(TJ_LOG_ERR, "configuration %s refused: keeping the old one", d->config_path);
	} else {
		if (strcmp(fresh->conninfo ? fresh->conninfo : "", d->conninfo ? d->conninfo : ""))
			tj_log(TJ_LOG_WARNING, "%s: [database] conninfo changed: it takes effect when "
					       "trajectd is restarted",
			       d->config_path);
		tj_config_free(d->cfg);
		d->cfg = fresh;
		d->svc.cfg = fresh;
		tj_log(TJ_LOG_INFO, "configuration %s re-read", d->config_path);
		/* a new lead_days or url may make something due now */
		if (!d->stop_signals && d->db_state == TD_DB_UP)
			td_schedule_pass(d, 0);
	}
	td_status(d, d->stop_signals ? NULL : "READY=1");
}

static void on_signal(tj_loop *loop, int signo, void *data)
{
	(void)loop;
	if (signo == SIGHUP)
		reload(data);
	else
		stop(data, signo);
}

static int start(struct td *d, int64_t clock_start)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	tj_err err = { 0 };
	char now[32];

	if (tj_sched_use_zone(d->cfg->time_zone, &err) < 0 || tj_loop_new(&d->loop, &err) < 0 ||
	    /* blocked from here on: a signal during start-up waits for the loop */
	    tj_loop_signals(d->loop, signals, (int)(sizeof signals / sizeof signals[0]), on_signal,
			    d, &err) < 0) {
		tj_log(TJ_LOG_ERR, "%s", err.msg);
		return 1;
	}
	tj_service_init(&d->svc, NULL, d->cfg, PROG, clock_start);
	if (td_db_open(d) != 0)
		return 1;
	if (tj_instance_register(&d->svc, &err) < 0 ||
	    tj_flight_new(&d->flight, d->loop, &d->svc, MAX_RUNNING, on_flight_done, d, &err) < 0 ||
	    tj_mailer_new(&d->mailer, d->flight, &d->svc, on_mail_done, d, &err) < 0) {
		tj_log(TJ_LOG_ERR, "%s", err.msg);
		return 1;
	}
	if (td_db_watch(d) < 0)
		return 1;
	tj_log(TJ_LOG_INFO, "instance %s started, service clock %s, target %s", d->svc.instance,
	       tj_timestamp_format(tj_service_now(&d->svc), now), d->cfg->url);
	d->watchdog_ms = td_watchdog_usec() / 2000u;
	if (d->watchdog_ms)
		tj_loop_timer_arm(d->loop, &d->watchdog_timer, d->watchdog_ms, on_watchdog, d);
	/* READY: the database is up and LISTENing */
	td_status(d, "READY=1");
	td_schedule_pass(d, 0);
	return 0;
}

int td_run(tj_config **cfgp, const char *config_path, int64_t clock_start)
{
	struct td d;
	tj_err err = { 0 };
	int rc;

	memset(&d, 0, sizeof d);
	d.cfg = *cfgp;
	d.config_path = config_path;
	d.db_fd = -1;
	d.started_ms = tj_monotonic_ms();
	if (d.cfg->conninfo && !(d.conninfo = strdup(d.cfg->conninfo))) {
		tj_log(TJ_LOG_ERR, "out of memory");
		return 1;
	}
	rc = start(&d, clock_start);
	while (rc == 0 && !tj_loop_stopped(d.loop)) {
		if (tj_loop_run_once(d.loop, -1, &err) < 0) {
			tj_log(TJ_LOG_ERR, "the event loop failed: %s", err.msg);
			finish(&d);
			rc = 1;
		}
		d.wakeups++;
	}
	if (d.loop && tj_loop_stopped(d.loop)) {
		double s = (double)(tj_monotonic_ms() - d.started_ms) / 1000.0;

		tj_log(TJ_LOG_INFO, "stopped: %llu loop wake-ups in %.1f s (%.1f a minute)",
		       (unsigned long long)d.wakeups, s, s > 0 ? (double)d.wakeups * 60.0 / s : 0.0);
	}
	if (d.loop)
		td_away_stop(&d);
	tj_mailer_free(d.mailer); /* its transfers are on the flight's multi handle */
	tj_flight_free(d.flight);
	if (d.loop)
		td_db_close(&d);
	else
		PQfinish(d.conn);
	tj_loop_free(d.loop);
	free(d.conninfo);
	*cfgp = d.cfg;
	return rc;
}
