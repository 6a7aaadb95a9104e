package ossappend_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	ossappend "github.com/oss-append/oss-append/examples-c/go"
)

const (
	accessKeyID     = "go-ak"
	accessKeySecret = "go-sk"
	bucket          = "go-test"
)

// endpoint is the local OSS server's URL, started once for all tests by TestMain.
var endpoint string

func TestMain(m *testing.M) {
	binary := os.Getenv("OSS_LOCAL_SERVER")
	if binary == "" {
		fmt.Fprintln(os.Stderr, "set OSS_LOCAL_SERVER to the oss-local-server binary (make test does)")
		os.Exit(2)
	}
	server := exec.Command(binary, "--access-key-id", accessKeyID, "--access-key-secret", accessKeySecret,
		"--bucket", bucket, "--enable-faults")
	stdout, err := server.StdoutPipe()
	if err == nil {
		err = server.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the local server:", err)
		os.Exit(2)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	endpoint = strings.TrimPrefix(strings.TrimSpace(line), "listening on ")
	code := m.Run()
	_ = server.Process.Kill()
	_ = server.Wait()
	os.Exit(code)
}

func newClient(t *testing.T, change func(*ossappend.Config)) *ossappend.Client {
	t.Helper()
	cfg := ossappend.Config{
		Endpoint:    endpoint,
		Region:      "cn-hangzhou",
		Credentials: ossappend.Credentials{AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret},
		MaxAttempts: 2,
	}
	if change != nil {
		change(&cfg)
	}
	client, err := ossappend.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

var ecma = crc64.MakeTable(crc64.ECMA)

// signed sends a V1-signed request straight to the server, for set-up and checks that
// do not go through the library under test.
func signed(t *testing.T, method, key string, body []byte) *http.Response {
	t.Helper()
	date := time.Now().UTC().Format(http.TimeFormat)
	mac := hmac.New(sha1.New, []byte(accessKeySecret))
	fmt.Fprintf(mac, "%s\n\n\n%s\n/%s/%s", method, date, bucket, key)
	req, err := http.NewRequest(method, endpoint+"/"+bucket+"/"+key, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Date", date)
	req.Header.Set("Authorization", "OSS "+accessKeyID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// object is the object's bytes as the server holds them.
func object(t *testing.T, key string) []byte {
	t.Helper()
	resp := signed(t, "GET", key, nil)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v %s", key, resp.StatusCode, err, body)
	}
	return body
}

func pattern(n int, seed byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i*7) + seed
	}
	return out
}

func asError(t *testing.T, err error) *ossappend.Error {
	t.Helper()
	var e *ossappend.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *ossappend.Error, got %T: %v", err, err)
	}
	return e
}

func TestManyGoroutinesAppendThroughOneClient(t *testing.T) {
	client := newClient(t, nil)
	const goroutines, writes = 8, 20
	piece := pattern(10_000, 3)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			a, err := client.OpenAppend(context.Background(), bucket, fmt.Sprintf("goroutines/%d", g))
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < writes; i++ {
				if _, err := a.Write(piece); err != nil {
					errs <- err
					return
				}
			}
			errs <- a.Close()
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := bytes.Repeat(piece, writes)
	for g := 0; g < goroutines; g++ {
		if got := object(t, fmt.Sprintf("goroutines/%d", g)); !bytes.Equal(got, want) {
			t.Errorf("goroutines/%d: %d bytes, want %d", g, len(got), len(want))
		}
	}
}

// generator is a large stream that only implements io.Reader, so io.Copy must use the
// appender's ReadFrom.
type generator struct{ left, at int }

func (g *generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if len(p) > g.left {
		p = p[:g.left]
	}
	for i := range p {
		p[i] = byte((g.at + i) % 253)
	}
	g.at += len(p)
	g.left -= len(p)
	return len(p), nil
}

func TestIoCopyStreamsALargeGeneratedStream(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "copy", ossappend.WithRequestSize(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	n, err := io.Copy(a, &generator{left: size})
	if err != nil || n != size {
		t.Fatalf("io.Copy: %d, %v", n, err)
	}
	local := crc64.New(ecma)
	_, _ = io.Copy(local, &generator{left: size})
	if a.Position() != size || a.CRC64() != local.Sum64() {
		t.Fatalf("position %d crc %d, want %d %d", a.Position(), a.CRC64(), size, local.Sum64())
	}
	info, err := a.Stat()
	if err != nil || info.Length != size || !info.HasCRC64 || info.CRC64 != local.Sum64() ||
		info.Type != ossappend.ObjectAppendable || info.ETag == "" || info.LastModified.IsZero() {
		t.Fatalf("Stat: %+v, %v", info, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if a.Position() != size || a.CRC64() != local.Sum64() {
		t.Fatal("position and CRC-64 are kept after Close")
	}
}

func TestWrongPositionReportsTheObjectLength(t *testing.T) {
	client := newClient(t, nil)
	ctx := context.Background()
	first, err := client.AppendObject(ctx, bucket, "position", 0, []byte("hello"), ossappend.WithContentType("text/plain"))
	if err != nil || first.NextPosition != 5 || first.CRC64 != crc64.Checksum([]byte("hello"), ecma) ||
		len(first.RequestID) != 24 || first.ETag == "" || first.VersionID != "" {
		t.Fatalf("first append: %+v, %v", first, err)
	}
	_, err = client.AppendObject(ctx, bucket, "position", 3, []byte("again"))
	e := asError(t, err)
	if e.Status != ossappend.StatusPositionNotEqualToLength || e.Code != "PositionNotEqualToLength" ||
		e.HTTPStatus != 409 || !e.HasNextPosition || e.NextPosition != 5 || e.RequestID == "" {
		t.Fatalf("%+v", e)
	}
	if got := object(t, "position"); string(got) != "hello" {
		t.Fatalf("object holds %q", got)
	}
}

func TestANormalObjectIsNotAppendable(t *testing.T) {
	resp := signed(t, "PUT", "normal", []byte("put, not appended"))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	client := newClient(t, nil)
	_, err := client.OpenAppend(context.Background(), bucket, "normal")
	if e := asError(t, err); e.Status != ossappend.StatusObjectNotAppendable {
		t.Fatalf("%+v", e)
	}
}

func TestABadSecretIsASignatureMismatch(t *testing.T) {
	client := newClient(t, func(c *ossappend.Config) { c.Credentials.AccessKeySecret = "not-the-secret" })
	_, err := client.OpenAppend(context.Background(), bucket, "denied")
	e := asError(t, err)
	if e.Status != ossappend.StatusSignatureMismatch || e.Code != "SignatureDoesNotMatch" || e.RequestID == "" {
		t.Fatalf("%+v", e)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Fatal("the secret is in the message")
	}
	if e.Status.String() != "signature does not match" {
		t.Fatalf("Status.String: %q", e.Status.String())
	}
}

func TestProgressIsReportedAndCanCancel(t *testing.T) {
	client := newClient(t, nil)
	var calls []uint64
	progress := func(increment, transferred uint64, total int64) bool {
		calls = append(calls, transferred)
		return len(calls) < 3
	}
	a, err := client.OpenAppend(context.Background(), bucket, "progress",
		ossappend.WithRequestSize(1000), ossappend.WithProgress(progress))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n, err := a.Write(pattern(10_000, 1))
	if e := asError(t, err); e.Status != ossappend.StatusCancelled {
		t.Fatalf("%+v", e)
	}
	if n != 3000 || a.Position() != 3000 || fmt.Sprint(calls) != "[1000 2000 3000]" {
		t.Fatalf("n %d, position %d, calls %v", n, a.Position(), calls)
	}
}

func TestACancelledContextStopsBetweenRequests(t *testing.T) {
	client := newClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := client.OpenAppend(ctx, bucket, "context", ossappend.WithRequestSize(1000),
		ossappend.WithProgress(func(_, transferred uint64, _ int64) bool {
			if transferred == 2000 {
				cancel()
			}
			return true
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n, err := a.Write(pattern(10_000, 1))
	if !errors.Is(err, context.Canceled) || n != 2000 {
		t.Fatalf("n %d, err %v", n, err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("a write after cancel: %v", err)
	}
}

var errSensor = errors.New("sensor unplugged")

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errSensor }

func TestAReadersErrorIsWrappedAndWhatWasReadIsStored(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "reader", ossappend.WithRequestSize(4))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n, err := a.ReadFrom(io.MultiReader(strings.NewReader("some data"), failingReader{}))
	if !errors.Is(err, errSensor) || asError(t, err).Status != ossappend.StatusIO {
		t.Fatalf("err %v", err)
	}
	// Whole requests of 4 bytes were stored; the last, partial one was never sent.
	if n != 8 || string(object(t, "reader")) != "some dat" {
		t.Fatalf("n %d, object %q", n, object(t, "reader"))
	}
}

func TestACredentialsProviderIsAsked(t *testing.T) {
	var mu sync.Mutex
	asked := 0
	client := newClient(t, func(c *ossappend.Config) {
		c.Credentials = ossappend.Credentials{}
		c.CredentialsProvider = func() (ossappend.Credentials, error) {
			mu.Lock()
			defer mu.Unlock()
			asked++
			return ossappend.Credentials{AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret}, nil
		}
		c.SignatureVersion = ossappend.SignatureV1
	})
	a, err := client.OpenAppend(context.Background(), bucket, "provider")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("via a provider")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked != 1 {
		t.Fatalf("asked %d times", asked)
	}
}

func TestAClosedAppenderRefusesWrites(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "closed")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	if _, err := a.Write([]byte("late")); asError(t, err).Status != ossappend.StatusClosed {
		t.Fatalf("%v", err)
	}
}

func TestBadArgumentsAreInvalidArgument(t *testing.T) {
	client := newClient(t, nil)
	_, err := client.OpenAppend(context.Background(), "Bad_Bucket", "key")
	if e := asError(t, err); e.Status != ossappend.StatusInvalidArgument || !strings.Contains(e.Message, "Bad_Bucket") {
		t.Fatalf("%+v", e)
	}
	_, err = client.OpenAppend(context.Background(), bucket, "key", ossappend.WithACL("everyone"))
	if e := asError(t, err); e.Status != ossappend.StatusInvalidArgument {
		t.Fatalf("%+v", e)
	}
	_, err = ossappend.NewClient(ossappend.Config{Endpoint: "ftp://host"})
	if e := asError(t, err); e.Status != ossappend.StatusInvalidArgument {
		t.Fatalf("%+v", e)
	}
}

func TestBufferedWritesReturnAtOnceAndFlushStoresThem(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "buffered",
		ossappend.WithRequestSize(4096), ossappend.WithBuffer(1<<20, time.Minute, true))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := 0; i < 10_000; i++ {
		line := fmt.Sprintf("%05d buffered line\n", i)
		want.WriteString(line)
		if _, err := io.WriteString(a, line); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(0); err != nil {
		t.Fatal(err)
	}
	if a.Pending() != 0 || a.CRC64() != crc64.Checksum(want.Bytes(), ecma) {
		t.Fatalf("pending %d", a.Pending())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(object(t, "buffered"), want.Bytes()) {
		t.Fatal("the object differs from what was written")
	}
	// Written without a Flush, then closed: what Close kept covers every byte.
	if _, err := io.WriteString(a, "after"); asError(t, err).Status != ossappend.StatusClosed {
		t.Fatalf("%v", err)
	}
	late, err := client.OpenAppend(context.Background(), bucket, "buffered", ossappend.WithBuffer(1<<20, time.Minute, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(late, "late line\n"); err != nil {
		t.Fatal(err)
	}
	if err := late.Close(); err != nil {
		t.Fatal(err)
	}
	want.WriteString("late line\n")
	if late.Position() != uint64(want.Len()) || late.CRC64() != crc64.Checksum(want.Bytes(), ecma) {
		t.Fatalf("after Close: position %d, CRC-64 %d", late.Position(), late.CRC64())
	}
	small, err := client.OpenAppend(context.Background(), bucket, "buffered-small", ossappend.WithBuffer(10, time.Minute, false))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.Write(make([]byte, 11)); asError(t, err).Status != ossappend.StatusInvalidArgument {
		t.Fatalf("%v", err)
	}
}

func TestAfterAConflictThePendingBytesCanBeTakenBack(t *testing.T) {
	client := newClient(t, nil)
	const key = "pending-conflict"
	// A long delay: nothing uploads before the flush.
	buffered, err := client.OpenAppend(context.Background(), bucket, key, ossappend.WithBuffer(1<<20, time.Hour, true))
	if err != nil {
		t.Fatal(err)
	}
	other, err := client.OpenAppend(context.Background(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := io.WriteString(other, "theirs;"); err != nil {
		t.Fatal(err)
	}
	theirs := object(t, key)
	var want bytes.Buffer
	for i := 0; i < 5; i++ {
		line := fmt.Sprintf("mine %d;", i)
		want.WriteString(line)
		if _, err := io.WriteString(buffered, line); err != nil {
			t.Fatal(err)
		}
	}
	if err := buffered.Flush(10 * time.Second); asError(t, err).Status != ossappend.StatusConflict {
		t.Fatalf("%v", err)
	}
	if buffered.Pending() != uint64(want.Len()) {
		t.Fatalf("pending %d, want %d", buffered.Pending(), want.Len())
	}
	back, err := buffered.PendingBytes()
	if err != nil || !bytes.Equal(back, want.Bytes()) {
		t.Fatalf("PendingBytes: %q, %v; want %q", back, err, want.Bytes())
	}
	piece := make([]byte, 4)
	if n, err := buffered.ReadPending(6, piece); err != nil || n != 4 || !bytes.Equal(piece, want.Bytes()[6:10]) {
		t.Fatalf("ReadPending(6): %d %q, %v", n, piece[:n], err)
	}
	end := uint64(want.Len())
	if n, err := buffered.ReadPending(end-2, piece); err != nil || n != 2 || !bytes.Equal(piece[:n], want.Bytes()[end-2:]) {
		t.Fatalf("ReadPending(end-2): %d %q, %v", n, piece[:n], err)
	}
	if n, err := buffered.ReadPending(end, piece); err != nil || n != 0 {
		t.Fatalf("ReadPending past the end: %d, %v", n, err)
	}
	// A failed Close keeps the bytes too; nothing of them reached the object.
	if err := buffered.Close(); asError(t, err).Status != ossappend.StatusConflict {
		t.Fatalf("%v", err)
	}
	if back, err := buffered.PendingBytes(); err != nil || !bytes.Equal(back, want.Bytes()) {
		t.Fatalf("PendingBytes after Close: %q, %v", back, err)
	}
	if got := object(t, key); !bytes.Equal(got, theirs) {
		t.Fatalf("object %q, want %q", got, theirs)
	}
	// Unbuffered, nothing is ever pending.
	if n, err := other.ReadPending(0, piece); err != nil || n != 0 {
		t.Fatalf("unbuffered ReadPending: %d, %v", n, err)
	}
	if back, err := other.PendingBytes(); err != nil || len(back) != 0 {
		t.Fatalf("unbuffered PendingBytes: %q, %v", back, err)
	}
}

func TestOneAppenderSerialisesConcurrentWriters(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "serialised")
	if err != nil {
		t.Fatal(err)
	}
	pieces := [][]byte{bytes.Repeat([]byte("a"), 3000), bytes.Repeat([]byte("b"), 3000)}
	var wg sync.WaitGroup
	for _, piece := range pieces {
		wg.Add(1)
		go func(piece []byte) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, err := a.Write(piece); err != nil {
					t.Error(err)
				}
			}
		}(piece)
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Every write lands whole: the object is 20 runs of 3000 equal bytes.
	got := object(t, "serialised")
	if len(got) != 60000 {
		t.Fatalf("%d bytes", len(got))
	}
	for at := 0; at < len(got); at += 3000 {
		if !bytes.Equal(got[at:at+3000], pieces[0]) && !bytes.Equal(got[at:at+3000], pieces[1]) {
			t.Fatalf("a write was split or mixed at %d", at)
		}
	}
}

func TestSealEndsAppendsAndStatSaysWhen(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "sealed", ossappend.WithSealOnClose(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	if info, err := a.Stat(); err != nil || !info.SealedTime.IsZero() {
		t.Fatalf("before the seal: %+v, %v", info, err)
	}
	before := time.Now().Truncate(time.Second)
	if err := a.Seal(); err != nil {
		t.Fatal(err)
	}
	info, err := a.Stat()
	if err != nil {
		t.Fatal(err)
	}
	// Whole seconds, in UTC, from the server's clock (the local server's is this machine's).
	if info.SealedTime.Before(before) || time.Since(info.SealedTime) > time.Minute ||
		info.SealedTime.Location() != time.UTC || info.Length != 10 {
		t.Fatalf("%+v", info)
	}
	if _, err := a.Write([]byte("more")); asError(t, err).Status != ossappend.StatusObjectNotAppendable {
		t.Fatalf("%v", err)
	}
	// Closing seals again, which changes nothing.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The server says so too, to a request that does not go through the library.
	resp := signed(t, "HEAD", "sealed", nil)
	resp.Body.Close()
	if got := resp.Header.Get("x-oss-sealed-time"); got != info.SealedTime.Format(http.TimeFormat) {
		t.Fatalf("sealed time %q, Stat said %v", got, info.SealedTime)
	}
	_, err = client.OpenAppend(context.Background(), bucket, "sealed")
	if e := asError(t, err); e.Status != ossappend.StatusObjectNotAppendable {
		t.Fatalf("%+v", e)
	}
	if got := object(t, "sealed"); string(got) != "last words" {
		t.Fatalf("%q", got)
	}
}

func TestStatReturnsTheContentTypeAndMetadataTheObjectWasCreatedWith(t *testing.T) {
	client := newClient(t, nil)
	ctx := context.Background()
	a, err := client.OpenAppend(ctx, bucket, "metadata", ossappend.WithContentType("application/x-ndjson"),
		ossappend.WithMetadata("Owner", "go-test"), ossappend.WithMetadata("batch", "7"),
		ossappend.WithMetadata("tag", "first"), ossappend.WithMetadata("Tag", "second"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte(`{"n":1}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// A second appender, opened without options, reads what the server stored.
	again, err := client.OpenAppend(ctx, bucket, "metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	info, err := again.Stat()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"owner": "go-test", "batch": "7", "tag": "first, second"}
	if info.ContentType != "application/x-ndjson" || !reflect.DeepEqual(info.Metadata, want) ||
		info.Length != 8 || len(info.RequestID) != 24 {
		t.Fatalf("%+v", info)
	}
	// An object created without metadata has none.
	if _, err := client.AppendObject(ctx, bucket, "no-metadata", 0, []byte("plain")); err != nil {
		t.Fatal(err)
	}
	plain, err := client.OpenAppend(ctx, bucket, "no-metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if info, err := plain.Stat(); err != nil || info.Metadata != nil {
		t.Fatalf("%+v, %v", info, err)
	}
}

func TestAppendObjectAndStatAgreeOnTheETag(t *testing.T) {
	client := newClient(t, nil)
	ctx := context.Background()
	result, err := client.AppendObject(ctx, bucket, "etag", 0, []byte("tagged"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := client.OpenAppend(ctx, bucket, "etag")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	info, err := a.Stat()
	if err != nil || info.ETag != result.ETag || info.CRC64 != result.CRC64 || info.Length != result.NextPosition {
		t.Fatalf("Stat %+v, %v; AppendObject %+v", info, err, result)
	}
}

func TestVersionNumberIsVersionAsOneNumber(t *testing.T) {
	var major, minor, patch uint32
	if _, err := fmt.Sscanf(ossappend.Version(), "%d.%d.%d", &major, &minor, &patch); err != nil {
		t.Fatalf("Version %q: %v", ossappend.Version(), err)
	}
	if got := ossappend.VersionNumber(); got != major*1000000+minor*1000+patch {
		t.Fatalf("VersionNumber %d, Version %q", got, ossappend.Version())
	}
}

func TestASpoolKeepsWhatAReleasedAppenderHeldForTheNextOpenOrADrain(t *testing.T) {
	client := newClient(t, nil)
	dir := t.TempDir()
	ctx := context.Background()
	spooled := []ossappend.Option{
		ossappend.WithRequestSize(4096),
		ossappend.WithSpool(dir, ossappend.SpoolSyncEveryWrite, 0),
	}
	if _, err := client.OpenAppend(ctx, bucket, "spooled", spooled...); asError(t, err).Status != ossappend.StatusInvalidArgument {
		t.Fatalf("a spool without a buffer: %v", err)
	}
	spooled = append(spooled, ossappend.WithBuffer(1<<20, time.Hour, true))
	data := pattern(10_000, 3)
	a, err := client.OpenAppend(ctx, bucket, "spooled", spooled...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.OpenAppend(ctx, bucket, "spooled", spooled...); asError(t, err).Status != ossappend.StatusSpoolInUse {
		t.Fatalf("a second owner: %v", err)
	}
	if _, err := a.Write(data[:5000]); err != nil {
		t.Fatal(err)
	}
	a.Release()
	b, err := client.OpenAppend(ctx, bucket, "spooled", spooled...)
	if err != nil {
		t.Fatal(err)
	}
	if b.Position() != 5000 {
		t.Fatalf("reopened at %d", b.Position())
	}
	if _, err := b.Write(data[5000:]); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(object(t, "spooled"), data) {
		t.Fatal("the object differs from what was written")
	}
	for _, key := range []string{"drained-1", "drained-2"} {
		c, err := client.OpenAppend(ctx, bucket, key, spooled...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		c.Release()
	}
	if err := client.DrainSpool(dir); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"drained-1", "drained-2"} {
		if !bytes.Equal(object(t, key), data) {
			t.Fatalf("%s differs from what was written", key)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the spools are not removed: %v", left)
	}
}

// fault scripts the server's next answers (POST /-/faults), as in the server's README.
func fault(t *testing.T, query string) {
	t.Helper()
	resp, err := http.Post(endpoint+"/-/faults?"+query, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("fault %s: %d", query, resp.StatusCode)
	}
}

type finishedObject struct {
	key           string
	length, crc64 uint64
}

// rollInto is a RollCallback that records what it is told.
func rollInto(finished *[]finishedObject) ossappend.Option {
	return ossappend.WithRollCallback(func(key string, length, crc64 uint64) {
		*finished = append(*finished, finishedObject{key, length, crc64})
	})
}

func TestARollingStreamGoesOnInNumberedObjects(t *testing.T) {
	rollsInNumberedObjects(t, "roll")
}

// Buffered, the upload thread rolls (and calls the callback) where the writes ended objects.
func TestABufferedRollingStreamEndsObjectsAtWriteBoundaries(t *testing.T) {
	rollsInNumberedObjects(t, "broll", ossappend.WithBuffer(1<<20, time.Second, true))
}

func rollsInNumberedObjects(t *testing.T, prefix string, options ...ossappend.Option) {
	client := newClient(t, nil)
	// Guarded: buffered, the upload thread calls the callback.
	var mu sync.Mutex
	var recorded []finishedObject
	record := ossappend.WithRollCallback(func(key string, length, crc64 uint64) {
		mu.Lock()
		defer mu.Unlock()
		recorded = append(recorded, finishedObject{key, length, crc64})
	})
	key := func(n int) string { return fmt.Sprintf("%s/part-%06d.log", prefix, n) }
	options = append(options, ossappend.WithRoll(10, time.Hour), record)
	a, err := client.OpenAppend(context.Background(), bucket, prefix+"/part-{n}.log", options...)
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(51, 5)
	at := 0
	for _, size := range []int{6, 3, 5, 10, 2, 25} {
		if _, err := a.Write(data[at : at+size]); err != nil {
			t.Fatal(err)
		}
		at += size
	}
	if err := a.Flush(0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	finished := append([]finishedObject(nil), recorded...)
	mu.Unlock()
	// Whole writes to each object, but for the one of 25 bytes, larger than an object.
	lengths := []uint64{9, 5, 10, 10, 10}
	if len(finished) != len(lengths) {
		t.Fatalf("finished %+v", finished)
	}
	var stream []byte
	for i, f := range finished {
		stored := object(t, key(i))
		if f.key != key(i) || f.length != lengths[i] ||
			uint64(len(stored)) != f.length || f.crc64 != crc64.Checksum(stored, ecma) {
			t.Fatalf("finished[%d] %+v; the server holds %d bytes", i, f, len(stored))
		}
		stream = append(stream, stored...)
	}
	if a.Key() != key(5) || a.Position() != 7 || a.StreamPosition() != 51 {
		t.Fatalf("key %q, position %d, stream position %d", a.Key(), a.Position(), a.StreamPosition())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	count := len(recorded)
	mu.Unlock()
	if a.Key() != key(5) || a.StreamPosition() != 51 || count != 5 {
		t.Fatalf("after Close: key %q, stream position %d, %d finished", a.Key(), a.StreamPosition(), count)
	}
	if stream = append(stream, object(t, key(5))...); !bytes.Equal(stream, data) {
		t.Fatalf("the objects hold %v, want %v", stream, data)
	}
}

func TestARollingStreamRollsByAge(t *testing.T) {
	client := newClient(t, nil)
	// The first append is held longer than the age limit, so the next write finds the object old.
	fault(t, "action=delay-before-apply&delay_ms=200&op=append&key=aged/000000&count=1")
	var finished []finishedObject
	a, err := client.OpenAppend(context.Background(), bucket, "aged/{n}",
		ossappend.WithRoll(1<<20, 100*time.Millisecond), rollInto(&finished))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, line := range []string{"one\n", "two\n"} {
		if _, err := io.WriteString(a, line); err != nil {
			t.Fatal(err)
		}
	}
	want := []finishedObject{{"aged/000000", 4, crc64.Checksum([]byte("one\n"), ecma)}}
	if !reflect.DeepEqual(finished, want) || a.Key() != "aged/000001" {
		t.Fatalf("finished %+v, key %q", finished, a.Key())
	}
}

func TestABadKeyTemplateIsRefusedAtOpen(t *testing.T) {
	client := newClient(t, nil)
	for _, template := range []string{"roll/no-marker.log", "roll/{n}-{n}.log"} {
		_, err := client.OpenAppend(context.Background(), bucket, template, ossappend.WithRoll(10, 0))
		if e := asError(t, err); e.Status != ossappend.StatusInvalidArgument || !strings.Contains(e.Message, template) {
			t.Fatalf("%s: %+v", template, e)
		}
	}
	_, err := client.OpenAppend(context.Background(), bucket, "roll/{n}", ossappend.WithRoll(10, -time.Second))
	if e := asError(t, err); e.Status != ossappend.StatusInvalidArgument {
		t.Fatalf("a negative age: %+v", e)
	}
	// Without rolling, the key is the one given and the stream is the object.
	plain, err := client.OpenAppend(context.Background(), bucket, "roll/{n}")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := io.WriteString(plain, "plain"); err != nil {
		t.Fatal(err)
	}
	if plain.Key() != "roll/{n}" || plain.StreamPosition() != 5 {
		t.Fatalf("key %q, stream position %d", plain.Key(), plain.StreamPosition())
	}
}

func TestAPanicInTheRollCallbackIsReRaisedByTheCallThatFinishedTheObject(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "roll-panic/{n}", ossappend.WithRoll(4, 0),
		ossappend.WithSealOnClose(true), ossappend.WithRollCallback(func(key string, _, _ uint64) { panic(key) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(a, "abc"); err != nil {
		t.Fatal(err)
	}
	if p := panicked(func() { _, _ = io.WriteString(a, "def") }); p != "roll-panic/000000" {
		t.Fatalf("the write's panic: %v", p)
	}
	// The write was done when the panic was raised.
	if a.StreamPosition() != 6 || string(object(t, "roll-panic/000001")) != "def" {
		t.Fatalf("stream position %d", a.StreamPosition())
	}
	// Sealing finishes the current object too, and so does closing with WithSealOnClose.
	if p := panicked(func() { _ = a.Seal() }); p != "roll-panic/000001" {
		t.Fatalf("the seal's panic: %v", p)
	}
	if _, err := io.WriteString(a, "ghi"); err != nil {
		t.Fatal(err)
	}
	if p := panicked(func() { _ = a.Close() }); p != "roll-panic/000002" {
		t.Fatalf("the close's panic: %v", p)
	}
	if a.Key() != "roll-panic/000002" || a.StreamPosition() != 9 {
		t.Fatalf("after Close: key %q, stream position %d", a.Key(), a.StreamPosition())
	}
}

// Buffered, the upload thread finishes the object: its callback's panic is kept, and raised
// by the writing goroutine's next call (here the flush that waits for the roll).
func TestAPanicInABufferedRollCallbackIsReRaisedByTheNextCall(t *testing.T) {
	client := newClient(t, nil)
	a, err := client.OpenAppend(context.Background(), bucket, "broll-panic/{n}", ossappend.WithRoll(4, 0),
		ossappend.WithBuffer(1<<20, time.Second, true),
		ossappend.WithRollCallback(func(key string, _, _ uint64) { panic(key) }))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"abc", "def"} {
		if _, err := io.WriteString(a, line); err != nil {
			t.Fatal(err)
		}
	}
	if p := panicked(func() { _ = a.Flush(0) }); p != "broll-panic/000000" {
		t.Fatalf("the flush's panic: %v", p)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if string(object(t, "broll-panic/000000")) != "abc" || string(object(t, "broll-panic/000001")) != "def" {
		t.Fatal("the objects do not hold the writes")
	}
}

// panicked is what f panicked with, nil if it returned.
func panicked(f func()) (p interface{}) {
	defer func() { p = recover() }()
	f()
	return nil
}
