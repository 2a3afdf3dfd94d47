/*
 * One alert e-mail sent through libcurl's SMTP (include/traject/mail.h):
 * the [alert] settings, the transfer's options and the classification of
 * its end. As with deliveries (lib/deliver_http.c), the same transfer
 * object runs blocking (trajectd --once) or on the service's multi handle,
 * so the policy lives here and not in how it is driven:
 *   - smtp:// is plain SMTP, meant for a relay on this host or a trusted
 *     network; smtps:// is TLS from the first byte with the peer always
 *     verified ([delivery] ca_file, else the system store), TLS 1.2 or
 *     newer; only the scheme of the URL is allowed as a protocol;
 *   - every transfer is bounded ([alert] mail_timeout, a connect timeout
 *     and a low-speed limit);
 *   - a 5xx reply is final (FAILED), anything else that did not end in
 *     the server's acceptance is worth another try (RETRY).
 * libcurl doubles a "." at the start of a line of the upload and ends the
 * DATA with CRLF.CRLF itself (RFC 5321 4.5.2); the message must not.
 */
#include <stdarg.h>
#include <string.h>

#include <curl/curl.h>

#include "traject/mail.h"
#include "util.h"

/* The server's reply line kept for the error text. */
#define REPLY_BYTES 300

struct tj_smtp {
	CURL *easy;
	struct curl_slist *rcpt;
	char *msg;
	size_t len, sent;
	void *user;
	char reply[REPLY_BYTES];
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- the settings -------------------------------------------------------- */

static void curl_url_freep(CURLU **u)
{
	curl_url_cleanup(*u);
}

static void curl_freep(char **p)
{
	curl_free(*p);
}

static bool has_part(CURLU *u, CURLUPart part)
{
	TJ_AUTO(curl_freep) char *v = NULL;

	return curl_url_get(u, part, &v, 0) == CURLUE_OK && v && *v;
}

static int __attribute__((format(printf, 3, 4)))
refuse(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return TJ_EINVAL;
}

int tj_smtp_url_check(const char *url, char *why, size_t size)
{
	TJ_AUTO(curl_url_freep) CURLU *u = curl_url();
	TJ_AUTO(curl_freep) char *scheme = NULL;

	if (!u)
		return refuse(why, size, "out of memory");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return refuse(why, size, "the url may not hold spaces or control characters");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		return refuse(why, size, "'%s' is not a url: write smtp://host[:port] or "
					 "smtps://host[:port]", url);
	if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)
		return refuse(why, size, "scheme '%s' is not supported: use smtp:// (a relay on this "
					 "host or a trusted network) or smtps:// (TLS, verified)",
			      scheme);
	if (!has_part(u, CURLUPART_HOST))
		return refuse(why, size, "'%s' names no host", url);
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD))
		return refuse(why, size, "credentials in the url are not supported (they would be "
					 "on every command line that shows the file): use a relay "
					 "that accepts this host");
	if (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT))
		return refuse(why, size, "'%s': no ?query or #fragment", url);
	return 0;
}

bool tj_mail_configured(const tj_config *cfg)
{
	return cfg && cfg->mail_to && cfg->smtp_url;
}

void tj_mail_opts_from_config(struct tj_mail_opts *o, const tj_config *cfg,
			      char from_buf[static TJ_MAIL_FROM_SIZE])
{
	tj_mail_from(cfg, from_buf);
	memset(o, 0, sizeof *o);
	o->smtp_url = cfg->smtp_url;
	o->from = from_buf;
	o->to = cfg->mail_to;
	o->ca_file = cfg->ca_file;
	o->timeout_s = cfg->mail_timeout;
}

const char *tj_mail_outcome_name(enum tj_mail_outcome outcome)
{
	switch (outcome) {
	case TJ_MAIL_SENT: return "sent";
	case TJ_MAIL_RETRY: return "retry";
	case TJ_MAIL_FAILED: return "failed";
	}
	return "unknown";
}

long tj_mail_retry_delay(long attempt, long base, long max)
{
	long d = base < 1 ? 1 : base;

	if (max < 1)
		max = 1;
	for (long i = 1; i < attempt && d < max; i++)
		d = d > max / 2 ? max : d * 2;
	return d < max ? d : max;
}

/* ---- the transfer ------------------------------------------------------------ */

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct tj_smtp *s = userdata;
	size_t room = size * nitems, n = s->len - s->sent;

	if (n > room)
		n = room;
	memcpy(buf, s->msg + s->sent, n);
	s->sent += n;
	return n;
}

/*
 * libcurl hands the server's reply lines to the header callback: keep the
 * last refusal (4xx, 5xx), not the "221 bye" of the QUIT that follows it.
 */
static size_t on_reply(char *ptr, size_t size, size_t nitems, void *userdata)
{
	struct tj_smtp *s = userdata;
	size_t n = size * nitems, o = 0;

	if (n < 4 || (ptr[0] != '4' && ptr[0] != '5'))
		return n;
	for (size_t i = 0; i < n && o + 1 < sizeof s->reply; i++) {
		unsigned char c = (unsigned char)ptr[i];

		if (c == '\r' || c == '\n')
			break;
		s->reply[o++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	s->reply[o] = '\0';
	return n;
}

#define SETOPT(opt, val)                                                                   \
	do {                                                                               \
		CURLcode rc_ = curl_easy_setopt(s->easy, opt, val);                        \
		if (rc_ != CURLE_OK) {                                                     \
			r = tj_fail(err, TJ_ENET, "libcurl refused %s: %s", #opt,         \
				    curl_easy_strerror(rc_));                              \
			goto fail;                                                         \
		}                                                                          \
	} while (0)

static int add_rcpts(struct tj_smtp *s, const char *to)
{
	for (const char *p = to; *p;) {
		char one[300];
		struct curl_slist *l;
		size_t n;

		p += strspn(p, " \t");
		if (!*p)
			break;
		n = strcspn(p, " \t");
		snprintf(one, sizeof one, "<%.*s>", (int)(n < 260 ? n : 260), p);
		if (!(l = curl_slist_append(s->rcpt, one)))
			return TJ_ENOMEM;
		s->rcpt = l;
		p += n;
	}
	return 0;
}

int tj_smtp_new(struct tj_smtp **out, const struct tj_mail_opts *opts, const char *msg,
		size_t len, void *user, tj_err *err)
{
	struct tj_smtp *s;
	char why[300], from[TJ_MAIL_FROM_SIZE + 2];
	bool tls;
	long connect;
	int r;

	if (!opts->smtp_url || tj_smtp_url_check(opts->smtp_url, why, sizeof why) < 0)
		return tj_fail(err, TJ_EINVAL, "[alert] smtp_url: %s",
			       opts->smtp_url ? why : "not set");
	if (!opts->from || tj_mail_address_check(opts->from, why, sizeof why) < 0)
		return tj_fail(err, TJ_EINVAL, "[alert] mail_from: %s", opts->from ? why : "not set");
	if (!opts->to || tj_mail_list_check(opts->to, why, sizeof why) < 0)
		return tj_fail(err, TJ_EINVAL, "[alert] mail_to: %s", opts->to ? why : "not set");
	if (opts->timeout_s < 1)
		return tj_fail(err, TJ_EINVAL, "the mail timeout must be 1 second or more");
	tls = strncmp(opts->smtp_url, "smtps:", 6) == 0;
	connect = opts->timeout_s < 30 ? opts->timeout_s : 30;
	if (!(s = calloc(1, sizeof *s)))
		return tj_fail(err, TJ_ENOMEM, "out of memory preparing a mail");
	s->user = user;
	if (!(s->msg = malloc(len ? len : 1)) || !(s->easy = curl_easy_init()) ||
	    add_rcpts(s, opts->to) < 0) {
		r = tj_fail(err, TJ_ENOMEM, "out of memory preparing a mail");
		goto fail;
	}
	memcpy(s->msg, msg, len);
	s->len = len;
	snprintf(from, sizeof from, "<%s>", opts->from);

	SETOPT(CURLOPT_PRIVATE, (void *)s);
	SETOPT(CURLOPT_ERRORBUFFER, s->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_URL, opts->smtp_url);
	SETOPT(CURLOPT_PROTOCOLS_STR, tls ? "smtps" : "smtp");
	if (!tls) /* no STARTTLS: smtp:// is plain on purpose (see the top of this file) */
		SETOPT(CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (opts->ca_file)
		SETOPT(CURLOPT_CAINFO, opts->ca_file);
	SETOPT(CURLOPT_MAIL_FROM, from);
	SETOPT(CURLOPT_MAIL_RCPT, s->rcpt);
	SETOPT(CURLOPT_UPLOAD, 1L);
	SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	SETOPT(CURLOPT_READFUNCTION, on_read);
	SETOPT(CURLOPT_READDATA, (void *)s);
	SETOPT(CURLOPT_HEADERFUNCTION, on_reply);
	SETOPT(CURLOPT_HEADERDATA, (void *)s);
	SETOPT(CURLOPT_TIMEOUT, opts->timeout_s);
	SETOPT(CURLOPT_CONNECTTIMEOUT, connect);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(CURLOPT_LOW_SPEED_TIME, connect);
	*out = s;
	return 0;
fail:
	tj_smtp_free(s);
	return r;
}

CURL *tj_smtp_easy(struct tj_smtp *s)
{
	return s->easy;
}

void *tj_smtp_user(const struct tj_smtp *s)
{
	return s->user;
}

void tj_smtp_done(struct tj_smtp *s, CURLcode code, struct tj_mail_result *res)
{
	const char *why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(code);
	long reply = 0;

	memset(res, 0, sizeof *res);
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &reply);
	res->smtp_code = reply;
	if (code == CURLE_OK) {
		res->outcome = TJ_MAIL_SENT;
		return;
	}
	res->outcome = TJ_MAIL_RETRY;
	if (code == CURLE_PEER_FAILED_VERIFICATION)
		snprintf(res->error, sizeof res->error,
			 "TLS peer verification of the mail server failed: %s (check [delivery] "
			 "ca_file and the host name in [alert] smtp_url)",
			 why);
	else if (reply >= 500 && reply <= 599) {
		res->outcome = TJ_MAIL_FAILED;
		snprintf(res->error, sizeof res->error,
			 "the mail server refused the message: %s (%s); it will not be tried again",
			 s->reply[0] ? s->reply : "no reply text", why);
	} else if (reply >= 400 && reply <= 499)
		snprintf(res->error, sizeof res->error, "the mail server deferred the message: %s (%s)",
			 s->reply[0] ? s->reply : "no reply text", why);
	else
		snprintf(res->error, sizeof res->error, "%s: %s", curl_easy_strerror(code), why);
	for (char *p = res->error; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

void tj_smtp_perform(struct tj_smtp *s, struct tj_mail_result *res)
{
	tj_smtp_done(s, curl_easy_perform(s->easy), res);
}

void tj_smtp_free(struct tj_smtp *s)
{
	if (!s)
		return;
	if (s->easy)
		curl_easy_cleanup(s->easy);
	curl_slist_free_all(s->rcpt);
	free(s->msg);
	free(s);
}
