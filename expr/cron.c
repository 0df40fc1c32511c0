/*
 * cron.c - cron expressions; see cron.h.
 *
 * next() walks local civil time field by field (month, day, hour, minute,
 * second), jumping to the next allowed value of the first field that does
 * not match and resetting the smaller ones, so one search takes at most a
 * few thousand steps even for sparse expressions; it gives up after eight
 * years (enough for any February 29th pattern).
 */
#include "expr/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "expr/tz.h"

/* ---- civil calendar (proleptic Gregorian; Howard Hinnant's algorithms) --------------- */

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m) {
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

static int weekday(int64_t days) { /* 0 = Sunday; 1970-01-01 was a Thursday */
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/* ---- parsing ------------------------------------------------------------------------------ */

typedef struct field_spec {
    const char *name;
    int min, max;
    const char *const *names; /* names for min..., or NULL */
} field_spec;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_spec specs[6] = {
    {"second", 0, 59, NULL},       {"minute", 0, 59, NULL},       {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL}, {"month", 1, 12, month_names}, {"day of week", 0, 7, day_names},
};

typedef struct parser {
    const char *p;
    const char *start;
    int field;
    baton_error *err;
} parser;

static baton_status fail(parser *ps, const char *what) {
    baton_error_set(ps->err, BATON_PARSE, "cron %s field: %s", specs[ps->field].name, what);
    baton_error_where(ps->err, "col %d", (int)(ps->p - ps->start) + 1);
    return BATON_PARSE;
}

/* A number or a name of this field. */
static bool value(parser *ps, int *out) {
    const field_spec *f = &specs[ps->field];
    if (isdigit((unsigned char)*ps->p)) {
        int v = 0;
        while (isdigit((unsigned char)*ps->p) && v < 1000)
            v = v * 10 + (*ps->p++ - '0');
        if (v < f->min || v > f->max)
            return false;
        *out = v;
        return true;
    }
    for (int i = 0; f->names && f->names[i]; i++)
        if (strncasecmp(ps->p, f->names[i], 3) == 0 && !isalpha((unsigned char)ps->p[3])) {
            ps->p += 3;
            *out = f->min + i;
            if (ps->field == 5)
                *out = i; /* SUN = 0 */
            return true;
        }
    return false;
}

static bool at_end(const parser *ps) {
    return *ps->p == '\0' || *ps->p == ' ' || *ps->p == '\t';
}

/* One field: comma-separated items into `bits`; special day forms into c. */
static baton_status field(parser *ps, uint64_t *bits, baton_cron *c) {
    const field_spec *f = &specs[ps->field];
    *bits = 0;
    if ((*ps->p == '*' || *ps->p == '?') &&
        (ps->p[1] == '\0' || ps->p[1] == ' ' || ps->p[1] == '\t')) {
        if (*ps->p == '?' && ps->field != 3 && ps->field != 5)
            return fail(ps, "'?' is only for the day fields");
        ps->p++;
        for (int v = f->min; v <= f->max; v++)
            *bits |= 1ull << v;
        if (ps->field == 3)
            c->any_day = true;
        if (ps->field == 5)
            c->any_weekday = true;
        return BATON_OK;
    }
    for (;;) {
        int lo = f->min, hi = f->max, step = 1;
        bool range = false;
        if (ps->field == 3 && *ps->p == 'L') {
            ps->p++;
            if (*ps->p == 'W') {
                ps->p++;
                c->last_workday = true;
            } else {
                int off = 0;
                if (*ps->p == '-') {
                    ps->p++;
                    if (!isdigit((unsigned char)*ps->p))
                        return fail(ps, "expected a number after 'L-'");
                    while (isdigit((unsigned char)*ps->p) && off < 100)
                        off = off * 10 + (*ps->p++ - '0');
                    if (off > 30)
                        return fail(ps, "'L-n' takes n up to 30");
                }
                c->last_day = (int8_t)off;
            }
            goto next_item;
        }
        if (*ps->p == '*') {
            ps->p++;
            range = true;
        } else {
            if (!value(ps, &lo))
                return fail(ps, "expected a value in range or a name");
            hi = lo;
            if (ps->field == 3 && *ps->p == 'W') {
                ps->p++;
                c->near_workday = (int8_t)lo;
                goto next_item;
            }
            if (ps->field == 5 && *ps->p == 'L') {
                ps->p++;
                c->last_weekdays |= (uint8_t)(1u << (lo % 7));
                goto next_item;
            }
            if (ps->field == 5 && *ps->p == '#') {
                ps->p++;
                int n = *ps->p - '0';
                if (n < 1 || n > 5)
                    return fail(ps, "'#n' takes n from 1 to 5");
                ps->p++;
                c->nth[lo % 7] = (uint8_t)n;
                goto next_item;
            }
            if (*ps->p == '-') {
                ps->p++;
                if (!value(ps, &hi))
                    return fail(ps, "expected the end of a range");
                if (hi < lo)
                    return fail(ps, "a range must not run backwards");
                range = true;
            }
        }
        if (*ps->p == '/') {
            ps->p++;
            step = 0;
            while (isdigit((unsigned char)*ps->p) && step < 1000)
                step = step * 10 + (*ps->p++ - '0');
            if (step < 1 || step > f->max)
                return fail(ps, "a step must be from 1 to the field's size");
            if (!range)
                hi = f->max; /* "5/15" = from 5 on */
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ull << v;
    next_item:
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (!at_end(ps))
            return fail(ps, "unexpected character");
        break;
    }
    return BATON_OK;
}

bool baton_cron_looks_like(const char *t) {
    while (*t == ' ')
        t++;
    if (*t == '@' || strncmp(t, "CRON_TZ=", 8) == 0 || strncmp(t, "TZ=", 3) == 0)
        return true;
    /* ISO 8601 cycles, durations and dates have no spaces */
    int fields = 0;
    bool in = false;
    for (; *t; t++) {
        if (*t == ' ' || *t == '\t') {
            in = false;
        } else if (!in) {
            in = true;
            fields++;
        }
    }
    return fields == 5 || fields == 6;
}

baton_status baton_cron_parse(const char *text, baton_cron *out, baton_error *err) {
    baton_cron c;
    memset(&c, 0, sizeof c);
    c.last_day = -1;
    const char *t = text;
    while (*t == ' ' || *t == '\t')
        t++;
    if (strncmp(t, "CRON_TZ=", 8) == 0 || strncmp(t, "TZ=", 3) == 0) {
        t = strchr(t, '=') + 1;
        size_t n = strcspn(t, " \t");
        if (!n || baton_tz_find(t, n, &c.zone, err))
            return baton_error_set(err, BATON_PARSE, "cron: unknown time zone '%.*s'", (int)n, t);
        t += n;
        while (*t == ' ' || *t == '\t')
            t++;
    }
    static const struct {
        const char *name, *expr;
    } macros[] = {{"@yearly", "0 0 0 1 1 *"},  {"@annually", "0 0 0 1 1 *"},
                  {"@monthly", "0 0 0 1 * *"}, {"@weekly", "0 0 0 * * 0"},
                  {"@daily", "0 0 0 * * *"},   {"@midnight", "0 0 0 * * *"},
                  {"@hourly", "0 0 * * * *"}};
    if (*t == '@') {
        size_t n = strcspn(t, " \t");
        const char *expr = NULL;
        for (size_t i = 0; i < sizeof macros / sizeof *macros; i++)
            if (strlen(macros[i].name) == n && strncasecmp(t, macros[i].name, n) == 0)
                expr = macros[i].expr;
        if (!expr || t[n + strspn(t + n, " \t")])
            return baton_error_set(err, BATON_PARSE, "cron: unknown macro '%.*s'", (int)n, t);
        t = expr;
    }
    /* count fields: five means Unix cron (no seconds) */
    int fields = 0;
    bool in = false;
    for (const char *q = t; *q; q++) {
        if (*q == ' ' || *q == '\t')
            in = false;
        else if (!in)
            in = true, fields++;
    }
    if (fields != 5 && fields != 6)
        return baton_error_set(err, BATON_PARSE,
                               "cron: expected 6 fields (second minute hour "
                               "day-of-month month day-of-week), got %d",
                               fields);
    parser ps = {t, text, fields == 5 ? 1 : 0, err};
    if (fields == 5)
        c.seconds = 1;
    for (; ps.field < 6; ps.field++) {
        while (*ps.p == ' ' || *ps.p == '\t')
            ps.p++;
        uint64_t bits = 0;
        baton_status st = field(&ps, &bits, &c);
        if (st)
            return st;
        switch (ps.field) {
        case 0: c.seconds = bits; break;
        case 1: c.minutes = bits; break;
        case 2: c.hours = (uint32_t)bits; break;
        case 3: c.days = (uint32_t)bits; break;
        case 4: c.months = (uint16_t)bits; break;
        default:
            if (bits & (1u << 7))
                bits |= 1; /* 7 = Sunday */
            c.weekdays = (uint8_t)(bits & 0x7f);
            break;
        }
    }
    *out = c;
    return BATON_OK;
}

/* ---- next occurrence --------------------------------------------------------------------- */

static bool day_matches(const baton_cron *c, int64_t y, int m, int d, int64_t days) {
    int last = days_in_month(y, m);
    int wd = weekday(days);
    bool dom = c->any_day;
    if (!dom) {
        dom = (c->days >> d) & 1;
        if (!dom && c->last_day >= 0)
            dom = d == last - c->last_day;
        if (!dom && (c->last_workday || c->near_workday)) {
            int target = c->last_workday ? last : (c->near_workday > last ? last : c->near_workday);
            int64_t tdays = days - d + target;
            int twd = weekday(tdays);
            int work = target;
            if (twd == 6) /* Saturday: the Friday before, unless that leaves the month */
                work = target > 1 ? target - 1 : target + 2;
            else if (twd == 0) /* Sunday: the Monday after, unless that leaves the month */
                work = target < last ? target + 1 : target - 2;
            dom = d == work;
        }
    }
    bool dow = c->any_weekday;
    if (!dow) {
        dow = (c->weekdays >> wd) & 1;
        if (!dow && ((c->last_weekdays >> wd) & 1))
            dow = d + 7 > last;
        if (!dow && c->nth[wd])
            dow = (d - 1) / 7 + 1 == c->nth[wd];
    }
    return dom && dow;
}

/* Next set bit at or above `from` (below `limit`), or -1. */
static int next_bit(uint64_t bits, int from, int limit) {
    for (int i = from; i < limit; i++)
        if ((bits >> i) & 1)
            return i;
    return -1;
}

int64_t baton_cron_next(const baton_cron *c, int64_t after_ms) {
    int64_t after_s = after_ms >= 0 ? after_ms / 1000 : -((-after_ms + 999) / 1000);
    int64_t t = after_s + 1; /* strictly after, whole seconds */
    int64_t local = t + (c->zone ? baton_tz_offset_at(c->zone, t) : 0);
    int64_t y0;
    int m0, d0;
    civil_from_days(local / 86400 - (local % 86400 < 0), &y0, &m0, &d0);
    for (int guard = 0; guard < 100000; guard++) {
        int64_t days = local / 86400 - (local % 86400 < 0);
        int64_t sod = local - days * 86400;
        int64_t y;
        int m, d;
        civil_from_days(days, &y, &m, &d);
        if (y > y0 + 8)
            return INT64_MAX;
        int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60), s = (int)(sod % 60);
        if (!((c->months >> m) & 1)) {
            int nm = next_bit(c->months, m + 1, 13);
            local = nm > 0 ? days_from_civil(y, nm, 1) * 86400
                           : days_from_civil(y + 1, next_bit(c->months, 1, 13), 1) * 86400;
            continue;
        }
        if (!day_matches(c, y, m, d, days)) {
            local = (days + 1) * 86400;
            continue;
        }
        if (!((c->hours >> h) & 1)) {
            int nh = next_bit(c->hours, h + 1, 24);
            local = nh >= 0 ? days * 86400 + nh * 3600 : (days + 1) * 86400;
            continue;
        }
        if (!((c->minutes >> mi) & 1)) {
            int nmin = next_bit(c->minutes, mi + 1, 60);
            local = nmin >= 0 ? days * 86400 + h * 3600 + nmin * 60 : days * 86400 + (h + 1) * 3600;
            continue;
        }
        if (!((c->seconds >> s) & 1)) {
            int ns = next_bit(c->seconds, s + 1, 60);
            local = ns >= 0 ? days * 86400 + h * 3600 + mi * 60 + ns
                            : days * 86400 + h * 3600 + (mi + 1) * 60;
            continue;
        }
        int64_t utc = local - (c->zone ? baton_tz_offset_for_local(c->zone, local) : 0);
        if (utc < t) {
            /* a repeated wall time (DST overlap) already passed: look further */
            local++;
            continue;
        }
        return utc * 1000;
    }
    return INT64_MAX;
}
