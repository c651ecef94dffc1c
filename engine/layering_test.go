package engine_test

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	module     = "scalelab"
	corePkg    = module + "/engine"
	hashPkg    = corePkg + "/internal/hash"
	enginePref = corePkg + "/"
	chapPkg    = module + "/chapters"
	chapPref   = chapPkg + "/"
)

// componentOrder is the declared one-way order between the engine's
// components: each may import the core, the shared hash package and the
// components listed here, and nothing else of this module. A new component
// must get a line here, and a new import between components must be declared
// here first, which keeps the graph a one-way street (no component reaches
// back up to one that builds on it). Declared is allowed, not required.
var componentOrder = map[string][]string{
	"lb":      nil,
	"sqldb":   nil,
	"kv":      {"sqldb"},
	"web":     {"sqldb"},
	"repl":    {"sqldb"},
	"cache":   {"kv", "sqldb"},
	"shard":   {"sqldb"},
	"cdn":     nil,
	"session": {"kv", "web", "sqldb"},
	"dns":     nil,
	"queue":   {"kv", "web", "sqldb"},
}

// goList runs the go command's list with args and returns its output.
func goList(t *testing.T, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	cmd := exec.Command(goBin, append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// moduleImports maps each of the module's packages to its direct
// (non-test) imports of the module's own packages.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	out := goList(t, "-f", `{{.ImportPath}}:{{join .Imports " "}}`, module+"/...")
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		pkg, imps, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("go list: odd line %q", line)
		}
		m[pkg] = []string{}
		for _, imp := range strings.Fields(imps) {
			if isModule(imp) {
				m[pkg] = append(m[pkg], imp)
			}
		}
	}
	return m
}

func isModule(p string) bool { return p == module || strings.HasPrefix(p, module+"/") }

// isComponent reports whether p is an engine component: a package under
// engine/ other than the core and engine/internal/...
func isComponent(p string) bool {
	return strings.HasPrefix(p, enginePref) && !strings.HasPrefix(p, enginePref+"internal/")
}

// TestLayeringCore: the core depends on nothing of this module but its own
// internal packages.
func TestLayeringCore(t *testing.T) {
	for _, dep := range strings.Fields(goList(t, "-deps", corePkg)) {
		if dep == corePkg || !isModule(dep) || strings.HasPrefix(dep, enginePref+"internal/") {
			continue
		}
		t.Errorf("%s depends on %s; the core may use only %sinternal/...", corePkg, dep, enginePref)
	}
}

// TestLayeringComponents: each component imports only the core, the hash
// package and the components componentOrder declares, and every component
// under engine/ is declared.
func TestLayeringComponents(t *testing.T) {
	imports := moduleImports(t)
	found := map[string]bool{}
	for _, pkg := range slices.Sorted(maps.Keys(imports)) {
		imps := imports[pkg]
		if !isComponent(pkg) {
			continue
		}
		name := strings.TrimPrefix(pkg, enginePref)
		found[name] = true
		declared, ok := componentOrder[name]
		if !ok {
			t.Errorf("component %s is not in componentOrder: declare which components it may import", pkg)
			continue
		}
		for _, imp := range imps {
			if imp == corePkg || imp == hashPkg {
				continue
			}
			if isComponent(imp) && slices.Contains(declared, strings.TrimPrefix(imp, enginePref)) {
				continue
			}
			t.Errorf("%s imports %s, which componentOrder does not declare for %s (declared: core, %s, %v)",
				pkg, imp, name, hashPkg, declared)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(componentOrder)) {
		if !found[name] {
			t.Errorf("componentOrder lists %s, but there is no package %s%s", name, enginePref, name)
		}
	}
}

// TestLayeringLab: the TUI knows the core, the chapter framework and the
// assets, never a component or a particular chapter (the binary wires those).
func TestLayeringLab(t *testing.T) {
	imports := moduleImports(t)
	const labPkg = module + "/lab"
	imps, ok := imports[labPkg]
	if !ok {
		t.Fatalf("no package %s", labPkg)
	}
	allowed := []string{corePkg, chapPkg, module + "/assets"}
	for _, imp := range imps {
		if !slices.Contains(allowed, imp) {
			t.Errorf("%s imports %s; it may import only %v", labPkg, imp, allowed)
		}
	}
}

// TestLayeringChapters: the chapter framework reaches no component and no
// chapter (nor the catalog), directly or not.
func TestLayeringChapters(t *testing.T) {
	imports := moduleImports(t)
	for _, imp := range imports[chapPkg] {
		if isComponent(imp) || strings.HasPrefix(imp, chapPref) {
			t.Errorf("%s imports %s", chapPkg, imp)
		}
	}
	for _, dep := range strings.Fields(goList(t, "-deps", chapPkg)) {
		if slices.Contains(imports[chapPkg], dep) {
			continue // reported above
		}
		if isComponent(dep) || strings.HasPrefix(dep, chapPref) {
			t.Errorf("%s depends on %s", chapPkg, dep)
		}
	}
}

// TestKindsUnique: no two event kinds, and no two roles, declared
// anywhere under engine/ share a value; a kind names one thing in reports
// and in the event log's tones.
func TestKindsUnique(t *testing.T) {
	consts := engineStringConsts(t)
	for _, typ := range []string{"EventKind", "Role"} {
		byValue := map[string][]string{}
		for _, c := range consts[typ] {
			byValue[c.value] = append(byValue[c.value], c.name)
		}
		if len(consts[typ]) == 0 {
			t.Errorf("no %s constants found under engine/; is the test reading the right files?", typ)
		}
		for _, v := range slices.Sorted(maps.Keys(byValue)) {
			if names := byValue[v]; len(names) > 1 {
				t.Errorf("%s %q is declared more than once: %s", typ, v, strings.Join(names, ", "))
			}
		}
	}
}

type namedConst struct{ name, value string }

// engineStringConsts reads every non-test Go file under engine/ and returns
// the constants of type engine.EventKind and engine.Role, keyed by type
// name, each named pkgdir.Name (file:line).
func engineStringConsts(t *testing.T) map[string][]namedConst {
	t.Helper()
	want := map[string]bool{"EventKind": true, "Role": true}
	out := map[string][]namedConst{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		inCore := filepath.Dir(path) == "."
		engineName := "" // how this file refers to the core package
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == corePkg {
				engineName = "engine"
				if imp.Name != nil {
					engineName = imp.Name.Name
				}
			}
		}
		// typeName returns "EventKind" or "Role" if e is that engine type.
		typeName := func(e ast.Expr) string {
			switch e := e.(type) {
			case *ast.Ident:
				if inCore && want[e.Name] {
					return e.Name
				}
			case *ast.SelectorExpr:
				if x, ok := e.X.(*ast.Ident); ok && engineName != "" && x.Name == engineName && want[e.Sel.Name] {
					return e.Sel.Name
				}
			}
			return ""
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			// In a const group a spec with neither type nor values repeats
			// the previous one's, so a repeated value is caught too.
			var typ ast.Expr
			var values []ast.Expr
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Type != nil || len(vs.Values) > 0 {
					typ, values = vs.Type, vs.Values
				}
				tn := ""
				if typ != nil {
					tn = typeName(typ)
				}
				if tn == "" {
					continue
				}
				for i, id := range vs.Names {
					if id.Name == "_" {
						continue
					}
					where := fset.Position(id.Pos())
					label := filepath.ToSlash(filepath.Join("engine", filepath.Dir(path))) + "." + id.Name +
						" (" + filepath.Base(where.Filename) + ":" + strconv.Itoa(where.Line) + ")"
					if i >= len(values) {
						t.Errorf("%s: no value", label)
						continue
					}
					v, err := stringValue(values[i])
					if err != nil {
						t.Errorf("%s: %v", label, err)
						continue
					}
					out[tn] = append(out[tn], namedConst{name: label, value: v})
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stringValue evaluates a string literal or a sum of them.
func stringValue(e ast.Expr) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			return strconv.Unquote(e.Value)
		}
	case *ast.ParenExpr:
		return stringValue(e.X)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			x, err := stringValue(e.X)
			if err != nil {
				return "", err
			}
			y, err := stringValue(e.Y)
			return x + y, err
		}
	}
	return "", errors.New("value is not a string literal; this test reads only literals")
}
