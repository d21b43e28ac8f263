package redact

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// MinSecret is the shortest secret that [Secrets.Scrub] replaces wherever it
// appears in a text. Shorter ones (a query value "1", a user "bob") would
// garble the text (the "1" inside an IP address) if replaced everywhere; they
// are replaced only where their context gives them away: as a "key=value"
// query pair, inside quotes, or as user info before "@".
const MinSecret = 4

// Secrets is the list of the secrets of a request (the values of its secret
// headers, its URL's user info and query values) that must not survive in a
// text about it, such as an error message. The zero value holds none; add
// them with [Secrets.URL], [Secrets.Header] and [Secrets.Text]. It is not
// safe for concurrent use.
type Secrets struct {
	anywhere []string // replaced wherever they appear (at least MinSecret bytes)
	inPlace  []string // replaced with the placeholder inside their context (see add)
}

// URL adds the user info and the query values of u, in their raw, decoded
// and percent-encoded forms. A nil u adds nothing.
func (s *Secrets) URL(u *url.URL) {
	if u == nil {
		return
	}
	if u.User != nil {
		name := u.User.Username()
		pass, hasPass := u.User.Password()
		s.add(name)
		s.add(pass)
		// The encoded forms in which user info reaches a text: as url.URL
		// prints it, and escaped as a path or a query would be.
		enc := u.User.String()
		s.add(enc)
		s.inPlace = append(s.inPlace, "//"+enc+"@")
		for _, v := range [...]string{name, pass} {
			s.add(url.PathEscape(v))
			s.add(url.QueryEscape(v))
		}
		if hasPass && pass != "" {
			s.inPlace = append(s.inPlace, ":"+pass+"@", ":"+url.PathEscape(pass)+"@")
		}
	}
	if u.RawQuery != "" {
		s.query(u.RawQuery)
	}
}

// query adds the values of a raw query string, each in its raw and decoded
// form, alone (when long enough) and as its "key=value" pair, and escaped
// as a path or a query would be (alone, when long enough).
func (s *Secrets) query(raw string) {
	for pair := range strings.SplitSeq(raw, "&") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || v == "" {
			continue
		}
		forms := [...]string{v, ""}
		dv, err := url.QueryUnescape(v)
		if err == nil && dv != v {
			forms[1] = dv
		}
		for _, f := range forms {
			if f == "" {
				continue
			}
			s.add(f)
			s.inPlace = append(s.inPlace, k+"="+f, `"`+f+`"`, "'"+f+"'")
		}
		if err == nil {
			s.add(url.PathEscape(dv))
			s.add(url.QueryEscape(dv))
		}
	}
}

// Header adds the values of the secret headers of h: Authorization,
// Proxy-Authorization, Cookie, Set-Cookie and the names in extra (any case).
// Each value is added whole and in its parts ("Bearer abc": "abc"; "a=1; b=2":
// "a=1", "1", ...), since each part may appear alone.
func (s *Secrets) Header(h http.Header, extra []string) {
	for name, vs := range h {
		if !Secret(name, extra) {
			continue
		}
		for _, v := range vs {
			s.add(v)
			for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ';' || r == ',' }) {
				s.add(f)
				if k, cv, ok := strings.Cut(f, "="); ok && cv != "" {
					s.add(cv)
					s.inPlace = append(s.inPlace, k+"="+cv)
				}
			}
		}
	}
}

// Text adds the secrets of every absolute URL that text contains (see
// [Secrets.URL]), so that they are also removed where they appear outside
// the URL.
func (s *Secrets) Text(text string) {
	forEachURL(text, func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
			s.URL(u)
		}
	})
}

// add adds v to the secrets replaced wherever they appear, when it is long
// enough; a shorter v is only replaced in its context, which the caller adds.
func (s *Secrets) add(v string) {
	if len(v) >= MinSecret {
		s.anywhere = append(s.anywhere, v)
	}
}

// Scrub returns text with every absolute URL redacted (as [URL] does) and
// every secret of s replaced by REDACTED. A short secret is replaced only in
// its context: "key=value" becomes "key=REDACTED", a quoted value becomes a
// quoted REDACTED, user info before "@" becomes REDACTED. The result is
// valid UTF-8 (span attributes and their exporters need it): a byte that is
// not becomes U+FFFD, before the secrets are looked for, in text and in
// secrets alike, and after they are replaced, for a secret that ended inside
// a character. No secret is looked for across a REDACTED already in the
// text, so that a secret that overlaps it (a query value "RED") does not eat
// into it, and scrubbing a scrubbed text changes nothing.
func (s *Secrets) Scrub(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	// Longest first, so that a secret containing another is replaced whole.
	reps := make([][2]string, 0, len(s.inPlace)+len(s.anywhere))
	for _, v := range s.inPlace {
		reps = appendValid(reps, v, inPlace(v))
	}
	for _, v := range s.anywhere {
		reps = appendValid(reps, v, Redacted)
	}
	slices.SortStableFunc(reps, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
	// A secret replaced next to an URL can join what followed it to the
	// URL, which the next round redacts: go on until no secret is left.
	for range maxRounds {
		text = scrubURLs(text)
		replaced := text
		for _, r := range reps {
			replaced = replaceOutside(replaced, r[0], r[1])
		}
		replaced = strings.ToValidUTF8(replaced, "\uFFFD")
		if replaced == text {
			break
		}
		text = replaced
	}
	return text
}

// maxRounds bounds the rounds of Scrub; each one after the second needs a
// secret glued to an URL.
const maxRounds = 4

// replaceOutside replaces old by with in text, outside the placeholders
// that text holds.
func replaceOutside(text, old, with string) string {
	if !strings.Contains(text, old) {
		return text
	}
	parts := strings.Split(text, Redacted)
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, old, with)
	}
	return strings.Join(parts, Redacted)
}

// appendValid appends the replacement of v by with, and that of v's valid
// UTF-8 form when v is not valid, as the text holds it then.
func appendValid(reps [][2]string, v, with string) [][2]string {
	reps = append(reps, [2]string{v, with})
	if !utf8.ValidString(v) {
		reps = append(reps, [2]string{strings.ToValidUTF8(v, "\uFFFD"), with})
	}
	return reps
}

// inPlace returns the replacement of an in-context secret: its context kept,
// the secret replaced.
func inPlace(v string) string {
	switch {
	case strings.HasPrefix(v, "//") && strings.HasSuffix(v, "@"):
		return "//" + Redacted + "@"
	case strings.HasPrefix(v, ":") && strings.HasSuffix(v, "@"):
		return ":" + Redacted + "@"
	case len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0]:
		return v[:1] + Redacted + v[:1]
	}
	if k, _, ok := strings.Cut(v, "="); ok {
		return k + "=" + Redacted
	}
	return Redacted
}

// Text returns text with every absolute URL in it redacted and every secret
// of req (see [Secrets.URL] and [Secrets.Header], with the extra secret
// header names) and of the URLs in text removed. A nil req adds no secret of
// its own.
func Text(text string, req *http.Request, extra []string) string {
	var s Secrets
	if req != nil {
		s.URL(req.URL)
		s.Header(req.Header, extra)
	}
	s.Text(text)
	return s.Scrub(text)
}

// scrubURLs redacts every absolute URL in text (see forEachURL); an URL that
// does not parse loses everything after its scheme when it may hold user
// info or a query. The scheme keeps its spelling (url.Parse lowers it), so
// that nothing but secrets changes in the text.
func scrubURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	var b strings.Builder
	last := 0
	forEachURLAt(text, func(start, end int) {
		b.WriteString(text[last:start])
		raw := text[start:end]
		scheme := raw[:strings.Index(raw, "://")]
		if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
			b.WriteString(scheme + strings.TrimPrefix(URL(u), u.Scheme))
		} else if strings.ContainsAny(raw, "@?") {
			b.WriteString(scheme + "://" + Redacted)
		} else {
			b.WriteString(raw)
		}
		last = end
	})
	b.WriteString(text[last:])
	return b.String()
}

// forEachURL calls f with every absolute URL in text.
func forEachURL(text string, f func(raw string)) {
	forEachURLAt(text, func(start, end int) { f(text[start:end]) })
}

// forEachURLAt calls f with the bounds of every absolute URL in text: a
// scheme (possibly empty), "://", and what follows up to a space, a quote or
// an angle bracket, without the punctuation that ends it.
func forEachURLAt(text string, f func(start, end int)) {
	for off := 0; ; {
		i := strings.Index(text[off:], "://")
		if i < 0 {
			return
		}
		i += off
		start := i
		for start > off && isSchemeByte(text[start-1]) {
			start--
		}
		end := i + 3
		for end < len(text) && !strings.ContainsRune(" \t\n\"'<>`", rune(text[end])) {
			end++
		}
		// Punctuation that ends the URL is the sentence's, not the URL's
		// ("…?token=abc: 503", "page=2, then"): it stays in the text.
		for end > i+3 && strings.ContainsRune(trailing, rune(text[end-1])) {
			end--
		}
		f(start, end)
		off = end
	}
}

// trailing is the punctuation that may follow an URL in a sentence.
const trailing = ".,:;!?)]}"

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}
