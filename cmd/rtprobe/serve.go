package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/rtchain/chain/transporttest"
)

// serveFlags are the flags of the serve mode.
type serveFlags struct {
	addr  string
	delay time.Duration
	bytes int
	every time.Duration
}

// kind is one fake server the serve mode can run.
type kind struct {
	desc string
	new  func(f serveFlags) *transporttest.Server
}

func kinds() map[string]kind {
	return map[string]kind{
		"ok": {"200 \"ok\" to every request", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedSequence(transporttest.Reply{Body: "ok\n"})
		}},
		"slow-header": {"waits -delay before the response header", func(f serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedSlowHeader(f.delay)
		}},
		"stall": {"sends the header and -bytes of body, then nothing", func(f serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedStall(f.bytes)
		}},
		"trickle": {"sends -bytes of body, one byte every -every", func(f serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedTrickle(f.every, f.bytes)
		}},
		"retry-after": {"503 with Retry-After: 1 to the first request, 200 after", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedSequence(
				transporttest.Reply{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"1"}}},
				transporttest.Reply{Body: "ok\n"},
			)
		}},
		"503": {"503 to every request", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedSequence(transporttest.Reply{Status: http.StatusServiceUnavailable})
		}},
		"reset": {"sends -bytes of body, then resets the connection", func(f serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedResetMidBody(f.bytes)
		}},
		"empty-reply": {"reads the request, closes the connection without a byte", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedEmptyReply()
		}},
		"malformed-chunked": {"a 200 whose chunked body breaks after \"hello\"", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedMalformedChunked()
		}},
		"blackhole": {"accepts connections, never reads or answers", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedBlackhole()
		}},
		"no-read": {"never reads request bodies (an upload stall)", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedNoRead()
		}},
		"stale-keepalive": {"closes a kept-alive connection when it is reused", func(serveFlags) *transporttest.Server {
			return transporttest.NewUnstartedStaleKeepAlive()
		}},
	}
}

func kindList() string {
	ks := kinds()
	names := make([]string, 0, len(ks))
	for name := range ks {
		names = append(names, name)
	}
	sort.Strings(names)
	s := ""
	for _, name := range names {
		s += fmt.Sprintf("  %-18s %s\n", name, ks[name].desc)
	}
	return s
}

// runServe runs one fake server until ctx is done. ready, when not nil,
// receives the server's URL once it listens (for tests).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(url string)) int {
	fs := flag.NewFlagSet("rtprobe serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: rtprobe serve KIND [flags]\n\nkinds:\n%s\nflags:\n", kindList())
		fs.PrintDefaults()
	}
	var f serveFlags
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.DurationVar(&f.delay, "delay", time.Minute, "slow-header: wait before the header")
	fs.IntVar(&f.bytes, "bytes", 1024, "stall, reset: body bytes before the failure; trickle: body size")
	fs.DurationVar(&f.every, "every", 100*time.Millisecond, "trickle: interval between bytes")

	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "-h" || name == "-help" || name == "--help" {
		fs.Usage()
		return 0
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	k, known := kinds()[name]
	if !known {
		fmt.Fprintf(stderr, "rtprobe serve: unknown kind %q\n", name)
		fs.Usage()
		return 2
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		fmt.Fprintln(stderr, "rtprobe serve:", err)
		return 1
	}
	srv := k.new(f)
	srv.Listener = ln
	srv.Start()
	url := srv.URL
	fmt.Fprintf(stdout, "serving %s on %s (interrupt to stop)\n", name, url)
	if ready != nil {
		ready(url)
	}
	<-ctx.Done()
	srv.Close()
	fmt.Fprintf(stdout, "stopped after %d requests on %d connections\n", srv.Requests(), srv.Connections())
	return 0
}
