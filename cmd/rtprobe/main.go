// Command rtprobe shows what chain does against the failures that hang or
// break plain net/http clients, probes and load-tests real endpoints through
// the standard stack, prints the configuration a set of flags gives, and
// serves the fake failing servers of transporttest.
//
// Usage:
//
//	rtprobe [-json]                  run every built-in scenario, plain net/http
//	                                 against chain, and print one table; exit 0
//	                                 when chain behaved as expected in all
//	rtprobe [flags] URL              send one request through the standard stack
//	                                 and print each phase, redirects, attempts and
//	                                 the outcome
//	rtprobe -n N | -duration D [-c C] [-rate R] [flags] URL
//	                                 load: latency percentiles of the requests that
//	                                 reached the network, outcomes by class,
//	                                 rejections, retries, breaker transitions
//	rtprobe -config [-json] [flags]  print the standard stack's settings for the
//	                                 flags: each bound, its value, its default and
//	                                 the layer that enforces it
//	rtprobe serve KIND [flags]       run one fake server, logging each request
//
// "rtprobe -h" lists every flag, with examples and the exit codes: 0 success,
// 1 failure, 2 usage error.
//
// This build has no fleet mode: -fleet, which shares breaker state and the
// retry budget of load runs between processes through Redis, is in the
// redisstore module's build (cd redisstore && go run ./cmd/rtprobe -fleet
// redis://127.0.0.1:6379 ...), so that this module does not depend on a
// Redis client.
package main

import (
	"os"

	"github.com/rtchain/chain/internal/rtprobe"
)

func main() {
	os.Exit(rtprobe.Main(os.Args[1:], os.Stdout, os.Stderr, rtprobe.Extensions{}))
}
