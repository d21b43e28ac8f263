package timeouts

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/layer"
)

// Total returns a middleware that gives each request one deadline, d after
// RoundTrip is called, over everything below it: every attempt, every retry
// wait, every redirect the layers below follow, and the response body. Place
// it outermost (above retry). The deadline is the context deadline the
// layers below see, so a retry layer never starts a wait it cannot finish and
// a per-attempt bound ([WithAttempt]) gets the smaller of its bound and the
// time left.
//
// When the deadline passes, RoundTrip (or the body's Read) fails with an
// *[Error] of Phase total, whatever error the layers below returned. A
// caller's context that ends first, or has an earlier deadline, keeps its own
// error. Of opts only [WithOnTimeout] applies. d must be positive; anything
// else panics.
//
// The RoundTripper it returns is safe for concurrent use; it forwards
// CloseIdleConnections and has Unwrap.
func Total(d time.Duration, opts ...Option) func(http.RoundTripper) http.RoundTripper {
	positive("Total", d)
	c := newConfig(opts)
	return func(next http.RoundTripper) http.RoundTripper {
		return &total{Next: layer.Of(next), d: d, onTimeout: c.onTimeout}
	}
}

type total struct {
	layer.Next
	d         time.Duration
	onTimeout func(*http.Request, *Error)
}

var _ http.RoundTripper = (*total)(nil)

func (t *total) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	deadline := time.Now().Add(t.d)
	if pd, ok := parent.Deadline(); ok && !pd.After(deadline) {
		return t.RT().RoundTrip(req) // the caller's deadline comes first
	}
	e := &Error{Phase: errclass.PhaseTotal, Limit: t.d}
	ctx, cancel := context.WithDeadlineCause(parent, deadline, e)
	x := &totalExchange{t: t, req: req, parent: parent, ctx: ctx, err: e}
	returned := false
	defer func() {
		if !returned { // next panicked: release the deadline's timer
			cancel()
		}
	}()
	resp, err := t.RT().RoundTrip(req.WithContext(ctx))
	returned = true
	if err != nil || resp == nil {
		cancel()
		if err != nil && resp != nil && resp.Body != nil { // a broken next: never both
			resp.Body.Close()
		}
		if err == nil {
			err = errNilResponse
			if req.Body != nil {
				req.Body.Close()
			}
		}
		return nil, x.mapErr(err)
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		cancel()
		return resp, nil
	}
	x.rc, x.cancel = resp.Body, cancel
	if w, ok := resp.Body.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &totalUpgraded{totalExchange: x, w: w}
	} else {
		resp.Body = x
	}
	return resp, nil
}

// totalExchange is the response body of one request under Total: it keeps
// the deadline's context until EOF, a read error or Close.
type totalExchange struct {
	t      *total
	req    *http.Request
	parent context.Context
	ctx    context.Context
	err    *Error
	rc     io.ReadCloser
	cancel context.CancelFunc
	once   atomic.Bool // the hook was called
}

// mapErr returns the Total error when the deadline is what ended the
// request, and err otherwise.
func (x *totalExchange) mapErr(err error) error {
	if x.parent.Err() == nil && context.Cause(x.ctx) == x.err {
		if x.t.onTimeout != nil && x.once.CompareAndSwap(false, true) {
			x.t.onTimeout(x.req, x.err)
		}
		return x.err
	}
	return err
}

func (x *totalExchange) Read(p []byte) (int, error) {
	n, err := x.rc.Read(p)
	if err != nil {
		if err != io.EOF {
			err = x.mapErr(err)
		}
		x.cancel()
	}
	return n, err
}

func (x *totalExchange) Close() error {
	err := x.rc.Close()
	x.cancel()
	return err
}

type totalUpgraded struct {
	*totalExchange
	w io.Writer
}

func (u *totalUpgraded) Write(p []byte) (int, error) { return u.w.Write(p) }
