package bench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// SoakReport is what a soak run measured and what it found wrong.
type SoakReport struct {
	Config   SoakConfig
	Requests int // requests through the stack
	Controls int // plain net/http requests of the control group
	// Elapsed is the wall time of the requests, less the pauses for heap
	// checkpoints.
	Elapsed time.Duration
	// Outcomes counts the outcomes by class ("timeout/<phase>" for a
	// timeout); ByScenario the same per scenario of the mix.
	Outcomes   map[string]int
	ByScenario map[string]map[string]int

	// Latency of successful healthy requests: through the stack over
	// HTTP/1.1, through the stack over mutual TLS, and plain net/http; each
	// the upper bound of a histogram bucket (within about 2.3 %).
	StackP50, StackP99, TLSP50, TLSP99, ControlP50, ControlP99 time.Duration

	// PeakHeap is the largest live heap seen during the run.
	PeakHeap uint64
	// HeapCheckpoints is the live heap after GC with no request in flight,
	// Config.Checkpoints times from the first tenth of the run to the ninth.
	HeapCheckpoints []uint64
	// HeapBefore and HeapAfter are the live heap after GC before setup and
	// after teardown.
	HeapBefore, HeapAfter uint64

	Rotations       int64 // client certificate rotations published
	ServerRotations int   // server certificate rotations
	Attempts        int64 // attempts the h1 fault servers received
	Dialed          int64 // connections the client dialed

	// Problems are failures of the soak itself: hangs, unclassified
	// outcomes, leaks, heap growth. Classes lists outcomes that a correct
	// stack would not report for their scenario (a class, or a timeout's
	// phase, outside its allowed set); Sentinels the errors that do not
	// match the sentinel of their class (errors.Is(err, class.Sentinel())).
	// Each holds the first few examples of each kind.
	Problems, Classes, Sentinels []string
	// Counts has every kind of problem, class and sentinel violation, with
	// how many there were.
	Counts map[string]int
}

// AddedP50 and AddedP99 are the latency the stack adds to a healthy request
// over plain net/http, measured side by side under the same load.
func (r *SoakReport) AddedP50() time.Duration { return r.StackP50 - r.ControlP50 }

// AddedP99 is the P99 counterpart of AddedP50.
func (r *SoakReport) AddedP99() time.Duration { return r.StackP99 - r.ControlP99 }

// RequestsPerSecond is the rate of requests through the stack.
func (r *SoakReport) RequestsPerSecond() float64 {
	return float64(r.Requests) / r.Elapsed.Seconds()
}

func (r *SoakReport) fail(kind, msg string) {
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	r.Counts[kind]++
	r.Problems = append(r.Problems, kind+": "+msg)
}

// checkHeap fails the run when the live heap after GC grew across it: the
// mean of the last checkpoints (up to three) above the mean of as many first
// ones by more than a quarter, and by more than 4 MiB.
func (r *SoakReport) checkHeap() {
	c := r.HeapCheckpoints
	k := min(len(c)/2, 3)
	if k == 0 {
		return
	}
	var first, last uint64
	for i := range k {
		first += c[i]
		last += c[len(c)-1-i]
	}
	first, last = first/uint64(k), last/uint64(k)
	if last > first+max(first/4, 4<<20) {
		r.fail("heap growth", fmt.Sprintf("live heap after GC grew from %s to %s over the run (checkpoints %s)",
			mib(first), mib(last), mibs(c)))
	}
}

func merge(r *SoakReport, ts []*tally) {
	r.Outcomes = map[string]int{}
	r.ByScenario = map[string]map[string]int{}
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	var stack, tlsLat, control latencyHist
	problems, classes, sentinels := map[string][]string{}, map[string][]string{}, map[string][]string{}
	for _, t := range ts {
		for sc, m := range t.byScenario {
			bs := r.ByScenario[sc.String()]
			if bs == nil {
				bs = map[string]int{}
				r.ByScenario[sc.String()] = bs
			}
			for k, n := range m {
				bs[k] += n
				r.Outcomes[k] += n
				r.Requests += n
			}
		}
		stack.merge(&t.stackLat)
		tlsLat.merge(&t.tlsLat)
		control.merge(&t.controlLat)
		r.Controls += t.controls
		for k, n := range t.counts {
			r.Counts[k] += n
		}
		for k, msgs := range t.problems {
			problems[k] = append(problems[k], msgs...)
		}
		for k, msgs := range t.classes {
			classes[k] = append(classes[k], msgs...)
		}
		for k, msgs := range t.sentinels {
			sentinels[k] = append(sentinels[k], msgs...)
		}
	}
	r.Problems = append(r.Problems, examples(problems, r.Counts)...)
	r.Classes = examples(classes, r.Counts)
	r.Sentinels = examples(sentinels, r.Counts)
	r.StackP50, r.StackP99 = stack.quantile(0.5), stack.quantile(0.99)
	r.TLSP50, r.TLSP99 = tlsLat.quantile(0.5), tlsLat.quantile(0.99)
	r.ControlP50, r.ControlP99 = control.quantile(0.5), control.quantile(0.99)
}

// examples returns, for each kind in sorted order, its count and its first
// few messages.
func examples(byKind map[string][]string, counts map[string]int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		msgs := byKind[k]
		for i, m := range msgs[:min(len(msgs), maxExamples)] {
			if i == 0 {
				m = fmt.Sprintf("[%s ×%d] %s", k, counts[k], m)
			}
			out = append(out, m)
		}
	}
	return out
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func mibs(bs []uint64) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = fmt.Sprintf("%.1f", float64(b)/(1<<20))
	}
	return strings.Join(s, " ") + " MiB"
}

// String formats the report as the text recorded in RELIABILITY.md.
func (r *SoakReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "requests through the stack: %d (+%d plain control), workers %d, %v, %.0f req/s\n",
		r.Requests, r.Controls, r.Config.Workers, r.Elapsed.Round(time.Millisecond), r.RequestsPerSecond())
	fmt.Fprintf(&b, "attempts at the h1 fault servers: %d; connections dialed: %d; client certificate rotations: %d, server: %d\n",
		r.Attempts, r.Dialed, r.Rotations, r.ServerRotations)
	fmt.Fprintf(&b, "latency of healthy h1 requests: stack p50 %v p99 %v, plain p50 %v p99 %v: added p50 %v p99 %v\n",
		r.StackP50, r.StackP99, r.ControlP50, r.ControlP99, r.AddedP50(), r.AddedP99())
	fmt.Fprintf(&b, "latency of mutual-TLS requests (h2, rotating): p50 %v p99 %v\n", r.TLSP50, r.TLSP99)
	fmt.Fprintf(&b, "heap: peak live %s; after GC: before %s, checkpoints %s, after teardown %s\n",
		mib(r.PeakHeap), mib(r.HeapBefore), mibs(r.HeapCheckpoints), mib(r.HeapAfter))
	b.WriteString("outcomes:")
	for _, k := range slices.Sorted(maps.Keys(r.Outcomes)) {
		fmt.Fprintf(&b, " %s=%d", k, r.Outcomes[k])
	}
	b.WriteString("\nby scenario:\n")
	for _, sc := range soakMix {
		m := r.ByScenario[sc.String()]
		fmt.Fprintf(&b, "  %-28s", sc.String())
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&b, " %s=%d", k, m[k])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "problems: %d, class violations: %d, sentinel violations: %d (kinds and counts: %v)\n",
		len(r.Problems), len(r.Classes), len(r.Sentinels), r.Counts)
	return b.String()
}
