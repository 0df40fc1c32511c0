/* util.c - shared helpers of the CLI subcommands; see cli.h. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "common/alloc.h"

int baton_cli_error(const baton_error *err) {
    if (err->where[0])
        fprintf(stderr, "baton: %s: error: %s\n", err->where, err->message);
    else
        fprintf(stderr, "baton: error: %s\n", err->message);
    int code = baton_status_exit(err->code);
    return code ? code : BATON_EXIT_FAIL;
}

int baton_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "baton%s%s: error: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'baton %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    va_end(ap);
    return BATON_EXIT_USAGE;
}

bool baton_cli_is_help(const char *arg) {
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

baton_status baton_cli_read_file(const char *path, size_t max, char **data_out, size_t *len_out,
                                 baton_error *err) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return baton_error_set(err, BATON_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 65536, len = 0;
    char *data = baton_malloc(cap + 1);
    baton_status st = BATON_OK;
    if (!data) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory reading '%s'", path);
        goto done;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                st = baton_error_set(err, BATON_LIMIT, "'%s' is larger than %zu bytes", path, max);
                goto done;
            }
            cap *= 2;
            char *d = baton_realloc(data, cap + 1);
            if (!d) {
                st = baton_error_set(err, BATON_NOMEM, "out of memory reading '%s'", path);
                goto done;
            }
            data = d;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                st = baton_error_set(err, BATON_IO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
    }
    if (!st && len > max)
        st = baton_error_set(err, BATON_LIMIT, "'%s' is larger than %zu bytes", path, max);
done:
    if (f != stdin)
        fclose(f);
    if (st) {
        baton_free(data);
        return st;
    }
    data[len] = '\0';
    *data_out = data;
    *len_out = len;
    return BATON_OK;
}
