/*
 * log.h - the log sink. Lower layers never print; the layers that own a
 * process (cli/, api/, runtime/) install a sink and log through it.
 *
 * Lines are key=value pairs (`level=info msg="..." instance=42`); the level
 * is checked before any formatting so a disabled level costs one compare.
 */
#ifndef BATON_COMMON_LOG_H
#define BATON_COMMON_LOG_H

#include "common/error.h"

typedef enum baton_log_level {
    BATON_LOG_ERROR = 0,
    BATON_LOG_WARN,
    BATON_LOG_INFO,
    BATON_LOG_DEBUG,
} baton_log_level;

typedef void (*baton_log_fn)(void *cookie, baton_log_level level, const char *line);

/* Install the sink (NULL = discard) and the most verbose level it wants. */
void baton_log_set_sink(baton_log_fn fn, void *cookie, baton_log_level max_level);
int baton_log_enabled(baton_log_level level);
/* Format and hand one line to the sink; no-op when the level is disabled. */
void baton_log(baton_log_level level, const char *fmt, ...) BATON_PRINTF(2, 3);
const char *baton_log_level_name(baton_log_level level);
/* A ready-made sink writing lines to stderr (cookie unused). */
void baton_log_stderr(void *cookie, baton_log_level level, const char *line);

#endif
