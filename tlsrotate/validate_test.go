package tlsrotate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// TestInvalidMaterialIsRejectedAndOldPairKeepsWorking is: each bad
// candidate is reported (by the watcher to WithOnError, and by Reload) with
// its reason, and handshakes keep using the old pair.
func TestInvalidMaterialIsRejectedAndOldPairKeepsWorking(t *testing.T) {
	other := transporttest.NewCA("other-ca")
	now := time.Now()
	cases := []struct {
		name   string
		write  func(e *env)
		reason tlsrotate.Reason
		file   func(e *env) string
	}{
		{"key does not match", func(e *env) {
			p := e.ca.IssueClient("client", time.Hour)
			writeFile(e.t, e.cert, p.CertPEM) // the old key stays
		}, tlsrotate.ReasonKeyMismatch, func(e *env) string { return e.key }},
		{"expired", func(e *env) {
			p := e.ca.Issue(transporttest.CertSpec{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
			writeKeyThenCert(e, p)
		}, tlsrotate.ReasonExpired, func(e *env) string { return e.cert }},
		{"not yet valid", func(e *env) {
			p := e.ca.Issue(transporttest.CertSpec{NotBefore: now.Add(time.Hour), NotAfter: now.Add(2 * time.Hour)})
			writeKeyThenCert(e, p)
		}, tlsrotate.ReasonNotYetValid, func(e *env) string { return e.cert }},
		{"garbage PEM", func(e *env) {
			writeFile(e.t, e.cert, []byte("this is not a certificate\n"))
		}, tlsrotate.ReasonParse, func(e *env) string { return e.cert }},
		{"half-written certificate", func(e *env) {
			p := e.ca.IssueClient("client", time.Hour)
			writeFile(e.t, e.key, p.KeyPEM)
			writeFile(e.t, e.cert, p.CertPEM[:len(p.CertPEM)/2])
		}, tlsrotate.ReasonParse, func(e *env) string { return e.cert }},
		{"trailing garbage after certificate", func(e *env) {
			p := e.ca.IssueClient("client", time.Hour)
			writeFile(e.t, e.key, p.KeyPEM)
			writeFile(e.t, e.cert, append(append([]byte{}, p.CertPEM...), "garbage"...))
		}, tlsrotate.ReasonParse, func(e *env) string { return e.cert }},
		{"empty certificate file", func(e *env) {
			writeFile(e.t, e.cert, nil)
		}, tlsrotate.ReasonParse, func(e *env) string { return e.cert }},
		{"half-written key", func(e *env) {
			p := e.ca.IssueClient("client", time.Hour)
			writeFile(e.t, e.key, p.KeyPEM[:len(p.KeyPEM)-20])
		}, tlsrotate.ReasonParse, func(e *env) string { return e.key }},
		{"CA bundle cut inside its second certificate", func(e *env) {
			b := append(append([]byte{}, e.ca.CertPEM...), other.CertPEM[:len(other.CertPEM)/2]...)
			writeFile(e.t, e.caf, b)
		}, tlsrotate.ReasonParse, func(e *env) string { return e.caf }},
		{"certificate from another CA", func(e *env) {
			writeKeyThenCert(e, other.IssueClient("client", time.Hour))
		}, tlsrotate.ReasonChainInvalid, func(e *env) string { return e.cert }},
		{"server certificate as client certificate", func(e *env) {
			writeKeyThenCert(e, e.ca.IssueServer())
		}, tlsrotate.ReasonChainInvalid, func(e *env) string { return e.cert }},
		{"missing file", func(e *env) {
			require.NoError(e.t, os.Remove(e.key))
		}, tlsrotate.ReasonRead, func(e *env) string { return e.key }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			c, _ := e.client()
			old := e.src.Current()
			require.Equal(t, old.Serial(), serial(t, c, e.srv.URL))

			tc.write(e)
			err := e.waitRejection()
			var re *tlsrotate.RejectError
			require.True(t, errors.As(err, &re), "got %T %v, want *RejectError", err, err)
			// A pair written in two steps may first be seen half done; wait
			// for the reason this case is about.
			for re.Reason != tc.reason && (re.Reason == tlsrotate.ReasonKeyMismatch || re.Reason == tlsrotate.ReasonParse) {
				require.True(t, errors.As(e.waitRejection(), &re))
			}
			assert.Equal(t, tc.reason, re.Reason, "error: %v", re)
			assert.Equal(t, tc.file(e), re.File)
			assert.Contains(t, re.Error(), string(tc.reason))

			err = e.src.Reload()
			require.True(t, errors.As(err, &re), "Reload: got %v", err)
			assert.Equal(t, tc.reason, re.Reason)

			assert.Same(t, old, e.src.Current(), "the old snapshot stays")
			c.CloseIdleConnections() // force a new handshake
			assert.Equal(t, old.Serial(), serial(t, c, e.srv.URL), "the old pair keeps working")

			// And a good pair afterwards is taken.
			p := e.ca.IssueClient("client", time.Hour)
			require.NoError(t, transporttest.WritePair(e.dir, p))
			require.NoError(t, transporttest.WriteFileAtomic(e.caf, e.ca.CertPEM))
			require.NoError(t, e.src.Reload())
			assert.Equal(t, p.Serial(), serial(t, c, e.srv.URL))
		})
	}
}

func writeKeyThenCert(e *env, p *transporttest.Pair) {
	e.t.Helper()
	require.NoError(e.t, transporttest.WriteFileAtomic(e.key, p.KeyPEM))
	require.NoError(e.t, transporttest.WriteFileAtomic(e.cert, p.CertPEM))
}

// TestBundleGrowthIsAChange is R-3: "old" → "old+new" is a rotation.
func TestBundleGrowthIsAChange(t *testing.T) {
	e := newEnv(t, envOpts{})
	other := transporttest.NewCA("new-ca")
	require.NoError(t, transporttest.WriteFileAtomic(e.caf, append(append([]byte{}, e.ca.CertPEM...), other.CertPEM...)))
	r := e.waitRotation()
	assert.True(t, r.RootsChanged)
	assert.False(t, r.CertChanged)
	assert.Equal(t, r.OldSerial, r.NewSerial)
	assert.EqualValues(t, 2, e.src.Current().Generation)
}

func TestParseBundle(t *testing.T) {
	a, b := transporttest.NewCA("a"), transporttest.NewCA("b")
	both := append(append([]byte{}, a.CertPEM...), b.CertPEM...)
	certs, err := tlsrotate.ParseBundle(append(append([]byte("\n\n"), both...), " \n"...))
	require.NoError(t, err)
	assert.Len(t, certs, 2)
	// Explanatory text before a block (openssl's "subject=" lines, comments
	// in distribution bundles) is allowed, as pem.Decode allows it.
	certs, err = tlsrotate.ParseBundle(append([]byte("# comment\nsubject=CN=a\n"), both...))
	require.NoError(t, err)
	assert.Len(t, certs, 2)
	for name, in := range map[string][]byte{
		"empty":          nil,
		"whitespace":     []byte(" \n\t"),
		"truncated":      both[:len(both)-40],
		"trailing":       append(append([]byte{}, both...), 'x'),
		"private key":    a.IssueClient("c", time.Hour).KeyPEM,
		"bad DER":        []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"only prose":     []byte("hello"),
		"second garbage": append(append([]byte{}, a.CertPEM...), "-----BEGIN CERTIFICATE-----\n"...),
	} {
		_, err := tlsrotate.ParseBundle(in)
		assert.Error(t, err, name)
	}
}

// TestStartup is R-13: a missing or invalid file fails the constructor;
// WithStartTimeout waits for the files instead.
func TestStartup(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_, err := tlsrotate.NewFileSource(cert, key)
	var re *tlsrotate.RejectError
	require.True(t, errors.As(err, &re), "missing file: got %v", err)
	assert.Equal(t, tlsrotate.ReasonRead, re.Reason)
	assert.True(t, errors.Is(err, os.ErrNotExist))

	writeFile(t, cert, nil)
	writeFile(t, key, nil)
	_, err = tlsrotate.NewFileSource(cert, key)
	require.True(t, errors.As(err, &re), "empty files: got %v", err)
	assert.Equal(t, tlsrotate.ReasonParse, re.Reason, "an empty certificate is an error, never an anonymous handshake")

	_, err = tlsrotate.NewFileSource("", key)
	require.Error(t, err)

	ca := transporttest.NewCA("ca")
	p := ca.IssueClient("late", time.Hour)
	go func() {
		time.Sleep(300 * time.Millisecond)
		transporttest.WritePair(dir, p)
	}()
	src, err := tlsrotate.NewFileSource(cert, key, tlsrotate.WithStartTimeout(5*time.Second))
	require.NoError(t, err)
	defer src.Close()
	assert.Equal(t, p.Serial(), src.Current().Serial())
}

func TestExpiresInUsesClock(t *testing.T) {
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	p := ca.IssueClient("c", time.Hour)
	require.NoError(t, transporttest.WritePair(dir, p))
	now := p.Leaf.NotAfter.Add(-10 * time.Minute)
	src, err := tlsrotate.NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
		tlsrotate.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	defer src.Close()
	assert.Equal(t, 10*time.Minute, src.ExpiresIn())
	assert.Equal(t, now, src.Current().LoadedAt)
}

func TestFuncSource(t *testing.T) {
	ca := transporttest.NewCA("ca")
	p1 := ca.IssueClient("one", time.Hour)
	cur := &tlsrotate.Material{CertPEM: p1.CertPEM, KeyPEM: p1.KeyPEM, CAPEM: ca.CertPEM}
	var fail error
	var rotations []tlsrotate.Rotation
	src, err := tlsrotate.NewFuncSource(func(ctx context.Context) (*tlsrotate.Material, error) {
		return cur, fail
	}, tlsrotate.WithOnRotate(func(r tlsrotate.Rotation) { rotations = append(rotations, r) }))
	require.NoError(t, err)
	defer src.Close()
	assert.Equal(t, p1.Serial(), src.Current().Serial())
	require.NotNil(t, src.Current().Roots)

	require.NoError(t, src.Reload(), "unchanged material")
	assert.Empty(t, rotations)

	p2 := ca.IssueClient("two", time.Hour)
	cur = &tlsrotate.Material{CertPEM: p2.CertPEM, KeyPEM: p2.KeyPEM, CAPEM: ca.CertPEM}
	require.NoError(t, src.Reload())
	require.Len(t, rotations, 1)
	assert.Equal(t, p1.Serial(), rotations[0].OldSerial)
	assert.Equal(t, p2.Serial(), rotations[0].NewSerial)
	assert.EqualValues(t, 2, rotations[0].Generation)

	fail = errors.New("provider down")
	err = src.Reload()
	var re *tlsrotate.RejectError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, tlsrotate.ReasonRead, re.Reason)
	assert.ErrorIs(t, err, fail)
	assert.Equal(t, p2.Serial(), src.Current().Serial())

	_, err = tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) { return cur, nil }, tlsrotate.WithCAFile("x"))
	assert.Error(t, err, "file options do not apply to a function source")
}

func TestOptionsPanicOnInvalidValues(t *testing.T) {
	for name, f := range map[string]func(){
		"poll":     func() { tlsrotate.WithPollInterval(0) },
		"debounce": func() { tlsrotate.WithDebounce(-1) },
		"skew":     func() { tlsrotate.WithClockSkew(-1) },
		"drain":    func() { tlsrotate.WithDrainTimeout(0) },
		"policy":   func() { tlsrotate.WithPolicy(tlsrotate.Policy(9)) },
		"clock":    func() { tlsrotate.WithClock(nil) },
		"ca":       func() { tlsrotate.WithCAFile("") },
		"rotate":   func() { tlsrotate.WithOnRotate(nil) },
		"error":    func() { tlsrotate.WithOnError(nil) },
		"start":    func() { tlsrotate.WithStartTimeout(-1) },
	} {
		assert.Panics(t, f, name)
	}
}

// TestFuncSourceStartTimeoutBoundsAHangingProvider is R-13: with a start
// timeout, a provider that never answers fails the constructor in time.
func TestFuncSourceStartTimeoutBoundsAHangingProvider(t *testing.T) {
	start := time.Now()
	_, err := tlsrotate.NewFuncSource(func(ctx context.Context) (*tlsrotate.Material, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}, tlsrotate.WithStartTimeout(200*time.Millisecond))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}
