package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tlsrotate"
)

// runURLModes runs the scenarios (no URL), one probe, a watched probe or a
// load, as the flags say.
func runURLModes(ctx context.Context, args []string, con console) (int, error) {
	pf, target, err := parseProbeFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(con.out)
		return 0, nil
	}
	if err != nil {
		return 2, err
	}
	if target == "" {
		return runScenarios(ctx, con.out, defaultScenarioConfig(), pf.json), nil
	}
	if pf.load() {
		return runLoad(ctx, pf, target, con)
	}
	return runProbe(ctx, pf, target, con)
}

// probeClient is the client of the URL modes: the standard stack with the
// flags' settings, and the pieces the modes report on.
type probeClient struct {
	*http.Client
	src       *tlsrotate.Source       // the client certificate (-cert); nil without
	rotations chan tlsrotate.Rotation // the source's rotations, for -watch
	limit     *limit.Transport        // the -limit layer; nil without
}

// close releases the client's connections and its certificate watcher.
func (c *probeClient) close() {
	c.CloseIdleConnections()
	if c.src != nil {
		c.src.Close()
	}
}

// clientHooks are the load mode's hooks into the stack.
type clientHooks struct {
	retry   []retry.Option
	breaker []breaker.Option
	limit   []limit.Option
}

// newClient builds the standard stack from the flags. The base transport is
// made here, with the flags' TLS settings, so that tlsrotate (with -cert)
// clones it with them.
func (pf probeFlags) newClient(h clientHooks) (*probeClient, error) {
	topts := []timeouts.Option{
		timeouts.WithResponseHeader(pf.headerTimeout),
		timeouts.WithBodyIdle(pf.bodyIdle),
	}
	if pf.connect > 0 {
		topts = append(topts, timeouts.WithConnect(pf.connect))
	}
	base := timeouts.NewTransport(topts...)
	if pf.roots != nil || pf.insecure {
		cfg := &tls.Config{}
		if base.TLSClientConfig != nil {
			cfg = base.TLSClientConfig.Clone()
		}
		cfg.RootCAs = pf.roots
		cfg.InsecureSkipVerify = pf.insecure
		base.TLSClientConfig = cfg
	}
	c := &probeClient{}
	opts := []standard.Option{
		standard.WithBase(base),
		standard.WithTimeouts(topts...),
		standard.WithRetry(append([]retry.Option{retry.WithMaxAttempts(pf.attempts), retry.WithOnRetry(traceRetry)}, h.retry...)...),
		standard.WithBreaker(h.breaker...),
	}
	if pf.total > 0 {
		opts = append(opts, standard.WithTotal(pf.total))
	}
	if pf.limit.on() {
		opts = append(opts, standard.WithLayer(standard.LayerBreaker, c.limitOverBreaker(pf.limit, h)))
	}
	if pf.certFile != "" {
		c.rotations = make(chan tlsrotate.Rotation, 16)
		src, err := tlsrotate.NewFileSource(pf.certFile, pf.keyFile, tlsrotate.WithOnRotate(func(r tlsrotate.Rotation) {
			select {
			case c.rotations <- r:
			default: // -watch is behind; it re-probes once for several
			}
		}))
		if err != nil {
			return nil, usagef("-cert, -key: %v", err)
		}
		c.src = src
		opts = append(opts, standard.WithTLS(src))
	}
	c.Client = &http.Client{Transport: standard.New(opts...)}
	return c, nil
}

// limitOverBreaker is the breaker layer of the standard stack with a limit
// layer above it, where the limit package wants it: below retry, so that
// every attempt takes a slot, and above the breaker, so that the breaker
// counts only calls that were sent. The breaker keeps the standard stack's
// setting of relaying a server's Retry-After for up to a minute.
func (c *probeClient) limitOverBreaker(l limitFlag, h clientHooks) func(http.RoundTripper) http.RoundTripper {
	lopts := []limit.Option{limit.WithAdaptive(limit.Adaptive{})}
	if l.fixed > 0 {
		lopts = []limit.Option{limit.WithMaxInFlight(l.fixed)}
	}
	return func(next http.RoundTripper) http.RoundTripper {
		bopts := append([]breaker.Option{breaker.WithRetryAfter(time.Minute)}, h.breaker...)
		c.limit = limit.New(breaker.New(next, bopts...), append(lopts, h.limit...)...)
		return c.limit
	}
}

// newRequest builds one request from the flags; its body can be replayed.
func (pf probeFlags) newRequest(ctx context.Context, target string) (*http.Request, error) {
	var body io.Reader
	if pf.body != "" {
		body = strings.NewReader(pf.body)
	}
	req, err := http.NewRequestWithContext(ctx, pf.method, target, body)
	if err != nil {
		return nil, err
	}
	for _, h := range pf.headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return req, nil
}
