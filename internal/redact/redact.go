// Package redact removes secrets from URLs, headers and texts (error
// messages) before they reach an error text, a log record or a span
// attribute. One set of rules serves every package: errclass.Redact, the
// spans and the log records of tracing.
package redact

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Redacted is the placeholder written in place of a secret.
const Redacted = "REDACTED"

// URL returns u as a string with any user info replaced by REDACTED (user and
// password both) and the value of every query parameter replaced by REDACTED;
// parameter names are kept, since they say what was asked without saying who.
// The fragment is dropped. The result is valid UTF-8: a byte that is not
// (url.URL keeps those of the query and of an opaque URL) is
// percent-encoded. u is not modified. A nil u gives "".
func URL(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.User == nil && u.RawQuery == "" && u.Fragment == "" {
		return escapeInvalid(u.String())
	}
	c := *u
	if c.User != nil {
		c.User = url.User(Redacted)
	}
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		c.RawQuery = query(c.RawQuery)
	}
	return escapeInvalid(c.String())
}

// escapeInvalid returns s with every byte that is not part of valid UTF-8
// percent-encoded.
func escapeInvalid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte('%')
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&15])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// query replaces every value of a raw query string, keeping its keys and order,
// without decoding it (a malformed escape in a value cannot leak).
func query(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i, pair := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, _, hasValue := strings.Cut(pair, "=")
		b.WriteString(k)
		if hasValue {
			b.WriteString("=" + Redacted)
		}
	}
	return b.String()
}

// sensitive lists the canonical names of the headers whose values are never
// shown.
var sensitive = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
}

// Sensitive reports whether the header named name (any case) always carries a
// secret: Authorization, Proxy-Authorization, Cookie or Set-Cookie.
func Sensitive(name string) bool {
	return sensitive[http.CanonicalHeaderKey(name)]
}

// Header returns a copy of h in which the values of the sensitive headers, and
// of the extra header names given, are replaced by REDACTED. A nil h gives nil.
func Header(h http.Header, extra ...string) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		if Secret(k, extra) {
			r := make([]string, len(vs))
			for i := range r {
				r[i] = Redacted
			}
			out[k] = r
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Secret reports whether the header named name (any case) carries a secret:
// it is one of the headers Sensitive names, or one of extra (any case).
func Secret(name string, extra []string) bool {
	if Sensitive(name) {
		return true
	}
	for _, n := range extra {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}
