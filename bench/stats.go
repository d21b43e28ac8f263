package bench

import (
	"math"
	"slices"
	"time"
)

// quantile returns the nearest-rank q-quantile of ds (0 for none); ds need
// not be sorted and is not changed.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
