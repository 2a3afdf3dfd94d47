/*
 * The service's database connection on the loop: its socket is watched
 * for wake-ups (NOTIFY trajectd) and for the connection breaking; a lost
 * connection is logged once, the service runs on without it (transfers in
 * flight continue, their outcomes are held), and a new one is made without
 * blocking the loop (PQconnectStartParams/PQconnectPoll) after a capped
 * exponential backoff of 1 s, 2 s, ... 60 s. Once it is up again: LISTEN,
 * count the outage in the instance row, record the held outcomes, store
 * the database alert of an outage longer than [alert] db_away (td_away.c),
 * and run a pass.
 */
#include <stdio.h>
#include <string.h>

#include "trajectd.h"
#include "traject/db.h"
#include "traject/log.h"
#include "traject/service.h"

#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 60
/* One connection attempt (DNS aside, which libpq resolves blocking). */
#define CONNECT_TIMEOUT_MS 15000
/* Every statement of a pass is bounded by this (docs/daemon.md). */
#define STATEMENT_TIMEOUT_MS 30000L
/* A wake-up runs a pass this soon: a burst of NOTIFYs becomes one pass. */
#define WAKE_DELAY_MS 100

static void connect_begin(tj_loop *loop, void *data);

/* libpq's messages end in a newline and may hold several lines: keep one. */
static void one_line(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	if (!src || !*src)
		src = "(no message)";
	for (; *src && n + 1 < size; src++) {
		bool space = *src == '\n' || *src == '\r' || *src == '\t' || *src == ' ';

		if (space && (n == 0 || dst[n - 1] == ' '))
			continue;
		dst[n++] = space ? ' ' : *src;
	}
	while (n && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static void unwatch(struct td *d)
{
	if (d->db_fd >= 0)
		tj_loop_unwatch(d->loop, d->db_fd);
	d->db_fd = -1;
}

void td_db_close(struct td *d)
{
	/* unwatch before the fd is closed: the number may come back as a curl socket */
	unwatch(d);
	PQfinish(d->conn);
	d->conn = NULL;
	d->svc.conn = NULL;
}

static void on_input(tj_loop *loop, int fd, unsigned events, void *data)
{
	struct td *d = data;
	char why[300];

	(void)loop;
	(void)fd;
	(void)events;
	if (!PQconsumeInput(d->conn) || PQstatus(d->conn) != CONNECTION_OK) {
		one_line(why, sizeof why, PQerrorMessage(d->conn));
		td_db_lost(d, why);
		return;
	}
	if (tj_service_wakeups(d->conn) > 0 && !d->stop_signals)
		td_schedule_pass(d, WAKE_DELAY_MS);
}

int td_db_watch(struct td *d)
{
	tj_err err = { 0 };

	d->db_fd = PQsocket(d->conn);
	if (tj_loop_watch(d->loop, d->db_fd, TJ_LOOP_IN, on_input, d, &err) < 0) {
		d->db_fd = -1;
		tj_log(TJ_LOG_ERR, "watching the database connection: %s", err.msg);
		return -1;
	}
	return 0;
}

int td_db_open(struct td *d)
{
	tj_err err = { 0 };

	d->db_fd = -1;
	if (tj_db_connect(&d->conn, d->conninfo, PROG, &err) < 0 ||
	    tj_service_session(d->conn, STATEMENT_TIMEOUT_MS, &err) < 0) {
		tj_log(TJ_LOG_ERR, "%s", err.msg);
		PQfinish(d->conn);
		d->conn = NULL;
		return 1;
	}
	d->db_state = TD_DB_UP;
	d->svc.conn = d->conn;
	return 0;
}

static void wait_and_retry(struct td *d)
{
	d->db_state = TD_DB_WAITING;
	tj_loop_timer_arm(d->loop, &d->reconnect_timer, (uint64_t)d->backoff_s * 1000u,
			  connect_begin, d);
	td_status(d, NULL);
	d->backoff_s = d->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : d->backoff_s * 2;
}

void td_db_lost(struct td *d, const char *why)
{
	if (d->db_state != TD_DB_UP)
		return;
	one_line(d->db_error, sizeof d->db_error, why); /* before why's connection goes */
	td_db_close(d);
	tj_loop_timer_disarm(d->loop, &d->pass_timer);
	d->db_lost_at = tj_real_now();
	d->db_attempts = 0;
	d->backoff_s = BACKOFF_MIN_S;
	td_away_lost(d); /* [alert] db_away from now on */
	tj_log(TJ_LOG_ERR,
	       "database connection lost: %s; running on without it and reconnecting "
	       "(%d transfers in flight continue, their outcomes are recorded after the reconnect)",
	       d->db_error, tj_flight_running(d->flight));
	wait_and_retry(d);
}

bool td_db_check(struct td *d, const char *why)
{
	char line[300];

	if (d->db_state != TD_DB_UP || PQstatus(d->conn) == CONNECTION_OK)
		return d->db_state != TD_DB_UP;
	one_line(line, sizeof line, why ? why : PQerrorMessage(d->conn));
	td_db_lost(d, line);
	return true;
}

/*
 * A reconnect attempt failed: say so the first time, then only in STATUS=.
 * why may be PQerrorMessage of the connection closed here: copied first.
 */
static void connect_failed(struct td *d, const char *why)
{
	one_line(d->db_error, sizeof d->db_error, why);
	tj_loop_timer_disarm(d->loop, &d->connect_timer);
	td_db_close(d);
	if (d->db_attempts++ == 0)
		tj_log(TJ_LOG_WARNING, "reconnecting to the database failed: %s; trying again with "
				       "backoff up to %d s",
		       d->db_error, BACKOFF_MAX_S);
	wait_and_retry(d);
}

static void connected(struct td *d)
{
	tj_err err = { 0 };

	tj_loop_timer_disarm(d->loop, &d->connect_timer);
	unwatch(d);
	if (tj_service_session(d->conn, STATEMENT_TIMEOUT_MS, &err) < 0) {
		connect_failed(d, err.msg);
		return;
	}
	d->svc.conn = d->conn;
	d->db_state = TD_DB_UP;
	if (td_db_watch(d) < 0) {
		td_db_lost(d, "the connection's socket cannot be watched");
		return;
	}
	if (tj_instance_db_back(&d->svc, d->db_lost_at, &err) < 0) {
		if (td_db_check(d, err.msg))
			return;
		tj_log(TJ_LOG_WARNING, "%s", err.msg);
	}
	tj_log(TJ_LOG_INFO,
	       "database connection restored after %.1f s (%d failed attempts); listening again, "
	       "%d held outcomes to record",
	       (double)(tj_real_now() - d->db_lost_at) / 1e6, d->db_attempts,
	       tj_flight_held(d->flight));
	if (tj_flight_record_held(d->flight, &err) < 0 || tj_mailer_record_held(d->mailer, &err) < 0) {
		if (td_db_check(d, err.msg))
			return;
		tj_log(TJ_LOG_WARNING, "%s", err.msg);
	}
	/* an outage longer than [alert] db_away becomes a database alert now */
	td_away_back(d);
	if (d->db_state != TD_DB_UP)
		return; /* lost again while storing it: kept for the next reconnect */
	d->db_error[0] = '\0';
	td_status(d, NULL);
	if (!d->stop_signals)
		td_schedule_pass(d, 0);
}

static void on_connect_io(tj_loop *loop, int fd, unsigned events, void *data);

/* Drive PQconnectPoll: watch the socket for what it waits for. */
static void connect_step(struct td *d, PostgresPollingStatusType st)
{
	tj_err err = { 0 };
	int fd;

	switch (st) {
	case PGRES_POLLING_OK:
		connected(d);
		return;
	case PGRES_POLLING_FAILED:
		connect_failed(d, PQerrorMessage(d->conn));
		return;
	case PGRES_POLLING_READING:
	case PGRES_POLLING_WRITING:
	case PGRES_POLLING_ACTIVE:
		break;
	}
	fd = PQsocket(d->conn);
	if (fd != d->db_fd)
		unwatch(d); /* libpq moved on to another address */
	d->db_fd = fd;
	if (tj_loop_watch(d->loop, fd, st == PGRES_POLLING_WRITING ? TJ_LOOP_OUT : TJ_LOOP_IN,
			  on_connect_io, d, &err) < 0) {
		d->db_fd = -1;
		connect_failed(d, err.msg);
	}
}

static void on_connect_io(tj_loop *loop, int fd, unsigned events, void *data)
{
	struct td *d = data;

	(void)loop;
	(void)fd;
	(void)events;
	connect_step(d, PQconnectPoll(d->conn));
}

static void on_connect_timeout(tj_loop *loop, void *data)
{
	struct td *d = data;
	char why[80];

	(void)loop;
	snprintf(why, sizeof why, "no connection within %d s", CONNECT_TIMEOUT_MS / 1000);
	connect_failed(d, why);
}

static void connect_begin(tj_loop *loop, void *data)
{
	struct td *d = data;
	tj_err err = { 0 };

	(void)loop;
	if (tj_db_connect_start(&d->conn, d->conninfo, PROG, &err) < 0) {
		d->conn = NULL;
		connect_failed(d, err.msg);
		return;
	}
	d->db_state = TD_DB_CONNECTING;
	tj_loop_timer_arm(d->loop, &d->connect_timer, CONNECT_TIMEOUT_MS, on_connect_timeout, d);
	/* libpq: after PQconnectStart, act as if PQconnectPoll said WRITING */
	connect_step(d, PGRES_POLLING_WRITING);
}
