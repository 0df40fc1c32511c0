/* diag.c - bounded diagnostics list; see diag.h. */
#include "common/diag.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

void baton_diags_init(baton_diags *d, uint32_t max) {
    memset(d, 0, sizeof *d);
    d->max = max ? max : BATON_DIAGS_DEFAULT_MAX;
}

void baton_diags_clear(baton_diags *d) {
    for (uint32_t i = 0; i < d->n; i++) {
        baton_free(d->items[i].element);
        baton_free(d->items[i].message);
    }
    d->n = 0;
    d->n_errors = d->n_warnings = 0;
    d->out_of_memory = false;
}

void baton_diags_fini(baton_diags *d) {
    if (!d)
        return;
    baton_diags_clear(d);
    baton_free(d->items);
    d->items = NULL;
    d->cap = 0;
}

void baton_diags_add(baton_diags *d, baton_severity sev, uint32_t line, uint32_t col,
                     const char *element, const char *fmt, ...) {
    if (!d)
        return;
    if (sev == BATON_SEV_ERROR)
        d->n_errors++;
    else
        d->n_warnings++;
    if (d->n >= d->max)
        return;
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 16;
        baton_diag *items = baton_realloc(d->items, cap * sizeof *items);
        if (!items) {
            d->out_of_memory = true;
            return;
        }
        d->items = items;
        d->cap = cap;
    }
    char msg[BATON_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    baton_diag *dg = &d->items[d->n];
    dg->severity = (uint8_t)sev;
    dg->line = line;
    dg->col = col;
    dg->element = element ? baton_strdup(element) : NULL;
    dg->message = baton_strdup(msg);
    if (!dg->message || (element && !dg->element)) {
        baton_free(dg->element);
        baton_free(dg->message);
        d->out_of_memory = true;
        return;
    }
    d->n++;
}

void baton_diags_sort(baton_diags *d) {
    /* insertion sort: stable, and lists are short and nearly sorted */
    for (uint32_t i = 1; i < d->n; i++) {
        baton_diag t = d->items[i];
        uint32_t j = i;
        while (j > 0 && d->items[j - 1].line > t.line) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = t;
    }
}

baton_status baton_diag_format(const baton_diag *dg, const char *file, baton_buf *out) {
    baton_status st = baton_buf_puts(out, file ? file : "<input>");
    if (!st && dg->line)
        st = baton_buf_printf(out, ":%u", dg->line);
    if (!st)
        st = baton_buf_puts(out, ": ");
    if (!st && dg->element)
        st = baton_buf_printf(out, "element '%s': ", dg->element);
    if (!st && dg->severity == BATON_SEV_WARNING)
        st = baton_buf_puts(out, "warning: ");
    if (!st)
        st = baton_buf_puts(out, dg->message);
    return st;
}
