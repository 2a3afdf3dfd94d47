/*
 * systemd's notification protocol for Type=notify (sd_notify(3)): READY,
 * RELOADING, STOPPING, WATCHDOG and STATUS lines. libsystemd is optional at
 * build time (meson finds it or not); without it, or without NOTIFY_SOCKET
 * in the environment, every call does nothing and the service runs the same.
 */
#include <stdarg.h>
#include <stdio.h>

#ifdef TJ_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "trajectd.h"

void td_notify(const char *fmt, ...)
{
#ifdef TJ_HAVE_SYSTEMD
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* 0: keep NOTIFY_SOCKET, every later state change needs it too */
	sd_notify(0, line);
#else
	(void)fmt;
#endif
}

uint64_t td_watchdog_usec(void)
{
#ifdef TJ_HAVE_SYSTEMD
	uint64_t usec = 0;

	/* > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is ours) */
	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
#endif
	return 0;
}
