/*
 * test_restart.c - stop the server (SIGTERM) while an instance waits at
 * every kind of wait state the API can finish, start it again on the same
 * database, and finish them: a user task, a message, a signal, a called
 * child's user task, and two timers (a catch event and a boundary event)
 * that fall due while the server is down and fire once after the restart.
 */
#include "tests/http/client.h"
#include "tests/tap.h"

static srv S;

static const char *instance_state(int id, resp *r) {
    char path[64];
    snprintf(path, sizeof path, "/v1/instances/%d", id);
    http(&S, "GET", path, NULL, r);
    return jstr(r->json, "state");
}

static int count_waits(const resp *r, const char *kind) {
    int n = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, jget(r->json, "waits")) {
        const char *k = jstr(w, "kind");
        if (k && strcmp(k, kind) == 0)
            n++;
    }
    return n;
}

static void test_restart(void) {
    size_t len = 0;
    char *xml = source_file("tests/http/data/waits.bpmn", &len);
    resp r;
    http_full(&S, "POST", "/v1/deployments", "application/xml", xml, len, NULL, &r);
    TAP_EQ_INT(r.status, 201, "deploy");
    resp_free(&r);
    free(xml);
    http(&S, "POST", "/v1/definitions/waits/instances", "{\"variables\":{\"key\":\"k1\"}}", &r);
    TAP_EQ_INT(r.status, 201, "start");
    int id = (int)jnum(r.json, "id");
    resp_free(&r);
    instance_state(id, &r);
    TAP_EQ_INT(count_waits(&r, "user_task"), 2, "waits at two user tasks (one guarded by a timer)");
    TAP_EQ_INT(count_waits(&r, "message"), 1, "at a message");
    TAP_EQ_INT(count_waits(&r, "signal"), 1, "at a signal");
    TAP_EQ_INT(count_waits(&r, "timer"), 2, "at two timers");
    TAP_EQ_INT(count_waits(&r, "child"), 1, "at a child");
    resp_free(&r);

    TAP_EQ_INT(srv_stop(&S), 0, "SIGTERM with instances waiting: exit 0");
    sleep_ms(2500); /* both timers fall due while the server is down */
    TAP_OK(srv_start(&S, NULL), "the server starts again on the same database");
    sleep_ms(1500); /* the scheduler fires what was missed */

    const char *st = instance_state(id, &r);
    TAP_EQ_STR(st, "active", "the instance is still there");
    TAP_EQ_INT(count_waits(&r, "timer"), 0, "both missed timers fired");
    TAP_EQ_INT(count_waits(&r, "user_task"), 1,
               "the user task still waits (the guarded one "
               "was interrupted)");
    resp_free(&r);
    char hist[80];
    snprintf(hist, sizeof hist, "/v1/instances/%d/history?limit=1000", id);
    http(&S, "GET", hist, NULL, &r);
    int fired = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, jget(r.json, "items")) {
        const char *k = jstr(it, "kind");
        if (k && strcmp(k, "wait_triggered") == 0 && jnum(it, "aux") == 3)
            fired++;
    }
    resp_free(&r);
    TAP_EQ_INT(fired, 2, "each timer fired once");

    http(&S, "POST", "/v1/messages", "{\"name\":\"ready\",\"correlationKey\":\"k1\"}", &r);
    TAP_EQ_STR(jstr(r.json, "result"), "delivered", "the message is delivered after the restart");
    resp_free(&r);
    http(&S, "POST", "/v1/signals", "{\"name\":\"resume\"}", &r);
    TAP_EQ_INT(jnum(r.json, "delivered"), 1, "the signal is delivered");
    resp_free(&r);
    http(&S, "GET", "/v1/user-tasks?limit=10", NULL, &r);
    int n = jlen(r.json, "items");
    TAP_EQ_INT(n, 2, "two user tasks open: the parent's and the child's");
    char ids[2][64];
    for (int i = 0; i < n && i < 2; i++) {
        char k[16];
        snprintf(k, sizeof k, "items.%d.id", i);
        snprintf(ids[i], sizeof ids[i], "%s", jstr(r.json, k) ? jstr(r.json, k) : "");
    }
    resp_free(&r);
    for (int i = 0; i < n && i < 2; i++) {
        char path[200];
        snprintf(path, sizeof path, "/v1/user-tasks/%s/complete", ids[i]);
        http(&S, "POST", path, NULL, &r);
        TAP_EQ_INT(r.status, 200, "complete %s", ids[i]);
        resp_free(&r);
    }
    st = instance_state(id, &r);
    TAP_EQ_STR(st, "completed", "the instance completed");
    resp_free(&r);
    http(&S, "GET", "/v1/instances?state=active", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 0, "nothing is left active");
    resp_free(&r);
}

int main(int argc, char **argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    store_prepare(&S, argc > 1 ? argv[1] : "sqlite", "restart");
    if (!srv_start(&S, NULL)) {
        printf("1..1\nnot ok 1 - server starts\n");
        srv_dump_log(&S);
        store_cleanup(&S);
        return 1;
    }
    TAP_RUN(test_restart);
    tap_case = "shutdown";
    TAP_EQ_INT(srv_stop(&S), 0, "SIGTERM: exit 0");
    if (tap_failed)
        srv_dump_log(&S);
    store_cleanup(&S);
    curl_global_cleanup();
    return tap_done();
}
