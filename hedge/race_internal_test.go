package hedge

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtchain/chain/internal/attempt"
)

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A pooled timer slot may deliver a firing meant for its previous user to
// the next one. Once a race has sent its last hedge, such a firing sends
// nothing: before the fix a late one sent hedge WithMaxHedges+1.
func TestStaleFiringAfterLastHedgeSendsNothing(t *testing.T) {
	var hedges atomic.Int32
	next := rtFunc(func(req *http.Request) (*http.Response, error) {
		ctx := req.Context()
		if attempt.Hedge(ctx) {
			hedges.Add(1)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		fc := ctx.(*firstCtx)
		_ = fc.Done()                     // arms: the hedge is due after 5ms
		time.Sleep(30 * time.Millisecond) // the genuine firing sends hedge 1
		fc.r.mu.Lock()
		sl := fc.r.slot
		fc.r.mu.Unlock()
		if sl != nil {
			go sl.fire() // the previous user's firing, arriving late
		}
		time.Sleep(10 * time.Millisecond)
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
	})
	tr := New(next, WithDelay(5*time.Millisecond)) // one hedge at most
	req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := hedges.Load(); n != 1 {
		t.Fatalf("%d hedges sent with WithMaxHedges(1), want 1", n)
	}
}
