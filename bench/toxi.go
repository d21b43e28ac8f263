package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
)

// Toxic is one toxiproxy toxic: its type, the stream it acts on
// ("downstream": server to client, "upstream": client to server) and its
// attributes, as toxiproxy's API takes them.
type Toxic struct {
	Type       string
	Stream     string
	Attributes map[string]int64
}

func (t Toxic) json() string {
	attrs := make([]string, 0, len(t.Attributes))
	for k, v := range t.Attributes {
		attrs = append(attrs, strconv.Quote(k)+":"+strconv.FormatInt(v, 10))
	}
	return fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":{%s}}`,
		t.Type+"_"+t.Stream, t.Type, t.Stream, strings.Join(attrs, ","))
}

// String gives the toxic as the matrix shows it: "latency down 2000".
func (t Toxic) String() string {
	dir := "down"
	if t.Stream == "upstream" {
		dir = "up"
	}
	var vals []string
	for _, k := range []string{"latency", "jitter", "rate", "timeout", "average_size", "size_variation", "delay", "bytes"} {
		if v, ok := t.Attributes[k]; ok {
			vals = append(vals, k+"="+strconv.FormatInt(v, 10))
		}
	}
	return t.Type + " " + dir + " " + strings.Join(vals, " ")
}

// ToxiProxy runs in-process toxiproxy proxies, one per request, in front of
// an upstream HTTP server of its own, which answers GET /bytes?n=N with N
// bytes and PUT by reading the whole body. Everything listens on 127.0.0.1.
type ToxiProxy struct {
	api      *toxiproxy.ApiServer
	upstream *httptest.Server
	hits     atomic.Int64
}

// NewToxiProxy starts the upstream server. toxiproxy's own logging is turned
// off (it logs through zerolog's global logger too).
func NewToxiProxy() *ToxiProxy {
	zerolog.SetGlobalLevel(zerolog.Disabled)
	p := &ToxiProxy{api: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())}
	p.upstream = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

func (p *ToxiProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.hits.Add(1)
	if r.Method == http.MethodPut {
		n, _ := io.Copy(io.Discard, r.Body)
		io.WriteString(w, strconv.FormatInt(n, 10))
		return
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	w.Header().Set("Content-Length", strconv.Itoa(n))
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	for n > 0 {
		k, err := w.Write(chunk[:min(n, len(chunk))])
		if err != nil {
			return
		}
		n -= k
	}
}

// Hits returns how many requests the upstream server has received.
func (p *ToxiProxy) Hits() int64 { return p.hits.Load() }

// Close stops the upstream server.
func (p *ToxiProxy) Close() {
	p.upstream.CloseClientConnections()
	p.upstream.Close()
}

// start starts a new proxy to the upstream server with toxics ts. A new
// proxy per request means no connection or toxic of one request reaches
// the next, and Stop closes every connection at once (removing a toxic
// from live connections can take toxiproxy seconds).
func (p *ToxiProxy) start(ts []Toxic) (*toxiproxy.Proxy, error) {
	proxy := toxiproxy.NewProxy(p.api, "chain", "127.0.0.1:0", p.upstream.Listener.Addr().String())
	if err := proxy.Start(); err != nil {
		return nil, fmt.Errorf("toxiproxy: %w", err)
	}
	if err := addToxics(proxy, ts); err != nil {
		proxy.Stop()
		return nil, err
	}
	return proxy, nil
}

// addToxics puts ts on proxy; they apply to open connections too.
func addToxics(proxy *toxiproxy.Proxy, ts []Toxic) error {
	for _, t := range ts {
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(t.json())); err != nil {
			return fmt.Errorf("toxiproxy: %s: %w", t, err)
		}
	}
	return nil
}

// ToxiBounds are the bounds of chain's clients in the matrix, scaled down
// from the defaults so that the matrix runs in well under two minutes.
var ToxiBounds = []timeouts.Option{
	timeouts.WithResponseHeader(500 * time.Millisecond),
	timeouts.WithBodyIdle(500 * time.Millisecond),
	timeouts.WithWriteIdle(time.Second),
}

// ToxiClient is one column of the matrix: a way to send requests, built
// with ToxiBounds and then a row's own bounds.
type ToxiClient struct {
	Name string
	New  func(bounds ...timeouts.Option) http.RoundTripper
}

// ToxiClients are the columns: plain net/http, chain's timeouts alone (its
// transport and its per-attempt layer), and the standard stack.
var ToxiClients = []ToxiClient{
	{"net/http", func(...timeouts.Option) http.RoundTripper { return &http.Transport{} }},
	{"chain timeouts", func(bounds ...timeouts.Option) http.RoundTripper {
		opts := append(slices.Clone(ToxiBounds), bounds...)
		return timeouts.New(timeouts.NewTransport(opts...), opts...)
	}},
	{"chain standard", func(bounds ...timeouts.Option) http.RoundTripper {
		return standard.New(
			standard.WithTimeouts(append(slices.Clone(ToxiBounds), bounds...)...),
			standard.WithRetry(retry.WithBackoff(10*time.Millisecond, 50*time.Millisecond, retry.JitterFull)),
			standard.WithBreaker(breaker.WithOpenDuration(time.Second)),
		)
	}},
}

// ToxiCase is what one row of the matrix does: the toxics in place before
// the request, those added once the response header has arrived (to fail a
// body that is already flowing), the request, the bounds that the row adds
// to ToxiBounds, and the request's deadline (0: DefaultToxiGuard).
type ToxiCase struct {
	Toxics, After []Toxic
	Req           ToxiRequest
	Bounds        []timeouts.Option
	Guard         time.Duration
}

// Name describes the case in the table.
func (tc ToxiCase) Name() string {
	var parts []string
	for _, t := range tc.Toxics {
		parts = append(parts, t.String())
	}
	for _, t := range tc.After {
		parts = append(parts, "then, after the header, "+t.String())
	}
	return strings.Join(parts, "; ")
}

// ToxiRequest is the request of a matrix row.
type ToxiRequest struct {
	Method string
	Size   int64 // bytes downloaded (GET) or uploaded (PUT)
}

func (r ToxiRequest) String() string {
	return fmt.Sprintf("%s %d KiB", r.Method, r.Size>>10)
}

// ToxiCell is what one client reported for one row.
type ToxiCell struct {
	Outcome  string        // class, "timeout/<phase>" for a timeout, or "hang" (the guard ran out)
	Attempts int64         // requests the upstream server received
	Elapsed  time.Duration // until the response and its body ended
	Err      error
	InBody   bool // the error came from reading the body, after the header
}

// DefaultToxiGuard is the deadline of each request of the matrix: net/http
// has no bound of its own, so without it a toxic that never answers would
// hang it. A request that reaches it is reported as "hang".
const DefaultToxiGuard = 3 * time.Second

// Run sends tc's request through a new client c and a new proxy, and
// reports the outcome.
func (p *ToxiProxy) Run(c ToxiClient, tc ToxiCase) ToxiCell {
	proxy, err := p.start(tc.Toxics)
	if err != nil {
		return ToxiCell{Outcome: "setup", Err: err}
	}
	defer proxy.Stop()
	rt := c.New(tc.Bounds...)
	defer closeIdle(rt)
	g := tc.Guard
	if g == 0 {
		g = DefaultToxiGuard
	}
	ctx, cancel := context.WithTimeout(context.Background(), g)
	defer cancel()
	r, err := tc.Req.build(ctx, "http://"+proxy.Listen)
	if err != nil {
		return ToxiCell{Outcome: "setup", Err: err}
	}
	hits := p.Hits()
	start := time.Now()
	resp, err := (&http.Client{Transport: rt}).Do(r)
	var status int
	if err == nil {
		status = resp.StatusCode
		if aerr := addToxics(proxy, tc.After); aerr != nil {
			resp.Body.Close()
			return ToxiCell{Outcome: "setup", Err: aerr}
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cell := ToxiCell{Elapsed: time.Since(start), Attempts: p.Hits() - hits, Err: err, InBody: status != 0 && err != nil}
	o := classify(status, err, nil)
	cell.Outcome = o.key()
	if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) && o.phase == errclass.PhaseNone {
		cell.Outcome = "hang"
	}
	return cell
}

// build makes the request: a GET of Size bytes, or a PUT of Size bytes
// whose body can be replayed.
func (r ToxiRequest) build(ctx context.Context, base string) (*http.Request, error) {
	url := base + "/bytes?n=" + strconv.FormatInt(r.Size, 10)
	if r.Method != http.MethodPut {
		return http.NewRequestWithContext(ctx, r.Method, url, nil)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, url, NewPattern(r.Size))
	if err != nil {
		return nil, err
	}
	req.ContentLength = r.Size
	req.GetBody = func() (io.ReadCloser, error) { return NewPattern(r.Size), nil }
	return req, nil
}

// String formats the cell for the matrix: outcome ("(body)" when the error
// came from reading the body), time, and the number of attempts the server
// saw when it was not one.
func (c ToxiCell) String() string {
	s := c.Outcome
	if c.InBody {
		s += " (body)"
	}
	s += fmt.Sprintf(", %v", c.Elapsed.Round(10*time.Millisecond))
	if c.Attempts != 1 {
		s += fmt.Sprintf(", %d attempts", c.Attempts)
	}
	return s
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
