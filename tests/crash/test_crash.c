/*
 * test_crash.c - the crash test (suite crash): `test_crash sqlite|postgres
 * DRIVER`. It runs the driver (crash_driver.c: 1,000 instances of a model
 * with parallel branches, a timer, a user task and jobs) and kills it with
 * SIGKILL at random moments, at least 20 times, starting it again each
 * time; then lets it finish. Afterwards, from the store alone:
 *
 *   - every business key has exactly one instance, and it completed;
 *   - it ended once, and each of its tasks, its timer and its user task
 *     completed exactly once;
 *   - every job completion was applied once (one trigger per job key);
 *   - every history is gap-free (sequence numbers 1..n, n = the row's seq);
 *   - replaying each history reproduces the stored state;
 *   - no job, timer, user task, subscription or outbox event is left.
 *
 * BATON_CRASH_SEED repeats a run (the seed is printed); BATON_CRASH_INSTANCES
 * and BATON_CRASH_KILLS change the size.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "common/alloc.h"
#include "runtime/engine.h"
#include "tests/persistence/helpers.h"
#include "tests/tap.h"

static test_db db;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pace: instances the driver starts per 100 ms of its uptime */
static pid_t spawn(const char *driver, int n, int pace) {
    char count[16], per[16];
    snprintf(count, sizeof count, "%d", n);
    snprintf(per, sizeof per, "%d", pace);
    pid_t pid = fork();
    if (pid == 0) {
        execl(driver, driver, db.url, count, per, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* ---- checks ------------------------------------------------------------------------------ */

typedef struct inst {
    int64_t id;
    int key;
    int state;
    uint64_t seq;
} inst;

typedef struct census {
    inst *v;
    int n, cap;
    int foreign;
} census;

static int take(void *cookie, const void *row) {
    census *c = cookie;
    const baton_instance_row *r = row;
    if (strcmp(r->process_id, "crash") != 0 || !r->business_key ||
        strncmp(r->business_key, "crash-", 6) != 0) {
        c->foreign++;
        return 0;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->v = realloc(c->v, (size_t)c->cap * sizeof *c->v);
    }
    c->v[c->n++] = (inst){r->id, atoi(r->business_key + 6), r->state, r->seq};
    return 0;
}

typedef struct leftovers {
    int jobs, timers, tasks, events, subs;
} leftovers;

static int count1(void *cookie, const void *row) {
    (void)row;
    (*(int *)cookie)++;
    return 0;
}

static baton_status scan(void *cookie, baton_store *s, baton_error *err) {
    census *c = ((void **)cookie)[0];
    leftovers *l = ((void **)cookie)[1];
    baton_status st = s->ops->instance_list(s, take, c, err);
    if (!st)
        st = s->ops->job_list(s, count1, &l->jobs, err);
    if (!st)
        st = s->ops->timer_due(s, INT64_MAX, 0, count1, &l->timers, err);
    if (!st)
        st = s->ops->task_list(s, count1, &l->tasks, err);
    baton_event_row ev;
    if (!st) {
        baton_status p = s->ops->event_peek(s, &ev, err);
        l->events = p == BATON_OK;
        if (p != BATON_NOTFOUND && p != BATON_OK)
            st = p;
    }
    return st;
}

/* What one history says. */
typedef struct hist {
    uint64_t n;
    bool gap;
    int ended;
    int completed[4]; /* work, approve, wait, pay */
    int64_t job_keys[8];
    int n_jobs;
    int64_t trig_keys[64];
    int trig_aux[64];
    int n_trig;
} hist;

static const char *elements[4] = {"work", "approve", "wait", "pay"};

static int read_rec(void *cookie, const char *json) {
    hist *h = cookie;
    cJSON *r = cJSON_Parse(json);
    h->n++;
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "seq");
    if (!cJSON_IsNumber(seq) || (uint64_t)seq->valuedouble != h->n)
        h->gap = true;
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind"));
    const char *el = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "element"));
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(r, "key");
    const cJSON *aux = cJSON_GetObjectItemCaseSensitive(r, "aux");
    if (kind && strcmp(kind, "instance_ended") == 0)
        h->ended++;
    if (kind && el && strcmp(kind, "element_completed") == 0)
        for (int i = 0; i < 4; i++)
            if (strcmp(el, elements[i]) == 0)
                h->completed[i]++;
    if (kind && strcmp(kind, "job_created") == 0 && h->n_jobs < 8)
        h->job_keys[h->n_jobs++] = cJSON_IsNumber(key) ? (int64_t)key->valuedouble : -1;
    if (kind && strcmp(kind, "wait_triggered") == 0 && h->n_trig < 64) {
        h->trig_keys[h->n_trig] = cJSON_IsNumber(key) ? (int64_t)key->valuedouble : -1;
        h->trig_aux[h->n_trig++] = cJSON_IsNumber(aux) ? (int)aux->valuedouble : -1;
    }
    cJSON_Delete(r);
    return 0;
}

static void check_store(int n) {
    baton_engine *e = NULL;
    baton_error err;
    baton_error_clear(&err);
    /* open without delivering anything: look at the store as the driver left it */
    baton_engine_opts o = {.store_url = db.url, .sessions = 1, .skip_settle = true};
    if (baton_engine_open(&o, &e, &err)) {
        TAP_OK(0, "open the store to check: %s", err.message);
        return;
    }
    census c = {0};
    leftovers l = {0};
    void *both[2] = {&c, &l};
    TAP_EQ_INT(baton_engine_query(e, scan, both, &err), BATON_OK, "read the store");
    TAP_EQ_INT(c.n, n, "%d instances of the model", n);
    TAP_EQ_INT(c.foreign, 0, "nothing else");
    int *seen = calloc((size_t)n, sizeof *seen);
    int dup = 0, missing = 0, not_completed = 0, bad_ended = 0, bad_elements = 0, bad_jobs = 0;
    int gaps = 0, bad_seq = 0, replay_bad = 0;
    for (int i = 0; i < c.n; i++) {
        inst *x = &c.v[i];
        if (x->key >= 0 && x->key < n && seen[x->key]++)
            dup++;
        if (x->state != BATON_INSTANCE_COMPLETED)
            not_completed++;
        hist h;
        memset(&h, 0, sizeof h);
        if (baton_engine_history(e, x->id, 0, 0, read_rec, &h, &err))
            printf("# history of %lld: %s\n", (long long)x->id, err.message);
        if (h.gap)
            gaps++;
        if (h.n != x->seq)
            bad_seq++;
        if (h.ended != 1)
            bad_ended++;
        bool elements_ok = true;
        for (int k = 0; k < 4; k++)
            elements_ok &= h.completed[k] == 1;
        if (!elements_ok)
            bad_elements++;
        /* each job key triggered exactly once */
        bool jobs_ok = h.n_jobs == 2;
        for (int j = 0; j < h.n_jobs; j++) {
            int hits = 0;
            for (int t = 0; t < h.n_trig; t++)
                hits += h.trig_keys[t] == h.job_keys[j] && h.trig_aux[t] == BATON_WAIT_JOB;
            jobs_ok &= hits == 1;
        }
        if (!jobs_ok)
            bad_jobs++;
        bool same = false;
        char *diff = NULL;
        baton_error_clear(&err);
        if (baton_engine_replay(e, x->id, &same, &diff, &err) || !same) {
            if (replay_bad < 3)
                printf("# replay of %lld: %s\n", (long long)x->id, diff ? diff : err.message);
            replay_bad++;
        }
        baton_free(diff);
    }
    for (int k = 0; k < n; k++)
        missing += !seen[k];
    TAP_EQ_INT(dup, 0, "no business key was started twice");
    TAP_EQ_INT(missing, 0, "no business key is missing");
    TAP_EQ_INT(not_completed, 0, "every instance completed");
    TAP_EQ_INT(bad_ended, 0, "every instance ended exactly once");
    TAP_EQ_INT(bad_elements, 0, "each task, timer and user task completed exactly once");
    TAP_EQ_INT(bad_jobs, 0, "no job completion was applied twice (one trigger per job)");
    TAP_EQ_INT(gaps, 0, "every history is gap-free");
    TAP_EQ_INT(bad_seq, 0, "every history ends at the instance's sequence number");
    TAP_EQ_INT(replay_bad, 0, "replaying every history reproduces the stored state");
    TAP_EQ_INT(l.jobs, 0, "no job left");
    TAP_EQ_INT(l.timers, 0, "no timer left");
    TAP_EQ_INT(l.tasks, 0, "no user task left");
    TAP_EQ_INT(l.events, 0, "no outbox event left");
    free(seen);
    free(c.v);
    baton_engine_close(e);
}

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    if (argc < 3) {
        printf("Bail out! usage: test_crash sqlite|postgres DRIVER\n");
        return 1;
    }
    int ready = test_db_init(&db, argv[1], "crash");
    if (ready <= 0)
        return ready < 0 ? 1 : 0;
    const char *driver = argv[2];
    int n = getenv("BATON_CRASH_INSTANCES") ? atoi(getenv("BATON_CRASH_INSTANCES")) : 1000;
    int kills = getenv("BATON_CRASH_KILLS") ? atoi(getenv("BATON_CRASH_KILLS")) : 24;
    unsigned seed = getenv("BATON_CRASH_SEED")
                        ? (unsigned)strtoul(getenv("BATON_CRASH_SEED"), NULL, 10)
                        : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    tap_case = db.kind;
    printf("# store %s, %d instances, %d kills, seed %u\n", db.url, n, kills, seed);

    int killed = 0, early = 0, failed = 0;
    int64_t t0 = mono_ms();
    for (int k = 0; k < kills; k++) {
        /* slowly, so the kills fall while instances are still being started */
        pid_t pid = spawn(driver, n, 8);
        int wait_ms = 40 + rand() % 260;
        int status = 0;
        pid_t done = 0;
        for (int t = 0; t < wait_ms && !done; t += 5) {
            usleep(5000);
            done = waitpid(pid, &status, WNOHANG);
        }
        if (done == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                early++;
            else
                failed++;
            printf("# run %d ended by itself: %s %d\n", k + 1,
                   WIFEXITED(status) ? "exit" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            continue;
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        killed++;
    }
    printf("# kill phase: %lld ms\n", (long long)(mono_ms() - t0));
    TAP_OK(killed >= 20, "killed with SIGKILL %d times while it worked (at least 20)", killed);
    TAP_EQ_INT(failed, 0, "no run failed on its own");
    TAP_EQ_INT(early, 0, "no run finished before the kills were done");

    /* the last run finishes the work */
    int64_t t1 = mono_ms();
    pid_t pid = spawn(driver, n, 100);
    int status = 0;
    pid_t done = 0;
    while (!done && mono_ms() - t1 < 400000) {
        usleep(20000);
        done = waitpid(pid, &status, WNOHANG);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    printf("# final run: %lld ms\n", (long long)(mono_ms() - t1));
    TAP_OK(done && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "restarted after the last kill, it finishes every instance");

    int64_t t2 = mono_ms();
    check_store(n);
    printf("# checks: %lld ms\n", (long long)(mono_ms() - t2));
    test_db_fini(&db);
    return tap_done();
}
