package rtprobe

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	tt "github.com/rtchain/chain/transporttest"
)

// serveFlags are the flags of the serve mode.
type serveFlags struct {
	addr       string
	delay      time.Duration
	bytes      int
	every      time.Duration
	chunk      int
	after      int
	status     int
	raw        string
	retryAfter string
	tls, h2    bool
	dir        string
	rotate     time.Duration
	json       bool
	arg        string // the kind's positional argument
}

// kind is one fake server of the serve mode.
type kind struct {
	desc string
	arg  string // the name of its positional argument; "" when it takes none
	tls  bool   // served over TLS whatever the flags
	h2   bool   // served over HTTP/2 (and TLS)
	mtls bool   // asks for a client certificate issued by the CA
	new  func(f serveFlags, arg string) (*tt.Server, error)
	// note says what the fake does to a request, the n-th overall and the
	// onConn-th on its connection (both from 1); nil says nothing more than
	// the response does.
	note func(f serveFlags, n, onConn int) string
	// connNote, when not empty, logs each connection: for fakes whose
	// connections never reach a handler.
	connNote string
}

// reply makes a kind's server of the Reply that r makes of the flags.
func reply(r func(serveFlags) tt.Reply) func(serveFlags, string) (*tt.Server, error) {
	return func(sf serveFlags, _ string) (*tt.Server, error) { return tt.NewUnstartedServer(r(sf)), nil }
}

// just makes a kind's server of rp, whatever the flags.
func just(rp tt.Reply) func(serveFlags, string) (*tt.Server, error) {
	return reply(func(serveFlags) tt.Reply { return rp })
}

// says is a note of format with the values of args in the flags.
func says(format string, args ...func(serveFlags) any) func(serveFlags, int, int) string {
	return func(f serveFlags, _, _ int) string {
		vs := make([]any, len(args))
		for i, a := range args {
			vs[i] = a(f)
		}
		return fmt.Sprintf(format, vs...)
	}
}

func kinds() map[string]kind {
	okNew := just(tt.Reply{Body: "ok\n"})
	delay := func(f serveFlags) any { return f.delay }
	bytes := func(f serveFlags) any { return f.bytes }
	every := func(f serveFlags) any { return f.every }
	return map[string]kind{
		"ok":   {desc: "200 \"ok\" to every request", new: okNew},
		"503":  {desc: "503 to every request", new: just(tt.Reply{Status: http.StatusServiceUnavailable})},
		"tls":  {desc: "200 \"ok\" over HTTPS; prints the CA file for clients (-cacert)", tls: true, new: okNew},
		"h2":   {desc: "200 \"ok\" over HTTP/2 (HTTPS)", h2: true, new: okNew},
		"mtls": {desc: "HTTPS that wants a client certificate from its CA; answers its serial (-rotate)", mtls: true, new: newMTLS},
		"sequence": {desc: "the STATUSES given (503,503,200), the last repeating; -retry-after on 429 and 503", arg: "STATUSES", new: newSequence,
			note: noteReply(func(f serveFlags) int { st, _ := parseStatuses(f.arg); return len(st) })},
		"retry-after": {desc: "503 with Retry-After (-retry-after, default 1) to the first request, 200 after", new: newRetryAfter,
			note: noteReply(func(serveFlags) int { return 2 })},
		"slow-header": {desc: "waits -delay before the response header",
			new:  reply(func(f serveFlags) tt.Reply { return tt.Reply{Delay: f.delay, Body: "slow\n"} }),
			note: says("holds the header for %v", delay)},
		"stall": {desc: "sends the header and -bytes of body, then nothing",
			new:  reply(func(f serveFlags) tt.Reply { return tt.Reply{BodySize: int64(f.bytes), Fault: tt.Stall} }),
			note: says("sends %d body bytes, then stalls", bytes)},
		"trickle": {desc: "sends -bytes of body, one byte every -every",
			new:  reply(func(f serveFlags) tt.Reply { return tt.Reply{BodySize: int64(f.bytes), Trickle: f.every} }),
			note: says("trickles %d bytes, one every %v", bytes, every)},
		"reset": {desc: "reads the request, then resets the connection (RST) without answering", new: just(tt.Reply{Fault: tt.Reset}),
			note: says("reset the connection")},
		"reset-mid-body": {desc: "sends -bytes of body, then resets the connection",
			new:  reply(func(f serveFlags) tt.Reply { return tt.Reply{BodySize: int64(f.bytes), Fault: tt.ResetMidBody} }),
			note: says("sent %d body bytes, then reset the connection", bytes)},
		"empty-reply": {desc: "reads the request, closes the connection without a byte", new: just(tt.Reply{Fault: tt.EmptyReply}),
			note: says("closed the connection without a byte")},
		"raw": {desc: "sends -raw as the whole response, byte for byte, then closes",
			new:  reply(func(f serveFlags) tt.Reply { return tt.Reply{Raw: f.raw} }),
			note: says("sent the raw reply and closed the connection")},
		"malformed-chunked": {desc: "a 200 whose chunked body breaks after \"hello\"", new: just(tt.Reply{Fault: tt.MalformedChunked}),
			note: says("sent a corrupt chunked body")},
		"blackhole": {desc: "accepts connections, never reads or answers", new: just(tt.Reply{Fault: tt.Blackhole}),
			connNote: "accepted; never reads or answers"},
		"no-read": {desc: "never reads request bodies, never answers (an upload stall)", new: just(tt.Reply{Fault: tt.NoRead}),
			note: says("never read the body, never answered")},
		"slow-reader": {desc: "reads request bodies -chunk bytes every -every, then 200", new: newSlowReader,
			note: says("reads the body %d bytes every %v", func(f serveFlags) any { return f.chunk }, every)},
		"answer-before-body": {desc: "answers -status before reading the body, closes the connection",
			new: reply(func(f serveFlags) tt.Reply {
				return tt.Reply{Status: f.status, Body: http.StatusText(f.status), Fault: tt.AnswerBeforeBody}
			}),
			note: says("answered before reading the body, closed the connection")},
		"stale-keepalive": {desc: "closes a kept-alive connection when it is reused", new: just(tt.Reply{Body: "ok", Fault: tt.StaleKeepAlive}),
			note: noteStale},
		"goaway":       {desc: "HTTP/2 (HTTPS) that sends GOAWAY after -after requests on each connection", h2: true, new: newGoAway, note: noteGoAway},
		"upgrade-echo": {desc: "101 Switching Protocols to an echo protocol for Upgrade requests, 400 to others", new: just(tt.Reply{Status: http.StatusSwitchingProtocols})},
	}
}

// kindList is the list of kinds for serve -h.
func kindList() string {
	ks := kinds()
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range ks {
			if !yield(name) {
				return
			}
		}
	})
	var b strings.Builder
	for _, name := range names {
		k := ks[name]
		if k.arg != "" {
			name += " " + k.arg
		}
		fmt.Fprintf(&b, "  %-19s %s\n", name, k.desc)
	}
	return b.String()
}

// parseStatuses reads "503,503,200".
func parseStatuses(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("want statuses such as 503,503,200, got %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func newSequence(f serveFlags, arg string) (*tt.Server, error) {
	statuses, err := parseStatuses(arg)
	if err != nil {
		return nil, err
	}
	replies := make([]tt.Reply, len(statuses))
	for i, st := range statuses {
		replies[i] = tt.Reply{Status: st}
		if st < 300 {
			replies[i].Body = "ok\n"
		}
		if f.retryAfter != "" && (st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable) {
			replies[i].Header = http.Header{"Retry-After": {f.retryAfter}}
		}
	}
	return tt.NewUnstartedServer(tt.Sequence(replies...)), nil
}

func newRetryAfter(f serveFlags, _ string) (*tt.Server, error) {
	if f.retryAfter == "" {
		f.retryAfter = "1"
	}
	return newSequence(f, "503,200")
}

// noteReply numbers the replies of a sequence of count(f) replies.
func noteReply(count func(f serveFlags) int) func(serveFlags, int, int) string {
	return func(f serveFlags, n, _ int) string {
		m := count(f)
		if n > m {
			return fmt.Sprintf("reply %d of %d again", m, m)
		}
		return fmt.Sprintf("reply %d of %d", n, m)
	}
}

func newSlowReader(f serveFlags, _ string) (*tt.Server, error) {
	if f.chunk < 1 {
		return nil, fmt.Errorf("-chunk must be at least 1")
	}
	return tt.NewUnstartedServer(tt.Reply{Body: "ok", ReadChunk: f.chunk, ReadEvery: f.every}), nil
}

func newGoAway(f serveFlags, _ string) (*tt.Server, error) {
	if f.after < 1 {
		return nil, fmt.Errorf("-after must be at least 1")
	}
	srv := tt.NewUnstartedServer(tt.Reply{Body: "ok\n"})
	srv.GoAwayAfter = f.after
	return srv, nil
}

func noteGoAway(f serveFlags, _, onConn int) string {
	if onConn == f.after {
		return fmt.Sprintf("request %d on its connection: GOAWAY after it", onConn)
	}
	return fmt.Sprintf("request %d on its connection", onConn)
}

func noteStale(_ serveFlags, _, onConn int) string {
	if onConn == 1 {
		return "kept the connection alive"
	}
	return "closed the reused connection without answering"
}

// newMTLS answers each request with the serial of the client certificate;
// the serve mode asks for one issued by its CA.
func newMTLS(serveFlags, string) (*tt.Server, error) {
	return tt.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, clientSerial(r)+"\n")
	})), nil
}

// clientSerial returns the decimal serial of the client certificate r's
// connection presented, or "".
func clientSerial(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return r.TLS.PeerCertificates[0].SerialNumber.String()
}
