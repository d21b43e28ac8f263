package tlsrotate_test

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// TestGetClientCertificateAllocatesNothing is R-5.
func TestGetClientCertificateAllocatesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := e.src.GetClientCertificate(nil); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

type closeCounter struct {
	io.Reader
	closes atomic.Int32
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

func BenchmarkGetClientCertificate(b *testing.B) {
	ca := transporttest.NewCA("ca")
	dir := b.TempDir()
	if err := transporttest.WritePair(dir, ca.IssueClient("c", time.Hour)); err != nil {
		b.Fatal(err)
	}
	src, err := tlsrotate.NewFileSource(dir+"/tls.crt", dir+"/tls.key")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c, _ := src.GetClientCertificate(nil); c == nil {
				b.Fatal("no certificate")
			}
		}
	})
}

// BenchmarkRenameToNewHandshake measures the time from the rename that
// completes a new pair on disk to the first request served with the new
// certificate (fsnotify, 100 ms debounce, validation, new handshake).
func BenchmarkRenameToNewHandshake(b *testing.B) {
	ca := transporttest.NewCA("ca")
	dir := b.TempDir()
	if err := transporttest.WritePair(dir, ca.IssueClient("c", time.Hour)); err != nil {
		b.Fatal(err)
	}
	srv := newMutualTLSServer(b, ca, serialHandler, false)
	src, err := tlsrotate.NewFileSource(dir+"/tls.crt", dir+"/tls.key", tlsrotate.WithPollInterval(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConfigWithRoots(ca)
	tr := tlsrotate.New(base, src)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := ca.IssueClient("c", time.Hour)
		if err := transporttest.WriteFileAtomic(dir+"/tls.key", p.KeyPEM); err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // let the half-done pair be rejected first
		b.StartTimer()
		start := time.Now()
		if err := transporttest.WriteFileAtomic(dir+"/tls.crt", p.CertPEM); err != nil {
			b.Fatal(err)
		}
		for {
			s, err := trySerial(c, srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			if s == p.Serial() {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatal(errors.New("no new handshake within 10s"))
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/rotation")
}
