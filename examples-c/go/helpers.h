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

/* A cgo.Handle crosses into C as a uintptr_t and becomes the void *user_data here, so C
 * never holds a Go pointer. */
static inline enum oss_status set_progress(oss_append_options *o, uintptr_t h, oss_error **err) {
    return oss_append_options_set_progress(o, ossappendProgress, (void *)h, err);
}

static inline enum oss_status set_credentials(oss_config *c, uintptr_t h, oss_error **err) {
    return oss_config_set_credentials_callback(c, ossappendCredentials, (void *)h,
                                               ossappendRelease, err);
}

static inline enum oss_status write_from(oss_append *a, uintptr_t h, uint64_t *written,
                                    oss_error **err) {
    return oss_append_write_from(a, ossappendRead, (void *)h, written, err);
}

#endif
