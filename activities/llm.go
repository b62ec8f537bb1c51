package activities

import (
	"encoding/json"
	"time"

	"github.com/zeroner/zeroner/internal/llmpipe"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/sam"
)

// identity is what of the spec changes a run's outputs: the backend, models,
// prompts and decoding; not where the server is or how fast it may be asked.
func (b BackendSpec) identity() []byte {
	l := b.LLM
	l.BaseURL = ""
	l.TimeoutSeconds, l.MaxConcurrent, l.RequestsPerMinute, l.TokensPerMinute = 0, 0, 0, 0
	l.MaxRetries, l.MaxReasks = 0, 0
	id, _ := json.Marshal(struct {
		Name string
		LLM  LLMConfig
	}{b.Name, l})
	return id
}

// builtin is the default BackendFactory: the rules backend, or SAM-NER over
// an OpenAI-compatible model reached with the worker's API key.
func (a *Activities) builtin(spec BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
	if spec.Name != "sam" {
		return NewBackend(spec, s)
	}
	c, err := a.newLLM(spec)
	if err != nil {
		return nil, err
	}
	return samBackend(spec, s, c)
}

// samBackend is SAM-NER over the model that c reaches.
func samBackend(spec BackendSpec, s *pipeline.Schema, c *llm.Client) (pipeline.Backend, error) {
	m := spec.LLM.Models
	gaz := make(map[string][]string)
	for _, l := range s.Labels {
		if len(l.Gazetteer) > 0 {
			gaz[l.Name] = l.Gazetteer
		}
	}
	return sam.New(s, llmpipe.New(c), sam.Options{
		Gazetteer:        gaz,
		MinVotes:         spec.LLM.MinVotes,
		NoSingleWordRule: spec.LLM.NoSingleWordRule,
		Anchor:           m["anchor"], Explorer: m["explorer"], Mediate: m["mediate"], Calibrate: m["calibrate"], Map: m["map"],
		Extractors:         spec.LLM.Extractors,
		LogProbs:           spec.LLM.LogProbs,
		PassagesPerRequest: spec.LLM.PassagesPerRequest,
	})
}

// newLLM returns the client of spec, with the worker's API key: one per
// spec and worker, so its limits hold across the activities that use it
// (stages, batch rounds and polls) and its connections are reused.
func (a *Activities) newLLM(spec BackendSpec) (*llm.Client, error) {
	key, _ := json.Marshal(struct {
		LLM   LLMConfig
		Cache string
	}{spec.LLM, spec.Cache})
	a.clientsMu.Lock()
	defer a.clientsMu.Unlock()
	if c, ok := a.clients[string(key)]; ok {
		return c, nil
	}
	l := spec.LLM
	var cache llm.Cache
	if spec.Cache != "" {
		cache = llm.NewBlobCache(a.store, spec.Cache)
	}
	c, err := llm.New(llm.Config{
		BaseURL: l.BaseURL, APIKey: a.apiKey, Model: l.Model,
		Temperature: l.Temperature, TopP: l.TopP, MaxTokens: l.MaxTokens,
		Timeout:       time.Duration(l.TimeoutSeconds * float64(time.Second)),
		MaxConcurrent: l.MaxConcurrent, RequestsPerMinute: l.RequestsPerMinute, TokensPerMinute: l.TokensPerMinute,
		MaxRetries: l.MaxRetries, MaxReasks: l.MaxReasks, StructuredOutput: l.StructuredOutput,
	}, cache, a.log)
	if err != nil {
		return nil, err
	}
	a.clients[string(key)] = c
	return c, nil
}
