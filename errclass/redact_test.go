package errclass_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

// secrets planted in the URL of the requests below: user, percent-encoded
// password (p@ss/SECRETP), a long and a 3-character query value.
const (
	secretURL = "http://user-SECRETU:p%40ss%2FSECRETP@127.0.0.1:1/p?token=SECRETQ&k=Zq7"
	password  = "p@ss/SECRETP"
)

var planted = []string{"SECRETU", "SECRETP", "SECRETQ", "Zq7", "p%40ss", "p@ss"}

func TestRedact(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(secretURL)
	if err != nil {
		t.Fatal(err)
	}
	refused := opErr("dial", syscallErr("connect", syscall.ECONNREFUSED))
	// A refused connection through http.Client: net/http prints the URL,
	// user and query values included (only the password is masked).
	_, clientErr := (&http.Client{Transport: newTransport(t, nil)}).Get(secretURL)
	if clientErr == nil {
		t.Fatal("a request to port 1 succeeded")
	}
	tests := []struct {
		name  string
		err   error
		cause error // errors.Is must still reach it
	}{
		{"http.Client", clientErr, syscall.ECONNREFUSED},
		{"layer text", fmt.Errorf("proxy said no to %s with password %s (encoded %s) and k=Zq7, value \"Zq7\": %w",
			u, password, url.QueryEscape(password), refused), syscall.ECONNREFUSED},
		{"url in text", fmt.Errorf("fetch %s: %w", u.String(), context.DeadlineExceeded), context.DeadlineExceeded},
		{"url.Error", &url.Error{Op: "Get", URL: secretURL, Err: fmt.Errorf("token SECRETQ refused: %w", io.ErrUnexpectedEOF)}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := errclass.Redact(tt.err)
			text := r.Error()
			for _, s := range planted {
				if strings.Contains(text, s) {
					t.Errorf("secret %q in %q", s, text)
				}
			}
			if !strings.Contains(text, "REDACTED") {
				t.Errorf("nothing redacted in %q", text)
			}
			if got, want := errclass.Classify(r), errclass.Classify(tt.err); got != want {
				t.Errorf("class %v, want %v", got, want)
			}
			if got, want := errclass.PhaseOf(r), errclass.PhaseOf(tt.err); got != want {
				t.Errorf("phase %q, want %q", got, want)
			}
			if got, want := errclass.Neutral(r), errclass.Neutral(tt.err); got != want {
				t.Errorf("neutral %v, want %v", got, want)
			}
			if s := errclass.Classify(tt.err).Sentinel(); s != nil && !errors.Is(r, s) {
				t.Errorf("errors.Is(Redact(err), %v) = false", s)
			}
			if !errors.Is(r, tt.cause) {
				t.Errorf("errors.Is(Redact(err), %v) = false", tt.cause)
			}
			var ue *url.Error
			if errors.As(r, &ue) {
				t.Error("errors.As reaches the *url.Error and its URL")
			}
			type timeouter interface{ Timeout() bool }
			var want timeouter
			if errors.As(tt.err, &want) {
				if got := r.(timeouter).Timeout(); got != want.Timeout() {
					t.Errorf("Timeout() = %v, want %v", got, want.Timeout())
				}
			}
			if errclass.Redact(r) != r {
				t.Error("Redact of a redacted error made a new one")
			}
		})
	}
	if errclass.Redact(nil) != nil {
		t.Error("Redact(nil) != nil")
	}
	plain := errors.New("nothing secret at 10.0.0.1:8080")
	if got := errclass.Redact(plain).Error(); got != plain.Error() {
		t.Errorf("a text without secrets changed: %q", got)
	}
}

// nginx's pages for a rejected client certificate (495) and a missing one
// (496), both sent with status 400 (nginx 1.22).
const (
	nginx495 = "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n" +
		"<center><h1>400 Bad Request</h1></center>\r\n<center>The SSL certificate error</center>\r\n" +
		"<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
	nginx496 = "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n" +
		"<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent</center>\r\n" +
		"<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
)

// newNginxLike starts an HTTPS server that behaves as nginx with
// ssl_verify_client on: the handshake succeeds whatever the client
// certificate, then a missing certificate gets the 496 page and one that
// does not chain to clientCA the 495 page, both with status 400.
func newNginxLike(t *testing.T, ca, clientCA *testCA) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := ""
		switch certs := r.TLS.PeerCertificates; {
		case len(certs) == 0:
			page = nginx496
		default:
			if _, err := certs[0].Verify(x509.VerifyOptions{Roots: clientCA.pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				page = nginx495
			}
		}
		if page == "" {
			io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Server", "nginx/1.22.1")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, page)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.leaf(t, loopback, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))},
		ClientAuth:   tls.RequestClientCert,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestFromResponseClientCertificateRejected(t *testing.T) {
	t.Parallel()
	ca, clientCA, otherCA := newCA(t), newCA(t), newCA(t)
	srv := newNginxLike(t, ca, clientCA)
	client := func(cert *tls.Certificate) *http.Client {
		cfg := &tls.Config{RootCAs: ca.pool()}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return tlsClient(t, cfg)
	}
	good := clientCA.leaf(t, nil, []string{"client"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	bad := otherCA.leaf(t, nil, []string{"client"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	tests := []struct {
		name     string
		cert     *tls.Certificate
		rejected bool
		why      string
	}{
		{"no certificate", nil, true, "No required SSL certificate was sent"},
		{"unknown issuer", &bad, true, "The SSL certificate error"},
		{"accepted", &good, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client(tt.cert).Get(srv.URL + "/api?key=SECRETQ")
			if err != nil {
				t.Fatalf("the handshake failed: %v (nginx completes it)", err)
			}
			if got := errclass.ClassifyResponse(resp, nil); got != errclass.Status && tt.rejected {
				t.Errorf("ClassifyResponse = %v, want status", got)
			}
			ferr := errclass.FromResponse(resp, nil)
			if !tt.rejected {
				if ferr != nil {
					t.Fatalf("FromResponse = %v, want nil", ferr)
				}
				resp.Body.Close()
				return
			}
			var se *errclass.StatusError
			if !errors.As(ferr, &se) {
				t.Fatalf("FromResponse = %T, want *StatusError", ferr)
			}
			if !se.CertificateRejected() {
				t.Error("CertificateRejected() = false")
			}
			want := "errclass: GET " + srv.URL + "/api?key=REDACTED: 400 Bad Request: the server rejected the client certificate (" + tt.why + ")"
			if ferr.Error() != want {
				t.Errorf("text\n%q, want\n%q", ferr.Error(), want)
			}
			if errclass.Classify(ferr) != errclass.Status || !errors.Is(ferr, errclass.ErrHTTPStatus) {
				t.Error("the class is not status")
			}
		})
	}
}

func TestStatusErrorCertificateCodes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  *errclass.StatusError
		want bool
	}{
		{&errclass.StatusError{StatusCode: 495}, true},
		{&errclass.StatusError{StatusCode: 496}, true},
		{&errclass.StatusError{StatusCode: 400, Body: []byte("bad json")}, false},
		{&errclass.StatusError{StatusCode: 403, Body: []byte(nginx495)}, false},
	} {
		if got := tt.err.CertificateRejected(); got != tt.want {
			t.Errorf("%d %q: CertificateRejected() = %v, want %v", tt.err.StatusCode, tt.err.Body, got, tt.want)
		}
		if got := strings.Contains(tt.err.Error(), "rejected the client certificate"); got != tt.want {
			t.Errorf("%d: text %q", tt.err.StatusCode, tt.err.Error())
		}
	}
}
