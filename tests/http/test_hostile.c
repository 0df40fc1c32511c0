/*
 * test_hostile.c - malformed and hostile requests each get the right 4xx
 * and change nothing: bad JSON, invalid UTF-8, a 100 MiB body (with a
 * length and chunked), 10,000-deep JSON, wrong media types, unknown routes,
 * wrong methods, path tricks, oversized headers. Afterwards the store holds
 * exactly what it held before, and the server still answers.
 */
#include "tests/http/client.h"
#include "tests/tap.h"

static srv S;

/* What could change: deployments, instances, history of the one instance. */
static void snapshot(char *out, size_t cap, int id) {
    resp a, b, c;
    char path[64];
    snprintf(path, sizeof path, "/v1/instances/%d/history?limit=1000", id);
    http(&S, "GET", "/v1/deployments", NULL, &a);
    http(&S, "GET", "/v1/instances?limit=1000", NULL, &b);
    http(&S, "GET", path, NULL, &c);
    snprintf(out, cap, "%s|%s|%s", a.body ? a.body : "", b.body ? b.body : "",
             c.body ? c.body : "");
    resp_free(&a);
    resp_free(&b);
    resp_free(&c);
}

static void expect(const char *what, long status, const char *method, const char *path,
                   const char *ctype, const char *body, size_t len) {
    resp r;
    http_full(&S, method, path, ctype, body, len, NULL, &r);
    TAP_EQ_INT(r.status, status, "%s: %ld", what, status);
    if (r.status >= 400 && r.status != 431 && r.status != 414)
        TAP_OK(jstr(r.json, "error.code") && jstr(r.json, "error.request_id"),
               "%s: error body with code and request id", what);
    resp_free(&r);
}

typedef struct stream {
    size_t left;
} stream;

static size_t read_zeros(char *buf, size_t size, size_t n, void *cookie) {
    stream *s = cookie;
    size_t k = size * n < s->left ? size * n : s->left;
    memset(buf, '[', k);
    s->left -= k;
    return k;
}

/* A 100 MiB body, with Content-Length or chunked: 413, and the server lives. */
static long big_body(bool chunked) {
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/v1/messages", S.base);
    stream st = {(size_t)100 << 20};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_zeros);
    curl_easy_setopt(c, CURLOPT_READDATA, &st);
    if (!chunked)
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.left);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && !status)
        printf("# curl: %s\n", curl_easy_strerror(rc));
    fclose(devnull);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void test_hostile(void) {
    char *xml = source_file("tests/http/data/orders.bpmn", NULL);
    resp r;
    http_full(&S, "POST", "/v1/deployments", "application/xml", xml, strlen(xml), NULL, &r);
    resp_free(&r);
    free(xml);
    http(&S, "POST", "/v1/definitions/order/instances", "{\"variables\":{\"orderId\":\"H\"}}", &r);
    int id = (int)jnum(r.json, "id");
    resp_free(&r);
    http(&S, "GET", "/v1/user-tasks", NULL, &r);
    char task[64], path[256];
    snprintf(task, sizeof task, "%s", jstr(r.json, "items.0.id") ? jstr(r.json, "items.0.id") : "");
    resp_free(&r);
    static char before[1 << 18], after[1 << 18];
    snapshot(before, sizeof before, id);

    const char *J = "application/json";
    snprintf(path, sizeof path, "/v1/user-tasks/%s/complete", task);
    const char *badjson = "{\"variables\": {\"a\": 1,}}";
    resp e;
    http_full(&S, "POST", path, J, badjson, strlen(badjson), NULL, &e);
    TAP_EQ_INT(e.status, 400, "bad JSON: 400");
    TAP_OK(jstr(e.json, "error.where") != NULL, "with its position (%s)",
           jstr(e.json, "error.where") ? jstr(e.json, "error.where") : "none");
    resp_free(&e);
    expect("invalid UTF-8 in JSON", 400, "POST", path, J, "{\"variables\":{\"a\":\"\xc3\x28\"}}",
           22);
    expect("invalid UTF-8 in XML", 400, "POST", "/v1/deployments", "application/xml",
           "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\xff</a>", 44);
    size_t n = 10000;
    char *deep = malloc(2 * n + 20);
    int k = sprintf(deep, "{\"variables\":");
    memset(deep + k, '[', n);
    memset(deep + k + n, ']', n);
    deep[k + 2 * n] = '}';
    expect("10,000-deep JSON", 400, "POST", path, J, deep, (size_t)k + 2 * n + 1);
    free(deep);
    expect("JSON sent as a form", 415, "POST", path, "application/x-www-form-urlencoded", "a=1", 3);
    expect("JSON sent without a type", 415, "POST", path, NULL, "{}", 2);
    expect("XML where JSON is expected", 415, "POST", "/v1/messages", "application/xml", "<a/>", 4);
    expect("a PNG as a deployment", 415, "POST", "/v1/deployments", "image/png", "\x89PNG", 4);
    expect("unknown field", 400, "POST", "/v1/messages", J, "{\"name\":\"x\",\"corelationKey\":1}",
           30);
    expect("variables not an object", 400, "POST", path, J, "{\"variables\":5}", 15);
    size_t two = (size_t)2 << 20;
    char *big = malloc(two);
    memset(big, ' ', two);
    memcpy(big, "{\"name\":\"s\"}", 12);
    expect("2 MiB of JSON (limit 1 MiB)", 413, "POST", "/v1/signals", J, big, two);
    free(big);
    TAP_EQ_INT(big_body(false), 413, "100 MiB body with Content-Length: 413");
    TAP_EQ_INT(big_body(true), 413, "100 MiB chunked body: 413");
    expect("unknown route", 404, "GET", "/v2/instances", NULL, NULL, 0);
    expect("unknown route below a known one", 404, "GET", "/v1/instances/1/nope", NULL, NULL, 0);
    expect("wrong method", 405, "DELETE", "/v1/instances", NULL, NULL, 0);
    expect("wrong method on a task", 405, "GET", path, NULL, NULL, 0);
    expect("dot-dot segment", 400, "GET", "/v1/instances/../deployments", NULL, NULL, 0);
    expect("encoded dot-dot", 400, "GET", "/v1/instances/%2e%2e", NULL, NULL, 0);
    expect("encoded slash", 400, "GET", "/v1/deployments/1%2Fxml", NULL, NULL, 0);
    expect("encoded backslash", 400, "GET", "/v1/deployments/1%5Cxml", NULL, NULL, 0);
    expect("encoded NUL", 400, "GET", "/v1/instances/1%00", NULL, NULL, 0);
    expect("NUL in a query", 400, "GET", "/v1/instances?businessKey=a%00b", NULL, NULL, 0);
    expect("bad percent escape", 400, "GET", "/v1/instances/%zz", NULL, NULL, 0);
    expect("non-UTF-8 in the path", 400, "GET", "/v1/definitions/%ff%fe", NULL, NULL, 0);
    expect("double slash", 400, "GET", "/v1//instances", NULL, NULL, 0);
    expect("negative id", 404, "GET", "/v1/instances/-1", NULL, NULL, 0);
    expect("huge id", 404, "GET", "/v1/instances/99999999999999999999999", NULL, NULL, 0);
    expect("task id without a key", 404, "POST", "/v1/user-tasks/12/complete", NULL, NULL, 0);
    expect("bad limit", 400, "GET", "/v1/instances?limit=100000", NULL, NULL, 0);
    expect("bad cursor", 400, "GET", "/v1/instances?cursor=abc", NULL, NULL, 0);
    expect("bad time", 400, "GET", "/v1/instances?startedAfter=yesterday", NULL, NULL, 0);
    char *longpath = malloc(10000);
    memset(longpath, 'a', 9999);
    longpath[0] = '/';
    longpath[9999] = '\0';
    resp lp;
    http(&S, "GET", longpath, NULL, &lp);
    TAP_OK(lp.status == 414 || lp.status == 431 || lp.status == 400,
           "a 10 KB request target is refused (%ld)", lp.status);
    resp_free(&lp);
    free(longpath);
    char *hdr = malloc(70000);
    strcpy(hdr, "X-Big: ");
    memset(hdr + 7, 'x', 69990);
    hdr[69997] = '\0';
    const char *hs[] = {hdr, NULL};
    resp hb;
    http_full(&S, "GET", "/health", NULL, NULL, 0, hs, &hb);
    TAP_OK(hb.status == 431 || hb.status == 413 || hb.status == 400,
           "a 70 KB header is refused (%ld)", hb.status);
    resp_free(&hb);
    free(hdr);

    snapshot(after, sizeof after, id);
    TAP_OK(strcmp(before, after) == 0, "nothing changed in the store");
    http(&S, "GET", "/health", NULL, &r);
    TAP_EQ_INT(r.status, 200, "the server still answers");
    resp_free(&r);
    http(&S, "POST", path, "{\"variables\":{\"ok\":true}}", &r);
    TAP_EQ_INT(r.status, 200, "and the task still completes");
    resp_free(&r);
}

int main(int argc, char **argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    store_prepare(&S, argc > 1 ? argv[1] : "memory", "hostile");
    if (!srv_start(&S, NULL)) {
        printf("1..1\nnot ok 1 - server starts\n");
        srv_dump_log(&S);
        store_cleanup(&S);
        return 1;
    }
    TAP_RUN(test_hostile);
    tap_case = "shutdown";
    TAP_EQ_INT(srv_stop(&S), 0, "SIGTERM: exit 0");
    if (tap_failed)
        srv_dump_log(&S);
    store_cleanup(&S);
    curl_global_cleanup();
    return tap_done();
}
