/*
 * jobs.c - the worker API (docs/api.md, "Jobs") and incidents: activation
 * with long polling, completion, failure with retries and backoff, BPMN
 * errors, locks; listing and resolving incidents. The Camunda 7 facade
 * (c7.c) is a second skin over the same functions.
 *
 * A job, seen from a worker:
 *
 *   AVAILABLE --api_jobs_poll (activate)--> LOCKED(worker, deadline)
 *   LOCKED --complete / error (api_job_input)--> (gone: the instance moves on)
 *   LOCKED --fail, retries > 0 (api_job_fail)--> BACKOFF --available_at--> AVAILABLE
 *   LOCKED --fail, retries 0--> INCIDENT --resolve(retries)--> AVAILABLE
 *   LOCKED --deadline passes / unlock (api_job_lock 0)--> AVAILABLE
 *   any --the element is left (boundary event, cancel)--> (gone)
 *
 * The engine checks the lock in the transaction that applies the worker's
 * report: a report from a worker whose job was re-locked by another, or
 * that was already completed or cancelled, changes nothing and answers 409
 * or 404 with the engine's reason (at-least-once delivery to workers,
 * exactly-once effect on the instance).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "common/alloc.h"
#include "expr/isotime.h"
#include "persistence/store.h"

#define LIST_DEFAULT            100
#define LIST_MAX                1000
#define MAX_JOBS_PER_ACTIVATION 1000
#define MAX_WAIT_MS             1800000 /* a long poll waits at most 30 minutes */
#define DEFAULT_LOCK_MS         300000
#define MAX_LOCK_MS             (7LL * 86400000)
#define MAX_FETCH_VARIABLES     64
#define ROUNDS_BEFORE_PARKING   8

/* ---- activation and long polling ------------------------------------------------------ */

int api_jobs_poll(api_req *r, const char *worker, uint32_t max, const api_topic *topics,
                  uint32_t n_topics, int64_t wait_ms, cJSON **jobs_out) {
    baton_server *s = r->srv;
    if (!r->lp_armed) {
        r->lp_armed = true;
        r->lp_deadline_us = api_now_us() + (wait_ms > 0 ? wait_ms : 0) * 1000;
    }
    uint64_t mask = 0;
    for (uint32_t i = 0; i < n_topics; i++)
        mask |= api_lp_mask(topics[i].type);
    for (;;) {
        uint64_t gen = api_lp_gen(s, mask);
        cJSON *all = cJSON_CreateArray();
        if (!all) {
            api_reply_errorf(r, BATON_NOMEM, "out of memory");
            return -1;
        }
        uint32_t got = 0;
        for (uint32_t i = 0; i < n_topics && got < max; i++) {
            const api_topic *t = &topics[i];
            baton_job_activation a = {t->type,    worker,       max - got,
                                      t->lock_ms, t->variables, t->n_variables};
            cJSON *jobs = NULL;
            baton_error e;
            baton_status st;
            API_TIMED(r, st, e, baton_engine_activate_jobs(s->engine, &a, &jobs, &e));
            if (st) {
                cJSON_Delete(all);
                api_reply_error(r, st, &e);
                return -1;
            }
            int k = cJSON_GetArraySize(jobs);
            if (k > 0) {
                /* when these locks run out, their jobs are available again */
                double deadline = cJSON_GetNumberValue(
                    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(jobs, 0), "deadline"));
                api_lp_hint(s, t->type, (int64_t)deadline);
            }
            while (cJSON_GetArraySize(jobs) > 0)
                cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(jobs, 0));
            cJSON_Delete(jobs);
            got += (uint32_t)k;
        }
        if (got)
            baton_metrics_jobs_activated(s->metrics, got);
        if (got || wait_ms <= 0 || api_now_us() >= r->lp_deadline_us) {
            *jobs_out = all;
            return 1;
        }
        cJSON_Delete(all);
        /* a slot that keeps moving (other types hashed with ours, under load): park anyway,
           a wake-up or the recheck finds what was missed */
        if (++r->lp_rounds >= ROUNDS_BEFORE_PARKING)
            gen = api_lp_gen(s, mask);
        if (api_lp_park(r, mask, gen, r->lp_deadline_us))
            return 0;
        if (api_lp_stopping(s)) {
            *jobs_out = cJSON_CreateArray();
            return *jobs_out ? 1 : (api_reply_errorf(r, BATON_NOMEM, "out of memory"), -1);
        }
    }
}

/* The engine's job description in this API's shape (instanceId, RFC 3339 deadline). */
static cJSON *v1_job(cJSON *j) {
    cJSON *inst = cJSON_DetachItemFromObjectCaseSensitive(j, "instance");
    cJSON *deadline = cJSON_DetachItemFromObjectCaseSensitive(j, "deadline");
    cJSON_AddNumberToObject(j, "instanceId", cJSON_GetNumberValue(inst));
    api_add_time(j, "deadline", (int64_t)cJSON_GetNumberValue(deadline));
    if (!cJSON_GetObjectItemCaseSensitive(j, "businessKey"))
        cJSON_AddNullToObject(j, "businessKey");
    if (!cJSON_GetObjectItemCaseSensitive(j, "elementName"))
        cJSON_AddNullToObject(j, "elementName");
    cJSON_Delete(inst);
    cJSON_Delete(deadline);
    return j;
}

/* "fetchVariables": an array of names; *names_out in the request's arena. */
static bool names_field(api_req *r, const cJSON *o, const char *key, const char ***names_out,
                        uint32_t *n_out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *names_out = NULL;
    *n_out = 0;
    if (!v || cJSON_IsNull(v))
        return true;
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n > MAX_FETCH_VARIABLES) {
        api_reply_errorf(r, BATON_INVALID,
                         "field '%s' must be an array of at most %d variable "
                         "names",
                         key, MAX_FETCH_VARIABLES);
        return false;
    }
    const char **names = baton_arena_alloc(r->arena, ((size_t)n + 1) * sizeof *names);
    if (!names) {
        api_reply_errorf(r, BATON_NOMEM, "out of memory");
        return false;
    }
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsString(x) || !x->valuestring[0]) {
            api_reply_errorf(r, BATON_INVALID, "field '%s' must hold variable names (strings)",
                             key);
            return false;
        }
        names[i++] = x->valuestring;
    }
    *names_out = names;
    *n_out = (uint32_t)n;
    return true;
}

void api_h_jobs_activate(api_req *r) {
    static const char *const allowed[] = {"type",           "worker",         "maxJobs", "timeout",
                                          "fetchVariables", "requestTimeout", NULL};
    cJSON *body = NULL;
    if (!api_json_body(r, false, &body))
        return;
    /* the body is parsed again each time a parked request runs: the names point into it */
    const char *type = NULL, *worker = NULL;
    int64_t max = 10, lock_ms = DEFAULT_LOCK_MS, wait_ms = 0;
    const char **names = NULL;
    uint32_t n_names = 0;
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(body, "maxJobs");
    if (!api_known_fields(r, body, allowed) || !api_field_string(r, body, "type", true, &type) ||
        !api_field_string(r, body, "worker", true, &worker) ||
        !api_field_duration(r, body, "timeout", 1, MAX_LOCK_MS, DEFAULT_LOCK_MS, &lock_ms) ||
        !api_field_duration(r, body, "requestTimeout", 0, MAX_WAIT_MS, 0, &wait_ms) ||
        !names_field(r, body, "fetchVariables", &names, &n_names))
        goto done;
    if (mj && !cJSON_IsNull(mj)) {
        if (!cJSON_IsNumber(mj) || mj->valuedouble < 1 ||
            mj->valuedouble > MAX_JOBS_PER_ACTIVATION) {
            api_reply_errorf(r, BATON_INVALID, "field 'maxJobs' must be 1 to %d",
                             MAX_JOBS_PER_ACTIVATION);
            goto done;
        }
        max = (int64_t)mj->valuedouble;
    }
    api_topic t = {type, lock_ms, names, n_names};
    cJSON *jobs = NULL;
    if (api_jobs_poll(r, worker, (uint32_t)max, &t, 1, wait_ms, &jobs) != 1)
        goto done;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "jobs");
    while (cJSON_GetArraySize(jobs) > 0)
        cJSON_AddItemToArray(arr, v1_job(cJSON_DetachItemFromArray(jobs, 0)));
    cJSON_Delete(jobs);
    api_reply_json(r, 200, o);
done:
    cJSON_Delete(body);
}

/* ---- reports from workers -------------------------------------------------------------- */

baton_status api_job_input(api_req *r, int64_t instance, const baton_input *in, const char *worker,
                           baton_error *err) {
    baton_status st;
    API_TIMED(r, st, *err, baton_engine_job_input(r->srv->engine, instance, in, worker, err));
    return st;
}

typedef struct job_lookup {
    int64_t instance, key;
    char type[256];
    int64_t available_at, lock_expiry, created;
    int32_t retries;
    char worker[256];
    bool locked;
} job_lookup;

static baton_status get_job(void *cookie, baton_store *s, baton_error *err) {
    job_lookup *j = cookie;
    baton_job_row row;
    baton_status st = s->ops->job_get(s, j->instance, j->key, &row, err);
    if (st)
        return st;
    snprintf(j->type, sizeof j->type, "%s", row.type ? row.type : "");
    snprintf(j->worker, sizeof j->worker, "%s", row.worker ? row.worker : "");
    j->locked = row.worker && row.worker[0];
    j->available_at = row.available_at;
    j->lock_expiry = row.lock_expiry;
    j->created = row.created;
    j->retries = row.retries;
    return BATON_OK;
}

/* The job's row (false when it is gone: no answer queued). */
static bool read_job(api_req *r, int64_t instance, int64_t key, job_lookup *out) {
    memset(out, 0, sizeof *out);
    out->instance = instance;
    out->key = key;
    return baton_engine_query(r->srv->engine, get_job, out, NULL) == BATON_OK;
}

static baton_status job_gone(baton_error *err, int64_t instance, int64_t key) {
    return baton_error_set(err, BATON_NOTFOUND,
                           "job %lld-%lld is not open: it was completed, "
                           "cancelled, or never existed",
                           (long long)instance, (long long)key);
}

typedef struct fail_count {
    int64_t key;
    uint32_t n;
} fail_count;

static int count_failure(void *cookie, const char *json) {
    fail_count *c = cookie;
    if (!strstr(json, "\"job_failed\""))
        return 0;
    cJSON *j = cJSON_Parse(json);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
    if (cJSON_IsNumber(k) && (int64_t)k->valuedouble == c->key)
        c->n++;
    cJSON_Delete(j);
    return 0;
}

baton_status api_job_fail(api_req *r, int64_t instance, int64_t key, const api_failure *f,
                          api_failed *out, baton_error *err) {
    baton_engine *eng = r->srv->engine;
    /* the retries it has and the model's retry cycle, from the instance */
    baton_instance *inst = NULL;
    baton_status st = baton_engine_load(eng, instance, &inst, err);
    if (st == BATON_NOTFOUND)
        return job_gone(err, instance, key);
    if (st)
        return st;
    const baton_wait *w = baton_instance_wait(inst, key);
    if (!w || w->kind != BATON_WAIT_JOB) {
        baton_instance_free(inst);
        return job_gone(err, instance, key);
    }
    const baton_graph *g = baton_model_graph(baton_instance_model(inst));
    const baton_task_def *t = g->nodes[w->element].task;
    int64_t cycle_ms = 0;
    baton_cycle c;
    if (t && t->retry_cycle && baton_iso_parse_cycle(t->retry_cycle, NULL, &c, NULL) == BATON_OK)
        cycle_ms = baton_iso_add(0, c.period, NULL);
    char type[256];
    snprintf(type, sizeof type, "%s", w->name ? w->name : "");
    int32_t retries = f->retries >= 0 ? f->retries : (w->retries > 0 ? w->retries - 1 : 0);
    baton_instance_free(inst);

    int64_t backoff = f->backoff_ms > 0 ? f->backoff_ms : 0;
    if (f->exponential) {
        int64_t base = f->backoff_ms > 0 ? f->backoff_ms : cycle_ms > 0 ? cycle_ms : 1000;
        int64_t cap = f->max_backoff_ms > 0 ? f->max_backoff_ms : 3600000;
        fail_count fc = {key, 0};
        st = baton_engine_history(eng, instance, 0, 0, count_failure, &fc, err);
        if (st)
            return st;
        backoff = base;
        for (uint32_t i = 0; i < fc.n && backoff < cap; i++)
            backoff *= 2;
        if (backoff > cap)
            backoff = cap;
    }
    baton_input in = {0};
    in.kind = BATON_IN_JOB_FAIL;
    in.key = key;
    in.retries = retries;
    in.text = f->message;
    in.backoff_ms = backoff; /* 0: the model's retry cycle, else at once */
    if ((st = api_job_input(r, instance, &in, f->worker, err)))
        return st;
    out->retries = retries;
    out->incident = retries <= 0;
    out->available_at = 0;
    job_lookup j;
    if (retries > 0 && read_job(r, instance, key, &j)) {
        out->available_at = j.available_at;
        if (j.available_at <= baton_engine_now(eng))
            api_lp_wake(r->srv, type);
        else
            api_lp_hint(r->srv, type, j.available_at);
    }
    return BATON_OK;
}

baton_status api_job_lock(api_req *r, int64_t instance, int64_t key, const char *worker,
                          int64_t lock_ms, baton_error *err) {
    job_lookup j;
    bool known = read_job(r, instance, key, &j);
    baton_status st;
    API_TIMED(r, st, *err,
              baton_engine_job_lock(r->srv->engine, instance, key, worker, lock_ms, err));
    if (!st && known) {
        if (lock_ms > 0)
            api_lp_hint(r->srv, j.type, baton_engine_now(r->srv->engine) + lock_ms);
        else
            api_lp_wake(r->srv, j.type);
    }
    return st;
}

/* Path capture 0 as a job id; 404 when it cannot be one. */
static bool cap_job(api_req *r, int64_t *inst, int64_t *key) {
    if (api_parse_pair(r->cap[0], inst, key))
        return true;
    api_reply_errorf(r, BATON_NOTFOUND, "no job '%s' (ids look like <instance>-<key>)", r->cap[0]);
    return false;
}

static void reply_done(api_req *r, baton_status st, baton_error *e) {
    if (st)
        api_reply_error(r, st, e);
    else
        api_reply_raw(r, 204, NULL, "", 0);
}

void api_h_job_complete(api_req *r) {
    static const char *const allowed[] = {"worker", "variables", NULL};
    int64_t inst, key;
    cJSON *body = NULL;
    if (!cap_job(r, &inst, &key) || !api_json_body(r, true, &body))
        return;
    const char *worker = NULL;
    const cJSON *vars = NULL;
    if (!body || (api_known_fields(r, body, allowed) &&
                  api_field_string(r, body, "worker", false, &worker) &&
                  api_field_object(r, body, "variables", &vars))) {
        baton_input in = {0};
        in.kind = BATON_IN_COMPLETE;
        in.key = key;
        in.variables = vars;
        baton_error e;
        reply_done(r, api_job_input(r, inst, &in, worker, &e), &e);
    }
    cJSON_Delete(body);
}

void api_h_job_error(api_req *r) {
    static const char *const allowed[] = {"worker", "errorCode", "errorMessage", "variables", NULL};
    int64_t inst, key;
    cJSON *body = NULL;
    if (!cap_job(r, &inst, &key) || !api_json_body(r, false, &body))
        return;
    const char *worker = NULL, *code = NULL, *msg = NULL;
    const cJSON *vars = NULL;
    if (api_known_fields(r, body, allowed) && api_field_string(r, body, "worker", false, &worker) &&
        api_field_string(r, body, "errorCode", true, &code) &&
        api_field_string(r, body, "errorMessage", false, &msg) &&
        api_field_object(r, body, "variables", &vars)) {
        baton_input in = {0};
        in.kind = BATON_IN_THROW_ERROR;
        in.key = key;
        in.code = code;
        in.text = msg;
        in.variables = vars;
        baton_error e;
        reply_done(r, api_job_input(r, inst, &in, worker, &e), &e);
    }
    cJSON_Delete(body);
}

void api_h_job_fail(api_req *r) {
    static const char *const allowed[] = {
        "worker", "retries", "errorMessage", "retryBackoff", "backoff", "maxBackoff", NULL};
    int64_t inst, key;
    cJSON *body = NULL;
    if (!cap_job(r, &inst, &key) || !api_json_body(r, true, &body))
        return;
    api_failure f = {NULL, -1, NULL, -1, false, 0};
    const char *policy = NULL;
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(body, "retries");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(body, "errorMessage");
    if (body && (!api_known_fields(r, body, allowed) ||
                 !api_field_string(r, body, "worker", false, &f.worker) ||
                 !api_field_duration(r, body, "retryBackoff", 0, MAX_LOCK_MS, -1, &f.backoff_ms) ||
                 !api_field_duration(r, body, "maxBackoff", 0, MAX_LOCK_MS, 0, &f.max_backoff_ms) ||
                 !api_field_string(r, body, "backoff", false, &policy)))
        goto done;
    if (msg && !cJSON_IsNull(msg)) {
        if (!cJSON_IsString(msg) || strlen(msg->valuestring) > 4000) {
            api_reply_errorf(r, BATON_INVALID,
                             "field 'errorMessage' must be a string of at most "
                             "4000 bytes");
            goto done;
        }
        f.message = msg->valuestring;
    }
    if (rv && !cJSON_IsNull(rv)) {
        if (!cJSON_IsNumber(rv) || rv->valuedouble < 0 || rv->valuedouble > 1000000 ||
            rv->valuedouble != (double)(int32_t)rv->valuedouble) {
            api_reply_errorf(r, BATON_INVALID, "field 'retries' must be an integer 0 to 1000000");
            goto done;
        }
        f.retries = (int32_t)rv->valuedouble;
    }
    if (policy && strcmp(policy, "exponential") != 0 && strcmp(policy, "fixed") != 0) {
        api_reply_errorf(r, BATON_INVALID, "field 'backoff' must be \"fixed\" or \"exponential\"");
        goto done;
    }
    f.exponential = policy && strcmp(policy, "exponential") == 0;
    api_failed out;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = api_job_fail(r, inst, key, &f, &out, &e);
    if (st) {
        api_reply_error(r, st, &e);
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    char id[48];
    snprintf(id, sizeof id, "%lld-%lld", (long long)inst, (long long)key);
    cJSON_AddStringToObject(o, "jobId", id);
    cJSON_AddNumberToObject(o, "retries", out.retries);
    api_add_time(o, "availableAt", out.available_at);
    cJSON_AddBoolToObject(o, "incident", out.incident);
    api_reply_json(r, 200, o);
done:
    cJSON_Delete(body);
}

void api_h_job_lock(api_req *r) {
    static const char *const allowed[] = {"worker", "timeout", NULL};
    int64_t inst, key, lock_ms;
    cJSON *body = NULL;
    if (!cap_job(r, &inst, &key) || !api_json_body(r, false, &body))
        return;
    const char *worker = NULL;
    if (api_known_fields(r, body, allowed) && api_field_string(r, body, "worker", true, &worker) &&
        api_field_duration(r, body, "timeout", 1, MAX_LOCK_MS, DEFAULT_LOCK_MS, &lock_ms)) {
        baton_error e;
        baton_error_clear(&e);
        baton_status st = api_job_lock(r, inst, key, worker, lock_ms, &e);
        if (st) {
            api_reply_error(r, st, &e);
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "worker", worker);
            api_add_time(o, "deadline", baton_engine_now(r->srv->engine) + lock_ms);
            api_reply_json(r, 200, o);
        }
    }
    cJSON_Delete(body);
}

void api_h_job_unlock(api_req *r) {
    static const char *const allowed[] = {"worker", NULL};
    int64_t inst, key;
    cJSON *body = NULL;
    if (!cap_job(r, &inst, &key) || !api_json_body(r, true, &body))
        return;
    const char *worker = NULL;
    if (!body || (api_known_fields(r, body, allowed) &&
                  api_field_string(r, body, "worker", false, &worker))) {
        baton_error e;
        baton_error_clear(&e);
        reply_done(r, api_job_lock(r, inst, key, worker, 0, &e), &e);
    }
    cJSON_Delete(body);
}

/* ---- listings ------------------------------------------------------------------------- */

/*
 * A page of rows as JSON, as the store hands them out: in (instance, key)
 * order, at most `limit + 1` (the one more says whether a next page exists).
 */
typedef struct page {
    uint32_t limit, n;
    cJSON **rows;
    int64_t (*keys)[2];
    int64_t after_inst, after_key;
    bool nomem;
} page;

static bool page_init(page *p, uint32_t limit) {
    p->limit = limit;
    p->rows = baton_calloc(limit + 1, sizeof *p->rows);
    p->keys = baton_calloc(limit + 1, sizeof *p->keys);
    return p->rows && p->keys;
}

static void page_add(page *p, int64_t i, int64_t k, cJSON *row) {
    if (!row || p->n == p->limit + 1) {
        cJSON_Delete(row);
        p->nomem = p->nomem || !row;
        return;
    }
    p->keys[p->n][0] = i;
    p->keys[p->n][1] = k;
    p->rows[p->n++] = row;
}

static void page_reply(api_req *r, page *p, baton_status st, baton_error *e) {
    if (!st && p->nomem)
        st = baton_error_set(e, BATON_NOMEM, "out of memory");
    cJSON *o = NULL;
    if (!st) {
        o = cJSON_CreateObject();
        cJSON *items = cJSON_AddArrayToObject(o, "items");
        uint32_t shown = p->n > p->limit ? p->limit : p->n;
        for (uint32_t i = 0; i < shown; i++) {
            cJSON_AddItemToArray(items, p->rows[i]);
            p->rows[i] = NULL;
        }
        if (p->n > p->limit) {
            char c[48];
            snprintf(c, sizeof c, "%lld-%lld", (long long)p->keys[p->limit - 1][0],
                     (long long)p->keys[p->limit - 1][1]);
            cJSON_AddStringToObject(o, "nextCursor", c);
        } else {
            cJSON_AddNullToObject(o, "nextCursor");
        }
    }
    for (uint32_t i = 0; p->rows && i < p->n; i++)
        cJSON_Delete(p->rows[i]);
    baton_free(p->rows);
    baton_free(p->keys);
    if (st)
        api_reply_error(r, st, e);
    else
        api_reply_json(r, 200, o);
}

static bool page_query(api_req *r, page *p) {
    int64_t limit;
    if (!api_query_int(r, "limit", 1, LIST_MAX, LIST_DEFAULT, &limit))
        return false;
    const char *cursor = api_query(r, "cursor");
    if (cursor && !api_parse_pair(cursor, &p->after_inst, &p->after_key)) {
        api_reply_errorf(r, BATON_INVALID, "cursor '%s' is not one this API gave out", cursor);
        return false;
    }
    if (!page_init(p, (uint32_t)limit)) {
        baton_free(p->rows);
        baton_free(p->keys);
        api_reply_errorf(r, BATON_NOMEM, "out of memory");
        return false;
    }
    return true;
}

static const char *job_state(const baton_job_row *j, int64_t now) {
    static const char *const names[] = {
        [BATON_JOB_AVAILABLE] = "available",
        [BATON_JOB_LOCKED] = "locked",
        [BATON_JOB_BACKOFF] = "backoff",
        [BATON_JOB_INCIDENT] = "incident",
    };
    return names[baton_store_job_state(j, now)];
}

static cJSON *job_row_json(const baton_job_row *j, int64_t now) {
    cJSON *o = cJSON_CreateObject();
    char id[48];
    snprintf(id, sizeof id, "%lld-%lld", (long long)j->instance, (long long)j->key);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "instanceId", (double)j->instance);
    cJSON_AddNumberToObject(o, "key", (double)j->key);
    api_add_str(o, "type", j->type);
    api_add_str(o, "elementId", j->element);
    cJSON_AddStringToObject(o, "state", job_state(j, now));
    cJSON_AddNumberToObject(o, "retries", j->retries);
    bool locked = j->worker && j->worker[0] && j->lock_expiry > now;
    api_add_str(o, "worker", locked ? j->worker : NULL);
    api_add_time(o, "deadline", locked ? j->lock_expiry : 0);
    api_add_time(o, "availableAt", j->available_at);
    api_add_time(o, "created", j->created);
    return o;
}

/* One page of jobs: the store filters, orders by (instance, key) and stops at the limit. */
typedef struct job_page {
    page p;
    baton_job_filter f; /* f.limit: the page size + 1, to know whether more follow */
} job_page;

static int page_job(void *cookie, const void *row) {
    job_page *jp = cookie;
    const baton_job_row *j = row;
    page_add(&jp->p, j->instance, j->key, job_row_json(j, jp->f.now));
    return jp->p.nomem;
}

static baton_status list_jobs(void *cookie, baton_store *s, baton_error *err) {
    job_page *jp = cookie;
    return s->ops->job_query(s, &jp->f, page_job, cookie, err);
}

void api_h_jobs(api_req *r) {
    job_page jp = {0};
    baton_job_filter *f = &jp.f;
    if (!api_query_int(r, "instanceId", 0, INT64_MAX / 2, 0, &f->instance))
        return;
    f->type = api_query(r, "type");
    const char *state = api_query(r, "state");
    if (state) {
        f->state = strcmp(state, "available") == 0  ? BATON_JOB_AVAILABLE
                   : strcmp(state, "locked") == 0   ? BATON_JOB_LOCKED
                   : strcmp(state, "backoff") == 0  ? BATON_JOB_BACKOFF
                   : strcmp(state, "incident") == 0 ? BATON_JOB_INCIDENT
                                                    : 0;
        if (!f->state) {
            api_reply_errorf(r, BATON_INVALID,
                             "state must be available, locked, backoff or incident");
            return;
        }
    }
    if (!page_query(r, &jp.p))
        return;
    f->now = baton_engine_now(r->srv->engine);
    f->after_instance = jp.p.after_inst;
    f->after_key = jp.p.after_key;
    f->limit = jp.p.limit + 1;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, list_jobs, &jp, &e);
    page_reply(r, &jp.p, st, &e);
}

typedef struct one_job {
    int64_t instance, key, now;
    cJSON *json;
} one_job;

static baton_status get_job_json(void *cookie, baton_store *s, baton_error *err) {
    one_job *j = cookie;
    baton_job_row row;
    baton_status st = s->ops->job_get(s, j->instance, j->key, &row, err);
    if (st)
        return st;
    j->json = job_row_json(&row, j->now);
    return j->json ? BATON_OK : baton_error_set(err, BATON_NOMEM, "out of memory");
}

void api_h_job(api_req *r) {
    one_job j = {0};
    if (!cap_job(r, &j.instance, &j.key))
        return;
    j.now = baton_engine_now(r->srv->engine);
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, get_job_json, &j, &e);
    if (st == BATON_NOTFOUND)
        api_reply_error(r, job_gone(&e, j.instance, j.key), &e);
    else if (st)
        api_reply_error(r, st, &e);
    else
        api_reply_json(r, 200, j.json);
}

/* ---- incidents ------------------------------------------------------------------------- */

static cJSON *incident_json(const baton_incident_row *x, const char *process) {
    cJSON *o = cJSON_CreateObject();
    char id[48];
    snprintf(id, sizeof id, "%lld-%lld", (long long)x->instance, (long long)x->key);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "instanceId", (double)x->instance);
    cJSON_AddNumberToObject(o, "key", (double)x->key);
    api_add_str(o, "processId", process);
    api_add_str(o, "elementId", x->element ? x->element : "");
    api_add_str(o, "kind", x->kind ? x->kind : "");
    api_add_str(o, "message", x->message ? x->message : "");
    api_add_time(o, "created", x->created);
    return o;
}

/* The store counts (one count(*) on SQLite and PostgreSQL): /metrics runs this on every scrape. */
static baton_status count_incidents(void *cookie, baton_store *s, baton_error *err) {
    baton_incident_filter all = {0};
    return s->ops->incident_count(s, &all, cookie, err);
}

baton_status api_count_incidents(baton_server *s, int64_t *out) {
    int64_t n = 0;
    baton_status st = baton_engine_query(s->engine, count_incidents, &n, NULL);
    if (!st)
        *out = n;
    return st;
}

/*
 * One page of incidents: the store filters (the process through the
 * incident's instance), orders by (instance, key) and stops at the limit;
 * each row's process is read here, once per instance on the page.
 */
typedef struct inc_page {
    page p;
    baton_incident_filter f; /* f.limit: the page size + 1, to know whether more follow */
    baton_store *s;
    baton_error *err;
    baton_status st;
    int64_t cached; /* the instance `process` names, 0 = none yet */
    char process[256];
} inc_page;

static int page_incident(void *cookie, const void *row) {
    inc_page *ip = cookie;
    const baton_incident_row *x = row;
    if (x->instance != ip->cached) {
        baton_instance_row in;
        baton_status st = ip->s->ops->instance_get(ip->s, x->instance, &in, NULL, ip->err);
        if (st && st != BATON_NOTFOUND) {
            ip->st = st;
            return 1;
        }
        snprintf(ip->process, sizeof ip->process, "%s", !st && in.process_id ? in.process_id : "");
        ip->cached = x->instance;
    }
    page_add(&ip->p, x->instance, x->key, incident_json(x, ip->process[0] ? ip->process : NULL));
    return ip->p.nomem;
}

static baton_status list_incidents(void *cookie, baton_store *s, baton_error *err) {
    inc_page *ip = cookie;
    ip->s = s;
    ip->err = err;
    baton_status st = s->ops->incident_query(s, &ip->f, page_incident, cookie, err);
    return st ? st : ip->st;
}

void api_h_incidents(api_req *r) {
    inc_page ip = {0};
    baton_incident_filter *f = &ip.f;
    if (!api_query_int(r, "instanceId", 0, INT64_MAX / 2, 0, &f->instance))
        return;
    f->kind = api_query(r, "kind");
    f->element = api_query(r, "elementId");
    f->process_id = api_query(r, "processId");
    if (!page_query(r, &ip.p))
        return;
    f->after_instance = ip.p.after_inst;
    f->after_key = ip.p.after_key;
    f->limit = ip.p.limit + 1;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, list_incidents, &ip, &e);
    page_reply(r, &ip.p, st, &e);
}

/* One incident, by (instance, key): its JSON, built while its row is valid. */
typedef struct one_incident {
    int64_t key;
    cJSON *json;
    bool nomem;
} one_incident;

static int take_incident(void *cookie, const void *row) {
    one_incident *o = cookie;
    const baton_incident_row *x = row;
    if (x->key == o->key && !(o->json = incident_json(x, NULL)))
        o->nomem = true;
    return 1;
}

typedef struct inc_lookup {
    baton_incident_filter f;
    one_incident one;
} inc_lookup;

static baton_status get_incident(void *cookie, baton_store *s, baton_error *err) {
    inc_lookup *l = cookie;
    return s->ops->incident_query(s, &l->f, take_incident, &l->one, err);
}

static bool cap_incident(api_req *r, int64_t *inst, int64_t *key) {
    if (api_parse_pair(r->cap[0], inst, key))
        return true;
    api_reply_errorf(r, BATON_NOTFOUND, "no incident '%s' (ids look like <instance>-<key>)",
                     r->cap[0]);
    return false;
}

void api_h_incident(api_req *r) {
    int64_t inst, key;
    if (!cap_incident(r, &inst, &key))
        return;
    /* the first incident of the instance after (inst, key - 1): this one, if it is open */
    inc_lookup l = {
        .f = {.instance = inst, .after_instance = inst, .after_key = key - 1, .limit = 1},
        .one = {.key = key}};
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, get_incident, &l, &e);
    if (!st && l.one.nomem)
        st = baton_error_set(&e, BATON_NOMEM, "out of memory");
    if (st || !l.one.json) {
        if (st)
            api_reply_error(r, st, &e);
        else
            api_reply_errorf(r, BATON_NOTFOUND, "no open incident '%s'", r->cap[0]);
        return;
    }
    /* the process, and for a job out of retries its job */
    baton_instance *in = NULL;
    const char *process = NULL;
    char job[48] = "";
    int32_t retries = 0;
    if (baton_engine_load(r->srv->engine, inst, &in, NULL) == BATON_OK) {
        const baton_graph *g = baton_model_graph(baton_instance_model(in));
        baton_idx p = baton_instance_process(in);
        process = p < g->n_processes ? g->processes[p].id : NULL;
        for (uint32_t i = 0; i < baton_instance_incident_count(in); i++) {
            const baton_incident *x = baton_instance_incident_at(in, i);
            const baton_wait *w =
                x->key == key && x->wait ? baton_instance_wait(in, x->wait) : NULL;
            if (w && w->kind == BATON_WAIT_JOB) {
                snprintf(job, sizeof job, "%lld-%lld", (long long)inst, (long long)w->key);
                retries = w->retries;
            }
        }
    }
    cJSON *o = l.one.json;
    cJSON_ReplaceItemInObjectCaseSensitive(
        o, "processId", process ? cJSON_CreateString(process) : cJSON_CreateNull());
    api_add_str(o, "jobId", job[0] ? job : NULL);
    if (job[0])
        cJSON_AddNumberToObject(o, "jobRetries", retries);
    baton_instance_free(in);
    api_reply_json(r, 200, o);
}

typedef struct raised {
    int64_t key;
    bool seen;
} raised;

static int find_raised(void *cookie, const char *json) {
    raised *x = cookie;
    if (!strstr(json, "\"incident_raised\""))
        return 0;
    cJSON *j = cJSON_Parse(json);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
    if (cJSON_IsNumber(k) && (int64_t)k->valuedouble == x->key)
        x->seen = true;
    cJSON_Delete(j);
    return x->seen;
}

void api_resolve_incident(api_req *r, int64_t instance, int64_t key, int32_t retries) {
    baton_engine *eng = r->srv->engine;
    /* a job out of retries: its type, to wake workers waiting for it */
    char type[256] = "";
    baton_instance *in = NULL;
    if (baton_engine_load(eng, instance, &in, NULL) == BATON_OK) {
        for (uint32_t i = 0; i < baton_instance_incident_count(in); i++) {
            const baton_incident *x = baton_instance_incident_at(in, i);
            const baton_wait *w =
                x->key == key && x->wait ? baton_instance_wait(in, x->wait) : NULL;
            if (w && w->kind == BATON_WAIT_JOB && w->name)
                snprintf(type, sizeof type, "%s", w->name);
        }
        baton_instance_free(in);
    }
    baton_input inp = {0};
    inp.kind = BATON_IN_RESOLVE;
    inp.key = key;
    inp.retries = retries;
    baton_error e;
    baton_status st;
    API_TIMED(r, st, e, baton_engine_apply(eng, instance, &inp, &e));
    if (st == BATON_NOTFOUND) {
        /* an incident this instance once had no longer applies: a conflict, not a typo */
        raised x = {key, false};
        baton_error he;
        baton_error_clear(&he);
        baton_status hs = baton_engine_history(eng, instance, 0, 0, find_raised, &x, &he);
        if (hs == BATON_OK && x.seen)
            api_reply_errorf(r, BATON_CONFLICT,
                             "incident %lld-%lld no longer applies: it was "
                             "resolved, or its element was left",
                             (long long)instance, (long long)key);
        else if (hs == BATON_OK || hs == BATON_NOTFOUND)
            api_reply_errorf(r, BATON_NOTFOUND, "no incident %lld-%lld", (long long)instance,
                             (long long)key);
        else
            api_reply_error(r, hs, &he);
        return;
    }
    if (st) {
        api_reply_error(r, st, &e);
        return;
    }
    if (type[0])
        api_lp_wake(r->srv, type);
    cJSON *o = api_instance_row_json(r, instance);
    if (o)
        api_reply_json(r, 200, o);
}

void api_h_incident_resolve(api_req *r) {
    static const char *const allowed[] = {"retries", NULL};
    int64_t inst, key, retries = 0;
    cJSON *body = NULL;
    if (!cap_incident(r, &inst, &key) || !api_json_body(r, true, &body))
        return;
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(body, "retries");
    if (body && !api_known_fields(r, body, allowed))
        goto done;
    if (rv && !cJSON_IsNull(rv)) {
        if (!cJSON_IsNumber(rv) || rv->valuedouble < 1 || rv->valuedouble > 1000000) {
            api_reply_errorf(r, BATON_INVALID, "field 'retries' must be 1 to 1000000");
            goto done;
        }
        retries = (int64_t)rv->valuedouble;
    }
    api_resolve_incident(r, inst, key, (int32_t)retries);
done:
    cJSON_Delete(body);
}
