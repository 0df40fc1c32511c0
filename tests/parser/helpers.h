/*
 * helpers.h - what the parser tests share: loading a data file, finding
 * elements by id, looking diagnostics up, and the graph invariants every
 * loaded model must satisfy (indices in range, flow arrays consistent with
 * the flows, scopes consistent with their nodes, ids that find themselves,
 * lines that point at the element's start tag).
 *
 * Header-only like tests/tap.h, so the TAP counters stay those of the test
 * program that includes both.
 */
#ifndef BATON_TESTS_PARSER_HELPERS_H
#define BATON_TESTS_PARSER_HELPERS_H

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/diag.h"
#include "parser/bpmn.h"
#include "tests/tap.h"

typedef struct loaded {
    baton_model *m;
    const baton_graph *g;
    baton_diags diags;
    baton_error err;
    baton_status st;
    char *bytes; /* the file as read, for byte-for-byte and line checks */
    size_t len;
} loaded;

static inline void data_path(char *out, size_t cap, const char *dir, const char *file) {
    snprintf(out, cap, "%s/%s", dir, file);
}

/* Read a whole file (test helper: plain malloc, no limits). */
static inline char *slurp(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = baton_malloc(cap + 1);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *nb = baton_realloc(buf, (cap *= 2) + 1);
            if (!nb)
                baton_free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* The 1-based line of the first `id="ID"` (or id='ID') in the text, 0 if absent. */
static inline uint32_t line_of_id(const char *text, const char *id) {
    char pat[2][300];
    snprintf(pat[0], sizeof pat[0], "id=\"%s\"", id);
    snprintf(pat[1], sizeof pat[1], "id='%s'", id);
    const char *hit = NULL;
    for (int k = 0; k < 2; k++) {
        for (const char *p = text; (p = strstr(p, pat[k])) != NULL; p++) {
            /* a whole attribute: preceded by white space */
            if (p > text && (p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\t' || p[-1] == '\r')) {
                if (!hit || p < hit)
                    hit = p;
                break;
            }
        }
    }
    if (!hit)
        return 0;
    uint32_t line = 1;
    for (const char *p = text; p < hit; p++)
        line += *p == '\n';
    return line;
}

static inline int graph_problem(int *bad, const char *what, const char *id) {
    printf("#   invariant broken: %s ('%s')\n", what, id ? id : "");
    return ++*bad;
}

/*
 * Check the model's invariants; returns the number of violations (each is
 * printed as a TAP comment). `text` (may be NULL) is the source for the
 * line checks.
 */
static inline int graph_invariants(const baton_model *m, const char *text) {
    const baton_graph *g = baton_model_graph(m);
    int bad = 0;
    for (uint32_t i = 0; i < g->n_flows; i++) {
        const baton_flow *f = &g->flows[i];
        if (!f->id || baton_model_find_flow(m, f->id) != i)
            graph_problem(&bad, "flow id finds the flow", f->id);
        if (f->scope >= g->n_scopes)
            graph_problem(&bad, "flow scope in range", f->id);
        if ((f->source != BATON_NONE && f->source >= g->n_nodes) ||
            (f->target != BATON_NONE && f->target >= g->n_nodes))
            graph_problem(&bad, "flow ends in range", f->id);
        if (f->is_default && (f->source == BATON_NONE || g->nodes[f->source].default_flow != i))
            graph_problem(&bad, "default flag matches the source's default", f->id);
        if (text && !strchr(f->id, '@') && f->line != line_of_id(text, f->id))
            graph_problem(&bad, "flow line is its start tag's line", f->id);
    }
    uint32_t in_scopes = 0;
    for (uint32_t s = 0; s < g->n_scopes; s++) {
        const baton_scope *sc = &g->scopes[s];
        in_scopes += sc->n_nodes;
        if (sc->process >= g->n_processes)
            graph_problem(&bad, "scope process in range", NULL);
        if (sc->node != BATON_NONE &&
            (sc->node >= g->n_nodes || g->nodes[sc->node].inner_scope != s))
            graph_problem(&bad, "scope node opens this scope", NULL);
        if (sc->parent != BATON_NONE && g->scopes[sc->parent].depth + 1 != sc->depth)
            graph_problem(&bad, "scope depth is its parent's plus one", NULL);
        for (uint32_t k = 0; k < sc->n_nodes; k++)
            if (sc->nodes[k] >= g->n_nodes || g->nodes[sc->nodes[k]].scope != s)
                graph_problem(&bad, "scope lists its own nodes", NULL);
        for (uint32_t k = 0; k < sc->n_starts; k++)
            if (g->nodes[sc->starts[k]].kind != BATON_NODE_START_EVENT ||
                g->nodes[sc->starts[k]].scope != s)
                graph_problem(&bad, "scope starts are its start events", NULL);
        for (uint32_t k = 0; k < sc->n_entry; k++)
            if (g->nodes[sc->entry[k]].scope != s)
                graph_problem(&bad, "scope entries are in the scope", NULL);
        for (uint32_t k = 0; k < sc->n_event_subs; k++)
            if (g->nodes[sc->event_subs[k]].kind != BATON_NODE_EVENT_SUB_PROCESS)
                graph_problem(&bad, "event_subs are event subprocesses", NULL);
    }
    if (in_scopes != g->n_nodes)
        graph_problem(&bad, "every node in exactly one scope list", NULL);
    for (uint32_t p = 0; p < g->n_processes; p++) {
        const baton_process *pr = &g->processes[p];
        if (baton_model_find_process(m, pr->id) != p)
            graph_problem(&bad, "process id finds the process", pr->id);
        if (pr->root_scope >= g->n_scopes || g->scopes[pr->root_scope].node != BATON_NONE ||
            g->scopes[pr->root_scope].process != p)
            graph_problem(&bad, "process root scope", pr->id);
    }
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const baton_node *n = &g->nodes[i];
        if (!n->id || baton_model_find_node(m, n->id) != i)
            graph_problem(&bad, "node id finds the node", n->id);
        if (text && n->line != line_of_id(text, n->id))
            graph_problem(&bad, "node line is its start tag's line", n->id);
        if (n->scope >= g->n_scopes || n->process >= g->n_processes ||
            g->scopes[n->scope].process != n->process)
            graph_problem(&bad, "node scope and process agree", n->id);
        uint32_t out = 0, in = 0;
        for (uint32_t f = 0; f < g->n_flows; f++) {
            out += g->flows[f].source == i;
            in += g->flows[f].target == i;
        }
        if (out != n->n_outgoing || in != n->n_incoming)
            graph_problem(&bad, "flow arrays count every flow", n->id);
        for (uint32_t k = 0; k < n->n_outgoing; k++)
            if (g->flows[n->outgoing[k]].source != i || (k && n->outgoing[k] <= n->outgoing[k - 1]))
                graph_problem(&bad, "outgoing flows leave the node, in order", n->id);
        for (uint32_t k = 0; k < n->n_incoming; k++)
            if (g->flows[n->incoming[k]].target != i || (k && n->incoming[k] <= n->incoming[k - 1]))
                graph_problem(&bad, "incoming flows reach the node, in order", n->id);
        for (uint32_t k = 0; k < n->n_boundary; k++)
            if (g->nodes[n->boundary[k]].attached_to != i)
                graph_problem(&bad, "boundary list matches attachedTo", n->id);
        if (n->attached_to != BATON_NONE) {
            bool listed = false;
            const baton_node *a = &g->nodes[n->attached_to];
            for (uint32_t k = 0; k < a->n_boundary; k++)
                listed |= a->boundary[k] == i;
            if (!listed || n->kind != BATON_NODE_BOUNDARY_EVENT)
                graph_problem(&bad, "boundary event listed on its activity", n->id);
        }
        if (n->default_flow != BATON_NONE && n->default_flow >= g->n_flows)
            graph_problem(&bad, "default flow in range", n->id);
        if (n->message != BATON_NONE && n->message >= g->n_messages)
            graph_problem(&bad, "message in range", n->id);
        if ((baton_node_kind_flags((baton_node_kind)n->kind) & BATON_KF_SCOPE) !=
            (n->inner_scope != BATON_NONE ? BATON_KF_SCOPE : 0u))
            graph_problem(&bad, "scope kinds open a scope, others do not", n->id);
        for (uint32_t k = 0; k < n->n_events; k++) {
            const baton_event_def *e = &n->events[k];
            uint32_t lim = e->kind == BATON_EVENT_MESSAGE      ? g->n_messages
                           : e->kind == BATON_EVENT_SIGNAL     ? g->n_signals
                           : e->kind == BATON_EVENT_ERROR      ? g->n_errors
                           : e->kind == BATON_EVENT_ESCALATION ? g->n_escalations
                                                               : 0;
            if (e->ref != BATON_NONE && e->ref >= lim)
                graph_problem(&bad, "event definition ref in range", n->id);
            if (e->activity != BATON_NONE && e->activity >= g->n_nodes)
                graph_problem(&bad, "compensation activity in range", n->id);
        }
    }
    return bad;
}

/* Load tests/parser/data/FILE and check it loads cleanly and keeps the invariants. */
static inline bool load_ok(loaded *ld, const char *dir, const char *file,
                           const baton_load_opts *opts) {
    memset(ld, 0, sizeof *ld);
    baton_diags_init(&ld->diags, 0);
    baton_error_clear(&ld->err);
    char path[1024];
    data_path(path, sizeof path, dir, file);
    ld->bytes = slurp(path, &ld->len);
    baton_load_opts o = opts ? *opts : (baton_load_opts){0};
    o.name = file;
    ld->st = baton_bpmn_load_file(path, &o, &ld->diags, &ld->m, &ld->err);
    TAP_EQ_INT(ld->st, BATON_OK, "%s loads", file);
    if (ld->st) {
        printf("#   %s: %s\n", ld->err.where, ld->err.message);
        for (uint32_t i = 0; i < ld->diags.n; i++)
            printf("#   %u: %s\n", ld->diags.items[i].line, ld->diags.items[i].message);
        baton_diags_fini(&ld->diags);
        baton_free(ld->bytes);
        return false;
    }
    ld->g = baton_model_graph(ld->m);
    TAP_EQ_INT(graph_invariants(ld->m, ld->bytes), 0, "%s: graph invariants hold", file);
    return true;
}

static inline void loaded_fini(loaded *ld) {
    baton_model_unref(ld->m);
    baton_diags_fini(&ld->diags);
    baton_free(ld->bytes);
    memset(ld, 0, sizeof *ld);
}

static inline void check_xml_kept(const loaded *ld) {
    size_t len = 0;
    const char *xml = baton_model_xml(ld->m, &len);
    TAP_OK(len == ld->len && memcmp(xml, ld->bytes, len) == 0 && xml[len] == '\0',
           "XML kept byte for byte (%zu bytes)", len);
}

/* A node by id; a dummy empty node when absent (the caller's checks then fail). */
static inline const baton_node *node(const loaded *ld, const char *id) {
    static const baton_node none = {.id = "?", .attached_to = BATON_NONE};
    baton_idx i = baton_model_find_node(ld->m, id);
    if (i == BATON_NONE) {
        printf("#   no node '%s'\n", id);
        return &none;
    }
    return &ld->g->nodes[i];
}

static inline baton_idx node_idx(const loaded *ld, const char *id) {
    return baton_model_find_node(ld->m, id);
}

static inline const baton_flow *flow(const loaded *ld, const char *id) {
    static const baton_flow none = {.id = "?", .source = BATON_NONE, .target = BATON_NONE};
    baton_idx i = baton_model_find_flow(ld->m, id);
    if (i == BATON_NONE) {
        printf("#   no flow '%s'\n", id);
        return &none;
    }
    return &ld->g->flows[i];
}

static inline baton_idx flow_idx(const loaded *ld, const char *id) {
    return baton_model_find_flow(ld->m, id);
}

static inline int event_kind(const baton_node *n) {
    return n->n_events ? n->events[0].kind : BATON_EVENT_NONE;
}

/*
 * Is there a diagnostic of severity `sev` at `line` (0 = any line) on
 * `element` (NULL = none) whose message contains `text`?
 */
static inline bool has_diag(const baton_diags *d, baton_severity sev, uint32_t line,
                            const char *element, const char *text) {
    for (uint32_t i = 0; i < d->n; i++) {
        const baton_diag *dg = &d->items[i];
        if (dg->severity != sev || (line && dg->line != line))
            continue;
        if ((element == NULL) != (dg->element == NULL))
            continue;
        if (element && strcmp(element, dg->element) != 0)
            continue;
        if (strstr(dg->message, text))
            return true;
    }
    printf("#   no %s at line %u on '%s' containing \"%s\"; have:\n",
           sev == BATON_SEV_ERROR ? "error" : "warning", line, element ? element : "(none)", text);
    for (uint32_t i = 0; i < d->n; i++)
        printf("#     %u '%s' %s\n", d->items[i].line,
               d->items[i].element ? d->items[i].element : "", d->items[i].message);
    return false;
}

#endif
