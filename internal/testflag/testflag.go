// Package testflag holds what the packages' TestMain functions share about
// the flags of go test.
package testflag

import (
	"flag"
	"strconv"
)

// RaiseParallel sets -test.parallel to n unless the command line gives it,
// so that the tests that call t.Parallel and mostly wait on real time
// (sockets, timers, file events) overlap: by default go test runs only
// GOMAXPROCS of them at once, two on a small machine, which would serialise
// their waits. It parses the command line (flag.Parse); call it from
// TestMain before m.Run. It is not safe for concurrent use.
func RaiseParallel(n int) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic("testflag: RaiseParallel called outside a test binary: " + err.Error())
		}
	}
}
