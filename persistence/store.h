/*
 * store.h - the one interface every store implements (SQLite's VFS, Redis's
 * ae_* backends): an ops table behind an opaque handle. The runtime above
 * it never sees SQL; the interpreter below never sees a store.
 *
 * What a store keeps (the same logical schema on every backend):
 *   deployments    uploaded XML byte-for-byte, its hash, its name
 *   definitions    (process id, version) -> deployment
 *   instances      one row per process instance + its state (opaque JSON)
 *   history        the records of every step, append-only, per instance
 *   jobs, timers, message subscriptions, signal subscriptions, user tasks,
 *   incidents      materialized from the records so they can be queried
 *   outbox         events for other instances (start a child, notify a
 *                  parent, broadcast a signal, publish a message), written
 *                  in the same transaction as the step that made them
 *   messages       published messages buffered until a subscriber comes
 *
 * Transactions: every change happens between begin() and commit(); a
 * failed commit or any error leaves the store as before begin(). After an
 * I/O or database error the handle stays failed until reopened (SQLite's
 * pager_error): every call answers BATON_STORE. A write outside begin() /
 * commit() is a transaction of its own. commit() returns once the
 * transaction is durable; a commit that fails is in doubt (it may or may
 * not have reached the disk), which is safe because every input names what
 * it applies to (a wait key) and a second delivery is refused. Two statuses
 * leave the handle usable: BATON_CONFLICT (a uniqueness constraint) and
 * BATON_BUSY (lock timeout, deadlock, serialization failure: retry); the
 * transaction must still be rolled back.
 *
 *   (idle) --begin()--> (in transaction) --commit()--> (idle)
 *                          |      \--rollback()--> (idle)
 *                          +--I/O or database error--> (failed) --close(); open--> (idle)
 *
 * Locks: instance_get() inside a transaction locks the instance until
 * commit/rollback (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the whole
 * database is locked by BEGIN IMMEDIATE). Where several engine nodes
 * compete for work (event_peek, job_activate, timer_due inside a
 * transaction) a row another transaction holds is skipped, not waited for.
 * job_activate() outside a transaction commits without waiting for the disk:
 * a job lock is a lease, and a lease lost in a crash only means the job is
 * handed out again (side effects are at-least-once anyway).
 *
 * Strings in rows passed in are borrowed for the call; rows passed out
 * point into memory owned by the store, valid until the next call on the
 * same handle (copy what you keep).
 */
#ifndef BATON_PERSISTENCE_STORE_H
#define BATON_PERSISTENCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "interpreter/instance.h"

typedef struct baton_store baton_store;

typedef struct baton_deployment_row {
    int64_t id;
    const char *name;
    const char *xml;
    size_t xml_len;
    const char *hash; /* hex digest of the XML */
    int64_t created;  /* ms since the epoch */
} baton_deployment_row;

typedef struct baton_definition_row {
    const char *process_id;
    int32_t version;
    int64_t deployment;
} baton_definition_row;

typedef struct baton_instance_row {
    int64_t id;
    int64_t deployment;
    const char *process_id;
    int32_t version;
    int32_t state; /* baton_instance_state */
    const char *business_key;
    int64_t parent_id;      /* calling instance, 0 if none */
    int64_t parent_key;     /* the caller's child wait key */
    int64_t started, ended; /* ms since the epoch; ended 0 while active */
    int32_t incidents;      /* open incidents */
    uint64_t seq;           /* last record sequence number */
} baton_instance_row;

typedef struct baton_job_row {
    int64_t instance;
    int64_t key; /* wait key in the instance */
    const char *type;
    const char *element; /* element id */
    int32_t retries;
    int64_t available_at; /* not handed out before this time (retry backoff) */
    const char *worker;   /* lock owner, NULL when not locked */
    int64_t lock_expiry;  /* the lock ends at this time */
    int64_t created;
} baton_job_row;

typedef struct baton_timer_row {
    int64_t instance; /* 0 for a timer start event of a deployed process */
    int64_t key;      /* wait key; start timers: deployment << 24 | start event index */
    int64_t due;
    int64_t deployment;  /* start timers: which deployment */
    const char *element; /* element id */
    int32_t repeat;      /* start timers: repetitions left after this one (-1 = unbounded) */
} baton_timer_row;

typedef struct baton_sub_row {
    int64_t instance;
    int64_t key;
    const char *name;        /* message or signal name */
    const char *correlation; /* message correlation key, NULL = any (Camunda 7 style) */
    const char *element;
} baton_sub_row;

typedef struct baton_task_row {
    int64_t instance;
    int64_t key;
    const char *element;
    const char *name; /* the element's name */
    const char *process_id;
    const char *assignee;
    const char *details; /* JSON: candidateGroups, candidateUsers, dueDate, formKey */
    int64_t created;
} baton_task_row;

typedef struct baton_incident_row {
    int64_t instance;
    int64_t key;
    const char *element;
    const char *kind;
    const char *message;
    int64_t created;
} baton_incident_row;

/* Events between instances, written by a step, consumed by the runtime. */
typedef enum baton_outbox_kind {
    BATON_OUTBOX_START_CHILD =
        1, /* key = caller's wait key, instance = caller; payload: process, vars */
    BATON_OUTBOX_NOTIFY_PARENT,   /* instance = parent, key = its child wait key; payload: kind, ...
                                   */
    BATON_OUTBOX_CANCEL_CHILD,    /* instance = parent, key = its (closed) child wait key */
    BATON_OUTBOX_SIGNAL,          /* payload: name, variables */
    BATON_OUTBOX_MESSAGE,         /* payload: name, correlation, variables */
    BATON_OUTBOX_ERROR_UNHANDLED, /* instance = origin, key = its parent-error wait key */
    BATON_OUTBOX_DELIVER_BUFFERED, /* instance, key = a new message subscription that a buffered
                                      message matches; payload: name, correlation */
} baton_outbox_kind;

typedef struct baton_event_row {
    int64_t id;   /* assigned by the store, increasing */
    int32_t kind; /* baton_outbox_kind */
    int64_t instance;
    int64_t key;
    const char *payload; /* JSON text */
    int64_t created;
} baton_event_row;

typedef struct baton_message_row {
    int64_t id;
    const char *name;
    const char *correlation;
    const char *message_id; /* publisher's id for deduplication, NULL if none */
    const char *variables;  /* JSON text */
    int64_t expires;        /* ms since the epoch */
} baton_message_row;

/* Callbacks for listings; return non-zero to stop early. */
typedef int (*baton_row_fn)(void *cookie, const void *row);

/* The most rows one query op (instance_query, job_query, ...) hands out: a page, never a table. */
#define BATON_STORE_QUERY_MAX 10000

/*
 * Which instances instance_query() and instance_count() return. A zero
 * field does not filter, so `(baton_instance_filter){.limit = 10}` is the
 * first ten instances. Time bounds are exclusive; an ended bound matches
 * ended instances only.
 */
typedef struct baton_instance_filter {
    int32_t state;                         /* baton_instance_state; 0 = any */
    const char *process_id;                /* NULL = any */
    const char *business_key;              /* NULL = any */
    int64_t started_after, started_before; /* started > after, started < before */
    int64_t ended_after, ended_before;     /* ended > after, ended < before */
    int32_t incidents;                     /* 1 = with open incidents, -1 = without, 0 = any */
    int64_t parent_id;                     /* calling instance; 0 = any */
    int64_t after;                         /* cursor: ids > after (instance_query only) */
    uint32_t limit;                        /* instance_query: 1..BATON_STORE_QUERY_MAX rows */
} baton_instance_filter;

/* Whether row matches f (all but `after` and `limit`): the one definition of the filter. */
bool baton_store_instance_matches(const baton_instance_filter *f, const baton_instance_row *row);

/*
 * A job's state at a time, the one definition listings and the API share:
 * out of retries is an incident whatever else holds; a lock counts while
 * its worker is named and its expiry is ahead; a job held back for a retry
 * is in backoff until available_at.
 */
typedef enum baton_job_state {
    BATON_JOB_AVAILABLE = 1,
    BATON_JOB_LOCKED = 2,
    BATON_JOB_BACKOFF = 3,
    BATON_JOB_INCIDENT = 4,
} baton_job_state;

baton_job_state baton_store_job_state(const baton_job_row *row, int64_t now);

/*
 * Which jobs job_query() returns, in (instance, key) order. A zero field
 * does not filter. The cursor is the last (instance, key) pair of the page
 * before; (0, 0) starts at the beginning.
 */
typedef struct baton_job_filter {
    int64_t instance;                  /* 0 = any */
    const char *type;                  /* NULL = any */
    int32_t state;                     /* baton_job_state at `now`; 0 = any */
    int64_t now;                       /* the time `state` is judged at */
    int64_t after_instance, after_key; /* cursor: (instance, key) > (after_instance, after_key) */
    uint32_t limit;                    /* 1..BATON_STORE_QUERY_MAX rows */
} baton_job_filter;

/* Whether row matches f (all but the cursor and `limit`): the one definition of the filter. */
bool baton_store_job_matches(const baton_job_filter *f, const baton_job_row *row);

/*
 * Which user tasks task_query() returns, in (instance, key) order. A zero
 * field does not filter. Candidate groups and users are the details' JSON
 * lists ("candidateGroups", "candidateUsers": an array of strings or one
 * string).
 */
typedef struct baton_task_filter {
    int64_t instance;                  /* 0 = any */
    const char *process_id;            /* NULL = any */
    const char *assignee;              /* NULL = any */
    int32_t assigned;                  /* 1 = with an assignee, -1 = without, 0 = any */
    const char *candidate_group;       /* NULL = any */
    const char *candidate_user;        /* NULL = any */
    int64_t after_instance, after_key; /* cursor: (instance, key) > (after_instance, after_key) */
    uint32_t limit;                    /* 1..BATON_STORE_QUERY_MAX rows */
} baton_task_filter;

/* Whether row matches f (all but the cursor and `limit`): the one definition of the filter. */
bool baton_store_task_matches(const baton_task_filter *f, const baton_task_row *row);

/*
 * Which incidents incident_query() and incident_count() return, in
 * (instance, key) order. A zero field does not filter. The process is the
 * incident's instance's: an incident whose instance is gone matches no
 * process.
 */
typedef struct baton_incident_filter {
    int64_t instance;                  /* 0 = any */
    const char *kind;                  /* NULL = any */
    const char *element;               /* NULL = any */
    const char *process_id;            /* NULL = any */
    int64_t after_instance, after_key; /* cursor (incident_query only) */
    uint32_t limit;                    /* incident_query: 1..BATON_STORE_QUERY_MAX rows */
} baton_incident_filter;

/*
 * Whether row matches f (all but the cursor and `limit`), given the process
 * id of its instance (NULL when the instance is gone): the one definition.
 */
bool baton_store_incident_matches(const baton_incident_filter *f, const baton_incident_row *row,
                                  const char *instance_process_id);

typedef struct baton_store_ops {
    const char *name;
    void (*close)(baton_store *s);
    baton_status (*begin)(baton_store *s, baton_error *err);
    baton_status (*commit)(baton_store *s, baton_error *err);
    void (*rollback)(baton_store *s);

    /* deployments */
    baton_status (*deployment_find_hash)(baton_store *s, const char *hash, int64_t *id_out,
                                         baton_error *err); /* BATON_NOTFOUND if none */
    baton_status (*deployment_put)(baton_store *s, baton_deployment_row *row, baton_error *err);
    baton_status (*deployment_get)(baton_store *s, int64_t id, baton_deployment_row *out,
                                   baton_error *err);
    baton_status (*deployment_list)(baton_store *s, baton_row_fn fn, void *cookie,
                                    baton_error *err);
    baton_status (*definition_put)(baton_store *s, const baton_definition_row *row,
                                   baton_error *err);
    baton_status (*definition_latest)(baton_store *s, const char *process_id,
                                      baton_definition_row *out, baton_error *err);
    baton_status (*definition_get)(baton_store *s, const char *process_id, int32_t version,
                                   baton_definition_row *out, baton_error *err);
    baton_status (*definition_list)(baton_store *s, baton_row_fn fn, void *cookie,
                                    baton_error *err);

    /* instances and their state */
    baton_status (*instance_new_id)(baton_store *s, int64_t *id_out, baton_error *err);
    /* Read and lock against other writers until commit/rollback. */
    baton_status (*instance_get)(baton_store *s, int64_t id, baton_instance_row *row_out,
                                 const char **state_json_out, baton_error *err);
    baton_status (*instance_put)(baton_store *s, const baton_instance_row *row,
                                 const char *state_json, baton_error *err);
    /* Every instance in id order (audits, tests); request paths use instance_query. */
    baton_status (*instance_list)(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err);
    /*
     * Instances matching f with id > f->after, in id order, at most
     * f->limit (BATON_INVALID outside 1..BATON_STORE_QUERY_MAX): one indexed
     * query on the durable stores, whatever the table holds. Each row is
     * valid during its callback only; callbacks may call the store.
     */
    baton_status (*instance_query)(baton_store *s, const baton_instance_filter *f, baton_row_fn fn,
                                   void *cookie, baton_error *err);
    /* How many instances match f (after and limit ignored), without reading their rows. */
    baton_status (*instance_count)(baton_store *s, const baton_instance_filter *f,
                                   int64_t *count_out, baton_error *err);
    /* Children called from (parent, wait key). */
    baton_status (*instance_children)(baton_store *s, int64_t parent, int64_t parent_key,
                                      baton_row_fn fn, void *cookie, baton_error *err);

    /* history: records as JSON text, one per sequence number */
    baton_status (*history_append)(baton_store *s, int64_t instance, uint64_t seq, int64_t at,
                                   const char *kind, const char *element, const char *json,
                                   baton_error *err);
    /* Records with seq > after, in order, at most limit (0 = all); fn gets const char *json. */
    baton_status (*history_read)(baton_store *s, int64_t instance, uint64_t after, uint32_t limit,
                                 baton_row_fn fn, void *cookie, baton_error *err);

    /* jobs */
    baton_status (*job_put)(baton_store *s, const baton_job_row *row, baton_error *err);
    baton_status (*job_delete)(baton_store *s, int64_t instance, int64_t key, baton_error *err);
    baton_status (*job_get)(baton_store *s, int64_t instance, int64_t key, baton_job_row *out,
                            baton_error *err);
    /* Lock up to max available jobs of `type` for `worker` until now+lock_ms. */
    baton_status (*job_activate)(baton_store *s, const char *type, uint32_t max, const char *worker,
                                 int64_t now, int64_t lock_ms, baton_row_fn fn, void *cookie,
                                 baton_error *err);
    /* Every job (audits, tests); request paths use job_query. */
    baton_status (*job_list)(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err);
    /*
     * Jobs matching f after its cursor, in (instance, key) order, at most
     * f->limit (BATON_INVALID outside 1..BATON_STORE_QUERY_MAX): one indexed
     * query on the durable stores. Each row is valid during its callback
     * only; callbacks may call the store.
     */
    baton_status (*job_query)(baton_store *s, const baton_job_filter *f, baton_row_fn fn,
                              void *cookie, baton_error *err);

    /* timers (instance timers and start timers of deployments) */
    baton_status (*timer_put)(baton_store *s, const baton_timer_row *row, baton_error *err);
    baton_status (*timer_delete)(baton_store *s, int64_t instance, int64_t key, baton_error *err);
    /* Timers with due <= now, earliest first, at most limit. */
    baton_status (*timer_due)(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                              void *cookie, baton_error *err);
    /* Earliest due time, or INT64_MAX when there is none. */
    baton_status (*timer_next)(baton_store *s, int64_t *due_out, baton_error *err);

    /* subscriptions: kind 0 = message, 1 = signal */
    baton_status (*sub_put)(baton_store *s, int kind, const baton_sub_row *row, baton_error *err);
    baton_status (*sub_delete)(baton_store *s, int kind, int64_t instance, int64_t key,
                               baton_error *err);
    /* Matching subscriptions (message: name and correlation, NULL correlation
       in the row matches any), oldest first. */
    baton_status (*sub_find)(baton_store *s, int kind, const char *name, const char *correlation,
                             baton_row_fn fn, void *cookie, baton_error *err);

    /* user tasks */
    baton_status (*task_put)(baton_store *s, const baton_task_row *row, baton_error *err);
    baton_status (*task_delete)(baton_store *s, int64_t instance, int64_t key, baton_error *err);
    /* Every user task (audits, tests); request paths use task_query. */
    baton_status (*task_list)(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err);
    /* As job_query, for user tasks. */
    baton_status (*task_query)(baton_store *s, const baton_task_filter *f, baton_row_fn fn,
                               void *cookie, baton_error *err);

    /* incidents */
    baton_status (*incident_put)(baton_store *s, const baton_incident_row *row, baton_error *err);
    baton_status (*incident_delete)(baton_store *s, int64_t instance, int64_t key,
                                    baton_error *err);
    /* Every incident (audits, tests); request paths use incident_query. */
    baton_status (*incident_list)(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err);
    /* As job_query, for incidents. */
    baton_status (*incident_query)(baton_store *s, const baton_incident_filter *f, baton_row_fn fn,
                                   void *cookie, baton_error *err);
    /* How many incidents match f (cursor and limit ignored), without reading their rows. */
    baton_status (*incident_count)(baton_store *s, const baton_incident_filter *f,
                                   int64_t *count_out, baton_error *err);

    /* outbox */
    baton_status (*event_push)(baton_store *s, baton_event_row *row, baton_error *err);
    /* The oldest event, BATON_NOTFOUND when empty. */
    baton_status (*event_peek)(baton_store *s, baton_event_row *out, baton_error *err);
    baton_status (*event_delete)(baton_store *s, int64_t id, baton_error *err);

    /* buffered messages */
    baton_status (*message_put)(baton_store *s, baton_message_row *row, baton_error *err);
    /* The oldest live buffered message with this name and correlation. */
    baton_status (*message_find)(baton_store *s, const char *name, const char *correlation,
                                 int64_t now, baton_message_row *out, baton_error *err);
    baton_status (*message_find_id)(baton_store *s, const char *message_id, int64_t now,
                                    baton_message_row *out, baton_error *err);
    baton_status (*message_delete)(baton_store *s, int64_t id, baton_error *err);
    /*
     * Live buffered messages that a message subscription matches (name, and
     * the subscription's correlation key or none), oldest message first, at
     * most limit: a message published while the subscription was being
     * opened by a concurrent transaction can be left buffered (PostgreSQL).
     * fn gets a baton_sub_row: the subscription's instance and key, and the
     * message's name and correlation key.
     */
    baton_status (*message_waiting)(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                                    void *cookie, baton_error *err);

    /*
     * Remove the row a closed wait leaves (kind: BATON_WAIT_JOB, _USER_TASK,
     * _TIMER, _MESSAGE, _SIGNAL), if there is one; the answer does not say
     * whether there was, so a backend may send it with the commit instead of
     * waiting for it (PostgreSQL does).
     */
    baton_status (*wait_drop)(baton_store *s, int wait_kind, int64_t instance, int64_t key,
                              baton_error *err);

    /* True once the handle failed: every call answers BATON_STORE until it is reopened. */
    bool (*failed)(baton_store *s);
    /*
     * Retention: remove up to `max` instances that ended (completed or
     * terminated) before `ended_before` (INT64_MIN: none), oldest first,
     * with their history and any rows left for them, and up to `max`
     * buffered messages that expired at or before `now`. *removed_out: how
     * many rows of both kinds. Instances other transactions hold are
     * skipped. Bounded so a sweep never holds the store for long: call again
     * while it removes something.
     */
    baton_status (*purge)(baton_store *s, int64_t ended_before, int64_t now, uint32_t max,
                          uint32_t *removed_out, baton_error *err);
} baton_store_ops;

/* Every backend's handle starts with this header. */
struct baton_store {
    const baton_store_ops *ops;
};

/*
 * Open a store by URL: "memory:" (tests, `baton run`), a path or
 * "sqlite:PATH" (embedded default), "postgresql://..." (production).
 */
baton_status baton_store_open(const char *url, baton_store **out, baton_error *err);
void baton_store_close(baton_store *s);

/* The in-memory backend (memory.c): everything lives in this process. */
baton_status baton_store_open_memory(baton_store **out, baton_error *err);

/*
 * The durable backends (sqlite.c, postgres.c); baton_store_open() picks
 * them by URL. BATON_UNSUPPORTED when the build has no such backend.
 *   sqlite: PATH[?synchronous=full|normal|off&busy_timeout=MS&group_commit=on|off]
 *   postgresql://... (libpq connection URL)
 */
baton_status baton_store_open_sqlite(const char *path, const char *options, baton_store **out,
                                     baton_error *err);
baton_status baton_store_open_postgres(const char *url, baton_store **out, baton_error *err);

/*
 * Fault injection for tests: the `nth` commit from now (1 = the next one)
 * on any durable handle of this process is replaced by a rollback and fails
 * as an I/O error would: the handle is failed until reopened. 0 disarms it.
 * baton_store_fault_fire() is for the backends: true when this commit must
 * fail.
 */
void baton_store_fault_commit(uint32_t nth);
bool baton_store_fault_fire(void);

#endif
