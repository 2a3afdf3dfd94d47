/*
 * Delivery by HTTPS POST, and the front door of delivery (options from the
 * configuration, which target a URL names, the blocking tj_deliver).
 *
 * A transfer is one attempt around one libcurl easy handle, so the same
 * object runs blocking (tj_transfer_perform) or inside the daemon's multi
 * socket loop (tj_transfer_easy + tj_transfer_done): all the policy lives
 * in the options set here and in classify(), none in how it is driven.
 * The rules (what is retried, what is a rejection, the bounds) are in
 * docs/delivery.md; this file says why where it is not obvious.
 */
#include <stdarg.h>
#include <string.h>

#include <curl/curl.h>

#include "tj_version.h"
#include "traject/deliver.h"
#include "util.h"

/* Response headers kept (and read) at most; beyond, the reply is cut. */
#define HEADER_CAP ((size_t)64 * 1024)
/* Reply bytes quoted in a rejection reason (formats.md: "why"). */
#define REASON_BYTES 500
/* ... and in a retry's error text, which is only a hint. */
#define HINT_BYTES 200

struct tj_transfer {
	CURL *easy;
	struct curl_slist *headers;
	void *user;
	size_t max_reply;
	tj_buf head;        /* header block of the latest response */
	tj_buf reply;       /* its body, at most max_reply bytes */
	bool truncated;     /* body or headers were cut: we aborted the read */
	char errbuf[CURL_ERROR_SIZE];
};

void tj_delivery_opts_from_config(struct tj_delivery_opts *opts, const tj_config *cfg)
{
	memset(opts, 0, sizeof *opts);
	opts->url = cfg->url;
	opts->ca_file = cfg->ca_file;
	opts->client_cert = cfg->client_cert;
	opts->client_key = cfg->client_key;
	opts->timeout_s = cfg->timeout;
	opts->connect_timeout_s = cfg->timeout < TJ_DELIVERY_CONNECT_TIMEOUT
					  ? cfg->timeout
					  : TJ_DELIVERY_CONNECT_TIMEOUT;
	opts->max_reply_bytes = TJ_DELIVERY_MAX_REPLY;
}

static void curl_url_freep(CURLU **u)
{
	curl_url_cleanup(*u);
}

static void curl_freep(char **p)
{
	curl_free(*p);
}

int tj_delivery_target(const char *url, tj_err *err)
{
	TJ_AUTO(curl_url_freep) CURLU *u = curl_url();
	TJ_AUTO(curl_freep) char *scheme = NULL;
	CURLUcode rc;

	if (!u)
		return tj_fail(err, TJ_ENOMEM, "out of memory parsing the delivery url");
	if (!url || !*url)
		return tj_fail(err, TJ_EINVAL,
			       "no delivery url: set [delivery] url = https://... or file:///folder");
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_ALLOW_SPACE);
	if (rc != CURLUE_OK)
		return tj_fail(err, TJ_EINVAL,
			       "delivery url \"%s\" is not usable (%s): write https://host/path or "
			       "file:///folder",
			       url, curl_url_strerror(rc));
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		return tj_fail(err, TJ_EINVAL, "delivery url \"%s\" has no scheme", url);
	if (strcmp(scheme, "https") == 0)
		return TJ_TARGET_HTTPS;
	if (strcmp(scheme, "file") == 0)
		return TJ_TARGET_FILE;
	if (strcmp(scheme, "http") == 0)
		return tj_fail(err, TJ_EINVAL,
			       "delivery url \"%s\": plain http is not allowed, reports go over TLS; "
			       "use https://",
			       url);
	return tj_fail(err, TJ_EINVAL,
		       "delivery url \"%s\": scheme \"%s\" is not supported; use https:// or file:///",
		       url, scheme);
}

const char *tj_outcome_name(enum tj_outcome outcome)
{
	switch (outcome) {
	case TJ_OUTCOME_DELIVERED: return "delivered";
	case TJ_OUTCOME_RETRY: return "retry";
	case TJ_OUTCOME_REJECTED: return "rejected";
	}
	return "unknown";
}

void tj_delivery_result_clear(struct tj_delivery_result *res)
{
	if (!res)
		return;
	free(res->headers);
	free(res->body);
	free(res->path);
	memset(res, 0, sizeof *res);
	res->retry_after = -1;
}

void tj_delivery_result_stamp(struct tj_delivery_result *res)
{
	struct timespec ts;
	struct tm tm;
	char hms[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	res->at_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(hms, sizeof hms, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(res->at, sizeof res->at, "%.19s.%06uZ", hms,
		 (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

/*
 * Copy at most max bytes of src as one printable line: control bytes
 * become spaces and a cut never splits a UTF-8 sequence.
 */
static void one_line(char *dst, size_t dstsize, const char *src, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	size_t o = 0;

	if (n >= dstsize)
		n = dstsize - 1;
	if (n < len) /* cut: drop a partial multi-byte sequence at the end */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct tj_transfer *t = userdata;
	size_t n = size * nmemb;
	size_t room = t->max_reply - t->reply.len;

	if (n > room) {
		/* keep what fits as the receipt, then stop reading: bounded memory */
		tj_buf_append(&t->reply, ptr, room);
		t->truncated = true;
		return 0;
	}
	if (tj_buf_append(&t->reply, ptr, n) < 0)
		return 0;
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
	struct tj_transfer *t = userdata;
	size_t n = size * nitems;

	/* a new status line starts the headers of the next (final) response */
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		t->head.len = 0;
		if (t->head.data)
			t->head.data[0] = '\0';
	}
	if (t->head.len + n > HEADER_CAP) {
		t->truncated = true;
		return 0;
	}
	if (tj_buf_append(&t->head, ptr, n) < 0)
		return 0;
	return n;
}

static int set_failed(tj_err *err, const char *what, CURLcode rc)
{
	return tj_fail(err, TJ_ENET, "libcurl refused %s: %s", what, curl_easy_strerror(rc));
}

#define SETOPT(opt, val)                                                \
	do {                                                            \
		CURLcode rc_ = curl_easy_setopt(t->easy, opt, val);     \
		if (rc_ != CURLE_OK) {                                  \
			r = set_failed(err, #opt, rc_);                 \
			goto fail;                                      \
		}                                                       \
	} while (0)

static int add_header(struct tj_transfer *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int add_header(struct tj_transfer *t, const char *fmt, ...)
{
	char line[512];
	struct curl_slist *l;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return TJ_EINVAL;
	if (!(l = curl_slist_append(t->headers, line)))
		return TJ_ENOMEM;
	t->headers = l;
	return 0;
}

/*
 * Low-speed limit: less than 1 byte/s for this long aborts the attempt.
 * With the default timeout (60 s) that is 30 s; with a long timeout it
 * catches a stalled connection well before the end, but leaves a slow
 * receiver a quarter of the timeout to think.
 */
static long low_speed_time(long timeout_s)
{
	long quarter = timeout_s / 4;
	long t = quarter > 30 ? quarter : 30;

	return t < timeout_s ? t : timeout_s;
}

static int check_opts(const struct tj_delivery_opts *opts, tj_err *err)
{
	int r = tj_delivery_target(opts->url, err);

	if (r < 0)
		return r;
	if (r != TJ_TARGET_HTTPS)
		return tj_fail(err, TJ_EINVAL, "delivery url \"%s\" is not https://", opts->url);
	if (opts->timeout_s < 1 || opts->connect_timeout_s < 1)
		return tj_fail(err, TJ_EINVAL, "delivery timeouts must be 1 second or more");
	if (opts->max_reply_bytes < 1)
		return tj_fail(err, TJ_EINVAL, "max_reply_bytes must be 1 or more");
	return 0;
}

int tj_transfer_new(struct tj_transfer **out, const struct tj_delivery_opts *opts,
		    const struct tj_doc *doc, void *user, tj_err *err)
{
	struct tj_transfer *t;
	char key[TJ_KEY_SIZE], digest[TJ_DIGEST_SIZE];
	const char *ctype;
	int r;

	if ((r = check_opts(opts, err)) < 0 || (r = tj_doc_check(doc, err)) < 0)
		return r;
	if (!doc->idempotency_key && (r = tj_doc_key(doc, key, err)) < 0)
		return r;
	tj_doc_digest(doc->body ? doc->body : "", doc->len, digest);
	ctype = strcmp(doc->format, "xml") == 0 ? "application/xml; charset=utf-8"
						 : "application/json";

	if (!(t = calloc(1, sizeof *t)))
		return tj_fail(err, TJ_ENOMEM, "out of memory preparing a transfer");
	t->user = user;
	t->max_reply = opts->max_reply_bytes;
	tj_buf_init(&t->head);
	tj_buf_init(&t->reply);
	if (!(t->easy = curl_easy_init())) {
		r = tj_fail(err, TJ_ENOMEM, "libcurl could not create a transfer");
		goto fail;
	}
	/* Idempotency-Key is a structured-field string (draft-ietf-httpapi-
	 * idempotency-key-header): quoted; the key holds no quote or backslash */
	if (add_header(t, "Content-Type: %s", ctype) < 0 ||
	    add_header(t, "Idempotency-Key: \"%s\"", doc->idempotency_key ? doc->idempotency_key
									   : key) < 0 ||
	    add_header(t, "Content-Digest: %s", digest) < 0 ||
	    add_header(t, "%s", "Expect:") < 0) { /* no 100-continue round trip */
		r = tj_fail(err, TJ_ENOMEM, "out of memory preparing a transfer");
		goto fail;
	}

	SETOPT(CURLOPT_PRIVATE, (void *)t);
	SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_URL, opts->url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx is a rejection */
	SETOPT(CURLOPT_POST, 1L);
	/* size first, so the copy takes exactly len bytes (the body may hold NULs) */
	SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)doc->len);
	SETOPT(CURLOPT_COPYPOSTFIELDS, doc->body ? (const char *)doc->body : "");
	SETOPT(CURLOPT_HTTPHEADER, t->headers);
	SETOPT(CURLOPT_USERAGENT, "trajectd/" TJ_VERSION);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (opts->ca_file)
		SETOPT(CURLOPT_CAINFO, opts->ca_file);
	if (opts->client_cert)
		SETOPT(CURLOPT_SSLCERT, opts->client_cert);
	if (opts->client_key)
		SETOPT(CURLOPT_SSLKEY, opts->client_key);
	SETOPT(CURLOPT_TIMEOUT, opts->timeout_s);
	SETOPT(CURLOPT_CONNECTTIMEOUT, opts->connect_timeout_s < opts->timeout_s
					       ? opts->connect_timeout_s
					       : opts->timeout_s);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(CURLOPT_LOW_SPEED_TIME, low_speed_time(opts->timeout_s));
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, (void *)t);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, (void *)t);
	*out = t;
	return 0;
fail:
	tj_transfer_free(t);
	return r;
}

CURL *tj_transfer_easy(struct tj_transfer *t)
{
	return t->easy;
}

struct tj_transfer *tj_transfer_of(CURL *easy)
{
	char *p = NULL;

	if (!easy || curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p) != CURLE_OK)
		return NULL;
	return (struct tj_transfer *)(void *)p;
}

void *tj_transfer_user(const struct tj_transfer *t)
{
	return t->user;
}

void tj_transfer_free(struct tj_transfer *t)
{
	if (!t)
		return;
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	tj_buf_free(&t->head);
	tj_buf_free(&t->reply);
	free(t);
}

/* A response header of the final response, or NULL. */
static const char *header(struct tj_transfer *t, const char *name)
{
	struct curl_header *h = NULL;

	if (curl_easy_header(t->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return NULL;
	return h->value;
}

static bool retryable_status(long status)
{
	return status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599);
}

/* Transport failures that waiting will not fix: someone must look. */
static bool tls_setup_problem(CURLcode code)
{
	return code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM ||
	       code == CURLE_SSL_CRL_BADFILE || code == CURLE_SSL_ISSUER_ERROR ||
	       code == CURLE_SSL_PINNEDPUBKEYNOTMATCH || code == CURLE_SSL_INVALIDCERTSTATUS ||
	       code == CURLE_SSL_CIPHER || code == CURLE_SSL_ENGINE_NOTFOUND ||
	       code == CURLE_SSL_ENGINE_SETFAILED || code == CURLE_SSL_ENGINE_INITFAILED;
}

static void classify_status(struct tj_transfer *t, CURLcode code, long status,
			    struct tj_delivery_result *res)
{
	char text[REASON_BYTES + 1];
	const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);

	one_line(text, sizeof text, t->reply.data ? t->reply.data : "", t->reply.len,
		 REASON_BYTES);
	if (status >= 200 && status <= 299) {
		/* the receiver's verdict is its status line; a cut or broken
		 * body afterwards does not undo the acceptance */
		res->outcome = TJ_OUTCOME_DELIVERED;
		if (t->truncated)
			snprintf(res->error, sizeof res->error,
				 "note: the reply was cut at %zu bytes; the receipt keeps that much",
				 t->reply.len);
		else if (code != CURLE_OK)
			snprintf(res->error, sizeof res->error,
				 "note: the reply after the status was incomplete (%s)", why);
	} else if (status >= 300 && status <= 399) {
		const char *loc = header(t, "Location");
		char where[300] = "";

		if (loc)
			one_line(where, sizeof where, loc, strlen(loc), sizeof where - 1);
		res->outcome = TJ_OUTCOME_REJECTED;
		snprintf(res->error, sizeof res->error,
			 "HTTP %ld: redirects are not followed; configure the final URL%s%s%s", status,
			 loc ? " (Location: " : "", where, loc ? ")" : "");
	} else if (retryable_status(status)) {
		res->outcome = TJ_OUTCOME_RETRY;
		res->retry_after = tj_retry_after_parse(header(t, "Retry-After"), time(NULL));
		one_line(text, sizeof text, t->reply.data ? t->reply.data : "", t->reply.len,
			 HINT_BYTES);
		snprintf(res->error, sizeof res->error, "HTTP %ld%s%s", status, text[0] ? ": " : "",
			 text);
	} else if (status >= 400 && status <= 499) {
		res->outcome = TJ_OUTCOME_REJECTED;
		snprintf(res->error, sizeof res->error, "HTTP %ld: %s", status,
			 text[0] ? text : "(no reason given in the reply)");
	} else {
		res->outcome = TJ_OUTCOME_RETRY;
		res->alert = true;
		snprintf(res->error, sizeof res->error,
			 "HTTP %ld is not a final status this client understands; the receiver "
			 "misbehaves",
			 status);
	}
}

static void classify_transport(struct tj_transfer *t, CURLcode code,
			       struct tj_delivery_result *res)
{
	const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);

	res->outcome = TJ_OUTCOME_RETRY;
	if (code == CURLE_PEER_FAILED_VERIFICATION) {
		/* not fixed by waiting, but never a reason to drop the report */
		res->alert = true;
		snprintf(res->error, sizeof res->error,
			 "TLS peer verification failed: %s (check [delivery] ca_file and the host "
			 "name in the url)",
			 why);
	} else if (code == CURLE_SSL_CLIENTCERT || strstr(why, "alert certificate required")) {
		/* TLS 1.3 reports a missing client certificate only as the
		 * server's alert 116 on the first read (OpenSSL's text) */
		res->alert = true;
		snprintf(res->error, sizeof res->error,
			 "the receiver requires a client certificate: %s (set [delivery] "
			 "client_cert and client_key)",
			 why);
	} else if (tls_setup_problem(code)) {
		res->alert = true;
		snprintf(res->error, sizeof res->error,
			 "TLS set-up failed: %s (check [delivery] ca_file, client_cert and "
			 "client_key)",
			 why);
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		snprintf(res->error, sizeof res->error, "timed out: %s", why);
	} else {
		snprintf(res->error, sizeof res->error, "%s: %s", curl_easy_strerror(code), why);
	}
}

int tj_transfer_done(struct tj_transfer *t, CURLcode code, struct tj_delivery_result *res,
		     tj_err *err)
{
	struct tj_delivery_result out;
	curl_off_t total_us = 0;
	long status = 0;

	if (t->head.oom || t->reply.oom)
		return tj_fail(err, TJ_ENOMEM, "out of memory reading the reply");
	memset(&out, 0, sizeof out);
	out.retry_after = -1;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	out.status = status;
	out.elapsed_ms = (int64_t)total_us / 1000;
	out.body_truncated = t->truncated;
	if (status != 0)
		classify_status(t, code, status, &out);
	else
		classify_transport(t, code, &out);
	tj_delivery_result_stamp(&out);

	/* hand the reply over to the result: the receipt, or the evidence */
	if (status != 0) {
		if (!t->head.data)
			tj_buf_append(&t->head, "", 0);
		if (!t->reply.data)
			tj_buf_append(&t->reply, "", 0);
		if (t->head.oom || t->reply.oom)
			return tj_fail(err, TJ_ENOMEM, "out of memory reading the reply");
		out.headers = t->head.data;
		out.headers_len = t->head.len;
		out.body = t->reply.data;
		out.body_len = t->reply.len;
		tj_buf_init(&t->head);
		tj_buf_init(&t->reply);
	}
	*res = out;
	return 0;
}

int tj_transfer_perform(struct tj_transfer *t, struct tj_delivery_result *res, tj_err *err)
{
	return tj_transfer_done(t, curl_easy_perform(t->easy), res, err);
}

int tj_deliver(const struct tj_delivery_opts *opts, const struct tj_doc *doc,
	       struct tj_delivery_result *res, tj_err *err)
{
	struct tj_transfer *t = NULL;
	int r = tj_delivery_target(opts->url, err);

	if (r == TJ_TARGET_FILE)
		return tj_deliver_file(opts, doc, res, err);
	if (r < 0)
		return r;
	if ((r = tj_transfer_new(&t, opts, doc, NULL, err)) < 0)
		return r;
	r = tj_transfer_perform(t, res, err);
	tj_transfer_free(t);
	return r;
}
