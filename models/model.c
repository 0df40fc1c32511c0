/*
 * model.c - building and owning the immutable process model; see model.h.
 *
 * While building, each element kind lives in a growable vector and strings
 * and detail records in the model's arena. baton_builder_finish() copies the
 * vectors into the arena at their exact size, derives the per-node flow
 * arrays and the scope lists, and hands the arena to the model. After that
 * nothing changes until the last reference goes.
 */
#include "models/model.h"

#include <stdatomic.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "common/strmap.h"

static const struct {
    const char *name;
    const char *xml;
    unsigned flags;
} kind_table[] = {
#define BATON_X(k, xml, cat) {#k, xml, cat},
    BATON_NODE_KIND_MAP(BATON_X)
#undef BATON_X
};

static const char *event_names[] = {
#define BATON_X(k, name) name,
    BATON_EVENT_KIND_MAP(BATON_X)
#undef BATON_X
};

const char *baton_node_kind_xml(baton_node_kind k) {
    return (unsigned)k < BATON_NODE_KIND_COUNT ? kind_table[k].xml : "?";
}

const char *baton_node_kind_name(baton_node_kind k) {
    return (unsigned)k < BATON_NODE_KIND_COUNT ? kind_table[k].name : "?";
}

unsigned baton_node_kind_flags(baton_node_kind k) {
    return (unsigned)k < BATON_NODE_KIND_COUNT ? kind_table[k].flags : 0;
}

const char *baton_event_kind_name(baton_event_kind k) {
    return (unsigned)k < BATON_EVENT_KIND_COUNT ? event_names[k] : "?";
}

const char *baton_dialect_name(baton_dialect d) {
    switch (d) {
    case BATON_DIALECT_C8: return "camunda8";
    case BATON_DIALECT_C7: return "camunda7";
    default: return "bpmn";
    }
}

/* A growable vector of fixed-size records. */
typedef struct vec {
    void *data;
    uint32_t n, cap;
} vec;

enum { V_NODE, V_FLOW, V_SCOPE, V_PROC, V_MSG, V_SIG, V_ERR, V_ESC, V_CPROP, V_CKEY, V_COUNT };

static const size_t vec_elem[V_COUNT] = {
    sizeof(baton_node),      sizeof(baton_flow),      sizeof(baton_scope),
    sizeof(baton_process),   sizeof(baton_message),   sizeof(baton_named_def),
    sizeof(baton_named_def), sizeof(baton_named_def), sizeof(baton_corr_property),
    sizeof(baton_corr_key),
};

/* id maps exist for the kinds that are referenced by id */
enum { M_NODE, M_FLOW, M_PROC, M_MSG, M_SIG, M_ERR, M_ESC, M_CPROP, M_COUNT };

struct baton_model {
    _Atomic int refs;
    baton_arena *arena;
    baton_graph graph;
    char *xml;
    size_t xml_len;
    const char *source;
    baton_strmap *maps[3]; /* node, flow, process */
    baton_expr **exprs;
    uint32_t n_exprs;
};

struct baton_builder {
    baton_arena *arena;
    vec v[V_COUNT];
    baton_strmap *maps[M_COUNT];
    baton_graph graph;
    char *xml;
    size_t xml_len;
    const char *source;
    baton_expr **exprs;
    uint32_t n_exprs, cap_exprs;
    int failed; /* an allocation failed: finish reports NOMEM */
};

baton_builder *baton_builder_new(const char *source, const char *xml, size_t xml_len) {
    baton_builder *b = baton_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->arena = baton_arena_new(16384, 0);
    if (!b->arena)
        goto fail;
    for (int i = 0; i < M_COUNT; i++)
        if (!(b->maps[i] = baton_strmap_new(i == M_NODE || i == M_FLOW ? 64 : 8)))
            goto fail;
    b->source = baton_arena_strdup(b->arena, source ? source : "<memory>");
    if (!b->source)
        goto fail;
    if (xml) {
        b->xml = baton_malloc(xml_len + 1);
        if (!b->xml)
            goto fail;
        memcpy(b->xml, xml, xml_len);
        b->xml[xml_len] = '\0';
        b->xml_len = xml_len;
    }
    return b;
fail:
    baton_builder_free(b);
    return NULL;
}

void baton_builder_free(baton_builder *b) {
    if (!b)
        return;
    for (int i = 0; i < V_COUNT; i++)
        baton_free(b->v[i].data);
    for (int i = 0; i < M_COUNT; i++)
        baton_strmap_free(b->maps[i]);
    for (uint32_t i = 0; i < b->n_exprs; i++)
        baton_expr_free(b->exprs[i]);
    baton_free(b->exprs);
    baton_free(b->xml);
    baton_arena_free(b->arena);
    baton_free(b);
}

char *baton_builder_strdup(baton_builder *b, const char *s) {
    return s ? baton_builder_strndup(b, s, strlen(s)) : NULL;
}

char *baton_builder_strndup(baton_builder *b, const char *s, size_t n) {
    char *d = baton_arena_strndup(b->arena, s, n);
    if (!d)
        b->failed = 1;
    return d;
}

void *baton_builder_alloc(baton_builder *b, size_t n) {
    void *p = baton_arena_zalloc(b->arena, n);
    if (!p)
        b->failed = 1;
    return p;
}

baton_status baton_builder_expr(baton_builder *b, baton_slot *slot, const char *text, uint32_t line,
                                baton_expr_mode mode, baton_error *err) {
    slot->text = NULL;
    slot->expr = NULL;
    slot->line = line;
    if (!text)
        return BATON_OK;
    if (b->n_exprs == b->cap_exprs) {
        uint32_t cap = b->cap_exprs ? b->cap_exprs * 2 : 32;
        baton_expr **e = baton_realloc(b->exprs, cap * sizeof *e);
        if (!e) {
            b->failed = 1;
            return BATON_NOMEM;
        }
        b->exprs = e;
        b->cap_exprs = cap;
    }
    char *copy = baton_builder_strdup(b, text);
    if (!copy)
        return BATON_NOMEM;
    baton_expr *e = NULL;
    baton_status st = baton_expr_compile(text, strlen(text), mode, &e, err);
    if (st == BATON_NOMEM)
        b->failed = 1;
    if (st)
        return st;
    b->exprs[b->n_exprs++] = e;
    slot->text = copy;
    slot->expr = e;
    return BATON_OK;
}

/* Room for one more record; false on out of memory. */
static bool vec_reserve(vec *v, size_t elem) {
    if (v->n < v->cap)
        return true;
    uint32_t cap = v->cap ? v->cap * 2 : 16;
    if (cap < v->cap)
        return false;
    void *d = baton_realloc(v->data, (size_t)cap * elem);
    if (!d)
        return false;
    v->data = d;
    v->cap = cap;
    return true;
}

static void *vec_push(vec *v, size_t elem) {
    if (!vec_reserve(v, elem))
        return NULL;
    void *p = (char *)v->data + (size_t)v->n * elem;
    memset(p, 0, elem);
    v->n++;
    return p;
}

static void *vec_at(vec *v, size_t elem, baton_idx i) {
    return i < v->n ? (char *)v->data + (size_t)i * elem : NULL;
}

/*
 * Push a record of kind `vk`, registering `id` in map `mk` (or none when
 * mk < 0). Duplicate ids answer BATON_CONFLICT with the existing index.
 */
static baton_status add(baton_builder *b, int vk, int mk, const char *id, const char **id_out,
                        baton_idx *idx_out) {
    const char *copy = NULL;
    if (id) {
        copy = baton_builder_strdup(b, id); /* marks the builder failed on NOMEM */
        if (!copy)
            return BATON_NOMEM;
    }
    if (b->v[vk].n >= BATON_NONE - 1)
        return BATON_LIMIT;
    baton_idx idx = b->v[vk].n;
    /* room first: once the id is in the map, its index must exist */
    if (!vec_reserve(&b->v[vk], vec_elem[vk])) {
        b->failed = 1;
        return BATON_NOMEM;
    }
    if (mk >= 0 && copy) {
        uint32_t existing;
        baton_status st = baton_strmap_put(b->maps[mk], copy, strlen(copy), idx, &existing);
        if (st == BATON_CONFLICT) {
            if (idx_out)
                *idx_out = existing;
            return st;
        }
        if (st) {
            b->failed = 1;
            return st;
        }
    }
    vec_push(&b->v[vk], vec_elem[vk]); /* cannot fail: reserved above */
    *id_out = copy;
    if (idx_out)
        *idx_out = idx;
    return BATON_OK;
}

baton_status baton_builder_add_process(baton_builder *b, const char *id, uint32_t line,
                                       baton_idx *idx_out) {
    const char *cid;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, V_PROC, M_PROC, id, &cid, &i);
    if (st) {
        if (idx_out)
            *idx_out = i;
        return st;
    }
    baton_process *p = vec_at(&b->v[V_PROC], sizeof *p, i);
    p->id = cid;
    p->line = line;
    p->executable = true;
    p->root_scope = BATON_NONE;
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

baton_status baton_builder_add_scope(baton_builder *b, baton_idx process, baton_idx parent,
                                     baton_idx node, baton_idx *idx_out) {
    const char *unused;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, V_SCOPE, -1, NULL, &unused, &i);
    if (st)
        return st;
    baton_scope *s = vec_at(&b->v[V_SCOPE], sizeof *s, i);
    s->node = node;
    s->parent = parent;
    s->process = process;
    if (parent != BATON_NONE) {
        baton_scope *ps = vec_at(&b->v[V_SCOPE], sizeof *ps, parent);
        s->depth = ps ? ps->depth + 1 : 0;
    }
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

baton_status baton_builder_add_node(baton_builder *b, baton_node_kind kind, const char *id,
                                    uint32_t line, baton_idx scope, baton_idx *idx_out) {
    const char *cid;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, V_NODE, M_NODE, id, &cid, &i);
    if (st) {
        if (idx_out)
            *idx_out = i;
        return st;
    }
    baton_node *n = vec_at(&b->v[V_NODE], sizeof *n, i);
    baton_scope *s = vec_at(&b->v[V_SCOPE], sizeof *s, scope);
    n->id = cid;
    n->line = line;
    n->kind = (uint8_t)kind;
    n->scope = scope;
    n->process = s ? s->process : BATON_NONE;
    n->inner_scope = BATON_NONE;
    n->attached_to = BATON_NONE;
    n->default_flow = BATON_NONE;
    n->message = BATON_NONE;
    n->compensation = BATON_NONE;
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

baton_status baton_builder_add_flow(baton_builder *b, const char *id, uint32_t line,
                                    baton_idx scope, baton_idx *idx_out) {
    const char *cid;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, V_FLOW, M_FLOW, id, &cid, &i);
    if (st) {
        if (idx_out)
            *idx_out = i;
        return st;
    }
    baton_flow *f = vec_at(&b->v[V_FLOW], sizeof *f, i);
    f->id = cid;
    f->line = line;
    f->scope = scope;
    f->source = BATON_NONE;
    f->target = BATON_NONE;
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

static baton_status add_named(baton_builder *b, int vk, int mk, const char *id, uint32_t line,
                              baton_idx *idx_out) {
    const char *cid;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, vk, mk, id, &cid, &i);
    if (st) {
        if (idx_out)
            *idx_out = i;
        return st;
    }
    baton_named_def *d = vec_at(&b->v[vk], sizeof *d, i);
    d->id = cid;
    d->line = line;
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

baton_status baton_builder_add_message(baton_builder *b, const char *id, uint32_t line,
                                       baton_idx *idx_out) {
    const char *cid;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, V_MSG, M_MSG, id, &cid, &i);
    if (st) {
        if (idx_out)
            *idx_out = i;
        return st;
    }
    baton_message *m = vec_at(&b->v[V_MSG], sizeof *m, i);
    m->id = cid;
    m->line = line;
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

baton_status baton_builder_add_signal(baton_builder *b, const char *id, uint32_t line,
                                      baton_idx *idx_out) {
    return add_named(b, V_SIG, M_SIG, id, line, idx_out);
}

baton_status baton_builder_add_error(baton_builder *b, const char *id, uint32_t line,
                                     baton_idx *idx_out) {
    return add_named(b, V_ERR, M_ERR, id, line, idx_out);
}

baton_status baton_builder_add_escalation(baton_builder *b, const char *id, uint32_t line,
                                          baton_idx *idx_out) {
    return add_named(b, V_ESC, M_ESC, id, line, idx_out);
}

baton_status baton_builder_add_corr_property(baton_builder *b, const char *id, uint32_t line,
                                             baton_idx *idx_out) {
    (void)line;
    const char *cid;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, V_CPROP, M_CPROP, id, &cid, &i);
    if (st) {
        if (idx_out)
            *idx_out = i;
        return st;
    }
    baton_corr_property *p = vec_at(&b->v[V_CPROP], sizeof *p, i);
    p->id = cid;
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

baton_status baton_builder_add_corr_key(baton_builder *b, const char *id, baton_idx *idx_out) {
    const char *cid;
    baton_idx i = BATON_NONE;
    baton_status st = add(b, V_CKEY, -1, id, &cid, &i);
    if (st)
        return st;
    baton_corr_key *k = vec_at(&b->v[V_CKEY], sizeof *k, i);
    k->id = cid;
    if (idx_out)
        *idx_out = i;
    return BATON_OK;
}

baton_node *baton_builder_node(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_NODE], sizeof(baton_node), i);
}
baton_flow *baton_builder_flow(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_FLOW], sizeof(baton_flow), i);
}
baton_scope *baton_builder_scope(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_SCOPE], sizeof(baton_scope), i);
}
baton_process *baton_builder_process(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_PROC], sizeof(baton_process), i);
}
baton_message *baton_builder_message(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_MSG], sizeof(baton_message), i);
}
baton_named_def *baton_builder_signal(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_SIG], sizeof(baton_named_def), i);
}
baton_named_def *baton_builder_error(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_ERR], sizeof(baton_named_def), i);
}
baton_named_def *baton_builder_escalation(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_ESC], sizeof(baton_named_def), i);
}
baton_corr_property *baton_builder_corr_property(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_CPROP], sizeof(baton_corr_property), i);
}
baton_corr_key *baton_builder_corr_key(baton_builder *b, baton_idx i) {
    return vec_at(&b->v[V_CKEY], sizeof(baton_corr_key), i);
}
baton_graph *baton_builder_graph(baton_builder *b) {
    return &b->graph;
}

static baton_idx find(const baton_strmap *m, const char *id) {
    uint32_t v;
    if (!id || !baton_strmap_get(m, id, strlen(id), &v))
        return BATON_NONE;
    return v;
}

baton_idx baton_builder_find_node(const baton_builder *b, const char *id) {
    return find(b->maps[M_NODE], id);
}
baton_idx baton_builder_find_flow(const baton_builder *b, const char *id) {
    return find(b->maps[M_FLOW], id);
}
baton_idx baton_builder_find_process(const baton_builder *b, const char *id) {
    return find(b->maps[M_PROC], id);
}
baton_idx baton_builder_find_message(const baton_builder *b, const char *id) {
    return find(b->maps[M_MSG], id);
}
baton_idx baton_builder_find_signal(const baton_builder *b, const char *id) {
    return find(b->maps[M_SIG], id);
}
baton_idx baton_builder_find_error(const baton_builder *b, const char *id) {
    return find(b->maps[M_ERR], id);
}
baton_idx baton_builder_find_escalation(const baton_builder *b, const char *id) {
    return find(b->maps[M_ESC], id);
}
baton_idx baton_builder_find_corr_property(const baton_builder *b, const char *id) {
    return find(b->maps[M_CPROP], id);
}

/* ---- finish ---------------------------------------------------------- */

static void *freeze(baton_builder *b, int vk) {
    if (b->v[vk].n == 0)
        return NULL;
    return baton_arena_memdup(b->arena, b->v[vk].data, (size_t)b->v[vk].n * vec_elem[vk]);
}

/* Fill `arrays[owner]` with the members of each owner, keeping member order. */
static baton_status group(baton_builder *b, uint32_t n_owners, uint32_t n_members,
                          baton_idx (*owner_of)(const void *ctx, baton_idx member), const void *ctx,
                          uint32_t *counts, const baton_idx **arrays) {
    memset(counts, 0, n_owners * sizeof *counts);
    for (baton_idx m = 0; m < n_members; m++) {
        baton_idx o = owner_of(ctx, m);
        if (o < n_owners)
            counts[o]++;
    }
    uint32_t total = 0;
    for (uint32_t o = 0; o < n_owners; o++)
        total += counts[o];
    baton_idx *pool = total ? baton_arena_alloc(b->arena, total * sizeof *pool) : NULL;
    if (total && !pool)
        return BATON_NOMEM;
    uint32_t off = 0;
    for (uint32_t o = 0; o < n_owners; o++) {
        arrays[o] = counts[o] ? pool + off : NULL;
        off += counts[o];
        counts[o] = 0;
    }
    for (baton_idx m = 0; m < n_members; m++) {
        baton_idx o = owner_of(ctx, m);
        if (o < n_owners && arrays[o]) /* always set: owner_of gives the owners counted above */
            ((baton_idx *)arrays[o])[counts[o]++] = m;
    }
    return BATON_OK;
}

static baton_idx flow_source(const void *ctx, baton_idx i) {
    return ((const baton_flow *)ctx)[i].source;
}
static baton_idx flow_target(const void *ctx, baton_idx i) {
    return ((const baton_flow *)ctx)[i].target;
}
static baton_idx node_attached(const void *ctx, baton_idx i) {
    return ((const baton_node *)ctx)[i].attached_to;
}
static baton_idx node_scope(const void *ctx, baton_idx i) {
    return ((const baton_node *)ctx)[i].scope;
}

/* ctx for filtered scope lists */
typedef struct scope_filter {
    const baton_node *nodes;
    int what; /* 0 start events, 1 event subprocesses, 2 none starts, 3 implicit starts */
} scope_filter;

static int is_none_start(const baton_node *n) {
    return n->kind == BATON_NODE_START_EVENT && n->n_events == 0;
}

static int is_implicit_start(const baton_node *n) {
    if (n->n_incoming || (n->flags & BATON_NF_FOR_COMPENSATION))
        return 0;
    switch (n->kind) {
    case BATON_NODE_START_EVENT:
    case BATON_NODE_BOUNDARY_EVENT:
    case BATON_NODE_EVENT_SUB_PROCESS: return 0;
    case BATON_NODE_CATCH_EVENT:
        /* a link catch event is only reached through its throw */
        return !(n->n_events && n->events[0].kind == BATON_EVENT_LINK);
    default: return 1;
    }
}

static baton_idx filtered_scope(const void *ctx, baton_idx i) {
    const scope_filter *f = ctx;
    const baton_node *n = &f->nodes[i];
    int keep = 0;
    switch (f->what) {
    case 0: keep = n->kind == BATON_NODE_START_EVENT; break;
    case 1: keep = n->kind == BATON_NODE_EVENT_SUB_PROCESS; break;
    case 2: keep = is_none_start(n); break;
    case 3: keep = is_implicit_start(n); break;
    }
    return keep ? n->scope : BATON_NONE;
}

baton_status baton_builder_finish(baton_builder *b, baton_model **out, baton_error *err) {
    baton_status st = BATON_NOMEM;
    baton_model *m = NULL;
    uint32_t *counts = NULL;
    const baton_idx **arrays = NULL;
    if (b->failed)
        goto fail;

    baton_graph *g = &b->graph;
    g->n_nodes = b->v[V_NODE].n;
    g->n_flows = b->v[V_FLOW].n;
    g->n_scopes = b->v[V_SCOPE].n;
    g->n_processes = b->v[V_PROC].n;
    g->n_messages = b->v[V_MSG].n;
    g->n_signals = b->v[V_SIG].n;
    g->n_errors = b->v[V_ERR].n;
    g->n_escalations = b->v[V_ESC].n;
    g->n_corr_props = b->v[V_CPROP].n;
    g->n_corr_keys = b->v[V_CKEY].n;

    baton_node *nodes = freeze(b, V_NODE);
    baton_flow *flows = freeze(b, V_FLOW);
    baton_scope *scopes = freeze(b, V_SCOPE);
    if ((g->n_nodes && !nodes) || (g->n_flows && !flows) || (g->n_scopes && !scopes))
        goto fail;
    g->nodes = nodes;
    g->flows = flows;
    g->scopes = scopes;
    g->processes = freeze(b, V_PROC);
    g->messages = freeze(b, V_MSG);
    g->signals = freeze(b, V_SIG);
    g->errors = freeze(b, V_ERR);
    g->escalations = freeze(b, V_ESC);
    g->corr_props = freeze(b, V_CPROP);
    g->corr_keys = freeze(b, V_CKEY);
    if ((g->n_processes && !g->processes) || (g->n_messages && !g->messages) ||
        (g->n_signals && !g->signals) || (g->n_errors && !g->errors) ||
        (g->n_escalations && !g->escalations) || (g->n_corr_props && !g->corr_props) ||
        (g->n_corr_keys && !g->corr_keys))
        goto fail;

    uint32_t n_max = g->n_nodes > g->n_scopes ? g->n_nodes : g->n_scopes;
    counts = baton_calloc(n_max + 1, sizeof *counts);
    arrays = baton_calloc(n_max + 1, sizeof *arrays);
    if (!counts || !arrays)
        goto fail;

    /* per-node flow arrays and boundary lists */
    if (group(b, g->n_nodes, g->n_flows, flow_source, flows, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        nodes[i].n_outgoing = counts[i];
        nodes[i].outgoing = arrays[i];
    }
    if (group(b, g->n_nodes, g->n_flows, flow_target, flows, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        nodes[i].n_incoming = counts[i];
        nodes[i].incoming = arrays[i];
    }
    if (group(b, g->n_nodes, g->n_nodes, node_attached, nodes, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        nodes[i].n_boundary = counts[i];
        nodes[i].boundary = arrays[i];
    }
    for (uint32_t i = 0; i < g->n_flows; i++) {
        baton_flow *f = &flows[i];
        if (f->source < g->n_nodes && nodes[f->source].default_flow == i)
            f->is_default = true;
    }
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        baton_node *n = &nodes[i];
        n->flags &= (uint16_t) ~(BATON_NF_IMPLICIT_START | BATON_NF_IMPLICIT_END);
        if (is_implicit_start(n))
            n->flags |= BATON_NF_IMPLICIT_START;
        if (n->n_outgoing == 0 && n->kind != BATON_NODE_EVENT_SUB_PROCESS &&
            !(n->flags & BATON_NF_FOR_COMPENSATION))
            n->flags |= BATON_NF_IMPLICIT_END;
    }

    /* scope lists */
    if (group(b, g->n_scopes, g->n_nodes, node_scope, nodes, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_scopes; i++) {
        scopes[i].n_nodes = counts[i];
        scopes[i].nodes = arrays[i];
    }
    scope_filter sf = {nodes, 0};
    if (group(b, g->n_scopes, g->n_nodes, filtered_scope, &sf, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_scopes; i++) {
        scopes[i].n_starts = counts[i];
        scopes[i].starts = arrays[i];
    }
    sf.what = 1;
    if (group(b, g->n_scopes, g->n_nodes, filtered_scope, &sf, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_scopes; i++) {
        scopes[i].n_event_subs = counts[i];
        scopes[i].event_subs = arrays[i];
    }
    sf.what = 2;
    if (group(b, g->n_scopes, g->n_nodes, filtered_scope, &sf, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_scopes; i++) {
        scopes[i].n_entry = counts[i];
        scopes[i].entry = arrays[i];
    }
    /* scopes with no none start event enter at their implicit starts, but
       only when they have no start event at all (BPMN 13.2.5 / 10.4.2) */
    sf.what = 3;
    if (group(b, g->n_scopes, g->n_nodes, filtered_scope, &sf, counts, arrays))
        goto fail;
    for (uint32_t i = 0; i < g->n_scopes; i++) {
        if (scopes[i].n_entry == 0 && scopes[i].n_starts == 0) {
            scopes[i].n_entry = counts[i];
            scopes[i].entry = arrays[i];
        }
    }

    m = baton_calloc(1, sizeof *m);
    if (!m)
        goto fail;
    atomic_init(&m->refs, 1);
    m->graph = *g;
    m->arena = b->arena;
    m->xml = b->xml;
    m->xml_len = b->xml_len;
    m->source = b->source;
    m->maps[0] = b->maps[M_NODE];
    m->maps[1] = b->maps[M_FLOW];
    m->maps[2] = b->maps[M_PROC];
    m->exprs = b->exprs;
    m->n_exprs = b->n_exprs;
    /* ownership moved to the model */
    b->arena = NULL;
    b->xml = NULL;
    b->maps[M_NODE] = b->maps[M_FLOW] = b->maps[M_PROC] = NULL;
    b->exprs = NULL;
    b->n_exprs = 0;
    baton_free(counts);
    baton_free(arrays);
    baton_builder_free(b);
    *out = m;
    return BATON_OK;

fail:
    baton_free(counts);
    baton_free(arrays);
    baton_builder_free(b);
    return baton_error_set(err, st, "out of memory while building the model");
}

baton_model *baton_model_ref(baton_model *m) {
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void baton_model_unref(baton_model *m) {
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    for (uint32_t i = 0; i < m->n_exprs; i++)
        baton_expr_free(m->exprs[i]);
    baton_free(m->exprs);
    for (int i = 0; i < 3; i++)
        baton_strmap_free(m->maps[i]);
    baton_free(m->xml);
    baton_arena_free(m->arena);
    baton_free(m);
}

const baton_graph *baton_model_graph(const baton_model *m) {
    return &m->graph;
}

const char *baton_model_xml(const baton_model *m, size_t *len_out) {
    if (len_out)
        *len_out = m->xml_len;
    return m->xml ? m->xml : "";
}

const char *baton_model_source(const baton_model *m) {
    return m->source;
}

baton_idx baton_model_find_node(const baton_model *m, const char *id) {
    return find(m->maps[0], id);
}

baton_idx baton_model_find_flow(const baton_model *m, const char *id) {
    return find(m->maps[1], id);
}

baton_idx baton_model_find_process(const baton_model *m, const char *id) {
    return find(m->maps[2], id);
}

size_t baton_model_memory(const baton_model *m) {
    size_t n = sizeof *m + baton_arena_reserved(m->arena);
    for (int i = 0; i < 3; i++)
        n += baton_strmap_bytes(m->maps[i]);
    n += m->n_exprs * sizeof(void *);
    for (uint32_t i = 0; i < m->n_exprs; i++)
        n += baton_expr_memory(m->exprs[i]);
    return n;
}
