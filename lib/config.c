/*
 * Configuration: one table of keys (as pgbouncer's CfKey), parsed with
 * inih. The handler stops at the first bad line; inih returns that line
 * number and we name it with the key and the reason.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "traject/config.h"
#include "traject/mail.h"
#include "util.h"

enum key_type { K_STRING, K_LONG, K_FORMATS, K_URL, K_MAIL_LIST, K_MAIL, K_SMTP_URL };

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	long min, max;
};

#define OFF(f) offsetof(tj_config, f)
static const struct key keys[] = {
	{ "database", "conninfo", K_STRING, OFF(conninfo), 0, 0 },
	{ "schedule", "lead_days", K_LONG, OFF(lead_days), 0, 365 },
	{ "schedule", "time_zone", K_STRING, OFF(time_zone), 0, 0 },
	{ "schedule", "workers", K_LONG, OFF(workers), 1, 64 },
	{ "delivery", "url", K_URL, OFF(url), 0, 0 },
	{ "delivery", "formats", K_FORMATS, 0, 0, 0 },
	{ "delivery", "ca_file", K_STRING, OFF(ca_file), 0, 0 },
	{ "delivery", "client_cert", K_STRING, OFF(client_cert), 0, 0 },
	{ "delivery", "client_key", K_STRING, OFF(client_key), 0, 0 },
	{ "delivery", "timeout", K_LONG, OFF(timeout), 1, 3600 },
	{ "delivery", "retry_base", K_LONG, OFF(retry_base), 1, 86400 },
	{ "delivery", "retry_max", K_LONG, OFF(retry_max), 1, 604800 },
	{ "delivery", "warn_hours", K_LONG, OFF(warn_hours), 0, 8760 },
	{ "alert", "mail_to", K_MAIL_LIST, OFF(mail_to), 0, 0 },
	{ "alert", "smtp_url", K_SMTP_URL, OFF(smtp_url), 0, 0 },
	{ "alert", "mail_from", K_MAIL, OFF(mail_from), 0, 0 },
	{ "alert", "mail_timeout", K_LONG, OFF(mail_timeout), 1, 600 },
	{ "alert", "db_away", K_LONG, OFF(db_away), 1, 86400 },
	{ "report", "suppress_below", K_LONG, OFF(suppress_below), 3, 100 },
};

struct parse_state {
	tj_config *cfg;
	char why[512];
};

static int set_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return TJ_ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

static int set_formats(tj_config *cfg, const char *value, char *why, size_t whylen)
{
	TJ_AUTOFREE char *copy = strdup(value);
	char *save = NULL;
	bool xml = false, json = false;

	if (!copy)
		return TJ_ENOMEM;
	for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		if (!strcmp(t, "xml"))
			xml = true;
		else if (!strcmp(t, "json"))
			json = true;
		else {
			snprintf(why, whylen, "unknown format '%s' (use xml, json or both)", t);
			return TJ_EINVAL;
		}
	}
	if (!xml && !json) {
		snprintf(why, whylen, "name at least one format (xml, json)");
		return TJ_EINVAL;
	}
	cfg->format_xml = xml;
	cfg->format_json = json;
	return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	const struct key *k = NULL;
	char *base = (char *)st->cfg;

	for (size_t i = 0; i < TJ_ARRAY_SIZE(keys); i++) {
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name)) {
			k = &keys[i];
			break;
		}
	}
	if (!k) {
		snprintf(st->why, sizeof st->why, "[%s] %s: unknown key (see trajectd.conf(5))",
			 section, name);
		return 0;
	}
	switch (k->type) {
	case K_STRING:
		if (!*value) {
			snprintf(st->why, sizeof st->why, "[%s] %s: empty value", section, name);
			return 0;
		}
		return set_string((char **)(void *)(base + k->offset), value) == 0;
	case K_URL:
		if (strncmp(value, "https://", 8) && strncmp(value, "file:///", 8)) {
			snprintf(st->why, sizeof st->why,
				 "[%s] %s: '%s' is neither https:// nor file:///", section, name, value);
			return 0;
		}
		return set_string((char **)(void *)(base + k->offset), value) == 0;
	case K_MAIL_LIST:
	case K_MAIL:
	case K_SMTP_URL: {
		char why[300] = "";
		int r = k->type == K_SMTP_URL ? tj_smtp_url_check(value, why, sizeof why)
			: k->type == K_MAIL  ? tj_mail_address_check(value, why, sizeof why)
					     : tj_mail_list_check(value, why, sizeof why);

		if (r < 0) {
			snprintf(st->why, sizeof st->why, "[%s] %s: %s", section, name, why);
			return 0;
		}
		return set_string((char **)(void *)(base + k->offset), value) == 0;
	}
	case K_LONG: {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < k->min || v > k->max) {
			snprintf(st->why, sizeof st->why,
				 "[%s] %s: '%s' is not a whole number from %ld to %ld", section, name,
				 value, k->min, k->max);
			return 0;
		}
		*(long *)(void *)(base + k->offset) = v;
		return 1;
	}
	case K_FORMATS:
		{
			char why[256] = "";

			if (set_formats(st->cfg, value, why, sizeof why) < 0) {
				snprintf(st->why, sizeof st->why, "[%s] %s: %s", section, name, why);
				return 0;
			}
		}
		return 1;
	}
	return 0;
}

int tj_config_new(tj_config **out, tj_err *err)
{
	tj_config *cfg = calloc(1, sizeof *cfg);

	if (!cfg || !(cfg->time_zone = strdup("Europe/Amsterdam"))) {
		free(cfg);
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	}
	cfg->lead_days = 5;
	cfg->workers = 2;
	cfg->format_xml = cfg->format_json = true;
	cfg->timeout = 60;
	cfg->retry_base = 60;
	cfg->retry_max = 3600;
	cfg->warn_hours = 48;
	cfg->suppress_below = 5; /* TJ_SUPPRESS_DEFAULT */
	cfg->mail_timeout = 30;
	cfg->db_away = 300;
	*out = cfg;
	return 0;
}

int tj_config_load(tj_config **out, const char *path, tj_err *err)
{
	struct parse_state st = { 0 };
	tj_config *cfg = NULL;
	int r, line;

	if ((r = tj_config_new(&cfg, err)) < 0)
		return r;
	st.cfg = cfg;
	line = ini_parse(path, handler, &st);
	if (line == -1) {
		tj_config_free(cfg);
		return tj_fail(err, TJ_ECONFIG, "%s: cannot open: %s", path, strerror(errno));
	}
	if (line != 0) {
		tj_config_free(cfg);
		return tj_fail(err, TJ_ECONFIG, "%s:%d: %s", path, line,
			       st.why[0] ? st.why : "not a 'key = value' line or a [section]");
	}
	if (cfg->retry_base > cfg->retry_max) {
		r = tj_fail(err, TJ_ECONFIG, "%s: [delivery] retry_base (%ld) exceeds retry_max (%ld)",
			    path, cfg->retry_base, cfg->retry_max);
		tj_config_free(cfg);
		return r;
	}
	if (!(cfg->path = strdup(path))) {
		tj_config_free(cfg);
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	}
	*out = cfg;
	return 0;
}

void tj_config_free(tj_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->conninfo);
	free(cfg->time_zone);
	free(cfg->url);
	free(cfg->ca_file);
	free(cfg->client_cert);
	free(cfg->client_key);
	free(cfg->mail_to);
	free(cfg->smtp_url);
	free(cfg->mail_from);
	free(cfg);
}
