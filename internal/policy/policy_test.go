// Package policy_test holds repository rules as tests: every package is
// documented, and the pure cores stay free of I/O.
package policy_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func root(t *testing.T) string {
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s", dir)
	}
	return dir
}

// packages returns, per directory, the non-test Go files.
func packages(t *testing.T) map[string][]string {
	pkgs := map[string][]string{}
	filepath.WalkDir(root(t), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			pkgs[filepath.Dir(path)] = append(pkgs[filepath.Dir(path)], path)
		}
		return nil
	})
	return pkgs
}

func TestEveryPackageIsDocumented(t *testing.T) {
	for dir, files := range packages(t) {
		documented := false
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.HasPrefix(af.Doc.Text(), "Package "+af.Name.Name) || af.Name.Name == "main" && af.Doc != nil {
				documented = true
			}
		}
		if !documented {
			t.Errorf("%s: no package doc comment", dir)
		}
	}
}

// Pure packages compute; they do not touch files, the network or the
// clock (time is an input).
var pure = map[string][]string{
	"merkle":             nil,
	"blob":               nil,
	"chain":              nil,
	"files":              nil,
	"redstuff":           nil,
	"internal/control":   nil,
	"internal/recovery":  nil,
	"internal/migration": nil,
	"internal/sim":       nil,
}

// inProcess lets a pure package use what it imports without I/O: the
// simulator calls its storage nodes' HTTP API (node.Handler) in its own
// event loop through httptest's recorder, with no socket.
var inProcess = map[string][]string{
	"internal/sim": {"net/http", "net/http/httptest"},
}

var forbidden = []string{"os", "net", "net/http", "io/fs", "path/filepath", "os/exec", "syscall", "github.com/cockroachdb/pebble/v2", "github.com/cometbft/cometbft"}

func TestPureCoresDoNoIO(t *testing.T) {
	base := root(t)
	for rel := range pure {
		files := packages(t)[filepath.Join(base, rel)]
		if len(files) == 0 {
			t.Fatalf("%s: no files", rel)
		}
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if slices.Contains(inProcess[rel], p) {
					continue
				}
				for _, bad := range forbidden {
					if p == "net/url" { // parses strings only (node addresses)
						continue
					}
					if p == bad || strings.HasPrefix(p, bad+"/") {
						t.Errorf("%s imports %s: pure packages do no I/O", f, p)
					}
				}
			}
			src, _ := os.ReadFile(f)
			if slices.Contains([]string{"internal/control", "internal/recovery", "internal/migration", "internal/sim"}, rel) && strings.Contains(string(src), "time.Now(") {
				t.Errorf("%s reads the clock: state machines take time as an input", f)
			}
		}
	}
}
