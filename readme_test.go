package chain_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recipe is one ```go block of the README's Recipes section.
type recipe struct {
	heading string // the ### heading it is under
	line    int    // the line of its opening fence, from 1
	code    string
}

// recipeBlocks returns the ```go blocks of the "## Recipes" section of a
// README, and an error when the section is missing, a ### subsection has
// no ```go block or more than one, or a block stands outside a subsection.
func recipeBlocks(readme string) ([]recipe, error) {
	lines := strings.Split(readme, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "## Recipes" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no \"## Recipes\" section")
	}
	var (
		out      []recipe
		heading  string
		blocks   = map[string]int{}
		headings []string
	)
	for i := start; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			i = len(lines) // the next section ends this one
			continue
		case strings.HasPrefix(l, "### "):
			heading = strings.TrimPrefix(l, "### ")
			headings = append(headings, heading)
		case strings.HasPrefix(strings.TrimSpace(l), "```"):
			lang := strings.TrimPrefix(strings.TrimSpace(l), "```")
			end := i + 1
			for end < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[end]), "```") {
				end++
			}
			if end == len(lines) {
				return nil, fmt.Errorf("README line %d: unclosed code block", i+1)
			}
			if lang == "go" {
				if heading == "" {
					return nil, fmt.Errorf("README line %d: a ```go block before the first ### of Recipes", i+1)
				}
				blocks[heading]++
				out = append(out, recipe{heading: heading, line: i + 1, code: strings.Join(lines[i+1:end], "\n")})
			}
			i = end
		}
	}
	for _, h := range headings {
		if blocks[h] != 1 {
			return nil, fmt.Errorf("recipe %q has %d ```go blocks, want exactly 1", h, blocks[h])
		}
	}
	return out, nil
}

// normalise drops the indentation and trailing spaces of every line of code,
// and the blank lines around it.
func normalise(code string) string {
	lines := strings.Split(code, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// snippets returns the code that a recipe may show, normalised, by the
// name of its function: the body of every Example function and the whole
// declaration of every Test function in the _test.go files under root.
func snippets(root string) (map[string]string, error) {
	out := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || fn.Recv != nil {
				continue
			}
			name := filepath.ToSlash(path) + ":" + fn.Name.Name
			switch {
			case strings.HasPrefix(fn.Name.Name, "Example"):
				from, to := fset.Position(fn.Body.Lbrace).Offset+1, fset.Position(fn.Body.Rbrace).Offset
				out[name] = normalise(string(src[from:to]))
			case strings.HasPrefix(fn.Name.Name, "Test"):
				from, to := fset.Position(fn.Pos()).Offset, fset.Position(fn.End()).Offset
				out[name] = normalise(string(src[from:to]))
			}
		}
		return nil
	})
	return out, err
}

// checkRecipes returns one error per recipe of readme whose code is not,
// modulo indentation, one of the snippets.
func checkRecipes(readme string, code map[string]string) ([]recipe, []error) {
	recipes, err := recipeBlocks(readme)
	if err != nil {
		return nil, []error{err}
	}
	var errs []error
	for _, r := range recipes {
		if err := findSnippet(r, code); err != nil {
			errs = append(errs, err)
		}
	}
	return recipes, errs
}

// findSnippet returns nil when r's code is one of the snippets, or an
// error that shows where it departs from the one that starts like it.
func findSnippet(r recipe, code map[string]string) error {
	want := normalise(r.code)
	first, _, _ := strings.Cut(want, "\n")
	for name, got := range code {
		if got == want {
			return nil
		}
		if g, _, _ := strings.Cut(got, "\n"); g == first {
			gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
			for i := 0; ; i++ {
				switch {
				case i >= len(gl) || i >= len(wl):
					return fmt.Errorf("README line %d (%s): %s has %d lines, the README %d",
						r.line, r.heading, name, len(gl), len(wl))
				case gl[i] != wl[i]:
					return fmt.Errorf("README line %d (%s) departs from %s at its line %d:\n README: %s\n code:   %s",
						r.line+1+i, r.heading, name, i+1, wl[i], gl[i])
				}
			}
		}
	}
	return fmt.Errorf("README line %d (%s): no Example body (or Test function) in the repository is this code; it starts %q",
		r.line, r.heading, first)
}

// readmeAndCode reads README.md and the repository's snippets, and checks
// the one against the other.
func readmeAndCode(t *testing.T) (readme string, code map[string]string, recipes []recipe, errs []error) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	code, err = snippets(".")
	require.NoError(t, err)
	recipes, errs = checkRecipes(string(b), code)
	return string(b), code, recipes, errs
}

// TestReadmeRecipes keeps the README from drifting from compiled code: every
// ```go block of its Recipes section must be, line for line (indentation
// aside), the body of an Example function of the repository, whose output
// `go test` checks, or a whole Test function.
func TestReadmeRecipes(t *testing.T) {
	_, _, recipes, errs := readmeAndCode(t)
	for _, err := range errs {
		t.Error(err)
	}
	assert.GreaterOrEqual(t, len(recipes), 7, "the README has a recipe per topic of issue 18")
}

// TestReadmeRecipesDetectDrift proves that the check can fail: a changed
// line, a recipe without code and a recipe with two blocks are reported.
func TestReadmeRecipesDetectDrift(t *testing.T) {
	readme, code, recipes, errs := readmeAndCode(t)
	require.Empty(t, errs)
	require.NotEmpty(t, recipes)

	r := recipes[0]
	lines := strings.Split(r.code, "\n")
	lines[1] += " // edited in the README only"
	drifted := strings.Replace(readme, r.code, strings.Join(lines, "\n"), 1)
	_, errs = checkRecipes(drifted, code)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "departs from")

	_, errs = checkRecipes(strings.Replace(readme, "```go\n"+r.code+"\n```", "", 1), code)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "has 0 ```go blocks")

	twice := "```go\n" + r.code + "\n```\n\n```go\n" + r.code + "\n```"
	_, errs = checkRecipes(strings.Replace(readme, "```go\n"+r.code+"\n```", twice, 1), code)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "has 2 ```go blocks")

	_, errs = checkRecipes(strings.Replace(readme, "## Recipes", "## Cookbook", 1), code)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "no \"## Recipes\" section")
}
