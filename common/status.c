/* status.c - tables generated from BATON_STATUS_MAP; see status.h. */
#include "common/status.h"

#include <stddef.h>

static const struct {
    const char *name;
    const char *text;
    int http;
    int exitc;
} status_table[] = {
#define BATON_X_ROW(n, t, h, e) {#n, t, h, e},
    BATON_STATUS_MAP(BATON_X_ROW)
#undef BATON_X_ROW
};

static int valid(baton_status s) {
    return (int)s >= 0 && (int)s < (int)BATON_STATUS_COUNT_;
}

const char *baton_status_name(baton_status s) {
    return valid(s) ? status_table[s].name : "UNKNOWN";
}

const char *baton_status_text(baton_status s) {
    return valid(s) ? status_table[s].text : "unknown status";
}

int baton_status_http(baton_status s) {
    return valid(s) ? status_table[s].http : 500;
}

int baton_status_exit(baton_status s) {
    return valid(s) ? status_table[s].exitc : 70;
}
