package rtprobe

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serveLog writes the serve mode's events, one line each, text or JSON. It
// is safe for concurrent use.
type serveLog struct {
	f     serveFlags
	k     kind
	conns atomic.Int64 // connections accepted, numbered as the Server numbers them

	mu      sync.Mutex // guards the fields below, and orders the writes to w
	w       io.Writer
	n       int            // requests so far
	perConn map[string]int // requests so far per open connection, by remote address
	connIDs map[string]int // the number of each open connection, by remote address
}

func newServeLog(w io.Writer, f serveFlags, k kind) *serveLog {
	return &serveLog{w: w, f: f, k: k, perConn: map[string]int{}, connIDs: map[string]int{}}
}

// event is one line of the serve log.
type event struct {
	Event        string   `json:"event"` // "request", "connection", "rotated" or "stopped"
	Time         string   `json:"time,omitempty"`
	Conn         int      `json:"conn,omitempty"`
	Remote       string   `json:"remote,omitempty"`
	Method       string   `json:"method,omitempty"`
	Path         string   `json:"path,omitempty"` // without the query, whose values may be secrets
	Proto        string   `json:"proto,omitempty"`
	Status       int      `json:"status,omitempty"` // 0: no response
	Bytes        *int64   `json:"bytes,omitempty"`
	MS           *float64 `json:"ms,omitempty"`
	ClientSerial string   `json:"client_serial,omitempty"`
	Did          string   `json:"did,omitempty"`
	Requests     *int     `json:"requests,omitempty"`
	Connections  *int     `json:"connections,omitempty"`
	File         string   `json:"file,omitempty"`
	Error        string   `json:"error,omitempty"`
}

func (l *serveLog) write(text string, e event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f.json {
		writeJSON(l.w, e)
		return
	}
	fmt.Fprintln(l.w, text)
}

func (l *serveLog) serving(info serveInfo) {
	if l.f.json {
		l.mu.Lock()
		writeJSON(l.w, info)
		l.mu.Unlock()
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "serving %s on %s (interrupt to stop)", info.Kind, info.URL)
	if info.CA != "" {
		fmt.Fprintf(&b, "\nCA certificate  %s  (rtprobe -cacert %s %s/)", info.CA, info.CA, info.URL)
	}
	if info.Cert != "" {
		fmt.Fprintf(&b, "\nclient cert     %s, key %s  (rtprobe -cert %s -key %s ...)", info.Cert, info.Key, info.Cert, info.Key)
	}
	l.write(b.String(), event{})
}

func (l *serveLog) stopped(requests, conns int) {
	l.write(fmt.Sprintf("stopped after %d requests on %d connections", requests, conns),
		event{Event: "stopped", Requests: &requests, Connections: &conns})
}

func (l *serveLog) rotated(file, serial string, err error) {
	if err != nil {
		l.write("rotating the client certificate failed: "+err.Error(), event{Event: "rotated", Error: err.Error()})
		return
	}
	l.write(fmt.Sprintf("%s rotated the client certificate in %s: serial %s", stamp(time.Now()), file, serial),
		event{Event: "rotated", Time: time.Now().Format(time.RFC3339Nano), File: file, ClientSerial: serial})
}

func stamp(t time.Time) string { return t.Format("15:04:05.000") }

// listener numbers each accepted connection, as the Server below it does
// (from 1, in accept order), so that requests are logged with their
// connection's number; when the kind's connections never reach a handler (a
// blackhole), it logs each connection instead.
func (l *serveLog) listener(ln net.Listener) net.Listener {
	return &logListener{Listener: ln, l: l}
}

type logListener struct {
	net.Listener
	l *serveLog
}

func (ll *logListener) Accept() (net.Conn, error) {
	c, err := ll.Listener.Accept()
	if err != nil {
		return c, err
	}
	id := int(ll.l.conns.Add(1))
	remote := c.RemoteAddr().String()
	if ll.l.k.connNote == "" {
		ll.l.mu.Lock()
		ll.l.connIDs[remote] = id
		ll.l.mu.Unlock()
		return c, nil
	}
	now := time.Now()
	ll.l.write(fmt.Sprintf("%s conn %d from %s: %s", stamp(now), id, remote, ll.l.k.connNote),
		event{Event: "connection", Time: now.Format(time.RFC3339Nano), Conn: id, Remote: remote, Did: ll.l.k.connNote})
	return c, nil
}

// connState forgets the number and the request count of a closed
// connection.
func (l *serveLog) connState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		l.mu.Lock()
		delete(l.perConn, c.RemoteAddr().String())
		delete(l.connIDs, c.RemoteAddr().String())
		l.mu.Unlock()
	}
}

// count numbers r overall and on its connection, and returns the number of
// its connection (0 if unknown).
func (l *serveLog) count(r *http.Request) (n, onConn, conn int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.perConn[r.RemoteAddr]++
	return l.n, l.perConn[r.RemoteAddr], l.connIDs[r.RemoteAddr]
}

// handler wraps the fake's handler to log one line per request, after it
// ends (a panic of the fake, such as http.ErrAbortHandler, is logged and
// passed on).
func (l *serveLog) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, onConn, conn := l.count(r)
		rec := &recorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			p := recover()
			l.request(r, conn, rec, start, p != nil, l.k.noteFor(l.f, n, onConn))
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

func (k kind) noteFor(f serveFlags, n, onConn int) string {
	if k.note == nil {
		return ""
	}
	return k.note(f, n, onConn)
}

func (l *serveLog) request(r *http.Request, conn int, rec *recorder, start time.Time, aborted bool, note string) {
	d := time.Since(start)
	status, bytes, hijacked := rec.result()
	var did []string
	switch {
	case hijacked:
		did = append(did, "took the connection over")
	case status == 0 && aborted:
		did = append(did, "no response")
	case status == 0:
		status = http.StatusOK // the handler returned without writing: net/http sends 200
		fallthrough
	default:
		did = append(did, fmt.Sprintf("%d, %d bytes", status, bytes))
	}
	if aborted {
		how := "aborted"
		if r.Context().Err() != nil {
			how += " when the client went away"
		}
		did = append(did, how+" after "+ms(d))
	}
	if note != "" {
		did = append(did, note)
	}
	e := event{
		Event: "request", Time: start.Format(time.RFC3339Nano), Conn: conn, Remote: r.RemoteAddr,
		Method: r.Method, Path: r.URL.Path, Proto: r.Proto, Bytes: &bytes, ClientSerial: clientSerial(r),
		Did: strings.Join(did, "; "),
	}
	if !hijacked && !(status == 0 && aborted) {
		e.Status = status
	}
	m := msf(d)
	e.MS = &m
	cert := ""
	if e.ClientSerial != "" {
		cert = " (client cert " + e.ClientSerial + ")"
	}
	l.write(fmt.Sprintf("%s conn %d %s %s %s%s: %s", stamp(start), e.Conn, e.Method, e.Path, e.Proto, cert, e.Did), e)
}

// recorder notes what a fake's handler did with its ResponseWriter. It
// passes Flush and Hijack on (http.ResponseController finds them), and the
// rest through Unwrap.
type recorder struct {
	http.ResponseWriter
	mu       sync.Mutex // guards the fields below: a fake may write from another goroutine
	status   int
	bytes    int64
	hijacked bool
}

func (r *recorder) WriteHeader(code int) {
	r.mu.Lock()
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.mu.Unlock()
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	n, err := r.ResponseWriter.Write(p)
	r.mu.Lock()
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.bytes += int64(n)
	r.mu.Unlock()
	return n, err
}

func (r *recorder) FlushError() error {
	return http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, buf, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.mu.Lock()
		r.hijacked = true
		r.mu.Unlock()
	}
	return c, buf, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) result() (status int, bytes int64, hijacked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.bytes, r.hijacked
}
