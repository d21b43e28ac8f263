package hedge_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/transporttest"
)

// TestConcurrentHedgedRequests runs many hedged requests at once against a
// loopback server whose every fifth hit is slow, over HTTP/1.1 and HTTP/2,
// with a budget shared with a retry layer: under -race, every request gets
// its own answer, every body is closed, and (TestMain) no goroutine is left.
func TestConcurrentHedgedRequests(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			var hits atomic.Int64
			srv := transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1)%5 == 0 {
					select {
					case <-time.After(100 * ms):
					case <-r.Context().Done(): // also done when the server closes
						return
					}
				}
				io.WriteString(w, r.URL.Path)
			}))
			srv.EnableHTTP2 = h2
			if h2 {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()

			var sent, won atomic.Int64
			b := retry.NewBudget(retry.WithRatio(0.5))
			ht := hedge.New(srv.Client().Transport, hedge.WithDelay(20*ms), hedge.WithMaxHedges(2), hedge.WithBudget(b),
				hedge.WithOnHedge(func(e hedge.Event) {
					if e.Won {
						won.Add(1)
					} else {
						sent.Add(1)
					}
				}))
			defer ht.CloseIdleConnections()
			client := &http.Client{Transport: retry.New(ht, retry.WithBudget(b))}

			const workers, each = 16, 8
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						path := fmt.Sprintf("/%d/%d", w, i)
						resp, err := client.Get(srv.URL + path)
						if !assert.NoError(t, err) {
							return
						}
						b, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						assert.NoError(t, err)
						assert.Equal(t, path, string(b))
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			n := int64(workers * each)
			t.Logf("%d requests, %d server hits, %d hedges sent, %d won", n, hits.Load(), sent.Load(), won.Load())
			assert.Positive(t, sent.Load(), "slow hits were hedged")
			assert.LessOrEqual(t, won.Load(), sent.Load())
			assert.LessOrEqual(t, hits.Load(), n+sent.Load(), "no hit beyond the first attempts and the hedges")
			// The budget: 0.5 token per request, 10 per second, 10 at first.
			assert.LessOrEqual(t, float64(sent.Load()), 0.5*float64(n)+10*(elapsed.Seconds()+1), "within the budget")
		})
	}
}
