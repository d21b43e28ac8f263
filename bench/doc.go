// Package bench holds side-by-side benchmarks of chain's layers and of the
// peer libraries users compare them with: go-retryablehttp, failsafe-go
// (failsafehttp), gobreaker, rehttp, heimdall and otelhttp.
//
// It is a separate module (see go.mod) so that the peers never become
// dependencies of chain itself. The non-test files hold the harness: the
// fixtures (a transport that answers at once, loopback servers that fail in
// chosen ways, a streaming request body, a heap sampler) and the list of
// contenders, each built with the closest equivalent configuration. The
// benchmarks are in bench_test.go; README.md says how to run them and holds
// the latest figures.
//
// Everything runs on the loopback interface, and every benchmark is bounded
// in count and in time.
package bench
