/*
 * api_int.h - what the files of api/ share: one request's state, the route
 * table and the reply helpers. Never included from another folder.
 */
#ifndef BATON_API_INT_H
#define BATON_API_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "api/metrics.h"
#include "api/server.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/diag.h"

#define API_MAX_SEGMENTS 8
#define API_MAX_QUERY 24
#define API_REQUEST_ID_MAX 64

typedef struct api_req api_req;
typedef void (*api_handler)(api_req *r);

/* What body a route takes. */
enum { API_BODY_NONE = 0, API_BODY_JSON, API_BODY_DEPLOY };

typedef struct api_route {
    const char *method;
    const char *pattern;   /* "/v1/instances/{id}/history": {x} matches one segment */
    api_handler fn;
    uint8_t body;          /* API_BODY_* */
} api_route;

extern const api_route api_routes[];
extern const uint32_t api_n_routes;

struct baton_server {
    baton_engine *engine;
    baton_server_opts o;
    struct MHD_Daemon *daemon;
    uint16_t port;
    baton_metrics *metrics;
    const char **route_names;  /* "METHOD pattern" per route, for metrics */
    uint32_t id_prefix;        /* random per process: request ids differ across restarts */
    _Atomic uint64_t next_id;
    _Atomic int64_t in_flight;
    _Atomic int active_counted;
    bool quiesced;
};

typedef struct api_param {
    const char *key, *value;
} api_param;

struct api_req {
    baton_server *srv;
    struct MHD_Connection *conn;
    char id[API_REQUEST_ID_MAX + 1];
    int64_t t0_us;
    char *raw_uri;            /* as received, bounded copy */
    const char *method;
    int state;                /* 0 new, 1 reading body, 2 answered */
    int route;                /* index into api_routes, -1 none */
    baton_arena *arena;       /* everything of this request */
    const char *seg[API_MAX_SEGMENTS]; /* decoded path segments */
    uint32_t n_seg;
    const char *cap[4];       /* path captures ({x}) in order */
    uint32_t n_cap;
    api_param query[API_MAX_QUERY];
    uint32_t n_query;
    const char *content_type;
    baton_buf body;
    size_t body_limit;
    bool too_large;
    /* the answer */
    int status;
    char *out;                /* body (baton_malloc'd), handed to libmicrohttpd */
    size_t out_len;
    const char *out_type;
    char location[128];
    char allow[64];
    baton_status err_code;    /* logged */
    char err_msg[160];
};

/* ---- replies (server.c) ---- */

/* Answer with JSON (the tree is consumed). */
void api_reply_json(api_req *r, int status, cJSON *body);
/* Answer with text of a given media type (copied). */
void api_reply_raw(api_req *r, int status, const char *type, const char *data, size_t len);
/*
 * Answer with the error body for `st`: {"error":{"code","message","where",
 * "request_id"}} and the status's HTTP code. For 5xx the message is the
 * status's generic text (the details go to the log only).
 */
void api_reply_error(api_req *r, baton_status st, const baton_error *err);
/* Same, with a message made here. */
void api_reply_errorf(api_req *r, baton_status st, const char *fmt, ...) BATON_PRINTF(3, 4);
/* 422 for an invalid model: the error body plus "details": every diagnostic. */
void api_reply_model_errors(api_req *r, const baton_error *err, const baton_diags *d);

/* Query parameter (decoded) or NULL. */
const char *api_query(const api_req *r, const char *key);
int64_t api_now_us(void);

/* ---- handlers (handlers.c) ---- */

/* Format ms since the epoch as an RFC 3339 UTC string into buf[32]. */
const char *api_time(int64_t ms, char buf[32]);

#endif
