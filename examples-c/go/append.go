package ossappend

// #include "helpers.h"
import "C"

import (
	"context"
	"io"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Appender writes to the end of one appendable object. It implements io.Writer,
// io.ReaderFrom (so io.Copy streams through one buffer) and io.Closer. Calls from several
// goroutines are serialised.
type Appender struct {
	mu     sync.Mutex
	a      *C.oss_append
	state  *appendState
	handle cgo.Handle
	// What Position, CRC64, StreamPosition and Key report once closed.
	position, crc, streamPosition uint64
	key                           string
}

// appendState is what the progress and roll callbacks see, reached through a cgo.Handle.
type appendState struct {
	ctx      context.Context
	progress Progress
	rolled   RollCallback
	// Buffered, callbacks run on the upload thread: what they panic with is kept under mu
	// for the writing goroutine's next call.
	mu       sync.Mutex
	panicked interface{}
}

// keepPanic keeps p unless a panic is kept already (one call may finish several objects).
func (s *appendState) keepPanic(p interface{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panicked == nil {
		s.panicked = p
	}
}

// OpenAppend opens bucket/key for appending: an absent object is created by the first
// write (with the options' create parameters), an appendable one is continued at its end,
// any other kind fails with StatusObjectNotAppendable. ctx governs the open and every
// later write: once it is done, writes stop between requests with an error wrapping
// ctx.Err().
func (c *Client) OpenAppend(ctx context.Context, bucket, key string, opts ...Option) (*Appender, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	state := &appendState{ctx: ctx}
	handle := cgo.NewHandle(state)
	options, release, err := buildOptions(opts, state, handle)
	if err != nil {
		handle.Delete()
		return nil, err
	}
	defer release()
	cb, ck := C.CString(bucket), C.CString(key)
	defer C.free(unsafe.Pointer(cb))
	defer C.free(unsafe.Pointer(ck))
	a := &Appender{state: state, handle: handle}
	err = call(func(e **C.oss_error) C.enum_oss_status { return C.oss_append_open(c.c, cb, ck, options, &a.a, e) })
	runtime.KeepAlive(c)
	if err != nil {
		handle.Delete()
		return nil, err
	}
	// A safety net only: Close is the API.
	runtime.SetFinalizer(a, func(a *Appender) {
		C.oss_append_free(a.a)
		a.handle.Delete()
	})
	return a, nil
}

var errClosed = &Error{Status: StatusClosed, Message: "the appender is closed"}

// fail converts a failed call's error, naming the Go error behind it: the context's when
// it stopped the write, or cause.
func (a *Appender) fail(status C.enum_oss_status, err *C.oss_error, cause error) error {
	if status == C.OSS_ERR_CANCELLED && a.state.ctx.Err() != nil {
		cause = a.state.ctx.Err()
	}
	return takeError(status, err, cause)
}

// stored is how many bytes the object gained since position `before`.
func (a *Appender) stored(before uint64) uint64 {
	var now C.uint64_t
	C.oss_append_position(a.a, &now, nil)
	return uint64(now) - before
}

// rethrow re-raises, on the caller's goroutine, a panic caught in a callback.
func (a *Appender) rethrow() {
	a.state.mu.Lock()
	p := a.state.panicked
	a.state.panicked = nil
	a.state.mu.Unlock()
	if p != nil {
		panic(p)
	}
}

// ready checks, under the lock, that a write may start, and returns the position it starts at.
func (a *Appender) ready() (uint64, error) {
	if a.a == nil {
		return 0, errClosed
	}
	if err := a.state.ctx.Err(); err != nil {
		return 0, err
	}
	return a.stored(0), nil
}

// Write appends all of p and returns once it is stored. On error, n is what was stored.
func (a *Appender) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	before, ready := a.ready()
	if ready != nil {
		return 0, ready
	}
	var err *C.oss_error
	// Go memory passed for the duration of the call only, as cgo allows.
	status := C.oss_append_write(a.a, bytesPointer(p), C.size_t(len(p)), &err)
	runtime.KeepAlive(p)
	a.rethrow()
	if status != C.OSS_OK {
		return int(a.stored(before)), a.fail(status, err, nil)
	}
	return len(p), nil
}

// readState is what the read callback sees, reached through a cgo.Handle.
type readState struct {
	r        io.Reader
	err      error // the reader's error that failed the write
	pending  error // an error returned along with data, reported on the next call
	panicked interface{}
}

// ReadFrom appends everything r gives until io.EOF, through one buffer of the request
// size. On error, n is what was stored; a reader's error is wrapped (errors.Is finds it).
func (a *Appender) ReadFrom(r io.Reader) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	before, ready := a.ready()
	if ready != nil {
		return 0, ready
	}
	rs := &readState{r: r}
	h := cgo.NewHandle(rs)
	defer h.Delete()
	var written C.uint64_t
	var err *C.oss_error
	status := C.write_from(a.a, C.uintptr_t(h), &written, &err)
	a.rethrow()
	if rs.panicked != nil {
		panic(rs.panicked)
	}
	if status != C.OSS_OK {
		return int64(a.stored(before)), a.fail(status, err, rs.err)
	}
	return int64(written), nil
}

// Position is the object's length as far as this appender knows: where the next byte goes.
// Rolling, it is the current object's (Key); StreamPosition is the whole stream's.
func (a *Appender) Position() uint64 {
	return whileOpen(a, &a.position, func() uint64 { return a.stored(0) })
}

// StreamPosition is the stream's length as far as this appender knows: Position, but for a
// rolling stream the lengths of all its objects.
func (a *Appender) StreamPosition() uint64 { return whileOpen(a, &a.streamPosition, a.streamStored) }

// Key is the key of the object being written: the one given to OpenAppend, or for a
// rolling stream its current object's.
func (a *Appender) Key() string { return whileOpen(a, &a.key, a.currentKey) }

// CRC64 is the CRC-64 of the whole object as far as this appender knows.
func (a *Appender) CRC64() uint64 { return whileOpen(a, &a.crc, a.crc64) }

// whileOpen is, under the lock, what get reads of the open appender, or what Close kept.
func whileOpen[T any](a *Appender, kept *T, get func() T) T {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return *kept
	}
	return get()
}

func (a *Appender) streamStored() uint64 {
	var position C.uint64_t
	C.oss_append_stream_position(a.a, &position, nil)
	return uint64(position)
}

func (a *Appender) crc64() uint64 {
	var crc C.uint64_t
	C.oss_append_crc64(a.a, &crc, nil)
	return uint64(crc)
}

// currentKey asks for the key's length first: the key only changes in a write, which the
// lock keeps out between the two calls.
func (a *Appender) currentKey() string {
	var length C.size_t
	C.oss_append_key(a.a, nil, 0, &length, nil)
	buf := make([]byte, int(length)+1)
	// Go memory passed for the duration of the call only, as cgo allows.
	C.oss_append_key(a.a, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &length, nil)
	return string(buf[:length])
}

// Pending is how many bytes were written but are not stored in OSS yet (0 unless buffered);
// ReadPending and PendingBytes copy them.
func (a *Appender) Pending() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return 0
	}
	var pending C.uint64_t
	C.oss_append_pending(a.a, &pending, nil)
	return uint64(pending)
}

// ReadPending copies into p the bytes written but not stored in OSS yet, from offset
// among them (0 is the first, at Position less Pending), in the order written, and returns
// how many: 0 past the end, unbuffered, or once closed. The bytes stay buffered. After an
// error no retry mends (StatusConflict, StatusObjectNotAppendable), this is how to take
// back what was handed over; PendingBytes reads them all. It waits for a request in flight.
func (a *Appender) ReadPending(offset uint64, p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return 0, nil
	}
	return a.readPending(offset, p)
}

// PendingBytes is a copy of every byte written but not stored in OSS yet, in the order
// written (empty unless buffered); see ReadPending.
func (a *Appender) PendingBytes() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return nil, nil
	}
	var pending C.uint64_t
	C.oss_append_pending(a.a, &pending, nil)
	// Writes take the lock, so what is pending can only shrink (as the upload stores it)
	// while it is held: the first read takes everything then, and the spare byte lets the
	// loop end on a read of 0.
	out := make([]byte, int(pending)+1)
	n := 0
	for {
		if n == len(out) {
			out = append(out, 0)[:cap(out)]
		}
		copied, err := a.readPending(uint64(n), out[n:])
		if err != nil {
			return nil, err
		}
		if copied == 0 {
			return out[:n], nil
		}
		n += copied
	}
}

// readPending is ReadPending under the lock, on an open appender.
func (a *Appender) readPending(offset uint64, p []byte) (int, error) {
	var copied C.size_t
	// Go memory passed for the duration of the call only, as cgo allows: the library
	// writes into it on this thread and keeps no pointer to it.
	err := call(func(e **C.oss_error) C.enum_oss_status {
		return C.oss_append_read_pending(a.a, C.uint64_t(offset), bytesPointer(p), C.size_t(len(p)), &copied, e)
	})
	runtime.KeepAlive(p)
	if err != nil {
		return 0, err
	}
	return int(copied), nil
}

// Flush waits until everything written is stored, at most timeout (0: no limit). A
// timeout is an *Error with StatusTimeout; the bytes stay buffered and keep uploading.
func (a *Appender) Flush(timeout time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return errClosed
	}
	// Buffered, the upload thread may have finished a rolling stream's object meanwhile.
	defer a.rethrow()
	var err *C.oss_error
	if status := C.oss_append_flush(a.a, C.uint64_t(timeout.Milliseconds()), &err); status != C.OSS_OK {
		return a.fail(status, err, nil)
	}
	return nil
}

// ObjectType is what kind of object OSS says it is.
type ObjectType int

const (
	ObjectAppendable ObjectType = C.OSS_OBJECT_APPENDABLE
	ObjectNormal     ObjectType = C.OSS_OBJECT_NORMAL
	ObjectMultipart  ObjectType = C.OSS_OBJECT_MULTIPART
	ObjectOther      ObjectType = C.OSS_OBJECT_OTHER
)

// ObjectInfo is the object as the server sees it.
type ObjectInfo struct {
	Length       uint64
	CRC64        uint64
	HasCRC64     bool
	Type         ObjectType
	ETag         string
	ContentType  string    // empty when the server sent none
	LastModified time.Time // UTC; zero when the server did not say
	SealedTime   time.Time // UTC; zero while the object is not sealed
	VersionID    string    // empty unless the bucket is versioned
	RequestID    string
	// Metadata is the user metadata (x-oss-meta-*), keyed by name without the prefix and
	// lowercase, as OSS stores it; nil when the object has none. A name the server sent
	// more than once has its values joined by ", ", as HTTP combines repeated headers.
	Metadata map[string]string
}

// Stat asks the server (a HEAD) for the object's state: length, CRC-64, type, times, ETag,
// content type, user metadata and version id.
func (a *Appender) Stat() (ObjectInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return ObjectInfo{}, errClosed
	}
	var info *C.oss_object_info
	if err := call(func(e **C.oss_error) C.enum_oss_status { return C.oss_append_stat(a.a, &info, e) }); err != nil {
		return ObjectInfo{}, err
	}
	// Everything is copied into Go values, so the C object goes when Stat returns.
	defer C.oss_object_info_free(info)
	return objectInfo(info), nil
}

func objectInfo(info *C.oss_object_info) ObjectInfo {
	out := ObjectInfo{
		Length:       uint64(C.oss_object_info_length(info)),
		Type:         ObjectType(C.oss_object_info_type(info)),
		ETag:         goStringOrEmpty(C.oss_object_info_etag(info)),
		ContentType:  goStringOrEmpty(C.oss_object_info_content_type(info)),
		LastModified: unixTime(C.oss_object_info_last_modified(info)),
		SealedTime:   unixTime(C.oss_object_info_sealed_time(info)),
		VersionID:    goStringOrEmpty(C.oss_object_info_version_id(info)),
		RequestID:    goStringOrEmpty(C.oss_object_info_request_id(info)),
	}
	var crc C.uint64_t
	if C.oss_object_info_crc64(info, &crc) {
		out.CRC64, out.HasCRC64 = uint64(crc), true
	}
	count := C.oss_object_info_metadata_count(info)
	if count > 0 {
		out.Metadata = make(map[string]string, int(count))
	}
	for i := C.size_t(0); i < count; i++ {
		var name, value *C.char
		if !C.oss_object_info_metadata(info, i, &name, &value) {
			continue
		}
		n, v := C.GoString(name), C.GoString(value)
		if earlier, repeated := out.Metadata[n]; repeated {
			v = earlier + ", " + v
		}
		out.Metadata[n] = v
	}
	return out
}

// unixTime converts the library's seconds since 1970, -1 meaning absent, to the zero
// time or a UTC time (as net/http parses header dates).
func unixTime(seconds C.int64_t) time.Time {
	if seconds < 0 {
		return time.Time{}
	}
	return time.Unix(int64(seconds), 0).UTC()
}

// Seal seals the object at the appender's position, after flushing a buffered appender.
// OSS refuses a seal unless the object's length is that position (StatusConflict), so it
// never cuts off another writer's bytes. A sealed object takes no more appends: Write then
// fails with StatusObjectNotAppendable, and Stat reports the sealed time. Sealing again
// changes nothing. The appender stays open; Close it as usual.
func (a *Appender) Seal() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return errClosed
	}
	// Sealing finishes a rolling stream's object, which its RollCallback hears of.
	defer a.rethrow()
	return call(func(e **C.oss_error) C.enum_oss_status { return C.oss_append_seal(a.a, e) })
}

// Release lets the appender go without uploading what is not stored yet: a spooled
// appender's unsent bytes stay in its spool for the next open of the object (or
// Client.DrainSpool), other buffered bytes are dropped. It waits for a request in flight.
// The appender is then closed (Position and CRC64 say what they said before); releasing it
// again does nothing.
func (a *Appender) Release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return
	}
	var crc C.uint64_t
	C.oss_append_crc64(a.a, &crc, nil)
	a.position, a.crc = a.stored(0), uint64(crc)
	C.oss_append_free(a.a)
	a.a = nil
	a.handle.Delete()
	runtime.SetFinalizer(a, nil)
}

// Close ends the appender. On failure it stays open, so nothing is lost silently; closing
// a closed appender does nothing.
func (a *Appender) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.a == nil {
		return nil
	}
	// With WithSealOnClose, closing finishes a rolling stream's object.
	defer a.rethrow()
	// Flushed first, so that the position and CRC-64 kept for after Close cover every byte
	// written (a buffered appender's CRC lags its position until then).
	if err := call(func(e **C.oss_error) C.enum_oss_status { return C.oss_append_flush(a.a, 0, e) }); err != nil {
		return err
	}
	position, crc, streamPosition, key := a.stored(0), a.crc64(), a.streamStored(), a.currentKey()
	if err := call(func(e **C.oss_error) C.enum_oss_status { return C.oss_append_close(a.a, e) }); err != nil {
		return err
	}
	a.a, a.position, a.crc, a.streamPosition, a.key = nil, position, crc, streamPosition, key
	a.handle.Delete()
	runtime.SetFinalizer(a, nil)
	return nil
}
