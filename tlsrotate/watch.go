package tlsrotate

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// minRetry is the first wait before re-reading rejected material; it doubles
// up to the poll interval.
const minRetry = time.Second

func dirOf(path string) string {
	d := filepath.Dir(path)
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

// run is the background goroutine: file-system events (debounced), polling
// and retries after rejections all end in a reload of all files together.
func (s *Source) run(w *fsnotify.Watcher) {
	defer close(s.done)
	l := newLoop(s, w)
	defer l.stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case _, ok := <-l.events:
			if !ok {
				l.events = nil
				continue
			}
			// Any event on any entry: Kubernetes swaps "..data", editors
			// rename temporary files; the hash decides whether it mattered.
			l.changed()
		case err, ok := <-l.errs:
			if !ok {
				l.errs = nil
				continue
			}
			s.report(fmt.Errorf("tlsrotate: file watcher: %w", err))
			l.changed() // events may have been lost (overflow)
		case <-l.debounce.C:
			l.check()
		case <-l.poll.C:
			l.check()
		case <-l.retry.C:
			l.check()
		}
	}
}

// loop is the state of the background goroutine.
type loop struct {
	s               *Source
	w               *fsnotify.Watcher
	events          <-chan fsnotify.Event
	errs            <-chan error
	poll            *time.Ticker
	debounce, retry *time.Timer
	backoff         time.Duration
	burst           time.Time // first event of the burst being debounced; zero: none
	mismatch        bool      // the last check saw a key mismatch, not reported yet
	warned          uint64    // generation last warned about as expiring
}

func newLoop(s *Source, w *fsnotify.Watcher) *loop {
	l := &loop{s: s, w: w, poll: time.NewTicker(s.cfg.poll),
		debounce: time.NewTimer(time.Hour), retry: time.NewTimer(time.Hour)}
	l.debounce.Stop()
	l.retry.Stop()
	if w != nil {
		l.events, l.errs = w.Events, w.Errors
		// A change written between the constructor's first load and the
		// watches being in place raised no event: check once, a debounce in.
		l.debounce.Reset(s.cfg.debounce)
	}
	return l
}

func (l *loop) stop() {
	l.poll.Stop()
	l.debounce.Stop()
	l.retry.Stop()
	if l.w != nil {
		l.w.Close()
	}
}

// changed debounces an event: the check comes a debounce after the last
// event, or ten debounces after the first of a burst that never pauses.
func (l *loop) changed() {
	now := time.Now()
	if l.burst.IsZero() {
		l.burst = now
	}
	wait := min(l.s.cfg.debounce, l.burst.Add(maxWaitFactor*l.s.cfg.debounce).Sub(now))
	l.debounce.Reset(max(wait, 0))
}

// check re-reads the material. A key that does not match its certificate
// is looked at once more a debounce later before it is reported: a writer
// that replaces the certificate and then the key is not an error.
func (l *loop) check() {
	s := l.s
	l.burst = time.Time{}
	if l.w != nil {
		s.rewatch(l.w)
	}
	_, err := s.reload(s.ctx)
	if s.ctx.Err() != nil {
		return
	}
	switch re, _ := errors.AsType[*RejectError](err); {
	case err == nil:
		l.mismatch = false
		l.backoff = 0
		l.retry.Stop()
	case re != nil && re.Reason == ReasonKeyMismatch && !l.mismatch:
		l.mismatch = true
		l.debounce.Reset(s.cfg.debounce)
	default:
		l.mismatch = false
		s.report(err)
		l.backoff = min(max(2*l.backoff, minRetry), s.cfg.poll)
		l.retry.Reset(l.backoff)
	}
	l.warn()
}

// warn reports, once per snapshot, a certificate that expires before a
// rotation can be expected.
func (l *loop) warn() {
	s := l.s
	snap := s.cur.Load()
	if snap.Generation == l.warned {
		return
	}
	if left := snap.Leaf.NotAfter.Sub(s.cfg.now()); left < 2*s.cfg.poll+DefaultDrainTimeout {
		l.warned = snap.Generation
		s.report(&ExpiringError{Serial: snap.Serial(), NotAfter: snap.Leaf.NotAfter, Left: left})
	}
}

// newWatcher returns a watcher on the source's directories, or nil (after
// reporting why) when there is nothing to watch or watching is off or
// impossible; polling remains.
func (s *Source) newWatcher() *fsnotify.Watcher {
	if !s.cfg.fsnotify || len(s.dirs) == 0 {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.report(fmt.Errorf("tlsrotate: file watcher unavailable, polling only: %w", err))
		return nil
	}
	s.rewatch(w)
	return w
}

// rewatch (re-)adds a watch on every directory that holds a file, and on the
// directory each file's symlinks resolve to, when that is elsewhere. Adding a
// watched directory again is harmless; a directory that was removed and
// re-created gets a new watch; one that does not exist now is tried again at
// the next check. Watches on symlink targets that are no longer targets are
// dropped.
func (s *Source) rewatch(w *fsnotify.Watcher) {
	want := map[string]bool{}
	for _, d := range s.dirs {
		want[d] = true
	}
	for _, f := range []string{s.names.cert, s.names.key, s.names.ca, s.names.issuer} {
		if f == "" {
			continue
		}
		if r, err := filepath.EvalSymlinks(f); err == nil {
			want[dirOf(r)] = true
		}
	}
	for d := range s.watched {
		if !want[d] {
			_ = w.Remove(d)
			delete(s.watched, d)
		}
	}
	for d := range want {
		if w.Add(d) == nil {
			s.watched[d] = true
		}
	}
}

// ExpiringError warns, through [WithOnError], that the current client
// certificate expires in less than twice the poll interval plus
// [DefaultDrainTimeout]: a rotation is overdue. It is reported once per snapshot; the
// certificate stays in use.
type ExpiringError struct {
	Serial   string        // serial (decimal) of the current certificate
	NotAfter time.Time     // its expiry
	Left     time.Duration // time left when the warning was made
}

func (e *ExpiringError) Error() string {
	return fmt.Sprintf("tlsrotate: client certificate (serial %s) expires in %v, at %s, and no rotation has come",
		e.Serial, e.Left.Round(time.Second), e.NotAfter.UTC().Format(time.RFC3339))
}

// RenewAt returns when a provider should renew leaf: at a random point
// between 70 % and 90 % of its validity period (client-go's rule), so that a
// fleet does not renew at once. rnd returns a float64 in [0, 1); nil means
// math/rand/v2.Float64.
func RenewAt(leaf *x509.Certificate, rnd func() float64) time.Time {
	if rnd == nil {
		rnd = rand.Float64
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(life*7/10 + time.Duration(rnd()*float64(life/5)))
}
