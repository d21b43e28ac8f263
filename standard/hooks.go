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

func (s *Stack) timeoutHooks() []timeouts.Option {
	if s.observer == nil {
		return nil
	}
	return []timeouts.Option{timeouts.WithOnTimeout(s.observer.OnTimeout)}
}
