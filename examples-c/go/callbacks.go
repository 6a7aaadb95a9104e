package ossappend

// The Go functions C calls back. A file with //export may only declare in its preamble.

// #include <stdlib.h>
// #include "oss_append.h"
import "C"

import (
	"io"
	"runtime/cgo"
	"syscall"
	"unsafe"
)

func handleValue(userData unsafe.Pointer) interface{} {
	return cgo.Handle(uintptr(userData)).Value()
}

//export ossappendProgress
func ossappendProgress(userData unsafe.Pointer, increment, transferred C.uint64_t, total C.int64_t) (keepGoing C.bool) {
	state := handleValue(userData).(*appendState)
	// A panic must not unwind through C: it is re-raised on the writing goroutine.
	defer func() {
		if p := recover(); p != nil {
			state.keepPanic(p)
			keepGoing = false
		}
	}()
	keepGoing = true
	if state.progress != nil {
		keepGoing = C.bool(state.progress(uint64(increment), uint64(transferred), int64(total)))
	}
	// Checked after the caller's callback, which may itself have cancelled the context.
	return keepGoing && state.ctx.Err() == nil
}

//export ossappendRoll
func ossappendRoll(userData unsafe.Pointer, finishedKey *C.char, length, crc64 C.uint64_t) {
	state := handleValue(userData).(*appendState)
	// Re-raised on the writing goroutine once the call returns (buffered: by its next
	// call); the first panic is the one kept, as later objects may be finished in one call.
	defer func() {
		if p := recover(); p != nil {
			state.keepPanic(p)
		}
	}()
	state.rolled(C.GoString(finishedKey), uint64(length), uint64(crc64))
}

//export ossappendRead
func ossappendRead(userData unsafe.Pointer, buf *C.uint8_t, size C.size_t, read *C.size_t) (code C.int) {
	rs := handleValue(userData).(*readState)
	defer func() {
		if p := recover(); p != nil {
			rs.panicked, code = p, C.int(syscall.EIO)
		}
	}()
	*read = 0
	if rs.pending != nil {
		rs.err, rs.pending = rs.pending, nil
		return C.int(syscall.EIO)
	}
	// C memory, filled by the reader directly: no copy, and no Go pointer handed to C.
	out := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
	for {
		n, err := rs.r.Read(out)
		if n > 0 {
			if err != nil && err != io.EOF {
				rs.pending = err
			}
			*read = C.size_t(n)
			return 0
		}
		if err == io.EOF {
			return 0
		}
		if err != nil {
			rs.err = err
			return C.int(syscall.EIO)
		}
	}
}

//export ossappendCredentials
func ossappendCredentials(userData unsafe.Pointer, out *C.oss_credentials) (ok C.bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	provider := handleValue(userData).(func() (Credentials, error))
	creds, err := provider()
	if err != nil {
		return false
	}
	id, secret := C.CString(creds.AccessKeyID), C.CString(creds.AccessKeySecret)
	defer C.free(unsafe.Pointer(id))
	defer C.free(unsafe.Pointer(secret))
	var token *C.char
	if creds.SecurityToken != "" {
		token = C.CString(creds.SecurityToken)
		defer C.free(unsafe.Pointer(token))
	}
	return C.oss_credentials_set(out, id, secret, token, nil) == C.OSS_OK
}

//export ossappendRelease
func ossappendRelease(userData unsafe.Pointer) {
	cgo.Handle(uintptr(userData)).Delete()
}
