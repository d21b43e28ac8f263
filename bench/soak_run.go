package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
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
		// No fault plays on the dial: wide enough that load alone never
		// reaches it (loopback connects at once when the process runs).
		timeouts.WithConnect(2 * time.Second),
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
