package standard

import (
	"reflect"
	"time"

	"github.com/rtchain/chain/timeouts"
)

// timeoutSettings are the bounds of the timeouts package that a list of
// timeouts options gives: those of the base transport's connections (DNS,
// connect, TLS handshake) and those of each attempt.
type timeoutSettings struct {
	dns, connect, tlsHandshake           time.Duration
	header, bodyIdle, writeIdle, attempt time.Duration
	adaptiveBody, adaptiveWrite          adaptiveSetting
}

// adaptiveSetting is a WithAdaptiveBodyIdle or WithAdaptiveWriteIdle value;
// factor 0 is off.
type adaptiveSetting struct {
	factor         float64
	floor, ceiling time.Duration
}

// resolveTimeouts returns the settings that opts give over the timeouts
// package's defaults, and whether they could be read.
func resolveTimeouts(opts []timeouts.Option) (timeoutSettings, bool) {
	return readTimeouts(timeouts.New(nopTransport{}, opts...))
}

// readTimeouts returns the settings of t, and whether they could be read.
//
// The timeouts package has no accessor of its settings yet, so they are
// read by the names of the fields of its unexported configuration. This is
// the one place that does so: when timeouts gains a Settings accessor, this
// function becomes a call to it. If the names change, ok is false: New
// checks nothing and Config shows the bounds as unknown (and the golden
// test of Config fails).
func readTimeouts(t *timeouts.Transport) (s timeoutSettings, ok bool) {
	defer func() {
		if recover() != nil { // a field of another kind than expected
			s, ok = timeoutSettings{}, false
		}
	}()
	cfg := reflect.ValueOf(t).Elem().FieldByName("cfg")
	ok = cfg.IsValid()
	dur := func(name string) time.Duration {
		f := cfg.FieldByName(name)
		ok = ok && f.IsValid()
		if !f.IsValid() {
			return 0
		}
		return time.Duration(f.Int())
	}
	adaptive := func(name string) adaptiveSetting {
		f := cfg.FieldByName(name)
		ok = ok && f.IsValid()
		if !f.IsValid() {
			return adaptiveSetting{}
		}
		return adaptiveSetting{factor: f.FieldByName("factor").Float(),
			floor: time.Duration(f.FieldByName("floor").Int()), ceiling: time.Duration(f.FieldByName("ceiling").Int())}
	}
	if !ok {
		return timeoutSettings{}, false
	}
	s = timeoutSettings{
		dns: dur("dns"), connect: dur("connect"), tlsHandshake: dur("tlsHandshake"),
		header: dur("header"), bodyIdle: dur("bodyIdle"), writeIdle: dur("writeIdle"), attempt: dur("attempt"),
		adaptiveBody: adaptive("adaptiveBody"), adaptiveWrite: adaptive("adaptiveWrite"),
	}
	return s, ok
}
