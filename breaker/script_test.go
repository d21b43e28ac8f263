package breaker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is what the scripted transport does for one call: wait latency on
// the bubble's fake clock (cut short by the request's context), then answer.
type step struct {
	latency time.Duration
	status  int           // 0: 200
	err     error         // returned instead of a response
	body    io.ReadCloser // nil: http.NoBody
	header  http.Header
}

// script is a next RoundTripper for testing/synctest bubbles: time passes
// only by the latency of each call, which runs concurrently with the others.
type script struct {
	calls atomic.Int64
	plan  func(req *http.Request) step
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	s.calls.Add(1)
	if req.Body != nil {
		req.Body.Close()
	}
	st := step{}
	if s.plan != nil {
		st = s.plan(req)
	}
	if st.latency > 0 {
		tm := time.NewTimer(st.latency)
		select {
		case <-tm.C:
		case <-req.Context().Done():
			tm.Stop()
			return nil, req.Context().Err()
		}
	}
	if st.err != nil {
		return nil, st.err
	}
	resp := &http.Response{StatusCode: st.status, Body: st.body, Header: st.header, Request: req}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	return resp, nil
}

// fanOut sends one request per plan entry at once (each with its own step),
// reads every body to its end and returns the errors, in plan order.
func fanOut(t *testing.T, rt http.RoundTripper, host string, steps []step) []error {
	t.Helper()
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i := range steps {
		wg.Go(func() {
			req := newReq(t, host, "", 0)
			req = req.WithContext(context.WithValue(req.Context(), stepKey{}, steps[i]))
			resp, err := rt.RoundTrip(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errs
}

type stepKey struct{}

// fromContext plays the step that fanOut put in the request's context.
func fromContext(req *http.Request) step {
	st, _ := req.Context().Value(stepKey{}).(step)
	return st
}

// repeat returns n copies of st.
func repeat(n int, st step) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = st
	}
	return s
}

// failingBody delivers data, then fails with err.
type failingBody struct {
	r   *strings.Reader
	err error
}

func newFailingBody(data string, err error) *failingBody {
	return &failingBody{r: strings.NewReader(data), err: err}
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.r.Len() == 0 {
		return 0, b.err
	}
	return b.r.Read(p)
}

func (b *failingBody) Close() error { return nil }

// stalledBody delivers data, then blocks until ctx ends and fails with its
// error: the shape of a server that stops sending mid-body.
type stalledBody struct {
	r   *strings.Reader
	ctx context.Context
}

func (b *stalledBody) Read(p []byte) (int, error) {
	if b.r.Len() > 0 {
		return b.r.Read(p)
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *stalledBody) Close() error { return nil }

// readAll reads and closes resp's body, returning the read error.
func readAll(resp *http.Response) error {
	_, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}
