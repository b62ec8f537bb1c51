//go:build ignore

// gen writes the sample corpus of `make run` from CrossNER's politics dev
// split: consecutive sentences grouped into documents, as JSONL files.
//
//	go run examples/gen.go data/crossner/politics/dev.txt examples/politics
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/zeroner/zeroner/io/corpus"
)

const (
	perDoc  = 2   // sentences per document
	perFile = 100 // documents per file
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: go run gen.go <crossner dev.txt> <out dir>")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	var sents []string
	err = corpus.ReadBIO(f, os.Args[1], corpus.Options{}, func(d corpus.Doc) error {
		sents = append(sents, d.Text)
		return nil
	})
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	var out *os.File
	for i := 0; i < len(sents); i += perDoc {
		doc := i / perDoc
		if doc%perFile == 0 {
			if out != nil {
				out.Close()
			}
			name := filepath.Join(os.Args[2], fmt.Sprintf("politics-%d.jsonl", doc/perFile+1))
			if out, err = os.Create(name); err != nil {
				log.Fatal(err)
			}
		}
		rec := map[string]string{
			"id":   fmt.Sprintf("politics-dev-%04d", doc+1),
			"text": strings.Join(sents[i:min(i+perDoc, len(sents))], " "),
		}
		b, _ := json.Marshal(rec)
		fmt.Fprintf(out, "%s\n", b)
	}
	out.Close()
}
