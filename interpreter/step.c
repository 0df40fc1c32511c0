/*
 * step.c - BPMN execution semantics as a pure step function; see step.h.
 *
 * Every change to the instance is a record emitted by rec()/apply(): the
 * record is appended to the step's list and immediately applied to the
 * state, so later decisions in the same step see it and a replay of the
 * records rebuilds the state.
 *
 * Work inside one step is ordered by two queues:
 *   main      ACTIVATE / COMPLETE / MI_NEXT / COMP_NEXT items, first in
 *             first out (as Zeebe processes its commands): parallel branches
 *             advance breadth-first;
 *   deferred  CHECK_SCOPE and INCLUSIVE_CHECK items, run only when the main
 *             queue is empty, so that "no token left in this scope" and the
 *             inclusive join's reachability rule are decided when no token
 *             is in flight between a flow and its target.
 * After both queues drain, conditional events are re-evaluated if variables
 * changed, which may start more work.
 *
 * What an element does once active comes from the table behaviours[],
 * indexed by node kind; which flows it leaves by, from choose_flows(). The
 * choices where BPMN 2.0 leaves room, and the dialect differences, are in
 * docs/semantics.md.
 */
#include "interpreter/step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "common/buf.h"
#include "expr/cron.h"
#include "expr/isotime.h"
#include "interpreter/interp_int.h"

#define DEFAULT_MAX_RECORDS  1000000u
#define MAX_CONDITION_ROUNDS 64

/* What to retry when an incident is resolved. */
enum phase {
    PHASE_ACTIVATE = 1, /* input mappings and the element's own activation */
    PHASE_COMPLETE,     /* output mappings and choosing the outgoing flows */
    PHASE_JOB,          /* a job ran out of retries */
    PHASE_THROW,        /* an error no one caught: throw it again */
    PHASE_CHILD,        /* the called process could not be started */
    PHASE_WAIT,         /* opening a wait (timer, subscription) failed */
};

enum op {
    OP_ACTIVATE = 1,
    OP_COMPLETE,
    OP_MI_NEXT,     /* a multi-instance/loop body continues after an inner instance ended */
    OP_COMP_NEXT,   /* a compensation throw continues after a handler ended */
    OP_CHECK_SCOPE, /* deferred: complete a scope that has no tokens left */
    OP_INCLUSIVE,   /* deferred: try an inclusive join */
};

/* OP_MI_NEXT flags */
#define MI_COMPLETED 0x01 /* the inner instance completed (not terminated) */
#define MI_STOP      0x02 /* ... and the completion condition held */

typedef struct item {
    uint8_t op;
    uint8_t flags; /* element instance flags for ACTIVATE */
    baton_idx node;
    baton_idx flow;  /* ACTIVATE: arrived by; COMPLETE: forced outgoing flow */
    baton_idx start; /* ACTIVATE of an event subprocess: the start event that fired */
    int32_t index;   /* MI inner index */
    int64_t key;     /* element instance (COMPLETE, MI_NEXT, COMP_NEXT, CHECK_SCOPE) */
    int64_t scope;   /* ACTIVATE: the flow scope; INCLUSIVE: the scope */
    int64_t trigger; /* ACTIVATE: the wait or element that caused it */
    cJSON *payload;  /* ACTIVATE: variables to set once active (owned by the stepper) */
} item;

/* A variable that was set in this step (the name lives in the step's arena). */
typedef struct changed_var {
    int64_t scope;
    const char *name;
} changed_var;

typedef struct queue {
    item *items;
    uint32_t head, tail, cap;
} queue;

struct baton_stepper {
    baton_record *recs;
    uint32_t n_recs, cap_recs;
    uint32_t max_records;
    baton_arena *strings; /* record strings, reset per step */
    cJSON **owned;        /* record values and payloads, freed per step */
    uint32_t n_owned, cap_owned;
    queue main, deferred;
    uint64_t total;
    baton_wait_hook hook;
    void *hook_cookie;
    /* scratch for reachability searches */
    uint8_t *seen;
    baton_idx *stack;
    uint32_t scratch_cap;
    baton_idx *flows; /* chosen outgoing flows */
    uint32_t cap_flows, n_flows;

    /* the step in progress */
    baton_instance *inst;
    const baton_graph *g;
    const baton_model *m;
    int64_t now;
    baton_error *err;
    baton_status fatal;
    bool vars_changed;
    int64_t signal_limit; /* keys below this existed when the last signal was thrown */
    changed_var *changed; /* variables set since conditions were last evaluated */
    uint32_t n_changed, cap_changed;
    int64_t cond_mark;  /* condition waits with keys from here on are new since then */
    int64_t *cond_keys; /* scratch: the condition waits to evaluate, by key */
    uint32_t cap_cond_keys;
};

/* ---- stepper ------------------------------------------------------------ */

baton_stepper *baton_stepper_new(void) {
    baton_stepper *s = baton_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->strings = baton_arena_new(4096, 0);
    if (!s->strings) {
        baton_free(s);
        return NULL;
    }
    s->max_records = DEFAULT_MAX_RECORDS;
    return s;
}

static void release_owned(baton_stepper *s) {
    for (uint32_t i = 0; i < s->n_owned; i++)
        cJSON_Delete(s->owned[i]);
    s->n_owned = 0;
}

void baton_stepper_free(baton_stepper *s) {
    if (!s)
        return;
    release_owned(s);
    baton_free(s->owned);
    baton_free(s->recs);
    baton_free(s->main.items);
    baton_free(s->deferred.items);
    baton_free(s->seen);
    baton_free(s->stack);
    baton_free(s->flows);
    baton_free(s->changed);
    baton_free(s->cond_keys);
    baton_arena_free(s->strings);
    baton_free(s);
}

void baton_stepper_set_wait_hook(baton_stepper *s, baton_wait_hook fn, void *cookie) {
    s->hook = fn;
    s->hook_cookie = cookie;
}

void baton_stepper_set_max_records(baton_stepper *s, uint32_t max) {
    s->max_records = max ? max : DEFAULT_MAX_RECORDS;
}

uint32_t baton_stepper_record_count(const baton_stepper *s) {
    return s->n_recs;
}

const baton_record *baton_stepper_record(const baton_stepper *s, uint32_t i) {
    return i < s->n_recs ? &s->recs[i] : NULL;
}

uint64_t baton_stepper_total_records(const baton_stepper *s) {
    return s->total;
}

static void fail(baton_stepper *s, baton_status st, const char *msg) {
    if (!s->fatal) {
        s->fatal = st;
        baton_error_set(s->err, st, "%s", msg);
    }
}

#define OOM(s) fail((s), BATON_NOMEM, "out of memory in the interpreter")

/* Keep a JSON value alive until the end of the step. */
static cJSON *own(baton_stepper *s, cJSON *v) {
    if (!v)
        return NULL;
    if (s->n_owned == s->cap_owned) {
        uint32_t cap = s->cap_owned ? s->cap_owned * 2 : 32;
        cJSON **o = baton_realloc(s->owned, cap * sizeof *o);
        if (!o) {
            cJSON_Delete(v);
            OOM(s);
            return NULL;
        }
        s->owned = o;
        s->cap_owned = cap;
    }
    s->owned[s->n_owned++] = v;
    return v;
}

static const char *sdup(baton_stepper *s, const char *str) {
    if (!str)
        return NULL;
    const char *d = baton_arena_strdup(s->strings, str);
    if (!d)
        OOM(s);
    return d;
}

/* ---- queues ------------------------------------------------------------- */

static void push(baton_stepper *s, queue *q, item it) {
    if (s->fatal)
        return;
    if (q->tail == q->cap) {
        if (q->head > 0) {
            memmove(q->items, q->items + q->head, (q->tail - q->head) * sizeof(item));
            q->tail -= q->head;
            q->head = 0;
        }
        if (q->tail == q->cap) {
            uint32_t cap = q->cap ? q->cap * 2 : 64;
            item *n = baton_realloc(q->items, cap * sizeof *n);
            if (!n) {
                OOM(s);
                return;
            }
            q->items = n;
            q->cap = cap;
        }
    }
    q->items[q->tail++] = it;
}

static bool pop(queue *q, item *out) {
    if (q->head == q->tail) {
        q->head = q->tail = 0;
        return false;
    }
    *out = q->items[q->head++];
    return true;
}

/* ---- records ------------------------------------------------------------- */

static baton_record *rec(baton_stepper *s, baton_record_kind kind) {
    if (s->fatal)
        return NULL;
    if (s->n_recs >= s->max_records) {
        fail(s, BATON_LIMIT, "step exceeded its record bound (a loop without a wait state?)");
        return NULL;
    }
    if (s->n_recs == s->cap_recs) {
        uint32_t cap = s->cap_recs ? s->cap_recs * 2 : 64;
        baton_record *r = baton_realloc(s->recs, cap * sizeof *r);
        if (!r) {
            OOM(s);
            return NULL;
        }
        s->recs = r;
        s->cap_recs = cap;
    }
    baton_record *r = &s->recs[s->n_recs];
    memset(r, 0, sizeof *r);
    r->kind = (uint8_t)kind;
    r->element = BATON_NONE;
    r->flow = BATON_NONE;
    r->at = s->now;
    r->seq = baton_instance_seq(s->inst) + 1;
    return r;
}

/* Remember that variable `name` of scope `scope` changed (conditional events). */
static void note_changed(baton_stepper *s, int64_t scope, const char *name) {
    for (uint32_t i = 0; i < s->n_changed; i++)
        if (s->changed[i].scope == scope && strcmp(s->changed[i].name, name) == 0)
            return;
    if (s->n_changed == s->cap_changed) {
        uint32_t cap = s->cap_changed ? s->cap_changed * 2 : 16;
        changed_var *c = baton_realloc(s->changed, cap * sizeof *c);
        if (!c) {
            OOM(s);
            return;
        }
        s->changed = c;
        s->cap_changed = cap;
    }
    s->changed[s->n_changed++] = (changed_var){scope, name};
}

static bool was_changed(const baton_stepper *s, int64_t scope, const char *name) {
    for (uint32_t i = 0; i < s->n_changed; i++)
        if (s->changed[i].scope == scope && strcmp(s->changed[i].name, name) == 0)
            return true;
    return false;
}

/* Apply the record just filled in. */
static void apply(baton_stepper *s, baton_record *r) {
    if (!r || s->fatal)
        return;
    if (r->kind == BATON_REC_SIGNAL_THROWN)
        s->signal_limit = s->inst->next_key; /* waits opened from here on are not caught */
    baton_status st = baton_instance_apply(s->inst, r, s->err);
    if (st) {
        s->fatal = st;
        return;
    }
    s->n_recs++;
    s->total++;
    if (r->kind == BATON_REC_VARIABLE_SET) {
        s->vars_changed = true;
        note_changed(s, r->scope, r->name);
    }
}

static int64_t new_key(baton_stepper *s) {
    return s->inst->next_key;
}

/* ---- model helpers --------------------------------------------------------- */

static const baton_node *node(const baton_stepper *s, baton_idx n) {
    return &s->g->nodes[n];
}

static unsigned kind_flags(const baton_node *n) {
    return baton_node_kind_flags((baton_node_kind)n->kind);
}

static int ev_kind(const baton_node *n) {
    return n->n_events ? n->events[0].kind : BATON_EVENT_NONE;
}

static const baton_event_def *ev(const baton_node *n) {
    return n->n_events ? &n->events[0] : NULL;
}

static baton_dialect dialect(const baton_stepper *s) {
    return (baton_dialect)s->g->dialect;
}

/* The model scope a scope element instance opens (process or subprocess). */
static const baton_scope *inner_scope_of(const baton_stepper *s, const baton_elem *e) {
    if (e->element == BATON_NONE)
        return &s->g->scopes[s->g->processes[s->inst->process].root_scope];
    const baton_node *n = node(s, e->element);
    if (n->inner_scope == BATON_NONE || (e->flags & BATON_EF_MI_BODY))
        return NULL;
    return &s->g->scopes[n->inner_scope];
}

static baton_elem *elem(baton_stepper *s, int64_t key) {
    return baton_inst_elem(s->inst, key);
}

/* ---- variables and expressions ------------------------------------------- */

typedef struct lookup_ctx {
    baton_stepper *s;
    int64_t scope;
    const cJSON *overlay; /* consulted first (message payloads, child variables) */
    bool *touched;        /* if set: becomes true when a variable read was changed */
} lookup_ctx;

/* The element instance whose variable `name` a lookup from `scope` finds. */
static int64_t holder_of(baton_stepper *s, int64_t scope, const char *name) {
    const baton_elem *e = baton_instance_elem(s->inst, scope ? scope : s->inst->root);
    for (int depth = 0; e && depth < 100000; depth++) {
        if (e->vars && cJSON_GetObjectItemCaseSensitive(e->vars, name))
            return e->key;
        e = e->parent ? baton_instance_elem(s->inst, e->parent) : NULL;
    }
    return 0;
}

static const cJSON *lookup_var(void *cookie, const char *name, size_t len) {
    lookup_ctx *c = cookie;
    char buf[256];
    const char *key = name;
    if (name[len] != '\0') {
        if (len >= sizeof buf)
            return NULL;
        memcpy(buf, name, len);
        buf[len] = '\0';
        key = buf;
    }
    if (c->overlay) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->overlay, key);
        if (v)
            return v;
    }
    if (c->touched && !*c->touched) {
        int64_t h = holder_of(c->s, c->scope, key);
        *c->touched = h && was_changed(c->s, h, key);
    }
    return baton_instance_lookup(c->s->inst, c->scope, key);
}

static void env_init(baton_stepper *s, lookup_ctx *lc, baton_expr_env *env, int64_t scope,
                     const cJSON *overlay) {
    lc->s = s;
    lc->scope = scope;
    lc->overlay = overlay;
    lc->touched = NULL;
    memset(env, 0, sizeof *env);
    env->lookup = lookup_var;
    env->cookie = lc;
    env->now_ms = s->now;
}

/* Evaluate a slot to JSON; static text gives a string. */
static baton_status eval_json(baton_stepper *s, const baton_slot *slot, int64_t scope,
                              const cJSON *overlay, cJSON **out, baton_error *e) {
    lookup_ctx lc;
    baton_expr_env env;
    env_init(s, &lc, &env, scope, overlay);
    return baton_expr_eval_json(slot->expr, &env, out, e);
}

static baton_status eval_bool(baton_stepper *s, const baton_slot *slot, int64_t scope, bool *out,
                              baton_error *e) {
    lookup_ctx lc;
    baton_expr_env env;
    env_init(s, &lc, &env, scope, NULL);
    return baton_expr_eval_bool(slot->expr, &env, out, e);
}

static baton_status eval_string(baton_stepper *s, const baton_slot *slot, int64_t scope, char **out,
                                baton_error *e) {
    lookup_ctx lc;
    baton_expr_env env;
    env_init(s, &lc, &env, scope, NULL);
    return baton_expr_eval_string(slot->expr, &env, out, e);
}

static void set_var(baton_stepper *s, int64_t scope, const char *name, const cJSON *value) {
    baton_record *r = rec(s, BATON_REC_VARIABLE_SET);
    if (!r)
        return;
    r->scope = scope;
    r->name = sdup(s, name);
    cJSON *v = value ? cJSON_Duplicate(value, 1) : cJSON_CreateNull();
    r->value = own(s, v);
    if (!r->name || !r->value)
        return;
    apply(s, r);
}

/*
 * Propagation (Camunda 8, and Camunda 7's setVariable): the variable goes
 * to the nearest scope, starting at `from`, that already has it; else to
 * the root scope.
 */
static void set_propagated(baton_stepper *s, int64_t from, const char *name, const cJSON *value) {
    int64_t target = s->inst->root;
    for (baton_elem *e = elem(s, from); e; e = e->parent ? elem(s, e->parent) : NULL) {
        if (e->vars && cJSON_GetObjectItemCaseSensitive(e->vars, name)) {
            target = e->key;
            break;
        }
    }
    set_var(s, target, name, value);
}

static void set_all_propagated(baton_stepper *s, int64_t from, const cJSON *vars) {
    const cJSON *v;
    cJSON_ArrayForEach(v, vars) {
        if (v->string)
            set_propagated(s, from, v->string, v);
    }
}

static void set_all_local(baton_stepper *s, int64_t scope, const cJSON *vars) {
    const cJSON *v;
    cJSON_ArrayForEach(v, vars) {
        if (v->string)
            set_var(s, scope, v->string, v);
    }
}

/*
 * The result of element instance `key` of node n (job or task variables, a
 * message or signal payload, a child's variables): with output mappings it
 * stays local and only the mappings (applied on completion) pass it on;
 * without, every variable is propagated (Camunda 8 variable mappings).
 * Camunda 7 sets such variables with setVariable, which propagates whether
 * or not the element has output parameters.
 */
static void set_result(baton_stepper *s, int64_t key, const baton_node *n, const cJSON *vars) {
    if (n && n->io && n->io->n_outputs && dialect(s) != BATON_DIALECT_C7)
        set_all_local(s, key, vars);
    else
        set_all_propagated(s, key, vars);
}

/*
 * Set `target` (a name, or a Camunda 8 path "a.b.c") in `scope` locally, or
 * propagated from `scope` when `propagate`.
 */
static void set_target(baton_stepper *s, int64_t scope, const char *target, const cJSON *value,
                       bool propagate) {
    const char *dot = strchr(target, '.');
    if (!dot) {
        if (propagate)
            set_propagated(s, scope, target, value);
        else
            set_var(s, scope, target, value);
        return;
    }
    char head[256];
    size_t hl = (size_t)(dot - target);
    if (hl >= sizeof head)
        hl = sizeof head - 1;
    memcpy(head, target, hl);
    head[hl] = '\0';
    const cJSON *cur = propagate
                           ? baton_instance_lookup(s->inst, scope, head)
                           : (elem(s, scope) && elem(s, scope)->vars
                                  ? cJSON_GetObjectItemCaseSensitive(elem(s, scope)->vars, head)
                                  : NULL);
    cJSON *root = cJSON_IsObject(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject();
    if (!root) {
        OOM(s);
        return;
    }
    own(s, root);
    cJSON *obj = root;
    const char *p = dot + 1;
    for (;;) {
        const char *nd = strchr(p, '.');
        char part[256];
        size_t pl = nd ? (size_t)(nd - p) : strlen(p);
        if (pl >= sizeof part)
            pl = sizeof part - 1;
        memcpy(part, p, pl);
        part[pl] = '\0';
        if (!nd) {
            cJSON *v = value ? cJSON_Duplicate(value, 1) : cJSON_CreateNull();
            if (!v) {
                OOM(s);
                return;
            }
            if (cJSON_GetObjectItemCaseSensitive(obj, part))
                cJSON_ReplaceItemInObjectCaseSensitive(obj, part, v);
            else
                cJSON_AddItemToObject(obj, part, v);
            break;
        }
        cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, part);
        if (!cJSON_IsObject(child)) {
            cJSON *n = cJSON_CreateObject();
            if (!n) {
                OOM(s);
                return;
            }
            if (child)
                cJSON_ReplaceItemInObjectCaseSensitive(obj, part, n);
            else
                cJSON_AddItemToObject(obj, part, n);
            child = n;
        }
        obj = child;
        p = nd + 1;
    }
    if (propagate)
        set_propagated(s, scope, head, root);
    else
        set_var(s, scope, head, root);
}

/* ---- incidents ------------------------------------------------------------ */

static void incident(baton_stepper *s, int64_t elem_key, enum phase phase, int64_t wait,
                     const char *kind, const char *fmt, ...) BATON_PRINTF(6, 7);

static void incident(baton_stepper *s, int64_t elem_key, enum phase phase, int64_t wait,
                     const char *kind, const char *fmt, ...) {
    char msg[BATON_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    baton_elem *e = elem(s, elem_key);
    baton_record *r = rec(s, BATON_REC_INCIDENT_RAISED);
    if (!r)
        return;
    r->key = new_key(s);
    r->scope = elem_key;
    r->element = e ? e->element : BATON_NONE;
    r->aux = phase;
    r->aux2 = wait;
    r->name = sdup(s, kind);
    r->text = sdup(s, msg);
    apply(s, r);
}

/* An expression failed: incident naming the element and the expression. */
static void expr_incident(baton_stepper *s, int64_t key, enum phase phase, const baton_slot *slot,
                          const baton_error *e) {
    incident(s, key, phase, 0, "expression", "expression '%s' failed: %s%s%s",
             slot->text ? slot->text : "", e->where[0] ? e->where : "", e->where[0] ? ": " : "",
             e->message);
}

/* ---- element instance records ---------------------------------------------- */

static void elem_record(baton_stepper *s, baton_record_kind kind, int64_t key) {
    baton_elem *e = elem(s, key);
    if (!e)
        return;
    baton_record *r = rec(s, kind);
    if (!r)
        return;
    r->key = key;
    r->element = e->element;
    r->scope = e->parent;
    r->flags = e->flags;
    apply(s, r);
}

static void close_wait(baton_stepper *s, int64_t wait_key, bool triggered, const cJSON *payload) {
    baton_wait *w = baton_inst_wait(s->inst, wait_key);
    if (!w)
        return;
    baton_record *r = rec(s, triggered ? BATON_REC_WAIT_TRIGGERED : BATON_REC_WAIT_CLOSED);
    if (!r)
        return;
    r->key = wait_key;
    r->scope = w->owner;
    r->element = w->element;
    r->aux = w->kind;
    if (payload)
        r->value = own(s, cJSON_Duplicate(payload, 1));
    apply(s, r);
}

/*
 * Close every wait owned by element instance `key` (optionally only one
 * kind). The owner's list (next_owned) holds its waits only, a few at most:
 * the cost does not grow with the instance's other waits.
 */
static void close_waits_of(baton_stepper *s, int64_t key, int only_kind, bool event_subs_only) {
    for (;;) {
        baton_elem *e = elem(s, key);
        if (!e || !e->waits)
            return;
        int64_t found = 0;
        uint32_t guard = baton_instance_wait_count(s->inst);
        for (const baton_wait *w = baton_inst_wait(s->inst, e->first_wait); w && guard;
             w = baton_inst_wait(s->inst, w->next_owned), guard--) {
            if (w->owner != key || (only_kind && w->kind != only_kind))
                continue;
            if (event_subs_only) {
                const baton_node *wn = node(s, w->element);
                if (wn->kind != BATON_NODE_START_EVENT)
                    continue;
            }
            /* close in key order so records are deterministic */
            if (!found || w->key < found)
                found = w->key;
        }
        if (!found || s->fatal)
            return;
        close_wait(s, found, false, NULL);
    }
}

/* ---- forward declarations ---------------------------------------------------- */

static void activate(baton_stepper *s, const item *it);
static void complete(baton_stepper *s, int64_t key, baton_idx forced_flow);
static void terminate(baton_stepper *s, int64_t key);
static void open_wait_for_event(baton_stepper *s, int64_t owner, baton_idx n,
                                bool boundary_or_start);
static void throw_error(baton_stepper *s, int64_t from, const char *code, const char *message,
                        const cJSON *vars, int64_t origin_id, int64_t origin_key);
static void throw_error_event(baton_stepper *s, int64_t key, const baton_node *n);
static void throw_escalation(baton_stepper *s, int64_t from, const char *code, const cJSON *vars,
                             bool *interrupted_out);
static void trigger_wait(baton_stepper *s, int64_t wait_key, const cJSON *payload);

static void enqueue_activate(baton_stepper *s, baton_idx n, int64_t scope, baton_idx via,
                             uint8_t flags, int64_t trigger, const cJSON *payload) {
    item it = {0};
    it.op = OP_ACTIVATE;
    it.node = n;
    it.scope = scope;
    it.flow = via;
    it.flags = flags;
    it.trigger = trigger;
    it.start = BATON_NONE;
    it.payload = payload ? own(s, cJSON_Duplicate(payload, 1)) : NULL;
    push(s, &s->main, it);
}

static void enqueue_complete(baton_stepper *s, int64_t key) {
    item it = {0};
    it.op = OP_COMPLETE;
    it.key = key;
    it.flow = BATON_NONE;
    push(s, &s->main, it);
}

static void enqueue_check_scope(baton_stepper *s, int64_t key) {
    item it = {0};
    it.op = OP_CHECK_SCOPE;
    it.key = key;
    push(s, &s->deferred, it);
}

/* ---- waits: jobs, user tasks, timers, subscriptions ------------------------- */

static void open_job(baton_stepper *s, int64_t owner, baton_idx n, const char *type,
                     int32_t retries) {
    baton_record *r = rec(s, BATON_REC_JOB_CREATED);
    if (!r)
        return;
    r->key = new_key(s);
    r->scope = owner;
    r->element = n;
    r->name = sdup(s, type);
    r->aux = retries;
    apply(s, r);
}

/* The job type of a task: the model's type expression, else a default. */
static bool job_type(baton_stepper *s, int64_t key, const baton_node *n, char **type_out,
                     int32_t *retries_out) {
    const baton_task_def *t = n->task;
    *retries_out = 3;
    if (t && t->job_type.expr) {
        baton_error e;
        baton_error_clear(&e);
        if (eval_string(s, &t->job_type, key, type_out, &e)) {
            expr_incident(s, key, PHASE_ACTIVATE, &t->job_type, &e);
            return false;
        }
    } else {
        const char *def = n->kind == BATON_NODE_SCRIPT_TASK ? "script" : n->id;
        *type_out = baton_strdup(def);
        if (!*type_out) {
            OOM(s);
            return false;
        }
    }
    if (t && t->retries.expr) {
        char *rs = NULL;
        baton_error e;
        baton_error_clear(&e);
        if (eval_string(s, &t->retries, key, &rs, &e) == BATON_OK) {
            long v = strtol(rs, NULL, 10);
            if (v >= 0 && v < 1000000)
                *retries_out = (int32_t)v;
        }
        baton_free(rs);
    } else if (t && t->retry_cycle) {
        baton_cycle c;
        if (baton_iso_parse_cycle(t->retry_cycle, NULL, &c, NULL) == BATON_OK && c.repeat > 0)
            *retries_out = c.repeat;
    }
    return true;
}

static void open_user_task(baton_stepper *s, int64_t key, const baton_node *n) {
    const baton_task_def *t = n->task;
    char *assignee = NULL;
    cJSON *details = own(s, cJSON_CreateObject());
    if (!details)
        return;
    if (t) {
        struct {
            const baton_slot *slot;
            const char *name;
        } fields[] = {{&t->assignee, NULL},
                      {&t->candidate_groups, "candidateGroups"},
                      {&t->candidate_users, "candidateUsers"},
                      {&t->due_date, "dueDate"},
                      {&t->follow_up_date, "followUpDate"}};
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
            if (!fields[i].slot->expr)
                continue;
            cJSON *v = NULL;
            baton_error e;
            baton_error_clear(&e);
            if (eval_json(s, fields[i].slot, key, NULL, &v, &e)) {
                expr_incident(s, key, PHASE_ACTIVATE, fields[i].slot, &e);
                baton_free(assignee);
                return;
            }
            if (!fields[i].name) {
                if (cJSON_IsString(v))
                    assignee = baton_strdup(v->valuestring);
                else if (!cJSON_IsNull(v)) {
                    char *p = cJSON_PrintUnformatted(v);
                    assignee = p ? baton_strdup(p) : NULL;
                    cJSON_free(p);
                }
                cJSON_Delete(v);
            } else if (cJSON_IsString(v) && (i == 1 || i == 2)) {
                /* "a, b" lists become arrays */
                cJSON *arr = cJSON_CreateArray();
                const char *p = v->valuestring;
                while (arr && *p) {
                    while (*p == ' ' || *p == ',')
                        p++;
                    const char *q = p;
                    while (*q && *q != ',')
                        q++;
                    const char *end = q;
                    while (end > p && end[-1] == ' ')
                        end--;
                    if (end > p) {
                        char *one = baton_strndup(p, (size_t)(end - p));
                        if (one) {
                            cJSON_AddItemToArray(arr, cJSON_CreateString(one));
                            baton_free(one);
                        }
                    }
                    p = q;
                }
                cJSON_Delete(v);
                cJSON_AddItemToObject(details, fields[i].name, arr);
            } else {
                cJSON_AddItemToObject(details, fields[i].name, v);
            }
        }
        if (t->form_key)
            cJSON_AddStringToObject(details, "formKey", t->form_key);
    }
    baton_record *r = rec(s, BATON_REC_USER_TASK_CREATED);
    if (r) {
        r->key = new_key(s);
        r->scope = key;
        r->element = elem(s, key)->element;
        r->text = sdup(s, assignee);
        r->value = details;
        apply(s, r);
    }
    baton_free(assignee);
}

/* Timer due time from a timer definition; false after raising an incident. */
/*
 * Timer due time from a timer definition; false after raising an incident.
 * A cycle may be ISO 8601 (R5/PT10M) or cron (Camunda 8): for cron the
 * expression comes back in *cron_out (baton_free it) so re-arming can ask
 * for its next occurrence.
 */
static bool timer_schedule(baton_stepper *s, int64_t scope, const baton_event_def *d,
                           int64_t *due_out, int64_t *period_out, int32_t *months_out,
                           int32_t *repeat_out, char **cron_out) {
    char *text = NULL;
    *cron_out = NULL;
    baton_error e;
    baton_error_clear(&e);
    *period_out = 0;
    *months_out = 0;
    *repeat_out = 0;
    if (!d->timer.expr || eval_string(s, &d->timer, scope, &text, &e)) {
        if (d->timer.expr)
            expr_incident(s, scope, PHASE_WAIT, &d->timer, &e);
        else
            incident(s, scope, PHASE_WAIT, 0, "timer", "timer has no definition");
        return false;
    }
    baton_status st = BATON_OK;
    baton_error pe;
    baton_error_clear(&pe);
    switch (d->timer_kind) {
    case BATON_TIMER_DATE: st = baton_iso_parse_instant(text, NULL, due_out, &pe); break;
    case BATON_TIMER_DURATION: {
        baton_duration dur;
        st = baton_iso_parse_duration(text, &dur, &pe);
        if (!st)
            *due_out = baton_iso_add(s->now, dur, NULL);
        break;
    }
    case BATON_TIMER_CYCLE: {
        if (baton_cron_looks_like(text)) {
            baton_cron cr;
            st = baton_cron_parse(text, &cr, &pe);
            if (!st) {
                *due_out = baton_cron_next(&cr, s->now);
                if (*due_out == INT64_MAX)
                    st = baton_error_set(&pe, BATON_INVALID, "the cron expression never fires");
            }
            if (!st) {
                *repeat_out = -1;
                *cron_out = text;
                text = NULL;
            }
            break;
        }
        baton_cycle c;
        st = baton_iso_parse_cycle(text, NULL, &c, &pe);
        if (!st) {
            *due_out = c.start_ms != INT64_MIN ? c.start_ms : baton_iso_add(s->now, c.period, NULL);
            *period_out = c.period.ms;
            *months_out = c.period.months;
            *repeat_out = c.repeat < 0 ? -1 : c.repeat - 1;
        }
        break;
    }
    default: st = baton_error_set(&pe, BATON_INVALID, "no timer kind");
    }
    if (st)
        incident(s, scope, PHASE_WAIT, 0, "timer", "timer '%s': %s", text ? text : "", pe.message);
    baton_free(text);
    return st == BATON_OK;
}

/* `cron`: the cron expression of a cron cycle (kept on the wait as its name), else NULL. */
static void schedule_timer(baton_stepper *s, int64_t owner, baton_idx n, bool interrupting,
                           int64_t due, int64_t period, int32_t months, int32_t repeat,
                           const char *cron) {
    baton_record *r = rec(s, BATON_REC_TIMER_SCHEDULED);
    if (!r)
        return;
    r->key = new_key(s);
    r->scope = owner;
    r->element = n;
    r->aux = due;
    r->aux2 = period;
    r->count = repeat;
    r->flags = interrupting ? 1 : 0;
    r->name = sdup(s, cron);
    if (months)
        r->value = own(s, cJSON_CreateNumber(months));
    apply(s, r);
}

/*
 * BPMN correlation (correlationKey/correlationProperty): the values this
 * instance expects for message m, as {"key": {"property": value}} text.
 * Instance-side values come from the retrieval expressions of the other
 * messages of the conversation, evaluated on the instance's variables.
 */
static char *bpmn_correlation(baton_stepper *s, int64_t scope, baton_idx msg) {
    const baton_graph *g = s->g;
    if (!g->n_corr_keys)
        return NULL;
    cJSON *all = cJSON_CreateObject();
    if (!all)
        return NULL;
    for (uint32_t k = 0; k < g->n_corr_keys; k++) {
        const baton_corr_key *key = &g->corr_keys[k];
        cJSON *props = NULL;
        for (uint32_t p = 0; p < key->n_props; p++) {
            const baton_corr_property *prop = &g->corr_props[key->props[p]];
            bool relevant = false;
            for (uint32_t r = 0; r < prop->n_retrievals; r++)
                relevant |= prop->retrievals[r].message == msg;
            if (!relevant)
                continue;
            cJSON *value = NULL;
            for (int pass = 0; pass < 2 && !value; pass++) {
                for (uint32_t r = 0; r < prop->n_retrievals && !value; r++) {
                    const baton_corr_retrieval *rt = &prop->retrievals[r];
                    if ((pass == 0) == (rt->message == msg) || !rt->path.expr)
                        continue;
                    cJSON *v = NULL;
                    if (eval_json(s, &rt->path, scope, NULL, &v, NULL) == BATON_OK &&
                        !cJSON_IsNull(v))
                        value = v;
                    else
                        cJSON_Delete(v);
                }
            }
            if (!value)
                continue;
            if (!props)
                props = cJSON_AddObjectToObject(all, key->name ? key->name : "");
            cJSON_AddItemToObject(props, prop->id, value);
        }
    }
    char *out = NULL;
    if (all->child) {
        char *p = cJSON_PrintUnformatted(all);
        out = p ? baton_strdup(p) : NULL;
        cJSON_free(p);
    }
    cJSON_Delete(all);
    return out;
}

static bool message_name(baton_stepper *s, int64_t scope, baton_idx msg, char **name_out,
                         char **key_out) {
    const baton_message *m = &s->g->messages[msg];
    *name_out = NULL;
    *key_out = NULL;
    baton_error e;
    baton_error_clear(&e);
    if (m->name_expr.expr) {
        if (eval_string(s, &m->name_expr, scope, name_out, &e)) {
            expr_incident(s, scope, PHASE_WAIT, &m->name_expr, &e);
            return false;
        }
    } else {
        *name_out = baton_strdup(m->name ? m->name : m->id);
    }
    if (m->correlation_key.expr) {
        if (eval_string(s, &m->correlation_key, scope, key_out, &e)) {
            baton_free(*name_out);
            *name_out = NULL;
            expr_incident(s, scope, PHASE_WAIT, &m->correlation_key, &e);
            return false;
        }
    } else {
        *key_out = bpmn_correlation(s, scope, msg);
    }
    return true;
}

static void subscribe_message(baton_stepper *s, int64_t owner, baton_idx n, baton_idx msg,
                              bool interrupting) {
    char *name, *key;
    if (msg == BATON_NONE) {
        incident(s, owner, PHASE_WAIT, 0, "message", "message event has no message");
        return;
    }
    if (!message_name(s, owner, msg, &name, &key))
        return;
    baton_record *r = rec(s, BATON_REC_MESSAGE_SUBSCRIBED);
    if (r) {
        r->key = new_key(s);
        r->scope = owner;
        r->element = n;
        r->name = sdup(s, name);
        r->text = sdup(s, key);
        r->flags = interrupting ? 1 : 0;
        apply(s, r);
    }
    baton_free(name);
    baton_free(key);
}

static void subscribe_signal(baton_stepper *s, int64_t owner, baton_idx n, baton_idx sig,
                             bool interrupting) {
    const baton_named_def *d = sig != BATON_NONE ? &s->g->signals[sig] : NULL;
    baton_record *r = rec(s, BATON_REC_SIGNAL_SUBSCRIBED);
    if (!r)
        return;
    r->key = new_key(s);
    r->scope = owner;
    r->element = n;
    r->name = sdup(s, d ? (d->name ? d->name : d->id) : "");
    r->flags = interrupting ? 1 : 0;
    apply(s, r);
}

static void watch_condition(baton_stepper *s, int64_t owner, baton_idx n, bool interrupting) {
    baton_record *r = rec(s, BATON_REC_CONDITION_WATCHED);
    if (!r)
        return;
    r->key = new_key(s);
    r->scope = owner;
    r->element = n;
    r->flags = interrupting ? 1 : 0;
    apply(s, r);
}

/*
 * Open what node n waits for, owned by element instance `owner`:
 * intermediate catch events and receive tasks (owner = their own instance),
 * boundary events (owner = the activity) and event-subprocess start events
 * (owner = the scope), and the targets of an event-based gateway (owner =
 * the gateway).
 */
static void open_wait_for_event(baton_stepper *s, int64_t owner, baton_idx n,
                                bool boundary_or_start) {
    const baton_node *nd = node(s, n);
    bool interrupting = boundary_or_start ? (nd->flags & BATON_NF_INTERRUPTING) != 0 : true;
    if (nd->kind == BATON_NODE_RECEIVE_TASK) {
        subscribe_message(s, owner, n, nd->message, true);
        return;
    }
    const baton_event_def *d = ev(nd);
    if (!d)
        return;
    switch (d->kind) {
    case BATON_EVENT_MESSAGE: subscribe_message(s, owner, n, d->ref, interrupting); break;
    case BATON_EVENT_SIGNAL: subscribe_signal(s, owner, n, d->ref, interrupting); break;
    case BATON_EVENT_TIMER: {
        int64_t due, period;
        int32_t months, repeat;
        char *cron = NULL;
        if (timer_schedule(s, owner, d, &due, &period, &months, &repeat, &cron))
            schedule_timer(s, owner, n, interrupting, due, period, months, repeat, cron);
        baton_free(cron);
        break;
    }
    case BATON_EVENT_CONDITIONAL: watch_condition(s, owner, n, interrupting); break;
    default: break; /* error, escalation, compensation, cancel: caught by propagation */
    }
}

/* Boundary events of an activity instance. */
static void open_boundaries(baton_stepper *s, int64_t key, const baton_node *n) {
    for (uint32_t i = 0; i < n->n_boundary && !s->fatal; i++)
        open_wait_for_event(s, key, n->boundary[i], true);
}

/* Event-subprocess start events of a scope instance. */
static void open_event_subs(baton_stepper *s, int64_t key, const baton_scope *sc) {
    for (uint32_t i = 0; sc && i < sc->n_event_subs && !s->fatal; i++) {
        const baton_node *es = node(s, sc->event_subs[i]);
        const baton_scope *inner = &s->g->scopes[es->inner_scope];
        for (uint32_t k = 0; k < inner->n_starts; k++)
            open_wait_for_event(s, key, inner->starts[k], true);
    }
}

/* ---- mappings ---------------------------------------------------------------- */

/* Input mappings: evaluated in the new instance's context, set locally. */
static bool input_mappings(baton_stepper *s, int64_t key, const baton_node *n) {
    if (!n->io)
        return true;
    for (uint32_t i = 0; i < n->io->n_inputs && !s->fatal; i++) {
        const baton_mapping *mp = &n->io->inputs[i];
        cJSON *v = NULL;
        if (mp->source.expr) {
            baton_error e;
            baton_error_clear(&e);
            if (eval_json(s, &mp->source, key, NULL, &v, &e)) {
                expr_incident(s, key, PHASE_ACTIVATE, &mp->source, &e);
                return false;
            }
        }
        own(s, v);
        if (mp->target)
            set_target(s, key, mp->target, v, false);
    }
    return !s->fatal;
}

/* Output mappings: evaluated in the element's context, merged into its flow scope. */
static bool output_mappings(baton_stepper *s, int64_t key, const baton_node *n,
                            const cJSON *overlay) {
    if (!n->io || !n->io->n_outputs)
        return true;
    baton_elem *e = elem(s, key);
    int64_t parent = e->parent;
    for (uint32_t i = 0; i < n->io->n_outputs && !s->fatal; i++) {
        const baton_mapping *mp = &n->io->outputs[i];
        cJSON *v = NULL;
        if (mp->source.expr) {
            baton_error er;
            baton_error_clear(&er);
            if (eval_json(s, &mp->source, key, overlay, &v, &er)) {
                expr_incident(s, key, PHASE_COMPLETE, &mp->source, &er);
                return false;
            }
        }
        own(s, v);
        if (mp->target)
            set_target(s, parent, mp->target, v, true);
    }
    return !s->fatal;
}

/* ---- multi-instance and loops ----------------------------------------------- */

static bool c7(const baton_stepper *s) {
    return dialect(s) == BATON_DIALECT_C7;
}

/*
 * Set the counters a completion condition may read, as local body
 * variables. `completing` is 1 while an inner instance completes (it counts
 * as completed and no longer active, as Zeebe and Camunda 7 evaluate the
 * condition then); `active` overrides the active count when >= 0 (at
 * activation the inner instances are queued, not yet children). Camunda 7
 * keeps nrOfActiveInstances at 1 for a sequential body while it runs.
 */
static void mi_counters(baton_stepper *s, int64_t body, int32_t completing, int32_t active) {
    baton_elem *b = elem(s, body);
    if (!b || (b->flags & BATON_EF_LOOP))
        return;
    int32_t total = b->mi_total, done = b->mi_completed + completing, term = b->mi_terminated;
    if (active < 0)
        active = (int32_t)b->children - completing;
    if (c7(s) && node(s, b->element)->loop->sequential && done + term < total)
        active = 1;
    cJSON *v;
    struct {
        const char *c7name, *c8name;
        int32_t value;
    } counters[] = {
        {"nrOfInstances", "numberOfInstances", total},
        {"nrOfCompletedInstances", "numberOfCompletedInstances", done},
        {"nrOfActiveInstances", "numberOfActiveInstances", active},
        {NULL, "numberOfTerminatedInstances", term},
    };
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) {
        const char *name = c7(s) ? counters[i].c7name : counters[i].c8name;
        if (!name)
            continue;
        const cJSON *cur = b->vars ? cJSON_GetObjectItemCaseSensitive(b->vars, name) : NULL;
        if (cur && cJSON_IsNumber(cur) && cur->valuedouble == counters[i].value)
            continue;
        v = own(s, cJSON_CreateNumber(counters[i].value));
        if (!v)
            return;
        set_var(s, body, name, v);
        b = elem(s, body);
        if (!b)
            return;
    }
}

static void mi_start_inner(baton_stepper *s, int64_t body, int32_t index) {
    baton_elem *b = elem(s, body);
    item it = {0};
    it.op = OP_ACTIVATE;
    it.node = b->element;
    it.scope = body;
    it.flow = BATON_NONE;
    it.start = BATON_NONE;
    it.flags = BATON_EF_MI_INNER;
    it.index = index;
    push(s, &s->main, it);
}

/* Body activation: evaluate the collection or cardinality, start instances. */
static void mi_activate_body(baton_stepper *s, int64_t body, const baton_node *n) {
    const baton_loop_def *lp = n->loop;
    if (!lp->multi_instance) {
        /* standard loop: do-while unless testBefore */
        bool run = true;
        if (lp->test_before && lp->loop_condition.expr) {
            baton_error e;
            baton_error_clear(&e);
            if (eval_bool(s, &lp->loop_condition, body, &run, &e)) {
                expr_incident(s, body, PHASE_ACTIVATE, &lp->loop_condition, &e);
                return;
            }
        }
        baton_record *r = rec(s, BATON_REC_MI_STARTED);
        if (r) {
            r->key = body;
            r->element = elem(s, body)->element;
            r->aux = -1;
            apply(s, r);
        }
        if (run)
            mi_start_inner(s, body, 0);
        else
            enqueue_complete(s, body);
        return;
    }
    cJSON *coll = NULL;
    int64_t total = 0;
    baton_error e;
    baton_error_clear(&e);
    if (lp->collection.expr) {
        if (eval_json(s, &lp->collection, body, NULL, &coll, &e)) {
            expr_incident(s, body, PHASE_ACTIVATE, &lp->collection, &e);
            return;
        }
        own(s, coll);
        if (!cJSON_IsArray(coll)) {
            incident(s, body, PHASE_ACTIVATE, 0, "expression",
                     "multi-instance input collection '%s' is not a list", lp->collection.text);
            return;
        }
        total = cJSON_GetArraySize(coll);
    } else if (lp->cardinality.expr) {
        cJSON *v = NULL;
        if (eval_json(s, &lp->cardinality, body, NULL, &v, &e)) {
            expr_incident(s, body, PHASE_ACTIVATE, &lp->cardinality, &e);
            return;
        }
        own(s, v);
        double d = cJSON_IsNumber(v)   ? v->valuedouble
                   : cJSON_IsString(v) ? strtod(v->valuestring, NULL)
                                       : -1;
        if (d < 0 || d > 1000000 || d != (double)(int64_t)d) {
            incident(s, body, PHASE_ACTIVATE, 0, "expression",
                     "multi-instance cardinality '%s' is not a non-negative integer",
                     lp->cardinality.text);
            return;
        }
        total = (int64_t)d;
    }
    baton_record *r = rec(s, BATON_REC_MI_STARTED);
    if (!r)
        return;
    r->key = body;
    r->element = elem(s, body)->element;
    r->aux = total;
    r->value = coll ? own(s, cJSON_Duplicate(coll, 1)) : NULL;
    apply(s, r);
    if (lp->output_collection) {
        cJSON *out = cJSON_CreateArray();
        for (int64_t i = 0; out && i < total; i++)
            cJSON_AddItemToArray(out, cJSON_CreateNull());
        own(s, out);
        set_var(s, body, lp->output_collection, out);
    }
    int32_t start = lp->sequential ? (total > 0) : (int32_t)total;
    mi_counters(s, body, 0, start);
    if (total == 0) {
        enqueue_complete(s, body);
        return;
    }
    for (int32_t i = 0; i < start; i++)
        mi_start_inner(s, body, i);
}

/*
 * The variable an output element expression reads when it is only a
 * variable or a property path ("x", "= x", "= x.y"): its name in name_out.
 */
static bool output_var(const char *text, char *name_out, size_t cap) {
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p == '=')
        p++;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    const char *start = p;
    size_t first = 0;
    for (;;) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
            return false;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '_')
            p++;
        if (!first)
            first = (size_t)(p - start);
        if (*p != '.')
            break;
        p++;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p || first >= cap)
        return false;
    memcpy(name_out, start, first);
    name_out[first] = '\0';
    return true;
}

/* Local variables of an inner instance: element, counter, output element. */
static void mi_inner_vars(baton_stepper *s, int64_t key, int64_t body, int32_t index) {
    baton_elem *b = elem(s, body);
    const baton_loop_def *lp = node(s, b->element)->loop;
    /* the dialect decides the base, for multi-instance and standard loops alike */
    cJSON *v = own(s, cJSON_CreateNumber(c7(s) ? index : index + 1));
    set_var(s, key, "loopCounter", v);
    if (!lp->multi_instance)
        return;
    b = elem(s, body);
    if (lp->element_var && b->mi_input) {
        cJSON *x = cJSON_GetArrayItem(b->mi_input, index);
        set_var(s, key, lp->element_var, x ? x : own(s, cJSON_CreateNull()));
    }
    /*
     * An output element that names a variable (BPMN outputDataItem, or a
     * Camunda 8 outputElement "= result" / "= result.x") is a local variable
     * of the instance, created as null, so that what a worker returns under
     * that name stays with this instance (Zeebe does the same).
     */
    char name[128];
    if (lp->output_element.text && output_var(lp->output_element.text, name, sizeof name) &&
        strcmp(name, "loopCounter") != 0 &&
        (!lp->element_var || strcmp(name, lp->element_var) != 0))
        set_var(s, key, name, own(s, cJSON_CreateNull()));
}

/* An inner instance completed (or was terminated): collect, decide, go on. */
static void mi_next(baton_stepper *s, int64_t body, bool completed, bool stop) {
    baton_elem *b = elem(s, body);
    if (!b || b->state != BATON_ELEM_ACTIVATED)
        return;
    const baton_node *n = node(s, b->element);
    const baton_loop_def *lp = n->loop;
    if (b->flags & BATON_EF_LOOP) {
        /* standard loop: loop again while the condition holds and under the maximum */
        bool again = completed;
        baton_error e;
        baton_error_clear(&e);
        if (again && lp->loop_condition.expr &&
            eval_bool(s, &lp->loop_condition, body, &again, &e)) {
            expr_incident(s, body, PHASE_COMPLETE, &lp->loop_condition, &e);
            return;
        }
        if (again && lp->loop_maximum.expr) {
            char *mx = NULL;
            if (eval_string(s, &lp->loop_maximum, body, &mx, NULL) == BATON_OK) {
                long max = strtol(mx, NULL, 10);
                if (b->mi_index >= max)
                    again = false;
            }
            baton_free(mx);
        }
        if (again)
            mi_start_inner(s, body, b->mi_index);
        else
            enqueue_complete(s, body);
        return;
    }
    mi_counters(s, body, 0, -1);
    b = elem(s, body);
    bool done = b->mi_completed + b->mi_terminated >= b->mi_total;
    if (completed && stop && !done) {
        /* the completion condition held: terminate the remaining inner instances, in key order */
        for (;;) {
            int64_t victim = 0;
            for (uint32_t i = 0; i < baton_instance_elem_count(s->inst); i++) {
                const baton_elem *c = baton_instance_elem_at(s->inst, i);
                if (c->parent == body && (!victim || c->key < victim))
                    victim = c->key;
            }
            if (!victim || s->fatal)
                break;
            terminate(s, victim);
        }
        enqueue_complete(s, body);
        return;
    }
    b = elem(s, body);
    if (lp->sequential && b->mi_index < b->mi_total && !done) {
        mi_start_inner(s, body, b->mi_index);
        return;
    }
    if (b->mi_completed + b->mi_terminated >= b->mi_total && b->children == 0)
        enqueue_complete(s, body);
}

/* Collect an inner instance's output element into the body's collection. */
static bool mi_collect(baton_stepper *s, int64_t key, int64_t body, int32_t index) {
    baton_elem *b = elem(s, body);
    const baton_loop_def *lp = node(s, b->element)->loop;
    if (!lp->multi_instance || !lp->output_collection || !lp->output_element.expr)
        return true;
    cJSON *v = NULL;
    baton_error e;
    baton_error_clear(&e);
    if (eval_json(s, &lp->output_element, key, NULL, &v, &e)) {
        expr_incident(s, key, PHASE_COMPLETE, &lp->output_element, &e);
        return false;
    }
    own(s, v);
    b = elem(s, body);
    const cJSON *cur =
        b->vars ? cJSON_GetObjectItemCaseSensitive(b->vars, lp->output_collection) : NULL;
    cJSON *arr = cJSON_IsArray(cur) ? cJSON_Duplicate(cur, 1) : cJSON_CreateArray();
    if (!arr) {
        OOM(s);
        return false;
    }
    own(s, arr);
    while (cJSON_GetArraySize(arr) <= index)
        cJSON_AddItemToArray(arr, cJSON_CreateNull());
    cJSON_ReplaceItemInArray(arr, index, cJSON_Duplicate(v, 1));
    set_var(s, body, lp->output_collection, arr);
    return true;
}

/*
 * The completion condition, evaluated while inner instance `key` completes,
 * in its scope (its loopCounter, input and output elements are visible) and
 * with counters that already count it as completed (as Zeebe and Camunda 7
 * do). False after raising an incident on the inner instance.
 */
static bool mi_completion(baton_stepper *s, int64_t key, int64_t body, bool *stop_out) {
    *stop_out = false;
    baton_elem *b = elem(s, body);
    const baton_loop_def *lp = node(s, b->element)->loop;
    if (!lp->multi_instance || !lp->completion.expr)
        return true;
    mi_counters(s, body, 1, -1);
    baton_error e;
    baton_error_clear(&e);
    if (eval_bool(s, &lp->completion, key, stop_out, &e)) {
        expr_incident(s, key, PHASE_COMPLETE, &lp->completion, &e);
        return false;
    }
    return true;
}

/* ---- throwing messages and signals ---------------------------------------------- */

static void send_message(baton_stepper *s, int64_t key, baton_idx msg) {
    char *name = NULL, *corr = NULL;
    if (msg != BATON_NONE && !message_name(s, key, msg, &name, &corr))
        return;
    /* the payload is every variable visible from the sender */
    cJSON *payload = own(s, cJSON_CreateObject());
    for (baton_elem *e = elem(s, key); payload && e; e = e->parent ? elem(s, e->parent) : NULL) {
        const cJSON *v;
        cJSON_ArrayForEach(v, e->vars) {
            if (!cJSON_GetObjectItemCaseSensitive(payload, v->string))
                cJSON_AddItemToObject(payload, v->string, cJSON_Duplicate(v, 1));
        }
    }
    baton_record *r = rec(s, BATON_REC_MESSAGE_SENT);
    if (r) {
        r->key = key;
        r->element = elem(s, key)->element;
        r->name = sdup(s, name ? name : "");
        r->text = sdup(s, corr);
        r->value = payload;
        apply(s, r);
    }
    baton_free(name);
    baton_free(corr);
}

static void trigger_wait(baton_stepper *s, int64_t wait_key, const cJSON *payload);

/*
 * Throw a signal. The thrower's own instance catches it at once, within
 * this step (as Camunda 7 and SpiffWorkflow do: an event subprocess of the
 * same instance starts before the thrower moves on); other instances get
 * it through the runtime (the record is a command).
 */
static void throw_signal(baton_stepper *s, int64_t key, baton_idx sig) {
    const baton_named_def *d = sig != BATON_NONE ? &s->g->signals[sig] : NULL;
    const char *name = d ? (d->name ? d->name : d->id) : "";
    baton_record *r = rec(s, BATON_REC_SIGNAL_THROWN);
    if (!r)
        return;
    r->key = key;
    r->element = elem(s, key)->element;
    r->name = sdup(s, name);
    apply(s, r);
    /* the waits open now, by key; re-armed ones (new keys) do not fire again */
    int64_t last = 0;
    for (;;) {
        int64_t next = 0;
        uint32_t n = baton_instance_wait_count(s->inst);
        for (uint32_t i = 0; i < n; i++) {
            const baton_wait *w = baton_instance_wait_at(s->inst, i);
            if (w->kind == BATON_WAIT_SIGNAL && w->key > last && w->key < s->signal_limit &&
                w->name && strcmp(w->name, name) == 0 && (!next || w->key < next))
                next = w->key;
        }
        if (!next || s->fatal)
            return;
        last = next;
        trigger_wait(s, next, NULL);
    }
}

/* ---- compensation ---------------------------------------------------------------- */

/*
 * The scope whose completed activities a compensation thrown at element
 * instance `t` undoes: the thrower's scope; from inside an event subprocess
 * also the scope that holds the event subprocess (`*outer_out`), as Camunda
 * 7 and 8 do for the common "error event subprocess compensates" pattern.
 */
static int64_t comp_scope(baton_stepper *s, const baton_elem *t, int64_t *outer_out) {
    *outer_out = 0;
    baton_elem *p = elem(s, t->parent);
    if (p && p->element != BATON_NONE && node(s, p->element)->kind == BATON_NODE_EVENT_SUB_PROCESS)
        *outer_out = p->parent;
    return t->parent;
}

/* The next compensation entry a throw at `thrower` should run, newest first. */
static const baton_comp *comp_next_entry(baton_stepper *s, int64_t thrower) {
    baton_elem *t = elem(s, thrower);
    if (!t)
        return NULL;
    const baton_event_def *d = ev(node(s, t->element));
    baton_idx only = d && d->kind == BATON_EVENT_COMPENSATION ? d->activity : BATON_NONE;
    int64_t outer, scope = comp_scope(s, t, &outer);
    for (uint32_t i = s->inst->n_comps; i-- > 0;) {
        const baton_comp *c = &s->inst->comps[i];
        if (only != BATON_NONE ? c->activity == only
                               : c->scope == scope || (outer && c->scope == outer))
            return c;
    }
    return NULL;
}

static void start_handler(baton_stepper *s, const baton_comp *c, int64_t scope, int64_t thrower) {
    baton_record *r = rec(s, BATON_REC_COMPENSATION_STARTED);
    if (!r)
        return;
    baton_idx handler = c->handler;
    r->key = c->key;
    r->element = c->activity;
    r->scope = scope;
    apply(s, r);
    enqueue_activate(s, handler, scope, BATON_NONE, BATON_EF_COMPENSATING, thrower, NULL);
}

/*
 * Camunda 7 runs the handlers one after the other, newest first; Camunda 8
 * (and plain BPMN here) starts them all at once and the thrower waits for
 * all of them.
 */
static bool comp_one_at_a_time(const baton_stepper *s) {
    return dialect(s) == BATON_DIALECT_C7;
}

/* Is a handler started by `thrower` still running? */
static bool comp_running(baton_stepper *s, int64_t thrower) {
    for (uint32_t i = 0; i < baton_instance_elem_count(s->inst); i++) {
        const baton_elem *e = baton_instance_elem_at(s->inst, i);
        if ((e->flags & BATON_EF_COMPENSATING) && e->trigger == thrower &&
            e->state != BATON_ELEM_TERMINATING)
            return true;
    }
    return false;
}

/* A handler of `thrower` ended (or none ran yet): start the next one, or let the thrower go on. */
static void comp_next(baton_stepper *s, int64_t thrower) {
    baton_elem *t = elem(s, thrower);
    if (!t || t->state != BATON_ELEM_ACTIVATED)
        return;
    if (!comp_one_at_a_time(s)) {
        if (!comp_running(s, thrower))
            enqueue_complete(s, thrower);
        return;
    }
    const baton_comp *c = comp_next_entry(s, thrower);
    if (c)
        start_handler(s, c, t->parent, thrower);
    else
        enqueue_complete(s, thrower);
}

/*
 * A compensation throw (or end) event, or a cancel end event, at element
 * instance `thrower`: start the handlers of what completed in its scope.
 * With `wait` the thrower completes once they are done; without, at once.
 */
static void compensate(baton_stepper *s, int64_t thrower, bool wait) {
    baton_elem *t = elem(s, thrower);
    if (!wait || !comp_one_at_a_time(s)) {
        /* every handler starts now, newest first */
        const baton_comp *c;
        int64_t scope = t->parent;
        bool started = false;
        while ((c = comp_next_entry(s, thrower)) && !s->fatal) {
            start_handler(s, c, scope, wait ? thrower : 0);
            started = true;
        }
        if (!wait || !started)
            enqueue_complete(s, thrower);
        return;
    }
    comp_next(s, thrower);
}

/* Tokens waiting at joins of a scope die (terminate end event, interruption). */
static void discard_join_tokens(baton_stepper *s, int64_t scope) {
    baton_elem *sc = elem(s, scope);
    if (!sc || !sc->join_tokens)
        return;
    baton_record *r = rec(s, BATON_REC_TOKENS_DISCARDED);
    if (!r)
        return;
    r->scope = scope;
    r->aux = sc->join_tokens;
    apply(s, r);
}

/* ---- activation ------------------------------------------------------------------- */

/* Activate the entry nodes of a scope instance (plain start). */
static void enter_scope(baton_stepper *s, int64_t key, const baton_scope *sc) {
    if (!sc || sc->n_entry == 0) {
        enqueue_check_scope(s, key);
        return;
    }
    for (uint32_t i = 0; i < sc->n_entry; i++)
        enqueue_activate(s, sc->entry[i], key, BATON_NONE, 0, 0, NULL);
}

/*
 * Element behaviour, one function per node kind (the table behaviours[]
 * below): what an element does once it is ACTIVATED. Each either completes
 * the element (enqueue_complete), opens what it waits for, or raises an
 * incident. Elements activated by the event they wait for (boundary events,
 * event-gateway targets, triggered start events) complete at once; that rule
 * is applied before the table in activate_continue().
 */
typedef void (*behave_fn)(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start);

static void behave_pass(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start) {
    (void)n;
    (void)start;
    enqueue_complete(s, key);
}

/* A job for a worker, its type from the model (or the element id). */
static void open_job_for(baton_stepper *s, int64_t key, const baton_node *n) {
    char *type = NULL;
    int32_t retries;
    if (job_type(s, key, n, &type, &retries))
        open_job(s, key, elem(s, key)->element, type, retries);
    baton_free(type);
}

/* Test harnesses may turn plain, manual and script tasks into wait states. */
static bool hooked(baton_stepper *s, int64_t key, const baton_node *n) {
    if (!s->hook || !s->hook(s->hook_cookie, s->m, elem(s, key)->element))
        return false;
    open_job(s, key, elem(s, key)->element, n->id, 0);
    return true;
}

static void behave_catch_event(baton_stepper *s, int64_t key, const baton_node *n,
                               baton_idx start) {
    (void)start;
    int kind = ev_kind(n);
    if (kind == BATON_EVENT_LINK || kind == BATON_EVENT_NONE)
        enqueue_complete(s, key);
    else
        open_wait_for_event(s, key, elem(s, key)->element, false);
}

/* Intermediate throw and end events, by event definition. */
static void behave_throw_event(baton_stepper *s, int64_t key, const baton_node *n,
                               baton_idx start) {
    (void)start;
    const baton_event_def *d = ev(n);
    int kind = ev_kind(n);
    /* throw and end events */
    const baton_task_def *t = n->task;
    switch (kind) {
    case BATON_EVENT_MESSAGE:
        if (t && t->impl == BATON_IMPL_JOB) {
            char *type = NULL;
            int32_t retries;
            if (job_type(s, key, n, &type, &retries))
                open_job(s, key, elem(s, key)->element, type, retries);
            baton_free(type);
            return;
        }
        send_message(s, key, d->ref);
        break;
    case BATON_EVENT_SIGNAL: throw_signal(s, key, d->ref); break;
    case BATON_EVENT_ERROR:
        throw_error_event(s, key, n);
        return; /* the catcher decides what happens to this token */
    case BATON_EVENT_ESCALATION: {
        const baton_named_def *es = d->ref != BATON_NONE ? &s->g->escalations[d->ref] : NULL;
        bool interrupted = false;
        throw_escalation(s, key, es ? es->code : NULL, NULL, &interrupted);
        if (interrupted)
            return;
        break;
    }
    case BATON_EVENT_TERMINATE: {
        /* end every other token of this scope; then the scope completes */
        int64_t scope = elem(s, key)->parent;
        for (;;) {
            int64_t victim = 0;
            for (uint32_t i = 0; i < baton_instance_elem_count(s->inst); i++) {
                const baton_elem *c = baton_instance_elem_at(s->inst, i);
                if (c->parent == scope && c->key != key && (!victim || c->key < victim))
                    victim = c->key;
            }
            if (!victim || s->fatal)
                break;
            terminate(s, victim);
        }
        discard_join_tokens(s, scope);
        break;
    }
    case BATON_EVENT_COMPENSATION: compensate(s, key, d->wait_for_completion); return;
    case BATON_EVENT_CANCEL: {
        /*
         * Cancel the enclosing transaction (BPMN 2.0 10.3.5, Camunda 7):
         * first end every other token in it, then compensate what completed
         * inside (the end event waits for the handlers), then leave through
         * the cancel boundary event; see leave_transaction().
         */
        int64_t tx = elem(s, key)->parent;
        baton_elem *te = elem(s, tx);
        if (!te || te->element == BATON_NONE ||
            node(s, te->element)->kind != BATON_NODE_TRANSACTION) {
            incident(s, key, PHASE_ACTIVATE, 0, "cancel",
                     "a cancel end event must be directly inside a transaction");
            return;
        }
        for (;;) {
            int64_t victim = 0;
            for (uint32_t i = 0; i < baton_instance_elem_count(s->inst); i++) {
                const baton_elem *c = baton_instance_elem_at(s->inst, i);
                if (c->parent == tx && c->key != key && c->state != BATON_ELEM_TERMINATING &&
                    (!victim || c->key > victim))
                    victim = c->key;
            }
            if (!victim || s->fatal)
                break;
            terminate(s, victim);
        }
        discard_join_tokens(s, tx);
        compensate(s, key, true);
        return;
    }
    case BATON_EVENT_LINK:
    case BATON_EVENT_NONE:
    default: break;
    }
    enqueue_complete(s, key);
}

static void behave_task(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start) {
    if (!hooked(s, key, n))
        behave_pass(s, key, n, start);
}

static void behave_user_task(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start) {
    (void)start;
    open_user_task(s, key, n);
}

static void behave_job_task(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start) {
    (void)start;
    open_job_for(s, key, n);
}

static void behave_send_task(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start) {
    (void)start;
    const baton_task_def *t = n->task;
    if ((!t || t->impl != BATON_IMPL_JOB) && n->message != BATON_NONE) {
        send_message(s, key, n->message);
        enqueue_complete(s, key);
        return;
    }
    open_job_for(s, key, n);
}

static void behave_receive_task(baton_stepper *s, int64_t key, const baton_node *n,
                                baton_idx start) {
    (void)start;
    subscribe_message(s, key, elem(s, key)->element, n->message, true);
}

/* FEEL scripts run here; a script the engine cannot run is a job for a worker. */
static void behave_script_task(baton_stepper *s, int64_t key, const baton_node *n,
                               baton_idx start) {
    (void)start;
    const baton_task_def *t = n->task;
    if (hooked(s, key, n))
        return;
    if (t && t->impl == BATON_IMPL_SCRIPT && t->script.expr) {
        cJSON *v = NULL;
        baton_error e;
        baton_error_clear(&e);
        if (eval_json(s, &t->script, key, NULL, &v, &e)) {
            expr_incident(s, key, PHASE_ACTIVATE, &t->script, &e);
            return;
        }
        own(s, v);
        if (t->result_variable) {
            /* the result is the task's result: local when output mappings pass it on */
            if (n->io && n->io->n_outputs && dialect(s) != BATON_DIALECT_C7)
                set_var(s, key, t->result_variable, v);
            else
                set_propagated(s, key, t->result_variable, v);
        }
        enqueue_complete(s, key);
        return;
    }
    open_job_for(s, key, n);
}

static void behave_call_activity(baton_stepper *s, int64_t key, const baton_node *n,
                                 baton_idx start) {
    (void)start;
    baton_idx self = elem(s, key)->element;
    const baton_call_def *c = n->call;
    char *pid = NULL;
    baton_error e;
    baton_error_clear(&e);
    if (!c || !c->called_element.expr) {
        incident(s, key, PHASE_ACTIVATE, 0, "call", "call activity has no called element");
        return;
    }
    if (eval_string(s, &c->called_element, key, &pid, &e)) {
        expr_incident(s, key, PHASE_ACTIVATE, &c->called_element, &e);
        return;
    }
    cJSON *vars = own(s, cJSON_CreateObject());
    /*
     * What the child gets: every variable visible here, or (Camunda 8
     * propagateAllParentVariables="false") only the call activity's
     * own locals, which are its input mappings' targets.
     */
    bool only_locals = !c->propagate_all_parent && !c7(s);
    if (c->propagate_all_parent || only_locals) {
        for (baton_elem *x = elem(s, key); vars && x; x = x->parent ? elem(s, x->parent) : NULL) {
            const cJSON *v;
            cJSON_ArrayForEach(v, x->vars) {
                if (!cJSON_GetObjectItemCaseSensitive(vars, v->string))
                    cJSON_AddItemToObject(vars, v->string, cJSON_Duplicate(v, 1));
            }
            if (only_locals)
                break;
        }
    }
    for (uint32_t i = 0; vars && i < c->n_in; i++) {
        const baton_mapping *mp = &c->in[i];
        if (mp->all || !mp->target || !mp->source.expr)
            continue;
        cJSON *v = NULL;
        if (eval_json(s, &mp->source, key, NULL, &v, &e)) {
            expr_incident(s, key, PHASE_ACTIVATE, &mp->source, &e);
            baton_free(pid);
            return;
        }
        if (cJSON_GetObjectItemCaseSensitive(vars, mp->target))
            cJSON_ReplaceItemInObjectCaseSensitive(vars, mp->target, v);
        else
            cJSON_AddItemToObject(vars, mp->target, v);
    }
    char *bk = NULL;
    if (c->business_key.expr && eval_string(s, &c->business_key, key, &bk, &e)) {
        expr_incident(s, key, PHASE_ACTIVATE, &c->business_key, &e);
        baton_free(pid);
        return;
    }
    baton_record *r = rec(s, BATON_REC_CHILD_REQUESTED);
    if (r) {
        r->key = new_key(s);
        r->scope = key;
        r->element = self;
        r->name = sdup(s, pid);
        r->text = sdup(s, bk);
        r->value = vars;
        apply(s, r);
    }
    baton_free(pid);
    baton_free(bk);
    return;
}

static void behave_unsupported(baton_stepper *s, int64_t key, const baton_node *n,
                               baton_idx start) {
    (void)start;
    incident(s, key, PHASE_ACTIVATE, 0, "unsupported", "%s '%s' is not supported",
             baton_node_kind_xml((baton_node_kind)n->kind), n->id);
}

/* Subprocess and transaction: open the event subprocesses, enter the scope. */
static void behave_scope(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start) {
    (void)start;
    const baton_scope *sc = &s->g->scopes[n->inner_scope];
    open_event_subs(s, key, sc);
    enter_scope(s, key, sc);
}

/* An event subprocess starts at the start event that fired. */
static void behave_event_sub(baton_stepper *s, int64_t key, const baton_node *n, baton_idx start) {
    const baton_scope *sc = &s->g->scopes[n->inner_scope];
    open_event_subs(s, key, sc);
    if (start == BATON_NONE && sc->n_starts)
        start = sc->starts[0];
    if (start != BATON_NONE)
        enqueue_activate(s, start, key, BATON_NONE, BATON_EF_EVENT_TRIGGERED, 0, NULL);
    else
        enqueue_check_scope(s, key);
}

/* Event-based gateway: wait for the first of its targets' events. */
static void behave_event_gateway(baton_stepper *s, int64_t key, const baton_node *n,
                                 baton_idx start) {
    (void)start;
    for (uint32_t i = 0; i < n->n_outgoing && !s->fatal; i++)
        open_wait_for_event(s, key, s->g->flows[n->outgoing[i]].target, false);
}

/* Other gateways decide when they complete (choose_flows). */
static const behave_fn behaviours[BATON_NODE_KIND_COUNT] = {
    [BATON_NODE_START_EVENT] = behave_pass,
    [BATON_NODE_END_EVENT] = behave_throw_event,
    [BATON_NODE_CATCH_EVENT] = behave_catch_event,
    [BATON_NODE_THROW_EVENT] = behave_throw_event,
    [BATON_NODE_BOUNDARY_EVENT] = behave_pass,
    [BATON_NODE_TASK] = behave_task,
    [BATON_NODE_USER_TASK] = behave_user_task,
    [BATON_NODE_SERVICE_TASK] = behave_job_task,
    [BATON_NODE_SEND_TASK] = behave_send_task,
    [BATON_NODE_RECEIVE_TASK] = behave_receive_task,
    [BATON_NODE_SCRIPT_TASK] = behave_script_task,
    [BATON_NODE_BUSINESS_RULE_TASK] = behave_job_task,
    [BATON_NODE_MANUAL_TASK] = behave_task,
    [BATON_NODE_CALL_ACTIVITY] = behave_call_activity,
    [BATON_NODE_SUB_PROCESS] = behave_scope,
    [BATON_NODE_EVENT_SUB_PROCESS] = behave_event_sub,
    [BATON_NODE_TRANSACTION] = behave_scope,
    [BATON_NODE_AD_HOC_SUB_PROCESS] = behave_unsupported,
    [BATON_NODE_EXCLUSIVE_GATEWAY] = behave_pass,
    [BATON_NODE_PARALLEL_GATEWAY] = behave_pass,
    [BATON_NODE_INCLUSIVE_GATEWAY] = behave_pass,
    [BATON_NODE_EVENT_BASED_GATEWAY] = behave_event_gateway,
    [BATON_NODE_COMPLEX_GATEWAY] = behave_pass,
};

/* ACTIVATING -> (input mappings) -> ACTIVATED -> behaviour. */
static void activate_continue(baton_stepper *s, int64_t key, const cJSON *payload,
                              baton_idx start) {
    baton_elem *e = elem(s, key);
    const baton_node *n = node(s, e->element);
    uint8_t flags = e->flags;
    if (flags & BATON_EF_MI_BODY) {
        elem_record(s, BATON_REC_ELEMENT_ACTIVATED, key);
        open_boundaries(s, key, n);
        mi_activate_body(s, key, n);
        return;
    }
    if (e->state == BATON_ELEM_ACTIVATING) {
        if (!input_mappings(s, key, n))
            return;
        if (flags & BATON_EF_MI_INNER)
            mi_inner_vars(s, key, elem(s, key)->parent, elem(s, key)->mi_index);
        if (n->inner_scope != BATON_NONE) {
            baton_record *r = rec(s, BATON_REC_SCOPE_CREATED);
            if (r) {
                r->key = key;
                r->element = e->element;
                apply(s, r);
            }
        }
        elem_record(s, BATON_REC_ELEMENT_ACTIVATED, key);
        if (payload)
            set_result(s, key, n, payload);
        if ((kind_flags(n) & BATON_KF_ACTIVITY) && !(flags & BATON_EF_MI_INNER))
            open_boundaries(s, key, n);
    }
    if (s->fatal)
        return;
    /* activated by the event it waits for: it has happened */
    if ((flags & BATON_EF_EVENT_TRIGGERED) &&
        ((kind_flags(n) & BATON_KF_EVENT) || n->kind == BATON_NODE_RECEIVE_TASK)) {
        enqueue_complete(s, key);
        return;
    }
    behaviours[n->kind](s, key, n, start);
}

static void activate(baton_stepper *s, const item *it) {
    baton_elem *scope = elem(s, it->scope);
    if (!scope || scope->state != BATON_ELEM_ACTIVATED)
        return; /* the scope ended meanwhile: the token is gone with it */
    const baton_node *n = node(s, it->node);
    uint8_t flags = it->flags;
    if (n->loop && !(flags & BATON_EF_MI_INNER) && (kind_flags(n) & BATON_KF_ACTIVITY))
        flags |= BATON_EF_MI_BODY | (n->loop->multi_instance ? 0 : BATON_EF_LOOP);
    baton_record *r = rec(s, BATON_REC_ELEMENT_ACTIVATING);
    if (!r)
        return;
    int64_t key = new_key(s);
    r->key = key;
    r->element = it->node;
    r->scope = it->scope;
    r->flow = it->flow;
    r->flags = flags;
    r->count = it->index;
    r->aux = it->trigger;
    apply(s, r);
    if (!s->fatal)
        activate_continue(s, key, it->payload, it->start);
}

/* ---- completion and flows ------------------------------------------------------------ */

static baton_status flows_push(baton_stepper *s, baton_idx f) {
    if (s->n_flows == s->cap_flows) {
        uint32_t cap = s->cap_flows ? s->cap_flows * 2 : 16;
        baton_idx *a = baton_realloc(s->flows, cap * sizeof *a);
        if (!a) {
            OOM(s);
            return BATON_NOMEM;
        }
        s->flows = a;
        s->cap_flows = cap;
    }
    s->flows[s->n_flows++] = f;
    return BATON_OK;
}

/*
 * Choose the outgoing flows of a completing element into s->flows.
 * Exclusive: the first true condition in document order, else the default.
 * Inclusive, complex and activities: every flow without a condition or with
 * a true one, plus the default when no condition is true (Camunda 7: when
 * no flow at all is taken). Parallel: all. No flow at all, or a condition
 * that is not a boolean: an incident, and false is returned.
 */
static bool choose_flows(baton_stepper *s, int64_t key, const baton_node *n, baton_idx forced) {
    s->n_flows = 0;
    if (forced != BATON_NONE)
        return flows_push(s, forced) == BATON_OK;
    if (n->kind == BATON_NODE_PARALLEL_GATEWAY) {
        for (uint32_t i = 0; i < n->n_outgoing; i++)
            if (flows_push(s, n->outgoing[i]))
                return false;
        return true;
    }
    bool exclusive = n->kind == BATON_NODE_EXCLUSIVE_GATEWAY;
    bool cond_true = false;
    for (uint32_t i = 0; i < n->n_outgoing; i++) {
        baton_idx fi = n->outgoing[i];
        const baton_flow *f = &s->g->flows[fi];
        if (fi == n->default_flow)
            continue;
        bool take = true;
        if (f->condition.expr) {
            baton_error e;
            baton_error_clear(&e);
            if (eval_bool(s, &f->condition, key, &take, &e)) {
                incident(s, key, PHASE_COMPLETE, 0, "expression",
                         "condition of flow '%s' ('%s') failed: %s%s%s", f->id, f->condition.text,
                         e.where[0] ? e.where : "", e.where[0] ? ": " : "", e.message);
                return false;
            }
        }
        if (take) {
            if (flows_push(s, fi))
                return false;
            if (exclusive)
                return true;
            cond_true |= f->condition.expr != NULL;
        }
    }
    /* the default flow is for "no condition is true" (BPMN 10.3 sequence flow);
       Camunda 7 takes it only when no flow at all was taken */
    bool want_default = dialect(s) == BATON_DIALECT_C7 ? s->n_flows == 0 : !cond_true;
    if (want_default && n->default_flow != BATON_NONE)
        return flows_push(s, n->default_flow) == BATON_OK;
    if (s->n_flows == 0 && n->n_outgoing > 0) {
        incident(s, key, PHASE_COMPLETE, 0, "no_outgoing_flow",
                 "no outgoing flow of '%s' can be taken: no condition is true and there is no "
                 "default flow",
                 n->id);
        return false;
    }
    return true;
}

/*
 * Is every incoming flow of parallel join j (node jn) in `scope` holding a
 * token? The instance counts the filled ones as tokens arrive and leave, so
 * an arrival is O(1) however many branches the join has.
 */
static bool parallel_ready(baton_stepper *s, int64_t scope, baton_idx j, const baton_node *jn) {
    return baton_inst_join_filled(s->inst, scope, j) >= jn->n_incoming;
}

/* Take the join's tokens (BATON_JOIN_* flags) and, unless resetting, activate it. */
static void fire_join(baton_stepper *s, baton_idx j, int64_t scope, uint8_t flags) {
    baton_record *r = rec(s, BATON_REC_GATEWAY_JOINED);
    if (!r)
        return;
    r->element = j;
    r->scope = scope;
    r->flags = flags;
    apply(s, r);
    if (flags != BATON_JOIN_COMPLEX_RESET)
        enqueue_activate(s, j, scope, BATON_NONE, 0, 0, NULL);
}

static void take_flow(baton_stepper *s, baton_idx fi, int64_t scope, const cJSON *payload,
                      uint8_t flags) {
    const baton_flow *f = &s->g->flows[fi];
    baton_record *r = rec(s, BATON_REC_FLOW_TAKEN);
    if (!r)
        return;
    r->flow = fi;
    r->element = f->target;
    r->scope = scope;
    apply(s, r);
    if (baton_inst_is_join(s->g, f->target)) {
        const baton_node *j = node(s, f->target);
        if (j->kind == BATON_NODE_PARALLEL_GATEWAY) {
            if (parallel_ready(s, scope, f->target, j))
                fire_join(s, f->target, scope, 0);
        } else {
            item it = {0};
            it.op = OP_INCLUSIVE;
            it.node = f->target;
            it.scope = scope;
            push(s, &s->deferred, it);
        }
        return;
    }
    enqueue_activate(s, f->target, scope, fi, flags, 0, payload);
}

/* After a token left scope `scope` (completed, ended): re-check its joins and itself. */
static void token_left(baton_stepper *s, int64_t scope) {
    baton_elem *sc = elem(s, scope);
    if (!sc)
        return;
    if (sc->other_join_tokens) {
        /* an inclusive join may have been waiting for this token (tokens at
           parallel joins alone need no walk: other tokens leaving cannot fire them) */
        for (uint32_t i = 0; i < s->inst->n_joins; i++) {
            const baton_join *j = &s->inst->joins[i];
            if (j->scope != scope)
                continue;
            baton_idx target = s->g->flows[j->flow].target;
            if (node(s, target)->kind != BATON_NODE_PARALLEL_GATEWAY) {
                item it = {0};
                it.op = OP_INCLUSIVE;
                it.node = target;
                it.scope = scope;
                push(s, &s->deferred, it);
            }
        }
    }
    enqueue_check_scope(s, scope);
}

static void register_compensation(baton_stepper *s, int64_t key, const baton_elem *e,
                                  const baton_node *n) {
    for (uint32_t i = 0; i < n->n_boundary; i++) {
        const baton_node *b = node(s, n->boundary[i]);
        if (ev_kind(b) != BATON_EVENT_COMPENSATION || b->compensation == BATON_NONE)
            continue;
        baton_record *r = rec(s, BATON_REC_COMPENSATION_REGISTERED);
        if (!r)
            return;
        r->key = new_key(s);
        r->scope = e->parent;
        r->element = e->element;
        r->aux2 = b->compensation;
        (void)key;
        apply(s, r);
    }
}

/*
 * A cancel end event completed (its compensation is done): terminate the
 * transaction and continue at its cancel boundary event, if any.
 */
static void leave_transaction(baton_stepper *s, int64_t tx) {
    baton_elem *te = elem(s, tx);
    if (!te)
        return;
    const baton_node *tn = node(s, te->element);
    baton_idx boundary = BATON_NONE;
    for (uint32_t i = 0; i < tn->n_boundary; i++)
        if (ev_kind(node(s, tn->boundary[i])) == BATON_EVENT_CANCEL)
            boundary = tn->boundary[i];
    int64_t parent = te->parent;
    terminate(s, tx);
    if (boundary != BATON_NONE)
        enqueue_activate(s, boundary, parent, BATON_NONE, BATON_EF_EVENT_TRIGGERED, 0, NULL);
    else
        token_left(s, parent);
}

/* ACTIVATED -> COMPLETING -> outputs -> COMPLETED -> outgoing flows. */
static void complete(baton_stepper *s, int64_t key, baton_idx forced) {
    baton_elem *e = elem(s, key);
    if (!e || (e->state != BATON_ELEM_ACTIVATED && e->state != BATON_ELEM_COMPLETING))
        return;
    if (e->incident)
        return;
    if (e->state == BATON_ELEM_ACTIVATED)
        elem_record(s, BATON_REC_ELEMENT_COMPLETING, key);
    e = elem(s, key);
    baton_elem snap = *e;
    const baton_node *n = snap.element != BATON_NONE ? node(s, snap.element) : NULL;
    bool body = snap.flags & BATON_EF_MI_BODY;

    if (n && !body && !output_mappings(s, key, n, NULL))
        return;
    bool mi_stop = false;
    if (n && (snap.flags & BATON_EF_MI_INNER) &&
        (!mi_collect(s, key, snap.parent, snap.mi_index) ||
         !mi_completion(s, key, snap.parent, &mi_stop)))
        return;
    bool inner_only = snap.flags & BATON_EF_MI_INNER;
    if (n && !inner_only && !(snap.flags & BATON_EF_COMPENSATING) &&
        n->kind != BATON_NODE_EVENT_SUB_PROCESS && !choose_flows(s, key, n, forced))
        return;
    if (n && body && n->loop->multi_instance && n->loop->output_collection) {
        e = elem(s, key);
        const cJSON *out =
            e->vars ? cJSON_GetObjectItemCaseSensitive(e->vars, n->loop->output_collection) : NULL;
        if (out)
            set_propagated(s, snap.parent, n->loop->output_collection, out);
    }
    close_waits_of(s, key, 0, false);
    if (n && n->inner_scope != BATON_NONE && !body) {
        baton_record *r = rec(s, BATON_REC_SCOPE_CLOSED);
        if (r) {
            r->key = key;
            r->element = snap.element;
            apply(s, r);
        }
    }
    if (n && !inner_only && !(snap.flags & BATON_EF_COMPENSATING))
        register_compensation(s, key, &snap, n);

    cJSON *root_vars = NULL;
    if (!n && s->inst->parent_id) {
        e = elem(s, key);
        root_vars = own(s, e->vars ? cJSON_Duplicate(e->vars, 1) : cJSON_CreateObject());
    }
    elem_record(s, BATON_REC_ELEMENT_COMPLETED, key);
    if (s->fatal)
        return;

    if (!n) {
        /* the process itself */
        baton_record *r = rec(s, BATON_REC_SCOPE_CLOSED);
        if (r) {
            r->key = key;
            apply(s, r);
        }
        if (s->inst->parent_id && (r = rec(s, BATON_REC_PARENT_NOTIFIED))) {
            r->aux = BATON_NOTIFY_DONE;
            r->value = root_vars;
            apply(s, r);
        }
        if ((r = rec(s, BATON_REC_INSTANCE_ENDED))) {
            r->aux = BATON_INSTANCE_COMPLETED;
            r->element = s->inst->process;
            apply(s, r);
        }
        return;
    }
    if (inner_only) {
        item it = {0};
        it.op = OP_MI_NEXT;
        it.key = snap.parent;
        it.index = snap.mi_index;
        it.flags = MI_COMPLETED | (mi_stop ? MI_STOP : 0);
        push(s, &s->main, it);
        return;
    }
    if (snap.flags & BATON_EF_COMPENSATING) {
        if (snap.trigger) {
            item it = {0};
            it.op = OP_COMP_NEXT;
            it.key = snap.trigger;
            push(s, &s->main, it);
        }
        token_left(s, snap.parent);
        return;
    }
    if (n->kind == BATON_NODE_END_EVENT && ev_kind(n) == BATON_EVENT_CANCEL) {
        leave_transaction(s, snap.parent);
        return;
    }
    /* link throw: continue at the catch event of the same name */
    if (n->kind == BATON_NODE_THROW_EVENT && ev_kind(n) == BATON_EVENT_LINK) {
        const char *name = ev(n)->link_name;
        const baton_scope *sc = &s->g->scopes[n->scope];
        for (uint32_t i = 0; i < sc->n_nodes; i++) {
            const baton_node *c = node(s, sc->nodes[i]);
            if (c->kind == BATON_NODE_CATCH_EVENT && ev_kind(c) == BATON_EVENT_LINK &&
                ((!name && !ev(c)->link_name) ||
                 (name && ev(c)->link_name && strcmp(name, ev(c)->link_name) == 0))) {
                enqueue_activate(s, sc->nodes[i], snap.parent, BATON_NONE, 0, 0, NULL);
                break;
            }
        }
        token_left(s, snap.parent);
        return;
    }
    for (uint32_t i = 0; i < s->n_flows && !s->fatal; i++)
        take_flow(s, s->flows[i], snap.parent, NULL, 0);
    token_left(s, snap.parent);
}

/* ACTIVE -> TERMINATING -> (children first) -> TERMINATED. Synchronous. */
static void terminate(baton_stepper *s, int64_t key) {
    baton_elem *e = elem(s, key);
    if (!e || e->state == BATON_ELEM_TERMINATING)
        return;
    elem_record(s, BATON_REC_ELEMENT_TERMINATING, key);
    /* children first; a leaf (no children) needs no walk over the instance */
    while ((e = elem(s, key)) && e->children) {
        int64_t child = 0;
        for (uint32_t i = 0; i < baton_instance_elem_count(s->inst); i++) {
            const baton_elem *c = baton_instance_elem_at(s->inst, i);
            if (c->parent == key && c->state != BATON_ELEM_TERMINATING &&
                (!child || c->key > child))
                child = c->key; /* newest first */
        }
        if (!child || s->fatal)
            break;
        terminate(s, child);
    }
    close_waits_of(s, key, 0, false);
    e = elem(s, key);
    if (e && e->incident) {
        baton_record *r = rec(s, BATON_REC_INCIDENT_RESOLVED);
        if (r) {
            r->key = e->incident;
            r->scope = key;
            r->element = e->element;
            r->name = "terminated";
            apply(s, r);
        }
    }
    elem_record(s, BATON_REC_ELEMENT_TERMINATED, key);
}

/* ---- errors and escalations ------------------------------------------------------------- */

/*
 * Does catch event node c (boundary or event-subprocess start) catch an
 * error/escalation with this code? 2 = by code, 1 = catch-all, 0 = no.
 */
static int catches(const baton_stepper *s, const baton_node *c, int kind, const char *code) {
    const baton_event_def *d = ev(c);
    if (!d || d->kind != kind)
        return 0;
    const baton_named_def *def = NULL;
    if (d->ref != BATON_NONE)
        def = kind == BATON_EVENT_ERROR ? &s->g->errors[d->ref] : &s->g->escalations[d->ref];
    if (!def || !def->code || !*def->code)
        return 1;
    return code && strcmp(def->code, code) == 0 ? 2 : 0;
}

/* Is element instance e a scope whose event subprocesses may catch? */
static bool is_scope_instance(const baton_stepper *s, const baton_elem *e) {
    if (e->element == BATON_NONE)
        return true;
    if (e->flags & BATON_EF_MI_BODY)
        return false;
    return node(s, e->element)->inner_scope != BATON_NONE;
}

typedef struct catcher {
    int64_t at;          /* element instance: the activity (boundary) or the scope (event sub) */
    baton_idx node;      /* boundary event, or event-subprocess start event */
    baton_idx event_sub; /* the event subprocess node, or BATON_NONE for a boundary */
} catcher;

/* Walk from `from` outwards to the nearest catcher of (kind, code). */
static bool find_catcher(baton_stepper *s, int64_t from, int kind, const char *code, catcher *out) {
    int64_t cur = from, prev = 0;
    while (cur) {
        baton_elem *e = elem(s, cur);
        if (!e)
            break;
        /* event subprocesses of this scope, unless we come out of one of them */
        bool from_event_sub = prev && elem(s, prev) && elem(s, prev)->element != BATON_NONE &&
                              node(s, elem(s, prev)->element)->kind == BATON_NODE_EVENT_SUB_PROCESS;
        if (is_scope_instance(s, e) && !from_event_sub) {
            const baton_scope *sc = inner_scope_of(s, e);
            int best = 0;
            for (uint32_t i = 0; sc && i < sc->n_event_subs; i++) {
                const baton_node *es = node(s, sc->event_subs[i]);
                const baton_scope *in = &s->g->scopes[es->inner_scope];
                for (uint32_t k = 0; k < in->n_starts; k++) {
                    int m = catches(s, node(s, in->starts[k]), kind, code);
                    if (m > best) {
                        best = m;
                        *out = (catcher){cur, in->starts[k], sc->event_subs[i]};
                    }
                }
            }
            if (best)
                return true;
        }
        /* boundary events of this activity (on the body for multi-instance) */
        if (e->element != BATON_NONE && !(e->flags & BATON_EF_MI_INNER)) {
            const baton_node *n = node(s, e->element);
            int best = 0;
            for (uint32_t i = 0; i < n->n_boundary; i++) {
                int m = catches(s, node(s, n->boundary[i]), kind, code);
                if (m > best) {
                    best = m;
                    *out = (catcher){cur, n->boundary[i], BATON_NONE};
                }
            }
            if (best)
                return true;
        }
        prev = cur;
        cur = e->parent;
    }
    return false;
}

/* Terminate every child of scope `scope` (newest first) and its join tokens. */
static void clear_scope(baton_stepper *s, int64_t scope) {
    for (const baton_elem *sc; (sc = elem(s, scope)) && sc->children;) {
        int64_t victim = 0;
        for (uint32_t i = 0; i < baton_instance_elem_count(s->inst); i++) {
            const baton_elem *c = baton_instance_elem_at(s->inst, i);
            if (c->parent == scope && c->state != BATON_ELEM_TERMINATING &&
                (!victim || c->key > victim))
                victim = c->key;
        }
        if (!victim || s->fatal)
            break;
        terminate(s, victim);
    }
    discard_join_tokens(s, scope);
}

/* Start event subprocess `es` (at start event `start`) in scope instance `scope`. */
static void start_event_sub(baton_stepper *s, int64_t scope, baton_idx es, baton_idx start,
                            bool interrupting, const cJSON *payload) {
    if (interrupting) {
        close_waits_of(s, scope, 0, true);
        clear_scope(s, scope);
    }
    item it = {0};
    it.op = OP_ACTIVATE;
    it.node = es;
    it.scope = scope;
    it.flow = BATON_NONE;
    it.start = start;
    it.flags = BATON_EF_EVENT_TRIGGERED;
    it.payload = payload ? own(s, cJSON_Duplicate(payload, 1)) : NULL;
    push(s, &s->main, it);
}

/* Error variables Camunda 7 can map into named variables on the catch event. */
static cJSON *error_payload(baton_stepper *s, const baton_node *catch_node, const char *code,
                            const char *message, const cJSON *vars) {
    cJSON *p = own(s, vars ? cJSON_Duplicate(vars, 1) : cJSON_CreateObject());
    const baton_event_def *d = ev(catch_node);
    if (p && d && d->code_var && code)
        cJSON_AddStringToObject(p, d->code_var, code);
    if (p && d && d->message_var && message)
        cJSON_AddStringToObject(p, d->message_var, message);
    return p;
}

static void throw_error(baton_stepper *s, int64_t from, const char *code, const char *message,
                        const cJSON *vars, int64_t origin_id, int64_t origin_key) {
    baton_elem *f = elem(s, from);
    if (!f)
        return;
    baton_record *r = rec(s, BATON_REC_ERROR_THROWN);
    if (!r)
        return;
    r->key = from;
    r->element = f->element;
    r->name = sdup(s, code);
    r->text = sdup(s, message);
    apply(s, r);
    catcher c;
    if (find_catcher(s, from, BATON_EVENT_ERROR, code, &c)) {
        cJSON *payload = error_payload(s, node(s, c.node), code, message, vars);
        if (c.event_sub != BATON_NONE) {
            start_event_sub(s, c.at, c.event_sub, c.node, true, payload);
        } else {
            baton_elem *a = elem(s, c.at);
            int64_t parent = a->parent;
            terminate(s, c.at);
            enqueue_activate(s, c.node, parent, BATON_NONE, BATON_EF_EVENT_TRIGGERED, 0, payload);
        }
        return;
    }
    /* uncaught in this instance */
    if (s->inst->parent_id) {
        r = rec(s, BATON_REC_PARENT_NOTIFIED);
        if (!r)
            return;
        r->aux = BATON_NOTIFY_ERROR;
        r->element = elem(s, from)->element;
        r->name = sdup(s, code);
        r->text = sdup(s, message);
        r->value = vars ? own(s, cJSON_Duplicate(vars, 1)) : NULL;
        if (origin_id) {
            /* passing on a called instance's error: the thrower waits there, not here */
            r->flags = 1;
            r->key = origin_key;
            r->aux2 = origin_id;
        } else {
            /* the thrower waits for the parent's verdict (BATON_WAIT_PARENT_ERROR) */
            r->key = new_key(s);
            r->scope = from;
            r->aux2 = s->inst->id;
        }
        apply(s, r);
        return;
    }
    if (origin_id) {
        /* a called instance's error reached the top: its thrower raises the incident */
        r = rec(s, BATON_REC_ERROR_UNHANDLED);
        if (!r)
            return;
        r->aux = origin_id;
        r->aux2 = origin_key;
        r->name = sdup(s, code);
        r->text = sdup(s, message);
        apply(s, r);
        return;
    }
    incident(s, from, PHASE_THROW, 0, "unhandled_error",
             "error%s%s%s was thrown but not caught%s%s", code ? " '" : "", code ? code : "",
             code ? "'" : "", message ? ": " : "", message ? message : "");
}

/*
 * An error end event throws its error: the code, and as message the error's
 * name (Camunda 7 reads the message from camunda:errorMessage instead, which
 * is not modelled, so a Camunda 7 error end event throws no message).
 */
static void throw_error_event(baton_stepper *s, int64_t key, const baton_node *n) {
    const baton_event_def *d = ev(n);
    const baton_named_def *er = d && d->ref != BATON_NONE ? &s->g->errors[d->ref] : NULL;
    const char *message = er && dialect(s) != BATON_DIALECT_C7 ? er->name : NULL;
    throw_error(s, key, er ? er->code : NULL, message, NULL, 0, 0);
}

static void throw_escalation(baton_stepper *s, int64_t from, const char *code, const cJSON *vars,
                             bool *interrupted_out) {
    *interrupted_out = false;
    baton_elem *f = elem(s, from);
    if (!f)
        return;
    baton_record *r = rec(s, BATON_REC_ESCALATION_THROWN);
    if (!r)
        return;
    r->key = from;
    r->element = f->element;
    r->name = sdup(s, code);
    apply(s, r);
    catcher c;
    if (find_catcher(s, from, BATON_EVENT_ESCALATION, code, &c)) {
        bool interrupting = (node(s, c.node)->flags & BATON_NF_INTERRUPTING) != 0;
        if (c.event_sub != BATON_NONE) {
            start_event_sub(s, c.at, c.event_sub, c.node, interrupting, vars);
            *interrupted_out = interrupting;
        } else {
            int64_t parent = elem(s, c.at)->parent;
            if (interrupting) {
                terminate(s, c.at);
                *interrupted_out = true;
            }
            enqueue_activate(s, c.node, parent, BATON_NONE, BATON_EF_EVENT_TRIGGERED, 0, vars);
        }
        return;
    }
    if (s->inst->parent_id && (r = rec(s, BATON_REC_PARENT_NOTIFIED))) {
        r->aux = BATON_NOTIFY_ESCALATION;
        r->element = elem(s, from)->element;
        r->name = sdup(s, code);
        r->value = vars ? own(s, cJSON_Duplicate(vars, 1)) : NULL;
        apply(s, r);
    }
    /* uncaught escalations are not failures (BPMN 10.5.5) */
}

/* ---- triggers ------------------------------------------------------------------------------ */

/* Re-arm a non-interrupting boundary/event-subprocess wait after it fired. */
static void rearm(baton_stepper *s, const baton_wait *w) {
    int64_t owner = w->owner;
    baton_idx n = w->element;
    if (w->kind == BATON_WAIT_TIMER) {
        if (w->name && *w->name) {
            /* cron: the next occurrence after the one that fired (or now, if late) */
            baton_cron cr;
            if (baton_cron_parse(w->name, &cr, NULL) != BATON_OK)
                return;
            int64_t due = baton_cron_next(&cr, w->due > s->now ? w->due : s->now);
            if (due != INT64_MAX)
                schedule_timer(s, owner, n, false, due, 0, 0, -1, w->name);
            return;
        }
        if (w->repeat == 0 || (w->period == 0 && w->period_months == 0))
            return;
        /* the next occurrence after now: occurrences missed while the engine was down
           (or the clock jumped) fire once, not once each; they use up repetitions */
        baton_duration d = {w->period_months, w->period};
        int64_t due = baton_iso_add(w->due, d, NULL);
        int32_t repeat = w->repeat < 0 ? -1 : w->repeat - 1;
        for (int guard = 0; due <= s->now && repeat != 0 && guard < 100000; guard++) {
            due = baton_iso_add(due, d, NULL);
            if (repeat > 0)
                repeat--;
        }
        schedule_timer(s, owner, n, false, due, w->period, w->period_months, repeat, NULL);
        return;
    }
    open_wait_for_event(s, owner, n, true);
}

/*
 * A wait fired: a timer, a message, a signal or a condition. What happens
 * depends on where the wait belongs (see open_wait_for_event).
 */
static void trigger_wait(baton_stepper *s, int64_t wait_key, const cJSON *payload) {
    baton_wait *wp = baton_inst_wait(s->inst, wait_key);
    if (!wp)
        return;
    baton_wait w = *wp; /* the record below removes it */
    baton_elem *owner = elem(s, w.owner);
    if (!owner)
        return;
    const baton_node *wn = node(s, w.element);
    bool owner_is_target = owner->element == w.element;
    /* keep the pieces rearm() needs before the wait goes */
    baton_wait keep = w;
    char cron[256];
    snprintf(cron, sizeof cron, "%s", w.kind == BATON_WAIT_TIMER && w.name ? w.name : "");
    keep.name = cron;
    keep.text = NULL;
    keep.value = NULL;
    close_wait(s, wait_key, true, payload);
    if (s->fatal)
        return;

    if (owner_is_target && !(owner->flags & BATON_EF_MI_BODY)) {
        /* intermediate catch event or receive task */
        if (payload)
            set_result(s, w.owner, wn, payload);
        enqueue_complete(s, w.owner);
        return;
    }
    if (owner->element != BATON_NONE &&
        node(s, owner->element)->kind == BATON_NODE_EVENT_BASED_GATEWAY) {
        /* first event wins: the gateway takes the flow to it, the rest are withdrawn */
        const baton_node *gw = node(s, owner->element);
        baton_idx flow = BATON_NONE;
        for (uint32_t i = 0; i < gw->n_outgoing; i++)
            if (s->g->flows[gw->outgoing[i]].target == w.element)
                flow = gw->outgoing[i];
        close_waits_of(s, w.owner, 0, false);
        int64_t gkey = w.owner, scope = owner->parent;
        elem_record(s, BATON_REC_ELEMENT_COMPLETING, gkey);
        elem_record(s, BATON_REC_ELEMENT_COMPLETED, gkey);
        if (flow != BATON_NONE)
            take_flow(s, flow, scope, payload, BATON_EF_EVENT_TRIGGERED);
        token_left(s, scope);
        return;
    }
    if (wn->kind == BATON_NODE_BOUNDARY_EVENT) {
        int64_t parent = owner->parent;
        if (w.interrupting) {
            terminate(s, w.owner);
        } else {
            rearm(s, &keep);
        }
        enqueue_activate(s, w.element, parent, BATON_NONE, BATON_EF_EVENT_TRIGGERED, wait_key,
                         payload);
        return;
    }
    if (wn->kind == BATON_NODE_START_EVENT) {
        /* an event subprocess of the owner scope */
        baton_idx es = s->g->scopes[wn->scope].node;
        if (!w.interrupting)
            rearm(s, &keep);
        start_event_sub(s, w.owner, es, w.element, w.interrupting, payload);
        return;
    }
}

/* Did a variable of element instance `scope` or of a scope it lies in change? */
static bool changed_above(baton_stepper *s, int64_t scope) {
    for (baton_elem *e = elem(s, scope); e; e = e->parent ? elem(s, e->parent) : NULL)
        for (uint32_t i = 0; i < s->n_changed; i++)
            if (s->changed[i].scope == e->key)
                return true;
    return false;
}

/* qsort order of wait keys */
static int cmp_key(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/*
 * Evaluate conditional waits; trigger those that hold. Returns how many
 * fired. A wait opened since the last evaluation is always evaluated (its
 * event was just entered). An older one only when a variable it can see
 * changed: Camunda 8 re-evaluates when a variable the condition reads
 * changed; Camunda 7 on any variable change in the wait's scope or above.
 * So a non-interrupting event fires once per such change, not once per
 * step, and waits re-armed in this round wait for the next change.
 */
static int check_conditions(baton_stepper *s) {
    int fired = 0;
    int64_t mark = s->cond_mark, limit = s->inst->next_key;
    s->cond_mark = limit;
    /* the condition waits open now, by key, so the order is deterministic;
       waits opened while they fire have keys from `limit` on and wait for
       the next round. The instance lists them: no walk over other waits. */
    uint32_t n = 0;
    if (s->inst->n_cond) {
        if (s->cap_cond_keys < s->inst->n_cond_keys) {
            int64_t *k = baton_realloc(s->cond_keys, s->inst->n_cond_keys * sizeof *k);
            if (!k) {
                OOM(s);
                return 0;
            }
            s->cond_keys = k;
            s->cap_cond_keys = s->inst->n_cond_keys;
        }
        for (uint32_t i = 0; i < s->inst->n_cond_keys; i++)
            if (s->inst->cond_keys[i] < limit)
                s->cond_keys[n++] = s->inst->cond_keys[i];
        qsort(s->cond_keys, n, sizeof *s->cond_keys, cmp_key);
    }
    for (uint32_t i = 0; i < n && !s->fatal; i++) {
        int64_t next = s->cond_keys[i];
        const baton_wait *w = baton_instance_wait(s->inst, next);
        if (!w || w->kind != BATON_WAIT_CONDITION || (i && next == s->cond_keys[i - 1]))
            continue; /* closed since (or listed twice) */
        const baton_event_def *d = ev(node(s, w->element));
        if (!d || !d->condition.expr)
            continue;
        int64_t scope = w->owner;
        bool fresh = w->key >= mark, touched = fresh, ok = false;
        lookup_ctx lc;
        baton_expr_env env;
        env_init(s, &lc, &env, scope, NULL);
        if (!fresh && dialect(s) == BATON_DIALECT_C7)
            touched = changed_above(s, scope);
        else if (!fresh)
            lc.touched = &touched;
        baton_error e;
        baton_error_clear(&e);
        if (baton_expr_eval_bool(d->condition.expr, &env, &ok, &e)) {
            /* a condition that cannot be evaluated yet (e.g. unset variable) stays armed */
            continue;
        }
        if (ok && touched) {
            trigger_wait(s, next, NULL);
            fired++;
        }
    }
    s->n_changed = 0;
    return fired;
}

/* ---- deferred checks -------------------------------------------------------------------- */

/* Complete scope instance `key` when no token is left in it. */
static void check_scope(baton_stepper *s, int64_t key) {
    baton_elem *e = elem(s, key);
    if (!e || e->state != BATON_ELEM_ACTIVATED || e->children || e->join_tokens || e->incident)
        return;
    if (e->flags & BATON_EF_MI_BODY)
        return;
    if (!is_scope_instance(s, e))
        return;
    complete(s, key, BATON_NONE);
}

static bool ensure_scratch(baton_stepper *s) {
    uint32_t n = s->g->n_nodes + 1;
    if (s->scratch_cap >= n)
        return true;
    uint8_t *seen = baton_realloc(s->seen, n);
    baton_idx *stack = baton_realloc(s->stack, n * sizeof *stack);
    if (seen)
        s->seen = seen;
    if (stack)
        s->stack = stack;
    if (!seen || !stack) {
        OOM(s);
        return false;
    }
    s->scratch_cap = n;
    return true;
}

/*
 * Which incoming flows of join j can a token at node x reach without
 * passing through j? Sets *empty / *filled for flows without / with tokens.
 */
static void reach(baton_stepper *s, baton_idx x, baton_idx j, int64_t scope, bool *empty,
                  bool *filled) {
    memset(s->seen, 0, s->g->n_nodes);
    uint32_t sp = 0;
    s->stack[sp++] = x;
    s->seen[x] = 1;
    while (sp) {
        const baton_node *n = node(s, s->stack[--sp]);
        for (int pass = 0; pass < 2; pass++) {
            /* a token at an activity may also leave by its boundary events */
            uint32_t count = pass == 0 ? n->n_outgoing : n->n_boundary;
            for (uint32_t i = 0; i < count; i++) {
                if (pass == 0) {
                    baton_idx fi = n->outgoing[i];
                    baton_idx t = s->g->flows[fi].target;
                    if (t == j) {
                        if (baton_inst_join_count(s->inst, scope, fi))
                            *filled = true;
                        else
                            *empty = true;
                        continue;
                    }
                    if (!s->seen[t]) {
                        s->seen[t] = 1;
                        s->stack[sp++] = t;
                    }
                } else {
                    baton_idx b = n->boundary[i];
                    if (!s->seen[b]) {
                        s->seen[b] = 1;
                        s->stack[sp++] = b;
                    }
                }
            }
        }
    }
}

static void complex_check(baton_stepper *s, baton_idx j, int64_t scope);

/*
 * The inclusive join rule of BPMN 2.0 (13.4.3): j fires when some incoming
 * flow has a token and every token elsewhere in the scope that can reach an
 * incoming flow without a token can also reach one that has a token.
 */
static void inclusive_check(baton_stepper *s, baton_idx j, int64_t scope) {
    baton_elem *sc = elem(s, scope);
    if (!sc || sc->state != BATON_ELEM_ACTIVATED || !ensure_scratch(s))
        return;
    const baton_node *jn = node(s, j);
    if (jn->kind == BATON_NODE_COMPLEX_GATEWAY && jn->activation.expr) {
        complex_check(s, j, scope);
        return;
    }
    if (!baton_inst_join_filled(s->inst, scope, j))
        return;
    for (uint32_t i = 0; i < baton_instance_elem_count(s->inst); i++) {
        const baton_elem *c = baton_instance_elem_at(s->inst, i);
        if (c->parent != scope || c->element == BATON_NONE)
            continue;
        bool empty = false, filled = false;
        reach(s, c->element, j, scope, &empty, &filled);
        if (empty && !filled)
            return;
    }
    for (uint32_t i = 0; i < s->inst->n_joins; i++) {
        const baton_join *t = &s->inst->joins[i];
        baton_idx k = s->g->flows[t->flow].target;
        if (t->scope != scope || k == j)
            continue;
        bool empty = false, filled = false;
        reach(s, k, j, scope, &empty, &filled);
        if (empty && !filled)
            return;
    }
    fire_join(s, j, scope, 0);
}

/*
 * Which incoming flows of join j (bit i: j's i-th incoming flow) can a
 * token somewhere in `scope` still reach without passing through j?
 */
static uint64_t reachable_inputs(baton_stepper *s, baton_idx j, int64_t scope) {
    const baton_node *jn = node(s, j);
    uint64_t mask = 0;
    uint32_t n = baton_instance_elem_count(s->inst);
    for (uint32_t e = 0; e < n + s->inst->n_joins; e++) {
        baton_idx from;
        if (e < n) {
            const baton_elem *c = baton_instance_elem_at(s->inst, e);
            if (c->parent != scope || c->element == BATON_NONE)
                continue;
            from = c->element;
        } else {
            const baton_join *t = &s->inst->joins[e - n];
            from = s->g->flows[t->flow].target;
            if (t->scope != scope || from == j)
                continue;
        }
        memset(s->seen, 0, s->g->n_nodes);
        uint32_t sp = 0;
        s->stack[sp++] = from;
        s->seen[from] = 1;
        while (sp) {
            const baton_node *x = node(s, s->stack[--sp]);
            for (uint32_t i = 0; i < x->n_outgoing + x->n_boundary; i++) {
                baton_idx t;
                if (i < x->n_outgoing) {
                    baton_idx fi = x->outgoing[i];
                    t = s->g->flows[fi].target;
                    if (t == j) {
                        for (uint32_t k = 0; k < jn->n_incoming && k < 64; k++)
                            if (jn->incoming[k] == fi)
                                mask |= (uint64_t)1 << k;
                        continue;
                    }
                } else {
                    t = x->boundary[i - x->n_outgoing];
                }
                if (!s->seen[t]) {
                    s->seen[t] = 1;
                    s->stack[sp++] = t;
                }
            }
        }
    }
    return mask;
}

/*
 * The complex gateway's two phases (BPMN 2.0 13.4.5). Waiting for start:
 * when its activationCondition holds - it may read activationCount, the
 * number of tokens waiting on its incoming flows - it takes them and fires
 * (its outgoing flows are chosen like an inclusive gateway's). Waiting for
 * reset: once every other incoming flow holds a token or can no longer get
 * one (the inclusive join's reachability rule), it takes those tokens
 * without firing again and waits for start. A condition that is not true
 * (false, null, or failing) keeps it waiting.
 */
static void complex_check(baton_stepper *s, baton_idx j, int64_t scope) {
    const baton_node *jn = node(s, j);
    const baton_cplx *cx = baton_inst_cplx(s->inst, scope, j);
    if (cx) {
        uint64_t reach_mask = reachable_inputs(s, j, scope);
        for (uint32_t k = 0; k < jn->n_incoming && k < 64; k++) {
            if ((cx->consumed >> k) & 1u)
                continue;
            if (!baton_inst_join_count(s->inst, scope, jn->incoming[k]) && ((reach_mask >> k) & 1u))
                return; /* a token may still come this way */
        }
        fire_join(s, j, scope, BATON_JOIN_COMPLEX_RESET);
        /* tokens that came in meanwhile on the other flows may start it again */
        item it = {0};
        it.op = OP_INCLUSIVE;
        it.node = j;
        it.scope = scope;
        push(s, &s->deferred, it);
        return;
    }
    uint32_t tokens = 0;
    for (uint32_t k = 0; k < jn->n_incoming; k++)
        tokens += baton_inst_join_count(s->inst, scope, jn->incoming[k]);
    if (!tokens)
        return;
    cJSON *overlay = own(s, cJSON_CreateObject());
    if (!overlay || !cJSON_AddNumberToObject(overlay, "activationCount", tokens)) {
        OOM(s);
        return;
    }
    lookup_ctx lc;
    baton_expr_env env;
    env_init(s, &lc, &env, scope, overlay);
    bool ok = false;
    if (baton_expr_eval_bool(jn->activation.expr, &env, &ok, NULL) || !ok)
        return;
    fire_join(s, j, scope, BATON_JOIN_COMPLEX_START);
    item it = {0};
    it.op = OP_INCLUSIVE;
    it.node = j;
    it.scope = scope;
    push(s, &s->deferred, it);
}

/* ---- inputs --------------------------------------------------------------------------------- */

static baton_status want_wait(baton_stepper *s, int64_t key, unsigned kinds, baton_wait **out) {
    baton_wait *w = baton_inst_wait(s->inst, key);
    if (!w || !((1u << w->kind) & kinds))
        return baton_error_set(s->err, BATON_NOTFOUND,
                               "instance %lld has no open %s with key %lld (already done, "
                               "cancelled, or never existed)",
                               (long long)s->inst->id,
                               kinds == (1u << BATON_WAIT_USER_TASK) ? "user task"
                               : kinds & (1u << BATON_WAIT_JOB)      ? "job"
                               : kinds == (1u << BATON_WAIT_TIMER)   ? "timer"
                               : kinds == (1u << BATON_WAIT_MESSAGE) ? "message subscription"
                               : kinds == (1u << BATON_WAIT_SIGNAL)  ? "signal subscription"
                               : kinds == (1u << BATON_WAIT_CHILD)   ? "child call"
                                                                     : "wait",
                               (long long)key);
    *out = w;
    return BATON_OK;
}

#define WK(k) (1u << (k))

static baton_status start_instance(baton_stepper *s, const baton_input *in) {
    baton_instance *inst = s->inst;
    if (inst->state != 0)
        return baton_error_set(s->err, BATON_CONFLICT, "instance %lld was already started",
                               (long long)inst->id);
    const baton_process *p = &s->g->processes[inst->process];
    const baton_scope *root_scope = &s->g->scopes[p->root_scope];
    if (in->node == BATON_NONE) {
        if (root_scope->n_entry == 0)
            return baton_error_set(s->err, BATON_INVALID,
                                   "process '%s' has no none start event: start it by a message, "
                                   "signal or timer",
                                   p->id);
    } else if (in->node >= s->g->n_nodes || node(s, in->node)->kind != BATON_NODE_START_EVENT ||
               node(s, in->node)->scope != p->root_scope) {
        return baton_error_set(s->err, BATON_INVALID, "not a start event of process '%s'", p->id);
    }
    if (in->variables && !cJSON_IsObject(in->variables))
        return baton_error_set(s->err, BATON_INVALID, "variables must be a JSON object");
    baton_record *r = rec(s, BATON_REC_INSTANCE_CREATED);
    if (!r)
        return s->fatal;
    r->element = inst->process;
    r->text = sdup(s, in->text);
    r->aux = in->parent_id;
    r->aux2 = in->parent_key;
    apply(s, r);
    int64_t root = new_key(s);
    if ((r = rec(s, BATON_REC_ELEMENT_ACTIVATING))) {
        r->key = root;
        apply(s, r);
    }
    if (in->variables)
        set_all_local(s, root, in->variables);
    if ((r = rec(s, BATON_REC_SCOPE_CREATED))) {
        r->key = root;
        apply(s, r);
    }
    elem_record(s, BATON_REC_ELEMENT_ACTIVATED, root);
    open_event_subs(s, root, root_scope);
    if (in->node != BATON_NONE)
        enqueue_activate(s, in->node, root, BATON_NONE, BATON_EF_EVENT_TRIGGERED, 0, NULL);
    else
        enter_scope(s, root, root_scope);
    return s->fatal;
}

static void resolve(baton_stepper *s, const baton_incident *inc, const baton_input *in) {
    int64_t key = inc->elem;
    int phase = inc->phase;
    int64_t wait = inc->wait;
    baton_record *r = rec(s, BATON_REC_INCIDENT_RESOLVED);
    if (!r)
        return;
    r->key = inc->key;
    r->scope = inc->elem;
    r->element = inc->element;
    apply(s, r);
    baton_elem *e = elem(s, key);
    if (!e)
        return;
    const baton_node *n = e->element != BATON_NONE ? node(s, e->element) : NULL;
    switch (phase) {
    case PHASE_ACTIVATE:
    case PHASE_CHILD:
    case PHASE_WAIT:
        if (n && e->state == BATON_ELEM_ACTIVATED && (kind_flags(n) & BATON_KF_SCOPE) &&
            !(e->flags & BATON_EF_MI_BODY)) {
            enqueue_check_scope(s, key);
            return;
        }
        activate_continue(s, key, NULL, BATON_NONE);
        return;
    case PHASE_COMPLETE:
        if ((e->flags & BATON_EF_MI_BODY) && e->state == BATON_ELEM_ACTIVATED) {
            item it = {0};
            it.op = OP_MI_NEXT;
            it.key = key;
            it.flags = MI_COMPLETED;
            push(s, &s->main, it);
            return;
        }
        enqueue_complete(s, key);
        return;
    case PHASE_JOB:
        /* not a job_failed: a resolution is no attempt (metrics, Camunda 7's attempt count) */
        if (baton_inst_wait(s->inst, wait) && (r = rec(s, BATON_REC_JOB_RETRIES_UPDATED))) {
            r->key = wait;
            r->scope = key;
            r->element = e->element;
            r->aux = in->retries > 0 ? in->retries : 1;
            apply(s, r);
        }
        return;
    case PHASE_THROW:
        if (n && ev_kind(n) == BATON_EVENT_ERROR) {
            throw_error_event(s, key, n);
        } else {
            activate_continue(s, key, NULL, BATON_NONE); /* run the task again */
        }
        return;
    default: return;
    }
}

static baton_status dispatch(baton_stepper *s, const baton_input *in) {
    baton_instance *inst = s->inst;
    baton_wait *w = NULL;
    baton_status st;
    if (in->kind == BATON_IN_START)
        return start_instance(s, in);
    if (inst->state != BATON_INSTANCE_ACTIVE)
        return baton_error_set(s->err, BATON_CONFLICT, "instance %lld is not active",
                               (long long)inst->id);
    if (in->variables && !cJSON_IsObject(in->variables))
        return baton_error_set(s->err, BATON_INVALID, "variables must be a JSON object");
    switch ((baton_input_kind)in->kind) {
    case BATON_IN_COMPLETE: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_JOB) | WK(BATON_WAIT_USER_TASK), &w)))
            return st;
        int64_t owner = w->owner;
        const baton_node *n = node(s, w->element);
        close_wait(s, in->key, true, in->variables);
        if (in->variables)
            set_result(s, owner, n, in->variables);
        enqueue_complete(s, owner);
        break;
    }
    case BATON_IN_JOB_FAIL: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_JOB), &w)))
            return st;
        int64_t owner = w->owner;
        baton_record *r = rec(s, BATON_REC_JOB_FAILED);
        if (!r)
            break;
        r->key = in->key;
        r->scope = owner;
        r->element = w->element;
        r->aux = in->retries < 0 ? 0 : in->retries;
        r->aux2 = in->backoff_ms > 0 ? in->backoff_ms : 0;
        if (!r->aux2) {
            /* Camunda 7: the retry cycle's period is the wait between attempts */
            const baton_task_def *t = node(s, w->element)->task;
            baton_cycle c;
            if (t && t->retry_cycle &&
                baton_iso_parse_cycle(t->retry_cycle, NULL, &c, NULL) == BATON_OK)
                r->aux2 = baton_iso_add(0, c.period, NULL);
        }
        r->text = sdup(s, in->text);
        apply(s, r);
        if (in->retries <= 0)
            incident(s, owner, PHASE_JOB, in->key, "job_failed", "%s",
                     in->text && *in->text ? in->text : "the job failed and has no retries left");
        break;
    }
    case BATON_IN_THROW_ERROR: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_JOB) | WK(BATON_WAIT_USER_TASK), &w)))
            return st;
        int64_t owner = w->owner;
        close_wait(s, in->key, true, in->variables);
        throw_error(s, owner, in->code, in->text, in->variables, 0, 0);
        break;
    }
    case BATON_IN_ASSIGN: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_USER_TASK), &w)))
            return st;
        if (in->claim && w->text && (!in->text || strcmp(w->text, in->text) != 0))
            return baton_error_set(s->err, BATON_CONFLICT,
                                   "user task %lld is already claimed by '%s'", (long long)in->key,
                                   w->text);
        baton_record *r = rec(s, BATON_REC_USER_TASK_ASSIGNED);
        if (!r)
            break;
        r->key = in->key;
        r->scope = w->owner;
        r->element = w->element;
        r->text = sdup(s, in->text);
        apply(s, r);
        break;
    }
    case BATON_IN_TIMER:
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_TIMER), &w)))
            return st;
        trigger_wait(s, in->key, NULL);
        break;
    case BATON_IN_MESSAGE:
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_MESSAGE), &w)))
            return st;
        trigger_wait(s, in->key, in->variables);
        break;
    case BATON_IN_SIGNAL:
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_SIGNAL), &w)))
            return st;
        trigger_wait(s, in->key, in->variables);
        break;
    case BATON_IN_CHILD_DONE: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_CHILD), &w)))
            return st;
        int64_t owner = w->owner;
        const baton_node *n = node(s, w->element);
        const baton_call_def *c = n->call;
        close_wait(s, in->key, true, NULL);
        /*
         * The child's variables are the call activity's result: propagated,
         * or with output mappings kept local for the mappings to read
         * (Camunda 8 evaluates them over the child's variables also when
         * propagateAllChildVariables is false).
         */
        bool has_outputs = n->io && n->io->n_outputs;
        if (c && in->variables && (c->propagate_all_child || (has_outputs && !c7(s)))) {
            if (has_outputs && !c7(s))
                set_all_local(s, owner, in->variables);
            else
                set_all_propagated(s, owner, in->variables);
        }
        for (uint32_t i = 0; c && i < c->n_out && !s->fatal; i++) {
            const baton_mapping *mp = &c->out[i];
            if (mp->all || !mp->target || !mp->source.expr)
                continue;
            cJSON *v = NULL;
            baton_error e;
            baton_error_clear(&e);
            if (eval_json(s, &mp->source, owner, in->variables, &v, &e)) {
                expr_incident(s, owner, PHASE_COMPLETE, &mp->source, &e);
                return s->fatal;
            }
            own(s, v);
            set_target(s, owner, mp->target, v, true);
        }
        enqueue_complete(s, owner);
        break;
    }
    case BATON_IN_CHILD_ERROR:
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_CHILD), &w)))
            return st;
        throw_error(s, w->owner, in->code, in->text, in->variables, in->origin_id, in->origin_key);
        break;
    case BATON_IN_CHILD_ESCALATION: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_CHILD), &w)))
            return st;
        bool interrupted;
        throw_escalation(s, w->owner, in->code, in->variables, &interrupted);
        break;
    }
    case BATON_IN_CHILD_FAILED: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_CHILD), &w)))
            return st;
        int64_t owner = w->owner;
        close_wait(s, in->key, false, NULL);
        incident(s, owner, PHASE_CHILD, 0, "call_failed", "%s",
                 in->text ? in->text : "the called process could not be started");
        break;
    }
    case BATON_IN_ERROR_UNHANDLED: {
        if ((st = want_wait(s, in->key, WK(BATON_WAIT_PARENT_ERROR), &w)))
            return st;
        int64_t owner = w->owner;
        char code[128];
        snprintf(code, sizeof code, "%s", w->name ? w->name : "");
        close_wait(s, in->key, false, NULL);
        incident(s, owner, PHASE_THROW, 0, "unhandled_error",
                 "error '%s' was thrown but not caught, here or in any calling process", code);
        break;
    }
    case BATON_IN_SET_VARIABLES: {
        int64_t scope = in->key ? in->key : inst->root;
        if (!elem(s, scope))
            return baton_error_set(s->err, BATON_NOTFOUND, "instance %lld has no scope %lld",
                                   (long long)inst->id, (long long)in->key);
        if (in->variables) {
            if (in->local)
                set_all_local(s, scope, in->variables);
            else
                set_all_propagated(s, scope, in->variables);
        }
        break;
    }
    case BATON_IN_RESOLVE: {
        const baton_incident *inc = NULL;
        for (uint32_t i = 0; i < inst->n_incidents; i++)
            if (inst->incidents[i].key == in->key)
                inc = &inst->incidents[i];
        if (!inc)
            return baton_error_set(s->err, BATON_NOTFOUND,
                                   "instance %lld has no open incident %lld", (long long)inst->id,
                                   (long long)in->key);
        resolve(s, inc, in);
        break;
    }
    case BATON_IN_CANCEL: {
        terminate(s, inst->root);
        baton_record *r = rec(s, BATON_REC_INSTANCE_ENDED);
        if (r) {
            r->aux = BATON_INSTANCE_TERMINATED;
            r->element = inst->process;
            apply(s, r);
        }
        break;
    }
    default: return baton_error_set(s->err, BATON_INVALID, "unknown input kind %d", in->kind);
    }
    return s->fatal;
}

/* ---- the step -------------------------------------------------------------------------------- */

static void run(baton_stepper *s) {
    int condition_rounds = 0;
    item it;
    while (!s->fatal) {
        if (pop(&s->main, &it)) {
            switch (it.op) {
            case OP_ACTIVATE: activate(s, &it); break;
            case OP_COMPLETE: complete(s, it.key, it.flow); break;
            case OP_MI_NEXT:
                mi_next(s, it.key, (it.flags & MI_COMPLETED) != 0, (it.flags & MI_STOP) != 0);
                break;
            case OP_COMP_NEXT: comp_next(s, it.key); break;
            default: break;
            }
            continue;
        }
        if (pop(&s->deferred, &it)) {
            if (it.op == OP_CHECK_SCOPE)
                check_scope(s, it.key);
            else if (it.op == OP_INCLUSIVE)
                inclusive_check(s, it.node, it.scope);
            continue;
        }
        if (s->vars_changed && s->inst->state == BATON_INSTANCE_ACTIVE &&
            condition_rounds < MAX_CONDITION_ROUNDS) {
            s->vars_changed = false;
            condition_rounds++;
            if (check_conditions(s))
                continue;
            continue;
        }
        break;
    }
}

baton_status baton_step(baton_stepper *s, baton_instance *inst, const baton_input *in,
                        int64_t now_ms, baton_error *err) {
    s->n_recs = 0;
    baton_arena_reset(s->strings);
    release_owned(s);
    s->main.head = s->main.tail = 0;
    s->deferred.head = s->deferred.tail = 0;
    s->fatal = BATON_OK;
    s->vars_changed = false;
    s->n_changed = 0;
    s->cond_mark = inst->next_key;
    s->inst = inst;
    s->g = inst->g;
    s->m = inst->model;
    s->now = now_ms;
    s->err = err;
    baton_status st = dispatch(s, in);
    if (st == BATON_OK) {
        /* a condition might already hold for waits opened by this event */
        s->vars_changed = true;
        run(s);
        st = s->fatal;
    } else if (s->n_recs) {
        /* rejected after records were applied cannot happen: inputs are checked first */
        st = s->fatal ? s->fatal : st;
    }
    return st;
}
