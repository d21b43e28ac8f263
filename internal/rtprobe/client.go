package rtprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tlsrotate"
)

// runURLModes runs the scenarios (no URL), -config, one probe, a watched
// probe or a load, as the flags say.
func runURLModes(ctx context.Context, args []string, con console) (int, error) {
	pf, target, err := parseProbeFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(con.out)
		return 0, nil
	}
	if err != nil {
		return 2, err
	}
	switch {
	case pf.fleet != "" && con.ext.Fleet == nil:
		return 2, errNoFleet
	case pf.config:
		return runConfig(pf, con)
	case target == "":
		return runScenarios(ctx, con.out, defaultScenarioConfig(), pf.json), nil
	case pf.load():
		return runLoad(ctx, pf, target, con)
	}
	return runProbe(ctx, pf, target, con)
}

// probeClient is the client of the URL modes: the standard stack with the
// flags' settings, and the pieces the modes report on.
type probeClient struct {
	*http.Client
	stack     *standard.Stack
	src       *tlsrotate.Source       // the client certificate (-cert); nil without
	rotations chan tlsrotate.Rotation // the source's rotations, for -watch
}

// close releases the client's connections and its certificate watcher.
func (c *probeClient) close() {
	if c.Client != nil {
		c.CloseIdleConnections()
	}
	if c.src != nil {
		c.src.Close()
	}
}

// clientHooks are what the load mode adds to the stack: its hooks, and the
// fleet's store.
type clientHooks struct {
	retry   []retry.Option
	breaker []breaker.Option
	hedge   []hedge.Option
}

// newClient builds the standard stack from the flags, with h. It returns
// an error, naming the flags, when two bounds contradict each other (see
// standard.Describe).
func (pf probeFlags) newClient(h clientHooks) (*probeClient, error) {
	c := &probeClient{}
	if pf.certFile != "" {
		c.rotations = make(chan tlsrotate.Rotation, 16)
		src, err := pf.source(func(r tlsrotate.Rotation) {
			select {
			case c.rotations <- r:
			default: // -watch is behind; it re-probes once for several
			}
		})
		if err != nil {
			return nil, err
		}
		c.src = src
	}
	if _, err := standard.Describe(pf.options(clientHooks{}, c.src)...); err != nil {
		c.close()
		return nil, contradiction(err)
	}
	c.stack = standard.New(pf.options(h, c.src)...)
	if pf.roots != nil || pf.insecure {
		// The stack's own base, and with -cert the template of tlsrotate's
		// connections: set before the first request, it applies to all.
		base := c.stack.Base()
		cfg := &tls.Config{}
		if base.TLSClientConfig != nil {
			cfg = base.TLSClientConfig.Clone()
		}
		cfg.RootCAs = pf.roots
		cfg.InsecureSkipVerify = pf.insecure
		base.TLSClientConfig = cfg
	}
	c.Client = &http.Client{Transport: c.stack}
	return c, nil
}

// source opens the client certificate of -cert and -key, calling onRotate
// (when not nil) at each rotation.
func (pf probeFlags) source(onRotate func(tlsrotate.Rotation)) (*tlsrotate.Source, error) {
	var opts []tlsrotate.Option
	if onRotate != nil {
		opts = append(opts, tlsrotate.WithOnRotate(onRotate))
	}
	src, err := tlsrotate.NewFileSource(pf.certFile, pf.keyFile, opts...)
	if err != nil {
		return nil, usagef("-cert, -key: %v", err)
	}
	return src, nil
}

// options returns the options of the standard stack for the flags, with
// h, over src (nil: no client certificate). Bounds not given keep the
// stack's defaults, so that its rules for them apply (the response header
// bound gives way to a shorter attempt bound or total).
func (pf probeFlags) options(h clientHooks, src *tlsrotate.Source) []standard.Option {
	var topts []timeouts.Option
	if pf.set["header-timeout"] {
		topts = append(topts, timeouts.WithResponseHeader(pf.headerTimeout))
	}
	if pf.set["body-idle"] {
		topts = append(topts, timeouts.WithBodyIdle(pf.bodyIdle))
	}
	if pf.attemptTimeout > 0 {
		topts = append(topts, timeouts.WithAttempt(pf.attemptTimeout))
	}
	if pf.connect > 0 {
		topts = append(topts, timeouts.WithConnect(pf.connect))
	}
	opts := []standard.Option{
		standard.WithTimeouts(topts...),
		standard.WithRetry(append([]retry.Option{retry.WithMaxAttempts(pf.attempts), retry.WithOnRetry(traceRetry)}, h.retry...)...),
		standard.WithBreaker(h.breaker...),
	}
	if pf.total > 0 {
		opts = append(opts, standard.WithTotal(pf.total))
	}
	if pf.limit.fixed > 0 {
		opts = append(opts, standard.WithLimit(limit.WithMaxInFlight(pf.limit.fixed)))
	} else if pf.limit.adaptive {
		opts = append(opts, standard.WithLimit())
	}
	if pf.hedge.on() {
		how := hedge.WithQuantile(hedgeQuantile)
		if pf.hedge.delay > 0 {
			how = hedge.WithDelay(pf.hedge.delay)
		}
		opts = append(opts, standard.WithHedge(append([]hedge.Option{how}, h.hedge...)...))
	}
	if src != nil {
		opts = append(opts, standard.WithTLS(src))
	}
	return opts
}

// boundFlags are the flags of the bounds that standard.Describe may name in
// a contradiction, by the option's name as it writes it.
var boundFlags = []struct{ option, flag string }{
	{"timeouts.WithResponseHeader(", "-header-timeout"},
	{"timeouts.WithAttempt(", "-attempt-timeout"},
	{" WithTotal(", "-timeout"},
}

// contradiction is the error of two bounds that contradict each other: the
// flags at fault, then standard's explanation. It is one line, exit code 2.
func contradiction(err error) error {
	msg := err.Error()
	var flags []string
	for _, b := range boundFlags {
		if strings.Contains(msg, b.option) {
			flags = append(flags, b.flag)
		}
	}
	if len(flags) == 0 {
		return err
	}
	return fmt.Errorf("%s: %w", strings.Join(flags, " and "), err)
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
