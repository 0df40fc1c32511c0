/*
 * bpmn.h - load BPMN 2.0 XML into a baton_model and validate it.
 *
 * The loader reads XML as modelling tools write it: elements are matched on
 * namespace URIs, never prefixes; Camunda 8 (zeebe:) and Camunda 7
 * (camunda:, also under the Activiti namespace as Camunda 7 reads it)
 * extensions are read, every other extension is skipped. It is
 * safe on hostile input: no network, no DTD, no entities beyond the five
 * predefined ones, and bounds on size, element count and nesting depth.
 *
 * Validation reports every problem of a file at once into a baton_diags
 * list (errors and warnings with line and element id); a model is produced
 * only when there is no error. A process is executable only with
 * isExecutable="true" (as Camunda reads it); other processes are drawings,
 * checked for structure but not for what running them would need.
 *
 * Threads: loads may run concurrently once libxml2 is initialised; a
 * program that loads from several threads calls xmlInitParser() first.
 */
#ifndef BATON_PARSER_BPMN_H
#define BATON_PARSER_BPMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/error.h"
#include "models/model.h"

#define BATON_BPMN_NS    "http://www.omg.org/spec/BPMN/20100524/MODEL"
#define BATON_BPMNDI_NS  "http://www.omg.org/spec/BPMN/20100524/DI"
#define BATON_ZEEBE_NS   "http://camunda.org/schema/zeebe/1.0"
#define BATON_CAMUNDA_NS "http://camunda.org/schema/1.0/bpmn"
#define BATON_MODELER_NS "http://camunda.org/schema/modeler/1.0"
/* Read as BATON_CAMUNDA_NS, as Camunda 7 does (it was forked from Activiti). */
#define BATON_ACTIVITI_NS "http://activiti.org/bpmn"
#define BATON_XSI_NS      "http://www.w3.org/2001/XMLSchema-instance"

#define BATON_BPMN_DEFAULT_MAX_BYTES    ((size_t)16 << 20)
#define BATON_BPMN_DEFAULT_MAX_ELEMENTS 1000000u
#define BATON_BPMN_DEFAULT_MAX_DEPTH    200u
/* libxml2 refuses deeper documents itself; larger max_depth values are clamped to this */
#define BATON_BPMN_MAX_DEPTH_CAP 256u

typedef struct baton_load_opts {
    const char *name;      /* file name used in messages and kept on the model */
    size_t max_bytes;      /* 0 = BATON_BPMN_DEFAULT_MAX_BYTES */
    uint32_t max_elements; /* 0 = default */
    uint32_t max_depth;    /* 0 = default */
    /*
     * Report constructs the engine cannot execute (Java delegates, script
     * languages other than FEEL, DMN, ...) as warnings instead of errors:
     * for test harnesses that stub those elements.
     */
    bool unexecutable_as_warnings;
} baton_load_opts;

/*
 * Parse and validate `xml[0..len)`. Diagnostics go to `diags` (may be NULL).
 * Returns BATON_OK with *out set (one reference) when the file has no error;
 * BATON_PARSE for XML that is not well-formed or hostile (position in err),
 * BATON_LIMIT for a bound exceeded, BATON_MODEL when validation found
 * errors (err holds the first, diags all of them).
 */
baton_status baton_bpmn_load(const char *xml, size_t len, const baton_load_opts *opts,
                             baton_diags *diags, baton_model **out, baton_error *err);

/* Read the file at `path` (bounded by max_bytes) and load it. */
baton_status baton_bpmn_load_file(const char *path, const baton_load_opts *opts, baton_diags *diags,
                                  baton_model **out, baton_error *err);

#endif
