/*
 * test_engine_store.c - the engine on a durable store (`test_engine_store
 * sqlite|postgres`): every case closes the engine at its wait states and
 * opens a new one on the same database, as a restart would. Starts, job
 * completions, message correlation, timers (fire once after a restart,
 * start-timer cycles do not fire once per missed period), call activities,
 * outbox recovery at open, exactly-once for duplicate deliveries (nothing
 * written), retention, parallel drivers, and the CLI's history and replay.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>

#include "common/alloc.h"
#include "runtime/engine.h"
#include "tests/persistence/helpers.h"
#include "tests/tap.h"

static test_db db;
static int64_t fake_now = 1700000000000;

static int64_t fake_clock(void *cookie) {
    (void)cookie;
    return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

#define DEFS                                                                                       \
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                          \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
#define TASK(id, type)                                                                             \
    "<serviceTask id=\"" id "\"><extensionElements><zeebe:taskDefinition "                         \
    "type=\"" type "\"/></extensionElements></serviceTask>"
#define FLOW(id, a, b) "<sequenceFlow id=\"" id "\" sourceRef=\"" a "\" targetRef=\"" b "\"/>"

static const char *order_xml = DEFS
    "<message id=\"m\" name=\"paid\"><extensionElements><zeebe:subscription "
    "correlationKey=\"= orderId\"/></extensionElements></message>"
    "<process id=\"order\" isExecutable=\"true\"><startEvent id=\"s\"/>" TASK(
        "charge",
        "charge") "<receiveTask id=\"wait\" messageRef=\"m\"/><endEvent id=\"e\"/>" FLOW("f1", "s",
                                                                                         "charge")
        FLOW("f2", "charge", "wait") FLOW("f3", "wait", "e") "</process></definitions>";

static const char *parent_xml =
    DEFS "<process id=\"parent\" isExecutable=\"true\"><startEvent id=\"s\"/>"
         "<callActivity id=\"call\"><extensionElements><zeebe:calledElement processId=\"child\"/>"
         "</extensionElements></callActivity><endEvent id=\"e\"/>" FLOW("f1", "s", "call")
             FLOW("f2", "call",
                  "e") "</process>"
                       "<process id=\"child\" isExecutable=\"true\"><startEvent id=\"cs\"/>"
                       "<userTask id=\"review\"/><endEvent id=\"ce\"/>" FLOW("c1", "cs", "review")
                           FLOW("c2", "review", "ce") "</process></definitions>";

static const char *timer_xml =
    DEFS "<process id=\"wait\" isExecutable=\"true\"><startEvent id=\"s\"/>"
         "<intermediateCatchEvent id=\"t\"><timerEventDefinition><timeDuration>PT1H</timeDuration>"
         "</timerEventDefinition></intermediateCatchEvent><endEvent id=\"e\"/>" FLOW("f1", "s", "t")
             FLOW("f2", "t", "e") "</process></definitions>";

static const char *cycle_xml = DEFS
    "<process id=\"tick\" isExecutable=\"true\"><startEvent id=\"s\"><timerEventDefinition>"
    "<timeCycle>R/PT1M</timeCycle></timerEventDefinition></startEvent><endEvent id=\"e\"/>" FLOW(
        "f1", "s", "e") "</process></definitions>";

static const char *three_xml =
    DEFS "<process id=\"three\" isExecutable=\"true\"><startEvent id=\"s\"/>" TASK("a", "work")
        TASK("b", "work") TASK("c", "work") "<endEvent id=\"e\"/>" FLOW("f1", "s", "a")
            FLOW("f2", "a", "b") FLOW("f3", "b", "c")
                FLOW("f4", "c", "e") "</process></definitions>";

static baton_engine *open_engine(unsigned sessions) {
    baton_error err;
    baton_error_clear(&err);
    baton_engine_opts o = {.store_url = db.url, .sessions = sessions, .clock = fake_clock};
    baton_engine *e = NULL;
    if (baton_engine_open(&o, &e, &err))
        printf("# engine open: %s\n", err.message);
    return e;
}

static int state_of(baton_engine *e, int64_t id) {
    baton_instance_row row;
    baton_error err;
    baton_error_clear(&err);
    if (baton_engine_instance_row(e, id, &row, &err))
        return -1;
    return row.state;
}

static uint64_t seq_of(baton_engine *e, int64_t id) {
    baton_instance_row row;
    if (baton_engine_instance_row(e, id, &row, NULL))
        return 0;
    return row.seq;
}

/* Activate jobs of a type through a store session, as a worker does. */
typedef struct jobs {
    int64_t inst[64], key[64];
    int n;
    const char *type;
    int64_t now;
} jobs;

static int take_job(void *c, const void *row) {
    jobs *j = c;
    const baton_job_row *r = row;
    if (j->n < 64) {
        j->inst[j->n] = r->instance;
        j->key[j->n] = r->key;
        j->n++;
    }
    return 0;
}

static baton_status activate_fn(void *cookie, baton_store *s, baton_error *err) {
    jobs *j = cookie;
    return s->ops->job_activate(s, j->type, 64, "test-worker", j->now, 60000, take_job, j, err);
}

static jobs activate(baton_engine *e, const char *type) {
    jobs j = {.n = 0, .type = type, .now = fake_clock(NULL)};
    baton_error err;
    baton_error_clear(&err);
    if (baton_engine_query(e, activate_fn, &j, &err))
        printf("# activate: %s\n", err.message);
    return j;
}

typedef struct tasks {
    int64_t inst[64], key[64];
    int n;
} tasks;

static int take_task(void *c, const void *row) {
    tasks *t = c;
    const baton_task_row *r = row;
    if (t->n < 64) {
        t->inst[t->n] = r->instance;
        t->key[t->n] = r->key;
        t->n++;
    }
    return 0;
}

static baton_status tasks_fn(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->task_list(s, take_task, cookie, err);
}

static baton_status complete(baton_engine *e, int64_t inst, int64_t key, const char *vars) {
    baton_input in = {0};
    in.kind = BATON_IN_COMPLETE;
    in.key = key;
    cJSON *v = vars ? cJSON_Parse(vars) : NULL;
    in.variables = v;
    baton_error err;
    baton_error_clear(&err);
    baton_status st = baton_engine_apply(e, inst, &in, &err);
    cJSON_Delete(v);
    return st;
}

/* Count history records and check the sequence numbers are 1..n. */
typedef struct hist_check {
    uint64_t n;
    bool contiguous;
    int kind_count;
    const char *kind;
} hist_check;

static int check_rec(void *c, const char *json) {
    hist_check *h = c;
    cJSON *r = cJSON_Parse(json);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "seq");
    h->n++;
    if (!cJSON_IsNumber(seq) || (uint64_t)seq->valuedouble != h->n)
        h->contiguous = false;
    const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind"));
    if (h->kind && k && strcmp(k, h->kind) == 0)
        h->kind_count++;
    cJSON_Delete(r);
    return 0;
}

static hist_check history(baton_engine *e, int64_t id, const char *kind) {
    hist_check h = {0, true, 0, kind};
    baton_engine_history(e, id, 0, 0, check_rec, &h, NULL);
    return h;
}

static bool replays(baton_engine *e, int64_t id) {
    bool same = false;
    char *diff = NULL;
    baton_error err;
    baton_error_clear(&err);
    if (baton_engine_replay(e, id, &same, &diff, &err))
        printf("# replay %lld: %s\n", (long long)id, err.message);
    else if (!same)
        printf("# replay %lld differs: %s\n", (long long)id, diff);
    baton_free(diff);
    return same;
}

/* ---- cases ---------------------------------------------------------------------------- */

static int64_t order_id;

static void test_deploy_and_start(void) {
    baton_engine *e = open_engine(2);
    baton_error err;
    baton_error_clear(&err);
    baton_deploy_result r;
    TAP_EQ_INT(baton_engine_deploy(e, "order.bpmn", order_xml, strlen(order_xml), NULL, &r, &err),
               BATON_OK, "deploy");
    TAP_EQ_INT(r.processes[0].version, 1, "version 1");
    cJSON *v = cJSON_Parse("{\"orderId\":\"A-1\"}");
    TAP_EQ_INT(baton_engine_start(e, "order", 0, v, "order-A-1", &order_id, &err), BATON_OK,
               "start");
    cJSON_Delete(v);
    baton_engine_close(e);
    e = open_engine(2);
    baton_deploy_result again;
    baton_engine_deploy(e, "order.bpmn", order_xml, strlen(order_xml), NULL, &again, &err);
    TAP_OK(again.duplicate && again.deployment == r.deployment,
           "after a restart, identical XML is the same deployment");
    TAP_EQ_INT(again.processes[0].version, 1, "no new version");
    TAP_EQ_INT(state_of(e, order_id), BATON_INSTANCE_ACTIVE, "the instance survived the restart");
    baton_engine_close(e);
}

static void test_complete_and_correlate(void) {
    baton_engine *e = open_engine(2);
    jobs j = activate(e, "charge");
    TAP_EQ_INT(j.n, 1, "the job is there after a restart");
    baton_engine_close(e);
    e = open_engine(2);
    jobs again = activate(e, "charge");
    TAP_EQ_INT(again.n, 0, "its lock survived the restart");
    TAP_EQ_INT(complete(e, order_id, j.key[0], "{\"charged\":12}"), BATON_OK, "complete the job");
    uint64_t seq = seq_of(e, order_id);
    hist_check before = history(e, order_id, NULL);
    /* a worker that did not hear the answer delivers again: refused, nothing written */
    baton_status st = complete(e, order_id, j.key[0], "{\"charged\":99}");
    TAP_OK(st == BATON_NOTFOUND || st == BATON_CONFLICT, "a second completion is refused (%d)", st);
    TAP_EQ_INT(seq_of(e, order_id), seq, "the instance did not change");
    hist_check after = history(e, order_id, NULL);
    TAP_EQ_INT(after.n, before.n, "no history was written");
    baton_engine_close(e);

    e = open_engine(2);
    baton_correlation c;
    baton_error err;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_correlate(e, "paid", "A-1", NULL, "pay-1", 60000, 0, &c, &err),
               BATON_OK, "correlate after a restart");
    TAP_EQ_INT(c.kind, 1, "delivered to the waiting instance");
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_correlate(e, "paid", "A-1", NULL, "pay-1", 60000, 0, &c, &err),
               BATON_CONFLICT, "the same message id again is a duplicate");
    TAP_EQ_INT(state_of(e, order_id), BATON_INSTANCE_COMPLETED, "completed");
    hist_check h = history(e, order_id, "instance_ended");
    TAP_OK(h.contiguous && h.n > 10, "history contiguous (%llu records)", (unsigned long long)h.n);
    TAP_EQ_INT(h.kind_count, 1, "ended once");
    TAP_OK(replays(e, order_id), "replay equals the stored state");
    baton_engine_close(e);
}

static void test_buffered_message(void) {
    baton_engine *e = open_engine(2);
    baton_correlation c;
    baton_error err;
    baton_error_clear(&err);
    baton_engine_correlate(e, "paid", "B-2", NULL, NULL, 3600000, 0, &c, &err);
    TAP_EQ_INT(c.kind, 3, "a message nobody waits for is buffered");
    baton_engine_close(e);
    e = open_engine(2);
    cJSON *v = cJSON_Parse("{\"orderId\":\"B-2\"}");
    int64_t id = 0;
    baton_engine_start(e, "order", 0, v, NULL, &id, &err);
    cJSON_Delete(v);
    jobs j = activate(e, "charge");
    TAP_EQ_INT(j.n, 1, "job");
    complete(e, id, j.key[0], NULL);
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED,
               "the buffered message (from before the restart) met the subscription");
    baton_engine_close(e);
}

/* A message left buffered while a subscription waits (a race between two nodes on
   PostgreSQL, made here by writing the row directly) is delivered by the sweep and at open. */
static baton_status buffer_fn(void *cookie, baton_store *s, baton_error *err) {
    baton_message_row m = {
        0, "paid", (const char *)cookie, NULL, "{\"late\":true}", fake_clock(NULL) + 3600000};
    return s->ops->message_put(s, &m, err);
}

static void test_buffered_meets_waiting(void) {
    baton_engine *e = open_engine(2);
    baton_error err;
    baton_error_clear(&err);
    int64_t ids[2] = {0, 0};
    const char *keys[2] = {"R-1", "R-2"};
    for (int i = 0; i < 2; i++) {
        char v[64];
        snprintf(v, sizeof v, "{\"orderId\":\"%s\"}", keys[i]);
        cJSON *vars = cJSON_Parse(v);
        baton_engine_start(e, "order", 0, vars, NULL, &ids[i], &err);
        cJSON_Delete(vars);
        jobs j = activate(e, "charge");
        for (int k = 0; k < j.n; k++)
            complete(e, j.inst[k], j.key[k], NULL);
        baton_engine_query(e, buffer_fn, (void *)keys[i], &err);
    }
    TAP_EQ_INT(state_of(e, ids[0]), BATON_INSTANCE_ACTIVE, "a message is buffered while it waits");
    uint32_t removed = 0;
    TAP_EQ_INT(baton_engine_sweep(e, -1, 10, &removed, &err), BATON_OK, "sweep");
    TAP_EQ_INT(state_of(e, ids[0]), BATON_INSTANCE_COMPLETED, "the sweep delivered it");
    TAP_EQ_INT(state_of(e, ids[1]), BATON_INSTANCE_COMPLETED, "and the other one");
    baton_engine_close(e);
    /* and at open */
    e = open_engine(2);
    cJSON *vars = cJSON_Parse("{\"orderId\":\"R-3\"}");
    int64_t id = 0;
    baton_engine_start(e, "order", 0, vars, NULL, &id, &err);
    cJSON_Delete(vars);
    jobs j = activate(e, "charge");
    for (int k = 0; k < j.n; k++)
        complete(e, j.inst[k], j.key[k], NULL);
    baton_engine_query(e, buffer_fn, (void *)"R-3", &err);
    baton_engine_close(e);
    e = open_engine(2);
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED, "opening the store delivered it");
    baton_engine_close(e);
}

static void test_timer_after_restart(void) {
    baton_engine *e = open_engine(2);
    baton_error err;
    baton_error_clear(&err);
    baton_engine_deploy(e, "timer.bpmn", timer_xml, strlen(timer_xml), NULL, NULL, &err);
    int64_t id = 0;
    baton_engine_start(e, "wait", 0, NULL, NULL, &id, &err);
    uint32_t fired = 0;
    baton_engine_fire_timers(e, &fired, &err);
    TAP_EQ_INT(fired, 0, "not due yet");
    baton_engine_close(e);
    fake_now += 3 * 3600 * 1000; /* down for three hours */
    e = open_engine(2);
    TAP_EQ_INT(baton_engine_fire_timers(e, &fired, &err), BATON_OK, "fire after the restart");
    TAP_EQ_INT(fired, 1, "the missed timer fires once");
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED, "and the instance goes on");
    baton_engine_fire_timers(e, &fired, &err);
    TAP_EQ_INT(fired, 0, "nothing fires twice");
    baton_engine_close(e);
}

typedef struct count {
    int n;
    const char *pid;
} count;

static int count_proc(void *c, const void *row) {
    count *x = c;
    if (strcmp(((const baton_instance_row *)row)->process_id, x->pid) == 0)
        x->n++;
    return 0;
}

static baton_status count_fn(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->instance_list(s, count_proc, cookie, err);
}

static void test_cycle_after_restart(void) {
    baton_engine *e = open_engine(1);
    baton_error err;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_deploy(e, "tick.bpmn", cycle_xml, strlen(cycle_xml), NULL, NULL, &err),
               BATON_OK, "deploy a start timer cycle");
    fake_now += 60 * 1000;
    uint32_t fired = 0;
    baton_engine_fire_timers(e, &fired, &err);
    TAP_EQ_INT(fired, 1, "the first tick");
    baton_engine_close(e);
    fake_now += 60 * 60 * 1000; /* sixty ticks missed */
    e = open_engine(1);
    baton_engine_fire_timers(e, &fired, &err);
    TAP_EQ_INT(fired, 1, "after the restart: one firing, not one per missed period");
    count c = {0, "tick"};
    baton_engine_query(e, count_fn, &c, &err);
    TAP_EQ_INT(c.n, 2, "two instances started in all");
    fake_now += 60 * 1000;
    baton_engine_fire_timers(e, &fired, &err);
    TAP_EQ_INT(fired, 1, "and the cycle goes on");
    /* stop the ticking: a new version without the timer */
    static const char *plain =
        DEFS "<process id=\"tick\" isExecutable=\"true\"><startEvent id=\"s\"/><endEvent "
             "id=\"e\"/>" FLOW("f1", "s", "e") "</process></definitions>";
    baton_engine_deploy(e, "tick.bpmn", plain, strlen(plain), NULL, NULL, &err);
    baton_engine_close(e);
}

static void test_call_activity(void) {
    baton_engine *e = open_engine(2);
    baton_error err;
    baton_error_clear(&err);
    baton_engine_deploy(e, "parent.bpmn", parent_xml, strlen(parent_xml), NULL, NULL, &err);
    int64_t id = 0;
    TAP_EQ_INT(baton_engine_start(e, "parent", 0, NULL, NULL, &id, &err), BATON_OK, "start parent");
    baton_engine_close(e);
    e = open_engine(2);
    tasks t = {.n = 0};
    baton_engine_query(e, tasks_fn, &t, &err);
    TAP_EQ_INT(t.n, 1, "the child's user task is there after a restart");
    TAP_OK(t.n && t.inst[0] != id, "in the child");
    TAP_EQ_INT(complete(e, t.inst[0], t.key[0], "{\"approved\":true}"), BATON_OK, "complete it");
    TAP_EQ_INT(state_of(e, t.inst[0]), BATON_INSTANCE_COMPLETED, "child completed");
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED, "parent completed");
    TAP_OK(replays(e, id) && replays(e, t.inst[0]), "both replay");
    baton_engine_close(e);
}

/* The outbox survives a failure between a step and the delivery of its events. */
static void test_outbox_recovery(void) {
    baton_engine *e = open_engine(1);
    baton_error err;
    baton_error_clear(&err);
    int64_t id = 0;
    /* the start commits; the commit delivering "start the child" fails */
    baton_store_fault_commit(2);
    baton_status st = baton_engine_start(e, "parent", 0, NULL, NULL, &id, &err);
    baton_store_fault_commit(0);
    /* the start committed, so it succeeded: the failed delivery is deferred, not reported
       (a caller retrying a "failed" start would create a second instance) */
    TAP_EQ_INT(st, BATON_OK, "the start is acknowledged although the delivery failed");
    TAP_OK(id > 0, "the start had committed (id %lld)", (long long)id);
    tasks t0 = {.n = 0};
    baton_engine_query(e, tasks_fn, &t0, &err);
    TAP_EQ_INT(t0.n, 0, "the child has not started yet: its event waits in the outbox");
    baton_engine_close(e);
    e = open_engine(1);
    tasks t = {.n = 0};
    baton_engine_query(e, tasks_fn, &t, &err);
    bool found = false;
    for (int i = 0; i < t.n; i++) {
        baton_instance_row row;
        if (baton_engine_instance_row(e, t.inst[i], &row, NULL) == BATON_OK && row.parent_id == id)
            found = true;
    }
    TAP_OK(found, "opening the store delivered the pending event: the child runs");
    for (int i = 0; i < t.n; i++)
        complete(e, t.inst[i], t.key[i], NULL);
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED, "and the parent completes");
    baton_engine_close(e);
}

/* A failed commit: clear error, nothing acknowledged lost, the engine carries on. */
static void test_failed_commit(void) {
    baton_engine *e = open_engine(1);
    baton_error err;
    baton_error_clear(&err);
    baton_engine_deploy(e, "three.bpmn", three_xml, strlen(three_xml), NULL, NULL, &err);
    int64_t id = 0;
    baton_engine_start(e, "three", 0, NULL, "fc", &id, &err);
    jobs j = activate(e, "work");
    TAP_EQ_INT(j.n, 1, "a job");
    uint64_t seq = seq_of(e, id);
    baton_store_fault_commit(1);
    baton_status st = complete(e, id, j.key[0], NULL);
    TAP_EQ_INT(st, BATON_STORE, "the completion's commit fails");
    TAP_EQ_INT(seq_of(e, id), seq, "the next command works (session reopened) and sees no change");
    TAP_EQ_INT(complete(e, id, j.key[0], NULL), BATON_OK, "the worker's retry is applied");
    for (int k = 0; k < 2; k++) {
        j = activate(e, "work");
        if (j.n)
            complete(e, id, j.key[0], NULL);
    }
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED, "completed");
    TAP_OK(replays(e, id), "replays");
    baton_engine_close(e);
}

static void test_retention(void) {
    baton_engine *e = open_engine(2);
    baton_error err;
    baton_error_clear(&err);
    int64_t old_id = 0, new_id = 0, live_id = 0;
    baton_engine_start(e, "three", 0, NULL, "old", &old_id, &err);
    baton_engine_start(e, "three", 0, NULL, "live", &live_id, &err);
    for (int k = 0; k < 3; k++) {
        jobs j = activate(e, "work");
        for (int i = 0; i < j.n; i++)
            if (j.inst[i] == old_id)
                complete(e, j.inst[i], j.key[i], NULL);
    }
    TAP_EQ_INT(state_of(e, old_id), BATON_INSTANCE_COMPLETED, "one completed");
    fake_now += 10LL * 24 * 3600 * 1000; /* ten days later */
    baton_engine_start(e, "three", 0, NULL, "new", &new_id, &err);
    for (int k = 0; k < 3; k++) {
        jobs j = activate(e, "work");
        for (int i = 0; i < j.n; i++)
            if (j.inst[i] == new_id)
                complete(e, j.inst[i], j.key[i], NULL);
    }
    uint32_t removed = 99;
    TAP_EQ_INT(baton_engine_sweep(e, -1, 10, &removed, &err), BATON_OK, "sweep, keep forever");
    TAP_EQ_INT(state_of(e, old_id), BATON_INSTANCE_COMPLETED, "kept forever by default");
    int rounds = 0, total = 0;
    do {
        baton_engine_sweep(e, 7LL * 24 * 3600 * 1000, 1, &removed, &err);
        total += (int)removed;
    } while (removed && ++rounds < 100);
    TAP_OK(total >= 1, "a week's retention removed old ones in batches of 1 (%d)", total);
    TAP_EQ_INT(state_of(e, old_id), -1, "the old completed instance is gone");
    hist_check h = history(e, old_id, NULL);
    TAP_EQ_INT(h.n, 0, "with its history");
    TAP_EQ_INT(state_of(e, new_id), BATON_INSTANCE_COMPLETED, "a recent one is kept");
    TAP_EQ_INT(state_of(e, live_id), BATON_INSTANCE_ACTIVE, "an active one is kept");
    baton_engine_close(e);
}

/* Parallel drivers: each starts and completes its own instances. */
typedef struct driver {
    baton_engine *e;
    int n, done;
    char tag[16];
} driver;

static void *drive(void *arg) {
    driver *d = arg;
    for (int i = 0; i < d->n; i++) {
        char bk[32];
        snprintf(bk, sizeof bk, "%s-%d", d->tag, i);
        int64_t id = 0;
        baton_error err;
        baton_error_clear(&err);
        if (baton_engine_start(d->e, "three", 0, NULL, bk, &id, &err))
            continue;
        for (int step = 0; step < 3; step++) {
            /* the worker activates whatever is there; complete what it got */
            jobs j = activate(d->e, "work");
            for (int k = 0; k < j.n; k++)
                complete(d->e, j.inst[k], j.key[k], NULL);
        }
        d->done++;
    }
    return NULL;
}

typedef struct all_inst {
    int64_t id[1024];
    int state[1024];
    int n;
} all_inst;

static int take_inst(void *c, const void *row) {
    all_inst *a = c;
    const baton_instance_row *r = row;
    if (a->n < 1024 && r->business_key && strncmp(r->business_key, "par", 3) == 0) {
        a->id[a->n] = r->id;
        a->state[a->n] = r->state;
        a->n++;
    }
    return 0;
}

static baton_status all_fn(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->instance_list(s, take_inst, cookie, err);
}

static void test_parallel(void) {
    baton_engine *e = open_engine(4);
    driver d[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        d[i] = (driver){e, 15, 0, ""};
        snprintf(d[i].tag, sizeof d[i].tag, "par%d", i);
        pthread_create(&t[i], NULL, drive, &d[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* leftovers: jobs another driver activated last are completed here */
    for (int k = 0; k < 10; k++) {
        jobs j = activate(e, "work");
        if (!j.n) {
            fake_now += 120000; /* locks of jobs activated and not completed expire */
            continue;
        }
        for (int i = 0; i < j.n; i++)
            complete(e, j.inst[i], j.key[i], NULL);
    }
    all_inst a = {.n = 0};
    baton_error err;
    baton_error_clear(&err);
    baton_engine_query(e, all_fn, &a, &err);
    TAP_EQ_INT(a.n, 60, "60 instances by 4 drivers");
    int completed = 0, good = 0;
    for (int i = 0; i < a.n; i++) {
        completed += a.state[i] == BATON_INSTANCE_COMPLETED;
        hist_check h = history(e, a.id[i], "instance_ended");
        good += h.contiguous && h.kind_count == 1 && replays(e, a.id[i]);
    }
    TAP_EQ_INT(completed, 60, "all completed");
    TAP_EQ_INT(good, 60, "every history contiguous, ended once, replays");
    baton_engine_close(e);
}

/* ---- the CLI ----------------------------------------------------------------------------- */

static int run_cli(const char *args, char *out, size_t size) {
    const char *exe = getenv("BATON_EXE");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s --db '%s' 2>&1", exe, args, db.url);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(void) {
    if (!getenv("BATON_EXE")) {
        TAP_OK(1, "# SKIP BATON_EXE not set");
        return;
    }
    static char out[1 << 16];
    char args[128];
    snprintf(args, sizeof args, "history %lld", (long long)order_id);
    TAP_EQ_INT(run_cli(args, out, sizeof out), 0, "baton history");
    TAP_CONTAINS(out, "of 'order' version 1 (business key 'order-A-1'): completed", "header");
    TAP_CONTAINS(out, "flow_taken", "records");
    TAP_CONTAINS(out, "charged = 12", "variable changes");
    snprintf(args, sizeof args, "history --json --limit 2 %lld", (long long)order_id);
    TAP_EQ_INT(run_cli(args, out, sizeof out), 0, "baton history --json");
    TAP_OK(strncmp(out, "{\"seq\":1,", 9) == 0 && strstr(out, "\n{\"seq\":2,"), "JSON lines");
    TAP_EQ_INT(run_cli("history 987654", out, sizeof out), 1, "unknown instance: exit 1");
    TAP_CONTAINS(out, "no instance 987654", "says so");
    snprintf(args, sizeof args, "replay %lld", (long long)order_id);
    TAP_EQ_INT(run_cli(args, out, sizeof out), 0, "baton replay: same state, exit 0");
    TAP_CONTAINS(out, "the stored state matches", "says so");
    TAP_EQ_INT(run_cli("replay --all --quiet", out, sizeof out), 0, "replay --all");
    TAP_CONTAINS(out, "with a different state", "summary");
    /* tamper with the stored state: replay notices */
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE instances SET state_json = replace(state_json, '\"charged\":12', "
             "'\"charged\":13') WHERE id = %lld",
             (long long)order_id);
    if (strcmp(db.kind, "postgres") == 0) {
        pg_exec(db.url, sql, NULL, 0);
    } else {
        sqlite3 *h = NULL;
        sqlite3_open(db.url + 7, &h);
        sqlite3_busy_timeout(h, 5000);
        sqlite3_exec(h, sql, NULL, NULL, NULL);
        sqlite3_close(h);
    }
    snprintf(args, sizeof args, "replay %lld", (long long)order_id);
    TAP_EQ_INT(run_cli(args, out, sizeof out), 1, "a tampered state: exit 1");
    TAP_CONTAINS(out, "different state", "and the difference is shown");
    TAP_EQ_INT(run_cli("replay --all --quiet", out, sizeof out), 1, "replay --all: exit 1");
}

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    int ready = test_db_init(&db, argc > 1 ? argv[1] : "sqlite", "engine");
    if (ready <= 0)
        return ready < 0 ? 1 : 0;
    printf("# store %s\n", db.url);
    TAP_RUN(test_deploy_and_start);
    TAP_RUN(test_complete_and_correlate);
    TAP_RUN(test_buffered_message);
    TAP_RUN(test_buffered_meets_waiting);
    TAP_RUN(test_timer_after_restart);
    TAP_RUN(test_cycle_after_restart);
    TAP_RUN(test_call_activity);
    TAP_RUN(test_outbox_recovery);
    TAP_RUN(test_failed_commit);
    TAP_RUN(test_cli);
    TAP_RUN(test_parallel);
    TAP_RUN(test_retention);
    test_db_fini(&db);
    return tap_done();
}
