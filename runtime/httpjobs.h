/*
 * httpjobs.h - the built-in job type `http`: a worker inside the server that
 * takes jobs of type "http", makes the HTTP call with libcurl outside any
 * transaction, and reports back as ordinary job completions or failures
 * (at-least-once call, exactly-once effect on the instance).
 *
 * A job's request comes from its variables (input mappings are the usual
 * way to set them), else from the task headers of the same name:
 *   url       the URL (required; http or https; TLS verification is on)
 *   method    GET (default), POST, PUT, PATCH, DELETE, HEAD
 *   headers   an object of header names to values (a JSON text in a header)
 *   body      a string is sent as is; anything else as JSON
 *   timeout   seconds for the whole call (default 30)
 *   resultVariable  where the response goes (default "response")
 * The response {"status", "headers", "body"} (body parsed when it is JSON)
 * completes the job. 5xx answers and network errors fail it with one retry
 * fewer and an exponential backoff (1 s, 2 s, 4 s, ... capped at 5 min);
 * with no retries left the instance gets an incident. Other statuses
 * (2xx-4xx) complete the job: the diagram decides what a 404 means.
 *
 *   IDLE --commit hook: new http job--> FETCHING --jobs--> CALLING --> IDLE
 */
#ifndef BATON_RUNTIME_HTTPJOBS_H
#define BATON_RUNTIME_HTTPJOBS_H

#include <stdbool.h>

#include "runtime/engine.h"

typedef struct baton_httpjobs baton_httpjobs;

typedef struct baton_httpjobs_opts {
    unsigned threads;      /* concurrent calls (default 2) */
    int64_t poll_ms;       /* longest idle wait between fetches (default 5000) */
    const char *worker;    /* lock owner name (default "baton-http") */
    bool allow_plain_http; /* permit http:// URLs (default true) */
} baton_httpjobs_opts;

baton_status baton_httpjobs_start(baton_engine *e, const baton_httpjobs_opts *opts,
                                  baton_httpjobs **out, baton_error *err);
/* Stop the threads (a call in flight finishes first) and free; NULL is fine. */
void baton_httpjobs_stop(baton_httpjobs *h);
/* Commit hook input: wake the workers when http jobs were created. */
void baton_httpjobs_notify(baton_httpjobs *h, const baton_commit_info *info);
/* Calls made since start (metrics, tests). */
uint64_t baton_httpjobs_calls(const baton_httpjobs *h);

#endif
