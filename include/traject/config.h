/*
 * The trajectd configuration file (INI, cli.md): one table of keys with
 * type, bounds and default in lib/config.c. Unknown sections or keys and
 * bad values are refused with "FILE:LINE: [section] key: what is wrong".
 */
#ifndef TRAJECT_CONFIG_H
#define TRAJECT_CONFIG_H

#include <stdbool.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tj_config {
	char *path;            /* the file it was read from, or NULL */
	char *conninfo;        /* [database] conninfo */
	long lead_days;        /* [schedule] lead_days, 0..365, default 5 */
	char *time_zone;       /* [schedule] time_zone, default Europe/Amsterdam */
	long workers;          /* [schedule] workers, 1..64, default 2: processes (each with
				  its own database session) that generate due reports of
				  different grants at once (docs/daemon.md) */
	char *url;             /* [delivery] url: https://... or file:///... */
	bool format_xml;       /* [delivery] formats, default "xml json" */
	bool format_json;
	char *ca_file;         /* [delivery] ca_file (path) */
	char *client_cert;     /* [delivery] client_cert (path) */
	char *client_key;      /* [delivery] client_key (path) */
	long timeout;          /* [delivery] timeout seconds, 1..3600, default 60 */
	long retry_base;       /* [delivery] retry_base seconds, 1..86400, default 60 */
	long retry_max;        /* [delivery] retry_max seconds, 1..604800, default 3600 */
	long warn_hours;       /* [delivery] warn_hours, 0..8760, default 48 */
	char *mail_to;         /* [alert] mail_to: addresses, space separated (checked) */
	char *smtp_url;        /* [alert] smtp_url: smtp://... or smtps://... (checked) */
	char *mail_from;       /* [alert] mail_from, NULL: trajectd@<hostname> */
	long mail_timeout;     /* [alert] mail_timeout seconds, 1..600, default 30 */
	long db_away;          /* [alert] db_away seconds, 1..86400, default 300: a lost
				  database this long raises a database alert */
	long suppress_below;   /* [report] suppress_below, 3..100, default 5: the public
				  version's threshold (docs/reports.md) */
} tj_config;

/* A configuration holding the defaults; *out is owned by the caller. */
int tj_config_new(tj_config **out, tj_err *err);
/* Read FILE into a fresh configuration (defaults for what it omits). */
int tj_config_load(tj_config **out, const char *path, tj_err *err);
void tj_config_free(tj_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
