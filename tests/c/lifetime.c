/*
 * Handles freed during their own calls: lifetime ENDPOINT BUCKET. Each case frees a handle
 * from one of its callbacks (progress, read, log, credentials) or from another thread while
 * a call on it is under way, and checks what the header promises: the call goes on without
 * its callbacks (stopping with OSS_ERR_CLOSED where it would have called one), no callback
 * starts after the free returned, and nothing is touched once the handle is released.
 * tests/c_abi.rs runs it under ASan and under valgrind, sets the server's faults, and checks
 * the objects' bytes afterwards. Every wait is for an event (a semaphore, a thread's end).
 */
#include "oss_append.h"

#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

static const char *endpoint, *bucket;
static uint8_t data[20000];

static oss_config *new_config(void) {
    oss_config *config = oss_config_new();
    EXPECT(OSS_OK, oss_config_set_endpoint(config, endpoint, &err));
    EXPECT(OSS_OK, oss_config_set_region(config, "cn-hangzhou", &err));
    EXPECT(OSS_OK, oss_config_set_retry(config, 3, 1, 5, &err));
    return config;
}

static oss_client *new_client(oss_config *config) {
    oss_client *client = NULL;
    EXPECT(OSS_OK, oss_config_set_credentials_from_env(config, &err));
    EXPECT(OSS_OK, oss_client_new(config, &client, &err));
    return client;
}

static oss_append_options *unbuffered(size_t request_size) {
    oss_append_options *options = oss_append_options_new();
    EXPECT(OSS_OK, oss_append_options_set_request_size(options, request_size, &err));
    return options;
}

static oss_append_options *buffered(size_t request_size, size_t capacity) {
    oss_append_options *options = unbuffered(request_size);
    EXPECT(OSS_OK, oss_append_options_set_buffer(options, capacity, 60000, true, &err));
    return options;
}

/* The threads of this process, from /proc: how a test sees an upload thread end. */
static int threads(void) {
    DIR *tasks = opendir("/proc/self/task");
    int count = 0;
    if (!tasks) return -1;
    for (struct dirent *entry; (entry = readdir(tasks));) count += entry->d_name[0] != '.';
    closedir(tasks);
    return count;
}

/* Waits (at most 20 s, for a machine under load) until the process has `want` threads. */
static bool threads_become(int want) {
    for (int i = 0; i < 2000; i++) {
        if (threads() == want) return true;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return false;
}

/* State of one case's callbacks. */
struct watch {
    oss_append *self;
    atomic_int calls;
    /* Set by the freeing thread once oss_append_free has returned. */
    atomic_int freed;
    /* Callbacks that started after that: the promise says none. */
    atomic_int late;
    sem_t event;
};

static void watch_init(struct watch *w) {
    memset(w, 0, sizeof *w);
    sem_init(&w->event, 0, 0);
}

/* Unbuffered: the progress callback frees its appender after the first request. */
static bool free_in_progress(void *user_data, uint64_t increment, uint64_t transferred,
                             int64_t total) {
    struct watch *w = user_data;
    (void)increment, (void)transferred, (void)total;
    if (atomic_load(&w->freed)) atomic_fetch_add(&w->late, 1);
    if (atomic_fetch_add(&w->calls, 1) == 0) {
        oss_append_free(w->self);
        atomic_store(&w->freed, 1);
    }
    return true;
}

/* A rolling stream's callback frees its appender at the first object it finishes (the
 * stream's first, of 1000 bytes). */
static void free_in_roll(void *user_data, const char *finished_key, uint64_t length,
                         uint64_t crc64) {
    struct watch *w = user_data;
    (void)crc64;
    if (atomic_load(&w->freed)) atomic_fetch_add(&w->late, 1);
    const char *number = strrchr(finished_key, '-');
    if (!number || strcmp(number, "-000000") != 0 || length != 1000) failures++;
    if (atomic_fetch_add(&w->calls, 1) == 0) {
        oss_append_free(w->self);
        atomic_store(&w->freed, 1);
        sem_post(&w->event);
    }
}

/* The read callback frees its appender on its third piece of ten, which it still hands
 * over. */
static int free_in_read(void *user_data, uint8_t *buf, size_t len, size_t *read) {
    struct watch *w = user_data;
    if (atomic_load(&w->freed)) atomic_fetch_add(&w->late, 1);
    int call = atomic_fetch_add(&w->calls, 1);
    /* Ten pieces, then the end: a read that went on after the free would end too. */
    size_t n = call >= 10 ? 0 : len < 1000 ? len : 1000;
    memcpy(buf, data + (size_t)call * 1000 % 9000, n);
    *read = n;
    if (call == 2) {
        oss_append_free(w->self);
        atomic_store(&w->freed, 1);
    }
    return 0;
}

/* Buffered, on the upload thread with no call under way: calls that would wait for this
 * very thread are refused, and a free works here too. */
static bool free_on_upload_thread(void *user_data, uint64_t increment, uint64_t transferred,
                                  int64_t total) {
    struct watch *w = user_data;
    (void)increment, (void)transferred, (void)total;
    if (atomic_load(&w->freed)) atomic_fetch_add(&w->late, 1);
    if (atomic_fetch_add(&w->calls, 1) == 0) {
        oss_object_info *info = NULL;
        uint64_t position = 0;
        EXPECT(OSS_ERR_INVALID_ARGUMENT, oss_append_close(w->self, &err));
        EXPECT(OSS_ERR_INVALID_ARGUMENT, oss_append_stat(w->self, &info, &err));
        EXPECT(OSS_ERR_INVALID_ARGUMENT, oss_append_seal(w->self, &err));
        EXPECT(OSS_ERR_INVALID_ARGUMENT, oss_append_flush(w->self, 0, &err));
        EXPECT(OSS_ERR_WOULD_BLOCK, oss_append_write(w->self, data, 4096, &err));
        EXPECT(OSS_OK, oss_append_position(w->self, &position, &err));
        CHECK(position == 16384);
        oss_append_free(w->self);
        atomic_store(&w->freed, 1);
        sem_post(&w->event);
    }
    return true;
}

/* Counts progress and tells the other thread of the first request that landed. */
static bool signal_progress(void *user_data, uint64_t increment, uint64_t transferred,
                            int64_t total) {
    struct watch *w = user_data;
    (void)increment, (void)transferred, (void)total;
    if (atomic_load(&w->freed)) atomic_fetch_add(&w->late, 1);
    if (atomic_fetch_add(&w->calls, 1) == 0) sem_post(&w->event);
    return true;
}

struct call {
    struct watch *watch;
    bool buffered;
    oss_status status;
};

/* The call under way while another thread frees the appender: a write of ten requests,
 * each held 200 ms by the server; buffered, it waits for room in a buffer of two. */
static void *call_under_way(void *arg) {
    struct call *call = arg;
    oss_error *err = NULL;
    call->status = oss_append_write(call->watch->self, data, 10000, &err);
    oss_error_free(err);
    return NULL;
}

static void freed_from_another_thread(oss_client *client, const char *key, bool buffer) {
    struct watch w;
    watch_init(&w);
    oss_append_options *options = buffer ? buffered(1000, 2000) : unbuffered(1000);
    EXPECT(OSS_OK, oss_append_options_set_progress(options, signal_progress, &w, &err));
    EXPECT(OSS_OK, oss_append_open(client, bucket, key, options, &w.self, &err));
    oss_append_options_free(options);
    struct call call = {&w, buffer, OSS_OK};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, call_under_way, &call) == 0);
    sem_wait(&w.event);
    /* A second call while one is under way is refused, not raced. */
    uint64_t position = 0;
    EXPECT(OSS_ERR_INVALID_ARGUMENT, oss_append_position(w.self, &position, &err));
    oss_append_free(w.self);
    atomic_store(&w.freed, 1);
    pthread_join(thread, NULL);
    CHECK(call.status == OSS_ERR_CLOSED);
    CHECK(atomic_load(&w.late) == 0);
    sem_destroy(&w.event);
}

/* The appender a log line frees, once. */
static _Atomic(oss_append *) log_target;
static atomic_int log_lines;

static void free_in_log(void *user_data, int level, const char *message) {
    (void)user_data, (void)level, (void)message;
    atomic_fetch_add(&log_lines, 1);
    oss_append *append = atomic_exchange(&log_target, NULL);
    oss_append_free(append);
}

/* The client a credentials callback frees, once, and whether its user_data was let go. */
static _Atomic(oss_client *) credentials_target;
static atomic_int credentials_released;

static bool free_in_credentials(void *user_data, oss_credentials *out) {
    (void)user_data;
    oss_client_free(atomic_exchange(&credentials_target, NULL));
    return oss_credentials_set(out, getenv("OSS_ACCESS_KEY_ID"), getenv("OSS_ACCESS_KEY_SECRET"),
                               NULL, NULL) == OSS_OK;
}

static void release_credentials(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&credentials_released, 1);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: lifetime ENDPOINT BUCKET\n");
        return 2;
    }
    endpoint = argv[1];
    bucket = argv[2];
    /* A deadlock (a free waiting for its own thread) fails the run instead of hanging it. */
    alarm(300);
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)((i * 7 + 3) % 251);
    oss_config *config = new_config();
    oss_client *client = new_client(config);

    /* Unbuffered, freed by its progress callback: the write stops at the next callback. */
    {
        struct watch w;
        watch_init(&w);
        oss_append_options *options = unbuffered(1000);
        EXPECT(OSS_OK, oss_append_options_set_progress(options, free_in_progress, &w, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "life/progress", options, &w.self, &err));
        oss_append_options_free(options);
        EXPECT(OSS_ERR_CLOSED, oss_append_write(w.self, data, 10000, &err));
        CHECK(atomic_load(&w.calls) == 1 && atomic_load(&w.late) == 0);
    }

    /* Freed by its roll callback: the write under way goes on to its end (it fills three
     * more objects), no roll callback runs after the free, and the appender is released. */
    {
        struct watch w;
        watch_init(&w);
        oss_append_options *options = unbuffered(1000);
        EXPECT(OSS_OK, oss_append_options_set_roll(options, 1000, 0, &err));
        EXPECT(OSS_OK, oss_append_options_set_roll_callback(options, free_in_roll, &w, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "life/roll-{n}", options, &w.self, &err));
        oss_append_options_free(options);
        EXPECT(OSS_OK, oss_append_write(w.self, data, 1000, &err));
        EXPECT(OSS_OK, oss_append_write(w.self, data, 2500, &err));
        CHECK(atomic_load(&w.calls) == 1 && atomic_load(&w.late) == 0);
    }

    /* Buffered, freed by its roll callback on the upload thread (the second write ends the
     * first object): the appender is released there, and the upload thread ends. */
    {
        struct watch w;
        watch_init(&w);
        int before = threads();
        oss_append_options *options = buffered(1000, 16384);
        EXPECT(OSS_OK, oss_append_options_set_roll(options, 1000, 0, &err));
        EXPECT(OSS_OK, oss_append_options_set_roll_callback(options, free_in_roll, &w, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "life/broll-{n}", options, &w.self, &err));
        oss_append_options_free(options);
        EXPECT(OSS_OK, oss_append_write(w.self, data, 1000, &err));
        EXPECT(OSS_OK, oss_append_write(w.self, data, 1000, &err));
        sem_wait(&w.event);
        CHECK(threads_become(before));
        CHECK(atomic_load(&w.calls) == 1 && atomic_load(&w.late) == 0);
        sem_destroy(&w.event);
    }

    /* Freed by its read callback: the piece read is stored, and no read follows. */
    {
        struct watch w;
        watch_init(&w);
        oss_append_options *options = unbuffered(1000);
        uint64_t written = 12345;
        EXPECT(OSS_OK, oss_append_open(client, bucket, "life/read", options, &w.self, &err));
        oss_append_options_free(options);
        EXPECT(OSS_ERR_CLOSED, oss_append_write_from(w.self, free_in_read, &w, &written, &err));
        CHECK(written == 12345);
        CHECK(atomic_load(&w.calls) == 3 && atomic_load(&w.late) == 0);
    }

    /* Buffered, freed by its progress callback on the upload thread while no call is under
     * way: the appender is released there, and the upload thread ends. */
    {
        struct watch w;
        watch_init(&w);
        int before = threads();
        oss_append_options *options = buffered(4096, 16384);
        EXPECT(OSS_OK, oss_append_options_set_progress(options, free_on_upload_thread, &w, &err));
        EXPECT(OSS_OK, oss_append_open(client, bucket, "life/upload", options, &w.self, &err));
        oss_append_options_free(options);
        /* A full buffer of four requests: the upload starts at once, and the buffer is still
         * full while the first one's callback runs. */
        EXPECT(OSS_OK, oss_append_write(w.self, data, 16384, &err));
        sem_wait(&w.event);
        CHECK(threads_become(before));
        CHECK(atomic_load(&w.late) == 0);
        sem_destroy(&w.event);
    }

    /* Freed from another thread during an unbuffered write and during a buffered flush. */
    freed_from_another_thread(client, "life/thread", false);
    freed_from_another_thread(client, "life/thread-buffered", true);

    /* Freed by the client's log callback (a retry after a 503): the write goes on, without
     * callbacks to skip, and the appender is released when it returns. */
    {
        oss_config *logging = new_config();
        EXPECT(OSS_OK, oss_config_set_log(logging, free_in_log, NULL, NULL, &err));
        oss_client *logged = new_client(logging);
        oss_config_free(logging);
        oss_append *append = NULL;
        EXPECT(OSS_OK, oss_append_open(logged, bucket, "life/log", NULL, &append, &err));
        atomic_store(&log_target, append);
        EXPECT(OSS_OK, oss_append_write(append, data, 1000, &err));
        CHECK(atomic_load(&log_lines) >= 1 && atomic_load(&log_target) == NULL);
        oss_client_free(logged);
    }

    /* A client freed by its credentials callback during the open that first needs them:
     * the open finishes, its appender works, and the callback's user_data is released once
     * the appender, the last user of the client, is gone. */
    {
        oss_config *asking = new_config();
        oss_client *asked = NULL;
        EXPECT(OSS_OK, oss_config_set_credentials_callback(asking, free_in_credentials, NULL,
                                                           release_credentials, &err));
        EXPECT(OSS_OK, oss_client_new(asking, &asked, &err));
        oss_config_free(asking);
        atomic_store(&credentials_target, asked);
        oss_append *append = NULL;
        EXPECT(OSS_OK, oss_append_open(asked, bucket, "life/credentials", NULL, &append, &err));
        CHECK(atomic_load(&credentials_target) == NULL);
        EXPECT(OSS_OK, oss_append_write(append, data, 500, &err));
        CHECK(atomic_load(&credentials_released) == 0);
        EXPECT(OSS_OK, oss_append_close(append, &err));
        CHECK(atomic_load(&credentials_released) == 1);
    }

    oss_client_free(client);
    oss_config_free(config);
    return finish("lifetime: all passed");
}
