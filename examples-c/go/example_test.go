package ossappend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	ossappend "github.com/oss-append/oss-append/examples-c/go"
)

// The quick start: stream standard input into an appendable object, resuming where it ends.
func Example() {
	client, err := ossappend.NewClient(ossappend.Config{
		Endpoint: "oss-cn-hangzhou.aliyuncs.com", // the region is read from it
		// No credentials given: OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are used.
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer client.Close()

	log, err := client.OpenAppend(context.Background(), "my-bucket", "logs/app.log",
		ossappend.WithContentType("text/plain"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if _, err := io.Copy(log, os.Stdin); err != nil {
		var e *ossappend.Error
		if errors.As(err, &e) {
			fmt.Fprintf(os.Stderr, "%s (OSS code %q, request id %s); %d bytes stored\n",
				e.Status, e.Code, e.RequestID, log.Position())
		}
	}
	if err := log.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
