package tlsrotate

import (
	"crypto/x509"
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
	if w != nil {
		defer w.Close()
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}

	poll := time.NewTicker(s.cfg.poll)
	defer poll.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var backoff time.Duration
	var warned uint64 // generation last warned about as expiring
	if w != nil {
		// A change written between the constructor's first load and the
		// watches being in place raised no event: check once, a debounce in.
		debounce.Reset(s.cfg.debounce)
	}

	check := func() {
		if w != nil {
			s.rewatch(w)
		}
		_, err := s.reload(s.ctx)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			s.report(err)
			backoff = min(max(2*backoff, minRetry), s.cfg.poll)
			retry.Reset(backoff)
		} else {
			backoff = 0
			retry.Stop()
		}
		if snap := s.cur.Load(); snap.Generation != warned {
			if left := snap.Leaf.NotAfter.Sub(s.cfg.now()); left < 2*s.cfg.poll+s.cfg.drainTimeout {
				warned = snap.Generation
				s.report(&ExpiringError{Serial: snap.Serial(), NotAfter: snap.Leaf.NotAfter, Left: left})
			}
		}
	}

	for {
		select {
		case <-s.ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			// Any event on any entry: Kubernetes swaps "..data", editors
			// rename temporary files; the hash decides whether it mattered.
			debounce.Reset(s.cfg.debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.report(fmt.Errorf("tlsrotate: file watcher: %w", err))
			debounce.Reset(s.cfg.debounce) // events may have been lost (overflow)
		case <-debounce.C:
			check()
		case <-poll.C:
			check()
		case <-retry.C:
			check()
		}
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
// certificate expires in less than twice the poll interval plus the drain
// timeout: a rotation is overdue. It is reported once per snapshot; the
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
