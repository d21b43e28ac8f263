package timeouts

import "time"

// Settings are the bounds a list of [Option] gives, defaults filled in, as
// [Transport.Settings] and [SettingsOf] report them, for display (a stack's
// configuration table, a probe's report) and for checking bounds against
// each other. A bound of 0 is off.
//
// DNS, Connect and TLSHandshake bound the connections of [NewTransport];
// ResponseHeader, BodyIdle, WriteIdle, Attempt and the adaptive bounds bound
// each round trip through [New] and [Middleware] (NewTransport also applies
// ResponseHeader to its HTTP/1 connections and WriteIdle as its HTTP/2
// WriteByteTimeout). The dialer, the resolver and the hooks are not
// reported.
type Settings struct {
	DNS            time.Duration
	Connect        time.Duration
	TLSHandshake   time.Duration
	ResponseHeader time.Duration
	BodyIdle       time.Duration
	WriteIdle      time.Duration
	Attempt        time.Duration

	// AdaptiveBodyIdle and AdaptiveWriteIdle are the arguments of
	// WithAdaptiveBodyIdle and WithAdaptiveWriteIdle; the zero value is
	// off.
	AdaptiveBodyIdle  AdaptiveBound
	AdaptiveWriteIdle AdaptiveBound
}

// AdaptiveBound is an adaptive idle bound of [Settings]: the factor, floor
// and ceiling given to [WithAdaptiveBodyIdle] or [WithAdaptiveWriteIdle].
// The zero value is off.
type AdaptiveBound struct {
	Factor         float64
	Floor, Ceiling time.Duration
}

// On reports whether the bound runs (Factor is not 0).
func (a AdaptiveBound) On() bool { return a.Factor != 0 }

// SettingsOf returns the settings that opts give over the defaults, as
// [New], [Middleware] and [NewTransport] resolve them (a nil Option is
// skipped, a later option wins), without building anything. It is safe for
// concurrent use.
func SettingsOf(opts ...Option) Settings {
	c := newConfig(opts)
	return c.settings()
}

// Settings returns the Transport's settings, defaults filled in. They never
// change after construction. Of them, DNS and Connect do not apply to a
// Transport (see [New]).
func (t *Transport) Settings() Settings { return t.cfg.settings() }

func (c *config) settings() Settings {
	return Settings{
		DNS:               c.dns,
		Connect:           c.connect,
		TLSHandshake:      c.tlsHandshake,
		ResponseHeader:    c.header,
		BodyIdle:          c.bodyIdle,
		WriteIdle:         c.writeIdle,
		Attempt:           c.attempt,
		AdaptiveBodyIdle:  c.adaptiveBody.bound(),
		AdaptiveWriteIdle: c.adaptiveWrite.bound(),
	}
}

func (a adaptive) bound() AdaptiveBound {
	return AdaptiveBound{Factor: a.factor, Floor: a.floor, Ceiling: a.ceiling}
}
