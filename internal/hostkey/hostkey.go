// Package hostkey gives the per-host key that the breaker, the limiter and
// the per-key retry budget share, so that "api.example", "API.example" and
// "api.example:443" are one host to every layer.
package hostkey

import (
	"net/http"
	"strings"
)

// Of returns the normalised host of req: the URL's host (Request.Host when
// the URL has none), lower-cased, with the scheme's default port dropped
// (80 for http and ws, 443 for https and wss). An IPv6 literal keeps its
// brackets only when a port follows ("[::1]:8080", "::1"). It allocates only
// when the host needs changing.
func Of(req *http.Request) string {
	host, scheme := req.Host, ""
	if req.URL != nil {
		scheme = req.URL.Scheme
		if req.URL.Host != "" {
			host = req.URL.Host
		}
	}
	return Normalize(scheme, host)
}

// Normalize returns the key of host ("name", "name:port", "[v6]" or
// "[v6]:port") under scheme, as [Of] does.
func Normalize(scheme, host string) string {
	if port, ok := defaultPort(scheme); ok && strings.HasSuffix(host, port) {
		host = host[:len(host)-len(port)]
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}

func defaultPort(scheme string) (string, bool) {
	switch scheme { // url.Parse lower-cases the scheme: the common case
	case "https", "wss":
		return ":443", true
	case "http", "ws":
		return ":80", true
	case "":
		return "", false
	}
	switch strings.ToLower(scheme) {
	case "http", "ws":
		return ":80", true
	case "https", "wss":
		return ":443", true
	}
	return "", false
}
