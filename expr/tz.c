/*
 * tz.c - TZif reader and offset lookup; see tz.h.
 *
 * Only the version 2+ (64-bit) data block is used; instants after the last
 * transition follow the POSIX TZ rule in the file's footer ("CET-1CEST,
 * M3.5.0,M10.5.0/3"), so slim tzdata files work for any future year.
 * Files are bounded (BATON_TZ_FILE_MAX) and every count in them is checked
 * before use: a damaged file is "unknown zone", never a crash.
 */
#include "expr/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "expr/civil.h"

#define BATON_TZ_FILE_MAX (512 * 1024)
#define BATON_TZ_NAME_MAX 64

typedef struct rule_date {
    char kind;    /* 'M' month.week.day, 'J' julian 1..365 without Feb 29, 'D' zero-based day */
    int m, w, d;  /* for 'M'; d is the day for 'J'/'D' */
    int32_t time; /* seconds after local midnight, may be negative or > 24h */
} rule_date;

typedef struct posix_rule {
    bool valid;
    bool has_dst;
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    rule_date start, end;
} posix_rule;

typedef struct zone {
    char name[BATON_TZ_NAME_MAX];
    uint32_t n_trans;
    int64_t *trans;     /* transition instants, ascending */
    int32_t *trans_off; /* offset in force from trans[i] on */
    int32_t first_off;  /* offset before the first transition */
    posix_rule rule;
} zone;

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static zone *zones[BATON_TZ_MAX + 1]; /* [0] unused */
static uint16_t n_zones;

/* ---- POSIX TZ footer ---------------------------------------------------------------- */

static const char *rule_name(const char *p) {
    if (*p == '<') {
        while (*p && *p != '>')
            p++;
        return *p ? p + 1 : NULL;
    }
    const char *s = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds; hours up to 167 (RFC 8536 extension). */
static const char *rule_hms(const char *p, int32_t *out) {
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (*p < '0' || *p > '9') {
            if (i == 0)
                return NULL;
            break; /* "5:" ends after the colon with the parts read so far */
        }
        int v = 0, nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 3)
            v = v * 10 + (*p++ - '0'), nd++;
        part[i] = v;
        if (*p != ':' || i == 2)
            break;
        p++;
    }
    if (part[0] > 167 || part[1] > 59 || part[2] > 59)
        return NULL;
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return p;
}

static const char *rule_date_parse(const char *p, rule_date *rd) {
    rd->time = 7200;
    if (*p == 'M') {
        rd->kind = 'M';
        char *end;
        long m = strtol(p + 1, &end, 10);
        if (*end != '.')
            return NULL;
        long w = strtol(end + 1, &end, 10);
        if (*end != '.')
            return NULL;
        long d = strtol(end + 1, &end, 10);
        if (m < 1 || m > 12 || w < 1 || w > 5 || d < 0 || d > 6)
            return NULL;
        rd->m = (int)m, rd->w = (int)w, rd->d = (int)d;
        p = end;
    } else {
        rd->kind = 'D';
        if (*p == 'J')
            rd->kind = 'J', p++;
        if (*p < '0' || *p > '9')
            return NULL;
        char *end;
        long d = strtol(p, &end, 10);
        if (d < 0 || d > 365 || (rd->kind == 'J' && d < 1))
            return NULL;
        rd->d = (int)d;
        p = end;
    }
    if (*p == '/') {
        p = rule_hms(p + 1, &rd->time);
        if (!p)
            return NULL;
    }
    return p;
}

static void rule_parse(const char *s, posix_rule *r) {
    memset(r, 0, sizeof *r);
    const char *p = rule_name(s);
    int32_t off;
    if (!p || !(p = rule_hms(p, &off)))
        return;
    r->std_off = -off;
    r->dst_off = r->std_off + 3600;
    if (*p == '\0') {
        r->valid = true;
        return;
    }
    if (!(p = rule_name(p)))
        return;
    if (*p && *p != ',') {
        if (!(p = rule_hms(p, &off)))
            return;
        r->dst_off = -off;
    }
    if (*p != ',')
        return; /* DST without rules: unsupported, treat as standard time */
    if (!(p = rule_date_parse(p + 1, &r->start)) || *p != ',')
        return;
    if (!(p = rule_date_parse(p + 1, &r->end)) || *p != '\0')
        return;
    r->has_dst = true;
    r->valid = true;
}

/* Local seconds (as if UTC) at which `rd` happens in `year`. */
static int64_t rule_local(const rule_date *rd, int64_t year) {
    int64_t day;
    if (rd->kind == 'M') {
        int64_t first = baton_days_from_civil(year, rd->m, 1);
        int wd0 = (int)baton_floormod(first + 4, 7); /* 0 = Sunday */
        int64_t d = first + (rd->d - wd0 + 7) % 7 + (int64_t)(rd->w - 1) * 7;
        int md = baton_month_days(year, rd->m);
        while (d - first >= md)
            d -= 7;
        day = d;
    } else if (rd->kind == 'J') {
        int64_t n = rd->d - 1;
        if (baton_is_leap(year) && rd->d >= 60)
            n++;
        day = baton_days_from_civil(year, 1, 1) + n;
    } else {
        day = baton_days_from_civil(year, 1, 1) + rd->d;
    }
    return day * BATON_DAY_S + rd->time;
}

static int32_t rule_offset(const posix_rule *r, int64_t utc_s) {
    if (!r->has_dst)
        return r->std_off;
    int64_t y;
    int m, d;
    baton_civil_from_days(baton_floordiv(utc_s + r->std_off, BATON_DAY_S), &y, &m, &d);
    int64_t start = rule_local(&r->start, y) - r->std_off;
    int64_t end = rule_local(&r->end, y) - r->dst_off;
    if (start < end)
        return utc_s >= start && utc_s < end ? r->dst_off : r->std_off;
    return utc_s >= end && utc_s < start ? r->std_off : r->dst_off;
}

/* ---- TZif ----------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static bool tzif_header(const unsigned char *p, size_t len, tzif_counts *c) {
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    c->isut = be32(p + 20), c->isstd = be32(p + 24), c->leap = be32(p + 28);
    c->time = be32(p + 32), c->type = be32(p + 36), c->chars = be32(p + 40);
    return c->type >= 1 && c->type <= 256 && c->time <= 100000 && c->leap <= 1000 &&
           c->chars <= 10000 && c->isut <= c->type && c->isstd <= c->type;
}

static size_t tzif_block(const tzif_counts *c, int tsize) {
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static baton_status zone_from_tzif(const unsigned char *buf, size_t len, zone *z) {
    tzif_counts c;
    if (!tzif_header(buf, len, &c))
        return BATON_PARSE;
    size_t v1 = 44 + tzif_block(&c, 4);
    if (buf[4] < '2' || v1 >= len)
        return BATON_PARSE; /* version 1 files: not shipped by tzdata since 2005 */
    const unsigned char *p = buf + v1;
    size_t rest = len - v1;
    if (!tzif_header(p, rest, &c) || 44 + tzif_block(&c, 8) > rest)
        return BATON_PARSE;
    const unsigned char *times = p + 44;
    const unsigned char *idx = times + (size_t)c.time * 8;
    const unsigned char *types = idx + c.time;
    z->n_trans = c.time;
    if (c.time) {
        z->trans = baton_malloc(sizeof(int64_t) * c.time);
        z->trans_off = baton_malloc(sizeof(int32_t) * c.time);
        if (!z->trans || !z->trans_off)
            return BATON_NOMEM;
    }
    for (uint32_t i = 0; i < c.time; i++) {
        unsigned t = idx[i];
        if (t >= c.type)
            return BATON_PARSE;
        z->trans[i] = be64(times + (size_t)i * 8);
        if (i && z->trans[i] <= z->trans[i - 1])
            return BATON_PARSE;
        z->trans_off[i] = (int32_t)be32(types + t * 6);
    }
    /* RFC 8536: local time type 0 applies before the first transition */
    z->first_off = (int32_t)be32(types);
    const unsigned char *foot = p + 44 + tzif_block(&c, 8);
    size_t flen = (size_t)(buf + len - foot);
    if (flen >= 2 && foot[0] == '\n') {
        const unsigned char *nl = memchr(foot + 1, '\n', flen - 1);
        if (nl && nl - foot - 1 < 120) {
            char tzs[128];
            memcpy(tzs, foot + 1, (size_t)(nl - foot - 1));
            tzs[nl - foot - 1] = '\0';
            rule_parse(tzs, &z->rule);
        }
    }
    return BATON_OK;
}

static void zone_free(zone *z) {
    if (!z)
        return;
    baton_free(z->trans);
    baton_free(z->trans_off);
    baton_free(z);
}

static bool zone_name_ok(const char *s, size_t len) {
    if (len == 0 || len >= BATON_TZ_NAME_MAX || s[0] == '/' || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' || ch == '+' ||
                  ch == '.';
        if (!ok || (ch == '.' && i + 1 < len && s[i + 1] == '.'))
            return false;
    }
    return true;
}

/* "+02:00", "-0530", "+2" -> seconds; false when not an offset. */
static bool fixed_offset(const char *s, size_t len, int32_t *out) {
    if (len < 2 || (s[0] != '+' && s[0] != '-'))
        return false;
    int h = 0, m = 0;
    size_t i = 1, nd = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && nd < 2)
        h = h * 10 + (s[i++] - '0'), nd++;
    if (nd == 0)
        return false;
    if (i < len && s[i] == ':')
        i++;
    nd = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && nd < 2)
        m = m * 10 + (s[i++] - '0'), nd++;
    if (i != len || h > 18 || m > 59)
        return false;
    *out = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return true;
}

static baton_status zone_load(const char *name, size_t len, zone **out, baton_error *err) {
    zone *z = baton_calloc(1, sizeof *z);
    if (!z)
        return baton_error_set(err, BATON_NOMEM, "out of memory loading time zone");
    memcpy(z->name, name, len);
    z->name[len] = '\0';
    int32_t off;
    if (fixed_offset(name, len, &off)) {
        z->first_off = off;
        z->rule.valid = true;
        z->rule.std_off = off;
        *out = z;
        return BATON_OK;
    }
    bool utc = (len == 1 && name[0] == 'Z') || (len == 3 && memcmp(name, "UTC", 3) == 0) ||
               (len == 3 && memcmp(name, "GMT", 3) == 0);
    baton_status st = BATON_OK;
    unsigned char *buf = NULL;
    int fd = -1;
    if (!zone_name_ok(name, len)) {
        st = BATON_NOTFOUND;
        goto done;
    }
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[512];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, z->name) >= sizeof path) {
        st = BATON_NOTFOUND;
        goto done;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = utc ? BATON_OK : BATON_NOTFOUND; /* no tzdata installed: UTC still works */
        goto done;
    }
    buf = baton_malloc(BATON_TZ_FILE_MAX);
    if (!buf) {
        st = BATON_NOMEM;
        goto done;
    }
    size_t len_read = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len_read, BATON_TZ_FILE_MAX - len_read);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len_read += (size_t)n;
        if (len_read == BATON_TZ_FILE_MAX)
            break;
    }
    st = zone_from_tzif(buf, len_read, z);
done:
    if (fd >= 0)
        close(fd);
    baton_free(buf);
    if (st != BATON_OK) {
        zone_free(z);
        if (st == BATON_NOMEM)
            return baton_error_set(err, BATON_NOMEM, "out of memory loading time zone");
        return baton_error_set(err, BATON_NOTFOUND, "unknown time zone '%.*s'",
                               (int)(len > 64 ? 64 : len), name);
    }
    *out = z;
    return BATON_OK;
}

baton_status baton_tz_find(const char *name, size_t len, uint16_t *id_out, baton_error *err) {
    if (len == 0 || len >= BATON_TZ_NAME_MAX)
        return baton_error_set(err, BATON_NOTFOUND, "unknown time zone '%.*s'",
                               (int)(len > 64 ? 64 : len), name);
    pthread_mutex_lock(&tz_lock);
    for (uint16_t i = 1; i <= n_zones; i++) {
        if (strlen(zones[i]->name) == len && memcmp(zones[i]->name, name, len) == 0) {
            pthread_mutex_unlock(&tz_lock);
            *id_out = i;
            return BATON_OK;
        }
    }
    baton_status st;
    if (n_zones >= BATON_TZ_MAX) {
        st = baton_error_set(err, BATON_LIMIT, "too many time zones in use");
    } else {
        zone *z = NULL;
        st = zone_load(name, len, &z, err);
        if (st == BATON_OK) {
            zones[++n_zones] = z;
            *id_out = n_zones;
        }
    }
    pthread_mutex_unlock(&tz_lock);
    return st;
}

static const zone *zone_get(uint16_t id) {
    /* ids are handed out under the lock after the zone is complete, so no lock here */
    return id >= 1 && id <= BATON_TZ_MAX ? zones[id] : NULL;
}

const char *baton_tz_name(uint16_t id) {
    const zone *z = zone_get(id);
    return z ? z->name : "";
}

int32_t baton_tz_offset_at(uint16_t id, int64_t utc_s) {
    const zone *z = zone_get(id);
    if (!z)
        return 0;
    if (z->n_trans == 0 || utc_s < z->trans[0])
        return z->n_trans == 0 && z->rule.valid ? rule_offset(&z->rule, utc_s) : z->first_off;
    if (utc_s >= z->trans[z->n_trans - 1] && z->rule.valid)
        return rule_offset(&z->rule, utc_s);
    uint32_t lo = 0, hi = z->n_trans; /* find last trans[i] <= utc_s */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->trans_off[lo];
}

int32_t baton_tz_offset_for_local(uint16_t id, int64_t local_s) {
    /* Offsets never exceed +-26h and transitions are far more than 2 days apart. */
    int32_t early = baton_tz_offset_at(id, local_s - 2 * BATON_DAY_S);
    int32_t late = baton_tz_offset_at(id, local_s + 2 * BATON_DAY_S);
    bool early_ok = baton_tz_offset_at(id, local_s - early) == early;
    bool late_ok = baton_tz_offset_at(id, local_s - late) == late;
    if (early_ok)
        return early; /* unique, or the earlier offset of an overlap */
    if (late_ok)
        return late;
    return early; /* gap: keep the offset before it, the clock moves forward */
}
