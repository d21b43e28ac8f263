package errclass_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

func TestRealH2StreamReset(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // HTTP/2: RST_STREAM with INTERNAL_ERROR
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := srv.Client()
	t.Cleanup(c.CloseIdleConnections)
	err := get(t, c, srv.URL)
	check(t, err, errclass.Reset, errclass.PhaseNone, false)
	if !strings.Contains(err.Error(), "INTERNAL_ERROR") {
		t.Errorf("want an HTTP/2 stream error, got %v", err)
	}
}

// HTTP/2 frame types and codes used by the scripted server (RFC 9113).
const (
	frameHeaders   = 0x1
	frameRSTStream = 0x3
	frameSettings  = 0x4
	frameGoAway    = 0x7
	flagAck        = 0x1
	codeNoError    = 0x0
	codeRefused    = 0x7
)

func writeFrame(w io.Writer, typ, flags byte, stream uint32, payload []byte) error {
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream)
	_, err := w.Write(append(hdr, payload...))
	return err
}

func u32(vs ...uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// newH2Server starts a scripted HTTP/2 server on loopback: it speaks just
// enough HTTP/2 (preface, SETTINGS) to let a client open streams, and calls
// onHeaders for each new stream; onHeaders returns false to close the
// connection. It returns the server's address and the client's TLS config.
func newH2Server(t *testing.T, onHeaders func(c net.Conn, stream uint32) bool) (string, *tls.Config) {
	t.Helper()
	ca := newCA(t)
	now := time.Now()
	cfg := &tls.Config{
		Certificates: []tls.Certificate{ca.leaf(t, loopback, nil, now.Add(-time.Hour), now.Add(time.Hour))},
		NextProtos:   []string{"h2"},
	}
	srv := newRawServerOn(t, cfg, func(c net.Conn) {
		preface := make([]byte, len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		if writeFrame(c, frameSettings, 0, 0, nil) != nil {
			return
		}
		hdr := make([]byte, 9)
		for {
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
				return
			}
			typ, flags := hdr[3], hdr[4]
			stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
			switch {
			case typ == frameSettings && flags&flagAck == 0:
				if writeFrame(c, frameSettings, flagAck, 0, nil) != nil {
					return
				}
			case typ == frameHeaders:
				if !onHeaders(c, stream) {
					return
				}
			}
		}
	})
	return srv.addr(), &tls.Config{RootCAs: ca.pool()}
}

func h2Client(t *testing.T, cfg *tls.Config) *http.Client {
	t.Helper()
	return &http.Client{Transport: newTransport(t, func(tr *http.Transport) {
		tr.TLSClientConfig = cfg
		tr.ForceAttemptHTTP2 = true
	})}
}

// unreplayable is a request body without GetBody: net/http cannot resend
// it itself, so it reports what happened to the first attempt.
func unreplayable() io.Reader { return io.MultiReader(strings.NewReader("payload")) }

func TestRealH2RefusedStream(t *testing.T) {
	t.Parallel()
	addr, cfg := newH2Server(t, func(c net.Conn, stream uint32) bool {
		return writeFrame(c, frameRSTStream, 0, stream, u32(codeRefused)) == nil
	})

	t.Run("transport", func(t *testing.T) {
		c := h2Client(t, cfg)
		err := fetch(t, c, newRequest(t, t.Context(), http.MethodPost, "https://"+addr+"/", unreplayable()))
		check(t, err, errclass.Reset, errclass.PhaseNone, true)
	})
	t.Run("client conn", func(t *testing.T) {
		// A single connection does not retry: the typed stream error
		// reaches the caller.
		tr := newTransport(t, func(tr *http.Transport) {
			tr.TLSClientConfig = cfg
			tr.ForceAttemptHTTP2 = true
		})
		cc, err := tr.NewClientConn(t.Context(), "https", addr)
		if err != nil {
			t.Fatalf("NewClientConn: %v", err)
		}
		defer cc.Close()
		resp, err := cc.RoundTrip(newRequest(t, t.Context(), http.MethodGet, "https://"+addr+"/", nil))
		if resp != nil {
			resp.Body.Close()
		}
		check(t, err, errclass.Reset, errclass.PhaseNone, true)
		// The typed path: net/http's stream error fills a struct of the
		// same shape, as errclass's mirror does.
		var se h2StreamError
		if !errors.As(err, &se) || se.Code != codeRefused {
			t.Errorf("want a typed REFUSED_STREAM stream error, got %#v", se)
		}
	})
}

// h2StreamError has the shape of net/http's unexported HTTP/2 StreamError.
type h2StreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

func (h2StreamError) Error() string { return "stream error" }

func TestRealH2GoAway(t *testing.T) {
	t.Parallel()
	t.Run("stream not processed", func(t *testing.T) {
		addr, cfg := newH2Server(t, func(c net.Conn, stream uint32) bool {
			// Last stream id 0: no stream of this connection was processed.
			return writeFrame(c, frameGoAway, 0, 0, u32(0, codeNoError)) == nil
		})
		err := fetch(t, h2Client(t, cfg), newRequest(t, t.Context(), http.MethodPost, "https://"+addr+"/", unreplayable()))
		check(t, err, errclass.Reset, errclass.PhaseNone, true)
	})
	t.Run("stream maybe processed", func(t *testing.T) {
		addr, cfg := newH2Server(t, func(c net.Conn, stream uint32) bool {
			// The stream is at or below the last stream id, then the
			// connection closes without an answer.
			writeFrame(c, frameGoAway, 0, 0, u32(stream, codeNoError))
			return false
		})
		err := get(t, h2Client(t, cfg), "https://"+addr+"/")
		check(t, err, errclass.Reset, errclass.PhaseNone, false)
		if !strings.Contains(err.Error(), "GOAWAY") {
			t.Errorf("want a GOAWAY error, got %v", err)
		}
	})
}

func TestRealH2ResponseHeaderTimeout(t *testing.T) {
	t.Parallel()
	addr, cfg := newH2Server(t, func(c net.Conn, stream uint32) bool { return true })
	c := &http.Client{Transport: newTransport(t, func(tr *http.Transport) {
		tr.TLSClientConfig = cfg
		tr.ForceAttemptHTTP2 = true
		tr.ResponseHeaderTimeout = 100 * time.Millisecond
	})}
	err := get(t, c, "https://"+addr+"/")
	check(t, err, errclass.Timeout, errclass.PhaseResponseHeader, false)
}

func TestRealH2CancelDeadlineClientTimeout(t *testing.T) {
	t.Parallel()
	// The server opens streams and never answers them.
	streams := make(chan struct{}, 8)
	addr, cfg := newH2Server(t, func(c net.Conn, stream uint32) bool {
		streams <- struct{}{}
		return true
	})
	url := "https://" + addr + "/"

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-streams
			cancel()
		}()
		err := fetch(t, h2Client(t, cfg), newRequest(t, ctx, http.MethodGet, url, nil))
		check(t, err, errclass.Canceled, errclass.PhaseNone, false)
	})
	t.Run("deadline", func(t *testing.T) {
		c := h2Client(t, cfg)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond) // whenever it fires: a timeout
		defer cancel()
		err := fetch(t, c, newRequest(t, ctx, http.MethodGet, url, nil))
		if got := errclass.Classify(err); got != errclass.Timeout {
			t.Errorf("Classify = %v, want timeout (%v)", got, err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		c := h2Client(t, cfg)
		c.Timeout = 100 * time.Millisecond // whenever it fires: a timeout of the whole exchange
		err := get(t, c, url)
		check(t, err, errclass.Timeout, errclass.PhaseTotal, false)
	})
}
