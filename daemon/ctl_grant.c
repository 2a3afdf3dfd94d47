/*
 * trajectctl grant load / grant list: load a grant decision (or record an
 * amendment of it) and show every grant with its current version. A
 * refused file prints every problem, one per line, then one summary line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "traject/grant.h"

#define LOAD_USAGE "grant load FILE.json"
#define LIST_USAGE "grant list [--json]"

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int cmd_grant_load(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	tj_grant_stored st = { 0 };
	tj_diags d;
	tj_err err = { 0 };
	const char *path;
	int r;

	opterr = 0;
	if (getopt_long(argc, argv, "+", opts, NULL) != -1 || argc - optind != 1)
		return ctl_usage(ctl, LOAD_USAGE);
	path = argv[optind];
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	tj_diags_init(&d);
	r = tj_grant_load_file(ctl->conn, path, &d, &st, &err);
	if (r == TJ_EINVAL && d.total > 0) {
		for (size_t i = 0; i < d.count; i++)
			fprintf(stderr, "%s\n", d.items[i]);
		if (d.total > d.count)
			fprintf(stderr, "%s: ... and %zu more problems\n", path, d.total - d.count);
		fprintf(stderr, "%s: grant refused, nothing stored (%zu %s)\n", path, d.total,
			plural(d.total, "problem", "problems"));
		tj_diags_clear(&d);
		return CTL_FAIL;
	}
	tj_diags_clear(&d);
	if (r < 0)
		return ctl_error(ctl, &err);
	if (r == TJ_GRANT_UNCHANGED)
		printf("grant %s: unchanged (version %d)\n", st.id, st.version);
	else if (st.version == 1)
		printf("grant %s: version 1 loaded (%zu %s, %zu %s)\n", st.id, st.n_obligations,
		       plural(st.n_obligations, "obligation", "obligations"), st.n_reports,
		       plural(st.n_reports, "report", "reports"));
	else
		printf("grant %s: amendment recorded as version %d (%zu %s, %zu %s)\n", st.id,
		       st.version, st.n_obligations,
		       plural(st.n_obligations, "obligation", "obligations"), st.n_reports,
		       plural(st.n_reports, "report", "reports"));
	return CTL_OK;
}

static json_object *summary_json(const tj_grant_summary *s)
{
	json_object *o = json_object_new_object(), *period = json_object_new_object();

	json_object_object_add(period, "start", json_object_new_string(s->period_start));
	json_object_object_add(period, "end", json_object_new_string(s->period_end));
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "title", s->title ? json_object_new_string(s->title) : NULL);
	json_object_object_add(o, "grantor", json_object_new_string(s->grantor));
	json_object_object_add(o, "grantee", json_object_new_string(s->grantee));
	json_object_object_add(o, "period", period);
	json_object_object_add(o, "amount_granted", json_object_new_string(s->amount_granted));
	json_object_object_add(o, "target_trajectories", json_object_new_int(s->target_trajectories));
	json_object_object_add(o, "version", json_object_new_int(s->version));
	json_object_object_add(o, "known_at", json_object_new_string(s->known_at));
	return o;
}

/* Display width in characters (UTF-8 continuation bytes take no room). */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* One cell: control characters shown as spaces, padded unless last. */
static void cell(const char *s, size_t w, bool last)
{
	size_t n = width(s);

	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
	if (!last)
		printf("%*s", (int)(w - n + 2), "");
}

enum { C_ID, C_VERSION, C_PERIOD, C_AMOUNT, C_TARGET, C_KNOWN_AT, C_GRANTOR, C_GRANTEE, C_TITLE,
       NCOLS };

struct row {
	char num[2][16], period[32];
	const char *text[NCOLS];
};

static void fill_row(struct row *r, const tj_grant_summary *s)
{
	snprintf(r->num[0], sizeof r->num[0], "%d", s->version);
	snprintf(r->num[1], sizeof r->num[1], "%d", s->target_trajectories);
	snprintf(r->period, sizeof r->period, "%s..%s", s->period_start, s->period_end);
	r->text[C_ID] = s->id;
	r->text[C_VERSION] = r->num[0];
	r->text[C_PERIOD] = r->period;
	r->text[C_AMOUNT] = s->amount_granted;
	r->text[C_TARGET] = r->num[1];
	r->text[C_KNOWN_AT] = s->known_at;
	r->text[C_GRANTOR] = s->grantor;
	r->text[C_GRANTEE] = s->grantee;
	r->text[C_TITLE] = s->title ? s->title : "";
}

/* An aligned table, free-text columns last so that long names do no harm. */
static int print_table(const tj_grant_summary *s, size_t n)
{
	static const char *const head[NCOLS] = { "ID",	     "VERSION", "PERIOD",
						 "AMOUNT",   "TARGET",	"KNOWN_AT",
						 "GRANTOR",  "GRANTEE", "TITLE" };
	struct row *rows = calloc(n, sizeof *rows);
	size_t w[NCOLS];

	if (!rows)
		return CTL_FAIL;
	for (size_t c = 0; c < NCOLS; c++)
		w[c] = width(head[c]);
	for (size_t i = 0; i < n; i++) {
		fill_row(&rows[i], &s[i]);
		for (size_t c = 0; c < NCOLS; c++)
			if (width(rows[i].text[c]) > w[c])
				w[c] = width(rows[i].text[c]);
	}
	for (size_t c = 0; c < NCOLS; c++)
		cell(head[c], w[c], c == NCOLS - 1);
	putchar('\n');
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < NCOLS; c++)
			cell(rows[i].text[c], w[c], c == NCOLS - 1);
		putchar('\n');
	}
	free(rows);
	return CTL_OK;
}

int cmd_grant_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	tj_grant_summary *s = NULL;
	tj_err err = { 0 };
	size_t n = 0;
	bool json = false;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'j')
			return ctl_usage(ctl, LIST_USAGE);
		json = true;
	}
	if (optind != argc)
		return ctl_usage(ctl, LIST_USAGE);
	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_grant_list(ctl->conn, &s, &n, &err) < 0)
		return ctl_error(ctl, &err);
	if (json) {
		json_object *list = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(list, summary_json(&s[i]));
		r = ctl_print_json(list);
		json_object_put(list);
	} else if (n == 0) {
		printf("no grants yet (load one with 'trajectctl grant load FILE.json')\n");
	} else {
		r = print_table(s, n);
	}
	tj_grant_summaries_free(s, n);
	return r;
}
