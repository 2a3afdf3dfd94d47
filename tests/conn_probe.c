/*
 * conn_probe: a test helper for tests/it_service.py. It opens a session as
 * the library does, blocking (tj_db_connect: trajectctl, trajectd's
 * start-up) or on a poll loop (tj_db_connect_start: trajectd's reconnect),
 * and prints the connection parameters that bound a silent database host
 * (keepalives, tcp_user_timeout, connect_timeout) as PQconninfo reports
 * them, one "keyword=value" a line. Exit 0 when connected, 1 with the
 * library's or libpq's message on stderr, 2 on usage.
 *
 *   conn_probe connect|start CONNINFO
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "traject/db.h"
#include "traject/service.h"

static const char *const shown[] = { "keepalives", "keepalives_idle", "keepalives_interval",
				     "keepalives_count", "tcp_user_timeout", "connect_timeout",
				     "application_name" };

/* Drive PQconnectPoll to an end (at most 30 s, as a test's own bound). */
static int poll_to_end(PGconn *conn)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd p = { .fd = PQsocket(conn),
				    .events = st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN };

		if (poll(&p, 1, 30000) <= 0) {
			fprintf(stderr, "conn_probe: no connection within 30 s\n");
			return -1;
		}
		st = PQconnectPoll(conn);
	}
	if (st == PGRES_POLLING_FAILED) {
		fprintf(stderr, "conn_probe: %s", PQerrorMessage(conn));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	PGconn *conn = NULL;
	PQconninfoOption *opts;
	tj_err err = { 0 };
	int r;

	if (argc != 3 || (strcmp(argv[1], "connect") && strcmp(argv[1], "start"))) {
		fprintf(stderr, "usage: conn_probe connect|start CONNINFO\n");
		return 2;
	}
	r = !strcmp(argv[1], "connect") ? tj_db_connect(&conn, argv[2], "conn_probe", &err)
					: tj_db_connect_start(&conn, argv[2], "conn_probe", &err);
	if (r < 0) {
		fprintf(stderr, "conn_probe: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(argv[1], "start") && poll_to_end(conn) < 0) {
		PQfinish(conn);
		return 1;
	}
	if (!(opts = PQconninfo(conn))) {
		PQfinish(conn);
		fprintf(stderr, "conn_probe: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (!strcmp(o->keyword, shown[i]))
				printf("%s=%s\n", o->keyword, o->val ? o->val : "");
	PQconninfoFree(opts);
	PQfinish(conn);
	return 0;
}
