package tlsrotate

import (
	"fmt"
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

	check := func() {
		if w != nil {
			s.rewatch(w)
		}
		if _, err := s.reload(); err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.report(err)
			backoff = min(max(2*backoff, minRetry), s.cfg.poll)
			retry.Reset(backoff)
			return
		}
		backoff = 0
		retry.Stop()
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

// rewatch (re-)adds a watch on every directory. Adding a watched directory
// again is harmless; a directory that was removed and re-created gets a new
// watch; one that does not exist now is tried again at the next check.
func (s *Source) rewatch(w *fsnotify.Watcher) {
	for _, d := range s.dirs {
		_ = w.Add(d)
	}
}
