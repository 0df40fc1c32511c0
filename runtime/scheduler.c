/* scheduler.c - the timer thread; see scheduler.h. */
#include "runtime/scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"

struct baton_scheduler {
    baton_engine *e;
    baton_scheduler_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool kicked;
    int64_t wake_at; /* engine-clock ms of the planned wake-up */
    _Atomic uint64_t fired;
};

static void deadline(int64_t engine_now, int64_t wake_at, struct timespec *ts) {
    /* the engine clock is wall time in ms; condition variables wait on CLOCK_REALTIME */
    clock_gettime(CLOCK_REALTIME, ts);
    int64_t delta = wake_at - engine_now;
    if (delta < 0)
        delta = 0;
    ts->tv_sec += delta / 1000;
    ts->tv_nsec += (delta % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *run(void *arg) {
    baton_scheduler *s = arg;
    int64_t next_periodic = s->o.period_ms ? baton_engine_now(s->e) + s->o.period_ms : INT64_MAX;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        baton_error err;
        baton_error_clear(&err);
        uint32_t fired = 0;
        baton_status st = baton_engine_fire_timers(s->e, &fired, &err);
        atomic_fetch_add(&s->fired, fired);
        int64_t now = baton_engine_now(s->e);
        if (s->o.periodic && now >= next_periodic) {
            s->o.periodic(s->o.periodic_cookie, s->e);
            next_periodic = now + s->o.period_ms;
        }
        int64_t wake;
        if (st) {
            baton_log(BATON_LOG_WARN, "msg=\"timers not fired\" error=\"%s\"", err.message);
            wake = now + s->o.retry_ms;
        } else {
            wake = baton_engine_next_timer(s->e);
            if (wake > now + s->o.max_sleep_ms)
                wake = now + s->o.max_sleep_ms;
        }
        if (wake > next_periodic)
            wake = next_periodic;
        pthread_mutex_lock(&s->mu);
        s->wake_at = wake;
        while (!s->stop && !s->kicked) {
            struct timespec ts;
            deadline(baton_engine_now(s->e), s->wake_at, &ts);
            if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0 &&
                baton_engine_now(s->e) >= s->wake_at)
                break;
        }
        s->kicked = false;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

baton_status baton_scheduler_start(baton_engine *e, const baton_scheduler_opts *opts,
                                   baton_scheduler **out, baton_error *err) {
    baton_scheduler *s = baton_calloc(1, sizeof *s);
    if (!s)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    s->e = e;
    if (opts)
        s->o = *opts;
    if (s->o.max_sleep_ms <= 0)
        s->o.max_sleep_ms = 60000;
    if (s->o.retry_ms <= 0)
        s->o.retry_ms = 1000;
    s->wake_at = INT64_MAX;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, run, s)) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        baton_free(s);
        return baton_error_set(err, BATON_INTERNAL, "cannot start the scheduler thread");
    }
    *out = s;
    return BATON_OK;
}

void baton_scheduler_stop(baton_scheduler *s) {
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    baton_free(s);
}

void baton_scheduler_notify(baton_scheduler *s, const baton_commit_info *info) {
    if (!s || info->min_timer_due == INT64_MAX)
        return;
    pthread_mutex_lock(&s->mu);
    if (info->min_timer_due < s->wake_at) {
        s->kicked = true;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

uint64_t baton_scheduler_fired(const baton_scheduler *s) {
    return atomic_load(&((baton_scheduler *)s)->fired);
}
