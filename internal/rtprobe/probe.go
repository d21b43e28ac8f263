package rtprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/internal/redact"
)

// probeResult is what one probe found: the JSON object of -json, and what
// the text output is made from.
type probeResult struct {
	Method     string        `json:"method"`
	URL        string        `json:"url"` // redacted
	Redirects  []redirect    `json:"redirects,omitempty"`
	Phases     phaseSet      `json:"phases"` // of the last attempt, with the body
	TotalMS    float64       `json:"total_ms"`
	Attempts   int           `json:"attempts"` // on the last hop, by the retry layer
	Status     int           `json:"status,omitempty"`
	StatusText string        `json:"-"`
	Proto      string        `json:"proto,omitempty"`
	Bytes      int64         `json:"bytes"`
	Class      string        `json:"class"`
	Phase      string        `json:"phase,omitempty"` // of a timeout
	Error      string        `json:"error,omitempty"`
	RequestID  string        `json:"request_id,omitempty"`
	ClientCert *clientCert   `json:"client_cert,omitempty"`
	Rotation   *rotationLog  `json:"rotation,omitempty"` // the rotation that started this probe (-watch)
	Log        []attemptLog  `json:"attempt_log,omitempty"`
	Headers    http.Header   `json:"headers,omitempty"` // redacted, with -v
	Body       *string       `json:"body,omitempty"`    // with -show-body
	SavedTo    string        `json:"saved_to,omitempty"`
	code       int           // the exit code this probe asks for
	body       *bytes.Buffer // for -show-body
}

// attemptLog is one connection attempt, for -v.
type attemptLog struct {
	Hop    int       `json:"hop"`
	N      int       `json:"attempt"` // within its hop
	Retry  *retryLog `json:"retry,omitempty"`
	Phases phaseSet  `json:"phases"`
	Remote string    `json:"remote,omitempty"`
	Reused bool      `json:"reused"`
	// Resent is a connection attempt net/http made on its own within the
	// same attempt: a replayable request that failed on a stale pooled
	// connection is resent on a new one.
	Resent bool `json:"resent_by_transport,omitempty"`
}

// clientCert is the client certificate a probe presented (-cert).
type clientCert struct {
	Serial     string    `json:"serial"`
	Generation uint64    `json:"generation"`
	NotAfter   time.Time `json:"not_after"`
}

// runProbe sends one request, or with -watch one per certificate change.
func runProbe(ctx context.Context, pf probeFlags, target string, con console) (int, error) {
	c, err := pf.newClient(clientHooks{})
	if err != nil {
		return 2, err
	}
	defer c.close()
	if pf.watch {
		return watch(ctx, pf, target, c, con), nil
	}
	return emit(con.out, pf, probe(ctx, pf, target, c, nil)), nil
}

// probe sends one request through c and reports it.
func probe(ctx context.Context, pf probeFlags, target string, c *probeClient, rot *rotationLog) probeResult {
	tr := &tracer{}
	hc := *c.Client
	hc.CheckRedirect = tr.checkRedirect
	ctx = context.WithValue(ctx, tracerKey{}, tr)
	res := probeResult{Method: pf.method, URL: redactedURL(target), Rotation: rot}
	if c.src != nil {
		s := c.src.Current()
		res.ClientCert = &clientCert{Serial: s.Serial(), Generation: s.Generation, NotAfter: s.Leaf.NotAfter}
	}
	req, err := pf.newRequest(httptrace.WithClientTrace(ctx, tr.trace()), target)
	if err != nil {
		res.Class, res.Error, res.code = errclass.Unknown.String(), err.Error(), 2
		return res
	}
	start := time.Now()
	resp, err := hc.Do(req)
	var body phaseResult
	if err == nil {
		res.Status, res.StatusText, res.Proto = resp.StatusCode, resp.Status, resp.Proto
		res.RequestID = resp.Request.Header.Get("X-Request-ID")
		if pf.verbose {
			res.Headers = redact.Header(resp.Header)
		}
		bodyStart := time.Now()
		res.Bytes, err = pf.readBody(resp.Body, &res)
		resp.Body.Close()
		body = phaseResult{State: stateDone, MS: msf(time.Since(bodyStart))}
		if err != nil {
			body.State = stateFailed
			if errclass.Classify(err) == errclass.Timeout {
				body.State = stateTimeout
			}
		}
	}
	end := time.Now()
	res.TotalMS = msf(end.Sub(start))
	res.judge(tr, ending{end: end, failed: err != nil, err: err}, body, pf.verbose)
	res.classify(err)
	return res
}

// readBody reads the response body to its end, into -o's file and for
// -show-body as asked.
func (pf probeFlags) readBody(body io.Reader, res *probeResult) (int64, error) {
	var w []io.Writer
	if pf.showBody {
		res.body = &bytes.Buffer{}
		w = append(w, res.body)
	}
	if pf.outFile != "" {
		f, err := os.Create(pf.outFile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		w = append(w, f)
		res.SavedTo = pf.outFile
	}
	n, err := io.Copy(io.MultiWriter(append(w, io.Discard)...), body)
	if res.body != nil {
		s := res.body.String()
		res.Body = &s
	}
	return n, err
}

// judge fills the phases, attempts and redirects from the trace.
func (res *probeResult) judge(tr *tracer, e ending, body phaseResult, verbose bool) {
	attempts, redirects, tries := tr.snapshot()
	res.Redirects, res.Attempts = redirects, tries
	n := map[int]int{} // attempts per hop so far
	for i, a := range attempts {
		last := i == len(attempts)-1
		ae := ending{failed: true} // an earlier attempt: what ended it is not known
		if last {
			ae = e
		} else if attempts[i+1].hop != a.hop || !a.firstByte.IsZero() {
			ae = ending{} // it got a response: redirected, or retried on its status
		}
		ps := a.phases(ae)
		if last {
			res.Phases = ps
		}
		resent := i > 0 && attempts[i-1].hop == a.hop && a.retry == nil
		if !resent {
			n[a.hop]++
		}
		if verbose {
			res.Log = append(res.Log, attemptLog{Hop: a.hop, N: n[a.hop], Retry: a.retry, Phases: ps, Remote: a.remote, Reused: a.reused, Resent: resent})
		}
	}
	if len(attempts) == 0 {
		res.Phases = attemptTrace{}.phases(ending{})
	}
	if body.State != "" {
		res.Phases.Body = &body
	}
}

// classify sets the class, error and exit code from the final error.
func (res *probeResult) classify(err error) {
	switch {
	case err != nil:
		res.Class = errclass.Classify(err).String()
		res.Phase = string(errclass.PhaseOf(err))
		res.Error = errorText(err)
		res.code = 1
	case res.Status >= 400:
		res.Class = errclass.Status.String()
		res.code = 1
	default:
		res.Class = errclass.OK.String()
	}
}

// emit writes res as text or JSON and returns its exit code.
func emit(w io.Writer, pf probeFlags, res probeResult) int {
	if pf.json {
		writeJSON(w, res)
		return res.code
	}
	res.print(w)
	return res.code
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are written; they always marshal
		panic(err)
	}
	w.Write(append(b, '\n'))
}

// print writes the text form of res.
func (res probeResult) print(w io.Writer) {
	if r := res.Rotation; r != nil {
		fmt.Fprintf(w, "rotated: client certificate serial %s → %s (generation %d)\n", r.OldSerial, r.NewSerial, r.Generation)
	}
	fmt.Fprintf(w, "%s %s\n", res.Method, res.URL)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	res.printHops(tw)
	ps := res.Phases
	fmt.Fprintf(tw, "dns\t%s\n", ps.DNS.cell())
	fmt.Fprintf(tw, "connect\t%s\n", ps.Connect.cell())
	fmt.Fprintf(tw, "tls\t%s\n", ps.TLS.cell())
	fmt.Fprintf(tw, "first byte\t%s\n", ps.FirstByte.cell())
	if ps.Body != nil {
		fmt.Fprintf(tw, "body\t%s\n", ps.Body.cell())
	} else {
		fmt.Fprintf(tw, "body\t-\n")
	}
	fmt.Fprintf(tw, "total\t%s\n", fmtMS(res.TotalMS))
	fmt.Fprintf(tw, "attempts\t%d\n", res.Attempts)
	if len(res.Redirects) > 0 {
		fmt.Fprintf(tw, "redirects\t%d\n", len(res.Redirects))
	}
	if res.Status != 0 {
		fmt.Fprintf(tw, "status\t%s (%s, %d bytes)\n", res.StatusText, res.Proto, res.Bytes)
	}
	if res.RequestID != "" {
		fmt.Fprintf(tw, "request id\t%s\n", res.RequestID)
	}
	if cc := res.ClientCert; cc != nil {
		fmt.Fprintf(tw, "client cert\tserial %s (generation %d, expires %s)\n", cc.Serial, cc.Generation, cc.NotAfter.Format(time.RFC3339))
	}
	if res.SavedTo != "" {
		fmt.Fprintf(tw, "saved to\t%s\n", res.SavedTo)
	}
	if res.Class != errclass.OK.String() {
		fmt.Fprintf(tw, "class\t%s\n", res.Class)
		if res.Phase != "" {
			fmt.Fprintf(tw, "phase\t%s\n", res.Phase)
		}
	}
	if res.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", res.Error)
	}
	tw.Flush()
	res.printHeaders(w)
	if res.Body != nil {
		fmt.Fprintf(w, "\n%s", *res.Body)
		if !strings.HasSuffix(*res.Body, "\n") {
			fmt.Fprintln(w)
		}
	}
}

// printHops writes the redirects, and with -v every attempt, in order.
func (res probeResult) printHops(tw io.Writer) {
	li := 0
	for hop := 0; hop <= len(res.Redirects); hop++ {
		for ; li < len(res.Log) && res.Log[li].Hop == hop; li++ {
			fmt.Fprintf(tw, "attempt %d\t%s\n", res.Log[li].N, res.Log[li].line())
		}
		if hop < len(res.Redirects) {
			r := res.Redirects[hop]
			fmt.Fprintf(tw, "redirect\t%d %s → %s\n", r.Status, r.StatusText, r.Location)
		}
	}
}

// line summarises one attempt for -v.
func (a attemptLog) line() string {
	conn := "new connection"
	if a.Reused {
		conn = "reused connection"
	}
	if a.Remote != "" {
		conn += " to " + a.Remote
	}
	why := ""
	switch {
	case a.Retry != nil:
		why = fmt.Sprintf("retry after %s, waited %s: ", a.Retry.Reason, fmtMS(a.Retry.WaitMS))
	case a.Resent:
		why = "resent by net/http on a new connection: "
	}
	return fmt.Sprintf("%sdns %s, connect %s, tls %s, first byte %s (%s)", why,
		short(a.Phases.DNS), short(a.Phases.Connect), short(a.Phases.TLS), short(a.Phases.FirstByte), conn)
}

// short is a phase's cell without the reused note, which the line gives once.
func short(p phaseResult) string {
	if p.State == stateReused {
		return "-"
	}
	return p.cell()
}

func (res probeResult) printHeaders(w io.Writer) {
	if res.Headers == nil {
		return
	}
	fmt.Fprintln(w, "\nresponse headers:")
	keys := make([]string, 0, len(res.Headers))
	for k := range res.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(res.Headers[k], ", "))
	}
}

// errorText is err's message with the URL of a *url.Error redacted: user
// info and query values may be secrets.
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %q: %v", ue.Op, redactedURL(ue.URL), ue.Err)
	}
	return err.Error()
}
