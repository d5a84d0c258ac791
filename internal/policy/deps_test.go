package policy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/weftnet/weft"

// listed is what `go list -json` says of a package (non-test files).
type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

// goList lists the packages matching patterns (and with deps, every
// package they import, transitively).
func goList(t *testing.T, deps bool, patterns ...string) map[string]*listed {
	t.Helper()
	args := []string{"list", "-json=ImportPath,Standard,Imports,Deps,Module"}
	if deps {
		args = append(args, "-deps")
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir = root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	pkgs := map[string]*listed{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// lean packages are what an application links when it uses the SDK or
// the codec: they must never pull in a server. Each lists the modules
// besides the standard library and Weft it may depend on, transitively.
var lean = map[string][]string{
	"merkle":   nil,
	"units":    nil,
	"blob":     nil,
	"chain":    nil,
	"files":    nil,
	"redstuff": {"github.com/klauspost/reedsolomon", "github.com/klauspost/cpuid/v2"},
	"client":   {"github.com/klauspost/reedsolomon", "github.com/klauspost/cpuid/v2", "github.com/gorilla/websocket"},
}

// serverDeps are what no lean package may depend on, even indirectly,
// and why. A prefix matches the package and everything below it.
var serverDeps = map[string]string{
	"github.com/cometbft/cometbft":      "the validator's consensus, p2p and RPC server",
	"github.com/cockroachdb/pebble":     "the node's and the validator's database",
	"github.com/prometheus/":            "the node's metrics",
	"github.com/spf13/cobra":            "the command line",
	module + "/internal/node":           "the storage node",
	module + "/internal/store":          "the storage node's database",
	module + "/internal/control/engine": "the validator",
	module + "/internal/gateway":        "the gateway server",
	module + "/internal/devnet":         "the devnet",
	module + "/internal/cli":            "the command line",
	module + "/internal/bench":          "the benchmarks",
	module + "/client/clienttest":       "a network for tests (it links the servers)",
}

func matches(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, strings.TrimSuffix(prefix, "/")+"/")
}

// TestLeanPackagesLinkNoServer checks, over transitive imports, that the
// SDK and the codec link nothing of the servers, and no module they are
// not allowed.
func TestLeanPackagesLinkNoServer(t *testing.T) {
	var patterns []string
	for p := range lean {
		patterns = append(patterns, "./"+p)
	}
	pkgs := goList(t, true, patterns...)
	for _, p := range slices.Sorted(maps.Keys(lean)) {
		allowed := lean[p]
		lp := pkgs[module+"/"+p]
		if lp == nil {
			t.Fatalf("%s: not listed", p)
		}
		// One report per server and per module: the first dependency
		// found (Deps is sorted), with how it is reached.
		servers := map[string]bool{}
		modules := map[string]bool{}
		for _, d := range lp.Deps {
			for _, bad := range slices.Sorted(maps.Keys(serverDeps)) {
				if why := serverDeps[bad]; matches(d, bad) && !servers[bad] {
					servers[bad] = true
					t.Errorf("%s depends on %s (%s): %s", p, d, why, chain(pkgs, lp, d))
				}
			}
		}
		for _, d := range lp.Deps {
			dp := pkgs[d]
			if dp == nil || dp.Standard || dp.Module == nil || dp.Module.Path == module || slices.Contains(allowed, dp.Module.Path) || modules[dp.Module.Path] {
				continue
			}
			modules[dp.Module.Path] = true
			if len(servers) == 0 {
				t.Errorf("%s depends on module %s, which it may not (or add it to lean deliberately): %s", p, dp.Module.Path, chain(pkgs, lp, d))
			}
		}
		if len(servers) > 0 && len(modules) > 0 {
			t.Errorf("%s depends, through them, on %d modules it may not", p, len(modules))
		}
	}
}

// chain returns a path of imports from p to dep, for the error message.
func chain(pkgs map[string]*listed, p *listed, dep string) string {
	prev := map[string]string{p.ImportPath: ""}
	queue := []string{p.ImportPath}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == dep {
			var path []string
			for c := cur; c != ""; c = prev[c] {
				path = append([]string{rel(c)}, path...)
			}
			return strings.Join(path, " → ")
		}
		if lp := pkgs[cur]; lp != nil {
			for _, i := range lp.Imports {
				if _, seen := prev[i]; !seen {
					prev[i] = cur
					queue = append(queue, i)
				}
			}
		}
	}
	return rel(p.ImportPath) + " → … → " + rel(dep)
}

// layers orders Weft's packages as ARCHITECTURE.md draws them:
// dependencies point downwards only, so a package imports Weft packages
// of lower layers only. A new package must be placed here.
var layers = [][]string{
	{"merkle", "units", "internal/keyfile", "internal/loopback", "internal/seeded", "internal/testseed", "internal/policy"},
	{"blob"},
	{"chain", "files", "redstuff"},
	{"internal/control", "internal/recovery", "internal/forge"},
	{"internal/migration", "internal/control/rpc", "internal/store", "internal/upload"},
	{"internal/download"},
	{"client", "internal/control/engine"},
	{"internal/httpapi"},
	{"internal/node", "internal/gateway"},
	{"client/clienttest", "internal/devnet", "internal/sim"},
	{"internal/bench"},
	{"internal/cli"},
	{"cmd/weft"},
}

// thirdParty says which packages may import each module directly.
var thirdParty = map[string][]string{
	"github.com/cometbft/cometbft":        {"internal/control/engine", "internal/bench"},
	"github.com/cockroachdb/pebble/v2":    {"internal/store", "internal/control/engine"},
	"github.com/prometheus/client_golang": {"internal/node"},
	"github.com/spf13/cobra":              {"internal/cli"},
	"github.com/gorilla/websocket":        {"internal/control/rpc"},
	"github.com/klauspost/reedsolomon":    {"redstuff", "internal/bench"},
	"github.com/klauspost/cpuid/v2":       {"redstuff", "internal/bench"},
}

// TestDependenciesPointDownwards checks the direct imports of every Weft
// package against its layer, and every third-party import against the
// packages allowed it.
func TestDependenciesPointDownwards(t *testing.T) {
	layer := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			layer[p] = i
		}
	}
	pkgs := goList(t, true, "./...")
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		me, ok := layer[rel(p.ImportPath)]
		if !ok {
			t.Errorf("%s is in no layer: place it in internal/policy's layers", rel(p.ImportPath))
			continue
		}
		for _, imp := range p.Imports {
			ip := pkgs[imp]
			switch {
			case ip == nil || ip.Standard:
			case ip.Module != nil && ip.Module.Path == module:
				if l, ok := layer[rel(imp)]; ok && l >= me {
					t.Errorf("%s imports %s: dependencies point downwards only (layer %d imports layer %d)", rel(p.ImportPath), rel(imp), me, l)
				}
			case ip.Module != nil:
				if !slices.Contains(thirdParty[ip.Module.Path], rel(p.ImportPath)) {
					t.Errorf("%s imports %s of module %s, which only %v may", rel(p.ImportPath), imp, ip.Module.Path, thirdParty[ip.Module.Path])
				}
			}
		}
	}
}

// public packages are what code outside the module imports: what they
// export must not name a type of an internal package, which such code
// could not name (nor test errors against).
var public = []string{"merkle", "units", "blob", "chain", "files", "redstuff", "client", "client/clienttest"}

func TestPublicAPINamesNoInternalType(t *testing.T) {
	base := root(t)
	for _, p := range public {
		files := packages(t)[filepath.Join(base, p)]
		if len(files) == 0 {
			t.Fatalf("%s: no files", p)
		}
		for _, f := range files {
			for _, bad := range internalNames(t, f) {
				t.Errorf("%s: %s", p, bad)
			}
		}
	}
}

// internalNames returns the exported declarations of a file whose types
// mention an internal package.
func internalNames(t *testing.T, file string) []string {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	internal := map[string]string{} // import name → path
	for _, imp := range af.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if !strings.Contains(path, "/internal/") {
			continue
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		internal[name] = path
	}
	var out []string
	check := func(what string, n ast.Node) {
		if n == nil {
			return
		}
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.StructType:
				for _, f := range n.Fields.List {
					if len(f.Names) == 0 || slices.ContainsFunc(f.Names, func(id *ast.Ident) bool { return id.IsExported() }) {
						ast.Inspect(f.Type, func(m ast.Node) bool { return visitSel(m, internal, what, fset, &out) })
					}
				}
				return false
			}
			return visitSel(n, internal, what, fset, &out)
		})
	}
	for _, d := range af.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Recv != nil && !exportedRecv(d.Recv.List[0].Type) {
				continue
			}
			check("func "+d.Name.Name, d.Type)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						check("type "+s.Name.Name, s.Type)
					}
				case *ast.ValueSpec:
					for i, n := range s.Names {
						if !n.IsExported() {
							continue
						}
						check(n.Name, s.Type)
						if i < len(s.Values) {
							check(n.Name, s.Values[i])
						}
					}
				}
			}
		}
	}
	return out
}

func visitSel(n ast.Node, internal map[string]string, what string, fset *token.FileSet, out *[]string) bool {
	if sel, ok := n.(*ast.SelectorExpr); ok {
		if id, ok := sel.X.(*ast.Ident); ok && internal[id.Name] != "" {
			*out = append(*out, fmt.Sprintf("%s: exported %s names %s.%s (package %s)", fset.Position(sel.Pos()), what, id.Name, sel.Sel.Name, internal[id.Name]))
		}
	}
	return true
}

func exportedRecv(e ast.Expr) bool {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.IsExported()
		default:
			return false
		}
	}
}
