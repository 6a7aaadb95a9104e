/*
 * Buffered-mode writes as a game loop or a log shipper makes them: COUNT writes of SIZE
 * bytes through oss_append_write on one buffered appender, each timed. Prints the caller's
 * writes per second and MB/s, the time one write takes (p50/p99/max), a plain memcpy of the
 * same sizes for comparison, and the time until everything is stored. With SPOOL_DIR the
 * buffer is a disk spool there, synced as SYNC says (none, interval or every-write;
 * interval: every 100 ms), and the time of one fdatasync on that disk is printed too. The
 * process's peak resident memory is taken once everything is stored.
 *
 *   buffered_writes ENDPOINT BUCKET KEY [COUNT [SIZE [SPOOL_DIR SYNC]]]
 *                                                           (credentials from the environment)
 */
#define _POSIX_C_SOURCE 200809L

#include "oss_append.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int fail(const char *what, oss_error *err) {
    fprintf(stderr, "buffered_writes: %s: %s\n", what, oss_error_message(err));
    oss_error_free(err);
    return 1;
}

/* The peak resident memory of this process in KiB (VmHWM), 0 where /proc does not say. */
static long peak_rss_kib(void) {
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (status && fgets(line, sizeof line, status)) {
        if (!strncmp(line, "VmHWM:", 6)) kib = strtol(line + 6, NULL, 10);
    }
    if (status) fclose(status);
    return kib;
}

/* What one small write and its fdatasync take in `dir`, the bound of every-write. */
static void print_sync_latency(const char *dir) {
    enum { ROUNDS = 200 };
    char path[4096];
    snprintf(path, sizeof path, "%s/sync-probe", dir);
    mkdir(dir, 0755);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror("buffered_writes: sync probe");
        return;
    }
    long long start = now_ns();
    for (int i = 0; i < ROUNDS; i++) {
        if (write(fd, "0123456789", 10) != 10 || fdatasync(fd) != 0) break;
    }
    printf("the disk under %s: a small write and fdatasync take %.1f us\n", dir,
           (double)(now_ns() - start) / ROUNDS / 1e3);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc < 4 || argc == 7) {
        fputs("usage: buffered_writes ENDPOINT BUCKET KEY [COUNT [SIZE [SPOOL_DIR SYNC]]]\n", stderr);
        return 2;
    }
    size_t count = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000000;
    size_t size = argc > 5 ? strtoul(argv[5], NULL, 10) : 100;
    const char *spool = argc > 7 ? argv[6] : NULL;
    int sync = OSS_SPOOL_SYNC_NONE;
    if (spool) {
        const char *names[] = {"none", "interval", "every-write"};
        sync = -1;
        for (int i = 0; i < 3; i++) {
            if (!strcmp(argv[7], names[i])) sync = i;
        }
        if (sync < 0) {
            fputs("buffered_writes: SYNC is none, interval or every-write\n", stderr);
            return 2;
        }
        print_sync_latency(spool);
    }
    oss_error *err = NULL;
    oss_config *config = oss_config_new();
    oss_client *client = NULL;
    oss_append_options *options = oss_append_options_new();
    oss_append *append = NULL;
    if (oss_config_set_endpoint(config, argv[1], &err) ||
        oss_config_set_region(config, "cn-hangzhou", &err) ||
        oss_config_set_credentials_from_env(config, &err) ||
        oss_client_new(config, &client, &err) ||
        oss_append_options_set_buffer(options, 256u << 20, 1000, true, &err) ||
        (spool && oss_append_options_set_spool(options, spool, sync, 100, &err)) ||
        oss_append_open(client, argv[2], argv[3], options, &append, &err)) {
        return fail("setting up", err);
    }
    uint8_t *line = malloc(size);
    long long *took = malloc(count * sizeof *took);
    for (size_t i = 0; i < size; i++) line[i] = (uint8_t)('a' + i % 26);

    long long start = now_ns();
    for (size_t i = 0; i < count; i++) {
        long long before = now_ns();
        if (oss_append_write(append, line, size, &err)) return fail("write", err);
        took[i] = now_ns() - before;
    }
    long long written = now_ns();
    if (oss_append_flush(append, 0, &err)) return fail("flush", err);
    long long stored = now_ns();
    /* Before the memcpy ring below; the timings array (8 bytes a write) is in it. */
    long peak_kib = peak_rss_kib();

    /* The same copies into a 64 MiB ring, for what "close to a memcpy" means here. */
    size_t ring_size = 64u << 20;
    uint8_t *ring = malloc(ring_size);
    size_t at = 0;
    long long copy_start = now_ns();
    for (size_t i = 0; i < count; i++) {
        if (at + size > ring_size) at = 0;
        memcpy(ring + at, line, size);
        at += size;
    }
    long long copied = now_ns();
    volatile uint8_t sink = ring[at / 2];
    (void)sink;

    qsort(took, count, sizeof *took, compare);
    double seconds = (double)(written - start) / 1e9;
    double bytes = (double)count * (double)size;
    printf("%zu writes of %zu bytes: %.0f writes/s, %.1f MB/s for the caller\n", count, size,
           (double)count / seconds, bytes / seconds / 1e6);
    printf("one write: p50 %.2f us, p99 %.2f us, max %.1f us; mean %.3f us (memcpy alone: %.3f us)\n",
           took[count / 2] / 1e3, took[count * 99 / 100] / 1e3, took[count - 1] / 1e3,
           (double)(written - start) / (double)count / 1e3,
           (double)(copied - copy_start) / (double)count / 1e3);
    printf("all stored after %.2f s (%.1f MB/s end to end); peak resident memory %.1f MiB\n",
           (double)(stored - start) / 1e9, bytes / ((double)(stored - start) / 1e9) / 1e6,
           peak_kib / 1024.0);
    if (oss_append_close(append, &err)) return fail("close", err);
    oss_append_options_free(options);
    oss_client_free(client);
    oss_config_free(config);
    free(line);
    free(took);
    free(ring);
    return 0;
}
