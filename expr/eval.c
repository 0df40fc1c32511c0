/*
 * eval.c - the tree-walking evaluator shared by FEEL and JUEL.
 *
 * FEEL semantics follow DMN 1.4 chapter 10.3.2: a type mismatch, a missing
 * variable or an impossible operation yields null (with the first reason
 * kept in ev.why so a failing condition can say what went wrong); only
 * resource bounds (steps, memory, recursion) and out-of-memory are errors.
 * JUEL nodes (NF_JUEL) use EL coercions instead and treat an unknown
 * variable as an error, as Camunda 7 does.
 *
 * Scopes are a linked list of frames on the C stack (loop variables,
 * filter items, context literals under construction, function
 * parameters); closures copy the chain into scratch memory. Every node
 * visit costs one step and one level of the recursion bound, so a hostile
 * expression ends with BATON_LIMIT, never a hang or a stack overflow.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "expr/civil.h"
#include "expr/expr_int.h"
#include "expr/temporal.h"
#include "expr/tz.h"

/* ---- scratch memory ------------------------------------------------------------------ */

struct chunk {
    chunk *next;
    max_align_t align[];
};

void baton_feel_scratch_init(scratch *s, void *first, size_t first_len, size_t limit) {
    s->p = first;
    s->end = (char *)first + first_len;
    s->heap = NULL;
    s->used = 0;
    s->limit = limit;
}

void baton_feel_scratch_fini(scratch *s) {
    chunk *c = s->heap;
    while (c) {
        chunk *next = c->next;
        baton_free(c);
        c = next;
    }
    s->heap = NULL;
}

void *baton_feel_alloc(ev *x, size_t n) {
    scratch *s = &x->mem;
    n = (n + 15) & ~(size_t)15;
    if (n > s->limit || s->used + n > s->limit) {
        baton_error_set(x->err, BATON_LIMIT,
                        "evaluation needs more than %zu bytes (result too large)", s->limit);
        return NULL;
    }
    uintptr_t p = ((uintptr_t)s->p + 15) & ~(uintptr_t)15;
    if (s->p && p + n <= (uintptr_t)s->end) {
        s->p = (char *)(p + n);
        s->used += n;
        return (void *)p;
    }
    size_t block = n > 16384 ? n : 16384;
    chunk *c = baton_malloc(sizeof *c + block + 16);
    if (!c) {
        baton_error_set(x->err, BATON_NOMEM, "out of memory evaluating expression");
        return NULL;
    }
    c->next = s->heap;
    s->heap = c;
    p = ((uintptr_t)c->align + 15) & ~(uintptr_t)15;
    s->p = (char *)(p + n);
    s->end = (char *)c->align + block + 16;
    s->used += n;
    return (void *)p;
}

baton_status baton_feel_null(ev *x, fv *out, const char *fmt, ...) {
    memset(out, 0, sizeof *out);
    if (!x->why[0] && fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->why, sizeof x->why, fmt, ap);
        va_end(ap);
    }
    return BATON_OK;
}

#define NUL(...) baton_feel_null(x, out, __VA_ARGS__)

static baton_status limit_steps(ev *x) {
    return baton_error_set(x->err, BATON_LIMIT,
                           "evaluation exceeded %u steps (expression too expensive)", x->max_steps);
}

/* Charge `n` steps of linear work done outside eval() (list functions). */
static inline baton_status charge(ev *x, uint32_t n) {
    if (n > x->max_steps - x->steps)
        return limit_steps(x);
    x->steps += n;
    return BATON_OK;
}

/* ---- names -------------------------------------------------------------------------- */

static bool scope_find(const scope *s, const char *name, size_t len, fv *out) {
    for (; s; s = s->up) {
        switch (s->kind) {
        case S_BIND:
            if (s->name.len == len && memcmp(s->name.s, name, len) == 0) {
                *out = s->v;
                return true;
            }
            break;
        case S_CTX:
            if (baton_feel_ctx_get(&s->v, name, len, out))
                return true;
            break;
        case S_BUILD:
            for (uint32_t i = 0; i < s->b->n; i++)
                if (s->b->ents[i].len == len && memcmp(s->b->ents[i].name, name, len) == 0) {
                    *out = s->b->ents[i].v;
                    return true;
                }
            break;
        default: break;
        }
    }
    return false;
}

static bool lookup(ev *x, const char *name, size_t len, fv *out) {
    if (x->sc && scope_find(x->sc, name, len, out))
        return true;
    const baton_expr_env *env = x->env;
    if (env && env->lookup) {
        const cJSON *j = env->lookup(env->cookie, name, len);
        if (j) {
            baton_feel_from_json(j, out);
            return true;
        }
    }
    return false;
}

static baton_status eval_var(ev *x, const node *n, fv *out) {
    if (lookup(x, n->name.s, n->name.len, out))
        return BATON_OK;
    if (n->flags & NF_JUEL) {
        baton_error_set(x->err, BATON_EVAL, "unknown property '%.*s'",
                        (int)(n->name.len > 60 ? 60 : n->name.len), n->name.s);
        baton_error_where(x->err, "col %u", n->col);
        return BATON_EVAL;
    }
    const builtin *bi = n->bi ? n->bi : baton_feel_builtin(n->name.s, n->name.len);
    if (bi) { /* a built-in used as a value, e.g. sort(l, precedes: f) */
        ffunc *f = baton_feel_alloc(x, sizeof *f);
        if (!f)
            return x->err->code;
        memset(f, 0, sizeof *f);
        f->bi = bi;
        memset(out, 0, sizeof *out);
        out->t = T_FUNC;
        out->u.fn = f;
        return BATON_OK;
    }
    return NUL("no variable '%.*s'", (int)(n->name.len > 60 ? 60 : n->name.len), n->name.s);
}

/* ---- arithmetic ---------------------------------------------------------------------- */

static void mknum(fv *out, dec d) {
    if (!bid128_isFinite(d))
        memset(out, 0, sizeof *out);
    else
        baton_feel_num(out, d);
}

static dec dec_pow_int(dec b, int64_t e) {
    _IDEC_flags f = 0;
    bool neg = e < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)e : (uint64_t)e;
    dec r = bid128_from_int64(1);
    while (u) {
        if (u & 1)
            r = bid128_mul(r, b, DEC_RND, &f);
        u >>= 1;
        if (u)
            b = bid128_mul(b, b, DEC_RND, &f);
    }
    return neg ? bid128_div(bid128_from_int64(1), r, DEC_RND, &f) : r;
}

static void num_arith(int op, dec a, dec b, fv *out) {
    _IDEC_flags f = 0;
    dec r;
    switch (op) {
    case OP_ADD: r = bid128_add(a, b, DEC_RND, &f); break;
    case OP_SUB: r = bid128_sub(a, b, DEC_RND, &f); break;
    case OP_MUL: r = bid128_mul(a, b, DEC_RND, &f); break;
    case OP_DIV:
    case OP_IDIV:
        if (bid128_isZero(b)) {
            memset(out, 0, sizeof *out);
            return;
        }
        r = bid128_div(a, b, DEC_RND, &f);
        break;
    case OP_MOD:
        if (bid128_isZero(b)) {
            memset(out, 0, sizeof *out);
            return;
        }
        r = bid128_fmod(a, b, &f);
        break;
    case OP_POW: {
        int64_t e;
        if (baton_dec_to_int(b, &e) && e >= -100000 && e <= 100000)
            r = dec_pow_int(a, e);
        else
            r = bid128_pow(a, b, DEC_RND, &f);
        break;
    }
    default: r = bid128_from_int64(0); break;
    }
    mknum(out, r);
}

/* Days-time durations: seconds + nanoseconds in [0, 1e9). */
static bool dtd_add(int64_t as, int32_t an, int64_t bs, int32_t bn, int64_t *s, int32_t *n) {
    int64_t sec;
    if (__builtin_add_overflow(as, bs, &sec))
        return false;
    int32_t ns = an + bn;
    if (ns >= BATON_NS_PER_S) {
        ns -= (int32_t)BATON_NS_PER_S;
        if (__builtin_add_overflow(sec, 1, &sec))
            return false;
    }
    *s = sec;
    *n = ns;
    return true;
}

static void dtd_neg(int64_t s, int32_t n, int64_t *so, int32_t *no) {
    *so = n ? -s - 1 : -s;
    *no = n ? (int32_t)(BATON_NS_PER_S - n) : 0;
}

static dec dtd_to_dec(int64_t s, int32_t n) { /* in nanoseconds */
    _IDEC_flags f = 0;
    dec r = bid128_mul(bid128_from_int64(s), bid128_from_int64(BATON_NS_PER_S), DEC_RND, &f);
    return bid128_add(r, bid128_from_int64(n), DEC_RND, &f);
}

static bool dec_to_dtd(dec ns, int64_t *s, int32_t *n) {
    _IDEC_flags f = 0;
    ns = bid128_round_integral_nearest_even(ns, &f);
    dec bil = bid128_from_int64(BATON_NS_PER_S);
    dec sec = bid128_round_integral_negative(bid128_div(ns, bil, DEC_RND, &f), &f);
    dec rem = bid128_sub(ns, bid128_mul(sec, bil, DEC_RND, &f), DEC_RND, &f);
    int64_t si, ri;
    if (!baton_dec_to_int(sec, &si) || !baton_dec_to_int(rem, &ri) || si > INT64_C(1) << 55 ||
        si < -(INT64_C(1) << 55))
        return false;
    *s = si;
    *n = (int32_t)ri;
    return true;
}

static void mk_dtd(fv *out, int64_t s, int32_t n) {
    memset(out, 0, sizeof *out);
    out->t = T_DTD;
    out->u.tm.a = s;
    out->u.tm.ns = n;
}

static void mk_ymd(fv *out, int64_t m) {
    memset(out, 0, sizeof *out);
    if (m > INT64_C(12) * BATON_MAX_YEAR || m < -INT64_C(12) * BATON_MAX_YEAR)
        return;
    out->t = T_YMD;
    out->u.i = m;
}

static void mk_date(fv *out, int64_t days) {
    memset(out, 0, sizeof *out);
    if (days > INT64_C(365243) * 1000000 || days < -INT64_C(365243) * 1000000)
        return;
    out->t = T_DATE;
    out->u.i = days;
}

/* Add calendar months to a day number, clamping the day of month. */
static int64_t add_months(int64_t days, int64_t months) {
    int64_t y;
    int m, d;
    baton_civil_from_days(days, &y, &m, &d);
    int64_t mi = y * 12 + (m - 1) + months;
    y = baton_floordiv(mi, 12);
    m = (int)baton_floormod(mi, 12) + 1;
    int md = baton_month_days(y, m);
    return baton_days_from_civil(y, m, d > md ? md : d);
}

/* date-time with its local seconds moved, keeping its kind (re-resolving zones). */
static void dt_with_local(fv *out, const fv *dt, int64_t local, int32_t ns) {
    if (dt->k == BATON_TM_ZONE) {
        baton_feel_dt_zoned(out, local, ns, dt->zone);
        return;
    }
    *out = *dt;
    out->u.tm.a = local;
    out->u.tm.ns = ns;
}

static void dt_plus_dtd(fv *out, const fv *dt, int64_t s, int32_t n) {
    int64_t local;
    int32_t ns;
    if (!dtd_add(dt->u.tm.a, dt->u.tm.ns, s, n, &local, &ns) || local > (INT64_C(1) << 55) ||
        local < -(INT64_C(1) << 55)) {
        memset(out, 0, sizeof *out);
        return;
    }
    if (dt->k == BATON_TM_ZONE) { /* exact time: move the instant, then re-offset */
        int64_t utc = local - dt->u.tm.off;
        int32_t off = baton_tz_offset_at(dt->zone, utc);
        *out = *dt;
        out->u.tm.a = utc + off;
        out->u.tm.ns = ns;
        out->u.tm.off = off;
        return;
    }
    dt_with_local(out, dt, local, ns);
}

static baton_status temporal_arith(ev *x, int op, const fv *a, const fv *b, fv *out) {
    int ta = a->t, tb = b->t;
    int64_t s;
    int32_t n;
    /* normalise commutative forms so the duration is on the right */
    if (op == OP_ADD && (ta == T_DTD || ta == T_YMD) &&
        (tb == T_DATE || tb == T_DT || tb == T_TIME))
        return temporal_arith(x, op, b, a, out);
    if (op == OP_MUL && ta == T_NUM && (tb == T_DTD || tb == T_YMD))
        return temporal_arith(x, op, b, a, out);
    if (tb == T_DTD && (op == OP_ADD || op == OP_SUB)) {
        int64_t bs = b->u.tm.a;
        int32_t bn = b->u.tm.ns;
        if (op == OP_SUB)
            dtd_neg(bs, bn, &bs, &bn);
        switch (ta) {
        case T_DTD:
            if (!dtd_add(a->u.tm.a, a->u.tm.ns, bs, bn, &s, &n))
                return NUL("duration overflow");
            mk_dtd(out, s, n);
            return BATON_OK;
        case T_DT: dt_plus_dtd(out, a, bs, bn); return BATON_OK;
        case T_DATE: mk_date(out, a->u.i + baton_floordiv(bs, BATON_DAY_S)); return BATON_OK;
        case T_TIME: {
            int64_t t =
                baton_floormod(a->u.tm.a + baton_floormod(bs, BATON_DAY_S) * BATON_NS_PER_S + bn,
                               BATON_NS_PER_DAY);
            *out = *a;
            out->u.tm.a = t;
            return BATON_OK;
        }
        default: break;
        }
    }
    if (tb == T_YMD && (op == OP_ADD || op == OP_SUB)) {
        int64_t m = op == OP_SUB ? -b->u.i : b->u.i;
        switch (ta) {
        case T_YMD: mk_ymd(out, a->u.i + m); return BATON_OK;
        case T_DATE: mk_date(out, add_months(a->u.i, m)); return BATON_OK;
        case T_DT: {
            int64_t days = baton_floordiv(a->u.tm.a, BATON_DAY_S);
            int64_t tod = baton_floormod(a->u.tm.a, BATON_DAY_S);
            int64_t nd = add_months(days, m);
            if (nd > INT64_C(365243) * 1000000 || nd < -INT64_C(365243) * 1000000)
                return NUL("date out of range");
            dt_with_local(out, a, nd * BATON_DAY_S + tod, a->u.tm.ns);
            return BATON_OK;
        }
        default: break;
        }
    }
    if (op == OP_SUB && ta == tb) {
        switch (ta) {
        case T_DATE: mk_dtd(out, (a->u.i - b->u.i) * BATON_DAY_S, 0); return BATON_OK;
        case T_DT: {
            if ((a->k == BATON_TM_LOCAL) != (b->k == BATON_TM_LOCAL))
                return NUL("cannot subtract a date-time with a zone and one without");
            int64_t bs, as = baton_feel_dt_utc(a);
            int32_t bn;
            dtd_neg(baton_feel_dt_utc(b), b->u.tm.ns, &bs, &bn);
            if (!dtd_add(as, a->u.tm.ns, bs, bn, &s, &n))
                return NUL("duration overflow");
            mk_dtd(out, s, n);
            return BATON_OK;
        }
        case T_TIME: {
            if ((a->k == BATON_TM_LOCAL) != (b->k == BATON_TM_LOCAL))
                return NUL("cannot subtract a time with an offset and one without");
            int64_t d = a->u.tm.a - b->u.tm.a;
            if (a->k != BATON_TM_LOCAL)
                d -= (int64_t)(a->u.tm.off - b->u.tm.off) * BATON_NS_PER_S;
            mk_dtd(out, baton_floordiv(d, BATON_NS_PER_S),
                   (int32_t)baton_floormod(d, BATON_NS_PER_S));
            return BATON_OK;
        }
        default: break;
        }
    }
    if (op == OP_SUB && ((ta == T_DATE && tb == T_DT) || (ta == T_DT && tb == T_DATE))) {
        fv a2 = *a, b2 = *b;
        fv *d = ta == T_DATE ? &a2 : &b2;
        const fv *other = ta == T_DATE ? b : a;
        int64_t days = d->u.i;
        *d = *other;
        d->u.tm.a = days * BATON_DAY_S;
        d->u.tm.ns = 0;
        return temporal_arith(x, op, &a2, &b2, out);
    }
    if ((ta == T_DTD || ta == T_YMD) && tb == T_NUM && (op == OP_MUL || op == OP_DIV)) {
        _IDEC_flags f = 0;
        if (op == OP_DIV && bid128_isZero(b->u.d))
            return NUL("division by zero");
        if (ta == T_YMD) {
            dec m = bid128_from_int64(a->u.i);
            m = op == OP_MUL ? bid128_mul(m, b->u.d, DEC_RND, &f)
                             : bid128_div(m, b->u.d, DEC_RND, &f);
            int64_t mi;
            if (!baton_dec_to_int(bid128_round_integral_zero(m, &f), &mi))
                return NUL("duration overflow");
            mk_ymd(out, mi);
            return BATON_OK;
        }
        dec ns = dtd_to_dec(a->u.tm.a, a->u.tm.ns);
        ns = op == OP_MUL ? bid128_mul(ns, b->u.d, DEC_RND, &f)
                          : bid128_div(ns, b->u.d, DEC_RND, &f);
        if (!dec_to_dtd(ns, &s, &n))
            return NUL("duration overflow");
        mk_dtd(out, s, n);
        return BATON_OK;
    }
    if (op == OP_DIV && ta == tb && (ta == T_DTD || ta == T_YMD)) {
        _IDEC_flags f = 0;
        dec p = ta == T_YMD ? bid128_from_int64(a->u.i) : dtd_to_dec(a->u.tm.a, a->u.tm.ns);
        dec q = ta == T_YMD ? bid128_from_int64(b->u.i) : dtd_to_dec(b->u.tm.a, b->u.tm.ns);
        if (bid128_isZero(q))
            return NUL("division by zero");
        mknum(out, bid128_div(p, q, DEC_RND, &f));
        return BATON_OK;
    }
    return NUL("cannot apply arithmetic to %s and %s", baton_feel_type_name(a),
               baton_feel_type_name(b));
}

static baton_status concat(ev *x, const fv *a, const fv *b, fv *out) {
    size_t len = (size_t)a->n + b->n;
    char *s = baton_feel_alloc(x, len + 1);
    if (!s)
        return x->err->code;
    baton_copy(s, a->u.s, a->n);
    baton_copy(s + a->n, b->u.s, b->n);
    s[len] = '\0';
    baton_feel_str(out, s, len);
    return BATON_OK;
}

static baton_status arith(ev *x, int op, const fv *a, const fv *b, fv *out) {
    if (a->t == T_NUM && b->t == T_NUM) {
        num_arith(op, a->u.d, b->u.d, out);
        if (out->t == T_NULL)
            return NUL("division by zero or number out of range");
        return BATON_OK;
    }
    if (a->t == T_NULL || b->t == T_NULL)
        return NUL(NULL);
    if (op == OP_ADD && a->t == T_STR && b->t == T_STR)
        return concat(x, a, b, out);
    return temporal_arith(x, op, a, b, out);
}

/* ---- JUEL coercions ---------------------------------------------------------------- */

static baton_status juel_num(ev *x, const node *n, const fv *v, fv *out) {
    if (v->t == T_NUM) {
        *out = *v;
        return BATON_OK;
    }
    if (v->t == T_NULL || (v->t == T_STR && v->n == 0)) {
        baton_feel_num(out, bid128_from_int64(0));
        return BATON_OK;
    }
    dec d;
    if (v->t == T_STR && baton_dec_parse(v->u.s, v->n, &d)) {
        baton_feel_num(out, d);
        return BATON_OK;
    }
    baton_error_set(x->err, BATON_EVAL, "cannot coerce %s to a number", baton_feel_type_name(v));
    baton_error_where(x->err, "col %u", n->col);
    return BATON_EVAL;
}

static baton_status juel_bool(ev *x, const node *n, const fv *v, bool *out) {
    if (v->t == T_BOOL) {
        *out = v->u.b;
        return BATON_OK;
    }
    if (v->t == T_NULL) {
        *out = false;
        return BATON_OK;
    }
    if (v->t == T_STR) {
        *out = v->n == 4 && strncasecmp(v->u.s, "true", 4) == 0;
        return BATON_OK;
    }
    baton_error_set(x->err, BATON_EVAL, "cannot coerce %s to a boolean", baton_feel_type_name(v));
    baton_error_where(x->err, "col %u", n->col);
    return BATON_EVAL;
}

static baton_status juel_arith(ev *x, const node *n, const fv *a, const fv *b, fv *out) {
    fv na, nb;
    baton_status st;
    if ((st = juel_num(x, n, a, &na)) || (st = juel_num(x, n, b, &nb)))
        return st;
    num_arith(n->op, na.u.d, nb.u.d, out);
    if (out->t == T_NULL) {
        baton_error_set(x->err, BATON_EVAL, "division by zero");
        baton_error_where(x->err, "col %u", n->col);
        return BATON_EVAL;
    }
    return BATON_OK;
}

static bool cmp_result(int op, int c) {
    switch (op) {
    case OP_EQ: return c == 0;
    case OP_NE: return c != 0;
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

static baton_status juel_cmp(ev *x, const node *n, const fv *a, const fv *b, fv *out) {
    int op = n->op;
    if (a->t == T_NULL || b->t == T_NULL) {
        bool both = a->t == b->t;
        baton_feel_bool(out, op == OP_EQ   ? both
                             : op == OP_NE ? !both
                                           : (both && (op == OP_LE || op == OP_GE)));
        return BATON_OK;
    }
    fv ca = *a, cb = *b;
    baton_status st;
    if (a->t == T_NUM || b->t == T_NUM) {
        if ((st = juel_num(x, n, a, &ca)) || (st = juel_num(x, n, b, &cb)))
            return st;
    } else if ((a->t == T_BOOL || b->t == T_BOOL) && (op == OP_EQ || op == OP_NE)) {
        bool ba, bb;
        if ((st = juel_bool(x, n, a, &ba)) || (st = juel_bool(x, n, b, &bb)))
            return st;
        baton_feel_bool(out, (ba == bb) == (op == OP_EQ));
        return BATON_OK;
    }
    if (op == OP_EQ || op == OP_NE) {
        int e = baton_feel_equal(x, &ca, &cb);
        baton_feel_bool(out, (e == 1) == (op == OP_EQ));
        return BATON_OK;
    }
    int c = baton_feel_compare(&ca, &cb);
    if (c == 2) {
        baton_error_set(x->err, BATON_EVAL, "cannot compare %s with %s", baton_feel_type_name(a),
                        baton_feel_type_name(b));
        baton_error_where(x->err, "col %u", n->col);
        return BATON_EVAL;
    }
    baton_feel_bool(out, cmp_result(op, c));
    return BATON_OK;
}

static bool juel_empty(const fv *v) {
    switch (v->t) {
    case T_NULL: return true;
    case T_STR: return v->n == 0;
    case T_LIST: return baton_feel_list_len(v) == 0;
    case T_CTX: return v->k == REP_JSON ? v->u.json->child == NULL : v->n == 0;
    default: return false;
    }
}

/* ---- comparison, membership --------------------------------------------------------- */

static baton_status compare(ev *x, int op, const fv *a, const fv *b, fv *out) {
    if (a->t == T_NUM && b->t == T_NUM) { /* the common case: one library call */
        _IDEC_flags f = 0;
        int r;
        switch (op) {
        case OP_EQ: r = bid128_quiet_equal(a->u.d, b->u.d, &f); break;
        case OP_NE: r = bid128_quiet_not_equal(a->u.d, b->u.d, &f); break;
        case OP_LT: r = bid128_quiet_less(a->u.d, b->u.d, &f); break;
        case OP_LE: r = bid128_quiet_less_equal(a->u.d, b->u.d, &f); break;
        case OP_GT: r = bid128_quiet_greater(a->u.d, b->u.d, &f); break;
        default: r = bid128_quiet_greater_equal(a->u.d, b->u.d, &f); break;
        }
        baton_feel_bool(out, r != 0);
        return BATON_OK;
    }
    if (op == OP_EQ || op == OP_NE) {
        int e = baton_feel_equal(x, a, b);
        if (e < 0)
            return NUL("cannot compare %s with %s", baton_feel_type_name(a),
                       baton_feel_type_name(b));
        baton_feel_bool(out, (e == 1) == (op == OP_EQ));
        return BATON_OK;
    }
    int c = baton_feel_compare(a, b);
    if (c == 2)
        return NUL("cannot compare %s with %s", baton_feel_type_name(a), baton_feel_type_name(b));
    baton_feel_bool(out, cmp_result(op, c));
    return BATON_OK;
}

/* x in range: 1 true, 0 false, -1 incomparable. */
static int in_range(const fv *v, const frange *r) {
    if (r->lo.t != T_NULL) {
        int c = baton_feel_compare(v, &r->lo);
        if (c == 2)
            return -1;
        if (c < 0 || (c == 0 && !r->lo_in))
            return 0;
    }
    if (r->hi.t != T_NULL) {
        int c = baton_feel_compare(v, &r->hi);
        if (c == 2)
            return -1;
        if (c > 0 || (c == 0 && !r->hi_in))
            return 0;
    }
    return 1;
}

/* ---- node evaluators ---------------------------------------------------------------- */

/*
 * Literals and top-level variables need no dispatch: the hot path of a
 * condition is `variable op literal`. Both still count against the step bound.
 */
static inline baton_status EVAL(ev *x, const node *n, fv *out) {
    if (x->steps < x->max_steps) {
        if (n->kind == N_LIT) {
            x->steps++;
            *out = n->lit;
            return BATON_OK;
        }
        if (n->kind == N_VAR && !x->sc && !(n->flags & NF_JUEL) && x->env && x->env->lookup) {
            const cJSON *j = x->env->lookup(x->env->cookie, n->name.s, n->name.len);
            if (j) {
                x->steps++;
                baton_feel_from_json(j, out);
                return BATON_OK;
            }
        }
    }
    return baton_feel_eval(x, n, out);
}

static baton_status ev_and_or(ev *x, const node *n, fv *out) {
    bool is_and = n->kind == N_AND;
    fv a, b;
    baton_status st = EVAL(x, n->a, &a);
    if (st)
        return st;
    if (n->flags & NF_JUEL) {
        bool ba, bb;
        if ((st = juel_bool(x, n->a, &a, &ba)))
            return st;
        if (ba != is_and) {
            baton_feel_bool(out, ba);
            return BATON_OK;
        }
        if ((st = baton_feel_eval(x, n->b, &b)) || (st = juel_bool(x, n->b, &b, &bb)))
            return st;
        baton_feel_bool(out, bb);
        return BATON_OK;
    }
    /* three-valued: false dominates `and`, true dominates `or`, else null */
    if (a.t == T_BOOL && a.u.b != is_and) {
        baton_feel_bool(out, a.u.b);
        return BATON_OK;
    }
    if ((st = EVAL(x, n->b, &b)))
        return st;
    if (b.t == T_BOOL && b.u.b != is_and) {
        baton_feel_bool(out, b.u.b);
        return BATON_OK;
    }
    if (a.t == T_BOOL && b.t == T_BOOL) {
        baton_feel_bool(out, is_and);
        return BATON_OK;
    }
    return NUL("'%s' of a non-boolean value", is_and ? "and" : "or");
}

static baton_status ev_path(ev *x, const node *n, const fv *v, fv *out);

static baton_status ctx_path(ev *x, const node *n, const fv *v, fv *out) {
    if (baton_feel_ctx_get(v, n->name.s, n->name.len, out))
        return BATON_OK;
    return NUL("no entry '%.*s' in the context", (int)(n->name.len > 60 ? 60 : n->name.len),
               n->name.s);
}

static bool name_is(const node *n, const char *s) {
    return n->name.len == strlen(s) && memcmp(n->name.s, s, n->name.len) == 0;
}

static baton_status temporal_prop(ev *x, const node *n, const fv *v, fv *out) {
    int64_t days = 0, tod_ns = 0;
    bool has_date = v->t == T_DATE || v->t == T_DT, has_time = v->t == T_TIME || v->t == T_DT;
    if (v->t == T_DATE)
        days = v->u.i;
    if (v->t == T_DT) {
        days = baton_floordiv(v->u.tm.a, BATON_DAY_S);
        tod_ns = baton_floormod(v->u.tm.a, BATON_DAY_S) * BATON_NS_PER_S + v->u.tm.ns;
    }
    if (v->t == T_TIME)
        tod_ns = v->u.tm.a;
    if (has_date) {
        int64_t y;
        int m, d;
        baton_civil_from_days(days, &y, &m, &d);
        int64_t val = INT64_MIN;
        if (name_is(n, "year"))
            val = y;
        else if (name_is(n, "month"))
            val = m;
        else if (name_is(n, "day"))
            val = d;
        else if (name_is(n, "weekday"))
            val = baton_weekday(days);
        if (val != INT64_MIN) {
            baton_feel_num(out, bid128_from_int64(val));
            return BATON_OK;
        }
    }
    if (has_time) {
        int64_t s = tod_ns / BATON_NS_PER_S;
        if (name_is(n, "hour") || name_is(n, "minute")) {
            baton_feel_num(out, bid128_from_int64(name_is(n, "hour") ? s / 3600 : s / 60 % 60));
            return BATON_OK;
        }
        if (name_is(n, "second")) {
            dec d = bid128_from_int64(s % 60);
            if (tod_ns % BATON_NS_PER_S) {
                _IDEC_flags f = 0;
                d = bid128_add(d, baton_dec_scalbn(bid128_from_int64(tod_ns % BATON_NS_PER_S), -9),
                               DEC_RND, &f);
            }
            baton_feel_num(out, d);
            return BATON_OK;
        }
        if (name_is(n, "time offset")) {
            if (v->k == BATON_TM_LOCAL)
                return NUL(NULL);
            mk_dtd(out, v->u.tm.off, 0);
            return BATON_OK;
        }
        if (name_is(n, "timezone")) {
            if (v->k != BATON_TM_ZONE)
                return NUL(NULL);
            const char *z = baton_tz_name(v->zone);
            baton_feel_str(out, z, strlen(z));
            return BATON_OK;
        }
    }
    if (v->t == T_DTD) {
        int64_t s = v->u.tm.a;
        int32_t ns = v->u.tm.ns;
        bool neg = s < 0;
        if (neg)
            dtd_neg(s, ns, &s, &ns);
        int64_t val = INT64_MIN;
        if (name_is(n, "days"))
            val = s / 86400;
        else if (name_is(n, "hours"))
            val = s / 3600 % 24;
        else if (name_is(n, "minutes"))
            val = s / 60 % 60;
        else if (name_is(n, "seconds"))
            val = s % 60;
        if (val != INT64_MIN) {
            baton_feel_num(out, bid128_from_int64(neg ? -val : val));
            return BATON_OK;
        }
    }
    if (v->t == T_YMD && (name_is(n, "years") || name_is(n, "months"))) {
        int64_t m = v->u.i;
        baton_feel_num(out, bid128_from_int64(name_is(n, "years") ? m / 12 : m % 12));
        return BATON_OK;
    }
    return NUL("%s has no property '%.*s'", baton_feel_type_name(v),
               (int)(n->name.len > 60 ? 60 : n->name.len), n->name.s);
}

static baton_status ev_path(ev *x, const node *n, const fv *v, fv *out) {
    switch (v->t) {
    case T_CTX: return ctx_path(x, n, v, out);
    case T_LIST: {
        if (n->flags & NF_JUEL)
            return NUL(NULL);
        const fv *items;
        uint32_t len;
        baton_status st = baton_feel_list_items(x, v, &items, &len);
        if (st)
            return st;
        fv *res = len ? baton_feel_alloc(x, len * sizeof *res) : NULL;
        if (len && !res)
            return x->err->code;
        if ((st = charge(x, len)))
            return st;
        for (uint32_t i = 0; i < len; i++)
            if ((st = ev_path(x, n, &items[i], &res[i])))
                return st;
        memset(out, 0, sizeof *out);
        out->t = T_LIST;
        out->n = len;
        out->u.items = res;
        return BATON_OK;
    }
    case T_RANGE: {
        const frange *r = v->u.rng;
        if (name_is(n, "start")) {
            *out = r->lo;
        } else if (name_is(n, "end")) {
            *out = r->hi;
        } else if (name_is(n, "start included") || name_is(n, "end included")) {
            baton_feel_bool(out, n->name.s[0] == 's' ? r->lo_in : r->hi_in);
        } else {
            return NUL("range has no property '%.*s'", (int)(n->name.len > 60 ? 60 : n->name.len),
                       n->name.s);
        }
        return BATON_OK;
    }
    case T_NULL: return NUL(NULL);
    default: return temporal_prop(x, n, v, out);
    }
}

static baton_status ev_list(ev *x, const node *n, fv *out) {
    fv *items = n->n ? baton_feel_alloc(x, n->n * sizeof *items) : NULL;
    if (n->n && !items)
        return x->err->code;
    for (uint32_t i = 0; i < n->n; i++) {
        baton_status st = baton_feel_eval(x, n->kids[i], &items[i]);
        if (st)
            return st;
    }
    memset(out, 0, sizeof *out);
    out->t = T_LIST;
    out->n = n->n;
    out->u.items = items;
    return BATON_OK;
}

static baton_status ev_ctx(ev *x, const node *n, fv *out) {
    cbuild *b = baton_feel_alloc(x, sizeof *b);
    centry *ents = n->n ? baton_feel_alloc(x, n->n * sizeof *ents) : NULL;
    if (!b || (n->n && !ents))
        return x->err->code;
    b->ents = ents;
    b->n = 0;
    scope sc = {.up = x->sc, .kind = S_BUILD, .b = b};
    const scope *saved = x->sc;
    x->sc = &sc;
    baton_status st = BATON_OK;
    for (uint32_t i = 0; i < n->n && !st; i++) {
        ents[i].name = n->names[i].s;
        ents[i].len = n->names[i].len;
        st = baton_feel_eval(x, n->kids[i], &ents[i].v);
        if (!st)
            b->n = i + 1;
    }
    x->sc = saved;
    if (st)
        return st;
    memset(out, 0, sizeof *out);
    out->t = T_CTX;
    out->n = n->n;
    out->u.ents = ents;
    return BATON_OK;
}

static baton_status ev_range(ev *x, const node *n, fv *out) {
    frange *r = baton_feel_alloc(x, sizeof *r);
    if (!r)
        return x->err->code;
    baton_status st = baton_feel_eval(x, n->a, &r->lo);
    if (!st)
        st = baton_feel_eval(x, n->b, &r->hi);
    if (st)
        return st;
    r->lo_in = n->op & 1;
    r->hi_in = (n->op & 2) != 0;
    if (r->lo.t != T_NULL && r->hi.t != T_NULL && baton_feel_compare(&r->lo, &r->hi) == 2)
        return NUL("range endpoints of different types");
    memset(out, 0, sizeof *out);
    out->t = T_RANGE;
    out->u.rng = r;
    return BATON_OK;
}

/* Items to iterate over: lists as they are, integer ranges expanded, anything else a singleton. */
static baton_status iter_items(ev *x, const fv *v, const fv **items, uint32_t *n, fv *one) {
    if (v->t == T_LIST)
        return baton_feel_list_items(x, v, items, n);
    if (v->t == T_RANGE && v->u.rng->lo.t == T_NUM && v->u.rng->hi.t == T_NUM) {
        int64_t lo, hi;
        if (!baton_dec_to_int(v->u.rng->lo.u.d, &lo) || !baton_dec_to_int(v->u.rng->hi.u.d, &hi)) {
            *n = 0;
            return BATON_OK;
        }
        int64_t step = lo <= hi ? 1 : -1;
        uint64_t count = (uint64_t)(step > 0 ? hi - lo : lo - hi) + 1;
        if (count > BATON_EXPR_MAX_ITEMS || count > x->max_steps)
            return limit_steps(x);
        fv *it = baton_feel_alloc(x, count * sizeof *it);
        if (!it)
            return x->err->code;
        for (uint64_t i = 0; i < count; i++)
            baton_feel_num(&it[i], bid128_from_int64(lo + (int64_t)i * step));
        *items = it;
        *n = (uint32_t)count;
        return BATON_OK;
    }
    *one = *v;
    *items = one;
    *n = 1;
    return BATON_OK;
}

typedef struct growlist {
    fv *v;
    uint32_t n, cap;
} growlist;

static baton_status grow_push(ev *x, growlist *g, const fv *v) {
    if (g->n == g->cap) {
        uint32_t cap = g->cap ? g->cap * 2 : 8;
        if (cap > BATON_EXPR_MAX_ITEMS)
            return baton_error_set(x->err, BATON_LIMIT, "list has more than %u elements",
                                   BATON_EXPR_MAX_ITEMS);
        fv *nv = baton_feel_alloc(x, cap * sizeof *nv);
        if (!nv)
            return x->err->code;
        if (g->n)
            baton_copy(nv, g->v, g->n * sizeof *nv);
        g->v = nv;
        g->cap = cap;
    }
    g->v[g->n++] = *v;
    return BATON_OK;
}

/* for / some / every: nested iteration over the contexts kids[i], named names[i]. */
typedef struct iter_state {
    const node *n;
    growlist out;
    scope *frames;
    int mode; /* N_FOR, N_SOME, N_EVERY */
    bool done, result;
} iter_state;

static baton_status iterate(ev *x, iter_state *is, uint32_t level) {
    const node *n = is->n;
    if (level == n->n) {
        fv r;
        baton_status st = baton_feel_eval(x, n->a, &r);
        if (st)
            return st;
        if (is->mode == N_FOR) {
            if ((st = grow_push(x, &is->out, &r)))
                return st;
            /* `partial`: the results so far */
            scope *p = &is->frames[n->n];
            p->v.n = is->out.n;
            p->v.u.items = is->out.v;
            return BATON_OK;
        }
        bool t = r.t == T_BOOL && r.u.b;
        if (is->mode == N_SOME && t)
            is->done = is->result = true;
        if (is->mode == N_EVERY && !t) {
            is->done = true;
            is->result = false;
        }
        return BATON_OK;
    }
    fv src, one;
    const fv *items;
    uint32_t cnt;
    baton_status st = baton_feel_eval(x, n->kids[level], &src);
    if (st || (st = iter_items(x, &src, &items, &cnt, &one)))
        return st;
    if (src.t == T_NULL)
        cnt = 0;
    scope *fr = &is->frames[level];
    for (uint32_t i = 0; i < cnt && !is->done; i++) {
        if ((st = charge(x, 1)))
            return st;
        fr->v = items[i];
        if ((st = iterate(x, is, level + 1)))
            return st;
    }
    return BATON_OK;
}

static baton_status ev_iter(ev *x, const node *n, fv *out) {
    iter_state is = {.n = n, .mode = n->kind, .result = n->kind == N_EVERY};
    scope *frames = baton_feel_alloc(x, (n->n + 1) * sizeof *frames);
    if (!frames)
        return x->err->code;
    const scope *saved = x->sc;
    const scope *up = x->sc;
    /* frame n->n is `partial` (for only), under the loop variables */
    frames[n->n] = (scope){.up = up, .kind = S_BIND, .name = {"partial", 7}};
    frames[n->n].v.t = T_LIST;
    if (n->kind == N_FOR)
        up = &frames[n->n];
    for (uint32_t i = 0; i < n->n; i++) {
        frames[i] = (scope){.up = up, .kind = S_BIND, .name = n->names[i]};
        up = &frames[i];
    }
    is.frames = frames;
    /* each level's source is evaluated with the outer loop variables bound */
    x->sc = up;
    baton_status st = iterate(x, &is, 0);
    x->sc = saved;
    if (st)
        return st;
    if (n->kind == N_FOR) {
        memset(out, 0, sizeof *out);
        out->t = T_LIST;
        out->n = is.out.n;
        out->u.items = is.out.v;
        return BATON_OK;
    }
    baton_feel_bool(out, is.result);
    return BATON_OK;
}

static baton_status ev_filter(ev *x, const node *n, fv *out) {
    fv base;
    baton_status st = baton_feel_eval(x, n->a, &base);
    if (st)
        return st;
    if (base.t == T_NULL)
        return NUL(NULL);
    const fv *items;
    uint32_t len;
    fv one;
    if (base.t == T_LIST) {
        if ((st = baton_feel_list_items(x, &base, &items, &len)))
            return st;
    } else {
        one = base;
        items = &one;
        len = 1;
    }
    const node *f = n->b;
    /* a constant number is an index: 1-based, negative from the end */
    if (f->kind == N_LIT && f->lit.t == T_NUM) {
        int64_t i;
        if (!baton_dec_to_int(f->lit.u.d, &i) || i == 0 || (i > 0 && (uint64_t)i > len) ||
            (i < 0 && (uint64_t)-i > len))
            return NUL("index out of range");
        *out = items[i > 0 ? i - 1 : (int64_t)len + i];
        return BATON_OK;
    }
    growlist g = {0};
    scope item = {.up = x->sc, .kind = S_CTX};
    scope bind = {.up = &item, .kind = S_BIND, .name = {"item", 4}};
    const scope *saved = x->sc;
    for (uint32_t i = 0; i < len; i++) {
        if (items[i].t == T_CTX) {
            item.v = items[i];
            bind.up = &item;
        } else {
            bind.up = saved;
        }
        bind.v = items[i];
        x->sc = &bind;
        fv r;
        st = baton_feel_eval(x, f, &r);
        x->sc = saved;
        if (st)
            return st;
        if (r.t == T_NUM && i == 0) { /* a computed index */
            int64_t k;
            if (!baton_dec_to_int(r.u.d, &k) || k == 0 || (k > 0 && (uint64_t)k > len) ||
                (k < 0 && (uint64_t)-k > len))
                return NUL("index out of range");
            *out = items[k > 0 ? k - 1 : (int64_t)len + k];
            return BATON_OK;
        }
        if (r.t == T_BOOL && r.u.b && (st = grow_push(x, &g, &items[i])))
            return st;
    }
    memset(out, 0, sizeof *out);
    out->t = T_LIST;
    out->n = g.n;
    out->u.items = g.v;
    return BATON_OK;
}

static baton_status ev_index(ev *x, const node *n, fv *out) { /* JUEL a[b] */
    fv base, ix;
    baton_status st = baton_feel_eval(x, n->a, &base);
    if (!st)
        st = baton_feel_eval(x, n->b, &ix);
    if (st)
        return st;
    if (base.t == T_LIST) {
        int64_t i;
        fv num;
        if ((st = juel_num(x, n, &ix, &num)))
            return st;
        if (!baton_dec_to_int(num.u.d, &i) || i < 0 || (uint64_t)i >= baton_feel_list_len(&base))
            return NUL("index out of range");
        baton_feel_list_get(&base, (uint32_t)i, out);
        return BATON_OK;
    }
    if (base.t == T_CTX) {
        baton_buf b;
        char tmp[256];
        baton_buf_init(&b, sizeof tmp);
        st = baton_feel_to_text(&ix, &b);
        bool found = !st && baton_feel_ctx_get(&base, baton_buf_str(&b), b.len, out);
        baton_buf_fini(&b);
        if (!found)
            return NUL(NULL);
        return BATON_OK;
    }
    return NUL(NULL);
}

static bool type_matches(ev *x, const ftype *t, const fv *v) {
    if (t->base < 0)
        return v->t != T_NULL;
    if (v->t != (uint8_t)t->base) /* base >= 0 here */
        return false;
    if (t->of && v->t == T_LIST) {
        uint32_t len = baton_feel_list_len(v);
        if (len > x->max_steps - x->steps) { /* shared structure can be huge: charge it */
            x->over = true;
            return false;
        }
        x->steps += len;
        for (uint32_t i = 0; i < len; i++) {
            fv e;
            baton_feel_list_get(v, i, &e);
            if (!type_matches(x, t->of, &e))
                return false;
        }
    }
    if (t->of && v->t == T_RANGE) {
        const frange *r = v->u.rng;
        if ((r->lo.t != T_NULL && !type_matches(x, t->of, &r->lo)) ||
            (r->hi.t != T_NULL && !type_matches(x, t->of, &r->hi)))
            return false;
    }
    return true;
}

static baton_status ev_in(ev *x, const node *n, fv *out) {
    fv v;
    baton_status st = baton_feel_eval(x, n->a, &v);
    if (st)
        return st;
    scope q = {.up = x->sc, .kind = S_BIND, .name = {"?", 1}, .v = v};
    const scope *saved = x->sc;
    bool any_null = false;
    for (uint32_t i = 0; i < n->n; i++) {
        const node *t = n->kids[i];
        fv tv, r;
        int res = -1;
        x->sc = &q;
        if (t->kind == N_UTEST) {
            st = baton_feel_eval(x, t->a, &tv);
            x->sc = saved;
            if (st)
                return st;
            if ((st = compare(x, t->op, &v, &tv, &r)))
                return st;
            res = r.t == T_BOOL ? r.u.b : -1;
        } else {
            st = baton_feel_eval(x, t, &tv);
            x->sc = saved;
            if (st)
                return st;
            if (tv.t == T_RANGE) {
                res = in_range(&v, tv.u.rng);
            } else if (tv.t == T_LIST && v.t != T_LIST) {
                uint32_t len = baton_feel_list_len(&tv);
                res = 0;
                for (uint32_t k = 0; k < len && res != 1; k++) {
                    fv e;
                    baton_feel_list_get(&tv, k, &e);
                    if (baton_feel_equal(x, &v, &e) == 1)
                        res = 1;
                }
            } else if (tv.t == T_BOOL && v.t != T_BOOL) {
                res = tv.u.b; /* a test written with `?` */
            } else {
                res = baton_feel_equal(x, &v, &tv);
            }
        }
        if (res == 1) {
            baton_feel_bool(out, true);
            return BATON_OK;
        }
        if (res < 0)
            any_null = true;
    }
    if (any_null)
        return NUL("cannot test %s with 'in'", baton_feel_type_name(&v));
    baton_feel_bool(out, false);
    return BATON_OK;
}

static baton_status make_closure(ev *x, const node *n, fv *out) {
    /* copy the scope chain so the function may outlive the frames on the C stack */
    uint32_t depth = 0;
    for (const scope *s = x->sc; s; s = s->up)
        depth++;
    scope *copy = depth ? baton_feel_alloc(x, depth * sizeof *copy) : NULL;
    ffunc *f = baton_feel_alloc(x, sizeof *f);
    if ((depth && !copy) || !f)
        return x->err->code;
    uint32_t i = 0;
    for (const scope *s = x->sc; s; s = s->up, i++) {
        copy[i] = *s;
        copy[i].up = i + 1 < depth ? &copy[i + 1] : NULL;
    }
    f->bi = NULL;
    f->def = n;
    f->env = depth ? copy : NULL;
    memset(out, 0, sizeof *out);
    out->t = T_FUNC;
    out->u.fn = f;
    return BATON_OK;
}

baton_status baton_feel_call(ev *x, const fv *fn, fv *args, uint32_t nargs, fv *out) {
    if (fn->t != T_FUNC)
        return NUL("%s is not a function", baton_feel_type_name(fn));
    const ffunc *f = fn->u.fn;
    if (f->bi) {
        if (nargs < f->bi->min || (f->bi->max != BI_VARIADIC && nargs > f->bi->max))
            return NUL("wrong number of arguments for %s()", f->bi->name);
        return f->bi->fn(x, args, nargs, out);
    }
    const node *def = f->def;
    if (nargs != def->n)
        return NUL("function expects %u arguments, got %u", def->n, nargs);
    if (x->calls >= BATON_EXPR_MAX_CALLS)
        return baton_error_set(x->err, BATON_LIMIT, "function calls nested more than %d deep",
                               BATON_EXPR_MAX_CALLS);
    scope *params = nargs ? baton_feel_alloc(x, nargs * sizeof *params) : NULL;
    if (nargs && !params)
        return x->err->code;
    const scope *up = f->env;
    for (uint32_t i = 0; i < nargs; i++) {
        params[i] = (scope){.up = up, .kind = S_BIND, .name = def->names[i], .v = args[i]};
        up = &params[i];
    }
    const scope *saved = x->sc;
    x->sc = up;
    x->calls++;
    baton_status st = baton_feel_eval(x, def->a, out);
    x->calls--;
    x->sc = saved;
    return st;
}

static baton_status ev_call(ev *x, const node *n, fv *out) {
    fv fn;
    baton_status st;
    const builtin *bi = n->bi;
    if (!bi) {
        if ((st = baton_feel_eval(x, n->a, &fn)))
            return st;
        if (fn.t != T_FUNC)
            return NUL("'%.*s' is not a function", (int)(n->name.len > 60 ? 60 : n->name.len),
                       n->name.len ? n->name.s : "value");
        bi = fn.u.fn->bi;
    }
    uint32_t nargs = n->n;
    const nname *params = NULL;
    uint32_t nparams = 0;
    if (n->names) { /* named arguments: put them in parameter order */
        if (bi) {
            while (nparams < 4 && bi->params[nparams])
                nparams++;
        } else {
            params = fn.u.fn->def->names;
            nparams = fn.u.fn->def->n;
        }
        nargs = 0;
    }
    uint32_t slots = n->n > nparams ? n->n : nparams;
    fv *args = NULL;
    if (slots) {
        args = baton_feel_alloc(x, ((size_t)slots + 1) * sizeof *args);
        if (!args)
            return x->err->code;
        if (n->names)
            memset(args, 0, (nparams + 1) * sizeof *args);
    }
    for (uint32_t i = 0; i < n->n; i++) {
        uint32_t slot = i;
        if (n->names) {
            slot = UINT32_MAX;
            for (uint32_t k = 0; k < nparams; k++) {
                const char *pn = bi ? bi->params[k] : params[k].s;
                size_t pl = bi ? strlen(pn) : params[k].len;
                if (pl == n->names[i].len && memcmp(pn, n->names[i].s, pl) == 0)
                    slot = k;
            }
            if (slot == UINT32_MAX)
                return NUL("unknown parameter '%.*s'",
                           (int)(n->names[i].len > 40 ? 40 : n->names[i].len), n->names[i].s);
            if (slot + 1 > nargs)
                nargs = slot + 1;
        }
        if ((st = baton_feel_eval(x, n->kids[i], &args[slot])))
            return st;
    }
    if (n->names && !bi)
        nargs = nparams;
    if (n->bi) {
        if (nargs < bi->min || (bi->max != BI_VARIADIC && nargs > bi->max))
            return NUL("wrong number of arguments for %s()", bi->name);
        return bi->fn(x, args, nargs, out);
    }
    return baton_feel_call(x, &fn, args, nargs, out);
}

static baton_status ev_template(ev *x, const node *n, fv *out) {
    baton_buf b;
    baton_buf_init(&b, x->mem.limit);
    baton_status st = BATON_OK;
    for (uint32_t i = 0; i < n->n && !st; i++) {
        fv v;
        if ((st = baton_feel_eval(x, n->kids[i], &v)))
            break;
        if (v.t == T_NULL)
            continue; /* EL coerces null to "" */
        if (v.t == T_LIST || v.t == T_CTX)
            st = baton_feel_to_json_text(&v, &b, 0);
        else
            st = baton_feel_to_text(&v, &b);
        if (st && !baton_error_isset(x->err))
            baton_error_set(x->err, st, st == BATON_NOMEM ? "out of memory" : "text too large");
    }
    if (!st) {
        char *s = baton_feel_alloc(x, b.len + 1);
        if (!s) {
            st = x->err->code;
        } else {
            baton_copy(s, baton_buf_str(&b), b.len + 1);
            baton_feel_str(out, s, b.len);
        }
    }
    baton_buf_fini(&b);
    return st;
}

static baton_status ev_dispatch(ev *x, const node *n, fv *out) {
    baton_status st;
    fv a, b, c;
    switch (n->kind) {
    case N_LIT: *out = n->lit; return BATON_OK;
    case N_VAR: return eval_var(x, n, out);
    case N_PATH:
        if ((st = baton_feel_eval(x, n->a, &a)))
            return st;
        return ev_path(x, n, &a, out);
    case N_FILTER: return ev_filter(x, n, out);
    case N_INDEX: return ev_index(x, n, out);
    case N_CALL: return ev_call(x, n, out);
    case N_NEG:
        if ((st = baton_feel_eval(x, n->a, &a)))
            return st;
        if (n->flags & NF_JUEL && (st = juel_num(x, n, &a, &a)))
            return st;
        if (a.t == T_NUM) {
            baton_feel_num(out, bid128_negate(a.u.d));
        } else if (a.t == T_DTD) {
            mk_dtd(out, 0, 0);
            dtd_neg(a.u.tm.a, a.u.tm.ns, &out->u.tm.a, &out->u.tm.ns);
        } else if (a.t == T_YMD) {
            mk_ymd(out, -a.u.i);
        } else {
            return NUL("cannot negate %s", baton_feel_type_name(&a));
        }
        return BATON_OK;
    case N_NOT: {
        bool v;
        if ((st = baton_feel_eval(x, n->a, &a)) || (st = juel_bool(x, n, &a, &v)))
            return st;
        baton_feel_bool(out, !v);
        return BATON_OK;
    }
    case N_ARITH:
        if ((st = EVAL(x, n->a, &a)) || (st = EVAL(x, n->b, &b)))
            return st;
        if (n->flags & NF_JUEL)
            return juel_arith(x, n, &a, &b, out);
        return arith(x, n->op, &a, &b, out);
    case N_CMP:
        if ((st = EVAL(x, n->a, &a)) || (st = EVAL(x, n->b, &b)))
            return st;
        if (n->flags & NF_JUEL)
            return juel_cmp(x, n, &a, &b, out);
        return compare(x, n->op, &a, &b, out);
    case N_AND:
    case N_OR: return ev_and_or(x, n, out);
    case N_IF: {
        if ((st = baton_feel_eval(x, n->a, &a)))
            return st;
        bool t;
        if (n->flags & NF_JUEL) {
            if ((st = juel_bool(x, n->a, &a, &t)))
                return st;
        } else {
            t = a.t == T_BOOL && a.u.b; /* null and non-booleans take the else branch */
        }
        return baton_feel_eval(x, t ? n->b : n->c, out);
    }
    case N_FOR:
    case N_SOME:
    case N_EVERY: return ev_iter(x, n, out);
    case N_BETWEEN: {
        if ((st = baton_feel_eval(x, n->a, &a)) || (st = baton_feel_eval(x, n->b, &b)) ||
            (st = baton_feel_eval(x, n->c, &c)))
            return st;
        int lo = baton_feel_compare(&a, &b), hi = baton_feel_compare(&a, &c);
        if (lo == 2 || hi == 2)
            return NUL("cannot compare %s in between", baton_feel_type_name(&a));
        baton_feel_bool(out, lo >= 0 && hi <= 0);
        return BATON_OK;
    }
    case N_IN: return ev_in(x, n, out);
    case N_UTEST: { /* outside `in`: compare with ? */
        fv q;
        if (!lookup(x, "?", 1, &q))
            return NUL("unary test without an input value");
        if ((st = baton_feel_eval(x, n->a, &a)))
            return st;
        return compare(x, n->op, &q, &a, out);
    }
    case N_INSTOF:
        if ((st = baton_feel_eval(x, n->a, &a)))
            return st;
        baton_feel_bool(out, type_matches(x, n->type, &a));
        return BATON_OK;
    case N_LIST: return ev_list(x, n, out);
    case N_CTX: return ev_ctx(x, n, out);
    case N_RANGE: return ev_range(x, n, out);
    case N_FUNCDEF: return make_closure(x, n, out);
    case N_EMPTY:
        if ((st = baton_feel_eval(x, n->a, &a)))
            return st;
        baton_feel_bool(out, juel_empty(&a));
        return BATON_OK;
    case N_TEMPLATE: return ev_template(x, n, out);
    default: return baton_error_set(x->err, BATON_INTERNAL, "unknown node kind %d", n->kind);
    }
}

baton_status baton_feel_eval(ev *x, const node *n, fv *out) {
    if (++x->steps > x->max_steps)
        return limit_steps(x);
    if (++x->depth > BATON_EXPR_MAX_EVAL_DEPTH) {
        x->depth--;
        return baton_error_set(x->err, BATON_LIMIT, "evaluation nested more than %d levels deep",
                               BATON_EXPR_MAX_EVAL_DEPTH);
    }
    baton_status st = ev_dispatch(x, n, out);
    x->depth--;
    if (x->over && !st)
        return limit_steps(x);
    return st;
}
