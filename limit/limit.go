package limit

import (
	"net/http"
	"slices"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/layer"
)

// Transport is an [http.RoundTripper] that limits, per key (by default per
// host), how many requests are in flight through the next RoundTripper. Make
// it with [New] or [Middleware]; the zero value is not usable. It is safe for
// concurrent use, and it starts no goroutine.
type Transport struct {
	layer.Next
	cfg  config
	base time.Time // origin of the Transport's clock
	reg  registry
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport that sends requests through next (nil means
// [http.DefaultTransport]) within the limits the options set. Without
// [WithMaxInFlight] the limit is adaptive with the defaults of [Adaptive].
// An invalid option value panics when the option is made.
func New(next http.RoundTripper, opts ...Option) *Transport {
	return newTransport(next, resolve(opts))
}

func newTransport(next http.RoundTripper, c config) *Transport {
	return &Transport{Next: layer.Of(next), cfg: c, base: time.Now()}
}

// Middleware returns a function that wraps a RoundTripper in a [Transport]
// with opts; it is assignable to chain.Middleware. The options are resolved
// once; each wrapped RoundTripper gets its own limits.
func Middleware(opts ...Option) func(http.RoundTripper) http.RoundTripper {
	c := resolve(opts)
	return func(next http.RoundTripper) http.RoundTripper { return newTransport(next, c) }
}

// tick returns the time on the Transport's clock: nanoseconds since it was
// made, read from the monotonic clock.
func (t *Transport) tick() int64 { return int64(time.Since(t.base)) }

// RoundTrip sends req through the next RoundTripper when its key has a free
// slot, or when one frees within the [WithMaxWait] bound. Otherwise it closes
// req.Body and returns an [*Error] without calling the next RoundTripper; if
// req's context ends while it waits, it returns the context's error. The slot
// is held until the response body ends (EOF, a read error or Close) or, for a
// response without a body or an error, until the next RoundTripper returns.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := t.cfg.key(req)
	for range 3 {
		h := t.reg.get(t, key)
		if h == nil {
			break
		}
		v, w, lim, sample := h.acquire(t.tick, t.cfg.maxWait > 0)
		switch v {
		case admitted:
			return t.send(h, req, sample)
		case full:
			return nil, t.reject(req, h.key, lim, 0)
		case queued:
			start := t.tick()
			ok, lim, err := h.wait(req.Context(), w, t.cfg.maxWait, t.tick)
			switch {
			case ok:
				return t.send(h, req, w.sampled(h))
			case err != nil:
				closeBody(req)
				return nil, errclass.Wrap(err)
			}
			return nil, t.reject(req, h.key, lim, time.Duration(t.tick()-start))
		}
		t.reg.last.CompareAndSwap(h, nil) // h was dropped: look again
	}
	// The registry is full of busy keys: go through without a limit.
	resp, err := t.RT().RoundTrip(req)
	return t.checked(req, resp, err)
}

// send sends an admitted request and settles its slot, even when the next
// RoundTripper panics. When timed is set, its time to headers is a sample of
// the adaptive limit.
func (t *Transport) send(h *host, req *http.Request, timed bool) (resp *http.Response, err error) {
	var start int64
	if timed {
		start = t.tick()
	}
	returned := false
	defer func() {
		if !returned {
			h.release(nil)
		}
	}()
	resp, err = t.RT().RoundTrip(req)
	returned = true
	resp, err = t.checked(req, resp, err)
	timed = timed && (err == nil || errclass.Classify(err) == errclass.Timeout && req.Context().Err() == nil)
	var s *slot
	if err == nil && resp.Body != nil && resp.Body != http.NoBody {
		resp.Body, s = newSlot(resp.Body, resp.StatusCode, h, req.Context().Done())
		if !timed && s.done == nil {
			return resp, nil // nothing to record, nothing to link
		}
	}
	t.settle(h, start, timed, s)
	return resp, err
}

// settle records the attempt's sample for the adaptive limit, and links the
// slot s of the response body, or releases the slot when there is no body to
// wait for (s nil). Hooks run after the lock is released.
func (t *Transport) settle(h *host, start int64, sample bool, s *slot) {
	var now int64
	var from, to int
	changed := false
	if sample {
		now = t.tick()
	}
	h.mu.Lock()
	if sample {
		from, to, changed = h.observe(&t.cfg.adaptive, now, now-start)
	}
	switch {
	case s == nil:
		h.inFlight--
		h.grant()
	case s.done != nil:
		h.held.push(s)
	}
	h.mu.Unlock()
	if changed {
		for _, f := range t.cfg.onChange {
			f(h.key, from, to)
		}
	}
}

// reject closes req's body, runs the reject hooks and returns the error of a
// shed request.
func (t *Transport) reject(req *http.Request, key string, lim int, waited time.Duration) error {
	closeBody(req)
	for _, f := range t.cfg.onReject {
		f(key)
	}
	return &Error{Key: key, Limit: lim, Waited: waited}
}

// checked enforces the RoundTripper contract on what the next layer
// returned for req (see layer.Checked). Errors go through [errclass.Wrap].
func (t *Transport) checked(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	resp, err = layer.Checked("limit", t.RT(), req, resp, err)
	return resp, errclass.Wrap(err)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// Stats are the figures of one key, as [Transport.Stats] reports them.
type Stats struct {
	// Limit is the key's current limit.
	Limit int
	// InFlight is the number of slots held: requests admitted whose
	// response body has not ended.
	InFlight int
	// Waiting is the number of requests waiting for a slot.
	Waiting int
	// NoLoad is the key's learned no-load latency (adaptive limits only; 0
	// before its first sampling interval closes).
	NoLoad time.Duration
	// Latency is the mean time to headers of the key's last sampling
	// interval (adaptive limits only).
	Latency time.Duration
}

// Stats returns the current figures of key. A key the Transport keeps no
// state for (never seen, or dropped) reports nothing in flight and the limit
// a new key starts with.
func (t *Transport) Stats(key string) Stats {
	if h := t.reg.lookup(key); h != nil {
		return h.stats()
	}
	if t.cfg.fixed > 0 {
		return Stats{Limit: t.cfg.fixed}
	}
	return Stats{Limit: t.cfg.adaptive.Initial}
}

// Keys returns the keys the Transport keeps state for, sorted. There are at
// most [WithMaxKeys] of them.
func (t *Transport) Keys() []string {
	var keys []string
	t.reg.m.Range(func(k, _ any) bool {
		keys = append(keys, k.(string))
		return true
	})
	slices.Sort(keys)
	return keys
}

// Settings returns the Transport's configuration, defaults filled in.
func (t *Transport) Settings() Settings {
	return Settings{
		MaxInFlight: t.cfg.fixed,
		Adaptive:    t.cfg.adaptive,
		MaxWait:     t.cfg.maxWait,
		MaxKeys:     t.cfg.maxKeys,
	}
}
