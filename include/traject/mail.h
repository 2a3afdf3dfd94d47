/*
 * Alert e-mail, without a database (docs/daemon.md, "Alerts"): checking
 * the [alert] settings, the message of one alert (RFC 5322, text/plain in
 * UTF-8, CRLF lines) and one SMTP transfer through libcurl. Like a
 * delivery transfer (include/traject/deliver.h), a transfer runs blocking
 * (tj_smtp_perform) or on a multi handle (tj_smtp_easy + tj_smtp_done),
 * with all its policy in the options set here. The outbox that decides
 * when to send and records what happened is include/traject/alert.h.
 *
 * Errors follow include/traject/error.h. A send outcome is not an error:
 * tj_smtp_done and tj_smtp_perform always fill a result.
 */
#ifndef TRAJECT_MAIL_H
#define TRAJECT_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "traject/config.h"
#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the settings ------------------------------------------------------- */

/*
 * One address "local@domain": printable ASCII without spaces, control
 * characters (so no CR or LF) or any of <>()[]\,;:", one @ with 1..64
 * bytes before it and a domain of letters, digits, dots and hyphens after
 * it, 254 bytes at most. Returns 0, or TJ_EINVAL with why filled.
 */
int tj_mail_address_check(const char *addr, char *why, size_t size);
/* 1..20 addresses separated by spaces or tabs, each as above. */
int tj_mail_list_check(const char *list, char *why, size_t size);
/*
 * smtp://host[:port][/helo-domain] (plain SMTP: for a relay on this host
 * or a trusted network) or smtps://... (TLS from the first byte, the peer
 * always verified). No user or password, query or fragment.
 */
int tj_smtp_url_check(const char *url, char *why, size_t size);

/* Mail is configured: [alert] mail_to and smtp_url are both set. */
bool tj_mail_configured(const tj_config *cfg);

#define TJ_MAIL_FROM_SIZE 320
/* The sender: [alert] mail_from, or trajectd@<hostname>. */
void tj_mail_from(const tj_config *cfg, char out[static TJ_MAIL_FROM_SIZE]);

/* ---- the message ---------------------------------------------------------- */

/* The alert a mail is about. Strings are borrowed for the call. */
struct tj_mail_alert {
	long id;                 /* alerts.alert_id, or 0: not stored (yet) */
	const char *kind;        /* rejected, not_delivered, late, failing, database */
	const char *grant_id;    /* NULL for a database alert */
	const char *report_id;   /* NULL for a database alert */
	const char *message;     /* the alert's message (one line) */
	const char *raised_at;   /* as stored, ISO 8601 */
	const char *raised_by;   /* the instance that raised it */
	const char *resolved_at; /* NULL while it is open */
};

/*
 * The whole message of an alert: From, To (every address of `to`, space
 * separated), Subject ("trajectd ALERT late: grant G report R"), Date
 * (now_us, microseconds since 1970 UTC), a Message-ID that is the same for
 * every attempt at one alert, MIME headers and Auto-Submitted; then the
 * body: the message, the times, and what to do. Lines end in CRLF and hold
 * at most 998 bytes; header values are printable ASCII only, so no value
 * can start a header of its own. Lines that start with "." are NOT
 * doubled: libcurl's SMTP upload does that (RFC 5321 4.5.2). The message
 * and raised_by are masked with tj_mask_bsn. *out is malloc'ed (NUL
 * after *len bytes). TJ_EINVAL for a bad address or a missing field.
 */
int tj_mail_build(const struct tj_mail_alert *a, const char *from, const char *to,
		  int64_t now_us, char **out, size_t *len, tj_err *err);

/* ---- one SMTP transfer ------------------------------------------------------ */

struct tj_mail_opts {
	const char *smtp_url;  /* checked by tj_smtp_url_check */
	const char *from;      /* one address */
	const char *to;        /* addresses, space separated */
	const char *ca_file;   /* CA bundle for smtps://, NULL: the system store */
	long timeout_s;        /* the whole transfer, connect included, >= 1 */
};

/* From [alert] (and [delivery] ca_file); from_buf receives the sender. */
void tj_mail_opts_from_config(struct tj_mail_opts *o, const tj_config *cfg,
			      char from_buf[static TJ_MAIL_FROM_SIZE]);

enum tj_mail_outcome {
	TJ_MAIL_SENT = 1,   /* the server accepted the message for every recipient */
	TJ_MAIL_RETRY = 2,  /* no answer, a 4xx, TLS trouble: try again later */
	TJ_MAIL_FAILED = 3, /* a 5xx: the server will never take it */
};
/* "sent", "retry", "failed" */
const char *tj_mail_outcome_name(enum tj_mail_outcome outcome);

struct tj_mail_result {
	enum tj_mail_outcome outcome;
	long smtp_code;  /* the server's last reply code, 0 if none */
	char error[700]; /* one line: why not sent (with the server's reply); "" when sent */
};

/* Attempts at one alert's mail before it is 'failed'. */
#define TJ_MAIL_ATTEMPTS 6
/*
 * Seconds before attempt n+1 after attempt n (1-based) failed with RETRY:
 * base * 2^(n-1), at most max (both >= 1; smaller values count as 1).
 */
long tj_mail_retry_delay(long attempt, long base, long max);

struct tj_smtp;

/*
 * Prepare one send of msg (len bytes, a tj_mail_build message) as the
 * options say: MAIL FROM, one RCPT TO per address (any refused recipient
 * fails the send), DATA. msg and opts are copied. `user` is the caller's
 * pointer (tj_smtp_user). TJ_EINVAL for bad options, TJ_ENOMEM, TJ_ENET.
 */
int tj_smtp_new(struct tj_smtp **out, const struct tj_mail_opts *opts, const char *msg,
		size_t len, void *user, tj_err *err);
CURL *tj_smtp_easy(struct tj_smtp *s);
void *tj_smtp_user(const struct tj_smtp *s);
/* Classify a finished transfer (`code` from curl_multi_info_read). */
void tj_smtp_done(struct tj_smtp *s, CURLcode code, struct tj_mail_result *res);
/* Run it now, blocking (never on a handle inside a multi). */
void tj_smtp_perform(struct tj_smtp *s, struct tj_mail_result *res);
/* Frees the easy handle; accepts NULL. */
void tj_smtp_free(struct tj_smtp *s);

#ifdef __cplusplus
}
#endif
#endif
