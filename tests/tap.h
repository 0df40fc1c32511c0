/*
 * tap.h - a tiny TAP harness for Baton's C tests (libuv's runner, Redis's
 * testhelp.h in spirit). Header-only; one test program = one main() that
 * calls TAP_RUN for each case and returns tap_done().
 *
 *   static void test_x(void) { TAP_OK(1 + 1 == 2, "adds"); }
 *   int main(void) { TAP_RUN(test_x); return tap_done(); }
 */
#ifndef BATON_TESTS_TAP_H
#define BATON_TESTS_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;
static const char *tap_case = "";

#define TAP_OK(cond, ...)                                                                          \
    do {                                                                                           \
        int tap_ok_ = (cond) ? 1 : 0; /* evaluated once: conditions may have effects */            \
        tap_n++;                                                                                   \
        if (tap_ok_) {                                                                             \
            printf("ok %d - %s: ", tap_n, tap_case);                                               \
        } else {                                                                                   \
            tap_failed++;                                                                          \
            printf("not ok %d - %s: ", tap_n, tap_case);                                           \
        }                                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        if (!tap_ok_)                                                                              \
            printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
    } while (0)

#define TAP_EQ_INT(a, b, ...)                                                                      \
    do {                                                                                           \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                                \
        TAP_OK(tap_a_ == tap_b_, __VA_ARGS__);                                                     \
        if (tap_a_ != tap_b_)                                                                      \
            printf("#   got %lld, expected %lld\n", tap_a_, tap_b_);                               \
    } while (0)

#define TAP_EQ_STR(a, b, ...)                                                                      \
    do {                                                                                           \
        const char *tap_a_ = (a), *tap_b_ = (b);                                                   \
        int tap_same_ = tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0;                           \
        TAP_OK(tap_same_, __VA_ARGS__);                                                            \
        if (!tap_same_)                                                                            \
            printf("#   got \"%s\", expected \"%s\"\n", tap_a_ ? tap_a_ : "(null)",                \
                   tap_b_ ? tap_b_ : "(null)");                                                    \
    } while (0)

#define TAP_CONTAINS(hay, needle, ...)                                                             \
    do {                                                                                           \
        const char *tap_h_ = (hay), *tap_nd_ = (needle);                                           \
        int tap_in_ = tap_h_ && strstr(tap_h_, tap_nd_) != NULL;                                   \
        TAP_OK(tap_in_, __VA_ARGS__);                                                              \
        if (!tap_in_)                                                                              \
            printf("#   \"%s\" not found in \"%s\"\n", tap_nd_, tap_h_ ? tap_h_ : "(null)");       \
    } while (0)

#define TAP_RUN(fn)                                                                                \
    do {                                                                                           \
        tap_case = #fn;                                                                            \
        fn();                                                                                      \
    } while (0)

static inline int tap_done(void) {
    printf("1..%d\n", tap_n);
    if (tap_failed)
        printf("# %d of %d failed\n", tap_failed, tap_n);
    return tap_failed ? 1 : 0;
}

#endif
