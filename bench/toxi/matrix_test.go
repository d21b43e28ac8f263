// Package toxi_test runs chain's clients through toxiproxy, a fault-injecting
// TCP proxy that chain did not write, next to plain net/http. It is a package
// of its own for its TestMain: toxiproxy v2.5.0 leaves the goroutines of its
// links blocked after Stop, which goleak must ignore here and only here.
package toxi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/bench"
	"github.com/rtchain/chain/timeouts"
)

// TestMain checks for leaked goroutines, except toxiproxy's own: its links'
// goroutines stay blocked on channel sends once a connection is gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
	)
}

// toxiRow is one row of the fault matrix: a case, and what a correct chain
// client (the timeouts layer and the standard stack) must report for it.
type toxiRow struct {
	bench.ToxiCase
	want []string
}

func down(typ string, attrs map[string]int64) bench.Toxic {
	return bench.Toxic{Type: typ, Stream: "downstream", Attributes: attrs}
}

func up(typ string, attrs map[string]int64) bench.Toxic {
	return bench.Toxic{Type: typ, Stream: "upstream", Attributes: attrs}
}

var (
	get64K  = bench.ToxiRequest{Method: http.MethodGet, Size: 64 << 10}
	get256K = bench.ToxiRequest{Method: http.MethodGet, Size: 256 << 10}
	get1M   = bench.ToxiRequest{Method: http.MethodGet, Size: 1 << 20}
	put1M   = bench.ToxiRequest{Method: http.MethodPut, Size: 1 << 20}
	put16M  = bench.ToxiRequest{Method: http.MethodPut, Size: 16 << 20}
	// slowDown delivers 64 KB/s, a chunk every 100 ms: a body still
	// flowing when a toxic is added after the header.
	slowDown = down("bandwidth", map[string]int64{"rate": 64})
	// An upload through a 256 KB/s hop takes 4 s to reach the server, so
	// its rows wait that long for the header (and the guard is longer).
	uploadBounds = []timeouts.Option{timeouts.WithResponseHeader(8 * time.Second)}
)

// toxiRows is the matrix. The bounds of chain's clients are ToxiBounds:
// response header 500 ms, body idle 500 ms, write idle 1 s.
var toxiRows = []toxiRow{
	// Latency below the bounds is no fault.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("latency", map[string]int64{"latency": 100, "jitter": 20})}, Req: get64K},
		want: []string{"ok"}},
	// Latency above the header bound: a typed timeout, not a 2 s wait.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("latency", map[string]int64{"latency": 2000})}, Req: get64K},
		want: []string{"timeout/response_header"}},
	// 128 KB/s delivers a chunk every 100 ms: a body idle bound of 500 ms
	// must not cut it.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("bandwidth", map[string]int64{"rate": 128})}, Req: get256K},
		want: []string{"ok"}},
	// An upload at 256 KB/s keeps moving: a 1 s write-idle bound must not
	// fire (issue 11, item 8).
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{up("bandwidth", map[string]int64{"rate": 256})}, Req: put1M,
		Bounds: uploadBounds, Guard: 10 * time.Second},
		want: []string{"ok"}},
	// An upload through a hop that takes 1 KB/s stalls once the socket
	// buffers on the way are full (a few MiB on loopback): the write-idle
	// bound fires, not the header bound, and never a hang.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{up("bandwidth", map[string]int64{"rate": 1})}, Req: put16M},
		want: []string{"timeout/write_idle"}},
	// Nothing comes back and the connection stays open: net/http hangs,
	// chain reports the header timeout.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("timeout", map[string]int64{"timeout": 0})}, Req: get64K},
		want: []string{"timeout/response_header"}},
	// The stream stops after the header: body idle, not a hang.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{slowDown}, After: []bench.Toxic{down("timeout", map[string]int64{"timeout": 0})}, Req: get1M},
		want: []string{"timeout/body_idle"}},
	// The connection is reset as the response starts: reset (the standard
	// stack retries it, as a GET may be).
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("reset_peer", map[string]int64{"timeout": 0})}, Req: get64K},
		want: []string{"reset"}},
	// Reset in the middle of the body.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{slowDown}, After: []bench.Toxic{down("reset_peer", map[string]int64{"timeout": 0})}, Req: get1M},
		want: []string{"reset"}},
	// Tiny TCP segments: no fault.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("slicer", map[string]int64{"average_size": 64, "size_variation": 32, "delay": 50})}, Req: get64K},
		want: []string{"ok"}},
	// The connection closes inside the response header.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("limit_data", map[string]int64{"bytes": 100})}, Req: get64K},
		want: []string{"reset"}},
	// The connection closes inside the body: a truncated body is never a
	// success.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{down("limit_data", map[string]int64{"bytes": 32 << 10})}, Req: get256K},
		want: []string{"reset"}},
	// The connection closes inside the request body.
	{ToxiCase: bench.ToxiCase{Toxics: []bench.Toxic{up("limit_data", map[string]int64{"bytes": 16 << 10})}, Req: put1M},
		want: []string{"reset"}},
}

// TestToxiMatrix runs every row of the fault matrix through toxiproxy with
// plain net/http, chain's timeouts layer and the standard stack, prints the
// table, and checks what chain reports (net/http is shown, not checked).
func TestToxiMatrix(t *testing.T) {
	p := bench.NewToxiProxy()
	defer p.Close()
	var table strings.Builder
	fmt.Fprintf(&table, "| toxic | request | %s | correct chain |\n|---|---|", strings.Join(clientNames(), " | "))
	table.WriteString(strings.Repeat("---|", len(bench.ToxiClients)) + "---|\n")
	for _, row := range toxiRows {
		fmt.Fprintf(&table, "| %s | %s |", row.Name(), row.Req)
		for _, c := range bench.ToxiClients {
			cell := p.Run(c, row.ToxiCase)
			fmt.Fprintf(&table, " %s |", cell)
			if c.Name == "net/http" || slices.Contains(row.want, cell.Outcome) {
				continue
			}
			t.Errorf("%s, %s, %s: reported %s (%v), a correct stack reports %v", row.Name(), row.Req, c.Name, cell.Outcome, cell.Err, row.want)
		}
		fmt.Fprintf(&table, " %s |\n", strings.Join(row.want, ", "))
	}
	t.Logf("fault matrix (chain bounds: header 500ms, body idle 500ms, write idle 1s; guard %v):\n%s", bench.DefaultToxiGuard, table.String())
}

func clientNames() []string {
	var names []string
	for _, c := range bench.ToxiClients {
		names = append(names, c.Name)
	}
	return names
}
