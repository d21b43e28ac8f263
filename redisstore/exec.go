package redisstore

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed breaker.lua
	breakerLua string
	//go:embed budget.lua
	budgetLua string

	breakerScript = newScript(breakerLua)
	budgetScript  = newScript(budgetLua)
)

// script is a Lua script and its SHA-1, which EVALSHA names it by. (Not
// redis.Script: its Load, queued in a pipeline, forgets the hash.)
type script struct{ src, sha string }

func newScript(src string) *script {
	h := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(h[:])}
}

// call is one script run of a round.
type call struct {
	script *script
	name   string // the breaker key or budget name, for logs
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// exec runs calls in one pipeline, with extra's commands after them, and
// returns an error only when Redis could not be reached: a call that Redis
// refused is logged and left with its error. Scripts Redis does not hold
// (after a restart or SCRIPT FLUSH) are loaded and their calls run again.
func (s *Store) exec(ctx context.Context, calls []*call, extra func(redis.Pipeliner)) error {
	if err := s.pipeline(ctx, calls, extra); err != nil {
		return err
	}
	var missing []*call
	for _, c := range calls {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		if _, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ScriptLoad(ctx, breakerScript.src)
			p.ScriptLoad(ctx, budgetScript.src)
			return nil
		}); err != nil {
			return err
		}
		if err := s.pipeline(ctx, missing, nil); err != nil {
			return err
		}
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			s.cfg.logger.Warn("redisstore: Redis refused a script", "name", c.name, "key", c.keys[0], "err", err)
		}
	}
	return nil
}

// pipeline sends calls and extra's commands in one round trip.
func (s *Store) pipeline(ctx context.Context, calls []*call, extra func(redis.Pipeliner)) error {
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range calls {
			c.cmd = p.EvalSha(ctx, c.script.sha, c.keys, c.args...)
		}
		if extra != nil {
			extra(p)
		}
		return nil
	})
	if err != nil && !isReply(err) {
		return err
	}
	return nil
}
