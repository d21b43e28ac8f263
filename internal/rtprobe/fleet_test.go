package rtprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
	tt "github.com/rtchain/chain/transporttest"
)

// fakeFleet records what the load does with its fleet store.
type fakeFleet struct {
	url      string
	degraded bool
	syncErr  error

	mu       sync.Mutex // guards the fields below
	calls    []string   // "breaker", "budget", "sync", "close", in order
	breakers []*breaker.Replica
}

func (f *fakeFleet) note(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeFleet) ShareBreaker(r *breaker.Replica) {
	f.mu.Lock()
	f.breakers = append(f.breakers, r)
	f.mu.Unlock()
	f.note("breaker")
}

func (f *fakeFleet) ShareBudget(*retry.BudgetShare) { f.note("budget") }

func (f *fakeFleet) Sync(context.Context) error {
	f.note("sync")
	return f.syncErr
}

func (f *fakeFleet) Degraded() bool { return f.degraded }

func (f *fakeFleet) Close() error {
	f.note("close")
	return nil
}

// runFleet runs args with -json in a build whose fleet store is f.
func runFleet(t *testing.T, f *fakeFleet, args ...string) (loadSummary, int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ext := Extensions{Fleet: func(u *url.URL) (Fleet, error) {
		f.url = u.String()
		return f, nil
	}}
	code := runConsole(context.Background(), append([]string{"-json"}, args...),
		console{out: &out, err: &errOut, width: func() int { return 0 }, ext: ext})
	var sum loadSummary
	require.NoError(t, json.Unmarshal(out.Bytes(), &sum), "stdout: %s\nstderr: %s", out.String(), errOut.String())
	return sum, code, errOut.String()
}

// -fleet gives the load's breaker and its retry budget to the build's
// fleet store, syncs it once the stack is built and before the first
// request, and closes it at the end; the summary shows the store, its URL
// redacted.
func TestLoadFleet(t *testing.T) {
	t.Parallel()
	f := &fakeFleet{}
	var first sync.Once
	var syncedFirst bool
	srv := tt.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() {
			f.mu.Lock()
			syncedFirst = slices.Contains(f.calls, "sync")
			f.mu.Unlock()
		})
	}))
	defer srv.Close()
	sum, code, stderr := runFleet(t, f, "-fleet", "redis://:secret@127.0.0.1:6379/2", "-n", "10", "-c", "2", "-hedge", "1s", srv.URL)
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stderr)
	assert.Equal(t, "redis://:secret@127.0.0.1:6379/2", f.url, "the store gets the URL as given")
	f.mu.Lock()
	assert.Equal(t, []string{"budget", "breaker", "sync", "close"}, f.calls)
	assert.Len(t, f.breakers, 1, "the stack's one breaker layer is shared")
	f.mu.Unlock()
	assert.True(t, syncedFirst, "synced before the first request")
	require.NotNil(t, sum.Fleet)
	assert.Equal(t, fleetLog{URL: "redis://REDACTED@127.0.0.1:6379/2"}, *sum.Fleet)

	// A store that cannot reach the fleet: the load goes on alone.
	f = &fakeFleet{degraded: true, syncErr: errors.New("no answer")}
	sum, code, stderr = runFleet(t, f, "-fleet", "redis://127.0.0.1:1", "-n", "3", srv.URL)
	require.Equal(t, 0, code)
	assert.Equal(t, "rtprobe: -fleet redis://127.0.0.1:1: no answer; the load starts alone\n", stderr)
	assert.Equal(t, map[string]int{"ok": 3}, sum.Outcomes)
	assert.True(t, sum.Fleet.Degraded)

	var out bytes.Buffer
	fleetSum := loadSummary{Method: "GET", URL: "http://h/", Fleet: &fleetLog{URL: "redis://h:1", Degraded: true}}
	fleetSum.print(&out)
	assert.Contains(t, out.String(), "\nfleet     redis://h:1: degraded: the last outcomes did not reach the fleet\n")
}

// -fleet is for load; the build of this module has no fleet store and
// says, in one line, which build has.
func TestFleetNotInThisBuild(t *testing.T) {
	t.Parallel()
	code, out, errOut := runOut("-fleet", "redis://127.0.0.1:6379", "-n", "5", "http://127.0.0.1:1")
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Equal(t, "rtprobe: -fleet is not in this build, which does not link a Redis client: "+
		"run it from the redisstore module: cd redisstore && go run ./cmd/rtprobe -fleet redis://HOST:PORT [flags] URL\n", errOut)

	code, _, errOut = runOut("-fleet", "redis://127.0.0.1:6379", "http://127.0.0.1:1")
	require.Equal(t, 2, code)
	require.True(t, strings.HasPrefix(errOut, "rtprobe: -fleet is for load (-n, -duration or -rate)\n"), errOut)

	code, _, errOut = runOut("-fleet", "::nonsense", "-n", "2", "http://127.0.0.1:1")
	require.Equal(t, 2, code)
	require.True(t, strings.HasPrefix(errOut, "rtprobe: -fleet: want a URL such as redis://127.0.0.1:6379"), errOut)
}
