package standard

import (
	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/hedge"
	"github.com/rtchain/chain/limit"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
)

// The hooks below feed the layers' events to the Stack's Observer. They come
// before the caller's options and add up with the caller's own hooks of the
// same kind (every WithOn… option of this module appends its hook), so a
// caller's hook never removes the Stack's metrics.

func (s *Stack) retryHooks() []retry.Option {
	if s.observer == nil {
		return nil
	}
	return []retry.Option{retry.WithOnRetry(s.observer.OnRetry), retry.WithOnGiveUp(s.observer.OnGiveUp)}
}

func (s *Stack) hedgeHooks() []hedge.Option {
	if s.observer == nil {
		return nil
	}
	return []hedge.Option{hedge.WithOnHedge(s.observer.OnHedge)}
}

func (s *Stack) limitHooks() []limit.Option {
	if s.observer == nil {
		return nil
	}
	return []limit.Option{limit.WithOnReject(s.observer.OnLimitReject)}
}

func (s *Stack) breakerHooks() []breaker.Option {
	if s.observer == nil {
		return nil
	}
	return []breaker.Option{
		breaker.WithOnStateChange(s.observer.OnStateChange),
		breaker.WithOnReject(s.observer.OnReject),
	}
}

// totalHooks are the hooks of the total layer: the Observer's, then the
// timeouts.WithOnTimeout hooks given to WithTimeouts, which see every
// timeout of the timeouts package, the total's included.
func (s *Stack) totalHooks() []timeouts.TotalOption {
	var opts []timeouts.TotalOption
	if s.observer != nil {
		opts = append(opts, timeouts.WithOnTimeout(s.observer.OnTimeout))
	}
	for _, o := range s.c.timeoutOpts {
		if h, ok := o.(timeouts.TotalOption); ok {
			opts = append(opts, h)
		}
	}
	return opts
}

func (s *Stack) timeoutHooks() []timeouts.Option {
	if s.observer == nil {
		return nil
	}
	return []timeouts.Option{timeouts.WithOnTimeout(s.observer.OnTimeout)}
}
