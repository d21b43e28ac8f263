package transporttest

// Tests of the deprecated names of compat.go; deleted with it.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compatGet does one POST of "body" to srv and returns the status (0 on
// error), the body read and the error. A fixture that stalls after sending
// status and want (status 0: before answering) has its request ended by a
// deadline once it got there; others have 10 s.
func compatGet(t *testing.T, srv *Server, stalls bool, status int, want string) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	var answered atomic.Bool
	var read atomic.Int64
	if stalls {
		ctx, cancel = DeadlineWhen(func() bool {
			return srv.Connections() > 0 && (status == 0 || answered.Load() && read.Load() >= int64(len(want)))
		})
	}
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("body"))
	tr := srv.Client().Transport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	answered.Store(true)
	b, err := io.ReadAll(readCounter{resp.Body, &read})
	return resp.StatusCode, string(b), err
}

// readCounter counts the bytes read through it in n.
type readCounter struct {
	r io.Reader
	n *atomic.Int64
}

func (c readCounter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(int64(k))
	return k, err
}

func TestCompatConstructors(t *testing.T) {
	timeout := func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
	reset := func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
	eof := func(err error) bool { return errors.Is(err, io.EOF) }
	failed := func(err error) bool { return err != nil }
	for _, tc := range []struct {
		name    string
		srv     *Server
		status  int
		body    string
		errWant func(error) bool
	}{
		{"Sequence", NewSequence(Reply{Status: 503, Body: "x"}), 503, "x", nil},
		{"UnstartedSequence", started(NewUnstartedSequence()), 200, "", nil},
		{"SlowHeader", NewSlowHeader(time.Millisecond), 200, "slow\n", nil},
		{"SlowHeader/long", NewSlowHeader(time.Hour), 0, "", timeout},
		{"Trickle", NewTrickle(time.Millisecond, 3), 200, "abc", nil},
		{"Stall", NewStall(2), 200, "ab", timeout},
		{"ResetMidBody", NewResetMidBody(2), 200, "ab", reset},
		{"EmptyReply", NewEmptyReply(), 0, "", eof},
		{"Reset", NewReset(), 0, "", reset},
		{"RawReply", NewRawReply("HTTP/1.1 204 No Content\r\n\r\n"), 204, "", nil},
		{"MalformedChunked", NewMalformedChunked(), 200, "hello", failed},
		{"StaleKeepAlive", NewStaleKeepAlive(), 200, "ok", nil},
		{"Blackhole", NewBlackhole(), 0, "", timeout},
		{"NoRead", NewNoRead(), 0, "", timeout},
		{"SlowReader", NewSlowReader(2, time.Millisecond), 200, "ok", nil},
		{"AnswerBeforeBody", NewAnswerBeforeBody(413), 413, "Request Entity Too Large", nil},
		{"UpgradeEcho", NewUpgradeEcho(), 400, "transporttest: expected an HTTP/1.1 Upgrade request\n", nil},
		{"HTTP2", NewHTTP2(Reply{Body: "h2"}), 200, "h2", nil},
		{"GoAway", NewGoAway(1, Reply{Body: "g"}), 200, "g", nil},
		{"UnstartedGoAway", started(NewUnstartedGoAway(1)), 200, "", nil},
		{"UnstartedStall", started(NewUnstartedStall(0)), 200, "", timeout},
		{"UnstartedBlackhole", started(NewUnstartedBlackhole()), 0, "", timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.srv.Close()
			// A case that wants a timeout, and not just any error, stalls.
			stalls := tc.errWant != nil && tc.errWant(context.DeadlineExceeded) && !tc.errWant(io.ErrUnexpectedEOF)
			status, body, err := compatGet(t, tc.srv, stalls, tc.status, tc.body)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.body, body)
			if tc.errWant == nil {
				assert.NoError(t, err)
			} else {
				assert.True(t, tc.errWant(err), "unexpected error %v", err)
			}
		})
	}
	assert.PanicsWithValue(t, "transporttest: NewSlowReader: chunk must be at least 1", func() { NewSlowReader(0, time.Millisecond) })
	assert.PanicsWithValue(t, "transporttest: NewGoAway: afterRequests must be at least 1", func() { NewGoAway(0) })
}

func TestCompatServerMethods(t *testing.T) {
	var ids []int
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids = append(ids, ConnID(r))
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		default:
		}
	}))
	defer srv.Close()
	assert.Equal(t, srv.Listener.Addr().String(), srv.Addr())
	for range 2 {
		_, _, err := compatGet(t, srv, false, 200, "")
		require.NoError(t, err)
	}
	assert.Equal(t, []int{1, 2}, ids, "compatGet uses a new transport each time")
	assert.Equal(t, 2, srv.Requests())
	assert.Equal(t, 2, srv.Connections())
	assert.Equal(t, int64(8), srv.BodyBytes())
	require.Eventually(t, func() bool { return srv.OpenConnections() == 0 }, 5*time.Second, 5*time.Millisecond)
	srv.CloseConnections()
	done := srv.Done()
	srv.Close()
	<-done
	assert.Empty(t, NewUnstartedSequence().Addr())
}

func TestCompatTLSServer(t *testing.T) {
	ca, ca2 := NewCA("ca"), NewCA("ca2")
	s := NewUnstartedTLSServer(ca, nil)
	s.EnableHTTP2 = true
	s.Start()
	defer s.Close()
	assert.Equal(t, s.srv.Listener.Addr().String(), s.Addr())
	p := ca.IssueClient("c", time.Hour)
	c := s.Client(p)
	defer c.CloseIdleConnections()
	resp, err := c.Get(s.URL + "/x")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, p.Serial(), string(b), "the default handler answers the client's serial")
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, TLSRequest{Serial: p.Serial(), Proto: "HTTP/2.0", Conn: 1, Path: "/x", At: reqs[0].At}, reqs[0])
	require.Len(t, s.Handshakes(), 1)
	assert.Equal(t, p.Serial(), s.Handshakes()[0].Serial)
	assert.Equal(t, map[string]int{p.Serial(): 1}, s.LiveConns())

	s.SetClientCAs(ca2)
	s.CloseClientConnections()
	c.CloseIdleConnections()
	_, err = c.Get(s.URL)
	require.Error(t, err, "ca's clients are refused once only ca2 is accepted")

	next := ca2.IssueServer()
	s.SetCertificate(next)
	assert.Same(t, next, s.Certificate())
	assert.Equal(t, "ca2", s.srv.Certificate().Issuer.CommonName)
}
