/*
 * store_int.h - what the durable backends share inside persistence/: the
 * embedded schema migrations, a string pool for rows handed out, and small
 * helpers. Never included from another folder.
 */
#ifndef BATON_PERSISTENCE_STORE_INT_H
#define BATON_PERSISTENCE_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "persistence/store.h"

/* One versioned schema migration (persistence/migrations/<backend>/NNNN_name.sql). */
typedef struct baton_migration {
    int version;
    const char *name;
    const char *sql;
} baton_migration;

/* Generated from the .sql files by migrations/embed.py (migrations.c). */
extern const baton_migration baton_sqlite_migrations[];
extern const unsigned baton_sqlite_migrations_count;
extern const baton_migration baton_postgres_migrations[];
extern const unsigned baton_postgres_migrations_count;

/*
 * A pool of strings with one lifetime: the rows a call hands out (valid
 * until the next call on the handle), or the rows of one listing.
 */
typedef struct pool_block pool_block;
typedef struct pool {
    pool_block *head, *cur;
} pool;

void pool_reset(pool *p);
void pool_fini(pool *p);
/* Copy n bytes plus a NUL; NULL in gives NULL out; *oom set when out of memory. */
char *pool_dupn(pool *p, const char *s, size_t n, bool *oom);
char *pool_dup(pool *p, const char *s, bool *oom);

/*
 * A growing array of fixed-size rows for listings, so callbacks run after
 * the query finished and may call the store again.
 */
typedef struct rowvec {
    void *data;
    size_t n, cap, size;
} rowvec;

void *rowvec_push(rowvec *v, size_t size); /* zeroed slot or NULL */
void rowvec_free(rowvec *v);

/*
 * The WHERE clause of an instance filter for the SQL stores, so both build
 * the same conditions: `sql` is "WHERE ..." (or "" when nothing filters),
 * placeholders numbered from 1 in the backend's style ('?' gives ?1, '$'
 * gives $1), and their values in order. With `cursor`, "id > after" comes
 * first. Each condition is written so an index serves it: equality on
 * state, process id, business key or parent; "incidents > 0", "ended <> 0"
 * and "parent_id <> 0" spelled as the partial indexes say them, since
 * SQLite cannot see that a bound value implies them.
 */
typedef struct store_where {
    char sql[512];
    int n;
    bool overflow; /* a condition did not fit: the query must not run */
    struct {
        const char *text; /* NULL: the number */
        int64_t num;
    } arg[12];
} store_where;

void store_instance_where(const baton_instance_filter *f, bool cursor, char mark, store_where *out);

/*
 * The same for jobs, user tasks and incidents, whose cursor is a pair:
 * "(instance, key) > (a, k)" comes first, which the UNIQUE (instance, key)
 * index and the (column, instance, key) indexes serve as a range, so
 * "ORDER BY instance, key LIMIT n" reads n rows. A job's state is judged
 * at f->now (the conditions say baton_store_job_state() in SQL); "retries
 * <= 0" is spelled as the partial index jobs_incident says it. The task
 * filter's candidate group and user are left out: how to look into the
 * details' JSON is the backend's, which adds their values with
 * store_where_param() and their conditions to its own statement text.
 */
void store_job_where(const baton_job_filter *f, char mark, store_where *out);
void store_task_where(const baton_task_filter *f, char mark, store_where *out);
void store_incident_where(const baton_incident_filter *f, bool cursor, char mark, store_where *out);

/* A query's page size must be 1..BATON_STORE_QUERY_MAX: BATON_INVALID naming `what` else. */
baton_status store_query_limit(uint32_t limit, const char *what, baton_error *err);

/* Add a value to w and return its placeholder's number, for a condition the caller writes. */
int store_where_param(store_where *w, const char *text, int64_t num);

/* Value of `key` in "k=v&k2=v2" option text, copied into buf; false if absent. */
bool store_option(const char *options, const char *key, char *buf, size_t size);

#endif
