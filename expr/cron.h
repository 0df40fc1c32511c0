/*
 * cron.h - cron expressions for timer cycles, as Camunda 8 accepts them in
 * timeCycle (Spring's CronExpression): six fields
 *
 *   second minute hour day-of-month month day-of-week
 *   "0 0 9 * * MON-FRI"      09:00:00 on weekdays
 *   "0 0/15 * * * *"          every quarter of an hour
 *   "0 0 0 L * ?"            midnight on the last day of each month
 *   "0 0 12 ? * FRI#2"       noon on the second Friday
 *
 * Fields take `*`, `?` (same as `*`), numbers, ranges `a-b`, steps `*\/n`,
 * `a/n`, `a-b/n`, lists `a,b`, and names (JAN-DEC, SUN-SAT; 0 and 7 are
 * Sunday). Day of month also takes `L`, `L-n`, `nW` and `LW`; day of week
 * `dL` (last d of the month) and `d#n` (n-th d). Macros: @yearly
 * (@annually), @monthly, @weekly, @daily (@midnight), @hourly. A five-field
 * Unix expression is read with second 0. When both day fields are
 * restricted, a day must match both (as Spring does, unlike Unix cron).
 *
 * Times are UTC unless the expression starts with `CRON_TZ=<zone> ` or
 * `TZ=<zone> ` (an IANA id or an offset); in a zone, a time that a DST gap
 * skips is shifted forward by the gap (02:30 becomes 03:30, as java.time
 * resolves it), and a time that an overlap repeats fires once, at its first
 * occurrence.
 */
#ifndef BATON_EXPR_CRON_H
#define BATON_EXPR_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

typedef struct baton_cron {
    uint64_t seconds;      /* bit i: second i */
    uint64_t minutes;      /* bit i: minute i */
    uint32_t hours;        /* bit i: hour i */
    uint32_t days;         /* bit d: day of month d (1..31) */
    uint16_t months;       /* bit m: month m (1..12) */
    uint8_t weekdays;      /* bit w: weekday w (0 = Sunday) */
    uint8_t last_weekdays; /* bit w: the last weekday w of the month ("5L") */
    uint8_t nth[7];        /* weekday w on its nth[w]-th occurrence ("MON#2"), 0 = none */
    bool any_day;          /* day of month is `*` or `?` */
    bool any_weekday;      /* day of week is `*` or `?` */
    int8_t last_day;       /* -1 none; else `L` with this offset ("L-3" = 3) */
    bool last_workday;     /* "LW" */
    int8_t near_workday;   /* "15W": the weekday nearest the 15th; 0 = none */
    uint16_t zone;         /* expr/tz.h zone id, 0 = UTC */
} baton_cron;

/* True when `text` looks like a cron expression rather than ISO 8601 (R.../P.../a date). */
bool baton_cron_looks_like(const char *text);

/* Parse; BATON_PARSE with the field and position for a malformed expression. */
baton_status baton_cron_parse(const char *text, baton_cron *out, baton_error *err);

/*
 * The first occurrence strictly after `after_ms` (ms since the epoch), or
 * INT64_MAX when there is none within eight years (e.g. "0 0 0 30 2 *").
 */
int64_t baton_cron_next(const baton_cron *c, int64_t after_ms);

#endif
