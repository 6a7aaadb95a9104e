//go:build !ossappend_shared

package ossappend

// Static by default: a Go binary then needs nothing at run time. Point the linker at the
// directory holding liboss_append.a with CGO_LDFLAGS=-L<dir> (or install it system-wide).
// The system libraries are what rustc lists for the static library (--print native-static-libs).

// #cgo LDFLAGS: -Wl,-Bstatic -loss_append -Wl,-Bdynamic -lpthread -ldl -lm -lrt -lutil -lgcc_s
import "C"
