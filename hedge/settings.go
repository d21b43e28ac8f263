package hedge

import "time"

// Settings is the configuration of a [Transport], as [Transport.Settings]
// reports it, for display: a stack's configuration table, a probe's report.
type Settings struct {
	Delay          time.Duration // the fixed delay of WithDelay; 0: the host's quantile
	Quantile       float64
	Floor, Ceiling time.Duration // the bounds of a delay measured from the host's latency
	MaxHedges      int
	Budget         Budget // nil: unbudgeted
}

// Settings returns the Transport's configuration, defaults filled in.
func (t *Transport) Settings() Settings {
	c := &t.cfg
	return Settings{Delay: c.delay, Quantile: c.quantile, Floor: c.floor, Ceiling: c.ceiling,
		MaxHedges: c.maxHedges, Budget: c.budget}
}
