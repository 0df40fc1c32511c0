/*
 * isotime.h - ISO 8601 dates, durations and repeating intervals for timers,
 * shared by the FEEL temporal types and the interpreter's timer events.
 *
 * Instants are int64 milliseconds since 1970-01-01T00:00:00Z. A duration
 * keeps its calendar part (months) apart from its exact part (ms), because
 * P1M added to Jan 31 is not a fixed number of milliseconds.
 */
#ifndef BATON_EXPR_ISOTIME_H
#define BATON_EXPR_ISOTIME_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct baton_duration {
    int32_t months; /* years*12 + months */
    int64_t ms;     /* days*86400000 + time; may be negative */
} baton_duration;

/* "P1Y2M3DT4H5M6.789S", "PT10M", "-P2D", "P3W". */
baton_status baton_iso_parse_duration(const char *s, baton_duration *out, baton_error *err);

/*
 * "2026-01-01T08:00:00Z", with an offset ("+02:00") or a zone id
 * ("2026-01-01T08:00:00@Europe/Berlin"); a zone-less date-time or a bare date
 * ("2026-01-01", midnight) is read in `zone` (NULL = UTC).
 */
baton_status baton_iso_parse_instant(const char *s, const char *zone, int64_t *ms_out,
                                     baton_error *err);

/* `at` plus d, calendar months applied in `zone` (NULL = UTC). */
int64_t baton_iso_add(int64_t at, baton_duration d, const char *zone);

/* A repeating interval: "R5/PT10M", "R/2026-01-01T08:00:00Z/P1D", "R3/PT1H/2026-..." */
typedef struct baton_cycle {
    int32_t repeat;   /* -1 = unbounded */
    int64_t start_ms; /* INT64_MIN when the cycle has no start: first due = now + period */
    baton_duration period;
} baton_cycle;

baton_status baton_iso_parse_cycle(const char *s, const char *zone, baton_cycle *out,
                                   baton_error *err);

/* "2026-01-01T08:00:00Z" or with milliseconds when non-zero; returns length. */
size_t baton_iso_format_instant(int64_t ms, char *buf, size_t cap);

#endif
