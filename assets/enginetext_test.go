package assets

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// engineText is one keyed text the engine or a chapter says: its English
// format, the number of arguments the call gives it (-1 when they are
// spread from a slice) and where.
type engineText struct {
	key, format string
	nargs       int
	at          string
}

// engineTexts reads the keyed texts of the non-test source under dirs:
// every engine.Textf(key, format, args...) and engine.Plural(n, noun). A
// key, format or noun that is not a string literal, or a Text made as a
// composite literal, is a problem: the lab could not be checked to have
// words for it.
func engineTexts(dirs ...string) (texts []engineText, problems []string, err error) {
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			// the text's own file makes them from variables
			if f.Name.Name == "engine" && filepath.Base(path) == "text.go" {
				return nil
			}
			t, p := fileTexts(fset, f)
			texts, problems = append(texts, t...), append(problems, p...)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return texts, problems, nil
}

// fileTexts finds the keyed texts of one file.
func fileTexts(fset *token.FileSet, f *ast.File) (texts []engineText, problems []string) {
	pkg := "" // how the file names the engine package; "" in the package itself
	if f.Name.Name != "engine" {
		pkg = "-"
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "scalelab/engine" {
				pkg = "engine"
				if imp.Name != nil {
					pkg = imp.Name.Name
				}
			}
		}
	}
	// is tells whether e names the engine's func or type name.
	is := func(e ast.Expr, name string) bool {
		switch e := e.(type) {
		case *ast.Ident:
			return pkg == "" && e.Name == name
		case *ast.SelectorExpr:
			x, ok := e.X.(*ast.Ident)
			return ok && x.Name == pkg && e.Sel.Name == name
		}
		return false
	}
	str := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		at := func() string { return fset.Position(n.Pos()).String() }
		switch n := n.(type) {
		case *ast.CompositeLit:
			if is(n.Type, "Text") {
				problems = append(problems, at()+": a Text made as a literal; make it with Textf")
			}
		case *ast.CallExpr:
			switch {
			case is(n.Fun, "Textf"):
				if len(n.Args) < 2 {
					return true
				}
				key, ok1 := str(n.Args[0])
				format, ok2 := str(n.Args[1])
				if !ok1 || !ok2 {
					problems = append(problems, at()+": Textf's key and format must be string literals")
					return true
				}
				nargs := len(n.Args) - 2
				if n.Ellipsis.IsValid() {
					nargs = -1
				}
				texts = append(texts, engineText{key, format, nargs, at()})
			case is(n.Fun, "Plural"):
				if len(n.Args) != 2 {
					return true
				}
				noun, ok := str(n.Args[1])
				if !ok {
					problems = append(problems, at()+": Plural's noun must be a string literal")
					return true
				}
				// Plural's English: "%d target" for one, "%d targets" else; a
				// table holds the second
				texts = append(texts, engineText{"count." + strings.ReplaceAll(noun, " ", "_"), "%d " + noun + "s", 1, at()})
			}
		}
		return true
	})
	return texts, problems
}

// TestEngineText: every text the engine and the chapters say has words in
// every language, under text.<key>: in English the very format of the
// source, in the others a format that takes the same arguments (perhaps
// in another order, %[2]s). A new event or inspector line without Korean
// fails here.
func TestEngineText(t *testing.T) {
	texts, problems, err := engineTexts(filepath.Join("..", "engine"), filepath.Join("..", "chapters"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(texts) < 50 {
		t.Fatalf("found %d keyed texts in the source; the scan is broken", len(texts))
	}
	used := map[string]engineText{}
	for _, tx := range texts {
		if !isTableKey(tx.key) {
			t.Errorf("%s: key %q: want lower-case letters, digits, '_', '-' and '.'", tx.at, tx.key)
		}
		args, err := fmtArgs(tx.format)
		switch {
		case err != nil:
			t.Errorf("%s: %v", tx.at, err)
		case slices.Contains(args, ""):
			t.Errorf("%s: %q skips an argument", tx.at, tx.format)
		case tx.nargs >= 0 && tx.nargs != len(args):
			t.Errorf("%s: %q takes %d arguments, the call gives %d", tx.at, tx.format, len(args), tx.nargs)
		}
		if prev, ok := used[tx.key]; ok && prev.format != tx.format {
			t.Errorf("%s: key %s says %q; %s says %q with the same key", tx.at, tx.key, tx.format, prev.at, prev.format)
		}
		used[tx.key] = tx
	}
	for _, lang := range Langs() {
		tab := table("ui", lang)
		for _, key := range slices.Sorted(maps.Keys(used)) {
			tx := used[key]
			text, ok := tab["text."+key]
			switch {
			case !ok:
				t.Errorf("ui/%s.txt has no text.%s = %s (%s)", lang, key, tx.format, tx.at)
			case lang == "en" && text != tx.format:
				t.Errorf("ui/en.txt text.%s = %q; the source says %q (%s)", key, text, tx.format, tx.at)
			default:
				if why := sameArgs(tx.format, text); why != "" {
					t.Errorf("ui/%s.txt text.%s %q: %s", lang, key, text, why)
				}
			}
		}
		for key := range tab {
			if k, ok := strings.CutPrefix(key, "text."); ok {
				if _, ok := used[k]; !ok {
					t.Errorf("ui/%s.txt has %s, which the source no longer says", lang, key)
				}
			}
		}
	}
}

// The scan finds texts however the engine is named, and refuses keys it
// cannot read.
func TestEngineTextScan(t *testing.T) {
	src := `package x

import en "scalelab/engine"

var key = "k"

func f(n int) {
	_ = en.Textf("a.b", "%d of %s", n, "x")
	_ = en.Plural(n, "acknowledged write")
	_ = en.Textf(key, "no literal")
	_ = en.Text{Key: "c"}
	_ = other.Textf("not.engine", "x")
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	texts, problems := fileTexts(fset, f)
	got := fmt.Sprint(texts)
	want := fmt.Sprint([]engineText{{"a.b", "%d of %s", 2, "x.go:8:6"}, {"count.acknowledged_write", "%d acknowledged writes", 1, "x.go:9:6"}})
	if got != want {
		t.Errorf("texts %s, want %s", got, want)
	}
	if len(problems) != 2 {
		t.Errorf("problems %q, want 2", problems)
	}
}
