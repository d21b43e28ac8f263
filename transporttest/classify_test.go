package transporttest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/transporttest"
)

// TestFailureShapesClassify checks that each fixture produces, in a plain
// net/http client, the failure its documentation promises, as errclass
// names it: the contract the other packages' tests build on.
func TestFailureShapesClassify(t *testing.T) {
	t.Parallel()
	type R = transporttest.Reply
	for _, tc := range []struct {
		name      string
		h         http.Handler
		mode      mode
		transport func(*http.Transport) // adjusts a clone of the server's client transport
		timeout   time.Duration         // of the request's context
		upload    bool
		class     errclass.Class
		phase     errclass.Phase
	}{
		{name: "SlowHeader", h: R{Delay: 2 * time.Second},
			transport: func(tr *http.Transport) { tr.ResponseHeaderTimeout = 100 * time.Millisecond },
			class:     errclass.Timeout, phase: errclass.PhaseResponseHeader},
		{name: "Stall", h: R{BodySize: 3, Fault: transporttest.Stall}, timeout: 100 * time.Millisecond, class: errclass.Timeout},
		{name: "ResetMidBody", h: R{BodySize: 3, Fault: transporttest.ResetMidBody}, class: errclass.Reset},
		{name: "Reset", h: reply(transporttest.Reset), class: errclass.Reset},
		{name: "EmptyReply", h: reply(transporttest.EmptyReply), class: errclass.Reset},
		{name: "MalformedChunked", h: reply(transporttest.MalformedChunked), class: errclass.Protocol},
		{name: "Raw", h: R{Raw: "HTTP/1.1 abc\r\n\r\n"}, class: errclass.Protocol},
		{name: "Blackhole", h: reply(transporttest.Blackhole), timeout: 100 * time.Millisecond, class: errclass.Timeout},
		{name: "Blackhole/TLS", h: reply(transporttest.Blackhole), mode: "tls",
			transport: func(tr *http.Transport) { tr.TLSHandshakeTimeout = 100 * time.Millisecond },
			class:     errclass.Timeout, phase: errclass.PhaseTLSHandshake},
		{name: "NoRead", h: reply(transporttest.NoRead), upload: true, timeout: 100 * time.Millisecond, class: errclass.Timeout},
		{name: "h2/ResetMidBody", h: R{BodySize: 3, Fault: transporttest.ResetMidBody}, mode: "h2", class: errclass.Reset},
		{name: "h2/EmptyReply", h: reply(transporttest.EmptyReply), mode: "h2", class: errclass.Reset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(tc.h, tc.mode)
			t.Cleanup(srv.Close)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			t.Cleanup(tr.CloseIdleConnections)
			if tc.transport != nil {
				tc.transport(tr)
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			var body io.Reader
			if tc.upload {
				body = strings.NewReader(strings.Repeat("x", 32<<20))
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, body)
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			require.Error(t, err)
			assert.Equal(t, tc.class, errclass.Classify(err), "class of %v", err)
			if tc.phase != errclass.PhaseNone {
				assert.Equal(t, tc.phase, errclass.PhaseOf(err), "phase of %v", err)
			}
		})
	}
	t.Run("DeadAddr", func(t *testing.T) {
		_, _, err := get(t, newClient(t), "http://"+transporttest.DeadAddr(), 5*time.Second)
		assert.Equal(t, errclass.Refused, errclass.Classify(err), "class of %v", err)
	})
}
