/*
 * crash_driver.c - the process the crash test kills: `crash_driver URL N`
 * [STARTS_PER_100MS] drives N instances (business keys crash-0 .. crash-N-1) of a model with
 * parallel branches, a job, a user task and a timer, then a second job,
 * until every one has completed; exit 0 then. It is meant to be killed with
 * SIGKILL at any moment and started again: on start it opens the engine
 * (which delivers what the outbox holds), deploys the model (identical XML:
 * the same deployment) and starts only the business keys the store does not
 * have yet.
 *
 * Threads: one starts instances (paced, so kills land in every phase) and
 * fires due timers; three workers activate jobs (short locks, so a killed
 * worker's jobs come back soon) and complete them and the user tasks. Every
 * fifth completion is delivered twice on purpose: the second must be
 * refused (BATON_NOTFOUND or BATON_CONFLICT); anything else exits 3.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/engine.h"

#define DEFS                                                                                       \
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                          \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"crash-defs\">"
#define FLOW(id, a, b) "<sequenceFlow id=\"" id "\" sourceRef=\"" a "\" targetRef=\"" b "\"/>"

static const char model[] =
    DEFS "<process id=\"crash\" isExecutable=\"true\"><startEvent id=\"s\"/>"
         "<parallelGateway id=\"fork\"/>"
         "<serviceTask id=\"work\"><extensionElements><zeebe:taskDefinition type=\"work\"/>"
         "</extensionElements></serviceTask>"
         "<userTask id=\"approve\"/>"
         "<intermediateCatchEvent id=\"wait\"><timerEventDefinition><timeDuration>PT0.1S"
         "</timeDuration></timerEventDefinition></intermediateCatchEvent>"
         "<parallelGateway id=\"join\"/>"
         "<serviceTask id=\"pay\"><extensionElements><zeebe:taskDefinition type=\"pay\"/>"
         "</extensionElements></serviceTask><endEvent id=\"e\"/>" FLOW("f1", "s", "fork")
             FLOW("f2", "fork", "work") FLOW("f3", "fork", "approve") FLOW("f4", "fork", "wait")
                 FLOW("f5", "work", "join") FLOW("f6", "approve", "join") FLOW("f7", "wait", "join")
                     FLOW("f8", "join", "pay") FLOW("f9", "pay", "e") "</process></definitions>";

static baton_engine *eng;
static int total;
static atomic_int stop;
static atomic_uint deliveries;

static void die(const char *what, const baton_error *err) {
    fprintf(stderr, "crash_driver: %s: %s\n", what, err ? err->message : "");
    exit(3);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- what the store already has -------------------------------------------------------- */

typedef struct census {
    unsigned char *started; /* per business key number */
    int completed;
} census;

static int count_row(void *cookie, const void *row) {
    census *c = cookie;
    const baton_instance_row *r = row;
    if (!r->business_key || strncmp(r->business_key, "crash-", 6) != 0)
        return 0;
    int k = atoi(r->business_key + 6);
    if (k >= 0 && k < total)
        c->started[k] = 1;
    if (r->state == BATON_INSTANCE_COMPLETED)
        c->completed++;
    return 0;
}

static baton_status census_fn(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->instance_list(s, count_row, cookie, err);
}

/* ---- completing work ---------------------------------------------------------------------- */

typedef struct work {
    int64_t inst[32], key[32];
    int n;
} work;

static int take(void *cookie, const void *row) {
    work *w = cookie;
    const baton_job_row *j = row;
    if (w->n < 32) {
        w->inst[w->n] = j->instance;
        w->key[w->n] = j->key;
        w->n++;
    }
    return 0;
}

static int take_task(void *cookie, const void *row) {
    work *w = cookie;
    const baton_task_row *t = row;
    if (w->n < 32) {
        w->inst[w->n] = t->instance;
        w->key[w->n] = t->key;
        w->n++;
    }
    return 0;
}

typedef struct activation {
    const char *type;
    work *w;
} activation;

static baton_status activate_fn(void *cookie, baton_store *s, baton_error *err) {
    activation *a = cookie;
    return s->ops->job_activate(s, a->type, 8, "crash-driver", baton_engine_now(eng), 300, take,
                                a->w, err);
}

static baton_status tasks_fn(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->task_list(s, take_task, cookie, err);
}

static void complete(int64_t inst, int64_t key) {
    baton_input in = {0};
    in.kind = BATON_IN_COMPLETE;
    in.key = key;
    baton_error err;
    baton_error_clear(&err);
    baton_status st = baton_engine_apply(eng, inst, &in, &err);
    /* another worker may have been first (tasks are not locked): that is a refusal too */
    if (st && st != BATON_NOTFOUND && st != BATON_CONFLICT)
        die("complete", &err);
    if (st == BATON_OK && atomic_fetch_add(&deliveries, 1) % 5 == 0) {
        /* deliver again, as a worker that lost the answer would */
        baton_error_clear(&err);
        st = baton_engine_apply(eng, inst, &in, &err);
        if (st != BATON_NOTFOUND && st != BATON_CONFLICT) {
            fprintf(stderr, "crash_driver: a second completion of %lld/%lld answered %d\n",
                    (long long)inst, (long long)key, (int)st);
            exit(3);
        }
    }
}

static void *worker(void *arg) {
    int me = (int)(intptr_t)arg;
    while (!atomic_load(&stop)) {
        int did = 0;
        static const char *types[] = {"work", "pay"};
        for (int t = 0; t < 2; t++) {
            work w = {.n = 0};
            activation a = {types[t], &w};
            baton_error err;
            baton_error_clear(&err);
            if (baton_engine_query(eng, activate_fn, &a, &err))
                die("activate", &err);
            for (int i = 0; i < w.n; i++)
                complete(w.inst[i], w.key[i]);
            did += w.n;
        }
        work tk = {.n = 0};
        baton_error err;
        baton_error_clear(&err);
        if (baton_engine_query(eng, tasks_fn, &tk, &err))
            die("list tasks", &err);
        for (int i = 0; i < tk.n; i++)
            if ((tk.key[i] + tk.inst[i] + me) % 3 == 0 || i % 4 == 0)
                complete(tk.inst[i], tk.key[i]);
        did += tk.n;
        if (!did)
            usleep(2000);
    }
    return NULL;
}

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    if (argc < 3) {
        fprintf(stderr, "usage: crash_driver URL N [STARTS_PER_100MS]\n");
        return 2;
    }
    total = atoi(argv[2]);
    int pace = argc > 3 && atoi(argv[3]) > 0 ? atoi(argv[3]) : 20;
    baton_error err;
    baton_error_clear(&err);
    baton_engine_opts o = {.store_url = argv[1], .sessions = 4};
    if (baton_engine_open(&o, &eng, &err))
        die("open", &err);
    if (baton_engine_deploy(eng, "crash.bpmn", model, sizeof model - 1, NULL, NULL, &err))
        die("deploy", &err);
    census c = {baton_calloc((size_t)total, 1), 0};
    if (!c.started || baton_engine_query(eng, census_fn, &c, &err))
        die("census", &err);
    pthread_t w[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&w[i], NULL, worker, (void *)(intptr_t)i);
    /* start what is missing, `pace` per 100 ms of uptime; fire timers; stop when all are done */
    int64_t t0 = mono_ms(), last_census = t0;
    int next = 0, started_here = 0;
    for (;;) {
        int64_t now = mono_ms();
        int allowed = (int)((now - t0) / 100 + 1) * pace;
        for (; next < total && started_here < allowed; next++) {
            if (c.started[next])
                continue;
            char bk[32];
            snprintf(bk, sizeof bk, "crash-%d", next);
            int64_t id;
            baton_error_clear(&err);
            if (baton_engine_start(eng, "crash", 0, NULL, bk, &id, &err))
                die("start", &err);
            c.started[next] = 1;
            started_here++;
        }
        uint32_t fired = 0;
        baton_error_clear(&err);
        if (baton_engine_fire_timers(eng, &fired, &err))
            die("fire timers", &err);
        if (next >= total && now - last_census > 100) {
            last_census = now;
            census again = {c.started, 0};
            baton_error_clear(&err);
            if (baton_engine_query(eng, census_fn, &again, &err))
                die("census", &err);
            if (again.completed >= total)
                break;
        }
        usleep(5000);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    baton_free(c.started);
    baton_engine_close(eng);
    return 0;
}
