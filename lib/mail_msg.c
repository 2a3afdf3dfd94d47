/*
 * The e-mail of one alert (include/traject/mail.h): address checks and the
 * RFC 5322 message. Header values are reduced to printable ASCII and
 * folded at spaces, so nothing an alert carries (a receiver's reply is
 * part of a rejection message) can end a header line or start a new one;
 * the body is UTF-8 text wrapped at 76 bytes, every line ending in CRLF.
 * Dot-stuffing is left to libcurl, which doubles a "." after every CRLF of
 * an SMTP upload: doing it here too would show the reader two dots.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "traject/mail.h"
#include "traject/value.h"
#include "util.h"

#define MAX_ADDRESSES 20
/* Wrap the body here; a header folds here when it can (RFC 5322 2.1.1). */
#define WRAP 76
/* No line may be longer than this, CRLF not counted (RFC 5322 2.1.1). */
#define LINE_MAX_BYTES 998

/* ---- addresses ------------------------------------------------------------ */

/* Show a refused value without its control bytes (it may hold CR or LF). */
static void shown(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src && n + 1 < size; src++)
		dst[n++] = ((unsigned char)*src < 0x20 || *src == 0x7f) ? '?' : *src;
	dst[n] = '\0';
}

static bool domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-';
}

static bool local_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("<>()[]\\,;:\"@", c);
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

static int address_check(const char *a, size_t n, char *why, size_t size)
{
	char show[80];
	const char *at = memchr(a, '@', n);
	size_t local;

	snprintf(show, sizeof show, "%.*s", (int)(n < 60 ? n : 60), a);
	shown(show, sizeof show, show);
	if (n == 0 || n > 254)
		return refuse(why, size, "an address has 1 to 254 characters");
	if (!at || memchr(at + 1, '@', n - (size_t)(at - a) - 1))
		return refuse(why, size, "'%s' is not one address: write it like "
					 "grants@municipality.example", show);
	local = (size_t)(at - a);
	if (local == 0 || local > 64 || at + 1 == a + n)
		return refuse(why, size, "'%s' needs a name before and a domain after the @", show);
	for (size_t i = 0; i < local; i++)
		if (!local_char((unsigned char)a[i]))
			return refuse(why, size, "'%s': an address may not hold spaces, control "
						 "characters or any of <>()[]\\,;:\"", show);
	for (const char *p = at + 1; p < a + n; p++)
		if (!domain_char(*p))
			return refuse(why, size, "'%s': the domain may only hold letters, digits, "
						 "dots and hyphens", show);
	if (at[1] == '.' || a[n - 1] == '.')
		return refuse(why, size, "'%s': the domain cannot start or end with a dot", show);
	return 0;
}

int tj_mail_address_check(const char *addr, char *why, size_t size)
{
	return address_check(addr, strlen(addr), why, size);
}

int tj_mail_list_check(const char *list, char *why, size_t size)
{
	int count = 0, r;

	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, " \t");
		if (!*p)
			break;
		n = strcspn(p, " \t");
		if (++count > MAX_ADDRESSES)
			return refuse(why, size, "at most %d addresses (use a list address for more)",
				      MAX_ADDRESSES);
		if ((r = address_check(p, n, why, size)) < 0) {
			if (memchr(p, ',', n) || memchr(p, ';', n)) {
				size_t l = strlen(why);

				snprintf(why + l, size - l, " (separate addresses with spaces)");
			}
			return r;
		}
		p += n;
	}
	if (count == 0)
		return refuse(why, size, "name at least one address");
	return 0;
}

void tj_mail_from(const tj_config *cfg, char out[static TJ_MAIL_FROM_SIZE])
{
	char host[256];

	if (cfg->mail_from) {
		snprintf(out, TJ_MAIL_FROM_SIZE, "%s", cfg->mail_from);
		return;
	}
	if (gethostname(host, sizeof host) != 0 || !host[0])
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++)
		if (!domain_char(*p))
			*p = '-';
	snprintf(out, TJ_MAIL_FROM_SIZE, "trajectd@%s", host);
}

/* ---- header lines ----------------------------------------------------------- */

/*
 * "Name: value" folded at spaces before WRAP where the value allows it, a
 * word longer than a line cut at LINE_MAX_BYTES. Every byte outside
 * printable ASCII becomes '?': a header cannot carry CR, LF or 8-bit text.
 */
static void header(tj_buf *b, const char *name, const char *value)
{
	size_t col = strlen(name) + 2;
	bool first = true;

	tj_buf_printf(b, "%s: ", name);
	for (const char *p = value; *p;) {
		size_t word;

		p += strspn(p, " ");
		if (!*p)
			break;
		word = strcspn(p, " ");
		if (!first && col + 1 + word > WRAP) {
			tj_buf_puts(b, "\r\n "); /* folding: CRLF + the space between words */
			col = 1;
		} else if (!first) {
			tj_buf_puts(b, " ");
			col++;
		}
		for (size_t i = 0; i < word; i++) {
			unsigned char c = (unsigned char)p[i];

			if (col >= LINE_MAX_BYTES) {
				tj_buf_puts(b, "\r\n ");
				col = 1;
			}
			tj_buf_append(b, c > 0x20 && c < 0x7f ? &p[i] : "?", 1);
			col++;
		}
		p += word;
		first = false;
	}
	tj_buf_puts(b, "\r\n");
}

static void date_header(tj_buf *b, int64_t now_us)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(now_us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	/* RFC 5322 3.3, in UTC; the names are fixed: no locale */
	tj_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7],
		      tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		      tm.tm_sec);
}

/*
 * The same id for every attempt at one alert, from any instance: a reader
 * (or a mail system) can tell a repeated send for what it is. The hash
 * keeps ids of two databases apart (alert ids restart in each).
 */
static void message_id(tj_buf *b, const struct tj_mail_alert *a, const char *from)
{
	TJ_AUTOBUF tj_buf seed = { 0 };
	char hex[65], id[24];

	tj_buf_printf(&seed, "%ld\n%s\n%s\n%s", a->id, a->kind, a->raised_at, a->raised_by);
	tj_sha256_hex(seed.data ? seed.data : "", seed.len, hex);
	if (a->id > 0)
		snprintf(id, sizeof id, "%ld", a->id);
	else
		snprintf(id, sizeof id, "new");
	tj_buf_printf(b, "Message-ID: <trajectd.alert.%s.%.20s@%s>\r\n", id, hex,
		      strchr(from, '@') + 1);
}

/* ---- the body ------------------------------------------------------------------- */

/* Copy text as UTF-8 without control bytes: invalid sequences become '?'. */
static void clean_text(tj_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = 0;

		if (*p < 0x80)
			n = 1;
		else if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
			n = 2;
		else if ((*p & 0xf0) == 0xe0)
			n = 3;
		else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
			n = 4;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n == 0) {
			tj_buf_puts(b, "?");
			p++;
		} else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
			tj_buf_puts(b, " ");
			p++;
		} else {
			tj_buf_append(b, p, n);
			p += n;
		}
	}
}

/* Where a line of at most max bytes of s may end (never inside a UTF-8 sequence). */
static size_t cut_at(const char *s, size_t len, size_t max)
{
	size_t n = max;

	if (len <= max)
		return len;
	while (n > 0 && s[n] != ' ')
		n--;
	if (n > 0)
		return n;
	n = max; /* one word longer than a line */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* A paragraph of (clean) text, wrapped at WRAP bytes, each line with CRLF. */
static void paragraph(tj_buf *b, const char *indent, const char *text)
{
	TJ_AUTOBUF tj_buf clean = { 0 };
	size_t width = WRAP - strlen(indent);
	const char *p;
	size_t left;

	clean_text(&clean, text);
	p = clean.data ? clean.data : "";
	left = clean.len;
	while (left > 0) {
		size_t n;

		while (left > 0 && *p == ' ')
			p++, left--;
		if (left == 0)
			break;
		n = cut_at(p, left, width);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		tj_buf_printf(b, "%s%.*s\r\n", indent, (int)n, p);
		p += n;
		left -= n;
	}
}

static const char *advice(const char *kind)
{
	if (!strcmp(kind, "not_delivered"))
		return "The report is not delivered and its due date is near. Look at its state "
		       "and last error in 'trajectctl status'; trajectd keeps trying, but a person "
		       "may have to fix what stops it.";
	if (!strcmp(kind, "late"))
		return "The report was not delivered by the end of its due date. Tell the funder, "
		       "and look at its state and last error in 'trajectctl status'.";
	if (!strcmp(kind, "failing"))
		return "Delivery keeps failing in a way waiting will not fix (a TLS certificate, a "
		       "missing or unwritable folder). Fix the cause; trajectd keeps retrying "
		       "meanwhile.";
	if (!strcmp(kind, "database"))
		return "trajectd could not reach its PostgreSQL database. Check the server (is it "
		       "running, its log, its disk), the network to it, and [database] conninfo. "
		       "trajectd runs on and reconnects by itself; what it did meanwhile is "
		       "recorded when the database is back, and no report is generated without it.";
	return "Look at 'trajectctl status'.";
}

static void __attribute__((format(printf, 2, 3))) line_of(tj_buf *b, const char *fmt, ...)
{
	char text[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	paragraph(b, "", text);
}

static void body(tj_buf *b, const struct tj_mail_alert *a, const char *message,
		 const char *raised_by)
{
	line_of(b, "trajectd raised an alert: %s.", a->kind);
	tj_buf_puts(b, "\r\n");
	if (a->grant_id) {
		line_of(b, "grant:      %s", a->grant_id);
		line_of(b, "report:     %s", a->report_id);
	}
	line_of(b, "raised at:  %s", a->raised_at);
	line_of(b, "raised by:  %s", raised_by);
	if (a->id > 0)
		line_of(b, "alert:      %ld (%s%s)", a->id, a->resolved_at ? "resolved at " : "open",
			a->resolved_at ? a->resolved_at : "");
	else
		line_of(b, "alert:      not stored yet (the database is away)");
	tj_buf_puts(b, "\r\nWhat happened:\r\n\r\n");
	paragraph(b, "", message);
	tj_buf_puts(b, "\r\nWhat to do:\r\n\r\n");
	if (!strcmp(a->kind, "rejected"))
		line_of(b, "The funder's receiver refused the document: the reason is above. Fix the "
			   "cause (the report, the [delivery] url, or what the funder asks for), then "
			   "queue it again with 'trajectctl deliver --grant %s --report %s' (the same "
			   "document) or add --new-version (a corrected report).",
			a->grant_id, a->report_id);
	else
		paragraph(b, "", advice(a->kind));
	tj_buf_puts(b, "\r\n");
	if (a->id > 0)
		line_of(b, "Open alerts are in 'trajectctl status'. Once this one is handled, close it "
			   "with 'trajectctl alert resolve %ld'%s.",
			a->id, a->grant_id ? " (a report alert also closes by itself when the report "
					     "is delivered)"
					   : "");
	else
		line_of(b, "When the database is back, this alert is stored and shown in 'trajectctl "
			   "status' until someone resolves it with 'trajectctl alert resolve ID'.");
	tj_buf_puts(b, "\r\n-- \r\ntrajectd, the grant reporting service\r\n");
}

static bool ascii_only(const tj_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] >= 0x80)
			return false;
	return true;
}

int tj_mail_build(const struct tj_mail_alert *a, const char *from, const char *to,
		  int64_t now_us, char **out, size_t *len, tj_err *err)
{
	TJ_AUTOBUF tj_buf msg = { 0 };
	TJ_AUTOBUF tj_buf text = { 0 };
	TJ_AUTOFREE char *message = NULL;
	TJ_AUTOFREE char *raised_by = NULL;
	TJ_AUTOFREE char *rcpts = NULL;
	char why[300], subject[400];

	if (!a->kind || !a->message || !a->raised_at || !a->raised_by ||
	    !a->grant_id != !a->report_id)
		return tj_fail(err, TJ_EUSAGE, "an alert mail needs kind, message, raised_at, "
					       "raised_by, and grant and report together");
	if (tj_mail_address_check(from, why, sizeof why) < 0)
		return tj_fail(err, TJ_EINVAL, "[alert] mail_from: %s", why);
	if (tj_mail_list_check(to, why, sizeof why) < 0)
		return tj_fail(err, TJ_EINVAL, "[alert] mail_to: %s", why);
	/* the last line of defence (lib/value.c): no possible BSN leaves in a mail */
	if (!(message = strdup(a->message)) || !(raised_by = strdup(a->raised_by)) ||
	    !(rcpts = strdup(to)))
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	tj_mask_bsn(message);
	tj_mask_bsn(raised_by);
	for (char *p = rcpts; *p; p++)
		if (*p == '\t')
			*p = ' ';

	body(&text, a, message, raised_by);
	if (a->grant_id)
		snprintf(subject, sizeof subject, "trajectd ALERT %s: grant %s report %s", a->kind,
			 a->grant_id, a->report_id);
	else
		snprintf(subject, sizeof subject, "trajectd ALERT %s: instance %s lost the database",
			 a->kind, raised_by);

	header(&msg, "From", from);
	{
		/* "a@x, b@y" from "a@x b@y" */
		TJ_AUTOBUF tj_buf list = { 0 };
		char *save = NULL;

		for (char *t = strtok_r(rcpts, " ", &save); t; t = strtok_r(NULL, " ", &save))
			tj_buf_printf(&list, "%s%s", list.len ? ", " : "", t);
		header(&msg, "To", list.data ? list.data : "");
	}
	header(&msg, "Subject", subject);
	date_header(&msg, now_us);
	message_id(&msg, a, from);
	header(&msg, "MIME-Version", "1.0");
	header(&msg, "Content-Type", "text/plain; charset=utf-8");
	header(&msg, "Content-Transfer-Encoding", ascii_only(&text) ? "7bit" : "8bit");
	/* RFC 3834: no vacation replies to a robot */
	header(&msg, "Auto-Submitted", "auto-generated");
	header(&msg, "X-Trajectd-Alert", a->kind);
	tj_buf_puts(&msg, "\r\n");
	tj_buf_append(&msg, text.data ? text.data : "", text.len);
	if (msg.oom || text.oom)
		return tj_fail(err, TJ_ENOMEM, "out of memory building an alert mail");
	*out = msg.data;
	*len = msg.len;
	tj_buf_init(&msg);
	return 0;
}
