/*
 * append_file: append a file (or standard input) to an OSS appendable object.
 *
 *   append_file [options] FILE|- oss://BUCKET/KEY
 *
 * The object is created if absent and continued at its end if it exists. With --continue,
 * the object is taken to be an interrupted upload of FILE: its bytes are checked against
 * the start of FILE (length and CRC-64) and only the rest is sent, so running the same
 * command again after a failure or Ctrl-C finishes the upload without duplicating a byte.
 *
 * Endpoint and credentials come from the flags or the environment: OSS_ENDPOINT,
 * OSS_REGION, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_SESSION_TOKEN.
 * On success the last line on stdout is "oss://BUCKET/KEY length=N crc64=C".
 */
#define _POSIX_C_SOURCE 200809L

#include "oss_append.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: append_file [options] FILE|- oss://BUCKET/KEY\n"
    "  -e, --endpoint URL        OSS endpoint (default $OSS_ENDPOINT)\n"
    "  -r, --region REGION       region for V4 signing (default $OSS_REGION)\n"
    "  -i, --access-key-id ID    (default $OSS_ACCESS_KEY_ID)\n"
    "  -k, --access-key-secret S (default $OSS_ACCESS_KEY_SECRET)\n"
    "  -t, --security-token T    STS token (default $OSS_SESSION_TOKEN)\n"
    "      --v1                  sign with OSS signature V1 instead of V4\n"
    "      --ca-file PEM         trust these CA certificates instead of the bundled ones\n"
    "      --request-size BYTES  largest request body (default 8 MiB)\n"
    "      --content-type TYPE   Content-Type of a new object\n"
    "  -c, --continue            the object is an interrupted upload of FILE: send the rest\n"
    "  -q, --quiet               no progress bar\n";

static volatile sig_atomic_t interrupted = 0;

static void on_interrupt(int signal_number) {
    (void)signal_number;
    interrupted = 1;
}

struct progress {
    uint64_t start;        /* object length when this run began */
    uint64_t input_size;   /* bytes this run will send; 0 when unknown (stdin) */
    uint64_t sent;
    double started;
    int quiet;
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double rate_mb(uint64_t bytes, double seconds) {
    return seconds > 0 ? (double)bytes / seconds / 1e6 : 0.0;
}

/* oss_progress_fn: draws the bar, and stops the upload after Ctrl-C. */
static bool on_progress(void *user_data, uint64_t increment, uint64_t transferred,
                        int64_t total) {
    struct progress *p = user_data;
    (void)total;
    (void)transferred;
    p->sent += increment;
    if (!p->quiet) {
        double mib = (double)p->sent / (1 << 20);
        double speed = rate_mb(p->sent, now() - p->started);
        if (p->input_size > 0) {
            int width = 30;
            int filled = (int)((double)p->sent / (double)p->input_size * width);
            fprintf(stderr, "\r[%.*s%*s] %3d%% %8.1f MiB %7.1f MB/s", filled,
                    "##############################", width - filled, "",
                    (int)(100.0 * (double)p->sent / (double)p->input_size), mib, speed);
        } else {
            fprintf(stderr, "\r%8.1f MiB %7.1f MB/s", mib, speed);
        }
    }
    return !interrupted;
}

/* What to do about each failure, beyond the library's message. */
static const char *hint(oss_status status) {
    switch (status) {
    case OSS_ERR_CREDENTIALS_MISSING:
        return "give -i and -k, or set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET";
    case OSS_ERR_SIGNATURE_MISMATCH:
        return "check the AccessKey secret (and the region, for V4)";
    case OSS_ERR_INVALID_ACCESS_KEY:
        return "check the AccessKey id";
    case OSS_ERR_SECURITY_TOKEN:
        return "the STS token is invalid or expired: get a new one";
    case OSS_ERR_NO_SUCH_BUCKET:
        return "check the bucket name and the endpoint's region";
    case OSS_ERR_OBJECT_NOT_APPENDABLE:
        return "the object was not made by appends; choose another key";
    case OSS_ERR_CONFLICT:
    case OSS_ERR_POSITION_NOT_EQUAL_TO_LENGTH:
        return "another writer is appending to this object";
    case OSS_ERR_CANCELLED:
        return "run again with --continue to send the rest";
    case OSS_ERR_TIMEOUT:
    case OSS_ERR_NETWORK:
    case OSS_ERR_UNAVAILABLE:
    case OSS_ERR_SERVER_ERROR:
        return "nothing was stored twice; run again with --continue to send the rest";
    default:
        return NULL;
    }
}

static int fail(const char *what, oss_status status, oss_error *err) {
    const char *h = hint(status);
    fprintf(stderr, "append_file: %s: %s: %s\n", what, oss_status_str((int)status),
            err ? oss_error_message(err) : "(no detail)");
    if (h) {
        fprintf(stderr, "append_file: %s\n", h);
    }
    oss_error_free(err);
    return 1;
}

/* oss_read_fn over a stdio stream. */
static int read_stream(void *user_data, uint8_t *buf, size_t len, size_t *read) {
    FILE *in = user_data;
    *read = fread(buf, 1, len, in);
    if (*read == 0 && ferror(in)) {
        return errno ? errno : EIO;
    }
    return 0;
}

/* Checks that the object's `length` bytes are FILE's first bytes, and leaves `in` after them. */
static int check_prefix(FILE *in, const char *name, uint64_t length, uint64_t object_crc) {
    static uint8_t buffer[1 << 16];
    uint64_t crc = 0, left = length;
    while (left > 0) {
        size_t want = left < sizeof buffer ? (size_t)left : sizeof buffer;
        size_t got = fread(buffer, 1, want, in);
        if (got == 0) {
            fprintf(stderr,
                    "append_file: --continue: the object (%" PRIu64 " bytes) is longer than %s\n",
                    length, name);
            return 1;
        }
        oss_error *err = NULL;
        oss_status s = oss_crc64_update(&crc, buffer, got, &err);
        if (s != OSS_OK) {
            return fail("CRC-64", s, err);
        }
        left -= got;
    }
    if (crc != object_crc) {
        fprintf(stderr,
                "append_file: --continue: the object's %" PRIu64 " bytes are not the start of %s "
                "(CRC-64 %" PRIu64 " here, %" PRIu64 " in OSS)\n",
                length, name, crc, object_crc);
        return 1;
    }
    return 0;
}

struct args {
    const char *endpoint, *region, *id, *secret, *token, *ca_file, *content_type;
    const char *input, *target;
    size_t request_size;
    int v1, resume, quiet;
};

static const char *env(const char *name) {
    const char *value = getenv(name);
    return value && *value ? value : NULL;
}

static int parse_args(int argc, char **argv, struct args *a) {
    memset(a, 0, sizeof *a);
    a->endpoint = env("OSS_ENDPOINT");
    a->region = env("OSS_REGION");
    a->id = env("OSS_ACCESS_KEY_ID");
    a->secret = env("OSS_ACCESS_KEY_SECRET");
    a->token = env("OSS_SESSION_TOKEN");
    const char *positional[2];
    int count = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        if (!strcmp(arg, "-e") || !strcmp(arg, "--endpoint")) slot = &a->endpoint;
        else if (!strcmp(arg, "-r") || !strcmp(arg, "--region")) slot = &a->region;
        else if (!strcmp(arg, "-i") || !strcmp(arg, "--access-key-id")) slot = &a->id;
        else if (!strcmp(arg, "-k") || !strcmp(arg, "--access-key-secret")) slot = &a->secret;
        else if (!strcmp(arg, "-t") || !strcmp(arg, "--security-token")) slot = &a->token;
        else if (!strcmp(arg, "--ca-file")) slot = &a->ca_file;
        else if (!strcmp(arg, "--content-type")) slot = &a->content_type;
        else if (!strcmp(arg, "--v1")) a->v1 = 1;
        else if (!strcmp(arg, "-c") || !strcmp(arg, "--continue")) a->resume = 1;
        else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) a->quiet = 1;
        else if (!strcmp(arg, "--request-size")) {
            char *end = NULL;
            if (i + 1 == argc) return 0;
            unsigned long long bytes = strtoull(argv[++i], &end, 10);
            if (*end != '\0' || bytes == 0 || bytes > SIZE_MAX) {
                fprintf(stderr, "append_file: --request-size: not a byte count: %s\n", argv[i]);
                return 0;
            }
            a->request_size = (size_t)bytes;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "append_file: unknown option %s\n", arg);
            return 0;
        } else if (count < 2) positional[count++] = arg;
        else return 0;
        if (slot) {
            if (i + 1 == argc) return 0;
            *slot = argv[++i];
        }
    }
    if (count != 2) return 0;
    a->input = positional[0];
    a->target = positional[1];
    return 1;
}

/* Splits "oss://bucket/key" into `bucket` (copied into `buffer`) and `key`. */
static int parse_target(const char *target, char *buffer, size_t size, const char **key) {
    if (strncmp(target, "oss://", 6) != 0) return 0;
    const char *bucket = target + 6, *slash = strchr(bucket, '/');
    if (!slash || slash == bucket || slash[1] == '\0' || (size_t)(slash - bucket) >= size)
        return 0;
    memcpy(buffer, bucket, (size_t)(slash - bucket));
    buffer[slash - bucket] = '\0';
    *key = slash + 1;
    return 1;
}

/* Builds the client from the arguments. */
static oss_status make_client(const struct args *a, oss_client **client, oss_error **err) {
    oss_config *config = oss_config_new();
    oss_status s = config ? OSS_OK : OSS_ERR_INTERNAL;
    if (s == OSS_OK && !a->endpoint) {
        fprintf(stderr, "append_file: no endpoint: give -e or set OSS_ENDPOINT\n");
        s = OSS_ERR_INVALID_ARGUMENT;
    }
    if (s == OSS_OK) s = oss_config_set_endpoint(config, a->endpoint, err);
    if (s == OSS_OK && a->region) s = oss_config_set_region(config, a->region, err);
    if (s == OSS_OK && a->id && a->secret)
        s = oss_config_set_credentials(config, a->id, a->secret, a->token, err);
    else if (s == OSS_OK)
        s = oss_config_set_credentials_from_env(config, err);
    if (s == OSS_OK && a->v1) s = oss_config_set_signature_version(config, OSS_SIGNATURE_V1, err);
    if (s == OSS_OK && a->ca_file) s = oss_config_set_ca_file(config, a->ca_file, err);
    if (s == OSS_OK) s = oss_client_new(config, client, err);
    oss_config_free(config);
    return s;
}

static oss_status make_options(const struct args *a, struct progress *p,
                               oss_append_options **out, oss_error **err) {
    oss_append_options *options = oss_append_options_new();
    oss_status s = options ? OSS_OK : OSS_ERR_INTERNAL;
    if (s == OSS_OK && a->request_size)
        s = oss_append_options_set_request_size(options, a->request_size, err);
    if (s == OSS_OK && a->content_type)
        s = oss_append_options_set_content_type(options, a->content_type, err);
    if (s == OSS_OK) s = oss_append_options_set_progress(options, on_progress, p, err);
    if (s == OSS_OK) {
        *out = options;
    } else {
        oss_append_options_free(options);
    }
    return s;
}

int main(int argc, char **argv) {
    struct args a;
    char bucket[64];
    const char *key = NULL;
    if (!parse_args(argc, argv, &a) || !parse_target(a.target, bucket, sizeof bucket, &key)) {
        fputs(USAGE, stderr);
        return 2;
    }
    int from_stdin = !strcmp(a.input, "-");
    if (from_stdin && a.resume) {
        fprintf(stderr, "append_file: --continue needs a file, not standard input\n");
        return 2;
    }
    FILE *in = from_stdin ? stdin : fopen(a.input, "rb");
    if (!in) {
        fprintf(stderr, "append_file: %s: %s\n", a.input, strerror(errno));
        return 1;
    }

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    sigaction(SIGINT, &action, NULL);

    struct progress progress = {0, 0, 0, now(), a.quiet || !isatty(STDERR_FILENO)};
    oss_client *client = NULL;
    oss_append_options *options = NULL;
    oss_append *append = NULL;
    oss_error *err = NULL;
    int rc = 0;
    oss_status s = make_client(&a, &client, &err);
    if (s == OSS_OK) s = make_options(&a, &progress, &options, &err);
    if (s == OSS_OK) s = oss_append_open(client, bucket, key, options, &append, &err);
    if (s == OSS_OK) s = oss_append_position(append, &progress.start, &err);
    if (s != OSS_OK) {
        rc = fail(a.target, s, err);
        goto out;
    }

    struct stat st;
    if (!from_stdin && fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t size = (uint64_t)st.st_size;
        uint64_t skip = a.resume ? progress.start : 0;
        progress.input_size = size > skip ? size - skip : 0;
    }
    if (a.resume && progress.start > 0) {
        uint64_t crc = 0;
        s = oss_append_crc64(append, &crc, &err);
        if (s != OSS_OK) {
            rc = fail(a.target, s, err);
            goto out;
        }
        rc = check_prefix(in, a.input, progress.start, crc);
        if (rc != 0) goto out;
        fprintf(stderr, "append_file: %" PRIu64 " bytes already in %s; sending the rest\n",
                progress.start, a.target);
    }

    uint64_t written = 0;
    progress.started = now();
    s = oss_append_write_from(append, read_stream, in, &written, &err);
    double seconds = now() - progress.started;
    if (!progress.quiet) fputc('\n', stderr);
    uint64_t length = 0, crc = 0;
    if (s == OSS_OK) s = oss_append_position(append, &length, &err);
    if (s == OSS_OK) s = oss_append_crc64(append, &crc, &err);
    if (s != OSS_OK) {
        uint64_t stored = 0;
        if (append && oss_append_position(append, &stored, NULL) == OSS_OK) {
            fprintf(stderr, "append_file: the object holds %" PRIu64 " bytes (%" PRIu64
                            " sent by this run)\n",
                    stored, stored - progress.start);
        }
        rc = fail(a.target, s, err);
        goto out;
    }
    fprintf(stderr, "append_file: %" PRIu64 " bytes in %.2f s, %.1f MB/s\n", written, seconds,
            rate_mb(written, seconds));
    s = oss_append_close(append, &err);
    if (s != OSS_OK) {
        rc = fail("close", s, err);
        goto out;
    }
    append = NULL;
    printf("%s length=%" PRIu64 " crc64=%" PRIu64 "\n", a.target, length, crc);

out:
    oss_append_free(append);
    oss_append_options_free(options);
    oss_client_free(client);
    if (in != stdin) fclose(in);
    return rc;
}
