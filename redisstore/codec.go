package redisstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
)

// breakerCalls returns one call of the breaker script per entry.
func (s *Store) breakerCalls(entries []breaker.Entry, now time.Time) []*call {
	calls := make([]*call, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		var until, paused int64
		if e.State == breaker.Open {
			until = -1
			if !e.OpenUntil.IsZero() {
				until = e.OpenUntil.UnixMilli()
			}
		}
		if !e.PausedUntil.IsZero() {
			paused = max(e.PausedUntil.UnixMilli(), 0)
		}
		args := []any{e.Key, e.Generation, int(e.State), until, paused, now.UnixMilli(),
			s.cfg.ttl.Milliseconds(), s.epoch(), len(e.Buckets)}
		for _, b := range e.Buckets {
			args = append(args, b.ID, b.End.UnixMilli(), b.Max, b.Min, len(b.Sums))
			for _, v := range b.Sums {
				args = append(args, v)
			}
		}
		calls = append(calls, &call{
			script: breakerScript,
			name:   e.Key,
			keys:   []string{s.cfg.prefix + "b:" + e.Key, s.cfg.prefix + "open"},
			args:   args,
		})
	}
	return calls
}

// entries returns what Redis holds for the keys of calls. A reply it
// cannot read is logged and left out; so is a bucket.
func (s *Store) entries(calls []*call) []breaker.Entry {
	out := make([]breaker.Entry, 0, len(calls))
	for _, c := range calls {
		if c.cmd.Err() != nil {
			continue
		}
		vals, err := c.cmd.StringSlice()
		if err != nil || len(vals) < 6 || len(vals)%2 != 0 {
			s.cfg.logger.Warn("redisstore: ignored a bad reply", "name", c.name, "key", c.keys[0])
			continue
		}
		gen, err1 := strconv.ParseUint(vals[0], 10, 64)
		st, err2 := strconv.ParseUint(vals[1], 10, 8)
		until, err3 := strconv.ParseInt(vals[2], 10, 64)
		paused, err4 := strconv.ParseInt(vals[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || st > uint64(breaker.HalfOpen) {
			s.cfg.logger.Warn("redisstore: ignored a bad state", "name", c.name, "key", c.keys[0])
			continue
		}
		if vals[5] != "" {
			s.cfg.logger.Warn("redisstore: bad data overwritten", "name", c.name, "key", c.keys[0], "found", vals[5])
		}
		e := breaker.Entry{Key: c.name, Generation: gen, State: breaker.State(st), Epoch: vals[4]}
		if e.State == breaker.Open && until >= 0 {
			e.OpenUntil = time.UnixMilli(until)
		}
		if paused > 0 {
			e.PausedUntil = time.UnixMilli(paused)
		}
		for i := 6; i < len(vals); i += 2 {
			b, ok := parseBucket(vals[i], vals[i+1])
			if !ok {
				s.cfg.logger.Warn("redisstore: ignored a bad bucket", "name", c.name, "key", c.keys[0], "bucket", vals[i])
				continue
			}
			e.Buckets = append(e.Buckets, b)
		}
		out = append(out, e)
	}
	return out
}

// parseBucket reads a bucket of the breaker script: "end,max,min,sums...".
func parseBucket(id, v string) (breaker.Bucket, bool) {
	parts := strings.Split(v, ",")
	if len(parts) < 3 {
		return breaker.Bucket{}, false
	}
	nums := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return breaker.Bucket{}, false
		}
		nums[i] = n
	}
	return breaker.Bucket{ID: id, End: time.UnixMilli(nums[0]), Max: nums[1], Min: nums[2], Sums: nums[3:]}, true
}

// budgetCall returns the call of the budget script for r.
func (s *Store) budgetCall(r retry.BudgetRound) *call {
	return &call{
		script: budgetScript,
		name:   r.Name,
		keys:   []string{s.cfg.prefix + "r:" + r.Name},
		args:   []any{r.Deposit, r.Want, r.Floor, r.Max, s.cfg.ttl.Milliseconds()},
	}
}

// granted returns the tokens a budget's call was granted, or why it got
// none: err, the round's failure, or the call's own.
func (s *Store) granted(c *call, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if err := c.cmd.Err(); err != nil {
		return 0, err
	}
	vals, err := c.cmd.StringSlice()
	var n int64
	if err == nil && len(vals) == 3 {
		n, err = strconv.ParseInt(vals[0], 10, 64)
	}
	if err != nil || len(vals) != 3 || n < 0 {
		s.cfg.logger.Warn("redisstore: ignored a bad reply", "name", c.name, "key", c.keys[0])
		return 0, nil
	}
	if vals[2] != "" {
		s.cfg.logger.Warn("redisstore: bad data overwritten", "name", c.name, "key", c.keys[0], "found", vals[2])
	}
	return n, nil
}
