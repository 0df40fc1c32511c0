/* store.c - opening a store by URL; the backends live in memory.c, sqlite.c, postgres.c. */
#include "persistence/store.h"

#include <string.h>

baton_status baton_store_open(const char *url, baton_store **out, baton_error *err) {
    if (!url || strcmp(url, "memory:") == 0)
        return baton_store_open_memory(out, err);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return baton_error_set(err, BATON_UNSUPPORTED, "store '%s': PostgreSQL is not available "
                               "in this build", url);
    return baton_error_set(err, BATON_UNSUPPORTED, "store '%s': SQLite is not available in this "
                           "build", url);
}

void baton_store_close(baton_store *s) {
    if (s)
        s->ops->close(s);
}
