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
	h2 := func(s *transporttest.Server) *transporttest.Server {
		s.EnableHTTP2 = true
		s.StartTLS()
		return s
	}
	for _, tc := range []struct {
		name      string
		srv       func() *transporttest.Server
		transport func(*http.Transport) // adjusts a clone of the server's client transport
		timeout   time.Duration         // of the request's context
		upload    bool
		class     errclass.Class
		phase     errclass.Phase
	}{
		{name: "SlowHeader", srv: func() *transporttest.Server { return transporttest.NewSlowHeader(2 * time.Second) },
			transport: func(tr *http.Transport) { tr.ResponseHeaderTimeout = 100 * time.Millisecond },
			class:     errclass.Timeout, phase: errclass.PhaseResponseHeader},
		{name: "Stall", srv: func() *transporttest.Server { return transporttest.NewStall(3) },
			timeout: 100 * time.Millisecond, class: errclass.Timeout},
		{name: "ResetMidBody", srv: func() *transporttest.Server { return transporttest.NewResetMidBody(3) }, class: errclass.Reset},
		{name: "Reset", srv: transporttest.NewReset, class: errclass.Reset},
		{name: "EmptyReply", srv: transporttest.NewEmptyReply, class: errclass.Reset},
		{name: "MalformedChunked", srv: transporttest.NewMalformedChunked, class: errclass.Protocol},
		{name: "RawReply", srv: func() *transporttest.Server { return transporttest.NewRawReply("HTTP/1.1 abc\r\n\r\n") }, class: errclass.Protocol},
		{name: "Blackhole", srv: transporttest.NewBlackhole, timeout: 100 * time.Millisecond, class: errclass.Timeout},
		{name: "Blackhole/TLS", srv: func() *transporttest.Server {
			s := transporttest.NewUnstartedBlackhole()
			s.StartTLS()
			return s
		},
			transport: func(tr *http.Transport) { tr.TLSHandshakeTimeout = 100 * time.Millisecond },
			class:     errclass.Timeout, phase: errclass.PhaseTLSHandshake},
		{name: "NoRead", srv: transporttest.NewNoRead, upload: true, timeout: 100 * time.Millisecond, class: errclass.Timeout},
		{name: "h2/ResetMidBody", srv: func() *transporttest.Server { return h2(transporttest.NewUnstartedResetMidBody(3)) }, class: errclass.Reset},
		{name: "h2/EmptyReply", srv: func() *transporttest.Server { return h2(transporttest.NewUnstartedEmptyReply()) }, class: errclass.Reset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.srv()
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
