/*
 * test_jobs.c - workers over loopback HTTP against `baton serve` on a
 * durable store: two workers racing for the same jobs, a worker that dies
 * holding locks, retries running out into an incident and its resolution,
 * BPMN errors caught by a boundary event and an event subprocess, long
 * polling (woken by a new job within 50 ms; idle without CPU), the server
 * killed while jobs are locked, a retry backoff that survives a restart,
 * and the built-in http job type calling a server the test runs.
 *
 * Workers are threads or forked processes with their own HTTP connections.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "tests/http/client.h"
#include "tests/tap.h"

static srv S;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool deploy(const char *file) {
    size_t len = 0;
    char *xml = source_file(file, &len);
    resp r;
    http_full(&S, "POST", "/v1/deployments", "application/xml", xml, len, NULL, &r);
    bool ok = r.status == 201 || r.status == 200;
    if (!ok)
        printf("# deploy %s: %ld %s\n", file, r.status, r.body ? r.body : "");
    resp_free(&r);
    free(xml);
    return ok;
}

static int start(const char *process, const char *body) {
    char path[128];
    snprintf(path, sizeof path, "/v1/definitions/%s/instances", process);
    resp r;
    http(&S, "POST", path, body ? body : "{}", &r);
    int id = r.status == 201 ? (int)jnum(r.json, "id") : -1;
    resp_free(&r);
    return id;
}

static const char *state_of(int id, resp *r) {
    char path[64];
    snprintf(path, sizeof path, "/v1/instances/%d", id);
    http(&S, "GET", path, NULL, r);
    return jstr(r->json, "state");
}

static bool completed(int id) {
    resp r;
    const char *st = state_of(id, &r);
    bool ok = st && strcmp(st, "completed") == 0;
    resp_free(&r);
    return ok;
}

/* Activate: the answer's jobs array (in r). */
static long activate(const srv *s, resp *r, const char *type, const char *worker, int max,
                     int lock_ms, int wait_ms) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"type\":\"%s\",\"worker\":\"%s\",\"maxJobs\":%d,\"timeout\":%d,"
             "\"requestTimeout\":%d}",
             type, worker, max, lock_ms, wait_ms);
    return http(s, "POST", "/v1/jobs/activate", body, r);
}

static long report(const char *id, const char *what, const char *body) {
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/%s", id, what);
    resp r;
    long st = http(&S, "POST", path, body, &r);
    if (st >= 400)
        printf("# %s %s: %ld %s\n", what, id, st, r.body ? r.body : "");
    resp_free(&r);
    return st;
}

/* ---- two workers racing -------------------------------------------------------------- */

#define RACE_JOBS 40

static pthread_barrier_t race_start;

typedef struct racer {
    const char *name;
    char done[RACE_JOBS * 2][32];
    int n_done, refused;
} racer;

static void *race(void *arg) {
    racer *w = arg;
    srv me = S; /* own connections */
    pthread_barrier_wait(&race_start);
    for (int idle = 0; idle < 3;) {
        resp r;
        activate(&me, &r, "work", w->name, 2, 30000, 0);
        int n = jlen(r.json, "jobs");
        if (n <= 0)
            idle++;
        for (int i = 0; i < n; i++) {
            char key[16];
            snprintf(key, sizeof key, "%d", i);
            const char *id = jstr(jget(jget(r.json, "jobs"), key), "id");
            char body[128];
            snprintf(body, sizeof body, "{\"worker\":\"%s\",\"variables\":{\"by\":\"%s\"}}",
                     w->name, w->name);
            char path[96];
            snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
            resp c;
            if (http(&me, "POST", path, body, &c) == 204 && w->n_done < RACE_JOBS * 2)
                snprintf(w->done[w->n_done++], sizeof w->done[0], "%s", id);
            else
                w->refused++;
            resp_free(&c);
        }
        resp_free(&r);
    }
    return NULL;
}

static void test_race(void) {
    int ids[RACE_JOBS];
    for (int i = 0; i < RACE_JOBS; i++)
        ids[i] = start("job-once", NULL);
    racer a = {.name = "alpha"}, b = {.name = "beta"};
    pthread_t ta, tb;
    pthread_barrier_init(&race_start, NULL, 2);
    pthread_create(&ta, NULL, race, &a);
    pthread_create(&tb, NULL, race, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&race_start);
    TAP_EQ_INT(a.n_done + b.n_done, RACE_JOBS, "every job completed once (%d + %d)", a.n_done,
               b.n_done);
    TAP_EQ_INT(a.refused + b.refused, 0, "no completion refused: no job was handed out twice");
    int dup = 0;
    for (int i = 0; i < a.n_done; i++)
        for (int j = 0; j < b.n_done; j++)
            dup += strcmp(a.done[i], b.done[j]) == 0;
    TAP_EQ_INT(dup, 0, "no job done by both workers");
    TAP_OK(a.n_done > 0 && b.n_done > 0, "both workers got work");
    int done = 0;
    for (int i = 0; i < RACE_JOBS; i++)
        done += completed(ids[i]);
    TAP_EQ_INT(done, RACE_JOBS, "every instance completed");
}

/* ---- a worker that dies holding locks ------------------------------------------------ */

static void test_worker_dies(void) {
    for (int i = 0; i < 3; i++)
        start("job-once", NULL);
    pid_t pid = fork();
    if (pid == 0) {
        srv me = S;
        resp r;
        activate(&me, &r, "work", "doomed", 3, 1000, 0);
        _exit(jlen(r.json, "jobs") == 3 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    TAP_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a worker process locks 3 jobs and "
                                                          "dies");
    resp r;
    activate(&S, &r, "work", "heir", 3, 30000, 0);
    TAP_EQ_INT(jlen(r.json, "jobs"), 0, "while the locks live, no one else gets them");
    resp_free(&r);
    int64_t t0 = now_ms();
    activate(&S, &r, "work", "heir", 3, 30000, 5000);
    int64_t waited = now_ms() - t0;
    int n = jlen(r.json, "jobs");
    TAP_EQ_INT(n, 3, "a long poll gets them back once the locks expire");
    TAP_OK(waited < 2500, "promptly after expiry (waited %lld ms)", (long long)waited);
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "jobs.%d.id", i);
        TAP_EQ_INT(report(jstr(r.json, key), "complete", "{\"worker\":\"heir\"}"), 204,
                   "the heir completes %s", jstr(r.json, key));
    }
    resp_free(&r);
}

/* ---- retries, incidents, resolution ----------------------------------------------------- */

static bool history_has(int id, const char *kind, const char *element) {
    char path[96];
    snprintf(path, sizeof path, "/v1/instances/%d/history?limit=1000", id);
    resp r;
    http(&S, "GET", path, NULL, &r);
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, jget(r.json, "items")) {
        const char *k = jstr(it, "kind"), *e = jstr(it, "element");
        if (k && e && !strcmp(k, kind) && !strcmp(e, element))
            found = true;
    }
    resp_free(&r);
    return found;
}

/* The value of an unlabelled series in a /metrics body, -1 when absent. */
static double metric_value(const char *body, const char *name) {
    size_t n = strlen(name);
    for (const char *p = body; p && (p = strstr(p, name)) != NULL; p += n)
        if ((p == body || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static void test_retries_incident(void) {
    int id = start("job-once", NULL); /* zeebe:taskDefinition retries="2" */
    resp r;
    activate(&S, &r, "work", "w1", 1, 30000, 0);
    char job[32];
    snprintf(job, sizeof job, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "?");
    TAP_EQ_INT(jnum(r.json, "jobs.0.retries"), 2, "retries from zeebe:taskDefinition");
    TAP_EQ_STR(jstr(r.json, "jobs.0.headers.mode"), "fast", "custom headers travel with the job");
    resp_free(&r);
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%s/fail", job);
    http(&S, "POST", path, "{\"worker\":\"w1\",\"errorMessage\":\"db down\",\"retryBackoff\":200}",
         &r);
    TAP_EQ_INT(r.status, 200, "fail with a backoff");
    TAP_EQ_INT(jnum(r.json, "retries"), 1, "one retry left (one fewer than it had)");
    resp_free(&r);
    activate(&S, &r, "work", "w1", 1, 30000, 0);
    TAP_EQ_INT(jlen(r.json, "jobs"), 0, "not handed out during the backoff");
    resp_free(&r);
    int64_t t0 = now_ms();
    /* generous timeout: a loaded machine slows the wake-up, it must not fail the test */
    activate(&S, &r, "work", "w1", 1, 30000, 10000);
    TAP_EQ_INT(jlen(r.json, "jobs"), 1, "handed out again after it");
    TAP_OK(now_ms() - t0 < 5000, "a long poll wakes when the backoff ends, not at its timeout");
    resp_free(&r);
    http(&S, "POST", path, "{\"worker\":\"w1\",\"errorMessage\":\"db still down\"}", &r);
    TAP_OK(cJSON_IsTrue(jget(r.json, "incident")), "no retries left: an incident");
    resp_free(&r);
    TAP_EQ_INT(report(job, "complete", "{\"worker\":\"w1\"}"), 409,
               "a job at an incident cannot be completed");
    TAP_EQ_INT(report(job, "fail", "{\"worker\":\"w1\"}"), 409, "nor failed again");
    state_of(id, &r);
    TAP_EQ_STR(jstr(r.json, "state"), "active", "the instance waits, intact");
    TAP_EQ_INT(jnum(r.json, "incidents"), 1, "at one incident");
    resp_free(&r);
    char q[64];
    snprintf(q, sizeof q, "/v1/incidents?instanceId=%d", id);
    http(&S, "GET", q, NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 1, "listed by instance");
    TAP_EQ_STR(jstr(r.json, "items.0.kind"), "job_failed", "kind job_failed");
    TAP_EQ_STR(jstr(r.json, "items.0.message"), "db still down", "the worker's message");
    TAP_EQ_STR(jstr(r.json, "items.0.processId"), "job-once", "its process");
    char inc[32];
    snprintf(inc, sizeof inc, "%s", jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "?");
    resp_free(&r);
    http(&S, "GET", "/v1/incidents?processId=job-once&kind=job_failed", NULL, &r);
    TAP_OK(jlen(r.json, "items") >= 1, "filtered by process and kind");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/incidents/%s", inc);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_STR(jstr(r.json, "jobId"), job, "the incident names its job");
    resp_free(&r);
    http(&S, "GET", "/metrics", NULL, &r);
    TAP_CONTAINS(r.body, "baton_incidents_open 1", "/metrics counts the open incident");
    double failed = metric_value(r.body, "baton_jobs_failed_total");
    TAP_OK(failed >= 1, "and job failures");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/incidents/%s/resolve", inc);
    http(&S, "POST", path, "{\"retries\":3}", &r);
    TAP_EQ_INT(r.status, 200, "resolve with 3 new retries");
    TAP_EQ_INT(jnum(r.json, "incidents"), 0, "no incident left");
    resp_free(&r);
    http(&S, "GET", "/metrics", NULL, &r);
    TAP_OK(metric_value(r.body, "baton_jobs_failed_total") == failed,
           "a resolution is not counted as a job failure");
    resp_free(&r);
    TAP_OK(history_has(id, "job_retries_updated", "work"),
           "the history says the retries were given back");
    http(&S, "POST", path, "{}", &r);
    TAP_EQ_INT(r.status, 409, "resolving it again: 409, it no longer applies");
    resp_free(&r);
    http(&S, "POST", "/v1/incidents/999999-1/resolve", "{}", &r);
    TAP_EQ_INT(r.status, 404, "an unknown incident: 404");
    resp_free(&r);
    activate(&S, &r, "work", "w2", 1, 30000, 0);
    TAP_EQ_STR(jstr(r.json, "jobs.0.id"), job, "the job is back");
    TAP_EQ_INT(jnum(r.json, "jobs.0.retries"), 3, "with its new retries");
    resp_free(&r);
    TAP_EQ_INT(report(job, "complete", "{\"worker\":\"w2\"}"), 204, "and completes");
    TAP_OK(completed(id), "the instance finishes");
    TAP_EQ_INT(report(job, "complete", "{\"worker\":\"w2\"}"), 404,
               "a second completion: 404, nothing changes");
}

static void test_exponential(void) {
    start("job-once", NULL);
    resp r;
    activate(&S, &r, "work", "w1", 1, 30000, 0);
    char job[32], path[96];
    snprintf(job, sizeof job, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "?");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/fail", job);
    /* retries given explicitly: a worker may allow more attempts than the model */
    int64_t delays[3];
    for (int i = 0; i < 3; i++) {
        http(&S, "POST", path,
             "{\"worker\":\"w1\",\"retries\":5,\"retryBackoff\":100,"
             "\"backoff\":\"exponential\"}",
             &r);
        TAP_OK(jstr(r.json, "availableAt") != NULL, "failure %d says when the job is back", i + 1);
        resp_free(&r);
        int64_t t0 = now_ms();
        activate(&S, &r, "work", "w1", 1, 30000, 10000);
        delays[i] = now_ms() - t0;
        TAP_EQ_INT(jlen(r.json, "jobs"), 1, "failure %d: handed out after its backoff", i + 1);
        resp_free(&r);
    }
    /* lower bounds only (the job is never handed out early); load can only add to them */
    TAP_OK(delays[0] >= 90 && delays[1] >= 190 && delays[2] >= 390,
           "the backoff doubles (100, 200, 400 ms at least): %lld, %lld, %lld ms",
           (long long)delays[0], (long long)delays[1], (long long)delays[2]);
    TAP_EQ_INT(report(job, "complete", "{\"worker\":\"w1\"}"), 204, "then completes");
}

/* ---- BPMN errors --------------------------------------------------------------------- */

static void test_bpmn_errors(void) {
    int id = start("job-error", NULL);
    resp r;
    activate(&S, &r, "risky", "w1", 1, 30000, 0);
    char job[32];
    snprintf(job, sizeof job, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "?");
    resp_free(&r);
    TAP_EQ_INT(report(job, "error",
                      "{\"worker\":\"w1\",\"errorCode\":\"NOPE\",\"errorMessage\":"
                      "\"card declined\",\"variables\":{\"reason\":\"declined\"}}"),
               204, "throw NOPE");
    TAP_OK(completed(id), "the instance finished");
    TAP_OK(history_has(id, "element_completed", "handled"), "through the boundary event's path");
    TAP_OK(!history_has(id, "element_completed", "ok"), "not the normal one");
    TAP_EQ_INT(report(job, "complete", "{\"worker\":\"w1\"}"), 404,
               "the task was left: completing it now answers 404");

    id = start("job-evsub", NULL);
    activate(&S, &r, "deep", "w1", 1, 30000, 0);
    snprintf(job, sizeof job, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "?");
    resp_free(&r);
    TAP_EQ_INT(report(job, "error", "{\"errorCode\":\"DEEP\"}"), 204, "throw DEEP");
    TAP_OK(completed(id), "caught by the event subprocess");
    TAP_OK(history_has(id, "element_completed", "deep-end"), "which ran to its end");

    id = start("job-error", NULL);
    activate(&S, &r, "risky", "w1", 1, 30000, 0);
    snprintf(job, sizeof job, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "?");
    resp_free(&r);
    TAP_EQ_INT(report(job, "error", "{\"errorCode\":\"UNKNOWN\"}"), 204, "an error no one catches");
    state_of(id, &r);
    TAP_EQ_INT(jnum(r.json, "incidents"), 1, "is an incident");
    resp_free(&r);
}

static void test_expression_incident(void) {
    int id = start("job-expr", NULL);
    resp r;
    char q[64];
    snprintf(q, sizeof q, "/v1/incidents?instanceId=%d", id);
    http(&S, "GET", q, NULL, &r);
    TAP_EQ_STR(jstr(r.json, "items.0.kind"), "expression", "a job type that cannot be evaluated");
    char inc[32], path[96];
    snprintf(inc, sizeof inc, "%s", jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "?");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/incidents/%s/resolve", inc);
    http(&S, "POST", path, "{}", &r);
    TAP_EQ_INT(jnum(r.json, "incidents"), 1, "resolving without a fix: a new incident");
    resp_free(&r);
    http(&S, "GET", q, NULL, &r);
    snprintf(inc, sizeof inc, "%s", jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "?");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d/variables", id);
    http(&S, "PATCH", path, "{\"kind\":\"late\"}", &r);
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/incidents/%s/resolve", inc);
    http(&S, "POST", path, "{}", &r);
    TAP_EQ_INT(jnum(r.json, "incidents"), 0, "after the variable was set, resolved");
    resp_free(&r);
    activate(&S, &r, "late", "w1", 1, 30000, 0);
    TAP_EQ_INT(jlen(r.json, "jobs"), 1, "the element ran again: a job of the evaluated type");
    char job[32];
    snprintf(job, sizeof job, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "?");
    resp_free(&r);
    TAP_EQ_INT(report(job, "complete", "{}"), 204, "completed");
    TAP_OK(completed(id), "the instance finished");
}

/* ---- long polling ---------------------------------------------------------------------- */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2026-01-05T09:00:00.123Z" -> ms since the epoch (-1 if not that shape). */
static int64_t parse_time(const char *s) {
    struct tm tm = {0};
    int ms = 0;
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

typedef struct poller {
    int64_t answered, answered_wall;
    int jobs;
    char id[32];
} poller;

static void *poll_once(void *arg) {
    poller *p = arg;
    srv me = S;
    resp r;
    activate(&me, &r, "work", "poller", 1, 30000, 10000);
    p->answered = now_ms();
    p->answered_wall = wall_ms();
    p->jobs = jlen(r.json, "jobs");
    snprintf(p->id, sizeof p->id, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "");
    resp_free(&r);
    return NULL;
}

static int64_t cpu_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    long long ut = 0, st = 0;
    /* fields after the command: state ppid ... utime (14) stime (15) */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

static void test_long_poll(void) {
    /* woken by a new job: from the job's creation (the server's clock, in the step that
       created it, before its commit) to the parked request's answer */
    int64_t worst = 0, worst_start = 0;
    for (int round = 0; round < 3; round++) {
        poller p = {0};
        pthread_t t;
        pthread_create(&t, NULL, poll_once, &p);
        sleep_ms(300); /* parked by now */
        int64_t t0 = now_ms();
        int id = start("job-once", NULL);
        pthread_join(t, NULL);
        int64_t lat_start = p.answered - t0;
        worst_start = lat_start > worst_start ? lat_start : worst_start;
        TAP_EQ_INT(p.jobs, 1, "round %d: the parked request got the new job", round + 1);
        char path[96];
        snprintf(path, sizeof path, "/v1/jobs/%s", p.id);
        resp j;
        http(&S, "GET", path, NULL, &j);
        int64_t created = parse_time(jstr(j.json, "created"));
        resp_free(&j);
        int64_t lat = created > 0 ? p.answered_wall - created : 100000;
        worst = lat > worst ? lat : worst;
        char body[64];
        snprintf(body, sizeof body, "{\"worker\":\"poller\"}");
        TAP_EQ_INT(report(p.id, "complete", body), 204, "and completes it");
        (void)id;
    }
    TAP_OK(worst < 50,
           "a new job wakes a parked request within 50 ms of its creation (worst "
           "%lld ms; %lld ms from before the start request)",
           (long long)worst, (long long)worst_start);

    /* idle: the wait costs no CPU */
    long hz = sysconf(_SC_CLK_TCK);
    int64_t c0 = cpu_ticks(S.pid);
    int64_t t0 = now_ms();
    resp r;
    activate(&S, &r, "nothing-of-this-type", "idle", 1, 30000, 2000);
    int64_t waited = now_ms() - t0;
    int64_t c1 = cpu_ticks(S.pid);
    TAP_EQ_INT(jlen(r.json, "jobs"), 0, "an idle long poll answers empty");
    TAP_OK(waited >= 1950 && waited < 3000, "after its request timeout (%lld ms)",
           (long long)waited);
    TAP_OK(c0 >= 0 && (c1 - c0) * 1000 / hz <= 30,
           "the server used %lld ms of CPU over the "
           "2 s wait (no polling loop)",
           (long long)((c1 - c0) * 1000 / hz));
    resp_free(&r);

    /* several parked requests, one job: one gets it, the others keep waiting */
    poller ps[3] = {{0}};
    pthread_t ts[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&ts[i], NULL, poll_once, &ps[i]);
    sleep_ms(300);
    start("job-once", NULL);
    sleep_ms(300);
    start("job-once", NULL);
    start("job-once", NULL);
    int got = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(ts[i], NULL);
        got += ps[i].jobs;
        if (ps[i].jobs)
            report(ps[i].id, "complete", "{\"worker\":\"poller\"}");
    }
    TAP_EQ_INT(got, 3, "three parked workers, three jobs: one each");
}

/* ---- the server killed while jobs are locked; a backoff across a restart --------------- */

static void test_kill_restart(void) {
    int ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = start("job-once", NULL);
    resp r;
    activate(&S, &r, "work", "early", 5, 1500, 0);
    TAP_EQ_INT(jlen(r.json, "jobs"), 5, "five jobs locked");
    char jobs[5][32];
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "jobs.%d.id", i);
        snprintf(jobs[i], sizeof jobs[i], "%s", jstr(r.json, key) ? jstr(r.json, key) : "?");
    }
    resp_free(&r);
    TAP_EQ_INT(srv_signal_wait(&S, SIGKILL, 5000), 128 + SIGKILL, "the server is killed (SIGKILL)");
    TAP_OK(srv_start(&S, NULL), "and started again on the same database");
    activate(&S, &r, "work", "late", 5, 30000, 0);
    TAP_EQ_INT(jlen(r.json, "jobs"), 0, "the locks survived the crash");
    resp_free(&r);
    activate(&S, &r, "work", "late", 5, 30000, 5000);
    TAP_EQ_INT(jlen(r.json, "jobs"), 5, "once they expire, another worker gets all five");
    int ok = 0;
    for (int i = 0; i < jlen(r.json, "jobs"); i++) {
        char key[32];
        snprintf(key, sizeof key, "jobs.%d.id", i);
        ok += report(jstr(r.json, key), "complete", "{\"worker\":\"late\"}") == 204;
    }
    resp_free(&r);
    TAP_EQ_INT(ok, 5, "and completes them");
    int refused = 0;
    for (int i = 0; i < 5; i++)
        refused += report(jobs[i], "complete", "{\"worker\":\"early\"}") == 404;
    TAP_EQ_INT(refused, 5, "the first worker's late completions change nothing (404)");
    int done = 0, once = 0;
    for (int i = 0; i < 5; i++) {
        done += completed(ids[i]);
        char path[96];
        snprintf(path, sizeof path, "/v1/instances/%d/history?limit=1000", ids[i]);
        http(&S, "GET", path, NULL, &r);
        int n = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, jget(r.json, "items")) {
            const char *k = jstr(it, "kind"), *e = jstr(it, "element");
            n += k && e && !strcmp(k, "element_completed") && !strcmp(e, "work");
        }
        once += n == 1;
        resp_free(&r);
    }
    TAP_EQ_INT(done, 5, "every instance completed");
    TAP_EQ_INT(once, 5, "each task completed exactly once");
}

static void test_backoff_restart(void) {
    int id = start("job-cycle", NULL); /* camunda:failedJobRetryTimeCycle R2/PT2S */
    resp r;
    activate(&S, &r, "flaky", "w1", 1, 30000, 0);
    TAP_EQ_INT(jnum(r.json, "jobs.0.retries"), 2, "retries from the retry cycle (R2)");
    char job[32], path[96];
    snprintf(job, sizeof job, "%s", jstr(r.json, "jobs.0.id") ? jstr(r.json, "jobs.0.id") : "?");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/fail", job);
    http(&S, "POST", path, "{\"worker\":\"w1\",\"errorMessage\":\"later\"}", &r);
    TAP_EQ_INT(jnum(r.json, "retries"), 1, "a failure without retries: one fewer");
    char at[40];
    snprintf(at, sizeof at, "%s", jstr(r.json, "availableAt") ? jstr(r.json, "availableAt") : "");
    resp_free(&r);
    int64_t t0 = now_ms();
    TAP_EQ_INT(srv_stop(&S), 0, "stop the server during the backoff");
    TAP_OK(srv_start(&S, NULL), "start it again");
    snprintf(path, sizeof path, "/v1/jobs/%s", job);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_STR(jstr(r.json, "availableAt"), at, "the retry time survived the restart");
    resp_free(&r);
    activate(&S, &r, "flaky", "w2", 1, 30000, 0);
    TAP_EQ_INT(jlen(r.json, "jobs"), 0, "not handed out before it");
    resp_free(&r);
    activate(&S, &r, "flaky", "w2", 1, 30000, 6000);
    int64_t waited = now_ms() - t0;
    TAP_EQ_INT(jlen(r.json, "jobs"), 1, "handed out after it");
    TAP_OK(waited >= 1900, "the period of the cycle (PT2S) passed first (%lld ms)",
           (long long)waited);
    resp_free(&r);
    TAP_EQ_INT(report(job, "complete", "{\"worker\":\"w2\"}"), 204, "completed");
    TAP_OK(completed(id), "the instance finished");
}

/* ---- the built-in http job type --------------------------------------------------------- */

typedef struct tiny {
    int fd, port, served;
    char last_body[256];
} tiny;

/* A one-connection-at-a-time HTTP server on 127.0.0.1 answering JSON. */
static void *tiny_serve(void *arg) {
    tiny *t = arg;
    for (;;) {
        int c = accept(t->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        size_t len = 0;
        ssize_t k;
        while (len < sizeof buf - 1 && (k = read(c, buf + len, sizeof buf - 1 - len)) > 0) {
            len += (size_t)k;
            buf[len] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            const char *cl = strcasestr(buf, "Content-Length:");
            if (end && (!cl || len >= (size_t)(end + 4 - buf) + (size_t)atoi(cl + 15)))
                break;
        }
        char *end = strstr(buf, "\r\n\r\n");
        snprintf(t->last_body, sizeof t->last_body, "%s", end ? end + 4 : "");
        const char *answer = "{\"ok\":true,\"items\":[1,2,3]}";
        char out[512];
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(answer), answer);
        if (write(c, out, (size_t)n) != n)
            printf("# tiny server: short write\n");
        close(c);
        t->served++;
    }
}

static void test_http_job(void) {
    tiny t = {0};
    t.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(t.fd, (struct sockaddr *)&a, sizeof a) || listen(t.fd, 8) ||
        getsockname(t.fd, (struct sockaddr *)&a, &al)) {
        TAP_OK(0, "a tiny HTTP server on loopback");
        return;
    }
    t.port = ntohs(a.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, tiny_serve, &t);
    char body[256];
    snprintf(body, sizeof body,
             "{\"variables\":{\"url\":\"http://127.0.0.1:%d/orders\","
             "\"body\":{\"order\":7}}}",
             t.port);
    int id = start("job-http", body);
    bool done = false;
    for (int i = 0; i < 100 && !done; i++) {
        sleep_ms(50);
        done = completed(id);
    }
    TAP_OK(done, "the diagram's http task called the test's server and the instance finished");
    TAP_EQ_INT(t.served, 1, "one call");
    TAP_CONTAINS(t.last_body, "\"order\":7", "with the body from the variables");
    char path[64];
    snprintf(path, sizeof path, "/v1/instances/%d/variables", id);
    resp r;
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_INT(jnum(r.json, "answer.status"), 200, "the status in resultVariable 'answer'");
    TAP_OK(cJSON_IsTrue(jget(r.json, "answer.body.ok")), "the JSON body parsed");
    TAP_EQ_INT(jlen(r.json, "answer.body.items"), 3, "whole");
    resp_free(&r);
    http(&S, "GET", "/metrics", NULL, &r);
    TAP_CONTAINS(r.body, "baton_job_latency_seconds_count", "/metrics has job latency");
    resp_free(&r);
    shutdown(t.fd, SHUT_RDWR);
    close(t.fd);
    pthread_join(th, NULL);
}

/* ---- listings: filters and cursors together ----------------------------------------------- */

static long metric(const char *name) {
    resp r;
    http(&S, "GET", "/metrics", NULL, &r);
    const char *at = r.body ? strstr(r.body, name) : NULL;
    long v = at ? strtol(at + strlen(name), NULL, 10) : -1;
    resp_free(&r);
    return v;
}

static void test_listings(void) {
    /* jobs of types of their own (job-expr's type is its `kind` variable), and incidents */
    int first = 0, b = 0;
    for (int i = 0; i < 5; i++) {
        int id = start("job-expr", "{\"variables\":{\"kind\":\"lq-a\"}}");
        first = first ? first : id;
    }
    for (int i = 0; i < 3; i++)
        b = start("job-expr", "{\"variables\":{\"kind\":\"lq-b\"}}");
    for (int i = 0; i < 3; i++)
        start("job-expr", NULL); /* no kind: an expression incident */
    resp r;
    activate(&S, &r, "lq-a", "lister", 2, 600000, 0);
    TAP_EQ_INT(jlen(r.json, "jobs"), 2, "two of the five locked");
    resp_free(&r);

    paged p = page_all(&S, "/v1/jobs?type=lq-a", 2, "type", "lq-a");
    TAP_OK(p.items == 5 && p.first == 2 && p.field_ok && p.ordered && p.ended,
           "jobs by type, 2 a page: all five, in order (%ld)", p.items);
    p = page_all(&S, "/v1/jobs?type=lq-a&state=locked", 1, "worker", "lister");
    TAP_OK(p.items == 2 && p.field_ok && p.ordered && p.ended,
           "locked, 1 a page: the two, with their worker (%ld)", p.items);
    p = page_all(&S, "/v1/jobs?state=available&type=lq-a", 1, "state", "available");
    TAP_OK(p.items == 3 && p.field_ok && p.ordered && p.ended, "available: the other three (%ld)",
           p.items);
    p = page_all(&S, "/v1/jobs?type=lq-b&state=locked", 1, NULL, NULL);
    TAP_OK(p.items == 0 && p.ended, "none of the other type locked");
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs?instanceId=%d&type=lq-b", b);
    p = page_all(&S, path, 1, "type", "lq-b");
    TAP_OK(p.items == 1 && p.field_ok, "by instance and type: its one job");
    snprintf(path, sizeof path, "/v1/jobs?instanceId=%d&type=lq-b", first);
    p = page_all(&S, path, 5, NULL, NULL);
    TAP_OK(p.items == 0 && p.ended, "not another instance's");
    long all = page_all(&S, "/v1/jobs", 1000, NULL, NULL).items;
    p = page_all(&S, "/v1/jobs", 3, NULL, NULL);
    TAP_OK(p.items == all && all >= 8 && p.ordered && p.ended,
           "every job, 3 a page, as one page holds them (%ld)", all);
    http(&S, "GET", "/v1/jobs?state=sleeping", NULL, &r);
    TAP_EQ_INT(r.status, 400, "an unknown state: 400");
    resp_free(&r);
    http(&S, "GET", "/v1/jobs?cursor=12", NULL, &r);
    TAP_EQ_INT(r.status, 400, "a cursor not given out: 400");
    resp_free(&r);

    p = page_all(&S, "/v1/incidents?processId=job-expr&kind=expression", 1, "processId",
                 "job-expr");
    TAP_OK(p.items >= 3 && p.field_ok && p.ordered && p.ended,
           "incidents by process and kind, 1 a page (%ld)", p.items);
    long expr = p.items;
    p = page_all(&S, "/v1/incidents?kind=expression&elementId=dyn", 2, "kind", "expression");
    TAP_OK(p.items == expr && p.field_ok && p.ordered, "by kind and element: the same (%ld)",
           p.items);
    p = page_all(&S, "/v1/incidents?processId=job-once&kind=expression", 1, NULL, NULL);
    TAP_OK(p.items == 0 && p.ended, "another process's: none");
    long open = page_all(&S, "/v1/incidents", 1000, NULL, NULL).items;
    TAP_EQ_INT(metric("\nbaton_incidents_open "), open, "/metrics counts what the listing lists");
    http(&S, "GET", "/v1/incidents?processId=job-expr&kind=expression&limit=1", NULL, &r);
    char inc[64];
    snprintf(inc, sizeof inc, "/v1/incidents/%s",
             jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "?");
    resp_free(&r);
    http(&S, "GET", inc, NULL, &r);
    TAP_EQ_INT(r.status, 200, "one incident by its id");
    TAP_EQ_STR(jstr(r.json, "processId"), "job-expr", "with its process");
    TAP_EQ_STR(jstr(r.json, "elementId"), "dyn", "and element");
    resp_free(&r);
    snprintf(inc + strlen(inc), sizeof inc - strlen(inc), "9");
    http(&S, "GET", inc, NULL, &r);
    TAP_EQ_INT(r.status, 404, "another key: 404");
    resp_free(&r);
}

int main(int argc, char **argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    store_prepare(&S, argc > 1 ? argv[1] : "sqlite", "jobs");
    if (!srv_start(&S, NULL) || !deploy("tests/http/data/jobs.bpmn") ||
        !deploy("tests/http/data/jobs-c7.bpmn")) {
        printf("1..1\nnot ok 1 - the server starts and takes the job diagrams\n");
        srv_dump_log(&S);
        srv_signal_wait(&S, SIGKILL, 1000);
        store_cleanup(&S);
        return 1;
    }
    TAP_RUN(test_race);
    TAP_RUN(test_worker_dies);
    TAP_RUN(test_retries_incident);
    TAP_RUN(test_exponential);
    TAP_RUN(test_bpmn_errors);
    TAP_RUN(test_expression_incident);
    TAP_RUN(test_long_poll);
    TAP_RUN(test_http_job);
    TAP_RUN(test_kill_restart);
    TAP_RUN(test_backoff_restart);
    TAP_RUN(test_listings);
    tap_case = "shutdown";
    TAP_EQ_INT(srv_stop(&S), 0, "SIGTERM: exit 0");
    if (tap_failed)
        srv_dump_log(&S);
    store_cleanup(&S);
    curl_global_cleanup();
    return tap_done();
}
