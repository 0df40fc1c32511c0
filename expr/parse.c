/*
 * parse.c - lexer and recursive-descent parsers for FEEL (DMN 1.4 chapter
 * 10.3.1 grammar) and the JUEL subset, both producing the AST of
 * expr_int.h. Runs once per expression at deploy time.
 *
 * FEEL names may contain spaces ("date and time", "string length"); the
 * lexer recognises the multi-word built-in function names when a '('
 * follows, and the parser joins words where the grammar allows a
 * multi-word name (context keys, named arguments, `start included`).
 * Everything input drives is bounded: source length, nesting depth (each
 * recursive descent step counts), AST height (long operator chains), and
 * list/argument counts. Errors carry the column and the token:
 * "col N" in err->where, "... near 'tok'" in the message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "expr/expr_int.h"
#include "expr/tz.h"

enum tk { TK_EOF, TK_NUM, TK_STR, TK_NAME, TK_AT, TK_PUNCT, TK_BAD };

typedef struct token {
    int t;
    const char *s; /* token text in the source */
    size_t len;
    const builtin *bi; /* multi-word built-in name */
} token;

typedef struct parser {
    const char *src; /* the whole original text (for columns) */
    const char *p;   /* cursor */
    const char *end;
    bool juel;
    token tok; /* current (peeked) token */
    int depth;
    baton_arena *arena;
    baton_error *err;
    baton_status st;
} parser;

/* ---- errors ------------------------------------------------------------------------ */

static bool name_char(unsigned char c);

static uint32_t column(const parser *ps, const char *at) {
    uint32_t col = 1;
    for (const char *q = ps->src; q < at; q++)
        col += ((unsigned char)*q & 0xC0) != 0x80;
    return col;
}

BATON_PRINTF(3, 4)
static node *fail_at(parser *ps, const char *at, const char *fmt, ...) {
    if (ps->st)
        return NULL;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ps->st = BATON_EXPR;
    const token *t = &ps->tok;
    if (at == t->s && t->t != TK_EOF) {
        int n = (int)(t->len > 40 ? 40 : t->len);
        baton_error_set(ps->err, BATON_EXPR, "%s near '%.*s'", msg, n, t->s);
    } else if (at >= ps->end) {
        baton_error_set(ps->err, BATON_EXPR, "%s near '<end>'", msg);
    } else {
        size_t n = 0;
        if (name_char((unsigned char)*at))
            while (at + n < ps->end && n < 40 && name_char((unsigned char)at[n]))
                n++;
        baton_error_set(ps->err, BATON_EXPR, "%s near '%.*s'", msg, (int)(n ? n : 1), at);
    }
    if (ps->err)
        baton_error_where(ps->err, "col %u", column(ps, at));
    return NULL;
}

#define FAIL(...) fail_at(ps, ps->tok.s, __VA_ARGS__)

static node *oom(parser *ps) {
    if (!ps->st) {
        ps->st = baton_arena_hit_limit(ps->arena) ? BATON_LIMIT : BATON_NOMEM;
        baton_error_set(ps->err, ps->st, "out of memory compiling expression");
    }
    return NULL;
}

/* ---- lexer -------------------------------------------------------------------------- */

static bool name_start(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool name_char(unsigned char c) {
    return name_start(c) || (c >= '0' && c <= '9');
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void skip_space(parser *ps) {
    for (;;) {
        while (ps->p < ps->end && is_space(*ps->p))
            ps->p++;
        if (!ps->juel && ps->end - ps->p >= 2 && ps->p[0] == '/' && ps->p[1] == '/') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
            continue;
        }
        if (!ps->juel && ps->end - ps->p >= 2 && ps->p[0] == '/' && ps->p[1] == '*') {
            const char *q = ps->p + 2;
            while (q + 1 < ps->end && !(q[0] == '*' && q[1] == '/'))
                q++;
            ps->p = q + 1 < ps->end ? q + 2 : ps->end;
            continue;
        }
        break;
    }
}

static void lex(parser *ps) {
    skip_space(ps);
    token *t = &ps->tok;
    t->s = ps->p;
    t->bi = NULL;
    if (ps->p >= ps->end) {
        t->t = TK_EOF;
        t->len = 0;
        return;
    }
    const char *p = ps->p;
    unsigned char c = (unsigned char)*p;
    if ((c >= '0' && c <= '9') || (c == '.' && p + 1 < ps->end && p[1] >= '0' && p[1] <= '9')) {
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
        if (p + 1 < ps->end && *p == '.' && p[1] >= '0' && p[1] <= '9') {
            p++;
            while (p < ps->end && *p >= '0' && *p <= '9')
                p++;
        }
        if (ps->juel && p < ps->end && (*p == 'e' || *p == 'E')) {
            const char *q = p + 1;
            if (q < ps->end && (*q == '+' || *q == '-'))
                q++;
            if (q < ps->end && *q >= '0' && *q <= '9') {
                while (q < ps->end && *q >= '0' && *q <= '9')
                    q++;
                p = q;
            }
        }
        t->t = TK_NUM;
    } else if (c == '"' || (ps->juel && c == '\'')) {
        p++;
        while (p < ps->end && *p != (char)c) {
            if (*p == '\\' && p + 1 < ps->end)
                p++;
            p++;
        }
        if (p >= ps->end) {
            t->t = TK_BAD;
            t->len = (size_t)(ps->end - t->s);
            fail_at(ps, t->s, "unterminated string");
            ps->p = ps->end;
            return;
        }
        p++;
        t->t = TK_STR;
    } else if (!ps->juel && c == '@' && p + 1 < ps->end && p[1] == '"') {
        ps->p = p + 1;
        lex(ps);
        if (t->t != TK_STR)
            return;
        t->s = p;
        t->len = (size_t)(ps->p - p);
        t->t = TK_AT;
        return;
    } else if (c == '`' && !ps->juel) {
        p++;
        while (p < ps->end && *p != '`')
            p++;
        if (p >= ps->end) {
            t->t = TK_BAD;
            t->len = 1;
            fail_at(ps, t->s, "unterminated `name`");
            ps->p = ps->end;
            return;
        }
        p++;
        t->t = TK_NAME;
    } else if (name_start(c) || (!ps->juel && c == '?')) {
        if (!ps->juel) {
            const builtin *bi = NULL;
            size_t n = baton_feel_builtin_prefix(p, (size_t)(ps->end - p), &bi);
            if (n) {
                const char *q = p + n;
                while (q < ps->end && is_space(*q))
                    q++;
                if (q < ps->end && *q == '(') {
                    t->bi = bi;
                    p += n;
                    t->t = TK_NAME;
                    t->len = (size_t)(p - t->s);
                    ps->p = p;
                    return;
                }
            }
        }
        p++;
        while (p < ps->end && name_char((unsigned char)*p))
            p++;
        t->t = TK_NAME;
    } else {
        static const char *const two[] = {"**", "..", "<=", ">=", "!=", "==", "&&", "||", "->"};
        t->t = TK_PUNCT;
        p++;
        for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
            if (ps->end - t->s >= 2 && memcmp(t->s, two[i], 2) == 0) {
                p = t->s + 2;
                break;
            }
    }
    t->len = (size_t)(p - t->s);
    ps->p = p;
}

static bool is_p(const parser *ps, const char *punct) {
    return ps->tok.t == TK_PUNCT && ps->tok.len == strlen(punct) &&
           memcmp(ps->tok.s, punct, ps->tok.len) == 0;
}

static bool is_kw(const parser *ps, const char *kw) {
    return ps->tok.t == TK_NAME && !ps->tok.bi && ps->tok.len == strlen(kw) &&
           memcmp(ps->tok.s, kw, ps->tok.len) == 0;
}

static bool accept_p(parser *ps, const char *punct) {
    if (!is_p(ps, punct))
        return false;
    lex(ps);
    return true;
}

static bool accept_kw(parser *ps, const char *kw) {
    if (!is_kw(ps, kw))
        return false;
    lex(ps);
    return true;
}

static bool expect_p(parser *ps, const char *punct) {
    if (accept_p(ps, punct))
        return true;
    if (ps->tok.t == TK_EOF)
        fail_at(ps, ps->end, "expected '%s'", punct);
    else
        FAIL("expected '%s'", punct);
    return false;
}

/* FEEL keywords are never variable names. */
static bool reserved(const char *s, size_t len, bool juel) {
    static const char *const feel[] = {"true",     "false",     "null",     "if",     "then",
                                       "else",     "for",       "in",       "return", "some",
                                       "every",    "satisfies", "and",      "or",     "between",
                                       "instance", "function",  "external", NULL};
    static const char *const juel_kw[] = {"true", "false", "null",  "and",        "or", "not",
                                          "eq",   "ne",    "lt",    "gt",         "le", "ge",
                                          "div",  "mod",   "empty", "instanceof", NULL};
    for (const char *const *k = juel ? juel_kw : feel; *k; k++)
        if (strlen(*k) == len && memcmp(*k, s, len) == 0)
            return true;
    return false;
}

/* ---- nodes -------------------------------------------------------------------------- */

static node *mk(parser *ps, nkind kind, const char *at) {
    if (ps->st)
        return NULL;
    node *n = baton_arena_zalloc(ps->arena, sizeof *n);
    if (!n)
        return oom(ps);
    n->kind = (uint8_t)kind;
    n->col = column(ps, at);
    n->depth = 1;
    if (ps->juel)
        n->flags |= NF_JUEL;
    return n;
}

/* Recompute the height after the children are set; fails past the bound. */
static node *seal(parser *ps, node *n) {
    if (!n)
        return NULL;
    int h = 0;
    const node *kids3[3] = {n->a, n->b, n->c};
    for (int i = 0; i < 3; i++)
        if (kids3[i] && kids3[i]->depth > h)
            h = kids3[i]->depth;
    for (uint32_t i = 0; i < n->n && n->kids; i++)
        if (n->kids[i] && n->kids[i]->depth > h)
            h = n->kids[i]->depth;
    if (h + 1 > BATON_EXPR_MAX_HEIGHT) {
        ps->st = BATON_LIMIT;
        baton_error_set(ps->err, BATON_LIMIT,
                        "expression is nested too deeply (more than %d levels) near '%.*s'",
                        BATON_EXPR_MAX_HEIGHT, (int)(ps->tok.len > 20 ? 20 : ps->tok.len),
                        ps->tok.s);
        baton_error_where(ps->err, "col %u", n->col);
        return NULL;
    }
    n->depth = (uint16_t)(h + 1);
    return n;
}

static node *mk2(parser *ps, nkind kind, int op, const char *at, node *a, node *b) {
    if (!a || !b)
        return NULL;
    node *n = mk(ps, kind, at);
    if (!n)
        return NULL;
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    return seal(ps, n);
}

/* A growable array of node pointers in the arena. */
typedef struct vec {
    node **v;
    nname *names;
    uint32_t n, cap;
} vec;

static bool vec_push(parser *ps, vec *v, node *x, const char *name, size_t nlen) {
    if (!x)
        return false;
    if (v->n >= 100000) {
        fail_at(ps, ps->tok.s, "too many elements");
        return false;
    }
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 4;
        node **nv = baton_arena_alloc(ps->arena, cap * sizeof *nv);
        nname *nn = baton_arena_alloc(ps->arena, cap * sizeof *nn);
        if (!nv || !nn) {
            oom(ps);
            return false;
        }
        if (v->n) {
            memcpy(nv, v->v, v->n * sizeof *nv);
            memcpy(nn, v->names, v->n * sizeof *nn);
        }
        v->v = nv;
        v->names = nn;
        v->cap = cap;
    }
    v->names[v->n].s = name;
    v->names[v->n].len = (uint32_t)nlen;
    v->v[v->n++] = x;
    return true;
}

static node *with_kids(parser *ps, node *n, vec *v, bool keep_names) {
    if (!n)
        return NULL;
    n->kids = v->v;
    n->n = v->n;
    n->names = keep_names ? v->names : NULL;
    return seal(ps, n);
}

/* ---- literals ------------------------------------------------------------------------ */

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescape a string token (quotes included) into the arena. */
static bool unescape(parser *ps, const token *t, const char **s_out, uint32_t *len_out) {
    const char *p = t->s + 1, *end = t->s + t->len - 1;
    char *o = baton_arena_alloc(ps->arena, t->len + 1);
    if (!o) {
        oom(ps);
        return false;
    }
    size_t k = 0;
    while (p < end) {
        if (*p != '\\') {
            o[k++] = *p++;
            continue;
        }
        p++;
        char c = *p++;
        switch (c) {
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'u':
        case 'U': {
            int nd = c == 'u' ? 4 : 6;
            uint32_t cp = 0;
            for (int i = 0; i < nd; i++) {
                int h = p < end ? hexval(*p) : -1;
                if (h < 0) {
                    fail_at(ps, p, "bad \\%c escape in string", c);
                    return false;
                }
                cp = cp * 16 + (uint32_t)h;
                p++;
            }
            /* a UTF-16 surrogate pair written as two \u escapes */
            if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                uint32_t lo = 0;
                bool ok = true;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(p[i]);
                    ok = ok && h >= 0;
                    lo = lo * 16 + (uint32_t)(h < 0 ? 0 : h);
                }
                if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                fail_at(ps, p, "invalid code point in string");
                return false;
            }
            k += put_utf8(o + k, cp);
            break;
        }
        default: o[k++] = c; break; /* \" \\ \' and anything else: the character */
        }
    }
    o[k] = '\0';
    *s_out = o;
    *len_out = (uint32_t)k;
    return true;
}

static node *number_lit(parser *ps) {
    node *n = mk(ps, N_LIT, ps->tok.s);
    if (!n)
        return NULL;
    dec d;
    if (!baton_dec_parse(ps->tok.s, ps->tok.len, &d))
        return FAIL("number out of range");
    baton_feel_num(&n->lit, d);
    lex(ps);
    return n;
}

static node *string_lit(parser *ps) {
    node *n = mk(ps, N_LIT, ps->tok.s);
    const char *s;
    uint32_t len;
    if (!n || !unescape(ps, &ps->tok, &s, &len))
        return NULL;
    baton_feel_str(&n->lit, s, len);
    lex(ps);
    return n;
}

static node *temporal_lit(parser *ps) {
    node *n = mk(ps, N_LIT, ps->tok.s);
    token st = ps->tok;
    st.s++;
    st.len--;
    const char *s;
    uint32_t len;
    if (!n || !unescape(ps, &st, &s, &len))
        return NULL;
    baton_error e;
    baton_error_clear(&e);
    baton_status r = baton_feel_parse_temporal(s, len, -1, &n->lit, &e);
    if (r == BATON_NOMEM)
        return oom(ps);
    if (r || n->lit.t == T_NULL)
        return FAIL("invalid temporal literal%s%s", e.message[0] ? ": " : "", e.message);
    lex(ps);
    return n;
}

/* ---- FEEL grammar ------------------------------------------------------------------- */

static node *expression(parser *ps);
static node *comparison(parser *ps);
static node *additive(parser *ps);
static node *unary(parser *ps);

static bool enter(parser *ps) {
    if (++ps->depth > BATON_EXPR_MAX_DEPTH) {
        if (!ps->st) {
            ps->st = BATON_LIMIT;
            int n = (int)(ps->tok.len > 20 ? 20 : ps->tok.len);
            baton_error_set(ps->err, BATON_LIMIT,
                            "expression is nested too deeply (more than %d levels) near '%.*s'",
                            BATON_EXPR_MAX_DEPTH, n, ps->tok.s);
            baton_error_where(ps->err, "col %u", column(ps, ps->tok.s));
        }
        return false;
    }
    return true;
}

/* A name that may be several words (context keys, named arguments): words up to ':'. */
static bool multiword_name(parser *ps, const char **s_out, size_t *len_out) {
    const char *start = ps->tok.s;
    const char *last_end = start;
    if (ps->tok.t != TK_NAME)
        return false;
    if (start[0] == '`') {
        *s_out = start + 1;
        *len_out = ps->tok.len - 2;
        lex(ps);
        return true;
    }
    while (ps->tok.t == TK_NAME || (ps->tok.t == TK_NUM && last_end != start)) {
        last_end = ps->tok.s + ps->tok.len;
        lex(ps);
    }
    *s_out = start;
    *len_out = (size_t)(last_end - start);
    return true;
}

/* Lookahead without consuming: does the text at p read `word {word} :`? */
static bool named_arg_ahead(const parser *ps) {
    const char *p = ps->tok.s, *end = ps->end;
    if (ps->tok.t != TK_NAME)
        return false;
    if (*p == '`') {
        p += ps->tok.len;
    } else {
        while (p < end && (name_char((unsigned char)*p) || is_space(*p) || *p == '?'))
            p++;
    }
    while (p < end && is_space(*p))
        p++;
    return p < end && *p == ':';
}

static node *var_node(parser *ps) {
    const char *s = ps->tok.s;
    size_t len = ps->tok.len;
    if (s[0] == '`') {
        s++;
        len -= 2;
    }
    node *n = mk(ps, N_VAR, ps->tok.s);
    if (!n)
        return NULL;
    n->name.s = s;
    n->name.len = (uint32_t)len;
    n->bi = ps->tok.bi;
    lex(ps);
    return n;
}

static node *call_args(parser *ps, node *call) {
    vec v = {0};
    bool named = false;
    if (!accept_p(ps, ")")) {
        for (;;) {
            if (ps->st)
                return NULL;
            const char *nm = NULL;
            size_t nlen = 0;
            if (named_arg_ahead(ps)) {
                named = true;
                multiword_name(ps, &nm, &nlen);
                if (!expect_p(ps, ":"))
                    return NULL;
            } else if (named) {
                return FAIL("positional argument after named arguments");
            }
            if (!vec_push(ps, &v, expression(ps), nm, nlen))
                return NULL;
            if (accept_p(ps, ")"))
                break;
            if (!expect_p(ps, ","))
                return NULL;
        }
    }
    return with_kids(ps, call, &v, named);
}

static node *list_or_range(parser *ps) {
    const char *at = ps->tok.s;
    bool open_start = is_p(ps, "]") || is_p(ps, "(");
    lex(ps);
    if (!open_start && accept_p(ps, "]")) {
        node *n = mk(ps, N_LIST, at);
        return n ? seal(ps, n) : NULL;
    }
    node *first = expression(ps);
    if (!first)
        return NULL;
    if (accept_p(ps, "..")) {
        node *hi = expression(ps);
        if (!hi)
            return NULL;
        int op = open_start ? 0 : 1;
        if (accept_p(ps, "]"))
            op |= 2;
        else if (!accept_p(ps, "[") && !accept_p(ps, ")"))
            return FAIL("expected ']', '[' or ')' to close the range");
        node *r = mk2(ps, N_RANGE, 0, at, first, hi);
        if (r)
            r->op = (uint8_t)op;
        return r;
    }
    if (open_start) {
        if (at[0] == '(') { /* parenthesised expression */
            if (!expect_p(ps, ")"))
                return NULL;
            return first;
        }
        return FAIL("expected '..' in a range");
    }
    vec v = {0};
    if (!vec_push(ps, &v, first, NULL, 0))
        return NULL;
    while (accept_p(ps, ",")) {
        if (!vec_push(ps, &v, expression(ps), NULL, 0))
            return NULL;
    }
    if (!expect_p(ps, "]"))
        return NULL;
    return with_kids(ps, mk(ps, N_LIST, at), &v, false);
}

static node *context_lit(parser *ps) {
    const char *at = ps->tok.s;
    lex(ps);
    vec v = {0};
    if (!accept_p(ps, "}")) {
        for (;;) {
            if (ps->st)
                return NULL;
            const char *key, *key_at = ps->tok.s;
            size_t klen;
            if (ps->tok.t == TK_STR) {
                uint32_t l;
                if (!unescape(ps, &ps->tok, &key, &l))
                    return NULL;
                klen = l;
                lex(ps);
            } else if (!multiword_name(ps, &key, &klen)) {
                return FAIL("expected a context key");
            }
            for (uint32_t i = 0; i < v.n; i++)
                if (v.names[i].len == klen && memcmp(v.names[i].s, key, klen) == 0)
                    return fail_at(ps, key_at, "duplicate context key '%.*s'",
                                   (int)(klen > 40 ? 40 : klen), key);
            if (!expect_p(ps, ":") || !vec_push(ps, &v, expression(ps), key, klen))
                return NULL;
            if (accept_p(ps, "}"))
                break;
            if (!is_p(ps, ","))
                return ps->tok.t == TK_EOF ? fail_at(ps, ps->end, "expected ',' or '}'")
                                           : FAIL("expected ',' or '}'");
            lex(ps);
        }
    }
    return with_kids(ps, mk(ps, N_CTX, at), &v, true);
}

static node *funcdef(parser *ps) {
    const char *at = ps->tok.s;
    lex(ps);
    if (!expect_p(ps, "("))
        return NULL;
    vec v = {0};
    if (!accept_p(ps, ")")) {
        for (;;) {
            if (ps->tok.t != TK_NAME)
                return FAIL("expected a parameter name");
            const char *nm = ps->tok.s;
            size_t nlen = ps->tok.len;
            lex(ps);
            if (accept_p(ps, ":")) { /* parameter type: accepted, not checked */
                int nest = 0;
                while (ps->tok.t != TK_EOF && !ps->st) {
                    if (nest == 0 && (is_p(ps, ",") || is_p(ps, ")")))
                        break;
                    nest += is_p(ps, "<") - is_p(ps, ">");
                    lex(ps);
                }
            }
            node *dummy = mk(ps, N_LIT, nm);
            if (!vec_push(ps, &v, dummy, nm, nlen))
                return NULL;
            if (accept_p(ps, ")"))
                break;
            if (!expect_p(ps, ","))
                return NULL;
        }
    }
    if (is_kw(ps, "external"))
        return FAIL("external functions are not supported");
    node *n = mk(ps, N_FUNCDEF, at);
    if (!n)
        return NULL;
    n->names = v.names;
    n->n = v.n;
    n->a = expression(ps);
    return n->a ? seal(ps, n) : NULL;
}

/* for / some / every: iteration contexts `name in expr[..expr]`, comma separated. */
static node *iteration(parser *ps, nkind kind) {
    const char *at = ps->tok.s;
    lex(ps);
    vec v = {0};
    for (;;) {
        if (ps->tok.t != TK_NAME || reserved(ps->tok.s, ps->tok.len, false))
            return FAIL("expected a variable name");
        const char *nm = ps->tok.s;
        size_t nlen = ps->tok.len;
        lex(ps);
        if (!accept_kw(ps, "in"))
            return FAIL("expected 'in'");
        node *src = expression(ps);
        if (src && is_p(ps, "..")) {
            const char *dots = ps->tok.s;
            lex(ps);
            node *r = mk2(ps, N_RANGE, 3, dots, src, expression(ps));
            if (r) {
                r->op = 3;
                r->flags |= NF_RANGE_EXPR;
            }
            src = r;
        }
        if (!vec_push(ps, &v, src, nm, nlen))
            return NULL;
        if (!accept_p(ps, ","))
            break;
    }
    const char *kw = kind == N_FOR ? "return" : "satisfies";
    if (!accept_kw(ps, kw))
        return FAIL("expected '%s'", kw);
    node *n = mk(ps, kind, at);
    if (!n)
        return NULL;
    n->a = expression(ps);
    if (!n->a)
        return NULL;
    return with_kids(ps, n, &v, true);
}

static node *if_expr(parser *ps) {
    const char *at = ps->tok.s;
    lex(ps);
    node *n = mk(ps, N_IF, at);
    if (!n || !(n->a = expression(ps)))
        return NULL;
    if (!accept_kw(ps, "then"))
        return FAIL("expected 'then'");
    if (!(n->b = expression(ps)))
        return NULL;
    if (!accept_kw(ps, "else"))
        return FAIL("expected 'else'");
    if (!(n->c = expression(ps)))
        return NULL;
    return seal(ps, n);
}

static node *primary(parser *ps) {
    const token *t = &ps->tok;
    switch (t->t) {
    case TK_NUM: return number_lit(ps);
    case TK_STR: return string_lit(ps);
    case TK_AT: return temporal_lit(ps);
    case TK_EOF: return fail_at(ps, ps->end, "unexpected end of expression");
    case TK_BAD: return NULL;
    case TK_NAME:
        if (t->bi)
            return var_node(ps);
        if (is_kw(ps, "true") || is_kw(ps, "false") || is_kw(ps, "null")) {
            node *n = mk(ps, N_LIT, t->s);
            if (!n)
                return NULL;
            if (t->s[0] != 'n')
                baton_feel_bool(&n->lit, t->s[0] == 't');
            lex(ps);
            return n;
        }
        if (is_kw(ps, "if"))
            return if_expr(ps);
        if (is_kw(ps, "for"))
            return iteration(ps, N_FOR);
        if (is_kw(ps, "some"))
            return iteration(ps, N_SOME);
        if (is_kw(ps, "every"))
            return iteration(ps, N_EVERY);
        if (is_kw(ps, "function"))
            return funcdef(ps);
        if (t->s[0] != '`' && reserved(t->s, t->len, false))
            return FAIL("unexpected keyword");
        return var_node(ps);
    default: break;
    }
    if (is_p(ps, "[") || is_p(ps, "]") || is_p(ps, "("))
        return list_or_range(ps);
    if (is_p(ps, "{"))
        return context_lit(ps);
    if (is_p(ps, "<") || is_p(ps, "<=") || is_p(ps, ">") || is_p(ps, ">=")) {
        /* a unary comparison as a value: `< 10` is the range (null..10) */
        const char *at = t->s;
        int op = t->s[0] == '<' ? (t->len == 2 ? 2 : 0) : (t->len == 2 ? 1 : 0);
        bool lower = t->s[0] == '>';
        lex(ps);
        node *e = additive(ps);
        node *nul = mk(ps, N_LIT, at);
        node *r = lower ? mk2(ps, N_RANGE, 0, at, e, nul) : mk2(ps, N_RANGE, 0, at, nul, e);
        if (r)
            r->op = (uint8_t)op;
        return r;
    }
    return FAIL("unexpected '%.*s'", (int)(t->len > 20 ? 20 : t->len), t->s);
}

/* `.name`: property names may be two words (start included, time offset). */
static bool path_name(parser *ps, nname *out) {
    if (ps->tok.t != TK_NAME)
        return false;
    const char *s = ps->tok.s;
    size_t len = ps->tok.len;
    if (s[0] == '`') {
        out->s = s + 1;
        out->len = (uint32_t)(len - 2);
        lex(ps);
        return true;
    }
    static const char *const two[] = {"start included", "end included", "time offset"};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++) {
        size_t w = strchr(two[i], ' ') - two[i];
        if (len == w && memcmp(s, two[i], w) == 0) {
            const char *q = s + len;
            while (q < ps->end && is_space(*q))
                q++;
            size_t rest = strlen(two[i] + w + 1);
            if ((size_t)(ps->end - q) >= rest && memcmp(q, two[i] + w + 1, rest) == 0 &&
                (q + rest == ps->end || !name_char((unsigned char)q[rest]))) {
                lex(ps);
                out->s = two[i];
                out->len = (uint32_t)strlen(two[i]);
                lex(ps);
                return true;
            }
        }
    }
    out->s = s;
    out->len = (uint32_t)len;
    lex(ps);
    return true;
}

/*
 * After `a`, does '[' open a filter? Not when it closes a range (`[1..3[`),
 * i.e. when what follows it cannot start an expression.
 */
static bool filter_follows(parser *ps) {
    parser save = *ps;
    lex(ps);
    bool yes = ps->tok.t != TK_EOF && !is_p(ps, ")") && !is_p(ps, "]") && !is_p(ps, ",") &&
               !is_p(ps, "}") && !is_kw(ps, "and") && !is_kw(ps, "or") && !is_kw(ps, "then") &&
               !is_kw(ps, "else") && !is_kw(ps, "return") && !is_kw(ps, "satisfies");
    *ps = save;
    return yes;
}

static node *postfix(parser *ps) {
    node *n = primary(ps);
    while (n && !ps->st) {
        const char *at = ps->tok.s;
        if (accept_p(ps, ".")) {
            node *p = mk(ps, N_PATH, at);
            if (!p)
                return NULL;
            p->a = n;
            if (!path_name(ps, &p->name))
                return FAIL("expected a name after '.'");
            n = seal(ps, p);
        } else if (is_p(ps, "[") && filter_follows(ps)) {
            lex(ps);
            if (!enter(ps))
                return NULL;
            node *f = expression(ps);
            ps->depth--;
            if (!f || !expect_p(ps, "]"))
                return NULL;
            n = mk2(ps, N_FILTER, 0, at, n, f);
        } else if (accept_p(ps, "(")) {
            if (!enter(ps))
                return NULL;
            node *c = mk(ps, N_CALL, at);
            if (!c)
                return NULL;
            if (n->kind == N_VAR) {
                c->bi = n->bi ? n->bi : baton_feel_builtin(n->name.s, n->name.len);
                c->name = n->name;
            }
            c->a = n;
            n = call_args(ps, c);
            ps->depth--;
            if (n && n->bi) {
                bool named = n->names != NULL;
                if (!named &&
                    (n->n < n->bi->min || (n->bi->max != BI_VARIADIC && n->n > n->bi->max)))
                    return fail_at(ps, at, "wrong number of arguments for %s()", n->bi->name);
            }
        } else {
            break;
        }
    }
    return n;
}

/* Negation binds tighter than `**` (-2 ** 2 is 4), as feelin and FEEL-Scala read it. */
static node *power(parser *ps) {
    node *n = unary(ps);
    while (n && is_p(ps, "**")) {
        const char *at = ps->tok.s;
        lex(ps);
        n = mk2(ps, N_ARITH, OP_POW, at, n, unary(ps));
    }
    return n;
}

static node *negate(parser *ps, node *a, const char *at) {
    if (!a)
        return NULL;
    if (a->kind == N_LIT && a->lit.t == T_NUM) {
        a->lit.u.d = bid128_negate(a->lit.u.d);
        a->col = column(ps, at);
        return a;
    }
    node *n = mk(ps, N_NEG, at);
    if (!n)
        return NULL;
    n->a = a;
    return seal(ps, n);
}

static node *unary(parser *ps) {
    if (is_p(ps, "-")) {
        const char *at = ps->tok.s;
        lex(ps);
        if (!enter(ps))
            return NULL;
        node *n = negate(ps, unary(ps), at);
        ps->depth--;
        return n;
    }
    return postfix(ps);
}

static node *multiplicative(parser *ps) {
    node *n = power(ps);
    while (n && (is_p(ps, "*") || is_p(ps, "/"))) {
        const char *at = ps->tok.s;
        int op = *at == '*' ? OP_MUL : OP_DIV;
        lex(ps);
        n = mk2(ps, N_ARITH, op, at, n, power(ps));
    }
    return n;
}

static node *additive(parser *ps) {
    node *n = multiplicative(ps);
    while (n && (is_p(ps, "+") || is_p(ps, "-"))) {
        const char *at = ps->tok.s;
        int op = *at == '+' ? OP_ADD : OP_SUB;
        lex(ps);
        n = mk2(ps, N_ARITH, op, at, n, multiplicative(ps));
    }
    return n;
}

static int cmp_op(const parser *ps) {
    if (ps->tok.t != TK_PUNCT)
        return 0;
    static const struct {
        const char *s;
        int op;
    } ops[] = {{"=", OP_EQ},  {"!=", OP_NE}, {"<", OP_LT},
               {"<=", OP_LE}, {">", OP_GT},  {">=", OP_GE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is_p(ps, ops[i].s))
            return ops[i].op;
    return 0;
}

/* One positive unary test after `in`. */
static node *unary_test(parser *ps) {
    int op = cmp_op(ps);
    if (op && op != OP_EQ && op != OP_NE) {
        node *r = primary(ps); /* `< 5` parses as a range */
        return r;
    }
    if (op) {
        const char *at = ps->tok.s;
        lex(ps);
        node *n = mk(ps, N_UTEST, at);
        if (!n || !(n->a = additive(ps)))
            return NULL;
        n->op = (uint8_t)op;
        return seal(ps, n);
    }
    return additive(ps);
}

static const ftype *parse_type(parser *ps);

static const ftype *type_word(parser *ps, const char *s, size_t len) {
    static const struct {
        const char *name;
        int base;
    } names[] = {{"Any", -1},
                 {"Null", T_NULL},
                 {"null", T_NULL},
                 {"boolean", T_BOOL},
                 {"number", T_NUM},
                 {"string", T_STR},
                 {"date", T_DATE},
                 {"time", T_TIME},
                 {"date and time", T_DT},
                 {"dateTime", T_DT},
                 {"days and time duration", T_DTD},
                 {"dayTimeDuration", T_DTD},
                 {"years and months duration", T_YMD},
                 {"yearMonthDuration", T_YMD},
                 {"list", T_LIST},
                 {"context", T_CTX},
                 {"range", T_RANGE},
                 {"function", T_FUNC}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == len && memcmp(names[i].name, s, len) == 0) {
            ftype *ft = baton_arena_zalloc(ps->arena, sizeof *ft);
            if (!ft) {
                oom(ps);
                return NULL;
            }
            ft->base = (int8_t)names[i].base;
            return ft;
        }
    }
    return NULL;
}

/* Type names after `instance of`, read straight from the text (they contain spaces). */
static const ftype *parse_type(parser *ps) {
    const char *p = ps->tok.s, *end = ps->end;
    const char *best = NULL;
    const ftype *ft = NULL;
    /* longest run of words that names a type */
    const char *q = p;
    while (q < end && name_start((unsigned char)*q)) {
        while (q < end && name_char((unsigned char)*q))
            q++;
        char buf[40];
        size_t k = 0;
        for (const char *r = p; r < q && k < sizeof buf - 1; r++) {
            if (is_space(*r)) {
                while (r + 1 < q && is_space(r[1]))
                    r++;
                buf[k++] = ' ';
            } else {
                buf[k++] = *r;
            }
        }
        const ftype *t = type_word(ps, buf, k);
        if (ps->st)
            return NULL;
        if (t) {
            ft = t;
            best = q;
        }
        const char *w = q;
        while (w < end && is_space(*w))
            w++;
        if (w == q || w >= end || !name_start((unsigned char)*w))
            break;
        q = w;
    }
    if (!ft) {
        fail_at(ps, p, "unknown type");
        return NULL;
    }
    ps->p = best;
    lex(ps);
    if ((ft->base == T_LIST || ft->base == T_RANGE || ft->base == T_CTX || ft->base == T_FUNC) &&
        accept_p(ps, "<")) {
        int nest = 1;
        if (ft->base == T_LIST || ft->base == T_RANGE) {
            const ftype *of = parse_type(ps);
            if (!of)
                return NULL;
            ((ftype *)ft)->of = of;
            nest = 1;
        }
        /* context<k: T> and function<T>->T are accepted; only the base is checked */
        while (nest > 0 && ps->tok.t != TK_EOF && !ps->st) {
            if (is_p(ps, "<"))
                nest++;
            else if (is_p(ps, ">"))
                nest--;
            if (nest == 0)
                break;
            lex(ps);
        }
        if (!expect_p(ps, ">"))
            return NULL;
        if (ft->base == T_FUNC && accept_p(ps, "->")) {
            if (!parse_type(ps))
                return NULL;
        }
    }
    return ft;
}

static node *comparison(parser *ps) {
    node *n = additive(ps);
    if (!n)
        return NULL;
    for (;;) {
        const char *at = ps->tok.s;
        int op = cmp_op(ps);
        if (op) {
            lex(ps);
            n = mk2(ps, N_CMP, op, at, n, additive(ps));
        } else if (is_kw(ps, "between")) {
            lex(ps);
            node *b = mk(ps, N_BETWEEN, at);
            if (!b)
                return NULL;
            b->a = n;
            if (!(b->b = additive(ps)))
                return NULL;
            if (!accept_kw(ps, "and"))
                return FAIL("expected 'and' in between");
            if (!(b->c = additive(ps)))
                return NULL;
            n = seal(ps, b);
        } else if (is_kw(ps, "in")) {
            lex(ps);
            node *in = mk(ps, N_IN, at);
            if (!in)
                return NULL;
            in->a = n;
            vec v = {0};
            if (is_p(ps, "(")) {
                const char *open = ps->tok.s;
                lex(ps);
                if (!enter(ps))
                    return NULL;
                node *first = unary_test(ps);
                if (first && is_p(ps, "..")) { /* (a..b) and (a..b] ranges */
                    lex(ps);
                    node *hi = expression(ps);
                    int rop = 0;
                    if (accept_p(ps, "]"))
                        rop = 2;
                    else if (!accept_p(ps, ")") && !accept_p(ps, "["))
                        return FAIL("expected ')' or ']' to close the range");
                    first = mk2(ps, N_RANGE, 0, open, first, hi);
                    if (first)
                        first->op = (uint8_t)rop;
                    if (!vec_push(ps, &v, first, NULL, 0))
                        return NULL;
                } else {
                    if (!vec_push(ps, &v, first, NULL, 0))
                        return NULL;
                    while (accept_p(ps, ","))
                        if (!vec_push(ps, &v, unary_test(ps), NULL, 0))
                            return NULL;
                    if (!expect_p(ps, ")"))
                        return NULL;
                }
                ps->depth--;
            } else if (!vec_push(ps, &v, unary_test(ps), NULL, 0)) {
                return NULL;
            }
            n = with_kids(ps, in, &v, false);
        } else if (is_kw(ps, "instance")) {
            lex(ps);
            if (!accept_kw(ps, "of"))
                return FAIL("expected 'of' after 'instance'");
            node *io = mk(ps, N_INSTOF, at);
            if (!io)
                return NULL;
            io->a = n;
            if (!(io->type = parse_type(ps)))
                return NULL;
            n = seal(ps, io);
        } else {
            break;
        }
        if (!n)
            return NULL;
    }
    return n;
}

static node *conjunction(parser *ps) {
    node *n = comparison(ps);
    while (n && is_kw(ps, "and")) {
        const char *at = ps->tok.s;
        lex(ps);
        n = mk2(ps, N_AND, 0, at, n, comparison(ps));
    }
    return n;
}

static node *disjunction(parser *ps) {
    node *n = conjunction(ps);
    while (n && is_kw(ps, "or")) {
        const char *at = ps->tok.s;
        lex(ps);
        n = mk2(ps, N_OR, 0, at, n, conjunction(ps));
    }
    return n;
}

static node *expression(parser *ps) {
    if (!enter(ps))
        return NULL;
    node *n = disjunction(ps);
    ps->depth--;
    return n;
}

/* ---- JUEL grammar ------------------------------------------------------------------- */

static node *j_expr(parser *ps);

static int j_word_op(const parser *ps) {
    static const struct {
        const char *s;
        int op;
    } ops[] = {{"eq", OP_EQ}, {"ne", OP_NE}, {"lt", OP_LT},   {"le", OP_LE},
               {"gt", OP_GT}, {"ge", OP_GE}, {"div", OP_DIV}, {"mod", OP_MOD}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is_kw(ps, ops[i].s))
            return ops[i].op;
    return 0;
}

static node *j_primary(parser *ps) {
    const token *t = &ps->tok;
    const char *at = t->s;
    switch (t->t) {
    case TK_NUM: return number_lit(ps);
    case TK_STR: return string_lit(ps);
    case TK_EOF: return fail_at(ps, ps->end, "unexpected end of expression");
    case TK_BAD: return NULL;
    case TK_NAME: {
        if (is_kw(ps, "true") || is_kw(ps, "false") || is_kw(ps, "null")) {
            node *n = mk(ps, N_LIT, at);
            if (!n)
                return NULL;
            if (at[0] != 'n')
                baton_feel_bool(&n->lit, at[0] == 't');
            lex(ps);
            return n;
        }
        if (reserved(t->s, t->len, true))
            return FAIL("unexpected keyword");
        const char *q = t->s + t->len;
        if (q < ps->end && *q == ':')
            return FAIL("JUEL functions (prefix:name()) are not supported");
        return var_node(ps);
    }
    default: break;
    }
    if (accept_p(ps, "(")) {
        if (!enter(ps))
            return NULL;
        node *n = j_expr(ps);
        ps->depth--;
        if (!n || !expect_p(ps, ")"))
            return NULL;
        return n;
    }
    if (is_p(ps, "["))
        return FAIL("JUEL list literals are not supported");
    if (is_p(ps, "{"))
        return FAIL("JUEL map and set literals are not supported");
    return FAIL("unexpected '%.*s'", (int)(t->len > 20 ? 20 : t->len), t->s);
}

static node *j_postfix(parser *ps) {
    node *n = j_primary(ps);
    while (n && !ps->st) {
        const char *at = ps->tok.s;
        if (accept_p(ps, ".")) {
            if (ps->tok.t != TK_NAME)
                return FAIL("expected a property name after '.'");
            node *p = mk(ps, N_PATH, at);
            if (!p)
                return NULL;
            p->a = n;
            p->name.s = ps->tok.s;
            p->name.len = (uint32_t)ps->tok.len;
            lex(ps);
            if (is_p(ps, "("))
                return FAIL("method calls are not supported in JUEL expressions");
            n = seal(ps, p);
        } else if (accept_p(ps, "[")) {
            if (!enter(ps))
                return NULL;
            node *ix = j_expr(ps);
            ps->depth--;
            if (!ix || !expect_p(ps, "]"))
                return NULL;
            n = mk2(ps, N_INDEX, 0, at, n, ix);
        } else if (is_p(ps, "(")) {
            return FAIL("function calls are not supported in JUEL expressions");
        } else {
            break;
        }
    }
    return n;
}

static node *j_unary(parser *ps) {
    const char *at = ps->tok.s;
    if (is_p(ps, "-") || is_p(ps, "!") || is_kw(ps, "not") || is_kw(ps, "empty")) {
        int kind = at[0] == '-' ? N_NEG : at[0] == 'e' ? N_EMPTY : N_NOT;
        lex(ps);
        if (!enter(ps))
            return NULL;
        node *a = j_unary(ps);
        ps->depth--;
        if (kind == N_NEG)
            return negate(ps, a, at);
        node *n = mk(ps, (nkind)kind, at);
        if (!n || !a)
            return NULL;
        n->a = a;
        return seal(ps, n);
    }
    return j_postfix(ps);
}

static node *j_mul(parser *ps) {
    node *n = j_unary(ps);
    for (;;) {
        const char *at = ps->tok.s;
        int op = is_p(ps, "*") ? OP_MUL : is_p(ps, "/") ? OP_DIV : is_p(ps, "%") ? OP_MOD : 0;
        int w = j_word_op(ps);
        if (w == OP_DIV || w == OP_MOD)
            op = w;
        if (!n || !op)
            return n;
        lex(ps);
        n = mk2(ps, N_ARITH, op, at, n, j_unary(ps));
    }
}

static node *j_add(parser *ps) {
    node *n = j_mul(ps);
    while (n && (is_p(ps, "+") || is_p(ps, "-"))) {
        const char *at = ps->tok.s;
        int op = *at == '+' ? OP_ADD : OP_SUB;
        lex(ps);
        n = mk2(ps, N_ARITH, op, at, n, j_mul(ps));
    }
    if (n && is_p(ps, "+="))
        return FAIL("string concatenation with += is not supported");
    return n;
}

static int j_cmp(const parser *ps, bool rel) {
    int w = j_word_op(ps);
    if (w >= OP_EQ) {
        bool is_rel = w >= OP_LT;
        return is_rel == rel ? w : 0;
    }
    if (!rel)
        return is_p(ps, "==") ? OP_EQ : is_p(ps, "!=") ? OP_NE : 0;
    return is_p(ps, "<")    ? OP_LT
           : is_p(ps, "<=") ? OP_LE
           : is_p(ps, ">")  ? OP_GT
           : is_p(ps, ">=") ? OP_GE
                            : 0;
}

static node *j_rel(parser *ps) {
    node *n = j_add(ps);
    int op;
    while (n && (op = j_cmp(ps, true))) {
        const char *at = ps->tok.s;
        lex(ps);
        n = mk2(ps, N_CMP, op, at, n, j_add(ps));
    }
    if (n && is_kw(ps, "instanceof"))
        return FAIL("instanceof is not supported in JUEL expressions");
    return n;
}

static node *j_eq(parser *ps) {
    node *n = j_rel(ps);
    int op;
    while (n && (op = j_cmp(ps, false))) {
        const char *at = ps->tok.s;
        lex(ps);
        n = mk2(ps, N_CMP, op, at, n, j_rel(ps));
    }
    if (n && is_p(ps, "="))
        return FAIL("assignment is not supported in JUEL expressions (use '==')");
    return n;
}

static node *j_and(parser *ps) {
    node *n = j_eq(ps);
    while (n && (is_p(ps, "&&") || is_kw(ps, "and"))) {
        const char *at = ps->tok.s;
        lex(ps);
        n = mk2(ps, N_AND, 0, at, n, j_eq(ps));
    }
    return n;
}

static node *j_or(parser *ps) {
    node *n = j_and(ps);
    while (n && (is_p(ps, "||") || is_kw(ps, "or"))) {
        const char *at = ps->tok.s;
        lex(ps);
        n = mk2(ps, N_OR, 0, at, n, j_and(ps));
    }
    return n;
}

static node *j_expr(parser *ps) {
    if (!enter(ps))
        return NULL;
    node *n = j_or(ps);
    if (n && is_p(ps, "?")) {
        const char *at = ps->tok.s;
        lex(ps);
        node *c = mk(ps, N_IF, at);
        if (!c)
            return NULL;
        c->a = n;
        if (!(c->b = j_expr(ps)))
            return NULL;
        if (!expect_p(ps, ":"))
            return NULL;
        if (!(c->c = j_expr(ps)))
            return NULL;
        n = seal(ps, c);
    }
    if (n && (is_p(ps, "->")))
        return FAIL("lambda expressions are not supported in JUEL expressions");
    if (n && is_p(ps, ";"))
        return FAIL("';' is not supported in JUEL expressions");
    ps->depth--;
    return n;
}

/* ---- templates and entry points ----------------------------------------------------- */

static node *parse_one(parser *ps, const char *s, const char *end, bool juel) {
    ps->p = s;
    ps->end = end;
    ps->juel = juel;
    ps->depth = 0;
    lex(ps);
    node *n = juel ? j_expr(ps) : expression(ps);
    if (n && ps->tok.t != TK_EOF) {
        if (!juel && (is_p(ps, "=") || cmp_op(ps)))
            return FAIL("unexpected comparison");
        return FAIL("unexpected '%.*s' after the expression",
                    (int)(ps->tok.len > 20 ? 20 : ps->tok.len), ps->tok.s);
    }
    return n;
}

/* End of a ${...} body: the matching '}', skipping strings; NULL if none. */
static const char *juel_close(const char *p, const char *end) {
    int nest = 0;
    while (p < end) {
        char c = *p;
        if (c == '"' || c == '\'') {
            p++;
            while (p < end && *p != c) {
                if (*p == '\\')
                    p++;
                p++;
            }
        } else if (c == '{') {
            nest++;
        } else if (c == '}') {
            if (nest-- == 0)
                return p;
        }
        p++;
    }
    return NULL;
}

static node *template_lit(parser *ps, const char *s, size_t len, const char *at) {
    node *n = mk(ps, N_LIT, at);
    char *t = baton_arena_strndup(ps->arena, s, len);
    if (!n || !t)
        return n ? oom(ps) : NULL;
    /* \${ and \#{ stand for the text ${ and #{ */
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '\\' && i + 2 < len + 1 && (t[i + 1] == '$' || t[i + 1] == '#') &&
            i + 2 < len && t[i + 2] == '{')
            continue;
        t[k++] = t[i];
    }
    t[k] = '\0';
    baton_feel_str(&n->lit, t, k);
    return n;
}

static node *juel_template(parser *ps, const char *s, const char *end) {
    vec v = {0};
    const char *text = s, *p = s;
    bool only_expr = true;
    while (p < end) {
        if ((p[0] == '$' || p[0] == '#') && p + 1 < end && p[1] == '{' &&
            !(p > s && p[-1] == '\\')) {
            if (p > text) {
                only_expr = false;
                if (!vec_push(ps, &v, template_lit(ps, text, (size_t)(p - text), text), NULL, 0))
                    return NULL;
            }
            const char *close = juel_close(p + 2, end);
            if (!close)
                return fail_at(ps, p, "unterminated '%c{'", p[0]);
            parser sub = *ps;
            node *e = parse_one(&sub, p + 2, close, true);
            if (sub.st) {
                ps->st = sub.st;
                return NULL;
            }
            if (!vec_push(ps, &v, e, NULL, 0))
                return NULL;
            p = text = close + 1;
            continue;
        }
        p++;
    }
    if (text < end) {
        only_expr = false;
        if (!vec_push(ps, &v, template_lit(ps, text, (size_t)(end - text), text), NULL, 0))
            return NULL;
    }
    if (only_expr && v.n == 1)
        return v.v[0];
    if (v.n == 0)
        return template_lit(ps, "", 0, s);
    return with_kids(ps, mk(ps, N_TEMPLATE, s), &v, false);
}

baton_status baton_feel_parse(baton_expr *e, const char *src, size_t len, baton_expr_lang lang,
                              baton_error *err) {
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.src = e->src;
    ps.arena = e->arena;
    ps.err = err;
    node *root = lang == BATON_EXPR_JUEL ? juel_template(&ps, src, src + len)
                                         : parse_one(&ps, src, src + len, false);
    if (ps.st)
        return ps.st;
    if (!root)
        return baton_error_set(err, BATON_EXPR, "empty expression");
    e->root = root;
    return BATON_OK;
}
