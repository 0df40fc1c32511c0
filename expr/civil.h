/*
 * civil.h - proleptic Gregorian calendar arithmetic on day numbers (days
 * since 1970-01-01), shared by the time-zone reader, ISO 8601 parsing and
 * the FEEL temporal types. Header-only, no state; valid for every year an
 * int64 day count can hold without overflow in the intermediate products
 * (callers bound years to +-999999999). After H. Hinnant's public-domain
 * "chrono-compatible low-level date algorithms".
 */
#ifndef BATON_EXPR_CIVIL_H
#define BATON_EXPR_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

#define BATON_DAY_S    INT64_C(86400)
#define BATON_MAX_YEAR 999999999

static inline int64_t baton_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int64_t baton_floormod(int64_t a, int64_t b) {
    return a - baton_floordiv(a, b) * b;
}

static inline bool baton_is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int baton_month_days(int64_t y, int m) {
    static const int8_t md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && baton_is_leap(y) ? 29 : md[m - 1];
}

static inline int64_t baton_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = baton_floordiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static inline void baton_civil_from_days(int64_t z, int64_t *y_out, int *m_out, int *d_out) {
    z += 719468;
    int64_t era = baton_floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y_out = y + (m <= 2);
    *m_out = m;
    *d_out = d;
}

/* ISO weekday, 1 = Monday .. 7 = Sunday. */
static inline int baton_weekday(int64_t days) {
    return (int)baton_floormod(days + 3, 7) + 1;
}

#endif
