/*
 * version MAJOR.MINOR.PATCH: the header's OSS_APPEND_VERSION_* macros, oss_version() and
 * oss_version_number() must all tell that version (the crate's, from tests/c_abi.rs) when
 * a program is built against the header of the library it runs with.
 */
#include <oss_append.h>

#include <stdio.h>
#include <string.h>

/* The macros work in the preprocessor, where a program picks code by version. */
#if !defined(OSS_APPEND_VERSION_NUMBER) ||                                                      \
    OSS_APPEND_VERSION_NUMBER != OSS_APPEND_VERSION_MAJOR * 1000000 +                          \
                                     OSS_APPEND_VERSION_MINOR * 1000 + OSS_APPEND_VERSION_PATCH
#error "OSS_APPEND_VERSION_NUMBER is not major * 1000000 + minor * 1000 + patch"
#endif

int main(int argc, char **argv) {
    unsigned major, minor, patch;
    char rest;
    if (argc != 2 || sscanf(argv[1], "%u.%u.%u%c", &major, &minor, &patch, &rest) != 3) {
        fputs("usage: version MAJOR.MINOR.PATCH\n", stderr);
        return 2;
    }
    int failures = 0;
    if (major != OSS_APPEND_VERSION_MAJOR || minor != OSS_APPEND_VERSION_MINOR ||
        patch != OSS_APPEND_VERSION_PATCH) {
        fprintf(stderr, "the header says %d.%d.%d, not %s\n", OSS_APPEND_VERSION_MAJOR,
                OSS_APPEND_VERSION_MINOR, OSS_APPEND_VERSION_PATCH, argv[1]);
        failures++;
    }
    if (strcmp(oss_version(), argv[1]) != 0) {
        fprintf(stderr, "oss_version() says %s, not %s\n", oss_version(), argv[1]);
        failures++;
    }
    unsigned number = major * 1000000u + minor * 1000u + patch;
    if (oss_version_number() != number || OSS_APPEND_VERSION_NUMBER != number) {
        fprintf(stderr, "oss_version_number() says %u and the header %d, not %u\n",
                (unsigned)oss_version_number(), OSS_APPEND_VERSION_NUMBER, number);
        failures++;
    }
    if (failures) return 1;
    printf("version %s: the header and the library agree\n", argv[1]);
    return 0;
}
