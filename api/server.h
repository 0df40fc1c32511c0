/*
 * server.h - `baton serve`'s HTTP API: a JSON server (libmicrohttpd, cJSON)
 * over an engine. See docs/api.md for the routes and docs/openapi.json for
 * their contract.
 *
 * Threads: libmicrohttpd runs a pool of `threads` workers, each with its
 * own epoll loop; a handler runs on its worker and calls the engine, which
 * lends it one store session per command. Every request gets an id (the
 * client's X-Request-Id when it is sane, else a new one) that is in every
 * log line about it, in its error body and in the X-Request-Id header.
 *
 * Life cycle:
 *
 *   baton_server_start() --> LISTENING --baton_server_quiesce()--> DRAINING
 *        (binds, starts the workers)    (listen socket closed; in-flight
 *                                        requests finish, bounded wait)
 *                                             --baton_server_stop()--> (freed)
 *
 * The server does not own the engine; the caller closes it after stop().
 */
#ifndef BATON_API_SERVER_H
#define BATON_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "runtime/engine.h"
#include "runtime/httpjobs.h"
#include "runtime/scheduler.h"

typedef struct baton_server baton_server;

typedef struct baton_server_opts {
    const char *host;              /* address to bind (default "127.0.0.1"); "::1", "0.0.0.0" */
    uint16_t port;                 /* 0 = any free port (read it back with baton_server_port) */
    unsigned threads;              /* HTTP worker threads (default 4: two per core on 2 cores) */
    size_t max_body;               /* JSON request bodies (default 1 MiB) */
    size_t max_deploy_body;        /* deployment uploads (default 16 MiB) */
    uint32_t max_json_depth;       /* JSON nesting (default 64) */
    size_t max_header_bytes;       /* request line + headers per connection (default 32 KiB) */
    unsigned max_connections;      /* open connections (default 512) */
    unsigned connection_timeout_s; /* idle keep-alive connections close after (default 60) */
    unsigned drain_timeout_ms; /* quiesce waits this long for in-flight requests (default 10000) */
    const baton_scheduler *scheduler; /* optional, borrowed: its counter goes to /metrics */
    const baton_httpjobs *httpjobs;   /* optional, borrowed: its calls count as activations */
    unsigned job_poll_recheck_ms;     /* a parked job activation looks again after (default 1000):
                                         for what no commit here announces (other nodes' lock
                                         expiries and backoffs, backoffs from before a restart) */
} baton_server_opts;

/* Bind and start answering. The engine is borrowed for the server's life. */
baton_status baton_server_start(baton_engine *engine, const baton_server_opts *opts,
                                baton_server **out, baton_error *err);
/* The port bound (useful with port 0). */
uint16_t baton_server_port(const baton_server *s);
/*
 * Stop accepting connections and wait (up to drain_timeout_ms) until the
 * requests being handled are answered. Idempotent.
 */
void baton_server_quiesce(baton_server *s);
/* Quiesce if not done, stop the workers, free. NULL is fine. */
void baton_server_stop(baton_server *s);

/*
 * Commit hook input (baton_engine_set_commit_hook, through the caller's
 * hook): wakes long-polling job activations waiting for the new jobs' types.
 */
void baton_server_notify(baton_server *s, const baton_commit_info *info);

/* Record observer for the engine (metrics): baton_engine_set_observer(e, this, server). */
void baton_server_on_record(void *server, int64_t instance, const baton_model *m,
                            const baton_record *r);

/* The route table, for docs and the OpenAPI check: method and path pattern of route i. */
uint32_t baton_server_route_count(void);
void baton_server_route(uint32_t i, const char **method_out, const char **pattern_out);

#endif
