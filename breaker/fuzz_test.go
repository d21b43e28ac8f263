package breaker

import (
	"encoding/binary"
	"io"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzUpdate runs a program of Update calls (sets of options with values
// chosen among the edges of their ranges, or any), calls and clock steps
// against a Transport, and checks that nothing panics, that Update returns
// an error exactly when an option is out of its documented range or a
// recovery threshold is looser than its trip threshold, that a failed
// Update leaves the settings as they were and a successful one applies
// every option as documented, and that calls still get a response or an
// error, never both, whatever the settings.
func FuzzUpdate(f *testing.F) {
	for _, p := range [][]byte{
		{optWindow, 6, opUpdate, opCall, 0, opAdvance, 9, opCall, 1},
		{optFailureRate, 130, optRecovery, 140, 1, 150, opUpdate},                              // recovery looser than the trip
		{optRecovery, 102, 1, 102, opUpdate, optFailureRate, 101, opUpdate},                    // the trip tightened under a recovery
		{optOpen, 10, optProbes, 2, optMinRequests, 2, opUpdate, opCall, 2, opCall, 2, opCall}, // huge open duration
		{optSlowCall, 5, 3, optP99, 1, optWindow, 0, opUpdate},                                 // invalid rate, window below 10 ms
		{optRetryAfter, 10, optMaxKeys, 2, opUpdate, opCall, 3, opCall, 4, opAdvance, 10, opCall, 3},
		{optKeyNil, optClock, opUpdate, optOnState, opUpdate},
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		fz := newFuzzRun(t)
		for len(program) > 0 && fz.steps < 256 {
			program = fz.step(program)
		}
	})
}

// Operations of a FuzzUpdate program: an option joins the pending set
// (its values follow), opUpdate applies the set, opCall sends a call whose
// answer the next byte chooses, opAdvance moves the clock.
const (
	optWindow byte = iota
	optFailureWindow
	optLatencyWindow
	optConcurrencyWindow
	optMinRequests
	optFailureRate
	optSlowCall
	optP99
	optConcurrentRate
	optOpen
	optProbes
	optProbeDeadline
	optRecovery
	optRetryAfter
	optMaxKeys
	optKeyNil
	optKey
	optClock
	optOnState
	opUpdate
	opCall
	opAdvance
	numFuzzOps
)

// Durations, rates and counts at the edges of the options' ranges; a byte
// past a table's end takes the next 8 bytes as the raw value.
var (
	fuzzDurations = []time.Duration{-time.Nanosecond, 0, time.Nanosecond, 10*time.Millisecond - 1, 10 * time.Millisecond,
		time.Second, 2 * time.Second, 30 * time.Second, time.Hour, 1 << 62, math.MaxInt64, math.MinInt64}
	fuzzRates  = []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.01, 0, 1, 1.01}
	fuzzCounts = []int{-1, 0, 1, 2, 5, 20, 100, math.MaxInt, math.MinInt}
)

// fuzzRun is a Transport under a program and the model of its settings.
type fuzzRun struct {
	t       *testing.T
	tr      *Transport
	clock   *fuzzClock
	next    *fuzzNext
	model   fuzzModel
	pending []fuzzOpt
	steps   int
}

func newFuzzRun(t *testing.T) *fuzzRun {
	clock := &fuzzClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fz := &fuzzRun{t: t, clock: clock, model: defaultModel(), next: &fuzzNext{clock: clock}}
	fz.tr = New(fz.next, WithClock(clock.Now))
	return fz
}

// step runs the first operation of program and returns the rest.
func (fz *fuzzRun) step(program []byte) []byte {
	fz.steps++
	r := &fuzzReader{b: program[1:]}
	switch op := program[0] % numFuzzOps; op {
	case opUpdate:
		fz.update()
	case opCall:
		fz.call(r.byte())
	case opAdvance:
		fz.clock.Advance(max(r.duration(), 0))
	default:
		fz.pending = append(fz.pending, readOpt(op, r))
	}
	return r.b
}

// update applies the pending options and checks the outcome against the
// model.
func (fz *fuzzRun) update() {
	pending := fz.pending
	fz.pending = nil
	opts := make([]Option, len(pending))
	for i, o := range pending {
		opts[i] = o.option()
	}
	old := fz.tr.cfg.Load()
	want, valid := fz.model.apply(pending)
	err := fz.tr.Update(opts...)
	switch {
	case valid && err != nil:
		fz.t.Fatalf("Update(%+v): %v, want nil", pending, err)
	case !valid && err == nil:
		fz.t.Fatalf("Update(%+v) = nil, want an error", pending)
	case err != nil:
		if fz.tr.cfg.Load() != old {
			fz.t.Fatalf("Update failed (%v) but changed the settings", err)
		}
		return
	}
	fz.model = want
	fz.model.check(fz.t, fz.tr.cfg.Load())
}

// call sends one request that the next transport answers as b says, reads
// its body if any, and checks the RoundTripper contract.
func (fz *fuzzRun) call(b byte) {
	req, _ := http.NewRequest(http.MethodGet, "http://h"+string('0'+rune(b%3))+".test/", nil)
	fz.next.answer = b
	resp, err := fz.tr.RoundTrip(req)
	if (resp == nil) == (err == nil) {
		fz.t.Fatalf("RoundTrip: response %v and error %v", resp, err)
	}
	if resp != nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for _, k := range fz.tr.Keys() {
		if s := fz.tr.State(k); s != Closed && s != Open && s != HalfOpen {
			fz.t.Fatalf("State(%q) = %v", k, s)
		}
	}
}

// fuzzOpt is one option with its values.
type fuzzOpt struct {
	kind byte
	d    time.Duration
	f, g float64
	n    int
}

func readOpt(kind byte, r *fuzzReader) fuzzOpt {
	o := fuzzOpt{kind: kind}
	switch kind {
	case optMinRequests, optProbes, optMaxKeys:
		o.n = r.count()
	case optFailureRate, optConcurrentRate:
		o.f = r.rate()
	case optSlowCall:
		o.d, o.f = r.duration(), r.rate()
	case optRecovery:
		o.f, o.d, o.g = r.rate(), r.duration(), r.rate()
	case optKeyNil, optKey, optClock, optOnState:
	default:
		o.d = r.duration()
	}
	return o
}

func (o fuzzOpt) option() Option {
	switch o.kind {
	case optWindow:
		return WithWindow(o.d)
	case optFailureWindow:
		return WithFailureWindow(o.d)
	case optLatencyWindow:
		return WithLatencyWindow(o.d)
	case optConcurrencyWindow:
		return WithConcurrencyWindow(o.d)
	case optMinRequests:
		return WithMinRequests(o.n)
	case optFailureRate:
		return WithFailureRate(o.f)
	case optSlowCall:
		return WithSlowCall(o.d, o.f)
	case optP99:
		return WithP99(o.d)
	case optConcurrentRate:
		return WithConcurrentFailureRate(o.f)
	case optOpen:
		return WithOpenDuration(o.d)
	case optProbes:
		return WithHalfOpenProbes(o.n)
	case optProbeDeadline:
		return WithProbeDeadline(o.d)
	case optRecovery:
		return WithRecovery(o.f, o.d, o.g)
	case optRetryAfter:
		return WithRetryAfter(o.d)
	case optMaxKeys:
		return WithMaxKeys(o.n)
	case optKeyNil:
		return WithKey(nil)
	case optKey:
		return WithKey(func(r *http.Request) string { return r.URL.Host })
	case optClock:
		return WithClock(func() time.Time { return time.Unix(0, 0) }) // ignored by Update
	}
	return WithOnStateChange(func(string, State, State) {})
}

// fuzzModel is what the documentation says the settings are.
type fuzzModel struct {
	windows                   [numDims]time.Duration
	minRequests, probes, keys int
	failRate, concRate        float64
	slowCall                  time.Duration
	slowRate                  float64
	p99, open, probeDL, pause time.Duration
	recovery                  *fuzzRecovery // nil: the defaults
	hooks                     int
}

type fuzzRecovery struct {
	fail, conc float64
	p99        time.Duration
}

func defaultModel() fuzzModel {
	return fuzzModel{windows: [numDims]time.Duration{time.Minute, 30 * time.Second, 10 * time.Second},
		minRequests: 20, probes: 5, keys: 1024, failRate: 0.05, concRate: 0.15, p99: 2 * time.Second, open: 30 * time.Second}
}

// apply returns the model after opts, and whether they are valid.
func (m fuzzModel) apply(opts []fuzzOpt) (fuzzModel, bool) {
	ok := true
	inRate := func(f float64) bool { return f >= 0 && f <= 1 }
	need := func(cond bool) bool { ok = ok && cond; return cond }
	for _, o := range opts {
		switch o.kind {
		case optWindow:
			if need(o.d >= minWindow) {
				m.windows = [numDims]time.Duration{o.d, o.d, o.d}
			}
		case optFailureWindow, optLatencyWindow, optConcurrencyWindow:
			if need(o.d >= minWindow) {
				m.windows[o.kind-optFailureWindow] = o.d
			}
		case optMinRequests:
			if need(o.n >= 1) {
				m.minRequests = o.n
			}
		case optFailureRate:
			if need(inRate(o.f)) {
				m.failRate = o.f
			}
		case optSlowCall:
			if need(o.d >= 0 && (o.d == 0 || o.f >= 0 && o.f < 1)) {
				m.slowCall, m.slowRate = o.d, o.f
			}
		case optP99:
			if need(o.d >= 0) {
				m.p99 = o.d
			}
		case optConcurrentRate:
			if need(inRate(o.f)) {
				m.concRate = o.f
			}
		case optOpen:
			if need(o.d > 0) {
				m.open = o.d
			}
		case optProbes:
			if need(o.n >= 1) {
				m.probes = o.n
			}
		case optProbeDeadline:
			if need(o.d > 0) {
				m.probeDL = o.d
			}
		case optRecovery:
			if need(inRate(o.f) && inRate(o.g) && o.d >= 0) {
				m.recovery = &fuzzRecovery{fail: o.f, p99: o.d, conc: o.g}
			}
		case optRetryAfter:
			if need(o.d >= 0) {
				m.pause = o.d
			}
		case optMaxKeys:
			if need(o.n >= 1) {
				m.keys = o.n
			}
		case optKeyNil:
			need(false)
		case optOnState:
			m.hooks++
		}
	}
	// Each recovery threshold is no looser than its trip threshold, compared
	// in parts per billion, the precision the breaker counts in.
	looser := func(rec, trip float64) bool { return trip > 0 && rateOf(rec) > rateOf(trip) }
	if r := m.recovery; r != nil {
		need(!looser(r.fail, m.failRate) && !(m.p99 > 0 && r.p99 > m.p99) && !looser(r.conc, m.concRate))
	}
	return m, ok
}

// check compares the settings in force with the model.
func (m fuzzModel) check(t *testing.T, c *config) {
	t.Helper()
	rec := recovery{failRate: rateOf(0.01), p99: 800 * time.Millisecond, concRate: rateOf(0.03)}
	if r := m.recovery; r != nil {
		rec = recovery{failRate: rateOf(r.fail), p99: r.p99, concRate: rateOf(r.conc)}
	} else {
		if m.failRate > 0 && m.failRate < 0.01 {
			rec.failRate = rateOf(m.failRate)
		}
		if m.p99 > 0 && m.p99 < rec.p99 {
			rec.p99 = m.p99
		}
		if m.concRate > 0 && m.concRate < 0.03 {
			rec.concRate = rateOf(m.concRate)
		}
	}
	got := []any{c.windows, c.minRequests, c.probes, c.maxKeys, c.failRate, c.concRate, c.slowCall, c.p99, c.openDuration,
		c.probeDeadline, c.retryAfterMax, c.rec.failRate, c.rec.p99, c.rec.concRate, len(c.onState), c.clock != nil}
	want := []any{m.windows, m.minRequests, m.probes, m.keys, rateOf(m.failRate), rateOf(m.concRate), m.slowCall, m.p99, m.open,
		m.probeDL, m.pause, rec.failRate, rec.p99, rec.concRate, m.hooks, true}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("setting %d is %v, want %v (model %+v)", i, got[i], want[i], m)
		}
	}
	if m.slowCall > 0 && c.slowRate != rateOf(m.slowRate) {
		t.Fatalf("slow-call rate %v, want %v", c.slowRate, m.slowRate)
	}
}

// fuzzReader reads the values of a program's operations.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// raw returns the next 8 bytes as an integer (zeros past the end).
func (r *fuzzReader) raw() uint64 {
	var b [8]byte
	n := copy(b[:], r.b)
	r.b = r.b[n:]
	return binary.LittleEndian.Uint64(b[:])
}

func (r *fuzzReader) duration() time.Duration {
	if i := int(r.byte()); i < len(fuzzDurations) {
		return fuzzDurations[i]
	}
	return time.Duration(r.raw())
}

func (r *fuzzReader) rate() float64 {
	b := r.byte()
	switch {
	case int(b) < len(fuzzRates):
		return fuzzRates[b]
	case int(b) < 100+len(fuzzRates):
		return float64(b-byte(len(fuzzRates))) / 100 // 0, 0.01, ... 0.99
	case b < 255:
		return float64(b-100) / 1000 // 0.0xx, 0.1xx
	}
	return math.Float64frombits(r.raw())
}

func (r *fuzzReader) count() int {
	if i := int(r.byte()); i < len(fuzzCounts) {
		return fuzzCounts[i]
	}
	return int(r.raw())
}

// fuzzClock is a settable clock, for one goroutine (the breaker starts
// none).
type fuzzClock struct{ now time.Time }

func (c *fuzzClock) Now() time.Time          { return c.now }
func (c *fuzzClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// fuzzNext answers each call as answer says: a status (with a Retry-After
// sometimes), an error, after a delay on the fake clock.
type fuzzNext struct {
	clock  *fuzzClock
	answer byte
}

func (n *fuzzNext) RoundTrip(req *http.Request) (*http.Response, error) {
	b := n.answer
	n.clock.Advance(time.Duration(b>>4) * 300 * time.Millisecond)
	switch b % 6 {
	case 0:
		return nil, io.ErrUnexpectedEOF
	case 1:
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: req,
			Header: http.Header{"Retry-After": {"120"}}}, nil
	case 2:
		return &http.Response{StatusCode: http.StatusTooManyRequests, Body: http.NoBody, Request: req,
			Header: http.Header{"Retry-After": {"99999999999"}}}, nil
	case 3:
		return &http.Response{StatusCode: http.StatusInternalServerError, Body: io.NopCloser(http.NoBody), Request: req}, nil
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(http.NoBody), Request: req}, nil
}

// FuzzRetryAfter checks the breaker's own Retry-After parser (for
// WithRetryAfter) on any value: it never panics, a number of seconds is
// exact or, too large for a Duration, the largest Duration, a larger number
// never pauses less, and a date gives the time left until it.
func FuzzRetryAfter(f *testing.F) {
	for _, v := range []string{"", "0", "120", "-1", " 5", "9223372036", "9223372037", "99999999999999999999",
		"Sat, 28 Nov 2026 12:00:10 GMT", "Saturday, 28-Nov-26 12:01:00 GMT", "Sat Nov 28 12:00:03 2026"} {
		f.Add(v)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryAfter(v, now)
		if !ok {
			if d != 0 {
				t.Fatalf("retryAfter(%q) = %v, false", v, d)
			}
			return
		}
		if secs, err := strconv.ParseUint(v, 10, 64); err == nil || isRange(err) {
			want := time.Duration(math.MaxInt64)
			if err == nil && secs <= math.MaxInt64/uint64(time.Second) {
				want = time.Duration(secs) * time.Second
			}
			if d != want {
				t.Fatalf("retryAfter(%q) = %v, want %v", v, d, want)
			}
			if d2, ok := retryAfter("1"+v, now); !ok || d2 < d {
				t.Fatalf("retryAfter(%q) = %v, but retryAfter(1%s) = %v, %v", v, d, v, d2, ok)
			}
			return
		}
		at, err := http.ParseTime(v)
		if err != nil || d != at.Sub(now) {
			t.Fatalf("retryAfter(%q) = %v; http.ParseTime: %v, %v", v, d, at, err)
		}
	})
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
