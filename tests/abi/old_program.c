/*
 * A program of the 1.0 ABI: compiled against tests/abi/oss_append-1.0.h (the header the
 * ABI baseline was taken from), run against the library being tested, which every 1.x
 * release must keep working. old_program ENDPOINT BUCKET, credentials from the environment;
 * writes "old/object" (bytes 0..100000 of tests/c_abi.rs's pattern seeded 11), which the
 * Rust test reads back. Exits 0 when every check here passed.
 */
#include "oss_append-1.0.h"

#include <stdio.h>
#include <string.h>
#include "../c/check.h"

enum { SIZE = 100000, WRITTEN = 70000, APPENDED = 1000 };

static uint64_t crc_of(const uint8_t *data, size_t len) {
    uint64_t crc = 0;
    EXPECT(OSS_OK, oss_crc64_update(&crc, data, len, &err));
    return crc;
}

/* The value of user metadata `name` in `info`, or NULL. */
static const char *metadata(const oss_object_info *info, const char *name) {
    for (size_t i = 0; i < oss_object_info_metadata_count(info); i++) {
        const char *key = NULL, *value = NULL;
        CHECK(oss_object_info_metadata(info, i, &key, &value));
        if (key && !strcmp(key, name)) return value;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fputs("usage: old_program ENDPOINT BUCKET\n", stderr);
        return 2;
    }
    const char *bucket = argv[2];
    static uint8_t data[SIZE];
    for (size_t i = 0; i < SIZE; i++) data[i] = (uint8_t)((i * 7 + 11) % 251);

    /* Any library of this major that is at least as new as the header. */
    CHECK(oss_version_number() / 1000000 == OSS_APPEND_VERSION_MAJOR);
    CHECK(oss_version_number() >= OSS_APPEND_VERSION_NUMBER);
    CHECK(oss_version() != NULL);

    oss_config *config = oss_config_new();
    oss_client *client = NULL;
    EXPECT(OSS_OK, oss_config_set_endpoint(config, argv[1], &err));
    EXPECT(OSS_OK, oss_config_set_region(config, "cn-hangzhou", &err));
    EXPECT(OSS_OK, oss_config_set_credentials_from_env(config, &err));
    EXPECT(OSS_OK, oss_client_new(config, &client, &err));
    oss_config_free(config);

    oss_append_options *options = oss_append_options_new();
    EXPECT(OSS_OK, oss_append_options_set_request_size(options, 30000, &err));
    EXPECT(OSS_OK, oss_append_options_set_content_type(options, "text/x-old-program", &err));
    EXPECT(OSS_OK, oss_append_options_add_metadata(options, "origin", "old_program", &err));
    EXPECT(OSS_OK, oss_append_options_add_metadata(options, "abi", "1.0", &err));

    /* An appender: writes in requests, position and CRC-64 follow. */
    oss_append *append = NULL;
    EXPECT(OSS_OK, oss_append_open(client, bucket, "old/object", options, &append, &err));
    EXPECT(OSS_OK, oss_append_write(append, data, WRITTEN, &err));
    uint64_t position = 0, crc = 0;
    EXPECT(OSS_OK, oss_append_position(append, &position, &err));
    EXPECT(OSS_OK, oss_append_crc64(append, &crc, &err));
    CHECK(position == WRITTEN && crc == crc_of(data, WRITTEN));

    /* stat: the object as the server tells it, read through the accessors. */
    oss_object_info *info = NULL;
    EXPECT(OSS_OK, oss_append_stat(append, &info, &err));
    uint64_t info_crc = 0;
    CHECK(info != NULL);
    CHECK(oss_object_info_length(info) == WRITTEN);
    CHECK(oss_object_info_crc64(info, &info_crc) && info_crc == crc);
    CHECK(oss_object_info_type(info) == OSS_OBJECT_APPENDABLE);
    CHECK(oss_object_info_last_modified(info) > 0);
    CHECK(oss_object_info_sealed_time(info) == -1);
    CHECK(oss_object_info_etag(info) && oss_object_info_etag(info)[0] == '"');
    CHECK(oss_object_info_request_id(info) && strlen(oss_object_info_request_id(info)) > 0);
    CHECK(!oss_object_info_version_id(info));
    CHECK(oss_object_info_content_type(info) &&
          !strcmp(oss_object_info_content_type(info), "text/x-old-program"));
    CHECK(oss_object_info_metadata_count(info) == 2);
    CHECK(metadata(info, "origin") && !strcmp(metadata(info, "origin"), "old_program"));
    CHECK(metadata(info, "abi") && !strcmp(metadata(info, "abi"), "1.0"));
    oss_object_info_free(info);
    EXPECT(OSS_OK, oss_append_close(append, &err));

    /* One AppendObject at the object's length, its CRC-64 checked, read through the result. */
    oss_append_result *result = NULL;
    EXPECT(OSS_OK, oss_append_object(client, bucket, "old/object", WRITTEN, data + WRITTEN,
                                     APPENDED, NULL, &crc, &result, &err));
    CHECK(result != NULL);
    CHECK(oss_append_result_next_position(result) == WRITTEN + APPENDED);
    CHECK(oss_append_result_crc64(result) == crc_of(data, WRITTEN + APPENDED));
    CHECK(oss_append_result_request_id(result) && strlen(oss_append_result_request_id(result)));
    CHECK(oss_append_result_etag(result) != NULL);
    CHECK(!oss_append_result_version_id(result));
    oss_append_result_free(result);

    /* At a wrong position: refused, and the error tells the object's length. */
    {
        oss_error *err = NULL;
        uint64_t length = 0;
        CHECK(oss_append_object(client, bucket, "old/object", 5, data, 1, NULL, NULL, NULL,
                                &err) == OSS_ERR_POSITION_NOT_EQUAL_TO_LENGTH);
        CHECK(oss_error_status(err) == OSS_ERR_POSITION_NOT_EQUAL_TO_LENGTH);
        CHECK(oss_error_next_position(err, &length) && length == WRITTEN + APPENDED);
        oss_error_free(err);
    }

    /* Opened again, an appender continues at the end. */
    EXPECT(OSS_OK, oss_append_open(client, bucket, "old/object", NULL, &append, &err));
    EXPECT(OSS_OK, oss_append_position(append, &position, &err));
    CHECK(position == WRITTEN + APPENDED);
    EXPECT(OSS_OK, oss_append_write(append, data + position, SIZE - position, &err));
    EXPECT(OSS_OK, oss_append_crc64(append, &crc, &err));
    CHECK(crc == crc_of(data, SIZE));
    EXPECT(OSS_OK, oss_append_close(append, &err));

    oss_append_options_free(options);
    oss_client_free(client);
    return finish("old program: all passed");
}
