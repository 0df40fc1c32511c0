/*
 * body.h - checks on what clients send before anything reaches the engine:
 * UTF-8, bounded JSON with the position of the first error, and
 * multipart/form-data as modelling tools and `curl -F` upload files.
 *
 * Nothing here allocates without a bound: JSON depth is checked by a scan
 * before cJSON builds a tree (cJSON recurses), the body size is bounded by
 * the server before it gets here, and a form holds at most a fixed number
 * of parts that point into the body (no copies).
 */
#ifndef BATON_API_BODY_H
#define BATON_API_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/error.h"

#define BATON_BODY_DEFAULT_JSON_DEPTH 64u
#define BATON_BODY_MAX_PARTS          16u

/* True when s[0..len) is well-formed UTF-8 without NUL bytes; else *bad_at_out = offset. */
bool baton_body_utf8_valid(const char *s, size_t len, size_t *bad_at_out);

/*
 * Parse s[0..len) as one JSON value. BATON_PARSE with `where` = "line L,
 * column C" (1-based) for malformed JSON, invalid UTF-8, a \u0000 escape,
 * nesting deeper than max_depth (0 = default) or trailing text. The tree is
 * the caller's (cJSON_Delete).
 */
baton_status baton_body_parse_json(const char *s, size_t len, uint32_t max_depth, cJSON **out,
                                   baton_error *err);

typedef struct baton_form_part {
    const char *name;         /* form field name (NUL-terminated inside the body copy) */
    const char *filename;     /* NULL for plain fields */
    const char *content_type; /* NULL when the part has none */
    const char *data;         /* points into the body, not NUL-terminated */
    size_t len;
} baton_form_part;

/*
 * Split a multipart/form-data body in place (header values are
 * NUL-terminated inside `body`, which must stay alive while the parts are
 * used). `content_type` is the request's header with its boundary.
 * BATON_PARSE for a malformed form, BATON_LIMIT beyond max_parts.
 */
baton_status baton_body_parse_multipart(char *body, size_t len, const char *content_type,
                                        baton_form_part *parts, uint32_t max_parts, uint32_t *n_out,
                                        baton_error *err);

#endif
