/*
 * trajectctl internals: the shared context of every command and the
 * command functions (one file per area: ctl_grant.c, ctl_import.c, ...).
 * Commands print results on stdout and problems on stderr, and return the
 * process exit status: 0 success, 2 usage error, 1 any other failure.
 */
#ifndef TJ_CTL_H
#define TJ_CTL_H

#include <libpq-fe.h>

#include "traject/config.h"
#include "traject/error.h"

#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 2

struct ctl {
	const char *prog;
	const char *conninfo; /* --db, else [database] conninfo, else libpq's defaults */
	tj_config *cfg;       /* --config, or the defaults */
	PGconn *conn;         /* opened by ctl_connect() */
};

/* Open the database and check the schema (unless check_schema is 0). */
int ctl_connect(struct ctl *ctl, int check_schema);

/* Print "trajectctl: <msg>" on stderr; returns CTL_FAIL. */
int ctl_error(const struct ctl *ctl, const tj_err *err);
/* Print o pretty (2 spaces, no escaped slashes) and a newline on stdout. */
struct json_object;
int ctl_print_json(struct json_object *o);
/* Print a usage line for one command on stderr; returns CTL_USAGE. */
int ctl_usage(const struct ctl *ctl, const char *usage);

int cmd_migrate(struct ctl *ctl, int argc, char **argv);
int cmd_grant_load(struct ctl *ctl, int argc, char **argv);
int cmd_grant_list(struct ctl *ctl, int argc, char **argv);
int cmd_import(struct ctl *ctl, int argc, char **argv);
int cmd_events(struct ctl *ctl, int argc, char **argv);
int cmd_void(struct ctl *ctl, int argc, char **argv);
int cmd_report(struct ctl *ctl, int argc, char **argv);
int cmd_deliver(struct ctl *ctl, int argc, char **argv);
int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_alert_list(struct ctl *ctl, int argc, char **argv);
int cmd_alert_resolve(struct ctl *ctl, int argc, char **argv);
int cmd_explain(struct ctl *ctl, int argc, char **argv);
int cmd_role_grant(struct ctl *ctl, int argc, char **argv);
int cmd_role_revoke(struct ctl *ctl, int argc, char **argv);
int cmd_role_list(struct ctl *ctl, int argc, char **argv);

#endif
