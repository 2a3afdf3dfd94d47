/*
 * The floor of docs/performance.md's idle figure: the least a daemon with
 * trajectd's libraries costs in resident memory while it waits. It loads
 * what trajectd loads and initialises it the way trajectd does (libcurl and
 * its TLS, a multi handle, libxml2, json-c, inih, OpenSSL's digest,
 * libsystemd), opens one PostgreSQL session, LISTENs, and then sleeps in
 * poll on that socket until it is killed. Nothing of trajectd's own.
 *
 *   idle_floor CONNINFO
 */
#include <poll.h>
#include <stdio.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <libxml/parser.h>
#include <ini.h>
#include <openssl/evp.h>
#include <systemd/sd-daemon.h>

int main(int argc, char **argv)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	json_object *o;
	CURLM *multi;
	PGresult *res;
	PGconn *conn;

	if (argc != 2) {
		fprintf(stderr, "usage: idle_floor CONNINFO\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(multi = curl_multi_init()))
		return 1;
	xmlInitParser();
	ini_parse_string("", NULL, NULL);
	o = json_object_new_object();
	json_object_put(o);
	EVP_Digest("", 0, md, &mdlen, EVP_sha256(), NULL);
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "idle_floor: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQexec(conn, "LISTEN idle_floor");
	PQclear(res);
	sd_notify(0, "READY=1");
	for (;;) {
		struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };

		if (poll(&p, 1, 60000) < 0 || !PQconsumeInput(conn))
			break;
		while ((res = PQgetResult(conn)))
			PQclear(res);
	}
	curl_multi_cleanup(multi);
	PQfinish(conn);
	return 0;
}
