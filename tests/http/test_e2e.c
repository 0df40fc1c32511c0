/*
 * test_e2e.c - the HTTP API end to end on one store (argv[1]: memory,
 * sqlite, postgres): deploy (raw XML and multipart), validation errors,
 * definitions, start, user tasks (claim, conflict, unclaim, complete, and a
 * second completion that changes nothing), message correlation (waiting
 * instance, message start, buffer then a later subscriber, duplicate id),
 * signals (catch event and signal start), variables, cancel, instance
 * listing with filters and cursors, the history, /health and /metrics.
 */
#include <pthread.h>

#include "tests/http/client.h"
#include "tests/tap.h"

static srv S;

static char *orders_xml;
static size_t orders_len;

static long count_items(const char *path) {
    resp r;
    http(&S, "GET", path, NULL, &r);
    long n = jlen(r.json, "items");
    resp_free(&r);
    return n;
}

static void test_deploy(void) {
    resp r;
    http_full(&S, "POST", "/v1/deployments?name=orders.bpmn", "application/xml", orders_xml,
              orders_len, NULL, &r);
    TAP_EQ_INT(r.status, 201, "raw XML deploys (201)");
    TAP_EQ_INT(jlen(r.json, "processes"), 3, "three executable processes");
    TAP_EQ_STR(jstr(r.json, "name"), "orders.bpmn", "the name from ?name=");
    int dep = (int)jnum(r.json, "id");
    resp_free(&r);

    /* the same XML again, as curl -F sends it: recognised, no new version */
    char *form = malloc(orders_len + 1024);
    int n =
        sprintf(form, "--XyZ\r\nContent-Disposition: form-data; name=\"deployment-name\"\r\n\r\n"
                      "orders\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                      "filename=\"orders.bpmn\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    memcpy(form + n, orders_xml, orders_len);
    n += (int)orders_len;
    n += sprintf(form + n, "\r\n--XyZ--\r\n");
    http_full(&S, "POST", "/v1/deployments", "multipart/form-data; boundary=XyZ", form, (size_t)n,
              NULL, &r);
    TAP_EQ_INT(r.status, 200, "multipart upload of the same file: 200, a duplicate");
    TAP_OK(cJSON_IsTrue(jget(r.json, "duplicate")), "duplicate: true");
    TAP_EQ_INT(jnum(r.json, "processes.0.version"), 1, "still version 1");
    resp_free(&r);
    free(form);

    /* an invalid model: 422 with every problem */
    const char *bad =
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">\n"
        "<process id=\"p\" isExecutable=\"true\">\n<startEvent id=\"s\"/>\n"
        "<sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"nowhere\"/>\n"
        "<sequenceFlow id=\"g\" sourceRef=\"s\" targetRef=\"nothing\"/>\n"
        "</process></definitions>";
    long before = count_items("/v1/deployments");
    http_full(&S, "POST", "/v1/deployments", "application/xml", bad, strlen(bad), NULL, &r);
    TAP_EQ_INT(r.status, 422, "invalid model: 422");
    TAP_OK(jlen(r.json, "error.details") >= 2, "every problem listed (%d)",
           jlen(r.json, "error.details"));
    TAP_OK(jnum(r.json, "error.details.0.line") > 0, "with a line");
    TAP_OK(jstr(r.json, "error.details.0.message") != NULL, "and a message");
    TAP_OK(jget(r.json, "error.details.0.element") != NULL, "and an element field");
    TAP_OK(jstr(r.json, "error.request_id") != NULL, "request id in the error body");
    resp_free(&r);
    const char *broken =
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">\n<process";
    http_full(&S, "POST", "/v1/deployments", "application/xml", broken, strlen(broken), NULL, &r);
    TAP_EQ_INT(r.status, 400, "XML that is not well-formed: 400");
    TAP_OK(jlen(r.json, "error.details") >= 1, "with its position as a detail");
    resp_free(&r);
    TAP_EQ_INT(count_items("/v1/deployments"), before, "refused uploads deploy nothing");

    char path[64];
    snprintf(path, sizeof path, "/v1/deployments/%d/xml", dep);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_INT(r.status, 200, "GET the XML back");
    TAP_OK(r.len == orders_len && memcmp(r.body, orders_xml, orders_len) == 0, "byte for byte");
    TAP_CONTAINS(r.content_type, "application/xml", "as application/xml");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/deployments/%d", dep);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_INT(jlen(r.json, "processes"), 3, "a deployment lists its processes");
    resp_free(&r);
    http(&S, "GET", "/v1/deployments/999999", NULL, &r);
    TAP_EQ_INT(r.status, 404, "unknown deployment: 404");
    resp_free(&r);
    http(&S, "GET", "/v1/definitions?processId=order", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 1, "definitions filtered by process id");
    TAP_EQ_STR(jstr(r.json, "items.0.name"), "Order", "with the process name");
    resp_free(&r);
}

static int start(const char *body) {
    resp r;
    http(&S, "POST", "/v1/definitions/order/instances", body, &r);
    int id = r.status == 201 ? (int)jnum(r.json, "id") : -1;
    if (r.status != 201)
        printf("# start: %ld %s\n", r.status, r.body ? r.body : "");
    resp_free(&r);
    return id;
}

static void test_tasks_messages_signals(void) {
    resp r;
    int id = start("{\"variables\":{\"orderId\":\"A-1\",\"amount\":12.5},\"businessKey\":\"A-1\"}");
    TAP_OK(id > 0, "started an instance (%d)", id);
    http(&S, "POST", "/v1/definitions/nope/instances", "{}", &r);
    TAP_EQ_INT(r.status, 404, "unknown process: 404");
    resp_free(&r);
    http(&S, "POST", "/v1/definitions/order/instances?version=7", "{}", &r);
    TAP_EQ_INT(r.status, 404, "unknown version: 404");
    resp_free(&r);
    http(&S, "POST", "/v1/definitions/order/instances", "{\"variables\":[1]}", &r);
    TAP_EQ_INT(r.status, 400, "variables must be an object: 400");
    resp_free(&r);

    char path[128], task[64];
    snprintf(path, sizeof path, "/v1/user-tasks?candidateGroup=auditors&processId=order");
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 1, "the task is offered to a candidate group");
    snprintf(task, sizeof task, "%s", jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "");
    TAP_EQ_STR(jstr(r.json, "items.0.elementId"), "approve", "the approve task");
    resp_free(&r);
    http(&S, "GET", "/v1/user-tasks?candidateGroup=nobody", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 0, "not to other groups");
    resp_free(&r);

    snprintf(path, sizeof path, "/v1/user-tasks/%s/claim", task);
    http(&S, "POST", path, "{\"assignee\":\"ann\"}", &r);
    TAP_EQ_INT(r.status, 200, "claim");
    TAP_EQ_STR(jstr(r.json, "assignee"), "ann", "assigned to ann");
    resp_free(&r);
    http(&S, "POST", path, "{\"assignee\":\"bob\"}", &r);
    TAP_EQ_INT(r.status, 409, "claimed by someone else: 409");
    resp_free(&r);
    http(&S, "GET", "/v1/user-tasks?assignee=ann", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 1, "filter by assignee");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/user-tasks/%s/unclaim", task);
    http(&S, "POST", path, NULL, &r);
    TAP_EQ_INT(r.status, 200, "unclaim");
    TAP_OK(cJSON_IsNull(jget(r.json, "assignee")), "no assignee any more");
    resp_free(&r);

    snprintf(path, sizeof path, "/v1/user-tasks/%s/complete", task);
    http(&S, "POST", path, "{\"variables\":{\"approved\":true}}", &r);
    TAP_EQ_INT(r.status, 200, "complete");
    resp_free(&r);
    char hist[64];
    snprintf(hist, sizeof hist, "/v1/instances/%d/history?limit=1000", id);
    long records = count_items(hist);
    http(&S, "POST", path, "{\"variables\":{\"approved\":false}}", &r);
    TAP_EQ_INT(r.status, 404, "completing it again: 404");
    resp_free(&r);
    TAP_EQ_INT(count_items(hist), records, "and nothing changed");

    /* the instance now waits for the message */
    snprintf(path, sizeof path, "/v1/instances/%d", id);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_STR(jstr(r.json, "waits.0.kind"), "message", "waits for a message");
    TAP_EQ_STR(jstr(r.json, "waits.0.correlationKey"), "A-1", "with the correlation key");
    TAP_OK(cJSON_IsTrue(jget(r.json, "variables.approved")), "the task's variables arrived");
    resp_free(&r);
    http(&S, "POST", "/v1/messages",
         "{\"name\":\"paid\",\"correlationKey\":\"A-1\","
         "\"variables\":{\"paidAt\":\"today\"}}",
         &r);
    TAP_EQ_INT(r.status, 200, "message delivered");
    TAP_EQ_STR(jstr(r.json, "result"), "delivered", "result: delivered");
    TAP_EQ_INT(jnum(r.json, "instanceId"), id, "to the waiting instance");
    resp_free(&r);

    /* a message nobody waits for, with ttl 0: 404, nothing buffered */
    http(&S, "POST", "/v1/messages",
         "{\"name\":\"paid\",\"correlationKey\":\"Z\",\"timeToLive\":0}", &r);
    TAP_EQ_INT(r.status, 404, "no subscriber and no buffering: 404");
    resp_free(&r);

    /* buffered first, then a subscriber arrives */
    http(&S, "POST", "/v1/messages",
         "{\"name\":\"paid\",\"correlationKey\":\"B-2\","
         "\"timeToLive\":\"PT1H\",\"messageId\":\"pay-B-2\"}",
         &r);
    TAP_EQ_INT(r.status, 202, "buffered: 202");
    TAP_EQ_STR(jstr(r.json, "result"), "buffered", "result: buffered");
    resp_free(&r);
    http(&S, "POST", "/v1/messages",
         "{\"name\":\"paid\",\"correlationKey\":\"B-2\","
         "\"timeToLive\":\"PT1H\",\"messageId\":\"pay-B-2\"}",
         &r);
    TAP_EQ_INT(r.status, 409, "same message id again: 409");
    resp_free(&r);
    int id2 = start("{\"variables\":{\"orderId\":\"B-2\"}}");
    snprintf(path, sizeof path, "/v1/user-tasks?instanceId=%d", id2);
    http(&S, "GET", path, NULL, &r);
    snprintf(task, sizeof task, "%s", jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/user-tasks/%s/complete", task);
    http(&S, "POST", path, NULL, &r);
    TAP_EQ_INT(r.status, 200, "complete without a body");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d", id2);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_STR(jstr(r.json, "waits.0.kind"), "signal",
               "the buffered message was taken: now "
               "at the signal");
    resp_free(&r);

    /* signals: both waiting instances go on, and a signal start event starts one */
    long alarms = count_items("/v1/instances?processId=alarm");
    http(&S, "POST", "/v1/signals", "{\"name\":\"go\"}", &r);
    TAP_EQ_INT(r.status, 200, "signal");
    TAP_EQ_INT(jnum(r.json, "delivered"), 2, "to both waiting instances");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d", id);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_STR(jstr(r.json, "state"), "completed", "the first order completed");
    TAP_OK(jstr(r.json, "ended") != NULL, "with an end time");
    resp_free(&r);
    http(&S, "POST", "/v1/signals", "{\"name\":\"alarm\",\"variables\":{\"level\":3}}", &r);
    TAP_EQ_INT(jnum(r.json, "delivered"), 1, "signal start event");
    resp_free(&r);
    TAP_EQ_INT(count_items("/v1/instances?processId=alarm"), alarms + 1, "an alarm instance ran");

    /* message start event */
    http(&S, "POST", "/v1/messages", "{\"name\":\"new-order\",\"variables\":{\"x\":1}}", &r);
    TAP_EQ_INT(r.status, 200, "message start");
    TAP_EQ_STR(jstr(r.json, "result"), "started", "result: started");
    int intake = (int)jnum(r.json, "instanceId");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d", intake);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_STR(jstr(r.json, "processId"), "order-intake", "of the intake process");
    resp_free(&r);

    /* the audit trail */
    http(&S, "GET", hist, NULL, &r);
    bool saw_var = false, saw_end = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, jget(r.json, "items")) {
        const char *k = jstr(it, "kind");
        if (k && strcmp(k, "variable_set") == 0 && jstr(it, "name") &&
            strcmp(jstr(it, "name"), "paidAt") == 0)
            saw_var = true;
        if (k && strcmp(k, "instance_ended") == 0)
            saw_end = true;
        if (!jstr(it, "time"))
            saw_end = false;
    }
    TAP_OK(saw_var, "history has the message's variable change");
    TAP_OK(saw_end, "and the end, every record with a time");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d/history?limit=5", id);
    http(&S, "GET", path, NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 5, "history pages");
    char next[256];
    snprintf(next, sizeof next, "/v1/instances/%d/history?limit=5&cursor=%s", id,
             jstr(r.json, "nextCursor") ? jstr(r.json, "nextCursor") : "x");
    resp_free(&r);
    http(&S, "GET", next, NULL, &r);
    TAP_EQ_INT(jnum(r.json, "items.0.seq"), 6, "the next page starts after the cursor");
    resp_free(&r);
}

static void test_variables_cancel_list(void) {
    resp r;
    int id = start("{\"variables\":{\"orderId\":\"C-3\"},\"businessKey\":\"C-3\"}");
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%d/variables", id);
    http(&S, "PATCH", path, "{\"note\":\"rush\",\"n\":2}", &r);
    TAP_EQ_INT(r.status, 200, "PATCH variables");
    TAP_EQ_STR(jstr(r.json, "note"), "rush", "merged");
    TAP_EQ_STR(jstr(r.json, "orderId"), "C-3", "others kept");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d/variables/n", id);
    http(&S, "PUT", path, "[1,2,3]", &r);
    TAP_EQ_INT(jlen(r.json, "n"), 3, "PUT one variable");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d/cancel", id);
    http(&S, "POST", path, NULL, &r);
    TAP_EQ_INT(r.status, 200, "cancel");
    TAP_EQ_STR(jstr(r.json, "state"), "terminated", "terminated");
    resp_free(&r);
    http(&S, "POST", path, NULL, &r);
    TAP_EQ_INT(r.status, 409, "cancel again: 409");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/instances/%d/variables", id);
    http(&S, "PATCH", path, "{\"late\":1}", &r);
    TAP_EQ_INT(r.status, 409, "variables of an ended instance: 409");
    resp_free(&r);
    http(&S, "POST", "/v1/instances/987654/cancel", NULL, &r);
    TAP_EQ_INT(r.status, 404, "cancel an unknown instance: 404");
    resp_free(&r);

    http(&S, "GET", "/v1/instances?businessKey=C-3", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 1, "filter by business key");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?processId=order&state=terminated", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 1, "filter by state");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?processId=order&state=completed", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 2, "two orders completed");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?endedAfter=2000-01-01T00:00:00Z&processId=order", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 3, "ended ranges");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?startedBefore=2000-01-01T00:00:00Z", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 0, "started ranges");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?hasIncident=true", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 0, "no incidents");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?state=sleeping", NULL, &r);
    TAP_EQ_INT(r.status, 400, "bad filter value: 400");
    resp_free(&r);

    /* cursor pagination walks every instance once */
    long total = count_items("/v1/instances?limit=1000");
    long seen = 0;
    char url[200] = "/v1/instances?limit=2";
    for (int guard = 0; guard < 100; guard++) {
        http(&S, "GET", url, NULL, &r);
        seen += jlen(r.json, "items");
        const char *c = jstr(r.json, "nextCursor");
        if (!c) {
            resp_free(&r);
            break;
        }
        snprintf(url, sizeof url, "/v1/instances?limit=2&cursor=%s", c);
        resp_free(&r);
    }
    TAP_EQ_INT(seen, total, "pages of 2 cover all %ld instances", total);

    /* a filter and a cursor together: the store pages the filtered rows, one at a time here */
    long orders = count_items("/v1/instances?processId=order&limit=1000");
    long pages = 0, in_order = 0, last_id = 0;
    bool only_orders = true;
    snprintf(url, sizeof url, "/v1/instances?processId=order&limit=1");
    for (int guard = 0; guard < 100; guard++) {
        http(&S, "GET", url, NULL, &r);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(r.json, "items");
        const cJSON *it;
        cJSON_ArrayForEach(it, items) {
            long row_id = (long)jnum(it, "id");
            in_order += row_id > last_id;
            last_id = row_id;
            const char *pid = jstr(it, "processId");
            only_orders = only_orders && pid && strcmp(pid, "order") == 0;
            pages++;
        }
        const char *c = jstr(r.json, "nextCursor");
        if (!c) {
            resp_free(&r);
            break;
        }
        snprintf(url, sizeof url, "/v1/instances?processId=order&limit=1&cursor=%s", c);
        resp_free(&r);
    }
    TAP_OK(orders >= 3 && pages == orders, "filtered pages of 1 cover all %ld orders (%ld)", orders,
           pages);
    TAP_OK(only_orders && in_order == pages, "each an order, in id order");
    snprintf(url, sizeof url, "/v1/instances?processId=order&limit=%ld", orders);
    http(&S, "GET", url, NULL, &r);
    TAP_OK(jlen(r.json, "items") == orders && !jstr(r.json, "nextCursor"),
           "a page that holds the rest has no next cursor");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?processId=order&state=completed&limit=1", NULL, &r);
    const char *next = jstr(r.json, "nextCursor");
    snprintf(url, sizeof url, "/v1/instances?processId=order&state=completed&limit=1&cursor=%s",
             next ? next : "0");
    TAP_OK(jlen(r.json, "items") == 1 && next, "state filter, first page of 1: a cursor");
    resp_free(&r);
    http(&S, "GET", url, NULL, &r);
    TAP_OK(jlen(r.json, "items") == 1 && !jstr(r.json, "nextCursor"), "second page: the last");
    resp_free(&r);
    TAP_EQ_INT(count_items("/v1/instances?hasIncident=false&limit=1000"), total,
               "without incidents: all of them");
    TAP_EQ_INT(count_items("/v1/instances?processId=order&businessKey=C-3&state=terminated"), 1,
               "key, process and state together");
    TAP_EQ_INT(count_items("/v1/instances?processId=order&businessKey=C-3&state=active"), 0,
               "and not in another state");
}

static void test_ops(void) {
    resp r;
    http(&S, "GET", "/health", NULL, &r);
    TAP_EQ_INT(r.status, 200, "health");
    TAP_EQ_STR(jstr(r.json, "status"), "ok", "store reachable");
    resp_free(&r);
    http(&S, "GET", "/metrics", NULL, &r);
    TAP_EQ_INT(r.status, 200, "metrics");
    TAP_CONTAINS(r.content_type, "text/plain", "Prometheus text");
    TAP_CONTAINS(r.body, "baton_instances_started_total{process=\"order\"}", "started by process");
    TAP_CONTAINS(r.body, "baton_instances_completed_total{process=\"order\"} 2",
                 "completed by process");
    TAP_CONTAINS(r.body, "baton_instances_cancelled_total{process=\"order\"} 1",
                 "cancelled by process");
    TAP_CONTAINS(r.body, "baton_instances_active", "active gauge");
    TAP_CONTAINS(r.body, "baton_transitions_total", "transitions");
    TAP_CONTAINS(r.body, "baton_step_duration_seconds_bucket", "step latency histogram");
    TAP_CONTAINS(r.body, "baton_http_requests_total{route=\"POST /v1/messages\",status=\"202\"}",
                 "requests by route and status");
    resp_free(&r);
    const char *hdr[] = {"X-Request-Id: trace-abc.123", NULL};
    http_full(&S, "GET", "/v1/instances/424242", NULL, NULL, 0, hdr, &r);
    TAP_EQ_STR(r.request_id, "trace-abc.123", "the caller's request id is kept");
    TAP_EQ_STR(jstr(r.json, "error.request_id"), "trace-abc.123", "and is in the error body");
    resp_free(&r);
}

/* Parallel clients: starts, reads and listings interleave on every store session. */
#define WORKERS 4
#define ROUNDS  40

typedef struct worker {
    int n;
    int ok;
    int ids[ROUNDS];
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        resp r;
        char body[96], path[64];
        snprintf(body, sizeof body,
                 "{\"variables\":{\"orderId\":\"W%d-%d\"},\"businessKey\":\"W%d\"}", w->n, i, w->n);
        http(&S, "POST", "/v1/definitions/order/instances", body, &r);
        int id = r.status == 201 ? (int)jnum(r.json, "id") : -1;
        if (id < 0)
            printf("# worker %d round %d: start answered %ld %s\n", w->n, i, r.status,
                   r.body ? r.body : "");
        resp_free(&r);
        snprintf(path, sizeof path, "/v1/instances/%d", id);
        http(&S, "GET", path, NULL, &r);
        if (r.status != 200)
            printf("# worker %d round %d: GET answered %ld %s\n", w->n, i, r.status,
                   r.body ? r.body : "");
        char want[32];
        snprintf(want, sizeof want, "W%d-%d", w->n, i);
        bool good = r.status == 200 && jstr(r.json, "variables.orderId") &&
                    strcmp(jstr(r.json, "variables.orderId"), want) == 0;
        resp_free(&r);
        http(&S, "GET", "/v1/user-tasks?limit=5", NULL, &r);
        good = good && r.status == 200;
        long last = r.status;
        resp_free(&r);
        r.status = last;
        w->ids[i] = id;
        w->ok += good && id > 0;
        if (!(good && id > 0))
            printf("# worker %d round %d: id %d, status %ld\n", w->n, i, id, r.status);
    }
    return NULL;
}

static void test_concurrency(void) {
    pthread_t t[WORKERS];
    worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].n = i;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
    }
    TAP_EQ_INT(ok, WORKERS * ROUNDS, "parallel starts each read back their own variables");
    int dup = 0;
    for (int a = 0; a < WORKERS * ROUNDS; a++)
        for (int b = a + 1; b < WORKERS * ROUNDS; b++)
            dup += w[a / ROUNDS].ids[a % ROUNDS] == w[b / ROUNDS].ids[b % ROUNDS];
    TAP_EQ_INT(dup, 0, "no id given twice");
    resp r;
    http(&S, "GET", "/v1/instances?businessKey=W2&limit=1000", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), ROUNDS, "each client's instances are listed");
    resp_free(&r);
}

/* User task listings: each filter with a cursor, a page at a time, against one big page. */
static void test_task_listings(void) {
    resp r;
    char path[128];
    int claimed = 0;
    for (int i = 0; i < 5; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"variables\":{\"orderId\":\"L-%d\"}}", i);
        int id = start(body);
        snprintf(path, sizeof path, "/v1/user-tasks?instanceId=%d", id);
        http(&S, "GET", path, NULL, &r);
        char task[64];
        snprintf(task, sizeof task, "%s",
                 jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "");
        resp_free(&r);
        if (i % 2)
            continue;
        snprintf(path, sizeof path, "/v1/user-tasks/%s/claim", task);
        http(&S, "POST", path, "{\"assignee\":\"zed\"}", &r);
        claimed += r.status == 200;
        resp_free(&r);
    }
    TAP_EQ_INT(claimed, 3, "five tasks, three claimed by zed");

    long groups =
        page_all(&S, "/v1/user-tasks?candidateGroup=auditors&processId=order", 1000, NULL, NULL)
            .items;
    paged p = page_all(&S, "/v1/user-tasks?candidateGroup=auditors&processId=order", 1, "elementId",
                       "approve");
    TAP_OK(p.items == groups && groups >= 5 && p.field_ok && p.ordered && p.ended,
           "by group and process, 1 a page: as one page (%ld of %ld)", p.items, groups);
    p = page_all(&S, "/v1/user-tasks?assignee=zed", 2, "assignee", "zed");
    TAP_OK(p.items == 3 && p.first == 2 && p.field_ok && p.ordered && p.ended,
           "by assignee, 2 a page: zed's three (%ld)", p.items);
    long on =
        page_all(&S, "/v1/user-tasks?candidateGroup=managers&assigned=true", 1, NULL, NULL).items;
    paged off =
        page_all(&S, "/v1/user-tasks?candidateGroup=managers&assigned=false", 2, "assignee", NULL);
    long managers = page_all(&S, "/v1/user-tasks?candidateGroup=managers", 3, NULL, NULL).items;
    TAP_OK(on >= 3 && on + off.items == managers && off.ordered && off.ended,
           "assigned and not, paged: together the group (%ld + %ld = %ld)", on, off.items,
           managers);
    p = page_all(&S, "/v1/user-tasks?candidateGroup=nobody&processId=order", 1, NULL, NULL);
    TAP_OK(p.items == 0 && p.ended, "another group: none");
    p = page_all(&S, "/v1/user-tasks?processId=nothing", 1, NULL, NULL);
    TAP_OK(p.items == 0 && p.ended, "another process: none");
    http(&S, "GET", "/v1/user-tasks?cursor=x-1", NULL, &r);
    TAP_EQ_INT(r.status, 400, "a cursor not given out: 400");
    resp_free(&r);
}

int main(int argc, char **argv) {
    const char *kind = argc > 1 ? argv[1] : "memory";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    store_prepare(&S, kind, "e2e");
    orders_xml = source_file("tests/http/data/orders.bpmn", &orders_len);
    if (!orders_xml || !srv_start(&S, NULL)) {
        printf("1..1\nnot ok 1 - server starts on %s\n", kind);
        srv_dump_log(&S);
        store_cleanup(&S);
        return 1;
    }
    TAP_RUN(test_deploy);
    TAP_RUN(test_tasks_messages_signals);
    TAP_RUN(test_variables_cancel_list);
    TAP_RUN(test_ops);
    TAP_RUN(test_concurrency);
    TAP_RUN(test_task_listings);
    int code = srv_stop(&S);
    tap_case = "shutdown";
    TAP_EQ_INT(code, 0, "SIGTERM: exit 0");
    if (tap_failed)
        srv_dump_log(&S);
    store_cleanup(&S);
    free(orders_xml);
    curl_global_cleanup();
    return tap_done();
}
