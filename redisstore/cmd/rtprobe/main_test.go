package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rtchain/chain/redisstore/internal/redistest"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/rtprobe"
	"github.com/rtchain/chain/transporttest"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // as main does
	goleak.VerifyTestMain(m)
}

// summary is the part of a load's -json object these tests read.
type summary struct {
	Requests    int            `json:"requests"`
	Reached     int            `json:"reached_network"`
	Outcomes    map[string]int `json:"outcomes"`
	Rejected    map[string]int `json:"rejected"`
	Transitions []struct {
		From, To string
	} `json:"breaker_transitions"`
	Fleet *struct {
		URL      string `json:"url"`
		Degraded bool   `json:"degraded"`
	} `json:"fleet"`
}

// load runs this build's rtprobe in-process with -json and args, and
// returns its summary, exit code and standard error.
func load(t *testing.T, args ...string) (summary, int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := rtprobe.Main(append([]string{"-json"}, args...), &out, &errOut, extensions())
	var sum summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &sum), "stdout: %s\nstderr: %s", out.String(), errOut.String())
	return sum, code, errOut.String()
}

// Two runs against one failing host, sharing one Redis: the first trips
// the host's breaker after the failures it needs; the second, which syncs
// with the fleet before its first request, rejects every request at once
// with breaker_open and sends none.
func TestFleetSecondRunRejectsAtOnce(t *testing.T) {
	fleet := "redis://" + redistest.Start(t).Addr()
	host := transporttest.NewServer(transporttest.Reply{Status: http.StatusServiceUnavailable})
	defer host.Close()
	args := []string{"-fleet", fleet, "-n", "100", "-c", "4", "-attempts", "2", host.URL}

	first, code, stderr := load(t, args...)
	require.Equal(t, 1, code)
	require.Empty(t, stderr)
	require.Positive(t, first.Reached, "the first run learns the host is down by sending")
	require.Positive(t, first.Rejected["breaker_open"], "then its breaker opens: %+v", first)
	require.NotNil(t, first.Fleet)
	assert.Equal(t, fleet, first.Fleet.URL)
	assert.False(t, first.Fleet.Degraded)

	hits := host.Stats().Requests
	second, code, stderr := load(t, args...)
	require.Equal(t, 1, code)
	require.Empty(t, stderr)
	assert.Equal(t, map[string]int{"breaker_open": 100}, second.Rejected, "every request rejected: %+v", second)
	assert.Zero(t, second.Reached)
	assert.Equal(t, hits, host.Stats().Requests, "the second run sent nothing to the host")
	require.NotEmpty(t, second.Transitions)
	assert.Equal(t, "open", second.Transitions[0].To, "the open state is adopted from the fleet")
	assert.False(t, second.Fleet.Degraded)
}

// A Redis out of reach never fails a request: the load runs alone, says so
// on stderr, and its summary shows fleet mode degraded. A URL go-redis
// cannot read is a usage error, and a password in it is never printed.
func TestFleetUnreachable(t *testing.T) {
	host := transporttest.NewServer(transporttest.Reply{Body: "ok"})
	defer host.Close()
	deadAddr := transporttest.DeadAddr()
	sum, code, stderr := load(t, "-fleet", "redis://:secret@"+deadAddr, "-n", "20", "-c", "2", host.URL)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, map[string]int{"ok": 20}, sum.Outcomes)
	assert.Contains(t, stderr, "the load starts alone")
	require.NotNil(t, sum.Fleet)
	assert.True(t, sum.Fleet.Degraded)
	assert.Equal(t, "redis://REDACTED@"+deadAddr, sum.Fleet.URL)
	assert.NotContains(t, stderr, "secret")

	var out, errOut bytes.Buffer
	code = rtprobe.Main([]string{"-fleet", "http://:secret@127.0.0.1:1", "-n", "2", host.URL}, &out, &errOut, extensions())
	assert.Equal(t, 2, code)
	assert.Empty(t, out.String())
	assert.True(t, strings.HasPrefix(errOut.String(),
		"rtprobe: -fleet http://REDACTED@127.0.0.1:1: redis: invalid URL scheme: http\n"), errOut.String())
	assert.NotContains(t, errOut.String(), "secret")
}
