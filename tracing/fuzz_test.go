package tracing_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rtchain/chain/tracing"
)

// FuzzRequestID sends a request whose caller set the request id header (or
// not) with any values, under any spelling of its name, through
// RequestID (below another RequestID, or not), and checks what the next
// RoundTripper gets: the caller's header exactly as it was when its first
// value is a non-empty valid header value and so are the others, otherwise
// one new valid id under the canonical name and no other spelling; the id
// on the context is the one sent; the caller's request is not modified;
// nothing panics.
func FuzzRequestID(f *testing.F) {
	f.Add("", uint8(1), "abc-123", "", []byte{}, false)
	f.Add("", uint8(0), "", "", []byte{}, true)
	f.Add("", uint8(2), "", "second", []byte{}, false)
	f.Add("", uint8(1), "bad\r\nX-Injected: 1", "", []byte{}, false)
	f.Add("X-Correlation-ID", uint8(1), "corr-1", "", []byte{}, true)
	f.Add("", uint8(1), "mine", "", []byte{11: 1}, false) // X-Request-ID, as users spell it
	f.Add("bad name", uint8(1), "x", "", []byte{}, false)
	f.Fuzz(func(t *testing.T, header string, n uint8, v1, v2 string, caseMask []byte, outer bool) {
		var opts []tracing.Option
		name := http.CanonicalHeaderKey(tracing.DefaultHeader)
		if header != "" {
			opt, ok := withHeader(t, header)
			if !ok {
				return
			}
			opts, name = append(opts, opt), http.CanonicalHeaderKey(header)
		}
		var caller []string
		switch n % 3 {
		case 1:
			caller = []string{v1}
		case 2:
			caller = []string{v1, v2}
		}
		key := spell(name, caseMask)
		req, err := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if caller != nil {
			req.Header[key] = slices.Clone(caller)
		}
		before := req.Header.Clone()

		var sent http.Header
		var ctxID, outerID string
		var rt http.RoundTripper = tracing.NewRequestID(rtFunc(func(r *http.Request) (*http.Response, error) {
			sent, ctxID, outerID = r.Header, tracing.RequestIDFrom(r.Context()), r.Header.Get("X-Outer-Id")
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
		}), opts...)
		if outer && !strings.EqualFold(name, "X-Outer-Id") {
			rt = tracing.NewRequestID(rt, tracing.WithHeader("X-Outer-Id"))
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		resp.Body.Close()
		if !equalHeader(req.Header, before) {
			t.Fatalf("the caller's header changed: %q, was %q", req.Header, before)
		}
		got := spellings(sent, name)
		// Below another RequestID, the id on the context is the outer one's.
		wantCtx := outerID
		if keep := len(caller) > 0 && caller[0] != "" && !slices.ContainsFunc(caller, invalidValue); keep {
			if !outer {
				wantCtx = caller[0]
			}
			if len(got) != 1 || !slices.Equal(sent[key], caller) || ctxID != wantCtx {
				t.Fatalf("caller's %q: %q sent %q (context id %q), want it kept", key, caller, got, ctxID)
			}
			return
		}
		id := sent.Get(name)
		if !outer {
			wantCtx = id
		}
		if len(got) != 1 || got[0] != name || len(sent[name]) != 1 || id == "" || invalidValue(id) || ctxID != wantCtx || ctxID != id {
			t.Fatalf("caller's %q: %q sent %q (%q, context id %q), want one new valid id", key, caller, got, sent[name], ctxID)
		}
	})
}

// withHeader returns WithHeader(name), or false when it panics, which it
// must do, naming the option, exactly for a name that is not a valid
// header name.
func withHeader(t *testing.T, name string) (opt tracing.Option, ok bool) {
	valid := name != "" && !strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	})
	defer func() {
		if p := recover(); p != nil {
			if valid || !strings.HasPrefix(p.(string), "tracing: WithHeader(") {
				t.Fatalf("WithHeader(%q) panicked: %v", name, p)
			}
		} else if !valid {
			t.Fatalf("WithHeader(%q) did not panic", name)
		}
	}()
	return tracing.WithHeader(name), true
}

// spell returns name with the case of its letters flipped where mask says.
func spell(name string, mask []byte) string {
	b := []byte(name)
	for i := range b {
		if i < len(mask) && mask[i]&1 != 0 && ('a' <= b[i] && b[i] <= 'z' || 'A' <= b[i] && b[i] <= 'Z') {
			b[i] ^= 0x20
		}
	}
	return string(b)
}

// spellings returns the keys of h that are spellings of name.
func spellings(h http.Header, name string) []string {
	var out []string
	for k := range h {
		if strings.EqualFold(k, name) {
			out = append(out, k)
		}
	}
	return out
}

// invalidValue reports whether net/http refuses to send v as a header
// value: it holds a control character other than tab.
func invalidValue(v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, vs := range a {
		if !slices.Equal(vs, b[k]) {
			return false
		}
	}
	return true
}
