package bench

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Instant is a RoundTripper that answers every request at once with an empty
// 200 response, without touching the network: the floor against which the
// overhead of each layer is measured.
type Instant struct{}

// RoundTrip returns a new empty 200 response for req.
func (Instant) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		Status:     "200 OK",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Body:       http.NoBody,
		Request:    req,
	}, nil
}

// Server is a loopback test server that counts the requests it handled.
type Server struct {
	*httptest.Server
	hits atomic.Int64
	stop chan struct{} // closed by Close to release handlers that wait
	once sync.Once
}

// Hits returns the number of requests the server has received.
func (s *Server) Hits() int64 { return s.hits.Load() }

// ResetHits sets the request count back to zero.
func (s *Server) ResetHits() { s.hits.Store(0) }

// Close releases waiting handlers and shuts the server down.
func (s *Server) Close() {
	s.once.Do(func() { close(s.stop) })
	s.Server.CloseClientConnections()
	s.Server.Close()
}

func newServer(h func(s *Server, w http.ResponseWriter, r *http.Request)) *Server {
	s := &Server{stop: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(s, w, r)
	}))
	return s
}

// NewOK answers every request with 200 and a two-byte body.
func NewOK() *Server {
	return newServer(func(_ *Server, w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	})
}

// NewOutage answers every request with 503: a total outage of a server that
// still accepts connections, so that every attempt that reaches it is counted.
func NewOutage() *Server {
	return newServer(func(_ *Server, w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
}

// NewFlaky answers 503 to a random fraction of requests (from a fixed seed,
// so every run sees the same sequence) and 200 to the others.
func NewFlaky(fraction float64, seed uint64) *Server {
	var mu sync.Mutex // guards rng
	rng := rand.New(rand.NewPCG(seed, seed))
	return newServer(func(_ *Server, w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		fail := rng.Float64() < fraction
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})
}

// NewSlowHeader sends nothing until the client goes away or the server is
// closed.
func NewSlowHeader() *Server {
	return newServer(func(s *Server, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-s.stop:
		}
	})
}

// NewStalledBody sends the headers and a first chunk, then nothing until the
// client goes away or the server is closed.
func NewStalledBody() *Server {
	return newServer(func(s *Server, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1048576")
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 1024))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-s.stop:
		}
	})
}

// NewFailFirstUpload reads each request body to the end and answers 503 to
// the first request, 200 to the others: a large upload that must be sent
// twice.
func NewFailFirstUpload() *Server {
	return newServer(func(s *Server, w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if s.hits.Load()%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})
}

// Pattern is a request body of N bytes produced on the fly, so that a test can
// send a large body without holding it in memory.
type Pattern struct {
	n int64
}

// NewPattern returns a body of n bytes.
func NewPattern(n int64) *Pattern { return &Pattern{n: n} }

// Read fills p with 'x' until n bytes were produced.
func (p *Pattern) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	for i := range b {
		b[i] = 'x'
	}
	p.n -= int64(len(b))
	return len(b), nil
}

// Close does nothing.
func (p *Pattern) Close() error { return nil }

// NewUpload returns a PUT request of size bytes to url whose body streams and
// whose GetBody returns a fresh stream, as a caller that can replay its body
// would write it.
func NewUpload(ctx context.Context, url string, size int64) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, NewPattern(size))
	if err != nil {
		panic(err)
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return NewPattern(size), nil }
	return req
}

// HeapPeak samples the heap while f runs and returns the largest growth of
// HeapInuse over its value before f, in bytes.
func HeapPeak(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > base && m.HeapInuse-base > peak.Load() {
			peak.Store(m.HeapInuse - base)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	f()
	sample()
	close(done)
	wg.Wait()
	return peak.Load()
}
