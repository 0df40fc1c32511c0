/*
 * cmd_test.c - `baton test SCENARIO.json...`: replay process test scenarios
 * (format bpmn-exec-scenario/1, documented in docs/testing.md) against the
 * engine in memory, with a virtual clock.
 *
 * Each case runs in a fresh engine: deploy the models, start the instance,
 * then apply the steps, settling after each (the engine settles outbox
 * events; the harness also completes stubbed jobs), then check `expect`.
 * Every record of every instance is collected by an observer, so the
 * checks on passed/cancelled/not_reached elements read the token history.
 * A failing case prints which step failed, what was expected, what the
 * engine had, and the tail of the token history.
 */
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "expr/expr.h"
#include "expr/isotime.h"
#include "parser/bpmn.h"
#include "runtime/engine.h"

static const char usage_text[] =
    "usage: baton test [--verbose] [--case NAME] [--exceptions FILE] SCENARIO.json...\n"
    "\n"
    "Replay process test scenarios (format bpmn-exec-scenario/1, see docs/testing.md).\n"
    "Prints one line per case and ends with 'N passed, N failed'; exit status 1 if any\n"
    "case failed.\n"
    "\n"
    "options:\n"
    "  --verbose   print the token history of every case\n"
    "  --case NAME run only the cases whose name contains NAME\n"
    "  --exceptions FILE  TSV of 'scenario<TAB>case<TAB>spec section<TAB>reason': listed\n"
    "              cases that fail count as expected differences (XFAIL); listed cases\n"
    "              that pass are errors (XPASS: the entry is stale)\n";

/* Expected differences: (scenario name, case name) pairs from a TSV file. */
typedef struct exceptions {
    char *text;
    char *scen[256], *cas[256];
    int n;
} exceptions;

static int load_exceptions(exceptions *x, const char *path) {
    size_t len;
    baton_error err;
    baton_error_clear(&err);
    if (baton_cli_read_file(path, 1u << 20, &x->text, &len, &err)) {
        fprintf(stderr, "baton test: %s\n", err.message);
        return -1;
    }
    for (char *line = strtok(x->text, "\n"); line && x->n < 256; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || !line[0])
            continue;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        char *c = tab + 1;
        char *tab2 = strchr(c, '\t');
        if (tab2)
            *tab2 = '\0';
        x->scen[x->n] = line;
        x->cas[x->n] = c;
        x->n++;
    }
    return 0;
}

static bool is_exception(const exceptions *x, const char *scen, const char *cas) {
    for (int i = 0; i < x->n; i++)
        if (scen && cas && strcmp(x->scen[i], scen) == 0 && strcmp(x->cas[i], cas) == 0)
            return true;
    return false;
}

typedef struct inst_ids {
    int64_t ids[512];
    int n;
} inst_ids;

/* One collected record, flattened for the checks. */
typedef struct hrec {
    int64_t instance;
    uint8_t kind;
    char *process; /* process id of the instance */
    char *element; /* element id (or flow id), NULL for the process */
    char *name;
    char *text;
    int64_t key;
    uint8_t node_kind;
    bool top; /* the element sits directly in its process (not in a subprocess) */
    uint64_t seq;
} hrec;

typedef struct harness {
    /* the scenario */
    const cJSON *scenario;
    const char *dir;
    const char *process;
    const cJSON *stubs;
    const cJSON *wait_states;
    /* the case */
    baton_store *store;
    baton_engine *eng;
    int64_t clock;
    int64_t instance; /* the case's instance */
    const cJSON *case_vars;
    hrec *recs;
    uint32_t n_recs, cap_recs;
    cJSON *log;     /* entries appended by log stubs */
    baton_buf fail; /* failure description */
    bool failed;
    bool verbose;
    bool waiting_for_start; /* start: by_timer_start_event / by_event, no instance yet */
    inst_ids *tree;         /* the case's instances, for the final checks */
} harness;

static int64_t harness_clock(void *cookie) {
    return ((harness *)cookie)->clock;
}

static void failf(harness *h, const char *fmt, ...) BATON_PRINTF(2, 3);
static void failf(harness *h, const char *fmt, ...) {
    if (h->failed)
        return;
    h->failed = true;
    va_list ap;
    va_start(ap, fmt);
    baton_buf_vprintf(&h->fail, fmt, ap);
    va_end(ap);
}

static char *json_text(const cJSON *v) {
    if (!v)
        return baton_strdup("(none)");
    char *p = cJSON_PrintUnformatted(v);
    char *d = p ? baton_strdup(p) : NULL;
    cJSON_free(p);
    return d;
}

/* ---- observing records ----------------------------------------------------------- */

static void observe(void *cookie, int64_t instance, const baton_model *m, const baton_record *r) {
    harness *h = cookie;
    if (h->n_recs == h->cap_recs) {
        uint32_t cap = h->cap_recs ? h->cap_recs * 2 : 256;
        hrec *n = baton_realloc(h->recs, cap * sizeof *n);
        if (!n)
            return;
        h->recs = n;
        h->cap_recs = cap;
    }
    const baton_graph *g = baton_model_graph(m);
    hrec *x = &h->recs[h->n_recs++];
    memset(x, 0, sizeof *x);
    x->instance = instance;
    x->kind = r->kind;
    x->key = r->key;
    x->seq = r->seq;
    if (r->kind == BATON_REC_INSTANCE_CREATED) {
        x->process = baton_strdup(g->processes[r->element].id);
        /* the first instance of the scenario's process becomes the case's instance */
        if (h->instance == 0 && h->waiting_for_start && x->process &&
            strcmp(x->process, h->process) == 0)
            h->instance = instance;
    } else {
        /* the process id of the instance: from its creation record */
        for (uint32_t i = h->n_recs - 1; i-- > 0;)
            if (h->recs[i].instance == instance && h->recs[i].process) {
                x->process = baton_strdup(h->recs[i].process);
                break;
            }
    }
    if (r->kind == BATON_REC_FLOW_TAKEN && r->flow < g->n_flows) {
        x->element = baton_strdup(g->flows[r->flow].id);
    } else if (r->element < g->n_nodes && r->kind != BATON_REC_INSTANCE_CREATED &&
               r->kind != BATON_REC_INSTANCE_ENDED) {
        const baton_node *n = &g->nodes[r->element];
        x->element = baton_strdup(n->id);
        x->node_kind = n->kind;
        /* "top": not inside an embedded subprocess (event subprocesses count as top) */
        x->top = true;
        for (baton_idx sc = n->scope; sc != BATON_NONE; sc = g->scopes[sc].parent)
            if (g->scopes[sc].node != BATON_NONE &&
                g->nodes[g->scopes[sc].node].kind != BATON_NODE_EVENT_SUB_PROCESS)
                x->top = false;
    }
    x->name = r->name ? baton_strdup(r->name) : NULL;
    x->text = r->text ? baton_strdup(r->text) : NULL;
    if (h->verbose) {
        printf("    %lld:%-4llu %-20s %s%s%s\n", (long long)instance, (unsigned long long)r->seq,
               baton_record_kind_name((baton_record_kind)r->kind), x->element ? x->element : "",
               x->name ? " " : "", x->name ? x->name : "");
    }
}

static void free_recs(harness *h) {
    for (uint32_t i = 0; i < h->n_recs; i++) {
        baton_free(h->recs[i].process);
        baton_free(h->recs[i].element);
        baton_free(h->recs[i].name);
        baton_free(h->recs[i].text);
    }
    baton_free(h->recs);
    h->recs = NULL;
    h->n_recs = h->cap_recs = 0;
}

/* Does a record's element match reference "id" or "processId:id"? */
static bool ref_matches(const harness *h, const hrec *x, const char *ref) {
    if (!x->element)
        return false;
    if (h->tree) {
        bool in = false;
        for (int i = 0; i < h->tree->n; i++)
            in |= h->tree->ids[i] == x->instance;
        if (!in)
            return false;
    }
    const char *colon = strchr(ref, ':');
    if (colon) {
        size_t pl = (size_t)(colon - ref);
        return x->process && strlen(x->process) == pl && strncmp(x->process, ref, pl) == 0 &&
               strcmp(x->element, colon + 1) == 0;
    }
    return strcmp(x->element, ref) == 0 &&
           (!x->process || strcmp(x->process, h->process) == 0 || x->instance == h->instance);
}

static char *ref_of(const harness *h, int64_t instance, const char *process, const char *element) {
    char buf[512];
    if (instance == h->instance || !process || strcmp(process, h->process) == 0)
        snprintf(buf, sizeof buf, "%s", element);
    else
        snprintf(buf, sizeof buf, "%s:%s", process, element);
    return baton_strdup(buf);
}

/* ---- instances of the case ----------------------------------------------------------- */

typedef inst_ids inst_list;

static int collect_instance(void *cookie, const void *row) {
    inst_list *l = cookie;
    const baton_instance_row *r = row;
    if (l->n < 512)
        l->ids[l->n++] = r->id;
    return 0;
}

/* The case's instance and every instance it called (transitively). */
static void case_tree(harness *h, inst_list *out) {
    inst_list all = {.n = 0};
    h->store->ops->instance_list(h->store, collect_instance, &all, NULL);
    out->n = 0;
    out->ids[out->n++] = h->instance;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < all.n; i++) {
            baton_instance_row row;
            if (baton_engine_instance_row(h->eng, all.ids[i], &row, NULL))
                continue;
            bool in = false, parent_in = false;
            for (int k = 0; k < out->n; k++) {
                in |= out->ids[k] == all.ids[i];
                parent_in |= out->ids[k] == row.parent_id;
            }
            if (!in && parent_in && out->n < 512) {
                out->ids[out->n++] = all.ids[i];
                changed = 1;
            }
        }
    }
}

/* ---- stubs and settling ----------------------------------------------------------------- */

static bool is_wait_state(void *cookie, const baton_model *m, baton_idx n) {
    harness *h = cookie;
    const cJSON *w;
    const char *id = baton_model_graph(m)->nodes[n].id;
    if (cJSON_GetObjectItemCaseSensitive(h->stubs, id))
        return true; /* a stub replaces what the element would do */
    cJSON_ArrayForEach(w, h->wait_states) {
        const char *s = cJSON_GetStringValue(w);
        if (s && (strcmp(s, id) == 0 || strcmp(s, "any_task") == 0))
            return true;
    }
    return false;
}

typedef struct job_ref {
    int64_t instance, key;
    char element[256];
} job_ref;

typedef struct job_list {
    job_ref items[512];
    int n;
} job_list;

static int collect_job(void *cookie, const void *row) {
    job_list *l = cookie;
    const baton_job_row *j = row;
    if (l->n < 512) {
        l->items[l->n].instance = j->instance;
        l->items[l->n].key = j->key;
        snprintf(l->items[l->n].element, sizeof l->items[0].element, "%s",
                 j->element ? j->element : "");
        l->n++;
    }
    return 0;
}

typedef struct var_ctx {
    baton_instance *inst;
    int64_t scope;
} var_ctx;

static const cJSON *var_lookup(void *cookie, const char *name, size_t len) {
    var_ctx *c = cookie;
    char buf[256];
    if (len >= sizeof buf)
        return NULL;
    memcpy(buf, name, len);
    buf[len] = '\0';
    return baton_instance_lookup(c->inst, c->scope, buf);
}

/* Variables a stub sets: each value is a small expression over the variables. */
static cJSON *stub_vars(harness *h, const cJSON *stub, int64_t instance, int64_t owner) {
    cJSON *out = cJSON_CreateObject();
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(stub, "set");
    baton_instance *inst = NULL;
    if (baton_engine_load(h->eng, instance, &inst, NULL))
        return out;
    var_ctx vc = {inst, owner};
    const cJSON *v;
    cJSON_ArrayForEach(v, set) {
        cJSON *val = NULL;
        if (cJSON_IsString(v)) {
            baton_expr *e = NULL;
            baton_error err;
            baton_error_clear(&err);
            if (baton_expr_compile(v->valuestring, strlen(v->valuestring), BATON_EXPR_MODE_FEEL, &e,
                                   &err) == BATON_OK) {
                baton_expr_env env = {0};
                env.lookup = var_lookup;
                env.cookie = &vc;
                env.now_ms = h->clock;
                if (baton_expr_eval_json(e, &env, &val, &err))
                    failf(h, "stub for '%s': cannot evaluate '%s': %s", v->string, v->valuestring,
                          err.message);
                baton_expr_free(e);
            } else {
                failf(h, "stub for '%s': cannot compile '%s': %s", v->string, v->valuestring,
                      err.message);
            }
        } else {
            val = cJSON_Duplicate(v, 1);
        }
        if (val)
            cJSON_AddItemToObject(out, v->string, val);
    }
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(stub, "log");
    if (cJSON_IsString(log))
        cJSON_AddItemToArray(h->log, cJSON_CreateString(log->valuestring));
    baton_instance_free(inst);
    return out;
}

/* Complete stubbed jobs until none is left: the automatic work of the case. */
static void settle(harness *h) {
    for (int round = 0; round < 10000 && !h->failed; round++) {
        job_list jl = {.n = 0};
        h->store->ops->job_list(h->store, collect_job, &jl, NULL);
        bool did = false;
        for (int i = 0; i < jl.n && !h->failed; i++) {
            const cJSON *stub = cJSON_GetObjectItemCaseSensitive(h->stubs, jl.items[i].element);
            if (!stub)
                continue;
            baton_instance *inst = NULL;
            int64_t owner = 0;
            if (baton_engine_load(h->eng, jl.items[i].instance, &inst, NULL) == BATON_OK) {
                const baton_wait *w = baton_instance_wait(inst, jl.items[i].key);
                owner = w ? w->owner : 0;
                baton_instance_free(inst);
            }
            cJSON *vars = stub_vars(h, stub, jl.items[i].instance, owner);
            baton_input in = {0};
            in.kind = BATON_IN_COMPLETE;
            in.key = jl.items[i].key;
            in.variables = vars;
            baton_error err;
            baton_error_clear(&err);
            if (baton_engine_apply(h->eng, jl.items[i].instance, &in, &err) == BATON_OK)
                did = true;
            else
                failf(h, "completing stubbed '%s' failed: %s", jl.items[i].element, err.message);
            cJSON_Delete(vars);
        }
        if (!did)
            return;
    }
}

/* ---- waiting elements -------------------------------------------------------------------- */

typedef struct waiting {
    char *ref; /* element reference */
    int64_t instance;
    int64_t key;   /* the wait */
    int64_t owner; /* element instance */
    int kind;
} waiting;

typedef struct waiting_list {
    waiting items[1024];
    int n;
} waiting_list;

static void waiting_free(waiting_list *w) {
    for (int i = 0; i < w->n; i++)
        baton_free(w->items[i].ref);
    w->n = 0;
}

/* The wait states now active in the case's tree of instances (docs/testing.md). */
static void collect_waiting(harness *h, waiting_list *out) {
    inst_list tree;
    case_tree(h, &tree);
    out->n = 0;
    for (int t = 0; t < tree.n; t++) {
        baton_instance *inst = NULL;
        if (baton_engine_load(h->eng, tree.ids[t], &inst, NULL))
            continue;
        if (baton_instance_state_of(inst) != BATON_INSTANCE_ACTIVE) {
            baton_instance_free(inst);
            continue;
        }
        const baton_graph *g = baton_model_graph(baton_instance_model(inst));
        const char *pid = g->processes[baton_instance_process(inst)].id;
        for (uint32_t i = 0; i < baton_instance_wait_count(inst) && out->n < 1024; i++) {
            const baton_wait *w = baton_instance_wait_at(inst, i);
            const baton_node *n = &g->nodes[w->element];
            const baton_elem *owner = baton_instance_elem(inst, w->owner);
            bool list = false;
            switch (w->kind) {
            case BATON_WAIT_JOB: list = !cJSON_GetObjectItemCaseSensitive(h->stubs, n->id); break;
            case BATON_WAIT_USER_TASK: list = true; break;
            case BATON_WAIT_TIMER:
            case BATON_WAIT_MESSAGE:
            case BATON_WAIT_SIGNAL:
            case BATON_WAIT_CONDITION:
                /* catch events and receive tasks, and event-gateway targets */
                list = n->kind == BATON_NODE_CATCH_EVENT || n->kind == BATON_NODE_RECEIVE_TASK;
                if (list && owner && owner->element != w->element && owner->element != BATON_NONE &&
                    g->nodes[owner->element].kind != BATON_NODE_EVENT_BASED_GATEWAY)
                    list = false;
                break;
            default: break;
            }
            if (!list)
                continue;
            waiting *x = &out->items[out->n++];
            x->ref = ref_of(h, tree.ids[t], pid, n->id);
            x->instance = tree.ids[t];
            x->key = w->key;
            x->owner = w->owner;
            x->kind = w->kind;
        }
        baton_instance_free(inst);
    }
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compare a multiset of references with a JSON array of strings; describe a mismatch. */
static bool same_multiset(char **got, int n_got, const cJSON *want, baton_buf *why) {
    int n_want = cJSON_GetArraySize(want);
    char **w = baton_calloc((size_t)n_want + 1, sizeof *w);
    int k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, want) {
        if (cJSON_IsString(x))
            w[k++] = x->valuestring;
    }
    qsort(w, (size_t)k, sizeof *w, cmp_str);
    qsort(got, (size_t)n_got, sizeof *got, cmp_str);
    bool same = k == n_got;
    for (int i = 0; same && i < k; i++)
        same = strcmp(w[i], got[i]) == 0;
    if (!same) {
        baton_buf_puts(why, "expected [");
        for (int i = 0; i < k; i++)
            baton_buf_printf(why, "%s%s", i ? ", " : "", w[i]);
        baton_buf_puts(why, "], engine had [");
        for (int i = 0; i < n_got; i++)
            baton_buf_printf(why, "%s%s", i ? ", " : "", got[i]);
        baton_buf_puts(why, "]");
    }
    baton_free(w);
    return same;
}

static void check_waiting(harness *h, const cJSON *want, const cJSON *details, const char *what) {
    waiting_list wl;
    collect_waiting(h, &wl);
    char *refs[1024];
    for (int i = 0; i < wl.n; i++)
        refs[i] = wl.items[i].ref;
    baton_buf why;
    baton_buf_init(&why, 0);
    if (!same_multiset(refs, wl.n, want, &why))
        failf(h, "%s: waiting: %s", what, baton_buf_str(&why));
    baton_buf_fini(&why);
    /* details: loopCounter, assignee, or NAME_set over all instances of the element */
    const cJSON *el;
    cJSON_ArrayForEach(el, details) {
        const cJSON *fact;
        cJSON_ArrayForEach(fact, el) {
            const char *key = fact->string;
            size_t kl = strlen(key);
            bool set = kl > 4 && strcmp(key + kl - 4, "_set") == 0;
            char var[128];
            snprintf(var, sizeof var, "%.*s", (int)(set ? kl - 4 : kl), key);
            cJSON *got = cJSON_CreateArray();
            for (int i = 0; i < wl.n; i++) {
                if (strcmp(wl.items[i].ref, el->string) != 0)
                    continue;
                baton_instance *inst = NULL;
                if (baton_engine_load(h->eng, wl.items[i].instance, &inst, NULL))
                    continue;
                const cJSON *v = NULL;
                if (strcmp(var, "assignee") == 0) {
                    const baton_wait *w = baton_instance_wait(inst, wl.items[i].key);
                    cJSON *s = w && w->text ? cJSON_CreateString(w->text) : cJSON_CreateNull();
                    cJSON_AddItemToArray(got, s);
                } else {
                    v = baton_instance_lookup(inst, wl.items[i].owner, var);
                    cJSON_AddItemToArray(got, v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
                }
                baton_instance_free(inst);
            }
            bool ok;
            if (set) {
                ok = cJSON_GetArraySize(got) == cJSON_GetArraySize(fact);
                const cJSON *want_item;
                cJSON_ArrayForEach(want_item, fact) {
                    bool found = false;
                    const cJSON *g;
                    cJSON_ArrayForEach(g, got) found |= cJSON_Compare(g, want_item, 1);
                    ok &= found;
                }
            } else {
                ok = cJSON_GetArraySize(got) >= 1;
                const cJSON *g;
                cJSON_ArrayForEach(g, got) ok &= cJSON_Compare(g, fact, 1);
            }
            if (!ok) {
                char *a = json_text(fact), *b = json_text(got);
                failf(h, "%s: %s of '%s': expected %s, engine had %s", what, key, el->string, a, b);
                baton_free(a);
                baton_free(b);
            }
            cJSON_Delete(got);
        }
    }
    waiting_free(&wl);
}

/* ---- steps ------------------------------------------------------------------------------- */

static void advance_to(harness *h, int64_t target) {
    for (int guard = 0; guard < 100000 && !h->failed; guard++) {
        int64_t due = baton_engine_next_timer(h->eng);
        if (due == INT64_MAX || due > target)
            break;
        if (due > h->clock)
            h->clock = due;
        baton_error err;
        baton_error_clear(&err);
        uint32_t fired = 0;
        if (baton_engine_fire_timers(h->eng, &fired, &err)) {
            failf(h, "firing timers: %s", err.message);
            return;
        }
        settle(h);
        if (!fired)
            break;
    }
    if (target > h->clock)
        h->clock = target;
}

static bool parse_time(const char *s, int64_t *out) {
    return s && baton_iso_parse_instant(s, NULL, out, NULL) == BATON_OK;
}

/* The JSON root variables of the case's instance. */
static cJSON *root_vars(harness *h) {
    baton_instance *inst = NULL;
    if (baton_engine_load(h->eng, h->instance, &inst, NULL))
        return cJSON_CreateObject();
    const cJSON *v = baton_instance_root_vars(inst);
    cJSON *c = v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
    baton_instance_free(inst);
    return c;
}

static void check_vars(harness *h, const cJSON *want, bool exact, const char *what) {
    cJSON *got = root_vars(h);
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(got, w->string);
        if (!g || !cJSON_Compare(g, w, 1)) {
            /* numbers: compare by value (1 and 1.0) */
            if (g && cJSON_IsNumber(g) && cJSON_IsNumber(w) && g->valuedouble == w->valuedouble)
                continue;
            char *a = json_text(w), *b = json_text(g);
            failf(h, "%s: variable '%s': expected %s, engine had %s", what, w->string, a, b);
            baton_free(a);
            baton_free(b);
        }
    }
    if (exact && cJSON_GetArraySize(got) != cJSON_GetArraySize(want)) {
        char *a = json_text(want), *b = json_text(got);
        failf(h, "%s: variables_exact: expected %s, engine had %s", what, a, b);
        baton_free(a);
        baton_free(b);
    }
    cJSON_Delete(got);
}

/* Find the waiting job/user task for element ref (with optional `where`). */
static bool find_task(harness *h, const char *ref, const cJSON *where, waiting *out) {
    waiting_list wl;
    collect_waiting(h, &wl);
    bool found = false;
    for (int i = 0; i < wl.n && !found; i++) {
        if (strcmp(wl.items[i].ref, ref) != 0)
            continue;
        if (wl.items[i].kind != BATON_WAIT_JOB && wl.items[i].kind != BATON_WAIT_USER_TASK)
            continue;
        bool ok = true;
        if (where) {
            baton_instance *inst = NULL;
            if (baton_engine_load(h->eng, wl.items[i].instance, &inst, NULL) == BATON_OK) {
                const cJSON *w;
                cJSON_ArrayForEach(w, where) {
                    const cJSON *v = baton_instance_lookup(inst, wl.items[i].owner, w->string);
                    ok &= v && cJSON_Compare(v, w, 1);
                }
                baton_instance_free(inst);
            }
        }
        if (ok) {
            *out = wl.items[i];
            out->ref = NULL;
            found = true;
        }
    }
    waiting_free(&wl);
    return found;
}

static char *correlation_text(const cJSON *corr) {
    if (!corr)
        return NULL;
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(corr, "correlationKey");
    if (ck && cJSON_GetArraySize(corr) == 1) {
        if (cJSON_IsString(ck))
            return baton_strdup(ck->valuestring);
        return json_text(ck);
    }
    return json_text(corr);
}

static void do_step(harness *h, const cJSON *step, int index) {
    char what[64];
    snprintf(what, sizeof what, "step %d", index + 1);
    baton_error err;
    baton_error_clear(&err);
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(step, "expect_waiting"))) {
        check_waiting(h, x, cJSON_GetObjectItemCaseSensitive(step, "details"), what);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "complete"))) {
        const char *ref = cJSON_GetStringValue(x);
        waiting w;
        if (!ref || !find_task(h, ref, cJSON_GetObjectItemCaseSensitive(step, "where"), &w)) {
            waiting_list wl;
            collect_waiting(h, &wl);
            baton_buf b;
            baton_buf_init(&b, 0);
            for (int i = 0; i < wl.n; i++)
                baton_buf_printf(&b, "%s%s", i ? ", " : "", wl.items[i].ref);
            failf(h, "%s: complete '%s': no such job or user task is waiting (waiting: [%s])", what,
                  ref ? ref : "?", baton_buf_str(&b));
            baton_buf_fini(&b);
            waiting_free(&wl);
            return;
        }
        baton_input in = {0};
        in.kind = BATON_IN_COMPLETE;
        in.key = w.key;
        in.variables = cJSON_GetObjectItemCaseSensitive(step, "variables");
        if (baton_engine_apply(h->eng, w.instance, &in, &err))
            failf(h, "%s: complete '%s': %s", what, ref, err.message);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "message"))) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "name"));
        const cJSON *corr = cJSON_GetObjectItemCaseSensitive(x, "correlation");
        char *key = correlation_text(corr);
        baton_correlation res = {0, 0};
        if (!corr && h->instance) {
            /* Camunda 7 tests correlate by execution: to the case's instances */
            inst_list tree;
            case_tree(h, &tree);
            for (int i = 0; i < tree.n && !res.kind; i++)
                if (baton_engine_correlate(h->eng, name ? name : "", NULL,
                                           cJSON_GetObjectItemCaseSensitive(x, "payload"), NULL, 0,
                                           tree.ids[i], &res, &err))
                    break;
        } else {
            baton_engine_correlate(h->eng, name ? name : "", key,
                                   cJSON_GetObjectItemCaseSensitive(x, "payload"), NULL, 0, 0, &res,
                                   &err);
        }
        if (err.code)
            failf(h, "%s: message '%s': %s", what, name ? name : "", err.message);
        baton_free(key);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "signal"))) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "name"));
        if (baton_engine_signal(h->eng, name ? name : "",
                                cJSON_GetObjectItemCaseSensitive(x, "payload"), NULL, &err))
            failf(h, "%s: signal '%s': %s", what, name ? name : "", err.message);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "start_process"))) {
        const char *pid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "process"));
        int64_t id;
        if (baton_engine_start(h->eng, pid ? pid : "", 0,
                               cJSON_GetObjectItemCaseSensitive(x, "variables"), NULL, &id, &err))
            failf(h, "%s: start_process '%s': %s", what, pid ? pid : "", err.message);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "advance_time"))) {
        baton_duration d;
        const char *s = cJSON_GetStringValue(x);
        if (!s || baton_iso_parse_duration(s, &d, &err)) {
            failf(h, "%s: advance_time '%s': %s", what, s ? s : "", err.message);
            return;
        }
        advance_to(h, baton_iso_add(h->clock, d, NULL));
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "advance_time_to"))) {
        int64_t t;
        if (!parse_time(cJSON_GetStringValue(x), &t)) {
            failf(h, "%s: advance_time_to: not an ISO 8601 date-time", what);
            return;
        }
        advance_to(h, t);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "expect_subscriptions"))) {
        inst_list tree;
        case_tree(h, &tree);
        cJSON *msgs = cJSON_CreateArray(), *sigs = cJSON_CreateArray(),
              *timers = cJSON_CreateArray();
        cJSON *corrs = cJSON_CreateArray();
        for (int t = 0; t < tree.n; t++) {
            baton_instance *inst = NULL;
            if (baton_engine_load(h->eng, tree.ids[t], &inst, NULL))
                continue;
            const baton_graph *g = baton_model_graph(baton_instance_model(inst));
            for (uint32_t i = 0; i < baton_instance_wait_count(inst); i++) {
                const baton_wait *w = baton_instance_wait_at(inst, i);
                if (w->kind == BATON_WAIT_MESSAGE) {
                    cJSON_AddItemToArray(msgs, cJSON_CreateString(w->name ? w->name : ""));
                    cJSON *c = cJSON_CreateObject();
                    cJSON_AddStringToObject(c, "name", w->name ? w->name : "");
                    if (w->text)
                        cJSON_AddStringToObject(c, "key", w->text);
                    cJSON_AddItemToArray(corrs, c);
                } else if (w->kind == BATON_WAIT_SIGNAL) {
                    cJSON_AddItemToArray(sigs, cJSON_CreateString(w->name ? w->name : ""));
                } else if (w->kind == BATON_WAIT_TIMER) {
                    cJSON_AddItemToArray(timers, cJSON_CreateString(g->nodes[w->element].id));
                }
            }
            baton_instance_free(inst);
        }
        baton_buf why;
        baton_buf_init(&why, 0);
        const cJSON *want;
        char *list[1024];
        int n;
        if ((want = cJSON_GetObjectItemCaseSensitive(x, "message"))) {
            n = 0;
            const cJSON *m;
            cJSON_ArrayForEach(m, msgs) list[n++] = m->valuestring;
            if (!same_multiset(list, n, want, &why))
                failf(h, "%s: message subscriptions: %s", what, baton_buf_str(&why));
        }
        if ((want = cJSON_GetObjectItemCaseSensitive(x, "signal"))) {
            n = 0;
            const cJSON *m;
            cJSON_ArrayForEach(m, sigs) list[n++] = m->valuestring;
            baton_buf_reset(&why);
            if (!same_multiset(list, n, want, &why))
                failf(h, "%s: signal subscriptions: %s", what, baton_buf_str(&why));
        }
        if ((want = cJSON_GetObjectItemCaseSensitive(x, "timers")) &&
            cJSON_GetArraySize(timers) != (int)cJSON_GetNumberValue(want))
            failf(h, "%s: expected %d pending timers, engine had %d", what,
                  (int)cJSON_GetNumberValue(want), cJSON_GetArraySize(timers));
        if ((want = cJSON_GetObjectItemCaseSensitive(x, "timers_includes"))) {
            const cJSON *id;
            cJSON_ArrayForEach(id, want) {
                bool found = false;
                const cJSON *t;
                cJSON_ArrayForEach(t, timers) found |= strcmp(t->valuestring, id->valuestring) == 0;
                if (!found)
                    failf(h, "%s: no pending timer for '%s'", what, id->valuestring);
            }
        }
        if ((want = cJSON_GetObjectItemCaseSensitive(x, "correlation"))) {
            const cJSON *entry;
            cJSON_ArrayForEach(entry, want) {
                /* keyed by message name ({"correlationKey": v}) or a BPMN correlation key name */
                char *by_msg = correlation_text(entry);
                cJSON *whole = cJSON_CreateObject();
                cJSON_AddItemToObject(whole, entry->string, cJSON_Duplicate(entry, 1));
                char *by_key = json_text(whole);
                cJSON_Delete(whole);
                bool found = false;
                const cJSON *c;
                cJSON_ArrayForEach(c, corrs) {
                    const char *nm =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
                    const char *k =
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key"));
                    if (!k)
                        continue;
                    if ((nm && strcmp(nm, entry->string) == 0 && by_msg &&
                         strcmp(k, by_msg) == 0) ||
                        strcmp(k, by_key) == 0)
                        found = true;
                }
                if (!found) {
                    char *got = json_text(corrs);
                    failf(h, "%s: correlation %s: expected %s, subscriptions %s", what,
                          entry->string, by_key, got);
                    baton_free(got);
                }
                baton_free(by_msg);
                baton_free(by_key);
            }
        }
        baton_buf_fini(&why);
        cJSON_Delete(msgs);
        cJSON_Delete(sigs);
        cJSON_Delete(timers);
        cJSON_Delete(corrs);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "expect_variables"))) {
        check_vars(h, x, false, what);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "expect_sent_messages"))) {
        const cJSON *m;
        cJSON_ArrayForEach(m, x) {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "name"));
            char *key = correlation_text(cJSON_GetObjectItemCaseSensitive(m, "correlation"));
            bool found = false;
            for (uint32_t i = 0; i < h->n_recs && !found; i++) {
                const hrec *r = &h->recs[i];
                if (r->kind != BATON_REC_MESSAGE_SENT || !r->name || !name ||
                    strcmp(r->name, name) != 0)
                    continue;
                found = !key || (r->text && strcmp(r->text, key) == 0);
            }
            if (!found)
                failf(h, "%s: no message '%s'%s%s was sent", what, name ? name : "",
                      key ? " with correlation " : "", key ? key : "");
            baton_free(key);
        }
    } else if ((x = cJSON_GetObjectItemCaseSensitive(step, "expect_state"))) {
        baton_instance_row row;
        const char *want = cJSON_GetStringValue(x);
        if (baton_engine_instance_row(h->eng, h->instance, &row, &err) == BATON_OK && want &&
            strcmp(want, "waiting") == 0 && row.state != BATON_INSTANCE_ACTIVE)
            failf(h, "%s: expected the instance to be waiting, it has ended", what);
    } else {
        char *s = json_text(step);
        failf(h, "%s: unknown step %s", what, s);
        baton_free(s);
    }
}

/* ---- final expectations --------------------------------------------------------------------- */

static bool is_activity_kind(uint8_t k) {
    return (baton_node_kind_flags((baton_node_kind)k) & BATON_KF_ACTIVITY) != 0;
}

/* Completions of activity ref (inner multi-instance instances count, bodies do not). */
static int passed_count(const harness *h, const char *ref) {
    int n = 0;
    for (uint32_t i = 0; i < h->n_recs; i++) {
        const hrec *r = &h->recs[i];
        if (r->kind == BATON_REC_ELEMENT_COMPLETED && ref_matches(h, r, ref) &&
            is_activity_kind(r->node_kind)) {
            /* skip multi-instance bodies: their completion follows their inner ones */
            bool body = false;
            for (uint32_t k = 0; k < i; k++)
                if (h->recs[k].instance == r->instance && h->recs[k].kind == BATON_REC_MI_STARTED &&
                    h->recs[k].key == r->key)
                    body = true;
            if (!body)
                n++;
        }
    }
    return n;
}

static void check_expect(harness *h, const cJSON *ex) {
    const char *what = "expect";
    baton_instance_row row;
    baton_error err;
    baton_error_clear(&err);
    if (baton_engine_instance_row(h->eng, h->instance, &row, &err)) {
        failf(h, "%s: the instance is gone: %s", what, err.message);
        return;
    }
    inst_list tree;
    case_tree(h, &tree);
    int incidents = 0;
    for (int i = 0; i < tree.n; i++) {
        baton_instance_row r2;
        if (baton_engine_instance_row(h->eng, tree.ids[i], &r2, NULL) == BATON_OK)
            incidents += r2.incidents;
    }
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "state"))) {
        const char *want = cJSON_GetStringValue(x);
        const char *got = incidents                                ? "failed"
                          : row.state == BATON_INSTANCE_COMPLETED  ? "completed"
                          : row.state == BATON_INSTANCE_TERMINATED ? "terminated"
                                                                   : "waiting";
        if (want && strcmp(want, got) != 0) {
            /* describe open incidents */
            baton_buf b;
            baton_buf_init(&b, 0);
            for (uint32_t i = 0; i < h->n_recs; i++)
                if (h->recs[i].kind == BATON_REC_INCIDENT_RAISED)
                    baton_buf_printf(&b, " [incident at %s: %s]",
                                     h->recs[i].element ? h->recs[i].element : "?",
                                     h->recs[i].text ? h->recs[i].text : "");
            failf(h, "%s: state: expected %s, engine had %s%s", what, want, got, baton_buf_str(&b));
            baton_buf_fini(&b);
        }
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "failed_at"))) {
        const char *want = cJSON_GetStringValue(x);
        bool found = false;
        for (uint32_t i = 0; i < h->n_recs && want; i++)
            if (h->recs[i].kind == BATON_REC_INCIDENT_RAISED && ref_matches(h, &h->recs[i], want))
                found = true;
        if (!found)
            failf(h, "%s: expected an incident at '%s'", what, want ? want : "?");
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "waiting")))
        check_waiting(h, x, NULL, what);
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "end"))) {
        cJSON *want;
        if (cJSON_IsString(x)) {
            want = cJSON_CreateArray();
            cJSON_AddItemToArray(want, cJSON_CreateString(x->valuestring));
        } else {
            want = cJSON_Duplicate(x, 1);
        }
        char *got[1024];
        int n = 0;
        for (uint32_t i = 0; i < h->n_recs && n < 1024; i++) {
            const hrec *r = &h->recs[i];
            if (r->kind == BATON_REC_ELEMENT_COMPLETED && r->node_kind == BATON_NODE_END_EVENT &&
                r->instance == h->instance && r->top)
                got[n++] = r->element;
        }
        baton_buf why;
        baton_buf_init(&why, 0);
        if (!same_multiset(got, n, want, &why))
            failf(h, "%s: end events: %s", what, baton_buf_str(&why));
        baton_buf_fini(&why);
        cJSON_Delete(want);
    }
    const cJSON *id;
    cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(ex, "passed")) {
        if (cJSON_IsString(id) && passed_count(h, id->valuestring) == 0)
            failf(h, "%s: '%s' was expected to complete, it did not", what, id->valuestring);
    }
    cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(ex, "passed_counts")) {
        int got = passed_count(h, id->string);
        if (got != (int)cJSON_GetNumberValue(id))
            failf(h, "%s: '%s' completed %d times, expected %d", what, id->string, got,
                  (int)cJSON_GetNumberValue(id));
    }
    cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(ex, "not_passed")) {
        if (cJSON_IsString(id) && passed_count(h, id->valuestring) != 0)
            failf(h, "%s: '%s' was not expected to complete, it did", what, id->valuestring);
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "passed_order"))) {
        uint32_t last = 0;
        const char *prev = NULL;
        cJSON_ArrayForEach(id, x) {
            uint32_t at = UINT32_MAX;
            for (uint32_t i = 0; i < h->n_recs; i++)
                if (h->recs[i].kind == BATON_REC_ELEMENT_COMPLETED &&
                    ref_matches(h, &h->recs[i], id->valuestring)) {
                    at = i;
                    break;
                }
            if (at == UINT32_MAX || (prev && at < last))
                failf(h, "%s: passed_order: '%s' did not complete after '%s'", what,
                      id->valuestring, prev ? prev : "(start)");
            last = at;
            prev = id->valuestring;
        }
    }
    cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(ex, "cancelled")) {
        bool found = false;
        for (uint32_t i = 0; i < h->n_recs && !found; i++) {
            const hrec *r = &h->recs[i];
            if ((r->kind == BATON_REC_ELEMENT_TERMINATED || r->kind == BATON_REC_WAIT_CLOSED) &&
                ref_matches(h, r, id->valuestring))
                found = true;
        }
        if (!found)
            failf(h, "%s: '%s' was expected to be cancelled, it was not", what, id->valuestring);
    }
    cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(ex, "not_reached")) {
        for (uint32_t i = 0; i < h->n_recs; i++) {
            const hrec *r = &h->recs[i];
            if (r->kind == BATON_REC_ELEMENT_ACTIVATING && ref_matches(h, r, id->valuestring)) {
                failf(h, "%s: '%s' was expected never to be entered, it was", what,
                      id->valuestring);
                break;
            }
        }
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "variables")))
        check_vars(h, x, false, what);
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "variables_exact")))
        check_vars(h, x, true, what);
    cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(ex, "variables_absent")) {
        cJSON *got = root_vars(h);
        if (cJSON_IsString(id) && cJSON_GetObjectItemCaseSensitive(got, id->valuestring))
            failf(h, "%s: variable '%s' was expected to be absent", what, id->valuestring);
        cJSON_Delete(got);
    }
    cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(ex, "sent_signals")) {
        bool found = false;
        for (uint32_t i = 0; i < h->n_recs; i++)
            if (h->recs[i].kind == BATON_REC_SIGNAL_THROWN && h->recs[i].name &&
                cJSON_IsString(id) && strcmp(h->recs[i].name, id->valuestring) == 0)
                found = true;
        if (!found)
            failf(h, "%s: signal '%s' was expected to be thrown", what,
                  cJSON_IsString(id) ? id->valuestring : "?");
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(ex, "log")) && !cJSON_Compare(x, h->log, 1)) {
        char *a = json_text(x), *b = json_text(h->log);
        failf(h, "%s: log: expected %s, engine had %s", what, a, b);
        baton_free(a);
        baton_free(b);
    }
}

/* ---- running a case -----------------------------------------------------------------------------
 */

static bool deploy_file(harness *h, const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", h->dir, file);
    char *xml = NULL;
    size_t len = 0;
    baton_error err;
    baton_error_clear(&err);
    if (baton_cli_read_file(path, BATON_BPMN_DEFAULT_MAX_BYTES, &xml, &len, &err)) {
        failf(h, "model %s: %s", file, err.message);
        return false;
    }
    baton_diags diags;
    baton_diags_init(&diags, 10);
    baton_deploy_result res;
    baton_status st = baton_engine_deploy(h->eng, file, xml, len, &diags, &res, &err);
    if (st) {
        baton_buf b;
        baton_buf_init(&b, 0);
        for (uint32_t i = 0; i < diags.n; i++) {
            if (diags.items[i].severity != BATON_SEV_ERROR)
                continue;
            baton_buf_puts(&b, "\n      ");
            baton_diag_format(&diags.items[i], file, &b);
        }
        failf(h, "model %s does not load: %s%s", file, err.message, baton_buf_str(&b));
        baton_buf_fini(&b);
    }
    baton_diags_fini(&diags);
    baton_free(xml);
    return st == BATON_OK;
}

static void history_tail(harness *h, FILE *out) {
    uint32_t from = h->n_recs > 15 ? h->n_recs - 15 : 0;
    fprintf(out, "    token history (last %u of %u records):\n", h->n_recs - from, h->n_recs);
    for (uint32_t i = from; i < h->n_recs; i++) {
        const hrec *r = &h->recs[i];
        fprintf(out, "      %lld:%-4llu %-20s %s%s%s%s%s\n", (long long)r->instance,
                (unsigned long long)r->seq, baton_record_kind_name((baton_record_kind)r->kind),
                r->element ? r->element : "", r->name ? " " : "", r->name ? r->name : "",
                r->text ? " - " : "", r->text ? r->text : "");
    }
}

static bool run_case(harness *h, const cJSON *c, const char *label, bool expected_fail) {
    h->failed = false;
    baton_buf_reset(&h->fail);
    h->log = cJSON_CreateArray();
    h->instance = 0;
    h->waiting_for_start = false;
    h->tree = NULL;
    const char *clock =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h->scenario, "clock"));
    h->clock = 0;
    if (clock && !parse_time(clock, &h->clock))
        failf(h, "scenario clock '%s' is not an ISO 8601 date-time", clock);
    h->case_vars = cJSON_GetObjectItemCaseSensitive(c, "variables");
    baton_error err;
    baton_error_clear(&err);
    baton_engine_opts eo = {0};
    eo.clock = harness_clock;
    eo.clock_cookie = h;
    eo.wait_hook = is_wait_state;
    eo.wait_hook_cookie = h;
    eo.unexecutable_as_warnings = true;
    eo.timer_start_variables = h->case_vars;
    if (baton_store_open_memory(&h->store, &err) || (eo.store = h->store, false) ||
        baton_engine_open(&eo, &h->eng, &err)) {
        failf(h, "engine: %s", err.message);
        goto done;
    }
    baton_engine_set_observer(h->eng, observe, h);
    const char *model =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h->scenario, "model"));
    if (!model || !deploy_file(h, model))
        goto done;
    const cJSON *extra;
    cJSON_ArrayForEach(extra, cJSON_GetObjectItemCaseSensitive(h->scenario, "extra_models")) {
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(extra, "file"));
        if (f && !deploy_file(h, f))
            goto done;
    }
    const char *start =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h->scenario, "start"));
    if (start && (strcmp(start, "by_timer_start_event") == 0 || strcmp(start, "by_event") == 0)) {
        /* the process's timer start event creates the instance when the clock passes it
           (by_event: or a message or signal start event, when a step publishes one) */
        h->waiting_for_start = true;
        const cJSON *s;
        int i = 0;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(c, "steps")) {
            do_step(h, s, i++);
            settle(h);
            if (h->failed)
                break;
        }
        if (!h->instance)
            failf(h, "no start event created an instance of '%s'", h->process);
    } else {
        if (baton_engine_start(h->eng, h->process, 0, h->case_vars, NULL, &h->instance, &err)) {
            failf(h, "start: %s", err.message);
            goto done;
        }
        settle(h);
        const cJSON *s;
        int i = 0;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(c, "steps")) {
            do_step(h, s, i++);
            settle(h);
            if (h->failed)
                break;
        }
    }
    if (!h->failed) {
        inst_ids tree;
        case_tree(h, &tree);
        h->tree = &tree;
        check_expect(h, cJSON_GetObjectItemCaseSensitive(c, "expect"));
        h->tree = NULL;
    }
    /* every instance's history must rebuild its stored state */
    if (h->eng) {
        inst_ids all = {.n = 0};
        h->store->ops->instance_list(h->store, collect_instance, &all, NULL);
        for (int i = 0; i < all.n; i++) {
            bool same = false;
            char *diff = NULL;
            baton_error_clear(&err);
            if (baton_engine_replay(h->eng, all.ids[i], &same, &diff, &err))
                failf(h, "replay of instance %lld: %s", (long long)all.ids[i], err.message);
            else if (!same)
                failf(h, "replay of instance %lld differs from its state: %s",
                      (long long)all.ids[i], diff ? diff : "");
            baton_free(diff);
        }
    }
done : {
    bool ok = !h->failed;
    printf("%s %s\n", expected_fail ? (ok ? "XPASS" : "XFAIL") : ok ? "PASS" : "FAIL", label);
    if (!ok && !expected_fail) {
        printf("    %s\n", baton_buf_str(&h->fail));
        history_tail(h, stdout);
    }
    baton_engine_close(h->eng);
    baton_store_close(h->store);
    h->eng = NULL;
    h->store = NULL;
    free_recs(h);
    cJSON_Delete(h->log);
    h->log = NULL;
    return ok;
}
}

int baton_cmd_test(int argc, char **argv) {
    bool verbose = false;
    const char *only = NULL;
    exceptions exc;
    memset(&exc, 0, sizeof exc);
    int first = 1;
    for (; first < argc; first++) {
        const char *a = argv[first];
        if (baton_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return BATON_EXIT_OK;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = true;
        } else if (strcmp(a, "--case") == 0 && first + 1 < argc) {
            only = argv[++first];
        } else if (strcmp(a, "--exceptions") == 0 && first + 1 < argc) {
            if (load_exceptions(&exc, argv[++first]))
                return BATON_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            return baton_cli_usage_error("test", "unknown option '%s'", a);
        } else {
            break;
        }
    }
    if (first >= argc)
        return baton_cli_usage_error("test", "no scenario file given");
    int passed = 0, failed = 0, xfailed = 0;
    for (int f = first; f < argc; f++) {
        char *data = NULL;
        size_t len = 0;
        baton_error err;
        baton_error_clear(&err);
        if (baton_cli_read_file(argv[f], 16u << 20, &data, &len, &err)) {
            printf("FAIL %s: %s\n", argv[f], err.message);
            failed++;
            continue;
        }
        cJSON *sc = cJSON_ParseWithLength(data, len);
        baton_free(data);
        const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sc, "format"));
        if (!sc || !fmt || strcmp(fmt, "bpmn-exec-scenario/1") != 0) {
            printf("FAIL %s: not a bpmn-exec-scenario/1 file\n", argv[f]);
            cJSON_Delete(sc);
            failed++;
            continue;
        }
        char *path = baton_strdup(argv[f]);
        harness h;
        memset(&h, 0, sizeof h);
        h.scenario = sc;
        h.dir = dirname(path);
        h.process = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sc, "process"));
        h.stubs = cJSON_GetObjectItemCaseSensitive(sc, "stubs");
        h.wait_states = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(sc, "assumptions"), "wait_states");
        h.verbose = verbose;
        baton_buf_init(&h.fail, 0);
        const char *sname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sc, "name"));
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sc, "cases")) {
            const char *cname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
            if (only && (!cname || !strstr(cname, only)))
                continue;
            if (verbose)
                printf("---- %s: %s\n", sname ? sname : argv[f], cname ? cname : "");
            char label[512];
            snprintf(label, sizeof label, "%s: %s", sname ? sname : argv[f],
                     cname ? cname : "(unnamed case)");
            bool xf = is_exception(&exc, sname, cname);
            bool ok = h.process && run_case(&h, c, label, xf);
            if (!h.process)
                printf("FAIL %s: the scenario names no process\n", label);
            if (xf && !ok)
                xfailed++;
            else if (ok && !xf)
                passed++;
            else
                failed++;
        }
        baton_buf_fini(&h.fail);
        baton_free(path);
        cJSON_Delete(sc);
    }
    if (xfailed)
        printf("%d passed, %d failed, %d expected differences\n", passed, failed, xfailed);
    else
        printf("%d passed, %d failed\n", passed, failed);
    baton_free(exc.text);
    return failed ? BATON_EXIT_FAIL : BATON_EXIT_OK;
}
