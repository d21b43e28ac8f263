package tlsrotate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"
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
	// superseded is cancelled when a newer snapshot is published: a
	// Transport retires the connections made with this one.
	superseded context.Context
	supersede  context.CancelFunc
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

	statsMu sync.Mutex // guards stats
	stats   SourceStats

	callMu  sync.Mutex // guards calling
	calling bool       // a call of a function source's function has not returned

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
	if s.cfg.name == "" {
		s.cfg.name = certFile
	}
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
	s.load = func(ctx context.Context) (*Material, error) { return s.callFunc(ctx, fn) }
	if s.cfg.name == "" {
		s.cfg.name = "func"
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

// reload reads and validates the material and publishes it when it differs
// from the current snapshot. It reports whether it published.
func (s *Source) reload(ctx context.Context) (bool, error) {
	s.reloadMu.Lock()
	old, snap, err := s.next(ctx)
	if snap != nil {
		s.cur.Store(snap)
		if old != nil {
			old.supersede()
		}
	}
	s.reloadMu.Unlock()
	s.count(old != nil, snap != nil, err)
	if old == nil || snap == nil {
		return snap != nil, err
	}
	r := Rotation{
		Generation:   snap.Generation,
		OldSerial:    old.Serial(),
		NewSerial:    snap.Serial(),
		NotAfter:     snap.Leaf.NotAfter,
		CertChanged:  !sameCert(old.Certificate, snap.Certificate),
		RootsChanged: !samePool(old.Roots, snap.Roots),
		At:           snap.LoadedAt,
	}
	for _, fn := range s.cfg.onRotate {
		fn(r)
	}
	return true, nil
}

// next loads and validates the material and returns the current snapshot
// and the one that replaces it (nil when the material is unchanged or was
// rejected). s.reloadMu must be held.
func (s *Source) next(ctx context.Context) (old, snap *Snapshot, err error) {
	old = s.cur.Load()
	m, err := s.load(ctx)
	if err != nil {
		return old, nil, err
	}
	if old != nil && old.Hash == m.hash() {
		return old, nil, nil
	}
	now := s.cfg.now()
	snap, err = build(m, s.names, now, s.cfg.skew)
	if err != nil {
		return old, nil, err
	}
	snap.LoadedAt = now
	snap.Generation = 1
	snap.superseded, snap.supersede = context.WithCancel(context.Background())
	if old != nil {
		snap.Generation = old.Generation + 1
		switch {
		case !sameCert(old.Certificate, snap.Certificate) && now.Before(old.Leaf.NotAfter):
			snap.previous = old.Certificate
		case sameCert(old.Certificate, snap.Certificate):
			snap.previous = old.previous // only the CA bundle changed
		}
	}
	return old, snap, nil
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

func (s *Source) report(err error) {
	for _, fn := range s.cfg.onError {
		fn(err)
	}
}

// Name returns the source's name for metrics (see [WithName]).
func (s *Source) Name() string { return s.cfg.name }

// SourceStats is what a [Source] has done so far, for metrics. The counts
// only grow.
type SourceStats struct {
	// Updated, Unchanged and Rejected count the reloads after the first
	// load, by outcome: new material was published (a rotation), the same
	// material was read again, or the material was rejected.
	Updated, Unchanged, Rejected uint64
	// Rejections counts the rejected reloads by reason.
	Rejections map[Reason]uint64
	// LastReload is when the last load that ended with valid material (new
	// or unchanged) finished, by the source's clock; the first load counts.
	LastReload time.Time
}

// Stats returns the source's counters. It is safe to call at any time.
func (s *Source) Stats() SourceStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats
	st.Rejections = maps.Clone(s.stats.Rejections)
	if st.Rejections == nil {
		st.Rejections = map[Reason]uint64{}
	}
	return st
}

// count records the outcome of a load: after a first load or not, whether
// it published, and its error.
func (s *Source) count(reload, published bool, err error) {
	now := s.cfg.now()
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if err == nil {
		s.stats.LastReload = now
	}
	switch {
	case !reload:
	case published:
		s.stats.Updated++
	case err == nil:
		s.stats.Unchanged++
	default:
		s.stats.Rejected++
		if re, ok := errors.AsType[*RejectError](err); ok {
			if s.stats.Rejections == nil {
				s.stats.Rejections = map[Reason]uint64{}
			}
			s.stats.Rejections[re.Reason]++
		}
	}
}
