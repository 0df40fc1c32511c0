/*
 * engine.c - the runtime loop over a store; see engine.h.
 *
 * Every public command: lock; begin; (load instance, step, persist)...;
 * commit; then settle the outbox, one event per transaction. persist()
 * turns the step's records into the store's rows: history, the instance
 * row and state, and the materialized waits (jobs, timers, subscriptions,
 * user tasks, incidents) plus outbox events for other instances.
 */
#include "runtime/engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "expr/cron.h"
#include "expr/isotime.h"
#include "parser/bpmn.h"

typedef struct dep_model {
    int64_t deployment;
    baton_model *model;
} dep_model;

/*
 * A session: one store connection and one stepper. Public calls borrow a
 * free session for their transaction(s), so with a store that allows it
 * (PostgreSQL) several commands run in parallel; the in-memory store and a
 * store handed in by the caller give one session.
 */
typedef struct session {
    struct baton_engine *eng;
    baton_store *store;
    const baton_store_ops *ops;
    baton_stepper *stepper;
    struct session *next_free;
    baton_commit_info info; /* what the open transaction created, for the commit hook */
    bool pushed;            /* the open transaction wrote to the outbox */
    char job_types[8][128];
    const char *job_type_ptrs[8];
} session;

struct baton_engine {
    session *sessions;
    unsigned n_sessions;
    bool own_stores;
    char *store_url;        /* to reopen a session whose store failed (own stores only) */
    const char *store_name; /* the store's kind ("sqlite", ...), static: survives reopening */
    bool settle_owed; /* a settle failed: commands settle until one gets through (pool_lock) */
    session *free_list;
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    baton_clock_fn clock;
    void *clock_cookie;
    pthread_mutex_t models_lock; /* the deployment model cache */
    dep_model *deps;
    uint32_t n_deps, cap_deps;
    bool lenient;
    const cJSON *timer_start_vars;
    baton_record_observer observer;
    void *observer_cookie;
    baton_commit_hook commit_hook;
    void *commit_cookie;
};

/*
 * A store that failed (an I/O error, a lost connection) answers BATON_STORE
 * until reopened (store.h). A session the engine opened by URL is reopened
 * here, on its next use, so the engine carries on once the database is
 * back; while it is not, the failed handle stays and the command gets its
 * error, naming the store and the cause. Memory stores are never reopened
 * (that would lose everything), nor stores handed in by the caller.
 */
static void heal(session *s) {
    baton_engine *eng = s->eng;
    if (!eng->store_url || !s->ops->failed || !s->ops->failed(s->store))
        return;
    baton_store *fresh = NULL;
    if (baton_store_open(eng->store_url, &fresh, NULL))
        return;
    baton_store_close(s->store);
    s->store = fresh;
    s->ops = fresh->ops;
}

static session *acquire(baton_engine *eng) {
    pthread_mutex_lock(&eng->pool_lock);
    while (!eng->free_list)
        pthread_cond_wait(&eng->pool_cond, &eng->pool_lock);
    session *s = eng->free_list;
    eng->free_list = s->next_free;
    pthread_mutex_unlock(&eng->pool_lock);
    heal(s);
    return s;
}

static void release(session *s) {
    baton_engine *eng = s->eng;
    pthread_mutex_lock(&eng->pool_lock);
    s->next_free = eng->free_list;
    eng->free_list = s;
    pthread_cond_signal(&eng->pool_cond);
    pthread_mutex_unlock(&eng->pool_lock);
}

static int64_t wall_clock(void *cookie) {
    (void)cookie;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t baton_engine_now(baton_engine *e) {
    return e->clock(e->clock_cookie);
}

static int64_t now_of(const session *e) {
    return e->eng->clock(e->eng->clock_cookie);
}

baton_store *baton_engine_store(baton_engine *e) {
    return e->sessions[0].store;
}

const char *baton_engine_store_name(const baton_engine *e) {
    return e->store_name;
}

baton_status baton_engine_query(baton_engine *e, baton_query_fn fn, void *cookie,
                                baton_error *err) {
    session *s = acquire(e);
    baton_status st = fn(cookie, s->store, err);
    release(s);
    return st;
}

void baton_engine_set_observer(baton_engine *e, baton_record_observer fn, void *cookie) {
    e->observer = fn;
    e->observer_cookie = cookie;
}

void baton_engine_set_commit_hook(baton_engine *e, baton_commit_hook fn, void *cookie) {
    e->commit_hook = fn;
    e->commit_cookie = cookie;
}

/* Transactions go through these two so the commit hook learns what was created. */
static baton_status tx_begin(session *e, baton_error *err) {
    memset(&e->info, 0, sizeof e->info);
    e->info.min_timer_due = INT64_MAX;
    e->pushed = false;
    return e->ops->begin(e->store, err);
}

static baton_status tx_commit(session *e, baton_error *err) {
    baton_status st = e->ops->commit(e->store, err);
    if (!st && e->eng->commit_hook &&
        (e->info.min_timer_due != INT64_MAX || e->info.n_job_types || e->info.user_tasks)) {
        e->info.job_types = e->job_type_ptrs;
        e->eng->commit_hook(e->eng->commit_cookie, &e->info);
    }
    return st;
}

static void note_timer(session *e, int64_t due) {
    if (due < e->info.min_timer_due)
        e->info.min_timer_due = due;
}

static void note_job(session *e, const char *type) {
    for (uint32_t i = 0; i < e->info.n_job_types; i++)
        if (strcmp(e->job_types[i], type) == 0)
            return;
    if (e->info.n_job_types < 8) {
        snprintf(e->job_types[e->info.n_job_types], sizeof e->job_types[0], "%s", type);
        e->job_type_ptrs[e->info.n_job_types] = e->job_types[e->info.n_job_types];
        e->info.n_job_types++;
    }
}

/* ---- models ------------------------------------------------------------------------ */

/* Caller holds models_lock. */
static baton_status cache_model(baton_engine *e, int64_t deployment, baton_model *m) {
    if (e->n_deps == e->cap_deps) {
        uint32_t cap = e->cap_deps ? e->cap_deps * 2 : 16;
        dep_model *d = baton_realloc(e->deps, cap * sizeof *d);
        if (!d)
            return BATON_NOMEM;
        e->deps = d;
        e->cap_deps = cap;
    }
    e->deps[e->n_deps++] = (dep_model){deployment, m};
    return BATON_OK;
}

static baton_status cache_model_locked(baton_engine *e, int64_t deployment, baton_model *m) {
    pthread_mutex_lock(&e->models_lock);
    baton_status st = cache_model(e, deployment, m);
    pthread_mutex_unlock(&e->models_lock);
    return st;
}

/* The model of a deployment, parsed once and cached for the engine's life. */
static baton_model *model_of(session *e, int64_t deployment, baton_error *err) {
    baton_engine *eng = e->eng;
    pthread_mutex_lock(&eng->models_lock);
    for (uint32_t i = 0; i < eng->n_deps; i++)
        if (eng->deps[i].deployment == deployment) {
            baton_model *m = eng->deps[i].model;
            pthread_mutex_unlock(&eng->models_lock);
            return m;
        }
    pthread_mutex_unlock(&eng->models_lock);
    baton_deployment_row row;
    if (e->ops->deployment_get(e->store, deployment, &row, err))
        return NULL;
    baton_load_opts lo = {.name = row.name, .unexecutable_as_warnings = true};
    baton_model *m = NULL;
    if (baton_bpmn_load(row.xml, row.xml_len, &lo, NULL, &m, err))
        return NULL;
    pthread_mutex_lock(&eng->models_lock);
    /* another session may have parsed it meanwhile */
    for (uint32_t i = 0; i < eng->n_deps; i++)
        if (eng->deps[i].deployment == deployment) {
            baton_model_unref(m);
            m = eng->deps[i].model;
            pthread_mutex_unlock(&eng->models_lock);
            return m;
        }
    if (cache_model(eng, deployment, m)) {
        pthread_mutex_unlock(&eng->models_lock);
        baton_model_unref(m);
        baton_error_set(err, BATON_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_unlock(&eng->models_lock);
    return m;
}

baton_model *baton_engine_deployment_model(baton_engine *eng, int64_t deployment) {
    session *e = acquire(eng);
    baton_model *m = model_of(e, deployment, NULL);
    release(e);
    return m;
}

static baton_status definition(session *e, const char *pid, int32_t version,
                               baton_definition_row *row, baton_model **m, baton_idx *p,
                               baton_error *err) {
    baton_status st = version > 0 ? e->ops->definition_get(e->store, pid, version, row, err)
                                  : e->ops->definition_latest(e->store, pid, row, err);
    if (st == BATON_NOTFOUND) {
        if (version > 0)
            return baton_error_set(err, BATON_NOTFOUND, "process '%s' has no version %d", pid,
                                   version);
        return baton_error_set(err, BATON_NOTFOUND, "no process '%s' is deployed", pid);
    }
    if (st)
        return st;
    *m = model_of(e, row->deployment, err);
    if (!*m)
        return err && err->code ? err->code : BATON_STORE;
    *p = baton_model_find_process(*m, pid);
    if (*p == BATON_NONE)
        return baton_error_set(err, BATON_INTERNAL, "deployment %lld lost process '%s'",
                               (long long)row->deployment, pid);
    return BATON_OK;
}

baton_status baton_engine_definition(baton_engine *eng, const char *process_id, int32_t version,
                                     baton_model **model_out, int32_t *version_out,
                                     baton_error *err) {
    session *e = acquire(eng);
    baton_definition_row row;
    baton_idx p;
    baton_status st = definition(e, process_id, version, &row, model_out, &p, err);
    if (!st && version_out)
        *version_out = row.version;
    release(e);
    return st;
}

/* ---- persisting a step ----------------------------------------------------------------- */

static const char *elem_id(const baton_model *m, baton_idx n) {
    const baton_graph *g = baton_model_graph(m);
    return n < g->n_nodes ? g->nodes[n].id : NULL;
}

static baton_status push_event(session *e, baton_outbox_kind kind, int64_t instance, int64_t key,
                               cJSON *payload, baton_error *err) {
    char *text = payload ? cJSON_PrintUnformatted(payload) : NULL;
    cJSON_Delete(payload);
    if (payload && !text)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    baton_event_row row = {0, (int32_t)kind, instance, key, text, now_of(e)};
    baton_status st = e->ops->event_push(e->store, &row, err);
    e->pushed = true;
    cJSON_free(text);
    return st;
}

static cJSON *json_or_empty(const cJSON *v) {
    return v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
}

/* Rows and outbox events for one record. */
static baton_status materialize(session *e, baton_instance *inst, baton_instance_row *row,
                                const baton_record *r, baton_error *err) {
    const baton_model *m = baton_instance_model(inst);
    int64_t id = row->id;
    const baton_store_ops *o = e->ops;
    baton_store *s = e->store;
    int64_t now = now_of(e);
    switch ((baton_record_kind)r->kind) {
    case BATON_REC_JOB_CREATED: {
        baton_job_row j = {id,   r->key, r->name, elem_id(m, r->element), (int32_t)r->aux, 0,
                           NULL, 0,      now};
        note_job(e, r->name ? r->name : "");
        return o->job_put(s, &j, err);
    }
    case BATON_REC_JOB_FAILED:
    case BATON_REC_JOB_RETRIES_UPDATED: {
        baton_job_row j;
        if (o->job_get(s, id, r->key, &j, err))
            return BATON_OK;
        baton_job_row n = j;
        n.retries = (int32_t)r->aux;
        n.worker = NULL;
        n.lock_expiry = 0;
        n.available_at = now + r->aux2;
        char *type = baton_strdup(j.type), *el = baton_strdup(j.element);
        n.type = type;
        n.element = el;
        baton_status st = (type && el) ? o->job_put(s, &n, err)
                                       : baton_error_set(err, BATON_NOMEM, "out of memory");
        baton_free(type);
        baton_free(el);
        return st;
    }
    case BATON_REC_USER_TASK_CREATED:
    case BATON_REC_USER_TASK_ASSIGNED: {
        const baton_wait *w = baton_instance_wait(inst, r->key);
        if (!w)
            return BATON_OK;
        const baton_graph *g = baton_model_graph(m);
        char *details = w->value ? cJSON_PrintUnformatted(w->value) : NULL;
        if (r->kind == BATON_REC_USER_TASK_CREATED)
            e->info.user_tasks++;
        baton_task_row t = {id,
                            r->key,
                            elem_id(m, w->element),
                            g->nodes[w->element].name,
                            row->process_id,
                            w->text,
                            details,
                            w->created};
        baton_status st = o->task_put(s, &t, err);
        cJSON_free(details);
        return st;
    }
    case BATON_REC_TIMER_SCHEDULED: {
        baton_timer_row t = {id, r->key, r->aux, row->deployment, elem_id(m, r->element), 0};
        note_timer(e, r->aux);
        return o->timer_put(s, &t, err);
    }
    case BATON_REC_MESSAGE_SUBSCRIBED:
    case BATON_REC_SIGNAL_SUBSCRIBED: {
        baton_sub_row sub = {id, r->key, r->name, r->text, elem_id(m, r->element)};
        baton_status st = o->sub_put(s, r->kind == BATON_REC_SIGNAL_SUBSCRIBED, &sub, err);
        if (st || r->kind == BATON_REC_SIGNAL_SUBSCRIBED)
            return st;
        /* a message published before anyone waited: deliver it after this step */
        baton_message_row buffered;
        if (o->message_find(s, r->name ? r->name : "", r->text, now, &buffered, NULL) == BATON_OK) {
            cJSON *p = cJSON_CreateObject();
            if (!p)
                return baton_error_set(err, BATON_NOMEM, "out of memory");
            cJSON_AddStringToObject(p, "name", r->name ? r->name : "");
            if (r->text)
                cJSON_AddStringToObject(p, "correlation", r->text);
            return push_event(e, BATON_OUTBOX_DELIVER_BUFFERED, id, r->key, p, err);
        }
        return BATON_OK;
    }
    case BATON_REC_WAIT_TRIGGERED:
    case BATON_REC_WAIT_CLOSED:
        switch ((baton_wait_kind)r->aux) {
        case BATON_WAIT_JOB:
        case BATON_WAIT_USER_TASK:
        case BATON_WAIT_TIMER:
        case BATON_WAIT_MESSAGE:
        case BATON_WAIT_SIGNAL:
            /* the wait's row, if any; not waited for (PostgreSQL sends it with the commit) */
            return o->wait_drop(s, (int)r->aux, id, r->key, err);
        case BATON_WAIT_CHILD:
            if (r->kind == BATON_REC_WAIT_CLOSED)
                return push_event(e, BATON_OUTBOX_CANCEL_CHILD, id, r->key, NULL, err);
            break;
        default: break;
        }
        return BATON_OK;
    case BATON_REC_CHILD_REQUESTED: {
        cJSON *p = cJSON_CreateObject();
        if (!p)
            return baton_error_set(err, BATON_NOMEM, "out of memory");
        cJSON_AddStringToObject(p, "process", r->name ? r->name : "");
        if (r->text)
            cJSON_AddStringToObject(p, "business_key", r->text);
        cJSON_AddItemToObject(p, "variables", json_or_empty(r->value));
        return push_event(e, BATON_OUTBOX_START_CHILD, id, r->key, p, err);
    }
    case BATON_REC_SIGNAL_THROWN: {
        cJSON *p = cJSON_CreateObject();
        if (!p)
            return baton_error_set(err, BATON_NOMEM, "out of memory");
        cJSON_AddStringToObject(p, "name", r->name ? r->name : "");
        /* the throwing instance caught it already, inside its step */
        return push_event(e, BATON_OUTBOX_SIGNAL, id, r->key, p, err);
    }
    case BATON_REC_MESSAGE_SENT: {
        cJSON *p = cJSON_CreateObject();
        if (!p)
            return baton_error_set(err, BATON_NOMEM, "out of memory");
        cJSON_AddStringToObject(p, "name", r->name ? r->name : "");
        if (r->text)
            cJSON_AddStringToObject(p, "correlation", r->text);
        cJSON_AddItemToObject(p, "variables", json_or_empty(r->value));
        return push_event(e, BATON_OUTBOX_MESSAGE, id, r->key, p, err);
    }
    case BATON_REC_PARENT_NOTIFIED: {
        cJSON *p = cJSON_CreateObject();
        if (!p)
            return baton_error_set(err, BATON_NOMEM, "out of memory");
        cJSON_AddNumberToObject(p, "kind", (double)r->aux);
        if (r->name)
            cJSON_AddStringToObject(p, "code", r->name);
        if (r->text)
            cJSON_AddStringToObject(p, "message", r->text);
        cJSON_AddItemToObject(p, "variables", json_or_empty(r->value));
        if (r->aux == BATON_NOTIFY_ERROR) {
            cJSON_AddNumberToObject(p, "origin_id", (double)r->aux2);
            cJSON_AddNumberToObject(p, "origin_key", (double)r->key);
        }
        return push_event(e, BATON_OUTBOX_NOTIFY_PARENT, row->parent_id, row->parent_key, p, err);
    }
    case BATON_REC_ERROR_UNHANDLED:
        return push_event(e, BATON_OUTBOX_ERROR_UNHANDLED, r->aux, r->aux2, NULL, err);
    case BATON_REC_INCIDENT_RAISED: {
        baton_incident_row in = {id, r->key, elem_id(m, r->element), r->name, r->text, now};
        row->incidents++;
        return o->incident_put(s, &in, err);
    }
    case BATON_REC_INCIDENT_RESOLVED:
        if (row->incidents > 0)
            row->incidents--;
        o->incident_delete(s, id, r->key, NULL);
        return BATON_OK;
    case BATON_REC_INSTANCE_ENDED:
        row->state = (int32_t)r->aux;
        row->ended = now;
        return BATON_OK;
    default: return BATON_OK;
    }
}

/* Write the step's records, rows and the new state. */
static baton_status persist(session *e, baton_instance *inst, baton_instance_row *row,
                            baton_error *err) {
    const baton_model *m = baton_instance_model(inst);
    uint32_t n = baton_stepper_record_count(e->stepper);
    baton_status st = BATON_OK;
    for (uint32_t i = 0; i < n && !st; i++)
        st = materialize(e, inst, row, baton_stepper_record(e->stepper, i), err);
    if (st)
        return st;
    cJSON *sj = baton_instance_to_json(inst);
    char *state = sj ? cJSON_PrintUnformatted(sj) : NULL;
    cJSON_Delete(sj);
    if (!state)
        return baton_error_set(err, BATON_NOMEM, "out of memory writing state");
    row->seq = baton_instance_seq(inst);
    if (row->state == 0)
        row->state = BATON_INSTANCE_ACTIVE;
    st = e->ops->instance_put(e->store, row, state, err);
    cJSON_free(state);
    for (uint32_t i = 0; i < n && !st; i++) {
        const baton_record *r = baton_stepper_record(e->stepper, i);
        cJSON *j = baton_record_to_json(r, m);
        char *text = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!text)
            return baton_error_set(err, BATON_NOMEM, "out of memory writing history");
        const baton_graph *gr = baton_model_graph(m);
        const char *el =
            r->kind == BATON_REC_FLOW_TAKEN ? gr->flows[r->flow].id
            : (r->kind == BATON_REC_INSTANCE_CREATED || r->kind == BATON_REC_INSTANCE_ENDED)
                ? (r->element < gr->n_processes ? gr->processes[r->element].id : NULL)
                : elem_id(m, r->element);
        st = e->ops->history_append(e->store, row->id, r->seq, r->at,
                                    baton_record_kind_name((baton_record_kind)r->kind), el, text,
                                    err);
        cJSON_free(text);
        if (!st && e->eng->observer)
            e->eng->observer(e->eng->observer_cookie, row->id, m, r);
    }
    return st;
}

/* Load, step and persist one instance inside the current transaction. */
static baton_status step_instance(session *e, int64_t id, const baton_input *in, baton_error *err) {
    baton_instance_row row;
    const char *state_text = NULL;
    baton_status st = e->ops->instance_get(e->store, id, &row, &state_text, err);
    if (st)
        return st;
    /* the row's strings belong to the store until its next call (model_of may make one,
       and so do the writes): parse and copy them first */
    cJSON *sj = cJSON_Parse(state_text);
    char *pid = baton_strdup(row.process_id);
    char *bk = row.business_key ? baton_strdup(row.business_key) : NULL;
    baton_instance *inst = NULL;
    baton_model *m = NULL;
    if (!pid || (row.business_key && !bk)) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
    } else if (!sj) {
        st = baton_error_set(err, BATON_STORE, "instance %lld: stored state is not JSON",
                             (long long)id);
    } else if (!(m = model_of(e, row.deployment, err))) {
        st = err && err->code ? err->code : BATON_STORE;
    } else {
        st = baton_instance_from_json(m, sj, &inst, err);
    }
    cJSON_Delete(sj);
    if (st)
        goto done;
    row.process_id = pid;
    row.business_key = bk;
    st = baton_step(e->stepper, inst, in, now_of(e), err);
    if (!st)
        st = persist(e, inst, &row, err);
done:
    baton_free(pid);
    baton_free(bk);
    baton_instance_free(inst);
    return st;
}

static baton_status start_in_tx(session *e, baton_model *m, int64_t deployment, int32_t version,
                                baton_idx p, baton_idx start, const cJSON *vars,
                                const char *business_key, int64_t parent, int64_t parent_key,
                                int64_t *id_out, baton_error *err) {
    int64_t id;
    baton_status st = e->ops->instance_new_id(e->store, &id, err);
    if (st)
        return st;
    baton_instance *inst = baton_instance_new(m, p, id);
    if (!inst)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    baton_input in = {0};
    in.kind = BATON_IN_START;
    in.node = start;
    in.variables = vars;
    in.text = business_key;
    in.parent_id = parent;
    in.parent_key = parent_key;
    st = baton_step(e->stepper, inst, &in, now_of(e), err);
    if (!st) {
        baton_instance_row row = {0};
        row.id = id;
        row.deployment = deployment;
        row.process_id = baton_model_graph(m)->processes[p].id;
        row.version = version;
        row.business_key = business_key;
        row.parent_id = parent;
        row.parent_key = parent_key;
        row.started = now_of(e);
        st = persist(e, inst, &row, err);
    }
    baton_instance_free(inst);
    if (!st && id_out)
        *id_out = id;
    return st;
}

/* ---- outbox -------------------------------------------------------------------------- */

typedef struct latest_def {
    char *process_id;
    int32_t version;
    int64_t deployment;
} latest_def;

typedef struct def_list {
    latest_def *items;
    uint32_t n, cap;
    bool nomem;
} def_list;

static int collect_latest(void *cookie, const void *row) {
    def_list *l = cookie;
    const baton_definition_row *d = row;
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].process_id, d->process_id) == 0) {
            if (d->version > l->items[i].version) {
                l->items[i].version = d->version;
                l->items[i].deployment = d->deployment;
            }
            return 0;
        }
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 16;
        latest_def *it = baton_realloc(l->items, cap * sizeof *it);
        if (!it) {
            l->nomem = true;
            return 1;
        }
        l->items = it;
        l->cap = cap;
    }
    l->items[l->n].process_id = baton_strdup(d->process_id);
    if (!l->items[l->n].process_id) {
        l->nomem = true;
        return 1;
    }
    l->items[l->n].version = d->version;
    l->items[l->n].deployment = d->deployment;
    l->n++;
    return 0;
}

static void def_list_free(def_list *l) {
    for (uint32_t i = 0; i < l->n; i++)
        baton_free(l->items[i].process_id);
    baton_free(l->items);
}

/* Process ids a message has already reached (at most once per process). */
typedef struct proc_set {
    char ids[64][128];
    uint32_t n;
} proc_set;

static bool proc_set_has(const proc_set *ps, const char *id) {
    for (uint32_t i = 0; ps && i < ps->n; i++)
        if (strcmp(ps->ids[i], id) == 0)
            return true;
    return false;
}

static void proc_set_add(proc_set *ps, const char *id) {
    if (ps->n < 64 && !proc_set_has(ps, id))
        snprintf(ps->ids[ps->n++], sizeof ps->ids[0], "%s", id);
}

static int found_one(void *cookie, const void *row) {
    (void)row;
    *(bool *)cookie = true;
    return 1;
}

/* Is an instance of `process_id` with business key `key` active? One index probe (by key). */
static baton_status active_with_key(session *e, const char *process_id, const char *key,
                                    bool *found_out, baton_error *err) {
    baton_instance_filter f = {
        .state = BATON_INSTANCE_ACTIVE, .process_id = process_id, .business_key = key, .limit = 1};
    bool found = false;
    baton_status st = e->ops->instance_query(e->store, &f, found_one, &found, err);
    if (!st)
        *found_out = found;
    return st;
}

/*
 * Start an instance of every latest definition whose root scope has a start
 * event of `kind` (message/signal) named `name`, except processes in `skip`.
 * A message start with a correlation key (Camunda 8) starts no second
 * instance while one started with the same key is active: the key becomes
 * the instance's business key. Returns how many started.
 */
static baton_status start_by_event(session *e, baton_outbox_kind kind, const char *name,
                                   const char *correlation, const proc_set *skip, const cJSON *vars,
                                   uint32_t *started, int64_t *first_id, baton_error *err) {
    def_list l = {0};
    baton_status st = e->ops->definition_list(e->store, collect_latest, &l, err);
    if (!st && l.nomem)
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
    for (uint32_t i = 0; !st && i < l.n; i++) {
        baton_model *m = model_of(e, l.items[i].deployment, err);
        if (!m) {
            st = err && err->code ? err->code : BATON_STORE;
            break;
        }
        const baton_graph *g = baton_model_graph(m);
        baton_idx p = baton_model_find_process(m, l.items[i].process_id);
        if (p == BATON_NONE || proc_set_has(skip, l.items[i].process_id))
            continue;
        const baton_scope *sc = &g->scopes[g->processes[p].root_scope];
        for (uint32_t k = 0; k < sc->n_starts && !st; k++) {
            const baton_node *n = &g->nodes[sc->starts[k]];
            if (!n->n_events)
                continue;
            const baton_event_def *d = &n->events[0];
            const char *ev_name = NULL;
            if (kind == BATON_OUTBOX_MESSAGE && d->kind == BATON_EVENT_MESSAGE &&
                d->ref != BATON_NONE)
                ev_name = g->messages[d->ref].name;
            else if (kind == BATON_OUTBOX_SIGNAL && d->kind == BATON_EVENT_SIGNAL &&
                     d->ref != BATON_NONE)
                ev_name = g->signals[d->ref].name;
            if (!ev_name || strcmp(ev_name, name) != 0)
                continue;
            if (correlation) {
                bool active = false;
                st = active_with_key(e, l.items[i].process_id, correlation, &active, err);
                if (st || active)
                    continue;
            }
            int64_t id;
            st = start_in_tx(e, m, l.items[i].deployment, l.items[i].version, p, sc->starts[k],
                             vars, correlation, 0, 0, &id, err);
            if (!st) {
                if (started)
                    (*started)++;
                if (first_id && !*first_id)
                    *first_id = id;
            }
        }
    }
    def_list_free(&l);
    return st;
}

typedef struct key_list {
    int64_t *inst, *key;
    uint32_t n, cap;
    bool nomem;
} key_list;

static int collect_sub(void *cookie, const void *row) {
    key_list *l = cookie;
    const baton_sub_row *s = row;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 16;
        int64_t *a = baton_realloc(l->inst, cap * sizeof *a);
        if (a)
            l->inst = a;
        int64_t *b = a ? baton_realloc(l->key, cap * sizeof *b) : NULL;
        if (b)
            l->key = b;
        if (!a || !b) {
            l->nomem = true;
            return 1;
        }
        l->cap = cap;
    }
    l->inst[l->n] = s->instance;
    l->key[l->n] = s->key;
    l->n++;
    return 0;
}

static int collect_child(void *cookie, const void *row) {
    const baton_instance_row *r = row;
    if (r->state != BATON_INSTANCE_ACTIVE)
        return 0;
    baton_sub_row s = {r->id, 0, NULL, NULL, NULL};
    return collect_sub(cookie, &s);
}

static void key_list_free(key_list *l) {
    baton_free(l->inst);
    baton_free(l->key);
}

/* Deliver a signal inside the current transaction (not to instance `except`). */
static baton_status signal_in_tx(session *e, const char *name, const cJSON *vars, int64_t except,
                                 uint32_t *delivered, baton_error *err) {
    key_list l = {0};
    baton_status st = e->ops->sub_find(e->store, 1, name, NULL, collect_sub, &l, err);
    if (!st && l.nomem)
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
    for (uint32_t i = 0; !st && i < l.n; i++) {
        if (l.inst[i] == except)
            continue;
        baton_input in = {0};
        in.kind = BATON_IN_SIGNAL;
        in.key = l.key[i];
        in.variables = vars;
        baton_error e2;
        baton_error_clear(&e2);
        baton_status s2 = step_instance(e, l.inst[i], &in, &e2);
        if (s2 == BATON_OK) {
            if (delivered)
                (*delivered)++;
        } else if (s2 != BATON_NOTFOUND && s2 != BATON_CONFLICT) {
            st = s2;
            if (err && !err->code)
                *err = e2;
        }
    }
    key_list_free(&l);
    if (!st)
        st = start_by_event(e, BATON_OUTBOX_SIGNAL, name, NULL, NULL, vars, delivered, NULL, err);
    return st;
}

/* Correlate inside the current transaction. */
static baton_status correlate_in_tx(session *e, const char *name, const char *correlation,
                                    const cJSON *vars, const char *message_id, int64_t ttl_ms,
                                    int64_t only_instance, baton_correlation *out,
                                    baton_error *err) {
    baton_correlation res = {0, 0};
    int64_t now = now_of(e);
    if (message_id) {
        baton_message_row dup;
        if (e->ops->message_find_id(e->store, message_id, now, &dup, NULL) == BATON_OK)
            return baton_error_set(err, BATON_CONFLICT,
                                   "message id '%s' was already published and is still buffered",
                                   message_id);
    }
    key_list l = {0};
    baton_status st = e->ops->sub_find(e->store, 0, name, correlation, collect_sub, &l, err);
    if (!st && l.nomem)
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
    /*
     * As Camunda 8: a message reaches at most one subscription per process
     * (the oldest), then the message start events of processes it did not
     * reach. With only_instance (Camunda 7's correlation by execution) it
     * reaches that instance only.
     */
    proc_set reached = {.n = 0};
    for (uint32_t i = 0; !st && i < l.n; i++) {
        if (only_instance && (l.inst[i] != only_instance || res.kind))
            continue;
        baton_instance_row row;
        if (e->ops->instance_get(e->store, l.inst[i], &row, NULL, NULL) != BATON_OK ||
            proc_set_has(&reached, row.process_id))
            continue;
        char pid[128];
        snprintf(pid, sizeof pid, "%s", row.process_id);
        baton_input in = {0};
        in.kind = BATON_IN_MESSAGE;
        in.key = l.key[i];
        in.variables = vars;
        baton_error e2;
        baton_error_clear(&e2);
        baton_status s2 = step_instance(e, l.inst[i], &in, &e2);
        if (s2 == BATON_OK) {
            proc_set_add(&reached, pid);
            if (!res.kind) {
                res.kind = 1;
                res.instance = l.inst[i];
            }
        } else if (s2 != BATON_NOTFOUND && s2 != BATON_CONFLICT) {
            st = s2;
            if (err && !err->code)
                *err = e2;
        }
    }
    key_list_free(&l);
    if (!st && !only_instance) {
        uint32_t started = 0;
        int64_t first = 0;
        st = start_by_event(e, BATON_OUTBOX_MESSAGE, name, correlation, &reached, vars, &started,
                            &first, err);
        if (!st && started && !res.kind) {
            res.kind = 2;
            res.instance = first;
        }
    }
    if (!st && res.kind && message_id && ttl_ms > 0) {
        /* remember the id for its time-to-live, so a second publish is a duplicate;
           the marker's name can never match a subscription */
        baton_message_row mark = {0, "\001delivered", NULL, message_id, NULL, now + ttl_ms};
        st = e->ops->message_put(e->store, &mark, err);
    }
    if (!st && !res.kind && ttl_ms > 0) {
        char *text = vars ? cJSON_PrintUnformatted(vars) : NULL;
        baton_message_row mr = {0, name, correlation, message_id, text, now + ttl_ms};
        st = e->ops->message_put(e->store, &mr, err);
        cJSON_free(text);
        if (!st)
            res.kind = 3;
    }
    if (!st && out)
        *out = res;
    return st;
}

static int64_t json_int(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* Handle one outbox event inside the current transaction. */
static baton_status handle_event(session *e, const baton_event_row *ev, baton_error *err) {
    cJSON *p = ev->payload ? cJSON_Parse(ev->payload) : NULL;
    baton_status st = BATON_OK;
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(p, "variables");
    baton_error e2;
    baton_error_clear(&e2);
    switch ((baton_outbox_kind)ev->kind) {
    case BATON_OUTBOX_START_CHILD: {
        const char *pid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "process"));
        const char *bk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "business_key"));
        baton_definition_row def;
        baton_model *m = NULL;
        baton_idx pi = BATON_NONE;
        baton_status s2 = definition(e, pid ? pid : "", 0, &def, &m, &pi, &e2);
        if (s2 == BATON_NOTFOUND) {
            /* not deployed on its own (e.g. isExecutable="false"): a process of the
               caller's own file is still callable */
            baton_instance_row caller;
            if (e->ops->instance_get(e->store, ev->instance, &caller, NULL, NULL) == BATON_OK &&
                (m = model_of(e, caller.deployment, NULL)) &&
                (pi = baton_model_find_process(m, pid ? pid : "")) != BATON_NONE) {
                def.deployment = caller.deployment;
                def.version = 0;
                def.process_id = pid;
                s2 = BATON_OK;
                baton_error_clear(&e2);
            }
        }
        if (s2 == BATON_OK)
            s2 = start_in_tx(e, m, def.deployment, def.version, pi, BATON_NONE, vars, bk,
                             ev->instance, ev->key, NULL, &e2);
        if (s2 == BATON_NOTFOUND || s2 == BATON_INVALID || s2 == BATON_MODEL) {
            baton_input in = {0};
            in.kind = BATON_IN_CHILD_FAILED;
            in.key = ev->key;
            in.text = e2.message;
            baton_error e3;
            baton_error_clear(&e3);
            s2 = step_instance(e, ev->instance, &in, &e3);
            if (s2 == BATON_NOTFOUND || s2 == BATON_CONFLICT)
                s2 = BATON_OK;
            else if (s2)
                e2 = e3;
        }
        if (s2)
            st = baton_error_set(err, s2, "%s", e2.message);
        break;
    }
    case BATON_OUTBOX_NOTIFY_PARENT: {
        int kind = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "kind"));
        baton_input in = {0};
        in.key = ev->key;
        in.variables = cJSON_IsObject(vars) ? vars : NULL;
        in.code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "code"));
        in.text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "message"));
        in.kind = kind == BATON_NOTIFY_DONE    ? BATON_IN_CHILD_DONE
                  : kind == BATON_NOTIFY_ERROR ? BATON_IN_CHILD_ERROR
                                               : BATON_IN_CHILD_ESCALATION;
        in.origin_id = json_int(p, "origin_id");
        in.origin_key = json_int(p, "origin_key");
        baton_status s2 = step_instance(e, ev->instance, &in, &e2);
        if (s2 && s2 != BATON_NOTFOUND && s2 != BATON_CONFLICT)
            st = baton_error_set(err, s2, "%s", e2.message);
        break;
    }
    case BATON_OUTBOX_CANCEL_CHILD: {
        key_list l = {0};
        st = e->ops->instance_children(e->store, ev->instance, ev->key, collect_child, &l, err);
        for (uint32_t i = 0; !st && i < l.n; i++) {
            baton_input in = {0};
            in.kind = BATON_IN_CANCEL;
            baton_status s2 = step_instance(e, l.inst[i], &in, &e2);
            if (s2 && s2 != BATON_NOTFOUND && s2 != BATON_CONFLICT)
                st = baton_error_set(err, s2, "%s", e2.message);
        }
        key_list_free(&l);
        break;
    }
    case BATON_OUTBOX_SIGNAL: {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
        st = signal_in_tx(e, name ? name : "", cJSON_IsObject(vars) ? vars : NULL, ev->instance,
                          NULL, err);
        break;
    }
    case BATON_OUTBOX_MESSAGE: {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
        const char *corr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "correlation"));
        st = correlate_in_tx(e, name ? name : "", corr, cJSON_IsObject(vars) ? vars : NULL, NULL, 0,
                             0, NULL, err);
        break;
    }
    case BATON_OUTBOX_DELIVER_BUFFERED: {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
        const char *corr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "correlation"));
        baton_message_row mr;
        if (e->ops->message_find(e->store, name ? name : "", corr, now_of(e), &mr, NULL))
            break; /* expired or taken meanwhile */
        int64_t msg_id = mr.id;
        cJSON *mvars = mr.variables ? cJSON_Parse(mr.variables) : NULL;
        baton_input in = {0};
        in.kind = BATON_IN_MESSAGE;
        in.key = ev->key;
        in.variables = cJSON_IsObject(mvars) ? mvars : NULL;
        baton_status s2 = step_instance(e, ev->instance, &in, &e2);
        cJSON_Delete(mvars);
        if (s2 == BATON_OK)
            st = e->ops->message_delete(e->store, msg_id, err);
        else if (s2 != BATON_NOTFOUND && s2 != BATON_CONFLICT)
            st = baton_error_set(err, s2, "%s", e2.message);
        break;
    }
    case BATON_OUTBOX_ERROR_UNHANDLED: {
        baton_input in = {0};
        in.kind = BATON_IN_ERROR_UNHANDLED;
        in.key = ev->key;
        baton_status s2 = step_instance(e, ev->instance, &in, &e2);
        if (s2 && s2 != BATON_NOTFOUND && s2 != BATON_CONFLICT)
            st = baton_error_set(err, s2, "%s", e2.message);
        break;
    }
    }
    cJSON_Delete(p);
    return st;
}

static void owe_settle(baton_engine *eng, bool owed) {
    pthread_mutex_lock(&eng->pool_lock);
    eng->settle_owed = owed;
    pthread_mutex_unlock(&eng->pool_lock);
}

static baton_status settle(session *e, baton_error *err) {
    for (uint32_t guard = 0; guard < 10000000u; guard++) {
        baton_status st = tx_begin(e, err);
        if (st)
            return st;
        baton_event_row ev;
        st = e->ops->event_peek(e->store, &ev, err);
        if (st == BATON_NOTFOUND) {
            e->ops->rollback(e->store);
            owe_settle(e->eng, false);
            return BATON_OK;
        }
        if (!st) {
            /* copy: the row points into the store */
            baton_event_row copy = ev;
            char *payload = ev.payload ? baton_strdup(ev.payload) : NULL;
            copy.payload = payload;
            st = handle_event(e, &copy, err);
            if (!st)
                st = e->ops->event_delete(e->store, copy.id, err);
            baton_free(payload);
        }
        if (!st)
            st = tx_commit(e, err);
        else
            e->ops->rollback(e->store);
        if (st) {
            owe_settle(e->eng, true);
            return st;
        }
    }
    owe_settle(e->eng, true);
    return baton_error_set(err, BATON_LIMIT, "outbox does not drain");
}

/*
 * After a command: deliver the outbox if this command wrote to it, or if an
 * earlier delivery failed and left events behind. A command that wrote
 * nothing there does not look (on PostgreSQL that saves a round trip and
 * three statements per command, on SQLite a pass through the write lock).
 * Events left by a crash are delivered when an engine opens the store;
 * nodes sharing one PostgreSQL database call baton_engine_settle now and
 * then for events another node left (the server's scheduler does).
 */
/*
 * After a command committed: deliver what it put in the outbox. The command
 * itself succeeded once it committed, so a delivery that fails here is not
 * the command's failure (a retried start would create a second instance):
 * it is logged, the event stays in the outbox, and the next command, the
 * next housekeeping settle or the next start delivers it.
 */
static baton_status settle_after(session *e, baton_error *err) {
    (void)err;
    baton_engine *eng = e->eng;
    pthread_mutex_lock(&eng->pool_lock);
    bool owed = eng->settle_owed;
    pthread_mutex_unlock(&eng->pool_lock);
    if (!e->pushed && !owed)
        return BATON_OK;
    baton_error se;
    baton_error_clear(&se);
    if (settle(e, &se))
        baton_log(BATON_LOG_WARN, "msg=\"outbox delivery deferred\" error=\"%s\"", se.message);
    return BATON_OK;
}

baton_status baton_engine_settle(baton_engine *eng, baton_error *err) {
    session *e = acquire(eng);
    baton_status st = settle(e, err);
    release(e);
    return st;
}

/* Run the statements in a transaction (commit on success), then settle (settle_after). */
#define TX(e, err, ...)                                                                            \
    do {                                                                                           \
        st = tx_begin(e, err);                                                                     \
        if (!st) {                                                                                 \
            __VA_ARGS__;                                                                           \
            if (!st)                                                                               \
                st = tx_commit(e, err);                                                            \
            else                                                                                   \
                (e)->ops->rollback((e)->store);                                                    \
        }                                                                                          \
        if (!st)                                                                                   \
            st = settle_after(e, err);                                                             \
    } while (0)

typedef struct waiting_msgs {
    int64_t inst[64], key[64];
    char *name[64], *corr[64];
    uint32_t n;
    bool nomem;
} waiting_msgs;

static int take_waiting(void *cookie, const void *row) {
    waiting_msgs *w = cookie;
    const baton_sub_row *r = row;
    if (w->n == 64)
        return 1;
    w->inst[w->n] = r->instance;
    w->key[w->n] = r->key;
    w->name[w->n] = baton_strdup(r->name ? r->name : "");
    w->corr[w->n] = r->correlation ? baton_strdup(r->correlation) : NULL;
    if (!w->name[w->n] || (r->correlation && !w->corr[w->n]))
        w->nomem = true;
    w->n++;
    return 0;
}

/*
 * Buffered messages that a waiting subscription matches. On PostgreSQL a
 * message published while a concurrent transaction opened the subscription
 * is buffered, and neither transaction saw the other's row. Their delivery
 * is queued in the outbox (DELIVER_BUFFERED, as when a subscription opens);
 * a delivery that finds the message gone or the wait closed does nothing, so
 * queueing one twice is harmless. Done at open and with every sweep.
 */
static baton_status queue_waiting_messages(session *e, uint32_t limit, baton_error *err) {
    waiting_msgs w;
    w.n = 0;
    w.nomem = false;
    baton_status st = e->ops->message_waiting(e->store, now_of(e), limit < 64 ? limit : 64,
                                              take_waiting, &w, err);
    if (!st && w.nomem)
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
    for (uint32_t i = 0; !st && i < w.n; i++) {
        cJSON *p = cJSON_CreateObject();
        if (!p || !cJSON_AddStringToObject(p, "name", w.name[i]) ||
            (w.corr[i] && !cJSON_AddStringToObject(p, "correlation", w.corr[i]))) {
            cJSON_Delete(p);
            st = baton_error_set(err, BATON_NOMEM, "out of memory");
            break;
        }
        st = push_event(e, BATON_OUTBOX_DELIVER_BUFFERED, w.inst[i], w.key[i], p, err);
    }
    for (uint32_t i = 0; i < w.n; i++) {
        baton_free(w.name[i]);
        baton_free(w.corr[i]);
    }
    return st;
}

/* Retention: one bounded batch in a short transaction of its own (engine.h). */
baton_status baton_engine_sweep(baton_engine *eng, int64_t max_age_ms, uint32_t batch,
                                uint32_t *removed_out, baton_error *err) {
    session *e = acquire(eng);
    int64_t now = now_of(e);
    uint32_t removed = 0;
    baton_status st = e->ops->purge(e->store, max_age_ms < 0 ? INT64_MIN : now - max_age_ms, now,
                                    batch ? batch : 100, &removed, err);
    if (!st)
        TX(e, err, { st = queue_waiting_messages(e, batch ? batch : 100, err); });
    release(e);
    if (!st && removed_out)
        *removed_out = removed;
    return st;
}

/* ---- deployments ----------------------------------------------------------------------- */

static void hash_hex(const char *data, size_t len, char out[33]) {
    /* two independent 64-bit FNV-1a variants: identity of deployed XML, not security */
    uint64_t a = 1469598103934665603ull, b = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < len; i++) {
        a ^= (unsigned char)data[i];
        a *= 1099511628211ull;
        b ^= (unsigned char)data[len - 1 - i];
        b *= 0x100000001b3ull;
        b ^= b >> 29;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* Schedule the timer start events of a new definition; drop the old version's. */
static baton_status schedule_start_timers(session *e, baton_model *m, int64_t deployment,
                                          baton_idx p, int64_t old_deployment, baton_error *err) {
    const baton_graph *g = baton_model_graph(m);
    const baton_scope *sc = &g->scopes[g->processes[p].root_scope];
    if (old_deployment)
        for (uint32_t k = 0; k < sc->n_starts; k++)
            e->ops->timer_delete(e->store, 0, (old_deployment << 24) | sc->starts[k], NULL);
    int64_t now = now_of(e);
    for (uint32_t k = 0; k < sc->n_starts; k++) {
        const baton_node *n = &g->nodes[sc->starts[k]];
        if (!n->n_events || n->events[0].kind != BATON_EVENT_TIMER || !n->events[0].timer.expr)
            continue;
        const baton_event_def *d = &n->events[0];
        baton_expr_env env = {0};
        env.now_ms = now;
        char *text = NULL;
        if (baton_expr_eval_string(d->timer.expr, &env, &text, err))
            return err->code;
        int64_t due = 0;
        int32_t repeat = 0;
        baton_status st = BATON_OK;
        if (d->timer_kind == BATON_TIMER_DATE) {
            st = baton_iso_parse_instant(text, NULL, &due, err);
        } else if (d->timer_kind == BATON_TIMER_DURATION) {
            baton_duration du;
            st = baton_iso_parse_duration(text, &du, err);
            due = baton_iso_add(now, du, NULL);
        } else if (baton_cron_looks_like(text)) {
            baton_cron cr;
            st = baton_cron_parse(text, &cr, err);
            due = st ? 0 : baton_cron_next(&cr, now);
            repeat = -1;
        } else {
            baton_cycle c;
            st = baton_iso_parse_cycle(text, NULL, &c, err);
            if (!st) {
                due = c.start_ms != INT64_MIN ? c.start_ms : baton_iso_add(now, c.period, NULL);
                repeat = c.repeat < 0 ? -1 : c.repeat - 1;
            }
        }
        baton_free(text);
        if (st) {
            baton_error_where(err, "element '%s'", n->id);
            return st;
        }
        baton_timer_row t = {0, (deployment << 24) | sc->starts[k], due, deployment, n->id, repeat};
        note_timer(e, due);
        if ((st = e->ops->timer_put(e->store, &t, err)))
            return st;
    }
    return BATON_OK;
}

baton_status baton_engine_deploy(baton_engine *eng, const char *name, const char *xml, size_t len,
                                 baton_diags *diags, baton_deploy_result *out, baton_error *err) {
    baton_load_opts lo = {.name = name, .unexecutable_as_warnings = eng->lenient};
    baton_model *m = NULL;
    baton_status st = baton_bpmn_load(xml, len, &lo, diags, &m, err);
    if (st)
        return st;
    char hash[33];
    hash_hex(xml, len, hash);
    baton_deploy_result res;
    memset(&res, 0, sizeof res);
    session *e = acquire(eng);
    bool cached = false;
    TX(e, err, {
        int64_t existing;
        st = e->ops->deployment_find_hash(e->store, hash, &existing, err);
        if (st == BATON_OK) {
            res.deployment = existing;
            res.duplicate = true;
        } else if (st == BATON_NOTFOUND) {
            baton_deployment_row row = {0, name, xml, len, hash, now_of(e)};
            st = e->ops->deployment_put(e->store, &row, err);
            res.deployment = row.id;
            const baton_graph *g = baton_model_graph(m);
            for (uint32_t i = 0; !st && i < g->n_processes; i++) {
                if (!g->processes[i].executable)
                    continue;
                baton_definition_row prev;
                int32_t version = 1;
                int64_t old = 0;
                baton_status ps =
                    e->ops->definition_latest(e->store, g->processes[i].id, &prev, err);
                if (ps == BATON_OK) {
                    version = prev.version + 1;
                    old = prev.deployment;
                } else if (ps != BATON_NOTFOUND) {
                    st = ps;
                    break;
                }
                baton_definition_row def = {g->processes[i].id, version, row.id};
                st = e->ops->definition_put(e->store, &def, err);
                if (!st)
                    st = schedule_start_timers(e, m, row.id, i, old, err);
                if (!st && res.n_processes < 16) {
                    snprintf(res.processes[res.n_processes].id, sizeof res.processes[0].id, "%s",
                             g->processes[i].id);
                    res.processes[res.n_processes++].version = version;
                }
            }
            if (!st && !(st = cache_model_locked(eng, row.id, m)))
                cached = true;
        }
    });
    if (res.duplicate && !st) {
        /* report the existing versions */
        const baton_graph *g = baton_model_graph(m);
        for (uint32_t i = 0; i < g->n_processes && res.n_processes < 16; i++) {
            baton_definition_row prev;
            if (g->processes[i].executable &&
                e->ops->definition_latest(e->store, g->processes[i].id, &prev, NULL) == BATON_OK) {
                snprintf(res.processes[res.n_processes].id, sizeof res.processes[0].id, "%s",
                         g->processes[i].id);
                res.processes[res.n_processes++].version = prev.version;
            }
        }
    }
    release(e);
    if (!cached)
        baton_model_unref(m);
    if (!st && out)
        *out = res;
    return st;
}

/* ---- commands ------------------------------------------------------------------------------ */

static baton_status start_common(baton_engine *eng, const char *pid, int32_t version,
                                 const char *start_event, const cJSON *vars, const char *bk,
                                 int64_t *id_out, baton_error *err) {
    baton_status st;
    session *e = acquire(eng);
    TX(e, err, {
        baton_definition_row def;
        baton_model *m = NULL;
        baton_idx p = BATON_NONE;
        st = definition(e, pid, version, &def, &m, &p, err);
        baton_idx start = BATON_NONE;
        if (!st && start_event) {
            start = baton_model_find_node(m, start_event);
            if (start == BATON_NONE)
                st = baton_error_set(err, BATON_NOTFOUND, "process '%s' has no element '%s'", pid,
                                     start_event);
        }
        if (!st)
            st = start_in_tx(e, m, def.deployment, def.version, p, start, vars, bk, 0, 0, id_out,
                             err);
    });
    release(e);
    return st;
}

baton_status baton_engine_start(baton_engine *eng, const char *process_id, int32_t version,
                                const cJSON *variables, const char *business_key,
                                int64_t *instance_out, baton_error *err) {
    return start_common(eng, process_id, version, NULL, variables, business_key, instance_out, err);
}

baton_status baton_engine_start_at(baton_engine *eng, const char *process_id, int32_t version,
                                   const char *start_event, const cJSON *variables,
                                   const char *business_key, int64_t *instance_out,
                                   baton_error *err) {
    return start_common(eng, process_id, version, start_event, variables, business_key,
                        instance_out, err);
}

baton_status baton_engine_apply(baton_engine *eng, int64_t instance, const baton_input *in,
                                baton_error *err) {
    baton_status st;
    session *e = acquire(eng);
    TX(e, err, { st = step_instance(e, instance, in, err); });
    release(e);
    return st;
}

baton_status baton_engine_correlate(baton_engine *eng, const char *name, const char *correlation,
                                    const cJSON *variables, const char *message_id, int64_t ttl_ms,
                                    int64_t only_instance, baton_correlation *out,
                                    baton_error *err) {
    baton_status st;
    session *e = acquire(eng);
    TX(e, err, {
        st = correlate_in_tx(e, name, correlation, variables, message_id, ttl_ms, only_instance,
                             out, err);
    });
    release(e);
    return st;
}

baton_status baton_engine_signal(baton_engine *eng, const char *name, const cJSON *variables,
                                 uint32_t *delivered_out, baton_error *err) {
    baton_status st;
    uint32_t n = 0;
    session *e = acquire(eng);
    TX(e, err, { st = signal_in_tx(e, name, variables, 0, &n, err); });
    release(e);
    if (delivered_out)
        *delivered_out = n;
    return st;
}

typedef struct first_timer {
    baton_timer_row row;
    bool found;
} first_timer;

static int take_first_timer(void *cookie, const void *row) {
    first_timer *f = cookie;
    f->row = *(const baton_timer_row *)row;
    f->found = true;
    return 1;
}

/* Fire a start timer: start an instance, schedule the next occurrence. */
static baton_status fire_start_timer(session *e, const baton_timer_row *t, baton_error *err) {
    baton_status st = e->ops->timer_delete(e->store, 0, t->key, err);
    if (st)
        return st;
    baton_model *m = model_of(e, t->deployment, err);
    if (!m)
        return err && err->code ? err->code : BATON_STORE;
    baton_idx start = (baton_idx)(t->key & 0xffffff);
    const baton_graph *g = baton_model_graph(m);
    if (start >= g->n_nodes)
        return BATON_OK;
    baton_idx p = g->nodes[start].process;
    baton_definition_row def;
    if (e->ops->definition_latest(e->store, g->processes[p].id, &def, err) ||
        def.deployment != t->deployment)
        return BATON_OK; /* a newer version replaced it */
    st = start_in_tx(e, m, def.deployment, def.version, p, start, e->eng->timer_start_vars, NULL, 0,
                     0, NULL, err);
    if (st || t->repeat == 0)
        return st;
    const baton_event_def *d = &g->nodes[start].events[0];
    if (d->timer_kind != BATON_TIMER_CYCLE)
        return BATON_OK;
    baton_expr_env env = {0};
    env.now_ms = now_of(e);
    char *text = NULL;
    if (baton_expr_eval_string(d->timer.expr, &env, &text, NULL)) {
        baton_free(text);
        return BATON_OK;
    }
    baton_timer_row next = *t;
    if (baton_cron_looks_like(text)) {
        /* the next occurrence after this one, or after now when late: missed ones fire once */
        baton_cron cr;
        int64_t from = t->due > now_of(e) ? t->due : now_of(e);
        next.due = baton_cron_parse(text, &cr, NULL) ? INT64_MAX : baton_cron_next(&cr, from);
        baton_free(text);
        if (next.due == INT64_MAX)
            return BATON_OK;
        next.element = g->nodes[start].id;
        note_timer(e, next.due);
        return e->ops->timer_put(e->store, &next, err);
    }
    baton_cycle c;
    if (baton_iso_parse_cycle(text, NULL, &c, NULL)) {
        baton_free(text);
        return BATON_OK;
    }
    baton_free(text);
    next.due = baton_iso_add(t->due, c.period, NULL);
    next.repeat = t->repeat < 0 ? -1 : t->repeat - 1;
    next.element = g->nodes[start].id;
    /* occurrences missed while no engine ran are skipped (they count against a bounded
       repetition): after a restart a cycle fires once, not once per missed period */
    for (uint32_t guard = 0; next.due <= env.now_ms && next.due > t->due && guard < 1000000;
         guard++) {
        if (next.repeat == 0)
            return BATON_OK;
        next.due = baton_iso_add(next.due, c.period, NULL);
        next.repeat = next.repeat < 0 ? -1 : next.repeat - 1;
    }
    note_timer(e, next.due);
    return e->ops->timer_put(e->store, &next, err);
}

baton_status baton_engine_fire_timers(baton_engine *eng, uint32_t *fired_out, baton_error *err) {
    uint32_t fired = 0;
    baton_status st = BATON_OK;
    session *e = acquire(eng);
    for (;;) {
        first_timer f = {0};
        TX(e, err, {
            /* pick the timer inside the transaction: on PostgreSQL its instance (a start
               timer: the timer row) stays locked until commit and other nodes skip it,
               so each firing happens once, on one node */
            st = e->ops->timer_due(e->store, now_of(e), 1, take_first_timer, &f, err);
            if (st || !f.found) {
                /* nothing due */
            } else if (f.row.instance == 0) {
                st = fire_start_timer(e, &f.row, err);
            } else {
                baton_input in = {0};
                in.kind = BATON_IN_TIMER;
                in.key = f.row.key;
                baton_error e2;
                baton_error_clear(&e2);
                st = step_instance(e, f.row.instance, &in, &e2);
                if (st == BATON_NOTFOUND || st == BATON_CONFLICT) {
                    /* a stale row: the wait is gone; drop it */
                    e->ops->timer_delete(e->store, f.row.instance, f.row.key, NULL);
                    st = BATON_OK;
                } else if (st && err && !err->code) {
                    *err = e2;
                }
            }
        });
        if (st || !f.found)
            break;
        fired++;
    }
    release(e);
    if (fired_out)
        *fired_out = fired;
    return st;
}

int64_t baton_engine_next_timer(baton_engine *eng) {
    int64_t due = INT64_MAX;
    session *e = acquire(eng);
    e->ops->timer_next(e->store, &due, NULL);
    release(e);
    return due;
}

/* ---- jobs for workers
 * ---------------------------------------------------------------------------- */

typedef struct locked_jobs {
    baton_job_row *rows;
    uint32_t n, cap;
    bool nomem;
} locked_jobs;

static int collect_locked(void *cookie, const void *row) {
    locked_jobs *l = cookie;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 16;
        baton_job_row *r = baton_realloc(l->rows, cap * sizeof *r);
        if (!r) {
            l->nomem = true;
            return 1;
        }
        l->rows = r;
        l->cap = cap;
    }
    baton_job_row *d = &l->rows[l->n];
    *d = *(const baton_job_row *)row;
    d->type = baton_strdup(d->type ? d->type : "");
    d->element = baton_strdup(d->element ? d->element : "");
    d->worker = baton_strdup(d->worker ? d->worker : "");
    if (!d->type || !d->element || !d->worker) {
        baton_free((char *)d->type);
        baton_free((char *)d->element);
        baton_free((char *)d->worker);
        l->nomem = true;
        return 1;
    }
    l->n++;
    return 0;
}

/* The JSON description of one locked job (variables read from its instance). */
static cJSON *describe_job(session *e, const baton_job_row *j, const baton_job_activation *a,
                           baton_error *err) {
    baton_instance_row row;
    const char *state = NULL;
    if (e->ops->instance_get(e->store, j->instance, &row, &state, err))
        return NULL;
    /* parse before model_of: the state text is the store's until its next call, and loading
       a model the cache does not hold yet (after a restart) is one */
    cJSON *sj = state ? cJSON_Parse(state) : NULL;
    baton_model *m = sj ? model_of(e, row.deployment, err) : NULL;
    baton_instance *inst = NULL;
    if (!sj || !m || baton_instance_from_json(m, sj, &inst, err)) {
        cJSON_Delete(sj);
        if (err && !err->code)
            baton_error_set(err, BATON_STORE, "instance %lld: unreadable state",
                            (long long)j->instance);
        return NULL;
    }
    cJSON_Delete(sj);
    const baton_wait *w = baton_instance_wait(inst, j->key);
    const baton_graph *g = baton_model_graph(m);
    cJSON *o = cJSON_CreateObject();
    char id[64];
    snprintf(id, sizeof id, "%lld-%lld", (long long)j->instance, (long long)j->key);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "instance", (double)j->instance);
    cJSON_AddNumberToObject(o, "key", (double)j->key);
    cJSON_AddStringToObject(o, "type", j->type);
    /* the row's strings went with model_of's store call: the state has them too */
    baton_idx proc = baton_instance_process(inst);
    cJSON_AddStringToObject(o, "processId", proc < g->n_processes ? g->processes[proc].id : "");
    cJSON_AddNumberToObject(o, "processVersion", row.version);
    cJSON_AddStringToObject(o, "elementId", j->element);
    if (w && g->nodes[w->element].name)
        cJSON_AddStringToObject(o, "elementName", g->nodes[w->element].name);
    if (baton_instance_business_key(inst))
        cJSON_AddStringToObject(o, "businessKey", baton_instance_business_key(inst));
    cJSON_AddNumberToObject(o, "retries", j->retries);
    cJSON_AddNumberToObject(o, "deadline", (double)j->lock_expiry);
    cJSON_AddStringToObject(o, "worker", j->worker);
    cJSON *headers = cJSON_AddObjectToObject(o, "headers");
    const baton_task_def *t = w ? g->nodes[w->element].task : NULL;
    for (uint32_t i = 0; t && headers && i < t->n_headers; i++)
        if (t->headers[i].key)
            cJSON_AddStringToObject(headers, t->headers[i].key,
                                    t->headers[i].value ? t->headers[i].value : "");
    cJSON *vars = cJSON_AddObjectToObject(o, "variables");
    if (w && vars) {
        if (a->variables) {
            for (uint32_t i = 0; i < a->n_variables; i++) {
                const cJSON *v = baton_instance_lookup(inst, w->owner, a->variables[i]);
                if (v)
                    cJSON_AddItemToObject(vars, a->variables[i], cJSON_Duplicate(v, 1));
            }
        } else {
            /* every visible variable, the nearest scope winning */
            for (const baton_elem *x = baton_instance_elem(inst, w->owner); x;
                 x = x->parent ? baton_instance_elem(inst, x->parent) : NULL) {
                const cJSON *v;
                cJSON_ArrayForEach(v, x->vars) {
                    if (!cJSON_GetObjectItemCaseSensitive(vars, v->string))
                        cJSON_AddItemToObject(vars, v->string, cJSON_Duplicate(v, 1));
                }
            }
        }
    }
    baton_instance_free(inst);
    return o;
}

baton_status baton_engine_activate_jobs(baton_engine *eng, const baton_job_activation *a,
                                        cJSON **jobs_out, baton_error *err) {
    if (!a || !a->type || !a->worker || !a->max)
        return baton_error_set(err, BATON_INVALID, "activation needs a type, a worker and max > 0");
    session *e = acquire(eng);
    locked_jobs l = {0};
    cJSON *arr = cJSON_CreateArray();
    baton_status st = arr ? tx_begin(e, err) : baton_error_set(err, BATON_NOMEM, "out of memory");
    if (!st) {
        st = e->ops->job_activate(e->store, a->type, a->max, a->worker, now_of(e),
                                  a->lock_ms > 0 ? a->lock_ms : 300000, collect_locked, &l, err);
        if (!st && l.nomem)
            st = baton_error_set(err, BATON_NOMEM, "out of memory");
        for (uint32_t i = 0; !st && i < l.n; i++) {
            cJSON *j = describe_job(e, &l.rows[i], a, err);
            if (!j)
                st = err && err->code ? err->code : BATON_NOMEM;
            else
                cJSON_AddItemToArray(arr, j);
        }
        if (!st)
            st = tx_commit(e, err);
        else
            e->ops->rollback(e->store);
    }
    for (uint32_t i = 0; i < l.n; i++) {
        baton_free((char *)l.rows[i].type);
        baton_free((char *)l.rows[i].element);
        baton_free((char *)l.rows[i].worker);
    }
    baton_free(l.rows);
    release(e);
    if (st) {
        cJSON_Delete(arr);
        return st;
    }
    *jobs_out = arr;
    return BATON_OK;
}

/* Is the job open, and may `worker` act on it? Inside a transaction. */
static baton_status check_job(session *e, int64_t instance, int64_t key, const char *worker,
                              baton_job_row *out, baton_error *err) {
    baton_job_row j;
    if (e->ops->job_get(e->store, instance, key, &j, NULL) != BATON_OK)
        return baton_error_set(err, BATON_NOTFOUND,
                               "job %lld-%lld is not open: it was completed, cancelled, or never "
                               "existed",
                               (long long)instance, (long long)key);
    if (j.retries <= 0)
        return baton_error_set(err, BATON_CONFLICT,
                               "job %lld-%lld has no retries left: its incident must be resolved "
                               "first",
                               (long long)instance, (long long)key);
    if (worker && j.worker && *j.worker && strcmp(j.worker, worker) != 0 &&
        j.lock_expiry > now_of(e))
        return baton_error_set(
            err, BATON_CONFLICT, "job %lld-%lld is locked by worker '%s' until %lld",
            (long long)instance, (long long)key, j.worker, (long long)j.lock_expiry);
    if (out)
        *out = j;
    return BATON_OK;
}

baton_status baton_engine_job_input(baton_engine *eng, int64_t instance, const baton_input *in,
                                    const char *worker, baton_error *err) {
    baton_status st;
    session *e = acquire(eng);
    TX(e, err, {
        st = check_job(e, instance, in->key, worker, NULL, err);
        if (!st)
            st = step_instance(e, instance, in, err);
    });
    release(e);
    return st;
}

baton_status baton_engine_job_lock(baton_engine *eng, int64_t instance, int64_t key,
                                   const char *worker, int64_t lock_ms, baton_error *err) {
    baton_status st;
    session *e = acquire(eng);
    TX(e, err, {
        baton_job_row j;
        st = check_job(e, instance, key, worker, &j, err);
        if (!st && worker && (!j.worker || strcmp(j.worker, worker) != 0))
            st = baton_error_set(err, BATON_CONFLICT, "job %lld-%lld is not locked by '%s'",
                                 (long long)instance, (long long)key, worker);
        if (!st) {
            char *type = baton_strdup(j.type), *el = baton_strdup(j.element ? j.element : "");
            baton_job_row n = j;
            n.type = type;
            n.element = el;
            n.worker = lock_ms > 0 ? worker : NULL;
            n.lock_expiry = lock_ms > 0 ? now_of(e) + lock_ms : 0;
            st = type && el ? e->ops->job_put(e->store, &n, err)
                            : baton_error_set(err, BATON_NOMEM, "out of memory");
            baton_free(type);
            baton_free(el);
        }
    });
    release(e);
    return st;
}

/* ---- reading --------------------------------------------------------------------------------- */

baton_status baton_engine_load(baton_engine *eng, int64_t instance, baton_instance **out,
                               baton_error *err) {
    session *e = acquire(eng);
    baton_instance_row row;
    const char *state = NULL;
    baton_status st = e->ops->instance_get(e->store, instance, &row, &state, err);
    if (!st) {
        /* parse before model_of: the state text is the store's until its next call */
        cJSON *sj = cJSON_Parse(state);
        baton_model *m = model_of(e, row.deployment, err);
        if (!m)
            st = err && err->code ? err->code : BATON_STORE;
        else if (!sj)
            st = baton_error_set(err, BATON_STORE, "instance %lld: stored state is not JSON",
                                 (long long)instance);
        else
            st = baton_instance_from_json(m, sj, out, err);
        cJSON_Delete(sj);
    }
    release(e);
    return st;
}

baton_status baton_engine_instance_row(baton_engine *eng, int64_t instance, baton_instance_row *out,
                                       baton_error *err) {
    /* the row's strings belong to the session's store: copy them before the session goes back */
    static _Thread_local char pid[256], bk[1024];
    session *e = acquire(eng);
    baton_status st = e->ops->instance_get(e->store, instance, out, NULL, err);
    if (!st) {
        snprintf(pid, sizeof pid, "%s", out->process_id ? out->process_id : "");
        out->process_id = pid;
        if (out->business_key) {
            snprintf(bk, sizeof bk, "%s", out->business_key);
            out->business_key = bk;
        }
    }
    release(e);
    return st;
}

typedef struct hist_ctx {
    baton_history_fn fn;
    void *cookie;
} hist_ctx;

static int hist_cb(void *cookie, const void *row) {
    hist_ctx *h = cookie;
    return h->fn(h->cookie, (const char *)row);
}

baton_status baton_engine_history(baton_engine *eng, int64_t instance, uint64_t after,
                                  uint32_t limit, baton_history_fn fn, void *cookie,
                                  baton_error *err) {
    hist_ctx h = {fn, cookie};
    session *e = acquire(eng);
    baton_instance_row row;
    baton_status st = e->ops->instance_get(e->store, instance, &row, NULL, err);
    if (!st)
        st = e->ops->history_read(e->store, instance, after, limit, hist_cb, &h, err);
    release(e);
    return st;
}

typedef struct replay_ctx {
    baton_instance *inst;
    const baton_model *m;
    baton_status st;
    baton_error *err;
    uint64_t n;
} replay_ctx;

static int replay_one(void *cookie, const void *row) {
    replay_ctx *c = cookie;
    cJSON *j = cJSON_Parse((const char *)row);
    baton_record r;
    if (!j) {
        c->st = baton_error_set(c->err, BATON_STORE, "history record %llu is not JSON",
                                (unsigned long long)c->n + 1);
        return 1;
    }
    c->st = baton_record_from_json(j, c->m, &r, c->err);
    cJSON_Delete(j);
    if (c->st)
        return 1;
    c->st = baton_instance_apply(c->inst, &r, c->err);
    baton_record_free_parsed(&r);
    c->n++;
    return c->st != BATON_OK;
}

baton_status baton_engine_replay(baton_engine *eng, int64_t instance, bool *same_out,
                                 char **diff_out, baton_error *err) {
    session *e = acquire(eng);
    baton_instance_row row;
    const char *stored = NULL;
    char *stored_copy = NULL, *rebuilt = NULL;
    baton_instance *inst = NULL;
    baton_status st = e->ops->instance_get(e->store, instance, &row, &stored, err);
    if (st)
        goto done;
    stored_copy = baton_strdup(stored ? stored : "");
    /* the row's strings are the store's until its next call: copy before model_of */
    char *pid = baton_strdup(row.process_id);
    baton_model *m = model_of(e, row.deployment, err);
    baton_idx p = m && pid ? baton_model_find_process(m, pid) : BATON_NONE;
    baton_free(pid);
    if (!m || p == BATON_NONE || !stored_copy) {
        st = baton_error_set(err, BATON_STORE, "instance %lld: its model cannot be loaded",
                             (long long)instance);
        goto done;
    }
    inst = baton_instance_new(m, p, instance);
    if (!inst) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto done;
    }
    replay_ctx c = {inst, m, BATON_OK, err, 0};
    st = e->ops->history_read(e->store, instance, 0, 0, replay_one, &c, err);
    if (!st)
        st = c.st;
    if (st)
        goto done;
    /* the indexes the records maintained must agree with the state they index */
    baton_error ce;
    baton_error_clear(&ce);
    baton_status cs = baton_instance_check(inst, &ce);
    if (cs && cs != BATON_CONFLICT) {
        st = baton_error_set(err, cs, "%s", ce.message);
        goto done;
    }
    cJSON *j = baton_instance_to_json(inst);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    rebuilt = text ? baton_strdup(text) : NULL;
    cJSON_free(text);
    if (!rebuilt) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto done;
    }
    bool same = cs == BATON_OK && strcmp(rebuilt, stored_copy) == 0;
    *same_out = same;
    if (diff_out) {
        *diff_out = NULL;
        if (cs) {
            *diff_out = baton_strdup(ce.message);
        } else if (!same) {
            size_t i = 0;
            while (rebuilt[i] && rebuilt[i] == stored_copy[i])
                i++;
            size_t from = i > 60 ? i - 60 : 0;
            baton_buf b;
            baton_buf_init(&b, 0);
            baton_buf_printf(
                &b, "after %llu records, at byte %zu: stored ...%.120s... / replayed ...%.120s...",
                (unsigned long long)c.n, i, stored_copy + from, rebuilt + from);
            *diff_out = baton_buf_take(&b);
        }
    }
done:
    baton_instance_free(inst);
    baton_free(stored_copy);
    baton_free(rebuilt);
    release(e);
    return st;
}

/* ---- open/close --------------------------------------------------------------------------------
 */

baton_status baton_engine_open(const baton_engine_opts *opts, baton_engine **out,
                               baton_error *err) {
    if (!opts || (!opts->store && !opts->store_url))
        return baton_error_set(err, BATON_INVALID, "engine needs a store");
    baton_engine *e = baton_calloc(1, sizeof *e);
    if (!e)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    e->clock = opts->clock ? opts->clock : wall_clock;
    e->clock_cookie = opts->clock_cookie;
    e->lenient = opts->unexecutable_as_warnings;
    e->timer_start_vars = opts->timer_start_variables;
    pthread_mutex_init(&e->pool_lock, NULL);
    pthread_cond_init(&e->pool_cond, NULL);
    pthread_mutex_init(&e->models_lock, NULL);
    /* a store handed in is one connection; a URL opens one per session */
    bool memory = opts->store_url && strcmp(opts->store_url, "memory:") == 0;
    unsigned n = opts->store || memory ? 1 : (opts->sessions ? opts->sessions : 1);
    e->sessions = baton_calloc(n, sizeof *e->sessions);
    baton_status st = BATON_OK;
    if (!e->sessions) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto fail;
    }
    e->own_stores = opts->store == NULL;
    if (e->own_stores && !memory && !(e->store_url = baton_strdup(opts->store_url))) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < n; i++) {
        session *s = &e->sessions[i];
        s->eng = e;
        if (opts->store)
            s->store = opts->store;
        else if ((st = baton_store_open(opts->store_url, &s->store, err)))
            goto fail;
        e->n_sessions = i + 1;
        s->ops = s->store->ops;
        e->store_name = s->ops->name;
        s->stepper = baton_stepper_new();
        if (!s->stepper) {
            st = baton_error_set(err, BATON_NOMEM, "out of memory");
            goto fail;
        }
        if (opts->wait_hook)
            baton_stepper_set_wait_hook(s->stepper, opts->wait_hook, opts->wait_hook_cookie);
        s->next_free = e->free_list;
        e->free_list = s;
    }
    /* deliver what a previous run left in the outbox, and buffered messages a waiting
       subscription matches: recovery is the normal start */
    if (!opts->skip_settle) {
        session *s = acquire(e);
        st = settle(s, err);
        if (!st)
            TX(s, err, { st = queue_waiting_messages(s, 64, err); });
        release(s);
        if (st)
            goto fail;
    }
    *out = e;
    return BATON_OK;
fail:
    baton_engine_close(e);
    return st;
}

void baton_engine_close(baton_engine *e) {
    if (!e)
        return;
    for (uint32_t i = 0; i < e->n_deps; i++)
        baton_model_unref(e->deps[i].model);
    baton_free(e->deps);
    for (unsigned i = 0; e->sessions && i < e->n_sessions; i++) {
        baton_stepper_free(e->sessions[i].stepper);
        if (e->own_stores)
            baton_store_close(e->sessions[i].store);
    }
    baton_free(e->sessions);
    baton_free(e->store_url);
    pthread_mutex_destroy(&e->pool_lock);
    pthread_cond_destroy(&e->pool_cond);
    pthread_mutex_destroy(&e->models_lock);
    baton_free(e);
}
