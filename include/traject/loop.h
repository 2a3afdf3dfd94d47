/*
 * The daemon's one single-threaded event loop (epoll): file descriptors
 * (the PostgreSQL socket, libcurl's sockets), caller-owned one-shot timers
 * on the monotonic clock, and signals read as ordinary events through
 * signalfd -- so a "signal handler" here may do anything. A small adapter
 * drives a libcurl multi handle through CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION (as curl's ephiperfifo.c example does).
 */
#ifndef TRAJECT_LOOP_H
#define TRAJECT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "traject/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tj_loop tj_loop;

#define TJ_LOOP_IN 1u
#define TJ_LOOP_OUT 2u

typedef void (*tj_io_cb)(tj_loop *loop, int fd, unsigned events, void *data);
typedef void (*tj_timer_cb)(tj_loop *loop, void *data);
typedef void (*tj_signal_cb)(tj_loop *loop, int signo, void *data);

/* A one-shot timer owned by the caller (embed it anywhere); zero-initialise it. */
typedef struct tj_timer {
	uint64_t due_ms;
	tj_timer_cb cb;
	void *data;
	bool armed;
	struct tj_timer *next;
} tj_timer;

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t tj_monotonic_ms(void);

int tj_loop_new(tj_loop **out, tj_err *err);
/* Closes the signalfd and restores the signal mask; fds watched stay open. */
void tj_loop_free(tj_loop *loop);

/* Watch fd for events (TJ_LOOP_IN|TJ_LOOP_OUT); again to change; 0 events unwatches. */
int tj_loop_watch(tj_loop *loop, int fd, unsigned events, tj_io_cb cb, void *data, tj_err *err);
void tj_loop_unwatch(tj_loop *loop, int fd);

/* (Re)arm t to fire once after delay_ms; disarm is idempotent. */
void tj_loop_timer_arm(tj_loop *loop, tj_timer *t, uint64_t delay_ms, tj_timer_cb cb, void *data);
void tj_loop_timer_disarm(tj_loop *loop, tj_timer *t);

/* Block the given signals and deliver them through cb from the loop. */
int tj_loop_signals(tj_loop *loop, const int *signals, int n, tj_signal_cb cb, void *data,
		    tj_err *err);

/*
 * Wait for and dispatch events once: at most until the next timer, and at
 * most max_wait_ms (< 0: no limit besides timers). Returns the number of
 * callbacks run, or a negative code.
 */
int tj_loop_run_once(tj_loop *loop, int max_wait_ms, tj_err *err);

/* Run until tj_loop_stop() is called from a callback. */
int tj_loop_run(tj_loop *loop, tj_err *err);
void tj_loop_stop(tj_loop *loop);
bool tj_loop_stopped(const tj_loop *loop);

/* ---- libcurl multi on the loop ------------------------------------- */

typedef struct tj_curlm tj_curlm;
/* Called once per finished transfer (drained from curl_multi_info_read). */
typedef void (*tj_curl_done_cb)(tj_curlm *m, CURL *easy, CURLcode result, void *data);

int tj_curlm_new(tj_curlm **out, tj_loop *loop, tj_curl_done_cb done, void *data, tj_err *err);
/* Frees the multi handle: remove running transfers (tj_curlm_remove) first. */
void tj_curlm_free(tj_curlm *m);
CURLM *tj_curlm_handle(tj_curlm *m);
/* Start a transfer: the easy handle stays owned by the caller. */
int tj_curlm_add(tj_curlm *m, CURL *easy, tj_err *err);
/* Abandon a running transfer (no done callback). */
void tj_curlm_remove(tj_curlm *m, CURL *easy);
int tj_curlm_running(const tj_curlm *m);

#ifdef __cplusplus
}
#endif
#endif
