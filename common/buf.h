/*
 * buf.h - growable byte buffer with a hard size limit (curl's dynbuf).
 *
 * Used for text that input drives (JSON output, error lists, HTTP bodies):
 * every append checks the limit, so a hostile input cannot make Baton
 * allocate without bound. The content is always NUL-terminated.
 */
#ifndef BATON_COMMON_BUF_H
#define BATON_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/error.h"
#include "common/status.h"

typedef struct baton_buf {
    char *data; /* NUL-terminated, NULL until the first append */
    size_t len;
    size_t cap;
    size_t limit; /* maximum len; 0 = BATON_BUF_DEFAULT_LIMIT */
} baton_buf;

#define BATON_BUF_DEFAULT_LIMIT ((size_t)256 << 20)

void baton_buf_init(baton_buf *b, size_t limit);
void baton_buf_fini(baton_buf *b);
void baton_buf_reset(baton_buf *b);

baton_status baton_buf_append(baton_buf *b, const void *p, size_t n);
baton_status baton_buf_puts(baton_buf *b, const char *s);
baton_status baton_buf_putc(baton_buf *b, char c);
baton_status baton_buf_printf(baton_buf *b, const char *fmt, ...) BATON_PRINTF(2, 3);
baton_status baton_buf_vprintf(baton_buf *b, const char *fmt, va_list ap) BATON_PRINTF(2, 0);
/* Append s as a JSON string literal, quotes included. */
baton_status baton_buf_json_string(baton_buf *b, const char *s);

/* Hand the content to the caller (free with baton_free); the buffer is emptied. */
char *baton_buf_take(baton_buf *b);
/* Borrowed view ("" when empty). */
const char *baton_buf_str(const baton_buf *b);

#endif
