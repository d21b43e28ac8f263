package rtprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	tt "github.com/rtchain/chain/transporttest"
)

// probeJSON runs a probe with -json and parses its one object back.
func probeJSON(t *testing.T, args ...string) (probeResult, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"-json"}, args...), &out, &errOut)
	require.Empty(t, errOut.String())
	require.Equal(t, 1, strings.Count(out.String(), "\n"), "one object, one line: %s", out.String())
	var res probeResult
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	return res, code
}

// newRedirector answers /a with 302 to /b, /b with 301 to /c?token=secret,
// and /c with 200.
func newRedirector() *tt.Server {
	return tt.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			http.Redirect(w, r, "/b", http.StatusFound)
		case "/b":
			http.Redirect(w, r, "/c?token=secret", http.StatusMovedPermanently)
		default:
			w.Write([]byte("done"))
		}
	}))
}

// A redirect is shown as one, with its target (redacted); it is not an
// attempt: each hop's attempts are numbered on their own.
func TestProbeRedirects(t *testing.T) {
	t.Parallel()
	srv := newRedirector()
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-v", srv.URL + "/a"}, &out, &errOut)
	s := out.String()
	t.Log("\n" + s)
	require.Equal(t, 0, code, errOut.String())
	requireField(t, s, "redirect", "302 Found → "+srv.URL+"/b")
	requireField(t, s, "redirect", "301 Moved Permanently → "+srv.URL+"/c?token=REDACTED")
	requireField(t, s, "redirects", "2")
	requireField(t, s, "attempts", "1")
	require.NotContains(t, s, "attempt 2")
	require.Equal(t, 3, strings.Count(s, "attempt 1 "), "one attempt per hop")
	require.NotContains(t, s, "secret")
	// In order: the attempt that got the 302, the redirect, the next attempt.
	require.Regexp(t, `(?s)attempt 1 .*redirect\s+302.*attempt 1 .*redirect\s+301.*attempt 1 `, s)

	res, code := probeJSON(t, srv.URL+"/a")
	require.Equal(t, 0, code)
	require.Equal(t, []redirect{{Status: 302, Location: srv.URL + "/b"}, {Status: 301, Location: srv.URL + "/c?token=REDACTED"}}, res.Redirects)
	require.Equal(t, 1, res.Attempts)
	require.Equal(t, 200, res.Status)
}

// A failed phase is shown as failed, never as a time, and the phases after
// it as not reached: a DNS failure does not print the resolver's own dials
// as "connect".
func TestProbeDNSFailure(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-attempts", "1", "http://user:pw@host.invalid/x?token=secret"}, &out, &errOut)
	s := out.String()
	t.Log("\n" + s)
	require.Equal(t, 1, code)
	require.Regexp(t, `(?m)^dns\s+(failed|timed out) after \d+\.\dm?s$`, s)
	requireField(t, s, "connect", "-\n")
	requireField(t, s, "first byte", "-\n")
	require.NotContains(t, s, "secret")
	require.NotContains(t, s, "pw")
	requireField(t, s, "error", `Get "http://REDACTED@host.invalid/x?token=REDACTED": `)
}

// The judgement of phases, on traces made by hand.
func TestPhases(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	dnsErr := errors.New("no such host")
	timeout := context.DeadlineExceeded
	cases := []struct {
		name string
		a    attemptTrace
		e    ending
		want phaseSet
	}{
		{"dns failed", attemptTrace{dnsStart: at(0), dnsDone: at(2), dnsErr: dnsErr}, ending{end: at(3), failed: true, err: dnsErr},
			phaseSet{DNS: phaseResult{stateFailed, 2}, Connect: phaseResult{State: stateSkipped}, TLS: phaseResult{State: stateSkipped}, FirstByte: phaseResult{State: stateSkipped}}},
		{"header timeout", attemptTrace{connStart: at(0), connDone: at(1), gotConn: at(1), wrote: at(1)}, ending{end: at(501), failed: true, err: timeout},
			phaseSet{DNS: phaseResult{State: stateSkipped}, Connect: phaseResult{stateDone, 1}, TLS: phaseResult{State: stateSkipped}, FirstByte: phaseResult{stateTimeout, 500}}},
		{"tls hangs", attemptTrace{connStart: at(0), connDone: at(1), tlsStart: at(1)}, ending{end: at(101), failed: true, err: errors.New("eof")},
			phaseSet{DNS: phaseResult{State: stateSkipped}, Connect: phaseResult{stateDone, 1}, TLS: phaseResult{stateFailed, 100}, FirstByte: phaseResult{State: stateSkipped}}},
		{"reused", attemptTrace{reused: true, gotConn: at(0), wrote: at(0), firstByte: at(4)}, ending{end: at(5)},
			phaseSet{DNS: phaseResult{State: stateReused}, Connect: phaseResult{State: stateReused}, TLS: phaseResult{State: stateReused}, FirstByte: phaseResult{stateDone, 4}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.a.phases(tc.e))
		})
	}
	require.Equal(t, "failed after 2.0ms", phaseResult{stateFailed, 2}.cell())
	require.Equal(t, "timed out after 500.0ms", phaseResult{stateTimeout, 500}.cell())
	require.Equal(t, "-", phaseResult{State: stateSkipped}.cell())
}

// The error line keeps the URL, redacted; no dangling "Get:".
func TestProbeErrorKeepsRedactedURL(t *testing.T) {
	t.Parallel()
	addr := tt.DeadAddr()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-attempts", "2", "http://user:pw@" + addr + "/x?token=secret"}, &out, &errOut)
	s := out.String()
	require.Equal(t, 1, code)
	requireField(t, s, "error", `Get "http://REDACTED@`+addr+`/x?token=REDACTED": retry: gave up after 2 attempts`)
	requireField(t, s, "connect", "failed after ")
	require.NotContains(t, s, "secret")
	require.NotContains(t, s, ":pw")
	require.NotContains(t, s, "Get: ")
}

// A timeout is shown in the phase it cut.
func TestProbeTimeoutPhase(t *testing.T) {
	t.Parallel()
	srv := tt.NewServer(tt.Reply{Delay: time.Minute})
	defer srv.Close()
	res, code := probeJSON(t, "-attempts", "1", "-header-timeout", "100ms", srv.URL)
	require.Equal(t, 1, code)
	require.Equal(t, stateTimeout, res.Phases.FirstByte.State)
	require.GreaterOrEqual(t, res.Phases.FirstByte.MS, 100.0)
	require.Equal(t, stateDone, res.Phases.Connect.State)
	require.Equal(t, "timeout", res.Class)
	require.Equal(t, string(errclass.PhaseResponseHeader), res.Phase)
	require.Nil(t, res.Phases.Body)
}

// -json: one object per probe, with the phases, status and retries.
func TestProbeJSON(t *testing.T) {
	t.Parallel()
	srv := tt.NewServer(tt.Sequence(tt.Reply{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"0"}}}, tt.Reply{Body: "hello"}))
	defer srv.Close()
	res, code := probeJSON(t, "-v", srv.URL+"/p?key=secret")
	require.Equal(t, 0, code)
	require.Equal(t, "GET", res.Method)
	require.Equal(t, srv.URL+"/p?key=REDACTED", res.URL)
	require.Equal(t, 200, res.Status)
	require.Equal(t, "HTTP/1.1", res.Proto)
	require.EqualValues(t, 5, res.Bytes)
	require.Equal(t, "ok", res.Class)
	require.Equal(t, 2, res.Attempts)
	require.NotEmpty(t, res.RequestID)
	require.Equal(t, stateDone, res.Phases.FirstByte.State)
	require.NotNil(t, res.Phases.Body)
	require.Equal(t, stateDone, res.Phases.Body.State)
	require.Len(t, res.Log, 2)
	require.Nil(t, res.Log[0].Retry)
	require.Equal(t, &retryLog{Reason: "503", WaitMS: res.Log[1].Retry.WaitMS}, res.Log[1].Retry)
	require.Equal(t, []string{"5"}, res.Headers["Content-Length"])
}

// -o saves the body, -show-body prints it after the summary.
func TestProbeBody(t *testing.T) {
	t.Parallel()
	srv := tt.NewServer(tt.Reply{Body: "the body\n"})
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "body.txt")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-o", file, "-show-body", srv.URL}, &out, &errOut), errOut.String())
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "the body\n", string(b))
	requireField(t, out.String(), "saved to", file)
	require.True(t, strings.HasSuffix(out.String(), "\n\nthe body\n"), out.String())

	res, _ := probeJSON(t, "-show-body", srv.URL)
	require.NotNil(t, res.Body)
	require.Equal(t, "the body\n", *res.Body)
}

// A URL without a scheme is https.
func TestProbeNoScheme(t *testing.T) {
	t.Parallel()
	srv := tt.NewUnstartedServer(tt.Reply{Body: "secure"})
	srv.StartTLS()
	defer srv.Close()
	ca := writeCA(t, srv)
	res, code := probeJSON(t, "-cacert", ca, srv.Listener.Addr().String()+"/path")
	require.Equal(t, 0, code, res.Error)
	require.Equal(t, "https://"+srv.Listener.Addr().String()+"/path", res.URL)
	require.Equal(t, stateDone, res.Phases.TLS.State)
	require.Equal(t, "/path", srv.Seen()[0].Path)

	for raw, want := range map[string]string{
		"example.com":              "https://example.com",
		"localhost:8080/x":         "https://localhost:8080/x",
		"http://example.com/a?b=c": "http://example.com/a?b=c",
	} {
		got, err := normalizeURL(raw)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

// -k skips the verification of the server's certificate.
func TestProbeInsecure(t *testing.T) {
	t.Parallel()
	srv := tt.NewUnstartedServer(tt.Reply{Body: "secure"})
	srv.StartTLS()
	defer srv.Close()
	res, code := probeJSON(t, "-attempts", "1", srv.URL)
	require.Equal(t, 1, code)
	require.Equal(t, "tls", res.Class)
	require.Equal(t, stateFailed, res.Phases.TLS.State)
	res, code = probeJSON(t, "-k", srv.URL)
	require.Equal(t, 0, code, res.Error)
	require.Equal(t, 200, res.Status)
}

// writeCA writes the certificate of srv, started with TLS, to a PEM file.
func writeCA(t *testing.T, srv *tt.Server) string {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pemOf(srv.Certificate().Raw), 0o600))
	return ca
}

// -cert and -key present a client certificate through tlsrotate; -watch
// probes again when the files change, through the same client, and the new
// certificate is presented on a new connection.
func TestProbeCertWatch(t *testing.T) {
	t.Parallel()
	ca := tt.NewCA("test CA")
	srv := tt.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, clientSerial(r)) // the client certificate's serial
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	first := ca.IssueClient("first", time.Hour)
	require.NoError(t, tt.WritePair(dir, first))
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.CertPEM, 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runConsole(ctx, []string{"-json", "-show-body", "-watch", "-cacert", caFile,
			"-cert", filepath.Join(dir, tt.CertFileName), "-key", filepath.Join(dir, tt.KeyFileName), srv.URL},
			console{out: out, err: errOut, width: func() int { return 0 }})
	}()
	lines := func() []string { return strings.Split(strings.TrimSpace(out.String()), "\n") }
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "\n") }, 10*time.Second, 10*time.Millisecond)
	second := ca.IssueClient("second", time.Hour)
	require.NoError(t, tt.WritePair(dir, second))
	require.Eventually(t, func() bool { return len(lines()) >= 2 }, 10*time.Second, 10*time.Millisecond, out.String())
	cancel()
	require.Equal(t, 0, <-done, errOut.String())

	var probes []probeResult
	for _, l := range lines() {
		var res probeResult
		require.NoError(t, json.Unmarshal([]byte(l), &res), l)
		probes = append(probes, res)
	}
	require.Equal(t, first.Serial(), *probes[0].Body, "the server saw the first certificate")
	require.Equal(t, first.Serial(), probes[0].ClientCert.Serial)
	require.Nil(t, probes[0].Rotation)
	last := probes[len(probes)-1]
	require.Equal(t, second.Serial(), *last.Body, "the server saw the new certificate")
	require.Equal(t, second.Serial(), last.ClientCert.Serial)
	require.NotNil(t, last.Rotation)
	require.Equal(t, second.Serial(), last.Rotation.NewSerial)
	require.Equal(t, stateDone, last.Phases.Connect.State, "a new connection: %+v", last.Phases)
}

func pemOf(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }

// Attempts are numbered per hop by the retry layer: a redirect starts a new
// hop, and a connection attempt net/http makes on its own (a stale pooled
// connection) is the same attempt, resent.
func TestAttemptNumbers(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tr := &tracer{attempts: []*attemptTrace{
		{hop: 0, firstByte: now},
		{hop: 0, retry: &retryLog{Reason: "503"}},
		{hop: 0, firstByte: now},
		{hop: 1, firstByte: now},
	}, redirects: []redirect{{Status: 302, Location: "http://x/b"}}}
	var res probeResult
	res.judge(tr, ending{end: now}, phaseResult{}, true)
	require.Equal(t, []int{1, 2, 2, 1}, []int{res.Log[0].N, res.Log[1].N, res.Log[2].N, res.Log[3].N})
	require.Equal(t, []bool{false, false, true, false}, []bool{res.Log[0].Resent, res.Log[1].Resent, res.Log[2].Resent, res.Log[3].Resent})
	require.True(t, strings.HasPrefix(res.Log[1].line(), "retry after 503, waited 0.0ms: "))
	require.True(t, strings.HasPrefix(res.Log[2].line(), "resent by net/http on a new connection: "))
}
