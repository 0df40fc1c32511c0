/*
 * test_openapi.c - docs/openapi.json against the server: every documented
 * operation answers (not 404 "no route", not 405), every route of the
 * server's table is documented, and each operation documents its
 * responses, including the error body.
 */
#include "api/server.h"
#include "tests/http/client.h"
#include "tests/tap.h"

static srv S;

/* "/v1/instances/{instanceId}/history" with sample values for the parameters. */
static void concrete(const char *pattern, char *out, size_t cap) {
    size_t k = 0;
    for (const char *p = pattern; *p && k + 16 < cap;) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            const char *v = strncmp(p, "{taskId}", 8) == 0       ? "1-1"
                            : strncmp(p, "{processId}", 11) == 0 ? "order"
                            : strncmp(p, "{name}", 6) == 0       ? "v"
                                                                 : "1";
            k += (size_t)snprintf(out + k, cap - k, "%s", v);
            p = e ? e + 1 : p + strlen(p);
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
}

static void test_documented_routes_answer(cJSON *doc) {
    const cJSON *paths = jget(doc, "paths"), *path;
    int ops = 0;
    cJSON_ArrayForEach(path, paths) {
        const cJSON *op;
        cJSON_ArrayForEach(op, path) {
            char method[16];
            size_t i = 0;
            for (; op->string[i] && i < sizeof method - 1; i++)
                method[i] = (char)(op->string[i] >= 'a' ? op->string[i] - 32 : op->string[i]);
            method[i] = '\0';
            if (strcmp(method, "PARAMETERS") == 0)
                continue;
            ops++;
            char url[256];
            concrete(path->string, url, sizeof url);
            resp r;
            bool json = jget(op, "requestBody.content.application/json") != NULL;
            http(&S, method, url, json ? "{}" : NULL, &r);
            const char *msg = jstr(r.json, "error.message");
            bool routed =
                r.status != 405 && !(r.status == 404 && msg && strncmp(msg, "no route", 8) == 0);
            TAP_OK(routed && r.status > 0, "%s %s answers (%ld)", method, path->string, r.status);
            TAP_OK(jget(op, "responses") != NULL && jget(op, "operationId") != NULL,
                   "%s %s has an operationId and responses", method, path->string);
            resp_free(&r);
        }
    }
    TAP_OK(ops >= 20, "%d operations documented", ops);
}

static void test_routes_documented(cJSON *doc) {
    for (uint32_t i = 0; i < baton_server_route_count(); i++) {
        const char *m, *p;
        baton_server_route(i, &m, &p);
        char lower[16];
        size_t k = 0;
        for (; m[k] && k < sizeof lower - 1; k++)
            lower[k] = (char)(m[k] >= 'A' && m[k] <= 'Z' ? m[k] + 32 : m[k]);
        lower[k] = '\0';
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(jget(doc, "paths"), p);
        TAP_OK(path && cJSON_GetObjectItemCaseSensitive(path, lower), "%s %s is documented", m, p);
    }
    TAP_OK(jget(doc, "components.schemas.Error") != NULL, "the error body is a schema");
    TAP_EQ_STR(jstr(doc, "openapi"), "3.0.3", "OpenAPI 3.0.3");
}

int main(int argc, char **argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    store_prepare(&S, argc > 1 ? argv[1] : "memory", "openapi");
    char *text = source_file("docs/openapi.json", NULL);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!doc || !srv_start(&S, NULL)) {
        printf("1..1\nnot ok 1 - docs/openapi.json parses and the server starts\n");
        store_cleanup(&S);
        return 1;
    }
    tap_case = "documented";
    test_routes_documented(doc);
    tap_case = "answers";
    test_documented_routes_answer(doc);
    tap_case = "shutdown";
    TAP_EQ_INT(srv_stop(&S), 0, "SIGTERM: exit 0");
    cJSON_Delete(doc);
    store_cleanup(&S);
    curl_global_cleanup();
    return tap_done();
}
