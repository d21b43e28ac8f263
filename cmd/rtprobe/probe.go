package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/redact"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
)

// probeFlags are the flags of the URL modes.
type probeFlags struct {
	method        string
	headers       headerList
	body          string
	attempts      int
	total         time.Duration
	headerTimeout time.Duration
	bodyIdle      time.Duration
	connect       time.Duration
	n, c          int
	verbose       bool
	caFile        string
	roots         *x509.CertPool // from caFile; nil: the system's
}

// headerList is a repeatable -H flag.
type headerList []string

func (h *headerList) String() string { return strings.Join(*h, ", ") }

func (h *headerList) Set(v string) error {
	name, _, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want \"Name: value\", got %q", v)
	}
	*h = append(*h, v)
	return nil
}

// parseProbeFlags parses args, which may mix flags and the URL in any order.
func parseProbeFlags(args []string, stderr io.Writer) (probeFlags, string, error) {
	var pf probeFlags
	fs := flag.NewFlagSet("rtprobe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&pf.method, "X", "", "request method (default GET, or POST with -d)")
	fs.Var(&pf.headers, "H", "request header \"Name: value\", repeatable")
	fs.StringVar(&pf.body, "d", "", "request body")
	fs.IntVar(&pf.attempts, "attempts", 3, "attempts per request, the first included")
	fs.DurationVar(&pf.total, "timeout", 30*time.Second, "bound over every attempt and wait of a request (0: none)")
	fs.DurationVar(&pf.headerTimeout, "header-timeout", standard.DefaultResponseHeader, "response header bound, per attempt")
	fs.DurationVar(&pf.bodyIdle, "body-idle", standard.DefaultBodyIdle, "response body idle bound")
	fs.DurationVar(&pf.connect, "connect-timeout", 0, "connect bound, per address (0: the timeouts package's default, 500ms)")
	fs.IntVar(&pf.n, "n", 1, "number of requests")
	fs.IntVar(&pf.c, "c", 1, "number of concurrent workers")
	fs.BoolVar(&pf.verbose, "v", false, "print every attempt and the response headers")
	fs.StringVar(&pf.caFile, "cacert", "", "PEM file of the CA certificates that verify the server (default: the system's)")

	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return pf, "", err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != 1 {
		fs.Usage()
		return pf, "", errors.New("want exactly one URL")
	}
	switch {
	case pf.attempts < 1:
		return pf, "", errors.New("-attempts must be at least 1")
	case pf.n < 1 || pf.c < 1:
		return pf, "", errors.New("-n and -c must be at least 1")
	case pf.headerTimeout <= 0 || pf.bodyIdle <= 0 || pf.connect < 0 || pf.total < 0:
		return pf, "", errors.New("timeouts must be positive")
	}
	if pf.method == "" {
		pf.method = http.MethodGet
		if pf.body != "" {
			pf.method = http.MethodPost
		}
	}
	if pf.caFile != "" {
		pem, err := os.ReadFile(pf.caFile)
		if err != nil {
			return pf, "", err
		}
		pf.roots = x509.NewCertPool()
		if !pf.roots.AppendCertsFromPEM(pem) {
			return pf, "", fmt.Errorf("no certificate in %s", pf.caFile)
		}
	}
	u, err := url.Parse(rest[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return pf, "", fmt.Errorf("not an http or https URL: %q", rest[0])
	}
	return pf, rest[0], nil
}

// options turns the flags into standard stack options, followed by extra.
func (pf probeFlags) options(extra ...standard.Option) []standard.Option {
	opts := []standard.Option{
		standard.WithTimeouts(
			timeouts.WithResponseHeader(pf.headerTimeout),
			timeouts.WithBodyIdle(pf.bodyIdle),
		),
		standard.WithRetry(retry.WithMaxAttempts(pf.attempts)),
	}
	if pf.connect > 0 {
		opts = append(opts, standard.WithTimeouts(timeouts.WithConnect(pf.connect)))
	}
	if pf.total > 0 {
		opts = append(opts, standard.WithTotal(pf.total))
	}
	return append(opts, extra...)
}

// client returns a client on the standard stack with the flags' settings,
// then extra.
func (pf probeFlags) client(extra ...standard.Option) *http.Client {
	s := standard.New(pf.options(extra...)...)
	if pf.roots != nil {
		cfg := &tls.Config{}
		if b := s.Base(); b.TLSClientConfig != nil {
			cfg = b.TLSClientConfig.Clone()
		}
		cfg.RootCAs = pf.roots
		s.Base().TLSClientConfig = cfg
	}
	return &http.Client{Transport: s}
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

// runProbe is the URL mode: one request, or -n requests with -c workers.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	pf, target, err := parseProbeFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "rtprobe:", err)
			return 2
		}
		return 0
	}
	if pf.n > 1 || pf.c > 1 {
		return runLoad(ctx, pf, target, stdout)
	}
	return probeOnce(ctx, pf, target, stdout)
}

// attemptTrace is the timing of one attempt, from httptrace.
type attemptTrace struct {
	start, dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone, gotConn, wrote, firstByte time.Time
	reused                                                                                      bool
	remote                                                                                      string
}

// tracer records every attempt of one request. Its callbacks may run on the
// transport's goroutines.
type tracer struct {
	mu       sync.Mutex // guards attempts
	attempts []*attemptTrace
}

func (t *tracer) cur() *attemptTrace {
	if len(t.attempts) == 0 {
		t.attempts = append(t.attempts, &attemptTrace{start: time.Now()})
	}
	return t.attempts[len(t.attempts)-1]
}

func (t *tracer) set(f func(a *attemptTrace)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(t.cur())
}

func (t *tracer) trace() *httptrace.ClientTrace {
	now := time.Now
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			t.mu.Lock()
			t.attempts = append(t.attempts, &attemptTrace{start: now()})
			t.mu.Unlock()
		},
		DNSStart:          func(httptrace.DNSStartInfo) { t.set(func(a *attemptTrace) { a.dnsStart = now() }) },
		DNSDone:           func(httptrace.DNSDoneInfo) { t.set(func(a *attemptTrace) { a.dnsDone = now() }) },
		ConnectStart:      func(string, string) { t.set(func(a *attemptTrace) { a.connStart = now() }) },
		ConnectDone:       func(string, string, error) { t.set(func(a *attemptTrace) { a.connDone = now() }) },
		TLSHandshakeStart: func() { t.set(func(a *attemptTrace) { a.tlsStart = now() }) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { t.set(func(a *attemptTrace) { a.tlsDone = now() }) },
		GotConn: func(i httptrace.GotConnInfo) {
			t.set(func(a *attemptTrace) {
				a.gotConn, a.reused = now(), i.Reused
				if i.Conn != nil {
					a.remote = i.Conn.RemoteAddr().String()
				}
			})
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.set(func(a *attemptTrace) { a.wrote = now() }) },
		GotFirstResponseByte: func() { t.set(func(a *attemptTrace) { a.firstByte = now() }) },
	}
}

func (t *tracer) snapshot() []attemptTrace {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]attemptTrace, len(t.attempts))
	for i, a := range t.attempts {
		out[i] = *a
	}
	return out
}

// span formats the time between two instants, or "-" when either is unset.
func span(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return "-"
	}
	return ms(to.Sub(from))
}

// ms formats d in milliseconds with one decimal, or in seconds from 1 s up.
func ms(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

// probeOnce sends one request through the standard stack and prints its
// phases.
func probeOnce(ctx context.Context, pf probeFlags, target string, w io.Writer) int {
	client := pf.client()
	defer client.CloseIdleConnections()
	tr := &tracer{}
	req, err := pf.newRequest(httptrace.WithClientTrace(ctx, tr.trace()), target)
	if err != nil {
		fmt.Fprintln(w, "rtprobe:", err)
		return 2
	}
	start := time.Now()
	resp, err := client.Do(req)
	var bodyBytes int64
	var bodyStart, bodyEnd time.Time
	if err == nil {
		bodyStart = time.Now()
		bodyBytes, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		bodyEnd = time.Now()
	}
	total := time.Since(start)
	attempts := tr.snapshot()

	fmt.Fprintf(w, "%s %s\n", pf.method, redact.URL(req.URL))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if pf.verbose {
		for i, a := range attempts {
			fmt.Fprintf(tw, "attempt %d\t%s\n", i+1, attemptLine(a))
		}
	}
	var last attemptTrace
	if len(attempts) > 0 {
		last = attempts[len(attempts)-1]
	}
	fmt.Fprintf(tw, "dns\t%s\n", span(last.dnsStart, last.dnsDone))
	fmt.Fprintf(tw, "connect\t%s\n", span(last.connStart, last.connDone))
	fmt.Fprintf(tw, "tls\t%s\n", span(last.tlsStart, last.tlsDone))
	fmt.Fprintf(tw, "first byte\t%s\n", span(last.wrote, last.firstByte))
	fmt.Fprintf(tw, "body\t%s\n", span(bodyStart, bodyEnd))
	fmt.Fprintf(tw, "total\t%s\n", ms(total))
	fmt.Fprintf(tw, "attempts\t%d\n", len(attempts))
	code := 0
	switch {
	case err != nil:
		fmt.Fprintf(tw, "class\t%s\n", errclass.Classify(err))
		if p := errclass.PhaseOf(err); p != errclass.PhaseNone {
			fmt.Fprintf(tw, "phase\t%s\n", p)
		}
		fmt.Fprintf(tw, "error\t%s\n", errorText(err))
		code = 1
	default:
		fmt.Fprintf(tw, "status\t%s (%s, %d bytes)\n", resp.Status, resp.Proto, bodyBytes)
		if id := resp.Request.Header.Get("X-Request-ID"); id != "" {
			fmt.Fprintf(tw, "request id\t%s\n", id)
		}
		if resp.StatusCode >= 400 {
			fmt.Fprintf(tw, "class\t%s\n", errclass.Status)
			code = 1
		}
	}
	tw.Flush()
	if pf.verbose && resp != nil {
		fmt.Fprintln(w, "\nresponse headers:")
		h := redact.Header(resp.Header)
		keys := make([]string, 0, len(h))
		for k := range h {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(h[k], ", "))
		}
	}
	return code
}

// attemptLine summarises one attempt for -v.
func attemptLine(a attemptTrace) string {
	conn := "new connection"
	if a.reused {
		conn = "reused connection"
	}
	if a.remote != "" {
		conn += " to " + a.remote
	}
	return fmt.Sprintf("dns %s, connect %s, tls %s, first byte %s (%s)",
		span(a.dnsStart, a.dnsDone), span(a.connStart, a.connDone), span(a.tlsStart, a.tlsDone),
		span(a.wrote, a.firstByte), conn)
}

// errorText is err's message without the *url.Error wrapper, whose URL
// may carry secrets; the URL is printed redacted above.
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// redactedURL is raw with user info and query values redacted.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return redact.URL(u)
}
