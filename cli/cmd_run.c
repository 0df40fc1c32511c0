/*
 * cmd_run.c - `baton run FILE`: run a model in memory with a virtual clock.
 * Jobs and user tasks are completed as soon as they are created (with no
 * variables); due timers fire by moving the virtual clock to them; the run
 * stops when the instance ends or waits only for messages or signals. The
 * token history is printed as it happens (`--json`: one record per line).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "parser/bpmn.h"
#include "runtime/engine.h"

static const char usage_text[] =
    "usage: baton run [--process ID] [--vars JSON] [--json] [--max-steps N] FILE\n"
    "\n"
    "Run a process of FILE in memory. Jobs and user tasks complete at once, timers\n"
    "fire by moving a virtual clock, and the token history is printed as it goes.\n"
    "\n"
    "options:\n"
    "  --process ID   the process to start (default: the first executable one)\n"
    "  --vars JSON    start variables, a JSON object\n"
    "  --json         print records as JSON lines\n"
    "  --max-steps N  stop after N completions/timer firings (default 10000)\n";

typedef struct run_ctx {
    bool json;
    int64_t clock;
} run_ctx;

static int64_t virtual_clock(void *cookie) {
    return ((run_ctx *)cookie)->clock;
}

static void print_record(void *cookie, int64_t instance, const baton_model *m,
                         const baton_record *r) {
    run_ctx *c = cookie;
    if (c->json) {
        cJSON *j = baton_record_to_json(r, m);
        if (!j)
            return;
        cJSON_AddNumberToObject(j, "instance", (double)instance);
        char *s = cJSON_PrintUnformatted(j);
        if (s)
            puts(s);
        cJSON_free(s);
        cJSON_Delete(j);
        return;
    }
    const baton_graph *g = baton_model_graph(m);
    const char *what = "";
    char buf[256] = "";
    if (r->kind == BATON_REC_FLOW_TAKEN && r->flow < g->n_flows) {
        what = g->flows[r->flow].id;
    } else if (r->kind == BATON_REC_INSTANCE_CREATED || r->kind == BATON_REC_INSTANCE_ENDED) {
        what = g->processes[r->element].id;
    } else if (r->element < g->n_nodes) {
        const baton_node *n = &g->nodes[r->element];
        snprintf(buf, sizeof buf, "%s %s", baton_node_kind_xml((baton_node_kind)n->kind), n->id);
        what = buf;
    } else if (r->kind >= BATON_REC_ELEMENT_ACTIVATING && r->kind <= BATON_REC_ELEMENT_TERMINATED) {
        what = "process";
    }
    printf("%lld:%-4llu %-22s %s", (long long)instance, (unsigned long long)r->seq,
           baton_record_kind_name((baton_record_kind)r->kind), what);
    if (r->name)
        printf(" name=%s", r->name);
    if (r->kind == BATON_REC_VARIABLE_SET && r->value) {
        char *v = cJSON_PrintUnformatted(r->value);
        if (v)
            printf(" = %s", v);
        cJSON_free(v);
    }
    if (r->text)
        printf(" (%s)", r->text);
    putchar('\n');
}

typedef struct wait_ref {
    int64_t instance, key;
} wait_ref;

typedef struct refs {
    wait_ref items[256];
    int n;
} refs;

static int collect_job(void *cookie, const void *row) {
    refs *r = cookie;
    const baton_job_row *j = row;
    if (r->n < 256 && j->retries > 0)
        r->items[r->n++] = (wait_ref){j->instance, j->key};
    return 0;
}

static int collect_task(void *cookie, const void *row) {
    refs *r = cookie;
    const baton_task_row *t = row;
    if (r->n < 256)
        r->items[r->n++] = (wait_ref){t->instance, t->key};
    return 0;
}

int baton_cmd_run(int argc, char **argv) {
    const char *process = NULL, *vars_text = NULL, *file = NULL;
    long max_steps = 10000;
    run_ctx ctx = {false, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (baton_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return BATON_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(a, "--process") == 0 && i + 1 < argc) {
            process = argv[++i];
        } else if (strcmp(a, "--vars") == 0 && i + 1 < argc) {
            vars_text = argv[++i];
        } else if (strcmp(a, "--max-steps") == 0 && i + 1 < argc) {
            max_steps = strtol(argv[++i], NULL, 10);
        } else if (a[0] == '-' && a[1]) {
            return baton_cli_usage_error("run", "unknown or incomplete option '%s'", a);
        } else if (!file) {
            file = a;
        } else {
            return baton_cli_usage_error("run", "only one FILE");
        }
    }
    if (!file)
        return baton_cli_usage_error("run", "no file given");
    cJSON *vars = NULL;
    if (vars_text) {
        vars = cJSON_Parse(vars_text);
        if (!cJSON_IsObject(vars)) {
            cJSON_Delete(vars);
            return baton_cli_usage_error("run", "--vars must be a JSON object");
        }
    }

    baton_error err;
    baton_error_clear(&err);
    int rc = BATON_EXIT_FAIL;
    char *xml = NULL;
    size_t len = 0;
    baton_store *store = NULL;
    baton_engine *eng = NULL;
    baton_diags diags;
    baton_diags_init(&diags, 0);
    if (baton_cli_read_file(file, BATON_BPMN_DEFAULT_MAX_BYTES, &xml, &len, &err) ||
        baton_store_open_memory(&store, &err))
        goto out;
    baton_engine_opts eo = {.store = store,
                            .clock = virtual_clock,
                            .clock_cookie = &ctx,
                            .unexecutable_as_warnings = true};
    if (baton_engine_open(&eo, &eng, &err))
        goto out;
    baton_deploy_result dr;
    if (baton_engine_deploy(eng, file, xml, len, &diags, &dr, &err)) {
        baton_buf b;
        baton_buf_init(&b, 0);
        for (uint32_t i = 0; i < diags.n; i++) {
            baton_buf_reset(&b);
            baton_diag_format(&diags.items[i], file, &b);
            fprintf(stderr, "%s\n", baton_buf_str(&b));
        }
        baton_buf_fini(&b);
        if (!diags.n)
            baton_cli_error(&err);
        goto out;
    }
    if (!process) {
        if (!dr.n_processes) {
            fprintf(stderr, "baton: %s: error: no executable process\n", file);
            goto out;
        }
        process = dr.processes[0].id;
    }
    baton_engine_set_observer(eng, print_record, &ctx);
    int64_t id;
    if (baton_engine_start(eng, process, 0, vars, NULL, &id, &err)) {
        rc = baton_cli_error(&err);
        goto out;
    }
    long steps = 0;
    for (; steps < max_steps; steps++) {
        baton_instance_row row;
        if (baton_engine_instance_row(eng, id, &row, &err)) {
            rc = baton_cli_error(&err);
            goto out;
        }
        if (row.state != BATON_INSTANCE_ACTIVE || row.incidents)
            break;
        refs r = {.n = 0};
        baton_store_ops const *o = store->ops;
        o->job_list(store, collect_job, &r, NULL);
        o->task_list(store, collect_task, &r, NULL);
        if (r.n) {
            for (int i = 0; i < r.n; i++) {
                baton_input in = {0};
                in.kind = BATON_IN_COMPLETE;
                in.key = r.items[i].key;
                baton_error e2;
                baton_error_clear(&e2);
                baton_engine_apply(eng, r.items[i].instance, &in, &e2);
            }
            continue;
        }
        int64_t due = baton_engine_next_timer(eng);
        if (due == INT64_MAX)
            break;
        if (due > ctx.clock)
            ctx.clock = due;
        if (baton_engine_fire_timers(eng, NULL, &err)) {
            rc = baton_cli_error(&err);
            goto out;
        }
    }
    baton_instance_row row;
    if (baton_engine_instance_row(eng, id, &row, &err) == BATON_OK) {
        const char *state = row.state == BATON_INSTANCE_COMPLETED    ? "completed"
                            : row.state == BATON_INSTANCE_TERMINATED ? "terminated"
                            : row.incidents                          ? "failed (incident)"
                                                                     : "waiting";
        if (!ctx.json)
            printf("instance %lld of '%s': %s\n", (long long)id, process, state);
        rc = row.state == BATON_INSTANCE_COMPLETED ||
                     (!row.incidents && row.state == BATON_INSTANCE_ACTIVE)
                 ? BATON_EXIT_OK
                 : BATON_EXIT_FAIL;
    }
out:
    if (err.code && rc == BATON_EXIT_FAIL && !diags.n)
        baton_cli_error(&err);
    baton_engine_close(eng);
    baton_store_close(store);
    baton_diags_fini(&diags);
    baton_free(xml);
    cJSON_Delete(vars);
    return rc;
}
