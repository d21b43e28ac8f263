package errclass_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

// These tests produce each failure for real over loopback and check what
// Classify, PhaseOf and Unsent make of the error net/http returns.

func TestRealRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &http.Client{Transport: newTransport(t, nil)}
	err = get(t, c, "http://"+addr+"/")
	check(t, err, errclass.Refused, errclass.PhaseNone, true)
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("want a dial *net.OpError in the chain, got %T", err)
	}
}

func TestRealDialTimeout(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, hold)
	c := &http.Client{Transport: newTransport(t, func(tr *http.Transport) {
		// A bound that has passed before the dial starts: a real dial
		// timeout, without needing an address that never answers.
		tr.DialContext = (&net.Dialer{Timeout: time.Nanosecond}).DialContext
	})}
	err := get(t, c, "http://"+srv.addr()+"/")
	check(t, err, errclass.Timeout, errclass.PhaseConnect, true)
}

func TestRealReset(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(c net.Conn) {
		if readRequest(c) {
			c.(*net.TCPConn).SetLinger(0) // Close sends RST
		}
	})
	c := &http.Client{Transport: newTransport(t, nil)}
	err := get(t, c, "http://"+srv.addr()+"/")
	check(t, err, errclass.Reset, errclass.PhaseNone, false)
}

func TestRealEOFBeforeResponse(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(c net.Conn) { readRequest(c) })
	c := &http.Client{Transport: newTransport(t, nil)}
	err := get(t, c, "http://"+srv.addr()+"/")
	check(t, err, errclass.Reset, errclass.PhaseNone, false)
	if !errors.Is(err, io.EOF) {
		t.Errorf("want io.EOF in the chain: %v", err)
	}
}

func TestRealEOFMidBody(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(c net.Conn) {
		if readRequest(c) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
		}
	})
	c := &http.Client{Transport: newTransport(t, nil)}
	err := get(t, c, "http://"+srv.addr()+"/")
	check(t, err, errclass.Reset, errclass.PhaseNone, false)
}

func TestRealMalformedResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply string
	}{
		{"status line", "garbage\r\n\r\n"},
		{"status code", "HTTP/1.1 2x0 OK\r\n\r\n"},
		{"header line", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"},
		{"content length", "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"},
		{"chunk length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, tt.reply)
					hold(c)
				}
			})
			c := &http.Client{Transport: newTransport(t, nil)}
			err := get(t, c, "http://"+srv.addr()+"/")
			check(t, err, errclass.Protocol, errclass.PhaseNone, false)
		})
	}
}

func TestRealResponseHeaderTimeout(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, hold)
	c := &http.Client{Transport: newTransport(t, func(tr *http.Transport) {
		tr.ResponseHeaderTimeout = 100 * time.Millisecond
	})}
	start := time.Now()
	err := get(t, c, "http://"+srv.addr()+"/")
	check(t, err, errclass.Timeout, errclass.PhaseResponseHeader, false)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want the 100ms bound to fire well before 5s", d)
	}
}

func TestRealTLSHandshakeTimeout(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, hold) // accepts TCP, never answers the ClientHello
	c := &http.Client{Transport: newTransport(t, func(tr *http.Transport) {
		tr.TLSHandshakeTimeout = 100 * time.Millisecond
	})}
	err := get(t, c, "https://"+srv.addr()+"/")
	check(t, err, errclass.Timeout, errclass.PhaseTLSHandshake, true)
}

func TestRealClientTimeout(t *testing.T) {
	t.Parallel()
	t.Run("awaiting headers", func(t *testing.T) {
		srv := newRawServer(t, hold)
		c := &http.Client{Transport: newTransport(t, nil), Timeout: 100 * time.Millisecond}
		err := get(t, c, "http://"+srv.addr()+"/")
		check(t, err, errclass.Timeout, errclass.PhaseTotal, false)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("want context.DeadlineExceeded in the chain: %v", err)
		}
	})
	t.Run("reading body", func(t *testing.T) {
		srv := newRawServer(t, func(c net.Conn) {
			if readRequest(c) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
				hold(c)
			}
		})
		c := &http.Client{Transport: newTransport(t, nil), Timeout: 100 * time.Millisecond}
		err := get(t, c, "http://"+srv.addr()+"/")
		check(t, err, errclass.Timeout, errclass.PhaseTotal, false)
	})
}

func TestRealCancelVersusDeadline(t *testing.T) {
	t.Parallel()
	// The server answers /ok and holds /hold after telling the test it has
	// read it. A first request to /ok makes the connection, so that the
	// cancel or deadline cannot fire while dialing.
	held := make(chan struct{}, 4)
	srv := newRawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.URL.Path != "/ok" {
				held <- struct{}{}
				hold(c)
				return
			}
			io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		}
	})
	connect := func(t *testing.T) *http.Client {
		c := &http.Client{Transport: newTransport(t, nil)}
		if err := get(t, c, "http://"+srv.addr()+"/ok"); err != nil {
			t.Fatalf("warm-up request: %v", err)
		}
		return c
	}

	t.Run("cancel", func(t *testing.T) {
		c := connect(t)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-held
			cancel()
		}()
		err := fetch(t, c, newRequest(t, ctx, http.MethodGet, "http://"+srv.addr()+"/hold", nil))
		check(t, err, errclass.Canceled, errclass.PhaseNone, false)
	})
	t.Run("cancel before dial", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		c := &http.Client{Transport: newTransport(t, nil)}
		err := fetch(t, c, newRequest(t, ctx, http.MethodGet, "http://"+srv.addr()+"/hold", nil))
		if got := errclass.Classify(err); got != errclass.Canceled {
			t.Errorf("Classify = %v, want canceled (%v)", got, err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		c := connect(t)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := fetch(t, c, newRequest(t, ctx, http.MethodGet, "http://"+srv.addr()+"/hold", nil))
		check(t, err, errclass.Timeout, errclass.PhaseNone, false)
	})
}

func TestRealUnknown(t *testing.T) {
	t.Parallel()
	c := &http.Client{Transport: newTransport(t, nil)}
	tests := []struct{ name, url string }{
		{"bad scheme", "ftp://127.0.0.1/"},
		{"no host", "http:///path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := get(t, c, tt.url)
			check(t, err, errclass.Unknown, errclass.PhaseNone, false)
		})
	}
	t.Run("invalid header", func(t *testing.T) {
		req := newRequest(t, t.Context(), http.MethodGet, "http://127.0.0.1:1/", nil)
		req.Header.Set("X-Bad", "a\nb")
		err := fetch(t, c, req)
		check(t, err, errclass.Unknown, errclass.PhaseNone, false)
		if !strings.Contains(err.Error(), "invalid header") {
			t.Errorf("unexpected error %v", err)
		}
	})
}
