/*
 * cmd_replay.c - `baton replay INSTANCE`: the audit check. Rebuild an
 * instance's state from its token history alone (a fresh state, every
 * record applied in order) and compare it with the stored state. Exit 0
 * when they are identical, 1 when they differ (the first difference is
 * printed). `--all` checks every instance. The engine is opened without
 * delivering the outbox: an audit never writes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "runtime/engine.h"

static const char usage_text[] =
    "usage: baton replay [--db URL] [--quiet] INSTANCE | --all\n"
    "\n"
    "Rebuild the state of process instance INSTANCE from its token history and\n"
    "compare it with the stored state: exit 0 if they are identical, 1 if not.\n"
    "\n"
    "options:\n"
    "  --db URL   store: a SQLite file (PATH or sqlite:PATH) or postgresql://...\n"
    "             (default: $BATON_DB, else baton.db in the working directory)\n"
    "  --all      check every instance in the store\n"
    "  --quiet    print only differences\n";

typedef struct ids {
    int64_t *v;
    size_t n, cap;
    bool nomem;
} ids;

static int collect_id(void *cookie, const void *row) {
    ids *l = cookie;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        int64_t *v = baton_realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->nomem = true;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ((const baton_instance_row *)row)->id;
    return 0;
}

static baton_status list_ids(void *cookie, baton_store *store, baton_error *err) {
    ids *l = cookie;
    baton_status st = store->ops->instance_list(store, collect_id, l, err);
    if (!st && l->nomem)
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
    return st;
}

/* 0 same, 1 different, other: an error exit code (printed). */
static int check_one(baton_engine *eng, int64_t id, bool quiet) {
    baton_error err;
    baton_error_clear(&err);
    bool same = false;
    char *diff = NULL;
    baton_instance_row row;
    uint64_t n = 0;
    if (baton_engine_instance_row(eng, id, &row, &err) == BATON_OK)
        n = row.seq;
    baton_error_clear(&err);
    if (baton_engine_replay(eng, id, &same, &diff, &err)) {
        baton_error_where(&err, "instance %lld", (long long)id);
        return baton_cli_error(&err);
    }
    if (same) {
        if (!quiet)
            printf("instance %lld: %" PRIu64 " records replayed: the stored state matches\n",
                   (long long)id, n);
    } else {
        printf("instance %lld: replaying %" PRIu64 " records gives a different state: %s\n",
               (long long)id, n, diff ? diff : "");
    }
    baton_free(diff);
    return same ? BATON_EXIT_OK : BATON_EXIT_FAIL;
}

int baton_cmd_replay(int argc, char **argv) {
    const char *db = getenv("BATON_DB"), *id_text = NULL;
    bool all = false, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (baton_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return BATON_EXIT_OK;
        } else if (strcmp(a, "--all") == 0) {
            all = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return baton_cli_usage_error("replay", "unknown or incomplete option '%s'", a);
        } else if (!id_text) {
            id_text = a;
        } else {
            return baton_cli_usage_error("replay", "only one INSTANCE");
        }
    }
    if (!id_text == !all)
        return baton_cli_usage_error("replay", "give one INSTANCE or --all");
    long long id = 0;
    if (id_text) {
        char *end = NULL;
        id = strtoll(id_text, &end, 10);
        if (!end || *end || id <= 0)
            return baton_cli_usage_error("replay", "INSTANCE must be an instance id, not '%s'",
                                         id_text);
    }
    if (!db || !*db)
        db = "baton.db";

    baton_error err;
    baton_error_clear(&err);
    baton_engine *eng = NULL;
    baton_engine_opts eo = {.store_url = db, .sessions = 1, .skip_settle = true};
    if (baton_engine_open(&eo, &eng, &err)) {
        baton_error_where(&err, "%s", db);
        return baton_cli_error(&err);
    }
    int rc = BATON_EXIT_OK;
    if (!all) {
        rc = check_one(eng, (int64_t)id, quiet);
    } else {
        ids l = {0};
        if (baton_engine_query(eng, list_ids, &l, &err)) {
            rc = baton_cli_error(&err);
        } else {
            size_t differ = 0;
            for (size_t i = 0; i < l.n; i++) {
                int r = check_one(eng, l.v[i], quiet);
                if (r == BATON_EXIT_FAIL)
                    differ++;
                else if (r != BATON_EXIT_OK && rc == BATON_EXIT_OK)
                    rc = r;
            }
            printf("%zu instances replayed, %zu with a different state\n", l.n, differ);
            if (differ && rc == BATON_EXIT_OK)
                rc = BATON_EXIT_FAIL;
        }
        baton_free(l.v);
    }
    baton_engine_close(eng);
    return rc;
}
