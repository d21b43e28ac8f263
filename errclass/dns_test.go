package errclass_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

// dnsRcode is how the fake DNS server answers every query.
type dnsRcode int

const (
	answerNXDOMAIN dnsRcode = 3  // name error: the name does not exist
	answerSERVFAIL dnsRcode = 2  // server failure: try again later
	neverAnswer    dnsRcode = -1 // read the query, say nothing
)

// newFakeDNS starts a UDP DNS server on 127.0.0.1 that answers every query
// with rcode (or never); it stops at the end of the test. It returns its
// address.
func newFakeDNS(t *testing.T, rcode dnsRcode) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if rcode == neverAnswer {
				continue
			}
			if reply := dnsReply(buf[:n], int(rcode)); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

// dnsReply builds the answer to query with the given rcode and no records:
// the query's id and question, QR and RA set, RD copied (RFC 1035, 4.1).
func dnsReply(query []byte, rcode int) []byte {
	if len(query) < 12 {
		return nil
	}
	// The question: a name (labels up to a zero byte), type and class.
	end := 12
	for end < len(query) && query[end] != 0 {
		end += int(query[end]) + 1
	}
	end += 1 + 4
	if end > len(query) {
		return nil
	}
	reply := make([]byte, 12, end)
	copy(reply[0:2], query[0:2])                          // id
	flags := uint16(0x8000) | uint16(0x0080)              // QR, RA
	flags |= binary.BigEndian.Uint16(query[2:4]) & 0x0100 // RD
	flags |= uint16(rcode)
	binary.BigEndian.PutUint16(reply[2:4], flags)
	binary.BigEndian.PutUint16(reply[4:6], 1) // one question, no records
	return append(reply, query[12:end]...)
}

// dnsClient returns a client whose transport resolves names through a
// pure-Go resolver that dials dial instead of the system's servers, and
// whose dial (DNS included) is bounded by dialTimeout.
func dnsClient(t *testing.T, dial func(ctx context.Context, network, address string) (net.Conn, error), dialTimeout time.Duration) *http.Client {
	t.Helper()
	r := &net.Resolver{PreferGo: true, Dial: dial}
	d := &net.Dialer{Resolver: r, Timeout: dialTimeout}
	return &http.Client{Transport: newTransport(t, func(tr *http.Transport) { tr.DialContext = d.DialContext })}
}

// dialTo returns a resolver Dial that always reaches addr over UDP. The
// connections are closed at the end of the test: a lookup abandoned by its
// caller keeps reading until the resolver's own timeout otherwise.
func dialTo(t *testing.T, addr string) func(ctx context.Context, network, address string) (net.Conn, error) {
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
}

func TestRealDNS(t *testing.T) {
	t.Parallel()
	// Absolute names (trailing dot) so that no search domain is tried; the
	// resolver never leaves loopback.
	const url = "http://no-such-host.errclass.test.:80/"

	t.Run("not found", func(t *testing.T) {
		c := dnsClient(t, dialTo(t, newFakeDNS(t, answerNXDOMAIN)), 5*time.Second)
		err := get(t, c, url)
		check(t, err, errclass.DNS, errclass.PhaseNone, true)
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			t.Errorf("want *net.DNSError with IsNotFound: %#v", de)
		}
	})
	t.Run("server failure", func(t *testing.T) {
		c := dnsClient(t, dialTo(t, newFakeDNS(t, answerSERVFAIL)), 5*time.Second)
		err := get(t, c, url)
		check(t, err, errclass.DNS, errclass.PhaseNone, true)
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsTemporary {
			t.Errorf("want *net.DNSError with IsTemporary: %#v", de)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		c := dnsClient(t, dialTo(t, newFakeDNS(t, neverAnswer)), 200*time.Millisecond)
		start := time.Now()
		err := get(t, c, url)
		check(t, err, errclass.Timeout, errclass.PhaseDNS, true)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v, want the 200ms bound to fire well before 5s", d)
		}
	})
	t.Run("resolver dial fails", func(t *testing.T) {
		failing := func(ctx context.Context, network, address string) (net.Conn, error) {
			return nil, errors.New("no resolver reachable")
		}
		c := dnsClient(t, failing, 5*time.Second)
		err := get(t, c, url)
		check(t, err, errclass.DNS, errclass.PhaseNone, true)
	})
}
