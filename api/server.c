/*
 * server.c - the HTTP edge: libmicrohttpd wiring, request limits, routing,
 * request ids, logging, and the one place where a baton_status becomes an
 * HTTP answer (api_reply_error, through baton_status_http()).
 *
 * One request, as libmicrohttpd drives it:
 *
 *   uri_log()             raw URI seen: allocate api_req, give it an id
 *   access() #1           check the path, match a route (404/405), the
 *                         media type (415) and Content-Length (413); an
 *                         early answer is queued here, before any body
 *   access() #2..n        body chunks into a bounded buffer (past the
 *                         limit: dropped, answered 413 at the end)
 *   access() last         run the route's handler, queue its answer
 *   completed()           log line, metrics, free
 *
 * Paths are checked on the raw URI, before any decoding: encoded slashes,
 * NUL, backslashes, dot segments, bytes that are not UTF-8 and malformed
 * percent escapes are refused with 400, so no handler ever sees them.
 */
#include "api/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"
#include "api/body.h"
#include "common/alloc.h"
#include "common/log.h"

#define RAW_URI_MAX 8192

int64_t api_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- replies ----------------------------------------------------------------------- */

static void set_out(api_req *r, int status, const char *type, char *data, size_t len) {
    baton_free(r->out);
    r->status = status;
    r->out = data;
    r->out_len = len;
    r->out_type = type;
}

void api_reply_raw(api_req *r, int status, const char *type, const char *data, size_t len) {
    char *copy = baton_malloc(len ? len : 1);
    if (!copy) {
        set_out(r, 503, "application/json", NULL, 0);
        return;
    }
    memcpy(copy, data, len);
    set_out(r, status, type, copy, len);
}

void api_reply_json(api_req *r, int status, cJSON *body) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) {
        api_reply_errorf(r, BATON_NOMEM, "out of memory");
        return;
    }
    size_t len = strlen(text);
    char *copy = baton_malloc(len + 1);
    if (copy)
        memcpy(copy, text, len + 1);
    cJSON_free(text);
    if (!copy) {
        api_reply_errorf(r, BATON_NOMEM, "out of memory");
        return;
    }
    set_out(r, status, "application/json", copy, len);
}

static cJSON *error_object(api_req *r, baton_status st, const baton_error *err, int http) {
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    if (!e) {
        cJSON_Delete(root);
        return NULL;
    }
    char code[32];
    const char *name = baton_status_name(st);
    size_t i = 0;
    for (; name[i] && i < sizeof code - 1; i++)
        code[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    code[i] = '\0';
    cJSON_AddStringToObject(e, "code", code);
    /* 5xx: internals stay in the log */
    bool internal = http >= 500;
    const char *msg = !internal && err && err->message[0] ? err->message : baton_status_text(st);
    cJSON_AddStringToObject(e, "message", msg);
    if (!internal && err && err->where[0])
        cJSON_AddStringToObject(e, "where", err->where);
    else
        cJSON_AddNullToObject(e, "where");
    cJSON_AddStringToObject(e, "request_id", r->id);
    return root;
}

void api_reply_error(api_req *r, baton_status st, const baton_error *err) {
    if (st == BATON_OK)
        st = BATON_INTERNAL;
    int http = baton_status_http(st);
    r->err_code = st;
    snprintf(r->err_msg, sizeof r->err_msg, "%.159s",
             err && err->message[0] ? err->message : baton_status_text(st));
    if (http >= 500)
        baton_log(BATON_LOG_ERROR,
                  "request_id=%s msg=\"request failed\" status=%s error=\"%s\" "
                  "where=\"%s\"",
                  r->id, baton_status_name(st), r->err_msg, err ? err->where : "");
    cJSON *body = error_object(r, st, err, http);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    char *copy = text ? baton_strdup(text) : NULL;
    cJSON_free(text);
    set_out(r, http, "application/json", copy, copy ? strlen(copy) : 0);
}

void api_reply_errorf(api_req *r, baton_status st, const char *fmt, ...) {
    baton_error e;
    baton_error_clear(&e);
    va_list ap;
    va_start(ap, fmt);
    baton_error_setv(&e, st, fmt, ap);
    va_end(ap);
    api_reply_error(r, st, &e);
}

void api_reply_model_errors(api_req *r, const baton_error *err, const baton_diags *d) {
    baton_status st = err && err->code ? err->code : BATON_MODEL;
    int http = baton_status_http(st);
    r->err_code = st;
    snprintf(r->err_msg, sizeof r->err_msg, "%.159s", err ? err->message : "invalid model");
    cJSON *body = error_object(r, st, err, http);
    cJSON *e = body ? cJSON_GetObjectItemCaseSensitive(body, "error") : NULL;
    cJSON *list = e ? cJSON_AddArrayToObject(e, "details") : NULL;
    for (uint32_t i = 0; list && d && i < d->n; i++) {
        const baton_diag *g = &d->items[i];
        cJSON *x = cJSON_CreateObject();
        if (!x)
            break;
        cJSON_AddStringToObject(x, "severity",
                                g->severity == BATON_SEV_ERROR ? "error" : "warning");
        if (g->line)
            cJSON_AddNumberToObject(x, "line", g->line);
        else
            cJSON_AddNullToObject(x, "line");
        if (g->element)
            cJSON_AddStringToObject(x, "element", g->element);
        else
            cJSON_AddNullToObject(x, "element");
        cJSON_AddStringToObject(x, "message", g->message ? g->message : "");
        cJSON_AddItemToArray(list, x);
    }
    if (!body) {
        set_out(r, 503, "application/json", NULL, 0);
        return;
    }
    api_reply_json(r, http, body);
}

/* ---- URI checks ----------------------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decode s[0..n) into the arena. `path` refuses what could change where a
 * path points: %2F, %5C, NUL. Plus means space only in queries.
 */
static const char *decode(api_req *r, const char *s, size_t n, bool path, const char **why) {
    char *out = baton_arena_alloc(r->arena, n + 1);
    if (!out) {
        *why = "request too large";
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                *why = "malformed percent escape";
                return NULL;
            }
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
            if (c == '\0') {
                *why = "encoded NUL";
                return NULL;
            }
            if (path && (c == '/' || c == '\\')) {
                *why = "encoded slash in the path";
                return NULL;
            }
        } else if (c == '+' && !path) {
            c = ' ';
        } else if (c == '\\' || (unsigned char)c < 0x20 || c == 0x7f) {
            *why = "control character or backslash";
            return NULL;
        }
        out[k++] = c;
    }
    out[k] = '\0';
    if (!baton_body_utf8_valid(out, k, NULL)) {
        *why = "not UTF-8";
        return NULL;
    }
    return out;
}

/* Split the raw URI into decoded segments and query parameters. */
static bool parse_uri(api_req *r, const char **why) {
    const char *u = r->raw_uri;
    if (!u || u[0] != '/') {
        *why = "the request target is not an absolute path";
        return false;
    }
    const char *q = strchr(u, '?');
    size_t plen = q ? (size_t)(q - u) : strlen(u);
    if (memchr(u, '#', plen)) {
        *why = "fragment in the request target";
        return false;
    }
    size_t i = 1;
    r->n_seg = 0;
    while (i < plen) {
        size_t j = i;
        while (j < plen && u[j] != '/')
            j++;
        if (j == i) {
            *why = "empty path segment";
            return false;
        }
        if (r->n_seg == API_MAX_SEGMENTS) {
            *why = "path too long";
            return false;
        }
        const char *seg = decode(r, u + i, j - i, true, why);
        if (!seg)
            return false;
        if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
            *why = "dot segment in the path";
            return false;
        }
        r->seg[r->n_seg++] = seg;
        i = j + 1; /* a trailing slash ends the loop: ignored */
    }
    if (!q)
        return true;
    const char *p = q + 1;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n) {
            if (r->n_query == API_MAX_QUERY) {
                *why = "too many query parameters";
                return false;
            }
            const char *eq = memchr(p, '=', n);
            size_t kl = eq ? (size_t)(eq - p) : n;
            const char *k = decode(r, p, kl, false, why);
            const char *v = eq ? decode(r, eq + 1, n - kl - 1, false, why) : "";
            if (!k || !v)
                return false;
            r->query[r->n_query++] = (api_param){k, v};
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return true;
}

const char *api_query(const api_req *r, const char *key) {
    for (uint32_t i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].key, key) == 0)
            return r->query[i].value;
    return NULL;
}

/* Match the path against the table: route index, -1 none, -2 path known but not the method. */
static int match_route(api_req *r) {
    bool path_known = false;
    r->allow[0] = '\0';
    for (uint32_t i = 0; i < api_n_routes; i++) {
        const char *p = api_routes[i].pattern;
        const char *caps[4];
        uint32_t nc = 0, k = 0;
        bool ok = true;
        p++; /* leading '/' */
        while (*p && ok) {
            const char *e = strchr(p, '/');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (k >= r->n_seg) {
                ok = false;
                break;
            }
            if (p[0] == '{') {
                if (nc < 4)
                    caps[nc++] = r->seg[k];
            } else if (strlen(r->seg[k]) != n || memcmp(r->seg[k], p, n) != 0) {
                ok = false;
            }
            k++;
            p += n + (e ? 1 : 0);
        }
        if (!ok || k != r->n_seg)
            continue;
        path_known = true;
        if (strcmp(api_routes[i].method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(api_routes[i].method, "GET") == 0)) {
            memcpy(r->cap, caps, sizeof caps);
            r->n_cap = nc;
            return (int)i;
        }
        size_t al = strlen(r->allow);
        snprintf(r->allow + al, sizeof r->allow - al, "%s%s", al ? ", " : "", api_routes[i].method);
    }
    return path_known ? -2 : -1;
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------ */

static bool sane_request_id(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return n > 0 && n <= API_REQUEST_ID_MAX;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn) {
    baton_server *s = cls;
    api_req *r = baton_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->route = -1;
    r->t0_us = api_now_us();
    r->arena = baton_arena_new(4096, 1 << 20);
    size_t n = uri ? strnlen(uri, RAW_URI_MAX + 1) : 0;
    r->raw_uri = n <= RAW_URI_MAX ? baton_strndup(uri ? uri : "", n) : NULL;
    uint64_t seq = atomic_fetch_add(&s->next_id, 1) + 1;
    snprintf(r->id, sizeof r->id, "%08x-%llu", s->id_prefix, (unsigned long long)seq);
    atomic_fetch_add(&s->in_flight, 1);
    return r;
}

static void free_response(void *p) {
    baton_free(p);
}

static enum MHD_Result queue(api_req *r) {
    r->state = 2;
    if (!r->out) {
        /* out of memory while building the answer: a bodiless 503 */
        r->status = r->status ? r->status : 503;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
        r->out_len, r->out ? r->out : (void *)"", r->out ? free_response : NULL);
    if (!resp)
        return MHD_NO;
    r->out = NULL;        /* the response owns it now */
    if (r->status != 204) /* no body: a JSON type would make clients parse nothing */
        MHD_add_response_header(resp, "Content-Type",
                                r->out_type ? r->out_type : "application/json");
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    if (r->status == 405 && r->allow[0])
        MHD_add_response_header(resp, "Allow", r->allow);
    if (r->state == 2 && (r->status == 413 || r->too_large))
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static bool media_is(const char *ct, const char *type) {
    size_t n = strlen(type);
    return ct && strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* First call: everything that can be decided from the request line and headers. */
static bool check_head(api_req *r) {
    const char *why = NULL;
    if (!r->raw_uri) {
        api_reply_errorf(r, BATON_LIMIT, "request target longer than %d bytes", RAW_URI_MAX);
        r->status = 414;
        return false;
    }
    if (!r->arena || !parse_uri(r, &why)) {
        if (!r->arena)
            api_reply_errorf(r, BATON_NOMEM, "out of memory");
        else
            api_reply_errorf(r, BATON_INVALID, "bad request target: %s", why);
        return false;
    }
    r->route = match_route(r);
    if (r->route == -1) {
        api_reply_errorf(r, BATON_NOTFOUND, "no route for %s %.200s", r->method, r->raw_uri);
        return false;
    }
    if (r->route == -2) {
        r->route = -1;
        api_reply_errorf(r, BATON_INVALID, "method %s is not allowed here (allowed: %s)", r->method,
                         r->allow);
        r->status = 405;
        return false;
    }
    const api_route *rt = &api_routes[r->route];
    r->content_type = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    bool has_body = (cl && strtoull(cl, NULL, 10) > 0) || te;
    r->body_limit = rt->body == API_BODY_DEPLOY ? r->srv->o.max_deploy_body : r->srv->o.max_body;
    if (has_body && rt->body == API_BODY_JSON && !media_is(r->content_type, "application/json")) {
        api_reply_errorf(r, BATON_MEDIA, "send JSON with Content-Type: application/json (got %s)",
                         r->content_type ? r->content_type : "none");
        return false;
    }
    if (has_body && rt->body == API_BODY_DEPLOY &&
        !(media_is(r->content_type, "application/xml") || media_is(r->content_type, "text/xml") ||
          media_is(r->content_type, "application/bpmn+xml") ||
          media_is(r->content_type, "application/octet-stream") ||
          media_is(r->content_type, "multipart/form-data"))) {
        api_reply_errorf(r, BATON_MEDIA,
                         "send BPMN XML (application/xml) or multipart/form-data "
                         "(got %s)",
                         r->content_type ? r->content_type : "none");
        return false;
    }
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end || n > r->body_limit) {
            api_reply_errorf(r, BATON_LIMIT, "request body larger than %zu bytes", r->body_limit);
            r->too_large = true;
            return false;
        }
    }
    baton_buf_init(&r->body, r->body_limit);
    return true;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
    (void)cls;
    (void)url;
    (void)version;
    api_req *r = *con_cls;
    if (!r)
        return MHD_NO; /* out of memory in uri_log: drop the connection */
    r->conn = conn;
    if (r->state == 0) {
        r->method = method;
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && sane_request_id(rid))
            snprintf(r->id, sizeof r->id, "%s", rid);
        if (!check_head(r))
            return queue(r);
        r->state = 1;
        return MHD_YES;
    }
    if (r->state == 2) {
        /* answered early; discard what the client still sends */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_large && baton_buf_append(&r->body, upload_data, *upload_data_size) != BATON_OK)
            r->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large) {
        api_reply_errorf(r, BATON_LIMIT, "request body larger than %zu bytes", r->body_limit);
        return queue(r);
    }
    r->lp_rounds = 0;
    api_routes[r->route].fn(r);
    if (r->parked)
        return MHD_YES; /* suspended: the handler runs again when woken */
    if (!r->status)
        api_reply_errorf(r, BATON_INTERNAL, "handler gave no answer");
    if (strcmp(method, "HEAD") == 0) {
        baton_free(r->out);
        r->out = NULL;
        r->out_len = 0;
    }
    return queue(r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)conn;
    baton_server *s = cls;
    api_req *r = *con_cls;
    if (!r)
        return;
    int64_t us = api_now_us() - r->t0_us;
    uint32_t route = r->route >= 0 ? (uint32_t)r->route : api_n_routes;
    if (r->status)
        baton_metrics_http(s->metrics, route, r->status, us);
    baton_log_level lvl = r->status >= 500 || !r->status ? BATON_LOG_WARN : BATON_LOG_INFO;
    if (baton_log_enabled(lvl)) {
        char path[256];
        snprintf(path, sizeof path, "%s", r->raw_uri ? r->raw_uri : "?");
        for (char *p = path; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
                *p = '?';
        if (r->status >= 400)
            baton_log(lvl,
                      "request_id=%s method=%s path=\"%s\" route=\"%s\" status=%d us=%lld "
                      "error=%s msg=\"%s\"",
                      r->id, r->method ? r->method : "?", path,
                      r->route >= 0 ? s->route_names[r->route] : "-", r->status, (long long)us,
                      baton_status_name(r->err_code), r->err_msg);
        else
            baton_log(lvl, "request_id=%s method=%s path=\"%s\" route=\"%s\" status=%d us=%lld%s",
                      r->id, r->method ? r->method : "?", path,
                      r->route >= 0 ? s->route_names[r->route] : "-", r->status, (long long)us,
                      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=true");
    }
    baton_buf_fini(&r->body);
    baton_free(r->out);
    baton_free(r->raw_uri);
    baton_arena_free(r->arena);
    baton_free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

BATON_PRINTF(2, 0) static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    if (!baton_log_enabled(BATON_LOG_WARN))
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    for (char *p = line; *p; p++)
        if (*p == '"')
            *p = '\'';
    baton_log(BATON_LOG_WARN, "msg=\"http: %s\"", line);
}

/* ---- start/stop ------------------------------------------------------------------------ */

uint32_t baton_server_route_count(void) {
    return api_n_routes;
}

void baton_server_route(uint32_t i, const char **method_out, const char **pattern_out) {
    *method_out = i < api_n_routes ? api_routes[i].method : NULL;
    *pattern_out = i < api_n_routes ? api_routes[i].pattern : NULL;
}

void baton_server_on_record(void *server, int64_t instance, const baton_model *m,
                            const baton_record *r) {
    baton_server *s = server;
    baton_metrics_record(s->metrics, instance, m, r);
}

static void free_names(baton_server *s) {
    if (!s->route_names)
        return;
    for (uint32_t i = 0; i < api_n_routes; i++)
        baton_free((void *)s->route_names[i]);
    baton_free(s->route_names);
    s->route_names = NULL;
}

baton_status baton_server_start(baton_engine *engine, const baton_server_opts *opts,
                                baton_server **out, baton_error *err) {
    baton_server *s = baton_calloc(1, sizeof *s);
    if (!s)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    baton_status st = BATON_OK;
    s->engine = engine;
    if (opts)
        s->o = *opts;
    if (!s->o.host || !s->o.host[0])
        s->o.host = "127.0.0.1";
    if (!s->o.threads)
        s->o.threads = 4;
    if (!s->o.max_body)
        s->o.max_body = (size_t)1 << 20;
    if (!s->o.max_deploy_body)
        s->o.max_deploy_body = (size_t)16 << 20;
    if (!s->o.max_json_depth)
        s->o.max_json_depth = BATON_BODY_DEFAULT_JSON_DEPTH;
    if (!s->o.max_header_bytes)
        s->o.max_header_bytes = (size_t)32 << 10;
    if (!s->o.max_connections)
        s->o.max_connections = 512;
    if (!s->o.connection_timeout_s)
        s->o.connection_timeout_s = 60;
    if (!s->o.drain_timeout_ms)
        s->o.drain_timeout_ms = 10000;
    if (!s->o.job_poll_recheck_ms)
        s->o.job_poll_recheck_ms = 1000;
    if (getrandom(&s->id_prefix, sizeof s->id_prefix, 0) != sizeof s->id_prefix)
        s->id_prefix = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    s->route_names = baton_calloc(api_n_routes, sizeof *s->route_names);
    if (!s->route_names) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < api_n_routes; i++) {
        size_t n = strlen(api_routes[i].method) + strlen(api_routes[i].pattern) + 2;
        char *name = baton_malloc(n);
        if (!name) {
            st = baton_error_set(err, BATON_NOMEM, "out of memory");
            goto fail;
        }
        snprintf(name, n, "%s %s", api_routes[i].method, api_routes[i].pattern);
        s->route_names[i] = name;
    }
    s->metrics = baton_metrics_new(s->route_names, api_n_routes);
    if (!s->metrics) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto fail;
    }

    /* resolve the listen address (numeric or a name such as localhost) */
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)s->o.port);
    int gai = getaddrinfo(s->o.host, port, &hints, &ai);
    if (gai || !ai) {
        st = baton_error_set(err, BATON_INVALID, "cannot resolve listen address '%s': %s",
                             s->o.host, gai_strerror(gai));
        if (ai)
            freeaddrinfo(ai);
        goto fail;
    }
    if ((st = api_lp_start(s, err)))
        goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_cb, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->o.connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)s->o.max_header_bytes, MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        st = baton_error_set(err, BATON_IO,
                             "cannot listen on %s:%u (address in use, or not "
                             "permitted)",
                             s->o.host, (unsigned)s->o.port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    *out = s;
    return BATON_OK;
fail:
    api_lp_stop(s);
    baton_metrics_free(s->metrics);
    free_names(s);
    baton_free(s);
    return st;
}

uint16_t baton_server_port(const baton_server *s) {
    return s->port;
}

void baton_server_quiesce(baton_server *s) {
    if (!s || s->quiesced)
        return;
    s->quiesced = true;
    /* parked job activations answer now (with what they have) and no new one parks */
    api_lp_shutdown(s);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    /* requests already read are answered: wait for them, bounded */
    for (unsigned waited = 0; atomic_load(&s->in_flight) > 0 && waited < s->o.drain_timeout_ms;
         waited += 5) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

void baton_server_stop(baton_server *s) {
    if (!s)
        return;
    baton_server_quiesce(s);
    api_lp_shutdown(s);
    MHD_stop_daemon(s->daemon);
    api_lp_stop(s);
    baton_metrics_free(s->metrics);
    free_names(s);
    baton_free(s);
}
