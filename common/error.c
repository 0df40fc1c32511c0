/* error.c - first-message-wins error records; see error.h. */
#include "common/error.h"

#include <stdio.h>
#include <string.h>

#undef baton_error_set /* error.h's analyzer-only macro would rewrite the definition */

void baton_error_clear(baton_error *err) {
    if (!err)
        return;
    err->code = BATON_OK;
    err->message[0] = '\0';
    err->where[0] = '\0';
    err->instance = 0;
}

baton_status baton_error_setv(baton_error *err, baton_status code, const char *fmt, va_list ap) {
    if (!err || err->code != BATON_OK)
        return code;
    err->code = code;
    if (fmt)
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    else
        snprintf(err->message, sizeof err->message, "%s", baton_status_text(code));
    return code;
}

baton_status baton_error_set(baton_error *err, baton_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    baton_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void baton_error_where(baton_error *err, const char *fmt, ...) {
    if (!err || err->where[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->where, sizeof err->where, fmt, ap);
    va_end(ap);
}

void baton_error_prefix(baton_error *err, const char *fmt, ...) {
    if (!err)
        return;
    char head[BATON_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int hn = vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    if (hn <= 0)
        return;
    size_t h = (size_t)hn < sizeof head ? (size_t)hn : sizeof head - 1;
    size_t m = strlen(err->message);
    if (h + m >= sizeof err->message)
        m = sizeof err->message - 1 - h;
    memmove(err->message + h, err->message, m);
    memcpy(err->message, head, h);
    err->message[h + m] = '\0';
}

bool baton_error_isset(const baton_error *err) {
    return err && err->code != BATON_OK;
}
