package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stream is govulncheck JSON output with one reachable finding (GO-2026-0001,
// traced to a function), one only imported (GO-2026-0002, a package) and
// one only required (GO-2026-0003, a module).
const stream = `{"config": {"scanner_name": "govulncheck"}}
{"progress": {"message": "Checking"}}
{"osv": {"id": "GO-2026-0001"}}
{"finding": {"osv": "GO-2026-0001", "fixed_version": "v1.26.9", "trace": [
  {"module": "stdlib", "version": "v1.26.8", "package": "net/http", "function": "Get"},
  {"module": "example.com/m", "package": "example.com/m", "function": "main"}]}}
{"finding": {"osv": "GO-2026-0002", "trace": [{"module": "stdlib", "version": "v1.26.8", "package": "net/http"}]}}
{"finding": {"osv": "GO-2026-0003", "trace": [{"module": "example.com/dep", "version": "v1.0.0"}]}}
`

func writeDoc(t *testing.T, rows string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.md")
	doc := "# Doc\n\n| GO-2026-0001 | outside the markers |\n\n<!-- vulngate:begin -->\n| id | why |\n|---|---|\n" + rows + "<!-- vulngate:end -->\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGate(t *testing.T) {
	reachable, err := readFindings(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(reachable) != 1 || reachable["GO-2026-0001"].OSV == "" {
		t.Fatalf("reachable = %v, want GO-2026-0001 only", reachable)
	}
	for _, c := range []struct {
		name, rows string
		fail       bool
	}{
		{"documented", "| GO-2026-0001 | accepted |\n", false},
		{"not documented", "| GO-2026-0009 | another one |\n", true},
		{"only outside the markers", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			documented, err := readDocumented(writeDoc(t, c.rows))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if got := report(&out, "m", reachable, documented); got != c.fail {
				t.Errorf("report failed = %v, want %v:\n%s", got, c.fail, out.String())
			}
			if !strings.Contains(out.String(), "net/http.Get, called from example.com/m example.com/m.main") {
				t.Errorf("report does not show the trace:\n%s", out.String())
			}
		})
	}
}

func TestGateBadInput(t *testing.T) {
	if _, err := readFindings(strings.NewReader("")); err == nil {
		t.Error("empty input: no error")
	}
	if _, err := readFindings(strings.NewReader("{not json")); err == nil {
		t.Error("malformed input: no error")
	}
	path := filepath.Join(t.TempDir(), "doc.md")
	os.WriteFile(path, []byte("| GO-2026-0001 | no markers |\n"), 0o644)
	if _, err := readDocumented(path); err == nil {
		t.Error("a document without markers: no error")
	}
}
