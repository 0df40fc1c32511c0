/*
 * client.h - what the HTTP tests share: start `baton serve` as a child
 * process on 127.0.0.1 port 0 (it prints the port), call it with libcurl,
 * stop it with SIGTERM. The child dies with the test (PR_SET_PDEATHSIG), so
 * a crashed test leaves no server behind.
 *
 * Stores: "memory", "sqlite" (a file in a fresh temporary folder) or
 * "postgres" (a fresh database created beside $BATON_TEST_PG's and dropped
 * at the end). Without $BATON_TEST_PG the PostgreSQL variant skips, except
 * under CI (BATON_CI=true), where it fails.
 */
#ifndef BATON_TESTS_HTTP_CLIENT_H
#define BATON_TESTS_HTTP_CLIENT_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "baton_config.h"
#include "persistence/store.h"
#if BATON_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

typedef struct srv {
    pid_t pid;
    int port;
    char base[64];
    char db[1024];
    char dir[256];       /* temporary folder (sqlite file, logs) */
    char pg_admin[1024]; /* postgres: URL to drop the database with */
    char pg_name[64];
    char log[300];
} srv;

typedef struct resp {
    long status;
    char *body;
    size_t len;
    cJSON *json;
    char request_id[96];
    char content_type[128];
    char allow[64];
} resp;

/* ---- stores ---------------------------------------------------------------------------- */

/* Skip (exit 77 as TAP "1..0 # SKIP") or fail under CI when a store is missing. */
static inline void store_missing(const char *why) {
    const char *ci = getenv("BATON_CI");
    if (ci && strcmp(ci, "true") == 0) {
        printf("1..1\nnot ok 1 - %s (required under CI)\n", why);
        exit(1);
    }
    printf("1..0 # SKIP %s\n", why);
    exit(0);
}

static char tmp_dir_to_remove[256];

static inline void remove_tmp_dir(void) {
    if (tmp_dir_to_remove[0]) {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir_to_remove);
        if (system(cmd) != 0)
            fprintf(stderr, "# could not remove %s\n", tmp_dir_to_remove);
        tmp_dir_to_remove[0] = '\0';
    }
}

/*
 * Is the backend compiled in? A build without it (or before it exists)
 * skips, under CI too: that is a property of the build, not a missing server.
 */
static inline void require_backend(const char *url, const char *what) {
    baton_store *st = NULL;
    baton_error e;
    baton_error_clear(&e);
    baton_status rc = baton_store_open(url, &st, &e);
    baton_store_close(st);
    if (rc == BATON_UNSUPPORTED) {
        printf("1..0 # SKIP %s: %s\n", what, e.message);
        exit(0);
    }
}

static inline void store_prepare(srv *s, const char *kind, const char *tag) {
    snprintf(s->dir, sizeof s->dir, "%s/baton-http-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(s->dir)) {
        perror("mkdtemp");
        exit(1);
    }
    /* removed at exit, whatever path the test takes */
    snprintf(tmp_dir_to_remove, sizeof tmp_dir_to_remove, "%s", s->dir);
    atexit(remove_tmp_dir);
    snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
    if (strcmp(kind, "memory") == 0) {
        snprintf(s->db, sizeof s->db, "memory:");
    } else if (strcmp(kind, "sqlite") == 0) {
        if (!BATON_HAVE_SQLITE)
            store_missing("this build has no SQLite store");
        snprintf(s->db, sizeof s->db, "sqlite:%s/probe.db", s->dir);
        require_backend(s->db, "SQLite store");
        snprintf(s->db, sizeof s->db, "sqlite:%s/baton.db", s->dir);
    } else if (strcmp(kind, "postgres") == 0) {
#if BATON_HAVE_POSTGRES
        require_backend("postgresql:///baton_probe?host=/nonexistent-baton-probe",
                        "PostgreSQL store");
        const char *url = getenv("BATON_TEST_PG");
        if (!url || !*url)
            store_missing("no PostgreSQL server: BATON_TEST_PG is not set");
        PGconn *c = PQconnectdb(url);
        if (PQstatus(c) != CONNECTION_OK) {
            printf("# %s", PQerrorMessage(c));
            PQfinish(c);
            store_missing("the PostgreSQL server in BATON_TEST_PG does not answer");
        }
        snprintf(s->pg_name, sizeof s->pg_name, "baton_http_%s_%d", tag, (int)getpid());
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", s->pg_name);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            printf("# %s", PQerrorMessage(c));
            PQclear(r);
            PQfinish(c);
            store_missing("cannot create a test database");
        }
        PQclear(r);
        PQfinish(c);
        snprintf(s->pg_admin, sizeof s->pg_admin, "%s", url);
        /* the same URL with our database: replace the path part (".../NAME?..." or "/NAME") */
        const char *scheme = strstr(url, "://");
        const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
        if (!path) {
            snprintf(s->db, sizeof s->db, "%s/%s", url, s->pg_name);
        } else {
            const char *q = strchr(path, '?');
            snprintf(s->db, sizeof s->db, "%.*s/%s%s", (int)(path - url), url, s->pg_name,
                     q ? q : "");
        }
#else
        store_missing("this build has no PostgreSQL store");
#endif
    } else {
        fprintf(stderr, "unknown store kind %s\n", kind);
        exit(2);
    }
    (void)tag;
}

static inline void store_cleanup(srv *s) {
#if BATON_HAVE_POSTGRES
    if (s->pg_name[0]) {
        PGconn *c = PQconnectdb(s->pg_admin);
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", s->pg_name);
        PQclear(PQexec(c, sql));
        PQfinish(c);
    }
#endif
    remove_tmp_dir();
}

/* ---- the server process -------------------------------------------------------------------- */

static inline const char *baton_exe(void) {
    const char *e = getenv("BATON_EXE");
    return e ? e : "baton";
}

/* Start `baton serve` with extra arguments (NULL-terminated); false if it did not come up. */
static inline bool srv_start(srv *s, const char *const *extra) {
    int out[2];
    if (pipe(out))
        return false;
    const char *argv[48];
    int n = 0;
    argv[n++] = baton_exe();
    argv[n++] = "serve";
    argv[n++] = "--db";
    argv[n++] = s->db;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    for (int i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        FILE *log = fopen(s->log, "a");
        if (log)
            dup2(fileno(log), 2);
        execv(argv[0], (char *const *)argv);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    s->pid = pid;
    /* the first line says where it listens */
    char line[512];
    size_t len = 0;
    while (len < sizeof line - 1) {
        ssize_t k = read(out[0], line + len, 1);
        if (k <= 0)
            break;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(out[0]);
    const char *p = strstr(line, "127.0.0.1:");
    s->port = p ? atoi(p + 10) : 0;
    if (!s->port) {
        fprintf(stderr, "# server did not start: '%s' (log in %s)\n", line, s->log);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        s->pid = 0;
        return false;
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    return true;
}

/* Send `sig` and wait (bounded); returns the exit status, or -1 (then it is killed). */
static inline int srv_signal_wait(srv *s, int sig, int timeout_ms) {
    if (!s->pid)
        return -1;
    kill(s->pid, sig);
    int status = 0;
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        pid_t w = waitpid(s->pid, &status, WNOHANG);
        if (w == s->pid) {
            s->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    return -1;
}

static inline int srv_stop(srv *s) {
    return srv_signal_wait(s, SIGTERM, 15000);
}

/* The server's log: its first lines, then every warning, error and 5xx. */
static inline void srv_dump_log(const srv *s) {
    FILE *f = fopen(s->log, "r");
    if (!f)
        return;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (n++ < 40 || strstr(line, "level=warn") || strstr(line, "level=error") ||
            strstr(line, "status=5") || strstr(line, "Sanitizer") || strstr(line, "runtime error"))
            printf("# log: %s", line);
    fclose(f);
}

/* ---- requests ----------------------------------------------------------------------------------
 */

typedef struct sink {
    resp *r;
    size_t cap;
} sink;

static inline size_t on_body(char *p, size_t size, size_t n, void *cookie) {
    sink *k = cookie;
    size_t add = size * n;
    if (k->r->len + add + 1 > k->cap) {
        size_t cap = (k->r->len + add + 1) * 2;
        char *b = realloc(k->r->body, cap);
        if (!b)
            return 0;
        k->r->body = b;
        k->cap = cap;
    }
    memcpy(k->r->body + k->r->len, p, add);
    k->r->len += add;
    k->r->body[k->r->len] = '\0';
    return add;
}

static inline void copy_header(char *dst, size_t cap, const char *line, size_t n,
                               const char *name) {
    size_t nl = strlen(name);
    if (n > nl && strncasecmp(line, name, nl) == 0) {
        const char *v = line + nl;
        while (*v == ' ')
            v++;
        size_t vl = n - (size_t)(v - line);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(dst, cap, "%.*s", (int)vl, v);
    }
}

static inline size_t on_header(char *p, size_t size, size_t n, void *cookie) {
    resp *r = cookie;
    copy_header(r->request_id, sizeof r->request_id, p, size * n, "X-Request-Id:");
    copy_header(r->content_type, sizeof r->content_type, p, size * n, "Content-Type:");
    copy_header(r->allow, sizeof r->allow, p, size * n, "Allow:");
    return size * n;
}

static inline void resp_free(resp *r) {
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

/*
 * One request. `path` is sent as is (no normalisation: path tricks reach the
 * server). `ctype` NULL = no Content-Type; headers: extra "Name: value" lines.
 */
static inline long http_full(const srv *s, const char *method, const char *path, const char *ctype,
                             const char *body, size_t len, const char *const *headers, resp *out) {
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    char url[8400];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    struct curl_slist *h = NULL;
    char ct[160];
    if (ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        h = curl_slist_append(h, ct);
    } else {
        h = curl_slist_append(h, "Content-Type:");
    }
    h = curl_slist_append(h, "Expect:");
    for (int i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    sink k = {out, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        out->status = -(long)rc;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (out->body)
        out->json = cJSON_Parse(out->body);
    return out->status;
}

static inline long http(const srv *s, const char *method, const char *path, const char *json,
                        resp *out) {
    return http_full(s, method, path, json ? "application/json" : NULL, json,
                     json ? strlen(json) : 0, NULL, out);
}

/* JSON helpers */
static inline const cJSON *jget(const cJSON *o, const char *path) {
    /* "a.b.0.c": object keys and array indices */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    char *save = NULL; /* strtok_r: clients run on several threads */
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (cJSON_IsArray(cur) && tok[0] >= '0' && tok[0] <= '9')
            cur = cJSON_GetArrayItem(cur, atoi(tok));
        else
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    }
    return cur;
}

static inline const char *jstr(const cJSON *o, const char *path) {
    const cJSON *v = jget(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline double jnum(const cJSON *o, const char *path) {
    const cJSON *v = jget(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static inline int jlen(const cJSON *o, const char *path) {
    const cJSON *v = jget(o, path);
    return cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
}

/*
 * A listing whose ids are "<instance>-<key>", read `limit` at a time from
 * the start by following nextCursor: how many items in all and on the
 * first page, whether every item's `field` is `want` (when want is
 * non-NULL), whether the ids grew strictly across pages, and whether the
 * last page (and only it) had no cursor.
 */
typedef struct paged {
    long items, first;
    bool field_ok, ordered, ended;
} paged;

static inline paged page_all(const srv *s, const char *path, int limit, const char *field,
                             const char *want) {
    paged p = {0, -1, true, true, false};
    long long last_i = -1, last_k = -1;
    char url[512], cursor[64] = "";
    for (int guard = 0; guard < 200 && !p.ended; guard++) {
        snprintf(url, sizeof url, "%s%slimit=%d%s%s", path, strchr(path, '?') ? "&" : "?", limit,
                 cursor[0] ? "&cursor=" : "", cursor);
        resp r;
        http(s, "GET", url, NULL, &r);
        const cJSON *it;
        int n = 0;
        cJSON_ArrayForEach(it, jget(r.json, "items")) {
            long long i = -1, k = -1;
            const char *id = jstr(it, "id");
            if (!id || sscanf(id, "%lld-%lld", &i, &k) != 2 || i < last_i ||
                (i == last_i && k <= last_k))
                p.ordered = false;
            last_i = i;
            last_k = k;
            const char *v = want ? jstr(it, field) : NULL;
            if (want && (!v || strcmp(v, want) != 0))
                p.field_ok = false;
            n++;
        }
        if (p.first < 0)
            p.first = n;
        p.items += n;
        const char *next = jstr(r.json, "nextCursor");
        if (r.status != 200 || n > limit || (next && n != limit)) {
            p.ordered = false; /* a short page with a cursor, or an error: not a listing */
            p.ended = true;
        } else if (next) {
            snprintf(cursor, sizeof cursor, "%s", next);
        } else {
            p.ended = true;
        }
        resp_free(&r);
    }
    return p;
}

static inline char *read_text(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        if (len_out)
            *len_out = (size_t)n;
    }
    return b;
}

/* A file under the source tree ($BATON_SOURCE_ROOT). */
static inline char *source_file(const char *rel, size_t *len_out) {
    char p[1024];
    const char *root = getenv("BATON_SOURCE_ROOT");
    snprintf(p, sizeof p, "%s/%s", root ? root : ".", rel);
    return read_text(p, len_out);
}

static inline void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

#endif
