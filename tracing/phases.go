package tracing

import (
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rtchain/chain/errclass"
)

// ConnReusedKey says, on the "got_conn" event of [WithPhaseEvents], whether
// the attempt reused a kept-alive connection.
const ConnReusedKey = attribute.Key("chain.conn.reused")

// clientTrace returns the httptrace hooks of a recording attempt: the peer's
// address always, the phase events with WithPhaseEvents.
func (a *attemptState) clientTrace() *httptrace.ClientTrace {
	ct := &httptrace.ClientTrace{GotConn: a.gotConn}
	if !a.t.phaseEvents {
		return ct
	}
	span := a.span
	event := func(name string, attrs ...attribute.KeyValue) {
		span.AddEvent(name, trace.WithAttributes(attrs...))
	}
	failed := func(name string, err error, attrs ...attribute.KeyValue) {
		if err != nil {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errclass.Classify(err).String()))
		}
		event(name, attrs...)
	}
	ct.DNSStart = func(httptrace.DNSStartInfo) { event("dns.start") }
	ct.DNSDone = func(i httptrace.DNSDoneInfo) { failed("dns.done", i.Err) }
	ct.ConnectStart = func(_, addr string) { event("connect.start", peer(addr)...) }
	ct.ConnectDone = func(_, addr string, err error) { failed("connect.done", err, peer(addr)...) }
	ct.TLSHandshakeStart = func() { event("tls.start") }
	ct.TLSHandshakeDone = func(_ tls.ConnectionState, err error) { failed("tls.done", err) }
	ct.GotFirstResponseByte = func() { event("first_byte") }
	got := ct.GotConn
	ct.GotConn = func(i httptrace.GotConnInfo) {
		got(i)
		event("got_conn", ConnReusedKey.Bool(i.Reused))
	}
	return ct
}

// gotConn records the peer's address on the span.
func (a *attemptState) gotConn(info httptrace.GotConnInfo) {
	if info.Conn == nil {
		return
	}
	a.span.SetAttributes(peer(info.Conn.RemoteAddr().String())...)
}

// peer returns network.peer.address and network.peer.port for addr
// ("host:port"), or nothing when addr does not split.
func peer(addr string) []attribute.KeyValue {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	attrs := []attribute.KeyValue{semconv.NetworkPeerAddress(host)}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.NetworkPeerPort(p))
	}
	return attrs
}
