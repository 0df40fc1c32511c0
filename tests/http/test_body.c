/* test_body.c - request body checks (api/body.h): UTF-8, bounded JSON, multipart. */
#include <stdlib.h>

#include "api/body.h"
#include "tests/tap.h"

static void test_utf8(void) {
    size_t bad = 0;
    TAP_OK(baton_body_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, NULL),
           "valid UTF-8");
    TAP_OK(!baton_body_utf8_valid("ab\xff", 3, &bad) && bad == 2, "invalid byte at 2");
    TAP_OK(!baton_body_utf8_valid("\xc0\xaf", 2, NULL), "overlong form");
    TAP_OK(!baton_body_utf8_valid("\xed\xa0\x80", 3, NULL), "surrogate");
    TAP_OK(!baton_body_utf8_valid("a\0b", 3, NULL), "NUL byte");
    TAP_OK(!baton_body_utf8_valid("\xe2\x82", 2, NULL), "truncated sequence");
}

static void test_json(void) {
    cJSON *j = NULL;
    baton_error e;
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json("{\"a\": [1, {\"b\": null}]} \n", 25, 0, &j, &e), BATON_OK,
               "parses");
    cJSON_Delete(j);
    baton_error_clear(&e);
    const char *bad = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    TAP_EQ_INT(baton_body_parse_json(bad, strlen(bad), 0, &j, &e), BATON_PARSE, "malformed");
    TAP_CONTAINS(e.where, "line 3", "position: line 3 (%s)", e.where);
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json("{} x", 4, 0, &j, &e), BATON_PARSE, "trailing text");
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json("{\"a\":\"\\u0000\"}", 14, 0, &j, &e), BATON_PARSE,
               "\\u0000 refused");
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json("\"\\ud800\"", 8, 0, &j, &e), BATON_PARSE,
               "lone surrogate escape refused");
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json("\"\xff\"", 3, 0, &j, &e), BATON_PARSE, "invalid UTF-8");
    size_t n = 10000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json(deep, 2 * n, 0, &j, &e), BATON_PARSE, "10,000 deep refused");
    TAP_CONTAINS(e.message, "deeper than 64", "says why");
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json(deep + n - 10, 20, 0, &j, &e), BATON_OK, "10 deep is fine");
    cJSON_Delete(j);
    free(deep);
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_json("", 0, 0, &j, &e), BATON_PARSE, "empty body");
}

static void test_multipart(void) {
    char body[] = "--b1\r\nContent-Disposition: form-data; name=\"deployment-name\"\r\n\r\nmine"
                  "\r\n--b1\r\nContent-Disposition: form-data; name=\"data\"; filename=\"x.bpmn\""
                  "\r\nContent-Type: text/xml\r\n\r\n<a/>\r\n\r\n--b1--\r\n";
    baton_form_part parts[4];
    uint32_t n = 0;
    baton_error e;
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_multipart(body, strlen(body), "multipart/form-data; boundary=b1",
                                          parts, 4, &n, &e),
               BATON_OK, "parses");
    TAP_EQ_INT(n, 2, "two parts");
    TAP_EQ_STR(parts[0].name, "deployment-name", "field name");
    TAP_OK(parts[0].len == 4 && memcmp(parts[0].data, "mine", 4) == 0, "field value");
    TAP_EQ_STR(parts[1].filename, "x.bpmn", "file name");
    TAP_EQ_STR(parts[1].name, "data", "file field name");
    TAP_EQ_STR(parts[1].content_type, "text/xml", "part content type");
    TAP_OK(parts[1].len == 6 && memcmp(parts[1].data, "<a/>\r\n", 6) == 0, "file bytes kept");
    char bad[] = "--b1\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end";
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_multipart(bad, strlen(bad), "multipart/form-data; boundary=b1",
                                          parts, 4, &n, &e),
               BATON_PARSE, "unterminated part");
    baton_error_clear(&e);
    TAP_EQ_INT(
        baton_body_parse_multipart(body, strlen(body), "multipart/form-data", parts, 4, &n, &e),
        BATON_PARSE, "no boundary");
    char many[2048] = "";
    for (int i = 0; i < 20; i++)
        strcat(many, "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n");
    strcat(many, "--b--");
    baton_error_clear(&e);
    TAP_EQ_INT(baton_body_parse_multipart(many, strlen(many), "multipart/form-data; boundary=b",
                                          parts, 4, &n, &e),
               BATON_LIMIT, "more parts than allowed");
}

int main(void) {
    TAP_RUN(test_utf8);
    TAP_RUN(test_json);
    TAP_RUN(test_multipart);
    return tap_done();
}
