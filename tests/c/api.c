/*
 * The C API against the local server: api ENDPOINT BUCKET. Writes objects under "api/",
 * whose bytes tests/c_abi.rs checks afterwards; exits 0 when every check here passed.
 */
#include "oss_append.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static const char *endpoint, *bucket;

/* The pattern tests/c_abi.rs expects: byte i of a run seeded s is (i * 7 + s) % 251. */
static void pattern(uint8_t *out, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; i++) out[i] = (uint8_t)((i * 7 + seed) % 251);
}

static uint64_t crc_of(const uint8_t *data, size_t len) {
    uint64_t crc = 0;
    EXPECT(OSS_OK, oss_crc64_update(&crc, data, len, &err));
    return crc;
}

struct credentials_state {
    int calls, freed;
    const char *secret;
};

static bool give_credentials(void *user_data, oss_credentials *out) {
    struct credentials_state *state = user_data;
    state->calls++;
    return oss_credentials_set(out, "c-test-ak", state->secret, NULL, NULL) == OSS_OK;
}

static void free_credentials(void *user_data) {
    ((struct credentials_state *)user_data)->freed++;
}

static oss_client *client_with(struct credentials_state *state, int version) {
    oss_config *config = oss_config_new();
    oss_client *client = NULL;
    EXPECT(OSS_OK, oss_config_set_endpoint(config, endpoint, &err));
    EXPECT(OSS_OK, oss_config_set_region(config, "cn-hangzhou", &err));
    EXPECT(OSS_OK, oss_config_set_signature_version(config, version, &err));
    EXPECT(OSS_OK, oss_config_set_retry(config, 2, 10, 50, &err));
    EXPECT(OSS_OK, oss_config_set_credentials_callback(config, give_credentials, state,
                                                       free_credentials, &err));
    EXPECT(OSS_OK, oss_client_new(config, &client, &err));
    oss_config_free(config);
    return client;
}

struct log_state {
    int warnings, freed;
    char last[512];
};

static void on_log(void *user_data, int level, const char *message) {
    struct log_state *log = user_data;
    if (level == OSS_LOG_WARN) log->warnings++;
    snprintf(log->last, sizeof log->last, "%s", message);
}

static void free_log(void *user_data) {
    ((struct log_state *)user_data)->freed++;
}

struct reader {
    const uint8_t *data;
    size_t len, at, piece;
};

/* oss_read_fn handing out small pieces, as a socket or a pipe would. */
static int read_pieces(void *user_data, uint8_t *buf, size_t len, size_t *read) {
    struct reader *r = user_data;
    size_t n = r->len - r->at;
    if (n > r->piece) n = r->piece;
    if (n > len) n = len;
    memcpy(buf, r->data + r->at, n);
    r->at += n;
    *read = n;
    return 0;
}

static int read_failing(void *user_data, uint8_t *buf, size_t len, size_t *read) {
    (void)user_data;
    (void)buf;
    (void)len;
    (void)read;
    return 5; /* EIO */
}

struct progress {
    uint64_t calls, last, stop_after;
    int64_t total;
    oss_append *self;
    oss_status reentry;
};

static bool on_progress(void *user_data, uint64_t increment, uint64_t transferred, int64_t total) {
    struct progress *p = user_data;
    p->calls++;
    if (increment == 0 || transferred < increment) failures++;
    p->last = transferred;
    p->total = total;
    if (p->self) {
        /* The appender is busy in this very call: a nested call is refused, not a deadlock. */
        uint64_t position;
        p->reentry = oss_append_position(p->self, &position, NULL);
    }
    return p->stop_after == 0 || p->calls < p->stop_after;
}

struct rolls {
    int calls;
    char keys[4][32];
    uint64_t lengths[4], crcs[4];
};

static void on_roll(void *user_data, const char *finished_key, uint64_t length, uint64_t crc64) {
    struct rolls *r = user_data;
    if (r->calls < 4) {
        snprintf(r->keys[r->calls], sizeof r->keys[0], "%s", finished_key);
        r->lengths[r->calls] = length;
        r->crcs[r->calls] = crc64;
    }
    r->calls++;
}

struct worker {
    oss_client *client;
    const oss_append_options *options;
    char key[32];
    oss_status status;
};

/* One appender per thread, all on one shared client. */
static void *work(void *arg) {
    struct worker *w = arg;
    uint8_t data[20000];
    pattern(data, sizeof data, 1);
    oss_append *append = NULL;
    w->status = oss_append_open(w->client, bucket, w->key, w->options, &append, NULL);
    for (int i = 0; i < 5 && w->status == OSS_OK; i++) {
        w->status = oss_append_write(append, data, sizeof data, NULL);
    }
    if (w->status == OSS_OK) {
        w->status = oss_append_close(append, NULL);
    } else {
        oss_append_free(append);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fputs("usage: api ENDPOINT BUCKET\n", stderr);
        return 2;
    }
    endpoint = argv[1];
    bucket = argv[2];
    enum { SIZE = 100000 };
    static uint8_t data[SIZE];
    pattern(data, SIZE, 1);

    struct credentials_state state = {0, 0, "c-test-sk"};
    oss_client *client = client_with(&state, OSS_SIGNATURE_V4);
    oss_append_options *options = oss_append_options_new();
    EXPECT(OSS_OK, oss_append_options_set_request_size(options, 30000, &err));
    EXPECT(OSS_OK, oss_append_options_set_content_type(options, "application/x-test", &err));
    EXPECT(OSS_OK, oss_append_options_add_metadata(options, "origin", "api.c", &err));

    /* write: split into requests, position and CRC follow, stat agrees. */
    oss_append *append = NULL;
    struct progress progress = {0, 0, 0, 0, NULL, OSS_OK};
    EXPECT(OSS_OK, oss_append_options_set_progress(options, on_progress, &progress, &err));
    EXPECT(OSS_OK, oss_append_open(client, bucket, "api/write", options, &append, &err));
    progress.self = append;
    EXPECT(OSS_OK, oss_append_write(append, data, SIZE, &err));
    EXPECT(OSS_OK, oss_append_write(append, NULL, 0, &err));
    CHECK(progress.calls == 4 && progress.last == SIZE && progress.total == SIZE);
    CHECK(progress.reentry == OSS_ERR_INVALID_ARGUMENT);
    uint64_t position = 0, crc = 0;
    EXPECT(OSS_OK, oss_append_position(append, &position, &err));
    EXPECT(OSS_OK, oss_append_crc64(append, &crc, &err));
    CHECK(position == SIZE && crc == crc_of(data, SIZE));
    oss_object_info *info = NULL;
    EXPECT(OSS_OK, oss_append_stat(append, &info, &err));
    {
        uint64_t info_crc = 0;
        const char *name = NULL, *value = NULL;
        CHECK(oss_object_info_length(info) == SIZE);
        CHECK(oss_object_info_crc64(info, &info_crc) && info_crc == crc);
        CHECK(oss_object_info_type(info) == OSS_OBJECT_APPENDABLE);
        CHECK(oss_object_info_last_modified(info) > 0);
        CHECK(oss_object_info_etag(info)[0] == '"');
        CHECK(strlen(oss_object_info_request_id(info)) == 24);
        CHECK(oss_object_info_sealed_time(info) == -1 && !oss_object_info_version_id(info));
        CHECK(!strcmp(oss_object_info_content_type(info), "application/x-test"));
        CHECK(oss_object_info_metadata_count(info) == 1);
        CHECK(oss_object_info_metadata(info, 0, &name, &value));
        CHECK(!strcmp(name, "origin") && !strcmp(value, "api.c"));
        CHECK(!oss_object_info_metadata(info, 1, &name, &value));
        CHECK(!oss_object_info_metadata(info, 0, NULL, &value));
    }
    oss_object_info_free(info);
    EXPECT(OSS_OK, oss_append_close(append, &err));

    /* seal: a buffered appender flushes, then seals at its position; the object takes no
     * more appends, and stat says since when. Closing seals again, which changes nothing. */
    {
        oss_append_options *sealing = oss_append_options_new();
        EXPECT(OSS_OK, oss_append_options_set_buffer(sealing, 4096, 60000, true, &err));
        EXPECT(OSS_OK, oss_append_options_set_seal_on_close(sealing, true, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/sealed", sealing, &append, &err));
        EXPECT(OSS_OK, oss_append_write(append, data, 100, &err));
        EXPECT(OSS_OK, oss_append_seal(append, &err));
        EXPECT(OSS_ERR_OBJECT_NOT_APPENDABLE, oss_append_write(append, data, 1, &err));
        EXPECT(OSS_OK, oss_append_stat(append, &info, &err));
        CHECK(oss_object_info_length(info) == 100);
        CHECK(oss_object_info_sealed_time(info) >= oss_object_info_last_modified(info));
        CHECK(oss_object_info_sealed_time(info) > 1700000000);
        oss_object_info_free(info);
        EXPECT(OSS_OK, oss_append_close(append, &err));
        EXPECT(OSS_ERR_OBJECT_NOT_APPENDABLE,
               oss_append_open(client, bucket, "api/sealed", NULL, &append, &err));
        oss_append_options_free(sealing);
    }

    /* write_from: a stream in small pieces; a failing reader is OSS_ERR_IO. */
    progress = (struct progress){0, 0, 0, 0, NULL, OSS_OK};
    struct reader reader = {data, SIZE, 0, 777};
    uint64_t written = 0;
    EXPECT(OSS_OK, oss_append_open(client, bucket, "api/stream", options, &append, &err));
    EXPECT(OSS_OK, oss_append_write_from(append, read_pieces, &reader, &written, &err));
    CHECK(written == SIZE && progress.total == -1 && progress.last == SIZE);
    {
        oss_error *err = NULL;
        CHECK(oss_append_write_from(append, read_failing, NULL, &written, &err) == OSS_ERR_IO);
        CHECK(strstr(oss_error_message(err), "error 5") != NULL);
        oss_error_free(err);
    }
    CHECK(written == SIZE);

    /* write_file appends a whole file; a missing one is OSS_ERR_IO naming it. */
    FILE *file = fopen("api-input.bin", "wb");
    CHECK(file && fwrite(data, 1, 5000, file) == 5000);
    fclose(file);
    EXPECT(OSS_OK, oss_append_write_file(append, "api-input.bin", &written, &err));
    CHECK(written == 5000);
    {
        oss_error *err = NULL;
        CHECK(oss_append_write_file(append, "no-such-file.bin", NULL, &err) == OSS_ERR_IO);
        CHECK(strstr(oss_error_message(err), "no-such-file.bin") != NULL);
        oss_error_free(err);
    }
    remove("api-input.bin");
    EXPECT(OSS_OK, oss_append_position(append, &position, &err));
    CHECK(position == SIZE + 5000);
    EXPECT(OSS_OK, oss_append_close(append, &err));

    /* Cancelling from the progress callback keeps what was stored. */
    progress = (struct progress){0, 0, 2, 0, NULL, OSS_OK};
    EXPECT(OSS_OK, oss_append_open(client, bucket, "api/cancel", options, &append, &err));
    EXPECT(OSS_ERR_CANCELLED, oss_append_write(append, data, SIZE, &err));
    EXPECT(OSS_OK, oss_append_position(append, &position, &err));
    CHECK(position == 60000);
    oss_append_free(append);

    /* Buffered: writes return once copied; flush waits for storage; close flushes. */
    {
        oss_append_options *buffered = oss_append_options_new();
        EXPECT(OSS_OK, oss_append_options_set_request_size(buffered, 4096, &err));
        EXPECT(OSS_OK, oss_append_options_set_buffer(buffered, 16384, 60000, true, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/buffered", buffered, &append, &err));
        for (size_t at = 0; at < SIZE; at += 100) {
            EXPECT(OSS_OK, oss_append_write(append, data + at, 100, &err));
        }
        EXPECT(OSS_OK, oss_append_position(append, &position, &err));
        CHECK(position == SIZE);
        EXPECT(OSS_OK, oss_append_flush(append, 0, &err));
        uint64_t pending = 1;
        EXPECT(OSS_OK, oss_append_pending(append, &pending, &err));
        CHECK(pending == 0);
        EXPECT(OSS_OK, oss_append_crc64(append, &crc, &err));
        CHECK(crc == crc_of(data, SIZE));
        EXPECT(OSS_OK, oss_append_write(append, data, 10, &err));
        EXPECT(OSS_OK, oss_append_close(append, &err));
        oss_append_options_free(buffered);

        /* Not waiting when full: a write larger than the buffer can never fit. */
        buffered = oss_append_options_new();
        EXPECT(OSS_OK, oss_append_options_set_buffer(buffered, 100, 60000, false, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/buffered-small", buffered, &append, &err));
        EXPECT(OSS_ERR_INVALID_ARGUMENT, oss_append_write(append, data, 101, &err));
        EXPECT(OSS_OK, oss_append_write(append, data, 100, &err));
        EXPECT(OSS_OK, oss_append_close(append, &err));
        oss_append_options_free(buffered);
    }

    /* After a conflict no retry mends, a buffered appender's pending bytes come back. */
    {
        oss_append_options *buffered = oss_append_options_new();
        oss_append *other = NULL;
        EXPECT(OSS_OK, oss_append_options_set_buffer(buffered, 16384, 60000, true, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/taken-back", buffered, &append, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/taken-back", NULL, &other, &err));
        EXPECT(OSS_OK, oss_append_write(other, (const uint8_t *)"xyz", 3, &err));
        EXPECT(OSS_OK, oss_append_close(other, &err));
        EXPECT(OSS_OK, oss_append_write(append, data, 60, &err));
        EXPECT(OSS_OK, oss_append_write(append, data + 60, 40, &err));
        EXPECT(OSS_ERR_CONFLICT, oss_append_flush(append, 0, &err));
        uint8_t back[128];
        size_t copied = 0, total = 0;
        do {
            EXPECT(OSS_OK, oss_append_read_pending(append, total, back + total, 32, &copied, &err));
            total += copied;
        } while (copied > 0 && total + 32 <= sizeof back);
        CHECK(total == 100 && memcmp(back, data, 100) == 0);
        oss_append_free(append);
        oss_append_options_free(buffered);
    }

    /* The one-request append: a wrong position reports OSS's answer in full. */
    oss_append_result *result = NULL;
    {
        oss_error *err = NULL;
        uint64_t next = 0, at = 0;
        oss_status s = oss_append_object(client, bucket, "api/write", 5, data, 10, NULL, NULL,
                                         &result, &err);
        CHECK(s == OSS_ERR_POSITION_NOT_EQUAL_TO_LENGTH);
        CHECK(oss_error_status(err) == s && oss_error_http_status(err) == 409);
        CHECK(oss_error_code(err) && !strcmp(oss_error_code(err), "PositionNotEqualToLength"));
        CHECK(oss_error_request_id(err) && strlen(oss_error_request_id(err)) == 24);
        CHECK(oss_error_next_position(err, &next) && next == SIZE);
        CHECK(!oss_error_server_state(err, &at, &at));
        oss_error_free(err);
    }
    EXPECT(OSS_OK, oss_append_object(client, bucket, "api/write", SIZE, data, 10, NULL, &crc,
                                     &result, &err));
    CHECK(oss_append_result_next_position(result) == SIZE + 10);
    CHECK(strlen(oss_append_result_request_id(result)) == 24);
    CHECK(oss_append_result_etag(result) && !oss_append_result_version_id(result));
    {
        uint64_t whole = crc;
        EXPECT(OSS_OK, oss_crc64_update(&whole, data, 10, &err));
        CHECK(oss_append_result_crc64(result) == whole);
    }
    oss_append_result_free(result);
    /* A wrong previous CRC is caught as a mismatch with both sides. */
    {
        oss_error *err = NULL;
        uint64_t wrong = 1, length = 0, server_crc = 0;
        CHECK(oss_append_object(client, bucket, "api/write", SIZE + 10, data, 1, NULL, &wrong,
                                NULL, &err) == OSS_ERR_CRC_MISMATCH);
        CHECK(oss_error_server_state(err, &length, &server_crc) && length == SIZE + 11);
        oss_error_free(err);
    }

    /* Spooled: the buffer is files under a directory, which a clean close removes. An
     * appender freed unclosed leaves its bytes there: the next open uploads them first, or
     * a drain does. A spool needs a buffer, and has one owner. */
    {
        oss_append_options *spooled = oss_append_options_new();
        oss_append *other = NULL;
        EXPECT(OSS_OK, oss_append_options_set_request_size(spooled, 4096, &err));
        EXPECT(OSS_OK, oss_append_options_set_spool(spooled, "spool", OSS_SPOOL_SYNC_EVERY_WRITE,
                                                    0, &err));
        EXPECT(OSS_ERR_INVALID_ARGUMENT,
               oss_append_open(client, bucket, "api/spooled", spooled, &append, &err));
        EXPECT(OSS_OK, oss_append_options_set_buffer(spooled, 1 << 20, 60000, true, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/spooled", spooled, &append, &err));
        EXPECT(OSS_ERR_SPOOL_IN_USE,
               oss_append_open(client, bucket, "api/spooled", spooled, &other, &err));
        for (size_t at = 0; at < 10000; at += 100) {
            EXPECT(OSS_OK, oss_append_write(append, data + at, 100, &err));
        }
        oss_append_free(append);
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/spooled", spooled, &append, &err));
        EXPECT(OSS_OK, oss_append_position(append, &position, &err));
        CHECK(position == 10000);
        EXPECT(OSS_OK, oss_append_write(append, data, 10, &err));
        EXPECT(OSS_OK, oss_append_close(append, &err));
        const char *left[] = {"api/drained-1", "api/drained-2"};
        for (int i = 0; i < 2; i++) {
            EXPECT(OSS_OK, oss_append_open(client, bucket, left[i], spooled, &append, &err));
            EXPECT(OSS_OK, oss_append_write(append, data, 5000, &err));
            oss_append_free(append);
        }
        EXPECT(OSS_OK, oss_spool_drain(client, "spool", &err));
        EXPECT(OSS_OK, oss_spool_drain(client, "never-made", &err));
        /* A NULL directory takes the spool off: "unspooled" is never made. */
        EXPECT(OSS_OK, oss_append_options_set_spool(spooled, "unspooled", OSS_SPOOL_SYNC_NONE, 0,
                                                    &err));
        EXPECT(OSS_OK, oss_append_options_set_spool(spooled, NULL, 0, 0, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/unspooled", spooled, &append, &err));
        EXPECT(OSS_OK, oss_append_close(append, &err));
        oss_append_options_free(spooled);
    }

    /* An unbuffered appender has nothing pending and nothing to flush. */
    {
        uint64_t pending = 1;
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/write", NULL, &append, &err));
        EXPECT(OSS_OK, oss_append_pending(append, &pending, &err));
        EXPECT(OSS_OK, oss_append_flush(append, 1, &err));
        CHECK(pending == 0);
        oss_append_free(append);
    }

    /* The callback was asked once; a bad secret from it is the server's SignatureDoesNotMatch. */
    CHECK(state.calls == 1);
    struct credentials_state wrong = {0, 0, "not-the-secret"};
    oss_client *wrong_client = client_with(&wrong, OSS_SIGNATURE_V1);
    {
        oss_error *err = NULL;
        CHECK(oss_append_open(wrong_client, bucket, "api/denied", NULL, &append, &err) ==
              OSS_ERR_SIGNATURE_MISMATCH);
        CHECK(oss_error_code(err) && !strcmp(oss_error_code(err), "SignatureDoesNotMatch"));
        CHECK(strstr(oss_error_message(err), "not-the-secret") == NULL);
        oss_error_free(err);
    }
    oss_client_free(wrong_client);
    CHECK(wrong.freed == 1);

    /* Threads share one client, each with its own appender; every other one buffered. */
    enum { THREADS = 6 };
    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    oss_append_options *buffered = oss_append_options_new();
    EXPECT(OSS_OK, oss_append_options_set_request_size(buffered, 7000, &err));
    EXPECT(OSS_OK, oss_append_options_set_buffer(buffered, 30000, 5, true, &err));
    for (int i = 0; i < THREADS; i++) {
        workers[i].client = client;
        workers[i].options = i % 2 ? buffered : NULL;
        snprintf(workers[i].key, sizeof workers[i].key, "api/thread-%d", i);
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].status == OSS_OK);
    }
    oss_append_options_free(buffered);

    /* The log callback hears of retries, and never of the secret. */
    {
        struct log_state log = {0, 0, ""};
        oss_config *config = oss_config_new();
        oss_client *unreachable = NULL;
        EXPECT(OSS_OK, oss_config_set_endpoint(config, "http://127.0.0.1:1", &err));
        EXPECT(OSS_OK, oss_config_set_region(config, "cn-hangzhou", &err));
        EXPECT(OSS_OK, oss_config_set_credentials(config, "c-test-ak", "c-test-sk", NULL, &err));
        EXPECT(OSS_OK, oss_config_set_retry(config, 3, 1, 5, &err));
        EXPECT(OSS_OK, oss_config_set_log(config, on_log, &log, free_log, &err));
        EXPECT(OSS_OK, oss_client_new(config, &unreachable, &err));
        oss_config_free(config);
        EXPECT(OSS_ERR_NETWORK, oss_append_open(unreachable, bucket, "api/unreachable", NULL,
                                                &append, &err));
        CHECK(log.warnings == 2 && strstr(log.last, "retrying") != NULL);
        CHECK(strstr(log.last, "c-test-sk") == NULL);
        oss_client_free(unreachable);
        CHECK(log.freed == 1);
    }

    /* A rolling stream: objects of at most 10 bytes, writes never split, each finished
       object reported with the server's length and CRC; the key accessor cuts as snprintf. */
    {
        struct rolls rolls = {0};
        oss_append_options *roll = oss_append_options_new();
        EXPECT(OSS_OK, oss_append_options_set_roll(roll, 10, 0, &err));
        EXPECT(OSS_OK, oss_append_options_set_roll_callback(roll, on_roll, &rolls, &err));
        EXPECT(OSS_ERR_INVALID_ARGUMENT,
               oss_append_open(client, bucket, "api/roll-no-marker", roll, &append, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/roll-{n}.log", roll, &append, &err));
        for (int i = 0; i < 3; i++) EXPECT(OSS_OK, oss_append_write(append, data, 6, &err));
        CHECK(rolls.calls == 2 && strcmp(rolls.keys[0], "api/roll-000000.log") == 0);
        CHECK(strcmp(rolls.keys[1], "api/roll-000001.log") == 0);
        CHECK(rolls.lengths[0] == 6 && rolls.crcs[0] == crc_of(data, 6));
        uint64_t stream = 0, position = 0;
        EXPECT(OSS_OK, oss_append_stream_position(append, &stream, &err));
        EXPECT(OSS_OK, oss_append_position(append, &position, &err));
        CHECK(stream == 18 && position == 6);
        char key[8];
        size_t length = 0;
        EXPECT(OSS_OK, oss_append_key(append, key, sizeof key, &length, &err));
        CHECK(length == strlen("api/roll-000002.log") && strcmp(key, "api/rol") == 0);
        EXPECT(OSS_OK, oss_append_key(append, NULL, 0, &length, &err));
        CHECK(length == strlen("api/roll-000002.log"));
        EXPECT(OSS_OK, oss_append_close(append, &err));
        oss_append_free(append);

        /* Buffered: the same objects, reported by the upload thread; the position is the
           current object's as written. Not with a spool. */
        memset(&rolls, 0, sizeof rolls);
        EXPECT(OSS_OK, oss_append_options_set_buffer(roll, 4096, 60000, true, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "api/broll-{n}.log", roll, &append, &err));
        for (int i = 0; i < 3; i++) EXPECT(OSS_OK, oss_append_write(append, data, 6, &err));
        EXPECT(OSS_OK, oss_append_position(append, &position, &err));
        CHECK(position == 6);
        EXPECT(OSS_OK, oss_append_flush(append, 0, &err));
        CHECK(rolls.calls == 2 && strcmp(rolls.keys[1], "api/broll-000001.log") == 0);
        CHECK(rolls.lengths[1] == 6 && rolls.crcs[1] == crc_of(data, 6));
        EXPECT(OSS_OK, oss_append_key(append, NULL, 0, &length, &err));
        CHECK(length == strlen("api/broll-000002.log"));
        EXPECT(OSS_OK, oss_append_stream_position(append, &stream, &err));
        CHECK(stream == 18);
        EXPECT(OSS_OK, oss_append_close(append, &err));
        oss_append_free(append);
        EXPECT(OSS_OK, oss_append_options_set_spool(roll, "target/api-roll-spool",
                                                    OSS_SPOOL_SYNC_NONE, 0, &err));
        {
            oss_error *err = NULL;
            CHECK(oss_append_open(client, bucket, "api/sroll-{n}.log", roll, &append, &err) ==
                  OSS_ERR_INVALID_ARGUMENT);
            CHECK(strstr(oss_error_message(err), "spool") != NULL);
            oss_error_free(err);
        }
        oss_append_options_free(roll);

        /* A roll callback without rolling finishes nothing: the open says so. */
        oss_append_options *callback_only = oss_append_options_new();
        EXPECT(OSS_OK, oss_append_options_set_roll_callback(callback_only, on_roll, &rolls, &err));
        {
            oss_error *err = NULL;
            CHECK(oss_append_open(client, bucket, "api/no-roll", callback_only, &append, &err) ==
                  OSS_ERR_INVALID_ARGUMENT);
            CHECK(strstr(oss_error_message(err), "oss_append_options_set_roll") != NULL);
            oss_error_free(err);
        }
        oss_append_options_free(callback_only);
    }

    /* An appender outlives its client; user_data is released once both are gone. */
    EXPECT(OSS_OK, oss_append_open(client, bucket, "api/outlive", NULL, &append, &err));
    oss_client_free(client);
    CHECK(state.freed == 0);
    EXPECT(OSS_OK, oss_append_write(append, data, 10, &err));
    EXPECT(OSS_OK, oss_append_close(append, &err));
    CHECK(state.freed == 1);

    oss_append_options_free(options);
    return finish("api: all passed");
}
