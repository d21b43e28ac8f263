// Command vulngate fails CI on vulnerabilities that govulncheck finds
// reachable and that are not documented.
//
// It reads the JSON stream of `govulncheck -format json` on standard input
// and the documented findings from a Markdown file: every vulnerability id
// (GO-YYYY-NNNN) that starts a table row between the lines
// "<!-- vulngate:begin -->" and "<!-- vulngate:end -->". A finding is
// reachable when govulncheck traced a call to a vulnerable function (a
// finding that only names a module or a package is not). Usage:
//
//	govulncheck -format json ./... | vulngate -doc RELIABILITY.md -name root
//
// It prints every reachable finding, documented or not (the vulnerable
// function and the function of the module that reaches it), and documented ids
// that were not found (stale entries, to be removed), and exits 1 when a
// reachable finding is not documented, 2 when its input cannot be read.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// finding is the part of govulncheck's finding message that the gate uses.
type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

func (f frame) String() string {
	fn := f.Function
	if f.Receiver != "" {
		fn = f.Receiver + "." + fn
	}
	mod := f.Module
	if f.Version != "" {
		mod += "@" + f.Version
	}
	return fmt.Sprintf("%s %s.%s", mod, f.Package, fn)
}

func main() {
	doc := flag.String("doc", "RELIABILITY.md", "the Markdown file that documents accepted findings")
	name := flag.String("name", ".", "the module's name in the output")
	flag.Parse()
	documented, err := readDocumented(*doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	reachable, err := readFindings(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	failed := report(os.Stdout, *name, reachable, documented)
	if failed {
		fmt.Printf("vulngate: %s: reachable vulnerabilities not documented in %s (see its Vulnerabilities section)\n", *name, *doc)
		os.Exit(1)
	}
}

var idRow = regexp.MustCompile(`^\|\s*(GO-\d{4}-\d+)\s*\|`)

// readDocumented returns the ids of the table rows between the markers.
func readDocumented(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	in, seen := false, false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "<!-- vulngate:begin -->":
			in, seen = true, true
		case line == "<!-- vulngate:end -->":
			in = false
		case in:
			if m := idRow.FindStringSubmatch(line); m != nil {
				ids[m[1]] = true
			}
		}
	}
	if !seen {
		return nil, fmt.Errorf("%s: no <!-- vulngate:begin --> marker", path)
	}
	return ids, nil
}

// readFindings returns the reachable findings of a govulncheck JSON stream,
// one (the first seen) per vulnerability id.
func readFindings(r io.Reader) (map[string]finding, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	out := map[string]finding{}
	sawConfig := false
	for {
		var msg struct {
			Config  *json.RawMessage `json:"config"`
			Finding *finding         `json:"finding"`
		}
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading govulncheck output: %w", err)
		}
		sawConfig = sawConfig || msg.Config != nil
		f := msg.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" {
			continue
		}
		if _, ok := out[f.OSV]; !ok {
			out[f.OSV] = *f
		}
	}
	if !sawConfig {
		return nil, errors.New("no govulncheck output (no config message)")
	}
	return out, nil
}

// report prints the findings and reports whether one is not documented.
func report(w io.Writer, name string, reachable map[string]finding, documented map[string]bool) (failed bool) {
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range reachable {
			if !yield(id) {
				return
			}
		}
	})
	fmt.Fprintf(w, "vulngate: %s: %d reachable vulnerabilities\n", name, len(ids))
	for _, id := range ids {
		f := reachable[id]
		state := "documented"
		if !documented[id] {
			state, failed = "NOT DOCUMENTED", true
		}
		fmt.Fprintf(w, "  %s (fixed in %s) %s: %s, called from %s\n", id, f.FixedVersion, state, f.Trace[0], f.Trace[len(f.Trace)-1])
	}
	for id := range documented {
		if _, ok := reachable[id]; !ok {
			fmt.Fprintf(w, "  note: %s is documented but was not found in %s (stale entry?)\n", id, name)
		}
	}
	return failed
}
