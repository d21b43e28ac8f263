package standard

import (
	"context"
	"errors"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/tracing"
)

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
