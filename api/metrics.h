/*
 * metrics.h - the server's counters, rendered in the Prometheus text format
 * (version 0.0.4) for GET /metrics.
 *
 * Counters are atomics, updated from HTTP threads, the scheduler and the
 * engine's record observer without a lock; only the per-process table
 * (instances started/completed/cancelled) takes a mutex, once per instance
 * start or end, never per transition. The table is bounded: processes
 * beyond BATON_METRICS_MAX_PROCESSES are counted under process="_other".
 *
 * Job latency (creation to completion) pairs a job's JOB_CREATED record with
 * the record that ends it, through a direct-mapped table of recent jobs
 * (BATON_METRICS_JOB_SLOTS): a job created before the server started, or
 * whose slot a later job took, is counted but not timed.
 */
#ifndef BATON_API_METRICS_H
#define BATON_API_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "interpreter/instance.h"
#include "models/model.h"

#define BATON_METRICS_MAX_PROCESSES 256u
#define BATON_METRICS_JOB_SLOTS     16384u

typedef struct baton_metrics baton_metrics;

/* `route_names[0..n_routes)` label the HTTP counters (borrowed for the metrics' life). */
baton_metrics *baton_metrics_new(const char *const *route_names, uint32_t n_routes);
void baton_metrics_free(baton_metrics *m);

/* One HTTP request answered: route index (n_routes = no route matched), status, duration. */
void baton_metrics_http(baton_metrics *m, uint32_t route, int status, int64_t micros);
/* One engine command (start, correlate, complete, ...) took `micros`. */
void baton_metrics_command(baton_metrics *m, int64_t micros);
/* The engine's record observer (baton_engine_set_observer): counts instances and transitions. */
void baton_metrics_record(void *m, int64_t instance, const baton_model *model,
                          const baton_record *r);
/* Active instances found in the store at start-up (the gauge moves from there). */
void baton_metrics_set_active(baton_metrics *m, int64_t active);
void baton_metrics_timers_fired(baton_metrics *m, uint64_t total);
/* Jobs handed out to workers (HTTP APIs); the built-in http worker's calls (a total). */
void baton_metrics_jobs_activated(baton_metrics *m, uint64_t n);
void baton_metrics_http_job_calls(baton_metrics *m, uint64_t total);
/* Open incidents, counted from the store at scrape time. */
void baton_metrics_set_incidents(baton_metrics *m, int64_t open);

baton_status baton_metrics_render(baton_metrics *m, baton_buf *out);

#endif
