/*
 * cmd_serve.c - `baton serve`: the HTTP API over a durable store, with the
 * timer scheduler, until SIGTERM or SIGINT.
 *
 *   parse options (config file first, then the command line on top)
 *     -> open the engine on the store URL (recovery: the outbox is settled)
 *     -> deploy --deploy files (identical XML is recognised: no new version)
 *     -> start the scheduler and the built-in http job workers (both woken by
 *        the engine's commit hook, as are long-polling job activations)
 *     -> start the HTTP server, print where it listens
 *     -> wait for SIGTERM/SIGINT (blocked in every thread, taken by sigwait)
 *     -> stop accepting, let in-flight requests finish, stop the scheduler
 *        (a firing in progress completes), close the store; exit 0.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "api/server.h"
#include "cli/cli.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/log.h"
#include "parser/bpmn.h"
#include "runtime/engine.h"
#include "runtime/httpjobs.h"
#include "runtime/scheduler.h"

#define MAX_DEPLOY       64
#define CONFIG_MAX_BYTES (64 << 10)

static const char usage_text[] =
    "usage: baton serve [--db URL] [--listen HOST:PORT] [--deploy FILE]... [--config FILE]\n"
    "                   [--log-level error|warn|info|debug]\n"
    "\n"
    "Serve the HTTP API (docs/api.md) over a durable store, firing timers as they\n"
    "fall due, until SIGTERM or SIGINT.\n"
    "\n"
    "options:\n"
    "  --db URL            store: a SQLite file (PATH or sqlite:PATH) or postgresql://...\n"
    "                      (default: baton.db in the working directory)\n"
    "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080; port 0 = any)\n"
    "  --deploy FILE       deploy this BPMN file at start (repeatable; unchanged files\n"
    "                      are recognised and make no new version)\n"
    "  --config FILE       settings file, `key = value` lines (see docs/api.md)\n"
    "  --log-level LEVEL   error, warn, info (default) or debug\n";

typedef struct serve_cfg {
    char db[1024];
    char listen[256];
    const char *deploy[MAX_DEPLOY];
    unsigned n_deploy;
    char *deploy_owned[MAX_DEPLOY]; /* from the config file */
    baton_log_level level;
    unsigned sessions;
    int64_t scheduler_max_sleep_ms;
    int64_t retention_ms; /* history of ended instances kept this long; -1 = forever */
    bool http_jobs_off;
    baton_httpjobs_opts httpjobs;
    baton_server_opts http;
} serve_cfg;

/* Who hears about commits: the scheduler, the http job workers, parked job activations. */
typedef struct hooks {
    baton_scheduler *sched;
    baton_httpjobs *httpjobs;
    pthread_rwlock_t srv_lock; /* the server is stopped first: commits go on meanwhile */
    baton_server *srv;
    _Atomic uint64_t commits; /* how busy the node is, for the housekeeping */
} hooks;

/* The housekeeping's own state: it runs on the scheduler thread only. */
typedef struct keeper {
    const serve_cfg *c;
    hooks *h;
    uint64_t seen;  /* commits counted at the end of the last run */
    unsigned quiet; /* periods in a row with no commit */
} keeper;

static bool parse_level(const char *s, baton_log_level *out) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (baton_log_level)i;
            return true;
        }
    return false;
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || errno || v > max)
        return false;
    /* optional size suffixes for byte limits */
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    if (*end || v > max)
        return false;
    *out = v;
    return true;
}

/* One `key = value` setting, from the config file or an option. */
static bool apply_setting(serve_cfg *c, const char *key, const char *value, char *why,
                          size_t why_len) {
    unsigned long long v = 0;
    if (strcmp(key, "db") == 0) {
        snprintf(c->db, sizeof c->db, "%s", value);
    } else if (strcmp(key, "listen") == 0) {
        snprintf(c->listen, sizeof c->listen, "%s", value);
    } else if (strcmp(key, "deploy") == 0) {
        if (c->n_deploy == MAX_DEPLOY) {
            snprintf(why, why_len, "more than %d files to deploy", MAX_DEPLOY);
            return false;
        }
        char *copy = baton_strdup(value);
        if (!copy) {
            snprintf(why, why_len, "out of memory");
            return false;
        }
        c->deploy_owned[c->n_deploy] = copy;
        c->deploy[c->n_deploy++] = copy;
    } else if (strcmp(key, "log_level") == 0) {
        if (!parse_level(value, &c->level)) {
            snprintf(why, why_len, "log_level must be error, warn, info or debug");
            return false;
        }
    } else if (strcmp(key, "http_threads") == 0 && parse_uint(value, 256, &v) && v) {
        c->http.threads = (unsigned)v;
    } else if (strcmp(key, "store_sessions") == 0 && parse_uint(value, 256, &v) && v) {
        c->sessions = (unsigned)v;
    } else if (strcmp(key, "max_body") == 0 && parse_uint(value, 1ull << 30, &v) && v) {
        c->http.max_body = v;
    } else if (strcmp(key, "max_deploy_body") == 0 && parse_uint(value, 1ull << 30, &v) && v) {
        c->http.max_deploy_body = v;
    } else if (strcmp(key, "max_json_depth") == 0 && parse_uint(value, 512, &v) && v) {
        c->http.max_json_depth = (uint32_t)v;
    } else if (strcmp(key, "max_header_bytes") == 0 && parse_uint(value, 1 << 20, &v) &&
               v >= 1024) {
        c->http.max_header_bytes = v;
    } else if (strcmp(key, "max_connections") == 0 && parse_uint(value, 65536, &v) && v) {
        c->http.max_connections = (unsigned)v;
    } else if (strcmp(key, "connection_timeout_s") == 0 && parse_uint(value, 86400, &v) && v) {
        c->http.connection_timeout_s = (unsigned)v;
    } else if (strcmp(key, "drain_timeout_ms") == 0 && parse_uint(value, 600000, &v) && v) {
        c->http.drain_timeout_ms = (unsigned)v;
    } else if (strcmp(key, "scheduler_max_sleep_ms") == 0 && parse_uint(value, 86400000, &v) && v) {
        c->scheduler_max_sleep_ms = (int64_t)v;
    } else if (strcmp(key, "retention_days") == 0 &&
               (!strcmp(value, "forever") || parse_uint(value, 36500, &v))) {
        c->retention_ms = !strcmp(value, "forever") ? -1 : (int64_t)v * 86400000;
    } else if (strcmp(key, "http_jobs") == 0 && (!strcmp(value, "on") || !strcmp(value, "off"))) {
        c->http_jobs_off = strcmp(value, "off") == 0;
    } else if (strcmp(key, "http_jobs_threads") == 0 && parse_uint(value, 64, &v) && v) {
        c->httpjobs.threads = (unsigned)v;
    } else if (strcmp(key, "http_jobs_plain_http") == 0 &&
               (!strcmp(value, "on") || !strcmp(value, "off"))) {
        c->httpjobs.allow_plain_http = strcmp(value, "on") == 0;
    } else if (strcmp(key, "job_poll_recheck_ms") == 0 && parse_uint(value, 3600000, &v) &&
               v >= 10) {
        c->http.job_poll_recheck_ms = (unsigned)v;
    } else {
        snprintf(why, why_len, "unknown setting or bad value: %s = %s", key, value);
        return false;
    }
    return true;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int read_config(serve_cfg *c, const char *path) {
    char *text = NULL;
    size_t len = 0;
    baton_error err;
    baton_error_clear(&err);
    if (baton_cli_read_file(path, CONFIG_MAX_BYTES, &text, &len, &err))
        return baton_cli_error(&err);
    int rc = BATON_EXIT_OK;
    unsigned lineno = 0;
    for (char *line = text, *next; line && rc == BATON_EXIT_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *l = trim(line);
        if (!*l)
            continue;
        char *eq = strchr(l, '=');
        char why[200];
        if (!eq) {
            fprintf(stderr, "baton: %s:%u: error: expected `key = value`\n", path, lineno);
            rc = BATON_EXIT_USAGE;
            break;
        }
        *eq = '\0';
        if (!apply_setting(c, trim(l), trim(eq + 1), why, sizeof why)) {
            fprintf(stderr, "baton: %s:%u: error: %s\n", path, lineno, why);
            rc = BATON_EXIT_USAGE;
        }
    }
    baton_free(text);
    return rc;
}

/* "HOST:PORT", "[v6]:PORT", ":PORT" or "PORT" into host and port. */
static bool split_listen(const char *s, char *host, size_t cap, uint16_t *port) {
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        snprintf(host, cap, "%.*s", (int)(close - s - 1), s + 1);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            snprintf(host, cap, "127.0.0.1");
            colon = s - 1;
        } else if (colon == s) {
            snprintf(host, cap, "127.0.0.1");
        } else {
            snprintf(host, cap, "%.*s", (int)(colon - s), s);
        }
    }
    unsigned long long p;
    if (!parse_uint(colon + 1, 65535, &p))
        return false;
    *port = (uint16_t)p;
    return true;
}

/*
 * Housekeeping on the scheduler thread every 10 s: deliver outbox events
 * another node sharing the database left, sweep old history in bounded
 * batches (retention_days; never blocks the engine for long), and hand
 * freed memory back to the system (glibc keeps a burst's peak otherwise).
 * A node that committed nothing since the last run settles and sweeps only
 * every sixth period: an idle server should cost nothing, and what other
 * nodes or the passing days leave waits at most a minute. The trim runs
 * every period: memory is also freed after the last commit (connections
 * that close, parked requests that time out), and a trim with nothing to
 * give back costs microseconds.
 */
static void housekeeping(void *cookie, baton_engine *e) {
    keeper *k = cookie;
    bool busy = atomic_load(&k->h->commits) != k->seen;
    k->quiet = busy ? 0 : k->quiet + 1;
    if (!busy && k->quiet % 6 != 0) {
        malloc_trim(0);
        return;
    }
    baton_error err;
    baton_error_clear(&err);
    if (baton_engine_settle(e, &err))
        baton_log(BATON_LOG_WARN, "msg=\"outbox not settled\" error=\"%s\"", err.message);
    uint32_t removed = 1;
    for (int batch = 0; removed && batch < 10; batch++) {
        baton_error_clear(&err);
        if (baton_engine_sweep(e, k->c->retention_ms, 100, &removed, &err)) {
            baton_log(BATON_LOG_WARN, "msg=\"retention sweep failed\" error=\"%s\"", err.message);
            break;
        }
    }
    malloc_trim(0);
    /* its own commits (settled events, sweeps) do not make the node busy */
    k->seen = atomic_load(&k->h->commits);
}

static void commit_hook(void *cookie, const baton_commit_info *info) {
    hooks *h = cookie;
    atomic_fetch_add_explicit(&h->commits, 1, memory_order_relaxed);
    baton_scheduler_notify(h->sched, info);
    baton_httpjobs_notify(h->httpjobs, info);
    pthread_rwlock_rdlock(&h->srv_lock);
    baton_server_notify(h->srv, info);
    pthread_rwlock_unlock(&h->srv_lock);
}

static int deploy_file(baton_engine *eng, const char *path) {
    char *xml = NULL;
    size_t len = 0;
    baton_error err;
    baton_error_clear(&err);
    if (baton_cli_read_file(path, BATON_BPMN_DEFAULT_MAX_BYTES, &xml, &len, &err))
        return baton_cli_error(&err);
    baton_diags d;
    baton_diags_init(&d, 0);
    baton_deploy_result res;
    const char *base = strrchr(path, '/');
    baton_status st = baton_engine_deploy(eng, base ? base + 1 : path, xml, len, &d, &res, &err);
    int rc = BATON_EXIT_OK;
    if (st) {
        baton_buf b;
        baton_buf_init(&b, 0);
        for (uint32_t i = 0; i < d.n; i++) {
            baton_buf_reset(&b);
            baton_diag_format(&d.items[i], path, &b);
            fprintf(stderr, "%s\n", baton_buf_str(&b));
        }
        baton_buf_fini(&b);
        rc = d.n ? BATON_EXIT_FAIL : baton_cli_error(&err);
    } else {
        for (uint32_t i = 0; i < res.n_processes; i++)
            baton_log(BATON_LOG_INFO,
                      "msg=\"deployed\" file=\"%s\" deployment=%lld process=%s "
                      "version=%d duplicate=%s",
                      path, (long long)res.deployment, res.processes[i].id,
                      res.processes[i].version, res.duplicate ? "true" : "false");
    }
    baton_diags_fini(&d);
    baton_free(xml);
    return rc;
}

int baton_cmd_serve(int argc, char **argv) {
    serve_cfg c;
    memset(&c, 0, sizeof c);
    baton_engine *eng = NULL;
    baton_scheduler *sched = NULL;
    baton_httpjobs *httpjobs = NULL;
    baton_server *srv = NULL;
    hooks hk = {NULL, NULL, PTHREAD_RWLOCK_INITIALIZER, NULL, 0};
    keeper kp = {&c, &hk, 0, 0};
    char host[256];
    snprintf(c.db, sizeof c.db, "baton.db");
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:8080");
    c.level = BATON_LOG_INFO;
    c.retention_ms = -1; /* keep history forever unless configured */
    c.httpjobs.allow_plain_http = true;
    int rc = BATON_EXIT_OK;
    /* the config file first, so options given on the command line win */
    for (int i = 1; i < argc; i++) {
        if (baton_cli_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return BATON_EXIT_OK;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && (rc = read_config(&c, argv[++i])))
            goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char why[200];
        if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            i++;
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            snprintf(c.db, sizeof c.db, "%s", argv[++i]);
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            snprintf(c.listen, sizeof c.listen, "%s", argv[++i]);
        } else if (strcmp(a, "--deploy") == 0 && i + 1 < argc) {
            if (!apply_setting(&c, "deploy", argv[++i], why, sizeof why)) {
                rc = baton_cli_usage_error("serve", "%s", why);
                goto out;
            }
        } else if (strcmp(a, "--log-level") == 0 && i + 1 < argc) {
            if (!parse_level(argv[++i], &c.level)) {
                rc = baton_cli_usage_error("serve", "--log-level takes error, warn, info or "
                                                    "debug");
                goto out;
            }
        } else {
            rc = baton_cli_usage_error("serve", "unknown or incomplete option '%s'", a);
            goto out;
        }
    }
    if (!split_listen(c.listen, host, sizeof host, &c.http.port)) {
        rc = baton_cli_usage_error("serve", "--listen takes HOST:PORT (got '%s')", c.listen);
        goto out;
    }
    c.http.host = host;
    if (!c.http.threads)
        c.http.threads = 4;
    if (!c.sessions) {
        /* PostgreSQL runs transactions in parallel: one session per HTTP worker; SQLite has
           one writer, so more connections only add lock waits and page caches */
        bool pg = strncmp(c.db, "postgres", 8) == 0;
        c.sessions = pg ? c.http.threads : (c.http.threads < 2 ? c.http.threads : 2);
    }

    /* every thread started from here on inherits the blocked signals; main takes them */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    baton_log_set_sink(baton_log_stderr, NULL, c.level);
    /* a few malloc arenas, not one per thread: handler threads allocate little and briefly */
    mallopt(M_ARENA_MAX, 2);
    xmlInitParser();

    baton_error err;
    baton_error_clear(&err);
    baton_engine_opts eo = {.store_url = c.db, .sessions = c.sessions};
    if (baton_engine_open(&eo, &eng, &err)) {
        baton_error_where(&err, "%s", c.db);
        rc = baton_cli_error(&err);
        goto out;
    }
    for (unsigned i = 0; i < c.n_deploy; i++)
        if ((rc = deploy_file(eng, c.deploy[i])))
            goto out;
    baton_scheduler_opts so = {.max_sleep_ms = c.scheduler_max_sleep_ms,
                               .periodic = housekeeping,
                               .periodic_cookie = &kp,
                               .period_ms = 10000};
    if (baton_scheduler_start(eng, &so, &sched, &err)) {
        rc = baton_cli_error(&err);
        goto out;
    }
    if (!c.http_jobs_off && baton_httpjobs_start(eng, &c.httpjobs, &httpjobs, &err)) {
        rc = baton_cli_error(&err);
        goto out;
    }
    hk.sched = sched;
    hk.httpjobs = httpjobs;
    baton_engine_set_commit_hook(eng, commit_hook, &hk);
    c.http.scheduler = sched;
    c.http.httpjobs = httpjobs;
    if (baton_server_start(eng, &c.http, &srv, &err)) {
        rc = baton_cli_error(&err);
        goto out;
    }
    pthread_rwlock_wrlock(&hk.srv_lock);
    hk.srv = srv;
    pthread_rwlock_unlock(&hk.srv_lock);
    baton_engine_set_observer(eng, baton_server_on_record, srv);
    bool v6 = strchr(host, ':') != NULL;
    printf("baton: listening on http://%s%s%s:%u (store %s; stop with Ctrl-C)\n", v6 ? "[" : "",
           host, v6 ? "]" : "", (unsigned)baton_server_port(srv), c.db);
    fflush(stdout);
    baton_log(BATON_LOG_INFO,
              "msg=\"listening\" host=%s port=%u store=\"%s\" http_threads=%u "
              "store_sessions=%u http_job_threads=%u",
              host, (unsigned)baton_server_port(srv), baton_engine_store_name(eng), c.http.threads,
              c.sessions, httpjobs ? (c.httpjobs.threads ? c.httpjobs.threads : 2) : 0);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    baton_log(BATON_LOG_INFO, "msg=\"stopping\" signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    baton_server_quiesce(srv);
out:
    /* order: no new requests, then no timers or http calls, then the observers go, then the
       store */
    pthread_rwlock_wrlock(&hk.srv_lock);
    hk.srv = NULL;
    pthread_rwlock_unlock(&hk.srv_lock);
    baton_server_stop(srv);
    if (eng) {
        baton_engine_set_commit_hook(eng, NULL, NULL);
    }
    baton_httpjobs_stop(httpjobs);
    baton_scheduler_stop(sched);
    if (eng)
        baton_engine_set_observer(eng, NULL, NULL);
    baton_engine_close(eng);
    if (srv || sched)
        baton_log(BATON_LOG_INFO, "msg=\"stopped\"");
    for (unsigned i = 0; i < c.n_deploy; i++)
        baton_free(c.deploy_owned[i]);
    return rc;
}
