/*
 * bench_load.c - how fast the BPMN loader is and how much a loaded model
 * holds. Not a test: the numbers go to docs/performance.md ("## Loading").
 *
 * Every time is reported beside a baseline measured in the same run on the
 * same bytes: libxml2's plain xmlReadMemory + xmlFreeDoc, the floor any DOM
 * loader pays. Machines here are shared and noisy, so the ratio is the
 * figure to compare between runs; medians over many repetitions.
 *
 *   1. A generated diagram of 1,000 flow elements (nodes + sequence flows,
 *      what `baton validate` counts), written as Camunda Modeler writes
 *      Camunda 8 files: job workers with io mappings, user tasks with
 *      assignments, scripts, gateways with conditions and defaults,
 *      boundary timers, and a DI shape or edge for every element. Target:
 *      load and validate in under 5 ms; model memory under 1 KiB per
 *      element (baton_model_memory, which excludes the XML copy; both are
 *      reported).
 *   2. Each file of the MIWG corpus (--corpus DIR or $BATON_CORPUS/miwg).
 *
 * Usage: bench-load [--reps N] [--corpus DIR] [--write FILE] [--elements N] [--json]
 *   --elements N  generate N flow elements instead of 1,000 (bench/run's scale table)
 *   --json        one JSON line for the generated diagram, no corpus (bench/run parses it)
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "parser/bpmn.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the generated diagram ---------------------------------------------- */

typedef struct gen {
    baton_buf proc, di;
    int x, elements;
} gen;

static void shape(gen *g, const char *id, int w, int h) {
    baton_buf_printf(&g->di,
                     "      <bpmndi:BPMNShape id=\"%s_di\" bpmnElement=\"%s\">\n"
                     "        <dc:Bounds x=\"%d\" y=\"100\" width=\"%d\" height=\"%d\" />\n"
                     "      </bpmndi:BPMNShape>\n",
                     id, id, g->x, w, h);
    g->x += w + 50;
    g->elements++;
}

static void flow(gen *g, const char *id, const char *from, const char *to, const char *cond) {
    baton_buf_printf(&g->proc, "    <bpmn:sequenceFlow id=\"%s\" sourceRef=\"%s\" targetRef=\"%s\"",
                     id, from, to);
    if (cond)
        baton_buf_printf(&g->proc,
                         ">\n      <bpmn:conditionExpression xsi:type=\"bpmn:tFormalExpression\">"
                         "%s</bpmn:conditionExpression>\n    </bpmn:sequenceFlow>\n",
                         cond);
    else
        baton_buf_puts(&g->proc, " />\n");
    baton_buf_printf(&g->di,
                     "      <bpmndi:BPMNEdge id=\"%s_di\" bpmnElement=\"%s\">\n"
                     "        <di:waypoint x=\"%d\" y=\"140\" />\n"
                     "        <di:waypoint x=\"%d\" y=\"140\" />\n"
                     "      </bpmndi:BPMNEdge>\n",
                     id, id, g->x - 50, g->x);
    g->elements++;
}

/* A diagram of exactly `target` flow elements (target >= 3 and even, or >= 16). */
static char *generate(int target, size_t *len_out) {
    gen g = {.x = 100};
    baton_buf_init(&g.proc, 0);
    baton_buf_init(&g.di, 0);
    char prev[32] = "start", id[32], fid[32];
    baton_buf_puts(&g.proc, "    <bpmn:startEvent id=\"start\" name=\"Order received\" />\n");
    shape(&g, "start", 36, 36);
    /*
     * start (1) + blocks of 13 + plain tasks (task and flow: 2) + end and
     * its flow (2): the most blocks that leave an even rest for the tasks.
     */
    int blocks = (target - 3) / 13;
    while (blocks > 0 && (target - 3 - 13 * blocks) % 2)
        blocks--;
    int tasks = (target - 3 - 13 * blocks) / 2;
    int f = 0;
    for (int i = 0; i < blocks; i++) {
        char s[32], x[32], u[32], c[32], m[32], b[32], cond[64];
        snprintf(s, sizeof s, "Service_%d", i);
        snprintf(x, sizeof x, "Split_%d", i);
        snprintf(u, sizeof u, "Review_%d", i);
        snprintf(c, sizeof c, "Compute_%d", i);
        snprintf(m, sizeof m, "Merge_%d", i);
        snprintf(b, sizeof b, "Timeout_%d", i);
        baton_buf_printf(&g.proc,
                         "    <bpmn:serviceTask id=\"%s\" name=\"Call service %d\">\n"
                         "      <bpmn:extensionElements>\n"
                         "        <zeebe:taskDefinition type=\"service-%d\" retries=\"3\" />\n"
                         "        <zeebe:ioMapping>\n"
                         "          <zeebe:input source=\"= order.items[%d]\" target=\"item\" />\n"
                         "          <zeebe:output source=\"= result.total\" target=\"total%d\" />\n"
                         "        </zeebe:ioMapping>\n"
                         "      </bpmn:extensionElements>\n"
                         "    </bpmn:serviceTask>\n",
                         s, i, i % 7, i % 5 + 1, i);
        shape(&g, s, 100, 80);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        flow(&g, fid, prev, s, NULL);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        baton_buf_printf(&g.proc, "    <bpmn:exclusiveGateway id=\"%s\" default=\"Flow_%d\" />\n",
                         x, f + 1);
        shape(&g, x, 50, 50);
        flow(&g, fid, s, x, NULL);
        baton_buf_printf(&g.proc,
                         "    <bpmn:userTask id=\"%s\" name=\"Review %d\">\n"
                         "      <bpmn:extensionElements>\n"
                         "        <zeebe:userTask />\n"
                         "        <zeebe:assignmentDefinition assignee=\"= reviewer\" "
                         "candidateGroups=\"sales\" />\n"
                         "      </bpmn:extensionElements>\n"
                         "    </bpmn:userTask>\n",
                         u, i);
        shape(&g, u, 100, 80);
        baton_buf_printf(&g.proc,
                         "    <bpmn:scriptTask id=\"%s\" name=\"Compute %d\">\n"
                         "      <bpmn:extensionElements>\n"
                         "        <zeebe:script expression=\"= total%d * 1.19\" "
                         "resultVariable=\"gross%d\" />\n"
                         "      </bpmn:extensionElements>\n"
                         "    </bpmn:scriptTask>\n",
                         c, i, i, i);
        shape(&g, c, 100, 80);
        snprintf(cond, sizeof cond, "= total%d &gt; %d", i, 100 + i);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        flow(&g, fid, x, u, cond);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        flow(&g, fid, x, c, NULL);
        baton_buf_printf(&g.proc,
                         "    <bpmn:boundaryEvent id=\"%s\" attachedToRef=\"%s\" "
                         "cancelActivity=\"false\">\n"
                         "      <bpmn:timerEventDefinition>\n"
                         "        <bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">PT%dH"
                         "</bpmn:timeDuration>\n"
                         "      </bpmn:timerEventDefinition>\n"
                         "    </bpmn:boundaryEvent>\n",
                         b, u, i % 24 + 1);
        shape(&g, b, 36, 36);
        baton_buf_printf(&g.proc, "    <bpmn:exclusiveGateway id=\"%s\" />\n", m);
        shape(&g, m, 50, 50);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        flow(&g, fid, u, m, NULL);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        flow(&g, fid, c, m, NULL);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        flow(&g, fid, b, m, NULL);
        snprintf(prev, sizeof prev, "%s", m);
    }
    for (int k = 0; k < tasks; k++) {
        snprintf(id, sizeof id, "Task_%d", k);
        baton_buf_printf(&g.proc, "    <bpmn:task id=\"%s\" name=\"Step %d\" />\n", id, k);
        shape(&g, id, 100, 80);
        snprintf(fid, sizeof fid, "Flow_%d", f++);
        flow(&g, fid, prev, id, NULL);
        snprintf(prev, sizeof prev, "%s", id);
    }
    baton_buf_puts(&g.proc, "    <bpmn:endEvent id=\"end\" name=\"Done\" />\n");
    shape(&g, "end", 36, 36);
    snprintf(fid, sizeof fid, "Flow_%d", f++);
    flow(&g, fid, prev, "end", NULL);

    baton_buf out;
    baton_buf_init(&out, 0);
    baton_buf_printf(
        &out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
        "xmlns:bpmndi=\"http://www.omg.org/spec/BPMN/20100524/DI\" "
        "xmlns:dc=\"http://www.omg.org/spec/DD/20100524/DC\" "
        "xmlns:di=\"http://www.omg.org/spec/DD/20100524/DI\" "
        "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" "
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xmlns:modeler=\"http://camunda.org/schema/modeler/1.0\" id=\"Definitions_bench\" "
        "targetNamespace=\"http://bpmn.io/schema/bpmn\" exporter=\"Camunda Modeler\" "
        "exporterVersion=\"5.20.0\" modeler:executionPlatform=\"Camunda Cloud\" "
        "modeler:executionPlatformVersion=\"8.4.0\">\n"
        "  <bpmn:process id=\"bench\" name=\"Benchmark (%d elements)\" isExecutable=\"true\">\n"
        "%s"
        "  </bpmn:process>\n"
        "  <bpmndi:BPMNDiagram id=\"BPMNDiagram_1\">\n"
        "    <bpmndi:BPMNPlane id=\"BPMNPlane_1\" bpmnElement=\"bench\">\n"
        "%s"
        "    </bpmndi:BPMNPlane>\n"
        "  </bpmndi:BPMNDiagram>\n"
        "</bpmn:definitions>\n",
        g.elements, baton_buf_str(&g.proc), baton_buf_str(&g.di));
    baton_buf_fini(&g.proc);
    baton_buf_fini(&g.di);
    *len_out = out.len;
    return baton_buf_take(&out);
}

/* ---- measuring ------------------------------------------------------------ */

typedef struct measure {
    double load_ms, xml_ms; /* medians */
    double load_min, xml_min;
    uint32_t elements, nodes, flows;
    size_t model_bytes, xml_bytes;
    baton_status st;
} measure;

static uint32_t flow_elements(const baton_graph *g) {
    return g->n_nodes + g->n_flows;
}

static measure run(const char *xml, size_t len, const char *name, int reps) {
    measure r;
    memset(&r, 0, sizeof r);
    double *a = calloc((size_t)reps, sizeof *a), *b = calloc((size_t)reps, sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        r.st = BATON_NOMEM;
        return r;
    }
    baton_load_opts opts = {.name = name};
    /* one load to report on, then alternate the two so drift hits both alike */
    baton_model *m = NULL;
    r.st = baton_bpmn_load(xml, len, &opts, NULL, &m, NULL);
    if (m) {
        const baton_graph *g = baton_model_graph(m);
        r.elements = flow_elements(g);
        r.nodes = g->n_nodes;
        r.flows = g->n_flows;
        r.model_bytes = baton_model_memory(m);
        baton_model_xml(m, &r.xml_bytes);
        baton_model_unref(m);
    }
    for (int i = 0; i < reps; i++) {
        double t0 = now_ms();
        xmlDocPtr doc = xmlReadMemory(xml, (int)len, name, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlFreeDoc(doc);
        double t1 = now_ms();
        m = NULL;
        baton_bpmn_load(xml, len, &opts, NULL, &m, NULL);
        baton_model_unref(m);
        double t2 = now_ms();
        a[i] = t1 - t0;
        b[i] = t2 - t1;
    }
    r.xml_ms = median(a, reps);
    r.load_ms = median(b, reps);
    r.xml_min = a[0];
    r.load_min = b[0];
    free(a);
    free(b);
    return r;
}

static void quiet(void *ctx, const char *fmt, ...) {
    (void)ctx;
    (void)fmt;
}

static int is_bpmn(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".bpmn") == 0;
}

static char *read_all(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    *len_out = len;
    return buf;
}

static void corpus(const char *dir, int reps) {
    struct dirent **list = NULL;
    int n = scandir(dir, &list, is_bpmn, alphasort);
    if (n <= 0) {
        printf("\nMIWG corpus: none at %s (--corpus DIR)\n", dir);
        return;
    }
    printf("\nMIWG corpus (%s), median of %d loads per file:\n", dir, reps);
    printf("%-64s %8s %6s %9s %9s %6s\n", "file", "bytes", "elems", "load ms", "libxml2", "ratio");
    double *ratios = calloc((size_t)n, sizeof *ratios), *loads = calloc((size_t)n, sizeof *loads);
    double total_load = 0, total_xml = 0, worst = 0;
    const char *worst_file = "";
    int measured = 0;
    for (int i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        size_t len = 0;
        char *xml = read_all(path, &len);
        if (!xml)
            continue;
        measure r = run(xml, len, list[i]->d_name, reps);
        free(xml);
        double ratio = r.xml_ms > 0 ? r.load_ms / r.xml_ms : 0;
        printf("%-64.64s %8zu %6u %9.3f %9.3f %6.2f%s\n", list[i]->d_name, len, r.elements,
               r.load_ms, r.xml_ms, ratio, r.st ? " (invalid)" : "");
        if (ratios && loads) {
            ratios[measured] = ratio;
            loads[measured] = r.load_ms;
        }
        measured++;
        total_load += r.load_ms;
        total_xml += r.xml_ms;
        if (r.load_ms > worst) {
            worst = r.load_ms;
            worst_file = list[i]->d_name;
        }
    }
    if (ratios && loads && measured) {
        printf("files %d: load total %.2f ms (libxml2 alone %.2f ms, ratio %.2f); per file median "
               "%.3f ms, max %.3f ms (%s); median ratio %.2f\n",
               measured, total_load, total_xml, total_xml > 0 ? total_load / total_xml : 0,
               median(loads, measured), worst, worst_file, median(ratios, measured));
    }
    free(ratios);
    free(loads);
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

int main(int argc, char **argv) {
    int reps = 500, elements = 1000;
    bool json = false;
    const char *corpus_dir = NULL, *write_to = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc)
            corpus_dir = argv[++i];
        else if (strcmp(argv[i], "--write") == 0 && i + 1 < argc)
            write_to = argv[++i];
        else if (strcmp(argv[i], "--elements") == 0 && i + 1 < argc)
            elements = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            fprintf(stderr, "usage: bench-load [--reps N] [--corpus DIR] [--write FILE] "
                            "[--elements N] [--json]\n");
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    if (elements < 3)
        elements = 3;
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, quiet); /* the baseline's encoding errors would print */

    size_t len = 0;
    char *xml = generate(elements, &len);
    if (!xml) {
        fprintf(stderr, "bench-load: out of memory\n");
        return 1;
    }
    if (write_to) {
        FILE *f = fopen(write_to, "wb");
        if (f) {
            fwrite(xml, 1, len, f);
            fclose(f);
        }
    }
    measure r = run(xml, len, "generated.bpmn", reps);
    if (r.st) {
        fprintf(stderr, "bench-load: the generated diagram does not load: %s\n",
                baton_status_name(r.st));
        baton_free(xml);
        return 1;
    }
    if (json) {
        printf("{\"elements\":%u,\"nodes\":%u,\"flows\":%u,\"bytes\":%zu,\"reps\":%d,"
               "\"load_ms\":%.4f,\"load_min_ms\":%.4f,\"libxml2_ms\":%.4f,\"libxml2_min_ms\":%.4f,"
               "\"model_bytes\":%zu,\"xml_bytes\":%zu}\n",
               r.elements, r.nodes, r.flows, len, reps, r.load_ms, r.load_min, r.xml_ms, r.xml_min,
               r.model_bytes, r.xml_bytes);
        baton_free(xml);
        xmlCleanupParser();
        return 0;
    }
    printf("Generated diagram: %u flow elements (%u nodes, %u sequence flows), %zu bytes of XML\n",
           r.elements, r.nodes, r.flows, len);
    printf("load+validate: median %.3f ms (min %.3f)   target < 5 ms: %s\n", r.load_ms,
           r.load_min, r.load_ms < 5.0 ? "met" : "MISSED");
    printf("libxml2 xmlReadMemory+xmlFreeDoc alone: median %.3f ms (min %.3f)\n", r.xml_ms,
           r.xml_min);
    printf("ratio load/libxml2: %.2f (median of %d runs each)\n", r.load_ms / r.xml_ms, reps);
    double per = (double)r.model_bytes / r.elements;
    printf("model memory: %zu bytes = %.0f bytes/element   target < 1024: %s\n", r.model_bytes,
           per, per < 1024 ? "met" : "MISSED");
    printf("with the XML copy: %zu bytes = %.0f bytes/element\n", r.model_bytes + r.xml_bytes,
           (double)(r.model_bytes + r.xml_bytes) / r.elements);
    baton_free(xml);

    char dir[1024];
    if (!corpus_dir) {
        const char *c = getenv("BATON_CORPUS");
        snprintf(dir, sizeof dir, "%s/miwg", c && *c ? c : "../shared/corpus");
        corpus_dir = dir;
    }
    corpus(corpus_dir, reps > 50 ? 50 : reps);
    xmlCleanupParser();
    return 0;
}
