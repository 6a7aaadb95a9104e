/*
 * Calls every export of oss_append.h with NULL and invalid arguments. Each call must fail
 * with OSS_ERR_INVALID_ARGUMENT and a message naming the argument: never crash or abort.
 * tests/c_abi.rs checks that every function of the header is called here.
 */
#include "oss_append.h"

#include <stdio.h>
#include <string.h>
#include "check.h"

static void expect(oss_status got, oss_error *err, const char *needle, const char *call, int line) {
    const char *message = oss_error_message(err);
    if (got != OSS_ERR_INVALID_ARGUMENT || err == NULL || oss_error_status(err) != got ||
        strstr(message, needle) == NULL) {
        fprintf(stderr, "misuse.c:%d: %s: status %d, message \"%s\", wanted \"%s\"\n", line, call,
                (int)got, message, needle);
        failures++;
    }
    oss_error_free(err);
}

/* `call` uses `&err`; the error must name `needle`. */
#define INVALID(needle, call)                                                                   \
    do {                                                                                        \
        oss_error *err = NULL;                                                                  \
        oss_status status = call;                                                               \
        expect(status, err, needle, #call, __LINE__);                                           \
    } while (0)

static bool never_called(void *user_data, oss_credentials *out) {
    (void)user_data;
    (void)out;
    return false;
}

static int read_nothing(void *user_data, uint8_t *buf, size_t len, size_t *read) {
    (void)user_data;
    (void)buf;
    (void)len;
    *read = 0;
    return 0;
}

int main(void) {
    static const char bad_utf8[] = {(char)0xff, (char)0xfe, 0};
    oss_config *config = oss_config_new();
    oss_append_options *options = oss_append_options_new();
    CHECK(config != NULL && options != NULL);
    uint64_t u64 = 0;

    /* Plain functions. */
    CHECK(strcmp(oss_version(), "") != 0 && oss_version_number() > 0);
    CHECK(strcmp(oss_status_str(OSS_OK), "success") == 0);
    CHECK(strcmp(oss_status_str(-1), "unknown status") == 0);
    CHECK(strcmp(oss_status_str(1000), "unknown status") == 0);
    INVALID("crc", oss_crc64_update(NULL, (const uint8_t *)"a", 1, &err));
    INVALID("data", oss_crc64_update(&u64, NULL, 1, &err));
    CHECK(oss_crc64_update(&u64, NULL, 0, NULL) == OSS_OK && u64 == 0);

    /* Errors: accessors on NULL give safe answers. */
    CHECK(oss_error_status(NULL) == OSS_ERR_INVALID_ARGUMENT);
    CHECK(oss_error_message(NULL) != NULL);
    CHECK(oss_error_code(NULL) == NULL && oss_error_request_id(NULL) == NULL);
    CHECK(oss_error_ec(NULL) == NULL && oss_error_host_id(NULL) == NULL);
    CHECK(oss_error_http_status(NULL) == 0);
    CHECK(!oss_error_next_position(NULL, &u64));
    CHECK(!oss_error_server_state(NULL, &u64, &u64));
    CHECK(!oss_error_client_state(NULL, &u64, &u64));
    oss_error_free(NULL);

    /* Results: accessors on NULL give their "absent" answers. */
    {
        const char *text = "unchanged";
        CHECK(oss_object_info_length(NULL) == 0 && !oss_object_info_crc64(NULL, &u64));
        CHECK(oss_object_info_type(NULL) == OSS_OBJECT_OTHER);
        CHECK(oss_object_info_last_modified(NULL) == -1 && oss_object_info_sealed_time(NULL) == -1);
        CHECK(oss_object_info_etag(NULL) == NULL && oss_object_info_content_type(NULL) == NULL);
        CHECK(oss_object_info_version_id(NULL) == NULL && oss_object_info_request_id(NULL) == NULL);
        CHECK(oss_object_info_metadata_count(NULL) == 0);
        CHECK(!oss_object_info_metadata(NULL, 0, &text, &text) && !strcmp(text, "unchanged"));
        oss_object_info_free(NULL);
        CHECK(oss_append_result_next_position(NULL) == 0 && oss_append_result_crc64(NULL) == 0);
        CHECK(oss_append_result_etag(NULL) == NULL && oss_append_result_version_id(NULL) == NULL);
        CHECK(oss_append_result_request_id(NULL) == NULL);
        oss_append_result_free(NULL);
    }

    /* Config. */
    INVALID("config", oss_config_set_endpoint(NULL, "http://127.0.0.1:1", &err));
    INVALID("endpoint", oss_config_set_endpoint(config, NULL, &err));
    INVALID("endpoint", oss_config_set_endpoint(config, bad_utf8, &err));
    INVALID("ftp://", oss_config_set_endpoint(config, "ftp://host", &err));
    INVALID("99999", oss_config_set_endpoint(config, "http://127.0.0.1:99999", &err));
    INVALID("abc", oss_config_set_endpoint(config, "http://127.0.0.1:abc", &err));
    INVALID("config", oss_config_set_region(NULL, "cn-hangzhou", &err));
    INVALID("region", oss_config_set_region(config, NULL, &err));
    INVALID("CN Hangzhou", oss_config_set_region(config, "CN Hangzhou", &err));
    INVALID("config", oss_config_set_credentials(NULL, "id", "secret", NULL, &err));
    INVALID("access_key_id", oss_config_set_credentials(config, NULL, "secret", NULL, &err));
    INVALID("access_key_secret", oss_config_set_credentials(config, "id", NULL, NULL, &err));
    INVALID("security_token", oss_config_set_credentials(config, "id", "s", bad_utf8, &err));
    /* Values that travel in headers cannot carry a line break (a second header, or request). */
    INVALID("access key id", oss_config_set_credentials(config, "id\r\nX: 1", "s", NULL, &err));
    INVALID("security token", oss_config_set_credentials(config, "id", "s", "t\r\nX: 1", &err));
    INVALID("config", oss_config_set_credentials_from_env(NULL, &err));
    INVALID("config", oss_config_set_credentials_callback(NULL, never_called, NULL, NULL, &err));
    INVALID("callback", oss_config_set_credentials_callback(config, NULL, NULL, NULL, &err));
    INVALID("out", oss_credentials_set(NULL, "id", "secret", NULL, &err));
    INVALID("config", oss_config_set_signature_version(NULL, OSS_SIGNATURE_V1, &err));
    INVALID("version 2", oss_config_set_signature_version(config, 2, &err));
    INVALID("config", oss_config_set_url_style(NULL, OSS_URL_PATH, &err));
    INVALID("style 0", oss_config_set_url_style(config, 0, &err));
    INVALID("config", oss_config_set_connect_timeout_ms(NULL, 1000, &err));
    INVALID("connect timeout", oss_config_set_connect_timeout_ms(config, 0, &err));
    INVALID("config", oss_config_set_request_timeout_ms(NULL, 1000, &err));
    INVALID("request timeout", oss_config_set_request_timeout_ms(config, 0, &err));
    INVALID("config", oss_config_set_retry(NULL, 3, 100, 1000, &err));
    INVALID("max_attempts", oss_config_set_retry(config, 0, 100, 1000, &err));
    INVALID("config", oss_config_set_ca_file(NULL, "/ca.pem", &err));
    INVALID("path", oss_config_set_ca_file(config, NULL, &err));
    INVALID("config", oss_config_set_proxy(NULL, "http://127.0.0.1:1", &err));
    INVALID("proxy", oss_config_set_proxy(config, NULL, &err));
    INVALID("config", oss_config_set_log(NULL, NULL, NULL, NULL, &err));
    INVALID("callback", oss_config_set_log(config, NULL, NULL, NULL, &err));
    INVALID("config", oss_config_set_user_agent(NULL, "ua", &err));
    INVALID("user_agent", oss_config_set_user_agent(config, NULL, &err));
    INVALID("user agent", oss_config_set_user_agent(config, "app/1\r\nX-Evil: 1", &err));
    oss_config_free(NULL);

    /* Client. */
    oss_client *client = NULL;
    INVALID("config", oss_client_new(NULL, &client, &err));
    CHECK(oss_config_set_endpoint(config, "http://127.0.0.1:9", NULL) == OSS_OK);
    CHECK(oss_config_set_region(config, "cn-hangzhou", NULL) == OSS_OK);
    CHECK(oss_config_set_credentials(config, "id", "secret", NULL, NULL) == OSS_OK);
    INVALID("out", oss_client_new(config, NULL, &err));
    CHECK(oss_client_new(config, &client, NULL) == OSS_OK && client != NULL);
    oss_client_free(NULL);

    /* Options: every setter checks its value. */
    INVALID("options", oss_append_options_set_content_type(NULL, "text/plain", &err));
    INVALID("value", oss_append_options_set_content_type(options, NULL, &err));
    INVALID("value", oss_append_options_set_content_type(options, bad_utf8, &err));
    INVALID("content", oss_append_options_set_content_type(options, "a\r\nx-oss-acl: public", &err));
    INVALID("options", oss_append_options_set_cache_control(NULL, "no-cache", &err));
    INVALID("value", oss_append_options_set_cache_control(options, NULL, &err));
    INVALID("options", oss_append_options_set_content_disposition(NULL, "inline", &err));
    INVALID("value", oss_append_options_set_content_disposition(options, NULL, &err));
    INVALID("options", oss_append_options_set_content_encoding(NULL, "gzip", &err));
    INVALID("value", oss_append_options_set_content_encoding(options, NULL, &err));
    INVALID("options", oss_append_options_set_expires(NULL, "Thu, 01 Dec 1994 16:00:00 GMT", &err));
    INVALID("value", oss_append_options_set_expires(options, NULL, &err));
    INVALID("options", oss_append_options_set_acl(NULL, "private", &err));
    INVALID("acl", oss_append_options_set_acl(options, "everyone", &err));
    INVALID("options", oss_append_options_set_storage_class(NULL, "IA", &err));
    INVALID("storage class", oss_append_options_set_storage_class(options, "Glacier", &err));
    INVALID("options", oss_append_options_set_tagging(NULL, "a=b", &err));
    INVALID("value", oss_append_options_set_tagging(options, NULL, &err));
    INVALID("options", oss_append_options_add_metadata(NULL, "name", "value", &err));
    INVALID("name", oss_append_options_add_metadata(options, NULL, "value", &err));
    INVALID("value", oss_append_options_add_metadata(options, "name", NULL, &err));
    INVALID("metadata name", oss_append_options_add_metadata(options, "bad name", "v", &err));
    INVALID("options", oss_append_options_set_server_side_encryption(NULL, "AES256", NULL, NULL, &err));
    INVALID("algorithm", oss_append_options_set_server_side_encryption(options, NULL, NULL, NULL, &err));
    INVALID("encryption", oss_append_options_set_server_side_encryption(options, "ROT13", NULL, NULL, &err));
    INVALID("options", oss_append_options_set_request_payer(NULL, "requester", &err));
    INVALID("value", oss_append_options_set_request_payer(options, NULL, &err));
    INVALID("options", oss_append_options_set_traffic_limit(NULL, 819200, &err));
    INVALID("traffic limit", oss_append_options_set_traffic_limit(options, 1, &err));
    INVALID("options", oss_append_options_set_check_crc(NULL, true, &err));
    INVALID("options", oss_append_options_set_seal_on_close(NULL, true, &err));
    INVALID("options", oss_append_options_set_request_size(NULL, 1024, &err));
    INVALID("request size", oss_append_options_set_request_size(options, 0, &err));
    /* Sizes that would abort the host if they reached an allocation are refused here. */
    INVALID("request size", oss_append_options_set_request_size(options, (size_t)1 << 40, &err));
    INVALID("request size",
            oss_append_options_set_request_size(options, OSS_MAX_REQUEST_SIZE + 1, &err));
    CHECK(oss_append_options_set_request_size(options, OSS_MAX_REQUEST_SIZE, NULL) == OSS_OK);
    INVALID("options", oss_append_options_set_progress(NULL, NULL, NULL, &err));
    INVALID("options", oss_append_options_set_roll(NULL, 1 << 20, 0, &err));
    INVALID("max_object_size", oss_append_options_set_roll(options, 0, 0, &err));
    INVALID("max_object_size",
            oss_append_options_set_roll(options, OSS_MAX_REQUEST_SIZE + 1, 0, &err));
    INVALID("options", oss_append_options_set_roll_callback(NULL, NULL, NULL, &err));
    INVALID("options", oss_append_options_set_buffer(NULL, 1 << 20, 100, true, &err));
    INVALID("capacity", oss_append_options_set_buffer(options, 0, 100, true, &err));
    INVALID("capacity", oss_append_options_set_buffer(options, (size_t)1 << 40, 100, true, &err));
    INVALID("capacity",
            oss_append_options_set_buffer(options, OSS_MAX_BUFFER_CAPACITY + 1, 100, true, &err));
    INVALID("options", oss_append_options_set_spool(NULL, "spool", OSS_SPOOL_SYNC_NONE, 0, &err));
    INVALID("dir", oss_append_options_set_spool(options, bad_utf8, OSS_SPOOL_SYNC_NONE, 0, &err));
    INVALID("dir", oss_append_options_set_spool(options, "", OSS_SPOOL_SYNC_NONE, 0, &err));
    INVALID("sync", oss_append_options_set_spool(options, "spool", 3, 0, &err));
    INVALID("interval_ms", oss_append_options_set_spool(options, "spool", OSS_SPOOL_SYNC_INTERVAL, 0, &err));
    oss_append_options_free(NULL);

    /* Appender and the one-request append: refused before anything is sent. */
    oss_append *append = NULL;
    oss_object_info *info = NULL;
    oss_append_result *result = NULL;
    INVALID("client", oss_append_open(NULL, "bucket", "key", NULL, &append, &err));
    INVALID("bucket", oss_append_open(client, NULL, "key", NULL, &append, &err));
    INVALID("bucket name", oss_append_open(client, "Bad_Bucket", "key", NULL, &append, &err));
    INVALID("key", oss_append_open(client, "bucket", NULL, NULL, &append, &err));
    INVALID("key", oss_append_open(client, "bucket", bad_utf8, NULL, &append, &err));
    INVALID("key", oss_append_open(client, "bucket", "", NULL, &append, &err));
    INVALID("out", oss_append_open(client, "bucket", "key", NULL, NULL, &err));
    CHECK(append == NULL);
    INVALID("append", oss_append_write(NULL, (const uint8_t *)"x", 1, &err));
    INVALID("data", oss_append_write(NULL, NULL, 5, &err));
    INVALID("append", oss_append_write_from(NULL, read_nothing, NULL, &u64, &err));
    INVALID("read", oss_append_write_from(NULL, NULL, NULL, &u64, &err));
    INVALID("append", oss_append_write_file(NULL, "/dev/null", &u64, &err));
    INVALID("path", oss_append_write_file(NULL, NULL, &u64, &err));
    INVALID("append", oss_append_position(NULL, &u64, &err));
    INVALID("out", oss_append_position(NULL, NULL, &err));
    INVALID("append", oss_append_crc64(NULL, &u64, &err));
    INVALID("out", oss_append_crc64(NULL, NULL, &err));
    INVALID("append", oss_append_pending(NULL, &u64, &err));
    {
        uint8_t byte = 0;
        size_t copied = 7;
        INVALID("append", oss_append_read_pending(NULL, 0, &byte, 1, &copied, &err));
        INVALID("copied", oss_append_read_pending(NULL, 0, &byte, 1, NULL, &err));
        INVALID("buf", oss_append_read_pending(NULL, 0, NULL, 1, &copied, &err));
        CHECK(copied == 7);
    }
    INVALID("out", oss_append_pending(NULL, NULL, &err));
    INVALID("append", oss_append_stream_position(NULL, &u64, &err));
    INVALID("out", oss_append_stream_position(NULL, NULL, &err));
    {
        char key[4] = "abc";
        size_t length = 7;
        INVALID("append", oss_append_key(NULL, key, sizeof key, &length, &err));
        INVALID("length", oss_append_key(NULL, key, sizeof key, NULL, &err));
        INVALID("buf", oss_append_key(NULL, NULL, sizeof key, &length, &err));
        CHECK(length == 7 && strcmp(key, "abc") == 0);
    }
    INVALID("append", oss_append_flush(NULL, 100, &err));
    INVALID("append", oss_append_seal(NULL, &err));
    INVALID("append", oss_append_stat(NULL, &info, &err));
    INVALID("out", oss_append_stat(NULL, NULL, &err));
    INVALID("append", oss_append_close(NULL, &err));
    oss_append_free(NULL);
    CHECK(info == NULL);
    INVALID("client", oss_append_object(NULL, "bucket", "key", 0, NULL, 0, NULL, NULL, &result, &err));
    INVALID("bucket", oss_append_object(client, NULL, "key", 0, NULL, 0, NULL, NULL, &result, &err));
    INVALID("key", oss_append_object(client, "bucket", NULL, 0, NULL, 0, NULL, NULL, &result, &err));
    INVALID("data", oss_append_object(client, "bucket", "key", 0, NULL, 3, NULL, NULL, &result, &err));
    CHECK(result == NULL);
    INVALID("client", oss_spool_drain(NULL, "spool", &err));
    INVALID("dir", oss_spool_drain(client, NULL, &err));
    CHECK(result == NULL);

    /* A NULL err is allowed: the status alone still says what happened. */
    CHECK(oss_config_set_region(NULL, "cn-hangzhou", NULL) == OSS_ERR_INVALID_ARGUMENT);

    oss_client_free(client);
    oss_config_free(config);
    oss_append_options_free(options);
    return finish("misuse: all refused");
}
