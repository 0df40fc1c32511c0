/*
 * test_faults.c - fault injection on the durable stores (`test_faults
 * commit-sqlite|commit-postgres|restart-postgres|full-sqlite`). A workload
 * (start an instance of start -> 3 jobs -> end, complete its jobs) runs
 * while the store fails, and records what was acknowledged. Each fault must
 * give a clear error (naming the store and the cause), lose nothing that
 * was acknowledged, and the engine must carry on when the store is back:
 *
 *   commit-*          the Nth commit fails (the store's fault hook), many times
 *   restart-postgres  a private PostgreSQL server is stopped (immediate, as a
 *                     crash) and started again while the workload runs
 *   full-sqlite       the database sits on a small tmpfs that a file fills up; space
 *                     is freed and work goes on. Without the rights to mount
 *                     (not root), the file size limit (RLIMIT_FSIZE) makes the
 *                     writes fail instead, and the test says so (BATON_FAULTS_NO_MOUNT=1
 *                     takes that path on purpose).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "runtime/engine.h"
#include "tests/persistence/helpers.h"
#include "tests/tap.h"

#define DEFS                                                                                       \
    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "                          \
    "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"d\">"
#define TASK(id)                                                                                   \
    "<serviceTask id=\"" id "\"><extensionElements><zeebe:taskDefinition "                         \
    "type=\"work\"/></extensionElements></serviceTask>"
#define FLOW(id, a, b) "<sequenceFlow id=\"" id "\" sourceRef=\"" a "\" targetRef=\"" b "\"/>"

static const char three_xml[] =
    DEFS "<process id=\"three\" isExecutable=\"true\"><startEvent id=\"s\"/>" TASK("a") TASK("b")
        TASK("c") "<endEvent id=\"e\"/>" FLOW("f1", "s", "a") FLOW("f2", "a", "b")
            FLOW("f3", "b", "c") FLOW("f4", "c", "e") "</process></definitions>";

static char url[1200];

/* ---- the workload and its acknowledgements ------------------------------------------------ */

#define MAX_ACK 20000

typedef struct acks {
    int64_t started[MAX_ACK]; /* acknowledged starts */
    atomic_int n_started;
    int64_t done_inst[MAX_ACK], done_key[MAX_ACK]; /* acknowledged job completions */
    int n_done;
    atomic_int errors; /* commands that failed */
    int clear_errors;  /* ... with BATON_STORE and a message naming the store */
    char first_error[512];
    int ok_after; /* commands that succeeded after the last failure */
} acks;

typedef struct jobs {
    int64_t inst[32], key[32];
    int n;
} jobs;

static int take_job(void *c, const void *row) {
    jobs *j = c;
    const baton_job_row *r = row;
    if (j->n < 32) {
        j->inst[j->n] = r->instance;
        j->key[j->n] = r->key;
        j->n++;
    }
    return 0;
}

static baton_engine *eng;

static baton_status activate_fn(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->job_activate(s, "work", 8, "fault-worker", baton_engine_now(eng), 200, take_job,
                                cookie, err);
}

static const char *store_word(void) {
    return strncmp(url, "postgres", 8) == 0 ? "postgresql store" : "sqlite store";
}

static void note(acks *a, baton_status st, const baton_error *err) {
    if (st == BATON_OK) {
        a->ok_after++;
        return;
    }
    if (st == BATON_NOTFOUND || st == BATON_CONFLICT)
        return; /* a retried completion whose first try was in doubt and did commit */
    a->errors++;
    a->ok_after = 0;
    if (st == BATON_STORE && strstr(err->message, store_word()))
        a->clear_errors++;
    if (!a->first_error[0])
        snprintf(a->first_error, sizeof a->first_error, "%s", err->message);
}

/* One round: start an instance, complete the jobs there are. */
static void round_once(acks *a, int n) {
    char bk[32];
    snprintf(bk, sizeof bk, "f-%d", n);
    int64_t id = 0;
    baton_error err;
    baton_error_clear(&err);
    baton_status st = baton_engine_start(eng, "three", 0, NULL, bk, &id, &err);
    note(a, st, &err);
    if (!st && a->n_started < MAX_ACK) {
        a->started[a->n_started] = id;
        atomic_fetch_add(&a->n_started, 1);
    }
    jobs j = {.n = 0};
    baton_error_clear(&err);
    st = baton_engine_query(eng, activate_fn, &j, &err);
    note(a, st, &err);
    for (int i = 0; i < j.n; i++) {
        baton_input in = {0};
        in.kind = BATON_IN_COMPLETE;
        in.key = j.key[i];
        baton_error_clear(&err);
        st = baton_engine_apply(eng, j.inst[i], &in, &err);
        note(a, st, &err);
        if (!st && a->n_done < MAX_ACK) {
            a->done_inst[a->n_done] = j.inst[i];
            a->done_key[a->n_done] = j.key[i];
            a->n_done++;
        }
    }
}

/* Everything acknowledged is in the store, seen by a freshly opened engine. */
typedef struct trig {
    int64_t key;
    bool found;
} trig;

static int find_trigger(void *c, const char *json) {
    trig *t = c;
    cJSON *r = cJSON_Parse(json);
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind"));
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(r, "key");
    if (kind && strcmp(kind, "wait_triggered") == 0 && cJSON_IsNumber(key) &&
        (int64_t)key->valuedouble == t->key)
        t->found = true;
    cJSON_Delete(r);
    return 0;
}

static void check_acks(const acks *a) {
    baton_engine *e = NULL;
    baton_error err;
    baton_error_clear(&err);
    baton_engine_opts o = {.store_url = url, .sessions = 1};
    if (baton_engine_open(&o, &e, &err)) {
        TAP_OK(0, "reopen to check: %s", err.message);
        return;
    }
    int lost_starts = 0, lost_done = 0;
    for (int i = 0; i < a->n_started; i++) {
        baton_instance_row row;
        if (baton_engine_instance_row(e, a->started[i], &row, NULL))
            lost_starts++;
    }
    for (int i = 0; i < a->n_done; i++) {
        trig t = {a->done_key[i], false};
        baton_engine_history(e, a->done_inst[i], 0, 0, find_trigger, &t, NULL);
        lost_done += !t.found;
    }
    TAP_EQ_INT(lost_starts, 0, "all %d acknowledged starts are in the store", (int)a->n_started);
    TAP_EQ_INT(lost_done, 0, "all %d acknowledged job completions are in the store", a->n_done);
    baton_engine_close(e);
}

static bool open_engine(unsigned sessions) {
    baton_error err;
    baton_error_clear(&err);
    baton_engine_opts o = {.store_url = url, .sessions = sessions};
    if (baton_engine_open(&o, &eng, &err)) {
        printf("Bail out! open: %s\n", err.message);
        return false;
    }
    baton_error_clear(&err);
    if (baton_engine_deploy(eng, "three.bpmn", three_xml, sizeof three_xml - 1, NULL, NULL, &err)) {
        printf("Bail out! deploy: %s\n", err.message);
        return false;
    }
    return true;
}

/* ---- failing commits ---------------------------------------------------------------------- */

static acks A;

static void fault_commits(void) {
    if (!open_engine(2))
        return;
    srand((unsigned)time(NULL));
    for (int n = 0; n < 60; n++) {
        if (n % 3 == 1)
            baton_store_fault_commit(1 + (uint32_t)(rand() % 4));
        round_once(&A, n);
    }
    baton_store_fault_commit(0);
    for (int n = 60; n < 70; n++)
        round_once(&A, n);
    printf("# %d failures, e.g.: %s\n", (int)A.errors, A.first_error);
    TAP_OK(A.errors >= 10, "commits failed (%d)", (int)A.errors);
    TAP_EQ_INT(A.clear_errors, A.errors, "each failure: BATON_STORE naming the store");
    TAP_CONTAINS(A.first_error, "injected", "and the cause");
    TAP_OK(A.ok_after >= 10, "the engine carried on after the failures (%d commands)", A.ok_after);
    baton_engine_close(eng);
    check_acks(&A);
}

/* ---- PostgreSQL restarted under load ----------------------------------------------------------
 */

static atomic_int running;

static void *load(void *arg) {
    (void)arg;
    for (int n = 0; atomic_load(&running); n++) {
        round_once(&A, n);
        usleep(2000);
    }
    return NULL;
}

static int pg_script(const char *verb, const char *dir) {
    char cmd[1024];
    const char *root = getenv("BATON_SOURCE_ROOT");
    snprintf(cmd, sizeof cmd, "sh '%s/scripts/pg-test.sh' %s '%s' >/dev/null 2>&1",
             root ? root : ".", verb, dir);
    return system(cmd);
}

static void fault_restart(const char *dir) {
    if (!open_engine(2))
        return;
    atomic_store(&running, 1);
    pthread_t t;
    pthread_create(&t, NULL, load, NULL);
    usleep(500 * 1000);
    int before = A.n_started;
    TAP_EQ_INT(pg_script("kill", dir), 0, "PostgreSQL stopped (immediate: a crash)");
    usleep(700 * 1000);
    int during_errors = A.errors;
    TAP_EQ_INT(pg_script("resume", dir), 0, "PostgreSQL started again");
    usleep(1500 * 1000);
    atomic_store(&running, 0);
    pthread_join(t, NULL);
    printf("# %d started before the stop, %d in all; %d failures, e.g.: %s\n", before,
           (int)A.n_started, (int)A.errors, A.first_error);
    TAP_OK(during_errors > 0, "commands failed while the server was down (%d)", during_errors);
    TAP_EQ_INT(A.clear_errors, A.errors, "each failure: BATON_STORE naming the store");
    TAP_OK(strstr(A.first_error, "connection") || strstr(A.first_error, "connect") ||
               strstr(A.first_error, "terminat") || strstr(A.first_error, "shut"),
           "the cause is the connection: %s", A.first_error);
    TAP_OK(A.ok_after >= 10, "the engine carried on once the server was back (%d commands)",
           A.ok_after);
    TAP_OK(A.n_started > before, "instances were started after the restart");
    baton_engine_close(eng);
    check_acks(&A);
}

/* ---- a full disk -------------------------------------------------------------------------------
 */

static int fill(const char *path, size_t max) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    static char block[65536];
    size_t n = 0;
    while (n < max && fwrite(block, 1, sizeof block, f) == sizeof block)
        n += sizeof block;
    fclose(f);
    return 0;
}

static void fault_full(const char *dir) {
    char mnt[600], filler[700];
    snprintf(mnt, sizeof mnt, "%s/small", dir);
    mkdir(mnt, 0700);
    bool forced = getenv("BATON_FAULTS_NO_MOUNT") != NULL;
    bool mounted = !forced && mount("tmpfs", mnt, "tmpfs", 0, "size=32m") == 0;
    struct rlimit old_limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    if (mounted)
        printf("# a 32 MB tmpfs at %s\n", mnt);
    else
        printf("# cannot mount a tmpfs here (%s): the file size limit makes writes fail "
               "instead\n",
               forced ? "BATON_FAULTS_NO_MOUNT" : strerror(errno));
    snprintf(url, sizeof url, "sqlite:%s/baton.db", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    if (!open_engine(1))
        goto out;
    int n = 0;
    for (; n < 20; n++)
        round_once(&A, n);
    TAP_EQ_INT(A.errors, 0, "work before the disk fills");
    if (mounted) {
        fill(filler, (size_t)64 << 20); /* takes what is left */
    } else {
        signal(SIGXFSZ, SIG_IGN);
        struct stat sb;
        char db[700];
        snprintf(db, sizeof db, "%s/baton.db", mnt);
        stat(db, &sb);
        struct rlimit lim = {(rlim_t)sb.st_size, old_limit.rlim_max};
        setrlimit(RLIMIT_FSIZE, &lim);
    }
    int limit = n + 400;
    for (; n < limit && A.errors < 20; n++)
        round_once(&A, n);
    printf("# %d failures, e.g.: %s\n", (int)A.errors, A.first_error);
    TAP_OK(A.errors > 0, "commands fail once the disk is full (%d)", (int)A.errors);
    TAP_EQ_INT(A.clear_errors, A.errors, "each failure: BATON_STORE naming the store");
    TAP_OK(strstr(A.first_error, "full") || strstr(A.first_error, "I/O"), "the cause: %s",
           A.first_error);
    /* space comes back */
    if (mounted && remove(filler) != 0)
        printf("# removing the filler: %s\n", strerror(errno));
    else
        setrlimit(RLIMIT_FSIZE, &old_limit);
    int errors_before = A.errors;
    A.first_error[0] = '\0';
    for (int k = 0; k < 20; k++, n++)
        round_once(&A, n);
    TAP_OK(A.ok_after >= 20, "the engine carried on once there was space (%d commands)",
           A.ok_after);
    if (A.errors != errors_before) {
        printf("# after: %s\n", A.first_error);
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "df -k '%s'; ls -la '%s'", mnt, mnt);
        if (system(cmd)) {
        }
    }
    baton_engine_close(eng);
    check_acks(&A);
out:
    if (mounted)
        umount2(mnt, MNT_DETACH);
}

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    const char *what = argc > 1 ? argv[1] : "commit-sqlite";
    test_db db;
    tap_case = what;
    if (strcmp(what, "commit-sqlite") == 0 || strcmp(what, "full-sqlite") == 0) {
        if (test_db_init(&db, "sqlite", "faults") < 0)
            return 1;
        snprintf(url, sizeof url, "%s", db.url);
        if (what[0] == 'c')
            fault_commits();
        else
            fault_full(db.dir);
        test_db_fini(&db);
    } else if (strcmp(what, "commit-postgres") == 0) {
        int ready = test_db_init(&db, "postgres", "faults");
        if (ready <= 0)
            return ready < 0 ? 1 : 0;
        snprintf(url, sizeof url, "%s", db.url);
        fault_commits();
        test_db_fini(&db);
    } else if (strcmp(what, "restart-postgres") == 0) {
        /* a private server: restarting the shared one would upset the other tests */
        if (!getenv("BATON_TEST_PG") && !in_ci()) {
            printf("1..0 # SKIP no PostgreSQL: set BATON_TEST_PG or run ./test.sh\n");
            return 0;
        }
        char cmd[1024];
        const char *root = getenv("BATON_SOURCE_ROOT");
        snprintf(cmd, sizeof cmd, "PG_TEST_PORT=54331 sh '%s/scripts/pg-test.sh' start",
                 root ? root : ".");
        FILE *p = popen(cmd, "r");
        char out[2048] = "";
        size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
        out[n] = '\0';
        if (!p || pclose(p) != 0) {
            printf("not ok 1 - cannot start a private PostgreSQL server\n1..1\n");
            return 1;
        }
        /* BATON_TEST_PG='...'; export ...  BATON_TEST_PG_DIR='...' */
        char *u = strstr(out, "BATON_TEST_PG='"), *d = strstr(out, "BATON_TEST_PG_DIR='");
        char dir[600] = "";
        if (u && d) {
            u += 15;
            snprintf(url, sizeof url, "%.*s", (int)(strchr(u, '\'') - u), u);
            d += 19;
            snprintf(dir, sizeof dir, "%.*s", (int)(strchr(d, '\'') - d), d);
        }
        printf("# private server %s\n", url);
        fault_restart(dir);
        pg_script("stop", dir);
    } else {
        printf("Bail out! unknown fault '%s'\n", what);
        return 1;
    }
    return tap_done();
}
