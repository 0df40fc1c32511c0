/* metrics.c - counters and their Prometheus rendering; see metrics.h. */
#include "api/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/intmap.h"

/* Status codes the API answers with; anything else counts as "other". */
static const int codes[] = {200, 201, 202, 204, 400, 404, 405, 409,
                            413, 415, 422, 431, 500, 503, 504};
#define N_CODES (sizeof codes / sizeof codes[0])

/* Latency buckets in microseconds (upper bounds), Prometheus renders them in seconds. */
static const int64_t buckets_us[] = {250,   500,    1000,   2500,   5000,    10000,   25000,
                                     50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
#define N_BUCKETS (sizeof buckets_us / sizeof buckets_us[0])

typedef struct histogram {
    _Atomic uint64_t counts[N_BUCKETS + 1]; /* last = +Inf */
    _Atomic uint64_t sum_us;
} histogram;

/* Job latency buckets in microseconds: jobs wait for workers, so up to an hour. */
static const int64_t job_buckets_us[] = {1000,     5000,     10000,     25000,     50000,
                                         100000,   250000,   500000,    1000000,   5000000,
                                         30000000, 60000000, 300000000, 3600000000};
#define N_JOB_BUCKETS (sizeof job_buckets_us / sizeof job_buckets_us[0])

typedef struct job_histogram {
    _Atomic uint64_t counts[N_JOB_BUCKETS + 1];
    _Atomic uint64_t sum_us;
} job_histogram;

/* A recent job: (instance, key) and when it was created (step clock, ms). */
typedef struct job_slot {
    int64_t instance, key, created;
} job_slot;

typedef struct proc_counts {
    char id[128];
    uint64_t started, completed, cancelled;
} proc_counts;

struct baton_metrics {
    const char *const *routes;
    uint32_t n_routes;
    _Atomic uint64_t *http; /* [(n_routes + 1) * (N_CODES + 1)] */
    histogram http_latency;
    histogram command_latency;
    _Atomic uint64_t transitions;
    _Atomic uint64_t records;
    _Atomic int64_t started, ended;
    _Atomic int64_t active_base;
    _Atomic bool active_known;
    _Atomic uint64_t timers_fired;
    _Atomic uint64_t jobs_created, jobs_activated, jobs_completed, jobs_failed, http_job_calls;
    _Atomic int64_t incidents_open;
    job_histogram job_latency;
    pthread_mutex_t job_lock;                           /* job_slots */
    job_slot *job_slots;                                /* [BATON_METRICS_JOB_SLOTS] */
    pthread_mutex_t lock;                               /* procs */
    proc_counts procs[BATON_METRICS_MAX_PROCESSES + 1]; /* last = "_other" */
    uint32_t n_procs;
    /* instance -> procs index + 1, for instances of models with several processes, whose
       end record does not say which process ended (bounded: then "_unknown") */
    baton_intmap owner;
};

#define OWNER_MAX 100000u

baton_metrics *baton_metrics_new(const char *const *route_names, uint32_t n_routes) {
    baton_metrics *m = baton_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->routes = route_names;
    m->n_routes = n_routes;
    m->http = baton_calloc((size_t)(n_routes + 1) * (N_CODES + 1), sizeof *m->http);
    m->job_slots = baton_calloc(BATON_METRICS_JOB_SLOTS, sizeof *m->job_slots);
    if (!m->http || !m->job_slots) {
        baton_free((void *)m->http);
        baton_free(m->job_slots);
        baton_free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->job_lock, NULL);
    baton_intmap_init(&m->owner);
    snprintf(m->procs[BATON_METRICS_MAX_PROCESSES].id, sizeof m->procs[0].id, "_other");
    return m;
}

void baton_metrics_free(baton_metrics *m) {
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->job_lock);
    baton_free(m->job_slots);
    baton_intmap_fini(&m->owner);
    baton_free((void *)m->http);
    baton_free(m);
}

static void observe(histogram *h, int64_t us) {
    size_t i = 0;
    while (i < N_BUCKETS && us > buckets_us[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(us < 0 ? 0 : us), memory_order_relaxed);
}

void baton_metrics_http(baton_metrics *m, uint32_t route, int status, int64_t micros) {
    if (route > m->n_routes)
        route = m->n_routes;
    size_t c = 0;
    while (c < N_CODES && codes[c] != status)
        c++;
    atomic_fetch_add_explicit(&m->http[route * (N_CODES + 1) + c], 1, memory_order_relaxed);
    observe(&m->http_latency, micros);
}

void baton_metrics_command(baton_metrics *m, int64_t micros) {
    observe(&m->command_latency, micros);
}

void baton_metrics_set_active(baton_metrics *m, int64_t active) {
    /* the gauge is active_base + started - ended from here on */
    atomic_store(&m->active_base, active - (atomic_load(&m->started) - atomic_load(&m->ended)));
    atomic_store(&m->active_known, true);
}

void baton_metrics_timers_fired(baton_metrics *m, uint64_t total) {
    atomic_store(&m->timers_fired, total);
}

void baton_metrics_jobs_activated(baton_metrics *m, uint64_t n) {
    atomic_fetch_add_explicit(&m->jobs_activated, n, memory_order_relaxed);
}

void baton_metrics_http_job_calls(baton_metrics *m, uint64_t total) {
    atomic_store(&m->http_job_calls, total);
}

void baton_metrics_set_incidents(baton_metrics *m, int64_t open) {
    atomic_store(&m->incidents_open, open);
}

static uint32_t job_slot_of(int64_t instance, int64_t key) {
    uint64_t h = (uint64_t)instance * 0x9E3779B97F4A7C15ull ^ (uint64_t)key * 0xC2B2AE3D27D4EB4Full;
    return (uint32_t)(h >> 40) & (BATON_METRICS_JOB_SLOTS - 1);
}

/* A job was created (remember when) or ended (time it, if remembered). */
static void job_record(baton_metrics *m, int64_t instance, const baton_record *r) {
    job_slot *js = &m->job_slots[job_slot_of(instance, r->key)];
    if (r->kind == BATON_REC_JOB_CREATED) {
        atomic_fetch_add_explicit(&m->jobs_created, 1, memory_order_relaxed);
        pthread_mutex_lock(&m->job_lock);
        *js = (job_slot){instance, r->key, r->at};
        pthread_mutex_unlock(&m->job_lock);
        return;
    }
    atomic_fetch_add_explicit(&m->jobs_completed, 1, memory_order_relaxed);
    int64_t created = -1;
    pthread_mutex_lock(&m->job_lock);
    if (js->instance == instance && js->key == r->key) {
        created = js->created;
        js->instance = 0;
    }
    pthread_mutex_unlock(&m->job_lock);
    if (created < 0)
        return;
    int64_t us = (r->at - created) * 1000;
    size_t i = 0;
    while (i < N_JOB_BUCKETS && us > job_buckets_us[i])
        i++;
    atomic_fetch_add_explicit(&m->job_latency.counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->job_latency.sum_us, (uint64_t)(us < 0 ? 0 : us),
                              memory_order_relaxed);
}

static proc_counts *proc_slot(baton_metrics *m, const char *id) {
    for (uint32_t i = 0; i < m->n_procs; i++)
        if (strcmp(m->procs[i].id, id) == 0)
            return &m->procs[i];
    if (m->n_procs == BATON_METRICS_MAX_PROCESSES || strlen(id) >= sizeof m->procs[0].id)
        return &m->procs[BATON_METRICS_MAX_PROCESSES];
    proc_counts *p = &m->procs[m->n_procs++];
    snprintf(p->id, sizeof p->id, "%s", id);
    return p;
}

/*
 * The process an INSTANCE_ENDED record belongs to: the record names no
 * process today, so a model with one executable process answers for it and
 * other models count under "_unknown".
 */
static bool several_processes(const baton_graph *g) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n_processes; i++)
        n += g->processes[i].executable;
    return n > 1;
}

static const char *ended_process(const baton_model *model, const baton_record *r) {
    const baton_graph *g = baton_model_graph(model);
    if (r->element != BATON_NONE && r->element < g->n_processes)
        return g->processes[r->element].id;
    const char *only = NULL;
    for (uint32_t i = 0; i < g->n_processes; i++) {
        if (!g->processes[i].executable)
            continue;
        if (only)
            return "_unknown";
        only = g->processes[i].id;
    }
    return only ? only : "_unknown";
}

void baton_metrics_record(void *cookie, int64_t instance, const baton_model *model,
                          const baton_record *r) {
    baton_metrics *m = cookie;
    atomic_fetch_add_explicit(&m->records, 1, memory_order_relaxed);
    if (baton_record_kind_flags((baton_record_kind)r->kind) & BATON_RF_TRANSITION)
        atomic_fetch_add_explicit(&m->transitions, 1, memory_order_relaxed);
    if (r->kind == BATON_REC_JOB_CREATED ||
        (r->kind == BATON_REC_WAIT_TRIGGERED && r->aux == BATON_WAIT_JOB)) {
        job_record(m, instance, r);
    } else if (r->kind == BATON_REC_JOB_FAILED) {
        atomic_fetch_add_explicit(&m->jobs_failed, 1, memory_order_relaxed);
    } else if (r->kind == BATON_REC_INSTANCE_CREATED) {
        const baton_graph *g = baton_model_graph(model);
        const char *id = r->element < g->n_processes ? g->processes[r->element].id : "_unknown";
        atomic_fetch_add(&m->started, 1);
        pthread_mutex_lock(&m->lock);
        proc_counts *p = proc_slot(m, id);
        p->started++;
        if (several_processes(g) && m->owner.count < OWNER_MAX)
            baton_intmap_put(&m->owner, instance, (uint32_t)(p - m->procs) + 1);
        pthread_mutex_unlock(&m->lock);
    } else if (r->kind == BATON_REC_INSTANCE_ENDED) {
        atomic_fetch_add(&m->ended, 1);
        pthread_mutex_lock(&m->lock);
        uint32_t slot = 0;
        proc_counts *p;
        if (baton_intmap_get(&m->owner, instance, &slot)) {
            baton_intmap_del(&m->owner, instance);
            p = &m->procs[slot - 1];
        } else {
            p = proc_slot(m, ended_process(model, r));
        }
        if (r->aux == BATON_INSTANCE_COMPLETED)
            p->completed++;
        else
            p->cancelled++;
        pthread_mutex_unlock(&m->lock);
    }
}

static void label_value(baton_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            baton_buf_putc(b, '\\'), baton_buf_putc(b, *s);
        else if (*s == '\n')
            baton_buf_puts(b, "\\n");
        else
            baton_buf_putc(b, *s);
    }
}

static void render_histogram(baton_buf *b, const char *name, const char *help, histogram *h) {
    baton_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i <= N_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < N_BUCKETS)
            baton_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)buckets_us[i] / 1e6,
                             (unsigned long long)cum);
        else
            baton_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    baton_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&h->sum_us) / 1e6,
                     name, (unsigned long long)cum);
}

baton_status baton_metrics_render(baton_metrics *m, baton_buf *b) {
    static const char *const per_proc[3][2] = {
        {"baton_instances_started_total", "Process instances started."},
        {"baton_instances_completed_total", "Process instances that reached their end."},
        {"baton_instances_cancelled_total", "Process instances terminated (cancelled)."},
    };
    pthread_mutex_lock(&m->lock);
    for (int k = 0; k < 3; k++) {
        baton_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", per_proc[k][0], per_proc[k][1],
                         per_proc[k][0]);
        for (uint32_t i = 0; i <= BATON_METRICS_MAX_PROCESSES; i++) {
            if (i >= m->n_procs && i != BATON_METRICS_MAX_PROCESSES)
                continue;
            const proc_counts *p = &m->procs[i];
            uint64_t v = k == 0 ? p->started : k == 1 ? p->completed : p->cancelled;
            if (i == BATON_METRICS_MAX_PROCESSES && !p->started && !p->completed && !p->cancelled)
                continue;
            baton_buf_printf(b, "%s{process=\"", per_proc[k][0]);
            label_value(b, p->id);
            baton_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
        }
    }
    pthread_mutex_unlock(&m->lock);
    int64_t active =
        atomic_load(&m->active_base) + atomic_load(&m->started) - atomic_load(&m->ended);
    baton_buf_printf(b,
                     "# HELP baton_instances_active Process instances not yet ended.\n"
                     "# TYPE baton_instances_active gauge\nbaton_instances_active %lld\n",
                     (long long)(active < 0 ? 0 : active));
    baton_buf_printf(b,
                     "# HELP baton_transitions_total Token transitions applied.\n"
                     "# TYPE baton_transitions_total counter\nbaton_transitions_total %llu\n",
                     (unsigned long long)atomic_load(&m->transitions));
    baton_buf_printf(b,
                     "# HELP baton_records_total History records written.\n"
                     "# TYPE baton_records_total counter\nbaton_records_total %llu\n",
                     (unsigned long long)atomic_load(&m->records));
    baton_buf_printf(b,
                     "# HELP baton_timers_fired_total Timers fired by the scheduler.\n"
                     "# TYPE baton_timers_fired_total counter\nbaton_timers_fired_total %llu\n",
                     (unsigned long long)atomic_load(&m->timers_fired));
    static const char *const jobs[4][2] = {
        {"baton_jobs_created_total", "Jobs created for workers."},
        {"baton_jobs_activated_total", "Jobs handed out to workers (HTTP APIs, built-in http)."},
        {"baton_jobs_completed_total", "Jobs ended by their worker: completed or a BPMN error."},
        {"baton_jobs_failed_total", "Job failures reported (each attempt)."},
    };
    uint64_t jv[4] = {atomic_load(&m->jobs_created),
                      atomic_load(&m->jobs_activated) + atomic_load(&m->http_job_calls),
                      atomic_load(&m->jobs_completed), atomic_load(&m->jobs_failed)};
    for (int k = 0; k < 4; k++)
        baton_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", jobs[k][0], jobs[k][1],
                         jobs[k][0], jobs[k][0], (unsigned long long)jv[k]);
    baton_buf_puts(b, "# HELP baton_job_latency_seconds Jobs from creation to completion.\n"
                      "# TYPE baton_job_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i <= N_JOB_BUCKETS; i++) {
        cum += atomic_load_explicit(&m->job_latency.counts[i], memory_order_relaxed);
        if (i < N_JOB_BUCKETS)
            baton_buf_printf(b, "baton_job_latency_seconds_bucket{le=\"%g\"} %llu\n",
                             (double)job_buckets_us[i] / 1e6, (unsigned long long)cum);
        else
            baton_buf_printf(b, "baton_job_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                             (unsigned long long)cum);
    }
    baton_buf_printf(b,
                     "baton_job_latency_seconds_sum %.6f\nbaton_job_latency_seconds_count "
                     "%llu\n",
                     (double)atomic_load(&m->job_latency.sum_us) / 1e6, (unsigned long long)cum);
    baton_buf_printf(b,
                     "# HELP baton_incidents_open Incidents waiting to be resolved.\n"
                     "# TYPE baton_incidents_open gauge\nbaton_incidents_open %lld\n",
                     (long long)atomic_load(&m->incidents_open));
    render_histogram(b, "baton_step_duration_seconds",
                     "One engine command: transaction(s), step(s), commit, outbox settled.",
                     &m->command_latency);
    render_histogram(b, "baton_http_request_duration_seconds", "HTTP requests, all routes.",
                     &m->http_latency);
    baton_buf_puts(b, "# HELP baton_http_requests_total HTTP requests by route and status.\n"
                      "# TYPE baton_http_requests_total counter\n");
    for (uint32_t r = 0; r <= m->n_routes; r++)
        for (size_t c = 0; c <= N_CODES; c++) {
            uint64_t v =
                atomic_load_explicit(&m->http[r * (N_CODES + 1) + c], memory_order_relaxed);
            if (!v)
                continue;
            baton_buf_puts(b, "baton_http_requests_total{route=\"");
            label_value(b, r < m->n_routes ? m->routes[r] : "unmatched");
            if (c < N_CODES)
                baton_buf_printf(b, "\",status=\"%d\"} %llu\n", codes[c], (unsigned long long)v);
            else
                baton_buf_printf(b, "\",status=\"other\"} %llu\n", (unsigned long long)v);
        }
    return b->len >= b->limit && b->limit ? BATON_LIMIT : BATON_OK;
}
