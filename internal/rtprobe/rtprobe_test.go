package rtprobe

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/testflag"
	"github.com/rtchain/chain/transporttest"
)

// TestMain lets the tests, which mostly wait on real sockets and timers and
// share no global state, overlap (see testflag.RaiseParallel): four at a
// time, not more, so that on a loaded machine their own work does not
// starve the loopback exchanges of the others past a few hundred
// milliseconds (the serve mode's client bounds are 300ms; a slow call of
// the rule scenarios is one above 1s).
func TestMain(m *testing.M) {
	testflag.RaiseParallel(4)
	goleak.VerifyTestMain(m)
}

// shortConfig is the scenario run scaled down for tests. The bounds that
// must not cut a healthy exchange (the response header's, the body idle
// one) stay at their defaults, and chain's attempts at the slow header fit
// well within the plain bound: a busy machine, on which a loopback exchange
// can take a few hundred milliseconds, does not change the outcomes.
func shortConfig() scenarioConfig {
	cfg := defaultScenarioConfig()
	cfg.backoff, cfg.maxBackoff = 10*time.Millisecond, 50*time.Millisecond
	cfg.breakerMin, cfg.breakerCalls = 3, 10
	cfg.trickleEvery, cfg.trickleBytes = 50*time.Millisecond, 12
	// Generous: under -race on a busy machine a loopback call can take 200ms.
	cfg.p99, cfg.slowCall = time.Second, 1200*time.Millisecond
	// The load scenarios need the whole machine to themselves to show their
	// figures in real time; TestOverloadScenario and TestSlowTailScenario run
	// them on fake time.
	cfg.only = map[string]bool{}
	for _, sc := range scenarios() {
		cfg.only[sc.name] = sc.name != "overloaded host (limit)" && sc.name != "slow tail (hedge)"
	}
	return cfg
}

func TestScenarioTable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	cfg := shortConfig()
	code := runScenarios(context.Background(), &out, cfg, false)
	table := out.String()
	t.Log("\n" + table)
	require.Equal(t, 0, code, "exit code")
	for _, sc := range scenarios() {
		if !cfg.only[sc.name] {
			continue
		}
		line := lineOf(table, sc.name)
		require.NotEmpty(t, line, "row for %q", sc.name)
		require.True(t, strings.HasSuffix(strings.TrimSpace(line), "ok"), "row %q does not end in ok", line)
	}
	// Plain net/http hangs where chain bounds the wait.
	require.Contains(t, lineOf(table, "slow header"), "hung > 3s")
	require.Contains(t, lineOf(table, "stalled body"), "hung > 3s")
	require.Contains(t, lineOf(table, "blackhole"), "hung > 3s")
	require.Contains(t, lineOf(table, "503 then 200"), " 503 ")
	require.Contains(t, table, "chain behaved as expected in every scenario")
}

// TestScenarioFailureExits1 checks that a scenario chain gets wrong fails the
// run: with a body idle bound longer than the plain bound, the stalled body
// is not cut in time.
func TestScenarioFailureExits1(t *testing.T) {
	t.Parallel()
	cfg := shortConfig()
	cfg.plainBound = 300 * time.Millisecond
	cfg.bodyIdle = 2 * cfg.plainBound // chain too hangs past the bound: the scenario fails
	cfg.only = map[string]bool{"stalled body": true}
	var out bytes.Buffer
	require.Equal(t, 1, runScenarios(context.Background(), &out, cfg, false), out.String())
	require.Contains(t, out.String(), "FAIL")
}

// requireField checks that s has a line "name   value...".
func requireField(t *testing.T, s, name, value string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+` + regexp.QuoteMeta(value))
	require.Regexp(t, re, s)
}

// lineOf returns the first line of s that starts with prefix.
func lineOf(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestProbeURL(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "hello", Header: http.Header{"X-Test": {"1"}}})
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{srv.URL + "/path?token=secret", "-v", "-H", "Authorization: Bearer secret"}, &out, &errOut)
	t.Log(out.String())
	require.Equal(t, 0, code, errOut.String())
	s := out.String()
	for _, want := range []string{"GET http://", "token=REDACTED", "connect", "first byte", "body", "200 OK", "5 bytes", "request id", "X-Test: 1", "attempt 1"} {
		require.Contains(t, s, want)
	}
	requireField(t, s, "attempts", "1")
	require.NotContains(t, s, "secret")
	seen := srv.Seen()
	require.Len(t, seen, 1)
	require.Equal(t, "Bearer secret", seen[0].Header.Get("Authorization"))
	require.NotEmpty(t, seen[0].Header.Get("X-Request-ID"))
}

func TestProbeURLRetriesAndBody(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Sequence(
		transporttest.Reply{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"0"}}},
		transporttest.Reply{Body: "ok"},
	))
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-X", "PUT", "-d", "payload", srv.URL}, &out, &errOut)
	require.Equal(t, 0, code, out.String()+errOut.String())
	requireField(t, out.String(), "attempts", "2")
	seen := srv.Seen()
	require.Len(t, seen, 2)
	for _, r := range seen {
		require.Equal(t, "PUT", r.Method)
		require.Equal(t, "payload", string(r.Body))
	}
}

func TestProbeURLRefused(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-attempts", "2", "http://" + transporttest.DeadAddr()}, &out, &errOut)
	require.Equal(t, 1, code, out.String())
	requireField(t, out.String(), "class", "refused")
	requireField(t, out.String(), "attempts", "2")
}

func TestProbeURLHeaderTimeout(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Delay: time.Minute})
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-attempts", "1", "-header-timeout", "100ms", srv.URL}, &out, &errOut)
	require.Equal(t, 1, code, out.String())
	requireField(t, out.String(), "class", "timeout")
	requireField(t, out.String(), "phase", "response_header")
}

// TestProbeURLTLS probes an HTTPS (HTTP/2) server trusted through -cacert:
// the TLS phase is timed.
func TestProbeURLTLS(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewUnstartedServer(transporttest.Reply{Body: "secure"})
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-cacert", ca, srv.URL}, &out, &errOut)
	t.Log(out.String())
	require.Equal(t, 0, code, out.String()+errOut.String())
	require.Regexp(t, regexp.MustCompile(`(?m)^tls\s+\d+\.\dms`), out.String())
	require.Contains(t, out.String(), "HTTP/2.0")

	// Without the CA the server is not trusted and the error says so.
	out.Reset()
	require.Equal(t, 1, run(context.Background(), []string{srv.URL}, &out, &errOut))
	requireField(t, out.String(), "class", "tls")
}

func TestLoad(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-n", "40", "-c", "4", srv.URL}, &out, &errOut)
	t.Log(out.String())
	require.Equal(t, 0, code, errOut.String())
	s := out.String()
	require.Contains(t, s, "40 requests")
	require.Contains(t, s, "p50")
	require.Contains(t, s, "outcomes  ok 40")
	require.Contains(t, s, "statuses  200 40")
	require.Contains(t, s, "retries   0")
	require.Equal(t, 40, srv.Stats().Requests)
	require.NotContains(t, s+errOut.String(), "\r", "no progress bar when stderr is not a terminal")
}

func TestLoadFailingHost(t *testing.T) {
	t.Parallel()
	srv := transporttest.NewServer(transporttest.Reply{Status: http.StatusServiceUnavailable})
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-n", "60", "-c", "2", "-attempts", "2", srv.URL}, &out, &errOut)
	t.Log(out.String())
	require.Equal(t, 1, code)
	s := out.String()
	require.Contains(t, s, "60 requests")
	require.Contains(t, s, "closed→open")
	require.Contains(t, s, "breaker_open")
	require.Less(t, srv.Stats().Requests, 120, "the breaker spared the server")
}
