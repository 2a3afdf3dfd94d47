/*
 * trajectctl alert list [--all] [--json] | alert resolve ALERT_ID: what the
 * administrator sees and closes (docs/daemon.md, "Alerts"). `status` shows
 * the open alerts too; `list --all` adds the resolved ones, with who
 * resolved them and how their mail went. Resolving closes any open alert:
 * a report alert whose condition still holds is raised again (a new alert,
 * a new mail) by the next pass of trajectd.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "ctl.h"
#include "traject/alert.h"

#define LIST_USAGE "alert list [--all] [--json]"
#define RESOLVE_USAGE "alert resolve ALERT_ID"

int cmd_alert_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "all", no_argument, NULL, 'a' },
					      { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	bool all = false, json = false;
	tj_err err = { 0 };
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'j')
			json = true;
		else
			return ctl_usage(ctl, LIST_USAGE);
	}
	if (optind != argc)
		return ctl_usage(ctl, LIST_USAGE);
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (json) {
		json_object *list = NULL;

		if (tj_alerts_json(ctl->conn, NULL, all, &list, &err) < 0)
			return ctl_error(ctl, &err);
		r = ctl_print_json(list);
		json_object_put(list);
		return r;
	}
	if (tj_alerts_text(ctl->conn, NULL, all, stdout, &err) < 0)
		return ctl_error(ctl, &err);
	return CTL_OK;
}

int cmd_alert_resolve(struct ctl *ctl, int argc, char **argv)
{
	struct tj_alert_resolved res;
	tj_err err = { 0 };
	char *end = NULL;
	long id;
	int r;

	if (argc != 2)
		return ctl_usage(ctl, RESOLVE_USAGE);
	errno = 0;
	id = strtol(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || id < 1) {
		fprintf(stderr, "%s: '%s' is not an alert id: 'trajectctl alert list' shows them\n",
			ctl->prog, argv[1]);
		return ctl_usage(ctl, RESOLVE_USAGE);
	}
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_alert_resolve(ctl->conn, id, &res, &err) < 0)
		return ctl_error(ctl, &err);
	if (res.was_open)
		printf("alert %ld (%s, %s) resolved\n", id, res.kind, res.what);
	else
		printf("alert %ld (%s, %s) was resolved already, at %s by %s\n", id, res.kind,
		       res.what, res.resolved_at, res.resolved_by);
	return CTL_OK;
}
