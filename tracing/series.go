package tracing

import (
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// series is the attribute set of one http.client.request.duration
// measurement, as a comparable value.
type series struct {
	method  string
	host    string
	port    int
	status  int
	proto   string // network.protocol.version; "" when unknown
	errType string
	extra   string // the encoded attributes of WithMetricAttributes
}

// overflow is the series every measurement falls into once the bound is
// reached: every attribute _OTHER.
var overflow = series{method: otherValue, host: otherValue, errType: otherValue}

// seriesLimit bounds the distinct series of the duration metric (see
// WithMaxSeries). It is safe for concurrent use.
type seriesLimit struct {
	own  int // series with a host of their own are added while fewer than own are kept
	all  int // folded series are added while fewer than all are kept
	mu   sync.RWMutex
	seen map[series]struct{} // guarded by mu
}

// newSeriesLimit bounds the series to max: nine tenths for series with a
// host of their own, the rest for folded ones, one kept for overflow.
func newSeriesLimit(max int) *seriesLimit {
	return &seriesLimit{own: max - 1 - max/10, all: max - 1, seen: make(map[series]struct{})}
}

// admit returns the series to record s as: s itself when it was seen
// before or there is room for it; s with its host folded into _OTHER when
// only the room kept for folded series is left; overflow when there is no
// room at all.
func (l *seriesLimit) admit(s series) series {
	l.mu.RLock()
	_, ok := l.seen[s]
	n := len(l.seen)
	l.mu.RUnlock()
	if ok || n < l.own && l.add(s, l.own) {
		return s
	}
	folded := s
	folded.host, folded.port = otherValue, 0
	l.mu.RLock()
	_, ok = l.seen[folded]
	l.mu.RUnlock()
	if ok || l.add(folded, l.all) {
		return folded
	}
	return overflow
}

// add reports whether s is in the set, adding it when the set holds fewer
// than limit series.
func (l *seriesLimit) add(s series, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[s]; ok {
		return true
	}
	if len(l.seen) >= limit {
		return false
	}
	l.seen[s] = struct{}{}
	return true
}

// attributes returns the metric attributes of s; extra are the caller's
// attributes that s.extra encodes.
func (s series) attributes(extra []attribute.KeyValue) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 7+len(extra))
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(s.method), semconv.ServerAddress(s.host))
	if s.port > 0 {
		attrs = append(attrs, semconv.ServerPort(s.port))
	}
	if s.status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(s.status))
	}
	if s.proto != "" {
		attrs = append(attrs, semconv.NetworkProtocolName("http"), semconv.NetworkProtocolVersion(s.proto))
	}
	if s.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(s.errType))
	}
	if s.extra != "" {
		attrs = append(attrs, extra...)
	}
	return attrs
}

// encodeExtra returns a comparable form of the caller's metric attributes.
func encodeExtra(extra []attribute.KeyValue) string {
	if len(extra) == 0 {
		return ""
	}
	var b strings.Builder
	for _, kv := range extra {
		b.WriteString(string(kv.Key))
		b.WriteByte('=')
		b.WriteString(kv.Value.String())
		b.WriteByte(0)
	}
	return b.String()
}
