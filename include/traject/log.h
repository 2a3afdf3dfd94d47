/*
 * Logging of the trajectd service: one line per event with a syslog
 * priority prefix ("<2>" crit ... "<7>" debug), which journald reads off
 * standard error. The library logs through here but never prints on its
 * own: until a program installs a sink (tj_log_to_stderr or its own), every
 * line is dropped, so trajectctl and the tests stay quiet.
 */
#ifndef TRAJECT_LOG_H
#define TRAJECT_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The syslog priorities (same numbers as <syslog.h>). */
enum tj_log_prio {
	TJ_LOG_CRIT = 2,    /* an alert: a rejected or late report */
	TJ_LOG_ERR = 3,     /* a pass failed (the database went away, ...) */
	TJ_LOG_WARNING = 4, /* a delivery attempt failed and will be retried */
	TJ_LOG_NOTICE = 5,
	TJ_LOG_INFO = 6,    /* generated, delivered, started, stopped */
	TJ_LOG_DEBUG = 7,
};

/* A sink receives one complete line without the trailing newline. */
typedef void (*tj_log_sink)(int prio, const char *line, void *data);

/* Install a sink (NULL: drop everything, the default). */
void tj_log_set_sink(tj_log_sink sink, void *data);
/* Write "<N>line\n" to stderr for every priority up to max_prio. */
void tj_log_to_stderr(int max_prio);

void tj_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tj_vlog(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#ifdef __cplusplus
}
#endif
#endif
