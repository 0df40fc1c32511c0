/*
 * validate.c - checks on a finished model graph, reported to diagnostics.
 *
 * Structural checks (flows crossing scopes, default flows that do not leave
 * their node, boundary events on things that cannot carry them) apply to
 * every process. Executability checks (start events, gateway outflows,
 * timer/message definitions, job types, event kinds per element) apply only
 * to processes marked isExecutable, since other processes are drawings.
 * Each check names the element and its line.
 */
#include <string.h>

#include "parser/parser_int.h"

#define ERR(L, n, ...) baton_parser_diag(L, BATON_SEV_ERROR, (n)->line, (n)->id, __VA_ARGS__)
#define WARN(v, n, ...)                                                                            \
    baton_parser_diag((v)->L, BATON_SEV_WARNING, (n)->line, (n)->id, __VA_ARGS__)

typedef struct vctx {
    loader *L;
    const baton_model *m;
    const baton_graph *g;
} vctx;

static const char *scope_label(const vctx *v, baton_idx s, char *buf, size_t cap) {
    const baton_scope *sc = &v->g->scopes[s];
    if (sc->node == BATON_NONE)
        snprintf(buf, cap, "process '%s'", v->g->processes[sc->process].id);
    else
        snprintf(buf, cap, "%s '%s'",
                 v->g->nodes[sc->node].kind == BATON_NODE_TRANSACTION ? "transaction"
                                                                      : "subprocess",
                 v->g->nodes[sc->node].id);
    return buf;
}

/*
 * A condition that compiled to plain text can never yield a boolean: the
 * tool wrote prose ("yes", "approved") where an expression belongs.
 */
static void check_condition(vctx *v, const baton_slot *c, uint32_t line, const char *id,
                            const char *what) {
    if (c->expr && baton_expr_language(c->expr) == BATON_EXPR_STATIC)
        baton_parser_unexecutable(v->L, c->line ? c->line : line, id,
                                  "%s '%.80s' is neither FEEL (= ...) nor JUEL (${...}): as plain "
                                  "text it can never be true or false",
                                  what, c->text);
}

static bool executable(const vctx *v, const baton_node *n) {
    return n->process != BATON_NONE && v->g->processes[n->process].executable;
}

static const baton_event_def *event0(const baton_node *n) {
    return n->n_events ? &n->events[0] : NULL;
}

static int event_kind(const baton_node *n) {
    return n->n_events ? n->events[0].kind : BATON_EVENT_NONE;
}

static void check_flows(vctx *v) {
    char a[160], b[160];
    for (uint32_t i = 0; i < v->g->n_flows; i++) {
        const baton_flow *f = &v->g->flows[i];
        if (f->source == BATON_NONE || f->target == BATON_NONE)
            continue;
        const baton_node *s = &v->g->nodes[f->source];
        const baton_node *t = &v->g->nodes[f->target];
        if (s->scope != t->scope) {
            baton_parser_diag(v->L, BATON_SEV_ERROR, f->line, f->id,
                              "sequence flow crosses a scope boundary: source '%s' is in %s, "
                              "target '%s' is in %s",
                              s->id, scope_label(v, s->scope, a, sizeof a), t->id,
                              scope_label(v, t->scope, b, sizeof b));
            continue;
        }
        if (s->scope != f->scope) {
            baton_parser_diag(v->L, BATON_SEV_ERROR, f->line, f->id,
                              "sequence flow is written in %s but connects '%s' and '%s' of %s",
                              scope_label(v, f->scope, a, sizeof a), s->id, t->id,
                              scope_label(v, s->scope, b, sizeof b));
            continue;
        }
        if (!executable(v, s))
            continue;
        if (f->condition.text && !f->is_default)
            check_condition(v, &f->condition, f->line, f->id, "condition");
        if (f->condition.text && s->kind == BATON_NODE_PARALLEL_GATEWAY)
            baton_parser_diag(v->L, BATON_SEV_ERROR, f->line, f->id,
                              "sequence flow out of parallel gateway '%s' has a condition "
                              "(parallel gateways take every outgoing flow)",
                              s->id);
        else if (f->condition.text && s->kind == BATON_NODE_EVENT_BASED_GATEWAY)
            baton_parser_diag(v->L, BATON_SEV_ERROR, f->line, f->id,
                              "sequence flow out of event-based gateway '%s' has a condition",
                              s->id);
        else if (f->condition.text && f->is_default)
            baton_parser_diag(v->L, BATON_SEV_WARNING, f->line, f->id,
                              "default flow has a condition, which is ignored");
        if (t->kind == BATON_NODE_START_EVENT || t->kind == BATON_NODE_BOUNDARY_EVENT)
            baton_parser_diag(v->L, BATON_SEV_ERROR, f->line, f->id,
                              "sequence flow targets %s '%s', which cannot have incoming flows",
                              baton_node_kind_xml(t->kind), t->id);
        if (s->kind == BATON_NODE_END_EVENT)
            baton_parser_diag(v->L, BATON_SEV_ERROR, f->line, f->id,
                              "sequence flow leaves end event '%s'", s->id);
    }
}

static bool link_has_catch(const vctx *v, const baton_node *thr) {
    const char *name = event0(thr)->link_name;
    const baton_scope *sc = &v->g->scopes[thr->scope];
    for (uint32_t i = 0; i < sc->n_nodes; i++) {
        const baton_node *c = &v->g->nodes[sc->nodes[i]];
        if (c->kind == BATON_NODE_CATCH_EVENT && event_kind(c) == BATON_EVENT_LINK &&
            ((!name && !event0(c)->link_name) ||
             (name && event0(c)->link_name && strcmp(name, event0(c)->link_name) == 0)))
            return true;
    }
    return false;
}

/* Event kinds each event element may carry (BPMN 2.0 tables 10.84-10.93). */
static bool event_allowed(baton_node_kind k, int ev, bool in_event_sub, bool in_transaction) {
    switch (k) {
    case BATON_NODE_START_EVENT:
        if (in_event_sub)
            return ev != BATON_EVENT_NONE && ev != BATON_EVENT_TERMINATE &&
                   ev != BATON_EVENT_LINK && ev != BATON_EVENT_CANCEL;
        return ev == BATON_EVENT_NONE || ev == BATON_EVENT_MESSAGE || ev == BATON_EVENT_TIMER ||
               ev == BATON_EVENT_SIGNAL || ev == BATON_EVENT_CONDITIONAL;
    case BATON_NODE_END_EVENT:
        return ev == BATON_EVENT_NONE || ev == BATON_EVENT_MESSAGE || ev == BATON_EVENT_ERROR ||
               ev == BATON_EVENT_ESCALATION || ev == BATON_EVENT_SIGNAL ||
               ev == BATON_EVENT_TERMINATE || ev == BATON_EVENT_COMPENSATION ||
               (ev == BATON_EVENT_CANCEL && in_transaction);
    case BATON_NODE_CATCH_EVENT:
        return ev == BATON_EVENT_MESSAGE || ev == BATON_EVENT_TIMER || ev == BATON_EVENT_SIGNAL ||
               ev == BATON_EVENT_CONDITIONAL || ev == BATON_EVENT_LINK;
    case BATON_NODE_THROW_EVENT:
        return ev == BATON_EVENT_NONE || ev == BATON_EVENT_MESSAGE || ev == BATON_EVENT_SIGNAL ||
               ev == BATON_EVENT_ESCALATION || ev == BATON_EVENT_LINK ||
               ev == BATON_EVENT_COMPENSATION;
    case BATON_NODE_BOUNDARY_EVENT:
        return ev == BATON_EVENT_MESSAGE || ev == BATON_EVENT_TIMER || ev == BATON_EVENT_SIGNAL ||
               ev == BATON_EVENT_ERROR || ev == BATON_EVENT_ESCALATION ||
               ev == BATON_EVENT_CONDITIONAL || ev == BATON_EVENT_COMPENSATION ||
               ev == BATON_EVENT_CANCEL;
    default: return true;
    }
}

static bool scope_is(const vctx *v, baton_idx s, baton_node_kind k) {
    const baton_scope *sc = &v->g->scopes[s];
    return sc->node != BATON_NONE && v->g->nodes[sc->node].kind == k;
}

static bool inside_transaction(const vctx *v, baton_idx s) {
    for (; s != BATON_NONE; s = v->g->scopes[s].parent)
        if (scope_is(v, s, BATON_NODE_TRANSACTION))
            return true;
    return false;
}

/* The loader already reported a dangling reference of this node. */
static bool dangling(const vctx *v, const baton_node *n) {
    return v->L->dangling && v->L->dangling[n - v->g->nodes];
}

/* `keyed`: a catch that correlates to one instance (all but process-level starts). */
static void check_message(vctx *v, const baton_node *n, baton_idx msg, bool catching, bool keyed) {
    if (msg == BATON_NONE && dangling(v, n))
        return;
    if (msg == BATON_NONE) {
        if (catching)
            ERR(v->L, n,
                "message catch has no messageRef (a message name is needed to "
                "correlate)");
        else
            ERR(v->L, n, "message throw has no messageRef (there is no message to send)");
        return;
    }
    const baton_message *m = &v->g->messages[msg];
    if (!m->name || !*m->name) {
        ERR(v->L, n, "message '%s' has no name", m->id);
        return;
    }
    /* Camunda 8 correlates catch events by a key computed on entry */
    if (keyed && v->g->dialect == BATON_DIALECT_C8 && !m->correlation_key.text)
        ERR(v->L, n, "message '%s' has no zeebe:subscription correlationKey", m->name);
}

static void check_events(vctx *v, const baton_node *n) {
    baton_node_kind k = (baton_node_kind)n->kind;
    bool in_es = scope_is(v, n->scope, BATON_NODE_EVENT_SUB_PROCESS);
    bool in_tx = inside_transaction(v, n->scope);
    if (n->flags & BATON_NF_MULTIPLE_EVENTS) {
        baton_parser_unexecutable(v->L, n->line, n->id,
                                  "%s with %u event definitions (BPMN multiple%s) is not supported",
                                  baton_node_kind_xml(k), n->n_events,
                                  (n->flags & BATON_NF_PARALLEL_MULTIPLE) ? " parallel" : "");
        return;
    }
    int ev = event_kind(n);
    if (!event_allowed(k, ev, in_es, in_tx)) {
        if (k == BATON_NODE_CATCH_EVENT && ev == BATON_EVENT_NONE)
            ERR(v->L, n, "intermediate catch event has no event definition");
        else if (k == BATON_NODE_BOUNDARY_EVENT && ev == BATON_EVENT_NONE)
            ERR(v->L, n,
                "boundary event has no event definition (a boundary event needs a "
                "trigger: message, timer, signal, error, escalation, conditional, "
                "compensation or cancel)");
        else if (k == BATON_NODE_BOUNDARY_EVENT)
            ERR(v->L, n, "a %s boundary event cannot be attached to an activity",
                baton_event_kind_name((baton_event_kind)ev));
        else if (k == BATON_NODE_START_EVENT && in_es && ev == BATON_EVENT_NONE)
            ERR(v->L, n,
                "the start event of an event subprocess needs a trigger "
                "(message, timer, signal, error, escalation, conditional or "
                "compensation)");
        else
            ERR(v->L, n, "%s cannot carry a %s event definition%s", baton_node_kind_xml(k),
                baton_event_kind_name((baton_event_kind)ev),
                ev == BATON_EVENT_CANCEL ? " outside a transaction" : "");
        return;
    }
    if (k == BATON_NODE_START_EVENT && !in_es && v->g->scopes[n->scope].node != BATON_NONE &&
        ev != BATON_EVENT_NONE)
        ERR(v->L, n, "the start event of an embedded subprocess must be a none start event");
    const baton_event_def *e = event0(n);
    if (!e)
        return;
    switch (ev) {
    case BATON_EVENT_TIMER:
        if (e->timer_kind == BATON_TIMER_NONE)
            ERR(v->L, n, "timer event has no timeDate, timeDuration or timeCycle");
        else if (k == BATON_NODE_START_EVENT && !in_es && e->timer_kind == BATON_TIMER_DURATION)
            WARN(v, n,
                 "a timer start event with a duration fires once, that long after deployment");
        break;
    case BATON_EVENT_MESSAGE: {
        bool catching = k == BATON_NODE_CATCH_EVENT || k == BATON_NODE_BOUNDARY_EVENT ||
                        k == BATON_NODE_START_EVENT;
        /* a throw implemented by a job worker sends whatever the worker sends */
        if (!catching && n->task && n->task->impl == BATON_IMPL_JOB) {
            if (!n->task->job_type.text || !*n->task->job_type.text)
                ERR(v->L, n, "message throw event has an empty job type");
            break;
        }
        if (!catching && e->ref == BATON_NONE && v->g->dialect == BATON_DIALECT_C8) {
            ERR(v->L, n,
                "message throw event has no job type (add zeebe:taskDefinition "
                "type=\"...\")");
            break;
        }
        check_message(v, n, e->ref, catching,
                      k == BATON_NODE_CATCH_EVENT || k == BATON_NODE_BOUNDARY_EVENT || in_es);
        break;
    }
    case BATON_EVENT_SIGNAL:
        if (e->ref == BATON_NONE && dangling(v, n))
            break;
        if (e->ref == BATON_NONE)
            ERR(v->L, n, "signal event has no signalRef");
        else if (!v->g->signals[e->ref].name || !*v->g->signals[e->ref].name)
            ERR(v->L, n, "signal '%s' has no name", v->g->signals[e->ref].id);
        break;
    case BATON_EVENT_CONDITIONAL:
        if (!e->condition.text)
            ERR(v->L, n, "conditional event has no condition");
        else
            check_condition(v, &e->condition, n->line, n->id, "condition");
        break;
    case BATON_EVENT_LINK:
        if (k == BATON_NODE_THROW_EVENT && !link_has_catch(v, n))
            ERR(v->L, n, "link '%s' has no catch event in the same scope",
                e->link_name ? e->link_name : "");
        break;
    case BATON_EVENT_ERROR:
        if (k == BATON_NODE_END_EVENT && e->ref == BATON_NONE && dangling(v, n))
            ; /* reported by the loader */
        else if (k == BATON_NODE_END_EVENT && e->ref == BATON_NONE)
            WARN(v, n, "error end event has no errorRef: it throws an error without a code");
        else if (k == BATON_NODE_END_EVENT && !v->g->errors[e->ref].code)
            WARN(v, n, "error '%s' has no errorCode; only catch-all handlers can catch it",
                 v->g->errors[e->ref].id);
        if (k == BATON_NODE_BOUNDARY_EVENT && !(n->flags & BATON_NF_INTERRUPTING))
            ERR(v->L, n, "error boundary events always interrupt (cancelActivity must be true)");
        break;
    default: break;
    }
}

static void check_boundary(vctx *v, const baton_node *n) {
    if (n->attached_to == BATON_NONE)
        return;
    const baton_node *a = &v->g->nodes[n->attached_to];
    if (a->kind == BATON_NODE_EVENT_SUB_PROCESS) {
        ERR(v->L, n,
            "boundary event is attached to event subprocess '%s', which cannot carry "
            "boundary events",
            a->id);
        return;
    }
    if (!(baton_node_kind_flags((baton_node_kind)a->kind) & BATON_KF_ACTIVITY)) {
        ERR(v->L, n, "boundary event is attached to %s '%s', which is not an activity",
            baton_node_kind_xml((baton_node_kind)a->kind), a->id);
        return;
    }
    if (a->scope != n->scope)
        ERR(v->L, n, "boundary event is attached to '%s', which is in another scope", a->id);
    if (!executable(v, n))
        return;
    if (event_kind(n) == BATON_EVENT_CANCEL && a->kind != BATON_NODE_TRANSACTION)
        ERR(v->L, n,
            "a cancel boundary event can only be attached to a transaction, not to %s '%s'",
            baton_node_kind_xml((baton_node_kind)a->kind), a->id);
    if (event_kind(n) == BATON_EVENT_COMPENSATION && n->compensation == BATON_NONE)
        ERR(v->L, n, "compensation boundary event has no associated compensation handler");
    if (event_kind(n) != BATON_EVENT_COMPENSATION && n->n_outgoing == 0)
        WARN(v, n, "boundary event has no outgoing sequence flow");
}

static void check_task(vctx *v, const baton_node *n) {
    baton_node_kind k = (baton_node_kind)n->kind;
    const baton_task_def *t = n->task;
    bool job_kind = k == BATON_NODE_SERVICE_TASK || k == BATON_NODE_SEND_TASK ||
                    k == BATON_NODE_BUSINESS_RULE_TASK;
    if (job_kind) {
        uint8_t impl = t ? t->impl : BATON_IMPL_NONE;
        if (impl == BATON_IMPL_NONE && t && t->impl_detail) {
            /* an implementation the loader already reported as not supported */
        } else if (impl == BATON_IMPL_NONE) {
            if (v->g->dialect == BATON_DIALECT_C8)
                ERR(v->L, n, "%s has no job type (add zeebe:taskDefinition type=\"...\")",
                    baton_node_kind_xml(k));
            else if (v->g->dialect == BATON_DIALECT_C7 && k != BATON_NODE_SEND_TASK)
                ERR(v->L, n,
                    "%s has no implementation (use camunda:type=\"external\" with a "
                    "camunda:topic)",
                    baton_node_kind_xml(k));
            else if (k != BATON_NODE_SEND_TASK || n->message == BATON_NONE)
                WARN(v, n, "%s has no job type; workers fetch its jobs by the element id",
                     baton_node_kind_xml(k));
        } else if (impl == BATON_IMPL_JOB && (!t->job_type.text || !*t->job_type.text)) {
            ERR(v->L, n, "%s has an empty job type", baton_node_kind_xml(k));
        }
    }
    if (k == BATON_NODE_SCRIPT_TASK && t && t->impl == BATON_IMPL_SCRIPT && t->script.expr &&
        !t->result_variable && v->g->dialect == BATON_DIALECT_C8)
        ERR(v->L, n, "script task has no resultVariable");
    if (k == BATON_NODE_SCRIPT_TASK && t && t->impl == BATON_IMPL_SCRIPT && !t->script.text)
        ERR(v->L, n, "script task has no script");
    if (k == BATON_NODE_SEND_TASK && n->message != BATON_NONE)
        check_message(v, n, n->message, false, false);
    if (k == BATON_NODE_RECEIVE_TASK)
        check_message(v, n, n->message, true, true);
    if (k == BATON_NODE_CALL_ACTIVITY) {
        const baton_call_def *c = n->call;
        if (!c || !c->called_element.text || !*c->called_element.text)
            ERR(v->L, n, "call activity has no calledElement (the id of the process to call)");
        else if (c->called_element.expr &&
                 baton_expr_language(c->called_element.expr) == BATON_EXPR_STATIC &&
                 baton_model_find_process(v->m, c->called_element.text) == BATON_NONE)
            WARN(v, n,
                 "calls process '%s', which is not in this file: it must be deployed before the "
                 "call runs",
                 c->called_element.text);
    }
}

static void check_gateway(vctx *v, const baton_node *n) {
    baton_node_kind k = (baton_node_kind)n->kind;
    if (n->n_outgoing == 0) {
        ERR(v->L, n, "%s has no outgoing sequence flow", baton_node_kind_xml(k));
        return;
    }
    if (k == BATON_NODE_EVENT_BASED_GATEWAY) {
        if (n->n_outgoing < 2)
            ERR(v->L, n, "event-based gateway needs at least two outgoing flows");
        for (uint32_t i = 0; i < n->n_outgoing; i++) {
            baton_idx ti = v->g->flows[n->outgoing[i]].target;
            if (ti == BATON_NONE)
                continue; /* dangling targetRef, reported by the loader */
            const baton_node *t = &v->g->nodes[ti];
            int ev = event_kind(t);
            bool ok = (t->kind == BATON_NODE_CATCH_EVENT &&
                       (ev == BATON_EVENT_MESSAGE || ev == BATON_EVENT_TIMER ||
                        ev == BATON_EVENT_SIGNAL || ev == BATON_EVENT_CONDITIONAL)) ||
                      t->kind == BATON_NODE_RECEIVE_TASK;
            if (!ok)
                ERR(v->L, n,
                    "event-based gateway leads to %s '%s'; only intermediate catch events "
                    "(message, timer, signal, conditional) and receive tasks may follow it",
                    baton_node_kind_xml((baton_node_kind)t->kind), t->id);
        }
    }
    if ((k == BATON_NODE_EXCLUSIVE_GATEWAY || k == BATON_NODE_INCLUSIVE_GATEWAY) &&
        n->n_outgoing > 1) {
        for (uint32_t i = 0; i < n->n_outgoing; i++) {
            const baton_flow *f = &v->g->flows[n->outgoing[i]];
            if (!f->condition.text && !f->is_default)
                baton_parser_diag(v->L, BATON_SEV_WARNING, f->line, f->id,
                                  "flow out of %s '%s' has no condition and is not the default: "
                                  "it is always taken when reached",
                                  baton_node_kind_xml(k), n->id);
        }
    }
}

static void check_process(vctx *v, baton_idx pi) {
    const baton_process *p = &v->g->processes[pi];
    if (!p->executable)
        return;
    const baton_scope *root = &v->g->scopes[p->root_scope];
    if (root->n_nodes == 0) {
        baton_parser_diag(v->L, BATON_SEV_WARNING, p->line, p->id, "process has no elements");
        return;
    }
    if (root->n_starts == 0 && root->n_entry == 0)
        baton_parser_diag(v->L, BATON_SEV_ERROR, p->line, p->id,
                          "process has no start event and no element without incoming flows: "
                          "it can never be started");
    uint32_t none_starts = 0;
    for (uint32_t i = 0; i < root->n_starts; i++)
        none_starts += v->g->nodes[root->starts[i]].n_events == 0;
    if (none_starts > 1)
        baton_parser_diag(v->L, BATON_SEV_ERROR, p->line, p->id,
                          "process has %u none start events; a plain start needs exactly one",
                          none_starts);
}

static void check_scope(vctx *v, baton_idx si) {
    const baton_scope *s = &v->g->scopes[si];
    if (s->node == BATON_NONE)
        return;
    const baton_node *n = &v->g->nodes[s->node];
    if (!executable(v, n))
        return;
    if (n->kind == BATON_NODE_EVENT_SUB_PROCESS) {
        if (s->n_starts != 1)
            ERR(v->L, n, "event subprocess must have exactly one start event, not %u", s->n_starts);
        if (n->n_incoming || n->n_outgoing)
            ERR(v->L, n, "event subprocess cannot have incoming or outgoing sequence flows");
        return;
    }
    if (s->n_nodes == 0)
        WARN(v, n, "subprocess is empty");
    else if (s->n_entry == 0)
        ERR(v->L, n, "subprocess has no none start event and no element without incoming flows");
    uint32_t none_starts = 0;
    for (uint32_t i = 0; i < s->n_starts; i++)
        none_starts += v->g->nodes[s->starts[i]].n_events == 0;
    if (none_starts > 1)
        ERR(v->L, n, "subprocess has %u start events; it needs exactly one", none_starts);
}

void baton_parser_validate(loader *L, const baton_model *m) {
    vctx v = {L, m, baton_model_graph(m)};
    const baton_graph *g = v.g;

    uint32_t n_exec = 0;
    for (uint32_t i = 0; i < g->n_processes; i++)
        n_exec += g->processes[i].executable;
    if (g->n_processes == 0)
        baton_parser_diag(L, BATON_SEV_WARNING, 1, NULL, "file defines no process");
    else if (n_exec == 0)
        baton_parser_diag(L, BATON_SEV_WARNING, g->processes[0].line, NULL,
                          "no process is executable: the file can be viewed but not run");

    check_flows(&v);
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const baton_node *n = &g->nodes[i];
        unsigned kf = baton_node_kind_flags((baton_node_kind)n->kind);
        if (n->default_flow != BATON_NONE && g->flows[n->default_flow].source != i)
            ERR(L, n, "default flow '%s' does not leave this element",
                g->flows[n->default_flow].id);
        if (n->kind == BATON_NODE_BOUNDARY_EVENT)
            check_boundary(&v, n);
        if (!executable(&v, n))
            continue;
        if (kf & BATON_KF_EVENT)
            check_events(&v, n);
        if (kf & (BATON_KF_TASK | BATON_KF_ACTIVITY))
            check_task(&v, n);
        if (kf & BATON_KF_GATEWAY)
            check_gateway(&v, n);
        if (n->loop) {
            check_condition(&v, &n->loop->completion, n->line, n->id, "completionCondition");
            check_condition(&v, &n->loop->loop_condition, n->line, n->id, "loopCondition");
        }
        if (n->activation.text)
            check_condition(&v, &n->activation, n->line, n->id, "activationCondition");
        if (n->default_flow != BATON_NONE &&
            (n->kind == BATON_NODE_PARALLEL_GATEWAY || n->kind == BATON_NODE_EVENT_BASED_GATEWAY))
            ERR(L, n, "%s cannot have a default flow",
                baton_node_kind_xml((baton_node_kind)n->kind));
    }
    for (uint32_t i = 0; i < g->n_scopes; i++)
        check_scope(&v, i);
    for (uint32_t i = 0; i < g->n_processes; i++)
        check_process(&v, i);
}
