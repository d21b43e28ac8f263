package tracing

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestServerPort(t *testing.T) {
	for _, tc := range []struct {
		scheme, port string
		want         int
	}{
		{"http", "", 80}, {"https", "", 443}, {"http", "8080", 8080}, {"https", "80", 80},
		{"ftp", "", 0}, {"http", "99999", 0}, {"http", "x", 0},
	} {
		assert.Equal(t, tc.want, serverPort(tc.scheme, tc.port), "%s %q", tc.scheme, tc.port)
	}
}

func TestMethodAndName(t *testing.T) {
	for _, tc := range []struct{ method, known, name string }{
		{"GET", "GET", "GET"}, {"", "GET", "GET"}, {"QUERY", "QUERY", "QUERY"}, {"PATCH", "PATCH", "PATCH"},
		{"get", "_OTHER", "HTTP"}, {"PROPFIND", "_OTHER", "HTTP"},
	} {
		assert.Equal(t, tc.known, knownMethod(tc.method), tc.method)
		assert.Equal(t, tc.name, spanName(tc.method), tc.method)
	}
}

func TestProtoVersion(t *testing.T) {
	assert.Equal(t, "1.1", protoVersion(1, 1))
	assert.Equal(t, "1.0", protoVersion(1, 0))
	assert.Equal(t, "2", protoVersion(2, 0))
	assert.Equal(t, "3", protoVersion(3, 0))
	assert.Equal(t, "", protoVersion(0, 0))
}
