/*
 * test_cron.c - cron expressions (runtime/cron.h): parsing, errors, and the
 * next occurrence in UTC, across month ends and leap years, with the day
 * forms (L, L-n, W, LW, #, dL), macros, five-field Unix form and zones
 * across daylight-saving changes.
 */
#include <string.h>

#include "expr/isotime.h"
#include "expr/cron.h"
#include "tests/tap.h"

static int64_t at(const char *iso) {
    int64_t ms = 0;
    baton_iso_parse_instant(iso, NULL, &ms, NULL);
    return ms;
}

static const char *fmt(int64_t ms, char *buf) {
    if (ms == INT64_MAX)
        return "never";
    baton_iso_format_instant(ms, buf, 40);
    return buf;
}

/* next occurrence of expr after `from`, as text */
static void check(const char *expr, const char *from, const char *want) {
    baton_cron c;
    baton_error e;
    baton_error_clear(&e);
    char buf[40];
    if (baton_cron_parse(expr, &c, &e)) {
        TAP_OK(0, "'%s' parses: %s", expr, e.message);
        return;
    }
    TAP_EQ_STR(fmt(baton_cron_next(&c, at(from)), buf), want, "'%s' after %s", expr, from);
}

static void test_next(void) {
    check("0 0 9 * * MON-FRI", "2026-01-02T10:00:00Z", "2026-01-05T09:00:00Z"); /* Fri -> Mon */
    check("0 0 9 * * MON-FRI", "2026-01-05T08:59:59.500Z", "2026-01-05T09:00:00Z");
    check("0 0 9 * * MON-FRI", "2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"); /* strictly after */
    check("*/10 * * * * *", "2026-03-01T00:00:05Z", "2026-03-01T00:00:10Z");
    check("0 0/15 * * * *", "2026-03-01T23:50:00Z", "2026-03-02T00:00:00Z");
    check("0 30 2 1 JAN ?", "2026-06-01T00:00:00Z", "2027-01-01T02:30:00Z");
    check("0 0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
    check("0 0 0 30 2 *", "2026-03-01T00:00:00Z", "never");
    check("0 0 0 L * *", "2026-02-10T00:00:00Z", "2026-02-28T00:00:00Z");
    check("0 0 0 L-2 * *", "2026-04-01T00:00:00Z", "2026-04-28T00:00:00Z");
    check("0 0 0 LW * *", "2026-05-01T00:00:00Z", "2026-05-29T00:00:00Z");  /* 31st is Sunday */
    check("0 0 0 15W * *", "2026-08-01T00:00:00Z", "2026-08-14T00:00:00Z"); /* 15th is Saturday */
    check("0 0 0 1W * *", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z");  /* 1st is Sunday */
    check("0 0 12 ? * FRI#2", "2026-01-01T00:00:00Z", "2026-01-09T12:00:00Z");
    check("0 0 12 ? * 5L", "2026-01-01T00:00:00Z", "2026-01-30T12:00:00Z");
    check("0 0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z");    /* 7 = Sunday */
    check("0 0 0 13 * FRI", "2026-01-01T00:00:00Z", "2026-02-13T00:00:00Z"); /* both must match */
    check("0 5,35 8-10 * * *", "2026-01-01T10:35:00Z", "2026-01-02T08:05:00Z");
    check("@daily", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z");
    check("@hourly", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z");
    check("@weekly", "2026-01-01T10:00:00Z", "2026-01-04T00:00:00Z");
    check("@monthly", "2026-01-31T10:00:00Z", "2026-02-01T00:00:00Z");
    check("@yearly", "2026-01-31T10:00:00Z", "2027-01-01T00:00:00Z");
    check("30 9 * * 1-5", "2026-01-02T10:00:00Z", "2026-01-05T09:30:00Z"); /* Unix, 5 fields */
}

static void test_zones(void) {
    /* 09:00 in Berlin is 08:00Z in winter, 07:00Z in summer */
    check("CRON_TZ=Europe/Berlin 0 0 9 * * *", "2026-01-10T12:00:00Z", "2026-01-11T08:00:00Z");
    check("TZ=Europe/Berlin 0 0 9 * * *", "2026-07-10T12:00:00Z", "2026-07-11T07:00:00Z");
    /* 2026-03-29 02:30 does not exist in Berlin: shifted by the gap to 03:30 CEST = 01:30Z */
    check("CRON_TZ=Europe/Berlin 0 30 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z");
    /* 2026-10-25 02:30 happens twice in Berlin: once, the first time (00:30Z) */
    check("CRON_TZ=Europe/Berlin 0 30 2 * * *", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z");
    check("CRON_TZ=Europe/Berlin 0 30 2 * * *", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
    check("TZ=+05:30 0 0 0 * * *", "2026-01-01T00:00:00Z", "2026-01-01T18:30:00Z");
}

static void test_errors(void) {
    static const char *bad[] = {"",
                                "* * * *",
                                "0 0 24 * * *",
                                "60 * * * * *",
                                "0 0 0 32 * *",
                                "0 0 0 * 13 *",
                                "0 0 0 * * 8",
                                "0 0 10-5 * * *",
                                "0 0 */0 * * *",
                                "0 0 0 * * MON#6",
                                "0 0 ? * * *",
                                "0 0 0 * FOO *",
                                "@sometimes",
                                "CRON_TZ=Nowhere/City 0 0 9 * * *",
                                "0 0 0 L-40 * *",
                                "0 0 0 * * * *",
                                "0 0 0,, * * *"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        baton_cron c;
        baton_error e;
        baton_error_clear(&e);
        TAP_EQ_INT(baton_cron_parse(bad[i], &c, &e), BATON_PARSE, "'%s' is refused (%s)", bad[i],
                   e.message);
    }
    baton_cron c;
    baton_error e;
    baton_error_clear(&e);
    baton_cron_parse("0 0 25 * * *", &c, &e);
    TAP_CONTAINS(e.message, "hour", "the message names the field");
    TAP_OK(e.where[0] != '\0', "and the column (%s)", e.where);
}

static void test_looks_like(void) {
    TAP_OK(baton_cron_looks_like("0 0 9 * * MON-FRI"), "six fields");
    TAP_OK(baton_cron_looks_like("@daily"), "a macro");
    TAP_OK(!baton_cron_looks_like("R5/PT10M"), "not an ISO cycle");
    TAP_OK(!baton_cron_looks_like("R/2026-01-01T08:00:00Z/P1D"), "not an ISO cycle with a start");
    TAP_OK(!baton_cron_looks_like("PT1H"), "not a duration");
}

int main(void) {
    TAP_RUN(test_next);
    TAP_RUN(test_zones);
    TAP_RUN(test_errors);
    TAP_RUN(test_looks_like);
    return tap_done();
}
