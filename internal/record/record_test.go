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

// carrier is a context that carries a Record itself, as a layer may.
type carrier struct {
	context.Context
	r Record
}

func (c *carrier) Value(k any) any {
	if IsKey(k) {
		return &c.r
	}
	return c.Context.Value(k)
}

func TestIsKey(t *testing.T) {
	c := &carrier{Context: context.Background()}
	if From(c) != &c.r {
		t.Fatal("From does not find the record of a context answering IsKey keys")
	}
	if IsKey(struct{}{}) || IsKey("record") {
		t.Error("IsKey accepts a foreign key")
	}
}
