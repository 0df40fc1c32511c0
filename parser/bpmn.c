/*
 * bpmn.c - BPMN 2.0 XML -> baton_model, with libxml2.
 *
 * Three passes over the DOM:
 *   1. declare: every element that can be referenced gets its index (nodes,
 *      flows, processes, scopes, messages, ...), and ids are checked for
 *      uniqueness across the whole file;
 *   2. fill: attributes, references (resolved now that every id is known),
 *      event definitions, loop characteristics and vendor extensions;
 *   3. after baton_builder_finish(), validate.c checks the graph.
 * Every problem goes to the diagnostics list with its line and element id,
 * so one run reports all of them. Namespaces are matched by URI only.
 *
 * Hostile input: the XML parser runs without network, DTD loading or entity
 * substitution, and a SAX hook stops it at the first DOCTYPE, so XXE and
 * billion-laughs documents are rejected before any entity is declared.
 */
#include "parser/bpmn.h"

#include <ctype.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "common/alloc.h"
#include "common/strmap.h"
#include "parser/parser_int.h"

/* ---- small helpers over libxml2 -------------------------------------- */

/*
 * Whether namespace `href` is `uri`. Camunda 7 reads the extension namespace
 * of Activiti, which it was forked from, as its own (Camunda Modeler 1.x
 * and 2.x and the Eclipse plugin bound `camunda:` to it), and so does Baton.
 */
static bool ns_is(const char *href, const char *uri) {
    return strcmp(href, uri) == 0 ||
           (strcmp(uri, BATON_CAMUNDA_NS) == 0 && strcmp(href, BATON_ACTIVITI_NS) == 0);
}

static bool in_ns(const xmlNode *n, const char *uri) {
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           ns_is((const char *)n->ns->href, uri);
}

static bool is_bpmn(const xmlNode *n, const char *local) {
    return in_ns(n, BATON_BPMN_NS) && strcmp((const char *)n->name, local) == 0;
}

static bool is_el(const xmlNode *n, const char *uri, const char *local) {
    return in_ns(n, uri) && strcmp((const char *)n->name, local) == 0;
}

/*
 * The line of the element's start tag '<'. The SAX hook records it in the
 * node's _private (free for applications); libxml2's own line is that of
 * the tag's end and stops at 65535.
 */
static uint32_t line_of(const xmlNode *n) {
    if (n->type == XML_ELEMENT_NODE && n->_private)
        return (uint32_t)(uintptr_t)n->_private;
    long l = xmlGetLineNo((xmlNode *)n);
    return l > 0 ? (uint32_t)l : 0;
}

/*
 * An attribute's value, borrowed from the document when it is a single text
 * node (the usual case), else copied into the model's arena. NULL if absent.
 */
static const char *attr_ns(loader *L, const xmlNode *n, const char *ns, const char *name) {
    xmlAttr *a = xmlHasNsProp((xmlNode *)n, (const xmlChar *)name, (const xmlChar *)ns);
    if (!a && ns && strcmp(ns, BATON_CAMUNDA_NS) == 0) /* see ns_is */
        a = xmlHasNsProp((xmlNode *)n, (const xmlChar *)name, (const xmlChar *)BATON_ACTIVITI_NS);
    if (!a || a->type != XML_ATTRIBUTE_NODE)
        return NULL;
    if (!a->children)
        return "";
    if (a->children->type == XML_TEXT_NODE && !a->children->next)
        return (const char *)a->children->content;
    xmlChar *v = xmlNodeListGetString(a->doc, a->children, 1);
    if (!v) {
        L->nomem = true;
        return NULL;
    }
    const char *c = baton_builder_strdup(L->b, (const char *)v);
    xmlFree(v);
    if (!c)
        L->nomem = true;
    return c;
}

static const char *attr(loader *L, const xmlNode *n, const char *name) {
    return attr_ns(L, n, NULL, name);
}

/* Boolean attribute with a default ("true"/"false", also "1"/"0"). */
static bool attr_bool(loader *L, const xmlNode *n, const char *ns, const char *name, bool dflt) {
    const char *v = attr_ns(L, n, ns, name);
    if (!v)
        return dflt;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        return true;
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        return false;
    return dflt;
}

/* The element's text content, trimmed, copied into the model arena. */
static const char *text_of(loader *L, const xmlNode *n) {
    xmlChar *v = xmlNodeGetContent((xmlNode *)n);
    if (!v) {
        return NULL;
    }
    const char *s = (const char *)v;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    const char *c = baton_builder_strndup(L->b, s, len);
    xmlFree(v);
    if (!c)
        L->nomem = true;
    return c;
}

static xmlNode *first_child_el(const xmlNode *n) {
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

static xmlNode *next_el(const xmlNode *n) {
    for (xmlNode *c = n->next; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

#define FOR_EACH_CHILD(c, parent) for (xmlNode *c = first_child_el(parent); c; c = next_el(c))

static xmlNode *bpmn_child(const xmlNode *n, const char *local) {
    FOR_EACH_CHILD(c, n) {
        if (is_bpmn(c, local))
            return c;
    }
    return NULL;
}

/* Extension elements of namespace `ns` named `local` under n's extensionElements. */
static xmlNode *ext_child(const xmlNode *n, const char *ns, const char *local) {
    FOR_EACH_CHILD(c, n) {
        if (!is_bpmn(c, "extensionElements"))
            continue;
        FOR_EACH_CHILD(e, c) {
            if (is_el(e, ns, local))
                return e;
        }
    }
    return NULL;
}

/* ---- diagnostics ------------------------------------------------------ */

void baton_parser_diag(loader *L, baton_severity sev, uint32_t line, const char *element,
                       const char *fmt, ...) {
    char msg[BATON_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sev == BATON_SEV_ERROR) {
        L->n_errors++;
        /* err reports the error that comes first in the file, as the list does once sorted */
        if (!L->first_error.code || line < L->first_line) {
            baton_error_clear(&L->first_error);
            L->first_line = line;
            baton_error_set(&L->first_error, BATON_MODEL, "%s", msg);
            if (element)
                baton_error_where(&L->first_error, "%s:%u: element '%s'", L->file, line, element);
            else
                baton_error_where(&L->first_error, "%s:%u", L->file, line);
        }
    }
    baton_diags_add(L->diags, sev, line, 0, element, "%s", msg);
}

/*
 * An engine limitation: an error, or a warning when the caller stubs such
 * elements. Nothing in a process that is not executable: it is never run.
 */
void baton_parser_unexecutable(loader *L, uint32_t line, const char *element, const char *fmt,
                               ...) {
    if (!L->exec)
        return;
    char msg[BATON_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    baton_parser_diag(L, L->opts.unexecutable_as_warnings ? BATON_SEV_WARNING : BATON_SEV_ERROR,
                      line, element, "%s", msg);
}

#define DIAG_ERR(L, line, el, ...)  baton_parser_diag(L, BATON_SEV_ERROR, line, el, __VA_ARGS__)
#define DIAG_WARN(L, line, el, ...) baton_parser_diag(L, BATON_SEV_WARNING, line, el, __VA_ARGS__)
/* A problem only for running the element: an error in executable processes, else silent. */
#define EXEC_ERR(L, line, el, ...)                                                                 \
    do {                                                                                           \
        if ((L)->exec)                                                                             \
            baton_parser_diag(L, BATON_SEV_ERROR, line, el, __VA_ARGS__);                          \
    } while (0)

/* ---- ids and references ----------------------------------------------- */

/* Register an id in the file-wide id table; duplicates are reported. */
static bool claim_id(loader *L, const char *id, uint32_t line, const char *what) {
    if (!id || !*id)
        return true;
    uint32_t prev;
    baton_status st = baton_strmap_put(L->ids, id, strlen(id), line, &prev);
    if (st == BATON_CONFLICT) {
        DIAG_ERR(L, line, id, "duplicate id: %s '%s' already defined at line %u", what, id, prev);
        return false;
    }
    if (st)
        L->nomem = true;
    return st == BATON_OK;
}

/*
 * References are IDREFs or QNames ("tns:Message_1"): try the text as given,
 * then without its prefix.
 */
typedef baton_idx (*find_fn)(const baton_builder *, const char *);

static baton_idx resolve(loader *L, find_fn find, const char *ref) {
    if (!ref)
        return BATON_NONE;
    baton_idx i = find(L->b, ref);
    if (i == BATON_NONE) {
        const char *colon = strchr(ref, ':');
        if (colon)
            i = find(L->b, colon + 1);
    }
    return i;
}

/* Resolve a mandatory reference attribute, reporting a dangling one. */
static baton_idx resolve_ref(loader *L, find_fn find, const char *ref, uint32_t line,
                             const char *element, const char *attr_name, const char *what) {
    if (!ref)
        return BATON_NONE;
    baton_idx i = resolve(L, find, ref);
    if (i == BATON_NONE) {
        DIAG_ERR(L, line, element, "%s '%s' refers to no %s in this file", attr_name, ref, what);
        if (L->dangling && L->cur_node != BATON_NONE)
            L->dangling[L->cur_node] = 1;
    }
    return i;
}

/* Compile an expression into a slot, reporting a syntax error with its column. */
static void expr_slot(loader *L, baton_slot *slot, const char *text, uint32_t line,
                      const char *element, baton_expr_mode mode) {
    if (!text)
        return;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_builder_expr(L->b, slot, text, line, mode, &e);
    if (st == BATON_NOMEM) {
        L->nomem = true;
    } else if (st) {
        /* a drawing's expressions are kept as text; only a runnable one must compile */
        baton_severity sev = L->exec ? BATON_SEV_ERROR : BATON_SEV_WARNING;
        if (e.where[0])
            baton_parser_diag(L, sev, line, element, "expression '%.80s': %s: %s", text, e.where,
                              e.message);
        else
            baton_parser_diag(L, sev, line, element, "expression '%.80s': %s", text, e.message);
        if (!L->exec) {
            slot->text = baton_builder_strdup(L->b, text);
            slot->line = line;
        }
    }
}

static bool is_identifier(const char *s) {
    if (!s || !*s || (!isalpha((unsigned char)*s) && *s != '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* Does an expression language name or URI mean `lang` ("feel", "juel")? */
static bool lang_is(const char *name, const char *lang) {
    size_t n = strlen(lang);
    for (const char *p = name; *p; p++)
        if (strncasecmp(p, lang, n) == 0)
            return true;
    return false;
}

/*
 * A condition (sequence flow, conditional event, completion, loop or
 * activation condition) held by element `ce`. Its language is the element's
 * `language`, else the definitions' expressionLanguage. A text that starts
 * with '=' or holds ${...} is read as written, whatever language is
 * declared (tools keep BPMN's XPath default while writing FEEL); otherwise
 * FEEL and JUEL texts compile in that mode and any other language cannot be
 * evaluated here.
 */
static void cond_slot(loader *L, baton_slot *slot, const xmlNode *ce, const char *id) {
    const char *text = text_of(L, ce);
    if (!text || !*text)
        return;
    uint32_t line = line_of(ce);
    const char *lang = attr(L, ce, "language");
    if (!lang || !*lang)
        lang = L->expr_language;
    baton_expr_mode mode = BATON_EXPR_MODE_AUTO;
    if (lang && *lang && text[0] != '=' && !strstr(text, "${") && !strstr(text, "#{")) {
        if (lang_is(lang, "feel")) {
            mode = BATON_EXPR_MODE_FEEL;
        } else if (lang_is(lang, "juel")) {
            mode = BATON_EXPR_MODE_JUEL;
        } else {
            baton_parser_unexecutable(L, line, id,
                                      "condition '%.80s' is in language '%s', which the engine "
                                      "cannot evaluate (only FEEL and JUEL)",
                                      text, lang);
            slot->text = text;
            slot->line = line;
            return;
        }
    }
    expr_slot(L, slot, text, line, id, mode);
}

/* ---- pass 1: declare ---------------------------------------------------- */

typedef struct kind_name {
    const char *xml;
    baton_node_kind kind;
} kind_name;

static const kind_name flow_node_kinds[] = {
    {"startEvent", BATON_NODE_START_EVENT},
    {"endEvent", BATON_NODE_END_EVENT},
    {"intermediateCatchEvent", BATON_NODE_CATCH_EVENT},
    {"intermediateThrowEvent", BATON_NODE_THROW_EVENT},
    {"boundaryEvent", BATON_NODE_BOUNDARY_EVENT},
    {"task", BATON_NODE_TASK},
    {"userTask", BATON_NODE_USER_TASK},
    {"serviceTask", BATON_NODE_SERVICE_TASK},
    {"sendTask", BATON_NODE_SEND_TASK},
    {"receiveTask", BATON_NODE_RECEIVE_TASK},
    {"scriptTask", BATON_NODE_SCRIPT_TASK},
    {"businessRuleTask", BATON_NODE_BUSINESS_RULE_TASK},
    {"manualTask", BATON_NODE_MANUAL_TASK},
    {"callActivity", BATON_NODE_CALL_ACTIVITY},
    {"subProcess", BATON_NODE_SUB_PROCESS},
    {"transaction", BATON_NODE_TRANSACTION},
    {"adHocSubProcess", BATON_NODE_AD_HOC_SUB_PROCESS},
    {"exclusiveGateway", BATON_NODE_EXCLUSIVE_GATEWAY},
    {"parallelGateway", BATON_NODE_PARALLEL_GATEWAY},
    {"inclusiveGateway", BATON_NODE_INCLUSIVE_GATEWAY},
    {"eventBasedGateway", BATON_NODE_EVENT_BASED_GATEWAY},
    {"complexGateway", BATON_NODE_COMPLEX_GATEWAY},
};

/* BPMN elements that may sit in a scope and carry no execution semantics. */
static const char *const passive_elements[] = {
    "laneSet",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "textAnnotation",
    "association",
    "group",
    "ioSpecification",
    "property",
    "documentation",
    "extensionElements",
    "auditing",
    "monitoring",
    "categoryValueRef",
    "dataInputAssociation",
    "dataOutputAssociation",
    "ioBinding",
    "resourceRole",
    "performer",
    "humanPerformer",
    "potentialOwner",
    "incoming",
    "outgoing",
    "lane",
    "supportedInterfaceRef",
    "correlationSubscription",
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "rendering",
    "supports",
};

static bool is_passive(const char *name) {
    for (size_t i = 0; i < sizeof passive_elements / sizeof *passive_elements; i++)
        if (strcmp(name, passive_elements[i]) == 0)
            return true;
    return false;
}

static bool lookup_kind(const xmlNode *n, baton_node_kind *kind_out) {
    if (!in_ns(n, BATON_BPMN_NS))
        return false;
    for (size_t i = 0; i < sizeof flow_node_kinds / sizeof *flow_node_kinds; i++)
        if (strcmp((const char *)n->name, flow_node_kinds[i].xml) == 0) {
            *kind_out = flow_node_kinds[i].kind;
            return true;
        }
    return false;
}

static baton_status push_xml(xmlNode ***arr, uint32_t *cap, baton_idx i, xmlNode *n) {
    if (i >= *cap) {
        uint32_t c = *cap ? *cap * 2 : 64;
        while (c <= i)
            c *= 2;
        xmlNode **a = baton_realloc(*arr, c * sizeof *a);
        if (!a)
            return BATON_NOMEM;
        *arr = a;
        *cap = c;
    }
    (*arr)[i] = n;
    return BATON_OK;
}

static void declare_scope(loader *L, xmlNode *container, baton_idx process, baton_idx scope,
                          uint32_t depth);

static void declare_node(loader *L, xmlNode *c, baton_node_kind kind, baton_idx process,
                         baton_idx scope, uint32_t depth) {
    uint32_t line = line_of(c);
    const char *id = attr(L, c, "id");
    if (kind == BATON_NODE_SUB_PROCESS && attr_bool(L, c, NULL, "triggeredByEvent", false))
        kind = BATON_NODE_EVENT_SUB_PROCESS;
    if (!id || !*id) {
        DIAG_ERR(L, line, NULL, "<%s> has no id", c->name);
        return;
    }
    if (!claim_id(L, id, line, (const char *)c->name))
        return;
    baton_idx idx;
    baton_status st = baton_builder_add_node(L->b, kind, id, line, scope, &idx);
    if (st) {
        if (st == BATON_NOMEM || st == BATON_LIMIT)
            L->nomem = true;
        return;
    }
    if (push_xml(&L->node_xml, &L->node_cap, idx, c)) {
        L->nomem = true;
        return;
    }
    if (baton_node_kind_flags(kind) & BATON_KF_SCOPE) {
        baton_idx inner;
        if (baton_builder_add_scope(L->b, process, scope, idx, &inner)) {
            L->nomem = true;
            return;
        }
        baton_builder_node(L->b, idx)->inner_scope = inner;
        declare_scope(L, c, process, inner, depth + 1);
    }
}

static void declare_scope(loader *L, xmlNode *container, baton_idx process, baton_idx scope,
                          uint32_t depth) {
    if (depth > L->opts.max_depth) {
        DIAG_ERR(L, line_of(container), attr(L, container, "id"),
                 "subprocesses nested deeper than %u levels", L->opts.max_depth);
        return;
    }
    FOR_EACH_CHILD(c, container) {
        if (L->nomem)
            return;
        baton_node_kind kind;
        if (lookup_kind(c, &kind)) {
            declare_node(L, c, kind, process, scope, depth);
        } else if (is_bpmn(c, "sequenceFlow")) {
            uint32_t line = line_of(c);
            const char *id = attr(L, c, "id");
            char made[48];
            if (!id || !*id) {
                /*
                 * The id is optional in the schema and nothing refers to an
                 * unnamed flow, so it gets one that no XML ID can equal
                 * ('@' is not a name character): sequenceFlow@LINE[.N].
                 */
                snprintf(made, sizeof made, "sequenceFlow@%u", line);
                for (uint32_t k = 2; baton_builder_find_flow(L->b, made) != BATON_NONE; k++)
                    snprintf(made, sizeof made, "sequenceFlow@%u.%u", line, k);
                id = made;
            } else if (!claim_id(L, id, line, "sequenceFlow")) {
                continue;
            }
            baton_idx idx;
            baton_status st = baton_builder_add_flow(L->b, id, line, scope, &idx);
            if (st || push_xml(&L->flow_xml, &L->flow_cap, idx, c)) {
                L->nomem = true;
                return;
            }
        } else if (in_ns(c, BATON_BPMN_NS)) {
            const char *name = (const char *)c->name;
            const char *id = attr(L, c, "id");
            if (id && *id)
                claim_id(L, id, line_of(c), name);
            if (is_bpmn(c, "association")) {
                if (push_xml(&L->assoc_xml, &L->assoc_cap, L->n_assoc, c)) {
                    L->nomem = true;
                    return;
                }
                L->n_assoc++;
            } else if (!is_passive(name)) {
                baton_process *p = baton_builder_process(L->b, process);
                if (p && p->executable)
                    baton_parser_unexecutable(L, line_of(c), id,
                                              "<%s> is not supported by the engine", name);
                else
                    DIAG_WARN(L, line_of(c), id, "<%s> is not understood; ignored", name);
            }
        }
        /* elements of other namespaces are vendor extensions: skipped */
    }
}

static void declare_process(loader *L, xmlNode *pn) {
    uint32_t line = line_of(pn);
    const char *id = attr(L, pn, "id");
    if (!id || !*id) {
        DIAG_ERR(L, line, NULL, "<process> has no id");
        return;
    }
    if (!claim_id(L, id, line, "process"))
        return;
    baton_idx p, scope;
    if (baton_builder_add_process(L->b, id, line, &p) ||
        baton_builder_add_scope(L->b, p, BATON_NONE, BATON_NONE, &scope)) {
        L->nomem = true;
        return;
    }
    baton_process *proc = baton_builder_process(L->b, p);
    proc->root_scope = scope;
    proc->name = baton_builder_strdup(L->b, attr(L, pn, "name"));
    /*
     * BPMN gives isExecutable no default. Camunda 7 skips a process without
     * it on a new deployment and Camunda 8 reads it as false; so do we, and
     * say so, since a forgotten attribute is the usual cause.
     */
    if (!attr(L, pn, "isExecutable"))
        DIAG_WARN(L, line, id,
                  "process has no isExecutable attribute and is treated as not executable "
                  "(add isExecutable=\"true\" to run it)");
    proc->executable = attr_bool(L, pn, NULL, "isExecutable", false);
    const char *vt = attr_ns(L, pn, BATON_CAMUNDA_NS, "versionTag");
    xmlNode *zv = ext_child(pn, BATON_ZEEBE_NS, "versionTag");
    if (zv)
        vt = attr(L, zv, "value");
    proc->version_tag = baton_builder_strdup(L->b, vt);
    declare_scope(L, pn, p, scope, 0);
}

/* A definitions-level named element: message, signal, error, escalation. */
static void declare_named(loader *L, xmlNode *c) {
    uint32_t line = line_of(c);
    const char *id = attr(L, c, "id");
    const char *local = (const char *)c->name;
    if (!id || !*id) {
        DIAG_ERR(L, line, NULL, "<%s> has no id", local);
        return;
    }
    if (!claim_id(L, id, line, local))
        return;
    baton_idx i;
    const char *name = attr(L, c, "name");
    if (strcmp(local, "message") == 0) {
        if (baton_builder_add_message(L->b, id, line, &i)) {
            L->nomem = true;
            return;
        }
        baton_message *m = baton_builder_message(L->b, i);
        m->name = baton_builder_strdup(L->b, name);
        if (name && name[0] == '=') {
            baton_slot s = {0};
            expr_slot(L, &s, name, line, id, BATON_EXPR_MODE_AUTO);
            baton_builder_message(L->b, i)->name_expr = s;
        }
        xmlNode *sub = ext_child(c, BATON_ZEEBE_NS, "subscription");
        if (sub) {
            baton_slot s = {0};
            expr_slot(L, &s, attr(L, sub, "correlationKey"), line_of(sub), id,
                      BATON_EXPR_MODE_AUTO);
            baton_builder_message(L->b, i)->correlation_key = s;
            L->uses_zeebe = true;
        }
        return;
    }
    baton_named_def *d = NULL;
    const char *code = NULL;
    if (strcmp(local, "signal") == 0) {
        if (baton_builder_add_signal(L->b, id, line, &i) == BATON_OK)
            d = baton_builder_signal(L->b, i);
    } else if (strcmp(local, "error") == 0) {
        code = attr(L, c, "errorCode");
        if (baton_builder_add_error(L->b, id, line, &i) == BATON_OK)
            d = baton_builder_error(L->b, i);
    } else {
        code = attr(L, c, "escalationCode");
        if (baton_builder_add_escalation(L->b, id, line, &i) == BATON_OK)
            d = baton_builder_escalation(L->b, i);
    }
    if (!d) {
        L->nomem = true;
        return;
    }
    d->name = baton_builder_strdup(L->b, name);
    d->code = baton_builder_strdup(L->b, code);
}

static void declare_definitions(loader *L, xmlNode *root) {
    FOR_EACH_CHILD(c, root) {
        if (L->nomem)
            return;
        if (!in_ns(c, BATON_BPMN_NS))
            continue;
        const char *local = (const char *)c->name;
        if (strcmp(local, "process") == 0) {
            declare_process(L, c);
        } else if (strcmp(local, "message") == 0 || strcmp(local, "signal") == 0 ||
                   strcmp(local, "error") == 0 || strcmp(local, "escalation") == 0) {
            declare_named(L, c);
        } else if (strcmp(local, "correlationProperty") == 0) {
            const char *id = attr(L, c, "id");
            uint32_t line = line_of(c);
            if (!id || !claim_id(L, id, line, local))
                continue;
            baton_idx i;
            if (baton_builder_add_corr_property(L->b, id, line, &i)) {
                L->nomem = true;
                return;
            }
            baton_builder_corr_property(L->b, i)->name =
                baton_builder_strdup(L->b, attr(L, c, "name"));
        } else {
            const char *id = attr(L, c, "id");
            if (id && *id)
                claim_id(L, id, line_of(c), local);
        }
    }
}

/* ---- pass 2: fill ------------------------------------------------------- */

static void fill_correlation(loader *L, xmlNode *root) {
    FOR_EACH_CHILD(c, root) {
        if (is_bpmn(c, "correlationProperty")) {
            baton_idx pi = baton_builder_find_corr_property(L->b, attr(L, c, "id"));
            if (pi == BATON_NONE)
                continue;
            uint32_t n = 0;
            FOR_EACH_CHILD(r, c) {
                if (is_bpmn(r, "correlationPropertyRetrievalExpression"))
                    n++;
            }
            baton_corr_retrieval *rs = n ? baton_builder_alloc(L->b, n * sizeof *rs) : NULL;
            if (n && !rs)
                return;
            uint32_t k = 0;
            FOR_EACH_CHILD(r, c) {
                if (k == n || !is_bpmn(r, "correlationPropertyRetrievalExpression"))
                    continue; /* k == n never: these are the children counted above */
                uint32_t line = line_of(r);
                const char *pid = baton_builder_corr_property(L->b, pi)->id;
                rs[k].message = resolve_ref(L, baton_builder_find_message, attr(L, r, "messageRef"),
                                            line, pid, "messageRef", "message");
                xmlNode *path = bpmn_child(r, "messagePath");
                if (path)
                    expr_slot(L, &rs[k].path, text_of(L, path), line_of(path), pid,
                              BATON_EXPR_MODE_AUTO);
                k++;
            }
            baton_corr_property *p = baton_builder_corr_property(L->b, pi);
            p->n_retrievals = n;
            p->retrievals = rs;
        } else if (is_bpmn(c, "collaboration")) {
            FOR_EACH_CHILD(k, c) {
                if (is_bpmn(k, "participant")) {
                    const char *ref = attr(L, k, "processRef");
                    baton_idx p = resolve(L, baton_builder_find_process, ref);
                    if (p != BATON_NONE)
                        baton_builder_process(L->b, p)->participant =
                            baton_builder_strdup(L->b, attr(L, k, "name"));
                    else if (ref)
                        /* a pool may show a process defined in another file, as a call may */
                        DIAG_WARN(L, line_of(k), attr(L, k, "id"),
                                  "participant's processRef '%s' is not a process in this file",
                                  ref);
                } else if (is_bpmn(k, "correlationKey")) {
                    baton_idx ki;
                    if (baton_builder_add_corr_key(L->b, attr(L, k, "id"), &ki)) {
                        L->nomem = true;
                        return;
                    }
                    uint32_t n = 0;
                    FOR_EACH_CHILD(r, k) {
                        if (is_bpmn(r, "correlationPropertyRef"))
                            n++;
                    }
                    baton_idx *props = n ? baton_builder_alloc(L->b, n * sizeof *props) : NULL;
                    uint32_t m = 0;
                    FOR_EACH_CHILD(r, k) {
                        if (!is_bpmn(r, "correlationPropertyRef") || !props)
                            continue;
                        baton_idx pi = resolve_ref(L, baton_builder_find_corr_property,
                                                   text_of(L, r), line_of(r), attr(L, k, "name"),
                                                   "correlationPropertyRef", "correlationProperty");
                        if (pi != BATON_NONE)
                            props[m++] = pi;
                    }
                    baton_corr_key *key = baton_builder_corr_key(L->b, ki);
                    key->name = baton_builder_strdup(L->b, attr(L, k, "name"));
                    key->n_props = m;
                    key->props = props;
                }
            }
        }
    }
}

/* Event definitions of an event node. */
static void fill_events(loader *L, baton_idx ni, xmlNode *xn) {
    uint32_t n = 0;
    FOR_EACH_CHILD(c, xn) {
        if (in_ns(c, BATON_BPMN_NS) && strstr((const char *)c->name, "EventDefinition") &&
            strcmp((const char *)c->name, "eventDefinitionRef") != 0)
            n++;
    }
    const char *id = baton_builder_node(L->b, ni)->id;
    if (bpmn_child(xn, "eventDefinitionRef"))
        baton_parser_unexecutable(L, line_of(xn), id,
                                  "eventDefinitionRef (shared event definitions) is not supported");
    if (!n)
        return;
    baton_event_def *evs = baton_builder_alloc(L->b, n * sizeof *evs);
    if (!evs)
        return;
    uint32_t k = 0;
    FOR_EACH_CHILD(c, xn) {
        if (!in_ns(c, BATON_BPMN_NS) || !strstr((const char *)c->name, "EventDefinition") ||
            strcmp((const char *)c->name, "eventDefinitionRef") == 0)
            continue;
        baton_event_def *ev = &evs[k++];
        const char *local = (const char *)c->name;
        uint32_t line = line_of(c);
        ev->ref = BATON_NONE;
        ev->activity = BATON_NONE;
        if (strcmp(local, "messageEventDefinition") == 0) {
            ev->kind = BATON_EVENT_MESSAGE;
            ev->ref = resolve_ref(L, baton_builder_find_message, attr(L, c, "messageRef"), line, id,
                                  "messageRef", "message");
        } else if (strcmp(local, "timerEventDefinition") == 0) {
            ev->kind = BATON_EVENT_TIMER;
            static const struct {
                const char *name;
                baton_timer_kind kind;
            } tk[] = {{"timeDate", BATON_TIMER_DATE},
                      {"timeDuration", BATON_TIMER_DURATION},
                      {"timeCycle", BATON_TIMER_CYCLE}};
            for (size_t t = 0; t < 3; t++) {
                xmlNode *tn = bpmn_child(c, tk[t].name);
                if (!tn)
                    continue;
                const char *text = text_of(L, tn);
                if (text && *text) {
                    ev->timer_kind = (uint8_t)tk[t].kind;
                    expr_slot(L, &ev->timer, text, line_of(tn), id, BATON_EXPR_MODE_AUTO);
                }
                break;
            }
        } else if (strcmp(local, "signalEventDefinition") == 0) {
            ev->kind = BATON_EVENT_SIGNAL;
            ev->ref = resolve_ref(L, baton_builder_find_signal, attr(L, c, "signalRef"), line, id,
                                  "signalRef", "signal");
        } else if (strcmp(local, "errorEventDefinition") == 0) {
            ev->kind = BATON_EVENT_ERROR;
            ev->ref = resolve_ref(L, baton_builder_find_error, attr(L, c, "errorRef"), line, id,
                                  "errorRef", "error");
            ev->code_var =
                baton_builder_strdup(L->b, attr_ns(L, c, BATON_CAMUNDA_NS, "errorCodeVariable"));
            ev->message_var =
                baton_builder_strdup(L->b, attr_ns(L, c, BATON_CAMUNDA_NS, "errorMessageVariable"));
        } else if (strcmp(local, "escalationEventDefinition") == 0) {
            ev->kind = BATON_EVENT_ESCALATION;
            ev->ref = resolve_ref(L, baton_builder_find_escalation, attr(L, c, "escalationRef"),
                                  line, id, "escalationRef", "escalation");
            ev->code_var = baton_builder_strdup(
                L->b, attr_ns(L, c, BATON_CAMUNDA_NS, "escalationCodeVariable"));
        } else if (strcmp(local, "conditionalEventDefinition") == 0) {
            ev->kind = BATON_EVENT_CONDITIONAL;
            xmlNode *cond = bpmn_child(c, "condition");
            if (cond)
                cond_slot(L, &ev->condition, cond, id);
        } else if (strcmp(local, "terminateEventDefinition") == 0) {
            ev->kind = BATON_EVENT_TERMINATE;
        } else if (strcmp(local, "linkEventDefinition") == 0) {
            ev->kind = BATON_EVENT_LINK;
            ev->link_name = baton_builder_strdup(L->b, attr(L, c, "name"));
        } else if (strcmp(local, "compensateEventDefinition") == 0) {
            ev->kind = BATON_EVENT_COMPENSATION;
            ev->wait_for_completion = attr_bool(L, c, NULL, "waitForCompletion", true);
            ev->activity = resolve_ref(L, baton_builder_find_node, attr(L, c, "activityRef"), line,
                                       id, "activityRef", "activity");
        } else if (strcmp(local, "cancelEventDefinition") == 0) {
            ev->kind = BATON_EVENT_CANCEL;
        } else {
            ev->kind = BATON_EVENT_NONE;
            DIAG_WARN(L, line, id, "<%s> is not understood; ignored", local);
        }
    }
    baton_node *node = baton_builder_node(L->b, ni);
    node->events = evs;
    node->n_events = k;
    if (k > 1)
        node->flags |= BATON_NF_MULTIPLE_EVENTS;
}

/* zeebe:ioMapping or camunda:inputOutput -> io definition. */
static void fill_io(loader *L, baton_idx ni, xmlNode *xn) {
    const char *id = baton_builder_node(L->b, ni)->id;
    xmlNode *zio = ext_child(xn, BATON_ZEEBE_NS, "ioMapping");
    xmlNode *cio = ext_child(xn, BATON_CAMUNDA_NS, "inputOutput");
    if (!zio && !cio)
        return;
    uint32_t ni_ = 0, no_ = 0;
    if (zio) {
        FOR_EACH_CHILD(c, zio) {
            ni_ += is_el(c, BATON_ZEEBE_NS, "input");
            no_ += is_el(c, BATON_ZEEBE_NS, "output");
        }
    }
    if (cio) {
        FOR_EACH_CHILD(c, cio) {
            ni_ += is_el(c, BATON_CAMUNDA_NS, "inputParameter");
            no_ += is_el(c, BATON_CAMUNDA_NS, "outputParameter");
        }
    }
    baton_io_def *io = baton_builder_alloc(L->b, sizeof *io);
    baton_mapping *ins = ni_ ? baton_builder_alloc(L->b, ni_ * sizeof *ins) : NULL;
    baton_mapping *outs = no_ ? baton_builder_alloc(L->b, no_ * sizeof *outs) : NULL;
    if (!io || (ni_ && !ins) || (no_ && !outs))
        return;
    uint32_t ki = 0, ko = 0;
    if (zio) {
        L->uses_zeebe = true;
        FOR_EACH_CHILD(c, zio) {
            bool is_in = is_el(c, BATON_ZEEBE_NS, "input");
            if (!is_in && !is_el(c, BATON_ZEEBE_NS, "output"))
                continue;
            if (is_in ? ki == ni_ : ko == no_)
                continue; /* never: these are the children counted above */
            baton_mapping *m = is_in ? &ins[ki++] : &outs[ko++];
            const char *target = attr(L, c, "target");
            if (!target || !*target)
                EXEC_ERR(L, line_of(c), id, "zeebe:%s has no target", c->name);
            m->target = baton_builder_strdup(L->b, target);
            expr_slot(L, &m->source, attr(L, c, "source"), line_of(c), id, BATON_EXPR_MODE_AUTO);
        }
    }
    if (cio) {
        L->uses_camunda = true;
        FOR_EACH_CHILD(c, cio) {
            bool is_in = is_el(c, BATON_CAMUNDA_NS, "inputParameter");
            if (!is_in && !is_el(c, BATON_CAMUNDA_NS, "outputParameter"))
                continue;
            if (is_in ? ki == ni_ : ko == no_)
                continue; /* never: these are the children counted above */
            baton_mapping *m = is_in ? &ins[ki++] : &outs[ko++];
            const char *name = attr(L, c, "name");
            if (!name || !*name)
                EXEC_ERR(L, line_of(c), id, "camunda:%s has no name", c->name);
            m->target = baton_builder_strdup(L->b, name);
            xmlNode *inner = first_child_el(c);
            if (inner) {
                /* camunda:script / camunda:list / camunda:map values */
                if (is_el(inner, BATON_CAMUNDA_NS, "script")) {
                    const char *fmt = attr(L, inner, "scriptFormat");
                    if (fmt && strcasecmp(fmt, "feel") == 0)
                        expr_slot(L, &m->source, text_of(L, inner), line_of(inner), id,
                                  BATON_EXPR_MODE_FEEL);
                    else
                        baton_parser_unexecutable(
                            L, line_of(inner), id,
                            "camunda:%s '%s' uses a %s script, which the engine cannot run",
                            c->name, name ? name : "", fmt ? fmt : "unnamed-language");
                } else {
                    baton_parser_unexecutable(
                        L, line_of(inner), id,
                        "camunda:%s '%s': camunda:%s values are not supported", c->name,
                        name ? name : "", inner->name);
                }
            } else {
                expr_slot(L, &m->source, text_of(L, c), line_of(c), id, BATON_EXPR_MODE_AUTO);
            }
        }
    }
    io->n_inputs = ki;
    io->n_outputs = ko;
    io->inputs = ins;
    io->outputs = outs;
    baton_builder_node(L->b, ni)->io = io;
}

static void fill_loop(loader *L, baton_idx ni, xmlNode *xn) {
    const char *id = baton_builder_node(L->b, ni)->id;
    xmlNode *mi = bpmn_child(xn, "multiInstanceLoopCharacteristics");
    xmlNode *sl = bpmn_child(xn, "standardLoopCharacteristics");
    if (!mi && !sl)
        return;
    baton_loop_def *lp = baton_builder_alloc(L->b, sizeof *lp);
    if (!lp)
        return;
    if (sl) {
        lp->test_before = attr_bool(L, sl, NULL, "testBefore", false);
        const char *max = attr(L, sl, "loopMaximum");
        expr_slot(L, &lp->loop_maximum, max, line_of(sl), id, BATON_EXPR_MODE_AUTO);
        xmlNode *cond = bpmn_child(sl, "loopCondition");
        if (cond)
            cond_slot(L, &lp->loop_condition, cond, id);
    } else {
        lp->multi_instance = true;
        lp->sequential = attr_bool(L, mi, NULL, "isSequential", false);
        xmlNode *card = bpmn_child(mi, "loopCardinality");
        if (card)
            expr_slot(L, &lp->cardinality, text_of(L, card), line_of(card), id,
                      BATON_EXPR_MODE_AUTO);
        xmlNode *cc = bpmn_child(mi, "completionCondition");
        if (cc)
            cond_slot(L, &lp->completion, cc, id);
        /* BPMN standard: data references name process variables */
        xmlNode *din = bpmn_child(mi, "loopDataInputRef");
        if (din) {
            const char *var = text_of(L, din);
            if (var && *var)
                expr_slot(L, &lp->collection, var, line_of(din), id,
                          is_identifier(var) ? BATON_EXPR_MODE_FEEL : BATON_EXPR_MODE_AUTO);
        }
        xmlNode *dout = bpmn_child(mi, "loopDataOutputRef");
        if (dout)
            lp->output_collection = text_of(L, dout);
        xmlNode *item = bpmn_child(mi, "inputDataItem");
        if (item) {
            const char *nm = attr(L, item, "name");
            lp->element_var =
                baton_builder_strdup(L->b, is_identifier(nm) ? nm : attr(L, item, "id"));
        }
        xmlNode *oitem = bpmn_child(mi, "outputDataItem");
        if (oitem) {
            const char *nm = attr(L, oitem, "name");
            const char *var = is_identifier(nm) ? nm : attr(L, oitem, "id");
            if (var)
                expr_slot(L, &lp->output_element, var, line_of(oitem), id, BATON_EXPR_MODE_FEEL);
        }
        /* Camunda 7 */
        const char *coll = attr_ns(L, mi, BATON_CAMUNDA_NS, "collection");
        if (coll) {
            L->uses_camunda = true;
            expr_slot(L, &lp->collection, coll, line_of(mi), id,
                      is_identifier(coll) ? BATON_EXPR_MODE_FEEL : BATON_EXPR_MODE_AUTO);
        }
        const char *ev = attr_ns(L, mi, BATON_CAMUNDA_NS, "elementVariable");
        if (ev) {
            L->uses_camunda = true;
            lp->element_var = baton_builder_strdup(L->b, ev);
        }
        /* Camunda 8 */
        xmlNode *zl = ext_child(mi, BATON_ZEEBE_NS, "loopCharacteristics");
        if (zl) {
            L->uses_zeebe = true;
            expr_slot(L, &lp->collection, attr(L, zl, "inputCollection"), line_of(zl), id,
                      BATON_EXPR_MODE_AUTO);
            const char *ie = attr(L, zl, "inputElement");
            if (ie)
                lp->element_var = baton_builder_strdup(L->b, ie);
            const char *oc = attr(L, zl, "outputCollection");
            if (oc)
                lp->output_collection = baton_builder_strdup(L->b, oc);
            expr_slot(L, &lp->output_element, attr(L, zl, "outputElement"), line_of(zl), id,
                      BATON_EXPR_MODE_AUTO);
        }
        if (!lp->cardinality.text && !lp->collection.text)
            EXEC_ERR(L, line_of(mi), id,
                     "multi-instance activity has neither loopCardinality nor an input collection");
    }
    baton_builder_node(L->b, ni)->loop = lp;
}

static baton_task_def *task_def(loader *L, baton_idx ni) {
    baton_node *n = baton_builder_node(L->b, ni);
    if (!n->task)
        n->task = baton_builder_alloc(L->b, sizeof(baton_task_def));
    return (baton_task_def *)n->task;
}

/*
 * Camunda 7 implementation of a service-like element, read from `holder`:
 * the task itself, or the messageEventDefinition of a message throw event.
 * camunda:type="external" with a topic is a job; Java classes, expressions
 * and connectors cannot run here and are reported as such.
 */
static void fill_c7_impl(loader *L, baton_idx ni, xmlNode *holder) {
    static const struct {
        const char *attr;
        baton_impl impl;
        const char *what;
    } java[] = {
        {"class", BATON_IMPL_JAVA_CLASS, "a Java class"},
        {"expression", BATON_IMPL_JAVA_EXPR, "a Java expression"},
        {"delegateExpression", BATON_IMPL_JAVA_EXPR, "a Java delegate expression"},
    };
    const char *id = baton_builder_node(L->b, ni)->id;
    uint32_t line = line_of(holder);
    const char *type = attr_ns(L, holder, BATON_CAMUNDA_NS, "type");
    if (type) {
        L->uses_camunda = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        if (strcmp(type, "external") == 0) {
            t->impl = BATON_IMPL_JOB;
            expr_slot(L, &t->job_type, attr_ns(L, holder, BATON_CAMUNDA_NS, "topic"), line, id,
                      BATON_EXPR_MODE_AUTO);
            if (!t->job_type.text)
                EXEC_ERR(L, line, id, "camunda:type=\"external\" needs a camunda:topic");
        } else {
            t->impl_detail = baton_builder_strdup(L->b, type); /* known, just not runnable */
            baton_parser_unexecutable(
                L, line, id, "camunda:type=\"%s\" is not supported (only \"external\")", type);
        }
        return;
    }
    for (size_t i = 0; i < sizeof java / sizeof *java; i++) {
        const char *v = attr_ns(L, holder, BATON_CAMUNDA_NS, java[i].attr);
        if (!v)
            continue;
        L->uses_camunda = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->impl = (uint8_t)java[i].impl;
        t->impl_detail = baton_builder_strdup(L->b, v);
        baton_parser_unexecutable(L, line, id,
                                  "camunda:%s=\"%s\" is %s, which the engine cannot execute; "
                                  "use camunda:type=\"external\" with a camunda:topic",
                                  java[i].attr, v, java[i].what);
        return;
    }
    if (ext_child(holder, BATON_CAMUNDA_NS, "connector")) {
        L->uses_camunda = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->impl = BATON_IMPL_CONNECTOR;
        baton_parser_unexecutable(L, line, id,
                                  "camunda:connector is not supported; use an external task");
    }
}

static void fill_task(loader *L, baton_idx ni, xmlNode *xn) {
    baton_node *n = baton_builder_node(L->b, ni);
    baton_node_kind kind = n->kind;
    const char *id = n->id;
    uint32_t line = n->line;

    /* Camunda 8: job worker tasks */
    xmlNode *td = ext_child(xn, BATON_ZEEBE_NS, "taskDefinition");
    if (td) {
        L->uses_zeebe = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->impl = BATON_IMPL_JOB;
        expr_slot(L, &t->job_type, attr(L, td, "type"), line_of(td), id, BATON_EXPR_MODE_AUTO);
        expr_slot(L, &t->retries, attr(L, td, "retries"), line_of(td), id, BATON_EXPR_MODE_AUTO);
    }
    xmlNode *th = ext_child(xn, BATON_ZEEBE_NS, "taskHeaders");
    if (th) {
        baton_task_def *t = task_def(L, ni);
        uint32_t nh = 0;
        FOR_EACH_CHILD(h, th) {
            nh += is_el(h, BATON_ZEEBE_NS, "header");
        }
        baton_header *hs = nh ? baton_builder_alloc(L->b, nh * sizeof *hs) : NULL;
        if (!t || (nh && !hs))
            return;
        uint32_t k = 0;
        FOR_EACH_CHILD(h, th) {
            if (k == nh || !is_el(h, BATON_ZEEBE_NS, "header"))
                continue; /* k == nh never: these are the children counted above */
            hs[k].key = baton_builder_strdup(L->b, attr(L, h, "key"));
            hs[k].value = baton_builder_strdup(L->b, attr(L, h, "value"));
            k++;
        }
        t->n_headers = k;
        t->headers = hs;
    }
    xmlNode *zs = ext_child(xn, BATON_ZEEBE_NS, "script");
    if (zs) {
        L->uses_zeebe = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->impl = BATON_IMPL_SCRIPT;
        t->script_format = "feel";
        expr_slot(L, &t->script, attr(L, zs, "expression"), line_of(zs), id, BATON_EXPR_MODE_AUTO);
        t->result_variable = baton_builder_strdup(L->b, attr(L, zs, "resultVariable"));
    }
    xmlNode *cd = ext_child(xn, BATON_ZEEBE_NS, "calledDecision");
    if (cd) {
        L->uses_zeebe = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->impl = BATON_IMPL_DECISION;
        t->decision_id = baton_builder_strdup(L->b, attr(L, cd, "decisionId"));
        t->result_variable = baton_builder_strdup(L->b, attr(L, cd, "resultVariable"));
        baton_parser_unexecutable(L, line_of(cd), id,
                                  "DMN decision '%s' cannot be evaluated (no DMN engine)",
                                  t->decision_id ? t->decision_id : "");
    }
    xmlNode *ad = ext_child(xn, BATON_ZEEBE_NS, "assignmentDefinition");
    if (ad) {
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        expr_slot(L, &t->assignee, attr(L, ad, "assignee"), line_of(ad), id, BATON_EXPR_MODE_AUTO);
        expr_slot(L, &t->candidate_groups, attr(L, ad, "candidateGroups"), line_of(ad), id,
                  BATON_EXPR_MODE_AUTO);
        expr_slot(L, &t->candidate_users, attr(L, ad, "candidateUsers"), line_of(ad), id,
                  BATON_EXPR_MODE_AUTO);
    }
    xmlNode *sched = ext_child(xn, BATON_ZEEBE_NS, "taskSchedule");
    if (sched) {
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        expr_slot(L, &t->due_date, attr(L, sched, "dueDate"), line_of(sched), id,
                  BATON_EXPR_MODE_AUTO);
        expr_slot(L, &t->follow_up_date, attr(L, sched, "followUpDate"), line_of(sched), id,
                  BATON_EXPR_MODE_AUTO);
    }
    xmlNode *fd = ext_child(xn, BATON_ZEEBE_NS, "formDefinition");
    if (fd) {
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        const char *fk = attr(L, fd, "formKey");
        t->form_key = baton_builder_strdup(L->b, fk ? fk : attr(L, fd, "formId"));
    }
    if (ext_child(xn, BATON_ZEEBE_NS, "userTask"))
        L->uses_zeebe = true;

    /* Camunda 7 */
    if (kind == BATON_NODE_SERVICE_TASK || kind == BATON_NODE_SEND_TASK ||
        kind == BATON_NODE_BUSINESS_RULE_TASK) {
        fill_c7_impl(L, ni, xn);
    } else if (kind == BATON_NODE_THROW_EVENT || kind == BATON_NODE_END_EVENT) {
        xmlNode *md = bpmn_child(xn, "messageEventDefinition");
        if (md)
            fill_c7_impl(L, ni, md);
    }
    const char *dref = attr_ns(L, xn, BATON_CAMUNDA_NS, "decisionRef");
    if (dref) {
        L->uses_camunda = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->impl = BATON_IMPL_DECISION;
        t->decision_id = baton_builder_strdup(L->b, dref);
        baton_parser_unexecutable(L, line, id,
                                  "DMN decision '%s' cannot be evaluated (no DMN engine)", dref);
    }
    static const struct {
        const char *attr;
        size_t off;
    } c7_user[] = {
        {"assignee", offsetof(baton_task_def, assignee)},
        {"candidateGroups", offsetof(baton_task_def, candidate_groups)},
        {"candidateUsers", offsetof(baton_task_def, candidate_users)},
        {"dueDate", offsetof(baton_task_def, due_date)},
        {"followUpDate", offsetof(baton_task_def, follow_up_date)},
    };
    for (size_t i = 0; i < sizeof c7_user / sizeof *c7_user; i++) {
        const char *v = attr_ns(L, xn, BATON_CAMUNDA_NS, c7_user[i].attr);
        if (!v)
            continue;
        L->uses_camunda = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        expr_slot(L, (baton_slot *)((char *)t + c7_user[i].off), v, line, id, BATON_EXPR_MODE_AUTO);
    }
    const char *fk = attr_ns(L, xn, BATON_CAMUNDA_NS, "formKey");
    if (fk) {
        L->uses_camunda = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->form_key = baton_builder_strdup(L->b, fk);
    }
    xmlNode *rc = ext_child(xn, BATON_CAMUNDA_NS, "failedJobRetryTimeCycle");
    if (rc) {
        L->uses_camunda = true;
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->retry_cycle = text_of(L, rc);
    }
    const char *rv = attr_ns(L, xn, BATON_CAMUNDA_NS, "resultVariable");
    if (rv) {
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        t->result_variable = baton_builder_strdup(L->b, rv);
    }

    /* BPMN script tasks: <script> with scriptFormat */
    const baton_task_def *impl = baton_builder_node(L->b, ni)->task;
    if (kind == BATON_NODE_SCRIPT_TASK && !zs && !(impl && impl->impl == BATON_IMPL_JOB)) {
        baton_task_def *t = task_def(L, ni);
        if (!t)
            return;
        const char *fmt = attr(L, xn, "scriptFormat");
        xmlNode *sc = bpmn_child(xn, "script");
        const char *body = sc ? text_of(L, sc) : NULL;
        t->script_format = baton_builder_strdup(L->b, fmt);
        t->impl = BATON_IMPL_SCRIPT;
        uint32_t sline = sc ? line_of(sc) : line;
        if (body && body[0] == '=') {
            expr_slot(L, &t->script, body, sline, id, BATON_EXPR_MODE_AUTO);
        } else if (fmt && lang_is(fmt, "feel")) {
            expr_slot(L, &t->script, body, sline, id, BATON_EXPR_MODE_FEEL);
        } else if (fmt && lang_is(fmt, "juel")) {
            /* Camunda 7 evaluates a JUEL "script" as one expression: its value is the result */
            expr_slot(L, &t->script, body, sline, id, BATON_EXPR_MODE_JUEL);
        } else {
            /* keep the text so a test harness can show what it stubs */
            t->script.text = body;
            t->script.line = sc ? line_of(sc) : line;
            baton_parser_unexecutable(L, line, id,
                                      "script in language '%s' cannot be executed; write it "
                                      "in FEEL (scriptFormat=\"feel\" or zeebe:script) or JUEL",
                                      fmt && *fmt ? fmt : "unspecified");
        }
        if (!t->result_variable)
            t->result_variable = baton_builder_strdup(L->b, attr(L, xn, "resultVariable"));
    }
}

static void fill_call(loader *L, baton_idx ni, xmlNode *xn) {
    const char *id = baton_builder_node(L->b, ni)->id;
    baton_call_def *cd = baton_builder_alloc(L->b, sizeof *cd);
    if (!cd)
        return;
    cd->propagate_all_child = true;
    cd->propagate_all_parent = true;
    const char *called = attr(L, xn, "calledElement");
    uint32_t line = line_of(xn);
    xmlNode *zc = ext_child(xn, BATON_ZEEBE_NS, "calledElement");
    if (zc) {
        L->uses_zeebe = true;
        called = attr(L, zc, "processId");
        line = line_of(zc);
        cd->propagate_all_child = attr_bool(L, zc, NULL, "propagateAllChildVariables", true);
        cd->propagate_all_parent = attr_bool(L, zc, NULL, "propagateAllParentVariables", true);
    }
    expr_slot(L, &cd->called_element, called, line, id, BATON_EXPR_MODE_AUTO);

    /* camunda:in / camunda:out */
    uint32_t nin = 0, nout = 0;
    bool c7 = false;
    FOR_EACH_CHILD(c, xn) {
        if (!is_bpmn(c, "extensionElements"))
            continue;
        FOR_EACH_CHILD(e, c) {
            if (is_el(e, BATON_CAMUNDA_NS, "in")) {
                nin++;
                c7 = true;
            } else if (is_el(e, BATON_CAMUNDA_NS, "out")) {
                nout++;
                c7 = true;
            }
        }
    }
    if (c7) {
        L->uses_camunda = true;
        /* in Camunda 7 nothing is passed unless mapped */
        cd->propagate_all_child = false;
        cd->propagate_all_parent = false;
        baton_mapping *ins = nin ? baton_builder_alloc(L->b, nin * sizeof *ins) : NULL;
        baton_mapping *outs = nout ? baton_builder_alloc(L->b, nout * sizeof *outs) : NULL;
        uint32_t ki = 0, ko = 0;
        FOR_EACH_CHILD(c, xn) {
            if (!is_bpmn(c, "extensionElements"))
                continue;
            FOR_EACH_CHILD(e, c) {
                bool is_in = is_el(e, BATON_CAMUNDA_NS, "in");
                if (!is_in && !is_el(e, BATON_CAMUNDA_NS, "out"))
                    continue;
                const char *bk = attr(L, e, "businessKey");
                if (is_in && bk) {
                    expr_slot(L, &cd->business_key, bk, line_of(e), id, BATON_EXPR_MODE_AUTO);
                    nin--;
                    continue;
                }
                baton_mapping *m = is_in ? (ins ? &ins[ki++] : NULL) : (outs ? &outs[ko++] : NULL);
                if (!m)
                    continue;
                const char *vars = attr(L, e, "variables");
                m->all = vars && strcmp(vars, "all") == 0;
                m->local = attr_bool(L, e, NULL, "local", false);
                if (m->all) {
                    if (is_in)
                        cd->propagate_all_parent = true;
                    else
                        cd->propagate_all_child = true;
                    continue;
                }
                const char *src = attr(L, e, "source");
                const char *srcx = attr(L, e, "sourceExpression");
                const char *target = attr(L, e, "target");
                if (!target || (!src && !srcx))
                    EXEC_ERR(L, line_of(e), id,
                             "camunda:%s needs source or sourceExpression, and target", e->name);
                m->target = baton_builder_strdup(L->b, target);
                if (srcx)
                    expr_slot(L, &m->source, srcx, line_of(e), id, BATON_EXPR_MODE_AUTO);
                else if (src)
                    expr_slot(L, &m->source, src, line_of(e), id,
                              is_identifier(src) ? BATON_EXPR_MODE_FEEL : BATON_EXPR_MODE_AUTO);
            }
        }
        cd->in = ins;
        cd->out = outs;
        cd->n_in = ki;
        cd->n_out = ko;
    }
    baton_builder_node(L->b, ni)->call = cd;
}

static void fill_node(loader *L, baton_idx ni, xmlNode *xn) {
    baton_node *n = baton_builder_node(L->b, ni);
    const char *id = n->id;
    uint32_t line = n->line;
    baton_node_kind kind = n->kind;
    unsigned kf = baton_node_kind_flags(kind);
    const baton_process *proc = baton_builder_process(L->b, n->process);
    L->exec = proc && proc->executable;
    n->name = baton_builder_strdup(L->b, attr(L, xn, "name"));

    const char *dflt = attr(L, xn, "default");
    if (dflt) {
        baton_idx f =
            resolve_ref(L, baton_builder_find_flow, dflt, line, id, "default", "sequence flow");
        baton_builder_node(L->b, ni)->default_flow = f;
    }
    if (attr_bool(L, xn, NULL, "isForCompensation", false))
        baton_builder_node(L->b, ni)->flags |= BATON_NF_FOR_COMPENSATION;

    if (kf & BATON_KF_EVENT) {
        fill_events(L, ni, xn);
        n = baton_builder_node(L->b, ni);
        if (kind == BATON_NODE_BOUNDARY_EVENT) {
            const char *at = attr(L, xn, "attachedToRef");
            if (!at)
                DIAG_ERR(L, line, id, "boundary event has no attachedToRef");
            n->attached_to =
                resolve_ref(L, baton_builder_find_node, at, line, id, "attachedToRef", "activity");
            if (attr_bool(L, xn, NULL, "cancelActivity", true))
                n->flags |= BATON_NF_INTERRUPTING;
        } else if (kind == BATON_NODE_START_EVENT) {
            if (attr_bool(L, xn, NULL, "isInterrupting", true))
                n->flags |= BATON_NF_INTERRUPTING;
        }
        if (attr_bool(L, xn, NULL, "parallelMultiple", false))
            n->flags |= BATON_NF_PARALLEL_MULTIPLE;
    }
    if (kind == BATON_NODE_EVENT_BASED_GATEWAY && attr_bool(L, xn, NULL, "instantiate", false))
        baton_builder_node(L->b, ni)->flags |= BATON_NF_INSTANTIATE;
    if (kind == BATON_NODE_COMPLEX_GATEWAY) {
        xmlNode *ac = bpmn_child(xn, "activationCondition");
        if (ac) {
            baton_slot s = {0};
            cond_slot(L, &s, ac, id);
            baton_builder_node(L->b, ni)->activation = s;
        }
    }
    if (kind == BATON_NODE_SEND_TASK || kind == BATON_NODE_RECEIVE_TASK) {
        const char *mref = attr(L, xn, "messageRef");
        baton_idx m =
            resolve_ref(L, baton_builder_find_message, mref, line, id, "messageRef", "message");
        n = baton_builder_node(L->b, ni);
        n->message = m;
        if (kind == BATON_NODE_RECEIVE_TASK && attr_bool(L, xn, NULL, "instantiate", false))
            n->flags |= BATON_NF_INSTANTIATE;
    }
    if (kf & (BATON_KF_TASK | BATON_KF_EVENT))
        fill_task(L, ni, xn);
    if (kind == BATON_NODE_CALL_ACTIVITY)
        fill_call(L, ni, xn);
    if (kf & BATON_KF_ACTIVITY)
        fill_loop(L, ni, xn);
    fill_io(L, ni, xn);
    if (kind == BATON_NODE_AD_HOC_SUB_PROCESS)
        baton_parser_unexecutable(L, line, id, "ad-hoc subprocesses are not supported");
    /* Camunda 7 asynchronous continuations, on any flow node */
    if (attr_bool(L, xn, BATON_CAMUNDA_NS, "asyncBefore", false) ||
        attr_bool(L, xn, BATON_CAMUNDA_NS, "async", false)) {
        L->uses_camunda = true;
        baton_builder_node(L->b, ni)->flags |= BATON_NF_ASYNC_BEFORE;
    }
    if (attr_bool(L, xn, BATON_CAMUNDA_NS, "asyncAfter", false)) {
        L->uses_camunda = true;
        baton_builder_node(L->b, ni)->flags |= BATON_NF_ASYNC_AFTER;
    }
    FOR_EACH_CHILD(c, xn) {
        if (!L->exec || !is_bpmn(c, "extensionElements"))
            continue;
        FOR_EACH_CHILD(e, c) {
            if (is_el(e, BATON_CAMUNDA_NS, "executionListener") ||
                is_el(e, BATON_CAMUNDA_NS, "taskListener")) {
                L->uses_camunda = true;
                DIAG_WARN(L, line_of(e), id,
                          "camunda:%s is ignored (Java/script listeners "
                          "do not run in Baton)",
                          e->name);
            } else if (is_el(e, BATON_ZEEBE_NS, "executionListeners") ||
                       is_el(e, BATON_ZEEBE_NS, "taskListeners")) {
                L->uses_zeebe = true;
                DIAG_WARN(L, line_of(e), id, "zeebe:%s is ignored", e->name);
            }
        }
    }
}

static const char *scope_label(loader *L, baton_idx si, char *buf, size_t cap) {
    const baton_scope *sc = baton_builder_scope(L->b, si);
    if (!sc || sc->node == BATON_NONE) {
        const baton_process *p = sc ? baton_builder_process(L->b, sc->process) : NULL;
        snprintf(buf, cap, "process '%s'", p ? p->id : "?");
    } else {
        const baton_node *n = baton_builder_node(L->b, sc->node);
        snprintf(buf, cap, "%s '%s'",
                 n->kind == BATON_NODE_TRANSACTION ? "transaction" : "subprocess", n->id);
    }
    return buf;
}

static bool scope_within(loader *L, baton_idx inner, baton_idx outer) {
    for (baton_idx s = inner; s != BATON_NONE; s = baton_builder_scope(L->b, s)->parent)
        if (s == outer)
            return true;
    return false;
}

static void fill_flow(loader *L, baton_idx fi, xmlNode *xn) {
    baton_flow *f = baton_builder_flow(L->b, fi);
    const char *id = f->id;
    uint32_t line = f->line;
    const baton_process *proc =
        baton_builder_process(L->b, baton_builder_scope(L->b, f->scope)->process);
    L->exec = proc && proc->executable;
    const char *src = attr(L, xn, "sourceRef");
    const char *dst = attr(L, xn, "targetRef");
    if (!src)
        DIAG_ERR(L, line, id, "sequence flow has no sourceRef");
    if (!dst)
        DIAG_ERR(L, line, id, "sequence flow has no targetRef");
    baton_idx s = resolve_ref(L, baton_builder_find_node, src, line, id, "sourceRef", "flow node");
    baton_idx t = resolve_ref(L, baton_builder_find_node, dst, line, id, "targetRef", "flow node");
    const char *name = attr(L, xn, "name");
    xmlNode *cond = bpmn_child(xn, "conditionExpression");
    baton_slot cs = {0};
    if (cond)
        cond_slot(L, &cs, cond, id);
    f = baton_builder_flow(L->b, fi);
    f->source = s;
    f->target = t;
    f->name = baton_builder_strdup(L->b, name);
    f->condition = cs;
    /*
     * Some tools write a subprocess's inner flows beside the subprocess
     * instead of inside it. When both ends sit in one scope nested in the
     * flow's own, the intent is plain: the flow belongs there.
     */
    if (s != BATON_NONE && t != BATON_NONE) {
        baton_idx ss = baton_builder_node(L->b, s)->scope;
        if (ss == baton_builder_node(L->b, t)->scope && ss != f->scope &&
            scope_within(L, ss, f->scope)) {
            char a[160], b[160];
            DIAG_WARN(L, line, id,
                      "sequence flow is written in %s but connects elements of %s; read as "
                      "part of it",
                      scope_label(L, f->scope, a, sizeof a), scope_label(L, ss, b, sizeof b));
            f->scope = ss;
        }
    }
}

/* Compensation: association from a compensation boundary event to its handler. */
static void fill_associations(loader *L) {
    for (uint32_t i = 0; i < L->n_assoc; i++) {
        xmlNode *a = L->assoc_xml[i];
        baton_idx s = resolve(L, baton_builder_find_node, attr(L, a, "sourceRef"));
        baton_idx t = resolve(L, baton_builder_find_node, attr(L, a, "targetRef"));
        if (s == BATON_NONE || t == BATON_NONE)
            continue;
        baton_node *sn = baton_builder_node(L->b, s);
        if (sn->kind != BATON_NODE_BOUNDARY_EVENT || !sn->n_events ||
            sn->events[0].kind != BATON_EVENT_COMPENSATION)
            continue;
        sn->compensation = t;
        baton_builder_node(L->b, t)->flags |= BATON_NF_COMPENSATION_HANDLER;
    }
}

/* ---- dialect ------------------------------------------------------------ */

static void detect_dialect(loader *L, xmlNode *root) {
    for (xmlNs *ns = root->nsDef; ns; ns = ns->next) {
        if (!ns->href)
            continue;
        if (strcmp((const char *)ns->href, BATON_ZEEBE_NS) == 0)
            L->declares_zeebe = true;
        else if (strcmp((const char *)ns->href, BATON_CAMUNDA_NS) == 0)
            L->declares_camunda = true; /* not Activiti's: its designers declare it always */
    }
    const char *platform = attr_ns(L, root, BATON_MODELER_NS, "executionPlatform");
    baton_dialect d = BATON_DIALECT_GENERIC;
    if (platform && strcmp(platform, "Camunda Cloud") == 0)
        d = BATON_DIALECT_C8;
    else if (platform && strcmp(platform, "Camunda Platform") == 0)
        d = BATON_DIALECT_C7;
    else if (L->uses_zeebe && !L->uses_camunda)
        d = BATON_DIALECT_C8;
    else if (L->uses_camunda && !L->uses_zeebe)
        d = BATON_DIALECT_C7;
    else if (!L->uses_zeebe && !L->uses_camunda)
        d = L->declares_camunda && !L->declares_zeebe   ? BATON_DIALECT_C7
            : L->declares_zeebe && !L->declares_camunda ? BATON_DIALECT_C8
                                                        : BATON_DIALECT_GENERIC;
    else
        d = BATON_DIALECT_C8; /* both used: zeebe is the newer dialect */
    baton_builder_graph(L->b)->dialect = (uint8_t)d;
}

/* ---- XML parsing ------------------------------------------------------- */

/*
 * State of one libxml2 parse. The SAX hooks below see every element start
 * before libxml2 builds its node, so the bounds on depth and element count
 * stop a hostile document before it can grow the DOM, and a DOCTYPE stops
 * the parse before any entity or DTD is even declared.
 */
typedef struct xml_guard {
    uint32_t max_depth, max_elements;
    uint32_t depth, elements;
    bool doctype, too_deep, too_many;
    int line; /* where the parse was stopped */
    /* the first error: libxml2 recovers and goes on, so its last one is often a consequence */
    bool have_first;
    int first_code, first_line, first_col;
    char first_msg[BATON_ERROR_MSG_MAX];
    char generic[BATON_ERROR_MSG_MAX]; /* what libxml2 said on its generic channel */
    /*
     * Depth inside a subtree nothing reads (the diagram interchange): its
     * elements are counted and bounded like any other but never built,
     * which spares about half the DOM of a modeller's file.
     */
    uint32_t skip;
    charactersSAXFunc characters, blanks; /* libxml2's own handlers */
} xml_guard;

static xml_guard *guard_of(void *ctx) {
    return ((xmlParserCtxtPtr)ctx)->_private;
}

static void stop_at(xmlParserCtxtPtr c, xml_guard *g) {
    g->line = c->input ? c->input->line : 0;
    xmlStopParser(c);
}

static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext,
                               const xmlChar *sys) {
    (void)name;
    (void)ext;
    (void)sys;
    xml_guard *g = guard_of(ctx);
    g->doctype = true;
    stop_at(ctx, g);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
                           const xmlChar *sys, xmlChar *content) {
    (void)name;
    (void)type;
    (void)pub;
    (void)sys;
    (void)content;
    xml_guard *g = guard_of(ctx);
    g->doctype = true;
    stop_at(ctx, g);
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes) {
    xml_guard *g = guard_of(ctx);
    if (++g->depth > g->max_depth) {
        g->too_deep = true;
        stop_at(ctx, g);
        return;
    }
    if (++g->elements > g->max_elements) {
        g->too_many = true;
        stop_at(ctx, g);
        return;
    }
    if (g->skip) {
        g->skip++;
        return;
    }
    if (uri && strcmp((const char *)uri, BATON_BPMNDI_NS) == 0 &&
        strcmp((const char *)localname, "BPMNDiagram") == 0) {
        g->skip = 1;
        return;
    }
    /*
     * The parser stands at the end of the start tag; walk back to its '<'
     * (a start tag holds no other '<': attribute values must escape it)
     * counting newlines, so a tag spread over lines gets its first line.
     */
    xmlParserCtxtPtr c = ctx;
    int line = c->input ? c->input->line : 0;
    if (c->input && c->input->base && c->input->cur) {
        const xmlChar *p = c->input->cur;
        int nl = 0;
        while (p > c->input->base && *p != '<') {
            nl += *p == '\n';
            p--;
        }
        if (*p == '<' && nl < line)
            line -= nl;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
    /* only the node just made has no line yet (on failure c->node is the parent) */
    if (c->node && c->node->type == XML_ELEMENT_NODE && !c->node->_private && line > 0)
        c->node->_private = (void *)(uintptr_t)line;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri) {
    xml_guard *g = guard_of(ctx);
    if (g->depth)
        g->depth--;
    if (g->skip) {
        g->skip--;
        return;
    }
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

static void on_characters(void *ctx, const xmlChar *ch, int len) {
    xml_guard *g = guard_of(ctx);
    if (!g->skip && g->characters)
        g->characters(ctx, ch, len);
}

static void on_blanks(void *ctx, const xmlChar *ch, int len) {
    xml_guard *g = guard_of(ctx);
    if (!g->skip && g->blanks)
        g->blanks(ctx, ch, len);
}

/* Keep the first error; nothing is printed. */
static void on_xml_error(void *ctx, xmlErrorPtr e) {
    xml_guard *g = guard_of(ctx);
    if (!g || g->have_first || !e || e->level < XML_ERR_ERROR)
        return;
    g->have_first = true;
    g->first_code = e->code;
    g->first_line = e->line;
    g->first_col = e->int2;
    snprintf(g->first_msg, sizeof g->first_msg, "%s", e->message ? e->message : "");
}

/*
 * libxml2's message as one line: newlines folded, the trailing " !" and
 * spaces dropped, the first letter lowered so it reads like the rest.
 */
static void xml_message(const char *in, char *out, size_t cap) {
    size_t n = 0;
    bool space = false;
    for (const char *p = in ? in : ""; *p && n + 1 < cap; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap)
            out[n++] = ' ';
        space = false;
        out[n++] = *p;
    }
    while (n && (out[n - 1] == '!' || out[n - 1] == ' '))
        n--;
    out[n] = '\0';
    /* "Opening and ..." reads better lowered; "AttValue: ..." names a production: keep it */
    bool word = n > 1 && isupper((unsigned char)out[0]);
    for (size_t i = 1; word && i < n && out[i] != ' '; i++)
        word = !isupper((unsigned char)out[i]);
    if (word)
        out[0] = (char)tolower((unsigned char)out[0]);
}

/*
 * libxml2 reports encoding conversion errors through its generic channel,
 * which prints: collect that text instead (bounded) to name the cause.
 */
static void generic_error(void *ctx, const char *fmt, ...) BATON_PRINTF(2, 3);
static void generic_error(void *ctx, const char *fmt, ...) {
    xml_guard *g = ctx;
    size_t used = strlen(g->generic);
    if (used + 1 >= sizeof g->generic)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->generic + used, sizeof g->generic - used, fmt, ap);
    va_end(ap);
}

/* The encoding="..." of the XML declaration, for messages. */
static void declared_encoding(const char *xml, size_t len, char *out, size_t cap) {
    size_t n = len < 200 ? len : 200;
    for (size_t i = 0; i + 10 < n; i++) {
        if (memcmp(xml + i, "encoding=", 9) != 0)
            continue;
        char q = xml[i + 9];
        size_t k = 0;
        for (size_t j = i + 10; j < n && xml[j] != q && k + 1 < cap; j++)
            out[k++] = isprint((unsigned char)xml[j]) ? xml[j] : '?';
        out[k] = '\0';
        return;
    }
}

static baton_status parse_xml(loader *L, const char *xml, size_t len, xmlDocPtr *doc_out,
                              baton_error *err) {
    const char *file = L->file;
    if (len > INT32_MAX)
        return baton_error_set(err, BATON_LIMIT, "document too large");
    if (len == 0) {
        baton_error_set(err, BATON_PARSE, "the document is empty");
        baton_error_where(err, "%s", file);
        return BATON_PARSE;
    }
    xml_guard guard;
    memset(&guard, 0, sizeof guard);
    guard.max_depth = L->opts.max_depth;
    guard.max_elements = L->opts.max_elements;
    /* the channel is per thread in libxml2: collect it for this parse only */
    xmlGenericErrorFunc saved = xmlGenericError;
    void *saved_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(&guard, generic_error);
    xmlParserCtxtPtr ctxt = xmlCreateMemoryParserCtxt(xml, (int)len);
    if (!ctxt) {
        xmlSetGenericErrorFunc(saved_ctx, saved);
        return baton_error_set(err, BATON_NOMEM, "out of memory");
    }
    /*
     * No DTD loading and no entity substitution (neither option is given),
     * no network; blank text between elements is dropped (BPMN has no
     * mixed content that matters), CDATA becomes text. The options go in
     * first: they reset some of the handlers installed below.
     */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA | XML_PARSE_NOBLANKS);
    ctxt->_private = &guard;
    xmlSAXHandler *sax = ctxt->sax;
    sax->internalSubset = on_internal_subset;
    sax->entityDecl = on_entity_decl;
    sax->startElementNs = on_start;
    sax->endElementNs = on_end;
    guard.characters = sax->characters;
    guard.blanks = sax->ignorableWhitespace;
    sax->characters = on_characters;
    sax->cdataBlock = on_characters;
    sax->ignorableWhitespace = on_blanks;
    sax->comment = NULL; /* nothing reads comments or processing instructions */
    sax->processingInstruction = NULL;
    sax->serror = on_xml_error;
    sax->error = NULL;
    sax->warning = NULL;
    ctxt->vctxt.error = NULL;
    ctxt->vctxt.warning = NULL;
    xmlParseDocument(ctxt);
    xmlDocPtr doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    xmlSetGenericErrorFunc(saved_ctx, saved);
    baton_status st = BATON_OK;
    if (guard.doctype) {
        st = baton_error_set(err, BATON_PARSE,
                             "DOCTYPE declarations are not allowed (DTDs and entities are "
                             "disabled for safety)");
        baton_error_where(err, "%s:%d", file, guard.line);
    } else if (guard.too_deep) {
        st = baton_error_set(err, BATON_LIMIT, "elements nested deeper than %u levels",
                             guard.max_depth);
        baton_error_where(err, "%s:%d", file, guard.line);
    } else if (guard.too_many) {
        st = baton_error_set(err, BATON_LIMIT, "more than %u XML elements", guard.max_elements);
        baton_error_where(err, "%s:%d", file, guard.line);
    } else if (!doc || !ctxt->wellFormed) {
        const xmlError *last = &ctxt->lastError;
        int code = guard.have_first ? guard.first_code : last->code;
        int line = guard.have_first ? guard.first_line : last->line;
        int col = guard.have_first ? guard.first_col : last->int2;
        char msg[BATON_ERROR_MSG_MAX];
        xml_message(guard.have_first ? guard.first_msg : last->message, msg, sizeof msg);
        if (code == XML_ERR_NO_MEMORY) {
            st = baton_error_set(err, BATON_NOMEM, "out of memory while parsing XML");
        } else if (strstr(msg, "not proper UTF-8")) {
            const char *bytes = strstr(msg, "Bytes: ");
            st = baton_error_set(err, BATON_PARSE,
                                 "bytes that are not UTF-8 (%s) in a document read as UTF-8: "
                                 "declare its real encoding, e.g. <?xml version=\"1.0\" "
                                 "encoding=\"ISO-8859-1\"?>",
                                 bytes ? bytes + 7 : "?");
        } else if (strstr(guard.generic, "input conversion failed")) {
            const char *bytes = strstr(guard.generic, "bytes ");
            bytes = bytes ? bytes + 6 : "?";
            char enc[40] = "?";
            declared_encoding(xml, len, enc, sizeof enc);
            st = baton_error_set(err, BATON_PARSE,
                                 "bytes %.*s cannot be read as %s, the encoding the document "
                                 "declares",
                                 (int)strcspn(bytes, "\n"), bytes, enc);
        } else if (code == XML_ERR_DOCUMENT_EMPTY) {
            st = baton_error_set(err, BATON_PARSE, "the document is empty");
        } else {
            st = baton_error_set(err, BATON_PARSE, "malformed XML: %s",
                                 msg[0] ? msg : "not well-formed");
        }
        if (line > 0)
            baton_error_where(err, "%s:%d:%d", file, line, col);
        else
            baton_error_where(err, "%s", file);
    }
    if (st) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    *doc_out = doc;
    return st;
}

static void loader_fini(loader *L) {
    baton_builder_free(L->b);
    baton_strmap_free(L->ids);
    baton_free(L->node_xml);
    baton_free(L->flow_xml);
    baton_free(L->assoc_xml);
    baton_free(L->dangling);
}

baton_status baton_bpmn_load(const char *xml, size_t len, const baton_load_opts *opts,
                             baton_diags *diags, baton_model **out, baton_error *err) {
    loader L;
    memset(&L, 0, sizeof L);
    if (opts)
        L.opts = *opts;
    if (!L.opts.max_bytes)
        L.opts.max_bytes = BATON_BPMN_DEFAULT_MAX_BYTES;
    if (!L.opts.max_elements)
        L.opts.max_elements = BATON_BPMN_DEFAULT_MAX_ELEMENTS;
    if (!L.opts.max_depth)
        L.opts.max_depth = BATON_BPMN_DEFAULT_MAX_DEPTH;
    if (L.opts.max_depth > BATON_BPMN_MAX_DEPTH_CAP)
        L.opts.max_depth = BATON_BPMN_MAX_DEPTH_CAP;
    L.file = L.opts.name ? L.opts.name : "<input>";
    L.cur_node = BATON_NONE;
    L.diags = diags;
    baton_error_clear(&L.first_error);

    if (len > L.opts.max_bytes) {
        baton_error_set(err, BATON_LIMIT, "document is %zu bytes, more than the limit of %zu", len,
                        L.opts.max_bytes);
        baton_error_where(err, "%s", L.file);
        return BATON_LIMIT;
    }
    xmlDocPtr doc = NULL;
    baton_status st = parse_xml(&L, xml, len, &doc, err);
    if (st)
        return st;
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root) {
        xmlFreeDoc(doc);
        baton_error_set(err, BATON_PARSE, "document has no root element");
        baton_error_where(err, "%s", L.file);
        return BATON_PARSE;
    }
    if (!is_bpmn(root, "definitions")) {
        const char *ns = root->ns && root->ns->href ? (const char *)root->ns->href : "";
        baton_error_set(err, BATON_MODEL,
                        "root element is <%s> in namespace '%s'; expected BPMN 2.0 <definitions> "
                        "in namespace '%s'",
                        root->name, ns, BATON_BPMN_NS);
        baton_error_where(err, "%s:%u", L.file, line_of(root));
        baton_diags_add(diags, BATON_SEV_ERROR, line_of(root), 0, NULL, "%s", err->message);
        xmlFreeDoc(doc);
        return BATON_MODEL;
    }
    L.b = baton_builder_new(L.file, xml, len);
    L.ids = baton_strmap_new(256);
    if (!L.b || !L.ids) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
        goto done;
    }
    baton_graph *g = baton_builder_graph(L.b);
    g->definitions_id = baton_builder_strdup(L.b, attr(&L, root, "id"));
    g->target_namespace = baton_builder_strdup(L.b, attr(&L, root, "targetNamespace"));
    const char *exp = attr(&L, root, "exporter");
    const char *expv = attr(&L, root, "exporterVersion");
    if (exp) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s%s%s", exp, expv ? " " : "", expv ? expv : "");
        g->exporter = baton_builder_strdup(L.b, buf);
    }

    L.expr_language = attr(&L, root, "expressionLanguage");
    L.exec = true; /* definitions-level elements serve every process */
    declare_definitions(&L, root);
    if (!L.nomem)
        fill_correlation(&L, root);
    L.dangling = baton_calloc((size_t)L.node_cap + 1, 1); /* node_cap >= node count */
    if (!L.dangling)
        L.nomem = true;
    for (baton_idx i = 0; !L.nomem && baton_builder_node(L.b, i); i++) {
        L.cur_node = i;
        fill_node(&L, i, L.node_xml[i]);
    }
    L.cur_node = BATON_NONE;
    for (baton_idx i = 0; !L.nomem && baton_builder_flow(L.b, i); i++)
        fill_flow(&L, i, L.flow_xml[i]);
    if (!L.nomem)
        fill_associations(&L);
    detect_dialect(&L, root);
    if (L.nomem) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory while loading");
        goto done;
    }

    baton_model *m = NULL;
    st = baton_builder_finish(L.b, &m, err);
    L.b = NULL;
    if (st)
        goto done;
    L.exec = true; /* validation visits executable processes only */
    baton_parser_validate(&L, m);
    if (L.nomem || (diags && diags->out_of_memory)) {
        /* a diagnostics list cut short by memory would be a silent lie */
        baton_model_unref(m);
        st = baton_error_set(err, BATON_NOMEM, "out of memory while validating");
        goto done;
    }
    if (L.n_errors) {
        baton_model_unref(m);
        if (err && !err->code)
            *err = L.first_error;
        st = BATON_MODEL;
        goto done;
    }
    *out = m;
    st = BATON_OK;
done:
    loader_fini(&L);
    xmlFreeDoc(doc);
    if (diags)
        baton_diags_sort(diags);
    return st;
}

baton_status baton_bpmn_load_file(const char *path, const baton_load_opts *opts, baton_diags *diags,
                                  baton_model **out, baton_error *err) {
    baton_load_opts o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (!o.name)
        o.name = path;
    size_t max = o.max_bytes ? o.max_bytes : BATON_BPMN_DEFAULT_MAX_BYTES;
    FILE *f = fopen(path, "rb");
    if (!f) {
        baton_error_set(err, BATON_IO, "cannot open: %s", strerror(errno));
        baton_error_where(err, "%s", o.name);
        return BATON_IO;
    }
    baton_status st = BATON_OK;
    char *data = NULL;
    size_t len = 0, cap = 0;
    /* a regular file too large is refused before reading a byte of it */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max) {
        st = baton_error_set(err, BATON_LIMIT, "file is %llu bytes, more than the limit of %zu",
                             (unsigned long long)sb.st_size, max);
        baton_error_where(err, "%s", o.name);
        goto done;
    }
    /* anything else (pipes, growing files) is read up to one byte past the limit */
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                st = baton_error_set(err, BATON_LIMIT, "file is larger than the limit of %zu bytes",
                                     max);
                baton_error_where(err, "%s", o.name);
                goto done;
            }
            cap = cap ? cap * 2 : 65536;
            if (max < SIZE_MAX && cap > max + 1)
                cap = max + 1;
            char *d = baton_realloc(data, cap);
            if (!d) {
                st = baton_error_set(err, BATON_NOMEM, "out of memory reading the file");
                goto done;
            }
            data = d;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        st = baton_error_set(err, BATON_IO, "read error: %s", strerror(errno));
        baton_error_where(err, "%s", o.name);
        goto done;
    }
    st = baton_bpmn_load(data, len, &o, diags, out, err);
done:
    fclose(f);
    baton_free(data);
    return st;
}
