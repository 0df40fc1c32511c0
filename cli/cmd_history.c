/*
 * cmd_history.c - `baton history INSTANCE`: print the token history of an
 * instance from a durable store, one record per line, in sequence order
 * (`--json`: the stored records as JSON lines). It only reads: the store is
 * opened directly, not through an engine, so nothing pending is delivered.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "expr/isotime.h"
#include "persistence/store.h"

static const char usage_text[] =
    "usage: baton history [--db URL] [--json] [--after SEQ] [--limit N] INSTANCE\n"
    "\n"
    "Print the token history of process instance INSTANCE: every record of every\n"
    "step, with its sequence number, time, kind, element and variable changes.\n"
    "\n"
    "options:\n"
    "  --db URL     store: a SQLite file (PATH or sqlite:PATH) or postgresql://...\n"
    "               (default: $BATON_DB, else baton.db in the working directory)\n"
    "  --json       print the stored records, one JSON object per line\n"
    "  --after SEQ  only records after sequence number SEQ\n"
    "  --limit N    at most N records\n";

typedef struct hist_out {
    bool json;
    uint64_t n;
    bool bad;
} hist_out;

static int print_record(void *cookie, const void *row) {
    hist_out *h = cookie;
    const char *text = row;
    h->n++;
    if (h->json) {
        puts(text);
        return 0;
    }
    cJSON *r = cJSON_Parse(text);
    if (!r) {
        printf("(record %" PRIu64 " is not JSON: %.60s)\n", h->n, text);
        h->bad = true;
        return 0;
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "seq");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(r, "at");
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind"));
    const char *el = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "element"));
    const char *flow = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "flow"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "name"));
    const char *txt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "text"));
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(r, "value");
    char when[40] = "";
    if (cJSON_IsNumber(at))
        baton_iso_format_instant((int64_t)at->valuedouble, when, sizeof when);
    printf("%6.0f  %-24s  %-22s %s", cJSON_IsNumber(seq) ? seq->valuedouble : 0.0, when,
           kind ? kind : "?",
           kind && strcmp(kind, "flow_taken") == 0 && flow ? flow
           : el                                            ? el
                                                           : "");
    if (name)
        printf(" name=%s", name);
    if (value && kind && strcmp(kind, "variable_set") == 0) {
        char *v = cJSON_PrintUnformatted(value);
        if (v)
            printf(" = %s", v);
        cJSON_free(v);
    }
    if (txt)
        printf(" (%s)", txt);
    putchar('\n');
    cJSON_Delete(r);
    return 0;
}

static const char *state_name(int32_t s) {
    return s == BATON_INSTANCE_ACTIVE       ? "active"
           : s == BATON_INSTANCE_COMPLETED  ? "completed"
           : s == BATON_INSTANCE_TERMINATED ? "terminated"
                                            : "unknown";
}

int baton_cmd_history(int argc, char **argv) {
    const char *db = getenv("BATON_DB"), *id_text = NULL;
    uint64_t after = 0;
    uint32_t limit = 0;
    hist_out h = {false, 0, false};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (baton_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return BATON_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            h.json = true;
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(a, "--after") == 0 && i + 1 < argc) {
            after = strtoull(argv[++i], &end, 10);
            if (!end || *end)
                return baton_cli_usage_error("history", "--after takes a sequence number");
        } else if (strcmp(a, "--limit") == 0 && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (!end || *end || v > UINT32_MAX)
                return baton_cli_usage_error("history", "--limit takes a number");
            limit = (uint32_t)v;
        } else if (a[0] == '-' && a[1]) {
            return baton_cli_usage_error("history", "unknown or incomplete option '%s'", a);
        } else if (!id_text) {
            id_text = a;
        } else {
            return baton_cli_usage_error("history", "only one INSTANCE");
        }
    }
    if (!id_text)
        return baton_cli_usage_error("history", "no instance given");
    char *end = NULL;
    long long id = strtoll(id_text, &end, 10);
    if (!end || *end || id <= 0)
        return baton_cli_usage_error("history", "INSTANCE must be an instance id, not '%s'",
                                     id_text);
    if (!db || !*db)
        db = "baton.db";

    baton_error err;
    baton_error_clear(&err);
    baton_store *store = NULL;
    if (baton_store_open(db, &store, &err)) {
        baton_error_where(&err, "%s", db);
        return baton_cli_error(&err);
    }
    int rc = BATON_EXIT_OK;
    baton_instance_row row;
    if (store->ops->instance_get(store, (int64_t)id, &row, NULL, &err)) {
        rc = baton_cli_error(&err);
        goto out;
    }
    if (!h.json)
        printf("instance %lld of '%s' version %d%s%s%s: %s, %" PRIu64 " records\n", id,
               row.process_id, row.version, row.business_key ? " (business key '" : "",
               row.business_key ? row.business_key : "", row.business_key ? "')" : "",
               state_name(row.state), row.seq);
    if (store->ops->history_read(store, (int64_t)id, after, limit, print_record, &h, &err)) {
        rc = baton_cli_error(&err);
        goto out;
    }
    if (h.bad)
        rc = BATON_EXIT_FAIL;
out:
    baton_store_close(store);
    return rc;
}
