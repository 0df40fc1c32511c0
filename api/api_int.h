/*
 * api_int.h - what the files of api/ share: one request's state, the route
 * table and the reply helpers. Never included from another folder.
 */
#ifndef BATON_API_INT_H
#define BATON_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/metrics.h"
#include "api/server.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/diag.h"
#include "common/log.h"

#define API_MAX_SEGMENTS   8
#define API_MAX_QUERY      24
#define API_REQUEST_ID_MAX 64
#define API_LP_SLOTS       64 /* job types hash into this many wake-up slots */
#define API_LP_HINTS       32 /* known future availability times kept per slot */

typedef struct api_req api_req;
typedef void (*api_handler)(api_req *r);

/* What body a route takes. */
enum { API_BODY_NONE = 0, API_BODY_JSON, API_BODY_DEPLOY };

typedef struct api_route {
    const char *method;
    const char *pattern; /* "/v1/instances/{id}/history": {x} matches one segment */
    api_handler fn;
    uint8_t body; /* API_BODY_* */
} api_route;

extern const api_route api_routes[];
extern const uint32_t api_n_routes;

struct baton_server {
    baton_engine *engine;
    baton_server_opts o;
    struct MHD_Daemon *daemon;
    uint16_t port;
    baton_metrics *metrics;
    const char **route_names; /* "METHOD pattern" per route, for metrics */
    uint32_t id_prefix;       /* random per process: request ids differ across restarts */
    _Atomic uint64_t next_id;
    _Atomic int64_t in_flight;
    _Atomic int active_counted;
    bool quiesced;
    /* long polling (longpoll.c): parked requests and what wakes them */
    pthread_mutex_t lp_mu;
    pthread_cond_t lp_cv;
    pthread_t lp_thread;
    bool lp_running, lp_stop;
    api_req *lp_head; /* parked requests, doubly linked */
    uint32_t lp_parked;
    _Atomic uint64_t lp_gen[API_LP_SLOTS];       /* bumped when jobs of a slot may be available */
    int64_t lp_hint[API_LP_SLOTS][API_LP_HINTS]; /* wall ms a job may become available,
                                                    ascending; lp_n_hint[i] used */
    uint8_t lp_n_hint[API_LP_SLOTS];
};

typedef struct api_param {
    const char *key, *value;
} api_param;

struct api_req {
    baton_server *srv;
    struct MHD_Connection *conn;
    char id[API_REQUEST_ID_MAX + 1];
    int64_t t0_us;
    char *raw_uri; /* as received, bounded copy */
    const char *method;
    int state;                         /* 0 new, 1 reading body, 2 answered */
    int route;                         /* index into api_routes, -1 none */
    baton_arena *arena;                /* everything of this request */
    const char *seg[API_MAX_SEGMENTS]; /* decoded path segments */
    uint32_t n_seg;
    const char *cap[4]; /* path captures ({x}) in order */
    uint32_t n_cap;
    api_param query[API_MAX_QUERY];
    uint32_t n_query;
    const char *content_type;
    baton_buf body;
    size_t body_limit;
    bool too_large;
    /* the answer */
    int status;
    char *out; /* body (baton_malloc'd), handed to libmicrohttpd */
    size_t out_len;
    const char *out_type;
    char location[128];
    char allow[64];
    baton_status err_code; /* logged */
    char err_msg[160];
    /* long polling: a parked request is suspended in libmicrohttpd; when woken its
       handler runs again (the body is still here) */
    bool parked;
    bool lp_armed; /* lp_deadline_us is set */
    api_req *lp_prev, *lp_next;
    uint64_t lp_mask;       /* slots it waits on */
    int64_t lp_deadline_us; /* monotonic: answer (empty) at this time */
    int64_t lp_recheck_us;  /* monotonic: look again (lock expiries on other nodes, ...) */
    uint32_t lp_rounds;     /* activation attempts in this handler run */
};

/* ---- replies (server.c) ---- */

/* Answer with JSON (the tree is consumed). */
void api_reply_json(api_req *r, int status, cJSON *body);
/* Answer with text of a given media type (copied). */
void api_reply_raw(api_req *r, int status, const char *type, const char *data, size_t len);
/*
 * Answer with the error body for `st`: {"error":{"code","message","where",
 * "request_id"}} and the status's HTTP code. For 5xx the message is the
 * status's generic text (the details go to the log only).
 */
void api_reply_error(api_req *r, baton_status st, const baton_error *err);
/* Same, with a message made here. */
void api_reply_errorf(api_req *r, baton_status st, const char *fmt, ...) BATON_PRINTF(3, 4);
/* 422 for an invalid model: the error body plus "details": every diagnostic. */
void api_reply_model_errors(api_req *r, const baton_error *err, const baton_diags *d);

/* Query parameter (decoded) or NULL. */
const char *api_query(const api_req *r, const char *key);
int64_t api_now_us(void);

/* ---- handlers (handlers.c) ---- */

/* Format ms since the epoch as an RFC 3339 UTC string into buf[32]. */
const char *api_time(int64_t ms, char buf[32]);

/*
 * One engine command, timed for the step-latency histogram. A command the
 * store refused for a lock (BATON_BUSY: SQLite's single writer, a
 * PostgreSQL lock timeout) changed nothing, so it is tried again a few
 * times with a short backoff before the client sees 503.
 */
#define API_TIMED(r, st, e, call)                                                                  \
    do {                                                                                           \
        for (int try_ = 0;; try_++) {                                                              \
            baton_error_clear(&(e));                                                               \
            int64_t t0_ = api_now_us();                                                            \
            (st) = (call);                                                                         \
            baton_metrics_command((r)->srv->metrics, api_now_us() - t0_);                          \
            if ((st) != BATON_BUSY || try_ == 3)                                                   \
                break;                                                                             \
            struct timespec ts_ = {0, 2000000L << try_};                                           \
            nanosleep(&ts_, NULL);                                                                 \
        }                                                                                          \
    } while (0)

/* Shared input checks: each answers the error itself and returns false. */
bool api_parse_i64(const char *s, int64_t *out); /* a positive decimal integer */
/* "<a>-<b>", both positive integers (user tasks, jobs, incidents, external tasks). */
bool api_parse_pair(const char *s, int64_t *a_out, int64_t *b_out);
bool api_query_int(api_req *r, const char *key, int64_t min, int64_t max, int64_t def,
                   int64_t *out);
bool api_json_body(api_req *r, bool optional, cJSON **out);
bool api_known_fields(api_req *r, const cJSON *o, const char *const *allowed);
bool api_field_string(api_req *r, const cJSON *o, const char *key, bool required, const char **out);
bool api_field_object(api_req *r, const cJSON *o, const char *key, const cJSON **out);
/* A duration field: milliseconds (a number) or an ISO 8601 duration; `def` when absent. */
bool api_field_duration(api_req *r, const cJSON *o, const char *key, int64_t min, int64_t max,
                        int64_t def, int64_t *out);
void api_add_str(cJSON *o, const char *k, const char *v);
void api_add_time(cJSON *o, const char *k, int64_t ms);
/* The instance's row as JSON, or NULL after answering 404/5xx. */
cJSON *api_instance_row_json(api_req *r, int64_t id);

/* ---- long polling (longpoll.c) ---- */

baton_status api_lp_start(baton_server *s, baton_error *err);
/* Refuse new parking and wake every parked request (they answer at once). */
void api_lp_shutdown(baton_server *s);
/* After shutdown and once no request is parked: stop the thread. */
void api_lp_stop(baton_server *s);
bool api_lp_stopping(baton_server *s);
uint64_t api_lp_mask(const char *type);
/* A number that changes whenever a job of the mask's slots may have become available. */
uint64_t api_lp_gen(baton_server *s, uint64_t mask);
/*
 * Park `r` (from its handler) until a job of its slots may be available, its
 * recheck time or `deadline_us` comes, or the server stops; then the handler
 * runs again. False (not parked: answer or try again now) when the slots'
 * generation moved past `gen_seen` or the server is stopping.
 */
bool api_lp_park(api_req *r, uint64_t mask, uint64_t gen_seen, int64_t deadline_us);
/* Jobs of `type` may be available now (created, unlocked, given retries). */
void api_lp_wake(baton_server *s, const char *type);
/* ... or at wall time `at_ms` (a lock expiry, the end of a retry backoff). */
void api_lp_hint(baton_server *s, const char *type, int64_t at_ms);

/* ---- jobs and incidents (jobs.c), Camunda 7 facade (c7.c) ---- */

typedef struct api_topic {
    const char *type;
    int64_t lock_ms;
    const char *const *variables; /* NULL: every visible variable */
    uint32_t n_variables;
} api_topic;

/*
 * Activate up to `max` jobs over the topics for `worker`, long polling for
 * up to `wait_ms`: 1 = *jobs_out holds the engine's job descriptions (maybe
 * none, when the wait ended); 0 = parked (return from the handler: it runs
 * again when woken); -1 = an error was answered.
 */
int api_jobs_poll(api_req *r, const char *worker, uint32_t max, const api_topic *topics,
                  uint32_t n_topics, int64_t wait_ms, cJSON **jobs_out);

typedef struct api_failure {
    const char *worker; /* NULL: no lock check */
    int32_t retries;    /* retries left; -1: one fewer than the job has */
    const char *message;
    int64_t backoff_ms; /* -1: the model's retry cycle period, else at once */
    bool exponential;   /* backoff doubles with each earlier failure of the job */
    int64_t max_backoff_ms;
} api_failure;

typedef struct api_failed {
    int32_t retries;
    int64_t available_at; /* wall ms */
    bool incident;
} api_failed;

/* Fail job (instance, key); the engine's status (and message) on refusal. */
baton_status api_job_fail(api_req *r, int64_t instance, int64_t key, const api_failure *f,
                          api_failed *out, baton_error *err);
/* Complete or throw (in->kind), with the worker's lock check; wakes and counts. */
baton_status api_job_input(api_req *r, int64_t instance, const baton_input *in, const char *worker,
                           baton_error *err);
/* Extend (lock_ms > 0) or release a lock; hints long polls. */
baton_status api_job_lock(api_req *r, int64_t instance, int64_t key, const char *worker,
                          int64_t lock_ms, baton_error *err);

void api_h_jobs_activate(api_req *r);
void api_h_jobs(api_req *r);
void api_h_job(api_req *r);
void api_h_job_complete(api_req *r);
void api_h_job_fail(api_req *r);
void api_h_job_error(api_req *r);
void api_h_job_lock(api_req *r);
void api_h_job_unlock(api_req *r);
void api_h_incidents(api_req *r);
void api_h_incident(api_req *r);
void api_h_incident_resolve(api_req *r);
/* Resolve incident (instance, key) with `retries` for a job; answers the request. */
void api_resolve_incident(api_req *r, int64_t instance, int64_t key, int32_t retries);
/* Open incidents in the store (metrics). */
baton_status api_count_incidents(baton_server *s, int64_t *out);

void api_h_c7_fetch(api_req *r);
void api_h_c7_complete(api_req *r);
void api_h_c7_failure(api_req *r);
void api_h_c7_bpmn_error(api_req *r);
void api_h_c7_extend_lock(api_req *r);
void api_h_c7_unlock(api_req *r);
void api_h_c7_message(api_req *r);
void api_h_c7_start(api_req *r);
void api_h_c7_deploy(api_req *r);

#endif
