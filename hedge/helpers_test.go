package hedge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/internal/attempt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// step is what the fake next layer does for one call.
type step struct {
	delay  time.Duration // before the response headers (or the error)
	status int           // 0: 200
	body   string        // "": the call's number, as "call N"
	err    error         // returned instead of a response
	// deaf answers after delay even when the context ends first (it still
	// watches the context, as a transport does, so the attempt is hedged);
	// its response races with the cancellation.
	deaf bool
	// blind never asks for the context's Done channel.
	blind bool
}

// call is what the fake saw of one RoundTrip.
type call struct {
	n     int
	hedge bool
	host  string
	at    time.Duration // since the fake was made
	ctx   context.Context
	body  string
	resp  *fakeBody // nil when it answered with an error
	endAt time.Duration
	err   error // the context's cause when it was cancelled, else nil
}

// fake is a scripted next RoundTripper for tests in a synctest bubble: each
// call plays plan(call). It records every call, reads and closes request
// bodies, and hands out bodies that count reads and closes.
type fake struct {
	plan  func(c *call) step
	start time.Time

	mu    sync.Mutex
	calls []*call
	idle  atomic.Int32 // CloseIdleConnections calls
}

func newFake(plan func(c *call) step) *fake { return &fake{plan: plan, start: time.Now()} }

// steps returns a fake whose call n plays ss[n], repeating the last.
func steps(ss ...step) *fake {
	return newFake(func(c *call) step { return ss[min(c.n, len(ss)-1)] })
}

func (f *fake) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	c := &call{n: len(f.calls), hedge: attempt.Hedge(req.Context()), host: req.URL.Host, at: time.Since(f.start), ctx: req.Context()}
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		c.body = string(b)
	}
	s := f.plan(c)
	var err error
	switch {
	case s.blind:
		time.Sleep(s.delay)
	case s.deaf:
		_ = req.Context().Done()
		time.Sleep(s.delay)
	default:
		t := time.NewTimer(s.delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			err = context.Cause(req.Context())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c.endAt = time.Since(f.start)
	if err != nil {
		c.err = err
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.body == "" {
		s.body = fmt.Sprintf("call %d", c.n)
	}
	c.resp = &fakeBody{r: strings.NewReader(s.body)}
	return &http.Response{StatusCode: s.status, Header: http.Header{}, Body: c.resp, Request: req}, nil
}

func (f *fake) CloseIdleConnections() { f.idle.Add(1) }

// seen returns the calls made so far.
func (f *fake) seen() []*call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*call(nil), f.calls...)
}

// fakeBody is a response body that counts reads and closes.
type fakeBody struct {
	r      *strings.Reader
	reads  atomic.Int32
	closed atomic.Bool
}

func (b *fakeBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	return b.r.Read(p)
}

func (b *fakeBody) Close() error {
	b.closed.Store(true)
	return nil
}

// events records the hook's events.
type events struct {
	mu sync.Mutex
	ev []string
}

func (e *events) hook(ev hedge.Event) {
	what := "sent"
	if ev.Won {
		what = "won"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, fmt.Sprintf("%s %d at %v", what, ev.Hedge, ev.Delay))
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.ev...)
}

// readAll reads and closes resp's body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return string(b)
}

// get returns a GET request for ctx.
func get(ctx context.Context) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.example/items", nil)
	if err != nil {
		panic(err)
	}
	return req
}

// budget is a Budget with a fixed number of tokens.
type budget struct{ tokens, asked atomic.Int32 }

func (b *budget) Withdraw() bool {
	b.asked.Add(1)
	return b.tokens.Add(-1) >= 0
}
