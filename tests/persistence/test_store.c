/*
 * test_store.c - the store conformance suite: the same cases against every
 * backend (`test_store memory|sqlite|postgres`), checking the semantics of
 * store.h that memory.c defines: ids, ordering, NOTFOUND and CONFLICT,
 * correlation matching, expiry, job locks and their expiry, listings whose
 * callbacks call the store again, retention. On the durable stores also:
 * rollback, durability across a reopen, the failed-handle rule, a write the
 * database refuses (wherever the store reports it, nothing of its
 * transaction is written), row locks between two connections, the schema
 * version, and that both durable stores have the same logical schema.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <time.h>

#include "common/alloc.h"
#include "persistence/store.h"
#include "tests/persistence/helpers.h"
#include "tests/tap.h"

static test_db db;
static baton_store *S;
static const baton_store_ops *O;
static baton_error E;

#define ERR (baton_error_clear(&E), &E)

static baton_store *open_store(void) {
    baton_store *s = NULL;
    baton_error err;
    baton_error_clear(&err);
    if (baton_store_open(db.url, &s, &err)) {
        printf("# open %s: %s\n", db.url, err.message);
        return NULL;
    }
    return s;
}

static void reopen(void) {
    if (strcmp(db.kind, "memory") == 0)
        return;
    baton_store_close(S);
    S = open_store();
    O = S ? S->ops : NULL;
}

/* ---- counters for listings --------------------------------------------------------- */

typedef struct collect {
    int n;
    int64_t a[64], b[64];
    char s[64][64];
} collect;

static int collect_inst(void *c, const void *row) {
    collect *x = c;
    const baton_instance_row *r = row;
    if (x->n < 64) {
        x->a[x->n] = r->id;
        snprintf(x->s[x->n], 64, "%s", r->business_key ? r->business_key : "");
        x->n++;
    }
    return 0;
}

static int collect_job(void *c, const void *row) {
    collect *x = c;
    const baton_job_row *r = row;
    if (x->n < 64) {
        x->a[x->n] = r->instance;
        x->b[x->n] = r->key;
        snprintf(x->s[x->n], 64, "%s", r->worker ? r->worker : "");
        x->n++;
    }
    return 0;
}

static int collect_timer(void *c, const void *row) {
    collect *x = c;
    const baton_timer_row *r = row;
    if (x->n < 64) {
        x->a[x->n] = r->instance;
        x->b[x->n] = r->key;
        x->n++;
    }
    return 0;
}

static int collect_sub(void *c, const void *row) {
    collect *x = c;
    const baton_sub_row *r = row;
    if (x->n < 64) {
        x->a[x->n] = r->instance;
        x->b[x->n] = r->key;
        x->n++;
    }
    return 0;
}

static int collect_text(void *c, const void *row) {
    collect *x = c;
    if (x->n < 64)
        snprintf(x->s[x->n++], 64, "%s", (const char *)row);
    return 0;
}

static int collect_def(void *c, const void *row) {
    collect *x = c;
    const baton_definition_row *r = row;
    if (x->n < 64) {
        snprintf(x->s[x->n], 64, "%s:%d", r->process_id, r->version);
        x->a[x->n++] = r->deployment;
    }
    return 0;
}

static int collect_task(void *c, const void *row) {
    collect *x = c;
    const baton_task_row *r = row;
    if (x->n < 64) {
        x->a[x->n] = r->instance;
        x->b[x->n] = r->key;
        snprintf(x->s[x->n], 64, "%s", r->assignee ? r->assignee : "");
        x->n++;
    }
    return 0;
}

static int collect_incident(void *c, const void *row) {
    collect *x = c;
    const baton_incident_row *r = row;
    if (x->n < 64) {
        x->a[x->n] = r->instance;
        x->b[x->n] = r->key;
        snprintf(x->s[x->n], 64, "%s", r->kind ? r->kind : "");
        x->n++;
    }
    return 0;
}

static int stop_at_first(void *c, const void *row) {
    (void)row;
    (*(int *)c)++;
    return 1;
}

/* ---- helpers ------------------------------------------------------------------------ */

static int64_t put_instance(int64_t parent, int64_t parent_key, const char *bk, int state,
                            int64_t ended) {
    int64_t id = 0;
    O->begin(S, ERR);
    O->instance_new_id(S, &id, ERR);
    baton_instance_row r = {id, 1, "proc", 1, state, bk, parent, parent_key, 1000, ended, 0, 0};
    char st[64];
    snprintf(st, sizeof st, "{\"id\":%lld,\"elements\":[]}", (long long)id);
    baton_status s = O->instance_put(S, &r, st, ERR);
    if (!s)
        s = O->commit(S, ERR);
    else
        O->rollback(S);
    if (s)
        printf("# put_instance: %s\n", E.message);
    return id;
}

static void append(int64_t id, uint64_t from, uint64_t to) {
    O->begin(S, ERR);
    for (uint64_t q = from; q <= to; q++) {
        char j[64];
        snprintf(j, sizeof j, "{\"seq\":%llu}", (unsigned long long)q);
        O->history_append(S, id, q, 1000 + (int64_t)q, "flow_taken", "f1", j, ERR);
    }
    O->commit(S, ERR);
}

/* ---- cases -------------------------------------------------------------------------- */

static void test_deployments(void) {
    /* bytes that are not UTF-8 and a NUL-free but odd payload: stored byte for byte */
    static const char xml1[] = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><d>\xe9\xe8</d>";
    baton_deployment_row d1 = {0, "one.bpmn", xml1, sizeof xml1 - 1, "hash1", 111};
    baton_deployment_row d2 = {0, NULL, "<d/>", 4, "hash2", 222};
    TAP_EQ_INT(O->begin(S, ERR), BATON_OK, "begin");
    TAP_EQ_INT(O->deployment_put(S, &d1, ERR), BATON_OK, "put 1");
    TAP_EQ_INT(O->deployment_put(S, &d2, ERR), BATON_OK, "put 2");
    TAP_EQ_INT(O->commit(S, ERR), BATON_OK, "commit");
    TAP_OK(d1.id > 0 && d2.id > d1.id, "ids assigned increasing (%lld, %lld)", (long long)d1.id,
           (long long)d2.id);
    int64_t id = 0;
    TAP_EQ_INT(O->deployment_find_hash(S, "hash2", &id, ERR), BATON_OK, "find by hash");
    TAP_EQ_INT(id, d2.id, "found the right one");
    TAP_EQ_INT(O->deployment_find_hash(S, "nope", &id, ERR), BATON_NOTFOUND, "unknown hash");
    reopen();
    baton_deployment_row g;
    TAP_EQ_INT(O->deployment_get(S, d1.id, &g, ERR), BATON_OK, "get");
    TAP_EQ_INT(g.xml_len, sizeof xml1 - 1, "xml length kept");
    TAP_OK(memcmp(g.xml, xml1, sizeof xml1 - 1) == 0 && g.xml[g.xml_len] == '\0',
           "xml byte for byte, NUL-terminated");
    TAP_EQ_STR(g.name, "one.bpmn", "name");
    TAP_EQ_STR(g.hash, "hash1", "hash");
    TAP_EQ_INT(g.created, 111, "created");
    TAP_EQ_INT(O->deployment_get(S, 999999, &g, ERR), BATON_NOTFOUND, "get unknown");
    TAP_CONTAINS(E.message, "no deployment 999999", "NOTFOUND says what");
    TAP_EQ_INT(O->deployment_get(S, d2.id, &g, ERR), BATON_OK, "get 2");
    TAP_OK(g.name == NULL, "NULL name stays NULL");

    baton_definition_row a = {"order", 1, d1.id}, b = {"order", 2, d2.id}, c = {"ship", 1, d2.id};
    O->begin(S, ERR);
    TAP_EQ_INT(O->definition_put(S, &a, ERR), BATON_OK, "definition 1");
    TAP_EQ_INT(O->definition_put(S, &b, ERR), BATON_OK, "definition 2");
    TAP_EQ_INT(O->definition_put(S, &c, ERR), BATON_OK, "definition 3");
    O->commit(S, ERR);
    baton_definition_row r;
    TAP_EQ_INT(O->definition_latest(S, "order", &r, ERR), BATON_OK, "latest");
    TAP_EQ_INT(r.version, 2, "latest version");
    TAP_EQ_INT(r.deployment, d2.id, "latest deployment");
    TAP_EQ_INT(O->definition_get(S, "order", 1, &r, ERR), BATON_OK, "get version 1");
    TAP_EQ_INT(r.deployment, d1.id, "its deployment");
    TAP_EQ_STR(r.process_id, "order", "process id");
    TAP_EQ_INT(O->definition_get(S, "order", 3, &r, ERR), BATON_NOTFOUND, "no version 3");
    TAP_EQ_INT(O->definition_latest(S, "nope", &r, ERR), BATON_NOTFOUND, "no such process");
    collect l = {0};
    TAP_EQ_INT(O->definition_list(S, collect_def, &l, ERR), BATON_OK, "list definitions");
    TAP_EQ_INT(l.n, 3, "three definitions");
    TAP_EQ_STR(l.s[0], "order:1", "insertion order 1");
    TAP_EQ_STR(l.s[2], "ship:1", "insertion order 3");
    if (durable(&db)) {
        O->begin(S, ERR);
        TAP_EQ_INT(O->definition_put(S, &a, ERR), BATON_CONFLICT, "same (process, version) twice");
        O->rollback(S);
        TAP_OK(!O->failed(S), "a conflict leaves the handle usable");
    }
}

static void test_instances(void) {
    int64_t a = put_instance(0, 0, "order-1", BATON_INSTANCE_ACTIVE, 0);
    int64_t b = put_instance(a, 7, NULL, BATON_INSTANCE_ACTIVE, 0);
    int64_t c = put_instance(a, 8, "x", BATON_INSTANCE_ACTIVE, 0);
    TAP_OK(a > 0 && b > a && c > b, "ids increase (%lld %lld %lld)", (long long)a, (long long)b,
           (long long)c);
    reopen();
    baton_instance_row r;
    const char *state = NULL;
    TAP_EQ_INT(O->instance_get(S, a, &r, &state, ERR), BATON_OK, "get");
    TAP_EQ_STR(r.business_key, "order-1", "business key");
    TAP_EQ_STR(r.process_id, "proc", "process id");
    TAP_EQ_INT(r.state, BATON_INSTANCE_ACTIVE, "state");
    TAP_EQ_INT(r.started, 1000, "started");
    TAP_OK(state && strstr(state, "\"elements\":[]"), "state text kept");
    TAP_EQ_INT(O->instance_get(S, b, &r, NULL, ERR), BATON_OK, "get without state");
    TAP_OK(r.business_key == NULL, "NULL business key");
    TAP_EQ_INT(r.parent_id, a, "parent");
    TAP_EQ_INT(r.parent_key, 7, "parent key");
    TAP_EQ_INT(O->instance_get(S, 424242, &r, NULL, ERR), BATON_NOTFOUND, "unknown instance");
    TAP_CONTAINS(E.message, "no instance 424242", "NOTFOUND says what");

    /* update in place */
    O->begin(S, ERR);
    TAP_EQ_INT(O->instance_get(S, a, &r, NULL, ERR), BATON_OK, "get in tx");
    baton_instance_row u = r;
    u.process_id = "proc";
    u.business_key = "order-1";
    u.state = BATON_INSTANCE_COMPLETED;
    u.ended = 5000;
    u.seq = 12;
    u.incidents = 2;
    TAP_EQ_INT(O->instance_put(S, &u, "{\"v\":2}", ERR), BATON_OK, "update");
    TAP_EQ_INT(O->commit(S, ERR), BATON_OK, "commit");
    reopen();
    TAP_EQ_INT(O->instance_get(S, a, &r, &state, ERR), BATON_OK, "get updated");
    TAP_EQ_INT(r.state, BATON_INSTANCE_COMPLETED, "state updated");
    TAP_EQ_INT(r.ended, 5000, "ended");
    TAP_EQ_INT(r.seq, 12, "seq");
    TAP_EQ_INT(r.incidents, 2, "incidents");
    TAP_EQ_STR(state, "{\"v\":2}", "state replaced");

    collect l = {0};
    TAP_EQ_INT(O->instance_list(S, collect_inst, &l, ERR), BATON_OK, "list");
    TAP_OK(l.n >= 3 && l.a[0] < l.a[1], "listed in id order");
    collect k = {0};
    TAP_EQ_INT(O->instance_children(S, a, 0, collect_inst, &k, ERR), BATON_OK, "children, any key");
    TAP_EQ_INT(k.n, 2, "two children");
    collect k8 = {0};
    O->instance_children(S, a, 8, collect_inst, &k8, ERR);
    TAP_EQ_INT(k8.n, 1, "one child at key 8");
    TAP_EQ_INT(k8.a[0], c, "the right one");
    TAP_EQ_STR(k8.s[0], "x", "with its business key");
}

static void test_history(void) {
    int64_t id = put_instance(0, 0, NULL, BATON_INSTANCE_ACTIVE, 0);
    append(id, 1, 5);
    reopen();
    collect l = {0};
    TAP_EQ_INT(O->history_read(S, id, 0, 0, collect_text, &l, ERR), BATON_OK, "read all");
    TAP_EQ_INT(l.n, 5, "five records");
    TAP_EQ_STR(l.s[0], "{\"seq\":1}", "first");
    TAP_EQ_STR(l.s[4], "{\"seq\":5}", "last");
    collect m = {0};
    O->history_read(S, id, 2, 2, collect_text, &m, ERR);
    TAP_EQ_INT(m.n, 2, "after 2, limit 2");
    TAP_EQ_STR(m.s[0], "{\"seq\":3}", "starts at 3");
    TAP_EQ_INT(O->history_read(S, 999999, 0, 0, collect_text, &m, ERR), BATON_NOTFOUND,
               "read unknown instance");
    /* a long history comes back whole and in order */
    append(id, 6, 1300);
    collect n = {0};
    O->history_read(S, id, 1000, 0, collect_text, &n, ERR);
    TAP_EQ_STR(n.s[0], "{\"seq\":1001}", "long history: after 1000");
    int stop = 0;
    O->history_read(S, id, 0, 0, stop_at_first, &stop, ERR);
    TAP_EQ_INT(stop, 1, "a callback can stop the reading");

    O->begin(S, ERR);
    TAP_EQ_INT(O->history_append(S, id, 1302, 1, "x", NULL, "{}", ERR), BATON_CONFLICT,
               "a gap is refused");
    TAP_CONTAINS(E.message, "record 1302 after 1300", "and says where");
    O->rollback(S);
    if (!durable(&db))
        return; /* memory cannot roll back: the store is failed now (memory.c) */
    TAP_OK(!O->failed(S), "a refusal leaves the handle usable");
    O->begin(S, ERR);
    TAP_EQ_INT(O->history_append(S, id, 5, 1, "x", NULL, "{}", ERR), BATON_CONFLICT,
               "a repeated seq is refused");
    O->rollback(S);
    O->begin(S, ERR);
    TAP_EQ_INT(O->history_append(S, id + 1000000, 1, 1, "x", NULL, "{}", ERR), BATON_NOTFOUND,
               "no such instance");
    O->rollback(S);
}

static void test_jobs(void) {
    int64_t i1 = put_instance(0, 0, NULL, BATON_INSTANCE_ACTIVE, 0);
    baton_job_row j1 = {i1, 10, "charge", "task1", 3, 0, NULL, 0, 1};
    baton_job_row j2 = {i1, 11, "charge", "task2", 3, 0, NULL, 0, 2};
    baton_job_row j3 = {i1, 12, "ship", "task3", 3, 0, NULL, 0, 3};
    baton_job_row j4 = {i1, 13, "charge", "task4", 0, 0, NULL, 0, 4};    /* no retries */
    baton_job_row j5 = {i1, 14, "charge", "task5", 2, 5000, NULL, 0, 5}; /* backoff */
    O->begin(S, ERR);
    TAP_EQ_INT(O->job_put(S, &j1, ERR), BATON_OK, "put");
    O->job_put(S, &j2, ERR);
    O->job_put(S, &j3, ERR);
    O->job_put(S, &j4, ERR);
    O->job_put(S, &j5, ERR);
    O->commit(S, ERR);
    baton_job_row g;
    TAP_EQ_INT(O->job_get(S, i1, 11, &g, ERR), BATON_OK, "get");
    TAP_EQ_STR(g.type, "charge", "type");
    TAP_EQ_STR(g.element, "task2", "element");
    TAP_EQ_INT(g.retries, 3, "retries");
    TAP_OK(g.worker == NULL, "not locked");
    TAP_EQ_INT(O->job_get(S, i1, 99, &g, ERR), BATON_NOTFOUND, "get unknown");

    collect a = {0};
    TAP_EQ_INT(O->job_activate(S, "charge", 10, "w1", 1000, 30000, collect_job, &a, ERR), BATON_OK,
               "activate");
    TAP_EQ_INT(a.n, 2, "only available jobs with retries of that type");
    TAP_EQ_INT(a.b[0], 10, "oldest first");
    TAP_EQ_STR(a.s[0], "w1", "locked for the worker");
    collect b = {0};
    O->job_activate(S, "charge", 10, "w2", 2000, 30000, collect_job, &b, ERR);
    TAP_EQ_INT(b.n, 0, "locked jobs are not handed out again");
    collect c = {0};
    O->job_activate(S, "charge", 1, "w2", 31001, 30000, collect_job, &c, ERR);
    TAP_EQ_INT(c.n, 1, "an expired lock returns the job to the queue (max 1)");
    TAP_EQ_INT(c.b[0], 10, "the oldest");
    collect d = {0};
    O->job_activate(S, "charge", 10, "w3", 31001, 30000, collect_job, &d, ERR);
    TAP_EQ_INT(d.n, 2, "the other expired one and the one after its backoff");
    TAP_OK(d.n == 2 && d.b[0] == 11 && d.b[1] == 14, "in order");
    reopen();
    TAP_EQ_INT(O->job_get(S, i1, 10, &g, ERR), BATON_OK, "lock survives a reopen");
    TAP_EQ_STR(g.worker, "w2", "lock owner");
    TAP_EQ_INT(g.lock_expiry, 61001, "lock expiry");

    /* upsert keeps the queue position; the failed job's new row clears the lock */
    baton_job_row f = j1;
    f.retries = 2;
    f.available_at = 70000;
    O->begin(S, ERR);
    TAP_EQ_INT(O->job_put(S, &f, ERR), BATON_OK, "replace");
    O->commit(S, ERR);
    collect e = {0};
    O->job_activate(S, "charge", 10, "w4", 100000, 1000, collect_job, &e, ERR);
    TAP_OK(e.n == 3 && e.b[0] == 10, "a replaced job keeps its place in the queue");
    int stop = 0;
    O->job_activate(S, "ship", 10, "w5", 100000, 1000, stop_at_first, &stop, ERR);
    TAP_EQ_INT(stop, 1, "the callback saw one");
    collect l = {0};
    TAP_EQ_INT(O->job_list(S, collect_job, &l, ERR), BATON_OK, "list");
    TAP_EQ_INT(l.n, 5, "five jobs");
    O->begin(S, ERR);
    TAP_EQ_INT(O->job_delete(S, i1, 12, ERR), BATON_OK, "delete");
    TAP_EQ_INT(O->job_delete(S, i1, 12, ERR), BATON_NOTFOUND, "delete again");
    O->commit(S, ERR);
    TAP_EQ_INT(O->job_get(S, i1, 12, &g, ERR), BATON_NOTFOUND, "gone");
}

static void test_timers(void) {
    baton_timer_row t1 = {5, 1, 3000, 1, "t1", 0};
    baton_timer_row t2 = {4, 2, 2000, 1, "t2", 0};
    baton_timer_row t3 = {3, 3, 2000, 1, "t3", 0};
    baton_timer_row t4 = {0, (int64_t)1 << 24 | 2, 9000, 1, "start", -1};
    int64_t next = 0;
    TAP_EQ_INT(O->timer_next(S, &next, ERR), BATON_OK, "next with none");
    TAP_EQ_INT(next, INT64_MAX, "INT64_MAX when there is none");
    O->begin(S, ERR);
    TAP_EQ_INT(O->timer_put(S, &t1, ERR), BATON_OK, "put");
    O->timer_put(S, &t2, ERR);
    O->timer_put(S, &t3, ERR);
    O->timer_put(S, &t4, ERR);
    O->commit(S, ERR);
    O->timer_next(S, &next, ERR);
    TAP_EQ_INT(next, 2000, "earliest");
    collect d = {0};
    TAP_EQ_INT(O->timer_due(S, 3000, 0, collect_timer, &d, ERR), BATON_OK, "due");
    TAP_EQ_INT(d.n, 3, "three due at 3000");
    TAP_OK(d.a[0] == 3 && d.a[1] == 4 && d.a[2] == 5, "by due time, then instance");
    collect e = {0};
    O->timer_due(S, 3000, 1, collect_timer, &e, ERR);
    TAP_EQ_INT(e.n, 1, "limit");
    /* replacing a timer (same instance and key) moves it */
    baton_timer_row moved = t3;
    moved.due = 8000;
    O->begin(S, ERR);
    O->timer_put(S, &moved, ERR);
    O->commit(S, ERR);
    collect f = {0};
    O->timer_due(S, 3000, 0, collect_timer, &f, ERR);
    TAP_EQ_INT(f.n, 2, "a timer put again with the same key is moved, not doubled");
    reopen();
    collect g = {0};
    O->timer_due(S, 10000, 0, collect_timer, &g, ERR);
    TAP_EQ_INT(g.n, 4, "timers survive a reopen");
    TAP_OK(g.a[3] == 0, "the start timer is last");
    O->begin(S, ERR);
    TAP_EQ_INT(O->timer_delete(S, 4, 2, ERR), BATON_OK, "delete");
    TAP_EQ_INT(O->timer_delete(S, 4, 2, ERR), BATON_NOTFOUND, "delete again");
    O->timer_delete(S, 5, 1, ERR);
    O->timer_delete(S, 3, 3, ERR);
    O->timer_delete(S, 0, t4.key, ERR);
    O->commit(S, ERR);
    O->timer_next(S, &next, ERR);
    TAP_EQ_INT(next, INT64_MAX, "all gone");
}

static void test_subscriptions(void) {
    baton_sub_row any = {1, 1, "paid", NULL, "r1"};
    baton_sub_row k42 = {2, 1, "paid", "42", "r2"};
    baton_sub_row k43 = {3, 1, "paid", "43", "r3"};
    baton_sub_row other = {4, 1, "shipped", "42", "r4"};
    baton_sub_row sig = {5, 1, "alarm", NULL, "s1"};
    O->begin(S, ERR);
    TAP_EQ_INT(O->sub_put(S, 0, &any, ERR), BATON_OK, "put");
    O->sub_put(S, 0, &k42, ERR);
    O->sub_put(S, 0, &k43, ERR);
    O->sub_put(S, 0, &other, ERR);
    O->sub_put(S, 1, &sig, ERR);
    O->commit(S, ERR);
    collect a = {0};
    TAP_EQ_INT(O->sub_find(S, 0, "paid", "42", collect_sub, &a, ERR), BATON_OK, "find");
    TAP_EQ_INT(a.n, 2, "the NULL correlation one and the matching one");
    TAP_OK(a.a[0] == 1 && a.a[1] == 2, "oldest first");
    collect b = {0};
    O->sub_find(S, 0, "paid", NULL, collect_sub, &b, ERR);
    TAP_EQ_INT(b.n, 1, "no key: only the subscription without correlation");
    collect c = {0};
    O->sub_find(S, 1, "alarm", "ignored", collect_sub, &c, ERR);
    TAP_EQ_INT(c.n, 1, "signals ignore correlation");
    collect d = {0};
    O->sub_find(S, 1, "paid", NULL, collect_sub, &d, ERR);
    TAP_EQ_INT(d.n, 0, "kinds are separate");
    O->begin(S, ERR);
    TAP_EQ_INT(O->sub_delete(S, 0, 2, 1, ERR), BATON_OK, "delete");
    TAP_EQ_INT(O->sub_delete(S, 0, 2, 1, ERR), BATON_NOTFOUND, "delete again");
    TAP_EQ_INT(O->sub_delete(S, 1, 1, 1, ERR), BATON_NOTFOUND, "kind matters for delete");
    O->commit(S, ERR);
    reopen();
    collect e = {0};
    O->sub_find(S, 0, "paid", "42", collect_sub, &e, ERR);
    TAP_EQ_INT(e.n, 1, "after delete and reopen");
    O->begin(S, ERR);
    O->sub_delete(S, 0, 1, 1, ERR);
    O->sub_delete(S, 0, 3, 1, ERR);
    O->sub_delete(S, 0, 4, 1, ERR);
    O->sub_delete(S, 1, 5, 1, ERR);
    O->commit(S, ERR);
}

static void test_tasks_incidents(void) {
    baton_task_row t = {7, 3, "review", "Review", "proc", NULL, "{\"formKey\":\"f\"}", 10};
    O->begin(S, ERR);
    TAP_EQ_INT(O->task_put(S, &t, ERR), BATON_OK, "task put");
    t.assignee = "ann";
    TAP_EQ_INT(O->task_put(S, &t, ERR), BATON_OK, "task assign (put again)");
    baton_incident_row in = {7, 4, "review", "job_failed", "boom", 11};
    TAP_EQ_INT(O->incident_put(S, &in, ERR), BATON_OK, "incident put");
    O->commit(S, ERR);
    reopen();
    collect a = {0};
    TAP_EQ_INT(O->task_list(S, collect_task, &a, ERR), BATON_OK, "task list");
    TAP_EQ_INT(a.n, 1, "one task");
    TAP_EQ_STR(a.s[0], "ann", "assignee updated in place");
    collect b = {0};
    TAP_EQ_INT(O->incident_list(S, collect_incident, &b, ERR), BATON_OK, "incident list");
    TAP_EQ_INT(b.n, 1, "one incident");
    TAP_EQ_STR(b.s[0], "job_failed", "kind");
    O->begin(S, ERR);
    TAP_EQ_INT(O->task_delete(S, 7, 3, ERR), BATON_OK, "task delete");
    TAP_EQ_INT(O->task_delete(S, 7, 3, ERR), BATON_NOTFOUND, "task delete again");
    TAP_EQ_INT(O->incident_delete(S, 7, 4, ERR), BATON_OK, "incident delete");
    TAP_EQ_INT(O->incident_delete(S, 7, 4, ERR), BATON_NOTFOUND, "incident delete again");
    O->commit(S, ERR);
}

static void test_wait_drop(void) {
    baton_job_row j = {77, 1, "t", "e", 1, 0, NULL, 0, 1};
    baton_timer_row t = {77, 2, 5, 1, "e", 0};
    baton_sub_row m = {77, 3, "m", NULL, "e"}, g = {77, 4, "g", NULL, "e"};
    baton_task_row k = {77, 5, "e", "n", "p", NULL, NULL, 1};
    O->begin(S, ERR);
    O->job_put(S, &j, ERR);
    O->timer_put(S, &t, ERR);
    O->sub_put(S, 0, &m, ERR);
    O->sub_put(S, 1, &g, ERR);
    O->task_put(S, &k, ERR);
    O->commit(S, ERR);
    O->begin(S, ERR);
    TAP_EQ_INT(O->wait_drop(S, BATON_WAIT_JOB, 77, 1, ERR), BATON_OK, "drop a job");
    TAP_EQ_INT(O->wait_drop(S, BATON_WAIT_JOB, 77, 1, ERR), BATON_OK, "drop it again: no error");
    O->wait_drop(S, BATON_WAIT_TIMER, 77, 2, ERR);
    O->wait_drop(S, BATON_WAIT_MESSAGE, 77, 3, ERR);
    O->wait_drop(S, BATON_WAIT_SIGNAL, 77, 4, ERR);
    O->wait_drop(S, BATON_WAIT_USER_TASK, 77, 5, ERR);
    baton_job_row r;
    TAP_EQ_INT(O->job_get(S, 77, 1, &r, ERR), BATON_NOTFOUND, "gone within the transaction");
    TAP_EQ_INT(O->commit(S, ERR), BATON_OK, "commit");
    collect a = {0}, b = {0}, c = {0}, d = {0};
    O->timer_due(S, 10, 0, collect_timer, &a, ERR);
    O->sub_find(S, 0, "m", NULL, collect_sub, &b, ERR);
    O->sub_find(S, 1, "g", NULL, collect_sub, &c, ERR);
    O->task_list(S, collect_task, &d, ERR);
    bool left = false;
    for (int i = 0; i < a.n; i++)
        left |= a.a[i] == 77;
    for (int i = 0; i < d.n; i++)
        left |= d.a[i] == 77;
    TAP_OK(!left && b.n == 0 && c.n == 0, "timer, subscriptions and user task gone");
}

static void test_outbox_messages(void) {
    baton_event_row e;
    TAP_EQ_INT(O->event_peek(S, &e, ERR), BATON_NOTFOUND, "empty outbox");
    baton_event_row e1 = {0, BATON_OUTBOX_SIGNAL, 5, 6, "{\"name\":\"a\"}", 1};
    baton_event_row e2 = {0, BATON_OUTBOX_MESSAGE, 7, 8, NULL, 2};
    O->begin(S, ERR);
    TAP_EQ_INT(O->event_push(S, &e1, ERR), BATON_OK, "push");
    O->event_push(S, &e2, ERR);
    O->commit(S, ERR);
    TAP_OK(e1.id > 0 && e2.id > e1.id, "ids increase");
    reopen();
    TAP_EQ_INT(O->event_peek(S, &e, ERR), BATON_OK, "peek");
    TAP_EQ_INT(e.id, e1.id, "oldest first");
    TAP_EQ_INT(e.kind, BATON_OUTBOX_SIGNAL, "kind");
    TAP_EQ_STR(e.payload, "{\"name\":\"a\"}", "payload");
    O->begin(S, ERR);
    TAP_EQ_INT(O->event_delete(S, e1.id, ERR), BATON_OK, "delete");
    TAP_EQ_INT(O->event_delete(S, e1.id, ERR), BATON_NOTFOUND, "delete again");
    O->commit(S, ERR);
    O->event_peek(S, &e, ERR);
    TAP_EQ_INT(e.id, e2.id, "next");
    TAP_OK(e.payload == NULL, "NULL payload");
    O->begin(S, ERR);
    O->event_delete(S, e2.id, ERR);
    O->commit(S, ERR);

    baton_message_row m1 = {0, "paid", "42", "msg-1", "{\"a\":1}", 5000};
    baton_message_row m2 = {0, "paid", NULL, NULL, NULL, 5000};
    baton_message_row m3 = {0, "paid", "42", NULL, "{\"a\":3}", 9000};
    O->begin(S, ERR);
    TAP_EQ_INT(O->message_put(S, &m1, ERR), BATON_OK, "buffer");
    O->message_put(S, &m2, ERR);
    O->message_put(S, &m3, ERR);
    O->commit(S, ERR);
    TAP_OK(m1.id > 0 && m3.id > m1.id, "message ids increase");
    baton_message_row f;
    TAP_EQ_INT(O->message_find(S, "paid", "42", 1000, &f, ERR), BATON_OK, "find");
    TAP_EQ_INT(f.id, m1.id, "oldest live one");
    TAP_EQ_STR(f.variables, "{\"a\":1}", "variables");
    TAP_EQ_INT(O->message_find(S, "paid", "42", 6000, &f, ERR), BATON_OK, "find later");
    TAP_EQ_INT(f.id, m3.id, "the first one expired");
    TAP_EQ_INT(O->message_find(S, "paid", NULL, 1000, &f, ERR), BATON_OK, "no correlation");
    TAP_EQ_INT(f.id, m2.id, "matches only the one without correlation");
    TAP_EQ_INT(O->message_find(S, "paid", "41", 1000, &f, ERR), BATON_NOTFOUND, "other key");
    TAP_EQ_INT(O->message_find_id(S, "msg-1", 1000, &f, ERR), BATON_OK, "by message id");
    TAP_EQ_INT(f.id, m1.id, "that one");
    TAP_EQ_INT(O->message_find_id(S, "msg-1", 5000, &f, ERR), BATON_NOTFOUND, "not once expired");
    O->begin(S, ERR);
    TAP_EQ_INT(O->message_delete(S, m2.id, ERR), BATON_OK, "delete");
    TAP_EQ_INT(O->message_delete(S, m2.id, ERR), BATON_NOTFOUND, "delete again");
    O->commit(S, ERR);
}

typedef struct pairs {
    int n;
    char s[16][64];
} pairs;

static int take_pair(void *c, const void *row) {
    pairs *p = c;
    const baton_sub_row *r = row;
    if (p->n < 16)
        snprintf(p->s[p->n++], 64, "%lld/%s", (long long)r->instance,
                 r->correlation ? r->correlation : "-");
    return 0;
}

static void test_message_waiting(void) {
    baton_sub_row k1 = {901, 1, "w", "k1", "e"}, any = {902, 1, "w", NULL, "e"};
    baton_sub_row other = {903, 1, "v", "k1", "e"};
    baton_message_row m1 = {0, "w", "k1", NULL, NULL, 9000};
    baton_message_row m2 = {0, "w", "k2", NULL, NULL, 9000};
    baton_message_row m3 = {0, "w", NULL, NULL, NULL, 9000};
    baton_message_row old = {0, "w", "k1", NULL, NULL, 10};
    O->begin(S, ERR);
    O->sub_put(S, 0, &k1, ERR);
    O->sub_put(S, 0, &any, ERR);
    O->sub_put(S, 0, &other, ERR);
    O->message_put(S, &old, ERR);
    O->message_put(S, &m1, ERR);
    O->message_put(S, &m2, ERR);
    O->message_put(S, &m3, ERR);
    O->commit(S, ERR);
    pairs p = {0};
    TAP_EQ_INT(O->message_waiting(S, 1000, 0, take_pair, &p, ERR), BATON_OK, "message_waiting");
    TAP_EQ_INT(p.n, 4, "live messages a subscription matches");
    TAP_OK(p.n == 4 && strcmp(p.s[0], "901/k1") == 0 && strcmp(p.s[1], "902/k1") == 0 &&
               strcmp(p.s[2], "902/k2") == 0 && strcmp(p.s[3], "902/-") == 0,
           "by message, then subscription: %s %s %s %s", p.s[0], p.s[1], p.s[2], p.s[3]);
    pairs q = {0};
    O->message_waiting(S, 1000, 2, take_pair, &q, ERR);
    TAP_EQ_INT(q.n, 2, "limit");
    O->begin(S, ERR);
    O->sub_delete(S, 0, 901, 1, ERR);
    O->sub_delete(S, 0, 902, 1, ERR);
    O->sub_delete(S, 0, 903, 1, ERR);
    O->message_delete(S, old.id, ERR);
    O->message_delete(S, m1.id, ERR);
    O->message_delete(S, m2.id, ERR);
    O->message_delete(S, m3.id, ERR);
    O->commit(S, ERR);
}

/* A listing's callback may call the store: rows are not invalidated under it. */
typedef struct reenter {
    int n;
    bool ok;
} reenter;

static int reenter_cb(void *c, const void *row) {
    reenter *x = c;
    const baton_instance_row *r = row;
    int64_t id = r->id;
    baton_instance_row again;
    baton_error e;
    baton_error_clear(&e);
    if (O->instance_get(S, id, &again, NULL, &e) != BATON_OK || again.id != id)
        x->ok = false;
    x->n++;
    return 0;
}

static void test_reentrant_listing(void) {
    reenter x = {0, true};
    TAP_EQ_INT(O->instance_list(S, reenter_cb, &x, ERR), BATON_OK, "list");
    TAP_OK(x.n > 0 && x.ok, "callbacks read the store during a listing (%d rows)", x.n);
}

/* ---- filtered instance queries ------------------------------------------------------ */

static int64_t put_row(baton_instance_row r) {
    O->begin(S, ERR);
    O->instance_new_id(S, &r.id, ERR);
    baton_status s = O->instance_put(S, &r, "{}", ERR);
    if (!s)
        s = O->commit(S, ERR);
    else
        O->rollback(S);
    if (s)
        printf("# put_row: %s\n", E.message);
    return r.id;
}

typedef struct ids {
    int n;
    int64_t id[256];
    bool reentered_ok;
    bool reenter;
    int stop_after; /* 0 = never */
} ids;

static int collect_ids(void *c, const void *row) {
    ids *x = c;
    const baton_instance_row *r = row;
    if (x->reenter) {
        baton_instance_row again;
        baton_error e;
        baton_error_clear(&e);
        if (O->instance_get(S, r->id, &again, NULL, &e) != BATON_OK || again.id != r->id)
            x->reentered_ok = false;
    }
    if (x->n < 256)
        x->id[x->n++] = r->id;
    return x->stop_after && x->n >= x->stop_after;
}

typedef struct expect_ids {
    const baton_instance_filter *f;
    ids out;
} expect_ids;

static int matching(void *c, const void *row) {
    expect_ids *x = c;
    if (baton_store_instance_matches(x->f, row) && x->out.n < 256)
        x->out.id[x->out.n++] = ((const baton_instance_row *)row)->id;
    return 0;
}

/* Page through f `page` rows at a time; every row once, in id order. */
static bool query_all(baton_instance_filter f, uint32_t page, ids *out) {
    f.limit = page;
    f.after = 0;
    for (int guard = 0; guard < 100; guard++) {
        ids one = {.reentered_ok = true};
        if (O->instance_query(S, &f, collect_ids, &one, ERR) != BATON_OK) {
            printf("# query: %s\n", E.message);
            return false;
        }
        for (int i = 0; i < one.n && out->n < 256; i++)
            out->id[out->n++] = one.id[i];
        if ((uint32_t)one.n < page)
            return true;
        f.after = one.id[one.n - 1];
    }
    return false;
}

static bool same_ids(const ids *a, const ids *b) {
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (a->id[i] != b->id[i])
            return false;
    return true;
}

static void test_instance_query(void) {
    /* a process of its own, so rows the other cases left do not count */
    baton_instance_row base = {0, 1, "qp", 1, BATON_INSTANCE_ACTIVE, NULL, 0, 0, 2000, 0, 0, 0};
    baton_instance_row r = base;
    r.business_key = "k1";
    int64_t q1 = put_row(r);
    r = base;
    r.business_key = "k2";
    r.state = BATON_INSTANCE_COMPLETED;
    r.started = 3000;
    r.ended = 6000;
    int64_t q2 = put_row(r);
    r = base;
    r.business_key = "k1";
    r.state = BATON_INSTANCE_TERMINATED;
    r.started = 4000;
    r.ended = 7000;
    r.incidents = 1;
    int64_t q3 = put_row(r);
    r = base;
    r.process_id = "qo";
    r.business_key = "k1";
    r.parent_id = q1;
    r.parent_key = 3;
    r.started = 5000;
    int64_t q4 = put_row(r);
    int64_t more[7];
    for (int i = 0; i < 7; i++)
        more[i] = put_row(base);
    reopen();

    /* each filter against the one definition (baton_store_instance_matches) over every row */
    const baton_instance_filter cases[] = {
        {.process_id = "qp"},
        {.process_id = "qp", .state = BATON_INSTANCE_ACTIVE},
        {.business_key = "k1"},
        {.business_key = "k1", .process_id = "qp", .state = BATON_INSTANCE_ACTIVE},
        {.process_id = "qp", .started_after = 2500, .started_before = 4500},
        {.process_id = "qp", .ended_after = 6500},
        {.process_id = "qp", .ended_before = 6500},
        {.process_id = "qp", .incidents = 1},
        {.process_id = "qp", .incidents = -1},
        {.parent_id = q1},
        {.state = BATON_INSTANCE_COMPLETED},
        {.business_key = "nobody"},
        {0},
    };
    const char *names[] = {
        "process",           "process + state", "business key", "key + process + state",
        "started between",   "ended after",     "ended before", "with incidents",
        "without incidents", "parent",          "state",        "no match",
        "no filter"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        expect_ids want = {&cases[c], {0}};
        O->instance_list(S, matching, &want, ERR);
        ids got = {0};
        TAP_OK(query_all(cases[c], 3, &got) && same_ids(&got, &want.out),
               "query '%s': %d rows, as the filter's definition says (%d)", names[c], got.n,
               want.out.n);
        int64_t n = -1;
        TAP_EQ_INT(O->instance_count(S, &cases[c], &n, ERR), BATON_OK, "count '%s'", names[c]);
        TAP_EQ_INT(n, want.out.n, "count '%s' agrees", names[c]);
    }

    /* the cases above by name, so a filter that matched nothing everywhere would show */
    ids got = {0};
    query_all((baton_instance_filter){.process_id = "qp"}, 1000, &got);
    TAP_EQ_INT(got.n, 10, "process: ten rows");
    TAP_OK(got.n == 10 && got.id[0] == q1 && got.id[1] == q2 && got.id[2] == q3 &&
               got.id[3] == more[0] && got.id[9] == more[6],
           "in id order");
    ids k = {0};
    query_all((baton_instance_filter){.business_key = "k1",
                                      .process_id = "qp",
                                      .state = BATON_INSTANCE_ACTIVE},
              10, &k);
    TAP_OK(k.n == 1 && k.id[0] == q1, "active with process and key: the one");
    ids e = {0};
    query_all((baton_instance_filter){.process_id = "qp", .ended_before = 6500}, 10, &e);
    TAP_OK(e.n == 1 && e.id[0] == q2, "ended before: ended ones only");
    ids inc = {0};
    query_all((baton_instance_filter){.process_id = "qp", .incidents = 1}, 10, &inc);
    TAP_OK(inc.n == 1 && inc.id[0] == q3, "with incidents");
    ids par = {0};
    query_all((baton_instance_filter){.parent_id = q1}, 10, &par);
    TAP_OK(par.n == 1 && par.id[0] == q4, "by parent");

    /* the cursor: strictly after, and a limit is a limit */
    ids page = {0};
    baton_instance_filter f = {.process_id = "qp", .after = q3, .limit = 2};
    TAP_EQ_INT(O->instance_query(S, &f, collect_ids, &page, ERR), BATON_OK, "page after a cursor");
    TAP_OK(page.n == 2 && page.id[0] == more[0] && page.id[1] == more[1], "the next two");
    ids stop = {.stop_after = 1};
    f = (baton_instance_filter){.process_id = "qp", .limit = 5};
    O->instance_query(S, &f, collect_ids, &stop, ERR);
    TAP_EQ_INT(stop.n, 1, "a callback stops the query");
    ids re = {.reenter = true, .reentered_ok = true};
    TAP_EQ_INT(O->instance_query(S, &f, collect_ids, &re, ERR), BATON_OK, "query, re-entered");
    TAP_OK(re.n == 5 && re.reentered_ok, "callbacks read the store during a query");
    f.limit = 0;
    TAP_EQ_INT(O->instance_query(S, &f, collect_ids, &page, ERR), BATON_INVALID, "limit 0");
    f.limit = BATON_STORE_QUERY_MAX + 1;
    TAP_EQ_INT(O->instance_query(S, &f, collect_ids, &page, ERR), BATON_INVALID, "limit too big");
    /* text that is not SQL stays text */
    f = (baton_instance_filter){.business_key = "k1' OR '1'='1", .limit = 10};
    ids inj = {0};
    TAP_EQ_INT(O->instance_query(S, &f, collect_ids, &inj, ERR), BATON_OK, "quoted key");
    TAP_EQ_INT(inj.n, 0, "matches nothing");
}

/* ---- filtered job, user task and incident queries --------------------------------- */

/* (instance, key) keyset, in the order seen */
typedef struct keyset {
    int n;
    int64_t k[256][2];
    bool reenter, reentered_ok;
    int stop_after; /* 0 = never */
} keyset;

static int add_pair(keyset *x, int64_t instance, int64_t key) {
    if (x->reenter) {
        baton_instance_row in;
        baton_error e;
        baton_error_clear(&e);
        baton_status st = O->instance_get(S, instance, &in, NULL, &e);
        if (st != BATON_OK && st != BATON_NOTFOUND)
            x->reentered_ok = false;
    }
    if (x->n < 256) {
        x->k[x->n][0] = instance;
        x->k[x->n][1] = key;
        x->n++;
    }
    return x->stop_after && x->n >= x->stop_after;
}

static int pair_job(void *c, const void *row) {
    const baton_job_row *r = row;
    return add_pair(c, r->instance, r->key);
}

static int pair_task(void *c, const void *row) {
    const baton_task_row *r = row;
    return add_pair(c, r->instance, r->key);
}

static int pair_incident(void *c, const void *row) {
    const baton_incident_row *r = row;
    return add_pair(c, r->instance, r->key);
}

static int cmp_pair(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] != y[1] ? (x[1] < y[1] ? -1 : 1) : 0;
}

static bool same_pairs(const keyset *a, const keyset *b) {
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (a->k[i][0] != b->k[i][0] || a->k[i][1] != b->k[i][1])
            return false;
    return true;
}

/* What each filter's definition says over every row the store lists, in (instance, key) order. */
typedef struct expect_pairs {
    const baton_job_filter *job;
    const baton_task_filter *task;
    const baton_incident_filter *inc;
    keyset out;
} expect_pairs;

static int expect_job(void *c, const void *row) {
    expect_pairs *x = c;
    const baton_job_row *r = row;
    if (baton_store_job_matches(x->job, r))
        add_pair(&x->out, r->instance, r->key);
    return 0;
}

static int expect_task(void *c, const void *row) {
    expect_pairs *x = c;
    const baton_task_row *r = row;
    if (baton_store_task_matches(x->task, r))
        add_pair(&x->out, r->instance, r->key);
    return 0;
}

static int expect_incident(void *c, const void *row) {
    expect_pairs *x = c;
    const baton_incident_row *r = row;
    baton_instance_row in;
    baton_error e;
    baton_error_clear(&e);
    bool found = O->instance_get(S, r->instance, &in, NULL, &e) == BATON_OK;
    if (baton_store_incident_matches(x->inc, r, found ? in.process_id : NULL))
        add_pair(&x->out, r->instance, r->key);
    return 0;
}

static void sort_pairs(keyset *x) {
    qsort(x->k, (size_t)x->n, sizeof x->k[0], cmp_pair);
}

/* Page through a filter `page` rows at a time from the start; every row once, in order. */
#define QUERY_ALL(op, filter, fn, page, out)                                                       \
    do {                                                                                           \
        (filter).limit = (page);                                                                   \
        (filter).after_instance = 0;                                                               \
        (filter).after_key = 0;                                                                    \
        for (int guard = 0; guard < 100; guard++) {                                                \
            keyset one = {0};                                                                      \
            if (O->op(S, &(filter), fn, &one, ERR) != BATON_OK) {                                  \
                printf("# %s: %s\n", #op, E.message);                                              \
                (out)->n = -1;                                                                     \
                break;                                                                             \
            }                                                                                      \
            for (int i_ = 0; i_ < one.n; i_++)                                                     \
                add_pair((out), one.k[i_][0], one.k[i_][1]);                                       \
            if ((uint32_t)one.n < (page))                                                          \
                break;                                                                             \
            (filter).after_instance = one.k[one.n - 1][0];                                         \
            (filter).after_key = one.k[one.n - 1][1];                                              \
        }                                                                                          \
    } while (0)

/* Whether instance `id` is among the rows of filter f. */
static bool finds(baton_instance_filter f, int64_t id) {
    ids got = {0};
    if (!query_all(f, 50, &got))
        return false;
    for (int i = 0; i < got.n; i++)
        if (got.id[i] == id)
            return true;
    return false;
}

/* Store r (its id set) with state `json` in a transaction of its own. */
static baton_status rewrite(const baton_instance_row *r, const char *json) {
    O->begin(S, ERR);
    baton_status s = O->instance_put(S, r, json, ERR);
    if (!s)
        s = O->commit(S, ERR);
    else
        O->rollback(S);
    return s;
}

/*
 * An instance stored again with one column changed at a time: what is read
 * back and what every filter finds follow the last write. (SQLite writes a
 * step that changes no indexed column through a narrower statement than one
 * that does: both must leave the row and its indexes in agreement.)
 */
static void test_instance_rewrites(void) {
    baton_instance_row r = {0, 1, "rw", 1, BATON_INSTANCE_ACTIVE, "b1", 0, 0, 3000, 0, 0, 0};
    r.id = put_row(r);
    baton_instance_filter by_process = {.process_id = "rw"};
    baton_instance_filter active = {.state = BATON_INSTANCE_ACTIVE, .process_id = "rw"};
    TAP_OK(finds(by_process, r.id) && finds(active, r.id), "new: found by process and state");

    /* a step's usual write: the state and the record count, nothing indexed */
    r.seq = 7;
    r.deployment = 2;
    r.version = 2;
    TAP_EQ_INT(rewrite(&r, "{\"n\":1}"), BATON_OK, "state and seq only");
    baton_instance_row g;
    const char *json = NULL;
    O->instance_get(S, r.id, &g, &json, ERR);
    TAP_OK(g.seq == 7 && g.deployment == 2 && g.version == 2, "seq, deployment, version read back");
    TAP_EQ_STR(json, "{\"n\":1}", "state JSON read back");
    TAP_OK(finds(active, r.id), "still found by state");

    r.incidents = 1;
    TAP_EQ_INT(rewrite(&r, "{\"n\":2}"), BATON_OK, "an incident opened");
    TAP_OK(finds((baton_instance_filter){.incidents = 1, .process_id = "rw"}, r.id),
           "found with incidents");
    r.incidents = 0;
    rewrite(&r, "{\"n\":3}");
    TAP_OK(!finds((baton_instance_filter){.incidents = 1, .process_id = "rw"}, r.id),
           "not once it closed");

    r.business_key = "b2";
    rewrite(&r, "{\"n\":4}");
    TAP_OK(finds((baton_instance_filter){.business_key = "b2"}, r.id) &&
               !finds((baton_instance_filter){.business_key = "b1"}, r.id),
           "found by the new business key, not the old");
    r.business_key = NULL;
    rewrite(&r, "{\"n\":5}");
    TAP_OK(!finds((baton_instance_filter){.business_key = "b2"}, r.id), "business key cleared");

    int64_t parent = put_row((baton_instance_row){0, 1, "rwp", 1, 1, NULL, 0, 0, 3000, 0, 0, 0});
    r.parent_id = parent;
    r.parent_key = 4;
    rewrite(&r, "{\"n\":6}");
    TAP_OK(finds((baton_instance_filter){.parent_id = parent}, r.id), "found by its new parent");
    ids kids = {0};
    O->instance_children(S, parent, 4, collect_ids, &kids, ERR);
    TAP_OK(kids.n == 1 && kids.id[0] == r.id, "and as its child");

    r.process_id = "rw2";
    rewrite(&r, "{\"n\":7}");
    TAP_OK(finds((baton_instance_filter){.process_id = "rw2"}, r.id) && !finds(by_process, r.id),
           "found by the new process, not the old");

    r.state = BATON_INSTANCE_COMPLETED;
    r.ended = 9000;
    rewrite(&r, "{\"n\":8}");
    baton_instance_filter completed = {.state = BATON_INSTANCE_COMPLETED, .process_id = "rw2"};
    baton_instance_filter still_active = {.state = BATON_INSTANCE_ACTIVE, .process_id = "rw2"};
    TAP_OK(finds(completed, r.id) && !finds(still_active, r.id),
           "found by the new state, not the old");
    TAP_OK(finds((baton_instance_filter){.ended_after = 8999, .process_id = "rw2"}, r.id),
           "found by its end");
    O->instance_get(S, r.id, &g, &json, ERR);
    TAP_OK(g.state == BATON_INSTANCE_COMPLETED && g.ended == 9000 && g.parent_id == parent &&
               g.business_key == NULL,
           "the row read back is the last one written");
    TAP_EQ_STR(json, "{\"n\":8}", "with the last state JSON");
}

static void test_job_query(void) {
    int64_t a = put_row((baton_instance_row){
        .deployment = 1, .process_id = "jp", .version = 1, .state = BATON_INSTANCE_ACTIVE});
    int64_t b = put_row((baton_instance_row){
        .deployment = 1, .process_id = "jp", .version = 1, .state = BATON_INSTANCE_ACTIVE});
    /* at now = 5000: states as baton_store_job_state says; put out of key order */
    const baton_job_row jobs[] = {
        {b, 3, "qa", "e1", 3, 0, NULL, 0, 1},       /* available */
        {b, 1, "qa", "e2", 0, 0, NULL, 0, 1},       /* incident */
        {a, 7, "qb", "e3", 3, 0, "w", 9000, 1},     /* locked */
        {a, 2, "qa", "e4", 3, 0, "w", 4000, 1},     /* lock expired: available */
        {a, 5, "qb", "e5", 2, 8000, NULL, 0, 1},    /* backoff */
        {a, 9, "qa", "e6", 2, 3000, NULL, 0, 1},    /* backoff over: available */
        {b, 8, "qb", "e7", 3, 0, "", 9000, 1},      /* no worker named: available */
        {a, 4, "qa", "e8", -1, 8000, "w", 9000, 1}, /* out of retries wins: incident */
        {b, 6, "qa", "e9", 1, 6000, "w", 7000, 1},  /* locked beats backoff */
    };
    O->begin(S, ERR);
    for (size_t i = 0; i < sizeof jobs / sizeof *jobs; i++)
        O->job_put(S, &jobs[i], ERR);
    O->commit(S, ERR);
    reopen();
    const baton_job_filter cases[] = {
        {0},
        {.type = "qa"},
        {.instance = a},
        {.instance = b, .type = "qb"},
        {.state = BATON_JOB_AVAILABLE, .now = 5000},
        {.state = BATON_JOB_LOCKED, .now = 5000},
        {.state = BATON_JOB_BACKOFF, .now = 5000},
        {.state = BATON_JOB_INCIDENT, .now = 5000},
        {.state = BATON_JOB_AVAILABLE, .now = 10000, .type = "qa"},
        {.state = BATON_JOB_LOCKED, .now = 5000, .instance = b},
        {.type = "nobody"},
    };
    const char *names[] = {"no filter",         "type",      "instance",
                           "instance + type",   "available", "locked",
                           "backoff",           "incident",  "available later + type",
                           "locked + instance", "no match"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        expect_pairs want = {.job = &cases[c]};
        O->job_list(S, expect_job, &want, ERR);
        sort_pairs(&want.out);
        keyset got = {0};
        baton_job_filter f = cases[c];
        QUERY_ALL(job_query, f, pair_job, 2, &got);
        TAP_OK(same_pairs(&got, &want.out), "job query '%s': %d rows, as its definition says (%d)",
               names[c], got.n, want.out.n);
    }
    /* by name, so a filter that matched nothing everywhere would show */
    keyset l = {0};
    baton_job_filter f = {.state = BATON_JOB_LOCKED, .now = 5000, .type = "qb"};
    QUERY_ALL(job_query, f, pair_job, 10, &l);
    TAP_OK(l.n == 1 && l.k[0][0] == a && l.k[0][1] == 7, "locked of type qb: the one");
    keyset lb = {0};
    f = (baton_job_filter){.state = BATON_JOB_LOCKED, .now = 5000, .instance = b};
    QUERY_ALL(job_query, f, pair_job, 10, &lb);
    TAP_OK(lb.n == 1 && lb.k[0][1] == 6, "locked in b: the one locked in backoff");
    keyset av = {0};
    f = (baton_job_filter){.state = BATON_JOB_AVAILABLE, .now = 5000, .instance = a};
    QUERY_ALL(job_query, f, pair_job, 1, &av);
    TAP_OK(av.n == 2 && av.k[0][1] == 2 && av.k[1][1] == 9, "available in a: keys 2 and 9");
    keyset inc = {0};
    f = (baton_job_filter){.state = BATON_JOB_INCIDENT, .now = 5000, .type = "qa"};
    QUERY_ALL(job_query, f, pair_job, 10, &inc);
    TAP_OK(inc.n == 2 && inc.k[0][0] == a && inc.k[0][1] == 4 && inc.k[1][0] == b &&
               inc.k[1][1] == 1,
           "out of retries: the two");

    /* the cursor is strictly after; a limit is a limit; callbacks stop and re-enter */
    keyset page = {0};
    f = (baton_job_filter){.instance = a, .after_instance = a, .after_key = 4, .limit = 2};
    TAP_EQ_INT(O->job_query(S, &f, pair_job, &page, ERR), BATON_OK, "page after a cursor");
    TAP_OK(page.n == 2 && page.k[0][1] == 5 && page.k[1][1] == 7, "the next two");
    keyset stop = {.stop_after = 1};
    f = (baton_job_filter){.limit = 5};
    O->job_query(S, &f, pair_job, &stop, ERR);
    TAP_EQ_INT(stop.n, 1, "a callback stops the query");
    keyset re = {.reenter = true, .reentered_ok = true};
    TAP_EQ_INT(O->job_query(S, &f, pair_job, &re, ERR), BATON_OK, "job query, re-entered");
    TAP_OK(re.n == 5 && re.reentered_ok, "callbacks read the store during a job query");
    f.limit = 0;
    TAP_EQ_INT(O->job_query(S, &f, pair_job, &page, ERR), BATON_INVALID, "limit 0");
    f.limit = BATON_STORE_QUERY_MAX + 1;
    TAP_EQ_INT(O->job_query(S, &f, pair_job, &page, ERR), BATON_INVALID, "limit too big");
    f = (baton_job_filter){.type = "qa' OR '1'='1", .limit = 10};
    keyset inj = {0};
    TAP_EQ_INT(O->job_query(S, &f, pair_job, &inj, ERR), BATON_OK, "quoted type");
    TAP_EQ_INT(inj.n, 0, "matches nothing");
}

static void test_task_query(void) {
    int64_t a = put_row((baton_instance_row){
        .deployment = 1, .process_id = "tp", .version = 1, .state = BATON_INSTANCE_ACTIVE});
    int64_t b = put_row((baton_instance_row){
        .deployment = 1, .process_id = "tq", .version = 1, .state = BATON_INSTANCE_ACTIVE});
    const baton_task_row tasks[] = {
        {b, 4, "t1", "T1", "tq", "ann", "{\"candidateGroups\":[\"ops\",\"dev\"]}", 1},
        {a, 2, "t2", "T2", "tp", NULL, "{\"candidateGroups\":\"ops\"}", 1},
        {a, 1, "t3", "T3", "tp", "bob", "{\"candidateUsers\":[\"ann\"],\"formKey\":\"f\"}", 1},
        {b, 2, "t4", "T4", "tq", NULL, NULL, 1},
        {a, 6, "t5", "T5", "tp", NULL, "{\"candidateGroups\":{\"x\":\"ops\"}}", 1},
        {a, 7, "t6", "T6", "tp", "ann", "{\"candidateGroups\":[[\"ops\"],1,\"dev\"]}", 1},
        {b, 9, "t7", "T7", "tq", NULL, "[\"ops\"]", 1},
        {a, 3, "t8", "T8", NULL, NULL, "{\"candidateGroups\":[\"ops\"],\"candidateUsers\":\"ann\"}",
         1},
    };
    O->begin(S, ERR);
    for (size_t i = 0; i < sizeof tasks / sizeof *tasks; i++)
        O->task_put(S, &tasks[i], ERR);
    O->commit(S, ERR);
    reopen();
    const baton_task_filter cases[] = {
        {0},
        {.instance = a},
        {.process_id = "tq"},
        {.assignee = "ann"},
        {.assigned = 1},
        {.assigned = -1},
        {.candidate_group = "ops"},
        {.candidate_group = "dev", .assignee = "ann"},
        {.candidate_user = "ann"},
        {.candidate_group = "ops", .candidate_user = "ann", .instance = a},
        {.process_id = "tp", .assigned = -1},
        {.candidate_group = "nobody"},
    };
    const char *names[] = {"no filter",
                           "instance",
                           "process",
                           "assignee",
                           "assigned",
                           "unassigned",
                           "group",
                           "group + assignee",
                           "user",
                           "group + user + instance",
                           "process + unassigned",
                           "no match"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        expect_pairs want = {.task = &cases[c]};
        O->task_list(S, expect_task, &want, ERR);
        sort_pairs(&want.out);
        keyset got = {0};
        baton_task_filter f = cases[c];
        QUERY_ALL(task_query, f, pair_task, 2, &got);
        TAP_OK(same_pairs(&got, &want.out), "task query '%s': %d rows, as its definition says (%d)",
               names[c], got.n, want.out.n);
    }
    keyset g = {0};
    baton_task_filter f = {.candidate_group = "ops", .instance = 0};
    QUERY_ALL(task_query, f, pair_task, 10, &g);
    TAP_OK(g.n == 3 && g.k[0][0] == a && g.k[0][1] == 2 && g.k[1][0] == a && g.k[1][1] == 3 &&
               g.k[2][0] == b && g.k[2][1] == 4,
           "group: a string or an array's string, nothing nested or keyed");
    keyset u = {0};
    f = (baton_task_filter){.candidate_user = "ann", .instance = a};
    QUERY_ALL(task_query, f, pair_task, 1, &u);
    TAP_OK(u.n == 2 && u.k[0][1] == 1 && u.k[1][1] == 3, "user, paged one at a time");
    keyset page = {0};
    f = (baton_task_filter){.after_instance = a, .after_key = 6, .limit = 2};
    TAP_EQ_INT(O->task_query(S, &f, pair_task, &page, ERR), BATON_OK, "page after a cursor");
    TAP_OK(page.n == 2 && page.k[0][0] == a && page.k[0][1] == 7 && page.k[1][0] == b &&
               page.k[1][1] == 2,
           "the next two, across instances");
    keyset re = {.reenter = true, .reentered_ok = true};
    f = (baton_task_filter){.limit = 4};
    TAP_EQ_INT(O->task_query(S, &f, pair_task, &re, ERR), BATON_OK, "task query, re-entered");
    TAP_OK(re.n == 4 && re.reentered_ok, "callbacks read the store during a task query");
    f.limit = 0;
    TAP_EQ_INT(O->task_query(S, &f, pair_task, &page, ERR), BATON_INVALID, "limit 0");
    f = (baton_task_filter){.candidate_group = "ops' OR '1'='1", .limit = 10};
    keyset inj = {0};
    TAP_EQ_INT(O->task_query(S, &f, pair_task, &inj, ERR), BATON_OK, "quoted group");
    TAP_EQ_INT(inj.n, 0, "matches nothing");
}

static void test_incident_query(void) {
    int64_t a = put_row((baton_instance_row){
        .deployment = 1, .process_id = "ip", .version = 1, .state = BATON_INSTANCE_ACTIVE});
    int64_t b = put_row((baton_instance_row){
        .deployment = 1, .process_id = "iq", .version = 1, .state = BATON_INSTANCE_ACTIVE});
    int64_t gone = b + 1000000; /* an instance the store does not hold */
    const baton_incident_row incs[] = {
        {b, 5, "e1", "job", "m", 1},    {a, 3, "e2", "job", "m", 1},  {a, 1, "e1", "expr", "m", 1},
        {gone, 2, "e1", "job", "m", 1}, {b, 2, "e3", "expr", "m", 1}, {a, 8, "e1", "job", "m", 1},
    };
    int64_t before = -1;
    baton_incident_filter all = {0};
    O->incident_count(S, &all, &before, ERR);
    O->begin(S, ERR);
    for (size_t i = 0; i < sizeof incs / sizeof *incs; i++)
        O->incident_put(S, &incs[i], ERR);
    O->commit(S, ERR);
    reopen();
    int64_t n = -1;
    TAP_EQ_INT(O->incident_count(S, &all, &n, ERR), BATON_OK, "count all");
    TAP_EQ_INT(n - before, 6, "six more");
    const baton_incident_filter cases[] = {
        {0},
        {.instance = a},
        {.kind = "job"},
        {.element = "e1"},
        {.process_id = "ip"},
        {.process_id = "iq", .kind = "expr"},
        {.kind = "job", .element = "e1", .instance = a},
        {.process_id = "nobody"},
    };
    const char *names[] = {"no filter",
                           "instance",
                           "kind",
                           "element",
                           "process",
                           "process + kind",
                           "kind + element + instance",
                           "no match"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        expect_pairs want = {.inc = &cases[c]};
        O->incident_list(S, expect_incident, &want, ERR);
        sort_pairs(&want.out);
        keyset got = {0};
        baton_incident_filter f = cases[c];
        QUERY_ALL(incident_query, f, pair_incident, 2, &got);
        TAP_OK(same_pairs(&got, &want.out),
               "incident query '%s': %d rows, as its definition says (%d)", names[c], got.n,
               want.out.n);
        n = -1;
        TAP_EQ_INT(O->incident_count(S, &cases[c], &n, ERR), BATON_OK, "count '%s'", names[c]);
        TAP_EQ_INT(n, want.out.n, "count '%s' agrees", names[c]);
    }
    keyset p = {0};
    baton_incident_filter f = {.process_id = "ip"};
    QUERY_ALL(incident_query, f, pair_incident, 1, &p);
    TAP_OK(p.n == 3 && p.k[0][1] == 1 && p.k[1][1] == 3 && p.k[2][1] == 8,
           "process: its instance's three, in key order");
    keyset e = {0};
    f = (baton_incident_filter){.element = "e1", .kind = "job"};
    QUERY_ALL(incident_query, f, pair_incident, 10, &e);
    TAP_OK(e.n == 3 && e.k[0][0] == a && e.k[1][0] == b && e.k[2][0] == gone,
           "kind and element, the gone instance's too");
    keyset re = {.reenter = true, .reentered_ok = true};
    f = (baton_incident_filter){.limit = 3};
    TAP_EQ_INT(O->incident_query(S, &f, pair_incident, &re, ERR), BATON_OK,
               "incident query, re-entered");
    TAP_OK(re.n == 3 && re.reentered_ok, "callbacks read the store during an incident query");
    f.limit = BATON_STORE_QUERY_MAX + 1;
    TAP_EQ_INT(O->incident_query(S, &f, pair_incident, &re, ERR), BATON_INVALID, "limit too big");
}

/* SQLite's version 5 rebuilt the history as a rowid table: back to WITHOUT ROWID */
static const char *const down_v4 =
    "ALTER TABLE history RENAME TO history_v5; "
    "CREATE TABLE history (instance INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, "
    "kind TEXT NOT NULL, element TEXT, record TEXT NOT NULL, PRIMARY KEY (instance, seq)) "
    "WITHOUT ROWID; "
    "INSERT INTO history SELECT instance, seq, at, kind, element, record FROM history_v5; "
    "DROP TABLE history_v5; DELETE FROM schema_version WHERE version >= 5";
static const char *const down_v3 =
    "DROP INDEX jobs_type_key; DROP INDEX jobs_incident; DROP INDEX user_tasks_assignee; "
    "DROP INDEX user_tasks_process; DROP INDEX incidents_kind; DROP INDEX incidents_element; "
    "DELETE FROM schema_version WHERE version >= 4";
static const char *const down_v2 =
    "DROP INDEX instances_state; DROP INDEX instances_process; "
    "DROP INDEX instances_incidents; DROP INDEX instances_business_key; "
    "CREATE INDEX instances_business_key ON instances (business_key) "
    "WHERE business_key IS NOT NULL; DELETE FROM schema_version WHERE version >= 3";

/* How many of the indexes in `names` (an SQL list of quoted names) the database holds. */
static int count_indexes(const char *names) {
    char sql[512];
    int n = -1;
    if (strcmp(db.kind, "sqlite") == 0) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN (%s)", names);
        sqlite3 *h = NULL;
        sqlite3_open(db.url + 7, &h);
        sqlite3_stmt *x = NULL;
        sqlite3_prepare_v2(h, sql, -1, &x, NULL);
        if (sqlite3_step(x) == SQLITE_ROW)
            n = sqlite3_column_int(x, 0);
        sqlite3_finalize(x);
        sqlite3_close(h);
    } else {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_indexes WHERE indexname IN (%s)", names);
        PGconn *c = PQconnectdb(db.url);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            n = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
    }
    return n;
}

/* The newest schema version of this build (version 5 differs: SQLite's history layout,
   PostgreSQL's subscription index). */
static int latest_version(void) {
    return 5;
}

static int schema_version(void) {
    const char *probe = "SELECT max(version) FROM schema_version";
    int version = -1;
    if (strcmp(db.kind, "sqlite") == 0) {
        sqlite3 *h = NULL;
        sqlite3_open(db.url + 7, &h);
        sqlite3_stmt *x = NULL;
        sqlite3_prepare_v2(h, probe, -1, &x, NULL);
        if (sqlite3_step(x) == SQLITE_ROW)
            version = sqlite3_column_int(x, 0);
        sqlite3_finalize(x);
        sqlite3_close(h);
    } else {
        PGconn *c = PQconnectdb(db.url);
        PGresult *r = PQexec(c, probe);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            version = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
    }
    return version;
}

/* Close the store, run `down` on its database, open it again: true if it opens. */
static bool reopen_after(const char *down, int version) {
    baton_store_close(S);
    S = NULL;
    if (strcmp(db.kind, "sqlite") == 0) {
        sqlite3 *h = NULL;
        sqlite3_open(db.url + 7, &h);
        char *msg = NULL;
        TAP_EQ_INT(sqlite3_exec(h, down, NULL, NULL, &msg), SQLITE_OK, "back to version %d %s",
                   version, msg ? msg : "");
        sqlite3_free(msg);
        sqlite3_close(h);
    } else {
        char msg[256] = "";
        TAP_OK(pg_exec(db.url, down, msg, sizeof msg), "back to version %d %s", version, msg);
    }
    S = open_store();
    O = S ? S->ops : NULL;
    TAP_OK(S != NULL, "a version %d database opens", version);
    return S != NULL;
}

/*
 * A database at schema version 2 (before the instance query indexes)
 * upgrades in place when opened: the rows stay, the latest version is
 * recorded, the indexes exist.
 */
static void test_migration_from_v2(void) {
    baton_instance_filter all = {0};
    int64_t before = -1, after = -1;
    O->instance_count(S, &all, &before, ERR);
    /* version 4's indexes first, then version 3's */
    char down[1024];
    snprintf(down, sizeof down, "%s; %s", down_v3, down_v2);
    if (!reopen_after(down, 2))
        return;
    TAP_EQ_INT(count_indexes("'instances_state', 'instances_process', 'instances_incidents'"), 3,
               "indexes made");
    TAP_EQ_INT(schema_version(), latest_version(), "upgraded to the latest version");
    O->instance_count(S, &all, &after, ERR);
    TAP_OK(before > 0 && after == before, "the instances are all there (%lld)", (long long)after);
    ids k = {0};
    query_all((baton_instance_filter){.business_key = "k1", .process_id = "qp"}, 10, &k);
    TAP_EQ_INT(k.n, 2, "and found through the new indexes");
}

/*
 * A database at schema version 3 (before the listing indexes) upgrades in
 * place: the jobs, tasks and incidents stay and are found through them.
 */
static void test_migration_from_v3(void) {
    const char *names = "'jobs_type_key', 'jobs_incident', 'user_tasks_assignee', "
                        "'user_tasks_process', 'incidents_kind', 'incidents_element'";
    baton_incident_filter all = {0};
    int64_t before = -1, after = -1;
    O->incident_count(S, &all, &before, ERR);
    if (!reopen_after(down_v3, 3))
        return;
    TAP_EQ_INT(count_indexes(names), 6, "indexes made");
    TAP_EQ_INT(schema_version(), latest_version(), "upgraded to the latest version");
    O->incident_count(S, &all, &after, ERR);
    TAP_OK(before > 0 && after == before, "the incidents are all there (%lld)", (long long)after);
    keyset j = {0};
    baton_job_filter jf = {.type = "qb"};
    QUERY_ALL(job_query, jf, pair_job, 10, &j);
    TAP_EQ_INT(j.n, 3, "jobs found through the type index");
    keyset t = {0};
    baton_task_filter tf = {.assignee = "ann"};
    QUERY_ALL(task_query, tf, pair_task, 10, &t);
    TAP_OK(t.n >= 2, "tasks through the assignee index (%d)", t.n);
    keyset k = {0};
    baton_incident_filter kf = {.kind = "expr"};
    QUERY_ALL(incident_query, kf, pair_incident, 10, &k);
    TAP_EQ_INT(k.n, 2, "incidents through the kind index");
}

/* The SQL of sqlite_master for `name` ("" if none), into buf. */
static void sqlite_schema_sql(const char *name, char *buf, size_t size) {
    buf[0] = 0;
    sqlite3 *h = NULL;
    sqlite3_open(db.url + 7, &h);
    sqlite3_stmt *x = NULL;
    sqlite3_prepare_v2(h, "SELECT sql FROM sqlite_master WHERE name = ?1", -1, &x, NULL);
    sqlite3_bind_text(x, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(x) == SQLITE_ROW && sqlite3_column_text(x, 0))
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(x, 0));
    sqlite3_finalize(x);
    sqlite3_close(h);
}

/*
 * A SQLite database at schema version 4 (history WITHOUT ROWID) upgrades in
 * place: every record stays, is read back in order, and the history goes on
 * from its last record with the contiguity check intact.
 */
static void test_migration_from_v4(void) {
    int64_t id = put_instance(0, 0, NULL, BATON_INSTANCE_ACTIVE, 0);
    append(id, 1, 40);
    int64_t other = put_instance(0, 0, NULL, BATON_INSTANCE_ACTIVE, 0);
    append(other, 1, 3);
    if (!reopen_after(down_v4, 4))
        return;
    char sql[1024];
    sqlite_schema_sql("history", sql, sizeof sql);
    TAP_OK(strstr(sql, "PRIMARY KEY (instance, seq)") && !strstr(sql, "WITHOUT ROWID"),
           "history is a rowid table keyed by (instance, seq)");
    TAP_EQ_INT(schema_version(), 5, "upgraded to version 5");
    collect l = {0};
    TAP_EQ_INT(O->history_read(S, id, 0, 0, collect_text, &l, ERR), BATON_OK, "read after upgrade");
    TAP_EQ_INT(l.n, 40, "every record stays");
    TAP_EQ_STR(l.s[0], "{\"seq\":1}", "first");
    TAP_EQ_STR(l.s[39], "{\"seq\":40}", "last, in order");
    append(id, 41, 42);
    collect m = {0};
    O->history_read(S, id, 40, 0, collect_text, &m, ERR);
    TAP_EQ_INT(m.n, 2, "appends go on after the last record");
    O->begin(S, ERR);
    TAP_EQ_INT(O->history_append(S, other, 5, 1, "x", NULL, "{}", ERR), BATON_CONFLICT,
               "a gap is still refused");
    O->rollback(S);
    O->begin(S, ERR);
    TAP_EQ_INT(O->history_append(S, other, 3, 1, "x", NULL, "{}", ERR), BATON_CONFLICT,
               "and a repeated record");
    O->rollback(S);
}

/*
 * PostgreSQL's version 5: a message lookup never walks the subscriptions
 * waiting for one message name, even with a plan made before the table
 * has statistics (a fresh database under load: prepared statements keep
 * such a plan). 3,000 subscriptions of one name, none analyzed; the plan
 * of the lookup after six executions (when PostgreSQL may switch to a
 * generic plan) must use the correlation in both of its index conditions.
 * Then version 4 (the (kind, name, id) index back) upgrades in place.
 */
static void test_subscription_plan(void) {
    char msg[256] = "";
    TAP_OK(pg_exec(db.url,
                   "INSERT INTO subscriptions (kind, instance, key, name, correlation, element) "
                   "SELECT 0, 900000 + g, 1, 'planned', 'k' || g, 'w' "
                   "FROM generate_series(1, 3000) g",
                   msg, sizeof msg),
           "3,000 subscriptions %s", msg);
    PGconn *c = PQconnectdb(db.url);
    PQclear(PQexec(c, "PREPARE f(text, text) AS SELECT id FROM subscriptions WHERE kind = 0 "
                      "AND name = $1 AND correlation IS NULL UNION ALL SELECT id FROM "
                      "subscriptions WHERE kind = 0 AND name = $1 AND correlation = $2 "
                      "ORDER BY 1"));
    for (int i = 0; i < 6; i++)
        PQclear(PQexec(c, "EXECUTE f('planned', 'k7')"));
    PGresult *r = PQexec(c, "EXPLAIN EXECUTE f('planned', 'k8')");
    char plan[4096] = "";
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        size_t n = strlen(plan);
        snprintf(plan + n, sizeof plan - n, "%s\n", PQgetvalue(r, i, 0));
    }
    PQclear(r);
    PQfinish(c);
    TAP_CONTAINS(plan, "(correlation IS NULL)", "the NULL branch seeks by correlation");
    TAP_CONTAINS(plan, "(correlation = $2)", "the keyed branch too");
    TAP_OK(!strstr(plan, "Filter"), "nothing is filtered after the index");
    if (!reopen_after("CREATE INDEX subscriptions_name ON subscriptions (kind, name, id); "
                      "DELETE FROM schema_version WHERE version >= 5",
                      4))
        return;
    TAP_EQ_INT(count_indexes("'subscriptions_name'"), 0, "version 5 drops the walk's index");
    TAP_EQ_INT(schema_version(), 5, "upgraded to version 5");
    collect a = {0};
    TAP_EQ_INT(O->sub_find(S, 0, "planned", "k42", collect_sub, &a, ERR), BATON_OK, "find");
    TAP_EQ_INT(a.n, 1, "the keyed subscription, after the upgrade");
}

static void test_retention(void) {
    int64_t old1 = put_instance(0, 0, "old1", BATON_INSTANCE_COMPLETED, 100);
    int64_t old2 = put_instance(0, 0, "old2", BATON_INSTANCE_TERMINATED, 200);
    int64_t young = put_instance(0, 0, "young", BATON_INSTANCE_COMPLETED, 5000);
    int64_t live = put_instance(0, 0, "live", BATON_INSTANCE_ACTIVE, 0);
    append(old1, 1, 3);
    append(old2, 1, 2);
    append(young, 1, 2);
    baton_timer_row stale = {old1, 99, 1, 1, "t", 0};
    baton_message_row gone = {0, "m", NULL, NULL, NULL, 50};
    baton_message_row kept = {0, "m", NULL, NULL, NULL, 500000};
    O->begin(S, ERR);
    O->timer_put(S, &stale, ERR);
    O->message_put(S, &gone, ERR);
    O->message_put(S, &kept, ERR);
    O->commit(S, ERR);
    uint32_t removed = 0;
    TAP_EQ_INT(O->purge(S, INT64_MIN, 1000, 10, &removed, ERR), BATON_OK, "keep history forever");
    TAP_EQ_INT(removed, 1, "only the expired message went");
    TAP_EQ_INT(O->purge(S, 1000, 1000, 1, &removed, ERR), BATON_OK, "purge a batch of 1");
    TAP_EQ_INT(removed, 1, "one removed");
    baton_instance_row r;
    TAP_EQ_INT(O->instance_get(S, old1, &r, NULL, ERR), BATON_NOTFOUND, "the oldest went first");
    TAP_EQ_INT(O->instance_get(S, old2, &r, NULL, ERR), BATON_OK, "the next one is still there");
    TAP_EQ_INT(O->purge(S, 1000, 1000, 10, &removed, ERR), BATON_OK, "purge the rest");
    TAP_EQ_INT(removed, 1, "one more");
    TAP_EQ_INT(O->purge(S, 1000, 1000, 10, &removed, ERR), BATON_OK, "nothing left to purge");
    TAP_EQ_INT(removed, 0, "zero");
    collect h = {0};
    TAP_EQ_INT(O->history_read(S, old2, 0, 0, collect_text, &h, ERR), BATON_NOTFOUND,
               "history gone with the instance");
    TAP_EQ_INT(O->instance_get(S, young, &r, NULL, ERR), BATON_OK, "a recent one is kept");
    TAP_EQ_INT(O->instance_get(S, live, &r, NULL, ERR), BATON_OK, "an active one is kept");
    collect t = {0};
    O->timer_due(S, 10, 0, collect_timer, &t, ERR);
    bool stale_left = false;
    for (int i = 0; i < t.n; i++)
        stale_left |= t.a[i] == old1;
    TAP_OK(!stale_left, "rows left for a removed instance go too");
    baton_message_row f;
    TAP_EQ_INT(O->message_find(S, "m", NULL, 1000, &f, ERR), BATON_OK, "live message kept");
}

/* ---- durable stores only ---------------------------------------------------------------- */

static void test_rollback(void) {
    int64_t id = put_instance(0, 0, "rb", BATON_INSTANCE_ACTIVE, 0);
    append(id, 1, 2);
    O->begin(S, ERR);
    baton_instance_row r;
    O->instance_get(S, id, &r, NULL, ERR);
    baton_instance_row u = r;
    u.process_id = "proc";
    u.business_key = "rb";
    u.seq = 3;
    O->instance_put(S, &u, "{\"changed\":true}", ERR);
    O->history_append(S, id, 3, 1, "x", NULL, "{\"seq\":3}", ERR);
    baton_job_row j = {id, 50, "t", "e", 1, 0, NULL, 0, 1};
    O->job_put(S, &j, ERR);
    O->rollback(S);
    TAP_OK(!O->failed(S), "a rollback leaves the handle usable");
    const char *state = NULL;
    TAP_EQ_INT(O->instance_get(S, id, &r, &state, ERR), BATON_OK, "get after rollback");
    TAP_OK(state && !strstr(state, "changed"), "the state is as before");
    collect h = {0};
    O->history_read(S, id, 0, 0, collect_text, &h, ERR);
    TAP_EQ_INT(h.n, 2, "the history is as before");
    baton_job_row g;
    TAP_EQ_INT(O->job_get(S, id, 50, &g, ERR), BATON_NOTFOUND, "the job was not written");
    /* writes outside a transaction commit on their own */
    TAP_EQ_INT(O->job_put(S, &j, ERR), BATON_OK, "autocommit write");
    reopen();
    TAP_EQ_INT(O->job_get(S, id, 50, &g, ERR), BATON_OK, "autocommit write is durable");
    O->job_delete(S, id, 50, ERR);
}

static void test_failed_handle(void) {
    int64_t id = put_instance(0, 0, "f", BATON_INSTANCE_ACTIVE, 0);
    baton_store_fault_commit(1);
    O->begin(S, ERR);
    baton_job_row j = {id, 60, "t", "e", 1, 0, NULL, 0, 1};
    O->job_put(S, &j, ERR);
    baton_status st = O->commit(S, ERR);
    TAP_EQ_INT(st, BATON_STORE, "an injected commit failure");
    TAP_CONTAINS(E.message, db.kind[0] == 's' ? "sqlite store" : "postgresql store",
                 "the error names the store");
    TAP_CONTAINS(E.message, "injected", "and the cause");
    TAP_OK(O->failed(S), "the handle is failed");
    baton_job_row g;
    TAP_EQ_INT(O->job_get(S, id, 60, &g, ERR), BATON_STORE, "every call answers BATON_STORE");
    TAP_CONTAINS(E.message, "reopen", "saying to reopen");
    TAP_EQ_INT(O->begin(S, ERR), BATON_STORE, "begin too");
    O->rollback(S);
    baton_store_close(S);
    S = open_store();
    O = S->ops;
    TAP_OK(!O->failed(S), "a reopened handle works");
    TAP_EQ_INT(O->job_get(S, id, 60, &g, ERR), BATON_NOTFOUND, "the failed commit wrote nothing");
    baton_instance_row r;
    TAP_EQ_INT(O->instance_get(S, id, &r, NULL, ERR), BATON_OK,
               "what was committed before is there");
}

static void test_open_errors(void) {
    baton_store *s = NULL;
    baton_error err;
    baton_error_clear(&err);
    if (strcmp(db.kind, "sqlite") == 0) {
        TAP_EQ_INT(baton_store_open("sqlite:/nonexistent-dir/x/y.db", &s, &err), BATON_STORE,
                   "a path that cannot be created");
        TAP_CONTAINS(err.message, "sqlite store '/nonexistent-dir/x/y.db'", "names store and path");
        baton_error_clear(&err);
        char url[1100];
        snprintf(url, sizeof url, "%s?synchronous=sometimes", db.url);
        TAP_EQ_INT(baton_store_open(url, &s, &err), BATON_INVALID, "a bad option");
    } else {
        TAP_EQ_INT(
            baton_store_open("postgresql://nobody@/nodb?host=/nonexistent-dir&port=1", &s, &err),
            BATON_STORE, "no server there");
        TAP_CONTAINS(err.message, "postgresql store", "the error names the store");
    }
}

/* Two connections: a transaction holding an instance makes the other wait. */
typedef struct waiter {
    int64_t id;
    int64_t t_got;
    uint64_t seq;
    baton_status st;
} waiter;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *second_writer(void *arg) {
    waiter *w = arg;
    baton_store *s2 = open_store();
    baton_error e;
    baton_error_clear(&e);
    w->st = s2->ops->begin(s2, &e);
    baton_instance_row r;
    if (!w->st)
        w->st = s2->ops->instance_get(s2, w->id, &r, NULL, &e);
    w->t_got = now_ms();
    w->seq = r.seq;
    if (!w->st)
        s2->ops->commit(s2, &e);
    else
        printf("# second writer: %s\n", e.message);
    baton_store_close(s2);
    return NULL;
}

static void test_instance_lock(void) {
    int64_t id = put_instance(0, 0, "lock", BATON_INSTANCE_ACTIVE, 0);
    O->begin(S, ERR);
    baton_instance_row r;
    O->instance_get(S, id, &r, NULL, ERR);
    waiter w = {id, 0, 0, BATON_OK};
    pthread_t t;
    pthread_create(&t, NULL, second_writer, &w);
    usleep(300 * 1000);
    int64_t t_commit = now_ms();
    baton_instance_row u = r;
    u.process_id = "proc";
    u.business_key = "lock";
    u.seq = 42;
    O->instance_put(S, &u, "{}", ERR);
    O->commit(S, ERR);
    pthread_join(t, NULL);
    TAP_EQ_INT(w.st, BATON_OK, "the second transaction got the instance");
    TAP_OK(w.t_got >= t_commit, "only after the first committed");
    TAP_EQ_INT(w.seq, 42, "and saw its write");
}

/* SQL run beside the store on its own database: a refusal only a test wants. */
static bool admin_sql(const char *sql) {
    char msg[256] = "";
    bool ok;
    if (strcmp(db.kind, "sqlite") == 0) {
        sqlite3 *h = NULL;
        ok = sqlite3_open(db.url + 7, &h) == SQLITE_OK &&
             sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK;
        snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(h));
        sqlite3_close(h);
    } else {
        ok = pg_exec(db.url, sql, msg, sizeof msg);
    }
    if (!ok)
        printf("# %s: %s\n", sql, msg);
    return ok;
}

/* A step whose writes include a refused job: begin, read, write, then commit or read first. */
typedef enum { THEN_COMMIT, THEN_READ } refused_then;

static baton_status refused_step(int64_t id, int jobs, refused_then then) {
    baton_instance_row r = {0};
    baton_status st = O->begin(S, ERR);
    if (!st)
        st = O->instance_get(S, id, &r, NULL, ERR);
    baton_instance_row u = r;
    u.process_id = "proc";
    u.business_key = "refused";
    u.seq = 3;
    if (!st)
        st = O->instance_put(S, &u, "{\"changed\":true}", ERR);
    if (!st)
        st = O->history_append(S, id, 3, 1, "x", NULL, "{\"seq\":3}", ERR);
    /* the first and the middle job are both on element 'twin': the second is refused */
    for (int i = 0; !st && i < jobs; i++) {
        char element[16];
        snprintf(element, sizeof element, "e%d", i);
        baton_job_row j = {id, 80 + i, "t", element, 1, 0, NULL, 0, 1};
        if (i == 0 || i == jobs / 2)
            j.element = "twin";
        st = O->job_put(S, &j, ERR);
    }
    if (!st && then == THEN_READ) {
        baton_job_row g;
        st = O->job_get(S, id, 80, &g, ERR);
    }
    if (!st)
        st = O->commit(S, ERR);
    return st;
}

/* Nothing of a refused step is in the store. */
static void nothing_written(int64_t id, const char *label) {
    baton_instance_row r;
    const char *state = NULL;
    TAP_EQ_INT(O->instance_get(S, id, &r, &state, ERR), BATON_OK, "%s: the instance reads", label);
    TAP_OK(state && !strstr(state, "changed"), "%s: its state is as before", label);
    collect h = {0};
    O->history_read(S, id, 0, 0, collect_text, &h, ERR);
    TAP_EQ_INT(h.n, 2, "%s: its history is as before", label);
    baton_job_row g;
    TAP_EQ_INT(O->job_get(S, id, 80, &g, ERR), BATON_NOTFOUND, "%s: no job was written", label);
    TAP_EQ_INT(O->job_get(S, id, 81, &g, ERR), BATON_NOTFOUND, "%s: not the next one either",
               label);
}

/*
 * A write the database refuses (here a unique index on jobs that only this
 * test creates). PostgreSQL keeps writes back and sends them with the next
 * statement that needs an answer or with COMMIT, so the refusal surfaces
 * there, naming the write; SQLite answers at the write. Either way the
 * caller gets BATON_CONFLICT, the transaction commits nothing, and the
 * handle stays usable.
 */
static void test_refused_write(void) {
    if (!admin_sql("CREATE UNIQUE INDEX test_twin ON jobs (instance, element) "
                   "WHERE element = 'twin'")) {
        TAP_OK(0, "create a refusing index");
        return;
    }
    static const struct {
        int jobs;
        refused_then then;
        const char *label;
    } cases[] = {
        {2, THEN_COMMIT, "refused at commit"},
        {2, THEN_READ, "refused at the next read"},
        /* more writes than are kept back: the refusal comes with a later write */
        {40, THEN_COMMIT, "refused in a long transaction"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *label = cases[c].label;
        int64_t id = put_instance(0, 0, "refused", BATON_INSTANCE_ACTIVE, 0);
        append(id, 1, 2);
        baton_status st = refused_step(id, cases[c].jobs, cases[c].then);
        TAP_EQ_INT(st, BATON_CONFLICT, "%s: the step fails", label);
        TAP_CONTAINS(E.message, "storing a job", "%s: naming the write (%s)", label, E.message);
        TAP_CONTAINS(E.message, db.kind[0] == 'p' ? "test_twin" : "UNIQUE constraint",
                     "%s: and the database's reason", label);
        if (strcmp(db.kind, "postgres") == 0 && cases[c].then == THEN_READ) {
            /* a caller that goes on regardless: the server aborted the transaction */
            baton_job_row g;
            TAP_EQ_INT(O->job_get(S, id, 81, &g, ERR), BATON_CONFLICT,
                       "%s: a read after it is refused too", label);
            TAP_EQ_INT(O->commit(S, ERR), BATON_CONFLICT, "%s: and so is the commit", label);
            TAP_CONTAINS(E.message, "storing a job", "%s: naming the refused write (%s)", label,
                         E.message);
        }
        O->rollback(S);
        TAP_OK(!O->failed(S), "%s: the handle stays usable", label);
        nothing_written(id, label);
    }
    admin_sql("DROP INDEX test_twin");
}

/* PostgreSQL: competing nodes skip rows another transaction holds. */
static void test_skip_locked(void) {
    int64_t id = put_instance(0, 0, "skip", BATON_INSTANCE_ACTIVE, 0);
    baton_job_row j1 = {id, 1, "race", "a", 1, 0, NULL, 0, 1};
    baton_job_row j2 = {id, 2, "race", "b", 1, 0, NULL, 0, 2};
    baton_event_row e1 = {0, BATON_OUTBOX_SIGNAL, 1001, 0, "{}", 1};
    baton_event_row e2 = {0, BATON_OUTBOX_SIGNAL, 1001, 0, "{}", 2};
    baton_event_row e3 = {0, BATON_OUTBOX_SIGNAL, 1002, 0, "{}", 3};
    O->begin(S, ERR);
    O->job_put(S, &j1, ERR);
    O->job_put(S, &j2, ERR);
    O->event_push(S, &e1, ERR);
    O->event_push(S, &e2, ERR);
    O->event_push(S, &e3, ERR);
    O->commit(S, ERR);
    baton_store *s2 = open_store();
    const baton_store_ops *o2 = s2->ops;
    baton_error e;
    baton_error_clear(&e);
    O->begin(S, ERR);
    collect a = {0};
    O->job_activate(S, "race", 1, "node1", 10, 1000, collect_job, &a, ERR);
    baton_event_row ev;
    O->event_peek(S, &ev, ERR);
    TAP_EQ_INT(ev.id, e1.id, "node 1 takes the first event");
    o2->begin(s2, &e);
    collect b = {0};
    int64_t t0 = now_ms();
    o2->job_activate(s2, "race", 1, "node2", 10, 1000, collect_job, &b, &e);
    TAP_OK(a.n == 1 && b.n == 1 && a.b[0] != b.b[0], "two nodes activate different jobs");
    baton_event_row ev2;
    TAP_EQ_INT(o2->event_peek(s2, &ev2, &e), BATON_OK, "node 2 peeks");
    TAP_EQ_INT(ev2.id, e3.id, "node 2 skips node 1's event and that instance's later one");
    TAP_OK(now_ms() - t0 < 1000, "without waiting");
    o2->commit(s2, &e);
    O->event_delete(S, ev.id, ERR);
    O->commit(S, ERR);
    baton_error_clear(&e);
    o2->begin(s2, &e);
    o2->event_peek(s2, &ev2, &e);
    TAP_EQ_INT(ev2.id, e2.id, "the instance's next event after the first is done");
    o2->event_delete(s2, e2.id, &e);
    o2->event_delete(s2, e3.id, &e);
    o2->commit(s2, &e);
    baton_store_close(s2);
}

static void test_schema_version(void) {
    if (strcmp(db.kind, "sqlite") == 0) {
        sqlite3 *h = NULL;
        sqlite3_open(db.url + 7, &h);
        sqlite3_stmt *x = NULL;
        sqlite3_prepare_v2(h, "SELECT max(version) FROM schema_version", -1, &x, NULL);
        int v = sqlite3_step(x) == SQLITE_ROW ? sqlite3_column_int(x, 0) : -1;
        sqlite3_finalize(x);
        TAP_OK(v >= 1, "schema_version recorded (%d)", v);
        /* a newer schema than this build knows is refused, clearly */
        sqlite3_exec(h, "INSERT INTO schema_version VALUES (9999, 'future', 0)", NULL, NULL, NULL);
        sqlite3_close(h);
    } else {
        char msg[256] = "";
        bool bumped = pg_exec(db.url, "INSERT INTO schema_version VALUES (9999, 'future', 0)", msg,
                              sizeof msg);
        TAP_OK(bumped, "bump the schema version by hand %s", msg);
    }
    baton_store *s = NULL;
    baton_error err;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_store_open(db.url, &s, &err), BATON_STORE, "a newer schema is refused");
    TAP_CONTAINS(err.message, "newer than this build", "with a clear reason");
    if (strcmp(db.kind, "sqlite") == 0) {
        sqlite3 *h = NULL;
        sqlite3_open(db.url + 7, &h);
        sqlite3_exec(h, "DELETE FROM schema_version WHERE version = 9999", NULL, NULL, NULL);
        sqlite3_close(h);
    } else {
        pg_exec(db.url, "DELETE FROM schema_version WHERE version = 9999", NULL, 0);
    }
}

static void test_views(void) {
    /* element instances and variables per scope are views over the state */
    int64_t id = put_instance(0, 0, "views", BATON_INSTANCE_ACTIVE, 0);
    O->begin(S, ERR);
    baton_instance_row r;
    O->instance_get(S, id, &r, NULL, ERR);
    baton_instance_row u = r;
    u.process_id = "proc";
    u.business_key = "views";
    O->instance_put(S, &u,
                    "{\"elements\":[{\"key\":1,\"parent\":0,\"state\":2,\"element\":null,"
                    "\"vars\":{\"amount\":12,\"who\":\"ann\"}},{\"key\":2,\"parent\":1,\"state\":2,"
                    "\"element\":\"task\"}]}",
                    ERR);
    O->commit(S, ERR);
    char sql[256];
    if (strcmp(db.kind, "sqlite") == 0) {
        sqlite3 *h = NULL;
        sqlite3_open(db.url + 7, &h);
        sqlite3_stmt *x = NULL;
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM element_instances WHERE instance = %lld), "
                 "(SELECT value FROM variables WHERE instance = %lld AND name = 'who')",
                 (long long)id, (long long)id);
        sqlite3_prepare_v2(h, sql, -1, &x, NULL);
        bool row = sqlite3_step(x) == SQLITE_ROW;
        TAP_OK(row && sqlite3_column_int(x, 0) == 2, "element_instances view");
        TAP_EQ_STR(row ? (const char *)sqlite3_column_text(x, 1) : NULL, "\"ann\"",
                   "variables view");
        sqlite3_finalize(x);
        sqlite3_close(h);
    } else {
        PGconn *c = PQconnectdb(db.url);
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM element_instances WHERE instance = %lld), "
                 "(SELECT value FROM variables WHERE instance = %lld AND name = 'who')",
                 (long long)id, (long long)id);
        PGresult *res = PQexec(c, sql);
        bool row = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        TAP_OK(row && atoi(PQgetvalue(res, 0, 0)) == 2, "element_instances view");
        TAP_EQ_STR(row ? PQgetvalue(res, 0, 1) : NULL, "\"ann\"", "variables view");
        PQclear(res);
        PQfinish(c);
    }
}

/* Both durable stores: the same tables and columns (sqlite's counters table is
   PostgreSQL's instance_ids sequence). Run on the PostgreSQL leg. */
static void test_same_schema(void) {
    char dir[] = "/tmp/baton-schema.XXXXXX";
    if (!mkdtemp(dir)) {
        TAP_OK(0, "temporary directory");
        return;
    }
    char path[600], url[640];
    snprintf(path, sizeof path, "%s/s.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    baton_store *s = NULL;
    baton_error err;
    baton_error_clear(&err);
    if (baton_store_open(url, &s, &err)) {
        TAP_OK(0, "open sqlite: %s", err.message);
        rm_tree(dir);
        return;
    }
    baton_store_close(s);
    /* "table.column" lists, sorted, from both */
    char lite[8192] = "", pg[8192] = "";
    sqlite3 *h = NULL;
    sqlite3_open(path, &h);
    sqlite3_stmt *x = NULL;
    sqlite3_prepare_v2(h,
                       "SELECT m.name || '.' || p.name FROM sqlite_master m, "
                       "pragma_table_info(m.name) p WHERE m.type IN ('table', 'view') "
                       "AND m.name NOT IN ('counters') AND m.name NOT LIKE 'sqlite_%' "
                       "ORDER BY 1",
                       -1, &x, NULL);
    while (sqlite3_step(x) == SQLITE_ROW) {
        strncat(lite, (const char *)sqlite3_column_text(x, 0), sizeof lite - strlen(lite) - 2);
        strcat(lite, " ");
    }
    sqlite3_finalize(x);
    sqlite3_close(h);
    PGconn *c = PQconnectdb(db.url);
    PGresult *r = PQexec(c, "SELECT table_name || '.' || column_name AS n FROM "
                            "information_schema.columns WHERE table_schema = 'public' "
                            "ORDER BY (table_name || '.' || column_name) COLLATE \"C\"");
    for (int i = 0; i < PQntuples(r); i++) {
        strncat(pg, PQgetvalue(r, i, 0), sizeof pg - strlen(pg) - 2);
        strcat(pg, " ");
    }
    PQclear(r);
    PQfinish(c);
    TAP_OK(strlen(lite) > 100, "sqlite columns read");
    TAP_EQ_STR(lite, pg, "SQLite and PostgreSQL have the same tables, views and columns");
    rm_tree(dir);
}

/* Nodes starting at once on a fresh database: migrations take turns (advisory lock). */
typedef struct opener {
    const char *url;
    baton_status st;
    char msg[BATON_ERROR_MSG_MAX];
} opener;

static void *open_one(void *arg) {
    opener *o = arg;
    baton_store *s = NULL;
    baton_error e;
    baton_error_clear(&e);
    o->st = baton_store_open(o->url, &s, &e);
    snprintf(o->msg, sizeof o->msg, "%s", e.message);
    baton_store_close(s);
    return NULL;
}

static void test_concurrent_migrations(void) {
    char name[96], url[1100], sql[160];
    snprintf(name, sizeof name, "%.60s_fresh", db.pg_name);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    pg_exec(db.pg_admin, sql, NULL, 0);
    pg_url_with_db(db.pg_admin, name, url, sizeof url);
    opener o[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        o[i] = (opener){url, BATON_OK, ""};
        pthread_create(&t[i], NULL, open_one, &o[i]);
    }
    int ok = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ok += o[i].st == BATON_OK;
        if (o[i].st)
            printf("# open %d: %s\n", i, o[i].msg);
    }
    TAP_EQ_INT(ok, 6, "six nodes open a fresh database at once");
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "SELECT count(*), count(DISTINCT version) FROM schema_version");
    bool once = PQresultStatus(r) == PGRES_TUPLES_OK &&
                strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) == 0;
    TAP_OK(once, "each migration applied once");
    PQclear(r);
    PQfinish(c);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    pg_exec(db.pg_admin, sql, NULL, 0);
}

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    const char *kind = argc > 1 ? argv[1] : "memory";
    int ready = test_db_init(&db, kind, "store");
    if (ready <= 0)
        return ready < 0 ? 1 : 0;
    printf("# store %s\n", db.url);
    S = open_store();
    if (!S) {
        printf("Bail out! cannot open the store\n");
        test_db_fini(&db);
        return 1;
    }
    O = S->ops;
    TAP_RUN(test_deployments);
    TAP_RUN(test_instances);
    TAP_RUN(test_jobs);
    TAP_RUN(test_timers);
    TAP_RUN(test_subscriptions);
    TAP_RUN(test_tasks_incidents);
    TAP_RUN(test_wait_drop);
    TAP_RUN(test_outbox_messages);
    TAP_RUN(test_message_waiting);
    TAP_RUN(test_reentrant_listing);
    TAP_RUN(test_instance_query);
    TAP_RUN(test_instance_rewrites);
    TAP_RUN(test_job_query);
    TAP_RUN(test_task_query);
    TAP_RUN(test_incident_query);
    TAP_RUN(test_retention);
    TAP_RUN(test_history); /* last for memory: its refusals in a transaction fail the store */
    if (durable(&db)) {
        TAP_RUN(test_rollback);
        TAP_RUN(test_failed_handle);
        TAP_RUN(test_open_errors);
        TAP_RUN(test_instance_lock);
        TAP_RUN(test_views);
        TAP_RUN(test_migration_from_v2);
        TAP_RUN(test_migration_from_v3);
        if (strcmp(db.kind, "sqlite") == 0)
            TAP_RUN(test_migration_from_v4);
        else
            TAP_RUN(test_subscription_plan);
        TAP_RUN(test_schema_version);
        TAP_RUN(test_refused_write);
        if (strcmp(db.kind, "postgres") == 0) {
            TAP_RUN(test_skip_locked);
            TAP_RUN(test_same_schema);
            TAP_RUN(test_concurrent_migrations);
        }
    }
    baton_store_close(S);
    test_db_fini(&db);
    return tap_done();
}
