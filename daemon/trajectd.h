/*
 * The parts of the trajectd program (private to daemon/trajectd*.c and
 * daemon/td_*.c): the configuration check, systemd notification, and the
 * service -- one event loop over the database connection, the transfers
 * in flight, the timers and the signals (docs/daemon.md, "The loop").
 */
#ifndef TRAJECTD_H
#define TRAJECTD_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "traject/alert.h"
#include "traject/config.h"
#include "traject/flight.h"
#include "traject/loop.h"
#include "traject/outbox.h"

#define PROG "trajectd"

/* ---- td_config.c: reading and checking the configuration ------------------- */

/*
 * Read path into a fresh configuration and make the checks the parser
 * cannot (the -n checks). Every problem is reported as "FILE:LINE:
 * [section] key: what": on stderr as "trajectd: ..." when !service (the
 * -n check and start-up), through the log at err when service (a reload).
 * Returns 0 with *out owned by the caller, or 1.
 */
int td_config_load(const char *path, bool service, tj_config **out);

/* ---- td_notify.c: the systemd notification protocol --------------------------- */

/* sd_notify(3) one state line ("READY=1\nSTATUS=..."); a no-op without NOTIFY_SOCKET. */
void td_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asks for (WATCHDOG_USEC), in microseconds, or 0. */
uint64_t td_watchdog_usec(void);

/* ---- the service (td_service.c, td_db.c) ------------------------------------- */

enum td_db_state {
	TD_DB_UP,         /* connected, LISTENing, passes run */
	TD_DB_WAITING,    /* away: the reconnect timer runs */
	TD_DB_CONNECTING, /* a non-blocking connection attempt is under way */
};

struct td_outage;

struct td {
	tj_loop *loop;
	tj_flight *flight;
	tj_mailer *mailer;   /* alert mails, on the flight's multi handle */
	tj_service svc;      /* svc.conn is conn while TD_DB_UP, else NULL */
	tj_config *cfg;      /* owned; replaced by a good reload */
	const char *config_path;
	char *conninfo;      /* the one of the start: not reloadable */

	/* the database */
	PGconn *conn;
	enum td_db_state db_state;
	int db_fd;           /* the socket watched on the loop, or -1 */
	long backoff_s;      /* the next reconnect delay */
	int db_attempts;     /* failed reconnects in this outage */
	int64_t db_lost_at;  /* real clock */
	char db_error[300];  /* why it is away (one line) */

	/* the database alert (td_away.c) */
	struct td_outage *outage;   /* the outage going on, while the database is away */
	struct td_outage *outages;  /* outages that raised an alert not stored yet */
	tj_timer away_timer, away_mail_timer;

	/* timers (one-shot, re-armed) */
	tj_timer pass_timer, watchdog_timer, reconnect_timer, connect_timer, stop_timer;
	uint64_t last_pass_ms;  /* monotonic end of the last pass */
	uint64_t watchdog_ms;   /* half of WATCHDOG_USEC, 0 without a watchdog */

	/* stopping */
	int stop_signals;    /* SIGTERM/SIGINT seen */
	long stop_deadline_s;

	/* accounting for the exit line */
	uint64_t started_ms, wakeups;
	int exit_code;
};

/* td_service.c */
int td_run(tj_config **cfg, const char *config_path, int64_t clock_start);
/* The info line of a pass (nothing when it did nothing); started: transfers begun. */
void td_log_pass(const struct tj_pass_stats *st, int started);
/* Run a pass after delay_ms (at least a second after the last one), unless one comes sooner. */
void td_schedule_pass(struct td *d, uint64_t delay_ms);
/* Tell systemd what the service is doing (STATUS=...), plus extra state lines. */
void td_status(struct td *d, const char *extra);
/* Start the alert mails that are due (after a pass or an outcome that may raise alerts). */
void td_mail_due(struct td *d);

/* td_db.c */
/* The first connection, blocking (start-up fails without it): 0 or 1 (logged). */
int td_db_open(struct td *d);
/* Watch the connection's socket for wake-ups and lost connections. */
int td_db_watch(struct td *d);
/* The connection broke: log it once, go on without it, reconnect with backoff. */
void td_db_lost(struct td *d, const char *why);
/* After a statement failed: is the connection gone? (then td_db_lost was called) */
bool td_db_check(struct td *d, const char *why);
void td_db_close(struct td *d);

/* td_away.c: the alert of a database that stays away ([alert] db_away) */
/* The connection was just lost (d->db_lost_at): start counting. */
void td_away_lost(struct td *d);
/*
 * The connection is back (before d->db_error is cleared): an outage that
 * raised the alert is stored now, or as soon as its mail has ended.
 */
void td_away_back(struct td *d);
/* Stopping: say which database alerts could not be stored; free them. */
void td_away_stop(struct td *d);

#endif
