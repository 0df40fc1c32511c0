/*
 * bench_store.c - durable throughput against the store's commit limit
 * (bench/store/run.sh runs it; figures in docs/performance.md, "## Stores").
 *
 *   bench-store sqlite-commit DIR THREADS SECONDS
 *       the SQLite baseline: THREADS connections, each inserting one row per
 *       transaction into a WAL database with synchronous=FULL
 *   bench-store baton URL DRIVERS SECONDS [STEPS_PER_S]
 *       Baton on a store: DRIVERS threads each start instances of
 *       start -> 3 service tasks -> end, 8 at a time, and complete the jobs
 *       as an in-process worker does (activate up to 8, complete each), over
 *       an engine with DRIVERS sessions. A step is one engine command that runs the
 *       step function in its own transaction (a start or a completion: 4
 *       per instance); its latency is measured around the call. With
 *       STEPS_PER_S the drivers pace themselves to that total rate (for the
 *       latency at a given load); without, they go as fast as they can.
 *
 * Each prints one line of key=value pairs (run.sh reads them).
 */
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/engine.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the SQLite commit limit ------------------------------------------------------------ */

typedef struct sq_arg {
    const char *path;
    double until;
    long commits;
} sq_arg;

static int short_busy(void *cookie, int n) {
    (void)cookie;
    if (n > 200000)
        return 0;
    usleep(50); /* a short wait: the baseline should not idle behind SQLite's default sleeps */
    return 1;
}

static void *sq_loop(void *p) {
    sq_arg *a = p;
    sqlite3 *db = NULL;
    sqlite3_open(a->path, &db);
    sqlite3_busy_handler(db, short_busy, NULL);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL);
    sqlite3_stmt *ins = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO t (v, at) VALUES (?1, ?2)", -1, &ins, NULL);
    while (now_s() < a->until) {
        sqlite3_bind_int64(ins, 1, a->commits);
        sqlite3_bind_double(ins, 2, now_s());
        if (sqlite3_step(ins) == SQLITE_DONE)
            a->commits++;
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return NULL;
}

static int sqlite_commit(const char *dir, int threads, double seconds) {
    char path[1024];
    snprintf(path, sizeof path, "%s/commit-limit.db", dir);
    remove(path);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, "
                 "at REAL)",
                 NULL, NULL, NULL);
    sq_arg *a = calloc((size_t)threads, sizeof *a);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        a[i] = (sq_arg){path, t0 + seconds, 0};
        pthread_create(&t[i], NULL, sq_loop, &a[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += a[i].commits;
    }
    double el = now_s() - t0;
    printf("kind=sqlite-commit threads=%d commits_per_s=%.0f\n", threads, (double)total / el);
    sqlite3_close(db);
    free(a);
    free(t);
    char side[1100];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
    return 0;
}

/* ---- Baton ----------------------------------------------------------------------------- */

#define DEFS                                                                                       \
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                          \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"bench\">"
#define TASK(id)                                                                                   \
    "<serviceTask id=\"" id "\"><extensionElements><zeebe:taskDefinition "                         \
    "type=\"work\"/></extensionElements></serviceTask>"
#define FLOW(id, a, b) "<sequenceFlow id=\"" id "\" sourceRef=\"" a "\" targetRef=\"" b "\"/>"

static const char model[] =
    DEFS "<process id=\"three\" isExecutable=\"true\"><startEvent id=\"s\"/>" TASK("a") TASK("b")
        TASK("c") "<endEvent id=\"e\"/>" FLOW("f1", "s", "a") FLOW("f2", "a", "b")
            FLOW("f3", "b", "c") FLOW("f4", "c", "e") "</process></definitions>";

#define BATCH 8 /* instances a driver starts at a time; jobs a worker activates at a time */

static baton_engine *eng;
static atomic_int failures;

typedef struct drv {
    int index;
    double until, interval; /* pacing: seconds between steps, 0 = none */
    long steps, instances;
    double *lat; /* step latencies in seconds */
    size_t n_lat, cap_lat;
} drv;

typedef struct got {
    int64_t inst[BATCH], key[BATCH];
    int n;
} got;

static int take(void *c, const void *row) {
    got *g = c;
    const baton_job_row *j = row;
    if (g->n < BATCH) {
        g->inst[g->n] = j->instance;
        g->key[g->n] = j->key;
        g->n++;
    }
    return 0;
}

static baton_status activate_fn(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->job_activate(s, "work", BATCH, "bench", baton_engine_now(eng), 30000, take,
                                cookie, err);
}

static void record(drv *d, double dt) {
    if (d->n_lat == d->cap_lat) {
        d->cap_lat = d->cap_lat ? d->cap_lat * 2 : 4096;
        d->lat = realloc(d->lat, d->cap_lat * sizeof *d->lat);
    }
    d->lat[d->n_lat++] = dt;
}

static void pace(drv *d, double *next) {
    if (d->interval <= 0)
        return;
    double t = now_s();
    if (*next > t)
        usleep((useconds_t)((*next - t) * 1e6));
    *next += d->interval;
}

/*
 * One driver: start a batch of instances, then work as an in-process worker
 * does: activate up to 8 jobs at a time and complete them (jobs of other
 * drivers' instances too: they share one queue), until as many completions
 * as the batch owes are done; then the next batch.
 */
static void *drive(void *p) {
    drv *d = p;
    double next = now_s();
    while (now_s() < d->until) {
        baton_error err;
        for (int i = 0; i < BATCH && now_s() < d->until; i++) {
            pace(d, &next);
            baton_error_clear(&err);
            int64_t id;
            double t0 = now_s();
            if (baton_engine_start(eng, "three", 0, NULL, NULL, &id, &err)) {
                atomic_fetch_add(&failures, 1);
                continue;
            }
            record(d, now_s() - t0);
            d->steps++;
            d->instances++;
        }
        int owed = 3 * BATCH, idle = 0;
        while (owed > 0 && idle < 50 && now_s() < d->until) {
            got g = {.n = 0};
            baton_error_clear(&err);
            if (baton_engine_query(eng, activate_fn, &g, &err) || g.n == 0) {
                idle++;
                usleep(100);
                continue;
            }
            for (int i = 0; i < g.n; i++) {
                pace(d, &next);
                baton_input in = {0};
                in.kind = BATON_IN_COMPLETE;
                in.key = g.key[i];
                baton_error_clear(&err);
                double t0 = now_s();
                if (baton_engine_apply(eng, g.inst[i], &in, &err)) {
                    atomic_fetch_add(&failures, 1);
                    continue;
                }
                record(d, now_s() - t0);
                d->steps++;
                owed--;
            }
        }
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int baton(const char *url, int drivers, double seconds, double rate) {
    baton_error err;
    baton_error_clear(&err);
    baton_engine_opts o = {.store_url = url, .sessions = (unsigned)drivers};
    if (baton_engine_open(&o, &eng, &err) ||
        baton_engine_deploy(eng, "three.bpmn", model, sizeof model - 1, NULL, NULL, &err)) {
        fprintf(stderr, "bench-store: %s\n", err.message);
        return 1;
    }
    drv *d = calloc((size_t)drivers, sizeof *d);
    pthread_t *t = calloc((size_t)drivers, sizeof *t);
    /* a short warm-up, not measured: statements prepared, caches filled */
    double t0 = now_s();
    for (int i = 0; i < drivers; i++) {
        d[i] = (drv){.index = i, .until = t0 + 0.5};
        pthread_create(&t[i], NULL, drive, &d[i]);
    }
    for (int i = 0; i < drivers; i++) {
        pthread_join(t[i], NULL);
        free(d[i].lat);
    }
    t0 = now_s();
    for (int i = 0; i < drivers; i++) {
        d[i] = (drv){.index = i, .until = t0 + seconds, .interval = rate > 0 ? drivers / rate : 0};
        pthread_create(&t[i], NULL, drive, &d[i]);
    }
    long steps = 0, instances = 0;
    size_t n = 0;
    for (int i = 0; i < drivers; i++) {
        pthread_join(t[i], NULL);
        steps += d[i].steps;
        instances += d[i].instances;
        n += d[i].n_lat;
    }
    double el = now_s() - t0;
    double *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < drivers; i++) {
        memcpy(all + k, d[i].lat, d[i].n_lat * sizeof *all);
        k += d[i].n_lat;
        free(d[i].lat);
    }
    qsort(all, n, sizeof *all, cmp_double);
    double p50 = n ? all[n / 2] : 0, p99 = n ? all[(size_t)((double)n * 0.99)] : 0;
    printf("kind=baton drivers=%d rate=%.0f steps_per_s=%.0f instances_per_s=%.0f p50_ms=%.2f "
           "p99_ms=%.2f failures=%d\n",
           drivers, rate, (double)steps / el, (double)instances / el, p50 * 1e3, p99 * 1e3,
           atomic_load(&failures));
    free(all);
    free(d);
    free(t);
    baton_engine_close(eng);
    return 0;
}

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    if (argc >= 5 && strcmp(argv[1], "sqlite-commit") == 0)
        return sqlite_commit(argv[2], atoi(argv[3]), atof(argv[4]));
    if (argc >= 5 && strcmp(argv[1], "baton") == 0)
        return baton(argv[2], atoi(argv[3]), atof(argv[4]), argc > 5 ? atof(argv[5]) : 0);
    fprintf(stderr, "usage: bench-store sqlite-commit DIR THREADS SECONDS\n"
                    "       bench-store baton URL DRIVERS SECONDS [STEPS_PER_S]\n");
    return 2;
}
