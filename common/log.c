/* log.c - process-wide log sink; see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static baton_log_fn sink_fn;
static void *sink_cookie;
static _Atomic int sink_level = -1;

void baton_log_set_sink(baton_log_fn fn, void *cookie, baton_log_level max_level) {
    sink_fn = fn;
    sink_cookie = cookie;
    atomic_store(&sink_level, fn ? (int)max_level : -1);
}

int baton_log_enabled(baton_log_level level) {
    return (int)level <= atomic_load_explicit(&sink_level, memory_order_relaxed);
}

const char *baton_log_level_name(baton_log_level level) {
    static const char *names[] = {"error", "warn", "info", "debug"};
    return (unsigned)level < 4 ? names[level] : "?";
}

void baton_log(baton_log_level level, const char *fmt, ...) {
    if (!baton_log_enabled(level))
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    baton_log_fn fn = sink_fn;
    if (fn)
        fn(sink_cookie, level, line);
}

void baton_log_stderr(void *cookie, baton_log_level level, const char *line) {
    (void)cookie;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            baton_log_level_name(level), line);
}
