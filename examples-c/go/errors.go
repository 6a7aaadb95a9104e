package ossappend

// #include "oss_append.h"
import "C"

import "fmt"

// Status is the library's status code: what kind of failure an Error is. The values are
// those of oss_status in oss_append.h and are stable.
type Status int

// Status values.
const (
	StatusOK                       Status = C.OSS_OK
	StatusInvalidArgument          Status = C.OSS_ERR_INVALID_ARGUMENT
	StatusPositionNotEqualToLength Status = C.OSS_ERR_POSITION_NOT_EQUAL_TO_LENGTH
	StatusObjectNotAppendable      Status = C.OSS_ERR_OBJECT_NOT_APPENDABLE
	StatusAccessDenied             Status = C.OSS_ERR_ACCESS_DENIED
	StatusSignatureMismatch        Status = C.OSS_ERR_SIGNATURE_MISMATCH
	StatusInvalidAccessKey         Status = C.OSS_ERR_INVALID_ACCESS_KEY
	StatusSecurityToken            Status = C.OSS_ERR_SECURITY_TOKEN
	StatusNoSuchBucket             Status = C.OSS_ERR_NO_SUCH_BUCKET
	StatusNoSuchKey                Status = C.OSS_ERR_NO_SUCH_KEY
	StatusObjectTooLarge           Status = C.OSS_ERR_OBJECT_TOO_LARGE
	StatusRequestTimeSkewed        Status = C.OSS_ERR_REQUEST_TIME_SKEWED
	StatusCRCMismatch              Status = C.OSS_ERR_CRC_MISMATCH
	StatusConflict                 Status = C.OSS_ERR_CONFLICT
	StatusUnavailable              Status = C.OSS_ERR_UNAVAILABLE
	StatusServerError              Status = C.OSS_ERR_SERVER_ERROR
	StatusService                  Status = C.OSS_ERR_SERVICE
	StatusTimeout                  Status = C.OSS_ERR_TIMEOUT
	StatusNetwork                  Status = C.OSS_ERR_NETWORK
	StatusTLS                      Status = C.OSS_ERR_TLS
	StatusIO                       Status = C.OSS_ERR_IO
	StatusCancelled                Status = C.OSS_ERR_CANCELLED
	StatusClosed                   Status = C.OSS_ERR_CLOSED
	StatusCredentialsMissing       Status = C.OSS_ERR_CREDENTIALS_MISSING
	StatusInternal                 Status = C.OSS_ERR_INTERNAL
	StatusWouldBlock               Status = C.OSS_ERR_WOULD_BLOCK
	StatusOutOfMemory              Status = C.OSS_ERR_OUT_OF_MEMORY
	StatusSpoolIO                  Status = C.OSS_ERR_SPOOL_IO
	StatusSpoolInUse               Status = C.OSS_ERR_SPOOL_IN_USE
)

// String describes the status ("invalid argument", "conflict with another writer", ...).
func (s Status) String() string {
	return C.GoString(C.oss_status_str(C.int(s)))
}

// Error is every error this package returns from the library. Use errors.As to get it:
//
//	var e *ossappend.Error
//	if errors.As(err, &e) && e.Status == ossappend.StatusPositionNotEqualToLength { ... }
type Error struct {
	Status Status
	// Message says what failed, with the server's code and request id when it answered.
	Message string
	// Code is OSS's error code, such as "PositionNotEqualToLength"; empty without one.
	Code      string
	RequestID string
	EC        string
	// HTTPStatus is the server's answer; 0 when there was none.
	HTTPStatus int
	// NextPosition is the object's length as OSS reported it, when HasNextPosition.
	NextPosition    uint64
	HasNextPosition bool
	// cause is the Go error behind a failure in Go code the library called back into
	// (a reader, a context, a credentials provider).
	cause error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s", e.Message, e.cause)
	}
	return e.Message
}

// Unwrap gives the Go error behind the failure, if any: the reader's error for StatusIO,
// the context's for a cancelled context.
func (e *Error) Unwrap() error { return e.cause }

// takeError converts and frees a C error; status is what the call returned.
func takeError(status C.enum_oss_status, err *C.oss_error, cause error) error {
	defer C.oss_error_free(err)
	e := &Error{
		Status:     Status(status),
		Message:    C.GoString(C.oss_error_message(err)),
		Code:       goStringOrEmpty(C.oss_error_code(err)),
		RequestID:  goStringOrEmpty(C.oss_error_request_id(err)),
		EC:         goStringOrEmpty(C.oss_error_ec(err)),
		HTTPStatus: int(C.oss_error_http_status(err)),
		cause:      cause,
	}
	var next C.uint64_t
	if C.oss_error_next_position(err, &next) {
		e.NextPosition, e.HasNextPosition = uint64(next), true
	}
	if err == nil {
		e.Message = Status(status).String()
	}
	return e
}

func goStringOrEmpty(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}
