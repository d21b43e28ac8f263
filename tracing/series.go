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
// WithMaxSeries). A host (with its port) that got a series of its own while
// there was room keeps getting them for its other statuses, methods and
// errors, up to the bound; a host seen first past nine tenths of the bound
// is folded into _OTHER. It is safe for concurrent use.
type seriesLimit struct {
	own   int // a new host gets series of its own while fewer than own series are kept
	all   int // series are added while fewer than all are kept; one more is overflow
	mu    sync.RWMutex
	seen  map[series]struct{}   // guarded by mu
	hosts map[hostPort]struct{} // the hosts with series of their own; guarded by mu
}

type hostPort struct {
	host string
	port int
}

// newSeriesLimit bounds the series to max: nine tenths for the series of
// new hosts, the rest for known hosts' new series and folded ones, one kept
// for overflow.
func newSeriesLimit(max int) *seriesLimit {
	return &seriesLimit{own: max - 1 - max/10, all: max - 1,
		seen: make(map[series]struct{}), hosts: make(map[hostPort]struct{})}
}

// admit returns the series to record s as: s itself when it was seen
// before or there is room for it; s with its host folded into _OTHER when
// its host is new and only the room kept for other series is left;
// overflow when there is no room at all.
func (l *seriesLimit) admit(s series) series {
	hp := hostPort{s.host, s.port}
	l.mu.RLock()
	_, ok := l.seen[s]
	_, known := l.hosts[hp]
	n := len(l.seen)
	l.mu.RUnlock()
	if ok || (known || n < l.own) && l.add(s, &hp) {
		return s
	}
	folded := s
	folded.host, folded.port = otherValue, 0
	l.mu.RLock()
	_, ok = l.seen[folded]
	l.mu.RUnlock()
	if ok || l.add(folded, nil) {
		return folded
	}
	return overflow
}

// add reports whether s is in the set, adding it when there is room: below
// own for the first series of a new host hp, which becomes known; below all
// for a known host's series or a folded one (nil hp).
func (l *seriesLimit) add(s series, hp *hostPort) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[s]; ok {
		return true
	}
	limit, newHost := l.all, false
	if hp != nil {
		_, known := l.hosts[*hp]
		if newHost = !known; newHost {
			limit = l.own
		}
	}
	if len(l.seen) >= limit {
		return false
	}
	l.seen[s] = struct{}{}
	if newHost {
		l.hosts[*hp] = struct{}{}
	}
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
