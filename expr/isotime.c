/*
 * isotime.c - ISO 8601 durations, instants and repeating intervals for
 * timers; see isotime.h. Calendar months are applied to the wall clock of
 * the zone (so P1M from Jan 31 is the last day of February and a monthly
 * timer keeps its local hour across DST); the exact part is added after.
 */
#include "expr/isotime.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/civil.h"
#include "expr/temporal.h"
#include "expr/tz.h"

#define MAX_DUR_MS (INT64_C(1) << 60)

baton_status baton_iso_parse_duration(const char *s, baton_duration *out, baton_error *err) {
    baton_dur d;
    size_t len = s ? strlen(s) : 0;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
        s++, len--;
    if (!s || !baton_tm_parse_duration(s, len, &d))
        return baton_error_set(err, BATON_PARSE, "invalid ISO 8601 duration '%.*s'",
                               (int)(len > 64 ? 64 : len), s ? s : "");
    int64_t months = d.years * 12 + d.months;
    /* each field has at most 15 digits: bound the sum before multiplying */
    if (months > INT32_MAX || d.weeks > 1000000000 || d.days > 1000000000 ||
        d.hours > INT64_C(100000000000) || d.minutes > INT64_C(10000000000000))
        return baton_error_set(err, BATON_LIMIT, "duration '%s' is too large", s);
    int64_t ms = ((d.weeks * 7 + d.days) * 24 + d.hours) * 3600000 + d.minutes * 60000 +
                 d.seconds * 1000 + d.nanos / 1000000;
    if (ms > MAX_DUR_MS || ms < 0)
        return baton_error_set(err, BATON_LIMIT, "duration '%s' is too large", s);
    out->months = (int32_t)(d.neg ? -months : months);
    out->ms = d.neg ? -ms : ms;
    return BATON_OK;
}

static baton_status zone_id(const char *zone, size_t len, uint16_t *id, baton_error *err) {
    *id = 0;
    if (!zone || len == 0)
        return BATON_OK;
    if ((len == 3 && memcmp(zone, "UTC", 3) == 0) || (len == 1 && zone[0] == 'Z'))
        return BATON_OK;
    return baton_tz_find(zone, len, id, err);
}

baton_status baton_iso_parse_instant(const char *s, const char *zone, int64_t *ms_out,
                                     baton_error *err) {
    size_t len = s ? strlen(s) : 0;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
        s++, len--;
    baton_tm t;
    if (!s || !baton_tm_parse(s, len, BATON_TM_DATE | BATON_TM_DATETIME, &t))
        return baton_error_set(err, BATON_PARSE, "invalid ISO 8601 date-time '%.*s'",
                               (int)(len > 64 ? 64 : len), s ? s : "");
    int64_t y;
    int m, d;
    baton_civil_from_days(t.days, &y, &m, &d);
    if (y < -99999 || y > 99999)
        return baton_error_set(err, BATON_LIMIT, "date-time '%.*s' is out of range",
                               (int)(len > 64 ? 64 : len), s);
    int64_t local = t.days * BATON_DAY_S + t.nanos / BATON_NS_PER_S;
    int64_t off = 0;
    if (t.kind == BATON_TM_OFFSET) {
        off = t.offset;
    } else {
        uint16_t id;
        baton_status st = t.kind == BATON_TM_ZONE
                              ? zone_id(t.zone, t.zone_len, &id, err)
                              : zone_id(zone, zone ? strlen(zone) : 0, &id, err);
        if (st)
            return st;
        off = id ? baton_tz_offset_for_local(id, local) : 0;
    }
    *ms_out = (local - off) * 1000 + (t.nanos % BATON_NS_PER_S) / 1000000;
    return BATON_OK;
}

int64_t baton_iso_add(int64_t at, baton_duration d, const char *zone) {
    if (d.months) {
        uint16_t id = 0;
        if (zone_id(zone, zone ? strlen(zone) : 0, &id, NULL) != BATON_OK)
            id = 0;
        int64_t s = baton_floordiv(at, 1000), ms = baton_floormod(at, 1000);
        int64_t off = id ? baton_tz_offset_at(id, s) : 0;
        int64_t local = s + off;
        int64_t days = baton_floordiv(local, BATON_DAY_S), tod = baton_floormod(local, BATON_DAY_S);
        int64_t y;
        int m, dd;
        baton_civil_from_days(days, &y, &m, &dd);
        int64_t mi = y * 12 + (m - 1) + d.months;
        y = baton_floordiv(mi, 12);
        m = (int)baton_floormod(mi, 12) + 1;
        int md = baton_month_days(y, m);
        if (dd > md)
            dd = md;
        local = baton_days_from_civil(y, m, dd) * BATON_DAY_S + tod;
        off = id ? baton_tz_offset_for_local(id, local) : 0;
        at = (local - off) * 1000 + ms;
    }
    return at + d.ms;
}

static bool is_duration(const char *s, size_t len) {
    return len > 0 && (s[0] == 'P' || (len > 1 && s[0] == '-' && s[1] == 'P'));
}

baton_status baton_iso_parse_cycle(const char *s, const char *zone, baton_cycle *out,
                                   baton_error *err) {
    size_t len = s ? strlen(s) : 0;
    while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
        s++, len--;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    char buf[256];
    if (!s || len == 0 || len >= sizeof buf || s[0] != 'R')
        return baton_error_set(err, BATON_PARSE,
                               "invalid ISO 8601 repeating interval '%.*s' (expected R[n]/...)",
                               (int)(len > 64 ? 64 : len), s ? s : "");
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *parts[4];
    int np = 0;
    for (char *p = buf; np < 4;) {
        parts[np++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    if (np < 2 || np > 3)
        return baton_error_set(err, BATON_PARSE, "invalid ISO 8601 repeating interval '%s'", s);
    baton_cycle c = {.repeat = -1, .start_ms = INT64_MIN};
    if (parts[0][1]) {
        char *end;
        long long r = strtoll(parts[0] + 1, &end, 10);
        if (*end || r < 0 || r > INT32_MAX || parts[0][1] == '-' || parts[0][1] == '+')
            return baton_error_set(err, BATON_PARSE, "invalid repeat count in '%s'", s);
        c.repeat = (int32_t)r;
    }
    baton_status st;
    if (np == 2) { /* R/duration */
        if (!is_duration(parts[1], strlen(parts[1])))
            return baton_error_set(err, BATON_PARSE, "repeating interval '%s' has no period", s);
        if ((st = baton_iso_parse_duration(parts[1], &c.period, err)))
            return st;
    } else if (is_duration(parts[1], strlen(parts[1]))) { /* R/duration/end */
        int64_t end_ms;
        if ((st = baton_iso_parse_duration(parts[1], &c.period, err)) ||
            (st = baton_iso_parse_instant(parts[2], zone, &end_ms, err)))
            return st;
        if (c.repeat < 0)
            return baton_error_set(err, BATON_PARSE,
                                   "unbounded repeating interval '%s' cannot end at a date", s);
        /* the last repetition falls on the end: start = end - repeat * period */
        baton_duration back = {-c.period.months, -c.period.ms};
        c.start_ms = end_ms;
        for (int32_t i = 0; i < c.repeat && i < 100000; i++)
            c.start_ms = baton_iso_add(c.start_ms, back, zone);
    } else { /* R/start/duration or R/start/end */
        if ((st = baton_iso_parse_instant(parts[1], zone, &c.start_ms, err)))
            return st;
        if (is_duration(parts[2], strlen(parts[2]))) {
            if ((st = baton_iso_parse_duration(parts[2], &c.period, err)))
                return st;
        } else {
            int64_t end_ms;
            if ((st = baton_iso_parse_instant(parts[2], zone, &end_ms, err)))
                return st;
            c.period.months = 0;
            c.period.ms = end_ms - c.start_ms;
        }
    }
    if (c.period.months < 0 || c.period.ms < 0 || (c.period.months == 0 && c.period.ms <= 0))
        return baton_error_set(err, BATON_PARSE, "repeating interval '%s' needs a positive period",
                               s);
    *out = c;
    return BATON_OK;
}

size_t baton_iso_format_instant(int64_t ms, char *buf, size_t cap) {
    int64_t s = baton_floordiv(ms, 1000), frac = baton_floormod(ms, 1000);
    int64_t days = baton_floordiv(s, BATON_DAY_S), tod = baton_floormod(s, BATON_DAY_S);
    char d[64];
    baton_tm_format_date(days, d);
    int n;
    if (frac)
        n = snprintf(buf, cap, "%sT%02d:%02d:%02d.%03dZ", d, (int)(tod / 3600),
                     (int)(tod / 60 % 60), (int)(tod % 60), (int)frac);
    else
        n = snprintf(buf, cap, "%sT%02d:%02d:%02dZ", d, (int)(tod / 3600), (int)(tod / 60 % 60),
                     (int)(tod % 60));
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : (cap ? cap - 1 : 0);
}
