package errclass_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

// countingBody is a response body that counts its reads and closes, and
// closes the body it reads from, if any.
type countingBody struct {
	r      io.Reader
	read   atomic.Int64
	closes atomic.Int32
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error {
	b.closes.Add(1)
	if c, ok := b.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// endless is a reader that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func response(t *testing.T, code int, rawURL string, body io.ReadCloser) *http.Response {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Response{
		StatusCode: code,
		Status:     http.StatusText(code),
		Header:     http.Header{},
		Body:       body,
		Request:    &http.Request{Method: http.MethodGet, URL: u},
	}
}

func TestFromResponsePassesErrors(t *testing.T) {
	t.Parallel()
	in := errors.New("round trip failed")
	if got := errclass.FromResponse(nil, in); got != in {
		t.Errorf("FromResponse(nil, err) = %v, want err unchanged", got)
	}
	body := &countingBody{r: strings.NewReader("x")}
	resp := response(t, 500, "http://h/", body)
	if got := errclass.FromResponse(resp, in); got != in {
		t.Errorf("FromResponse(resp, err) = %v, want err unchanged", got)
	}
	if body.read.Load() != 0 || body.closes.Load() != 0 {
		t.Errorf("body touched: read %d, closed %d", body.read.Load(), body.closes.Load())
	}
}

func TestFromResponseNilNil(t *testing.T) {
	t.Parallel()
	err := errclass.FromResponse(nil, nil)
	if err == nil {
		t.Fatal("FromResponse(nil, nil) = nil, want an error")
	}
	if !strings.HasPrefix(err.Error(), "errclass: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	if got := errclass.Classify(err); got != errclass.Unknown {
		t.Errorf("Classify = %v, want unknown", got)
	}
}

func TestFromResponseBelow400(t *testing.T) {
	t.Parallel()
	for _, code := range []int{100, 200, 204, 301, 304, 399} {
		body := &countingBody{r: strings.NewReader("payload")}
		if err := errclass.FromResponse(response(t, code, "http://h/", body), nil); err != nil {
			t.Errorf("status %d: got %v, want nil", code, err)
		}
		if body.read.Load() != 0 || body.closes.Load() != 0 {
			t.Errorf("status %d: body touched: read %d, closed %d", code, body.read.Load(), body.closes.Load())
		}
	}
}

func TestFromResponseStatusError(t *testing.T) {
	t.Parallel()
	const (
		secretQuery  = "q-secret-123"
		secretUser   = "user-secret"
		secretPass   = "pass-secret"
		secretCookie = "cookie-secret"
		secretAuth   = "Bearer auth-secret"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session="+secretCookie)
		w.Header().Set("Authorization", secretAuth) // echoed, as a careless server might
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "try later")
	}))
	t.Cleanup(srv.Close)
	tr := newTransport(t, nil)
	u, _ := url.Parse(srv.URL)
	raw := "http://" + secretUser + ":" + secretPass + "@" + u.Host + "/path?q=" + secretQuery + "&page=2"
	resp, err := (&http.Client{Transport: tr}).Get(raw)
	if err != nil {
		t.Fatal(err)
	}
	body := &countingBody{r: resp.Body}
	resp.Body = body
	err = errclass.FromResponse(resp, nil)

	var se *errclass.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want *StatusError", err, err)
	}
	want := "errclass: GET http://REDACTED@" + u.Host + "/path?q=REDACTED&page=REDACTED: 503 Service Unavailable"
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%q, want\n%q", got, want)
	}
	for _, s := range []string{secretQuery, secretUser, secretPass, secretCookie, secretAuth} {
		if strings.Contains(err.Error(), s) || strings.Contains(se.URL, s) {
			t.Errorf("secret %q leaked into %q", s, err.Error())
		}
		for k, vs := range se.Header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("secret %q leaked into header %s", s, k)
				}
			}
		}
	}
	if se.StatusCode != 503 || se.Method != "GET" || se.Header.Get("Retry-After") != "7" {
		t.Errorf("fields: %+v", se)
	}
	if string(se.Body) != "try later" {
		t.Errorf("Body = %q, want %q", se.Body, "try later")
	}
	if n := body.closes.Load(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
	if !errors.Is(err, errclass.ErrHTTPStatus) || errors.Is(err, errclass.ErrNetwork) {
		t.Error("want errors.Is(ErrHTTPStatus) only")
	}
	if got := errclass.Classify(err); got != errclass.Status {
		t.Errorf("Classify = %v, want status", got)
	}
	if got := errclass.Classify(&url.Error{Op: "Get", URL: "x", Err: err}); got != errclass.Status {
		t.Errorf("Classify through url.Error = %v, want status", got)
	}
}

func TestStatusErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *errclass.StatusError
		want string
	}{
		{"full", &errclass.StatusError{StatusCode: 404, Status: "404 Not Found", Method: "PUT", URL: "https://h/x"}, "errclass: PUT https://h/x: 404 Not Found"},
		{"no request", &errclass.StatusError{StatusCode: 404, Status: "404 Not Found"}, "errclass: 404 Not Found"},
		{"no status text", &errclass.StatusError{StatusCode: 418, Method: "GET", URL: "http://h/"}, "errclass: GET http://h/: 418 I'm a teapot"},
		{"unknown code", &errclass.StatusError{StatusCode: 599}, "errclass: 599"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFromResponseBodyBound(t *testing.T) {
	t.Parallel()
	t.Run("endless body", func(t *testing.T) {
		body := &countingBody{r: endless{}}
		err := errclass.FromResponse(response(t, 500, "http://h/", body), nil)
		var se *errclass.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("got %v, want *StatusError", err)
		}
		if len(se.Body) != errclass.MaxBody {
			t.Errorf("len(Body) = %d, want %d", len(se.Body), errclass.MaxBody)
		}
		if n := body.read.Load(); n > errclass.MaxBody {
			t.Errorf("read %d bytes of the body, want at most %d", n, errclass.MaxBody)
		}
		if n := body.closes.Load(); n != 1 {
			t.Errorf("body closed %d times, want 1", n)
		}
	})
	t.Run("endless body over the network", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			chunk := []byte(strings.Repeat("y", 4096))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}))
		t.Cleanup(srv.Close)
		resp, err := (&http.Client{Transport: newTransport(t, nil)}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body := &countingBody{r: resp.Body}
		resp.Body = body
		var se *errclass.StatusError
		if !errors.As(errclass.FromResponse(resp, nil), &se) {
			t.Fatal("want *StatusError")
		}
		if len(se.Body) != errclass.MaxBody || body.read.Load() > errclass.MaxBody || body.closes.Load() != 1 {
			t.Errorf("Body %d bytes, read %d, closed %d; want %d, at most %d, 1",
				len(se.Body), body.read.Load(), body.closes.Load(), errclass.MaxBody, errclass.MaxBody)
		}
	})
	t.Run("empty body", func(t *testing.T) {
		body := &countingBody{r: strings.NewReader("")}
		var se *errclass.StatusError
		if !errors.As(errclass.FromResponse(response(t, 404, "http://h/", body), nil), &se) {
			t.Fatal("want *StatusError")
		}
		if se.Body != nil || body.closes.Load() != 1 {
			t.Errorf("Body %q, closed %d; want nil, 1", se.Body, body.closes.Load())
		}
	})
	t.Run("nil body", func(t *testing.T) {
		resp := response(t, 404, "http://h/", nil)
		if !errors.Is(errclass.FromResponse(resp, nil), errclass.ErrHTTPStatus) {
			t.Error("want a status error")
		}
	})
}

func TestFromResponseStalledBody(t *testing.T) {
	defer errclass.SetBodyWait(100 * time.Millisecond)()

	t.Run("network body", func(t *testing.T) {
		// The server sends its header and a few bytes, then nothing: the
		// bound fires, Close ends the pending read, the bytes are kept.
		srv := newRawServer(t, func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\npartial")
				hold(c)
			}
		})
		resp, err := (&http.Client{Transport: newTransport(t, nil)}).Get("http://" + srv.addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = errclass.FromResponse(resp, nil)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("FromResponse took %v on a stalled body, want the 100ms bound to hold well before 5s", d)
		}
		var se *errclass.StatusError
		if !errors.As(err, &se) || string(se.Body) != "partial" {
			t.Fatalf("got %v with body %q, want a StatusError with body %q", err, se.Body, "partial")
		}
	})
	t.Run("body that ignores Close", func(t *testing.T) {
		release := make(chan struct{})
		var closes atomic.Int32
		body := &stubbornBody{release: release, closes: &closes}
		var wg sync.WaitGroup
		wg.Add(1)
		body.done = wg.Done
		err := errclass.FromResponse(response(t, 500, "http://h/", body), nil)
		var se *errclass.StatusError
		if !errors.As(err, &se) || se.Body != nil {
			t.Errorf("got %v, want a StatusError without body", err)
		}
		if closes.Load() != 1 {
			t.Errorf("closed %d times, want 1", closes.Load())
		}
		close(release) // let the abandoned read return before goleak looks
		wg.Wait()
	})
}

// stubbornBody blocks in Read until release is closed, whatever Close does.
type stubbornBody struct {
	release chan struct{}
	closes  *atomic.Int32
	done    func()
}

func (b *stubbornBody) Read(p []byte) (int, error) {
	defer b.done()
	<-b.release
	return 0, context.Canceled
}

func (b *stubbornBody) Close() error { b.closes.Add(1); return nil }
