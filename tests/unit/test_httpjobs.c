/*
 * test_httpjobs.c - the built-in `http` job type against a real HTTP server
 * on loopback (libmicrohttpd in this process): a JSON answer completes the
 * job with the parsed response, a 500 with no retries left raises an
 * incident, and the request carries the method, headers and body.
 */
#include <microhttpd.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/httpjobs.h"
#include "tests/tap.h"

static char last_method[16], last_header[128], last_body[256];

typedef struct upload {
    baton_buf body;
} upload;

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state) {
    (void)cls;
    (void)version;
    if (!*state) {
        upload *u = baton_calloc(1, sizeof *u);
        baton_buf_init(&u->body, 4096);
        *state = u;
        return MHD_YES;
    }
    upload *u = *state;
    if (*size) {
        baton_buf_append(&u->body, data, *size);
        *size = 0;
        return MHD_YES;
    }
    snprintf(last_method, sizeof last_method, "%s", method);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Patient");
    snprintf(last_header, sizeof last_header, "%s", h ? h : "");
    snprintf(last_body, sizeof last_body, "%s", baton_buf_str(&u->body));
    bool fail = strstr(url, "/fail") != NULL;
    const char *text =
        fail ? "{\"error\":\"down\"}" : "{\"resourceType\":\"Patient\",\"id\":\"p-1\"}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/fhir+json");
    enum MHD_Result ret = MHD_queue_response(c, fail ? 500 : 201, r);
    MHD_destroy_response(r);
    return ret;
}

static void done(void *cls, struct MHD_Connection *c, void **state,
                 enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)c;
    (void)code;
    upload *u = *state;
    if (u) {
        baton_buf_fini(&u->body);
        baton_free(u);
    }
}

static baton_httpjobs *workers;
static void hook(void *cookie, const baton_commit_info *info) {
    (void)cookie;
    baton_httpjobs_notify(workers, info);
}

static const char *model_fmt =
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
    "<process id=\"fhir\" isExecutable=\"true\"><startEvent id=\"s\"/>"
    "<serviceTask id=\"post\"><extensionElements>"
    "<zeebe:taskDefinition type=\"http\" retries=\"1\"/>"
    "<zeebe:taskHeaders><zeebe:header key=\"method\" value=\"POST\"/>"
    "<zeebe:header key=\"resultVariable\" value=\"created\"/></zeebe:taskHeaders>"
    "<zeebe:ioMapping><zeebe:input source=\"= base + path\" target=\"url\"/>"
    "<zeebe:input source=\"= {&quot;X-Patient&quot;: name}\" target=\"headers\"/>"
    "<zeebe:input source=\"= {resourceType: &quot;Patient&quot;, name: name}\" target=\"body\"/>"
    "</zeebe:ioMapping></extensionElements></serviceTask><endEvent id=\"e\"/>"
    "<sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"post\"/>"
    "<sequenceFlow id=\"f2\" sourceRef=\"post\" targetRef=\"e\"/></process></definitions>";

static int wait_state(baton_engine *e, int64_t id, int want_incident) {
    for (int i = 0; i < 100; i++) {
        baton_instance_row row;
        if (baton_engine_instance_row(e, id, &row, NULL) == BATON_OK &&
            (row.state != BATON_INSTANCE_ACTIVE || (want_incident && row.incidents)))
            return row.incidents ? -1 : row.state;
        usleep(50000);
    }
    return 0;
}

static void test_http_jobs(void) {
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
    TAP_OK(d != NULL, "test server starts");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", info->port);

    baton_store *st;
    baton_error err;
    baton_error_clear(&err);
    baton_store_open_memory(&st, &err);
    baton_engine_opts o = {.store = st};
    baton_engine *e = NULL;
    baton_engine_open(&o, &e, &err);
    TAP_EQ_INT(baton_engine_deploy(e, "f.bpmn", model_fmt, strlen(model_fmt), NULL, NULL, &err),
               BATON_OK, "deploy");
    baton_engine_set_commit_hook(e, hook, NULL);
    baton_httpjobs_opts ho = {.threads = 1, .allow_plain_http = true};
    TAP_EQ_INT(baton_httpjobs_start(e, &ho, &workers, &err), BATON_OK, "http workers start");

    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "base", base);
    cJSON_AddStringToObject(v, "path", "/Patient");
    cJSON_AddStringToObject(v, "name", "Ada");
    int64_t id;
    baton_engine_start(e, "fhir", 0, v, NULL, &id, &err);
    TAP_EQ_INT(wait_state(e, id, 0), BATON_INSTANCE_COMPLETED, "the call completed the instance");
    TAP_EQ_STR(last_method, "POST", "method from the task header");
    TAP_EQ_STR(last_header, "Ada", "header from the input mapping");
    TAP_CONTAINS(last_body, "\"resourceType\":\"Patient\"", "JSON body");
    baton_instance *inst = NULL;
    baton_engine_load(e, id, &inst, &err);
    const cJSON *created = cJSON_GetObjectItem(baton_instance_root_vars(inst), "created");
    TAP_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(created, "status")), 201, "status kept");
    TAP_EQ_STR(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(created, "body"), "id")),
        "p-1", "JSON body parsed");
    baton_instance_free(inst);

    cJSON_ReplaceItemInObject(v, "path", cJSON_CreateString("/fail"));
    int64_t id2;
    baton_engine_start(e, "fhir", 0, v, NULL, &id2, &err);
    TAP_EQ_INT(wait_state(e, id2, 1), -1, "a 500 with no retries left: an incident");
    baton_engine_load(e, id2, &inst, &err);
    TAP_CONTAINS(baton_instance_incident_at(inst, 0)->message, "answered 500", "saying why");
    baton_instance_free(inst);
    TAP_OK(baton_httpjobs_calls(workers) == 2, "two calls made");

    baton_httpjobs_stop(workers);
    baton_engine_close(e);
    baton_store_close(st);
    cJSON_Delete(v);
    MHD_stop_daemon(d);
}

int main(void) {
    baton_alloc_install_cjson();
    TAP_RUN(test_http_jobs);
    return tap_done();
}
