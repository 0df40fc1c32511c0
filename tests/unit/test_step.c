/*
 * test_step.c - the step function against the instance's derived indexes
 * (joins by flow and gateway, waits by owner, conditional waits; see
 * interpreter/interp_int.h).
 *
 * Every step runs twice: on an instance stepped in place since its start
 * (its indexes maintained record by record) and on a copy rebuilt from the
 * state's JSON just before (indexes derived on load). Both must emit the
 * same records and reach the same state, and baton_instance_check() must
 * find both sets of indexes in agreement with the state. At the end the
 * records are replayed on an empty instance, which must come out the same.
 * The cases make the indexes change in every way the semantics allow:
 * joins over many branches completed in several orders, tokens withdrawn
 * by boundary events, terminate end events and event subprocesses, loops
 * back into a join, inclusive joins, and conditional events among
 * unrelated waits.
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "interpreter/instance.h"
#include "interpreter/step.h"
#include "parser/bpmn.h"
#include "tests/tap.h"

#define DEFS                                                                                       \
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                          \
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "                                     \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\" targetNamespace=\"t\">"          \
    "<process id=\"p\" isExecutable=\"true\">"
#define END "</process></definitions>"
#define JOB(id, type)                                                                              \
    "<serviceTask id=\"" id "\"><extensionElements><zeebe:taskDefinition type=\"" type             \
    "\"/></extensionElements></serviceTask>"

/* ---- the twin driver ------------------------------------------------------------------------ */

typedef struct twin {
    baton_model *m;
    baton_stepper *s;
    baton_instance *inst; /* stepped in place from the start */
    cJSON *history;       /* every record, as JSON */
    cJSON *last;          /* the records of the last step */
    int64_t now;
    bool ok; /* every comparison so far held */
} twin;

static cJSON *records_json(const twin *t) {
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; i < baton_stepper_record_count(t->s); i++)
        cJSON_AddItemToArray(a, baton_record_to_json(baton_stepper_record(t->s, i), t->m));
    return a;
}

static bool same_state(const baton_instance *a, const baton_instance *b) {
    cJSON *x = baton_instance_to_json(a), *y = baton_instance_to_json(b);
    bool same = x && y && cJSON_Compare(x, y, true);
    cJSON_Delete(x);
    cJSON_Delete(y);
    return same;
}

static bool indexes_ok(const baton_instance *inst, const char *which) {
    baton_error err;
    baton_error_clear(&err);
    if (baton_instance_check(inst, &err) == BATON_OK)
        return true;
    printf("# %s: %s\n", which, err.message);
    return false;
}

/* One input on both instances; both must agree. Returns the status. */
static baton_status step(twin *t, baton_input *in) {
    baton_error err;
    baton_error_clear(&err);
    cJSON *sj = baton_instance_to_json(t->inst);
    baton_instance *copy = NULL;
    bool loaded = sj && baton_instance_from_json(t->m, sj, &copy, &err) == BATON_OK;
    cJSON_Delete(sj);
    if (!loaded || !indexes_ok(copy, "loaded")) {
        TAP_OK(false, "the state loads from its JSON with consistent indexes");
        t->ok = false;
        baton_instance_free(copy);
        return BATON_INVALID;
    }
    baton_status st = baton_step(t->s, t->inst, in, t->now, &err);
    cJSON_Delete(t->last);
    t->last = records_json(t);
    baton_error_clear(&err);
    baton_status st2 = baton_step(t->s, copy, in, t->now, &err);
    cJSON *recs2 = records_json(t);
    bool agree = st == st2 && cJSON_Compare(t->last, recs2, true) && same_state(t->inst, copy) &&
                 indexes_ok(t->inst, "stepped in place") && indexes_ok(copy, "stepped copy");
    if (!agree) {
        TAP_OK(false, "in place and from JSON: same records, same state, consistent indexes");
        t->ok = false;
    }
    cJSON_Delete(recs2);
    baton_instance_free(copy);
    for (cJSON *r = t->last->child; r; r = r->next)
        cJSON_AddItemToArray(t->history, cJSON_Duplicate(r, 1));
    t->now += 1000;
    return st;
}

static void twin_start(twin *t, const char *xml, const char *vars) {
    memset(t, 0, sizeof *t);
    t->ok = true;
    t->now = 1000000;
    baton_error err;
    baton_error_clear(&err);
    baton_load_opts lo = {.name = "test.bpmn"};
    if (baton_bpmn_load(xml, strlen(xml), &lo, NULL, &t->m, &err)) {
        printf("# load: %s: %s\n", err.where, err.message);
        TAP_OK(false, "model loads");
        exit(1);
    }
    t->s = baton_stepper_new();
    t->inst = baton_instance_new(t->m, 0, 7);
    t->history = cJSON_CreateArray();
    cJSON *v = vars ? cJSON_Parse(vars) : NULL;
    baton_input in = {.kind = BATON_IN_START, .node = BATON_NONE, .variables = v};
    TAP_EQ_INT(step(t, &in), BATON_OK, "starts");
    cJSON_Delete(v);
}

/* Replay the history on an empty instance; then free everything. */
static void twin_finish(twin *t) {
    baton_error err;
    baton_error_clear(&err);
    baton_instance *r = baton_instance_new(t->m, 0, 7);
    bool ok = r != NULL;
    for (cJSON *j = t->history->child; ok && j; j = j->next) {
        baton_record rec;
        ok = baton_record_from_json(j, t->m, &rec, &err) == BATON_OK;
        if (ok) {
            ok = baton_instance_apply(r, &rec, &err) == BATON_OK;
            baton_record_free_parsed(&rec);
        }
    }
    TAP_OK(ok && same_state(r, t->inst) && indexes_ok(r, "replayed"),
           "replaying %d records rebuilds the state and its indexes",
           cJSON_GetArraySize(t->history));
    TAP_OK(t->ok, "every step agreed in place and from JSON");
    baton_instance_free(r);
    baton_instance_free(t->inst);
    baton_stepper_free(t->s);
    baton_model_unref(t->m);
    cJSON_Delete(t->history);
    cJSON_Delete(t->last);
}

/* The open wait at node `id` with the lowest key, or 0. */
static int64_t wait_at(const twin *t, const char *id) {
    baton_idx n = baton_model_find_node(t->m, id);
    int64_t best = 0;
    for (uint32_t i = 0; i < baton_instance_wait_count(t->inst); i++) {
        const baton_wait *w = baton_instance_wait_at(t->inst, i);
        if (w->element == n && (!best || w->key < best))
            best = w->key;
    }
    return best;
}

static int waits_at(const twin *t, const char *id) {
    baton_idx n = baton_model_find_node(t->m, id);
    int c = 0;
    for (uint32_t i = 0; i < baton_instance_wait_count(t->inst); i++)
        c += baton_instance_wait_at(t->inst, i)->element == n;
    return c;
}

static baton_status input(twin *t, uint8_t kind, int64_t key, const char *vars) {
    cJSON *v = vars ? cJSON_Parse(vars) : NULL;
    baton_input in = {.kind = kind, .key = key, .node = BATON_NONE, .variables = v};
    baton_status st = step(t, &in);
    cJSON_Delete(v);
    return st;
}

/* Complete the job or user task waiting at node `id`. */
static baton_status complete(twin *t, const char *id, const char *vars) {
    int64_t k = wait_at(t, id);
    if (!k) {
        TAP_OK(false, "a wait at '%s' to complete", id);
        return BATON_NOTFOUND;
    }
    return input(t, BATON_IN_COMPLETE, k, vars);
}

/* Records of kind `kind` in the last step. */
static int count_last(const twin *t, const char *kind) {
    int c = 0;
    for (cJSON *r = t->last->child; r; r = r->next)
        c += strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "kind")), kind) == 0;
    return c;
}

static const baton_elem *root_elem(const twin *t) {
    for (uint32_t i = 0; i < baton_instance_elem_count(t->inst); i++) {
        const baton_elem *e = baton_instance_elem_at(t->inst, i);
        if (e->element == BATON_NONE && e->parent == 0)
            return e;
    }
    return NULL;
}

static uint32_t root_join_tokens(const twin *t) {
    const baton_elem *r = root_elem(t);
    return r ? r->join_tokens : 0;
}

/* An order of 0..n-1: 0 oldest first, 1 newest first, else shuffled by `how`. */
static void order(int *ord, int n, unsigned how) {
    for (int i = 0; i < n; i++)
        ord[i] = how == 1 ? n - 1 - i : i;
    if (how < 2)
        return;
    uint32_t x = how * 2654435761u;
    for (int i = n - 1; i > 0; i--) {
        x = x * 1664525u + 1013904223u;
        int j = (int)((x >> 8) % (uint32_t)(i + 1));
        int tmp = ord[i];
        ord[i] = ord[j];
        ord[j] = tmp;
    }
}

/* ---- models ------------------------------------------------------------------------------------
 */

/*
 * start -> fork -> n service tasks t<i> -> join -> end, with `extra` inside
 * the process and `task_extra(i)` after each task (boundary events).
 */
static char *fork_join(int n, const char *gw, const char *extra, bool boundaries) {
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_printf(&b,
                     DEFS "<startEvent id=\"s\"/><parallelGateway id=\"fork\"/><%s id=\"join\"/>"
                          "<endEvent id=\"e\"/><sequenceFlow id=\"f0\" sourceRef=\"s\" "
                          "targetRef=\"fork\"/><sequenceFlow id=\"fe\" sourceRef=\"join\" "
                          "targetRef=\"e\"/>%s",
                     gw, extra ? extra : "");
    for (int i = 0; i < n; i++) {
        baton_buf_printf(&b,
                         "<serviceTask id=\"t%d\"><extensionElements><zeebe:taskDefinition "
                         "type=\"w\"/></extensionElements></serviceTask>"
                         "<sequenceFlow id=\"a%d\" sourceRef=\"fork\" targetRef=\"t%d\"/>"
                         "<sequenceFlow id=\"b%d\" sourceRef=\"t%d\" targetRef=\"join\"/>",
                         i, i, i, i, i);
        if (boundaries)
            /* two timers per task: completing it closes both, in key order */
            baton_buf_printf(
                &b,
                "<boundaryEvent id=\"x%d\" attachedToRef=\"t%d\"><timerEventDefinition>"
                "<timeDuration>PT1H</timeDuration></timerEventDefinition>"
                "</boundaryEvent><sequenceFlow id=\"xf%d\" sourceRef=\"x%d\" "
                "targetRef=\"xe%d\"/><endEvent id=\"xe%d\"/>"
                "<boundaryEvent id=\"y%d\" attachedToRef=\"t%d\" "
                "cancelActivity=\"false\"><timerEventDefinition><timeDuration>PT2H"
                "</timeDuration></timerEventDefinition></boundaryEvent>"
                "<sequenceFlow id=\"yf%d\" sourceRef=\"y%d\" targetRef=\"ye%d\"/>"
                "<endEvent id=\"ye%d\"/>",
                i, i, i, i, i, i, i, i, i, i, i, i);
    }
    baton_buf_puts(&b, END);
    return baton_buf_take(&b);
}

/* ---- cases -------------------------------------------------------------------------------------
 */

/* Below and above the size where the join index becomes a hash table. */
static const int sizes[] = {2, 8, 9, 40};

static void test_parallel_join_orders(void) {
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
        int n = sizes[z];
        char *xml = fork_join(n, "parallelGateway", NULL, false);
        for (unsigned how = 0; how < 5; how++) {
            twin t;
            twin_start(&t, xml, NULL);
            int ord[40];
            order(ord, n, how);
            bool early = false;
            for (int i = 0; i < n; i++) {
                char id[16];
                snprintf(id, sizeof id, "t%d", ord[i]);
                complete(&t, id, NULL);
                if (i < n - 1)
                    early |= count_last(&t, "gateway_joined") != 0 ||
                             root_join_tokens(&t) != (uint32_t)i + 1;
            }
            TAP_OK(!early, "%d branches, order %u: the join waits, holding one token per arrival",
                   n, how);
            TAP_EQ_INT(count_last(&t, "gateway_joined"), 1, "%d branches, order %u: the last fires",
                       n, how);
            TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED,
                       "%d branches, order %u: completed", n, how);
            twin_finish(&t);
        }
        baton_free(xml);
    }
}

static void test_boundaries_closed_by_owner(void) {
    /* each task owns two timers among 2n waits; completing it closes its own, in key order */
    int n = 12;
    char *xml = fork_join(n, "parallelGateway", NULL, true);
    twin t;
    twin_start(&t, xml, NULL);
    TAP_EQ_INT(baton_instance_wait_count(t.inst), 3 * n, "a job and two timers per branch");
    int ord[12];
    order(ord, n, 3);
    bool in_order = true;
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", ord[i]);
        char bx[16], by[16];
        snprintf(bx, sizeof bx, "x%d", ord[i]);
        snprintf(by, sizeof by, "y%d", ord[i]);
        int64_t kx = wait_at(&t, bx), ky = wait_at(&t, by);
        complete(&t, id, NULL);
        /* wait_closed records: exactly this task's two timers, lower key first */
        int64_t seen[2] = {0, 0};
        int c = 0;
        for (cJSON *r = t.last->child; r; r = r->next)
            if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "kind")), "wait_closed") &&
                c < 2)
                seen[c++] = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "key"));
        in_order &= c == 2 && count_last(&t, "wait_closed") == 2 &&
                    seen[0] == (kx < ky ? kx : ky) && seen[1] == (kx < ky ? ky : kx);
    }
    TAP_OK(in_order, "each completion closes its own task's two timers, lower key first");
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    twin_finish(&t);
    baton_free(xml);

    /* a timer fires on one branch: its task is cancelled, the others keep their timers */
    xml = fork_join(3, "inclusiveGateway", NULL, true);
    twin_start(&t, xml, NULL);
    t.now += 3600 * 1000;
    input(&t, BATON_IN_TIMER, wait_at(&t, "x1"), NULL);
    TAP_EQ_INT(waits_at(&t, "t1") + waits_at(&t, "y1"), 0, "the interrupted task's waits close");
    TAP_EQ_INT(waits_at(&t, "y0") + waits_at(&t, "y2"), 2, "the other tasks keep theirs");
    complete(&t, "t0", NULL);
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_ACTIVE, "t2 is still to come");
    complete(&t, "t2", NULL);
    TAP_EQ_INT(count_last(&t, "gateway_joined"), 1, "the inclusive join fires without t1");
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    twin_finish(&t);
    baton_free(xml);
}

static void test_subprocess_boundary_withdraws(void) {
    /* join tokens inside a subprocess die with it; the outer join keeps its own */
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_puts(
        &b, DEFS
        "<startEvent id=\"s\"/><parallelGateway id=\"fork0\"/>"
        "<sequenceFlow id=\"g0\" sourceRef=\"s\" targetRef=\"fork0\"/>"
        "<sequenceFlow id=\"g1\" sourceRef=\"fork0\" targetRef=\"sub\"/>"
        "<sequenceFlow id=\"g2\" sourceRef=\"fork0\" targetRef=\"ot\"/>" JOB(
            "ot", "o") "<sequenceFlow id=\"g3\" sourceRef=\"ot\" targetRef=\"join0\"/>"
                       "<exclusiveGateway id=\"m\"/><parallelGateway id=\"join0\"/>"
                       "<sequenceFlow id=\"g4\" sourceRef=\"sub\" targetRef=\"m\"/>"
                       "<boundaryEvent id=\"bt\" attachedToRef=\"sub\"><timerEventDefinition>"
                       "<timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>"
                       "<sequenceFlow id=\"g5\" sourceRef=\"bt\" targetRef=\"after\"/>" JOB(
                           "after",
                           "a") "<sequenceFlow id=\"g6\" sourceRef=\"after\" "
                                "targetRef=\"m\"/>"
                                "<sequenceFlow id=\"g7\" sourceRef=\"m\" targetRef=\"join0\"/>"
                                "<sequenceFlow id=\"g8\" sourceRef=\"join0\" "
                                "targetRef=\"e0\"/><endEvent id=\"e0\"/>"
                                "<subProcess id=\"sub\"><startEvent id=\"ss\"/>"
                                "<parallelGateway id=\"fork\"/><parallelGateway "
                                "id=\"join\"/><endEvent id=\"se\"/>"
                                "<sequenceFlow id=\"h0\" sourceRef=\"ss\" targetRef=\"fork\"/>"
                                "<sequenceFlow id=\"h1\" sourceRef=\"join\" "
                                "targetRef=\"se\"/>");
    for (int i = 0; i < 12; i++)
        baton_buf_printf(&b,
                         JOB("t%d", "w") "<sequenceFlow id=\"a%d\" sourceRef=\"fork\" "
                                         "targetRef=\"t%d\"/><sequenceFlow id=\"b%d\" "
                                         "sourceRef=\"t%d\" targetRef=\"join\"/>",
                         i, i, i, i, i);
    baton_buf_puts(&b, "</subProcess>" END);
    char *xml = baton_buf_take(&b);
    twin t;
    twin_start(&t, xml, NULL);
    int ord[12];
    order(ord, 12, 4);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", ord[i]);
        complete(&t, id, NULL);
    }
    complete(&t, "ot", NULL);
    TAP_EQ_INT(root_join_tokens(&t), 1, "the outer join holds the outer branch");
    t.now += 3600 * 1000;
    input(&t, BATON_IN_TIMER, wait_at(&t, "bt"), NULL);
    TAP_EQ_INT(count_last(&t, "element_terminated"), 3,
               "the subprocess and its two open tasks end");
    TAP_EQ_INT(baton_instance_wait_count(t.inst), 1, "only the job of 'after' waits");
    TAP_EQ_INT(root_join_tokens(&t), 1, "the outer join still holds its token");
    complete(&t, "after", NULL);
    TAP_EQ_INT(count_last(&t, "gateway_joined"), 1, "the outer join fires");
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    twin_finish(&t);
    baton_free(xml);
}

static void test_terminate_discards(void) {
    char *xml = fork_join(12, "parallelGateway",
                          "<sequenceFlow id=\"k0\" sourceRef=\"fork\" targetRef=\"stop\"/>" JOB(
                              "stop", "s") "<sequenceFlow id=\"k1\" sourceRef=\"stop\" "
                                           "targetRef=\"te\"/><endEvent id=\"te\">"
                                           "<terminateEventDefinition/></endEvent>",
                          false);
    twin t;
    twin_start(&t, xml, NULL);
    int ord[12];
    order(ord, 12, 2);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", ord[i]);
        complete(&t, id, NULL);
    }
    TAP_EQ_INT(root_join_tokens(&t), 10, "ten tokens wait at the join");
    complete(&t, "stop", NULL);
    TAP_EQ_INT(count_last(&t, "tokens_discarded"), 1, "the terminate end event discards them");
    TAP_EQ_INT(count_last(&t, "gateway_joined"), 0, "and the join never fires");
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    TAP_EQ_INT(baton_instance_wait_count(t.inst), 0, "no wait is left");
    twin_finish(&t);
    baton_free(xml);
}

static void test_loop_into_join(void) {
    /* start -> merge -> fork(10) -> join -> again? back to merge : end */
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_puts(&b, DEFS "<startEvent id=\"s\"/><exclusiveGateway id=\"merge\"/>"
                            "<parallelGateway id=\"fork\"/><parallelGateway id=\"join\"/>"
                            "<exclusiveGateway id=\"more\" default=\"done\"/><endEvent id=\"e\"/>"
                            "<sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"merge\"/>"
                            "<sequenceFlow id=\"f1\" sourceRef=\"merge\" targetRef=\"fork\"/>"
                            "<sequenceFlow id=\"f2\" sourceRef=\"join\" targetRef=\"more\"/>"
                            "<sequenceFlow id=\"again\" sourceRef=\"more\" targetRef=\"merge\">"
                            "<conditionExpression>= again</conditionExpression></sequenceFlow>"
                            "<sequenceFlow id=\"done\" sourceRef=\"more\" targetRef=\"e\"/>");
    for (int i = 0; i < 10; i++)
        baton_buf_printf(&b,
                         JOB("t%d", "w") "<sequenceFlow id=\"a%d\" sourceRef=\"fork\" "
                                         "targetRef=\"t%d\"/><sequenceFlow id=\"b%d\" "
                                         "sourceRef=\"t%d\" targetRef=\"join\"/>",
                         i, i, i, i, i);
    baton_buf_puts(&b, END);
    char *xml = baton_buf_take(&b);
    twin t;
    twin_start(&t, xml, "{\"again\":true}");
    int fired = 0;
    for (unsigned round = 0; round < 4; round++) {
        int ord[10];
        order(ord, 10, round + 1);
        for (int i = 0; i < 10; i++) {
            char id[16];
            snprintf(id, sizeof id, "t%d", ord[i]);
            complete(&t, id, i == 9 && round == 3 ? "{\"again\":false}" : NULL);
            fired += count_last(&t, "gateway_joined");
        }
        TAP_EQ_INT(fired, (int)round + 1, "round %u: the join fired once more", round);
    }
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    twin_finish(&t);
    baton_free(xml);
}

static void test_two_tokens_one_flow(void) {
    /* two tokens arrive on the same incoming flow: the join takes one, one stays */
    const char *xml =
        DEFS "<startEvent id=\"s\"/><parallelGateway id=\"fork\"/><exclusiveGateway id=\"m\"/>"
             "<parallelGateway id=\"join\"/><endEvent id=\"e\"/>" JOB("a", "w") JOB("a2", "w")
                 JOB("b", "w") "<sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"fork\"/>"
                               "<sequenceFlow id=\"f1\" sourceRef=\"fork\" targetRef=\"a\"/>"
                               "<sequenceFlow id=\"f2\" sourceRef=\"fork\" targetRef=\"a2\"/>"
                               "<sequenceFlow id=\"f3\" sourceRef=\"fork\" targetRef=\"b\"/>"
                               "<sequenceFlow id=\"f4\" sourceRef=\"a\" targetRef=\"m\"/>"
                               "<sequenceFlow id=\"f5\" sourceRef=\"a2\" targetRef=\"m\"/>"
                               "<sequenceFlow id=\"fm\" sourceRef=\"m\" targetRef=\"join\"/>"
                               "<sequenceFlow id=\"fb\" sourceRef=\"b\" targetRef=\"join\"/>"
                               "<sequenceFlow id=\"fe\" sourceRef=\"join\" targetRef=\"e\"/>" END;
    twin t;
    twin_start(&t, xml, NULL);
    complete(&t, "a", NULL);
    complete(&t, "a2", NULL);
    TAP_EQ_INT(count_last(&t, "gateway_joined"), 0, "two tokens on one flow do not fire it");
    complete(&t, "b", NULL);
    TAP_EQ_INT(count_last(&t, "gateway_joined"), 1, "the other flow's token does");
    TAP_EQ_INT(root_join_tokens(&t), 1, "one token stays on the doubled flow");
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_ACTIVE, "so the process waits");
    input(&t, BATON_IN_CANCEL, 0, NULL);
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_TERMINATED, "cancelled");
    twin_finish(&t);
}

static void test_inclusive_join(void) {
    /* inclusive split over 12 conditions, x = 9 takes ten of them; completed in several
       orders; the process goes on after the join (its scope outlives the join's tokens) */
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_puts(&b, DEFS
                   "<startEvent id=\"s\"/><inclusiveGateway id=\"split\"/>"
                   "<inclusiveGateway id=\"join\"/><endEvent id=\"e\"/>"
                   "<sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"split\"/>"
                   "<sequenceFlow id=\"fe\" sourceRef=\"join\" targetRef=\"last\"/>" JOB(
                       "last", "l") "<sequenceFlow id=\"fl\" sourceRef=\"last\" targetRef=\"e\"/>");
    for (int i = 0; i < 12; i++)
        baton_buf_printf(&b,
                         JOB("t%d", "w") "<sequenceFlow id=\"a%d\" sourceRef=\"split\" "
                                         "targetRef=\"t%d\"><conditionExpression>= x &gt;= %d"
                                         "</conditionExpression></sequenceFlow><sequenceFlow "
                                         "id=\"b%d\" sourceRef=\"t%d\" targetRef=\"join\"/>",
                         i, i, i, i, i, i);
    baton_buf_puts(&b, END);
    char *xml = baton_buf_take(&b);
    for (unsigned how = 0; how < 4; how++) {
        twin t;
        twin_start(&t, xml, "{\"x\":9}");
        TAP_EQ_INT(baton_instance_wait_count(t.inst), 10, "order %u: ten branches taken", how);
        int ord[10];
        order(ord, 10, how);
        int early = 0;
        for (int i = 0; i < 10; i++) {
            char id[16];
            snprintf(id, sizeof id, "t%d", ord[i]);
            complete(&t, id, NULL);
            if (i < 9)
                early += count_last(&t, "gateway_joined");
        }
        TAP_EQ_INT(early, 0, "order %u: the join waits while a branch can still arrive", how);
        TAP_EQ_INT(count_last(&t, "gateway_joined"), 1, "order %u: the last arrival fires it", how);
        TAP_EQ_INT(root_join_tokens(&t), 0, "order %u: and takes every token", how);
        complete(&t, "last", NULL);
        TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
        twin_finish(&t);
    }
    baton_free(xml);
}

static void test_event_subprocess_interrupts(void) {
    /* a non-interrupting timer cycle re-arms among the branches; a signal interrupts them all */
    char *xml =
        fork_join(12, "parallelGateway",
                  "<subProcess id=\"tick\" triggeredByEvent=\"true\"><startEvent id=\"every\" "
                  "isInterrupting=\"false\"><timerEventDefinition><timeCycle>R5/PT10M</timeCycle>"
                  "</timerEventDefinition></startEvent><sequenceFlow id=\"r1\" sourceRef=\"every\" "
                  "targetRef=\"tk\"/>" JOB(
                      "tk", "tick") "<sequenceFlow id=\"r2\" sourceRef=\"tk\" "
                                    "targetRef=\"re\"/><endEvent id=\"re\"/></subProcess>"
                                    "<subProcess id=\"halt\" triggeredByEvent=\"true\">"
                                    "<startEvent id=\"hs\"><signalEventDefinition "
                                    "signalRef=\"sig\"/></startEvent><sequenceFlow "
                                    "id=\"q1\" sourceRef=\"hs\" targetRef=\"cleanup\"/>" JOB(
                                        "cleanup", "c") "<sequenceFlow id=\"q2\" "
                                                        "sourceRef=\"cleanup\" "
                                                        "targetRef=\"qe\"/><endEvent "
                                                        "id=\"qe\"/></subProcess>",
                  false);
    /* the signal is declared beside the process */
    char *at = strstr(xml, "<process");
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_append(&b, xml, (size_t)(at - xml));
    baton_buf_puts(&b, "<signal id=\"sig\" name=\"stop\"/>");
    baton_buf_puts(&b, at);
    baton_free(xml);
    xml = baton_buf_take(&b);
    twin t;
    twin_start(&t, xml, NULL);
    int ord[12];
    order(ord, 12, 6);
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", ord[i]);
        complete(&t, id, NULL);
        if (i == 2) {
            t.now += 600 * 1000;
            input(&t, BATON_IN_TIMER, wait_at(&t, "every"), NULL);
        }
    }
    TAP_EQ_INT(waits_at(&t, "every"), 1, "the cycle timer re-armed");
    TAP_EQ_INT(waits_at(&t, "tk"), 1, "and its subprocess waits at a job");
    TAP_EQ_INT(root_join_tokens(&t), 6, "six tokens wait at the join");
    input(&t, BATON_IN_SIGNAL, wait_at(&t, "hs"), NULL);
    TAP_EQ_INT(root_join_tokens(&t), 0, "the interrupting event subprocess discards them");
    TAP_EQ_INT(baton_instance_wait_count(t.inst), 1, "only its own job is left");
    TAP_EQ_INT(waits_at(&t, "cleanup"), 1, "the cleanup job");
    complete(&t, "cleanup", NULL);
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    twin_finish(&t);
    baton_free(xml);
}

static void test_conditions_among_waits(void) {
    /* conditional events re-evaluated while 20 unrelated jobs wait */
    const char *xml = DEFS
        "<startEvent id=\"s\"/><parallelGateway id=\"fork\"/>"
        "<sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"fork\"/>"
        "<sequenceFlow id=\"f1\" sourceRef=\"fork\" targetRef=\"u\"/>"
        "<sequenceFlow id=\"f2\" sourceRef=\"fork\" targetRef=\"c\"/>"
        "<sequenceFlow id=\"f3\" sourceRef=\"fork\" targetRef=\"mi\"/>"
        "<userTask id=\"u\"/><sequenceFlow id=\"f4\" sourceRef=\"u\" targetRef=\"e1\"/>"
        "<boundaryEvent id=\"grew\" attachedToRef=\"u\" cancelActivity=\"false\">"
        "<conditionalEventDefinition><condition xsi:type=\"tFormalExpression\">= x &gt; 5"
        "</condition></conditionalEventDefinition></boundaryEvent>"
        "<sequenceFlow id=\"f5\" sourceRef=\"grew\" targetRef=\"note\"/>" JOB(
            "note",
            "n") "<sequenceFlow id=\"f6\" sourceRef=\"note\" targetRef=\"e2\"/>"
                 "<intermediateCatchEvent id=\"c\"><conditionalEventDefinition><condition "
                 "xsi:type=\"tFormalExpression\">= y = 1</condition></conditionalEventDefinition>"
                 "</intermediateCatchEvent><sequenceFlow id=\"f7\" sourceRef=\"c\" "
                 "targetRef=\"after\"/>" JOB("after", "a") "<sequenceFlow id=\"f8\" "
                                                           "sourceRef=\"after\" targetRef=\"e3\"/>"
                                                           "<serviceTask id=\"mi\"><"
                                                           "extensionElements><zeebe:"
                                                           "taskDefinition type=\"m\"/></"
                                                           "extensionElements><"
                                                           "multiInstanceLoopCharacteristics><"
                                                           "extensionElements><zeebe:"
                                                           "loopCharacteristics "
                                                           "inputCollection=\"= items\" "
                                                           "inputElement=\"item\"/></"
                                                           "extensionElements></"
                                                           "multiInstanceLoopCharacteristics></"
                                                           "serviceTask>"
                                                           "<sequenceFlow id=\"f9\" "
                                                           "sourceRef=\"mi\" targetRef=\"e4\"/>"
                                                           "<endEvent id=\"e1\"/><endEvent "
                                                           "id=\"e2\"/><endEvent id=\"e3\"/>"
                                                           "<endEvent id=\"e4\"/>" END;
    twin t;
    twin_start(&t, xml,
               "{\"x\":0,\"y\":0,\"items\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}");
    TAP_EQ_INT(waits_at(&t, "mi"), 20, "twenty unrelated jobs");
    input(&t, BATON_IN_SET_VARIABLES, 0, "{\"x\":3}");
    TAP_EQ_INT(count_last(&t, "wait_triggered"), 0, "x = 3: nothing fires");
    input(&t, BATON_IN_SET_VARIABLES, 0, "{\"x\":7}");
    TAP_EQ_INT(count_last(&t, "wait_triggered"), 1, "x = 7: the boundary event fires");
    TAP_EQ_INT(waits_at(&t, "note"), 1, "its path runs");
    TAP_EQ_INT(waits_at(&t, "grew"), 1, "and it re-armed (non-interrupting)");
    input(&t, BATON_IN_SET_VARIABLES, 0, "{\"z\":1}");
    TAP_EQ_INT(count_last(&t, "wait_triggered"), 0, "another variable: nothing fires");
    complete(&t, "mi", "{\"y\":1}");
    TAP_EQ_INT(waits_at(&t, "c"), 0, "y set by a job: the catch event fires");
    TAP_EQ_INT(waits_at(&t, "after"), 1, "and its path runs");
    for (int i = 0; i < 20 && waits_at(&t, "mi"); i++)
        complete(&t, "mi", NULL);
    complete(&t, "u", NULL);
    TAP_EQ_INT(waits_at(&t, "grew"), 0, "completing the task closes its boundary event");
    complete(&t, "note", NULL);
    complete(&t, "after", NULL);
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    twin_finish(&t);
}

static void test_many_conditions(void) {
    /* 30 conditional catch events (a multi-instance subprocess) fire at once, in key order */
    const char *xml =
        DEFS "<startEvent id=\"s\"/><sequenceFlow id=\"f0\" sourceRef=\"s\" targetRef=\"sp\"/>"
             "<subProcess id=\"sp\"><multiInstanceLoopCharacteristics><extensionElements>"
             "<zeebe:loopCharacteristics inputCollection=\"= items\" inputElement=\"item\"/>"
             "</extensionElements></multiInstanceLoopCharacteristics><startEvent id=\"ss\"/>"
             "<sequenceFlow id=\"g0\" sourceRef=\"ss\" targetRef=\"c\"/><intermediateCatchEvent "
             "id=\"c\"><conditionalEventDefinition><condition xsi:type=\"tFormalExpression\">= "
             "go</condition></conditionalEventDefinition></intermediateCatchEvent>"
             "<sequenceFlow id=\"g1\" sourceRef=\"c\" targetRef=\"se\"/><endEvent id=\"se\"/>"
             "</subProcess><sequenceFlow id=\"f1\" sourceRef=\"sp\" targetRef=\"e\"/>"
             "<endEvent id=\"e\"/>" END;
    char vars[256] = "{\"go\":false,\"items\":[0";
    for (int i = 1; i < 30; i++)
        snprintf(vars + strlen(vars), sizeof vars - strlen(vars), ",%d", i);
    strcat(vars, "]}");
    twin t;
    twin_start(&t, xml, vars);
    TAP_EQ_INT(waits_at(&t, "c"), 30, "thirty conditional waits");
    input(&t, BATON_IN_SET_VARIABLES, 0, "{\"go\":false}");
    TAP_EQ_INT(count_last(&t, "wait_triggered"), 0, "go = false: none fires");
    input(&t, BATON_IN_SET_VARIABLES, 0, "{\"go\":true}");
    TAP_EQ_INT(count_last(&t, "wait_triggered"), 30, "go = true: all fire");
    int64_t prev = 0;
    bool ascending = true;
    for (cJSON *r = t.last->child; r; r = r->next)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "kind")), "wait_triggered")) {
            int64_t k = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "key"));
            ascending &= k > prev;
            prev = k;
        }
    TAP_OK(ascending, "in key order");
    TAP_EQ_INT(baton_instance_state_of(t.inst), BATON_INSTANCE_COMPLETED, "completed");
    twin_finish(&t);
}

int main(void) {
    TAP_RUN(test_parallel_join_orders);
    TAP_RUN(test_boundaries_closed_by_owner);
    TAP_RUN(test_subprocess_boundary_withdraws);
    TAP_RUN(test_terminate_discards);
    TAP_RUN(test_loop_into_join);
    TAP_RUN(test_two_tokens_one_flow);
    TAP_RUN(test_inclusive_join);
    TAP_RUN(test_event_subprocess_interrupts);
    TAP_RUN(test_conditions_among_waits);
    TAP_RUN(test_many_conditions);
    return tap_done();
}
