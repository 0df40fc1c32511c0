/*
 * test_engine.c - the runtime over the in-memory store: deployments and
 * versions, starting, completing, duplicate deliveries, message buffering
 * and deduplication, signals, call activities, cancellation, replay, and
 * the scheduler waking for a timer created after it went to sleep.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/engine.h"
#include "runtime/scheduler.h"
#include "tests/tap.h"

static int64_t fake_now;
static int64_t fake_clock(void *cookie) {
    (void)cookie;
    return fake_now;
}

#define DEFS                                                                                       \
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                          \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"

static const char *order_xml =
    DEFS "<message id=\"m\" name=\"paid\"><extensionElements><zeebe:subscription "
         "correlationKey=\"= orderId\"/></extensionElements></message>"
         "<process id=\"order\" isExecutable=\"true\"><startEvent id=\"s\"/>"
         "<serviceTask id=\"charge\"><extensionElements><zeebe:taskDefinition type=\"charge\"/>"
         "</extensionElements></serviceTask>"
         "<receiveTask id=\"wait\" messageRef=\"m\"/><endEvent id=\"e\"/>"
         "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"charge\"/>"
         "<sequenceFlow id=\"f2\" sourceRef=\"charge\" targetRef=\"wait\"/>"
         "<sequenceFlow id=\"f3\" sourceRef=\"wait\" targetRef=\"e\"/></process></definitions>";

static const char *parent_xml =
    DEFS "<process id=\"parent\" isExecutable=\"true\"><startEvent id=\"s\"/>"
         "<callActivity id=\"call\"><extensionElements><zeebe:calledElement processId=\"child\"/>"
         "</extensionElements></callActivity><endEvent id=\"e\"/>"
         "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"call\"/>"
         "<sequenceFlow id=\"f2\" sourceRef=\"call\" targetRef=\"e\"/></process>"
         "<process id=\"child\" isExecutable=\"true\"><startEvent id=\"cs\"/>"
         "<userTask id=\"review\"/><endEvent id=\"ce\"/>"
         "<sequenceFlow id=\"c1\" sourceRef=\"cs\" targetRef=\"review\"/>"
         "<sequenceFlow id=\"c2\" sourceRef=\"review\" targetRef=\"ce\"/></process></definitions>";

static const char *timer_xml = DEFS
    "<process id=\"wait\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<intermediateCatchEvent id=\"t\"><timerEventDefinition><timeDuration>PT0.3S</timeDuration>"
    "</timerEventDefinition></intermediateCatchEvent><endEvent id=\"e\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>"
    "<sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/></process></definitions>";

static const char *two_waiters_xml =
    DEFS "<message id=\"m\" name=\"lab-result\"><extensionElements><zeebe:subscription "
         "correlationKey=\"= orderId\"/></extensionElements></message>"
         "<process id=\"ward\" isExecutable=\"true\"><startEvent id=\"s1\"/>"
         "<intermediateCatchEvent id=\"c1\"><messageEventDefinition messageRef=\"m\"/>"
         "</intermediateCatchEvent><endEvent id=\"e1\"/>"
         "<sequenceFlow id=\"f1\" sourceRef=\"s1\" targetRef=\"c1\"/>"
         "<sequenceFlow id=\"f2\" sourceRef=\"c1\" targetRef=\"e1\"/></process>"
         "<process id=\"billing\" isExecutable=\"true\"><startEvent id=\"s2\"/>"
         "<intermediateCatchEvent id=\"c2\"><messageEventDefinition messageRef=\"m\"/>"
         "</intermediateCatchEvent><endEvent id=\"e2\"/>"
         "<sequenceFlow id=\"g1\" sourceRef=\"s2\" targetRef=\"c2\"/>"
         "<sequenceFlow id=\"g2\" sourceRef=\"c2\" targetRef=\"e2\"/></process>"
         "<process id=\"intake\" isExecutable=\"true\"><startEvent id=\"ms\">"
         "<messageEventDefinition messageRef=\"m\"/></startEvent><userTask id=\"u\"/>"
         "<sequenceFlow id=\"h1\" sourceRef=\"ms\" targetRef=\"u\"/></process></definitions>";

static baton_engine *open_engine(baton_store **store, bool wall) {
    baton_error err;
    baton_error_clear(&err);
    baton_store_open_memory(store, &err);
    baton_engine_opts o = {.store = *store};
    if (!wall) {
        o.clock = fake_clock;
    }
    baton_engine *e = NULL;
    baton_engine_open(&o, &e, &err);
    return e;
}

typedef struct first_row {
    int64_t instance, key;
    int n;
} first_row;

static int first_job(void *c, const void *row) {
    first_row *f = c;
    const baton_job_row *j = row;
    if (!f->n++) {
        f->instance = j->instance;
        f->key = j->key;
    }
    return 0;
}

static int first_task(void *c, const void *row) {
    first_row *f = c;
    const baton_task_row *t = row;
    if (!f->n++) {
        f->instance = t->instance;
        f->key = t->key;
    }
    return 0;
}

static int state_of(baton_engine *e, int64_t id) {
    baton_instance_row row;
    if (baton_engine_instance_row(e, id, &row, NULL))
        return -1;
    return row.state;
}

static void test_deploy_versions(void) {
    baton_store *st;
    baton_engine *e = open_engine(&st, false);
    baton_deploy_result r1, r2;
    baton_error err;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_deploy(e, "o.bpmn", order_xml, strlen(order_xml), NULL, &r1, &err),
               BATON_OK, "deploy");
    TAP_EQ_INT(r1.n_processes, 1, "one process");
    TAP_EQ_INT(r1.processes[0].version, 1, "version 1");
    baton_engine_deploy(e, "o.bpmn", order_xml, strlen(order_xml), NULL, &r2, &err);
    TAP_OK(r2.duplicate && r2.deployment == r1.deployment, "identical XML: no new deployment");
    TAP_EQ_INT(r2.processes[0].version, 1, "still version 1");
    /* the same process, different bytes: a new version */
    char *changed = baton_malloc(strlen(order_xml) + 2);
    const char *cut = strstr(order_xml, "<endEvent id=\"e\"/>");
    size_t head = (size_t)(cut - order_xml);
    memcpy(changed, order_xml, head);
    strcpy(changed + head, "<endEvent id=\"e\" />");
    strcat(changed, cut + strlen("<endEvent id=\"e\"/>"));
    baton_deploy_result r3;
    TAP_EQ_INT(baton_engine_deploy(e, "o.bpmn", changed, strlen(changed), NULL, &r3, &err),
               BATON_OK, "changed XML deploys");
    TAP_EQ_INT(r3.processes[0].version, 2, "new version 2");
    baton_free(changed);
    baton_diags d;
    baton_diags_init(&d, 0);
    TAP_EQ_INT(baton_engine_deploy(e, "bad.bpmn", "<definitions/>", 14, &d, NULL, &err),
               BATON_MODEL, "invalid model refused");
    baton_diags_fini(&d);
    baton_engine_close(e);
    baton_store_close(st);
}

static void test_job_message_flow(void) {
    baton_store *st;
    baton_engine *e = open_engine(&st, false);
    baton_error err;
    baton_error_clear(&err);
    baton_engine_deploy(e, "o.bpmn", order_xml, strlen(order_xml), NULL, NULL, &err);
    cJSON *vars = cJSON_Parse("{\"orderId\":\"A-1\"}");
    int64_t id = 0;
    TAP_EQ_INT(baton_engine_start(e, "order", 0, vars, "bk-1", &id, &err), BATON_OK, "start");
    first_row j = {0};
    st->ops->job_list(st, first_job, &j, NULL);
    TAP_EQ_INT(j.n, 1, "one job waits");
    baton_input in = {0};
    in.kind = BATON_IN_COMPLETE;
    in.key = j.key;
    TAP_EQ_INT(baton_engine_apply(e, id, &in, &err), BATON_OK, "complete the job");
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_apply(e, id, &in, &err), BATON_NOTFOUND,
               "a second completion is refused and changes nothing");
    baton_correlation c;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_correlate(e, "paid", "B-2", NULL, "msg-1", 60000, 0, &c, &err),
               BATON_OK, "message for a key no one waits on");
    TAP_EQ_INT(c.kind, 3, "it is buffered");
    TAP_EQ_INT(baton_engine_correlate(e, "paid", "B-2", NULL, "msg-1", 60000, 0, &c, &err),
               BATON_CONFLICT, "same message id again: duplicate");
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_ACTIVE, "instance still waits");
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_correlate(e, "paid", "A-1", NULL, NULL, 0, 0, &c, &err), BATON_OK,
               "correlate by key");
    TAP_EQ_INT(c.kind, 1, "delivered");
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED, "instance completed");
    /* a buffered message is delivered when a subscription opens later */
    int64_t id2;
    cJSON *v2 = cJSON_Parse("{\"orderId\":\"B-2\"}");
    baton_engine_start(e, "order", 0, v2, NULL, &id2, &err);
    j.n = 0;
    st->ops->job_list(st, first_job, &j, NULL);
    in.key = j.key;
    baton_engine_apply(e, id2, &in, &err);
    TAP_EQ_INT(state_of(e, id2), BATON_INSTANCE_COMPLETED, "buffered message completed it");
    bool same = false;
    TAP_EQ_INT(baton_engine_replay(e, id2, &same, NULL, &err), BATON_OK, "replay");
    TAP_OK(same, "replayed history equals the stored state");
    cJSON_Delete(vars);
    cJSON_Delete(v2);
    baton_engine_close(e);
    baton_store_close(st);
}

static void test_call_and_cancel(void) {
    baton_store *st;
    baton_engine *e = open_engine(&st, false);
    baton_error err;
    baton_error_clear(&err);
    baton_engine_deploy(e, "p.bpmn", parent_xml, strlen(parent_xml), NULL, NULL, &err);
    int64_t id;
    baton_engine_start(e, "parent", 0, NULL, NULL, &id, &err);
    first_row t = {0};
    st->ops->task_list(st, first_task, &t, NULL);
    TAP_EQ_INT(t.n, 1, "the child waits at its user task");
    TAP_OK(t.instance != id, "in the child instance");
    baton_input in = {0};
    in.kind = BATON_IN_CANCEL;
    TAP_EQ_INT(baton_engine_apply(e, id, &in, &err), BATON_OK, "cancel the parent");
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_TERMINATED, "parent terminated");
    TAP_EQ_INT(state_of(e, t.instance), BATON_INSTANCE_TERMINATED, "child cancelled with it");
    t.n = 0;
    st->ops->task_list(st, first_task, &t, NULL);
    TAP_EQ_INT(t.n, 0, "no user task left");
    /* a normal run: completing the child completes the parent */
    baton_engine_start(e, "parent", 0, NULL, NULL, &id, &err);
    t.n = 0;
    st->ops->task_list(st, first_task, &t, NULL);
    in.kind = BATON_IN_COMPLETE;
    in.key = t.key;
    cJSON *out = cJSON_Parse("{\"approved\":true}");
    in.variables = out;
    baton_engine_apply(e, t.instance, &in, &err);
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED, "parent completed after the child");
    baton_instance *inst = NULL;
    baton_engine_load(e, id, &inst, &err);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(baton_instance_root_vars(inst), "approved");
    TAP_OK(cJSON_IsTrue(a), "child variables came back");
    baton_instance_free(inst);
    cJSON_Delete(out);
    baton_engine_close(e);
    baton_store_close(st);
}

typedef struct count_ctx {
    int active;
    int total;
} count_ctx;

static int count_instances(void *c, const void *row) {
    count_ctx *x = c;
    const baton_instance_row *r = row;
    x->total++;
    x->active += r->state == BATON_INSTANCE_ACTIVE;
    return 0;
}

/* One message reaches one waiting instance per process, then start events. */
static void test_message_per_process(void) {
    baton_store *st;
    baton_engine *e = open_engine(&st, false);
    baton_error err;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_deploy(e, "m.bpmn", two_waiters_xml, strlen(two_waiters_xml), NULL,
                                   NULL, &err),
               BATON_OK, "deploy three processes");
    cJSON *v = cJSON_Parse("{\"orderId\":\"L-7\"}");
    int64_t w1, w2, b1;
    baton_engine_start(e, "ward", 0, v, NULL, &w1, &err);
    baton_engine_start(e, "ward", 0, v, NULL, &w2, &err);
    baton_engine_start(e, "billing", 0, v, NULL, &b1, &err);
    baton_correlation c;
    TAP_EQ_INT(baton_engine_correlate(e, "lab-result", "L-7", NULL, NULL, 0, 0, &c, &err), BATON_OK,
               "correlate");
    TAP_EQ_INT(state_of(e, w1), BATON_INSTANCE_COMPLETED, "the oldest ward instance got it");
    TAP_EQ_INT(state_of(e, w2), BATON_INSTANCE_ACTIVE, "the second ward instance did not");
    TAP_EQ_INT(state_of(e, b1), BATON_INSTANCE_COMPLETED, "the billing instance got it too");
    count_ctx cc = {0, 0};
    st->ops->instance_list(st, count_instances, &cc, NULL);
    TAP_EQ_INT(cc.total, 4, "and the intake process started once");
    baton_engine_correlate(e, "lab-result", "L-7", NULL, NULL, 0, 0, &c, &err);
    cc.total = cc.active = 0;
    st->ops->instance_list(st, count_instances, &cc, NULL);
    TAP_EQ_INT(cc.total, 4, "no second intake instance while one with key L-7 is active");
    TAP_EQ_INT(state_of(e, w2), BATON_INSTANCE_COMPLETED, "the second message reached ward 2");
    cJSON_Delete(v);
    baton_engine_close(e);
    baton_store_close(st);
}

/* Workers: locks, completion by the lock holder, failure, incident, resolve. */
static void test_jobs(void) {
    baton_store *st;
    baton_engine *e = open_engine(&st, false);
    fake_now = 1000000;
    baton_error err;
    baton_error_clear(&err);
    baton_engine_deploy(e, "o.bpmn", order_xml, strlen(order_xml), NULL, NULL, &err);
    cJSON *v = cJSON_Parse("{\"orderId\":\"J-1\",\"amount\":42}");
    int64_t id;
    baton_engine_start(e, "order", 0, v, NULL, &id, &err);
    const char *want[] = {"amount"};
    baton_job_activation a = {"charge", "w1", 10, 10000, want, 1};
    cJSON *jobs = NULL;
    TAP_EQ_INT(baton_engine_activate_jobs(e, &a, &jobs, &err), BATON_OK, "activate");
    TAP_EQ_INT(cJSON_GetArraySize(jobs), 1, "one job handed out");
    cJSON *j = cJSON_GetArrayItem(jobs, 0);
    int64_t key = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "key"));
    cJSON *vars = cJSON_GetObjectItem(j, "variables");
    TAP_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(vars, "amount")), 42, "fetched variable");
    TAP_OK(!cJSON_GetObjectItem(vars, "orderId"), "only the variables asked for");
    cJSON *again = NULL;
    a.worker = "w2";
    baton_engine_activate_jobs(e, &a, &again, &err);
    TAP_EQ_INT(cJSON_GetArraySize(again), 0, "a locked job is not handed out twice");
    cJSON_Delete(again);
    baton_input in = {0};
    in.kind = BATON_IN_COMPLETE;
    in.key = key;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_job_input(e, id, &in, "w2", &err), BATON_CONFLICT,
               "another worker cannot complete it");
    TAP_CONTAINS(err.message, "locked by worker 'w1'", "and is told who holds it");
    /* the lock expires: the job comes back */
    fake_now += 20000;
    baton_engine_activate_jobs(e, &a, &again, &err);
    TAP_EQ_INT(cJSON_GetArraySize(again), 1, "after the lock expired, w2 gets it");
    cJSON_Delete(again);
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_job_input(e, id, &in, "w1", &err), BATON_CONFLICT,
               "w1's late completion is refused");
    /* fail until out of retries: an incident, the instance waits intact */
    in.kind = BATON_IN_JOB_FAIL;
    in.retries = 0;
    in.text = "card declined";
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_job_input(e, id, &in, "w2", &err), BATON_OK, "fail with no retries");
    baton_instance *inst = NULL;
    baton_engine_load(e, id, &inst, &err);
    TAP_EQ_INT(baton_instance_incident_count(inst), 1, "an incident");
    int64_t inc = baton_instance_incident_at(inst, 0)->key;
    TAP_EQ_STR(baton_instance_incident_at(inst, 0)->message, "card declined", "with the reason");
    baton_instance_free(inst);
    a.worker = "w3";
    baton_engine_activate_jobs(e, &a, &again, &err);
    TAP_EQ_INT(cJSON_GetArraySize(again), 0, "a job without retries is not handed out");
    cJSON_Delete(again);
    baton_input res = {0};
    res.kind = BATON_IN_RESOLVE;
    res.key = inc;
    res.retries = 2;
    TAP_EQ_INT(baton_engine_apply(e, id, &res, &err), BATON_OK, "resolve with new retries");
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_apply(e, id, &res, &err), BATON_NOTFOUND,
               "resolving it again: no such incident");
    baton_engine_activate_jobs(e, &a, &again, &err);
    TAP_EQ_INT(cJSON_GetArraySize(again), 1, "the job is back");
    TAP_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(again, 0), "retries")),
               2, "with its new retries");
    cJSON_Delete(again);
    TAP_EQ_INT(baton_engine_job_lock(e, id, key, "w3", 60000, &err), BATON_OK, "extend the lock");
    in.kind = BATON_IN_COMPLETE;
    in.text = NULL;
    TAP_EQ_INT(baton_engine_job_input(e, id, &in, "w3", &err), BATON_OK, "w3 completes");
    baton_error_clear(&err);
    TAP_EQ_INT(baton_engine_job_input(e, id, &in, "w3", &err), BATON_NOTFOUND,
               "a second completion: the job is gone, nothing changes");
    cJSON_Delete(jobs);
    cJSON_Delete(v);
    baton_engine_close(e);
    baton_store_close(st);
}

static baton_scheduler *sched;
static void hook(void *cookie, const baton_commit_info *info) {
    (void)cookie;
    baton_scheduler_notify(sched, info);
}

static void test_scheduler(void) {
    baton_store *st;
    baton_engine *e = open_engine(&st, true);
    baton_error err;
    baton_error_clear(&err);
    baton_engine_deploy(e, "t.bpmn", timer_xml, strlen(timer_xml), NULL, NULL, &err);
    baton_scheduler_opts so = {.max_sleep_ms = 60000};
    baton_engine_set_commit_hook(e, hook, NULL);
    TAP_EQ_INT(baton_scheduler_start(e, &so, &sched, &err), BATON_OK, "scheduler starts");
    usleep(100000); /* it is asleep now, with nothing due for a minute */
    int64_t id;
    baton_engine_start(e, "wait", 0, NULL, NULL, &id, &err);
    int waited = 0;
    while (state_of(e, id) == BATON_INSTANCE_ACTIVE && waited < 50) {
        usleep(50000);
        waited++;
    }
    TAP_EQ_INT(state_of(e, id), BATON_INSTANCE_COMPLETED,
               "a timer created while the scheduler slept fired (woken by the commit)");
    TAP_OK(waited >= 4 && waited < 20, "it fired near its due time (%d ms)", waited * 50);
    TAP_EQ_INT(baton_scheduler_fired(sched), 1, "fired once");
    baton_scheduler_stop(sched);
    baton_engine_close(e);
    baton_store_close(st);
}

int main(void) {
    baton_alloc_install_cjson();
    TAP_RUN(test_deploy_versions);
    TAP_RUN(test_job_message_flow);
    TAP_RUN(test_call_and_cancel);
    TAP_RUN(test_message_per_process);
    TAP_RUN(test_jobs);
    TAP_RUN(test_scheduler);
    return tap_done();
}
