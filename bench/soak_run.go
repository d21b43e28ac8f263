package bench

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// SoakReport is what a soak run measured and what it found wrong.
type SoakReport struct {
	Config     SoakConfig
	Requests   int           // requests through the stack
	Controls   int           // plain net/http requests of the control group
	Elapsed    time.Duration // wall time of the requests, less the pauses for heap checkpoints
	Outcomes   map[string]int
	ByScenario map[string]map[string]int
	// Latency of successful healthy requests: through the stack over
	// HTTP/1.1, through the stack over mutual TLS, and plain net/http; each
	// the upper bound of a histogram bucket (within about 2.3 %).
	StackP50, StackP99, TLSP50, TLSP99, ControlP50, ControlP99 time.Duration
	PeakHeap                                                   uint64   // largest live heap seen during the run
	HeapCheckpoints                                            []uint64 // live heap after GC with no request in flight, Config.Checkpoints times from the first tenth of the run to the ninth
	HeapBefore, HeapAfter                                      uint64   // live heap after GC before setup and after teardown
	Rotations                                                  int64    // client certificate rotations published
	ServerRotations                                            int      // server certificate rotations
	Attempts                                                   int64    // attempts the fault servers received
	Dialed                                                     int64    // connections the client dialed
	// Problems are failures of the soak itself: hangs, unclassified
	// outcomes, leaks, heap growth. Classes lists outcomes that a correct
	// stack would not report for their scenario (a class, or a timeout's
	// phase, outside its allowed set); Sentinels the errors that do not
	// match the sentinel of their class (errors.Is(err, class.Sentinel())).
	// Each holds the first few examples of each kind.
	Problems, Classes, Sentinels []string
	Counts                       map[string]int // every kind, with its count
}

// AddedP50 and AddedP99 are the latency the stack adds to a healthy request
// over plain net/http, measured side by side under the same load.
func (r *SoakReport) AddedP50() time.Duration { return r.StackP50 - r.ControlP50 }

// AddedP99 is the P99 counterpart of AddedP50.
func (r *SoakReport) AddedP99() time.Duration { return r.StackP99 - r.ControlP99 }

// RequestsPerSecond is the rate of requests through the stack.
func (r *SoakReport) RequestsPerSecond() float64 {
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// soakHarness holds the servers and clients of one run.
type soakHarness struct {
	cfg           SoakConfig
	faults, paced *FaultServer
	dead          string
	ca            *transporttest.CA
	tlsSrv        *FaultServer
	src           *tlsrotate.Source
	material      atomic.Pointer[tlsrotate.Material]
	rotations     atomic.Int64
	conns         connCounter
	client, plain *http.Client
	// gate is held for reading by every request in flight; the monitor
	// takes it to measure the heap with no request in flight.
	gate   sync.RWMutex
	paused time.Duration // time spent in heap checkpoints, written by the monitor
}

func (h *soakHarness) url(sc scenario) string {
	switch sc.to {
	case toPaced:
		return h.paced.URL + FaultPath(sc.fault, sc.k)
	case toDead:
		return "http://" + h.dead + FaultPath(sc.fault, sc.k)
	case toTLS:
		return h.tlsSrv.URL + FaultPath(sc.fault, sc.k)
	}
	return h.faults.URL + FaultPath(sc.fault, sc.k)
}

// Soak runs cfg: it starts the loopback servers, drives cfg.Requests
// requests through standard.Client with cfg.Workers workers while the client
// certificate rotates, tears everything down and checks for leaks. Every
// bound is scaled down from the standard defaults. The error is only for a
// setup that failed; what the run found is in the report.
func Soak(cfg SoakConfig) (*SoakReport, error) {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ignore := goleak.IgnoreCurrent()
	rep := &SoakReport{Config: cfg, HeapBefore: heapAfterGC()}
	h, err := newSoakHarness(cfg)
	if err != nil {
		return nil, err
	}
	var done atomic.Int64
	stopMon := h.monitor(&done, rep)
	stopRot := h.rotate(rep)
	start := time.Now()
	tallies := h.drive(&done)
	rep.Elapsed = time.Since(start)
	stopRot()
	stopMon()
	rep.Elapsed -= h.paused
	logf("soak: %d requests in %v", cfg.Requests, rep.Elapsed.Round(time.Millisecond))
	merge(rep, tallies)
	rep.Rotations = h.rotations.Load()
	rep.Attempts = h.faults.Requests() + h.paced.Requests()
	rep.Dialed = h.conns.dialed.Load()
	h.teardown(rep)
	h = nil
	if err := goleak.Find(ignore); err != nil {
		rep.fail("goroutine leak", err.Error())
	}
	rep.HeapAfter = heapAfterGC()
	rep.checkHeap()
	return rep, nil
}

func newSoakHarness(cfg SoakConfig) (*soakHarness, error) {
	t := FaultTiming{
		SlowHeader:    4 * cfg.HeaderBound,
		TrickleEvery:  cfg.BodyIdle / 5,
		TrickleBytes:  8,
		Body:          2048,
		StallMaxBlock: cfg.Guard,
	}
	h := &soakHarness{cfg: cfg, faults: NewFaultServer(t), paced: NewFaultServer(t), dead: transporttest.DeadAddr()}
	h.ca = transporttest.NewCA("soak CA")
	h.tlsSrv = NewMutualTLSFaultServer(t, h.ca)
	h.material.Store(h.issue())
	src, err := tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) {
		return h.material.Load(), nil
	}, tlsrotate.WithOnRotate(func(tlsrotate.Rotation) { h.rotations.Add(1) }))
	if err != nil {
		h.closeServers()
		return nil, fmt.Errorf("soak: tls source: %w", err)
	}
	h.src = src
	topts := []timeouts.Option{
		timeouts.WithResponseHeader(cfg.HeaderBound),
		timeouts.WithBodyIdle(cfg.BodyIdle),
		timeouts.WithWriteIdle(cfg.BodyIdle),
	}
	base := timeouts.NewTransport(topts...)
	base.MaxIdleConnsPerHost = cfg.Workers
	// Scaled down like the other bounds. net/http keeps a closed
	// connection reachable from a timer until the timer fires: an HTTP/1
	// connection closed by CloseIdleConnections (as tlsrotate closes the old
	// generation's at each rotation) until its idle timer (IdleConnTimeout,
	// 55 s from timeouts.NewTransport), an HTTP/2 connection until its
	// read-idle ping timer (SendPingTimeout, 30 s), which its read loop
	// re-arms as it exits. With the defaults, a run of a minute that rotates
	// every half second would see that memory as growth.
	base.IdleConnTimeout = 2 * time.Second
	base.HTTP2.SendPingTimeout = 2 * time.Second
	base.DialContext = h.conns.wrap(base.DialContext)
	h.client = standard.Client(
		standard.WithBase(base),
		standard.WithTimeouts(topts...),
		standard.WithRetry(
			retry.WithBackoff(time.Millisecond, 20*time.Millisecond, retry.JitterFull),
			retry.WithRetryAfterCap(2*time.Second),
			retry.WithAttemptHeader(SoakAttemptHeader),
		),
		// Loosened so that the main fault host (about a third of its
		// attempts fail) stays closed and its faults reach the network;
		// the dead port and the paced host still open and cycle.
		standard.WithBreaker(
			breaker.WithFailureRate(0.6),
			breaker.WithConcurrentFailureRate(0.6),
			breaker.WithRecovery(0.6, 0, 0.6),
			breaker.WithOpenDuration(250*time.Millisecond),
		),
		standard.WithTLS(src),
	)
	if cfg.Wrap != nil {
		h.client.Transport = cfg.Wrap(h.client.Transport)
	}
	h.plain = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers}}
	return h, nil
}

// issue returns new client material from the CA.
func (h *soakHarness) issue() *tlsrotate.Material {
	p := h.ca.IssueClient("soak client", time.Hour)
	return &tlsrotate.Material{CertPEM: p.CertPEM, KeyPEM: p.KeyPEM, CAPEM: h.ca.CertPEM}
}

// rotate rotates the client certificate every cfg.RotateEvery, and the
// server's every fourth time, until the returned function is called.
func (h *soakHarness) rotate(rep *SoakReport) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(h.cfg.RotateEvery)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			h.material.Store(h.issue())
			if err := h.src.Reload(); err != nil {
				rep.fail("rotation", "client certificate rejected: "+err.Error())
			}
			if n%4 == 0 {
				h.tlsSrv.SetCertificate(h.ca, h.ca.IssueServer())
				rep.ServerRotations++
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// monitor samples the live heap every few milliseconds for the peak, and
// cfg.Checkpoints times from the first tenth of the run to the ninth it stops new requests,
// waits for those in flight, and takes the live heap after GC: what is left
// then is what the stack keeps between requests (idle connections, breaker
// windows, certificate generations), which must not grow with the count.
func (h *soakHarness) monitor(done *atomic.Int64, rep *SoakReport) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		n := int64(max(h.cfg.Checkpoints, 2))
		mark := int64(1)
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			rep.PeakHeap = max(rep.PeakHeap, sample[0].Value.Uint64())
			// Checkpoint i of n is at (1 + 8i/(n-1))/10 of the run: from the
			// first tenth (once connections are warm) to the ninth.
			if mark <= n && done.Load() >= int64(h.cfg.Requests)*(n-1+8*(mark-1))/(10*(n-1)) {
				start := time.Now()
				h.gate.Lock()
				rep.HeapCheckpoints = append(rep.HeapCheckpoints, heapAfterGC())
				h.gate.Unlock()
				h.paused += time.Since(start)
				mark++
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// heapAfterGC returns the live heap after two collections (the second
// empties the sync.Pool victim caches).
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// teardown closes idle connections, waits for every connection and handler
// to be gone (a response body that a layer left open keeps its connection
// busy and its handler running), then closes the servers and the source.
func (h *soakHarness) teardown(rep *SoakReport) {
	deadline := time.Now().Add(3 * time.Second)
	var left string
	for {
		h.client.CloseIdleConnections()
		h.plain.CloseIdleConnections()
		left = h.leftovers()
		if left == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if left != "" {
		rep.fail("connection leak", "3s after the run: "+left)
	}
	h.src.Close()
	h.closeServers()
}

// leftovers describes what is still open, or "".
func (h *soakHarness) leftovers() string {
	var parts []string
	if n := h.conns.open.Load(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d client connections open", n))
	}
	for _, s := range []struct {
		name string
		srv  *FaultServer
	}{{"h1", h.faults}, {"paced", h.paced}, {"tls", h.tlsSrv}} {
		if n := s.srv.OpenConns(); n > 0 {
			parts = append(parts, fmt.Sprintf("%d connections open at %s", n, s.name))
		}
		if n := s.srv.InFlight(); n > 0 {
			parts = append(parts, fmt.Sprintf("%d handlers running at %s", n, s.name))
		}
	}
	return strings.Join(parts, ", ")
}

func (h *soakHarness) closeServers() {
	h.tlsSrv.Close()
	h.faults.Close()
	h.paced.Close()
}

func (r *SoakReport) fail(kind, msg string) {
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	r.Counts[kind]++
	r.Problems = append(r.Problems, kind+": "+msg)
}

// checkHeap fails the run when the live heap after GC grew across it: the
// mean of the last checkpoints (up to three) above the mean of as many first
// ones by more than a quarter, and by more than 4 MiB.
func (r *SoakReport) checkHeap() {
	c := r.HeapCheckpoints
	k := min(len(c)/2, 3)
	if k == 0 {
		return
	}
	var first, last uint64
	for i := range k {
		first += c[i]
		last += c[len(c)-1-i]
	}
	first, last = first/uint64(k), last/uint64(k)
	if last > first+max(first/4, 4<<20) {
		r.fail("heap growth", fmt.Sprintf("live heap after GC grew from %s to %s over the run (checkpoints %s)",
			mib(first), mib(last), mibs(c)))
	}
}

func merge(r *SoakReport, ts []*tally) {
	r.Outcomes = map[string]int{}
	r.ByScenario = map[string]map[string]int{}
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	var stack, tlsLat, control latencyHist
	problems, classes, sentinels := map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, t := range ts {
		for sc, m := range t.byScenario {
			bs := r.ByScenario[sc.String()]
			if bs == nil {
				bs = map[string]int{}
				r.ByScenario[sc.String()] = bs
			}
			for k, n := range m {
				bs[k] += n
				r.Outcomes[k] += n
				r.Requests += n
			}
		}
		stack.merge(&t.stackLat)
		tlsLat.merge(&t.tlsLat)
		control.merge(&t.controlLat)
		r.Controls += t.controls
		for k, n := range t.counts {
			r.Counts[k] += n
		}
		for k, msgs := range t.problems {
			problems[k] = append(problems[k], msgs...)
		}
		for k, msgs := range t.classes {
			classes[k] = append(classes[k], msgs...)
		}
		for k, msgs := range t.sentinels {
			sentinels[k] = append(sentinels[k], msgs...)
		}
	}
	r.Problems = append(r.Problems, examples(problems, r.Counts)...)
	r.Classes = examples(classes, r.Counts)
	r.Sentinels = examples(sentinels, r.Counts)
	r.StackP50, r.StackP99 = stack.quantile(0.5), stack.quantile(0.99)
	r.TLSP50, r.TLSP99 = tlsLat.quantile(0.5), tlsLat.quantile(0.99)
	r.ControlP50, r.ControlP99 = control.quantile(0.5), control.quantile(0.99)
}

// examples returns, for each kind in sorted order, its count and its first
// few messages.
func examples(byKind map[string][]string, counts map[string]int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		msgs := byKind[k]
		for i, m := range msgs[:min(len(msgs), maxExamples)] {
			if i == 0 {
				m = fmt.Sprintf("[%s ×%d] %s", k, counts[k], m)
			}
			out = append(out, m)
		}
	}
	return out
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func mibs(bs []uint64) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = fmt.Sprintf("%.1f", float64(b)/(1<<20))
	}
	return strings.Join(s, " ") + " MiB"
}

// String formats the report as the text recorded in RELIABILITY.md.
func (r *SoakReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "requests through the stack: %d (+%d plain control), workers %d, %v, %.0f req/s\n",
		r.Requests, r.Controls, r.Config.Workers, r.Elapsed.Round(time.Millisecond), r.RequestsPerSecond())
	fmt.Fprintf(&b, "attempts at the h1 fault servers: %d; connections dialed: %d; client certificate rotations: %d, server: %d\n",
		r.Attempts, r.Dialed, r.Rotations, r.ServerRotations)
	fmt.Fprintf(&b, "latency of healthy h1 requests: stack p50 %v p99 %v, plain p50 %v p99 %v: added p50 %v p99 %v\n",
		r.StackP50, r.StackP99, r.ControlP50, r.ControlP99, r.AddedP50(), r.AddedP99())
	fmt.Fprintf(&b, "latency of mutual-TLS requests (h2, rotating): p50 %v p99 %v\n", r.TLSP50, r.TLSP99)
	fmt.Fprintf(&b, "heap: peak live %s; after GC: before %s, checkpoints %s, after teardown %s\n",
		mib(r.PeakHeap), mib(r.HeapBefore), mibs(r.HeapCheckpoints), mib(r.HeapAfter))
	b.WriteString("outcomes:")
	for _, k := range slices.Sorted(maps.Keys(r.Outcomes)) {
		fmt.Fprintf(&b, " %s=%d", k, r.Outcomes[k])
	}
	b.WriteString("\nby scenario:\n")
	for _, sc := range soakMix {
		m := r.ByScenario[sc.String()]
		fmt.Fprintf(&b, "  %-28s", sc.String())
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&b, " %s=%d", k, m[k])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "problems: %d, class violations: %d, sentinel violations: %d (kinds and counts: %v)\n",
		len(r.Problems), len(r.Classes), len(r.Sentinels), r.Counts)
	return b.String()
}

// connCounter counts the client's connections that are open.
type connCounter struct {
	open, dialed atomic.Int64
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

func (c *connCounter) wrap(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.open.Add(1)
		c.dialed.Add(1)
		return &countedConn{Conn: conn, c: c}, nil
	}
}

type countedConn struct {
	net.Conn
	c    *connCounter
	once sync.Once
}

func (cc *countedConn) Close() error {
	cc.once.Do(func() { cc.c.open.Add(-1) })
	return cc.Conn.Close()
}
