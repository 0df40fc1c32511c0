/*
 * sqlite.c - the embedded store: one SQLite database file in WAL mode.
 *
 * Every handle is one connection (the engine opens one per session).
 * Statements are prepared once per connection and cached. Write
 * transactions start with BEGIN IMMEDIATE, so a transaction holds the
 * database's single write lock from its first statement: the instance it
 * loads cannot change under it. Handles of the same file in one process
 * also queue on a mutex (a FIFO-ish hand-over instead of SQLite's sleeping
 * busy handler); other processes are waited for by the busy timeout.
 *
 * Durability. synchronous=full (the default) means a commit returns only
 * once the log is on disk. With group commit (the default) that is done
 * here rather than by SQLite: the connection commits with
 * synchronous=NORMAL (the commit is written to the WAL file, not synced),
 * releases the write lock, and then waits until one fdatasync() of the WAL
 * file covers it. Whoever finds no sync running does it for everyone who
 * committed before it started (PostgreSQL's XLogFlush), so under load one
 * sync acknowledges many transactions, and the next transaction runs while
 * the disk works. A commit is acknowledged only after that sync. The price:
 * another connection may read a committed transaction a few milliseconds
 * before it is durable (never a partial one); a power cut in that window
 * loses it together with its caller's acknowledgement, which never came.
 * group_commit=off keeps SQLite's own synchronous=FULL commit.
 *
 * Transaction states of a handle (functions named on each transition):
 *
 *   IDLE --sq_begin: lock file mutex, BEGIN IMMEDIATE--> IN_TX
 *   IN_TX --sq_commit: COMMIT, unlock, wait for sync--> IDLE
 *   IN_TX --sq_rollback: ROLLBACK, unlock--> IDLE
 *   any --I/O or database error (fail())--> FAILED (ROLLBACK, unlock; every
 *         call answers BATON_STORE until close + open)
 *
 * A write op called in IDLE runs in a transaction of its own (autocommit).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "persistence/store.h"
#include "persistence/store_int.h"

/* ---- statements --------------------------------------------------------------------- */

#define INST_COLS                                                                                  \
    "id, deployment, process_id, version, state, business_key, parent_id, parent_key, "            \
    "started, ended, incidents, seq"
#define JOB_COLS   "instance, key, type, element, retries, available_at, worker, lock_expiry, created"
#define TIMER_COLS "instance, key, due, deployment, element, repeat"
#define TASK_COLS  "instance, key, element, name, process_id, assignee, details, created"
#define INC_COLS   "instance, key, element, kind, message, created"
#define MSG_COLS   "id, name, correlation, message_id, variables, expires"

#define SQL_MAP(X)                                                                                 \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                    \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(DEP_FIND_HASH, "SELECT id FROM deployments WHERE hash = ?1")                                 \
    X(DEP_PUT, "INSERT INTO deployments (name, xml, hash, created) VALUES (?1, ?2, ?3, ?4)")       \
    X(DEP_GET, "SELECT id, name, xml, hash, created FROM deployments WHERE id = ?1")               \
    X(DEP_LIST, "SELECT id, name, xml, hash, created FROM deployments ORDER BY id")                \
    X(DEF_PUT, "INSERT INTO definitions (process_id, version, deployment) VALUES (?1, ?2, ?3)")    \
    X(DEF_LATEST, "SELECT process_id, version, deployment FROM definitions "                       \
                  "WHERE process_id = ?1 ORDER BY version DESC LIMIT 1")                           \
    X(DEF_GET, "SELECT process_id, version, deployment FROM definitions "                          \
               "WHERE process_id = ?1 AND version = ?2")                                           \
    X(DEF_LIST, "SELECT process_id, version, deployment FROM definitions ORDER BY id")             \
    X(INST_NEW_ID, "UPDATE counters SET value = value + 1 WHERE name = 'instance' "                \
                   "RETURNING value")                                                              \
    X(INST_GET, "SELECT " INST_COLS ", state_json FROM instances WHERE id = ?1")                   \
    X(INST_EXISTS, "SELECT 1 FROM instances WHERE id = ?1")                                        \
    X(INST_PUT, "INSERT INTO instances (" INST_COLS ", state_json) VALUES "                        \
                "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "                        \
                "ON CONFLICT (id) DO UPDATE SET deployment = excluded.deployment, "                \
                "process_id = excluded.process_id, version = excluded.version, "                   \
                "state = excluded.state, business_key = excluded.business_key, "                   \
                "parent_id = excluded.parent_id, parent_key = excluded.parent_key, "               \
                "started = excluded.started, ended = excluded.ended, "                             \
                "incidents = excluded.incidents, seq = excluded.seq, "                             \
                "state_json = excluded.state_json")                                                \
    /* a step that leaves every indexed column as it was (sq_inst_put) */                          \
    X(INST_STEP, "UPDATE instances SET deployment = ?2, version = ?4, started = ?9, seq = ?12, "   \
                 "state_json = ?13 WHERE id = ?1 AND process_id IS ?3 AND state = ?5 "             \
                 "AND business_key IS ?6 AND parent_id = ?7 AND parent_key = ?8 "                  \
                 "AND ended = ?10 AND incidents = ?11")                                            \
    X(INST_LIST, "SELECT " INST_COLS " FROM instances ORDER BY id")                                \
    X(INST_CHILDREN, "SELECT " INST_COLS " FROM instances WHERE parent_id = ?1 "                   \
                     "AND (?2 = 0 OR parent_key = ?2) ORDER BY id")                                \
    X(HIST_APPEND, "INSERT INTO history (instance, seq, at, kind, element, record) "               \
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                              \
    X(HIST_LAST, "SELECT EXISTS (SELECT 1 FROM instances WHERE id = ?1), "                         \
                 "(SELECT seq FROM history WHERE instance = ?1 ORDER BY seq DESC LIMIT 1)")        \
    X(HIST_READ, "SELECT seq, record FROM history WHERE instance = ?1 AND seq > ?2 "               \
                 "ORDER BY seq LIMIT ?3")                                                          \
    X(JOB_PUT, "INSERT INTO jobs (" JOB_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "      \
               "ON CONFLICT (instance, key) DO UPDATE SET type = excluded.type, "                  \
               "element = excluded.element, retries = excluded.retries, "                          \
               "available_at = excluded.available_at, worker = excluded.worker, "                  \
               "lock_expiry = excluded.lock_expiry, created = excluded.created")                   \
    X(JOB_DELETE, "DELETE FROM jobs WHERE instance = ?1 AND key = ?2")                             \
    X(JOB_GET, "SELECT " JOB_COLS " FROM jobs WHERE instance = ?1 AND key = ?2")                   \
    X(JOB_CANDIDATES, "SELECT id, " JOB_COLS " FROM jobs WHERE type = ?1 AND retries > 0 "         \
                      "AND available_at <= ?2 AND (worker IS NULL OR lock_expiry <= ?2) "          \
                      "ORDER BY id LIMIT ?3")                                                      \
    X(JOB_LOCK, "UPDATE jobs SET worker = ?2, lock_expiry = ?3 WHERE id = ?1")                     \
    X(JOB_LIST, "SELECT " JOB_COLS " FROM jobs ORDER BY id")                                       \
    X(TIMER_PUT, "INSERT INTO timers (" TIMER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "            \
                 "ON CONFLICT (instance, key) DO UPDATE SET due = excluded.due, "                  \
                 "deployment = excluded.deployment, element = excluded.element, "                  \
                 "repeat = excluded.repeat")                                                       \
    X(TIMER_DELETE, "DELETE FROM timers WHERE instance = ?1 AND key = ?2")                         \
    X(TIMER_DUE, "SELECT " TIMER_COLS " FROM timers WHERE due <= ?1 "                              \
                 "ORDER BY due, instance, key LIMIT ?2")                                           \
    X(TIMER_NEXT, "SELECT min(due) FROM timers")                                                   \
    X(SUB_PUT, "INSERT INTO subscriptions (kind, instance, key, name, correlation, element) "      \
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, instance, key) DO UPDATE "      \
               "SET name = excluded.name, correlation = excluded.correlation, "                    \
               "element = excluded.element")                                                       \
    X(SUB_DELETE, "DELETE FROM subscriptions WHERE kind = ?1 AND instance = ?2 AND key = ?3")      \
    X(SUB_FIND_MSG, "SELECT instance, key, name, correlation, element, id FROM subscriptions "     \
                    "WHERE kind = 0 AND name = ?1 AND correlation IS NULL UNION ALL "              \
                    "SELECT instance, key, name, correlation, element, id FROM subscriptions "     \
                    "WHERE kind = 0 AND name = ?1 AND correlation = ?2 ORDER BY 6")                \
    X(SUB_FIND_SIG, "SELECT instance, key, name, correlation, element FROM subscriptions "         \
                    "WHERE kind = 1 AND name = ?1 ORDER BY id")                                    \
    X(TASK_PUT, "INSERT INTO user_tasks (" TASK_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "  \
                "ON CONFLICT (instance, key) DO UPDATE SET element = excluded.element, "           \
                "name = excluded.name, process_id = excluded.process_id, "                         \
                "assignee = excluded.assignee, details = excluded.details, "                       \
                "created = excluded.created")                                                      \
    X(TASK_DELETE, "DELETE FROM user_tasks WHERE instance = ?1 AND key = ?2")                      \
    X(TASK_LIST, "SELECT " TASK_COLS " FROM user_tasks ORDER BY id")                               \
    X(INC_PUT, "INSERT INTO incidents (" INC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "             \
               "ON CONFLICT (instance, key) DO UPDATE SET element = excluded.element, "            \
               "kind = excluded.kind, message = excluded.message, created = excluded.created")     \
    X(INC_DELETE, "DELETE FROM incidents WHERE instance = ?1 AND key = ?2")                        \
    X(INC_LIST, "SELECT " INC_COLS " FROM incidents ORDER BY id")                                  \
    X(EVENT_PUSH, "INSERT INTO outbox (kind, instance, key, payload, created) "                    \
                  "VALUES (?1, ?2, ?3, ?4, ?5)")                                                   \
    X(EVENT_PEEK, "SELECT id, kind, instance, key, payload, created FROM outbox "                  \
                  "ORDER BY id LIMIT 1")                                                           \
    X(EVENT_DELETE, "DELETE FROM outbox WHERE id = ?1")                                            \
    X(MSG_PUT, "INSERT INTO messages (name, correlation, message_id, variables, expires) "         \
               "VALUES (?1, ?2, ?3, ?4, ?5)")                                                      \
    X(MSG_FIND, "SELECT " MSG_COLS " FROM messages WHERE name = ?1 AND correlation IS ?2 "         \
                "AND expires > ?3 ORDER BY id LIMIT 1")                                            \
    X(MSG_FIND_ID, "SELECT " MSG_COLS " FROM messages WHERE message_id = ?1 AND expires > ?2 "     \
                   "ORDER BY id LIMIT 1")                                                          \
    X(MSG_DELETE, "DELETE FROM messages WHERE id = ?1")                                            \
    /* CROSS JOIN fixes SQLite's join order: the few buffered messages outside, one index          \
       probe of subscriptions each (left to itself, the planner walked every subscription) */      \
    X(MSG_WAITING,                                                                                 \
      "SELECT s.instance, s.key, m.name, m.correlation, NULL FROM messages m CROSS JOIN "          \
      "subscriptions s "                                                                           \
      "ON s.kind = 0 AND s.name = m.name AND (s.correlation IS NULL OR s.correlation = "           \
      "m.correlation) WHERE m.expires > ?1 ORDER BY m.id, s.id LIMIT ?2")                          \
    X(PURGE_MESSAGES, "DELETE FROM messages WHERE id IN (SELECT id FROM messages "                 \
                      "WHERE expires <= ?1 ORDER BY expires LIMIT ?2)")                            \
    X(PURGE_PICK, "SELECT id FROM instances WHERE ended <> 0 AND ended < ?1 "                      \
                  "ORDER BY ended LIMIT ?2")                                                       \
    X(PURGE_HISTORY, "DELETE FROM history WHERE instance = ?1")                                    \
    X(PURGE_JOBS, "DELETE FROM jobs WHERE instance = ?1")                                          \
    X(PURGE_TIMERS, "DELETE FROM timers WHERE instance = ?1")                                      \
    X(PURGE_SUBS, "DELETE FROM subscriptions WHERE instance = ?1")                                 \
    X(PURGE_TASKS, "DELETE FROM user_tasks WHERE instance = ?1")                                   \
    X(PURGE_INCIDENTS, "DELETE FROM incidents WHERE instance = ?1")                                \
    X(PURGE_INSTANCE, "DELETE FROM instances WHERE id = ?1")

enum {
#define SQ_ENUM(name, sql) SQ_##name,
    SQL_MAP(SQ_ENUM)
#undef SQ_ENUM
        SQ_COUNT
};

static const char *const sql_text[SQ_COUNT] = {
#define SQ_TEXT(name, sql) sql,
    SQL_MAP(SQ_TEXT)
#undef SQ_TEXT
};

/* ---- per-file state shared by the handles of one process ------------------------------ */

/*
 * One per database file (by device and inode) in this process: the mutex
 * that queues this process's writers, and the group-commit state.
 * committed counts commits that still need a sync (tickets); synced is the
 * highest ticket a finished fdatasync covers. sync_failed: a sync failed;
 * after that nothing written to the file can be trusted to be durable, so
 * every handle of the file fails (PostgreSQL panics in that case).
 */
typedef struct sq_file {
    struct sq_file *next;
    dev_t dev;
    ino_t ino;
    int refs;
    pthread_mutex_t write_mu;
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    uint64_t committed, synced;
    bool syncing;
    int sync_errno;
    int wal_fd;
    ino_t wal_ino;
    char *wal_path;
} sq_file;

static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static sq_file *files;

static sq_file *file_ref(const char *path, const struct stat *st) {
    pthread_mutex_lock(&files_mu);
    sq_file *f;
    for (f = files; f; f = f->next)
        if (f->dev == st->st_dev && f->ino == st->st_ino && !f->sync_errno)
            break;
    if (f) {
        f->refs++;
    } else if ((f = baton_calloc(1, sizeof *f))) {
        size_t n = strlen(path);
        f->wal_path = baton_malloc(n + 5);
        if (!f->wal_path) {
            baton_free(f);
            f = NULL;
        } else {
            memcpy(f->wal_path, path, n);
            memcpy(f->wal_path + n, "-wal", 5);
            f->dev = st->st_dev;
            f->ino = st->st_ino;
            f->refs = 1;
            f->wal_fd = -1;
            pthread_mutex_init(&f->write_mu, NULL);
            pthread_mutex_init(&f->sync_mu, NULL);
            pthread_cond_init(&f->sync_cv, NULL);
            f->next = files;
            files = f;
        }
    }
    pthread_mutex_unlock(&files_mu);
    return f;
}

static void file_unref(sq_file *f) {
    if (!f)
        return;
    pthread_mutex_lock(&files_mu);
    if (--f->refs > 0) {
        pthread_mutex_unlock(&files_mu);
        return;
    }
    for (sq_file **p = &files; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    pthread_mutex_unlock(&files_mu);
    if (f->wal_fd >= 0)
        close(f->wal_fd);
    pthread_mutex_destroy(&f->write_mu);
    pthread_mutex_destroy(&f->sync_mu);
    pthread_cond_destroy(&f->sync_cv);
    baton_free(f->wal_path);
    baton_free(f);
}

/* fdatasync the WAL file; caller does not hold sync_mu. 0 or an errno. */
static int sync_wal(sq_file *f) {
    struct stat st;
    if (stat(f->wal_path, &st) != 0)
        return errno == ENOENT ? 0 : errno; /* no log: everything is in the database */
    if (f->wal_fd < 0 || st.st_ino != f->wal_ino) {
        if (f->wal_fd >= 0)
            close(f->wal_fd);
        f->wal_fd = open(f->wal_path, O_RDONLY | O_CLOEXEC);
        if (f->wal_fd < 0)
            return errno;
        f->wal_ino = st.st_ino;
    }
    return fdatasync(f->wal_fd) == 0 ? 0 : errno;
}

/* Wait until a sync covers ticket `t`, doing the sync if nobody is. 0 or an errno. */
static int wait_durable(sq_file *f, uint64_t t) {
    pthread_mutex_lock(&f->sync_mu);
    while (f->synced < t && !f->sync_errno) {
        if (f->syncing) {
            pthread_cond_wait(&f->sync_cv, &f->sync_mu);
            continue;
        }
        /* lead: one sync for every commit made so far */
        uint64_t target = f->committed;
        f->syncing = true;
        pthread_mutex_unlock(&f->sync_mu);
        int rc = sync_wal(f);
        pthread_mutex_lock(&f->sync_mu);
        f->syncing = false;
        if (rc)
            f->sync_errno = rc;
        else if (target > f->synced)
            f->synced = target;
        pthread_cond_broadcast(&f->sync_cv);
    }
    int rc = f->synced >= t ? 0 : f->sync_errno;
    pthread_mutex_unlock(&f->sync_mu);
    return rc;
}

/* ---- the handle ------------------------------------------------------------------------ */

typedef struct sq_store {
    baton_store base;
    sqlite3 *db;
    char *path;
    sq_file *file;
    sqlite3_stmt *stmt[SQ_COUNT];
    bool in_tx; /* BEGIN IMMEDIATE done, write_mu held */
    bool failed;
    bool group; /* group commit: sync the WAL here */
    int busy_ms;
    char cause[256]; /* why the handle failed */
    pool rows;       /* strings of rows handed out: valid until the next call */
    /* last history sequence number per instance appended to in the open transaction:
       the contiguity check asks the database once per instance and transaction */
    struct {
        int64_t instance;
        uint64_t last;
    } marks[8];
    unsigned n_marks;
} sq_store;

static baton_status fail_with(sq_store *q, baton_error *err, const char *fmt, ...)
    BATON_PRINTF(3, 4);

static void end_tx(sq_store *q) {
    q->n_marks = 0;
    if (q->in_tx) {
        q->in_tx = false;
        pthread_mutex_unlock(&q->file->write_mu);
    }
}

/* Best-effort ROLLBACK that never fails the handle (used while failing). */
static void rollback_quiet(sq_store *q) {
    if (q->db && !sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    end_tx(q);
}

/* Mark the handle failed with a cause; answer BATON_STORE. */
static baton_status fail_with(sq_store *q, baton_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof q->cause];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!q->failed) {
        q->failed = true;
        snprintf(q->cause, sizeof q->cause, "%s", msg);
    }
    rollback_quiet(q);
    return baton_error_set(err, BATON_STORE, "sqlite store '%s': %s", q->path, msg);
}

/*
 * Map a SQLite result code. Constraint violations and lock timeouts leave
 * the handle usable (the caller rolls back); anything else fails it.
 */
static baton_status sq_error(sq_store *q, int rc, const char *what, baton_error *err) {
    const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return baton_error_set(err, BATON_CONFLICT, "sqlite store '%s': %s: %s", q->path, what,
                               msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return baton_error_set(err, BATON_BUSY, "sqlite store '%s': %s: database is locked",
                               q->path, what);
    case SQLITE_NOMEM:
        return baton_error_set(err, BATON_NOMEM, "sqlite store '%s': %s: out of memory", q->path,
                               what);
    default: return fail_with(q, err, "%s: %s (%s)", what, msg, sqlite3_errstr(rc));
    }
}

static baton_status check(sq_store *q, baton_error *err) {
    pool_reset(&q->rows);
    if (q->failed)
        return baton_error_set(err, BATON_STORE,
                               "sqlite store '%s': failed earlier (%s); reopen it", q->path,
                               q->cause);
    if (q->file->sync_errno)
        return fail_with(q, err, "syncing the log failed: %s", strerror(q->file->sync_errno));
    return BATON_OK;
}

#define CHECK(q, err)                                                                              \
    do {                                                                                           \
        baton_status st_ = check(q, err);                                                          \
        if (st_)                                                                                   \
            return st_;                                                                            \
    } while (0)

static baton_status oom(sq_store *q, baton_error *err) {
    return baton_error_set(err, BATON_NOMEM, "sqlite store '%s': out of memory", q->path);
}

/* The cached statement, reset and with no bindings. */
static sqlite3_stmt *stmt(sq_store *q, int which, baton_error *err, baton_status *st) {
    sqlite3_stmt *s = q->stmt[which];
    if (!s) {
        int rc =
            sqlite3_prepare_v3(q->db, sql_text[which], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            *st = sq_error(q, rc, "preparing a statement", err);
            return NULL;
        }
        q->stmt[which] = s;
    }
    return s;
}

static void done(sqlite3_stmt *s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static const char *col_text(sqlite3_stmt *s, int i) {
    return (const char *)sqlite3_column_text(s, i);
}

/* Run a statement that returns no rows; *changes_out (may be NULL) = rows changed. */
static baton_status run(sq_store *q, sqlite3_stmt *s, const char *what, int *changes_out,
                        baton_error *err) {
    int rc = sqlite3_step(s);
    baton_status st = BATON_OK;
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        if (changes_out)
            *changes_out = sqlite3_changes(q->db);
    } else {
        st = sq_error(q, rc, what, err);
    }
    done(s);
    return st;
}

/* ---- transactions ----------------------------------------------------------------------- */

static baton_status lock_file(sq_store *q, baton_error *err) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + (int64_t)q->busy_ms * 1000000;
    until.tv_sec += ns / 1000000000;
    until.tv_nsec = ns % 1000000000;
    int rc = pthread_mutex_timedlock(&q->file->write_mu, &until);
    if (rc == ETIMEDOUT)
        return baton_error_set(err, BATON_BUSY,
                               "sqlite store '%s': another transaction of this process held the "
                               "database for %d ms",
                               q->path, q->busy_ms);
    if (rc)
        return fail_with(q, err, "locking: %s", strerror(rc));
    return BATON_OK;
}

static baton_status sq_begin(baton_store *s, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    if (q->in_tx)
        return baton_error_set(err, BATON_INTERNAL, "sqlite store '%s': nested transaction",
                               q->path);
    baton_status st = lock_file(q, err);
    if (st)
        return st;
    q->in_tx = true;
    sqlite3_stmt *b = stmt(q, SQ_BEGIN, err, &st);
    if (b)
        st = run(q, b, "beginning a transaction", NULL, err);
    if (st)
        end_tx(q);
    return st;
}

/* COMMIT; with group commit wait for the sync unless `lazy` (a lease: store.h). */
static baton_status commit_tx(sq_store *q, bool lazy, baton_error *err) {
    if (q->failed || !q->in_tx) {
        CHECK(q, err);
        return BATON_OK; /* nothing open: nothing to commit */
    }
    pool_reset(&q->rows);
    if (baton_store_fault_fire())
        return fail_with(q, err, "commit failed: injected fault");
    baton_status st = BATON_OK;
    sqlite3_stmt *c = stmt(q, SQ_COMMIT, err, &st);
    if (c)
        st = run(q, c, "committing", NULL, err);
    if (st) {
        rollback_quiet(q);
        return st;
    }
    uint64_t ticket = 0;
    if (q->group) {
        pthread_mutex_lock(&q->file->sync_mu);
        ticket = ++q->file->committed;
        pthread_mutex_unlock(&q->file->sync_mu);
    }
    end_tx(q);
    if (q->group && !lazy) {
        int rc = wait_durable(q->file, ticket);
        if (rc)
            return fail_with(q, err, "syncing the log failed: %s", strerror(rc));
    }
    return BATON_OK;
}

static baton_status sq_commit(baton_store *s, baton_error *err) {
    return commit_tx((sq_store *)s, false, err);
}

static void sq_rollback(baton_store *s) {
    sq_store *q = (sq_store *)s;
    pool_reset(&q->rows);
    if (!q->in_tx)
        return;
    if (!sqlite3_get_autocommit(q->db)) {
        baton_status st = BATON_OK;
        sqlite3_stmt *r = stmt(q, SQ_ROLLBACK, NULL, &st);
        if (r)
            run(q, r, "rolling back", NULL, NULL);
    }
    end_tx(q);
}

/*
 * Writes outside a transaction are transactions of their own. AUTO_BEGIN
 * opens one if none is open; AUTO_END commits it (or rolls it back on
 * failure) and leaves the status in st.
 */
#define AUTO_BEGIN(q, err)                                                                         \
    bool auto_ = !(q)->in_tx;                                                                      \
    if (auto_) {                                                                                   \
        baton_status ab_ = sq_begin(&(q)->base, err);                                              \
        if (ab_)                                                                                   \
            return ab_;                                                                            \
    }

#define AUTO_END(q, st, err)                                                                       \
    do {                                                                                           \
        if (auto_) {                                                                               \
            if (st == BATON_OK || st == BATON_NOTFOUND) {                                          \
                baton_status ae_ = sq_commit(&(q)->base, err);                                     \
                if (ae_)                                                                           \
                    st = ae_;                                                                      \
            } else {                                                                               \
                sq_rollback(&(q)->base);                                                           \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* ---- deployments --------------------------------------------------------------------------- */

static baton_status sq_dep_find_hash(baton_store *s, const char *hash, int64_t *id_out,
                                     baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEP_FIND_HASH, err, &st);
    if (!x)
        return st;
    bind_text(x, 1, hash);
    int rc = sqlite3_step(x);
    if (rc == SQLITE_ROW)
        *id_out = sqlite3_column_int64(x, 0);
    else
        st = rc == SQLITE_DONE ? BATON_NOTFOUND : sq_error(q, rc, "finding a deployment", err);
    done(x);
    return st;
}

static baton_status sq_dep_put(baton_store *s, baton_deployment_row *row, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEP_PUT, err, &st);
    if (x) {
        bind_text(x, 1, row->name);
        sqlite3_bind_blob64(x, 2, row->xml ? row->xml : "", row->xml_len, SQLITE_STATIC);
        bind_text(x, 3, row->hash);
        sqlite3_bind_int64(x, 4, row->created);
        st = run(q, x, "storing a deployment", NULL, err);
        if (!st)
            row->id = sqlite3_last_insert_rowid(q->db);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status read_deployment(sq_store *q, sqlite3_stmt *x, pool *p,
                                    baton_deployment_row *out) {
    bool oom_ = false;
    out->id = sqlite3_column_int64(x, 0);
    out->name = pool_dup(p, col_text(x, 1), &oom_);
    const void *blob = sqlite3_column_blob(x, 2);
    out->xml_len = (size_t)sqlite3_column_bytes(x, 2);
    out->xml = pool_dupn(p, blob ? blob : "", out->xml_len, &oom_);
    out->hash = pool_dup(p, col_text(x, 3), &oom_);
    out->created = sqlite3_column_int64(x, 4);
    (void)q;
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_dep_get(baton_store *s, int64_t id, baton_deployment_row *out,
                               baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEP_GET, err, &st);
    if (!x)
        return st;
    sqlite3_bind_int64(x, 1, id);
    int rc = sqlite3_step(x);
    if (rc == SQLITE_ROW) {
        if (read_deployment(q, x, &q->rows, out))
            st = oom(q, err);
    } else if (rc == SQLITE_DONE) {
        st = baton_error_set(err, BATON_NOTFOUND, "no deployment %lld", (long long)id);
    } else {
        st = sq_error(q, rc, "reading a deployment", err);
    }
    done(x);
    return st;
}

/*
 * Listings: the rows are read into a local pool and array first, then the
 * callback sees them, so it may call the store again. The copy is what
 * makes that safe: the statements are cached per connection, and a
 * callback that ran an op using the same statement (the engine's callbacks
 * do call the store) would reset it in the middle of the loop. Listings
 * whose size requests drive use the query ops (instance_query, job_query,
 * task_query, incident_query), which stream.
 */
typedef baton_status (*read_fn)(sq_store *q, sqlite3_stmt *x, pool *p, void *row_out);

static baton_status list(sq_store *q, sqlite3_stmt *x, read_fn rd, size_t size, const char *what,
                         baton_row_fn fn, void *cookie, baton_error *err) {
    pool p = {0};
    rowvec v = {0};
    baton_status st = BATON_OK;
    int rc;
    while ((rc = sqlite3_step(x)) == SQLITE_ROW) {
        void *row = rowvec_push(&v, size);
        if (!row || rd(q, x, &p, row)) {
            st = oom(q, err);
            break;
        }
    }
    if (!st && rc != SQLITE_DONE)
        st = sq_error(q, rc, what, err);
    done(x);
    for (size_t i = 0; !st && i < v.n; i++)
        if (fn(cookie, (char *)v.data + i * size))
            break;
    rowvec_free(&v);
    pool_fini(&p);
    return st;
}

static baton_status sq_dep_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEP_LIST, err, &st);
    if (!x)
        return st;
    return list(q, x, (read_fn)read_deployment, sizeof(baton_deployment_row), "listing deployments",
                fn, cookie, err);
}

static baton_status sq_def_put(baton_store *s, const baton_definition_row *row, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEF_PUT, err, &st);
    if (x) {
        bind_text(x, 1, row->process_id);
        sqlite3_bind_int(x, 2, row->version);
        sqlite3_bind_int64(x, 3, row->deployment);
        st = run(q, x, "storing a definition", NULL, err);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status read_definition(sq_store *q, sqlite3_stmt *x, pool *p,
                                    baton_definition_row *out) {
    (void)q;
    bool oom_ = false;
    out->process_id = pool_dup(p, col_text(x, 0), &oom_);
    out->version = sqlite3_column_int(x, 1);
    out->deployment = sqlite3_column_int64(x, 2);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

/* One optional row through `rd` into the handle's pool: BATON_NOTFOUND when none. */
static baton_status one(sq_store *q, sqlite3_stmt *x, read_fn rd, void *out, const char *what,
                        baton_error *err) {
    int rc = sqlite3_step(x);
    baton_status st = BATON_OK;
    if (rc == SQLITE_ROW)
        st = rd(q, x, &q->rows, out) ? oom(q, err) : BATON_OK;
    else if (rc == SQLITE_DONE)
        st = BATON_NOTFOUND;
    else
        st = sq_error(q, rc, what, err);
    done(x);
    return st;
}

static baton_status sq_def_latest(baton_store *s, const char *pid, baton_definition_row *out,
                                  baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEF_LATEST, err, &st);
    if (!x)
        return st;
    bind_text(x, 1, pid);
    return one(q, x, (read_fn)read_definition, out, "reading a definition", err);
}

static baton_status sq_def_get(baton_store *s, const char *pid, int32_t version,
                               baton_definition_row *out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEF_GET, err, &st);
    if (!x)
        return st;
    bind_text(x, 1, pid);
    sqlite3_bind_int(x, 2, version);
    return one(q, x, (read_fn)read_definition, out, "reading a definition", err);
}

static baton_status sq_def_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_DEF_LIST, err, &st);
    if (!x)
        return st;
    return list(q, x, (read_fn)read_definition, sizeof(baton_definition_row), "listing definitions",
                fn, cookie, err);
}

/* ---- instances and history ------------------------------------------------------------------ */

static baton_status sq_inst_new_id(baton_store *s, int64_t *id_out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_INST_NEW_ID, err, &st);
    if (x) {
        int rc = sqlite3_step(x);
        if (rc == SQLITE_ROW)
            *id_out = sqlite3_column_int64(x, 0);
        else
            st = sq_error(q, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "allocating an instance id",
                          err);
        done(x);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status read_instance(sq_store *q, sqlite3_stmt *x, pool *p, baton_instance_row *out) {
    (void)q;
    bool oom_ = false;
    out->id = sqlite3_column_int64(x, 0);
    out->deployment = sqlite3_column_int64(x, 1);
    out->process_id = pool_dup(p, col_text(x, 2), &oom_);
    out->version = sqlite3_column_int(x, 3);
    out->state = sqlite3_column_int(x, 4);
    out->business_key = pool_dup(p, col_text(x, 5), &oom_);
    out->parent_id = sqlite3_column_int64(x, 6);
    out->parent_key = sqlite3_column_int64(x, 7);
    out->started = sqlite3_column_int64(x, 8);
    out->ended = sqlite3_column_int64(x, 9);
    out->incidents = sqlite3_column_int(x, 10);
    out->seq = (uint64_t)sqlite3_column_int64(x, 11);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_inst_get(baton_store *s, int64_t id, baton_instance_row *row_out,
                                const char **state_out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_INST_GET, err, &st);
    if (!x)
        return st;
    sqlite3_bind_int64(x, 1, id);
    int rc = sqlite3_step(x);
    if (rc == SQLITE_ROW) {
        bool oom_ = false;
        const char *state = pool_dup(&q->rows, col_text(x, 12), &oom_);
        if (read_instance(q, x, &q->rows, row_out) || oom_) {
            st = oom(q, err);
        } else if (state_out) {
            *state_out = state;
        }
    } else if (rc == SQLITE_DONE) {
        st = baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)id);
    } else {
        st = sq_error(q, rc, "reading an instance", err);
    }
    done(x);
    return st;
}

static void bind_instance(sqlite3_stmt *x, const baton_instance_row *row, const char *state) {
    sqlite3_bind_int64(x, 1, row->id);
    sqlite3_bind_int64(x, 2, row->deployment);
    bind_text(x, 3, row->process_id);
    sqlite3_bind_int(x, 4, row->version);
    sqlite3_bind_int(x, 5, row->state);
    bind_text(x, 6, row->business_key);
    sqlite3_bind_int64(x, 7, row->parent_id);
    sqlite3_bind_int64(x, 8, row->parent_key);
    sqlite3_bind_int64(x, 9, row->started);
    sqlite3_bind_int64(x, 10, row->ended);
    sqlite3_bind_int(x, 11, row->incidents);
    sqlite3_bind_int64(x, 12, (sqlite3_int64)row->seq);
    bind_text(x, 13, state);
}

static baton_status sq_inst_put(baton_store *s, const baton_instance_row *row, const char *state,
                                baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    /* Most steps change only the state JSON and the record count. The update that sets no
       indexed column writes the row's page alone; the upsert would write a page of each of the
       instance indexes too. It matches no row for a new instance or one whose indexed columns
       change (state, end, incidents, business key, parent): then the upsert. */
    int changes = 0;
    sqlite3_stmt *x = stmt(q, SQ_INST_STEP, err, &st);
    if (x) {
        bind_instance(x, row, state);
        st = run(q, x, "storing an instance", &changes, err);
    }
    x = st || changes ? NULL : stmt(q, SQ_INST_PUT, err, &st);
    if (x) {
        bind_instance(x, row, state);
        st = run(q, x, "storing an instance", NULL, err);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status sq_inst_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_INST_LIST, err, &st);
    if (!x)
        return st;
    return list(q, x, (read_fn)read_instance, sizeof(baton_instance_row), "listing instances", fn,
                cookie, err);
}

/* Bind the values of a filter's WHERE clause; the next placeholder's number. */
static int bind_where(sqlite3_stmt *x, const store_where *w) {
    for (int i = 0; i < w->n; i++) {
        if (w->arg[i].text)
            sqlite3_bind_text(x, i + 1, w->arg[i].text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(x, i + 1, w->arg[i].num);
    }
    return w->n + 1;
}

/*
 * A statement of its own for one filtered query: which conditions appear
 * depends on the filter, and the planner picks an index per shape. Not
 * cached (preparing costs tens of microseconds against a page read), so a
 * callback that calls the store cannot reset it under the loop.
 */
static baton_status prepare_once(sq_store *q, const char *sql, sqlite3_stmt **out,
                                 baton_error *err) {
    int rc = sqlite3_prepare_v3(q->db, sql, -1, 0, out, NULL);
    return rc == SQLITE_OK ? BATON_OK : sq_error(q, rc, "preparing a query", err);
}

/*
 * Rows go to the callback as they are stepped: nothing but the current row
 * is held, however many the page has (list() above copies first, because its
 * cached statements could be re-entered by a callback).
 */
static baton_status sq_inst_query(baton_store *s, const baton_instance_filter *f, baton_row_fn fn,
                                  void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status lst = store_query_limit(f->limit, "instance query", err);
    if (lst)
        return lst;
    store_where w;
    store_instance_where(f, true, '?', &w);
    char sql[768];
    snprintf(sql, sizeof sql, "SELECT " INST_COLS " FROM instances %s ORDER BY id LIMIT ?%d", w.sql,
             w.n + 1);
    sqlite3_stmt *x = NULL;
    baton_status st = prepare_once(q, sql, &x, err);
    if (st)
        return st;
    sqlite3_bind_int64(x, bind_where(x, &w), f->limit);
    pool p = {0};
    int rc;
    while ((rc = sqlite3_step(x)) == SQLITE_ROW) {
        baton_instance_row row;
        if (read_instance(q, x, &p, &row)) {
            st = oom(q, err);
            break;
        }
        int stop = fn(cookie, &row);
        pool_reset(&p);
        if (stop)
            break;
    }
    if (!st && rc != SQLITE_DONE && rc != SQLITE_ROW)
        st = sq_error(q, rc, "querying instances", err);
    sqlite3_finalize(x);
    pool_fini(&p);
    return st;
}

/*
 * count(*) of `table`'s rows matching `w`: no row is read, SQLite counts
 * the smallest index that serves the filter. `what` names it in errors.
 */
static baton_status count_where(sq_store *q, const char *table, const store_where *w,
                                const char *what, int64_t *count_out, baton_error *err) {
    if (w->overflow)
        return baton_error_set(err, BATON_INVALID, "%s: the filter is too long", what);
    char sql[768];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s %s", table, w->sql);
    sqlite3_stmt *x = NULL;
    baton_status st = prepare_once(q, sql, &x, err);
    if (st)
        return st;
    bind_where(x, w);
    int rc = sqlite3_step(x);
    if (rc == SQLITE_ROW)
        *count_out = sqlite3_column_int64(x, 0);
    else
        st = sq_error(q, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, what, err);
    sqlite3_finalize(x);
    return st;
}

static baton_status sq_inst_count(baton_store *s, const baton_instance_filter *f,
                                  int64_t *count_out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    store_where w;
    store_instance_where(f, false, '?', &w);
    return count_where(q, "instances", &w, "counting instances", count_out, err);
}

static baton_status sq_inst_children(baton_store *s, int64_t parent, int64_t parent_key,
                                     baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_INST_CHILDREN, err, &st);
    if (!x)
        return st;
    sqlite3_bind_int64(x, 1, parent);
    sqlite3_bind_int64(x, 2, parent_key);
    return list(q, x, (read_fn)read_instance, sizeof(baton_instance_row), "listing child instances",
                fn, cookie, err);
}

static baton_status instance_exists(sq_store *q, int64_t id, bool *out, baton_error *err) {
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_INST_EXISTS, err, &st);
    if (!x)
        return st;
    sqlite3_bind_int64(x, 1, id);
    int rc = sqlite3_step(x);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        *out = rc == SQLITE_ROW;
    else
        st = sq_error(q, rc, "reading an instance", err);
    done(x);
    return st;
}

static baton_status sq_hist_append(baton_store *s, int64_t instance, uint64_t seq, int64_t at,
                                   const char *kind, const char *element, const char *json,
                                   baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    /* the last sequence number of this instance: remembered, or asked once */
    unsigned m = 0;
    while (m < q->n_marks && q->marks[m].instance != instance)
        m++;
    if (m == q->n_marks) {
        sqlite3_stmt *l = stmt(q, SQ_HIST_LAST, err, &st);
        if (l) {
            sqlite3_bind_int64(l, 1, instance);
            int rc = sqlite3_step(l);
            if (rc == SQLITE_ROW && !sqlite3_column_int(l, 0))
                st = baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)instance);
            else if (rc != SQLITE_ROW)
                st = sq_error(q, rc, "appending to the history", err);
            uint64_t last = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(l, 1) : 0;
            done(l);
            if (!st) {
                m = q->n_marks < 8 ? q->n_marks++ : 7; /* a long transaction forgets the last */
                q->marks[m].instance = instance;
                q->marks[m].last = last;
            }
        }
    }
    if (!st && seq != q->marks[m].last + 1)
        st = baton_error_set(
            err, BATON_CONFLICT, "history of instance %lld: record %llu after %llu",
            (long long)instance, (unsigned long long)seq, (unsigned long long)q->marks[m].last);
    sqlite3_stmt *x = st ? NULL : stmt(q, SQ_HIST_APPEND, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, instance);
        sqlite3_bind_int64(x, 2, (sqlite3_int64)seq);
        sqlite3_bind_int64(x, 3, at);
        bind_text(x, 4, kind ? kind : "");
        bind_text(x, 5, element);
        bind_text(x, 6, json ? json : "{}");
        st = run(q, x, "appending to the history", NULL, err);
        if (!st)
            q->marks[m].last = seq;
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status sq_hist_read(baton_store *s, int64_t instance, uint64_t after, uint32_t limit,
                                 baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    bool exists = false;
    baton_status st = instance_exists(q, instance, &exists, err);
    if (st)
        return st;
    if (!exists)
        return baton_error_set(err, BATON_NOTFOUND, "no instance %lld", (long long)instance);
    /* in chunks: histories can be long, and the callback may call the store */
    uint64_t left = limit ? limit : UINT64_MAX;
    while (!st && left > 0) {
        sqlite3_stmt *x = stmt(q, SQ_HIST_READ, err, &st);
        if (!x)
            return st;
        uint32_t chunk = left < 512 ? (uint32_t)left : 512;
        sqlite3_bind_int64(x, 1, instance);
        sqlite3_bind_int64(x, 2, (sqlite3_int64)after);
        sqlite3_bind_int64(x, 3, chunk);
        pool p = {0};
        rowvec v = {0};
        int rc;
        while ((rc = sqlite3_step(x)) == SQLITE_ROW) {
            bool oom_ = false;
            const char **slot = rowvec_push(&v, sizeof *slot);
            after = (uint64_t)sqlite3_column_int64(x, 0);
            if (!slot || !(*slot = pool_dup(&p, col_text(x, 1), &oom_))) {
                st = oom(q, err);
                break;
            }
        }
        if (!st && rc != SQLITE_DONE)
            st = sq_error(q, rc, "reading the history", err);
        done(x);
        bool stop = v.n < chunk;
        for (size_t i = 0; !st && i < v.n; i++)
            if (fn(cookie, ((const char **)v.data)[i])) {
                stop = true;
                break;
            }
        left -= v.n;
        rowvec_free(&v);
        pool_fini(&p);
        if (stop)
            break;
    }
    return st;
}

/* ---- jobs --------------------------------------------------------------------------------------
 */

static baton_status read_job(sq_store *q, sqlite3_stmt *x, pool *p, baton_job_row *out) {
    (void)q;
    bool oom_ = false;
    out->instance = sqlite3_column_int64(x, 0);
    out->key = sqlite3_column_int64(x, 1);
    out->type = pool_dup(p, col_text(x, 2), &oom_);
    out->element = pool_dup(p, col_text(x, 3), &oom_);
    out->retries = sqlite3_column_int(x, 4);
    out->available_at = sqlite3_column_int64(x, 5);
    out->worker = pool_dup(p, col_text(x, 6), &oom_);
    out->lock_expiry = sqlite3_column_int64(x, 7);
    out->created = sqlite3_column_int64(x, 8);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_job_put(baton_store *s, const baton_job_row *row, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_JOB_PUT, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, row->instance);
        sqlite3_bind_int64(x, 2, row->key);
        bind_text(x, 3, row->type ? row->type : "");
        bind_text(x, 4, row->element);
        sqlite3_bind_int(x, 5, row->retries);
        sqlite3_bind_int64(x, 6, row->available_at);
        bind_text(x, 7, row->worker);
        sqlite3_bind_int64(x, 8, row->lock_expiry);
        sqlite3_bind_int64(x, 9, row->created);
        st = run(q, x, "storing a job", NULL, err);
    }
    AUTO_END(q, st, err);
    return st;
}

/* DELETE ... WHERE (a, b): BATON_NOTFOUND when no row went. */
static baton_status delete_keyed(sq_store *q, int which, int64_t a, int64_t b, int64_t c,
                                 int nparams, const char *what, baton_error *err) {
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    int changes = 0;
    sqlite3_stmt *x = stmt(q, which, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, a);
        if (nparams > 1)
            sqlite3_bind_int64(x, 2, b);
        if (nparams > 2)
            sqlite3_bind_int64(x, 3, c);
        st = run(q, x, what, &changes, err);
        if (!st && changes == 0)
            st = BATON_NOTFOUND;
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status sq_job_delete(baton_store *s, int64_t instance, int64_t key, baton_error *err) {
    return delete_keyed((sq_store *)s, SQ_JOB_DELETE, instance, key, 0, 2, "deleting a job", err);
}

static baton_status sq_job_get(baton_store *s, int64_t instance, int64_t key, baton_job_row *out,
                               baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_JOB_GET, err, &st);
    if (!x)
        return st;
    sqlite3_bind_int64(x, 1, instance);
    sqlite3_bind_int64(x, 2, key);
    return one(q, x, (read_fn)read_job, out, "reading a job", err);
}

typedef struct job_candidate {
    int64_t id;
    baton_job_row row;
} job_candidate;

static baton_status read_candidate(sq_store *q, sqlite3_stmt *x, pool *p, job_candidate *out) {
    out->id = sqlite3_column_int64(x, 0);
    /* the job columns follow the id: read them through a shifted view */
    bool oom_ = false;
    out->row.instance = sqlite3_column_int64(x, 1);
    out->row.key = sqlite3_column_int64(x, 2);
    out->row.type = pool_dup(p, col_text(x, 3), &oom_);
    out->row.element = pool_dup(p, col_text(x, 4), &oom_);
    out->row.retries = sqlite3_column_int(x, 5);
    out->row.available_at = sqlite3_column_int64(x, 6);
    out->row.worker = pool_dup(p, col_text(x, 7), &oom_);
    out->row.lock_expiry = sqlite3_column_int64(x, 8);
    out->row.created = sqlite3_column_int64(x, 9);
    (void)q;
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_job_activate(baton_store *s, const char *type, uint32_t max,
                                    const char *worker, int64_t now, int64_t lock_ms,
                                    baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    if (max == 0)
        return BATON_OK;
    bool lease = !q->in_tx; /* a transaction of its own: the lock is a lease (store.h) */
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    pool p = {0};
    rowvec v = {0};
    sqlite3_stmt *x = stmt(q, SQ_JOB_CANDIDATES, err, &st);
    if (x) {
        bind_text(x, 1, type);
        sqlite3_bind_int64(x, 2, now);
        sqlite3_bind_int64(x, 3, max);
        int rc;
        while ((rc = sqlite3_step(x)) == SQLITE_ROW) {
            job_candidate *c = rowvec_push(&v, sizeof *c);
            if (!c || read_candidate(q, x, &p, c)) {
                st = oom(q, err);
                break;
            }
        }
        if (!st && rc != SQLITE_DONE && rc != SQLITE_ROW)
            st = sq_error(q, rc, "activating jobs", err);
        done(x);
    }
    /* lock them one by one, handing each to the callback once locked */
    size_t handed = 0;
    sqlite3_stmt *l = st ? NULL : stmt(q, SQ_JOB_LOCK, err, &st);
    for (size_t i = 0; l && !st && i < v.n; i++) {
        job_candidate *c = (job_candidate *)v.data + i;
        sqlite3_bind_int64(l, 1, c->id);
        bind_text(l, 2, worker);
        sqlite3_bind_int64(l, 3, now + lock_ms);
        st = run(q, l, "activating jobs", NULL, err);
        if (st)
            break;
        c->row.worker = worker;
        c->row.lock_expiry = now + lock_ms;
        handed++;
    }
    if (auto_ && lease && !st) {
        /* commit without waiting for the disk: a lost lease only hands the job out again;
           the next synced commit on this file makes it durable too */
        st = commit_tx(q, true, err);
        auto_ = false;
    }
    AUTO_END(q, st, err);
    for (size_t i = 0; !st && i < handed; i++)
        if (fn(cookie, &((job_candidate *)v.data + i)->row))
            break;
    rowvec_free(&v);
    pool_fini(&p);
    return st;
}

static baton_status sq_job_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_JOB_LIST, err, &st);
    if (!x)
        return st;
    return list(q, x, (read_fn)read_job, sizeof(baton_job_row), "listing jobs", fn, cookie, err);
}

/* ---- timers
 * --------------------------------------------------------------------------------------- */

static baton_status read_timer(sq_store *q, sqlite3_stmt *x, pool *p, baton_timer_row *out) {
    (void)q;
    bool oom_ = false;
    out->instance = sqlite3_column_int64(x, 0);
    out->key = sqlite3_column_int64(x, 1);
    out->due = sqlite3_column_int64(x, 2);
    out->deployment = sqlite3_column_int64(x, 3);
    out->element = pool_dup(p, col_text(x, 4), &oom_);
    out->repeat = sqlite3_column_int(x, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_timer_put(baton_store *s, const baton_timer_row *row, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_TIMER_PUT, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, row->instance);
        sqlite3_bind_int64(x, 2, row->key);
        sqlite3_bind_int64(x, 3, row->due);
        sqlite3_bind_int64(x, 4, row->deployment);
        bind_text(x, 5, row->element);
        sqlite3_bind_int(x, 6, row->repeat);
        st = run(q, x, "storing a timer", NULL, err);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status sq_timer_delete(baton_store *s, int64_t instance, int64_t key,
                                    baton_error *err) {
    return delete_keyed((sq_store *)s, SQ_TIMER_DELETE, instance, key, 0, 2, "deleting a timer",
                        err);
}

static baton_status sq_timer_due(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                                 void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_TIMER_DUE, err, &st);
    if (!x)
        return st;
    sqlite3_bind_int64(x, 1, now);
    sqlite3_bind_int64(x, 2, limit ? (sqlite3_int64)limit : -1);
    return list(q, x, (read_fn)read_timer, sizeof(baton_timer_row), "reading due timers", fn,
                cookie, err);
}

static baton_status sq_timer_next(baton_store *s, int64_t *due_out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_TIMER_NEXT, err, &st);
    if (!x)
        return st;
    int rc = sqlite3_step(x);
    if (rc == SQLITE_ROW)
        *due_out =
            sqlite3_column_type(x, 0) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(x, 0);
    else
        st = sq_error(q, rc, "reading the next timer", err);
    done(x);
    return st;
}

/* ---- subscriptions, user tasks, incidents -------------------------------------------------------
 */

static baton_status read_sub(sq_store *q, sqlite3_stmt *x, pool *p, baton_sub_row *out) {
    (void)q;
    bool oom_ = false;
    out->instance = sqlite3_column_int64(x, 0);
    out->key = sqlite3_column_int64(x, 1);
    out->name = pool_dup(p, col_text(x, 2), &oom_);
    out->correlation = pool_dup(p, col_text(x, 3), &oom_);
    out->element = pool_dup(p, col_text(x, 4), &oom_);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_sub_put(baton_store *s, int kind, const baton_sub_row *row,
                               baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_SUB_PUT, err, &st);
    if (x) {
        sqlite3_bind_int(x, 1, kind != 0);
        sqlite3_bind_int64(x, 2, row->instance);
        sqlite3_bind_int64(x, 3, row->key);
        bind_text(x, 4, row->name ? row->name : "");
        bind_text(x, 5, row->correlation);
        bind_text(x, 6, row->element);
        st = run(q, x, "storing a subscription", NULL, err);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status sq_sub_delete(baton_store *s, int kind, int64_t instance, int64_t key,
                                  baton_error *err) {
    return delete_keyed((sq_store *)s, SQ_SUB_DELETE, kind != 0, instance, key, 3,
                        "deleting a subscription", err);
}

static baton_status sq_sub_find(baton_store *s, int kind, const char *name, const char *correlation,
                                baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, kind ? SQ_SUB_FIND_SIG : SQ_SUB_FIND_MSG, err, &st);
    if (!x)
        return st;
    bind_text(x, 1, name);
    if (!kind)
        bind_text(x, 2, correlation);
    return list(q, x, (read_fn)read_sub, sizeof(baton_sub_row), "finding subscriptions", fn, cookie,
                err);
}

static baton_status read_task(sq_store *q, sqlite3_stmt *x, pool *p, baton_task_row *out) {
    (void)q;
    bool oom_ = false;
    out->instance = sqlite3_column_int64(x, 0);
    out->key = sqlite3_column_int64(x, 1);
    out->element = pool_dup(p, col_text(x, 2), &oom_);
    out->name = pool_dup(p, col_text(x, 3), &oom_);
    out->process_id = pool_dup(p, col_text(x, 4), &oom_);
    out->assignee = pool_dup(p, col_text(x, 5), &oom_);
    out->details = pool_dup(p, col_text(x, 6), &oom_);
    out->created = sqlite3_column_int64(x, 7);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_task_put(baton_store *s, const baton_task_row *row, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_TASK_PUT, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, row->instance);
        sqlite3_bind_int64(x, 2, row->key);
        bind_text(x, 3, row->element);
        bind_text(x, 4, row->name);
        bind_text(x, 5, row->process_id);
        bind_text(x, 6, row->assignee);
        bind_text(x, 7, row->details);
        sqlite3_bind_int64(x, 8, row->created);
        st = run(q, x, "storing a user task", NULL, err);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status sq_task_delete(baton_store *s, int64_t instance, int64_t key,
                                   baton_error *err) {
    return delete_keyed((sq_store *)s, SQ_TASK_DELETE, instance, key, 0, 2, "deleting a user task",
                        err);
}

static baton_status sq_task_list(baton_store *s, baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_TASK_LIST, err, &st);
    if (!x)
        return st;
    return list(q, x, (read_fn)read_task, sizeof(baton_task_row), "listing user tasks", fn, cookie,
                err);
}

static baton_status read_incident(sq_store *q, sqlite3_stmt *x, pool *p, baton_incident_row *out) {
    (void)q;
    bool oom_ = false;
    out->instance = sqlite3_column_int64(x, 0);
    out->key = sqlite3_column_int64(x, 1);
    out->element = pool_dup(p, col_text(x, 2), &oom_);
    out->kind = pool_dup(p, col_text(x, 3), &oom_);
    out->message = pool_dup(p, col_text(x, 4), &oom_);
    out->created = sqlite3_column_int64(x, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_incident_put(baton_store *s, const baton_incident_row *row,
                                    baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_INC_PUT, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, row->instance);
        sqlite3_bind_int64(x, 2, row->key);
        bind_text(x, 3, row->element);
        bind_text(x, 4, row->kind);
        bind_text(x, 5, row->message);
        sqlite3_bind_int64(x, 6, row->created);
        st = run(q, x, "storing an incident", NULL, err);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status sq_incident_delete(baton_store *s, int64_t instance, int64_t key,
                                       baton_error *err) {
    return delete_keyed((sq_store *)s, SQ_INC_DELETE, instance, key, 0, 2, "deleting an incident",
                        err);
}

static baton_status sq_incident_list(baton_store *s, baton_row_fn fn, void *cookie,
                                     baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_INC_LIST, err, &st);
    if (!x)
        return st;
    return list(q, x, (read_fn)read_incident, sizeof(baton_incident_row), "listing incidents", fn,
                cookie, err);
}

/* ---- job, user task and incident queries ---------------------------------------------- */

/*
 * One page of a filtered query, as sq_inst_query reads instances: its own
 * statement (prepare_once), and each row handed out as it is stepped, so
 * nothing but the current row is held and callbacks may call the store.
 * `row` is the caller's row of the type `rd` reads. The LIMIT is the last
 * placeholder, after the filter's.
 */
static baton_status query_page(sq_store *q, const char *sql, const store_where *w, uint32_t limit,
                               read_fn rd, void *row, const char *what, baton_row_fn fn,
                               void *cookie, baton_error *err) {
    if (w->overflow)
        return baton_error_set(err, BATON_INVALID, "%s: the filter is too long", what);
    sqlite3_stmt *x = NULL;
    baton_status st = prepare_once(q, sql, &x, err);
    if (st)
        return st;
    sqlite3_bind_int64(x, bind_where(x, w), limit);
    pool p = {0};
    int rc;
    while ((rc = sqlite3_step(x)) == SQLITE_ROW) {
        if (rd(q, x, &p, row)) {
            st = oom(q, err);
            break;
        }
        int stop = fn(cookie, row);
        pool_reset(&p);
        if (stop)
            break;
    }
    if (!st && rc != SQLITE_DONE && rc != SQLITE_ROW)
        st = sq_error(q, rc, what, err);
    sqlite3_finalize(x);
    pool_fini(&p);
    return st;
}

static baton_status sq_job_query(baton_store *s, const baton_job_filter *f, baton_row_fn fn,
                                 void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = store_query_limit(f->limit, "job query", err);
    if (st)
        return st;
    store_where w;
    store_job_where(f, '?', &w);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " JOB_COLS " FROM jobs %s ORDER BY instance, key LIMIT ?%d",
             w.sql, w.n + 1);
    baton_job_row row;
    return query_page(q, sql, &w, f->limit, (read_fn)read_job, &row, "querying jobs", fn, cookie,
                      err);
}

/*
 * A candidate list in the details' JSON holds the value (as
 * baton_store_task_matches says: a string, or an array with the string in
 * it). No index serves it: the page walks tasks in key order, so it stays
 * bounded by the limit in rows returned, not in rows read. json_valid goes
 * first because json_each stops the statement on text that does not parse.
 */
static void candidate_cond(store_where *w, const char *list, const char *value, char *buf,
                           size_t size) {
    if (!value) {
        buf[0] = '\0';
        return;
    }
    int n = store_where_param(w, value, 0);
    snprintf(buf, size,
             " AND CASE WHEN json_valid(details) THEN CASE WHEN json_type(details, '$.%s') IN "
             "('array', 'text') THEN EXISTS (SELECT 1 FROM json_each(details, '$.%s') WHERE type = "
             "'text' AND value = ?%d) END END",
             list, list, n);
}

static baton_status sq_task_query(baton_store *s, const baton_task_filter *f, baton_row_fn fn,
                                  void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = store_query_limit(f->limit, "user task query", err);
    if (st)
        return st;
    store_where w;
    store_task_where(f, '?', &w);
    char group[320], user[320];
    candidate_cond(&w, "candidateGroups", f->candidate_group, group, sizeof group);
    candidate_cond(&w, "candidateUsers", f->candidate_user, user, sizeof user);
    char sql[1536];
    snprintf(sql, sizeof sql,
             "SELECT " TASK_COLS " FROM user_tasks %s%s%s ORDER BY instance, key LIMIT ?%d", w.sql,
             group, user, w.n + 1);
    baton_task_row row;
    return query_page(q, sql, &w, f->limit, (read_fn)read_task, &row, "querying user tasks", fn,
                      cookie, err);
}

static baton_status sq_incident_query(baton_store *s, const baton_incident_filter *f,
                                      baton_row_fn fn, void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = store_query_limit(f->limit, "incident query", err);
    if (st)
        return st;
    store_where w;
    store_incident_where(f, true, '?', &w);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT " INC_COLS " FROM incidents %s ORDER BY instance, key LIMIT ?%d", w.sql,
             w.n + 1);
    baton_incident_row row;
    return query_page(q, sql, &w, f->limit, (read_fn)read_incident, &row, "querying incidents", fn,
                      cookie, err);
}

/* Runs on every /metrics scrape: count(*) reads the smallest index, never a row. */
static baton_status sq_incident_count(baton_store *s, const baton_incident_filter *f,
                                      int64_t *count_out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    store_where w;
    store_incident_where(f, false, '?', &w);
    return count_where(q, "incidents", &w, "counting incidents", count_out, err);
}

/* ---- outbox and buffered messages
 * ---------------------------------------------------------------- */

static baton_status sq_event_push(baton_store *s, baton_event_row *row, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_EVENT_PUSH, err, &st);
    if (x) {
        sqlite3_bind_int(x, 1, row->kind);
        sqlite3_bind_int64(x, 2, row->instance);
        sqlite3_bind_int64(x, 3, row->key);
        bind_text(x, 4, row->payload);
        sqlite3_bind_int64(x, 5, row->created);
        st = run(q, x, "writing to the outbox", NULL, err);
        if (!st)
            row->id = sqlite3_last_insert_rowid(q->db);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status read_event(sq_store *q, sqlite3_stmt *x, pool *p, baton_event_row *out) {
    (void)q;
    bool oom_ = false;
    out->id = sqlite3_column_int64(x, 0);
    out->kind = sqlite3_column_int(x, 1);
    out->instance = sqlite3_column_int64(x, 2);
    out->key = sqlite3_column_int64(x, 3);
    out->payload = pool_dup(p, col_text(x, 4), &oom_);
    out->created = sqlite3_column_int64(x, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_event_peek(baton_store *s, baton_event_row *out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_EVENT_PEEK, err, &st);
    if (!x)
        return st;
    return one(q, x, (read_fn)read_event, out, "reading the outbox", err);
}

static baton_status sq_event_delete(baton_store *s, int64_t id, baton_error *err) {
    return delete_keyed((sq_store *)s, SQ_EVENT_DELETE, id, 0, 0, 1, "deleting an outbox event",
                        err);
}

static baton_status sq_msg_put(baton_store *s, baton_message_row *row, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_MSG_PUT, err, &st);
    if (x) {
        bind_text(x, 1, row->name ? row->name : "");
        bind_text(x, 2, row->correlation);
        bind_text(x, 3, row->message_id);
        bind_text(x, 4, row->variables);
        sqlite3_bind_int64(x, 5, row->expires);
        st = run(q, x, "buffering a message", NULL, err);
        if (!st)
            row->id = sqlite3_last_insert_rowid(q->db);
    }
    AUTO_END(q, st, err);
    return st;
}

static baton_status read_message(sq_store *q, sqlite3_stmt *x, pool *p, baton_message_row *out) {
    (void)q;
    bool oom_ = false;
    out->id = sqlite3_column_int64(x, 0);
    out->name = pool_dup(p, col_text(x, 1), &oom_);
    out->correlation = pool_dup(p, col_text(x, 2), &oom_);
    out->message_id = pool_dup(p, col_text(x, 3), &oom_);
    out->variables = pool_dup(p, col_text(x, 4), &oom_);
    out->expires = sqlite3_column_int64(x, 5);
    return oom_ ? BATON_NOMEM : BATON_OK;
}

static baton_status sq_msg_find(baton_store *s, const char *name, const char *correlation,
                                int64_t now, baton_message_row *out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_MSG_FIND, err, &st);
    if (!x)
        return st;
    bind_text(x, 1, name);
    bind_text(x, 2, correlation);
    sqlite3_bind_int64(x, 3, now);
    return one(q, x, (read_fn)read_message, out, "finding a buffered message", err);
}

static baton_status sq_msg_find_id(baton_store *s, const char *message_id, int64_t now,
                                   baton_message_row *out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_MSG_FIND_ID, err, &st);
    if (!x)
        return st;
    bind_text(x, 1, message_id);
    sqlite3_bind_int64(x, 2, now);
    return one(q, x, (read_fn)read_message, out, "finding a buffered message", err);
}

static baton_status sq_msg_delete(baton_store *s, int64_t id, baton_error *err) {
    return delete_keyed((sq_store *)s, SQ_MSG_DELETE, id, 0, 0, 1, "deleting a buffered message",
                        err);
}

static baton_status sq_msg_waiting(baton_store *s, int64_t now, uint32_t limit, baton_row_fn fn,
                                   void *cookie, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    baton_status st = BATON_OK;
    sqlite3_stmt *x = stmt(q, SQ_MSG_WAITING, err, &st);
    if (!x)
        return st;
    sqlite3_bind_int64(x, 1, now);
    sqlite3_bind_int64(x, 2, limit ? (sqlite3_int64)limit : -1);
    return list(q, x, (read_fn)read_sub, sizeof(baton_sub_row), "matching buffered messages", fn,
                cookie, err);
}

/* ---- failure, retention
 * ---------------------------------------------------------------------------- */

static baton_status sq_wait_drop(baton_store *s, int kind, int64_t instance, int64_t key,
                                 baton_error *err) {
    baton_status st;
    switch (kind) {
    case BATON_WAIT_JOB: st = sq_job_delete(s, instance, key, err); break;
    case BATON_WAIT_USER_TASK: st = sq_task_delete(s, instance, key, err); break;
    case BATON_WAIT_TIMER: st = sq_timer_delete(s, instance, key, err); break;
    case BATON_WAIT_MESSAGE: st = sq_sub_delete(s, 0, instance, key, err); break;
    case BATON_WAIT_SIGNAL: st = sq_sub_delete(s, 1, instance, key, err); break;
    default: st = BATON_OK; break;
    }
    return st == BATON_NOTFOUND ? BATON_OK : st;
}

static bool sq_failed(baton_store *s) {
    sq_store *q = (sq_store *)s;
    return q->failed || q->file->sync_errno;
}

static baton_status sq_purge(baton_store *s, int64_t ended_before, int64_t now, uint32_t max,
                             uint32_t *removed_out, baton_error *err) {
    sq_store *q = (sq_store *)s;
    CHECK(q, err);
    uint32_t removed = 0;
    AUTO_BEGIN(q, err);
    baton_status st = BATON_OK;
    int changes = 0;
    sqlite3_stmt *x = stmt(q, SQ_PURGE_MESSAGES, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, now);
        sqlite3_bind_int64(x, 2, max);
        st = run(q, x, "removing expired messages", &changes, err);
        removed += (uint32_t)changes;
    }
    int64_t *ids = NULL;
    size_t n = 0;
    x = st || ended_before == INT64_MIN ? NULL : stmt(q, SQ_PURGE_PICK, err, &st);
    if (x) {
        sqlite3_bind_int64(x, 1, ended_before);
        sqlite3_bind_int64(x, 2, max);
        ids = max ? baton_malloc(max * sizeof *ids) : NULL;
        int rc = SQLITE_DONE;
        while (ids && n < max && (rc = sqlite3_step(x)) == SQLITE_ROW)
            ids[n++] = sqlite3_column_int64(x, 0);
        if (max && !ids)
            st = oom(q, err);
        else if (n < max && rc != SQLITE_DONE)
            st = sq_error(q, rc, "choosing instances to remove", err);
        done(x);
    }
    static const int deletes[] = {SQ_PURGE_HISTORY, SQ_PURGE_JOBS,  SQ_PURGE_TIMERS,
                                  SQ_PURGE_SUBS,    SQ_PURGE_TASKS, SQ_PURGE_INCIDENTS,
                                  SQ_PURGE_INSTANCE};
    for (size_t i = 0; !st && i < n; i++) {
        for (size_t k = 0; !st && k < sizeof deletes / sizeof *deletes; k++) {
            sqlite3_stmt *d = stmt(q, deletes[k], err, &st);
            if (d) {
                sqlite3_bind_int64(d, 1, ids[i]);
                st = run(q, d, "removing an ended instance", NULL, err);
            }
        }
        if (!st)
            removed++;
    }
    baton_free(ids);
    AUTO_END(q, st, err);
    if (!st && removed_out)
        *removed_out = removed;
    return st;
}

/* ---- open/close
 * -------------------------------------------------------------------------------------- */

static void sq_close(baton_store *s) {
    sq_store *q = (sq_store *)s;
    if (!q)
        return;
    if (q->db)
        rollback_quiet(q);
    for (int i = 0; i < SQ_COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    if (q->db)
        sqlite3_close_v2(q->db);
    file_unref(q->file);
    pool_fini(&q->rows);
    baton_free(q->path);
    baton_free(q);
}

static const baton_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .deployment_find_hash = sq_dep_find_hash,
    .deployment_put = sq_dep_put,
    .deployment_get = sq_dep_get,
    .deployment_list = sq_dep_list,
    .definition_put = sq_def_put,
    .definition_latest = sq_def_latest,
    .definition_get = sq_def_get,
    .definition_list = sq_def_list,
    .instance_new_id = sq_inst_new_id,
    .instance_get = sq_inst_get,
    .instance_put = sq_inst_put,
    .instance_list = sq_inst_list,
    .instance_query = sq_inst_query,
    .instance_count = sq_inst_count,
    .instance_children = sq_inst_children,
    .history_append = sq_hist_append,
    .history_read = sq_hist_read,
    .job_put = sq_job_put,
    .job_delete = sq_job_delete,
    .job_get = sq_job_get,
    .job_activate = sq_job_activate,
    .job_list = sq_job_list,
    .job_query = sq_job_query,
    .timer_put = sq_timer_put,
    .timer_delete = sq_timer_delete,
    .timer_due = sq_timer_due,
    .timer_next = sq_timer_next,
    .sub_put = sq_sub_put,
    .sub_delete = sq_sub_delete,
    .sub_find = sq_sub_find,
    .task_put = sq_task_put,
    .task_delete = sq_task_delete,
    .task_list = sq_task_list,
    .task_query = sq_task_query,
    .incident_put = sq_incident_put,
    .incident_delete = sq_incident_delete,
    .incident_list = sq_incident_list,
    .incident_query = sq_incident_query,
    .incident_count = sq_incident_count,
    .event_push = sq_event_push,
    .event_peek = sq_event_peek,
    .event_delete = sq_event_delete,
    .message_put = sq_msg_put,
    .message_find = sq_msg_find,
    .message_find_id = sq_msg_find_id,
    .message_delete = sq_msg_delete,
    .message_waiting = sq_msg_waiting,
    .wait_drop = sq_wait_drop,
    .failed = sq_failed,
    .purge = sq_purge,
};

static baton_status exec(sq_store *q, const char *sql, const char *what, baton_error *err) {
    char *msg = NULL;
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return BATON_OK;
    baton_status st;
    if ((rc & 0xff) == SQLITE_BUSY)
        st = baton_error_set(err, BATON_BUSY, "sqlite store '%s': %s: database is locked", q->path,
                             what);
    else
        st = fail_with(q, err, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return st;
}

/* Bring the schema to the newest version, in one transaction. */
static baton_status migrate(sq_store *q, baton_error *err) {
    baton_status st = sq_begin(&q->base, err);
    if (st)
        return st;
    st = exec(q,
              "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
              "name TEXT NOT NULL, applied INTEGER NOT NULL)",
              "creating the schema version table", err);
    int current = 0;
    if (!st) {
        sqlite3_stmt *x = NULL;
        int rc = sqlite3_prepare_v2(q->db, "SELECT coalesce(max(version), 0) FROM schema_version",
                                    -1, &x, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(x)) == SQLITE_ROW)
            current = sqlite3_column_int(x, 0);
        else
            st = sq_error(q, rc, "reading the schema version", err);
        sqlite3_finalize(x);
    }
    int latest = (int)baton_sqlite_migrations_count;
    if (!st && current > latest)
        st = fail_with(q, err,
                       "the database has schema version %d, newer than this build knows (%d)",
                       current, latest);
    for (int v = current + 1; !st && v <= latest; v++) {
        const baton_migration *m = &baton_sqlite_migrations[v - 1];
        char what[128];
        snprintf(what, sizeof what, "migration %04d_%s", m->version, m->name);
        st = exec(q, m->sql, what, err);
        if (st)
            break;
        char sql[256];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version (version, name, applied) VALUES (%d, '%s', %lld)",
                 m->version, m->name, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        st = exec(q, sql, what, err);
    }
    if (st) {
        sq_rollback(&q->base);
        return st;
    }
    /* schema changes are rare: let SQLite's own FULL sync cover them */
    bool group = q->group;
    q->group = false;
    st = sq_commit(&q->base, err);
    q->group = group;
    return st;
}

baton_status baton_store_open_sqlite(const char *path, const char *options, baton_store **out,
                                     baton_error *err) {
    char sync[16] = "full", gc[8] = "on", busy[16] = "5000";
    store_option(options, "synchronous", sync, sizeof sync);
    store_option(options, "group_commit", gc, sizeof gc);
    store_option(options, "busy_timeout", busy, sizeof busy);
    for (char *c = sync; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    if (strcmp(sync, "full") != 0 && strcmp(sync, "normal") != 0 && strcmp(sync, "off") != 0)
        return baton_error_set(err, BATON_INVALID,
                               "sqlite store '%s': synchronous must be full, normal or off", path);
    if (strcmp(gc, "on") != 0 && strcmp(gc, "off") != 0)
        return baton_error_set(err, BATON_INVALID,
                               "sqlite store '%s': group_commit must be on or off", path);
    sq_store *q = baton_calloc(1, sizeof *q);
    if (!q)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    q->base.ops = &sqlite_ops;
    q->busy_ms = atoi(busy) > 0 ? atoi(busy) : 5000;
    q->group = strcmp(sync, "full") == 0 && strcmp(gc, "on") == 0;
    baton_status st = BATON_OK;
    if (!(q->path = baton_strdup(path))) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto fail;
    }
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = baton_error_set(err, BATON_STORE, "sqlite store '%s': cannot open: %s", path,
                             q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, q->busy_ms);
    /* journal_mode=WAL needs a moment of exclusive access the first time */
    char pragma[128];
    snprintf(pragma, sizeof pragma, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s",
             q->group ? "NORMAL" : sync);
    struct stat sb;
    if ((st = exec(q, pragma, "setting up the connection", err)))
        goto fail;
    sqlite3_stmt *jm = NULL;
    if (sqlite3_prepare_v2(q->db, "PRAGMA journal_mode", -1, &jm, NULL) == SQLITE_OK &&
        sqlite3_step(jm) == SQLITE_ROW && strcmp(col_text(jm, 0), "wal") != 0) {
        sqlite3_finalize(jm);
        st = baton_error_set(err, BATON_STORE,
                             "sqlite store '%s': cannot use write-ahead logging here", path);
        goto fail;
    }
    sqlite3_finalize(jm);
    if (stat(path, &sb) != 0) {
        st = baton_error_set(err, BATON_STORE, "sqlite store '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!(q->file = file_ref(path, &sb))) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = migrate(q, err)))
        goto fail;
    *out = &q->base;
    return BATON_OK;
fail:
    sq_close(&q->base);
    return st;
}
