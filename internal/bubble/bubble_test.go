package bubble

import (
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIn(t *testing.T) {
	if In(time.Now()) {
		t.Error("a reading outside any bubble is taken for a bubble's")
	}
	synctest.Test(t, func(t *testing.T) {
		if !In(time.Now()) {
			t.Error("a reading inside a bubble is not recognised")
		}
	})
}
