package redact_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/redact"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://example.test/a/b", "http://example.test/a/b"},
		{"https://user:hunter2@example.test/p", "https://REDACTED@example.test/p"},
		{"http://example.test/p?token=s3cret&x=1&flag", "http://example.test/p?token=REDACTED&x=REDACTED&flag"},
		{"http://example.test/p?a=%zz", "http://example.test/p?a=REDACTED"},
		{"http://example.test/p#frag-secret", "http://example.test/p"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			require.NoError(t, err)
			before := u.String()
			got := redact.URL(u)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, before, u.String(), "input URL must not change")
			for _, secret := range []string{"hunter2", "s3cret", "frag-secret", "user:"} {
				assert.NotContains(t, got, secret)
			}
		})
	}
	assert.Equal(t, "", redact.URL(nil))
}

func TestHeader(t *testing.T) {
	h := http.Header{
		"Authorization":       {"Bearer tok"},
		"Proxy-Authorization": {"Basic x"},
		"Cookie":              {"a=1", "b=2"},
		"Set-Cookie":          {"sid=9"},
		"X-Api-Key":           {"k"},
		"Accept":              {"*/*"},
	}
	got := redact.Header(h, "x-api-key")
	for k, vs := range got {
		for _, v := range vs {
			if k == "Accept" {
				assert.Equal(t, "*/*", v)
				continue
			}
			assert.Equal(t, redact.Redacted, v, k)
		}
	}
	assert.Len(t, got["Cookie"], 2)
	assert.Equal(t, "Bearer tok", h.Get("Authorization"), "input header must not change")
	assert.True(t, redact.Sensitive("set-cookie"))
	assert.False(t, redact.Sensitive("Accept"))
	assert.Nil(t, redact.Header(nil))
	for _, vs := range got {
		assert.False(t, strings.Contains(strings.Join(vs, ","), "tok"))
	}
}

func TestSecret(t *testing.T) {
	assert.True(t, redact.Secret("authorization", nil))
	assert.True(t, redact.Secret("x-api-key", []string{"X-Api-Key"}))
	assert.True(t, redact.Secret("X-Api-Key", []string{"x-api-key"}))
	assert.False(t, redact.Secret("Accept", []string{"X-Api-Key"}))
	assert.False(t, redact.Secret("X-Api-Key", nil))
}
