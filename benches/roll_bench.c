/*
 * What rolling costs: COUNT writes of SIZE bytes through one appender, with rolling off
 * (one object) and on (objects of OBJECT_BYTES, the key a template), in ROUNDS rounds that
 * alternate which goes first, so drift on a shared machine falls on both. Buffered (a
 * 32 MiB buffer, so a long run waits for the upload and its rate is the upload's) or direct
 * (one append a write). Prints, for each, the median of the writer's rate (first write to
 * last returned) and of the end-to-end rate (to everything stored, then closed), the
 * objects a rolling run made, and rolling's rate as a share of the plain one.
 *
 *   roll_bench ENDPOINT BUCKET buffered|direct COUNT SIZE OBJECT_BYTES ROUNDS
 *                                                           (credentials from the environment)
 */
#define _POSIX_C_SOURCE 200809L

#include "oss_append.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_ROUNDS = 15 };

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int n) {
    qsort(values, (size_t)n, sizeof *values, compare);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static void count_roll(void *user_data, const char *finished_key, uint64_t length,
                       uint64_t crc64) {
    (void)finished_key, (void)length, (void)crc64;
    ++*(int *)user_data;
}

struct run {
    double writes_per_s, stored_per_s;
    int objects;
};

/* One run: open `key` (a template when rolling), COUNT writes of `line`, flush, close. */
static int run(oss_client *client, const char *bucket, const char *key, bool buffered,
               size_t count, size_t size, uint64_t object_bytes, const uint8_t *line,
               struct run *out) {
    oss_error *err = NULL;
    oss_append_options *options = oss_append_options_new();
    oss_append *append = NULL;
    int rolls = 0;
    if ((buffered && oss_append_options_set_buffer(options, 32u << 20, 1000, true, &err)) ||
        (object_bytes && (oss_append_options_set_roll(options, object_bytes, 0, &err) ||
                          oss_append_options_set_roll_callback(options, count_roll, &rolls,
                                                               &err))) ||
        oss_append_open(client, bucket, key, options, &append, &err)) {
        goto failed;
    }
    long long start = now_ns();
    for (size_t i = 0; i < count; i++) {
        if (oss_append_write(append, line, size, &err)) goto failed;
    }
    long long written = now_ns();
    if (oss_append_flush(append, 0, &err) || oss_append_close(append, &err)) goto failed;
    long long stored = now_ns();
    out->writes_per_s = (double)count / ((double)(written - start) / 1e9);
    out->stored_per_s = (double)count / ((double)(stored - start) / 1e9);
    out->objects = rolls + 1;
    oss_append_free(append);
    oss_append_options_free(options);
    return 0;
failed:
    fprintf(stderr, "roll_bench: %s: %s\n", key, oss_error_message(err));
    oss_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fputs("usage: roll_bench ENDPOINT BUCKET buffered|direct COUNT SIZE OBJECT_BYTES ROUNDS\n",
              stderr);
        return 2;
    }
    bool buffered = !strcmp(argv[3], "buffered");
    size_t count = strtoul(argv[4], NULL, 10), size = strtoul(argv[5], NULL, 10);
    uint64_t object_bytes = strtoull(argv[6], NULL, 10);
    int rounds = atoi(argv[7]);
    if ((!buffered && strcmp(argv[3], "direct")) || !count || !size || !object_bytes ||
        rounds < 1 || rounds > MAX_ROUNDS) {
        fputs("roll_bench: buffered or direct, COUNT, SIZE, OBJECT_BYTES > 0, ROUNDS 1..15\n",
              stderr);
        return 2;
    }
    oss_error *err = NULL;
    oss_config *config = oss_config_new();
    oss_client *client = NULL;
    if (oss_config_set_endpoint(config, argv[1], &err) ||
        oss_config_set_region(config, "cn-hangzhou", &err) ||
        oss_config_set_credentials_from_env(config, &err) ||
        oss_client_new(config, &client, &err)) {
        fprintf(stderr, "roll_bench: setting up: %s\n", oss_error_message(err));
        return 1;
    }
    uint8_t *line = malloc(size);
    for (size_t i = 0; i < size; i++) line[i] = (uint8_t)(i + 1 == size ? '\n' : 'a' + i % 26);

    double plain_w[MAX_ROUNDS], plain_s[MAX_ROUNDS], roll_w[MAX_ROUNDS], roll_s[MAX_ROUNDS];
    int objects = 0;
    for (int r = 0; r < rounds; r++) {
        char plain_key[128], roll_key[128];
        snprintf(plain_key, sizeof plain_key, "roll-bench/%s-plain-%d", argv[3], r);
        snprintf(roll_key, sizeof roll_key, "roll-bench/%s-roll-%d-{n}", argv[3], r);
        struct run plain, rolling;
        for (int k = 0; k < 2; k++) {
            /* Odd rounds roll first. */
            bool roll_now = (k == 0) == (r % 2 == 1);
            if (run(client, argv[2], roll_now ? roll_key : plain_key, buffered, count, size,
                    roll_now ? object_bytes : 0, line, roll_now ? &rolling : &plain)) {
                return 1;
            }
        }
        plain_w[r] = plain.writes_per_s, plain_s[r] = plain.stored_per_s;
        roll_w[r] = rolling.writes_per_s, roll_s[r] = rolling.stored_per_s;
        objects = rolling.objects;
    }
    double pw = median(plain_w, rounds), ps = median(plain_s, rounds);
    double rw = median(roll_w, rounds), rs = median(roll_s, rounds);
    printf("%zu %s writes of %zu B, medians of %d rounds; rolling at %llu B made %d objects\n",
           count, argv[3], size, rounds, (unsigned long long)object_bytes, objects);
    printf("  one object: %.0f writes/s for the writer, %.0f writes/s stored\n", pw, ps);
    printf("  rolling:    %.0f writes/s for the writer, %.0f writes/s stored\n", rw, rs);
    printf("  rolling keeps %.1f%% of the writer's rate and %.1f%% of the stored rate "
           "(target: at least 95%%)\n",
           100 * rw / pw, 100 * rs / ps);
    free(line);
    oss_client_free(client);
    oss_config_free(config);
    return 0;
}
