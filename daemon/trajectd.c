/*
 * trajectd: the reporting service (cli.md, docs/daemon.md). A thin program
 * over libtraject: options, the configuration check (-n), one blocking
 * pass (--once), and otherwise the long-running service of td_service.c
 * (one event loop; systemd Type=notify).
 *
 * Exit status: 0 success (also a stop on SIGTERM/SIGINT), 2 usage error,
 * 1 any failure (a bad configuration, no database at start-up); a failed
 * delivery is not a failure of the program, it is recorded and retried.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "trajectd.h"
#include "traject/db.h"
#include "traject/log.h"

#define DEFAULT_CONFIG "/etc/trajectd/trajectd.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [--config FILE] [--once] [--clock TIMESTAMP]\n"
		   "       " PROG " -n [--config FILE]   check the configuration and exit\n");
}

/* --once: one blocking pass (tj_outbox_pass) and the alert mails that are due. */
static int run_once(const tj_config *cfg, int64_t clock_start)
{
	struct tj_pass_stats st;
	PGconn *conn = NULL;
	tj_service svc;
	tj_err err = { 0 };
	char now[32];
	int rc = 0;

	if (tj_sched_use_zone(cfg->time_zone, &err) < 0 ||
	    tj_db_connect(&conn, cfg->conninfo, PROG, &err) < 0 || tj_schema_check(conn, &err) < 0) {
		tj_log(TJ_LOG_ERR, "%s", err.msg);
		PQfinish(conn);
		return 1;
	}
	tj_service_init(&svc, conn, cfg, PROG, clock_start);
	if (tj_instance_register(&svc, &err) < 0) {
		tj_log(TJ_LOG_ERR, "%s", err.msg);
		PQfinish(conn);
		return 1;
	}
	tj_log(TJ_LOG_INFO, "instance %s started for one pass, service clock %s, target %s",
	       svc.instance, tj_timestamp_format(tj_service_now(&svc), now), cfg->url);
	if (tj_outbox_pass(&svc, &st, &err) < 0) {
		tj_log(TJ_LOG_ERR, "pass failed: %s", err.msg);
		rc = 1;
	} else {
		td_log_pass(&st, 0);
		/* the alerts of this pass (or of anyone) that wait for their mail, blocking */
		if (tj_alert_mail_send_due(&svc, &err) < 0) {
			tj_log(TJ_LOG_ERR, "sending alert mails failed: %s", err.msg);
			rc = 1;
		}
	}
	if (tj_instance_stop(&svc, &err) < 0)
		tj_log(TJ_LOG_WARNING, "%s", err.msg);
	PQfinish(conn);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "clock", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG, *clock_arg = NULL;
	int64_t clock_start = TJ_CLOCK_REAL;
	bool check = false, once = false;
	tj_config *cfg = NULL;
	int c, rc;

	/*
	 * A pass builds reports and documents of up to a few MB, thousands of
	 * times: keep freed memory in the heap for the next one instead of
	 * returning it to the kernel and faulting it in again (a third of the
	 * program's time in a national pass). The service hands it back after
	 * each pass (malloc_trim in td_service.c).
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);

	while ((c = getopt_long(argc, argv, "nc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			check = true;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'k':
			clock_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (check && (once || clock_arg))) {
		usage(stderr);
		return 2;
	}
	if (clock_arg && tj_timestamp_parse(clock_arg, &clock_start) < 0) {
		fprintf(stderr, PROG ": --clock '%s' is not an ISO 8601 timestamp with a zone "
				"(e.g. 2011-10-12T08:00:00+02:00)\n",
			clock_arg);
		usage(stderr);
		return 2;
	}
	if (td_config_load(config_path, false, &cfg) != 0)
		return 1;
	if (check) {
		printf("%s: configuration OK\n", config_path);
		tj_config_free(cfg);
		return 0;
	}
	tj_log_to_stderr(TJ_LOG_INFO);
	/* a closed stderr (journald restarting) must not kill the service */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		tj_log(TJ_LOG_ERR, "libcurl could not be initialised");
		tj_config_free(cfg);
		return 1;
	}
	rc = once ? run_once(cfg, clock_start) : td_run(&cfg, config_path, clock_start);
	curl_global_cleanup();
	tj_config_free(cfg);
	return rc;
}
