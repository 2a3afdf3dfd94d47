/*
 * trajectctl report: compute one report (ad hoc with --as-of, or a
 * calendar entry with --report) and print it as JSON, XML or HTML, or
 * write it atomically to --output (a temporary file in the same directory,
 * fsync, rename). It only reads: nothing is queued, stored or delivered.
 * --public makes the public version (small numbers suppressed below
 * --threshold, else [report] suppress_below, else 5) in any format;
 * --lang nl|en chooses the language of the HTML (docs/reports.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "traject/report.h"
#include "traject/value.h"

#define REPORT_USAGE                                                                       \
	"report --grant ID (--as-of DATE | --report REPORT_ID) [--known-at TIMESTAMP]\n" \
	"         [--format json|xml|html] [--output FILE] [--public [--threshold N]]\n"     \
	"         [--lang nl|en]"

typedef int (*writer_fn)(const struct tj_report *, FILE *, tj_err *);

/* --lang for the HTML writer, which the writer_fn shape has no room for. */
static enum tj_report_lang html_lang = TJ_LANG_NL;

static int write_html(const struct tj_report *rep, FILE *out, tj_err *err)
{
	return tj_report_write_html(rep, html_lang, out, err);
}

/* Write to path through a temporary file in its directory: all or nothing. */
static int write_atomic(const char *path, writer_fn write, const struct tj_report *rep,
			tj_err *err)
{
	char *dcopy = strdup(path), *bcopy = strdup(path);
	char tmp[4096];
	const char *dir, *base;
	FILE *f = NULL;
	mode_t mask;
	int fd = -1, r = 0, n;

	if (!dcopy || !bcopy) {
		r = tj_fail(err, TJ_ENOMEM, "out of memory");
		goto out;
	}
	dir = dirname(dcopy);
	base = basename(bcopy);
	n = snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, base);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		r = tj_fail(err, TJ_EIO, "%s: path too long", path);
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		r = tj_fail(err, TJ_EIO, "%s: cannot create a temporary file in %s: %s", path, dir,
			    strerror(errno));
		goto out;
	}
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0 || !(f = fdopen(fd, "w"))) {
		r = tj_fail(err, TJ_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if ((r = write(rep, f, err)) < 0)
		goto out;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		r = tj_fail(err, TJ_EIO, "%s: writing failed: %s", path, strerror(errno));
		goto out;
	}
	n = fclose(f);
	f = NULL;
	if (n != 0 || rename(tmp, path) != 0) {
		r = tj_fail(err, TJ_EIO, "%s: cannot put the report in place: %s", path,
			    strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	/* The rename itself must survive a crash: sync the directory. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
		fd = -1;
	}
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (tmp[0] && r < 0)
		unlink(tmp);
	free(dcopy);
	free(bcopy);
	return r;
}

__attribute__((format(printf, 2, 3))) static int bad_arg(const struct ctl *ctl,
							  const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: report: ", ctl->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return ctl_usage(ctl, REPORT_USAGE);
}

int cmd_report(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "grant", required_argument, NULL, 'g' },
		{ "as-of", required_argument, NULL, 'a' },
		{ "report", required_argument, NULL, 'r' },
		{ "known-at", required_argument, NULL, 'k' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "public", no_argument, NULL, 'p' },
		{ "lang", required_argument, NULL, 'l' },
		{ "threshold", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct tj_report *rep = NULL;
	struct tj_report_req req = { .kind = TJ_REPORT_PROGRESS };
	const char *format = "json", *output = NULL, *lang = NULL, *threshold = NULL;
	writer_fn write = tj_report_write_json;
	bool public = false;
	long limit = ctl->cfg->suppress_below;
	tj_err err = { 0 };
	int32_t day;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'g': req.grant_id = optarg; break;
		case 'a': req.as_of = optarg; break;
		case 'r': req.report_id = optarg; break;
		case 'k': req.known_at = optarg; break;
		case 'f': format = optarg; break;
		case 'o': output = optarg; break;
		case 'p': public = true; break;
		case 'l': lang = optarg; break;
		case 't': threshold = optarg; break;
		default:
			return bad_arg(ctl, "unknown or incomplete option '%s'",
				       argv[optind - 1]);
		}
	}
	if (optind != argc)
		return bad_arg(ctl, "unexpected argument '%s'", argv[optind]);
	if (!req.grant_id)
		return bad_arg(ctl, "--grant ID is required");
	if (!req.as_of == !req.report_id)
		return bad_arg(ctl, "give exactly one of --as-of DATE and --report REPORT_ID");
	if (req.as_of && (strlen(req.as_of) != 10 || tj_date_parse(req.as_of, &day) < 0))
		return bad_arg(ctl, "--as-of '%s' is not a real date (use YYYY-MM-DD)",
			       req.as_of);
	if (req.known_at && !tj_timestamp_valid(req.known_at))
		return bad_arg(ctl,
			       "--known-at '%s' is not an ISO 8601 timestamp with a zone "
			       "(e.g. 2011-10-12T08:00:00+02:00 or 2011-10-12T06:00:00Z)",
			       req.known_at);
	if (!strcmp(format, "xml"))
		write = tj_report_write_xml;
	else if (!strcmp(format, "html"))
		write = write_html;
	else if (strcmp(format, "json") != 0)
		return bad_arg(ctl, "unknown --format '%s' (use json, xml or html)", format);
	if (lang && strcmp(lang, "nl") != 0 && strcmp(lang, "en") != 0)
		return bad_arg(ctl, "unknown --lang '%s' (use nl or en)", lang);
	if (lang && write != write_html)
		return bad_arg(ctl, "--lang applies to --format html only");
	html_lang = lang && !strcmp(lang, "en") ? TJ_LANG_EN : TJ_LANG_NL;
	if (threshold && !public)
		return bad_arg(ctl, "--threshold applies to --public only");
	if (threshold) {
		char *end;

		errno = 0;
		limit = strtol(threshold, &end, 10);
		if (errno || end == threshold || *end || limit < TJ_SUPPRESS_MIN ||
		    limit > TJ_SUPPRESS_MAX)
			return bad_arg(ctl, "--threshold '%s' is not a whole number from %d to %d",
				       threshold, TJ_SUPPRESS_MIN, TJ_SUPPRESS_MAX);
	}

	if ((r = ctl_connect(ctl, 1)) != CTL_OK)
		return r;
	if (tj_report_compute(ctl->conn, &req, &rep, &err) < 0)
		return ctl_error(ctl, &err);
	if (public && tj_report_make_public(rep, (int)limit, &err) < 0) {
		tj_report_free(rep);
		return ctl_error(ctl, &err);
	}
	if (output)
		r = write_atomic(output, write, rep, &err);
	else if ((r = write(rep, stdout, &err)) == 0 && fflush(stdout) != 0)
		r = tj_fail(&err, TJ_EIO, "writing the report to standard output failed: %s",
			    strerror(errno));
	tj_report_free(rep);
	return r < 0 ? ctl_error(ctl, &err) : CTL_OK;
}
