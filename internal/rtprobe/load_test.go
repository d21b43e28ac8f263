package rtprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	tt "github.com/rtchain/chain/transporttest"
)

// loadJSON runs a load with -json and parses its one object back.
func loadJSON(t *testing.T, ctx context.Context, args ...string) (loadSummary, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"-json"}, args...), &out, &errOut)
	require.Empty(t, errOut.String())
	require.Equal(t, 1, strings.Count(out.String(), "\n"), "one object, one line: %s", out.String())
	var sum loadSummary
	require.NoError(t, json.Unmarshal(out.Bytes(), &sum), out.String())
	return sum, code
}

// newSlow answers every request with status after d (or when the server
// closes).
func newSlow(d time.Duration, status int) *tt.Server {
	return tt.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		w.WriteHeader(status)
	}))
}

func TestLoadJSON(t *testing.T) {
	t.Parallel()
	srv := tt.NewServer(tt.Reply{Body: "ok"})
	defer srv.Close()
	sum, code := loadJSON(t, context.Background(), "-n", "20", "-c", "3", srv.URL+"/?token=secret")
	require.Equal(t, 0, code)
	require.Equal(t, srv.URL+"/?token=REDACTED", sum.URL)
	require.Equal(t, 20, sum.Requests)
	require.Equal(t, 3, sum.Workers)
	require.Equal(t, 20, sum.Reached)
	require.Equal(t, map[string]int{"ok": 20}, sum.Outcomes)
	require.Equal(t, map[string]int{"200": 20}, sum.Statuses)
	require.Empty(t, sum.Rejected)
	require.NotNil(t, sum.Latency)
	require.LessOrEqual(t, sum.Latency.P50, sum.Latency.P99)
	require.Empty(t, sum.Transitions)
}

// The percentiles describe the server: requests a breaker rejected without
// sending them are counted apart, not as instant latencies.
func TestLoadPercentilesExcludeRejections(t *testing.T) {
	t.Parallel()
	srv := newSlow(20*time.Millisecond, http.StatusServiceUnavailable)
	defer srv.Close()
	sum, code := loadJSON(t, context.Background(), "-n", "200", "-c", "2", "-attempts", "1", srv.URL)
	require.Equal(t, 1, code)
	require.Equal(t, 200, sum.Requests)
	rejected := sum.Rejected["breaker_open"]
	require.Greater(t, rejected, 100, "most requests were rejected: %+v", sum)
	require.Equal(t, srv.Stats().Requests, sum.Reached)
	require.Equal(t, 200, sum.Reached+rejected)
	require.GreaterOrEqual(t, sum.Latency.P50, 20.0, "the latency of the server, not of the breaker: %+v", sum.Latency)
	require.NotEmpty(t, sum.Transitions)

	var out, errOut bytes.Buffer
	run(context.Background(), []string{"-n", "50", "-c", "2", "-attempts", "1", srv.URL}, &out, &errOut)
	t.Log("\n" + out.String())
	require.Regexp(t, `rejected  \d+ not sent \(breaker_open \d+\), not in the latency figures`, out.String())
	require.Regexp(t, `\(of \d+ that reached the network\)`, out.String())
}

// -limit sheds requests over the limit, counted apart as "limited", and the
// limit is reported.
func TestLoadLimit(t *testing.T) {
	t.Parallel()
	srv := newSlow(50*time.Millisecond, http.StatusOK)
	defer srv.Close()
	sum, code := loadJSON(t, context.Background(), "-n", "24", "-c", "4", "-limit", "1", srv.URL)
	require.Equal(t, 1, code)
	require.Greater(t, sum.Rejected["limited"], 0, "%+v", sum)
	require.Equal(t, sum.Rejected["limited"], sum.Outcomes["limited"])
	require.Equal(t, srv.Stats().Requests, sum.Reached)
	require.Len(t, sum.Limits, 1)
	require.Equal(t, limitLog{Key: strings.TrimPrefix(srv.URL, "http://"), Limit: 1, Fixed: true}, sum.Limits[0])

	sum, code = loadJSON(t, context.Background(), "-n", "5", "-limit", "adaptive", srv.URL)
	require.Equal(t, 0, code)
	require.Len(t, sum.Limits, 1)
	require.False(t, sum.Limits[0].Fixed)
	require.Positive(t, sum.Limits[0].Limit)
}

// -hedge sends a hedge of an attempt slower than its delay, through the
// standard stack's hedge layer, and counts the hedges.
func TestLoadHedge(t *testing.T) {
	t.Parallel()
	srv := newSlow(100*time.Millisecond, http.StatusOK)
	defer srv.Close()
	sum, code := loadJSON(t, context.Background(), "-n", "4", "-c", "2", "-hedge", "10ms", srv.URL)
	require.Equal(t, 0, code)
	require.NotNil(t, sum.Hedges, "%+v", sum)
	require.Positive(t, sum.Hedges.Sent)
	require.Equal(t, 4+int(sum.Hedges.Sent), srv.Stats().Requests, "each hedge reached the server")

	sum, _ = loadJSON(t, context.Background(), "-n", "2", srv.URL)
	require.Nil(t, sum.Hedges, "no hedge layer without -hedge")

	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-n", "2", "-hedge", "adaptive", srv.URL}, &out, &errOut), errOut.String())
	require.Regexp(t, `(?m)^hedges    \d+ sent, \d+ won$`, out.String())
}

// -duration bounds the load in time instead of in requests.
func TestLoadDuration(t *testing.T) {
	t.Parallel()
	srv := newSlow(10*time.Millisecond, http.StatusOK)
	defer srv.Close()
	sum, code := loadJSON(t, context.Background(), "-duration", "300ms", "-c", "2", srv.URL)
	require.Equal(t, 0, code)
	require.Positive(t, sum.Requests)
	require.Equal(t, srv.Stats().Requests, sum.Requests)
	require.GreaterOrEqual(t, sum.ElapsedMS, 300.0)
	require.Less(t, sum.ElapsedMS, 5000.0)
}

// -rate paces the starts; alone, it runs until interrupted.
func TestLoadRate(t *testing.T) {
	t.Parallel()
	srv := tt.NewServer(tt.Reply{Body: "ok"})
	defer srv.Close()
	sum, code := loadJSON(t, context.Background(), "-rate", "20", "-n", "6", srv.URL)
	require.Equal(t, 0, code)
	require.Equal(t, 6, sum.Requests)
	require.GreaterOrEqual(t, sum.ElapsedMS, 250.0, "5 intervals of 50ms")
	require.Equal(t, 20.0, sum.TargetRate)

	// About 20 starts in the second: enough time for some to end on a busy
	// machine, and far fewer than an unpaced load would start.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sum, code = loadJSON(t, ctx, "-rate", "20", srv.URL)
	require.Equal(t, 0, code, "an interrupt is how -rate alone ends")
	require.True(t, sum.Interrupted)
	require.Positive(t, sum.Requests)
	require.Less(t, sum.Requests, 50)
}

// The bar fits the terminal, at every width, whatever it shows.
func TestRenderBar(t *testing.T) {
	t.Parallel()
	states := []barState{
		{done: 120, failed: 3, total: 400, elapsed: 4 * time.Second, rate: 35},
		{done: 123456, failed: 123456, total: 9999999, elapsed: 2 * time.Hour, rate: 12345.6},
		{done: 400, total: 400, elapsed: 12 * time.Second, rate: 0},
		{done: 10, failed: 1, elapsed: 12 * time.Second, duration: 30 * time.Second, rate: 2.5},
		{done: 99999, failed: 5, elapsed: 90 * time.Minute, rate: 18.2},
	}
	for _, s := range states {
		for width := 1; width <= 200; width++ {
			line := renderBar(width, s)
			require.LessOrEqual(t, len(line), width-1, "width %d: %q", width, line)
		}
	}
	line := renderBar(30, states[0])
	require.Contains(t, line, "120/400")
	require.Contains(t, line, "fail 3")
	wide := renderBar(120, states[0])
	for _, want := range []string{"[", "120/400", "fail 3", "35/s", "ETA 8s"} {
		require.Contains(t, wide, want)
	}
	require.Contains(t, renderBar(120, states[3]), "12s/30s")
	require.Contains(t, renderBar(120, states[4]), "99999 req")
}

// The bar is drawn on stderr within 30 columns when the terminal is 30
// columns wide (the size is injected), and not at all on a non-terminal.
func TestLoadBarWidth(t *testing.T) {
	t.Parallel()
	srv := newSlow(2*time.Millisecond, http.StatusOK)
	defer srv.Close()
	var out, errOut syncBuffer
	code := runConsole(context.Background(), []string{"-n", "100", "-c", "2", srv.URL},
		console{out: &out, err: &errOut, width: func() int { return 30 }})
	require.Equal(t, 0, code)
	drawn := strings.Split(errOut.String(), "\r")
	require.Greater(t, len(drawn), 1, "the bar was drawn: %q", errOut.String())
	for _, d := range drawn[1:] {
		line := strings.TrimSuffix(strings.TrimSuffix(d, "\n"), "\x1b[K")
		require.LessOrEqual(t, len(line), 29, "%q", line)
	}
	require.Contains(t, drawn[len(drawn)-1], "100/100")
	require.NotContains(t, out.String(), "\r")
}

// The terminal check: /dev/null is a character device, not a terminal.
func TestTermWidthDevNull(t *testing.T) {
	t.Parallel()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeCharDevice, "a character device")
	require.Zero(t, termWidth(f)(), "not a terminal")
}
