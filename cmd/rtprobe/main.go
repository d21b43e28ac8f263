// Command rtprobe shows what chain does against the failures that hang or
// break plain net/http clients, and probes real endpoints through the
// standard stack.
//
// Usage:
//
//	rtprobe                          run every built-in scenario, plain net/http
//	                                 against standard.Client(), and print one table;
//	                                 exit 0 when chain behaved as expected in all
//	rtprobe [flags] URL              send one request through the standard stack and
//	                                 print the time of each phase, attempts, outcome
//	rtprobe -n N -c C [flags] URL    send N requests from C workers and print latency
//	                                 percentiles, outcomes by class, retries and
//	                                 breaker transitions
//	rtprobe serve KIND [-addr A]     run one fake server (see "rtprobe serve -h")
//	                                 so that clients in other languages can be tested
//
// Flags of the URL modes:
//
//	-X method          request method (default GET, POST with -d)
//	-H "Name: value"   request header, repeatable
//	-d body            request body
//	-attempts n        attempts per request, the first included (default 3)
//	-timeout d         total bound over every attempt and wait (default 30s)
//	-header-timeout d  response header bound per attempt (default 10s)
//	-body-idle d       response body idle bound (default 30s)
//	-connect-timeout d connect bound per address (default 500ms)
//	-cacert file       PEM CA certificates that verify the server
//	-n, -c             requests and workers (default 1 and 1)
//	-v                 every attempt's phases and the response headers
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, with its output and arguments given, so that
// tests call it directly. It returns the exit code: 0 for success, 1 when a
// check or request failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		return runScenarios(ctx, stdout, defaultScenarioConfig())
	case args[0] == "serve":
		return runServe(ctx, args[1:], stdout, stderr, nil)
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		return runProbe(ctx, []string{"-h"}, stdout, stdout)
	default:
		return runProbe(ctx, args, stdout, stderr)
	}
}

const usage = `usage:
  rtprobe                          run the built-in scenarios (plain net/http vs chain)
  rtprobe [flags] URL              one request through the standard stack, with phase timings
  rtprobe -n N -c C [flags] URL    N requests from C workers, with a summary
  rtprobe serve KIND [-addr A]     run one fake server; "rtprobe serve -h" lists the kinds
`
