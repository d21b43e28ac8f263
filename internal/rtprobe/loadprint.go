package rtprobe

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/rtchain/chain/limit"
)

// limitLog is the state of one key of the -limit layer at the end of a load.
type limitLog struct {
	Key      string  `json:"key"`
	Limit    int     `json:"limit"`
	Fixed    bool    `json:"fixed"`
	InFlight int     `json:"in_flight"`
	NoLoadMS float64 `json:"no_load_ms,omitempty"` // adaptive: the learned no-load latency
	LastMS   float64 `json:"last_ms,omitempty"`    // adaptive: the last interval's mean latency
}

func limitsOf(t *limit.Transport) []limitLog {
	fixed := t.Settings().MaxInFlight > 0
	var out []limitLog
	for _, k := range t.Keys() {
		s := t.Stats(k)
		out = append(out, limitLog{Key: k, Limit: s.Limit, Fixed: fixed, InFlight: s.InFlight, NoLoadMS: msf(s.NoLoad), LastMS: msf(s.Latency)})
	}
	return out
}

// print writes the text form of the summary.
func (s loadSummary) print(w io.Writer) {
	fmt.Fprintf(w, "%s %s: %d requests in %s (%.1f/s), %d workers\n",
		s.Method, s.URL, s.Requests, fmtMS(s.ElapsedMS), s.Rate, s.Workers)
	if s.Interrupted {
		fmt.Fprintf(w, "          interrupted; %d requests in flight then are not counted\n", s.Canceled)
	}
	if l := s.Latency; l != nil {
		fmt.Fprintf(w, "latency   p50 %s  p90 %s  p99 %s  max %s  (of %d that reached the network)\n",
			fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.Max), s.Reached)
	}
	fmt.Fprintf(w, "outcomes  %s\n", countLine(s.Outcomes))
	if n := sumOf(s.Rejected); n > 0 {
		fmt.Fprintf(w, "rejected  %d not sent (%s), not in the latency figures\n", n, countLine(s.Rejected))
	}
	if len(s.Statuses) > 0 {
		fmt.Fprintf(w, "statuses  %s\n", countLine(s.Statuses))
	}
	fmt.Fprintf(w, "retries   %d\n", s.Retries)
	if h := s.Hedges; h != nil {
		fmt.Fprintf(w, "hedges    %d sent, %d won\n", h.Sent, h.Won)
	}
	fmt.Fprintf(w, "breaker   %d transitions\n", len(s.Transitions))
	for _, t := range s.Transitions {
		fmt.Fprintf(w, "          %s %s→%s at %s\n", t.Key, t.From, t.To, fmtMS(t.AtMS))
	}
	for _, l := range s.Limits {
		kind := fmt.Sprintf("adaptive; no-load latency %s, last interval %s", fmtMS(l.NoLoadMS), fmtMS(l.LastMS))
		if l.Fixed {
			kind = "fixed"
		}
		fmt.Fprintf(w, "limit     %s: %d (%s), %d in flight\n", l.Key, l.Limit, kind, l.InFlight)
	}
	if f := s.Fleet; f != nil {
		state := "breakers and retry budget shared"
		if f.Degraded {
			state = "degraded: the last outcomes did not reach the fleet"
		}
		fmt.Fprintf(w, "fleet     %s: %s\n", f.URL, state)
	}
	if s.TargetRate > 0 {
		note := ""
		if s.Rate < 0.95*s.TargetRate {
			note = ": the workers were busy, raise -c"
		}
		fmt.Fprintf(w, "rate      target %.1f/s, done %.1f/s%s\n", s.TargetRate, s.Rate, note)
	}
}

func sumOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// countLine formats counts as "a 3  b 1", largest first.
func countLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, "  ")
}
