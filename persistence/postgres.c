/*
 * postgres.c - the production store: PostgreSQL through libpq, the way
 * several Baton nodes share one database.
 *
 * Every handle is one connection (the engine opens one per session).
 * Statements are prepared on first use and kept for the connection's life.
 * Transactions are READ COMMITTED with explicit row locks:
 *
 *   instance_get in a transaction   SELECT ... FOR UPDATE: events for one
 *                                   instance serialize, different instances
 *                                   run in parallel
 *   event_peek, job_activate,       FOR UPDATE SKIP LOCKED: competing nodes
 *   timer_due, purge (in a tx)      take different rows instead of queueing;
 *                                   an outbox event is not taken while an
 *                                   older event of the same instance exists,
 *                                   so one instance's events stay in order
 *   deployment_find_hash (in a tx)  an advisory lock: deployments serialize,
 *                                   so versions are assigned without races
 *
 * Schema migrations run at open under an advisory lock, so several nodes
 * can start at once. History records are buffered during a transaction and
 * written with one statement before COMMIT (they are never read back in the
 * transaction that writes them, except by history_read, which flushes
 * first); the sequence check of history_append is done against the last
 * sequence number read with the instance's row.
 *
 * Handle states (the function behind each transition):
 *
 *   IDLE --pg_begin: BEGIN--> IN_TX --pg_commit: flush history, COMMIT--> IDLE
 *                               \--pg_rollback: ROLLBACK--> IDLE
 *   IN_TX --a statement refused (pg_error: BATON_CONFLICT or BATON_BUSY)--> ABORTED:
 *         the server ignores everything until the transaction ends, so every
 *         call answers that first refusal again without asking it (a kept-back
 *         write may be refused in the answer to a later call: its name is in
 *         the message), pg_commit included; pg_rollback --> IDLE
 *   any --connection lost or database error (fail())--> FAILED: every call
 *         answers BATON_STORE until the handle is closed and opened again
 *
 * Unique violations (BATON_CONFLICT) and deadlocks, serialization failures,
 * lock timeouts (BATON_BUSY) leave the handle usable; the transaction is
 * aborted and must be rolled back.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "persistence/store.h"
#include "persistence/store_int.h"

#define INST_COLS                                                                                  \
    "id, deployment, process_id, version, state, business_key, parent_id, parent_key, "            \
    "started, ended, incidents, seq"
#define JOB_COLS   "instance, key, type, element, retries, available_at, worker, lock_expiry, created"
#define TIMER_COLS "instance, key, due, deployment, element, repeat"
#define TASK_COLS  "instance, key, element, name, process_id, assignee, details, created"
#define INC_COLS   "instance, key, element, kind, message, created"
#define MSG_COLS   "id, name, correlation, message_id, variables, expires"
#define JOB_CANDIDATES                                                                             \
    "SELECT id FROM jobs WHERE type = $1 AND retries > 0 AND available_at <= $2 "                  \
    "AND (worker IS NULL OR lock_expiry <= $2) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED"
#define EVENT_OLDEST                                                                               \
    "SELECT id, kind, instance, key, payload, created FROM outbox o WHERE NOT EXISTS "             \
    "(SELECT 1 FROM outbox p WHERE p.instance = o.instance AND p.id < o.id) ORDER BY id LIMIT 1"

#define PG_MAP(X)                                                                                  \
    X(DEP_LOCK, "SELECT pg_advisory_xact_lock(7023398450146361345)")                               \
    X(DEP_FIND_HASH, "SELECT id FROM deployments WHERE hash = $1")                                 \
    X(DEP_PUT, "INSERT INTO deployments (name, xml, hash, created) VALUES ($1, $2, $3, $4) "       \
               "RETURNING id")                                                                     \
    X(DEP_GET, "SELECT id, name, xml, hash, created FROM deployments WHERE id = $1")               \
    X(DEP_LIST, "SELECT id, name, xml, hash, created FROM deployments ORDER BY id")                \
    X(DEF_PUT, "INSERT INTO definitions (process_id, version, deployment) VALUES ($1, $2, $3)")    \
    X(DEF_LATEST, "SELECT process_id, version, deployment FROM definitions "                       \
                  "WHERE process_id = $1 ORDER BY version DESC LIMIT 1")                           \
    X(DEF_GET, "SELECT process_id, version, deployment FROM definitions "                          \
               "WHERE process_id = $1 AND version = $2")                                           \
    X(DEF_LIST, "SELECT process_id, version, deployment FROM definitions ORDER BY id")             \
    X(INST_NEW_IDS, "SELECT nextval('instance_ids')")                                              \
    X(INST_GET, "SELECT " INST_COLS ", state_json, (SELECT coalesce(max(h.seq), 0) FROM "          \
                "history h WHERE h.instance = i.id) FROM instances i WHERE id = $1")               \
    X(INST_GET_LOCK, "SELECT " INST_COLS ", state_json, (SELECT coalesce(max(h.seq), 0) FROM "     \
                     "history h WHERE h.instance = i.id) FROM instances i WHERE id = $1 "          \
                     "FOR UPDATE")                                                                 \
    X(INST_EXISTS, "SELECT 1 FROM instances WHERE id = $1")                                        \
    X(INST_PUT, "INSERT INTO instances (" INST_COLS ", state_json) VALUES "                        \
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "                        \
                "ON CONFLICT (id) DO UPDATE SET deployment = excluded.deployment, "                \
                "process_id = excluded.process_id, version = excluded.version, "                   \
                "state = excluded.state, business_key = excluded.business_key, "                   \
                "parent_id = excluded.parent_id, parent_key = excluded.parent_key, "               \
                "started = excluded.started, ended = excluded.ended, "                             \
                "incidents = excluded.incidents, seq = excluded.seq, "                             \
                "state_json = excluded.state_json RETURNING (xmax = 0)")                           \
    X(INST_LIST, "SELECT " INST_COLS " FROM instances ORDER BY id")                                \
    X(INST_CHILDREN, "SELECT " INST_COLS " FROM instances WHERE parent_id = $1 "                   \
                     "AND ($2 = 0 OR parent_key = $2) ORDER BY id")                                \
    X(HIST_LAST, "SELECT EXISTS (SELECT 1 FROM instances WHERE id = $1), "                         \
                 "(SELECT coalesce(max(seq), 0) FROM history WHERE instance = $1)")                \
    X(HIST_WRITE, "INSERT INTO history (instance, seq, at, kind, element, record) "                \
                  "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], "    \
                  "$5::text[], $6::text[])")                                                       \
    X(HIST_READ, "SELECT seq, record FROM history WHERE instance = $1 AND seq > $2 "               \
                 "ORDER BY seq LIMIT $3")                                                          \
    X(JOB_PUT, "INSERT INTO jobs (" JOB_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "      \
               "ON CONFLICT (instance, key) DO UPDATE SET type = excluded.type, "                  \
               "element = excluded.element, retries = excluded.retries, "                          \
               "available_at = excluded.available_at, worker = excluded.worker, "                  \
               "lock_expiry = excluded.lock_expiry, created = excluded.created")                   \
    X(JOB_DELETE, "DELETE FROM jobs WHERE instance = $1 AND key = $2")                             \
    X(JOB_GET, "SELECT " JOB_COLS " FROM jobs WHERE instance = $1 AND key = $2")                   \
    X(JOB_ACTIVATE, "WITH c AS (" JOB_CANDIDATES ") UPDATE jobs j SET worker = $4, "               \
                    "lock_expiry = $5 FROM c WHERE j.id = c.id RETURNING j.id, j.instance, "       \
                    "j.key, j.type, j.element, j.retries, j.available_at, j.worker, "              \
                    "j.lock_expiry, j.created")                                                    \
    X(JOB_LIST, "SELECT " JOB_COLS " FROM jobs ORDER BY id")                                       \
    X(TIMER_PUT, "INSERT INTO timers (" TIMER_COLS ") VALUES ($1, $2, $3, $4, $5, $6) "            \
                 "ON CONFLICT (instance, key) DO UPDATE SET due = excluded.due, "                  \
                 "deployment = excluded.deployment, element = excluded.element, "                  \
                 "repeat = excluded.repeat")                                                       \
    X(TIMER_DELETE, "DELETE FROM timers WHERE instance = $1 AND key = $2")                         \
    X(TIMER_DUE, "SELECT " TIMER_COLS " FROM timers WHERE due <= $1 "                              \
                 "ORDER BY due, instance, key LIMIT $2")                                           \
    X(TIMER_DUE_LOCK, "SELECT t.instance, t.key, t.due, t.deployment, t.element, t.repeat "        \
                      "FROM timers t JOIN instances i ON i.id = t.instance WHERE t.due <= $1 "     \
                      "ORDER BY t.due, t.instance, t.key LIMIT $2 FOR UPDATE OF i SKIP LOCKED")    \
    X(START_TIMER_DUE_LOCK, "SELECT " TIMER_COLS " FROM timers WHERE due <= $1 AND "               \
                            "instance = 0 ORDER BY due, key LIMIT $2 FOR UPDATE SKIP LOCKED")      \
    X(TIMER_NEXT, "SELECT min(due) FROM timers")                                                   \
    X(SUB_PUT, "INSERT INTO subscriptions (kind, instance, key, name, correlation, element) "      \
               "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, instance, key) DO UPDATE "      \
               "SET name = excluded.name, correlation = excluded.correlation, "                    \
               "element = excluded.element")                                                       \
    X(SUB_DELETE, "DELETE FROM subscriptions WHERE kind = $1 AND instance = $2 AND key = $3")      \
    X(SUB_FIND_MSG, "SELECT instance, key, name, correlation, element, id FROM subscriptions "     \
                    "WHERE kind = 0 AND name = $1 AND correlation IS NULL UNION ALL "              \
                    "SELECT instance, key, name, correlation, element, id FROM subscriptions "     \
                    "WHERE kind = 0 AND name = $1 AND correlation = $2 ORDER BY 6")                \
    X(SUB_FIND_SIG, "SELECT instance, key, name, correlation, element FROM subscriptions "         \
                    "WHERE kind = 1 AND name = $1 ORDER BY id")                                    \
    X(TASK_PUT, "INSERT INTO user_tasks (" TASK_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "  \
                "ON CONFLICT (instance, key) DO UPDATE SET element = excluded.element, "           \
                "name = excluded.name, process_id = excluded.process_id, "                         \
                "assignee = excluded.assignee, details = excluded.details, "                       \
                "created = excluded.created")                                                      \
    X(TASK_DELETE, "DELETE FROM user_tasks WHERE instance = $1 AND key = $2")                      \
    X(TASK_LIST, "SELECT " TASK_COLS " FROM user_tasks ORDER BY id")                               \
    X(INC_PUT, "INSERT INTO incidents (" INC_COLS ") VALUES ($1, $2, $3, $4, $5, $6) "             \
               "ON CONFLICT (instance, key) DO UPDATE SET element = excluded.element, "            \
               "kind = excluded.kind, message = excluded.message, created = excluded.created")     \
    X(INC_DELETE, "DELETE FROM incidents WHERE instance = $1 AND key = $2")                        \
    X(INC_LIST, "SELECT " INC_COLS " FROM incidents ORDER BY id")                                  \
    X(EVENT_PUSH, "INSERT INTO outbox (kind, instance, key, payload, created) "                    \
                  "VALUES ($1, $2, $3, $4, $5) RETURNING id")                                      \
    X(EVENT_PEEK, EVENT_OLDEST)                                                                    \
    X(EVENT_PEEK_LOCK, EVENT_OLDEST " FOR UPDATE SKIP LOCKED")                                     \
    X(EVENT_DELETE, "DELETE FROM outbox WHERE id = $1")                                            \
    X(MSG_PUT, "INSERT INTO messages (name, correlation, message_id, variables, expires) "         \
               "VALUES ($1, $2, $3, $4, $5) RETURNING id")                                         \
    X(MSG_FIND, "SELECT " MSG_COLS " FROM messages WHERE name = $1 AND correlation IS NOT "        \
                "DISTINCT FROM $2 AND expires > $3 ORDER BY id LIMIT 1")                           \
    X(MSG_FIND_ID, "SELECT " MSG_COLS " FROM messages WHERE message_id = $1 AND expires > $2 "     \
                   "ORDER BY id LIMIT 1")                                                          \
    X(MSG_DELETE, "DELETE FROM messages WHERE id = $1")                                            \
    X(MSG_WAITING,                                                                                 \
      "SELECT s.instance, s.key, m.name, m.correlation, NULL FROM messages m JOIN subscriptions "  \
      "s "                                                                                         \
      "ON s.kind = 0 AND s.name = m.name AND (s.correlation IS NULL OR s.correlation = "           \
      "m.correlation) WHERE m.expires > $1 ORDER BY m.id, s.id LIMIT $2")                          \
    X(PURGE_MESSAGES, "DELETE FROM messages WHERE id IN (SELECT id FROM messages "                 \
                      "WHERE expires <= $1 ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED)")     \
    X(PURGE_PICK, "SELECT id FROM instances WHERE ended <> 0 AND ended < $1 "                      \
                  "ORDER BY ended LIMIT $2 FOR UPDATE SKIP LOCKED")                                \
    X(PURGE_HISTORY, "DELETE FROM history WHERE instance = ANY ($1::bigint[])")                    \
    X(PURGE_JOBS, "DELETE FROM jobs WHERE instance = ANY ($1::bigint[])")                          \
    X(PURGE_TIMERS, "DELETE FROM timers WHERE instance = ANY ($1::bigint[])")                      \
    X(PURGE_SUBS, "DELETE FROM subscriptions WHERE instance = ANY ($1::bigint[])")                 \
    X(PURGE_TASKS, "DELETE FROM user_tasks WHERE instance = ANY ($1::bigint[])")                   \
    X(PURGE_INCIDENTS, "DELETE FROM incidents WHERE instance = ANY ($1::bigint[])")                \
    X(PURGE_INSTANCES, "DELETE FROM instances WHERE id = ANY ($1::bigint[])")

enum {
#define PG_ENUM(name, sql) PG_##name,
    PG_MAP(PG_ENUM)
#undef PG_ENUM
        PG_COUNT
};

static const char *const pg_sql[PG_COUNT] = {
#define PG_TEXT(name, sql) sql,
    PG_MAP(PG_TEXT)
#undef PG_TEXT
};

static const char *const pg_name[PG_COUNT] = {
#define PG_NAME(name, sql) "baton_" #name,
    PG_MAP(PG_NAME)
#undef PG_NAME
};

#define ID_BLOCK 32 /* the instance_ids sequence's increment */

/* Last history sequence number per instance known in the open transaction. */
typedef struct hist_mark {
    int64_t instance;
    uint64_t last;
} hist_mark;

typedef struct pg_store {
    baton_store base;
    PGconn *conn;
    char *where; /* "host/db" for messages, no password */
    bool prepared[PG_COUNT];
    bool in_tx;
    bool failed;
    char cause[320];
    baton_status refused;      /* in a transaction: a statement was refused (the tx is aborted) */
    char refusal[320];         /* ... which one and why, repeated to every later call */
    pool rows;                 /* strings of rows handed out: valid until the next call */
    int64_t next_id, end_id;   /* instance ids taken from the sequence, not yet used */
    bool begin_sent;           /* in a transaction: BEGIN went out (it is sent with the first
                                  statement, so a transaction that does nothing costs nothing) */
    bool async_pending;        /* a ROLLBACK went out whose answer is still to be read */
    struct deferred *deferred; /* writes waiting to go out with the next statement */
    uint32_t n_deferred, cap_deferred;
    pool txpool; /* their parameters, for the transaction's life */
    /* history buffered in the open transaction, as the six array literals of HIST_WRITE */
    baton_buf h_inst, h_seq, h_at, h_kind, h_elem, h_rec;
    uint32_t h_n;
    hist_mark *marks;
    uint32_t n_marks, cap_marks;
} pg_store;

/* ---- errors --------------------------------------------------------------------------- */

/* libpq's messages span lines ("\n\tThis probably means ..."): one line, no trailing space. */
static void one_line(char *msg) {
    char *w = msg;
    bool space = false;
    for (const char *r = msg; *r; r++) {
        bool ws = *r == '\n' || *r == '\t' || *r == '\r' || *r == ' ';
        if (ws) {
            space = w != msg;
            continue;
        }
        if (space)
            *w++ = ' ';
        space = false;
        *w++ = *r;
    }
    *w = '\0';
}

static void discard_tx_state(pg_store *p) {
    p->in_tx = false;
    p->refused = BATON_OK;
    p->begin_sent = false;
    p->n_deferred = 0;
    pool_reset(&p->txpool);
    p->h_n = 0;
    p->n_marks = 0;
    baton_buf_reset(&p->h_inst);
    baton_buf_reset(&p->h_seq);
    baton_buf_reset(&p->h_at);
    baton_buf_reset(&p->h_kind);
    baton_buf_reset(&p->h_elem);
    baton_buf_reset(&p->h_rec);
}

static baton_status fail_with(pg_store *p, baton_error *err, const char *fmt, ...)
    BATON_PRINTF(3, 4);
static void drain(pg_store *p);

static baton_status fail_with(pg_store *p, baton_error *err, const char *fmt, ...) {
    char msg[sizeof p->cause];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    one_line(msg);
    if (!p->failed) {
        p->failed = true;
        snprintf(p->cause, sizeof p->cause, "%s", msg);
    }
    drain(p);
    if (p->in_tx && p->conn && PQstatus(p->conn) == CONNECTION_OK &&
        PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(p->conn, "ROLLBACK");
        PQclear(r);
    }
    discard_tx_state(p);
    return baton_error_set(err, BATON_STORE, "postgresql store '%s': %s", p->where, msg);
}

/*
 * A failed result: unique violations and transient conflicts leave the
 * handle usable; a lost connection or anything else fails it.
 */
static baton_status pg_error(pg_store *p, PGresult *r, const char *what, baton_error *err) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg)
        msg = PQerrorMessage(p->conn);
    char text[256];
    snprintf(text, sizeof text, "%s", msg);
    one_line(text);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return fail_with(p, err, "%s: connection lost: %s", what, text);
    baton_status st = BATON_STORE;
    if (state && strncmp(state, "23", 2) == 0)
        st = BATON_CONFLICT;
    else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                       strcmp(state, "55P03") == 0))
        st = BATON_BUSY;
    else
        return fail_with(p, err, "%s: %s%s%s", what, text, state ? " SQLSTATE " : "",
                         state ? state : "");
    if (p->in_tx && !p->refused) {
        p->refused = st;
        snprintf(p->refusal, sizeof p->refusal, "%s: %s", what, text);
    }
    return baton_error_set(err, st, "postgresql store '%s': %s: %s", p->where, what, text);
}

/* In a refused transaction: that refusal again (the server would answer nothing else). */
static baton_status refused_again(pg_store *p, baton_error *err) {
    return baton_error_set(err, p->refused,
                           "postgresql store '%s': the transaction was refused earlier (%s); "
                           "roll it back",
                           p->where, p->refusal);
}

static baton_status check(pg_store *p, baton_error *err) {
    pool_reset(&p->rows);
    if (p->failed)
        return baton_error_set(err, BATON_STORE,
                               "postgresql store '%s': failed earlier (%s); "
                               "reopen it",
                               p->where, p->cause);
    if (p->in_tx && p->refused)
        return refused_again(p, err);
    return BATON_OK;
}

#define CHECK(p, err)                                                                              \
    do {                                                                                           \
        baton_status st_ = check(p, err);                                                          \
        if (st_)                                                                                   \
            return st_;                                                                            \
    } while (0)

static baton_status oom(pg_store *p, baton_error *err) {
    return baton_error_set(err, BATON_NOMEM, "postgresql store '%s': out of memory", p->where);
}

/* ---- statements ------------------------------------------------------------------------- */

/* Parameters as text; numbers are formatted into the slot's own buffer. */
typedef struct params {
    int n;
    const char *v[16];
    int len[16];
    int fmt[16];
    char num[16][24];
} params;

static void p_text(params *a, const char *s) {
    a->v[a->n] = s;
    a->len[a->n] = 0;
    a->fmt[a->n] = 0;
    a->n++;
}

static void p_int(params *a, int64_t x) {
    snprintf(a->num[a->n], sizeof a->num[0], "%" PRId64, x);
    p_text(a, a->num[a->n]);
}

static void p_bytes(params *a, const char *s, size_t len) {
    a->v[a->n] = s;
    a->len[a->n] = (int)len;
    a->fmt[a->n] = 1;
    a->n++;
}

/*
 * Statements go out in pipelines (libpq's pipeline mode): within a
 * transaction, writes whose answer nobody waits for (upserts of instances,
 * jobs, timers, subscriptions, user tasks, incidents) are kept back and sent
 * with the next statement that needs an answer, or with COMMIT; BEGIN goes
 * with the first statement. A step is then about three round trips: BEGIN +
 * the instance, the deletes it needs answers from, and writes + history +
 * COMMIT. A kept-back write that fails is reported by the statement it went
 * out with, and the transaction is lost as with any failure.
 */
typedef struct deferred {
    int which;
    const char *what;
    int n;
    const char *v[16];
    int len[16];
    int fmt[16];
} deferred;

/* One statement of a pipeline: a prepared one (which >= 0) or fixed text without parameters. */
typedef struct call {
    int which;
    const char *sql;
    int n;
    const char *const *v;
    const int *len;
    const int *fmt;
    const char *what;
} call;

static baton_status prepare(pg_store *p, int which, const char *what, baton_error *err) {
    if (p->prepared[which])
        return BATON_OK;
    PGresult *r = PQprepare(p->conn, pg_name[which], pg_sql[which], 0, NULL);
    baton_status st = BATON_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        st = pg_error(p, r, what, err);
    else
        p->prepared[which] = true;
    PQclear(r);
    return st;
}

/* Read the answer of a ROLLBACK sent without waiting. */
static void drain(pg_store *p) {
    if (!p->async_pending)
        return;
    p->async_pending = false;
    for (int guard = 0; guard < 16; guard++) {
        PGresult *r = PQgetResult(p->conn);
        if (!r) {
            if (PQstatus(p->conn) != CONNECTION_OK)
                break;
            continue;
        }
        ExecStatusType s = PQresultStatus(r);
        PQclear(r);
        if (s == PGRES_PIPELINE_SYNC)
            break;
    }
    PQexitPipelineMode(p->conn);
}

/*
 * Send the calls in one pipeline and read every answer; *out (may be NULL)
 * gets the result of call `want`. The first failure is reported (after the
 * pipeline ended, so the failure handling can talk to the server).
 */
static baton_status pipeline(pg_store *p, const call *c, int n, int want, PGresult **out,
                             baton_error *err) {
    drain(p);
    for (int i = 0; i < n; i++)
        if (c[i].which >= 0) {
            baton_status st = prepare(p, c[i].which, c[i].what, err);
            if (st)
                return st;
        }
    if (!PQenterPipelineMode(p->conn))
        return fail_with(p, err, "%s: %s", c[0].what, PQerrorMessage(p->conn));
    bool sent = true;
    for (int i = 0; i < n && sent; i++)
        sent = c[i].which >= 0 ? PQsendQueryPrepared(p->conn, pg_name[c[i].which], c[i].n, c[i].v,
                                                     c[i].len, c[i].fmt, 0)
                               : PQsendQueryParams(p->conn, c[i].sql, 0, NULL, NULL, NULL, NULL, 0);
    if (!sent || !PQpipelineSync(p->conn)) {
        PQexitPipelineMode(p->conn);
        return fail_with(p, err, "%s: connection lost: %s", c[0].what, PQerrorMessage(p->conn));
    }
    PGresult *bad = NULL, *keep = NULL;
    int bad_at = 0;
    bool lost = false;
    for (int i = 0; i < n && !lost; i++) {
        PGresult *r = PQgetResult(p->conn);
        if (!r) {
            lost = true;
            bad_at = i;
            break;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
            if (i == want && out)
                keep = r;
            else
                PQclear(r);
        } else if (s == PGRES_PIPELINE_ABORTED || bad) {
            PQclear(r);
        } else {
            bad = r;
            bad_at = i;
        }
        PGresult *end = PQgetResult(p->conn); /* NULL ends each statement's results */
        if (end)
            PQclear(end);
    }
    if (!lost) {
        PGresult *sync = PQgetResult(p->conn);
        if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
            lost = true;
        PQclear(sync);
    }
    PQexitPipelineMode(p->conn);
    baton_status st = BATON_OK;
    if (bad) {
        st = pg_error(p, bad, c[bad_at].what, err);
        PQclear(bad);
    } else if (lost || PQstatus(p->conn) != CONNECTION_OK) {
        st = fail_with(p, err, "%s: connection lost: %s", c[bad_at].what, PQerrorMessage(p->conn));
    }
    if (st) {
        PQclear(keep);
        return st;
    }
    if (out)
        *out = keep;
    return BATON_OK;
}

/* The calls that must go out before a statement of the open transaction. */
static int pending_calls(pg_store *p, call *c, int max) {
    int n = 0;
    if (p->in_tx && !p->begin_sent && n < max)
        c[n++] = (call){-1, "BEGIN", 0, NULL, NULL, NULL, "beginning a transaction"};
    for (uint32_t i = 0; i < p->n_deferred && n < max; i++) {
        const deferred *d = &p->deferred[i];
        c[n++] = (call){d->which, NULL, d->n, d->v, d->len, d->fmt, d->what};
    }
    return n;
}

static void sent_pending(pg_store *p) {
    if (p->in_tx)
        p->begin_sent = true;
    p->n_deferred = 0;
}

/* Run a prepared statement (with what is pending); on failure a status, no result. */
static baton_status exec(pg_store *p, int which, const params *a, const char *what, PGresult **out,
                         baton_error *err) {
    if (p->in_tx && (!p->begin_sent || p->n_deferred)) {
        uint32_t cap = p->n_deferred + 2;
        call stack[34], *c = cap <= 34 ? stack : baton_malloc(cap * sizeof *c);
        if (!c)
            return oom(p, err);
        int n = pending_calls(p, c, (int)cap);
        c[n++] = (call){
            which, NULL, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL, a ? a->fmt : NULL, what};
        PGresult *r = NULL;
        baton_status st = pipeline(p, c, n, n - 1, &r, err);
        if (c != stack)
            baton_free(c);
        sent_pending(p);
        if (st)
            return st;
        if (out)
            *out = r;
        else
            PQclear(r);
        return BATON_OK;
    }
    drain(p);
    baton_status st = prepare(p, which, what, err);
    if (st)
        return st;
    PGresult *r = PQexecPrepared(p->conn, pg_name[which], a ? a->n : 0, a ? a->v : NULL,
                                 a ? a->len : NULL, a ? a->fmt : NULL, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        st = pg_error(p, r, what, err);
        PQclear(r);
        return st;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return BATON_OK;
}

/* Keep a write back until the next statement or COMMIT (a transaction of its own outside one). */
static baton_status defer(pg_store *p, int which, const params *a, const char *what,
                          baton_error *err) {
    if (!p->in_tx)
        return exec(p, which, a, what, NULL, err);
    if (p->n_deferred == p->cap_deferred) {
        uint32_t cap = p->cap_deferred ? p->cap_deferred * 2 : 32;
        deferred *d = baton_realloc(p->deferred, cap * sizeof *d);
        if (!d)
            return oom(p, err);
        p->deferred = d;
        p->cap_deferred = cap;
    }
    deferred *d = &p->deferred[p->n_deferred];
    d->which = which;
    d->what = what;
    d->n = a->n;
    bool oom_ = false;
    for (int i = 0; i < a->n; i++) {
        d->len[i] = a->len[i];
        d->fmt[i] = a->fmt[i];
        d->v[i] = !a->v[i]    ? NULL
                  : a->fmt[i] ? pool_dupn(&p->txpool, a->v[i], (size_t)a->len[i], &oom_)
                              : pool_dup(&p->txpool, a->v[i], &oom_);
    }
    if (oom_)
        return oom(p, err);
    p->n_deferred++;
    /* bound what waits: a long transaction sends its writes in batches */
    if (p->n_deferred >= 32) {
        call c[34];
        int n = pending_calls(p, c, 34);
        baton_status st = pipeline(p, c, n, -1, NULL, err);
        sent_pending(p);
        return st;
    }
    return BATON_OK;
}

/* A simple statement outside any pipeline (migrations, ...). */
static baton_status simple(pg_store *p, const char *sql, const char *what, baton_error *err) {
    drain(p);
    PGresult *r = PQexec(p->conn, sql);
    ExecStatusType s = PQresultStatus(r);
    baton_status st = BATON_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        st = pg_error(p, r, what, err);
    PQclear(r);
    return st;
}

static const char *val(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t ival(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int affected(const PGresult *r) {
    return atoi(PQcmdTuples((PGresult *)r));
}

/* ---- transactions ------------------------------------------------------------------------- */

static baton_status pg_begin(baton_store *s, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    if (p->in_tx)
        return baton_error_set(err, BATON_INTERNAL, "postgresql store '%s': nested transaction",
                               p->where);
    discard_tx_state(p);
    p->in_tx = true; /* BEGIN goes out with the first statement */
    return BATON_OK;
}

/* Append one array element (text form) to an array literal being built. */
static baton_status arr_add(baton_buf *b, const char *v, bool quote) {
    baton_status st = baton_buf_putc(b, b->len ? ',' : '{');
    if (!v)
        return st ? st : baton_buf_puts(b, "NULL");
    if (!quote)
        return st ? st : baton_buf_puts(b, v);
    if (!st)
        st = baton_buf_putc(b, '"');
    for (const char *c = v; !st && *c; c++) {
        if (*c == '"' || *c == '\\')
            st = baton_buf_putc(b, '\\');
        if (!st)
            st = baton_buf_putc(b, *c);
    }
    return st ? st : baton_buf_putc(b, '"');
}

static const char *arr_end(baton_buf *b) {
    if (baton_buf_putc(b, '}'))
        return NULL;
    return baton_buf_str(b);
}

/* The HIST_WRITE call for the buffered history, into c (its literals live in the buffers). */
static baton_status history_call(pg_store *p, params *a, call *c, baton_error *err) {
    baton_buf *bufs[] = {&p->h_inst, &p->h_seq, &p->h_at, &p->h_kind, &p->h_elem, &p->h_rec};
    a->n = 0;
    for (int i = 0; i < 6; i++) {
        const char *lit = arr_end(bufs[i]);
        if (!lit)
            return oom(p, err);
        p_text(a, lit);
    }
    *c = (call){PG_HIST_WRITE, NULL, a->n, a->v, a->len, a->fmt, "writing the history"};
    return BATON_OK;
}

static void history_sent(pg_store *p) {
    baton_buf *bufs[] = {&p->h_inst, &p->h_seq, &p->h_at, &p->h_kind, &p->h_elem, &p->h_rec};
    for (int i = 0; i < 6; i++)
        baton_buf_reset(bufs[i]);
    p->h_n = 0;
}

/* Write the buffered history now (before reading it back). */
static baton_status flush_history(pg_store *p, baton_error *err) {
    if (!p->h_n)
        return BATON_OK;
    params a = {0};
    call c;
    baton_status st = history_call(p, &a, &c, err);
    if (!st)
        st = exec(p, PG_HIST_WRITE, &a, c.what, NULL, err);
    history_sent(p);
    return st;
}

/* End the transaction on the server without waiting for the answer. */
static void rollback_async(pg_store *p) {
    if (!p->begin_sent || p->failed || PQstatus(p->conn) != CONNECTION_OK)
        return;
    drain(p);
    if (PQenterPipelineMode(p->conn) &&
        PQsendQueryParams(p->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0) &&
        PQpipelineSync(p->conn))
        p->async_pending = true;
    else
        PQexitPipelineMode(p->conn);
}

static baton_status pg_commit(baton_store *s, baton_error *err) {
    pg_store *p = (pg_store *)s;
    if (p->in_tx && p->refused && !p->failed) {
        /* nothing of it may commit: end it on the server, answer the refusal */
        baton_status st = refused_again(p, err);
        rollback_async(p);
        discard_tx_state(p);
        return st;
    }
    CHECK(p, err);
    if (!p->in_tx)
        return BATON_OK;
    if (!p->begin_sent && !p->n_deferred && !p->h_n) {
        discard_tx_state(p); /* nothing was said: nothing to end */
        return BATON_OK;
    }
    if (baton_store_fault_fire())
        return fail_with(p, err, "commit failed: injected fault");
    /* BEGIN (if not sent), the kept-back writes, the history, COMMIT: one round trip */
    uint32_t cap = p->n_deferred + 3;
    call stack[40], *c = cap <= 40 ? stack : baton_malloc(cap * sizeof *c);
    if (!c)
        return oom(p, err);
    int n = pending_calls(p, c, (int)cap);
    params h = {0};
    baton_status st = BATON_OK;
    if (p->h_n)
        st = history_call(p, &h, &c[n++], err);
    c[n++] = (call){-1, "COMMIT", 0, NULL, NULL, NULL, "committing"};
    PGresult *r = NULL;
    if (!st)
        st = pipeline(p, c, n, n - 1, &r, err);
    if (c != stack)
        baton_free(c);
    sent_pending(p);
    history_sent(p);
    /* COMMIT of an aborted transaction answers ROLLBACK: that is a failure too */
    if (!st && r && strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
        st =
            baton_error_set(err, BATON_CONFLICT,
                            "postgresql store '%s': the transaction was aborted earlier", p->where);
    PQclear(r);
    if (st && !p->failed && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        rollback_async(p);
    discard_tx_state(p);
    return st;
}

static void pg_rollback(baton_store *s) {
    pg_store *p = (pg_store *)s;
    pool_reset(&p->rows);
    if (!p->in_tx)
        return;
    rollback_async(p);
    discard_tx_state(p);
}

/* ---- reading rows --------------------------------------------------------------------------- */

typedef baton_status (*read_fn)(pg_store *p, const PGresult *r, int row, pool *pl, void *out);

static baton_status list(pg_store *p, PGresult *r, read_fn rd, size_t size, baton_row_fn fn,
                         void *cookie, baton_error *err) {
    pool pl = {0};
    rowvec v = {0};
    baton_status st = BATON_OK;
    int n = PQntuples(r);
    for (int i = 0; i < n && !st; i++) {
        void *row = rowvec_push(&v, size);
        if (!row || rd(p, r, i, &pl, row))
            st = oom(p, err);
    }
    PQclear(r);
    for (size_t i = 0; !st && i < v.n; i++)
        if (fn(cookie, (char *)v.data + i * size))
            break;
    rowvec_free(&v);
    pool_fini(&pl);
    return st;
}

static baton_status one(pg_store *p, PGresult *r, read_fn rd, void *out, baton_error *err) {
    baton_status st = BATON_NOTFOUND;
    if (PQntuples(r) > 0)
        st = rd(p, r, 0, &p->rows, out) ? oom(p, err) : BATON_OK;
    PQclear(r);
    return st;
}

#define DUP(x) pool_dup(pl, (x), &oom_)

static baton_status read_deployment(pg_store *p, const PGresult *r, int i, pool *pl,
                                    baton_deployment_row *out) {
    (void)p;
    bool oom_ = false;
    out->id = ival(r, i, 0);
    out->name = DUP(val(r, i, 1));
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 2), &n);
    if (!raw)
        return BATON_NOMEM;
    out->xml = pool_dupn(pl, (const char *)raw, n, &oom_);
    out->xml_len = n;
    PQfreemem(raw);
    out->hash = DUP(val(r, i, 3));
    out->created = ival(r, i, 4);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_definition(pg_store *p, const PGresult *r, int i, pool *pl,
                                    baton_definition_row *out) {
    (void)p;
    bool oom_ = false;
    out->process_id = DUP(val(r, i, 0));
    out->version = (int32_t)ival(r, i, 1);
    out->deployment = ival(r, i, 2);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_instance(pg_store *p, const PGresult *r, int i, pool *pl,
                                  baton_instance_row *out) {
    (void)p;
    bool oom_ = false;
    out->id = ival(r, i, 0);
    out->deployment = ival(r, i, 1);
    out->process_id = DUP(val(r, i, 2));
    out->version = (int32_t)ival(r, i, 3);
    out->state = (int32_t)ival(r, i, 4);
    out->business_key = DUP(val(r, i, 5));
    out->parent_id = ival(r, i, 6);
    out->parent_key = ival(r, i, 7);
    out->started = ival(r, i, 8);
    out->ended = ival(r, i, 9);
    out->incidents = (int32_t)ival(r, i, 10);
    out->seq = (uint64_t)ival(r, i, 11);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_job_at(const PGresult *r, int i, int c, pool *pl, baton_job_row *out) {
    bool oom_ = false;
    out->instance = ival(r, i, c);
    out->key = ival(r, i, c + 1);
    out->type = DUP(val(r, i, c + 2));
    out->element = DUP(val(r, i, c + 3));
    out->retries = (int32_t)ival(r, i, c + 4);
    out->available_at = ival(r, i, c + 5);
    out->worker = DUP(val(r, i, c + 6));
    out->lock_expiry = ival(r, i, c + 7);
    out->created = ival(r, i, c + 8);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_job(pg_store *p, const PGresult *r, int i, pool *pl, baton_job_row *out) {
    (void)p;
    return read_job_at(r, i, 0, pl, out);
}

static baton_status read_timer(pg_store *p, const PGresult *r, int i, pool *pl,
                               baton_timer_row *out) {
    (void)p;
    bool oom_ = false;
    out->instance = ival(r, i, 0);
    out->key = ival(r, i, 1);
    out->due = ival(r, i, 2);
    out->deployment = ival(r, i, 3);
    out->element = DUP(val(r, i, 4));
    out->repeat = (int32_t)ival(r, i, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_sub(pg_store *p, const PGresult *r, int i, pool *pl, baton_sub_row *out) {
    (void)p;
    bool oom_ = false;
    out->instance = ival(r, i, 0);
    out->key = ival(r, i, 1);
    out->name = DUP(val(r, i, 2));
    out->correlation = DUP(val(r, i, 3));
    out->element = DUP(val(r, i, 4));
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_task(pg_store *p, const PGresult *r, int i, pool *pl,
                              baton_task_row *out) {
    (void)p;
    bool oom_ = false;
    out->instance = ival(r, i, 0);
    out->key = ival(r, i, 1);
    out->element = DUP(val(r, i, 2));
    out->name = DUP(val(r, i, 3));
    out->process_id = DUP(val(r, i, 4));
    out->assignee = DUP(val(r, i, 5));
    out->details = DUP(val(r, i, 6));
    out->created = ival(r, i, 7);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_incident(pg_store *p, const PGresult *r, int i, pool *pl,
                                  baton_incident_row *out) {
    (void)p;
    bool oom_ = false;
    out->instance = ival(r, i, 0);
    out->key = ival(r, i, 1);
    out->element = DUP(val(r, i, 2));
    out->kind = DUP(val(r, i, 3));
    out->message = DUP(val(r, i, 4));
    out->created = ival(r, i, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_event(pg_store *p, const PGresult *r, int i, pool *pl,
                               baton_event_row *out) {
    (void)p;
    bool oom_ = false;
    out->id = ival(r, i, 0);
    out->kind = (int32_t)ival(r, i, 1);
    out->instance = ival(r, i, 2);
    out->key = ival(r, i, 3);
    out->payload = DUP(val(r, i, 4));
    out->created = ival(r, i, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status read_message(pg_store *p, const PGresult *r, int i, pool *pl,
                                 baton_message_row *out) {
    (void)p;
    bool oom_ = false;
    out->id = ival(r, i, 0);
    out->name = DUP(val(r, i, 1));
    out->correlation = DUP(val(r, i, 2));
    out->message_id = DUP(val(r, i, 3));
    out->variables = DUP(val(r, i, 4));
    out->expires = ival(r, i, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

/* ---- the ops ------------------------------------------------------------------------------------
 */

/*
 * Run a write: inside the open transaction, or as a transaction of its own
 * (one statement outside BEGIN is one).
 */
static baton_status write1(pg_store *p, int which, const params *a, const char *what,
                           PGresult **out, baton_error *err) {
    return exec(p, which, a, what, out, err);
}

static baton_status delete_by(pg_store *p, int which, const params *a, const char *what,
                              baton_error *err) {
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = write1(p, which, a, what, &r, err);
    if (st)
        return st;
    st = affected(r) ? BATON_OK : BATON_NOTFOUND;
    PQclear(r);
    return st;
}

static baton_status pg_dep_find_hash(baton_store *s, const char *hash, int64_t *id_out,
                                     baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    /* inside a transaction this is the start of a deployment: serialize them */
    baton_status st =
        p->in_tx ? exec(p, PG_DEP_LOCK, NULL, "locking deployments", NULL, err) : BATON_OK;
    params a = {0};
    p_text(&a, hash);
    PGresult *r = NULL;
    if (!st)
        st = exec(p, PG_DEP_FIND_HASH, &a, "finding a deployment", &r, err);
    if (st)
        return st;
    st = PQntuples(r) ? BATON_OK : BATON_NOTFOUND;
    if (!st)
        *id_out = ival(r, 0, 0);
    PQclear(r);
    return st;
}

static baton_status pg_dep_put(baton_store *s, baton_deployment_row *row, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, row->name);
    p_bytes(&a, row->xml ? row->xml : "", row->xml_len);
    p_text(&a, row->hash);
    p_int(&a, row->created);
    PGresult *r = NULL;
    baton_status st = write1(p, PG_DEP_PUT, &a, "storing a deployment", &r, err);
    if (st)
        return st;
    row->id = ival(r, 0, 0);
    PQclear(r);
    return BATON_OK;
}

static baton_status pg_dep_get(baton_store *s, int64_t id, baton_deployment_row *out,
                               baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, id);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_DEP_GET, &a, "reading a deployment", &r, err);
    if (st)
        return st;
    st = one(p, r, (read_fn)read_deployment, out, err);
    if (st == BATON_NOTFOUND)
        return baton_error_set(err, BATON_NOTFOUND, "no deployment %lld", (long long)id);
    return st;
}

static baton_status pg_dep_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_DEP_LIST, NULL, "listing deployments", &r, err);
    return st ? st
              : list(p, r, (read_fn)read_deployment, sizeof(baton_deployment_row), fn, cookie, err);
}

static baton_status pg_def_put(baton_store *s, const baton_definition_row *row, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, row->process_id);
    p_int(&a, row->version);
    p_int(&a, row->deployment);
    return write1(p, PG_DEF_PUT, &a, "storing a definition", NULL, err);
}

static baton_status pg_def_latest(baton_store *s, const char *pid, baton_definition_row *out,
                                  baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, pid);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_DEF_LATEST, &a, "reading a definition", &r, err);
    return st ? st : one(p, r, (read_fn)read_definition, out, err);
}

static baton_status pg_def_get(baton_store *s, const char *pid, int32_t version,
                               baton_definition_row *out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, pid);
    p_int(&a, version);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_DEF_GET, &a, "reading a definition", &r, err);
    return st ? st : one(p, r, (read_fn)read_definition, out, err);
}

static baton_status pg_def_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_DEF_LIST, NULL, "listing definitions", &r, err);
    return st ? st
              : list(p, r, (read_fn)read_definition, sizeof(baton_definition_row), fn, cookie, err);
}

static baton_status mark_set(pg_store *p, int64_t instance, uint64_t last) {
    for (uint32_t i = 0; i < p->n_marks; i++)
        if (p->marks[i].instance == instance) {
            p->marks[i].last = last;
            return BATON_OK;
        }
    if (p->n_marks == p->cap_marks) {
        uint32_t cap = p->cap_marks ? p->cap_marks * 2 : 16;
        hist_mark *m = baton_realloc(p->marks, cap * sizeof *m);
        if (!m)
            return BATON_NOMEM;
        p->marks = m;
        p->cap_marks = cap;
    }
    p->marks[p->n_marks++] = (hist_mark){instance, last};
    return BATON_OK;
}

static hist_mark *mark_get(pg_store *p, int64_t instance) {
    for (uint32_t i = 0; i < p->n_marks; i++)
        if (p->marks[i].instance == instance)
            return &p->marks[i];
    return NULL;
}

static baton_status pg_inst_new_id(baton_store *s, int64_t *id_out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    if (p->next_id >= p->end_id) {
        /* sequences are not transactional: a block taken stays taken, never reused */
        PGresult *r = NULL;
        baton_status st = exec(p, PG_INST_NEW_IDS, NULL, "allocating instance ids", &r, err);
        if (st)
            return st;
        p->next_id = ival(r, 0, 0);
        p->end_id = p->next_id + ID_BLOCK;
        PQclear(r);
    }
    *id_out = p->next_id++;
    /* a new instance has no history yet: its appends need not ask */
    if (p->in_tx && mark_set(p, *id_out, 0))
        return oom(p, err);
    return BATON_OK;
}

static baton_status pg_inst_get(baton_store *s, int64_t id, baton_instance_row *row_out,
                                const char **state_out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, id);
    PGresult *r = NULL;
    baton_status st =
        exec(p, p->in_tx ? PG_INST_GET_LOCK : PG_INST_GET, &a, "reading an instance", &r, err);
    if (st)
        return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)id);
    }
    bool oom_ = false;
    const char *state = pool_dup(&p->rows, val(r, 0, 12), &oom_);
    uint64_t last = (uint64_t)ival(r, 0, 13);
    if (read_instance(p, r, 0, &p->rows, row_out) || oom_)
        st = oom(p, err);
    PQclear(r);
    if (st)
        return st;
    if (state_out)
        *state_out = state;
    if (p->in_tx && !mark_get(p, id) && mark_set(p, id, last))
        return oom(p, err);
    return BATON_OK;
}

static baton_status pg_inst_put(baton_store *s, const baton_instance_row *row, const char *state,
                                baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, row->id);
    p_int(&a, row->deployment);
    p_text(&a, row->process_id);
    p_int(&a, row->version);
    p_int(&a, row->state);
    p_text(&a, row->business_key);
    p_int(&a, row->parent_id);
    p_int(&a, row->parent_key);
    p_int(&a, row->started);
    p_int(&a, row->ended);
    p_int(&a, row->incidents);
    p_int(&a, (int64_t)row->seq);
    p_text(&a, state);
    return defer(p, PG_INST_PUT, &a, "storing an instance", err);
}

static baton_status pg_inst_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_INST_LIST, NULL, "listing instances", &r, err);
    return st ? st
              : list(p, r, (read_fn)read_instance, sizeof(baton_instance_row), fn, cookie, err);
}

/*
 * A statement whose text depends on its arguments (a filter's conditions),
 * sent unnamed with its parameters so the server plans it for these values
 * and picks the index that fits them. What the open transaction kept back
 * goes out first, in a pipeline of its own.
 */
static baton_status exec_text(pg_store *p, const char *sql, const params *a, const char *what,
                              PGresult **out, baton_error *err) {
    if (p->in_tx && (!p->begin_sent || p->n_deferred)) {
        call c[34];
        int n = pending_calls(p, c, 34);
        baton_status st = pipeline(p, c, n, -1, NULL, err);
        sent_pending(p);
        if (st)
            return st;
    }
    drain(p);
    PGresult *r = PQexecParams(p->conn, sql, a->n, NULL, a->v, a->len, a->fmt, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        baton_status st = pg_error(p, r, what, err);
        PQclear(r);
        return st;
    }
    *out = r;
    return BATON_OK;
}

static void where_params(const store_where *w, params *a) {
    for (int i = 0; i < w->n; i++) {
        if (w->arg[i].text)
            p_text(a, w->arg[i].text);
        else
            p_int(a, w->arg[i].num);
    }
}

/*
 * One page: the LIMIT bounds what libpq buffers (at most
 * BATON_STORE_QUERY_MAX rows), and each row is handed out as it is read,
 * so nothing is copied beside the result.
 */
static baton_status pg_inst_query(baton_store *s, const baton_instance_filter *f, baton_row_fn fn,
                                  void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    baton_status lst = store_query_limit(f->limit, "instance query", err);
    if (lst)
        return lst;
    store_where w;
    store_instance_where(f, true, '$', &w);
    char sql[768];
    snprintf(sql, sizeof sql, "SELECT " INST_COLS " FROM instances %s ORDER BY id LIMIT $%d", w.sql,
             w.n + 1);
    params a = {0};
    where_params(&w, &a);
    p_int(&a, f->limit);
    PGresult *r = NULL;
    baton_status st = exec_text(p, sql, &a, "querying instances", &r, err);
    if (st)
        return st;
    pool pl = {0};
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        baton_instance_row row;
        if (read_instance(p, r, i, &pl, &row)) {
            st = oom(p, err);
            break;
        }
        int stop = fn(cookie, &row);
        pool_reset(&pl);
        if (stop)
            break;
    }
    pool_fini(&pl);
    PQclear(r);
    return st;
}

/* count(*) of `table`'s rows matching `w`: one row crosses the connection. */
static baton_status count_where(pg_store *p, const char *table, const store_where *w,
                                const char *what, int64_t *count_out, baton_error *err) {
    if (w->overflow)
        return baton_error_set(err, BATON_INVALID, "%s: the filter is too long", what);
    char sql[768];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s %s", table, w->sql);
    params a = {0};
    where_params(w, &a);
    PGresult *r = NULL;
    baton_status st = exec_text(p, sql, &a, what, &r, err);
    if (st)
        return st;
    *count_out = ival(r, 0, 0);
    PQclear(r);
    return BATON_OK;
}

static baton_status pg_inst_count(baton_store *s, const baton_instance_filter *f,
                                  int64_t *count_out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    store_where w;
    store_instance_where(f, false, '$', &w);
    return count_where(p, "instances", &w, "counting instances", count_out, err);
}

static baton_status pg_inst_children(baton_store *s, int64_t parent, int64_t parent_key,
                                     baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, parent);
    p_int(&a, parent_key);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_INST_CHILDREN, &a, "listing child instances", &r, err);
    return st ? st
              : list(p, r, (read_fn)read_instance, sizeof(baton_instance_row), fn, cookie, err);
}

static baton_status pg_hist_append(baton_store *s, int64_t instance, uint64_t seq, int64_t at,
                                   const char *kind, const char *element, const char *json,
                                   baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    bool own_tx = !p->in_tx;
    baton_status st = own_tx ? pg_begin(s, err) : BATON_OK;
    if (st)
        return st;
    hist_mark *m = mark_get(p, instance);
    if (!m) {
        /* not read in this transaction: ask (flushing first, the buffer may hold some) */
        params a = {0};
        p_int(&a, instance);
        PGresult *r = NULL;
        st = flush_history(p, err);
        if (!st)
            st = exec(p, PG_HIST_LAST, &a, "appending to the history", &r, err);
        if (!st) {
            bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
            uint64_t last = (uint64_t)ival(r, 0, 1);
            PQclear(r);
            if (!exists)
                st = baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)instance);
            else if (mark_set(p, instance, last))
                st = oom(p, err);
            else
                m = mark_get(p, instance);
        }
    }
    if (!st && seq != m->last + 1)
        st = baton_error_set(
            err, BATON_CONFLICT, "history of instance %lld: record %llu after %llu",
            (long long)instance, (unsigned long long)seq, (unsigned long long)m->last);
    if (!st) {
        char n1[24], n2[24], n3[24];
        snprintf(n1, sizeof n1, "%" PRId64, instance);
        snprintf(n2, sizeof n2, "%" PRIu64, seq);
        snprintf(n3, sizeof n3, "%" PRId64, at);
        if (arr_add(&p->h_inst, n1, false) || arr_add(&p->h_seq, n2, false) ||
            arr_add(&p->h_at, n3, false) || arr_add(&p->h_kind, kind ? kind : "", true) ||
            arr_add(&p->h_elem, element, true) || arr_add(&p->h_rec, json ? json : "{}", true))
            st = oom(p, err);
        else {
            m->last = seq;
            p->h_n++;
        }
    }
    /* a long step flushes as it goes, keeping the statement bounded */
    if (!st && p->h_n >= 512)
        st = flush_history(p, err);
    if (own_tx) {
        if (!st)
            st = pg_commit(s, err);
        else
            pg_rollback(s);
    }
    return st;
}

static baton_status instance_exists(pg_store *p, int64_t id, bool *out, baton_error *err) {
    params a = {0};
    p_int(&a, id);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_INST_EXISTS, &a, "reading an instance", &r, err);
    if (st)
        return st;
    *out = PQntuples(r) > 0;
    PQclear(r);
    return BATON_OK;
}

static baton_status pg_hist_read(baton_store *s, int64_t instance, uint64_t after, uint32_t limit,
                                 baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    baton_status st = flush_history(p, err);
    bool exists = false;
    if (!st)
        st = instance_exists(p, instance, &exists, err);
    if (st)
        return st;
    if (!exists)
        return baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)instance);
    uint64_t left = limit ? limit : UINT64_MAX;
    while (left > 0) {
        uint32_t chunk = left < 1000 ? (uint32_t)left : 1000;
        params a = {0};
        p_int(&a, instance);
        p_int(&a, (int64_t)after);
        p_int(&a, chunk);
        PGresult *r = NULL;
        st = exec(p, PG_HIST_READ, &a, "reading the history", &r, err);
        if (st)
            return st;
        int n = PQntuples(r);
        /* the records stay in the result while the callbacks run */
        bool stop = (uint32_t)n < chunk;
        for (int i = 0; i < n; i++) {
            after = (uint64_t)ival(r, i, 0);
            if (fn(cookie, PQgetvalue(r, i, 1))) {
                stop = true;
                break;
            }
        }
        PQclear(r);
        left -= (uint64_t)n;
        if (stop)
            break;
    }
    return BATON_OK;
}

static baton_status pg_job_put(baton_store *s, const baton_job_row *row, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, row->instance);
    p_int(&a, row->key);
    p_text(&a, row->type ? row->type : "");
    p_text(&a, row->element);
    p_int(&a, row->retries);
    p_int(&a, row->available_at);
    p_text(&a, row->worker);
    p_int(&a, row->lock_expiry);
    p_int(&a, row->created);
    return defer(p, PG_JOB_PUT, &a, "storing a job", err);
}

static baton_status pg_job_delete(baton_store *s, int64_t instance, int64_t key, baton_error *err) {
    params a = {0};
    p_int(&a, instance);
    p_int(&a, key);
    return delete_by((pg_store *)s, PG_JOB_DELETE, &a, "deleting a job", err);
}

static baton_status pg_job_get(baton_store *s, int64_t instance, int64_t key, baton_job_row *out,
                               baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, instance);
    p_int(&a, key);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_JOB_GET, &a, "reading a job", &r, err);
    return st ? st : one(p, r, (read_fn)read_job, out, err);
}

typedef struct job_locked {
    int64_t id;
    baton_job_row row;
} job_locked;

static int cmp_locked(const void *a, const void *b) {
    const job_locked *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static baton_status pg_job_activate(baton_store *s, const char *type, uint32_t max,
                                    const char *worker, int64_t now, int64_t lock_ms,
                                    baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    if (max == 0)
        return BATON_OK;
    params a = {0};
    p_text(&a, type);
    p_int(&a, now);
    p_int(&a, max);
    p_text(&a, worker);
    p_int(&a, now + lock_ms);
    PGresult *r = NULL;
    baton_status st;
    if (p->in_tx) {
        st = exec(p, PG_JOB_ACTIVATE, &a, "activating jobs", &r, err);
    } else {
        /* a transaction of its own whose commit does not wait for the disk: a job
           lock is a lease (store.h); a lost one only hands the job out again */
        call c[4] = {
            {-1, "BEGIN", 0, NULL, NULL, NULL, "activating jobs"},
            {-1, "SET LOCAL synchronous_commit TO OFF", 0, NULL, NULL, NULL, "activating jobs"},
            {PG_JOB_ACTIVATE, NULL, a.n, a.v, a.len, a.fmt, "activating jobs"},
            {-1, "COMMIT", 0, NULL, NULL, NULL, "activating jobs"},
        };
        st = pipeline(p, c, 4, 2, &r, err);
        if (st && !p->failed && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
            simple(p, "ROLLBACK", "activating jobs", NULL);
    }
    if (st)
        return st;
    pool pl = {0};
    rowvec v = {0};
    int n = PQntuples(r);
    for (int i = 0; i < n && !st; i++) {
        job_locked *j = rowvec_push(&v, sizeof *j);
        if (!j || read_job_at(r, i, 1, &pl, &j->row))
            st = oom(p, err);
        else
            j->id = ival(r, i, 0);
    }
    PQclear(r);
    if (!st && v.n > 1)
        qsort(v.data, v.n, sizeof(job_locked), cmp_locked);
    for (size_t i = 0; !st && i < v.n; i++)
        if (fn(cookie, &((job_locked *)v.data)[i].row))
            break;
    rowvec_free(&v);
    pool_fini(&pl);
    return st;
}

static baton_status pg_job_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_JOB_LIST, NULL, "listing jobs", &r, err);
    return st ? st : list(p, r, (read_fn)read_job, sizeof(baton_job_row), fn, cookie, err);
}

static baton_status pg_timer_put(baton_store *s, const baton_timer_row *row, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, row->instance);
    p_int(&a, row->key);
    p_int(&a, row->due);
    p_int(&a, row->deployment);
    p_text(&a, row->element);
    p_int(&a, row->repeat);
    return defer(p, PG_TIMER_PUT, &a, "storing a timer", err);
}

static baton_status pg_timer_delete(baton_store *s, int64_t instance, int64_t key,
                                    baton_error *err) {
    params a = {0};
    p_int(&a, instance);
    p_int(&a, key);
    return delete_by((pg_store *)s, PG_TIMER_DELETE, &a, "deleting a timer", err);
}

static int cmp_timer(const void *a, const void *b) {
    const baton_timer_row *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    if (x->instance != y->instance)
        return x->instance < y->instance ? -1 : 1;
    return (x->key > y->key) - (x->key < y->key);
}

static baton_status pg_timer_due(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                                 void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, now);
    if (limit)
        p_int(&a, limit);
    else
        p_text(&a, NULL); /* LIMIT NULL: all */
    PGresult *r = NULL;
    if (!p->in_tx) {
        baton_status st = exec(p, PG_TIMER_DUE, &a, "reading due timers", &r, err);
        return st ? st : list(p, r, (read_fn)read_timer, sizeof(baton_timer_row), fn, cookie, err);
    }
    /*
     * In a transaction the caller is about to fire them: lock the instance
     * (the order every step locks in: instance first, so no deadlock with a
     * step that closes the timer) or, for start timers, the timer row, and
     * skip what other transactions hold.
     */
    PGresult *r0 = NULL;
    baton_status st = exec(p, PG_TIMER_DUE_LOCK, &a, "reading due timers", &r, err);
    if (!st)
        st = exec(p, PG_START_TIMER_DUE_LOCK, &a, "reading due timers", &r0, err);
    if (st) {
        PQclear(r);
        return st;
    }
    pool pl = {0};
    rowvec v = {0};
    for (PGresult *x = r; x && !st; x = x == r ? r0 : NULL)
        for (int i = 0; i < PQntuples(x) && !st; i++) {
            baton_timer_row *t = rowvec_push(&v, sizeof *t);
            if (!t || read_timer(p, x, i, &pl, t))
                st = oom(p, err);
        }
    PQclear(r);
    PQclear(r0);
    if (!st && v.n > 1)
        qsort(v.data, v.n, sizeof(baton_timer_row), cmp_timer);
    size_t n = limit && v.n > limit ? limit : v.n;
    for (size_t i = 0; !st && i < n; i++)
        if (fn(cookie, (baton_timer_row *)v.data + i))
            break;
    rowvec_free(&v);
    pool_fini(&pl);
    return st;
}

static baton_status pg_timer_next(baton_store *s, int64_t *due_out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_TIMER_NEXT, NULL, "reading the next timer", &r, err);
    if (st)
        return st;
    *due_out = PQgetisnull(r, 0, 0) ? INT64_MAX : ival(r, 0, 0);
    PQclear(r);
    return BATON_OK;
}

static baton_status pg_sub_put(baton_store *s, int kind, const baton_sub_row *row,
                               baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, kind != 0);
    p_int(&a, row->instance);
    p_int(&a, row->key);
    p_text(&a, row->name ? row->name : "");
    p_text(&a, row->correlation);
    p_text(&a, row->element);
    return defer(p, PG_SUB_PUT, &a, "storing a subscription", err);
}

static baton_status pg_sub_delete(baton_store *s, int kind, int64_t instance, int64_t key,
                                  baton_error *err) {
    params a = {0};
    p_int(&a, kind != 0);
    p_int(&a, instance);
    p_int(&a, key);
    return delete_by((pg_store *)s, PG_SUB_DELETE, &a, "deleting a subscription", err);
}

static baton_status pg_sub_find(baton_store *s, int kind, const char *name, const char *correlation,
                                baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, name);
    if (!kind)
        p_text(&a, correlation);
    PGresult *r = NULL;
    baton_status st =
        exec(p, kind ? PG_SUB_FIND_SIG : PG_SUB_FIND_MSG, &a, "finding subscriptions", &r, err);
    return st ? st : list(p, r, (read_fn)read_sub, sizeof(baton_sub_row), fn, cookie, err);
}

static baton_status pg_task_put(baton_store *s, const baton_task_row *row, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, row->instance);
    p_int(&a, row->key);
    p_text(&a, row->element);
    p_text(&a, row->name);
    p_text(&a, row->process_id);
    p_text(&a, row->assignee);
    p_text(&a, row->details);
    p_int(&a, row->created);
    return defer(p, PG_TASK_PUT, &a, "storing a user task", err);
}

static baton_status pg_task_delete(baton_store *s, int64_t instance, int64_t key,
                                   baton_error *err) {
    params a = {0};
    p_int(&a, instance);
    p_int(&a, key);
    return delete_by((pg_store *)s, PG_TASK_DELETE, &a, "deleting a user task", err);
}

static baton_status pg_task_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_TASK_LIST, NULL, "listing user tasks", &r, err);
    return st ? st : list(p, r, (read_fn)read_task, sizeof(baton_task_row), fn, cookie, err);
}

static baton_status pg_incident_put(baton_store *s, const baton_incident_row *row,
                                    baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, row->instance);
    p_int(&a, row->key);
    p_text(&a, row->element);
    p_text(&a, row->kind);
    p_text(&a, row->message);
    p_int(&a, row->created);
    return defer(p, PG_INC_PUT, &a, "storing an incident", err);
}

static baton_status pg_incident_delete(baton_store *s, int64_t instance, int64_t key,
                                       baton_error *err) {
    params a = {0};
    p_int(&a, instance);
    p_int(&a, key);
    return delete_by((pg_store *)s, PG_INC_DELETE, &a, "deleting an incident", err);
}

static baton_status pg_incident_list(baton_store *s, baton_row_fn fn, void *cookie,
                                     baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_INC_LIST, NULL, "listing incidents", &r, err);
    return st ? st
              : list(p, r, (read_fn)read_incident, sizeof(baton_incident_row), fn, cookie, err);
}

/* ---- job, user task and incident queries ---------------------------------------------- */

/*
 * One page of a filtered query, as pg_inst_query reads instances: an
 * unnamed statement with the filter's parameters and the LIMIT last, so
 * libpq buffers at most a page; each row goes to the callback as it is
 * read. `row` is the caller's row of the type `rd` reads.
 */
static baton_status query_page(pg_store *p, const char *sql, const store_where *w, uint32_t limit,
                               read_fn rd, void *row, const char *what, baton_row_fn fn,
                               void *cookie, baton_error *err) {
    if (w->overflow)
        return baton_error_set(err, BATON_INVALID, "%s: the filter is too long", what);
    params a = {0};
    where_params(w, &a);
    p_int(&a, limit);
    PGresult *r = NULL;
    baton_status st = exec_text(p, sql, &a, what, &r, err);
    if (st)
        return st;
    pool pl = {0};
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        if (rd(p, r, i, &pl, row)) {
            st = oom(p, err);
            break;
        }
        int stop = fn(cookie, row);
        pool_reset(&pl);
        if (stop)
            break;
    }
    pool_fini(&pl);
    PQclear(r);
    return st;
}

static baton_status pg_job_query(baton_store *s, const baton_job_filter *f, baton_row_fn fn,
                                 void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    baton_status st = store_query_limit(f->limit, "job query", err);
    if (st)
        return st;
    store_where w;
    store_job_where(f, '$', &w);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " JOB_COLS " FROM jobs %s ORDER BY instance, key LIMIT $%d",
             w.sql, w.n + 1);
    baton_job_row row;
    return query_page(p, sql, &w, f->limit, (read_fn)read_job, &row, "querying jobs", fn, cookie,
                      err);
}

/*
 * A candidate list in the details' JSON holds the value (as
 * baton_store_task_matches says: a string, or an array with the string in
 * it). No index serves it: the page walks tasks in key order, bounded by
 * the limit in rows returned, not in rows read. The engine writes details
 * with cJSON, so the cast to jsonb does not fail on them.
 */
static void candidate_cond(store_where *w, const char *list, const char *value, char *buf,
                           size_t size) {
    if (!value) {
        buf[0] = '\0';
        return;
    }
    int n = store_where_param(w, value, 0);
    snprintf(buf, size,
             " AND CASE jsonb_typeof(details::jsonb -> '%s') WHEN 'string' THEN "
             "details::jsonb ->> '%s' = $%d WHEN 'array' THEN EXISTS (SELECT 1 FROM "
             "jsonb_array_elements(details::jsonb -> '%s') AS e(v) "
             "WHERE e.v = to_jsonb($%d::text)) END",
             list, list, n, list, n);
}

static baton_status pg_task_query(baton_store *s, const baton_task_filter *f, baton_row_fn fn,
                                  void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    baton_status st = store_query_limit(f->limit, "user task query", err);
    if (st)
        return st;
    store_where w;
    store_task_where(f, '$', &w);
    char group[384], user[384];
    candidate_cond(&w, "candidateGroups", f->candidate_group, group, sizeof group);
    candidate_cond(&w, "candidateUsers", f->candidate_user, user, sizeof user);
    char sql[1664];
    snprintf(sql, sizeof sql,
             "SELECT " TASK_COLS " FROM user_tasks %s%s%s ORDER BY instance, key LIMIT $%d", w.sql,
             group, user, w.n + 1);
    baton_task_row row;
    return query_page(p, sql, &w, f->limit, (read_fn)read_task, &row, "querying user tasks", fn,
                      cookie, err);
}

static baton_status pg_incident_query(baton_store *s, const baton_incident_filter *f,
                                      baton_row_fn fn, void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    baton_status st = store_query_limit(f->limit, "incident query", err);
    if (st)
        return st;
    store_where w;
    store_incident_where(f, true, '$', &w);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT " INC_COLS " FROM incidents %s ORDER BY instance, key LIMIT $%d", w.sql,
             w.n + 1);
    baton_incident_row row;
    return query_page(p, sql, &w, f->limit, (read_fn)read_incident, &row, "querying incidents", fn,
                      cookie, err);
}

/* Runs on every /metrics scrape: one count(*), no row crosses the connection. */
static baton_status pg_incident_count(baton_store *s, const baton_incident_filter *f,
                                      int64_t *count_out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    store_where w;
    store_incident_where(f, false, '$', &w);
    return count_where(p, "incidents", &w, "counting incidents", count_out, err);
}

static baton_status pg_event_push(baton_store *s, baton_event_row *row, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, row->kind);
    p_int(&a, row->instance);
    p_int(&a, row->key);
    p_text(&a, row->payload);
    p_int(&a, row->created);
    PGresult *r = NULL;
    baton_status st = write1(p, PG_EVENT_PUSH, &a, "writing to the outbox", &r, err);
    if (st)
        return st;
    row->id = ival(r, 0, 0);
    PQclear(r);
    return BATON_OK;
}

static baton_status pg_event_peek(baton_store *s, baton_event_row *out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    PGresult *r = NULL;
    baton_status st =
        exec(p, p->in_tx ? PG_EVENT_PEEK_LOCK : PG_EVENT_PEEK, NULL, "reading the outbox", &r, err);
    return st ? st : one(p, r, (read_fn)read_event, out, err);
}

static baton_status pg_event_delete(baton_store *s, int64_t id, baton_error *err) {
    params a = {0};
    p_int(&a, id);
    return delete_by((pg_store *)s, PG_EVENT_DELETE, &a, "deleting an outbox event", err);
}

static baton_status pg_msg_put(baton_store *s, baton_message_row *row, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, row->name ? row->name : "");
    p_text(&a, row->correlation);
    p_text(&a, row->message_id);
    p_text(&a, row->variables);
    p_int(&a, row->expires);
    PGresult *r = NULL;
    baton_status st = write1(p, PG_MSG_PUT, &a, "buffering a message", &r, err);
    if (st)
        return st;
    row->id = ival(r, 0, 0);
    PQclear(r);
    return BATON_OK;
}

static baton_status pg_msg_find(baton_store *s, const char *name, const char *correlation,
                                int64_t now, baton_message_row *out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, name);
    p_text(&a, correlation);
    p_int(&a, now);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_MSG_FIND, &a, "finding a buffered message", &r, err);
    return st ? st : one(p, r, (read_fn)read_message, out, err);
}

static baton_status pg_msg_find_id(baton_store *s, const char *message_id, int64_t now,
                                   baton_message_row *out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_text(&a, message_id);
    p_int(&a, now);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_MSG_FIND_ID, &a, "finding a buffered message", &r, err);
    return st ? st : one(p, r, (read_fn)read_message, out, err);
}

static baton_status pg_msg_delete(baton_store *s, int64_t id, baton_error *err) {
    params a = {0};
    p_int(&a, id);
    return delete_by((pg_store *)s, PG_MSG_DELETE, &a, "deleting a buffered message", err);
}

static baton_status pg_msg_waiting(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                                   void *cookie, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    p_int(&a, now);
    if (limit)
        p_int(&a, limit);
    else
        p_text(&a, NULL);
    PGresult *r = NULL;
    baton_status st = exec(p, PG_MSG_WAITING, &a, "matching buffered messages", &r, err);
    return st ? st : list(p, r, (read_fn)read_sub, sizeof(baton_sub_row), fn, cookie, err);
}

/* The DELETE goes out with the next statement or the commit: nobody waits for its answer. */
static baton_status pg_wait_drop(baton_store *s, int kind, int64_t instance, int64_t key,
                                 baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    params a = {0};
    int which;
    switch (kind) {
    case BATON_WAIT_JOB: which = PG_JOB_DELETE; break;
    case BATON_WAIT_USER_TASK: which = PG_TASK_DELETE; break;
    case BATON_WAIT_TIMER: which = PG_TIMER_DELETE; break;
    case BATON_WAIT_MESSAGE:
    case BATON_WAIT_SIGNAL:
        which = PG_SUB_DELETE;
        p_int(&a, kind == BATON_WAIT_SIGNAL);
        break;
    default: return BATON_OK;
    }
    p_int(&a, instance);
    p_int(&a, key);
    return defer(p, which, &a, "removing a closed wait", err);
}

static bool pg_failed(baton_store *s) {
    return ((pg_store *)s)->failed;
}

static baton_status pg_purge(baton_store *s, int64_t ended_before, int64_t now, uint32_t max,
                             uint32_t *removed_out, baton_error *err) {
    pg_store *p = (pg_store *)s;
    CHECK(p, err);
    bool own_tx = !p->in_tx;
    baton_status st = own_tx ? pg_begin(s, err) : BATON_OK;
    if (st)
        return st;
    uint32_t removed = 0;
    params a = {0};
    p_int(&a, now);
    p_int(&a, max);
    PGresult *r = NULL;
    st = exec(p, PG_PURGE_MESSAGES, &a, "removing expired messages", &r, err);
    if (!st) {
        removed += (uint32_t)affected(r);
        PQclear(r);
        r = NULL;
    }
    baton_buf ids;
    baton_buf_init(&ids, 0);
    if (!st && ended_before != INT64_MIN) {
        params b = {0};
        p_int(&b, ended_before);
        p_int(&b, max);
        st = exec(p, PG_PURGE_PICK, &b, "choosing instances to remove", &r, err);
        int n = st ? 0 : PQntuples(r);
        for (int i = 0; i < n && !st; i++)
            if (arr_add(&ids, PQgetvalue(r, i, 0), false))
                st = oom(p, err);
        if (r)
            PQclear(r);
        static const int deletes[] = {PG_PURGE_HISTORY,  PG_PURGE_JOBS,  PG_PURGE_TIMERS,
                                      PG_PURGE_SUBS,     PG_PURGE_TASKS, PG_PURGE_INCIDENTS,
                                      PG_PURGE_INSTANCES};
        const char *lit = !st && n > 0 ? arr_end(&ids) : NULL;
        if (!st && n > 0 && !lit)
            st = oom(p, err);
        for (size_t k = 0; lit && !st && k < sizeof deletes / sizeof *deletes; k++) {
            params c = {0};
            p_text(&c, lit);
            st = exec(p, deletes[k], &c, "removing ended instances", NULL, err);
        }
        if (!st)
            removed += (uint32_t)n;
    }
    baton_buf_fini(&ids);
    if (own_tx) {
        if (!st)
            st = pg_commit(s, err);
        else
            pg_rollback(s);
    }
    if (!st && removed_out)
        *removed_out = removed;
    return st;
}

/* ---- open/close
 * ---------------------------------------------------------------------------------- */

static void pg_close(baton_store *s) {
    pg_store *p = (pg_store *)s;
    if (!p)
        return;
    if (p->conn)
        PQfinish(p->conn);
    pool_fini(&p->rows);
    baton_buf_fini(&p->h_inst);
    baton_buf_fini(&p->h_seq);
    baton_buf_fini(&p->h_at);
    baton_buf_fini(&p->h_kind);
    baton_buf_fini(&p->h_elem);
    baton_buf_fini(&p->h_rec);
    baton_free(p->marks);
    baton_free(p->deferred);
    pool_fini(&p->txpool);
    baton_free(p->where);
    baton_free(p);
}

static const baton_store_ops postgres_ops = {
    .name = "postgresql",
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .deployment_find_hash = pg_dep_find_hash,
    .deployment_put = pg_dep_put,
    .deployment_get = pg_dep_get,
    .deployment_list = pg_dep_list,
    .definition_put = pg_def_put,
    .definition_latest = pg_def_latest,
    .definition_get = pg_def_get,
    .definition_list = pg_def_list,
    .instance_new_id = pg_inst_new_id,
    .instance_get = pg_inst_get,
    .instance_put = pg_inst_put,
    .instance_list = pg_inst_list,
    .instance_query = pg_inst_query,
    .instance_count = pg_inst_count,
    .instance_children = pg_inst_children,
    .history_append = pg_hist_append,
    .history_read = pg_hist_read,
    .job_put = pg_job_put,
    .job_delete = pg_job_delete,
    .job_get = pg_job_get,
    .job_activate = pg_job_activate,
    .job_list = pg_job_list,
    .job_query = pg_job_query,
    .timer_put = pg_timer_put,
    .timer_delete = pg_timer_delete,
    .timer_due = pg_timer_due,
    .timer_next = pg_timer_next,
    .sub_put = pg_sub_put,
    .sub_delete = pg_sub_delete,
    .sub_find = pg_sub_find,
    .task_put = pg_task_put,
    .task_delete = pg_task_delete,
    .task_list = pg_task_list,
    .task_query = pg_task_query,
    .incident_put = pg_incident_put,
    .incident_delete = pg_incident_delete,
    .incident_list = pg_incident_list,
    .incident_query = pg_incident_query,
    .incident_count = pg_incident_count,
    .event_push = pg_event_push,
    .event_peek = pg_event_peek,
    .event_delete = pg_event_delete,
    .message_put = pg_msg_put,
    .message_find = pg_msg_find,
    .message_find_id = pg_msg_find_id,
    .message_delete = pg_msg_delete,
    .message_waiting = pg_msg_waiting,
    .wait_drop = pg_wait_drop,
    .failed = pg_failed,
    .purge = pg_purge,
};

/* Server notices ("relation exists, skipping") are not errors; lower layers never print. */
static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

/* Bring the schema to the newest version: one transaction under an advisory lock. */
static baton_status migrate(pg_store *p, baton_error *err) {
    /* plain statements, not pipelines: the migrations hold several statements each */
    baton_status st = simple(p, "BEGIN", "beginning the migrations", err);
    if (st)
        return st;
    p->in_tx = p->begin_sent = true;
    /* nodes starting at once take turns here; the lock ends with the transaction */
    st = simple(p, "SELECT pg_advisory_xact_lock(7023398450146361344)", "locking for migrations",
                err);
    if (!st)
        st = simple(p,
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied BIGINT NOT NULL)",
                    "creating the schema version table", err);
    int current = 0;
    if (!st) {
        PGresult *r = PQexec(p->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            current = atoi(PQgetvalue(r, 0, 0));
        else
            st = pg_error(p, r, "reading the schema version", err);
        PQclear(r);
    }
    int latest = (int)baton_postgres_migrations_count;
    if (!st && current > latest)
        st = fail_with(p, err,
                       "the database has schema version %d, newer than this build knows (%d)",
                       current, latest);
    for (int v = current + 1; !st && v <= latest; v++) {
        const baton_migration *m = &baton_postgres_migrations[v - 1];
        char what[128];
        snprintf(what, sizeof what, "migration %04d_%s", m->version, m->name);
        st = simple(p, m->sql, what, err);
        if (st)
            break;
        char sql[256];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version (version, name, applied) VALUES (%d, '%s', %lld)",
                 m->version, m->name, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        st = simple(p, sql, what, err);
    }
    if (st) {
        if (!p->failed)
            simple(p, "ROLLBACK", "rolling back the migrations", NULL);
        discard_tx_state(p);
        return st;
    }
    st = simple(p, "COMMIT", "committing the migrations", err);
    discard_tx_state(p);
    return st;
}

baton_status baton_store_open_postgres(const char *url, baton_store **out, baton_error *err) {
    pg_store *p = baton_calloc(1, sizeof *p);
    if (!p)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    p->base.ops = &postgres_ops;
    baton_buf_init(&p->h_inst, 0);
    baton_buf_init(&p->h_seq, 0);
    baton_buf_init(&p->h_at, 0);
    baton_buf_init(&p->h_kind, 0);
    baton_buf_init(&p->h_elem, 0);
    baton_buf_init(&p->h_rec, 0);
    baton_status st = BATON_OK;
    p->conn = PQconnectdb(url);
    /* name the server without credentials: database, host or socket directory */
    char where[256];
    const char *db = p->conn ? PQdb(p->conn) : NULL;
    const char *host = p->conn ? PQhost(p->conn) : NULL;
    snprintf(where, sizeof where, "%s%s%s", host && *host ? host : "", host && *host ? "/" : "",
             db && *db ? db : "?");
    if (!(p->where = baton_strdup(where))) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto fail;
    }
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        char msg[320];
        snprintf(msg, sizeof msg, "%s", p->conn ? PQerrorMessage(p->conn) : "out of memory");
        one_line(msg);
        st = baton_error_set(err, BATON_STORE, "postgresql store '%s': cannot connect: %s",
                             p->where, msg);
        goto fail;
    }
    PQsetNoticeProcessor(p->conn, ignore_notice, NULL);
    if ((st = migrate(p, err)))
        goto fail;
    *out = &p->base;
    return BATON_OK;
fail:
    pg_close(&p->base);
    return st;
}
