package tlsrotate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// rejection returns err's *RejectError, failing the test without one.
func rejection(t *testing.T, err error) *tlsrotate.RejectError {
	t.Helper()
	re, ok := errors.AsType[*tlsrotate.RejectError](err)
	require.True(t, ok, "got %T %v, want a *tlsrotate.RejectError", err, err)
	return re
}

// TestInvalidMaterialIsRejectedAndOldPairKeepsWorking is: each bad
// candidate is reported (by the background poll to WithOnError, and by
// Reload) with its reason, and handshakes keep using the old pair.
func TestInvalidMaterialIsRejectedAndOldPairKeepsWorking(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		write  func(b *bubble, cert, key string)
		reason tlsrotate.Reason
		key    bool // the key file is at fault, not the certificate file
	}{
		{"key does not match", func(b *bubble, cert, key string) {
			writeFile(t, cert, b.ca.IssueClient("client", time.Hour).CertPEM) // the old key stays
		}, tlsrotate.ReasonKeyMismatch, true},
		{"expired", func(b *bubble, cert, key string) {
			writePair(t, cert, key, b.ca.Issue(transporttest.CertSpec{NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}))
		}, tlsrotate.ReasonExpired, false},
		{"not yet valid", func(b *bubble, cert, key string) {
			writePair(t, cert, key, b.ca.Issue(transporttest.CertSpec{NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(2 * time.Hour)}))
		}, tlsrotate.ReasonNotYetValid, false},
		{"garbage PEM", func(b *bubble, cert, key string) {
			writeFile(t, cert, []byte("this is not a certificate\n"))
		}, tlsrotate.ReasonParse, false},
		{"half-written certificate", func(b *bubble, cert, key string) {
			p := b.ca.IssueClient("client", time.Hour)
			writePair(t, cert, key, &transporttest.Pair{CertPEM: p.CertPEM[:len(p.CertPEM)/2], KeyPEM: p.KeyPEM})
		}, tlsrotate.ReasonParse, false},
		{"trailing garbage after certificate", func(b *bubble, cert, key string) {
			p := b.ca.IssueClient("client", time.Hour)
			writePair(t, cert, key, &transporttest.Pair{CertPEM: append(append([]byte{}, p.CertPEM...), "garbage"...), KeyPEM: p.KeyPEM})
		}, tlsrotate.ReasonParse, false},
		{"empty certificate file", func(b *bubble, cert, key string) {
			writeFile(t, cert, nil)
		}, tlsrotate.ReasonParse, false},
		{"half-written key", func(b *bubble, cert, key string) {
			p := b.ca.IssueClient("client", time.Hour)
			writeFile(t, key, p.KeyPEM[:len(p.KeyPEM)-20])
		}, tlsrotate.ReasonParse, true},
		{"server certificate as client certificate", func(b *bubble, cert, key string) {
			writePair(t, cert, key, b.ca.IssueServer())
		}, tlsrotate.ReasonKeyUsage, false},
		{"file too large", func(b *bubble, cert, key string) {
			writeFile(t, cert, make([]byte, tlsrotate.MaxMaterialSize+1))
		}, tlsrotate.ReasonTooLarge, false},
		{"missing file", func(b *bubble, cert, key string) {
			require.NoError(t, os.Remove(key))
		}, tlsrotate.ReasonRead, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBubble(t, false, tlsrotate.WithPollInterval(time.Minute))
				c, _ := b.client()
				old := b.src.Current()
				require.Equal(t, old.Serial(), serial(t, c, memURL))
				cert, key := filepath.Join(b.dir, transporttest.CertFileName), filepath.Join(b.dir, transporttest.KeyFileName)

				tc.write(b, cert, key)
				time.Sleep(time.Minute + 500*time.Millisecond) // the poll, and a second look at a mismatch
				require.NotEmpty(t, b.errors(), "the poll reports the rejection")
				re := rejection(t, b.errors()[0])
				assert.Equal(t, tc.reason, re.Reason, "error: %v", re)
				assert.Equal(t, map[bool]string{false: cert, true: key}[tc.key], re.File)
				assert.Contains(t, re.Error(), string(tc.reason))
				assert.NotZero(t, b.src.Stats().Rejections[tc.reason])

				re = rejection(t, b.src.Reload())
				assert.Equal(t, tc.reason, re.Reason)
				assert.Same(t, old, b.src.Current(), "the old snapshot stays")
				c.CloseIdleConnections() // force a new handshake
				assert.Equal(t, old.Serial(), serial(t, c, memURL), "the old pair keeps working")
				assert.Equal(t, b.rotate().Serial(), serial(t, c, memURL), "and a good pair afterwards is taken")
			})
		})
	}
}

// writePair writes p's certificate and key, key first.
func writePair(t *testing.T, cert, key string, p *transporttest.Pair) {
	t.Helper()
	require.NoError(t, transporttest.WriteFileAtomic(key, p.KeyPEM))
	require.NoError(t, transporttest.WriteFileAtomic(cert, p.CertPEM))
}

// TestKeyMismatchIsLookedAtTwice: a writer that replaces the certificate,
// then (within a debounce) the key raises no error; a mismatch that is still
// there a debounce later is reported.
func TestKeyMismatchIsLookedAtTwice(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := newBubble(t, false, tlsrotate.WithPollInterval(time.Minute), tlsrotate.WithDebounce(time.Second))
		cert, key := filepath.Join(b.dir, transporttest.CertFileName), filepath.Join(b.dir, transporttest.KeyFileName)
		p := b.ca.IssueClient("client", time.Hour)
		writeFile(t, cert, p.CertPEM)
		time.Sleep(time.Minute + 100*time.Millisecond) // the poll has seen the new certificate with the old key
		writeFile(t, key, p.KeyPEM)
		time.Sleep(time.Second)
		assert.Equal(t, p.Serial(), b.src.Current().Serial())
		assert.Empty(t, b.errors(), "a certificate written before its key is no error")

		writeFile(t, cert, b.ca.IssueClient("client", time.Hour).CertPEM)
		time.Sleep(time.Until(start.Add(2*time.Minute + 100*time.Millisecond))) // the next poll
		assert.Empty(t, b.errors(), "not at the first look")
		time.Sleep(time.Second)
		require.Len(t, b.errors(), 1, "reported at the second look")
		assert.Equal(t, tlsrotate.ReasonKeyMismatch, rejection(t, b.errors()[0]).Reason)
	})
}

// TestPollingFallbackFindsChange: with fsnotify off, polling finds the change
// within the poll interval.
func TestPollingFallbackFindsChange(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, false, tlsrotate.WithPollInterval(200*time.Millisecond))
		p := b.ca.IssueClient("client", time.Hour)
		require.NoError(t, transporttest.WritePair(b.dir, p))
		time.Sleep(200*time.Millisecond + time.Millisecond)
		assert.Equal(t, p.Serial(), b.src.Current().Serial())
		assert.EqualValues(t, 1, b.src.Stats().Updated)
		assert.Equal(t, time.Now().Add(-time.Millisecond), b.src.Stats().LastReload)
	})
}

func TestExpiringCertificateIsReported(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		dir := t.TempDir()
		p := ca.IssueClient("short", 2*time.Minute)
		require.NoError(t, transporttest.WritePair(dir, p))
		got := make(chan error, 4)
		src, err := tlsrotate.NewFileSource(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
			tlsrotate.WithFSNotify(false), tlsrotate.WithPollInterval(time.Second),
			tlsrotate.WithOnError(func(err error) { got <- err }))
		require.NoError(t, err)
		defer src.Close()
		time.Sleep(time.Minute) // 2 × 1 s + the drain timeout of 30 s: not yet
		assert.Empty(t, got)
		time.Sleep(30 * time.Second)
		require.Len(t, got, 1)
		var ee *tlsrotate.ExpiringError
		require.True(t, errors.As(<-got, &ee))
		assert.Equal(t, p.Serial(), ee.Serial)
		assert.Equal(t, p.Leaf.NotAfter, ee.NotAfter)
		assert.Contains(t, ee.Error(), "expires in")
		time.Sleep(10 * time.Second)
		assert.Empty(t, got, "warned once per snapshot")
	})
}

// TestStartup is R-13: a missing or invalid file fails the constructor;
// WithStartTimeout waits for the files instead.
func TestStartup(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
		_, err := tlsrotate.NewFileSource(cert, key)
		assert.Equal(t, tlsrotate.ReasonRead, rejection(t, err).Reason, "missing file")
		assert.ErrorIs(t, err, os.ErrNotExist)

		writeFile(t, cert, nil)
		writeFile(t, key, nil)
		_, err = tlsrotate.NewFileSource(cert, key)
		assert.Equal(t, tlsrotate.ReasonParse, rejection(t, err).Reason, "an empty certificate is an error, never an anonymous handshake")

		_, err = tlsrotate.NewFileSource("", key)
		require.Error(t, err)

		ca := transporttest.NewCA("ca")
		p := ca.IssueClient("late", time.Hour)
		go func() {
			time.Sleep(300 * time.Millisecond)
			transporttest.WritePair(dir, p)
		}()
		src, err := tlsrotate.NewFileSource(cert, key, tlsrotate.WithStartTimeout(5*time.Second), tlsrotate.WithFSNotify(false))
		require.NoError(t, err)
		defer src.Close()
		assert.Equal(t, p.Serial(), src.Current().Serial())
	})
}

// TestFuncSourceStartTimeoutBoundsAHangingProvider is R-13: with a start
// timeout, a provider that never answers fails the constructor in time.
func TestFuncSourceStartTimeoutBoundsAHangingProvider(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, err := tlsrotate.NewFuncSource(func(ctx context.Context) (*tlsrotate.Material, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, tlsrotate.WithStartTimeout(200*time.Millisecond))
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 200*time.Millisecond, time.Since(start))
	})
}

// TestFuncSourceLoadTimeout: a function that hangs, even ignoring its
// context, is cut at the load timeout and reported; while it still hangs,
// later reloads fail at once instead of piling up calls; once it returns,
// reloads work again.
func TestFuncSourceLoadTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca := transporttest.NewCA("ca")
		p := ca.IssueClient("c", time.Hour)
		var hang atomic.Bool
		var calls atomic.Int32
		release := make(chan struct{})
		reported := make(chan error, 100)
		src, err := tlsrotate.NewFuncSource(func(ctx context.Context) (*tlsrotate.Material, error) {
			calls.Add(1)
			if hang.Load() {
				<-release // ignores ctx
			}
			return &tlsrotate.Material{CertPEM: p.CertPEM, KeyPEM: p.KeyPEM}, nil
		}, tlsrotate.WithPollInterval(time.Hour), tlsrotate.WithOnError(func(err error) { reported <- err }))
		require.NoError(t, err)
		defer src.Close()

		hang.Store(true)
		start := time.Now()
		err = src.Reload()
		assert.Equal(t, tlsrotate.DefaultLoadTimeout, time.Since(start), "the default load timeout is 30 s")
		assert.Equal(t, tlsrotate.ReasonTimeout, rejection(t, err).Reason)
		assert.Contains(t, err.Error(), "did not return within 30s")

		start = time.Now()
		err = src.Reload()
		assert.Zero(t, time.Since(start), "no second call while the first hangs")
		assert.Equal(t, tlsrotate.ReasonTimeout, rejection(t, err).Reason)
		assert.Contains(t, err.Error(), "has not returned")
		time.Sleep(time.Hour) // the poll reports it too
		require.NotEmpty(t, reported)
		assert.Equal(t, tlsrotate.ReasonTimeout, rejection(t, <-reported).Reason)
		assert.EqualValues(t, 2, calls.Load(), "one hung call at a time")

		hang.Store(false)
		close(release)
		synctest.Wait()
		assert.NoError(t, src.Reload(), "after the hung call returned")
		assert.EqualValues(t, 3, calls.Load())
		assert.GreaterOrEqual(t, src.Stats().Rejected, uint64(3))
	})
}
