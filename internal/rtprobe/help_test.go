package rtprobe

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// -h prints, to stdout, every flag, the examples and the exit codes; so does
// serve -h, with every kind. Every way of asking gives the same stream.
func TestHelp(t *testing.T) {
	t.Parallel()
	var pf probeFlags
	var sf serveFlags
	cases := []struct {
		args  []string
		flags *flag.FlagSet
		more  []string
	}{
		{[]string{"-h"}, newFlagSet(&pf), []string{"examples:", "exit codes:", "  0  success", "  1  failure", "  2  usage", "-json", "-cert", "-key", "-k", "-duration", "-rate"}},
		{[]string{"--help"}, newFlagSet(&pf), []string{"examples:"}},
		{[]string{"-v", "-help"}, newFlagSet(&pf), []string{"examples:"}},
		{[]string{"serve", "-h"}, newServeFlagSet(&sf), []string{"kinds:", "examples:", "exit codes:", "-retry-after"}},
		{[]string{"serve", "ok", "-h"}, newServeFlagSet(&sf), []string{"kinds:"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, 0, run(context.Background(), tc.args, &out, &errOut))
			require.Empty(t, errOut.String(), "help goes to stdout")
			help := out.String()
			tc.flags.VisitAll(func(f *flag.Flag) {
				require.Regexp(t, `(?m)^  -`+regexp.QuoteMeta(f.Name)+`(\s|$)`, help, "flag -%s listed", f.Name)
			})
			for _, want := range tc.more {
				require.Contains(t, help, want)
			}
			if tc.args[0] == "-h" {
				_, examples, _ := strings.Cut(help, "\nexamples:\n")
				examples, _, _ = strings.Cut(examples, "\nexit codes:")
				for _, name := range []string{"config", "hedge", "fleet", "limit", "attempt-timeout", "json", "n", "c", "rate", "duration"} {
					require.Regexp(t, `(?m)^  .* -`+regexp.QuoteMeta(name)+` `, examples, "an example of -%s", name)
				}
			}
			if tc.args[0] == "serve" {
				for name := range kinds() {
					require.Contains(t, help, "\n  "+name+" ")
				}
			}
		})
	}
}

// A bad argument prints one line saying what is wrong, and the hint to use
// -h, to stderr, and exits with 2; never the whole usage.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-attempts", "0", "http://127.0.0.1:1"}, "rtprobe: -attempts must be at least 1"},
		{[]string{"ftp://user:pw@127.0.0.1/?token=secret"}, "rtprobe: not an http or https URL: ftp://REDACTED@127.0.0.1/?token=REDACTED"},
		{[]string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, "rtprobe: want one URL, got 2 arguments"},
		{[]string{"-nope", "http://127.0.0.1:1"}, "rtprobe: flag provided but not defined: -nope"},
		{[]string{"-H", "nocolon", "http://127.0.0.1:1"}, `rtprobe: invalid value "nocolon" for flag -H: want "Name: value"`},
		{[]string{"-n", "5"}, "rtprobe: -n needs a URL"},
		{[]string{"-X", "BAD METHOD", "http://127.0.0.1:1"}, `rtprobe: -X: invalid method "BAD METHOD"`},
		{[]string{"-n", "5", "-duration", "1s", "http://127.0.0.1:1"}, "rtprobe: give -n or -duration, not both"},
		{[]string{"-cert", "a.pem", "http://127.0.0.1:1"}, "rtprobe: -cert and -key go together"},
		{[]string{"-watch", "http://127.0.0.1:1"}, "rtprobe: -watch needs -cert and -key"},
		{[]string{"-n", "2", "-o", "f", "http://127.0.0.1:1"}, "rtprobe: -o, -show-body and -watch are for one request"},
		{[]string{"-limit", "3", "http://127.0.0.1:1"}, "rtprobe: -limit is for load"},
		{[]string{"-limit", "zero", "-n", "2", "http://127.0.0.1:1"}, `rtprobe: invalid value "zero" for flag -limit`},
		{[]string{"-hedge", "50ms", "http://127.0.0.1:1"}, "rtprobe: -hedge is for load"},
		{[]string{"-fleet", "redis://127.0.0.1:1", "http://127.0.0.1:1"}, "rtprobe: -fleet is for load"},
		{[]string{"-config", "-o", "body.txt"}, "rtprobe: -config sends nothing: -o, -show-body and -watch do not go with it"},
		{[]string{"-hedge", "0s", "-n", "2", "http://127.0.0.1:1"}, `rtprobe: invalid value "0s" for flag -hedge: want "adaptive" or a positive duration`},
		{[]string{"-header-timeout", "0s", "http://127.0.0.1:1"}, "rtprobe: timeouts must be positive"},
		{[]string{"-attempt-timeout", "-1s", "http://127.0.0.1:1"}, "rtprobe: timeouts must be positive"},
		{[]string{"-cacert", "/nonexistent/ca.pem", "http://127.0.0.1:1"}, "rtprobe: -cacert: open /nonexistent/ca.pem"},
		{[]string{"-cert", "/nonexistent/c.pem", "-key", "/nonexistent/k.pem", "https://127.0.0.1:1"}, "rtprobe: -cert, -key: "},
		{[]string{"serve"}, "rtprobe serve: want a KIND"},
		{[]string{"serve", "no-such-kind"}, `rtprobe serve: unknown kind "no-such-kind"`},
		{[]string{"serve", "ok", "extra"}, `rtprobe serve: ok takes no argument, got "extra"`},
		{[]string{"serve", "sequence"}, "rtprobe serve: sequence wants STATUSES"},
		{[]string{"serve", "sequence", "503,abc"}, `rtprobe serve: sequence: want statuses such as 503,503,200, got "503,abc"`},
		{[]string{"serve", "ok", "-retry-after", "soon"}, `rtprobe serve: -retry-after: want seconds or an HTTP date, got "soon"`},
		{[]string{"serve", "ok", "-nope"}, "rtprobe serve: flag provided but not defined: -nope"},
		{[]string{"serve", "answer-before-body", "-status", "1000"}, "rtprobe serve: -status: want a code from 100 to 599, got 1000"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.Equal(t, 2, run(context.Background(), tc.args, &out, &errOut))
			require.Empty(t, out.String())
			lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
			require.Len(t, lines, 2, "one line and the hint:\n%s", errOut.String())
			require.True(t, strings.HasPrefix(lines[0], tc.want), "got %q, want it to start with %q", lines[0], tc.want)
			cmd := "rtprobe"
			if tc.args[0] == "serve" {
				cmd = "rtprobe serve"
			}
			require.Equal(t, `run "`+cmd+` -h" for usage`, lines[1])
			require.NotContains(t, errOut.String(), "secret")
		})
	}
}

// The serve mode's failure to start is exit code 1, with the error on
// stderr.
func TestServeCannotListen(t *testing.T) {
	t.Parallel()
	s := startServe(t, "ok")
	var out, errOut bytes.Buffer
	addr := strings.TrimPrefix(s.info.URL, "http://")
	require.Equal(t, 1, run(context.Background(), []string{"serve", "ok", "-addr", addr}, &out, &errOut))
	require.Contains(t, errOut.String(), "rtprobe: serve: listen tcp "+addr)
	require.Empty(t, out.String())
}
