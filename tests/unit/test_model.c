/* test_model.c - building a model by hand: interning, flow arrays, scopes, sharing. */
#include <string.h>

#include "common/alloc.h"
#include "models/model.h"
#include "tests/tap.h"

/* start -> task -> end, plus a subprocess holding its own start -> end */
static baton_model *build(void) {
    baton_builder *b = baton_builder_new("t.bpmn", "<xml/>", 6);
    baton_idx p, root, s, t, e, sub, inner, is, ie, f1, f2, f3, f4, f5;
    baton_builder_add_process(b, "proc", 1, &p);
    baton_builder_add_scope(b, p, BATON_NONE, BATON_NONE, &root);
    baton_builder_process(b, p)->root_scope = root;
    baton_builder_add_node(b, BATON_NODE_START_EVENT, "start", 2, root, &s);
    baton_builder_add_node(b, BATON_NODE_USER_TASK, "task", 3, root, &t);
    baton_builder_add_node(b, BATON_NODE_SUB_PROCESS, "sub", 4, root, &sub);
    baton_builder_add_scope(b, p, root, sub, &inner);
    baton_builder_node(b, sub)->inner_scope = inner;
    baton_builder_add_node(b, BATON_NODE_START_EVENT, "sub_start", 5, inner, &is);
    baton_builder_add_node(b, BATON_NODE_END_EVENT, "sub_end", 6, inner, &ie);
    baton_builder_add_node(b, BATON_NODE_END_EVENT, "end", 7, root, &e);
    baton_builder_add_flow(b, "f1", 8, root, &f1);
    baton_builder_add_flow(b, "f2", 9, root, &f2);
    baton_builder_add_flow(b, "f3", 10, root, &f3);
    baton_builder_add_flow(b, "f4", 11, inner, &f4);
    baton_builder_add_flow(b, "f5", 12, root, &f5);
    struct {
        baton_idx f, s, t;
    } fl[] = {{f1, s, t}, {f2, t, sub}, {f3, sub, e}, {f4, is, ie}, {f5, t, e}};
    for (size_t i = 0; i < 5; i++) {
        baton_builder_flow(b, fl[i].f)->source = fl[i].s;
        baton_builder_flow(b, fl[i].f)->target = fl[i].t;
    }
    baton_builder_node(b, t)->default_flow = f5;
    baton_idx dup;
    TAP_EQ_INT(baton_builder_add_node(b, BATON_NODE_TASK, "task", 13, root, &dup), BATON_CONFLICT,
               "duplicate node id refused");
    TAP_EQ_INT(dup, t, "duplicate names the existing node");
    baton_model *m = NULL;
    baton_error err;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_builder_finish(b, &m, &err), BATON_OK, "finish");
    return m;
}

static void test_graph(void) {
    baton_model *m = build();
    const baton_graph *g = baton_model_graph(m);
    TAP_EQ_INT(g->n_nodes, 6, "six nodes");
    TAP_EQ_INT(g->n_flows, 5, "five flows");
    baton_idx t = baton_model_find_node(m, "task");
    TAP_OK(t != BATON_NONE, "find by id");
    TAP_EQ_INT(baton_model_find_node(m, "nope"), BATON_NONE, "unknown id");
    const baton_node *tn = &g->nodes[t];
    TAP_EQ_INT(tn->n_incoming, 1, "task has one incoming");
    TAP_EQ_INT(tn->n_outgoing, 2, "task has two outgoing");
    TAP_EQ_STR(g->flows[tn->outgoing[0]].id, "f2", "outgoing in document order");
    TAP_OK(g->flows[baton_model_find_flow(m, "f5")].is_default, "default flag derived");
    const baton_scope *root = &g->scopes[g->processes[0].root_scope];
    TAP_EQ_INT(root->n_nodes, 4, "root scope holds its direct children only");
    TAP_EQ_INT(root->n_entry, 1, "one entry");
    TAP_EQ_STR(g->nodes[root->entry[0]].id, "start", "entry is the none start");
    baton_idx sub = baton_model_find_node(m, "sub");
    const baton_scope *inner = &g->scopes[g->nodes[sub].inner_scope];
    TAP_EQ_INT(inner->depth, 1, "nested depth");
    TAP_EQ_INT(inner->n_nodes, 2, "subprocess scope");
    TAP_OK(g->nodes[baton_model_find_node(m, "end")].flags & BATON_NF_IMPLICIT_END,
           "end event has no outgoing");
    size_t len;
    TAP_EQ_STR(baton_model_xml(m, &len), "<xml/>", "xml kept");
    TAP_EQ_INT(len, 6, "xml length");
    TAP_OK(baton_model_memory(m) > 0, "memory accounted");
    baton_model *again = baton_model_ref(m);
    baton_model_unref(m);
    TAP_EQ_STR(baton_model_graph(again)->nodes[0].id, "start", "alive while referenced");
    baton_model_unref(again);
    baton_model_unref(NULL);
}

/*
 * The builder under allocation failure: a caller that carries on after a
 * failed add (as a careless one might) still gets BATON_NOMEM from finish,
 * never a model with an id that points past its array, and nothing leaks.
 */
static void test_builder_torture(void) {
    unsigned runs = 0, wrong = 0;
    for (uint64_t n = 1; n < 10000; n++) {
        baton_alloc_fail_after(n);
        baton_builder *b = baton_builder_new("t.bpmn", "<xml/>", 6);
        baton_status st = BATON_NOMEM;
        baton_model *m = NULL;
        if (b) {
            baton_idx p = BATON_NONE, root = BATON_NONE, prev = BATON_NONE;
            baton_builder_add_process(b, "proc", 1, &p);
            baton_builder_add_scope(b, p, BATON_NONE, BATON_NONE, &root);
            for (int i = 0; i < 40; i++) {
                char id[16];
                snprintf(id, sizeof id, "n%d", i);
                baton_idx n_i = BATON_NONE, f = BATON_NONE;
                baton_builder_add_node(b, BATON_NODE_TASK, id, (uint32_t)i, root, &n_i);
                snprintf(id, sizeof id, "f%d", i);
                if (prev != BATON_NONE && n_i != BATON_NONE &&
                    baton_builder_add_flow(b, id, (uint32_t)i, root, &f) == BATON_OK) {
                    baton_builder_flow(b, f)->source = prev;
                    baton_builder_flow(b, f)->target = n_i;
                }
                if (n_i != BATON_NONE)
                    prev = n_i;
            }
            baton_error err;
            baton_error_clear(&err);
            st = baton_builder_finish(b, &m, &err);
        }
        bool fired = baton_alloc_hook_fired();
        baton_alloc_fail_after(0);
        runs++;
        if (fired && (st != BATON_NOMEM || m))
            wrong++;
        if (m) {
            const baton_graph *g = baton_model_graph(m);
            for (uint32_t i = 0; i < g->n_nodes; i++)
                if (baton_model_find_node(m, g->nodes[i].id) != i)
                    wrong++;
        }
        baton_model_unref(m);
        if (!fired) {
            TAP_EQ_INT(st, BATON_OK, "the build no failure touched succeeds");
            break;
        }
    }
    TAP_OK(runs > 10, "%u allocations failed in turn", runs - 1);
    TAP_EQ_INT(wrong, 0, "each failure ends in BATON_NOMEM and no model");
}

int main(void) {
    TAP_RUN(test_graph);
    TAP_RUN(test_builder_torture);
    return tap_done();
}
