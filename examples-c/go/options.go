package ossappend

// #include "helpers.h"
import "C"

import (
	"math"
	"runtime/cgo"
	"time"
	"unsafe"
)

// Option sets how an appender writes or what a new object is created with.
type Option func(*optionSet) error

// Progress is called after each request that landed: increment bytes just stored,
// transferred so far in this call, total the call's size or -1 for a stream. Return false
// to stop the write with StatusCancelled. It runs on the writing goroutine (buffered, on the
// upload thread). It must not call its Appender's methods: they wait for the Appender's
// lock, which a write waiting on the callback (or, buffered, on the upload) holds.
type Progress func(increment, transferred uint64, total int64) bool

// RollCallback is called once for each object a rolling stream finished (see WithRoll), after
// its last append (and seal, with WithSealOnClose) landed: its key, and the length and
// CRC-64 the server confirmed. It runs on the writing goroutine, inside the Write, Seal or
// Close that finished the object, and must not call its Appender's methods (they wait for
// the lock that call holds). A panic in it is re-raised by that call once it returns.
type RollCallback func(key string, length, crc64 uint64)

type optionSet struct {
	c        *C.oss_append_options
	progress Progress
	rolled   RollCallback
}

// text sets one string option through set_text in helpers.h (cgo cannot take C functions
// as values, so the choice of setter is made in C).
func text(which C.int, value string) Option {
	return func(o *optionSet) error {
		return withCString(value, func(cs *C.char, err **C.oss_error) C.enum_oss_status {
			return C.set_text(o.c, which, cs, err)
		})
	}
}

// WithContentType sets the Content-Type of a new object.
func WithContentType(v string) Option { return text(C.TEXT_CONTENT_TYPE, v) }

// WithCacheControl sets the Cache-Control of a new object.
func WithCacheControl(v string) Option { return text(C.TEXT_CACHE_CONTROL, v) }

// WithContentDisposition sets the Content-Disposition of a new object.
func WithContentDisposition(v string) Option { return text(C.TEXT_CONTENT_DISPOSITION, v) }

// WithContentEncoding sets the Content-Encoding of a new object.
func WithContentEncoding(v string) Option { return text(C.TEXT_CONTENT_ENCODING, v) }

// WithExpires sets the Expires header (an HTTP date) of a new object.
func WithExpires(v string) Option { return text(C.TEXT_EXPIRES, v) }

// WithACL sets a new object's ACL: private, public-read, public-read-write or default.
func WithACL(v string) Option { return text(C.TEXT_ACL, v) }

// WithStorageClass sets a new object's storage class: Standard, IA, Archive, ColdArchive or
// DeepColdArchive.
func WithStorageClass(v string) Option { return text(C.TEXT_STORAGE_CLASS, v) }

// WithTagging sets a new object's tags, URL-encoded: "k1=v1&k2=v2".
func WithTagging(v string) Option { return text(C.TEXT_TAGGING, v) }

// WithRequestPayer sends x-oss-request-payer ("requester") with every append.
func WithRequestPayer(v string) Option { return text(C.TEXT_REQUEST_PAYER, v) }

// WithMetadata adds user metadata x-oss-meta-<name> to a new object.
func WithMetadata(name, value string) Option {
	return func(o *optionSet) error {
		cn, cv := C.CString(name), C.CString(value)
		defer C.free(unsafe.Pointer(cn))
		defer C.free(unsafe.Pointer(cv))
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_add_metadata(o.c, cn, cv, e)
		})
	}
}

// WithServerSideEncryption encrypts a new object: algorithm AES256, KMS or SM4; kmsKeyID
// for KMS may be empty.
func WithServerSideEncryption(algorithm, kmsKeyID string) Option {
	return func(o *optionSet) error {
		alg := C.CString(algorithm)
		defer C.free(unsafe.Pointer(alg))
		var key *C.char
		if kmsKeyID != "" {
			key = C.CString(kmsKeyID)
			defer C.free(unsafe.Pointer(key))
		}
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_server_side_encryption(o.c, alg, key, nil, e)
		})
	}
}

// WithTrafficLimit limits every append to bitsPerSecond (819200 to 838860800).
func WithTrafficLimit(bitsPerSecond uint64) Option {
	return func(o *optionSet) error {
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_traffic_limit(o.c, C.uint64_t(bitsPerSecond), e)
		})
	}
}

// WithCRCCheck turns the per-append check of the server's CRC-64 off or on (default on).
func WithCRCCheck(check bool) Option {
	return func(o *optionSet) error {
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_check_crc(o.c, C.bool(check), e)
		})
	}
}

// WithSealOnClose makes Close seal the object (see Appender.Seal). A failed seal fails the
// Close and leaves the appender open.
func WithSealOnClose(seal bool) Option {
	return func(o *optionSet) error {
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_seal_on_close(o.c, C.bool(seal), e)
		})
	}
}

// WithRequestSize sets the largest body of one request (default 8 MiB).
func WithRequestSize(bytes int) Option {
	return func(o *optionSet) error {
		if bytes < 0 {
			return &Error{Status: StatusInvalidArgument, Message: "WithRequestSize: bytes is negative"}
		}
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_request_size(o.c, C.size_t(bytes), e)
		})
	}
}

// WithBuffer makes Write copy into a buffer of capacity bytes and return, with a background
// thread uploading in requests (sooner once a byte has waited maxDelay). A full buffer makes
// Write wait when blockWhenFull, else fail with StatusWouldBlock taking nothing. Use Flush
// to wait for storage; Close flushes.
func WithBuffer(capacity int, maxDelay time.Duration, blockWhenFull bool) Option {
	return func(o *optionSet) error {
		if capacity < 0 {
			return &Error{Status: StatusInvalidArgument, Message: "WithBuffer: capacity is negative"}
		}
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_buffer(o.c, C.size_t(capacity), C.uint64_t(maxDelay.Milliseconds()), C.bool(blockWhenFull), e)
		})
	}
}

// SpoolSync says when spooled bytes are forced to disk (see WithSpool).
type SpoolSync int

const (
	// SpoolSyncNone leaves it to the system: a crash of the process loses no acknowledged
	// write, a power cut may.
	SpoolSyncNone SpoolSync = C.OSS_SPOOL_SYNC_NONE
	// SpoolSyncInterval syncs at most every interval: a power cut loses at most about that
	// much of the latest writes.
	SpoolSyncInterval SpoolSync = C.OSS_SPOOL_SYNC_INTERVAL
	// SpoolSyncEveryWrite syncs before each Write returns: a power cut loses nothing
	// acknowledged.
	SpoolSyncEveryWrite SpoolSync = C.OSS_SPOOL_SYNC_EVERY_WRITE
)

// WithSpool keeps a buffered appender's unsent bytes (WithBuffer is needed too) in files
// under dir instead of memory: Write returns once they are in the spool file, synced as
// sync says (interval is read for SpoolSyncInterval only). The buffer's capacity is then
// the spool's size on disk. Opening the same object with the same dir first uploads what
// an earlier appender left there (after a crash, or Release), once the object's length and
// CRC-64 show they continue it (StatusConflict otherwise, the spool kept); Client.DrainSpool
// uploads spools a program will not reopen. A spool has one owner (StatusSpoolInUse); a
// disk that refuses a write fails it with StatusSpoolIO, taking nothing. Close removes the
// spool.
func WithSpool(dir string, sync SpoolSync, interval time.Duration) Option {
	return func(o *optionSet) error {
		if interval < 0 || interval.Milliseconds() > math.MaxUint32 {
			return &Error{Status: StatusInvalidArgument, Message: "WithSpool: interval out of range"}
		}
		return withCString(dir, func(cs *C.char, err **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_spool(o.c, cs, C.int(sync), C.uint32_t(interval.Milliseconds()), err)
		})
	}
}

// WithProgress calls p after each request that landed.
func WithProgress(p Progress) Option {
	return func(o *optionSet) error {
		o.progress = p
		return nil
	}
}

// WithRoll makes the stream roll: the key given to OpenAppend is then a template holding
// "{n}" once, and the stream goes on in the next numbered object (zero-padded to 6 digits,
// so keys sort in stream order) before a write that would take the current one past
// maxObjectSize (1 byte to 5 GiB; only a write larger than that is split), and before the
// first write after the current object was written to for maxAge (0: no age limit). Open
// continues the highest-numbered object when it takes more, else starts the next number;
// a template without exactly one "{n}" fails it with StatusInvalidArgument. With WithBuffer
// objects still end at write boundaries, and the upload thread rolls (and calls the
// RollCallback; a panic there is re-raised by the next call); not with WithSpool. Position,
// CRC64 and Stat then tell of the current object, Key which one it is (buffered: the one
// the upload is at), StreamPosition of the whole stream.
func WithRoll(maxObjectSize uint64, maxAge time.Duration) Option {
	return func(o *optionSet) error {
		if maxAge < 0 {
			return &Error{Status: StatusInvalidArgument, Message: "WithRoll: maxAge is negative"}
		}
		return call(func(e **C.oss_error) C.enum_oss_status {
			return C.oss_append_options_set_roll(o.c, C.uint64_t(maxObjectSize), C.uint64_t(maxAge.Milliseconds()), e)
		})
	}
}

// WithRollCallback calls f for each object a rolling stream (WithRoll) finished.
func WithRollCallback(f RollCallback) Option {
	return func(o *optionSet) error {
		o.rolled = f
		return nil
	}
}

// buildOptions applies opts to new C options, freed by the returned function. With a
// state, its progress trampoline is installed (for the context and any Progress), and its
// roll trampoline when there is a RollCallback.
func buildOptions(opts []Option, state *appendState, handle cgo.Handle) (*C.oss_append_options, func(), error) {
	set := &optionSet{c: C.oss_append_options_new()}
	if set.c == nil {
		return nil, nil, &Error{Status: StatusInternal, Message: "oss_append_options_new failed"}
	}
	release := func() { C.oss_append_options_free(set.c) }
	for _, opt := range opts {
		if err := opt(set); err != nil {
			release()
			return nil, nil, err
		}
	}
	if state != nil {
		state.progress, state.rolled = set.progress, set.rolled
		err := call(func(e **C.oss_error) C.enum_oss_status { return C.set_progress(set.c, C.uintptr_t(handle), e) })
		if err == nil && set.rolled != nil {
			err = call(func(e **C.oss_error) C.enum_oss_status { return C.set_roll_callback(set.c, C.uintptr_t(handle), e) })
		}
		if err != nil {
			release()
			return nil, nil, err
		}
	}
	return set.c, release, nil
}
