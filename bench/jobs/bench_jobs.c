/*
 * bench_jobs.c - job round trips over HTTP against a running `baton serve`
 * (bench/jobs/run.sh starts it; figures in docs/performance.md, "## Jobs").
 *
 *   bench-jobs preload BASE INSTANCES
 *       deploy bench/jobs/loop.bpmn's process (the caller deployed it) and
 *       start INSTANCES instances of bench-loop: each always has one job
 *   bench-jobs run BASE WORKERS SECONDS
 *       WORKERS threads, each with its own keep-alive connection, loop:
 *       POST /v1/jobs/activate (maxJobs 1, long polling up to 1 s) then
 *       POST /v1/jobs/{id}/complete. A round trip is the pair; its latency
 *       is measured around both requests.
 *
 * Prints one line of key=value pairs (run.sh reads it).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static size_t sink(char *p, size_t size, size_t n, void *cookie) {
    buf *b = cookie;
    size_t add = size * n;
    if (b->n + add + 1 > b->cap) {
        size_t cap = (b->n + add + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return 0;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, add);
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* POST a JSON body on a reused handle; the status, the body in *b. */
static long post(CURL *c, const char *url, const char *body, buf *b) {
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        return -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static CURL *handle(void) {
    CURL *c = curl_easy_init();
    static struct curl_slist *h;
    if (!h)
        h = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"),
                              "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return c;
}

typedef struct worker {
    const char *base;
    int index;
    double until;
    long done, errors;
    double *lat;   /* seconds per round trip */
    size_t n_lat, cap_lat;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    CURL *c = handle();
    buf b = {0};
    char url[256], body[256];
    while (now_s() < w->until) {
        double t0 = now_s();
        snprintf(url, sizeof url, "%s/v1/jobs/activate", w->base);
        snprintf(body, sizeof body, "{\"type\":\"bench\",\"worker\":\"w%d\",\"maxJobs\":1,"
                 "\"timeout\":30000,\"requestTimeout\":1000,\"fetchVariables\":[]}", w->index);
        if (post(c, url, body, &b) != 200) {
            w->errors++;
            continue;
        }
        cJSON *j = cJSON_Parse(b.p);
        const char *id = cJSON_GetStringValue(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "jobs"), 0), "id"));
        if (!id) {
            cJSON_Delete(j);
            continue;
        }
        snprintf(url, sizeof url, "%s/v1/jobs/%s/complete", w->base, id);
        cJSON_Delete(j);
        snprintf(body, sizeof body, "{\"worker\":\"w%d\"}", w->index);
        if (post(c, url, body, &b) != 204) {
            w->errors++;
            continue;
        }
        double dt = now_s() - t0;
        if (now_s() > w->until)
            break;
        w->done++;
        if (w->n_lat == w->cap_lat) {
            w->cap_lat = w->cap_lat ? w->cap_lat * 2 : 4096;
            w->lat = realloc(w->lat, w->cap_lat * sizeof *w->lat);
        }
        w->lat[w->n_lat++] = dt;
    }
    free(b.p);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(const char *base, int workers, double secs) {
    worker *w = calloc((size_t)workers, sizeof *w);
    pthread_t *t = calloc((size_t)workers, sizeof *t);
    double t0 = now_s();
    for (int i = 0; i < workers; i++) {
        w[i] = (worker){base, i, t0 + secs, 0, 0, NULL, 0, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    long done = 0, errors = 0;
    size_t n = 0;
    for (int i = 0; i < workers; i++) {
        pthread_join(t[i], NULL);
        done += w[i].done;
        errors += w[i].errors;
        n += w[i].n_lat;
    }
    double el = now_s() - t0;
    double *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < workers; i++) {
        memcpy(all + k, w[i].lat, w[i].n_lat * sizeof *all);
        k += w[i].n_lat;
        free(w[i].lat);
    }
    qsort(all, n, sizeof *all, cmp_d);
    double p50 = n ? all[n / 2] : 0, p99 = n ? all[(size_t)((double)(n - 1) * 0.99)] : 0;
    printf("kind=jobs workers=%d round_trips_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%ld\n",
           workers, (double)done / el, p50 * 1e3, p99 * 1e3, errors);
    free(all);
    free(w);
    free(t);
    return 0;
}

static int preload(const char *base, int n) {
    CURL *c = handle();
    buf b = {0};
    char url[256];
    snprintf(url, sizeof url, "%s/v1/definitions/bench-loop/instances", base);
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += post(c, url, "{}", &b) == 201;
    free(b.p);
    curl_easy_cleanup(c);
    printf("kind=preload instances=%d\n", ok);
    return ok == n ? 0 : 1;
}

int main(int argc, char **argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 2;
    if (argc == 4 && strcmp(argv[1], "preload") == 0)
        rc = preload(argv[2], atoi(argv[3]));
    else if (argc == 5 && strcmp(argv[1], "run") == 0)
        rc = run(argv[2], atoi(argv[3]), atof(argv[4]));
    else
        fprintf(stderr, "usage: bench-jobs preload BASE N | run BASE WORKERS SECONDS\n");
    curl_global_cleanup();
    return rc;
}
