/*
 * instance.h - the state of one process instance, and the records that
 * change it.
 *
 * The state is event-sourced: every change is a baton_record, and the only
 * function that mutates a baton_instance is baton_instance_apply(). The step
 * function (step.h) decides which records to emit and applies each as it
 * goes; replaying an instance's records from the beginning on an empty
 * instance therefore rebuilds the same state (tested), and the token
 * history is the audit trail.
 *
 * State pieces:
 *   element instances  one per active token/scope: the process itself
 *                      (element BATON_NONE), subprocesses, multi-instance
 *                      bodies and their inner instances, tasks, events,
 *                      gateways; each with a parent (its flow scope),
 *                      local variables and a life-cycle state;
 *   waits              what the instance waits for, owned by an element
 *                      instance: jobs, user tasks, timers, message and
 *                      signal subscriptions, conditional watches, calls
 *                      to child instances, compensation handlers;
 *   join tokens        tokens that arrived on a gateway's incoming flow
 *                      and wait for the join (per scope instance, per flow);
 *   incidents          failures the instance waits at until resolved.
 *
 * Element instance life cycle (functions in step.c):
 *
 *   ACTIVATING --activate()--> ACTIVATED --complete()--> COMPLETING --> (COMPLETED, removed)
 *        |                        |
 *        +--------terminate()-----+-------> TERMINATING --> (TERMINATED, removed)
 *
 * Keys are int64, unique within the instance, allocated in increasing order;
 * (instance id, key) is globally unique.
 */
#ifndef BATON_INTERPRETER_INSTANCE_H
#define BATON_INTERPRETER_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/error.h"
#include "models/model.h"

/* Record flags. */
#define BATON_RF_COMMAND    0x01u /* the outside world must act on it (runtime) */
#define BATON_RF_TRANSITION 0x02u /* a token transition (counted by benchmarks) */

/* clang-format off: a table, aligned by hand */
/*   kind                    text                     flags */
#define BATON_RECORD_MAP(X)                                                                        \
    X(INSTANCE_CREATED, "instance_created", 0)                                                     \
    X(ELEMENT_ACTIVATING, "element_activating", BATON_RF_TRANSITION)                               \
    X(ELEMENT_ACTIVATED, "element_activated", BATON_RF_TRANSITION)                                 \
    X(ELEMENT_COMPLETING, "element_completing", BATON_RF_TRANSITION)                               \
    X(ELEMENT_COMPLETED, "element_completed", BATON_RF_TRANSITION)                                 \
    X(ELEMENT_TERMINATING, "element_terminating", BATON_RF_TRANSITION)                             \
    X(ELEMENT_TERMINATED, "element_terminated", BATON_RF_TRANSITION)                               \
    X(FLOW_TAKEN, "flow_taken", BATON_RF_TRANSITION)                                               \
    X(GATEWAY_JOINED, "gateway_joined", BATON_RF_TRANSITION)                                       \
    X(TOKENS_DISCARDED, "tokens_discarded", BATON_RF_TRANSITION)                                   \
    X(SCOPE_CREATED, "scope_created", 0)                                                           \
    X(SCOPE_CLOSED, "scope_closed", 0)                                                             \
    X(VARIABLE_SET, "variable_set", 0)                                                             \
    X(MI_STARTED, "multi_instance_started", 0)                                                     \
    X(JOB_CREATED, "job_created", BATON_RF_COMMAND)                                                \
    X(JOB_FAILED, "job_failed", BATON_RF_COMMAND)                                                  \
    X(USER_TASK_CREATED, "user_task_created", BATON_RF_COMMAND)                                    \
    X(USER_TASK_ASSIGNED, "user_task_assigned", BATON_RF_COMMAND)                                  \
    X(TIMER_SCHEDULED, "timer_scheduled", BATON_RF_COMMAND)                                        \
    X(MESSAGE_SUBSCRIBED, "message_subscribed", BATON_RF_COMMAND)                                  \
    X(SIGNAL_SUBSCRIBED, "signal_subscribed", BATON_RF_COMMAND)                                    \
    X(CONDITION_WATCHED, "condition_watched", 0)                                                   \
    X(CHILD_REQUESTED, "child_requested", BATON_RF_COMMAND)                                        \
    X(COMPENSATION_REGISTERED, "compensation_registered", 0)                                       \
    X(COMPENSATION_STARTED, "compensation_started", 0)                                             \
    X(WAIT_TRIGGERED, "wait_triggered", BATON_RF_COMMAND)                                          \
    X(WAIT_CLOSED, "wait_closed", BATON_RF_COMMAND)                                                \
    X(SIGNAL_THROWN, "signal_thrown", BATON_RF_COMMAND) /* own instance: caught in the step */     \
    X(MESSAGE_SENT, "message_sent", BATON_RF_COMMAND)                                              \
    X(ERROR_THROWN, "error_thrown", 0)                                                             \
    X(ESCALATION_THROWN, "escalation_thrown", 0)                                                   \
    X(PARENT_NOTIFIED, "parent_notified", BATON_RF_COMMAND)                                        \
    X(ERROR_UNHANDLED, "error_unhandled", BATON_RF_COMMAND)                                        \
    X(INCIDENT_RAISED, "incident_raised", BATON_RF_COMMAND)                                        \
    X(INCIDENT_RESOLVED, "incident_resolved", BATON_RF_COMMAND)                                    \
    X(INSTANCE_ENDED, "instance_ended", BATON_RF_COMMAND)                                          \
    X(JOB_RETRIES_UPDATED, "job_retries_updated", BATON_RF_COMMAND) /* an incident resolved */
/* clang-format on */

typedef enum baton_record_kind {
#define BATON_X(k, text, flags) BATON_REC_##k,
    BATON_RECORD_MAP(BATON_X)
#undef BATON_X
        BATON_REC_KIND_COUNT
} baton_record_kind;

const char *baton_record_kind_name(baton_record_kind k);
unsigned baton_record_kind_flags(baton_record_kind k);
/* Kind from its text name; BATON_REC_KIND_COUNT when unknown. */
baton_record_kind baton_record_kind_parse(const char *name);

/* What a wait is. */
typedef enum baton_wait_kind {
    BATON_WAIT_JOB = 1,      /* a job for a worker (service/send/business-rule task, C8 throw) */
    BATON_WAIT_USER_TASK,    /* a human task */
    BATON_WAIT_TIMER,        /* a timer: catch event, boundary, event-subprocess start */
    BATON_WAIT_MESSAGE,      /* a message subscription */
    BATON_WAIT_SIGNAL,       /* a signal subscription */
    BATON_WAIT_CONDITION,    /* a conditional event, re-evaluated when variables change */
    BATON_WAIT_CHILD,        /* a called child instance (call activity) */
    BATON_WAIT_PARENT_ERROR, /* an error thrown to the parent instance, awaiting its verdict */
    BATON_WAIT_KIND_COUNT
} baton_wait_kind;

const char *baton_wait_kind_name(baton_wait_kind k);

/*
 * One record: a transition of the instance. Which fields are meaningful
 * depends on the kind (see docs/semantics.md, "Records"):
 *   element   node index (FLOW_TAKEN: flow index; BATON_NONE: the process)
 *   key       element instance key (waits: wait key; incidents: incident key)
 *   scope     parent element instance key / owner element instance key
 *   aux, aux2 numbers: due time and period (timers), retries, wait kind, ...
 *   name      variable name, job type, message/signal name, error code
 *   text      correlation key, error message, assignee, business key
 *   value     variable value or payload (JSON)
 */
typedef struct baton_record {
    uint64_t seq;  /* per-instance sequence number, contiguous from 1 */
    uint8_t kind;  /* baton_record_kind */
    uint8_t flags; /* kind-specific small flags (interrupting, element flags) */
    baton_idx element;
    baton_idx flow; /* FLOW_TAKEN: the flow; ELEMENT_ACTIVATING: the flow it came by */
    int32_t count;  /* timers: repetitions left; MI: loop index */
    int64_t key;
    int64_t scope;
    int64_t aux;
    int64_t aux2;
    int64_t at; /* the step's clock, ms since the epoch */
    const char *name;
    const char *text;
    cJSON *value;
} baton_record;

/*
 * PARENT_NOTIFIED.aux: what a called instance tells its parent (routed by
 * the runtime with baton_instance_parent_id/_key). For an error, `key` and
 * `aux2` name the waiting thrower (wait key, instance id): the instance
 * itself, or with flags bit 0 a deeper instance whose error is passed on.
 */
#define BATON_NOTIFY_DONE       1
#define BATON_NOTIFY_ERROR      2
#define BATON_NOTIFY_ESCALATION 3

/*
 * GATEWAY_JOINED.flags: a parallel or inclusive join takes one token from
 * each incoming flow that holds one. A complex gateway fires in two phases
 * (BPMN 2.0 13.4.5): START takes a token from each incoming flow that holds
 * one and remembers those flows; RESET later takes one from each of the
 * other incoming flows that holds one and forgets the remembered ones.
 */
#define BATON_JOIN_COMPLEX_START 1
#define BATON_JOIN_COMPLEX_RESET 2

/* Element instance life-cycle states. */
typedef enum baton_elem_state {
    BATON_ELEM_ACTIVATING = 1,
    BATON_ELEM_ACTIVATED,
    BATON_ELEM_COMPLETING,
    BATON_ELEM_TERMINATING,
} baton_elem_state;

/* Element instance flags. */
#define BATON_EF_MI_BODY         0x01u /* multi-instance body (or standard loop body) */
#define BATON_EF_MI_INNER        0x02u /* one instance inside a multi-instance body */
#define BATON_EF_INTERRUPTED     0x04u /* an interrupting event subprocess runs in this scope */
#define BATON_EF_EVENT_TRIGGERED 0x08u /* activated by an event (boundary, gateway target) */
#define BATON_EF_COMPENSATING    0x10u /* a compensation handler */
#define BATON_EF_LOOP            0x20u /* body of a standard loop (not multi-instance) */

typedef struct baton_elem {
    int64_t key;
    int64_t parent;       /* flow scope element instance key; 0 for the process */
    baton_idx element;    /* node; BATON_NONE for the process */
    uint8_t state;        /* baton_elem_state */
    uint8_t flags;        /* BATON_EF_* */
    uint32_t children;    /* active child element instances */
    uint32_t join_tokens; /* tokens waiting at joins of this scope */
    uint32_t waits;       /* open waits owned by this element instance */
    int32_t mi_index;     /* inner: loop counter (0-based); body: instances started */
    int32_t mi_total;     /* body: number of instances (-1: standard loop, unbounded) */
    int32_t mi_completed, mi_terminated;
    /* derived, not serialized: of join_tokens, those at inclusive or complex
       joins (whose rule must be re-checked when another token leaves) */
    uint32_t other_join_tokens;
    int64_t incident;   /* open incident key, 0 if none */
    int64_t trigger;    /* event-triggered: the key of the wait that fired it */
    cJSON *vars;        /* local variables (object) or NULL */
    cJSON *mi_input;    /* body: the input collection (array) or NULL */
    cJSON *mi_output;   /* body: the output collection being built, or NULL */
    int64_t first_wait; /* derived, not serialized: an owned wait (list by next_owned), or 0 */
} baton_elem;

typedef struct baton_wait {
    int64_t key;
    int64_t created;       /* clock when it was opened */
    int64_t owner;         /* element instance that owns it */
    baton_idx element;     /* the node it belongs to (task, catch event, boundary event,
                              event-subprocess start, gateway target) */
    uint8_t kind;          /* baton_wait_kind */
    bool interrupting;     /* boundary / event-subprocess start: cancels when triggered */
    int32_t retries;       /* jobs */
    int32_t repeat;        /* timers: repetitions left after this one (-1 = unbounded) */
    int64_t due;           /* timers: due time (ms since the epoch) */
    int64_t period;        /* timers: cycle period in ms (0 = none) */
    int32_t period_months; /* timers: calendar part of the period */
    char *name;            /* job type, message or signal name */
    char *text;            /* correlation key, assignee */
    cJSON *value;          /* user task: {candidateGroups, candidateUsers, dueDate, formKey} */
    int64_t next_owned;    /* derived, not serialized: next wait of the same owner, or 0 */
} baton_wait;

typedef struct baton_incident {
    int64_t key;
    int64_t elem; /* element instance it is raised on */
    baton_idx element;
    int32_t phase; /* what to retry on resolve (step.c's phases) */
    int64_t at;    /* when it was raised */
    int64_t wait;  /* the wait it concerns (job out of retries), or 0 */
    char *kind;    /* "expression", "no_outgoing_flow", "job_failed", "unhandled_error", ... */
    char *message;
} baton_incident;

typedef enum baton_instance_state {
    BATON_INSTANCE_ACTIVE = 1,
    BATON_INSTANCE_COMPLETED,
    BATON_INSTANCE_TERMINATED,
} baton_instance_state;

typedef struct baton_instance baton_instance;

/*
 * A new, empty instance of process `process` of model `m` (the instance
 * takes a reference). The first step (a START input) fills it.
 */
baton_instance *baton_instance_new(baton_model *m, baton_idx process, int64_t id);
void baton_instance_free(baton_instance *inst);

/*
 * Apply one record. This is the only mutation of the state; the step
 * function calls it for each record it emits, and replay calls it for each
 * stored record. The record's value is copied, never taken.
 */
baton_status baton_instance_apply(baton_instance *inst, const baton_record *r, baton_error *err);

/* Read access. Returned pointers are valid until the next apply. */
int64_t baton_instance_id(const baton_instance *inst);
baton_idx baton_instance_process(const baton_instance *inst);
const baton_model *baton_instance_model(const baton_instance *inst);
baton_instance_state baton_instance_state_of(const baton_instance *inst);
uint64_t baton_instance_seq(const baton_instance *inst);
const char *baton_instance_business_key(const baton_instance *inst);
int64_t baton_instance_parent_id(const baton_instance *inst);
int64_t baton_instance_parent_key(const baton_instance *inst);

uint32_t baton_instance_elem_count(const baton_instance *inst);
/* The i-th live element instance (0 <= i < count, in no particular order). */
const baton_elem *baton_instance_elem_at(const baton_instance *inst, uint32_t i);
const baton_elem *baton_instance_elem(const baton_instance *inst, int64_t key);
uint32_t baton_instance_wait_count(const baton_instance *inst);
const baton_wait *baton_instance_wait_at(const baton_instance *inst, uint32_t i);
const baton_wait *baton_instance_wait(const baton_instance *inst, int64_t key);
uint32_t baton_instance_incident_count(const baton_instance *inst);
const baton_incident *baton_instance_incident_at(const baton_instance *inst, uint32_t i);
/* Root (process-level) variables: the process element instance's object. */
const cJSON *baton_instance_root_vars(const baton_instance *inst);
/* Look a variable up from element instance `scope` outwards (0 = root). */
const cJSON *baton_instance_lookup(const baton_instance *inst, int64_t scope, const char *name);
/*
 * Check the derived indexes (joins by flow and gateway, waits by owner,
 * conditional waits; see interp_int.h) against the state they are derived
 * from: BATON_CONFLICT naming the first difference. O(size of the state);
 * for tests and replay checks.
 */
baton_status baton_instance_check(const baton_instance *inst, baton_error *err);
/* Approximate heap bytes held by the state, variables included / excluded. */
size_t baton_instance_memory(const baton_instance *inst, bool with_variables);

/*
 * Canonical JSON of the whole state (sorted, deterministic), for storage,
 * inspection and the replay comparison. Caller frees with cJSON_Delete.
 */
cJSON *baton_instance_to_json(const baton_instance *inst);
/* Rebuild a state from baton_instance_to_json output. */
baton_status baton_instance_from_json(baton_model *m, const cJSON *json, baton_instance **out,
                                      baton_error *err);

/* Records as JSON objects (the token history format) and back. */
cJSON *baton_record_to_json(const baton_record *r, const baton_model *m);
/*
 * Parse a record from its JSON form. Strings and value are allocated for
 * the record: release them with baton_record_free_parsed().
 */
baton_status baton_record_from_json(const cJSON *json, const baton_model *m, baton_record *out,
                                    baton_error *err);
void baton_record_free_parsed(baton_record *r);

#endif
