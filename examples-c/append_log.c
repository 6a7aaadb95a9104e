/*
 * append_log: append log lines to an OSS appendable object as they come.
 *
 *   some_program | append_log [--flush-bytes N] [--flush-ms MS] [--spool DIR] oss://BUCKET/KEY
 *
 * Whole lines from standard input are gathered and appended when FLUSH_BYTES have gathered
 * (default 64 KiB) or FLUSH_MS after the first unsent line (default 1000 ms), and at the
 * end of input. A failed append keeps its lines and is tried again at the next flush,
 * so a network hiccup loses nothing and, since the appender settles every unknown
 * outcome, duplicates nothing. Endpoint and credentials come from the environment:
 * OSS_ENDPOINT, OSS_REGION, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_SESSION_TOKEN.
 *
 * With --spool DIR, whole lines go to a disk spool under DIR as soon as they are read (each
 * read's lines synced to disk before the next read), and a background thread uploads them
 * in requests of FLUSH_BYTES, or FLUSH_MS after they came: killed, or its machine down, it
 * loses none, and the next append_log --spool DIR for the same object uploads them first.
 */
#define _POSIX_C_SOURCE 200809L

#include "oss_append.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct pending {
    char *data;
    size_t len, cap;
    long long first_ms; /* when the oldest unsent line came; -1 when none is waiting */
};

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int add(struct pending *p, const char *data, size_t len) {
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len) cap *= 2;
        char *grown = realloc(p->data, cap);
        if (!grown) return 0;
        p->data = grown;
        p->cap = cap;
    }
    memcpy(p->data + p->len, data, len);
    p->len += len;
    if (p->first_ms < 0) p->first_ms = now_ms();
    return 1;
}

static void report(const char *what, oss_status s, oss_error *err) {
    const char *code = oss_error_code(err);
    fprintf(stderr, "append_log: %s: %s%s%s: %s\n", what, oss_status_str((int)s),
            code ? " " : "", code ? code : "", oss_error_message(err));
    oss_error_free(err);
}

/* Problems that pass: the lines stay pending and go with the next flush (spooled: an upload's
 * error, returned once by the next write, which took nothing). */
static int transient(oss_status s) {
    return s == OSS_ERR_TIMEOUT || s == OSS_ERR_NETWORK || s == OSS_ERR_UNAVAILABLE ||
           s == OSS_ERR_SERVER_ERROR;
}

/* Appends the pending whole lines (everything, at the end of input); what the object
 * stored is dropped from `p` even on failure, what it did not is kept. */
static oss_status flush(oss_append *append, struct pending *p, int eof) {
    size_t send = p->len;
    while (!eof && send > 0 && p->data[send - 1] != '\n') send--;
    if (send == 0) return OSS_OK;
    uint64_t before = 0, after = 0;
    oss_error *err = NULL;
    oss_status s = oss_append_position(append, &before, &err);
    if (s == OSS_OK) s = oss_append_write(append, (const uint8_t *)p->data, send, &err);
    if (s != OSS_OK) report("append", s, err);
    if (oss_append_position(append, &after, NULL) == OSS_OK && after > before) {
        size_t stored = (size_t)(after - before);
        memmove(p->data, p->data + stored, p->len - stored);
        p->len -= stored;
    }
    p->first_ms = p->len ? now_ms() : -1;
    return s;
}

int main(int argc, char **argv) {
    size_t flush_bytes = 64 * 1024;
    long long flush_ms = 1000;
    const char *target = NULL, *spool = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--flush-bytes") && i + 1 < argc) {
            flush_bytes = (size_t)strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--flush-ms") && i + 1 < argc) {
            flush_ms = strtoll(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--spool") && i + 1 < argc) {
            spool = argv[++i];
        } else if (!target && strncmp(argv[i], "oss://", 6) == 0) {
            target = argv[i];
        } else {
            target = NULL;
            break;
        }
    }
    const char *slash = target ? strchr(target + 6, '/') : NULL;
    if (!slash || slash == target + 6 || slash[1] == '\0' || flush_bytes == 0 || flush_ms <= 0) {
        fputs("usage: append_log [--flush-bytes N] [--flush-ms MS] [--spool DIR] oss://BUCKET/KEY\n",
              stderr);
        return 2;
    }
    char bucket[64];
    size_t bucket_len = (size_t)(slash - (target + 6));
    if (bucket_len >= sizeof bucket) {
        fprintf(stderr, "append_log: bucket name too long\n");
        return 2;
    }
    memcpy(bucket, target + 6, bucket_len);
    bucket[bucket_len] = '\0';

    oss_error *err = NULL;
    oss_config *config = oss_config_new();
    oss_client *client = NULL;
    oss_append_options *options = oss_append_options_new();
    oss_append *append = NULL;
    const char *endpoint = getenv("OSS_ENDPOINT"), *region = getenv("OSS_REGION");
    oss_status s = config && options ? OSS_OK : OSS_ERR_INTERNAL;
    if (s == OSS_OK) s = oss_config_set_endpoint(config, endpoint ? endpoint : "", &err);
    if (s == OSS_OK && region) s = oss_config_set_region(config, region, &err);
    if (s == OSS_OK) s = oss_config_set_credentials_from_env(config, &err);
    if (s == OSS_OK) s = oss_client_new(config, &client, &err);
    if (s == OSS_OK) s = oss_append_options_set_content_type(options, "text/plain; charset=utf-8", &err);
    if (s == OSS_OK && spool) {
        /* The spool holds up to 1 GiB on disk; a write waits while it is full. */
        s = oss_append_options_set_request_size(options, flush_bytes, &err);
        if (s == OSS_OK) {
            s = oss_append_options_set_buffer(options, OSS_MAX_BUFFER_CAPACITY, (uint64_t)flush_ms,
                                              true, &err);
        }
        if (s == OSS_OK) {
            s = oss_append_options_set_spool(options, spool, OSS_SPOOL_SYNC_EVERY_WRITE, 0, &err);
        }
    }
    if (s == OSS_OK) s = oss_append_open(client, bucket, slash + 1, options, &append, &err);
    oss_config_free(config);
    oss_append_options_free(options);
    if (s != OSS_OK) {
        report(target, s, err);
        oss_client_free(client);
        return 1;
    }

    struct pending pending = {NULL, 0, 0, -1};
    char chunk[1 << 16];
    int rc = 0, eof = 0;
    while (!eof) {
        int wait = -1;
        if (pending.first_ms >= 0) {
            long long left = pending.first_ms + flush_ms - now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        struct pollfd in = {STDIN_FILENO, POLLIN, 0};
        int ready = poll(&in, 1, wait);
        if (ready < 0 && errno != EINTR) {
            perror("append_log: poll");
            rc = 1;
            break;
        }
        if (ready > 0) {
            /* read(2), not stdio: lines buffered inside stdio would be invisible to poll. */
            ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                eof = 1;
            } else if (!add(&pending, chunk, (size_t)n)) {
                fprintf(stderr, "append_log: out of memory\n");
                rc = 1;
                break;
            }
        }
        int due = pending.first_ms >= 0 && now_ms() - pending.first_ms >= flush_ms;
        /* Spooled, lines go to the spool at once: the appender times the uploads. */
        if (eof || due || pending.len >= flush_bytes || spool) {
            s = flush(append, &pending, eof);
            if (spool && transient(s)) s = flush(append, &pending, eof);
            if (s != OSS_OK && (!transient(s) || eof)) {
                rc = 1;
                break;
            }
        }
    }
    if (pending.len > 0) {
        fprintf(stderr, "append_log: %zu bytes were not stored\n", pending.len);
    }
    uint64_t length = 0;
    if (oss_append_position(append, &length, NULL) == OSS_OK) {
        fprintf(stderr, "append_log: %s holds %" PRIu64 " bytes\n", target, length);
    }
    s = oss_append_close(append, &err);
    if (s != OSS_OK) {
        report("close", s, err);
        if (spool) {
            fprintf(stderr, "append_log: what was not stored stays in %s for the next run\n", spool);
        }
        oss_append_free(append);
        rc = 1;
    }
    oss_client_free(client);
    free(pending.data);
    return rc;
}
