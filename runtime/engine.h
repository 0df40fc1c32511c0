/*
 * engine.h - the runtime: deployments, the loop that applies one input
 * event per transaction (load instance, step, write records and state,
 * commit), and the delivery of events between instances (call activities,
 * signals, messages), timers and jobs. It sits on a store (persistence/)
 * and below the HTTP API and the CLI, which both drive it.
 *
 *   command (start, complete, correlate, signal, fire timers, ...)
 *     -> begin; load; baton_step(); persist records + state + rows + outbox; commit
 *     -> settle: each outbox event (start child, notify parent, broadcast
 *        signal, publish message, cancel child) in its own transaction,
 *        until the outbox is empty (when the command wrote to the outbox,
 *        or an earlier delivery failed; and when the engine opens).
 *
 * Side effects of a step that concern other instances are written to the
 * store's outbox in the step's own transaction and applied afterwards, so
 * a crash between the two loses nothing and doubles nothing. The engine is
 * safe to call from several threads: each call borrows one of the engine's
 * sessions (a store connection and a stepper) for its transactions, so
 * commands run in parallel as far as the store allows.
 */
#ifndef BATON_RUNTIME_ENGINE_H
#define BATON_RUNTIME_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/diag.h"
#include "common/error.h"
#include "interpreter/instance.h"
#include "interpreter/step.h"
#include "models/model.h"
#include "persistence/store.h"

typedef struct baton_engine baton_engine;

typedef int64_t (*baton_clock_fn)(void *cookie);

typedef struct baton_engine_opts {
    baton_store *store;    /* a store handle (not owned): one session; or ... */
    const char *store_url; /* ... a URL the engine opens once per session */
    unsigned sessions;     /* parallel transactions with store_url (default 1) */
    baton_clock_fn clock;  /* NULL = the wall clock (CLOCK_REALTIME) */
    void *clock_cookie;
    baton_wait_hook wait_hook; /* optional (test harnesses) */
    void *wait_hook_cookie;
    bool unexecutable_as_warnings; /* deploy diagrams whose unexecutable elements are stubbed */
    const cJSON *timer_start_variables; /* variables for instances started by start timers
                                           (test harnesses; borrowed for the engine's life) */
    bool skip_settle;                   /* do not deliver the outbox at open: audit tools that must
                                           not write (baton history, baton replay) */
} baton_engine_opts;

baton_status baton_engine_open(const baton_engine_opts *opts, baton_engine **out, baton_error *err);
void baton_engine_close(baton_engine *e);
int64_t baton_engine_now(baton_engine *e);
/*
 * The first session's store, for single-session engines the caller drives
 * alone (tests, tools): with other threads at work the engine may replace
 * a failed handle at any time.
 */
baton_store *baton_engine_store(baton_engine *e);
/* The store's kind ("memory", "sqlite", "postgresql"): safe from any thread. */
const char *baton_engine_store_name(const baton_engine *e);

/* ---- deployments ---- */

typedef struct baton_deploy_result {
    int64_t deployment;
    bool duplicate;       /* identical XML was deployed before: no new versions */
    uint32_t n_processes; /* executable processes and their versions */
    struct {
        char id[128];
        int32_t version;
    } processes[16];
} baton_deploy_result;

/* Validate and deploy; validation errors go to diags (BATON_MODEL). */
baton_status baton_engine_deploy(baton_engine *e, const char *name, const char *xml, size_t len,
                                 baton_diags *diags, baton_deploy_result *out, baton_error *err);
/* The model holding (process id, version); version 0 = latest. Borrowed. */
baton_status baton_engine_definition(baton_engine *e, const char *process_id, int32_t version,
                                     baton_model **model_out, int32_t *version_out,
                                     baton_error *err);
/* The model of a deployment (borrowed), or NULL. */
baton_model *baton_engine_deployment_model(baton_engine *e, int64_t deployment);

/* ---- commands: each one transaction, then settled ---- */

baton_status baton_engine_start(baton_engine *e, const char *process_id, int32_t version,
                                const cJSON *variables, const char *business_key,
                                int64_t *instance_out, baton_error *err);
/* Start at a given start event (message/signal/timer start, tests). */
baton_status baton_engine_start_at(baton_engine *e, const char *process_id, int32_t version,
                                   const char *start_event, const cJSON *variables,
                                   const char *business_key, int64_t *instance_out,
                                   baton_error *err);

/* Apply one input to one instance (complete a job or task, fail, throw, cancel, ...). */
baton_status baton_engine_apply(baton_engine *e, int64_t instance, const baton_input *in,
                                baton_error *err);

typedef struct baton_correlation {
    int kind; /* 0 none, 1 delivered to a waiting instance, 2 started an instance,
                 3 buffered */
    int64_t instance;
} baton_correlation;

/*
 * Correlate a message: to the oldest matching subscription (name and
 * correlation key; `only_instance` != 0 limits it to that instance, as
 * Camunda 7 correlates by execution), else to a message start event, else
 * buffer it for ttl_ms (0 = drop). A message_id seen in the buffer before
 * is a duplicate: BATON_CONFLICT, nothing changes.
 */
baton_status baton_engine_correlate(baton_engine *e, const char *name, const char *correlation,
                                    const cJSON *variables, const char *message_id, int64_t ttl_ms,
                                    int64_t only_instance, baton_correlation *out,
                                    baton_error *err);

/* Broadcast a signal to every subscription and signal start event. */
baton_status baton_engine_signal(baton_engine *e, const char *name, const cJSON *variables,
                                 uint32_t *delivered_out, baton_error *err);

/* Fire every timer due at or before now, earliest first, each settled. */
baton_status baton_engine_fire_timers(baton_engine *e, uint32_t *fired_out, baton_error *err);
/* Earliest due timer (INT64_MAX when none). */
int64_t baton_engine_next_timer(baton_engine *e);

/* Deliver pending outbox events (done by the commands that write to the outbox and at
   open; nodes sharing a database call it now and then for events another node left). */
baton_status baton_engine_settle(baton_engine *e, baton_error *err);

/*
 * Retention, for a periodic background job: remove up to `batch` (0 = 100)
 * instances that ended more than max_age_ms ago, with their history, and up
 * to `batch` expired buffered messages, in one short transaction of its own;
 * max_age_ms < 0 keeps history forever (only expired messages go). Call it
 * again while *removed_out > 0; each call holds one session briefly, and
 * instances other transactions hold are skipped, so the engine's work goes
 * on around the sweep. Each call also delivers buffered messages that a
 * waiting subscription matches (left by a race between two nodes), as the
 * engine does at open.
 */
baton_status baton_engine_sweep(baton_engine *e, int64_t max_age_ms, uint32_t batch,
                                uint32_t *removed_out, baton_error *err);

/* ---- jobs for workers ---- */

typedef struct baton_job_activation {
    const char *type;             /* job type */
    const char *worker;           /* who takes the lock (required) */
    uint32_t max;                 /* at most this many jobs */
    int64_t lock_ms;              /* lock duration */
    const char *const *variables; /* names to fetch; NULL = every visible variable */
    uint32_t n_variables;
} baton_job_activation;

/*
 * Lock up to `max` available jobs of a type for a worker (jobs whose lock
 * expired are available again) and describe them: a JSON array (owned by
 * the caller) of {"id":"INSTANCE-KEY","instance","key","type","processId",
 * "elementId","elementName","businessKey","retries","deadline","worker",
 * "headers":{...},"variables":{...}}. Long polling is the caller's: wait on
 * the commit hook for new jobs of the type.
 */
baton_status baton_engine_activate_jobs(baton_engine *e, const baton_job_activation *a,
                                        cJSON **jobs_out, baton_error *err);

/*
 * Apply a worker's COMPLETE, JOB_FAIL or THROW_ERROR to job `in->key` of
 * `instance`. Refused with BATON_CONFLICT (and nothing changes) when another
 * worker holds a live lock on the job, or when the job ran out of retries
 * (its incident must be resolved first); BATON_NOTFOUND when the job is no
 * longer open (completed, cancelled, or never existed). `worker` NULL skips
 * the lock check.
 */
baton_status baton_engine_job_input(baton_engine *e, int64_t instance, const baton_input *in,
                                    const char *worker, baton_error *err);
/* Extend (lock_ms > 0) or release (lock_ms == 0) a worker's lock. */
baton_status baton_engine_job_lock(baton_engine *e, int64_t instance, int64_t key,
                                   const char *worker, int64_t lock_ms, baton_error *err);

/* ---- reading ---- */

/* Run `fn` with one session's store (no transaction opened): listings for the API. */
typedef baton_status (*baton_query_fn)(void *cookie, baton_store *store, baton_error *err);
baton_status baton_engine_query(baton_engine *e, baton_query_fn fn, void *cookie, baton_error *err);

/* The state of an instance (owned by the caller: baton_instance_free). */
baton_status baton_engine_load(baton_engine *e, int64_t instance, baton_instance **out,
                               baton_error *err);
/* The instance's row; its strings stay valid until this thread's next call of this function. */
baton_status baton_engine_instance_row(baton_engine *e, int64_t instance, baton_instance_row *out,
                                       baton_error *err);
/* History records as JSON texts, in order. */
typedef int (*baton_history_fn)(void *cookie, const char *json);
baton_status baton_engine_history(baton_engine *e, int64_t instance, uint64_t after, uint32_t limit,
                                  baton_history_fn fn, void *cookie, baton_error *err);

/*
 * Audit: rebuild the instance from its history alone (a fresh state, every
 * record applied in order) and compare with the stored state. *same_out is
 * true when they are identical and the rebuilt instance's derived indexes
 * agree with it (baton_instance_check); otherwise *diff_out (may be NULL;
 * free with baton_free) describes the first difference.
 */
baton_status baton_engine_replay(baton_engine *e, int64_t instance, bool *same_out, char **diff_out,
                                 baton_error *err);

/*
 * After each commit that created timers, jobs or user tasks, the hook hears
 * about it (from the committing thread): the scheduler wakes for an earlier
 * timer, long-polling job requests wake for a new job. Keep it quick.
 */
typedef struct baton_commit_info {
    int64_t min_timer_due; /* earliest timer created, INT64_MAX if none */
    uint32_t n_job_types;  /* job types created (first 8) */
    const char *const *job_types;
    uint32_t user_tasks; /* user tasks created */
} baton_commit_info;
typedef void (*baton_commit_hook)(void *cookie, const baton_commit_info *info);
void baton_engine_set_commit_hook(baton_engine *e, baton_commit_hook fn, void *cookie);

/* Every record applied by the engine's steps reaches this observer, if set. */
typedef void (*baton_record_observer)(void *cookie, int64_t instance, const baton_model *m,
                                      const baton_record *r);
void baton_engine_set_observer(baton_engine *e, baton_record_observer fn, void *cookie);

#endif
