package limit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/limit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a scripted next RoundTripper. It counts the calls that reached it
// and the requests it has open (from RoundTrip until their response body
// ends), and remembers the most it had open at once. Each call waits for the
// current delay on the time package's clock (fake inside a synctest bubble),
// honouring the request's context, then answers with reply (by default a 200
// with a five-byte body).
type fake struct {
	calls   atomic.Int64
	open    atomic.Int64
	maxOpen atomic.Int64
	delay   atomic.Int64 // nanoseconds
	reply   func(*http.Request) (*http.Response, error)
}

func (f *fake) setDelay(d time.Duration) { f.delay.Store(int64(d)) }

func (f *fake) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if req.Body != nil {
		req.Body.Close()
	}
	n := f.open.Add(1)
	for {
		m := f.maxOpen.Load()
		if n <= m || f.maxOpen.CompareAndSwap(m, n) {
			break
		}
	}
	if d := time.Duration(f.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			f.open.Add(-1)
			return nil, context.Cause(req.Context())
		}
	}
	reply := f.reply
	if reply == nil {
		reply = okReply
	}
	resp, err := reply(req)
	if err != nil || resp == nil || resp.Body == nil || resp.Body == http.NoBody {
		f.open.Add(-1)
		return resp, err
	}
	if _, ok := resp.Body.(io.Writer); ok {
		return resp, nil // an upgraded connection: keep it as it is
	}
	resp.Body = &trackedBody{ReadCloser: resp.Body, f: f}
	return resp, nil
}

func okReply(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("hello")), Request: req}, nil
}

// trackedBody counts its request as closed at its first EOF, error or Close.
type trackedBody struct {
	io.ReadCloser
	f    *fake
	once sync.Once
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.end()
	return b.ReadCloser.Close()
}

func (b *trackedBody) end() { b.once.Do(func() { b.f.open.Add(-1) }) }

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int32
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

func newReq(t testing.TB, ctx context.Context, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// get sends one GET for url through rt with the background context.
func get(t testing.TB, rt http.RoundTripper, url string) (*http.Response, error) {
	t.Helper()
	return rt.RoundTrip(newReq(t, context.Background(), url))
}

// drain reads resp's body to the end and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// isLimited reports whether err is the limiter's rejection.
func isLimited(err error) bool {
	var le *limit.Error
	return errors.As(err, &le)
}

// mustHold sends a GET that is admitted and returns its response, body
// unread: it holds its slot until the body ends.
func mustHold(t testing.TB, rt http.RoundTripper, url string) *http.Response {
	t.Helper()
	resp, err := get(t, rt, url)
	if err != nil {
		t.Fatalf("request not admitted: %v", err)
	}
	return resp
}
