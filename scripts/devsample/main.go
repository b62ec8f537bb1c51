// Command devsample writes a fixed, seeded sample of the sentences of BIO
// files: the sample on which LLM prompt and calibration variants are
// compared (docs/RESULTS.md), small enough for a model answered by hand.
//
//	go run ./scripts/devsample -n 40 -seed 17 -out evals/sample data/crossner/*/dev.txt
//
// writes evals/sample/<domain>/dev.txt for each input <domain>/dev.txt,
// with the chosen sentences in their original order.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
)

func main() {
	n := flag.Int("n", 40, "sentences per file")
	seed := flag.Uint64("seed", 17, "seed of the sample")
	out := flag.String("out", "evals/sample", "output folder")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("devsample: no BIO files given")
	}
	for _, path := range flag.Args() {
		if err := sample(path, *out, *n, *seed); err != nil {
			log.Fatalf("devsample: %s: %v", path, err)
		}
	}
}

// sample writes n sentences of the BIO file at path, chosen by seed.
func sample(path, out string, n int, seed uint64) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var sents [][]byte
	for _, block := range bytes.Split(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n\n")) {
		if b := bytes.TrimSpace(block); len(b) > 0 {
			sents = append(sents, b)
		}
	}
	if len(sents) < n {
		return fmt.Errorf("%d sentences, fewer than %d", len(sents), n)
	}
	// The same seed for every file: each file's sample depends only on it
	// and the file.
	r := rand.New(rand.NewPCG(seed, uint64(len(sents))))
	pick := r.Perm(len(sents))[:n]
	slices.Sort(pick)
	var buf bytes.Buffer
	for _, i := range pick {
		buf.Write(sents[i])
		buf.WriteString("\n\n")
	}
	dst := filepath.Join(out, filepath.Base(filepath.Dir(path)), filepath.Base(path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	fmt.Printf("%s: %d of %d sentences\n", dst, n, len(sents))
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}
