/*
 * test_isotime.c - ISO 8601 durations, instants and repeating intervals as
 * timers use them (isotime.h), including zones with daylight saving time
 * and dates past the last transition of the TZif files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expr/isotime.h"
#include "tests/tap.h"

static int64_t instant(const char *s, const char *zone) {
    int64_t ms = 0;
    baton_error err;
    baton_error_clear(&err);
    if (baton_iso_parse_instant(s, zone, &ms, &err) != BATON_OK)
        printf("# %s: %s\n", s, err.message);
    return ms;
}

static const char *fmt(int64_t ms) {
    static char buf[64];
    baton_iso_format_instant(ms, buf, sizeof buf);
    return buf;
}

static void test_durations(void) {
    static const struct {
        const char *s;
        int32_t months;
        int64_t ms;
    } ok[] = {
        {"PT10M", 0, 600000},
        {"P1D", 0, 86400000},
        {"P3W", 0, 21 * 86400000LL},
        {"P1Y2M3DT4H5M6.789S", 14, 3 * 86400000LL + 4 * 3600000 + 5 * 60000 + 6789},
        {"-P2D", 0, -2 * 86400000LL},
        {"PT0S", 0, 0},
        {"PT1.5S", 0, 1500},
        {" PT1H\n", 0, 3600000},
        {"P1M", 1, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        baton_duration d = {0, 0};
        baton_error err;
        baton_error_clear(&err);
        TAP_EQ_INT(baton_iso_parse_duration(ok[i].s, &d, &err), BATON_OK, "parse %s", ok[i].s);
        TAP_EQ_INT(d.months, ok[i].months, "%s months", ok[i].s);
        TAP_EQ_INT(d.ms, ok[i].ms, "%s ms", ok[i].s);
    }
    static const char *const bad[] = {"",
                                      "P",
                                      "PT",
                                      "10M",
                                      "P1H",
                                      "PT1D",
                                      "P1.5D",
                                      "P1M1Y",
                                      "PT1S2M",
                                      "P-1D",
                                      "P1DT",
                                      "PX",
                                      "P99999999999999999999D"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        baton_duration d;
        baton_error err;
        baton_error_clear(&err);
        TAP_OK(baton_iso_parse_duration(bad[i], &d, &err) != BATON_OK, "reject '%s'", bad[i]);
        TAP_OK(err.message[0] != '\0', "'%s' has a message", bad[i]);
    }
}

static void test_instants(void) {
    TAP_EQ_STR(fmt(instant("2026-01-01T08:00:00Z", NULL)), "2026-01-01T08:00:00Z", "UTC");
    TAP_EQ_STR(fmt(instant("2026-01-01T08:00:00+02:00", NULL)), "2026-01-01T06:00:00Z", "offset");
    TAP_EQ_STR(fmt(instant("2026-01-01T08:00:00.250-01:30", NULL)), "2026-01-01T09:30:00.250Z",
               "negative offset, ms");
    TAP_EQ_STR(fmt(instant("2026-01-01T08:00:00@Europe/Berlin", NULL)), "2026-01-01T07:00:00Z",
               "zone id, winter");
    TAP_EQ_STR(fmt(instant("2026-07-01T08:00:00@Europe/Berlin", NULL)), "2026-07-01T06:00:00Z",
               "zone id, summer");
    TAP_EQ_STR(fmt(instant("2026-07-01T08:00:00+02:00[Europe/Berlin]", NULL)),
               "2026-07-01T06:00:00Z", "java.time form");
    TAP_EQ_STR(fmt(instant("2026-07-01T08:00:00", "America/New_York")), "2026-07-01T12:00:00Z",
               "zone-less in the given zone");
    TAP_EQ_STR(fmt(instant("2026-07-01", "Asia/Tokyo")), "2026-06-30T15:00:00Z",
               "bare date is midnight in the zone");
    TAP_EQ_STR(fmt(instant("2026-07-01", NULL)), "2026-07-01T00:00:00Z", "bare date in UTC");
    TAP_EQ_STR(fmt(instant("2026-03-29T02:30:00", "Europe/Berlin")), "2026-03-29T01:30:00Z",
               "gap: moved forward by the gap");
    TAP_EQ_STR(fmt(instant("2026-10-25T02:30:00", "Europe/Berlin")), "2026-10-25T00:30:00Z",
               "overlap: earlier offset");
    TAP_EQ_STR(fmt(instant("2087-07-01T12:00:00", "Europe/Berlin")), "2087-07-01T10:00:00Z",
               "far future follows the footer rule");
    TAP_EQ_STR(fmt(instant("2026-01-15T12:00:00", "Australia/Sydney")), "2026-01-15T01:00:00Z",
               "southern summer");
    TAP_EQ_STR(fmt(instant("1969-12-31T23:59:59.999Z", NULL)), "1969-12-31T23:59:59.999Z",
               "before the epoch");
    int64_t ms;
    baton_error err;
    static const char *const bad[] = {"2026-02-30T00:00:00Z",
                                      "2026-01-01T25:00:00Z",
                                      "tomorrow",
                                      "2026-01-01T08:00:00@Nowhere/City",
                                      "2026-01-01T08:00:00+25:00",
                                      "2026-1-1",
                                      ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        baton_error_clear(&err);
        TAP_OK(baton_iso_parse_instant(bad[i], NULL, &ms, &err) != BATON_OK, "reject '%s'", bad[i]);
    }
    baton_error_clear(&err);
    TAP_OK(baton_iso_parse_instant("2026-01-01T08:00:00", "../../etc/passwd", &ms, &err) !=
               BATON_OK,
           "zone names cannot escape the zone folder");
}

static void test_add(void) {
    baton_duration m1 = {1, 0}, d1 = {0, 86400000}, h1 = {0, 3600000};
    TAP_EQ_STR(fmt(baton_iso_add(instant("2026-01-31T10:00:00Z", NULL), m1, NULL)),
               "2026-02-28T10:00:00Z", "P1M clamps to the month's end");
    TAP_EQ_STR(fmt(baton_iso_add(instant("2024-01-31T10:00:00Z", NULL), m1, NULL)),
               "2024-02-29T10:00:00Z", "leap year");
    TAP_EQ_STR(fmt(baton_iso_add(instant("2026-03-15T08:00:00Z", NULL), m1, "Europe/Berlin")),
               "2026-04-15T07:00:00Z", "P1M keeps the local hour across DST");
    TAP_EQ_STR(fmt(baton_iso_add(instant("2026-03-28T12:00:00Z", NULL), d1, "Europe/Berlin")),
               "2026-03-29T12:00:00Z", "P1D is 24 hours");
    TAP_EQ_STR(fmt(baton_iso_add(instant("2026-01-01T00:00:00Z", NULL), h1, NULL)),
               "2026-01-01T01:00:00Z", "PT1H");
}

static void test_cycles(void) {
    baton_cycle c;
    baton_error err;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_iso_parse_cycle("R5/PT10M", NULL, &c, &err), BATON_OK, "R5/PT10M");
    TAP_EQ_INT(c.repeat, 5, "5 repetitions");
    TAP_EQ_INT(c.start_ms, INT64_MIN, "no start");
    TAP_EQ_INT(c.period.ms, 600000, "every 10 minutes");
    TAP_EQ_INT(baton_iso_parse_cycle("R/2026-01-01T08:00:00Z/P1D", NULL, &c, &err), BATON_OK,
               "unbounded with start");
    TAP_EQ_INT(c.repeat, -1, "unbounded");
    TAP_EQ_STR(fmt(c.start_ms), "2026-01-01T08:00:00Z", "start");
    TAP_EQ_INT(c.period.ms, 86400000, "daily");
    TAP_EQ_INT(baton_iso_parse_cycle("R3/PT1H/2026-01-01T12:00:00Z", NULL, &c, &err), BATON_OK,
               "duration and end");
    TAP_EQ_STR(fmt(c.start_ms), "2026-01-01T09:00:00Z", "start = end - 3 periods");
    TAP_EQ_INT(
        baton_iso_parse_cycle("R2/2026-01-01T08:00:00Z/2026-01-01T10:00:00Z", NULL, &c, &err),
        BATON_OK, "start and end");
    TAP_EQ_INT(c.period.ms, 7200000, "period from the interval");
    TAP_EQ_INT(baton_iso_parse_cycle("R/2026-01-01T08:00:00/P1M", "Europe/Berlin", &c, &err),
               BATON_OK, "monthly in a zone");
    TAP_EQ_STR(fmt(c.start_ms), "2026-01-01T07:00:00Z", "start read in the zone");
    TAP_EQ_INT(c.period.months, 1, "calendar period");
    static const char *const bad[] = {
        "R5",          "R-1/PT1M",    "R5/PT0S",
        "R5/-PT1M",    "X5/PT1M",     "R/PT1H/2026-01-01T00:00:00Z",
        "R5/PT1M/x/y", "0 0 * * * ?", "R5/2026-01-01T10:00:00Z/2026-01-01T09:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        baton_error_clear(&err);
        TAP_OK(baton_iso_parse_cycle(bad[i], NULL, &c, &err) != BATON_OK, "reject '%s'", bad[i]);
        TAP_OK(err.message[0] != '\0', "'%s' has a message", bad[i]);
    }
}

/* Big-endian 32-bit, as TZif stores its counts and offsets. */
static size_t put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
    return 4;
}

/*
 * A TZif file with no transitions whose POSIX footer is `footer`: version 2,
 * one local time type (UTC), no leap seconds; the v1 and v2 blocks alike.
 */
static bool write_tzif(const char *path, const char *footer) {
    unsigned char buf[256];
    size_t n = 0;
    for (int block = 0; block < 2; block++) {
        memcpy(buf + n, "TZif2", 5);
        memset(buf + n + 5, 0, 15);
        n += 20;
        static const uint32_t counts[6] = {0, 0, 0, 0, 1, 4}; /* isut isstd leap time type char */
        for (int i = 0; i < 6; i++)
            n += put32(buf + n, counts[i]);
        n += put32(buf + n, 0); /* type 0: utoff 0, not DST, designation at 0 */
        buf[n++] = 0;
        buf[n++] = 0;
        memcpy(buf + n, "UTC", 4);
        n += 4;
    }
    n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "\n%s\n", footer);
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(buf, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* A footer offset "5:" (a colon, then nothing) still yields UTC-5, not an unset offset. */
static void test_footer_rules(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512], sub[600], path[700];
    snprintf(dir, sizeof dir, "%s/baton-tz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        TAP_OK(0, "temporary folder: %s", strerror(errno));
        return;
    }
    snprintf(sub, sizeof sub, "%s/Test", dir);
    snprintf(path, sizeof path, "%s/Colon", sub);
    TAP_OK(mkdir(sub, 0700) == 0 && write_tzif(path, "XXX5:"), "wrote %s", path);
    const char *old = getenv("TZDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZDIR", dir, 1); /* zones load once: only Test/Colon is read from here */
    TAP_EQ_STR(fmt(instant("2026-01-01T00:00:00", "Test/Colon")), "2026-01-01T05:00:00Z",
               "footer 'XXX5:' is UTC-5");
    if (saved)
        setenv("TZDIR", saved, 1);
    else
        unsetenv("TZDIR");
    free(saved);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

int main(void) {
    TAP_RUN(test_durations);
    TAP_RUN(test_instants);
    TAP_RUN(test_add);
    TAP_RUN(test_cycles);
    TAP_RUN(test_footer_rules);
    return tap_done();
}
