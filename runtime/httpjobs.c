/* httpjobs.c - the built-in `http` job worker (libcurl); see httpjobs.h. */
#include "runtime/httpjobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "baton_config.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"

#if BATON_HAVE_CURL
#include <curl/curl.h>
#endif

#define RESPONSE_LIMIT ((size_t)16 << 20)

struct baton_httpjobs {
    baton_engine *e;
    baton_httpjobs_opts o;
    pthread_t *threads;
    unsigned n_threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    uint64_t wakeups; /* bumped by notify: a thread that saw no job waits for a change */
    _Atomic uint64_t calls;
};

#if BATON_HAVE_CURL

typedef struct response {
    baton_buf body;
    cJSON *headers;
} response;

static size_t on_body(char *p, size_t size, size_t n, void *cookie) {
    response *r = cookie;
    if (baton_buf_append(&r->body, p, size * n))
        return 0; /* too large or out of memory: abort the transfer */
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *cookie) {
    response *r = cookie;
    size_t len = size * n;
    const char *colon = memchr(p, ':', len);
    if (!colon || !r->headers)
        return len;
    char name[128], value[1024];
    size_t nl = (size_t)(colon - p);
    if (nl >= sizeof name)
        return len;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
    name[nl] = '\0';
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= sizeof value)
        vl = sizeof value - 1;
    memcpy(value, v, vl);
    value[vl] = '\0';
    cJSON_DeleteItemFromObjectCaseSensitive(r->headers, name);
    cJSON_AddStringToObject(r->headers, name, value);
    return len;
}

/* A job parameter: from the variables, else from the task headers. */
static const cJSON *param(const cJSON *job, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(job, "variables"), name);
    if (v && !cJSON_IsNull(v))
        return v;
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(job, "headers"), name);
}

typedef struct outcome {
    bool ok; /* complete with `vars` */
    cJSON *vars;
    char message[512]; /* why it failed */
} outcome;

static void call(const cJSON *job, outcome *out, bool allow_plain) {
    memset(out, 0, sizeof *out);
    const char *url = cJSON_GetStringValue(param(job, "url"));
    const char *method = cJSON_GetStringValue(param(job, "method"));
    const cJSON *headers = param(job, "headers");
    const cJSON *body = param(job, "body");
    const cJSON *timeout = param(job, "timeout");
    const char *result = cJSON_GetStringValue(param(job, "resultVariable"));
    if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
        snprintf(out->message, sizeof out->message, "http job: 'url' must be an http(s) URL");
        return;
    }
    if (!allow_plain && strncmp(url, "http://", 7) == 0) {
        snprintf(out->message, sizeof out->message, "http job: plain http:// is not allowed");
        return;
    }
    cJSON *parsed_headers = NULL;
    if (cJSON_IsString(headers)) /* a task header holds JSON text */
        headers = parsed_headers = cJSON_Parse(headers->valuestring);
    long secs = 30;
    if (cJSON_IsNumber(timeout))
        secs = (long)timeout->valuedouble;
    else if (cJSON_IsString(timeout))
        secs = strtol(timeout->valuestring, NULL, 10);
    if (secs <= 0 || secs > 3600)
        secs = 30;

    CURL *c = curl_easy_init();
    response r;
    baton_buf_init(&r.body, RESPONSE_LIMIT);
    r.headers = cJSON_CreateObject();
    struct curl_slist *hl = NULL;
    char *body_text = NULL;
    if (!c || !r.headers) {
        snprintf(out->message, sizeof out->message, "http job: out of memory");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, secs);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, secs < 10 ? secs : 10L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "baton/" BATON_VERSION);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (method && strcasecmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    bool has_content_type = false;
    const cJSON *h;
    cJSON_ArrayForEach(h, headers) {
        char line[1024];
        const char *v = cJSON_IsString(h) ? h->valuestring : NULL;
        char *printed = v ? NULL : cJSON_PrintUnformatted(h);
        snprintf(line, sizeof line, "%s: %s", h->string, v ? v : printed ? printed : "");
        cJSON_free(printed);
        if (strcasecmp(h->string, "content-type") == 0)
            has_content_type = true;
        hl = curl_slist_append(hl, line);
    }
    if (body && !cJSON_IsNull(body)) {
        body_text = cJSON_IsString(body) ? baton_strdup(body->valuestring) : NULL;
        if (!body_text) {
            char *p = cJSON_PrintUnformatted(body);
            body_text = p ? baton_strdup(p) : NULL;
            cJSON_free(p);
            if (!has_content_type)
                hl = curl_slist_append(hl, "Content-Type: application/json");
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body_text ? body_text : "");
        if (!method)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
    }
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        snprintf(out->message, sizeof out->message, "http job: %s %s: %s", method ? method : "GET",
                 url, curl_easy_strerror(rc));
        goto done;
    }
    if (status >= 500) {
        snprintf(out->message, sizeof out->message, "http job: %s %s answered %ld",
                 method ? method : "GET", url, status);
        goto done;
    }
    cJSON *resp = cJSON_CreateObject();
    cJSON_AddNumberToObject(resp, "status", (double)status);
    cJSON_AddItemToObject(resp, "headers", r.headers);
    r.headers = NULL;
    const char *ct = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "headers"), "content-type"));
    cJSON *parsed = NULL;
    if (ct && strstr(ct, "json") && r.body.len)
        parsed = cJSON_ParseWithLength(baton_buf_str(&r.body), r.body.len);
    if (parsed)
        cJSON_AddItemToObject(resp, "body", parsed);
    else if (r.body.len)
        cJSON_AddStringToObject(resp, "body", baton_buf_str(&r.body));
    else
        cJSON_AddNullToObject(resp, "body");
    out->vars = cJSON_CreateObject();
    cJSON_AddItemToObject(out->vars, result && *result ? result : "response", resp);
    out->ok = true;
done:
    curl_slist_free_all(hl);
    baton_free(body_text);
    cJSON_Delete(r.headers);
    cJSON_Delete(parsed_headers);
    baton_buf_fini(&r.body);
    if (c)
        curl_easy_cleanup(c);
}

static void *run(void *arg) {
    baton_httpjobs *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        uint64_t seen = h->wakeups;
        pthread_mutex_unlock(&h->mu);
        cJSON *jobs = NULL;
        baton_error err;
        baton_error_clear(&err);
        baton_job_activation a = {"http", h->o.worker, 1, 120000, NULL, 0};
        baton_status st = baton_engine_activate_jobs(h->e, &a, &jobs, &err);
        int n = st ? 0 : cJSON_GetArraySize(jobs);
        for (int i = 0; i < n; i++) {
            const cJSON *job = cJSON_GetArrayItem(jobs, i);
            outcome out;
            call(job, &out, h->o.allow_plain_http);
            atomic_fetch_add(&h->calls, 1);
            int64_t instance = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(job, "instance"));
            baton_input in = {0};
            in.key = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(job, "key"));
            if (out.ok) {
                in.kind = BATON_IN_COMPLETE;
                in.variables = out.vars;
            } else {
                /* exponential backoff: 1 s while 2+ retries are left, then 2 s, 4 s, ... */
                int retries = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(job, "retries"));
                int step = retries >= 3 ? 0 : 3 - retries;
                in.kind = BATON_IN_JOB_FAIL;
                in.retries = retries - 1;
                in.text = out.message;
                in.backoff_ms = (int64_t)1000 << (step < 8 ? step : 8);
                if (in.backoff_ms > 300000)
                    in.backoff_ms = 300000;
            }
            baton_error e2;
            baton_error_clear(&e2);
            if (baton_engine_job_input(h->e, instance, &in, h->o.worker, &e2))
                baton_log(BATON_LOG_WARN,
                          "msg=\"http job result not applied\" instance=%lld error=\"%s\"",
                          (long long)instance, e2.message);
            cJSON_Delete(out.vars);
        }
        cJSON_Delete(jobs);
        pthread_mutex_lock(&h->mu);
        if (n > 0 || h->stop)
            continue; /* there may be more */
        if (st)
            baton_log(BATON_LOG_WARN, "msg=\"http jobs not fetched\" error=\"%s\"", err.message);
        /* nothing to do: wait for a new http job, or poll_ms (other nodes, backoffs) */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += h->o.poll_ms / 1000;
        ts.tv_nsec += (h->o.poll_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        while (!h->stop && h->wakeups == seen)
            if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
                break;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

#endif /* BATON_HAVE_CURL */

baton_status baton_httpjobs_start(baton_engine *e, const baton_httpjobs_opts *opts,
                                  baton_httpjobs **out, baton_error *err) {
#if !BATON_HAVE_CURL
    (void)e;
    (void)opts;
    (void)out;
    return baton_error_set(err, BATON_UNSUPPORTED, "http jobs need libcurl (not in this build)");
#else
    baton_httpjobs *h = baton_calloc(1, sizeof *h);
    if (!h)
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    h->e = e;
    if (opts)
        h->o = *opts;
    if (!h->o.threads)
        h->o.threads = 2;
    if (h->o.poll_ms <= 0)
        h->o.poll_ms = 5000;
    if (!h->o.worker)
        h->o.worker = "baton-http";
    if (!opts)
        h->o.allow_plain_http = true;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h->threads = baton_calloc(h->o.threads, sizeof *h->threads);
    if (!h->threads) {
        baton_httpjobs_stop(h);
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    }
    for (unsigned i = 0; i < h->o.threads; i++) {
        if (pthread_create(&h->threads[i], NULL, run, h)) {
            baton_httpjobs_stop(h);
            return baton_error_set(err, BATON_INTERNAL, "cannot start http job threads");
        }
        h->n_threads++;
    }
    *out = h;
    return BATON_OK;
#endif
}

void baton_httpjobs_stop(baton_httpjobs *h) {
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (unsigned i = 0; i < h->n_threads; i++)
        pthread_join(h->threads[i], NULL);
    baton_free(h->threads);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    baton_free(h);
}

void baton_httpjobs_notify(baton_httpjobs *h, const baton_commit_info *info) {
    if (!h)
        return;
    for (uint32_t i = 0; i < info->n_job_types; i++) {
        if (strcmp(info->job_types[i], "http") != 0)
            continue;
        pthread_mutex_lock(&h->mu);
        h->wakeups++;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        return;
    }
}

uint64_t baton_httpjobs_calls(const baton_httpjobs *h) {
    return atomic_load(&((baton_httpjobs *)h)->calls);
}
