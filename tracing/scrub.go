package tracing

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rtchain/chain/internal/redact"
)

// minSecret is the shortest header or query value that scrub replaces
// wherever it appears in a text; shorter ones would garble the text (a value
// "1" inside an IP address) while saying little. URLs in the text are redacted
// whole, whatever the length of their values.
const minSecret = 4

// scrub returns text, an error text about req, with every secret of req that
// it contains replaced by REDACTED: URLs in the text have their user info and
// query values redacted, and the values of the secret headers (Authorization,
// Proxy-Authorization, Cookie, Set-Cookie and the extra names), of the URL's
// user info and of its query parameters are replaced wherever they appear.
func scrub(text string, req *http.Request, extra []string) string {
	text = scrubURLs(text)
	var secrets []string
	add := func(s string) {
		if len(s) >= minSecret {
			secrets = append(secrets, s)
		}
	}
	if u := req.URL; u != nil {
		if u.User != nil {
			add(u.User.Username())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		if u.RawQuery != "" {
			for _, pair := range strings.Split(u.RawQuery, "&") {
				if _, v, ok := strings.Cut(pair, "="); ok {
					add(v)
					if dv, err := url.QueryUnescape(v); err == nil && dv != v {
						add(dv)
					}
				}
			}
		}
	}
	for name, vs := range req.Header {
		if !redact.Secret(name, extra) {
			continue
		}
		for _, v := range vs {
			add(v)
			// "Bearer abc", "a=1; b=2": each part may appear alone.
			for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ';' || r == ',' }) {
				add(f)
				if _, cv, ok := strings.Cut(f, "="); ok {
					add(cv)
				}
			}
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, redact.Redacted)
	}
	return text
}

// scrubURLs redacts every absolute URL in text (as found by a scheme followed
// by "://", up to a space or a quote).
func scrubURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "://")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		start := i
		for start > 0 && isSchemeByte(text[start-1]) {
			start--
		}
		end := i + 3
		for end < len(text) && !strings.ContainsRune(" \t\n\"'<>`", rune(text[end])) {
			end++
		}
		b.WriteString(text[:start])
		raw := text[start:end]
		if u, err := url.Parse(raw); err == nil && start < i {
			b.WriteString(redact.URL(u))
		} else if j := strings.IndexAny(raw, "@?"); j >= 0 {
			b.WriteString(raw[:i-start+3] + redact.Redacted) // unparsable: drop what may be secret
		} else {
			b.WriteString(raw)
		}
		text = text[end:]
	}
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}
