// Package ossappend streams data into Alibaba Cloud OSS appendable objects through
// liboss_append, the library C and C++ programs use.
//
// A Client is one endpoint and identity; it is safe for concurrent use by many goroutines,
// and its Appenders share its connection pool. An Appender writes to the end of one
// object, each byte exactly once: an append whose outcome is unknown (a timeout, a lost
// connection) is settled by the object's length and CRC-64 before anything is resent.
//
// Building: cgo links liboss_append statically by default; set CGO_LDFLAGS=-L<dir with
// liboss_append.a> unless it is installed system-wide. With -tags ossappend_shared it links
// liboss_append.so instead.
package ossappend

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #include "helpers.h"
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// Version is the running library's version, such as "1.0.0".
func Version() string { return C.GoString(C.oss_version()) }

// VersionNumber is the running library's version as one number, major*1000000 +
// minor*1000 + patch (1.2.3 is 1002003), for comparing versions without parsing Version.
func VersionNumber() uint32 { return uint32(C.oss_version_number()) }

// SignatureVersion selects how requests are signed.
type SignatureVersion int

const (
	SignatureV1 SignatureVersion = C.OSS_SIGNATURE_V1
	SignatureV4 SignatureVersion = C.OSS_SIGNATURE_V4
)

// URLStyle selects how a bucket is addressed.
type URLStyle int

const (
	URLVirtualHosted URLStyle = C.OSS_URL_VIRTUAL_HOSTED
	URLPath          URLStyle = C.OSS_URL_PATH
	URLCname         URLStyle = C.OSS_URL_CNAME
)

// Credentials are an AccessKey pair and, for STS, a security token.
type Credentials struct {
	AccessKeyID, AccessKeySecret, SecurityToken string
}

// Config is what a Client is made from. Zero values mean the library's defaults.
type Config struct {
	// Endpoint, such as "oss-cn-hangzhou.aliyuncs.com" or "http://127.0.0.1:9000".
	Endpoint string
	// Region for V4 signing; read from an oss-<region>.aliyuncs.com endpoint when empty.
	Region string
	// Credentials, used when AccessKeyID is set.
	Credentials Credentials
	// CredentialsProvider is asked when the client first needs credentials and again when
	// OSS says the token expired. Used when Credentials are empty; with neither, the
	// environment (OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_SESSION_TOKEN) is read.
	// It may be called from any goroutine.
	CredentialsProvider func() (Credentials, error)
	SignatureVersion    SignatureVersion // default V4
	URLStyle            URLStyle         // default virtual-hosted; path style for IPs
	ConnectTimeout      time.Duration    // default 10 s
	RequestTimeout      time.Duration    // default 60 s
	MaxAttempts         int              // tries per request in all; default 3
	CAFile              string           // PEM file of CAs to trust instead of the bundled ones
	Proxy               string           // http://[user:password@]host:port
	UserAgent           string
}

// call runs one C function that follows the library's convention and converts its error.
func call(f func(err **C.oss_error) C.enum_oss_status) error {
	var err *C.oss_error
	if status := f(&err); status != C.OSS_OK {
		return takeError(status, err, nil)
	}
	return nil
}

// withCString runs f with a C copy of s, freed afterwards (the library copies what it keeps).
func withCString(s string, f func(*C.char, **C.oss_error) C.enum_oss_status) error {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return call(func(err **C.oss_error) C.enum_oss_status { return f(cs, err) })
}

func (cfg *Config) build() (*C.oss_config, error) {
	c := C.oss_config_new()
	if c == nil {
		return nil, &Error{Status: StatusInternal, Message: "oss_config_new failed"}
	}
	set := func(value string, f func(*C.oss_config, *C.char, **C.oss_error) C.enum_oss_status) func() error {
		return func() error {
			if value == "" {
				return nil
			}
			return withCString(value, func(cs *C.char, err **C.oss_error) C.enum_oss_status { return f(c, cs, err) })
		}
	}
	steps := []func() error{
		set(cfg.Endpoint, func(c *C.oss_config, s *C.char, e **C.oss_error) C.enum_oss_status {
			return C.oss_config_set_endpoint(c, s, e)
		}),
		set(cfg.Region, func(c *C.oss_config, s *C.char, e **C.oss_error) C.enum_oss_status {
			return C.oss_config_set_region(c, s, e)
		}),
		set(cfg.CAFile, func(c *C.oss_config, s *C.char, e **C.oss_error) C.enum_oss_status {
			return C.oss_config_set_ca_file(c, s, e)
		}),
		set(cfg.Proxy, func(c *C.oss_config, s *C.char, e **C.oss_error) C.enum_oss_status {
			return C.oss_config_set_proxy(c, s, e)
		}),
		set(cfg.UserAgent, func(c *C.oss_config, s *C.char, e **C.oss_error) C.enum_oss_status {
			return C.oss_config_set_user_agent(c, s, e)
		}),
		func() error { return cfg.setCredentials(c) },
		func() error {
			if cfg.SignatureVersion == 0 {
				return nil
			}
			return call(func(e **C.oss_error) C.enum_oss_status {
				return C.oss_config_set_signature_version(c, C.int(cfg.SignatureVersion), e)
			})
		},
		func() error {
			if cfg.URLStyle == 0 {
				return nil
			}
			return call(func(e **C.oss_error) C.enum_oss_status { return C.oss_config_set_url_style(c, C.int(cfg.URLStyle), e) })
		},
		func() error {
			if cfg.ConnectTimeout == 0 {
				return nil
			}
			return call(func(e **C.oss_error) C.enum_oss_status {
				return C.oss_config_set_connect_timeout_ms(c, C.uint64_t(cfg.ConnectTimeout.Milliseconds()), e)
			})
		},
		func() error {
			if cfg.RequestTimeout == 0 {
				return nil
			}
			return call(func(e **C.oss_error) C.enum_oss_status {
				return C.oss_config_set_request_timeout_ms(c, C.uint64_t(cfg.RequestTimeout.Milliseconds()), e)
			})
		},
		func() error {
			if cfg.MaxAttempts == 0 {
				return nil
			}
			return call(func(e **C.oss_error) C.enum_oss_status {
				return C.oss_config_set_retry(c, C.uint32_t(cfg.MaxAttempts), 200, 20000, e)
			})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			C.oss_config_free(c)
			return nil, err
		}
	}
	return c, nil
}

func (cfg *Config) setCredentials(c *C.oss_config) error {
	switch {
	case cfg.Credentials.AccessKeyID != "":
		id, secret := C.CString(cfg.Credentials.AccessKeyID), C.CString(cfg.Credentials.AccessKeySecret)
		defer C.free(unsafe.Pointer(id))
		defer C.free(unsafe.Pointer(secret))
		var token *C.char
		if cfg.Credentials.SecurityToken != "" {
			token = C.CString(cfg.Credentials.SecurityToken)
			defer C.free(unsafe.Pointer(token))
		}
		return call(func(e **C.oss_error) C.enum_oss_status { return C.oss_config_set_credentials(c, id, secret, token, e) })
	case cfg.CredentialsProvider != nil:
		// The library owns the handle from here and deletes it through ossappendRelease.
		h := cgo.NewHandle(cfg.CredentialsProvider)
		err := call(func(e **C.oss_error) C.enum_oss_status { return C.set_credentials(c, C.uintptr_t(h), e) })
		if err != nil {
			h.Delete()
		}
		return err
	default:
		return call(func(e **C.oss_error) C.enum_oss_status { return C.oss_config_set_credentials_from_env(c, e) })
	}
}

// Client is a connection to one OSS endpoint with one identity. Safe for concurrent use.
type Client struct {
	c *C.oss_client
}

// NewClient makes a client. Nothing is sent until the first request.
func NewClient(cfg Config) (*Client, error) {
	config, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer C.oss_config_free(config)
	client := &Client{}
	if err := call(func(e **C.oss_error) C.enum_oss_status { return C.oss_client_new(config, &client.c, e) }); err != nil {
		return nil, err
	}
	// A safety net only: Close is the API.
	runtime.SetFinalizer(client, (*Client).Close)
	return client, nil
}

// Close releases the client. Appenders opened on it keep working until they are closed.
func (c *Client) Close() error {
	if c.c != nil {
		C.oss_client_free(c.c)
		c.c = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// DrainSpool uploads every object's spool left in dir by appenders that did not close (a
// process that crashed, an appender released), each settled with its object as OpenAppend
// settles it (see WithSpool), then removes those spools. A spool that cannot be drained is
// kept while the others are drained, and the first such error is returned.
func (c *Client) DrainSpool(dir string) error {
	err := withCString(dir, func(cs *C.char, e **C.oss_error) C.enum_oss_status {
		return C.oss_spool_drain(c.c, cs, e)
	})
	runtime.KeepAlive(c)
	return err
}

// AppendResult is what one AppendObject returned.
type AppendResult struct {
	// NextPosition is the object's length after the append: where the next one goes.
	NextPosition uint64
	// CRC64 is the CRC-64 of the whole object after the append, as the server computed it.
	CRC64     uint64
	ETag      string
	VersionID string // empty unless the bucket is versioned
	RequestID string
}

// AppendObject is the single AppendObject request at an explicit position (0 creates the
// object with the options' create parameters). It is not retried when its outcome is
// unknown: the caller owns the position. A wrong position gives an *Error with
// StatusPositionNotEqualToLength and the object's length in NextPosition.
func (c *Client) AppendObject(ctx context.Context, bucket, key string, position uint64, data []byte, opts ...Option) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	options, release, err := buildOptions(opts, nil, 0)
	if err != nil {
		return AppendResult{}, err
	}
	defer release()
	cb, ck := C.CString(bucket), C.CString(key)
	defer C.free(unsafe.Pointer(cb))
	defer C.free(unsafe.Pointer(ck))
	var result *C.oss_append_result
	err = call(func(e **C.oss_error) C.enum_oss_status {
		// Go memory passed for the duration of the call only, as cgo allows.
		return C.oss_append_object(c.c, cb, ck, C.uint64_t(position), bytesPointer(data), C.size_t(len(data)), options, nil, &result, e)
	})
	runtime.KeepAlive(c)
	runtime.KeepAlive(data)
	if err != nil {
		return AppendResult{}, err
	}
	// Everything is copied into Go values, so the C object goes when AppendObject returns.
	defer C.oss_append_result_free(result)
	return AppendResult{
		NextPosition: uint64(C.oss_append_result_next_position(result)),
		CRC64:        uint64(C.oss_append_result_crc64(result)),
		ETag:         goStringOrEmpty(C.oss_append_result_etag(result)),
		VersionID:    goStringOrEmpty(C.oss_append_result_version_id(result)),
		RequestID:    goStringOrEmpty(C.oss_append_result_request_id(result)),
	}, nil
}

func bytesPointer(data []byte) *C.uint8_t {
	if len(data) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&data[0]))
}
