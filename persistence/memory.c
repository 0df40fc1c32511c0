/*
 * memory.c - the in-memory store: the whole schema in this process, for
 * `baton run`, `baton test` and unit tests. Same interface and semantics as
 * the durable stores except durability.
 *
 * Tables are small arrays searched linearly (test-sized data). Rollback:
 * the runtime only writes after a successful step, so the only failure
 * inside a transaction is running out of memory; a rollback after writes
 * marks the store failed (every later call answers BATON_STORE), as a
 * durable store does after an I/O error, rather than keep half a step.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "persistence/store.h"
#include "persistence/store_int.h"

typedef struct mem_inst {
    baton_instance_row row;
    char *state;
    char **history; /* JSON text per record, index = seq - 1 */
    uint64_t n_history, cap_history;
} mem_inst;

typedef struct vec {
    void *data;
    size_t n, cap;
} vec;

typedef struct mem_store {
    baton_store base;
    int in_tx;
    int dirty; /* written since begin */
    int failed;
    int64_t next_deployment, next_instance, next_event, next_message;
    vec deployments, definitions, instances, jobs, timers, subs[2], tasks, incidents, events,
        messages;
} mem_store;

static void *vpush(vec *v, size_t elem) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        void *d = baton_realloc(v->data, cap * elem);
        if (!d)
            return NULL;
        v->data = d;
        v->cap = cap;
    }
    void *p = (char *)v->data + v->n * elem;
    memset(p, 0, elem);
    v->n++;
    return p;
}

static void vremove(vec *v, size_t elem, size_t i) {
    memmove((char *)v->data + i * elem, (char *)v->data + (i + 1) * elem, (v->n - i - 1) * elem);
    v->n--;
}

#define AT(v, T, i) (&((T *)(v).data)[i])

static char *dup(const char *s) {
    return s ? baton_strdup(s) : NULL;
}

static baton_status nomem(mem_store *m, baton_error *err) {
    m->failed = 1;
    return baton_error_set(err, BATON_NOMEM, "memory store: out of memory");
}

static baton_status check(mem_store *m, baton_error *err) {
    if (m->failed)
        return baton_error_set(err, BATON_STORE, "memory store: failed earlier; reopen it");
    return BATON_OK;
}

#define CHECK(m, err)                                                                              \
    do {                                                                                           \
        baton_status st_ = check(m, err);                                                          \
        if (st_)                                                                                   \
            return st_;                                                                            \
    } while (0)

#define WRITE(m) ((m)->dirty = 1)

/* ---- transactions ----------------------------------------------------------- */

static baton_status mem_begin(baton_store *s, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    if (m->in_tx)
        return baton_error_set(err, BATON_INTERNAL, "memory store: nested transaction");
    m->in_tx = 1;
    m->dirty = 0;
    return BATON_OK;
}

static baton_status mem_commit(baton_store *s, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    m->in_tx = 0;
    return BATON_OK;
}

static void mem_rollback(baton_store *s) {
    mem_store *m = (mem_store *)s;
    if (m->in_tx && m->dirty)
        m->failed = 1;
    m->in_tx = 0;
}

/* ---- deployments ------------------------------------------------------------- */

typedef struct mem_dep {
    baton_deployment_row row;
} mem_dep;

typedef struct mem_def {
    char *process_id;
    int32_t version;
    int64_t deployment;
} mem_def;

static baton_status mem_dep_find_hash(baton_store *s, const char *hash, int64_t *id_out,
                                      baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->deployments.n; i++) {
        mem_dep *d = AT(m->deployments, mem_dep, i);
        if (strcmp(d->row.hash, hash) == 0) {
            *id_out = d->row.id;
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_dep_put(baton_store *s, baton_deployment_row *row, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_dep *d = vpush(&m->deployments, sizeof *d);
    if (!d)
        return nomem(m, err);
    d->row = *row;
    d->row.id = ++m->next_deployment;
    d->row.name = dup(row->name);
    d->row.hash = dup(row->hash);
    char *xml = baton_malloc(row->xml_len + 1);
    if (xml) {
        memcpy(xml, row->xml, row->xml_len);
        xml[row->xml_len] = '\0';
    }
    d->row.xml = xml;
    if (!xml || (row->name && !d->row.name) || !d->row.hash)
        return nomem(m, err);
    row->id = d->row.id;
    return BATON_OK;
}

static baton_status mem_dep_get(baton_store *s, int64_t id, baton_deployment_row *out,
                                baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->deployments.n; i++) {
        mem_dep *d = AT(m->deployments, mem_dep, i);
        if (d->row.id == id) {
            *out = d->row;
            return BATON_OK;
        }
    }
    return baton_error_set(err, BATON_NOTFOUND, "no deployment %lld", (long long)id);
}

static baton_status mem_dep_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->deployments.n; i++)
        if (fn(cookie, &AT(m->deployments, mem_dep, i)->row))
            break;
    return BATON_OK;
}

static baton_status mem_def_put(baton_store *s, const baton_definition_row *row, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_def *d = vpush(&m->definitions, sizeof *d);
    if (!d || !(d->process_id = dup(row->process_id)))
        return nomem(m, err);
    d->version = row->version;
    d->deployment = row->deployment;
    return BATON_OK;
}

static void def_out(const mem_def *d, baton_definition_row *out) {
    out->process_id = d->process_id;
    out->version = d->version;
    out->deployment = d->deployment;
}

static baton_status mem_def_latest(baton_store *s, const char *pid, baton_definition_row *out,
                                   baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    const mem_def *best = NULL;
    for (size_t i = 0; i < m->definitions.n; i++) {
        const mem_def *d = AT(m->definitions, mem_def, i);
        if (strcmp(d->process_id, pid) == 0 && (!best || d->version > best->version))
            best = d;
    }
    if (!best)
        return BATON_NOTFOUND;
    def_out(best, out);
    return BATON_OK;
}

static baton_status mem_def_get(baton_store *s, const char *pid, int32_t version,
                                baton_definition_row *out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->definitions.n; i++) {
        const mem_def *d = AT(m->definitions, mem_def, i);
        if (strcmp(d->process_id, pid) == 0 && d->version == version) {
            def_out(d, out);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_def_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->definitions.n; i++) {
        baton_definition_row r;
        def_out(AT(m->definitions, mem_def, i), &r);
        if (fn(cookie, &r))
            break;
    }
    return BATON_OK;
}

/* ---- instances ----------------------------------------------------------------- */

static mem_inst *find_inst(mem_store *m, int64_t id) {
    for (size_t i = m->instances.n; i-- > 0;) {
        mem_inst *x = *AT(m->instances, mem_inst *, i);
        if (x->row.id == id)
            return x;
    }
    return NULL;
}

static baton_status mem_inst_new_id(baton_store *s, int64_t *id_out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    *id_out = ++m->next_instance;
    return BATON_OK;
}

static baton_status mem_inst_get(baton_store *s, int64_t id, baton_instance_row *row_out,
                                 const char **state_out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    mem_inst *x = find_inst(m, id);
    if (!x)
        return baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)id);
    *row_out = x->row;
    if (state_out)
        *state_out = x->state;
    return BATON_OK;
}

static baton_status mem_inst_put(baton_store *s, const baton_instance_row *row, const char *state,
                                 baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_inst *x = find_inst(m, row->id);
    if (!x) {
        x = baton_calloc(1, sizeof *x);
        mem_inst **slot = x ? vpush(&m->instances, sizeof *slot) : NULL;
        if (!slot) {
            baton_free(x);
            return nomem(m, err);
        }
        *slot = x;
    }
    char *pid = dup(row->process_id), *bk = dup(row->business_key), *st = dup(state);
    if (!pid || (row->business_key && !bk) || (state && !st)) {
        baton_free(pid);
        baton_free(bk);
        baton_free(st);
        return nomem(m, err);
    }
    baton_free((char *)x->row.process_id);
    baton_free((char *)x->row.business_key);
    baton_free(x->state);
    x->row = *row;
    x->row.process_id = pid;
    x->row.business_key = bk;
    x->state = st;
    return BATON_OK;
}

static baton_status mem_inst_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->instances.n; i++)
        if (fn(cookie, &(*AT(m->instances, mem_inst *, i))->row))
            break;
    return BATON_OK;
}

/*
 * The filter by scan (test-sized data): the `limit` smallest matching ids
 * above the cursor, kept sorted while scanning, so the answer does not
 * depend on the order instances were put in.
 */
static baton_status mem_inst_query(baton_store *s, const baton_instance_filter *f, baton_row_fn fn,
                                   void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    baton_status lst = store_query_limit(f->limit, "instance query", err);
    if (lst)
        return lst;
    mem_inst **page = baton_malloc(f->limit * sizeof *page);
    if (!page)
        return baton_error_set(err, BATON_NOMEM, "memory store: out of memory");
    uint32_t n = 0;
    for (size_t i = 0; i < m->instances.n; i++) {
        mem_inst *x = *AT(m->instances, mem_inst *, i);
        if (x->row.id <= f->after || !baton_store_instance_matches(f, &x->row) ||
            (n == f->limit && x->row.id >= page[n - 1]->row.id))
            continue;
        uint32_t pos = n < f->limit ? n++ : n - 1;
        while (pos > 0 && page[pos - 1]->row.id > x->row.id) {
            page[pos] = page[pos - 1];
            pos--;
        }
        page[pos] = x;
    }
    for (uint32_t i = 0; i < n; i++)
        if (fn(cookie, &page[i]->row))
            break;
    baton_free(page);
    return BATON_OK;
}

static baton_status mem_inst_count(baton_store *s, const baton_instance_filter *f,
                                   int64_t *count_out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    int64_t n = 0;
    for (size_t i = 0; i < m->instances.n; i++)
        n += baton_store_instance_matches(f, &(*AT(m->instances, mem_inst *, i))->row);
    *count_out = n;
    return BATON_OK;
}

static baton_status mem_inst_children(baton_store *s, int64_t parent, int64_t parent_key,
                                      baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->instances.n; i++) {
        mem_inst *x = *AT(m->instances, mem_inst *, i);
        if (x->row.parent_id == parent && (!parent_key || x->row.parent_key == parent_key))
            if (fn(cookie, &x->row))
                break;
    }
    return BATON_OK;
}

static baton_status mem_hist_append(baton_store *s, int64_t instance, uint64_t seq, int64_t at,
                                    const char *kind, const char *element, const char *json,
                                    baton_error *err) {
    (void)at;
    (void)kind;
    (void)element;
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_inst *x = find_inst(m, instance);
    if (!x)
        return baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)instance);
    if (seq != x->n_history + 1)
        return baton_error_set(
            err, BATON_CONFLICT, "history of instance %lld: record %llu after %llu",
            (long long)instance, (unsigned long long)seq, (unsigned long long)x->n_history);
    if (x->n_history == x->cap_history) {
        uint64_t cap = x->cap_history ? x->cap_history * 2 : 64;
        char **h = baton_realloc(x->history, cap * sizeof *h);
        if (!h)
            return nomem(m, err);
        x->history = h;
        x->cap_history = cap;
    }
    if (!(x->history[x->n_history] = dup(json)))
        return nomem(m, err);
    x->n_history++;
    return BATON_OK;
}

static baton_status mem_hist_read(baton_store *s, int64_t instance, uint64_t after, uint32_t limit,
                                  baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    mem_inst *x = find_inst(m, instance);
    if (!x)
        return baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)instance);
    uint32_t n = 0;
    for (uint64_t i = after; i < x->n_history; i++) {
        if (limit && n++ >= limit)
            break;
        if (fn(cookie, x->history[i]))
            break;
    }
    return BATON_OK;
}

/* ---- keyed tables: jobs, timers, subscriptions, tasks, incidents ------------------ */

/* ---- pages keyed by (instance, key) ------------------------------------------------- */

static bool pair_before(int64_t ai, int64_t ak, int64_t bi, int64_t bk) {
    return ai < bi || (ai == bi && ak < bk);
}

/*
 * The `limit` smallest (instance, key) pairs a scan offers, kept sorted
 * while scanning (test-sized data), so the answer does not depend on the
 * order rows were put in, as mem_inst_query does for ids.
 */
typedef struct key_page {
    struct {
        const void *row;
        int64_t instance, key;
    } * at;
    uint32_t n, limit;
} key_page;

static baton_status key_page_init(key_page *p, uint32_t limit, const char *what, baton_error *err) {
    baton_status st = store_query_limit(limit, what, err);
    if (st)
        return st;
    p->n = 0;
    p->limit = limit;
    p->at = baton_malloc(limit * sizeof *p->at);
    return p->at ? BATON_OK : baton_error_set(err, BATON_NOMEM, "memory store: out of memory");
}

static void key_page_offer(key_page *p, const void *row, int64_t instance, int64_t key) {
    if (p->n == p->limit &&
        !pair_before(instance, key, p->at[p->n - 1].instance, p->at[p->n - 1].key))
        return;
    uint32_t pos = p->n < p->limit ? p->n++ : p->n - 1;
    while (pos > 0 && pair_before(instance, key, p->at[pos - 1].instance, p->at[pos - 1].key)) {
        p->at[pos] = p->at[pos - 1];
        pos--;
    }
    p->at[pos].row = row;
    p->at[pos].instance = instance;
    p->at[pos].key = key;
}

/* Hand the page out in order, then free it. */
static void key_page_emit(key_page *p, baton_row_fn fn, void *cookie) {
    for (uint32_t i = 0; i < p->n; i++)
        if (fn(cookie, p->at[i].row))
            break;
    baton_free(p->at);
    p->at = NULL;
}

typedef struct mem_job {
    baton_job_row row;
} mem_job;

static void free_job(mem_job *j) {
    baton_free((char *)j->row.type);
    baton_free((char *)j->row.element);
    baton_free((char *)j->row.worker);
}

static baton_status mem_job_put(baton_store *s, const baton_job_row *row, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_job *j = NULL;
    for (size_t i = 0; i < m->jobs.n && !j; i++) {
        mem_job *x = AT(m->jobs, mem_job, i);
        if (x->row.instance == row->instance && x->row.key == row->key)
            j = x;
    }
    if (j)
        free_job(j);
    else if (!(j = vpush(&m->jobs, sizeof *j)))
        return nomem(m, err);
    j->row = *row;
    j->row.type = dup(row->type);
    j->row.element = dup(row->element);
    j->row.worker = dup(row->worker);
    if (!j->row.type || (row->element && !j->row.element) || (row->worker && !j->row.worker))
        return nomem(m, err);
    return BATON_OK;
}

static baton_status mem_job_delete(baton_store *s, int64_t instance, int64_t key,
                                   baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    for (size_t i = 0; i < m->jobs.n; i++) {
        mem_job *x = AT(m->jobs, mem_job, i);
        if (x->row.instance == instance && x->row.key == key) {
            free_job(x);
            vremove(&m->jobs, sizeof *x, i);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_job_get(baton_store *s, int64_t instance, int64_t key, baton_job_row *out,
                                baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->jobs.n; i++) {
        mem_job *x = AT(m->jobs, mem_job, i);
        if (x->row.instance == instance && x->row.key == key) {
            *out = x->row;
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_job_activate(baton_store *s, const char *type, uint32_t max,
                                     const char *worker, int64_t now, int64_t lock_ms,
                                     baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    uint32_t n = 0;
    for (size_t i = 0; i < m->jobs.n && n < max; i++) {
        mem_job *x = AT(m->jobs, mem_job, i);
        if (strcmp(x->row.type, type) != 0 || x->row.retries <= 0 || x->row.available_at > now ||
            (x->row.worker && x->row.lock_expiry > now))
            continue;
        WRITE(m);
        char *w = dup(worker);
        if (worker && !w)
            return nomem(m, err);
        baton_free((char *)x->row.worker);
        x->row.worker = w;
        x->row.lock_expiry = now + lock_ms;
        n++;
        if (fn(cookie, &x->row))
            break;
    }
    return BATON_OK;
}

static baton_status mem_job_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->jobs.n; i++)
        if (fn(cookie, &AT(m->jobs, mem_job, i)->row))
            break;
    return BATON_OK;
}

static baton_status mem_job_query(baton_store *s, const baton_job_filter *f, baton_row_fn fn,
                                  void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    key_page p;
    baton_status st = key_page_init(&p, f->limit, "job query", err);
    if (st)
        return st;
    for (size_t i = 0; i < m->jobs.n; i++) {
        const baton_job_row *x = &AT(m->jobs, mem_job, i)->row;
        if (pair_before(f->after_instance, f->after_key, x->instance, x->key) &&
            baton_store_job_matches(f, x))
            key_page_offer(&p, x, x->instance, x->key);
    }
    key_page_emit(&p, fn, cookie);
    return BATON_OK;
}

typedef struct mem_timer {
    baton_timer_row row;
} mem_timer;

static baton_status mem_timer_put(baton_store *s, const baton_timer_row *row, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    /* (instance, key) names one timer: putting it again moves it */
    mem_timer *t = NULL;
    for (size_t i = 0; i < m->timers.n && !t; i++) {
        mem_timer *x = AT(m->timers, mem_timer, i);
        if (x->row.instance == row->instance && x->row.key == row->key) {
            baton_free((char *)x->row.element);
            t = x;
        }
    }
    if (!t && !(t = vpush(&m->timers, sizeof *t)))
        return nomem(m, err);
    t->row = *row;
    if (!(t->row.element = dup(row->element)) && row->element)
        return nomem(m, err);
    return BATON_OK;
}

static baton_status mem_timer_delete(baton_store *s, int64_t instance, int64_t key,
                                     baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    for (size_t i = 0; i < m->timers.n; i++) {
        mem_timer *x = AT(m->timers, mem_timer, i);
        if (x->row.instance == instance && x->row.key == key) {
            baton_free((char *)x->row.element);
            vremove(&m->timers, sizeof *x, i);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static int cmp_timer(const void *a, const void *b) {
    const mem_timer *x = *(const mem_timer *const *)a, *y = *(const mem_timer *const *)b;
    if (x->row.due != y->row.due)
        return x->row.due < y->row.due ? -1 : 1;
    if (x->row.instance != y->row.instance)
        return x->row.instance < y->row.instance ? -1 : 1;
    return (x->row.key > y->row.key) - (x->row.key < y->row.key);
}

static baton_status mem_timer_due(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                                  void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    size_t n = 0;
    mem_timer **due = m->timers.n ? baton_malloc(m->timers.n * sizeof *due) : NULL;
    if (m->timers.n && !due)
        return nomem(m, err);
    for (size_t i = 0; i < m->timers.n; i++)
        if (AT(m->timers, mem_timer, i)->row.due <= now)
            due[n++] = AT(m->timers, mem_timer, i);
    if (n > 1)
        qsort(due, n, sizeof *due, cmp_timer);
    /* copy rows: the callback may change the table */
    baton_timer_row *rows = n ? baton_malloc(n * sizeof *rows) : NULL;
    if (n && !rows) {
        baton_free(due);
        return nomem(m, err);
    }
    for (size_t i = 0; i < n; i++) {
        rows[i] = due[i]->row;
        rows[i].element = NULL;
    }
    baton_free(due);
    for (size_t i = 0; i < n && (!limit || i < limit); i++)
        if (fn(cookie, &rows[i]))
            break;
    baton_free(rows);
    return BATON_OK;
}

static baton_status mem_timer_next(baton_store *s, int64_t *due_out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < m->timers.n; i++)
        if (AT(m->timers, mem_timer, i)->row.due < best)
            best = AT(m->timers, mem_timer, i)->row.due;
    *due_out = best;
    return BATON_OK;
}

typedef struct mem_sub {
    baton_sub_row row;
} mem_sub;

static baton_status mem_sub_put(baton_store *s, int kind, const baton_sub_row *row,
                                baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_sub *x = vpush(&m->subs[kind != 0], sizeof *x);
    if (!x)
        return nomem(m, err);
    x->row = *row;
    x->row.name = dup(row->name);
    x->row.correlation = dup(row->correlation);
    x->row.element = dup(row->element);
    if (!x->row.name || (row->correlation && !x->row.correlation))
        return nomem(m, err);
    return BATON_OK;
}

static baton_status mem_sub_delete(baton_store *s, int kind, int64_t instance, int64_t key,
                                   baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    vec *v = &m->subs[kind != 0];
    for (size_t i = 0; i < v->n; i++) {
        mem_sub *x = AT(*v, mem_sub, i);
        if (x->row.instance == instance && x->row.key == key) {
            baton_free((char *)x->row.name);
            baton_free((char *)x->row.correlation);
            baton_free((char *)x->row.element);
            vremove(v, sizeof *x, i);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_sub_find(baton_store *s, int kind, const char *name,
                                 const char *correlation, baton_row_fn fn, void *cookie,
                                 baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    vec *v = &m->subs[kind != 0];
    /* copy matches first: the callback may change the table */
    size_t n = 0;
    baton_sub_row *rows = v->n ? baton_malloc(v->n * sizeof *rows) : NULL;
    if (v->n && !rows)
        return nomem(m, err);
    for (size_t i = 0; i < v->n; i++) {
        mem_sub *x = AT(*v, mem_sub, i);
        if (strcmp(x->row.name, name) != 0)
            continue;
        if (kind == 0 && x->row.correlation &&
            (!correlation || strcmp(x->row.correlation, correlation) != 0))
            continue;
        rows[n] = x->row;
        rows[n].name = rows[n].correlation = rows[n].element = NULL;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        if (fn(cookie, &rows[i]))
            break;
    baton_free(rows);
    return BATON_OK;
}

typedef struct mem_task {
    baton_task_row row;
} mem_task;

static void free_task(mem_task *t) {
    baton_free((char *)t->row.element);
    baton_free((char *)t->row.name);
    baton_free((char *)t->row.process_id);
    baton_free((char *)t->row.assignee);
    baton_free((char *)t->row.details);
}

static baton_status mem_task_put(baton_store *s, const baton_task_row *row, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_task *t = NULL;
    for (size_t i = 0; i < m->tasks.n && !t; i++) {
        mem_task *x = AT(m->tasks, mem_task, i);
        if (x->row.instance == row->instance && x->row.key == row->key)
            t = x;
    }
    if (t)
        free_task(t);
    else if (!(t = vpush(&m->tasks, sizeof *t)))
        return nomem(m, err);
    t->row = *row;
    t->row.element = dup(row->element);
    t->row.name = dup(row->name);
    t->row.process_id = dup(row->process_id);
    t->row.assignee = dup(row->assignee);
    t->row.details = dup(row->details);
    return BATON_OK;
}

static baton_status mem_task_delete(baton_store *s, int64_t instance, int64_t key,
                                    baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    for (size_t i = 0; i < m->tasks.n; i++) {
        mem_task *x = AT(m->tasks, mem_task, i);
        if (x->row.instance == instance && x->row.key == key) {
            free_task(x);
            vremove(&m->tasks, sizeof *x, i);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_task_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->tasks.n; i++)
        if (fn(cookie, &AT(m->tasks, mem_task, i)->row))
            break;
    return BATON_OK;
}

static baton_status mem_task_query(baton_store *s, const baton_task_filter *f, baton_row_fn fn,
                                   void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    key_page p;
    baton_status st = key_page_init(&p, f->limit, "user task query", err);
    if (st)
        return st;
    for (size_t i = 0; i < m->tasks.n; i++) {
        const baton_task_row *x = &AT(m->tasks, mem_task, i)->row;
        if (pair_before(f->after_instance, f->after_key, x->instance, x->key) &&
            baton_store_task_matches(f, x))
            key_page_offer(&p, x, x->instance, x->key);
    }
    key_page_emit(&p, fn, cookie);
    return BATON_OK;
}

typedef struct mem_incident {
    baton_incident_row row;
} mem_incident;

static baton_status mem_incident_put(baton_store *s, const baton_incident_row *row,
                                     baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_incident *x = vpush(&m->incidents, sizeof *x);
    if (!x)
        return nomem(m, err);
    x->row = *row;
    x->row.element = dup(row->element);
    x->row.kind = dup(row->kind);
    x->row.message = dup(row->message);
    return BATON_OK;
}

static baton_status mem_incident_delete(baton_store *s, int64_t instance, int64_t key,
                                        baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    for (size_t i = 0; i < m->incidents.n; i++) {
        mem_incident *x = AT(m->incidents, mem_incident, i);
        if (x->row.instance == instance && x->row.key == key) {
            baton_free((char *)x->row.element);
            baton_free((char *)x->row.kind);
            baton_free((char *)x->row.message);
            vremove(&m->incidents, sizeof *x, i);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_incident_list(baton_store *s, baton_row_fn fn, void *cookie,
                                      baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->incidents.n; i++)
        if (fn(cookie, &AT(m->incidents, mem_incident, i)->row))
            break;
    return BATON_OK;
}

static bool incident_matches(mem_store *m, const baton_incident_filter *f,
                             const baton_incident_row *x) {
    const mem_inst *in = f->process_id ? find_inst(m, x->instance) : NULL;
    return baton_store_incident_matches(f, x, in ? in->row.process_id : NULL);
}

static baton_status mem_incident_query(baton_store *s, const baton_incident_filter *f,
                                       baton_row_fn fn, void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    key_page p;
    baton_status st = key_page_init(&p, f->limit, "incident query", err);
    if (st)
        return st;
    for (size_t i = 0; i < m->incidents.n; i++) {
        const baton_incident_row *x = &AT(m->incidents, mem_incident, i)->row;
        if (pair_before(f->after_instance, f->after_key, x->instance, x->key) &&
            incident_matches(m, f, x))
            key_page_offer(&p, x, x->instance, x->key);
    }
    key_page_emit(&p, fn, cookie);
    return BATON_OK;
}

static baton_status mem_incident_count(baton_store *s, const baton_incident_filter *f,
                                       int64_t *count_out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    int64_t n = 0;
    for (size_t i = 0; i < m->incidents.n; i++)
        n += incident_matches(m, f, &AT(m->incidents, mem_incident, i)->row);
    *count_out = n;
    return BATON_OK;
}

/* ---- outbox and buffered messages -------------------------------------------------- */

typedef struct mem_event {
    baton_event_row row;
} mem_event;

static baton_status mem_event_push(baton_store *s, baton_event_row *row, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_event *x = vpush(&m->events, sizeof *x);
    if (!x)
        return nomem(m, err);
    x->row = *row;
    x->row.id = ++m->next_event;
    if (!(x->row.payload = dup(row->payload)) && row->payload)
        return nomem(m, err);
    row->id = x->row.id;
    return BATON_OK;
}

static baton_status mem_event_peek(baton_store *s, baton_event_row *out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    if (!m->events.n)
        return BATON_NOTFOUND;
    *out = AT(m->events, mem_event, 0)->row;
    return BATON_OK;
}

static baton_status mem_event_delete(baton_store *s, int64_t id, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    for (size_t i = 0; i < m->events.n; i++) {
        mem_event *x = AT(m->events, mem_event, i);
        if (x->row.id == id) {
            baton_free((char *)x->row.payload);
            vremove(&m->events, sizeof *x, i);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

typedef struct mem_msg {
    baton_message_row row;
} mem_msg;

static void free_msg(mem_msg *x) {
    baton_free((char *)x->row.name);
    baton_free((char *)x->row.correlation);
    baton_free((char *)x->row.message_id);
    baton_free((char *)x->row.variables);
}

static baton_status mem_msg_put(baton_store *s, baton_message_row *row, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    mem_msg *x = vpush(&m->messages, sizeof *x);
    if (!x)
        return nomem(m, err);
    x->row = *row;
    x->row.id = ++m->next_message;
    x->row.name = dup(row->name);
    x->row.correlation = dup(row->correlation);
    x->row.message_id = dup(row->message_id);
    x->row.variables = dup(row->variables);
    row->id = x->row.id;
    return BATON_OK;
}

static baton_status mem_msg_find(baton_store *s, const char *name, const char *correlation,
                                 int64_t now, baton_message_row *out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->messages.n; i++) {
        mem_msg *x = AT(m->messages, mem_msg, i);
        if (x->row.expires <= now || strcmp(x->row.name, name) != 0)
            continue;
        if ((x->row.correlation == NULL) != (correlation == NULL) ||
            (correlation && strcmp(x->row.correlation, correlation) != 0))
            continue;
        *out = x->row;
        return BATON_OK;
    }
    return BATON_NOTFOUND;
}

static baton_status mem_msg_find_id(baton_store *s, const char *message_id, int64_t now,
                                    baton_message_row *out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    for (size_t i = 0; i < m->messages.n; i++) {
        mem_msg *x = AT(m->messages, mem_msg, i);
        if (x->row.expires > now && x->row.message_id &&
            strcmp(x->row.message_id, message_id) == 0) {
            *out = x->row;
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_msg_delete(baton_store *s, int64_t id, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    WRITE(m);
    for (size_t i = 0; i < m->messages.n; i++) {
        mem_msg *x = AT(m->messages, mem_msg, i);
        if (x->row.id == id) {
            free_msg(x);
            vremove(&m->messages, sizeof *x, i);
            return BATON_OK;
        }
    }
    return BATON_NOTFOUND;
}

static baton_status mem_msg_waiting(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                                    void *cookie, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    /* copy the matches first: the callback may change the tables */
    size_t n = 0, cap = 0;
    baton_sub_row *rows = NULL;
    for (size_t i = 0; i < m->messages.n && (!limit || n < limit); i++) {
        const mem_msg *x = AT(m->messages, mem_msg, i);
        if (x->row.expires <= now)
            continue;
        for (size_t k = 0; k < m->subs[0].n && (!limit || n < limit); k++) {
            const mem_sub *sub = AT(m->subs[0], mem_sub, k);
            if (strcmp(sub->row.name, x->row.name) != 0 ||
                (sub->row.correlation &&
                 (!x->row.correlation || strcmp(sub->row.correlation, x->row.correlation) != 0)))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                baton_sub_row *r = baton_realloc(rows, cap * sizeof *r);
                if (!r) {
                    baton_free(rows);
                    return nomem(m, err);
                }
                rows = r;
            }
            rows[n++] = (baton_sub_row){sub->row.instance, sub->row.key, x->row.name,
                                        x->row.correlation, NULL};
        }
    }
    for (size_t i = 0; i < n; i++)
        if (fn(cookie, &rows[i]))
            break;
    baton_free(rows);
    return BATON_OK;
}

/* ---- failure and retention ------------------------------------------------------------- */

static baton_status mem_wait_drop(baton_store *s, int kind, int64_t instance, int64_t key,
                                  baton_error *err) {
    baton_status st;
    switch (kind) {
    case BATON_WAIT_JOB: st = mem_job_delete(s, instance, key, err); break;
    case BATON_WAIT_USER_TASK: st = mem_task_delete(s, instance, key, err); break;
    case BATON_WAIT_TIMER: st = mem_timer_delete(s, instance, key, err); break;
    case BATON_WAIT_MESSAGE: st = mem_sub_delete(s, 0, instance, key, err); break;
    case BATON_WAIT_SIGNAL: st = mem_sub_delete(s, 1, instance, key, err); break;
    default: st = BATON_OK; break;
    }
    return st == BATON_NOTFOUND ? BATON_OK : st;
}

static bool mem_failed(baton_store *s) {
    return ((mem_store *)s)->failed != 0;
}

static void free_inst(mem_inst *x) {
    baton_free((char *)x->row.process_id);
    baton_free((char *)x->row.business_key);
    baton_free(x->state);
    for (uint64_t k = 0; k < x->n_history; k++)
        baton_free(x->history[k]);
    baton_free(x->history);
    baton_free(x);
}

static baton_status mem_purge(baton_store *s, int64_t ended_before, int64_t now, uint32_t max,
                              uint32_t *removed_out, baton_error *err) {
    mem_store *m = (mem_store *)s;
    CHECK(m, err);
    uint32_t removed = 0, messages = 0;
    for (size_t i = 0; i < m->messages.n && messages < max;) {
        mem_msg *x = AT(m->messages, mem_msg, i);
        if (x->row.expires > now) {
            i++;
            continue;
        }
        WRITE(m);
        free_msg(x);
        vremove(&m->messages, sizeof *x, i);
        messages++;
    }
    while (removed < max) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < m->instances.n; i++) {
            const mem_inst *x = *AT(m->instances, mem_inst *, i);
            if (x->row.ended != 0 && x->row.ended < ended_before &&
                (best == SIZE_MAX ||
                 x->row.ended < (*AT(m->instances, mem_inst *, best))->row.ended))
                best = i;
        }
        if (best == SIZE_MAX)
            break;
        mem_inst *x = *AT(m->instances, mem_inst *, best);
        int64_t id = x->row.id;
        WRITE(m);
        /* an ended instance has no waits left; sweep anyway so nothing dangles */
        for (size_t i = m->jobs.n; i-- > 0;)
            if (AT(m->jobs, mem_job, i)->row.instance == id)
                mem_job_delete(s, id, AT(m->jobs, mem_job, i)->row.key, NULL);
        for (size_t i = m->timers.n; i-- > 0;)
            if (AT(m->timers, mem_timer, i)->row.instance == id)
                mem_timer_delete(s, id, AT(m->timers, mem_timer, i)->row.key, NULL);
        for (int k = 0; k < 2; k++)
            for (size_t i = m->subs[k].n; i-- > 0;)
                if (AT(m->subs[k], mem_sub, i)->row.instance == id)
                    mem_sub_delete(s, k, id, AT(m->subs[k], mem_sub, i)->row.key, NULL);
        for (size_t i = m->tasks.n; i-- > 0;)
            if (AT(m->tasks, mem_task, i)->row.instance == id)
                mem_task_delete(s, id, AT(m->tasks, mem_task, i)->row.key, NULL);
        for (size_t i = m->incidents.n; i-- > 0;)
            if (AT(m->incidents, mem_incident, i)->row.instance == id)
                mem_incident_delete(s, id, AT(m->incidents, mem_incident, i)->row.key, NULL);
        free_inst(x);
        vremove(&m->instances, sizeof x, best);
        removed++;
    }
    if (removed_out)
        *removed_out = removed + messages;
    return BATON_OK;
}

/* ---- open/close ------------------------------------------------------------------------ */

static void mem_close(baton_store *s) {
    mem_store *m = (mem_store *)s;
    if (!m)
        return;
    for (size_t i = 0; i < m->deployments.n; i++) {
        mem_dep *d = AT(m->deployments, mem_dep, i);
        baton_free((char *)d->row.name);
        baton_free((char *)d->row.xml);
        baton_free((char *)d->row.hash);
    }
    for (size_t i = 0; i < m->definitions.n; i++)
        baton_free(AT(m->definitions, mem_def, i)->process_id);
    for (size_t i = 0; i < m->instances.n; i++)
        free_inst(*AT(m->instances, mem_inst *, i));
    for (size_t i = 0; i < m->jobs.n; i++)
        free_job(AT(m->jobs, mem_job, i));
    for (size_t i = 0; i < m->timers.n; i++)
        baton_free((char *)AT(m->timers, mem_timer, i)->row.element);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < m->subs[k].n; i++) {
            mem_sub *x = AT(m->subs[k], mem_sub, i);
            baton_free((char *)x->row.name);
            baton_free((char *)x->row.correlation);
            baton_free((char *)x->row.element);
        }
    for (size_t i = 0; i < m->tasks.n; i++)
        free_task(AT(m->tasks, mem_task, i));
    for (size_t i = 0; i < m->incidents.n; i++) {
        mem_incident *x = AT(m->incidents, mem_incident, i);
        baton_free((char *)x->row.element);
        baton_free((char *)x->row.kind);
        baton_free((char *)x->row.message);
    }
    for (size_t i = 0; i < m->events.n; i++)
        baton_free((char *)AT(m->events, mem_event, i)->row.payload);
    for (size_t i = 0; i < m->messages.n; i++)
        free_msg(AT(m->messages, mem_msg, i));
    vec *all[] = {&m->deployments, &m->definitions, &m->instances, &m->jobs,
                  &m->timers,      &m->subs[0],     &m->subs[1],   &m->tasks,
                  &m->incidents,   &m->events,      &m->messages};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        baton_free(all[i]->data);
    baton_free(m);
}

static const baton_store_ops memory_ops = {
    .name = "memory",
    .close = mem_close,
    .begin = mem_begin,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .deployment_find_hash = mem_dep_find_hash,
    .deployment_put = mem_dep_put,
    .deployment_get = mem_dep_get,
    .deployment_list = mem_dep_list,
    .definition_put = mem_def_put,
    .definition_latest = mem_def_latest,
    .definition_get = mem_def_get,
    .definition_list = mem_def_list,
    .instance_new_id = mem_inst_new_id,
    .instance_get = mem_inst_get,
    .instance_put = mem_inst_put,
    .instance_list = mem_inst_list,
    .instance_query = mem_inst_query,
    .instance_count = mem_inst_count,
    .instance_children = mem_inst_children,
    .history_append = mem_hist_append,
    .history_read = mem_hist_read,
    .job_put = mem_job_put,
    .job_delete = mem_job_delete,
    .job_get = mem_job_get,
    .job_activate = mem_job_activate,
    .job_list = mem_job_list,
    .job_query = mem_job_query,
    .timer_put = mem_timer_put,
    .timer_delete = mem_timer_delete,
    .timer_due = mem_timer_due,
    .timer_next = mem_timer_next,
    .sub_put = mem_sub_put,
    .sub_delete = mem_sub_delete,
    .sub_find = mem_sub_find,
    .task_put = mem_task_put,
    .task_delete = mem_task_delete,
    .task_list = mem_task_list,
    .task_query = mem_task_query,
    .incident_put = mem_incident_put,
    .incident_delete = mem_incident_delete,
    .incident_list = mem_incident_list,
    .incident_query = mem_incident_query,
    .incident_count = mem_incident_count,
    .event_push = mem_event_push,
    .event_peek = mem_event_peek,
    .event_delete = mem_event_delete,
    .message_put = mem_msg_put,
    .message_find = mem_msg_find,
    .message_find_id = mem_msg_find_id,
    .message_delete = mem_msg_delete,
    .message_waiting = mem_msg_waiting,
    .wait_drop = mem_wait_drop,
    .failed = mem_failed,
    .purge = mem_purge,
};

baton_status baton_store_open_memory(baton_store **out, baton_error *err) {
    mem_store *m = baton_calloc(1, sizeof *m);
    if (!m)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    m->base.ops = &memory_ops;
    *out = &m->base;
    return BATON_OK;
}
