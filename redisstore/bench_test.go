package redisstore_test

import (
	"context"
	"github.com/rtchain/chain/redisstore/internal/redistest"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/redisstore"
)

// instant answers at once with a shared bodiless response, allocating
// nothing, so that a benchmark measures only the breaker.
type instant struct{ resp *http.Response }

func (i instant) RoundTrip(*http.Request) (*http.Response, error) { return i.resp, nil }

func newInstant() instant {
	return instant{resp: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
}

// BenchmarkClosedPath compares the closed path of a local breaker with one
// whose store syncs with a real Redis meanwhile, in the same run: nothing
// on the request path touches the network, so both allocate nothing and
// take about as long. (On a loaded machine the sub-benchmark that runs
// first tends to be the slower: compare several -count runs.)
func BenchmarkClosedPath(b *testing.B) {
	r := redistest.Start(b)
	s := redisstore.New(r.Client(b))
	b.Cleanup(func() { s.Close() })
	for _, bc := range []struct {
		name string
		opts []breaker.Option
	}{
		{"local", nil},
		{"store", []breaker.Option{breaker.WithStore(s)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := breaker.New(newInstant(), bc.opts...)
			req, err := http.NewRequest(http.MethodGet, "http://a.test/", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingConn counts the bytes a connection moves both ways.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkSyncTraffic reports the bytes a store exchanges with Redis per
// busy breaker key per second (both ways, with the default 100 ms
// interval), with calls flowing to 10 keys. It needs a run of a second or
// more to span rounds: use a time -benchtime (the default 1s), not a count.
func BenchmarkSyncTraffic(b *testing.B) {
	const keys = 10
	r := redistest.Start(b)
	var bytes atomic.Int64
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: conn, n: &bytes}, nil
	}})
	b.Cleanup(func() { c.Close() })
	s := redisstore.New(c)
	b.Cleanup(func() { s.Close() })
	rt := breaker.New(newInstant(), breaker.WithStore(s))
	reqs := make([]*http.Request, keys)
	for i := range reqs {
		reqs[i], _ = http.NewRequest(http.MethodGet, "http://k"+strconv.Itoa(i)+".test/", nil)
	}
	bytes.Store(0)
	start := time.Now()
	for b.Loop() {
		for _, req := range reqs {
			rt.RoundTrip(req)
		}
	}
	b.ReportMetric(float64(bytes.Load())/keys/time.Since(start).Seconds(), "B/key/s")
}
