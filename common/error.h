/*
 * error.h - the caller-owned error record that carries a message outwards.
 *
 * Functions that can fail take a `baton_error *err` as their last parameter
 * (NULL allowed). The first message set wins: inner layers know the most
 * precise cause, outer layers only fill in context that is still missing
 * (`where`, the instance id). This is curl's errorbuf and SQLite's
 * sqlite3ErrorWithMsg discipline.
 */
#ifndef BATON_COMMON_ERROR_H
#define BATON_COMMON_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"

#define BATON_ERROR_MSG_MAX   512
#define BATON_ERROR_WHERE_MAX 256

typedef struct baton_error {
    baton_status code;                 /* BATON_OK while nothing was set */
    char message[BATON_ERROR_MSG_MAX]; /* human text, no trailing newline */
    char where[BATON_ERROR_WHERE_MAX]; /* "file:line", element id, "col N", ... */
    int64_t instance;                  /* instance id, 0 if none */
} baton_error;

#if defined(__GNUC__)
#define BATON_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define BATON_PRINTF(fmt, args)
#endif

/* Reset to the empty state. */
void baton_error_clear(baton_error *err);

/*
 * Record a failure: sets code and message only if no message is set yet.
 * Returns `code` so callers can write `return baton_error_set(err, ...)`.
 */
baton_status baton_error_set(baton_error *err, baton_status code, const char *fmt, ...)
    BATON_PRINTF(3, 4);
baton_status baton_error_setv(baton_error *err, baton_status code, const char *fmt, va_list ap)
    BATON_PRINTF(3, 0);

/*
 * clang-tidy's analyzer reads one file at a time and cannot see that the
 * function returns `code`, so every `return baton_error_set(...)` would look
 * to it like a success that left the outputs unwritten. Spell the contract
 * out for the analyzer only (the compiler never sees this; `code` is a
 * constant or a variable at every call).
 */
#ifdef __clang_analyzer__
#define baton_error_set(err, code, ...) (baton_error_set(err, code, __VA_ARGS__), (code))
#endif

/* Fill `where` if still empty (outer layers add context, never overwrite). */
void baton_error_where(baton_error *err, const char *fmt, ...) BATON_PRINTF(2, 3);

/* Prefix the message with more context, e.g. "expression: " (bounded). */
void baton_error_prefix(baton_error *err, const char *fmt, ...) BATON_PRINTF(2, 3);

/* True once a failure was recorded. */
bool baton_error_isset(const baton_error *err);

#endif
