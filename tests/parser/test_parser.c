/*
 * test_parser.c - the loader on small hand-written files (tests/parser/data):
 * every element kind and attribute it reads ends up in the model graph
 * with the right indices, flow arrays, flags, slot texts and dialect, and
 * every file satisfies the graph invariants the interpreter relies on.
 *
 * Usage: test_parser DATA_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "parser/bpmn.h"
#include "tests/parser/helpers.h"
#include "tests/tap.h"

static const char *data_dir;

/* ---- events ------------------------------------------------------------ */

static void test_events(void) {
    loaded ld;
    if (!load_ok(&ld, data_dir, "events.bpmn", NULL))
        return;
    const baton_graph *g = ld.g;
    TAP_EQ_INT(g->n_processes, 1, "one process");
    TAP_EQ_STR(g->processes[0].id, "events", "process id");
    TAP_EQ_STR(g->processes[0].name, "Events", "process name");
    TAP_OK(g->processes[0].executable, "executable");
    TAP_EQ_INT(g->dialect, BATON_DIALECT_GENERIC, "no vendor extension: generic dialect");
    TAP_EQ_STR(g->definitions_id, "defs_events", "definitions id");
    TAP_EQ_STR(g->target_namespace, "http://example.com/events", "target namespace");

    TAP_EQ_INT(g->n_messages, 2, "two messages");
    TAP_EQ_STR(g->messages[0].id, "msg_order", "message id");
    TAP_EQ_STR(g->messages[0].name, "order-received", "message name");
    TAP_EQ_INT(g->n_signals, 1, "one signal");
    TAP_EQ_STR(g->signals[0].name, "alarm", "signal name");
    TAP_EQ_INT(g->n_errors, 1, "one error");
    TAP_EQ_STR(g->errors[0].name, "Payment failed", "error name");
    TAP_EQ_STR(g->errors[0].code, "PAY-42", "error code");
    TAP_EQ_INT(g->n_escalations, 1, "one escalation");
    TAP_EQ_STR(g->escalations[0].code, "LATE", "escalation code");

    const baton_node *n = node(&ld, "start_none");
    TAP_EQ_INT(n->kind, BATON_NODE_START_EVENT, "none start: kind");
    TAP_EQ_INT(n->n_events, 0, "none start: no event definition");
    TAP_EQ_STR(n->name, "Start", "none start: name");
    n = node(&ld, "start_msg");
    TAP_EQ_INT(event_kind(n), BATON_EVENT_MESSAGE, "message start");
    TAP_EQ_INT(n->events[0].ref, 0, "message start refers to msg_order");
    n = node(&ld, "start_timer");
    TAP_EQ_INT(event_kind(n), BATON_EVENT_TIMER, "timer start");
    TAP_EQ_INT(n->events[0].timer_kind, BATON_TIMER_CYCLE, "timeCycle");
    TAP_EQ_STR(n->events[0].timer.text, "R3/PT10M", "cycle text (xsi:type with a prefix)");
    TAP_OK(n->events[0].timer.expr != NULL, "cycle compiled");
    n = node(&ld, "start_signal");
    TAP_EQ_INT(event_kind(n), BATON_EVENT_SIGNAL, "signal start");
    TAP_EQ_INT(n->events[0].ref, 0, "signal start refers to sig_alarm");
    n = node(&ld, "start_cond");
    TAP_EQ_INT(event_kind(n), BATON_EVENT_CONDITIONAL, "conditional start");
    TAP_EQ_STR(n->events[0].condition.text, "= x > 1", "condition text, &gt; decoded");

    n = node(&ld, "catch_date");
    TAP_EQ_INT(n->events[0].timer_kind, BATON_TIMER_DATE, "timeDate");
    TAP_EQ_STR(n->events[0].timer.text, "2030-01-01T00:00:00Z", "date text");
    n = node(&ld, "catch_duration");
    TAP_EQ_INT(n->events[0].timer_kind, BATON_TIMER_DURATION, "timeDuration");
    TAP_EQ_STR(n->events[0].timer.text, "PT5M", "duration text");
    TAP_EQ_INT(event_kind(node(&ld, "catch_signal")), BATON_EVENT_SIGNAL, "signal catch");
    TAP_EQ_STR(node(&ld, "catch_cond")->events[0].condition.text, "${ready}", "JUEL condition");
    TAP_EQ_INT(node(&ld, "throw_none")->n_events, 0, "none throw");
    TAP_EQ_INT(event_kind(node(&ld, "throw_msg")), BATON_EVENT_MESSAGE, "message throw");
    TAP_EQ_INT(node(&ld, "throw_msg")->events[0].ref, 1, "message throw refers to msg_cancel");
    TAP_EQ_INT(event_kind(node(&ld, "throw_esc")), BATON_EVENT_ESCALATION, "escalation throw");
    n = node(&ld, "throw_comp");
    TAP_EQ_INT(event_kind(n), BATON_EVENT_COMPENSATION, "compensation throw");
    TAP_EQ_INT(n->events[0].activity, node_idx(&ld, "charge"), "activityRef resolved");
    TAP_OK(!n->events[0].wait_for_completion, "waitForCompletion=false");
    n = node(&ld, "throw_link");
    TAP_EQ_INT(event_kind(n), BATON_EVENT_LINK, "link throw");
    TAP_EQ_STR(n->events[0].link_name, "jump", "link name");
    n = node(&ld, "catch_link");
    TAP_EQ_STR(n->events[0].link_name, "jump", "link catch name");
    TAP_OK(!(n->flags & BATON_NF_IMPLICIT_START), "a link catch is not an implicit start");

    n = node(&ld, "charge");
    TAP_EQ_INT(n->n_boundary, 7, "seven boundary events on charge");
    TAP_EQ_INT(n->boundary[0], node_idx(&ld, "b_timer"), "boundary list in document order");
    n = node(&ld, "b_timer");
    TAP_EQ_INT(n->attached_to, node_idx(&ld, "charge"), "attachedToRef");
    TAP_OK(n->flags & BATON_NF_INTERRUPTING, "cancelActivity defaults to true");
    TAP_OK(!(node(&ld, "b_msg")->flags & BATON_NF_INTERRUPTING), "cancelActivity=false");
    TAP_EQ_INT(event_kind(node(&ld, "b_error")), BATON_EVENT_ERROR, "error boundary");
    TAP_EQ_INT(node(&ld, "b_error")->events[0].ref, 0, "errorRef");
    TAP_EQ_INT(event_kind(node(&ld, "b_esc")), BATON_EVENT_ESCALATION, "escalation boundary");
    TAP_EQ_INT(event_kind(node(&ld, "b_signal")), BATON_EVENT_SIGNAL, "signal boundary");
    TAP_EQ_STR(node(&ld, "b_cond")->events[0].condition.text, "= late", "conditional boundary");
    n = node(&ld, "b_comp");
    TAP_EQ_INT(n->compensation, node_idx(&ld, "refund"), "compensation handler via association");
    n = node(&ld, "refund");
    TAP_OK(n->flags & BATON_NF_FOR_COMPENSATION, "isForCompensation");
    TAP_OK(n->flags & BATON_NF_COMPENSATION_HANDLER, "handler flag");
    TAP_OK(!(n->flags & BATON_NF_IMPLICIT_START), "a handler is not an implicit start");

    n = node(&ld, "tx");
    TAP_EQ_INT(n->kind, BATON_NODE_TRANSACTION, "transaction");
    TAP_OK(n->inner_scope != BATON_NONE, "transaction opens a scope");
    const baton_scope *txs = &g->scopes[n->inner_scope];
    TAP_EQ_INT(txs->n_nodes, 3, "transaction holds three nodes");
    TAP_EQ_INT(txs->node, node_idx(&ld, "tx"), "scope points back at its node");
    TAP_EQ_INT(txs->depth, 1, "depth 1");
    TAP_EQ_INT(event_kind(node(&ld, "tx_cancel")), BATON_EVENT_CANCEL, "cancel end event");
    TAP_EQ_INT(node(&ld, "tx_cancel")->scope, n->inner_scope, "cancel end inside the transaction");
    TAP_EQ_INT(node(&ld, "b_cancel")->attached_to, node_idx(&ld, "tx"), "cancel boundary on tx");
    TAP_EQ_INT(flow(&ld, "tx_f1")->scope, n->inner_scope, "inner flow in the inner scope");

    TAP_EQ_INT(event_kind(node(&ld, "end_terminate")), BATON_EVENT_TERMINATE, "terminate end");
    TAP_EQ_INT(event_kind(node(&ld, "end_comp")), BATON_EVENT_COMPENSATION, "compensation end");
    TAP_EQ_INT(event_kind(node(&ld, "end_signal")), BATON_EVENT_SIGNAL, "signal end");
    TAP_OK(node(&ld, "end_none")->flags & BATON_NF_IMPLICIT_END, "end event: implicit end");

    n = node(&ld, "es_interrupting");
    TAP_EQ_INT(n->kind, BATON_NODE_EVENT_SUB_PROCESS, "triggeredByEvent: event subprocess");
    TAP_OK(node(&ld, "es1_start")->flags & BATON_NF_INTERRUPTING, "isInterrupting defaults true");
    TAP_EQ_INT(node(&ld, "es2_start")->flags & BATON_NF_INTERRUPTING, 0, "isInterrupting=false");
    const baton_scope *root = &g->scopes[g->processes[0].root_scope];
    TAP_EQ_INT(root->n_event_subs, 2, "root scope lists its event subprocesses");
    TAP_EQ_INT(root->n_starts, 5, "five start events in the root scope");
    TAP_EQ_INT(root->n_entry, 1, "a plain start enters at the one none start");
    TAP_EQ_INT(root->entry[0], node_idx(&ld, "start_none"), "entry is start_none");

    n = node(&ld, "work");
    TAP_EQ_INT(n->n_incoming, 5, "five incoming flows");
    TAP_EQ_STR(g->flows[n->incoming[0]].id, "f1", "incoming in document order (1)");
    TAP_EQ_STR(g->flows[n->incoming[4]].id, "f5", "incoming in document order (5)");
    TAP_EQ_INT(n->n_outgoing, 1, "one outgoing flow");
    const baton_flow *f = flow(&ld, "f6");
    TAP_EQ_INT(f->source, node_idx(&ld, "work"), "flow source index");
    TAP_EQ_INT(f->target, node_idx(&ld, "catch_date"), "flow target index");

    TAP_EQ_INT(ld.diags.n_errors, 0, "no error");
    TAP_EQ_INT(ld.diags.n_warnings, 0, "no warning");
    check_xml_kept(&ld);
    loaded_fini(&ld);
}

/* ---- tasks, gateways, loops ------------------------------------------- */

static void test_tasks(void) {
    loaded ld;
    if (!load_ok(&ld, data_dir, "tasks.bpmn", NULL))
        return;
    const baton_graph *g = ld.g;
    TAP_EQ_STR(g->exporter, "Hand 1.0", "exporter and version");
    static const struct {
        const char *id;
        baton_node_kind kind;
    } kinds[] = {
        {"plain", BATON_NODE_TASK},
        {"user", BATON_NODE_USER_TASK},
        {"service", BATON_NODE_SERVICE_TASK},
        {"send", BATON_NODE_SEND_TASK},
        {"receive", BATON_NODE_RECEIVE_TASK},
        {"script", BATON_NODE_SCRIPT_TASK},
        {"rules", BATON_NODE_BUSINESS_RULE_TASK},
        {"manual", BATON_NODE_MANUAL_TASK},
        {"call", BATON_NODE_CALL_ACTIVITY},
        {"mi_data", BATON_NODE_SUB_PROCESS},
        {"xor", BATON_NODE_EXCLUSIVE_GATEWAY},
        {"and_split", BATON_NODE_PARALLEL_GATEWAY},
        {"or_split", BATON_NODE_INCLUSIVE_GATEWAY},
        {"event_gw", BATON_NODE_EVENT_BASED_GATEWAY},
        {"complex", BATON_NODE_COMPLEX_GATEWAY},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        TAP_EQ_STR(baton_node_kind_name((baton_node_kind)node(&ld, kinds[i].id)->kind),
                   baton_node_kind_name(kinds[i].kind), "kind of %s", kinds[i].id);

    const baton_node *n = node(&ld, "xor");
    TAP_EQ_STR(n->name, "Which?", "gateway name");
    TAP_EQ_INT(n->default_flow, flow_idx(&ld, "f_xor_default"), "exclusive default flow");
    TAP_OK(flow(&ld, "f_xor_default")->is_default, "default flag on the flow");
    TAP_OK(!flow(&ld, "f_xor_a")->is_default, "other flow not default");
    const baton_flow *f = flow(&ld, "f_xor_a");
    TAP_EQ_STR(f->condition.text, "${amount > 100}", "JUEL condition text");
    TAP_EQ_INT(baton_expr_language(f->condition.expr), BATON_EXPR_JUEL, "compiled as JUEL");
    TAP_EQ_INT(node(&ld, "or_split")->default_flow, flow_idx(&ld, "f_or_default"),
               "inclusive default flow");
    TAP_EQ_STR(flow(&ld, "f_or_a")->condition.text, "= a", "FEEL condition");
    TAP_EQ_INT(baton_expr_language(flow(&ld, "f_or_a")->condition.expr), BATON_EXPR_FEEL,
               "compiled as FEEL");
    n = node(&ld, "complex");
    TAP_EQ_INT(n->default_flow, flow_idx(&ld, "f_cx_default"), "complex default flow");
    TAP_EQ_STR(n->activation.text, "= count >= 2", "activationCondition");
    n = node(&ld, "and_split");
    TAP_EQ_INT(n->n_outgoing, 2, "fork has two outgoing");
    TAP_EQ_INT(node(&ld, "and_join")->n_incoming, 2, "join has two incoming");
    n = node(&ld, "event_gw");
    TAP_EQ_INT(n->n_outgoing, 2, "event gateway has two outgoing");
    TAP_EQ_INT(g->flows[n->outgoing[0]].target, node_idx(&ld, "wait_msg"), "to the message");

    TAP_EQ_INT(node(&ld, "send")->message, 0, "send task messageRef");
    TAP_EQ_INT(node(&ld, "receive")->message, 0, "receive task messageRef");
    n = node(&ld, "script");
    TAP_OK(n->task != NULL, "script task has a task definition");
    if (n->task) {
        TAP_EQ_INT(n->task->impl, BATON_IMPL_SCRIPT, "script implementation");
        TAP_EQ_STR(n->task->script_format, "feel", "scriptFormat");
        TAP_EQ_STR(n->task->script.text, "1 + 2", "script body");
        TAP_EQ_INT(baton_expr_language(n->task->script.expr), BATON_EXPR_FEEL, "script is FEEL");
    }

    n = node(&ld, "loop_std");
    TAP_OK(n->loop != NULL, "standard loop read");
    if (n->loop) {
        TAP_OK(!n->loop->multi_instance, "standard loop is not multi-instance");
        TAP_OK(n->loop->test_before, "testBefore");
        TAP_EQ_STR(n->loop->loop_maximum.text, "5", "loopMaximum");
        TAP_EQ_STR(n->loop->loop_condition.text, "${i < 5}", "loopCondition");
    }
    TAP_EQ_INT(n->default_flow, flow_idx(&ld, "f19"), "an activity's default flow");
    n = node(&ld, "mi_card");
    if (n->loop) {
        TAP_OK(n->loop->multi_instance, "multi-instance");
        TAP_OK(n->loop->sequential, "isSequential");
        TAP_EQ_STR(n->loop->cardinality.text, "3", "loopCardinality");
        TAP_EQ_STR(n->loop->completion.text, "${nrOfCompletedInstances >= 2}",
                   "completionCondition");
    } else {
        TAP_OK(0, "multi-instance read");
    }
    n = node(&ld, "mi_data");
    if (n->loop) {
        TAP_OK(!n->loop->sequential, "parallel by default");
        TAP_EQ_STR(n->loop->collection.text, "items", "loopDataInputRef");
        TAP_EQ_INT(baton_expr_language(n->loop->collection.expr), BATON_EXPR_FEEL,
                   "an identifier is a variable (FEEL)");
        TAP_EQ_STR(n->loop->element_var, "item", "inputDataItem name");
        TAP_EQ_STR(n->loop->output_collection, "results", "loopDataOutputRef");
        TAP_EQ_STR(n->loop->output_element.text, "result", "outputDataItem name");
    } else {
        TAP_OK(0, "multi-instance subprocess read");
    }
    TAP_EQ_INT(g->scopes[n->inner_scope].n_nodes, 2, "multi-instance subprocess scope");
    n = node(&ld, "call");
    if (n->call) {
        TAP_EQ_STR(n->call->called_element.text, "tasks", "calledElement");
        TAP_OK(n->call->propagate_all_child && n->call->propagate_all_parent,
               "plain BPMN call passes all variables");
    } else {
        TAP_OK(0, "call activity read");
    }
    TAP_EQ_INT(ld.diags.n_errors, 0, "no error");
    TAP_OK(has_diag(&ld.diags, BATON_SEV_WARNING, 0, "service", "has no job type"),
           "generic service task without job type: warning");
    check_xml_kept(&ld);
    loaded_fini(&ld);
}

/* ---- Camunda 8 --------------------------------------------------------- */

static void test_zeebe(void) {
    loaded ld;
    if (!load_ok(&ld, data_dir, "zeebe.bpmn", NULL))
        return;
    const baton_graph *g = ld.g;
    TAP_EQ_INT(g->dialect, BATON_DIALECT_C8, "Camunda 8 dialect");
    TAP_EQ_STR(g->processes[0].version_tag, "v7", "zeebe:versionTag");
    TAP_EQ_STR(g->messages[0].correlation_key.text, "= orderId", "subscription correlationKey");

    const baton_node *n = node(&ld, "charge");
    const baton_task_def *t = n->task;
    if (!t) {
        TAP_OK(0, "service task has a task definition");
    } else {
        TAP_EQ_INT(t->impl, BATON_IMPL_JOB, "job worker task");
        TAP_EQ_STR(t->job_type.text, "payment-service", "taskDefinition type");
        TAP_EQ_STR(t->retries.text, "5", "taskDefinition retries");
        TAP_EQ_INT(t->n_headers, 2, "two task headers");
        if (t->n_headers == 2) {
            TAP_EQ_STR(t->headers[0].key, "method", "header key, document order");
            TAP_EQ_STR(t->headers[1].value, "EUR", "header value");
        }
    }
    TAP_OK(n->io != NULL, "ioMapping read");
    if (n->io) {
        TAP_EQ_INT(n->io->n_inputs, 2, "two inputs");
        TAP_EQ_INT(n->io->n_outputs, 1, "one output");
        TAP_EQ_STR(n->io->inputs[0].source.text, "= total * 100", "input source");
        TAP_EQ_STR(n->io->inputs[0].target, "cents", "input target");
        TAP_EQ_STR(n->io->inputs[1].target, "payer.id", "a path target");
        TAP_EQ_STR(n->io->outputs[0].target, "receiptId", "output target");
    }
    t = node(&ld, "approve")->task;
    if (t) {
        TAP_EQ_STR(t->assignee.text, "= manager", "assignee");
        TAP_EQ_STR(t->candidate_groups.text, "sales, finance", "candidateGroups");
        TAP_EQ_STR(t->candidate_users.text, "= reviewers", "candidateUsers");
        TAP_EQ_STR(t->due_date.text, "= now() + duration(\"P1D\")", "dueDate, &quot; decoded");
        TAP_EQ_STR(t->follow_up_date.text, "2030-01-01T00:00:00Z", "followUpDate");
        TAP_EQ_STR(t->form_key, "approve-form", "formDefinition formId");
        TAP_EQ_INT(t->impl, BATON_IMPL_NONE, "a user task is not a job");
    } else {
        TAP_OK(0, "user task definition read");
    }
    t = node(&ld, "compute")->task;
    if (t) {
        TAP_EQ_INT(t->impl, BATON_IMPL_SCRIPT, "zeebe:script");
        TAP_EQ_STR(t->script.text, "= sum(items)", "script expression");
        TAP_EQ_STR(t->result_variable, "total", "resultVariable");
        TAP_EQ_STR(t->script_format, "feel", "script format");
    } else {
        TAP_OK(0, "script task definition read");
    }
    n = node(&ld, "ship_each");
    if (n->call && n->loop) {
        TAP_EQ_STR(n->call->called_element.text, "shipping", "zeebe:calledElement processId");
        TAP_OK(!n->call->propagate_all_child, "propagateAllChildVariables=false");
        TAP_OK(n->call->propagate_all_parent, "propagateAllParentVariables defaults true");
        TAP_OK(n->loop->multi_instance && n->loop->sequential, "sequential multi-instance");
        TAP_EQ_STR(n->loop->collection.text, "= parcels", "inputCollection");
        TAP_EQ_STR(n->loop->element_var, "parcel", "inputElement");
        TAP_EQ_STR(n->loop->output_collection, "tracking", "outputCollection");
        TAP_EQ_STR(n->loop->output_element.text, "= trackingNo", "outputElement");
        TAP_EQ_STR(n->loop->completion.text, "= allShipped", "completionCondition");
    } else {
        TAP_OK(0, "call activity with zeebe loop read");
    }
    t = node(&ld, "notify")->task;
    TAP_OK(t && t->impl == BATON_IMPL_JOB, "send task is a job");
    if (t)
        TAP_EQ_STR(t->job_type.text, "= \"notify-\" + channel", "job type expression");
    t = node(&ld, "done")->task;
    TAP_OK(t && t->impl == BATON_IMPL_JOB, "message end event implemented by a job");
    if (t)
        TAP_EQ_STR(t->job_type.text, "publish-done", "its job type");
    t = node(&ld, "log")->task;
    TAP_OK(t && t->impl == BATON_IMPL_JOB, "script task with a taskDefinition stays a job");
    if (t)
        TAP_EQ_STR(t->job_type.text, "logger", "its job type");
    TAP_OK(!(node(&ld, "paid_late")->flags & BATON_NF_INTERRUPTING), "non-interrupting boundary");
    TAP_EQ_INT(ld.diags.n_errors, 0, "no error");
    TAP_OK(has_diag(&ld.diags, BATON_SEV_WARNING, 54, "ship_each",
                    "calls process 'shipping', "
                    "which is not in this file"),
           "a callee outside the file is a warning");
    loaded_fini(&ld);
}

/* ---- Camunda 7 --------------------------------------------------------- */

static void test_camunda7(void) {
    loaded ld;
    if (!load_ok(&ld, data_dir, "camunda7.bpmn", NULL))
        return;
    const baton_graph *g = ld.g;
    TAP_EQ_INT(g->dialect, BATON_DIALECT_C7, "Camunda 7 dialect");
    TAP_EQ_STR(g->processes[0].version_tag, "1.2", "camunda:versionTag");
    const baton_node *n = node(&ld, "start");
    TAP_OK(n->task && n->task->form_key &&
               strcmp(n->task->form_key, "embedded:app:forms/start.html") == 0,
           "start event formKey");
    n = node(&ld, "fetch");
    const baton_task_def *t = n->task;
    if (t) {
        TAP_EQ_INT(t->impl, BATON_IMPL_JOB, "external task");
        TAP_EQ_STR(t->job_type.text, "fetch-invoice", "camunda:topic");
        TAP_EQ_STR(t->retry_cycle, "R3/PT10M", "failedJobRetryTimeCycle");
    } else {
        TAP_OK(0, "external task read");
    }
    TAP_OK(n->flags & BATON_NF_ASYNC_BEFORE, "asyncBefore");
    TAP_OK(n->flags & BATON_NF_ASYNC_AFTER, "asyncAfter");
    if (n->io && n->io->n_inputs == 3) {
        TAP_EQ_STR(n->io->inputs[0].target, "url", "inputParameter name");
        TAP_EQ_STR(n->io->inputs[0].source.text, "${baseUrl}/invoices", "inputParameter text");
        TAP_EQ_INT(baton_expr_language(n->io->inputs[0].source.expr), BATON_EXPR_JUEL, "JUEL");
        TAP_EQ_INT(baton_expr_language(n->io->inputs[1].source.expr), BATON_EXPR_STATIC,
                   "a constant stays static text");
        TAP_EQ_STR(n->io->inputs[2].source.text, "total * 2", "camunda:script in FEEL");
        TAP_EQ_INT(baton_expr_language(n->io->inputs[2].source.expr), BATON_EXPR_FEEL, "FEEL");
        TAP_EQ_INT(n->io->n_outputs, 1, "outputParameter");
    } else {
        TAP_OK(0, "inputOutput read (3 inputs)");
    }
    t = node(&ld, "review")->task;
    if (t) {
        TAP_EQ_STR(t->assignee.text, "${approver}", "camunda:assignee");
        TAP_EQ_STR(t->candidate_groups.text, "accounting", "camunda:candidateGroups");
        TAP_EQ_STR(t->form_key, "camunda-forms:deployment:review.form", "camunda:formKey");
        TAP_EQ_STR(t->due_date.text, "${due}", "camunda:dueDate");
    } else {
        TAP_OK(0, "user task read");
    }
    n = node(&ld, "per_item");
    const baton_call_def *c = n->call;
    if (c) {
        TAP_EQ_STR(c->called_element.text, "check-item", "calledElement");
        TAP_EQ_STR(c->business_key.text, "${execution.processBusinessKey}", "businessKey");
        TAP_EQ_INT(c->n_in, 3, "camunda:in mappings (businessKey apart)");
        TAP_EQ_INT(c->n_out, 1, "camunda:out mappings");
        if (c->n_in == 3) {
            TAP_EQ_STR(c->in[0].target, "item", "in target");
            TAP_EQ_STR(c->in[0].source.text, "item", "in source");
            TAP_EQ_STR(c->in[1].source.text, "${amount * 2}", "in sourceExpression");
            TAP_OK(c->in[1].local, "local=\"true\"");
            TAP_OK(c->in[2].all, "variables=\"all\"");
        }
        TAP_OK(c->propagate_all_parent, "variables=all passes every parent variable");
        TAP_OK(!c->propagate_all_child, "Camunda 7 passes nothing back unless mapped");
    } else {
        TAP_OK(0, "call activity read");
    }
    if (n->loop) {
        TAP_EQ_STR(n->loop->collection.text, "${items}", "camunda:collection");
        TAP_EQ_STR(n->loop->element_var, "item", "camunda:elementVariable");
    } else {
        TAP_OK(0, "camunda multi-instance read");
    }
    TAP_OK(n->flags & BATON_NF_ASYNC_BEFORE, "asyncBefore on a call activity");
    n = node(&ld, "invalid");
    TAP_EQ_STR(n->events[0].code_var, "code", "errorCodeVariable");
    TAP_EQ_STR(n->events[0].message_var, "why", "errorMessageVariable");
    TAP_OK(node(&ld, "gw")->flags & BATON_NF_ASYNC_BEFORE, "asyncBefore on a gateway");
    t = node(&ld, "fix")->task;
    if (t) {
        TAP_EQ_INT(t->impl, BATON_IMPL_SCRIPT, "JUEL script");
        TAP_EQ_INT(baton_expr_language(t->script.expr), BATON_EXPR_JUEL, "compiled as JUEL");
        TAP_EQ_STR(t->result_variable, "ok", "camunda:resultVariable");
    } else {
        TAP_OK(0, "script task read");
    }
    TAP_EQ_INT(ld.diags.n_errors, 0, "no error");
    loaded_fini(&ld);
}

/*
 * The same file with `camunda:` bound to Activiti's namespace, as Camunda
 * Modeler 1.x and 2.x wrote it: read alike, Camunda 7 dialect.
 */
static void test_activiti_namespace(void) {
    char path[1024];
    data_path(path, sizeof path, data_dir, "camunda7.bpmn");
    size_t len = 0;
    char *xml = slurp(path, &len);
    const char *uri = "http://camunda.org/schema/1.0/bpmn";
    char *at = xml ? strstr(xml, uri) : NULL;
    TAP_OK(at != NULL, "camunda7.bpmn declares the Camunda namespace");
    if (!at) {
        baton_free(xml);
        return;
    }
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_append(&b, xml, (size_t)(at - xml));
    baton_buf_append(&b, "http://activiti.org/bpmn", strlen("http://activiti.org/bpmn"));
    baton_buf_append(&b, at + strlen(uri), len - (size_t)(at - xml) - strlen(uri));
    baton_free(xml);
    baton_diags d;
    baton_diags_init(&d, 0);
    baton_error err;
    baton_error_clear(&err);
    baton_model *m = NULL;
    baton_load_opts o = {.name = "activiti.bpmn"};
    const char *text = baton_buf_str(&b);
    baton_status st = baton_bpmn_load(text, strlen(text), &o, &d, &m, &err);
    TAP_EQ_INT(st, BATON_OK, "loads");
    if (m) {
        const baton_graph *g = baton_model_graph(m);
        TAP_EQ_INT(g->dialect, BATON_DIALECT_C7, "Camunda 7 dialect");
        baton_idx i = baton_model_find_node(m, "fetch");
        const baton_task_def *t = i != BATON_NONE ? g->nodes[i].task : NULL;
        TAP_OK(t && t->impl == BATON_IMPL_JOB && t->job_type.text &&
                   strcmp(t->job_type.text, "fetch-invoice") == 0,
               "activiti:topic read as camunda:topic");
        TAP_OK(i != BATON_NONE && (g->nodes[i].flags & BATON_NF_ASYNC_BEFORE),
               "activiti:asyncBefore");
        i = baton_model_find_node(m, "review");
        t = i != BATON_NONE ? g->nodes[i].task : NULL;
        TAP_OK(t && t->assignee.text && strcmp(t->assignee.text, "${approver}") == 0,
               "activiti:assignee");
    }
    baton_model_unref(m);
    baton_diags_fini(&d);
    baton_buf_fini(&b);
}

static void test_camunda7_java(void) {
    baton_diags d;
    baton_diags_init(&d, 0);
    baton_error err;
    baton_error_clear(&err);
    baton_model *m = NULL;
    char path[1024];
    data_path(path, sizeof path, data_dir, "camunda7-java.bpmn");
    baton_load_opts o = {.name = "camunda7-java.bpmn"};
    baton_status st = baton_bpmn_load_file(path, &o, &d, &m, &err);
    TAP_EQ_INT(st, BATON_MODEL, "Java implementations make an executable process invalid");
    TAP_EQ_INT(d.n_errors, 5, "five elements named");
    TAP_OK(has_diag(&d, BATON_SEV_ERROR, 10, "by_class",
                    "camunda:class=\"org.example.Charge\" is a Java class, which the engine "
                    "cannot execute"),
           "camunda:class named");
    TAP_OK(has_diag(&d, BATON_SEV_ERROR, 12, "by_expr", "is a Java expression"),
           "camunda:expression named");
    TAP_OK(has_diag(&d, BATON_SEV_ERROR, 14, "by_delegate", "is a Java delegate expression"),
           "camunda:delegateExpression named");
    TAP_OK(has_diag(&d, BATON_SEV_ERROR, 16, "by_type",
                    "camunda:type=\"mail\" is not supported (only \"external\")"),
           "camunda:type other than external named");
    TAP_OK(has_diag(&d, BATON_SEV_ERROR, 19, "throw", "camunda:class=\"org.example.Notify\""),
           "Java class on a message throw event named");
    TAP_EQ_STR(err.where, "camunda7-java.bpmn:10: element 'by_class'", "first error's where");
    baton_diags_fini(&d);

    /* a harness that stubs such elements loads the file with warnings */
    loaded ld;
    baton_load_opts stub = {.unexecutable_as_warnings = true};
    if (!load_ok(&ld, data_dir, "camunda7-java.bpmn", &stub))
        return;
    TAP_EQ_INT(ld.diags.n_warnings, 5, "five warnings instead");
    const baton_task_def *t = node(&ld, "by_class")->task;
    TAP_OK(t && t->impl == BATON_IMPL_JAVA_CLASS, "impl recorded: Java class");
    if (t)
        TAP_EQ_STR(t->impl_detail, "org.example.Charge", "class name kept");
    t = node(&ld, "by_expr")->task;
    TAP_OK(t && t->impl == BATON_IMPL_JAVA_EXPR, "impl recorded: Java expression");
    t = node(&ld, "throw")->task;
    TAP_OK(t && t->impl == BATON_IMPL_JAVA_CLASS, "message throw impl recorded");
    loaded_fini(&ld);
}

/* ---- several processes, collaborations -------------------------------- */

static void test_collaboration(void) {
    loaded ld;
    if (!load_ok(&ld, data_dir, "collaboration.bpmn", NULL))
        return;
    const baton_graph *g = ld.g;
    TAP_EQ_INT(g->n_processes, 3, "three processes");
    baton_idx c = baton_model_find_process(ld.m, "customer");
    baton_idx s = baton_model_find_process(ld.m, "shop");
    baton_idx a = baton_model_find_process(ld.m, "archive");
    TAP_OK(c != BATON_NONE && s != BATON_NONE && a != BATON_NONE, "found by id");
    if (c == BATON_NONE || s == BATON_NONE || a == BATON_NONE)
        goto done;
    TAP_EQ_STR(g->processes[c].participant, "Customer", "participant name");
    TAP_EQ_STR(g->processes[s].participant, "Shop", "participant name");
    TAP_OK(g->processes[a].participant == NULL, "no participant");
    TAP_OK(!g->processes[c].executable, "customer is a drawing");
    TAP_OK(g->processes[s].executable, "shop runs");
    TAP_EQ_INT(g->scopes[g->processes[s].root_scope].n_nodes, 3,
               "text annotations and lanes are not nodes");
    TAP_EQ_INT(node(&ld, "recv_req")->process, s, "node knows its process");
    TAP_EQ_INT(node(&ld, "send_req")->process, c, "node knows its process");
    TAP_EQ_INT(g->scopes[g->processes[a].root_scope].n_nodes, 0, "empty process");
    TAP_EQ_INT(node(&ld, "s_start")->events[0].ref, 0, "message shared across processes");
    TAP_EQ_INT(ld.diags.n_errors, 0, "no error");
    TAP_OK(has_diag(&ld.diags, BATON_SEV_WARNING, 14, "p_partner",
                    "participant's processRef 'tns:partner_process' is not a process in this file"),
           "a pool showing a process of another file: warning");
done:
    loaded_fini(&ld);
}

/* ---- namespaces --------------------------------------------------------- */

static void test_namespaces(void) {
    loaded ld;
    if (!load_ok(&ld, data_dir, "namespaces.bpmn", NULL))
        return;
    const baton_graph *g = ld.g;
    TAP_EQ_INT(g->n_nodes, 6, "six BPMN nodes, whatever their prefix");
    TAP_EQ_INT(g->n_flows, 6, "six flows");
    TAP_EQ_INT(baton_model_find_node(ld.m, "vendor_task"), BATON_NONE,
               "a:task with a: re-bound to a vendor namespace is skipped");
    TAP_EQ_INT(baton_model_find_flow(ld.m, "ghost_flow"), BATON_NONE,
               "BPMN-namespace content inside extensionElements is skipped");
    TAP_OK(node(&ld, "t1")->name == NULL, "the vendor copy of t1 did not replace it");
    TAP_EQ_STR(node(&ld, "t2")->name, "default ns", "BPMN as the default namespace");
    TAP_EQ_STR(node(&ld, "t3")->name, "prefix b", "BPMN under a local prefix");
    TAP_EQ_STR(flow(&ld, "f5")->condition.text, "= go", "prefixed xsi:type");
    TAP_EQ_STR(flow(&ld, "f6")->condition.text, "= stay", "xsi under another prefix");
    TAP_OK(flow(&ld, "f6")->is_default, "default flow");
    TAP_EQ_INT(node(&ld, "end")->n_incoming, 2, "flows counted, <incoming xmlns=\"\"> ignored");
    TAP_EQ_INT(ld.diags.n_errors, 0, "no duplicate-id error from the skipped copy");
    TAP_OK(has_diag(&ld.diags, BATON_SEV_WARNING, 29, "f6", "default flow has a condition"),
           "a default flow with a condition is a warning");
    loaded_fini(&ld);
}

/* ---- encodings ---------------------------------------------------------- */

static void check_names(const char *file, const char *task_name) {
    loaded ld;
    if (!load_ok(&ld, data_dir, file, NULL))
        return;
    TAP_EQ_STR(ld.g->processes[0].name, "Caf\xc3\xa9", "%s: process name in UTF-8", file);
    TAP_EQ_STR(node(&ld, "task")->name, task_name, "%s: task name in UTF-8", file);
    TAP_EQ_INT(node(&ld, "task")->line, 7, "%s: line numbers", file);
    TAP_EQ_INT(flow(&ld, "f2")->line, 8, "%s: line numbers after it", file);
    check_xml_kept(&ld);
    loaded_fini(&ld);
}

static void test_encodings(void) {
    check_names("enc-utf8-bom.bpmn", "Caf\xc3\xa9 \xe2\x82\xac \xe2\x9c\x93");
    check_names("enc-latin1.bpmn", "Caf\xc3\xa9 \xc2\xbd");
    check_names("enc-cp1252.bpmn", "Caf\xc3\xa9 \xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d");
    check_names("enc-crlf.bpmn", "Caf\xc3\xa9");
    check_names("enc-charref.bpmn", "Caf\xc3\xa9 \xe2\x82\xac & <b> \"q\" 's'");
}

/* ---- processes that are not executable ------------------------------- */

static void test_not_executable(void) {
    loaded ld;
    if (!load_ok(&ld, data_dir, "not-executable.bpmn", NULL))
        return;
    TAP_EQ_INT(ld.diags.n_errors, 0, "drawings load without error");
    TAP_OK(has_diag(&ld.diags, BATON_SEV_WARNING, 6, NULL,
                    "no process is executable: the file can be viewed but not run"),
           "one warning says the file cannot run");
    TAP_OK(has_diag(&ld.diags, BATON_SEV_WARNING, 15, "unmarked",
                    "process has no isExecutable attribute and is treated as not executable"),
           "a missing isExecutable is named");
    TAP_OK(!ld.g->processes[1].executable, "absent isExecutable reads as false");
    TAP_EQ_STR(flow(&ld, "f3")->condition.text, "if it rains", "prose condition kept as text");
    loaded_fini(&ld);
}

/* ---- unnamed flows, memory-only loads --------------------------------- */

static void test_unnamed_flows(void) {
    static const char xml[] =
        "<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'>\n"
        "<process id='p' isExecutable='true'>\n"
        "<startEvent id='s'/><sequenceFlow sourceRef='s' targetRef='t'/><sequenceFlow "
        "sourceRef='s' targetRef='t'/>\n"
        "<task id='t'/>\n"
        "</process></definitions>\n";
    baton_diags d;
    baton_diags_init(&d, 0);
    baton_model *m = NULL;
    baton_error err;
    baton_error_clear(&err);
    baton_status st = baton_bpmn_load(xml, sizeof xml - 1, NULL, &d, &m, &err);
    TAP_EQ_INT(st, BATON_OK, "sequence flows without an id load (the id is optional)");
    if (m) {
        const baton_graph *g = baton_model_graph(m);
        TAP_EQ_INT(g->n_flows, 2, "both flows kept");
        TAP_EQ_STR(g->flows[0].id, "sequenceFlow@3", "made-up id names the line");
        TAP_EQ_STR(g->flows[1].id, "sequenceFlow@3.2", "and stays unique");
        TAP_EQ_INT(g->nodes[1].n_incoming, 2, "both reach the task");
        TAP_EQ_STR(baton_model_source(m), "<input>", "source name without a name");
    }
    baton_model_unref(m);
    baton_diags_fini(&d);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/parser/data";
    TAP_RUN(test_events);
    TAP_RUN(test_tasks);
    TAP_RUN(test_zeebe);
    TAP_RUN(test_camunda7);
    TAP_RUN(test_activiti_namespace);
    TAP_RUN(test_camunda7_java);
    TAP_RUN(test_collaboration);
    TAP_RUN(test_namespaces);
    TAP_RUN(test_encodings);
    TAP_RUN(test_not_executable);
    TAP_RUN(test_unnamed_flows);
    return tap_done();
}
