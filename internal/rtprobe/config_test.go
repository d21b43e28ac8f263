package rtprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	tt "github.com/rtchain/chain/transporttest"
)

// runOut runs the command and returns its exit code, stdout and stderr.
func runOut(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// requireRow checks that the -config table has the row "layer setting
// value default".
func requireRow(t *testing.T, table, layer, setting, value, def string) {
	t.Helper()
	re := `(?m)^` + regexp.QuoteMeta(layer) + `\s+` + regexp.QuoteMeta(setting) + `\s+` +
		regexp.QuoteMeta(value) + `\s+` + regexp.QuoteMeta(def) + `$`
	require.Regexp(t, re, table)
}

// -config prints the standard stack's settings for the flags, with their
// defaults and layers, and the notes; it sends nothing, with or without a
// URL.
func TestConfig(t *testing.T) {
	t.Parallel()
	code, out, errOut := runOut("-config")
	require.Equal(t, 0, code, errOut)
	require.Empty(t, errOut)
	t.Log("\n" + out)
	require.True(t, strings.HasPrefix(out, "LAYER       SETTING"), out)
	requireRow(t, out, "total", "WithTotal", "30s", "off") // rtprobe's -timeout default
	requireRow(t, out, "retry", "retry.WithMaxAttempts", "3", "3")
	requireRow(t, out, "timeouts", "timeouts.WithResponseHeader", "10s", "10s")
	requireRow(t, out, "base", "timeouts.WithConnect", "500ms", "500ms")
	require.Regexp(t, `(?m)^hedge\s+\(off\)$`, out)
	require.Regexp(t, `(?m)^limit\s+\(off\)$`, out)

	srv := tt.NewServer(tt.Reply{})
	defer srv.Close()
	code, out, errOut = runOut("-config", "-attempts", "5", "-timeout", "5s", "-attempt-timeout", "2s",
		"-connect-timeout", "250ms", "-limit", "8", "-hedge", "adaptive", "-n", "100", srv.URL)
	require.Equal(t, 0, code, errOut)
	t.Log("\n" + out)
	requireRow(t, out, "total", "WithTotal", "5s", "off")
	requireRow(t, out, "retry", "retry.WithMaxAttempts", "5", "3")
	requireRow(t, out, "limit", "limit.WithMaxInFlight", "8", "adaptive")
	requireRow(t, out, "timeouts", "timeouts.WithAttempt", "2s", "off")
	requireRow(t, out, "timeouts", "timeouts.WithResponseHeader", "off", "10s") // gives way to the attempt bound
	requireRow(t, out, "base", "timeouts.WithConnect", "250ms", "500ms")
	requireRow(t, out, "hedge", "hedge.WithDelay", "P90 of the host (hedge.WithQuantile(0.9))", "P95 of the host (hedge.WithQuantile(0.95))")
	require.Zero(t, srv.Stats().Requests, "-config sends nothing")

	code, out, _ = runOut("-config", "-hedge", "50ms", "-limit", "adaptive")
	require.Equal(t, 0, code)
	requireRow(t, out, "hedge", "hedge.WithDelay", "50ms", "P95 of the host (hedge.WithQuantile(0.95))")
	requireRow(t, out, "limit", "limit.WithMaxInFlight", "adaptive", "adaptive")
}

// -config -json is the same table as one JSON object.
func TestConfigJSON(t *testing.T) {
	t.Parallel()
	code, out, errOut := runOut("-config", "-json", "-header-timeout", "3s", "-timeout", "20s")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, strings.Count(out, "\n"), "one object, one line: %s", out)
	var cfg configJSON
	require.NoError(t, json.Unmarshal([]byte(out), &cfg), out)
	var names []string
	var header *settingJSON
	for _, l := range cfg.Layers {
		names = append(names, l.Layer)
		for i, s := range l.Settings {
			if s.Option == "timeouts.WithResponseHeader" {
				header = &l.Settings[i]
			}
		}
	}
	require.Equal(t, []string{"request_id", "total", "retry", "hedge", "limit", "breaker", "spans", "timeouts", "base"}, names)
	require.Equal(t, &settingJSON{Option: "timeouts.WithResponseHeader", Value: "3s", Default: "10s"}, header)
	require.NotNil(t, cfg.Notes, "notes is a list, empty or not")
	require.Contains(t, out, `"layer":"breaker","state":"on"`)
}

// Two bounds that contradict each other are one line naming the flags and
// the options, exit code 2: with -config, and before anything is sent in
// the other modes.
func TestConfigContradiction(t *testing.T) {
	t.Parallel()
	srv := tt.NewServer(tt.Reply{})
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-config", "-attempt-timeout", "40s"}, "rtprobe: -attempt-timeout and -timeout: standard: " +
			"timeouts.WithAttempt(40s) is above WithTotal(30s): the total always ends the request first, so the attempt bound could never fire"},
		{[]string{"-config", "-json", "-attempt-timeout", "2s", "-header-timeout", "3s"}, "rtprobe: -header-timeout and -attempt-timeout: standard: " +
			"timeouts.WithResponseHeader(3s) is above timeouts.WithAttempt(2s): the attempt bound always ends the wait first, so the header bound could never fire"},
		{[]string{"-attempt-timeout", "40s", srv.URL}, "rtprobe: -attempt-timeout and -timeout: standard: timeouts.WithAttempt(40s) is above WithTotal(30s)"},
		{[]string{"-n", "5", "-attempt-timeout", "1s", "-header-timeout", "2s", srv.URL}, "rtprobe: -header-timeout and -attempt-timeout: "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runOut(tc.args...)
			require.Equal(t, 2, code)
			require.Empty(t, out)
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %s", errOut)
			require.True(t, strings.HasPrefix(errOut, tc.want), "got %q, want it to start with %q", errOut, tc.want)
		})
	}
	require.Zero(t, srv.Stats().Requests, "nothing was sent")
}
