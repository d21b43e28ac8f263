package standard

import (
	"context"
	"errors"
	"net/http"

	"github.com/rtchain/chain/breaker"
	"github.com/rtchain/chain/retry"
	"github.com/rtchain/chain/timeouts"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/tracing"
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

// ObserveTLS returns the tlsrotate options that report a Source's rotations
// and rejections to obs, as the chain.tls.rotations, chain.tls.not_after and
// chain.tls.rejections metrics. A Source exists before the Stack that uses it,
// so it is wired here rather than by New:
//
//	obs := tracing.NewObserver(tracing.WithMeterProvider(mp))
//	src, err := tlsrotate.NewFileSource(certFile, keyFile, standard.ObserveTLS(obs)...)
//	client := standard.Client(standard.WithTLS(src), standard.WithMeterProvider(mp))
//
// The options add WithOnRotate and WithOnError hooks to the Source; hooks of
// your own, given too, run as well. A nil obs gives no option. Errors that are
// not a rejection (a warning that the certificate is about to expire with no
// rotation in sight) are not counted.
func ObserveTLS(obs *tracing.Observer) []tlsrotate.Option {
	if obs == nil {
		return nil
	}
	return []tlsrotate.Option{
		tlsrotate.WithOnRotate(func(r tlsrotate.Rotation) {
			obs.CertRotated(context.Background(), r.Generation, r.OldSerial, r.NewSerial, r.NotAfter)
		}),
		tlsrotate.WithOnError(func(err error) {
			var rej *tlsrotate.RejectError
			if errors.As(err, &rej) {
				obs.CertRejected(string(rej.Reason))
			}
		}),
	}
}
