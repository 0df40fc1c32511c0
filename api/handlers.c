/*
 * handlers.c - the routes of the HTTP API (docs/api.md) and what each one
 * asks of the engine.
 *
 * Every handler checks its whole input (ids, query, body) before the one
 * engine command it issues, so a request refused for its input changes
 * nothing, and a command is one transaction (plus the settling of its
 * outbox), so a failed command changes nothing either. Store listings are
 * filtered here, above baton_engine_query(): the store interface has no
 * filtered queries yet (see docs/api.md, "Costs").
 *
 * Ids: instances and deployments are decimal integers; a user task (and,
 * later, a job) is "<instance>-<wait key>", which is unique for ever.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_int.h"
#include "api/body.h"
#include "common/alloc.h"
#include "expr/isotime.h"
#include "persistence/store.h"

#define LIST_DEFAULT   100
#define LIST_MAX       1000
#define NAME_MAX_BYTES 255

/* ---- helpers -------------------------------------------------------------------------- */

const char *api_time(int64_t ms, char buf[32]) {
    baton_iso_format_instant(ms, buf, 32);
    return buf;
}

void api_add_time(cJSON *o, const char *k, int64_t ms) {
    char b[32];
    if (ms > 0)
        cJSON_AddStringToObject(o, k, api_time(ms, b));
    else
        cJSON_AddNullToObject(o, k);
}

void api_add_str(cJSON *o, const char *k, const char *v) {
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

bool api_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0)
        return false;
    *out = v;
    return true;
}

/* Path capture `i` as an id (instances, deployments): 404 when it cannot be one. */
static bool cap_id(api_req *r, uint32_t i, const char *what, int64_t *out) {
    if (api_parse_i64(r->cap[i], out))
        return true;
    api_reply_errorf(r, BATON_NOTFOUND, "no %s '%s'", what, r->cap[i]);
    return false;
}

bool api_parse_pair(const char *s, int64_t *a_out, int64_t *b_out) {
    const char *dash = s ? strchr(s, '-') : NULL;
    char a[24];
    if (!dash || (size_t)(dash - s) >= sizeof a)
        return false;
    memcpy(a, s, (size_t)(dash - s));
    a[dash - s] = '\0';
    return api_parse_i64(a, a_out) && api_parse_i64(dash + 1, b_out);
}

/* "<instance>-<key>" */
static bool cap_task(api_req *r, uint32_t i, int64_t *inst, int64_t *key) {
    if (api_parse_pair(r->cap[i], inst, key))
        return true;
    api_reply_errorf(r, BATON_NOTFOUND, "no user task '%s' (ids look like <instance>-<key>)",
                     r->cap[i]);
    return false;
}

bool api_query_int(api_req *r, const char *key, int64_t min, int64_t max, int64_t def,
                   int64_t *out) {
    const char *v = api_query(r, key);
    if (!v) {
        *out = def;
        return true;
    }
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        api_reply_errorf(r, BATON_INVALID,
                         "query parameter '%s' must be an integer from %lld to "
                         "%lld",
                         key, (long long)min, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

static bool query_bool(api_req *r, const char *key, int *out) {
    const char *v = api_query(r, key);
    *out = -1;
    if (!v)
        return true;
    if (strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0)
        *out = 0;
    else {
        api_reply_errorf(r, BATON_INVALID, "query parameter '%s' must be true or false", key);
        return false;
    }
    return true;
}

/* An instant: RFC 3339 / ISO 8601 text or milliseconds since the epoch. */
static bool query_time(api_req *r, const char *key, int64_t *out) {
    const char *v = api_query(r, key);
    if (!v)
        return true;
    int64_t ms;
    if (api_parse_i64(v, &ms)) {
        *out = ms;
        return true;
    }
    baton_error e;
    baton_error_clear(&e);
    if (baton_iso_parse_instant(v, NULL, out, &e)) {
        api_reply_errorf(r, BATON_INVALID, "query parameter '%s': %s", key, e.message);
        return false;
    }
    return true;
}

/* The JSON body (NULL when empty and `optional`); false after an answer was queued. */
bool api_json_body(api_req *r, bool optional, cJSON **out) {
    *out = NULL;
    if (r->body.len == 0) {
        if (optional)
            return true;
        api_reply_errorf(r, BATON_INVALID, "this request needs a JSON body");
        return false;
    }
    baton_error e;
    baton_error_clear(&e);
    if (baton_body_parse_json(r->body.data, r->body.len, r->srv->o.max_json_depth, out, &e)) {
        api_reply_error(r, e.code, &e);
        return false;
    }
    return true;
}

/* Check an object body: only `allowed` keys (NULL-terminated list). */
bool api_known_fields(api_req *r, const cJSON *o, const char *const *allowed) {
    if (!cJSON_IsObject(o)) {
        api_reply_errorf(r, BATON_INVALID, "the body must be a JSON object");
        return false;
    }
    for (const cJSON *c = o->child; c; c = c->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, c->string) == 0;
        if (!ok) {
            api_reply_errorf(r, BATON_INVALID, "unknown field '%s'", c->string);
            return false;
        }
    }
    return true;
}

bool api_field_string(api_req *r, const cJSON *o, const char *key, bool required,
                      const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        if (!required)
            return true;
        api_reply_errorf(r, BATON_INVALID, "field '%s' is required", key);
        return false;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) > NAME_MAX_BYTES ||
        (required && !v->valuestring[0])) {
        api_reply_errorf(r, BATON_INVALID,
                         "field '%s' must be a non-empty string of at most %d "
                         "bytes",
                         key, NAME_MAX_BYTES);
        return false;
    }
    *out = v->valuestring;
    return true;
}

bool api_field_object(api_req *r, const cJSON *o, const char *key, const cJSON **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsObject(v)) {
        api_reply_errorf(r, BATON_INVALID, "field '%s' must be a JSON object", key);
        return false;
    }
    *out = v;
    return true;
}

bool api_field_duration(api_req *r, const cJSON *o, const char *key, int64_t min, int64_t max,
                        int64_t def, int64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    int64_t ms = def;
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble < (double)min || v->valuedouble > (double)max) {
            api_reply_errorf(r, BATON_INVALID, "field '%s' must be %lld to %lld ms", key,
                             (long long)min, (long long)max);
            return false;
        }
        ms = (int64_t)v->valuedouble;
    } else if (cJSON_IsString(v)) {
        baton_duration d;
        baton_error e;
        baton_error_clear(&e);
        if (baton_iso_parse_duration(v->valuestring, &d, &e) || d.months) {
            api_reply_errorf(r, BATON_INVALID, "field '%s': %s", key,
                             e.message[0] ? e.message : "durations in months are not allowed here");
            return false;
        }
        if (d.ms < min || d.ms > max) {
            api_reply_errorf(r, BATON_INVALID, "field '%s' must be %lld to %lld ms", key,
                             (long long)min, (long long)max);
            return false;
        }
        ms = d.ms;
    } else if (v && !cJSON_IsNull(v)) {
        api_reply_errorf(r, BATON_INVALID,
                         "field '%s' must be milliseconds or an ISO 8601 "
                         "duration",
                         key);
        return false;
    }
    *out = ms;
    return true;
}

static const char *state_name(int32_t st) {
    return st == BATON_INSTANCE_ACTIVE       ? "active"
           : st == BATON_INSTANCE_COMPLETED  ? "completed"
           : st == BATON_INSTANCE_TERMINATED ? "terminated"
                                             : "unknown";
}

static void reply_engine_error(api_req *r, baton_status st, const baton_error *e) {
    api_reply_error(r, st, e);
}

/* ---- operations -------------------------------------------------------------------------- */

static baton_status ping_store(void *cookie, baton_store *s, baton_error *err) {
    (void)cookie;
    int64_t due;
    return s->ops->timer_next(s, &due, err);
}

static void h_health(api_req *r) {
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, ping_store, NULL, &e);
    if (st) {
        api_reply_error(r, st == BATON_NOMEM ? BATON_NOMEM : BATON_STORE, &e);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "store", baton_engine_store_name(r->srv->engine));
    api_reply_json(r, 200, o);
}

/* The store counts (an index range on SQLite and PostgreSQL): no row is read into memory. */
static baton_status count_active(void *cookie, baton_store *s, baton_error *err) {
    baton_instance_filter f = {.state = BATON_INSTANCE_ACTIVE};
    return s->ops->instance_count(s, &f, cookie, err);
}

static void h_metrics(api_req *r) {
    baton_server *s = r->srv;
    if (!atomic_exchange(&s->active_counted, 1)) {
        /* once: the active gauge starts from what the store holds */
        int64_t n = 0;
        if (baton_engine_query(s->engine, count_active, &n, NULL) == BATON_OK)
            baton_metrics_set_active(s->metrics, n);
        else
            atomic_store(&s->active_counted, 0);
    }
    if (s->o.scheduler)
        baton_metrics_timers_fired(s->metrics, baton_scheduler_fired(s->o.scheduler));
    if (s->o.httpjobs)
        baton_metrics_http_job_calls(s->metrics, baton_httpjobs_calls(s->o.httpjobs));
    int64_t incidents = 0;
    if (api_count_incidents(s, &incidents) == BATON_OK)
        baton_metrics_set_incidents(s->metrics, incidents);
    baton_buf b;
    baton_buf_init(&b, (size_t)8 << 20);
    if (baton_metrics_render(s->metrics, &b)) {
        baton_buf_fini(&b);
        api_reply_errorf(r, BATON_NOMEM, "metrics too large");
        return;
    }
    api_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", baton_buf_str(&b), b.len);
    baton_buf_fini(&b);
}

/* ---- deployments ------------------------------------------------------------------------- */

typedef struct def_item {
    char process_id[NAME_MAX_BYTES + 1];
    int32_t version;
    int64_t deployment;
} def_item;

typedef struct def_items {
    def_item *items;
    uint32_t n, cap;
    int64_t only_deployment;  /* 0 = all */
    const char *only_process; /* NULL = all */
    bool nomem;
} def_items;

static int collect_def(void *cookie, const void *row) {
    def_items *l = cookie;
    const baton_definition_row *d = row;
    if (l->only_deployment && d->deployment != l->only_deployment)
        return 0;
    if (l->only_process && strcmp(l->only_process, d->process_id) != 0)
        return 0;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 32;
        def_item *it = cap <= 100000 ? baton_realloc(l->items, cap * sizeof *it) : NULL;
        if (!it) {
            l->nomem = true;
            return 1;
        }
        l->items = it;
        l->cap = cap;
    }
    def_item *it = &l->items[l->n++];
    snprintf(it->process_id, sizeof it->process_id, "%s", d->process_id);
    it->version = d->version;
    it->deployment = d->deployment;
    return 0;
}

static baton_status list_defs(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->definition_list(s, collect_def, cookie, err);
}

static int cmp_def(const void *a, const void *b) {
    const def_item *x = a, *y = b;
    int c = strcmp(x->process_id, y->process_id);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

static cJSON *def_json(api_req *r, const def_item *d, bool latest) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "processId", d->process_id);
    cJSON_AddNumberToObject(o, "version", d->version);
    cJSON_AddNumberToObject(o, "deploymentId", (double)d->deployment);
    cJSON_AddBoolToObject(o, "latest", latest);
    baton_model *m = baton_engine_deployment_model(r->srv->engine, d->deployment);
    const char *name = NULL, *tag = NULL;
    if (m) {
        const baton_graph *g = baton_model_graph(m);
        baton_idx p = baton_model_find_process(m, d->process_id);
        if (p != BATON_NONE) {
            name = g->processes[p].name;
            tag = g->processes[p].version_tag;
        }
    }
    api_add_str(o, "name", name);
    api_add_str(o, "versionTag", tag);
    return o;
}

static bool defs_of(api_req *r, def_items *l) {
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, list_defs, l, &e);
    if (!st && l->nomem)
        st = baton_error_set(&e, BATON_NOMEM, "out of memory");
    if (st) {
        api_reply_error(r, st, &e);
        return false;
    }
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, cmp_def);
    return true;
}

/* The one BPMN file of a multipart upload, and the deployment name. */
static bool form_file(api_req *r, const char **xml, size_t *len, const char **name) {
    baton_form_part parts[BATON_BODY_MAX_PARTS];
    uint32_t n = 0;
    baton_error e;
    baton_error_clear(&e);
    /* the body buffer is NUL-terminated and ours: split it in place */
    if (baton_body_parse_multipart(r->body.data, r->body.len, r->content_type, parts,
                                   BATON_BODY_MAX_PARTS, &n, &e)) {
        api_reply_error(r, e.code, &e);
        return false;
    }
    const baton_form_part *file = NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (parts[i].filename) {
            if (file) {
                api_reply_errorf(r, BATON_INVALID,
                                 "one BPMN file per deployment (got '%s' and "
                                 "'%s')",
                                 file->filename, parts[i].filename);
                return false;
            }
            file = &parts[i];
        } else if (strcmp(parts[i].name, "deployment-name") == 0 ||
                   strcmp(parts[i].name, "name") == 0) {
            char *v = baton_arena_strndup(r->arena, parts[i].data, parts[i].len);
            if (v && baton_body_utf8_valid(v, strlen(v), NULL) && strlen(v) <= NAME_MAX_BYTES && *v)
                *name = v;
        }
    }
    if (!file) {
        api_reply_errorf(r, BATON_INVALID,
                         "the form has no file part (send the BPMN file as "
                         "a form field with a filename, e.g. curl -F file=@diagram.bpmn)");
        return false;
    }
    if (!*name && file->filename[0] &&
        baton_body_utf8_valid(file->filename, strlen(file->filename), NULL))
        *name = file->filename;
    *xml = file->data;
    *len = file->len;
    return true;
}

static void h_deploy(api_req *r) {
    const char *xml = r->body.data, *name = api_query(r, "name");
    size_t len = r->body.len;
    if (!len) {
        api_reply_errorf(r, BATON_INVALID, "empty body: send BPMN XML");
        return;
    }
    if (r->content_type && strncasecmp(r->content_type, "multipart/form-data", 19) == 0 &&
        !form_file(r, &xml, &len, &name))
        return;
    if (name && strlen(name) > NAME_MAX_BYTES) {
        api_reply_errorf(r, BATON_INVALID, "deployment name longer than %d bytes", NAME_MAX_BYTES);
        return;
    }
    if (!name || !*name)
        name = "deployment.bpmn";
    baton_diags d;
    baton_diags_init(&d, 0);
    baton_deploy_result res;
    baton_error e;
    baton_error_clear(&e);
    baton_status st;
    API_TIMED(r, st, e, baton_engine_deploy(r->srv->engine, name, xml, len, &d, &res, &e));
    if (st == BATON_MODEL || st == BATON_PARSE || st == BATON_LIMIT || st == BATON_EXPR) {
        if (!d.n && e.where[0]) {
            /* not well-formed XML: one diagnostic from the error's position */
            const char *colon = strrchr(e.where, ':');
            baton_diags_add(&d, BATON_SEV_ERROR, colon ? (uint32_t)atoi(colon + 1) : 0, 0, NULL,
                            "%s", e.message);
        }
        api_reply_model_errors(r, &e, &d);
        baton_diags_fini(&d);
        return;
    }
    if (st) {
        baton_diags_fini(&d);
        reply_engine_error(r, st, &e);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)res.deployment);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddBoolToObject(o, "duplicate", res.duplicate);
    cJSON *ps = cJSON_AddArrayToObject(o, "processes");
    for (uint32_t i = 0; ps && i < res.n_processes; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "processId", res.processes[i].id);
        cJSON_AddNumberToObject(p, "version", res.processes[i].version);
        cJSON_AddItemToArray(ps, p);
    }
    cJSON *ws = cJSON_AddArrayToObject(o, "warnings");
    for (uint32_t i = 0; ws && i < d.n; i++) {
        const baton_diag *g = &d.items[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "line", g->line);
        api_add_str(x, "element", g->element);
        cJSON_AddStringToObject(x, "message", g->message ? g->message : "");
        cJSON_AddItemToArray(ws, x);
    }
    baton_diags_fini(&d);
    snprintf(r->location, sizeof r->location, "/v1/deployments/%lld", (long long)res.deployment);
    api_reply_json(r, res.duplicate ? 200 : 201, o);
}

typedef struct dep_list {
    cJSON *items;
    int64_t only; /* one deployment, with its XML size */
    char *xml;    /* only: copy of the XML */
    size_t xml_len;
    bool found, nomem;
} dep_list;

static cJSON *dep_json(const baton_deployment_row *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)d->id);
    api_add_str(o, "name", d->name);
    api_add_str(o, "hash", d->hash);
    api_add_time(o, "created", d->created);
    cJSON_AddNumberToObject(o, "size", (double)d->xml_len);
    return o;
}

static int collect_dep(void *cookie, const void *row) {
    dep_list *l = cookie;
    cJSON *o = dep_json(row);
    if (!o) {
        l->nomem = true;
        return 1;
    }
    cJSON_AddItemToArray(l->items, o);
    return 0;
}

static baton_status list_deps(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->deployment_list(s, collect_dep, cookie, err);
}

static baton_status get_dep(void *cookie, baton_store *s, baton_error *err) {
    dep_list *l = cookie;
    baton_deployment_row d;
    baton_status st = s->ops->deployment_get(s, l->only, &d, err);
    if (st)
        return st;
    l->found = true;
    l->items = dep_json(&d);
    l->xml = baton_malloc(d.xml_len + 1);
    if (!l->items || !l->xml)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    memcpy(l->xml, d.xml, d.xml_len);
    l->xml[d.xml_len] = '\0';
    l->xml_len = d.xml_len;
    return BATON_OK;
}

static void h_deployments(api_req *r) {
    dep_list l = {0};
    l.items = cJSON_CreateArray();
    baton_error e;
    baton_error_clear(&e);
    baton_status st = l.items ? baton_engine_query(r->srv->engine, list_deps, &l, &e) : BATON_NOMEM;
    if (!st && l.nomem)
        st = BATON_NOMEM;
    if (st) {
        cJSON_Delete(l.items);
        api_reply_error(r, st, &e);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "items", l.items);
    api_reply_json(r, 200, o);
}

static bool load_dep(api_req *r, dep_list *l) {
    if (!cap_id(r, 0, "deployment", &l->only))
        return false;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, get_dep, l, &e);
    if (st) {
        cJSON_Delete(l->items);
        baton_free(l->xml);
        if (st == BATON_NOTFOUND)
            api_reply_errorf(r, BATON_NOTFOUND, "no deployment %lld", (long long)l->only);
        else
            api_reply_error(r, st, &e);
        return false;
    }
    return true;
}

static void h_deployment(api_req *r) {
    dep_list l = {0};
    if (!load_dep(r, &l))
        return;
    baton_free(l.xml);
    def_items d = {0};
    d.only_deployment = l.only;
    if (!defs_of(r, &d)) {
        cJSON_Delete(l.items);
        baton_free(d.items);
        return;
    }
    cJSON *ps = cJSON_AddArrayToObject(l.items, "processes");
    for (uint32_t i = 0; ps && i < d.n; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "processId", d.items[i].process_id);
        cJSON_AddNumberToObject(p, "version", d.items[i].version);
        cJSON_AddItemToArray(ps, p);
    }
    baton_free(d.items);
    api_reply_json(r, 200, l.items);
}

static void h_deployment_xml(api_req *r) {
    dep_list l = {0};
    if (!load_dep(r, &l))
        return;
    cJSON_Delete(l.items);
    api_reply_raw(r, 200, "application/xml; charset=utf-8", l.xml, l.xml_len);
    baton_free(l.xml);
}

/* ---- definitions ------------------------------------------------------------------------- */

static void reply_defs(api_req *r, def_items *d, bool latest_only) {
    cJSON *items = cJSON_CreateArray();
    for (uint32_t i = 0; items && i < d->n; i++) {
        bool latest =
            i + 1 == d->n || strcmp(d->items[i + 1].process_id, d->items[i].process_id) != 0;
        if (latest_only && !latest)
            continue;
        cJSON_AddItemToArray(items, def_json(r, &d->items[i], latest));
    }
    baton_free(d->items);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "items", items);
    api_reply_json(r, 200, o);
}

static void h_definitions(api_req *r) {
    int latest;
    if (!query_bool(r, "latest", &latest))
        return;
    def_items d = {0};
    d.only_process = api_query(r, "processId");
    if (defs_of(r, &d))
        reply_defs(r, &d, latest == 1);
    else
        baton_free(d.items);
}

static void h_definition(api_req *r) {
    def_items d = {0};
    d.only_process = r->cap[0];
    if (!defs_of(r, &d)) {
        baton_free(d.items);
        return;
    }
    if (!d.n) {
        baton_free(d.items);
        api_reply_errorf(r, BATON_NOTFOUND, "no process '%s' is deployed", r->cap[0]);
        return;
    }
    reply_defs(r, &d, false);
}

static cJSON *instance_json(const baton_instance_row *row) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)row->id);
    api_add_str(o, "processId", row->process_id);
    cJSON_AddNumberToObject(o, "version", row->version);
    cJSON_AddNumberToObject(o, "deploymentId", (double)row->deployment);
    cJSON_AddStringToObject(o, "state", state_name(row->state));
    api_add_str(o, "businessKey", row->business_key);
    if (row->parent_id)
        cJSON_AddNumberToObject(o, "parentId", (double)row->parent_id);
    else
        cJSON_AddNullToObject(o, "parentId");
    api_add_time(o, "started", row->started);
    api_add_time(o, "ended", row->ended);
    cJSON_AddNumberToObject(o, "incidents", row->incidents);
    return o;
}

typedef struct row_query {
    int64_t id;
    cJSON *json;
} row_query;

/* Inside the session: the row's strings belong to the store until its next call. */
static baton_status row_as_json(void *cookie, baton_store *s, baton_error *err) {
    row_query *q = cookie;
    baton_instance_row row;
    baton_status st = s->ops->instance_get(s, q->id, &row, NULL, err);
    if (st)
        return st;
    q->json = instance_json(&row);
    return q->json ? BATON_OK : baton_error_set(err, BATON_NOMEM, "out of memory");
}

/* The row of an instance as JSON (404 when unknown). */
cJSON *api_instance_row_json(api_req *r, int64_t id) {
    row_query q = {id, NULL};
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, row_as_json, &q, &e);
    if (st == BATON_NOTFOUND) {
        api_reply_errorf(r, BATON_NOTFOUND, "no instance %lld", (long long)id);
        return NULL;
    }
    if (st) {
        cJSON_Delete(q.json);
        api_reply_error(r, st, &e);
        return NULL;
    }
    return q.json;
}

static void h_start(api_req *r) {
    static const char *const allowed[] = {"variables", "businessKey", NULL};
    int64_t version;
    if (!api_query_int(r, "version", 1, INT32_MAX, 0, &version))
        return;
    cJSON *body = NULL;
    if (!api_json_body(r, true, &body))
        return;
    const cJSON *vars = NULL;
    const char *bk = NULL;
    if (body &&
        (!api_known_fields(r, body, allowed) || !api_field_object(r, body, "variables", &vars) ||
         !api_field_string(r, body, "businessKey", false, &bk))) {
        cJSON_Delete(body);
        return;
    }
    int64_t id = 0;
    baton_error e;
    baton_error_clear(&e);
    baton_status st;
    API_TIMED(r, st, e,
              baton_engine_start(r->srv->engine, r->cap[0], (int32_t)version, vars, bk, &id, &e));
    cJSON_Delete(body);
    if (st) {
        reply_engine_error(r, st, &e);
        return;
    }
    cJSON *o = api_instance_row_json(r, id);
    if (!o)
        return;
    snprintf(r->location, sizeof r->location, "/v1/instances/%lld", (long long)id);
    api_reply_json(r, 201, o);
}

/* ---- instances --------------------------------------------------------------------------- */

/* One page of instances: the store filters, orders by id and stops at the limit. */
typedef struct inst_page {
    baton_instance_filter f; /* f.limit: the page size + 1, to know whether more follow */
    cJSON **rows;
    int64_t *ids;
    uint32_t n;
    bool nomem;
} inst_page;

static int page_inst(void *cookie, const void *row) {
    inst_page *p = cookie;
    const baton_instance_row *x = row;
    if (p->n == p->f.limit)
        return 1;
    cJSON *j = instance_json(x);
    if (!j) {
        p->nomem = true;
        return 1;
    }
    p->ids[p->n] = x->id;
    p->rows[p->n++] = j;
    return 0;
}

static baton_status list_insts(void *cookie, baton_store *s, baton_error *err) {
    inst_page *p = cookie;
    return s->ops->instance_query(s, &p->f, page_inst, cookie, err);
}

static void h_instances(api_req *r) {
    inst_page pg = {0};
    baton_instance_filter *f = &pg.f;
    int64_t limit = 0, after = 0;
    int has_incident = -1;
    const char *state = api_query(r, "state");
    if (state) {
        f->state = strcmp(state, "active") == 0       ? BATON_INSTANCE_ACTIVE
                   : strcmp(state, "completed") == 0  ? BATON_INSTANCE_COMPLETED
                   : strcmp(state, "terminated") == 0 ? BATON_INSTANCE_TERMINATED
                                                      : -1;
        if (f->state < 0) {
            api_reply_errorf(r, BATON_INVALID, "state must be active, completed or terminated");
            return;
        }
    }
    const char *cursor = api_query(r, "cursor");
    if (cursor && !api_parse_i64(cursor, &after)) {
        api_reply_errorf(r, BATON_INVALID, "cursor '%s' is not one this API gave out", cursor);
        return;
    }
    if (!api_query_int(r, "limit", 1, LIST_MAX, LIST_DEFAULT, &limit) ||
        !query_time(r, "startedAfter", &f->started_after) ||
        !query_time(r, "startedBefore", &f->started_before) ||
        !query_time(r, "endedAfter", &f->ended_after) ||
        !query_time(r, "endedBefore", &f->ended_before) ||
        !query_bool(r, "hasIncident", &has_incident) ||
        !api_query_int(r, "parentId", 0, INT64_MAX / 2, 0, &f->parent_id))
        return;
    f->incidents = has_incident < 0 ? 0 : has_incident ? 1 : -1;
    f->process_id = api_query(r, "processId");
    f->business_key = api_query(r, "businessKey");
    f->after = after;
    f->limit = (uint32_t)limit + 1;
    pg.rows = baton_calloc(f->limit, sizeof *pg.rows);
    pg.ids = baton_calloc(f->limit, sizeof *pg.ids);
    baton_error e;
    baton_error_clear(&e);
    baton_status st =
        pg.rows && pg.ids ? baton_engine_query(r->srv->engine, list_insts, &pg, &e) : BATON_NOMEM;
    if (!st && pg.nomem)
        st = BATON_NOMEM;
    cJSON *o = NULL;
    if (!st) {
        o = cJSON_CreateObject();
        cJSON *items = cJSON_AddArrayToObject(o, "items");
        uint32_t shown = pg.n > (uint32_t)limit ? (uint32_t)limit : pg.n;
        for (uint32_t i = 0; i < shown; i++) {
            cJSON_AddItemToArray(items, pg.rows[i]);
            pg.rows[i] = NULL;
        }
        if (pg.n > (uint32_t)limit) {
            char c[24];
            snprintf(c, sizeof c, "%lld", (long long)pg.ids[limit - 1]);
            cJSON_AddStringToObject(o, "nextCursor", c);
        } else {
            cJSON_AddNullToObject(o, "nextCursor");
        }
    }
    for (uint32_t i = 0; pg.rows && i < pg.n; i++)
        cJSON_Delete(pg.rows[i]);
    baton_free(pg.rows);
    baton_free(pg.ids);
    if (st)
        api_reply_error(r, st, &e);
    else
        api_reply_json(r, 200, o);
}

static const char *elem_state_name(uint8_t s) {
    switch (s) {
    case BATON_ELEM_ACTIVATING: return "activating";
    case BATON_ELEM_ACTIVATED: return "active";
    case BATON_ELEM_COMPLETING: return "completing";
    case BATON_ELEM_TERMINATING: return "terminating";
    default: return "unknown";
    }
}

static const char *node_id(const baton_graph *g, baton_idx n) {
    return n < g->n_nodes ? g->nodes[n].id : NULL;
}

static void task_id(char buf[48], int64_t inst, int64_t key) {
    snprintf(buf, 48, "%lld-%lld", (long long)inst, (long long)key);
}

static cJSON *wait_json(const baton_instance *inst, const baton_wait *w) {
    const baton_graph *g = baton_model_graph(baton_instance_model(inst));
    cJSON *x = cJSON_CreateObject();
    char id[48];
    cJSON_AddNumberToObject(x, "key", (double)w->key);
    cJSON_AddStringToObject(x, "kind", baton_wait_kind_name((baton_wait_kind)w->kind));
    api_add_str(x, "elementId", node_id(g, w->element));
    api_add_time(x, "created", w->created);
    switch ((baton_wait_kind)w->kind) {
    case BATON_WAIT_USER_TASK:
        task_id(id, baton_instance_id(inst), w->key);
        cJSON_AddStringToObject(x, "taskId", id);
        api_add_str(x, "assignee", w->text);
        break;
    case BATON_WAIT_JOB:
        task_id(id, baton_instance_id(inst), w->key);
        cJSON_AddStringToObject(x, "jobId", id);
        api_add_str(x, "type", w->name);
        cJSON_AddNumberToObject(x, "retries", w->retries);
        break;
    case BATON_WAIT_TIMER:
        api_add_time(x, "due", w->due);
        if (w->repeat)
            cJSON_AddNumberToObject(x, "repetitionsLeft", w->repeat);
        break;
    case BATON_WAIT_MESSAGE:
        api_add_str(x, "messageName", w->name);
        api_add_str(x, "correlationKey", w->text);
        break;
    case BATON_WAIT_SIGNAL: api_add_str(x, "signalName", w->name); break;
    default: break;
    }
    return x;
}

static void h_instance(api_req *r) {
    int64_t id;
    if (!cap_id(r, 0, "instance", &id))
        return;
    cJSON *o = api_instance_row_json(r, id);
    if (!o)
        return;
    baton_instance *inst = NULL;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_load(r->srv->engine, id, &inst, &e);
    if (st) {
        cJSON_Delete(o);
        api_reply_error(r, st, &e);
        return;
    }
    const baton_graph *g = baton_model_graph(baton_instance_model(inst));
    cJSON *els = cJSON_AddArrayToObject(o, "elementInstances");
    for (uint32_t i = 0; els && i < baton_instance_elem_count(inst); i++) {
        const baton_elem *el = baton_instance_elem_at(inst, i);
        if (el->element == BATON_NONE)
            continue; /* the process itself */
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "key", (double)el->key);
        api_add_str(x, "elementId", node_id(g, el->element));
        cJSON_AddStringToObject(x, "elementType",
                                baton_node_kind_xml((baton_node_kind)g->nodes[el->element].kind));
        cJSON_AddStringToObject(x, "state", elem_state_name(el->state));
        if (el->parent)
            cJSON_AddNumberToObject(x, "scopeKey", (double)el->parent);
        cJSON_AddItemToArray(els, x);
    }
    cJSON *waits = cJSON_AddArrayToObject(o, "waits");
    for (uint32_t i = 0; waits && i < baton_instance_wait_count(inst); i++)
        cJSON_AddItemToArray(waits, wait_json(inst, baton_instance_wait_at(inst, i)));
    cJSON *incs = cJSON_AddArrayToObject(o, "incidentDetails");
    for (uint32_t i = 0; incs && i < baton_instance_incident_count(inst); i++) {
        const baton_incident *in = baton_instance_incident_at(inst, i);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "key", (double)in->key);
        api_add_str(x, "elementId", node_id(g, in->element));
        api_add_str(x, "kind", in->kind);
        api_add_str(x, "message", in->message);
        api_add_time(x, "created", in->at);
        cJSON_AddItemToArray(incs, x);
    }
    const cJSON *vars = baton_instance_root_vars(inst);
    cJSON_AddItemToObject(o, "variables", vars ? cJSON_Duplicate(vars, 1) : cJSON_CreateObject());
    baton_instance_free(inst);
    api_reply_json(r, 200, o);
}

/* Apply one input to an instance; answers errors itself. */
static bool apply(api_req *r, int64_t id, const baton_input *in) {
    baton_error e;
    baton_error_clear(&e);
    baton_status st;
    API_TIMED(r, st, e, baton_engine_apply(r->srv->engine, id, in, &e));
    if (st == BATON_NOTFOUND && !e.message[0])
        baton_error_set(&e, BATON_NOTFOUND, "no instance %lld", (long long)id);
    if (st) {
        reply_engine_error(r, st, &e);
        return false;
    }
    return true;
}

static void h_cancel(api_req *r) {
    int64_t id;
    if (!cap_id(r, 0, "instance", &id))
        return;
    baton_input in = {0};
    in.kind = BATON_IN_CANCEL;
    if (!apply(r, id, &in))
        return;
    cJSON *o = api_instance_row_json(r, id);
    if (o)
        api_reply_json(r, 200, o);
}

static void reply_variables(api_req *r, int64_t id) {
    baton_instance *inst = NULL;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_load(r->srv->engine, id, &inst, &e);
    if (st == BATON_NOTFOUND) {
        api_reply_errorf(r, BATON_NOTFOUND, "no instance %lld", (long long)id);
        return;
    }
    if (st) {
        api_reply_error(r, st, &e);
        return;
    }
    const cJSON *vars = baton_instance_root_vars(inst);
    cJSON *o = vars ? cJSON_Duplicate(vars, 1) : cJSON_CreateObject();
    baton_instance_free(inst);
    api_reply_json(r, 200, o);
}

static void h_variables(api_req *r) {
    int64_t id;
    if (cap_id(r, 0, "instance", &id))
        reply_variables(r, id);
}

static void set_vars(api_req *r, int64_t id, const cJSON *vars) {
    baton_input in = {0};
    in.kind = BATON_IN_SET_VARIABLES;
    in.variables = vars;
    if (apply(r, id, &in))
        reply_variables(r, id);
}

static void h_patch_variables(api_req *r) {
    int64_t id;
    cJSON *body = NULL;
    if (!cap_id(r, 0, "instance", &id) || !api_json_body(r, false, &body))
        return;
    if (!cJSON_IsObject(body))
        api_reply_errorf(r, BATON_INVALID, "the body must be a JSON object of variables");
    else
        set_vars(r, id, body);
    cJSON_Delete(body);
}

static void h_put_variable(api_req *r) {
    int64_t id;
    cJSON *body = NULL;
    if (!cap_id(r, 0, "instance", &id) || !api_json_body(r, false, &body))
        return;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToObject(o, r->cap[1], body)) {
        cJSON_Delete(o);
        cJSON_Delete(body);
        api_reply_errorf(r, BATON_NOMEM, "out of memory");
        return;
    }
    set_vars(r, id, o);
    cJSON_Delete(o);
}

typedef struct hist_page {
    cJSON *items;
    uint64_t last;
    uint32_t n;
    bool bad;
} hist_page;

static int hist_item(void *cookie, const char *json) {
    hist_page *h = cookie;
    cJSON *j = cJSON_Parse(json);
    if (!j) {
        h->bad = true;
        return 1;
    }
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "at");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    if (cJSON_IsNumber(at)) {
        char b[32];
        cJSON_AddStringToObject(j, "time", api_time((int64_t)at->valuedouble, b));
    }
    if (cJSON_IsNumber(seq))
        h->last = (uint64_t)seq->valuedouble;
    cJSON_AddItemToArray(h->items, j);
    h->n++;
    return 0;
}

static void h_history(api_req *r) {
    int64_t id, after, limit;
    if (!cap_id(r, 0, "instance", &id) ||
        !api_query_int(r, "limit", 1, LIST_MAX, LIST_DEFAULT, &limit))
        return;
    const char *cursor = api_query(r, "cursor");
    after = 0;
    if (cursor && !api_parse_i64(cursor, &after)) {
        api_reply_errorf(r, BATON_INVALID, "cursor '%s' is not one this API gave out", cursor);
        return;
    }
    cJSON *row = api_instance_row_json(r, id);
    if (!row)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "instance", row);
    hist_page h = {0};
    h.items = cJSON_AddArrayToObject(o, "items");
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_history(r->srv->engine, id, (uint64_t)after, (uint32_t)limit + 1,
                                           hist_item, &h, &e);
    if (!st && h.bad)
        st = baton_error_set(&e, BATON_STORE, "a stored history record is not JSON");
    if (st) {
        cJSON_Delete(o);
        api_reply_error(r, st, &e);
        return;
    }
    if (h.n > (uint32_t)limit) {
        cJSON_DeleteItemFromArray(h.items, (int)limit);
        char c[24];
        cJSON *lastj = cJSON_GetArrayItem(h.items, (int)limit - 1);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(lastj, "seq");
        snprintf(c, sizeof c, "%llu", (unsigned long long)(seq ? seq->valuedouble : 0));
        cJSON_AddStringToObject(o, "nextCursor", c);
    } else {
        cJSON_AddNullToObject(o, "nextCursor");
    }
    api_reply_json(r, 200, o);
}

static void h_resolve(api_req *r) {
    static const char *const allowed[] = {"retries", NULL};
    int64_t id, key, retries = 0;
    cJSON *body = NULL;
    if (!cap_id(r, 0, "instance", &id) || !cap_id(r, 1, "incident", &key) ||
        !api_json_body(r, true, &body))
        return;
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(body, "retries");
    if (body && !api_known_fields(r, body, allowed))
        goto done;
    if (rv && !cJSON_IsNull(rv)) {
        if (!cJSON_IsNumber(rv) || rv->valuedouble < 1 || rv->valuedouble > 1000000) {
            api_reply_errorf(r, BATON_INVALID, "field 'retries' must be 1 to 1000000");
            goto done;
        }
        retries = (int64_t)rv->valuedouble;
    }
    api_resolve_incident(r, id, key, (int32_t)retries);
done:
    cJSON_Delete(body);
}

/* ---- messages and signals ---------------------------------------------------------------- */

static void h_message(api_req *r) {
    static const char *const allowed[] = {"name",       "correlationKey", "variables", "messageId",
                                          "timeToLive", "instanceId",     NULL};
    cJSON *body = NULL;
    if (!api_json_body(r, false, &body))
        return;
    const char *name = NULL, *mid = NULL, *corr = NULL;
    const cJSON *vars = NULL;
    char corr_buf[64];
    int64_t ttl = 3600000, only = 0;
    if (!api_known_fields(r, body, allowed) || !api_field_string(r, body, "name", true, &name) ||
        !api_field_string(r, body, "messageId", false, &mid) ||
        !api_field_object(r, body, "variables", &vars))
        goto done;
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(body, "correlationKey");
    if (cJSON_IsNumber(ck)) {
        /* numbers correlate as their text, as FEEL's string() prints integers */
        double v = ck->valuedouble;
        if (v == (double)(int64_t)v)
            snprintf(corr_buf, sizeof corr_buf, "%lld", (long long)v);
        else
            snprintf(corr_buf, sizeof corr_buf, "%.17g", v);
        corr = corr_buf;
    } else if (ck && !cJSON_IsNull(ck) &&
               !api_field_string(r, body, "correlationKey", false, &corr)) {
        goto done;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "timeToLive");
    if (cJSON_IsNumber(t)) {
        if (t->valuedouble < 0 || t->valuedouble > 3.2e11) {
            api_reply_errorf(r, BATON_INVALID, "timeToLive must be 0 to about ten years (ms)");
            goto done;
        }
        ttl = (int64_t)t->valuedouble;
    } else if (cJSON_IsString(t)) {
        baton_duration d;
        baton_error e;
        baton_error_clear(&e);
        if (baton_iso_parse_duration(t->valuestring, &d, &e) || d.ms < 0 || d.months < 0 ||
            d.months > 120) {
            api_reply_errorf(r, BATON_INVALID, "timeToLive: %s",
                             e.message[0] ? e.message : "must not be negative or over 10 years");
            goto done;
        }
        ttl = d.ms + (int64_t)d.months * 30 * 86400000LL;
    } else if (t && !cJSON_IsNull(t)) {
        api_reply_errorf(r, BATON_INVALID,
                         "timeToLive must be milliseconds or an ISO 8601 "
                         "duration");
        goto done;
    }
    const cJSON *oi = cJSON_GetObjectItemCaseSensitive(body, "instanceId");
    if (oi && !cJSON_IsNull(oi)) {
        if (!cJSON_IsNumber(oi) || oi->valuedouble < 1 || oi->valuedouble > 9e15) {
            api_reply_errorf(r, BATON_INVALID, "instanceId must be an instance id");
            goto done;
        }
        only = (int64_t)oi->valuedouble;
    }
    baton_correlation c = {0, 0};
    baton_error e;
    baton_error_clear(&e);
    baton_status st;
    API_TIMED(r, st, e,
              baton_engine_correlate(r->srv->engine, name, corr, vars, mid, ttl, only, &c, &e));
    if (st) {
        reply_engine_error(r, st, &e);
        goto done;
    }
    if (c.kind == 0) {
        api_reply_errorf(r, BATON_NOTFOUND,
                         "no instance waits for message '%s'%s%s%s and it was "
                         "not buffered (timeToLive 0%s)",
                         name, corr ? " with key '" : "", corr ? corr : "", corr ? "'" : "",
                         only ? ", or instanceId given" : "");
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "result",
                            c.kind == 1   ? "delivered"
                            : c.kind == 2 ? "started"
                                          : "buffered");
    if (c.instance)
        cJSON_AddNumberToObject(o, "instanceId", (double)c.instance);
    else
        cJSON_AddNullToObject(o, "instanceId");
    api_add_str(o, "messageId", mid);
    api_reply_json(r, c.kind == 3 ? 202 : 200, o);
done:
    cJSON_Delete(body);
}

static void h_signal(api_req *r) {
    static const char *const allowed[] = {"name", "variables", NULL};
    cJSON *body = NULL;
    if (!api_json_body(r, false, &body))
        return;
    const char *name = NULL;
    const cJSON *vars = NULL;
    if (api_known_fields(r, body, allowed) && api_field_string(r, body, "name", true, &name) &&
        api_field_object(r, body, "variables", &vars)) {
        uint32_t n = 0;
        baton_error e;
        baton_error_clear(&e);
        baton_status st;
        API_TIMED(r, st, e, baton_engine_signal(r->srv->engine, name, vars, &n, &e));
        if (st) {
            reply_engine_error(r, st, &e);
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "delivered", n);
            api_reply_json(r, 200, o);
        }
    }
    cJSON_Delete(body);
}

/* ---- user tasks -------------------------------------------------------------------------- */

/* One page of user tasks: the store filters, orders by (instance, key) and stops at the limit. */
typedef struct task_page {
    baton_task_filter f; /* f.limit: rows wanted (the page size + 1 for a listing) */
    cJSON **rows;
    int64_t (*keys)[2];
    uint32_t n;
    bool nomem;
} task_page;

static cJSON *task_json(const baton_task_row *t, const cJSON *details) {
    cJSON *o = cJSON_CreateObject();
    char id[48];
    task_id(id, t->instance, t->key);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "instanceId", (double)t->instance);
    cJSON_AddNumberToObject(o, "key", (double)t->key);
    api_add_str(o, "elementId", t->element);
    api_add_str(o, "name", t->name);
    api_add_str(o, "processId", t->process_id);
    api_add_str(o, "assignee", t->assignee);
    static const char *const keys[] = {"candidateGroups", "candidateUsers", "dueDate",
                                       "followUpDate", "formKey"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(details, keys[i]);
        if (v)
            cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, 1));
        else if (i < 2)
            cJSON_AddItemToObject(o, keys[i], cJSON_CreateArray());
        else
            cJSON_AddNullToObject(o, keys[i]);
    }
    api_add_time(o, "created", t->created);
    return o;
}

static int page_task(void *cookie, const void *row) {
    task_page *p = cookie;
    const baton_task_row *t = row;
    if (p->n == p->f.limit)
        return 1;
    cJSON *details = t->details ? cJSON_Parse(t->details) : NULL;
    cJSON *j = task_json(t, details);
    cJSON_Delete(details);
    if (!j) {
        p->nomem = true;
        return 1;
    }
    p->keys[p->n][0] = t->instance;
    p->keys[p->n][1] = t->key;
    p->rows[p->n++] = j;
    return 0;
}

static baton_status list_tasks(void *cookie, baton_store *s, baton_error *err) {
    task_page *p = cookie;
    return s->ops->task_query(s, &p->f, page_task, cookie, err);
}

/* `one`: the task (instance, after_key + 1) or 404; else a page of `limit` (f.limit - 1). */
static void run_task_query(api_req *r, task_page *p, bool one) {
    baton_task_filter *f = &p->f;
    uint32_t limit = one ? 1 : f->limit - 1;
    p->rows = baton_calloc(f->limit, sizeof *p->rows);
    p->keys = baton_calloc(f->limit, sizeof *p->keys);
    baton_error e;
    baton_error_clear(&e);
    baton_status st =
        p->rows && p->keys ? baton_engine_query(r->srv->engine, list_tasks, p, &e) : BATON_NOMEM;
    if (!st && p->nomem)
        st = BATON_NOMEM;
    cJSON *o = NULL;
    if (!st && one) {
        if (p->n && p->keys[0][0] == f->instance && p->keys[0][1] == f->after_key + 1) {
            o = p->rows[0];
            p->rows[0] = NULL;
        }
    } else if (!st) {
        o = cJSON_CreateObject();
        cJSON *items = cJSON_AddArrayToObject(o, "items");
        uint32_t shown = p->n > limit ? limit : p->n;
        for (uint32_t i = 0; i < shown; i++) {
            cJSON_AddItemToArray(items, p->rows[i]);
            p->rows[i] = NULL;
        }
        if (p->n > limit) {
            char c[48];
            task_id(c, p->keys[limit - 1][0], p->keys[limit - 1][1]);
            cJSON_AddStringToObject(o, "nextCursor", c);
        } else {
            cJSON_AddNullToObject(o, "nextCursor");
        }
    }
    for (uint32_t i = 0; p->rows && i < p->n; i++)
        cJSON_Delete(p->rows[i]);
    baton_free(p->rows);
    baton_free(p->keys);
    if (st)
        api_reply_error(r, st, &e);
    else if (!o)
        api_reply_errorf(r, BATON_NOTFOUND, "no open user task '%s'", r->cap[0]);
    else
        api_reply_json(r, 200, o);
}

static void h_tasks(api_req *r) {
    task_page p = {0};
    baton_task_filter *f = &p.f;
    int64_t limit;
    int assigned = -1;
    if (!api_query_int(r, "limit", 1, LIST_MAX, LIST_DEFAULT, &limit) ||
        !api_query_int(r, "instanceId", 0, INT64_MAX / 2, 0, &f->instance) ||
        !query_bool(r, "assigned", &assigned))
        return;
    const char *cursor = api_query(r, "cursor");
    if (cursor) {
        const char *dash = strchr(cursor, '-');
        char a[24];
        if (!dash || (size_t)(dash - cursor) >= sizeof a) {
            api_reply_errorf(r, BATON_INVALID, "cursor '%s' is not one this API gave out", cursor);
            return;
        }
        memcpy(a, cursor, (size_t)(dash - cursor));
        a[dash - cursor] = '\0';
        if (!api_parse_i64(a, &f->after_instance) || !api_parse_i64(dash + 1, &f->after_key)) {
            api_reply_errorf(r, BATON_INVALID, "cursor '%s' is not one this API gave out", cursor);
            return;
        }
    }
    f->assigned = assigned < 0 ? 0 : assigned ? 1 : -1;
    f->assignee = api_query(r, "assignee");
    f->candidate_group = api_query(r, "candidateGroup");
    f->candidate_user = api_query(r, "candidateUser");
    f->process_id = api_query(r, "processId");
    f->limit = (uint32_t)limit + 1;
    run_task_query(r, &p, false);
}

static void h_task(api_req *r) {
    task_page p = {0};
    int64_t inst, key;
    if (!cap_task(r, 0, &inst, &key))
        return;
    p.f.instance = inst;
    p.f.after_instance = inst;
    p.f.after_key = key - 1;
    p.f.limit = 1;
    run_task_query(r, &p, true);
}

/*
 * The user task's wait in the instance's current state: answers 404 when
 * the instance or the task is gone (or the key is not a user task).
 */
static bool open_task(api_req *r, int64_t inst, int64_t key, char **assignee_out) {
    baton_instance *in = NULL;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_load(r->srv->engine, inst, &in, &e);
    if (st == BATON_NOTFOUND) {
        api_reply_errorf(r, BATON_NOTFOUND, "no user task '%s': instance %lld does not exist",
                         r->cap[0], (long long)inst);
        return false;
    }
    if (st) {
        api_reply_error(r, st, &e);
        return false;
    }
    const baton_wait *w = baton_instance_wait(in, key);
    bool ok = w && w->kind == BATON_WAIT_USER_TASK;
    if (ok && assignee_out)
        *assignee_out = w->text ? baton_strdup(w->text) : NULL;
    baton_instance_free(in);
    if (!ok)
        api_reply_errorf(r, BATON_NOTFOUND,
                         "no open user task '%s' (completed, cancelled, or "
                         "never existed)",
                         r->cap[0]);
    return ok;
}

static void reply_task(api_req *r, int64_t inst, int64_t key) {
    task_page p = {0};
    p.f.instance = inst;
    p.f.after_instance = inst;
    p.f.after_key = key - 1;
    p.f.limit = 1;
    run_task_query(r, &p, true);
}

static void h_claim(api_req *r) {
    static const char *const allowed[] = {"assignee", NULL};
    int64_t inst, key;
    cJSON *body = NULL;
    if (!cap_task(r, 0, &inst, &key) || !api_json_body(r, false, &body))
        return;
    const char *who = NULL;
    char *current = NULL;
    if (!api_known_fields(r, body, allowed) || !api_field_string(r, body, "assignee", true, &who) ||
        !open_task(r, inst, key, &current))
        goto done;
    if (current && strcmp(current, who) != 0) {
        api_reply_errorf(r, BATON_CONFLICT, "user task '%s' is claimed by '%s': unclaim it first",
                         r->cap[0], current);
        goto done;
    }
    baton_input in = {0};
    in.kind = BATON_IN_ASSIGN;
    in.key = key;
    in.text = who;
    in.claim = true; /* the engine re-checks inside the transaction: no two claims both win */
    if (apply(r, inst, &in))
        reply_task(r, inst, key);
done:
    baton_free(current);
    cJSON_Delete(body);
}

static void h_unclaim(api_req *r) {
    int64_t inst, key;
    if (!cap_task(r, 0, &inst, &key) || !open_task(r, inst, key, NULL))
        return;
    baton_input in = {0};
    in.kind = BATON_IN_ASSIGN;
    in.key = key;
    if (apply(r, inst, &in))
        reply_task(r, inst, key);
}

static void h_complete(api_req *r) {
    static const char *const allowed[] = {"variables", NULL};
    int64_t inst, key;
    cJSON *body = NULL;
    if (!cap_task(r, 0, &inst, &key) || !api_json_body(r, true, &body))
        return;
    const cJSON *vars = NULL;
    if ((body &&
         (!api_known_fields(r, body, allowed) || !api_field_object(r, body, "variables", &vars))) ||
        !open_task(r, inst, key, NULL))
        goto done;
    baton_input in = {0};
    in.kind = BATON_IN_COMPLETE;
    in.key = key;
    in.variables = vars;
    if (apply(r, inst, &in)) {
        cJSON *o = api_instance_row_json(r, inst);
        if (o) {
            cJSON *wrap = cJSON_CreateObject();
            cJSON_AddStringToObject(wrap, "completed", r->cap[0]);
            cJSON_AddItemToObject(wrap, "instance", o);
            api_reply_json(r, 200, wrap);
        }
    }
done:
    cJSON_Delete(body);
}

/* ---- the table ----------------------------------------------------------------------------- */

const api_route api_routes[] = {
    {"GET", "/health", h_health, API_BODY_NONE},
    {"GET", "/metrics", h_metrics, API_BODY_NONE},
    {"POST", "/v1/deployments", h_deploy, API_BODY_DEPLOY},
    {"GET", "/v1/deployments", h_deployments, API_BODY_NONE},
    {"GET", "/v1/deployments/{deploymentId}", h_deployment, API_BODY_NONE},
    {"GET", "/v1/deployments/{deploymentId}/xml", h_deployment_xml, API_BODY_NONE},
    {"GET", "/v1/definitions", h_definitions, API_BODY_NONE},
    {"GET", "/v1/definitions/{processId}", h_definition, API_BODY_NONE},
    {"POST", "/v1/definitions/{processId}/instances", h_start, API_BODY_JSON},
    {"GET", "/v1/instances", h_instances, API_BODY_NONE},
    {"GET", "/v1/instances/{instanceId}", h_instance, API_BODY_NONE},
    {"POST", "/v1/instances/{instanceId}/cancel", h_cancel, API_BODY_JSON},
    {"GET", "/v1/instances/{instanceId}/variables", h_variables, API_BODY_NONE},
    {"PATCH", "/v1/instances/{instanceId}/variables", h_patch_variables, API_BODY_JSON},
    {"PUT", "/v1/instances/{instanceId}/variables/{name}", h_put_variable, API_BODY_JSON},
    {"GET", "/v1/instances/{instanceId}/history", h_history, API_BODY_NONE},
    {"POST", "/v1/instances/{instanceId}/incidents/{incidentKey}/resolve", h_resolve,
     API_BODY_JSON},
    {"POST", "/v1/messages", h_message, API_BODY_JSON},
    {"POST", "/v1/signals", h_signal, API_BODY_JSON},
    {"GET", "/v1/user-tasks", h_tasks, API_BODY_NONE},
    {"GET", "/v1/user-tasks/{taskId}", h_task, API_BODY_NONE},
    {"POST", "/v1/user-tasks/{taskId}/claim", h_claim, API_BODY_JSON},
    {"POST", "/v1/user-tasks/{taskId}/unclaim", h_unclaim, API_BODY_JSON},
    {"POST", "/v1/user-tasks/{taskId}/complete", h_complete, API_BODY_JSON},
    {"POST", "/v1/jobs/activate", api_h_jobs_activate, API_BODY_JSON},
    {"GET", "/v1/jobs", api_h_jobs, API_BODY_NONE},
    {"GET", "/v1/jobs/{jobId}", api_h_job, API_BODY_NONE},
    {"POST", "/v1/jobs/{jobId}/complete", api_h_job_complete, API_BODY_JSON},
    {"POST", "/v1/jobs/{jobId}/fail", api_h_job_fail, API_BODY_JSON},
    {"POST", "/v1/jobs/{jobId}/error", api_h_job_error, API_BODY_JSON},
    {"POST", "/v1/jobs/{jobId}/lock", api_h_job_lock, API_BODY_JSON},
    {"POST", "/v1/jobs/{jobId}/unlock", api_h_job_unlock, API_BODY_JSON},
    {"GET", "/v1/incidents", api_h_incidents, API_BODY_NONE},
    {"GET", "/v1/incidents/{incidentId}", api_h_incident, API_BODY_NONE},
    {"POST", "/v1/incidents/{incidentId}/resolve", api_h_incident_resolve, API_BODY_JSON},
    /* Camunda 7's external-task worker API and what its clients call around it (c7.c) */
    {"POST", "/engine-rest/external-task/fetchAndLock", api_h_c7_fetch, API_BODY_JSON},
    {"POST", "/engine-rest/external-task/{id}/complete", api_h_c7_complete, API_BODY_JSON},
    {"POST", "/engine-rest/external-task/{id}/failure", api_h_c7_failure, API_BODY_JSON},
    {"POST", "/engine-rest/external-task/{id}/bpmnError", api_h_c7_bpmn_error, API_BODY_JSON},
    {"POST", "/engine-rest/external-task/{id}/extendLock", api_h_c7_extend_lock, API_BODY_JSON},
    {"POST", "/engine-rest/external-task/{id}/unlock", api_h_c7_unlock, API_BODY_JSON},
    {"POST", "/engine-rest/message", api_h_c7_message, API_BODY_JSON},
    {"POST", "/engine-rest/process-definition/key/{key}/start", api_h_c7_start, API_BODY_JSON},
    {"POST", "/engine-rest/deployment/create", api_h_c7_deploy, API_BODY_DEPLOY},
};
const uint32_t api_n_routes = sizeof api_routes / sizeof api_routes[0];
