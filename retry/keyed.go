package retry

import (
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtchain/chain/internal/hostkey"
)

// KeyedBudget keeps one [Budget] per key (by default, per host: see
// [WithKeyedBudget]), so that a host in an outage spends its own retries
// and not those of the healthy hosts. Each key's Budget has the arithmetic
// and the options of [NewBudget].
//
// It holds at most maxKeys budgets. When it is full, a key whose budget
// has seen no request for at least a second may be forgotten to make room
// (its next request starts a fresh budget, which holds no more tokens than
// the idle one had earned: a fresh budget holds one second of floor); when
// none can be forgotten, the keys beyond the bound share one overflow
// budget.
//
// A KeyedBudget is safe for concurrent use; share one between Transports to
// share the budgets. Finding a known key's budget takes no lock and
// allocates nothing.
type KeyedBudget struct {
	opts    []BudgetOption
	maxKeys int

	budgets  atomic.Pointer[map[string]*keyedEntry] // replaced, never changed, under mu
	aliases  atomic.Pointer[map[origin]*alias]      // requests' scheme and host, as written, to their host's budget; replaced under mu
	last     atomic.Pointer[alias]                  // the alias used last
	overflow *Budget

	mu        sync.Mutex // guards the writes of budgets, lastSweep and the entries' seen fields
	lastSweep time.Time
}

// origin is a request's scheme and host as written, before normalisation.
type origin struct{ scheme, host string }

// alias leads from an origin to its host's budget.
type alias struct {
	origin
	b *Budget
}

// keyedEntry is one key's budget and what the last sweep saw of it.
type keyedEntry struct {
	b      *Budget
	seen   int64     // b's requests at the last sweep
	seenAt time.Time // when seen was taken
}

// Defaults of the keyed budget.
const (
	defaultBudgetKeys = 1024
	idleForget        = time.Second // a key idle this long may be forgotten
	sweepEvery        = 100 * time.Millisecond
)

// NewKeyedBudget returns a KeyedBudget that gives each key a budget made
// with opts (see [NewBudget]: ratio 0.1 and floor 10 retries per second by
// default) and holds at most maxKeys of them. maxKeys must be at least 1.
func NewKeyedBudget(maxKeys int, opts ...BudgetOption) *KeyedBudget {
	if maxKeys < 1 {
		panic(fmt.Sprintf("retry: NewKeyedBudget(%d): need at least 1 key", maxKeys))
	}
	k := &KeyedBudget{opts: opts, maxKeys: maxKeys, overflow: NewBudget(opts...)}
	k.budgets.Store(&map[string]*keyedEntry{})
	k.aliases.Store(&map[origin]*alias{})
	return k
}

// forHost returns the budget of req's host, normalised by hostkey.Of. It
// remembers the host as written, so that the next request to it skips the
// normalisation.
func (k *KeyedBudget) forHost(req *http.Request) *Budget {
	o := origin{host: req.Host}
	if req.URL != nil {
		o.scheme = req.URL.Scheme
		if req.URL.Host != "" {
			o.host = req.URL.Host
		}
	}
	if a := k.last.Load(); a != nil && a.origin == o {
		return a.b
	}
	if a, ok := (*k.aliases.Load())[o]; ok {
		k.last.Store(a)
		return a.b
	}
	b := k.Budget(hostkey.Of(req))
	k.mu.Lock()
	defer k.mu.Unlock()
	m := *k.aliases.Load()
	if len(m) >= 2*k.maxKeys {
		m = nil
	}
	next := make(map[origin]*alias, len(m)+1)
	maps.Copy(next, m)
	next[o] = &alias{origin: o, b: b}
	k.aliases.Store(&next)
	return b
}

// Budget returns the budget of key, making it when key is new; when the
// KeyedBudget is full and no idle key can be forgotten, it returns the
// overflow budget that the keys beyond the bound share.
func (k *KeyedBudget) Budget(key string) *Budget {
	if e, ok := (*k.budgets.Load())[key]; ok {
		return e.b
	}
	return k.add(key)
}

// add makes key's budget, making room when the map is full.
func (k *KeyedBudget) add(key string) *Budget {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := *k.budgets.Load()
	if e, ok := m[key]; ok {
		return e.b
	}
	now := time.Now()
	if len(m) >= k.maxKeys {
		if now.Sub(k.lastSweep) < sweepEvery {
			return k.overflow
		}
		k.lastSweep = now
		m = k.sweep(m, now)
		if len(m) >= k.maxKeys {
			return k.overflow // nothing was forgotten: m is unchanged
		}
		k.aliases.Store(&map[origin]*alias{}) // some may lead to a forgotten budget
		k.last.Store(nil)
	} else {
		m = maps.Clone(m)
	}
	b := newBudget(key, k.opts)
	m[key] = &keyedEntry{b: b, seenAt: now}
	k.budgets.Store(&m)
	return b
}

// sweep returns a copy of m without the keys that saw no request since the
// sweep before, at least idleForget ago, or m itself when it forgets none.
// It notes what it saw of the keys it keeps.
func (k *KeyedBudget) sweep(m map[string]*keyedEntry, now time.Time) map[string]*keyedEntry {
	idle := func(e *keyedEntry) bool {
		if r := e.b.requests.Load(); r != e.seen {
			e.seen, e.seenAt = r, now
			return false
		}
		return now.Sub(e.seenAt) >= idleForget
	}
	next := make(map[string]*keyedEntry, len(m))
	for key, e := range m {
		if !idle(e) {
			next[key] = e
		}
	}
	if len(next) == len(m) {
		return m
	}
	return next
}
