/*
 * The event loop of include/traject/loop.h on epoll + signalfd, and the
 * libcurl multi socket adapter. Timers are few (schedule, curl, watchdog,
 * reconnect), so an unsorted list is simpler and fast enough.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "traject/loop.h"
#include "util.h"

struct watch {
	tj_io_cb cb;
	void *data;
	unsigned events;
};

struct tj_loop {
	int epfd;
	int sigfd;
	sigset_t sigmask, oldmask;
	tj_signal_cb sig_cb;
	void *sig_data;
	struct watch *watches; /* indexed by fd */
	int nwatches;
	tj_timer *timers;
	bool stop;
};

uint64_t tj_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tj_loop_new(tj_loop **out, tj_err *err)
{
	tj_loop *loop = calloc(1, sizeof *loop);

	if (!loop)
		return tj_fail(err, TJ_ENOMEM, "out of memory");
	loop->sigfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return tj_fail(err, TJ_EIO, "epoll_create1: %s", strerror(errno));
	}
	*out = loop;
	return 0;
}

void tj_loop_free(tj_loop *loop)
{
	if (!loop)
		return;
	if (loop->sigfd >= 0) {
		close(loop->sigfd);
		sigprocmask(SIG_SETMASK, &loop->oldmask, NULL);
	}
	close(loop->epfd);
	free(loop->watches);
	free(loop);
}

static uint32_t ep_events(unsigned events)
{
	return (events & TJ_LOOP_IN ? (uint32_t)EPOLLIN : 0u) | (events & TJ_LOOP_OUT ? (uint32_t)EPOLLOUT : 0u);
}

int tj_loop_watch(tj_loop *loop, int fd, unsigned events, tj_io_cb cb, void *data, tj_err *err)
{
	struct epoll_event ev = { .events = ep_events(events), .data.fd = fd };
	int op;

	if (fd < 0)
		return tj_fail(err, TJ_EUSAGE, "cannot watch fd %d", fd);
	if (events == 0) {
		tj_loop_unwatch(loop, fd);
		return 0;
	}
	if (fd >= loop->nwatches) {
		int n = fd + 16;
		struct watch *w = realloc(loop->watches, (size_t)n * sizeof *w);

		if (!w)
			return tj_fail(err, TJ_ENOMEM, "out of memory");
		memset(w + loop->nwatches, 0, (size_t)(n - loop->nwatches) * sizeof *w);
		loop->watches = w;
		loop->nwatches = n;
	}
	op = loop->watches[fd].cb ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	/*
	 * A watched fd that its owner closed has left the epoll set by itself,
	 * and the number may already be a new socket (libpq closes and reopens
	 * while it tries the addresses of a host): MOD fails with ENOENT, so
	 * add it; the other way round, ADD finds it present with EEXIST.
	 */
	if (epoll_ctl(loop->epfd, op, fd, &ev) < 0 &&
	    !((errno == ENOENT && op == EPOLL_CTL_MOD &&
	       epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) ||
	      (errno == EEXIST && op == EPOLL_CTL_ADD &&
	       epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)))
		return tj_fail(err, TJ_EIO, "epoll_ctl(fd %d): %s", fd, strerror(errno));
	loop->watches[fd] = (struct watch){ cb, data, events };
	return 0;
}

void tj_loop_unwatch(tj_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->nwatches || !loop->watches[fd].cb)
		return;
	/* the fd may already be closed: ENOENT/EBADF are fine */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(&loop->watches[fd], 0, sizeof loop->watches[fd]);
}

void tj_loop_timer_disarm(tj_loop *loop, tj_timer *t)
{
	for (tj_timer **pp = &loop->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

void tj_loop_timer_arm(tj_loop *loop, tj_timer *t, uint64_t delay_ms, tj_timer_cb cb, void *data)
{
	tj_loop_timer_disarm(loop, t);
	t->due_ms = tj_monotonic_ms() + delay_ms;
	t->cb = cb;
	t->data = data;
	t->armed = true;
	t->next = loop->timers;
	loop->timers = t;
}

static void on_signal(tj_loop *loop, int fd, unsigned events, void *data)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)data;
	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (loop->sig_cb)
			loop->sig_cb(loop, (int)si.ssi_signo, loop->sig_data);
	}
}

int tj_loop_signals(tj_loop *loop, const int *signals, int n, tj_signal_cb cb, void *data,
		    tj_err *err)
{
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (loop->sigfd >= 0)
		return tj_fail(err, TJ_EUSAGE, "signals are already set up for this loop");
	if (sigprocmask(SIG_BLOCK, &set, &loop->oldmask) < 0)
		return tj_fail(err, TJ_EIO, "sigprocmask: %s", strerror(errno));
	loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (loop->sigfd < 0) {
		int e = errno;

		sigprocmask(SIG_SETMASK, &loop->oldmask, NULL);
		return tj_fail(err, TJ_EIO, "signalfd: %s", strerror(e));
	}
	loop->sigmask = set;
	loop->sig_cb = cb;
	loop->sig_data = data;
	return tj_loop_watch(loop, loop->sigfd, TJ_LOOP_IN, on_signal, NULL, err);
}

/* Run every timer that is due; a callback may re-arm or disarm any timer. */
static int run_timers(tj_loop *loop)
{
	uint64_t now = tj_monotonic_ms();
	int ran = 0;
	bool again = true;

	while (again) {
		again = false;
		for (tj_timer *t = loop->timers; t; t = t->next) {
			if (t->due_ms <= now) {
				tj_loop_timer_disarm(loop, t);
				t->cb(loop, t->data);
				ran++;
				again = true; /* the list may have changed */
				break;
			}
		}
	}
	return ran;
}

int tj_loop_run_once(tj_loop *loop, int max_wait_ms, tj_err *err)
{
	struct epoll_event evs[32];
	uint64_t now = tj_monotonic_ms();
	int64_t wait = max_wait_ms < 0 ? -1 : max_wait_ms;
	int n, ran = 0;

	for (tj_timer *t = loop->timers; t; t = t->next) {
		int64_t left = t->due_ms > now ? (int64_t)(t->due_ms - now) : 0;

		if (wait < 0 || left < wait)
			wait = left;
	}
	if (wait > 3600000)
		wait = 3600000;
	n = epoll_wait(loop->epfd, evs, (int)TJ_ARRAY_SIZE(evs), (int)wait);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return tj_fail(err, TJ_EIO, "epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		unsigned events = 0;

		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			events |= TJ_LOOP_IN;
		if (evs[i].events & (EPOLLOUT | EPOLLERR))
			events |= TJ_LOOP_OUT;
		/* an earlier callback of this round may have unwatched it */
		if (fd < loop->nwatches && loop->watches[fd].cb) {
			struct watch w = loop->watches[fd];

			w.cb(loop, fd, events, w.data);
			ran++;
		}
	}
	return ran + run_timers(loop);
}

int tj_loop_run(tj_loop *loop, tj_err *err)
{
	int r;

	loop->stop = false;
	while (!loop->stop) {
		if ((r = tj_loop_run_once(loop, -1, err)) < 0)
			return r;
	}
	return 0;
}

void tj_loop_stop(tj_loop *loop)
{
	loop->stop = true;
}

bool tj_loop_stopped(const tj_loop *loop)
{
	return loop->stop;
}

/* ---- libcurl multi ------------------------------------------------- */

struct tj_curlm {
	tj_loop *loop;
	CURLM *multi;
	tj_timer timer;
	tj_curl_done_cb done;
	void *data;
	int running;
};

static void drain_done(tj_curlm *m)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg == CURLMSG_DONE) {
			CURL *easy = msg->easy_handle;
			CURLcode result = msg->data.result;

			curl_multi_remove_handle(m->multi, easy);
			m->done(m, easy, result, m->data);
		}
	}
}

static void on_curl_timer(tj_loop *loop, void *data)
{
	tj_curlm *m = data;

	(void)loop;
	curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &m->running);
	drain_done(m);
}

static int timer_function(CURLM *multi, long timeout_ms, void *userp)
{
	tj_curlm *m = userp;

	(void)multi;
	if (timeout_ms < 0)
		tj_loop_timer_disarm(m->loop, &m->timer);
	else
		tj_loop_timer_arm(m->loop, &m->timer, (uint64_t)timeout_ms, on_curl_timer, m);
	return 0;
}

static void on_curl_socket(tj_loop *loop, int fd, unsigned events, void *data)
{
	tj_curlm *m = data;
	int action = (events & TJ_LOOP_IN ? CURL_CSELECT_IN : 0) |
		     (events & TJ_LOOP_OUT ? CURL_CSELECT_OUT : 0);

	(void)loop;
	curl_multi_socket_action(m->multi, fd, action, &m->running);
	drain_done(m);
}

static int socket_function(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	tj_curlm *m = userp;
	unsigned events = 0;

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		tj_loop_unwatch(m->loop, s);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= TJ_LOOP_IN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= TJ_LOOP_OUT;
	return tj_loop_watch(m->loop, s, events, on_curl_socket, m, NULL) < 0 ? -1 : 0;
}

int tj_curlm_new(tj_curlm **out, tj_loop *loop, tj_curl_done_cb done, void *data, tj_err *err)
{
	tj_curlm *m = calloc(1, sizeof *m);

	if (!m || !(m->multi = curl_multi_init())) {
		free(m);
		return tj_fail(err, TJ_ENOMEM, "out of memory (curl_multi_init)");
	}
	m->loop = loop;
	m->done = done;
	m->data = data;
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_function);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_function);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	*out = m;
	return 0;
}

void tj_curlm_free(tj_curlm *m)
{
	if (!m)
		return;
	/* curl_multi_cleanup leaves easy handles to their owners */
	curl_multi_cleanup(m->multi);
	/* after the cleanup: it may still call timer_function, which would re-arm
	 * a timer inside the memory freed below */
	tj_loop_timer_disarm(m->loop, &m->timer);
	free(m);
}

CURLM *tj_curlm_handle(tj_curlm *m)
{
	return m->multi;
}

int tj_curlm_add(tj_curlm *m, CURL *easy, tj_err *err)
{
	CURLMcode rc = curl_multi_add_handle(m->multi, easy);

	if (rc != CURLM_OK)
		return tj_fail(err, TJ_ENET, "curl_multi_add_handle: %s", curl_multi_strerror(rc));
	m->running++;
	return 0;
}

void tj_curlm_remove(tj_curlm *m, CURL *easy)
{
	curl_multi_remove_handle(m->multi, easy);
}

int tj_curlm_running(const tj_curlm *m)
{
	return m->running;
}
