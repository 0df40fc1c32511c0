/*
 * scheduler.h - fires due timers in transactions, on its own thread.
 *
 * It sleeps until the next due time (no fixed polling interval) and is woken
 * when a commit creates an earlier timer (feed baton_scheduler_notify from
 * the engine's commit hook). After a restart, missed timers are simply due:
 * each fires once. With several nodes sharing one PostgreSQL database a
 * node cannot hear the others' commits, so the sleep is capped (max_sleep_ms).
 *
 *   STOPPED --start()--> SLEEPING --due or notify()--> FIRING --> SLEEPING
 *                            \-------------stop()------------> STOPPED
 */
#ifndef BATON_RUNTIME_SCHEDULER_H
#define BATON_RUNTIME_SCHEDULER_H

#include "runtime/engine.h"

typedef struct baton_scheduler baton_scheduler;

typedef struct baton_scheduler_opts {
    int64_t max_sleep_ms; /* cap on one sleep (default 60000; several nodes: ~1000) */
    int64_t retry_ms;     /* wait after a failed firing, e.g. store unavailable (default 1000) */
    /* optional periodic work on the scheduler thread (retention sweeps, ...) */
    void (*periodic)(void *cookie, baton_engine *e);
    void *periodic_cookie;
    int64_t period_ms; /* how often `periodic` runs (0 = never) */
} baton_scheduler_opts;

baton_status baton_scheduler_start(baton_engine *e, const baton_scheduler_opts *opts,
                                   baton_scheduler **out, baton_error *err);
/* Stop the thread (waits for a firing in progress) and free; NULL is fine. */
void baton_scheduler_stop(baton_scheduler *s);
/* Commit hook input: wake if a timer became due earlier than the planned wake-up. */
void baton_scheduler_notify(baton_scheduler *s, const baton_commit_info *info);
/* Timers fired since start (for metrics and tests). */
uint64_t baton_scheduler_fired(const baton_scheduler *s);

#endif
