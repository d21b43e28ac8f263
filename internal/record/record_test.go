package record

import (
	"context"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecord(t *testing.T) {
	if From(context.Background()) != nil {
		t.Fatal("From(empty context) is not nil")
	}
	var none *Record
	none.Attempt()
	none.GiveUp("attempts")
	if none.Attempts() != 0 || none.Reason() != "" {
		t.Fatal("a nil record reads non-zero")
	}

	r := &Record{}
	ctx := With(context.Background(), r)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { From(ctx).Attempt() })
	}
	wg.Wait()
	From(ctx).GiveUp("budget")
	if got := r.Attempts(); got != 10 {
		t.Errorf("Attempts() = %d, want 10", got)
	}
	if got := r.Reason(); got != "budget" {
		t.Errorf("Reason() = %q, want budget", got)
	}
}
