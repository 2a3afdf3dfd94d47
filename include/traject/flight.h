/*
 * Deliveries in flight: the event loop's side of the outbox (docs/daemon.md,
 * "The loop"). A flight claims due deliveries like the blocking pass does,
 * but starts each HTTPS attempt as a transfer on a libcurl multi handle
 * driven by the loop (include/traject/loop.h) and records its outcome when
 * libcurl reports it; file:// attempts are local and bounded, so they run
 * at once. While the database is away, finished attempts are held and
 * recorded after the reconnect (if their lease has run out meanwhile,
 * another instance retries with the same bytes and key: still safe).
 *
 * The flight uses svc->conn for every statement; the caller sets it to
 * NULL while the database is away. Errors follow include/traject/error.h.
 */
#ifndef TRAJECT_FLIGHT_H
#define TRAJECT_FLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "traject/error.h"
#include "traject/loop.h"
#include "traject/outbox.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tj_flight tj_flight;

/* What became of one finished transfer. */
struct tj_flight_done {
	int recorded;         /* 1 recorded, 0 lease lost, < 0 not recorded (see err) */
	bool held;            /* not recorded because the database is away: kept for later */
	int64_t next_attempt; /* a recorded RETRY: its next try (service clock), else INT64_MAX */
	const tj_err *err;    /* why it was not recorded (recorded < 0) */
};

/* Called on the loop after every finished transfer. */
typedef void (*tj_flight_cb)(tj_flight *f, const struct tj_flight_done *done, void *data);

/*
 * A flight on loop for svc, running at most max_running transfers at once
 * (>= 1). cb may be NULL. svc stays borrowed (its conn and cfg may change
 * between calls: a reload or a reconnect).
 */
int tj_flight_new(tj_flight **out, tj_loop *loop, tj_service *svc, int max_running,
		  tj_flight_cb cb, void *data, tj_err *err);
/* Abandon whatever still runs, without touching the database; accepts NULL. */
void tj_flight_free(tj_flight *f);

/*
 * Claim every delivery that is due (each at most once per call) until
 * max_running transfers run: start HTTPS ones, attempt file:// ones now and
 * record them. Counts attempts and outcomes in st and lowers st->next_due
 * to the next queued try. Returns the number of transfers started, or a
 * negative code (the database failed; what was claimed stays in flight or
 * runs out its lease).
 */
int tj_flight_start_due(tj_flight *f, struct tj_pass_stats *st, tj_err *err);

int tj_flight_running(const tj_flight *f);
/* Finished attempts whose outcome waits for the database. */
int tj_flight_held(const tj_flight *f);
/* True when the last tj_flight_start_due stopped at max_running with work left. */
bool tj_flight_backlog(const tj_flight *f);

/* Record the held outcomes (after a reconnect). Returns how many, or a negative code. */
int tj_flight_record_held(tj_flight *f, tj_err *err);

/*
 * Another transfer on the flight's multi handle, not a delivery (an alert
 * mail, lib/alert_mailer.c): libcurl drives it on the same loop, and cb
 * runs there when it ends. The easy handle stays the caller's; it must not
 * use CURLOPT_PRIVATE for a struct tj_transfer. Returns 0 or TJ_ENET.
 */
typedef void (*tj_flight_easy_cb)(CURL *easy, CURLcode code, void *data);
int tj_flight_add_easy(tj_flight *f, CURL *easy, tj_flight_easy_cb cb, void *data, tj_err *err);
/* Stop such a transfer now; its callback does not run. */
void tj_flight_remove_easy(tj_flight *f, CURL *easy);

/*
 * Stop every running transfer now. With the database up, each lease is
 * given back (the attempt is recorded as abandoned and queued again at
 * once) and held outcomes are recorded; otherwise they are left to their
 * leases. Returns how many transfers were abandoned.
 */
int tj_flight_abandon(tj_flight *f, const char *why);

#ifdef __cplusplus
}
#endif
#endif
