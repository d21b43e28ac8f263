package rtprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	tt "github.com/rtchain/chain/transporttest"
)

// serveInfo is what a started fake offers its clients.
type serveInfo struct {
	Event string `json:"event"` // "serving"
	Kind  string `json:"kind"`
	URL   string `json:"url"`
	CA    string `json:"ca,omitempty"`          // the CA file that verifies the server (TLS kinds)
	Cert  string `json:"client_cert,omitempty"` // mtls: a client certificate the server accepts
	Key   string `json:"client_key,omitempty"`  // and its key
}

func serveUsagef(format string, args ...any) error {
	return usageError{cmd: "rtprobe serve", msg: fmt.Sprintf(format, args...)}
}

func newServeFlagSet(f *serveFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("rtprobe serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "`address` to listen on")
	fs.BoolVar(&f.json, "json", false, "print JSON: one object per event (serving, request, connection, rotated, stopped)")
	fs.BoolVar(&f.tls, "tls", false, "serve any kind over HTTPS, with a certificate from a throw-away CA")
	fs.BoolVar(&f.h2, "h2", false, "serve any kind over HTTP/2 (implies -tls)")
	fs.StringVar(&f.dir, "dir", "", "`directory` for the CA file (and mtls's client certificate); default: a temporary one, removed at exit")
	fs.DurationVar(&f.delay, "delay", time.Minute, "slow-header: wait before the header")
	fs.IntVar(&f.bytes, "bytes", 1024, "stall, reset-mid-body: body bytes before the failure; trickle: body size")
	fs.DurationVar(&f.every, "every", 100*time.Millisecond, "trickle: interval between bytes; slow-reader: between reads")
	fs.IntVar(&f.chunk, "chunk", 1024, "slow-reader: bytes per read")
	fs.IntVar(&f.after, "after", 3, "goaway: requests per connection before GOAWAY")
	fs.IntVar(&f.status, "status", http.StatusRequestEntityTooLarge, "answer-before-body: the status")
	fs.StringVar(&f.raw, "raw", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "raw: the response, byte for byte")
	fs.StringVar(&f.retryAfter, "retry-after", "", "sequence, retry-after: the Retry-After value (seconds or an HTTP date) on 429 and 503")
	fs.DurationVar(&f.rotate, "rotate", 0, "mtls: issue a new client certificate into -dir this often (0: never)")
	return fs
}

// printServeHelp writes the help of the serve mode to w.
func printServeHelp(w io.Writer) {
	var f serveFlags
	fs := newServeFlagSet(&f)
	fs.SetOutput(w)
	fmt.Fprintf(w, `rtprobe serve runs one fake server of chain's transporttest package, so that
clients in any language can be tested against the failures it plays. It logs
one line per request (connection, method, path, what the fake did) and runs
until interrupted.

usage:
  rtprobe serve KIND [ARG] [flags]

kinds:
%s
flags:
`, kindList())
	fs.PrintDefaults()
	fmt.Fprint(w, `
examples:
  rtprobe serve sequence 503,503,200 -retry-after 1
  rtprobe serve stall -bytes 10 -addr 127.0.0.1:9000
  rtprobe serve tls -dir ./certs        # then: rtprobe -cacert ./certs/ca.crt https://127.0.0.1:8080/
  rtprobe serve mtls -dir ./certs -rotate 10s
                    # then: rtprobe -cacert ./certs/ca.crt -cert ./certs/tls.crt -key ./certs/tls.key -watch https://127.0.0.1:8080/

exit codes:
  0  stopped by an interrupt
  1  the server could not start (the address is taken, the directory cannot be written)
  2  usage: a bad kind, flag or argument
`)
}

// parseServe parses the kind, its argument and the flags, in any order.
func parseServe(args []string) (serveFlags, string, kind, error) {
	var f serveFlags
	rest, err := parseInterspersed(newServeFlagSet(&f), args)
	if errors.Is(err, flag.ErrHelp) {
		return f, "", kind{}, err
	} else if err != nil {
		return f, "", kind{}, serveUsagef("%v", err)
	}
	if len(rest) == 0 {
		return f, "", kind{}, serveUsagef("want a KIND")
	}
	name := rest[0]
	k, known := kinds()[name]
	switch {
	case !known:
		return f, "", kind{}, serveUsagef("unknown kind %q", name)
	case k.arg != "" && len(rest) != 2:
		return f, "", kind{}, serveUsagef("%s wants %s", name, k.arg)
	case k.arg == "" && len(rest) != 1:
		return f, "", kind{}, serveUsagef("%s takes no argument, got %q", name, rest[1])
	}
	if k.arg != "" {
		f.arg = rest[1]
	}
	if err := checkRetryAfter(f.retryAfter); err != nil {
		return f, "", kind{}, err
	}
	if f.status < 100 || f.status > 599 {
		return f, "", kind{}, serveUsagef("-status: want a code from 100 to 599, got %d", f.status)
	}
	return f, name, k, nil
}

func checkRetryAfter(v string) error {
	if v == "" {
		return nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return nil
	}
	if _, err := http.ParseTime(v); err == nil {
		return nil
	}
	return serveUsagef("-retry-after: want seconds or an HTTP date, got %q", v)
}

// runServe runs one fake server until ctx is done. ready, when not nil,
// receives what the server offers once it listens (for tests).
func runServe(ctx context.Context, args []string, con console, ready func(serveInfo)) (int, error) {
	f, name, k, err := parseServe(args)
	if errors.Is(err, flag.ErrHelp) {
		printServeHelp(con.out)
		return 0, nil
	}
	if err != nil {
		return 2, err
	}
	srv, err := k.new(f, f.arg)
	if err != nil {
		return 2, serveUsagef("%s: %v", name, err)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return 1, fmt.Errorf("serve: %w", err)
	}
	log := newServeLog(con.out, f, k)
	srv.Listener = log.listener(ln)
	srv.Config.Handler = log.handler(srv.Config.Handler)
	srv.Config.ConnState = log.connState
	info := serveInfo{Event: "serving", Kind: name}
	if k.tls || k.h2 || k.mtls || f.tls || f.h2 {
		m, err := newTLSMaterial(f, k.mtls)
		if err != nil {
			ln.Close()
			return 1, err
		}
		defer m.cleanup()
		srv.TLS, srv.EnableHTTP2 = m.config, k.h2 || f.h2
		srv.StartTLS()
		info.CA, info.Cert, info.Key = m.caFile, m.certFile, m.keyFile
		if k.mtls && f.rotate > 0 {
			stop := m.rotateEvery(f.rotate, log)
			defer stop()
		}
	} else {
		srv.Start()
	}
	defer srv.Close()
	info.URL = srv.URL
	log.serving(info)
	if ready != nil {
		ready(info)
	}
	<-ctx.Done()
	srv.Close()
	st := srv.Stats()
	log.stopped(st.Requests, st.Connections)
	return 0, nil
}

// tlsMaterial is the throw-away CA of a TLS fake, with its files.
type tlsMaterial struct {
	ca                        *tt.CA
	config                    *tls.Config
	dir                       string
	temp                      bool // dir was made here: remove it at the end
	caFile, certFile, keyFile string
}

// newTLSMaterial makes a CA and a server certificate (for localhost,
// 127.0.0.1 and ::1), writes the CA to the directory and, for mtls, a client
// certificate and key that the server accepts.
func newTLSMaterial(f serveFlags, mtls bool) (*tlsMaterial, error) {
	m := &tlsMaterial{ca: tt.NewCA("rtprobe serve CA"), dir: f.dir}
	if m.dir == "" {
		d, err := os.MkdirTemp("", "rtprobe-serve-")
		if err != nil {
			return nil, err
		}
		m.dir, m.temp = d, true
	} else if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, err
	}
	m.caFile = filepath.Join(m.dir, tt.CAFileName)
	if err := tt.WriteFileAtomic(m.caFile, m.ca.CertPEM); err != nil {
		m.cleanup()
		return nil, err
	}
	m.config = &tls.Config{Certificates: []tls.Certificate{m.ca.IssueServer().Certificate}}
	if mtls {
		m.config.ClientAuth, m.config.ClientCAs = tls.RequireAndVerifyClientCert, m.ca.Pool()
		if _, err := m.issueClient(); err != nil {
			m.cleanup()
			return nil, err
		}
		m.certFile, m.keyFile = filepath.Join(m.dir, tt.CertFileName), filepath.Join(m.dir, tt.KeyFileName)
	}
	return m, nil
}

// issueClient writes a new client certificate and key to the directory and
// returns its serial.
func (m *tlsMaterial) issueClient() (string, error) {
	p := m.ca.IssueClient("rtprobe client", 24*time.Hour)
	return p.Serial(), tt.WritePair(m.dir, p)
}

// rotateEvery issues a new client certificate every d until stopped.
func (m *tlsMaterial) rotateEvery(d time.Duration, log *serveLog) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				serial, err := m.issueClient()
				log.rotated(m.certFile, serial, err)
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

func (m *tlsMaterial) cleanup() {
	if m.temp {
		os.RemoveAll(m.dir)
	}
}
