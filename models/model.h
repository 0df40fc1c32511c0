/*
 * model.h - the immutable, reference-counted process model.
 *
 * One baton_model is one loaded BPMN definitions file: its processes, the
 * flow elements of every scope, sequence flows, event definitions and the
 * message/signal/error/escalation definitions, plus the original XML kept
 * byte-for-byte (the UI draws it). Element ids are interned to dense
 * indices: every cross-reference below is a baton_idx into one of the
 * graph's arrays, and every node carries its flows as index arrays, so the
 * interpreter never compares strings or walks XML.
 *
 * Ownership: baton_model owns everything reachable from its graph (one
 * arena) and is shared by reference count; the graph is never changed after
 * baton_builder_finish(), so readers on any thread need no locks.
 *
 * Building: the parser (or a test) creates a baton_builder, adds elements
 * and cross-references, then calls baton_builder_finish(), which computes
 * the per-node flow arrays, the scope trees and the id index.
 */
#ifndef BATON_MODELS_MODEL_H
#define BATON_MODELS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "expr/expr.h"

typedef uint32_t baton_idx;
#define BATON_NONE ((baton_idx)UINT32_MAX)

/* Node kind categories (bit flags in the kind table). */
#define BATON_KF_EVENT    0x01u
#define BATON_KF_ACTIVITY 0x02u
#define BATON_KF_TASK     0x04u
#define BATON_KF_GATEWAY  0x08u
#define BATON_KF_SCOPE    0x10u /* opens a nested scope of flow elements */

/* clang-format off: a table, aligned by hand */
/*       kind                  XML local name             categories */
#define BATON_NODE_KIND_MAP(X)                                                                     \
    X(START_EVENT, "startEvent", BATON_KF_EVENT)                                                   \
    X(END_EVENT, "endEvent", BATON_KF_EVENT)                                                       \
    X(CATCH_EVENT, "intermediateCatchEvent", BATON_KF_EVENT)                                       \
    X(THROW_EVENT, "intermediateThrowEvent", BATON_KF_EVENT)                                       \
    X(BOUNDARY_EVENT, "boundaryEvent", BATON_KF_EVENT)                                             \
    X(TASK, "task", BATON_KF_ACTIVITY | BATON_KF_TASK)                                             \
    X(USER_TASK, "userTask", BATON_KF_ACTIVITY | BATON_KF_TASK)                                    \
    X(SERVICE_TASK, "serviceTask", BATON_KF_ACTIVITY | BATON_KF_TASK)                              \
    X(SEND_TASK, "sendTask", BATON_KF_ACTIVITY | BATON_KF_TASK)                                    \
    X(RECEIVE_TASK, "receiveTask", BATON_KF_ACTIVITY | BATON_KF_TASK)                              \
    X(SCRIPT_TASK, "scriptTask", BATON_KF_ACTIVITY | BATON_KF_TASK)                                \
    X(BUSINESS_RULE_TASK, "businessRuleTask", BATON_KF_ACTIVITY | BATON_KF_TASK)                   \
    X(MANUAL_TASK, "manualTask", BATON_KF_ACTIVITY | BATON_KF_TASK)                                \
    X(CALL_ACTIVITY, "callActivity", BATON_KF_ACTIVITY)                                            \
    X(SUB_PROCESS, "subProcess", BATON_KF_ACTIVITY | BATON_KF_SCOPE)                               \
    X(EVENT_SUB_PROCESS, "subProcess", BATON_KF_SCOPE)                                             \
    X(TRANSACTION, "transaction", BATON_KF_ACTIVITY | BATON_KF_SCOPE)                              \
    X(AD_HOC_SUB_PROCESS, "adHocSubProcess", BATON_KF_ACTIVITY | BATON_KF_SCOPE)                   \
    X(EXCLUSIVE_GATEWAY, "exclusiveGateway", BATON_KF_GATEWAY)                                     \
    X(PARALLEL_GATEWAY, "parallelGateway", BATON_KF_GATEWAY)                                       \
    X(INCLUSIVE_GATEWAY, "inclusiveGateway", BATON_KF_GATEWAY)                                     \
    X(EVENT_BASED_GATEWAY, "eventBasedGateway", BATON_KF_GATEWAY)                                  \
    X(COMPLEX_GATEWAY, "complexGateway", BATON_KF_GATEWAY)
/* clang-format on */

typedef enum baton_node_kind {
#define BATON_X(k, xml, cat) BATON_NODE_##k,
    BATON_NODE_KIND_MAP(BATON_X)
#undef BATON_X
        BATON_NODE_KIND_COUNT
} baton_node_kind;

/* clang-format off: a table, aligned by hand */
#define BATON_EVENT_KIND_MAP(X)                                                                    \
    X(NONE, "none")                                                                                \
    X(MESSAGE, "message")                                                                          \
    X(TIMER, "timer")                                                                              \
    X(SIGNAL, "signal")                                                                            \
    X(ERROR, "error")                                                                              \
    X(ESCALATION, "escalation")                                                                    \
    X(CONDITIONAL, "conditional")                                                                  \
    X(TERMINATE, "terminate")                                                                      \
    X(LINK, "link")                                                                                \
    X(COMPENSATION, "compensate")                                                                  \
    X(CANCEL, "cancel")
/* clang-format on */

typedef enum baton_event_kind {
#define BATON_X(k, name) BATON_EVENT_##k,
    BATON_EVENT_KIND_MAP(BATON_X)
#undef BATON_X
        BATON_EVENT_KIND_COUNT
} baton_event_kind;

typedef enum baton_timer_kind {
    BATON_TIMER_NONE = 0,
    BATON_TIMER_DATE,     /* timeDate: one instant */
    BATON_TIMER_DURATION, /* timeDuration: relative to activation */
    BATON_TIMER_CYCLE,    /* timeCycle: ISO 8601 repeating interval or cron */
} baton_timer_kind;

/* The modelling tool dialect a file was written for (semantics follow it). */
typedef enum baton_dialect {
    BATON_DIALECT_GENERIC = 0, /* no vendor extensions: plain BPMN, Camunda 8 choices */
    BATON_DIALECT_C8,          /* zeebe: extensions or executionPlatform "Camunda Cloud" */
    BATON_DIALECT_C7,          /* camunda: extensions or executionPlatform "Camunda Platform" */
} baton_dialect;

/* Node flags. */
#define BATON_NF_INTERRUPTING                                                                      \
    0x0001u /* boundary cancelActivity / event-subprocess start isInterrupting */
#define BATON_NF_FOR_COMPENSATION     0x0002u /* isForCompensation activity */
#define BATON_NF_ASYNC_BEFORE         0x0004u /* camunda:asyncBefore */
#define BATON_NF_ASYNC_AFTER          0x0008u /* camunda:asyncAfter */
#define BATON_NF_INSTANTIATE          0x0010u /* receive task / event gateway instantiate */
#define BATON_NF_PARALLEL_MULTIPLE    0x0020u /* parallelMultiple event */
#define BATON_NF_IMPLICIT_START       0x0040u /* no incoming flow: activated when its scope starts */
#define BATON_NF_IMPLICIT_END         0x0080u /* no outgoing flow: its token ends here */
#define BATON_NF_MULTIPLE_EVENTS      0x0100u /* more than one event definition (BPMN "multiple") */
#define BATON_NF_COMPENSATION_HANDLER 0x0200u /* target of a compensation association */

/* An expression slot as written in the diagram (absent: text == NULL). */
typedef struct baton_slot {
    const char *text;       /* source text, NUL-terminated */
    const baton_expr *expr; /* compiled form, owned by the model; NULL when absent */
    uint32_t line;          /* line of the element that holds the text */
} baton_slot;

typedef struct baton_event_def {
    uint8_t kind;             /* baton_event_kind */
    uint8_t timer_kind;       /* baton_timer_kind, for BATON_EVENT_TIMER */
    bool wait_for_completion; /* compensation throw */
    baton_idx ref;    /* message/signal/error/escalation index; BATON_NONE = catch-all or unnamed */
    baton_slot timer; /* timeDate / timeDuration / timeCycle */
    baton_slot condition;    /* conditional */
    const char *link_name;   /* link */
    baton_idx activity;      /* compensation activityRef node, BATON_NONE = whole scope */
    const char *code_var;    /* camunda:errorCodeVariable / escalationCodeVariable */
    const char *message_var; /* camunda:errorMessageVariable */
} baton_event_def;

typedef struct baton_header {
    const char *key;
    const char *value;
} baton_header;

/* One variable mapping: evaluate `source`, store the result as `target`. */
typedef struct baton_mapping {
    baton_slot source;  /* expression or static value; absent = copy the variable named target */
    const char *target; /* variable name (zeebe allows a path a.b) */
    bool all;           /* camunda:in/out variables="all" */
    bool local;         /* camunda:in/out local="true" */
} baton_mapping;

typedef struct baton_io_def {
    uint32_t n_inputs, n_outputs;
    const baton_mapping *inputs;
    const baton_mapping *outputs;
} baton_io_def;

/* How a task is implemented (Camunda 7 offers several; some are Java-only). */
typedef enum baton_impl {
    BATON_IMPL_NONE = 0,   /* plain: task/manual task/user task/receive task */
    BATON_IMPL_JOB,        /* job for an external worker (zeebe type or camunda:type=external) */
    BATON_IMPL_SCRIPT,     /* script (FEEL expression or script body) */
    BATON_IMPL_JAVA_CLASS, /* camunda:class: Java only, not executable here */
    BATON_IMPL_JAVA_EXPR,  /* camunda:expression / delegateExpression: Java beans */
    BATON_IMPL_CONNECTOR,  /* camunda:connector */
    BATON_IMPL_DECISION,   /* business rule task calling a DMN decision */
} baton_impl;

typedef struct baton_task_def {
    uint8_t impl;            /* baton_impl */
    const char *impl_detail; /* class name / expression, for the "cannot execute" message */
    baton_slot job_type;     /* zeebe:taskDefinition type, camunda:topic */
    baton_slot retries;      /* zeebe:taskDefinition retries */
    const char *retry_cycle; /* camunda:failedJobRetryTimeCycle, e.g. "R3/PT10M" */
    uint32_t n_headers;
    const baton_header *headers; /* zeebe:taskHeaders; document order */
    baton_slot script;           /* zeebe:script expression, or <script> body */
    const char *script_format;
    const char *result_variable;
    baton_slot assignee; /* zeebe:assignmentDefinition / camunda:assignee */
    baton_slot candidate_groups;
    baton_slot candidate_users;
    baton_slot due_date;
    baton_slot follow_up_date;
    const char *form_key;    /* camunda:formKey, zeebe:formDefinition formKey/formId */
    const char *decision_id; /* zeebe:calledDecision / camunda:decisionRef */
} baton_task_def;

typedef struct baton_call_def {
    baton_slot called_element; /* process id: static text or expression */
    bool propagate_all_child;  /* copy every child variable back on completion */
    bool propagate_all_parent; /* copy every parent variable into the child */
    uint32_t n_in, n_out;
    const baton_mapping *in;  /* camunda:in */
    const baton_mapping *out; /* camunda:out */
    baton_slot business_key;  /* camunda:in businessKey="..." */
} baton_call_def;

typedef struct baton_loop_def {
    bool multi_instance; /* false: standardLoopCharacteristics */
    bool sequential;
    bool test_before;              /* standard loop */
    baton_slot cardinality;        /* loopCardinality */
    baton_slot collection;         /* zeebe inputCollection, camunda:collection, loopDataInputRef */
    const char *element_var;       /* zeebe inputElement, camunda:elementVariable, inputDataItem */
    const char *output_collection; /* zeebe outputCollection, loopDataOutputRef */
    baton_slot output_element;     /* zeebe outputElement, outputDataItem */
    baton_slot completion;         /* completionCondition */
    baton_slot loop_condition;     /* standard loop */
    baton_slot loop_maximum;       /* standard loop */
} baton_loop_def;

typedef struct baton_node {
    const char *id;
    const char *name; /* NULL when unnamed */
    uint32_t line;
    uint8_t kind;           /* baton_node_kind */
    uint16_t flags;         /* BATON_NF_* */
    baton_idx process;      /* owning process */
    baton_idx scope;        /* scope the node lives in */
    baton_idx inner_scope;  /* scope this node opens (subprocesses), else BATON_NONE */
    baton_idx attached_to;  /* boundary event: the activity; else BATON_NONE */
    baton_idx default_flow; /* gateway/activity default flow, else BATON_NONE */
    baton_idx message;      /* send/receive task messageRef, else BATON_NONE */
    baton_idx compensation; /* boundary compensation event: its handler activity */
    uint32_t n_incoming, n_outgoing, n_boundary, n_events;
    const baton_idx *incoming;     /* flow indices, document order */
    const baton_idx *outgoing;     /* flow indices, document order */
    const baton_idx *boundary;     /* boundary event nodes attached to this activity */
    const baton_event_def *events; /* n_events definitions; 0 = a "none" event */
    const baton_task_def *task;    /* tasks with implementation details, else NULL */
    const baton_call_def *call;    /* call activities, else NULL */
    const baton_loop_def *loop;    /* loop/multi-instance, else NULL */
    const baton_io_def *io;        /* input/output mappings, else NULL */
    baton_slot activation;         /* complex gateway activationCondition */
} baton_node;

typedef struct baton_flow {
    const char *id;
    const char *name;
    uint32_t line;
    baton_idx source; /* node */
    baton_idx target; /* node */
    baton_idx scope;
    baton_slot condition;
    bool is_default; /* the source names this flow as its default */
} baton_flow;

typedef struct baton_scope {
    baton_idx node;   /* the subprocess node; BATON_NONE for a process's root scope */
    baton_idx parent; /* enclosing scope; BATON_NONE for a root scope */
    baton_idx process;
    uint32_t depth; /* 0 for a root scope */
    uint32_t n_nodes, n_starts, n_entry, n_event_subs;
    const baton_idx *nodes;      /* direct child nodes, document order */
    const baton_idx *starts;     /* start events directly in this scope */
    const baton_idx *entry;      /* what a plain start activates: none start events, else the
                                    implicit-start nodes */
    const baton_idx *event_subs; /* event subprocesses directly in this scope */
} baton_scope;

typedef struct baton_process {
    const char *id;
    const char *name;
    uint32_t line;
    bool executable;
    baton_idx root_scope;
    const char *participant; /* name of the collaboration participant, if any */
    const char *version_tag; /* zeebe:versionTag / camunda:versionTag */
} baton_process;

typedef struct baton_message {
    const char *id;
    const char *name;           /* NULL when missing */
    baton_slot name_expr;       /* the name when it is an expression ("= ...") */
    baton_slot correlation_key; /* zeebe:subscription correlationKey */
    uint32_t line;
} baton_message;

/* signals, BPMN errors and escalations: a name and (errors, escalations) a code */
typedef struct baton_named_def {
    const char *id;
    const char *name;
    const char *code; /* errorCode / escalationCode; NULL when absent */
    uint32_t line;
} baton_named_def;

typedef struct baton_corr_retrieval {
    baton_idx message;
    baton_slot path; /* messagePath (an expression over the message payload) */
} baton_corr_retrieval;

typedef struct baton_corr_property {
    const char *id;
    const char *name;
    uint32_t n_retrievals;
    const baton_corr_retrieval *retrievals;
} baton_corr_property;

typedef struct baton_corr_key {
    const char *id; /* may be NULL: keys are often named only */
    const char *name;
    uint32_t n_props;
    const baton_idx *props; /* correlation property indices */
} baton_corr_key;

/* The read-only view of a finished model. */
typedef struct baton_graph {
    uint32_t n_nodes, n_flows, n_scopes, n_processes;
    uint32_t n_messages, n_signals, n_errors, n_escalations;
    uint32_t n_corr_props, n_corr_keys;
    const baton_node *nodes;
    const baton_flow *flows;
    const baton_scope *scopes;
    const baton_process *processes;
    const baton_message *messages;
    const baton_named_def *signals;
    const baton_named_def *errors;
    const baton_named_def *escalations;
    const baton_corr_property *corr_props;
    const baton_corr_key *corr_keys;
    uint8_t dialect; /* baton_dialect */
    const char *definitions_id;
    const char *target_namespace;
    const char *exporter; /* exporter + exporterVersion, if given */
} baton_graph;

typedef struct baton_model baton_model;

/* Kind table lookups. */
const char *baton_node_kind_xml(baton_node_kind k);
const char *baton_node_kind_name(baton_node_kind k); /* "USER_TASK" style */
unsigned baton_node_kind_flags(baton_node_kind k);
const char *baton_event_kind_name(baton_event_kind k);
const char *baton_dialect_name(baton_dialect d);

/* Shared ownership. _unref(NULL) is a no-op; the last unref frees. */
baton_model *baton_model_ref(baton_model *m);
void baton_model_unref(baton_model *m);

const baton_graph *baton_model_graph(const baton_model *m);
/* The original XML, byte-for-byte (NUL-terminated for convenience). */
const char *baton_model_xml(const baton_model *m, size_t *len_out);
/* The name the model was loaded under (a file path or a deployment name). */
const char *baton_model_source(const baton_model *m);
/* Element lookup by id: a node, flow or process index, or BATON_NONE. */
baton_idx baton_model_find_node(const baton_model *m, const char *id);
baton_idx baton_model_find_flow(const baton_model *m, const char *id);
baton_idx baton_model_find_process(const baton_model *m, const char *id);
/* Bytes held by the model: graph, strings, expressions, index; excludes the XML copy. */
size_t baton_model_memory(const baton_model *m);

/* ---- building -------------------------------------------------------- */

typedef struct baton_builder baton_builder;

/* `xml` is copied (the model keeps it byte-for-byte); may be NULL for tests. */
baton_builder *baton_builder_new(const char *source, const char *xml, size_t xml_len);
void baton_builder_free(baton_builder *b);

/* Arena copies owned by the model being built (NULL on out of memory). */
char *baton_builder_strdup(baton_builder *b, const char *s);
char *baton_builder_strndup(baton_builder *b, const char *s, size_t n);
void *baton_builder_alloc(baton_builder *b, size_t n); /* zeroed */

/*
 * Compile `text` into `slot` (the model owns the compiled expression). On a
 * syntax error the slot is left absent and BATON_EXPR returned with err set.
 */
baton_status baton_builder_expr(baton_builder *b, baton_slot *slot, const char *text, uint32_t line,
                                baton_expr_mode mode, baton_error *err);

/*
 * Add elements. Ids must be unique per kind of index (nodes, flows,
 * processes); a duplicate returns BATON_CONFLICT with *idx_out set to the
 * existing element. The returned pointers stay valid until the next add of
 * the same kind; use the index to come back.
 */
baton_status baton_builder_add_process(baton_builder *b, const char *id, uint32_t line,
                                       baton_idx *idx_out);
baton_status baton_builder_add_scope(baton_builder *b, baton_idx process, baton_idx parent,
                                     baton_idx node, baton_idx *idx_out);
baton_status baton_builder_add_node(baton_builder *b, baton_node_kind kind, const char *id,
                                    uint32_t line, baton_idx scope, baton_idx *idx_out);
baton_status baton_builder_add_flow(baton_builder *b, const char *id, uint32_t line,
                                    baton_idx scope, baton_idx *idx_out);
baton_status baton_builder_add_message(baton_builder *b, const char *id, uint32_t line,
                                       baton_idx *idx_out);
baton_status baton_builder_add_signal(baton_builder *b, const char *id, uint32_t line,
                                      baton_idx *idx_out);
baton_status baton_builder_add_error(baton_builder *b, const char *id, uint32_t line,
                                     baton_idx *idx_out);
baton_status baton_builder_add_escalation(baton_builder *b, const char *id, uint32_t line,
                                          baton_idx *idx_out);
baton_status baton_builder_add_corr_property(baton_builder *b, const char *id, uint32_t line,
                                             baton_idx *idx_out);
baton_status baton_builder_add_corr_key(baton_builder *b, const char *id, baton_idx *idx_out);

/* Mutable access while building (valid until the next add of that kind). */
baton_node *baton_builder_node(baton_builder *b, baton_idx i);
baton_flow *baton_builder_flow(baton_builder *b, baton_idx i);
baton_scope *baton_builder_scope(baton_builder *b, baton_idx i);
baton_process *baton_builder_process(baton_builder *b, baton_idx i);
baton_message *baton_builder_message(baton_builder *b, baton_idx i);
baton_named_def *baton_builder_signal(baton_builder *b, baton_idx i);
baton_named_def *baton_builder_error(baton_builder *b, baton_idx i);
baton_named_def *baton_builder_escalation(baton_builder *b, baton_idx i);
baton_corr_property *baton_builder_corr_property(baton_builder *b, baton_idx i);
baton_corr_key *baton_builder_corr_key(baton_builder *b, baton_idx i);
/* Definitions-level fields (dialect, ids) are set here. */
baton_graph *baton_builder_graph(baton_builder *b);

/* Lookups by id during building (BATON_NONE if absent). */
baton_idx baton_builder_find_node(const baton_builder *b, const char *id);
baton_idx baton_builder_find_flow(const baton_builder *b, const char *id);
baton_idx baton_builder_find_process(const baton_builder *b, const char *id);
baton_idx baton_builder_find_message(const baton_builder *b, const char *id);
baton_idx baton_builder_find_signal(const baton_builder *b, const char *id);
baton_idx baton_builder_find_error(const baton_builder *b, const char *id);
baton_idx baton_builder_find_escalation(const baton_builder *b, const char *id);
baton_idx baton_builder_find_corr_property(const baton_builder *b, const char *id);

/*
 * Freeze: compute incoming/outgoing arrays per node from the flows' source
 * and target (flows whose ends are BATON_NONE are skipped), boundary lists,
 * scope node/start/entry/event-subprocess lists, implicit start/end flags.
 * The builder is consumed (freed) whatever the outcome; *out gets a model
 * with one reference.
 */
baton_status baton_builder_finish(baton_builder *b, baton_model **out, baton_error *err);

#endif
