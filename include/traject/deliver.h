/*
 * Delivery of one report document to the funder (formats.md, "Delivery to
 * the funder"); the protocol and every decision are in docs/delivery.md.
 *
 * One attempt at a time, no database: the outbox (another piece) decides
 * when to try and records what happened. An attempt ends in one of three
 * outcomes: DELIVERED (a receipt), RETRY (try again later, see
 * tj_backoff_delay) or REJECTED (never retry; alert the administrator).
 * An outcome is not an error: the functions below return 0 whenever they
 * filled a result, and a negative TJ_E* code only when no attempt could
 * be made at all (bad document or options, out of memory).
 *
 * Targets:
 *   https://...  a POST through a transfer object around a libcurl easy
 *                handle; run it blocking (tj_transfer_perform) or add
 *                tj_transfer_easy() to a CURLM multi handle and call
 *                tj_transfer_done() when curl_multi_info_read reports it.
 *   file:///dir  the document is written under a temporary name, flushed,
 *                and renamed to "<grant>_<report>_v<version>.<format>".
 * tj_deliver() does either, blocking, by the scheme of the URL.
 *
 * Programs call curl_global_init(CURL_GLOBAL_DEFAULT) once at start-up,
 * before any thread exists.
 */
#ifndef TRAJECT_DELIVER_H
#define TRAJECT_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "traject/config.h"
#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One stored document. The same bytes and the same key go out on every
 * retry; a corrected report is a new version and therefore a new key.
 * grant_id and report_id are references (1 to 64 of A-Z a-z 0-9 . _ -),
 * version >= 1, format "xml" or "json". All pointers are borrowed for the
 * duration of the call; a transfer copies what it needs.
 */
struct tj_doc {
	const char *grant_id;
	const char *report_id;
	int version;
	const char *format;
	const void *body;
	size_t len;
	/* The Idempotency-Key header: the tj_doc_key() value stored with the
	 * document, or NULL to derive it here. Printable ASCII, 1..255. */
	const char *idempotency_key;
};

/* "sha-256=:" + 44 base64 characters + ":" + NUL */
#define TJ_DIGEST_SIZE 55
/* "tj1-" + 64 hex digits + NUL */
#define TJ_KEY_SIZE 69

/* The Content-Digest header value (RFC 9530): "sha-256=:<base64>:" */
void tj_doc_digest(const void *body, size_t len, char out[static TJ_DIGEST_SIZE]);

/*
 * The idempotency key of a document:
 *   "tj1-" + hex sha256 of "tj1\n" grant "\n" report "\n" version "\n"
 *            format "\n" hex-sha256(body)
 * (version in decimal without leading zeros). The ids cannot contain a
 * newline, so the joined text names exactly one document: the same
 * document always has the same key, any other document another one.
 * Returns 0, or TJ_EINVAL when a field of doc is invalid.
 */
int tj_doc_key(const struct tj_doc *doc, char out[static TJ_KEY_SIZE], tj_err *err);

/* Check the fields of doc as tj_doc_key does (and the key, if given). */
int tj_doc_check(const struct tj_doc *doc, tj_err *err);

/*
 * The file name a folder target uses: "<grant>_<report>_v<version>.<format>".
 * Returns 0, TJ_EINVAL for an invalid doc, TJ_EUSAGE when size is too small
 * (TJ_DOC_NAME_SIZE always suffices).
 */
#define TJ_DOC_NAME_SIZE 160
int tj_doc_file_name(const struct tj_doc *doc, char *buf, size_t size, tj_err *err);

/* Where and how to deliver; the strings are borrowed for one call. */
struct tj_delivery_opts {
	const char *url;          /* https://host/path or file:///folder */
	const char *ca_file;      /* CA bundle (PEM) for the server, NULL: system store */
	const char *client_cert;  /* client certificate (PEM), NULL: none */
	const char *client_key;   /* its unencrypted key (PEM), NULL: in client_cert */
	long timeout_s;           /* one whole attempt, connect included, >= 1 */
	long connect_timeout_s;   /* the connection alone, 1..timeout_s */
	size_t max_reply_bytes;   /* reply body kept at most this long, >= 1 */
};

#define TJ_DELIVERY_CONNECT_TIMEOUT 30L
#define TJ_DELIVERY_MAX_REPLY ((size_t)1 << 20)

/*
 * Options from the [delivery] section: url, ca_file, client_cert,
 * client_key and timeout; connect_timeout_s = min(timeout, 30) and
 * max_reply_bytes = 1 MiB. The strings stay owned by cfg.
 */
void tj_delivery_opts_from_config(struct tj_delivery_opts *opts, const tj_config *cfg);

enum tj_target { TJ_TARGET_HTTPS = 1, TJ_TARGET_FILE = 2 };
/*
 * Which target a URL names: TJ_TARGET_HTTPS or TJ_TARGET_FILE (positive),
 * or TJ_EINVAL with a message saying what is accepted.
 */
int tj_delivery_target(const char *url, tj_err *err);

enum tj_outcome {
	TJ_OUTCOME_DELIVERED = 1, /* the receipt fields are set */
	TJ_OUTCOME_RETRY = 2,     /* try again after tj_backoff_delay() */
	TJ_OUTCOME_REJECTED = 3,  /* never retry; alert; error says why */
};
/* "delivered", "retry", "rejected" */
const char *tj_outcome_name(enum tj_outcome outcome);

/*
 * What one attempt did. A filled result owns its strings: release it with
 * tj_delivery_result_clear(), which also accepts a zeroed result. The
 * functions that fill a result overwrite it without freeing it.
 */
struct tj_delivery_result {
	enum tj_outcome outcome;
	long status;          /* HTTP status of the final response, 0 if none */
	char *headers;        /* its header block as received (status line first,
	                       * CRLF line ends, may hold any bytes), or NULL */
	size_t headers_len;
	char *body;           /* reply body (NUL-terminated, any bytes), or NULL */
	size_t body_len;
	bool body_truncated;  /* the reply was longer than max_reply_bytes */
	char *path;           /* file target: the final path of the document */
	int64_t at_us;        /* when the attempt ended, microseconds since 1970 UTC */
	char at[32];          /* the same as "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
	int64_t elapsed_ms;   /* how long the attempt took */
	long retry_after;     /* seconds the receiver asked for (Retry-After), -1 if none */
	bool alert;           /* RETRY that waiting alone will not fix: tell the administrator */
	char error[768];      /* one line, why not delivered; a note or "" when delivered */
};

void tj_delivery_result_clear(struct tj_delivery_result *res);
/* Set at_us and at to the current time. */
void tj_delivery_result_stamp(struct tj_delivery_result *res);

/* --- HTTPS ----------------------------------------------------------- */

struct tj_transfer;

/*
 * Prepare one POST of doc to opts->url (which must be https://). The body
 * and headers are copied: doc and opts may go away after this call.
 * `user` is the caller's pointer, returned by tj_transfer_user().
 * Returns 0, TJ_EINVAL (bad doc or URL), TJ_ENOMEM or TJ_ENET (libcurl
 * refused an option).
 */
int tj_transfer_new(struct tj_transfer **out, const struct tj_delivery_opts *opts,
		    const struct tj_doc *doc, void *user, tj_err *err);
/* The easy handle, to add to a multi handle; CURLOPT_PRIVATE is the transfer. */
CURL *tj_transfer_easy(struct tj_transfer *t);
/* The transfer an easy handle belongs to (from curl_multi_info_read), or NULL. */
struct tj_transfer *tj_transfer_of(CURL *easy);
void *tj_transfer_user(const struct tj_transfer *t);
/* Run the attempt now, blocking (never on a handle inside a multi). */
int tj_transfer_perform(struct tj_transfer *t, struct tj_delivery_result *res, tj_err *err);
/*
 * Classify a finished attempt: `code` is the CURLcode curl_multi_info_read
 * reported (remove the handle from the multi first, or after; either works).
 * Returns 0 with res filled, or TJ_ENOMEM.
 */
int tj_transfer_done(struct tj_transfer *t, CURLcode code, struct tj_delivery_result *res,
		     tj_err *err);
/* One attempt per transfer: free it after done; frees the easy handle. */
void tj_transfer_free(struct tj_transfer *t);

/* --- Folder ---------------------------------------------------------- */

/* Deliver doc into the folder of opts->url (file:///...). Blocking. */
int tj_deliver_file(const struct tj_delivery_opts *opts, const struct tj_doc *doc,
		    struct tj_delivery_result *res, tj_err *err);

/* Either target, blocking, chosen by the scheme of opts->url. */
int tj_deliver(const struct tj_delivery_opts *opts, const struct tj_doc *doc,
	       struct tj_delivery_result *res, tj_err *err);

/* --- Backoff --------------------------------------------------------- */

/* A source of uniformly distributed 64-bit values (injectable for tests). */
typedef uint64_t (*tj_rand_fn)(void *ctx);
/* The system's random source (OpenSSL RAND_bytes); ctx unused. */
uint64_t tj_rand_system(void *ctx);

/*
 * Seconds to wait before attempt n+1 after attempt n (1-based) failed with
 * RETRY: full jitter, uniform over [0, min(retry_max, retry_base * 2^(n-1))],
 * but never less than retry_after (when >= 0), itself clamped to
 * retry_max. retry_base and retry_max are >= 1 (smaller values count as
 * 1); attempt < 1 counts as 1. rnd NULL means tj_rand_system.
 */
long tj_backoff_delay(long attempt, long retry_base, long retry_max, long retry_after,
		      tj_rand_fn rnd, void *ctx);

/*
 * Parse a Retry-After value (RFC 9110 10.2.3): delta-seconds or an
 * HTTP-date, relative to `now`. Returns seconds >= 0 (a date in the past
 * gives 0, huge values saturate at LONG_MAX), or -1 for a missing,
 * negative or unparseable value, which the caller ignores.
 */
long tj_retry_after_parse(const char *value, time_t now);

#ifdef __cplusplus
}
#endif
#endif
