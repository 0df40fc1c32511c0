/*
 * bench_models.c - Baton's side of the peer benchmark: the same models the
 * peer engine runs (bench/peer/models), same output shape as peer.mjs.
 *
 *   bench-models MODEL.bpmn INSTANCES [--vars JSON] [--db URL]
 *
 * Without --db: the step function in memory (no store). With --db: each
 * instance is started through the engine on that store (one durable
 * transaction per instance, as the models have no wait state).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/alloc.h"
#include "parser/bpmn.h"
#include "runtime/engine.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count_completed(baton_stepper *s, cJSON *path, const baton_model *m) {
    int n = 0;
    const baton_graph *g = baton_model_graph(m);
    for (uint32_t i = 0; i < baton_stepper_record_count(s); i++) {
        const baton_record *r = baton_stepper_record(s, i);
        if (r->kind == BATON_REC_ELEMENT_COMPLETED && r->element != BATON_NONE) {
            n++;
            if (path)
                cJSON_AddItemToArray(path, cJSON_CreateString(g->nodes[r->element].id));
        }
    }
    return n;
}

typedef struct durable_count {
    int elements;
    cJSON *path;
} durable_count;

static void observe(void *cookie, int64_t instance, const baton_model *m, const baton_record *r) {
    (void)instance;
    durable_count *c = cookie;
    if (r->kind == BATON_REC_ELEMENT_COMPLETED && r->element != BATON_NONE) {
        c->elements++;
        if (c->path)
            cJSON_AddItemToArray(c->path,
                                 cJSON_CreateString(baton_model_graph(m)->nodes[r->element].id));
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench-models MODEL.bpmn INSTANCES [--vars JSON] [--db URL]\n");
        return 2;
    }
    baton_alloc_install_cjson();
    const char *file = argv[1];
    long n = strtol(argv[2], NULL, 10);
    cJSON *vars = NULL;
    const char *db = NULL;
    for (int i = 3; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--vars") == 0)
            vars = cJSON_Parse(argv[++i]);
        else if (strcmp(argv[i], "--db") == 0)
            db = argv[++i];
    }
    baton_error err;
    baton_error_clear(&err);
    cJSON *path = cJSON_CreateArray();
    double seconds = 0;
    long elements = 0;
    if (!db) {
        baton_model *m = NULL;
        if (baton_bpmn_load_file(file, NULL, NULL, &m, &err)) {
            fprintf(stderr, "bench-models: %s: %s\n", err.where, err.message);
            return 1;
        }
        baton_stepper *s = baton_stepper_new();
        for (long i = -1; i < n; i++) {
            if (i == 0)
                seconds = now_s();
            baton_instance *inst = baton_instance_new(m, 0, i + 2);
            baton_input in = {0};
            in.kind = BATON_IN_START;
            in.node = BATON_NONE;
            in.variables = vars;
            if (baton_step(s, inst, &in, 0, &err) ||
                baton_instance_state_of(inst) != BATON_INSTANCE_COMPLETED) {
                fprintf(stderr, "bench-models: instance did not complete: %s\n", err.message);
                return 1;
            }
            int c = count_completed(s, i < 0 ? path : NULL, m);
            if (i >= 0)
                elements += c;
            baton_instance_free(inst);
        }
        seconds = now_s() - seconds;
        baton_stepper_free(s);
        baton_model_unref(m);
    } else {
        baton_engine *e = NULL;
        baton_engine_opts o = {.store_url = db, .sessions = 1};
        if (baton_engine_open(&o, &e, &err)) {
            fprintf(stderr, "bench-models: %s\n", err.message);
            return 1;
        }
        FILE *f = fopen(file, "rb");
        static char xml[1 << 20];
        size_t len = f ? fread(xml, 1, sizeof xml, f) : 0;
        if (f)
            fclose(f);
        baton_deploy_result dr;
        if (baton_engine_deploy(e, file, xml, len, NULL, &dr, &err)) {
            fprintf(stderr, "bench-models: deploy: %s\n", err.message);
            return 1;
        }
        durable_count dc = {0, path};
        baton_engine_set_observer(e, observe, &dc);
        for (long i = -1; i < n; i++) {
            if (i == 0) {
                seconds = now_s();
                dc.elements = 0;
                dc.path = NULL;
            }
            int64_t id;
            if (baton_engine_start(e, dr.processes[0].id, 0, vars, NULL, &id, &err)) {
                fprintf(stderr, "bench-models: start: %s\n", err.message);
                return 1;
            }
        }
        seconds = now_s() - seconds;
        elements = dc.elements;
        baton_engine_close(e);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "engine", db ? "baton-durable" : "baton");
    cJSON_AddStringToObject(o, "model", file);
    cJSON_AddNumberToObject(o, "instances", (double)n);
    cJSON_AddNumberToObject(o, "seconds", seconds);
    cJSON_AddNumberToObject(o, "instances_per_s", n / seconds);
    cJSON_AddNumberToObject(o, "elements_per_s", elements / seconds);
    cJSON_AddItemToObject(o, "path", path);
    char *out = cJSON_PrintUnformatted(o);
    puts(out);
    cJSON_free(out);
    cJSON_Delete(o);
    cJSON_Delete(vars);
    return 0;
}
