package standard

import (
	"net/http"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
)

// The hooks below feed the layers' events to the Observer. They come before
// the caller's options, so a caller's own hook of the same kind replaces them.

func (s *Stack) retryHooks() []retry.Option {
	o := s.observer
	if o == nil {
		return nil
	}
	return []retry.Option{retry.WithOnRetry(func(e retry.Event) {
		o.Retry(e.Request.Context(), e.Attempt, e.Wait, e.Reason)
	})}
}

func (s *Stack) breakerHooks() []breaker.Option {
	o := s.observer
	if o == nil {
		return nil
	}
	return []breaker.Option{
		breaker.WithOnStateChange(func(key string, from, to breaker.State) {
			o.BreakerTransition(key, from.String(), to.String())
		}),
		breaker.WithOnReject(func(key string) { o.BreakerRejection(key) }),
	}
}

func (s *Stack) timeoutHooks() []timeouts.Option {
	o := s.observer
	if o == nil {
		return nil
	}
	return []timeouts.Option{timeouts.WithOnTimeout(func(req *http.Request, err *timeouts.Error) {
		o.Timeout(req.Context(), err.Phase)
	})}
}
