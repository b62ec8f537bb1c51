package annotate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/sam"
)

// settingsOf returns cfg's settings for schema s.
func settingsOf(cfg activities.Config, s *pipeline.Schema) runs.Settings {
	backend := cfg.Backend.Name
	if backend == "" {
		backend = "rules"
	}
	st := runs.Settings{
		Version: activities.Version,
		Backend: backend,
		Schema:  s.Hash(),
		Reader:  readerString(cfg.Reader),
	}
	if backend == "sam" {
		st.Version += "/prompts-" + sam.PromptVersion
		st.Models = modelsOf(cfg.Backend.LLM)
	}
	parts := []string{st.Version, st.Backend, string(cfg.Backend.Identity()), st.Schema, st.Reader}
	if cfg.Distill != "" {
		// Only then, so that plain runs keep their settings.
		st.Distill = cfg.Distill
		parts = append(parts, "distill "+cfg.Distill)
	}
	h := sha256.New()
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	st.Hash = hex.EncodeToString(h.Sum(nil))[:16]
	return st
}

// modelsOf names the models of l, the default first, then per stage.
func modelsOf(l activities.LLMConfig) string {
	parts := []string{l.Model}
	for _, stage := range slices.Sorted(maps.Keys(l.Models)) {
		parts = append(parts, stage+"="+l.Models[stage])
	}
	return strings.Join(parts, " ")
}

// readerString is the reader's options as "key=value" words.
func readerString(o activities.Reader) string {
	return fmt.Sprintf("format=%s id_field=%s text_field=%s bio_order=%s sentences_per_doc=%d max_doc_bytes=%d",
		o.Format, o.IDField, o.TextField, o.BIOOrder, o.SentencesPerDoc, o.MaxDocBytes)
}
