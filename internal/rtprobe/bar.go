package rtprobe

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// barState is what the progress bar shows at one instant.
type barState struct {
	done, failed int64
	total        int           // requests to send; 0 when bounded by time or not at all
	elapsed      time.Duration // since the start
	duration     time.Duration // -duration; 0 without
	rate         float64       // requests completed per second, over the last second
}

// renderBar returns the bar line for s, at most width-1 columns wide so that
// the terminal never wraps it (ASCII only: one byte is one column). What does
// not fit is left out: first the bar itself, then the ETA, then the rate.
func renderBar(width int, s barState) string {
	avail := width - 1
	if avail <= 0 {
		return ""
	}
	frac := -1.0
	var count, eta string
	switch {
	case s.total > 0:
		count = fmt.Sprintf("%d/%d", s.done, s.total)
		frac = float64(s.done) / float64(s.total)
		if left := int64(s.total) - s.done; left > 0 && s.rate > 0 {
			eta = "ETA " + compact(time.Duration(float64(left)/s.rate*float64(time.Second)))
		}
	case s.duration > 0:
		count = compact(s.elapsed) + "/" + compact(s.duration)
		frac = min(float64(s.elapsed)/float64(s.duration), 1)
		eta = fmt.Sprintf("%d req", s.done)
	default:
		count = fmt.Sprintf("%d req %s", s.done, compact(s.elapsed))
	}
	parts := []string{count, fmt.Sprintf("fail %d", s.failed), fmt.Sprintf("%s/s", rateText(s.rate)), eta}
	text := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if text == "" {
			text = p
		} else if len(text)+1+len(p) <= avail {
			text += " " + p
		}
	}
	if len(text) > avail {
		return text[:avail]
	}
	const minBar, maxBar = 8, 50 // columns, brackets included
	if barW := min(avail-len(text)-1, maxBar); frac >= 0 && barW >= minBar {
		inner := barW - 2
		filled := min(int(frac*float64(inner)), inner)
		head := ""
		if filled < inner && filled > 0 {
			filled--
			head = ">"
		}
		rest := inner - filled - len(head)
		return "[" + strings.Repeat("=", filled) + head + strings.Repeat(" ", rest) + "] " + text
	}
	return text
}

// rateText formats a rate with one decimal below 10 per second.
func rateText(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.0f", r)
}

// compact formats d as 8s, 2m05s or 1h02m.
func compact(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// progress draws the bar on con.err every 100 ms while con.err is a
// terminal, at the terminal's width of the moment, and returns a function
// that draws it one last time and stops it.
func progress(con console, total int, duration time.Duration, done, failed *atomic.Int64) (stop func()) {
	if con.width() <= 0 {
		return func() {}
	}
	start := time.Now()
	type sample struct {
		at   time.Time
		done int64
	}
	var window []sample // the last second of samples, for the rate
	draw := func() {
		now := time.Now()
		d := done.Load()
		window = append(window, sample{now, d})
		for len(window) > 1 && now.Sub(window[0].at) > time.Second {
			window = window[1:]
		}
		rate := 0.0
		if first := window[0]; now.Sub(first.at) > 0 && len(window) > 1 {
			rate = float64(d-first.done) / now.Sub(first.at).Seconds()
		}
		s := barState{done: d, failed: failed.Load(), total: total, elapsed: now.Sub(start), duration: duration, rate: rate}
		fmt.Fprint(con.err, "\r"+renderBar(con.width(), s)+"\x1b[K")
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				draw()
				io.WriteString(con.err, "\n")
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}
