/*
 * The log sink of libtraject. Lines are formatted into a fixed buffer (a
 * log line longer than 4 KiB is cut, never allocated) and handed to the
 * installed sink; the stderr sink writes each line with one fputs so lines
 * of concurrent processes sharing a journal stream do not interleave.
 */
#include <stdio.h>
#include <string.h>

#include "traject/log.h"
#include "traject/value.h"

static tj_log_sink log_sink;
static void *log_data;
static int stderr_max = TJ_LOG_INFO;

void tj_log_set_sink(tj_log_sink sink, void *data)
{
	log_sink = sink;
	log_data = data;
}

static void stderr_sink(int prio, const char *line, void *data)
{
	char out[4200];

	(void)data;
	if (prio > stderr_max)
		return;
	snprintf(out, sizeof out, "<%d>%s\n", prio, line);
	fputs(out, stderr);
	fflush(stderr);
}

void tj_log_to_stderr(int max_prio)
{
	stderr_max = max_prio;
	tj_log_set_sink(stderr_sink, NULL);
}

void tj_vlog(int prio, const char *fmt, va_list ap)
{
	char line[4096];

	if (!log_sink)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	/* One event, one line: a newline inside a message (a server error) would split it. */
	for (char *p = line; (p = strchr(p, '\n')) != NULL;)
		*p = ' ';
	tj_mask_bsn(line);
	log_sink(prio, line, log_data);
}

void tj_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tj_vlog(prio, fmt, ap);
	va_end(ap);
}
