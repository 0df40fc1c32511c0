/*
 * longpoll.c - job activations that wait for work without holding a thread:
 * a request that found no job is suspended in libmicrohttpd (its worker
 * thread goes on serving others) and resumed when a job it wants may be
 * there; its handler then runs again and tries the activation once more.
 *
 *   handler: gen = api_lp_gen(); activate --jobs--> answer
 *                                    \--none--> api_lp_park(gen)
 *                                                 |--gen moved / stopping--> try again / answer
 *                                                 \--PARKED (suspended)
 *   PARKED --api_lp_wake (commit hook: a job of its type was created; unlock;
 *            resolve) / a hint falls due (lock expiry, backoff end) / its
 *            recheck time / its deadline / api_lp_shutdown--> resumed: handler runs again
 *
 * Job types hash into API_LP_SLOTS slots, each with a generation counter
 * that every wake-up of the slot bumps. A handler reads the generation
 * before it activates and parks only if it has not moved since (checked
 * under lp_mu, which every waker takes): a job committed between the
 * activation and the parking is never missed. A slot shared by two types
 * only costs a useless activation now and then.
 *
 * What the commit hook cannot announce is a time: a lock that expires, a
 * retry backoff that ends. Those this server learns of (it handed out the
 * lock, it took the failure) are kept per slot as hints, the earliest
 * API_LP_HINTS of them, rounded to 50 ms; the rest (other nodes, backoffs
 * from before a restart, hints that did not fit) are found by each parked
 * request's own recheck, every job_poll_recheck_ms. Idle, the thread sleeps
 * until the earliest of those times: no polling loop.
 *
 * Lock order: lp_mu, then libmicrohttpd's own locks (suspend and resume
 * are called under lp_mu so that a request is never resumed before it was
 * suspended). Nothing here calls the engine.
 */
#include <microhttpd.h>
#include <string.h>

#include "api/api_int.h"

#define HINT_ROUND_MS 50

static uint32_t slot_of(const char *type) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)type; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % API_LP_SLOTS;
}

uint64_t api_lp_mask(const char *type) {
    return (uint64_t)1 << slot_of(type);
}

uint64_t api_lp_gen(baton_server *s, uint64_t mask) {
    uint64_t sum = 0;
    for (uint32_t i = 0; i < API_LP_SLOTS; i++)
        if (mask >> i & 1)
            sum += atomic_load(&s->lp_gen[i]);
    return sum;
}

bool api_lp_stopping(baton_server *s) {
    pthread_mutex_lock(&s->lp_mu);
    bool stop = s->lp_stop;
    pthread_mutex_unlock(&s->lp_mu);
    return stop;
}

/* Under lp_mu: take `r` off the list and let libmicrohttpd run its handler again. */
static void resume(baton_server *s, api_req *r) {
    if (r->lp_prev)
        r->lp_prev->lp_next = r->lp_next;
    else
        s->lp_head = r->lp_next;
    if (r->lp_next)
        r->lp_next->lp_prev = r->lp_prev;
    r->lp_prev = r->lp_next = NULL;
    r->parked = false;
    s->lp_parked--;
    MHD_resume_connection(r->conn);
}

/* Under lp_mu: bump the slots' generations and resume the requests waiting on them. */
static void wake_mask(baton_server *s, uint64_t mask) {
    for (uint32_t i = 0; i < API_LP_SLOTS; i++)
        if (mask >> i & 1)
            atomic_fetch_add(&s->lp_gen[i], 1);
    for (api_req *r = s->lp_head, *next; r; r = next) {
        next = r->lp_next;
        if (r->lp_mask & mask)
            resume(s, r);
    }
}

bool api_lp_park(api_req *r, uint64_t mask, uint64_t gen_seen, int64_t deadline_us) {
    baton_server *s = r->srv;
    pthread_mutex_lock(&s->lp_mu);
    if (s->lp_stop || api_lp_gen(s, mask) != gen_seen) {
        pthread_mutex_unlock(&s->lp_mu);
        return false;
    }
    int64_t now = api_now_us();
    r->lp_mask = mask;
    r->lp_deadline_us = deadline_us;
    r->lp_recheck_us = now + (int64_t)s->o.job_poll_recheck_ms * 1000;
    r->parked = true;
    r->lp_prev = NULL;
    r->lp_next = s->lp_head;
    if (s->lp_head)
        s->lp_head->lp_prev = r;
    s->lp_head = r;
    s->lp_parked++;
    MHD_suspend_connection(r->conn);
    pthread_cond_signal(&s->lp_cv); /* the thread may need an earlier wake-up */
    pthread_mutex_unlock(&s->lp_mu);
    return true;
}

void api_lp_wake(baton_server *s, const char *type) {
    pthread_mutex_lock(&s->lp_mu);
    wake_mask(s, api_lp_mask(type));
    pthread_mutex_unlock(&s->lp_mu);
}

void api_lp_hint(baton_server *s, const char *type, int64_t at_ms) {
    uint32_t k = slot_of(type);
    at_ms = (at_ms + HINT_ROUND_MS - 1) / HINT_ROUND_MS * HINT_ROUND_MS;
    pthread_mutex_lock(&s->lp_mu);
    int64_t *h = s->lp_hint[k];
    uint32_t n = s->lp_n_hint[k], pos = n;
    while (pos > 0 && h[pos - 1] > at_ms)
        pos--;
    if (!(pos > 0 && h[pos - 1] == at_ms) && pos < API_LP_HINTS) {
        /* keep the earliest ones: a hint pushed out is found by a recheck */
        if (n == API_LP_HINTS)
            n--;
        memmove(h + pos + 1, h + pos, (n - pos) * sizeof *h);
        h[pos] = at_ms;
        s->lp_n_hint[k] = (uint8_t)(n + 1);
        pthread_cond_signal(&s->lp_cv);
    }
    pthread_mutex_unlock(&s->lp_mu);
}

void baton_server_notify(baton_server *s, const baton_commit_info *info) {
    if (!s || !info->n_job_types)
        return;
    uint64_t mask = 0;
    for (uint32_t i = 0; i < info->n_job_types; i++)
        mask |= api_lp_mask(info->job_types[i]);
    pthread_mutex_lock(&s->lp_mu);
    wake_mask(s, mask);
    pthread_mutex_unlock(&s->lp_mu);
}

static void add_ms(struct timespec *ts, int64_t ms) {
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *run(void *arg) {
    baton_server *s = arg;
    pthread_mutex_lock(&s->lp_mu);
    while (!s->lp_stop) {
        int64_t now_us = api_now_us();
        int64_t now_ms = baton_engine_now(s->engine);
        /* hints that fell due: their slots' jobs may be available again */
        uint64_t due = 0;
        int64_t next_ms = INT64_MAX;
        for (uint32_t k = 0; k < API_LP_SLOTS; k++) {
            int64_t *h = s->lp_hint[k];
            uint32_t n = s->lp_n_hint[k], gone = 0;
            while (gone < n && h[gone] <= now_ms)
                gone++;
            if (gone) {
                due |= (uint64_t)1 << k;
                memmove(h, h + gone, (n - gone) * sizeof *h);
                s->lp_n_hint[k] = (uint8_t)(n - gone);
            }
            if (s->lp_n_hint[k] && h[0] < next_ms)
                next_ms = h[0];
        }
        if (due)
            wake_mask(s, due);
        /* deadlines and rechecks */
        int64_t next_us = INT64_MAX;
        for (api_req *r = s->lp_head, *next; r; r = next) {
            next = r->lp_next;
            int64_t t = r->lp_deadline_us < r->lp_recheck_us ? r->lp_deadline_us : r->lp_recheck_us;
            if (t <= now_us)
                resume(s, r);
            else if (t < next_us)
                next_us = t;
        }
        /* sleep until the earliest of them (hints only matter to parked requests) */
        int64_t wait_ms = INT64_MAX;
        if (next_us != INT64_MAX)
            wait_ms = (next_us - now_us + 999) / 1000;
        if (s->lp_parked && next_ms != INT64_MAX && next_ms - now_ms < wait_ms)
            wait_ms = next_ms - now_ms;
        if (wait_ms == INT64_MAX) {
            pthread_cond_wait(&s->lp_cv, &s->lp_mu);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            add_ms(&ts, wait_ms < 1 ? 1 : wait_ms);
            pthread_cond_timedwait(&s->lp_cv, &s->lp_mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->lp_mu);
    return NULL;
}

baton_status api_lp_start(baton_server *s, baton_error *err) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->lp_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->lp_mu, NULL);
    if (pthread_create(&s->lp_thread, NULL, run, s)) {
        pthread_cond_destroy(&s->lp_cv);
        pthread_mutex_destroy(&s->lp_mu);
        return baton_error_set(err, BATON_INTERNAL, "cannot start the long-polling thread");
    }
    s->lp_running = true;
    return BATON_OK;
}

void api_lp_shutdown(baton_server *s) {
    if (!s->lp_running)
        return;
    pthread_mutex_lock(&s->lp_mu);
    s->lp_stop = true;
    while (s->lp_head)
        resume(s, s->lp_head);
    pthread_cond_signal(&s->lp_cv);
    pthread_mutex_unlock(&s->lp_mu);
}

void api_lp_stop(baton_server *s) {
    if (!s->lp_running)
        return;
    api_lp_shutdown(s);
    pthread_join(s->lp_thread, NULL);
    pthread_cond_destroy(&s->lp_cv);
    pthread_mutex_destroy(&s->lp_mu);
    s->lp_running = false;
}
