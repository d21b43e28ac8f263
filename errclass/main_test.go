package errclass_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/testflag"
)

// TestMain lets the parallel tests overlap (see testflag.RaiseParallel):
// those against real servers mostly wait for a bound to fire. The test that
// changes the package's body read bound (SetBodyWait) does not call
// t.Parallel: it runs alone, before the parallel ones.
func TestMain(m *testing.M) {
	testflag.RaiseParallel(8)
	goleak.VerifyTestMain(m)
}
