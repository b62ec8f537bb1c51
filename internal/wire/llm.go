package wire

import (
	"encoding/json"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/llm"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/sam"
)

// builtin is the default BackendFactory: the rules backend, or SAM-NER over
// an OpenAI-compatible model reached with the worker's API key.
func (d *Deps) builtin(spec activities.BackendSpec, s *pipeline.Schema) (pipeline.Backend, error) {
	if spec.Name != "sam" {
		return NewBackend(spec, s)
	}
	c, err := d.LLM(spec)
	if err != nil {
		return nil, err
	}
	return SAMBackend(spec, s, c)
}

// SAMBackend is SAM-NER over the model that c reaches.
func SAMBackend(spec activities.BackendSpec, s *pipeline.Schema, c *llm.Client) (pipeline.Backend, error) {
	m := spec.LLM.Models
	gaz := make(map[string][]string)
	for _, l := range s.Labels {
		if len(l.Gazetteer) > 0 {
			gaz[l.Name] = l.Gazetteer
		}
	}
	l := spec.LLM
	opt, err := sam.Profile(l.Profile)
	if err != nil {
		return nil, err
	}
	opt.Gazetteer = gaz
	opt.MinVotes, opt.NoSingleWordRule = l.MinVotes, l.NoSingleWordRule
	opt.Anchor, opt.Explorer, opt.Mediate, opt.Calibrate, opt.Map = m["anchor"], m["explorer"], m["mediate"], m["calibrate"], m["map"]
	opt.Extractors, opt.LogProbs = l.Extractors, l.LogProbs
	opt.Calibration, opt.FollowUps = l.Calibration, l.FollowUps
	for _, o := range []struct {
		to *int
		v  int
	}{
		{&opt.PassagesPerRequest, l.PassagesPerRequest},
		{&opt.MentionsPerRequest, l.MentionsPerRequest},
		{&opt.RequestTokens, l.RequestTokens},
	} {
		if o.v > 0 {
			*o.to = o.v
		}
	}
	return sam.New(s, Model(c), opt)
}

// LLM returns the client of spec, with the worker's API key: one per
// spec and worker, so its limits hold across the activities that use it
// (stages, batch rounds and polls) and its connections are reused.
func (d *Deps) LLM(spec activities.BackendSpec) (*llm.Client, error) {
	key, _ := json.Marshal(struct {
		LLM   activities.LLMConfig
		Cache string
	}{spec.LLM, spec.Cache})
	d.clientsMu.Lock()
	defer d.clientsMu.Unlock()
	if c, ok := d.clients[string(key)]; ok {
		return c, nil
	}
	l := spec.LLM
	var cache llm.Cache
	if spec.Cache != "" {
		cache = llm.NewBlobCache(d.Store, spec.Cache)
	}
	c, err := llm.New(llm.Config{
		BaseURL: l.BaseURL, APIKey: d.APIKey, Model: l.Model,
		Temperature: l.Temperature, TopP: l.TopP, MaxTokens: l.MaxTokens,
		Timeout:       time.Duration(l.TimeoutSeconds * float64(time.Second)),
		MaxConcurrent: l.MaxConcurrent, RequestsPerMinute: l.RequestsPerMinute, TokensPerMinute: l.TokensPerMinute,
		MaxRetries: l.MaxRetries, MaxReasks: l.MaxReasks, StructuredOutput: l.StructuredOutput,
	}, cache, d.Log)
	if err != nil {
		return nil, err
	}
	d.clients[string(key)] = c
	return c, nil
}
