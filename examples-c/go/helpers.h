/* C glue shared by the package's cgo preambles. */
#ifndef OSSAPPEND_GO_HELPERS_H
#define OSSAPPEND_GO_HELPERS_H

#include <stdlib.h>

#include "oss_append.h"

/* The Go callbacks, exported from callbacks.go. */
extern bool ossappendProgress(void *, uint64_t, uint64_t, int64_t);
extern bool ossappendCredentials(void *, oss_credentials *);
extern void ossappendRelease(void *);
extern int ossappendRead(void *, uint8_t *, size_t, size_t *);
extern void ossappendRoll(void *, const char *, uint64_t, uint64_t);

/* A cgo.Handle crosses into C as a uintptr_t and becomes the void *user_data here, so C
 * never holds a Go pointer. */
static inline enum oss_status set_progress(oss_append_options *o, uintptr_t h, oss_error **err) {
    return oss_append_options_set_progress(o, ossappendProgress, (void *)h, err);
}

static inline enum oss_status set_roll_callback(oss_append_options *o, uintptr_t h,
                                                oss_error **err) {
    return oss_append_options_set_roll_callback(o, ossappendRoll, (void *)h, err);
}

static inline enum oss_status set_credentials(oss_config *c, uintptr_t h, oss_error **err) {
    return oss_config_set_credentials_callback(c, ossappendCredentials, (void *)h,
                                               ossappendRelease, err);
}

static inline enum oss_status write_from(oss_append *a, uintptr_t h, uint64_t *written,
                                    oss_error **err) {
    return oss_append_write_from(a, ossappendRead, (void *)h, written, err);
}

/* The string options, for set_text. */
enum text_option {
    TEXT_CONTENT_TYPE,
    TEXT_CACHE_CONTROL,
    TEXT_CONTENT_DISPOSITION,
    TEXT_CONTENT_ENCODING,
    TEXT_EXPIRES,
    TEXT_ACL,
    TEXT_STORAGE_CLASS,
    TEXT_TAGGING,
    TEXT_REQUEST_PAYER,
};

static inline enum oss_status set_text(oss_append_options *o, int which, const char *value,
                                       oss_error **err) {
    switch (which) {
    case TEXT_CONTENT_TYPE:
        return oss_append_options_set_content_type(o, value, err);
    case TEXT_CACHE_CONTROL:
        return oss_append_options_set_cache_control(o, value, err);
    case TEXT_CONTENT_DISPOSITION:
        return oss_append_options_set_content_disposition(o, value, err);
    case TEXT_CONTENT_ENCODING:
        return oss_append_options_set_content_encoding(o, value, err);
    case TEXT_EXPIRES:
        return oss_append_options_set_expires(o, value, err);
    case TEXT_ACL:
        return oss_append_options_set_acl(o, value, err);
    case TEXT_STORAGE_CLASS:
        return oss_append_options_set_storage_class(o, value, err);
    case TEXT_TAGGING:
        return oss_append_options_set_tagging(o, value, err);
    case TEXT_REQUEST_PAYER:
        return oss_append_options_set_request_payer(o, value, err);
    default:
        /* Unreachable from Go: `which` is always one of the constants above. The library's
         * own NULL check reports it. */
        return oss_append_options_set_content_type(NULL, value, err);
    }
}

#endif
