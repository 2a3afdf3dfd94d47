/*
 * deliver_probe: a test helper for tests/it_deliver.py. It delivers one
 * file through include/traject/deliver.h exactly as the daemon would, and
 * prints the outcome as one JSON object on stdout. With --multi the HTTPS
 * attempt runs inside a CURLM multi handle (the daemon's way) instead of
 * tj_transfer_perform. Exit 0 when an attempt produced an outcome, 1 when
 * the library refused to try (the message on stderr), 2 on usage.
 *
 *   deliver_probe --url URL --body FILE [--grant ID] [--report ID]
 *       [--version N] [--format xml|json] [--key KEY] [--ca FILE]
 *       [--cert FILE] [--cert-key FILE] [--timeout S] [--connect-timeout S]
 *       [--max-reply BYTES] [--multi]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "traject/deliver.h"
#include "util.h"

static int usage(void)
{
	fprintf(stderr, "usage: deliver_probe --url URL --body FILE [--grant ID] [--report ID] "
			"[--version N] [--format xml|json] [--key KEY] [--ca FILE] [--cert FILE] "
			"[--cert-key FILE] [--timeout S] [--connect-timeout S] [--max-reply BYTES] "
			"[--multi]\n");
	return 2;
}

static int number(const char *s, long min, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

/* The daemon's way: a multi handle, finished via curl_multi_info_read. */
static int run_multi(struct tj_transfer *t, struct tj_delivery_result *res, bool *found,
		     tj_err *err)
{
	CURLM *m = curl_multi_init();
	CURLMsg *msg;
	int running = 1, left, r = TJ_ENET;

	if (!m || curl_multi_add_handle(m, tj_transfer_easy(t)) != CURLM_OK)
		return tj_fail(err, TJ_ENET, "cannot set up a multi handle");
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	while ((msg = curl_multi_info_read(m, &left))) {
		struct tj_transfer *back;

		if (msg->msg != CURLMSG_DONE)
			continue;
		back = tj_transfer_of(msg->easy_handle);
		*found = back == t && tj_transfer_user(back) == (void *)found;
		curl_multi_remove_handle(m, msg->easy_handle);
		r = tj_transfer_done(back, msg->data.result, res, err);
	}
	curl_multi_cleanup(m);
	return r;
}

static void put_str(json_object *o, const char *k, const char *v, size_t len)
{
	json_object_object_add(o, k, v ? json_object_new_string_len(v, (int)len) : NULL);
}

static void print_result(const struct tj_delivery_result *res, const char *key,
			 const char *digest, const char *via, bool found)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "outcome", json_object_new_string(tj_outcome_name(res->outcome)));
	json_object_object_add(o, "status", json_object_new_int64(res->status));
	put_str(o, "headers", res->headers, res->headers_len);
	put_str(o, "body", res->body, res->body_len);
	json_object_object_add(o, "body_len", json_object_new_int64((int64_t)res->body_len));
	json_object_object_add(o, "body_truncated", json_object_new_boolean(res->body_truncated));
	put_str(o, "path", res->path, res->path ? strlen(res->path) : 0);
	json_object_object_add(o, "at", json_object_new_string(res->at));
	json_object_object_add(o, "at_us", json_object_new_int64(res->at_us));
	json_object_object_add(o, "elapsed_ms", json_object_new_int64(res->elapsed_ms));
	json_object_object_add(o, "retry_after", json_object_new_int64(res->retry_after));
	json_object_object_add(o, "alert", json_object_new_boolean(res->alert));
	json_object_object_add(o, "error", json_object_new_string(res->error));
	json_object_object_add(o, "idempotency_key", json_object_new_string(key));
	json_object_object_add(o, "digest", json_object_new_string(digest));
	json_object_object_add(o, "via", json_object_new_string(via));
	json_object_object_add(o, "found_by_private", json_object_new_boolean(found));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "body", required_argument, NULL, 'b' },
		{ "grant", required_argument, NULL, 'g' },
		{ "report", required_argument, NULL, 'r' },
		{ "version", required_argument, NULL, 'v' },
		{ "format", required_argument, NULL, 'f' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "cert-key", required_argument, NULL, 'K' },
		{ "timeout", required_argument, NULL, 't' },
		{ "connect-timeout", required_argument, NULL, 'C' },
		{ "max-reply", required_argument, NULL, 'm' },
		{ "multi", no_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	struct tj_delivery_opts opts = { .timeout_s = 60, .connect_timeout_s = 30,
					 .max_reply_bytes = TJ_DELIVERY_MAX_REPLY };
	struct tj_doc doc = { .grant_id = "OV-2011-AMB-01", .report_id = "2011-Q3", .version = 1,
			      .format = "xml" };
	struct tj_delivery_result res;
	const char *body_path = NULL, *via = "perform";
	char key[TJ_KEY_SIZE], digest[TJ_DIGEST_SIZE];
	bool multi = false, found = false;
	tj_err err = { 0 };
	TJ_AUTOBUF tj_buf body;
	long n;
	int c, r;

	tj_buf_init(&body);
	memset(&res, 0, sizeof res);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': opts.url = optarg; break;
		case 'b': body_path = optarg; break;
		case 'g': doc.grant_id = optarg; break;
		case 'r': doc.report_id = optarg; break;
		case 'f': doc.format = optarg; break;
		case 'k': doc.idempotency_key = optarg; break;
		case 'a': opts.ca_file = optarg; break;
		case 'c': opts.client_cert = optarg; break;
		case 'K': opts.client_key = optarg; break;
		case 'M': multi = true; break;
		case 'v':
			if (number(optarg, 0, &n) < 0 || n > 1000000)
				return usage();
			doc.version = (int)n;
			break;
		case 't':
			if (number(optarg, 1, &opts.timeout_s) < 0)
				return usage();
			break;
		case 'C':
			if (number(optarg, 1, &opts.connect_timeout_s) < 0)
				return usage();
			break;
		case 'm':
			if (number(optarg, 1, &n) < 0)
				return usage();
			opts.max_reply_bytes = (size_t)n;
			break;
		default: return usage();
		}
	}
	if (!opts.url || !body_path || optind != argc)
		return usage();
	if (tj_read_file(body_path, &body, &err) < 0) {
		fprintf(stderr, "deliver_probe: %s\n", err.msg);
		return 1;
	}
	doc.body = body.data;
	doc.len = body.len;
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (doc.idempotency_key)
		snprintf(key, sizeof key, "%s", doc.idempotency_key);
	else if (tj_doc_key(&doc, key, &err) < 0)
		goto refused;
	tj_doc_digest(doc.body, doc.len, digest);

	if ((r = tj_delivery_target(opts.url, &err)) == TJ_TARGET_HTTPS && multi) {
		struct tj_transfer *t = NULL;

		via = "multi";
		if (tj_transfer_new(&t, &opts, &doc, &found, &err) < 0)
			goto refused;
		r = run_multi(t, &res, &found, &err);
		tj_transfer_free(t);
	} else if (r >= 0) {
		via = r == TJ_TARGET_FILE ? "file" : "perform";
		r = tj_deliver(&opts, &doc, &res, &err);
	}
	if (r < 0)
		goto refused;
	print_result(&res, key, digest, via, found);
	tj_delivery_result_clear(&res);
	curl_global_cleanup();
	return 0;
refused:
	fprintf(stderr, "deliver_probe: %s\n", err.msg[0] ? err.msg : tj_strerror(err.code));
	curl_global_cleanup();
	return 1;
}
