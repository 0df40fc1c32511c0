/* body.c - request body checks; see body.h. */
#include "api/body.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool baton_body_utf8_valid(const char *s, size_t len, size_t *bad_at_out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c == 0)
            goto bad;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned min;
        unsigned cp;
        if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, cp = c & 0x07;
        } else {
            goto bad;
        }
        if (len - i <= n)
            goto bad;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                goto bad;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        i += n + 1;
    }
    return true;
bad:
    if (bad_at_out)
        *bad_at_out = i;
    return false;
}

static baton_status fail_at(const char *s, size_t off, baton_error *err, const char *what) {
    unsigned long line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)s[i] & 0xc0) != 0x80) {
            col++;
        }
    }
    baton_error_set(err, BATON_PARSE, "%s", what);
    baton_error_where(err, "line %lu, column %lu", line, col);
    return BATON_PARSE;
}

/* Depth and \u0000 scan: cJSON recurses per level, so the bound is checked first. */
static baton_status scan(const char *s, size_t len, uint32_t max_depth, baton_error *err) {
    uint32_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') {
                if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
                    return fail_at(s, i, err, "a \\u0000 escape (NUL) is not accepted");
                i++;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                char msg[64];
                snprintf(msg, sizeof msg, "JSON nested deeper than %u levels", max_depth);
                return fail_at(s, i, err, msg);
            }
        } else if (c == ']' || c == '}') {
            if (depth)
                depth--;
        }
    }
    return BATON_OK;
}

/* cJSON turns lone surrogate escapes into bytes that are not UTF-8: check every string. */
static bool strings_valid(const cJSON *j) {
    for (; j; j = j->next) {
        if (j->string && !baton_body_utf8_valid(j->string, strlen(j->string), NULL))
            return false;
        if (cJSON_IsString(j) && j->valuestring &&
            !baton_body_utf8_valid(j->valuestring, strlen(j->valuestring), NULL))
            return false;
        if (j->child && !strings_valid(j->child))
            return false;
    }
    return true;
}

baton_status baton_body_parse_json(const char *s, size_t len, uint32_t max_depth, cJSON **out,
                                   baton_error *err) {
    if (!max_depth)
        max_depth = BATON_BODY_DEFAULT_JSON_DEPTH;
    size_t bad;
    if (!baton_body_utf8_valid(s, len, &bad))
        return fail_at(s, bad, err, "body is not valid UTF-8");
    baton_status st = scan(s, len, max_depth, err);
    if (st)
        return st;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (j && end) {
        /* only whitespace may follow the value */
        while (end < s + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
            end++;
        if (end != s + len) {
            cJSON_Delete(j);
            return fail_at(s, (size_t)(end - s), err, "text after the JSON value");
        }
    }
    if (!j) {
        size_t off = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
        if (len == 0)
            return fail_at(s, 0, err, "empty body where JSON was expected");
        return fail_at(s, off, err, "malformed JSON");
    }
    if (!strings_valid(j)) {
        cJSON_Delete(j);
        return fail_at(s, 0, err, "a JSON string escape is not valid UTF-16");
    }
    *out = j;
    return BATON_OK;
}

/* ---- multipart/form-data (RFC 7578) ----------------------------------------------- */

static void *find(const char *hay, size_t hlen, const char *needle, size_t nlen) {
    return memmem(hay, hlen, needle, nlen);
}

/* Value of parameter `key` in a header like `form-data; name="x"; filename="y"`. */
static char *param(char *hdr, const char *key) {
    size_t kl = strlen(key);
    for (char *p = hdr; (p = strstr(p, key)) != NULL; p += kl) {
        if (p > hdr && p[-1] != ' ' && p[-1] != ';' && p[-1] != '\t')
            continue;
        char *v = p + kl;
        while (*v == ' ')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ')
            v++;
        if (*v == '"') {
            char *q = strchr(v + 1, '"');
            if (!q)
                return NULL;
            *q = '\0';
            return v + 1;
        }
        char *q = v + strcspn(v, "; \t");
        *q = '\0';
        return v;
    }
    return NULL;
}

baton_status baton_body_parse_multipart(char *body, size_t len, const char *content_type,
                                        baton_form_part *parts, uint32_t max_parts, uint32_t *n_out,
                                        baton_error *err) {
    /* boundary parameter of the Content-Type header */
    const char *b = content_type ? strcasestr(content_type, "boundary=") : NULL;
    if (!b)
        return baton_error_set(err, BATON_PARSE, "multipart/form-data without a boundary");
    b += 9;
    char delim[80] = "\r\n--";
    size_t blen = 0;
    bool quoted = *b == '"';
    if (quoted)
        b++;
    while (b[blen] && b[blen] != (quoted ? '"' : ';') && (quoted || b[blen] != ' ') && blen < 70)
        blen++;
    if (!blen || blen >= 71)
        return baton_error_set(err, BATON_PARSE, "multipart boundary is empty or too long");
    memcpy(delim + 4, b, blen);
    size_t dlen = 4 + blen;
    /* the body starts with the delimiter without its CRLF */
    if (len < dlen - 2 || memcmp(body, delim + 2, dlen - 2) != 0)
        return baton_error_set(err, BATON_PARSE, "multipart body does not start with its boundary");
    size_t pos = dlen - 2;
    uint32_t n = 0;
    for (;;) {
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
            break; /* closing delimiter */
        /* transport padding then CRLF */
        while (pos < len && (body[pos] == ' ' || body[pos] == '\t'))
            pos++;
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n')
            return baton_error_set(err, BATON_PARSE, "malformed multipart delimiter line");
        pos += 2;
        char *hend = find(body + pos, len - pos, "\r\n\r\n", 4);
        if (!hend)
            return baton_error_set(err, BATON_PARSE, "multipart part without a header end");
        if (n == max_parts)
            return baton_error_set(err, BATON_LIMIT, "more than %u form parts", max_parts);
        baton_form_part part = {0};
        /* headers, one per line */
        char *h = body + pos;
        *hend = '\0';
        while (h && *h) {
            char *eol = strstr(h, "\r\n");
            if (eol)
                *eol = '\0';
            if (strncasecmp(h, "Content-Disposition:", 20) == 0) {
                char *v = h + 20;
                /* filename first: param() cuts the string at the end of a value */
                char *copy = v;
                char *fn = strcasestr(copy, "filename=");
                if (fn) {
                    part.filename = param(fn, "filename");
                    fn[0] = '\0';
                }
                part.name = param(v, "name");
            } else if (strncasecmp(h, "Content-Type:", 13) == 0) {
                char *v = h + 13;
                while (*v == ' ')
                    v++;
                part.content_type = v;
            }
            h = eol ? eol + 2 : NULL;
        }
        size_t dstart = (size_t)(hend + 4 - body);
        char *next = find(body + dstart, len - dstart, delim, dlen);
        if (!next)
            return baton_error_set(err, BATON_PARSE, "multipart part without a closing boundary");
        part.data = body + dstart;
        part.len = (size_t)(next - (body + dstart));
        if (!part.name)
            return baton_error_set(err, BATON_PARSE, "multipart part without a field name");
        parts[n++] = part;
        pos = (size_t)(next - body) + dlen;
    }
    *n_out = n;
    return BATON_OK;
}
