package tlsrotate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	ca := transporttest.NewCA("ca")
	p := ca.IssueClient("c", time.Hour)
	src, err := tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) {
		return &tlsrotate.Material{CertPEM: p.CertPEM, KeyPEM: p.KeyPEM}, nil
	}, tlsrotate.WithClock(func() time.Time { return time.Time{} }), tlsrotate.WithClock(nil))
	require.NoError(t, err, "the last WithClock wins: nil is the real clock, not a panic")
	defer src.Close()
	assert.InDelta(t, time.Hour.Seconds(), src.ExpiresIn().Seconds(), 120)
}

// pairSource loads cert and key through a function source and returns the
// error of the first load.
func pairSource(cert, key []byte) error {
	src, err := tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) {
		return &tlsrotate.Material{CertPEM: cert, KeyPEM: key}, nil
	})
	if err == nil {
		src.Close()
	}
	return err
}

// ecPair returns a certificate and its key as openssl writes them: the key
// as an "EC PRIVATE KEY" block after an "EC PARAMETERS" block (openssl
// ecparam -genkey).
func ecPair(t *testing.T, ca *transporttest.CA) (cert, key []byte) {
	t.Helper()
	p := ca.IssueClient("client", time.Hour)
	der, err := x509.MarshalECPrivateKey(p.Certificate.PrivateKey.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	params, err := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}) // prime256v1
	require.NoError(t, err)
	key = append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: params}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
	return p.CertPEM, key
}

// TestLayoutsThatX509KeyPairAccepts: every layout tls.X509KeyPair accepts is
// accepted (before, the EC PARAMETERS block and the combined file were
// rejected), and what must stay strict stays strict.
func TestLayoutsThatX509KeyPairAccepts(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	p := ca.IssueClient("client", time.Hour)
	ecCert, ecKey := ecPair(t, ca)
	combined := append(append([]byte{}, p.CertPEM...), p.KeyPEM...)
	keyFirst := append(append([]byte{}, p.KeyPEM...), p.CertPEM...)
	for name, tc := range map[string]struct{ cert, key []byte }{
		"EC PARAMETERS before the key": {ecCert, ecKey},
		"combined file, key last":      {combined, combined},
		"combined file, key first":     {keyFirst, keyFirst},
		"comment before the blocks":    {append([]byte("subject=CN=client\n"), p.CertPEM...), p.KeyPEM},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tls.X509KeyPair(tc.cert, tc.key)
			require.NoError(t, err, "sanity: crypto/tls accepts it")
			assert.NoError(t, pairSource(tc.cert, tc.key))
		})
	}
	other := ca.IssueClient("client", time.Hour)
	for name, tc := range map[string]struct {
		cert, key []byte
		reason    tlsrotate.Reason
		text      string
	}{
		"combined file cut off": {combined[:len(combined)-30], combined[:len(combined)-30], tlsrotate.ReasonParse, "truncated"},
		"two keys":              {p.CertPEM, append(append([]byte{}, p.KeyPEM...), other.KeyPEM...), tlsrotate.ReasonParse, "more than one private key"},
		"key of another pair":   {p.CertPEM, other.KeyPEM, tlsrotate.ReasonKeyMismatch, "does not match"},
		"paths swapped":         {p.KeyPEM, p.CertPEM, tlsrotate.ReasonParse, "paths swapped?"},
		"no key":                {p.CertPEM, p.CertPEM, tlsrotate.ReasonParse, "no private key"},
	} {
		t.Run(name, func(t *testing.T) {
			err := pairSource(tc.cert, tc.key)
			re := rejection(t, err)
			assert.Equal(t, tc.reason, re.Reason)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}

// TestSwappedPathsAreNamed: a file source whose certificate and key paths
// are swapped says so.
func TestSwappedPathsAreNamed(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	dir := t.TempDir()
	require.NoError(t, transporttest.WritePair(dir, ca.IssueClient("client", time.Hour)))
	_, err := tlsrotate.NewFileSource(filepath.Join(dir, transporttest.KeyFileName), filepath.Join(dir, transporttest.CertFileName))
	re := rejection(t, err)
	assert.Equal(t, filepath.Join(dir, transporttest.KeyFileName), re.File)
	assert.Contains(t, err.Error(), "are the certificate and key paths swapped?")
}

// TestKeyUsageMustAllowClients: a certificate whose extended key usage
// excludes client authentication is rejected with its reason, even with no
// issuer bundle to verify a chain against (before, it was taken, and every
// handshake failed at the server).
func TestKeyUsageMustAllowClients(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	server := ca.IssueServer()
	err := pairSource(server.CertPEM, server.KeyPEM)
	re := rejection(t, err)
	assert.Equal(t, tlsrotate.ReasonKeyUsage, re.Reason)
	assert.Contains(t, err.Error(), "not for client authentication: its extended key usage allows only serverAuth")
}

// TestMaterialSizeCap: a field of more than MaxMaterialSize bytes is
// rejected with a clear reason, from a file or from a function.
func TestMaterialSizeCap(t *testing.T) {
	t.Parallel()
	ca := transporttest.NewCA("ca")
	p := ca.IssueClient("client", time.Hour)
	huge := append(append([]byte{}, p.CertPEM...), make([]byte, tlsrotate.MaxMaterialSize)...)
	err := pairSource(huge, p.KeyPEM)
	assert.Equal(t, tlsrotate.ReasonTooLarge, rejection(t, err).Reason)
	assert.Contains(t, err.Error(), "returned a Material.CertPEM larger than 1048576 bytes")

	dir := t.TempDir()
	require.NoError(t, transporttest.WritePair(dir, p))
	writeFile(t, filepath.Join(dir, transporttest.KeyFileName), append(append([]byte{}, p.KeyPEM...), huge...))
	_, err = tlsrotate.NewFileSource(filepath.Join(dir, transporttest.CertFileName), filepath.Join(dir, transporttest.KeyFileName))
	re := rejection(t, err)
	assert.Equal(t, tlsrotate.ReasonTooLarge, re.Reason)
	assert.Equal(t, filepath.Join(dir, transporttest.KeyFileName), re.File)
	assert.Contains(t, err.Error(), "file is larger than 1048576 bytes")
}
