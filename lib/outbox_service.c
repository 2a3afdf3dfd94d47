/*
 * The service around the outbox: the instance name, the service clock
 * (trajectd --clock), the traject.instances row that says an instance is
 * alive, NOTIFY trajectd, and the small SQL helpers the outbox files share.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "db.h"
#include "outbox_private.h"
#include "util.h"

/* ---- small helpers ------------------------------------------------------ */

int tj_bytea_param(const void *data, size_t len, char **out, tj_err *err)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = data;
	char *s = malloc(2 * len + 3);

	if (!s)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	s[0] = '\\';
	s[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		s[2 + 2 * i] = hex[p[i] >> 4];
		s[3 + 2 * i] = hex[p[i] & 15];
	}
	s[2 + 2 * len] = '\0';
	*out = s;
	return 0;
}

int tj_usec_value(const char *text, int64_t *usec)
{
	char *end;
	long long v;

	if (!text)
		return TJ_EINVAL;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || *end)
		return TJ_EINVAL;
	*usec = (int64_t)v;
	return 0;
}

int tj_outbox_grant_key(PGconn *conn, const char *grant_id, char key[static 24], tj_err *err)
{
	TJ_AUTORES PGresult *res = NULL;
	const char *params[1] = { grant_id };
	int r;

	r = tj_pq(conn, "looking up the grant", "SELECT grant_key FROM traject.grants WHERE id = $1",
		  1, params, &res, err);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		return tj_fail(err, TJ_ENOTFOUND, "no grant '%s': see 'trajectctl grant list'",
			       grant_id);
	snprintf(key, 24, "%s", PQgetvalue(res, 0, 0));
	return 0;
}

int tj_outbox_notify(PGconn *conn, const char *why, tj_err *err)
{
	const char *params[1] = { why };

	return tj_pq(conn, "waking the daemons", "SELECT pg_notify('trajectd', $1)", 1, params,
		     NULL, err);
}

/* ---- the service -------------------------------------------------------- */

int64_t tj_real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * TJ_USEC_PER_SEC + ts.tv_nsec / 1000;
}

void tj_service_init(tj_service *svc, PGconn *conn, const tj_config *cfg, const char *prefix,
		     int64_t clock_start)
{
	unsigned char rnd[4] = { 0 };
	char host[64];

	memset(svc, 0, sizeof *svc);
	svc->conn = conn;
	svc->cfg = cfg;
	if (gethostname(host, sizeof host) != 0 || !host[0])
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '_';
	}
	/* The pid alone repeats across hosts and reboots; a random tail does not. */
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		memset(rnd, 0, sizeof rnd);
	snprintf(svc->instance, sizeof svc->instance, "%s@%s:%ld:%02x%02x%02x%02x", prefix, host,
		 (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
	svc->clock_offset = clock_start == TJ_CLOCK_REAL ? 0 : clock_start - tj_real_now();
}

int64_t tj_service_now(const tj_service *svc)
{
	return tj_real_now() + svc->clock_offset;
}

int tj_instance_register(tj_service *svc, tj_err *err)
{
	char now[32], pid[24], host[64];
	const char *params[4] = { svc->instance, host, pid, now };
	const char *at = strchr(svc->instance, '@');
	int r;

	snprintf(host, sizeof host, "%.*s", at ? (int)strcspn(at + 1, ":") : 0, at ? at + 1 : "");
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	tj_timestamp_format(tj_service_now(svc), now);
	r = tj_pq(svc->conn, "registering the instance",
		  "INSERT INTO traject.instances (instance_id, host, pid, started_at, heartbeat_at,"
		  " service_clock) VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp(), $4)",
		  4, params, NULL, err);
	if (r == 0)
		svc->registered = true;
	return r;
}

int tj_instance_heartbeat(tj_service *svc, tj_err *err)
{
	char now[32];
	const char *params[2] = { svc->instance, now };

	if (!svc->registered)
		return 0;
	tj_timestamp_format(tj_service_now(svc), now);
	return tj_pq(svc->conn, "recording a heartbeat",
		     "UPDATE traject.instances SET heartbeat_at = clock_timestamp(), service_clock = $2"
		     " WHERE instance_id = $1",
		     2, params, NULL, err);
}

int tj_instance_stop(tj_service *svc, tj_err *err)
{
	const char *params[1] = { svc->instance };
	int r;

	if (!svc->registered)
		return 0;
	r = tj_pq(svc->conn, "recording the stop",
		  "UPDATE traject.instances SET stopped_at = clock_timestamp(),"
		  " heartbeat_at = clock_timestamp() WHERE instance_id = $1",
		  1, params, NULL, err);
	if (r == 0)
		svc->registered = false;
	return r;
}

