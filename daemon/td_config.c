/*
 * The configuration check of trajectd (-n, start-up and every reload): what
 * inih and lib/config.c cannot know -- the zone exists, a target is set and
 * usable, the TLS files can be read, mail has both an address and a server. Each problem names the file, the line
 * of the key and the key. A reload makes exactly the same checks, so a
 * configuration that -n accepts is one a reload accepts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "trajectd.h"
#include "traject/deliver.h"
#include "traject/log.h"

/*
 * Where problems go: stderr before the service runs, the log while it runs.
 * Always with the syslog priority prefix (sd-daemon(3)): under systemd the
 * start-up check (ExecStartPre= trajectd -n, and the start itself) writes to
 * the journal, where an unprefixed line would be info, not an error.
 */
static void __attribute__((format(printf, 3, 4)))
say(bool service, int prio, const char *fmt, ...)
{
	char what[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (service)
		tj_log(prio, "%s", what);
	else
		fprintf(stderr, "<%d>" PROG ": %s\n", prio, what);
}

/* The line of a key, found with inih itself by counting the lines it reads. */
struct key_line {
	FILE *f;
	const char *section, *name;
	int current, line;
};

static char *count_lines(char *str, int num, void *stream)
{
	struct key_line *k = stream;
	char *s = fgets(str, num, k->f);

	if (s && strchr(s, '\n'))
		k->current++;
	return s;
}

static int match_key(void *user, const char *section, const char *name, const char *value)
{
	struct key_line *k = user;

	(void)value;
	if (!strcmp(section, k->section) && !strcmp(name, k->name))
		k->line = k->current; /* the reader counted this line before the handler ran */
	return 1;
}

static int key_line(const char *path, const char *section, const char *name)
{
	struct key_line k = { .section = section, .name = name };

	if (!path || !(k.f = fopen(path, "r")))
		return 0;
	ini_parse_stream(count_lines, &k, match_key, &k);
	fclose(k.f);
	return k.line;
}

/* "FILE:LINE: [section] key: what" (without LINE when the key is absent). */
static void __attribute__((format(printf, 5, 6)))
problem(bool service, const tj_config *cfg, const char *section, const char *name,
	const char *fmt, ...)
{
	char what[1024];
	int line = key_line(cfg->path, section, name);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (line > 0)
		say(service, TJ_LOG_ERR, "%s:%d: [%s] %s: %s", cfg->path, line, section, name, what);
	else
		say(service, TJ_LOG_ERR, "%s: [%s] %s: %s", cfg->path ? cfg->path : "(defaults)",
		    section, name, what);
}

static bool readable_file(bool service, const tj_config *cfg, const char *name, const char *path)
{
	struct stat st;

	if (!path)
		return true;
	if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
		problem(service, cfg, "delivery", name, "cannot read '%s': %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(service, cfg, "delivery", name, "'%s' is not a file", path);
		return false;
	}
	return true;
}

/*
 * A missing delivery folder is only a warning: it may be mounted later,
 * and until then delivery is retried.
 */
static int check_config(bool service, const tj_config *cfg)
{
	tj_err err = { 0 };
	int bad = 0, target;

	if (!tj_sched_zone_known(cfg->time_zone)) {
		problem(service, cfg, "schedule", "time_zone",
			"'%s' is not a known time zone (use an IANA name such as Europe/Amsterdam)",
			cfg->time_zone);
		bad++;
	}
	if (!cfg->url) {
		problem(service, cfg, "delivery", "url",
			"missing: set the funder's https:// endpoint or a file:/// folder");
		bad++;
	} else if ((target = tj_delivery_target(cfg->url, &err)) < 0) {
		problem(service, cfg, "delivery", "url", "%s", err.msg);
		bad++;
	} else if (target == TJ_TARGET_FILE) {
		struct stat st;
		const char *dir = cfg->url + strlen("file://");

		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			say(service, TJ_LOG_WARNING,
			    "%s: [delivery] url: the folder %s does not exist (yet): deliveries will "
			    "be retried until it does",
			    cfg->path ? cfg->path : "(defaults)", dir);
	}
	bad += !readable_file(service, cfg, "ca_file", cfg->ca_file);
	bad += !readable_file(service, cfg, "client_cert", cfg->client_cert);
	bad += !readable_file(service, cfg, "client_key", cfg->client_key);
	if (cfg->client_key && !cfg->client_cert) {
		problem(service, cfg, "delivery", "client_key", "given without client_cert");
		bad++;
	}
	/* the addresses and the url were checked by the parser (lib/config.c) */
	if (cfg->mail_to && !cfg->smtp_url) {
		problem(service, cfg, "alert", "mail_to",
			"given without smtp_url: set smtp_url = smtp://localhost (a relay on this "
			"host) or smtps://host (TLS)");
		bad++;
	}
	if (cfg->smtp_url && !cfg->mail_to)
		say(service, TJ_LOG_WARNING, "%s: [alert] smtp_url: no mail_to is set, so no alert "
					     "is mailed",
		    cfg->path ? cfg->path : "(defaults)");
	if (cfg->mail_from && !cfg->mail_to)
		say(service, TJ_LOG_WARNING, "%s: [alert] mail_from: no mail_to is set, so no alert "
					     "is mailed",
		    cfg->path ? cfg->path : "(defaults)");
	return bad ? 1 : 0;
}

int td_config_load(const char *path, bool service, tj_config **out)
{
	tj_config *cfg = NULL;
	tj_err err = { 0 };

	if (tj_config_load(&cfg, path, &err) < 0) {
		say(service, TJ_LOG_ERR, "%s", err.msg);
		return 1;
	}
	if (check_config(service, cfg) != 0) {
		tj_config_free(cfg);
		return 1;
	}
	*out = cfg;
	return 0;
}
