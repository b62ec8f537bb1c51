package activities

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/sam"
)

// Settings are what of a job's configuration decides its annotations: the
// code's and prompts' versions, the backend and its models and decoding, the
// schema's labels and definitions, and how the corpus is read. An object
// annotated under other settings is not up to date. Shard size, window and
// concurrency change how fast, not what, so they are not here.
type Settings struct {
	Hash    string `json:"hash"`
	Version string `json:"version"`
	Backend string `json:"backend"`
	Models  string `json:"models,omitempty"`
	Schema  string `json:"schema"`
	Reader  string `json:"reader"`
}

// settingsOf returns cfg's settings for schema s.
func settingsOf(cfg Config, s *pipeline.Schema) Settings {
	backend := cfg.Backend.Name
	if backend == "" {
		backend = "rules"
	}
	st := Settings{
		Version: Version,
		Backend: backend,
		Schema:  s.Hash(),
		Reader:  readerString(cfg.Reader),
	}
	if backend == "sam" {
		st.Version += "/prompts-" + sam.PromptVersion
		st.Models = modelsOf(cfg.Backend.LLM)
	}
	h := sha256.New()
	for _, part := range []string{st.Version, st.Backend, string(cfg.Backend.identity()), st.Schema, st.Reader} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	st.Hash = hex.EncodeToString(h.Sum(nil))[:16]
	return st
}

// modelsOf names the models of l, the default first, then per stage.
func modelsOf(l LLMConfig) string {
	parts := []string{l.Model}
	for _, stage := range slices.Sorted(maps.Keys(l.Models)) {
		parts = append(parts, stage+"="+l.Models[stage])
	}
	return strings.Join(parts, " ")
}

// change says how earlier settings differ from the run's (s), in words:
// "backend rules; this run uses sam". It names the first difference a user
// would recognise; other differences (decoding, extractors) are "other
// model settings".
func (s Settings) change(earlier Settings) string {
	switch {
	case earlier.Hash == "":
		return "settings not recorded (annotated before zeroner recorded them)"
	case earlier.Backend != s.Backend:
		return fmt.Sprintf("backend %s; this run uses %s", earlier.Backend, s.Backend)
	case earlier.Models != s.Models:
		return fmt.Sprintf("model %s; this run uses %s", earlier.Models, s.Models)
	case earlier.Version != s.Version:
		return fmt.Sprintf("zeroner annotation version %s; this run uses %s", earlier.Version, s.Version)
	case earlier.Schema != s.Schema:
		return fmt.Sprintf("schema %s; this run's labels or definitions differ (%s)", earlier.Schema, s.Schema)
	case earlier.Reader != s.Reader:
		was, now := differing(earlier.Reader, s.Reader)
		return fmt.Sprintf("reader settings %s; this run uses %s", was, now)
	}
	return "other model settings (decoding, extractors or voting)"
}

// readerString is the reader's options as "key=value" words.
func readerString(o Reader) string {
	return fmt.Sprintf("format=%s id_field=%s text_field=%s bio_order=%s sentences_per_doc=%d max_doc_bytes=%d",
		o.Format, o.IDField, o.TextField, o.BIOOrder, o.SentencesPerDoc, o.MaxDocBytes)
}

// differing returns the words of x and of y that the other lacks.
func differing(x, y string) (string, string) {
	xs, ys := strings.Fields(x), strings.Fields(y)
	var dx, dy []string
	for _, w := range xs {
		if !slices.Contains(ys, w) {
			dx = append(dx, w)
		}
	}
	for _, w := range ys {
		if !slices.Contains(xs, w) {
			dy = append(dy, w)
		}
	}
	return strings.Join(dx, " "), strings.Join(dy, " ")
}
