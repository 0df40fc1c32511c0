/*
 * test_serve_cli.c - `baton serve` as a command: --help, usage errors, the
 * config file (settings, its errors with file:line), --deploy of a bad
 * diagram, and a server configured only by its file.
 */
#include "tests/http/client.h"
#include "tests/tap.h"

static srv S;

/* Run `baton serve ARGS` to completion (it must exit by itself); output in *out. */
static int run(const char *args, char **out) {
    char cmd[2048], path[320];
    snprintf(path, sizeof path, "%s/out.txt", S.dir);
    snprintf(cmd, sizeof cmd, "timeout 20 '%s' serve %s >'%s' 2>&1", baton_exe(), args, path);
    int st = system(cmd);
    *out = read_text(path, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *name, const char *text, char *path_out, size_t cap) {
    snprintf(path_out, cap, "%s/%s", S.dir, name);
    FILE *f = fopen(path_out, "w");
    fputs(text, f);
    fclose(f);
}

static void test_cli(void) {
    char *out = NULL, cfg[400], bpmn[400], args[1200];
    TAP_EQ_INT(run("--help", &out), 0, "--help");
    TAP_CONTAINS(out, "usage: baton serve", "prints the usage");
    free(out);
    TAP_EQ_INT(run("--listen nowhere:port --db memory:", &out), 2,
               "a bad --listen is a usage error");
    TAP_CONTAINS(out, "HOST:PORT", "says what it takes");
    free(out);
    TAP_EQ_INT(run("--frobnicate", &out), 2, "an unknown option");
    free(out);
    write_file("bad.conf", "# settings\nhttp_threads = many\n", cfg, sizeof cfg);
    snprintf(args, sizeof args, "--config '%s'", cfg);
    TAP_EQ_INT(run(args, &out), 2, "a bad config value");
    TAP_CONTAINS(out, "bad.conf:2:", "with file and line");
    free(out);
    write_file("bad2.conf", "listen 127.0.0.1:0\n", cfg, sizeof cfg);
    snprintf(args, sizeof args, "--config '%s'", cfg);
    TAP_EQ_INT(run(args, &out), 2, "a line without '='");
    free(out);
    write_file("broken.bpmn",
               "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">"
               "<process id=\"p\" isExecutable=\"true\"><startEvent id=\"s\"/>"
               "<sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"x\"/></process>"
               "</definitions>",
               bpmn, sizeof bpmn);
    snprintf(args, sizeof args, "--db memory: --listen 127.0.0.1:0 --deploy '%s'", bpmn);
    TAP_EQ_INT(run(args, &out), 1, "--deploy of an invalid diagram fails the start");
    TAP_CONTAINS(out, "broken.bpmn:1: element 'f'", "with the problem, compiler-style");
    free(out);

    /* a server set up by its file alone */
    char *orders = source_file("tests/http/data/orders.bpmn", NULL);
    write_file("orders.bpmn", orders, bpmn, sizeof bpmn);
    free(orders);
    char text[1200];
    snprintf(text, sizeof text,
             "db = memory:\nhttp_threads = 2   # two workers\nlog_level = warn\n"
             "max_body = 64K\ndeploy = %s\n",
             bpmn);
    write_file("good.conf", text, cfg, sizeof cfg);
    const char *extra[] = {"--config", cfg, NULL};
    TAP_OK(srv_start(&S, extra), "starts from a config file");
    resp r;
    http(&S, "GET", "/v1/definitions?processId=order", NULL, &r);
    TAP_EQ_INT(jlen(r.json, "items"), 1, "the file's deploy setting deployed the diagram");
    resp_free(&r);
    size_t big = 100 << 10;
    char *body = malloc(big);
    memset(body, ' ', big);
    memcpy(body, "{\"name\":\"s\"}", 12);
    http_full(&S, "POST", "/v1/signals", "application/json", body, big, NULL, &r);
    TAP_EQ_INT(r.status, 413, "max_body from the file applies");
    resp_free(&r);
    free(body);
    TAP_EQ_INT(srv_stop(&S), 0, "SIGTERM: exit 0");
    const char *extra2[] = {"--config", cfg, NULL};
    TAP_OK(srv_start(&S, extra2), "starts again");
    TAP_EQ_INT(srv_signal_wait(&S, SIGINT, 15000), 0, "SIGINT: exit 0");
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    store_prepare(&S, "memory", "cli");
    TAP_RUN(test_cli);
    if (tap_failed)
        srv_dump_log(&S);
    store_cleanup(&S);
    curl_global_cleanup();
    return tap_done();
}
