package redisstore_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/redisstore"
	"github.com/rtchain/chain/retry"
)

// A breaker and a retry budget shared by the fleet. Here Redis cannot be
// reached (nothing listens on port 1), so fleet mode is degraded and the
// breaker goes on alone: it still trips, and no call waited for Redis.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	fleet := redisstore.New(rdb, redisstore.WithPrefix("example:"))
	defer fleet.Close()

	failing := roundTripperFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody}, nil
	})
	rt := retry.New(
		breaker.New(failing, breaker.WithStore(fleet)),
		retry.WithBudget(retry.NewBudget(retry.WithStore(fleet))),
		retry.WithMaxAttempts(1),
	)
	for !fleet.Degraded() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("degraded:", fleet.Degraded())

	for range 30 {
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			var open *breaker.OpenError
			fmt.Println("rejected:", errors.As(err, &open), open.Key)
			break
		}
	}
	// Output:
	// degraded: true
	// rejected: true api.example
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
