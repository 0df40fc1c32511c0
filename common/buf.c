/* buf.c - bounded growable buffer; see buf.h. */
#include "common/buf.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

void baton_buf_init(baton_buf *b, size_t limit) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit ? limit : BATON_BUF_DEFAULT_LIMIT;
}

void baton_buf_fini(baton_buf *b) {
    if (!b)
        return;
    baton_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void baton_buf_reset(baton_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static baton_status reserve(baton_buf *b, size_t extra) {
    if (extra > b->limit || b->len > b->limit - extra)
        return BATON_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return BATON_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *d = baton_realloc(b->data, cap);
    if (!d)
        return BATON_NOMEM;
    b->data = d;
    b->cap = cap;
    return BATON_OK;
}

baton_status baton_buf_append(baton_buf *b, const void *p, size_t n) {
    baton_status st = reserve(b, n);
    if (st)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return BATON_OK;
}

baton_status baton_buf_puts(baton_buf *b, const char *s) {
    return baton_buf_append(b, s, strlen(s));
}

baton_status baton_buf_putc(baton_buf *b, char c) {
    return baton_buf_append(b, &c, 1);
}

baton_status baton_buf_vprintf(baton_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return BATON_INVALID;
    baton_status st = reserve(b, (size_t)n);
    if (st)
        return st;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BATON_OK;
}

baton_status baton_buf_printf(baton_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    baton_status st = baton_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

baton_status baton_buf_json_string(baton_buf *b, const char *s) {
    baton_status st = baton_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; !st && *p; p++) {
        switch (*p) {
        case '"': st = baton_buf_puts(b, "\\\""); break;
        case '\\': st = baton_buf_puts(b, "\\\\"); break;
        case '\n': st = baton_buf_puts(b, "\\n"); break;
        case '\r': st = baton_buf_puts(b, "\\r"); break;
        case '\t': st = baton_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                st = baton_buf_printf(b, "\\u%04x", *p);
            else
                st = baton_buf_putc(b, (char)*p);
        }
    }
    return st ? st : baton_buf_putc(b, '"');
}

char *baton_buf_take(baton_buf *b) {
    char *d = b->data;
    if (!d)
        d = baton_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

const char *baton_buf_str(const baton_buf *b) {
    return b->data ? b->data : "";
}
