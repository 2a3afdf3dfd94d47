/*
 * trajectctl import, events and void: thin front ends of lib/import.c and
 * lib/events.c. Results go to stdout, problems to stderr; import prints
 * every diagnostic line of a refused file, compiler style.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "traject/events.h"
#include "traject/import.h"
#include "traject/value.h"

#define IMPORT_USAGE "import --grant ID FILE.csv"
#define EVENTS_USAGE "events --grant ID [--trajectory REF] [--json]"
#define VOID_USAGE "void --grant ID EVENT_ID --reason TEXT"

static const char *plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void diags_freep(tj_diags *d)
{
	tj_diags_clear(d);
}

int cmd_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grant", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	__attribute__((cleanup(diags_freep))) tj_diags diags;
	struct tj_import_result res = { 0 };
	const char *grant = NULL, *path;
	tj_err err = { 0 };
	int c, r;

	tj_diags_init(&diags);
	/* optind 0 re-initialises glibc's getopt: main() parsed in '+' (stop at
	 * the command) mode, and options may follow FILE or EVENT_ID here. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'g')
			return ctl_usage(ctl, IMPORT_USAGE);
		grant = optarg;
	}
	if (!grant || optind != argc - 1)
		return ctl_usage(ctl, IMPORT_USAGE);
	path = argv[optind];
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	r = tj_import_file(ctl->conn, grant, path, &res, &diags, &err);
	if (r == TJ_IMPORT_ALREADY) {
		/* TJ030 of docs/import.md: not an error, so stdout and exit 0 */
		printf("%s: TJ030 already imported for grant %s on %s as batch %lld: nothing "
		       "stored\n",
		       path, grant, res.recorded_at, res.batch_id);
		return CTL_OK;
	}
	if (r == TJ_EINVAL && diags.total) {
		for (size_t i = 0; i < diags.count; i++)
			fprintf(stderr, "%s\n", diags.items[i]);
		if (diags.total > diags.count)
			fprintf(stderr, "... and %zu more\n", diags.total - diags.count);
		fprintf(stderr, "%s\n", err.msg);
		return CTL_FAIL;
	}
	if (r < 0)
		return ctl_error(ctl, &err);
	printf("%s: %ld %s of %ld %s imported (batch %lld)\n", path, res.events,
	       plural(res.events, "event", "events"), res.trajectories,
	       plural(res.trajectories, "trajectory", "trajectories"), res.batch_id);
	return CTL_OK;
}

/* --- events ----------------------------------------------------------------- */

struct listing {
	bool json;
	long count;
	struct tj_events_widths w;
};

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

static int print_json(const struct tj_event *ev, long n)
{
	json_object *o = json_object_new_object();

	if (!o)
		return TJ_ENOMEM;
	json_object_object_add(o, "id", json_object_new_int64(ev->id));
	json_object_object_add(o, "trajectory", json_object_new_string(ev->trajectory));
	json_object_object_add(o, "date", json_object_new_string(ev->date));
	json_object_object_add(o, "event", json_object_new_string(ev->event));
	json_object_object_add(o, "value", ev->value ? json_object_new_string(ev->value) : NULL);
	json_object_object_add(o, "recorded_at", json_object_new_string(ev->recorded_at));
	json_object_object_add(o, "voided", json_object_new_boolean(ev->voided));
	if (ev->voided) {
		json_object_object_add(o, "void_reason", json_object_new_string(ev->void_reason));
		json_object_object_add(o, "voided_at", json_object_new_string(ev->voided_at));
	}
	/* One object at a time: the list is streamed, not built whole. */
	printf("%s  %s", n == 0 ? "[\n" : ",\n",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

static void print_row(const struct listing *l, const char *id, const char *traj,
		      const char *date, const char *event, const char *value, const char *rec,
		      const char *voided)
{
	if (*voided)
		printf("%*s  %-*s  %-10s  %-*s  %-*s  %-*s  %s\n", l->w.id, id, l->w.trajectory, traj,
		       date, l->w.event, event, l->w.value, value, l->w.recorded_at, rec, voided);
	else
		printf("%*s  %-*s  %-10s  %-*s  %-*s  %s\n", l->w.id, id, l->w.trajectory, traj, date,
		       l->w.event, event, l->w.value, value, rec);
}

static int on_event(void *ctx, const struct tj_event *ev, tj_err *err)
{
	struct listing *l = ctx;
	char id[24], *voided = NULL;

	if (l->json) {
		if (print_json(ev, l->count++) < 0)
			return tj_fail(err, TJ_ENOMEM, "out of memory");
		return 0;
	}
	if (l->count++ == 0) {
		l->w.id = max_int(ev->widths.id, 2);
		l->w.trajectory = max_int(ev->widths.trajectory, 10);
		l->w.event = max_int(ev->widths.event, 5);
		l->w.value = max_int(ev->widths.value, 5);
		l->w.recorded_at = max_int(ev->widths.recorded_at, 11);
		print_row(l, "ID", "TRAJECTORY", "DATE", "EVENT", "VALUE", "RECORDED_AT", "");
	}
	snprintf(id, sizeof id, "%lld", ev->id);
	if (ev->voided && asprintf(&voided, "VOIDED %s: %s", ev->voided_at, ev->void_reason) < 0)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	print_row(l, id, ev->trajectory, ev->date, ev->event, ev->value ? ev->value : "",
		  ev->recorded_at, voided ? voided : "");
	free(voided);
	return 0;
}

int cmd_events(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grant", required_argument, NULL, 'g' },
		{ "trajectory", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct listing l = { 0 };
	const char *grant = NULL, *traj = NULL;
	tj_err err = { 0 };
	int c, r;

	/* optind 0 re-initialises glibc's getopt: main() parsed in '+' (stop at
	 * the command) mode, and options may follow FILE or EVENT_ID here. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'g': grant = optarg; break;
		case 't': traj = optarg; break;
		case 'j': l.json = true; break;
		default: return ctl_usage(ctl, EVENTS_USAGE);
		}
	}
	if (!grant || optind != argc)
		return ctl_usage(ctl, EVENTS_USAGE);
	if (traj && !tj_ref_valid(traj)) {
		fprintf(stderr, "%s: --trajectory '%s' is not a reference (1 to 64 of A-Z a-z 0-9 . _ -)\n",
			ctl->prog, traj);
		return ctl_usage(ctl, EVENTS_USAGE);
	}
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	r = tj_events_list(ctl->conn, grant, traj, on_event, &l, &err);
	if (l.json && l.count)
		printf("\n]\n");
	if (r < 0)
		return ctl_error(ctl, &err);
	if (l.json && !l.count)
		printf("[]\n");
	else if (!l.count && traj)
		printf("no events of trajectory '%s' in grant '%s'\n", traj, grant);
	else if (!l.count)
		printf("no events in grant '%s'\n", grant);
	return CTL_OK;
}

/* --- void ------------------------------------------------------------------- */

/* A positive event id, the whole argument; 0 when it is not one. */
static long long parse_id(const char *s)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return 0;
	return v;
}

int cmd_void(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grant", required_argument, NULL, 'g' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct tj_void_result res = { 0 };
	const char *grant = NULL, *reason = NULL;
	tj_err err = { 0 };
	long long id;
	int c, r;

	/* optind 0 re-initialises glibc's getopt: main() parsed in '+' (stop at
	 * the command) mode, and options may follow FILE or EVENT_ID here. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'g': grant = optarg; break;
		case 'r': reason = optarg; break;
		default: return ctl_usage(ctl, VOID_USAGE);
		}
	}
	if (!grant || !reason || optind != argc - 1)
		return ctl_usage(ctl, VOID_USAGE);
	if (!(id = parse_id(argv[optind]))) {
		fprintf(stderr, "%s: EVENT_ID '%s' is not a positive whole number (see 'trajectctl "
				"events --grant %s')\n",
			ctl->prog, argv[optind], grant);
		return ctl_usage(ctl, VOID_USAGE);
	}
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_event_void(ctl->conn, grant, id, reason, &res, &err) < 0)
		return ctl_error(ctl, &err);
	printf("event %lld (%s %s %s) voided at %s\n", id, res.trajectory, res.date, res.event,
	       res.recorded_at);
	if (!strcmp(res.event, "registered"))
		printf("note: trajectory '%s' has no registered event now: reports from now on do "
		       "not count it\n",
		       res.trajectory);
	return CTL_OK;
}
