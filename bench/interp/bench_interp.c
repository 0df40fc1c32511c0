/*
 * bench_interp.c - the step function's hot loop (issue targets: 5 million
 * token transitions per second on one core, no heap allocation per
 * transition in the steady state, under 2 KiB for an instance waiting at
 * one user task).
 *
 * Workloads, each run for a fixed number of instances in memory (no store):
 *   straight  start -> 998 plain tasks -> end (1,000 elements)
 *   parallel  start -> fork(16) -> 16 tasks -> join -> end, 10,000 times
 * Baseline, in the same run: the machine floor for one transition record
 * (append a record to a reused array, insert and delete a key in a hash
 * map), so the figure is a ratio that survives a noisy machine.
 *
 * Output: one line per figure, median of 5 runs after a warm-up, with min and max.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/intmap.h"
#include "interpreter/instance.h"
#include "interpreter/step.h"
#include "parser/bpmn.h"

#define RUNS 5

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *head =
    "<?xml version=\"1.0\"?>\n<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "id=\"d\" targetNamespace=\"bench\">\n<process id=\"p\" isExecutable=\"true\">\n";

static char *straight_xml(int tasks) {
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_puts(&b, head);
    baton_buf_puts(&b, "<startEvent id=\"s\"/>\n");
    for (int i = 0; i < tasks; i++)
        baton_buf_printf(&b, "<task id=\"t%d\"/>\n<sequenceFlow id=\"f%d\" sourceRef=\"%s%d\" targetRef=\"t%d\"/>\n",
                         i, i, i ? "t" : "s", i ? i - 1 : 0, i);
    baton_buf_printf(&b, "<endEvent id=\"e\"/>\n<sequenceFlow id=\"fe\" sourceRef=\"t%d\" targetRef=\"e\"/>\n", tasks - 1);
    /* the first flow comes from the start event */
    baton_buf_puts(&b, "</process>\n</definitions>\n");
    char *x = baton_buf_take(&b);
    /* fix the first flow: sourceRef "s0" -> "s" */
    char *p = strstr(x, "sourceRef=\"s0\"");
    if (p)
        memcpy(p, "sourceRef=\"s\" ", 14);
    return x;
}

static char *parallel_xml(int branches) {
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_puts(&b, head);
    baton_buf_puts(&b, "<startEvent id=\"s\"/><parallelGateway id=\"fork\"/><parallelGateway id=\"join\"/>"
                       "<endEvent id=\"e\"/>\n<sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"fork\"/>"
                       "<sequenceFlow id=\"fe\" sourceRef=\"join\" targetRef=\"e\"/>\n");
    for (int i = 0; i < branches; i++)
        baton_buf_printf(&b, "<task id=\"t%d\"/><sequenceFlow id=\"a%d\" sourceRef=\"fork\" targetRef=\"t%d\"/>"
                         "<sequenceFlow id=\"b%d\" sourceRef=\"t%d\" targetRef=\"join\"/>\n", i, i, i, i, i);
    baton_buf_puts(&b, "</process>\n</definitions>\n");
    return baton_buf_take(&b);
}

static const char *user_task_xml =
    "<?xml version=\"1.0\"?><definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
    "<process id=\"p\" isExecutable=\"true\"><startEvent id=\"s\"/><userTask id=\"u\"/><endEvent id=\"e\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"u\"/><sequenceFlow id=\"f2\" sourceRef=\"u\" targetRef=\"e\"/>"
    "</process></definitions>";

static baton_model *load(const char *xml) {
    baton_model *m = NULL;
    baton_error err;
    baton_error_clear(&err);
    baton_load_opts o = {.name = "bench.bpmn"};
    if (baton_bpmn_load(xml, strlen(xml), &o, NULL, &m, &err)) {
        fprintf(stderr, "bench: cannot load model: %s %s\n", err.where, err.message);
        exit(1);
    }
    return m;
}

typedef struct result {
    double transitions_per_s;
    double allocs_per_transition;
} result;

/* Run `instances` instances to completion; count transition records. */
static result run_model(baton_model *m, baton_stepper *s, int instances) {
    uint64_t transitions = 0;
    uint64_t allocs0 = baton_alloc_count();
    double t0 = now_s();
    for (int i = 0; i < instances; i++) {
        baton_instance *inst = baton_instance_new(m, 0, i + 1);
        baton_input in = {0};
        in.kind = BATON_IN_START;
        in.node = BATON_NONE;
        baton_error err;
        baton_error_clear(&err);
        if (baton_step(s, inst, &in, 0, &err) || baton_instance_state_of(inst) != BATON_INSTANCE_COMPLETED) {
            fprintf(stderr, "bench: instance did not complete: %s\n", err.message);
            exit(1);
        }
        for (uint32_t k = 0; k < baton_stepper_record_count(s); k++)
            if (baton_record_kind_flags((baton_record_kind)baton_stepper_record(s, k)->kind) &
                BATON_RF_TRANSITION)
                transitions++;
        baton_instance_free(inst);
    }
    double dt = now_s() - t0;
    uint64_t allocs = baton_alloc_count() - allocs0;
    result r = {transitions / dt, (double)allocs / (double)transitions};
    return r;
}

/* The machine floor: one record append + one hash insert/delete per transition. */
static double floor_rate(uint64_t n) {
    baton_record *recs = malloc(4096 * sizeof *recs);
    baton_intmap map;
    baton_intmap_init(&map);
    volatile uint64_t sink = 0;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        baton_record *r = &recs[i & 4095];
        memset(r, 0, sizeof *r);
        r->seq = i;
        r->key = (int64_t)i + 1;
        baton_intmap_put(&map, r->key, (uint32_t)i);
        baton_intmap_del(&map, r->key);
        sink += r->seq;
    }
    double dt = now_s() - t0;
    baton_intmap_fini(&map);
    free(recs);
    (void)sink;
    return n / dt;
}

static void report(const char *name, double *v, const char *unit, double baseline) {
    qsort(v, RUNS, sizeof *v, cmp_double);
    printf("%-34s median %12.0f %s  (min %.0f, max %.0f)", name, v[RUNS / 2], unit, v[0], v[RUNS - 1]);
    if (baseline > 0)
        printf("  ratio to floor %.3f", v[RUNS / 2] / baseline);
    putchar('\n');
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    char *sx = straight_xml(998);
    char *px = parallel_xml(16);
    baton_model *straight = load(sx), *parallel = load(px), *user = load(user_task_xml);
    baton_stepper *s = baton_stepper_new();

    /* warm-up */
    run_model(straight, s, 20);
    run_model(parallel, s, 1000);

    double fl[RUNS], st[RUNS], pa[RUNS], st_alloc = 0, pa_alloc = 0;
    for (int r = 0; r < RUNS; r++) {
        fl[r] = floor_rate(5000000ull * (uint64_t)scale);
        result a = run_model(straight, s, 200 * scale);
        result b = run_model(parallel, s, 10000 * scale);
        st[r] = a.transitions_per_s;
        pa[r] = b.transitions_per_s;
        st_alloc = a.allocs_per_transition;
        pa_alloc = b.allocs_per_transition;
    }
    double floor_med;
    {
        double tmp[RUNS];
        memcpy(tmp, fl, sizeof tmp);
        qsort(tmp, RUNS, sizeof *tmp, cmp_double);
        floor_med = tmp[RUNS / 2];
    }
    report("floor (record + hash op)", fl, "ops/s", 0);
    report("straight 1000 elements", st, "transitions/s", floor_med);
    report("parallel 16 branches x 10000", pa, "transitions/s", floor_med);
    printf("%-34s %.4f (straight), %.4f (parallel)\n", "heap allocations per transition", st_alloc,
           pa_alloc);

    /* an instance waiting at one user task */
    baton_instance *inst = baton_instance_new(user, 0, 1);
    baton_input in = {0};
    in.kind = BATON_IN_START;
    in.node = BATON_NONE;
    baton_step(s, inst, &in, 0, NULL);
    printf("%-34s %zu bytes (state without variables; target < 2048)\n",
           "instance waiting at a user task", baton_instance_memory(inst, false));
    baton_instance_free(inst);

    baton_stepper_free(s);
    baton_model_unref(straight);
    baton_model_unref(parallel);
    baton_model_unref(user);
    baton_free(sx);
    baton_free(px);
    return 0;
}
