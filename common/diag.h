/*
 * diag.h - a bounded list of diagnostics (errors and warnings) with their
 * position, so a validator can report every problem of a file in one run
 * and the API can return them as `line`/`element`/`message` triples.
 */
#ifndef BATON_COMMON_DIAG_H
#define BATON_COMMON_DIAG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

typedef enum baton_severity {
    BATON_SEV_ERROR = 0,
    BATON_SEV_WARNING,
} baton_severity;

typedef struct baton_diag {
    uint8_t severity; /* baton_severity */
    uint32_t line;    /* 0 = unknown */
    uint32_t col;     /* 0 = unknown */
    char *element;    /* element id, NULL if none */
    char *message;
} baton_diag;

typedef struct baton_diags {
    baton_diag *items;
    uint32_t n, cap;
    uint32_t max; /* stop recording after this many (counts go on) */
    uint32_t n_errors, n_warnings;
    bool out_of_memory;
} baton_diags;

#define BATON_DIAGS_DEFAULT_MAX 1000

void baton_diags_init(baton_diags *d, uint32_t max);
void baton_diags_fini(baton_diags *d);
void baton_diags_clear(baton_diags *d);
/* Record one diagnostic; never fails (an allocation failure sets out_of_memory). */
void baton_diags_add(baton_diags *d, baton_severity sev, uint32_t line, uint32_t col,
                     const char *element, const char *fmt, ...) BATON_PRINTF(6, 7);
/* Order by line (stable), so output follows the file. */
void baton_diags_sort(baton_diags *d);
/*
 * Append one diagnostic as compiler-style text:
 * "FILE:LINE: element 'ID': message" (warnings say "warning: " before the message).
 */
baton_status baton_diag_format(const baton_diag *dg, const char *file, baton_buf *out);

#endif
