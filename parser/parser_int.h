/*
 * parser_int.h - state shared by the loader (bpmn.c) and the validator
 * (validate.c). Internal to parser/.
 */
#ifndef BATON_PARSER_INT_H
#define BATON_PARSER_INT_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include <libxml/tree.h>

#include "common/diag.h"
#include "common/strmap.h"
#include "models/model.h"
#include "parser/bpmn.h"

typedef struct loader {
    baton_builder *b;
    baton_diags *diags;
    baton_load_opts opts;
    const char *file;
    baton_strmap *ids;  /* every id in the file -> line, for duplicate checks */
    xmlNode **node_xml; /* node index -> its element (pass 2) */
    uint32_t node_cap;
    xmlNode **flow_xml; /* flow index -> its element */
    uint32_t flow_cap;
    xmlNode **assoc_xml; /* association elements (compensation handlers) */
    uint32_t assoc_cap, n_assoc;
    uint32_t n_errors;
    /*
     * Nodes with a reference the loader already reported as dangling
     * (node index -> 1), so validation does not pile a second message on
     * the same cause ("no messageRef" after "messageRef 'x' refers to no
     * message"). cur_node is the node being filled, BATON_NONE otherwise.
     */
    uint8_t *dangling;
    baton_idx cur_node;
    const char *expr_language; /* definitions expressionLanguage, NULL if absent */
    /*
     * True while filling an element of an executable process (and during
     * validation, which only visits those): engine limitations and
     * execution-only checks are reported only then, since a process that is
     * not executable is a drawing.
     */
    bool exec;
    baton_error first_error; /* the error with the lowest line */
    uint32_t first_line;
    bool uses_zeebe, uses_camunda;         /* an extension of that dialect is used */
    bool declares_zeebe, declares_camunda; /* its namespace is declared on the root */
    bool nomem;
} loader;

void baton_parser_diag(loader *L, baton_severity sev, uint32_t line, const char *element,
                       const char *fmt, ...) BATON_PRINTF(5, 6);
void baton_parser_unexecutable(loader *L, uint32_t line, const char *element, const char *fmt, ...)
    BATON_PRINTF(4, 5);

/* Graph checks on a finished model (validate.c). */
void baton_parser_validate(loader *L, const baton_model *m);

#endif
