/*
 * tz.h - IANA time zones for FEEL zoned date-times, now()/today() and timer
 * cycles, read from the system's TZif files (tzdata, /usr/share/zoneinfo or
 * $TZDIR) without touching the process-wide TZ/localtime state.
 *
 * A zone is loaded once per process on first use and kept in a bounded,
 * mutex-protected table; afterwards it is immutable, so lookups by id need
 * no lock. Ids are small integers > 0; 0 means "no zone".
 */
#ifndef BATON_EXPR_TZ_H
#define BATON_EXPR_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Most zones a process keeps loaded (the tz database has about 600). */
#define BATON_TZ_MAX 1024

/*
 * Find or load zone `name[0..len)`: an IANA id ("Europe/Berlin"), "UTC",
 * "Z", or a fixed offset ("+02:00"). BATON_NOTFOUND for an unknown zone.
 */
baton_status baton_tz_find(const char *name, size_t len, uint16_t *id_out, baton_error *err);

/* The zone's name as given on first load ("" for 0). */
const char *baton_tz_name(uint16_t id);

/* UTC offset in seconds at instant `utc_s` (seconds since 1970, UTC). */
int32_t baton_tz_offset_at(uint16_t id, int64_t utc_s);

/*
 * Offset that wall-clock time `local_s` (seconds since 1970 as if UTC) has
 * in the zone, as java.time resolves it: in an overlap the earlier offset,
 * in a gap the offset before the gap (so the time moves forward by the gap).
 */
int32_t baton_tz_offset_for_local(uint16_t id, int64_t local_s);

#endif
