/*
 * status.h - the one status enumeration of Baton.
 *
 * Every function that can fail returns a baton_status. The X-macro below is
 * the single place where a status gets its name, its human text, the HTTP
 * status the API answers with, and the exit code of the CLI, so those
 * mappings can never drift apart (libuv's UV_ERRNO_MAP does the same).
 */
#ifndef BATON_COMMON_STATUS_H
#define BATON_COMMON_STATUS_H

/* clang-format off: a table, aligned by hand */
/*    name            text                                  http  exit */
#define BATON_STATUS_MAP(X)                                                                        \
    X(OK, "ok", 200, 0)                                                                            \
    X(NOMEM, "out of memory", 503, 70)                                                             \
    X(INVALID, "invalid argument", 400, 2)                                                         \
    X(USAGE, "usage error", 400, 2)                                                                \
    X(PARSE, "malformed input", 400, 1)                                                            \
    X(MODEL, "invalid model", 422, 1)                                                              \
    X(EXPR, "invalid expression", 422, 1)                                                          \
    X(EVAL, "expression evaluation failed", 422, 1)                                                \
    X(LIMIT, "limit exceeded", 413, 1)                                                             \
    X(NOTFOUND, "not found", 404, 1)                                                               \
    X(CONFLICT, "conflict", 409, 1)                                                                \
    X(UNSUPPORTED, "not supported", 422, 1)                                                        \
    X(MEDIA, "unsupported media type", 415, 1)                                                     \
    X(IO, "input/output error", 500, 74)                                                           \
    X(STORE, "store error", 503, 75)                                                               \
    X(BUSY, "busy, try again", 503, 75)                                                            \
    X(TIMEOUT, "timed out", 504, 75)                                                               \
    X(INTERNAL, "internal error", 500, 70)
/* clang-format on */

typedef enum baton_status {
#define BATON_X_ENUM(name, text, http, exitc) BATON_##name,
    BATON_STATUS_MAP(BATON_X_ENUM)
#undef BATON_X_ENUM
        BATON_STATUS_COUNT_
} baton_status;

/* "BATON_NOMEM" -> "nomem"-style short name, e.g. for JSON error codes. */
const char *baton_status_name(baton_status s);
/* A short human sentence such as "out of memory". */
const char *baton_status_text(baton_status s);
/* The HTTP status code the API answers with for this status. */
int baton_status_http(baton_status s);
/* The process exit code the CLI uses for this status. */
int baton_status_exit(baton_status s);

#endif
