/*
 * bench_scale.c - how cost grows with work (docs/performance.md, "## Scale";
 * bench/run drives it and computes the growth exponents). Every subcommand
 * prints one JSON line per measurement.
 *
 *   bench-scale load FILE REPS
 *       the loader alone on FILE (median of REPS loads after a warm-up),
 *       then libxml2 alone (xmlReadMemory + xmlFreeDoc) on the same bytes.
 *       Each side runs in its own loop: alternating them, as bench-load does,
 *       leaves the heap of one to the other (libxml2 frees a DOM of small
 *       nodes; the next large malloc then consolidates glibc's fastbins) and
 *       the 10,000-element figures would measure that instead.
 *   bench-scale tokens N [--fifo]
 *       an instance of start -> fork -> N service tasks -> join -> end in
 *       memory (the step function alone): the start step (N tokens and N
 *       jobs created), job completions while up to N wait (see cmd_tokens),
 *       and the state round trip the engine adds to every durable step
 *       (state to JSON text and back: baton_instance_to_json,
 *       cJSON_PrintUnformatted, cJSON_Parse, baton_instance_from_json).
 *   bench-scale tokens-db URL N
 *       the same instance on a store through the engine: the start command,
 *       then the median time of one job completion (a durable command).
 *   bench-scale fill URL N GROUPS D
 *       N instances waiting at a receive task (message "go", correlation key
 *       "p<i>") with a boundary timer due in 30 days, and GROUPS x D more whose
 *       timers fall due one group a minute from 10 minutes after now. Written
 *       straight through the store interface in transactions of 5,000
 *       instances: each instance is started by the step function in memory
 *       and its row, state, history, subscription and timer are written as
 *       the engine writes them, so 1,000,000 instances take minutes, not the
 *       hours of one commit each.
 *   bench-scale timers URL GROUPS
 *       an engine on the store with a clock set to each group's due time in
 *       turn: fires the group (every firing is its own durable transaction)
 *       while the N far timers stay pending; one line per group.
 *   bench-scale serve BATON_EXE URL N RUNS
 *       `baton serve` on the filled store: resident memory fresh, then after
 *       each run of a workload that touches the waiting instances (list
 *       instances, scrape /metrics, correlate messages to waiting instances
 *       spread over the key range); peak resident memory, and the resident
 *       memory after each run split into anonymous, file-backed and shared.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libxml/parser.h>

#include "baton_config.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "interpreter/instance.h"
#include "interpreter/step.h"
#include "parser/bpmn.h"
#include "persistence/store.h"
#include "runtime/engine.h"

#if BATON_HAVE_CURL
#include <curl/curl.h>
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const baton_error *err) {
    fprintf(stderr, "bench-scale: %s: %s%s%s\n", what, err && err->where[0] ? err->where : "",
            err && err->where[0] ? ": " : "", err ? err->message : "");
    exit(1);
}

static char *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    baton_buf b;
    baton_buf_init(&b, 0);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        baton_buf_append(&b, chunk, n);
    fclose(f);
    *len_out = b.len;
    return baton_buf_take(&b);
}

/* ---- load: the loader alone, then libxml2 alone -------------------------------------------- */

static void quiet(void *ctx, const char *fmt, ...) {
    (void)ctx;
    (void)fmt;
}

static int cmd_load(const char *file, int reps) {
    size_t len = 0;
    char *xml = read_file(file, &len);
    if (!xml) {
        fprintf(stderr, "bench-scale: cannot read %s\n", file);
        return 1;
    }
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, quiet);
    double *t = calloc((size_t)reps, sizeof *t);
    baton_load_opts o = {.name = "scale.bpmn"};
    baton_error err;
    baton_error_clear(&err);
    baton_model *m = NULL;
    if (baton_bpmn_load(xml, len, &o, NULL, &m, &err)) /* warm-up, and the counts */
        die("load", &err);
    const baton_graph *g = baton_model_graph(m);
    uint32_t elements = g->n_nodes + g->n_flows;
    size_t model_bytes = baton_model_memory(m);
    baton_model_unref(m);
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        m = NULL;
        baton_bpmn_load(xml, len, &o, NULL, &m, NULL);
        baton_model_unref(m);
        t[i] = (now_s() - t0) * 1e3;
    }
    double load_ms = median(t, (size_t)reps), load_min = t[0];
    xmlFreeDoc(xmlReadMemory(xml, (int)len, "scale.bpmn", NULL, XML_PARSE_NONET));
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        xmlFreeDoc(xmlReadMemory(xml, (int)len, "scale.bpmn", NULL, XML_PARSE_NONET));
        t[i] = (now_s() - t0) * 1e3;
    }
    double xml_ms = median(t, (size_t)reps), xml_min = t[0];
    printf("{\"elements\":%u,\"bytes\":%zu,\"reps\":%d,\"load_ms\":%.4f,\"load_min_ms\":%.4f,"
           "\"libxml2_ms\":%.4f,\"libxml2_min_ms\":%.4f,\"model_bytes\":%zu}\n",
           elements, len, reps, load_ms, load_min, xml_ms, xml_min, model_bytes);
    free(t);
    baton_free(xml);
    xmlCleanupParser();
    return 0;
}

/* ---- tokens: one instance with N parallel branches waiting at jobs ----------------------- */

static char *fork_xml(int branches, size_t *len_out) {
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
                       "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"scale-fork\" "
                       "targetNamespace=\"bench\">\n<process id=\"fork\" isExecutable=\"true\">\n"
                       "<startEvent id=\"s\"/><parallelGateway id=\"split\"/>"
                       "<parallelGateway id=\"join\"/><endEvent id=\"e\"/>\n"
                       "<sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"split\"/>"
                       "<sequenceFlow id=\"fe\" sourceRef=\"join\" targetRef=\"e\"/>\n");
    for (int i = 0; i < branches; i++)
        baton_buf_printf(&b,
                         "<serviceTask id=\"t%d\"><extensionElements><zeebe:taskDefinition "
                         "type=\"w\"/></extensionElements></serviceTask>"
                         "<sequenceFlow id=\"a%d\" sourceRef=\"split\" targetRef=\"t%d\"/>"
                         "<sequenceFlow id=\"b%d\" sourceRef=\"t%d\" targetRef=\"join\"/>\n",
                         i, i, i, i, i);
    baton_buf_puts(&b, "</process>\n</definitions>\n");
    *len_out = b.len;
    return baton_buf_take(&b);
}

/* A started instance of the fork model and its job keys, oldest first. */
static baton_instance *start_fork(baton_model *m, baton_stepper *s, int n, int64_t *keys,
                                  double *ms_out) {
    baton_error err;
    baton_error_clear(&err);
    baton_instance *inst = baton_instance_new(m, 0, 1);
    baton_input in = {0};
    in.kind = BATON_IN_START;
    in.node = BATON_NONE;
    double t0 = now_s();
    if (!inst || baton_step(s, inst, &in, 1000, &err))
        die("start", &err);
    if (ms_out)
        *ms_out = (now_s() - t0) * 1e3;
    int got = 0;
    for (uint32_t i = 0; i < baton_stepper_record_count(s); i++) {
        const baton_record *r = baton_stepper_record(s, i);
        if (r->kind == BATON_REC_JOB_CREATED && got < n)
            keys[got++] = r->key;
    }
    if (got != n) {
        fprintf(stderr, "bench-scale: %d jobs for %d branches\n", got, n);
        exit(1);
    }
    return inst;
}

static double complete(baton_stepper *s, baton_instance *inst, int64_t key) {
    baton_error err;
    baton_error_clear(&err);
    baton_input in = {0};
    in.kind = BATON_IN_COMPLETE;
    in.key = key;
    double t0 = now_s();
    if (baton_step(s, inst, &in, 2000, &err))
        die("complete", &err);
    return now_s() - t0;
}

/*
 * Three instances, because the cost of a completion depends on which
 * branches arrived before it:
 *   one      the first 100 jobs completed oldest first (the order workers
 *            are handed them), N - k still waiting: median per completion
 *   newest   every job completed newest first: mean per completion, and the
 *            last one alone (it fires the join over N arrived branches)
 *   oldest   every job completed oldest first: mean per completion (only
 *            with `fifo`: at 10,000 branches it takes about a minute)
 */
static int cmd_tokens(int n, bool fifo) {
    size_t len;
    char *xml = fork_xml(n, &len);
    baton_error err;
    baton_error_clear(&err);
    baton_model *m = NULL;
    baton_load_opts lo = {.name = "fork.bpmn"};
    if (baton_bpmn_load(xml, len, &lo, NULL, &m, &err))
        die("load", &err);
    baton_stepper *s = baton_stepper_new();
    int64_t *keys = calloc((size_t)n, sizeof *keys);
    double start_ms = 0;
    baton_instance_free(start_fork(m, s, n, keys, NULL)); /* warm-up */
    baton_instance *inst = start_fork(m, s, n, keys, &start_ms);
    size_t state_bytes = baton_instance_memory(inst, false);

    /* the state round trip at N waiting tokens (what a durable step adds) */
    double rt[5], ser[5];
    size_t json_bytes = 0;
    for (int i = 0; i < 5; i++) {
        double t0 = now_s();
        cJSON *j = baton_instance_to_json(inst);
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        double t1 = now_s();
        cJSON *back = cJSON_Parse(text);
        baton_instance *copy = NULL;
        if (!back || baton_instance_from_json(m, back, &copy, &err))
            die("state round trip", &err);
        double t2 = now_s();
        json_bytes = strlen(text);
        cJSON_Delete(back);
        cJSON_free(text);
        baton_instance_free(copy);
        ser[i] = (t1 - t0) * 1e3;
        rt[i] = (t2 - t0) * 1e3;
    }

    int first = n < 100 ? n : 100;
    double one[100];
    for (int i = 0; i < first; i++)
        one[i] = complete(s, inst, keys[i]) * 1e6;
    baton_instance_free(inst);

    inst = start_fork(m, s, n, keys, NULL);
    double newest = 0, last = 0;
    for (int i = n - 1; i >= 0; i--) {
        last = complete(s, inst, keys[i]);
        newest += last;
    }
    if (baton_instance_state_of(inst) != BATON_INSTANCE_COMPLETED) {
        fprintf(stderr, "bench-scale: the fork instance did not complete\n");
        return 1;
    }
    baton_instance_free(inst);

    double oldest = -1;
    if (fifo) {
        inst = start_fork(m, s, n, keys, NULL);
        oldest = 0;
        for (int i = 0; i < n; i++)
            oldest += complete(s, inst, keys[i]);
        baton_instance_free(inst);
    }
    printf("{\"tokens\":%d,\"start_ms\":%.4f,\"step_us\":%.3f,\"newest_mean_us\":%.3f,"
           "\"join_ms\":%.4f,\"oldest_mean_us\":%.3f,\"state_bytes\":%zu,\"json_bytes\":%zu,"
           "\"to_json_ms\":%.4f,\"roundtrip_ms\":%.4f}\n",
           n, start_ms, median(one, (size_t)first), newest / n * 1e6, last * 1e3,
           oldest < 0 ? -1 : oldest / n * 1e6, state_bytes, json_bytes, median(ser, 5),
           median(rt, 5));
    free(keys);
    baton_stepper_free(s);
    baton_model_unref(m);
    baton_free(xml);
    return 0;
}

typedef struct job_keys {
    int64_t *keys;
    size_t n, cap;
} job_keys;

static void observe_jobs(void *cookie, int64_t instance, const baton_model *m,
                         const baton_record *r) {
    (void)instance;
    (void)m;
    job_keys *j = cookie;
    if (r->kind == BATON_REC_JOB_CREATED && j->n < j->cap)
        j->keys[j->n++] = r->key;
}

static int cmd_tokens_db(const char *url, int n) {
    size_t len;
    char *xml = fork_xml(n, &len);
    baton_error err;
    baton_error_clear(&err);
    baton_engine *e = NULL;
    baton_engine_opts o = {.store_url = url, .sessions = 1};
    if (baton_engine_open(&o, &e, &err))
        die("open", &err);
    baton_deploy_result dr;
    if (baton_engine_deploy(e, "fork.bpmn", xml, len, NULL, &dr, &err))
        die("deploy", &err);
    job_keys jk = {calloc((size_t)n, sizeof(int64_t)), 0, (size_t)n};
    baton_engine_set_observer(e, observe_jobs, &jk);
    int64_t id;
    double t0 = now_s();
    if (baton_engine_start(e, "fork", 0, NULL, NULL, &id, &err))
        die("start", &err);
    double start_ms = (now_s() - t0) * 1e3;
    baton_engine_set_observer(e, NULL, NULL);
    if (jk.n != (size_t)n) {
        fprintf(stderr, "bench-scale: %zu jobs for %d branches\n", jk.n, n);
        return 1;
    }
    /* the oldest jobs first, as workers are handed them */
    size_t k = jk.n < 21 ? jk.n : 21;
    const int64_t *pick = jk.keys;
    double *step = calloc(k, sizeof *step);
    for (size_t i = 0; i < k; i++) {
        baton_input in = {0};
        in.kind = BATON_IN_COMPLETE;
        in.key = pick[i];
        t0 = now_s();
        if (baton_engine_job_input(e, id, &in, NULL, &err))
            die("complete", &err);
        step[i] = (now_s() - t0) * 1e3;
    }
    /* the first completion warms the model cache and the statements: leave it out */
    printf("{\"tokens\":%d,\"start_ms\":%.3f,\"step_ms\":%.4f,\"completions\":%zu}\n", n, start_ms,
           k > 1 ? median(step + 1, k - 1) : median(step, k), k > 1 ? k - 1 : k);
    free(step);
    free(jk.keys);
    baton_engine_close(e);
    baton_free(xml);
    return 0;
}

/* ---- fill: many waiting instances, written through the store interface ------------------- */

static const char wait_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"scale-wait\" "
    "targetNamespace=\"bench\">\n"
    "  <message id=\"m\" name=\"go\"><extensionElements><zeebe:subscription correlationKey=\"= "
    "k\"/>"
    "</extensionElements></message>\n"
    "  <process id=\"wait\" isExecutable=\"true\">\n"
    "    <startEvent id=\"start\"/>\n"
    "    <receiveTask id=\"recv\" messageRef=\"m\"/>\n"
    "    <boundaryEvent id=\"late\" attachedToRef=\"recv\"><timerEventDefinition>"
    "<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>\n"
    "    <endEvent id=\"done\"/><endEvent id=\"timedOut\"/>\n"
    "    <sequenceFlow id=\"f1\" sourceRef=\"start\" targetRef=\"recv\"/>\n"
    "    <sequenceFlow id=\"f2\" sourceRef=\"recv\" targetRef=\"done\"/>\n"
    "    <sequenceFlow id=\"f3\" sourceRef=\"late\" targetRef=\"timedOut\"/>\n"
    "  </process>\n"
    "</definitions>\n";

#define HOUR_MS    3600000LL
#define FILL_BATCH 5000

typedef struct filler {
    baton_store *st;
    baton_model *m;
    baton_stepper *s;
    int64_t deployment;
    int32_t version;
    uint32_t in_batch;
} filler;

static const char *node_id(const baton_model *m, baton_idx n) {
    return n == BATON_NONE ? NULL : baton_model_graph(m)->nodes[n].id;
}

/* Start one instance at `created` with correlation key `key`; write what the engine would. */
static void fill_one(filler *f, int64_t created, const char *key) {
    baton_error err;
    baton_error_clear(&err);
    const baton_store_ops *o = f->st->ops;
    if (f->in_batch == 0 && o->begin(f->st, &err))
        die("begin", &err);
    int64_t id;
    if (o->instance_new_id(f->st, &id, &err))
        die("instance id", &err);
    baton_instance *inst = baton_instance_new(f->m, 0, id);
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "k", key);
    baton_input in = {0};
    in.kind = BATON_IN_START;
    in.node = BATON_NONE;
    in.variables = vars;
    if (!inst || baton_step(f->s, inst, &in, created, &err))
        die("start", &err);
    for (uint32_t i = 0; i < baton_stepper_record_count(f->s); i++) {
        const baton_record *r = baton_stepper_record(f->s, i);
        if (r->kind == BATON_REC_MESSAGE_SUBSCRIBED) {
            baton_sub_row sub = {id, r->key, r->name, r->text, node_id(f->m, r->element)};
            if (o->sub_put(f->st, 0, &sub, &err))
                die("subscription", &err);
        } else if (r->kind == BATON_REC_TIMER_SCHEDULED) {
            baton_timer_row t = {id, r->key, r->aux, f->deployment, node_id(f->m, r->element), 0};
            if (o->timer_put(f->st, &t, &err))
                die("timer", &err);
        }
    }
    cJSON *sj = baton_instance_to_json(inst);
    char *state = cJSON_PrintUnformatted(sj);
    baton_instance_row row = {0};
    row.id = id;
    row.deployment = f->deployment;
    row.process_id = "wait";
    row.version = f->version;
    row.state = BATON_INSTANCE_ACTIVE;
    row.started = created;
    row.seq = baton_instance_seq(inst);
    if (o->instance_put(f->st, &row, state, &err))
        die("instance", &err);
    /* then the history, as persist() in runtime/engine.c writes it (the store checks that
       each instance's records are contiguous, so later steps need it) */
    const baton_graph *g = baton_model_graph(f->m);
    for (uint32_t i = 0; i < baton_stepper_record_count(f->s); i++) {
        const baton_record *r = baton_stepper_record(f->s, i);
        cJSON *j = baton_record_to_json(r, f->m);
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        const char *el =
            r->kind == BATON_REC_FLOW_TAKEN ? g->flows[r->flow].id
            : (r->kind == BATON_REC_INSTANCE_CREATED || r->kind == BATON_REC_INSTANCE_ENDED)
                ? (r->element < g->n_processes ? g->processes[r->element].id : NULL)
                : node_id(f->m, r->element);
        if (o->history_append(f->st, id, r->seq, r->at,
                              baton_record_kind_name((baton_record_kind)r->kind), el, text, &err))
            die("history", &err);
        cJSON_free(text);
    }
    cJSON_free(state);
    cJSON_Delete(sj);
    cJSON_Delete(vars);
    baton_instance_free(inst);
    if (++f->in_batch == FILL_BATCH) {
        if (o->commit(f->st, &err))
            die("commit", &err);
        f->in_batch = 0;
    }
}

static int cmd_fill(const char *url, long n, int groups, long per_group) {
    baton_error err;
    baton_error_clear(&err);
    baton_engine *e = NULL;
    baton_engine_opts eo = {.store_url = url, .sessions = 1};
    if (baton_engine_open(&eo, &e, &err))
        die("open", &err);
    baton_deploy_result dr;
    if (baton_engine_deploy(e, "wait.bpmn", wait_xml, sizeof wait_xml - 1, NULL, &dr, &err))
        die("deploy", &err);
    baton_engine_close(e);

    filler f = {0};
    f.deployment = dr.deployment;
    f.version = dr.processes[0].version;
    baton_load_opts lo = {.name = "wait.bpmn"};
    if (baton_bpmn_load(wait_xml, sizeof wait_xml - 1, &lo, NULL, &f.m, &err))
        die("load", &err);
    if (baton_store_open(url, &f.st, &err))
        die("store", &err);
    f.s = baton_stepper_new();
    double t0 = now_s();
    int64_t base = wall_ms();
    char key[32];
    /* due groups first: group g falls due at base + 10 min + g min */
    for (int g = 0; g < groups; g++)
        for (long i = 0; i < per_group; i++) {
            snprintf(key, sizeof key, "d%d_%ld", g, i);
            fill_one(&f, base + 600000 + g * 60000LL - HOUR_MS, key);
        }
    for (long i = 0; i < n; i++) {
        snprintf(key, sizeof key, "p%ld", i);
        fill_one(&f, base + 30 * 24 * HOUR_MS - HOUR_MS, key);
    }
    if (f.in_batch && f.st->ops->commit(f.st, &err))
        die("commit", &err);
    double secs = now_s() - t0;
    long total = n + groups * per_group;
    printf("{\"waiting\":%ld,\"due_groups\":%d,\"per_group\":%ld,\"seconds\":%.2f,"
           "\"instances_per_s\":%.0f}\n",
           n, groups, per_group, secs, total / secs);
    baton_stepper_free(f.s);
    baton_store_close(f.st);
    baton_model_unref(f.m);
    return 0;
}

/* ---- timers: fire one group at a time with a clock set to its due time ------------------- */

static int64_t fake_now;
static int64_t fake_clock(void *cookie) {
    (void)cookie;
    return fake_now;
}

static void count_ended(void *cookie, int64_t instance, const baton_model *m,
                        const baton_record *r) {
    (void)instance;
    (void)m;
    if (r->kind == BATON_REC_INSTANCE_ENDED)
        (*(uint32_t *)cookie)++;
}

static int cmd_timers(const char *url, int groups) {
    baton_error err;
    baton_error_clear(&err);
    baton_engine *e = NULL;
    fake_now = 0;
    baton_engine_opts o = {.store_url = url, .sessions = 1, .clock = fake_clock};
    if (baton_engine_open(&o, &e, &err))
        die("open", &err);
    int64_t first = baton_engine_next_timer(e);
    uint32_t ended = 0;
    baton_engine_set_observer(e, count_ended, &ended);
    for (int g = 0; g < groups; g++) {
        fake_now = first + g * 60000LL;
        uint32_t fired = 0;
        ended = 0;
        double t0 = now_s();
        if (baton_engine_fire_timers(e, &fired, &err))
            die("fire", &err);
        double secs = now_s() - t0;
        if (ended != fired) { /* every firing must have run its instance to the end */
            fprintf(stderr, "bench-scale: %u timers fired, %u instances ended\n", fired, ended);
            return 1;
        }
        printf("{\"group\":%d,\"fired\":%u,\"seconds\":%.4f,\"timers_per_s\":%.1f}\n", g, fired,
               secs, secs > 0 ? fired / secs : 0);
        fflush(stdout);
    }
    baton_engine_close(e);
    return 0;
}

/* ---- serve: resident memory of `baton serve` over the filled store ------------------------ */

#if BATON_HAVE_CURL
static pid_t server;
static char base_url[64];

static void start_server(const char *exe, const char *db) {
    int out[2];
    if (pipe(out))
        exit(1);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], 1);
        close(out[0]);
        execl(exe, exe, "serve", "--db", db, "--listen", "127.0.0.1:0", "--log-level", "warn",
              "--config", "/dev/null", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[512];
    size_t n = 0;
    while (n < sizeof line - 1 && read(out[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    close(out[0]);
    const char *p = strstr(line, "127.0.0.1:");
    if (!p) {
        fprintf(stderr, "bench-scale: server did not start: %s\n", line);
        exit(1);
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", atoi(p + 10));
    server = pid;
}

static void stop_server(void) {
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = 0;
    }
}

static long proc_kb(const char *field) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)server);
    FILE *f = fopen(path, "r");
    long kb = 0;
    size_t fl = strlen(field);
    while (f && fgets(buf, sizeof buf, f))
        if (strncmp(buf, field, fl) == 0)
            kb = atol(buf + fl);
    if (f)
        fclose(f);
    return kb;
}

static size_t discard(char *p, size_t s, size_t n, void *c) {
    (void)p;
    (void)c;
    return s * n;
}

/* One request on a kept-alive handle; returns the HTTP status. */
static long request(CURL *c, const char *path, const char *body) {
    char url[256];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static int cmd_serve(const char *exe, const char *db, long n, int runs) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    double t0 = now_s();
    start_server(exe, db);
    double startup_ms = (now_s() - t0) * 1e3;
    usleep(300000);
    long fresh = proc_kb("VmRSS:");
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    long per_run = n / 10 < 200 ? n / 10 : 200, idx = 0, failed = 0;
    for (int r = 0; r < runs; r++) {
        double a = now_s();
        if (request(c, "/v1/instances?limit=10", NULL) != 200)
            failed++;
        double list_ms = (now_s() - a) * 1e3;
        a = now_s();
        if (request(c, "/metrics", NULL) != 200)
            failed++;
        double metrics_ms = (now_s() - a) * 1e3;
        a = now_s();
        for (long i = 0; i < per_run; i++, idx++) {
            /* keys spread over the range, each once: 7919 is prime, coprime to the sizes */
            long j = (long)(((int64_t)idx * 7919) % n);
            char body[128];
            snprintf(body, sizeof body,
                     "{\"name\":\"go\",\"correlationKey\":\"p%ld\","
                     "\"timeToLive\":0}",
                     j);
            if (request(c, "/v1/messages", body) / 100 != 2)
                failed++;
        }
        double corr_ms = per_run ? (now_s() - a) * 1e3 / (double)per_run : 0;
        printf("{\"waiting\":%ld,\"run\":%d,\"startup_ms\":%.1f,\"rss_fresh_kb\":%ld,"
               "\"rss_kb\":%ld,\"hwm_kb\":%ld,\"anon_kb\":%ld,\"file_kb\":%ld,\"shmem_kb\":%ld,"
               "\"list_ms\":%.2f,\"metrics_ms\":%.2f,\"correlate_ms\":%.3f,\"correlations\":%ld,"
               "\"failed\":%ld}\n",
               n, r, startup_ms, fresh, proc_kb("VmRSS:"), proc_kb("VmHWM:"), proc_kb("RssAnon:"),
               proc_kb("RssFile:"), proc_kb("RssShmem:"), list_ms, metrics_ms, corr_ms, per_run,
               failed);
        fflush(stdout);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    stop_server();
    curl_global_cleanup();
    return failed ? 1 : 0;
}
#endif

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "load") == 0 && argc == 4)
        return cmd_load(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
    if (strcmp(cmd, "tokens") == 0 && (argc == 3 || (argc == 4 && !strcmp(argv[3], "--fifo"))))
        return cmd_tokens(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1, argc == 4);
    if (strcmp(cmd, "tokens-db") == 0 && argc == 4)
        return cmd_tokens_db(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
    if (strcmp(cmd, "fill") == 0 && argc == 6)
        return cmd_fill(argv[2], atol(argv[3]), atoi(argv[4]), atol(argv[5]));
    if (strcmp(cmd, "timers") == 0 && argc == 4)
        return cmd_timers(argv[2], atoi(argv[3]));
#if BATON_HAVE_CURL
    if (strcmp(cmd, "serve") == 0 && argc == 6)
        return cmd_serve(argv[2], argv[3], atol(argv[4]) > 0 ? atol(argv[4]) : 1, atoi(argv[5]));
#endif
    fprintf(stderr, "usage: bench-scale load FILE REPS | tokens N [--fifo] | tokens-db URL N\n"
                    "       | fill URL N GROUPS D | timers URL GROUPS | serve BATON URL N RUNS\n");
    return 2;
}
