/*
 * temporal.c - ISO 8601 text <-> fields for FEEL temporals and timers; see
 * temporal.h. Pure functions, no allocation; every number is range-checked
 * before it is used, so hostile text cannot overflow the arithmetic.
 */
#include "expr/temporal.h"

#include <stdio.h>
#include <string.h>

#include "expr/civil.h"

typedef struct cursor {
    const char *p, *end;
} cursor;

static bool digits(cursor *c, int min, int max, int64_t *out) {
    int64_t v = 0;
    int n = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && n < max) {
        v = v * 10 + (*c->p++ - '0');
        n++;
    }
    *out = v;
    return n >= min;
}

static bool lit(cursor *c, char ch) {
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool parse_date(cursor *c, int64_t *days) {
    int sign = 1;
    if (c->p < c->end && (*c->p == '-' || *c->p == '+'))
        sign = *c->p++ == '-' ? -1 : 1;
    const char *start = c->p;
    int64_t y, m, d;
    if (!digits(c, 4, 9, &y))
        return false;
    if (c->p - start > 4 && start[0] == '0')
        return false;
    if (!lit(c, '-') || !digits(c, 2, 2, &m) || !lit(c, '-') || !digits(c, 2, 2, &d))
        return false;
    y *= sign;
    if (m < 1 || m > 12 || d < 1 || d > baton_month_days(y, (int)m))
        return false;
    *days = baton_days_from_civil(y, (int)m, (int)d);
    return true;
}

static bool zone_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '/' || ch == '_' || ch == '-' || ch == '+';
}

static bool parse_offset(cursor *c, int32_t *out) {
    int sign = *c->p++ == '-' ? -1 : 1;
    int64_t h, m = 0, s = 0;
    if (!digits(c, 2, 2, &h))
        return false;
    if (lit(c, ':')) {
        if (!digits(c, 2, 2, &m))
            return false;
        if (lit(c, ':') && !digits(c, 2, 2, &s))
            return false;
    } else if (c->p < c->end && *c->p >= '0' && *c->p <= '9' && !digits(c, 2, 2, &m)) {
        return false;
    }
    if (h > 18 || m > 59 || s > 59 || h * 3600 + m * 60 + s > 18 * 3600)
        return false;
    *out = (int32_t)(sign * (h * 3600 + m * 60 + s));
    return true;
}

static bool parse_zone_suffix(cursor *c, baton_tm *t) {
    if (c->p >= c->end)
        return true;
    if (*c->p == 'Z' || *c->p == 'z') {
        c->p++;
        t->kind = BATON_TM_OFFSET;
        t->offset = 0;
    } else if (*c->p == '+' || *c->p == '-') {
        if (!parse_offset(c, &t->offset))
            return false;
        t->kind = BATON_TM_OFFSET;
    }
    if (c->p < c->end && (*c->p == '@' || *c->p == '[')) {
        char close = *c->p++ == '[' ? ']' : '\0';
        const char *z = c->p;
        while (c->p < c->end && zone_char(*c->p))
            c->p++;
        if (c->p == z)
            return false;
        t->zone = z;
        t->zone_len = (size_t)(c->p - z);
        t->kind = BATON_TM_ZONE;
        if (close && !lit(c, close))
            return false;
    }
    return c->p == c->end;
}

static bool parse_time(cursor *c, baton_tm *t) {
    int64_t h, m, s = 0, frac = 0;
    if (!digits(c, 2, 2, &h) || !lit(c, ':') || !digits(c, 2, 2, &m))
        return false;
    if (lit(c, ':')) {
        if (!digits(c, 2, 2, &s))
            return false;
        if (lit(c, '.')) {
            int n = 0;
            const char *f = c->p;
            while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
                if (n < 9)
                    frac = frac * 10 + (*c->p - '0'), n++;
                c->p++;
            }
            if (c->p == f)
                return false;
            while (n++ < 9)
                frac *= 10;
        }
    }
    /* 24:00:00 is midnight at the end of the day; callers carry it over */
    if (h > 24 || m > 59 || s > 59 || (h == 24 && (m || s || frac)))
        return false;
    t->nanos = ((h * 60 + m) * 60 + s) * BATON_NS_PER_S + frac;
    return parse_zone_suffix(c, t);
}

int baton_tm_parse(const char *s, size_t len, int accept, baton_tm *out) {
    baton_tm t;
    memset(&t, 0, sizeof t);
    cursor c = {s, s + len};
    if (len >= 3 && s[2] == ':') {
        if (!(accept & BATON_TM_TIME) || !parse_time(&c, &t))
            return 0;
        if (t.nanos == BATON_NS_PER_DAY)
            t.nanos = 0;
        *out = t;
        return BATON_TM_TIME;
    }
    if (!parse_date(&c, &t.days))
        return 0;
    if (c.p == c.end) {
        if (!(accept & BATON_TM_DATE))
            return 0;
        *out = t;
        return BATON_TM_DATE;
    }
    if (!(accept & BATON_TM_DATETIME) || !(lit(&c, 'T') || lit(&c, 't')) || !parse_time(&c, &t))
        return 0;
    if (t.nanos == BATON_NS_PER_DAY) {
        t.nanos = 0;
        t.days++;
    }
    *out = t;
    return BATON_TM_DATETIME;
}

bool baton_tm_parse_duration(const char *s, size_t len, baton_dur *out) {
    baton_dur d;
    memset(&d, 0, sizeof d);
    cursor c = {s, s + len};
    if (lit(&c, '-'))
        d.neg = true;
    else
        lit(&c, '+');
    if (!lit(&c, 'P'))
        return false;
    bool in_time = false, any = false;
    int last = -1; /* order: Y M W D | H M S */
    while (c.p < c.end) {
        if (lit(&c, 'T')) {
            if (in_time)
                return false;
            in_time = true;
            if (c.p == c.end)
                return false;
            continue;
        }
        int64_t v;
        if (!digits(&c, 1, 15, &v))
            return false;
        int32_t frac = 0;
        bool has_frac = false;
        if (c.p < c.end && (*c.p == '.' || *c.p == ',')) {
            c.p++;
            int n = 0;
            const char *f = c.p;
            while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
                if (n < 9)
                    frac = frac * 10 + (*c.p - '0'), n++;
                c.p++;
            }
            if (c.p == f)
                return false;
            while (n++ < 9)
                frac *= 10;
            has_frac = true;
        }
        if (c.p == c.end)
            return false;
        char u = *c.p++;
        int slot;
        if (!in_time)
            slot = u == 'Y' ? 0 : u == 'M' ? 1 : u == 'W' ? 2 : u == 'D' ? 3 : -1;
        else
            slot = u == 'H' ? 4 : u == 'M' ? 5 : u == 'S' ? 6 : -1;
        if (slot < 0 || slot <= last || (has_frac && slot != 6))
            return false;
        last = slot;
        any = true;
        int64_t *f[7] = {&d.years, &d.months, &d.weeks, &d.days, &d.hours, &d.minutes, &d.seconds};
        *f[slot] = v;
        if (slot == 6)
            d.nanos = frac;
        if (slot <= 1)
            d.has_ym = true;
        else
            d.has_dt = true;
    }
    if (!any)
        return false;
    *out = d;
    return true;
}

size_t baton_tm_format_date(int64_t days, char *buf) {
    int64_t y;
    int m, d;
    baton_civil_from_days(days, &y, &m, &d);
    int n;
    if (y < 0)
        n = snprintf(buf, 64, "-%04lld-%02d-%02d", (long long)-y, m, d);
    else if (y > 9999)
        n = snprintf(buf, 64, "+%lld-%02d-%02d", (long long)y, m, d);
    else
        n = snprintf(buf, 64, "%04lld-%02d-%02d", (long long)y, m, d);
    return (size_t)n;
}

static size_t format_frac(int64_t ns, char *buf) {
    if (ns == 0)
        return 0;
    char tmp[16];
    int n = snprintf(tmp, sizeof tmp, "%09lld", (long long)ns);
    while (n > 0 && tmp[n - 1] == '0')
        n--;
    buf[0] = '.';
    memcpy(buf + 1, tmp, (size_t)n);
    return (size_t)n + 1;
}

size_t baton_tm_format_time(int64_t nanos, char *buf) {
    int64_t s = nanos / BATON_NS_PER_S;
    int n = snprintf(buf, 64, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
    size_t k = (size_t)n + format_frac(nanos % BATON_NS_PER_S, buf + n);
    buf[k] = '\0';
    return k;
}

size_t baton_tm_format_offset(int32_t off, char *buf) {
    if (off == 0) {
        memcpy(buf, "Z", 2);
        return 1;
    }
    int a = off < 0 ? -off : off;
    int n;
    if (a % 60)
        n = snprintf(buf, 64, "%c%02d:%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60,
                     a % 60);
    else
        n = snprintf(buf, 64, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
    return (size_t)n;
}

size_t baton_tm_format_dtd(int64_t sec, int32_t nano, char *buf) {
    /* normalised as sec + nano/1e9 with 0 <= nano < 1e9; print the magnitude */
    bool neg = sec < 0;
    uint64_t as;
    int64_t an = nano;
    if (neg) {
        as = (uint64_t)(-(sec + (nano ? 1 : 0)));
        an = nano ? BATON_NS_PER_S - nano : 0;
    } else {
        as = (uint64_t)sec;
    }
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    buf[k++] = 'P';
    uint64_t days = as / 86400, h = as / 3600 % 24, m = as / 60 % 60, s = as % 60;
    if (days)
        k += (size_t)snprintf(buf + k, 40, "%lluD", (unsigned long long)days);
    if (h || m || s || an || !days) {
        buf[k++] = 'T';
        if (h)
            k += (size_t)snprintf(buf + k, 24, "%lluH", (unsigned long long)h);
        if (m)
            k += (size_t)snprintf(buf + k, 24, "%lluM", (unsigned long long)m);
        if (s || an || (!h && !m)) {
            k += (size_t)snprintf(buf + k, 24, "%llu", (unsigned long long)s);
            k += format_frac(an, buf + k);
            buf[k++] = 'S';
        }
    }
    buf[k] = '\0';
    return k;
}

size_t baton_tm_format_ymd(int64_t months, char *buf) {
    bool neg = months < 0;
    uint64_t a = neg ? (uint64_t)0 - (uint64_t)months : (uint64_t)months;
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    buf[k++] = 'P';
    if (a / 12)
        k += (size_t)snprintf(buf + k, 30, "%lluY", (unsigned long long)(a / 12));
    if (a % 12 || a == 0)
        k += (size_t)snprintf(buf + k, 30, "%lluM", (unsigned long long)(a % 12));
    buf[k] = '\0';
    return k;
}
