package errclass_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rtchain/chain/errclass"
)

// FuzzClassify builds an error tree from the fuzzer's program (leaves of
// net, net/http, crypto/tls and x509, syscall errnos, texts of the standard
// library, errors that declare their class; wrapped with %w, *url.Error,
// *net.OpError, Wrap, Redact, and joined) and checks that Classify,
// PhaseOf, Unsent and Neutral never panic, answer the same twice, and
// answer the same through fmt.Errorf("%w") and *url.Error; that Wrap keeps
// the class and matches its sentinel; and that Redact keeps the class,
// phase, Neutral, Timeout and errors.Is answers.
func FuzzClassify(f *testing.F) {
	for _, p := range [][]byte{
		{opLeaf + 3, 0, opWrap + 3, opWrap + 2, 0, opWrap + 1},  // refused dial in a url.Error
		{opLeaf + 0, opLeaf + 5, 1, opJoin},                     // canceled joined with a DNS timeout
		{opLeaf + 7, 2, opWrap + 0, opWrap + 4},                 // a text of net/http, wrapped twice
		{opLeaf + 6, 4, opWrap + 6, 3, opWrap + 5},              // a certificate error in a classed wrapper, redacted
		{opLeaf + 9, 7, opLeaf + 12, 7, opJoin + 1, opWrap + 7}, // a refused stream and a classed error, joined, in a verification error
		{opLeaf + 8, 5, 'h', 'e', 'l', 'l', 'o', opLeaf + 10, 1, opJoin},
		{opLeaf + 11, 3, opWrap + 2, 4, opWrap + 8},
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		err := build(program, nil)
		if err == nil {
			return
		}
		checkClassify(t, err)
	})
}

func checkClassify(t *testing.T, err error) {
	t.Helper()
	class, phase, unsent, neutral := errclass.Classify(err), errclass.PhaseOf(err), errclass.Unsent(err), errclass.Neutral(err)
	if class > errclass.Unknown {
		t.Fatalf("Classify(%v) = %d, not a class", err, class)
	}
	same := func(what string, e error) {
		t.Helper()
		c, p, u, n := errclass.Classify(e), errclass.PhaseOf(e), errclass.Unsent(e), errclass.Neutral(e)
		if c != class || p != phase || u != unsent || n != neutral {
			t.Fatalf("%s: class %v, phase %q, unsent %v, neutral %v; want %v, %q, %v, %v for %#v",
				what, c, p, u, n, class, phase, unsent, neutral, err)
		}
	}
	same("asked again", err)
	same("in fmt.Errorf(%w)", fmt.Errorf("layer: %w", err))
	same("in *url.Error", &url.Error{Op: "Get", URL: "http://example.test/", Err: err})

	w := errclass.Wrap(err)
	if c := errclass.Classify(w); c != class || w.Error() != err.Error() {
		t.Fatalf("Wrap: class %v and text %q; want %v and %q", c, w.Error(), class, err.Error())
	}
	if s := class.Sentinel(); s != nil && !errors.Is(w, s) {
		t.Fatalf("Wrap(%v) does not match %v", err, s)
	}

	r := errclass.Redact(err)
	if c, p, n := errclass.Classify(r), errclass.PhaseOf(r), errclass.Neutral(r); c != class || p != phase || n != neutral {
		t.Fatalf("Redact: class %v, phase %q, neutral %v; want %v, %q, %v", c, p, n, class, phase, neutral)
	}
	if got, want := reportsTimeout(r), reportsTimeout(err); got != want {
		t.Fatalf("Redact: Timeout %v, want %v", got, want)
	}
	for _, target := range isTargets {
		if got, want := errors.Is(r, target), errors.Is(err, target) || target == class.Sentinel(); got != want {
			t.Fatalf("errors.Is(Redact(err), %v) = %v, want %v", target, got, want)
		}
	}
}

var isTargets = []error{context.Canceled, context.DeadlineExceeded, os.ErrDeadlineExceeded, syscall.ECONNREFUSED,
	syscall.ECONNRESET, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, http.ErrSchemeMismatch,
	errclass.ErrNetwork, errclass.ErrTimeout, errclass.ErrHTTPStatus}

// reportsTimeout is what url.Error.Timeout would say of err's chain: the
// answer of its first error that has a Timeout method.
func reportsTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// FuzzRedact plants user info and a query value in the URLs of an error
// tree (the *url.Error that http.Client returns, URLs and forms of the
// secrets in texts) and checks Redact's text: no planted secret survives
// when the tree holds the *url.Error (Redact knows the secrets from there),
// it is valid UTF-8, and redacting it again changes nothing. As in
// internal/redact's FuzzText, the secrets are spelt without the capitals of
// the placeholder.
func FuzzRedact(f *testing.F) {
	f.Add([]byte{opLeaf + 3, 0, opWrap + 2, 0, opWrap + 1}, "bob", "p@ss/w0rd", "token", "s3cret")
	f.Add([]byte{opLeaf + 8, 9, 'k', 'e', 'y', ' ', 0x06, ' ', '"', 0x07, '"', opWrap + 1}, "u", "p", "k", "Zq7")
	f.Add([]byte{opLeaf + 8, 4, 0x0e, ' ', 0x04, 0x05, opLeaf + 1, opJoin, opWrap + 0}, "alice", "hunter22", "q", "a+b c/d")
	f.Add([]byte{opLeaf + 8, 3, 0x01, ':', 0x02, opWrap + 1, opWrap + 4}, "user-long", "pw", "a", "1")
	f.Fuzz(func(t *testing.T, program []byte, user, pass, key, value string) {
		user, pass, key, value = unplaceholder(user), unplaceholder(pass), unplaceholder(key), unplaceholder(value)
		u := &url.URL{Scheme: "http", Host: "example.test", Path: "/p",
			User: url.UserPassword(user, pass), RawQuery: url.Values{key: {value}}.Encode()}
		err := build(program, u)
		if err == nil {
			return
		}
		text := errclass.Redact(err).Error()
		if !utf8.ValidString(text) {
			t.Fatalf("Redact(%q) = %q: not valid UTF-8", err, text)
		}
		for _, s := range plantedForms(u, key, value) {
			if holdsURL(err, u.String()) && strings.Contains(text, s) {
				t.Fatalf("Redact(%q) = %q: %q survives", err, text, s)
			}
		}
		if again := errclass.Redact(errors.New(text)).Error(); again != text {
			t.Fatalf("Redact(%q) = %q, and again %q", err, text, again)
		}
	})
}

// unplaceholder folds the capitals of the placeholder REDACTED to lower
// case.
func unplaceholder(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune("REDACT", r) {
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

// plantedForms returns what must not survive in a text about u: its user
// name, password and query value in their raw, decoded and escaped forms
// when at least four bytes long, and the contexts of shorter ones.
func plantedForms(u *url.URL, key, value string) []string {
	var out []string
	for _, s := range []string{u.User.Username(), pass(u)} {
		for _, f := range []string{s, url.PathEscape(s), url.QueryEscape(s)} {
			if len(f) >= 4 {
				out = append(out, f)
			}
		}
	}
	out = append(out, "//"+u.User.String()+"@")
	if p := pass(u); p != "" {
		out = append(out, ":"+p+"@")
	}
	if value != "" {
		for _, f := range []string{value, url.QueryEscape(value), url.PathEscape(value)} {
			if len(f) >= 4 {
				out = append(out, f)
			}
		}
		for _, f := range []string{value, url.QueryEscape(value)} {
			out = append(out, url.QueryEscape(key)+"="+f, `"`+f+`"`, "'"+f+"'")
		}
	}
	return out
}

// holdsURL reports whether err's chain holds a *url.Error for raw.
func holdsURL(err error, raw string) bool {
	if ue, ok := err.(*url.Error); ok && ue.URL == raw {
		return true
	}
	switch x := err.(type) {
	case interface{ Unwrap() error }:
		return x.Unwrap() != nil && holdsURL(x.Unwrap(), raw)
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			if holdsURL(e, raw) {
				return true
			}
		}
	}
	return false
}

func pass(u *url.URL) string {
	p, _ := u.User.Password()
	return p
}

// The operations of a tree program: a leaf pushes an error, a wrapper
// replaces the top of the stack, a join replaces the top two. The byte
// after an operation selects among its variants where it has some.
const (
	opLeaf = 0  // 13 leaves
	opWrap = 13 // 9 wrappers
	opJoin = 22 // 2 joins
	numOps = 24
)

// maxNodes bounds the size of a tree: a chain from the standard library is
// a few errors deep.
const maxNodes = 64

// build runs program and returns the errors left on the stack, joined; nil
// when there are none. With u, the *url.Error wrappers carry u, and the
// markers of text leaves (see expandMarkers) are replaced by forms of its
// secrets.
func build(program []byte, u *url.URL) error {
	var stack []error
	arg := func() byte {
		if len(program) == 0 {
			return 0
		}
		b := program[0]
		program = program[1:]
		return b
	}
	for nodes := 0; len(program) > 0 && nodes < maxNodes; nodes++ {
		op := int(arg()) % numOps
		switch {
		case op < opWrap:
			stack = append(stack, leaf(op-opLeaf, arg, u))
		case op < opJoin && len(stack) > 0:
			stack[len(stack)-1] = wrap(op-opWrap, arg(), stack[len(stack)-1], u)
		case op >= opJoin && len(stack) > 1:
			a, b := stack[len(stack)-2], stack[len(stack)-1]
			stack = stack[:len(stack)-2]
			if op == opJoin {
				stack = append(stack, errors.Join(a, b))
			} else {
				stack = append(stack, fmt.Errorf("%w; %w", a, b))
			}
		}
	}
	switch len(stack) {
	case 0:
		return nil
	case 1:
		return stack[0]
	}
	return errors.Join(stack...)
}

var (
	errnos = []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN, syscall.ETIMEDOUT, syscall.EAGAIN}
	sentinels = []error{io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, http.ErrLineTooLong, http.ErrSchemeMismatch,
		http.ErrHandlerTimeout, os.ErrNotExist}
	netOps = []string{"dial", "read", "write", "remote error", "local error", "proxyconnect"}
)

func leaf(op int, arg func() byte, u *url.URL) error {
	switch op {
	case 0:
		return context.Canceled
	case 1:
		return context.DeadlineExceeded
	case 2:
		return os.ErrDeadlineExceeded
	case 3:
		return errnos[int(arg())%len(errnos)]
	case 4:
		return sentinels[int(arg())%len(sentinels)]
	case 5:
		b := arg()
		return &net.DNSError{Err: "lookup failed", Name: "example.test", IsTimeout: b&1 != 0, IsNotFound: b&2 != 0, IsTemporary: b&4 != 0}
	case 6:
		return tlsLeaf(arg())
	case 7:
		texts := errclass.StdlibTexts()
		return errors.New("x " + texts[int(arg())%len(texts)].Text + " y")
	case 8:
		n := int(arg())
		var b []byte
		for range n {
			b = append(b, arg())
		}
		return errors.New(expandMarkers(string(b), u))
	case 9:
		b := arg()
		return h2Like{StreamID: 1, Code: uint32(b % 16), Cause: causes[int(b/16)%len(causes)]}
	case 10:
		return timeoutErr("i/o timeout")
	case 11:
		return &errclass.StatusError{StatusCode: 400 + int(arg())}
	}
	return declared(arg(), nil)
}

var causes = []error{nil, errors.New("received from peer"), errors.New("protocol error")}

func tlsLeaf(b byte) error {
	cert := &x509.Certificate{}
	switch b % 12 {
	case 0:
		return tls.RecordHeaderError{Msg: "not TLS"}
	case 1:
		return x509.UnknownAuthorityError{Cert: cert}
	case 2:
		return x509.HostnameError{Certificate: cert, Host: "example.test"}
	case 3:
		return x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired}
	case 4:
		return &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{Cert: cert}}
	case 5:
		return tls.AlertError(b)
	case 6:
		return x509.SystemRootsError{}
	case 7:
		return x509.ConstraintViolationError{}
	case 8:
		return x509.UnhandledCriticalExtension{}
	case 9:
		return x509.InsecureAlgorithmError(x509.SHA1WithRSA)
	case 10:
		return &tls.ECHRejectionError{}
	}
	return textproto.ProtocolError("malformed MIME header line")
}

func wrap(op int, b byte, err error, u *url.URL) error {
	switch op {
	case 0:
		return fmt.Errorf("layer: %w", err)
	case 1:
		raw := "http://example.test/x"
		if u != nil {
			raw = u.String()
		}
		return &url.Error{Op: "Get", URL: raw, Err: err}
	case 2:
		return &net.OpError{Op: netOps[int(b)%len(netOps)], Net: "tcp", Err: err}
	case 3:
		return os.NewSyscallError("connect", err)
	case 4:
		return errclass.Wrap(err)
	case 5:
		return errclass.Redact(err)
	case 6:
		return declared(b, err)
	case 7:
		return &tls.CertificateVerificationError{Err: err}
	}
	return &net.DNSError{Err: "lookup failed", Name: "example.test", UnwrapErr: err}
}

// declaredErr is an error of another package that declares its class, its
// phase, whether it is neutral, a pause and a timeout, depending on b, and
// may wrap another.
type declaredErr struct {
	b   byte
	err error
}

func declared(b byte, err error) error { return &declaredErr{b, err} }

func (e *declaredErr) Error() string { return fmt.Sprintf("declared %d", e.b) }
func (e *declaredErr) Unwrap() error { return e.err }

func (e *declaredErr) Class() errclass.Class { return errclass.Class(e.b % 13) }

func (e *declaredErr) TimeoutPhase() errclass.Phase {
	return []errclass.Phase{errclass.PhaseNone, errclass.PhaseConnect, errclass.PhaseBodyIdle, "custom"}[e.b/13%4]
}

func (e *declaredErr) Neutral() bool            { return e.b&64 != 0 }
func (e *declaredErr) Timeout() bool            { return e.b&128 != 0 }
func (e *declaredErr) PausedFor() time.Duration { return time.Duration(e.b) * time.Millisecond }
func (e *declaredErr) Is(target error) bool     { return target != nil && target == e.Class().Sentinel() }

// h2Like has the shape of net/http's unexported HTTP/2 StreamError, and its
// As method fills any struct of the same field names and types, as
// net/http's does.
type h2Like struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

func (e h2Like) Error() string {
	return fmt.Sprintf("stream error: stream ID %d; code %d", e.StreamID, e.Code)
}

func (e h2Like) As(target any) bool {
	dst := reflect.ValueOf(target).Elem()
	src := reflect.ValueOf(e)
	if dst.Kind() != reflect.Struct || dst.NumField() != src.NumField() {
		return false
	}
	for i := range src.NumField() {
		sf, df := src.Type().Field(i), dst.Type().Field(i)
		if sf.Name != df.Name || !df.IsExported() || !sf.Type.ConvertibleTo(df.Type) {
			return false
		}
	}
	for i := range src.NumField() {
		dst.Field(i).Set(src.Field(i).Convert(dst.Field(i).Type()))
	}
	return true
}

// expandMarkers replaces the markers of text by forms of u's secrets:
// 0x01 user, 0x02 password, 0x03 the query value as the raw query holds
// it, 0x04 decoded, 0x05 path-escaped, 0x06 the key=value pair, 0x07 the
// value, 0x0e the URL. Without u, text is returned as it is.
func expandMarkers(text string, u *url.URL) string {
	if u == nil {
		return text
	}
	var value string
	for _, vs := range u.Query() {
		value = vs[0]
	}
	return strings.NewReplacer("\x01", u.User.Username(), "\x02", pass(u), "\x03", url.QueryEscape(value),
		"\x04", value, "\x05", url.PathEscape(value), "\x06", u.RawQuery, "\x07", value, "\x0e", u.String(),
	).Replace(text)
}
