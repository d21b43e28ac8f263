package tlsrotate_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

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
		"poll":       func() { tlsrotate.WithPollInterval(0) },
		"debounce":   func() { tlsrotate.WithDebounce(-1) },
		"skew":       func() { tlsrotate.WithClockSkew(-1) },
		"load":       func() { tlsrotate.WithLoadTimeout(0) },
		"name":       func() { tlsrotate.WithName("") },
		"ca":         func() { tlsrotate.WithCAFile("") },
		"rotate":     func() { tlsrotate.WithOnRotate(nil) },
		"error":      func() { tlsrotate.WithOnError(nil) },
		"start":      func() { tlsrotate.WithStartTimeout(-1) },
		"drain":      func() { tlsrotate.WithDrainTimeout(0) },
		"retirement": func() { tlsrotate.WithRetirement(tlsrotate.Retirement(9)) },
		"margin":     func() { tlsrotate.WithExpiryMargin(-1) },
		"age":        func() { tlsrotate.WithMaxConnectionAge(-1) },
		"renew":      func() { tlsrotate.WithOnRenew(nil) },
	} {
		assert.Panics(t, f, name)
	}
	assert.PanicsWithValue(t, "tlsrotate: WithRetirement(9): unknown retirement",
		func() { tlsrotate.WithRetirement(tlsrotate.Retirement(9)) })
	assert.Panics(t, func() { tlsrotate.New(nil, nil) }, "a nil source")
}

// TestWithClockNilMeansDefault: WithClock(nil) is time.Now, as
// breaker.WithClock(nil) is.
func TestWithClockNilMeansDefault(t *testing.T) {
	ca := transporttest.NewCA("ca")
	p := ca.IssueClient("c", time.Hour)
	src, err := tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) {
		return &tlsrotate.Material{CertPEM: p.CertPEM, KeyPEM: p.KeyPEM}, nil
	}, tlsrotate.WithClock(func() time.Time { return time.Time{} }), tlsrotate.WithClock(nil))
	require.NoError(t, err, "the last WithClock wins: nil is the real clock, not a panic")
	defer src.Close()
	assert.InDelta(t, time.Hour.Seconds(), src.ExpiresIn().Seconds(), 120)
}
