/*
 * Unit tests for the alert mail (include/traject/mail.h): the message's
 * headers and lines (CRLF only, at most 998 bytes, folded headers), that
 * nothing an alert carries can add a header, the address and url checks,
 * and the retry delays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "traject/mail.h"

/* 2026-12-07T05:30:23Z, a Monday */
#define NOW INT64_C(1796621423000000)

static const struct tj_mail_alert LATE = {
	.id = 42,
	.kind = "late",
	.grant_id = "OV-2011-AMB-01",
	.report_id = "2011-Q3",
	.message = "was due on 2011-10-15 and is not delivered (state delivering: HTTP 503)",
	.raised_at = "2011-10-15T22:00:00Z",
	.raised_by = "trajectd@host:123:abcdef01",
};

static char *build(const struct tj_mail_alert *a, const char *to, int64_t now, size_t *len)
{
	char *msg = NULL;
	tj_err err = { 0 };

	assert_int_equal(tj_mail_build(a, "trajectd@host.example", to, now, &msg, len, &err), 0);
	assert_non_null(msg);
	assert_int_equal(strlen(msg), *len);
	return msg;
}

/* Every line ends in CRLF, no bare CR or LF, no line longer than 998 bytes. */
static void assert_lines(const char *msg, size_t len)
{
	size_t start = 0;

	assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r') {
			assert_true(i + 1 < len && msg[i + 1] == '\n');
		} else if (msg[i] == '\n') {
			assert_true(i > 0 && msg[i - 1] == '\r');
			assert_true(i - 1 - start <= 998);
			start = i + 1;
		}
	}
}

/* The header section, unfolded: one "Name: value" per line, "\n" between them. */
static char *headers_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");
	char *h, *o;

	assert_non_null(end);
	h = calloc(1, (size_t)(end - msg) + 2);
	assert_non_null(h);
	o = h;
	for (const char *p = msg; p < end + 2; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
			p += 1; /* unfold: drop CRLF, keep the space */
			continue;
		}
		if (p[0] == '\r')
			continue;
		*o++ = *p;
	}
	return h;
}

/* The value of a header (exactly one of that name), or fail. */
static char *header_value(const char *headers, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;
	char *v;

	for (const char *p = headers; *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, name, n) && p[n] == ':') {
			assert_null(found); /* one only */
			found = p + n + 2;
		}
		if (!strchr(p, '\n'))
			break;
	}
	assert_non_null(found);
	v = strndup(found, strcspn(found, "\n"));
	assert_non_null(v);
	return v;
}

static bool has_header(const char *headers, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncasecmp(p, name, n) && p[n] == ':')
			return true;
	return false;
}

static void check_value(const char *headers, const char *name, const char *want)
{
	char *v = header_value(headers, name);

	assert_string_equal(v, want);
	free(v);
}

static void message_headers(void **state)
{
	size_t len = 0;
	char *msg = build(&LATE, "grants@municipality.example second@example.org", NOW, &len);
	char *h = headers_of(msg), *id = header_value(h, "Message-ID");
	const char *body = strstr(msg, "\r\n\r\n") + 4;

	(void)state;
	assert_lines(msg, len);
	check_value(h, "From", "trajectd@host.example");
	check_value(h, "To", "grants@municipality.example, second@example.org");
	check_value(h, "Subject", "trajectd ALERT late: grant OV-2011-AMB-01 report 2011-Q3");
	check_value(h, "Date", "Mon, 07 Dec 2026 05:30:23 +0000");
	check_value(h, "MIME-Version", "1.0");
	check_value(h, "Content-Type", "text/plain; charset=utf-8");
	check_value(h, "Content-Transfer-Encoding", "7bit");
	check_value(h, "Auto-Submitted", "auto-generated");
	assert_true(!strncmp(id, "<trajectd.alert.42.", 19) && strstr(id, "@host.example>"));
	/* the body says what, when, and what to do */
	assert_non_null(strstr(body, "grant:      OV-2011-AMB-01\r\n"));
	assert_non_null(strstr(body, "report:     2011-Q3\r\n"));
	assert_non_null(strstr(body, "raised at:  2011-10-15T22:00:00Z\r\n"));
	assert_non_null(strstr(body, "was due on 2011-10-15 and is not delivered"));
	assert_non_null(strstr(body, "What to do:"));
	assert_non_null(strstr(body, "trajectctl alert resolve 42"));
	free(id);
	free(h);
	free(msg);
}

static void message_id_is_stable(void **state)
{
	struct tj_mail_alert other = LATE;
	size_t len;
	char *a = build(&LATE, "a@example.org", NOW, &len), *b = build(&LATE, "a@example.org",
								      NOW + 3600000000, &len);
	char *ha = headers_of(a), *hb = headers_of(b), *ida = header_value(ha, "Message-ID"),
	     *idb = header_value(hb, "Message-ID"), *c, *hc, *idc;

	(void)state;
	assert_string_equal(ida, idb); /* a retry an hour later: the same message */
	other.id = 43;
	c = build(&other, "a@example.org", NOW, &len);
	hc = headers_of(c);
	idc = header_value(hc, "Message-ID");
	assert_string_not_equal(ida, idc);
	free(ida), free(idb), free(idc), free(ha), free(hb), free(hc), free(a), free(b), free(c);
}

/* What an alert carries (a receiver's reply is part of it) never adds a header. */
static void no_header_injection(void **state)
{
	struct tj_mail_alert a = LATE;
	size_t len;
	char *msg, *h, *subject;

	(void)state;
	a.message = "HTTP 400: bad\r\nBcc: evil@example.org\r\n\r\nX-Injected: 1\n.\r\n.";
	a.grant_id = "G\r\nBcc: evil@example.org";
	a.report_id = "R\nX-Injected: 2";
	a.raised_by = "me\r\nSubject: forged";
	msg = build(&a, "a@example.org", NOW, &len);
	assert_lines(msg, len);
	h = headers_of(msg);
	assert_false(has_header(h, "Bcc"));
	assert_false(has_header(h, "X-Injected"));
	subject = header_value(h, "Subject"); /* exactly one */
	assert_string_equal(subject, "trajectd ALERT late: grant G??Bcc: evil@example.org report "
				     "R?X-Injected: 2");
	/* the message's text is in the body, its line breaks gone */
	assert_non_null(strstr(msg, "HTTP 400: bad  Bcc: evil@example.org"));
	assert_null(strstr(msg, "\r\n.\r\n")); /* no end of DATA inside the message */
	free(subject);
	free(h);
	free(msg);
	/* a database alert: the instance is in the subject, cleaned */
	a = LATE;
	a.kind = "database";
	a.grant_id = a.report_id = NULL;
	a.raised_by = "trajectd@h:1:ab\r\nBcc: evil@example.org";
	a.id = 0;
	msg = build(&a, "a@example.org", NOW, &len);
	h = headers_of(msg);
	assert_false(has_header(h, "Bcc"));
	subject = header_value(h, "Subject");
	assert_string_equal(subject, "trajectd ALERT database: instance trajectd@h:1:ab??Bcc: "
				     "evil@example.org lost the database");
	assert_null(strstr(msg, "grant:"));
	assert_non_null(strstr(msg, "not stored yet"));
	free(subject);
	free(h);
	free(msg);
}

static void bad_addresses_are_refused(void **state)
{
	char untouched[] = "untouched";
	char why[300], *msg = untouched;
	size_t len = 7;
	tj_err err = { 0 };
	char many[2000] = "";

	(void)state;
	assert_int_equal(tj_mail_address_check("grants@municipality.example", why, sizeof why), 0);
	assert_int_equal(tj_mail_address_check("a.b+c@x-y.example", why, sizeof why), 0);
	assert_int_equal(tj_mail_address_check("grants", why, sizeof why), TJ_EINVAL);
	assert_non_null(strstr(why, "not one address"));
	assert_int_equal(tj_mail_address_check("a@b\r\nBcc: c@d", why, sizeof why), TJ_EINVAL);
	assert_null(strchr(why, '\r'));
	assert_null(strchr(why, '\n'));
	assert_int_equal(tj_mail_address_check("a@b@c", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_mail_address_check("@b", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_mail_address_check("a@", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_mail_address_check("<a@b>", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_mail_address_check("a@b_c", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_mail_address_check("a@.b", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_mail_list_check("a@x.example  b@y.example\tc@z", why, sizeof why), 0);
	assert_int_equal(tj_mail_list_check("a@x.example,b@y.example", why, sizeof why), TJ_EINVAL);
	assert_non_null(strstr(why, "separate addresses with spaces"));
	assert_int_equal(tj_mail_list_check("   ", why, sizeof why), TJ_EINVAL);
	for (int i = 0; i < 21; i++)
		strcat(many, "a@example.org ");
	assert_int_equal(tj_mail_list_check(many, why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_mail_build(&LATE, "trajectd@h", "x@y\nBcc: z@w", NOW, &msg, &len, &err),
			 TJ_EINVAL);
	assert_int_equal(tj_mail_build(&LATE, "no at sign", "x@y", NOW, &msg, &len, &err),
			 TJ_EINVAL);
	assert_string_equal(msg, "untouched"); /* output only on success */
	assert_int_equal(len, 7);
}

static void long_lines_and_text(void **state)
{
	struct tj_mail_alert a = LATE;
	char text[3200], *msg, *h, *to;
	char list[1000] = "";
	size_t len;

	(void)state;
	memset(text, 'x', 3000);
	strcpy(text + 3000, " Zo\xc3\xab \xff end");
	a.message = text;
	for (int i = 0; i < 20; i++)
		strcat(list, "someone.with.a.long.name@municipality.example ");
	msg = build(&a, list, NOW, &len);
	assert_lines(msg, len); /* the 3000-byte word is cut at 998 */
	h = headers_of(msg);
	to = header_value(h, "To");
	assert_int_equal(strlen(to), 20 * 45 + 19 * 2); /* every address, ", " between */
	check_value(h, "Content-Transfer-Encoding", "8bit");
	/* the folded To header: no physical line over 78 bytes */
	for (const char *p = msg; p < strstr(msg, "\r\n\r\n"); p = strstr(p, "\r\n") + 2)
		assert_true(strstr(p, "\r\n") - p <= 78);
	assert_non_null(strstr(msg, "Zo\xc3\xab ? end")); /* UTF-8 kept, a stray byte replaced */
	free(to);
	free(h);
	free(msg);
}

/* A possible BSN never leaves in a mail; a "." line is not doubled (libcurl does that). */
static void masks_and_leaves_dots(void **state)
{
	struct tj_mail_alert a = LATE;
	char text[200];
	size_t len;
	char *msg;

	(void)state;
	memset(text, 'x', 70);
	snprintf(text + 70, sizeof text - 70, " .hidden about 123456782 here");
	a.message = text;
	msg = build(&a, "a@example.org", NOW, &len);
	assert_non_null(strstr(msg, "\r\n.hidden about ********* here\r\n"));
	assert_null(strstr(msg, "123456782"));
	assert_null(strstr(msg, "\r\n..hidden"));
	free(msg);
}

static void smtp_urls(void **state)
{
	char why[300];

	(void)state;
	assert_int_equal(tj_smtp_url_check("smtp://localhost", why, sizeof why), 0);
	assert_int_equal(tj_smtp_url_check("smtp://127.0.0.1:2525", why, sizeof why), 0);
	assert_int_equal(tj_smtp_url_check("smtps://mail.example:465", why, sizeof why), 0);
	assert_int_equal(tj_smtp_url_check("http://mail.example", why, sizeof why), TJ_EINVAL);
	assert_non_null(strstr(why, "not supported"));
	assert_int_equal(tj_smtp_url_check("smtp://user:secret@mail.example", why, sizeof why),
			 TJ_EINVAL);
	assert_null(strstr(why, "secret"));
	assert_int_equal(tj_smtp_url_check("localhost", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_smtp_url_check("smtp://", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_smtp_url_check("smtp://host/ x", why, sizeof why), TJ_EINVAL);
	assert_int_equal(tj_smtp_url_check("smtp://host?x=1", why, sizeof why), TJ_EINVAL);
}

static void retry_delays(void **state)
{
	(void)state;
	assert_int_equal(tj_mail_retry_delay(1, 60, 3600), 60);
	assert_int_equal(tj_mail_retry_delay(2, 60, 3600), 120);
	assert_int_equal(tj_mail_retry_delay(5, 60, 3600), 960);
	assert_int_equal(tj_mail_retry_delay(7, 60, 3600), 3600);
	assert_int_equal(tj_mail_retry_delay(1000, 60, 3600), 3600);
	assert_int_equal(tj_mail_retry_delay(3, 0, 0), 1);
	assert_int_equal(tj_mail_retry_delay(3, 1, 2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_headers),   cmocka_unit_test(message_id_is_stable),
		cmocka_unit_test(no_header_injection), cmocka_unit_test(bad_addresses_are_refused),
		cmocka_unit_test(long_lines_and_text), cmocka_unit_test(masks_and_leaves_dots),
		cmocka_unit_test(smtp_urls),         cmocka_unit_test(retry_delays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
