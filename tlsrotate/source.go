package tlsrotate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Snapshot is one validated set of credentials. Snapshots are immutable: a
// rotation publishes a new one with an atomic pointer swap, and none of the
// values a Snapshot points to (the certificate, the pool) is changed after it
// is published. Callers must not modify them either.
type Snapshot struct {
	// Certificate is the client certificate chain and its key, with Leaf set.
	Certificate *tls.Certificate
	// Leaf is the parsed client certificate.
	Leaf *x509.Certificate
	// Roots verifies servers; nil when the source has no CA bundle.
	Roots *x509.CertPool
	// Generation counts published snapshots: 1 for the first, +1 per rotation.
	Generation uint64
	// Hash is the SHA-256 of all the PEM input, used to detect changes.
	Hash [32]byte
	// LoadedAt is when the snapshot was published, by the source's clock.
	LoadedAt time.Time

	// previous is the client certificate of the snapshot before, kept while
	// it is valid for servers that accept only its issuer (CA migration).
	previous *tls.Certificate
}

// Serial returns the client certificate's serial number in decimal.
func (s *Snapshot) Serial() string { return s.Leaf.SerialNumber.String() }

// Rotation describes one published change, for [WithOnRotate]. It carries no
// key material.
type Rotation struct {
	Generation   uint64    // generation of the new snapshot (2 for the first rotation)
	OldSerial    string    // serial (decimal) of the previous client certificate
	NewSerial    string    // serial (decimal) of the new client certificate
	NotAfter     time.Time // expiry of the new client certificate
	CertChanged  bool      // the client certificate chain or key changed
	RootsChanged bool      // the CA bundle changed
	At           time.Time // when it was published, by the source's clock
}

// Source holds the current client certificate (and optionally the CA bundle
// that verifies servers), reloads it when its files change or on demand, and
// validates every candidate before it is used: invalid material is rejected
// with a [*RejectError] and the last good snapshot stays in use.
//
// A Source is safe for concurrent use. Sources from [NewFileSource] and
// [NewFuncSource] run one background goroutine, stopped by [Source.Close];
// the last snapshot stays usable after Close.
type Source struct {
	cfg   config
	names names
	dirs  []string // directories to watch (file sources)

	watched map[string]bool // directories with a watch; only the run goroutine uses it
	load    func(context.Context) (*Material, error)

	cur atomic.Pointer[Snapshot]

	reloadMu sync.Mutex // serialises reloads: read, validate, publish

	subsMu sync.Mutex // guards subs
	subs   []weak.Pointer[Transport]

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	done      chan struct{} // closed when the watcher goroutine has returned
}

var errNoCertificate = errors.New("tlsrotate: no client certificate loaded")

// NewFileSource returns a source that reads the PEM client certificate chain
// in certFile and its private key in keyFile (and the bundles of
// [WithCAFile] and [WithIssuerCAFile]) and keeps them current.
//
// The files are read and validated once before NewFileSource returns; a
// missing, unreadable or invalid file is an error (unless [WithStartTimeout]
// gives them time to appear). Then a goroutine watches the directories that
// hold the files with fsnotify, so that atomic renames and Kubernetes-style
// "..data" symlink swaps are seen; after a burst of events has been quiet for
// the debounce interval it re-reads all files together. It also re-reads them
// every poll interval, in case events are lost, re-adding the watches (a
// directory may have been replaced), and after a rejection it retries with a
// backoff from one second up to the poll interval. Call [Source.Close] to stop
// it.
func NewFileSource(certFile, keyFile string, opts ...Option) (*Source, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tlsrotate: NewFileSource: need a certificate file and a key file")
	}
	s := newSource(opts)
	s.names = names{cert: certFile, key: keyFile, ca: s.cfg.caFile, issuer: s.cfg.issuerFile}
	s.load = s.readFiles
	seen := map[string]bool{}
	for _, f := range []string{certFile, keyFile, s.cfg.caFile, s.cfg.issuerFile} {
		if f == "" {
			continue
		}
		if d := dirOf(f); !seen[d] {
			seen[d] = true
			s.dirs = append(s.dirs, d)
		}
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewFuncSource returns a source whose material comes from fn: a SPIFFE
// Workload API client, a Vault agent, anything that hands out PEM. fn is
// called once before NewFuncSource returns (an error or invalid material is
// an error from NewFuncSource, unless [WithStartTimeout] allows retries), then
// every poll interval and on each [Source.Reload]; push-style providers call
// Reload when they have news. The context passed to fn is cancelled by Close,
// and during start-up it carries the [WithStartTimeout] deadline.
// Material with the same content as the current snapshot is no rotation.
// WithCAFile and WithIssuerCAFile do not apply (return CAPEM/IssuerPEM).
func NewFuncSource(fn func(context.Context) (*Material, error), opts ...Option) (*Source, error) {
	if fn == nil {
		return nil, errors.New("tlsrotate: NewFuncSource: need a function")
	}
	s := newSource(opts)
	if s.cfg.caFile != "" || s.cfg.issuerFile != "" {
		return nil, errors.New("tlsrotate: NewFuncSource: WithCAFile and WithIssuerCAFile do not apply; return Material.CAPEM and IssuerPEM")
	}
	s.load = func(ctx context.Context) (*Material, error) {
		m, err := fn(ctx)
		if err != nil {
			return nil, reject(ReasonRead, "", err)
		}
		if m == nil {
			return nil, reject(ReasonRead, "", errors.New("function returned no material"))
		}
		return m, nil
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func newSource(opts []Option) *Source {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Source{cfg: cfg, ctx: ctx, cancel: cancel, done: make(chan struct{}), watched: map[string]bool{}}
}

// start loads the first snapshot (retrying up to the start timeout) and
// starts the background goroutine.
func (s *Source) start() error {
	deadline := time.Now().Add(s.cfg.startTimeout)
	ctx := s.ctx
	if s.cfg.startTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	for {
		_, err := s.reload(ctx)
		if err == nil {
			break
		}
		if !time.Now().Add(s.cfg.debounce).Before(deadline) {
			s.cancel()
			return err
		}
		time.Sleep(s.cfg.debounce)
	}
	go s.run(s.newWatcher()) // watches are in place before the constructor returns
	return nil
}

func (s *Source) readFiles(context.Context) (*Material, error) {
	var m Material
	read := func(path string, dst *[]byte) error {
		if path == "" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return reject(ReasonRead, path, err)
		}
		if b == nil {
			b = []byte{} // an empty file is present, just empty
		}
		*dst = b
		return nil
	}
	for _, f := range []struct {
		path string
		dst  *[]byte
	}{{s.names.cert, &m.CertPEM}, {s.names.key, &m.KeyPEM}, {s.names.ca, &m.CAPEM}, {s.names.issuer, &m.IssuerPEM}} {
		if err := read(f.path, f.dst); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// reload reads and validates the material and publishes it when it differs
// from the current snapshot. It reports whether it published.
func (s *Source) reload(ctx context.Context) (bool, error) {
	s.reloadMu.Lock()
	m, err := s.load(ctx)
	if err != nil {
		s.reloadMu.Unlock()
		return false, err
	}
	old := s.cur.Load()
	if old != nil && old.Hash == m.hash() {
		s.reloadMu.Unlock()
		return false, nil
	}
	now := s.cfg.now()
	snap, err := build(m, s.names, now, s.cfg.skew)
	if err != nil {
		s.reloadMu.Unlock()
		return false, err
	}
	snap.LoadedAt = now
	snap.Generation = 1
	if old != nil {
		snap.Generation = old.Generation + 1
		switch {
		case !sameCert(old.Certificate, snap.Certificate) && now.Before(old.Leaf.NotAfter):
			snap.previous = old.Certificate
		case sameCert(old.Certificate, snap.Certificate):
			snap.previous = old.previous // only the CA bundle changed
		}
	}
	s.cur.Store(snap)
	s.reloadMu.Unlock()

	if old == nil {
		return true, nil
	}
	s.notify()
	r := Rotation{
		Generation:   snap.Generation,
		OldSerial:    old.Serial(),
		NewSerial:    snap.Serial(),
		NotAfter:     snap.Leaf.NotAfter,
		CertChanged:  !sameCert(old.Certificate, snap.Certificate),
		RootsChanged: !samePool(old.Roots, snap.Roots),
		At:           now,
	}
	for _, fn := range s.cfg.onRotate {
		fn(r)
	}
	return true, nil
}

func sameCert(a, b *tls.Certificate) bool {
	if len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if !bytes.Equal(a.Certificate[i], b.Certificate[i]) {
			return false
		}
	}
	if k, ok := a.PrivateKey.(interface{ Equal(crypto.PrivateKey) bool }); ok {
		return k.Equal(b.PrivateKey)
	}
	return false
}

func samePool(a, b *x509.CertPool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// Reload reads and validates the material now and publishes it if it
// changed. It returns nil when the new material is in use or nothing changed,
// and a [*RejectError] when the material was rejected (the old stays in use).
// Hooks of [WithOnRotate] run before it returns; [WithOnError] hooks are not
// called for its error.
func (s *Source) Reload() error {
	_, err := s.reload(s.ctx)
	return err
}

// GetClientCertificate returns the current client certificate. It has the
// signature of tls.Config.GetClientCertificate; it does no I/O, takes no lock
// and allocates nothing on its usual path. It never returns an empty
// certificate: a Source always holds a validated one.
//
// During a CA migration the previous certificate is kept while it is valid:
// when the server names the CAs it accepts and they include the previous
// certificate's issuer but not the current one's, the previous certificate
// is returned, so a server not yet updated keeps accepting the client.
func (s *Source) GetClientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	snap := s.cur.Load()
	if snap == nil {
		return nil, errNoCertificate
	}
	if prev := snap.previous; prev != nil && cri != nil && len(cri.AcceptableCAs) > 0 &&
		cri.SupportsCertificate(snap.Certificate) != nil && cri.SupportsCertificate(prev) == nil &&
		s.cfg.now().Before(prev.Leaf.NotAfter) {
		return prev, nil
	}
	return snap.Certificate, nil
}

// Current returns the snapshot in use. It is never nil for a source returned
// by a constructor.
func (s *Source) Current() *Snapshot { return s.cur.Load() }

// ExpiresIn returns the time left, by the source's clock, before the current
// client certificate expires; negative once it has. Alert when it falls
// below what your rotation schedule promises.
func (s *Source) ExpiresIn() time.Duration {
	return s.cur.Load().Leaf.NotAfter.Sub(s.cfg.now())
}

// Close stops the background goroutine and waits for it to return. The
// current snapshot stays usable; transports keep working with it. Close is
// idempotent and returns nil.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}

// subscribe registers t to hear about rotations. Only a weak pointer is kept,
// so a dropped Transport can be collected.
func (s *Source) subscribe(t *Transport) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	s.subs = append(s.subs, weak.Make(t))
}

// notify tells live transports that a new snapshot is published, and forgets
// collected ones.
func (s *Source) notify() {
	s.subsMu.Lock()
	live := s.subs[:0]
	var ts []*Transport
	for _, w := range s.subs {
		if t := w.Value(); t != nil {
			live = append(live, w)
			ts = append(ts, t)
		}
	}
	clear(s.subs[len(live):])
	s.subs = live
	s.subsMu.Unlock()
	for _, t := range ts {
		t.current()
	}
}

func (s *Source) report(err error) {
	for _, fn := range s.cfg.onError {
		fn(err)
	}
}
