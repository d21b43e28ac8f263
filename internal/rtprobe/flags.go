package rtprobe

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rtchain/chain/internal/redact"
	"github.com/rtchain/chain/standard"
)

// probeFlags are the flags of the URL modes (and -json of the scenarios).
type probeFlags struct {
	method        string
	headers       headerList
	body          string
	attempts      int
	total         time.Duration
	headerTimeout time.Duration
	bodyIdle      time.Duration
	connect       time.Duration
	verbose       bool
	json          bool

	// TLS.
	caFile, certFile, keyFile string
	insecure                  bool
	watch                     bool
	roots                     *x509.CertPool // from caFile; nil: the system's

	// The response body.
	outFile  string
	showBody bool

	// Load.
	n, c     int
	duration time.Duration
	rate     float64
	limit    limitFlag
	hedge    hedgeFlag
	fleet    string // -fleet: the URL of the fleet store
	fleetURL *url.URL

	attemptTimeout time.Duration
	config         bool            // -config: print the stack's settings, send nothing
	set            map[string]bool // the flags given, by name
}

// load reports whether the flags ask for the load mode.
func (pf probeFlags) load() bool {
	return pf.n > 1 || pf.c > 1 || pf.duration > 0 || pf.rate > 0
}

// newFlagSet returns the flag set of the URL modes, filling pf.
func newFlagSet(pf *probeFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("rtprobe", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by runURLModes, help by printHelp
	fs.Usage = func() {}
	fs.StringVar(&pf.method, "X", "", "request `method` (default GET, or POST with -d)")
	fs.Var(&pf.headers, "H", "request `header` \"Name: value\", repeatable")
	fs.StringVar(&pf.body, "d", "", "request `body`")
	fs.IntVar(&pf.attempts, "attempts", 3, "attempts per request, the first included")
	fs.DurationVar(&pf.total, "timeout", 30*time.Second, "bound over every attempt and wait of a request (0: none)")
	fs.DurationVar(&pf.headerTimeout, "header-timeout", 0,
		"response header bound, per attempt (default 10s, or none when -attempt-timeout or -timeout is 10s or less)")
	fs.DurationVar(&pf.attemptTimeout, "attempt-timeout", 0, "bound over each attempt, from its start to the end of its body (0: none)")
	fs.DurationVar(&pf.bodyIdle, "body-idle", standard.DefaultBodyIdle, "response body idle bound")
	fs.DurationVar(&pf.connect, "connect-timeout", 0, "connect bound, per address (0: the timeouts package's default, 500ms)")
	fs.BoolVar(&pf.verbose, "v", false, "print every attempt, redirect and the response headers")
	fs.BoolVar(&pf.json, "json", false, "print JSON: one object per probe, per load run, or per scenario")
	fs.StringVar(&pf.caFile, "cacert", "", "PEM `file` of the CA certificates that verify the server (default: the system's)")
	fs.BoolVar(&pf.insecure, "k", false, "do not verify the server's certificate (insecure)")
	fs.StringVar(&pf.certFile, "cert", "", "PEM `file` of the client certificate (mutual TLS, through tlsrotate; needs -key)")
	fs.StringVar(&pf.keyFile, "key", "", "PEM `file` of the client certificate's private key")
	fs.BoolVar(&pf.watch, "watch", false, "with -cert: probe again each time the certificate files change, until interrupted")
	fs.StringVar(&pf.outFile, "o", "", "write the response body to `file`")
	fs.BoolVar(&pf.showBody, "show-body", false, "print the response body after the summary")
	fs.IntVar(&pf.n, "n", 1, "load: number of requests (or -duration)")
	fs.IntVar(&pf.c, "c", 1, "load: number of concurrent workers")
	fs.DurationVar(&pf.duration, "duration", 0, "load: send requests for this long instead of -n")
	fs.Float64Var(&pf.rate, "rate", 0, "load: start at most this many requests per second (0: as fast as the workers go; alone: until interrupted)")
	fs.Var(&pf.limit, "limit", "load: a concurrency `limit` per host below retry: \"adaptive\" or a fixed number (default: none)")
	fs.Var(&pf.hedge, "hedge", "load: hedge slow attempts after a `delay`: \"adaptive\" (the host's P90 time to headers) or a fixed one, 50ms (default: none)")
	fs.StringVar(&pf.fleet, "fleet", "", "load: share breaker state and the retry budget with other rtprobe processes through Redis at `url`, redis://127.0.0.1:6379 (redisstore's build)")
	fs.BoolVar(&pf.config, "config", false, "print the standard stack's settings for the other flags (each bound, its value, its default, its layer) and exit")
	return fs
}

// printHelp writes the full help, every flag included, to w.
func printHelp(w io.Writer) {
	var pf probeFlags
	fs := newFlagSet(&pf)
	fs.SetOutput(w)
	fmt.Fprint(w, helpHead)
	fs.PrintDefaults()
	fmt.Fprint(w, helpTail)
}

// parseInterspersed parses args with fs, flags and positional arguments in
// any order, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseProbeFlags parses args, which may mix flags and the URL in any order.
// It returns the URL ("" for the scenarios and -config) or a usageError
// (flag.ErrHelp for -h).
func parseProbeFlags(args []string) (probeFlags, string, error) {
	pf := probeFlags{set: map[string]bool{}}
	fs := newFlagSet(&pf)
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return pf, "", err
	} else if err != nil {
		return pf, "", usagef("%v", err)
	}
	fs.Visit(func(f *flag.Flag) { pf.set[f.Name] = true })
	if len(rest) > 1 {
		return pf, "", usagef("want one URL, got %d arguments", len(rest))
	}
	if len(rest) == 0 && !pf.config {
		var other []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "json" {
				other = append(other, "-"+f.Name)
			}
		})
		if len(other) > 0 {
			return pf, "", usagef("%s needs a URL (the scenarios take -json only)", strings.Join(other, ", "))
		}
		return pf, "", nil
	}
	var target string
	if len(rest) == 1 {
		if target, err = normalizeURL(rest[0]); err != nil {
			return pf, "", err
		}
	}
	if err := pf.check(); err != nil {
		return pf, "", err
	}
	return pf, target, nil
}

// check validates the flags of the URL modes and -config, and loads the CA
// file.
func (pf *probeFlags) check() error {
	if err := pf.checkRanges(); err != nil {
		return err
	}
	if err := pf.checkModes(); err != nil {
		return err
	}
	if pf.method == "" {
		pf.method = http.MethodGet
		if pf.body != "" {
			pf.method = http.MethodPost
		}
	}
	if _, err := http.NewRequest(pf.method, "http://127.0.0.1/", nil); err != nil {
		return usagef("-X: invalid method %q", pf.method)
	}
	if pf.fleet != "" {
		u, err := url.Parse(pf.fleet)
		if err != nil || u.Host == "" && u.Scheme != "unix" {
			return usagef("-fleet: want a URL such as redis://127.0.0.1:6379, got %s", redactedURL(pf.fleet))
		}
		pf.fleetURL = u
	}
	if pf.caFile != "" {
		pem, err := os.ReadFile(pf.caFile)
		if err != nil {
			return usagef("-cacert: %v", err)
		}
		pf.roots = x509.NewCertPool()
		if !pf.roots.AppendCertsFromPEM(pem) {
			return usagef("-cacert: no certificate in %s", pf.caFile)
		}
	}
	return nil
}

// checkRanges checks each flag's value on its own.
func (pf *probeFlags) checkRanges() error {
	switch {
	case pf.attempts < 1:
		return usagef("-attempts must be at least 1")
	case pf.n < 1 || pf.c < 1:
		return usagef("-n and -c must be at least 1")
	case pf.duration < 0 || pf.rate < 0:
		return usagef("-duration and -rate must not be negative")
	case pf.set["header-timeout"] && pf.headerTimeout <= 0 || pf.bodyIdle <= 0 ||
		pf.connect < 0 || pf.total < 0 || pf.attemptTimeout < 0:
		return usagef("timeouts must be positive")
	}
	return nil
}

// checkModes checks that the flags given go together. -config takes the
// load's flags without a load: it shows the stack they give.
func (pf *probeFlags) checkModes() error {
	load := pf.load() || pf.config
	switch {
	case pf.duration > 0 && pf.set["n"]:
		return usagef("give -n or -duration, not both")
	case (pf.certFile == "") != (pf.keyFile == ""):
		return usagef("-cert and -key go together")
	case pf.watch && pf.certFile == "":
		return usagef("-watch needs -cert and -key: it probes again when they change")
	case pf.config && (pf.watch || pf.outFile != "" || pf.showBody):
		return usagef("-config sends nothing: -o, -show-body and -watch do not go with it")
	case pf.load() && (pf.outFile != "" || pf.showBody || pf.watch):
		return usagef("-o, -show-body and -watch are for one request, not for load")
	case pf.limit.on() && !load:
		return usagef("-limit is for load (-n, -duration or -rate)")
	case pf.hedge.on() && !load:
		return usagef("-hedge is for load (-n, -duration or -rate)")
	case pf.fleet != "" && !load:
		return usagef("-fleet is for load (-n, -duration or -rate)")
	}
	return nil
}

// normalizeURL reads raw as an http or https URL; without a scheme it is
// https (as "example.com/path"). Errors show the URL redacted.
func normalizeURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usagef("not an http or https URL: %s", redactedURL(raw))
	}
	return raw, nil
}

// redactedURL is raw with user info and query values redacted.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return redact.URL(u)
}
