// Package rtprobe is the rtprobe command: it shows what chain does against
// the failures that hang or break plain net/http clients, probes and
// load-tests real endpoints through the standard stack, prints the
// configuration a set of flags gives, and serves the fake failing servers of
// transporttest. Its mains are cmd/rtprobe and, with fleet mode (-fleet,
// through Redis), redisstore/cmd/rtprobe in the redisstore module, which
// supplies the Extensions the root module cannot link.
package rtprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// Main runs the command with args (the program name left out), writing to
// stdout and stderr, and returns its exit code: 0 for success, 1 when a
// check or request failed, 2 for a usage error. An interrupt (SIGINT,
// SIGTERM) ends a load, a -watch or a serve as its end does. When stderr is
// a terminal, a load draws a progress bar on it. ext is what the build adds
// to the command; the zero Extensions is the root module's build.
func Main(args []string, stdout, stderr io.Writer, ext Extensions) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	width := func() int { return 0 }
	if f, ok := stderr.(*os.File); ok {
		width = termWidth(f)
	}
	return runConsole(ctx, args, console{out: stdout, err: stderr, width: width, ext: ext})
}

// console is where the command runs: its standard output and error, the
// width of the terminal behind err, asked at each redraw so that a resized
// window is followed (0 when err is not a terminal: no progress bar), and
// what the build adds.
type console struct {
	out, err io.Writer
	width    func() int
	ext      Extensions
}

// termWidth returns the width function of f: its terminal's width, or 0
// when f is not a terminal (a file, a pipe, /dev/null).
func termWidth(f *os.File) func() int {
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return func() int { return 0 }
	}
	return func() int {
		w, _, err := term.GetSize(fd)
		if err != nil {
			return 0
		}
		return w
	}
}

// run is the whole command with its arguments and output given, so that
// tests call it directly; stderr is not a terminal here. It returns the exit
// code: 0 for success, 1 when a check or request failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runConsole(ctx, args, console{out: stdout, err: stderr, width: func() int { return 0 }})
}

// runConsole is run on a console.
func runConsole(ctx context.Context, args []string, con console) int {
	var code int
	var err error
	if len(args) > 0 && args[0] == "serve" {
		code, err = runServe(ctx, args[1:], con, nil)
	} else {
		code, err = runURLModes(ctx, args, con)
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(con.err, "%s: %s\nrun \"%s -h\" for usage\n", ue.cmd, ue.msg, ue.cmd)
			return 2
		}
		fmt.Fprintln(con.err, "rtprobe:", err)
	}
	return code
}

// usageError is a bad flag or argument: the command prints it as one line,
// with a hint to use -h, and exits with 2.
type usageError struct {
	cmd string // "rtprobe" or "rtprobe serve"
	msg string
}

func (e usageError) Error() string { return e.cmd + ": " + e.msg }

func usagef(format string, args ...any) error {
	return usageError{cmd: "rtprobe", msg: fmt.Sprintf(format, args...)}
}

const helpHead = `rtprobe shows what chain does against the failures that hang or break plain
net/http clients, probes and load-tests endpoints through chain's standard
stack (standard.Client), prints the stack's settings for a set of flags,
and serves fake failing servers.

usage:
  rtprobe [-json]                  run the built-in scenarios: plain net/http vs chain
  rtprobe [flags] URL              one request, with each phase, redirects and attempts
  rtprobe -n N | -duration D [-c C] [-rate R] [flags] URL
                                   load: percentiles, outcomes, rejections, retries
  rtprobe -config [-json] [flags] [URL]
                                   the stack's settings for the flags; sends nothing
  rtprobe serve KIND [flags]       run a fake server ("rtprobe serve -h" lists the kinds)

A URL without a scheme is read as https:// (example.com/health).
Secrets are never printed: URL user info and query values show as REDACTED.

flags:
`

const helpTail = `
examples:
  rtprobe                                      # scenarios; exit 0 when chain behaved as expected
  rtprobe -v example.com/health                # every attempt and redirect, response headers
  rtprobe -json -attempts 1 https://api.example/ping | jq .phases
  rtprobe -n 1000 -c 20 https://api.example/ping
  rtprobe -duration 30s -rate 50 -c 10 -limit adaptive https://api.example/ping
  rtprobe -n 500 -c 10 -hedge adaptive https://api.example/ping   # or -hedge 50ms
  rtprobe -config -timeout 5s -attempt-timeout 2s -limit 8        # each bound, its layer, its default
  rtprobe -config -json -header-timeout 3s | jq '.layers[] | select(.layer == "timeouts")'
  cd redisstore && go run ./cmd/rtprobe -fleet redis://127.0.0.1:6379 -n 200 -c 4 https://api.example/ping
                                               # a second run rejects at once what the first found down
  rtprobe -cert tls.crt -key tls.key -cacert ca.crt -watch https://mtls.example/
  rtprobe serve sequence 503,503,200 -retry-after 1   # then, elsewhere:
  rtprobe -v http://127.0.0.1:8080/

exit codes:
  0  success: every request got a status below 400; scenarios: chain behaved as expected
  1  failure: a request failed or got a status of 400 or more; a scenario went wrong
  2  usage: a bad flag or argument, or (-config, or any mode) two bounds that contradict
     each other, such as -attempt-timeout above -timeout
`
