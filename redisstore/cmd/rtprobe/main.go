// Command rtprobe is the rtprobe command of the root module (see
// github.com/rtchain/chain/cmd/rtprobe) with fleet mode: -fleet URL shares
// the breakers' state and the retry budget of load runs (-n, -c, -duration,
// -rate) with every other rtprobe run given the same Redis, through
// redisstore. A host one run found failing is rejected by the next from its
// first request, without a request sent:
//
//	cd redisstore
//	go run ./cmd/rtprobe -fleet redis://127.0.0.1:6379 -n 200 -c 4 http://failing.example/
//	go run ./cmd/rtprobe -fleet redis://127.0.0.1:6379 -n 200 -c 4 http://failing.example/
//
// The URL is go-redis's (redis.ParseURL): redis://[user:password@]host:port[/db],
// rediss:// for TLS. Everything else is the root module's rtprobe: "rtprobe -h"
// lists the flags.
package main

import (
	"context"
	"errors"
	"net/url"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/rtchain/chain/internal/rtprobe"
	"github.com/rtchain/chain/redisstore"
)

func main() {
	// go-redis logs each failed dial to stderr, every round while Redis is
	// out of reach; rtprobe says it once, and in the summary.
	redis.SetLogger(quiet{})
	os.Exit(rtprobe.Main(os.Args[1:], os.Stdout, os.Stderr, extensions()))
}

// quiet is a go-redis logger that drops everything.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// extensions are the root module's rtprobe with a Redis fleet store.
func extensions() rtprobe.Extensions {
	return rtprobe.Extensions{Fleet: openFleet}
}

// openFleet returns a redisstore.Store over a client of the Redis at u,
// which closes the client with the store.
func openFleet(u *url.URL) (rtprobe.Fleet, error) {
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(opts)
	return &fleet{Store: redisstore.New(rdb), rdb: rdb}, nil
}

// fleet is a redisstore.Store that owns its client.
type fleet struct {
	*redisstore.Store
	rdb *redis.Client
}

// Close closes the store, which pushes the last outcomes, then the client.
func (f *fleet) Close() error {
	return errors.Join(f.Store.Close(), f.rdb.Close())
}
