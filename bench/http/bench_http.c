/*
 * bench_http.c - `baton serve` under load on loopback (issue targets:
 * requests/s and p50/p99 latency for starting instances and for message
 * correlation at 1, 8 and 64 connections on each store, beside the store's
 * commit limit measured in the same run; an idle server under 0.1% CPU and
 * 20 MiB resident; start-up to accepting requests under 100 ms with 100
 * deployed diagrams).
 *
 *   bench-http BATON_EXE STORE [SECONDS]
 *     STORE: memory:, sqlite:PATH (a fresh file), postgresql://... (an empty database)
 *
 * The load generator is libcurl's multi interface on one thread: `c`
 * connections kept alive, each sending its next request as soon as the
 * last one is answered (closed loop), for SECONDS (default 5) per point.
 * Workloads:
 *   start      POST /v1/definitions/bench/instances: one transaction, the
 *              instance stops at a message catch event with key i
 *   correlate  POST /v1/messages to instances started beforehand, one
 *              message per waiting instance: one transaction, it completes
 * BENCH_HTTP_IDLE=SECONDS shortens the idle measurements (default 10 s each,
 * after a wait of that plus 1 s: the server trims its heap in the first
 * housekeeping run after work, which comes within 10 s, so shorter windows
 * may read the resident memory before the trim);
 * bench/run's quick mode sets it.
 * Baseline (same run, same store): the commit limit, i.e. the rate of
 * one-row insert transactions from one connection (SQLite: the same file
 * settings the engine uses are not visible here, so WAL + synchronous=FULL
 * and NORMAL are both shown; PostgreSQL: INSERT autocommit over libpq).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "baton_config.h"
#if BATON_HAVE_SQLITE
#include <sqlite3.h>
#endif
#if BATON_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

static const char *exe;
static char base[64];
static pid_t server;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- server process ------------------------------------------------------------------ */

static double start_server(const char *db, const char *threads) {
    int out[2];
    if (pipe(out))
        exit(1);
    char cfg[512] = "/dev/null";
    if (getenv("BENCH_HTTP_CONFIG")) /* a `baton serve --config` file for every server started */
        snprintf(cfg, sizeof cfg, "%s", getenv("BENCH_HTTP_CONFIG"));
    if (threads) {
        snprintf(cfg, sizeof cfg, "/tmp/bench-http-%d.conf", (int)getpid());
        FILE *f = fopen(cfg, "w");
        fprintf(f, "http_threads = %s\nlog_level = warn\n", threads);
        fclose(f);
    }
    double t0 = now_s();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], 1);
        close(out[0]);
        execl(exe, exe, "serve", "--db", db, "--listen", "127.0.0.1:0", "--log-level", "warn",
              "--config", cfg, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[512];
    size_t n = 0;
    while (n < sizeof line - 1 && read(out[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    close(out[0]);
    double ready = now_s() - t0;
    const char *p = strstr(line, "127.0.0.1:");
    if (!p) {
        fprintf(stderr, "bench-http: server did not start: %s\n", line);
        exit(1);
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%d", atoi(p + 10));
    server = pid;
    if (threads)
        unlink(cfg);
    return ready;
}

static void stop_server(void) {
    if (!server)
        return;
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    server = 0;
}

/* ---- one request (set-up) --------------------------------------------------------------- */

static size_t discard(char *p, size_t s, size_t n, void *c) {
    (void)p;
    (void)c;
    return s * n;
}

static long post(const char *path, const char *ctype, const char *body, size_t len) {
    CURL *c = curl_easy_init();
    char url[256], ct[128];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    struct curl_slist *h = curl_slist_append(NULL, ct);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static const char *bench_xml(int variant) {
    static char xml[2048];
    snprintf(xml, sizeof xml,
             "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
             "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d%d\">"
             "<message id=\"m\" name=\"go\"><extensionElements><zeebe:subscription "
             "correlationKey=\"= k\"/></extensionElements></message>"
             "<process id=\"bench%s%d\" isExecutable=\"true\"><startEvent id=\"s\"/>"
             "<intermediateCatchEvent id=\"w\"><messageEventDefinition messageRef=\"m\"/>"
             "</intermediateCatchEvent><endEvent id=\"e\"/>"
             "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"w\"/>"
             "<sequenceFlow id=\"f2\" sourceRef=\"w\" targetRef=\"e\"/></process></definitions>",
             variant, variant ? "-" : "", variant);
    if (!variant) /* "bench0" -> "bench" */
        memmove(strstr(xml, "bench0") + 5, strstr(xml, "bench0") + 6,
                strlen(strstr(xml, "bench0") + 6) + 1);
    return xml;
}

/* ---- closed-loop load ---------------------------------------------------------------------- */

typedef struct conn {
    CURL *h;
    double t0;
    char body[160];
} conn;

typedef struct load {
    const char *path;
    int kind;          /* 0 start, 1 correlate */
    char prefix;       /* correlation keys: <prefix><n> */
    long next_key;     /* correlate: next instance key to release */
    long max_key;
    double *lat;
    size_t n_lat, cap_lat;
    long errors;
} load;

static void prepare(load *l, conn *c, struct curl_slist *hdr) {
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, l->path);
    if (l->kind == 0)
        snprintf(c->body, sizeof c->body, "{\"variables\":{\"k\":\"%c%ld\"}}",
                 l->prefix ? l->prefix : 'k', l->next_key++);
    else
        snprintf(c->body, sizeof c->body, "{\"name\":\"go\",\"correlationKey\":\"c%ld\","
                 "\"timeToLive\":0}", l->next_key++);
    curl_easy_reset(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c->h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    c->t0 = now_s();
}

/* Run `conns` connections for `secs`; returns requests/s, fills p50/p99 (ms). */
static double run_load(load *l, int conns, double secs, double *p50, double *p99) {
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    conn *cs = calloc((size_t)conns, sizeof *cs);
    l->n_lat = 0;
    l->errors = 0;
    double t_end = now_s() + secs, t_start = now_s();
    for (int i = 0; i < conns; i++) {
        cs[i].h = curl_easy_init();
        prepare(l, &cs[i], hdr);
        curl_multi_add_handle(m, cs[i].h);
    }
    int running = conns;
    while (running) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            conn *c;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            long status = 0;
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
            double t = now_s();
            if (status >= 200 && status < 300) {
                if (l->n_lat == l->cap_lat) {
                    l->cap_lat = l->cap_lat ? l->cap_lat * 2 : 4096;
                    l->lat = realloc(l->lat, l->cap_lat * sizeof *l->lat);
                }
                l->lat[l->n_lat++] = (t - c->t0) * 1000;
            } else {
                l->errors++;
            }
            curl_multi_remove_handle(m, c->h);
            if (t < t_end && (!l->max_key || l->next_key < l->max_key)) {
                prepare(l, c, hdr);
                curl_multi_add_handle(m, c->h);
                running++;
            }
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double elapsed = now_s() - t_start;
    for (int i = 0; i < conns; i++)
        curl_easy_cleanup(cs[i].h);
    free(cs);
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
    qsort(l->lat, l->n_lat, sizeof *l->lat, cmp_double);
    *p50 = l->n_lat ? l->lat[l->n_lat / 2] : 0;
    *p99 = l->n_lat ? l->lat[(size_t)(l->n_lat * 0.99)] : 0;
    return (double)l->n_lat / elapsed;
}

/* ---- the store's commit limit ----------------------------------------------------------------- */

static double commit_limit(const char *db, const char **how) {
    double secs = 2, rate = 0;
    *how = "n/a";
#if BATON_HAVE_SQLITE
    if (strncmp(db, "sqlite:", 7) == 0) {
        char path[600];
        snprintf(path, sizeof path, "%s-commit-probe", db + 7);
        sqlite3 *s;
        if (sqlite3_open(path, &s) == SQLITE_OK) {
            sqlite3_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", 0, 0, 0);
            sqlite3_stmt *st;
            sqlite3_prepare_v2(s, "INSERT INTO t(v) VALUES ('0123456789abcdef0123456789')", -1,
                               &st, 0);
            long n = 0;
            double t0 = now_s();
            while (now_s() - t0 < secs) {
                sqlite3_step(st);
                sqlite3_reset(st);
                n++;
            }
            rate = n / (now_s() - t0);
            sqlite3_finalize(st);
            sqlite3_close(s);
        }
        unlink(path);
        char wal[620];
        snprintf(wal, sizeof wal, "%s-wal", path);
        unlink(wal);
        snprintf(wal, sizeof wal, "%s-shm", path);
        unlink(wal);
        *how = "one-row INSERT transactions, WAL, synchronous=FULL, 1 connection";
    }
#endif
#if BATON_HAVE_POSTGRES
    if (strncmp(db, "postgres", 8) == 0) {
        PGconn *c = PQconnectdb(db);
        if (PQstatus(c) == CONNECTION_OK) {
            PQclear(PQexec(c, "CREATE TEMP TABLE commit_probe(id serial, v text)"));
            long n = 0;
            double t0 = now_s();
            while (now_s() - t0 < secs) {
                PQclear(PQexec(c, "INSERT INTO commit_probe(v) VALUES ('0123456789abcdef')"));
                n++;
            }
            rate = n / (now_s() - t0);
        }
        PQfinish(c);
        *how = "one-row INSERT autocommit over libpq, 1 connection";
    }
#endif
    return rate;
}

/* ---- idle cost and start-up --------------------------------------------------------------------- */

static void idle_cost(double secs, double *cpu_pct, long *rss_kb) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)server);
    long ticks = sysconf(_SC_CLK_TCK);
    unsigned long u0 = 0, s0 = 0, u1 = 0, s1 = 0;
    FILE *f = fopen(path, "r");
    if (f && fgets(buf, sizeof buf, f)) {
        char *p = strrchr(buf, ')');
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &u0, &s0);
    }
    if (f)
        fclose(f);
    double t0 = now_s();
    usleep((useconds_t)(secs * 1e6));
    f = fopen(path, "r");
    if (f && fgets(buf, sizeof buf, f)) {
        char *p = strrchr(buf, ')');
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &u1, &s1);
    }
    if (f)
        fclose(f);
    *cpu_pct = 100.0 * (double)((u1 + s1) - (u0 + s0)) / (double)ticks / (now_s() - t0);
    snprintf(path, sizeof path, "/proc/%d/status", (int)server);
    f = fopen(path, "r");
    *rss_kb = 0;
    while (f && fgets(buf, sizeof buf, f))
        if (strncmp(buf, "VmRSS:", 6) == 0)
            *rss_kb = atol(buf + 6);
    if (f)
        fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench-http BATON_EXE STORE [SECONDS]\n");
        return 2;
    }
    exe = argv[1];
    const char *db = argv[2];
    double secs = argc > 3 ? atof(argv[3]) : 5;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    printf("# bench-http store=%s seconds=%.0f per point\n", db, secs);

    const char *how;
    double limit = commit_limit(db, &how);
    if (limit > 0)
        printf("commit limit: %.0f commits/s (%s)\n", limit, how);

    start_server(db, NULL);
    const char *x = bench_xml(0);
    post("/v1/deployments", "application/xml", x, strlen(x));

    static const int levels[] = {1, 8, 64};
    load l = {0};
    printf("%-10s %5s %10s %9s %9s %7s %s\n", "workload", "conns", "req/s", "p50 ms", "p99 ms",
           "errors", "ratio to commit limit");
    for (int i = 0; i < 3; i++) {
        l.path = "/v1/definitions/bench/instances";
        l.kind = 0;
        double p50, p99;
        double rps = run_load(&l, levels[i], secs, &p50, &p99);
        printf("%-10s %5d %10.0f %9.2f %9.2f %7ld", "start", levels[i], rps, p50, p99, l.errors);
        if (limit > 0)
            printf(" %.2f", rps / limit);
        printf("\n");
        fflush(stdout);
    }
    double start_rate = 0;
    /* fsync cost drifts on shared machines: measure the limit again beside this workload */
    limit = commit_limit(db, &how);
    if (limit > 0)
        printf("commit limit: %.0f commits/s (again, beside the correlate rows)\n", limit);
    for (int i = 0; i < 3; i++) {
        /* instances waiting for messages c<base>..: started beforehand with 8 connections */
        long basekey = 1000000L * (i + 1);
        double p50, p99;
        if (!start_rate) {
            load probe = {.path = "/v1/definitions/bench/instances", .prefix = 'x'};
            start_rate = run_load(&probe, 8, 1, &p50, &p99);
            free(probe.lat);
        }
        long have = (long)(start_rate * secs * 1.5);
        have = have < 1000 ? 1000 : have > 200000 ? 200000 : have;
        load pre = {.path = "/v1/definitions/bench/instances", .prefix = 'c', .next_key = basekey,
                    .max_key = basekey + have};
        run_load(&pre, 8, 6 * secs, &p50, &p99);
        long started = (long)pre.n_lat;
        free(pre.lat);
        load c = {.path = "/v1/messages", .kind = 1, .next_key = basekey,
                  .max_key = basekey + started};
        double rps = run_load(&c, levels[i], secs, &p50, &p99);
        printf("%-10s %5d %10.0f %9.2f %9.2f %7ld", "correlate", levels[i], rps, p50, p99,
               c.errors);
        if (limit > 0)
            printf(" %.2f", rps / limit);
        printf("   (%ld waiting, %zu delivered)\n", started, c.n_lat);
        fflush(stdout);
        free(c.lat);
    }
    free(l.lat);

    double cpu;
    long rss;
    double idle = getenv("BENCH_HTTP_IDLE") ? atof(getenv("BENCH_HTTP_IDLE")) : 10;
    if (idle <= 0)
        idle = 10;
    usleep((useconds_t)((idle + 1) * 1e6)); /* the server gives memory back every 10 s when idle */
    idle_cost(idle, &cpu, &rss);
    printf("idle (after load): %.3f%% CPU over %.0f s, %.1f MiB resident\n", cpu, idle,
           rss / 1024.0);
    stop_server();

    if (strncmp(db, "memory:", 7) == 0) {
        start_server(db, NULL);
        idle_cost(idle, &cpu, &rss);
        printf("idle (fresh): %.3f%% CPU over %.0f s, %.1f MiB resident\n", cpu, idle,
               rss / 1024.0);
        stop_server();
    } else {
        /* start-up with 100 deployed diagrams: deployed once, then five timed starts */
        start_server(db, NULL);
        for (int v = 1; v < 100; v++) {
            x = bench_xml(v);
            post("/v1/deployments", "application/xml", x, strlen(x));
        }
        stop_server();
        double best = 1e9;
        for (int k = 0; k < 5; k++) {
            double t = start_server(db, NULL);
            /* accepting: the first request answered */
            CURL *c = curl_easy_init();
            char url[128];
            snprintf(url, sizeof url, "%s/health", base);
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
            curl_easy_perform(c);
            curl_easy_cleanup(c);
            if (t < best)
                best = t;
            if (k == 4) {
                idle_cost(idle, &cpu, &rss);
                printf("idle (fresh, 100 diagrams): %.3f%% CPU over %.0f s, %.1f MiB resident\n",
                       cpu, idle, rss / 1024.0);
            }
            stop_server();
        }
        printf("start-up to listening with 100 deployed diagrams: %.1f ms (best of 5)\n",
               best * 1000);
    }
    curl_global_cleanup();
    return 0;
}
