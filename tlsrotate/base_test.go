package tlsrotate_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
)

// Any *http.Transport works as the template, whether it would speak HTTP/2
// on its own (a zero Transport, a clone of DefaultTransport, one already used)
// or not (an empty TLSNextProto map turns HTTP/2 off), against a server that
// offers h2: the generations speak what they negotiate.
func TestTemplateTransports(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{h2: true})
	used := &http.Transport{}
	used.Clone() // runs the lazy HTTP/2 set-up, as a first request would
	for _, tc := range []struct {
		name  string
		base  *http.Transport
		proto string
	}{
		{"zero", &http.Transport{}, "HTTP/2.0"},
		{"default clone", http.DefaultTransport.(*http.Transport).Clone(), "HTTP/2.0"},
		{"already set up", used, "HTTP/2.0"},
		{"h2 off", &http.Transport{TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tlsrotate.New(tc.base, e.src)
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(e.srv.URL + "/")
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tc.proto, resp.Proto)
		})
	}
}
