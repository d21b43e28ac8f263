package rtprobe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/standard"
	"github.com/rtchain/chain/timeouts"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// served is a serve mode running in a test.
type served struct {
	info     serveInfo
	out, err *syncBuffer
	stop     func() int // interrupts it and returns its exit code
}

// startServe runs "rtprobe serve args..." on a free port until stop.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{out: &syncBuffer{}, err: &syncBuffer{}}
	infos := make(chan serveInfo, 1)
	done := make(chan int, 1)
	go func() {
		code, err := runServe(ctx, append(args, "-addr", "127.0.0.1:0"), console{out: s.out, err: s.err, width: func() int { return 0 }},
			func(i serveInfo) { infos <- i })
		if err != nil {
			s.err.Write([]byte(err.Error()))
		}
		done <- code
	}()
	select {
	case s.info = <-infos:
	case code := <-done:
		cancel()
		t.Fatalf("serve %q exited with %d: %s", args, code, s.err.String())
	}
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// clientFor is a client of ours (the standard stack) for a served fake:
// short bounds, the fake's CA trusted, its client certificate presented.
func clientFor(t *testing.T, info serveInfo, attempts int) *http.Client {
	t.Helper()
	topts := []timeouts.Option{timeouts.WithResponseHeader(300 * time.Millisecond), timeouts.WithBodyIdle(300 * time.Millisecond)}
	base := timeouts.NewTransport(topts...)
	if info.CA != "" {
		pem, err := os.ReadFile(info.CA)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(pem))
		cfg := &tls.Config{RootCAs: pool}
		if info.Cert != "" {
			pair, err := tls.LoadX509KeyPair(info.Cert, info.Key)
			require.NoError(t, err)
			cfg.Certificates = []tls.Certificate{pair}
		}
		base.TLSClientConfig = cfg
	}
	c := standard.Client(standard.WithBase(base), standard.WithTimeouts(topts...),
		standard.WithRetry(retry.WithMaxAttempts(attempts), retry.WithBackoff(time.Millisecond, time.Millisecond, retry.JitterFull)))
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// get sends one GET and returns the class of its outcome, the body was read
// in full (or failed), and the protocol.
func get(c *http.Client, url string) (errclass.Class, string) {
	resp, err := c.Get(url)
	proto := ""
	if err == nil {
		proto = resp.Proto
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return errclass.ClassifyResponse(resp, err), proto
}

// Every kind of the serve mode, answered by a client of ours: the class the
// client sees is the one the fake is for, and the fake logs what it did.
func TestServeKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args     []string
		attempts int
		want     errclass.Class
		calls    int    // GETs sent (1 when 0); the class is the last one's
		proto    string // of a response, when set
		log      string // in the log
	}{
		{args: []string{"ok"}, want: errclass.OK, log: "200, 3 bytes"},
		{args: []string{"503"}, want: errclass.Status, log: "503, 0 bytes"},
		{args: []string{"tls"}, want: errclass.OK, proto: "HTTP/1.1", log: "200, 3 bytes"},
		{args: []string{"h2"}, want: errclass.OK, proto: "HTTP/2.0", log: "HTTP/2.0: 200"},
		{args: []string{"ok", "-h2"}, want: errclass.OK, proto: "HTTP/2.0", log: "HTTP/2.0: 200"},
		{args: []string{"mtls"}, want: errclass.OK, log: "(client cert "},
		{args: []string{"sequence", "503,503,200", "-retry-after", "0"}, attempts: 3, want: errclass.OK, log: "reply 3 of 3"},
		{args: []string{"sequence", "429,200"}, want: errclass.Status, log: "429, 0 bytes; reply 1 of 2"},
		{args: []string{"retry-after", "-retry-after", "0"}, attempts: 2, want: errclass.OK, log: "reply 2 of 2"},
		{args: []string{"slow-header", "-delay", "1m"}, want: errclass.Timeout, log: "holds the header for 1m0s"},
		{args: []string{"stall", "-bytes", "10"}, want: errclass.Timeout, log: "sends 10 body bytes, then stalls"},
		{args: []string{"trickle", "-every", "5ms", "-bytes", "5"}, want: errclass.OK, log: "trickles 5 bytes"},
		{args: []string{"reset"}, want: errclass.Reset, log: "took the connection over; reset the connection"},
		{args: []string{"reset-mid-body", "-bytes", "10"}, want: errclass.Reset, log: "sent 10 body bytes, then reset"},
		{args: []string{"empty-reply"}, want: errclass.Reset, log: "closed the connection without a byte"},
		{args: []string{"raw", "-raw", "HTTP/1.1 2OO OK\r\n\r\n"}, want: errclass.Protocol, log: "sent the raw reply"},
		{args: []string{"malformed-chunked"}, want: errclass.Protocol, log: "corrupt chunked body"},
		{args: []string{"blackhole"}, want: errclass.Timeout, log: "conn 1 from 127.0.0.1:"},
		{args: []string{"no-read"}, want: errclass.Timeout, log: "never read the body"},
		{args: []string{"slow-reader", "-chunk", "1", "-every", "1ms"}, want: errclass.OK, log: "reads the body 1 bytes every 1ms"},
		{args: []string{"answer-before-body"}, want: errclass.Status, log: "413, 24 bytes"},
		{args: []string{"stale-keepalive"}, calls: 2, want: errclass.OK, log: "closed the reused connection without answering"},
		{args: []string{"goaway", "-after", "1"}, calls: 2, want: errclass.OK, log: "GOAWAY after it"},
		{args: []string{"upgrade-echo"}, want: errclass.Status, log: "400"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.args[0]] = true
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			s := startServe(t, tc.args...)
			c := clientFor(t, s.info, max(tc.attempts, 1))
			var class errclass.Class
			var proto string
			for range max(tc.calls, 1) {
				class, proto = get(c, s.info.URL+"/x?token=secret")
			}
			require.Equal(t, tc.want, class, "class; log:\n%s", s.out.String())
			if tc.proto != "" {
				require.Equal(t, tc.proto, proto)
			}
			c.CloseIdleConnections()
			require.Equal(t, 0, s.stop())
			log := s.out.String()
			t.Log("\n" + log)
			require.Contains(t, log, tc.log)
			require.NotContains(t, log, "secret", "query values are never logged")
			require.Empty(t, s.err.String())
		})
	}
	for name := range kinds() {
		require.True(t, seen[name], "kind %q is not tested", name)
	}
}

// One log line per request, with the connection, the method, the path and
// what the fake did; the TLS kinds print where the CA file is.
func TestServeLog(t *testing.T) {
	t.Parallel()
	s := startServe(t, "sequence", "503,200", "-retry-after", "0", "-tls")
	require.FileExists(t, s.info.CA)
	lines := servedLog(t, s, 2, "/a", 1)
	require.Len(t, lines, 5, "serving, CA, two requests, stopped")
	require.Contains(t, lines[0], "serving sequence on https://127.0.0.1:")
	require.Contains(t, lines[1], "CA certificate  "+s.info.CA)
	require.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} conn 1 GET /a HTTP/1\.1: 503, 0 bytes; reply 1 of 2$`, lines[2])
	require.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} conn 1 GET /a HTTP/1\.1: 200, 3 bytes; reply 2 of 2$`, lines[3])
	require.Equal(t, "stopped after 2 requests on 1 connections", lines[4])
	require.NoFileExists(t, s.info.CA, "the temporary CA directory is removed at exit")
}

// serve -json writes one JSON object per event, parsed back here.
func TestServeJSON(t *testing.T) {
	t.Parallel()
	s := startServe(t, "mtls", "-json")
	c := clientFor(t, s.info, 1)
	class, _ := get(c, s.info.URL+"/b")
	require.Equal(t, errclass.OK, class)
	c.CloseIdleConnections()
	require.Equal(t, 0, s.stop())
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.out.String()))
	for sc.Scan() {
		var e map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		events = append(events, e)
	}
	require.Len(t, events, 3)
	require.Equal(t, "serving", events[0]["event"])
	require.Equal(t, s.info.URL, events[0]["url"])
	require.Equal(t, s.info.Cert, events[0]["client_cert"])
	require.Equal(t, "request", events[1]["event"])
	require.Equal(t, "/b", events[1]["path"])
	require.EqualValues(t, 200, events[1]["status"])
	require.EqualValues(t, 1, events[1]["conn"])
	require.NotEmpty(t, events[1]["client_serial"])
	require.Equal(t, "stopped", events[2]["event"])
	require.EqualValues(t, 1, events[2]["requests"])
}

// mtls -rotate issues new client certificates into the directory.
func TestServeRotate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServe(t, "mtls", "-dir", dir, "-rotate", "50ms")
	first, err := os.ReadFile(s.info.Cert)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(s.out.String(), "rotated the client certificate") },
		5*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, s.stop())
	now, err := os.ReadFile(s.info.Cert)
	require.NoError(t, err)
	require.NotEqual(t, first, now)
	require.FileExists(t, s.info.CA, "a directory given with -dir is kept")
}

func TestServeBlackholeHangsPlainClient(t *testing.T) {
	t.Parallel()
	s := startServe(t, "blackhole")
	rctx, rcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer rcancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, s.info.URL, nil)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	_, err := tr.RoundTrip(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 0, s.stop())
	require.Contains(t, s.out.String(), "accepted; never reads or answers")
}

// Each request is logged with the number of its connection, as the server
// counts them: a reused connection keeps its number, a new one takes the
// next.
func TestServeLogConnections(t *testing.T) {
	t.Parallel()
	s := startServe(t, "stale-keepalive")
	lines := servedLog(t, s, 1, "/s", 2)
	require.Len(t, lines, 5, "serving, three requests, stopped")
	var requests []string // without the time; a request is logged when it ends
	for _, l := range lines[1:4] {
		_, rest, _ := strings.Cut(l, " ")
		requests = append(requests, rest)
	}
	require.ElementsMatch(t, []string{
		"conn 1 GET /s HTTP/1.1: 200, 2 bytes; kept the connection alive",
		"conn 1 GET /s HTTP/1.1: took the connection over; closed the reused connection without answering",
		"conn 2 GET /s HTTP/1.1: 200, 2 bytes; kept the connection alive",
	}, requests)
	require.Equal(t, "stopped after 3 requests on 2 connections", lines[4])
}

// servedLog sends n GETs of path to s, each of which must succeed within
// attempts, stops s and returns the lines of its log.
func servedLog(t *testing.T, s *served, attempts int, path string, n int) []string {
	t.Helper()
	c := clientFor(t, s.info, attempts)
	for range n {
		class, _ := get(c, s.info.URL+path)
		require.Equal(t, errclass.OK, class, "log:\n%s", s.out.String())
	}
	c.CloseIdleConnections()
	require.Equal(t, 0, s.stop())
	t.Log("\n" + s.out.String())
	return strings.Split(strings.TrimSpace(s.out.String()), "\n")
}
