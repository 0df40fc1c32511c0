/*
 * store.c - opening a store by URL, the fault-injection hook, and the
 * helpers the backends share (store_int.h). The backends live in memory.c,
 * sqlite.c and postgres.c.
 *
 *   "memory:"                         memory.c
 *   "postgresql://..." "postgres://"  postgres.c (libpq URL, passed unchanged)
 *   "sqlite:PATH[?opts]" or a PATH    sqlite.c ("sqlite:///abs" = "/abs")
 */
#include "persistence/store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "baton_config.h"
#include "common/alloc.h"
#include "persistence/store_int.h"

baton_status baton_store_open(const char *url, baton_store **out, baton_error *err) {
    if (!url || strcmp(url, "memory:") == 0)
        return baton_store_open_memory(out, err);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return baton_store_open_postgres(url, out, err);
    const char *path = url;
    if (strncmp(path, "sqlite:", 7) == 0) {
        path += 7;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
    }
    if (!*path)
        return baton_error_set(err, BATON_INVALID, "store '%s': no database path", url);
    /* options after '?' (a path containing '?' can be given as sqlite:PATH?) */
    const char *q = strchr(path, '?');
    if (!q)
        return baton_store_open_sqlite(path, NULL, out, err);
    char *p = baton_strndup(path, (size_t)(q - path));
    if (!p)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    baton_status st = baton_store_open_sqlite(p, q + 1, out, err);
    baton_free(p);
    return st;
}

void baton_store_close(baton_store *s) {
    if (s)
        s->ops->close(s);
}

#if !BATON_HAVE_SQLITE
baton_status baton_store_open_sqlite(const char *path, const char *options, baton_store **out,
                                     baton_error *err) {
    (void)options;
    (void)out;
    return baton_error_set(err, BATON_UNSUPPORTED,
                           "store '%s': SQLite is not available in this build", path);
}
#endif

#if !BATON_HAVE_POSTGRES
baton_status baton_store_open_postgres(const char *url, baton_store **out, baton_error *err) {
    (void)url;
    (void)out;
    return baton_error_set(err, BATON_UNSUPPORTED,
                           "store: PostgreSQL is not available in this build");
}
#endif

/* ---- fault injection ------------------------------------------------------------------- */

static _Atomic uint32_t fault_countdown;

void baton_store_fault_commit(uint32_t nth) {
    atomic_store(&fault_countdown, nth);
}

bool baton_store_fault_fire(void) {
    uint32_t c = atomic_load(&fault_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fault_countdown, &c, c - 1))
            return c == 1;
    }
    return false;
}

/* ---- instance filters ------------------------------------------------------------------- */

bool baton_store_instance_matches(const baton_instance_filter *f, const baton_instance_row *x) {
    bool ended_bound = f->ended_after || f->ended_before;
    return (!f->state || x->state == f->state) &&
           (!f->process_id || (x->process_id && strcmp(f->process_id, x->process_id) == 0)) &&
           (!f->business_key ||
            (x->business_key && strcmp(f->business_key, x->business_key) == 0)) &&
           (!f->started_after || x->started > f->started_after) &&
           (!f->started_before || x->started < f->started_before) &&
           (!ended_bound || x->ended != 0) && (!f->ended_after || x->ended > f->ended_after) &&
           (!f->ended_before || x->ended < f->ended_before) &&
           (f->incidents <= 0 || x->incidents > 0) && (f->incidents >= 0 || x->incidents <= 0) &&
           (!f->parent_id || x->parent_id == f->parent_id);
}

/* Append a condition, " AND "-separated. */
static void where_cond(store_where *w, const char *cond) {
    size_t len = strlen(w->sql);
    int n = snprintf(w->sql + len, sizeof w->sql - len, "%s%s", len ? " AND " : "WHERE ", cond);
    if (n < 0 || (size_t)n >= sizeof w->sql - len)
        w->overflow = true;
}

baton_status store_query_limit(uint32_t limit, const char *what, baton_error *err) {
    if (limit < 1 || limit > BATON_STORE_QUERY_MAX)
        return baton_error_set(err, BATON_INVALID, "%s: limit %u not in 1..%d", what,
                               (unsigned)limit, BATON_STORE_QUERY_MAX);
    return BATON_OK;
}

int store_where_param(store_where *w, const char *text, int64_t num) {
    if (w->n == (int)(sizeof w->arg / sizeof *w->arg)) {
        w->overflow = true;
        return w->n;
    }
    w->arg[w->n].text = text;
    w->arg[w->n].num = num;
    return ++w->n;
}

/* Append "<lhs> <placeholder>" and the placeholder's value (text, or num when text is NULL). */
static void where_arg(store_where *w, char mark, const char *lhs, const char *text, int64_t num) {
    char c[96];
    int n = store_where_param(w, text, num);
    snprintf(c, sizeof c, "%s %c%d", lhs, mark, n);
    where_cond(w, c);
}

static void where_init(store_where *w) {
    w->sql[0] = '\0';
    w->n = 0;
    w->overflow = false;
}

void store_instance_where(const baton_instance_filter *f, bool cursor, char mark, store_where *w) {
    where_init(w);
    if (cursor)
        where_arg(w, mark, "id >", NULL, f->after);
    if (f->state)
        where_arg(w, mark, "state =", NULL, f->state);
    if (f->process_id)
        where_arg(w, mark, "process_id =", f->process_id, 0);
    if (f->business_key)
        where_arg(w, mark, "business_key =", f->business_key, 0);
    if (f->started_after)
        where_arg(w, mark, "started >", NULL, f->started_after);
    if (f->started_before)
        where_arg(w, mark, "started <", NULL, f->started_before);
    if (f->ended_after || f->ended_before)
        where_cond(w, "ended <> 0");
    if (f->ended_after)
        where_arg(w, mark, "ended >", NULL, f->ended_after);
    if (f->ended_before)
        where_arg(w, mark, "ended <", NULL, f->ended_before);
    if (f->incidents)
        where_cond(w, f->incidents > 0 ? "incidents > 0" : "incidents <= 0");
    if (f->parent_id) {
        where_cond(w, "parent_id <> 0"); /* what the partial index instances_parent covers */
        where_arg(w, mark, "parent_id =", NULL, f->parent_id);
    }
}

/* ---- job, user task and incident filters ------------------------------------------------ */

baton_job_state baton_store_job_state(const baton_job_row *j, int64_t now) {
    if (j->retries <= 0)
        return BATON_JOB_INCIDENT;
    if (j->worker && j->worker[0] && j->lock_expiry > now)
        return BATON_JOB_LOCKED;
    if (j->available_at > now)
        return BATON_JOB_BACKOFF;
    return BATON_JOB_AVAILABLE;
}

bool baton_store_job_matches(const baton_job_filter *f, const baton_job_row *x) {
    return (!f->instance || x->instance == f->instance) &&
           (!f->type || (x->type && strcmp(f->type, x->type) == 0)) &&
           (!f->state || (int32_t)baton_store_job_state(x, f->now) == f->state);
}

/* A candidate list holds v: a string equal to v, or an array with such a string in it. */
static bool candidate_in(const cJSON *details, const char *list, const char *v) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(details, list);
    if (cJSON_IsString(l))
        return strcmp(l->valuestring, v) == 0;
    if (!cJSON_IsArray(l))
        return false;
    const cJSON *x;
    cJSON_ArrayForEach(x, l) {
        if (cJSON_IsString(x) && strcmp(x->valuestring, v) == 0)
            return true;
    }
    return false;
}

bool baton_store_task_matches(const baton_task_filter *f, const baton_task_row *x) {
    if ((f->instance && x->instance != f->instance) ||
        (f->process_id && (!x->process_id || strcmp(f->process_id, x->process_id) != 0)) ||
        (f->assignee && (!x->assignee || strcmp(f->assignee, x->assignee) != 0)) ||
        (f->assigned > 0 && !x->assignee) || (f->assigned < 0 && x->assignee))
        return false;
    if (!f->candidate_group && !f->candidate_user)
        return true;
    /* details that do not parse (or no memory to parse them) list no candidates */
    cJSON *d = x->details ? cJSON_Parse(x->details) : NULL;
    bool ok = (!f->candidate_group || candidate_in(d, "candidateGroups", f->candidate_group)) &&
              (!f->candidate_user || candidate_in(d, "candidateUsers", f->candidate_user));
    cJSON_Delete(d);
    return ok;
}

bool baton_store_incident_matches(const baton_incident_filter *f, const baton_incident_row *x,
                                  const char *process) {
    return (!f->instance || x->instance == f->instance) &&
           (!f->kind || (x->kind && strcmp(f->kind, x->kind) == 0)) &&
           (!f->element || (x->element && strcmp(f->element, x->element) == 0)) &&
           (!f->process_id || (process && strcmp(f->process_id, process) == 0));
}

/* "(instance, key) > (a, k)": a row value, which both planners take as an index range. */
static void where_pair(store_where *w, char mark, int64_t after_instance, int64_t after_key) {
    char c[64];
    int a = store_where_param(w, NULL, after_instance);
    int k = store_where_param(w, NULL, after_key);
    snprintf(c, sizeof c, "(instance, key) > (%c%d, %c%d)", mark, a, mark, k);
    where_cond(w, c);
}

void store_job_where(const baton_job_filter *f, char mark, store_where *w) {
    where_init(w);
    where_pair(w, mark, f->after_instance, f->after_key);
    if (f->instance)
        where_arg(w, mark, "instance =", NULL, f->instance);
    if (f->type)
        where_arg(w, mark, "type =", f->type, 0);
    /* baton_store_job_state(), condition by condition */
    const char *unlocked = "(worker IS NULL OR worker = '' OR lock_expiry <=";
    char c[96];
    switch (f->state) {
    case BATON_JOB_INCIDENT: where_cond(w, "retries <= 0"); break;
    case BATON_JOB_LOCKED:
        where_cond(w, "retries > 0 AND worker IS NOT NULL AND worker <> ''");
        where_arg(w, mark, "lock_expiry >", NULL, f->now);
        break;
    case BATON_JOB_BACKOFF:
    case BATON_JOB_AVAILABLE:
        where_cond(w, "retries > 0");
        snprintf(c, sizeof c, "%s %c%d)", unlocked, mark, store_where_param(w, NULL, f->now));
        where_cond(w, c);
        where_arg(w, mark,
                  f->state == BATON_JOB_BACKOFF ? "available_at >" : "available_at <=", NULL,
                  f->now);
        break;
    default:
        if (f->state)
            where_cond(w, "0 = 1"); /* no such state: nothing matches, as in C */
        break;
    }
}

void store_task_where(const baton_task_filter *f, char mark, store_where *w) {
    where_init(w);
    where_pair(w, mark, f->after_instance, f->after_key);
    if (f->instance)
        where_arg(w, mark, "instance =", NULL, f->instance);
    if (f->process_id)
        where_arg(w, mark, "process_id =", f->process_id, 0);
    if (f->assignee)
        where_arg(w, mark, "assignee =", f->assignee, 0);
    if (f->assigned)
        where_cond(w, f->assigned > 0 ? "assignee IS NOT NULL" : "assignee IS NULL");
}

void store_incident_where(const baton_incident_filter *f, bool cursor, char mark, store_where *w) {
    where_init(w);
    if (cursor)
        where_pair(w, mark, f->after_instance, f->after_key);
    if (f->instance)
        where_arg(w, mark, "instance =", NULL, f->instance);
    if (f->kind)
        where_arg(w, mark, "kind =", f->kind, 0);
    if (f->element)
        where_arg(w, mark, "element =", f->element, 0);
    /* one primary key probe per incident read: incidents are few beside instances */
    if (f->process_id) {
        char c[128];
        snprintf(c, sizeof c,
                 "EXISTS (SELECT 1 FROM instances n WHERE n.id = incidents.instance AND "
                 "n.process_id = %c%d)",
                 mark, store_where_param(w, f->process_id, 0));
        where_cond(w, c);
    }
}

/* ---- helpers for the backends ---------------------------------------------------------- */

struct pool_block {
    pool_block *next;
    size_t used, cap;
    char data[];
};

void pool_reset(pool *p) {
    /* every block goes, so a row kept past its lifetime is a use-after-free that the
       sanitizer builds report, not a silent read of newer rows */
    pool_block *b = p->head;
    while (b) {
        pool_block *n = b->next;
        baton_free(b);
        b = n;
    }
    p->head = p->cur = NULL;
}

void pool_fini(pool *p) {
    pool_reset(p);
}

char *pool_dupn(pool *p, const char *s, size_t n, bool *oom) {
    if (!s)
        return NULL;
    pool_block *b = p->cur;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > 8192 ? n + 1 : 8192;
        pool_block *nb = baton_malloc(sizeof *nb + cap);
        if (!nb) {
            *oom = true;
            return NULL;
        }
        nb->next = NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b)
            b->next = nb; /* blocks after the first are freed by pool_reset */
        else
            p->head = nb;
        p->cur = b = nb;
    }
    char *d = b->data + b->used;
    memcpy(d, s, n);
    d[n] = '\0';
    b->used += n + 1;
    return d;
}

char *pool_dup(pool *p, const char *s, bool *oom) {
    return s ? pool_dupn(p, s, strlen(s), oom) : NULL;
}

void *rowvec_push(rowvec *v, size_t size) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        void *d = baton_realloc(v->data, cap * size);
        if (!d)
            return NULL;
        v->data = d;
        v->cap = cap;
    }
    void *slot = (char *)v->data + v->n * size;
    memset(slot, 0, size);
    v->n++;
    v->size = size;
    return slot;
}

void rowvec_free(rowvec *v) {
    baton_free(v->data);
    v->data = NULL;
    v->n = v->cap = 0;
}

bool store_option(const char *options, const char *key, char *buf, size_t size) {
    size_t klen = strlen(key);
    for (const char *o = options; o && *o;) {
        const char *end = strchr(o, '&');
        size_t len = end ? (size_t)(end - o) : strlen(o);
        if (len > klen && strncmp(o, key, klen) == 0 && o[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (vlen >= size)
                vlen = size - 1;
            memcpy(buf, o + klen + 1, vlen);
            buf[vlen] = '\0';
            return true;
        }
        o = end ? end + 1 : NULL;
    }
    return false;
}
