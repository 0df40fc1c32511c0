/*
 * c7.c - Camunda 7's worker API under /engine-rest: external tasks
 * (fetchAndLock with long polling, complete, failure, bpmnError,
 * extendLock, unlock), message correlation, start by key and multipart
 * deployment, with Camunda 7's request and response shapes, so that its
 * clients (camunda-external-task-client-js, the Java client) work
 * unchanged. Everything maps onto the same engine functions as /v1 (see
 * jobs.c); what does not map is refused with 400, never ignored.
 *
 * Variables travel typed: {"name": {"value": .., "type": "String",
 * "valueInfo": {..}}}. In, String, Boolean, Integer, Short, Long, Double,
 * Date (kept as its text), Null, Json (the value is JSON text) and Object
 * with serializationDataFormat application/json become plain JSON values;
 * a missing type takes the value as it is. Out, a string is String, a
 * boolean Boolean, an integral number Integer (32 bits) or Long, another
 * number Double, null Null, an object or array Json.
 *
 * Errors answer Camunda 7's body {"type", "message", "code"} with its
 * statuses: 404 for a task that is gone, 400 for a lock held by another
 * worker (Baton's 409) and for bad input, 500 for the rest.
 *
 * Ids: an external task is "<instance>-<key>" (as /v1's job ids), a
 * process instance its decimal id, a process definition "<key>:<version>".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_int.h"
#include "api/body.h"
#include "common/alloc.h"
#include "persistence/store.h"

#define C7_MAX_WAIT_MS 1800000
#define C7_MAX_TOPICS  32
#define C7_MAX_TASKS   1000
#define C7_MAX_LOCK_MS (7LL * 86400000)
#define C7_MAX_MATCHES 1000

/* ---- errors and dates ------------------------------------------------------------------- */

/* Camunda 7's error body for an error already answered in Baton's shape. */
static void c7_finish(api_req *r) {
    if (r->parked || r->status < 400 || !r->out)
        return;
    cJSON *b = cJSON_ParseWithLength(r->out, r->out_len);
    const char *code =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "error"), "code"));
    const char *msg =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "error"), "message"));
    if (!code) {
        cJSON_Delete(b);
        return; /* already Camunda 7's shape */
    }
    int status = r->status;
    const char *type = "RestException";
    if (status == 409) {
        status = 400;
        type = "BadUserRequestException";
    } else if (status == 400 || status == 415 || status == 413 || status == 422) {
        type = "InvalidRequestException";
    } else if (status >= 500) {
        type = "ProcessEngineException";
        status = status == 503 ? 503 : 500;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "message", msg ? msg : "error");
    cJSON_AddNullToObject(o, "code");
    cJSON_Delete(b);
    api_reply_json(r, status, o);
}

/* A Camunda 7 error made here (status and exception type as Camunda 7 names them). */
BATON_PRINTF(4, 5)
static void c7_error(api_req *r, int status, const char *type, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->err_code = status == 404 ? BATON_NOTFOUND : BATON_INVALID;
    snprintf(r->err_msg, sizeof r->err_msg, "%.159s", msg);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddNullToObject(o, "code");
    api_reply_json(r, status, o);
}

/* "2026-01-05T09:00:00.123+0000", Camunda 7's date format. */
static const char *c7_time(int64_t ms, char buf[32]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (tm.tm_year < -1900 || tm.tm_year > 8099)
        tm.tm_year = 70;
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03u+0000", (unsigned)((ms % 1000 + 1000) % 1000));
    return buf;
}

static void no_content(api_req *r) {
    api_reply_raw(r, 204, NULL, "", 0);
}

/* ---- typed variables ------------------------------------------------------------------- */

/* Typed variables in (NULL/absent: none); *out is a plain object owned by the caller. */
static bool vars_in(api_req *r, const cJSON *body, const char *field, cJSON **out) {
    const cJSON *typed = cJSON_GetObjectItemCaseSensitive(body, field);
    *out = NULL;
    if (!typed || cJSON_IsNull(typed))
        return true;
    if (!cJSON_IsObject(typed)) {
        c7_error(r, 400, "InvalidRequestException", "%s must be an object of typed variables",
                 field);
        return false;
    }
    cJSON *o = cJSON_CreateObject();
    const cJSON *v;
    cJSON_ArrayForEach(v, typed) {
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(v, "value");
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "type"));
        cJSON *plain = NULL;
        const char *why = NULL;
        if (!cJSON_IsObject(v)) {
            why = "must be {\"value\": ..., \"type\": ...}";
        } else if (!type || !value || cJSON_IsNull(value)) {
            plain = value ? cJSON_Duplicate(value, 1) : cJSON_CreateNull();
        } else if (strcasecmp(type, "String") == 0 || strcasecmp(type, "Date") == 0) {
            if (cJSON_IsString(value))
                plain = cJSON_Duplicate(value, 1);
            else
                why = "a String (or Date) value must be a string";
        } else if (strcasecmp(type, "Boolean") == 0) {
            if (cJSON_IsBool(value))
                plain = cJSON_Duplicate(value, 1);
            else if (cJSON_IsString(value) &&
                     (!strcmp(value->valuestring, "true") || !strcmp(value->valuestring, "false")))
                plain = cJSON_CreateBool(!strcmp(value->valuestring, "true"));
            else
                why = "a Boolean value must be true or false";
        } else if (strcasecmp(type, "Integer") == 0 || strcasecmp(type, "Long") == 0 ||
                   strcasecmp(type, "Short") == 0 || strcasecmp(type, "Double") == 0) {
            double d = cJSON_IsNumber(value)   ? value->valuedouble
                       : cJSON_IsString(value) ? strtod(value->valuestring, NULL)
                                               : 0;
            bool integral = strcasecmp(type, "Double") != 0;
            if (!cJSON_IsNumber(value) && !cJSON_IsString(value))
                why = "a number value must be a number";
            else if (integral && d != (double)(int64_t)d)
                why = "an Integer, Short or Long value must be a whole number";
            else
                plain = cJSON_CreateNumber(d);
        } else if (strcasecmp(type, "Json") == 0 || strcasecmp(type, "Object") == 0) {
            const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(v, "valueInfo"), "serializationDataFormat"));
            if (strcasecmp(type, "Object") == 0 && fmt && strcmp(fmt, "application/json") != 0)
                why = "Object values must be serialized as application/json";
            else if (cJSON_IsString(value))
                plain = cJSON_Parse(value->valuestring);
            else
                plain = cJSON_Duplicate(value, 1);
            if (!why && !plain)
                why = "the value is not JSON text";
        } else if (strcasecmp(type, "Null") == 0) {
            plain = cJSON_CreateNull();
        } else {
            why = "this variable type is not supported (String, Boolean, Integer, Short, Long, "
                  "Double, Date, Json, Object as application/json, Null)";
        }
        if (why) {
            cJSON_Delete(o);
            c7_error(r, 400, "InvalidRequestException", "variable '%s': %s", v->string, why);
            return false;
        }
        cJSON_AddItemToObject(o, v->string, plain);
    }
    *out = o;
    return true;
}

static cJSON *typed_value(const cJSON *v) {
    cJSON *t = cJSON_CreateObject();
    const char *type = "Json";
    if (cJSON_IsString(v)) {
        type = "String";
        cJSON_AddStringToObject(t, "value", v->valuestring);
    } else if (cJSON_IsBool(v)) {
        type = "Boolean";
        cJSON_AddBoolToObject(t, "value", cJSON_IsTrue(v));
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        bool whole = d == (double)(int64_t)d && d > -9007199254740992.0 && d < 9007199254740992.0;
        type = !whole ? "Double" : (d >= -2147483648.0 && d <= 2147483647.0) ? "Integer" : "Long";
        cJSON_AddNumberToObject(t, "value", d);
    } else if (cJSON_IsNull(v) || !v) {
        type = "Null";
        cJSON_AddNullToObject(t, "value");
    } else {
        char *text = cJSON_PrintUnformatted(v);
        cJSON_AddStringToObject(t, "value", text ? text : "null");
        cJSON_free(text);
    }
    cJSON_AddStringToObject(t, "type", type);
    cJSON_AddObjectToObject(t, "valueInfo");
    return t;
}

static cJSON *vars_out(const cJSON *plain) {
    cJSON *o = cJSON_CreateObject();
    const cJSON *v;
    cJSON_ArrayForEach(v, plain) {
        cJSON_AddItemToObject(o, v->string, typed_value(v));
    }
    return o;
}

/* A field Baton cannot honour: refuse it unless it is absent, null, false or empty. */
static bool unsupported(api_req *r, const cJSON *body, const char *field) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, field);
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v) ||
        ((cJSON_IsArray(v) || cJSON_IsObject(v)) && !v->child))
        return false;
    c7_error(r, 400, "InvalidRequestException", "'%s' is not supported by this server", field);
    return true;
}

static bool int_field(api_req *r, const cJSON *o, const char *key, bool required, int64_t min,
                      int64_t max, int64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (!required)
            return true;
        c7_error(r, 400, "InvalidRequestException", "%s is required", key);
        return false;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max) {
        c7_error(r, 400, "InvalidRequestException", "%s must be a number from %lld to %lld", key,
                 (long long)min, (long long)max);
        return false;
    }
    *out = (int64_t)v->valuedouble;
    return true;
}

static bool str_field(api_req *r, const cJSON *o, const char *key, bool required,
                      const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        if (!required)
            return true;
        c7_error(r, 400, "InvalidRequestException", "%s is required", key);
        return false;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) > 4000) {
        c7_error(r, 400, "InvalidRequestException", "%s must be a string", key);
        return false;
    }
    *out = v->valuestring;
    return true;
}

static bool body_object(api_req *r, bool optional, cJSON **out) {
    if (!api_json_body(r, optional, out))
        return false;
    if (*out && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        c7_error(r, 400, "InvalidRequestException", "the body must be a JSON object");
        return false;
    }
    return true;
}

/* ---- external tasks -------------------------------------------------------------------- */

static cJSON *c7_task(cJSON *j) {
    cJSON *o = cJSON_CreateObject();
    char b[32], s[96];
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"));
    const char *element = cJSON_GetStringValue(cJSON_GetObjectItem(j, "elementId"));
    const char *pid = cJSON_GetStringValue(cJSON_GetObjectItem(j, "processId"));
    double version = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "processVersion"));
    double inst = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "instance"));
    double key = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "key"));
    cJSON_AddStringToObject(o, "activityId", element ? element : "");
    snprintf(s, sizeof s, "%s:%.0f", element ? element : "", key);
    cJSON_AddStringToObject(o, "activityInstanceId", s);
    cJSON_AddNullToObject(o, "errorMessage");
    cJSON_AddNullToObject(o, "errorDetails");
    cJSON_AddStringToObject(o, "executionId", id ? id : "");
    cJSON_AddStringToObject(o, "id", id ? id : "");
    cJSON_AddStringToObject(
        o, "lockExpirationTime",
        c7_time((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "deadline")), b));
    snprintf(s, sizeof s, "%.60s:%.0f", pid ? pid : "", version);
    cJSON_AddStringToObject(o, "processDefinitionId", s);
    cJSON_AddStringToObject(o, "processDefinitionKey", pid ? pid : "");
    cJSON_AddNullToObject(o, "processDefinitionVersionTag");
    snprintf(s, sizeof s, "%.0f", inst);
    cJSON_AddStringToObject(o, "processInstanceId", s);
    cJSON_AddNumberToObject(o, "retries", cJSON_GetNumberValue(cJSON_GetObjectItem(j, "retries")));
    cJSON_AddBoolToObject(o, "suspended", false);
    api_add_str(o, "workerId", cJSON_GetStringValue(cJSON_GetObjectItem(j, "worker")));
    api_add_str(o, "topicName", cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")));
    cJSON_AddNullToObject(o, "tenantId");
    cJSON_AddNumberToObject(o, "priority", 0);
    api_add_str(o, "businessKey", cJSON_GetStringValue(cJSON_GetObjectItem(j, "businessKey")));
    cJSON_AddItemToObject(o, "variables", vars_out(cJSON_GetObjectItem(j, "variables")));
    cJSON *ext = cJSON_DetachItemFromObjectCaseSensitive(j, "headers");
    cJSON_AddItemToObject(o, "extensionProperties", ext ? ext : cJSON_CreateObject());
    return o;
}

void api_h_c7_fetch(api_req *r) {
    static const char *const topic_unsupported[] = {"businessKey",
                                                    "processDefinitionId",
                                                    "processDefinitionIdIn",
                                                    "processDefinitionKey",
                                                    "processDefinitionKeyIn",
                                                    "processDefinitionVersionTag",
                                                    "processVariables",
                                                    "tenantIdIn",
                                                    "localVariables",
                                                    NULL};
    cJSON *body = NULL;
    if (!body_object(r, false, &body))
        goto done;
    const char *worker = NULL;
    int64_t max = 0, wait_ms = 0;
    if (!str_field(r, body, "workerId", true, &worker) ||
        !int_field(r, body, "maxTasks", true, 0, C7_MAX_TASKS, &max) ||
        !int_field(r, body, "asyncResponseTimeout", false, 0, C7_MAX_WAIT_MS, &wait_ms))
        goto done;
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(body, "topics");
    int n = cJSON_GetArraySize(topics);
    if ((topics && !cJSON_IsNull(topics) && !cJSON_IsArray(topics)) || n > C7_MAX_TOPICS) {
        c7_error(r, 400, "InvalidRequestException", "topics must be an array of at most %d",
                 C7_MAX_TOPICS);
        goto done;
    }
    api_topic t[C7_MAX_TOPICS];
    int k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, topics) {
        const char *name = NULL;
        int64_t lock = 0;
        if (!cJSON_IsObject(x) || !str_field(r, x, "topicName", true, &name) ||
            !int_field(r, x, "lockDuration", true, 1, C7_MAX_LOCK_MS, &lock)) {
            if (!r->status)
                c7_error(r, 400, "InvalidRequestException", "each topic is an object");
            goto done;
        }
        for (const char *const *u = topic_unsupported; *u; u++)
            if (unsupported(r, x, *u))
                goto done;
        const cJSON *vars = cJSON_GetObjectItemCaseSensitive(x, "variables");
        const char **names = NULL;
        int nv = 0;
        if (cJSON_IsArray(vars)) {
            nv = cJSON_GetArraySize(vars);
            names = baton_arena_alloc(r->arena, ((size_t)nv + 1) * sizeof *names);
            if (!names) {
                api_reply_errorf(r, BATON_NOMEM, "out of memory");
                goto done;
            }
            int i = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, vars) {
                if (!cJSON_IsString(v)) {
                    c7_error(r, 400, "InvalidRequestException", "variables are names");
                    goto done;
                }
                names[i++] = v->valuestring;
            }
        } else if (vars && !cJSON_IsNull(vars)) {
            c7_error(r, 400, "InvalidRequestException", "variables must be an array of names");
            goto done;
        }
        t[k++] = (api_topic){name, lock, names, (uint32_t)nv};
    }
    cJSON *jobs = NULL;
    if (k == 0 || max == 0) {
        api_reply_json(r, 200, cJSON_CreateArray());
        goto done;
    }
    if (api_jobs_poll(r, worker, (uint32_t)max, t, (uint32_t)k, wait_ms, &jobs) != 1)
        goto done;
    cJSON *out = cJSON_CreateArray();
    cJSON *j;
    cJSON_ArrayForEach(j, jobs) {
        cJSON_AddItemToArray(out, c7_task(j));
    }
    cJSON_Delete(jobs);
    api_reply_json(r, 200, out);
done:
    cJSON_Delete(body);
    c7_finish(r);
}

static bool c7_task_id(api_req *r, int64_t *inst, int64_t *key) {
    if (api_parse_pair(r->cap[0], inst, key))
        return true;
    c7_error(r, 404, "RestException", "External task with id %s does not exist", r->cap[0]);
    return false;
}

static void reply_status(api_req *r, baton_status st, baton_error *e) {
    if (st)
        api_reply_error(r, st, e);
    else
        no_content(r);
}

void api_h_c7_complete(api_req *r) {
    int64_t inst, key;
    cJSON *body = NULL, *vars = NULL;
    const char *worker = NULL;
    if (c7_task_id(r, &inst, &key) && body_object(r, true, &body) &&
        str_field(r, body, "workerId", true, &worker) && !unsupported(r, body, "localVariables") &&
        vars_in(r, body, "variables", &vars)) {
        baton_input in = {0};
        in.kind = BATON_IN_COMPLETE;
        in.key = key;
        in.variables = vars;
        baton_error e;
        baton_error_clear(&e);
        reply_status(r, api_job_input(r, inst, &in, worker, &e), &e);
    }
    cJSON_Delete(vars);
    cJSON_Delete(body);
    c7_finish(r);
}

void api_h_c7_failure(api_req *r) {
    int64_t inst, key, retries = -1, timeout = -1;
    cJSON *body = NULL;
    const char *worker = NULL, *msg = NULL, *details = NULL;
    if (c7_task_id(r, &inst, &key) && body_object(r, true, &body) &&
        str_field(r, body, "workerId", true, &worker) &&
        str_field(r, body, "errorMessage", false, &msg) &&
        str_field(r, body, "errorDetails", false, &details) &&
        int_field(r, body, "retries", false, 0, 1000000, &retries) &&
        int_field(r, body, "retryTimeout", false, 0, C7_MAX_LOCK_MS, &timeout) &&
        !unsupported(r, body, "variables") && !unsupported(r, body, "localVariables")) {
        /* errorDetails (a stack trace) is not kept: the message is, on the incident */
        api_failure f = {worker, (int32_t)retries, msg, timeout, false, 0};
        api_failed out;
        baton_error e;
        baton_error_clear(&e);
        reply_status(r, api_job_fail(r, inst, key, &f, &out, &e), &e);
    }
    cJSON_Delete(body);
    c7_finish(r);
}

void api_h_c7_bpmn_error(api_req *r) {
    int64_t inst, key;
    cJSON *body = NULL, *vars = NULL;
    const char *worker = NULL, *code = NULL, *msg = NULL;
    if (c7_task_id(r, &inst, &key) && body_object(r, false, &body) &&
        str_field(r, body, "workerId", true, &worker) &&
        str_field(r, body, "errorCode", true, &code) &&
        str_field(r, body, "errorMessage", false, &msg) && vars_in(r, body, "variables", &vars)) {
        baton_input in = {0};
        in.kind = BATON_IN_THROW_ERROR;
        in.key = key;
        in.code = code;
        in.text = msg;
        in.variables = vars;
        baton_error e;
        baton_error_clear(&e);
        reply_status(r, api_job_input(r, inst, &in, worker, &e), &e);
    }
    cJSON_Delete(vars);
    cJSON_Delete(body);
    c7_finish(r);
}

void api_h_c7_extend_lock(api_req *r) {
    int64_t inst, key, ms = 0;
    cJSON *body = NULL;
    const char *worker = NULL;
    if (c7_task_id(r, &inst, &key) && body_object(r, false, &body) &&
        str_field(r, body, "workerId", true, &worker) &&
        int_field(r, body, "newDuration", true, 1, C7_MAX_LOCK_MS, &ms)) {
        baton_error e;
        baton_error_clear(&e);
        reply_status(r, api_job_lock(r, inst, key, worker, ms, &e), &e);
    }
    cJSON_Delete(body);
    c7_finish(r);
}

void api_h_c7_unlock(api_req *r) {
    int64_t inst, key;
    if (c7_task_id(r, &inst, &key)) {
        baton_error e;
        baton_error_clear(&e);
        reply_status(r, api_job_lock(r, inst, key, NULL, 0, &e), &e);
    }
    c7_finish(r);
}

/* ---- messages -------------------------------------------------------------------------- */

typedef struct sub_hits {
    int64_t *inst;
    uint32_t n, cap;
    bool nomem;
} sub_hits;

static int collect_hit(void *cookie, const void *row) {
    sub_hits *h = cookie;
    const baton_sub_row *s = row;
    for (uint32_t i = 0; i < h->n; i++)
        if (h->inst[i] == s->instance)
            return 0; /* one instance, one match */
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 16;
        int64_t *a = cap <= 100000 ? baton_realloc(h->inst, cap * sizeof *a) : NULL;
        if (!a) {
            h->nomem = true;
            return 1;
        }
        h->inst = a;
        h->cap = cap;
    }
    h->inst[h->n++] = s->instance;
    return 0;
}

typedef struct sub_query {
    const char *name;
    sub_hits hits;
} sub_query;

static baton_status find_subs(void *cookie, baton_store *s, baton_error *err) {
    sub_query *q = cookie;
    return s->ops->sub_find(s, 0, q->name, NULL, collect_hit, &q->hits, err);
}

/* Does the instance match the business key and the correlation keys (process variables)? */
static baton_status instance_matches(api_req *r, int64_t id, const char *bk, const cJSON *keys,
                                     bool *out) {
    baton_instance *in = NULL;
    baton_status st = baton_engine_load(r->srv->engine, id, &in, NULL);
    *out = false;
    if (st == BATON_NOTFOUND)
        return BATON_OK;
    if (st)
        return st;
    bool ok = baton_instance_state_of(in) == BATON_INSTANCE_ACTIVE;
    if (ok && bk) {
        const char *have = baton_instance_business_key(in);
        ok = have && strcmp(have, bk) == 0;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
        if (!ok)
            break;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(baton_instance_root_vars(in), k->string);
        ok = v && cJSON_Compare(v, k, true);
    }
    baton_instance_free(in);
    *out = ok;
    return BATON_OK;
}

/* A latest process definition whose root scope has a message start event named `name`. */
typedef struct msg_start {
    const char *name;
    char process[256];
    char event[256];
    int32_t version;
    uint32_t found;
    bool nomem;
    struct {
        char id[256];
        int32_t version;
        int64_t deployment;
    } * defs;
    uint32_t n, cap;
} msg_start;

static int collect_latest(void *cookie, const void *row) {
    msg_start *m = cookie;
    const baton_definition_row *d = row;
    for (uint32_t i = 0; i < m->n; i++)
        if (strcmp(m->defs[i].id, d->process_id) == 0) {
            if (d->version > m->defs[i].version) {
                m->defs[i].version = d->version;
                m->defs[i].deployment = d->deployment;
            }
            return 0;
        }
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 16;
        void *p = cap <= 100000 ? baton_realloc(m->defs, cap * sizeof *m->defs) : NULL;
        if (!p) {
            m->nomem = true;
            return 1;
        }
        m->defs = p;
        m->cap = cap;
    }
    snprintf(m->defs[m->n].id, sizeof m->defs[0].id, "%s", d->process_id);
    m->defs[m->n].version = d->version;
    m->defs[m->n].deployment = d->deployment;
    m->n++;
    return 0;
}

static baton_status list_defs(void *cookie, baton_store *s, baton_error *err) {
    return s->ops->definition_list(s, collect_latest, cookie, err);
}

static baton_status find_message_start(api_req *r, msg_start *m, baton_error *err) {
    baton_status st = baton_engine_query(r->srv->engine, list_defs, m, err);
    if (!st && m->nomem)
        st = baton_error_set(err, BATON_NOMEM, "out of memory");
    for (uint32_t i = 0; !st && i < m->n; i++) {
        baton_model *model = baton_engine_deployment_model(r->srv->engine, m->defs[i].deployment);
        if (!model) {
            int32_t v;
            if (baton_engine_definition(r->srv->engine, m->defs[i].id, m->defs[i].version, &model,
                                        &v, NULL))
                continue;
        }
        const baton_graph *g = baton_model_graph(model);
        baton_idx p = baton_model_find_process(model, m->defs[i].id);
        if (p == BATON_NONE)
            continue;
        const baton_scope *sc = &g->scopes[g->processes[p].root_scope];
        for (uint32_t k = 0; k < sc->n_starts; k++) {
            const baton_node *n = &g->nodes[sc->starts[k]];
            if (!n->n_events || n->events[0].kind != BATON_EVENT_MESSAGE ||
                n->events[0].ref == BATON_NONE)
                continue;
            const char *ev = g->messages[n->events[0].ref].name;
            if (!ev || strcmp(ev, m->name) != 0)
                continue;
            if (!m->found++) {
                snprintf(m->process, sizeof m->process, "%s", m->defs[i].id);
                snprintf(m->event, sizeof m->event, "%s", n->id);
                m->version = m->defs[i].version;
            }
        }
    }
    baton_free(m->defs);
    m->defs = NULL;
    return st;
}

static cJSON *c7_instance(api_req *r, int64_t id, const char *process, int32_t version,
                          const char *bk, bool ended) {
    cJSON *o = cJSON_CreateObject();
    char b[300];
    cJSON *links = cJSON_AddArrayToObject(o, "links");
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "method", "GET");
    snprintf(b, sizeof b, "/engine-rest/process-instance/%lld", (long long)id);
    cJSON_AddStringToObject(l, "href", b);
    cJSON_AddStringToObject(l, "rel", "self");
    cJSON_AddItemToArray(links, l);
    snprintf(b, sizeof b, "%lld", (long long)id);
    cJSON_AddStringToObject(o, "id", b);
    snprintf(b, sizeof b, "%.250s:%d", process ? process : "", (int)version);
    cJSON_AddStringToObject(o, "definitionId", b);
    api_add_str(o, "businessKey", bk);
    cJSON_AddNullToObject(o, "caseInstanceId");
    cJSON_AddBoolToObject(o, "ended", ended);
    cJSON_AddBoolToObject(o, "suspended", false);
    cJSON_AddNullToObject(o, "tenantId");
    (void)r;
    return o;
}

typedef struct row_info {
    int64_t id;
    char process[256];
    char bk[256];
    bool has_bk;
    int32_t version;
    bool ended;
} row_info;

static baton_status read_row(void *cookie, baton_store *s, baton_error *err) {
    row_info *ri = cookie;
    baton_instance_row row;
    baton_status st = s->ops->instance_get(s, ri->id, &row, NULL, err);
    if (st)
        return st;
    snprintf(ri->process, sizeof ri->process, "%s", row.process_id ? row.process_id : "");
    ri->has_bk = row.business_key != NULL;
    snprintf(ri->bk, sizeof ri->bk, "%s", row.business_key ? row.business_key : "");
    ri->version = row.version;
    ri->ended = row.state != BATON_INSTANCE_ACTIVE;
    return BATON_OK;
}

static cJSON *c7_instance_of(api_req *r, int64_t id) {
    row_info ri = {id, "", "", false, 0, false};
    if (baton_engine_query(r->srv->engine, read_row, &ri, NULL))
        return c7_instance(r, id, NULL, 0, NULL, false);
    return c7_instance(r, id, ri.process, ri.version, ri.has_bk ? ri.bk : NULL, ri.ended);
}

void api_h_c7_message(api_req *r) {
    static const char *const refused[] = {"localCorrelationKeys", "processVariablesLocal",
                                          "tenantId", NULL};
    cJSON *body = NULL, *keys = NULL, *vars = NULL, *results = NULL;
    sub_query q = {0};
    const char *name = NULL, *bk = NULL, *pi = NULL;
    if (!body_object(r, false, &body) || !str_field(r, body, "messageName", true, &name) ||
        !str_field(r, body, "businessKey", false, &bk) ||
        !str_field(r, body, "processInstanceId", false, &pi) ||
        !vars_in(r, body, "correlationKeys", &keys) || !vars_in(r, body, "processVariables", &vars))
        goto done;
    for (const char *const *u = refused; *u; u++)
        if (unsupported(r, body, *u))
            goto done;
    bool all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "all"));
    bool result = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "resultEnabled"));
    int64_t only = 0;
    if (pi && !api_parse_i64(pi, &only)) {
        c7_error(r, 400, "MismatchingMessageCorrelationException",
                 "Cannot correlate message "
                 "'%s': no process instance '%s'",
                 name, pi);
        goto done;
    }
    /* the waiting instances that match, as Camunda 7 matches executions */
    q.name = name;
    baton_error e;
    baton_error_clear(&e);
    baton_status st = baton_engine_query(r->srv->engine, find_subs, &q, &e);
    if (!st && q.hits.nomem)
        st = baton_error_set(&e, BATON_NOMEM, "out of memory");
    if (st) {
        api_reply_error(r, st, &e);
        goto done;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < q.hits.n; i++) {
        bool ok = !only || q.hits.inst[i] == only;
        if (ok && (st = instance_matches(r, q.hits.inst[i], bk, keys, &ok))) {
            api_reply_error(r, st, &e);
            goto done;
        }
        if (ok)
            q.hits.inst[n++] = q.hits.inst[i];
    }
    results = cJSON_CreateArray();
    if (n > 1 && !all) {
        c7_error(r, 400, "MismatchingMessageCorrelationException",
                 "Cannot correlate a message "
                 "with name '%s' to a single execution. %u executions match the correlation keys",
                 name, n);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        baton_correlation c = {0, 0};
        API_TIMED(r, st, e,
                  baton_engine_correlate(r->srv->engine, name, NULL, vars, NULL, 0, q.hits.inst[i],
                                         &c, &e));
        if (st) {
            api_reply_error(r, st, &e);
            goto done;
        }
        if (c.kind != 1)
            continue; /* it moved on meanwhile */
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "resultType", "Execution");
        cJSON *ex = cJSON_AddObjectToObject(x, "execution");
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)c.instance);
        cJSON_AddStringToObject(ex, "id", b);
        cJSON_AddStringToObject(ex, "processInstanceId", b);
        cJSON_AddBoolToObject(ex, "ended", false);
        cJSON_AddNullToObject(ex, "tenantId");
        cJSON_AddNullToObject(x, "processInstance");
        cJSON_AddItemToArray(results, x);
    }
    if (!n && !only && !keys) {
        /* no execution waits: a message start event of a latest definition */
        msg_start m = {0};
        m.name = name;
        if ((st = find_message_start(r, &m, &e))) {
            api_reply_error(r, st, &e);
            goto done;
        }
        if (m.found > 1 && !all) {
            c7_error(r, 400, "MismatchingMessageCorrelationException",
                     "Cannot correlate message "
                     "'%s': %u process definitions start with it",
                     name, m.found);
            goto done;
        }
        if (m.found) {
            int64_t id = 0;
            API_TIMED(r, st, e,
                      baton_engine_start_at(r->srv->engine, m.process, m.version, m.event, vars, bk,
                                            &id, &e));
            if (st) {
                api_reply_error(r, st, &e);
                goto done;
            }
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "resultType", "ProcessDefinition");
            cJSON_AddNullToObject(x, "execution");
            cJSON_AddItemToObject(x, "processInstance", c7_instance_of(r, id));
            cJSON_AddItemToArray(results, x);
        }
    }
    if (!cJSON_GetArraySize(results)) {
        c7_error(r, 400, "MismatchingMessageCorrelationException",
                 "Cannot correlate message "
                 "'%s': No process definition or execution matches the parameters",
                 name);
        goto done;
    }
    if (result) {
        api_reply_json(r, 200, results);
        results = NULL;
    } else {
        no_content(r);
    }
done:
    baton_free(q.hits.inst);
    cJSON_Delete(results);
    cJSON_Delete(keys);
    cJSON_Delete(vars);
    cJSON_Delete(body);
    c7_finish(r);
}

/* ---- start and deploy ------------------------------------------------------------------ */

void api_h_c7_start(api_req *r) {
    static const char *const refused[] = {"startInstructions", "caseInstanceId", NULL};
    cJSON *body = NULL, *vars = NULL;
    const char *bk = NULL;
    if (!body_object(r, true, &body) || !str_field(r, body, "businessKey", false, &bk) ||
        !vars_in(r, body, "variables", &vars))
        goto done;
    for (const char *const *u = refused; *u; u++)
        if (unsupported(r, body, *u))
            goto done;
    int64_t id = 0;
    baton_error e;
    baton_status st;
    API_TIMED(r, st, e, baton_engine_start(r->srv->engine, r->cap[0], 0, vars, bk, &id, &e));
    if (st == BATON_NOTFOUND) {
        c7_error(r, 404, "RestException", "No matching process definition with key: %s", r->cap[0]);
        goto done;
    }
    if (st) {
        api_reply_error(r, st, &e);
        goto done;
    }
    cJSON *o = c7_instance_of(r, id);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "withVariablesInReturn"))) {
        baton_instance *in = NULL;
        if (baton_engine_load(r->srv->engine, id, &in, NULL) == BATON_OK) {
            cJSON_AddItemToObject(o, "variables", vars_out(baton_instance_root_vars(in)));
            baton_instance_free(in);
        }
    }
    api_reply_json(r, 200, o);
done:
    cJSON_Delete(vars);
    cJSON_Delete(body);
    c7_finish(r);
}

static bool is_bpmn_name(const char *f) {
    size_t n = strlen(f);
    return (n > 5 && strcmp(f + n - 5, ".bpmn") == 0) ||
           (n > 9 && strcmp(f + n - 9, ".bpmn20.xml") == 0) ||
           (n > 4 && !strcmp(f + n - 4, ".xml"));
}

void api_h_c7_deploy(api_req *r) {
    baton_form_part parts[BATON_BODY_MAX_PARTS];
    uint32_t n = 0;
    baton_error e;
    baton_error_clear(&e);
    if (!r->content_type || strncasecmp(r->content_type, "multipart/form-data", 19) != 0) {
        c7_error(r, 400, "InvalidRequestException", "send the deployment as multipart/form-data");
        goto done;
    }
    if (baton_body_parse_multipart(r->body.data, r->body.len, r->content_type, parts,
                                   BATON_BODY_MAX_PARTS, &n, &e)) {
        api_reply_error(r, e.code, &e);
        goto done;
    }
    const baton_form_part *file = NULL;
    const char *name = NULL, *source = NULL;
    for (uint32_t i = 0; i < n; i++) {
        char *v =
            parts[i].filename ? NULL : baton_arena_strndup(r->arena, parts[i].data, parts[i].len);
        if (parts[i].filename) {
            if (!is_bpmn_name(parts[i].filename)) {
                c7_error(r, 400, "InvalidRequestException",
                         "resource '%s': only BPMN files "
                         "(.bpmn, .bpmn20.xml, .xml) are deployed here",
                         parts[i].filename);
                goto done;
            }
            if (file) {
                c7_error(r, 400, "InvalidRequestException",
                         "one BPMN file per deployment "
                         "(got '%s' and '%s')",
                         file->filename, parts[i].filename);
                goto done;
            }
            file = &parts[i];
        } else if (v && strcmp(parts[i].name, "deployment-name") == 0) {
            name = v;
        } else if (v && strcmp(parts[i].name, "deployment-source") == 0) {
            source = v;
        } else if (v && strcmp(parts[i].name, "tenant-id") == 0 && *v) {
            c7_error(r, 400, "InvalidRequestException", "tenants are not supported here");
            goto done;
        }
        /* enable-duplicate-filtering, deploy-changed-only: identical XML never makes a new
           version here anyway */
    }
    if (!file) {
        c7_error(r, 400, "InvalidRequestException", "the form has no BPMN file part");
        goto done;
    }
    if (!name || !*name || !baton_body_utf8_valid(name, strlen(name), NULL) || strlen(name) > 255)
        name = file->filename;
    baton_diags d;
    baton_diags_init(&d, 0);
    baton_deploy_result res;
    baton_status st;
    API_TIMED(r, st, e,
              baton_engine_deploy(r->srv->engine, name, file->data, file->len, &d, &res, &e));
    if (st == BATON_MODEL || st == BATON_PARSE || st == BATON_LIMIT || st == BATON_EXPR) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "ParseException");
        cJSON_AddStringToObject(o, "message", e.message[0] ? e.message : "invalid BPMN");
        cJSON_AddNullToObject(o, "code");
        cJSON *det = cJSON_AddObjectToObject(o, "details");
        cJSON *resd = cJSON_AddObjectToObject(det, file->filename);
        cJSON *errs = cJSON_AddArrayToObject(resd, "errors");
        cJSON_AddArrayToObject(resd, "warnings");
        for (uint32_t i = 0; i < d.n; i++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "message", d.items[i].message ? d.items[i].message : "");
            cJSON_AddNumberToObject(x, "line", d.items[i].line);
            cJSON_AddNumberToObject(x, "column", 0);
            api_add_str(x, "mainElementId", d.items[i].element);
            cJSON_AddItemToArray(errs, x);
        }
        baton_diags_fini(&d);
        r->err_code = st;
        snprintf(r->err_msg, sizeof r->err_msg, "%.159s", e.message);
        api_reply_json(r, 400, o);
        goto done;
    }
    baton_diags_fini(&d);
    if (st) {
        api_reply_error(r, st, &e);
        goto done;
    }
    cJSON *o = cJSON_CreateObject();
    char b[300], t[32];
    cJSON *links = cJSON_AddArrayToObject(o, "links");
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "method", "GET");
    snprintf(b, sizeof b, "/engine-rest/deployment/%lld", (long long)res.deployment);
    cJSON_AddStringToObject(l, "href", b);
    cJSON_AddStringToObject(l, "rel", "self");
    cJSON_AddItemToArray(links, l);
    snprintf(b, sizeof b, "%lld", (long long)res.deployment);
    cJSON_AddStringToObject(o, "id", b);
    cJSON_AddStringToObject(o, "name", name);
    api_add_str(o, "source", source);
    cJSON_AddStringToObject(o, "deploymentTime", c7_time(baton_engine_now(r->srv->engine), t));
    cJSON_AddNullToObject(o, "tenantId");
    if (res.duplicate) {
        cJSON_AddNullToObject(o, "deployedProcessDefinitions");
    } else {
        cJSON *defs = cJSON_AddObjectToObject(o, "deployedProcessDefinitions");
        baton_model *m = baton_engine_deployment_model(r->srv->engine, res.deployment);
        const baton_graph *g = m ? baton_model_graph(m) : NULL;
        for (uint32_t i = 0; i < res.n_processes; i++) {
            cJSON *x = cJSON_CreateObject();
            snprintf(b, sizeof b, "%.250s:%d", res.processes[i].id, (int)res.processes[i].version);
            cJSON_AddStringToObject(x, "id", b);
            cJSON_AddStringToObject(x, "key", res.processes[i].id);
            cJSON_AddNullToObject(x, "category");
            cJSON_AddNullToObject(x, "description");
            baton_idx p = m ? baton_model_find_process(m, res.processes[i].id) : BATON_NONE;
            api_add_str(x, "name", p != BATON_NONE ? g->processes[p].name : NULL);
            cJSON_AddNumberToObject(x, "version", res.processes[i].version);
            cJSON_AddStringToObject(x, "resource", file->filename);
            snprintf(t, sizeof t, "%lld", (long long)res.deployment);
            cJSON_AddStringToObject(x, "deploymentId", t);
            cJSON_AddNullToObject(x, "diagram");
            cJSON_AddBoolToObject(x, "suspended", false);
            cJSON_AddNullToObject(x, "tenantId");
            api_add_str(x, "versionTag", p != BATON_NONE ? g->processes[p].version_tag : NULL);
            cJSON_AddNullToObject(x, "historyTimeToLive");
            cJSON_AddBoolToObject(x, "startableInTasklist", true);
            cJSON_AddItemToObject(defs, b, x);
        }
    }
    cJSON_AddNullToObject(o, "deployedCaseDefinitions");
    cJSON_AddNullToObject(o, "deployedDecisionDefinitions");
    cJSON_AddNullToObject(o, "deployedDecisionRequirementsDefinitions");
    api_reply_json(r, 200, o);
done:
    c7_finish(r);
}
