// Package bubble tells whether code runs inside a testing/synctest bubble,
// for the layers that pool timers: a timer made in a bubble belongs to it.
package bubble

import "time"

// In reports whether now, a reading of time.Now, was taken inside a
// testing/synctest bubble, where time.Now carries no monotonic clock reading
// (runtime.time_runtimeNow), which Round(0) would strip. A reading without
// one outside a bubble (past the year 2157) is taken for a bubble's: the
// caller then makes a timer of its own, which is only slower.
func In(now time.Time) bool { return now == now.Round(0) }
