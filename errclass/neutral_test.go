package errclass_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/rtchain/chain/errclass"
)

type neutralErr struct{ neutral bool }

func (e *neutralErr) Error() string { return "neutral test error" }
func (e *neutralErr) Neutral() bool { return e.neutral }
func (e *neutralErr) Unwrap() error { return io.ErrUnexpectedEOF }

type pauseErr struct{ d time.Duration }

func (e *pauseErr) Error() string            { return "paused" }
func (e *pauseErr) PausedFor() time.Duration { return e.d }
func (e *pauseErr) Class() errclass.Class    { return errclass.BreakerOpen }

func TestNeutral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil is a success", nil, false},
		{"canceled", &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, true},
		{"request body", &classed{class: errclass.RequestBody}, true},
		{"breaker open", &classed{class: errclass.BreakerOpen}, true},
		{"limited", fmt.Errorf("wrapped: %w", &classed{class: errclass.Limited}), true},
		{"reset counts", io.ErrUnexpectedEOF, false},
		{"deadline counts", context.DeadlineExceeded, false},
		{"neutraler true", fmt.Errorf("x: %w", &neutralErr{neutral: true}), true},
		{"neutraler false wins over class", &neutralErr{neutral: false}, false},
		{"status counts", &classed{class: errclass.Status}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errclass.Neutral(tt.err); got != tt.want {
				t.Errorf("Neutral(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestPausedFor(t *testing.T) {
	t.Parallel()
	if got := errclass.PausedFor(nil); got != 0 {
		t.Errorf("PausedFor(nil) = %v, want 0", got)
	}
	if got := errclass.PausedFor(errors.New("x")); got != 0 {
		t.Errorf("PausedFor(plain) = %v, want 0", got)
	}
	err := &url.Error{Op: "Get", URL: "http://x", Err: fmt.Errorf("retry: %w", &pauseErr{d: 2 * time.Second})}
	if got := errclass.PausedFor(err); got != 2*time.Second {
		t.Errorf("PausedFor(wrapped pause) = %v, want 2s", got)
	}
	if got := errclass.PausedFor(&pauseErr{d: -time.Second}); got != 0 {
		t.Errorf("PausedFor(negative) = %v, want 0", got)
	}
}
