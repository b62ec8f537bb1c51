//go:build ignore

// gencorpus writes a synthetic benchmark corpus: documents of three to six
// sentences drawn (seeded) from CrossNER's train and dev splits, as JSONL
// files. Real sentences keep the rules backend's work realistic.
//
//	go run scripts/gencorpus.go -docs 100000 -files 10 -out bench/corpus
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/zeroner/zeroner/io/corpus"
)

func main() {
	var (
		docs  = flag.Int("docs", 100000, "documents")
		files = flag.Int("files", 10, "output files")
		out   = flag.String("out", "bench/corpus", "output folder")
		data  = flag.String("data", "data/crossner", "CrossNER folder")
		seed  = flag.Uint64("seed", 1, "random seed")
	)
	flag.Parse()
	var sents []string
	for _, d := range []string{"ai", "literature", "music", "politics", "science"} {
		for _, split := range []string{"train", "dev"} {
			sents = append(sents, read(filepath.Join(*data, d, split+".txt"))...)
		}
	}
	if len(sents) == 0 {
		log.Fatal("no sentences read")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(*seed, 0))
	per := (*docs + *files - 1) / *files
	for f := 0; f < *files; f++ {
		fh, err := os.Create(filepath.Join(*out, fmt.Sprintf("part-%03d.jsonl", f)))
		if err != nil {
			log.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		for i := f * per; i < min((f+1)*per, *docs); i++ {
			n := 3 + r.IntN(4)
			parts := make([]string, n)
			for j := range parts {
				parts[j] = sents[r.IntN(len(sents))]
			}
			b, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("doc-%07d", i), "text": strings.Join(parts, " ")})
			w.Write(b)
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			log.Fatal(err)
		}
		fh.Close()
	}
}

func read(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var out []string
	err = corpus.ReadBIO(f, path, corpus.Options{}, func(d corpus.Doc) error {
		out = append(out, d.Text)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	return out
}
