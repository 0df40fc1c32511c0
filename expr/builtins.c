/*
 * builtins.c - the built-in functions of DMN 1.4 chapter 10.3.4
 * (conversion, boolean, string, list, numeric, date/time, range, temporal,
 * context, sort) plus the Camunda extras users rely on (is defined,
 * get or else, string join with prefix/suffix, context put/merge, trim,
 * extract, last day of month, ...). One table, sorted by nothing: lookups
 * happen at compile time only.
 *
 * Conventions: a wrong argument type gives null (DMN 10.3.2.5), never an
 * error; linear work over lists is charged to the step bound; results live
 * in the evaluation's scratch memory. Regular expressions use POSIX ERE
 * after translating the XML Schema escapes (\d \w \s ...); patterns that
 * need features ERE lacks (lazy quantifiers, look-around) give null.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "expr/civil.h"
#include "expr/expr_int.h"
#include "expr/temporal.h"
#include "expr/tz.h"

#define NUL(...) baton_feel_null(x, out, __VA_ARGS__)
#define BI(name) static baton_status name(ev *x, fv *a, uint32_t n, fv *out)

/* ---- helpers ------------------------------------------------------------------------ */

static baton_status charge(ev *x, uint64_t n) {
    if (n > (uint64_t)(x->max_steps - x->steps))
        return baton_error_set(x->err, BATON_LIMIT,
                               "evaluation exceeded %u steps (expression too expensive)",
                               x->max_steps);
    x->steps += (uint32_t)n;
    return BATON_OK;
}

static void mklist(fv *out, const fv *items, uint32_t n) {
    memset(out, 0, sizeof *out);
    out->t = T_LIST;
    out->n = n;
    out->u.items = items;
}

static void mkint(fv *out, int64_t v) {
    baton_feel_num(out, bid128_from_int64(v));
}

static bool get_int(const fv *v, int64_t *out) {
    return v->t == T_NUM && baton_dec_to_int(v->u.d, out);
}

static char *dupz(ev *x, const char *s, size_t n) {
    char *d = baton_feel_alloc(x, n + 1);
    if (d) {
        baton_copy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static baton_status items_of(ev *x, const fv *l, const fv **items, uint32_t *n) {
    baton_status st = baton_feel_list_items(x, l, items, n);
    return st ? st : charge(x, *n);
}

/* Aggregates take one list or their arguments as the list. */
static baton_status agg_items(ev *x, fv *a, uint32_t n, const fv **items, uint32_t *cnt) {
    if (n == 1 && a[0].t == T_LIST)
        return items_of(x, &a[0], items, cnt);
    *items = a;
    *cnt = n;
    return BATON_OK;
}

/* UTF-8 code points. */
static size_t cp_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static size_t cp_offset(const char *s, size_t n, size_t k) { /* byte offset of code point k */
    size_t i = 0;
    while (i < n && k) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        k--;
    }
    return i;
}

static baton_status mkstr(ev *x, fv *out, const char *s, size_t len) {
    char *d = dupz(x, s, len);
    if (!d)
        return x->err->code;
    baton_feel_str(out, d, len);
    return BATON_OK;
}

static const char *find_sub(const char *h, size_t hn, const char *nd, size_t nn) {
    if (nn == 0)
        return h;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0)
            return h + i;
    return NULL;
}

/* ---- conversion -------------------------------------------------------------------- */

static baton_status parse_as(ev *x, const fv *s, int want, fv *out) {
    if (s->t != T_STR)
        return NUL("expected a string");
    baton_status st = baton_feel_parse_temporal(s->u.s, s->n, want, out, x->err);
    if (st)
        return st;
    if (out->t == T_NULL)
        return NUL("'%.*s' is not a valid %s", (int)(s->n > 40 ? 40 : s->n), s->u.s,
                   want == T_DATE   ? "date"
                   : want == T_TIME ? "time"
                   : want == T_DT   ? "date and time"
                                    : "duration");
    return BATON_OK;
}

BI(f_date) {
    if (n == 1) {
        if (a[0].t == T_DATE) {
            *out = a[0];
            return BATON_OK;
        }
        if (a[0].t == T_DT) {
            memset(out, 0, sizeof *out);
            out->t = T_DATE;
            out->u.i = baton_floordiv(a[0].u.tm.a, BATON_DAY_S);
            return BATON_OK;
        }
        return parse_as(x, &a[0], T_DATE, out);
    }
    int64_t y, m, d;
    if (n != 3 || !get_int(&a[0], &y) || !get_int(&a[1], &m) || !get_int(&a[2], &d) ||
        y < -BATON_MAX_YEAR || y > BATON_MAX_YEAR || m < 1 || m > 12 || d < 1 ||
        d > baton_month_days(y, (int)m))
        return NUL("invalid date");
    memset(out, 0, sizeof *out);
    out->t = T_DATE;
    out->u.i = baton_days_from_civil(y, (int)m, (int)d);
    return BATON_OK;
}

BI(f_time) {
    if (n == 1) {
        if (a[0].t == T_TIME) {
            *out = a[0];
            return BATON_OK;
        }
        if (a[0].t == T_DT) {
            memset(out, 0, sizeof *out);
            out->t = T_TIME;
            out->k = a[0].k;
            out->zone = a[0].zone;
            out->u.tm.a = baton_floormod(a[0].u.tm.a, BATON_DAY_S) * BATON_NS_PER_S + a[0].u.tm.ns;
            out->u.tm.off = a[0].u.tm.off;
            return BATON_OK;
        }
        if (a[0].t == T_DATE) {
            memset(out, 0, sizeof *out);
            out->t = T_TIME;
            out->k = BATON_TM_OFFSET;
            return BATON_OK;
        }
        return parse_as(x, &a[0], T_TIME, out);
    }
    int64_t h, m;
    if (n < 3 || !get_int(&a[0], &h) || !get_int(&a[1], &m) || a[2].t != T_NUM || h < 0 || h > 23 ||
        m < 0 || m > 59)
        return NUL("invalid time");
    _IDEC_flags f = 0;
    dec ns = bid128_round_integral_zero(baton_dec_scalbn(a[2].u.d, 9), &f);
    int64_t nsi;
    if (!baton_dec_to_int(ns, &nsi) || nsi < 0 || nsi >= 60 * BATON_NS_PER_S)
        return NUL("invalid time");
    memset(out, 0, sizeof *out);
    out->t = T_TIME;
    out->u.tm.a = (h * 3600 + m * 60) * BATON_NS_PER_S + nsi;
    if (n == 4 && a[3].t == T_DTD) {
        if (a[3].u.tm.a < -18 * 3600 || a[3].u.tm.a > 18 * 3600)
            return NUL("invalid offset");
        out->k = BATON_TM_OFFSET;
        out->u.tm.off = (int32_t)a[3].u.tm.a;
    } else if (n == 4 && a[3].t != T_NULL) {
        return NUL("invalid offset");
    }
    return BATON_OK;
}

BI(f_date_and_time) {
    if (n == 1) {
        if (a[0].t == T_DT) {
            *out = a[0];
            return BATON_OK;
        }
        if (a[0].t == T_DATE) {
            memset(out, 0, sizeof *out);
            out->t = T_DT;
            out->u.tm.a = a[0].u.i * BATON_DAY_S;
            return BATON_OK;
        }
        return parse_as(x, &a[0], T_DT, out);
    }
    const fv *d = &a[0], *t = &a[1];
    if ((d->t != T_DATE && d->t != T_DT) || t->t != T_TIME)
        return NUL("date and time() expects a date and a time");
    int64_t days = d->t == T_DATE ? d->u.i : baton_floordiv(d->u.tm.a, BATON_DAY_S);
    int64_t local = days * BATON_DAY_S + t->u.tm.a / BATON_NS_PER_S;
    int32_t ns = (int32_t)(t->u.tm.a % BATON_NS_PER_S);
    if (t->k == BATON_TM_ZONE) {
        baton_feel_dt_zoned(out, local, ns, t->zone);
        return BATON_OK;
    }
    memset(out, 0, sizeof *out);
    out->t = T_DT;
    out->k = t->k;
    out->u.tm.a = local;
    out->u.tm.ns = ns;
    out->u.tm.off = t->u.tm.off;
    return BATON_OK;
}

BI(f_duration) {
    (void)n;
    if (a[0].t == T_DTD || a[0].t == T_YMD) {
        *out = a[0];
        return BATON_OK;
    }
    return parse_as(x, &a[0], -2, out);
}

BI(f_ymd) {
    (void)n;
    int64_t d1, d2, t1 = 0, t2 = 0;
    for (int i = 0; i < 2; i++) {
        const fv *v = &a[i];
        int64_t *d = i ? &d2 : &d1, *t = i ? &t2 : &t1;
        if (v->t == T_DATE) {
            *d = v->u.i;
        } else if (v->t == T_DT) {
            *d = baton_floordiv(v->u.tm.a, BATON_DAY_S);
            *t = baton_floormod(v->u.tm.a, BATON_DAY_S) * BATON_NS_PER_S + v->u.tm.ns;
        } else {
            return NUL("years and months duration() expects dates");
        }
    }
    int64_t y1, y2;
    int m1, m2, dd1, dd2;
    baton_civil_from_days(d1, &y1, &m1, &dd1);
    baton_civil_from_days(d2, &y2, &m2, &dd2);
    int64_t months = (y2 - y1) * 12 + (m2 - m1);
    /* whole months only: drop a month not yet completed */
    if (months > 0 && (dd2 < dd1 || (dd2 == dd1 && t2 < t1)))
        months--;
    else if (months < 0 && (dd2 > dd1 || (dd2 == dd1 && t2 > t1)))
        months++;
    memset(out, 0, sizeof *out);
    out->t = T_YMD;
    out->u.i = months;
    return BATON_OK;
}

BI(f_number) {
    if (a[0].t == T_NUM) {
        *out = a[0];
        return BATON_OK;
    }
    if (a[0].t != T_STR)
        return NUL("number() expects a string");
    const fv *grp = n > 1 ? &a[1] : NULL, *decs = n > 2 ? &a[2] : NULL;
    if (grp && grp->t != T_NULL && (grp->t != T_STR || grp->n != 1 || !strchr(" ,.", grp->u.s[0])))
        return NUL("invalid grouping separator");
    if (decs && decs->t != T_NULL &&
        (decs->t != T_STR || decs->n != 1 || !strchr(",.", decs->u.s[0])))
        return NUL("invalid decimal separator");
    if (grp && decs && grp->t == T_STR && decs->t == T_STR && grp->u.s[0] == decs->u.s[0])
        return NUL("separators must differ");
    char buf[160];
    size_t k = 0;
    for (uint32_t i = 0; i < a[0].n; i++) {
        char c = a[0].u.s[i];
        if (grp && grp->t == T_STR && c == grp->u.s[0])
            continue;
        if (decs && decs->t == T_STR && c == decs->u.s[0])
            c = '.';
        else if (c == '.' && decs && decs->t == T_STR)
            return NUL("not a number");
        if (k >= sizeof buf - 1)
            return NUL("not a number");
        buf[k++] = c;
    }
    dec d;
    if (!baton_dec_parse(buf, k, &d))
        return NUL("'%.*s' is not a number", (int)(a[0].n > 40 ? 40 : a[0].n), a[0].u.s);
    baton_feel_num(out, d);
    return BATON_OK;
}

BI(f_string) {
    (void)n;
    if (a[0].t == T_NULL)
        return NUL(NULL);
    if (a[0].t == T_STR) {
        *out = a[0];
        return BATON_OK;
    }
    baton_buf b;
    baton_buf_init(&b, x->mem.limit);
    baton_status st = baton_feel_to_text(&a[0], &b);
    if (!st)
        st = mkstr(x, out, baton_buf_str(&b), b.len);
    else
        st = baton_error_set(x->err, st, st == BATON_NOMEM ? "out of memory" : "string too large");
    baton_buf_fini(&b);
    return st;
}

/* ---- boolean ------------------------------------------------------------------------ */

BI(f_not) {
    (void)n;
    if (a[0].t != T_BOOL)
        return NUL("not() of a non-boolean");
    baton_feel_bool(out, !a[0].u.b);
    return BATON_OK;
}

BI(f_is_defined) {
    (void)x, (void)n;
    baton_feel_bool(out, a[0].t != T_NULL);
    return BATON_OK;
}

BI(f_get_or_else) {
    (void)x, (void)n;
    *out = a[0].t != T_NULL ? a[0] : a[1];
    return BATON_OK;
}

/* ---- strings ------------------------------------------------------------------------ */

BI(f_substring) {
    int64_t start, len = INT64_MAX;
    if (a[0].t != T_STR || !get_int(&a[1], &start) ||
        (n > 2 && a[2].t != T_NULL && !get_int(&a[2], &len)))
        return NUL("substring() expects a string and integer positions");
    int64_t total = (int64_t)cp_count(a[0].u.s, a[0].n);
    if (start < 0)
        start = total + start + 1;
    if (start < 1)
        start = 1; /* before the start: count from the first character */
    if (len < 0)
        return NUL("negative length");
    int64_t from = start - 1;
    if (from >= total) {
        baton_feel_str(out, "", 0);
        return BATON_OK;
    }
    int64_t to = len > total - from ? total : from + len;
    size_t b0 = cp_offset(a[0].u.s, a[0].n, (size_t)from);
    size_t b1 = cp_offset(a[0].u.s, a[0].n, (size_t)to);
    baton_feel_str(out, a[0].u.s + b0, b1 - b0);
    return BATON_OK;
}

BI(f_string_length) {
    (void)n;
    if (a[0].t != T_STR)
        return NUL("string length() expects a string");
    mkint(out, (int64_t)cp_count(a[0].u.s, a[0].n));
    return BATON_OK;
}

/* Case mapping for ASCII, Latin-1, Greek and Cyrillic (no locale involved). */
static uint32_t map_case(uint32_t c, bool up) {
    if (up) {
        if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) ||
            (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F))
            return c - 32;
        if (c >= 0x450 && c <= 0x45F)
            return c - 80;
        return c;
    }
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
        (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

static baton_status change_case(ev *x, const fv *s, bool up, fv *out) {
    if (s->t != T_STR)
        return NUL("expected a string");
    char *d = baton_feel_alloc(x, (size_t)s->n + 1);
    if (!d)
        return x->err->code;
    const unsigned char *p = (const unsigned char *)s->u.s;
    size_t i = 0, k = 0;
    while (i < s->n) {
        uint32_t c = p[i];
        if (c < 0x80) {
            d[k++] = (char)map_case(c, up);
            i++;
        } else if (up && c == 0xC3 && i + 1 < s->n && p[i + 1] == 0x9F) {
            d[k++] = 'S'; /* sharp s upper-cases to SS, same byte length */
            d[k++] = 'S';
            i += 2;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < s->n && (p[i + 1] & 0xC0) == 0x80) {
            uint32_t cp = (c & 0x1F) << 6 | (p[i + 1] & 0x3F);
            uint32_t m = map_case(cp, up);
            if (m < 0x80 || m >= 0x800)
                m = cp; /* keep the byte length */
            d[k++] = (char)(0xC0 | m >> 6);
            d[k++] = (char)(0x80 | (m & 0x3F));
            i += 2;
        } else {
            d[k++] = (char)p[i++];
        }
    }
    d[k] = '\0';
    baton_feel_str(out, d, k);
    return BATON_OK;
}

BI(f_upper) {
    (void)n;
    return change_case(x, &a[0], true, out);
}

BI(f_lower) {
    (void)n;
    return change_case(x, &a[0], false, out);
}

static bool two_strings(const fv *a) {
    return a[0].t == T_STR && a[1].t == T_STR;
}

BI(f_substring_before) {
    (void)n;
    if (!two_strings(a))
        return NUL("expected strings");
    const char *p = find_sub(a[0].u.s, a[0].n, a[1].u.s, a[1].n);
    baton_feel_str(out, a[0].u.s, p ? (size_t)(p - a[0].u.s) : 0);
    return BATON_OK;
}

BI(f_substring_after) {
    (void)n;
    if (!two_strings(a))
        return NUL("expected strings");
    const char *p = find_sub(a[0].u.s, a[0].n, a[1].u.s, a[1].n);
    if (!p)
        baton_feel_str(out, "", 0);
    else
        baton_feel_str(out, p + a[1].n, a[0].n - (size_t)(p - a[0].u.s) - a[1].n);
    return BATON_OK;
}

BI(f_contains) {
    (void)n;
    if (!two_strings(a))
        return NUL("expected strings");
    baton_feel_bool(out, find_sub(a[0].u.s, a[0].n, a[1].u.s, a[1].n) != NULL);
    return BATON_OK;
}

BI(f_starts_with) {
    (void)n;
    if (!two_strings(a))
        return NUL("expected strings");
    baton_feel_bool(out, a[1].n <= a[0].n && memcmp(a[0].u.s, a[1].u.s, a[1].n) == 0);
    return BATON_OK;
}

BI(f_ends_with) {
    (void)n;
    if (!two_strings(a))
        return NUL("expected strings");
    baton_feel_bool(out,
                    a[1].n <= a[0].n && memcmp(a[0].u.s + a[0].n - a[1].n, a[1].u.s, a[1].n) == 0);
    return BATON_OK;
}

BI(f_trim) {
    (void)x, (void)n;
    if (a[0].t != T_STR)
        return NUL("expected a string");
    const char *s = a[0].u.s;
    size_t len = a[0].n;
    while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++, len--;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    baton_feel_str(out, s, len);
    return BATON_OK;
}

/* XML Schema regular expression -> POSIX ERE; false when ERE cannot express it. */
/*
 * glibc's regcomp copies the subtree of every quantifier, so stacked
 * quantifiers (`a++++`) and nested counts (`(a{99}){99}`) cost memory
 * exponential in the pattern: XML Schema forbids the first, and counted
 * repetitions are bounded here to a product of REGEX_MAX_REPEAT.
 */
#define REGEX_MAX_REPEAT 1000

static bool regex_translate(const char *p, size_t n, bool literal, baton_buf *b) {
    bool in_class = false, after_quant = false;
    long repeat = 1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!literal && !in_class) {
            bool quant = c == '*' || c == '+' || c == '?' || c == '{';
            if (quant && after_quant)
                return false;
            after_quant = quant;
            if (c == '{') {
                long lo = 0, hi = -1;
                size_t j = i + 1;
                while (j < n && p[j] >= '0' && p[j] <= '9' && lo <= 1000)
                    lo = lo * 10 + (p[j++] - '0');
                if (j < n && p[j] == ',') {
                    j++;
                    if (j < n && p[j] >= '0' && p[j] <= '9') {
                        hi = 0;
                        while (j < n && p[j] >= '0' && p[j] <= '9' && hi <= 1000)
                            hi = hi * 10 + (p[j++] - '0');
                    }
                }
                long count = (hi > lo ? hi : lo) + 1;
                if (j >= n || p[j] != '}' || count > REGEX_MAX_REPEAT ||
                    (repeat *= count) > REGEX_MAX_REPEAT)
                    return false;
                baton_buf_append(b, p + i, j - i + 1);
                i = j;
                continue;
            }
        }
        if (literal) {
            if (strchr(".[]()*+?{}|^$\\", c))
                baton_buf_putc(b, '\\');
            baton_buf_putc(b, c);
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            char e = p[++i];
            const char *cls = NULL, *ncls = NULL;
            switch (e) {
            case 'd': cls = "0-9"; break;
            case 'D': ncls = "0-9"; break;
            case 'w': cls = "[:alnum:]_"; break;
            case 'W': ncls = "[:alnum:]_"; break;
            case 's': cls = "[:space:]"; break;
            case 'S': ncls = "[:space:]"; break;
            case 'n': baton_buf_putc(b, '\n'); continue;
            case 't': baton_buf_putc(b, '\t'); continue;
            case 'r': baton_buf_putc(b, '\r'); continue;
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
                    return false; /* back-references, \p{..}, \i ...: not in ERE */
                if (in_class) {
                    if (e == ']' || e == '\\' || e == '-' || e == '^')
                        baton_buf_puts(b, e == ']' ? "]" : e == '\\' ? "\\" : e == '-' ? "-" : "^");
                    else
                        baton_buf_putc(b, e);
                } else {
                    baton_buf_putc(b, '\\');
                    baton_buf_putc(b, e);
                }
                continue;
            }
            if (in_class) {
                if (ncls)
                    return false;
                baton_buf_puts(b, cls);
            } else {
                baton_buf_puts(b, cls ? "[" : "[^");
                baton_buf_puts(b, cls ? cls : ncls);
                baton_buf_putc(b, ']');
            }
            continue;
        }
        if (in_class && c == ']')
            in_class = false;
        else if (!in_class && c == '[') {
            in_class = true;
            baton_buf_putc(b, c);
            if (i + 1 < n && p[i + 1] == '^')
                baton_buf_putc(b, p[++i]);
            if (i + 1 < n && p[i + 1] == ']')
                baton_buf_putc(b, p[++i]);
            continue;
        } else if (!in_class && (c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < n &&
                   p[i + 1] == '?') {
            return false; /* lazy quantifier */
        } else if (!in_class && c == '(' && i + 1 < n && p[i + 1] == '?') {
            return false; /* (?:...) and look-around */
        }
        baton_buf_putc(b, c);
    }
    return !in_class;
}

#define REGEX_MAX 1000

static baton_status regex_compile(ev *x, const fv *pat, const fv *flags, regex_t *re, bool *ok) {
    *ok = false;
    int cflags = REG_EXTENDED;
    bool literal = false, ext = false;
    if (flags && flags->t == T_STR) {
        for (uint32_t i = 0; i < flags->n; i++) {
            switch (flags->u.s[i]) {
            case 'i': cflags |= REG_ICASE; break;
            case 'm': cflags |= REG_NEWLINE; break;
            case 'q': literal = true; break;
            case 'x': ext = true; break;
            case 's': break;
            default: return BATON_OK;
            }
        }
    }
    if (pat->t != T_STR || pat->n > REGEX_MAX)
        return BATON_OK;
    baton_buf b;
    baton_buf_init(&b, 8 * REGEX_MAX);
    const char *ps = pat->u.s;
    size_t pn = pat->n;
    char *stripped = NULL;
    if (ext) { /* x: white space in the pattern is insignificant */
        stripped = baton_feel_alloc(x, pn + 1);
        if (!stripped) {
            baton_buf_fini(&b);
            return x->err->code;
        }
        size_t k = 0;
        for (size_t i = 0; i < pn; i++)
            if (ps[i] != ' ' && ps[i] != '\t' && ps[i] != '\n' && ps[i] != '\r')
                stripped[k++] = ps[i];
        ps = stripped;
        pn = k;
    }
    bool tr = regex_translate(ps, pn, literal, &b);
    if (tr && b.data && !memchr(b.data, '\0', b.len) && regcomp(re, b.data, cflags) == 0)
        *ok = true;
    else if (tr && !b.data && regcomp(re, "", cflags) == 0)
        *ok = true;
    baton_buf_fini(&b);
    return BATON_OK;
}

BI(f_matches) {
    if (a[0].t != T_STR || a[1].t != T_STR)
        return NUL("matches() expects strings");
    regex_t re;
    bool ok;
    baton_status st = regex_compile(x, &a[1], n > 2 ? &a[2] : NULL, &re, &ok);
    if (st || !ok)
        return st ? st : NUL("invalid or unsupported regular expression");
    char *s = dupz(x, a[0].u.s, a[0].n);
    if (!s) {
        regfree(&re);
        return x->err->code;
    }
    baton_feel_bool(out, regexec(&re, s, 0, NULL, 0) == 0);
    regfree(&re);
    return charge(x, a[0].n);
}

BI(f_replace) {
    if (a[0].t != T_STR || a[1].t != T_STR || a[2].t != T_STR)
        return NUL("replace() expects strings");
    regex_t re;
    bool ok;
    baton_status st = regex_compile(x, &a[1], n > 3 ? &a[3] : NULL, &re, &ok);
    if (st || !ok)
        return st ? st : NUL("invalid or unsupported regular expression");
    char *s = dupz(x, a[0].u.s, a[0].n);
    baton_buf b;
    baton_buf_init(&b, x->mem.limit);
    if (!s) {
        regfree(&re);
        return x->err->code;
    }
    const char *p = s;
    regmatch_t m[10];
    int eflags = 0;
    while (!st && regexec(&re, p, 10, m, eflags) == 0) {
        st = baton_buf_append(&b, p, (size_t)m[0].rm_so);
        const char *r = a[2].u.s;
        for (uint32_t i = 0; i < a[2].n && !st; i++) {
            if (r[i] == '\\' && i + 1 < a[2].n) {
                st = baton_buf_putc(&b, r[++i]);
            } else if (r[i] == '$' && i + 1 < a[2].n && r[i + 1] >= '0' && r[i + 1] <= '9') {
                int g = r[++i] - '0';
                if (m[g].rm_so >= 0)
                    st = baton_buf_append(&b, p + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
            } else {
                st = baton_buf_putc(&b, r[i]);
            }
        }
        if (m[0].rm_eo == m[0].rm_so) { /* empty match: copy one character and move on */
            if (!*(p + m[0].rm_eo))
                break;
            if (!st)
                st = baton_buf_putc(&b, p[m[0].rm_eo]);
            p += m[0].rm_eo + 1;
        } else {
            p += m[0].rm_eo;
        }
        eflags = REG_NOTBOL;
        if (!st)
            st = charge(x, 1);
    }
    regfree(&re);
    if (!st)
        st = baton_buf_puts(&b, p);
    if (!st)
        st = mkstr(x, out, baton_buf_str(&b), b.len);
    else if (!baton_error_isset(x->err))
        baton_error_set(x->err, st, "replace() result too large");
    baton_buf_fini(&b);
    return st;
}

BI(f_split) {
    (void)n;
    if (a[0].t != T_STR || a[1].t != T_STR)
        return NUL("split() expects strings");
    regex_t re;
    bool ok;
    baton_status st = regex_compile(x, &a[1], NULL, &re, &ok);
    if (st || !ok)
        return st ? st : NUL("invalid or unsupported regular expression");
    char *s = dupz(x, a[0].u.s, a[0].n);
    if (!s) {
        regfree(&re);
        return x->err->code;
    }
    uint32_t cap = 8, cnt = 0;
    fv *items = baton_feel_alloc(x, cap * sizeof *items);
    const char *p = s;
    regmatch_t m;
    int eflags = 0;
    while (items && regexec(&re, p, 1, &m, eflags) == 0 && m.rm_eo > m.rm_so) {
        if (cnt + 2 > cap) {
            fv *nv = baton_feel_alloc(x, cap * 2 * sizeof *nv);
            if (nv)
                baton_copy(nv, items, cnt * sizeof *nv);
            items = nv;
            cap *= 2;
            if (!items)
                break;
        }
        baton_feel_str(&items[cnt++], p, (size_t)m.rm_so);
        p += m.rm_eo;
        eflags = REG_NOTBOL;
        if ((st = charge(x, 1)))
            break;
    }
    regfree(&re);
    if (!items)
        return x->err->code;
    if (st)
        return st;
    baton_feel_str(&items[cnt++], p, strlen(p));
    mklist(out, items, cnt);
    return BATON_OK;
}

BI(f_extract) {
    (void)n;
    if (a[0].t != T_STR || a[1].t != T_STR)
        return NUL("extract() expects strings");
    regex_t re;
    bool ok;
    baton_status st = regex_compile(x, &a[1], NULL, &re, &ok);
    if (st || !ok)
        return st ? st : NUL("invalid or unsupported regular expression");
    char *s = dupz(x, a[0].u.s, a[0].n);
    fv *items = s ? baton_feel_alloc(x, (a[0].n + 1) * sizeof *items) : NULL;
    uint32_t cnt = 0;
    const char *p = s;
    regmatch_t m;
    int eflags = 0;
    while (items && *p && regexec(&re, p, 1, &m, eflags) == 0) {
        baton_feel_str(&items[cnt++], p + m.rm_so, (size_t)(m.rm_eo - m.rm_so));
        p += m.rm_eo > m.rm_so ? m.rm_eo : m.rm_eo + 1;
        eflags = REG_NOTBOL;
    }
    regfree(&re);
    if (!items)
        return x->err->code;
    mklist(out, items, cnt);
    return BATON_OK;
}

BI(f_string_join) {
    if (a[0].t != T_LIST)
        return NUL("string join() expects a list");
    const fv *delim = n > 1 && a[1].t != T_NULL ? &a[1] : NULL;
    if ((delim && delim->t != T_STR) || (n > 2 && a[2].t != T_STR) || (n > 3 && a[3].t != T_STR))
        return NUL("string join() expects string separators");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    baton_buf b;
    baton_buf_init(&b, x->mem.limit);
    if (n > 2)
        st = baton_buf_append(&b, a[2].u.s, a[2].n);
    bool first = true;
    for (uint32_t i = 0; i < cnt && !st; i++) {
        if (items[i].t == T_NULL)
            continue;
        if (items[i].t != T_STR) {
            baton_buf_fini(&b);
            return NUL("string join() of a non-string element");
        }
        if (!first && delim)
            st = baton_buf_append(&b, delim->u.s, delim->n);
        if (!st)
            st = baton_buf_append(&b, items[i].u.s, items[i].n);
        first = false;
    }
    if (!st && n > 3)
        st = baton_buf_append(&b, a[3].u.s, a[3].n);
    if (!st)
        st = mkstr(x, out, baton_buf_str(&b), b.len);
    else if (!baton_error_isset(x->err))
        baton_error_set(x->err, st, "string join() result too large");
    baton_buf_fini(&b);
    return st;
}

BI(f_is_blank) {
    (void)x, (void)n;
    if (a[0].t != T_STR)
        return NUL("expected a string");
    bool blank = true;
    for (uint32_t i = 0; i < a[0].n && blank; i++)
        blank = strchr(" \t\r\n", a[0].u.s[i]) != NULL;
    baton_feel_bool(out, blank);
    return BATON_OK;
}

/* ---- lists -------------------------------------------------------------------------- */

BI(f_list_contains) {
    (void)n;
    const fv *items;
    uint32_t cnt;
    if (a[0].t != T_LIST)
        return NUL("list contains() expects a list");
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    bool found = false;
    for (uint32_t i = 0; i < cnt && !found; i++)
        found = baton_feel_equal(x, &items[i], &a[1]) == 1;
    baton_feel_bool(out, found);
    return BATON_OK;
}

BI(f_count) {
    (void)x, (void)n;
    if (a[0].t != T_LIST)
        return NUL("count() expects a list");
    mkint(out, baton_feel_list_len(&a[0]));
    return BATON_OK;
}

static baton_status minmax(ev *x, fv *a, uint32_t n, fv *out, int sign) {
    const fv *items;
    uint32_t cnt;
    baton_status st = agg_items(x, a, n, &items, &cnt);
    if (st)
        return st;
    if (cnt == 0)
        return NUL("empty list");
    const fv *best = &items[0];
    for (uint32_t i = 1; i < cnt; i++) {
        int c = baton_feel_compare(&items[i], best);
        if (c == 2)
            return NUL("elements cannot be compared");
        if (c == sign)
            best = &items[i];
    }
    if (cnt == 1 && baton_feel_compare(best, best) == 2)
        return NUL("element cannot be compared");
    *out = *best;
    return BATON_OK;
}

BI(f_min) {
    return minmax(x, a, n, out, -1);
}

BI(f_max) {
    return minmax(x, a, n, out, 1);
}

static baton_status numbers(ev *x, fv *a, uint32_t n, const fv **items, uint32_t *cnt) {
    baton_status st = agg_items(x, a, n, items, cnt);
    if (st)
        return st;
    for (uint32_t i = 0; i < *cnt; i++)
        if ((*items)[i].t != T_NUM)
            return BATON_EVAL; /* signals "not all numbers" to the caller, no error set */
    return BATON_OK;
}

#define NUMBERS(items, cnt)                                                                        \
    do {                                                                                           \
        baton_status st_ = numbers(x, a, n, &items, &cnt);                                         \
        if (st_ == BATON_EVAL)                                                                     \
            return NUL("expected numbers");                                                        \
        if (st_)                                                                                   \
            return st_;                                                                            \
    } while (0)

static dec dsum(const fv *items, uint32_t cnt) {
    _IDEC_flags f = 0;
    dec s = bid128_from_int64(0);
    for (uint32_t i = 0; i < cnt; i++)
        s = bid128_add(s, items[i].u.d, DEC_RND, &f);
    return s;
}

static void numout(fv *out, dec d) {
    if (bid128_isFinite(d))
        baton_feel_num(out, d);
    else
        memset(out, 0, sizeof *out);
}

BI(f_sum) {
    const fv *items;
    uint32_t cnt;
    NUMBERS(items, cnt);
    if (cnt == 0)
        return NUL("sum() of an empty list");
    numout(out, dsum(items, cnt));
    return BATON_OK;
}

BI(f_product) {
    const fv *items;
    uint32_t cnt;
    NUMBERS(items, cnt);
    if (cnt == 0)
        return NUL("product() of an empty list");
    _IDEC_flags f = 0;
    dec p = bid128_from_int64(1);
    for (uint32_t i = 0; i < cnt; i++)
        p = bid128_mul(p, items[i].u.d, DEC_RND, &f);
    numout(out, p);
    return BATON_OK;
}

BI(f_mean) {
    const fv *items;
    uint32_t cnt;
    NUMBERS(items, cnt);
    if (cnt == 0)
        return NUL("mean() of an empty list");
    _IDEC_flags f = 0;
    numout(out, bid128_div(dsum(items, cnt), bid128_from_int64(cnt), DEC_RND, &f));
    return BATON_OK;
}

static int cmp_items(const void *p, const void *q) {
    return baton_dec_cmp(((const fv *)p)->u.d, ((const fv *)q)->u.d);
}

BI(f_median) {
    const fv *items;
    uint32_t cnt;
    NUMBERS(items, cnt);
    if (cnt == 0)
        return NUL("median() of an empty list");
    fv *s = baton_feel_alloc(x, cnt * sizeof *s);
    if (!s)
        return x->err->code;
    baton_copy(s, items, cnt * sizeof *s);
    qsort(s, cnt, sizeof *s, cmp_items);
    if (cnt % 2) {
        *out = s[cnt / 2];
    } else {
        _IDEC_flags f = 0;
        dec m = bid128_add(s[cnt / 2 - 1].u.d, s[cnt / 2].u.d, DEC_RND, &f);
        numout(out, bid128_div(m, bid128_from_int64(2), DEC_RND, &f));
    }
    return BATON_OK;
}

BI(f_stddev) {
    const fv *items;
    uint32_t cnt;
    NUMBERS(items, cnt);
    if (cnt < 2)
        return NUL("stddev() needs two numbers");
    _IDEC_flags f = 0;
    dec mean = bid128_div(dsum(items, cnt), bid128_from_int64(cnt), DEC_RND, &f);
    dec acc = bid128_from_int64(0);
    for (uint32_t i = 0; i < cnt; i++) {
        dec d = bid128_sub(items[i].u.d, mean, DEC_RND, &f);
        acc = bid128_add(acc, bid128_mul(d, d, DEC_RND, &f), DEC_RND, &f);
    }
    acc = bid128_div(acc, bid128_from_int64(cnt - 1), DEC_RND, &f);
    numout(out, bid128_sqrt(acc, DEC_RND, &f));
    return BATON_OK;
}

BI(f_mode) {
    const fv *items;
    uint32_t cnt;
    NUMBERS(items, cnt);
    fv *s = cnt ? baton_feel_alloc(x, 2 * cnt * sizeof *s) : NULL;
    if (cnt && !s)
        return x->err->code;
    if (cnt) {
        baton_copy(s, items, cnt * sizeof *s);
        qsort(s, cnt, sizeof *s, cmp_items);
    }
    uint32_t best = 0, nres = 0;
    fv *res = s ? s + cnt : NULL;
    for (uint32_t i = 0; i < cnt;) {
        uint32_t j = i;
        while (j < cnt && baton_dec_cmp(s[j].u.d, s[i].u.d) == 0)
            j++;
        if (j - i > best) {
            best = j - i;
            nres = 0;
        }
        if (j - i == best)
            res[nres++] = s[i];
        i = j;
    }
    mklist(out, res, nres);
    return BATON_OK;
}

static baton_status all_any(ev *x, fv *a, uint32_t n, fv *out, bool all) {
    const fv *items;
    uint32_t cnt;
    baton_status st = agg_items(x, a, n, &items, &cnt);
    if (st)
        return st;
    bool saw_null = false;
    for (uint32_t i = 0; i < cnt; i++) {
        if (items[i].t != T_BOOL) {
            saw_null = true;
            continue;
        }
        if (items[i].u.b != all) {
            baton_feel_bool(out, !all);
            return BATON_OK;
        }
    }
    if (saw_null)
        return NUL("non-boolean element");
    baton_feel_bool(out, all);
    return BATON_OK;
}

BI(f_all) {
    return all_any(x, a, n, out, true);
}

BI(f_any) {
    return all_any(x, a, n, out, false);
}

BI(f_sublist) {
    int64_t start, len = INT64_MAX;
    if (a[0].t != T_LIST || !get_int(&a[1], &start) || (n > 2 && !get_int(&a[2], &len)))
        return NUL("sublist() expects a list and integer positions");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    if (start < 0)
        start = (int64_t)cnt + start + 1;
    if (start < 1 || len < 0)
        return NUL("position out of range");
    if (start > (int64_t)cnt) { /* past the end: nothing left */
        mklist(out, items, 0);
        return BATON_OK;
    }
    int64_t avail = (int64_t)cnt - (start - 1);
    if (len > avail)
        len = avail;
    mklist(out, items + start - 1, (uint32_t)len);
    return BATON_OK;
}

static baton_status concat_lists(ev *x, const fv *lists, uint32_t n, fv *out, bool wrap_nonlist) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (lists[i].t == T_LIST)
            total += baton_feel_list_len(&lists[i]);
        else if (wrap_nonlist)
            total++;
        else
            return NUL("expected lists");
    }
    if (total > BATON_EXPR_MAX_ITEMS)
        return baton_error_set(x->err, BATON_LIMIT, "list has more than %u elements",
                               BATON_EXPR_MAX_ITEMS);
    fv *res = total ? baton_feel_alloc(x, total * sizeof *res) : NULL;
    if (total && !res)
        return baton_feel_failed(x);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (lists[i].t != T_LIST) {
            res[k++] = lists[i];
            continue;
        }
        const fv *items;
        uint32_t cnt;
        baton_status st = items_of(x, &lists[i], &items, &cnt);
        if (st)
            return st;
        if (cnt > total - k) /* the lengths counted above: values do not change while evaluated */
            return baton_error_set(x->err, BATON_INTERNAL, "list length changed");
        if (cnt)
            baton_copy(res + k, items, cnt * sizeof *res);
        k += cnt;
    }
    mklist(out, res, k);
    return BATON_OK;
}

BI(f_append) {
    if (a[0].t != T_LIST)
        return NUL("append() expects a list");
    fv lst = a[0];
    fv *parts = baton_feel_alloc(x, (n) * sizeof *parts);
    if (!parts)
        return x->err->code;
    parts[0] = lst;
    /* the items after the list are appended as they are, lists included */
    fv *wrapped = n > 1 ? baton_feel_alloc(x, (n - 1) * sizeof *wrapped) : NULL;
    if (n > 1 && !wrapped)
        return x->err->code;
    for (uint32_t i = 1; i < n; i++) {
        wrapped[i - 1] = a[i];
        mklist(&parts[i], &wrapped[i - 1], 1);
    }
    return concat_lists(x, parts, n, out, false);
}

BI(f_concatenate) {
    return concat_lists(x, a, n, out, false);
}

BI(f_insert_before) {
    (void)n;
    int64_t pos;
    if (a[0].t != T_LIST || !get_int(&a[1], &pos))
        return NUL("insert before() expects a list and a position");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    if (pos < 0)
        pos = (int64_t)cnt + pos + 1;
    if (pos < 1 || pos > (int64_t)cnt + 1)
        return NUL("position out of range");
    fv *res = baton_feel_alloc(x, ((size_t)cnt + 1) * sizeof *res);
    if (!res)
        return x->err->code;
    baton_copy(res, items, (size_t)(pos - 1) * sizeof *res);
    res[pos - 1] = a[2];
    baton_copy(res + pos, items + pos - 1, (size_t)(cnt - (uint32_t)(pos - 1)) * sizeof *res);
    mklist(out, res, cnt + 1);
    return BATON_OK;
}

BI(f_remove) {
    (void)n;
    int64_t pos;
    if (a[0].t != T_LIST || !get_int(&a[1], &pos))
        return NUL("remove() expects a list and a position");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    if (pos < 0)
        pos = (int64_t)cnt + pos + 1;
    if (pos == 0)
        return NUL("position out of range");
    if (pos < 1 || pos > (int64_t)cnt) { /* no such element: nothing to remove */
        *out = a[0];
        return BATON_OK;
    }
    fv *res = baton_feel_alloc(x, cnt * sizeof *res);
    if (!res)
        return x->err->code;
    baton_copy(res, items, (size_t)(pos - 1) * sizeof *res);
    baton_copy(res + pos - 1, items + pos, (size_t)(cnt - (uint32_t)pos) * sizeof *res);
    mklist(out, res, cnt - 1);
    return BATON_OK;
}

BI(f_reverse) {
    (void)n;
    if (a[0].t != T_LIST)
        return NUL("reverse() expects a list");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    fv *res = cnt ? baton_feel_alloc(x, cnt * sizeof *res) : NULL;
    if (cnt && !res)
        return x->err->code;
    for (uint32_t i = 0; i < cnt; i++)
        res[i] = items[cnt - 1 - i];
    mklist(out, res, cnt);
    return BATON_OK;
}

BI(f_index_of) {
    (void)n;
    if (a[0].t != T_LIST)
        return NUL("index of() expects a list");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    fv *res = cnt ? baton_feel_alloc(x, cnt * sizeof *res) : NULL;
    if (cnt && !res)
        return x->err->code;
    uint32_t k = 0;
    for (uint32_t i = 0; i < cnt; i++)
        if (baton_feel_equal(x, &items[i], &a[1]) == 1)
            mkint(&res[k++], i + 1);
    mklist(out, res, k);
    return BATON_OK;
}

static baton_status dedupe(ev *x, const fv *items, uint32_t cnt, fv *out) {
    if ((uint64_t)cnt * cnt / 2 > x->max_steps - x->steps)
        return charge(x, (uint64_t)cnt * cnt / 2);
    fv *res = cnt ? baton_feel_alloc(x, cnt * sizeof *res) : NULL;
    if (cnt && !res)
        return x->err->code;
    uint32_t k = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        bool seen = false;
        for (uint32_t j = 0; j < k && !seen; j++)
            seen = baton_feel_equal(x, &res[j], &items[i]) == 1;
        if (!seen)
            res[k++] = items[i];
    }
    mklist(out, res, k);
    return charge(x, (uint64_t)cnt * (k ? k : 1) / 2);
}

BI(f_union) {
    fv all;
    baton_status st = concat_lists(x, a, n, &all, false);
    if (st || all.t != T_LIST)
        return st ? st : NUL("union() expects lists");
    return dedupe(x, all.u.items, all.n, out);
}

BI(f_distinct_values) {
    (void)n;
    if (a[0].t != T_LIST)
        return NUL("distinct values() expects a list");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    return st ? st : dedupe(x, items, cnt, out);
}

BI(f_duplicate_values) {
    (void)n;
    if (a[0].t != T_LIST)
        return NUL("duplicate values() expects a list");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st || (st = charge(x, (uint64_t)cnt * cnt / 2)))
        return st;
    fv *res = cnt ? baton_feel_alloc(x, cnt * sizeof *res) : NULL;
    if (cnt && !res)
        return x->err->code;
    uint32_t k = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        bool dup = false, listed = false;
        for (uint32_t j = 0; j < cnt && !dup; j++)
            dup = j != i && baton_feel_equal(x, &items[i], &items[j]) == 1;
        for (uint32_t j = 0; j < k && !listed; j++)
            listed = baton_feel_equal(x, &res[j], &items[i]) == 1;
        if (dup && !listed)
            res[k++] = items[i];
    }
    mklist(out, res, k);
    return BATON_OK;
}

static baton_status flatten_into(ev *x, const fv *l, fv **res, uint32_t *k, uint32_t *cap,
                                 int depth) {
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, l, &items, &cnt);
    if (st)
        return st;
    if (depth > BATON_EXPR_MAX_JSON_DEPTH)
        return baton_error_set(x->err, BATON_LIMIT, "lists nested too deeply");
    for (uint32_t i = 0; i < cnt; i++) {
        if (items[i].t == T_LIST) {
            if ((st = flatten_into(x, &items[i], res, k, cap, depth + 1)))
                return st;
            continue;
        }
        if (*k == *cap) {
            uint32_t nc = *cap ? *cap * 2 : 8;
            if (nc > BATON_EXPR_MAX_ITEMS)
                return baton_error_set(x->err, BATON_LIMIT, "list too long");
            fv *nv = baton_feel_alloc(x, nc * sizeof *nv);
            if (!nv)
                return x->err->code;
            if (*k)
                baton_copy(nv, *res, *k * sizeof *nv);
            *res = nv;
            *cap = nc;
        }
        (*res)[(*k)++] = items[i];
    }
    return BATON_OK;
}

BI(f_flatten) {
    (void)n;
    if (a[0].t != T_LIST)
        return NUL("flatten() expects a list");
    fv *res = NULL;
    uint32_t k = 0, cap = 0;
    baton_status st = flatten_into(x, &a[0], &res, &k, &cap, 0);
    if (st)
        return st;
    mklist(out, res, k);
    return BATON_OK;
}

BI(f_is_empty) {
    (void)x, (void)n;
    if (a[0].t != T_LIST)
        return NUL("is empty() expects a list");
    baton_feel_bool(out, baton_feel_list_len(&a[0]) == 0);
    return BATON_OK;
}

BI(f_partition) {
    (void)n;
    int64_t size;
    if (a[0].t != T_LIST || !get_int(&a[1], &size) || size < 1)
        return NUL("partition() expects a list and a positive size");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    uint32_t parts = (uint32_t)((cnt + (uint64_t)size - 1) / (uint64_t)size);
    fv *res = parts ? baton_feel_alloc(x, parts * sizeof *res) : NULL;
    if (parts && !res)
        return x->err->code;
    for (uint32_t i = 0; i < parts; i++) {
        uint64_t from = (uint64_t)i * (uint64_t)size;
        uint64_t len = cnt - from < (uint64_t)size ? cnt - from : (uint64_t)size;
        mklist(&res[i], items + from, (uint32_t)len);
    }
    mklist(out, res, parts);
    return BATON_OK;
}

/* sort(list, precedes): a stable merge sort calling the function. */
static baton_status precedes(ev *x, const fv *fn, const fv *p, const fv *q, bool *out) {
    fv args[2] = {*p, *q}, r;
    if (!fn) {
        int c = baton_feel_compare(p, q);
        if (c == 2)
            return BATON_EVAL;
        *out = c < 0;
        return BATON_OK;
    }
    baton_status st = baton_feel_call(x, fn, args, 2, &r);
    if (st)
        return st;
    if (r.t != T_BOOL)
        return BATON_EVAL;
    *out = r.u.b;
    return BATON_OK;
}

BI(f_sort) {
    if (a[0].t != T_LIST)
        return NUL("sort() expects a list");
    const fv *fn = n > 1 && a[1].t != T_NULL ? &a[1] : NULL;
    if (fn && fn->t != T_FUNC)
        return NUL("sort() expects a function");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st)
        return st;
    if (cnt == 0) {
        mklist(out, items, 0);
        return BATON_OK;
    }
    fv *buf = baton_feel_alloc(x, 2 * (size_t)cnt * sizeof *buf);
    if (!buf)
        return x->err->code;
    fv *src = buf, *dst = buf + cnt;
    baton_copy(src, items, cnt * sizeof *src);
    for (uint32_t w = 1; w < cnt; w *= 2) {
        for (uint32_t lo = 0; lo < cnt; lo += 2 * w) {
            uint32_t mid = lo + w < cnt ? lo + w : cnt, hi = lo + 2 * w < cnt ? lo + 2 * w : cnt;
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                bool before;
                /* take from the right only when it strictly precedes (stability) */
                st = precedes(x, fn, &src[j], &src[i], &before);
                if (st == BATON_EVAL)
                    return NUL("sort() comparison did not give a boolean");
                if (st)
                    return st;
                dst[k++] = before ? src[j++] : src[i++];
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        fv *t = src;
        src = dst;
        dst = t;
    }
    mklist(out, src, cnt);
    return BATON_OK;
}

/* ---- numbers ------------------------------------------------------------------------ */

enum { RND_EVEN, RND_FLOOR, RND_CEIL, RND_DOWN, RND_UP, RND_HALF_UP, RND_HALF_DOWN };

static baton_status round_to(ev *x, fv *a, uint32_t n, fv *out, int mode) {
    int64_t scale = 0;
    if (a[0].t != T_NUM || (n > 1 && a[1].t != T_NULL && !get_int(&a[1], &scale)))
        return NUL("expected a number and an integer scale");
    if (n > 1 && a[1].t == T_NULL)
        return NUL("scale is null");
    if (scale < -6000 || scale > 6000)
        return NUL("scale out of range");
    _IDEC_flags f = 0;
    dec q = baton_dec_scalbn(bid128_from_int64(1), (int)-scale);
    dec v = a[0].u.d, r;
    switch (mode) {
    case RND_FLOOR: r = bid128_quantize(v, q, BID_ROUNDING_DOWN, &f); break;
    case RND_CEIL: r = bid128_quantize(v, q, BID_ROUNDING_UP, &f); break;
    case RND_DOWN: r = bid128_quantize(v, q, BID_ROUNDING_TO_ZERO, &f); break;
    case RND_HALF_UP: r = bid128_quantize(v, q, BID_ROUNDING_TIES_AWAY, &f); break;
    case RND_UP: {
        dec t = bid128_quantize(v, q, BID_ROUNDING_TO_ZERO, &f);
        r = bid128_quiet_equal(t, v, &f)
                ? t
                : bid128_quantize(v, q, bid128_isSigned(v) ? BID_ROUNDING_DOWN : BID_ROUNDING_UP,
                                  &f);
        break;
    }
    case RND_HALF_DOWN: {
        /* ties toward zero: ties-away unless the discarded part is exactly one half */
        dec t = bid128_quantize(v, q, BID_ROUNDING_TO_ZERO, &f);
        dec diff = bid128_abs(bid128_sub(v, t, DEC_RND, &f));
        dec half = baton_dec_scalbn(bid128_from_int64(5), (int)(-scale - 1));
        r = bid128_quiet_equal(diff, half, &f) ? t
                                               : bid128_quantize(v, q, BID_ROUNDING_TIES_AWAY, &f);
        break;
    }
    default: r = bid128_quantize(v, q, BID_ROUNDING_TO_NEAREST, &f); break;
    }
    if (bid128_isZero(r))
        r = bid128_from_int64(0);
    numout(out, r);
    return BATON_OK;
}

BI(f_decimal) {
    return round_to(x, a, n, out, RND_EVEN);
}
BI(f_floor) {
    return round_to(x, a, n, out, RND_FLOOR);
}
BI(f_ceiling) {
    return round_to(x, a, n, out, RND_CEIL);
}
BI(f_round_up) {
    return round_to(x, a, n, out, RND_UP);
}
BI(f_round_down) {
    return round_to(x, a, n, out, RND_DOWN);
}
BI(f_round_half_up) {
    return round_to(x, a, n, out, RND_HALF_UP);
}
BI(f_round_half_down) {
    return round_to(x, a, n, out, RND_HALF_DOWN);
}

BI(f_abs) {
    (void)n;
    if (a[0].t == T_NUM) {
        baton_feel_num(out, bid128_abs(a[0].u.d));
        return BATON_OK;
    }
    if (a[0].t == T_DTD) {
        *out = a[0];
        if (a[0].u.tm.a < 0) {
            int64_t s = a[0].u.tm.a;
            int32_t ns = a[0].u.tm.ns;
            out->u.tm.a = ns ? -s - 1 : -s;
            out->u.tm.ns = ns ? (int32_t)(BATON_NS_PER_S - ns) : 0;
        }
        return BATON_OK;
    }
    if (a[0].t == T_YMD) {
        *out = a[0];
        out->u.i = a[0].u.i < 0 ? -a[0].u.i : a[0].u.i;
        return BATON_OK;
    }
    return NUL("abs() expects a number");
}

BI(f_modulo) {
    (void)n;
    if (a[0].t != T_NUM || a[1].t != T_NUM || bid128_isZero(a[1].u.d))
        return NUL("modulo() expects numbers and a non-zero divisor");
    _IDEC_flags f = 0;
    dec r = bid128_fmod(a[0].u.d, a[1].u.d, &f);
    if (!bid128_isZero(r) && (bid128_isSigned(r) != bid128_isSigned(a[1].u.d)))
        r = bid128_add(r, a[1].u.d, DEC_RND, &f);
    numout(out, r);
    return BATON_OK;
}

BI(f_sqrt) {
    (void)n;
    if (a[0].t != T_NUM || baton_dec_neg(a[0].u.d))
        return NUL("sqrt() of a negative number");
    _IDEC_flags f = 0;
    numout(out, bid128_sqrt(a[0].u.d, DEC_RND, &f));
    return BATON_OK;
}

BI(f_log) {
    (void)n;
    if (a[0].t != T_NUM || baton_dec_neg(a[0].u.d) || bid128_isZero(a[0].u.d))
        return NUL("log() of a non-positive number");
    _IDEC_flags f = 0;
    numout(out, bid128_log(a[0].u.d, DEC_RND, &f));
    return BATON_OK;
}

BI(f_exp) {
    (void)n;
    if (a[0].t != T_NUM)
        return NUL("exp() expects a number");
    _IDEC_flags f = 0;
    numout(out, bid128_exp(a[0].u.d, DEC_RND, &f));
    return BATON_OK;
}

static baton_status odd_even(ev *x, const fv *v, fv *out, bool odd) {
    if (v->t != T_NUM || !baton_dec_is_int(v->u.d))
        return NUL("expected an integer");
    _IDEC_flags f = 0;
    dec r = bid128_fmod(v->u.d, bid128_from_int64(2), &f);
    baton_feel_bool(out, bid128_isZero(r) != odd);
    return BATON_OK;
}

BI(f_odd) {
    (void)n;
    return odd_even(x, &a[0], out, true);
}

BI(f_even) {
    (void)n;
    return odd_even(x, &a[0], out, false);
}

/* ---- dates -------------------------------------------------------------------------- */

static bool day_of(const fv *v, int64_t *days) {
    if (v->t == T_DATE)
        *days = v->u.i;
    else if (v->t == T_DT)
        *days = baton_floordiv(v->u.tm.a, BATON_DAY_S);
    else
        return false;
    return true;
}

BI(f_day_of_year) {
    (void)n;
    int64_t d, y;
    int m, dd;
    if (!day_of(&a[0], &d))
        return NUL("expected a date");
    baton_civil_from_days(d, &y, &m, &dd);
    mkint(out, d - baton_days_from_civil(y, 1, 1) + 1);
    return BATON_OK;
}

BI(f_day_of_week) {
    (void)n;
    static const char *const names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
    int64_t d;
    if (!day_of(&a[0], &d))
        return NUL("expected a date");
    const char *s = names[baton_weekday(d) - 1];
    baton_feel_str(out, s, strlen(s));
    return BATON_OK;
}

BI(f_month_of_year) {
    (void)n;
    static const char *const names[] = {"January",   "February", "March",    "April",
                                        "May",       "June",     "July",     "August",
                                        "September", "October",  "November", "December"};
    int64_t d, y;
    int m, dd;
    if (!day_of(&a[0], &d))
        return NUL("expected a date");
    baton_civil_from_days(d, &y, &m, &dd);
    baton_feel_str(out, names[m - 1], strlen(names[m - 1]));
    return BATON_OK;
}

BI(f_week_of_year) {
    (void)n;
    int64_t d;
    if (!day_of(&a[0], &d))
        return NUL("expected a date");
    /* ISO 8601 week: the week with the year's first Thursday is week 1 */
    int64_t thursday = d - baton_weekday(d) + 4, y;
    int m, dd;
    baton_civil_from_days(thursday, &y, &m, &dd);
    mkint(out, (thursday - baton_days_from_civil(y, 1, 1)) / 7 + 1);
    return BATON_OK;
}

BI(f_last_day_of_month) {
    (void)n;
    int64_t d, y;
    int m, dd;
    if (!day_of(&a[0], &d))
        return NUL("expected a date");
    baton_civil_from_days(d, &y, &m, &dd);
    memset(out, 0, sizeof *out);
    out->t = T_DATE;
    out->u.i = baton_days_from_civil(y, m, baton_month_days(y, m));
    return BATON_OK;
}

BI(f_is) {
    (void)x, (void)n;
    bool same = a[0].t == a[1].t && baton_feel_equal(x, &a[0], &a[1]) == 1;
    if (same && (a[0].t == T_TIME || a[0].t == T_DT))
        same = a[0].k == a[1].k && a[0].u.tm.a == a[1].u.tm.a && a[0].u.tm.off == a[1].u.tm.off &&
               a[0].zone == a[1].zone;
    baton_feel_bool(out, same);
    return BATON_OK;
}

BI(f_now) {
    (void)a, (void)n;
    int64_t ms = x->env ? x->env->now_ms : 0;
    int64_t s = baton_floordiv(ms, 1000);
    int32_t ns = (int32_t)(baton_floormod(ms, 1000) * 1000000);
    const char *zone = x->env ? x->env->zone : NULL;
    uint16_t id = 0;
    if (zone && *zone && strcmp(zone, "UTC") != 0 && strcmp(zone, "Z") != 0) {
        baton_status st = baton_tz_find(zone, strlen(zone), &id, x->err);
        if (st)
            return st;
    }
    memset(out, 0, sizeof *out);
    out->t = T_DT;
    if (id) {
        int32_t off = baton_tz_offset_at(id, s);
        out->k = BATON_TM_ZONE;
        out->zone = id;
        out->u.tm.a = s + off;
        out->u.tm.off = off;
    } else {
        out->k = BATON_TM_OFFSET;
        out->u.tm.a = s;
    }
    out->u.tm.ns = ns;
    return BATON_OK;
}

BI(f_today) {
    fv now;
    baton_status st = f_now(x, a, n, &now);
    if (st)
        return st;
    memset(out, 0, sizeof *out);
    out->t = T_DATE;
    out->u.i = baton_floordiv(now.u.tm.a, BATON_DAY_S);
    return BATON_OK;
}

/* ---- ranges (DMN 1.4 10.3.4.9) ---------------------------------------------------- */

typedef struct rg {
    fv s, e;
    bool si, ei;
} rg;

static bool as_rg(const fv *v, rg *r, bool *is_point) {
    if (v->t == T_RANGE) {
        r->s = v->u.rng->lo;
        r->e = v->u.rng->hi;
        r->si = v->u.rng->lo_in;
        r->ei = v->u.rng->hi_in;
        *is_point = false;
        return r->s.t != T_NULL && r->e.t != T_NULL;
    }
    if (v->t == T_NULL)
        return false;
    r->s = r->e = *v;
    r->si = r->ei = true;
    *is_point = true;
    return true;
}

static int C(const fv *a, const fv *b, bool *bad) {
    int c = baton_feel_compare(a, b);
    if (c == 2)
        *bad = true;
    return c;
}

enum {
    R_BEFORE,
    R_AFTER,
    R_MEETS,
    R_MET_BY,
    R_OVERLAPS,
    R_OVERLAPS_BEFORE,
    R_OVERLAPS_AFTER,
    R_FINISHES,
    R_FINISHED_BY,
    R_INCLUDES,
    R_DURING,
    R_STARTS,
    R_STARTED_BY,
    R_COINCIDES
};

static bool rel(int op, const rg *a, const rg *b, bool *bad) {
    switch (op) {
    case R_BEFORE: {
        int c = C(&a->e, &b->s, bad);
        return c < 0 || (c == 0 && (!a->ei || !b->si));
    }
    case R_AFTER: return rel(R_BEFORE, b, a, bad);
    case R_MEETS: return a->ei && b->si && C(&a->e, &b->s, bad) == 0;
    case R_MET_BY: return rel(R_MEETS, b, a, bad);
    case R_OVERLAPS: {
        int c1 = C(&a->e, &b->s, bad), c2 = C(&a->s, &b->e, bad);
        return (c1 > 0 || (c1 == 0 && a->ei && b->si)) && (c2 < 0 || (c2 == 0 && a->si && b->ei));
    }
    case R_OVERLAPS_BEFORE: {
        int c1 = C(&a->s, &b->s, bad), c2 = C(&a->e, &b->s, bad), c3 = C(&a->e, &b->e, bad);
        return (c1 < 0 || (c1 == 0 && a->si && !b->si)) &&
               (c2 > 0 || (c2 == 0 && a->ei && b->si)) &&
               (c3 < 0 || (c3 == 0 && (!a->ei || b->ei)));
    }
    case R_OVERLAPS_AFTER: return rel(R_OVERLAPS_BEFORE, b, a, bad);
    case R_FINISHES: {
        int c1 = C(&a->e, &b->e, bad), c2 = C(&a->s, &b->s, bad);
        return a->ei == b->ei && c1 == 0 && (c2 > 0 || (c2 == 0 && (!a->si || b->si)));
    }
    case R_FINISHED_BY: return rel(R_FINISHES, b, a, bad);
    case R_INCLUDES: {
        int c1 = C(&a->s, &b->s, bad), c2 = C(&a->e, &b->e, bad);
        return (c1 < 0 || (c1 == 0 && (a->si || !b->si))) &&
               (c2 > 0 || (c2 == 0 && (a->ei || !b->ei)));
    }
    case R_DURING: return rel(R_INCLUDES, b, a, bad);
    case R_STARTS: {
        int c1 = C(&a->s, &b->s, bad), c2 = C(&a->e, &b->e, bad);
        return a->si == b->si && c1 == 0 && (c2 < 0 || (c2 == 0 && (!a->ei || b->ei)));
    }
    case R_STARTED_BY: return rel(R_STARTS, b, a, bad);
    default:
        return a->si == b->si && a->ei == b->ei && C(&a->s, &b->s, bad) == 0 &&
               C(&a->e, &b->e, bad) == 0;
    }
}

static baton_status range_fn(ev *x, fv *a, fv *out, int op) {
    rg r1, r2;
    bool p1, p2, bad = false;
    if (!as_rg(&a[0], &r1, &p1) || !as_rg(&a[1], &r2, &p2))
        return NUL("expected ranges or points");
    /* point forms: finishes(point, range) is "range.end included and range.end = point" etc. */
    if (p1 && !p2 && (op == R_FINISHES || op == R_STARTS)) {
        bool r = op == R_FINISHES ? r2.ei && C(&r2.e, &r1.s, &bad) == 0
                                  : r2.si && C(&r2.s, &r1.s, &bad) == 0;
        if (bad)
            return NUL("incomparable");
        baton_feel_bool(out, r);
        return BATON_OK;
    }
    if (!p1 && p2 && (op == R_FINISHED_BY || op == R_STARTED_BY)) {
        bool r = op == R_FINISHED_BY ? r1.ei && C(&r1.e, &r2.s, &bad) == 0
                                     : r1.si && C(&r1.s, &r2.s, &bad) == 0;
        if (bad)
            return NUL("incomparable");
        baton_feel_bool(out, r);
        return BATON_OK;
    }
    if (p1 && !p2 && op == R_DURING) {
        int c1 = C(&r2.s, &r1.s, &bad), c2 = C(&r2.e, &r1.s, &bad);
        bool r = (c1 < 0 && c2 > 0) || (c1 == 0 && r2.si) || (c2 == 0 && r2.ei);
        if (bad)
            return NUL("incomparable");
        baton_feel_bool(out, r);
        return BATON_OK;
    }
    if (!p1 && p2 && op == R_INCLUDES) {
        int c1 = C(&r1.s, &r2.s, &bad), c2 = C(&r1.e, &r2.s, &bad);
        bool r = (c1 < 0 && c2 > 0) || (c1 == 0 && r1.si) || (c2 == 0 && r1.ei);
        if (bad)
            return NUL("incomparable");
        baton_feel_bool(out, r);
        return BATON_OK;
    }
    bool r = rel(op, &r1, &r2, &bad);
    if (bad)
        return NUL("incomparable range endpoints");
    baton_feel_bool(out, r);
    return BATON_OK;
}

#define RANGE_BI(fname, op)                                                                        \
    BI(fname) {                                                                                    \
        (void)n;                                                                                   \
        return range_fn(x, a, out, op);                                                            \
    }
RANGE_BI(f_before, R_BEFORE)
RANGE_BI(f_after, R_AFTER)
RANGE_BI(f_meets, R_MEETS)
RANGE_BI(f_met_by, R_MET_BY)
RANGE_BI(f_overlaps, R_OVERLAPS)
RANGE_BI(f_overlaps_before, R_OVERLAPS_BEFORE)
RANGE_BI(f_overlaps_after, R_OVERLAPS_AFTER)
RANGE_BI(f_finishes, R_FINISHES)
RANGE_BI(f_finished_by, R_FINISHED_BY)
RANGE_BI(f_includes, R_INCLUDES)
RANGE_BI(f_during, R_DURING)
RANGE_BI(f_starts, R_STARTS)
RANGE_BI(f_started_by, R_STARTED_BY)
RANGE_BI(f_coincides, R_COINCIDES)

/* ---- contexts ----------------------------------------------------------------------- */

static baton_status key_of(const fv *k, const char **s, size_t *len) {
    if (k->t != T_STR)
        return BATON_EVAL;
    *s = k->u.s;
    *len = k->n;
    return BATON_OK;
}

BI(f_get_value) {
    (void)n;
    const char *k;
    size_t len;
    if (a[0].t != T_CTX || key_of(&a[1], &k, &len))
        return NUL("get value() expects a context and a key");
    if (!baton_feel_ctx_get(&a[0], k, len, out))
        return NUL(NULL);
    return BATON_OK;
}

BI(f_get_entries) {
    (void)n;
    if (a[0].t != T_CTX)
        return NUL("get entries() expects a context");
    const centry *ents;
    uint32_t cnt;
    baton_status st = baton_feel_ctx_entries(x, &a[0], &ents, &cnt);
    if (st || (st = charge(x, cnt)))
        return st;
    fv *res = cnt ? baton_feel_alloc(x, cnt * sizeof *res) : NULL;
    centry *pairs = cnt ? baton_feel_alloc(x, 2 * (size_t)cnt * sizeof *pairs) : NULL;
    if (cnt && (!res || !pairs))
        return x->err->code;
    for (uint32_t i = 0; i < cnt; i++) {
        centry *p = &pairs[2 * i];
        p[0].name = "key";
        p[0].len = 3;
        baton_feel_str(&p[0].v, ents[i].name, ents[i].len);
        p[1].name = "value";
        p[1].len = 5;
        p[1].v = ents[i].v;
        memset(&res[i], 0, sizeof res[i]);
        res[i].t = T_CTX;
        res[i].n = 2;
        res[i].u.ents = p;
    }
    mklist(out, res, cnt);
    return BATON_OK;
}

/* A native copy of a context with room for `extra` more entries. */
static baton_status ctx_copy(ev *x, const fv *c, uint32_t extra, centry **ents, uint32_t *cnt) {
    const centry *src;
    uint32_t n = 0;
    if (c) {
        baton_status st = baton_feel_ctx_entries(x, c, &src, &n);
        if (st)
            return st;
    }
    *ents = baton_feel_alloc(x, ((size_t)n + extra + 1) * sizeof **ents);
    if (!*ents)
        return baton_feel_failed(x);
    if (n)
        baton_copy(*ents, src, n * sizeof **ents);
    *cnt = n;
    return charge(x, n);
}

static void ctx_set(centry *ents, uint32_t *cnt, const char *k, size_t len, const fv *v) {
    for (uint32_t i = 0; i < *cnt; i++)
        if (ents[i].len == len && memcmp(ents[i].name, k, len) == 0) {
            ents[i].v = *v;
            return;
        }
    ents[*cnt].name = k;
    ents[*cnt].len = (uint32_t)len;
    ents[*cnt].v = *v;
    (*cnt)++;
}

static void mkctx(fv *out, const centry *ents, uint32_t n) {
    memset(out, 0, sizeof *out);
    out->t = T_CTX;
    out->n = n;
    out->u.ents = ents;
}

BI(f_context_put) {
    (void)n;
    const char *k;
    size_t len;
    if (a[0].t != T_CTX || key_of(&a[1], &k, &len))
        return NUL("context put() expects a context and a key");
    centry *ents;
    uint32_t cnt;
    baton_status st = ctx_copy(x, &a[0], 1, &ents, &cnt);
    if (st)
        return st;
    ctx_set(ents, &cnt, k, len, &a[2]);
    mkctx(out, ents, cnt);
    return BATON_OK;
}

BI(f_context_merge) {
    const fv *items;
    uint32_t cnt;
    baton_status st = agg_items(x, a, n, &items, &cnt);
    if (st)
        return st;
    uint64_t total = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        if (items[i].t != T_CTX)
            return NUL("context merge() expects contexts");
        total +=
            items[i].k == REP_JSON ? (uint64_t)cJSON_GetArraySize(items[i].u.json) : items[i].n;
    }
    if (total > BATON_EXPR_MAX_ITEMS)
        return baton_error_set(x->err, BATON_LIMIT, "context too large");
    centry *ents;
    uint32_t k = 0;
    if ((st = ctx_copy(x, NULL, (uint32_t)total, &ents, &k)))
        return st;
    for (uint32_t i = 0; i < cnt; i++) {
        const centry *src;
        uint32_t m;
        if ((st = baton_feel_ctx_entries(x, &items[i], &src, &m)) ||
            (st = charge(x, (uint64_t)m * (k + 1))))
            return st;
        for (uint32_t j = 0; j < m; j++)
            ctx_set(ents, &k, src[j].name, src[j].len, &src[j].v);
    }
    mkctx(out, ents, k);
    return BATON_OK;
}

BI(f_context) {
    (void)n;
    if (a[0].t != T_LIST)
        return NUL("context() expects a list of entries");
    const fv *items;
    uint32_t cnt;
    baton_status st = items_of(x, &a[0], &items, &cnt);
    if (st || (st = charge(x, (uint64_t)cnt * cnt / 2)))
        return st;
    centry *ents;
    uint32_t k = 0;
    if ((st = ctx_copy(x, NULL, cnt, &ents, &k)))
        return st;
    for (uint32_t i = 0; i < cnt; i++) {
        fv key, val;
        if (items[i].t != T_CTX || !baton_feel_ctx_get(&items[i], "key", 3, &key) ||
            key.t != T_STR || !baton_feel_ctx_get(&items[i], "value", 5, &val))
            return NUL("context() entries need a string key and a value");
        for (uint32_t j = 0; j < k; j++)
            if (ents[j].len == key.n && memcmp(ents[j].name, key.u.s, key.n) == 0)
                return NUL("duplicate key in context()");
        ctx_set(ents, &k, key.u.s, key.n, &val);
    }
    mkctx(out, ents, k);
    return BATON_OK;
}

/* ---- the table ---------------------------------------------------------------------- */

static const builtin table[] = {
    {"date", 1, 3, f_date, {"from"}},
    {"date and time", 1, 2, f_date_and_time, {"date", "time"}},
    {"time", 1, 4, f_time, {"hour", "minute", "second", "offset"}},
    {"number", 1, 3, f_number, {"from", "grouping separator", "decimal separator"}},
    {"string", 1, 1, f_string, {"from"}},
    {"duration", 1, 1, f_duration, {"from"}},
    {"years and months duration", 2, 2, f_ymd, {"from", "to"}},
    {"not", 1, 1, f_not, {"negand"}},
    {"is defined", 1, 1, f_is_defined, {"value"}},
    {"get or else", 2, 2, f_get_or_else, {"value", "default"}},
    {"substring", 2, 3, f_substring, {"string", "start position", "length"}},
    {"string length", 1, 1, f_string_length, {"string"}},
    {"upper case", 1, 1, f_upper, {"string"}},
    {"lower case", 1, 1, f_lower, {"string"}},
    {"substring before", 2, 2, f_substring_before, {"string", "match"}},
    {"substring after", 2, 2, f_substring_after, {"string", "match"}},
    {"replace", 3, 4, f_replace, {"input", "pattern", "replacement", "flags"}},
    {"contains", 2, 2, f_contains, {"string", "match"}},
    {"starts with", 2, 2, f_starts_with, {"string", "match"}},
    {"ends with", 2, 2, f_ends_with, {"string", "match"}},
    {"matches", 2, 3, f_matches, {"input", "pattern", "flags"}},
    {"split", 2, 2, f_split, {"string", "delimiter"}},
    {"extract", 2, 2, f_extract, {"string", "pattern"}},
    {"trim", 1, 1, f_trim, {"string"}},
    {"is blank", 1, 1, f_is_blank, {"string"}},
    {"string join", 1, 4, f_string_join, {"list", "delimiter", "prefix", "suffix"}},
    {"list contains", 2, 2, f_list_contains, {"list", "element"}},
    {"count", 1, 1, f_count, {"list"}},
    {"min", 1, BI_VARIADIC, f_min, {"list"}},
    {"max", 1, BI_VARIADIC, f_max, {"list"}},
    {"sum", 1, BI_VARIADIC, f_sum, {"list"}},
    {"product", 1, BI_VARIADIC, f_product, {"list"}},
    {"mean", 1, BI_VARIADIC, f_mean, {"list"}},
    {"median", 1, BI_VARIADIC, f_median, {"list"}},
    {"stddev", 1, BI_VARIADIC, f_stddev, {"list"}},
    {"mode", 1, BI_VARIADIC, f_mode, {"list"}},
    {"all", 1, BI_VARIADIC, f_all, {"list"}},
    {"any", 1, BI_VARIADIC, f_any, {"list"}},
    {"sublist", 2, 3, f_sublist, {"list", "start position", "length"}},
    {"append", 1, BI_VARIADIC, f_append, {"list", "item"}},
    {"concatenate", 1, BI_VARIADIC, f_concatenate, {"list"}},
    {"insert before", 3, 3, f_insert_before, {"list", "position", "newItem"}},
    {"remove", 2, 2, f_remove, {"list", "position"}},
    {"reverse", 1, 1, f_reverse, {"list"}},
    {"index of", 2, 2, f_index_of, {"list", "match"}},
    {"union", 1, BI_VARIADIC, f_union, {"list"}},
    {"distinct values", 1, 1, f_distinct_values, {"list"}},
    {"duplicate values", 1, 1, f_duplicate_values, {"list"}},
    {"flatten", 1, 1, f_flatten, {"list"}},
    {"is empty", 1, 1, f_is_empty, {"list"}},
    {"partition", 2, 2, f_partition, {"list", "size"}},
    {"sort", 1, 2, f_sort, {"list", "precedes"}},
    {"decimal", 2, 2, f_decimal, {"n", "scale"}},
    {"floor", 1, 2, f_floor, {"n", "scale"}},
    {"ceiling", 1, 2, f_ceiling, {"n", "scale"}},
    {"round up", 2, 2, f_round_up, {"n", "scale"}},
    {"round down", 2, 2, f_round_down, {"n", "scale"}},
    {"round half up", 2, 2, f_round_half_up, {"n", "scale"}},
    {"round half down", 2, 2, f_round_half_down, {"n", "scale"}},
    {"abs", 1, 1, f_abs, {"n"}},
    {"modulo", 2, 2, f_modulo, {"dividend", "divisor"}},
    {"sqrt", 1, 1, f_sqrt, {"number"}},
    {"log", 1, 1, f_log, {"number"}},
    {"exp", 1, 1, f_exp, {"number"}},
    {"odd", 1, 1, f_odd, {"number"}},
    {"even", 1, 1, f_even, {"number"}},
    {"is", 2, 2, f_is, {"value1", "value2"}},
    {"day of year", 1, 1, f_day_of_year, {"date"}},
    {"day of week", 1, 1, f_day_of_week, {"date"}},
    {"month of year", 1, 1, f_month_of_year, {"date"}},
    {"week of year", 1, 1, f_week_of_year, {"date"}},
    {"last day of month", 1, 1, f_last_day_of_month, {"date"}},
    {"now", 0, 0, f_now, {NULL}},
    {"today", 0, 0, f_today, {NULL}},
    {"before", 2, 2, f_before, {NULL}},
    {"after", 2, 2, f_after, {NULL}},
    {"meets", 2, 2, f_meets, {"range1", "range2"}},
    {"met by", 2, 2, f_met_by, {"range1", "range2"}},
    {"overlaps", 2, 2, f_overlaps, {"range1", "range2"}},
    {"overlaps before", 2, 2, f_overlaps_before, {"range1", "range2"}},
    {"overlaps after", 2, 2, f_overlaps_after, {"range1", "range2"}},
    {"finishes", 2, 2, f_finishes, {NULL}},
    {"finished by", 2, 2, f_finished_by, {NULL}},
    {"includes", 2, 2, f_includes, {NULL}},
    {"during", 2, 2, f_during, {NULL}},
    {"starts", 2, 2, f_starts, {NULL}},
    {"started by", 2, 2, f_started_by, {NULL}},
    {"coincides", 2, 2, f_coincides, {NULL}},
    {"get value", 2, 2, f_get_value, {"m", "key"}},
    {"get entries", 1, 1, f_get_entries, {"m"}},
    {"context", 1, 1, f_context, {"entries"}},
    {"context put", 3, 3, f_context_put, {"context", "key", "value"}},
    {"context merge", 1, BI_VARIADIC, f_context_merge, {"contexts"}},
};

const builtin *baton_feel_builtin(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen(table[i].name) == len && memcmp(table[i].name, name, len) == 0)
            return &table[i];
    return NULL;
}

/* Does s start with multi-word name `nm` (white space runs match one space)? */
static size_t match_words(const char *nm, const char *s, size_t len) {
    size_t i = 0;
    for (const char *p = nm; *p; p++) {
        if (*p == ' ') {
            if (i >= len || !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                return 0;
            while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                i++;
            continue;
        }
        if (i >= len || s[i] != *p)
            return 0;
        i++;
    }
    if (i < len) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c >= 0x80)
            return 0;
    }
    return i;
}

size_t baton_feel_builtin_prefix(const char *s, size_t len, const builtin **bi_out) {
    size_t best = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!strchr(table[i].name, ' ') || table[i].name[0] != s[0])
            continue;
        size_t m = match_words(table[i].name, s, len);
        if (m > best) {
            best = m;
            *bi_out = &table[i];
        }
    }
    return best;
}
