package errclass_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtchain/chain/errclass"
)

// TestStdlibTextsStillInGOROOT guards the text matches of errclass (STYLE
// 13): every text it recognises must still be spelled in the standard
// library file it names. If Go changes one of those messages, this test
// fails and names it.
func TestStdlibTextsStillInGOROOT(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	root := filepath.Join(strings.TrimSpace(string(out)), "src")
	texts := errclass.StdlibTexts()
	if len(texts) == 0 {
		t.Fatal("no text-matched errors listed")
	}
	cache := map[string]string{}
	for _, tx := range texts {
		t.Run(tx.Text, func(t *testing.T) {
			src, ok := cache[tx.Source]
			if !ok {
				b, err := os.ReadFile(filepath.Join(root, tx.Source))
				if err != nil {
					t.Fatalf("read %s: %v", tx.Source, err)
				}
				src = string(b)
				cache[tx.Source] = src
			}
			if !strings.Contains(src, tx.Text) {
				t.Errorf("%s no longer spells %q (%s): update errclass's text match", tx.Source, tx.Text, tx.Name)
			}
			if got := errclass.Classify(errorString(tx.Text)); got != tx.Class {
				t.Errorf("Classify(%q) = %v, want %v", tx.Text, got, tx.Class)
			}
		})
	}
}

// errorString is an innermost error with a given text, like errors.New.
type errorString string

func (e errorString) Error() string { return string(e) }
