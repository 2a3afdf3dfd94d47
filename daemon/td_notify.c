/*
 * systemd's notification protocol for Type=notify (sd_notify(3)): READY,
 * RELOADING, STOPPING, WATCHDOG and STATUS lines. libsystemd is required at
 * build time: without it the Type=notify unit would never become ready.
 * Without NOTIFY_SOCKET in the environment (not under systemd) every call
 * does nothing and the service runs the same.
 */
#include <stdarg.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "trajectd.h"

void td_notify(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* 0: keep NOTIFY_SOCKET, every later state change needs it too */
	sd_notify(0, line);
}

uint64_t td_watchdog_usec(void)
{
	uint64_t usec = 0;

	/* > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is ours) */
	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
	return 0;
}
