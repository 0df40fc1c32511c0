/*
 * instance.c - instance state: apply records, read access, canonical JSON.
 *
 * baton_instance_apply() is the only mutation. It is deliberately free of
 * BPMN decisions: it records what the step function decided (an element
 * instance exists, a wait is open, a token sits at a join), so that a replay
 * of the records reproduces the state exactly. The few derived effects
 * (children counters, join tokens, multi-instance counters) follow from the
 * model alone.
 *
 * The derived indexes (interp_int.h) are kept here too, so that apply()
 * and the lookups the step function makes cost O(1) per record rather than
 * O(waiting tokens): a join lookup hashes (scope, flow), a parallel join's
 * readiness is one counter per (scope, gateway), an element's waits are a
 * list through baton_wait.next_owned. They are not serialized:
 * rebuild_indexes() derives them again in baton_instance_from_json, a
 * replay derives them as the original run did, and baton_instance_check()
 * compares them with a recomputation.
 */
#include "interpreter/instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "interpreter/interp_int.h"

static const struct {
    const char *name;
    unsigned flags;
} record_table[] = {
#define BATON_X(k, text, flags) {text, flags},
    BATON_RECORD_MAP(BATON_X)
#undef BATON_X
};

const char *baton_record_kind_name(baton_record_kind k) {
    return (unsigned)k < BATON_REC_KIND_COUNT ? record_table[k].name : "?";
}

unsigned baton_record_kind_flags(baton_record_kind k) {
    return (unsigned)k < BATON_REC_KIND_COUNT ? record_table[k].flags : 0;
}

baton_record_kind baton_record_kind_parse(const char *name) {
    for (unsigned i = 0; name && i < BATON_REC_KIND_COUNT; i++)
        if (strcmp(record_table[i].name, name) == 0)
            return (baton_record_kind)i;
    return BATON_REC_KIND_COUNT;
}

static const char *const wait_names[BATON_WAIT_KIND_COUNT] = {
    "?", "job", "user_task", "timer", "message", "signal", "condition", "child", "parent_error",
};

const char *baton_wait_kind_name(baton_wait_kind k) {
    return (unsigned)k < BATON_WAIT_KIND_COUNT ? wait_names[k] : "?";
}

/* ---- life cycle ---------------------------------------------------------- */

baton_instance *baton_instance_new(baton_model *m, baton_idx process, int64_t id) {
    baton_instance *inst = baton_calloc(1, sizeof *inst);
    if (!inst)
        return NULL;
    inst->model = baton_model_ref(m);
    inst->g = baton_model_graph(m);
    inst->process = process;
    inst->id = id;
    inst->next_key = 1;
    baton_intmap_init(&inst->elem_map);
    baton_intmap_init(&inst->wait_map);
    return inst;
}

static void elem_fini(baton_elem *e) {
    cJSON_Delete(e->vars);
    cJSON_Delete(e->mi_input);
    cJSON_Delete(e->mi_output);
}

static void wait_fini(baton_wait *w) {
    baton_free(w->name);
    baton_free(w->text);
    cJSON_Delete(w->value);
}

static void incident_fini(baton_incident *i) {
    baton_free(i->kind);
    baton_free(i->message);
}

void baton_instance_free(baton_instance *inst) {
    if (!inst)
        return;
    for (uint32_t i = 0; i < inst->n_elems; i++)
        elem_fini(&inst->elems[i]);
    for (uint32_t i = 0; i < inst->n_waits; i++)
        wait_fini(&inst->waits[i]);
    for (uint32_t i = 0; i < inst->n_incidents; i++)
        incident_fini(&inst->incidents[i]);
    baton_free(inst->elems);
    baton_free(inst->waits);
    baton_free(inst->joins);
    baton_free(inst->join_ix.slots);
    baton_free(inst->gates);
    baton_free(inst->gate_ix.slots);
    baton_free(inst->cond_keys);
    baton_free(inst->incidents);
    baton_free(inst->comps);
    baton_free(inst->cplx);
    baton_intmap_fini(&inst->elem_map);
    baton_intmap_fini(&inst->wait_map);
    baton_free(inst->business_key);
    cJSON_Delete(inst->final_vars);
    baton_model_unref(inst->model);
    baton_free(inst);
}

/* ---- lookups -------------------------------------------------------------- */

baton_elem *baton_inst_elem(baton_instance *inst, int64_t key) {
    uint32_t i;
    return baton_intmap_get(&inst->elem_map, key, &i) ? &inst->elems[i] : NULL;
}

baton_wait *baton_inst_wait(baton_instance *inst, int64_t key) {
    uint32_t i;
    return baton_intmap_get(&inst->wait_map, key, &i) ? &inst->waits[i] : NULL;
}

bool baton_inst_is_join(const baton_graph *g, baton_idx n) {
    if (n >= g->n_nodes)
        return false;
    const baton_node *nd = &g->nodes[n];
    return nd->n_incoming > 1 &&
           (nd->kind == BATON_NODE_PARALLEL_GATEWAY || nd->kind == BATON_NODE_INCLUSIVE_GATEWAY ||
            nd->kind == BATON_NODE_COMPLEX_GATEWAY);
}

const baton_cplx *baton_inst_cplx(const baton_instance *inst, int64_t scope, baton_idx gateway) {
    for (uint32_t i = 0; i < inst->n_cplx; i++)
        if (inst->cplx[i].scope == scope && inst->cplx[i].gateway == gateway)
            return &inst->cplx[i];
    return NULL;
}

/* Forget the complex gateway states of a scope instance. */
static void drop_cplx(baton_instance *inst, int64_t scope) {
    for (uint32_t i = 0; i < inst->n_cplx;) {
        if (inst->cplx[i].scope == scope)
            inst->cplx[i] = inst->cplx[--inst->n_cplx];
        else
            i++;
    }
}

/* ---- join index ------------------------------------------------------------ */

#define FREE_SLOT UINT32_MAX
/* Up to this many entries a lookup scans the array: no table to allocate
   for the common instance with a join or two. */
#define IX_LINEAR 8

static uint32_t pair_hash(int64_t scope, baton_idx id) {
    uint64_t h = (uint64_t)scope * 0x9E3779B97F4A7C15ull + id;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    return (uint32_t)(h >> 32);
}

/* The slot that holds (scope, id), or the free slot where it would go. */
static uint32_t ix_probe(const baton_joinix *ix, const baton_join *arr, int64_t scope,
                         baton_idx id) {
    uint32_t mask = ix->cap - 1, s = pair_hash(scope, id) & mask;
    while (ix->slots[s] != FREE_SLOT) {
        const baton_join *e = &arr[ix->slots[s]];
        if (e->scope == scope && e->flow == id)
            break;
        s = (s + 1) & mask;
    }
    return s;
}

/* Index in arr (of n entries) of (scope, id), or FREE_SLOT. */
static uint32_t ix_find(const baton_joinix *ix, const baton_join *arr, uint32_t n, int64_t scope,
                        baton_idx id) {
    if (ix->cap)
        return ix->slots[ix_probe(ix, arr, scope, id)];
    for (uint32_t i = 0; i < n; i++)
        if (arr[i].scope == scope && arr[i].flow == id)
            return i;
    return FREE_SLOT;
}

/*
 * Room for n entries: a table once n passes IX_LINEAR (it then stays, at
 * most half full), into which the first `have` of arr are indexed again
 * whenever it grows.
 */
static baton_status ix_reserve(baton_joinix *ix, const baton_join *arr, uint32_t have, uint32_t n) {
    if ((uint64_t)n * 2 <= ix->cap || (!ix->cap && n <= IX_LINEAR))
        return BATON_OK;
    uint32_t cap = ix->cap ? ix->cap : 8;
    while ((uint64_t)n * 2 > cap) {
        if (cap > UINT32_MAX / 4)
            return BATON_NOMEM;
        cap *= 2;
    }
    uint32_t *slots = baton_malloc((size_t)cap * sizeof *slots);
    if (!slots)
        return BATON_NOMEM;
    memset(slots, 0xff, (size_t)cap * sizeof *slots);
    baton_free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    for (uint32_t i = 0; i < have; i++)
        ix->slots[ix_probe(ix, arr, arr[i].scope, arr[i].flow)] = i;
    return BATON_OK;
}

/* Index arr[i], which is in the array and not yet indexed (room reserved). */
static void ix_add(baton_joinix *ix, const baton_join *arr, uint32_t i) {
    if (ix->cap)
        ix->slots[ix_probe(ix, arr, arr[i].scope, arr[i].flow)] = i;
}

/* Empty slot s; later members of its cluster move back (no tombstones). */
static void ix_unslot(baton_joinix *ix, const baton_join *arr, uint32_t s) {
    uint32_t mask = ix->cap - 1, hole = s, j = s;
    for (;;) {
        j = (j + 1) & mask;
        if (ix->slots[j] == FREE_SLOT)
            break;
        const baton_join *e = &arr[ix->slots[j]];
        uint32_t home = pair_hash(e->scope, e->flow) & mask;
        /* the entry at j may fill the hole only if its home is not in (hole, j] */
        bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (between)
            continue;
        ix->slots[hole] = ix->slots[j];
        hole = j;
    }
    ix->slots[hole] = FREE_SLOT;
}

/*
 * Remove arr[i] of *n: the last entry moves into the hole, exactly as the
 * array was kept before it had an index (step.c walks the joins in array
 * order, so the order is part of the semantics).
 */
static void ix_del(baton_joinix *ix, baton_join *arr, uint32_t *n, uint32_t i) {
    uint32_t last = *n - 1;
    if (ix->cap) {
        ix_unslot(ix, arr, ix_probe(ix, arr, arr[i].scope, arr[i].flow));
        if (i != last)
            ix->slots[ix_probe(ix, arr, arr[last].scope, arr[last].flow)] = i;
    }
    if (i != last)
        arr[i] = arr[last];
    (*n)--;
}

uint32_t baton_inst_join_count(const baton_instance *inst, int64_t scope, baton_idx flow) {
    uint32_t i = ix_find(&inst->join_ix, inst->joins, inst->n_joins, scope, flow);
    return i == FREE_SLOT ? 0 : inst->joins[i].count;
}

uint32_t baton_inst_join_filled(const baton_instance *inst, int64_t scope, baton_idx gateway) {
    uint32_t i = ix_find(&inst->gate_ix, inst->gates, inst->n_gates, scope, gateway);
    return i == FREE_SLOT ? 0 : inst->gates[i].count;
}

/* An incoming flow of `gateway` in `scope` got its first token (room reserved). */
static void gate_up(baton_instance *inst, int64_t scope, baton_idx gateway) {
    uint32_t i = ix_find(&inst->gate_ix, inst->gates, inst->n_gates, scope, gateway);
    if (i != FREE_SLOT) {
        inst->gates[i].count++;
        return;
    }
    inst->gates[inst->n_gates] = (baton_join){scope, gateway, 1};
    ix_add(&inst->gate_ix, inst->gates, inst->n_gates);
    inst->n_gates++;
}

/* An incoming flow of `gateway` in `scope` lost its last token. */
static void gate_down(baton_instance *inst, int64_t scope, baton_idx gateway) {
    uint32_t i = ix_find(&inst->gate_ix, inst->gates, inst->n_gates, scope, gateway);
    if (i != FREE_SLOT && --inst->gates[i].count == 0)
        ix_del(&inst->gate_ix, inst->gates, &inst->n_gates, i);
}

/* Remove join entry i (its flow holds no token any more). */
static void join_del(baton_instance *inst, uint32_t i) {
    baton_join j = inst->joins[i];
    ix_del(&inst->join_ix, inst->joins, &inst->n_joins, i);
    gate_down(inst, j.scope, inst->g->flows[j.flow].target);
}

/* Drop every join token of scope instance `scope`, in array order. */
static void drop_joins(baton_instance *inst, int64_t scope) {
    for (uint32_t j = 0; j < inst->n_joins;) {
        if (inst->joins[j].scope == scope)
            join_del(inst, j);
        else
            j++;
    }
}

/* Grow a dense array to hold one more element. Small first capacities: an
   instance waiting at one task needs two element instances and one wait. */
static baton_status grow(void **arr, uint32_t *cap, uint32_t n, size_t elem) {
    if (n < *cap && *arr) /* cap > 0 implies *arr; the analyzer cannot tell */
        return BATON_OK;
    uint32_t c = *cap ? *cap * 2 : (elem >= 64 ? 4 : 8);
    void *a = baton_realloc(*arr, (size_t)c * elem);
    if (!a)
        return BATON_NOMEM;
    *arr = a;
    *cap = c;
    return BATON_OK;
}

/* Room for one more gate, unless (scope, gateway) has one. */
static baton_status gate_reserve(baton_instance *inst, int64_t scope, baton_idx gateway) {
    if (ix_find(&inst->gate_ix, inst->gates, inst->n_gates, scope, gateway) != FREE_SLOT)
        return BATON_OK;
    if (grow((void **)&inst->gates, &inst->cap_gates, inst->n_gates, sizeof(baton_join)))
        return BATON_NOMEM;
    return ix_reserve(&inst->gate_ix, inst->gates, inst->n_gates, inst->n_gates + 1);
}

/* ---- waits by owner, conditional waits ------------------------------------------- */

/* Take wait w out of its owner's list (short: the owner's own events). */
static void unlink_owned(baton_instance *inst, baton_elem *owner, const baton_wait *w) {
    if (owner->first_wait == w->key) {
        owner->first_wait = w->next_owned;
        return;
    }
    baton_wait *p = baton_inst_wait(inst, owner->first_wait);
    for (uint32_t guard = inst->n_waits; p && guard; guard--) {
        if (p->next_owned == w->key) {
            p->next_owned = w->next_owned;
            return;
        }
        p = baton_inst_wait(inst, p->next_owned);
    }
}

/* Forget the keys of closed conditional waits once they are the majority. */
static void compact_cond_keys(baton_instance *inst) {
    if (inst->n_cond_keys <= 2 * inst->n_cond + 8)
        return;
    uint32_t n = 0;
    for (uint32_t i = 0; i < inst->n_cond_keys; i++) {
        const baton_wait *w = baton_inst_wait(inst, inst->cond_keys[i]);
        if (w && w->kind == BATON_WAIT_CONDITION)
            inst->cond_keys[n++] = inst->cond_keys[i];
    }
    inst->n_cond_keys = n;
}

static void remove_elem(baton_instance *inst, int64_t key) {
    uint32_t i;
    if (!baton_intmap_get(&inst->elem_map, key, &i))
        return;
    bool had_join_tokens = inst->elems[i].join_tokens > 0;
    elem_fini(&inst->elems[i]);
    baton_intmap_del(&inst->elem_map, key);
    uint32_t last = inst->n_elems - 1;
    if (i != last) {
        inst->elems[i] = inst->elems[last];
        baton_intmap_put(&inst->elem_map, inst->elems[i].key, i); /* overwrite: no allocation */
    }
    inst->n_elems--;
    /* tokens still waiting at joins of this scope die with it (its entries
       hold join_tokens tokens: with none, nothing to walk) */
    if (had_join_tokens)
        drop_joins(inst, key);
    drop_cplx(inst, key);
}

static void remove_wait(baton_instance *inst, int64_t key) {
    uint32_t i;
    if (!baton_intmap_get(&inst->wait_map, key, &i))
        return;
    baton_elem *owner = baton_inst_elem(inst, inst->waits[i].owner);
    if (owner) {
        if (owner->waits)
            owner->waits--;
        unlink_owned(inst, owner, &inst->waits[i]);
    }
    bool cond = inst->waits[i].kind == BATON_WAIT_CONDITION;
    wait_fini(&inst->waits[i]);
    baton_intmap_del(&inst->wait_map, key);
    uint32_t last = inst->n_waits - 1;
    if (i != last) {
        inst->waits[i] = inst->waits[last];
        baton_intmap_put(&inst->wait_map, inst->waits[i].key, i);
    }
    inst->n_waits--;
    if (cond) {
        if (inst->n_cond)
            inst->n_cond--;
        compact_cond_keys(inst);
    }
}

static void bump_key(baton_instance *inst, int64_t key) {
    if (key >= inst->next_key)
        inst->next_key = key + 1;
}

static baton_status dup_str(char **dst, const char *src) {
    baton_free(*dst);
    *dst = NULL;
    if (!src)
        return BATON_OK;
    *dst = baton_strdup(src);
    return *dst ? BATON_OK : BATON_NOMEM;
}

static baton_status dup_json(cJSON **dst, const cJSON *src) {
    cJSON_Delete(*dst);
    *dst = NULL;
    if (!src)
        return BATON_OK;
    *dst = cJSON_Duplicate(src, 1);
    return *dst ? BATON_OK : BATON_NOMEM;
}

static baton_status add_wait(baton_instance *inst, const baton_record *r, baton_wait_kind kind) {
    if (grow((void **)&inst->waits, &inst->cap_waits, inst->n_waits, sizeof(baton_wait)))
        return BATON_NOMEM;
    if (kind == BATON_WAIT_CONDITION &&
        grow((void **)&inst->cond_keys, &inst->cap_cond_keys, inst->n_cond_keys, sizeof(int64_t)))
        return BATON_NOMEM;
    baton_wait *w = &inst->waits[inst->n_waits];
    memset(w, 0, sizeof *w);
    w->key = r->key;
    w->owner = r->scope;
    w->element = r->element;
    w->kind = (uint8_t)kind;
    w->created = r->at;
    w->interrupting = r->flags & 1;
    if (dup_str(&w->name, r->name) || dup_str(&w->text, r->text)) {
        wait_fini(w);
        return BATON_NOMEM;
    }
    switch (kind) {
    case BATON_WAIT_JOB: w->retries = (int32_t)r->aux; break;
    case BATON_WAIT_TIMER:
        w->due = r->aux;
        w->period = r->aux2;
        w->repeat = r->count;
        break;
    case BATON_WAIT_USER_TASK:
    case BATON_WAIT_CHILD:
    case BATON_WAIT_PARENT_ERROR:
        if (dup_json(&w->value, r->value)) {
            wait_fini(w);
            return BATON_NOMEM;
        }
        break;
    default: break;
    }
    if (baton_intmap_put(&inst->wait_map, w->key, inst->n_waits)) {
        wait_fini(w);
        return BATON_NOMEM;
    }
    inst->n_waits++;
    baton_elem *owner = baton_inst_elem(inst, r->scope);
    if (owner) {
        owner->waits++;
        w->next_owned = owner->first_wait;
        owner->first_wait = w->key;
    }
    if (kind == BATON_WAIT_CONDITION) {
        inst->cond_keys[inst->n_cond_keys++] = w->key;
        inst->n_cond++;
    }
    bump_key(inst, r->key);
    return BATON_OK;
}

/* ---- apply ---------------------------------------------------------------- */

static baton_status bad(baton_error *err, const baton_record *r, const char *what) {
    return baton_error_set(err, BATON_CONFLICT, "record %llu (%s): %s", (unsigned long long)r->seq,
                           baton_record_kind_name((baton_record_kind)r->kind), what);
}

static baton_status apply_activating(baton_instance *inst, const baton_record *r,
                                     baton_error *err) {
    if (baton_inst_elem(inst, r->key))
        return bad(err, r, "element instance key already in use");
    if (grow((void **)&inst->elems, &inst->cap_elems, inst->n_elems, sizeof(baton_elem)))
        return BATON_NOMEM;
    baton_elem *e = &inst->elems[inst->n_elems];
    memset(e, 0, sizeof *e);
    e->key = r->key;
    e->parent = r->scope;
    e->element = r->element;
    e->state = BATON_ELEM_ACTIVATING;
    e->flags = r->flags;
    e->mi_index = (e->flags & BATON_EF_MI_INNER) ? r->count : 0;
    e->trigger = r->aux;
    if (baton_intmap_put(&inst->elem_map, e->key, inst->n_elems))
        return BATON_NOMEM;
    inst->n_elems++;
    bump_key(inst, r->key);
    if (r->element == BATON_NONE && r->scope == 0)
        inst->root = r->key;
    baton_elem *parent = baton_inst_elem(inst, r->scope);
    if (parent) {
        parent->children++;
        if (r->flags & BATON_EF_MI_INNER)
            parent->mi_index++;
    }
    return BATON_OK;
}

static baton_status apply_ended(baton_instance *inst, const baton_record *r, bool completed,
                                baton_error *err) {
    baton_elem *e = baton_inst_elem(inst, r->key);
    if (!e)
        return bad(err, r, "unknown element instance");
    int64_t parent_key = e->parent;
    if (r->key == inst->root && e->vars) {
        /* the process variables outlive the process element: they are the result */
        cJSON_Delete(inst->final_vars);
        inst->final_vars = e->vars;
        e->vars = NULL;
    }
    /* compensation entries of a scope: handed to its parent when it
       completes (they can still be compensated), dropped when it is
       terminated */
    for (uint32_t i = 0; i < inst->n_comps;) {
        if (inst->comps[i].scope != r->key) {
            i++;
        } else if (completed && parent_key) {
            inst->comps[i++].scope = parent_key;
        } else {
            memmove(&inst->comps[i], &inst->comps[i + 1],
                    (inst->n_comps - i - 1) * sizeof(baton_comp));
            inst->n_comps--;
        }
    }
    bool inner = e->flags & BATON_EF_MI_INNER;
    remove_elem(inst, r->key);
    baton_elem *parent = baton_inst_elem(inst, parent_key);
    if (parent) {
        if (parent->children)
            parent->children--;
        if (inner) {
            if (completed)
                parent->mi_completed++;
            else
                parent->mi_terminated++;
        }
    }
    return BATON_OK;
}

static baton_status apply_flow(baton_instance *inst, const baton_record *r, baton_error *err) {
    if (r->flow >= inst->g->n_flows)
        return bad(err, r, "unknown flow");
    baton_idx target = inst->g->flows[r->flow].target;
    if (!baton_inst_is_join(inst->g, target))
        return BATON_OK;
    baton_elem *scope = baton_inst_elem(inst, r->scope);
    if (!scope)
        return bad(err, r, "unknown scope");
    uint32_t i = ix_find(&inst->join_ix, inst->joins, inst->n_joins, r->scope, r->flow);
    if (i == FREE_SLOT) {
        /* the flow's first token: a new entry, and one more filled flow of the join */
        if (grow((void **)&inst->joins, &inst->cap_joins, inst->n_joins, sizeof(baton_join)) ||
            ix_reserve(&inst->join_ix, inst->joins, inst->n_joins, inst->n_joins + 1) ||
            gate_reserve(inst, r->scope, target))
            return BATON_NOMEM;
        i = inst->n_joins++;
        inst->joins[i] = (baton_join){r->scope, r->flow, 0};
        ix_add(&inst->join_ix, inst->joins, i);
        gate_up(inst, r->scope, target);
    }
    inst->joins[i].count++;
    scope->join_tokens++;
    if (inst->g->nodes[target].kind != BATON_NODE_PARALLEL_GATEWAY)
        scope->other_join_tokens++;
    return BATON_OK;
}

/*
 * A join fires: one token leaves each incoming flow that holds one (for a
 * complex gateway's reset: each flow that did not give one when it fired).
 */
static baton_status apply_joined(baton_instance *inst, const baton_record *r, baton_error *err) {
    if (r->element >= inst->g->n_nodes)
        return bad(err, r, "unknown gateway");
    const baton_node *n = &inst->g->nodes[r->element];
    baton_elem *scope = baton_inst_elem(inst, r->scope);
    if (!scope)
        return bad(err, r, "unknown scope");
    uint64_t skip = 0, taken = 0;
    const baton_cplx *cx = baton_inst_cplx(inst, r->scope, r->element);
    if (r->flags == BATON_JOIN_COMPLEX_START && (cx || n->n_incoming > 64))
        return bad(err, r, "complex gateway is already waiting for its reset");
    if (r->flags == BATON_JOIN_COMPLEX_RESET) {
        if (!cx)
            return bad(err, r, "complex gateway is not waiting for its reset");
        skip = cx->consumed;
    }
    bool other = n->kind != BATON_NODE_PARALLEL_GATEWAY;
    for (uint32_t k = 0; k < n->n_incoming; k++) {
        if (k < 64 && (skip >> k) & 1u)
            continue;
        uint32_t i = ix_find(&inst->join_ix, inst->joins, inst->n_joins, r->scope, n->incoming[k]);
        if (i == FREE_SLOT)
            continue;
        if (scope->join_tokens)
            scope->join_tokens--;
        if (other && scope->other_join_tokens)
            scope->other_join_tokens--;
        if (--inst->joins[i].count == 0)
            join_del(inst, i);
        if (k < 64)
            taken |= (uint64_t)1 << k;
    }
    if (r->flags == BATON_JOIN_COMPLEX_RESET) {
        for (uint32_t i = 0; i < inst->n_cplx; i++)
            if (inst->cplx[i].scope == r->scope && inst->cplx[i].gateway == r->element) {
                inst->cplx[i] = inst->cplx[--inst->n_cplx];
                break;
            }
    } else if (r->flags == BATON_JOIN_COMPLEX_START) {
        if (grow((void **)&inst->cplx, &inst->cap_cplx, inst->n_cplx, sizeof(baton_cplx)))
            return BATON_NOMEM;
        inst->cplx[inst->n_cplx++] = (baton_cplx){r->scope, r->element, taken};
    }
    return BATON_OK;
}

static baton_status apply_variable(baton_instance *inst, const baton_record *r, baton_error *err) {
    baton_elem *e = baton_inst_elem(inst, r->scope);
    if (!e || !r->name)
        return bad(err, r, "unknown variable scope");
    if (!e->vars && !(e->vars = cJSON_CreateObject()))
        return BATON_NOMEM;
    cJSON *v = r->value ? cJSON_Duplicate(r->value, 1) : cJSON_CreateNull();
    if (!v)
        return BATON_NOMEM;
    if (cJSON_GetObjectItemCaseSensitive(e->vars, r->name)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(e->vars, r->name, v)) {
            cJSON_Delete(v);
            return BATON_NOMEM;
        }
    } else if (!cJSON_AddItemToObject(e->vars, r->name, v)) {
        cJSON_Delete(v);
        return BATON_NOMEM;
    }
    return BATON_OK;
}

baton_status baton_instance_apply(baton_instance *inst, const baton_record *r, baton_error *err) {
    if (r->seq != inst->seq + 1)
        return bad(err, r, "sequence number out of order");
    baton_status st = BATON_OK;
    baton_elem *e;
    baton_wait *w;
    switch ((baton_record_kind)r->kind) {
    case BATON_REC_INSTANCE_CREATED:
        inst->state = BATON_INSTANCE_ACTIVE;
        inst->parent_id = r->aux;
        inst->parent_key = r->aux2;
        st = dup_str(&inst->business_key, r->text);
        break;
    case BATON_REC_ELEMENT_ACTIVATING: st = apply_activating(inst, r, err); break;
    case BATON_REC_ELEMENT_ACTIVATED:
    case BATON_REC_ELEMENT_COMPLETING:
    case BATON_REC_ELEMENT_TERMINATING:
        if (!(e = baton_inst_elem(inst, r->key)))
            return bad(err, r, "unknown element instance");
        e->state = r->kind == BATON_REC_ELEMENT_ACTIVATED    ? BATON_ELEM_ACTIVATED
                   : r->kind == BATON_REC_ELEMENT_COMPLETING ? BATON_ELEM_COMPLETING
                                                             : BATON_ELEM_TERMINATING;
        if (r->kind == BATON_REC_ELEMENT_ACTIVATED && r->flags)
            e->flags |= r->flags;
        break;
    case BATON_REC_ELEMENT_COMPLETED: st = apply_ended(inst, r, true, err); break;
    case BATON_REC_ELEMENT_TERMINATED: st = apply_ended(inst, r, false, err); break;
    case BATON_REC_FLOW_TAKEN: st = apply_flow(inst, r, err); break;
    case BATON_REC_GATEWAY_JOINED: st = apply_joined(inst, r, err); break;
    case BATON_REC_TOKENS_DISCARDED:
        if (!(e = baton_inst_elem(inst, r->scope)))
            return bad(err, r, "unknown scope");
        e->join_tokens = 0;
        e->other_join_tokens = 0;
        drop_joins(inst, r->scope);
        drop_cplx(inst, r->scope);
        break;
    case BATON_REC_SCOPE_CREATED:
    case BATON_REC_SCOPE_CLOSED:
    case BATON_REC_SIGNAL_THROWN:
    case BATON_REC_MESSAGE_SENT:
    case BATON_REC_ERROR_THROWN:
    case BATON_REC_ESCALATION_THROWN:
    case BATON_REC_ERROR_UNHANDLED: break;
    case BATON_REC_PARENT_NOTIFIED:
        /* an error thrown to the parent: the thrower waits for its verdict */
        if (r->aux == BATON_NOTIFY_ERROR && !(r->flags & 1))
            st = add_wait(inst, r, BATON_WAIT_PARENT_ERROR);
        break;
    case BATON_REC_VARIABLE_SET: st = apply_variable(inst, r, err); break;
    case BATON_REC_MI_STARTED:
        if (!(e = baton_inst_elem(inst, r->key)))
            return bad(err, r, "unknown multi-instance body");
        e->mi_total = (int32_t)r->aux;
        st = dup_json(&e->mi_input, r->value);
        break;
    case BATON_REC_JOB_CREATED: st = add_wait(inst, r, BATON_WAIT_JOB); break;
    case BATON_REC_JOB_FAILED:
    case BATON_REC_JOB_RETRIES_UPDATED:
        if (!(w = baton_inst_wait(inst, r->key)))
            return bad(err, r, "unknown job");
        w->retries = (int32_t)r->aux;
        break;
    case BATON_REC_USER_TASK_CREATED: st = add_wait(inst, r, BATON_WAIT_USER_TASK); break;
    case BATON_REC_USER_TASK_ASSIGNED:
        if (!(w = baton_inst_wait(inst, r->key)))
            return bad(err, r, "unknown user task");
        st = dup_str(&w->text, r->text);
        break;
    case BATON_REC_TIMER_SCHEDULED:
        st = add_wait(inst, r, BATON_WAIT_TIMER);
        if (!st && r->value) {
            /* calendar months of a cycle period ride in the value */
            w = baton_inst_wait(inst, r->key);
            w->period_months = (int32_t)cJSON_GetNumberValue(r->value);
        }
        break;
    case BATON_REC_MESSAGE_SUBSCRIBED: st = add_wait(inst, r, BATON_WAIT_MESSAGE); break;
    case BATON_REC_SIGNAL_SUBSCRIBED: st = add_wait(inst, r, BATON_WAIT_SIGNAL); break;
    case BATON_REC_CONDITION_WATCHED: st = add_wait(inst, r, BATON_WAIT_CONDITION); break;
    case BATON_REC_CHILD_REQUESTED: st = add_wait(inst, r, BATON_WAIT_CHILD); break;
    case BATON_REC_WAIT_TRIGGERED:
    case BATON_REC_WAIT_CLOSED:
        if (!baton_inst_wait(inst, r->key))
            return bad(err, r, "unknown wait");
        remove_wait(inst, r->key);
        break;
    case BATON_REC_COMPENSATION_REGISTERED:
        if (grow((void **)&inst->comps, &inst->cap_comps, inst->n_comps, sizeof(baton_comp)))
            return BATON_NOMEM;
        inst->comps[inst->n_comps++] =
            (baton_comp){r->key, r->scope, r->element, (baton_idx)r->aux2};
        bump_key(inst, r->key);
        break;
    case BATON_REC_COMPENSATION_STARTED:
        /* the handler was started: the entry is used up (order is kept) */
        for (uint32_t i = 0; i < inst->n_comps; i++)
            if (inst->comps[i].key == r->key) {
                memmove(&inst->comps[i], &inst->comps[i + 1],
                        (inst->n_comps - i - 1) * sizeof(baton_comp));
                inst->n_comps--;
                break;
            }
        break;
    case BATON_REC_INCIDENT_RAISED: {
        if (grow((void **)&inst->incidents, &inst->cap_incidents, inst->n_incidents,
                 sizeof(baton_incident)))
            return BATON_NOMEM;
        baton_incident *in = &inst->incidents[inst->n_incidents];
        memset(in, 0, sizeof *in);
        in->key = r->key;
        in->elem = r->scope;
        in->element = r->element;
        in->phase = (int32_t)r->aux;
        in->wait = r->aux2;
        in->at = r->at;
        if (dup_str(&in->kind, r->name) || dup_str(&in->message, r->text)) {
            incident_fini(in);
            return BATON_NOMEM;
        }
        inst->n_incidents++;
        bump_key(inst, r->key);
        if ((e = baton_inst_elem(inst, r->scope)))
            e->incident = r->key;
        break;
    }
    case BATON_REC_INCIDENT_RESOLVED:
        for (uint32_t i = 0; i < inst->n_incidents; i++) {
            if (inst->incidents[i].key != r->key)
                continue;
            if ((e = baton_inst_elem(inst, inst->incidents[i].elem)) && e->incident == r->key)
                e->incident = 0;
            incident_fini(&inst->incidents[i]);
            inst->incidents[i] = inst->incidents[--inst->n_incidents];
            break;
        }
        break;
    case BATON_REC_INSTANCE_ENDED: inst->state = (uint8_t)r->aux; break;
    default: return bad(err, r, "unknown record kind");
    }
    if (st == BATON_NOMEM)
        return baton_error_set(err, BATON_NOMEM, "out of memory applying a record");
    if (st)
        return st;
    inst->seq = r->seq;
    return BATON_OK;
}

/* ---- read access ---------------------------------------------------------- */

int64_t baton_instance_id(const baton_instance *inst) {
    return inst->id;
}
baton_idx baton_instance_process(const baton_instance *inst) {
    return inst->process;
}
const baton_model *baton_instance_model(const baton_instance *inst) {
    return inst->model;
}
baton_instance_state baton_instance_state_of(const baton_instance *inst) {
    return (baton_instance_state)inst->state;
}
uint64_t baton_instance_seq(const baton_instance *inst) {
    return inst->seq;
}
const char *baton_instance_business_key(const baton_instance *inst) {
    return inst->business_key;
}
int64_t baton_instance_parent_id(const baton_instance *inst) {
    return inst->parent_id;
}
int64_t baton_instance_parent_key(const baton_instance *inst) {
    return inst->parent_key;
}
uint32_t baton_instance_elem_count(const baton_instance *inst) {
    return inst->n_elems;
}
const baton_elem *baton_instance_elem_at(const baton_instance *inst, uint32_t i) {
    return i < inst->n_elems ? &inst->elems[i] : NULL;
}
const baton_elem *baton_instance_elem(const baton_instance *inst, int64_t key) {
    return baton_inst_elem((baton_instance *)inst, key);
}
uint32_t baton_instance_wait_count(const baton_instance *inst) {
    return inst->n_waits;
}
const baton_wait *baton_instance_wait_at(const baton_instance *inst, uint32_t i) {
    return i < inst->n_waits ? &inst->waits[i] : NULL;
}
const baton_wait *baton_instance_wait(const baton_instance *inst, int64_t key) {
    return baton_inst_wait((baton_instance *)inst, key);
}
uint32_t baton_instance_incident_count(const baton_instance *inst) {
    return inst->n_incidents;
}
const baton_incident *baton_instance_incident_at(const baton_instance *inst, uint32_t i) {
    return i < inst->n_incidents ? &inst->incidents[i] : NULL;
}

const cJSON *baton_instance_root_vars(const baton_instance *inst) {
    const baton_elem *root = baton_instance_elem(inst, inst->root);
    return root ? root->vars : inst->final_vars;
}

const cJSON *baton_instance_lookup(const baton_instance *inst, int64_t scope, const char *name) {
    const baton_elem *e = baton_instance_elem(inst, scope ? scope : inst->root);
    for (int depth = 0; e && depth < 100000; depth++) {
        if (e->vars) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e->vars, name);
            if (v)
                return v;
        }
        e = e->parent ? baton_instance_elem(inst, e->parent) : NULL;
    }
    return NULL;
}

static size_t json_bytes(const cJSON *v) {
    size_t n = 0;
    for (; v; v = v->next) {
        n += sizeof(cJSON);
        if (v->string)
            n += strlen(v->string) + 1;
        if (v->valuestring)
            n += strlen(v->valuestring) + 1;
        n += json_bytes(v->child);
    }
    return n;
}

size_t baton_instance_memory(const baton_instance *inst, bool with_variables) {
    size_t n = sizeof *inst;
    n += inst->cap_elems * sizeof(baton_elem) + inst->cap_waits * sizeof(baton_wait);
    n += inst->cap_joins * sizeof(baton_join) + inst->cap_incidents * sizeof(baton_incident);
    n += inst->cap_gates * sizeof(baton_join) + inst->cap_cond_keys * sizeof(int64_t);
    n += (inst->join_ix.cap + inst->gate_ix.cap) * sizeof(uint32_t);
    n += inst->cap_comps * sizeof(baton_comp) + inst->cap_cplx * sizeof(baton_cplx);
    n += (inst->elem_map.cap + inst->wait_map.cap) * (sizeof(int64_t) + sizeof(uint32_t));
    if (inst->business_key)
        n += strlen(inst->business_key) + 1;
    for (uint32_t i = 0; i < inst->n_waits; i++) {
        const baton_wait *w = &inst->waits[i];
        n += (w->name ? strlen(w->name) + 1 : 0) + (w->text ? strlen(w->text) + 1 : 0);
        n += json_bytes(w->value);
    }
    if (with_variables)
        for (uint32_t i = 0; i < inst->n_elems; i++)
            n += json_bytes(inst->elems[i].vars) + json_bytes(inst->elems[i].mi_input) +
                 json_bytes(inst->elems[i].mi_output);
    return n;
}

/* ---- JSON ----------------------------------------------------------------- */

static const char *node_id(const baton_graph *g, baton_idx n) {
    return n < g->n_nodes ? g->nodes[n].id : NULL;
}

static baton_idx node_of(const baton_model *m, const cJSON *j) {
    const char *s = cJSON_GetStringValue(j);
    return s ? baton_model_find_node(m, s) : BATON_NONE;
}

static bool add_num(cJSON *o, const char *k, double v) {
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

static int cmp_elem(const void *a, const void *b) {
    int64_t x = (*(const baton_elem *const *)a)->key, y = (*(const baton_elem *const *)b)->key;
    return (x > y) - (x < y);
}

static int cmp_wait(const void *a, const void *b) {
    int64_t x = (*(const baton_wait *const *)a)->key, y = (*(const baton_wait *const *)b)->key;
    return (x > y) - (x < y);
}

static int cmp_join(const void *a, const void *b) {
    const baton_join *x = a, *y = b;
    if (x->scope != y->scope)
        return (x->scope > y->scope) - (x->scope < y->scope);
    return (x->flow > y->flow) - (x->flow < y->flow);
}

/* Object with its members sorted by name, so equal states print equally. */
static cJSON *sorted_copy(const cJSON *v) {
    if (!v)
        return NULL;
    cJSON *c = cJSON_Duplicate(v, 1);
    if (!c || !cJSON_IsObject(c))
        return c;
    /* insertion sort of the member list by name */
    cJSON *sorted = NULL;
    cJSON *it = c->child;
    while (it) {
        cJSON *next = it->next;
        it->prev = it->next = NULL;
        if (!sorted || strcmp(it->string, sorted->string) < 0) {
            it->next = sorted;
            sorted = it;
        } else {
            cJSON *p = sorted;
            while (p->next && strcmp(p->next->string, it->string) <= 0)
                p = p->next;
            it->next = p->next;
            p->next = it;
        }
        it = next;
    }
    /* restore prev links (cJSON keeps child->prev = last) */
    cJSON *last = NULL;
    for (cJSON *p = sorted; p; p = p->next) {
        p->prev = last;
        last = p;
    }
    if (sorted)
        sorted->prev = last;
    c->child = sorted;
    return c;
}

cJSON *baton_instance_to_json(const baton_instance *inst) {
    const baton_graph *g = inst->g;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_num(o, "id", (double)inst->id) &&
              cJSON_AddStringToObject(o, "process", g->processes[inst->process].id) &&
              add_num(o, "state", inst->state) && add_num(o, "seq", (double)inst->seq) &&
              add_num(o, "next_key", (double)inst->next_key) &&
              add_num(o, "root", (double)inst->root) &&
              add_num(o, "parent_id", (double)inst->parent_id) &&
              add_num(o, "parent_key", (double)inst->parent_key);
    if (ok && inst->business_key)
        ok = cJSON_AddStringToObject(o, "business_key", inst->business_key) != NULL;
    if (ok && inst->final_vars)
        ok = cJSON_AddItemToObject(o, "final_vars", sorted_copy(inst->final_vars));

    const baton_elem **es = inst->n_elems ? baton_malloc(inst->n_elems * sizeof *es) : NULL;
    const baton_wait **ws = inst->n_waits ? baton_malloc(inst->n_waits * sizeof *ws) : NULL;
    baton_join *js = inst->n_joins ? baton_malloc(inst->n_joins * sizeof *js) : NULL;
    if ((inst->n_elems && !es) || (inst->n_waits && !ws) || (inst->n_joins && !js))
        ok = false;
    cJSON *arr = ok ? cJSON_AddArrayToObject(o, "elements") : NULL;
    if (arr) {
        for (uint32_t i = 0; i < inst->n_elems; i++)
            es[i] = &inst->elems[i];
        if (inst->n_elems)
            qsort(es, inst->n_elems, sizeof *es, cmp_elem);
        for (uint32_t i = 0; ok && i < inst->n_elems; i++) {
            const baton_elem *e = es[i];
            cJSON *x = cJSON_CreateObject();
            ok = x && cJSON_AddItemToArray(arr, x) && add_num(x, "key", (double)e->key) &&
                 add_num(x, "parent", (double)e->parent) && add_num(x, "state", e->state) &&
                 add_num(x, "flags", e->flags) && add_num(x, "children", e->children) &&
                 add_num(x, "join_tokens", e->join_tokens) && add_num(x, "waits", e->waits) &&
                 add_num(x, "mi_index", e->mi_index) && add_num(x, "mi_total", e->mi_total) &&
                 add_num(x, "mi_completed", e->mi_completed) &&
                 add_num(x, "mi_terminated", e->mi_terminated) &&
                 add_num(x, "incident", (double)e->incident) &&
                 add_num(x, "trigger", (double)e->trigger);
            if (ok)
                ok = (e->element == BATON_NONE
                          ? cJSON_AddNullToObject(x, "element")
                          : cJSON_AddStringToObject(x, "element", node_id(g, e->element))) != NULL;
            if (ok && e->vars)
                ok = cJSON_AddItemToObject(x, "vars", sorted_copy(e->vars));
            if (ok && e->mi_input)
                ok = cJSON_AddItemToObject(x, "mi_input", cJSON_Duplicate(e->mi_input, 1));
            if (ok && e->mi_output)
                ok = cJSON_AddItemToObject(x, "mi_output", cJSON_Duplicate(e->mi_output, 1));
        }
    }
    arr = ok ? cJSON_AddArrayToObject(o, "waits") : NULL;
    if (arr) {
        for (uint32_t i = 0; i < inst->n_waits; i++)
            ws[i] = &inst->waits[i];
        if (inst->n_waits)
            qsort(ws, inst->n_waits, sizeof *ws, cmp_wait);
        for (uint32_t i = 0; ok && i < inst->n_waits; i++) {
            const baton_wait *w = ws[i];
            cJSON *x = cJSON_CreateObject();
            ok = x && cJSON_AddItemToArray(arr, x) && add_num(x, "key", (double)w->key) &&
                 add_num(x, "owner", (double)w->owner) &&
                 cJSON_AddStringToObject(x, "kind",
                                         baton_wait_kind_name((baton_wait_kind)w->kind)) &&
                 cJSON_AddStringToObject(x, "element", node_id(g, w->element)) &&
                 cJSON_AddBoolToObject(x, "interrupting", w->interrupting) &&
                 add_num(x, "retries", w->retries) && add_num(x, "repeat", w->repeat) &&
                 add_num(x, "due", (double)w->due) && add_num(x, "period", (double)w->period) &&
                 add_num(x, "period_months", w->period_months) &&
                 add_num(x, "created", (double)w->created);
            if (ok && w->name)
                ok = cJSON_AddStringToObject(x, "name", w->name) != NULL;
            if (ok && w->text)
                ok = cJSON_AddStringToObject(x, "text", w->text) != NULL;
            if (ok && w->value)
                ok = cJSON_AddItemToObject(x, "value", sorted_copy(w->value));
        }
    }
    arr = ok ? cJSON_AddArrayToObject(o, "joins") : NULL;
    if (arr) {
        if (inst->n_joins) {
            memcpy(js, inst->joins, inst->n_joins * sizeof *js);
            qsort(js, inst->n_joins, sizeof *js, cmp_join);
        }
        for (uint32_t i = 0; ok && i < inst->n_joins; i++) {
            cJSON *x = cJSON_CreateObject();
            ok = x && cJSON_AddItemToArray(arr, x) && add_num(x, "scope", (double)js[i].scope) &&
                 cJSON_AddStringToObject(x, "flow", g->flows[js[i].flow].id) &&
                 add_num(x, "count", js[i].count);
        }
    }
    if (ok && inst->n_cplx) {
        /* complex gateways waiting for their reset, in (scope, gateway) order */
        arr = cJSON_AddArrayToObject(o, "complex");
        ok = arr != NULL;
        int64_t last_scope = INT64_MIN;
        baton_idx last_gw = 0;
        for (uint32_t done = 0; ok && done < inst->n_cplx; done++) {
            const baton_cplx *best = NULL;
            for (uint32_t i = 0; i < inst->n_cplx; i++) {
                const baton_cplx *c = &inst->cplx[i];
                bool after =
                    c->scope > last_scope || (c->scope == last_scope && c->gateway > last_gw);
                if (after && (!best || c->scope < best->scope ||
                              (c->scope == best->scope && c->gateway < best->gateway)))
                    best = c;
            }
            if (!best)
                break;
            last_scope = best->scope;
            last_gw = best->gateway;
            cJSON *x = cJSON_CreateObject();
            char mask[24];
            snprintf(mask, sizeof mask, "%llu", (unsigned long long)best->consumed);
            ok = x && cJSON_AddItemToArray(arr, x) && add_num(x, "scope", (double)best->scope) &&
                 cJSON_AddStringToObject(x, "gateway", g->nodes[best->gateway].id) &&
                 cJSON_AddStringToObject(x, "consumed", mask);
        }
    }
    arr = ok ? cJSON_AddArrayToObject(o, "incidents") : NULL;
    for (uint32_t i = 0; arr && ok && i < inst->n_incidents; i++) {
        const baton_incident *in = &inst->incidents[i];
        cJSON *x = cJSON_CreateObject();
        ok = x && cJSON_AddItemToArray(arr, x) && add_num(x, "key", (double)in->key) &&
             add_num(x, "elem", (double)in->elem) &&
             cJSON_AddStringToObject(x, "element",
                                     node_id(g, in->element) ? node_id(g, in->element) : "") &&
             add_num(x, "phase", in->phase) && add_num(x, "wait", (double)in->wait) &&
             add_num(x, "at", (double)in->at) &&
             cJSON_AddStringToObject(x, "kind", in->kind ? in->kind : "") &&
             cJSON_AddStringToObject(x, "message", in->message ? in->message : "");
    }
    arr = ok ? cJSON_AddArrayToObject(o, "compensations") : NULL;
    for (uint32_t i = 0; arr && ok && i < inst->n_comps; i++) {
        const baton_comp *c = &inst->comps[i];
        cJSON *x = cJSON_CreateObject();
        ok = x && cJSON_AddItemToArray(arr, x) && add_num(x, "key", (double)c->key) &&
             add_num(x, "scope", (double)c->scope) &&
             cJSON_AddStringToObject(x, "activity", node_id(g, c->activity)) &&
             cJSON_AddStringToObject(x, "handler", node_id(g, c->handler));
    }
    baton_free(es);
    baton_free(ws);
    baton_free(js);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/*
 * Derive the indexes of a state read from JSON: as if its joins and waits
 * had arrived in array order. A state naming one join entry twice is
 * malformed (apply never makes one).
 */
static baton_status rebuild_indexes(baton_instance *inst, baton_error *err) {
    if (inst->n_joins && ix_reserve(&inst->join_ix, inst->joins, 0, inst->n_joins))
        return BATON_NOMEM;
    for (uint32_t i = 0; i < inst->n_joins; i++) {
        const baton_join *j = &inst->joins[i];
        if (j->flow >= inst->g->n_flows || j->count == 0 ||
            ix_find(&inst->join_ix, inst->joins, i, j->scope, j->flow) != FREE_SLOT)
            return baton_error_set(err, BATON_INVALID, "state has a malformed join entry");
        ix_add(&inst->join_ix, inst->joins, i);
        baton_idx target = inst->g->flows[j->flow].target;
        if (gate_reserve(inst, j->scope, target))
            return BATON_NOMEM;
        gate_up(inst, j->scope, target);
        baton_elem *e = baton_inst_elem(inst, j->scope);
        if (e && inst->g->nodes[target].kind != BATON_NODE_PARALLEL_GATEWAY)
            e->other_join_tokens += j->count;
    }
    for (uint32_t i = 0; i < inst->n_waits; i++) {
        baton_wait *w = &inst->waits[i];
        baton_elem *owner = baton_inst_elem(inst, w->owner);
        if (owner) {
            w->next_owned = owner->first_wait;
            owner->first_wait = w->key;
        }
        if (w->kind == BATON_WAIT_CONDITION) {
            if (grow((void **)&inst->cond_keys, &inst->cap_cond_keys, inst->n_cond_keys,
                     sizeof(int64_t)))
                return BATON_NOMEM;
            inst->cond_keys[inst->n_cond_keys++] = w->key;
            inst->n_cond++;
        }
    }
    return BATON_OK;
}

static baton_status mismatch(baton_error *err, const char *what, long long a, long long b) {
    return baton_error_set(err, BATON_CONFLICT, "derived index out of date: %s (%lld, %lld)", what,
                           a, b);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

baton_status baton_instance_check(const baton_instance *inst, baton_error *err) {
    baton_instance *in = (baton_instance *)inst; /* lookups only */
    const baton_graph *g = inst->g;
    /* per element instance, in elems order: tokens, other tokens, waits owned */
    uint32_t *tally = baton_calloc((size_t)inst->n_elems * 3 + 1, sizeof *tally);
    uint32_t *gate_sum = baton_calloc((size_t)inst->n_gates + 1, sizeof *gate_sum);
    int64_t *conds = baton_malloc(((size_t)inst->n_cond_keys + 1) * sizeof *conds);
    baton_status st = BATON_OK;
    if (!tally || !gate_sum || !conds) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto done;
    }
    uint32_t used = 0;
    for (uint32_t s = 0; s < inst->join_ix.cap; s++)
        used += inst->join_ix.slots[s] != FREE_SLOT;
    if (inst->join_ix.cap && used != inst->n_joins) {
        st = mismatch(err, "join index size", used, inst->n_joins);
        goto done;
    }
    for (uint32_t i = 0; i < inst->n_joins; i++) {
        const baton_join *j = &inst->joins[i];
        uint32_t e;
        if (ix_find(&inst->join_ix, inst->joins, inst->n_joins, j->scope, j->flow) != i ||
            !j->count || !baton_intmap_get(&inst->elem_map, j->scope, &e)) {
            st = mismatch(err, "join entry (scope, index)", j->scope, i);
            goto done;
        }
        baton_idx target = g->flows[j->flow].target;
        tally[e * 3] += j->count;
        if (g->nodes[target].kind != BATON_NODE_PARALLEL_GATEWAY)
            tally[e * 3 + 1] += j->count;
        uint32_t k = ix_find(&inst->gate_ix, inst->gates, inst->n_gates, j->scope, target);
        if (k == FREE_SLOT) {
            st = mismatch(err, "join without a gate (scope, flow)", j->scope, j->flow);
            goto done;
        }
        gate_sum[k]++;
    }
    for (uint32_t k = 0; k < inst->n_gates; k++) {
        const baton_join *gt = &inst->gates[k];
        if (ix_find(&inst->gate_ix, inst->gates, inst->n_gates, gt->scope, gt->flow) != k ||
            gt->count != gate_sum[k]) {
            st = mismatch(err, "filled flows of a join (scope, count)", gt->scope, gt->count);
            goto done;
        }
    }
    for (uint32_t i = 0; i < inst->n_waits; i++) {
        uint32_t e;
        if (baton_intmap_get(&inst->elem_map, inst->waits[i].owner, &e))
            tally[e * 3 + 2]++;
    }
    for (uint32_t i = 0; i < inst->n_elems; i++) {
        const baton_elem *e = &inst->elems[i];
        if (e->join_tokens != tally[i * 3] || e->other_join_tokens != tally[i * 3 + 1]) {
            st = mismatch(err, "join tokens of an element instance (key, tokens)", e->key,
                          e->join_tokens);
            goto done;
        }
        uint32_t listed = 0;
        for (const baton_wait *w = baton_inst_wait(in, e->first_wait); w;
             w = baton_inst_wait(in, w->next_owned)) {
            if (w->owner != e->key || ++listed > inst->n_waits)
                break;
        }
        if (listed != tally[i * 3 + 2] || listed != e->waits) {
            st =
                mismatch(err, "waits listed for an element instance (key, listed)", e->key, listed);
            goto done;
        }
    }
    uint32_t live = 0, n = 0;
    for (uint32_t i = 0; i < inst->n_waits; i++)
        live += inst->waits[i].kind == BATON_WAIT_CONDITION;
    for (uint32_t i = 0; i < inst->n_cond_keys; i++) {
        const baton_wait *w = baton_inst_wait(in, inst->cond_keys[i]);
        if (w && w->kind == BATON_WAIT_CONDITION)
            conds[n++] = w->key;
    }
    qsort(conds, n, sizeof *conds, cmp_i64);
    for (uint32_t i = 1; i < n; i++)
        if (conds[i] == conds[i - 1])
            live = UINT32_MAX; /* listed twice */
    if (live != n || live != inst->n_cond)
        st = mismatch(err, "conditional waits (open, listed)", live, n);
done:
    baton_free(tally);
    baton_free(gate_sum);
    baton_free(conds);
    return st;
}

static int64_t num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const cJSON *item(const cJSON *o, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

baton_status baton_instance_from_json(baton_model *m, const cJSON *json, baton_instance **out,
                                      baton_error *err) {
    const char *pid = cJSON_GetStringValue(item(json, "process"));
    baton_idx p = pid ? baton_model_find_process(m, pid) : BATON_NONE;
    if (p == BATON_NONE)
        return baton_error_set(err, BATON_INVALID, "state names unknown process '%s'",
                               pid ? pid : "");
    baton_instance *inst = baton_instance_new(m, p, num(json, "id"));
    if (!inst)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    const baton_graph *g = inst->g;
    inst->state = (uint8_t)num(json, "state");
    inst->seq = (uint64_t)num(json, "seq");
    inst->next_key = num(json, "next_key");
    inst->root = num(json, "root");
    inst->parent_id = num(json, "parent_id");
    inst->parent_key = num(json, "parent_key");
    baton_status st =
        dup_str(&inst->business_key, cJSON_GetStringValue(item(json, "business_key")));
    if (!st)
        st = dup_json(&inst->final_vars, item(json, "final_vars"));
    const cJSON *x;
    cJSON_ArrayForEach(x, item(json, "elements")) {
        if (st)
            break;
        if ((st = grow((void **)&inst->elems, &inst->cap_elems, inst->n_elems, sizeof(baton_elem))))
            break;
        baton_elem *e = &inst->elems[inst->n_elems];
        memset(e, 0, sizeof *e);
        e->key = num(x, "key");
        e->parent = num(x, "parent");
        const cJSON *el = item(x, "element");
        e->element = cJSON_IsNull(el) ? BATON_NONE : node_of(m, el);
        if (!cJSON_IsNull(el) && e->element == BATON_NONE) {
            st = baton_error_set(err, BATON_INVALID, "state names an unknown element");
            break;
        }
        e->state = (uint8_t)num(x, "state");
        e->flags = (uint8_t)num(x, "flags");
        e->children = (uint32_t)num(x, "children");
        e->join_tokens = (uint32_t)num(x, "join_tokens");
        e->waits = (uint32_t)num(x, "waits");
        e->mi_index = (int32_t)num(x, "mi_index");
        e->mi_total = (int32_t)num(x, "mi_total");
        e->mi_completed = (int32_t)num(x, "mi_completed");
        e->mi_terminated = (int32_t)num(x, "mi_terminated");
        e->incident = num(x, "incident");
        e->trigger = num(x, "trigger");
        if ((st = dup_json(&e->vars, item(x, "vars"))) ||
            (st = dup_json(&e->mi_input, item(x, "mi_input"))) ||
            (st = dup_json(&e->mi_output, item(x, "mi_output"))) ||
            (st = baton_intmap_put(&inst->elem_map, e->key, inst->n_elems))) {
            elem_fini(e);
            break;
        }
        inst->n_elems++;
    }
    cJSON_ArrayForEach(x, item(json, "waits")) {
        if (st)
            break;
        if ((st = grow((void **)&inst->waits, &inst->cap_waits, inst->n_waits, sizeof(baton_wait))))
            break;
        baton_wait *w = &inst->waits[inst->n_waits];
        memset(w, 0, sizeof *w);
        w->key = num(x, "key");
        w->owner = num(x, "owner");
        w->element = node_of(m, item(x, "element"));
        const char *kind = cJSON_GetStringValue(item(x, "kind"));
        for (unsigned k = 1; kind && k < BATON_WAIT_KIND_COUNT; k++)
            if (strcmp(kind, wait_names[k]) == 0)
                w->kind = (uint8_t)k;
        w->interrupting = cJSON_IsTrue(item(x, "interrupting"));
        w->retries = (int32_t)num(x, "retries");
        w->repeat = (int32_t)num(x, "repeat");
        w->due = num(x, "due");
        w->period = num(x, "period");
        w->period_months = (int32_t)num(x, "period_months");
        w->created = num(x, "created");
        if (!w->kind || w->element == BATON_NONE) {
            st = baton_error_set(err, BATON_INVALID, "state has a malformed wait");
            break;
        }
        if ((st = dup_str(&w->name, cJSON_GetStringValue(item(x, "name")))) ||
            (st = dup_str(&w->text, cJSON_GetStringValue(item(x, "text")))) ||
            (st = dup_json(&w->value, item(x, "value"))) ||
            (st = baton_intmap_put(&inst->wait_map, w->key, inst->n_waits))) {
            wait_fini(w);
            break;
        }
        inst->n_waits++;
    }
    cJSON_ArrayForEach(x, item(json, "joins")) {
        if (st)
            break;
        if ((st = grow((void **)&inst->joins, &inst->cap_joins, inst->n_joins, sizeof(baton_join))))
            break;
        const char *fid = cJSON_GetStringValue(item(x, "flow"));
        baton_idx f = fid ? baton_model_find_flow(m, fid) : BATON_NONE;
        if (f == BATON_NONE) {
            st = baton_error_set(err, BATON_INVALID, "state names an unknown flow");
            break;
        }
        inst->joins[inst->n_joins++] = (baton_join){num(x, "scope"), f, (uint32_t)num(x, "count")};
    }
    cJSON_ArrayForEach(x, item(json, "complex")) {
        if (st)
            break;
        if ((st = grow((void **)&inst->cplx, &inst->cap_cplx, inst->n_cplx, sizeof(baton_cplx))))
            break;
        const char *gid = cJSON_GetStringValue(item(x, "gateway"));
        const char *mask = cJSON_GetStringValue(item(x, "consumed"));
        baton_idx gw = gid ? baton_model_find_node(m, gid) : BATON_NONE;
        if (gw == BATON_NONE || !mask) {
            st = baton_error_set(err, BATON_INVALID, "state names an unknown complex gateway");
            break;
        }
        inst->cplx[inst->n_cplx++] =
            (baton_cplx){num(x, "scope"), gw, (uint64_t)strtoull(mask, NULL, 10)};
    }
    cJSON_ArrayForEach(x, item(json, "incidents")) {
        if (st)
            break;
        if ((st = grow((void **)&inst->incidents, &inst->cap_incidents, inst->n_incidents,
                       sizeof(baton_incident))))
            break;
        baton_incident *in = &inst->incidents[inst->n_incidents];
        memset(in, 0, sizeof *in);
        in->key = num(x, "key");
        in->elem = num(x, "elem");
        in->element = node_of(m, item(x, "element"));
        in->phase = (int32_t)num(x, "phase");
        in->wait = num(x, "wait");
        in->at = num(x, "at");
        if ((st = dup_str(&in->kind, cJSON_GetStringValue(item(x, "kind")))) ||
            (st = dup_str(&in->message, cJSON_GetStringValue(item(x, "message"))))) {
            incident_fini(in);
            break;
        }
        inst->n_incidents++;
    }
    cJSON_ArrayForEach(x, item(json, "compensations")) {
        if (st)
            break;
        if ((st = grow((void **)&inst->comps, &inst->cap_comps, inst->n_comps, sizeof(baton_comp))))
            break;
        inst->comps[inst->n_comps++] =
            (baton_comp){num(x, "key"), num(x, "scope"), node_of(m, item(x, "activity")),
                         node_of(m, item(x, "handler"))};
    }
    (void)g;
    if (!st)
        st = rebuild_indexes(inst, err);
    if (st) {
        baton_instance_free(inst);
        if (st == BATON_NOMEM)
            baton_error_set(err, BATON_NOMEM, "out of memory");
        return st;
    }
    *out = inst;
    return BATON_OK;
}

cJSON *baton_record_to_json(const baton_record *r, const baton_model *m) {
    const baton_graph *g = baton_model_graph(m);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok =
        add_num(o, "seq", (double)r->seq) &&
        cJSON_AddStringToObject(o, "kind", baton_record_kind_name((baton_record_kind)r->kind)) &&
        add_num(o, "at", (double)r->at);
    if (ok && r->element != BATON_NONE)
        ok = cJSON_AddStringToObject(
                 o, "element",
                 (r->kind == BATON_REC_INSTANCE_CREATED || r->kind == BATON_REC_INSTANCE_ENDED)
                     ? g->processes[r->element].id
                     : node_id(g, r->element)) != NULL;
    if (ok && r->flow != BATON_NONE && r->flow < g->n_flows)
        ok = cJSON_AddStringToObject(o, "flow", g->flows[r->flow].id) != NULL;
    if (ok && r->key)
        ok = add_num(o, "key", (double)r->key);
    if (ok && r->scope)
        ok = add_num(o, "scope", (double)r->scope);
    if (ok && r->aux)
        ok = add_num(o, "aux", (double)r->aux);
    if (ok && r->aux2)
        ok = add_num(o, "aux2", (double)r->aux2);
    if (ok && r->count)
        ok = add_num(o, "count", r->count);
    if (ok && r->flags)
        ok = add_num(o, "flags", r->flags);
    if (ok && r->name)
        ok = cJSON_AddStringToObject(o, "name", r->name) != NULL;
    if (ok && r->text)
        ok = cJSON_AddStringToObject(o, "text", r->text) != NULL;
    if (ok && r->value)
        ok = cJSON_AddItemToObject(o, "value", cJSON_Duplicate(r->value, 1));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

baton_status baton_record_from_json(const cJSON *json, const baton_model *m, baton_record *out,
                                    baton_error *err) {
    memset(out, 0, sizeof *out);
    out->element = BATON_NONE;
    out->flow = BATON_NONE;
    out->seq = (uint64_t)num(json, "seq");
    baton_record_kind k = baton_record_kind_parse(cJSON_GetStringValue(item(json, "kind")));
    if (k == BATON_REC_KIND_COUNT)
        return baton_error_set(err, BATON_INVALID, "record %llu has an unknown kind",
                               (unsigned long long)out->seq);
    out->kind = (uint8_t)k;
    out->at = num(json, "at");
    const char *el = cJSON_GetStringValue(item(json, "element"));
    if (el) {
        out->element = (k == BATON_REC_INSTANCE_CREATED || k == BATON_REC_INSTANCE_ENDED)
                           ? baton_model_find_process(m, el)
                           : baton_model_find_node(m, el);
        if (out->element == BATON_NONE)
            return baton_error_set(err, BATON_INVALID, "record %llu names unknown element '%s'",
                                   (unsigned long long)out->seq, el);
    }
    const char *fl = cJSON_GetStringValue(item(json, "flow"));
    if (fl) {
        out->flow = baton_model_find_flow(m, fl);
        if (out->flow == BATON_NONE)
            return baton_error_set(err, BATON_INVALID, "record %llu names unknown flow '%s'",
                                   (unsigned long long)out->seq, fl);
    }
    out->key = num(json, "key");
    out->scope = num(json, "scope");
    out->aux = num(json, "aux");
    out->aux2 = num(json, "aux2");
    out->count = (int32_t)num(json, "count");
    out->flags = (uint8_t)num(json, "flags");
    const char *name = cJSON_GetStringValue(item(json, "name"));
    const char *text = cJSON_GetStringValue(item(json, "text"));
    const cJSON *value = item(json, "value");
    if ((name && !(out->name = baton_strdup(name))) ||
        (text && !(out->text = baton_strdup(text))) ||
        (value && !(out->value = cJSON_Duplicate(value, 1)))) {
        baton_record_free_parsed(out);
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    }
    return BATON_OK;
}

void baton_record_free_parsed(baton_record *r) {
    baton_free((char *)r->name);
    baton_free((char *)r->text);
    cJSON_Delete(r->value);
    r->name = r->text = NULL;
    r->value = NULL;
}
