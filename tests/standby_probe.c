/*
 * standby_probe: a test helper for tests/it_standby.py. It connects as
 * trajectctl does and prints the knowledge time that a report may use on
 * that database (include/traject/standby.h): "primary" on a primary, else
 * the K of tj_standby_known_at. Exit 0 with the answer on stdout, 1 with
 * the library's message on stderr, 2 on usage.
 *
 *   standby_probe CONNINFO [WANTED_TIMESTAMP [WAIT_MS]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "traject/db.h"
#include "traject/standby.h"

int main(int argc, char **argv)
{
	PGconn *conn = NULL;
	tj_err err = { 0 };
	char k[40];
	long wait_ms = TJ_STANDBY_WAIT_MS;
	int r;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: standby_probe CONNINFO [WANTED_TIMESTAMP [WAIT_MS]]\n");
		return 2;
	}
	if (argc == 4) {
		char *end;

		errno = 0;
		wait_ms = strtol(argv[3], &end, 10);
		if (errno || *end || wait_ms < 0 || wait_ms > 600000) {
			fprintf(stderr, "standby_probe: WAIT_MS must be 0..600000\n");
			return 2;
		}
	}
	if (tj_db_connect(&conn, argv[1], "standby_probe", &err) < 0) {
		fprintf(stderr, "standby_probe: %s\n", err.msg);
		return 1;
	}
	r = tj_standby_known_at(conn, argc >= 3 && argv[2][0] ? argv[2] : NULL, (int)wait_ms, k,
				&err);
	PQfinish(conn);
	if (r < 0) {
		fprintf(stderr, "standby_probe: %s\n", err.msg);
		return 1;
	}
	printf("%s\n", r == TJ_STANDBY ? k : "primary");
	return 0;
}
