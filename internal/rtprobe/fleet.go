package rtprobe

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/retry"
)

// Extensions are what a build of the command adds to it: pieces that need
// dependencies the root module does not take. The zero value adds nothing.
type Extensions struct {
	// Fleet opens the fleet store of the URL given to -fleet (parsed
	// already; it may hold a password, which must not reach an error's
	// text). Nil: -fleet fails with a line saying which build has it.
	Fleet func(u *url.URL) (Fleet, error)
}

// Fleet is a store through which the load runs of several rtprobe
// processes share their breakers' state and their retry budget, so that a
// host one process found failing is rejected by the next from its first
// request. redisstore.Store is one, over Redis.
type Fleet interface {
	breaker.Store
	retry.Store
	// Sync exchanges state with the fleet now; the load calls it once
	// after building its stack and before its first request.
	Sync(ctx context.Context) error
	// Degraded reports whether the store lost the fleet (its last round
	// failed): the breakers and the budget then worked alone.
	Degraded() bool
	// Close pushes the last outcomes to the fleet and releases the store.
	Close() error
}

// errNoFleet is the error of -fleet in a build without fleet mode.
var errNoFleet = errors.New("-fleet is not in this build, which does not link a Redis client: " +
	"run it from the redisstore module: cd redisstore && go run ./cmd/rtprobe -fleet redis://HOST:PORT [flags] URL")

// fleetRun is the fleet store of a load with -fleet. Its methods do nothing
// on a nil one (no -fleet).
type fleetRun struct {
	f   Fleet
	url string // redacted
}

// fleetLog is the fleet store's part of a load's summary.
type fleetLog struct {
	URL string `json:"url"` // redacted
	// Degraded: the store's last exchange, at the end of the load, did not
	// reach the fleet, so the load's last outcomes stayed local.
	Degraded bool `json:"degraded"`
}

// openFleet opens the store of -fleet through the build's Extensions and
// adds to h what shares the load's breakers and retry budget through it:
// breaker.WithStore, and one budget with retry.WithStore that the retry
// layer and the hedges (-hedge) spend, as the stack's own budget would be.
// It returns nil without -fleet.
func openFleet(pf probeFlags, con console, h *clientHooks) (*fleetRun, error) {
	if pf.fleetURL == nil {
		return nil, nil
	}
	where := redactedURL(pf.fleet)
	f, err := con.ext.Fleet(pf.fleetURL)
	if err != nil {
		return nil, usagef("-fleet %s: %v", where, err)
	}
	budget := retry.NewBudget(retry.WithStore(f))
	h.breaker = append(h.breaker, breaker.WithStore(f))
	h.retry = append(h.retry, retry.WithBudget(budget))
	h.hedge = append(h.hedge, hedge.WithBudget(budget))
	return &fleetRun{f: f, url: where}, nil
}

// sync exchanges state with the fleet once the stack is built and before
// the first request, so that the keys the fleet holds open are rejected
// from the start. A fleet out of reach is said on stderr; the load goes on,
// its breakers and budget alone until the store reaches the fleet.
func (r *fleetRun) sync(ctx context.Context, con console) {
	if r == nil {
		return
	}
	if err := r.f.Sync(ctx); err != nil {
		fmt.Fprintf(con.err, "rtprobe: -fleet %s: %v; the load starts alone\n", r.url, err)
	}
}

// close pushes the load's last outcomes to the fleet, closes the store and
// returns the summary's part; nil without -fleet.
func (r *fleetRun) close() *fleetLog {
	if r == nil {
		return nil
	}
	r.f.Close()
	return &fleetLog{URL: r.url, Degraded: r.f.Degraded()}
}
