/*
 * trajectctl deliver --grant ID --report REPORT_ID [--new-version]
 *
 * Generate a calendar report now if it has no version yet and queue it
 * for the configured target; a trajectd instance delivers it (NOTIFY
 * trajectd wakes a running one). Without --new-version the command never
 * makes a second version: it queues the stored one again where it is not
 * delivered or was rejected (same bytes, same key). --new-version makes a
 * corrected report: a new version with a new K and its own keys.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "traject/outbox.h"

#define USAGE "deliver --grant ID --report REPORT_ID [--new-version]"

static void print_generated(const char *grant, const char *report, const struct tj_gen_result *g,
			    const char *url)
{
	printf("grant %s report %s: version %d generated (known at %s%s), %d document%s queued "
	       "for %s\n",
	       grant, report, g->version, g->known_at, g->late ? ", late" : "", g->formats,
	       g->formats == 1 ? "" : "s", url);
}

int cmd_deliver(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grant", required_argument, NULL, 'g' },
		{ "report", required_argument, NULL, 'r' },
		{ "new-version", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	const char *grant = NULL, *report = NULL;
	bool new_version = false;
	struct tj_gen_result gen;
	tj_service svc;
	tj_err err = { 0 };
	int c, r, version = 0, queued = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			grant = optarg;
			break;
		case 'r':
			report = optarg;
			break;
		case 'N':
			new_version = true;
			break;
		default:
			return ctl_usage(ctl, USAGE);
		}
	}
	if (!grant || !report || optind != argc)
		return ctl_usage(ctl, USAGE);
	if (!ctl->cfg->url) {
		fprintf(stderr, "%s: no [delivery] url is configured: give --config FILE with a "
				"[delivery] url (see trajectd.conf(5))\n",
			ctl->prog);
		return CTL_FAIL;
	}
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_sched_use_zone(ctl->cfg->time_zone, &err) < 0)
		return ctl_error(ctl, &err);
	tj_service_init(&svc, ctl->conn, ctl->cfg, "trajectctl", TJ_CLOCK_REAL);

	r = tj_outbox_generate(&svc, grant, report, new_version ? TJ_GEN_NEW_VERSION : TJ_GEN_MANUAL,
			       &gen, &err);
	if (r < 0)
		return ctl_error(ctl, &err);
	if (r == 0) {
		print_generated(grant, report, &gen, ctl->cfg->url);
		return CTL_OK;
	}
	/* A version exists (r == 1): queue it where it is not delivered yet. */
	if (tj_outbox_requeue(&svc, grant, report, &version, &queued, &err) < 0)
		return ctl_error(ctl, &err);
	if (queued)
		printf("grant %s report %s: version %d exists; %d deliver%s queued for %s\n", grant,
		       report, version, queued, queued == 1 ? "y" : "ies", ctl->cfg->url);
	else
		printf("grant %s report %s: version %d is already delivered or on its way to %s; "
		       "nothing queued (for a corrected report use --new-version)\n",
		       grant, report, version, ctl->cfg->url);
	return CTL_OK;
}
