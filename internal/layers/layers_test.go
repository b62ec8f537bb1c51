package layers

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/zeroner/zeroner/"

// deps lists, for every package matching pattern, its dependencies
// (transitive, tests excluded), as `go list -deps` gives them.
func deps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, pattern)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v: %s", pattern, err, stderr.String())
	}
	m := make(map[string][]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		m[f[0]] = f[1:]
	}
	if len(m) == 0 {
		t.Fatalf("go list %s: no packages", pattern)
	}
	return m
}

func TestLayers(t *testing.T) {
	tests := []struct {
		pattern string
		banned  []string // import path prefixes
	}{
		{"./pipeline/...", []string{module + "io/", module + "activities", module + "workflows", module + "internal/", "go.temporal.io/"}},
		{"./io/...", []string{module + "pipeline", module + "internal/", module + "activities", module + "workflows"}},
		{"./workflows/...", []string{module + "io/", module + "internal/"}},
		{"./activities", []string{module + "io/", module + "internal/"}},
	}
	for _, tt := range tests {
		for pkg, ds := range deps(t, tt.pattern) {
			for _, d := range ds {
				for _, b := range tt.banned {
					if strings.HasPrefix(d, b) {
						t.Errorf("%s depends on %s (packages matching %s must not depend on %s)", pkg, d, tt.pattern, b)
					}
				}
			}
		}
	}
}

// TestReadmeLayout checks that the README's layout section names every
// package of the module, and no package that is gone.
func TestReadmeLayout(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Layout\n")
	if !ok {
		t.Fatal("README.md has no \"### Layout\" section")
	}
	if i := strings.Index(section, "\n#"); i >= 0 {
		section = section[:i]
	}
	named := make(map[string]bool)
	for _, line := range strings.Split(section, "\n") {
		// Rows of the form "- `path`, `path`: what they are for".
		rest, ok := strings.CutPrefix(line, "- ")
		if !ok {
			continue
		}
		head, _, _ := strings.Cut(rest, "`: ")
		for i, f := range strings.Split(head, "`") {
			if i%2 == 1 {
				named[strings.TrimSuffix(f, "/")] = true
			}
		}
	}
	for pkg := range deps(t, "./...") {
		rel := strings.TrimPrefix(pkg+"/", module)
		rel = strings.TrimSuffix(rel, "/")
		if !named[rel] {
			t.Errorf("package %s is not in the README's layout section", rel)
		}
		delete(named, rel)
	}
	for path := range named {
		t.Errorf("the README's layout section names %s, which is not a package", path)
	}
}
