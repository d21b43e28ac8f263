package tracing

import "strconv"

// knownMethod returns method when it is one of the methods the semantic
// conventions know (case-sensitive), and "_OTHER" otherwise, so that the
// method never carries unbounded values into a metric.
func knownMethod(method string) string {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY":
		return method
	case "":
		return "GET" // net/http sends an empty method as GET
	}
	return "_OTHER"
}

// spanName returns the span name the semantic conventions give for a client
// span without a URL template: the method, or "HTTP" for an unknown one.
func spanName(method string) string {
	m := knownMethod(method)
	if m == "_OTHER" {
		return "HTTP"
	}
	return m
}

// serverPort returns the port of a URL, inferring it from the scheme when the
// URL has none, or 0 when it cannot be told.
func serverPort(scheme, port string) int {
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return 0
		}
		return p
	}
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	}
	return 0
}

// protoVersion returns network.protocol.version for a response's protocol:
// "1.1", "2", "3", "1.0"; "" when the response does not say (a fake).
func protoVersion(major, minor int) string {
	switch {
	case major <= 0:
		return ""
	case major == 1 && minor == 1:
		return "1.1"
	case major == 2:
		return "2"
	case major == 3:
		return "3"
	case major == 1 && minor == 0:
		return "1.0"
	}
	return strconv.Itoa(major) + "." + strconv.Itoa(minor)
}
