package transporttest_test

import (
	"context"
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
func TestCloseLeavesNoGoroutine(t *testing.T) {
	h2 := func(s *transporttest.Server) *transporttest.Server {
		s.EnableHTTP2 = true
		s.StartTLS()
		return s
	}
	mem := func(s *transporttest.Server) *transporttest.Server {
		s.Listener = transporttest.NewMemListener()
		s.Start()
		return s
	}
	for name, newSrv := range map[string]func() *transporttest.Server{
		"Sequence":         func() *transporttest.Server { return transporttest.NewSequence(transporttest.Reply{BodySize: -1}) },
		"SlowHeader":       func() *transporttest.Server { return transporttest.NewSlowHeader(time.Hour) },
		"Trickle":          func() *transporttest.Server { return transporttest.NewTrickle(time.Hour, 2) },
		"Stall":            func() *transporttest.Server { return transporttest.NewStall(1) },
		"ResetMidBody":     func() *transporttest.Server { return transporttest.NewResetMidBody(1) },
		"Reset":            transporttest.NewReset,
		"EmptyReply":       transporttest.NewEmptyReply,
		"MalformedChunked": transporttest.NewMalformedChunked,
		"StaleKeepAlive":   transporttest.NewStaleKeepAlive,
		"Blackhole":        transporttest.NewBlackhole,
		"NoRead":           transporttest.NewNoRead,
		"SlowReader":       func() *transporttest.Server { return transporttest.NewSlowReader(1, time.Hour) },
		"AnswerBeforeBody": func() *transporttest.Server { return transporttest.NewAnswerBeforeBody(503) },
		"UpgradeEcho":      transporttest.NewUpgradeEcho,
		"HTTP2":            func() *transporttest.Server { return transporttest.NewHTTP2() },
		"GoAway":           func() *transporttest.Server { return transporttest.NewGoAway(1) },
		"h2/Stall":         func() *transporttest.Server { return h2(transporttest.NewUnstartedStall(1)) },
		"mem/Stall":        func() *transporttest.Server { return mem(transporttest.NewUnstartedStall(1)) },
		"mem/NoRead":       func() *transporttest.Server { return mem(transporttest.NewUnstartedNoRead()) },
	} {
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			srv := newSrv()
			client := srv.Client()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(strings.Repeat("x", 1<<20)))
			if name == "UpgradeEcho" {
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
