package tlsrotate_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// cleartextSetup is a bubble with, besides its mutual-TLS server (also an
// https proxy, at 127.0.0.1:1), a cleartext server (also an http proxy)
// that every other address reaches, and a Transport whose template dials
// both and picks a proxy by the request's host.
type cleartextSetup struct {
	*bubble
	plain *transporttest.Server
	tr    *tlsrotate.Transport
	c     *http.Client
}

func newCleartextSetup(t *testing.T) *cleartextSetup {
	b := newBubble(t, false)
	plain := transporttest.NewUnstartedServer(transporttest.Reply{Body: "plain"})
	ml := transporttest.NewMemListener()
	plain.Listener = ml
	plain.Start()
	t.Cleanup(plain.Close)
	base := b.srv.base(b.ca)
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "127.0.0.1:1" {
			return b.srv.ml.DialContext(ctx, network, addr)
		}
		return ml.DialContext(ctx, network, addr)
	}
	base.Proxy = func(req *http.Request) (*url.URL, error) {
		switch req.URL.Host {
		case "via-http-proxy.test":
			return url.Parse("http://proxy.test")
		case "via-https-proxy.test":
			return url.Parse("https://127.0.0.1:1")
		}
		return nil, nil
	}
	tr := tlsrotate.New(base, b.src)
	t.Cleanup(tr.CloseIdleConnections)
	return &cleartextSetup{bubble: b, plain: plain, tr: tr, c: &http.Client{Transport: tr}}
}

// get does GET url and returns the body: "plain" from the cleartext server,
// the client certificate's serial from the mutual-TLS one.
func (s *cleartextSetup) get(t *testing.T, url string) string {
	t.Helper()
	resp, err := s.c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(b)
}

// A request without TLS carries no certificate: its keep-alive connection
// outlives rotations, directly or through an http proxy. Requests with TLS,
// directly or through an https proxy, still move to new connections that
// present the new certificate.
func TestCleartextConnectionsSurviveRotations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url string
		tls       bool
	}{
		{"http", "http://plain.test/", false},
		{"http via http proxy", "http://via-http-proxy.test/", false},
		{"https", memURL, true},
		{"http via https proxy", "http://via-https-proxy.test/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newCleartextSetup(t)
				for range 3 {
					got := s.get(t, tc.url)
					if tc.tls {
						assert.Equal(t, s.src.Current().Serial(), got, "the current certificate")
					} else {
						assert.Equal(t, "plain", got)
					}
					s.rotate()
				}
				if tc.tls {
					log := s.srv.requestLog()
					require.Len(t, log, 3)
					assert.NotEqual(t, log[0].Conn, log[1].Conn, "a new connection after a rotation")
					assert.NotEqual(t, log[1].Conn, log[2].Conn, "a new connection after a rotation")
					assert.Zero(t, s.plain.Stats().Requests)
					return
				}
				st := s.plain.Stats()
				assert.Equal(t, 3, st.Requests)
				assert.Equal(t, 1, st.Connections, "one keep-alive connection across the rotations")
				assert.Empty(t, s.srv.requestLog(), "no request reached the TLS server")
				assert.Empty(t, s.tr.LiveConnections(), "no generation was made for requests without TLS")

				s.tr.CloseIdleConnections()
				synctest.Wait()
				assert.Zero(t, s.plain.Stats().OpenConnections, "CloseIdleConnections closes them too")
			})
		})
	}
}

// A request without TLS keeps the RoundTripper contract: its body is
// closed on every path, and its errors match their class's sentinel.
func TestCleartextRequestContract(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := newCleartextSetup(t)
		for _, name := range []string{"success", "refused"} {
			if name == "refused" {
				s.plain.Close()
			}
			body := &closeCounter{Reader: strings.NewReader("payload")}
			req, err := http.NewRequest(http.MethodPost, "http://plain.test/", body)
			require.NoError(t, err)
			resp, err := s.tr.RoundTrip(req)
			if name == "success" {
				require.NoError(t, err)
				resp.Body.Close()
			} else {
				assert.Nil(t, resp)
				assert.ErrorIs(t, err, errclass.ErrNetwork)
				assert.Equal(t, errclass.Refused, errclass.Classify(err), "%v", err)
			}
			assert.EqualValues(t, 1, body.closes.Load(), "%s: request body closes", name)
		}
	})
}
