/* Unit tests of the event loop: fds, timers, signals, and curl multi on it. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "traject/loop.h"

struct counts {
	int io, timer_a, timer_b, sig, last_signo, done;
	char order[8];
	int norder;
	CURLcode result;
};

static void on_io(tj_loop *loop, int fd, unsigned events, void *data)
{
	struct counts *c = data;
	char buf[16];

	(void)loop;
	assert_true(events & TJ_LOOP_IN);
	assert_true(read(fd, buf, sizeof buf) > 0);
	c->io++;
}

static void fd_readiness(void **state)
{
	tj_loop *loop = NULL;
	struct counts c = { 0 };
	int p[2];

	(void)state;
	assert_int_equal(tj_loop_new(&loop, NULL), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tj_loop_watch(loop, p[0], TJ_LOOP_IN, on_io, &c, NULL), 0);
	/* nothing to read: returns after the wait with no callback */
	assert_int_equal(tj_loop_run_once(loop, 10, NULL), 0);
	assert_int_equal(c.io, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(tj_loop_run_once(loop, 1000, NULL), 1);
	assert_int_equal(c.io, 1);
	tj_loop_unwatch(loop, p[0]);
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_int_equal(tj_loop_run_once(loop, 10, NULL), 0);
	assert_int_equal(c.io, 1);
	close(p[0]);
	close(p[1]);
	tj_loop_free(loop);
}

/* A watched fd closed without unwatching, its number reused: watching it again works. */
static void fd_reused_after_close(void **state)
{
	tj_loop *loop = NULL;
	struct counts c = { 0 };
	int p[2], q[2];

	(void)state;
	assert_int_equal(tj_loop_new(&loop, NULL), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(tj_loop_watch(loop, p[0], TJ_LOOP_IN, on_io, &c, NULL), 0);
	close(p[0]);
	close(p[1]);
	assert_int_equal(pipe(q), 0);
	assert_int_equal(q[0], p[0]); /* the lowest free numbers come back */
	assert_int_equal(tj_loop_watch(loop, q[0], TJ_LOOP_IN, on_io, &c, NULL), 0);
	assert_int_equal(write(q[1], "z", 1), 1);
	assert_int_equal(tj_loop_run_once(loop, 1000, NULL), 1);
	assert_int_equal(c.io, 1);
	tj_loop_unwatch(loop, q[0]);
	close(q[0]);
	close(q[1]);
	tj_loop_free(loop);
}

static void note(struct counts *c, char ch)
{
	if (c->norder < 7)
		c->order[c->norder++] = ch;
}

static void on_a(tj_loop *loop, void *data)
{
	struct counts *c = data;

	(void)loop;
	c->timer_a++;
	note(c, 'a');
}

static void on_b(tj_loop *loop, void *data)
{
	struct counts *c = data;

	c->timer_b++;
	note(c, 'b');
	tj_loop_stop(loop);
}

static void timers(void **state)
{
	tj_loop *loop = NULL;
	tj_timer a = { 0 }, b = { 0 }, never = { 0 };
	struct counts c = { 0 };
	uint64_t t0;

	(void)state;
	assert_int_equal(tj_loop_new(&loop, NULL), 0);
	t0 = tj_monotonic_ms();
	tj_loop_timer_arm(loop, &b, 60, on_b, &c);
	tj_loop_timer_arm(loop, &a, 20, on_a, &c);
	tj_loop_timer_arm(loop, &never, 30, on_a, &c);
	tj_loop_timer_disarm(loop, &never);
	tj_loop_timer_disarm(loop, &never); /* idempotent */
	assert_int_equal(tj_loop_run(loop, NULL), 0);
	assert_true(tj_monotonic_ms() - t0 >= 60);
	assert_int_equal(c.timer_a, 1); /* the disarmed one never ran */
	assert_int_equal(c.timer_b, 1);
	assert_string_equal(c.order, "ab");
	assert_false(a.armed);
	assert_false(b.armed);
	tj_loop_free(loop);
}

static void on_sig(tj_loop *loop, int signo, void *data)
{
	struct counts *c = data;

	c->sig++;
	c->last_signo = signo;
	tj_loop_stop(loop);
}

static void signals_as_events(void **state)
{
	tj_loop *loop = NULL;
	struct counts c = { 0 };
	const int sigs[] = { SIGUSR1, SIGHUP };

	(void)state;
	assert_int_equal(tj_loop_new(&loop, NULL), 0);
	assert_int_equal(tj_loop_signals(loop, sigs, 2, on_sig, &c, NULL), 0);
	assert_int_equal(raise(SIGUSR1), 0); /* blocked: waits in the signalfd */
	assert_int_equal(tj_loop_run(loop, NULL), 0);
	assert_int_equal(c.sig, 1);
	assert_int_equal(c.last_signo, SIGUSR1);
	tj_loop_free(loop); /* restores the mask */
}

static size_t sink(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	*(size_t *)userdata += size * nmemb;
	return size * nmemb;
}

static void on_done(tj_curlm *m, CURL *easy, CURLcode result, void *data)
{
	struct counts *c = data;

	(void)m;
	(void)easy;
	c->done++;
	c->result = result;
}

static void curl_multi_on_loop(void **state)
{
	tj_loop *loop = NULL;
	tj_curlm *m = NULL;
	struct counts c = { 0 };
	char path[] = "/tmp/tj-loop-XXXXXX", url[64];
	size_t got = 0;
	CURL *easy;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello, loop", 11), 11);
	close(fd);
	snprintf(url, sizeof url, "file://%s", path);

	assert_int_equal(tj_loop_new(&loop, NULL), 0);
	assert_int_equal(tj_curlm_new(&m, loop, on_done, &c, NULL), 0);
	easy = curl_easy_init();
	assert_non_null(easy);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &got);
	assert_int_equal(tj_curlm_add(m, easy, NULL), 0);
	for (int i = 0; i < 100 && c.done == 0; i++)
		assert_true(tj_loop_run_once(loop, 100, NULL) >= 0);
	assert_int_equal(c.done, 1);
	assert_int_equal(c.result, CURLE_OK);
	assert_int_equal(got, 11);
	curl_easy_cleanup(easy);
	tj_curlm_free(m);
	tj_loop_free(loop);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fd_readiness),
		cmocka_unit_test(fd_reused_after_close),
		cmocka_unit_test(timers),
		cmocka_unit_test(signals_as_events),
		cmocka_unit_test(curl_multi_on_loop),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
