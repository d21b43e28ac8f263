package testflag_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/testflag"
)

// TestMain raises -test.parallel, as the packages' TestMain functions do.
// Run again by TestRaiseParallel with TESTFLAG_PRINT set, it prints the
// value and runs no test.
func TestMain(m *testing.M) {
	testflag.RaiseParallel(16)
	if os.Getenv("TESTFLAG_PRINT") != "" {
		fmt.Printf("parallel=%s\n", flag.Lookup("test.parallel").Value)
		return
	}
	goleak.VerifyTestMain(m)
}

// RaiseParallel sets -test.parallel when the command line does not give it,
// and keeps the value the command line gives.
func TestRaiseParallel(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "parallel=16"},
		{[]string{"-test.parallel=3"}, "parallel=3"},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, tc.args...)...)
		cmd.Env = append(os.Environ(), "TESTFLAG_PRINT=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.True(t, strings.Contains(string(out), tc.want+"\n"), "args %q: got %s, want %s", tc.args, out, tc.want)
	}
}
