//go:build ossappend_shared

package ossappend

// With -tags ossappend_shared, link liboss_append.so (found at run time by its SONAME,
// liboss_append.so.<major>, through the usual search path or an rpath).

// #cgo LDFLAGS: -loss_append
import "C"
