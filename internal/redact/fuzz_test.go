package redact_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rtchain/chain/internal/redact"
)

// FuzzURL checks URL on any URL that parses: the input is not modified, the
// output is valid UTF-8, parses back with no user info but REDACTED, every
// query value REDACTED and no fragment, keeps the scheme, host and path,
// and redacting it again changes nothing.
func FuzzURL(f *testing.F) {
	for _, s := range []string{
		"http://example.test/a/b",
		"https://user:hunter2@example.test/p",
		"http://example.test/p?token=s3cret&x=1&flag",
		"http://example.test/p?a=%zz",
		"http://example.test/p#frag-secret",
		"http://u@h/p?a=b;c=d&&=e",
		"mailto:u@h?subject=s",
		"//u:p@h/x?q=1",
		"http://[::1]:80/%2F?%41=%42#%43",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		before := u.String()
		out := redact.URL(u)
		if u.String() != before {
			t.Fatalf("URL(%q) changed its input to %q", before, u.String())
		}
		if !utf8.ValidString(out) {
			t.Fatalf("URL(%q) = %q: not valid UTF-8", raw, out)
		}
		r, err := url.Parse(out)
		if err != nil {
			t.Fatalf("URL(%q) = %q, which does not parse: %v", raw, out, err)
		}
		if r.User != nil && r.User.String() != redact.Redacted {
			t.Fatalf("URL(%q) = %q: user info %q", raw, out, r.User)
		}
		if r.Fragment != "" {
			t.Fatalf("URL(%q) = %q: fragment %q", raw, out, r.Fragment)
		}
		for pair := range strings.SplitSeq(r.RawQuery, "&") {
			if _, v, ok := strings.Cut(pair, "="); ok && v != redact.Redacted {
				t.Fatalf("URL(%q) = %q: query value %q", raw, out, v)
			}
		}
		if r.Scheme != u.Scheme || r.Host != u.Host || r.EscapedPath() != u.EscapedPath() {
			t.Fatalf("URL(%q) = %q: scheme, host or path changed", raw, out)
		}
		if again := redact.URL(r); again != out {
			t.Fatalf("URL(%q) = %q, and again %q", raw, out, again)
		}
	})
}

// FuzzHeader checks Header: the values of the secret headers (by any
// spelling of their names) and of the extra names are all REDACTED, the
// other values are kept, and the input is not modified.
func FuzzHeader(f *testing.F) {
	for _, s := range [][3]string{
		{"Authorization", "Bearer tok", ""},
		{"authorization", "Basic x", ""},
		{"SET-COOKIE", "sid=9", ""},
		{"Cookie", "a=1; b=2", "x-api-key"},
		{"X-Api-Key", "k", "x-api-key"},
		{"Accept", "*/*", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, name, value, extra string) {
		h := http.Header{name: {value, value}}
		out := redact.Header(h, extra)
		if len(h[name]) != 2 || h[name][0] != value || h[name][1] != value {
			t.Fatalf("Header changed its input: %q", h)
		}
		secret := strings.EqualFold(name, extra)
		for _, s := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"} {
			secret = secret || http.CanonicalHeaderKey(name) == s
		}
		want := value
		if secret {
			want = redact.Redacted
		}
		if got := out[name]; len(got) != 2 || got[0] != want || got[1] != want {
			t.Fatalf("Header(%q: %q, extra %q) = %q, want %q twice", name, value, extra, got, want)
		}
		if secret != redact.Secret(name, []string{extra}) {
			t.Fatalf("Secret(%q, %q) = %v", name, extra, !secret)
		}
	})
}

// Markers that FuzzText replaces in its text by a form of a planted secret,
// so that the fuzzer can place the secrets anywhere.
const (
	mUser       = "\x01" // user name
	mPass       = "\x02" // password
	mRawValue   = "\x03" // query value as the raw query holds it
	mValue      = "\x04" // query value, decoded
	mPathValue  = "\x05" // query value, escaped as a path
	mPair       = "\x06" // key=value as the raw query holds it
	mQuoted     = "\x07" // "value"
	mURL        = "\x0e" // the request's URL
	mToken      = "\x0f" // the bearer token
	mCookie     = "\x10" // the cookie value
	mCookiePair = "\x11" // sid=cookie
	mPathPass   = "\x12" // password escaped as a path
	mAuth       = "\x13" // the whole Authorization value
	mUserinfo   = "\x14" // //user:password@
)

// FuzzText plants secrets in a request (user info, a query value, a bearer
// token, a cookie) and their forms in a text, and checks Text: no planted
// secret survives (one of at least MinSecret bytes wherever it stands, a
// shorter one in its context: key=value, quotes, user info before "@"), the
// output is valid UTF-8, and redacting it again changes nothing.
//
// Whether a secret survives is checked when the secrets are spelt without
// the capitals of the placeholder (R, E, D, A, C, T): a secret such as
// "EDAC" cannot be told apart from the REDACTED that replaces another one.
// With fold, the fuzzer's secrets are folded to lower case to be so.
func FuzzText(f *testing.F) {
	f.Add("Get \"\x0e\": dial tcp 10.0.0.1:80: connection refused", "bob", "p@ss/w0rd", "token", "s3cret value", "tok-123456", "cookie99", true)
	f.Add("password \x02, \x12, user \x01, \x14", "alice", "hunter22", "k", "Zq7", "t", "c", true)
	f.Add("bad value \x06 and \x07 and '\x04' and k=\x04", "u", "p", "k", "1", "x", "y", true)
	f.Add("auth \x13 / \x0f, cookie \x11 \x10", "u", "", "a", "b", "tok-123456", "ab", true)
	f.Add("decoded \x04, raw \x03, path \x05", "u", "p", "e", "a+b c/d", "x", "y", true)
	f.Add("unparsable ://\x01:\x02@host and \x0e#frag", "bob", "x", "q", "s", "x", "y", true)
	f.Add("no secret at 10.0.0.1:80 REDACTED", "", "", "", "", "", "", true)
	f.Add("bad \x06 in \x0e", "", "", "color", "RED", "EDAC", "x", false)
	f.Fuzz(func(t *testing.T, text, user, pass, key, value, token, cookie string, fold bool) {
		if len(text) > 1<<12 {
			return
		}
		secrets := []*string{&user, &pass, &key, &value, &token, &cookie}
		checkLeaks := true
		for _, s := range secrets {
			if fold {
				*s = unplaceholder(*s)
			}
			checkLeaks = checkLeaks && !strings.ContainsAny(*s, redact.Redacted)
		}
		req := plantedRequest(user, pass, key, value, token, cookie)
		in := expand(text, req, key, value)
		if len(in) > 1<<14 {
			return // an error text is short: keep each run fast
		}
		out := redact.Text(in, req, nil)
		if !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q: not valid UTF-8", in, out)
		}
		for _, s := range plantedForms(req, key, value) {
			if checkLeaks && strings.Contains(out, s) {
				t.Fatalf("Text(%q) = %q: %q survives", in, out, s)
			}
		}
		if again := redact.Text(out, req, nil); again != out {
			t.Fatalf("Text(%q) = %q, and again %q", in, out, again)
		}
	})
}

// unplaceholder folds the capitals of the placeholder to lower case.
func unplaceholder(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(redact.Redacted, r) {
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

// plantedRequest is a request carrying the secrets.
func plantedRequest(user, pass, key, value, token, cookie string) *http.Request {
	u := &url.URL{Scheme: "http", Host: "example.test", Path: "/p",
		RawQuery: url.Values{key: {value}}.Encode() + "&flag"}
	if user != "" || pass != "" {
		u.User = url.UserPassword(user, pass)
	}
	h := http.Header{"Accept": {"*/*"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if cookie != "" {
		h.Set("Cookie", "sid="+cookie)
	}
	return &http.Request{Method: http.MethodGet, URL: u, Header: h}
}

// expand replaces the markers of text by the forms of the secrets of req.
func expand(text string, req *http.Request, key, value string) string {
	u := req.URL
	pass, _ := u.User.Password()
	_, token, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	_, cookie, _ := strings.Cut(req.Header.Get("Cookie"), "=")
	return strings.NewReplacer(
		mUser, u.User.Username(),
		mPass, pass,
		mRawValue, url.QueryEscape(value),
		mValue, value,
		mPathValue, url.PathEscape(value),
		mPair, url.QueryEscape(key)+"="+url.QueryEscape(value),
		mQuoted, `"`+value+`"`,
		mURL, u.String(),
		mToken, token,
		mCookie, cookie,
		mCookiePair, req.Header.Get("Cookie"),
		mPathPass, url.PathEscape(pass),
		mAuth, req.Header.Get("Authorization"),
		mUserinfo, "//"+u.User.String()+"@",
	).Replace(text)
}

// plantedForms returns the strings that must not survive in a text about
// req: every form of a secret of at least MinSecret bytes, and the
// contexts of the shorter ones.
func plantedForms(req *http.Request, key, value string) []string {
	u := req.URL
	var out []string
	long := func(ss ...string) {
		for _, s := range ss {
			if len(s) >= redact.MinSecret {
				out = append(out, s)
			}
		}
	}
	if u.User != nil {
		name := u.User.Username()
		pass, _ := u.User.Password()
		long(name, pass, url.PathEscape(name), url.QueryEscape(name), url.PathEscape(pass), url.QueryEscape(pass))
		out = append(out, "//"+u.User.String()+"@")
		if pass != "" {
			out = append(out, ":"+pass+"@")
		}
	}
	if value != "" {
		raw := url.QueryEscape(value)
		long(raw, value, url.PathEscape(value))
		for _, v := range []string{raw, value} {
			out = append(out, url.QueryEscape(key)+"="+v, `"`+v+`"`, "'"+v+"'")
		}
	}
	// A secret header's value, whole and in its parts (split at spaces,
	// semicolons and commas), and the value of each key=value part.
	for _, name := range []string{"Authorization", "Cookie"} {
		v := req.Header.Get(name)
		long(v)
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ';' || r == ',' }) {
			long(part)
			if _, pv, ok := strings.Cut(part, "="); ok && pv != "" {
				long(pv)
				out = append(out, part)
			}
		}
	}
	return out
}
