/*
 * Fuzz target: what trajectd does with the funder's reply (lib/deliver_http.c:
 * the header and body callbacks, the reply cap, the status classification,
 * Retry-After, the one-line reason). The input is the raw HTTP response.
 *
 * A real transfer is built with tj_transfer_new() and then pointed, for
 * the fuzzer only, at plain http on one end of a socketpair that already
 * holds the input followed by end-of-file (curl's opensocket and sockopt
 * callbacks, as curl's own fuzzer does). TLS is left out: it is OpenSSL's,
 * and the bytes after it are what this code reads. Invariants: the
 * outcome follows docs/delivery.md from the status; the error is one
 * printable line; the kept reply never exceeds the cap; nothing leaks.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fuzz.h"
#include "traject/deliver.h"

#define REPLY_CAP 1024

static int peer = -1; /* the end curl gets */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	int fd = peer;

	(void)clientp;
	(void)purpose;
	(void)addr;
	peer = -1; /* one connection per transfer; a second attempt gets none */
	return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int already_connected(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
	(void)clientp;
	(void)fd;
	(void)purpose;
	return CURL_SOCKOPT_ALREADY_CONNECTED;
}

static bool one_printable_line(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);

	if (!end)
		return false;
	for (const char *p = s; p < end; p++)
		if (*p == '\n' || *p == '\r')
			return false;
	return true;
}

static void check(const struct tj_delivery_result *res)
{
	long s = res->status;

	FUZZ_CHECK(res->outcome == TJ_OUTCOME_DELIVERED || res->outcome == TJ_OUTCOME_RETRY ||
		   res->outcome == TJ_OUTCOME_REJECTED);
	FUZZ_CHECK(one_printable_line(res->error, sizeof res->error));
	FUZZ_CHECK(res->retry_after >= -1);
	FUZZ_CHECK(res->body_len <= REPLY_CAP);
	FUZZ_CHECK(!res->body || res->body[res->body_len] == '\0');
	if (s == 0) {
		FUZZ_CHECK(res->outcome == TJ_OUTCOME_RETRY && !res->body && !res->headers);
	} else if (s >= 200 && s <= 299) {
		FUZZ_CHECK(res->outcome == TJ_OUTCOME_DELIVERED);
	} else if (s == 408 || s == 425 || s == 429 || (s >= 500 && s <= 599)) {
		FUZZ_CHECK(res->outcome == TJ_OUTCOME_RETRY && !res->alert);
	} else if (s >= 300 && s <= 499) {
		FUZZ_CHECK(res->outcome == TJ_OUTCOME_REJECTED && res->retry_after == -1);
	} else {
		FUZZ_CHECK(res->outcome == TJ_OUTCOME_RETRY && res->alert);
	}
	if (res->outcome != TJ_OUTCOME_RETRY)
		FUZZ_CHECK(res->retry_after == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char body[] = "{\"report\": \"fuzz\"}";
	struct tj_delivery_opts opts = { .url = "https://127.0.0.1/inbox", .timeout_s = 5,
					 .connect_timeout_s = 5, .max_reply_bytes = REPLY_CAP };
	struct tj_doc doc = { .grant_id = "G-FUZZ", .report_id = "R1", .version = 1,
			      .format = "json", .body = body, .len = sizeof body - 1 };
	struct tj_delivery_result res;
	struct tj_transfer *t = NULL;
	tj_err err = { 0 };
	int sv[2];
	CURL *easy;

	/* the socket buffer holds the whole reply before curl reads it */
	if (size > 100000)
		return 0;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	if (size)
		FUZZ_CHECK(write(sv[1], data, size) == (ssize_t)size);
	FUZZ_CHECK(shutdown(sv[1], SHUT_WR) == 0);
	peer = sv[0];
	FUZZ_CHECK(tj_transfer_new(&t, &opts, &doc, NULL, &err) == 0);
	easy = tj_transfer_easy(t);
	FUZZ_CHECK(curl_easy_setopt(easy, CURLOPT_URL, "http://127.0.0.1/inbox") == CURLE_OK);
	FUZZ_CHECK(curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http") == CURLE_OK);
	FUZZ_CHECK(curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket) == CURLE_OK);
	FUZZ_CHECK(curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, already_connected) == CURLE_OK);
	FUZZ_CHECK(curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK);
	memset(&res, 0, sizeof res);
	FUZZ_CHECK(tj_transfer_perform(t, &res, &err) == 0);
	check(&res);
	tj_delivery_result_clear(&res);
	tj_transfer_free(t);
	if (peer >= 0) { /* curl never asked for it */
		close(peer);
		peer = -1;
	}
	close(sv[1]);
	return 0;
}
