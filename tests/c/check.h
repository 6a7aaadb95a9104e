/*
 * The checks the C test programs share. CHECK(condition) and EXPECT(status, call) count
 * failures and print each with its file and line; EXPECT's `call` may use `&err`, and the
 * error it gets is printed and freed. finish(line) ends main: it prints `line` and returns
 * 0 when every check passed, 1 otherwise. Included after the header under test (the
 * current one, or the 1.0 copy tests/abi/old_program.c is built against), whose
 * oss_status_str and oss_error functions it uses.
 */
#ifndef OSS_APPEND_TEST_CHECK_H
#define OSS_APPEND_TEST_CHECK_H

#include <stdio.h>

static int failures = 0;

#define CHECK(condition)                                                                        \
    do {                                                                                        \
        if (!(condition)) {                                                                     \
            fprintf(stderr, "%s:%d: %s is false\n", __FILE__, __LINE__, #condition);            \
            failures++;                                                                         \
        }                                                                                       \
    } while (0)

#define EXPECT(want, call)                                                                      \
    do {                                                                                        \
        oss_error *err = NULL;                                                                  \
        oss_status got = call;                                                                  \
        if (got != (want)) {                                                                    \
            fprintf(stderr, "%s:%d: %s: %s, wanted %s: %s\n", __FILE__, __LINE__, #call,        \
                    oss_status_str((int)got), oss_status_str((int)(want)),                      \
                    oss_error_message(err));                                                    \
            failures++;                                                                         \
        }                                                                                       \
        oss_error_free(err);                                                                    \
    } while (0)

static int finish(const char *line) {
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    puts(line);
    return 0;
}

#endif
