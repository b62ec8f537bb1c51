// Package schemas ships zeroner's target schemas for the benchmark data sets,
// one YAML file per data set, embedded so a binary needs no files beside it.
package schemas

import (
	"embed"
	"io/fs"
	"sort"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
)

//go:embed *.yaml
var files embed.FS

// Names lists the shipped schemas by file name without ".yaml", sorted.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".") // an embed.FS root always reads
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Load parses the shipped schema with the given name, e.g. "crossner-ai".
func Load(name string) (*pipeline.Schema, error) {
	b, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, err
	}
	return pipeline.ParseSchema(b)
}
