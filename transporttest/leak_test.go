package transporttest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/transporttest"
)

// TestCloseLeavesNoGoroutine checks, fixture by fixture, that after a
// request the fixture stalls or fails and a Close, no goroutine of the
// server (or of the client, whose connections the server closed) is left.
// The request ends once the server has its request (a black hole: its
// connection) and a moment has passed.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	type R = transporttest.Reply
	for _, tc := range []struct {
		name    string
		h       http.Handler
		mode    mode
		goAway  int
		upgrade bool
		conn    bool // the fixture takes the connection: it sees no request
	}{
		{name: "Endless", h: R{BodySize: -1}},
		{name: "SlowHeader", h: R{Delay: time.Hour}},
		{name: "Trickle", h: R{BodySize: 2, Trickle: time.Hour}},
		{name: "Stall", h: R{BodySize: 1, Fault: transporttest.Stall}},
		{name: "ResetMidBody", h: R{BodySize: 1, Fault: transporttest.ResetMidBody}},
		{name: "Reset", h: reply(transporttest.Reset)},
		{name: "EmptyReply", h: reply(transporttest.EmptyReply)},
		{name: "MalformedChunked", h: reply(transporttest.MalformedChunked)},
		{name: "Raw", h: R{Raw: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab"}},
		{name: "StaleKeepAlive", h: reply(transporttest.StaleKeepAlive)},
		{name: "Blackhole", h: reply(transporttest.Blackhole), conn: true},
		{name: "Blackhole/inSequence", h: transporttest.Sequence(reply(transporttest.Blackhole))},
		{name: "NoRead", h: reply(transporttest.NoRead)},
		{name: "SlowReader", h: R{ReadChunk: 1, ReadEvery: time.Hour}},
		{name: "AnswerBeforeBody", h: R{Status: 503, Fault: transporttest.AnswerBeforeBody}},
		{name: "UpgradeEcho", h: R{Status: http.StatusSwitchingProtocols}, upgrade: true},
		{name: "h2", h: R{}, mode: "h2"},
		{name: "h2/GoAway", h: R{}, mode: "h2", goAway: 1},
		{name: "h2/Stall", h: R{BodySize: 1, Fault: transporttest.Stall}, mode: "h2"},
		{name: "h2/Blackhole/inSequence", h: transporttest.Sequence(reply(transporttest.Blackhole)), mode: "h2"},
		{name: "tls/Blackhole", h: reply(transporttest.Blackhole), mode: "tls", conn: true},
		{name: "mem/Stall", h: R{BodySize: 1, Fault: transporttest.Stall}, mode: "mem"},
		{name: "mem/NoRead", h: reply(transporttest.NoRead), mode: "mem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			srv := transporttest.NewUnstartedServer(tc.h)
			srv.GoAwayAfter = tc.goAway
			srv = startIn(srv, tc.mode)
			client := srv.Client()
			ctx, cancel := transporttest.DeadlineWhen(func() bool {
				s := srv.Stats()
				return s.Requests > 0 || tc.conn && s.Connections > 0
			})
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(strings.Repeat("x", 1<<20)))
			if tc.upgrade {
				req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "echo")
			}
			if resp, err := client.Do(req); err == nil {
				if resp.StatusCode != http.StatusSwitchingProtocols { // an upgraded body never ends
					io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
			}
			srv.Close()
		})
	}
}
