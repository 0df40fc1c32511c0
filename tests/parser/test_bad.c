/*
 * test_bad.c - the bad-input set: malformed and hostile XML, bounds, and
 * every validation rule, each with the status, the position and the
 * message it must give. Large and deep inputs are made at run time; the
 * XXE inputs point at files made here, one of them a FIFO that would
 * block the test if the parser ever opened it.
 *
 * Usage: test_bad DATA_DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "parser/bpmn.h"
#include "tests/parser/helpers.h"
#include "tests/tap.h"

static const char *data_dir;
static char tmp_dir[512];

typedef struct outcome {
    baton_status st;
    baton_error err;
    baton_diags diags;
    baton_model *m;
} outcome;

static void outcome_fini(outcome *o) {
    baton_model_unref(o->m);
    baton_diags_fini(&o->diags);
}

static void load_mem(outcome *o, const char *xml, size_t len, const baton_load_opts *opts) {
    memset(o, 0, sizeof *o);
    baton_diags_init(&o->diags, 0);
    baton_error_clear(&o->err);
    o->st = baton_bpmn_load(xml, len, opts, &o->diags, &o->m, &o->err);
}

static void load_data(outcome *o, const char *file, const baton_load_opts *opts) {
    char path[1024];
    data_path(path, sizeof path, data_dir, file);
    baton_load_opts lo = opts ? *opts : (baton_load_opts){0};
    lo.name = file;
    memset(o, 0, sizeof *o);
    baton_diags_init(&o->diags, 0);
    baton_error_clear(&o->err);
    o->st = baton_bpmn_load_file(path, &lo, &o->diags, &o->m, &o->err);
}

/* Status, where and message of a load that must fail before validation. */
static void expect_fail(const outcome *o, const char *what, baton_status st, const char *where,
                        const char *message) {
    TAP_EQ_STR(baton_status_name(o->st), baton_status_name(st), "%s: status", what);
    TAP_OK(o->m == NULL, "%s: no model", what);
    if (where)
        TAP_EQ_STR(o->err.where, where, "%s: where", what);
    TAP_CONTAINS(o->err.message, message, "%s: message", what);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- malformed XML -------------------------------------------------------- */

static void test_malformed(void) {
    outcome o;
    load_data(&o, "bad/malformed.bpmn", NULL);
    expect_fail(&o, "mismatched tags", BATON_PARSE, "bad/malformed.bpmn:5:18",
                "malformed XML: opening and ending tag mismatch: startEvent line 4 and process");
    outcome_fini(&o);

    load_data(&o, "bad/truncated.bpmn", NULL);
    expect_fail(&o, "truncated file", BATON_PARSE, "bad/truncated.bpmn:27:1",
                "malformed XML: premature end of data in tag process line 11");
    outcome_fini(&o);

    load_data(&o, "bad/empty.bpmn", NULL);
    expect_fail(&o, "empty file", BATON_PARSE, NULL, "the document is empty");
    outcome_fini(&o);

    load_mem(&o, "<definitions", 12, NULL);
    expect_fail(&o, "twelve bytes", BATON_PARSE, "<input>:1:13", "malformed XML:");
    outcome_fini(&o);

    load_mem(&o, "\0\0\0\0", 4, NULL);
    TAP_OK(o.st == BATON_PARSE && o.m == NULL, "NUL bytes: a parse error, no crash");
    outcome_fini(&o);

    static const char undeclared[] =
        "<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'>\n"
        "<process id='p' name='&nope;'/></definitions>";
    load_mem(&o, undeclared, sizeof undeclared - 1, NULL);
    expect_fail(&o, "undeclared entity", BATON_PARSE, "<input>:2:29",
                "malformed XML: entity 'nope' not defined");
    outcome_fini(&o);
}

/* ---- hostile XML --------------------------------------------------------- */

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "not ok - the parser blocked on the FIFO: it tried to read it\n";
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}

/* `tmpl` with its one '@' replaced by `path`. */
static size_t subst(char *out, size_t cap, const char *tmpl, const char *path) {
    const char *at = strchr(tmpl, '@');
    int n = snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, path, at + 1);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void test_xxe(void) {
    char secret[600], fifo[600];
    snprintf(secret, sizeof secret, "%s/secret.txt", tmp_dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", tmp_dir);
    FILE *f = fopen(secret, "w");
    TAP_OK(f != NULL, "secret file made");
    if (!f)
        return;
    fputs("XXE-SECRET-CONTENT", f);
    fclose(f);
    int made = mkfifo(fifo, 0600); /* TAP_OK evaluates its condition twice */
    TAP_OK(made == 0, "FIFO made");
    signal(SIGALRM, on_alarm);
    alarm(30);

    static const char *const shapes[] = {
        /* internal entity with a SYSTEM id, used in an attribute */
        "<?xml version=\"1.0\"?>\n<!DOCTYPE definitions [<!ENTITY xxe SYSTEM \"file://@\">]>\n"
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
        "<process id=\"p\" name=\"&xxe;\" isExecutable=\"true\"><startEvent id=\"s\"/>"
        "</process></definitions>",
        /* the same in element content */
        "<?xml version=\"1.0\"?>\n<!DOCTYPE definitions [<!ENTITY xxe SYSTEM \"@\">]>\n"
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
        "<process id=\"p\" isExecutable=\"true\"><documentation>&xxe;</documentation>"
        "<startEvent id=\"s\"/></process></definitions>",
        /* an external DTD */
        "<?xml version=\"1.0\"?>\n<!DOCTYPE definitions SYSTEM \"file://@\">\n"
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\"/>",
        /* a parameter entity */
        "<?xml version=\"1.0\"?>\n<!DOCTYPE definitions [<!ENTITY % p SYSTEM \"file://@\"> %p;]>\n"
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\"/>",
    };
    const char *targets[] = {secret, fifo};
    for (size_t t = 0; t < 2; t++) {
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
            char xml[2048];
            size_t n = subst(xml, sizeof xml, shapes[k], targets[t]);
            outcome o;
            load_mem(&o, xml, n, NULL);
            char what[64];
            snprintf(what, sizeof what, "XXE shape %zu at the %s", k + 1, t ? "FIFO" : "file");
            expect_fail(&o, what, BATON_PARSE, "<input>:2",
                        "DOCTYPE declarations are not allowed (DTDs and entities are disabled "
                        "for safety)");
            bool leaked = strstr(o.err.message, "XXE-SECRET") != NULL;
            for (uint32_t i = 0; i < o.diags.n; i++)
                leaked |= strstr(o.diags.items[i].message, "XXE-SECRET") != NULL;
            TAP_OK(!leaked, "%s: nothing of the file in any message", what);
            outcome_fini(&o);
        }
    }

    /* XInclude is never processed: the element is foreign content, skipped */
    char xml[1024];
    int n = snprintf(xml, sizeof xml,
                     "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
                     "xmlns:xi=\"http://www.w3.org/2001/XInclude\" id=\"d\">"
                     "<process id=\"p\" isExecutable=\"true\"><xi:include href=\"%s\"/>"
                     "<xi:include href=\"%s\" parse=\"text\"/><startEvent id=\"s\"/>"
                     "</process></definitions>",
                     fifo, secret);
    outcome o;
    load_mem(&o, xml, (size_t)n, NULL);
    TAP_EQ_INT(o.st, BATON_OK, "xi:include is not followed");
    if (o.m)
        TAP_EQ_INT(baton_model_graph(o.m)->n_nodes, 1, "nothing was included");
    outcome_fini(&o);
    alarm(0);
    unlink(fifo);
    unlink(secret);
}

static void test_billion_laughs(void) {
    outcome o;
    double t0 = now_s();
    load_data(&o, "bad/billion-laughs.bpmn", NULL);
    double dt = now_s() - t0;
    expect_fail(&o, "billion laughs", BATON_PARSE, "bad/billion-laughs.bpmn:2",
                "DOCTYPE declarations are not allowed");
    TAP_OK(dt < 1.0, "billion laughs: refused at once (%.3f s)", dt);
    outcome_fini(&o);
}

/* ---- bounds ------------------------------------------------------------ */

static void test_size(void) {
    /* a 50 MiB file, made sparse so the test writes nothing */
    char path[600];
    snprintf(path, sizeof path, "%s/big.bpmn", tmp_dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    static const char head[] =
        "<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'><!--";
    bool made = fd >= 0 && write(fd, head, sizeof head - 1) == (ssize_t)(sizeof head - 1) &&
                ftruncate(fd, (off_t)50 << 20) == 0;
    if (fd >= 0)
        close(fd);
    TAP_OK(made, "50 MiB file made");
    outcome o;
    memset(&o, 0, sizeof o);
    baton_diags_init(&o.diags, 0);
    baton_error_clear(&o.err);
    baton_load_opts lo = {.name = "big.bpmn"};
    double t0 = now_s();
    o.st = baton_bpmn_load_file(path, &lo, &o.diags, &o.m, &o.err);
    double dt = now_s() - t0;
    expect_fail(&o, "50 MiB file", BATON_LIMIT, "big.bpmn",
                "file is 52428800 bytes, more than the limit of 16777216");
    TAP_OK(dt < 0.5, "50 MiB file: refused without reading it (%.3f s)", dt);
    outcome_fini(&o);
    unlink(path);

    /* the same size handed over in memory */
    size_t big = (size_t)50 << 20;
    char *mem = baton_malloc(big);
    if (mem) {
        memset(mem, ' ', big);
        memcpy(mem, head, sizeof head - 1);
        t0 = now_s();
        load_mem(&o, mem, big, NULL);
        dt = now_s() - t0;
        expect_fail(&o, "50 MiB in memory", BATON_LIMIT, "<input>",
                    "document is 52428800 bytes, more than the limit of 16777216");
        TAP_OK(dt < 0.5, "50 MiB in memory: refused at once (%.3f s)", dt);
        outcome_fini(&o);
        baton_free(mem);
    }

    /* the limit is an option */
    baton_load_opts small = {.max_bytes = 1000};
    load_data(&o, "events.bpmn", &small);
    expect_fail(&o, "max_bytes=1000", BATON_LIMIT, "events.bpmn", "more than the limit of 1000");
    outcome_fini(&o);
}

static void test_depth(void) {
    /* 10,000 nested elements */
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_buf_puts(&b, "<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'>\n");
    for (int i = 0; i < 10000; i++)
        baton_buf_puts(&b, "<a>");
    for (int i = 0; i < 10000; i++)
        baton_buf_puts(&b, "</a>");
    baton_buf_puts(&b, "</definitions>");
    outcome o;
    double t0 = now_s();
    load_mem(&o, baton_buf_str(&b), b.len, NULL);
    double dt = now_s() - t0;
    expect_fail(&o, "10,000-deep nesting", BATON_LIMIT, "<input>:2",
                "elements nested deeper than 200 levels");
    TAP_OK(dt < 1.0, "deep nesting refused quickly (%.3f s)", dt);
    outcome_fini(&o);

    /* 300 nested subprocesses: the same bound */
    baton_buf_reset(&b);
    baton_buf_puts(&b, "<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'>"
                       "<process id='p' isExecutable='true'>\n");
    for (int i = 0; i < 300; i++)
        baton_buf_printf(&b, "<subProcess id='s%d'>", i);
    for (int i = 0; i < 300; i++)
        baton_buf_puts(&b, "</subProcess>");
    baton_buf_puts(&b, "</process></definitions>");
    load_mem(&o, baton_buf_str(&b), b.len, NULL);
    expect_fail(&o, "300 nested subprocesses", BATON_LIMIT, "<input>:2",
                "elements nested deeper than 200 levels");
    outcome_fini(&o);
    baton_buf_fini(&b);

    /* the bound is an option, clamped to what libxml2 allows */
    baton_load_opts shallow = {.max_depth = 3};
    load_data(&o, "events.bpmn", &shallow);
    expect_fail(&o, "max_depth=3", BATON_LIMIT, "events.bpmn:13",
                "elements nested deeper than 3 levels");
    outcome_fini(&o);
    baton_load_opts deep = {.max_depth = 100000};
    load_data(&o, "events.bpmn", &deep);
    TAP_EQ_INT(o.st, BATON_OK, "a huge max_depth is clamped, not an error");
    outcome_fini(&o);

    baton_load_opts few = {.max_elements = 50};
    load_data(&o, "events.bpmn", &few);
    expect_fail(&o, "max_elements=50", BATON_LIMIT, NULL, "more than 50 XML elements");
    outcome_fini(&o);
}

/* ---- not BPMN ------------------------------------------------------------ */

static void test_not_bpmn(void) {
    outcome o;
    load_data(&o, "bad/wrong-namespace.bpmn", NULL);
    expect_fail(&o, "wrong namespace", BATON_MODEL, "bad/wrong-namespace.bpmn:3",
                "root element is <definitions> in namespace "
                "'http://www.omg.org/spec/BPMN/20100501/MODEL'; expected BPMN 2.0 <definitions> "
                "in namespace 'http://www.omg.org/spec/BPMN/20100524/MODEL'");
    TAP_OK(has_diag(&o.diags, BATON_SEV_ERROR, 3, NULL, "root element is <definitions>"),
           "wrong namespace: also a diagnostic");
    outcome_fini(&o);

    load_data(&o, "bad/not-definitions.bpmn", NULL);
    expect_fail(&o, "root is not definitions", BATON_MODEL, "bad/not-definitions.bpmn:2",
                "root element is <process>");
    outcome_fini(&o);

    static const char none[] = "<definitions id='x'/>";
    load_mem(&o, none, sizeof none - 1, NULL);
    expect_fail(&o, "no namespace at all", BATON_MODEL, NULL,
                "root element is <definitions> in namespace ''");
    outcome_fini(&o);

    load_data(&o, "bad/bad-cp1252.bpmn", NULL);
    expect_fail(&o, "a byte windows-1252 does not define", BATON_PARSE, "bad/bad-cp1252.bpmn:2:71",
                "bytes 0x81 0x62 0x22 0x2F cannot be read as windows-1252, the encoding the "
                "document declares");
    outcome_fini(&o);

    load_data(&o, "bad/not-utf8.bpmn", NULL);
    expect_fail(&o, "non-UTF-8 bytes in a UTF-8 file", BATON_PARSE, "bad/not-utf8.bpmn:4:35",
                "bytes that are not UTF-8 (0xE9 0x22 0x20 0x69) in a document read as UTF-8");
    outcome_fini(&o);
}

/* ---- validation rules ---------------------------------------------------- */

typedef struct want {
    baton_severity sev;
    uint32_t line;
    const char *element;
    const char *text;
} want;

/* A file that loads into BATON_MODEL with exactly these errors (and maybe more warnings). */
static void expect_diags(const char *file, const want *w, size_t n, const char *first_where) {
    outcome o;
    load_data(&o, file, NULL);
    TAP_EQ_STR(baton_status_name(o.st), baton_status_name(BATON_MODEL), "%s: invalid model", file);
    TAP_OK(o.m == NULL, "%s: no model", file);
    uint32_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        errors += w[i].sev == BATON_SEV_ERROR;
        TAP_OK(has_diag(&o.diags, w[i].sev, w[i].line, w[i].element, w[i].text), "%s:%u: %s", file,
               w[i].line, w[i].text);
    }
    TAP_EQ_INT(o.diags.n_errors, errors, "%s: all errors in one run, nothing else", file);
    if (first_where)
        TAP_EQ_STR(o.err.where, first_where, "%s: err holds the first error", file);
    for (uint32_t i = 1; i < o.diags.n; i++)
        if (o.diags.items[i].line < o.diags.items[i - 1].line)
            TAP_OK(0, "%s: diagnostics sorted by line", file);
    outcome_fini(&o);
}

#define E BATON_SEV_ERROR
#define W BATON_SEV_WARNING
#define EXPECT(file, first, ...)                                                                   \
    do {                                                                                           \
        static const want w_[] = {__VA_ARGS__};                                                    \
        expect_diags(file, w_, sizeof w_ / sizeof *w_, first);                                     \
    } while (0)

static void test_missing_ids(void) {
    EXPECT("bad/missing-ids.bpmn", "bad/missing-ids.bpmn:3", {E, 3, NULL, "<message> has no id"},
           {E, 4, NULL, "<process> has no id"}, {E, 10, NULL, "<task> has no id"});
}

static void test_structure(void) {
    EXPECT("bad/structure.bpmn", "bad/structure.bpmn:8: element 'dup'",
           {E, 8, "dup", "duplicate id: task 'dup' already defined at line 7"},
           {E, 9, "start", "duplicate id: sequenceFlow 'start' already defined at line 6"},
           {E, 10, "f_src", "sourceRef 'ghost_src' refers to no flow node in this file"},
           {E, 11, "f_dst", "targetRef 'ghost_dst' refers to no flow node in this file"},
           {E, 12, "f_nosrc", "sequence flow has no sourceRef"},
           {E, 13, "gw", "default 'ghost_flow' refers to no sequence flow in this file"},
           {E, 16, "b_ghost", "attachedToRef 'ghost_task' refers to no activity in this file"},
           {E, 17, "recv", "messageRef 'ghost_msg' refers to no message in this file"},
           {E, 18, "catch", "messageRef 'ghost_msg' refers to no message in this file"},
           {W, 19, "call",
            "calls process 'other_process', which is not in this file: it must "
            "be deployed before the call runs"},
           {E, 24, "f_out",
            "sequence flow crosses a scope boundary: source 'sub_end' is in "
            "subprocess 'sub', target 'end' is in process 'p'"},
           {E, 26, "f_in",
            "sequence flow crosses a scope boundary: source 'start' is in "
            "process 'p', target 'sub_end' is in subprocess 'sub'"},
           {E, 28, "m1", "duplicate id: task 'm1' already defined at line 4"});
}

static void test_execution(void) {
    EXPECT("bad/execution.bpmn", "bad/execution.bpmn:9: element 'f_cond'",
           {E, 9, "f_cond", "sequence flow out of parallel gateway 'fork' has a condition"},
           {E, 13, "dead_end", "exclusiveGateway has no outgoing sequence flow"},
           {E, 14, "t_timer", "timer event has no timeDate, timeDuration or timeCycle"},
           {E, 16, "m_noref", "message catch has no messageRef"},
           {E, 18, "m_noname", "message 'm_anon' has no name"},
           {E, 20, "adhoc", "ad-hoc subprocesses are not supported"},
           {E, 22, "groovy", "script in language 'groovy' cannot be executed"},
           {E, 25, "f_prose", "condition 'approved' is neither FEEL (= ...) nor JUEL (${...})"},
           {E, 26, "f_xpath",
            "condition 'count(items) > 1' is in language "
            "'http://www.w3.org/1999/XPath', which the engine cannot "
            "evaluate"},
           {E, 28, "b_on_gw",
            "boundary event is attached to exclusiveGateway 'xor', which is "
            "not an activity"},
           {E, 29, "b_on_event",
            "boundary event is attached to endEvent 'end', which is not "
            "an activity"},
           {E, 30, "b_cancel",
            "a cancel boundary event can only be attached to a transaction, "
            "not to scriptTask 'groovy'"},
           {E, 31, "b_error", "error boundary events always interrupt"},
           {E, 32, "b_none", "boundary event has no event definition"},
           {E, 36, "b_on_es",
            "boundary event is attached to event subprocess 'es', which "
            "cannot carry boundary events"},
           {E, 37, "choreo", "<callChoreography> is not supported by the engine"});
}

static void test_c8(void) {
    EXPECT("bad/c8-job-type.bpmn", "bad/c8-job-type.bpmn:10: element 'no_type'",
           {E, 10, "no_type",
            "serviceTask has no job type (add zeebe:taskDefinition "
            "type=\"...\")"},
           {E, 12, "empty_type", "serviceTask has an empty job type"},
           {E, 16, "send", "sendTask has no job type"},
           {E, 18, "end", "message throw event has no job type"});
}

static void test_no_start(void) {
    EXPECT("bad/no-start.bpmn", "bad/no-start.bpmn:4: element 'loop'",
           {E, 4, "loop",
            "process has no start event and no element without incoming flows: "
            "it can never be started"});
}

static void test_stub_harness(void) {
    /* engine limitations turn into warnings; real errors stay errors */
    outcome o;
    baton_load_opts stub = {.unexecutable_as_warnings = true};
    load_data(&o, "bad/execution.bpmn", &stub);
    TAP_EQ_INT(o.st, BATON_MODEL, "still invalid: structural errors remain");
    TAP_OK(has_diag(&o.diags, W, 22, "groovy", "script in language 'groovy'"),
           "a groovy script is a warning for a stubbing harness");
    TAP_OK(has_diag(&o.diags, E, 13, "dead_end", "has no outgoing sequence flow"),
           "a dead-end gateway stays an error");
    outcome_fini(&o);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/parser/data";
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/baton-bad-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        printf("Bail out! cannot make a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    TAP_RUN(test_malformed);
    TAP_RUN(test_xxe);
    TAP_RUN(test_billion_laughs);
    TAP_RUN(test_size);
    TAP_RUN(test_depth);
    TAP_RUN(test_not_bpmn);
    TAP_RUN(test_missing_ids);
    TAP_RUN(test_structure);
    TAP_RUN(test_execution);
    TAP_RUN(test_c8);
    TAP_RUN(test_no_start);
    TAP_RUN(test_stub_harness);
    rmdir(tmp_dir);
    return tap_done();
}
