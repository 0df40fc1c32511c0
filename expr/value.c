/*
 * value.c - FEEL runtime values: decimal numbers (decimal128 through Intel's
 * BID library, thread-safe variant: rounding mode and status flags are
 * arguments, no globals), conversion from the variables' JSON, equality and
 * ordering (DMN 1.4 10.3.2.2 and 10.3.2.9), and the text/JSON forms of
 * results. Nothing here allocates except the JSON materialisers, which use
 * the evaluation's scratch memory or the output buffer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "expr/civil.h"
#include "expr/expr_int.h"
#include "expr/temporal.h"
#include "expr/tz.h"

/* ---- decimals ------------------------------------------------------------------------ */

dec baton_dec_from_int(int64_t v) {
    return bid128_from_int64(v);
}

bool baton_dec_finite(dec d) {
    return bid128_isFinite(d) != 0;
}

bool baton_dec_is_zero(dec d) {
    return bid128_isZero(d) != 0;
}

bool baton_dec_neg(dec d) {
    return bid128_isSigned(d) && !bid128_isZero(d);
}

int baton_dec_cmp(dec a, dec b) {
    _IDEC_flags f = 0;
    if (bid128_quiet_less(a, b, &f))
        return -1;
    return bid128_quiet_greater(a, b, &f) ? 1 : 0;
}

bool baton_dec_is_int(dec d) {
    _IDEC_flags f = 0;
    return bid128_isFinite(d) && bid128_quiet_equal(bid128_round_integral_zero(d, &f), d, &f);
}

bool baton_dec_to_int(dec d, int64_t *out) {
    if (!baton_dec_is_int(d))
        return false;
    _IDEC_flags f = 0;
    int64_t v = bid128_to_int64_int(d, &f);
    if (f & BID_INVALID_EXCEPTION)
        return false;
    *out = v;
    return true;
}

bool baton_dec_parse(const char *s, size_t len, dec *out) {
    char buf[160];
    size_t i = 0, digits = 0;
    if (len == 0 || len >= sizeof buf)
        return false;
    if (s[i] == '-' || s[i] == '+')
        i++;
    bool dot = false;
    for (; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.' && !dot)
            dot = true;
        else
            break;
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < len && (s[j] == '-' || s[j] == '+'))
            j++;
        size_t e0 = j;
        while (j < len && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j == e0 || j - e0 > 5)
            return false;
        i = j;
    }
    if (i != len)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    _IDEC_flags f = 0;
    dec d = bid128_from_string(buf, DEC_RND, &f);
    if (!bid128_isFinite(d))
        return false;
    *out = d;
    return true;
}

dec baton_dec_from_double(double x) {
    if (x == 0 || !isfinite(x))
        return bid128_from_int64(0);
    if (fabs(x) < 9007199254740992.0 && x == (double)(int64_t)x)
        return bid128_from_int64((int64_t)x);
    /* few decimal places: x * 10^k is an exact small integer and m / 10^k rounds to x */
    static const double p10[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (fabs(x) < 1e6) {
        for (int k = 0; k < 9; k++) {
            double m = nearbyint(x * p10[k]);
            if (fabs(m) < 9007199254740992.0 && m / p10[k] == x)
                return baton_dec_scalbn(bid128_from_int64((int64_t)m), -(k + 1));
        }
    }
    char buf[40];
    /* %.15g prints a normal double's shortest form when it has at most 15 digits;
       subnormals can be shorter still */
    for (int prec = fabs(x) < 2.2250738585072014e-308 ? 1 : 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    _IDEC_flags f = 0;
    return bid128_from_string(buf, DEC_RND, &f);
}

double baton_dec_to_double(dec d) {
    _IDEC_flags f = 0;
    return bid128_to_binary64(d, DEC_RND, &f);
}

size_t baton_dec_format(dec d, char *out, size_t cap) {
    bool neg;
    char dig[40];
    size_t nd = 0;
    long exp = 0;
    /*
     * Fast path: a finite BID128 whose coefficient fits the low word (every
     * number that came from JSON or a short literal) is sign, 14-bit biased
     * exponent and a 64-bit coefficient; take those apart without the library.
     */
    uint64_t hi = d.w[1], lo = d.w[0];
    if ((hi & UINT64_C(0x6000000000000000)) != UINT64_C(0x6000000000000000) &&
        (hi & UINT64_C(0x0001FFFFFFFFFFFF)) == 0) {
        char tmp[24];
        int n = 0;
        do {
            tmp[n++] = (char)('0' + lo % 10);
            lo /= 10;
        } while (lo);
        while (n)
            dig[nd++] = tmp[--n];
        neg = (hi >> 63) != 0;
        exp = (long)((hi >> 49) & 0x3FFF) - 6176;
    } else {
        char raw[64];
        _IDEC_flags f = 0;
        bid128_to_string(raw, d, &f);
        const char *p = raw;
        neg = *p == '-';
        if (*p == '-' || *p == '+')
            p++;
        while (*p >= '0' && *p <= '9' && nd < sizeof dig - 1)
            dig[nd++] = *p++;
        if (nd == 0) /* "+Inf", "NaN": values never hold these (mknum makes them null) */
            dig[nd++] = '0';
        if (*p == 'E')
            exp = strtol(p + 1, NULL, 10);
    }
    size_t lead = 0;
    while (lead + 1 < nd && dig[lead] == '0')
        lead++;
    memmove(dig, dig + lead, nd - lead);
    nd -= lead;
    while (nd > 1 && dig[nd - 1] == '0') {
        nd--;
        exp++;
    }
    if (nd == 1 && dig[0] == '0') {
        neg = false;
        exp = 0;
    }
    char buf[160];
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    long point = (long)nd + exp; /* digits before the decimal point */
    if (exp >= 0 && point <= 40) {
        memcpy(buf + k, dig, nd);
        k += nd;
        for (long i = 0; i < exp; i++)
            buf[k++] = '0';
    } else if (exp < 0 && point > 0) {
        memcpy(buf + k, dig, (size_t)point);
        k += (size_t)point;
        buf[k++] = '.';
        memcpy(buf + k, dig + point, nd - (size_t)point);
        k += nd - (size_t)point;
    } else if (exp < 0 && point > -40) {
        buf[k++] = '0';
        buf[k++] = '.';
        for (long i = 0; i < -point; i++)
            buf[k++] = '0';
        memcpy(buf + k, dig, nd);
        k += nd;
    } else {
        buf[k++] = dig[0];
        if (nd > 1) {
            buf[k++] = '.';
            memcpy(buf + k, dig + 1, nd - 1);
            k += nd - 1;
        }
        k += (size_t)snprintf(buf + k, 16, "E%+ld", point - 1);
    }
    buf[k] = '\0';
    if (cap) {
        size_t n = k < cap ? k : cap - 1;
        memcpy(out, buf, n);
        out[n] = '\0';
    }
    return k;
}

/* ---- constructors and JSON variables ------------------------------------------------ */

void baton_feel_str(fv *out, const char *s, size_t len) {
    memset(out, 0, sizeof *out);
    out->t = T_STR;
    out->n = (uint32_t)len;
    out->u.s = s;
}

void baton_feel_num(fv *out, dec d) {
    memset(out, 0, sizeof *out);
    out->t = T_NUM;
    out->u.d = d;
}

void baton_feel_bool(fv *out, bool b) {
    memset(out, 0, sizeof *out);
    out->t = T_BOOL;
    out->u.b = b;
}

void baton_feel_from_json(const cJSON *j, fv *out) {
    memset(out, 0, sizeof *out);
    if (!j)
        return;
    switch (j->type & 0xFF) {
    case cJSON_False: out->t = T_BOOL; break;
    case cJSON_True: out->t = T_BOOL, out->u.b = true; break;
    case cJSON_Number: out->t = T_NUM, out->u.d = baton_dec_from_double(j->valuedouble); break;
    case cJSON_String:
        if (j->valuestring) {
            size_t len = strlen(j->valuestring);
            out->t = T_STR;
            out->n = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
            out->u.s = j->valuestring;
        }
        break;
    case cJSON_Raw: {
        dec d;
        if (j->valuestring && baton_dec_parse(j->valuestring, strlen(j->valuestring), &d))
            out->t = T_NUM, out->u.d = d;
        break;
    }
    case cJSON_Array: out->t = T_LIST, out->k = REP_JSON, out->u.json = j; break;
    case cJSON_Object: out->t = T_CTX, out->k = REP_JSON, out->u.json = j; break;
    default: break;
    }
}

uint32_t baton_feel_list_len(const fv *l) {
    if (l->k != REP_JSON)
        return l->n;
    uint32_t n = 0;
    for (const cJSON *c = l->u.json->child; c; c = c->next)
        n++;
    return n;
}

void baton_feel_list_get(const fv *l, uint32_t i, fv *out) {
    if (l->k != REP_JSON) {
        *out = l->u.items[i];
        return;
    }
    const cJSON *c = l->u.json->child;
    while (c && i--)
        c = c->next;
    baton_feel_from_json(c, out);
}

/* Empty lists still get an items array, so callers may do pointer arithmetic on it. */
static const fv no_items[1];

baton_status baton_feel_list_items(ev *x, const fv *l, const fv **items_out, uint32_t *n_out) {
    if (l->k != REP_JSON) {
        *items_out = l->u.items ? l->u.items : no_items;
        *n_out = l->n;
        return BATON_OK;
    }
    uint32_t n = baton_feel_list_len(l);
    if (n == 0) {
        *items_out = no_items;
        *n_out = 0;
        return BATON_OK;
    }
    fv *items = baton_feel_alloc(x, n * sizeof *items);
    if (!items)
        return x->err->code;
    uint32_t i = 0;
    for (const cJSON *c = l->u.json->child; c; c = c->next)
        baton_feel_from_json(c, &items[i++]);
    *items_out = items;
    *n_out = n;
    return BATON_OK;
}

bool baton_feel_ctx_get(const fv *c, const char *key, size_t len, fv *out) {
    if (c->k == REP_JSON) {
        for (const cJSON *m = c->u.json->child; m; m = m->next) {
            const char *k = m->string;
            if (k && (len == 0 || k[0] == key[0]) && strncmp(k, key, len) == 0 && k[len] == '\0') {
                baton_feel_from_json(m, out);
                return true;
            }
        }
        return false;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        const centry *e = &c->u.ents[i];
        if (e->len == len && memcmp(e->name, key, len) == 0) {
            *out = e->v;
            return true;
        }
    }
    return false;
}

baton_status baton_feel_ctx_entries(ev *x, const fv *c, const centry **ents_out, uint32_t *n_out) {
    if (c->k != REP_JSON) {
        *ents_out = c->u.ents;
        *n_out = c->n;
        return BATON_OK;
    }
    uint32_t n = 0;
    for (const cJSON *m = c->u.json->child; m; m = m->next)
        n++;
    centry *e = n ? baton_feel_alloc(x, n * sizeof *e) : NULL;
    if (n && !e)
        return x->err->code;
    uint32_t i = 0;
    for (const cJSON *m = c->u.json->child; m; m = m->next, i++) {
        e[i].name = m->string ? m->string : "";
        e[i].len = (uint32_t)strlen(e[i].name);
        baton_feel_from_json(m, &e[i].v);
    }
    *ents_out = e;
    *n_out = n;
    return BATON_OK;
}

/* ---- temporals ------------------------------------------------------------------------ */

int64_t baton_feel_dt_utc(const fv *v) {
    return v->k == BATON_TM_LOCAL ? v->u.tm.a : v->u.tm.a - v->u.tm.off;
}

void baton_feel_dt_zoned(fv *out, int64_t local, int32_t ns, uint16_t zone) {
    int32_t off = baton_tz_offset_for_local(zone, local);
    int64_t utc = local - off;
    int32_t real = baton_tz_offset_at(zone, utc);
    memset(out, 0, sizeof *out);
    out->t = T_DT;
    out->k = BATON_TM_ZONE;
    out->zone = zone;
    out->u.tm.a = utc + real;
    out->u.tm.ns = ns;
    out->u.tm.off = real;
}

static bool year_ok(int64_t days) {
    int64_t y;
    int m, d;
    baton_civil_from_days(days, &y, &m, &d);
    return y >= -BATON_MAX_YEAR && y <= BATON_MAX_YEAR;
}

baton_status baton_feel_parse_temporal(const char *s, size_t len, int want, fv *out,
                                       baton_error *err) {
    memset(out, 0, sizeof *out);
    if (len && (s[0] == 'P' || s[0] == '-' || s[0] == '+') &&
        (want < 0 || want == T_DTD || want == T_YMD || want == -2)) {
        baton_dur d;
        if (!baton_tm_parse_duration(s, len, &d) || d.weeks)
            return BATON_OK; /* xsd:duration has no weeks */
        bool ym = d.has_ym && !d.has_dt;
        if (d.has_ym && d.has_dt)
            return BATON_OK; /* FEEL has no mixed durations */
        if ((want == T_DTD && ym) || (want == T_YMD && !ym))
            return BATON_OK;
        if (ym) {
            if (d.years > 999999999 || d.months > 999999999)
                return BATON_OK;
            int64_t m = d.years * 12 + d.months;
            out->t = T_YMD;
            out->u.i = d.neg ? -m : m;
            return BATON_OK;
        }
        if (d.weeks > 99999999 || d.days > 999999999 || d.hours > INT64_C(99999999999) ||
            d.minutes > INT64_C(9999999999999) || d.seconds > INT64_C(999999999999999))
            return BATON_OK;
        int64_t sec = ((d.weeks * 7 + d.days) * 24 + d.hours) * 3600 + d.minutes * 60 + d.seconds;
        int32_t ns = d.nanos;
        if (d.neg) {
            sec = -sec;
            if (ns) {
                sec -= 1;
                ns = (int32_t)(BATON_NS_PER_S - ns);
            }
        }
        out->t = T_DTD;
        out->u.tm.a = sec;
        out->u.tm.ns = ns;
        return BATON_OK;
    }
    int accept = want == T_DATE   ? BATON_TM_DATE | BATON_TM_DATETIME
                 : want == T_TIME ? BATON_TM_TIME | BATON_TM_DATETIME
                 : want == T_DT   ? BATON_TM_DATETIME | BATON_TM_DATE
                 : want < 0       ? BATON_TM_DATE | BATON_TM_TIME | BATON_TM_DATETIME
                                  : 0;
    baton_tm t;
    int got = accept ? baton_tm_parse(s, len, accept, &t) : 0;
    if (!got || !year_ok(t.days))
        return BATON_OK;
    uint16_t zone = 0;
    if (t.kind == BATON_TM_ZONE) {
        baton_status st = baton_tz_find(t.zone, t.zone_len, &zone, err);
        if (st == BATON_NOTFOUND)
            return BATON_OK;
        if (st)
            return st;
    }
    if (want == T_DATE || (want < 0 && got == BATON_TM_DATE)) {
        if (want == T_DATE && got == BATON_TM_DATETIME && t.kind != BATON_TM_LOCAL)
            return BATON_OK;
        out->t = T_DATE;
        out->u.i = t.days;
        return BATON_OK;
    }
    if (want == T_TIME || (want < 0 && got == BATON_TM_TIME)) {
        out->t = T_TIME;
        out->k = (uint8_t)t.kind;
        out->u.tm.a = t.nanos;
        out->u.tm.off = t.offset;
        if (t.kind == BATON_TM_ZONE) {
            out->zone = zone;
            out->u.tm.off = baton_tz_offset_at(zone, t.nanos / BATON_NS_PER_S);
        }
        return BATON_OK;
    }
    int64_t local = t.days * BATON_DAY_S + t.nanos / BATON_NS_PER_S;
    int32_t ns = (int32_t)(t.nanos % BATON_NS_PER_S);
    if (t.kind == BATON_TM_ZONE) {
        baton_feel_dt_zoned(out, local, ns, zone);
        return BATON_OK;
    }
    out->t = T_DT;
    out->k = (uint8_t)t.kind;
    out->u.tm.a = local;
    out->u.tm.ns = ns;
    out->u.tm.off = t.offset;
    return BATON_OK;
}

/* ---- equality and order ------------------------------------------------------------- */

static int cmp64(int64_t a, int64_t b) {
    return a < b ? -1 : a > b;
}

static int cmp_time(const fv *a, const fv *b) {
    if ((a->k == BATON_TM_LOCAL) != (b->k == BATON_TM_LOCAL))
        return 2;
    int64_t x = a->u.tm.a, y = b->u.tm.a;
    if (a->k != BATON_TM_LOCAL) {
        x = baton_floormod(x - a->u.tm.off * BATON_NS_PER_S, BATON_NS_PER_DAY);
        y = baton_floormod(y - b->u.tm.off * BATON_NS_PER_S, BATON_NS_PER_DAY);
    }
    return cmp64(x, y);
}

static int cmp_dt(const fv *a, const fv *b) {
    if ((a->k == BATON_TM_LOCAL) != (b->k == BATON_TM_LOCAL))
        return 2;
    int c = cmp64(baton_feel_dt_utc(a), baton_feel_dt_utc(b));
    return c ? c : cmp64(a->u.tm.ns, b->u.tm.ns);
}

int baton_feel_compare(const fv *a, const fv *b) {
    if (a->t != b->t)
        return 2;
    switch (a->t) {
    case T_NUM: return baton_dec_cmp(a->u.d, b->u.d);
    case T_STR: {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = memcmp(a->u.s, b->u.s, n);
        if (c)
            return c < 0 ? -1 : 1;
        return cmp64(a->n, b->n);
    }
    case T_DATE: return cmp64(a->u.i, b->u.i);
    case T_TIME: return cmp_time(a, b);
    case T_DT: return cmp_dt(a, b);
    case T_DTD: {
        int c = cmp64(a->u.tm.a, b->u.tm.a);
        return c ? c : cmp64(a->u.tm.ns, b->u.tm.ns);
    }
    case T_YMD: return cmp64(a->u.i, b->u.i);
    default: return 2;
    }
}

static bool spend(ev *x, uint32_t n) {
    if (!x)
        return true;
    if (n > x->max_steps - x->steps) {
        x->over = true;
        return false;
    }
    x->steps += n;
    return true;
}

static int equal_ctx(ev *x, const fv *a, const fv *b) {
    /* same keys, equal values; JSON contexts compared entry by entry */
    uint32_t na = 0, nb = 0;
    fv va, vb;
    if (a->k == REP_JSON) {
        for (const cJSON *m = a->u.json->child; m; m = m->next)
            na++;
    } else {
        na = a->n;
    }
    if (b->k == REP_JSON) {
        for (const cJSON *m = b->u.json->child; m; m = m->next)
            nb++;
    } else {
        nb = b->n;
    }
    if (na != nb)
        return 0;
    if (!spend(x, na))
        return -1;
    const cJSON *m = a->k == REP_JSON ? a->u.json->child : NULL;
    for (uint32_t i = 0; i < na; i++) {
        const char *key;
        size_t len;
        if (a->k == REP_JSON) {
            key = m->string ? m->string : "";
            len = strlen(key);
            baton_feel_from_json(m, &va);
            m = m->next;
        } else {
            key = a->u.ents[i].name;
            len = a->u.ents[i].len;
            va = a->u.ents[i].v;
        }
        if (!baton_feel_ctx_get(b, key, len, &vb) || baton_feel_equal(x, &va, &vb) != 1)
            return 0;
    }
    return 1;
}

int baton_feel_equal(ev *x, const fv *a, const fv *b) {
    if (a->t == T_NULL || b->t == T_NULL)
        return a->t == b->t;
    if (a->t != b->t)
        return -1;
    switch (a->t) {
    case T_BOOL: return a->u.b == b->u.b;
    case T_LIST: {
        uint32_t na = baton_feel_list_len(a), nb = baton_feel_list_len(b);
        if (na != nb)
            return 0;
        if (!spend(x, na))
            return -1;
        const cJSON *ja = a->k == REP_JSON ? a->u.json->child : NULL;
        const cJSON *jb = b->k == REP_JSON ? b->u.json->child : NULL;
        for (uint32_t i = 0; i < na; i++) {
            fv ea, eb;
            if (ja)
                baton_feel_from_json(ja, &ea), ja = ja->next;
            else
                ea = a->u.items[i];
            if (jb)
                baton_feel_from_json(jb, &eb), jb = jb->next;
            else
                eb = b->u.items[i];
            if (baton_feel_equal(x, &ea, &eb) != 1)
                return 0;
        }
        return 1;
    }
    case T_CTX: return equal_ctx(x, a, b);
    case T_RANGE: {
        const frange *ra = a->u.rng, *rb = b->u.rng;
        return ra->lo_in == rb->lo_in && ra->hi_in == rb->hi_in &&
               baton_feel_equal(x, &ra->lo, &rb->lo) == 1 &&
               baton_feel_equal(x, &ra->hi, &rb->hi) == 1;
    }
    case T_FUNC: return a->u.fn == b->u.fn;
    case T_TIME:
    case T_DT: {
        int c = a->t == T_TIME ? cmp_time(a, b) : cmp_dt(a, b);
        return c == 2 ? 0 : c == 0;
    }
    default: {
        int c = baton_feel_compare(a, b);
        return c == 2 ? -1 : c == 0;
    }
    }
}

const char *baton_feel_type_name(const fv *v) {
    static const char *const names[T_COUNT_] = {"null",
                                                "boolean",
                                                "number",
                                                "string",
                                                "date",
                                                "time",
                                                "date and time",
                                                "days and time duration",
                                                "years and months duration",
                                                "list",
                                                "context",
                                                "range",
                                                "function"};
    return v->t < T_COUNT_ ? names[v->t] : "null";
}

/* ---- text and JSON ------------------------------------------------------------------- */

static baton_status put_dt(const fv *v, baton_buf *b) {
    char buf[64];
    int64_t days = baton_floordiv(v->u.tm.a, BATON_DAY_S);
    int64_t tod = baton_floormod(v->u.tm.a, BATON_DAY_S);
    size_t n = baton_tm_format_date(days, buf);
    baton_status st = baton_buf_append(b, buf, n);
    if (!st)
        st = baton_buf_putc(b, 'T');
    n = baton_tm_format_time(tod * BATON_NS_PER_S + v->u.tm.ns, buf);
    if (!st)
        st = baton_buf_append(b, buf, n);
    if (!st && v->k == BATON_TM_OFFSET) {
        n = baton_tm_format_offset(v->u.tm.off, buf);
        st = baton_buf_append(b, buf, n);
    } else if (!st && v->k == BATON_TM_ZONE) {
        st = baton_buf_putc(b, '@');
        if (!st)
            st = baton_buf_puts(b, baton_tz_name(v->zone));
    }
    return st;
}

static baton_status put_temporal(const fv *v, baton_buf *b) {
    char buf[64];
    size_t n;
    switch (v->t) {
    case T_DATE: n = baton_tm_format_date(v->u.i, buf); break;
    case T_TIME: {
        n = baton_tm_format_time(v->u.tm.a, buf);
        baton_status st = baton_buf_append(b, buf, n);
        if (st || v->k == BATON_TM_LOCAL)
            return st;
        if (v->k == BATON_TM_ZONE) {
            if ((st = baton_buf_putc(b, '@')))
                return st;
            return baton_buf_puts(b, baton_tz_name(v->zone));
        }
        n = baton_tm_format_offset(v->u.tm.off, buf);
        break;
    }
    case T_DT: return put_dt(v, b);
    case T_DTD: n = baton_tm_format_dtd(v->u.tm.a, v->u.tm.ns, buf); break;
    case T_YMD: n = baton_tm_format_ymd(v->u.i, buf); break;
    default: return BATON_OK;
    }
    return baton_buf_append(b, buf, n);
}

static baton_status put_num(dec d, baton_buf *b) {
    char buf[160];
    size_t n = baton_dec_format(d, buf, sizeof buf);
    return baton_buf_append(b, buf, n);
}

static baton_status to_text(const fv *v, baton_buf *b, int depth, bool quote) {
    baton_status st = BATON_OK;
    if (depth > BATON_EXPR_MAX_JSON_DEPTH)
        return BATON_LIMIT;
    switch (v->t) {
    case T_NULL: return baton_buf_puts(b, "null");
    case T_BOOL: return baton_buf_puts(b, v->u.b ? "true" : "false");
    case T_NUM: return put_num(v->u.d, b);
    case T_STR:
        if (quote) {
            if ((st = baton_buf_putc(b, '"')) || (st = baton_buf_append(b, v->u.s, v->n)))
                return st;
            return baton_buf_putc(b, '"');
        }
        return baton_buf_append(b, v->u.s, v->n);
    case T_LIST: {
        st = baton_buf_putc(b, '[');
        uint32_t n = baton_feel_list_len(v);
        const cJSON *j = v->k == REP_JSON ? v->u.json->child : NULL;
        for (uint32_t i = 0; i < n && !st; i++) {
            fv x;
            if (j)
                baton_feel_from_json(j, &x), j = j->next;
            else
                x = v->u.items[i];
            if (i)
                st = baton_buf_puts(b, ", ");
            if (!st)
                st = to_text(&x, b, depth + 1, true);
        }
        return st ? st : baton_buf_putc(b, ']');
    }
    case T_CTX: {
        st = baton_buf_putc(b, '{');
        const cJSON *j = v->k == REP_JSON ? v->u.json->child : NULL;
        uint32_t n = v->k == REP_JSON ? UINT32_MAX : v->n;
        for (uint32_t i = 0; i < n && !st; i++) {
            fv x;
            const char *key;
            size_t len;
            if (v->k == REP_JSON) {
                if (!j)
                    break;
                key = j->string ? j->string : "";
                len = strlen(key);
                baton_feel_from_json(j, &x);
                j = j->next;
            } else {
                key = v->u.ents[i].name;
                len = v->u.ents[i].len;
                x = v->u.ents[i].v;
            }
            if (i)
                st = baton_buf_puts(b, ", ");
            if (!st)
                st = baton_buf_append(b, key, len);
            if (!st)
                st = baton_buf_puts(b, ": ");
            if (!st)
                st = to_text(&x, b, depth + 1, true);
        }
        return st ? st : baton_buf_putc(b, '}');
    }
    case T_RANGE: {
        const frange *r = v->u.rng;
        if ((st = baton_buf_putc(b, r->lo_in ? '[' : '(')) ||
            (st = to_text(&r->lo, b, depth + 1, true)) || (st = baton_buf_puts(b, "..")) ||
            (st = to_text(&r->hi, b, depth + 1, true)))
            return st;
        return baton_buf_putc(b, r->hi_in ? ']' : ')');
    }
    case T_FUNC: return baton_buf_puts(b, "function");
    default: return put_temporal(v, b);
    }
}

/* A JSON string literal from s[0..len) (NUL bytes allowed), appended in runs. */
static baton_status put_json_str(baton_buf *b, const char *s, size_t len) {
    baton_status st = baton_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < len && !st; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run)
            st = baton_buf_append(b, s + run, i - run);
        run = i + 1;
        if (st)
            break;
        switch (c) {
        case '"': st = baton_buf_append(b, "\\\"", 2); break;
        case '\\': st = baton_buf_append(b, "\\\\", 2); break;
        case '\n': st = baton_buf_append(b, "\\n", 2); break;
        case '\r': st = baton_buf_append(b, "\\r", 2); break;
        case '\t': st = baton_buf_append(b, "\\t", 2); break;
        default: st = baton_buf_printf(b, "\\u%04x", c); break;
        }
    }
    if (!st && len > run)
        st = baton_buf_append(b, s + run, len - run);
    return st ? st : baton_buf_putc(b, '"');
}

baton_status baton_feel_to_text(const fv *v, baton_buf *b) {
    return to_text(v, b, 0, false);
}

baton_status baton_feel_to_json_text(const fv *v, baton_buf *b, int depth) {
    baton_status st = BATON_OK;
    if (depth > BATON_EXPR_MAX_JSON_DEPTH)
        return BATON_LIMIT;
    switch (v->t) {
    case T_NULL: return baton_buf_puts(b, "null");
    case T_BOOL: return baton_buf_puts(b, v->u.b ? "true" : "false");
    case T_NUM: {
        char buf[160];
        size_t n = baton_dec_format(v->u.d, buf, sizeof buf);
        char *e = strchr(buf, 'E'); /* JSON wants a digit before the exponent: fine as is */
        (void)e;
        return baton_buf_append(b, buf, n);
    }
    case T_STR: return put_json_str(b, v->u.s, v->n);
    case T_LIST: {
        st = baton_buf_putc(b, '[');
        uint32_t n = baton_feel_list_len(v);
        const cJSON *j = v->k == REP_JSON ? v->u.json->child : NULL;
        for (uint32_t i = 0; i < n && !st; i++) {
            fv x;
            if (j)
                baton_feel_from_json(j, &x), j = j->next;
            else
                x = v->u.items[i];
            if (i)
                st = baton_buf_putc(b, ',');
            if (!st)
                st = baton_feel_to_json_text(&x, b, depth + 1);
        }
        return st ? st : baton_buf_putc(b, ']');
    }
    case T_CTX: {
        st = baton_buf_putc(b, '{');
        const cJSON *j = v->k == REP_JSON ? v->u.json->child : NULL;
        uint32_t n = v->k == REP_JSON ? UINT32_MAX : v->n;
        for (uint32_t i = 0; i < n && !st; i++) {
            fv x;
            const char *key;
            size_t klen;
            if (v->k == REP_JSON) {
                if (!j)
                    break;
                key = j->string ? j->string : "";
                klen = strlen(key);
                baton_feel_from_json(j, &x);
                j = j->next;
            } else {
                key = v->u.ents[i].name;
                klen = v->u.ents[i].len;
                x = v->u.ents[i].v;
            }
            if (i)
                st = baton_buf_putc(b, ',');
            if (!st)
                st = put_json_str(b, key, klen);
            if (!st)
                st = baton_buf_putc(b, ':');
            if (!st)
                st = baton_feel_to_json_text(&x, b, depth + 1);
        }
        return st ? st : baton_buf_putc(b, '}');
    }
    case T_RANGE: {
        const frange *r = v->u.rng;
        if ((st = baton_buf_puts(b, "{\"start\":")) ||
            (st = baton_feel_to_json_text(&r->lo, b, depth + 1)) ||
            (st = baton_buf_puts(b, ",\"end\":")) ||
            (st = baton_feel_to_json_text(&r->hi, b, depth + 1)))
            return st;
        return baton_buf_printf(b, ",\"start included\":%s,\"end included\":%s}",
                                r->lo_in ? "true" : "false", r->hi_in ? "true" : "false");
    }
    case T_FUNC: return baton_buf_puts(b, "null");
    default: {
        if ((st = baton_buf_putc(b, '"')) || (st = put_temporal(v, b)))
            return st;
        return baton_buf_putc(b, '"');
    }
    }
}

/* Charge a variable's JSON against the budget before copying it (it may be repeated). */
static bool json_cost(const cJSON *j, size_t *budget, int depth) {
    for (const cJSON *c = j->child; c; c = c->next) {
        size_t cost = 64 + (c->valuestring ? strlen(c->valuestring) : 0) +
                      (c->string ? strlen(c->string) : 0);
        if (cost > *budget || depth > BATON_EXPR_MAX_JSON_DEPTH)
            return false;
        *budget -= cost;
        if (c->child && !json_cost(c, budget, depth + 1))
            return false;
    }
    return true;
}

baton_status baton_feel_to_cjson(const fv *v, cJSON **out, int depth, size_t *budget) {
    cJSON *j = NULL;
    baton_status st = BATON_OK;
    size_t cost = 64 + (v->t == T_STR ? v->n : 0);
    if (depth > BATON_EXPR_MAX_JSON_DEPTH || cost > *budget)
        return BATON_LIMIT;
    *budget -= cost;
    switch (v->t) {
    case T_NULL:
    case T_FUNC: j = cJSON_CreateNull(); break;
    case T_BOOL: j = cJSON_CreateBool(v->u.b); break;
    case T_NUM: j = cJSON_CreateNumber(baton_dec_to_double(v->u.d)); break;
    case T_STR: {
        char *s = baton_strndup(v->u.s, v->n);
        if (s) {
            j = cJSON_CreateString(s);
            baton_free(s);
        }
        break;
    }
    case T_LIST: {
        if (v->k == REP_JSON) {
            if (!json_cost(v->u.json, budget, depth))
                return BATON_LIMIT;
            j = cJSON_Duplicate(v->u.json, true);
            break;
        }
        j = cJSON_CreateArray();
        for (uint32_t i = 0; j && i < v->n && !st; i++) {
            cJSON *x = NULL;
            st = baton_feel_to_cjson(&v->u.items[i], &x, depth + 1, budget);
            if (!st && !cJSON_AddItemToArray(j, x)) {
                cJSON_Delete(x);
                st = BATON_NOMEM;
            }
        }
        break;
    }
    case T_CTX: {
        if (v->k == REP_JSON) {
            if (!json_cost(v->u.json, budget, depth))
                return BATON_LIMIT;
            j = cJSON_Duplicate(v->u.json, true);
            break;
        }
        j = cJSON_CreateObject();
        for (uint32_t i = 0; j && i < v->n && !st; i++) {
            cJSON *x = NULL;
            char *key = baton_strndup(v->u.ents[i].name, v->u.ents[i].len);
            st = key ? baton_feel_to_cjson(&v->u.ents[i].v, &x, depth + 1, budget) : BATON_NOMEM;
            if (!st && !cJSON_AddItemToObject(j, key, x)) {
                cJSON_Delete(x);
                st = BATON_NOMEM;
            }
            baton_free(key);
        }
        break;
    }
    case T_RANGE: {
        const frange *r = v->u.rng;
        cJSON *lo = NULL, *hi = NULL;
        j = cJSON_CreateObject();
        if (j && !(st = baton_feel_to_cjson(&r->lo, &lo, depth + 1, budget)) &&
            !cJSON_AddItemToObject(j, "start", lo))
            cJSON_Delete(lo), st = BATON_NOMEM;
        if (j && !st && !(st = baton_feel_to_cjson(&r->hi, &hi, depth + 1, budget)) &&
            !cJSON_AddItemToObject(j, "end", hi))
            cJSON_Delete(hi), st = BATON_NOMEM;
        if (j && !st &&
            (!cJSON_AddBoolToObject(j, "start included", r->lo_in) ||
             !cJSON_AddBoolToObject(j, "end included", r->hi_in)))
            st = BATON_NOMEM;
        break;
    }
    default: {
        baton_buf b;
        baton_buf_init(&b, 0);
        st = put_temporal(v, &b);
        if (!st)
            j = cJSON_CreateString(baton_buf_str(&b));
        baton_buf_fini(&b);
        break;
    }
    }
    if (!st && !j)
        st = BATON_NOMEM;
    if (st) {
        cJSON_Delete(j);
        return st;
    }
    *out = j;
    return BATON_OK;
}
