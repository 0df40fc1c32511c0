/*
 * helpers.h - what the persistence, engine-on-store and crash tests share:
 * a store "kind" from the command line (memory, sqlite, postgres), a fresh
 * database of that kind (a temporary directory for SQLite, a new database
 * on the throwaway server in $BATON_TEST_PG for PostgreSQL), and the rule
 * that a missing PostgreSQL skips the test on a workstation but fails it in
 * CI (BATON_CI=true). Header-only, one copy per test program.
 */
#ifndef BATON_TESTS_PERSISTENCE_HELPERS_H
#define BATON_TESTS_PERSISTENCE_HELPERS_H

#include <ftw.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct test_db {
    char kind[16];    /* memory, sqlite, postgres */
    char url[1024];   /* what baton_store_open takes */
    char dir[512];    /* SQLite: the temporary directory */
    char pg_name[64]; /* PostgreSQL: the database created for the test */
    char pg_admin[1024];
} test_db;

static inline int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void rm_tree(const char *dir) {
    if (dir && dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline bool in_ci(void) {
    const char *ci = getenv("BATON_CI");
    return ci && strcmp(ci, "true") == 0;
}

/* $BATON_TEST_PG with the database name replaced by `name` into out. */
static inline bool pg_url_with_db(const char *base, const char *name, char *out, size_t size) {
    const char *scheme = strstr(base, "://");
    if (!scheme)
        return false;
    const char *path = strchr(scheme + 3, '/');
    const char *query = strchr(scheme + 3, '?');
    if (!path || (query && path > query))
        path = query ? query : base + strlen(base);
    const char *after = path;
    if (*after == '/')
        after += strcspn(after, "?");
    snprintf(out, size, "%.*s/%s%s", (int)(path - base), base, name, after);
    return true;
}

static inline void pg_quiet(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static inline bool pg_exec(const char *url, const char *sql, char *msg, size_t size) {
    PGconn *c = PQconnectdb(url);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PQsetNoticeProcessor(c, pg_quiet, NULL);
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok && msg)
            snprintf(msg, size, "%s", PQresultErrorMessage(r));
        PQclear(r);
    } else if (msg) {
        snprintf(msg, size, "%s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok;
}

/*
 * Prepare a fresh database of `kind`. Returns 1 when ready, 0 when the test
 * must be skipped (no PostgreSQL outside CI; a reason is printed as a TAP
 * skip plan), -1 on failure (printed).
 */
static inline int test_db_init(test_db *t, const char *kind, const char *tag) {
    memset(t, 0, sizeof *t);
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    if (strcmp(kind, "memory") == 0) {
        snprintf(t->url, sizeof t->url, "memory:");
        return 1;
    }
    if (strcmp(kind, "sqlite") == 0) {
        const char *tmp = getenv("TMPDIR");
        snprintf(t->dir, sizeof t->dir, "%s/baton-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
        if (!mkdtemp(t->dir)) {
            printf("Bail out! cannot make a temporary directory\n");
            return -1;
        }
        snprintf(t->url, sizeof t->url, "sqlite:%s/baton.db", t->dir);
        return 1;
    }
    if (strcmp(kind, "postgres") == 0) {
        const char *base = getenv("BATON_TEST_PG");
        if (!base || !*base) {
            if (in_ci()) {
                printf("not ok 1 - PostgreSQL is required in CI: BATON_TEST_PG is not set "
                       "(./test.sh starts a throwaway server)\n1..1\n");
                return -1;
            }
            printf("1..0 # SKIP no PostgreSQL: set BATON_TEST_PG or run ./test.sh\n");
            return 0;
        }
        snprintf(t->pg_name, sizeof t->pg_name, "baton_%s_%d", tag, (int)getpid());
        snprintf(t->pg_admin, sizeof t->pg_admin, "%s", base);
        char sql[256], msg[512] = "";
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->pg_name);
        pg_exec(base, sql, NULL, 0);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->pg_name);
        if (!pg_exec(base, sql, msg, sizeof msg)) {
            printf("Bail out! PostgreSQL at BATON_TEST_PG: %s\n", msg);
            return -1;
        }
        if (!pg_url_with_db(base, t->pg_name, t->url, sizeof t->url)) {
            printf("Bail out! cannot read BATON_TEST_PG '%s'\n", base);
            return -1;
        }
        return 1;
    }
    printf("Bail out! unknown store kind '%s'\n", kind);
    return -1;
}

static inline void test_db_fini(test_db *t) {
    if (t->dir[0])
        rm_tree(t->dir);
    if (t->pg_name[0]) {
        char sql[256];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->pg_name);
        pg_exec(t->pg_admin, sql, NULL, 0);
    }
}

static inline bool durable(const test_db *t) {
    return strcmp(t->kind, "memory") != 0;
}

#endif
