/*
 * temporal.h - text forms of dates, times, date-times and durations: the
 * ISO 8601 profile FEEL uses (with `@Zone/Id` zones and java.time's
 * `[Zone/Id]`), parsed without allocation and formatted into caller buffers.
 * Shared by the FEEL temporal types and isotime.c (timers).
 */
#ifndef BATON_EXPR_TEMPORAL_H
#define BATON_EXPR_TEMPORAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATON_NS_PER_S   INT64_C(1000000000)
#define BATON_NS_PER_DAY (INT64_C(86400) * BATON_NS_PER_S)

typedef enum baton_tm_kind {
    BATON_TM_LOCAL = 0, /* no offset, no zone */
    BATON_TM_OFFSET,    /* fixed offset, "Z" included */
    BATON_TM_ZONE,      /* IANA zone id (resolved by the caller) */
} baton_tm_kind;

/* What baton_tm_parse accepts and found. */
enum { BATON_TM_DATE = 1, BATON_TM_TIME = 2, BATON_TM_DATETIME = 4 };

typedef struct baton_tm {
    int64_t days;   /* date part: days since 1970-01-01 */
    int64_t nanos;  /* time of day in nanoseconds, [0, 86400e9) */
    int32_t offset; /* seconds east of UTC when kind == BATON_TM_OFFSET */
    baton_tm_kind kind;
    const char *zone; /* zone id text inside the input when kind == BATON_TM_ZONE */
    size_t zone_len;
} baton_tm;

/*
 * Parse s[0..len) as one of the forms allowed in `accept` (a mask of
 * BATON_TM_DATE/TIME/DATETIME); returns the form found, or 0 when the text
 * is none of them. Years have 4 or more digits and an optional sign; a time
 * is hh:mm[:ss[.f...]] followed by Z, +hh:mm, @Zone/Id or [Zone/Id].
 */
int baton_tm_parse(const char *s, size_t len, int accept, baton_tm *out);

/* Duration text split into its fields (all non-negative, sign apart). */
typedef struct baton_dur {
    bool neg;
    bool has_ym, has_dt; /* Y/M present; W/D/H/M/S present */
    int64_t years, months, weeks, days, hours, minutes, seconds;
    int32_t nanos;
} baton_dur;

/* "P1Y2M3W4DT5H6M7.8S", "-PT1M": false when malformed or a field overflows. */
bool baton_tm_parse_duration(const char *s, size_t len, baton_dur *out);

/* Formatters; `buf` needs 64 bytes; return the length written. */
size_t baton_tm_format_date(int64_t days, char *buf);
size_t baton_tm_format_time(int64_t nanos, char *buf);            /* hh:mm:ss[.fff...] */
size_t baton_tm_format_offset(int32_t offset, char *buf);         /* Z or +hh:mm[:ss] */
size_t baton_tm_format_dtd(int64_t sec, int32_t nano, char *buf); /* P1DT2H3M4.5S, PT0S */
size_t baton_tm_format_ymd(int64_t months, char *buf);            /* P1Y2M, P0M */

#endif
