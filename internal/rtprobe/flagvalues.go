package rtprobe

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// headerList is a repeatable -H flag.
type headerList []string

func (h *headerList) String() string { return strings.Join(*h, ", ") }

func (h *headerList) Set(v string) error {
	name, _, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New(`want "Name: value"`)
	}
	*h = append(*h, v)
	return nil
}

// limitFlag is -limit: "" (no limit layer), "adaptive", or a fixed limit.
type limitFlag struct {
	adaptive bool
	fixed    int
}

func (l *limitFlag) String() string {
	switch {
	case l == nil:
		return ""
	case l.adaptive:
		return "adaptive"
	case l.fixed > 0:
		return strconv.Itoa(l.fixed)
	}
	return ""
}

func (l *limitFlag) Set(v string) error {
	if v == "adaptive" {
		*l = limitFlag{adaptive: true}
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New(`want "adaptive" or a number of at least 1`)
	}
	*l = limitFlag{fixed: n}
	return nil
}

func (l limitFlag) on() bool { return l.adaptive || l.fixed > 0 }

// hedgeFlag is -hedge: "" (no hedge layer), "adaptive" (after the host's
// P90 time to response headers), or a fixed delay.
type hedgeFlag struct {
	adaptive bool
	delay    time.Duration
}

// hedgeQuantile is the quantile of -hedge adaptive: in the fast mode of a
// host whose slowest 5 % make its tail (see hedge.WithQuantile).
const hedgeQuantile = 0.9

func (h *hedgeFlag) String() string {
	switch {
	case h == nil:
		return ""
	case h.adaptive:
		return "adaptive"
	case h.delay > 0:
		return h.delay.String()
	}
	return ""
}

func (h *hedgeFlag) Set(v string) error {
	if v == "adaptive" {
		*h = hedgeFlag{adaptive: true}
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New(`want "adaptive" or a positive duration such as 50ms`)
	}
	*h = hedgeFlag{delay: d}
	return nil
}

func (h hedgeFlag) on() bool { return h.adaptive || h.delay > 0 }
