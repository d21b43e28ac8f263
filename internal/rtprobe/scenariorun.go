package rtprobe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/standard"
)

// result is one row of the table.
type result struct {
	sc           scenario
	plain, chain outcome
	ok           bool
}

// runScenarios runs every scenario with both clients, concurrently, prints
// the table (or, with asJSON, one JSON object per scenario) to w and returns
// 0 when chain met every expectation.
func runScenarios(ctx context.Context, w io.Writer, cfg scenarioConfig, asJSON bool) int {
	var list []scenario
	for _, sc := range scenarios() {
		if cfg.only == nil || cfg.only[sc.name] {
			list = append(list, sc)
		}
	}
	results := make([]result, len(list))
	var wg sync.WaitGroup
	for i, sc := range list {
		results[i].sc = sc
		wg.Go(func() { results[i].plain = runOne(ctx, cfg, sc, false, cfg.plainBound) })
		wg.Go(func() { results[i].chain = runOne(ctx, cfg, sc, true, cfg.guard) })
	}
	wg.Wait()
	code := 0
	for i := range results {
		results[i].ok = results[i].sc.check(cfg, results[i].plain, results[i].chain)
		if !results[i].ok {
			code = 1
		}
	}
	if asJSON {
		for _, r := range results {
			writeJSON(w, r.json(cfg))
		}
		return code
	}
	printTable(w, cfg, results)
	return code
}

// transportFor returns the transport of one side of sc, for t: chain's or
// the plain one.
func transportFor(cfg scenarioConfig, sc scenario, t target, chain bool) http.RoundTripper {
	switch {
	case sc.transport != nil:
		return sc.transport(cfg, t, chain)
	case !chain:
		return http.DefaultTransport.(*http.Transport).Clone()
	}
	opts := cfg.chainOptions()
	if sc.options != nil {
		opts = sc.options(cfg)
	}
	return standard.New(opts...)
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func printTable(w io.Writer, cfg scenarioConfig, results []result) {
	fmt.Fprintln(w, cfg.describe())
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tPLAIN net/http\tTIME\tCHAIN\tATTEMPTS\tTIME\tEXPECTED\tOK")
	ok := true
	for _, r := range results {
		mark := "ok"
		if !r.ok {
			mark, ok = "FAIL", false
		}
		attempts := fmt.Sprint(r.chain.attempts)
		if r.chain.load != nil || r.chain.tail != nil {
			attempts = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.sc.name, describe(r.plain, cfg.plainBound, r.sc.calls != 0), seconds(r.plain.elapsed),
			describe(r.chain, cfg.guard, r.sc.calls != 0), attempts, seconds(r.chain.elapsed), r.sc.expect, mark)
	}
	tw.Flush()
	if ok {
		fmt.Fprintln(w, "\nchain behaved as expected in every scenario")
	} else {
		fmt.Fprintln(w, "\nchain did NOT behave as expected in every scenario")
	}
}

// scenarioJSON is one scenario's object in -json.
type scenarioJSON struct {
	Scenario string      `json:"scenario"`
	Expected string      `json:"expected"`
	OK       bool        `json:"ok"` // chain did what was expected
	Plain    outcomeJSON `json:"plain"`
	Chain    outcomeJSON `json:"chain"`
}

// outcomeJSON is one client's outcome in a scenario.
type outcomeJSON struct {
	Result   string       `json:"result"` // the table's cell
	Status   int          `json:"status,omitempty"`
	Class    string       `json:"class"`
	Phase    string       `json:"phase,omitempty"`
	Attempts int          `json:"attempts"`
	Hits     int          `json:"hits"` // requests the server received
	Hung     bool         `json:"hung,omitempty"`
	Seconds  float64      `json:"seconds"`
	Error    string       `json:"error,omitempty"`
	Load     *loadFigures `json:"load,omitempty"`
	Tail     *tailFigures `json:"tail,omitempty"`
}

func (r result) json(cfg scenarioConfig) scenarioJSON {
	conv := func(o outcome, bound time.Duration) outcomeJSON {
		j := outcomeJSON{
			Result: describe(o, bound, r.sc.calls != 0), Status: o.status, Class: o.class.String(), Phase: string(o.phase),
			Attempts: o.attempts, Hits: o.hits, Hung: o.hung, Seconds: o.elapsed.Seconds(), Load: o.load, Tail: o.tail,
		}
		if o.err != nil {
			j.Error = errorText(o.err)
		}
		return j
	}
	return scenarioJSON{Scenario: r.sc.name, Expected: r.sc.expect, OK: r.ok,
		Plain: conv(r.plain, cfg.plainBound), Chain: conv(r.chain, cfg.guard)}
}

// runOne sends the scenario's requests from one side, chain's or the plain
// one, each bounded by bound, and returns the outcome.
func runOne(ctx context.Context, cfg scenarioConfig, sc scenario, chain bool, bound time.Duration) outcome {
	t := sc.start(cfg)
	defer t.close()
	rt := transportFor(cfg, sc, t, chain)
	defer closeIdle(rt)
	start := time.Now()
	drive := sc.drive
	if drive == nil {
		drive = func(ctx context.Context, cfg scenarioConfig, t target, rt http.RoundTripper) outcome {
			return sendCalls(ctx, cfg, sc, t.url, rt, bound)
		}
	}
	o := drive(ctx, cfg, t, rt)
	o.elapsed = time.Since(start)
	if t.hits != nil {
		o.hits = t.hits()
	}
	return o
}

// sendCalls sends the scenario's calls one after the other and returns the
// outcome of the last.
func sendCalls(ctx context.Context, cfg scenarioConfig, sc scenario, url string, rt http.RoundTripper, bound time.Duration) outcome {
	c := &http.Client{Transport: rt}
	calls := sc.calls
	if calls < 0 {
		calls = cfg.breakerCalls
	} else if calls == 0 {
		calls = 1
	}
	var o outcome
	for range calls {
		o = fetch(ctx, c, http.MethodGet, url, bound)
	}
	return o
}

// fetch sends one GET and reads the whole body, within bound.
func fetch(ctx context.Context, c *http.Client, method, url string, bound time.Duration) outcome {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var conns atomic.Int32
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { conns.Add(1) },
	})
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return outcome{err: err, class: errclass.Classify(err)}
	}
	resp, err := c.Do(req)
	var o outcome
	if err == nil {
		o.status = resp.StatusCode
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	o.err = err
	o.attempts = int(conns.Load())
	if err != nil {
		o.class, o.phase = errclass.Classify(err), errclass.PhaseOf(err)
		o.hung = ctx.Err() != nil && errclass.PhaseOf(err) == errclass.PhaseNone
	} else if o.status >= 400 {
		o.class = errclass.Status
	}
	return o
}

// describe is the table cell for an outcome; showHits adds the server's
// request count, for scenarios that send many requests.
func describe(o outcome, bound time.Duration, showHits bool) string {
	var s string
	switch {
	case o.load != nil:
		return o.load.String()
	case o.tail != nil:
		return o.tail.String()
	case o.hung:
		s = "hung > " + bound.String()
	case o.err != nil && o.phase != errclass.PhaseNone:
		s = o.class.String() + " " + string(o.phase)
	case o.err != nil:
		s = o.class.String()
	default:
		s = fmt.Sprint(o.status)
	}
	if showHits {
		s += fmt.Sprintf(" (%d hits)", o.hits)
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
