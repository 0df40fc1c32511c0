/*
 * step.h - the interpreter: a pure step function.
 *
 *   baton_step(stepper, instance, input, clock)
 *       -> the instance's new state + the ordered records of every token
 *          transition + the commands for the outside world (records whose
 *          kind has BATON_RF_COMMAND: jobs, user tasks, timers, message and
 *          signal subscriptions, child instances, thrown signals, sent
 *          messages, parent notifications, incidents).
 *
 * One input event is processed to quiescence: tokens move until every one
 * waits (at a job, user task, timer, subscription, join, incident) or is
 * consumed. No I/O, no wall clock (the clock is an argument), no globals:
 * the same function runs in memory (`baton run`, `baton test`) and under
 * the durable stores and the server.
 *
 * On error (out of memory, a record that cannot be applied) the instance
 * is left in an unspecified state: callers discard it (a durable store
 * rolls the transaction back; `baton run` stops). Semantic failures never
 * return an error: they raise incidents in the instance.
 */
#ifndef BATON_INTERPRETER_STEP_H
#define BATON_INTERPRETER_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/error.h"
#include "interpreter/instance.h"
#include "models/model.h"

typedef enum baton_input_kind {
    BATON_IN_START = 1,   /* start: node = start event (BATON_NONE: plain start) */
    BATON_IN_COMPLETE,    /* key = job or user task wait: completed with variables */
    BATON_IN_JOB_FAIL,    /* key = job: retries left (retries), message */
    BATON_IN_THROW_ERROR, /* key = job or user task: BPMN error code, message, variables */
    BATON_IN_ASSIGN,      /* key = user task: assignee (NULL = unclaim) in `text` */
    BATON_IN_TIMER,       /* key = timer wait: fired */
    BATON_IN_MESSAGE,     /* key = message subscription: correlated, variables = payload */
    BATON_IN_SIGNAL,      /* key = signal subscription: triggered, variables = payload */
    BATON_IN_CHILD_DONE,  /* key = child wait: the child completed; variables = its variables */
    BATON_IN_CHILD_ERROR, /* key = child wait: the child threw an error it did not catch */
    BATON_IN_CHILD_ESCALATION, /* key = child wait: the child threw an escalation */
    BATON_IN_CHILD_FAILED,     /* key = child wait: the child could not be started (message) */
    BATON_IN_ERROR_UNHANDLED,  /* key = parent-error wait: no one caught the error: incident */
    BATON_IN_SET_VARIABLES,    /* key = scope element instance (0 = root), variables */
    BATON_IN_RESOLVE,          /* key = incident: retry what failed */
    BATON_IN_CANCEL,           /* terminate the whole instance */
} baton_input_kind;

typedef struct baton_input {
    uint8_t kind; /* baton_input_kind */
    int64_t key;
    baton_idx node;         /* START: the start event, or BATON_NONE */
    const cJSON *variables; /* object or NULL */
    const char *code;       /* THROW_ERROR / CHILD_ERROR / CHILD_ESCALATION: the code */
    const char *text;   /* message of a failure or error; ASSIGN: assignee; START: business key */
    int32_t retries;    /* JOB_FAIL: retries left (RESOLVE of a job incident: new retries) */
    int64_t backoff_ms; /* JOB_FAIL: hand the job out again only after this long; 0 = the
                           model's retry cycle (camunda:failedJobRetryTimeCycle) or at once */
    int64_t parent_id;  /* START of a called instance: the parent instance */
    int64_t parent_key; /* ... and its call activity's child wait key */
    int64_t origin_id;  /* CHILD_ERROR: the instance that threw (0 = the child itself) */
    int64_t origin_key; /* ... and the waiting thrower's parent-error wait key */
    bool local;         /* SET_VARIABLES: set in that scope only (no propagation) */
    bool claim;         /* ASSIGN: only if the task is unassigned (or already `text`'s):
                           checked and set in one step, so two claims cannot both win */
} baton_input;

/*
 * Optional hook for test harnesses: treat task `n` (plain, manual or script
 * task) as a wait state although it would run straight through: it gets a
 * job whose type is the element id, for the harness to complete (e.g.
 * SpiffWorkflow waits at plain tasks; scenario stubs replace scripts).
 */
typedef bool (*baton_wait_hook)(void *cookie, const baton_model *m, baton_idx n);

typedef struct baton_stepper baton_stepper;

/* A stepper holds reusable buffers; one per thread, used for many steps. */
baton_stepper *baton_stepper_new(void);
void baton_stepper_free(baton_stepper *s);
void baton_stepper_set_wait_hook(baton_stepper *s, baton_wait_hook fn, void *cookie);
/* Bound on records per step (runaway loops raise an incident): 0 = default. */
void baton_stepper_set_max_records(baton_stepper *s, uint32_t max);

/*
 * Apply one input event to `inst` at time `now_ms`. Returns BATON_OK when
 * the event was applied; BATON_NOTFOUND / BATON_CONFLICT when it does not
 * apply to the current state (unknown or closed key: a duplicate delivery),
 * with no records and the state unchanged; other statuses on failure.
 */
baton_status baton_step(baton_stepper *s, baton_instance *inst, const baton_input *in,
                        int64_t now_ms, baton_error *err);

/* The records of the last step, in order (valid until the next step). */
uint32_t baton_stepper_record_count(const baton_stepper *s);
const baton_record *baton_stepper_record(const baton_stepper *s, uint32_t i);

/* Records applied by all steps of this stepper (benchmarks). */
uint64_t baton_stepper_total_records(const baton_stepper *s);

#endif
