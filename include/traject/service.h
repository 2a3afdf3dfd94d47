/*
 * The database side of the long-running service (docs/daemon.md, "The
 * loop"): a connection that is made without blocking the loop, the
 * session a service needs on it (the schema check, a statement timeout,
 * LISTEN trajectd), the wake-ups it hears, and the instance row's record
 * of database outages. Errors follow include/traject/error.h.
 */
#ifndef TRAJECT_SERVICE_H
#define TRAJECT_SERVICE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "traject/error.h"
#include "traject/outbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The channel trajectd LISTENs on (NOTIFY trajectd). */
#define TJ_WAKE_CHANNEL "trajectd"

/*
 * Start connecting without blocking (PQconnectStartParams), with the same
 * session settings as tj_db_connect: drive it with PQconnectPoll on
 * PQsocket until PGRES_POLLING_OK or _FAILED. *out owns the connection on
 * success (also one that will fail: read PQerrorMessage, then PQfinish).
 */
int tj_db_connect_start(PGconn **out, const char *conninfo, const char *app_name, tj_err *err);

/*
 * Make a fresh connection a service session: check the schema, bound
 * every statement by statement_timeout_ms (> 0) and LISTEN trajectd.
 */
int tj_service_session(PGconn *conn, long statement_timeout_ms, tj_err *err);

/*
 * Drain the notifications libpq has read; returns how many were
 * wake-ups on TJ_WAKE_CHANNEL sent by another session (our own generation
 * notifies too: that must not wake us again).
 */
int tj_service_wakeups(PGconn *conn);

/*
 * After a reconnect: count the outage in this instance's row (lost_at is
 * when it was noticed, real clock, microseconds) and heartbeat; registers
 * the instance again when its row is gone.
 */
int tj_instance_db_back(tj_service *svc, int64_t lost_at, tj_err *err);

#ifdef __cplusplus
}
#endif
#endif
